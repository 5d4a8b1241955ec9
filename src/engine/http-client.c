/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The splunk driver's HTTP/1.1 client (http-client.h): URL parsing, request heads, a strict
 * incremental response parser (RFC 9112 framing: Content-Length, chunked, close-delimited), and one
 * keep-alive connection over netconn.  Every size the server controls is bounded: the head and the
 * trailers at HTTP_HEAD_MAX, a chunk-size line at HTTP_LINE_MAX, the body at the caller's limit.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http-client.h"
#include "util.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define INTERIM_MAX 8 /* 1xx responses before the real one */

/* ================================================================ URLs */

static bool is_host_char(char c)
{
        return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

void http_url_free(HttpUrl *u)
{
        if (!u)
                return;
        free(u->host);
        free(u->port);
        free(u->authority);
        free(u->path);
        *u = (HttpUrl){ 0 };
}

int http_url_parse(const char *s, HttpUrl *ret, Error **err)
{
        const char *a, *end, *host_end, *port = NULL;
        HttpUrl u = { 0 };
        size_t host_len;

        if (str_has_prefix(s, "http://"))
                a = s + 7;
        else if (str_has_prefix(s, "https://")) {
                a = s + 8;
                u.tls = true;
        } else
                return error_setx(err, EINVAL, "URL '%s': the scheme must be http or https", s);
        end = a + strcspn(a, "/?#");
        if (strchr(end, '#'))
                return error_setx(err, EINVAL, "URL '%s': a fragment (#) is not allowed", s);
        if (memchr(a, '@', (size_t)(end - a)))
                return error_setx(err, EINVAL, "URL '%s': user information (user@) is not supported", s);
        if (*a == '[') {
                const char *close = memchr(a, ']', (size_t)(end - a));
                if (!close || close == a + 1)
                        return error_setx(err, EINVAL, "URL '%s': an IPv6 address needs its closing ']'", s);
                for (const char *q = a + 1; q < close; q++)
                        if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                                return error_setx(err, EINVAL, "URL '%s': '%c' in an IPv6 address", s, *q);
                host_end = close + 1;
                host_len = (size_t)(close - a - 1);
                if (host_end < end && *host_end != ':')
                        return error_setx(err, EINVAL, "URL '%s': junk after the IPv6 address", s);
        } else {
                host_end = a;
                while (host_end < end && *host_end != ':') {
                        if (!is_host_char(*host_end))
                                return error_setx(err, EINVAL, "URL '%s': '%c' in the host name", s, *host_end);
                        host_end++;
                }
                host_len = (size_t)(host_end - a);
                if (host_len == 0)
                        return error_setx(err, EINVAL, "URL '%s': no host", s);
        }
        if (host_end < end) { /* ":port" */
                uint64_t n = 0;
                port = host_end + 1;
                if (port == end || end - port > 5)
                        return error_setx(err, EINVAL, "URL '%s': invalid port", s);
                for (const char *q = port; q < end; q++) {
                        if (!isdigit((unsigned char)*q))
                                return error_setx(err, EINVAL, "URL '%s': invalid port", s);
                        n = n * 10 + (uint64_t)(*q - '0');
                }
                if (n < 1 || n > 65535)
                        return error_setx(err, EINVAL, "URL '%s': port %" PRIu64 " is out of range (1-65535)", s, n);
        }
        u.host = xstrndup(*a == '[' ? a + 1 : a, host_len);
        u.port = port ? xstrndup(port, (size_t)(end - port)) : xstrdup(u.tls ? "443" : "80");
        u.authority = xstrndup(a, (size_t)(end - a));
        u.path = xstrdup(end);
        for (const char *q = u.path; *q; q++)
                if ((unsigned char)*q <= ' ' || *q == 0x7f) {
                        http_url_free(&u);
                        return error_setx(err, EINVAL, "URL '%s': a space or control character in the path", s);
                }
        *ret = u;
        return 0;
}

/* ================================================================ requests */

bool http_header_value_valid(const char *s)
{
        for (; *s; s++)
                if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
                        return false;
        return true;
}

char *http_request_head(const char *method, const char *authority, const char *target, const HttpHeader *headers,
                        size_t n_headers, int64_t body_len, size_t *ret_len)
{
        size_t len = strlen(method) + strlen(target) + strlen(authority) + 64, off;
        char *out;

        for (size_t i = 0; i < n_headers; i++)
                len += strlen(headers[i].name) + strlen(headers[i].value) + 4;
        out = xmalloc(len);
        off = (size_t)snprintf(out, len, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, authority);
        for (size_t i = 0; i < n_headers; i++)
                off += (size_t)snprintf(out + off, len - off, "%s: %s\r\n", headers[i].name, headers[i].value);
        if (body_len >= 0)
                off += (size_t)snprintf(out + off, len - off, "Content-Length: %" PRId64 "\r\n", body_len);
        off += (size_t)snprintf(out + off, len - off, "\r\n");
        if (ret_len)
                *ret_len = off;
        return out;
}

/* ================================================================ the response parser */

void http_response_done(HttpResponse *r)
{
        if (!r)
                return;
        free(r->body);
        *r = (HttpResponse){ 0 };
}

void http_parser_init(HttpParser *p, bool head_request, size_t body_max)
{
        *p = (HttpParser){ .state = HP_HEAD, .head_request = head_request, .body_max = body_max };
}

void http_parser_done(HttpParser *p)
{
        free(p->buf);
        http_response_done(&p->resp);
        http_parser_init(p, p->head_request, p->body_max);
}

void http_parser_take(HttpParser *p, HttpResponse *ret)
{
        *ret = p->resp;
        p->resp = (HttpResponse){ 0 };
}

static bool is_tchar(unsigned char c)
{
        return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_field_char(unsigned char c)
{
        return c == '\t' || (c >= ' ' && c != 0x7f);
}

/* Appends to the body, within body_max. */
static int body_append(HttpParser *p, const char *data, size_t len, Error **err)
{
        if (len > p->body_max - p->resp.body_len)
                return error_setx(err, EBADMSG, "response body over %zu bytes", p->body_max);
        if (!p->resp.body)
                p->resp.body = xmalloc(MIN(p->body_max, (size_t)4096) + 1);
        /* Grow by doubling, never past body_max. */
        {
                size_t need = p->resp.body_len + len, cap = MIN(p->body_max, (size_t)4096);
                while (cap < need)
                        cap = MIN(cap * 2, p->body_max);
                p->resp.body = xrealloc(p->resp.body, cap + 1);
        }
        memcpy(p->resp.body + p->resp.body_len, data, len);
        p->resp.body_len += len;
        p->resp.body[p->resp.body_len] = '\0';
        return 0;
}

/* Checks one header line (no CRLF) and splits it; -EBADMSG naming the fault. */
static int split_field(const char *line, size_t len, size_t *ret_name_len, const char **ret_value, size_t *ret_value_len,
                       Error **err)
{
        size_t i = 0, vs, ve;

        if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
                return error_setx(err, EBADMSG, "malformed response: a folded header line (obsolete line folding)");
        while (i < len && is_tchar((unsigned char)line[i]))
                i++;
        if (i == 0 || i >= len || line[i] != ':')
                return error_setx(err, EBADMSG, "malformed response: header line '%.*s' is not 'name: value'",
                                  (int)MIN(len, (size_t)64), line);
        *ret_name_len = i;
        vs = i + 1;
        while (vs < len && (line[vs] == ' ' || line[vs] == '\t'))
                vs++;
        ve = len;
        while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
                ve--;
        for (size_t k = vs; k < ve; k++)
                if (!is_field_char((unsigned char)line[k]))
                        return error_setx(err, EBADMSG, "malformed response: a control character in header '%.*s'",
                                          (int)i, line);
        *ret_value = line + vs;
        *ret_value_len = ve - vs;
        return 0;
}

static int parse_content_length(const char *v, size_t len, uint64_t *ret, Error **err)
{
        uint64_t n = 0;
        if (len == 0 || len > 15)
                return error_setx(err, EBADMSG, "malformed response: invalid Content-Length '%.*s'",
                                  (int)MIN(len, (size_t)32), v);
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char)v[i]))
                        return error_setx(err, EBADMSG, "malformed response: invalid Content-Length '%.*s'",
                                          (int)MIN(len, (size_t)32), v);
                n = n * 10 + (uint64_t)(v[i] - '0');
        }
        *ret = n;
        return 0;
}

