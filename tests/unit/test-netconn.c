/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netconn.c: address parsing, and real connections to loopback servers run by this process (TCP, UDP,
 * unix, unixgram, TLS with a CA made at test time), including the deadlines against peers that never
 * accept or never read, and writes to closed peers with SIGPIPE at its default (fatal) disposition.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "netconn.h"
#include "tap.h"
#include "tls-fixture.h"
#include "util.h"

#define ALL ((1u << NET_TCP) | (1u << NET_UDP) | (1u << NET_TLS) | (1u << NET_UNIX) | (1u << NET_UNIXGRAM))

static char tmpdir[] = "/tmp/test-netconn-XXXXXX";

__attribute__((constructor)) static void setup(void)
{
        /* A write to a closed peer must not kill us: SIGPIPE at its default action makes sure it would. */
        signal(SIGPIPE, SIG_DFL);
        /* A hang is a failure, not a stuck test run. */
        alarm(240);
        if (!mkdtemp(tmpdir))
                abort();
}

__attribute__((destructor)) static void teardown(void)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

/* ================================================================ parsing */

static int parse(const char *s, const char *dflt, unsigned allowed, NetAddr *a, char **msg)
{
        Error *e = NULL;
        int r = net_addr_parse(s, dflt, allowed, a, &e);
        *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        return r;
}

