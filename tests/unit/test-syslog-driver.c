/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The syslog driver (logdriver-syslog.c) through its LogDriverOps, as the monitor's log pipe drives it.
 *
 * Part one: the exact bytes on the wire, read by strict receivers in this process (every format over
 * tcp, udp, unix, unixgram and tcp+tls, with RFC 5425 octet counting where docker uses it), facilities
 * and severities, empty lines and partial pieces, and the connection rules: a server that restarts
 * loses nothing, a dead one fails fast in non-blocking mode and is waited for in blocking mode, and
 * the local syslog is found as docker finds it.
 *
 * Part two: a real rsyslogd (Debian's, started here with a private configuration: imuxsock, imptcp on a
 * unix socket, imudp, imtcp, and imtcp over TLS with and without client certificates) receives each
 * format over each transport and says, through an omfile template, what it parsed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "logdriver.h"
#include "tap.h"
#include "tls-fixture.h"
#include "util.h"

static char tmpdir[] = "/tmp/test-syslog-XXXXXX";
static char host[256];
static long pid;
static bool have_pki;

__attribute__((constructor)) static void setup(void)
{
        signal(SIGPIPE, SIG_DFL); /* the driver must never raise it */
        alarm(600);
        /* Every timestamp below is UTC, so the expected lines are constants. */
        setenv("TZ", "UTC", 1);
        tzset();
        if (!mkdtemp(tmpdir))
                abort();
        if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
                snprintf(host, sizeof(host), "localhost");
        pid = (long)getpid();
}

static pid_t rsyslog_pid;

__attribute__((destructor)) static void teardown(void)
{
        char cmd[128];
        if (rsyslog_pid > 0) {
                kill(rsyslog_pid, SIGTERM);
                waitpid(rsyslog_pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

static const char *in_tmp(const char *name)
{
        static char paths[16][512];
        static int next;
        char *p = paths[next++ % 16];
        snprintf(p, 512, "%s/%s", tmpdir, name);
        return p;
}

/* 2021-03-04T05:06:07.089012Z */
static struct timespec fixed_ts(void)
{
        struct tm tm = { .tm_year = 121, .tm_mon = 2, .tm_mday = 4, .tm_hour = 5, .tm_min = 6, .tm_sec = 7 };
        return (struct timespec){ .tv_sec = timegm(&tm), .tv_nsec = 89012345 };
}

/* ================================================================ driving the driver */

typedef struct Opened {
        json_t *config;
        LogDriver *d;
} Opened;

/* Opens the driver with --log-opt pairs (NULL-terminated), tag "web". */
static int open_driver(Opened *o, Error **err, ...)
{
        va_list ap;
        const char *k;
        LogInfo info = {
                .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                .name = "web-1",
                .image_name = "busybox",
                .image_id = "sha256:aaaa",
                .command = "sh -c echo",
                .hostname = "0123456789ab",
                .daemon_name = "stockade",
                .created = "2021-03-04T05:06:07Z",
                .log_path = "",
                .tag = "web",
        };

        o->config = json_object();
        va_start(ap, err);
        while ((k = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                json_object_set_new(o->config, k, json_string(v));
        }
        va_end(ap);
        /* The pipe renders the tag option; here it is taken as is. */
        if (json_string_value(json_object_get(o->config, "tag")))
                info.tag = json_string_value(json_object_get(o->config, "tag"));
        info.config = o->config;
        info.attrs = json_object();
        int r = log_driver_syslog.open(&info, &o->d, err);
        json_decref(info.attrs);
        return r;
}

static void close_driver(Opened *o)
{
        if (o->d)
                log_driver_syslog.close(o->d);
        o->d = NULL;
        json_decref(o->config);
        o->config = NULL;
}

static int log_line(Opened *o, const char *stream, const char *line, Error **err)
{
        LogMsg m = { .stream = stream, .line = line, .len = strlen(line), .newline = true, .ts = fixed_ts() };
        return log_driver_syslog.log(o->d, &m, err);
}

#define LOG_OK(o, stream, line)                                                                                \
        do {                                                                                                   \
                Error *_e = NULL;                                                                              \
                if (log_line((o), (stream), (line), &_e) < 0) {                                                \
                        printf("# log: %s\n", _e ? _e->msg : "?");                                             \
                        error_free(_e);                                                                        \
                        close_driver(o);                                                               \
                        TAP_FAIL("log %s", (line));                                                            \
                }                                                                                              \
        } while (0)

#define OPEN_OK(o, ...)                                                                                        \
        do {                                                                                                   \
                Error *_e = NULL;                                                                              \
                if (open_driver((o), &_e, __VA_ARGS__, NULL) < 0) {                                            \
                        printf("# open: %s\n", _e ? _e->msg : "?");                                            \
                        error_free(_e);                                                                        \
                        close_driver(o);                                                               \
                        TAP_FAIL("open");                                                                      \
                }                                                                                              \
        } while (0)

/* ================================================================ strict receivers */

static int tcp_listener(char port[static 8])
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (*port)
                sa.sin_port = htons((uint16_t)atoi(port));
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
                abort();
        snprintf(port, 8, "%u", ntohs(sa.sin_port));
        return fd;
}

static int udp_receiver(char port[static 8])
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
                abort();
        snprintf(port, 8, "%u", ntohs(sa.sin_port));
        return fd;
}

static int unix_receiver(const char *path, int type)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (type == SOCK_STREAM && listen(fd, 8) < 0))
                abort();
        return fd;
}

