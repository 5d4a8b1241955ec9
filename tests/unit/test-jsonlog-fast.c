/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The json-file encoder's fast paths against plain references written here from the rules in
 * jsonlog.h: jsonlog_escape() (blocks of 16 or 8 bytes) against a byte-at-a-time escaper, at every
 * alignment, on every byte value and on random input rich in what needs escaping; the input read and
 * the output written up to guard pages; format_rfc3339nano_buf()'s caches against gmtime_r, across
 * second, day and year boundaries, with times going back and the trim flag changing; and lines
 * encoded straight into the file's buffer across rotations (logfile_entry_buf/logfile_append).
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonlog.h"
#include "logfile.h"
#include "tap.h"
#include "util.h"

/* ---- the reference escaper ---- */

/*
 * Go's utf8.DecodeRune as a reference, formulated from the code point: the length of the sequence at s
 * (n bytes left) when it is valid UTF-8, else 0.
 */
static size_t ref_rune(const unsigned char *s, size_t n, uint32_t *ret)
{
        size_t want;
        uint32_t cp, min;

        if (s[0] >= 0xc0 && s[0] < 0xe0) {
                want = 2;
                cp = s[0] & 0x1f;
                min = 0x80;
        } else if (s[0] >= 0xe0 && s[0] < 0xf0) {
                want = 3;
                cp = s[0] & 0x0f;
                min = 0x800;
        } else if (s[0] >= 0xf0 && s[0] < 0xf8) {
                want = 4;
                cp = s[0] & 0x07;
                min = 0x10000;
        } else
                return 0;
        if (n < want)
                return 0;
        for (size_t k = 1; k < want; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return want;
}

/* Docker's escaping, one byte at a time, into a malloc'd buffer; *ret_len gets the length. */
static char *ref_escape(const unsigned char *s, size_t n, size_t *ret_len)
{
        char *out = xmalloc(n * 6 + 3), *o = out;
        size_t i = 0;

        *o++ = '"';
        while (i < n) {
                unsigned char c = s[i];
                uint32_t cp;
                size_t k;

                if (c == '"' || c == '\\') {
                        *o++ = '\\';
                        *o++ = (char)c;
                        i++;
                } else if (c == '\n') {
                        o += sprintf(o, "\\n");
                        i++;
                } else if (c == '\r') {
                        o += sprintf(o, "\\r");
                        i++;
                } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                        o += sprintf(o, "\\u%04x", c);
                        i++;
                } else if (c < 0x80) {
                        *o++ = (char)c;
                        i++;
                } else if ((k = ref_rune(s + i, n - i, &cp)) == 0) {
                        o += sprintf(o, "\\ufffd");
                        i++;
                } else if (cp == 0x2028 || cp == 0x2029) {
                        o += sprintf(o, "\\u%04x", cp);
                        i += k;
                } else {
                        memcpy(o, s + i, k);
                        o += k;
                        i += k;
                }
        }
        *o++ = '"';
        *ret_len = (size_t)(o - out);
        return out;
}

/* jsonlog_escape() of s against the reference; false (with a diagnostic) when they differ. */
static bool same_escape(const unsigned char *s, size_t n)
{
        _cleanup_free_ char *want = NULL, *got = xmalloc(JSONLOG_ESCAPE_ROOM(n));
        size_t want_len, got_len;

        want = ref_escape(s, n, &want_len);
        got_len = jsonlog_escape(got, (const char *)s, n);
        if (got_len == want_len && memcmp(got, want, want_len) == 0)
                return true;
        printf("# input of %zu bytes:", n);
        for (size_t i = 0; i < n; i++)
                printf(" %02x", s[i]);
        printf("\n# want %.*s\n# got  %.*s\n", (int)want_len, want, (int)got_len, got);
        return false;
}

/* xorshift64*: the tests' input is reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- escaping ---- */

