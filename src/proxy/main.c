/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade-proxy: a filtering proxy for the engine API socket (docs/PROXY.md).
 *
 * One thread, one epoll loop.  Each client connection has at most one upstream connection (a unix
 * socket to dockerd or stockade serve), kept across the client's keep-alive requests.  Requests go
 * one at a time: a request head is read, decided on (policy.c), forwarded byte for byte with its
 * body, and the next head is only read once the response has ended.  A 101 response, or dockerd's
 * raw-stream answer to an attach or exec start, turns the pair into a two-way tunnel.  Nothing
 * times out: /events and followed logs stay open as long as both ends do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "json-util.h"
#include "http.h"
#include "policy.h"
#include "util.h"

#define IO_CAP         (64 * 1024) /* bytes buffered per direction */
#define RESP_CAP       (HTTP_RESP_HEAD_MAX + 16 * 1024)
#define INSPECT_CAP    (HTTP_REQ_HEAD_MAX + PROXY_BODY_MAX + 64 * 1024)
#define LISTEN_MAX     16
#define SHUTDOWN_GRACE 10                 /* seconds for requests in flight at SIGTERM */
#define DISCARD_MAX    (16 * 1024 * 1024) /* a denied body read and dropped; a longer one closes */

/* RQ_DISCARD_*: the body of a denied request is read and dropped, so that the client, still
 * sending it, is not cut off before it reads the 403; then the next request (or the close). */
typedef enum ReqState {
        RQ_HEAD,
        RQ_BODY_LEN,
        RQ_BODY_CHUNK,
        RQ_INSPECT,
        RQ_WAIT,
        RQ_TUNNEL,
        RQ_DISCARD_LEN,
        RQ_DISCARD_CHUNK,
        RQ_DENIED,
} ReqState;
typedef enum RespState { RS_IDLE, RS_HEAD, RS_BODY_LEN, RS_BODY_CHUNK, RS_BODY_CLOSE, RS_TUNNEL } RespState;

typedef struct Conn Conn;

/* What an epoll event points at: a listener, the signalfd, the timer, or one side of a connection. */
typedef enum TagKind { TAG_LISTEN, TAG_SIGNAL, TAG_TIMER, TAG_CLIENT, TAG_UPSTREAM } TagKind;
typedef struct Tag {
        TagKind kind;
        Conn *conn;
        int fd;
        bool is_unix;
} Tag;

struct Conn {
        Tag ctag, utag;
        int cfd, ufd;
        uint32_t cev, uev; /* current epoll interest */
        char peer[80];
        Buf in; /* read from the client; in.data[0, in_fwd) may go upstream */
        size_t in_fwd;
        Buf out; /* read from upstream; out.data[0, out_fwd) may go to the client */
        size_t out_fwd;
        ReqState rq;
        RespState rs;
        uint64_t req_left, resp_left;
        ChunkReader req_chunk, resp_chunk;
        /* the request in flight */
        bool head_req, req_close, stream;
        ProxyInspect inspect;
        size_t ins_head, ins_scanned;
        Buf ins_body;
        char method[17];
        char target[256]; /* for the log line after a body's inspection */
        char why[256];    /* the decision that let the head through */
        /* ends */
        bool client_eof, upstream_eof, ushut, cshut, resp_close, close_after_flush;
        bool dead; /* closed, freed after the current batch of events */
        bool close_after_discard;
        int64_t head_since; /* when it began to wait for a request head (CLOCK_MONOTONIC ms) */
        Conn *prev, *next;
};

static int arg_epfd = -1;
static ProxyPolicy arg_policy;
static const char *arg_upstream = "/var/run/docker.sock";
static bool arg_json;
static bool arg_log_allowed = true;
static unsigned arg_max_conns = 4096;
static int64_t arg_head_timeout_ms = 60000; /* --head-timeout: a request head must come within it */
static Buf log_buf;
static int log_fd = STDERR_FILENO;
static Conn *conns;
static Conn *graveyard;
static unsigned nconns;
static bool shutting_down;

/* ================================================================ logging */

static void log_flush(void)
{
        if (log_buf.len) {
                (void)write_all(log_fd, log_buf.data, log_buf.len);
                log_buf.len = 0;
        }
}

