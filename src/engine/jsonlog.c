/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* JSONLOG_NO_SSE2: the portable path on x86 too (test-jsonlog-fast-portable builds it so). */
#if defined(__SSE2__) && !defined(JSONLOG_NO_SSE2)
#define JSONLOG_SSE2 1
#include <emmintrin.h>
#endif

#include "buf.h"
#include "json-util.h"
#include "jsonlog.h"
#include "logfile.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000L
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/*
 * 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.  Go's time.MarshalJSON refuses years outside [0,9999]
 * (RFC 3339 has four-digit years), so dockerd drops such a message, and so do we.
 */
#define MIN_JSON_SEC (-62167219200LL)
#define MAX_JSON_SEC 253402300799LL

#define READ_CHUNK 65536

int timespec_cmp(const struct timespec *a, const struct timespec *b)
{
        if (a->tv_sec != b->tv_sec)
                return a->tv_sec < b->tv_sec ? -1 : 1;
        if (a->tv_nsec != b->tv_nsec)
                return a->tv_nsec < b->tv_nsec ? -1 : 1;
        return 0;
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
        /*
         * Per thread, the last time formatted whole and the date-time of the last second: the monitor
         * stamps every line of one read with the same time, and a log has many lines a second.
         */
        static __thread struct {
                int64_t sec;       /* the second of `date` (INT64_MIN: none yet) */
                char date[32];     /* "YYYY-MM-DDThh:mm:ss" */
                int date_len;
                bool whole;        /* `full` holds the time below */
                int64_t full_sec;
                long full_nsec;
                bool full_trim;
                char full[RFC3339NANO_MAX];
                int full_len;
        } c = { .sec = INT64_MIN };
        int64_t sec = ts->tv_sec;
        long nsec = ts->tv_nsec;
        int n;

        if (nsec < 0 || nsec >= NSEC_PER_SEC)
                nsec = nsec < 0 ? 0 : NSEC_PER_SEC - 1;
        if (c.whole && c.full_sec == sec && c.full_nsec == nsec && c.full_trim == trim) {
                memcpy(buf, c.full, RFC3339NANO_MAX); /* a fixed size: a few moves, no call */
                return (size_t)c.full_len;
        }
        if (sec != c.sec) {
                int64_t days = sec / 86400, rem = sec % 86400, y;
                int m, d;
                if (rem < 0) {
                        rem += 86400;
                        days--;
                }
                civil_from_days(days, &y, &m, &d);
                c.date_len = snprintf(c.date, sizeof(c.date), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
                                      (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
                c.sec = sec;
        }
        memcpy(buf, c.date, (size_t)c.date_len);
        n = c.date_len;
        if (!trim || nsec != 0) {
                char frac[10];
                int k = 10;
                long f = nsec;
                frac[0] = '.';
                for (int i = 9; i >= 1; i--, f /= 10)
                        frac[i] = (char)('0' + f % 10);
                /* Go's ".999999999" layout: trailing zeros go, and with them the dot on a whole second. */
                while (trim && frac[k - 1] == '0')
                        k--;
                memcpy(buf + n, frac, (size_t)k);
                n += k;
        }
        buf[n++] = 'Z';
        buf[n] = '\0';
        memcpy(c.full, buf, (size_t)n + 1);
        c.full_len = n;
        c.full_sec = sec;
        c.full_nsec = nsec;
        c.full_trim = trim;
        c.whole = true;
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

int parse_rfc3339nano(const char *s, size_t n, struct timespec *ret)
{
        return parse_datetime(s, n, true, 0, ret);
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

/* ASCII bytes copied as they are: printable, and not \\ " < > & (docker's writer escapes those). */
static const bool passes[256] = {
        [0x20] = 1, [0x21] = 1, [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x27 ... 0x3b] = 1, [0x3d] = 1,
        [0x3f ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/*
 * Which bytes of a block need more than a copy: below 0x20, from 0x80 (UTF-8 to check), and " & < > \.
 * Two pairs share one test each: " (0x22) and & (0x26) are the bytes with b|4 == 0x26, < (0x3c) and
 * > (0x3e) those with b|2 == 0x3e.
 */
#ifdef JSONLOG_SSE2
static inline unsigned special16(__m128i v)
{
        /* Signed: bytes from 0x80 are negative, so "< 0x20" takes them too. */
        __m128i m = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(4)), _mm_set1_epi8(0x26)));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(2)), _mm_set1_epi8(0x3e)));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        return (unsigned)_mm_movemask_epi8(m);
}
#else
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Whether any byte of w is zero: exact as a yes/no (the per-byte flags are not, which is not used). */
static inline uint64_t has_zero8(uint64_t w)
{
        return (w - ONES) & ~w & HIGHS;
}
static inline bool special8(uint64_t w)
{
        uint64_t below = (w - ONES * 0x20) & ~w & HIGHS; /* a byte < 0x20 (bytes >= 0x80 aside) */
        return (below | (w & HIGHS) | has_zero8((w | ONES * 4) ^ (ONES * 0x26)) |
                has_zero8((w | ONES * 2) ^ (ONES * 0x3e)) | has_zero8(w ^ (ONES * '\\'))) != 0;
}
#endif