TEST(reference_agrees_with_docker_samples)
{
        /* The reference itself, on what test-jsonlog checks against dockerd's bytes. */
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
                { "<a href=\"x\">&amp;</a>", 21, "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\"" },
                { "\x01\t\n\r\x1b[0m\x1f\x7f", 10, "\"\\u0001\\u0009\\n\\r\\u001b[0m\\u001f\x7f\"" },
                { "x\xe2\x80\xa8y\xe2\x80\xa9z\xe2\x80\xaa", 12, "\"x\\u2028y\\u2029z\xe2\x80\xaa\"" },
                { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },
                { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
                { "ok\xe2\x82", 4, "\"ok\\ufffd\\ufffd\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n;
                _cleanup_free_ char *o = ref_escape((const unsigned char *)cases[i].in, cases[i].len, &n);
                if (n != strlen(cases[i].out) || memcmp(o, cases[i].out, n) != 0)
                        TAP_FAIL("case %zu: %.*s", i, (int)n, o);
        }
}

TEST(every_byte_at_every_offset)
{
        /* Each byte value alone at each offset of clean text, for lengths around the block sizes. */
        static const size_t lens[] = { 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 65 };
        unsigned char s[80];
        for (size_t li = 0; li < ELEMENTSOF(lens); li++) {
                size_t n = lens[li];
                for (size_t at = 0; at < n; at++)
                        for (int b = 0; b < 256; b++) {
                                memset(s, 'a', n);
                                s[at] = (unsigned char)b;
                                if (!same_escape(s, n))
                                        TAP_FAIL("byte %02x at %zu of %zu", b, at, n);
                        }
        }
}

TEST(sequences_across_block_boundaries)
{
        /* Valid and broken UTF-8 sequences, U+2028/9 and the escaped ASCII, starting at every offset of
         * a 48-byte string: a sequence cut by a 16- or 8-byte block edge, or by the end. */
        static const char *const seqs[] = {
                "\xc3\xa9",         "\xe2\x82\xac",     "\xf0\x9f\x98\x80", "\xe2\x80\xa8",     "\xe2\x80\xa9",
                "\xef\xbf\xbd",     "\xf4\x8f\xbf\xbf", "\xc0\x80",         "\xc1\xbf",         "\xe0\x80\xaf",
                "\xed\xa0\x80",     "\xed\x9f\xbf",     "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                "\xe2\x82",         "\xf0\x9f\x98",     "\x80",             "\xbf\xbf",         "\xff\xfe",
                "\"",               "\\",               "<>&",              "\n\r\t",           "\x7f\x1f\x20",
        };
        unsigned char s[48];
        for (size_t q = 0; q < ELEMENTSOF(seqs); q++) {
                size_t k = strlen(seqs[q]);
                for (size_t at = 0; at + k <= sizeof(s); at++)
                        for (size_t n = at + k; n <= sizeof(s); n += (n < at + k + 18 ? 1 : 7)) {
                                memset(s, 'x', sizeof(s));
                                memcpy(s + at, seqs[q], k);
                                if (!same_escape(s, n))
                                        TAP_FAIL("sequence %zu at %zu of %zu", q, at, n);
                        }
        }
}

TEST(random_input)
{
        /* Mixtures of clean runs, escapes, valid sequences and stray bytes, 0 to 300 bytes long. */
        static const char *const pieces[] = {
                "plain text run ", "0123456789abcdefghij", "\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\x01",
                "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xed\xa0\x80",
                "\xc0\xaf", "\xe2\x82", "\x80", "\xff", "\xf4\x90\x80\x80",
        };
        unsigned char s[400];
        for (int iter = 0; iter < 100000; iter++) {
                size_t want = (size_t)(rnd() % 301), n = 0;
                while (n < want) {
                        uint64_t r = rnd();
                        if (r % 4 == 0) {
                                /* any byte */
                                s[n++] = (unsigned char)(r >> 8);
                        } else {
                                const char *p = pieces[(r >> 8) % ELEMENTSOF(pieces)];
                                size_t k = strlen(p);
                                if (n + k > sizeof(s))
                                        break;
                                memcpy(s + n, p, k);
                                n += k;
                        }
                }
                if (!same_escape(s, n))
                        TAP_FAIL("iteration %d", iter);
        }
}

/* n bytes of room that end at a PROT_NONE page; the mapping goes to ret_map and ret_maplen. */
static unsigned char *at_guard(size_t n, void **ret_map, size_t *ret_maplen)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE), len = ((n + page - 1) / page + 1) * page;
        unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                return NULL;
        if (mprotect(m + len - page, page, PROT_NONE) < 0) {
                munmap(m, len);
                return NULL;
        }
        *ret_map = m;
        *ret_maplen = len;
        return m + len - page - n;
}