/* Everything a stream peer sent until it closed (the driver is closed by then). */
static char *read_stream(int lfd)
{
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        size_t cap = 1 << 16, off = 0;
        char *buf = xmalloc(cap + 1);
        ssize_t n;
        while (fd >= 0 && (n = read(fd, buf + off, cap - off)) > 0) {
                off += (size_t)n;
                if (off == cap)
                        buf = xrealloc(buf, (cap *= 2) + 1);
        }
        if (fd >= 0)
                close(fd);
        buf[off] = '\0';
        return buf;
}

/* The datagrams queued on fd, each one followed by "|" so their edges show. */
static char *read_datagrams(int fd)
{
        size_t cap = 1 << 17, off = 0;
        char *buf = xmalloc(cap + 2);
        ssize_t n;
        while ((n = recv(fd, buf + off, cap - off, MSG_DONTWAIT)) >= 0) {
                off += (size_t)n;
                buf[off++] = '|';
                if (cap - off < 70000)
                        buf = xrealloc(buf, (cap *= 2) + 2);
        }
        buf[off] = '\0';
        return buf;
}

/* A TLS server in a thread: one connection, everything read until close. */
typedef struct TlsServer {
        int lfd;
        char port[8];
        pthread_t thread;
        bool ok;
        char *data;
} TlsServer;

static void *tls_server_main(void *ud)
{
        TlsServer *s = ud;
        struct pollfd p = { .fd = s->lfd, .events = POLLIN };
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        SSL *ssl = NULL;
        size_t cap = 1 << 16, off = 0;
        sigset_t pipe;
        int fd = -1, n;

        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, NULL); /* this server's own writes use write() */
        s->data = xcalloc(1, cap + 1);
        if (SSL_CTX_use_certificate_chain_file(ctx, in_tmp("server.pem")) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, in_tmp("server.key"), SSL_FILETYPE_PEM) != 1 || poll(&p, 1, 10000) != 1)
                goto out;
        fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1)
                goto out;
        s->ok = true;
        while ((n = SSL_read(ssl, s->data + off, (int)(cap - off))) > 0) {
                off += (size_t)n;
                if (off == cap) {
                        s->data = xrealloc(s->data, (cap *= 2) + 1);
                }
        }
        s->data[off] = '\0';
out:
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        if (fd >= 0)
                close(fd);
        return NULL;
}

static void tls_server_start(TlsServer *s)
{
        s->port[0] = '\0';
        s->lfd = tcp_listener(s->port);
        if (pthread_create(&s->thread, NULL, tls_server_main, s) != 0)
                abort();
}

static void tls_server_stop(TlsServer *s)
{
        pthread_join(s->thread, NULL);
        close(s->lfd);
}

/* ================================================================ exact bytes */

/* The lines of every format for stdout "hello" and stderr "oops" at fixed_ts(), facility daemon. */
static char *expect(const char *format, bool octets)
{
        char a[512], b[512];
        if (STREQ(format, "")) {
                snprintf(a, sizeof(a), "<30>Mar  4 05:06:07 web[%ld]: hello\n", pid);
                snprintf(b, sizeof(b), "<27>Mar  4 05:06:07 web[%ld]: oops\n", pid);
        } else if (STREQ(format, "rfc3164")) {
                snprintf(a, sizeof(a), "<30>Mar  4 05:06:07 %s web[%ld]: hello\n", host, pid);
                snprintf(b, sizeof(b), "<27>Mar  4 05:06:07 %s web[%ld]: oops\n", host, pid);
        } else {
                const char *frac = STREQ(format, "rfc5424micro") ? ".089012" : "";
                snprintf(a, sizeof(a), "<30>1 2021-03-04T05:06:07%sZ %s web %ld web - hello\n", frac, host, pid);
                snprintf(b, sizeof(b), "<27>1 2021-03-04T05:06:07%sZ %s web %ld web - oops\n", frac, host, pid);
        }
        if (octets)
                return xasprintf("%zu %s%zu %s", strlen(a), a, strlen(b), b);
        return xasprintf("%s%s", a, b);
}

static const char *const formats[] = { "", "rfc3164", "rfc5424", "rfc5424micro" };

TEST(wire_tcp_every_format)
{
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                char port[8] = "";
                _cleanup_close_ int lfd = tcp_listener(port);
                _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port), *got = NULL, *want = NULL;
                Opened o = { 0 };
                OPEN_OK(&o, "syslog-address", addr, "syslog-format", formats[i]);
                LOG_OK(&o, "stdout", "hello");
                LOG_OK(&o, "stderr", "oops");
                close_driver(&o);
                got = read_stream(lfd);
                want = expect(formats[i], false); /* plain TCP: newline-terminated, never octet-counted */
                ASSERT_STREQ(got, want);
        }
}

TEST(wire_udp_every_format)
{
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                char port[8] = "";
                _cleanup_close_ int fd = udp_receiver(port);
                _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", port), *got = NULL, *want = NULL;
                Opened o = { 0 };
                OPEN_OK(&o, "syslog-address", addr, "syslog-format", formats[i]);
                LOG_OK(&o, "stdout", "hello");
                LOG_OK(&o, "stderr", "oops");
                close_driver(&o);
                got = read_datagrams(fd);
                want = expect(formats[i], false);
                /* one datagram per message */
                char *nl = strchr(want, '\n');
                _cleanup_free_ char *framed = xasprintf("%.*s|%s|", (int)(nl - want + 1), want, nl + 1);
                ASSERT_STREQ(got, framed);
        }
}

