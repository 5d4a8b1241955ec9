/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Container commands: run, create, start, stop, kill, restart, rm, wait, attach, rename, update, exec. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "container-store.h"
#include "events.h"
#include "json-util.h"
#include "lifecycle.h"
#include "monitor-client.h"
#include "pflag.h"
#include "runopts.h"
#include "specgen.h"
#include "util.h"

static void print_warnings(char **w)
{
        for (size_t i = 0; w && w[i]; i++)
                fprintf(stderr, "WARNING: %s\n", w[i]);
}

static int help_requested(int argc, char **argv, const char *synopsis, const Pflag *flags)
{
        for (int i = 1; i < argc; i++) {
                if (STREQ(argv[i], "--"))
                        break;
                if (STREQ(argv[i], "--help")) {
                        printf("\nUsage:  stockade %s\n", synopsis);
                        if (flags)
                                pflag_usage(flags);
                        return 1;
                }
        }
        return 0;
}

/* The container's name (malloc'd, "" when its record cannot be read). */
static char *container_name_of(Engine *e, const char *id)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *n;

        if (!id || container_load(e, id, &rec, NULL) < 0)
                return xstrdup("");
        n = json_string_value(json_object_get(rec, "Name")) ?: "";
        return xstrdup(n[0] == '/' ? n + 1 : n);
}

/* The audit record of a container action (the name read from its record, else `ref` as given). */
static void audit_container(Engine *e, const char *action, const char *id, const char *ref, const Error *err)
{
        _cleanup_free_ char *name = container_name_of(e, id);
        cli_audit(e, action, "container", id ? id : "", *name ? name : ref, err);
}

/* Runs `create` for run and create; *ret_id on success. */
static int do_create(Engine *e, bool is_run, int argc, char **argv, RunOpts *o, char **ret_id)
{
        Error *err = NULL;
        int idx = 1;
        char **warnings = NULL;
        int r;

        r = runopts_parse(is_run, argc, argv, &idx, o, &err);
        if (r < 0) {
                audit_container(e, argv[0], NULL, "", err);
                return cli_fail(argv[0], err);
        }
        r = lifecycle_create(e, o->config, o->host, o->name, ret_id, &warnings, &err);
        print_warnings(warnings);
        strv_free(warnings);
        if (r < 0) {
                audit_container(e, argv[0], NULL, o->name ? o->name : "", err);
                return cli_fail(NULL, err);
        }
        if (!is_run)
                audit_container(e, argv[0], *ret_id, "", NULL);
        return 0;
}

int cmd_create(Engine *e, int argc, char **argv)
{
        RunOpts o = { 0 };
        _cleanup_free_ char *id = NULL;
        int r;

        if (help_requested(argc, argv, "create [OPTIONS] IMAGE [COMMAND] [ARG...]", NULL))
                return 0;
        r = do_create(e, false, argc, argv, &o, &id);
        runopts_free(&o);
        if (r)
                return r;
        printf("%s\n", id);
        return 0;
}

static int exit_from_record(Engine *e, const char *id)
{
        _cleanup_json_ json_t *rec = NULL;
        if (container_load(e, id, &rec, NULL) < 0)
                return EXIT_ENGINE;
        return (int)json_integer_value(json_object_get(json_object_get(rec, "State"), "ExitCode"));
}