TEST(parse_good)
{
        static const struct {
                const char *in, *dflt;
                NetProto proto;
                const char *host, *port, *path;
        } cases[] = {
                { "tcp://127.0.0.1:514", NULL, NET_TCP, "127.0.0.1", "514", NULL },
                { "udp://logs.example.com", "514", NET_UDP, "logs.example.com", "514", NULL },
                { "tcp+tls://[::1]:6514", NULL, NET_TLS, "::1", "6514", NULL },
                { "tcp+tls://[::1]", "6514", NET_TLS, "::1", "6514", NULL },
                { "tls://fluent:24224", NULL, NET_TLS, "fluent", "24224", NULL },
                { "localhost:24224", NULL, NET_TCP, "localhost", "24224", NULL },
                { "localhost", "24224", NET_TCP, "localhost", "24224", NULL },
                { "tcp://[fe80::1%eth0]:514", NULL, NET_TCP, "fe80::1%eth0", "514", NULL },
                { "tcp://[::ffff:10.0.0.1]:1", NULL, NET_TCP, "::ffff:10.0.0.1", "1", NULL },
                { "udp://my_host-1.lan:syslog", NULL, NET_UDP, "my_host-1.lan", "syslog", NULL },
                { "tcp://h:65535", NULL, NET_TCP, "h", "65535", NULL },
                { "unix:///run/syslog.sock", NULL, NET_UNIX, NULL, NULL, "/run/syslog.sock" },
                { "unixgram:///dev/log", NULL, NET_UNIXGRAM, NULL, NULL, "/dev/log" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NetAddr a = { 0 };
                _cleanup_free_ char *msg = NULL;
                if (parse(cases[i].in, cases[i].dflt, ALL, &a, &msg) < 0)
                        TAP_FAIL("%s: %s", cases[i].in, msg);
                ASSERT_EQ(a.proto, cases[i].proto);
                if (cases[i].host)
                        ASSERT_STREQ(a.host, cases[i].host);
                else
                        ASSERT_TRUE(a.host == NULL);
                if (cases[i].port)
                        ASSERT_STREQ(a.port, cases[i].port);
                else
                        ASSERT_TRUE(a.port == NULL);
                if (cases[i].path)
                        ASSERT_STREQ(a.path, cases[i].path);
                else
                        ASSERT_TRUE(a.path == NULL);
                net_addr_free(&a);
                ASSERT_TRUE(a.host == NULL && a.port == NULL && a.path == NULL);
        }
}

TEST(parse_bad)
{
        char longpath[200];
        _cleanup_free_ char *longunix = NULL, *longhost = NULL;
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[sizeof(longpath) - 1] = '\0';
        longunix = xasprintf("unix:///%s", longpath);
        longhost = xasprintf("tcp://%s%s:1", longpath, longpath);

        const struct {
                const char *in, *dflt;
                unsigned allowed;
                const char *want;
        } cases[] = {
                { "", NULL, ALL, "empty address" },
                { "ftp://h:1", NULL, ALL, "unsupported scheme 'ftp'" },
                { "TCP://h:1", NULL, ALL, "unsupported scheme 'TCP'" },
                { "tcp://", "514", ALL, "no host" },
                { "tcp://:514", NULL, ALL, "no host" },
                { "tcp://h", NULL, ALL, "'tcp://h': no port" },
                { "tcp://h:", NULL, ALL, "the port is empty" },
                { "tcp://h:0", NULL, ALL, "out of range" },
                { "tcp://h:65536", NULL, ALL, "out of range" },
                { "tcp://h:99999999999999999999", NULL, ALL, "out of range" },
                { "tcp://h:p@rt", NULL, ALL, "invalid port 'p@rt'" },
                { "tcp://h:514/x", NULL, ALL, "unexpected path" },
                { "tcp://h/x", NULL, ALL, "unexpected path" },
                { "tcp://::1:514", NULL, ALL, "IPv6 address goes in brackets" },
                { "tcp://[::1", NULL, ALL, "'[' without its ']'" },
                { "tcp://[]:1", NULL, ALL, "is not an IPv6 address" },
                { "tcp://[host]:1", NULL, ALL, "is not an IPv6 address" },
                { "tcp://[::1]x", NULL, ALL, "unexpected 'x' after ']'" },
                { "tcp://[::1]/p", NULL, ALL, "unexpected path" },
                { "tcp://h@st:1", NULL, ALL, "invalid character '@'" },
                { "tcp://h st:1", NULL, ALL, "space or a control character at byte 7" },
                { "tcp://h\t:1", NULL, ALL, "control character" },
                { "/var/run/x", NULL, ALL, "expected scheme://host:port" },
                { "unix://relative/x", NULL, ALL, "needs an absolute path" },
                { "unixgram://", NULL, ALL, "needs an absolute path" },
                { longunix, NULL, ALL, "socket path is longer than 107 bytes" },
                { longhost, NULL, ALL, "host is longer than 253 bytes" },
                { "udp://h:1", NULL, 1u << NET_TCP, "udp:// is not supported here" },
                { "tcp+tls://h:1", NULL, (1u << NET_TCP) | (1u << NET_UDP), "tcp+tls:// is not supported here" },
                { "h:1", NULL, 1u << NET_UNIX, "tcp (host:port) is not supported here" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NetAddr a = { .proto = NET_UNIXGRAM, .host = (char *)"untouched" };
                _cleanup_free_ char *msg = NULL;
                int r = parse(cases[i].in, cases[i].dflt, cases[i].allowed, &a, &msg);
                if (r != -EINVAL)
                        TAP_FAIL("'%s' gave %d, not -EINVAL", cases[i].in, r);
                ASSERT_CONTAINS(msg, cases[i].want);
                /* ret untouched on failure */
                ASSERT_STREQ(a.host, "untouched");
        }
        /* The error names the address. */
        {
                NetAddr a = { 0 };
                _cleanup_free_ char *msg = NULL;
                ASSERT_EQ(parse("tcp://h:0", NULL, ALL, &a, &msg), -EINVAL);
                ASSERT_CONTAINS(msg, "address 'tcp://h:0'");
        }
}

/* ================================================================ plain sockets */

static int tcp_listener(int backlog, char port[static 8])
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
                abort();
        snprintf(port, 8, "%u", ntohs(sa.sin_port));
        return fd;
}

/* A loopback port with nothing listening on it. */
static void closed_port(char port[static 8])
{
        int fd = tcp_listener(1, port);
        close(fd);
}

static NetConn *connect_ok(const char *addr, const NetTlsOpts *tls, int timeout_ms, int *tap_failed)
{
        NetAddr a = { 0 };
        NetConn *c = NULL;
        Error *e = NULL;
        if (net_addr_parse(addr, NULL, ALL, &a, &e) < 0 || net_connect(&a, tls, timeout_ms, &c, &e) < 0) {
                printf("# connect %s: %s\n", addr, e ? e->msg : "?");
                *tap_failed = 1;
                c = NULL;
        }
        error_free(e);
        net_addr_free(&a);
        return c;
}

/* Connects and expects a failure with errno `want`; returns the message. */
static char *connect_fails(const char *addr, const NetTlsOpts *tls, int timeout_ms, int want, int *tap_failed)
{
        NetAddr a = { 0 };
        NetConn *c = NULL;
        Error *e = NULL;
        char *msg = NULL;
        int r = net_addr_parse(addr, NULL, ALL, &a, &e);
        if (r >= 0)
                r = net_connect(&a, tls, timeout_ms, &c, &e);
        if (r != -want) {
                printf("# connect %s: %d (%s), expected -%d\n", addr, r, e ? e->msg : "connected", want);
                *tap_failed = 1;
        }
        if (e)
                msg = xstrdup(e->msg);
        error_free(e);
        net_close(c);
        net_addr_free(&a);
        return msg ? msg : xstrdup("");
}

static size_t read_all_from(int fd, char *buf, size_t size)
{
        size_t off = 0;
        ssize_t n;
        while (off < size && (n = read(fd, buf + off, size - off)) > 0)
                off += (size_t)n;
        return off;
}

TEST(tcp_bytes_arrive)
{
        char port[8], buf[64] = "";
        _cleanup_close_ int lfd = tcp_listener(4, port), afd = -EBADF;
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        NetConn *c = connect_ok(addr, NULL, 2000, tap_failed);
        Error *e = NULL;

        if (!c)
                return;
        ASSERT_OK(net_write(c, "hello ", 6, 1000, &e));
        ASSERT_OK(net_write(c, "world\n", 6, 1000, &e));
        ASSERT_OK(net_write(c, "", 0, 1000, &e));
        net_close(c);
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ASSERT_TRUE(afd >= 0);
        ASSERT_EQ(read_all_from(afd, buf, sizeof(buf) - 1), 12);
        ASSERT_STREQ(buf, "hello world\n");
}

TEST(tcp_localhost_name)
{
        /* A name that goes through the resolver (/etc/hosts); the listener is IPv4 only, so an IPv6 first
         * answer is refused and the next address is tried. */
        char port[8], buf[8] = "";
        _cleanup_close_ int lfd = tcp_listener(4, port), afd = -EBADF;
        _cleanup_free_ char *addr = xasprintf("localhost:%s", port);
        NetConn *c = connect_ok(addr, NULL, 2000, tap_failed);
        Error *e = NULL;

        if (!c)
                return;
        ASSERT_OK(net_write(c, "abc", 3, 1000, &e));
        net_close(c);
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ASSERT_EQ(read_all_from(afd, buf, sizeof(buf) - 1), 3);
        ASSERT_STREQ(buf, "abc");
}

TEST(tcp_read_timeout_data_eof)
{
        char port[8], buf[16];
        _cleanup_close_ int lfd = tcp_listener(4, port), afd = -EBADF;
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        NetConn *c = connect_ok(addr, NULL, 2000, tap_failed);
        Error *e = NULL;

        if (!c)
                return;
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ASSERT_EQ(net_read(c, buf, sizeof(buf), 100, &e), -ETIMEDOUT);
        ASSERT_CONTAINS(e->msg, "nothing came");
        error_clear(&e);
        ASSERT_EQ(net_read(c, buf, sizeof(buf), 0, NULL), -ETIMEDOUT);
        ASSERT_EQ(write(afd, "pong", 4), 4);
        ASSERT_EQ(net_read(c, buf, sizeof(buf), 2000, &e), 4);
        ASSERT_TRUE(memcmp(buf, "pong", 4) == 0);
        close(TAKE_FD(afd));
        ASSERT_EQ(net_read(c, buf, sizeof(buf), 2000, &e), 0);
        net_close(c);
}

TEST(tcp_refused)
{
        char port[8];
        closed_port(port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        _cleanup_free_ char *want = xasprintf("connect to tcp://127.0.0.1:%s: Connection refused", port);
        _cleanup_free_ char *msg = connect_fails(addr, NULL, 2000, ECONNREFUSED, tap_failed);
        ASSERT_STREQ(msg, want);
}

TEST(tcp_connect_deadline_never_accepts)
{
        /* backlog 0: one connection fills the accept queue, later SYNs are dropped, so the connect can only
         * end at its deadline. */
        char port[8];
        _cleanup_close_ int lfd = tcp_listener(0, port);
        int fill[8];
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port = htons((uint16_t)atoi(port)) };
        for (size_t i = 0; i < ELEMENTSOF(fill); i++) {
                fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                (void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
        }
        usleep(100 * 1000);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        _cleanup_free_ char *msg = connect_fails(addr, NULL, 300, ETIMEDOUT, tap_failed);
        for (size_t i = 0; i < ELEMENTSOF(fill); i++)
                close(fill[i]);
        ASSERT_CONTAINS(msg, "timed out");
}

TEST(tcp_write_deadline_never_reads)
{
        char port[8];
        _cleanup_close_ int lfd = tcp_listener(4, port), afd = -EBADF;
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        NetConn *c = connect_ok(addr, NULL, 2000, tap_failed);
        size_t chunk = 1 << 20;
        _cleanup_free_ char *buf = xcalloc(1, chunk);
        Error *e = NULL;
        int r = 0;

        if (!c)
                return;
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC); /* accepted, never read */
        for (int i = 0; i < 256 && r == 0; i++)
                r = net_write(c, buf, chunk, 300, &e);
        ASSERT_EQ(r, -ETIMEDOUT);
        ASSERT_CONTAINS(e->msg, "timed out");
        ASSERT_CONTAINS(e->msg, "bytes sent");
        error_clear(&e);
        /* Unusable afterwards. */
        ASSERT_EQ(net_write(c, "x", 1, 100, &e), -EPIPE);
        ASSERT_CONTAINS(e->msg, "failed earlier");
        error_clear(&e);
        net_close(c);
}

TEST(tcp_write_to_closed_peer_no_sigpipe)
{
        char port[8];
        _cleanup_close_ int lfd = tcp_listener(4, port);
        _cleanup_free_ char *addr = xasprintf("tcp://127.0.0.1:%s", port);
        NetConn *c = connect_ok(addr, NULL, 2000, tap_failed);
        char buf[4096] = { 0 };
        Error *e = NULL;
        int r = 0;

        if (!c)
                return;
        close(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
        for (int i = 0; i < 1000 && r == 0; i++) {
                r = net_write(c, buf, sizeof(buf), 1000, &e);
                if (r == 0)
                        usleep(1000);
        }
        ASSERT_TRUE(r == -EPIPE || r == -ECONNRESET);
        error_clear(&e);
        net_close(c);
}

TEST(udp_datagrams)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof(sa);
        _cleanup_close_ int sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        char buf[70000];
        Error *e = NULL;

        ASSERT_OK(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)));
        ASSERT_OK(getsockname(sfd, (struct sockaddr *)&sa, &sl));
        _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%u", ntohs(sa.sin_port));
        NetConn *c = connect_ok(addr, NULL, 1000, tap_failed);
        if (!c)
                return;
        ASSERT_OK(net_write(c, "one", 3, 1000, &e));
        ASSERT_OK(net_write(c, "two\n", 4, 1000, &e));
        ASSERT_EQ(recv(sfd, buf, sizeof(buf), 0), 3);
        ASSERT_TRUE(memcmp(buf, "one", 3) == 0);
        ASSERT_EQ(recv(sfd, buf, sizeof(buf), 0), 4);
        ASSERT_TRUE(memcmp(buf, "two\n", 4) == 0);
        /* More than a UDP datagram holds. */
        memset(buf, 'x', sizeof(buf));
        ASSERT_EQ(net_write(c, buf, sizeof(buf), 1000, &e), -EMSGSIZE);
        ASSERT_CONTAINS(e->msg, "a datagram of 70000 bytes");
        error_clear(&e);
        net_close(c);
}