static void log_time(char *t, size_t n)
{
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(t, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* One line per decision (docs/PROXY.md): text or JSON.  Flushed at the end of each loop turn. */
static void log_decision(bool allow, const char *method, size_t mlen, const char *target, size_t tlen,
                         const char *peer, const char *why)
{
        char t[64], reason[320];
        size_t i;

        /* a reason may quote a client's bytes (a SecurityOpt value, a JSON key): one printable line */
        for (i = 0; why[i] && i < sizeof(reason) - 1; i++)
                reason[i] = (unsigned char)why[i] < 0x20 || (unsigned char)why[i] >= 0x7f || why[i] == '"'
                                    ? '?'
                                    : why[i];
        reason[i] = '\0';

        if (allow && !arg_log_allowed)
                return;
        log_time(t, sizeof(t));
        if (mlen > 16)
                mlen = 16;
        if (tlen > HTTP_TARGET_MAX)
                tlen = HTTP_TARGET_MAX;
        if (arg_json) {
                _cleanup_json_ json_t *j = json_pack(
                        "{s:s, s:s, s:s%, s:s%, s:s, s:s}", "time", t, "decision", allow ? "allow" : "deny",
                        "method", method, mlen, "path", target, tlen, "peer", peer, "reason", reason);
                char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (s) {
                        buf_puts(&log_buf, s);
                        buf_putc(&log_buf, '\n');
                        free(s);
                }
        } else {
                /* the method and target are printable ASCII without spaces (http.c checked them) */
                size_t need = strlen(t) + mlen + tlen + strlen(peer) + strlen(reason) + 40;
                buf_reserve(&log_buf, need);
                log_buf.len += (size_t)snprintf(
                        log_buf.data + log_buf.len, need, "%s %s %.*s %.*s peer=%s reason=\"%s\"\n", t,
                        allow ? "allow" : "deny", (int)mlen, method, (int)tlen, target, peer, reason);
        }
        if (log_buf.len > 256 * 1024)
                log_flush();
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
        char t[64];
        va_list ap;
        _cleanup_free_ char *m = NULL;

        va_start(ap, fmt);
        m = xvasprintf(fmt, ap);
        va_end(ap);
        log_time(t, sizeof(t));
        if (arg_json) {
                _cleanup_json_ json_t *j = json_pack("{s:s, s:s}", "time", t, "msg", m);
                char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (s) {
                        buf_puts(&log_buf, s);
                        free(s);
                }
        } else {
                buf_puts(&log_buf, t);
                buf_putc(&log_buf, ' ');
                buf_puts(&log_buf, m);
        }
        buf_putc(&log_buf, '\n');
        log_flush();
}

/* ================================================================ connections */

static void set_events(int fd, Tag *tag, uint32_t *cur, uint32_t want)
{
        struct epoll_event ev = { .events = want, .data.ptr = tag };

        if (fd < 0 || *cur == want)
                return;
        if (epoll_ctl(arg_epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
                log_line("epoll_ctl: %s", strerror(errno));
        *cur = want;
}

/*
 * Closes a connection.  Its memory is freed after the current batch of epoll events, which may
 * still hold events for it (the loop skips a dead connection's).
 */
static void conn_free(Conn *c)
{
        if (c->dead)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (c->cfd >= 0)
                close(c->cfd);
        if (c->ufd >= 0)
                close(c->ufd);
        c->cfd = c->ufd = -1;
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->ins_body);
        c->dead = true;
        c->next = graveyard;
        graveyard = c;
        nconns--;
}

static void bury_dead(void)
{
        while (graveyard) {
                Conn *c = graveyard;
                graveyard = c->next;
                free(c);
        }
}

static void upstream_close(Conn *c)
{
        if (c->ufd >= 0)
                close(c->ufd);
        c->ufd = -1;
        c->uev = 0;
        c->upstream_eof = c->ushut = false;
        c->out.len = c->out_fwd; /* what was approved still goes to the client; the rest is dropped */
}

static int upstream_connect(Conn *c)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->utag };
        int fd;

        if (c->ufd >= 0)
                return 0;
        if (strlen(arg_upstream) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, arg_upstream);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* a unix stream connect completes at once or fails (EAGAIN: the backlog is full) */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (epoll_ctl(arg_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        c->ufd = fd;
        c->uev = EPOLLIN;
        c->utag = (Tag){ .kind = TAG_UPSTREAM, .conn = c, .fd = fd };
        return 0;
}

/*
 * Queues a complete error response; its body is what docker's CLI prints ("Error response from
 * daemon: stockade-proxy: <reason>").  With close_header it says Connection: close.
 */
static void respond_error(Conn *c, int status, const char *text, const char *reason, bool close_header)
{
        char head[256];
        size_t rl = strlen(reason) + strlen("stockade-proxy: ");
        int n = snprintf(
                head, sizeof(head),
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n"
                "stockade-proxy: ",
                status, text, rl + 1, close_header ? "Connection: close\r\n" : "");

        buf_put(&c->out, head, (size_t)n);
        buf_puts(&c->out, reason);
        buf_putc(&c->out, '\n');
        c->out_fwd = c->out.len;
}

/* An error response; without keep the client is closed once it is written. */
static void deny(Conn *c, int status, const char *text, const char *reason, bool keep)
{
        respond_error(c, status, text, reason, !keep);
        if (!keep) {
                c->close_after_flush = true;
                c->rq = RQ_DENIED;
        }
}

/* Drops in.data[off, off + n). */
static void consume_in(Conn *c, size_t off, size_t n)
{
        memmove(c->in.data + off, c->in.data + off + n, c->in.len - off - n);
        c->in.len -= n;
}

/*
 * After a 403 for a request whose head (and, for an inspected one, body) has been dropped from the
 * buffer: reads and drops the rest of its body, then goes on with the next request, or closes when
 * the request asked to (or the body is too long to be worth reading).
 */
static void deny_then(Conn *c, const char *reason, HttpFraming framing, uint64_t left, bool close)
{
        close = close || shutting_down;
        if (framing == HTTP_BODY_LENGTH && left > DISCARD_MAX) {
                deny(c, 403, "Forbidden", reason, false);
                return;
        }
        respond_error(c, 403, "Forbidden", reason, close);
        c->close_after_discard = close;
        c->req_left = left;
        c->req_chunk = (ChunkReader){ 0 };
        c->rq = framing == HTTP_BODY_LENGTH    ? RQ_DISCARD_LEN
                : framing == HTTP_BODY_CHUNKED ? RQ_DISCARD_CHUNK
                                               : RQ_HEAD;
        if (c->rq == RQ_HEAD && close) {
                c->close_after_flush = true;
                c->rq = RQ_DENIED;
        }
}

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection waits for the client's next request head from now (--head-timeout counts from here). */
static void await_head(Conn *c)
{
        c->rq = RQ_HEAD;
        c->head_since = mono_ms();
}

static void discard_done(Conn *c)
{
        if (c->close_after_discard) {
                c->close_after_flush = true;
                c->rq = RQ_DENIED;
        } else {
                await_head(c);
        }
}

static void request_forward(Conn *c)
{
        int r = upstream_connect(c);

        if (r < 0) {
                log_line("upstream %s: %s", arg_upstream, strerror(-r));
                /* nothing of this request has gone upstream: answer and close */
                c->in_fwd = 0;
                deny(c, 502, "Bad Gateway", "the upstream socket cannot be reached", false);
                return;
        }
        c->rs = RS_HEAD;
}

static void chunk_put(void *data, const char *p, size_t n)
{
        Buf *b = data;
        if (b->len + n <= PROXY_BODY_MAX + 1)
                buf_put(b, p, n);
        else
                b->len = PROXY_BODY_MAX + 1; /* marks "too large" without growing */
}

static void request_done(Conn *c)
{
        if (c->rs == RS_IDLE)
                await_head(c);
        else
                c->rq = RQ_WAIT;
}

static void process_client(Conn *c);

static void response_done(Conn *c)
{
        c->rs = RS_IDLE;
        if (c->resp_close || c->req_close || shutting_down) {
                c->close_after_flush = true;
                c->rq = RQ_DENIED;
                upstream_close(c);
                return;
        }
        if (c->rq == RQ_WAIT)
                await_head(c);
}

static void inspect_finish(Conn *c, const char *body, size_t blen, size_t raw_len)
{
        char reason[256];

        if (blen > PROXY_BODY_MAX) {
                snprintf(reason, sizeof(reason), "the request body is larger than %d bytes", PROXY_BODY_MAX);
        } else if (proxy_inspect_body(&arg_policy, c->inspect, body, blen, reason, sizeof(reason)) == 0) {
                snprintf(reason, sizeof(reason), "%.200s, body inspected", c->why);
                log_decision(true, c->method, strlen(c->method), c->target, strlen(c->target), c->peer,
                             reason);
                c->in_fwd += c->ins_head + raw_len;
                c->rq = RQ_WAIT;
                buf_free(&c->ins_body);
                request_forward(c);
                return;
        }
        log_decision(false, c->method, strlen(c->method), c->target, strlen(c->target), c->peer, reason);
        buf_free(&c->ins_body);
        if (blen > PROXY_BODY_MAX) {
                deny(c, 403, "Forbidden", reason, false);
                return;
        }
        /* the whole body is in the buffer: drop it with the head */
        consume_in(c, c->in_fwd, c->ins_head + raw_len);
        deny_then(c, reason, HTTP_BODY_NONE, 0, c->req_close);
}

static void process_client(Conn *c)
{
        for (;;) {
                size_t avail = c->in.len - c->in_fwd;
                const char *p = c->in.data + c->in_fwd;

                switch (c->rq) {
                case RQ_HEAD: {
                        HttpHead h;
                        ProxyDecision d;
                        const char *why = NULL;
                        size_t e;
                        int st;

                        if (c->rs != RS_IDLE || c->close_after_flush || !avail)
                                return;
                        if (c->out.len > IO_CAP)
                                return; /* let the client read first */
                        e = http_head_end(p, avail);
                        if (!e) {
                                if (avail >= HTTP_REQ_HEAD_MAX) {
                                        log_decision(false, "-", 1, "-", 1, c->peer,
                                                     "request head too large");
                                        deny(c, 431, "Request Header Fields Too Large",
                                             "the request head is too large", false);
                                }
                                return;
                        }
                        st = http_parse_request(p, e, &h, &why);
                        if (st) {
                                log_decision(false, "-", 1, "-", 1, c->peer, why);
                                deny(c, st,
                                     st == 505   ? "HTTP Version Not Supported"
                                     : st == 414 ? "URI Too Long"
                                                 : "Bad Request",
                                     why, false);
                                return;
                        }
                        proxy_decide(&arg_policy, h.method, h.method_len, h.target, h.target_len, &d);
                        if (!d.allow) {
                                log_decision(false, h.method, h.method_len, h.target, h.target_len, c->peer,
                                             d.reason);
                                consume_in(c, c->in_fwd, e);
                                deny_then(c, d.reason, h.framing, h.content_length, h.conn_close);
                                if (c->rq == RQ_DENIED)
                                        return;
                                continue;
                        }
                        c->head_req = h.method_len == 4 && !memcmp(h.method, "HEAD", 4);
                        c->req_close = h.conn_close;
                        c->stream = d.stream;
                        c->inspect = d.inspect;
                        c->req_chunk = (ChunkReader){ 0 };
                        snprintf(c->method, sizeof(c->method), "%.*s", (int)h.method_len, h.method);
                        snprintf(c->why, sizeof(c->why), "%s", d.reason);
                        snprintf(c->target, sizeof(c->target), "%.*s",
                                 (int)(h.target_len > 255 ? 255 : h.target_len), h.target);
                        if (d.inspect != PROXY_INSPECT_NONE) {
                                if (h.framing == HTTP_BODY_LENGTH && h.content_length > PROXY_BODY_MAX) {
                                        log_decision(false, h.method, h.method_len, h.target, h.target_len,
                                                     c->peer, "request body too large to inspect");
                                        deny(c, 413, "Payload Too Large",
                                             "the request body is too large to inspect", false);
                                        return;
                                }
                                c->rq = RQ_INSPECT;
                                c->ins_head = e;
                                c->ins_scanned = 0;
                                c->req_left = h.framing == HTTP_BODY_LENGTH ? h.content_length : 0;
                                c->ins_body = (Buf){ 0 };
                                if (h.framing == HTTP_BODY_NONE) {
                                        inspect_finish(c, "", 0, 0);
                                        continue;
                                }
                                c->req_chunk.phase =
                                        h.framing == HTTP_BODY_CHUNKED ? CHUNK_SIZE : CHUNK_DONE;
                                /* the body is read before the head goes on: answer the client's Expect here
                                 */
                                if (h.expect_continue) {
                                        buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                                        c->out_fwd = c->out.len;
                                }
                                continue;
                        }
                        log_decision(true, h.method, h.method_len, h.target, h.target_len, c->peer,
                                     d.reason);
                        c->in_fwd += e;
                        c->req_left = h.content_length;
                        c->rq = h.framing == HTTP_BODY_LENGTH    ? RQ_BODY_LEN
                                : h.framing == HTTP_BODY_CHUNKED ? RQ_BODY_CHUNK
                                                                 : RQ_WAIT;
                        request_forward(c);
                        if (c->rq == RQ_DENIED)
                                return;
                        continue;
                }
                case RQ_BODY_LEN: {
                        size_t k = avail < c->req_left ? avail : (size_t)c->req_left;
                        c->in_fwd += k;
                        c->req_left -= k;
                        if (c->req_left)
                                return;
                        request_done(c);
                        continue;
                }
                case RQ_BODY_CHUNK: {
                        long k = chunk_advance(&c->req_chunk, p, avail, NULL, NULL);
                        if (k < 0) {
                                log_line("%s: a malformed chunked request body; closing", c->peer);
                                c->close_after_flush = true;
                                c->rq = RQ_DENIED;
                                upstream_close(c);
                                return;
                        }
                        c->in_fwd += (size_t)k;
                        if (c->req_chunk.phase != CHUNK_DONE)
                                return;
                        request_done(c);
                        continue;
                }
                case RQ_INSPECT: {
                        const char *body = p + c->ins_head;
                        size_t have = avail > c->ins_head ? avail - c->ins_head : 0;
                        if (c->req_chunk.phase == CHUNK_DONE) { /* Content-Length */
                                if (have < c->req_left)
                                        return;
                                inspect_finish(c, body, (size_t)c->req_left, (size_t)c->req_left);
                        } else {
                                long k = chunk_advance(&c->req_chunk, body + c->ins_scanned,
                                                       have - c->ins_scanned, chunk_put, &c->ins_body);
                                if (k < 0) {
                                        log_decision(false, c->method, strlen(c->method), c->target,
                                                     strlen(c->target), c->peer, "a malformed chunked body");
                                        deny(c, 400, "Bad Request", "a malformed chunked body", false);
                                        return;
                                }
                                c->ins_scanned += (size_t)k;
                                /* a chunked encoding so wasteful that the raw body would not fit */
                                if (c->ins_body.len > PROXY_BODY_MAX ||
                                    (c->req_chunk.phase != CHUNK_DONE && c->in.len >= INSPECT_CAP)) {
                                        inspect_finish(c, NULL, PROXY_BODY_MAX + 1, 0);
                                        return;
                                }
                                if (c->req_chunk.phase != CHUNK_DONE)
                                        return;
                                inspect_finish(c, c->ins_body.data ? c->ins_body.data : "", c->ins_body.len,
                                               c->ins_scanned);
                        }
                        if (c->rq == RQ_DENIED)
                                return;
                        continue;
                }
                case RQ_DISCARD_LEN: {
                        size_t k = avail < c->req_left ? avail : (size_t)c->req_left;
                        consume_in(c, c->in_fwd, k);
                        c->req_left -= k;
                        if (c->req_left)
                                return;
                        discard_done(c);
                        continue;
                }
                case RQ_DISCARD_CHUNK: {
                        long k = chunk_advance(&c->req_chunk, p, avail, NULL, NULL);
                        if (k < 0) {
                                c->close_after_flush = true;
                                c->rq = RQ_DENIED;
                                return;
                        }
                        consume_in(c, c->in_fwd, (size_t)k);
                        if (c->req_chunk.phase != CHUNK_DONE)
                                return;
                        discard_done(c);
                        continue;
                }
                case RQ_TUNNEL:
                        c->in_fwd = c->in.len;
                        return;
                case RQ_WAIT:
                case RQ_DENIED:
                default:
                        return;
                }
        }
}

static void start_tunnel(Conn *c)
{
        c->rs = RS_TUNNEL;
        c->rq = RQ_TUNNEL;
        c->in_fwd = c->in.len;
        c->out_fwd = c->out.len;
        c->stream = true;
}

static void process_upstream(Conn *c)
{
        for (;;) {
                size_t avail = c->out.len - c->out_fwd;
                const char *p = c->out.data + c->out_fwd;

                switch (c->rs) {
                case RS_IDLE:
                        if (avail) {
                                log_line("%s: upstream sent %zu bytes with no request in flight; closing it",
                                         c->peer, avail);
                                upstream_close(c);
                        }
                        return;
                case RS_HEAD: {
                        HttpHead h;
                        const char *why = NULL;
                        size_t e = http_head_end(p, avail);
                        if (!e) {
                                if (avail >= HTTP_RESP_HEAD_MAX) {
                                        log_line("%s: upstream response head too large", c->peer);
                                        goto bad;
                                }
                                return;
                        }
                        if (http_parse_response(p, e, c->head_req, &h, &why) < 0) {
                                log_line("%s: bad upstream response: %s", c->peer, why);
                                goto bad;
                        }
                        c->out_fwd += e;
                        if (h.status == 101 || (c->stream && h.status == 200 && h.raw_stream &&
                                                h.framing == HTTP_BODY_CLOSE && STREQ(c->method, "POST"))) {
                                /* a hijacked attach/exec (101, or dockerd's 200 raw-stream): both ways from
                                 * now on */
                                start_tunnel(c);
                                return;
                        }
                        if (h.status < 200)
                                continue; /* 100 Continue and other interim responses */
                        c->resp_close = h.conn_close;
                        c->resp_left = h.content_length;
                        c->resp_chunk = (ChunkReader){ 0 };
                        switch (h.framing) {
                        case HTTP_BODY_LENGTH:
                                c->rs = RS_BODY_LEN;
                                break;
                        case HTTP_BODY_CHUNKED:
                                c->rs = RS_BODY_CHUNK;
                                break;
                        case HTTP_BODY_CLOSE:
                                c->rs = RS_BODY_CLOSE;
                                c->resp_close = true;
                                break;
                        case HTTP_BODY_NONE:
                        default:
                                response_done(c);
                                break;
                        }
                        continue;
                }
                case RS_BODY_LEN: {
                        size_t k = avail < c->resp_left ? avail : (size_t)c->resp_left;
                        c->out_fwd += k;
                        c->resp_left -= k;
                        if (c->resp_left)
                                return;
                        response_done(c);
                        continue;
                }
                case RS_BODY_CHUNK: {
                        long k = chunk_advance(&c->resp_chunk, p, avail, NULL, NULL);
                        if (k < 0) {
                                log_line("%s: malformed chunked upstream response", c->peer);
                                c->close_after_flush = true;
                                c->rq = RQ_DENIED;
                                upstream_close(c);
                                return;
                        }
                        c->out_fwd += (size_t)k;
                        if (c->resp_chunk.phase != CHUNK_DONE)
                                return;
                        response_done(c);
                        continue;
                }
                case RS_BODY_CLOSE:
                case RS_TUNNEL:
                default:
                        c->out_fwd = c->out.len;
                        return;
                }
        }
bad:
        upstream_close(c);
        c->rs = RS_IDLE;
        if (c->out_fwd == 0 && c->out.len == 0)
                deny(c, 502, "Bad Gateway", "a bad response from the upstream socket", false);
        else
                c->close_after_flush = true;
        c->rq = RQ_DENIED;
}

/* Writes what may be written; returns -1 when the connection is finished. */
static int flush(Conn *c)
{
        ssize_t n;

        while (c->in_fwd && c->ufd >= 0 && !c->ushut) {
                n = send(c->ufd, c->in.data, c->in_fwd, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -1;
                }
                consume_in(c, 0, (size_t)n);
                c->in_fwd -= (size_t)n;
        }
        while (c->out_fwd && !c->cshut) {
                n = send(c->cfd, c->out.data, c->out_fwd, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -1;
                }
                memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
                c->out.len -= (size_t)n;
                c->out_fwd -= (size_t)n;
        }
        /* half-closes travel through a tunnel once everything before them has */
        if (c->rq == RQ_TUNNEL) {
                if (c->client_eof && !c->in.len && c->ufd >= 0 && !c->ushut) {
                        shutdown(c->ufd, SHUT_WR);
                        c->ushut = true;
                }
                if (c->upstream_eof && !c->out.len && !c->cshut) {
                        shutdown(c->cfd, SHUT_WR);
                        c->cshut = true;
                }
                if (c->ushut && c->cshut)
                        return -1;
        }
        if (c->close_after_flush && !c->out_fwd)
                return -1;
        return 0;
}

static void update_events(Conn *c)
{
        size_t cap_in = c->rq == RQ_INSPECT ? INSPECT_CAP : IO_CAP;
        size_t cap_out = c->rs == RS_HEAD ? RESP_CAP : IO_CAP;
        uint32_t ce = 0, ue = 0;

        if (!c->client_eof && c->in.len < cap_in && c->rq != RQ_DENIED)
                ce |= EPOLLIN;
        else if (c->rq != RQ_TUNNEL)
                ce |= EPOLLRDHUP; /* a client that goes away while we do not read */
        if (c->out_fwd && !c->cshut)
                ce |= EPOLLOUT;
        if (!c->upstream_eof && c->out.len < cap_out)
                ue |= EPOLLIN;
        if (c->in_fwd && !c->ushut)
                ue |= EPOLLOUT;
        set_events(c->cfd, &c->ctag, &c->cev, ce);
        set_events(c->ufd, &c->utag, &c->uev, ue);
}

static int read_into(int fd, Buf *b, size_t cap, bool *eof)
{
        ssize_t n;

        if (b->len >= cap)
                return 0;
        buf_reserve(b, cap - b->len < 16384 ? cap - b->len : 16384);
        n = recv(fd, b->data + b->len, b->cap - b->len < cap - b->len ? b->cap - b->len : cap - b->len, 0);
        if (n == 0) {
                *eof = true;
                return 0;
        }
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        b->len += (size_t)n;
        return 1;
}

/* One event on one side of a connection. */
static void conn_event(Conn *c, bool client, uint32_t ev)
{
        int r;

        if (client) {
                if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                        r = read_into(c->cfd, &c->in, c->rq == RQ_INSPECT ? INSPECT_CAP : IO_CAP,
                                      &c->client_eof);
                        if (r < 0)
                                goto gone;
                }
                if ((ev & EPOLLRDHUP) && !(c->cev & EPOLLIN) && c->rq != RQ_TUNNEL)
                        goto gone;
                if (c->client_eof && c->rq != RQ_TUNNEL)
                        goto gone; /* the client left; an HTTP exchange cannot go on without it */
                /* a tunnel's client closed both ways: nothing more can be written to it (and a
                 * level-triggered hang-up must not spin while the other side drains) */
                if ((ev & (EPOLLHUP | EPOLLERR)) && c->rq == RQ_TUNNEL)
                        c->cshut = true;
        } else {
                if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                        r = read_into(c->ufd, &c->out, c->rs == RS_HEAD ? RESP_CAP : IO_CAP,
                                      &c->upstream_eof);
                        if (r < 0) {
                                c->upstream_eof = true;
                                if (c->rs == RS_TUNNEL)
                                        goto gone;
                        }
                }
                if ((ev & (EPOLLHUP | EPOLLERR)) && c->rs == RS_TUNNEL)
                        c->ushut = true;
        }
        process_upstream(c);
        process_client(c);
        if (c->upstream_eof && c->rs != RS_TUNNEL) {
                /* the upstream closed: the end of a close-delimited body, an idle keep-alive closed, or a
                 * fault */
                if (c->rs == RS_BODY_CLOSE) {
                        c->out_fwd = c->out.len;
                        c->close_after_flush = true;
                        c->rq = RQ_DENIED;
                } else if (c->rs == RS_IDLE && c->rq == RQ_HEAD) {
                        upstream_close(c);
                } else if (c->rs == RS_HEAD && c->out.len == 0) {
                        log_line("%s: the upstream closed before answering", c->peer);
                        c->in_fwd = 0;
                        deny(c, 502, "Bad Gateway", "the upstream closed before answering", false);
                } else {
                        c->close_after_flush = true;
                        c->rq = RQ_DENIED;
                }
                if (c->ufd >= 0 && c->rs != RS_IDLE) {
                        struct epoll_event none = { 0 };
                        epoll_ctl(arg_epfd, EPOLL_CTL_DEL, c->ufd, &none);
                        close(c->ufd);
                        c->ufd = -1;
                        c->uev = 0;
                }
                process_client(c);
        }
        if (flush(c) < 0)
                goto gone;
        update_events(c);
        return;
gone:
        conn_free(c);
}

static void accept_all(Tag *t)
{
        for (;;) {
                union {
                        struct sockaddr sa;
                        struct sockaddr_in in4;
                        struct sockaddr_in6 in6;
                        struct sockaddr_un un;
                } sa;
                socklen_t sl = sizeof(sa);
                struct epoll_event ev = { .events = EPOLLIN };
                int fd = accept4(t->fd, &sa.sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                Conn *c;

                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_line("accept: %s", strerror(errno));
                        return;
                }
                if (nconns >= arg_max_conns || shutting_down) {
                        close(fd);
                        continue;
                }
                c = xcalloc(1, sizeof(*c));
                c->cfd = fd;
                c->ufd = -1;
                c->ctag = (Tag){ .kind = TAG_CLIENT, .conn = c, .fd = fd };
                if (t->is_unix) {
                        struct ucred cr;
                        socklen_t cl = sizeof(cr);
                        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
                                snprintf(c->peer, sizeof(c->peer), "unix:pid=%d,uid=%u", cr.pid, cr.uid);
                        else
                                snprintf(c->peer, sizeof(c->peer), "unix");
                } else {
                        char host[INET6_ADDRSTRLEN] = "?";
                        int one = 1;
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                        if (sa.sa.sa_family == AF_INET) {
                                inet_ntop(AF_INET, &sa.in4.sin_addr, host, sizeof(host));
                                snprintf(c->peer, sizeof(c->peer), "%s:%u", host, ntohs(sa.in4.sin_port));
                        } else {
                                inet_ntop(AF_INET6, &sa.in6.sin6_addr, host, sizeof(host));
                                snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host, ntohs(sa.in6.sin6_port));
                        }
                }
                ev.data.ptr = &c->ctag;
                if (epoll_ctl(arg_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        close(fd);
                        free(c);
                        continue;
                }
                c->cev = EPOLLIN;
                c->head_since = mono_ms();
                c->next = conns;
                if (conns)
                        conns->prev = c;
                conns = c;
                nconns++;
        }
}

/*
 * --head-timeout: a connection that waits longer than that for a complete request head (a new one
 * sending nothing or a head byte by byte, or a keep-alive one left idle) is closed, so that idle or
 * slow clients cannot hold --max-conns.  Streams (events, followed logs, attach tunnels) and
 * requests in flight are never timed out.
 */
static void sweep_idle(void)
{
        int64_t now = mono_ms();

        for (Conn *c = conns, *next; c; c = next) {
                next = c->next;
                if (c->rq != RQ_HEAD || c->rs != RS_IDLE || c->stream || c->close_after_flush || c->out.len ||
                    now - c->head_since < arg_head_timeout_ms)
                        continue;
                log_line("%s: no complete request head within %lld ms: closed", c->peer,
                         (long long)arg_head_timeout_ms);
                conn_free(c);
        }
}

/* ================================================================ set-up */

typedef struct Listener {
        char *spec;
        char *unix_path;
        int fd;
        Tag tag;
} Listener;

static int open_listener(Listener *l, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (str_has_prefix(l->spec, "unix:")) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                struct stat st;
                const char *path = l->spec + 5;
                if (!*path || path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
                        return error_setx(err, EINVAL,
                                          "--listen %s: expected unix:/ABSOLUTE/PATH (at most %zu bytes)",
                                          l->spec, sizeof(sa.sun_path) - 1);
                strcpy(sa.sun_path, path);
                /* a stale socket from an earlier run is replaced; any other file is left alone */
                if (lstat(path, &st) == 0) {
                        if (!S_ISSOCK(st.st_mode))
                                return error_setx(err, EEXIST, "--listen %s: %s exists and is not a socket",
                                                  l->spec, path);
                        unlink(path);
                }
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return error_set(err, errno, "--listen %s: socket", l->spec);
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        return error_set(err, errno, "--listen %s: bind", l->spec);
                if (chmod(path, 0660) < 0)
                        return error_set(err, errno, "--listen %s: chmod 0660", l->spec);
                l->unix_path = xstrdup(path);
        } else {
                _cleanup_free_ char *host = NULL;
                const char *colon = strrchr(l->spec, ':'), *port;
                struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                                          .ai_socktype = SOCK_STREAM };
                struct addrinfo *ai = NULL;
                int r;

                if (!colon || !colon[1])
                        return error_setx(
                                err, EINVAL,
                                "--listen %s: expected ADDR:PORT, [ADDR6]:PORT, :PORT or unix:PATH",
                                l->spec);
                port = colon + 1;
                host = xstrndup(l->spec, (size_t)(colon - l->spec));
                if (host[0] == '[') {
                        size_t hl = strlen(host);
                        if (hl < 3 || host[hl - 1] != ']')
                                return error_setx(err, EINVAL, "--listen %s: a bad [IPv6] address", l->spec);
                        host[hl - 1] = '\0';
                        memmove(host, host + 1, hl - 1);
                }
                r = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
                if (r != 0)
                        return error_setx(err, EINVAL, "--listen %s: %s", l->spec, gai_strerror(r));
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0) {
                        freeaddrinfo(ai);
                        return error_set(err, errno, "--listen %s: socket", l->spec);
                }
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                        r = errno;
                        freeaddrinfo(ai);
                        return error_set(err, r, "--listen %s: bind", l->spec);
                }
                freeaddrinfo(ai);
        }
        if (listen(fd, 1024) < 0)
                return error_set(err, errno, "--listen %s: listen", l->spec);
        l->fd = TAKE_FD(fd);
        l->tag = (Tag){ .kind = TAG_LISTEN, .fd = l->fd, .is_unix = l->unix_path != NULL };
        return 0;
}