size_t jsonlog_escape(char *out, const char *str, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *)str;
        char *o = out;
        size_t i = 0;

        *o++ = '"';
        for (;;) {
                /*
                 * Runs of bytes that are copied as they are, a block at a time.  A block is stored before
                 * it is tested and o moves over its clean prefix only: the store stays within the room,
                 * since the >= 16 input bytes left could each take six.  No load reads past str + n.
                 */
#ifdef JSONLOG_SSE2
                while (n - i >= 32) {
                        /* Two blocks a turn: one test and branch for 32 bytes of a long clean run. */
                        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
                        unsigned m;

                        _mm_storeu_si128((__m128i *)(void *)o, v0);
                        _mm_storeu_si128((__m128i *)(void *)(o + 16), v1);
                        m = special16(v0) | special16(v1) << 16;
                        if (m) {
                                unsigned k = (unsigned)__builtin_ctz(m);
                                i += k;
                                o += k;
                                goto special;
                        }
                        i += 32;
                        o += 32;
                }
                while (n - i >= 16) {
                        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                        unsigned m;

                        _mm_storeu_si128((__m128i *)(void *)o, v);
                        m = special16(v);
                        if (m) {
                                unsigned k = (unsigned)__builtin_ctz(m);
                                i += k;
                                o += k;
                                break;
                        }
                        i += 16;
                        o += 16;
                }
#else
                while (n - i >= 8) {
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        if (special8(w))
                                break;
                        memcpy(o, &w, 8);
                        i += 8;
                        o += 8;
                }
#endif
                while (i < n && passes[s[i]])
                        *o++ = (char)s[i++];
                if (i == n)
                        break;
#ifdef JSONLOG_SSE2
        special:;
#endif
                unsigned char c = s[i];
                if (c < 0x80) {
                        *o++ = '\\';
                        if (c == '\\' || c == '"')
                                *o++ = (char)c;
                        else if (c == '\n')
                                *o++ = 'n';
                        else if (c == '\r')
                                *o++ = 'r';
                        else {
                                /* < > & and the other controls, tab too: Docker's writer has no case for
                                 * it, unlike encoding/json. */
                                memcpy(o, "u00", 3);
                                o += 3;
                                *o++ = hex[c >> 4];
                                *o++ = hex[c & 0xf];
                        }
                        i++;
                        continue;
                }
                uint32_t cp = 0;
                size_t k = utf8_valid(s + i, n - i, &cp);
                if (k == 0) {
                        memcpy(o, "\\ufffd", 6);
                        o += 6;
                        i++;
                } else if (cp == 0x2028 || cp == 0x2029) {
                        /* JavaScript line terminators, escaped so the output is also valid JS
                         * (encoding/json). */
                        memcpy(o, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
                        o += 6;
                        i += k;
                } else {
                        memcpy(o, s + i, k);
                        o += k;
                        i += k;
                }
        }
        *o++ = '"';
        return (size_t)(o - out);
}

