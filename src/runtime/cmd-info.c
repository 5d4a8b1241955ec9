/* SPDX-License-Identifier: GPL-2.0-or-later */
/* list, ps, spec, features */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "seccomp-default.h"
#include "cli.h"
#include "commands.h"
#include "container.h"
#include "json-util.h"
#include "state.h"
#include "util.h"

int cmd_list(int argc, char **argv)
{
        const char *format = "table";
        bool quiet = false;
        const CliFlag flags[] = { { "format", 'f', CLI_STRING, &format, "table or json" },
                                  { "quiet", 'q', CLI_BOOL, &quiet, "print only the ids" },
                                  { NULL, 0, 0, NULL, NULL } };
        _cleanup_json_ json_t *all = json_array();
        Error *err = NULL;
        DIR *d;
        struct dirent *de;
        int i = 1;

        if (cli_parse("list", flags, argc, argv, &i, &err) < 0)
                return fail(err);
        if (!STREQ(format, "table") && !STREQ(format, "json"))
                return fail((error_setx(&err, EINVAL, "list: --format \"%s\" is not table or json", format), err));
        d = opendir(arg_root);
        if (d) {
                while ((de = readdir(d))) {
                        json_t *j = NULL;
                        if (de->d_name[0] == '.')
                                continue;
                        if (container_state(arg_root, de->d_name, &j, NULL) == 0)
                                json_array_append_new(all, j);
                }
                closedir(d);
        } else if (errno != ENOENT)
                return fail((error_set(&err, errno, "list: opening %s", arg_root), err));

        if (STREQ(format, "json")) {
                _cleanup_free_ char *s = jx_dump(all, false);
                printf("%s\n", s);
                return 0;
        }
        size_t k;
        json_t *j;
        if (!quiet)
                printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        json_array_foreach (all, k, j) {
                if (quiet) {
                        printf("%s\n", json_string_value(json_object_get(j, "id")));
                        continue;
                }
                printf("%-20s %-8lld %-10s %-40s %-32s %s\n", json_string_value(json_object_get(j, "id")),
                       (long long)json_integer_value(json_object_get(j, "pid")),
                       json_string_value(json_object_get(j, "status")),
                       json_string_value(json_object_get(j, "bundle")),
                       json_string_value(json_object_get(j, "created")), "root");
        }
        return 0;
}

int cmd_ps(int argc, char **argv)
{
        const char *format = "table";
        const CliFlag flags[] = { { "format", 'f', CLI_STRING, &format, "table or json" },
                                  { NULL, 0, 0, NULL, NULL } };
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        Error *err = NULL;
        int i = 1;

        if (cli_parse("ps", flags, argc, argv, &i, &err) < 0)
                return fail(err);
        if (i >= argc)
                return fail((error_setx(&err, EINVAL, "ps: the container id is required"), err));
        if (container_pids(arg_root, argv[i], &pids, &n, &err) < 0)
                return fail(err);
        if (STREQ(format, "json")) {
                printf("[");
                for (size_t k = 0; k < n; k++)
                        printf("%s%d", k ? "," : "", (int)pids[k]);
                printf("]\n");
                return 0;
        }
        if (!STREQ(format, "table"))
                return fail((error_setx(&err, EINVAL, "ps: --format \"%s\" is not table or json", format), err));

        /* Like runc: run ps(1) with the given options (default -ef) and keep the container's rows. */
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return fail((error_set(&err, errno, "pipe"), err));
        pid_t child = fork();
        if (child < 0)
                return fail((error_set(&err, errno, "fork"), err));
        if (child == 0) {
                int nargs = argc - i - 1;
                char **a = xcalloc((size_t)(nargs > 0 ? nargs : 1) + 2, sizeof(char *));
                a[0] = (char *)"ps";
                if (nargs > 0)
                        for (int k = 0; k < nargs; k++)
                                a[k + 1] = argv[i + 1 + k];
                else
                        a[1] = (char *)"-ef";
                dup2(pfd[1], STDOUT_FILENO);
                execvp("ps", a);
                _exit(127);
        }
        close(pfd[1]);
        _cleanup_free_ char *out = NULL;
        int status = 0;
        (void)read_all_fd(pfd[0], 64 << 20, &out, NULL);
        close(pfd[0]);
        waitpid(child, &status, 0);
        if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return fail((error_setx(&err, EIO, "ps: running ps(1) failed"), err));
        char *save = NULL, *line = strtok_r(out, "\n", &save);
        int pidcol = -1;
        if (!line)
                return 0;
        {
                _cleanup_free_ char *h = xstrdup(line);
                char *s2 = NULL;
                int col = 0;
                for (char *t = strtok_r(h, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2), col++)
                        if (STREQ(t, "PID"))
                                pidcol = col;
        }
        if (pidcol < 0)
                return fail((error_setx(&err, EINVAL, "ps: the output of ps has no PID column"), err));
        printf("%s\n", line);
        while ((line = strtok_r(NULL, "\n", &save))) {
                _cleanup_free_ char *l = xstrdup(line);
                char *s2 = NULL, *t = strtok_r(l, " \t", &s2);
                for (int col = 0; t && col < pidcol; col++)
                        t = strtok_r(NULL, " \t", &s2);
                if (!t)
                        continue;
                int pid = atoi(t);
                for (size_t k = 0; k < n; k++)
                        if (pids[k] == pid) {
                                printf("%s\n", line);
                                break;
                        }
        }
        return 0;
}

/* runc's default spec, hardened the same way: read-only root, no new privileges, few capabilities. */
static const char default_spec[] =
        "{\"ociVersion\":\"1.2.0\","
        "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
        "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],"
        "\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
        "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
        "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
        "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],\"noNewPrivileges\":true},"
        "\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"stockade\","
        "\"mounts\":["
        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
        "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
        "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
        "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
        "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
        "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
        "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
        "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
        "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\","
        "\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\","
        "\"/sys/devices/virtual/powercap\",\"/proc/interrupts\"],"
        "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

