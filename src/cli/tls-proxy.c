/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade-tls-proxy: the TLS end of one `stockade serve` TCP connection (docs/API.md, "TCP").
 *
 *   stockade-tls-proxy CERT KEY CA|-    fd 0: the client's TCP socket; fd 1: the server's socket
 *
 * Does the handshake (TLS 1.2 or newer; with CA, a client certificate signed by it is required:
 * dockerd's --tlsverify), writes one line to fd 1 naming the client's certificate subject ("-"
 * without one), then copies the decrypted bytes both ways until either side closes.  A separate
 * binary so that `stockade` itself does not load OpenSSL (docs/ARCHITECTURE.md: its start-up cost),
 * and so that the TLS code runs in a process that holds nothing but this connection.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define HANDSHAKE_TIMEOUT_S 30

static int fail(const char *what)
{
        unsigned long e = ERR_get_error();
        fprintf(stderr, "stockade-tls-proxy: %s: %s\n", what, e ? ERR_reason_error_string(e) : strerror(errno));
        return 1;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int main(int argc, char **argv)
{
        SSL_CTX *ctx;
        SSL *ssl;
        char buf[16384], subject[1024] = "-";
        struct timeval tv = { HANDSHAKE_TIMEOUT_S, 0 };

        if (argc != 4) {
                fprintf(stderr, "usage: stockade-tls-proxy CERT KEY CA|-  (fd 0: client, fd 1: server)\n");
                return 2;
        }
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
                return fail("SSL_CTX_new");
        if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1)
                return fail(argv[1]);
        if (SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
                return fail(argv[2]);
        if (strcmp(argv[3], "-") != 0) {
                STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(argv[3]);
                if (SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1 || !names)
                        return fail(argv[3]);
                SSL_CTX_set_client_CA_list(ctx, names);
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        ssl = SSL_new(ctx);
        if (!ssl || SSL_set_fd(ssl, 0) != 1)
                return fail("SSL_new");
        /* a client that never finishes the handshake is cut off */
        (void)setsockopt(0, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(0, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (SSL_accept(ssl) != 1)
                return fail("TLS handshake");
        tv.tv_sec = 0;
        (void)setsockopt(0, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        {
                X509 *peer = SSL_get1_peer_certificate(ssl);
                if (peer) {
                        X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
                        X509_free(peer);
                }
                for (char *p = subject; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
        }
        if (write_all_fd(1, subject, strlen(subject)) < 0 || write_all_fd(1, "\n", 1) < 0)
                return 1;
        for (;;) {
                struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = 1, .events = POLLIN } };
                if (SSL_pending(ssl) == 0 && poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (SSL_pending(ssl) > 0 || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                        int k = SSL_read(ssl, buf, sizeof(buf));
                        if (k <= 0) {
                                /* the client is done sending: tell the server, keep its answer flowing */
                                (void)shutdown(1, SHUT_WR);
                                if (SSL_get_error(ssl, k) != SSL_ERROR_ZERO_RETURN)
                                        break;
                                p[0].fd = -1;
                                for (;;) {
                                        ssize_t n = read(1, buf, sizeof(buf));
                                        if (n <= 0 || SSL_write(ssl, buf, (int)n) <= 0)
                                                break;
                                }
                                break;
                        }
                        if (write_all_fd(1, buf, (size_t)k) < 0)
                                break;
                        continue;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(1, buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        if (SSL_write(ssl, buf, (int)n) <= 0)
                                break;
                }
        }
        (void)SSL_shutdown(ssl);
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        return 0;
}
