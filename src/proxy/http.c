/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "util.h"

#define CHUNK_LINE_MAX    1024 /* a chunk extension */
#define CHUNK_TRAILER_MAX (16 * 1024)

size_t http_head_end(const char *p, size_t n)
{
        /* A bare LF pair ends the head too, so that http_parse_* can refuse it instead of waiting. */
        for (size_t i = 0; i + 1 < n; i++) {
                const char *q = memchr(p + i, '\n', n - i);
                if (!q)
                        return 0;
                i = (size_t)(q - p);
                if (i + 1 < n && p[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

static bool is_tchar(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return true;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
                return true;
        return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool name_is(const char *name, size_t len, const char *want)
{
        return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static bool parse_length(const char *v, size_t len, uint64_t *ret)
{
        uint64_t x = 0;

        if (len == 0 || len > 18)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return false;
                x = x * 10 + (uint64_t)(v[i] - '0');
        }
        *ret = x;
        return true;
}

/*
 * The header lines from p (just after the start line) to the blank line at the end of p[0, n).
 * Fills the fields of h common to requests and responses.
 */
static int parse_headers(const char *p, const char *end, HttpHead *h, bool *has_cl, bool *has_te,
                         bool *keep_alive, const char **reason)
{
        unsigned count = 0;

        for (;;) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                const char *colon, *v, *ve;
                size_t nlen;

                if (!eol || eol == p || eol[-1] != '\r')
                        return *reason = "bare LF in the head", -EPROTO;
                if (eol == p + 1)
                        return eol + 1 == end ? 0 : (*reason = "data after the head", -EPROTO);
                if (++count > HTTP_HEADERS_MAX)
                        return *reason = "too many header fields", -EPROTO;
                if (*p == ' ' || *p == '\t')
                        return *reason = "obsolete line folding", -EPROTO;
                colon = memchr(p, ':', (size_t)(eol - p));
                if (!colon || colon == p)
                        return *reason = "a header line without a name", -EPROTO;
                for (const char *q = p; q < colon; q++)
                        if (!is_tchar((unsigned char)*q))
                                return *reason = "a bad character in a header name", -EPROTO;
                nlen = (size_t)(colon - p);
                v = colon + 1;
                ve = eol - 1;
                for (const char *q = v; q < ve; q++) {
                        unsigned char c = (unsigned char)*q;
                        if ((c < 0x20 && c != '\t') || c == 0x7f)
                                return *reason = "a control character in a header value", -EPROTO;
                }
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;

                if (name_is(p, nlen, "content-length")) {
                        uint64_t x;
                        if (!parse_length(v, (size_t)(ve - v), &x))
                                return *reason = "a bad Content-Length", -EPROTO;
                        if (*has_cl && x != h->content_length)
                                return *reason = "differing Content-Length headers", -EPROTO;
                        *has_cl = true;
                        h->content_length = x;
                } else if (name_is(p, nlen, "transfer-encoding")) {
                        if (*has_te || (size_t)(ve - v) != 7 || strncasecmp(v, "chunked", 7) != 0)
                                return *reason = "a Transfer-Encoding other than one \"chunked\"", -EPROTO;
                        *has_te = true;
                } else if (name_is(p, nlen, "connection")) {
                        if (http_list_has(v, (size_t)(ve - v), "close"))
                                h->conn_close = true;
                        if (http_list_has(v, (size_t)(ve - v), "keep-alive"))
                                *keep_alive = true;
                } else if (name_is(p, nlen, "upgrade")) {
                        h->upgrade = true;
                } else if (name_is(p, nlen, "content-type")) {
                        size_t l = (size_t)(ve - v);
                        if ((l >= 30 && strncasecmp(v, "application/vnd.docker.raw-stream", 30) == 0) ||
                            (l >= 38 &&
                             strncasecmp(v, "application/vnd.docker.multiplexed-stream", 38) == 0))
                                h->raw_stream = true;
                } else if (name_is(p, nlen, "expect")) {
                        if ((size_t)(ve - v) == 12 && strncasecmp(v, "100-continue", 12) == 0)
                                h->expect_continue = true;
                }
                p = eol + 1;
        }
}

static int parse_version(const char *p, size_t n, int *minor)
{
        if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
                return -EPROTO;
        *minor = p[7] - '0';
        return 0;
}

int http_parse_request(const char *p, size_t n, HttpHead *h, const char **reason)
{
        const char *end = p + n, *eol, *sp1, *sp2;
        bool has_cl = false, has_te = false, keep_alive = false;

        *h = (HttpHead){ 0 };
        eol = memchr(p, '\n', n);
        if (!eol || eol == p || eol[-1] != '\r')
                return *reason = "a bad request line", 400;
        sp1 = memchr(p, ' ', (size_t)(eol - p));
        if (!sp1 || sp1 == p || sp1 - p > 16)
                return *reason = "a bad method", 400;
        for (const char *q = p; q < sp1; q++)
                if (!is_tchar((unsigned char)*q))
                        return *reason = "a bad method", 400;
        sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
        if (!sp2 || sp2 == sp1 + 1)
                return *reason = "a bad request line", 400;
        if (sp2 - sp1 - 1 > HTTP_TARGET_MAX)
                return *reason = "the request target is too long", 414;
        for (const char *q = sp1 + 1; q < sp2; q++)
                if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                        return *reason = "a bad byte in the request target", 400;
        if (parse_version(sp2 + 1, (size_t)(eol - 1 - sp2 - 1), &h->minor) < 0)
                return *reason = "not HTTP/1.0 or HTTP/1.1", 505;
        h->method = p;
        h->method_len = (size_t)(sp1 - p);
        h->target = sp1 + 1;
        h->target_len = (size_t)(sp2 - sp1 - 1);
        if (parse_headers(eol + 1, end, h, &has_cl, &has_te, &keep_alive, reason) < 0)
                return 400;
        if (has_cl && has_te)
                return *reason = "both Content-Length and Transfer-Encoding", 400;
        if (has_te && h->minor == 0)
                return *reason = "Transfer-Encoding in an HTTP/1.0 request", 400;
        if (h->minor == 0 && !keep_alive)
                h->conn_close = true;
        h->framing = has_te                        ? HTTP_BODY_CHUNKED
                     : has_cl && h->content_length ? HTTP_BODY_LENGTH
                                                   : HTTP_BODY_NONE;
        return 0;
}

int http_parse_response(const char *p, size_t n, bool head_request, HttpHead *h, const char **reason)
{
        const char *end = p + n, *eol;
        bool has_cl = false, has_te = false, keep_alive = false;
        int st = 0;

        *h = (HttpHead){ 0 };
        eol = memchr(p, '\n', n);
        if (!eol || eol - p < 13 || eol[-1] != '\r')
                return *reason = "a bad status line", -EPROTO;
        if (parse_version(p, 8, &h->minor) < 0 || p[8] != ' ')
                return *reason = "a bad status line version", -EPROTO;
        for (int i = 9; i < 12; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return *reason = "a bad status code", -EPROTO;
                st = st * 10 + (p[i] - '0');
        }
        if (st < 100 || (p[12] != ' ' && p[12] != '\r'))
                return *reason = "a bad status code", -EPROTO;
        h->status = st;
        if (parse_headers(eol + 1, end, h, &has_cl, &has_te, &keep_alive, reason) < 0)
                return -EPROTO;
        if (has_cl && has_te)
                return *reason = "both Content-Length and Transfer-Encoding", -EPROTO;
        if (h->minor == 0 && !keep_alive)
                h->conn_close = true;
        if (head_request || st < 200 || st == 204 || st == 304)
                h->framing = HTTP_BODY_NONE;
        else if (has_te)
                h->framing = HTTP_BODY_CHUNKED;
        else if (has_cl)
                h->framing = h->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
        else
                h->framing = HTTP_BODY_CLOSE;
        return 0;
}

long chunk_advance(ChunkReader *c, const char *p, size_t n, void (*put)(void *data, const char *p, size_t n),
                   void *data)
{
        size_t i = 0;

        while (i < n && c->phase != CHUNK_DONE) {
                char ch = p[i];
                switch (c->phase) {
                case CHUNK_SIZE:
                        if (hex_value(ch) >= 0) {
                                if (++c->digits > 15)
                                        return -EPROTO;
                                c->left = c->left * 16 + (uint64_t)hex_value(ch);
                        } else if (c->digits == 0) {
                                return -EPROTO;
                        } else if (ch == ';' || ch == ' ' || ch == '\t') {
                                c->phase = CHUNK_EXT;
                                c->line = 0;
                        } else if (ch == '\r') {
                                c->phase = CHUNK_SIZE_LF;
                        } else {
                                return -EPROTO;
                        }
                        i++;
                        break;
                case CHUNK_EXT:
                        if (ch == '\r')
                                c->phase = CHUNK_SIZE_LF;
                        else if (ch == '\n' || ((unsigned char)ch < 0x20 && ch != '\t') ||
                                 ++c->line > CHUNK_LINE_MAX)
                                return -EPROTO;
                        i++;
                        break;
                case CHUNK_SIZE_LF:
                        if (ch != '\n')
                                return -EPROTO;
                        i++;
                        c->digits = 0;
                        c->phase = c->left ? CHUNK_DATA : CHUNK_TRAILER;
                        c->trailers = 0;
                        break;
                case CHUNK_DATA: {
                        size_t k = n - i;
                        if (k > c->left)
                                k = (size_t)c->left;
                        if (put)
                                put(data, p + i, k);
                        i += k;
                        c->left -= k;
                        if (!c->left)
                                c->phase = CHUNK_DATA_CR;
                        break;
                }
                case CHUNK_DATA_CR:
                        if (ch != '\r')
                                return -EPROTO;
                        c->phase = CHUNK_DATA_LF;
                        i++;
                        break;
                case CHUNK_DATA_LF:
                        if (ch != '\n')
                                return -EPROTO;
                        c->phase = CHUNK_SIZE;
                        i++;
                        break;
                case CHUNK_TRAILER:
                        if (ch == '\r') {
                                c->phase = CHUNK_END_LF;
                        } else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == ':') {
                                return -EPROTO;
                        } else {
                                c->phase = CHUNK_TRAILER_LINE;
                                c->line = 0;
                        }
                        i++;
                        break;
                case CHUNK_TRAILER_LINE:
                        if (ch == '\r')
                                c->phase = CHUNK_TRAILER_LF;
                        else if (ch == '\n' || ++c->line > CHUNK_LINE_MAX)
                                return -EPROTO;
                        if (++c->trailers > CHUNK_TRAILER_MAX)
                                return -EPROTO;
                        i++;
                        break;
                case CHUNK_TRAILER_LF:
                        if (ch != '\n')
                                return -EPROTO;
                        c->phase = CHUNK_TRAILER;
                        i++;
                        break;
                case CHUNK_END_LF:
                        if (ch != '\n')
                                return -EPROTO;
                        c->phase = CHUNK_DONE;
                        i++;
                        break;
                case CHUNK_DONE:
                default:
                        return -EPROTO;
                }
        }
        return (long)i;
}
