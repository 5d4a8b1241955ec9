/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Container healthchecks: State.Health bookkeeping (health.h). */
#include <string.h>

#include "cleanup.h"
#include "health.h"
#include "util.h"

json_t *health_state_begin(json_t *old)
{
        json_t *log = json_object_get(old, "Log");

        return json_pack("{s:s, s:i, s:o}", "Status", "starting", "FailingStreak", 0, "Log",
                         json_is_array(log) ? json_deep_copy(log) : json_array());
}

static const char *const statuses[] = { "starting", "healthy", "unhealthy" };

/* the interned status name, so that the returned pointer outlives `h`'s strings */
static const char *status_name(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
                if (s && STREQ(s, statuses[i]))
                        return statuses[i];
        return NULL;
}

const char *health_state_apply(json_t *h, const HealthResult *res, int retries)
{
        const char *old = status_name(json_string_value(json_object_get(h, "Status"))), *now = old ? old : "starting";
        json_int_t streak = json_integer_value(json_object_get(h, "FailingStreak"));
        json_t *log = json_object_get(h, "Log");
        size_t len = res->output_len > HEALTH_OUTPUT_MAX ? HEALTH_OUTPUT_MAX : res->output_len, olen;
        /* a container's bytes: invalid UTF-8 becomes U+FFFD, as Go's encoder writes it */
        _cleanup_free_ char *out = utf8_sanitize(res->output ? res->output : "", res->output ? len : 0, &olen);

        if (res->exit_code == 0) {
                streak = 0;
                now = "healthy";
        } else if (!(STREQ(now, "starting") && res->in_start_period)) {
                streak++;
                if (streak >= (retries > 0 ? retries : 1))
                        now = "unhealthy";
        }
        if (!json_is_array(log)) {
                log = json_array();
                json_object_set_new(h, "Log", log);
        }
        json_array_append_new(log, json_pack("{s:s, s:s, s:i, s:s%}", "Start", res->start ?: "", "End", res->end ?: "",
                                             "ExitCode", res->exit_code, "Output", out, olen));
        while (json_array_size(log) > HEALTH_LOG_MAX)
                json_array_remove(log, 0);
        json_object_set_new(h, "Status", json_string(now));
        json_object_set_new(h, "FailingStreak", json_integer(streak));
        return old == now || (old && STREQ(old, now)) ? NULL : status_name(now);
}
