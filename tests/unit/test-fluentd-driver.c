/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fluentd driver: the msgpack encoder's bytes at every boundary between two forms, the reader, the
 * event docker's driver sends (golden bytes), chunk ids, acks, the retry schedule and the options; then
 * the driver itself (log_driver_fluentd) against tests/helpers/fluentd-receiver.py, a strict forward
 * input that decodes with Debian's python3-msgpack: TCP and unix sockets, sub-second times, acks (a
 * wrong one too), a server that closes the connection after each event, a server that is not there
 * at start in async mode, a full async buffer, and losses reported by flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logdriver-fluentd.h"
#include "msgpack.h"
#include "tap.h"
#include "util.h"

#ifndef FLUENTD_RECEIVER
#define FLUENTD_RECEIVER "tests/helpers/fluentd-receiver.py"
#endif
#define PYTHON "/usr/bin/python3" /* Debian's, with python3-msgpack */

static const char ID[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char PID[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
static char tmpdir[] = "/tmp/test-fluentd-XXXXXX";

__attribute__((constructor)) static void setup(void)
{
        signal(SIGPIPE, SIG_DFL); /* a write to a closed peer must not kill us */
        alarm(300);               /* a hang is a failure */
        if (!mkdtemp(tmpdir))
                abort();
}

/* Receivers still running when the program ends (a test that failed half-way) are stopped here. */
static pid_t running[64];

__attribute__((destructor)) static void teardown(void)
{
        char cmd[128];

        for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
                if (running[i] > 0) {
                        kill(running[i], SIGKILL);
                        waitpid(running[i], NULL, 0);
                }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

/* ================================================================ helpers */

static char *hex(const uint8_t *p, size_t n)
{
        char *s = xmalloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
                snprintf(s + 2 * i, 3, "%02x", p[i]);
        s[2 * n] = '\0';
        return s;
}

/* The encoder's output as hex, for ASSERT_STREQ against the expected bytes. */
static char *take_hex(MpBuf *b)
{
        char *s = hex(b->data, b->len);
        b->len = 0;
        return s;
}

/* The hex of a header followed by n copies of byte x, to compare long payloads. */
static char *hdr_fill(const char *header_hex, size_t n, uint8_t x)
{
        size_t hl = strlen(header_hex);
        char *s = xmalloc(hl + 2 * n + 1);
        memcpy(s, header_hex, hl);
        for (size_t i = 0; i < n; i++)
                snprintf(s + hl + 2 * i, 3, "%02x", x);
        s[hl + 2 * n] = '\0';
        return s;
}

static int64_t mono_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
        struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&t, NULL);
}

/* ================================================================ the encoder */

TEST(encode_nil_bool)
{
        MpBuf b = { 0 };
        _cleanup_free_ char *s = NULL;

        mp_nil(&b);
        mp_bool(&b, false);
        mp_bool(&b, true);
        s = take_hex(&b);
        ASSERT_STREQ(s, "c0c2c3");
        mp_buf_free(&b);
}

TEST(encode_uint_boundaries)
{
        static const struct {
                uint64_t v;
                const char *hex;
        } cases[] = {
                { 0, "00" },
                { 1, "01" },
                { 127, "7f" },
                { 128, "cc80" },
                { 255, "ccff" },
                { 256, "cd0100" },
                { 65535, "cdffff" },
                { 65536, "ce00010000" },
                { 4294967295u, "ceffffffff" },
                { 4294967296ull, "cf0000000100000000" },
                { UINT64_MAX, "cfffffffffffffffff" },
        };
        MpBuf b = { 0 };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                mp_uint(&b, cases[i].v);
                s = take_hex(&b);
                ASSERT_STREQ(s, cases[i].hex);
        }
        mp_buf_free(&b);
}

TEST(encode_int_boundaries)
{
        static const struct {
                int64_t v;
                const char *hex;
        } cases[] = {
                { 0, "00" },
                { 127, "7f" },
                { 128, "cc80" }, /* non-negative: the unsigned forms */
                { 1700000000, "ce6553f100" },
                { -1, "ff" },
                { -32, "e0" },
                { -33, "d0df" },
                { -128, "d080" },
                { -129, "d1ff7f" },
                { -32768, "d18000" },
                { -32769, "d2ffff7fff" },
                { INT32_MIN, "d280000000" },
                { (int64_t)INT32_MIN - 1, "d3ffffffff7fffffff" },
                { INT64_MIN, "d38000000000000000" },
                { INT64_MAX, "cf7fffffffffffffff" },
        };
        MpBuf b = { 0 };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                mp_int(&b, cases[i].v);
                s = take_hex(&b);
                ASSERT_STREQ(s, cases[i].hex);
        }
        mp_buf_free(&b);
}

TEST(encode_str_bin_boundaries)
{
        static const struct {
                bool bin;
                size_t n;
                const char *header;
        } cases[] = {
                { false, 0, "a0" },       { false, 1, "a1" },         { false, 31, "bf" },
                { false, 32, "d920" },    { false, 255, "d9ff" },     { false, 256, "da0100" },
                { false, 65535, "daffff" }, { false, 65536, "db00010000" }, { true, 0, "c400" },
                { true, 255, "c4ff" },    { true, 256, "c50100" },    { true, 65535, "c5ffff" },
                { true, 65536, "c600010000" },
        };
        MpBuf b = { 0 };
        char *payload = xmalloc(65536);

        memset(payload, 'x', 65536);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL, *want = NULL;
                if (cases[i].bin)
                        mp_bin(&b, payload, cases[i].n);
                else
                        mp_str(&b, payload, cases[i].n);
                s = take_hex(&b);
                want = hdr_fill(cases[i].header, cases[i].n, 'x');
                if (strcmp(s, want) != 0) {
                        free(payload);
                        TAP_FAIL("%s of %zu bytes: header %.12s..., want %s", cases[i].bin ? "bin" : "str", cases[i].n,
                                 s, cases[i].header);
                }
        }
        free(payload);
        mp_cstr(&b, "hi");
        {
                _cleanup_free_ char *s = take_hex(&b);
                ASSERT_STREQ(s, "a26869");
        }
        mp_buf_free(&b);
}

