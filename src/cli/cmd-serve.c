/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `stockade serve`: the Docker Engine API on a unix socket (docs/API.md).
 *
 * One process per connection, forked from the listener and capped (--max-connections): the engine
 * is the CLI's, written for one command per process and safe across processes (flock), so a
 * connection's process is the CLI running one client's requests.  A blocking request (wait, attach,
 * logs -f, events) holds only its own process, and a crash ends only its own connection.  The
 * listener itself parses nothing a client sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "cli.h"
#include "json-util.h"
#include "pflag.h"
#include "serve.h"
#include "util.h"

#define DEFAULT_SOCKET     "/run/stockade/stockade.sock"
#define IDLE_TIMEOUT_MS    (120 * 1000) /* a keep-alive connection with no request */
/* --tls: the helper and its arguments (stockade-tls-proxy CERT KEY CA|-) */
static char *arg_tls_proxy;
static const char *arg_tls_cert, *arg_tls_key, *arg_tls_ca;

/* --request-timeout: from a request's first byte to the end of its head, and between two pieces of its body */
static int64_t arg_request_timeout_ms = 30 * 1000;
#define HEAD_TIMEOUT_MS    arg_request_timeout_ms
#define BODY_TIMEOUT_MS    arg_request_timeout_ms
#define WRITE_TIMEOUT_S    60           /* a client that does not read its response */

static const char *status_text(int s)
{
        switch (s) {
        case 101: return "UPGRADED";
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Request Entity Too Large";
        case 414: return "Request URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return s >= 500 ? "Internal Server Error" : "Error";
        }
}

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

static int64_t now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int api_write(ApiConn *c, const void *p, size_t n)
{
        if (write_all(c->fd, p, n) < 0) {
                c->close_after = true;
                return -EPIPE;
        }
        return 0;
}

/* The headers every dockerd response carries, in its order. */
static void common_headers(Buf *b, ApiConn *c, const char *ctype)
{
        char date[64];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        buf_printf(b, "Api-Version: %s\r\n", API_VERSION);
        if (ctype)
                buf_printf(b, "Content-Type: %s\r\n", ctype);
        buf_printf(b, "Docker-Experimental: false\r\nOstype: linux\r\nServer: Stockade/%s (linux)\r\nDate: %s\r\n",
                   STOCKADE_VERSION, date);
}

static int send_head(ApiConn *c, Buf *b)
{
        int r = api_write(c, b->data, b->len);
        buf_free(b);
        return r;
}

int api_reply(ApiConn *c, int status, const char *ctype, const char *body, size_t len)
{
        Buf b = { 0 };
        c->status = status;
        buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, status_text(status));
        common_headers(&b, c, ctype);
        buf_printf(&b, "Content-Length: %zu\r\n", len);
        if (c->close_after)
                buf_printf(&b, "Connection: close\r\n");
        buf_printf(&b, "\r\n");
        if (!c->head && len)
                buf_put(&b, body, len);
        return send_head(c, &b);
}

int api_reply_status(ApiConn *c, int status)
{
        Buf b = { 0 };
        c->status = status;
        buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, status_text(status));
        common_headers(&b, c, NULL);
        buf_printf(&b, "\r\n");
        return send_head(c, &b);
}

int api_reply_json(ApiConn *c, int status, json_t *j)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        Buf b = { 0 };
        buf_printf(&b, "%s\n", text ? text : "null");
        int r = api_reply(c, status, "application/json", b.data, b.len);
        buf_free(&b);
        return r;
}

int api_reply_error(ApiConn *c, int status, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        snprintf(c->outcome, sizeof(c->outcome), "%s", msg);
        /* a message may quote a client's bytes (a name, a path): valid UTF-8 for the JSON, as Go writes it */
        _cleanup_free_ char *text = utf8_sanitize(msg, strlen(msg), NULL);
        _cleanup_json_ json_t *j = json_pack("{s:s}", "message", text);
        return api_reply_json(c, status, j);
}

