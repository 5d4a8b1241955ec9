/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The json-file log: exact bytes against dockerd 20.10's output, escaping, the 16 KiB splitting of the
 * copier, rotation and compression, and reading (tail, since/until, follow through rotations, damage).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "jsonlog.h"
#include "tap.h"
#include "tmpdir.h"
#include "util.h"

/* The current file of a container of dockerd 20.10 (max-size=10k, max-file=3), verbatim. */
static const char *const sample[] = {
        "{\"log\":\"line 1979 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.0492191Z\"}\n",
        "{\"log\":\"line 1980 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049350925Z\"}\n",
        "{\"log\":\"line 1981 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049353873Z\"}\n",
        "{\"log\":\"line 1982 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049356609Z\"}\n",
        "{\"log\":\"line 1983 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049358872Z\"}\n",
        "{\"log\":\"line 1984 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.04936118Z\"}\n",
        "{\"log\":\"line 1985 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049363775Z\"}\n",
        "{\"log\":\"line 1986 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049366534Z\"}\n",
        "{\"log\":\"line 1987 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049369095Z\"}\n",
        "{\"log\":\"line 1988 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049371417Z\"}\n",
        "{\"log\":\"line 1989 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049373969Z\"}\n",
        "{\"log\":\"line 1990 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049376721Z\"}\n",
        "{\"log\":\"line 1991 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049378747Z\"}\n",
        "{\"log\":\"line 1992 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049381154Z\"}\n",
        "{\"log\":\"line 1993 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049383896Z\"}\n",
        "{\"log\":\"line 1994 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049385859Z\"}\n",
        "{\"log\":\"line 1995 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049388256Z\"}\n",
        "{\"log\":\"line 1996 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049390948Z\"}\n",
        "{\"log\":\"line 1997 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049392822Z\"}\n",
        "{\"log\":\"line 1998 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.049394813Z\"}\n",
        "{\"log\":\"line 1999 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.04939697Z\"}\n",
        "{\"log\":\"no-newline-at-end\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.086599591Z\"}"
        "\n",
};

/* ---- helpers ---- */


static bool exists(const char *dir, const char *name)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        return access(p, F_OK) == 0;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        char *buf = NULL;
        size_t n = 0;
        if (read_file_at(AT_FDCWD, p, 64 << 20, &buf, &n) < 0)
                return NULL;
        if (len)
                *len = n;
        return buf;
}

static void put_file(const char *dir, const char *name, const char *data, size_t len, bool append)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0640);
        if (fd < 0 || write_all(fd, data, len) < 0)
                abort();
        close(fd);
}

static struct timespec at(time_t sec, long nsec)
{
        return (struct timespec){ .tv_sec = sec, .tv_nsec = nsec };
}

/* 2026-11-28T13:01:10Z, the sample's second. */
#define BASE ((time_t)1795870870)

/* Messages collected from the reader or the splitter. */
typedef struct Msg {
        char *stream, *msg;
        size_t len;
        struct timespec ts;
} Msg;

typedef struct Collect {
        Msg *m;
        size_t n;
        atomic_size_t seen; /* n, for a writer thread that paces itself */
        size_t stop_after;  /* return `stop_with` once this many were seen */
        int stop_with;
        size_t sleep_every; /* a slow consumer: sleep 30 ms every this many messages */
} Collect;

static int collect_fn(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        Collect *c = ud;
        Msg *m;

        c->m = xrealloc(c->m, (c->n + 1) * sizeof(*c->m));
        m = &c->m[c->n++];
        m->stream = xstrdup(stream);
        m->msg = xmalloc(len + 1);
        memcpy(m->msg, msg, len);
        m->msg[len] = '\0';
        m->len = len;
        m->ts = *ts;
        atomic_store(&c->seen, c->n);
        if (c->sleep_every && c->n % c->sleep_every == 0) {
                struct timespec d = { 0, 30 * 1000000L };
                nanosleep(&d, NULL);
        }
        if (c->stop_after && c->n >= c->stop_after)
                return c->stop_with;
        return 0;
}

static void collect_free(Collect *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->m[i].stream);
                free(c->m[i].msg);
        }
        free(c->m);
        c->m = NULL;
        c->n = 0;
}

static int read_log(const char *dir, int max_file, const JsonLogReadOpts *o, Collect *c)
{
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        Error *e = NULL;
        int r = jsonlog_read(p, max_file, o, collect_fn, c, &e);
        if (r < 0)
                printf("# jsonlog_read: %s\n", e ? e->msg : "?");
        error_free(e);
        return r;
}

static const JsonLogReadOpts all_opts = { .tail = -1 };

/* Fixed-size messages "m000\n" ... at BASE+i seconds, so every line has the same length. */
static int write_n(JsonLog *l, int from, int to)
{
        for (int i = from; i < to; i++) {
                char m[16];
                struct timespec t = at(BASE + i, 123456789);
                snprintf(m, sizeof(m), "m%03d\n", i);
                if (jsonlog_write(l, "stdout", m, strlen(m), &t, NULL) < 0)
                        return -1;
        }
        return 0;
}

static size_t line_size(void)
{
        char *s;
        size_t n;
        struct timespec t = at(BASE, 123456789);
        if (jsonlog_encode_line("stdout", "m000\n", 5, &t, &s, &n) < 0)
                abort();
        free(s);
        return n;
}

/* The numbers of the "m%03d" messages collected, as "3,4,5". */
static char *numbers(const Collect *c)
{
        char *s = xstrdup("");
        for (size_t i = 0; i < c->n; i++) {
                char *t = xasprintf("%s%s%d", s, i ? "," : "", atoi(c->m[i].msg + 1));
                free(s);
                s = t;
        }
        return s;
}

static char *encode(const char *stream, const char *msg, size_t len, struct timespec t)
{
        char *s = NULL;
        size_t n;
        if (jsonlog_encode_line(stream, msg, len, &t, &s, &n) < 0)
                return NULL;
        return s;
}

/* The "log" value as written: the part between {"log": and ,"stream". */
static char *escaped(const char *msg, size_t len)
{
        _cleanup_free_ char *s = encode("stdout", msg, len, at(BASE, 0));
        char *b, *e;
        if (!s)
                return NULL;
        b = s + strlen("{\"log\":");
        e = strstr(s, ",\"stream\":\"stdout\",\"time\"");
        return e ? xstrndup(b, (size_t)(e - b)) : NULL;
}

/* ---- times ---- */