TEST(udp_closed_port_reports_refused)
{
        char port[8];
        closed_port(port); /* the same number is free for UDP too, almost always; the test only needs silence */
        _cleanup_free_ char *addr = xasprintf("udp://127.0.0.1:%s", port);
        NetConn *c = connect_ok(addr, NULL, 1000, tap_failed);
        Error *e = NULL;
        int r = 0;

        if (!c)
                return;
        /* The ICMP port-unreachable comes back asynchronously: a later send reports it. */
        for (int i = 0; i < 200 && r == 0; i++) {
                r = net_write(c, "x", 1, 1000, &e);
                if (r == 0)
                        usleep(5000);
        }
        ASSERT_EQ(r, -ECONNREFUSED);
        ASSERT_CONTAINS(e->msg, "Connection refused");
        error_clear(&e);
        net_close(c);
}

static int unix_listener(const char *path, int type, int backlog)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                abort();
        if (type == SOCK_STREAM && listen(fd, backlog) < 0)
                abort();
        return fd;
}

TEST(unix_stream_bytes_arrive)
{
        _cleanup_free_ char *path = xasprintf("%s/stream.sock", tmpdir);
        _cleanup_free_ char *addr = xasprintf("unix://%s", path);
        _cleanup_close_ int lfd = unix_listener(path, SOCK_STREAM, 4), afd = -EBADF;
        char buf[32] = "";
        NetConn *c = connect_ok(addr, NULL, 1000, tap_failed);
        Error *e = NULL;

        if (!c)
                return;
        ASSERT_OK(net_write(c, "<30>hello\n", 10, 1000, &e));
        net_close(c);
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ASSERT_EQ(read_all_from(afd, buf, sizeof(buf) - 1), 10);
        ASSERT_STREQ(buf, "<30>hello\n");
}