TEST(no_access_beyond_input_or_room)
{
        /*
         * The input ends at a guard page, and the output has exactly JSONLOG_ESCAPE_ROOM(n) bytes before
         * one: a load past the input or a block stored past the room faults.  Clean input (the widest
         * blocks), input that all takes six bytes (the room filled), and mixtures.
         */
        for (size_t n = 0; n <= 80; n++)
                for (int kind = 0; kind < 4; kind++) {
                        void *im = NULL, *om = NULL;
                        size_t il = 0, ol = 0, got_len, want_len;
                        unsigned char *in = at_guard(n, &im, &il);
                        char *out = (char *)at_guard(JSONLOG_ESCAPE_ROOM(n), &om, &ol);
                        _cleanup_free_ char *want = NULL;

                        ASSERT_TRUE(in && out);
                        for (size_t i = 0; i < n; i++)
                                in[i] = kind == 0 ? (unsigned char)('a' + i % 26) :
                                        kind == 1 ? 0x01 :
                                        kind == 2 ? (i % 17 == 16 ? 0x1b : 'z') :
                                                    (i < n / 2 ? 'q' : 0xff);
                        got_len = jsonlog_escape(out, (const char *)in, n);
                        want = ref_escape(in, n, &want_len);
                        if (got_len != want_len || memcmp(out, want, want_len) != 0)
                                TAP_FAIL("n %zu kind %d", n, kind);
                        if (kind == 1)
                                ASSERT_EQ(got_len, JSONLOG_ESCAPE_ROOM(n));
                        munmap(im, il);
                        munmap(om, ol);
                }
}

/* ---- times ---- */