/*
 * Parses the head in p->buf (p->buf_len bytes, ending with the blank line) and chooses how the body is
 * framed.  Returns 1 for an interim (1xx) response to skip, 0 for the final one.
 */
static int parse_head(HttpParser *p, Error **err)
{
        const char *b = p->buf, *end = p->buf + p->buf_len - 2; /* at the final CRLF */
        const char *eol = memchr(b, '\r', (size_t)(end - b) + 1);
        bool chunked = false, have_length = false, conn_close = false, conn_keep = false;
        uint64_t length = 0;
        int minor, status, n_headers = 0;
        const char *line;

        /* "HTTP/1.x SSS[ reason]" */
        if (!eol || eol - b < 12 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') || b[8] != ' ' ||
            !isdigit((unsigned char)b[9]) || !isdigit((unsigned char)b[10]) || !isdigit((unsigned char)b[11]) ||
            (eol - b > 12 && b[12] != ' '))
                return error_setx(err, EBADMSG, "malformed response: status line '%.*s'",
                                  (int)MIN((size_t)(eol ? eol - b : 0), (size_t)64), b);
        minor = b[7] - '0';
        status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
        if (status < 100 || status > 599)
                return error_setx(err, EBADMSG, "malformed response: status %d", status);
        if (status == 101)
                return error_setx(err, EBADMSG, "unexpected response: 101 Switching Protocols");
        for (const char *q = b + 13; q < eol; q++)
                if (!is_field_char((unsigned char)*q))
                        return error_setx(err, EBADMSG, "malformed response: a control character in the status line");
        if (eol[1] != '\n')
                return error_setx(err, EBADMSG, "malformed response: a bare CR in the status line");
        if (status >= 200) {
                size_t rl = eol - b > 13 ? (size_t)(eol - b - 13) : 0;
                p->resp.status = status;
                snprintf(p->resp.reason, sizeof(p->resp.reason), "%.*s", (int)MIN(rl, sizeof(p->resp.reason) - 1),
                         b + 13);
        }

        /* Header lines up to the blank line. */
        for (line = eol + 2; line < end; line = eol + 2) {
                const char *value;
                size_t name_len, value_len;
                int r;

                eol = line;
                while (eol < end && *eol != '\r' && *eol != '\n')
                        eol++;
                if (eol >= end || eol[0] != '\r' || eol[1] != '\n')
                        return error_setx(err, EBADMSG, "malformed response: a header line without CRLF");
                if (++n_headers > HTTP_HEADERS_MAX)
                        return error_setx(err, EBADMSG, "response has more than %d headers", HTTP_HEADERS_MAX);
                if ((r = split_field(line, (size_t)(eol - line), &name_len, &value, &value_len, err)) < 0)
                        return r;
                if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                        uint64_t n = 0;
                        if ((r = parse_content_length(value, value_len, &n, err)) < 0)
                                return r;
                        if (have_length && n != length)
                                return error_setx(err, EBADMSG, "malformed response: two different Content-Length");
                        have_length = true;
                        length = n;
                } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                        if (chunked || value_len != 7 || strncasecmp(value, "chunked", 7) != 0)
                                return error_setx(err, EBADMSG, "unsupported response: Transfer-Encoding '%.*s' "
                                                  "(only chunked is accepted)", (int)MIN(value_len, (size_t)64), value);
                        chunked = true;
                } else if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0) {
                        conn_close |= http_list_has(value, value_len, "close");
                        conn_keep |= http_list_has(value, value_len, "keep-alive");
                }
        }
        if (status < 200)
                return 1;
        if (chunked && have_length)
                return error_setx(err, EBADMSG, "malformed response: both Content-Length and Transfer-Encoding");
        p->resp.keep_alive = !conn_close && (minor == 1 || conn_keep);
        if (p->head_request || status == 204 || status == 304)
                p->state = HP_DONE;
        else if (chunked)
                p->state = HP_CHUNK_SIZE;
        else if (have_length) {
                if (length > p->body_max)
                        return error_setx(err, EBADMSG, "response body of %" PRIu64 " bytes is over the limit of %zu",
                                          length, p->body_max);
                p->left = length;
                p->state = length ? HP_LENGTH : HP_DONE;
        } else {
                p->state = HP_UNTIL_CLOSE;
                p->resp.keep_alive = false;
        }
        return 0;
}