TEST(unix_stream_connect_deadline_never_accepts)
{
        _cleanup_free_ char *path = xasprintf("%s/full.sock", tmpdir);
        _cleanup_free_ char *addr = xasprintf("unix://%s", path);
        _cleanup_close_ int lfd = unix_listener(path, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fill[8], nfill = 0;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        /* Fill the backlog: non-blocking connects until the kernel says EAGAIN. */
        for (; nfill < (int)ELEMENTSOF(fill); nfill++) {
                fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (connect(fill[nfill], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        close(fill[nfill]);
                        break;
                }
        }
        _cleanup_free_ char *msg = connect_fails(addr, NULL, 300, ETIMEDOUT, tap_failed);
        for (int i = 0; i < nfill; i++)
                close(fill[i]);
        ASSERT_TRUE(nfill < (int)ELEMENTSOF(fill));
        ASSERT_CONTAINS(msg, "timed out");
}

TEST(unix_missing_socket)
{
        _cleanup_free_ char *addr = xasprintf("unix://%s/nope.sock", tmpdir);
        _cleanup_free_ char *want = xasprintf("connect to unix://%s/nope.sock: No such file or directory", tmpdir);
        _cleanup_free_ char *msg = connect_fails(addr, NULL, 1000, ENOENT, tap_failed);
        ASSERT_STREQ(msg, want);
}

TEST(unixgram_datagrams_and_deadline)
{
        _cleanup_free_ char *path = xasprintf("%s/dgram.sock", tmpdir);
        _cleanup_free_ char *addr = xasprintf("unixgram://%s", path);
        _cleanup_close_ int sfd = unix_listener(path, SOCK_DGRAM, 0);
        char buf[1024];
        NetConn *c = connect_ok(addr, NULL, 1000, tap_failed);
        Error *e = NULL;
        int r = 0;

        if (!c)
                return;
        ASSERT_OK(net_write(c, "<14>a", 5, 1000, &e));
        ASSERT_OK(net_write(c, "<14>bc", 6, 1000, &e));
        ASSERT_EQ(recv(sfd, buf, sizeof(buf), 0), 5);
        ASSERT_TRUE(memcmp(buf, "<14>a", 5) == 0);
        ASSERT_EQ(recv(sfd, buf, sizeof(buf), 0), 6);
        /* A reader that stops reading: the queue fills and a send ends at its deadline. */
        memset(buf, 'y', sizeof(buf));
        for (int i = 0; i < 100000 && r == 0; i++)
                r = net_write(c, buf, sizeof(buf), 200, &e);
        ASSERT_EQ(r, -ETIMEDOUT);
        ASSERT_CONTAINS(e->msg, "timed out");
        error_clear(&e);
        net_close(c);

        /* The reader goes away: the next send is refused. */
        c = connect_ok(addr, NULL, 1000, tap_failed);
        if (!c)
                return;
        close(TAKE_FD(sfd));
        unlink(path);
        r = net_write(c, "x", 1, 1000, &e);
        ASSERT_TRUE(r == -ECONNREFUSED || r == -ENOTCONN);
        error_clear(&e);
        net_close(c);
}

/* ================================================================ TLS */

static bool have_pki;

static const char *pki(const char *name)
{
        static char paths[8][256];
        static int next;
        char *p = paths[next++ % 8];
        snprintf(p, 256, "%s/%s", tmpdir, name);
        return p;
}

typedef struct TlsServer {
        int lfd;
        char port[8];
        bool want_client_cert, close_after_handshake, no_tls;
        pthread_t thread;
        /* results */
        bool handshake_ok;
        char sni[256], client_cn[256];
        char data[8192];
        size_t len;
} TlsServer;

static void *tls_server_main(void *ud)
{
        TlsServer *s = ud;
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        struct pollfd p = { .fd = s->lfd, .events = POLLIN };
        sigset_t pipe;
        int fd;

        /* The server's own writes (OpenSSL's socket BIO: write()) may hit a client that has gone: a
         * SIGPIPE here, directed at this thread, stays blocked and pending until the thread ends. */
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, NULL);
        if (poll(&p, 1, 10000) != 1)
                return NULL;
        fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        if (s->no_tls) { /* a TCP server that never answers the ClientHello */
                char buf[4096];
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
                close(fd);
                return NULL;
        }
        ctx = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_chain_file(ctx, pki("server.pem")) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, pki("server.key"), SSL_FILETYPE_PEM) != 1)
                goto out;
        if (s->want_client_cert) {
                SSL_CTX_load_verify_locations(ctx, pki("ca.pem"), NULL);
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1)
                goto out;
        s->handshake_ok = true;
        {
                const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
                X509 *peer = SSL_get1_peer_certificate(ssl);
                snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
                if (peer) {
                        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->client_cn,
                                                  sizeof(s->client_cn));
                        X509_free(peer);
                }
        }
        if (s->close_after_handshake)
                goto out;
        for (;;) {
                int n = SSL_read(ssl, s->data + s->len, (int)(sizeof(s->data) - 1 - s->len));
                if (n <= 0)
                        break;
                s->len += (size_t)n;
        }
        SSL_shutdown(ssl);
