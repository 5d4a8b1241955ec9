/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stockade apparmor default | load FILE (docs/SECCOMP.md, "AppArmor"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apparmor-profile.h"
#include "apparmor.h"
#include "cli.h"

static void usage(void)
{
        printf("\nUsage:  stockade apparmor default\n"
               "        stockade apparmor load FILE\n\n"
               "Manage AppArmor profiles for containers\n\n"
               "Commands:\n"
               "  default     Print the default profile (" APPARMOR_DEFAULT_PROFILE "), as loaded on this machine\n"
               "  load FILE   Load or replace the profiles in FILE (apparmor_parser -Kr)\n");
}

static int load(const char *file)
{
        struct stat st;
        Error *err = NULL;

        if (stat(file, &st) < 0)
                return cli_failf(NULL, "apparmor load: %s: %s", file, strerror(errno));
        if (!S_ISREG(st.st_mode) || access(file, R_OK) < 0)
                return cli_failf(NULL, "apparmor load: %s: %s", file,
                                 S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
        if (!apparmor_enabled())
                return cli_failf(NULL, "apparmor load: %s: AppArmor is not enabled in this kernel "
                                       "(/sys/module/apparmor/parameters/enabled is not Y)", file);
        _cleanup_free_ char *what = xasprintf("apparmor load %s", file);
        if (apparmor_parser_load(file, NULL, what, &err) < 0)
                return cli_fail(NULL, err);
        return 0;
}

int cmd_apparmor(Engine *e, int argc, char **argv)
{
        (void)e;
        if (argc < 2 || STREQ(argv[1], "--help") || STREQ(argv[1], "-h")) {
                usage();
                return argc < 2 ? EXIT_ENGINE : 0;
        }
        if (STREQ(argv[1], "default")) {
                if (argc != 2)
                        return cli_failf(NULL, "\"stockade apparmor default\" accepts no arguments.");
                _cleanup_free_ char *text = apparmor_default_profile(APPARMOR_DEFAULT_PROFILE);
                fputs(text, stdout);
                return fflush(stdout) == 0 ? 0 : EXIT_ENGINE;
        }
        if (STREQ(argv[1], "load")) {
                if (argc != 3)
                        return cli_failf(NULL, "\"stockade apparmor load\" requires exactly 1 argument: the profile file.");
                return load(argv[2]);
        }
        return cli_failf(NULL, "apparmor: unknown command \"%s\" (default, load)", argv[1]);
}
