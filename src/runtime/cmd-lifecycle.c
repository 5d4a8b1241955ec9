/* SPDX-License-Identifier: GPL-2.0-or-later */
/* create, start, run, state, kill, delete */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "container.h"
#include "json-util.h"
#include "signals.h"
#include "util.h"

/* Resolves a user-given path before the runtime changes directory to the bundle. */
static char *absolute(const char *p)
{
        char cwd[PATH_MAX];
        if (!p || p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
                return p ? xstrdup(p) : NULL;
        return xasprintf("%s/%s", cwd, p);
}

static int one_id(const char *cmd, int argc, char **argv, int i, const char **ret, Error **err)
{
        if (i >= argc)
                return error_setx(err, EINVAL, "%s: the container id is required", cmd);
        if (argc - i > 1)
                return error_setx(err, EINVAL, "%s: unexpected argument \"%s\"", cmd, argv[i + 1]);
        *ret = argv[i];
        return 0;
}

static int create_or_run(int argc, char **argv, bool run)
{
        const char *bundle = NULL, *pid_file = NULL, *console = NULL, *id = NULL;
        bool no_pivot = false, no_new_keyring = false, detach = false, keep = false, help = false;
        int preserve_fds = 0, i = 1, status = 0;
        _cleanup_free_ char *pid_abs = NULL, *console_abs = NULL;
        const CliFlag flags[] = {
                { "bundle", 'b', CLI_STRING, &bundle, "the bundle directory (default: the current directory)" },
                { "pid-file", 0, CLI_STRING, &pid_file, "write the init's pid to this file" },
                { "console-socket", 0, CLI_STRING, &console, "unix socket to send the pty master to" },
                { "no-pivot", 0, CLI_BOOL, &no_pivot, "use MS_MOVE and chroot instead of pivot_root" },
                { "no-new-keyring", 0, CLI_BOOL, &no_new_keyring, "keep the caller's session keyring (default: a new one)" },
                { "preserve-fds", 0, CLI_INT, &preserve_fds, "pass this many fds after stdio to the process" },
                { "detach", 'd', CLI_BOOL, &detach, run ? "(run) do not wait for the container" : NULL },
                { "keep", 0, CLI_BOOL, &keep, run ? "(run) do not delete the container after it exits" : NULL },
                { "help", 'h', CLI_BOOL, &help, NULL },
                { NULL, 0, 0, NULL, NULL },
        };
        Error *err = NULL;

        if (cli_parse(argv[0], flags, argc, argv, &i, &err) < 0)
                return fail(err);
        if (help) {
                cli_usage(argv[0], "[options] CONTAINER_ID", flags);
                return 0;
        }
        if (!run && (detach || keep))
                return fail((error_setx(&err, EINVAL, "create: --detach and --keep belong to run"), err));
        if (one_id(argv[0], argc, argv, i, &id, &err) < 0)
                return fail(err);
        pid_abs = absolute(pid_file);
        console_abs = absolute(console);
        CreateOpts o = { .bundle = bundle, .pid_file = pid_abs, .console_socket = console_abs,
                         .preserve_fds = preserve_fds, .no_pivot = no_pivot, .no_new_keyring = no_new_keyring };
        if (!run)
                return container_create(arg_root, id, &o, &err) < 0 ? fail(err) : 0;
        if (container_run(arg_root, id, &o, detach, &status, &err) < 0)
                return fail(err);
        return status;
}

int cmd_create(int argc, char **argv)
{
        return create_or_run(argc, argv, false);
}

int cmd_run(int argc, char **argv)
{
        return create_or_run(argc, argv, true);
}

int cmd_simple(int argc, char **argv, const char *synopsis, const CliFlag *extra, const char **ret_id,
                  int *ret_index)
{
        Error *err = NULL;
        int i = 1;

        if (cli_parse(argv[0], extra, argc, argv, &i, &err) < 0)
                return fail(err);
        if (i < argc && (STREQ(argv[i], "help"))) {
                cli_usage(argv[0], synopsis, extra);
                return -1;
        }
        if (i >= argc)
                return fail((error_setx(&err, EINVAL, "%s: the container id is required", argv[0]), err));
        *ret_id = argv[i];
        *ret_index = i + 1;
        return 0;
}

int cmd_start(int argc, char **argv)
{
        const CliFlag flags[] = { { NULL, 0, 0, NULL, NULL } };
        const char *id;
        Error *err = NULL;
        int i, r;

        r = cmd_simple(argc, argv, "CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (i < argc)
                return fail((error_setx(&err, EINVAL, "start: unexpected argument \"%s\"", argv[i]), err));
        return container_start(arg_root, id, &err) < 0 ? fail(err) : 0;
}

int cmd_state(int argc, char **argv)
{
        const CliFlag flags[] = { { NULL, 0, 0, NULL, NULL } };
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        const char *id;
        Error *err = NULL;
        int i, r;

        r = cmd_simple(argc, argv, "CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (container_state(arg_root, id, &j, &err) < 0)
                return fail(err);
        s = jx_dump(j, true);
        printf("%s\n", s);
        return 0;
}

int cmd_kill(int argc, char **argv)
{
        bool all = false;
        const CliFlag flags[] = { { "all", 'a', CLI_BOOL, &all, "signal every process of the container" },
                                  { NULL, 0, 0, NULL, NULL } };
        const char *id;
        Error *err = NULL;
        int i, r, sig = 15;

        r = cmd_simple(argc, argv, "[--all] CONTAINER_ID [SIGNAL]", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (i < argc) {
                sig = signal_from_string(argv[i]);
                if (sig < 0)
                        return fail((error_setx(&err, EINVAL, "kill: unknown signal \"%s\"", argv[i]), err));
                if (i + 1 < argc)
                        return fail((error_setx(&err, EINVAL, "kill: unexpected argument \"%s\"", argv[i + 1]), err));
        }
        return container_kill(arg_root, id, sig, all, &err) < 0 ? fail(err) : 0;
}

int cmd_delete(int argc, char **argv)
{
        bool force = false;
        const CliFlag flags[] = { { "force", 'f', CLI_BOOL, &force, "kill a container that is not stopped" },
                                  { NULL, 0, 0, NULL, NULL } };
        const char *id;
        Error *err = NULL;
        int i, r;

        r = cmd_simple(argc, argv, "[--force] CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (container_delete(arg_root, id, force, &err) < 0) {
                /* runc: deleting a missing container with --force is not an error. */
                if (force && err->errnum == ENOENT) {
                        error_free(err);
                        return 0;
                }
                return fail(err);
        }
        return 0;
}