int cmd_run(Engine *e, int argc, char **argv)
{
        SeccompRecordSession *srec = NULL;
        RunOpts o = { 0 };
        _cleanup_free_ char *id = NULL;
        _cleanup_close_ int fd = -EBADF;
        Error *err = NULL;
        bool tty, in, rm;
        int r, code = 0;

        if (help_requested(argc, argv, "run [OPTIONS] IMAGE [COMMAND] [ARG...]", NULL))
                return 0;
        r = do_create(e, true, argc, argv, &o, &id);
        if (r) {
                runopts_free(&o);
                return r;
        }
        if (o.seccomp_record && seccomp_record_begin(e, id, o.seccomp_record, o.host, &srec, &err) < 0) {
                (void)lifecycle_remove(e, id, true, true, NULL);
                runopts_free(&o);
                return cli_fail(NULL, err);
        }
        tty = json_is_true(json_object_get(o.config, "Tty"));
        in = json_is_true(json_object_get(o.config, "OpenStdin"));
        rm = json_is_true(json_object_get(o.host, "AutoRemove"));
        if (o.detach) {
                r = lifecycle_start(e, id, false, false, NULL, &code, &err);
                runopts_free(&o);
                audit_container(e, "run", id, "", r < 0 ? err : NULL);
                if (r < 0) {
                        fprintf(stderr, "stockade: Error response from daemon: %s\n", err->msg);
                        error_free(err);
                        return code ? code : EXIT_ENGINE;
                }
                printf("%s\n", id);
                return 0;
        }
        runopts_free(&o);
        if (tty && in && !isatty(STDIN_FILENO)) {
                fprintf(stderr, "stockade: the input device is not a TTY\n");
                if (srec)
                        (void)seccomp_record_end(srec, false, NULL);
                (void)lifecycle_remove(e, id, true, true, NULL);
                return 1;
        }
        lifecycle_event(e, id, NULL, "attach", NULL);
        r = lifecycle_start(e, id, true, in, &fd, &code, &err);
        audit_container(e, "run", id, "", r < 0 ? err : NULL);
        if (r < 0) {
                fprintf(stderr, "stockade: Error response from daemon: %s\n", err->msg);
                error_free(err);
                if (srec)
                        (void)seccomp_record_end(srec, false, NULL);
                return code ? code : EXIT_ENGINE;
        }
        {
                bool oom = false;
                char buf[4096];
                struct timeval tv = { 10, 0 };
                code = monitor_stream(fd, in, tty, rm, &oom, NULL);
                /* The monitor closes the connection when it has unmounted and recorded everything:
                 * after `run` returns, `rm`, `start` or `inspect` see the final state. */
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
        }
        if (code < 0)
                code = rm ? EXIT_ENGINE : exit_from_record(e, id);
        if (srec && seccomp_record_end(srec, true, &err) < 0)
                code = cli_fail(NULL, err);
        return code;
}

