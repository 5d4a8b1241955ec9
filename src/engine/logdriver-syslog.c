/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The syslog driver (see logdriver.h): docker's syslog driver (moby daemon/logger/syslog with its
 * srslog writer), message for message, over netconn.c.
 *
 * Each message, including each 16 KiB piece of a long line, goes out as one syslog message ending in
 * "\n"; empty lines are not sent (docker skips them).  Severity 3 (err) for stderr, 6 (info) for
 * stdout; facility from syslog-facility (default daemon).  The formats (syslog-format):
 *
 *   ""            <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
 *   rfc3164       <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG
 *   rfc5424       <PRI>1 YYYY-MM-DDThh:mm:ss+hh:mm HOST TAG PID TAG - MSG
 *   rfc5424micro  the same with six fraction digits: hh:mm:ss.uuuuuu
 *
 * The framing: over tcp+tls the two rfc5424 formats are octet-counted (RFC 5425: "LEN SP MSG", LEN
 * counting the final "\n"); everything else is sent as is, so a TCP or unix stream is
 * newline-delimited and each UDP or unixgram datagram holds one message.  HOST is this machine's host
 * name, PID the monitor's (docker puts dockerd's there: in both cases the process that sends the
 * container's lines), the time the moment the monitor read the line (docker: the moment it sends).
 *
 * Without syslog-address the local syslog is found as docker finds it: a unixgram, then a unix stream
 * socket at /dev/log, /var/run/syslog or /var/run/log.
 *
 * Connections and their time limits (docs/LOGGING.md, "syslog"):
 *  - open connects within OPEN_TIMEOUT_MS; a server that cannot be reached fails the container's
 *    start, as docker's does (UDP cannot tell, so it never fails there).
 *  - Before each write on a stream the connection is checked without waiting: a server that closed
 *    it (a restart) is reconnected to before the message is written, not after it is lost.
 *  - mode=non-blocking: a message gets one try, and one more on a fresh connection when the old one
 *    failed (srslog's writeAndRetry), each connect and write within IO_TIMEOUT_MS.  After a failed
 *    connect, messages fail at once for RECONNECT_PAUSE_MS (the pipe counts them as dropped).
 *  - mode=blocking: a message is retried, reconnecting with a backoff from 100 ms to 2 s, for up to
 *    BLOCKING_RETRY_MS, so a server that comes back within that time gets every line (the pipe holds
 *    the container meanwhile).  Then it is given up and counted.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logdriver.h"
#include "netconn.h"
#include "util.h"

#define OPEN_TIMEOUT_MS    5000
#define IO_TIMEOUT_MS      2000
#define RECONNECT_PAUSE_MS 1000
#define BLOCKING_RETRY_MS  60000
#define BACKOFF_FIRST_MS   100
#define BACKOFF_MAX_MS     2000
#define DEFAULT_PORT       "514"
#define PREFIX_ROOM        24 /* room before a message for RFC 5425's "LEN " */

typedef enum SyslogFormat {
        FMT_UNIX,
        FMT_RFC3164,
        FMT_RFC5424,
        FMT_RFC5424MICRO,
} SyslogFormat;

typedef struct SyslogDriver {
        LogDriver base;
        bool local; /* no syslog-address: the local syslog socket */
        NetAddr addr;
        NetTlsOpts tls; /* its strings are owned by the three below */
        char *ca_file, *cert_file, *key_file;
        int facility; /* the facility code << 3 */
        SyslogFormat format;
        bool octet_counted;
        bool blocking;
        char *tag, *hostname;
        long pid;
        NetConn *conn;
        bool conn_stream;
        int64_t next_connect_ms; /* non-blocking mode: no connect before this */
        atomic_bool cancelled;   /* the monitor stopped waiting: blocking mode's retries end */
        char *buf;
        size_t cap;
} SyslogDriver;

static const struct {
        const char *name;
        int code;
} facilities[] = {
        { "kern", 0 },    { "user", 1 },    { "mail", 2 },    { "daemon", 3 },  { "auth", 4 },
        { "syslog", 5 },  { "lpr", 6 },     { "news", 7 },    { "uucp", 8 },    { "cron", 9 },
        { "authpriv", 10 }, { "ftp", 11 },  { "local0", 16 }, { "local1", 17 }, { "local2", 18 },
        { "local3", 19 }, { "local4", 20 }, { "local5", 21 }, { "local6", 22 }, { "local7", 23 },
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *opt(const LogInfo *info, const char *key)
{
        return json_string_value(json_object_get(info->config, key));
}

static bool is_true(const char *s)
{
        /* Go's strconv.ParseBool true values. */
        return s && (STREQ(s, "1") || STREQ(s, "t") || STREQ(s, "T") || STREQ(s, "TRUE") || STREQ(s, "true") ||
                     STREQ(s, "True"));
}

static int parse_facility(const char *s, int *ret, Error **err)
{
        int64_t n;

        if (!s || !*s) {
                *ret = 3 << 3; /* daemon */
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(facilities); i++)
                if (STREQ(s, facilities[i].name)) {
                        *ret = facilities[i].code << 3;
                        return 0;
                }
        if (parse_int64(s, &n) == 0 && n >= 0 && n <= 23) {
                *ret = (int)n << 3;
                return 0;
        }
        return error_setx(err, EINVAL, "syslog: log-opt syslog-facility: invalid syslog facility '%s'", s);
}

static int parse_format(const char *s, SyslogFormat *ret, Error **err)
{
        if (!s || !*s)
                *ret = FMT_UNIX;
        else if (STREQ(s, "rfc3164"))
                *ret = FMT_RFC3164;
        else if (STREQ(s, "rfc5424"))
                *ret = FMT_RFC5424;
        else if (STREQ(s, "rfc5424micro"))
                *ret = FMT_RFC5424MICRO;
        else
                return error_setx(err, EINVAL, "syslog: log-opt syslog-format: invalid syslog format '%s'", s);
        return 0;
}

/* ================================================================ connecting */

static int connect_local(SyslogDriver *d, int timeout_ms, Error **err)
{
        static const char *const paths[] = { "/dev/log", "/var/run/syslog", "/var/run/log" };
        static const NetProto protos[] = { NET_UNIXGRAM, NET_UNIX };
        Error *last = NULL;
        int r = -ENOENT;

        for (size_t i = 0; i < ELEMENTSOF(protos); i++)
                for (size_t j = 0; j < ELEMENTSOF(paths); j++) {
                        NetAddr a = { .proto = protos[i], .path = (char *)paths[j] };
                        error_clear(&last);
                        r = net_connect(&a, NULL, timeout_ms, &d->conn, &last);
                        if (r == 0) {
                                d->conn_stream = protos[i] == NET_UNIX;
                                return 0;
                        }
                }
        r = error_setx(err, -r, "no local syslog socket (unixgram or unix at /dev/log, /var/run/syslog, "
                       "/var/run/log): %s", last ? last->msg : "not found");
        error_free(last);
        return r;
}

static int connect_now(SyslogDriver *d, int timeout_ms, Error **err)
{
        int r;

        d->conn = net_close(d->conn);
        if (d->local)
                return connect_local(d, timeout_ms, err);
        r = net_connect(&d->addr, &d->tls, timeout_ms, &d->conn, err);
        if (r < 0)
                return r;
        d->conn_stream = d->addr.proto == NET_TCP || d->addr.proto == NET_TLS || d->addr.proto == NET_UNIX;
        return 0;
}

/* A stream the server has closed (or reset) is reconnected to before it loses a message.  Syslog
 * servers send nothing, so anything readable is the end, an error, or TLS housekeeping (session
 * tickets), which net_read consumes. */
static void drop_if_closed(SyslogDriver *d)
{
        char tmp[512];
        ssize_t n;

        if (!d->conn || !d->conn_stream)
                return;
        n = net_read(d->conn, tmp, sizeof(tmp), 0, NULL);
        if (n == 0 || (n < 0 && n != -ETIMEDOUT))
                d->conn = net_close(d->conn);
}

/* ================================================================ messages */

static void reserve(SyslogDriver *d, size_t n)
{
        if (n > d->cap) {
                d->cap = n + 4096;
                d->buf = xrealloc(d->buf, d->cap);
        }
}

/*
 * Formats m into d->buf and returns where the bytes to send start and how many there are.  The
 * header is at most a few hundred bytes plus the tag and host name, both ours; the line is at most a
 * 16 KiB piece (the pipe splits longer ones).
 */
static const char *format_message(SyslogDriver *d, const LogMsg *m, size_t *ret_len)
{
        int pri = d->facility | (STREQ(m->stream, "stderr") ? 3 : 6);
        char stamp[64], frac[32] = "", zone[16] = "Z";
        struct tm tm;
        time_t t = m->ts.tv_sec;
        size_t head_max, n;
        char *p;
        int h;

        localtime_r(&t, &tm);
        if (d->format == FMT_UNIX || d->format == FMT_RFC3164) {
                strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm); /* Go's time.Stamp: "Jan _2 15:04:05" */
        } else {
                strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
                if (d->format == FMT_RFC5424MICRO)
                        snprintf(frac, sizeof(frac), ".%06ld", m->ts.tv_nsec / 1000);
                if (tm.tm_gmtoff != 0) {
                        long off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
                        snprintf(zone, sizeof(zone), "%c%02ld:%02ld", tm.tm_gmtoff < 0 ? '-' : '+',
                                 off / 3600 % 24, off / 60 % 60);
                }
        }
        head_max = 128 + strlen(stamp) + strlen(d->hostname) + 2 * strlen(d->tag);
        reserve(d, PREFIX_ROOM + head_max + m->len + 1);
        p = d->buf + PREFIX_ROOM;
        switch (d->format) {
        case FMT_UNIX:
                h = snprintf(p, head_max, "<%d>%s %s[%ld]: ", pri, stamp, d->tag, d->pid);
                break;
        case FMT_RFC3164:
                h = snprintf(p, head_max, "<%d>%s %s %s[%ld]: ", pri, stamp, d->hostname, d->tag, d->pid);
                break;
        case FMT_RFC5424:
        case FMT_RFC5424MICRO:
                h = snprintf(p, head_max, "<%d>1 %s%s%s %s %s %ld %s - ", pri, stamp, frac, zone, d->hostname, d->tag,
                             d->pid, d->tag);
                break;
        default:
                abort(); /* parse_format knows four formats */
        }
        if (h < 0 || (size_t)h >= head_max)
                abort(); /* head_max holds every field by construction */
        n = (size_t)h;
        memcpy(p + n, m->line, m->len);
        n += m->len;
        p[n++] = '\n'; /* srslog ends every message with one */
        if (d->octet_counted) {
                char len[PREFIX_ROOM];
                int l = snprintf(len, sizeof(len), "%zu ", n);
                p -= l;
                memcpy(p, len, (size_t)l);
                n += (size_t)l;
        }
        *ret_len = n;
        return p;
}

/* ================================================================ the driver */

static void syslog_close(LogDriver *base)
{
        SyslogDriver *d = (SyslogDriver *)base;

        if (!d)
                return;
        net_close(d->conn);
        net_addr_free(&d->addr);
        free(d->ca_file);
        free(d->cert_file);
        free(d->key_file);
        free(d->tag);
        free(d->hostname);
        free(d->buf);
        free(d);
}

static int syslog_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        const char *address = opt(info, "syslog-address"), *mode = opt(info, "mode");
        char host[HOST_NAME_MAX + 1] = "";
        SyslogDriver *d = xcalloc(1, sizeof(*d));
        int r;

        d->base.ops = &log_driver_syslog;
        d->blocking = !mode || !STREQ(mode, "non-blocking");
        if ((r = parse_facility(opt(info, "syslog-facility"), &d->facility, err)) < 0 ||
            (r = parse_format(opt(info, "syslog-format"), &d->format, err)) < 0)
                goto fail;
        if (!address || !*address) {
                d->local = true;
        } else {
                r = net_addr_parse(address, DEFAULT_PORT,
                                   (1u << NET_TCP) | (1u << NET_UDP) | (1u << NET_TLS) | (1u << NET_UNIX) |
                                           (1u << NET_UNIXGRAM),
                                   &d->addr, err);
                if (r < 0) {
                        r = error_wrap(err, "syslog: log-opt syslog-address");
                        goto fail;
                }
        }
        if (d->addr.proto == NET_TLS && !d->local) {
                d->ca_file = opt(info, "syslog-tls-ca-cert") ? xstrdup(opt(info, "syslog-tls-ca-cert")) : NULL;
                d->cert_file = opt(info, "syslog-tls-cert") ? xstrdup(opt(info, "syslog-tls-cert")) : NULL;
                d->key_file = opt(info, "syslog-tls-key") ? xstrdup(opt(info, "syslog-tls-key")) : NULL;
                d->tls = (NetTlsOpts){
                        .ca_file = d->ca_file,
                        .cert_file = d->cert_file,
                        .key_file = d->key_file,
                        /* docker skips verification when the key is there at all, even "false"; here
                         * the value decides. */
                        .skip_verify = is_true(opt(info, "syslog-tls-skip-verify")),
                };
                d->octet_counted = d->format == FMT_RFC5424 || d->format == FMT_RFC5424MICRO;
        }
        d->tag = xstrdup(info->tag && *info->tag ? info->tag : "stockade");
        if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
                snprintf(host, sizeof(host), "localhost");
        d->hostname = xstrdup(host);
        d->pid = (long)getpid();
        r = connect_now(d, OPEN_TIMEOUT_MS, err);
        if (r < 0) {
                error_wrap(err, "syslog");
                goto fail;
        }
        *ret = &d->base;
        return 0;
fail:
        syslog_close(&d->base);
        return r;
}

