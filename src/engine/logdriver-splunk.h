/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The splunk driver's encoding, exposed for the unit tests and the fuzzer (the driver itself is
 * log_driver_splunk, logdriver.h).  Every string is encoded as Go's encoding/json writes it, since
 * docker's driver marshals its events with it: "<", ">", "&" as \u003c \u003e \u0026, U+2028 and
 * U+2029 escaped, each byte of invalid UTF-8 as \ufffd, other control characters as \u00XX.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "logdriver.h"

/* The JSON string (quotes included) of len bytes of s.  Returns a NUL-terminated string. */
char *splunk_json_quote(const char *s, size_t len, size_t *ret_len);

/*
 * When s (len bytes) is one JSON value, surrounding whitespace allowed, returns it compacted as Go's
 * json.Compact with HTML escaping writes it (numbers kept as written); else NULL: invalid JSON, nesting
 * deeper than 10000 (Go's limit), or invalid UTF-8 (Go passes that through; we send it as a string).
 */
char *splunk_json_compact(const char *s, size_t len, size_t *ret_len);

/* The "time" of an event as docker writes it: fmt "%f" of the Unix time in seconds as a float64. */
void splunk_time(const struct timespec *ts, char out[32]);

/*
 * One message as the driver posts it: {"event":...,"time":"...","host":...,...}.  NULL when the
 * format skips it (raw: an empty or white-space-only line, as docker does).
 */
char *splunk_encode(LogDriver *d, const LogMsg *m, size_t *ret_len);

/* What the driver holds unsent, and how many messages it has dropped (buffer full, or unsent at close). */
size_t splunk_held(LogDriver *d);
uint64_t splunk_dropped(LogDriver *d);
