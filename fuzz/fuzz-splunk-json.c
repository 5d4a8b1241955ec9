/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The splunk driver's JSON encoders (logdriver-splunk.c): a line as Go's json.Marshal quotes it, and
 * the json format's check-and-compact of a line.  Whatever the bytes, the quoted string must be one
 * valid JSON string of valid UTF-8 (jansson reads it back), compaction must be idempotent, and what
 * it accepts jansson must accept too (but for lone \u surrogates, which Go keeps and jansson refuses, and
 * numbers beyond jansson's ranges).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logdriver-splunk.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *in = (const char *)data;
        size_t qlen, clen, c2len;
        json_error_t je;
        json_t *v;

        if (size > 256 * 1024)
                return 0;
        _cleanup_free_ char *q = splunk_json_quote(in, size, &qlen);
        if (!q || q[0] != '"' || q[qlen - 1] != '"' || strlen(q) != qlen || strpbrk(q, "<>&\n\r\t"))
                abort();
        v = json_loadb(q, qlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(v))
                abort();
        /* Valid UTF-8 without U+FFFD comes back unchanged. */
        if (!memmem(q, qlen, "\\ufffd", 6) && (json_string_length(v) != size || memcmp(json_string_value(v), in, size)))
                abort();
        json_decref(v);

        _cleanup_free_ char *c = splunk_json_compact(in, size, &clen);
        if (!c)
                return 0;
        if (strlen(c) != clen || clen > size * 6 + 1 || strpbrk(c, "<>&\n\r\t"))
                abort();
        _cleanup_free_ char *c2 = splunk_json_compact(c, clen, &c2len);
        if (!c2 || c2len != clen || memcmp(c, c2, clen) != 0)
                abort();
        if (!strstr(c, "\\u") || !strpbrk(c, "dD")) { /* no possible surrogate escape */
                /* jansson refuses numbers out of its ranges, which JSON's grammar (and Go) allow. */
                v = json_loadb(c, clen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
                if (!v && !strstr(je.text, "overflow") && !strstr(je.text, "too big"))
                        abort();
                json_decref(v);
        }
        return 0;
}
