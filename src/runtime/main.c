/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "cloned-binary.h"
#include "commands.h"
#include "log.h"
#include "util.h"

#ifndef STOCKADE_VERSION
#define STOCKADE_VERSION "0.1.0"
#endif

const char *arg_root = NULL;
bool arg_debug = false;

static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        bool enters_container; /* runs code in the container: re-exec from a sealed copy first */
        const char *help;
} commands[] = {
        { "create", cmd_create, true, "create a container from a bundle" },
        { "start", cmd_start, false, "run the user process of a created container" },
        { "run", cmd_run, true, "create and start a container" },
        { "state", cmd_state, false, "print the OCI state of a container" },
        { "kill", cmd_kill, false, "send a signal to a container's init (or all its processes)" },
        { "delete", cmd_delete, false, "delete a stopped container (--force: any container)" },
        { "exec", cmd_exec, true, "run a new process in a container" },
        { "list", cmd_list, false, "list containers" },
        { "ps", cmd_ps, false, "list the processes of a container" },
        { "update", cmd_update, false, "change the resource limits of a container" },
        { "pause", cmd_pause, false, "freeze every process of a container" },
        { "resume", cmd_resume, false, "thaw a paused container" },
        { "events", cmd_events, false, "print stats and OOM events of a container (runc's JSON)" },
        { "seccomp", cmd_seccomp, false, "print the built-in default seccomp profile (seccomp default)" },
        { "spec", cmd_spec, false, "write a default config.json" },
        { "features", cmd_features, false, "print the features of this runtime as OCI features JSON" },
};

int fail(Error *err)
{
        log_error("%s", err && err->msg ? err->msg : "unknown error");
        error_free(err);
        return 1;
}

static void usage(void)
{
        printf("stockade-runtime: an OCI runtime with runc's command line\n\n"
               "Usage: stockade-runtime [global options] COMMAND [options] [arguments]\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-10s %s\n", commands[i].name, commands[i].help);
        printf("\nGlobal options:\n"
               "  --root DIR              state directory (default /run/stockade-runtime, or $STOCKADE_RUNTIME_ROOT)\n"
               "  --log FILE              also log to FILE\n"
               "  --log-format text|json  format of --log (default text)\n"
               "  --debug                 log debug messages\n"
               "  --systemd-cgroup        use systemd for cgroups (not supported: refused)\n"
               "  -v, --version           print the version\n");
}

int main(int argc, char **argv)
{
        const char *log_path = NULL, *log_format = "text", *rootless = NULL, *criu = NULL;
        bool version = false, help = false, systemd_cgroup = false;
        const CliFlag global[] = {
                { "root", 0, CLI_STRING, &arg_root, NULL },
                { "log", 0, CLI_STRING, &log_path, NULL },
                { "log-format", 0, CLI_STRING, &log_format, NULL },
                { "debug", 0, CLI_BOOL, &arg_debug, NULL },
                { "systemd-cgroup", 0, CLI_BOOL, &systemd_cgroup, NULL },
                { "rootless", 0, CLI_STRING, &rootless, NULL },
                { "criu", 0, CLI_STRING, &criu, NULL },
                { "version", 'v', CLI_BOOL, &version, NULL },
                { "help", 'h', CLI_BOOL, &help, NULL },
                { NULL, 0, 0, NULL, NULL },
        };
        Error *err = NULL;
        int i = 1;

        if (cli_parse("stockade-runtime", global, argc, argv, &i, &err) < 0) {
                fprintf(stderr, "stockade-runtime: %s\n", err->msg);
                error_free(err);
                return 2;
        }
        if (!STREQ(log_format, "text") && !STREQ(log_format, "json")) {
                fprintf(stderr, "stockade-runtime: --log-format: \"%s\" is not text or json\n", log_format);
                return 2;
        }
        if (log_open(log_path, STREQ(log_format, "json"), arg_debug) < 0) {
                fprintf(stderr, "stockade-runtime: --log %s: %s\n", log_path, strerror(errno));
                return 2;
        }
        if (!arg_root)
                arg_root = getenv("STOCKADE_RUNTIME_ROOT");
        if (!arg_root || !*arg_root)
                arg_root = "/run/stockade-runtime";
        if (version) {
                printf("stockade-runtime version %s\nspec: 1.2.0\n", STOCKADE_VERSION);
                return 0;
        }
        if (help || i >= argc) {
                usage();
                return help ? 0 : 2;
        }
        for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
                if (!STREQ(argv[i], commands[k].name))
                        continue;
                if (systemd_cgroup && commands[k].enters_container) {
                        /* sd_booted()'s test: whether systemd runs as PID 1 at all. */
                        bool booted = access("/run/systemd/system", F_OK) == 0;
                        log_error("--systemd-cgroup: the systemd cgroup manager is not supported%s; use cgroupfs "
                                  "(drop --systemd-cgroup: containerd SystemdCgroup = false, dockerd "
                                  "native.cgroupdriver=cgroupfs, podman --cgroup-manager cgroupfs)",
                                  booted ? "" : " (and systemd does not run as PID 1 here)");
                        return 1;
                }
                if (commands[k].enters_container && is_sealed_binary() <= 0)
                        cgroup_prime();
                if (commands[k].enters_container) {
                        /* CVE-2019-5736: never run container set-up from the host's binary file. */
                        int r = ensure_sealed_binary(argv);
                        if (r < 0) {
                                log_error("re-executing from a sealed copy of the runtime: %s", strerror(-r));
                                return 1;
                        }
                }
                log_debug("%s: start", commands[k].name);
                return commands[k].fn(argc - i, argv + i);
        }
        log_error("unknown command \"%s\" (see --help)", argv[i]);
        return 2;
}
