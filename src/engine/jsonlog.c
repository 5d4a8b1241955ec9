/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "json-util.h"
#include "jsonlog.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000L
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/*
 * 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.  Go's time.MarshalJSON refuses years outside [0,9999]
 * (RFC 3339 has four-digit years), so dockerd drops such a message, and so do we.
 */
#define MIN_JSON_SEC (-62167219200LL)
#define MAX_JSON_SEC 253402300799LL

/* How often a writer or a reader tries a flock that is held, 1 ms apart. */
#define WRITER_LOCK_TRIES 100
#define READER_LOCK_TRIES 1000
/* How long a reader waits, in 1 ms steps, for the current file when rotated ones exist. */
#define CUR_MISSING_TRIES 200
#define READ_CHUNK        65536
#define FOLLOW_POLL_MS    250

/* gzip (RFC 1952) header flags. */
#define GZ_FHCRC  0x02
#define GZ_FEXTRA 0x04

static void sleep_ms(long ms)
{
        struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
        if (a->tv_sec != b->tv_sec)
                return a->tv_sec < b->tv_sec ? -1 : 1;
        if (a->tv_nsec != b->tv_nsec)
                return a->tv_nsec < b->tv_nsec ? -1 : 1;
        return 0;
}

/* A growable byte buffer. */
typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