int cmd_spec(int argc, char **argv)
{
        const char *bundle = ".";
        bool rootless = false;
        const CliFlag flags[] = { { "bundle", 'b', CLI_STRING, &bundle, "directory to write config.json in" },
                                  { "rootless", 0, CLI_BOOL, &rootless, "a spec for a rootless container" },
                                  { NULL, 0, 0, NULL, NULL } };
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        _cleanup_close_ int dfd = -EBADF;
        Error *err = NULL;
        int i = 1, r;

        if (cli_parse("spec", flags, argc, argv, &i, &err) < 0)
                return fail(err);
        if (jx_parse(default_spec, strlen(default_spec), "default spec", &j, &err) < 0)
                return fail(err);
        if (rootless) {
                json_t *lx = json_object_get(j, "linux");
                json_t *ns = json_object_get(lx, "namespaces");
                char *m = xasprintf("[{\"containerID\":0,\"hostID\":%u,\"size\":1}]", (unsigned)getuid());
                char *g = xasprintf("[{\"containerID\":0,\"hostID\":%u,\"size\":1}]", (unsigned)getgid());
                json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
                json_object_set_new(lx, "uidMappings", json_loads(m, 0, NULL));
                json_object_set_new(lx, "gidMappings", json_loads(g, 0, NULL));
                json_object_del(lx, "resources");
                free(m);
                free(g);
        }
        dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return fail((error_set(&err, errno, "spec: --bundle %s", bundle), err));
        if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return fail((error_setx(&err, EEXIST, "spec: %s/config.json exists: remove it first", bundle), err));
        s = jx_dump(j, true);
        s = xrealloc(s, strlen(s) + 2);
        strcat(s, "\n");
        r = write_file_atomic(dfd, "config.json", s, strlen(s), 0644, true);
        if (r < 0)
                return fail((error_set(&err, -r, "spec: writing %s/config.json", bundle), err));
        return 0;
}

int cmd_features(int argc, char **argv)
{
        static const char *const mount_options[] = {
                "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion",
                "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime",
                "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind",
                "rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime",
                "rnoexec", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
                "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
                "strictatime", "suid", "sync", "tmpcopyup", "unbindable",
        };
        _cleanup_json_ json_t *j = json_object();
        _cleanup_free_ char *s = NULL;
        json_t *hooks = json_array(), *mo = json_array(), *ns = json_array(), *caps = json_array();
        (void)argc;
        (void)argv;

        for (int k = 0; k < _HOOK_MAX; k++)
                json_array_append_new(hooks, json_string(hook_kind_names[k]));
        for (size_t k = 0; k < ELEMENTSOF(mount_options); k++)
                json_array_append_new(mo, json_string(mount_options[k]));
        for (int k = 0; k < _NS_MAX; k++)
                json_array_append_new(ns, json_string(ns_type_names[k]));
        for (int k = 0; k <= caps_last_cap() && k < caps_known_count(); k++)
                json_array_append_new(caps, json_string(caps_to_name(k)));
        json_object_set_new(j, "ociVersionMin", json_string("1.0.0"));
        json_object_set_new(j, "ociVersionMax", json_string("1.2.0"));
        json_object_set_new(j, "hooks", hooks);
        json_object_set_new(j, "mountOptions", mo);
        json_object_set_new(
                j, "linux",
                json_pack("{s:o,s:o,s:{s:b,s:b,s:b,s:b,s:b},s:{s:b},s:{s:b},s:{s:b},s:{s:b},s:{s:{s:b}}}",
                          "namespaces", ns, "capabilities", caps, "cgroup", "v1", cgroup_have_v1(), "v2",
                          cgroup_have_v2(), "systemd", 0, "systemdUser", 0, "rdma", 0, "seccomp", "enabled", 1,
                          "apparmor", "enabled", 1, "selinux", "enabled", 0, "intelRdt", "enabled", 0,
                          "mountExtensions", "idmap", "enabled", 1));
        json_object_set_new(json_object_get(json_object_get(j, "linux"), "seccomp"), "actions",
                            json_pack("[s,s,s,s,s,s,s,s]", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                      "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"));
        json_object_set_new(json_object_get(json_object_get(j, "linux"), "seccomp"), "operators",
                            json_pack("[s,s,s,s,s,s,s]", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                      "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"));
        json_object_set_new(json_object_get(json_object_get(j, "linux"), "seccomp"), "archs",
                            json_pack("[s,s,s,s]", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                                      "SCMP_ARCH_AARCH64"));
        json_object_set_new(j, "annotations", json_pack("{s:s}", "io.github.stockade.version", "0.1.0"));
        s = jx_dump(j, true);
        printf("%s\n", s);
        return 0;
}

int cmd_seccomp(int argc, char **argv)
{
        _cleanup_json_ json_t *p = NULL;
        _cleanup_free_ char *s = NULL;
        Error *err = NULL;

        if (argc != 2 || !STREQ(argv[1], "default")) {
                if (argc == 2 && (STREQ(argv[1], "--help") || STREQ(argv[1], "-h"))) {
                        printf("Usage: stockade-runtime seccomp default\n\n"
                               "Prints the built-in default seccomp profile (Docker's format) as JSON: a start for\n"
                               "custom profiles, and what `linux.seccomp` may hold verbatim.\n");
                        return 0;
                }
                return fail((error_setx(&err, EINVAL, "seccomp: usage: stockade-runtime seccomp default"), err));
        }
        p = seccomp_default_profile();
        s = jx_dump(p, true);
        printf("%s\n", s);
        return 0;
}
