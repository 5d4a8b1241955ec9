/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"
#include "util.h"

TEST(parse_numbers)
{
        uint64_t u;
        int64_t i;
        ASSERT_OK(parse_uint64("18446744073709551615", &u));
        ASSERT_TRUE(u == UINT64_MAX);
        ASSERT_EQ(parse_uint64("18446744073709551616", &u), -ERANGE);
        ASSERT_EQ(parse_uint64("-1", &u), -EINVAL);
        ASSERT_EQ(parse_uint64("12x", &u), -EINVAL);
        ASSERT_EQ(parse_uint64("", &u), -EINVAL);
        ASSERT_OK(parse_int64("-42", &i));
        ASSERT_EQ(i, -42);
}

TEST(atomic_write_and_read)
{
        char dir[] = "/tmp/stockade-test-XXXXXX";
        int dfd;
        char *s = NULL;
        size_t n;
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        ASSERT_OK(write_file_atomic(dfd, "f", "hello", 5, 0600, true));
        ASSERT_OK(write_file_atomic(dfd, "f", "world!", 6, 0600, false));
        ASSERT_OK(read_file_at(dfd, "f", 100, &s, &n));
        ASSERT_STREQ(s, "world!");
        ASSERT_EQ(n, 6);
        free(s);
        ASSERT_EQ(read_file_at(dfd, "f", 3, &s, &n), -EFBIG);
        /* No temporary file is left behind. */
        ASSERT_EQ(faccessat(dfd, ".f.tmp", F_OK, 0), -1);
        ASSERT_OK(mkdirat(dfd, "sub", 0700));
        /* Only a plain name: the temporary file must sit beside the target. */
        ASSERT_EQ(write_file_atomic(dfd, "sub/x", "1", 1, 0600, true), -EINVAL);
        close(dfd);
        dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
        ASSERT_OK(rm_rf_at(dfd, dir + 5));
        ASSERT_EQ(access(dir, F_OK), -1);
        close(dfd);
}

TEST(container_ids)
{
        Error *e = NULL;
        ASSERT_OK(state_validate_id("abc-1.2_3", &e));
        ASSERT_TRUE(state_validate_id("../etc", &e) < 0);
        error_clear(&e);
        ASSERT_TRUE(state_validate_id("a/b", &e) < 0);
        error_clear(&e);
        ASSERT_TRUE(state_validate_id("", &e) < 0);
        error_clear(&e);
        ASSERT_TRUE(state_validate_id("-x", &e) < 0);
        error_clear(&e);
}

TEST(rfc3339)
{
        char *s = now_rfc3339nano();
        ASSERT_EQ(strlen(s) >= 20, 1);
        ASSERT_EQ(s[4], '-');
        ASSERT_EQ(s[10], 'T');
        ASSERT_EQ(s[strlen(s) - 1], 'Z');
        free(s);
}

TEST(start_time_of_self)
{
        ASSERT_TRUE(proc_start_time(getpid()) > 0);
        ASSERT_EQ(proc_start_time(0x7ffffff0), 0);
}

TEST(error_wrap)
{
        Error *e = NULL;
        ASSERT_EQ(error_set(&e, ENOENT, "open `%s`", "/x"), -ENOENT);
        ASSERT_STREQ(e->msg, "open `/x`: No such file or directory");
        ASSERT_EQ(error_wrap(&e, "mounts[%d]", 2), -ENOENT);
        ASSERT_STREQ(e->msg, "mounts[2]: open `/x`: No such file or directory");
        error_free(e);
}

TEST(parse_size)
{
        static const struct { const char *in; int64_t want; } ok[] = {
                { "0", 0 }, { "1024", 1024 }, { "64m", 64 << 20 }, { "64M", 64 << 20 }, { "1g", 1LL << 30 },
                { "1GiB", 1LL << 30 }, { "512 kB", 512 << 10 }, { "1.5k", 1536 }, { "2b", 2 }, { "-1", -1 },
                { "1t", 1LL << 40 },
        };
        static const char *const bad[] = { "", "m", "-2", "1x", "1.k", "64mm", " 1", "1kk", "1.5.5" };
        int64_t v;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                v = -7;
                if (parse_size(ok[i].in, &v) < 0)
                        TAP_FAIL("parse_size(\"%s\") failed", ok[i].in);
                ASSERT_EQ(v, ok[i].want);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse_size(bad[i], &v) == 0)
                        TAP_FAIL("parse_size(\"%s\") accepted", bad[i]);
        ASSERT_EQ(parse_size("9999999999999999999999", &v), -ERANGE);
        ASSERT_EQ(parse_size("99999999999p", &v), -ERANGE);
}

TEST(parse_duration)
{
        static const struct { const char *in; int64_t want; } ok[] = {
                { "5s", 5000 }, { "100ms", 100 }, { "1m30s", 90000 }, { "1.5s", 1500 }, { "2h", 7200000 },
                { "0", 0 }, { "1500us", 1 },
        };
        static const char *const bad[] = { "", "5", "s", "-1s", "5x", "1m30", "5 s" };
        int64_t v;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                v = -7;
                if (parse_duration_ms(ok[i].in, &v) < 0)
                        TAP_FAIL("parse_duration_ms(\"%s\") failed", ok[i].in);
                ASSERT_EQ(v, ok[i].want);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse_duration_ms(bad[i], &v) == 0)
                        TAP_FAIL("parse_duration_ms(\"%s\") accepted", bad[i]);
}

TEST(format_go_duration)
{
        static const struct {
                int64_t ms;
                const char *want;
        } cases[] = {
                { 0, "0s" }, { -5, "0s" }, { 1, "1ms" }, { 500, "500ms" }, { 1000, "1s" }, { 1500, "1.5s" }, { 1250, "1.25s" },
                { 30000, "30s" }, { 60000, "1m0s" }, { 90000, "1m30s" }, { 90500, "1m30.5s" }, { 3600000, "1h0m0s" },
                { 3723004, "1h2m3.004s" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *s = format_go_duration_ms(cases[i].ms);
                if (strcmp(s, cases[i].want) != 0)
                        TAP_FAIL("format_go_duration_ms(%lld) = \"%s\", want \"%s\"", (long long)cases[i].ms, s, cases[i].want);
                free(s);
        }
}