/* RFC3339Nano as Go formats it, from gmtime_r, without any cache. */
static void ref_time(const struct timespec *ts, bool trim, char *out, size_t size)
{
        struct tm tm;
        time_t t = ts->tv_sec;
        char frac[16] = "";
        int n;

        gmtime_r(&t, &tm);
        if (!trim || ts->tv_nsec != 0) {
                snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
                if (trim) {
                        n = (int)strlen(frac);
                        while (frac[n - 1] == '0')
                                frac[--n] = '\0';
                }
        }
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static bool same_time(time_t sec, long nsec, bool trim)
{
        struct timespec ts = { sec, nsec };
        char got[RFC3339NANO_MAX], want[96];
        size_t n = format_rfc3339nano_buf(&ts, trim, got);

        ref_time(&ts, trim, want, sizeof(want));
        if (n == strlen(want) && strcmp(got, want) == 0)
                return true;
        printf("# %lld.%09ld trim %d: got %s, want %s\n", (long long)sec, nsec, trim, got, want);
        return false;
}

TEST(time_cache_across_boundaries_and_back)
{
        /* 2026-11-28T23:59:59 UTC, the end of 2026, the epoch, and before it. */
        static const time_t bases[] = { 1795910399, 1798761599, 0, -1, 951782399 /* 2000-02-28T23:59:59 */ };
        static const long nsecs[] = { 0, 1, 10, 999999999, 500000000, 49396970, 100000000, 999999990 };
        for (size_t b = 0; b < ELEMENTSOF(bases); b++) {
                /* Forwards over the boundary: the same second many times, then the next. */
                for (time_t s = bases[b] - 1; s <= bases[b] + 2; s++)
                        for (size_t k = 0; k < ELEMENTSOF(nsecs); k++) {
                                ASSERT_TRUE(same_time(s, nsecs[k], true));
                                ASSERT_TRUE(same_time(s, nsecs[k], true)); /* the whole-time cache */
                                ASSERT_TRUE(same_time(s, nsecs[k], false));
                                ASSERT_TRUE(same_time(s, nsecs[k], true)); /* trim changed back */
                        }
                /* Backwards, and alternating between two seconds and two fractions. */
                for (time_t s = bases[b] + 2; s >= bases[b] - 1; s--)
                        for (size_t k = ELEMENTSOF(nsecs); k-- > 0;)
                                ASSERT_TRUE(same_time(s, nsecs[k], k % 2 == 0));
                for (int i = 0; i < 20; i++) {
                        ASSERT_TRUE(same_time(bases[b] + (i % 2), i % 3 ? 5 : 0, true));
                        ASSERT_TRUE(same_time(bases[b] + (i % 2), 5, i % 2 == 0));
                }
        }
        /* Random times in years 0000-9999, each asked twice. */
        for (int i = 0; i < 20000; i++) {
                time_t s = (time_t)(rnd() % (253402300800ULL + 62167219200ULL)) - (time_t)62167219200LL;
                long ns = (long)(rnd() % 1000000000ULL);
                if (i % 5 == 0)
                        ns -= ns % 1000;
                ASSERT_TRUE(same_time(s, ns, i % 3 != 0));
                ASSERT_TRUE(same_time(s, ns, i % 3 != 0));
        }
}

/* ---- lines encoded into the file's buffer ---- */

static char *read_all(const char *path, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        char *b;
        if (fd < 0 || fstat(fd, &st) < 0)
                return NULL;
        b = xmalloc((size_t)st.st_size + 1);
        if (read(fd, b, (size_t)st.st_size) != st.st_size) {
                free(b);
                b = NULL;
        } else
                b[st.st_size] = '\0';
        close(fd);
        *ret_len = (size_t)st.st_size;
        return b;
}

TEST(lines_into_the_buffer_across_rotations)
{
        /*
         * Buffered and not, rotation every few lines: each file holds exactly the lines
         * jsonlog_encode_line() makes, in order, every file within max-size.
         */
        char tmpl[] = "/tmp/test-jsonlog-fast.XXXXXX";
        char *dir = mkdtemp(tmpl);
        ASSERT_TRUE(dir != NULL);
        for (int buffered = 0; buffered < 2; buffered++) {
                _cleanup_free_ char *path = xasprintf("%s/c-json.log", dir);
                _cleanup_free_ char *all = xstrdup(""), *got = NULL;
                JsonLog *l = NULL;
                size_t total = 0;
                int nlines = 2000;
                ASSERT_OK(jsonlog_open(path, 4096, 1000, false, &l, NULL));
                jsonlog_set_buffered(l, buffered);
                for (int i = 0; i < nlines; i++) {
                        struct timespec ts = { 1795871458 + i / 300, (long)(i % 300) * 1000 };
                        char msg[200];
                        int len = snprintf(msg, sizeof(msg), "line %d <%.*s>\n", i, (int)(rnd() % 120),
                                           "\"quoted\" \xc3\xa9 tab\t and more text that runs on and on ................................................................");
                        char *line = NULL;
                        size_t n;
                        ASSERT_OK(jsonlog_encode_line(i % 7 ? "stdout" : "stderr", msg, (size_t)len, &ts, &line, &n));
                        ASSERT_EQ(strlen(line), n);
                        char *joined = xasprintf("%s%s", all, line);
                        free(all);
                        all = joined;
                        total += n;
                        free(line);
                        ASSERT_OK(jsonlog_write(l, i % 7 ? "stdout" : "stderr", msg, (size_t)len, &ts, NULL));
                }
                jsonlog_close(l);
                /* The files, oldest first, are the lines in order, each file at most max-size. */
                Buf cat = { 0 };
                int files = 0;
                for (int k = 999; k >= 0; k--) {
                        _cleanup_free_ char *p = k ? xasprintf("%s.%d", path, k) : xstrdup(path);
                        size_t n;
                        _cleanup_free_ char *b = NULL;
                        if (access(p, F_OK) < 0)
                                continue;
                        b = read_all(p, &n);
                        ASSERT_TRUE(b != NULL);
                        ASSERT_TRUE(n <= 4096);
                        buf_put(&cat, b, n);
                        files++;
                        unlink(p);
                }
                got = buf_cstr(&cat);
                ASSERT_TRUE(files > 10);
                ASSERT_EQ(cat.len, total);
                ASSERT_TRUE(strcmp(got, all) == 0);
                got = NULL;
                buf_free(&cat);
        }
        rmdir(dir);
}

/* ---- the line splitter's zero-copy path ---- */

typedef struct Piece {
        char *msg;
        size_t len;
        struct timespec ts;
} Piece;

typedef struct Pieces {
        Piece *v;
        size_t n, cap;
} Pieces;

static void pieces_add(Pieces *p, const char *msg, size_t len, const struct timespec *ts)
{
        if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 64;
                p->v = xrealloc(p->v, p->cap * sizeof(Piece));
        }
        p->v[p->n].msg = xmalloc(len + 1);
        memcpy(p->v[p->n].msg, msg, len);
        p->v[p->n].len = len;
        p->v[p->n].ts = *ts;
        p->n++;
}

static void pieces_free(Pieces *p)
{
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i].msg);
        free(p->v);
        *p = (Pieces){ 0 };
}

static int collect(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        (void)stream;
        pieces_add(ud, msg, len, ts);
        return 0;
}

/*
 * Docker's copier, byte by byte: "\n" ends a message (included), 16 KiB without one make a piece, and
 * the pieces of a line and its end carry the time of the read that completed its first piece; a whole
 * line the time of the read that ended it; the rest at EOF the EOF's time unless pieces went before.
 */