TEST(encode_array_map_boundaries)
{
        static const struct {
                bool map;
                size_t n;
                const char *hex;
        } cases[] = {
                { false, 0, "90" },     { false, 15, "9f" },         { false, 16, "dc0010" },
                { false, 65535, "dcffff" }, { false, 65536, "dd00010000" }, { false, UINT32_MAX, "ddffffffff" },
                { true, 0, "80" },      { true, 15, "8f" },          { true, 16, "de0010" },
                { true, 65535, "deffff" }, { true, 65536, "df00010000" },
        };
        MpBuf b = { 0 };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                if (cases[i].map)
                        mp_map(&b, cases[i].n);
                else
                        mp_array(&b, cases[i].n);
                s = take_hex(&b);
                ASSERT_STREQ(s, cases[i].hex);
        }
        mp_buf_free(&b);
}

TEST(encode_ext_boundaries)
{
        static const struct {
                size_t n;
                const char *header;
        } cases[] = {
                { 0, "c70005" },     { 1, "d405" },          { 2, "d505" },        { 3, "c70305" },
                { 4, "d605" },       { 8, "d705" },          { 16, "d805" },       { 17, "c71105" },
                { 255, "c7ff05" },   { 256, "c8010005" },    { 65535, "c8ffff05" }, { 65536, "c90001000005" },
        };
        MpBuf b = { 0 };
        uint8_t *payload = xmalloc(65536);

        memset(payload, 0xab, 65536);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL, *want = NULL;
                mp_ext(&b, 5, payload, cases[i].n);
                s = take_hex(&b);
                want = hdr_fill(cases[i].header, cases[i].n, 0xab);
                if (strcmp(s, want) != 0) {
                        free(payload);
                        TAP_FAIL("ext of %zu bytes: %.16s..., want %s", cases[i].n, s, cases[i].header);
                }
        }
        /* a negative type (reserved by msgpack for its own, e.g. -1 timestamps) is its two's complement */
        mp_ext(&b, -1, payload, 4);
        {
                _cleanup_free_ char *s = take_hex(&b);
                ASSERT_STREQ(s, "d6ffabababab");
        }
        free(payload);
        mp_buf_free(&b);
}

/* ================================================================ the reader */

TEST(read_round_trip)
{
        MpBuf b = { 0 };
        static const int64_t ints[] = { 0, 127, 128, 65536, -1, -32, -33, -129, -32769, INT32_MIN, INT64_MIN };
        uint8_t f32[] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 };                         /* 1.5f */
        uint8_t f64[] = { 0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18 }; /* pi */
        uint8_t i8pos[] = { 0xd0, 0x05 };
        size_t off = 0;
        MpItem it;

        for (size_t i = 0; i < ELEMENTSOF(ints); i++)
                mp_int(&b, ints[i]);
        mp_uint(&b, UINT64_MAX);
        mp_str(&b, "hello", 5);
        mp_bin(&b, "\x00\x01", 2);
        mp_array(&b, 70000);
        mp_map(&b, 3);
        mp_ext(&b, 0, "12345678", 8);
        mp_ext(&b, 7, "abc", 3);
        mp_nil(&b);
        mp_bool(&b, true);

        for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
                if (ints[i] >= 0) {
                        ASSERT_EQ(it.type, MP_UINT);
                        ASSERT_EQ(it.u, ints[i]);
                } else {
                        ASSERT_EQ(it.type, MP_INT);
                        ASSERT_EQ(it.i, ints[i]);
                }
        }
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_UINT && it.u == UINT64_MAX);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_STR && it.len == 5 && memcmp(it.data, "hello", 5) == 0);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_BIN && it.len == 2 && it.data[1] == 1);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_ARRAY && it.len == 70000);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_MAP && it.len == 3);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_EXT && it.ext_type == 0 && it.len == 8 && memcmp(it.data, "12345678", 8) == 0);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_EXT && it.ext_type == 7 && it.len == 3 && memcmp(it.data, "abc", 3) == 0);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_EQ(it.type, MP_NIL);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 1);
        ASSERT_TRUE(it.type == MP_BOOL && it.b);
        ASSERT_EQ(off, b.len);
        ASSERT_EQ(mp_read(b.data, b.len, &off, &it), 0);

        off = 0;
        ASSERT_EQ(mp_read(f32, sizeof(f32), &off, &it), 1);
        ASSERT_TRUE(it.type == MP_FLOAT && it.f == 1.5);
        off = 0;
        ASSERT_EQ(mp_read(f64, sizeof(f64), &off, &it), 1);
        ASSERT_TRUE(it.type == MP_FLOAT && it.f > 3.14159 && it.f < 3.1416);
        off = 0;
        ASSERT_EQ(mp_read(i8pos, sizeof(i8pos), &off, &it), 1);
        ASSERT_TRUE(it.type == MP_INT && it.i == 5);
        mp_buf_free(&b);
}

