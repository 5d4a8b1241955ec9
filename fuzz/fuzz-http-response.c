/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The splunk driver's HTTP response parser (http-client.c).  The first byte chooses how the rest is fed
 * (low 4 bits: piece size, 0 for all at once; 0x10: the request was HEAD); the rest is what a server
 * sent.  Fed whole and in pieces, the parser must reach the same verdict, never take more than it
 * was given, keep the body within its limit and NUL-terminated, and explain every refusal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-client.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX 1024

typedef struct Verdict {
        int r; /* 1 complete, 0 needs more (then EOF decides: 2 complete at EOF), < 0 refused */
        size_t used;
        int status;
        size_t body_len;
        bool keep_alive;
        uint32_t body_hash;
} Verdict;

static uint32_t hash(const char *s, size_t n)
{
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 16777619u;
        return h;
}

static Verdict run(const char *in, size_t len, size_t step, bool head)
{
        HttpParser p;
        Verdict v = { 0 };
        size_t off = 0;

        http_parser_init(&p, head, BODY_MAX);
        for (;;) {
                size_t n = step ? (len - off < step ? len - off : step) : len - off, used = (size_t)-1;
                Error *e = NULL;
                v.r = http_parser_feed(&p, in + off, n, &used, &e);
                if (v.r < 0) {
                        if (!e || !e->msg || !*e->msg || v.r != -e->errnum)
                                abort();
                        error_free(e);
                        break;
                }
                if (e || used > n)
                        abort();
                off += used;
                if (v.r == 1)
                        break;
                if (used != n) /* "needs more" takes everything it was given */
                        abort();
                if (off == len) {
                        v.r = http_parser_eof(&p, &e);
                        if (v.r < 0) {
                                if (!e || !e->msg || !*e->msg)
                                        abort();
                                error_free(e);
                        } else
                                v.r = 2;
                        break;
                }
        }
        v.used = off;
        if (v.r > 0) {
                HttpResponse resp;
                http_parser_take(&p, &resp);
                if (resp.status < 200 || resp.status > 599 || resp.body_len > BODY_MAX ||
                    (resp.body && resp.body[resp.body_len] != '\0') || (!resp.body && resp.body_len) ||
                    strlen(resp.reason) >= sizeof(resp.reason))
                        abort();
                if (v.r == 2 && resp.keep_alive) /* a body ended by the close cannot keep the connection */
                        abort();
                v.status = resp.status;
                v.body_len = resp.body_len;
                v.keep_alive = resp.keep_alive;
                v.body_hash = hash(resp.body ? resp.body : "", resp.body_len);
                http_response_done(&resp);
        }
        http_parser_done(&p);
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 256 * 1024)
                return 0;
        size_t step = data[0] & 0x0f;
        bool head = data[0] & 0x10;
        const char *in = (const char *)data + 1;
        size_t len = size - 1;
        Verdict whole = run(in, len, 0, head);
        Verdict pieces = run(in, len, step ? step : 1, head);

        /* The same answer however the bytes arrive (errors may differ in which check fires first, but not
         * in whether the response is refused). */
        if ((whole.r < 0) != (pieces.r < 0))
                abort();
        if (whole.r > 0 && (whole.r != pieces.r || whole.used != pieces.used || whole.status != pieces.status ||
                            whole.body_len != pieces.body_len || whole.keep_alive != pieces.keep_alive ||
                            whole.body_hash != pieces.body_hash))
                abort();
        return 0;
}
