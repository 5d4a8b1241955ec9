/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The json-file log's line parser, which reads files a crash may have damaged.  The input is tried as
 * one line and line by line; what parses must survive a round trip through the writer unchanged
 * (message bytes, stream and time), and writing it again must give the same bytes.  The input also
 * goes through the 16 KiB line splitter, whose pieces must put the input together again, and its
 * first line through the --since parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, size_t len)
{
        _cleanup_free_ char *stream = NULL, *msg = NULL, *enc = NULL, *enc2 = NULL;
        _cleanup_free_ char *stream2 = NULL, *msg2 = NULL, *t = NULL;
        struct timespec ts, ts2;
        size_t n, n2, enc_len, enc2_len;
        int r;

        if (jsonlog_parse_line(line, len, &stream, &msg, &n, &ts) < 0)
                return;
        if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L || msg[n] != '\0')
                abort();
        r = jsonlog_encode_line(stream, msg, n, &ts, &enc, &enc_len);
        /* A zone offset can move year 0000 or 9999 out of range; escaping can make a line too long. */
        if (r == -ERANGE || r == -E2BIG)
                return;
        if (r < 0 || enc_len == 0 || enc[enc_len - 1] != '\n' || memchr(enc, '\n', enc_len - 1))
                abort();
        if (jsonlog_parse_line(enc, enc_len, &stream2, &msg2, &n2, &ts2) < 0)
                abort();
        if (n2 != n || memcmp(msg, msg2, n) != 0 || strcmp(stream, stream2) != 0 ||
            ts.tv_sec != ts2.tv_sec || ts.tv_nsec != ts2.tv_nsec)
                abort();
        if (jsonlog_encode_line(stream2, msg2, n2, &ts2, &enc2, &enc2_len) < 0 || enc2_len != enc_len ||
            memcmp(enc, enc2, enc_len) != 0)
                abort();
        /* The time as written reads back as the same time. */
        t = format_rfc3339nano(&ts, true);
        if (parse_timestamp_arg(t, ts, &ts2, NULL) < 0 || ts2.tv_sec != ts.tv_sec ||
            ts2.tv_nsec != ts.tv_nsec)
                abort();
}

typedef struct Pieces {
        const char *input;
        size_t at;
        bool ended; /* the last piece had no "\n" and was not a full 16 KiB: only a flush may do that */
} Pieces;

static int piece_fn(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        Pieces *p = ud;

        if (p->ended || len == 0 || len > JSONLOG_PARTIAL_SIZE + 1 ||
            memcmp(p->input + p->at, msg, len) != 0)
                abort();
        if (msg[len - 1] == '\n') {
                if (memchr(msg, '\n', len - 1))
                        abort();
        } else if (memchr(msg, '\n', len) || len > JSONLOG_PARTIAL_SIZE)
                abort();
        else if (len != JSONLOG_PARTIAL_SIZE)
                p->ended = true;
        p->at += len;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct timespec now = { 1795870870, 0 }, ts;
        LineSplitter s;
        Pieces p = { .input = text };
        size_t chunk, start = 0;

        if (size > 4 << 20)
                return 0;
        check_line(text, size);
        for (size_t i = 0; i <= size; i++)
                if (i == size || text[i] == '\n') {
                        if (i > start)
                                check_line(text + start, i - start);
                        start = i + 1;
                }

        /* Chunks of 1 to 256 bytes, or 4 KiB, chosen by the first byte. */
        chunk = size && data[0] < 255 ? (size_t)data[0] + 1 : 4096;
        line_splitter_init(&s, "stdout");
        for (size_t off = 0; off < size; off += chunk)
                (void)line_splitter_feed(&s, text + off, size - off < chunk ? size - off : chunk, &now,
                                         piece_fn, &p);
        (void)line_splitter_flush(&s, &now, piece_fn, &p);
        line_splitter_free(&s);
        if (p.at != size)
                abort();

        /* The first line as a --since value. */
        {
                const char *nl = memchr(text, '\n', size);
                size_t n = nl ? (size_t)(nl - text) : size;
                if (n < 256 && !memchr(text, '\0', n)) {
                        _cleanup_free_ char *arg = xstrndup(text, n);
                        if (parse_timestamp_arg(arg, now, &ts, NULL) == 0) {
                                char buf[RFC3339NANO_MAX];
                                if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L ||
                                    format_rfc3339nano_buf(&ts, false, buf) >= RFC3339NANO_MAX)
                                        abort();
                        }
                }
        }
        return 0;
}
