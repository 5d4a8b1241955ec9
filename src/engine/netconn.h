/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Client connections for the network log drivers (syslog, fluentd, splunk): stream and datagram
 * sockets over TCP, UDP and unix sockets, and TLS over TCP (OpenSSL), each with a deadline on every
 * operation, so a dead or slow peer costs a bounded wait and never a hang.  Addresses in docker's
 * forms: "tcp://host:port", "udp://host:port", "tcp+tls://host:port" (or fluentd's "tls://host:port"),
 * "unix:///path", "unixgram:///path"; "host:port" alone is TCP; IPv6 hosts in brackets.  Implemented in
 * netconn.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

typedef enum NetProto {
        NET_TCP,
        NET_UDP,
        NET_TLS, /* TLS over TCP */
        NET_UNIX,
        NET_UNIXGRAM,
} NetProto;

typedef struct NetAddr {
        NetProto proto;
        char *host; /* NULL for unix sockets */
        char *port; /* service, NULL for unix sockets */
        char *path; /* unix sockets only */
} NetAddr;

/*
 * Parses `s`; `default_port` fills a missing port (NULL: a port is required); `allowed` is a mask of
 * (1 << NetProto) the caller takes.  Errors name the address and what is wrong with it.
 */
int net_addr_parse(const char *s, const char *default_port, unsigned allowed, NetAddr *ret, Error **err);
void net_addr_free(NetAddr *a);

typedef struct NetTlsOpts {
        const char *ca_file;   /* NULL: the system's CAs */
        const char *cert_file; /* client certificate, with key_file */
        const char *key_file;
        bool skip_verify;      /* no certificate or host name check (docker's *-tls-skip-verify) */
        const char *server_name; /* SNI and the name checked; NULL: the address's host */
} NetTlsOpts;

typedef struct NetConn NetConn;

/* Connects (and for NET_TLS handshakes) within timeout_ms. tls is used for NET_TLS only. */
int net_connect(const NetAddr *a, const NetTlsOpts *tls, int timeout_ms, NetConn **ret, Error **err);

/*
 * Stream sockets: writes all of buf within timeout_ms.  Datagram sockets: sends buf as one datagram
 * (EMSGSIZE when it does not fit).  A failure leaves the connection unusable: close it and connect again.
 */
int net_write(NetConn *c, const void *buf, size_t len, int timeout_ms, Error **err);

/* Reads what is there, up to len bytes, waiting at most timeout_ms: bytes read, 0 at EOF, or -errno
 * (-ETIMEDOUT when nothing came). */
ssize_t net_read(NetConn *c, void *buf, size_t len, int timeout_ms, Error **err);

/* Closes (TLS: close_notify, best effort).  Accepts NULL, returns NULL. */
NetConn *net_close(NetConn *c);
DEFINE_CLEANUP_FUNC(NetConn, net_close)