/* Takes bytes of the head; a complete head is parsed.  Returns the bytes taken, or -EBADMSG. */
static ssize_t feed_head(HttpParser *p, const char *data, size_t len, Error **err)
{
        size_t old = p->buf_len, room = HTTP_HEAD_MAX - old, take = MIN(len, room), from;
        int r;

        if (!p->buf)
                p->buf = xmalloc(HTTP_HEAD_MAX + 1);
        memcpy(p->buf + old, data, take);
        p->buf_len += take;
        from = old >= 3 ? old - 3 : 0;
        for (size_t i = from; i + 4 <= p->buf_len; i++) {
                if (p->buf[i] == '\r' && p->buf[i + 1] == '\n' && p->buf[i + 2] == '\r' && p->buf[i + 3] == '\n') {
                        size_t used = i + 4 - old;
                        p->buf_len = i + 4;
                        p->buf[p->buf_len] = '\0';
                        if ((r = parse_head(p, err)) < 0)
                                return r;
                        if (r == 1) { /* interim: read the next head */
                                if (++p->left > INTERIM_MAX)
                                        return error_setx(err, EBADMSG, "more than %d interim (1xx) responses",
                                                          INTERIM_MAX);
                        } else if (p->state != HP_LENGTH)
                                p->left = 0;
                        p->buf_len = 0;
                        return (ssize_t)used;
                }
        }
        if (p->buf_len >= HTTP_HEAD_MAX)
                return error_setx(err, EBADMSG, "response head over %d bytes", HTTP_HEAD_MAX);
        return (ssize_t)take;
}