#define GROUPS_MAX 64

typedef struct DropTo {
        uid_t uid;
        gid_t gid;
        gid_t groups[GROUPS_MAX + 1];
        size_t ngroups;
} DropTo;

/*
 * Looks the user and group up in /etc/passwd and /etc/group directly (fgetpwent, fgetgrent): the
 * binary is static, and glibc's NSS would dlopen the modules nsswitch.conf names (systemd, ldap) for
 * a name the files lack, which a static binary cannot do safely.
 */
static int resolve_user(const char *spec, DropTo *d, Error **err)
{
        _cleanup_free_ char *u = xstrdup(spec), *uname = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *g = strchr(u, ':');
        struct passwd *pw;
        struct group *gr;
        uint64_t x;
        bool found = false;

        if (g)
                *g++ = '\0';
        if (!*u || (g && !*g))
                return error_setx(err, EINVAL, "--user %s: expected USER[:GROUP]", spec);
        f = fopen("/etc/passwd", "re");
        while (f && (pw = fgetpwent(f)))
                if (STREQ(pw->pw_name, u)) {
                        d->uid = pw->pw_uid;
                        d->gid = pw->pw_gid;
                        uname = xstrdup(pw->pw_name);
                        found = true;
                        break;
                }
        if (!found) {
                if (parse_uint64(u, &x) < 0 || x >= 0xffffffffu)
                        return error_setx(err, ENOENT,
                                          "--user %s: no user %s in /etc/passwd and not a number", spec, u);
                d->uid = (uid_t)x;
                d->gid = (gid_t)x;
        }
        if (f) {
                fclose(f);
                f = NULL;
        }
        f = fopen("/etc/group", "re");
        found = !g;
        d->ngroups = 0;
        while (f && (gr = fgetgrent(f))) {
                if (g && !found && STREQ(gr->gr_name, g)) {
                        d->gid = gr->gr_gid;
                        found = true;
                }
                /* the named user's supplementary groups, as initgroups(3) would give them */
                for (char **m = gr->gr_mem; uname && m && *m && d->ngroups < GROUPS_MAX; m++)
                        if (STREQ(*m, uname)) {
                                d->groups[d->ngroups++] = gr->gr_gid;
                                break;
                        }
        }
        if (!found) {
                if (parse_uint64(g, &x) < 0 || x >= 0xffffffffu)
                        return error_setx(err, ENOENT,
                                          "--user %s: no group %s in /etc/group and not a number", spec, g);
                d->gid = (gid_t)x;
        }
        d->groups[d->ngroups++] = d->gid;
        if (d->uid == 0)
                return error_setx(err, EINVAL, "--user %s: dropping privileges to uid 0 drops nothing",
                                  spec);
        return 0;
}