TEST(read_incomplete_and_bad)
{
        MpBuf b = { 0 };
        uint8_t bad[] = { 0xc1 };
        size_t off;
        MpItem it;

        /* Every proper prefix of a whole value is "incomplete", and leaves the offset alone. */
        mp_array(&b, 3);
        mp_str(&b, "a string of more than thirty-one bytes", 38);
        mp_ext(&b, 0, "12345678", 8);
        mp_map(&b, 1);
        mp_bin(&b, "xyz", 3);
        mp_uint(&b, 1u << 20);
        for (size_t n = 0; n < b.len; n++) {
                off = 0;
                if (mp_skip(b.data, n, &off) != 0 || off != 0)
                        TAP_FAIL("prefix of %zu bytes: not incomplete", n);
        }
        off = 0;
        ASSERT_EQ(mp_skip(b.data, b.len, &off), 1);
        ASSERT_EQ(off, b.len);

        off = 0;
        ASSERT_EQ(mp_read(bad, 1, &off, &it), -EBADMSG);
        ASSERT_EQ(off, 0);
        /* a map that claims 2^32-1 pairs in 5 bytes: incomplete, not a crash or a long loop */
        {
                uint8_t huge[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01 };
                off = 0;
                ASSERT_EQ(mp_skip(huge, sizeof(huge), &off), 0);
        }
        /* nesting costs no stack */
        {
                size_t depth = 100000;
                uint8_t *deep = xmalloc(depth + 1);
                memset(deep, 0x91, depth);
                deep[depth] = 0xc0;
                off = 0;
                ASSERT_EQ(mp_skip(deep, depth + 1, &off), 1);
                ASSERT_EQ(off, depth + 1);
                deep[depth] = 0xc1;
                off = 0;
                ASSERT_EQ(mp_skip(deep, depth + 1, &off), -EBADMSG);
                free(deep);
        }
        mp_buf_free(&b);
}

/* ================================================================ the event */

static LogInfo test_info(json_t *attrs)
{
        return (LogInfo){ .id = ID, .name = "web", .tag = "app.web", .attrs = attrs, .config = NULL };
}

TEST(encode_event_golden)
{
        MpBuf b = { 0 };
        LogInfo info = test_info(NULL);
        LogMsg m = { .stream = "stdout", .line = "hi\n", .len = 2, .newline = true,
                     .ts = { .tv_sec = 1700000000, .tv_nsec = 123456789 } };
        _cleanup_free_ char *s = NULL, *want = NULL, *id_hex = hex((const uint8_t *)ID, 64);

        fluentd_encode(&b, &info, &m, false, NULL);
        s = take_hex(&b);
        want = xasprintf("94"                           /* [tag, time, record, option] */
                         "a7" "6170702e776562"          /* "app.web" */
                         "ce6553f100"                   /* 1700000000 */
                         "84"                           /* 4 fields */
                         "ac" "636f6e7461696e65725f6964" /* "container_id" */
                         "d940" "%s"                    /* the 64 hex, str 8 */
                         "ae" "636f6e7461696e65725f6e616d65" "a4" "2f776562" /* "container_name": "/web" */
                         "a6" "736f75726365" "a6" "7374646f7574"             /* "source": "stdout" */
                         "a3" "6c6f67" "a2" "6869"                           /* "log": "hi" */
                         "80",                                               /* option {} */
                         id_hex);
        ASSERT_STREQ(s, want);

        /* EventTime: fixext 8, type 0, seconds and nanoseconds big-endian; and a chunk option */
        fluentd_encode(&b, &info, &m, true, "QUJD");
        free(s);
        s = take_hex(&b);
        ASSERT_TRUE(strncmp(s, "94a76170702e776562" "d700" "6553f100" "075bcd15" "84", 38) == 0);
        ASSERT_TRUE(strlen(s) > 24 && STREQ(s + strlen(s) - 24, "81" "a56368756e6b" "a4" "51554a44"));
        mp_buf_free(&b);
}

/* Decodes the record of an event encoded by fluentd_encode into "k=v;" pairs, in order. */
static char *record_fields(const MpBuf *b)
{
        size_t off = 0;
        MpItem it, k, v;
        char *out = xstrdup("");

        if (mp_read(b->data, b->len, &off, &it) != 1 || it.type != MP_ARRAY || it.len != 4 ||
            mp_skip(b->data, b->len, &off) != 1 || mp_skip(b->data, b->len, &off) != 1 ||
            mp_read(b->data, b->len, &off, &it) != 1 || it.type != MP_MAP)
                abort();
        for (uint32_t i = 0; i < it.len; i++) {
                char *n;
                if (mp_read(b->data, b->len, &off, &k) != 1 || mp_read(b->data, b->len, &off, &v) != 1 ||
                    k.type != MP_STR || v.type != MP_STR)
                        abort();
                n = xasprintf("%s%.*s=%.*s;", out, (int)k.len, k.data, (int)v.len, v.data);
                free(out);
                out = n;
        }
        if (mp_skip(b->data, b->len, &off) != 1 || off != b->len)
                abort();
        return out;
}

TEST(encode_event_partial_and_attrs)
{
        MpBuf b = { 0 };
        json_t *attrs = json_pack("{s:s, s:s, s:s, s:s, s:i}", "env1", "a", "source", "from-a-label", "container_id",
                                  "spoofed", "partial_last", "label", "number", 5);
        LogInfo info = test_info(attrs);
        LogMsg m = { .stream = "stderr", .line = "piece", .len = 5, .ts = { 1, 0 }, .partial_id = PID,
                     .partial_ordinal = 2, .partial_last = false };
        _cleanup_free_ char *f = NULL, *want = NULL;

        /* An attribute never replaces the driver's own fields (docker would let it), nor is sent
         * twice under their names; a non-string attribute is not sent. */
        fluentd_encode(&b, &info, &m, false, NULL);
        f = record_fields(&b);
        want = xasprintf("container_id=%s;container_name=/web;source=stderr;log=piece;env1=a;"
                         "partial_message=true;partial_id=%s;partial_ordinal=2;partial_last=false;",
                         ID, PID);
        ASSERT_STREQ(f, want);

        /* a whole line: no partial fields, and still no attribute named like one */
        b.len = 0;
        m.partial_id = NULL;
        free(f);
        free(want);
        fluentd_encode(&b, &info, &m, false, NULL);
        f = record_fields(&b);
        want = xasprintf("container_id=%s;container_name=/web;source=stderr;log=piece;env1=a;", ID);
        ASSERT_STREQ(f, want);
        json_decref(attrs);
        mp_buf_free(&b);
}