TEST(wire_unix_and_unixgram)
{
        _cleanup_close_ int sfd = unix_receiver(in_tmp("s.sock"), SOCK_STREAM);
        _cleanup_close_ int dfd = unix_receiver(in_tmp("d.sock"), SOCK_DGRAM);
        _cleanup_free_ char *saddr = xasprintf("unix://%s", in_tmp("s.sock"));
        _cleanup_free_ char *daddr = xasprintf("unixgram://%s", in_tmp("d.sock"));
        _cleanup_free_ char *got1 = NULL, *got2 = NULL, *want1 = expect("rfc5424", false), *want2 = expect("", false);
        Opened o = { 0 };

        OPEN_OK(&o, "syslog-address", saddr, "syslog-format", "rfc5424");
        LOG_OK(&o, "stdout", "hello");
        LOG_OK(&o, "stderr", "oops");
        close_driver(&o);
        got1 = read_stream(sfd);
        ASSERT_STREQ(got1, want1);

        OPEN_OK(&o, "syslog-address", daddr);
        LOG_OK(&o, "stdout", "hello");
        LOG_OK(&o, "stderr", "oops");
        close_driver(&o);
        got2 = read_datagrams(dfd);
        char *nl = strchr(want2, '\n');
        _cleanup_free_ char *framed = xasprintf("%.*s|%s|", (int)(nl - want2 + 1), want2, nl + 1);
        ASSERT_STREQ(got2, framed);
}

TEST(tls_fixture)
{
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                TAP_SKIP("no openssl command (tools/setup.sh installs it)");
        if (tls_fixture_make(tmpdir) < 0)
                TAP_FAIL("could not make the test certificates (%s/openssl.log)", tmpdir);
        have_pki = true;
}

TEST(wire_tls_octet_counting)
{
        if (!have_pki)
                TAP_SKIP("no test certificates");
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                TlsServer s = { 0 };
                Opened o = { 0 };
                tls_server_start(&s);
                _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
                /* rfc5424 and rfc5424micro are octet-counted over TLS (RFC 5425), the others are not. */
                bool octets = str_has_prefix(formats[i], "rfc5424");
                _cleanup_free_ char *want = expect(formats[i], octets);
                OPEN_OK(&o, "syslog-address", addr, "syslog-format", formats[i], "syslog-tls-ca-cert", in_tmp("ca.pem"));
                LOG_OK(&o, "stdout", "hello");
                LOG_OK(&o, "stderr", "oops");
                close_driver(&o);
                tls_server_stop(&s);
                ASSERT_TRUE(s.ok);
                ASSERT_STREQ(s.data, want);
                free(s.data);
        }
}