/* Takes bytes of a line (chunk size, trailer) into p->buf up to its LF.  Returns the bytes taken, and
 * *done when the line is complete (p->buf holds it without CRLF). */
static ssize_t feed_line(HttpParser *p, const char *data, size_t len, size_t max, bool *done, Error **err)
{
        const char *lf = memchr(data, '\n', len);
        size_t take = lf ? (size_t)(lf - data) + 1 : len;

        if (p->buf_len + take > max + p->mark)
                return error_setx(err, EBADMSG, "malformed response: a %s line over %zu bytes",
                                  p->state == HP_CHUNK_SIZE ? "chunk-size" : "trailer", max);
        if (!p->buf)
                p->buf = xmalloc(HTTP_HEAD_MAX + 1);
        memcpy(p->buf + p->buf_len, data, take);
        p->buf_len += take;
        *done = lf != NULL;
        if (*done) {
                if (p->buf_len - p->mark < 2 || p->buf[p->buf_len - 2] != '\r')
                        return error_setx(err, EBADMSG, "malformed response: a bare LF in the chunked body");
                p->buf_len -= 2;
                p->buf[p->buf_len] = '\0';
                if (memchr(p->buf + p->mark, '\r', p->buf_len - p->mark))
                        return error_setx(err, EBADMSG, "malformed response: a bare CR in the chunked body");
        }
        return (ssize_t)take;
}