TEST(chunk_id)
{
        char id[FLUENTD_CHUNK_LEN + 1];

        /* fluent-logger-golang's: base64 of the second and the random bits, both little-endian */
        fluentd_chunk_id(1700000000, 0x0123456789abcdefULL, id);
        ASSERT_STREQ(id, "APFTZQAAAADvzauJZ0UjAQ==");
        fluentd_chunk_id(-1, 0, id);
        ASSERT_STREQ(id, "//////////8AAAAAAAAAAA==");
}

TEST(ack_parse)
{
        MpBuf b = { 0 };
        size_t used;
        bool match;

        mp_map(&b, 1);
        mp_cstr(&b, "ack");
        mp_cstr(&b, "QUJD");
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), 1);
        ASSERT_TRUE(match && used == b.len);
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJE", &used, &match), 1);
        ASSERT_TRUE(!match);
        for (size_t n = 0; n < b.len; n++)
                ASSERT_EQ(fluentd_ack_parse(b.data, n, "QUJD", &used, &match), 0);

        /* other keys, before and after, of any type, are skipped */
        b.len = 0;
        mp_map(&b, 3);
        mp_cstr(&b, "x");
        mp_array(&b, 2);
        mp_nil(&b);
        mp_ext(&b, 0, "12345678", 8);
        mp_cstr(&b, "ack");
        mp_cstr(&b, "QUJD");
        mp_cstr(&b, "y");
        mp_uint(&b, 7);
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), 1);
        ASSERT_TRUE(match && used == b.len);

        /* not an ack */
        b.len = 0;
        mp_array(&b, 1);
        mp_cstr(&b, "ack");
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), -EBADMSG);
        b.len = 0;
        mp_map(&b, 1);
        mp_uint(&b, 1);
        mp_cstr(&b, "QUJD");
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), -EBADMSG);
        b.len = 0;
        mp_map(&b, 1);
        mp_cstr(&b, "ack");
        mp_bin(&b, "QUJD", 4);
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), -EBADMSG);
        b.len = 0;
        mp_map(&b, 0);
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), -EBADMSG);
        b.len = 0;
        mp_map(&b, 2);
        mp_cstr(&b, "ack");
        mp_cstr(&b, "QUJD");
        mp_cstr(&b, "ack");
        mp_cstr(&b, "QUJD");
        ASSERT_EQ(fluentd_ack_parse(b.data, b.len, "QUJD", &used, &match), -EBADMSG);
        mp_buf_free(&b);
}

TEST(backoff)
{
        ASSERT_EQ(fluentd_backoff_ms(1000, 1), 0); /* the first retry at once: a reset connection */
        ASSERT_EQ(fluentd_backoff_ms(1000, 2), 1000);
        ASSERT_EQ(fluentd_backoff_ms(1000, 3), 1500);
        ASSERT_EQ(fluentd_backoff_ms(1000, 4), 2250);
        ASSERT_EQ(fluentd_backoff_ms(1000, 11), 38453); /* halves rounded up */
        ASSERT_EQ(fluentd_backoff_ms(1000, 12), 57680);
        ASSERT_EQ(fluentd_backoff_ms(1000, 13), 60000); /* fluent-logger-golang's cap */
        ASSERT_EQ(fluentd_backoff_ms(1000, INT32_MAX), 60000);
        ASSERT_EQ(fluentd_backoff_ms(1, 3), 2); /* small waits grow too */
        ASSERT_EQ(fluentd_backoff_ms(3600000, 2), 60000);
}

/* ================================================================ options */

static int parse_opts(const char *json, FluentdOpts *o, char **msg)
{
        json_t *cfg = json_loads(json, 0, NULL);
        Error *e = NULL;
        int r;

        if (!cfg)
                abort();
        r = fluentd_opts_parse(cfg, o, &e);
        json_decref(cfg);
        *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        return r;
}

