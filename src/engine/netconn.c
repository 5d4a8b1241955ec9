/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Client connections for the network log drivers (see netconn.h).
 *
 * Every socket is non-blocking once connected and every wait is a poll() against a deadline taken
 * from CLOCK_MONOTONIC, so no operation outlives its timeout (negative timeout_ms: no limit).  The
 * exceptions, documented in docs/LOGGING.md: name resolution (getaddrinfo) runs under the resolver's
 * own timeouts, and numeric hosts skip it.
 *
 * SIGPIPE is never raised: plain sockets are written with send(MSG_NOSIGNAL), and TLS goes through a
 * BIO of our own (nosig_bio_*) that does the same, since OpenSSL's socket BIO uses write().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netconn.h"
#include "util.h"

#define ADDR_MAX    4096 /* the whole address string */
#define HOST_MAX    253  /* a DNS name */
#define SERVICE_MAX 32   /* a service name such as "syslog" */

struct NetConn {
        int fd;
        NetProto proto;
        SSL_CTX *ctx;
        SSL *ssl;
        bool broken; /* a failed write or read: only net_close is left */
        char *name;  /* "tcp://host:port", "unix:///path", for messages */
};

/* ================================================================ addresses */

static const struct {
        const char *scheme;
        NetProto proto;
} schemes[] = {
        { "tcp", NET_TCP },   { "udp", NET_UDP },   { "tcp+tls", NET_TLS },
        { "tls", NET_TLS }, /* fluentd's spelling of tcp+tls */
        { "unix", NET_UNIX }, { "unixgram", NET_UNIXGRAM },
};

static const char *proto_scheme(NetProto p)
{
        switch (p) {
        case NET_TCP:
                return "tcp";
        case NET_UDP:
                return "udp";
        case NET_TLS:
                return "tcp+tls";
        case NET_UNIX:
                return "unix";
        case NET_UNIXGRAM:
                return "unixgram";
        default:
                return "?";
        }
}

void net_addr_free(NetAddr *a)
{
        if (!a)
                return;
        free(a->host);
        free(a->port);
        free(a->path);
        a->host = a->port = a->path = NULL;
}

static bool is_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_';
}

/* A port: 1 to 65535, or a service name for getaddrinfo ("syslog"). */
static int check_port(const char *s, const char *p, size_t n, Error **err)
{
        bool digits = true;

        if (n == 0)
                return error_setx(err, EINVAL, "address '%s': the port is empty", s);
        if (n > SERVICE_MAX)
                return error_setx(err, EINVAL, "address '%s': the port is longer than %d bytes", s, SERVICE_MAX);
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '/')
                        return error_setx(err, EINVAL, "address '%s': unexpected path after the port", s);
                if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
                      p[i] == '-'))
                        return error_setx(err, EINVAL, "address '%s': invalid port '%.*s'", s, (int)n, p);
                digits &= p[i] >= '0' && p[i] <= '9';
        }
        if (digits) {
                unsigned long v = 0;
                for (size_t i = 0; i < n && v <= 65535; i++)
                        v = v * 10 + (unsigned long)(p[i] - '0');
                if (v < 1 || v > 65535)
                        return error_setx(err, EINVAL, "address '%s': port '%.*s' is out of range (1 to 65535)", s, (int)n,
                                          p);
        }
        return 0;
}

