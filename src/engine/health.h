/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/*
 * Container healthchecks: docker's State.Health bookkeeping (daemon/health.go's rules), kept apart
 * from the monitor that runs the probes so that it can be tested alone.
 *
 * State.Health is {"Status": "starting"|"healthy"|"unhealthy", "FailingStreak": N, "Log": [...]}, the
 * Log holding the last HEALTH_LOG_MAX results {"Start", "End", "ExitCode", "Output"} with at most
 * HEALTH_OUTPUT_MAX bytes of output each.
 */
#include <jansson.h>
#include <stdbool.h>

#define HEALTH_LOG_MAX 5
#define HEALTH_OUTPUT_MAX 4096

/* State.Health for a (re)started container: "starting", no failures, the old Log kept (as dockerd). */
json_t *health_state_begin(json_t *old);

typedef struct HealthResult {
        int exit_code;          /* the probe's; -1 when it could not run or timed out */
        const char *output;     /* what it printed (cut to HEALTH_OUTPUT_MAX), or why it could not run */
        size_t output_len;
        const char *start, *end; /* RFC 3339 */
        bool in_start_period;   /* the probe began within --health-start-period of the container's start */
} HealthResult;

/*
 * Applies one result to State.Health `h`: success makes it healthy and clears the streak; a failure
 * adds to the streak (unless the container is still "starting" and within its start period), and
 * `retries` failures in a row make it unhealthy.  Returns the new status when it changed (for the
 * "health_status: ..." event), else NULL.
 */
const char *health_state_apply(json_t *h, const HealthResult *res, int retries);
