/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The API server's request parser (http-request.h): strict, bounded, no allocation per byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-request.h"
#include "util.h"

static bool is_tchar(unsigned char c)
{
        /* RFC 9110 token characters */
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int fail(int *status, int code, Error **err, const char *msg)
{
        *status = code;
        return error_setx(err, EBADMSG, "%s", msg);
}

/* Finds the end of the head ("\r\n\r\n", or "\n\n" which is refused later as a bare LF). */
static const char *head_end(const char *buf, size_t len)
{
        for (size_t i = 0; i + 1 < len; i++) {
                if (buf[i] != '\n')
                        continue;
                if (buf[i + 1] == '\n')
                        return buf + i + 2;
                if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
                        return buf + i + 3;
        }
        return NULL;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c |= 0x20;
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *http_percent_decode(const char *s, size_t n, bool plus_space)
{
        char *out = xmalloc(n + 1), *o = out;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '%') {
                        int h, l;
                        if (i + 2 >= n) {
                                free(out);
                                return NULL;
                        }
                        h = hexval(s[i + 1]);
                        l = hexval(s[i + 2]);
                        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                                free(out);
                                return NULL;
                        }
                        c = (char)(h << 4 | l);
                        i += 2;
                } else if (c == '+' && plus_space) {
                        c = ' ';
                } else if (c == '\0') {
                        free(out);
                        return NULL;
                }
                *o++ = c;
        }
        *o = '\0';
        return out;
}

/* Calls fn for each value of `key` in the query (decoded); stops when fn returns true. */
static void query_each(const char *query, const char *key, bool (*fn)(void *ud, char *value), void *ud)
{
        size_t klen = strlen(key);
        const char *p = query;

        while (p && *p) {
                const char *end = strchr(p, '&'), *eq;
                size_t n = end ? (size_t)(end - p) : strlen(p);
                eq = memchr(p, '=', n);
                size_t name_len = eq ? (size_t)(eq - p) : n;
                _cleanup_free_ char *name = http_percent_decode(p, name_len, true);
                if (name && strlen(name) == klen && memcmp(name, key, klen) == 0 &&
                    fn(ud, eq ? http_percent_decode(eq + 1, n - name_len - 1, true) : xstrdup("")))
                        return;
                p = end ? end + 1 : NULL;
        }
}

static bool take_first(void *ud, char *value)
{
        *(char **)ud = value;
        return true;
}

char *http_query_get(const char *query, const char *key)
{
        char *v = NULL;
        query_each(query, key, take_first, &v);
        return v;
}

static bool take_all(void *ud, char *value)
{
        if (value)
                strv_push(ud, value);
        free(value);
        return false;
}

char **http_query_get_all(const char *query, const char *key)
{
        char **v = NULL;
        query_each(query, key, take_all, &v);
        return v;
}

int http_api_version(const char *s, size_t n)
{
        size_t i = 0, a = 0, b = 0;
        int major = 0, minor = 0;

        while (i < n && s[i] >= '0' && s[i] <= '9' && a < 3)
                major = major * 10 + (s[i++] - '0'), a++;
        if (a == 0 || i >= n || s[i] != '.')
                return -1;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9' && b < 2)
                minor = minor * 10 + (s[i++] - '0'), b++;
        if (b == 0 || i != n)
                return -1;
        return major * 100 + minor;
}

static bool value_ok(const char *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)v[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return false;
        }
        return true;
}

/* Does a comma-separated header value hold `token` (case-insensitive)? */
static bool list_has(const char *v, const char *token)
{
        size_t tl = strlen(token);
        while (*v) {
                v += strspn(v, " \t,");
                size_t n = strcspn(v, ",");
                size_t m = n;
                while (m && (v[m - 1] == ' ' || v[m - 1] == '\t'))
                        m--;
                if (m == tl && strncasecmp(v, token, tl) == 0)
                        return true;
                v += n;
        }
        return false;
}