static int parse_host_port(const char *s, const char *rest, const char *default_port, NetAddr *a, Error **err)
{
        const char *host, *port = NULL, *end;
        size_t hlen, plen = 0;
        int r;

        if (rest[0] == '[') {
                const char *close = strchr(rest, ']');
                bool colon = false;
                if (!close)
                        return error_setx(err, EINVAL, "address '%s': '[' without its ']'", s);
                host = rest + 1;
                hlen = (size_t)(close - host);
                for (size_t i = 0; i < hlen; i++) {
                        char c = host[i];
                        colon |= c == ':';
                        /* hex digits, colons, dots (an embedded IPv4), a %zone */
                        if (!(c == ':' || c == '.' || c == '%' || is_name_char(c)))
                                return error_setx(err, EINVAL, "address '%s': invalid IPv6 address '%.*s'", s, (int)hlen,
                                                  host);
                }
                if (hlen == 0 || !colon)
                        return error_setx(err, EINVAL, "address '%s': '[%.*s]' is not an IPv6 address", s, (int)hlen,
                                          host);
                end = close + 1;
                if (*end == ':') {
                        port = end + 1;
                        plen = strlen(port);
                } else if (*end == '/') {
                        return error_setx(err, EINVAL, "address '%s': unexpected path after the host", s);
                } else if (*end) {
                        return error_setx(err, EINVAL, "address '%s': unexpected '%s' after ']'", s, end);
                }
        } else {
                const char *colon = strchr(rest, ':'), *slash = strchr(rest, '/');
                if (slash && (!colon || slash < colon))
                        return error_setx(err, EINVAL, "address '%s': unexpected path after the host", s);
                if (colon && strchr(colon + 1, ':'))
                        return error_setx(err, EINVAL, "address '%s': an IPv6 address goes in brackets ([::1]:514)", s);
                host = rest;
                hlen = colon ? (size_t)(colon - rest) : strlen(rest);
                if (colon) {
                        port = colon + 1;
                        plen = strlen(port);
                }
                for (size_t i = 0; i < hlen; i++)
                        if (!is_name_char(host[i]))
                                return error_setx(err, EINVAL, "address '%s': invalid character '%c' in the host", s,
                                                  host[i]);
        }
        if (hlen == 0)
                return error_setx(err, EINVAL, "address '%s': no host", s);
        if (hlen > HOST_MAX)
                return error_setx(err, EINVAL, "address '%s': the host is longer than %d bytes", s, HOST_MAX);
        if (port) {
                if ((r = check_port(s, port, plen, err)) < 0)
                        return r;
        } else if (default_port) {
                port = default_port;
                plen = strlen(default_port);
        } else {
                return error_setx(err, EINVAL, "address '%s': no port (host:port)", s);
        }
        a->host = xstrndup(host, hlen);
        a->port = xstrndup(port, plen);
        return 0;
}

