/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * State.Health bookkeeping (health.c) by dockerd's rules: success heals and clears the streak, failures
 * count unless the container is starting within its start period, `retries` in a row make it
 * unhealthy, five results kept, output cut at 4096 bytes and made valid UTF-8, events only on changes.
 */
#include <string.h>

#include "health.h"
#include "tap.h"
#include "util.h"

static const char *apply(json_t *h, int code, const char *out, bool in_start, int retries)
{
        HealthResult r = { .exit_code = code, .output = out, .output_len = out ? strlen(out) : 0, .start = "s", .end = "e",
                           .in_start_period = in_start };
        return health_state_apply(h, &r, retries);
}

static const char *status(json_t *h)
{
        return json_string_value(json_object_get(h, "Status"));
}

TEST(begin_keeps_log)
{
        json_t *old = json_pack("{s:s, s:i, s:[{s:i}]}", "Status", "unhealthy", "FailingStreak", 4, "Log", "ExitCode", 1);
        json_t *h = health_state_begin(old);
        ASSERT_STREQ(status(h), "starting");
        ASSERT_EQ(json_integer_value(json_object_get(h, "FailingStreak")), 0);
        ASSERT_EQ(json_array_size(json_object_get(h, "Log")), 1);
        json_decref(h);
        json_decref(old);
        h = health_state_begin(NULL);
        ASSERT_EQ(json_array_size(json_object_get(h, "Log")), 0);
        json_decref(h);
}

TEST(streak_and_transitions)
{
        json_t *h = health_state_begin(NULL);
        ASSERT_TRUE(apply(h, 1, "no", false, 3) == NULL); /* 1 of 3: still starting */
        ASSERT_EQ(json_integer_value(json_object_get(h, "FailingStreak")), 1);
        ASSERT_TRUE(apply(h, 1, "no", false, 3) == NULL);
        ASSERT_STREQ(apply(h, 1, "no", false, 3), "unhealthy");
        ASSERT_TRUE(apply(h, 2, "no", false, 3) == NULL); /* no event while it stays unhealthy */
        ASSERT_EQ(json_integer_value(json_object_get(h, "FailingStreak")), 4);
        ASSERT_STREQ(apply(h, 0, "ok", false, 3), "healthy");
        ASSERT_EQ(json_integer_value(json_object_get(h, "FailingStreak")), 0);
        ASSERT_TRUE(apply(h, 0, "ok", false, 3) == NULL);
        ASSERT_TRUE(apply(h, -1, "timeout", false, 3) == NULL); /* healthy with a streak of 1 */
        ASSERT_STREQ(status(h), "healthy");
        json_decref(h);
}

TEST(start_period)
{
        json_t *h = health_state_begin(NULL);
        for (int i = 0; i < 5; i++)
                ASSERT_TRUE(apply(h, 1, "", true, 1) == NULL); /* starting, within the start period: not counted */
        ASSERT_EQ(json_integer_value(json_object_get(h, "FailingStreak")), 0);
        ASSERT_STREQ(status(h), "starting");
        ASSERT_STREQ(apply(h, 1, "", false, 1), "unhealthy"); /* after it: counted */
        json_decref(h);
        /* a healthy container's failures count even inside the period (dockerd: only while starting) */
        h = health_state_begin(NULL);
        ASSERT_STREQ(apply(h, 0, "", true, 1), "healthy");
        ASSERT_STREQ(apply(h, 1, "", true, 1), "unhealthy");
        json_decref(h);
}

TEST(log_bounds)
{
        json_t *h = health_state_begin(NULL), *log;
        char big[HEALTH_OUTPUT_MAX + 100];
        char bad[] = { 'a', (char)0xff, 'b', (char)0xc3, 0 };

        for (int i = 0; i < 8; i++) {
                char n[8];
                snprintf(n, sizeof(n), "%d", i);
                apply(h, i, n, false, 3);
        }
        log = json_object_get(h, "Log");
        ASSERT_EQ(json_array_size(log), HEALTH_LOG_MAX);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(log, 0), "Output")), "3");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(log, 4), "ExitCode")), 7);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        apply(h, 0, big, false, 3);
        log = json_object_get(h, "Log");
        ASSERT_EQ(json_string_length(json_object_get(json_array_get(log, 4), "Output")), HEALTH_OUTPUT_MAX);
        apply(h, 0, bad, false, 3);
        log = json_object_get(h, "Log");
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(log, 4), "Output")), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
        json_decref(h);
}