TEST(facilities_and_severities)
{
        static const struct {
                const char *facility;
                int out, err;
        } cases[] = {
                { NULL, 30, 27 },        /* daemon (3): 3*8+6, 3*8+3 */
                { "kern", 6, 3 },        { "0", 6, 3 },          { "local7", 190, 187 },
                { "23", 190, 187 },      { "authpriv", 86, 83 }, { "user", 14, 11 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char port[8] = "";
                _cleanup_close_ int fd = udp_receiver(port);
                _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", port), *got = NULL, *want = NULL;
                Opened o = { 0 };
                if (cases[i].facility)
                        OPEN_OK(&o, "syslog-address", addr, "syslog-format", "rfc5424", "syslog-facility",
                                cases[i].facility);
                else
                        OPEN_OK(&o, "syslog-address", addr, "syslog-format", "rfc5424");
                LOG_OK(&o, "stdout", "a");
                LOG_OK(&o, "stderr", "b");
                close_driver(&o);
                got = read_datagrams(fd);
                want = xasprintf("<%d>1 2021-03-04T05:06:07Z %s web %ld web - a\n|<%d>1 2021-03-04T05:06:07Z %s web %ld web "
                                 "- b\n|",
                                 cases[i].out, host, pid, cases[i].err, host, pid);
                ASSERT_STREQ(got, want);
        }
}

TEST(empty_lines_skipped_pieces_sent_alone)
{
        char port[8] = "";
        _cleanup_close_ int lfd = tcp_listener(port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port), *got = NULL, *want = NULL;
        Opened o = { 0 };
        Error *e = NULL;
        LogMsg empty = { .stream = "stdout", .line = "", .len = 0, .newline = true, .ts = fixed_ts() };
        LogMsg p1 = { .stream = "stdout", .line = "first piece", .len = 11, .newline = false, .ts = fixed_ts(),
                      .partial_id = "abc", .partial_ordinal = 1 };
        LogMsg p2 = { .stream = "stdout", .line = "last", .len = 4, .newline = true, .ts = fixed_ts(),
                      .partial_id = "abc", .partial_ordinal = 2, .partial_last = true };
        LogMsg end = { .stream = "stderr", .line = "no newline at exit", .len = 18, .newline = false, .ts = fixed_ts() };

        OPEN_OK(&o, "syslog-address", addr);
        ASSERT_OK(log_driver_syslog.log(o.d, &empty, &e));
        ASSERT_OK(log_driver_syslog.log(o.d, &p1, &e));
        ASSERT_OK(log_driver_syslog.log(o.d, &p2, &e));
        ASSERT_OK(log_driver_syslog.log(o.d, &end, &e));
        close_driver(&o);
        got = read_stream(lfd);
        want = xasprintf("<30>Mar  4 05:06:07 web[%ld]: first piece\n<30>Mar  4 05:06:07 web[%ld]: last\n"
                         "<27>Mar  4 05:06:07 web[%ld]: no newline at exit\n",
                         pid, pid, pid);
        ASSERT_STREQ(got, want);
}

TEST(long_piece_and_time_zone)
{
        /* A 16 KiB piece goes out whole, in one datagram; the time carries the local offset. */
        char port[8] = "";
        _cleanup_close_ int fd = udp_receiver(port);
        _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", port), *got = NULL, *line = xmalloc(16385);
        Opened o = { 0 };

        memset(line, 'z', 16384);
        line[16384] = '\0';
        setenv("TZ", "IST-5:30", 1);
        tzset();
        OPEN_OK(&o, "syslog-address", addr, "syslog-format", "rfc5424micro");
        LOG_OK(&o, "stdout", line);
        close_driver(&o);
        setenv("TZ", "UTC", 1);
        tzset();
        got = read_datagrams(fd);
        _cleanup_free_ char *head = xasprintf("<30>1 2021-03-04T10:36:07.089012+05:30 %s web %ld web - ", host, pid);
        ASSERT_EQ(strlen(got), strlen(head) + 16384 + 2);
        ASSERT_TRUE(strncmp(got, head, strlen(head)) == 0);
        ASSERT_TRUE(strcmp(got + strlen(head) + 16384, "\n|") == 0);
}

TEST(open_fails_when_unreachable)
{
        char port[8] = "";
        close(tcp_listener(port));
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        _cleanup_free_ char *want = xasprintf("syslog: connect to tcp://127.0.0.1:%s: Connection refused", port);
        Opened o = { 0 };
        Error *e = NULL;
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", addr, NULL), -ECONNREFUSED);
        ASSERT_STREQ(e->msg, want);
        error_clear(&e);
        close_driver(&o);

        _cleanup_free_ char *uaddr = xasprintf("unix://%s", in_tmp("nobody.sock"));
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", uaddr, NULL), -ENOENT);
        ASSERT_CONTAINS(e->msg, "No such file or directory");
        error_clear(&e);
        close_driver(&o);

        /* UDP cannot tell: open succeeds, as docker's does. */
        _cleanup_free_ char *udp = xasprintf("udp://127.0.0.1:%s", port);
        ASSERT_OK(open_driver(&o, &e, "syslog-address", udp, NULL));
        close_driver(&o);

        ASSERT_EQ(open_driver(&o, &e, "syslog-address", "tcp://127.0.0.1:99999", NULL), -EINVAL);
        ASSERT_CONTAINS(e->msg, "syslog: log-opt syslog-address: address 'tcp://127.0.0.1:99999'");
        error_clear(&e);
        close_driver(&o);
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", "udp://h:1", "syslog-facility", "local9", NULL), -EINVAL);
        ASSERT_CONTAINS(e->msg, "invalid syslog facility 'local9'");
        error_clear(&e);
        close_driver(&o);
}

TEST(tls_verification_and_client_cert)
{
        if (!have_pki)
                TAP_SKIP("no test certificates");
        Error *e = NULL;
        Opened o = { 0 };

        /* Unknown CA: the start fails with the reason. */
        TlsServer s1 = { 0 };
        tls_server_start(&s1);
        _cleanup_free_ char *a1 = xasprintf("tcp+tls://localhost:%s", s1.port);
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", a1, "syslog-tls-ca-cert", in_tmp("other-ca.pem"), NULL), -EPROTO);
        ASSERT_CONTAINS(e->msg, "certificate verify failed");
        error_clear(&e);
        close_driver(&o);
        tls_server_stop(&s1);
        free(s1.data);

        /* skip-verify=true: accepted without the CA; "false" still verifies. */
        TlsServer s2 = { 0 };
        tls_server_start(&s2);
        _cleanup_free_ char *a2 = xasprintf("tcp+tls://127.0.0.1:%s", s2.port);
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", a2, "syslog-tls-skip-verify", "false", NULL), -EPROTO);
        error_clear(&e);
        close_driver(&o);
        tls_server_stop(&s2);
        free(s2.data);
        TlsServer s3 = { 0 };
        tls_server_start(&s3);
        _cleanup_free_ char *a3 = xasprintf("tcp+tls://127.0.0.1:%s", s3.port);
        OPEN_OK(&o, "syslog-address", a3, "syslog-tls-skip-verify", "true", "syslog-format", "rfc5424");
        LOG_OK(&o, "stdout", "hello");
        close_driver(&o);
        tls_server_stop(&s3);
        ASSERT_TRUE(s3.ok);
        ASSERT_TRUE(s3.data[0] >= '1' && s3.data[0] <= '9'); /* octet-counted */
        free(s3.data);

        /* A bad client key: the reason and the file. */
        TlsServer s4 = { 0 };
        tls_server_start(&s4);
        _cleanup_free_ char *a4 = xasprintf("tcp+tls://localhost:%s", s4.port);
        ASSERT_EQ(open_driver(&o, &e, "syslog-address", a4, "syslog-tls-ca-cert", in_tmp("ca.pem"), "syslog-tls-cert",
                              in_tmp("client.pem"), "syslog-tls-key", in_tmp("server.key"), NULL),
                  -EINVAL);
        ASSERT_CONTAINS(e->msg, "TLS client key");
        error_clear(&e);
        close_driver(&o);
        tls_server_stop(&s4);
        free(s4.data);
}

/* ================================================================ reconnecting */

static bool wait_readable(int fd, int ms)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, ms) == 1;
}

