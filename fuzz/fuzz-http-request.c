/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API server's request parser (http-request.c).  The first byte chooses the piece size (low 4
 * bits, 0: all at once) in which the rest, what a client sent, is offered to the parser and to the
 * chunked body decoder, as the server reads it.  Whole or in pieces, the verdict must be the same;
 * a complete head never extends past the input, every refusal has a status from the documented set
 * and a message, parsed fields stay within their limits, and the decoder never writes more than it
 * reads.  The query helpers run over the target.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-request.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Verdict {
        int r;       /* head length, 0 incomplete, < 0 refused */
        int status;
        int64_t content_length;
        bool chunked, keep_alive, upgrade;
        size_t n_headers;
        int body_r;  /* chunked decoding: 1 ended, 0 more needed, < 0 refused */
        size_t body_used, body_len;
        uint32_t body_hash;
} Verdict;

static uint32_t hash(const char *s, size_t n, uint32_t h)
{
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 16777619u;
        return h;
}

static void check_request(const HttpRequest *q, int r, size_t len)
{
        if ((size_t)r > len || r > HTTPREQ_HEAD_MAX || q->n_headers > HTTPREQ_HEADERS_MAX)
                abort();
        if (!q->method || !q->target || !q->path || q->target[0] != '/' || strlen(q->target) > HTTPREQ_TARGET_MAX)
                abort();
        if (q->chunked && q->content_length >= 0)
                abort();
        for (size_t i = 0; i < q->n_headers; i++)
                if (strpbrk(q->headers[i].value, "\r\n") || strpbrk(q->headers[i].name, "\r\n: "))
                        abort();
        /* the query helpers on what the parser let through */
        free(http_query_get(q->query, "name"));
        free(http_query_get(q->query, "filters"));
}

/* The chunked decoder over `in`, fed `step` bytes at a time (0: all). */
static void decode(const char *in, size_t len, size_t step, Verdict *v)
{
        HttpChunked ch = { 0 };
        char *out = xmalloc(len + 1);
        size_t off = 0, total = 0;
        uint32_t h = 2166136261u;

        v->body_r = 0;
        while (off < len) {
                size_t n = step ? (len - off < step ? len - off : step) : len - off, used = 0, got = 0;
                Error *e = NULL;
                int r = http_chunked_decode(&ch, in + off, n, &used, out, &got, &e);
                if (used > n || got > used)
                        abort();
                if (r < 0) {
                        if (!e || !e->msg || !*e->msg)
                                abort();
                        error_free(e);
                        v->body_r = -1;
                        break;
                }
                if (e)
                        abort();
                h = hash(out, got, h);
                total += got;
                off += used;
                if (r == 1) {
                        v->body_r = 1;
                        break;
                }
                if (used != n) /* "more needed" takes all it was given */
                        abort();
        }
        v->body_used = off;
        v->body_len = total;
        v->body_hash = h;
        free(out);
}

static Verdict run(const char *in, size_t len, size_t step)
{
        Verdict v = { 0 };
        HttpRequest q;
        size_t have = step ? 0 : len;

        for (;;) {
                Error *e = NULL;
                int status = 0;
                v.r = http_request_parse(in, have, &q, &status, &e);
                if (v.r < 0) {
                        static const int ok[] = { 400, 413, 414, 431, 501, 505 };
                        bool known = false;
                        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                                known |= status == ok[i];
                        if (!known || !e || !e->msg || !*e->msg)
                                abort();
                        error_free(e);
                        v.status = status;
                        return v;
                }
                if (e)
                        abort();
                if (v.r > 0)
                        break;
                if (have == len)
                        return v; /* incomplete at the end of the input */
                have = have + step > len ? len : have + step;
        }
        check_request(&q, v.r, have);
        v.content_length = q.content_length;
        v.chunked = q.chunked;
        v.keep_alive = q.keep_alive;
        v.upgrade = q.upgrade;
        v.n_headers = q.n_headers;
        http_request_done(&q);
        decode(in + v.r, len - (size_t)v.r, step, &v);
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 128 * 1024)
                return 0;
        size_t step = data[0] & 0x0f;
        const char *in = (const char *)data + 1;
        size_t len = size - 1;
        Verdict whole = run(in, len, 0);
        Verdict pieces = run(in, len, step ? step : 1);

        if ((whole.r < 0) != (pieces.r < 0) || whole.r != pieces.r)
                abort();
        if (whole.r > 0 && (whole.content_length != pieces.content_length || whole.chunked != pieces.chunked ||
                            whole.keep_alive != pieces.keep_alive || whole.upgrade != pieces.upgrade ||
                            whole.n_headers != pieces.n_headers || whole.body_r != pieces.body_r ||
                            (whole.body_r >= 0 && (whole.body_used != pieces.body_used || whole.body_len != pieces.body_len ||
                                                   whole.body_hash != pieces.body_hash))))
                abort();
        /* the version prefix parser on the start of the input */
        (void)http_api_version(in, len < 8 ? len : 8);
        return 0;
}