/* Hands e over to the caller's err (which may be NULL) and returns r. */
static int pass(Error **err, Error *e, int r)
{
        if (err)
                *err = e;
        else
                error_free(e);
        return r;
}

/* One try on the current connection, and when there was none or it failed, one on a new one. */
static int send_message(SyslogDriver *d, const char *msg, size_t len, int write_ms, bool pause, Error **err)
{
        Error *e = NULL;
        int r;

        drop_if_closed(d);
        if (d->conn) {
                r = net_write(d->conn, msg, len, write_ms, &e);
                if (r == 0)
                        return 0;
                d->conn = net_close(d->conn);
                if (r == -EMSGSIZE) /* a new connection would not take it either */
                        return pass(err, e, r);
                error_clear(&e);
        }
        if (pause && now_ms() < d->next_connect_ms)
                return error_setx(err, ENOTCONN, "not connected: the last connect failed less than %d ms ago",
                                  RECONNECT_PAUSE_MS);
        r = connect_now(d, write_ms < 0 || write_ms > IO_TIMEOUT_MS ? IO_TIMEOUT_MS : write_ms, err);
        if (r < 0) {
                d->next_connect_ms = now_ms() + RECONNECT_PAUSE_MS;
                return r;
        }
        r = net_write(d->conn, msg, len, write_ms, err);
        if (r < 0)
                d->conn = net_close(d->conn);
        return r;
}