TEST(server_restart_loses_nothing)
{
        /* The server closes the connection between two messages (a restart): the second message goes out
         * on a new connection, not into the closed one. */
        char port[8] = "", buf[4096];
        _cleanup_close_ int lfd = tcp_listener(port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port), *got = NULL;
        Opened o = { 0 };
        int c1;
        ssize_t n;

        OPEN_OK(&o, "syslog-address", addr, "mode", "non-blocking");
        c1 = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        LOG_OK(&o, "stdout", "one");
        ASSERT_TRUE(wait_readable(c1, 5000));
        n = read(c1, buf, sizeof(buf) - 1);
        ASSERT_TRUE(n > 0);
        buf[n] = '\0';
        ASSERT_CONTAINS(buf, "]: one\n");
        close(c1);
        usleep(50 * 1000); /* the FIN reaches the driver's socket */
        LOG_OK(&o, "stdout", "two");
        LOG_OK(&o, "stdout", "three");
        close_driver(&o);
        got = read_stream(lfd);
        _cleanup_free_ char *want = xasprintf("<30>Mar  4 05:06:07 web[%ld]: two\n<30>Mar  4 05:06:07 web[%ld]: three\n",
                                              pid, pid);
        ASSERT_STREQ(got, want);
}

TEST(non_blocking_dead_server_fails_fast_then_recovers)
{
        char port[8] = "";
        int lfd = tcp_listener(port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port), *got = NULL;
        Opened o = { 0 };
        Error *e = NULL;

        OPEN_OK(&o, "syslog-address", addr, "mode", "non-blocking");
        close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
        close(lfd); /* the server is gone */
        usleep(50 * 1000);
        ASSERT_EQ(log_line(&o, "stdout", "lost 1", &e), -ECONNREFUSED);
        /* log()'s messages carry no "syslog:" of their own: the pipe adds "log driver syslog: ". */
        ASSERT_TRUE(str_has_prefix(e->msg, "connect to tcp://127.0.0.1:"));
        ASSERT_CONTAINS(e->msg, "Connection refused");
        error_clear(&e);
        /* Within the pause no connect is tried at all. */
        ASSERT_EQ(log_line(&o, "stdout", "lost 2", &e), -ENOTCONN);
        ASSERT_TRUE(str_has_prefix(e->msg, "not connected: the last connect failed"));
        error_clear(&e);
        /* The server comes back on the same port; after the pause the driver reconnects. */
        lfd = tcp_listener(port);
        usleep(1100 * 1000);
        LOG_OK(&o, "stdout", "back");
        close_driver(&o);
        got = read_stream(lfd);
        close(lfd);
        _cleanup_free_ char *want = xasprintf("<30>Mar  4 05:06:07 web[%ld]: back\n", pid);
        ASSERT_STREQ(got, want);
}

typedef struct Later {
        char port[8];
        int lfd;
        int delay_ms;
} Later;

static void *listen_later(void *ud)
{
        Later *l = ud;
        usleep((useconds_t)l->delay_ms * 1000);
        l->lfd = tcp_listener(l->port);
        return NULL;
}