int api_reply_err(ApiConn *c, Error *err)
{
        int status = 500;
        if (!err)
                return api_reply_error(c, 500, "internal error");
        switch (err->errnum) {
        case ENOENT: case ESRCH: status = 404; break;
        case EEXIST: case EBUSY: case EALREADY: status = 409; break;
        case EINVAL: case ERANGE: case E2BIG: status = 400; break;
        case EPERM: case EACCES: status = 403; break;
        default: break;
        }
        if (err->msg && strncmp(err->msg, "No such ", 8) == 0)
                status = 404;
        int r = api_reply_error(c, status, "%s", err->msg ? err->msg : "error");
        error_free(err);
        return r;
}

int api_chunked_begin(ApiConn *c, int status, const char *ctype)
{
        Buf b = { 0 };
        c->status = status;
        buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, status_text(status));
        common_headers(&b, c, ctype);
        buf_printf(&b, "Transfer-Encoding: chunked\r\n\r\n");
        return send_head(c, &b);
}

int api_chunk(ApiConn *c, const void *p, size_t n)
{
        char h[32];
        if (n == 0)
                return 0;
        int k = snprintf(h, sizeof(h), "%zx\r\n", n);
        if (api_write(c, h, (size_t)k) < 0 || api_write(c, p, n) < 0 || api_write(c, "\r\n", 2) < 0)
                return -EPIPE;
        return 0;
}

int api_chunk_end(ApiConn *c)
{
        return api_write(c, "0\r\n\r\n", 5);
}

int api_hijack(ApiConn *c, bool tty)
{
        Buf b = { 0 };
        const char *ct = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        c->hijacked = true;
        c->close_after = true;
        if (c->req.upgrade) {
                c->status = 101;
                buf_printf(&b, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                           c->version < 142 && !tty ? "application/vnd.docker.raw-stream" : ct);
        } else {
                c->status = 200;
                buf_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n",
                           c->version < 142 && !tty ? "application/vnd.docker.raw-stream" : ct);
        }
        return send_head(c, &b);
}