TEST(options)
{
        FluentdOpts o;
        _cleanup_free_ char *msg = NULL;

        ASSERT_OK(parse_opts("{}", &o, &msg));
        ASSERT_TRUE(o.addr.proto == NET_TCP && STREQ(o.addr.host, "127.0.0.1") && STREQ(o.addr.port, "24224"));
        ASSERT_TRUE(!o.async && !o.sub_second && !o.request_ack);
        ASSERT_EQ(o.buffer_limit, 1048576);
        ASSERT_EQ(o.retry_wait_ms, 1000);
        ASSERT_EQ(o.max_retries, INT32_MAX);
        fluentd_opts_free(&o);

        ASSERT_OK(parse_opts("{\"fluentd-address\": \"fluent.lan\", \"fluentd-async-connect\": \"true\", "
                             "\"fluentd-buffer-limit\": \"1k\", \"fluentd-retry-wait\": \"250ms\", "
                             "\"fluentd-max-retries\": \"3\", \"fluentd-sub-second-precision\": \"1\", "
                             "\"fluentd-request-ack\": \"True\"}",
                             &o, &msg));
        ASSERT_TRUE(STREQ(o.addr.host, "fluent.lan") && STREQ(o.addr.port, "24224"));
        ASSERT_TRUE(o.async && o.sub_second && o.request_ack);
        ASSERT_EQ(o.buffer_limit, 1024);
        ASSERT_EQ(o.retry_wait_ms, 250);
        ASSERT_EQ(o.max_retries, 3);
        fluentd_opts_free(&o);

        ASSERT_OK(parse_opts("{\"fluentd-address\": \"unix:///run/fluent.sock\", \"fluentd-async\": \"false\"}", &o,
                             &msg));
        ASSERT_TRUE(o.addr.proto == NET_UNIX && STREQ(o.addr.path, "/run/fluent.sock") && !o.async);
        fluentd_opts_free(&o);
        ASSERT_OK(parse_opts("{\"fluentd-address\": \"tls://[::1]:24225\"}", &o, &msg));
        ASSERT_TRUE(o.addr.proto == NET_TLS && STREQ(o.addr.host, "::1") && STREQ(o.addr.port, "24225"));
        fluentd_opts_free(&o);

        /* fluent-logger-golang takes a zero as "its default" */
        ASSERT_OK(parse_opts("{\"fluentd-max-retries\": \"0\", \"fluentd-retry-wait\": \"0s\"}", &o, &msg));
        ASSERT_EQ(o.max_retries, 13);
        ASSERT_EQ(o.retry_wait_ms, 500);
        fluentd_opts_free(&o);

        ASSERT_EQ(parse_opts("{\"fluentd-async\": \"true\", \"fluentd-async-connect\": \"true\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "conflicting options");
        free(msg);
        ASSERT_EQ(parse_opts("{\"fluentd-address\": \"udp://h:1\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "log-opt fluentd-address");
        ASSERT_CONTAINS(msg, "udp");
        free(msg);
        ASSERT_EQ(parse_opts("{\"fluentd-async\": \"yes\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "fluentd-async");
        free(msg);
        ASSERT_EQ(parse_opts("{\"fluentd-buffer-limit\": \"0\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "fluentd-buffer-limit");
        free(msg);
        ASSERT_EQ(parse_opts("{\"fluentd-retry-wait\": \"soon\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "fluentd-retry-wait");
        free(msg);
        ASSERT_EQ(parse_opts("{\"fluentd-max-retries\": \"-1\"}", &o, &msg), -EINVAL);
        ASSERT_CONTAINS(msg, "fluentd-max-retries");
}

/* ================================================================ against the receiver */

typedef struct Receiver {
        pid_t pid;
        char *out, *errors, *sock;
        int port;
} Receiver;

static int receiver_n;

/* Starts the receiver on `port` (0: any) with extra arguments; 0, or -1 when it did not come up. */
static int receiver_start(Receiver *r, int port, const char *const *extra)
{
        char *port_file, *argv[32], portarg[16];
        size_t n = 0;
        int64_t until;

        receiver_n++;
        *r = (Receiver){ 0 };
        r->out = xasprintf("%s/out-%d.jsonl", tmpdir, receiver_n);
        r->errors = xasprintf("%s/errors-%d.txt", tmpdir, receiver_n);
        r->sock = xasprintf("%s/fluent-%d.sock", tmpdir, receiver_n);
        port_file = xasprintf("%s/port-%d", tmpdir, receiver_n);
        snprintf(portarg, sizeof(portarg), "%d", port);
        argv[n++] = (char *)PYTHON;
        argv[n++] = (char *)FLUENTD_RECEIVER;
        argv[n++] = (char *)"--out";
        argv[n++] = r->out;
        argv[n++] = (char *)"--errors";
        argv[n++] = r->errors;
        argv[n++] = (char *)"--unix";
        argv[n++] = r->sock;
        argv[n++] = (char *)"--port-file";
        argv[n++] = port_file;
        argv[n++] = (char *)"--port";
        argv[n++] = portarg;
        for (size_t i = 0; extra && extra[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = (char *)extra[i];
        argv[n] = NULL;
        (void)close(open(r->errors, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));

        r->pid = fork();
        if (r->pid < 0)
                abort();
        if (r->pid == 0) {
                execv(PYTHON, argv);
                _exit(127);
        }
        for (size_t i = 0; i < ELEMENTSOF(running); i++)
                if (running[i] == 0) {
                        running[i] = r->pid;
                        break;
                }
        until = mono_ms() + 20000;
        while (mono_ms() < until) {
                _cleanup_free_ char *s = NULL;
                size_t len;
                int st;
                if (read_file_at(AT_FDCWD, port_file, 64, &s, &len) == 0) {
                        r->port = atoi(s);
                        free(port_file);
                        return 0;
                }
                if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
                        for (size_t i = 0; i < ELEMENTSOF(running); i++)
                                if (running[i] == r->pid)
                                        running[i] = 0;
                        r->pid = 0;
                        break;
                }
                sleep_ms(20);
        }
        free(port_file);
        return -1;
}

static void receiver_stop(Receiver *r)
{
        if (r->pid > 0) {
                kill(r->pid, SIGTERM);
                waitpid(r->pid, NULL, 0);
                for (size_t i = 0; i < ELEMENTSOF(running); i++)
                        if (running[i] == r->pid)
                                running[i] = 0;
        }
        free(r->out);
        free(r->errors);
        free(r->sock);
        *r = (Receiver){ 0 };
}

/* The events received so far, as a JSON array. */
static json_t *receiver_events(const Receiver *r)
{
        json_t *all = json_array();
        FILE *f = fopen(r->out, "re");
        char *line = NULL;
        size_t cap = 0;

        while (f && getline(&line, &cap, f) > 0) {
                json_t *ev = json_loads(line, 0, NULL);
                if (ev)
                        json_array_append_new(all, ev);
        }
        free(line);
        if (f)
                fclose(f);
        return all;
}

/* Waits (up to 30 s: a bound against a hang, not a timing) until n events have come. */
static json_t *receiver_wait(const Receiver *r, size_t n)
{
        int64_t until = mono_ms() + 30000;
        for (;;) {
                json_t *ev = receiver_events(r);
                if (json_array_size(ev) >= n || mono_ms() >= until)
                        return ev;
                json_decref(ev);
                sleep_ms(20);
        }
}

static char *receiver_errors(const Receiver *r)
{
        char *s = NULL;
        size_t len;
        if (read_file_at(AT_FDCWD, r->errors, 1 << 20, &s, &len) < 0)
                return xstrdup("(no errors file)");
        return s;
}

static bool have_python_msgpack(void)
{
        return system(PYTHON " -c 'import msgpack' 2>/dev/null") == 0;
}

#define START_RECEIVER(r, port, ...)                                                                           \
        do {                                                                                                   \
                static const char *const _extra[] = { __VA_ARGS__, NULL };                                        \
                if (!have_python_msgpack())                                                                    \
                        TAP_FAIL("%s cannot import msgpack: run tools/setup.sh (python3-msgpack)", PYTHON);    \
                if (receiver_start(r, port, _extra) < 0)                                                       \
                        TAP_FAIL("the receiver did not start");                                                \
        } while (0)

static json_t *config_for(const Receiver *r, bool unix_socket, const char *more_json)
{
        json_t *c = more_json ? json_loads(more_json, 0, NULL) : json_object();
        char *addr = unix_socket ? xasprintf("unix://%s", r->sock) : xasprintf("tcp://127.0.0.1:%d", r->port);
        json_object_set_new(c, "fluentd-address", json_string(addr));
        free(addr);
        return c;
}

static int open_driver(json_t *config, json_t *attrs, LogDriver **d, char **msg)
{
        static LogInfo info; /* the driver borrows it until close */
        Error *e = NULL;
        int r;

        info = (LogInfo){ .id = ID, .name = "web", .tag = "docker.web", .attrs = attrs, .config = config };
        r = log_driver_fluentd.open(&info, d, &e);
        *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        return r;
}

static int log_line(LogDriver *d, const char *stream, const char *line, size_t len, const LogMsg *tmpl)
{
        LogMsg m = tmpl ? *tmpl : (LogMsg){ .newline = true, .ts = { 1700000000, 5 } };
        Error *e = NULL;
        int r;

        m.stream = stream;
        m.line = line;
        m.len = len;
        r = d->ops->log(d, &m, &e);
        if (e)
                printf("# log: %s\n", e->msg);
        error_free(e);
        return r;
}

static const char *rec_str(json_t *ev, const char *key)
{
        return json_string_value(json_object_get(json_object_get(ev, "record"), key));
}

TEST(driver_tcp)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL, *big = xmalloc(16384);
        json_t *cfg, *attrs = json_pack("{s:s}", "com.example.team", "web"), *ev;
        LogMsg piece = { .ts = { 1700000001, 0 }, .partial_id = PID, .partial_ordinal = 1 };

        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, false, NULL);
        ASSERT_OK(open_driver(cfg, attrs, &d, &msg));
        memset(big, 'b', 16384);
        ASSERT_OK(log_line(d, "stdout", "hello", 5, NULL));
        ASSERT_OK(log_line(d, "stderr", "oops", 4, NULL));
        ASSERT_OK(log_line(d, "stdout", "", 0, NULL));
        ASSERT_OK(log_line(d, "stdout", "caf\xc3\xa9 \xff\xfe", 8, NULL)); /* docker sends the bytes as they are */
        ASSERT_OK(log_line(d, "stdout", big, 16384, &piece));
        piece.partial_ordinal = 2;
        piece.partial_last = true;
        piece.newline = true;
        ASSERT_OK(log_line(d, "stdout", "end", 3, &piece));
        ASSERT_OK(d->ops->flush(d, NULL));
        d->ops->close(d);

        ev = receiver_wait(&r, 6);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        json_decref(attrs);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 6);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ev, 0), "tag")), "docker.web");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(ev, 0), "time")), 1700000000);
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "container_id"), ID);
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "container_name"), "/web");
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "source"), "stdout");
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "log"), "hello");
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "com.example.team"), "web");
        ASSERT_EQ(json_object_size(json_object_get(json_array_get(ev, 0), "record")), 5);
        ASSERT_EQ(json_object_size(json_object_get(json_array_get(ev, 0), "option")), 0);
        ASSERT_STREQ(rec_str(json_array_get(ev, 1), "source"), "stderr");
        ASSERT_STREQ(rec_str(json_array_get(ev, 1), "log"), "oops");
        ASSERT_STREQ(rec_str(json_array_get(ev, 2), "log"), "");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(json_array_get(ev, 3), "record"),
                                                                       "log"),
                                                       "hex")),
                     "636166c3a920fffe");
        ASSERT_EQ(strlen(rec_str(json_array_get(ev, 4), "log")), 16384);
        ASSERT_STREQ(rec_str(json_array_get(ev, 4), "partial_message"), "true");
        ASSERT_STREQ(rec_str(json_array_get(ev, 4), "partial_id"), PID);
        ASSERT_STREQ(rec_str(json_array_get(ev, 4), "partial_ordinal"), "1");
        ASSERT_STREQ(rec_str(json_array_get(ev, 4), "partial_last"), "false");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(ev, 4), "time")), 1700000001);
        ASSERT_STREQ(rec_str(json_array_get(ev, 5), "partial_ordinal"), "2");
        ASSERT_STREQ(rec_str(json_array_get(ev, 5), "partial_last"), "true");
        ASSERT_STREQ(rec_str(json_array_get(ev, 5), "log"), "end");
        /* one connection for all */
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(ev, 5), "conn")), 1);
        json_decref(ev);
}