static int drop_privileges(const DropTo *d, Error **err)
{
        if (setgroups(d->ngroups, d->groups) < 0)
                return error_set(err, errno, "--user: setting supplementary groups");
        if (setresgid(d->gid, d->gid, d->gid) < 0)
                return error_set(err, errno, "--user: setresgid %u", d->gid);
        if (setresuid(d->uid, d->uid, d->uid) < 0)
                return error_set(err, errno, "--user: setresuid %u", d->uid);
        if (setuid(0) == 0)
                return error_setx(err, EPERM, "--user: uid 0 could be regained after the drop");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_set(err, errno, "PR_SET_NO_NEW_PRIVS");
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: stockade-proxy [OPTIONS] [UPSTREAM_SOCKET]\n"
                "A filtering proxy for the docker/stockade engine API socket (docs/PROXY.md).\n\n"
                "Options:\n"
                "  -l, --listen ADDR:PORT|unix:PATH  where to listen (repeatable; default 127.0.0.1:2375)\n"
                "  -c, --config FILE         finer rules (allow/deny, allow-bind, NAME=VALUE)\n"
                "  -u, --user USER[:GROUP]   drop to this user after opening the sockets\n"
                "      --log-format text|json  decision log format (default text)\n"
                "      --log-file FILE       append the log to FILE instead of stderr\n"
                "      --max-conns N         client connections at once (default 4096)\n"
                "      --head-timeout SECS   close a connection that sends no complete request head\n"
                "                            within SECS (new or idle between requests; default 60, 0: never)\n"
                "      --check               check the settings and the configuration, then exit\n"
                "  -h, --help                this text\n\n"
                "The upstream socket is the argument, else $SOCKET_PATH, else /var/run/docker.sock.\n"
                "docker-socket-proxy's variables (CONTAINERS=1, POST=1, ...) select what passes.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "listen", required_argument, NULL, 'l' },   { "config", required_argument, NULL, 'c' },
                { "user", required_argument, NULL, 'u' },     { "log-format", required_argument, NULL, 'F' },
                { "log-file", required_argument, NULL, 'L' }, { "max-conns", required_argument, NULL, 'M' },
                { "head-timeout", required_argument, NULL, 'T' },
                { "check", no_argument, NULL, 'C' },          { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },        {},
        };
        Listener listeners[LISTEN_MAX];
        size_t nlisten = 0;
        const char *config = NULL, *user = NULL, *level;
        DropTo drop = { 0 };
        bool check = false;
        Error *err = NULL;
        sigset_t mask;
        Tag sigtag = { .kind = TAG_SIGNAL }, timertag = { .kind = TAG_TIMER };
        _cleanup_close_ int sfd = -EBADF, tfd = -EBADF;
        int opt;

        proxy_policy_init(&arg_policy);
        while ((opt = getopt_long(argc, argv, "l:c:u:h", opts, NULL)) != -1) {
                switch (opt) {
                case 'l':
                        if (nlisten == LISTEN_MAX) {
                                fprintf(stderr, "stockade-proxy: --listen: at most %d\n", LISTEN_MAX);
                                return 2;
                        }
                        listeners[nlisten++] = (Listener){ .spec = optarg, .fd = -1 };
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'u':
                        user = optarg;
                        break;
                case 'F':
                        if (STREQ(optarg, "json"))
                                arg_json = true;
                        else if (!STREQ(optarg, "text")) {
                                fprintf(stderr, "stockade-proxy: --log-format %s: expected text or json\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'L':
                        log_fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
                        if (log_fd < 0) {
                                fprintf(stderr, "stockade-proxy: --log-file %s: %s\n", optarg,
                                        strerror(errno));
                                return 1;
                        }
                        break;
                case 'M': {
                        uint64_t x;
                        if (parse_uint64(optarg, &x) < 0 || x < 1 || x > 1000000) {
                                fprintf(stderr, "stockade-proxy: --max-conns %s: expected 1 to 1000000\n",
                                        optarg);
                                return 2;
                        }
                        arg_max_conns = (unsigned)x;
                        break;
                }
                case 'T': {
                        uint64_t x;
                        if (parse_uint64(optarg, &x) < 0 || x > 86400) {
                                fprintf(stderr, "stockade-proxy: --head-timeout %s: expected seconds, 0 to 86400\n",
                                        optarg);
                                return 2;
                        }
                        arg_head_timeout_ms = (int64_t)x * 1000;
                        break;
                }
                case 'C':
                        check = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("stockade-proxy %s\n", STOCKADE_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc - 1) {
                fprintf(stderr, "stockade-proxy: one upstream socket at most, got \"%s\" too\n",
                        argv[optind + 1]);
                return 2;
        }
        if (optind < argc)
                arg_upstream = argv[optind];
        else if (getenv("SOCKET_PATH") && *getenv("SOCKET_PATH"))
                arg_upstream = getenv("SOCKET_PATH");
        if (arg_upstream[0] != '/' || strlen(arg_upstream) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                fprintf(stderr,
                        "stockade-proxy: upstream socket %s: expected an absolute path of at most 107 "
                        "bytes\n",
                        arg_upstream);
                return 2;
        }
        level = getenv("LOG_LEVEL");
        if (level && *level) {
                if (STREQ(level, "debug") || STREQ(level, "info"))
                        arg_log_allowed = true;
                else if (STREQ(level, "notice") || STREQ(level, "warning") || STREQ(level, "err") ||
                         STREQ(level, "crit") || STREQ(level, "alert") || STREQ(level, "emerg"))
                        arg_log_allowed = false; /* denials only */
                else {
                        fprintf(stderr,
                                "stockade-proxy: LOG_LEVEL=%s: expected debug, info, notice, warning, err, "
                                "crit, alert or emerg\n",
                                level);
                        return 2;
                }
        }
        if (proxy_policy_from_env(&arg_policy, &err) < 0)
                goto fail;
        if (config) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = read_file_at(AT_FDCWD, config, PROXY_CONFIG_MAX, &text, &len);
                if (r < 0) {
                        error_set(&err, -r, "--config %s", config);
                        goto fail;
                }
                if (proxy_policy_load(&arg_policy, text, len, config, &err) < 0)
                        goto fail;
        }
        if (user && resolve_user(user, &drop, &err) < 0)
                goto fail;
        if (check) {
                printf("configuration OK\n");
                return 0;
        }
        if (nlisten == 0)
                listeners[nlisten++] = (Listener){ .spec = "127.0.0.1:2375", .fd = -1 };

        arg_epfd = epoll_create1(EPOLL_CLOEXEC);
        if (arg_epfd < 0) {
                error_set(&err, errno, "epoll_create1");
                goto fail;
        }
        for (size_t i = 0; i < nlisten; i++) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listeners[i].tag };
                if (open_listener(&listeners[i], &err) < 0)
                        goto fail;
                if (epoll_ctl(arg_epfd, EPOLL_CTL_ADD, listeners[i].fd, &ev) < 0) {
                        error_set(&err, errno, "epoll_ctl");
                        goto fail;
                }
        }
        if (user) {
                for (size_t i = 0; i < nlisten; i++)
                        if (listeners[i].unix_path &&
                            chown(listeners[i].unix_path, drop.uid, drop.gid) < 0) {
                                error_set(&err, errno, "--listen %s: chown to %u:%u", listeners[i].spec,
                                          drop.uid, drop.gid);
                                goto fail;
                        }
                if (drop_privileges(&drop, &err) < 0)
                        goto fail;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (sfd < 0 || tfd < 0) {
                error_set(&err, errno, "signalfd/timerfd");
                goto fail;
        }
        {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &sigtag };
                struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &timertag };
                epoll_ctl(arg_epfd, EPOLL_CTL_ADD, sfd, &ev);
                epoll_ctl(arg_epfd, EPOLL_CTL_ADD, tfd, &tev);
        }
        for (size_t i = 0; i < nlisten; i++)
                log_line("listening on %s, upstream %s", listeners[i].spec, arg_upstream);

        int64_t last_sweep = mono_ms();
        for (;;) {
                struct epoll_event evs[128];
                /* with connections and a head timeout, wake at least once a second to sweep */
                int n = epoll_wait(arg_epfd, evs, ELEMENTSOF(evs), conns && arg_head_timeout_ms ? 1000 : -1);

                if (n < 0 && errno != EINTR) {
                        log_line("epoll_wait: %s", strerror(errno));
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        Tag *t = evs[i].data.ptr;
                        switch (t->kind) {
                        case TAG_LISTEN:
                                accept_all(t);
                                break;
                        case TAG_CLIENT:
                        case TAG_UPSTREAM:
                                /* a connection closed earlier in this batch (or this upstream fd replaced)
                                 */
                                if (t->conn->dead || (t->kind == TAG_UPSTREAM && t->fd != t->conn->ufd))
                                        break;
                                conn_event(t->conn, t->kind == TAG_CLIENT, evs[i].events);
                                break;
                        case TAG_SIGNAL: {
                                struct signalfd_siginfo si;
                                struct itimerspec its = { .it_value.tv_sec = SHUTDOWN_GRACE };
                                if (read(sfd, &si, sizeof(si)) != sizeof(si) || shutting_down)
                                        break;
                                shutting_down = true;
                                log_line("signal %u: closing the listeners and the streams", si.ssi_signo);
                                for (size_t l = 0; l < nlisten; l++) {
                                        close(listeners[l].fd);
                                        if (listeners[l].unix_path)
                                                unlink(listeners[l].unix_path);
                                }
                                /* idle connections and open streams end now; requests in flight get the
                                 * grace */
                                for (Conn *c = conns, *next; c; c = next) {
                                        next = c->next;
                                        if ((c->rq == RQ_HEAD && c->rs == RS_IDLE && !c->in.len) ||
                                            c->stream || c->rq == RQ_TUNNEL)
                                                conn_free(c);
                                }
                                timerfd_settime(tfd, 0, &its, NULL);
                                break;
                        }
                        case TAG_TIMER:
                        default:
                                log_line("shutdown: %u connections still open after %d s, closing them",
                                         nconns, SHUTDOWN_GRACE);
                                while (conns)
                                        conn_free(conns);
                                break;
                        }
                }
                if (arg_head_timeout_ms && mono_ms() - last_sweep >= 1000) {
                        sweep_idle();
                        last_sweep = mono_ms();
                }
                bury_dead();
                log_flush();
                if (shutting_down && !conns) {
                        log_line("stopped");
                        for (size_t l = 0; l < nlisten; l++)
                                free(listeners[l].unix_path);
                        proxy_policy_free(&arg_policy);
                        buf_free(&log_buf);
                        close(arg_epfd);
                        return 0;
                }
        }
fail:
        fprintf(stderr, "stockade-proxy: %s\n", err->msg);
        error_free(err);
        return 1;
}