static int parse_chunk_size(HttpParser *p, Error **err)
{
        const char *s = p->buf, *e = p->buf + p->buf_len;
        uint64_t n = 0;
        int digits = 0;

        while (s < e && isxdigit((unsigned char)*s)) {
                if (++digits > 15)
                        return error_setx(err, EBADMSG, "malformed response: chunk size too large");
                n = n * 16 + (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10));
                s++;
        }
        if (digits == 0)
                return error_setx(err, EBADMSG, "malformed response: chunk size '%.*s'", (int)MIN(p->buf_len, (size_t)32),
                                  p->buf);
        while (s < e && (*s == ' ' || *s == '\t'))
                s++;
        if (s < e) { /* chunk extensions: ignored, but must be printable */
                if (*s != ';')
                        return error_setx(err, EBADMSG, "malformed response: chunk size '%.*s'",
                                          (int)MIN(p->buf_len, (size_t)32), p->buf);
                for (; s < e; s++)
                        if (!is_field_char((unsigned char)*s))
                                return error_setx(err, EBADMSG, "malformed response: a control character in a chunk "
                                                  "extension");
        }
        if (n > p->body_max - p->resp.body_len)
                return error_setx(err, EBADMSG, "response body over %zu bytes", p->body_max);
        p->buf_len = 0;
        p->left = n;
        p->state = n ? HP_CHUNK_DATA : HP_TRAILERS;
        return 0;
}

int http_parser_feed(HttpParser *p, const char *data, size_t len, size_t *used, Error **err)
{
        size_t off = 0;

        while (p->state != HP_DONE && off < len) {
                const char *d = data + off;
                size_t n = len - off, take;
                ssize_t k;
                bool done;
                int r;

                switch (p->state) {
                case HP_HEAD:
                        if ((k = feed_head(p, d, n, err)) < 0)
                                return (int)k;
                        off += (size_t)k;
                        break;
                case HP_LENGTH:
                case HP_CHUNK_DATA:
                        take = (size_t)MIN((uint64_t)n, p->left);
                        if ((r = body_append(p, d, take, err)) < 0)
                                return r;
                        off += take;
                        p->left -= take;
                        if (p->left == 0)
                                p->state = p->state == HP_LENGTH ? HP_DONE : HP_CHUNK_CRLF;
                        break;
                case HP_CHUNK_CRLF:
                        if (*d != (p->left == 0 ? '\r' : '\n'))
                                return error_setx(err, EBADMSG, "malformed response: chunk data not followed by CRLF");
                        off++;
                        if (++p->left == 2) {
                                p->left = 0;
                                p->state = HP_CHUNK_SIZE;
                        }
                        break;
                case HP_CHUNK_SIZE:
                        if ((k = feed_line(p, d, n, HTTP_LINE_MAX, &done, err)) < 0)
                                return (int)k;
                        off += (size_t)k;
                        if (done && (r = parse_chunk_size(p, err)) < 0)
                                return r;
                        break;
                case HP_TRAILERS: {
                        size_t name_len, value_len;
                        const char *value;
                        /* p->buf keeps every trailer line so far (without CRLF), so that their total is
                         * bounded by HTTP_HEAD_MAX; p->mark is where the current one starts. */
                        if ((k = feed_line(p, d, n, HTTP_HEAD_MAX - p->mark, &done, err)) < 0)
                                return (int)k;
                        off += (size_t)k;
                        if (!done)
                                break;
                        if (p->buf_len == p->mark) {
                                p->state = HP_DONE;
                                break;
                        }
                        if ((r = split_field(p->buf + p->mark, p->buf_len - p->mark, &name_len, &value, &value_len,
                                             err)) < 0)
                                return r;
                        p->mark = p->buf_len;
                        break;
                }
                case HP_UNTIL_CLOSE:
                        if ((r = body_append(p, d, n, err)) < 0)
                                return r;
                        off += n;
                        break;
                case HP_DONE:
                default:
                        break;
                }
        }
        *used = off;
        return p->state == HP_DONE ? 1 : 0;
}