static int syslog_log(LogDriver *base, const LogMsg *m, Error **err)
{
        SyslogDriver *d = (SyslogDriver *)base;
        int64_t deadline, backoff = BACKOFF_FIRST_MS;
        const char *msg;
        size_t len;
        Error *e = NULL;
        int r;

        if (m->len == 0)
                return 0; /* docker does not send empty lines */
        msg = format_message(d, m, &len);
        /* The pipe reports a failure as "log driver syslog: <message>": no prefix of our own here. */
        if (!d->blocking)
                return send_message(d, msg, len, IO_TIMEOUT_MS, true, err);

        deadline = now_ms() + BLOCKING_RETRY_MS;
        for (;;) {
                int64_t left = deadline - now_ms();
                r = send_message(d, msg, len, left < 1 ? 1 : left > INT_MAX ? INT_MAX : (int)left, false, &e);
                if (r == 0)
                        return 0;
                if (r == -EMSGSIZE || r == -EINVAL)
                        return pass(err, e, r);
                left = deadline - now_ms();
                if (atomic_load(&d->cancelled))
                        return pass(err, (error_wrap(&e, "gave up: the monitor stopped waiting"), e), r);
                if (left <= 0)
                        return pass(err, (error_wrap(&e, "gave up after %d s", BLOCKING_RETRY_MS / 1000), e), r);
                error_clear(&e);
                usleep((useconds_t)((backoff < left ? backoff : left) * 1000));
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
}

static void syslog_cancel(LogDriver *base)
{
        atomic_store(&((SyslogDriver *)base)->cancelled, true);
}

const LogDriverOps log_driver_syslog = {
        .name = "syslog",
        .open = syslog_open,
        .log = syslog_log,
        .flush = NULL,
        .close = syslog_close,
        .cancel = syslog_cancel,
};