static void ref_split(const char *in, const size_t *chunk, size_t nchunks, Pieces *out)
{
        _cleanup_free_ char *cur = xmalloc(JSONLOG_PARTIAL_SIZE + 1);
        size_t len = 0, off = 0;
        bool partial = false;
        struct timespec pts = { 0, 0 }, ts = { 0, 0 };

        for (size_t c = 0; c < nchunks; c++) {
                ts = (struct timespec){ 1795871458 + (time_t)c, (long)c };
                for (size_t i = 0; i < chunk[c]; i++, off++) {
                        cur[len++] = in[off];
                        if (in[off] == '\n') {
                                pieces_add(out, cur, len, partial ? &pts : &ts);
                                len = 0;
                                partial = false;
                        } else if (len == JSONLOG_PARTIAL_SIZE) {
                                if (!partial) {
                                        partial = true;
                                        pts = ts;
                                }
                                pieces_add(out, cur, len, &pts);
                                len = 0;
                        }
                }
        }
        ts = (struct timespec){ 1, 1 };
        if (len > 0)
                pieces_add(out, cur, len, partial ? &pts : &ts);
}

TEST(splitter_against_reference)
{
        /* Lines of every kind of length (short, 16383 to 16385, several pieces) in chunks of random
         * sizes, so that lines start and end anywhere in a read. */
        static const size_t lens[] = { 0, 1, 127, 4095, 16382, 16383, 16384, 16385, 32767, 32768, 32769, 40000 };
        for (int iter = 0; iter < 300; iter++) {
                Buf in = { 0 };
                Pieces got = { 0 }, want = { 0 };
                size_t chunks[4096], nchunks = 0, off = 0;
                LineSplitter s;
                int nlines = 1 + (int)(rnd() % 40);

                size_t edges[128], nedges = 0, e = 0;
                for (int l = 0; l < nlines; l++) {
                        size_t n = rnd() % 3 ? rnd() % 200 : lens[rnd() % ELEMENTSOF(lens)];
                        /* Where a piece of this line ends: reads that end there too leave the
                         * splitter empty in the middle of a split line. */
                        for (size_t k = JSONLOG_PARTIAL_SIZE; k <= n && nedges < ELEMENTSOF(edges); k += JSONLOG_PARTIAL_SIZE)
                                edges[nedges++] = in.len + k;
                        buf_reserve(&in, n + 1);
                        for (size_t k = 0; k < n; k++)
                                in.data[in.len++] = (char)('a' + rnd() % 26);
                        if (l < nlines - 1 || rnd() % 2)
                                in.data[in.len++] = '\n';
                }
                while (off < in.len && nchunks < ELEMENTSOF(chunks) - 1) {
                        size_t c = rnd() % 4 == 0 ? 1 + rnd() % 70000 : 1 + rnd() % 700;
                        while (e < nedges && edges[e] <= off)
                                e++;
                        if (e < nedges && rnd() % 2)
                                c = edges[e] - off;
                        if (c > in.len - off)
                                c = in.len - off;
                        chunks[nchunks++] = c;
                        off += c;
                }
                if (off < in.len)
                        chunks[nchunks++] = in.len - off;
                ref_split(in.data, chunks, nchunks, &want);

                line_splitter_init(&s, "stdout");
                off = 0;
                for (size_t c = 0; c < nchunks; c++) {
                        struct timespec ts = { 1795871458 + (time_t)c, (long)c };
                        (void)line_splitter_feed(&s, in.data + off, chunks[c], &ts, collect, &got);
                        off += chunks[c];
                }
                (void)line_splitter_flush(&s, &(struct timespec){ 1, 1 }, collect, &got);
                line_splitter_free(&s);

                if (got.n != want.n)
                        TAP_FAIL("iteration %d: %zu messages, want %zu", iter, got.n, want.n);
                for (size_t i = 0; i < got.n; i++)
                        if (got.v[i].len != want.v[i].len || memcmp(got.v[i].msg, want.v[i].msg, got.v[i].len) != 0 ||
                            got.v[i].ts.tv_sec != want.v[i].ts.tv_sec || got.v[i].ts.tv_nsec != want.v[i].ts.tv_nsec)
                                TAP_FAIL("iteration %d, message %zu: %zu bytes at %lld, want %zu at %lld", iter, i,
                                         got.v[i].len, (long long)got.v[i].ts.tv_sec, want.v[i].len,
                                         (long long)want.v[i].ts.tv_sec);
                pieces_free(&got);
                pieces_free(&want);
                buf_free(&in);
        }
}
