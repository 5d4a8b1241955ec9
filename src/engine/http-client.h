/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A small, strict HTTP/1.1 client for the splunk log driver: one keep-alive connection (plain TCP or
 * TLS, netconn.h), requests with Content-Length bodies, and a bounded response parser.  It speaks
 * only what a log sink needs and refuses the rest clearly: no pipelining, no redirects, no
 * request body streaming; responses with Content-Length, chunked or close-delimited bodies, the
 * head at most HTTP_HEAD_MAX bytes and the body at most the caller's limit.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"
#include "netconn.h"

#define HTTP_HEAD_MAX    (16 * 1024) /* status line and headers, and again the trailers */
#define HTTP_HEADERS_MAX 100
#define HTTP_LINE_MAX    1024 /* a chunk-size line */
#define HTTP_CONNECT_MS  10000

/* ================================================================ URLs */

typedef struct HttpUrl {
        bool tls;        /* https */
        char *host;      /* without the brackets of an IPv6 address */
        char *port;      /* "80" or "443" when the URL has none */
        char *authority; /* for the Host header: as written in the URL ("[::1]:8088", "splunk") */
        char *path;      /* from the first "/" on (query included), "" when there is none */
} HttpUrl;

/*
 * Parses an absolute http:// or https:// URL: a host name or address (IPv6 in brackets), an optional
 * port (1-65535).  User information and fragments are refused.  Errors name the URL and the fault.
 */
int http_url_parse(const char *s, HttpUrl *ret, Error **err);
void http_url_free(HttpUrl *u);

/* ================================================================ requests */

typedef struct HttpHeader {
        const char *name;
        const char *value;
} HttpHeader;

/* Whether s can be a header value: no control characters but HTAB (so no CR or LF: no injection). */
bool http_header_value_valid(const char *s);

/*
 * The bytes of a request head: "METHOD target HTTP/1.1", Host, the given headers, and for a request
 * with a body (body_len >= 0) its Content-Length, then the blank line.  Names and values must be valid
 * (the caller checks values it did not write itself with http_header_value_valid).  Returns a
 * NUL-terminated string; its length in *ret_len.
 */
char *http_request_head(const char *method, const char *authority, const char *target, const HttpHeader *headers,
                        size_t n_headers, int64_t body_len, size_t *ret_len);

/* ================================================================ responses */

typedef struct HttpResponse {
        int status;      /* 200..599 (interim 1xx responses are skipped) */
        char reason[64]; /* the reason phrase, cut to fit */
        bool keep_alive; /* the connection may carry another request */
        char *body;      /* NUL-terminated (the body may hold NULs: use body_len) */
        size_t body_len;
} HttpResponse;

void http_response_done(HttpResponse *r);

typedef enum HttpParserState {
        HP_HEAD,
        HP_LENGTH,      /* Content-Length bytes left */
        HP_CHUNK_SIZE,  /* reading a chunk-size line */
        HP_CHUNK_DATA,  /* chunk bytes left */
        HP_CHUNK_CRLF,  /* the CRLF after a chunk's data */
        HP_TRAILERS,    /* after the last chunk, until the blank line */
        HP_UNTIL_CLOSE, /* no length: the body ends when the peer closes */
        HP_DONE,
} HttpParserState;

/* An incremental response parser.  Owns its buffers: http_parser_done() frees them. */
typedef struct HttpParser {
        HttpParserState state;
        bool head_request; /* the request was HEAD: no body whatever the headers say */
        size_t body_max;
        char *buf; /* the head (HP_HEAD), a chunk-size line, or the trailers being read */
        size_t buf_len;
        size_t mark;   /* HP_TRAILERS: where the line being read starts in buf */
        uint64_t left; /* HP_LENGTH, HP_CHUNK_DATA: bytes to go; HP_CHUNK_CRLF: CRLF bytes seen */
        HttpResponse resp;
} HttpParser;

void http_parser_init(HttpParser *p, bool head_request, size_t body_max);
void http_parser_done(HttpParser *p);

/*
 * Feeds len bytes.  Returns 1 when the response is complete (*used: the bytes it took, the rest is
 * not part of it), 0 when it needs more (all were taken), or -EBADMSG for a malformed or oversized
 * response, with err naming the fault.  After 1 the response is in p->resp; take it with
 * http_parser_take().
 */
int http_parser_feed(HttpParser *p, const char *data, size_t len, size_t *used, Error **err);

/* The peer closed the connection: 1 when that ends the response (a close-delimited body), else
 * -EBADMSG ("connection closed ...").  */
int http_parser_eof(HttpParser *p, Error **err);

/* Moves the complete response out of the parser (which can then be freed or initialised again). */
void http_parser_take(HttpParser *p, HttpResponse *ret);

/* ================================================================ the client */

typedef struct HttpClient HttpClient;

/* A client for one server; connects on the first request.  Copies what it keeps of url and tls. */
HttpClient *http_client_new(const HttpUrl *url, const NetTlsOpts *tls);
HttpClient *http_client_free(HttpClient *c);
DEFINE_CLEANUP_FUNC(HttpClient, http_client_free)

/*
 * A flag another thread may set to stop the client (borrowed, must outlive it): no request starts
 * once it is set, and a request waiting for its response gives up within HTTP_CANCEL_SLICE_MS
 * (-ECANCELED).  A connect or a send in progress still ends only at its own deadline.
 */
#define HTTP_CANCEL_SLICE_MS 200
void http_client_set_cancel(HttpClient *c, const atomic_bool *flag);

/*
 * Sends one request and reads its response within timeout_ms (the connection, if one is made, within
 * HTTP_CONNECT_MS of that): body NULL for no body (no
 * Content-Length), else body_len bytes.  The connection is kept when both sides allow it.  A reused
 * connection the server has closed in the meantime is replaced (once) when no byte of a response came.
 * Returns 0 with *ret filled (any status: the caller judges it), or -errno with err naming the host
 * and the step (connect, send, receive, a malformed response).
 */
int http_client_request(HttpClient *c, const char *method, const char *target, const HttpHeader *headers,
                        size_t n_headers, const void *body, size_t body_len, int timeout_ms, size_t body_max,
                        HttpResponse *ret, Error **err);