int cmd_start(Engine *e, int argc, char **argv)
{
        bool attach = false, interactive = false;
        Pflag flags[] = {
                { "attach", 'a', PFLAG_BOOL, &attach, NULL, "Attach STDOUT/STDERR and forward signals" },
                { "interactive", 'i', PFLAG_BOOL, &interactive, NULL, "Attach container's STDIN" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1, rc = 0;

        if (help_requested(argc, argv, "start [OPTIONS] CONTAINER [CONTAINER...]", flags))
                return 0;
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx >= argc)
                return cli_failf(argv[0], "\"stockade start\" requires at least 1 argument.");
        for (int i = idx; i < argc; i++) {
                _cleanup_free_ char *id = NULL;
                _cleanup_close_ int fd = -EBADF;
                _cleanup_json_ json_t *rec = NULL;
                int code = 0;
                if (container_lookup(e, argv[i], &id, &err) < 0) {
                        audit_container(e, "start", NULL, argv[i], err);
                        fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                (void)container_load(e, id, &rec, NULL);
                bool tty = json_is_true(json_object_get(json_object_get(rec, "Config"), "Tty"));
                bool in = interactive && json_is_true(json_object_get(json_object_get(rec, "Config"), "OpenStdin"));
                if (attach && !container_is_running(rec))
                        lifecycle_event(e, id, rec, "attach", NULL);
                int r = lifecycle_start(e, id, attach, in, attach ? &fd : NULL, &code, &err);
                audit_container(e, "start", id, argv[i], r < 0 && r != -EALREADY ? err : NULL);
                if (r == -EALREADY) {
                        error_clear(&err);
                        if (!attach)
                                printf("%s\n", argv[i]);
                        continue;
                }
                if (r < 0) {
                        fprintf(stderr, "Error response from daemon: %s\nError: failed to start containers: %s\n", err->msg,
                                argv[i]);
                        error_clear(&err);
                        rc = code ? code : 1;
                        continue;
                }
                if (attach) {
                        code = monitor_stream(fd, in, tty, false, NULL, NULL);
                        return code < 0 ? exit_from_record(e, id) : code;
                }
                printf("%s\n", argv[i]);
        }
        return rc;
}

int cmd_attach(Engine *e, int argc, char **argv)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL, *req = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool no_stdin = false;
        Pflag flags[] = { { "no-stdin", 0, PFLAG_BOOL, &no_stdin, NULL, "Do not attach STDIN" }, { 0 } };
        Error *err = NULL;
        int idx = 1, code;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx != argc - 1)
                return cli_failf(argv[0], "\"stockade attach\" requires exactly 1 argument.");
        if (container_lookup(e, argv[idx], &id, &err) < 0 || container_load(e, id, &rec, &err) < 0) {
                audit_container(e, "attach", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        if (!container_monitor_alive(rec)) {
                error_setx(&err, EINVAL, "You cannot attach to a stopped container, start it first");
                audit_container(e, "attach", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        fd = monitor_connect(e, id, &err);
        if (fd < 0) {
                audit_container(e, "attach", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        lifecycle_event(e, id, rec, "attach", NULL);
        audit_container(e, "attach", id, argv[idx], NULL);
        bool in = !no_stdin && json_is_true(json_object_get(json_object_get(rec, "Config"), "OpenStdin"));
        bool tty = json_is_true(json_object_get(json_object_get(rec, "Config"), "Tty"));
        req = json_pack("{s:{s:b, s:b, s:b}}", "attach", "stdin", in, "stdout", 1, "stderr", 1);
        (void)monitor_send_control(fd, req);
        code = monitor_stream(fd, in, tty, false, NULL, NULL);
        return code < 0 ? exit_from_record(e, id) : code;
}

/* Applies fn to each container argument, printing the argument on success (docker's stop/kill/rm). */
typedef int (*each_fn)(Engine *e, const char *id, void *ud, Error **err);

static int for_each_container(Engine *e, int argc, char **argv, int idx, each_fn fn, void *ud, const char *what)
{
        int rc = 0;
        Error *err = NULL;

        if (idx >= argc)
                return cli_failf(argv[0], "\"stockade %s\" requires at least 1 argument.", argv[0]);
        for (int i = idx; i < argc; i++) {
                _cleanup_free_ char *id = NULL, *name = NULL;
                int r = container_lookup(e, argv[i], &id, &err);
                if (r >= 0) {
                        /* before fn: rm leaves no record to read the name from */
                        name = container_name_of(e, id);
                        r = fn(e, id, ud, &err);
                }
                cli_audit(e, argv[0], "container", id ? id : "", name && *name ? name : argv[i], r < 0 ? err : NULL);
                if (r < 0) {
                        fprintf(stderr, "Error response from daemon: %s%s\n", what ? what : "", err->msg);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                printf("%s\n", argv[i]);
                fflush(stdout);
        }
        return rc;
}

static int do_stop(Engine *e, const char *id, void *ud, Error **err)
{
        return lifecycle_stop(e, id, *(int *)ud, err);
}

static int parse_int_flag(const Pflag *f, const char *v, void *ud, Error **err)
{
        int64_t n;
        if (parse_int64(v, &n) < 0 || n < -1 || n > 1 << 30)
                return error_setx(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax", v);
        *(int *)f->value = (int)n;
        return 0;
}

int cmd_stop(Engine *e, int argc, char **argv)
{
        int timeout = -1;
        Pflag flags[] = { { "time", 't', PFLAG_CUSTOM, &timeout, parse_int_flag, "Seconds to wait before killing it" }, { 0 } };
        Error *err = NULL;
        int idx = 1;

        if (help_requested(argc, argv, "stop [OPTIONS] CONTAINER [CONTAINER...]", flags))
                return 0;
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        return for_each_container(e, argc, argv, idx, do_stop, &timeout, NULL);
}

static int do_kill(Engine *e, const char *id, void *ud, Error **err)
{
        return lifecycle_kill(e, id, ud, err);
}

int cmd_kill(Engine *e, int argc, char **argv)
{
        const char *sig = "KILL";
        Pflag flags[] = { { "signal", 's', PFLAG_STRING, &sig, NULL, "Signal to send to the container" }, { 0 } };
        Error *err = NULL;
        int idx = 1;

        if (help_requested(argc, argv, "kill [OPTIONS] CONTAINER [CONTAINER...]", flags))
                return 0;
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        return for_each_container(e, argc, argv, idx, do_kill, (void *)sig, NULL);
}

static int do_restart(Engine *e, const char *id, void *ud, Error **err)
{
        return lifecycle_restart(e, id, *(int *)ud, err);
}

static int do_pause(Engine *e, const char *id, void *ud, Error **err)
{
        return lifecycle_pause(e, id, ud != NULL, err);
}

int cmd_pause(Engine *e, int argc, char **argv)
{
        if (help_requested(argc, argv, "pause CONTAINER [CONTAINER...]", NULL))
                return 0;
        return for_each_container(e, argc, argv, 1, do_pause, (void *)1, NULL);
}

int cmd_unpause(Engine *e, int argc, char **argv)
{
        if (help_requested(argc, argv, "unpause CONTAINER [CONTAINER...]", NULL))
                return 0;
        return for_each_container(e, argc, argv, 1, do_pause, NULL, NULL);
}

int cmd_restart(Engine *e, int argc, char **argv)
{
        int timeout = -1;
        Pflag flags[] = { { "time", 't', PFLAG_CUSTOM, &timeout, parse_int_flag, "Seconds to wait before killing it" }, { 0 } };
        Error *err = NULL;
        int idx = 1;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        return for_each_container(e, argc, argv, idx, do_restart, &timeout, NULL);
}

typedef struct RmOpts {
        bool force, volumes;
} RmOpts;

static int do_rm(Engine *e, const char *id, void *ud, Error **err)
{
        RmOpts *o = ud;
        return lifecycle_remove(e, id, o->force, o->volumes, err);
}

int cmd_rm(Engine *e, int argc, char **argv)
{
        RmOpts o = { 0 };
        Pflag flags[] = {
                { "force", 'f', PFLAG_BOOL, &o.force, NULL, "Force the removal of a running container (uses SIGKILL)" },
                { "volumes", 'v', PFLAG_BOOL, &o.volumes, NULL, "Remove the anonymous volumes of the container" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1;

        if (help_requested(argc, argv, "rm [OPTIONS] CONTAINER [CONTAINER...]", flags))
                return 0;
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        return for_each_container(e, argc, argv, idx, do_rm, &o, NULL);
}

int cmd_wait(Engine *e, int argc, char **argv)
{
        int rc = 0;
        Error *err = NULL;

        if (argc < 2)
                return cli_failf(argv[0], "\"stockade wait\" requires at least 1 argument.");
        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *id = NULL;
                _cleanup_json_ json_t *rec = NULL;
                int code = -1;
                if (container_lookup(e, argv[i], &id, &err) < 0 || container_load(e, id, &rec, &err) < 0) {
                        fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                if (container_monitor_alive(rec)) {
                        _cleanup_close_ int fd = monitor_connect(e, id, NULL);
                        if (fd >= 0) {
                                _cleanup_json_ json_t *req = json_pack("{s:b}", "wait", 1);
                                (void)monitor_send_control(fd, req);
                                code = monitor_wait_exit(fd);
                        }
                }
                if (code < 0)
                        code = exit_from_record(e, id);
                printf("%d\n", code);
                fflush(stdout);
        }
        return rc;
}

int cmd_rename(Engine *e, int argc, char **argv)
{
        _cleanup_free_ char *id = NULL;
        Error *err = NULL;

        if (argc != 3)
                return cli_failf(argv[0], "\"stockade rename\" requires exactly 2 arguments.");
        _cleanup_free_ char *old = NULL;
        if (container_lookup(e, argv[1], &id, &err) < 0 || !(old = container_name_of(e, id)) ||
            container_rename(e, id, argv[2], &err) < 0) {
                audit_container(e, "rename", id, argv[1], err);
                fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                error_free(err);
                return 1;
        }
        {
                /* dockerd's attribute: the old name with its "/" */
                _cleanup_json_ json_t *extra = json_object();
                json_object_set_new(extra, "oldName", json_sprintf("/%s", old));
                lifecycle_event(e, id, NULL, "rename", extra);
        }
        audit_container(e, "rename", id, argv[2], NULL);
        return 0;
}

/* ---- update ---- */

static bool pflag_seen_name(char **args, const char *name)
{
        for (char **a = args; *a; a++) {
                const char *n = *a + ((*a)[1] == '-' ? 2 : 1);
                if ((*a)[0] == '-' && strncmp(n, name, strlen(name)) == 0 && (n[strlen(name)] == '\0' || n[strlen(name)] == '='))
                        return true;
        }
        return false;
}

int cmd_update(Engine *e, int argc, char **argv)
{
        /* The same flag parsers as run: parse a `run` command line of only these flags, then copy the set fields. */
        static const char *const keys[][2] = {
                { "memory", "Memory" },         { "memory-swap", "MemorySwap" }, { "memory-reservation", "MemoryReservation" },
                { "cpus", "NanoCpus" },         { "cpu-shares", "CpuShares" },   { "cpu-period", "CpuPeriod" },
                { "cpu-quota", "CpuQuota" },    { "cpuset-cpus", "CpusetCpus" }, { "cpuset-mems", "CpusetMems" },
                { "pids-limit", "PidsLimit" },  { "restart", "RestartPolicy" },  { "m", "Memory" },
                { "c", "CpuShares" },
        };
        char **fake = NULL;
        int i, rc = 0, first_ref;
        RunOpts o = { 0 };
        Error *err = NULL;
        int idx = 1;

        if (help_requested(argc, argv, "update [OPTIONS] CONTAINER [CONTAINER...]", NULL))
                return 0;
        /* Split flags from container names: flags all come first. */
        strv_push(&fake, "update");
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                bool known = false;
                const char *n = argv[i] + (argv[i][1] == '-' ? 2 : 1);
                size_t len = strcspn(n, "=");
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        known |= strlen(keys[k][0]) == len && strncmp(keys[k][0], n, len) == 0;
                if (!known) {
                        strv_free(fake);
                        return cli_failf(argv[0], "unknown flag: %s", argv[i]);
                }
                strv_push(&fake, argv[i]);
                if (!strchr(argv[i], '=') && i + 1 < argc)
                        strv_push(&fake, argv[++i]);
        }
        first_ref = i;
        strv_push(&fake, "image-placeholder");
        if (runopts_parse(false, (int)strv_length(fake), fake, &idx, &o, &err) < 0) {
                strv_free(fake);
                return cli_fail(argv[0], err);
        }
        if (first_ref >= argc) {
                strv_free(fake);
                runopts_free(&o);
                return cli_failf(argv[0], "\"stockade update\" requires at least 1 argument.");
        }
        for (i = first_ref; i < argc; i++) {
                _cleanup_free_ char *id = NULL;
                _cleanup_json_ json_t *rec = NULL;
                _cleanup_close_ int lock = -EBADF;
                char **warnings = NULL;
                if (container_lookup(e, argv[i], &id, &err) < 0 || container_lock(e, id, &lock, &err) < 0 ||
                    container_load(e, id, &rec, &err) < 0)
                        goto fail;
                json_t *host = json_object_get(rec, "HostConfig");
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        /* A flag given sets its field (the parser's defaults are not changes). */
                        for (char **f = fake + 1; *f; f++) {
                                const char *n = *f + ((*f)[1] == '-' ? 2 : 1);
                                size_t len = strcspn(n, "=");
                                if ((*f)[0] == '-' && strlen(keys[k][0]) == len && strncmp(keys[k][0], n, len) == 0)
                                        json_object_set(host, keys[k][1], json_object_get(o.host, keys[k][1]));
                        }
                }
                if (hostconfig_validate(e, json_object_get(rec, "Config"), host, &warnings, &err) < 0)
                        goto fail;
                print_warnings(warnings);
                strv_free(warnings);
                warnings = NULL;
                if (container_monitor_alive(rec)) {
                        /* The runtime applies the new limits to the live cgroups. */
                        _cleanup_strv_ char **v = NULL;
                        _cleanup_json_ json_t *res = specgen_resources(e, host);
                        json_object_del(res, "devices");
                        _cleanup_free_ char *text = jx_dump(res, false);
                        if (engine_runtime_argv(e, host, &v, &err) < 0)
                                goto fail;
                        strv_push(&v, "update");
                        strv_push(&v, "--resources");
                        strv_push(&v, "-");
                        strv_push(&v, id);
                        int p[2];
                        if (pipe(p) < 0)
                                goto fail;
                        pid_t pid = fork();
                        if (pid == 0) {
                                dup2(p[0], 0);
                                close(p[0]);
                                close(p[1]);
                                execv(v[0], v);
                                _exit(127);
                        }
                        close(p[0]);
                        (void)write_all(p[1], text, strlen(text));
                        close(p[1]);
                        int st = 0;
                        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                                ;
                        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                                error_setx(&err, EIO, "Cannot update container %s: the runtime refused the new limits "
                                           "(see its message above)", id);
                                goto fail;
                        }
                        if (json_object_get(o.host, "RestartPolicy") && pflag_seen_name(fake, "restart")) {
                                _cleanup_close_ int fd = monitor_connect(e, id, NULL);
                                _cleanup_json_ json_t *req = json_pack("{s:O}", "restart", json_object_get(host, "RestartPolicy"));
                                if (fd >= 0 && monitor_send_control(fd, req) == 0)
                                        (void)monitor_wait_ack(fd);
                        }
                }
                if (container_save(e, id, rec, &err) < 0)
                        goto fail;
                lifecycle_event(e, id, rec, "update", NULL);
                audit_container(e, "update", id, argv[i], NULL);
                printf("%s\n", argv[i]);
                continue;
        fail:
                if (!err)
                        error_setx(&err, EIO, "update failed");
                audit_container(e, "update", id, argv[i], err);
                fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                error_clear(&err);
                rc = 1;
        }
        strv_free(fake);
        runopts_free(&o);
        return rc;
}

/* ---- exec ---- */

/*
 * `exec -d`: the runtime's `exec --detach` runs under a watcher process (a child subreaper in its own
 * session) that outlives this command.  The exec'd process, orphaned when the runtime returns, is
 * reparented to the watcher, which reaps it and writes docker's exec_die with its exit code.  Returns
 * the runtime's exit status (0: the process runs, exec_start logged), as the watcher reports it.
 */
static int exec_detached(Engine *e, const char *id, json_t *rec, char **v, const char *pid_path, const char *a_start,
                         json_t *extra)
{
        int p[2], code = 0;
        pid_t w;

        if (pipe2(p, O_CLOEXEC) < 0)
                return 126;
        w = fork();
        if (w < 0) {
                close(p[0]);
                close(p[1]);
                return 126;
        }
        if (w == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC), st = 0;
                pid_t rt, epid = 0, got;
                _cleanup_free_ char *text = NULL;
                close(p[0]);
                (void)setsid();
                (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
                signal(SIGINT, SIG_IGN);
                signal(SIGHUP, SIG_IGN);
                rt = fork();
                if (rt == 0) {
                        dup2(null, 0);
                        dup2(null, 1);
                        dup2(null, 2);
                        execv(v[0], v);
                        _exit(126);
                }
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                while (rt > 0 && waitpid(rt, &st, 0) < 0 && errno == EINTR)
                        ;
                code = rt < 0 ? 126 : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
                if (code == 0 && read_file_at(AT_FDCWD, pid_path, 64, &text, NULL) == 0)
                        epid = (pid_t)atoi(text);
                if (code == 0)
                        lifecycle_event(e, id, rec, a_start, extra);
                (void)!write(p[1], &code, sizeof(code));
                close(p[1]);
                if (code != 0 || epid <= 0)
                        _exit(0);
                /* Reap until the exec'd process is gone (anything else reparented here goes too). */
                for (;;) {
                        got = waitpid(-1, &st, 0);
                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got < 0)
                                _exit(0);       /* not ours after all: no exit code to report */
                        if (got == epid)
                                break;
                }
                json_object_set_new(extra, "exitCode", json_sprintf("%d", WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st)));
                lifecycle_event(e, id, NULL, "exec_die", extra);
                _exit(0);
        }
        close(p[1]);
        if (read(p[0], &code, sizeof(code)) != sizeof(code))
                code = 126;
        close(p[0]);
        return code;
}

int cmd_exec(Engine *e, int argc, char **argv)
{
        bool detach = false, interactive = false, tty = false, privileged = false;
        const char *user = NULL, *workdir = NULL;
        char **env = NULL, **env_files = NULL;
        Pflag flags[] = {
                { "detach", 'd', PFLAG_BOOL, &detach, NULL, "Detached mode: run command in the background" },
                { "interactive", 'i', PFLAG_BOOL, &interactive, NULL, "Keep STDIN open even if not attached" },
                { "tty", 't', PFLAG_BOOL, &tty, NULL, "Allocate a pseudo-TTY" },
                { "env", 'e', PFLAG_STRINGS, &env, NULL, "Set environment variables" },
                { "env-file", 0, PFLAG_STRINGS, &env_files, NULL, "Read in a file of environment variables" },
                { "user", 'u', PFLAG_STRING, &user, NULL, "Username or UID (format: <name|uid>[:<group|gid>])" },
                { "workdir", 'w', PFLAG_STRING, &workdir, NULL, "Working directory inside the container" },
                { "privileged", 0, PFLAG_BOOL, &privileged, NULL, "Give extended privileges to the command" },
                { 0 },
        };
        _cleanup_free_ char *id = NULL, *bundle_dir = NULL, *proc_path = NULL;
        _cleanup_strv_ char **rt_argv = NULL;
        _cleanup_json_ json_t *rec = NULL, *spec = NULL;
        Error *err = NULL;
        int idx = 1, r;

        if (help_requested(argc, argv, "exec [OPTIONS] CONTAINER COMMAND [ARG...]", flags))
                return 0;
        r = pflag_parse(flags, argc, argv, &idx, false, NULL, &err);
        if (r < 0)
                return cli_fail(argv[0], err);
        if (argc - idx < 2)
                return cli_failf(argv[0], "\"stockade exec\" requires at least 2 arguments.");
        if (container_lookup(e, argv[idx], &id, &err) < 0 || container_load(e, id, &rec, &err) < 0) {
                audit_container(e, "exec", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        if (!container_monitor_alive(rec) || !json_is_true(json_object_get(json_object_get(rec, "State"), "Running"))) {
                error_setx(&err, EINVAL, "Error response from daemon: Container %s is not running", id);
                audit_container(e, "exec", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        if (json_is_true(json_object_get(json_object_get(rec, "State"), "Paused"))) {
                /* dockerd's refusal: the process would freeze in the cgroup as it joins it */
                error_setx(&err, EINVAL, "Error response from daemon: Container %s is paused, unpause the container before exec", id);
                audit_container(e, "exec", id, argv[idx], err);
                return cli_fail(NULL, err);
        }
        json_t *host = json_object_get(rec, "HostConfig"), *cfg = json_object_get(rec, "Config");
        if (engine_runtime_argv(e, host, &rt_argv, &err) < 0)
                return cli_fail(NULL, err);

        /* process.json from the container's own process (caps, rlimits, nnp, apparmor, user), changed as asked. */
        {
                _cleanup_free_ char *dir = engine_container_dir(e, id);
                _cleanup_free_ char *path = xasprintf("%s/bundle/config.json", dir), *text = NULL;
                size_t len = 0;
                if (read_file_at(AT_FDCWD, path, 16 << 20, &text, &len) < 0 || jx_parse(text, len, path, &spec, &err) < 0)
                        return err ? cli_fail(NULL, err) : cli_failf(NULL, "cannot read %s", path);
        }
        json_t *proc = json_object_get(spec, "process");
        json_t *args = json_array();
        for (int i = idx + 1; i < argc; i++)
                json_array_append_new(args, json_string(argv[i]));
        json_object_set_new(proc, "args", args);
        json_object_set_new(proc, "terminal", json_boolean(tty));
        {
                RunOpts o = { 0 };
                /* -e and --env-file with run's rules (NAME alone takes the caller's value). */
                char **fake = NULL;
                strv_push(&fake, "exec");
                for (size_t i = 0; env && env[i]; i++) {
                        strv_push(&fake, "-e");
                        strv_push(&fake, env[i]);
                }
                for (size_t i = 0; env_files && env_files[i]; i++) {
                        strv_push(&fake, "--env-file");
                        strv_push(&fake, env_files[i]);
                }
                strv_push(&fake, "image");
                int fidx = 1;
                if (runopts_parse(false, (int)strv_length(fake), fake, &fidx, &o, &err) < 0) {
                        strv_free(fake);
                        return cli_fail(argv[0], err);
                }
                json_t *merged = json_deep_copy(cfg);
                json_t *envs = json_array();
                json_array_extend(envs, json_object_get(cfg, "Env"));
                json_array_extend(envs, json_object_get(o.config, "Env"));
                json_object_set_new(merged, "Env", envs);
                json_object_set_new(merged, "Tty", json_boolean(tty));
                json_object_set_new(proc, "env", specgen_env(merged));
                json_decref(merged);
                strv_free(fake);
                runopts_free(&o);
        }
        if (workdir)
                json_object_set_new(proc, "cwd", json_string(workdir));
        if (user) {
                _cleanup_free_ char *dir = engine_container_dir(e, id);
                _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", dir);
                json_t *u = NULL;
                if (specgen_user(rootfs, user, json_object_get(host, "GroupAdd"), &u, &err) < 0)
                        return cli_fail(NULL, err);
                json_object_set_new(proc, "user", u);
        }
        if (privileged) {
                json_t *h2 = json_deep_copy(host), *caps = NULL;
                json_object_set_new(h2, "Privileged", json_true());
                (void)specgen_caps(h2, &caps, NULL);
                json_object_set_new(proc, "capabilities",
                                    json_pack("{s:O, s:O, s:O}", "bounding", caps, "effective", caps, "permitted", caps));
                json_decref(caps);
                json_decref(h2);
        }
        {
                _cleanup_free_ char *run = engine_container_run_dir(e, id);
                _cleanup_free_ char *text = jx_dump(proc, false);
                char name[64];
                snprintf(name, sizeof(name), "exec-%d.json", (int)getpid());
                proc_path = xasprintf("%s/%s", run, name);
                _cleanup_close_ int dfd = open(run, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (dfd < 0 || write_file_atomic(dfd, name, text, strlen(text), 0600, false) < 0)
                        return cli_failf(NULL, "writing %s failed", proc_path);
        }
        {
                char **v = NULL;
                pid_t pid;
                int st = 0, code;
                _cleanup_free_ char *run = engine_container_run_dir(e, id);
                _cleanup_free_ char *log_path = xasprintf("%s/exec-%d.log", run, (int)getpid());
                _cleanup_free_ char *pid_path = xasprintf("%s/exec-%d.pid", run, (int)getpid());
                _cleanup_free_ char *exec_id = container_new_id();
                _cleanup_free_ char *a_create = event_exec_action("exec_create", argv + idx + 1);
                _cleanup_free_ char *a_start = event_exec_action("exec_start", argv + idx + 1);
                _cleanup_json_ json_t *extra = json_pack("{s:s}", "execID", exec_id);
                v = TAKE_PTR(rt_argv);
                if (detach) {
                        /* The detached process must not hold our stdio (a caller reading our output would
                         * wait for it to end); the runtime's own errors come back through its log. */
                        strv_push(&v, "--log");
                        strv_push(&v, log_path);
                        strv_push(&v, "--log-format");
                        strv_push(&v, "json");
                }
                strv_push(&v, "exec");
                strv_push(&v, "--process");
                strv_push(&v, proc_path);
                if (detach) {
                        strv_push(&v, "--detach");
                        strv_push(&v, "--pid-file");
                        strv_push(&v, pid_path);
                }
                strv_push(&v, id);
                lifecycle_event(e, id, rec, a_create, extra);
                fflush(stdout);
                if (detach) {
                        code = exec_detached(e, id, rec, v, pid_path, a_start, extra);
                        strv_free(v);
                        (void)unlink(proc_path);
                        (void)unlink(pid_path);
                        if (code != 0) {
                                _cleanup_free_ char *text = NULL;
                                if (read_file_at(AT_FDCWD, log_path, 1 << 20, &text, NULL) == 0) {
                                        char *save = NULL;
                                        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                                                json_t *j = json_loads(l, 0, NULL);
                                                const char *m = json_string_value(json_object_get(j, "msg"));
                                                if (m)
                                                        fprintf(stderr, "stockade: %s\n", m);
                                                json_decref(j);
                                        }
                                }
                                error_setx(&err, EIO, "the runtime could not start the process (exit status %d)", code);
                        }
                        audit_container(e, "exec", id, argv[idx], err);
                        error_clear(&err);
                        (void)unlink(log_path);
                        return code;
                }
                lifecycle_event(e, id, rec, a_start, extra);
                audit_container(e, "exec", id, argv[idx], NULL);
                pid = fork();
                if (pid == 0) {
                        if (!interactive && !tty) {
                                int null = open("/dev/null", O_RDONLY);
                                dup2(null, 0);
                        }
                        execv(v[0], v);
                        fprintf(stderr, "stockade: exec %s: %s\n", v[0], strerror(errno));
                        _exit(126);
                }
                strv_free(v);
                signal(SIGINT, SIG_IGN);
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
                (void)unlink(proc_path);
                code = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
                json_object_set_new(extra, "exitCode", json_sprintf("%d", code));
                lifecycle_event(e, id, NULL, "exec_die", extra);
                return code;
        }
}