TEST(driver_unix_sub_second)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL;
        json_t *cfg, *ev, *t;
        LogMsg m = { .newline = true, .ts = { 1700000000, 999999999 } };

        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, true, "{\"fluentd-sub-second-precision\": \"true\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(log_line(d, "stdout", "one", 3, &m));
        m.ts = (struct timespec){ 0, 0 };
        ASSERT_OK(log_line(d, "stdout", "two", 3, &m));
        d->ops->close(d);
        ev = receiver_wait(&r, 2);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 2);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(ev, 0), "transport")), "unix");
        t = json_object_get(json_array_get(ev, 0), "time");
        ASSERT_EQ(json_integer_value(json_object_get(t, "sec")), 1700000000);
        ASSERT_EQ(json_integer_value(json_object_get(t, "nsec")), 999999999);
        t = json_object_get(json_array_get(ev, 1), "time");
        ASSERT_TRUE(json_is_object(t));
        ASSERT_EQ(json_integer_value(json_object_get(t, "sec")), 0);
        json_decref(ev);
}

TEST(driver_request_ack)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL;
        json_t *cfg, *ev;
        const char *c0, *c1;

        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, false, "{\"fluentd-request-ack\": \"true\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(log_line(d, "stdout", "a", 1, NULL));
        ASSERT_OK(log_line(d, "stdout", "b", 1, NULL));
        d->ops->close(d);
        ev = receiver_wait(&r, 2);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 2);
        c0 = json_string_value(json_object_get(json_object_get(json_array_get(ev, 0), "option"), "chunk"));
        c1 = json_string_value(json_object_get(json_object_get(json_array_get(ev, 1), "option"), "chunk"));
        ASSERT_TRUE(c0 && c1 && strlen(c0) == 24 && strlen(c1) == 24 && !STREQ(c0, c1));
        json_decref(ev);
}