static void buf_reserve(Buf *b, size_t extra)
{
        size_t cap = b->cap ? b->cap : 256;

        if (b->cap - b->len >= extra)
                return;
        while (cap - b->len < extra)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

static void buf_put(Buf *b, const void *p, size_t n)
{
        buf_reserve(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void buf_puts(Buf *b, const char *s)
{
        buf_put(b, s, strlen(s));
}

/* ---- times ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *ret_y = yoe + era * 400 + (*ret_m <= 2);
}

size_t format_rfc3339nano_buf(const struct timespec *ts, bool trim, char buf[static RFC3339NANO_MAX])
{
        /* The date and time of the last second formatted, per thread: a log has many lines a second. */
        static __thread int64_t cached_sec = INT64_MIN;
        static __thread char cached[32];
        static __thread int cached_len;
        int64_t sec = ts->tv_sec;
        long nsec = ts->tv_nsec;
        int n;

        if (nsec < 0 || nsec >= NSEC_PER_SEC)
                nsec = nsec < 0 ? 0 : NSEC_PER_SEC - 1;
        if (sec != cached_sec) {
                int64_t days = sec / 86400, rem = sec % 86400, y;
                int m, d;
                if (rem < 0) {
                        rem += 86400;
                        days--;
                }
                civil_from_days(days, &y, &m, &d);
                cached_len = snprintf(cached, sizeof(cached), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
                                      (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
                cached_sec = sec;
        }
        memcpy(buf, cached, (size_t)cached_len);
        n = cached_len;
        if (!trim || nsec != 0) {
                char frac[10];
                int k = 10;
                frac[0] = '.';
                for (int i = 9; i >= 1; i--, nsec /= 10)
                        frac[i] = (char)('0' + nsec % 10);
                /* Go's ".999999999" layout: trailing zeros go, and with them the dot on a whole second. */
                while (trim && frac[k - 1] == '0')
                        k--;
                memcpy(buf + n, frac, (size_t)k);
                n += k;
        }
        buf[n++] = 'Z';
        buf[n] = '\0';
        return (size_t)n;
}

char *format_rfc3339nano(const struct timespec *ts, bool trim)
{
        char buf[RFC3339NANO_MAX];

        format_rfc3339nano_buf(ts, trim, buf);
        return xstrdup(buf);
}

static bool take_digits(const char *s, size_t n, size_t *i, int count, int *ret)
{
        int v = 0;

        if (n - *i < (size_t)count)
                return false;
        for (int k = 0; k < count; k++) {
                char c = s[*i + (size_t)k];
                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *i += (size_t)count;
        *ret = v;
        return true;
}

static bool take_char(const char *s, size_t n, size_t *i, char c)
{
        if (*i >= n || s[*i] != c)
                return false;
        (*i)++;
        return true;
}

static int days_in_month(int y, int m)
{
        static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
                return 29;
        return dm[m - 1];
}

/*
 * "YYYY-MM-DD[Thh[:mm[:ss[.fraction]]]][Z|±hh:mm]".  With `strict` (a log line's "time") it is RFC 3339
 * proper: the time down to the second and the zone are required.  Otherwise (--since) the parts the
 * docker CLI's GetTimestamp lets go may be left out, and without a zone the time is `local_off` seconds
 * east of UTC.  A fraction longer than nine digits is cut, as Go does.
 */
static int parse_datetime(const char *s, size_t n, bool strict, long local_off, struct timespec *ret)
{
        size_t i = 0;
        int y, mo, d, h = 0, mi = 0, sec = 0;
        long nsec = 0, off = local_off;
        bool zone = false, full = false;

        if (!take_digits(s, n, &i, 4, &y) || !take_char(s, n, &i, '-') || !take_digits(s, n, &i, 2, &mo) ||
            !take_char(s, n, &i, '-') || !take_digits(s, n, &i, 2, &d))
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                return -EINVAL;
        if (take_char(s, n, &i, 'T')) {
                if (!take_digits(s, n, &i, 2, &h))
                        return -EINVAL;
                if (take_char(s, n, &i, ':')) {
                        if (!take_digits(s, n, &i, 2, &mi))
                                return -EINVAL;
                        if (take_char(s, n, &i, ':')) {
                                if (!take_digits(s, n, &i, 2, &sec))
                                        return -EINVAL;
                                full = true;
                                if (i < n && (s[i] == '.' || s[i] == ',')) {
                                        int k = 0;
                                        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++)
                                                if (k < 9)
                                                        nsec = nsec * 10 + (s[i] - '0');
                                        if (k == 0)
                                                return -EINVAL;
                                        for (; k < 9; k++)
                                                nsec *= 10;
                                }
                        }
                }
        }
        if (strict && !full)
                return -EINVAL;
        if (h > 23 || mi > 59 || sec > 59)
                return -EINVAL;
        if (take_char(s, n, &i, 'Z')) {
                off = 0;
                zone = true;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
                bool neg = s[i++] == '-';
                int zh, zm;
                if (!take_digits(s, n, &i, 2, &zh) || !take_char(s, n, &i, ':') ||
                    !take_digits(s, n, &i, 2, &zm) || zh > 23 || zm > 59)
                        return -EINVAL;
                off = (zh * 3600L + zm * 60L) * (neg ? -1 : 1);
                zone = true;
        }
        if ((strict && !zone) || i != n)
                return -EINVAL;
        ret->tv_sec = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off);
        ret->tv_nsec = nsec;
        return 0;
}

static long local_offset(time_t t)
{
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return 0;
        return tm.tm_gmtoff;
}

int parse_timestamp_arg(const char *s, struct timespec now, struct timespec *ret, Error **err)
{
        const char *d = s, *dot;
        int64_t ms, sec;
        bool neg = false;

        if (!s || !*s)
                return error_setx(err, EINVAL, "empty timestamp");
        /*
         * A duration first, as the CLI does ("0" excepted, which is the epoch): now minus it, cut to the
         * second, because GetTimestamp sends reference.Add(-d).Unix().
         */
        if (*d == '+' || *d == '-')
                neg = *d++ == '-';
        if (!STREQ(s, "0") && parse_duration_ms(d, &ms) == 0) {
                int64_t t;
                if (__builtin_mul_overflow((int64_t)now.tv_sec, 1000, &t) ||
                    __builtin_add_overflow(t, now.tv_nsec / 1000000 + (neg ? ms : -ms), &t))
                        return error_setx(err, ERANGE, "%s: out of range", s);
                ret->tv_sec = (time_t)(t >= 0 ? t / 1000 : -((-t + 999) / 1000));
                ret->tv_nsec = 0;
                return 0;
        }
        if (parse_datetime(s, strlen(s), false, local_offset(now.tv_sec), ret) == 0)
                return 0;
        /* Anything with a dash was meant as a date (GetTimestamp gives up there too). */
        if (strchr(s, '-'))
                return error_setx(
                        err, EINVAL,
                        "invalid timestamp \"%s\": expected RFC 3339 (2006-01-02T15:04:05.999999999Z07:00)",
                        s);
        /* Unix seconds with an optional fraction, as GetTimestamp passes them through. */
        dot = strchr(s, '.');
        {
                _cleanup_free_ char *ipart = xstrndup(s, dot ? (size_t)(dot - s) : strlen(s));
                long nsec = 0;
                bool ok = *ipart && strspn(ipart, "0123456789") == strlen(ipart) &&
                          parse_int64(ipart, &sec) == 0;
                if (ok && dot) {
                        int k = 0;
                        const char *p;
                        for (p = dot + 1; *p >= '0' && *p <= '9'; p++, k++)
                                if (k < 9)
                                        nsec = nsec * 10 + (*p - '0');
                        ok = k > 0 && *p == '\0';
                        for (; k < 9; k++)
                                nsec *= 10;
                }
                if (ok && (int64_t)(time_t)sec == sec) {
                        ret->tv_sec = (time_t)sec;
                        ret->tv_nsec = nsec;
                        return 0;
                }
        }
        return error_setx(err, EINVAL, "failed to parse value as time or duration: \"%s\"", s);
}

/* ---- encoding ---- */

/*
 * The length of the valid UTF-8 sequence at s (Go's utf8.DecodeRune: shortest form only, no
 * surrogates, at most U+10FFFF), or 0 if s does not start one; *cp gets the code point.
 */
static size_t utf8_valid(const unsigned char *s, size_t n, uint32_t *cp)
{
        unsigned char b = s[0], lo = 0x80, hi = 0xbf;

        if (b < 0xc2 || b > 0xf4)
                return 0;
        if (b < 0xe0) {
                if (n < 2 || s[1] < 0x80 || s[1] > 0xbf)
                        return 0;
                *cp = (uint32_t)(b & 0x1f) << 6 | (s[1] & 0x3f);
                return 2;
        }
        if (b < 0xf0) {
                if (b == 0xe0)
                        lo = 0xa0;
                else if (b == 0xed)
                        hi = 0x9f;
                if (n < 3 || s[1] < lo || s[1] > hi || s[2] < 0x80 || s[2] > 0xbf)
                        return 0;
                *cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
                return 3;
        }
        if (b == 0xf0)
                lo = 0x90;
        else if (b == 0xf4)
                hi = 0x8f;
        if (n < 4 || s[1] < lo || s[1] > hi || s[2] < 0x80 || s[2] > 0xbf || s[3] < 0x80 || s[3] > 0xbf)
                return 0;
        *cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 |
              (s[3] & 0x3f);
        return 4;
}

/* A JSON string as moby's ffjsonWriteJSONBytesAsString writes it (see jsonlog.h for the rules). */
/* ASCII bytes copied as they are: printable, and not \\ " < > & (docker's writer escapes those). */
static const bool passes[256] = {
        [0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x27 ... 0x3b] = 1, [0x3d] = 1,
        [0x3f ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

static void put_json_string(Buf *b, const char *str, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, start = 0;
        char *o;

        /* Each input byte becomes at most six output bytes (\u00XX, \ufffd; U+2028 is 3 -> 6). */
        buf_reserve(b, n * 6 + 2);
        o = b->data + b->len;
        *o++ = '"';
#define FLUSH()                                                                                             \
        do {                                                                                                \
                memcpy(o, s + start, i - start);                                                            \
                o += i - start;                                                                             \
        } while (0)
        while (i < n) {
                unsigned char c = s[i];
                if (c < 0x80) {
                        if (passes[c]) {
                                i++;
                                while (i < n && passes[s[i]])
                                        i++;
                                continue;
                        }
                        FLUSH();
                        *o++ = '\\';
                        if (c == '\\' || c == '"')
                                *o++ = (char)c;
                        else if (c == '\n')
                                *o++ = 'n';
                        else if (c == '\r')
                                *o++ = 'r';
                        else {
                                /* Tab too: Docker's writer has no case for it, unlike encoding/json. */
                                memcpy(o, "u00", 3);
                                o += 3;
                                *o++ = hex[c >> 4];
                                *o++ = hex[c & 0xf];
                        }
                        start = ++i;
                        continue;
                }
                uint32_t cp = 0;
                size_t k = utf8_valid(s + i, n - i, &cp);
                if (k == 0) {
                        FLUSH();
                        memcpy(o, "\\ufffd", 6);
                        o += 6;
                        start = ++i;
                        continue;
                }
                if (cp == 0x2028 || cp == 0x2029) {
                        /* JavaScript line terminators, escaped so the output is also valid JS
                         * (encoding/json). */
                        FLUSH();
                        memcpy(o, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
                        o += 6;
                        i += k;
                        start = i;
                        continue;
                }
                i += k;
        }
        FLUSH();
#undef FLUSH
        *o++ = '"';
        b->len = (size_t)(o - b->data);
}

static int cmp_strp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int encode_line(Buf *b, const char *stream, const char *msg, size_t len, const struct timespec *ts,
                       const char *attrs)
{
        char tbuf[RFC3339NANO_MAX];
        bool first = true;

        if (ts->tv_sec < MIN_JSON_SEC || ts->tv_sec > MAX_JSON_SEC || ts->tv_nsec < 0 ||
            ts->tv_nsec >= NSEC_PER_SEC)
                return -ERANGE;
        /* Bounded before encoding, so that a huge message never becomes a six times huger buffer. */
        if (len > JSONLOG_MAX_LINE || strlen(stream) > JSONLOG_MAX_LINE)
                return -E2BIG;
        b->len = 0;
        buf_puts(b, "{");
        /* MarshalJSONBuf leaves out an empty log and an empty stream ("omitempty"). */
        if (len > 0) {
                buf_puts(b, "\"log\":");
                put_json_string(b, msg, len);
                first = false;
        }
        if (*stream) {
                buf_puts(b, first ? "\"stream\":" : ",\"stream\":");
                put_json_string(b, stream, strlen(stream));
                first = false;
        }
        if (attrs && *attrs) {
                buf_puts(b, first ? "\"attrs\":" : ",\"attrs\":");
                buf_puts(b, attrs);
                first = false;
        }
        buf_puts(b, first ? "\"time\":\"" : ",\"time\":\"");
        buf_put(b, tbuf, format_rfc3339nano_buf(ts, true, tbuf));
        buf_puts(b, "\"}\n");
        if (b->len - 1 > JSONLOG_MAX_LINE)
                return -E2BIG;
        return 0;
}

int jsonlog_encode_line(const char *stream, const char *msg, size_t len, const struct timespec *ts,
                        char **ret, size_t *ret_len)
{
        Buf b = { 0 };
        int r;

        r = encode_line(&b, stream, msg, len, ts, NULL);
        if (r < 0) {
                free(b.data);
                return r;
        }
        buf_put(&b, "", 1);
        *ret = b.data;
        *ret_len = b.len - 1;
        return 0;
}

/* ---- parsing ---- */

/* Go's url.QueryEscape, which docker applies to each key and value of --details. */
static void put_query_escaped(Buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == '~') {
                        char ch = (char)c;
                        buf_put(b, &ch, 1);
                } else if (c == ' ')
                        buf_puts(b, "+");
                else {
                        char e[3] = { '%', hex[c >> 4], hex[c & 15] };
                        buf_put(b, e, 3);
                }
        }
}

/* `logs --details`: "k=v,k2=v2 " (keys sorted, both query-escaped; a lone space when there are none). */
static void put_details(Buf *b, json_t *attrs)
{
        size_t n = json_object_size(attrs), i = 0;
        const char **keys = xcalloc(n + 1, sizeof(char *));
        const char *k;
        json_t *v;

        json_object_foreach(attrs, k, v) if (json_is_string(v)) keys[i++] = k;
        qsort(keys, i, sizeof(char *), cmp_strp);
        for (size_t x = 0; x < i; x++) {
                if (x)
                        buf_puts(b, ",");
                put_query_escaped(b, keys[x]);
                buf_puts(b, "=");
                put_query_escaped(b, json_string_value(json_object_get(attrs, keys[x])));
        }
        buf_puts(b, " ");
        free(keys);
}

static int parse_line(const char *line, size_t len, bool details, char **stream, char **msg, size_t *msg_len,
                      struct timespec *ts);

int jsonlog_parse_line(const char *line, size_t len, char **stream, char **msg, size_t *msg_len,
                       struct timespec *ts)
{
        return parse_line(line, len, false, stream, msg, msg_len, ts);
}

static int parse_line(const char *line, size_t len, bool details, char **stream, char **msg, size_t *msg_len,
                      struct timespec *ts)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *jlog, *jstream, *jtime;
        const char *t;
        size_t log_len = 0, stream_len = 0;
        char *m, *s;

        if (len > 0 && line[len - 1] == '\n')
                len--;
        if (len > JSONLOG_MAX_LINE)
                return -E2BIG;
        /* NULs are legal in a message (written as \u0000), and jansson refuses them unless told. */
        j = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
        if (!j || !json_is_object(j))
                return -EINVAL;
        jlog = json_object_get(j, "log");
        jstream = json_object_get(j, "stream");
        jtime = json_object_get(j, "time");
        if ((jlog && !json_is_null(jlog) && !json_is_string(jlog)) ||
            (jstream && !json_is_null(jstream) && !json_is_string(jstream)) || !json_is_string(jtime))
                return -EINVAL;
        t = json_string_value(jtime);
        if (parse_datetime(t, json_string_length(jtime), true, 0, ts) < 0)
                return -EINVAL;
        if (json_is_string(jlog))
                log_len = json_string_length(jlog);
        if (json_is_string(jstream))
                stream_len = json_string_length(jstream);
        if (details) {
                Buf b = { 0 };
                json_t *attrs = json_object_get(j, "attrs");
                put_details(&b, json_is_object(attrs) ? attrs : NULL);
                buf_put(&b, json_string_value(jlog) ? json_string_value(jlog) : "", log_len);
                buf_put(&b, "", 1);
                m = b.data;
                log_len = b.len - 1;
        } else {
                m = xmalloc(log_len + 1);
                if (log_len)
                        memcpy(m, json_string_value(jlog), log_len);
                m[log_len] = '\0';
        }
        s = xmalloc(stream_len + 1);
        if (stream_len)
                memcpy(s, json_string_value(jstream), stream_len);
        s[stream_len] = '\0';
        *msg = m;
        *msg_len = log_len;
        *stream = s;
        return 0;
}

/* ---- the line splitter ---- */

void line_splitter_init(LineSplitter *s, const char *stream)
{
        *s = (LineSplitter){ .stream = stream };
}

void line_splitter_free(LineSplitter *s)
{
        free(s->buf);
        s->buf = NULL;
        s->len = 0;
        s->partial = false;
}

static int splitter_emit(LineSplitter *s, bool last, const struct timespec *ts, jsonlog_msg_fn fn, void *ud)
{
        int r;

        /* Docker's copier stamps every piece of a long line, and its end, with the first piece's time. */
        if (!last && !s->partial) {
                s->partial = true;
                s->partial_ts = *ts;
        }
        r = fn(ud, s->stream, s->buf, s->len, s->partial ? &s->partial_ts : ts);
        s->len = 0;
        if (last)
                s->partial = false;
        return r < 0 ? r : 0;
}

int line_splitter_feed(LineSplitter *s, const char *buf, size_t len, const struct timespec *ts,
                       jsonlog_msg_fn fn, void *ud)
{
        int ret = 0, r;

        if (!s->buf)
                s->buf = xmalloc(JSONLOG_PARTIAL_SIZE + 1);
        while (len > 0) {
                const char *nl = memchr(buf, '\n', len);
                size_t take = nl ? (size_t)(nl - buf) : len;

                while (take > 0) {
                        size_t n = MIN_SZ(take, JSONLOG_PARTIAL_SIZE - s->len);
                        memcpy(s->buf + s->len, buf, n);
                        s->len += n;
                        buf += n;
                        len -= n;
                        take -= n;
                        /* The buffer is full without a newline: Docker logs it as a partial message. */
                        if (s->len == JSONLOG_PARTIAL_SIZE) {
                                r = splitter_emit(s, false, ts, fn, ud);
                                if (r < 0 && ret == 0)
                                        ret = r;
                        }
                }
                if (nl) {
                        s->buf[s->len++] = '\n';
                        r = splitter_emit(s, true, ts, fn, ud);
                        if (r < 0 && ret == 0)
                                ret = r;
                        buf++;
                        len--;
                }
        }
        return ret;
}

int line_splitter_flush(LineSplitter *s, const struct timespec *ts, jsonlog_msg_fn fn, void *ud)
{
        int r = 0;

        if (s->len > 0)
                r = splitter_emit(s, false, ts, fn, ud);
        s->partial = false;
        return r;
}

/* ---- paths and locks ---- */

/* Splits a path into its directory ("." when none) and a file name, which must be a real name. */
static int split_path(const char *path, char **ret_dir, char **ret_name)
{
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;

        if (!*name || STREQ(name, ".") || STREQ(name, ".."))
                return -EINVAL;
        if (!slash)
                *ret_dir = xstrdup(".");
        else if (slash == path)
                *ret_dir = xstrdup("/");
        else
                *ret_dir = xstrndup(path, (size_t)(slash - path));
        *ret_name = xstrdup(name);
        return 0;
}

static char *rotated_name(const char *name, int i, bool gz)
{
        return xasprintf("%s.%d%s", name, i, gz ? ".gz" : "");
}

/*
 * How many rotated files there are, at most max: .1 ... .k exist (plain or gzipped), .k+1 does not.
 * Rotation leaves no gap unless a crash interrupts it; files beyond one are left alone until the
 * next rotations close it up.  Counting keeps a large max-file cheap.
 */
static int count_rotated(int dirfd, const char *name, int max)
{
        int k = 0;

        while (k < max) {
                _cleanup_free_ char *p = rotated_name(name, k + 1, false),
                                    *g = rotated_name(name, k + 1, true);
                if (faccessat(dirfd, p, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
                    faccessat(dirfd, g, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        break;
                k++;
        }
        return k;
}

/* flock with a bounded wait: true if taken.  Neither side may hang the other (see jsonlog.h). */
static bool lock_bounded(int fd, int op, int tries)
{
        for (int i = 0; i < tries; i++) {
                if (flock(fd, op | LOCK_NB) == 0)
                        return true;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return false;
                sleep_ms(1);
        }
        return false;
}

static int unlink_if_exists(int dirfd, const char *name)
{
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int rename_if_exists(int dirfd, const char *from, const char *to)
{
        if (renameat(dirfd, from, dirfd, to) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Opens a log file for reading; -ENOENT if missing, -EINVAL if not a regular file. */
static int open_for_reading(int dirfd, const char *name, int *ret_fd, struct stat *ret_st)
{
        _cleanup_close_ int fd = -EBADF;

        /* O_NONBLOCK: a FIFO put in the file's place must not hang the reader in open(). */
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return errno == ELOOP ? -EINVAL : -errno;
        if (fstat(fd, ret_st) < 0)
                return -errno;
        if (!S_ISREG(ret_st->st_mode))
                return -EINVAL;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- the writer ---- */

struct JsonLog {
        int dirfd;
        char *name;   /* the current file, in dirfd */
        char *path;   /* for messages */
        int fd;       /* the current file (O_APPEND); -EBADF after a rotation that could not open it */
        int64_t size; /* its size */
        int64_t max_size;
        int max_file;
        bool compress;
        char *attrs; /* the "attrs" object as JSON text, or NULL */
        Buf buf; /* the line being written, reused */
        bool buffered;
        Buf out; /* buffered mode: lines encoded, not yet written (size does not count them) */
        /* Buffered mode: .1 is compressed into .2.gz.tmp on a thread right after the rotation that
         * made it, so the next rotation finds it done instead of compressing while the container
         * waits.  Joined before any rename. */
        pthread_t zthread;
        bool zrunning;
        int zresult;
};

static int compress_join(JsonLog *l);

static int open_current(JsonLog *l, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool created = true;
        char last;

        /* Read-write for the pread below; O_APPEND keeps every write at the end. */
        fd = openat(l->dirfd, l->name, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0 && errno == EEXIST) {
                created = false;
                fd = openat(l->dirfd, l->name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        }
        if (fd < 0)
                return error_set(err, errno, "opening %s", l->path);
        if (fstat(fd, &st) < 0)
                return error_set(err, errno, "stat %s", l->path);
        if (!S_ISREG(st.st_mode))
                return error_setx(err, EINVAL, "%s is not a regular file", l->path);
        /* 0640 whatever the umask, as dockerd leaves its logs. */
        if (created && fchmod(fd, 0640) < 0)
                return error_set(err, errno, "chmod %s", l->path);
        l->size = st.st_size;
        /*
         * A file that does not end in "\n" was torn by a crash mid-write.  Ending the torn line keeps the
         * damage to that line: otherwise our first line would be glued to it and be lost too.
         */
        if (l->size > 0 && pread(fd, &last, 1, l->size - 1) == 1 && last != '\n') {
                int r = write_all(fd, "\n", 1);
                if (r < 0)
                        return error_set(err, -r, "writing to %s", l->path);
                l->size++;
        }
        l->fd = TAKE_FD(fd);
        return 0;
}

int jsonlog_open(const char *path, int64_t max_size, int max_file, bool compress, JsonLog **ret, Error **err)
{
        _cleanup_(jsonlog_closep) JsonLog *l = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (max_size > 0 && max_file < 1)
                return error_setx(err, EINVAL, "max-file: %d is less than 1", max_file);
        l = xcalloc(1, sizeof(*l));
        l->dirfd = -EBADF;
        l->fd = -EBADF;
        l->max_size = max_size;
        l->max_file = max_size > 0 ? max_file : 1;
        l->compress = compress;
        l->path = xstrdup(path);
        if (split_path(path, &dir, &l->name) < 0)
                return error_setx(err, EINVAL, "%s: not a file name", path);
        l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dirfd < 0)
                return error_set(err, errno, "opening the log directory %s", dir);
        r = open_current(l, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

JsonLog *jsonlog_close(JsonLog *l)
{
        if (!l)
                return NULL;
        (void)jsonlog_flush(l, NULL);
        if (compress_join(l) != 1 && l->dirfd >= 0) {
                /* The next rotation would have used it; a later open compresses again. */
                _cleanup_free_ char *tmp = xasprintf("%s.2.gz.tmp", l->name);
                (void)unlink_if_exists(l->dirfd, tmp);
        }
        free(l->out.data);
        if (l->fd >= 0)
                close(l->fd);
        if (l->dirfd >= 0)
                close(l->dirfd);
        free(l->buf.data);
        free(l->name);
        free(l->path);
        free(l->attrs);
        free(l);
        return NULL;
}

void jsonlog_set_attrs(JsonLog *l, json_t *attrs)
{
        free(l->attrs);
        l->attrs = NULL;
        if (json_object_size(attrs) > 0) {
                /* Keys sorted, as Go's map marshalling writes them; strings escaped as every other. */
                Buf b = { 0 };
                const char **keys = xcalloc(json_object_size(attrs) + 1, sizeof(char *));
                size_t n = 0;
                const char *k;
                json_t *v;
                json_object_foreach(attrs, k, v) keys[n++] = k;
                qsort(keys, n, sizeof(char *), cmp_strp);
                buf_puts(&b, "{");
                for (size_t i = 0; i < n; i++) {
                        const char *val = json_string_value(json_object_get(attrs, keys[i])) ?: "";
                        if (i)
                                buf_puts(&b, ",");
                        put_json_string(&b, keys[i], strlen(keys[i]));
                        buf_puts(&b, ":");
                        put_json_string(&b, val, strlen(val));
                }
                buf_puts(&b, "}");
                buf_put(&b, "", 1);
                l->attrs = b.data;
                free(keys);
        }
}

/*
 * The time of the last message in a log file, for the gzip header.  The tail is read: the last 64 KiB
 * hold the last line unless it is unusually long, then up to JSONLOG_MAX_LINE.
 */
static int file_last_time(int fd, off_t size, struct timespec *ret)
{
        size_t want = (size_t)MIN_SZ(size, (off_t)READ_CHUNK);

        for (;;) {
                _cleanup_free_ char *b = xmalloc(want + 1);
                ssize_t n = pread(fd, b, want, size - (off_t)want);
                size_t end;

                if (n != (ssize_t)want)
                        return -EIO;
                end = want;
                /* Walk back over lines; the first one that parses is the last message. */
                while (end > 0) {
                        size_t start = end - 1;
                        _cleanup_free_ char *s = NULL, *m = NULL;
                        size_t ml;

                        while (start > 0 && b[start - 1] != '\n')
                                start--;
                        if ((start > 0 || want == (size_t)size) &&
                            jsonlog_parse_line(b + start, end - start, &s, &m, &ml, ret) == 0)
                                return 0;
                        end = start;
                }
                if (want == (size_t)size || want > JSONLOG_MAX_LINE)
                        return -ENOENT;
                want = (size_t)MIN_SZ(size, (off_t)JSONLOG_MAX_LINE + 2);
        }
}

/*
 * Gzips dirfd/src into dirfd/dst (created 0640, replaced if it exists).  -errno.  zlib writes the
 * header with FEXTRA, where dockerd keeps {"lastTime":...} (gz_last_time() reads it back), MTIME 0
 * and OS 255, as Go's gzip.Writer does.  zlib rather than libarchive: the monitor links this, and
 * libarchive would bring libxml2 and ICU into every container's monitor.
 */
static int compress_file(int dirfd, const char *src, const char *dst)
{
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        _cleanup_free_ char *extra = NULL, *chunk = NULL, *obuf = NULL;
        struct timespec last;
        struct stat st;
        z_stream z = { 0 };
        gz_header h = { 0 };
        int r, zr = Z_OK;

        r = open_for_reading(dirfd, src, &in, &st);
        if (r < 0)
                return r;
        out = openat(dirfd, dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (out < 0)
                return -errno;
        if (fchmod(out, 0640) < 0)
                return -errno;
        if (file_last_time(in, st.st_size, &last) == 0) {
                char t[RFC3339NANO_MAX];
                format_rfc3339nano_buf(&last, true, t);
                extra = xasprintf("{\"lastTime\":\"%s\"}", t);
        }
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        h.os = 255;
        if (extra) {
                h.extra = (Bytef *)extra;
                h.extra_len = (uInt)strlen(extra);
        }
        (void)deflateSetHeader(&z, &h);
        chunk = xmalloc(READ_CHUNK);
        obuf = xmalloc(READ_CHUNK);
        for (bool done = false; !done;) {
                ssize_t n = read(in, chunk, READ_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        goto finish;
                }
                done = n == 0;
                z.next_in = (Bytef *)chunk;
                z.avail_in = (uInt)n;
                do {
                        z.next_out = (Bytef *)obuf;
                        z.avail_out = READ_CHUNK;
                        zr = deflate(&z, done ? Z_FINISH : Z_NO_FLUSH);
                        if (zr == Z_STREAM_ERROR) {
                                r = -EIO;
                                goto finish;
                        }
                        r = write_all(out, obuf, READ_CHUNK - z.avail_out);
                        if (r < 0)
                                goto finish;
                } while (z.avail_out == 0);
        }
        r = zr == Z_STREAM_END ? 0 : -EIO;
finish:
        deflateEnd(&z);
        return r;
}

/*
 * Rotation (max_file >= 2): drop the oldest, shift .i to .i+1, compress .1 into .2.gz when asked,
 * rename the current file to .1 and start an empty one.  Both .i and .i.gz are moved, whichever
 * exist, so that a set written with the other compression setting is carried along.
 */
static void *compress_one(void *ud)
{
        JsonLog *l = ud;
        _cleanup_free_ char *one = rotated_name(l->name, 1, false), *tmp = xasprintf("%s.2.gz.tmp", l->name);
        l->zresult = compress_file(l->dirfd, one, tmp);
        return NULL;
}

/* Waits for the background compression of .1, if one runs; its result, or 1 when none ran. */
static int compress_join(JsonLog *l)
{
        if (!l->zrunning)
                return 1;
        pthread_join(l->zthread, NULL);
        l->zrunning = false;
        return l->zresult;
}

static int rotate(JsonLog *l, Error **err)
{
        _cleanup_free_ char *tmp = NULL, *one = rotated_name(l->name, 1, false);
        bool gz_ready = false, locked = false;
        int old_fd = l->fd, r = 0;

        if (l->max_file >= 3 && l->compress) {
                /*
                 * .1 never changes once rotated, so it is compressed before the lock is taken and
                 * readers wait for renames only (in buffered mode on a thread since the last
                 * rotation).  If compression fails (ENOSPC ...), .1 moves on uncompressed: keeping
                 * the log matters more than its size.
                 */
                tmp = xasprintf("%s.2.gz.tmp", l->name);
                r = compress_join(l);
                if (r == 1)
                        r = compress_file(l->dirfd, one, tmp);
                gz_ready = r == 0;
                if (r < 0)
                        (void)unlink_if_exists(l->dirfd, tmp);
                r = 0;
        }
        if (old_fd >= 0)
                locked = lock_bounded(old_fd, LOCK_EX, WRITER_LOCK_TRIES);
        if (l->max_file >= 2) {
                int k = count_rotated(l->dirfd, l->name, l->max_file - 1);
                if (k == l->max_file - 1) {
                        /* The oldest goes. */
                        _cleanup_free_ char *oldest = rotated_name(l->name, k, false);
                        _cleanup_free_ char *oldest_gz = rotated_name(l->name, k, true);
                        if ((r = unlink_if_exists(l->dirfd, oldest)) < 0 ||
                            (r = unlink_if_exists(l->dirfd, oldest_gz)) < 0) {
                                error_set(err, -r, "max-file: removing %s", oldest);
                                goto finish;
                        }
                        k--;
                }
                for (int i = k; i >= 2; i--) {
                        for (int gz = 0; gz <= 1; gz++) {
                                _cleanup_free_ char *from = rotated_name(l->name, i, gz);
                                _cleanup_free_ char *to = rotated_name(l->name, i + 1, gz);
                                if ((r = rename_if_exists(l->dirfd, from, to)) < 0) {
                                        error_set(err, -r, "max-file: renaming %s to %s", from, to);
                                        goto finish;
                                }
                        }
                }
                if (l->max_file >= 3) {
                        _cleanup_free_ char *two = rotated_name(l->name, 2, gz_ready);
                        if (gz_ready)
                                r = renameat(l->dirfd, tmp, l->dirfd, two) < 0 ? -errno : 0;
                        else
                                r = rename_if_exists(l->dirfd, one, two);
                        if (r < 0) {
                                error_set(err, -r, "max-file: renaming %s to %s", gz_ready ? tmp : one, two);
                                goto finish;
                        }
                        if (gz_ready && (r = unlink_if_exists(l->dirfd, one)) < 0) {
                                error_set(err, -r, "max-file: removing %s", one);
                                goto finish;
                        }
                }
                if (renameat(l->dirfd, l->name, l->dirfd, one) < 0 && errno != ENOENT) {
                        r = error_set(err, errno, "max-size: renaming %s to %s", l->name, one);
                        goto finish;
                }
        } else {
                /*
                 * max-file=1: the file starts over.  A new file rather than ftruncate(): a reader that
                 * follows the old one sees the switch by its inode, where a truncation could hide behind
                 * lines written since.
                 */
                if ((r = unlink_if_exists(l->dirfd, l->name)) < 0) {
                        error_set(err, -r, "max-size: removing %s", l->path);
                        goto finish;
                }
        }
        l->fd = -EBADF;
        r = open_current(l, err);
        if (r == 0 && l->buffered && l->max_file >= 3 && l->compress)
                l->zrunning = pthread_create(&l->zthread, NULL, compress_one, l) == 0;
finish:
        if (l->fd != old_fd && old_fd >= 0)
                close(old_fd); /* and with it the lock */
        else if (locked)
                (void)flock(old_fd, LOCK_UN);
        if (tmp && gz_ready && r < 0)
                (void)unlink_if_exists(l->dirfd, tmp);
        return r;
}

static int write_out(JsonLog *l, const char *p, size_t n, Error **err);

int jsonlog_write(JsonLog *l, const char *stream, const char *msg, size_t len, const struct timespec *ts,
                  Error **err)
{
        struct timespec now;
        int r;

        if (!ts) {
                clock_gettime(CLOCK_REALTIME, &now);
                ts = &now;
        }
        r = encode_line(&l->buf, stream, msg, len, ts, l->attrs);
        if (r == -ERANGE)
                return error_setx(err, ERANGE, "log message time %lld is outside years 0000-9999",
                                  (long long)ts->tv_sec);
        if (r < 0)
                return error_setx(err, -r, "log message of %zu bytes is too long", len);
        if (l->fd < 0) {
                r = open_current(l, err);
                if (r < 0)
                        return r;
        }
        if (l->max_size > 0 && l->size + (int64_t)l->out.len > 0 &&
            l->size + (int64_t)l->out.len + (int64_t)l->buf.len > l->max_size) {
                r = jsonlog_flush(l, err);
                if (r < 0)
                        return r;
                r = rotate(l, err);
                if (r < 0)
                        return r;
        }
        if (l->buffered) {
                buf_put(&l->out, l->buf.data, l->buf.len);
                return l->out.len >= JSONLOG_BUFFER ? jsonlog_flush(l, err) : 0;
        }
        return write_out(l, l->buf.data, l->buf.len, err);
}

/* Appends bytes to the current file; a torn write is cut off again. */
static int write_out(JsonLog *l, const char *p, size_t n, Error **err)
{
        int r = write_all(l->fd, p, n);
        if (r < 0) {
                /* Cut a torn line off again (ENOSPC after part of it), so the next line starts clean. */
                (void)ftruncate(l->fd, l->size);
                return error_set(err, -r, "writing to %s", l->path);
        }
        l->size += (int64_t)n;
        return 0;
}

int jsonlog_flush(JsonLog *l, Error **err)
{
        int r;

        if (!l || l->out.len == 0)
                return 0;
        if (l->fd < 0) {
                r = open_current(l, err);
                if (r < 0)
                        return r;
        }
        r = write_out(l, l->out.data, l->out.len, err);
        l->out.len = 0; /* written, or dropped with the error reported: never written twice */
        return r;
}

void jsonlog_set_buffered(JsonLog *l, bool on)
{
        if (!on)
                (void)jsonlog_flush(l, NULL);
        l->buffered = on;
}

/* ---- the reader ---- */

/* Lines of a plain or gzipped file; keeps an unfinished last line for when more arrives (follow). */
typedef struct LineReader {
        int fd;
        z_stream *z;        /* gzip: decompressing */
        unsigned char *zin; /* gzip: compressed input */
        bool eof;           /* gzip: nothing more will come */
        char *buf;
        size_t start, len, cap;
        bool skipping;     /* inside an over-long line, dropped up to its newline */
        uint64_t consumed; /* bytes read from a plain file: where the next read starts */
} LineReader;

static void lr_done(LineReader *r)
{
        if (r->z) {
                inflateEnd(r->z);
                free(r->z);
        }
        free(r->zin);
        free(r->buf);
        *r = (LineReader){ .fd = -EBADF };
}

/* Starts reading fd (not owned) from its beginning; lr_done() first if r was in use. */
static void lr_start(LineReader *r, int fd, bool gz)
{
        *r = (LineReader){ .fd = fd };
        if (!gz)
                return;
        /* read() from the start, whoever used the fd before. */
        (void)lseek(fd, 0, SEEK_SET);
        r->z = xcalloc(1, sizeof(*r->z));
        r->zin = xmalloc(READ_CHUNK);
        if (inflateInit2(r->z, 15 + 16) != Z_OK) {
                free(r->z);
                r->z = NULL;
                r->eof = true;
        }
}

static ssize_t lr_fill(LineReader *r, char *p, size_t n)
{
        if (r->z || r->eof) {
                /* Damaged compressed data ends the file: what came before it is kept. */
                while (!r->eof) {
                        int zr;
                        if (r->z->avail_in == 0) {
                                ssize_t k = read(r->fd, r->zin, READ_CHUNK);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        r->eof = true;
                                        return 0;
                                }
                                r->z->next_in = r->zin;
                                r->z->avail_in = (uInt)k;
                        }
                        r->z->next_out = (Bytef *)p;
                        r->z->avail_out = (uInt)MIN_SZ(n, (size_t)UINT32_MAX);
                        zr = inflate(r->z, Z_NO_FLUSH);
                        size_t got = MIN_SZ(n, (size_t)UINT32_MAX) - r->z->avail_out;
                        if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
                                r->eof = true;
                        if (got > 0)
                                return (ssize_t)got;
                }
                return 0;
        }
        for (;;) {
                /* pread: several readers (first_line()) may share the fd of a plain file. */
                ssize_t k = pread(r->fd, p, n, (off_t)r->consumed);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                r->consumed += (uint64_t)k;
                return k;
        }
}

/* 1 and a line (without "\n", valid until the next call), 0 when no complete line is there, -errno. */
static int lr_next(LineReader *r, const char **line, size_t *n)
{
        for (;;) {
                char *p = r->buf + r->start;
                char *nl = r->len > r->start ? memchr(p, '\n', r->len - r->start) : NULL;
                ssize_t k;

                if (nl) {
                        r->start += (size_t)(nl - p) + 1;
                        if (r->skipping) {
                                r->skipping = false;
                                continue;
                        }
                        *line = p;
                        *n = (size_t)(nl - p);
                        return 1;
                }
                if (r->skipping || r->len - r->start > JSONLOG_MAX_LINE) {
                        /* Beyond the bound no line of ours goes: damage, dropped without buffering it. */
                        r->skipping = true;
                        r->start = r->len = 0;
                } else if (r->start > 0) {
                        memmove(r->buf, r->buf + r->start, r->len - r->start);
                        r->len -= r->start;
                        r->start = 0;
                }
                if (r->cap - r->len < READ_CHUNK) {
                        r->cap = r->len + 2 * READ_CHUNK;
                        r->buf = xrealloc(r->buf, r->cap);
                }
                k = lr_fill(r, r->buf + r->len, r->cap - r->len);
                if (k <= 0)
                        return (int)k;
                r->len += (size_t)k;
        }
}

typedef struct TailEntry {
        char *stream, *msg;
        size_t len;
        struct timespec ts;
} TailEntry;

typedef struct LogFile {
        int fd;
        bool gz;
        bool current;
        struct stat st;
} LogFile;

typedef struct Reader {
        const JsonLogReadOpts *o;
        jsonlog_msg_fn fn;
        void *ud;
        int dirfd;
        char *name;
        int rotated; /* how many rotated files there can be */
        /* The tail ring, while the existing messages are read. */
        bool collecting;
        TailEntry *ring;
        size_t ring_len, ring_cap, ring_head;
        /* The current file, followed. */
        bool has_cur;
        int cur_fd;
        struct stat cur_st;
        LineReader cur;
        /*
         * Without a current file (a writer that crashed mid-rotation), the newest file read: a
         * current file that turns up later is read after it, not from the oldest file again.
         */
        int last_fd;
        bool last_gz;
} Reader;

static void files_free(LogFile *f, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (f[i].fd >= 0)
                        close(f[i].fd);
        free(f);
}

/*
 * Opens the set of files, oldest first, the current one (if any) last.  The writer renames under an
 * exclusive flock on the current file, so holding it shared while the others are opened gives a
 * consistent set; the current file is checked to still be the current one once the lock is held.
 */
static int open_set(Reader *R, LogFile **ret, size_t *ret_n, Error **err)
{
        for (int attempt = 0;; attempt++) {
                LogFile cur = { .fd = -EBADF, .current = true }, *f;
                bool locked = false;
                size_t n = 0;
                int r, k;

                r = open_for_reading(R->dirfd, R->name, &cur.fd, &cur.st);
                if (r == -ENOENT)
                        ; /* see below */
                else if (r == -EINVAL)
                        return error_setx(err, EINVAL, "%s is not a regular file", R->name);
                else if (r < 0)
                        return error_set(err, -r, "opening %s", R->name);
                else {
                        struct stat st;
                        locked = lock_bounded(cur.fd, LOCK_SH, READER_LOCK_TRIES);
                        if ((fstatat(R->dirfd, R->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                             st.st_ino != cur.st.st_ino || st.st_dev != cur.st.st_dev) &&
                            attempt < READER_LOCK_TRIES) {
                                /* Rotated between our open() and our lock. */
                                close(cur.fd);
                                continue;
                        }
                }
                k = count_rotated(R->dirfd, R->name, R->rotated);
                f = xcalloc((size_t)k + 1, sizeof(*f));
                for (int i = k; i >= 1; i--) {
                        for (int gz = 0; gz <= 1; gz++) {
                                _cleanup_free_ char *p = rotated_name(R->name, i, gz);
                                LogFile lf = { .fd = -EBADF, .gz = gz };
                                /* The plain one first, as dockerd: .i and .i.gz both existing is not ours.
                                 */
                                r = open_for_reading(R->dirfd, p, &lf.fd, &lf.st);
                                if (r == 0) {
                                        f[n++] = lf;
                                        break;
                                }
                                if (r != -ENOENT && r != -EINVAL) {
                                        if (cur.fd >= 0)
                                                close(cur.fd);
                                        files_free(f, n);
                                        return error_set(err, -r, "opening %s", p);
                                }
                        }
                }
                if (locked)
                        (void)flock(cur.fd, LOCK_UN);
                if (cur.fd >= 0)
                        f[n++] = cur;
                else if (n > 0 && attempt < CUR_MISSING_TRIES) {
                        /*
                         * Rotated files but no current one: a writer between moving the current file
                         * to .1 and creating the next, or one that created, filled and rotated it
                         * since we looked.  Look again; only a writer that crashed right there leaves
                         * it so for good.
                         */
                        files_free(f, n);
                        sleep_ms(1);
                        continue;
                }
                *ret = f;
                *ret_n = n;
                return 0;
        }
}

static void tail_entry_free(TailEntry *e)
{
        free(e->stream);
        free(e->msg);
}

/* 0 to go on, <0 error, >0 stop (fn said so). */
static int deliver(Reader *R, const char *line, size_t n)
{
        _cleanup_free_ char *stream = NULL, *msg = NULL;
        const JsonLogReadOpts *o = R->o;
        struct timespec ts;
        size_t len;
        int r;

        if (parse_line(line, n, o->details, &stream, &msg, &len, &ts) < 0)
                return 0; /* damaged: skipped */
        if (o->has_since && ts_cmp(&ts, &o->since) < 0)
                return 0;
        if (o->has_until && ts_cmp(&ts, &o->until) >= 0)
                return 0;
        if (R->collecting) {
                TailEntry *e;
                if (o->tail == 0)
                        return 0;
                if ((int64_t)R->ring_len < o->tail) {
                        /* Still filling: grow up to tail entries, however large tail is. */
                        if (R->ring_len == R->ring_cap) {
                                R->ring_cap = R->ring_cap ? R->ring_cap * 2 : 64;
                                if ((int64_t)R->ring_cap > o->tail)
                                        R->ring_cap = (size_t)o->tail;
                                R->ring = xrealloc(R->ring, R->ring_cap * sizeof(*R->ring));
                        }
                        e = &R->ring[R->ring_len++];
                } else {
                        e = &R->ring[R->ring_head];
                        R->ring_head = (R->ring_head + 1) % R->ring_len;
                        tail_entry_free(e);
                }
                *e = (TailEntry){ .stream = TAKE_PTR(stream), .msg = TAKE_PTR(msg), .len = len, .ts = ts };
                return 0;
        }
        r = R->fn(R->ud, stream, msg, len, &ts);
        return r;
}

static void ring_free(Reader *R)
{
        for (size_t i = 0; i < R->ring_len; i++)
                tail_entry_free(&R->ring[i]);
        free(R->ring);
        R->ring = NULL;
        R->ring_len = R->ring_cap = R->ring_head = 0;
}

static int flush_ring(Reader *R)
{
        int r = 0;

        for (size_t i = 0; i < R->ring_len; i++) {
                TailEntry *e = &R->ring[(R->ring_head + i) % R->ring_len];
                r = R->fn(R->ud, e->stream, e->msg, e->len, &e->ts);
                if (r != 0)
                        break;
        }
        ring_free(R);
        R->collecting = false;
        return r;
}

static int drain(Reader *R, LineReader *lr)
{
        const char *line;
        size_t n;
        int r;

        while ((r = lr_next(lr, &line, &n)) > 0) {
                r = deliver(R, line, n);
                if (r != 0)
                        return r;
        }
        return r;
}

/* The time in the gzip header of a rotated file (see gz_write_cb()); -ENOENT if it has none. */
static int gz_last_time(int fd, struct timespec *ret)
{
        _cleanup_json_ json_t *j = NULL;
        unsigned char h[12];
        char extra[256];
        size_t xlen;
        json_t *t;

        if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || h[0] != 0x1f || h[1] != 0x8b ||
            !(h[3] & GZ_FEXTRA))
                return -ENOENT;
        xlen = (size_t)h[10] | (size_t)h[11] << 8;
        if (xlen == 0 || xlen > sizeof(extra) || pread(fd, extra, xlen, sizeof(h)) != (ssize_t)xlen)
                return -ENOENT;
        j = json_loadb(extra, xlen, 0, NULL);
        t = json_object_get(j, "lastTime");
        if (!json_is_string(t) ||
            parse_datetime(json_string_value(t), json_string_length(t), true, 0, ret) < 0)
                return -ENOENT;
        return 0;
}

/* Reads a whole file of the set. */
static int read_file(Reader *R, const LogFile *f)
{
        LineReader lr;
        struct timespec last;
        int r;

        if (f->gz && R->o->has_since && gz_last_time(f->fd, &last) == 0 && ts_cmp(&last, &R->o->since) < 0)
                return 0; /* it ends before --since: not even decompressed (dockerd does the same) */
        lr_start(&lr, f->fd, f->gz);
        r = drain(R, &lr);
        lr_done(&lr);
        return r;
}

/* Makes f (a plain current file of the set) the followed one, read from its start. */
static void follow_file(Reader *R, LogFile *f)
{
        if (R->has_cur) {
                lr_done(&R->cur);
                close(R->cur_fd);
        }
        if (R->last_fd >= 0) {
                close(R->last_fd);
                R->last_fd = -EBADF;
        }
        R->has_cur = true;
        R->cur_fd = TAKE_FD(f->fd);
        R->cur_st = f->st;
        lr_start(&R->cur, R->cur_fd, false);
}

/* After reading a set without a current file: its newest file is where we are. */
static void remember_last(Reader *R, LogFile *f, size_t n)
{
        if (n == 0 || f[n - 1].current)
                return;
        if (R->last_fd >= 0)
                close(R->last_fd);
        R->last_fd = TAKE_FD(f[n - 1].fd);
        R->last_gz = f[n - 1].gz;
}

/* The first line of a file, for recognising a file that was compressed under another inode. */
static char *first_line(int fd, bool gz, size_t *ret_len)
{
        LineReader lr;
        const char *line;
        size_t n;
        char *s = NULL;

        lr_start(&lr, fd, gz);
        if (lr_next(&lr, &line, &n) > 0) {
                s = xmalloc(n + 1);
                memcpy(s, line, n);
                s[n] = '\0';
                *ret_len = n;
        }
        lr_done(&lr);
        return s;
}

/* Is f, a gzipped rotated file, the compressed copy of the plain file old_fd? */
static bool gz_is_copy_of(const LogFile *f, int old_fd, const struct stat *old_st)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        unsigned char isize[4];
        size_t na = 0, nb = 0;
        uint32_t sz;

        /* ISIZE, the gzip trailer's uncompressed size mod 2^32, and the first line must match. */
        if (f->st.st_size < 18 || pread(f->fd, isize, 4, f->st.st_size - 4) != 4)
                return false;
        sz = (uint32_t)isize[0] | (uint32_t)isize[1] << 8 | (uint32_t)isize[2] << 16 |
             (uint32_t)isize[3] << 24;
        if (sz != (uint32_t)old_st->st_size)
                return false;
        a = first_line(old_fd, false, &na);
        b = first_line(f->fd, true, &nb);
        return a && b && na == nb && memcmp(a, b, na) == 0;
}

/*
 * The followed file was rotated away.  Finds it in the new set (its inode, or for a compressed copy
 * its size and first line), reads the files that came after it and follows the new current file.  If
 * it is gone altogether (more rotations than files while we slept, or max-file=1), everything there
 * is newer than it.
 */
static int catch_up(Reader *R, bool *switched, Error **err)
{
        int ref = R->has_cur ? R->cur_fd : R->last_fd;
        bool ref_gz = !R->has_cur && R->last_gz;
        LogFile *f = NULL;
        size_t n = 0, from = 0;
        int r;

        r = open_set(R, &f, &n, err);
        if (r < 0)
                return r;
        if (ref >= 0) {
                struct stat st;
                (void)fstat(ref, &st); /* its final size */
                for (size_t i = n; i-- > 0;) {
                        /* Renames keep the inode; only compression makes a new file of a plain one. */
                        bool same = f[i].st.st_dev == st.st_dev && f[i].st.st_ino == st.st_ino;
                        if (!same && f[i].gz && !ref_gz)
                                same = gz_is_copy_of(&f[i], ref, &st);
                        if (same) {
                                from = i + 1;
                                break;
                        }
                }
        }
        for (size_t i = from; i < n && r == 0; i++) {
                if (f[i].current) {
                        follow_file(R, &f[i]);
                        *switched = true;
                } else
                        r = read_file(R, &f[i]);
        }
        if (r == 0 && *switched)
                r = drain(R, &R->cur);
        else if (r == 0 && from < n)
                remember_last(R, f, n);
        files_free(f, n);
        return r;
}

/* Reads what was added to the followed file, and catches up with rotations until there are none. */
static int follow_step(Reader *R, Error **err)
{
        for (;;) {
                struct stat st, now;
                bool switched = false;
                int r;

                if (R->has_cur) {
                        /* Truncated in place (not by us: we replace files) — start over. */
                        if (fstat(R->cur_fd, &now) == 0 && (uint64_t)now.st_size < R->cur.consumed) {
                                lr_done(&R->cur);
                                lr_start(&R->cur, R->cur_fd, false);
                        }
                        r = drain(R, &R->cur);
                        if (r != 0)
                                return r;
                }
                r = fstatat(R->dirfd, R->name, &st, AT_SYMLINK_NOFOLLOW);
                if (r < 0 && errno != ENOENT)
                        return error_set(err, errno, "stat %s", R->name);
                if (r < 0 && !R->has_cur)
                        return 0; /* nothing written yet */
                if (r == 0 && R->has_cur && st.st_dev == R->cur_st.st_dev && st.st_ino == R->cur_st.st_ino)
                        return 0;
                /*
                 * The name is another file's now.  The writer renames only between writes, so what it
                 * wrote to the old file is all there: read it to the end before moving on.
                 */
                if (R->has_cur) {
                        r = drain(R, &R->cur);
                        if (r != 0)
                                return r;
                }
                r = catch_up(R, &switched, err);
                if (r != 0)
                        return r;
                /* No new current file (being replaced, or the log was removed): wait for one. */
                if (!switched)
                        return 0;
        }
}

static int64_t monotonic_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int follow(Reader *R, int ino, Error **err)
{
        const JsonLogReadOpts *o = R->o;
        int64_t asked = INT64_MIN / 2;

        for (;;) {
                bool stopped = false;
                struct timespec now;
                int64_t t = monotonic_ms();
                int r;

                /*
                 * Asked before reading, so that the last read sees everything written before the stop;
                 * and not at every wake-up, which a busy container causes thousands of times a second.
                 */
                if (o->running && t - asked >= FOLLOW_POLL_MS) {
                        asked = t;
                        stopped = !o->running(o->running_ud);
                }
                clock_gettime(CLOCK_REALTIME, &now);
                if (o->has_until && ts_cmp(&now, &o->until) >= 0)
                        stopped = true;
                r = follow_step(R, err);
                if (r != 0)
                        return r;
                if (stopped)
                        return 0;
                if (ino >= 0) {
                        struct pollfd p = { .fd = ino, .events = POLLIN };
                        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                        if (poll(&p, 1, FOLLOW_POLL_MS) > 0)
                                while (read(ino, ev, sizeof(ev)) > 0)
                                        ; /* any event in the directory is a reason to look */
                } else
                        sleep_ms(FOLLOW_POLL_MS / 2);
        }
}

int jsonlog_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
                 Error **err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int ino = -EBADF;
        Reader R = {
                .o = o,
                .fn = fn,
                .ud = ud,
                .dirfd = -EBADF,
                .cur_fd = -EBADF,
                .last_fd = -EBADF,
                .collecting = o->tail >= 0,
                .rotated = max_file < 1 ? 0 : max_file - 1,
        };
        LogFile *f = NULL;
        size_t n = 0;
        int r;

        R.cur = (LineReader){ .fd = -EBADF };
        if (split_path(path, &dir, &R.name) < 0)
                return error_setx(err, EINVAL, "%s: not a file name", path);
        R.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (R.dirfd < 0) {
                r = error_set(err, errno, "opening the log directory %s", dir);
                goto finish;
        }
        if (o->follow) {
                /* Before the first read, so that nothing written after it goes unnoticed. */
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0 && inotify_add_watch(ino, dir,
                                                  IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO |
                                                          IN_DELETE | IN_CLOSE_WRITE) < 0) {
                        close(ino); /* no inotify (limits): polling does it too, only later */
                        ino = -EBADF;
                }
        }
        r = open_set(&R, &f, &n, err);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < n && r == 0; i++) {
                if (f[i].current) {
                        follow_file(&R, &f[i]);
                        r = drain(&R, &R.cur);
                } else
                        r = read_file(&R, &f[i]);
        }
        if (r == 0)
                remember_last(&R, f, n);
        files_free(f, n);
        if (r == 0)
                r = flush_ring(&R);
        if (r == 0 && o->follow)
                r = follow(&R, ino, err);
        if (r < 0 && err && !*err)
                error_set(err, -r, "reading %s", path);
finish:
        ring_free(&R);
        if (R.has_cur) {
                lr_done(&R.cur);
                close(R.cur_fd);
        }
        if (R.last_fd >= 0)
                close(R.last_fd);
        if (R.dirfd >= 0)
                close(R.dirfd);
        free(R.name);
        return r < 0 ? r : 0;
}