TEST(blocking_waits_for_the_server)
{
        /* mode=blocking: a message written while the server is down arrives once it is back. */
        Later l = { .port = "", .delay_ms = 700 };
        int lfd = tcp_listener(l.port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", l.port), *got = NULL;
        Opened o = { 0 };
        pthread_t t;

        OPEN_OK(&o, "syslog-address", addr);
        close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
        close(lfd);
        usleep(50 * 1000);
        ASSERT_OK(pthread_create(&t, NULL, listen_later, &l));
        LOG_OK(&o, "stdout", "waited for");
        LOG_OK(&o, "stderr", "and after");
        pthread_join(t, NULL);
        close_driver(&o);
        got = read_stream(l.lfd);
        close(l.lfd);
        _cleanup_free_ char *want = xasprintf("<30>Mar  4 05:06:07 web[%ld]: waited for\n<27>Mar  4 05:06:07 web[%ld]: "
                                              "and after\n",
                                              pid, pid);
        ASSERT_STREQ(got, want);
}

TEST(local_syslog_found_as_docker_finds_it)
{
        /* No syslog-address: unixgram, then unix, at /dev/log, /var/run/syslog, /var/run/log.  In a private
         * mount namespace (a child process), a socket of ours takes the place of the first. */
        if (geteuid() != 0)
                TAP_SKIP("needs root for a private mount namespace");
        pid_t child = fork();
        if (child == 0) {
                struct stat st;
                const char *sock = in_tmp("devlog.sock");
                int fd;
                char buf[512] = "";
                Opened o = { 0 };
                Error *e = NULL;
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        _exit(77);
                if (stat("/dev/log", &st) == 0) {
                        fd = unix_receiver(sock, SOCK_DGRAM);
                        if (mount(sock, "/dev/log", NULL, MS_BIND, NULL) < 0)
                                _exit(78);
                } else {
                        /* /dev/log missing: a tmpfs over /run holds /var/run/syslog */
                        if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                                _exit(79);
                        fd = unix_receiver("/var/run/syslog", SOCK_DGRAM);
                }
                if (open_driver(&o, &e, "syslog-format", "rfc3164", NULL) < 0) {
                        printf("# %s\n", e->msg);
                        _exit(2);
                }
                if (log_line(&o, "stderr", "to the local syslog", &e) < 0)
                        _exit(3);
                close_driver(&o);
                if (recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT) <= 0)
                        _exit(4);
                char want[512];
                snprintf(want, sizeof(want), "<27>Mar  4 05:06:07 %s web[%ld]: to the local syslog\n", host,
                         (long)getpid());
                if (strcmp(buf, want) != 0) {
                        printf("# got '%s'\n", buf);
                        _exit(5);
                }
                _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
                TAP_SKIP("no private mount namespace here");
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* ================================================================ a real rsyslogd */

static struct {
        bool up;
        char tcp[8], udp[8], tls[8], tlscert[8];
} rs;

static void free_port(int type, char port[static 8])
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
                abort();
        snprintf(port, 8, "%u", ntohs(sa.sin_port));
        close(fd);
}

static bool tcp_answers(const char *port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port = htons((uint16_t)atoi(port)) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        return ok;
}

static const char *rsyslogd_path(void)
{
        static const char *const paths[] = { "/usr/sbin/rsyslogd", "/sbin/rsyslogd" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

TEST(rsyslog_start)
{
        const char *bin = rsyslogd_path();
        _cleanup_free_ char *conf = NULL, *check = NULL;
        FILE *f;

        if (!bin)
                TAP_SKIP("rsyslogd is not installed (tools/setup.sh installs rsyslog)");
        if (!have_pki)
                TAP_SKIP("no test certificates");
        free_port(SOCK_STREAM, rs.tcp);
        free_port(SOCK_STREAM, rs.tls);
        free_port(SOCK_STREAM, rs.tlscert);
        free_port(SOCK_DGRAM, rs.udp);
        /* One listener per transport.  Each line of out.log is what rsyslog parsed, then the raw message. */
        conf = xasprintf(
                "global(workDirectory=\"%1$s\" maxMessageSize=\"64k\"\n"
                "       defaultNetstreamDriver=\"ossl\" defaultNetstreamDriverCAFile=\"%1$s/ca.pem\"\n"
                "       defaultNetstreamDriverCertFile=\"%1$s/server.pem\" defaultNetstreamDriverKeyFile=\"%1$s/server.key\")\n"
                "module(load=\"imuxsock\" sysSock.use=\"off\")\n"
                "input(type=\"imuxsock\" socket=\"%1$s/rs-dgram.sock\" rateLimit.interval=\"0\")\n"
                "module(load=\"imptcp\")\n"
                "input(type=\"imptcp\" path=\"%1$s/rs-stream.sock\" unlink=\"on\" name=\"unix\")\n"
                "module(load=\"imudp\")\n"
                "input(type=\"imudp\" address=\"127.0.0.1\" port=\"%2$s\" name=\"udp\" rateLimit.interval=\"0\")\n"
                "module(load=\"imtcp\" maxSessions=\"200\")\n"
                "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%3$s\" name=\"tcp\")\n"
                "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%4$s\" name=\"tls\" streamDriver.name=\"ossl\"\n"
                "      streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n"
                "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%5$s\" name=\"tlscert\" streamDriver.name=\"ossl\"\n"
                "      streamDriver.mode=\"1\" streamDriver.authMode=\"x509/certvalid\")\n"
                "template(name=\"parsed\" type=\"string\"\n"
                "         string=\"%%inputname%%|%%pri%%|%%hostname%%|%%syslogtag%%|%%app-name%%|%%procid%%|%%msgid%%|%%msg%%|%%rawmsg%%\\n\")\n"
                "action(type=\"omfile\" file=\"%1$s/out.log\" template=\"parsed\")\n",
                tmpdir, rs.udp, rs.tcp, rs.tls, rs.tlscert);
        f = fopen(in_tmp("rsyslog.conf"), "we");
        ASSERT_TRUE(f != NULL);
        fputs(conf, f);
        fclose(f);
        check = xasprintf("%s -N1 -f '%s' >'%s' 2>&1", bin, in_tmp("rsyslog.conf"), in_tmp("rsyslog-check.log"));
        if (system(check) != 0) {
                _cleanup_free_ char *show = xasprintf("sed 's/^/# /' '%s'", in_tmp("rsyslog-check.log"));
                (void)!system(show);
                TAP_FAIL("rsyslogd refuses the test configuration (is rsyslog-openssl installed?)");
        }
        rsyslog_pid = fork();
        if (rsyslog_pid == 0) {
                int fd = open(in_tmp("rsyslogd.log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(fd, 1);
                dup2(fd, 2);
                execl(bin, "rsyslogd", "-n", "-f", in_tmp("rsyslog.conf"), "-i", in_tmp("rsyslog.pid"), (char *)NULL);
                _exit(127);
        }
        ASSERT_TRUE(rsyslog_pid > 0);
        for (int i = 0; i < 300; i++) { /* up to 15 s for it to listen everywhere */
                if (access(in_tmp("rs-dgram.sock"), F_OK) == 0 && access(in_tmp("rs-stream.sock"), F_OK) == 0 &&
                    tcp_answers(rs.tcp) && tcp_answers(rs.tls) && tcp_answers(rs.tlscert)) {
                        rs.up = true;
                        break;
                }
                if (waitpid(rsyslog_pid, NULL, WNOHANG) == rsyslog_pid) {
                        rsyslog_pid = 0;
                        break;
                }
                usleep(50 * 1000);
        }
        if (!rs.up) {
                _cleanup_free_ char *show = xasprintf("sed 's/^/# /' '%s'", in_tmp("rsyslogd.log"));
                (void)!system(show);
                TAP_FAIL("rsyslogd did not come up");
        }
}

/* The lines of out.log holding `marker`, once there are `n` of them (rsyslog writes asynchronously;
 * up to 20 s). */
static char **rs_lines(const char *marker, size_t n)
{
        char **lines = NULL;
        for (int i = 0; i < 400; i++) {
                _cleanup_free_ char *all = NULL;
                size_t len = 0;
                char *save = NULL;
                strv_free(lines);
                lines = xcalloc(1, sizeof(char *));
                if (read_file_at(AT_FDCWD, in_tmp("out.log"), 64 << 20, &all, &len) == 0)
                        for (char *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                if (strstr(l, marker))
                                        strv_push(&lines, l);
                if (strv_length(lines) >= n)
                        return lines;
                usleep(50 * 1000);
        }
        return lines;
}

#define RS_NEEDED()                                                                                            \
        do {                                                                                                   \
                if (!rs.up)                                                                                    \
                        TAP_SKIP("no rsyslogd (see rsyslog_start)");                                           \
        } while (0)

/* Sends stdout "hello" and stderr "oops" with tag `tag`, then checks rsyslog's two lines. */
static void rs_check_pair(int *tap_failed, const char *input, const char *addr, const char *format, const char *tag,
                          const char *want_host, const char *extra_k, const char *extra_v)
{
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        _cleanup_free_ char *raw_out = NULL, *raw_err = NULL, *want_out = NULL, *want_err = NULL;
        bool r5424 = str_has_prefix(format, "rfc5424");
        const char *frac = STREQ(format, "rfc5424micro") ? ".089012" : "";

        if (extra_k)
                OPEN_OK(&o, "syslog-address", addr, "syslog-format", format, "tag", tag, "syslog-tls-ca-cert",
                        in_tmp("ca.pem"), extra_k, extra_v);
        else
                OPEN_OK(&o, "syslog-address", addr, "syslog-format", format, "tag", tag, "syslog-tls-ca-cert",
                        in_tmp("ca.pem"));
        LOG_OK(&o, "stdout", "hello");
        LOG_OK(&o, "stderr", "oops");
        close_driver(&o);
        lines = rs_lines(tag, 2);
        if (strv_length(lines) != 2)
                TAP_FAIL("rsyslog logged %zu lines with %s, not 2", strv_length(lines), tag);
        if (r5424) {
                raw_out = xasprintf("<30>1 2021-03-04T05:06:07%sZ %s %s %ld %s - hello", frac, host, tag, pid, tag);
                raw_err = xasprintf("<27>1 2021-03-04T05:06:07%sZ %s %s %ld %s - oops", frac, host, tag, pid, tag);
                /* rsyslog's RFC 5424 parser: APP-NAME, PROCID, MSGID, and syslogtag made of the first two */
                want_out = xasprintf("%s|30|%s|%s[%ld]|%s|%ld|%s|hello|%s", input, host, tag, pid, tag, pid, tag, raw_out);
                want_err = xasprintf("%s|27|%s|%s[%ld]|%s|%ld|%s|oops|%s", input, host, tag, pid, tag, pid, tag, raw_err);
        } else {
                bool h = STREQ(format, "rfc3164");
                raw_out = xasprintf("<30>Mar  4 05:06:07 %s%s%s[%ld]: hello", h ? host : "", h ? " " : "", tag, pid);
                raw_err = xasprintf("<27>Mar  4 05:06:07 %s%s%s[%ld]: oops", h ? host : "", h ? " " : "", tag, pid);
                want_out = xasprintf("%s|30|%s|%s[%ld]:|%s|%ld|-| hello|%s", input, want_host, tag, pid, tag, pid, raw_out);
                want_err = xasprintf("%s|27|%s|%s[%ld]:|%s|%ld|-| oops|%s", input, want_host, tag, pid, tag, pid, raw_err);
        }
        ASSERT_STREQ(lines[0], want_out);
        ASSERT_STREQ(lines[1], want_err);
}

TEST(rsyslog_udp_rfc3164)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", rs.udp);
        rs_check_pair(tap_failed, "udp", addr, "rfc3164", "t-udp-3164", host, NULL, NULL);
}

TEST(rsyslog_udp_rfc5424)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", rs.udp);
        rs_check_pair(tap_failed, "udp", addr, "rfc5424", "t-udp-5424", host, NULL, NULL);
}

TEST(rsyslog_tcp_default_format)
{
        RS_NEEDED();
        /* docker's default format has no host name: rsyslog fills in the sender's (127.0.0.1 resolved) */
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", rs.tcp);
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        OPEN_OK(&o, "syslog-address", addr, "tag", "t-tcp-unix");
        LOG_OK(&o, "stdout", "hello");
        close_driver(&o);
        lines = rs_lines("t-tcp-unix", 1);
        ASSERT_EQ(strv_length(lines), 1);
        ASSERT_TRUE(str_has_prefix(lines[0], "tcp|30|"));
        _cleanup_free_ char *want = xasprintf("|t-tcp-unix[%ld]:|t-tcp-unix|%ld|-| hello|<30>Mar  4 05:06:07 t-tcp-unix[%ld]: "
                                              "hello",
                                              pid, pid, pid);
        ASSERT_CONTAINS(lines[0], want);
}

TEST(rsyslog_tcp_rfc5424micro)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", rs.tcp);
        rs_check_pair(tap_failed, "tcp", addr, "rfc5424micro", "t-tcp-5424micro", host, NULL, NULL);
}

TEST(rsyslog_unix_stream_rfc3164)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("unix://%s", in_tmp("rs-stream.sock"));
        rs_check_pair(tap_failed, "unix", addr, "rfc3164", "t-unix-3164", host, NULL, NULL);
}

TEST(rsyslog_unixgram_default_format)
{
        RS_NEEDED();
        /* imuxsock, the local socket: the format meant for it (no host name; rsyslog adds its own) */
        _cleanup_free_ char *addr = xasprintf("unixgram://%s", in_tmp("rs-dgram.sock"));
        rs_check_pair(tap_failed, "imuxsock", addr, "", "t-unixgram", host, NULL, NULL);
}

TEST(rsyslog_tls_rfc5424_octet_counted)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", rs.tls);
        rs_check_pair(tap_failed, "tls", addr, "rfc5424", "t-tls-5424", host, NULL, NULL);
}

TEST(rsyslog_tls_default_format_newline_framed)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp+tls://127.0.0.1:%s", rs.tls);
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        OPEN_OK(&o, "syslog-address", addr, "tag", "t-tls-unix", "syslog-tls-ca-cert", in_tmp("ca.pem"));
        LOG_OK(&o, "stdout", "hello");
        LOG_OK(&o, "stdout", "again");
        close_driver(&o);
        lines = rs_lines("t-tls-unix", 2);
        ASSERT_EQ(strv_length(lines), 2);
        ASSERT_TRUE(str_has_prefix(lines[0], "tls|30|"));
        ASSERT_CONTAINS(lines[0], "| hello|<30>Mar  4 05:06:07 t-tls-unix[");
        ASSERT_CONTAINS(lines[1], "| again|<30>Mar  4 05:06:07 t-tls-unix[");
}