TEST(driver_wrong_ack_is_retried)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL;
        json_t *cfg, *ev;

        START_RECEIVER(&r, 0, "--bad-ack-once");
        cfg = config_for(&r, false, "{\"fluentd-request-ack\": \"true\", \"fluentd-retry-wait\": \"10ms\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(log_line(d, "stdout", "a", 1, NULL));
        ASSERT_OK(log_line(d, "stdout", "b", 1, NULL));
        d->ops->close(d);
        ev = receiver_wait(&r, 3);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        /* "a" is sent again on a new connection: at least once, as an ack promises */
        ASSERT_EQ(json_array_size(ev), 3);
        ASSERT_STREQ(rec_str(json_array_get(ev, 0), "log"), "a");
        ASSERT_STREQ(rec_str(json_array_get(ev, 1), "log"), "a");
        ASSERT_STREQ(rec_str(json_array_get(ev, 2), "log"), "b");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(ev, 1), "conn")), 2);
        json_decref(ev);
}

TEST(driver_server_closes_connections)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL;
        json_t *cfg, *ev;

        /* The server closes each connection after one event: every message still arrives, once (the
         * acks make it certain, whenever the close is seen). */
        START_RECEIVER(&r, 0, "--close-after", "1");
        cfg = config_for(&r, false, "{\"fluentd-request-ack\": \"true\", \"fluentd-retry-wait\": \"10ms\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(log_line(d, "stdout", "1", 1, NULL));
        ASSERT_OK(log_line(d, "stdout", "2", 1, NULL));
        ASSERT_OK(log_line(d, "stdout", "3", 1, NULL));
        d->ops->close(d);
        ev = receiver_wait(&r, 3);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 3);
        for (size_t i = 0; i < 3; i++) {
                char want[2] = { (char)('1' + i), 0 };
                ASSERT_STREQ(rec_str(json_array_get(ev, i), "log"), want);
        }
        json_decref(ev);
}

/* A loopback port where nothing listens (bound, read and closed: free for the receiver later). */
static int free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0)
                abort();
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

TEST(driver_sync_unreachable_fails_open)
{
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *addr = xasprintf("127.0.0.1:%d", free_port());
        json_t *cfg = json_pack("{s:s}", "fluentd-address", addr);

        ASSERT_TRUE(open_driver(cfg, NULL, &d, &msg) < 0);
        json_decref(cfg);
        ASSERT_CONTAINS(msg, "fluentd: connect to tcp://127.0.0.1:");
        ASSERT_CONTAINS(msg, "refused");
}

TEST(driver_async_server_down_at_start)
{
        Receiver r;
        LogDriver *d = NULL;
        int port = free_port();
        _cleanup_free_ char *msg = NULL, *errors = NULL, *addr = xasprintf("127.0.0.1:%d", port);
        json_t *cfg = json_pack("{s:s, s:s, s:s}", "fluentd-address", addr, "fluentd-async", "true",
                                "fluentd-retry-wait", "50ms");
        json_t *ev;
        int64_t t0;

        /* Nothing listens: open succeeds, and log() returns at once however long the server is away. */
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        t0 = mono_ms();
        for (int i = 0; i < 100; i++) {
                char line[16];
                int n = snprintf(line, sizeof(line), "line %d", i);
                ASSERT_OK(log_line(d, i % 2 ? "stderr" : "stdout", line, (size_t)n, NULL));
        }
        printf("# 100 messages queued in %lld ms with the server down\n", (long long)(mono_ms() - t0));
        ASSERT_OK(d->ops->flush(d, NULL));
        sleep_ms(200); /* a few refused connects */
        START_RECEIVER(&r, port, NULL);
        ev = receiver_wait(&r, 100);
        d->ops->close(d);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 100);
        for (size_t i = 0; i < 100; i++) {
                char want[16];
                snprintf(want, sizeof(want), "line %zu", i);
                ASSERT_STREQ(rec_str(json_array_get(ev, i), "log"), want);
        }
        json_decref(ev);
}