/* Waits for the socket to be readable until deadline_ms (monotonic); 0 ready, -ETIMEDOUT. */
static int wait_readable(int fd, int64_t deadline_ms)
{
        for (;;) {
                int64_t left = deadline_ms - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

ssize_t api_conn_read(ApiConn *c, void *p, size_t n)
{
        if (c->len) {
                size_t k = c->len < n ? c->len : n;
                memcpy(p, c->buf, k);
                memmove(c->buf, c->buf + k, c->len - k);
                c->len -= k;
                return (ssize_t)k;
        }
        for (;;) {
                ssize_t k = read(c->fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                return k < 0 ? -errno : k;
        }
}

/* Fills c->buf from the socket within the body timeout; bytes read, 0 at EOF. */
static ssize_t fill(ApiConn *c, int64_t timeout_ms)
{
        if (c->len == sizeof(c->buf))
                return -ENOBUFS;
        int r = wait_readable(c->fd, now_ms() + timeout_ms);
        if (r < 0)
                return r;
        ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (k < 0)
                return errno == EINTR ? -EAGAIN : -errno;
        c->len += (size_t)k;
        return k;
}

ssize_t api_body_read(ApiConn *c, char *p, size_t n)
{
        if (c->body_read)
                return 0;
        if (!c->req.chunked) {
                if (c->body_left <= 0) {
                        c->body_read = true;
                        return 0;
                }
                if (c->len == 0) {
                        ssize_t k = fill(c, BODY_TIMEOUT_MS);
                        if (k <= 0)
                                return k == 0 ? -EPIPE : k;
                }
                size_t take = c->len < n ? c->len : n;
                if ((int64_t)take > c->body_left)
                        take = (size_t)c->body_left;
                memcpy(p, c->buf, take);
                memmove(c->buf, c->buf + take, c->len - take);
                c->len -= take;
                c->body_left -= (int64_t)take;
                return (ssize_t)take;
        }
        for (;;) {
                size_t used = 0, out = 0;
                Error *err = NULL;
                if (c->len == 0) {
                        ssize_t k = fill(c, BODY_TIMEOUT_MS);
                        if (k <= 0)
                                return k == 0 ? -EPIPE : k;
                }
                size_t avail = c->len < n ? c->len : n;
                /* decode into p: never more output than input */
                int r = http_chunked_decode(&c->chunked, c->buf, avail, &used, p, &out, &err);
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                if (r < 0) {
                        error_free(err);
                        c->close_after = true;
                        return -EBADMSG;
                }
                if (r == 1)
                        c->body_read = true;
                if (out > 0 || r == 1)
                        return (ssize_t)out;
        }
}

int api_read_body(ApiConn *c, size_t max, char **ret, size_t *ret_len)
{
        Buf b = { 0 };
        char tmp[16384];

        if (c->req.content_length > (int64_t)max) {
                c->close_after = true;
                return api_reply_error(c, 413, "request body larger than %zu bytes", max), -E2BIG;
        }
        for (;;) {
                ssize_t k = api_body_read(c, tmp, sizeof(tmp));
                if (k < 0) {
                        buf_free(&b);
                        c->close_after = true;
                        if (k == -EBADMSG)
                                return api_reply_error(c, 400, "malformed chunked request body"), (int)k;
                        return (int)k;
                }
                if (k == 0)
                        break;
                if (b.len + (size_t)k > max) {
                        buf_free(&b);
                        c->close_after = true;
                        return api_reply_error(c, 413, "request body larger than %zu bytes", max), -E2BIG;
                }
                buf_put(&b, tmp, (size_t)k);
        }
        buf_put(&b, "", 1);
        *ret_len = b.len - 1;
        *ret = b.data;
        return 0;
}

int api_json_body(ApiConn *c, bool required, json_t **ret)
{
        const char *ct = http_request_header(&c->req, "Content-Type");
        bool has_body = c->req.chunked || c->req.content_length > 0;
        _cleanup_free_ char *body = NULL;
        json_error_t je;
        json_t *j;
        size_t len;

        if ((required || has_body || (ct && *ct)) && (!ct || strncmp(ct, "application/json", 16) != 0))
                return api_reply_error(c, 400, "Content-Type specified (%s) must be 'application/json'", ct ? ct : ""), -EINVAL;
        if (!has_body && !required) {
                *ret = json_object();
                return 0;
        }
        if (api_read_body(c, API_BODY_MAX, &body, &len) < 0)
                return -EINVAL;
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return api_reply_error(c, 400, "invalid JSON in the request body: %s (line %d, column %d)", je.text, je.line,
                                       je.column), -EINVAL;
        if (!json_is_object(j)) {
                json_decref(j);
                return api_reply_error(c, 400, "the request body: expected a JSON object"), -EINVAL;
        }
        *ret = j;
        return 0;
}

char *api_query(ApiConn *c, const char *key)
{
        return http_query_get(c->req.query, key);
}

bool api_query_bool(ApiConn *c, const char *key)
{
        _cleanup_free_ char *v = api_query(c, key);
        /* dockerd's BoolValue: anything but "", "0", "no", "false", "none" */
        if (!v)
                return false;
        return !(STREQ(v, "") || STREQ(v, "0") || strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
                 strcasecmp(v, "none") == 0);
}

void api_actor(ApiConn *c, const char *action, const char *type, const char *id, const char *name)
{
        if (action)
                snprintf(c->action, sizeof(c->action), "%s", action);
        if (type)
                snprintf(c->actor_type, sizeof(c->actor_type), "%s", type);
        if (id)
                snprintf(c->actor_id, sizeof(c->actor_id), "%s", id);
        if (name)
                snprintf(c->actor_name, sizeof(c->actor_name), "%s", name[0] == '/' ? name + 1 : name);
}

void api_cli_child(ApiConn *c, cmd_fn fn, char **argv)
{
        signal(SIGPIPE, SIG_DFL);
        int status = fn(c->e, (int)strv_length(argv), argv);
        fflush(stdout);
        fflush(stderr);
        _exit(status & 0xff);
}

pid_t api_spawn_cli(ApiConn *c, cmd_fn fn, char **argv, int in_fd, int *stdout_fd, int *stderr_fd)
{
        int o[2] = { -1, -1 }, er[2] = { -1, -1 };
        pid_t pid;

        if (pipe2(o, O_CLOEXEC) < 0 || (stderr_fd && pipe2(er, O_CLOEXEC) < 0)) {
                if (o[0] >= 0)
                        close(o[0]), close(o[1]);
                return -errno;
        }
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                close(c->fd);
                dup2(in_fd >= 0 ? in_fd : null, 0);
                dup2(o[1], 1);
                dup2(stderr_fd ? er[1] : o[1], 2);
                api_cli_child(c, fn, argv);
        }
        close(o[1]);
        if (stderr_fd)
                close(er[1]);
        if (pid < 0) {
                close(o[0]);
                if (stderr_fd)
                        close(er[0]);
                return -errno;
        }
        *stdout_fd = o[0];
        if (stderr_fd)
                *stderr_fd = er[0];
        return pid;
}

int api_run_cli(ApiConn *c, cmd_fn fn, char **argv, char **ret_out, char **ret_err)
{
        int ofd = -1, efd = -1, st = 0;
        Buf out = { 0 }, err = { 0 };
        pid_t pid = api_spawn_cli(c, fn, argv, -1, &ofd, &efd);

        if (pid < 0)
                return 125;
        while (ofd >= 0 || efd >= 0) {
                struct pollfd p[2] = { { .fd = ofd, .events = POLLIN }, { .fd = efd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                for (int i = 0; i < 2; i++) {
                        int *fd = i ? &efd : &ofd;
                        Buf *b = i ? &err : &out;
                        char tmp[8192];
                        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t k = read(*fd, tmp, sizeof(tmp));
                        if (k <= 0) {
                                close(*fd);
                                *fd = -1;
                        } else if (b->len + (size_t)k <= (16u << 20))
                                buf_put(b, tmp, (size_t)k);
                }
        }
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (ret_out)
                *ret_out = xstrdup(buf_cstr(&out));
        if (ret_err)
                *ret_err = xstrdup(buf_cstr(&err));
        buf_free(&out);
        buf_free(&err);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *api_cli_message(const char *err_text)
{
        static const char *const prefixes[] = { "stockade: ", "Error response from daemon: ", "Error: " };
        _cleanup_free_ char *t = xstrdup(err_text ? err_text : "");
        char *line = NULL, *save = NULL;
        /* the last line that says something: not the usage hint ("See 'stockade save --help'.") */
        for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (!str_has_prefix(l, "See '") && *l)
                        line = l;
        if (!line)
                return xstrdup("failed");
        for (bool again = true; again;) {
                again = false;
                for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                        if (str_has_prefix(line, prefixes[i])) {
                                line += strlen(prefixes[i]);
                                again = true;
                        }
        }
        return xstrdup(*line ? line : "failed");
}

/* One audit record per request: who (SO_PEERCRED), what (method and target), the outcome. */
static void audit_request(ApiConn *c)
{
        _cleanup_free_ char *tls = c->tls_subject[0] ? xasprintf("tls-client=%s", c->tls_subject) : NULL;
        char *cmd[] = { (char *)c->req.method, (char *)c->req.target, tls, NULL };
        AuditEntry a = { .action = c->action[0] ? c->action : "api",
                         .actor_type = c->actor_type[0] ? c->actor_type : NULL,
                         .actor_id = c->actor_id,
                         .actor_name = c->actor_name,
                         .command = cmd,
                         .outcome = c->outcome[0] ? c->outcome : (c->status >= 400 ? "failed" : NULL),
                         .peer = c->peer_known ? &c->peer : NULL };
        Error *err = NULL;
        if (audit_record(c->e, &a, &err) < 0) {
                fprintf(stderr, "stockade serve: warning: the audit log did not record %s %s: %s\n", c->req.method,
                        c->req.target, err->msg);
                error_free(err);
        }
}

/* Strips /vX.Y and checks the version as dockerd's middleware does; 1 when answered already. */
static int route_version(ApiConn *c)
{
        const char *p = c->req.path;
        c->version = API_VERSION_NUM;
        c->route = p;
        if (p[0] == '/' && p[1] == 'v') {
                const char *slash = strchr(p + 2, '/');
                size_t n = slash ? (size_t)(slash - (p + 2)) : strlen(p + 2);
                int v = http_api_version(p + 2, n);
                if (v < 0)
                        return 0; /* not a version: an ordinary (unknown) path */
                c->route = slash ? slash : "/";
                c->version = v;
                if (v > API_VERSION_NUM) {
                        api_reply_error(c, 400, "client version %.*s is too new. Maximum supported API version is %s", (int)n,
                                        p + 2, API_VERSION);
                        return 1;
                }
                if (v < API_MIN_VERSION_NUM) {
                        char msg[256];
                        int k = snprintf(msg, sizeof(msg),
                                         "client version %.*s is too old. Minimum supported API version is 1.12, please upgrade "
                                         "your client to a newer version\n",
                                         (int)n, p + 2);
                        snprintf(c->outcome, sizeof(c->outcome), "client version too old");
                        api_reply(c, 400, "text/plain; charset=utf-8", msg, (size_t)k);
                        return 1;
                }
        }
        return 0;
}

/* Discards what is left of a request body so the next request can be read. */
static int drain_body(ApiConn *c)
{
        char tmp[16384];
        size_t total = 0;
        for (;;) {
                ssize_t k = api_body_read(c, tmp, sizeof(tmp));
                if (k <= 0)
                        return (int)k;
                total += (size_t)k;
                if (total > API_BODY_MAX)
                        return -E2BIG;
        }
}

/*
 * After refusing a request whose bytes are still coming: stop writing, and read (and drop) what the
 * client still sends for a moment, so that closing does not reset the connection before the client
 * has read the answer.
 */
static void lingering_close(ApiConn *c)
{
        char tmp[16384];
        size_t total = 0;
        int64_t deadline = now_ms() + 1000;
        (void)shutdown(c->fd, SHUT_WR);
        while (total < (4u << 20) && wait_readable(c->fd, deadline) == 0) {
                ssize_t k = read(c->fd, tmp, sizeof(tmp));
                if (k <= 0)
                        break;
                total += (size_t)k;
        }
}

static void serve_connection(ApiConn *c)
{
        for (;;) {
                int64_t deadline = now_ms() + IDLE_TIMEOUT_MS;
                bool started = c->len > 0;
                int status = 0, r;
                Error *err = NULL;

                /* the head: idle timeout until its first byte, then the head timeout (slow clients) */
                for (;;) {
                        r = http_request_parse(c->buf, c->len, &c->req, &status, &err);
                        if (r != 0)
                                break;
                        if (!started && c->len > 0) {
                                started = true;
                                deadline = now_ms() + HEAD_TIMEOUT_MS;
                        }
                        if (wait_readable(c->fd, deadline) < 0) {
                                if (started) {
                                        c->close_after = true;
                                        c->req.method = "GET";
                                        (void)api_reply_error(c, 408, "timed out reading the request head");
                                }
                                return;
                        }
                        ssize_t k = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                return;
                        c->len += (size_t)k;
                }
                if (r < 0) {
                        HttpRequest bad = { .method = "GET", .target = "?" };
                        c->close_after = true;
                        c->req = bad;
                        (void)api_reply_error(c, status, "%s", err->msg);
                        audit_request(c);
                        error_free(err);
                        lingering_close(c);
                        return;
                }
                memmove(c->buf, c->buf + r, c->len - (size_t)r);
                c->len -= (size_t)r;
                c->head = STREQ(c->req.method, "HEAD");
                c->close_after = !c->req.keep_alive;
                c->hijacked = false;
                c->body_read = false;
                c->body_left = c->req.content_length > 0 ? c->req.content_length : 0;
                memset(&c->chunked, 0, sizeof(c->chunked));
                c->action[0] = c->actor_type[0] = c->actor_id[0] = c->actor_name[0] = c->outcome[0] = '\0';
                c->status = 0;

                if (route_version(c) == 0)
                        r = api_dispatch(c);
                audit_request(c);
                if (r < 0 || c->close_after || c->hijacked) {
                        http_request_done(&c->req);
                        return;
                }
                if (drain_body(c) < 0) {
                        http_request_done(&c->req);
                        return;
                }
                http_request_done(&c->req);
        }
}

/*
 * A TLS connection: stockade-tls-proxy gets the TCP socket and does the handshake (verifying the
 * client's certificate with --tlsverify); this process serves HTTP over a socketpair to it.  The
 * proxy's first line is the client certificate's subject, for the audit record.
 */
static int tls_start(ApiConn *c)
{
        int sp[2];
        pid_t pid;
        size_t n = 0;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return -errno;
        pid = fork();
        if (pid == 0) {
                char *argv[] = { arg_tls_proxy, (char *)arg_tls_cert, (char *)arg_tls_key, (char *)arg_tls_ca, NULL };
                dup2(c->fd, 0);
                dup2(sp[1], 1);
                execv(argv[0], argv);
                _exit(127);
        }
        close(sp[1]);
        close(c->fd);
        c->fd = sp[0];
        if (pid < 0)
                return -EIO;
        /* the subject line, within the head timeout (a client stuck in the handshake is cut off there) */
        for (int64_t deadline = now_ms() + HEAD_TIMEOUT_MS;;) {
                char ch;
                if (wait_readable(c->fd, deadline) < 0 || read(c->fd, &ch, 1) != 1)
                        return -EIO;
                if (ch == '\n')
                        break;
                if (n + 1 < sizeof(c->tls_subject))
                        c->tls_subject[n++] = ch;
        }
        c->tls_subject[n] = '\0';
        return 0;
}

/* ---- the listener ---- */

typedef struct ServeOpts {
        char **hosts;
        const char *group;
        int max_conns;
} ServeOpts;

static int listen_unix(const char *path, const char *group, Error **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        struct group *g;
        mode_t old;

        if (strlen(path) >= sizeof(sa.sun_path))
                return error_setx(err, ENAMETOOLONG, "-H unix://%s: the path is longer than %zu bytes", path,
                                  sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);
        dir = xstrdup(path);
        if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
                *strrchr(dir, '/') = '\0';
                (void)mkdir_p(dir, 0755);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(err, errno, "socket");
        /* a stale socket of a previous server: remove it, but never a live one or another kind of file */
        {
                struct stat st;
                if (lstat(path, &st) == 0) {
                        if (!S_ISSOCK(st.st_mode))
                                return error_setx(err, EEXIST, "-H unix://%s: exists and is not a socket", path);
                        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                                return error_setx(err, EADDRINUSE, "-H unix://%s: another server is listening there", path);
                        (void)unlink(path);
                }
        }
        old = umask(0177);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                umask(old);
                return error_set(err, errno, "-H unix://%s: bind", path);
        }
        umask(old);
        /* dockerd's: 0660, group docker (ours: stockade) when it exists, else root only */
        g = getgrnam(group);
        if (g && chown(path, 0, g->gr_gid) < 0)
                return error_set(err, errno, "-H unix://%s: chown to group %s", path, group);
        if (chmod(path, g ? 0660 : 0600) < 0)
                return error_set(err, errno, "-H unix://%s: chmod", path);
        if (listen(fd, 1024) < 0)
                return error_set(err, errno, "-H unix://%s: listen", path);
        return TAKE_FD(fd);
}

static int listen_tcp(const char *addr, Error **err)
{
        _cleanup_free_ char *host = xstrdup(addr);
        char *colon = strrchr(host, ':');
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
        int fd, one = 1, r;

        if (!colon || !colon[1])
                return error_setx(err, EINVAL, "-H tcp://%s: the address needs a port (tcp://ADDR:PORT)", addr);
        *colon = '\0';
        if (host[0] == '[' && colon > host && colon[-1] == ']') {
                colon[-1] = '\0';
                memmove(host, host + 1, strlen(host));
        }
        r = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
        if (r != 0)
                return error_setx(err, EINVAL, "-H tcp://%s: %s", addr, gai_strerror(r));
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                freeaddrinfo(ai);
                return error_set(err, errno, "socket");
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
                r = errno;
                freeaddrinfo(ai);
                close(fd);
                return error_set(err, r, "-H tcp://%s: bind", addr);
        }
        freeaddrinfo(ai);
        return fd;
}

/* Closes the first n listeners and removes their unix socket files; frees hosts and lfds. */
static void close_listeners(char **hosts, int *lfds, size_t n)
{
        for (size_t i = 0; i < n && hosts[i]; i++) {
                const char *h = hosts[i];
                const char *path = strncmp(h, "unix://", 7) == 0 ? h + 7 : h[0] == '/' ? h : NULL;
                if (path)
                        (void)unlink(path);
        }
        for (size_t i = 0; i < n && lfds && i < 16; i++)
                if (lfds[i] >= 0)
                        close(lfds[i]);
        strv_free(hosts);
        free(lfds);
}

/* Answers a connection over the cap without forking: 503, then close. */
static void refuse_busy(int fd)
{
        static const char body[] = "{\"message\":\"too many connections, try again later\"}\n";
        char msg[256];
        int n = snprintf(msg, sizeof(msg),
                         "HTTP/1.1 503 Service Unavailable\r\nApi-Version: " API_VERSION
                         "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         sizeof(body) - 1, body);
        (void)!send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int cmd_serve(Engine *e, int argc, char **argv)
{
        char **hosts = NULL;
        const char *group = "stockade", *max = "1024", *req_timeout = "30";
        bool tls = false, tlsverify = false;
        const char *tlscacert = NULL, *tlscert = NULL, *tlskey = NULL;
        bool *ltls = NULL;
        Pflag flags[] = {
                { "host", 'H', PFLAG_STRINGS, &hosts, NULL, "Socket to listen on: unix://PATH or tcp://ADDR:PORT" },
                { "group", 'G', PFLAG_STRING, &group, NULL, "Group for the unix socket (default \"stockade\")" },
                { "max-connections", 0, PFLAG_STRING, &max, NULL, "Connections served at once (default 1024)" },
                { "request-timeout", 0, PFLAG_STRING, &req_timeout, NULL,
                  "Seconds a client may take to send a request head, or between pieces of a body (default 30)" },
                { "tls", 0, PFLAG_BOOL, &tls, NULL, "Use TLS on tcp:// sockets; implied by --tlsverify" },
                { "tlsverify", 0, PFLAG_BOOL, &tlsverify, NULL, "Use TLS and require client certificates signed by --tlscacert" },
                { "tlscacert", 0, PFLAG_STRING, &tlscacert, NULL, "Trust certs signed only by this CA" },
                { "tlscert", 0, PFLAG_STRING, &tlscert, NULL, "Path to TLS certificate file" },
                { "tlskey", 0, PFLAG_STRING, &tlskey, NULL, "Path to TLS key file" },
                { 0 },
        };
        int *lfds = NULL;
        size_t nl = 0;
        pid_t *kids = NULL;
        int64_t cap;
        size_t nkids = 0;
        Error *err = NULL;
        int idx = 1, sfd;
        sigset_t mask;

        for (int i = 1; i < argc; i++)
                if (STREQ(argv[i], "--help")) {
                        printf("\nUsage:  stockade serve [OPTIONS]\n\nServe the Docker Engine API 1.41 (docs/API.md)\n");
                        pflag_usage(flags);
                        return 0;
                }
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx != argc)
                return cli_failf(argv[0], "\"stockade serve\" accepts no arguments.");
        if (parse_int64(max, &cap) < 0 || cap < 1 || cap > 65536)
                return cli_failf(argv[0], "--max-connections: \"%s\" is not a number from 1 to 65536", max);
        {
                int64_t t;
                if (parse_int64(req_timeout, &t) < 0 || t < 1 || t > 3600)
                        return cli_failf(argv[0], "--request-timeout: \"%s\" is not a number of seconds from 1 to 3600",
                                         req_timeout);
                arg_request_timeout_ms = t * 1000;
        }
        tls |= tlsverify;
        if (tls) {
                const char *const need[][2] = { { "--tlscert", tlscert }, { "--tlskey", tlskey },
                                                { "--tlscacert", tlsverify ? tlscacert : "" } };
                for (size_t i = 0; i < ELEMENTSOF(need); i++) {
                        if (!need[i][1])
                                return cli_failf(argv[0], "%s: required with --tls%s", need[i][0], tlsverify ? "verify" : "");
                        if (*need[i][1] && access(need[i][1], R_OK) < 0)
                                return cli_failf(argv[0], "%s %s: %s", need[i][0], need[i][1], strerror(errno));
                }
                arg_tls_proxy = engine_helper_path(e, "stockade-tls-proxy");
                if (access(arg_tls_proxy, X_OK) < 0)
                        return cli_failf(argv[0], "--tls: %s: %s", arg_tls_proxy, strerror(errno));
                arg_tls_cert = tlscert;
                arg_tls_key = tlskey;
                arg_tls_ca = tlsverify ? tlscacert : "-";
        } else if (tlscacert || tlscert || tlskey)
                return cli_failf(argv[0], "--tlscacert, --tlscert, --tlskey: given without --tls or --tlsverify");
        if (!hosts)
                strv_push(&hosts, DEFAULT_SOCKET);
        for (char **h = hosts; *h; h++) {
                int fd;
                const char *spec = *h;
                if (strncmp(spec, "unix://", 7) == 0)
                        fd = listen_unix(spec + 7, group, &err);
                else if (spec[0] == '/')
                        fd = listen_unix(spec, group, &err);
                else if (strncmp(spec, "tcp://", 6) == 0) {
                        if (!tls)
                                fprintf(stderr,
                                        "stockade serve: WARNING: serving the API on %s WITHOUT TLS: anyone who can reach this\n"
                                        "stockade serve: WARNING: address can run containers as root on this host.\n",
                                        spec);
                        else if (!tlsverify)
                                fprintf(stderr,
                                        "stockade serve: WARNING: %s uses TLS without --tlsverify: any client that can reach it\n"
                                        "stockade serve: WARNING: can run containers as root on this host.\n",
                                        spec);
                        fd = listen_tcp(spec + 6, &err);
                } else {
                        int rc = cli_failf(argv[0], "-H %s: expected unix://PATH or tcp://ADDR:PORT", spec);
                        close_listeners(hosts, lfds, nl);
                        free(ltls);
                        return rc;
                }
                if (fd < 0) {
                        close_listeners(hosts, lfds, nl);
                        free(ltls);
                        return cli_fail(NULL, err);
                }
                if (nl == 16) {
                        close(fd);
                        close_listeners(hosts, lfds, nl + 1); /* this one's socket file too */
                        free(ltls);
                        return cli_failf(argv[0], "-H: at most 16 sockets");
                }
                lfds = xrealloc(lfds, (nl + 1) * sizeof(int));
                ltls = xrealloc(ltls, (nl + 1) * sizeof(bool));
                ltls[nl] = tls && strncmp(spec, "tcp://", 6) == 0;
                lfds[nl++] = fd;
                fprintf(stderr, "stockade serve: API listening on %s\n", spec);
        }
        kids = xcalloc((size_t)cap, sizeof(pid_t));
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        signal(SIGPIPE, SIG_IGN);

        for (bool stop = false; !stop;) {
                struct pollfd p[17];
                p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
                for (size_t i = 0; i < nl; i++)
                        p[i + 1] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
                if (poll(p, nl + 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si))
                                if (si.ssi_signo != SIGCHLD)
                                        stop = true;
                        for (;;) {
                                pid_t w = waitpid(-1, NULL, WNOHANG);
                                if (w <= 0)
                                        break;
                                for (size_t i = 0; i < nkids; i++)
                                        if (kids[i] == w) {
                                                kids[i] = kids[--nkids];
                                                break;
                                        }
                        }
                }
                for (size_t i = 0; i < nl && !stop; i++) {
                        if (!(p[i + 1].revents & POLLIN))
                                continue;
                        int cfd = accept4(lfds[i], NULL, NULL, SOCK_CLOEXEC);
                        if (cfd < 0)
                                continue;
                        if (nkids >= (size_t)cap) {
                                refuse_busy(cfd);
                                close(cfd);
                                continue;
                        }
                        pid_t pid = fork();
                        if (pid == 0) {
                                ApiConn *c = xcalloc(1, sizeof(*c));
                                socklen_t sl = sizeof(c->peer);
                                struct timeval tv = { WRITE_TIMEOUT_S, 0 };
                                close(sfd);
                                for (size_t k = 0; k < nl; k++)
                                        close(lfds[k]);
                                sigprocmask(SIG_UNBLOCK, &mask, NULL);
                                signal(SIGTERM, SIG_DFL);
                                (void)prctl(PR_SET_PDEATHSIG, 0);
                                c->fd = cfd;
                                c->e = e;
                                if (ltls[i] && tls_start(c) < 0)
                                        _exit(0);
                                c->peer_known = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->peer, &sl) == 0 &&
                                                c->peer.pid > 0;
                                (void)setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                                serve_connection(c);
                                _exit(0);
                        }
                        close(cfd);
                        if (pid > 0)
                                kids[nkids++] = pid;
                }
        }
        fprintf(stderr, "stockade serve: shutting down (%zu connection(s) closed)\n", nkids);
        for (size_t i = 0; i < nkids; i++)
                (void)kill(kids[i], SIGTERM);
        close_listeners(hosts, lfds, nl);
        free(kids);
        free(ltls);
        return 0;
}