out:
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        close(fd);
        return NULL;
}

static void tls_server_start(TlsServer *s)
{
        s->lfd = tcp_listener(4, s->port);
        if (pthread_create(&s->thread, NULL, tls_server_main, s) != 0)
                abort();
}

static void tls_server_stop(TlsServer *s)
{
        pthread_join(s->thread, NULL);
        close(s->lfd);
}

TEST(tls_fixture)
{
        _cleanup_free_ char *cmd = NULL;
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                TAP_SKIP("no openssl command (tools/setup.sh installs it)");
        if (tls_fixture_make(tmpdir) < 0) {
                cmd = xasprintf("cat '%s/openssl.log' | sed 's/^/# /'", tmpdir);
                (void)!system(cmd);
                TAP_FAIL("could not make the test certificates");
        }
        have_pki = true;
}

TEST(tls_verified_ip_and_name)
{
        const char *hosts[] = { "127.0.0.1", "localhost" };
        if (!have_pki)
                TAP_SKIP("no test certificates");
        for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
                TlsServer s = { 0 };
                NetTlsOpts o = { .ca_file = pki("ca.pem") };
                Error *e = NULL;
                tls_server_start(&s);
                _cleanup_free_ char *addr = xasprintf("tcp+tls://%s:%s", hosts[i], s.port);
                NetConn *c = connect_ok(addr, &o, 5000, tap_failed);
                if (c) {
                        ASSERT_OK(net_write(c, "<14>1 over tls\n", 15, 2000, &e));
                        ASSERT_OK(net_write(c, "second\n", 7, 2000, &e));
                        net_close(c); /* close_notify ends the server's read loop */
                }
                tls_server_stop(&s);
                ASSERT_TRUE(s.handshake_ok);
                s.data[s.len] = '\0';
                ASSERT_STREQ(s.data, "<14>1 over tls\nsecond\n");
                /* SNI for a name, none for an IP address (RFC 6066). */
                ASSERT_STREQ(s.sni, i == 0 ? "" : "localhost");
        }
}