TEST(driver_async_ack_unix)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *errors = NULL;
        json_t *cfg, *ev;

        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, true, "{\"fluentd-async\": \"true\", \"fluentd-request-ack\": \"true\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        for (int i = 0; i < 20; i++)
                ASSERT_OK(log_line(d, "stdout", "x", 1, NULL));
        ev = receiver_wait(&r, 20);
        d->ops->close(d);
        errors = receiver_errors(&r);
        receiver_stop(&r);
        json_decref(cfg);
        ASSERT_STREQ(errors, "");
        ASSERT_EQ(json_array_size(ev), 20);
        json_decref(ev);
}

TEST(driver_async_buffer_full)
{
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *addr = xasprintf("127.0.0.1:%d", free_port());
        json_t *cfg = json_pack("{s:s, s:s, s:s, s:s}", "fluentd-address", addr, "fluentd-async", "true",
                                "fluentd-buffer-limit", "2", "fluentd-retry-wait", "1h");
        LogMsg m = { .stream = "stdout", .line = "x", .len = 1, .ts = { 1, 0 } };
        Error *e = NULL;
        int64_t t0;

        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(d->ops->log(d, &m, NULL));
        ASSERT_OK(d->ops->log(d, &m, NULL));
        ASSERT_EQ(d->ops->log(d, &m, &e), -ENOBUFS);
        ASSERT_CONTAINS(e ? e->msg : NULL, "buffer full");
        ASSERT_CONTAINS(e ? e->msg : NULL, "fluentd-buffer-limit 2");
        error_free(e);
        /* close gives up on a server that never comes (within its own bound) */
        t0 = mono_ms();
        d->ops->close(d);
        printf("# close with the server away took %lld ms\n", (long long)(mono_ms() - t0));
        json_decref(cfg);
}

TEST(driver_async_losses_reported)
{
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL, *addr = xasprintf("127.0.0.1:%d", free_port());
        json_t *cfg = json_pack("{s:s, s:s, s:s, s:s}", "fluentd-address", addr, "fluentd-async", "true",
                                "fluentd-max-retries", "2", "fluentd-retry-wait", "10ms");
        LogMsg m = { .stream = "stdout", .line = "x", .len = 1, .ts = { 1, 0 } };
        Error *e = NULL;
        int64_t until;
        int r = 0;

        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        ASSERT_OK(d->ops->log(d, &m, NULL));
        until = mono_ms() + 30000;
        while (mono_ms() < until && (r = d->ops->flush(d, &e)) == 0)
                sleep_ms(10);
        ASSERT_TRUE(r < 0);
        ASSERT_CONTAINS(e ? e->msg : NULL, "1 message lost");
        ASSERT_CONTAINS(e ? e->msg : NULL, "gave up after 3 tries");
        ASSERT_CONTAINS(e ? e->msg : NULL, addr);
        error_free(e);
        e = NULL;
        ASSERT_OK(d->ops->flush(d, &e)); /* reported once */
        d->ops->close(d);
        json_decref(cfg);
}

TEST(driver_sync_gives_up_after_retries)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        json_t *cfg;
        Error *e = NULL;
        LogMsg m = { .stream = "stdout", .line = "x", .len = 1, .ts = { 1, 0 } };

        /* The server goes away after open: a message fails after its retries, naming the address. */
        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, false, "{\"fluentd-max-retries\": \"2\", \"fluentd-retry-wait\": \"10ms\", "
                                    "\"fluentd-request-ack\": \"true\"}");
        ASSERT_OK(open_driver(cfg, NULL, &d, &msg));
        receiver_stop(&r);
        ASSERT_TRUE(d->ops->log(d, &m, &e) < 0);
        ASSERT_CONTAINS(e ? e->msg : NULL, "gave up after 3 tries");
        ASSERT_CONTAINS(e ? e->msg : NULL, "tcp://127.0.0.1:");
        error_free(e);
        d->ops->close(d);
        json_decref(cfg);
}

typedef struct CancelArgs {
        LogDriver *d;
        int r;
        char msg[512];
} CancelArgs;

static void *log_in_thread(void *ud)
{
        CancelArgs *a = ud;
        LogMsg m = { .stream = "stdout", .line = "x", .len = 1, .ts = { 1, 0 } };
        Error *e = NULL;

        a->r = a->d->ops->log(a->d, &m, &e);
        snprintf(a->msg, sizeof(a->msg), "%s", e ? e->msg : "");
        error_free(e);
        return NULL;
}

TEST(driver_sync_cancel)
{
        Receiver r;
        CancelArgs a = { 0 };
        _cleanup_free_ char *msg = NULL;
        json_t *cfg;
        pthread_t t;

        /* The server goes away; a message waits between retries (an hour apart) until the monitor
         * cancels, which ends the wait at once. */
        START_RECEIVER(&r, 0, NULL);
        cfg = config_for(&r, false, "{\"fluentd-retry-wait\": \"1h\"}");
        ASSERT_OK(open_driver(cfg, NULL, &a.d, &msg));
        receiver_stop(&r);
        ASSERT_EQ(pthread_create(&t, NULL, log_in_thread, &a), 0);
        sleep_ms(300);
        a.d->ops->cancel(a.d);
        pthread_join(t, NULL);
        ASSERT_TRUE(a.r < 0);
        ASSERT_CONTAINS(a.msg, "gave up after");
        /* and what comes after gives up without waiting */
        log_in_thread(&a);
        ASSERT_TRUE(a.r < 0);
        a.d->ops->close(a.d);
        json_decref(cfg);
}