int net_addr_parse(const char *s, const char *default_port, unsigned allowed, NetAddr *ret, Error **err)
{
        NetAddr a = { .proto = NET_TCP };
        const char *sep, *rest = s;
        size_t n;
        int r;

        if (!s || !*s)
                return error_setx(err, EINVAL, "empty address");
        n = strnlen(s, ADDR_MAX + 1);
        if (n > ADDR_MAX)
                return error_setx(err, EINVAL, "address is longer than %d bytes", ADDR_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
                        return error_setx(err, EINVAL, "address holds a space or a control character at byte %zu", i);

        sep = strstr(s, "://");
        if (sep) {
                size_t sl = (size_t)(sep - s);
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(schemes) && !found; i++)
                        if (strlen(schemes[i].scheme) == sl && strncmp(s, schemes[i].scheme, sl) == 0) {
                                a.proto = schemes[i].proto;
                                found = true;
                        }
                if (!found)
                        return error_setx(err, EINVAL, "address '%s': unsupported scheme '%.*s'", s, (int)sl, s);
                rest = sep + 3;
        } else if (strchr(s, '/')) {
                return error_setx(err, EINVAL, "address '%s': expected scheme://host:port, unix:///path or host:port", s);
        }
        if (!(allowed & (1u << a.proto)))
                return error_setx(err, EINVAL, "address '%s': %s%s is not supported here", s, proto_scheme(a.proto),
                                  sep ? "://" : " (host:port)");

        if (a.proto == NET_UNIX || a.proto == NET_UNIXGRAM) {
                if (rest[0] != '/')
                        return error_setx(err, EINVAL, "address '%s': a unix socket needs an absolute path (%s:///path)", s,
                                          proto_scheme(a.proto));
                if (strlen(rest) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                        return error_setx(err, EINVAL, "address '%s': the socket path is longer than %zu bytes", s,
                                          sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
                a.path = xstrdup(rest);
        } else if ((r = parse_host_port(s, rest, default_port, &a, err)) < 0) {
                return r;
        }
        *ret = a;
        return 0;
}

/* ================================================================ deadlines */

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: none */
static int64_t deadline_after(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* What is left before the deadline, for poll(): -1 for no deadline, else >= 0. */
static int remaining_ms(int64_t deadline)
{
        int64_t r;

        if (deadline < 0)
                return -1;
        r = deadline - now_ms();
        return r < 0 ? 0 : r > INT_MAX ? INT_MAX : (int)r;
}

/* 1 when fd is ready for `events` (or has an error or hang-up to report), 0 at the deadline, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, remaining_ms(deadline));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                return r > 0;
        }
}

/* ================================================================ TLS: a socket BIO that never raises SIGPIPE */

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_fd(BIO *b)
{
        return (int)(intptr_t)BIO_get_data(b);
}

static int nosig_write(BIO *b, const char *buf, int len)
{
        ssize_t n;

        BIO_clear_retry_flags(b);
        n = send(nosig_fd(b), buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        BIO_set_retry_write(b);
                return -1;
        }
        return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
        ssize_t n;

        BIO_clear_retry_flags(b);
        n = recv(nosig_fd(b), buf, (size_t)len, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        BIO_set_retry_read(b);
                return -1;
        }
        return (int)n;
}

static int nosig_puts(BIO *b, const char *s)
{
        return nosig_write(b, s, (int)strlen(s));
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
        switch (cmd) {
        case BIO_CTRL_FLUSH:
                return 1; /* nothing is buffered here */
        default:
                return 0;
        }
}

static int nosig_create(BIO *b)
{
        BIO_set_init(b, 1);
        return 1;
}

static void nosig_init(void)
{
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "stockade socket (MSG_NOSIGNAL)");
        if (!m)
                return;
        if (!BIO_meth_set_write(m, nosig_write) || !BIO_meth_set_read(m, nosig_read) ||
            !BIO_meth_set_puts(m, nosig_puts) || !BIO_meth_set_ctrl(m, nosig_ctrl) ||
            !BIO_meth_set_create(m, nosig_create)) {
                BIO_meth_free(m);
                return;
        }
        nosig_method = m;
}

static BIO *nosig_bio(int fd)
{
        BIO *b;

        (void)pthread_once(&nosig_once, nosig_init);
        if (!nosig_method || !(b = BIO_new(nosig_method)))
                return NULL;
        BIO_set_data(b, (void *)(intptr_t)fd);
        return b;
}

/* The OpenSSL error queue as one message (and emptied). */
static void ssl_reason(char *buf, size_t size)
{
        unsigned long e, last = 0;

        buf[0] = '\0';
        while ((e = ERR_get_error()) != 0)
                last = e; /* the last one is the most specific */
        if (last)
                ERR_error_string_n(last, buf, size);
        else
                snprintf(buf, size, "unknown TLS error");
}

static bool is_ip_literal(const char *host)
{
        unsigned char b[sizeof(struct in6_addr)];
        char tmp[INET6_ADDRSTRLEN + 64];
        const char *pct = strchr(host, '%');

        if (inet_pton(AF_INET, host, b) == 1)
                return true;
        if (pct) { /* a zone: fe80::1%eth0 */
                if ((size_t)(pct - host) >= sizeof(tmp))
                        return false;
                memcpy(tmp, host, (size_t)(pct - host));
                tmp[pct - host] = '\0';
                host = tmp;
        }
        return inet_pton(AF_INET6, host, b) == 1;
}

static int tls_setup(NetConn *c, const NetAddr *a, const NetTlsOpts *o, Error **err)
{
        static const NetTlsOpts defaults = { 0 };
        const char *name;
        char why[256];
        BIO *bio;

        if (!o)
                o = &defaults;
        name = o->server_name ? o->server_name : a->host;
        ERR_clear_error();
        c->ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ctx) {
                ssl_reason(why, sizeof(why));
                return error_setx(err, ENOMEM, "%s: TLS setup: %s", c->name, why);
        }
        /* docker's tlsconfig.Client: TLS 1.2 at least. */
        (void)SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(c->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* A peer that drops the connection without close_notify reads as EOF, not as an error. */
        SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        if (o->skip_verify) {
                SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
        } else {
                SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
                if (o->ca_file ? SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1
                               : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
                        ssl_reason(why, sizeof(why));
                        return error_setx(err, EINVAL, "%s: TLS CA certificates %s: %s", c->name,
                                          o->ca_file ? o->ca_file : "(the system's)", why);
                }
        }
        if (o->cert_file || o->key_file) {
                if (!o->cert_file || !o->key_file)
                        return error_setx(err, EINVAL, "%s: a TLS client certificate needs both a certificate and a key",
                                          c->name);
                if (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1) {
                        ssl_reason(why, sizeof(why));
                        return error_setx(err, EINVAL, "%s: TLS client certificate %s: %s", c->name, o->cert_file, why);
                }
                if (SSL_CTX_use_PrivateKey_file(c->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
                    SSL_CTX_check_private_key(c->ctx) != 1) {
                        ssl_reason(why, sizeof(why));
                        return error_setx(err, EINVAL, "%s: TLS client key %s: %s", c->name, o->key_file, why);
                }
        }
        c->ssl = SSL_new(c->ctx);
        bio = c->ssl ? nosig_bio(c->fd) : NULL;
        if (!bio) {
                ssl_reason(why, sizeof(why));
                return error_setx(err, ENOMEM, "%s: TLS setup: %s", c->name, why);
        }
        SSL_set_bio(c->ssl, bio, bio);
        /* SNI carries DNS names only (RFC 6066 section 3); an IP address is checked against the IP SANs. */
        if (!is_ip_literal(name) && SSL_set_tlsext_host_name(c->ssl, name) != 1) {
                ssl_reason(why, sizeof(why));
                return error_setx(err, EINVAL, "%s: TLS server name '%s': %s", c->name, name, why);
        }
        if (!o->skip_verify) {
                X509_VERIFY_PARAM *p = SSL_get0_param(c->ssl);
                int ok;
                if (is_ip_literal(name)) {
                        ok = X509_VERIFY_PARAM_set1_ip_asc(p, name);
                } else {
                        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                        ok = X509_VERIFY_PARAM_set1_host(p, name, 0);
                }
                if (ok != 1) {
                        ssl_reason(why, sizeof(why));
                        return error_setx(err, EINVAL, "%s: TLS server name '%s': %s", c->name, name, why);
                }
        }
        return 0;
}

static int tls_handshake(NetConn *c, int64_t deadline, Error **err)
{
        char why[256];

        for (;;) {
                int r, e, w;

                ERR_clear_error();
                errno = 0;
                r = SSL_connect(c->ssl);
                if (r == 1)
                        return 0;
                e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                        if (w < 0)
                                return error_set(err, -w, "%s: TLS handshake", c->name);
                        if (w == 0)
                                return error_setx(err, ETIMEDOUT, "%s: TLS handshake: timed out", c->name);
                        continue;
                }
                if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
                        long v = SSL_get_verify_result(c->ssl);
                        ERR_clear_error();
                        return error_setx(err, EPROTO, "%s: TLS handshake: certificate verify failed: %s", c->name,
                                          X509_verify_cert_error_string(v));
                }
                if (e == SSL_ERROR_SYSCALL && errno != 0)
                        return error_set(err, errno, "%s: TLS handshake", c->name);
                if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
                        return error_setx(err, ECONNRESET, "%s: TLS handshake: the server closed the connection",
                                          c->name);
                ssl_reason(why, sizeof(why));
                return error_setx(err, EPROTO, "%s: TLS handshake: %s", c->name, why);
        }
}

/* ================================================================ connecting */

static int set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

/* A unix socket.  connect() on a stream socket waits for room in the listener's backlog; SO_SNDTIMEO
 * bounds that wait (unix_stream_connect honours it), the socket turns non-blocking afterwards. */
static int connect_unix(const NetAddr *a, int64_t deadline, int *ret_fd)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        bool stream = a->proto == NET_UNIX;

        if (strlen(a->path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
        fd = socket(AF_UNIX, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        for (;;) {
                int left = remaining_ms(deadline);
                struct timeval tv = { 0 };
                if (left == 0)
                        return -ETIMEDOUT;
                if (left > 0) { /* SO_SNDTIMEO 0 would mean "forever" */
                        tv.tv_sec = left / 1000;
                        tv.tv_usec = (left % 1000) * 1000;
                }
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                        break;
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        }
        {
                struct timeval zero = { 0 };
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero)) < 0)
                        return -errno;
        }
        int r = set_nonblock(fd);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *ret_fd)
{
        _cleanup_close_ int fd = -EBADF;
        int soerr = 0, w;
        socklen_t sl = sizeof(soerr);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
                return -errno;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                /* A non-blocking connect interrupted by a signal carries on in the background, as EINPROGRESS. */
                if (errno != EINPROGRESS && errno != EINTR)
                        return -errno;
                w = wait_fd(fd, POLLOUT, deadline);
                if (w < 0)
                        return w;
                if (w == 0)
                        return -ETIMEDOUT;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                        return -errno;
                if (soerr)
                        return -soerr;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Each address the name resolves to, in getaddrinfo's order, until one connects or the time is up. */
static int connect_inet(NetConn *c, const NetAddr *a, int64_t deadline, Error **err)
{
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_ADDRCONFIG };
        struct addrinfo *res = NULL;
        int r, last = -EHOSTUNREACH;

        hints.ai_socktype = a->proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
        hints.ai_protocol = a->proto == NET_UDP ? IPPROTO_UDP : IPPROTO_TCP;
        /* Numeric hosts never touch the resolver (no NSS, no DNS wait). */
        hints.ai_flags |= is_ip_literal(a->host) ? AI_NUMERICHOST : 0;
        r = getaddrinfo(a->host, a->port, &hints, &res);
        if (r == EAI_SYSTEM)
                return error_set(err, errno ? errno : EIO, "%s: cannot resolve '%s'", c->name, a->host);
        if (r != 0)
                return error_setx(err, r == EAI_AGAIN ? EAGAIN : EHOSTUNREACH, "%s: cannot resolve '%s': %s", c->name,
                                  a->host, gai_strerror(r));
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                last = connect_one(ai, deadline, &c->fd);
                if (last == 0 || last == -ETIMEDOUT)
                        break;
        }
        freeaddrinfo(res);
        if (last == -ETIMEDOUT)
                return error_setx(err, ETIMEDOUT, "connect to %s: timed out", c->name);
        if (last < 0)
                return error_set(err, -last, "connect to %s", c->name);
        return 0;
}