TEST(tls_server_name_mismatch)
{
        TlsServer s = { 0 };
        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .ca_file = pki("ca.pem"), .server_name = "wrong.example" };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://127.0.0.1:%s", s.port);
        _cleanup_free_ char *msg = connect_fails(addr, &o, 5000, EPROTO, tap_failed);
        tls_server_stop(&s);
        ASSERT_CONTAINS(msg, "certificate verify failed: hostname mismatch");
        ASSERT_CONTAINS(msg, addr);
}

TEST(tls_unknown_ca)
{
        TlsServer s = { 0 };
        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .ca_file = pki("other-ca.pem") };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        _cleanup_free_ char *msg = connect_fails(addr, &o, 5000, EPROTO, tap_failed);
        tls_server_stop(&s);
        ASSERT_CONTAINS(msg, "certificate verify failed: unable to get local issuer certificate");
}

TEST(tls_system_cas_refuse_test_ca)
{
        TlsServer s = { 0 };
        if (!have_pki)
                TAP_SKIP("no test certificates");
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        _cleanup_free_ char *msg = connect_fails(addr, NULL, 5000, EPROTO, tap_failed);
        tls_server_stop(&s);
        ASSERT_CONTAINS(msg, "certificate verify failed");
}

TEST(tls_skip_verify)
{
        TlsServer s = { 0 };
        Error *e = NULL;
        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .skip_verify = true, .server_name = "wrong.example" };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://127.0.0.1:%s", s.port);
        NetConn *c = connect_ok(addr, &o, 5000, tap_failed);
        if (c) {
                ASSERT_OK(net_write(c, "x", 1, 2000, &e));
                net_close(c);
        }
        tls_server_stop(&s);
        ASSERT_TRUE(s.handshake_ok);
        ASSERT_EQ(s.len, 1);
}

