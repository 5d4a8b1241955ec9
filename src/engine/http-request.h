/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The API server's HTTP/1.1 request parser (`stockade serve`, docs/API.md).  Every byte is a
 * client's: the head is bounded (HTTPREQ_HEAD_MAX bytes, HTTPREQ_HEADERS_MAX headers, a target of
 * HTTPREQ_TARGET_MAX), only the methods the Engine API uses are taken, Content-Length and chunked
 * are exclusive (request smuggling), bare CR or LF and control characters in names and values are
 * refused.  The parser keeps nothing of the caller's buffer: the request owns copies.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

#define HTTPREQ_HEAD_MAX    (32 * 1024)
#define HTTPREQ_HEADERS_MAX 64
#define HTTPREQ_TARGET_MAX  8192
#define HTTPREQ_CHUNK_LINE_MAX 256

typedef struct HttpReqHeader {
        const char *name;  /* as sent (compare with strcasecmp) */
        const char *value; /* leading and trailing blanks removed */
} HttpReqHeader;

typedef struct HttpRequest {
        char *head;             /* the owned copy every pointer below points into */
        const char *method;     /* GET HEAD POST PUT DELETE OPTIONS */
        const char *target;     /* the request-target as sent */
        char *path;             /* the target's path, percent-decoded (owned); never holds a NUL */
        const char *query;      /* after '?', "" when none (still encoded: http_query_get) */
        int minor;              /* HTTP/1.<minor>: 0 or 1 */
        HttpReqHeader headers[HTTPREQ_HEADERS_MAX];
        size_t n_headers;
        int64_t content_length; /* -1: no Content-Length */
        bool chunked;           /* Transfer-Encoding: chunked */
        bool keep_alive;        /* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
        bool upgrade;           /* Connection: Upgrade (docker's hijack for attach and exec) */
} HttpRequest;

/*
 * Parses a request head from buf[0..len).  Returns the head's length (the body starts there) when it
 * is complete, 0 when more bytes are needed (len below HTTPREQ_HEAD_MAX), or a negative errno with
 * *status set to the HTTP status to answer (400, 413, 414, 431, 501, 505) and err saying why.
 */
int http_request_parse(const char *buf, size_t len, HttpRequest *req, int *status, Error **err);
void http_request_done(HttpRequest *r);

/* A header's value (the first of that name, case-insensitive), or NULL. */
const char *http_request_header(const HttpRequest *r, const char *name);

/*
 * The value of `key` in a query string (application/x-www-form-urlencoded: '+' is a space, %XX
 * decoded), malloc'd; NULL when absent or when it decodes to a NUL byte.  A key given without '='
 * has the value "".
 */
char *http_query_get(const char *query, const char *key);
/* Every value of a key that may repeat (names=a&names=b), NULL-terminated (NULL when none); bad ones skipped. */
char **http_query_get_all(const char *query, const char *key);

/* Percent-decodes n bytes (plus_space: '+' is ' '); NULL for a bad escape or an encoded NUL. */
char *http_percent_decode(const char *s, size_t n, bool plus_space);

/* The chunked transfer coding of a request body, decoded as it arrives. */
typedef struct HttpChunked {
        int state;
        uint64_t left;          /* bytes of the current chunk still to come */
        char line[HTTPREQ_CHUNK_LINE_MAX];
        size_t line_len;
        size_t trailer_bytes;
} HttpChunked;

/*
 * Decodes in[0..len) into out (at most len bytes are written; out may be in): *consumed gets the
 * input taken, *out_len the data bytes.  Returns 1 when the body ended (the last chunk and its
 * trailers: *consumed stops there), 0 when more is needed, -EBADMSG for a malformed coding (err).
 */
int http_chunked_decode(HttpChunked *c, const char *in, size_t len, size_t *consumed, char *out, size_t *out_len,
                        Error **err);

/* "1.41" → 141; -1 unless MAJOR.MINOR (1-3 digits, then 1-2 digits). */
int http_api_version(const char *s, size_t n);