TEST(format_time)
{
        char buf[RFC3339NANO_MAX];
        _cleanup_free_ char *a = format_rfc3339nano(&(struct timespec){ BASE, 49396970 }, true);
        _cleanup_free_ char *b = format_rfc3339nano(&(struct timespec){ BASE, 49396970 }, false);
        ASSERT_STREQ(a, "2026-11-28T13:01:10.04939697Z");
        ASSERT_STREQ(b, "2026-11-28T13:01:10.049396970Z");
        ASSERT_EQ(format_rfc3339nano_buf(&(struct timespec){ BASE, 0 }, true, buf), 20);
        ASSERT_STREQ(buf, "2026-11-28T13:01:10Z");
        format_rfc3339nano_buf(&(struct timespec){ BASE, 0 }, false, buf);
        ASSERT_STREQ(buf, "2026-11-28T13:01:10.000000000Z");
        format_rfc3339nano_buf(&(struct timespec){ BASE, 100000000 }, true, buf);
        ASSERT_STREQ(buf, "2026-11-28T13:01:10.1Z");
        format_rfc3339nano_buf(&(struct timespec){ 0, 1 }, true, buf);
        ASSERT_STREQ(buf, "1970-01-01T00:00:00.000000001Z");
        format_rfc3339nano_buf(&(struct timespec){ -1, 500000000 }, true, buf);
        ASSERT_STREQ(buf, "1969-12-31T23:59:59.5Z");
        format_rfc3339nano_buf(&(struct timespec){ 951782400, 0 }, true, buf); /* a leap day */
        ASSERT_STREQ(buf, "2000-02-29T00:00:00Z");
        format_rfc3339nano_buf(&(struct timespec){ 253402300799, 999999999 }, true, buf);
        ASSERT_STREQ(buf, "9999-12-31T23:59:59.999999999Z");
        /* Any time_t fits. */
        ASSERT_TRUE(format_rfc3339nano_buf(&(struct timespec){ INT64_MAX, 999999999 }, false, buf) <
                    RFC3339NANO_MAX);
        ASSERT_TRUE(format_rfc3339nano_buf(&(struct timespec){ INT64_MIN, 0 }, false, buf) <
                    RFC3339NANO_MAX);
}

TEST(format_time_agrees_with_gmtime)
{
        /* Every day from 1900 to 2400 in steps, against the C library. */
        for (int64_t t = -2208988800LL; t < 13569465600LL; t += 86400LL * 37 + 3671) {
                char want[64], got[RFC3339NANO_MAX];
                time_t tt = (time_t)t;
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
                format_rfc3339nano_buf(&(struct timespec){ tt, 0 }, true, got);
                if (strcmp(want, got) != 0)
                        TAP_FAIL("%lld: %s != %s", (long long)t, got, want);
        }
}

/* ---- the format, byte for byte ---- */

TEST(sample_lines_reencode_exactly)
{
        /* Every line dockerd wrote parses and is written back identically by us. */
        for (size_t i = 0; i < ELEMENTSOF(sample); i++) {
                _cleanup_free_ char *stream = NULL, *msg = NULL, *again = NULL;
                struct timespec t;
                size_t len;
                ASSERT_OK(jsonlog_parse_line(sample[i], strlen(sample[i]), &stream, &msg, &len, &t));
                ASSERT_STREQ(stream, "stdout");
                again = encode(stream, msg, len, t);
                ASSERT_STREQ(again, sample[i]);
        }
}

TEST(sample_line_fields)
{
        _cleanup_free_ char *stream = NULL, *msg = NULL, *line = NULL;
        struct timespec t;
        size_t len;
        ASSERT_OK(jsonlog_parse_line(sample[20], strlen(sample[20]), &stream, &msg, &len, &t));
        ASSERT_STREQ(msg, "line 1999 out\n");
        ASSERT_EQ(len, 14);
        ASSERT_EQ(t.tv_sec, BASE);
        ASSERT_EQ(t.tv_nsec, 49396970);
        /* From scratch: the monitor's message and time give dockerd's line. */
        line = encode("stdout", "line 1999 out\n", 14, at(BASE, 49396970));
        ASSERT_STREQ(line, "{\"log\":\"line 1999 "
                           "out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.04939697Z\"}\n");
        free(msg);
        free(stream);
        /* The final partial line: no "\n" in "log". */
        ASSERT_OK(jsonlog_parse_line(sample[21], strlen(sample[21]), &stream, &msg, &len, &t));
        ASSERT_STREQ(msg, "no-newline-at-end");
        ASSERT_EQ(t.tv_nsec, 86599591);
}

TEST(escape_html_and_quotes)
{
        _cleanup_free_ char *a = escaped("<a href=\"x\">&amp;</a>", 21);
        _cleanup_free_ char *b = escaped("back\\slash", 10);
        ASSERT_STREQ(a, "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\"");
        ASSERT_STREQ(b, "\"back\\\\slash\"");
}

TEST(escape_control_characters)
{
        /* \n and \r short, everything else below 0x20 as \u00XX -- tab included, as Docker's marshaller
         * (not encoding/json) does; DEL is not escaped. */
        _cleanup_free_ char *a = escaped("\x01\t\n\r\x1b[0m\x1f\x7f", 10);
        _cleanup_free_ char *b = escaped("a\0b", 3);
        ASSERT_STREQ(a, "\"\\u0001\\u0009\\n\\r\\u001b[0m\\u001f\x7f\"");
        ASSERT_STREQ(b, "\"a\\u0000b\"");
}

TEST(escape_line_separators)
{
        _cleanup_free_ char *a = escaped("x\xe2\x80\xa8y\xe2\x80\xa9z\xe2\x80\xaa", 12);
        /* U+2028/2029 escaped, U+202A (next to them) not. */
        ASSERT_STREQ(a, "\"x\\u2028y\\u2029z\xe2\x80\xaa\"");
}