TEST(tls_client_certificate)
{
        TlsServer s = { .want_client_cert = true };
        Error *e = NULL;
        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .ca_file = pki("ca.pem"), .cert_file = pki("client.pem"), .key_file = pki("client.key") };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        NetConn *c = connect_ok(addr, &o, 5000, tap_failed);
        if (c) {
                ASSERT_OK(net_write(c, "cert", 4, 2000, &e));
                net_close(c);
        }
        tls_server_stop(&s);
        ASSERT_TRUE(s.handshake_ok);
        ASSERT_STREQ(s.client_cn, "stockade-client");

        /* Without one, the server refuses the handshake. */
        TlsServer s2 = { .want_client_cert = true };
        NetTlsOpts o2 = { .ca_file = pki("ca.pem") };
        tls_server_start(&s2);
        _cleanup_free_ char *addr2 = xasprintf("tcp+tls://localhost:%s", s2.port);
        NetAddr a = { 0 };
        NetConn *c2 = NULL;
        ASSERT_OK(net_addr_parse(addr2, NULL, ALL, &a, &e));
        if (net_connect(&a, &o2, 5000, &c2, &e) == 0) {
                /* TLS 1.3: the client finishes first; the refusal shows on the next read. */
                char buf[8];
                ASSERT_TRUE(net_read(c2, buf, sizeof(buf), 5000, &e) <= 0);
        }
        error_clear(&e);
        net_close(c2);
        net_addr_free(&a);
        tls_server_stop(&s2);
        ASSERT_TRUE(!s2.handshake_ok);
}