static char *addr_name(const NetAddr *a)
{
        if (a->proto == NET_UNIX || a->proto == NET_UNIXGRAM)
                return xasprintf("%s://%s", proto_scheme(a->proto), a->path ? a->path : "");
        if (a->host && strchr(a->host, ':'))
                return xasprintf("%s://[%s]:%s", proto_scheme(a->proto), a->host, a->port ? a->port : "");
        return xasprintf("%s://%s:%s", proto_scheme(a->proto), a->host ? a->host : "", a->port ? a->port : "");
}

int net_connect(const NetAddr *a, const NetTlsOpts *tls, int timeout_ms, NetConn **ret, Error **err)
{
        int64_t deadline = deadline_after(timeout_ms);
        NetConn *c;
        int r;

        if ((a->proto == NET_UNIX || a->proto == NET_UNIXGRAM) ? !a->path : (!a->host || !a->port))
                return error_setx(err, EINVAL, "connect: incomplete address");
        c = xcalloc(1, sizeof(*c));
        c->fd = -EBADF;
        c->proto = a->proto;
        c->name = addr_name(a);
        if (a->proto == NET_UNIX || a->proto == NET_UNIXGRAM) {
                r = connect_unix(a, deadline, &c->fd);
                if (r == -ETIMEDOUT)
                        r = error_setx(err, ETIMEDOUT, "connect to %s: timed out", c->name);
                else if (r < 0)
                        r = error_set(err, -r, "connect to %s", c->name);
        } else {
                r = connect_inet(c, a, deadline, err);
        }
        if (r >= 0 && a->proto == NET_TLS && (r = tls_setup(c, a, tls, err)) >= 0)
                r = tls_handshake(c, deadline, err);
        if (r < 0) {
                c->broken = true; /* no close_notify on a handshake that did not finish */
                net_close(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ================================================================ I/O */

static int fail(NetConn *c, int r)
{
        c->broken = true;
        return r;
}

static int tls_write(NetConn *c, const char *buf, size_t len, int64_t deadline, Error **err)
{
        size_t off = 0;
        char why[256];

        while (off < len) {
                size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off, n = 0;
                int r, e, w;

                ERR_clear_error();
                errno = 0;
                r = SSL_write_ex(c->ssl, buf + off, chunk, &n);
                if (r == 1) {
                        off += n;
                        continue;
                }
                e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                        w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                        if (w < 0)
                                return fail(c, error_set(err, -w, "write to %s", c->name));
                        if (w == 0)
                                return fail(c, error_setx(err, ETIMEDOUT, "write to %s: timed out (%zu of %zu bytes sent)",
                                                          c->name, off, len));
                        continue;
                }
                if (e == SSL_ERROR_SYSCALL && errno != 0)
                        return fail(c, error_set(err, errno, "write to %s", c->name));
                if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
                        return fail(c, error_setx(err, EPIPE, "write to %s: the server closed the connection", c->name));
                ssl_reason(why, sizeof(why));
                return fail(c, error_setx(err, EPROTO, "write to %s: %s", c->name, why));
        }
        return 0;
}

int net_write(NetConn *c, const void *buf, size_t len, int timeout_ms, Error **err)
{
        int64_t deadline = deadline_after(timeout_ms);
        bool dgram = c->proto == NET_UDP || c->proto == NET_UNIXGRAM;
        size_t off = 0;

        if (c->broken)
                return error_setx(err, EPIPE, "write to %s: the connection failed earlier", c->name);
        if (c->proto == NET_TLS)
                return tls_write(c, buf, len, deadline, err);
        do {
                ssize_t n = send(c->fd, (const char *)buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        int w;
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK) {
                                if (errno == EMSGSIZE)
                                        return fail(c, error_set(err, EMSGSIZE, "write to %s: a datagram of %zu bytes",
                                                                 c->name, len));
                                return fail(c, error_set(err, errno, "write to %s", c->name));
                        }
                        w = wait_fd(c->fd, POLLOUT, deadline);
                        if (w < 0)
                                return fail(c, error_set(err, -w, "write to %s", c->name));
                        if (w == 0)
                                return fail(c, error_setx(err, ETIMEDOUT, "write to %s: timed out (%zu of %zu bytes sent)",
                                                          c->name, off, len));
                        continue;
                }
                if (dgram) {
                        if ((size_t)n != len) /* cannot happen for datagrams; never report a cut one as sent */
                                return fail(c, error_setx(err, EMSGSIZE, "write to %s: datagram cut to %zd of %zu bytes",
                                                          c->name, n, len));
                        return 0;
                }
                off += (size_t)n;
        } while (off < len);
        return 0;
}

static ssize_t tls_read(NetConn *c, void *buf, size_t len, bool look, int64_t deadline, Error **err)
{
        char why[256];

        for (;;) {
                size_t n = 0;
                int r, e, w;

                ERR_clear_error();
                errno = 0;
                r = SSL_read_ex(c->ssl, buf, len, &n);
                if (r == 1)
                        return (ssize_t)n;
                e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        w = look ? 0 : wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
                        if (w < 0)
                                return fail(c, error_set(err, -w, "read from %s", c->name));
                        if (w == 0)
                                return error_setx(err, ETIMEDOUT, "read from %s: nothing came", c->name);
                        continue;
                }
                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
                        c->broken = true; /* at EOF: no more writes either (the peer is gone) */
                        return 0;
                }
                if (e == SSL_ERROR_SYSCALL)
                        return fail(c, error_set(err, errno, "read from %s", c->name));
                ssl_reason(why, sizeof(why));
                return fail(c, error_setx(err, EPROTO, "read from %s: %s", c->name, why));
        }
}

