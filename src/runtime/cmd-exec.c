/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exec: run a new process in a running container */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "apparmor.h"
#include "cli.h"
#include "seccomp-filter.h"
#include "commands.h"
#include "container.h"
#include "json-util.h"
#include "util.h"

static void env_set(json_t *env, const char *kv)
{
        size_t klen = strcspn(kv, "=");
        size_t i;
        json_t *e;

        json_array_foreach (env, i, e) {
                const char *s = json_string_value(e);
                if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

/* Builds the process JSON from the container's own process and the command-line overrides. */
static int build_process(const OciSpec *cfg, int argc, char **argv, bool tty, char **envs, const char *cwd,
                         const char *user, char **gids, char **caps, bool nnp, json_t **ret, Error **err)
{
        json_t *base = json_object_get(cfg->json, "process");
        json_t *p = json_is_object(base) ? json_deep_copy(base) : json_object();
        json_t *args = json_array(), *env;

        for (int i = 0; i < argc; i++)
                json_array_append_new(args, json_string(argv[i]));
        json_object_set_new(p, "args", args);
        json_object_set_new(p, "terminal", json_boolean(tty));
        json_object_del(p, "consoleSize");
        env = json_object_get(p, "env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(p, "env", env);
        }
        for (size_t i = 0; envs && envs[i]; i++) {
                if (!strchr(envs[i], '=')) {
                        json_decref(p);
                        return error_setx(err, EINVAL, "exec: --env \"%s\" is not NAME=VALUE", envs[i]);
                }
                env_set(env, envs[i]);
        }
        if (cwd)
                json_object_set_new(p, "cwd", json_string(cwd));
        if (!json_object_get(p, "cwd"))
                json_object_set_new(p, "cwd", json_string("/"));
        if (user) {
                uint64_t uid, gid = 0;
                _cleanup_free_ char *u = xstrdup(user);
                char *colon = strchr(u, ':');
                json_t *uo = json_object();
                if (colon)
                        *colon = '\0';
                if (parse_uint64(u, &uid) < 0 || uid > UINT32_MAX || (colon && (parse_uint64(colon + 1, &gid) < 0 || gid > UINT32_MAX))) {
                        json_decref(uo);
                        json_decref(p);
                        return error_setx(err, EINVAL, "exec: --user \"%s\" is not UID[:GID]", user);
                }
                json_object_set_new(uo, "uid", json_integer((json_int_t)uid));
                json_object_set_new(uo, "gid", json_integer((json_int_t)gid));
                json_object_set_new(p, "user", uo);
        }
        if (gids) {
                json_t *uo = json_object_get(p, "user");
                json_t *arr = json_array();
                if (!json_is_object(uo)) {
                        uo = json_object();
                        json_object_set_new(p, "user", uo);
                }
                for (size_t i = 0; gids[i]; i++) {
                        uint64_t g;
                        if (parse_uint64(gids[i], &g) < 0 || g > UINT32_MAX) {
                                json_decref(arr);
                                json_decref(p);
                                return error_setx(err, EINVAL, "exec: --additional-gids \"%s\" is not a gid", gids[i]);
                        }
                        json_array_append_new(arr, json_integer((json_int_t)g));
                }
                json_object_set_new(uo, "additionalGids", arr);
        }
        if (caps) {
                json_t *co = json_object_get(p, "capabilities");
                static const char *const sets[] = { "bounding", "effective", "permitted" };
                if (!json_is_object(co)) {
                        co = json_object();
                        json_object_set_new(p, "capabilities", co);
                }
                for (size_t i = 0; caps[i]; i++) {
                        if (caps_from_name(caps[i]) < 0) {
                                json_decref(p);
                                return error_setx(err, EINVAL, "exec: --cap \"%s\" is not a capability", caps[i]);
                        }
                        /* Never inheritable (CVE-2022-29162). */
                        for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
                                json_t *a = json_object_get(co, sets[k]);
                                if (!json_is_array(a)) {
                                        a = json_array();
                                        json_object_set_new(co, sets[k], a);
                                }
                                json_array_append_new(a, json_string(caps[i]));
                        }
                }
        }
        if (nnp)
                json_object_set_new(p, "noNewPrivileges", json_true());
        *ret = p;
        return 0;
}

int cmd_exec(int argc, char **argv)
{
        const char *process = NULL, *console = NULL, *pid_file = NULL, *cwd = NULL, *user = NULL;
        const char *apparmor = NULL, *label = NULL, *cgroup = NULL;
        _cleanup_strv_ char **envs = NULL, **caps = NULL, **gids = NULL;
        bool detach = false, tty = false, nnp = false, ignore_paused = false, help = false;
        int preserve_fds = 0, i = 1, status = 0;
        const CliFlag flags[] = {
                { "process", 'p', CLI_STRING, &process, "path to a process.json (OCI process object)" },
                { "console-socket", 0, CLI_STRING, &console, "unix socket to send the pty master to" },
                { "pid-file", 0, CLI_STRING, &pid_file, "write the process's pid to this file" },
                { "detach", 'd', CLI_BOOL, &detach, "do not wait for the process" },
                { "tty", 't', CLI_BOOL, &tty, "allocate a pseudo-terminal" },
                { "env", 'e', CLI_STRINGS, &envs, "set an environment variable (repeatable)" },
                { "cwd", 0, CLI_STRING, &cwd, "working directory in the container" },
                { "user", 'u', CLI_STRING, &user, "UID[:GID] to run as" },
                { "additional-gids", 'g', CLI_STRINGS, &gids, "additional gid (repeatable)" },
                { "cap", 'c', CLI_STRINGS, &caps, "add a capability (repeatable)" },
                { "no-new-privs", 0, CLI_BOOL, &nnp, "set no_new_privs" },
                { "apparmor", 0, CLI_STRING, &apparmor, "AppArmor profile (needs AppArmor)" },
                { "process-label", 0, CLI_STRING, &label, "SELinux label (needs SELinux)" },
                { "preserve-fds", 0, CLI_INT, &preserve_fds, "pass this many fds after stdio" },
                { "ignore-paused", 0, CLI_BOOL, &ignore_paused, "accepted for runc compatibility" },
                { "cgroup", 0, CLI_STRING, &cgroup, "accepted for runc compatibility; must be empty" },
                { "help", 'h', CLI_BOOL, &help, NULL },
                { NULL, 0, 0, NULL, NULL },
        };
        _cleanup_json_ json_t *pj = NULL;
        OciSpec *cfg = NULL;
        OciProcess *p = NULL;
        Error *err = NULL;
        const char *id;
        char cwdbuf[PATH_MAX];
        _cleanup_free_ char *pid_abs = NULL, *console_abs = NULL;
        int r;

        if (cli_parse("exec", flags, argc, argv, &i, &err) < 0)
                return fail(err);
        if (help) {
                cli_usage("exec", "[options] CONTAINER_ID [COMMAND [ARG...]]", flags);
                return 0;
        }
        if (i >= argc)
                return fail((error_setx(&err, EINVAL, "exec: the container id is required"), err));
        id = argv[i++];
        if (label)
                return fail((error_setx(&err, EINVAL, "exec: --process-label: SELinux is not supported"), err));
        if (cgroup && *cgroup)
                return fail((error_setx(&err, EINVAL, "exec: --cgroup is not supported"), err));
        if (getcwd(cwdbuf, sizeof(cwdbuf))) {
                if (pid_file)
                        pid_abs = pid_file[0] == '/' ? xstrdup(pid_file) : xasprintf("%s/%s", cwdbuf, pid_file);
                if (console)
                        console_abs = console[0] == '/' ? xstrdup(console) : xasprintf("%s/%s", cwdbuf, console);
        }
        if (process) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                if (i < argc)
                        return fail((error_setx(&err, EINVAL, "exec: give either --process or a command, not both"),
                                     err));
                r = read_file_at(AT_FDCWD, process, 4 << 20, &text, &len);
                if (r < 0)
                        return fail((error_set(&err, -r, "exec: --process %s", process), err));
                if (jx_parse(text, len, process, &pj, &err) < 0)
                        return fail(err);
        } else if (i >= argc)
                return fail((error_setx(&err, EINVAL, "exec: a command (or --process) is required"), err));
        /* The container's config gives the defaults and the seccomp filter every process gets. */
        if (container_load_config(arg_root, id, &cfg, &err) < 0)
                return fail(err);
        if (!process) {
                r = build_process(cfg, argc - i, argv + i, tty, envs, cwd, user, gids, caps, nnp, &pj, &err);
                if (r < 0) {
                        oci_spec_free(cfg);
                        return fail(err);
                }
        }
        if (oci_process_parse(pj, process ? "process" : "exec process", &p, &err) < 0) {
                oci_spec_free(cfg);
                return fail(err);
        }
        /* --apparmor, else the process's own, else the container's profile (as runc does) */
        if (apparmor) {
                free(p->apparmor_profile);
                p->apparmor_profile = xstrdup(apparmor);
        } else if ((!p->apparmor_profile || !*p->apparmor_profile) && cfg->process && cfg->process->apparmor_profile) {
                free(p->apparmor_profile);
                p->apparmor_profile = xstrdup(cfg->process->apparmor_profile);
        }
        if (apparmor_check(p->apparmor_profile, apparmor ? "exec: --apparmor" : "process.apparmorProfile", &err) < 0) {
                oci_process_free(p);
                oci_spec_free(cfg);
                return fail(err);
        }
        ExecOpts o = { .pid_file = pid_abs, .console_socket = console_abs, .preserve_fds = preserve_fds,
                       .detach = detach, .seccomp = cfg->seccomp,
                       .seccomp_bounding = seccomp_bounding(cfg->process) };
        if (cfg->seccomp) {
                _cleanup_close_ int rfd = open(arg_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                o.seccomp_cache = seccomp_cache_open(rfd);
        } else
                o.seccomp_cache = -1;
        r = container_exec(arg_root, id, p, &o, &status, &err);
        if (o.seccomp_cache >= 0)
                close(o.seccomp_cache);
        oci_process_free(p);
        oci_spec_free(cfg);
        if (r < 0)
                return fail(err);
        return status;
}
