/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The splunk driver: docker's events for a Splunk HTTP Event Collector (moby daemon/logger/splunk),
 * posted over http-client.c.
 *
 * Each message becomes one JSON object, in the field order and with the escaping of docker's Go
 * structs: {"event":E,"time":"<sec>.<6 digits>","host":H,"source":...,"sourcetype":...,"index":...}
 * (the last three only when set).  E by splunk-format: inline (default) {"line":"...","source":
 * "stdout","tag":"...","attrs":{...}}; json: the same with the line as JSON when it is a JSON value;
 * raw: the string "<tag> <k=v >...<line>".  A body is a concatenation of such objects, optionally
 * gzip'ed, POSTed to <splunk-url>/services/collector/event/1.0 with "Authorization: Splunk <token>".
 *
 * Batching as docker's worker: the messages are held and posted when 1000 are held (or 1 MiB of
 * JSON, our bound), when the oldest is 5 s old, and when the monitor's queue runs empty (flush).  A
 * failed post keeps them and is retried no sooner than 5 s later (or when the buffer is full); with
 * 10000 held and the collector still failing, the oldest batch is dropped and counted.  close posts
 * what is left within CLOSE_MS.  docker's environment variables SPLUNK_LOGGING_DRIVER_POST_MESSAGES_
 * FREQUENCY, _BATCH_SIZE and SPLUNK_LOGGING_DRIVER_BUFFER_MAX are honoured (the monitor's environment).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "http-client.h"
#include "logdriver-splunk.h"
#include "logdriver.h"
#include "util.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define EVENT_PATH        "/services/collector/event/1.0"
#define BATCH_DEFAULT     1000       /* docker's defaultPostMessagesBatchSize */
#define FREQUENCY_DEFAULT 5000       /* ms, docker's defaultPostMessagesFrequency */
#define BUFFER_DEFAULT    10000      /* docker's defaultBufferMaximum */
#define BODY_MAX          (1 << 20)  /* JSON bytes per post (ours: HEC's max_content_length is often 1 MB) */
#define HELD_BYTES_MAX    (32 << 20) /* JSON bytes held (ours: a line is 16 KiB, escaping can make it ~100 KiB) */
#define POST_MS           30000      /* one round of posts, docker's batchSendTimeout */
#define VERIFY_MS         15000      /* the OPTIONS check at open (docker's has no limit) */
#define CLOSE_MS          15000      /* what is left at close */
#define RESPONSE_MAX      (64 << 10) /* a response body we read (HEC answers {"text":"Success","code":0}) */
#define JSON_DEPTH_MAX    10000      /* Go's encoding/json nesting limit */

typedef enum SplunkFormat {
        FORMAT_INLINE,
        FORMAT_JSON,
        FORMAT_RAW,
} SplunkFormat;

typedef struct Held {
        char *json;
        size_t len;
        int64_t at_ms; /* when it was queued (monotonic) */
} Held;

typedef struct SplunkDriver {
        LogDriver base;
        HttpClient *http;
        char *auth; /* "Splunk <token>" */
        SplunkFormat format;
        bool gzip;
        int gzip_level;
        char *event_tail;   /* inline, json: `,"tag":...,"attrs":{...}}` after the event's source */
        char *raw_prefix;   /* raw: "<tag> k=v " */
        size_t raw_prefix_len;
        char *message_tail; /* `,"host":...,"source":...,"sourcetype":...,"index":...}` after the time */
        int batch, buffer_max;
        int64_t frequency_ms;
        Held *held;
        size_t n_held, cap_held, held_bytes;
        int64_t next_try_ms; /* after a failed post: not before this (0: any time) */
        uint64_t dropped;
        atomic_bool cancelled; /* the monitor stopped waiting (its drain limit): post no more */
} SplunkDriver;

/* ================================================================ Go's JSON encoding */


/* Bytes Go's encoder copies as they are: printable ASCII but '"', '\\', '<', '>' and '&'. */
static bool plain[256];

__attribute__((constructor)) static void plain_init(void)
{
        for (int c = 0x20; c < 0x80; c++)
                plain[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

/* The characters of a JSON string, without the quotes, as Go's encodeState.string(s, escapeHTML). */
static void json_chars(Buf *b, const char *str, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, start = 0;

        buf_reserve(b, len + 2);
        while (i < len) {
                unsigned char c;
                char esc[8];
                size_t esc_len = 0, step = 1;
                while (i < len && plain[s[i]]) /* the common case: printable ASCII */
                        i++;
                if (i == len)
                        break;
                c = s[i];
                if (c < 0x80) {
                        esc[0] = '\\';
                        esc_len = 2;
                        switch (c) {
                        case '"':
                        case '\\':
                                esc[1] = (char)c;
                                break;
                        case '\n':
                                esc[1] = 'n';
                                break;
                        case '\r':
                                esc[1] = 'r';
                                break;
                        case '\t':
                                esc[1] = 't';
                                break;
                        default: /* other controls, and <, >, & (Go's HTML-safe escaping) */
                                memcpy(esc + 1, "u00", 3);
                                esc[4] = hex[c >> 4];
                                esc[5] = hex[c & 15];
                                esc_len = 6;
                                break;
                        }
                } else {
                        uint32_t r;
                        size_t n = utf8_valid_width(s + i, len - i, &r);
                        if (n == 0) {
                                memcpy(esc, "\\ufffd", 6);
                                esc_len = 6;
                        } else if (r == 0x2028 || r == 0x2029) {
                                memcpy(esc, r == 0x2028 ? "\\u2028" : "\\u2029", 6);
                                esc_len = 6;
                                step = n;
                        } else {
                                i += n;
                                continue;
                        }
                }
                buf_put(b, s + start, i - start);
                buf_put(b, esc, esc_len);
                i += step;
                start = i;
        }
        buf_put(b, s + start, len - start);
}

static void json_quote(Buf *b, const char *s, size_t len)
{
        buf_putc(b, '"');
        json_chars(b, s, len);
        buf_putc(b, '"');
}

char *splunk_json_quote(const char *s, size_t len, size_t *ret_len)
{
        Buf b = { 0 };
        json_quote(&b, s, len);
        if (ret_len)
                *ret_len = b.len;
        return buf_cstr(&b);
}

static bool is_ws(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A JSON string at s[*i] == '"' copied to b as Go's compact copies it; false when invalid. */
static bool compact_string(Buf *b, const unsigned char *s, size_t len, size_t *pi)
{
        size_t i = *pi + 1, start = *pi;

        for (;;) {
                if (i >= len)
                        return false;
                unsigned char c = s[i];
                if (c == '"')
                        break;
                if (c < 0x20)
                        return false;
                if (c == '\\') {
                        if (i + 1 >= len)
                                return false;
                        c = s[i + 1];
                        if (c == 'u') {
                                if (i + 6 > len)
                                        return false;
                                for (size_t k = i + 2; k < i + 6; k++)
                                        if (!strchr("0123456789abcdefABCDEF", s[k]) || !s[k])
                                                return false;
                                i += 6;
                        } else if (c && strchr("\"\\/bfnrt", c))
                                i += 2;
                        else
                                return false;
                        continue;
                }
                if (c == '<' || c == '>' || c == '&') {
                        char esc[7] = "\\u003c";
                        esc[5] = c == '<' ? 'c' : c == '>' ? 'e' : '6';
                        esc[4] = c == '&' ? '2' : '3';
                        buf_put(b, s + start, i - start);
                        buf_put(b, esc, 6);
                        start = ++i;
                        continue;
                }
                if (c >= 0x80) {
                        uint32_t r;
                        size_t n = utf8_valid_width(s + i, len - i, &r);
                        if (n == 0)
                                return false; /* ours: invalid UTF-8 is not sent as JSON */
                        if (r == 0x2028 || r == 0x2029) {
                                buf_put(b, s + start, i - start);
                                buf_put(b, r == 0x2028 ? "\\u2028" : "\\u2029", 6);
                                start = i + n;
                        }
                        i += n;
                        continue;
                }
                i++;
        }
        buf_put(b, s + start, i + 1 - start);
        *pi = i + 1;
        return true;
}

static bool compact_number(Buf *b, const unsigned char *s, size_t len, size_t *pi)
{
        size_t i = *pi, start = i;

#define DIGIT(k) ((k) < len && s[k] >= '0' && s[k] <= '9')
        if (i < len && s[i] == '-')
                i++;
        if (!DIGIT(i))
                return false;
        if (s[i] == '0')
                i++;
        else
                while (DIGIT(i))
                        i++;
        if (i < len && s[i] == '.') {
                i++;
                if (!DIGIT(i))
                        return false;
                while (DIGIT(i))
                        i++;
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (!DIGIT(i))
                        return false;
                while (DIGIT(i))
                        i++;
        }
#undef DIGIT
        buf_put(b, s + start, i - start);
        *pi = i;
        return true;
}

static bool compact_value(Buf *b, const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        enum { VALUE, KEY, AFTER } state = VALUE;
        char stack[JSON_DEPTH_MAX];
        size_t i = 0, depth = 0;

        for (;;) {
                while (i < len && is_ws((char)s[i]))
                        i++;
                if (state == AFTER && depth == 0)
                        return i == len;
                if (i >= len)
                        return false;
                switch (state) {
                case VALUE:
                        if (s[i] == '{' || s[i] == '[') {
                                if (depth == JSON_DEPTH_MAX)
                                        return false;
                                stack[depth++] = (char)s[i];
                                buf_putc(b, (char)s[i++]);
                                while (i < len && is_ws((char)s[i]))
                                        i++;
                                if (i < len && s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
                                        buf_putc(b, (char)s[i++]);
                                        depth--;
                                        state = AFTER;
                                } else
                                        state = stack[depth - 1] == '{' ? KEY : VALUE;
                        } else if (s[i] == '"') {
                                if (!compact_string(b, s, len, &i))
                                        return false;
                                state = AFTER;
                        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
                                if (!compact_number(b, s, len, &i))
                                        return false;
                                state = AFTER;
                        } else {
                                static const char *const lits[] = { "true", "false", "null" };
                                bool ok = false;
                                for (size_t k = 0; k < ELEMENTSOF(lits) && !ok; k++) {
                                        size_t l = strlen(lits[k]);
                                        if (len - i >= l && memcmp(s + i, lits[k], l) == 0) {
                                                buf_put(b, lits[k], l);
                                                i += l;
                                                ok = true;
                                        }
                                }
                                if (!ok)
                                        return false;
                                state = AFTER;
                        }
                        break;
                case KEY:
                        if (s[i] != '"' || !compact_string(b, s, len, &i))
                                return false;
                        while (i < len && is_ws((char)s[i]))
                                i++;
                        if (i >= len || s[i] != ':')
                                return false;
                        buf_putc(b, ':');
                        i++;
                        state = VALUE;
                        break;
                case AFTER:
                        if (s[i] == ',') {
                                buf_putc(b, ',');
                                i++;
                                state = stack[depth - 1] == '{' ? KEY : VALUE;
                        } else if (s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
                                buf_putc(b, (char)s[i++]);
                                depth--;
                        } else
                                return false;
                        break;
                default:
                        return false;
                }
        }
}

char *splunk_json_compact(const char *s, size_t len, size_t *ret_len)
{
        Buf b = { 0 };
        if (!compact_value(&b, s, len)) {
                buf_free(&b);
                return NULL;
        }
        if (ret_len)
                *ret_len = b.len;
        return buf_cstr(&b);
}

void splunk_time(const struct timespec *ts, char out[32])
{
        /* docker: fmt.Sprintf("%f", float64(t.UnixNano())/float64(time.Second)); the same two roundings. */
        int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
        double x = (double)ns / 1e9;
        uint64_t bits, m;
        int shift;

        /*
         * printf's "%f" costs more than the rest of an event, so for the times that occur it is done here:
         * x = m * 2^-shift exactly; x * 10^6 = m * 10^6 >> shift, rounded half to even as printf rounds
         * the exact binary value.  Other values (tiny, huge, negative) go to printf.
         */
        memcpy(&bits, &x, sizeof(bits));
        shift = 1075 - (int)((bits >> 52) & 0x7ff);
        m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
        if (x > 0 && ((bits >> 52) & 0x7ff) != 0 && shift > 0 && shift <= 64) {
                unsigned __int128 prod = (unsigned __int128)m * 1000000, q = prod >> shift;
                unsigned __int128 rem = prod - (q << shift), half = (unsigned __int128)1 << (shift - 1);
                if (rem > half || (rem == half && (q & 1)))
                        q++;
                snprintf(out, 32, "%" PRIu64 ".%06u", (uint64_t)(q / 1000000), (unsigned)(q % 1000000));
                return;
        }
        snprintf(out, 32, "%f", x);
}

/* Go's strings.TrimSpace(s) == "": only unicode.IsSpace runes. */
static bool blank(const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;
        for (size_t i = 0; i < len;) {
                uint32_t r;
                size_t n = utf8_valid_width(s + i, len - i, &r);
                if (n == 0)
                        return false;
                if (!((r >= '\t' && r <= '\r') || r == ' ' || r == 0x85 || r == 0xa0 || r == 0x1680 ||
                      (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f ||
                      r == 0x3000))
                        return false;
                i += n;
        }
        return true;
}

/* ================================================================ events */

char *splunk_encode(LogDriver *base, const LogMsg *m, size_t *ret_len)
{
        SplunkDriver *d = (SplunkDriver *)base;
        char t[32];
        Buf b = { 0 };

        if (d->format == FORMAT_RAW && blank(m->line, m->len))
                return NULL; /* docker: "empty or whitespace-only messages are not accepted by HEC" */
        buf_reserve(&b, m->len + 256);
        buf_puts(&b, "{\"event\":");
        if (d->format == FORMAT_RAW) {
                buf_putc(&b, '"');
                json_chars(&b, d->raw_prefix, d->raw_prefix_len);
                json_chars(&b, m->line, m->len);
                buf_putc(&b, '"');
        } else {
                buf_puts(&b, "{\"line\":");
                if (d->format == FORMAT_JSON) {
                        size_t mark = b.len;
                        if (!compact_value(&b, m->line, m->len)) {
                                b.len = mark;
                                json_quote(&b, m->line, m->len);
                        }
                } else
                        json_quote(&b, m->line, m->len);
                buf_puts(&b, ",\"source\":");
                json_quote(&b, m->stream, strlen(m->stream));
                buf_puts(&b, d->event_tail);
        }
        splunk_time(&m->ts, t);
        buf_puts(&b, ",\"time\":\"");
        buf_puts(&b, t);
        buf_putc(&b, '"');
        buf_puts(&b, d->message_tail);
        if (ret_len)
                *ret_len = b.len;
        return buf_cstr(&b);
}

size_t splunk_held(LogDriver *base)
{
        return ((SplunkDriver *)base)->n_held;
}

uint64_t splunk_dropped(LogDriver *base)
{
        return ((SplunkDriver *)base)->dropped;
}

/* ================================================================ posting */

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int gzip_body(const char *in, size_t len, int level, char **ret, size_t *ret_len, Error **err)
{
        z_stream z = { 0 };
        size_t cap;
        char *out;
        int r;

        /* windowBits 15 + 16: a gzip header and trailer, as Go's gzip.Writer writes. */
        if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return error_setx(err, ENOMEM, "splunk: gzip: cannot initialise (level %d)", level);
        cap = deflateBound(&z, (uLong)len);
        out = xmalloc(cap);
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)cap;
        r = deflate(&z, Z_FINISH);
        if (r != Z_STREAM_END) {
                deflateEnd(&z);
                free(out);
                return error_setx(err, EIO, "splunk: gzip: deflate failed (%d)", r);
        }
        *ret_len = z.total_out;
        *ret = out;
        deflateEnd(&z);
        return 0;
}

/* Printable text of a response body for a message: at most 256 bytes, white space at the end cut,
 * other control characters as '?'. */
static char *body_text(const HttpResponse *resp)
{
        size_t n = MIN(resp->body_len, (size_t)256);
        char *s;
        while (n > 0 && strchr(" \t\r\n", resp->body[n - 1]) && resp->body[n - 1])
                n--;
        s = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
                s[i] = ((unsigned char)resp->body[i] < ' ' || resp->body[i] == 0x7f) ? '?' : resp->body[i];
        s[n] = '\0';
        return s;
}

/* Posts the oldest held messages, at most one batch; *ret_n: how many it carried. */
static int post_batch(SplunkDriver *d, int64_t deadline, size_t *ret_n, Error **err)
{
        _cleanup_free_ char *gz = NULL;
        HttpHeader h[3];
        size_t n = 0, nh = 0, gz_len = 0;
        HttpResponse resp = { 0 };
        Buf body = { 0 };
        const char *out;
        size_t out_len;
        int left = (int)MAX(deadline - now_ms(), (int64_t)1), r;

        while (n < d->n_held && n < (size_t)d->batch && (n == 0 || body.len + d->held[n].len <= BODY_MAX)) {
                buf_put(&body, d->held[n].json, d->held[n].len);
                n++;
        }
        out = body.data;
        out_len = body.len;
        h[nh++] = (HttpHeader){ "Authorization", d->auth };
        h[nh++] = (HttpHeader){ "Content-Type", "application/json" };
        if (d->gzip) {
                r = gzip_body(body.data, body.len, d->gzip_level, &gz, &gz_len, err);
                if (r < 0) {
                        buf_free(&body);
                        return r;
                }
                h[nh++] = (HttpHeader){ "Content-Encoding", "gzip" };
                out = gz;
                out_len = gz_len;
        }
        r = http_client_request(d->http, "POST", EVENT_PATH, h, nh, out, out_len, left, RESPONSE_MAX, &resp, err);
        buf_free(&body);
        if (r < 0)
                return error_wrap(err, "splunk: failed to send event");
        if (resp.status != 200) {
                _cleanup_free_ char *text = body_text(&resp);
                r = error_setx(err, EIO, "splunk: failed to send event - %d %s - %s", resp.status, resp.reason, text);
                http_response_done(&resp);
                return r;
        }
        http_response_done(&resp);
        *ret_n = n;
        return 0;
}

static void forget(SplunkDriver *d, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                d->held_bytes -= d->held[i].len;
                free(d->held[i].json);
        }
        if (n > 0 && n < d->n_held)
                memmove(d->held, d->held + n, (d->n_held - n) * sizeof(*d->held));
        d->n_held -= n;
}

static bool full(SplunkDriver *d)
{
        return d->n_held >= (size_t)d->buffer_max || d->held_bytes >= HELD_BYTES_MAX;
}

/*
 * Posts everything held, batch by batch, until deadline.  On a failure the rest stays held for a later
 * try, except that when the buffer is full (or at the last chance) the batch that failed is dropped:
 * docker's postMessages.  Returns 0, or the failure (saying what was dropped).
 */
static int post_held(SplunkDriver *d, int64_t deadline, bool last_chance, Error **err)
{
        if (atomic_load(&d->cancelled) && last_chance) {
                size_t drop = d->n_held;
                forget(d, drop);
                d->dropped += drop;
                return error_setx(err, ECANCELED, "%zu messages dropped (unsent when the monitor stopped waiting)",
                                  drop);
        }
        while (d->n_held > 0) {
                size_t n = 0;
                int r = post_batch(d, deadline, &n, err);
                if (r < 0) {
                        d->next_try_ms = now_ms() + d->frequency_ms;
                        if (last_chance || full(d)) {
                                size_t drop = last_chance ? d->n_held : MIN(d->n_held, (size_t)d->batch);
                                forget(d, drop);
                                d->dropped += drop;
                                return error_wrap(err, "%zu messages dropped (%s)", drop,
                                                  last_chance ? "unsent at close" : "the buffer is full");
                        }
                        return r;
                }
                forget(d, n);
        }
        d->next_try_ms = 0;
        return 0;
}

static int splunk_log(LogDriver *base, const LogMsg *m, Error **err)
{
        SplunkDriver *d = (SplunkDriver *)base;
        int64_t now = now_ms();
        size_t len;
        char *json = splunk_encode(base, m, &len);
        int r;

        if (!json)
                return 0;
        if (d->n_held == d->cap_held) {
                d->cap_held = MAX(d->cap_held * 2, (size_t)64);
                d->held = xrealloc(d->held, d->cap_held * sizeof(*d->held));
        }
        d->held[d->n_held++] = (Held){ json, len, now };
        d->held_bytes += len;
        if (full(d) || (now >= d->next_try_ms && (d->n_held >= (size_t)d->batch || d->held_bytes >= BODY_MAX ||
                                                   now - d->held[0].at_ms >= d->frequency_ms))) {
                uint64_t before = d->dropped;
                Error *e = NULL;
                r = post_held(d, now + POST_MS, false, &e);
                /* A failure that only delays the messages is flush's to report; log() fails (and the
                 * pipe counts) only when messages were dropped. */
                if (r < 0 && d->dropped > before) {
                        if (err)
                                *err = e;
                        else
                                error_free(e);
                        return r;
                }
                error_free(e);
        }
        return 0;
}

static int splunk_flush(LogDriver *base, Error **err)
{
        SplunkDriver *d = (SplunkDriver *)base;
        int64_t now = now_ms();

        int r;

        if (d->n_held == 0)
                return 0;
        if (now < d->next_try_ms)
                return -EAGAIN; /* held for a retry: the pipe calls again */
        r = post_held(d, now + POST_MS, false, err);
        return r == 0 && d->n_held > 0 ? -EAGAIN : r;
}

static void splunk_cancel(LogDriver *base)
{
        atomic_store(&((SplunkDriver *)base)->cancelled, true);
}

static void splunk_free(SplunkDriver *d)
{
        forget(d, d->n_held);
        free(d->held);
        http_client_free(d->http);
        free(d->auth);
        free(d->event_tail);
        free(d->raw_prefix);
        free(d->message_tail);
        free(d);
}

/* The last post, within CLOSE_MS (at once after a cancel); the count of what was given up. */
static uint64_t splunk_finish(LogDriver *base)
{
        SplunkDriver *d = (SplunkDriver *)base;
        Error *e = NULL;

        if (d->n_held > 0 && post_held(d, now_ms() + CLOSE_MS, true, &e) < 0) {
                /* No caller to return it to: the monitor's log (its stderr), as the pipe reports. */
                fprintf(stderr, "stockade-monitor: log driver splunk: %s\n", e && e->msg ? e->msg : "failed");
                error_free(e);
        }
        return d->dropped;
}

static void splunk_close(LogDriver *base)
{
        SplunkDriver *d = (SplunkDriver *)base;

        if (d->n_held > 0)
                (void)splunk_finish(base); /* a caller that did not finish first */
        splunk_free(d);
}

/* ================================================================ open */

static const char *opt(const LogInfo *info, const char *key)
{
        return json_string_value(json_object_get(info->config, key));
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *key, const char *s, bool *ret, Error **err)
{
        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (STREQ(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (STREQ(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return error_setx(err, EINVAL, "splunk: %s: invalid boolean '%s'", key, s);
}

static int env_int(const char *name, int dflt)
{
        const char *s = getenv(name);
        int64_t n;
        if (!s || !*s || parse_int64(s, &n) < 0 || n < 1 || n > INT32_MAX)
                return dflt;
        return (int)n;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The attribute keys, sorted: Go marshals a map in key order (and we write raw's prefix in it too). */
static const char **sorted_keys(json_t *attrs, size_t *ret_n)
{
        size_t n = json_object_size(attrs), i = 0;
        const char **keys = xcalloc(n + 1, sizeof(*keys));
        const char *k;
        json_t *v;

        json_object_foreach(attrs, k, v)
                if (json_is_string(v))
                        keys[i++] = k;
        qsort(keys, i, sizeof(*keys), cmp_str);
        *ret_n = i;
        return keys;
}

static void build_tails(SplunkDriver *d, const LogInfo *info, const char *host)
{
        static const char *const fields[] = { "splunk-source", "source", "splunk-sourcetype", "sourcetype",
                                              "splunk-index", "index" };
        const char *tag = info->tag ? info->tag : "";
        size_t n;
        _cleanup_free_ const char **keys = sorted_keys(info->attrs, &n);
        Buf b = { 0 };

        /* The message: host always, source/sourcetype/index when set (omitempty). */
        buf_puts(&b, ",\"host\":");
        json_quote(&b, host, strlen(host));
        for (size_t i = 0; i < ELEMENTSOF(fields); i += 2) {
                const char *v = opt(info, fields[i]);
                if (v && *v) {
                        buf_puts(&b, ",\"");
                        buf_puts(&b, fields[i + 1]);
                        buf_puts(&b, "\":");
                        json_quote(&b, v, strlen(v));
                }
        }
        buf_putc(&b, '}');
        d->message_tail = buf_cstr(&b);

        /* inline and json: tag and attrs after the event's source, each when not empty. */
        b = (Buf){ 0 };
        if (*tag) {
                buf_puts(&b, ",\"tag\":");
                json_quote(&b, tag, strlen(tag));
        }
        if (n > 0) {
                buf_puts(&b, ",\"attrs\":{");
                for (size_t i = 0; i < n; i++) {
                        const char *v = json_string_value(json_object_get(info->attrs, keys[i]));
                        if (i)
                                buf_putc(&b, ',');
                        json_quote(&b, keys[i], strlen(keys[i]));
                        buf_putc(&b, ':');
                        json_quote(&b, v, strlen(v));
                }
                buf_putc(&b, '}');
        }
        buf_putc(&b, '}');
        d->event_tail = buf_cstr(&b);

        /* raw: "<tag> " and "k=v " before the line (docker's order is Go's map order, random; ours sorted). */
        b = (Buf){ 0 };
        if (*tag) {
                buf_puts(&b, tag);
                buf_putc(&b, ' ');
        }
        for (size_t i = 0; i < n; i++) {
                buf_puts(&b, keys[i]);
                buf_putc(&b, '=');
                buf_puts(&b, json_string_value(json_object_get(info->attrs, keys[i])));
                buf_putc(&b, ' ');
        }
        d->raw_prefix = buf_cstr(&b);
        d->raw_prefix_len = b.len;
}

/* docker's verifySplunkConnection: OPTIONS on the event URL must answer 200. */
static int verify(SplunkDriver *d, Error **err)
{
        HttpResponse resp = { 0 };
        int r = http_client_request(d->http, "OPTIONS", EVENT_PATH, NULL, 0, NULL, 0, VERIFY_MS, RESPONSE_MAX, &resp,
                                    err);
        if (r < 0)
                return error_wrap(err, "splunk: failed to verify connection");
        if (resp.status != 200) {
                _cleanup_free_ char *text = body_text(&resp);
                r = error_setx(err, EIO, "splunk: failed to verify connection - %d %s - %s", resp.status, resp.reason,
                               text);
        }
        http_response_done(&resp);
        return r;
}

static int splunk_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        const char *url_s = opt(info, "splunk-url"), *token = opt(info, "splunk-token"), *v;
        const char *format = opt(info, "splunk-format") ?: "inline";
        bool skip_verify = false, verify_conn = true;
        NetTlsOpts tls = { 0 };
        HttpUrl url = { 0 };
        char host[256];
        SplunkDriver *d;
        int r;

        if (!url_s)
                return error_setx(err, EINVAL, "splunk: splunk-url is expected");
        if (http_url_parse(url_s, &url, NULL) < 0 || (*url.path && !STREQ(url.path, "/"))) {
                http_url_free(&url);
                return error_setx(err, EINVAL, "splunk: expected format scheme://dns_name_or_ip:port for splunk-url");
        }
        if (!token) {
                http_url_free(&url);
                return error_setx(err, EINVAL, "splunk: splunk-token is expected");
        }
        if (!http_header_value_valid(token)) {
                http_url_free(&url);
                return error_setx(err, EINVAL, "splunk: splunk-token holds a control character");
        }
        d = xcalloc(1, sizeof(*d));
        d->base.ops = &log_driver_splunk;
        d->gzip_level = Z_DEFAULT_COMPRESSION;
        if (STREQ(format, "inline"))
                d->format = FORMAT_INLINE;
        else if (STREQ(format, "json"))
                d->format = FORMAT_JSON;
        else if (STREQ(format, "raw"))
                d->format = FORMAT_RAW;
        else {
                r = error_setx(err, EINVAL, "splunk: unknown format specified %s, supported formats are inline, json "
                               "and raw", format);
                goto fail;
        }
        if (((v = opt(info, "splunk-insecureskipverify")) && (r = parse_bool("splunk-insecureskipverify", v, &skip_verify, err)) < 0) ||
            ((v = opt(info, "splunk-verify-connection")) && (r = parse_bool("splunk-verify-connection", v, &verify_conn, err)) < 0) ||
            ((v = opt(info, "splunk-gzip")) && (r = parse_bool("splunk-gzip", v, &d->gzip, err)) < 0))
                goto fail;
        if ((v = opt(info, "splunk-gzip-level"))) {
                int64_t n;
                if (parse_int64(v, &n) < 0 || n < -1 || n > 9) {
                        r = error_setx(err, EINVAL, "splunk: not supported level '%s' for splunk-gzip-level (supported "
                                       "values between -1 and 9)", v);
                        goto fail;
                }
                d->gzip_level = (int)n;
        }
        if ((v = opt(info, "splunk-capath"))) {
                /* Read by the TLS layer at each connection; checked here so a wrong path fails the start. */
                int fd = open(v, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = error_set(err, errno, "splunk: splunk-capath '%s'", v);
                        goto fail;
                }
                close(fd);
                tls.ca_file = v;
        }
        tls.server_name = opt(info, "splunk-caname");
        tls.skip_verify = skip_verify;
        if (gethostname(host, sizeof(host)) < 0) {
                r = error_set(err, errno, "splunk: cannot access hostname to set source field");
                goto fail;
        }
        host[sizeof(host) - 1] = '\0';
        d->auth = xasprintf("Splunk %s", token);
        d->http = http_client_new(&url, &tls);
        http_client_set_cancel(d->http, &d->cancelled);
        d->batch = env_int("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE", BATCH_DEFAULT);
        d->buffer_max = env_int("SPLUNK_LOGGING_DRIVER_BUFFER_MAX", BUFFER_DEFAULT);
        d->frequency_ms = FREQUENCY_DEFAULT;
        if ((v = getenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_FREQUENCY")) && *v) {
                int64_t ms;
                if (parse_duration_ms(v, &ms) == 0 && ms >= 0)
                        d->frequency_ms = ms;
        }
        build_tails(d, info, host);
        if (verify_conn && (r = verify(d, err)) < 0)
                goto fail;
        http_url_free(&url);
        *ret = &d->base;
        return 0;
fail:
        http_url_free(&url);
        splunk_free(d);
        return r;
}

const LogDriverOps log_driver_splunk = {
        .name = "splunk",
        .open = splunk_open,
        .log = splunk_log,
        .flush = splunk_flush,
        .finish = splunk_finish,
        .close = splunk_close,
        .cancel = splunk_cancel,
};