int http_request_parse(const char *buf, size_t len, HttpRequest *req, int *status, Error **err)
{
        static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS" };
        const char *end = head_end(buf, len);
        char *p, *line, *next, *sp1, *sp2, *q;
        size_t head_len;
        bool have_cl = false;

        memset(req, 0, sizeof(*req));
        req->content_length = -1;
        if (!end) {
                if (len >= HTTPREQ_HEAD_MAX)
                        return fail(status, 431, err, "the request head is larger than 32 KiB");
                /* a request line that cannot be one: fail early rather than wait for the cap */
                for (size_t i = 0; i < len && buf[i] != '\r' && buf[i] != '\n'; i++)
                        if (buf[i] == '\0')
                                return fail(status, 400, err, "a NUL byte in the request line");
                return 0;
        }
        head_len = (size_t)(end - buf);
        if (head_len > HTTPREQ_HEAD_MAX)
                return fail(status, 431, err, "the request head is larger than 32 KiB");
        if (memchr(buf, '\0', head_len))
                return fail(status, 400, err, "a NUL byte in the request head");
        req->head = xmalloc(head_len + 1);
        memcpy(req->head, buf, head_len);
        req->head[head_len] = '\0';

        /* the request line */
        line = req->head;
        next = strstr(line, "\r\n");
        if (!next || memchr(line, '\n', (size_t)(next - line))) {
                http_request_done(req);
                return fail(status, 400, err, "malformed request line (lines end with CRLF)");
        }
        *next = '\0';
        next += 2;
        sp1 = strchr(line, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp2 == sp1 + 1) {
                http_request_done(req);
                return fail(status, 400, err, "malformed request line (METHOD TARGET HTTP/1.x)");
        }
        *sp1 = *sp2 = '\0';
        req->method = line;
        req->target = sp1 + 1;
        {
                size_t i;
                for (i = 0; i < ELEMENTSOF(methods); i++)
                        if (STREQ(req->method, methods[i]))
                                break;
                if (i == ELEMENTSOF(methods)) {
                        for (const char *m = req->method; *m; m++)
                                if (!is_tchar((unsigned char)*m)) {
                                        http_request_done(req);
                                        return fail(status, 400, err, "malformed method");
                                }
                        http_request_done(req);
                        return fail(status, 501, err, "method not implemented");
                }
        }
        if (STREQ(sp2 + 1, "HTTP/1.1"))
                req->minor = 1;
        else if (STREQ(sp2 + 1, "HTTP/1.0"))
                req->minor = 0;
        else {
                bool looks = strncmp(sp2 + 1, "HTTP/", 5) == 0;
                http_request_done(req);
                return fail(status, looks ? 505 : 400, err, looks ? "HTTP version not supported" : "malformed HTTP version");
        }
        if (strlen(req->target) > HTTPREQ_TARGET_MAX) {
                http_request_done(req);
                return fail(status, 414, err, "the request target is longer than 8192 bytes");
        }
        if (req->target[0] != '/') {
                http_request_done(req);
                return fail(status, 400, err, "the request target must be an absolute path");
        }
        for (const char *t = req->target; *t; t++)
                if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
                        http_request_done(req);
                        return fail(status, 400, err, "a control or non-ASCII byte in the request target");
                }
        q = strchr(req->target, '?');
        req->query = q ? q + 1 : "";
        {
                size_t plen = q ? (size_t)(q - req->target) : strlen(req->target);
                char *hash = memchr(req->target, '#', plen);
                if (hash)
                        plen = (size_t)(hash - req->target);
                req->path = http_percent_decode(req->target, plen, false);
                if (!req->path) {
                        http_request_done(req);
                        return fail(status, 400, err, "a bad percent-escape in the request path");
                }
        }

        /* headers */
        for (p = next; *p; p = next) {
                char *colon, *v, *ve;
                next = strstr(p, "\r\n");
                if (!next || memchr(p, '\n', (size_t)(next - p)) || memchr(p, '\r', (size_t)(next - p))) {
                        http_request_done(req);
                        return fail(status, 400, err, "malformed header line (lines end with CRLF)");
                }
                *next = '\0';
                next += 2;
                if (*p == '\0')
                        break; /* the blank line */
                if (*p == ' ' || *p == '\t') {
                        http_request_done(req);
                        return fail(status, 400, err, "obsolete header line folding");
                }
                colon = strchr(p, ':');
                if (!colon || colon == p) {
                        http_request_done(req);
                        return fail(status, 400, err, "malformed header line (no name)");
                }
                for (char *c = p; c < colon; c++)
                        if (!is_tchar((unsigned char)*c)) {
                                http_request_done(req);
                                return fail(status, 400, err, "a bad character in a header name");
                        }
                *colon = '\0';
                v = colon + 1;
                v += strspn(v, " \t");
                ve = v + strlen(v);
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        *--ve = '\0';
                if (!value_ok(v, (size_t)(ve - v))) {
                        http_request_done(req);
                        return fail(status, 400, err, "a control character in a header value");
                }
                if (req->n_headers == HTTPREQ_HEADERS_MAX) {
                        http_request_done(req);
                        return fail(status, 431, err, "more than 64 headers");
                }
                req->headers[req->n_headers].name = p;
                req->headers[req->n_headers].value = v;
                req->n_headers++;
                if (strcasecmp(p, "Content-Length") == 0) {
                        int64_t n = 0;
                        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 15) {
                                http_request_done(req);
                                return fail(status, 400, err, "a bad Content-Length");
                        }
                        n = strtoll(v, NULL, 10);
                        if (have_cl && n != req->content_length) {
                                http_request_done(req);
                                return fail(status, 400, err, "conflicting Content-Length headers");
                        }
                        have_cl = true;
                        req->content_length = n;
                } else if (strcasecmp(p, "Transfer-Encoding") == 0) {
                        if (strcasecmp(v, "chunked") != 0 || req->chunked) {
                                http_request_done(req);
                                return fail(status, 501, err, "only Transfer-Encoding: chunked is accepted");
                        }
                        req->chunked = true;
                } else if (strcasecmp(p, "Connection") == 0) {
                        if (list_has(v, "upgrade"))
                                req->upgrade = true;
                }
        }
        if (req->chunked && have_cl) {
                /* RFC 9112 6.1: both is how requests are smuggled past a proxy */
                http_request_done(req);
                return fail(status, 400, err, "both Content-Length and Transfer-Encoding");
        }
        if (req->chunked && req->minor == 0) {
                http_request_done(req);
                return fail(status, 400, err, "chunked coding in an HTTP/1.0 request");
        }
        {
                const char *c = http_request_header(req, "Connection");
                req->keep_alive = req->minor == 1 ? !(c && list_has(c, "close")) : (c && list_has(c, "keep-alive"));
        }
        if (req->minor == 1 && !http_request_header(req, "Host")) {
                http_request_done(req);
                return fail(status, 400, err, "an HTTP/1.1 request without Host");
        }
        return (int)head_len;
}

