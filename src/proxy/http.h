/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * stockade-proxy's HTTP/1.x reading: request and response heads, and the framing of their bodies
 * (Content-Length, chunked, until close).  The proxy forwards the bytes it was given unchanged, so
 * these parsers only have to agree with dockerd's (Go net/http) on where one message ends and the
 * next begins, and on the request target.  Anything on which two HTTP parsers might disagree
 * (request smuggling, RFC 9112 section 11.2) is refused: both Content-Length and Transfer-Encoding,
 * differing Content-Lengths, a Transfer-Encoding other than "chunked", obsolete line folding,
 * whitespace before a colon, bare CR or LF, control bytes in a header.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REQ_HEAD_MAX  (16 * 1024) /* request line and headers */
#define HTTP_RESP_HEAD_MAX (64 * 1024)
#define HTTP_TARGET_MAX    4096
#define HTTP_HEADERS_MAX   100

typedef enum HttpFraming {
        HTTP_BODY_NONE,    /* no body (Content-Length: 0, a request without one, HEAD, 1xx/204/304) */
        HTTP_BODY_LENGTH,  /* Content-Length bytes */
        HTTP_BODY_CHUNKED, /* chunked transfer coding */
        HTTP_BODY_CLOSE,   /* a response delimited by the end of the connection */
} HttpFraming;

typedef struct HttpHead {
        /* request: method and target point into the parsed text, not NUL-terminated */
        const char *method;
        size_t method_len;
        const char *target;
        size_t target_len;
        int status; /* response */
        int minor;  /* HTTP/1.<minor> */
        HttpFraming framing;
        uint64_t content_length;
        bool conn_close;      /* Connection: close, or HTTP/1.0 without keep-alive */
        bool upgrade;         /* an Upgrade header (requests: hijack wanted) */
        bool raw_stream;      /* Content-Type: application/vnd.docker.raw-stream or multiplexed-stream */
        bool expect_continue; /* Expect: 100-continue */
} HttpHead;

/* The length of the head at the start of p[0, n) including its blank line, 0 if incomplete. */
size_t http_head_end(const char *p, size_t n);

/*
 * Parses a complete request head (p[0, n) ends with CRLF CRLF).  Returns 0, or the HTTP status to
 * answer with (400, 501, 505) with *reason set to a static text.
 */
int http_parse_request(const char *p, size_t n, HttpHead *h, const char **reason);
/*
 * Parses a complete response head; `head_request` (the request was HEAD) means no body.  Returns 0
 * or -EPROTO with *reason set.
 */
int http_parse_response(const char *p, size_t n, bool head_request, HttpHead *h, const char **reason);

/* The chunked transfer coding, read incrementally. */
typedef enum ChunkPhase {
        CHUNK_SIZE,    /* hex digits of a chunk size */
        CHUNK_EXT,     /* a chunk extension, up to CR */
        CHUNK_SIZE_LF, /* LF after a size line */
        CHUNK_DATA,    /* `left` data bytes */
        CHUNK_DATA_CR, /* CR after data */
        CHUNK_DATA_LF, /* LF after data */
        CHUNK_TRAILER, /* start of a trailer line (CR: the end) */
        CHUNK_TRAILER_LINE,
        CHUNK_TRAILER_LF, /* LF of a trailer line */
        CHUNK_END_LF,     /* the last LF */
        CHUNK_DONE,
} ChunkPhase;

typedef struct ChunkReader {
        ChunkPhase phase;
        uint64_t left;   /* data bytes left in this chunk, or the size being read */
        unsigned digits; /* hex digits read (at most 15) */
        size_t line;     /* bytes of the extension or trailer line so far (bounded) */
        size_t trailers; /* total trailer bytes (bounded) */
} ChunkReader;

/*
 * Advances over p[0, n): returns how many bytes belong to the body (all of n, or fewer when the
 * body ended inside it: phase is then CHUNK_DONE), or -EPROTO on a malformed coding.  When `data`
 * is not NULL, the chunk data (the decoded body) is appended to it through `put`.
 */
long chunk_advance(ChunkReader *c, const char *p, size_t n, void (*put)(void *data, const char *p, size_t n),
                   void *data);