TEST(escape_invalid_utf8)
{
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
                { "\xff", 1, "\"\\ufffd\"" },
                { "\x80", 1, "\"\\ufffd\"" },                       /* lone continuation */
                { "\xc0\x80", 2, "\"\\ufffd\\ufffd\"" },            /* overlong NUL */
                { "\xc1\xbf", 2, "\"\\ufffd\\ufffd\"" },            /* overlong */
                { "\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong 3-byte */
                { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" }, /* a surrogate */
                { "\342\202A", 3, "\"\\ufffd\\ufffdA\"" }, /* cut short (octal: \x82A would be one escape) */
                { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* above U+10FFFF */
                { "\xf5\x80", 2, "\"\\ufffd\\ufffd\"" },
                { "ok\xe2\x82", 4, "\"ok\\ufffd\\ufffd\"" }, /* cut at the end */
                /* Valid sequences are copied, U+FFFD itself and U+10FFFF included. */
                { "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" },
                { "\xef\xbf\xbd\xf4\x8f\xbf\xbf", 7, "\"\xef\xbf\xbd\xf4\x8f\xbf\xbf\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = escaped(cases[i].in, cases[i].len);
                if (!s || strcmp(s, cases[i].out) != 0)
                        TAP_FAIL("case %zu: %s != %s", i, s ? s : "(null)", cases[i].out);
        }
}

TEST(escape_roundtrip_all_bytes)
{
        /* Every byte value; what is valid UTF-8 comes back unchanged, the rest as U+FFFD. */
        char in[256];
        _cleanup_free_ char *line = NULL, *stream = NULL, *msg = NULL;
        struct timespec t;
        size_t len;
        for (int i = 0; i < 256; i++)
                in[i] = (char)i;
        line = encode("stderr", in, 256, at(BASE, 1));
        ASSERT_TRUE(line != NULL);
        ASSERT_OK(jsonlog_parse_line(line, strlen(line), &stream, &msg, &len, &t));
        ASSERT_STREQ(stream, "stderr");
        ASSERT_EQ(len, 128 + 128 * 3);
        ASSERT_TRUE(memcmp(msg, in, 128) == 0);
        for (int i = 128; i < 256; i++)
                ASSERT_TRUE(memcmp(msg + 128 + (i - 128) * 3, "\xef\xbf\xbd", 3) == 0);
}

TEST(empty_fields_left_out)
{
        _cleanup_free_ char *a = encode("stdout", "", 0, at(BASE, 5));
        _cleanup_free_ char *b = encode("", "x", 1, at(BASE, 5));
        _cleanup_free_ char *c = encode("", "", 0, at(BASE, 5));
        _cleanup_free_ char *stream = NULL, *msg = NULL;
        struct timespec t;
        size_t len = 99;
        ASSERT_STREQ(a, "{\"stream\":\"stdout\",\"time\":\"2026-11-28T13:01:10.000000005Z\"}\n");
        ASSERT_STREQ(b, "{\"log\":\"x\",\"time\":\"2026-11-28T13:01:10.000000005Z\"}\n");
        ASSERT_STREQ(c, "{\"time\":\"2026-11-28T13:01:10.000000005Z\"}\n");
        ASSERT_OK(jsonlog_parse_line(c, strlen(c), &stream, &msg, &len, &t));
        ASSERT_STREQ(stream, "");
        ASSERT_STREQ(msg, "");
        ASSERT_EQ(len, 0);
}

TEST(time_outside_years_0_to_9999)
{
        char *s = NULL;
        size_t n;
        Error *e = NULL;
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        JsonLog *l = NULL;
        struct timespec t = at(253402300800, 0);
        ASSERT_EQ(jsonlog_encode_line("stdout", "x", 1, &t, &s, &n), -ERANGE);
        t = at(-62167219201, 0);
        ASSERT_EQ(jsonlog_encode_line("stdout", "x", 1, &t, &s, &n), -ERANGE);
        t = at(-62167219200, 0);
        ASSERT_OK(jsonlog_encode_line("stdout", "x", 1, &t, &s, &n));
        ASSERT_CONTAINS(s, "\"time\":\"0000-01-01T00:00:00Z\"");
        free(s);
        ASSERT_OK(jsonlog_open(p, 0, 1, false, &l, NULL));
        t = at(253402300800, 0);
        ASSERT_EQ(jsonlog_write(l, "stdout", "x", 1, &t, &e), -ERANGE);
        ASSERT_CONTAINS(e->msg, "outside years");
        error_free(e);
        jsonlog_close(l);
        tmpdir_remove(dir);
}

/* ---- parsing ---- */

TEST(parse_rejects_damage)
{
        static const char *const bad[] = {
                "",
                "garbage",
                "{}",
                "[]",
                "\"str\"",
                "{\"log\":\"x\",\"stream\":\"stdout\"}",            /* no time */
                "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":1}", /* time not a string */
                "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"yesterday\"}",
                "{\"log\":\"x\",\"time\":\"2026-13-28T13:01:10Z\"}", /* month 13 */
                "{\"log\":\"x\",\"time\":\"2026-02-29T13:01:10Z\"}", /* not a leap year */
                "{\"log\":\"x\",\"time\":\"2026-11-28T13:01:10\"}",  /* no zone */
                "{\"log\":\"x\",\"time\":\"2026-11-28T13:01Z\"}",    /* no seconds */
                "{\"log\":\"x\",\"time\":\"2026-11-28T13:01:60Z\"}",
                "{\"log\":\"x\",\"time\":\"2026-11-28T13:01:10.Z\"}",
                "{\"log\":5,\"time\":\"2026-11-28T13:01:10Z\"}", /* log not a string */
                "{\"log\":\"x\",\"stream\":[],\"time\":\"2026-11-28T13:01:10Z\"}",
                "{\"log\":\"line 1999 out\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T13:0", /* torn */
                "{\"log\":\"x\",\"time\":\"2026-11-28T13:01:10Z\"} trailing",
                "{\"log\":\"\xff\",\"time\":\"2026-11-28T13:01:10Z\"}",    /* raw invalid UTF-8 */
                "{\"log\":\"\\ud800\",\"time\":\"2026-11-28T13:01:10Z\"}", /* lone surrogate */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *stream = NULL, *msg = NULL;
                struct timespec t;
                size_t len;
                if (jsonlog_parse_line(bad[i], strlen(bad[i]), &stream, &msg, &len, &t) != -EINVAL)
                        TAP_FAIL("accepted: %s", bad[i]);
                ASSERT_TRUE(stream == NULL && msg == NULL);
        }
}

TEST(parse_accepts_variants)
{
        _cleanup_free_ char *stream = NULL, *msg = NULL;
        struct timespec t;
        size_t len;
        /* Any key order, extra keys (attrs), a zone offset, a long fraction (cut to ns), nulls. */
        const char *l1 = "{\"time\":\"2026-11-28T14:01:10.1234567891+01:00\",\"attrs\":{\"a\":\"b\"},"
                         "\"stream\":\"stderr\",\"log\":\"hi\\t\\u00e9\\u0000!\"}";
        const char *l2 = "{\"log\":null,\"stream\":null,\"time\":\"2026-11-28T13:01:10Z\"}";
        ASSERT_OK(jsonlog_parse_line(l1, strlen(l1), &stream, &msg, &len, &t));
        ASSERT_STREQ(stream, "stderr");
        ASSERT_EQ(len, 7);
        ASSERT_TRUE(memcmp(msg, "hi\t\xc3\xa9\0!", 7) == 0);
        ASSERT_EQ(t.tv_sec, BASE);
        ASSERT_EQ(t.tv_nsec, 123456789);
        free(stream);
        free(msg);
        ASSERT_OK(jsonlog_parse_line(l2, strlen(l2), &stream, &msg, &len, &t));
        ASSERT_STREQ(msg, "");
        ASSERT_STREQ(stream, "");
}

TEST(parse_bounds_length)
{
        size_t n = JSONLOG_MAX_LINE + 10;
        _cleanup_free_ char *big = xmalloc(n);
        char *stream = NULL, *msg = NULL;
        struct timespec t = at(BASE, 0);
        size_t len;
        memset(big, ' ', n);
        ASSERT_EQ(jsonlog_parse_line(big, n, &stream, &msg, &len, &t), -E2BIG);
        ASSERT_EQ(jsonlog_encode_line("stdout", big, n, &t, &stream, &len), -E2BIG);
}

/* ---- the splitter ---- */

static int split(Collect *c, LineSplitter *s, const char *data, size_t len, struct timespec t)
{
        return line_splitter_feed(s, data, len, &t, collect_fn, c);
}

TEST(splitter_lines_across_chunks)
{
        Collect c = { 0 };
        LineSplitter s;
        line_splitter_init(&s, "stdout");
        ASSERT_OK(split(&c, &s, "a\nb", 3, at(1, 0)));
        ASSERT_OK(split(&c, &s, "c\n\nd", 4, at(2, 0)));
        ASSERT_EQ(c.n, 3);
        ASSERT_OK(line_splitter_flush(&s, (&(struct timespec){ 3, 0 }), collect_fn, &c));
        ASSERT_EQ(c.n, 4);
        ASSERT_STREQ(c.m[0].msg, "a\n");
        ASSERT_EQ(c.m[0].ts.tv_sec, 1);
        ASSERT_STREQ(c.m[1].msg, "bc\n");
        ASSERT_EQ(c.m[1].ts.tv_sec, 2); /* the time its newline came */
        ASSERT_STREQ(c.m[2].msg, "\n");
        /* At EOF the rest goes without "\n". */
        ASSERT_STREQ(c.m[3].msg, "d");
        ASSERT_EQ(c.m[3].ts.tv_sec, 3);
        ASSERT_STREQ(c.m[3].stream, "stdout");
        /* Nothing pending: a flush passes nothing on. */
        ASSERT_OK(line_splitter_flush(&s, (&(struct timespec){ 4, 0 }), collect_fn, &c));
        ASSERT_EQ(c.n, 4);
        line_splitter_free(&s);
        collect_free(&c);
}

TEST(splitter_16k_boundaries)
{
        _cleanup_free_ char *buf = xmalloc(40000);
        Collect c = { 0 };
        LineSplitter s;
        memset(buf, 'x', 40000);
        line_splitter_init(&s, "stderr");
        /* 16383 bytes and "\n" fit Docker's 16 KiB buffer: one message. */
        ASSERT_OK(split(&c, &s, buf, 16383, at(1, 0)));
        ASSERT_OK(split(&c, &s, "\n", 1, at(1, 0)));
        ASSERT_EQ(c.n, 1);
        ASSERT_EQ(c.m[0].len, 16384);
        ASSERT_EQ(c.m[0].msg[16383], '\n');
        /* 16384 bytes fill it: a partial message of 16384, then the "\n" alone. */
        ASSERT_OK(split(&c, &s, buf, 16384, at(2, 0)));
        ASSERT_EQ(c.n, 2);
        ASSERT_EQ(c.m[1].len, 16384);
        ASSERT_EQ(c.m[1].msg[16383], 'x');
        ASSERT_OK(split(&c, &s, "\n", 1, at(3, 0)));
        ASSERT_EQ(c.n, 3);
        ASSERT_STREQ(c.m[2].msg, "\n");
        ASSERT_EQ(c.m[2].ts.tv_sec, 2); /* the end of a partial line has its first piece's time */
        line_splitter_free(&s);
        collect_free(&c);
}

TEST(splitter_long_line_in_pieces)
{
        _cleanup_free_ char *buf = xmalloc(40001);
        Collect c = { 0 };
        LineSplitter s;
        for (int i = 0; i < 40000; i++)
                buf[i] = (char)('a' + i % 26);
        buf[40000] = '\n';
        line_splitter_init(&s, "stdout");
        /* 1000 bytes at a time, each chunk with its own time. */
        for (int off = 0; off < 40001; off += 1000)
                ASSERT_OK(split(&c, &s, buf + off, (size_t)(40001 - off < 1000 ? 40001 - off : 1000),
                                at(100 + off / 1000, 0)));
        ASSERT_EQ(c.n, 3);
        ASSERT_EQ(c.m[0].len, 16384);
        ASSERT_EQ(c.m[1].len, 16384);
        ASSERT_EQ(c.m[2].len, 40001 - 2 * 16384);
        ASSERT_TRUE(memcmp(c.m[1].msg, buf + 16384, 16384) == 0);
        ASSERT_TRUE(memcmp(c.m[2].msg, buf + 32768, 40001 - 32768) == 0);
        /* The first piece was complete in the 17th chunk (bytes 16000..16999); all carry its time. */
        for (size_t i = 0; i < 3; i++)
                ASSERT_EQ(c.m[i].ts.tv_sec, 116);
        /* The next line has its own time again. */
        ASSERT_OK(split(&c, &s, "next\n", 5, at(500, 0)));
        ASSERT_EQ(c.m[3].ts.tv_sec, 500);
        line_splitter_free(&s);
        collect_free(&c);
}

TEST(splitter_partial_then_eof)
{
        _cleanup_free_ char *buf = xmalloc(20000);
        Collect c = { 0 };
        LineSplitter s;
        memset(buf, 'y', 20000);
        line_splitter_init(&s, "stdout");
        ASSERT_OK(split(&c, &s, buf, 20000, at(7, 0)));
        ASSERT_OK(line_splitter_flush(&s, (&(struct timespec){ 9, 0 }), collect_fn, &c));
        ASSERT_EQ(c.n, 2);
        ASSERT_EQ(c.m[1].len, 20000 - 16384);
        ASSERT_EQ(c.m[1].ts.tv_sec, 7);
        line_splitter_free(&s);
        collect_free(&c);
}

TEST(splitter_goes_on_after_a_failed_write)
{
        Collect c = { .stop_after = 1, .stop_with = -ENOSPC };
        LineSplitter s;
        line_splitter_init(&s, "stdout");
        ASSERT_EQ(split(&c, &s, "a\nb\nc\n", 6, at(1, 0)), -ENOSPC);
        ASSERT_EQ(c.n, 3);
        line_splitter_free(&s);
        collect_free(&c);
}

/* ---- writing and rotation ---- */

TEST(write_file_and_mode)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log"), *data = NULL;
        JsonLog *l = NULL;
        struct stat st;
        mode_t old = umask(077);
        struct timespec t1 = at(BASE, 49396970), t2 = at(BASE, 86599591);
        ASSERT_OK(jsonlog_open(p, 10240, 3, false, &l, NULL));
        umask(old);
        ASSERT_OK(jsonlog_write(l, "stdout", "line 1999 out\n", 14, &t1, NULL));
        ASSERT_OK(jsonlog_write(l, "stdout", "no-newline-at-end", 17, &t2, NULL));
        l = jsonlog_close(l);
        ASSERT_TRUE(l == NULL);
        data = slurp(dir, "c-json.log", NULL);
        ASSERT_TRUE(data != NULL);
        ASSERT_TRUE(strlen(data) == strlen(sample[20]) + strlen(sample[21]));
        ASSERT_TRUE(strncmp(data, sample[20], strlen(sample[20])) == 0);
        ASSERT_STREQ(data + strlen(sample[20]), sample[21]);
        ASSERT_OK(stat(p, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        tmpdir_remove(dir);
}

TEST(write_appends_and_seals_a_torn_line)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        JsonLog *l = NULL;
        Collect c = { 0 };
        ASSERT_OK(jsonlog_open(p, 0, 1, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 2));
        jsonlog_close(l);
        /* A crash in the middle of a line. */
        put_file(dir, "c-json.log", "{\"log\":\"m9", 10, true);
        ASSERT_OK(jsonlog_open(p, 0, 1, false, &l, NULL));
        ASSERT_OK(write_n(l, 2, 4));
        jsonlog_close(l);
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,2,3");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(open_errors)
{
        JsonLog *l = NULL;
        Error *e = NULL;
        ASSERT_EQ(jsonlog_open("/tmp/x-json.log", 100, 0, false, &l, &e), -EINVAL);
        ASSERT_CONTAINS(e->msg, "max-file");
        error_clear(&e);
        ASSERT_EQ(jsonlog_open("/nonexistent-dir/x-json.log", 0, 1, false, &l, &e), -ENOENT);
        error_clear(&e);
        ASSERT_EQ(jsonlog_open("/tmp/", 0, 1, false, &l, &e), -EINVAL);
        error_clear(&e);
        /* A directory in the file's place. */
        ASSERT_EQ(jsonlog_open("/tmp/..", 0, 1, false, &l, &e), -EINVAL);
        error_clear(&e);
}

TEST(rotation_boundary)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log"), *one = NULL, *cur = NULL;
        JsonLog *l = NULL;
        size_t L = line_size(), n1 = 0, n0 = 0;
        /* Exactly three lines fit in max-size 3L: the fourth rotates. */
        ASSERT_OK(jsonlog_open(p, (int64_t)(3 * L), 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 3));
        ASSERT_TRUE(!exists(dir, "c-json.log.1"));
        ASSERT_OK(write_n(l, 3, 4));
        ASSERT_TRUE(exists(dir, "c-json.log.1"));
        one = slurp(dir, "c-json.log.1", &n1);
        cur = slurp(dir, "c-json.log", &n0);
        ASSERT_EQ(n1, 3 * L);
        ASSERT_EQ(n0, L);
        ASSERT_CONTAINS(cur, "m003");
        jsonlog_close(l);
        tmpdir_remove(dir);

        /* One byte less: the third would exceed it, so it goes to a new file. */
        dir = tmpdir_new("jsonlog");
        free(p);
        p = tmpdir_path(dir, "c-json.log");
        ASSERT_OK(jsonlog_open(p, (int64_t)(3 * L - 1), 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 3));
        free(one);
        one = slurp(dir, "c-json.log.1", &n1);
        ASSERT_EQ(n1, 2 * L);
        jsonlog_close(l);
        tmpdir_remove(dir);
}

TEST(rotation_keeps_max_file)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        JsonLog *l = NULL;
        Collect c = { 0 };
        struct stat st;
        ASSERT_OK(jsonlog_open(p, (int64_t)(2 * line_size()), 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 10));
        jsonlog_close(l);
        ASSERT_TRUE(exists(dir, "c-json.log.1") && exists(dir, "c-json.log.2"));
        ASSERT_TRUE(!exists(dir, "c-json.log.3"));
        _cleanup_free_ char *p2 = tmpdir_path(dir, "c-json.log.2");
        ASSERT_OK(stat(p2, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        ASSERT_OK(read_log(dir, 3, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "4,5,6,7,8,9");
        collect_free(&c);
        /* Reopening continues the current file and the rotation. */
        ASSERT_OK(jsonlog_open(p, (int64_t)(2 * line_size()), 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 10, 11));
        jsonlog_close(l);
        ASSERT_OK(read_log(dir, 3, &all_opts, &c));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "6,7,8,9,10");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(huge_max_file_and_gaps)
{
        /* max-file=1000000 costs what the files present cost. */
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log"), *p3 = NULL, *p4 = NULL;
        JsonLog *l = NULL;
        Collect c = { 0 };
        ASSERT_OK(jsonlog_open(p, (int64_t)line_size(), 1000000, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 4));
        ASSERT_TRUE(exists(dir, "c-json.log.3") && !exists(dir, "c-json.log.4"));
        /* A crash mid-rotation, after the oldest moved up (.3 to .4), left a gap: the reader stops at
         * the gap ... */
        p3 = tmpdir_path(dir, "c-json.log.3");
        p4 = tmpdir_path(dir, "c-json.log.4");
        ASSERT_OK(rename(p3, p4));
        ASSERT_OK(read_log(dir, 1000000, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "1,2,3");
        collect_free(&c);
        /* ... and rotations close it up again, keeping the files beyond it. */
        ASSERT_OK(write_n(l, 4, 6));
        jsonlog_close(l);
        ASSERT_OK(read_log(dir, 1000000, &all_opts, &c));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "0,1,2,3,4,5");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(max_file_1_starts_over)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        JsonLog *l = NULL;
        Collect c = { 0 };
        ASSERT_OK(jsonlog_open(p, (int64_t)(2 * line_size()), 1, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 5));
        jsonlog_close(l);
        ASSERT_TRUE(!exists(dir, "c-json.log.1"));
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "4");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(message_larger_than_max_size)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log"), *big = xmalloc(500);
        JsonLog *l = NULL;
        struct timespec t = at(BASE, 1);
        size_t n = 0;
        memset(big, 'B', 500);
        ASSERT_OK(jsonlog_open(p, 100, 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 1));
        ASSERT_OK(jsonlog_write(l, "stdout", big, 500, &t, NULL));
        /* It went alone into a fresh file; the next message rotates again. */
        _cleanup_free_ char *cur = slurp(dir, "c-json.log", &n);
        ASSERT_TRUE(n > 500 && strstr(cur, "m000") == NULL);
        ASSERT_OK(write_n(l, 1, 2));
        _cleanup_free_ char *one = slurp(dir, "c-json.log.1", &n);
        ASSERT_CONTAINS(one, "BBBB");
        jsonlog_close(l);
        tmpdir_remove(dir);
}

/* Decompresses a whole gzip file with libarchive (a reader independent of the module's). */
static char *gunzip(const char *dir, const char *name, size_t *ret_len)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        char *out = NULL;
        size_t len = 0;
        la_ssize_t k;
        archive_read_support_filter_gzip(a);
        archive_read_support_format_raw(a);
        if (archive_read_open_filename(a, p, 4096) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK ||
            archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
                archive_read_free(a);
                return NULL;
        }
        for (;;) {
                out = xrealloc(out, len + 4097);
                k = archive_read_data(a, out + len, 4096);
                if (k <= 0)
                        break;
                len += (size_t)k;
        }
        archive_read_free(a);
        if (k < 0) {
                free(out);
                return NULL;
        }
        out[len] = '\0';
        *ret_len = len;
        return out;
}

static char *compressed_log(void)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        JsonLog *l = NULL;
        if (jsonlog_open(p, (int64_t)(2 * line_size()), 4, true, &l, NULL) < 0 || write_n(l, 0, 8) < 0)
                abort();
        jsonlog_close(l);
        return dir;
}

TEST(compress_all_but_the_newest_rotated)
{
        char *dir = compressed_log();
        _cleanup_free_ char *two = NULL, *raw = NULL, *want = NULL;
        size_t n = 0, rn = 0;
        struct stat st;
        /* cur: 6,7  .1: 4,5 (plain)  .2.gz: 2,3  .3.gz: 0,1 */
        ASSERT_TRUE(exists(dir, "c-json.log.1") && !exists(dir, "c-json.log.1.gz"));
        ASSERT_TRUE(exists(dir, "c-json.log.2.gz") && !exists(dir, "c-json.log.2"));
        ASSERT_TRUE(exists(dir, "c-json.log.3.gz") && !exists(dir, "c-json.log.4.gz"));
        ASSERT_TRUE(!exists(dir, "c-json.log.2.gz.tmp"));
        two = gunzip(dir, "c-json.log.2.gz", &n);
        ASSERT_TRUE(two != NULL);
        _cleanup_free_ char *w2 = encode("stdout", "m002\n", 5, at(BASE + 2, 123456789));
        _cleanup_free_ char *w3 = encode("stdout", "m003\n", 5, at(BASE + 3, 123456789));
        want = xasprintf("%s%s", w2, w3);
        ASSERT_STREQ(two, want);
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log.2.gz");
        ASSERT_OK(stat(p, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        /* dockerd's gzip header: FEXTRA with the time of the file's last message. */
        raw = slurp(dir, "c-json.log.2.gz", &rn);
        ASSERT_TRUE(rn > 12 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b);
        ASSERT_TRUE(raw[3] & 0x04);
        ASSERT_TRUE(strncmp(raw + 12, "{\"lastTime\":\"2026-11-28T13:01:13.123456789Z\"}",
                            (size_t)((unsigned char)raw[10] | (unsigned char)raw[11] << 8)) == 0);
        tmpdir_remove(dir);
}

TEST(read_across_compressed_files)
{
        char *dir = compressed_log();
        Collect c = { 0 };
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,2,3,4,5,6,7");
        ASSERT_EQ(c.m[7].ts.tv_sec, BASE + 7);
        ASSERT_EQ(c.m[7].ts.tv_nsec, 123456789);
        collect_free(&c);
        /* A smaller max_file reads fewer; a larger one finds no more. */
        ASSERT_OK(read_log(dir, 2, &all_opts, &c));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "4,5,6,7");
        collect_free(&c);
        ASSERT_OK(read_log(dir, 100, &all_opts, &c));
        ASSERT_EQ(c.n, 8);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(tail)
{
        char *dir = compressed_log();
        static const struct {
                int64_t tail;
                const char *want;
        } cases[] = {
                { 3, "5,6,7" },
                { 5, "3,4,5,6,7" },
                { 1, "7" },
                { 0, "" },
                { 8, "0,1,2,3,4,5,6,7" },
                { 100, "0,1,2,3,4,5,6,7" },
                { -1, "0,1,2,3,4,5,6,7" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Collect c = { 0 };
                JsonLogReadOpts o = { .tail = cases[i].tail };
                ASSERT_OK(read_log(dir, 4, &o, &c));
                _cleanup_free_ char *got = numbers(&c);
                if (strcmp(got, cases[i].want) != 0)
                        TAP_FAIL("tail %lld: %s != %s", (long long)cases[i].tail, got, cases[i].want);
                collect_free(&c);
        }
        tmpdir_remove(dir);
}

TEST(since_until)
{
        char *dir = compressed_log();
        /* Message i is at BASE+i s +123456789 ns. */
        static const struct {
                bool has_since, has_until;
                time_t since, until;
                long since_ns;
                int64_t tail;
                const char *want;
        } cases[] = {
                { true, false, BASE + 3, 0, 123456789, -1, "3,4,5,6,7" }, /* since is inclusive */
                { true, false, BASE + 3, 0, 123456790, -1, "4,5,6,7" },
                { false, true, 0, BASE + 2, 0, -1, "0,1" },
                { true, true, BASE + 2, BASE + 5, 0, -1, "2,3,4" },
                { true, true, BASE + 2, BASE + 5, 0, 2, "3,4" }, /* tail of what passes */
                { true, false, BASE + 100, 0, 0, -1, "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Collect c = { 0 };
                JsonLogReadOpts o = { .tail = cases[i].tail,
                                      .has_since = cases[i].has_since,
                                      .since = at(cases[i].since, cases[i].since_ns),
                                      .has_until = cases[i].has_until,
                                      .until = at(cases[i].until, 123456789) };
                ASSERT_OK(read_log(dir, 4, &o, &c));
                _cleanup_free_ char *got = numbers(&c);
                if (strcmp(got, cases[i].want) != 0)
                        TAP_FAIL("case %zu: %s != %s", i, got, cases[i].want);
                collect_free(&c);
        }
        tmpdir_remove(dir);
}

TEST(since_skips_compressed_files_by_header)
{
        char *dir = compressed_log();
        _cleanup_free_ char *raw = NULL, *p = tmpdir_path(dir, "c-json.log.2.gz");
        size_t n = 0;
        Collect c = { 0 };
        JsonLogReadOpts o = { .tail = -1, .has_since = true, .since = at(BASE, 0) };
        /* Make .2.gz's header claim it ended in 2000: with --since it is not opened at all (its
         * messages would pass).  The header has no CRC, so this is a valid gzip file still. */
        raw = slurp(dir, "c-json.log.2.gz", &n);
        ASSERT_TRUE(memcmp(raw + 12 + 13, "2026", 4) == 0);
        memcpy(raw + 12 + 13, "2000", 4);
        put_file(dir, "c-json.log.2.gz", raw, n, false);
        ASSERT_OK(read_log(dir, 4, &o, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,4,5,6,7");
        collect_free(&c);
        (void)p;
        tmpdir_remove(dir);
}

TEST(damaged_lines_are_skipped)
{
        char *dir = tmpdir_new("jsonlog");
        _cleanup_free_ char *huge = xmalloc(2 << 20);
        _cleanup_free_ char *l0 = encode("stdout", "m000\n", 5, at(BASE, 0));
        _cleanup_free_ char *l1 = encode("stderr", "m001\n", 5, at(BASE + 1, 0));
        _cleanup_free_ char *l2 = encode("stdout", "m002\n", 5, at(BASE + 2, 0));
        Collect c = { 0 };
        memset(huge, 'x', 2 << 20);
        huge[0] = '{';
        put_file(dir, "c-json.log", l0, strlen(l0), false);
        put_file(dir, "c-json.log", "garbage\n\n{}\n", 12, true);
        put_file(dir, "c-json.log", l1, 30, true); /* torn... */
        put_file(dir, "c-json.log", "\n", 1, true);
        put_file(dir, "c-json.log", huge, 2 << 20, true); /* over the bound */
        put_file(dir, "c-json.log", "\n\x00\xff\xfe\n", 5, true);
        put_file(dir, "c-json.log", l1, strlen(l1), true);
        put_file(dir, "c-json.log", l2, strlen(l2) - 1, true); /* ...and unfinished at the end */
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1");
        ASSERT_STREQ(c.m[1].stream, "stderr");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(damaged_gzip_is_skipped)
{
        char *dir = compressed_log();
        _cleanup_free_ char *raw = NULL;
        size_t n = 0;
        Collect c = { 0 };
        /* .3.gz cut in the middle, .2.gz not gzip at all. */
        raw = slurp(dir, "c-json.log.3.gz", &n);
        put_file(dir, "c-json.log.3.gz", raw, n / 2, false);
        put_file(dir, "c-json.log.2.gz", "\x1f\x8b\x08\x00garbage", 11, false);
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        /* Whatever of .3.gz survived, then .1 and the current file. */
        ASSERT_TRUE(strlen(got) >= 7);
        ASSERT_STREQ(got + strlen(got) - 7, "4,5,6,7");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(callback_stops_or_fails)
{
        char *dir = compressed_log();
        Collect c = { .stop_after = 2, .stop_with = 1 };
        _cleanup_free_ char *p = tmpdir_path(dir, "c-json.log");
        Error *e = NULL;
        JsonLogReadOpts o = { .tail = 3 };
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        ASSERT_EQ(c.n, 2);
        collect_free(&c);
        c.stop_with = -EPIPE;
        ASSERT_EQ(jsonlog_read(p, 4, &o, collect_fn, &c, &e), -EPIPE);
        ASSERT_EQ(c.n, 2);
        ASSERT_TRUE(e != NULL);
        error_free(e);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(missing_log_is_empty)
{
        char *dir = tmpdir_new("jsonlog");
        Collect c = { 0 };
        Error *e = NULL;
        ASSERT_OK(read_log(dir, 3, &all_opts, &c));
        ASSERT_EQ(c.n, 0);
        ASSERT_EQ(jsonlog_read("/nonexistent-dir/c-json.log", 3, &all_opts, collect_fn, &c, &e), -ENOENT);
        error_free(e);
        tmpdir_remove(dir);
}

/* ---- follow ---- */

typedef struct Writer {
        char *path;
        int64_t max_size;
        int max_file;
        bool compress;
        int count;
        Collect *pace; /* if set, stay at most `lead` lines ahead of this reader */
        int lead;
        int delay_start_ms; /* create the file only after this */
        atomic_bool done;
        int errors;
} Writer;

static void sleep_us(long us)
{
        struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
        nanosleep(&d, NULL);
}

static void *writer_main(void *p)
{
        Writer *w = p;
        JsonLog *l = NULL;

        sleep_us(w->delay_start_ms * 1000L);
        if (jsonlog_open(w->path, w->max_size, w->max_file, w->compress, &l, NULL) < 0) {
                w->errors++;
                atomic_store(&w->done, true);
                return NULL;
        }
        for (int i = 0; i < w->count; i++) {
                char m[32];
                while (w->pace && (int)atomic_load(&w->pace->seen) < i - w->lead)
                        sleep_us(100);
                snprintf(m, sizeof(m), "line %05d\n", i);
                if (jsonlog_write(l, i % 3 ? "stdout" : "stderr", m, strlen(m), NULL, NULL) < 0)
                        w->errors++;
                if (!w->pace && i % 20 == 19)
                        sleep_us(1000);
        }
        jsonlog_close(l);
        atomic_store(&w->done, true);
        return NULL;
}

static bool writer_running(void *ud)
{
        Writer *w = ud;
        return !atomic_load(&w->done);
}

/* Follows the log while a writer thread writes w->count lines; every line must come exactly once. */
static int follow_run(Writer *w, Collect *c, int64_t tail, char **why)
{
        pthread_t th;
        JsonLogReadOpts o = { .tail = tail, .follow = true, .running = writer_running, .running_ud = w };
        Error *e = NULL;
        int r;

        if (pthread_create(&th, NULL, writer_main, w) != 0)
                return -1;
        r = jsonlog_read(w->path, w->max_file, &o, collect_fn, c, &e);
        pthread_join(th, NULL);
        if (r < 0) {
                *why = xasprintf("jsonlog_read: %s", e ? e->msg : "?");
                error_free(e);
                return -1;
        }
        if (w->errors) {
                *why = xasprintf("%d write errors", w->errors);
                return -1;
        }
        for (int i = 0; i < w->count && (size_t)i < c->n; i++) {
                char m[32];
                snprintf(m, sizeof(m), "line %05d\n", i);
                if (strcmp(c->m[i].msg, m) != 0 ||
                    strcmp(c->m[i].stream, i % 3 ? "stdout" : "stderr") != 0) {
                        *why = xasprintf("message %d is %.10s", i, c->m[i].msg);
                        return -1;
                }
        }
        if (c->n != (size_t)w->count) {
                *why = xasprintf("%zu messages, not %d", c->n, w->count);
                return -1;
        }
        return 0;
}

TEST(follow_through_rotations)
{
        /* A reader that keeps up (the writer waits for it) loses nothing even with max-file=2. */
        char *dir = tmpdir_new("jsonlog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, "c-json.log"),
                     .max_size = 1000,
                     .max_file = 2,
                     .count = 600,
                     .pace = &c,
                     .lead = 5 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        ASSERT_TRUE(exists(dir, "c-json.log.1"));
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_catches_up_over_compressed_rotations)
{
        /* A slow reader falls many rotations behind; with the files still there it finds its place
         * again, in compressed ones too, and loses and repeats nothing. */
        char *dir = tmpdir_new("jsonlog");
        Collect c = { .sleep_every = 150 };
        Writer w = { .path = tmpdir_path(dir, "c-json.log"),
                     .max_size = 1000,
                     .max_file = 400,
                     .compress = true,
                     .count = 2000 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        ASSERT_TRUE(exists(dir, "c-json.log.2.gz"));
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_max_file_1)
{
        char *dir = tmpdir_new("jsonlog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, "c-json.log"),
                     .max_size = 1000,
                     .max_file = 1,
                     .count = 300,
                     .pace = &c,
                     .lead = 3 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_a_log_that_appears_later)
{
        char *dir = tmpdir_new("jsonlog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, "c-json.log"),
                     .max_size = 0,
                     .max_file = 1,
                     .count = 50,
                     .delay_start_ms = 300 };
        char *why = NULL;
        if (follow_run(&w, &c, 0, &why) < 0)
                TAP_FAIL("%s", why);
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_tail_then_new)
{
        char *dir = compressed_log();
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, "c-json.log"),
                     .max_size = 2 * (int64_t)line_size(),
                     .max_file = 4,
                     .compress = true,
                     .count = 0 };
        JsonLogReadOpts o = { .tail = 2, .follow = true, .running = writer_running, .running_ud = &w };
        atomic_store(&w.done, true);
        /* Stopped already: what is there (its tail), and return. */
        ASSERT_OK(jsonlog_read(w.path, 4, &o, collect_fn, &c, NULL));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "6,7");
        collect_free(&c);
        /* An until in the past ends following too. */
        o.running = NULL;
        o.has_until = true;
        o.until = at(BASE + 7, 0);
        ASSERT_OK(jsonlog_read(w.path, 4, &o, collect_fn, &c, NULL));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "5,6");
        collect_free(&c);
        free(w.path);
        tmpdir_remove(dir);
}

typedef struct RawWriter {
        char *path;
        atomic_bool done;
} RawWriter;

static void *raw_writer_main(void *p)
{
        RawWriter *w = p;
        _cleanup_free_ char *a = encode("stdout", "m000\n", 5, at(BASE, 0));
        _cleanup_free_ char *b = encode("stdout", "m001\n", 5, at(BASE + 1, 0));
        int fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        /* Half a line, a pause (the reader must wait for the rest, not drop it), the rest. */
        (void)write_all(fd, a, 20);
        sleep_us(400 * 1000);
        (void)write_all(fd, a + 20, strlen(a) - 20);
        (void)write_all(fd, b, strlen(b));
        close(fd);
        atomic_store(&w->done, true);
        return NULL;
}

static bool raw_running(void *ud)
{
        return !atomic_load(&((RawWriter *)ud)->done);
}

TEST(follow_waits_for_the_rest_of_a_line)
{
        char *dir = tmpdir_new("jsonlog");
        RawWriter w = { .path = tmpdir_path(dir, "c-json.log") };
        Collect c = { 0 };
        pthread_t th;
        JsonLogReadOpts o = { .tail = -1, .follow = true, .running = raw_running, .running_ud = &w };
        put_file(dir, "c-json.log", "", 0, false);
        ASSERT_EQ(pthread_create(&th, NULL, raw_writer_main, &w), 0);
        ASSERT_OK(jsonlog_read(w.path, 1, &o, collect_fn, &c, NULL));
        pthread_join(th, NULL);
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1");
        collect_free(&c);
        free(w.path);
        tmpdir_remove(dir);
}

/* ---- --since/--until values ---- */

TEST(timestamp_args)
{
        struct timespec now = at(BASE + 30, 700000000), t;
        Error *e = NULL;
        static const struct {
                const char *in;
                time_t sec;
                long nsec;
        } ok[] = {
                { "2026-11-28T13:01:10Z", BASE, 0 },
                { "2026-11-28T13:01:10.5Z", BASE, 500000000 },
                { "2026-11-28T13:01:10.04939697Z", BASE, 49396970 },
                { "2026-11-28T13:01:10.1234567899Z", BASE, 123456789 },
                { "2026-11-28T14:01:10+01:00", BASE, 0 },
                { "2026-11-28T08:31:10-04:30", BASE, 0 },
                { "2026-11-28T13:01Z", BASE - 10, 0 },
                { "2026-11-28T13Z", BASE - 70, 0 },
                { "2026-11-28Z", BASE - 13 * 3600 - 70, 0 },
                { "2026-11-28+01:00", BASE - 14 * 3600 - 70, 0 },
                /* No zone: local time (TZ=UTC here). */
                { "2026-11-28T13:01:10", BASE, 0 },
                { "2026-11-28T13:01:10.25", BASE, 250000000 },
                { "2026-11-28T13:01", BASE - 10, 0 },
                { "2026-11-28", BASE - 13 * 3600 - 70, 0 },
                /* Unix seconds. */
                { "1795871458", 1795871458, 0 },
                { "1795871458.5", 1795871458, 500000000 },
                { "1795871458.000000001", 1795871458, 1 },
                { "0", 0, 0 },
                { "10", 10, 0 },
                /* Durations: now minus them, to the second. */
                { "10m", BASE + 30 - 600, 0 },
                { "1h30m", BASE + 30 - 5400, 0 },
                { "1.5s", BASE + 29, 0 },
                { "0s", BASE + 30, 0 },
                { "-10m", BASE + 30 + 600, 0 },
        };
        static const char *const bad[] = {
                "",
                "yesterday",
                "2026-13-01",
                "2026-02-29",
                "2026-11-28T25:00Z",
                "2026-11-28T13:01:10.Z",
                "2026-11-28 13:01:10",
                "2026-11-28T13:01:10+1",
                "12:00",
                "1795871458.",
                "1.2.3",
                "-5",
                "10x",
        };
        setenv("TZ", "UTC", 1);
        tzset();
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                t = at(-1, -1);
                if (parse_timestamp_arg(ok[i].in, now, &t, &e) < 0)
                        TAP_FAIL("%s: %s", ok[i].in, e->msg);
                if (t.tv_sec != ok[i].sec || t.tv_nsec != ok[i].nsec)
                        TAP_FAIL("%s: %lld.%09ld", ok[i].in, (long long)t.tv_sec, t.tv_nsec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (parse_timestamp_arg(bad[i], now, &t, &e) != -EINVAL)
                        TAP_FAIL("accepted: \"%s\"", bad[i]);
                ASSERT_CONTAINS(e->msg, bad[i]);
                error_clear(&e);
        }
        /* Local time east of UTC ("XXX-2" is UTC+2 in POSIX TZ). */
        setenv("TZ", "XXX-2", 1);
        tzset();
        ASSERT_OK(parse_timestamp_arg("2026-11-28T15:01:10", now, &t, NULL));
        ASSERT_EQ(t.tv_sec, BASE);
        unsetenv("TZ");
        tzset();
}