int http_parser_eof(HttpParser *p, Error **err)
{
        switch (p->state) {
        case HP_DONE:
        case HP_UNTIL_CLOSE:
                p->state = HP_DONE;
                return 1;
        case HP_HEAD:
                if (p->buf_len == 0 && p->left == 0)
                        return error_setx(err, ECONNRESET, "connection closed before a response");
                return error_setx(err, EBADMSG, "connection closed inside the response head");
        default:
                return error_setx(err, EBADMSG, "connection closed inside the response body");
        }
}

/* ================================================================ the client */

struct HttpClient {
        NetAddr addr;
        char *authority;
        NetTlsOpts tls;
        char *ca_file, *cert_file, *key_file, *server_name;
        NetConn *conn;
        bool reused;               /* conn has carried a request */
        const atomic_bool *cancel; /* borrowed, may be NULL */
};

void http_client_set_cancel(HttpClient *c, const atomic_bool *flag)
{
        c->cancel = flag;
}

static bool cancelled(const HttpClient *c)
{
        return c->cancel && atomic_load(c->cancel);
}

static char *strdup_or_null(const char *s)
{
        return s ? xstrdup(s) : NULL;
}

HttpClient *http_client_new(const HttpUrl *url, const NetTlsOpts *tls)
{
        HttpClient *c = xcalloc(1, sizeof(*c));

        c->addr.proto = url->tls ? NET_TLS : NET_TCP;
        c->addr.host = xstrdup(url->host);
        c->addr.port = xstrdup(url->port);
        c->authority = xstrdup(url->authority);
        if (tls) {
                c->ca_file = strdup_or_null(tls->ca_file);
                c->cert_file = strdup_or_null(tls->cert_file);
                c->key_file = strdup_or_null(tls->key_file);
                c->server_name = strdup_or_null(tls->server_name);
                c->tls.skip_verify = tls->skip_verify;
        }
        c->tls.ca_file = c->ca_file;
        c->tls.cert_file = c->cert_file;
        c->tls.key_file = c->key_file;
        c->tls.server_name = c->server_name;
        return c;
}

HttpClient *http_client_free(HttpClient *c)
{
        if (!c)
                return NULL;
        net_close(c->conn);
        net_addr_free(&c->addr);
        free(c->authority);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c->server_name);
        free(c);
        return NULL;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
        int64_t l = deadline - now_ms();
        return l > 0 ? (int)MIN(l, (int64_t)INT32_MAX) : 0;
}

static void drop_conn(HttpClient *c)
{
        c->conn = net_close(c->conn);
        c->reused = false;
}

/* Whether an idle kept-alive connection is still usable: nothing to read, no EOF. */
static bool idle_conn_ok(HttpClient *c)
{
        Error *e = NULL;
        char b;
        ssize_t n = net_read(c->conn, &b, 1, 0, &e);
        error_free(e);
        return n == -ETIMEDOUT;
}

/* One attempt on the current (or a new) connection.  *retry is set when a reused connection turned out
 * to be closed before any byte of a response came: the caller may try once more on a fresh one. */