TEST(rsyslog_tls_client_certificate_rfc5424micro)
{
        RS_NEEDED();
        /* This listener wants a client certificate signed by the CA (x509/certvalid). */
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", rs.tlscert);
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        OPEN_OK(&o, "syslog-address", addr, "syslog-format", "rfc5424micro", "tag", "t-tls-cert", "syslog-tls-ca-cert",
                in_tmp("ca.pem"), "syslog-tls-cert", in_tmp("client.pem"), "syslog-tls-key", in_tmp("client.key"));
        LOG_OK(&o, "stderr", "with a certificate");
        close_driver(&o);
        lines = rs_lines("t-tls-cert", 1);
        ASSERT_EQ(strv_length(lines), 1);
        _cleanup_free_ char *want = xasprintf("tlscert|27|%s|t-tls-cert[%ld]|t-tls-cert|%ld|t-tls-cert|with a certificate|<27>1 "
                                              "2021-03-04T05:06:07.089012Z %s t-tls-cert %ld t-tls-cert - with a certificate",
                                              host, pid, pid, host, pid);
        ASSERT_STREQ(lines[0], want);
}

/* Many messages and 16 KiB pieces in one connection: every frame boundary where it belongs. */
static void rs_burst(int *tap_failed, const char *input, const char *addr, const char *format, const char *tag)
{
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        _cleanup_free_ char *big = xmalloc(16385);
        char line[64];

        memset(big, 'q', 16384);
        big[16384] = '\0';
        OPEN_OK(&o, "syslog-address", addr, "syslog-format", format, "tag", tag, "syslog-tls-ca-cert", in_tmp("ca.pem"));
        for (int i = 0; i < 200; i++) {
                snprintf(line, sizeof(line), "message %03d", i);
                LOG_OK(&o, i % 2 ? "stderr" : "stdout", i % 50 == 7 ? big : line);
        }
        close_driver(&o);
        lines = rs_lines(tag, 200);
        ASSERT_EQ(strv_length(lines), 200);
        for (int i = 0; i < 200; i++) {
                ASSERT_TRUE(str_has_prefix(lines[i], input));
                if (i % 50 == 7) {
                        /* the whole piece, in the message and in the raw message */
                        char *m = strstr(lines[i], "qqqq");
                        ASSERT_TRUE(m != NULL);
                        ASSERT_TRUE(strspn(m, "q") == 16384);
                } else {
                        snprintf(line, sizeof(line), "- message %03d", i);
                        ASSERT_CONTAINS(lines[i], line);
                }
        }
}