/* A JSON string as moby's ffjsonWriteJSONBytesAsString writes it (see jsonlog.h for the rules). */
static void put_json_string(Buf *b, const char *str, size_t n)
{
        buf_reserve(b, JSONLOG_ESCAPE_ROOM(n));
        b->len += jsonlog_escape(b->data + b->len, str, n);
}

static int cmp_strp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What encode_line() may write for a message of len bytes, on top of JSONLOG_ESCAPE_ROOM(len). */
static size_t line_room(size_t len, size_t stream_len, size_t attrs_len)
{
        /* {"log": ,"stream": ,"attrs": ,"time":"...Z"}\n */
        return JSONLOG_ESCAPE_ROOM(len) + JSONLOG_ESCAPE_ROOM(stream_len) + attrs_len + RFC3339NANO_MAX + 48;
}

/* The checks encode_line() needs first: 0, -ERANGE (the time) or -E2BIG (the message). */
static int check_line(size_t len, size_t stream_len, const struct timespec *ts)
{
        if (ts->tv_sec < MIN_JSON_SEC || ts->tv_sec > MAX_JSON_SEC || ts->tv_nsec < 0 ||
            ts->tv_nsec >= NSEC_PER_SEC)
                return -ERANGE;
        /* Bounded before encoding, so that a huge message never becomes a six times huger buffer. */
        if (len > JSONLOG_MAX_LINE || stream_len > JSONLOG_MAX_LINE)
                return -E2BIG;
        return 0;
}

#define PUT_LIT(o, s)                                                                                       \
        do {                                                                                                \
                memcpy((o), (s), sizeof(s) - 1);                                                            \
                (o) += sizeof(s) - 1;                                                                       \
        } while (0)

/*
 * One line, "\n" included, at out (line_room() bytes, after check_line()); returns its length.  attrs is
 * the "attrs" object as JSON text (attrs_len bytes) or NULL.
 */
static size_t encode_line(char *out, const char *stream, size_t stream_len, const char *msg, size_t len,
                          const struct timespec *ts, const char *attrs, size_t attrs_len)
{
        char *o = out;
        bool first = true;

        *o++ = '{';
        /* MarshalJSONBuf leaves out an empty log and an empty stream ("omitempty"). */
        if (len > 0) {
                PUT_LIT(o, "\"log\":");
                o += jsonlog_escape(o, msg, len);
                first = false;
        }
        if (stream_len > 0) {
                if (first)
                        PUT_LIT(o, "\"stream\":");
                else
                        PUT_LIT(o, ",\"stream\":");
                /* The monitor's two names need no escaping. */
                if (stream_len == 6 && (memcmp(stream, "stdout", 6) == 0 || memcmp(stream, "stderr", 6) == 0)) {
                        *o++ = '"';
                        memcpy(o, stream, 6);
                        o += 6;
                        *o++ = '"';
                } else
                        o += jsonlog_escape(o, stream, stream_len);
                first = false;
        }
        if (attrs_len > 0) {
                if (first)
                        PUT_LIT(o, "\"attrs\":");
                else
                        PUT_LIT(o, ",\"attrs\":");
                memcpy(o, attrs, attrs_len);
                o += attrs_len;
                first = false;
        }
        if (first)
                PUT_LIT(o, "\"time\":\"");
        else
                PUT_LIT(o, ",\"time\":\"");
        o += format_rfc3339nano_buf(ts, true, o);
        PUT_LIT(o, "\"}\n");
        return (size_t)(o - out);
}