void http_request_done(HttpRequest *r)
{
        free(r->head);
        free(r->path);
        memset(r, 0, sizeof(*r));
        r->content_length = -1;
}

const char *http_request_header(const HttpRequest *r, const char *name)
{
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

enum { CH_SIZE, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_DONE };

/* Takes one line into c->line (without CRLF); 1 when complete, 0 when more is needed, <0 too long/bare LF. */
static int take_line(HttpChunked *c, const char *in, size_t len, size_t *i)
{
        while (*i < len) {
                char ch = in[(*i)++];
                if (ch == '\n') {
                        if (c->line_len == 0 || c->line[c->line_len - 1] != '\r')
                                return -EBADMSG;
                        c->line[--c->line_len] = '\0';
                        return 1;
                }
                if (c->line_len + 2 > sizeof(c->line))
                        return -E2BIG;
                c->line[c->line_len++] = ch;
        }
        return 0;
}

int http_chunked_decode(HttpChunked *c, const char *in, size_t len, size_t *consumed, char *out, size_t *out_len,
                        Error **err)
{
        size_t i = 0, o = 0;
        int r;

        while (i < len && c->state != CH_DONE) {
                switch (c->state) {
                case CH_SIZE: {
                        uint64_t n = 0;
                        size_t k = 0;
                        r = take_line(c, in, len, &i);
                        if (r < 0)
                                goto bad;
                        if (r == 0)
                                break;
                        for (; c->line[k] && hexval(c->line[k]) >= 0; k++) {
                                if (k >= 15)
                                        goto bad; /* more than 2^60 */
                                n = n << 4 | (uint64_t)hexval(c->line[k]);
                        }
                        if (k == 0 || (c->line[k] && c->line[k] != ';' && c->line[k] != ' ' && c->line[k] != '\t'))
                                goto bad;
                        if (!value_ok(c->line, c->line_len))
                                goto bad;
                        c->line_len = 0;
                        c->left = n;
                        c->state = n ? CH_DATA : CH_TRAILER;
                        break;
                }
                case CH_DATA: {
                        size_t n = len - i;
                        if (n > c->left)
                                n = (size_t)c->left;
                        memmove(out + o, in + i, n);
                        o += n;
                        i += n;
                        c->left -= n;
                        if (c->left == 0)
                                c->state = CH_DATA_CR;
                        break;
                }
                case CH_DATA_CR:
                        if (in[i++] != '\r')
                                goto bad;
                        c->state = CH_DATA_LF;
                        break;
                case CH_DATA_LF:
                        if (in[i++] != '\n')
                                goto bad;
                        c->state = CH_SIZE;
                        break;
                case CH_TRAILER: {
                        size_t before = i;
                        r = take_line(c, in, len, &i);
                        c->trailer_bytes += i - before;
                        if (r < 0 || c->trailer_bytes > HTTPREQ_HEAD_MAX)
                                goto bad;
                        if (r == 0)
                                break;
                        if (c->line_len == 0)
                                c->state = CH_DONE; /* the blank line after the trailers */
                        else if (!value_ok(c->line, c->line_len))
                                goto bad;
                        c->line_len = 0;
                        break;
                }
                default:
                        goto bad;
                }
        }
        *consumed = i;
        *out_len = o;
        return c->state == CH_DONE ? 1 : 0;
bad:
        *consumed = i;
        *out_len = o;
        return error_setx(err, EBADMSG, "malformed chunked request body");
}
