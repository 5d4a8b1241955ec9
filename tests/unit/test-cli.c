/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"
#include "tap.h"
#include "util.h"

TEST(go_style_flags)
{
        const char *bundle = NULL, *pid = NULL;
        bool detach = false;
        char **env = NULL;
        int n = 0;
        const CliFlag f[] = { { "bundle", 'b', CLI_STRING, &bundle, NULL }, { "pid-file", 0, CLI_STRING, &pid, NULL },
                              { "detach", 'd', CLI_BOOL, &detach, NULL }, { "env", 'e', CLI_STRINGS, &env, NULL },
                              { "preserve-fds", 0, CLI_INT, &n, NULL }, { NULL, 0, 0, NULL, NULL } };
        char *argv[] = { "create", "-bundle", "/b", "--pid-file=/p", "-d", "-e", "A=1", "--env", "B=2",
                         "--preserve-fds", "2", "id", "-x", NULL };
        Error *e = NULL;
        int i = 1;
        ASSERT_OK(cli_parse("create", f, 13, argv, &i, &e));
        ASSERT_STREQ(bundle, "/b");
        ASSERT_STREQ(pid, "/p");
        ASSERT_TRUE(detach);
        ASSERT_STREQ(env[1], "B=2");
        ASSERT_EQ(n, 2);
        ASSERT_EQ(i, 11);
        strv_free(env);
}

TEST(errors_name_the_flag)
{
        bool d = false;
        const CliFlag f[] = { { "detach", 'd', CLI_BOOL, &d, NULL }, { NULL, 0, 0, NULL, NULL } };
        char *a1[] = { "run", "--nope", NULL };
        char *a2[] = { "run", "--detach=maybe", NULL };
        Error *e = NULL;
        int i = 1;
        ASSERT_TRUE(cli_parse("run", f, 2, a1, &i, &e) < 0);
        ASSERT_STREQ(e->msg, "run: unknown flag --nope (see --help)");
        error_clear(&e);
        i = 1;
        ASSERT_TRUE(cli_parse("run", f, 2, a2, &i, &e) < 0);
        ASSERT_CONTAINS(e->msg, "is not a boolean");
        error_clear(&e);
}