int jsonlog_encode_line(const char *stream, const char *msg, size_t len, const struct timespec *ts,
                        char **ret, size_t *ret_len)
{
        size_t stream_len = strlen(stream), n;
        char *b;
        int r;

        r = check_line(len, stream_len, ts);
        if (r < 0)
                return r;
        b = xmalloc(line_room(len, stream_len, 0) + 1);
        n = encode_line(b, stream, stream_len, msg, len, ts, NULL, 0);
        if (n - 1 > JSONLOG_MAX_LINE) {
                free(b);
                return -E2BIG;
        }
        b[n] = '\0';
        *ret = b;
        *ret_len = n;
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

                if (nl && s->len == 0 && !s->partial && take < JSONLOG_PARTIAL_SIZE) {
                        /* A whole line in buf, the usual case: passed on from there, not copied. */
                        r = fn(ud, s->stream, buf, take + 1, ts);
                        if (r < 0 && ret == 0)
                                ret = r;
                        buf += take + 1;
                        len -= take + 1;
                        continue;
                }
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

/* ---- the writer ---- */

struct JsonLog {
        LogFile *file; /* the rotating set (logfile.h) */
        char *attrs;   /* the "attrs" object as JSON text, or NULL */
        size_t attrs_len;
};

/*
 * A file that does not end in "\n" was torn by a crash mid-write.  Ending the torn line keeps the
 * damage to that line: otherwise our first line would be glued to it and be lost too.
 */
static int repair_end(int fd, int64_t *size, const char *path, Error **err)
{
        char last;

        if (*size > 0 && pread(fd, &last, 1, *size - 1) == 1 && last != '\n') {
                int r = write_all(fd, "\n", 1);
                if (r < 0)
                        return error_set(err, -r, "writing to %s", path);
                (*size)++;
        }
        return 0;
}

static int file_last_time(int fd, uint64_t size, struct timespec *ret);

static const LogFileFormat json_format = {
        .repair_end = repair_end,
        .last_time = file_last_time,
};

int jsonlog_open(const char *path, int64_t max_size, int max_file, bool compress, JsonLog **ret, Error **err)
{
        _cleanup_(jsonlog_closep) JsonLog *l = NULL;
        int r;

        l = xcalloc(1, sizeof(*l));
        r = logfile_open(path, max_size, max_file, compress, &json_format, &l->file, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

JsonLog *jsonlog_close(JsonLog *l)
{
        if (!l)
                return NULL;
        logfile_close(l->file);
        free(l->attrs);
        free(l);
        return NULL;
}

void jsonlog_set_attrs(JsonLog *l, json_t *attrs)
{
        free(l->attrs);
        l->attrs = NULL;
        l->attrs_len = 0;
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
                l->attrs_len = b.len;
                l->attrs = buf_cstr(&b);
                free(keys);
        }
}

/*
 * The time of the last message in a log file, for the gzip header.  The tail is read: the last 64 KiB
 * hold the last line unless it is unusually long, then up to JSONLOG_MAX_LINE.
 */
static int file_last_time(int fd, uint64_t usize, struct timespec *ret)
{
        off_t size = (off_t)usize;
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

/* strlen(), without a call per line for the monitor's two names. */
static size_t stream_length(const char *s)
{
        if (s[0] == 's' && s[1] == 't' && s[2] == 'd' &&
            ((s[3] == 'o' && s[4] == 'u' && s[5] == 't') || (s[3] == 'e' && s[4] == 'r' && s[5] == 'r')) && !s[6])
                return 6;
        return strlen(s);
}

int jsonlog_write(JsonLog *l, const char *stream, const char *msg, size_t len, const struct timespec *ts,
                  Error **err)
{
        struct timespec now;
        size_t stream_len = stream_length(stream), n;
        char *o;
        int r;

        if (!ts) {
                clock_gettime(CLOCK_REALTIME, &now);
                ts = &now;
        }
        r = check_line(len, stream_len, ts);
        if (r == -ERANGE)
                return error_setx(err, ERANGE, "log message time %lld is outside years 0000-9999",
                                  (long long)ts->tv_sec);
        if (r < 0)
                return error_setx(err, E2BIG, "log message of %zu bytes is too long", len);
        /* Encoded straight into the file's write buffer: no copy per line. */
        o = logfile_entry_buf(l->file, line_room(len, stream_len, l->attrs_len));
        n = encode_line(o, stream, stream_len, msg, len, ts, l->attrs, l->attrs_len);
        if (n - 1 > JSONLOG_MAX_LINE)
                return error_setx(err, E2BIG, "log message of %zu bytes is too long", len);
        return logfile_append(l->file, n, err);
}

int jsonlog_flush(JsonLog *l, Error **err)
{
        return l ? logfile_flush(l->file, err) : 0;
}

void jsonlog_set_buffered(JsonLog *l, bool on)
{
        logfile_set_buffered(l->file, on);
}

/* ---- the reader ---- */

/* Lines of a plain or gzipped file; keeps an unfinished last line for when more arrives (follow). */
typedef struct LineReader {
        LogFileIn in;
        bool skipping; /* inside an over-long line, dropped up to its newline */
} LineReader;

static void lr_done(LineReader *r)
{
        logfile_in_done(&r->in);
        r->skipping = false;
}

/* Starts reading fd (not owned) from its beginning; lr_done() first if r was in use. */
static void lr_start(LineReader *r, int fd, bool gz)
{
        logfile_in_start(&r->in, fd, gz, 0);
        r->skipping = false;
}

/* 1 and a line (without "\n", valid until the next call), 0 when no complete line is there, -errno. */
static int lr_next(LineReader *r, const char **line, size_t *n)
{
        LogFileIn *in = &r->in;

        for (;;) {
                char *p = in->buf + in->start;
                char *nl = in->len > in->start ? memchr(p, '\n', in->len - in->start) : NULL;
                ssize_t k;

                if (nl) {
                        in->start += (size_t)(nl - p) + 1;
                        if (r->skipping) {
                                r->skipping = false;
                                continue;
                        }
                        *line = p;
                        *n = (size_t)(nl - p);
                        return 1;
                }
                if (r->skipping || in->len - in->start > JSONLOG_MAX_LINE) {
                        /* Beyond the bound no line of ours goes: damage, dropped without buffering it. */
                        r->skipping = true;
                        in->start = in->len = 0;
                }
                k = logfile_in_more(in);
                if (k <= 0)
                        return (int)k;
        }
}

typedef struct TailEntry {
        char *stream, *msg;
        size_t len;
        struct timespec ts;
} TailEntry;

typedef struct Reader {
        const JsonLogReadOpts *o;
        jsonlog_msg_fn fn;
        void *ud;
        /* The tail ring, while the existing messages are read. */
        bool collecting;
        TailEntry *ring;
        size_t ring_len, ring_cap, ring_head;
        /* The followed current file (logfile.c owns its fd). */
        LineReader cur;
} Reader;

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
        if (o->has_since && timespec_cmp(&ts, &o->since) < 0)
                return 0;
        if (o->has_until && timespec_cmp(&ts, &o->until) >= 0)
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

/* Reads a whole rotated file of the set. */
static int read_file(void *ud, const LogFilePart *f)
{
        Reader *R = ud;
        LineReader lr;
        int r;

        if (logfile_gz_ends_before_since(f, R->o))
                return 0; /* it ends before --since: not even decompressed (dockerd does the same) */
        lr_start(&lr, f->fd, f->gz);
        r = drain(R, &lr);
        lr_done(&lr);
        return r;
}

/* fd is the current file now, read from its start. */
static void follow_file(void *ud, int fd, uint64_t start)
{
        Reader *R = ud;

        lr_done(&R->cur);
        lr_start(&R->cur, fd, false);
}

/* What was added to the followed file. */
static int drain_current(void *ud, bool final)
{
        Reader *R = ud;
        struct stat now;

        /* Truncated in place (not by us: we replace files) — start over. */
        if (!final && fstat(R->cur.in.fd, &now) == 0 && (uint64_t)now.st_size < R->cur.in.consumed) {
                int fd = R->cur.in.fd;
                lr_done(&R->cur);
                lr_start(&R->cur, fd, false);
        }
        return drain(R, &R->cur);
}

static int existing_done(void *ud)
{
        return flush_ring(ud);
}

/* The first line of a file, for recognising a file that was compressed under another inode. */
static void *first_line(int fd, bool gz, size_t *ret_len)
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

static const LogFileReader json_reader = {
        .read_file = read_file,
        .follow = follow_file,
        .drain = drain_current,
        .existing_done = existing_done,
        .first_entry = first_line,
};

int jsonlog_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
                 Error **err)
{
        Reader R = {
                .o = o,
                .fn = fn,
                .ud = ud,
                .collecting = o->tail >= 0,
                .cur = { .in = { .fd = -EBADF } },
        };
        int r;

        r = logfile_read(path, max_file, o, &json_reader, &R, err);
        ring_free(&R);
        lr_done(&R.cur);
        return r;
}