TEST(tls_bad_files)
{
        if (!have_pki)
                TAP_SKIP("no test certificates");
        TlsServer s = { .no_tls = true };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        NetTlsOpts o = { .ca_file = pki("nonexistent.pem") };
        _cleanup_free_ char *msg = connect_fails(addr, &o, 2000, EINVAL, tap_failed);
        ASSERT_CONTAINS(msg, "TLS CA certificates");
        ASSERT_CONTAINS(msg, "nonexistent.pem");
        NetTlsOpts o2 = { .ca_file = pki("ca.pem"), .cert_file = pki("client.pem"), .key_file = pki("server.key") };
        _cleanup_free_ char *msg2 = connect_fails(addr, &o2, 2000, EINVAL, tap_failed);
        ASSERT_CONTAINS(msg2, "TLS client key");
        /* the server thread took the first connection; the second was refused at setup, after connecting */
        tls_server_stop(&s);
}

TEST(tls_handshake_deadline)
{
        TlsServer s = { .no_tls = true };
        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .ca_file = pki("ca.pem") };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        _cleanup_free_ char *msg = connect_fails(addr, &o, 300, ETIMEDOUT, tap_failed);
        tls_server_stop(&s);
        ASSERT_CONTAINS(msg, "TLS handshake: timed out");
}

TEST(tls_write_to_closed_peer_no_sigpipe)
{
        TlsServer s = { .close_after_handshake = true };
        char buf[4096] = { 0 };
        Error *e = NULL;
        int r = 0;

        if (!have_pki)
                TAP_SKIP("no test certificates");
        NetTlsOpts o = { .ca_file = pki("ca.pem") };
        tls_server_start(&s);
        _cleanup_free_ char *addr = xasprintf("tcp+tls://localhost:%s", s.port);
        NetConn *c = connect_ok(addr, &o, 5000, tap_failed);
        tls_server_stop(&s); /* closed by now */
        if (!c)
                return;
        for (int i = 0; i < 1000 && r == 0; i++) {
                r = net_write(c, buf, sizeof(buf), 1000, &e);
                if (r == 0)
                        usleep(1000);
        }
        ASSERT_TRUE(r < 0);
        ASSERT_CONTAINS(e->msg, addr);
        error_clear(&e);
        /* A read on it now reports the end, not a crash. */
        ASSERT_TRUE(net_read(c, buf, sizeof(buf), 100, NULL) <= 0);
        net_close(c);
}

TEST(close_null)
{
        ASSERT_TRUE(net_close(NULL) == NULL);
}