TEST(rsyslog_burst_tls_octet_counted)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", rs.tls);
        rs_burst(tap_failed, "tls|", addr, "rfc5424", "t-burst-tls");
}

TEST(rsyslog_burst_tcp_newline_framed)
{
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", rs.tcp);
        rs_burst(tap_failed, "tcp|", addr, "rfc5424", "t-burst-tcp");
}

TEST(rsyslog_restart_blocking_loses_nothing)
{
        /* rsyslogd stops with the connection open; lines logged while it is down (mode=blocking) all
         * arrive once it is back. */
        RS_NEEDED();
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", rs.tcp);
        Opened o = { 0 };
        _cleanup_strv_ char **lines = NULL;
        char line[64];
        pid_t old = rsyslog_pid;

        OPEN_OK(&o, "syslog-address", addr, "syslog-format", "rfc5424", "tag", "t-restart");
        LOG_OK(&o, "stdout", "before");
        strv_free(rs_lines("t-restart", 1));
        kill(old, SIGTERM);
        waitpid(old, NULL, 0);
        rsyslog_pid = 0;
        rs.up = false;
        /* Bring it back in a second from another process, while the driver waits. */
        pid_t helper = fork();
        if (helper == 0) {
                usleep(1000 * 1000);
                int fd = open(in_tmp("rsyslogd.log"), O_WRONLY | O_APPEND | O_CLOEXEC);
                dup2(fd, 1);
                dup2(fd, 2);
                execl(rsyslogd_path(), "rsyslogd", "-n", "-f", in_tmp("rsyslog.conf"), "-i", in_tmp("rsyslog.pid"),
                      (char *)NULL);
                _exit(127);
        }
        rsyslog_pid = helper;
        for (int i = 0; i < 20; i++) {
                snprintf(line, sizeof(line), "while down %02d", i);
                LOG_OK(&o, "stdout", line);
        }
        close_driver(&o);
        rs.up = true;
        lines = rs_lines("t-restart", 21);
        ASSERT_EQ(strv_length(lines), 21);
        ASSERT_CONTAINS(lines[0], "|before|");
        for (int i = 0; i < 20; i++) {
                snprintf(line, sizeof(line), "|while down %02d|", i);
                ASSERT_CONTAINS(lines[i + 1], line);
        }
}