ssize_t net_read(NetConn *c, void *buf, size_t len, int timeout_ms, Error **err)
{
        int64_t deadline = deadline_after(timeout_ms);
        bool look = timeout_ms == 0; /* a look without waiting: no poll() needed to see nothing is there */

        if (c->broken)
                return error_setx(err, EPIPE, "read from %s: the connection failed earlier", c->name);
        if (len == 0)
                return 0;
        if (c->proto == NET_TLS)
                return tls_read(c, buf, len, look, deadline, err);
        for (;;) {
                ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
                int w;
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                        return fail(c, error_set(err, errno, "read from %s", c->name));
                w = look ? 0 : wait_fd(c->fd, POLLIN, deadline);
                if (w < 0)
                        return fail(c, error_set(err, -w, "read from %s", c->name));
                if (w == 0)
                        return error_setx(err, ETIMEDOUT, "read from %s: nothing came", c->name);
        }
}

NetConn *net_close(NetConn *c)
{
        if (!c)
                return NULL;
        if (c->ssl) {
                if (!c->broken) {
                        /* close_notify, best effort: one non-blocking try, never a wait. */
                        ERR_clear_error();
                        (void)SSL_shutdown(c->ssl);
                }
                SSL_free(c->ssl); /* frees the BIO too */
        }
        SSL_CTX_free(c->ctx);
        ERR_clear_error();
        if (c->fd >= 0)
                (void)close(c->fd);
        free(c->name);
        free(c);
        return NULL;
}