static int attempt(HttpClient *c, const char *req, size_t req_len, bool head_request, int64_t deadline, size_t body_max,
                   HttpResponse *ret, bool *retry, Error **err)
{
        HttpParser p;
        bool was_reused;
        char buf[16384];
        int r;

        *retry = false;
        if (cancelled(c))
                return error_setx(err, ECANCELED, "%s: cancelled", c->authority);
        if (c->conn && !idle_conn_ok(c))
                drop_conn(c);
        if (!c->conn) {
                r = net_connect(&c->addr, &c->tls, MIN(left_ms(deadline), HTTP_CONNECT_MS), &c->conn, err);
                if (r < 0)
                        return r; /* netconn's message names the address */
        }
        was_reused = c->reused;
        c->reused = true;
        r = net_write(c->conn, req, req_len, left_ms(deadline), err);
        if (r < 0) {
                drop_conn(c);
                if (was_reused && r != -ETIMEDOUT) {
                        *retry = true;
                        return r;
                }
                return r;
        }
        http_parser_init(&p, head_request, body_max);
        for (;;) {
                /* With a cancel flag, the wait goes in slices so that the flag is seen. */
                int wait = c->cancel ? MIN(left_ms(deadline), HTTP_CANCEL_SLICE_MS) : left_ms(deadline);
                Error *e = NULL;
                ssize_t n = net_read(c->conn, buf, sizeof(buf), wait, &e);
                size_t used = 0;
                if (n == -ETIMEDOUT && (cancelled(c) || left_ms(deadline) > 0)) {
                        error_free(e);
                        if (!cancelled(c))
                                continue;
                        drop_conn(c);
                        http_parser_done(&p);
                        return error_setx(err, ECANCELED, "receive from %s: cancelled", c->authority);
                }
                if (n < 0 && err)
                        *err = e;
                else
                        error_free(e);
                if (n < 0) {
                        bool nothing = p.state == HP_HEAD && p.buf_len == 0 && p.left == 0;
                        drop_conn(c);
                        http_parser_done(&p);
                        if (was_reused && nothing && (n == -ECONNRESET || n == -EPIPE)) {
                                *retry = true;
                                return (int)n;
                        }
                        return (int)n;
                }
                if (n == 0) {
                        r = http_parser_eof(&p, err);
                        drop_conn(c);
                        if (r < 0) {
                                http_parser_done(&p);
                                if (r == -ECONNRESET && was_reused) {
                                        *retry = true;
                                        return r;
                                }
                                return error_wrap(err, "response from %s", c->authority);
                        }
                        break;
                }
                r = http_parser_feed(&p, buf, (size_t)n, &used, err);
                if (r < 0) {
                        drop_conn(c);
                        http_parser_done(&p);
                        return error_wrap(err, "response from %s", c->authority);
                }
                if (r == 1) {
                        /* Bytes after the response: the server is confused; do not reuse it. */
                        if (used < (size_t)n || !p.resp.keep_alive)
                                drop_conn(c);
                        break;
                }
        }
        http_parser_take(&p, ret);
        http_parser_done(&p);
        return 0;
}

int http_client_request(HttpClient *c, const char *method, const char *target, const HttpHeader *headers,
                        size_t n_headers, const void *body, size_t body_len, int timeout_ms, size_t body_max,
                        HttpResponse *ret, Error **err)
{
        int64_t deadline = now_ms() + timeout_ms;
        size_t head_len;
        _cleanup_free_ char *head = http_request_head(method, c->authority, target, headers, n_headers,
                                                      body ? (int64_t)body_len : -1, &head_len);
        _cleanup_free_ char *req = NULL;
        const char *out = head;
        size_t out_len = head_len;
        int r = 0;

        /* Head and body in one write: two would meet Nagle and delayed ACKs (a 40 ms stall per request). */
        if (body && body_len > 0) {
                req = xmalloc(head_len + body_len);
                memcpy(req, head, head_len);
                memcpy(req + head_len, body, body_len);
                out = req;
                out_len = head_len + body_len;
        }
        for (int i = 0; i < 2; i++) {
                Error *e = NULL;
                bool retry;
                r = attempt(c, out, out_len, STREQ(method, "HEAD"), deadline, body_max, ret, &retry, &e);
                if (r >= 0)
                        return 0;
                if (!retry || i == 1) {
                        if (err)
                                *err = e;
                        else
                                error_free(e);
                        return r;
                }
                error_free(e); /* a kept-alive connection the server had closed: once more, on a new one */
        }
        return r;
}
