/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The local log driver's format: records against protobuf's own encoding (golden bytes made by Google's
 * protobuf runtime from moby's entry.proto, and python3-protobuf over whole files when it is there),
 * hostile bodies and lengths, the writer (rotation, compression, a torn end), the reader (tail by walking
 * backwards, since/until, damage, follow through rotations, details) and the LogDriverOps wrapper.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "locallog.h"
#include "logdriver.h"
#include "tap.h"
#include "tmpdir.h"
#include "util.h"

/* 2026-11-28T13:01:10Z. */
#define BASE ((time_t)1795870870)
#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- golden records ---- */

/*
 * Each made by python3-protobuf 3.21 (Debian 12) from a LogEntry built with moby's field numbers and
 * SerializeToString(), framed with struct.pack(">I", n): not by the code under test.
 */
typedef struct Golden {
        const char *name;
        LocalLogEntry e;
        const char *bytes;
        size_t len;
} Golden;

#define G(s) s, sizeof(s) - 1
static const Golden golden[] = {
        { "a line",
          { .source = "stdout", .source_len = 6, .time_nano = 1795870870049396970LL, .line = "line 1999 out",
            .line_len = 13 },
          G("\x00\x00\x00\x21"                             /* length 33 */
            "\x0a\x06stdout"                               /* 1 source, length-delimited */
            "\x10\xea\xb1\x90\xbe\xa9\xe1\x8d\xf6\x18"     /* 2 time_nano, varint */
            "\x1a\x0dline 1999 out"                        /* 3 line */
            "\x00\x00\x00\x21") },
        { "a first piece",
          { .source = "stderr", .source_len = 6, .time_nano = 1795870870086599591LL, .line = "no-newline-at-end",
            .line_len = 17, .partial = true, .id = ID64, .id_len = 64, .ordinal = 1 },
          G("\x00\x00\x00\x6d"
            "\x0a\x06stderr"
            "\x10\xa7\x87\xef\xcf\xa9\xe1\x8d\xf6\x18"
            "\x1a\x11no-newline-at-end"
            "\x20\x01"                                     /* 4 partial */
            "\x2a\x44"                                     /* 5 partial_log_metadata, 68 bytes */
            "\x12\x40" ID64                                /*   2 id */
            "\x18\x01"                                     /*   3 ordinal */
            "\x00\x00\x00\x6d") },
        { "an empty line",
          { .source = "stdout", .source_len = 6, .time_nano = 1795870870000000000LL },
          G("\x00\x00\x00\x12"
            "\x0a\x06stdout"
            "\x10\x80\xb8\xc9\xa6\xa9\xe1\x8d\xf6\x18"
            "\x00\x00\x00\x12") },
        { "a last piece",
          { .source = "stdout", .source_len = 6, .time_nano = 1795870870000000000LL, .line = "x", .line_len = 1,
            .partial = true, .last = true, .id = "ab", .id_len = 2, .ordinal = 3 },
          G("\x00\x00\x00\x21"
            "\x0a\x06stdout"
            "\x10\x80\xb8\xc9\xa6\xa9\xe1\x8d\xf6\x18"
            "\x1a\x01x"
            "\x20\x01"
            "\x2a\x08"
            "\x08\x01"                                     /*   1 last */
            "\x12\x02" "ab"
            "\x18\x03"
            "\x00\x00\x00\x21") },
        { "metadata with defaults only",
          { .source = "stdout", .source_len = 6, .time_nano = 5, .line = "y", .line_len = 1, .partial = true },
          G("\x00\x00\x00\x11"
            "\x0a\x06stdout"
            "\x10\x05"
            "\x1a\x01y"
            "\x20\x01"
            "\x2a\x00"                                     /* present, empty */
            "\x00\x00\x00\x11") },
        { "negative numbers",
          { .source = "stderr", .source_len = 6, .time_nano = -1, .line = "z", .line_len = 1, .partial = true,
            .ordinal = -1 },
          G("\x00\x00\x00\x25"
            "\x0a\x06stderr"
            "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" /* ten bytes */
            "\x1a\x01z"
            "\x20\x01"
            "\x2a\x0b"
            "\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" /* an int32 sign-extends to ten bytes */
            "\x00\x00\x00\x25") },
};

static bool bytes_eq(const char *a, size_t an, const char *b, size_t bn)
{
        return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool entry_eq(const LocalLogEntry *a, const LocalLogEntry *b)
{
        return bytes_eq(a->source, a->source_len, b->source, b->source_len) && a->time_nano == b->time_nano &&
               bytes_eq(a->line, a->line_len, b->line, b->line_len) && a->partial == b->partial &&
               a->last == b->last && bytes_eq(a->id, a->id_len, b->id, b->id_len) && a->ordinal == b->ordinal;
}

TEST(golden_encoding)
{
        for (size_t i = 0; i < ELEMENTSOF(golden); i++) {
                const Golden *g = &golden[i];
                int64_t n = local_log_record_size(&g->e);
                _cleanup_free_ uint8_t *out = NULL;
                if (n != (int64_t)g->len)
                        TAP_FAIL("%s: size %lld, protobuf's %zu", g->name, (long long)n, g->len);
                out = xmalloc((size_t)n);
                local_log_encode(&g->e, out);
                if (memcmp(out, g->bytes, g->len) != 0)
                        TAP_FAIL("%s: bytes differ from protobuf's", g->name);
        }
}

TEST(golden_decoding)
{
        for (size_t i = 0; i < ELEMENTSOF(golden); i++) {
                const Golden *g = &golden[i];
                LocalLogEntry e;
                ASSERT_OK(local_log_decode((const uint8_t *)g->bytes + 4, g->len - 8, &e, NULL, NULL));
                if (!entry_eq(&e, &g->e))
                        TAP_FAIL("%s: decoded fields differ", g->name);
                ASSERT_EQ(e.has_meta, g->e.partial);
        }
}

TEST(decode_unknown_fields_attrs_and_merges)
{
        /* Fields a later LogEntry might add (every wire type) are skipped; attrs (6) are read; a second
         * source wins; a second metadata merges into the first. */
        static const char body[] = "\x0a\x03out"
                                   "\x0a\x06stdout"
                                   "\x10\x07"
                                   "\x39\x01\x02\x03\x04\x05\x06\x07\x08" /* 7, fixed64 */
                                   "\x45\x01\x02\x03\x04"                 /* 8, fixed32 */
                                   "\x48\x96\x01"                         /* 9, varint */
                                   "\x52\x02hi"                           /* 10, bytes */
                                   "\x1a\x02ok"
                                   "\x32\x0a\x0a\x03" "app\x12\x03" "web"  /* attr app=web */
                                   "\x32\x08\x0a\x01k\x12\x01v\x18\x01"   /* attr k=v, unknown field 3 in it */
                                   "\x20\x01"
                                   "\x2a\x02\x18\x02"                     /* ordinal 2 */
                                   "\x2a\x02\x08\x01";                    /* then last */
        LocalLogAttr *attrs = NULL;
        size_t n_attrs = 0;
        LocalLogEntry e;
        ASSERT_OK(local_log_decode((const uint8_t *)body, sizeof(body) - 1, &e, &attrs, &n_attrs));
        ASSERT_TRUE(e.source_len == 6 && memcmp(e.source, "stdout", 6) == 0);
        ASSERT_EQ(e.time_nano, 7);
        ASSERT_TRUE(e.line_len == 2 && memcmp(e.line, "ok", 2) == 0);
        ASSERT_TRUE(e.partial && e.has_meta && e.last);
        ASSERT_EQ(e.ordinal, 2);
        ASSERT_EQ(n_attrs, 2);
        ASSERT_TRUE(attrs[0].key_len == 3 && memcmp(attrs[0].key, "app", 3) == 0 && attrs[0].value_len == 3);
        ASSERT_TRUE(attrs[1].key_len == 1 && attrs[1].value_len == 1 && attrs[1].value[0] == 'v');
        free(attrs);
        /* Without an attrs array they are checked and skipped. */
        ASSERT_OK(local_log_decode((const uint8_t *)body, sizeof(body) - 1, &e, NULL, NULL));
        /* An empty body is an entry with every field at its default. */
        ASSERT_OK(local_log_decode((const uint8_t *)"", 0, &e, NULL, NULL));
        ASSERT_TRUE(e.source_len == 0 && e.time_nano == 0 && !e.partial);
}

TEST(decode_rejects_damage)
{
        static const struct {
                const char *why;
                const char *b;
                size_t n;
        } bad[] = {
                { "a varint of eleven bytes", G("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01") },
                { "a varint cut short", G("\x10\xff") },
                { "a key cut short", G("\x8a") },
                { "a length beyond the body", G("\x0a\x07stdout") },
                { "a huge length", G("\x1a\xff\xff\xff\xff\xff\xff\xff\xff\x7f" "abc") },
                { "source as a varint", G("\x08\x01") },
                { "time as bytes", G("\x12\x01x") },
                { "partial as fixed64", G("\x21\x01\x02\x03\x04\x05\x06\x07\x08") },
                { "metadata as a varint", G("\x28\x01") },
                { "bad metadata", G("\x2a\x02\x12\x05") },
                { "id as a varint", G("\x2a\x02\x10\x01") },
                { "bad attr", G("\x32\x02\x0a\x09") },
                { "field 0", G("\x00\x01") },
                { "start group", G("\x4b\x4c") },
                { "end group", G("\x4c") },
                { "wire type 6", G("\x4e\x00") },
                { "wire type 7", G("\x4f\x00") },
                { "fixed32 cut short", G("\x45\x01\x02") },
                { "fixed64 cut short", G("\x39\x01\x02\x03") },
                { "field number above 2^29-1", G("\x80\x80\x80\x80\x20\x00") },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                LocalLogEntry e;
                if (local_log_decode((const uint8_t *)bad[i].b, bad[i].n, &e, NULL, NULL) != -EINVAL)
                        TAP_FAIL("accepted %s", bad[i].why);
        }
        {
                _cleanup_free_ uint8_t *big = xcalloc(1, LOCAL_LOG_MAX_RECORD + 1);
                LocalLogEntry e;
                ASSERT_EQ(local_log_decode(big, LOCAL_LOG_MAX_RECORD + 1, &e, NULL, NULL), -E2BIG);
        }
}

TEST(record_size_bounds)
{
        LocalLogEntry e = { .source = "stdout", .source_len = 6, .time_nano = 1, .line_len = LOCAL_LOG_MAX_RECORD };
        _cleanup_free_ char *line = xcalloc(1, LOCAL_LOG_MAX_RECORD + 1);
        e.line = line;
        ASSERT_EQ(local_log_record_size(&e), -E2BIG);
        e.line_len = SIZE_MAX;
        ASSERT_EQ(local_log_record_size(&e), -E2BIG);
        e.line_len = LOCAL_LOG_MAX_RECORD - 100;
        ASSERT_TRUE(local_log_record_size(&e) > 0);
}

TEST(entry_time)
{
        LocalLogEntry e = { .time_nano = 1795870870049396970LL };
        struct timespec t = local_log_entry_time(&e);
        ASSERT_EQ(t.tv_sec, BASE);
        ASSERT_EQ(t.tv_nsec, 49396970);
        e.time_nano = -1;
        t = local_log_entry_time(&e);
        ASSERT_EQ(t.tv_sec, -1);
        ASSERT_EQ(t.tv_nsec, 999999999);
}

/* ---- helpers ---- */


static bool exists(const char *dir, const char *name)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        return access(p, F_OK) == 0;
}

static off_t file_size(const char *dir, const char *name)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        struct stat st;
        return stat(p, &st) < 0 ? -1 : st.st_size;
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

static void put_file(const char *dir, const char *name, const void *data, size_t len, bool append)
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

typedef struct Msg {
        char *stream, *msg;
        size_t len;
        struct timespec ts;
} Msg;

typedef struct Collect {
        Msg *m;
        size_t n;
        atomic_size_t seen;
        size_t stop_after;
        int stop_with;
        size_t sleep_every;
} Collect;

static int collect_fn(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        Collect *c = ud;
        Msg *m;

        if (msg[len] != '\0')
                abort(); /* the reader NUL-terminates */
        c->m = xrealloc(c->m, (c->n + 1) * sizeof(*c->m));
        m = &c->m[c->n++];
        m->stream = xstrdup(stream);
        m->msg = xmalloc(len + 1);
        memcpy(m->msg, msg, len + 1);
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

#define LOG "container.log"

static int read_log(const char *dir, int max_file, const JsonLogReadOpts *o, Collect *c)
{
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        Error *e = NULL;
        int r = local_log_read(p, max_file, o, collect_fn, c, &e);
        if (r < 0)
                printf("# local_log_read: %s\n", e ? e->msg : "?");
        error_free(e);
        return r;
}

static const JsonLogReadOpts all_opts = { .tail = -1 };

static LocalLogEntry entry(const char *stream, const char *line, struct timespec t)
{
        return (LocalLogEntry){ .source = stream,
                                .source_len = strlen(stream),
                                .line = line,
                                .line_len = strlen(line),
                                .time_nano = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec };
}

/* "m000" ... at BASE+i s, so that every record has the same size. */
static int write_n(LocalLog *l, int from, int to)
{
        for (int i = from; i < to; i++) {
                char m[16];
                snprintf(m, sizeof(m), "m%03d", i);
                LocalLogEntry e = entry(i % 3 == 2 ? "stderr" : "stdout", m, at(BASE + i, 123456789));
                if (local_log_write(l, &e, NULL) < 0)
                        return -1;
        }
        return 0;
}

static size_t rec_size(void)
{
        LocalLogEntry e = entry("stdout", "m000", at(BASE, 123456789));
        return (size_t)local_log_record_size(&e);
}

static uint8_t *record(const LocalLogEntry *e, size_t *len)
{
        int64_t n = local_log_record_size(e);
        uint8_t *b;
        if (n < 0)
                abort();
        b = xmalloc((size_t)n);
        local_log_encode(e, b);
        *len = (size_t)n;
        return b;
}

static void append_entry(const char *dir, const char *line, int sec)
{
        LocalLogEntry e = entry("stdout", line, at(BASE + sec, 0));
        size_t n;
        _cleanup_free_ uint8_t *b = record(&e, &n);
        put_file(dir, LOG, b, n, true);
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

/* max-size for two records, max-file 4, compress: cur 6,7  .1 4,5 (plain)  .2.gz 2,3  .3.gz 0,1 */
static char *compressed_log(void)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        LocalLog *l = NULL;
        if (local_log_open(p, 2 * (int64_t)rec_size(), 4, true, &l, NULL) < 0 || write_n(l, 0, 8) < 0)
                abort();
        local_log_close(l);
        return dir;
}

static char *gunzip(const char *dir, const char *name, size_t *len)
{
        _cleanup_free_ char *p = tmpdir_path(dir, name);
        gzFile g = gzopen(p, "rb");
        size_t n = 0, cap = 1 << 16;
        char *b = xmalloc(cap);
        int k;
        if (!g) {
                free(b);
                return NULL;
        }
        while ((k = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
                n += (size_t)k;
                if (n == cap)
                        b = xrealloc(b, cap *= 2);
        }
        gzclose(g);
        *len = n;
        return b;
}

/* ---- writing ---- */

TEST(write_round_trip_and_mode)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG), *data = NULL;
        LocalLog *l = NULL;
        Collect c = { 0 };
        struct stat st;
        size_t n;
        mode_t old = umask(077);
        ASSERT_OK(local_log_open(p, 0, 1, false, &l, NULL));
        umask(old);
        for (size_t i = 0; i < ELEMENTSOF(golden); i++)
                ASSERT_OK(local_log_write(l, &golden[i].e, NULL));
        l = local_log_close(l);
        ASSERT_TRUE(l == NULL);
        /* The file is the golden records, one after the other. */
        data = slurp(dir, LOG, &n);
        {
                size_t off = 0;
                for (size_t i = 0; i < ELEMENTSOF(golden); i++) {
                        ASSERT_TRUE(off + golden[i].len <= n);
                        if (memcmp(data + off, golden[i].bytes, golden[i].len) != 0)
                                TAP_FAIL("record %zu differs", i);
                        off += golden[i].len;
                }
                ASSERT_EQ(off, n);
        }
        ASSERT_OK(stat(p, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        /* Read back: "\n" on whole lines and last pieces, none on other pieces (docker's reader). */
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        ASSERT_EQ(c.n, ELEMENTSOF(golden));
        ASSERT_STREQ(c.m[0].msg, "line 1999 out\n");
        ASSERT_STREQ(c.m[0].stream, "stdout");
        ASSERT_EQ(c.m[0].ts.tv_sec, BASE);
        ASSERT_EQ(c.m[0].ts.tv_nsec, 49396970);
        ASSERT_STREQ(c.m[1].msg, "no-newline-at-end");
        ASSERT_STREQ(c.m[1].stream, "stderr");
        ASSERT_STREQ(c.m[2].msg, "\n");
        ASSERT_STREQ(c.m[3].msg, "x\n");
        ASSERT_STREQ(c.m[4].msg, "y");
        ASSERT_STREQ(c.m[5].msg, "z");
        ASSERT_EQ(c.m[5].ts.tv_sec, -1);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(python_protobuf_reads_what_we_write)
{
        /* Google's protobuf runtime as a second decoder and encoder over a whole file of varied entries. */
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG), *out = NULL, *cmd = NULL, *want = NULL;
        LocalLog *l = NULL;
        FILE *f;
        size_t n = 0, cap = 0;
        int st;
        char line[4096], bytes[200];
        if (access("/usr/bin/python3", X_OK) < 0)
                TAP_SKIP("no /usr/bin/python3");
        ASSERT_OK(local_log_open(p, 0, 1, false, &l, NULL));
        want = xstrdup("");
        for (int i = 0; i < 300; i++) {
                size_t len = (size_t)(i * 7) % sizeof(bytes);
                char id[16], *hex = xmalloc(2 * len + 1), *w;
                for (size_t k = 0; k < len; k++)
                        bytes[k] = (char)((i * 31 + (int)k * 7) & 0xff); /* any bytes, NULs and "\n" included */
                for (size_t k = 0; k < len; k++)
                        sprintf(hex + 2 * k, "%02x", (unsigned char)bytes[k]);
                hex[2 * len] = '\0';
                snprintf(id, sizeof(id), "p%d", i / 4);
                LocalLogEntry e = { .source = i % 2 ? "stderr" : "stdout",
                                    .source_len = 6,
                                    .time_nano = (i == 7 ? -5 : 1795870870000000000LL + (int64_t)i * 999999937),
                                    .line = bytes,
                                    .line_len = len,
                                    .partial = i % 4 != 0,
                                    .last = i % 4 == 3,
                                    .id = i % 4 ? id : "",
                                    .id_len = i % 4 ? strlen(id) : 0,
                                    .ordinal = i % 4 };
                ASSERT_OK(local_log_write(l, &e, NULL));
                if (e.partial)
                        w = xasprintf("%s{\"has_meta\": true, \"id\": \"%s\", \"last\": %s, \"line\": \"%s\", "
                                      "\"ordinal\": %d, \"partial\": true, \"source\": \"%s\", \"time_nano\": %lld}\n",
                                      want, id, e.last ? "true" : "false", hex, (int)e.ordinal, e.source,
                                      (long long)e.time_nano);
                else
                        w = xasprintf("%s{\"has_meta\": false, \"line\": \"%s\", \"partial\": false, \"source\": "
                                      "\"%s\", \"time_nano\": %lld}\n",
                                      want, hex, e.source, (long long)e.time_nano);
                free(want);
                want = w;
                free(hex);
        }
        local_log_close(l);
        cmd = xasprintf("/usr/bin/python3 " SOURCE_ROOT "/tests/helpers/locallog-proto.py %s", p);
        f = popen(cmd, "r");
        ASSERT_TRUE(f != NULL);
        while (fgets(line, sizeof(line), f)) {
                size_t k = strlen(line);
                if (n + k + 1 > cap)
                        out = xrealloc(out, cap = (n + k + 1) * 2);
                memcpy(out + n, line, k + 1);
                n += k;
        }
        st = pclose(f);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
                TAP_SKIP("python3-protobuf is not installed");
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        ASSERT_TRUE(out != NULL);
        if (strcmp(out, want) != 0) {
                size_t k = 0;
                while (out[k] && out[k] == want[k])
                        k++;
                TAP_FAIL("python3-protobuf decodes otherwise, from byte %zu: %.120s", k, out + k);
        }
        tmpdir_remove(dir);
}

TEST(open_errors)
{
        LocalLog *l = NULL;
        Error *e = NULL;
        ASSERT_EQ(local_log_open("/tmp/x.log", 100, 0, false, &l, &e), -EINVAL);
        ASSERT_CONTAINS(e->msg, "max-file");
        error_clear(&e);
        ASSERT_EQ(local_log_open("/nonexistent-dir/container.log", 0, 1, false, &l, &e), -ENOENT);
        ASSERT_CONTAINS(e->msg, "/nonexistent-dir");
        error_clear(&e);
        ASSERT_EQ(local_log_open("/tmp/", 0, 1, false, &l, &e), -EINVAL);
        error_clear(&e);
        ASSERT_EQ(local_log_open("/tmp/..", 0, 1, false, &l, &e), -EINVAL);
        error_clear(&e);
}

TEST(write_refuses_an_oversized_entry)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        _cleanup_free_ char *big = xcalloc(1, LOCAL_LOG_MAX_RECORD + 1);
        LocalLog *l = NULL;
        Error *e = NULL;
        Collect c = { 0 };
        LocalLogEntry x = { .source = "stdout", .source_len = 6, .time_nano = 1, .line = big,
                            .line_len = LOCAL_LOG_MAX_RECORD };
        ASSERT_OK(local_log_open(p, 0, 1, false, &l, NULL));
        ASSERT_EQ(local_log_write(l, &x, &e), -E2BIG);
        ASSERT_CONTAINS(e->msg, "too long");
        error_clear(&e);
        ASSERT_OK(write_n(l, 0, 1)); /* and goes on */
        local_log_close(l);
        ASSERT_EQ(file_size(dir, LOG), (off_t)rec_size());
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        ASSERT_EQ(c.n, 1);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(rotation_count_and_sizes)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        LocalLog *l = NULL;
        size_t R = rec_size();
        Collect c = { 0 };
        /* Exactly three records fit in 3R: the fourth rotates. */
        ASSERT_OK(local_log_open(p, (int64_t)(3 * R), 3, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 3));
        ASSERT_TRUE(!exists(dir, LOG ".1"));
        ASSERT_OK(write_n(l, 3, 4));
        ASSERT_EQ(file_size(dir, LOG ".1"), (off_t)(3 * R));
        ASSERT_EQ(file_size(dir, LOG), (off_t)R);
        /* Many more: exactly max-file files, each within max-size, the newest records kept. */
        ASSERT_OK(write_n(l, 4, 100));
        local_log_close(l);
        ASSERT_TRUE(exists(dir, LOG) && exists(dir, LOG ".1") && exists(dir, LOG ".2"));
        ASSERT_TRUE(!exists(dir, LOG ".3") && !exists(dir, LOG ".3.gz"));
        ASSERT_EQ(file_size(dir, LOG ".2"), (off_t)(3 * R));
        ASSERT_EQ(file_size(dir, LOG ".1"), (off_t)(3 * R));
        ASSERT_EQ(file_size(dir, LOG), (off_t)R); /* 100 = 33 * 3 + 1 */
        ASSERT_OK(read_log(dir, 3, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "93,94,95,96,97,98,99");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(rotation_a_record_larger_than_max_size)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        LocalLog *l = NULL;
        Collect c = { 0 };
        char big[300];
        memset(big, 'b', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        LocalLogEntry e = entry("stdout", big, at(BASE, 0));
        ASSERT_OK(local_log_open(p, 100, 2, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 1));
        ASSERT_OK(local_log_write(l, &e, NULL)); /* alone in a fresh file */
        ASSERT_OK(write_n(l, 1, 2));
        local_log_close(l);
        ASSERT_EQ(file_size(dir, LOG ".1"), (off_t)local_log_record_size(&e));
        ASSERT_EQ(file_size(dir, LOG), (off_t)rec_size());
        ASSERT_OK(read_log(dir, 2, &all_opts, &c));
        ASSERT_EQ(c.n, 2);
        ASSERT_EQ(c.m[0].len, sizeof(big));
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(max_file_1_starts_over_and_no_rotation)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        LocalLog *l = NULL;
        Collect c = { 0 };
        ASSERT_OK(local_log_open(p, 2 * (int64_t)rec_size(), 1, true, &l, NULL));
        ASSERT_OK(write_n(l, 0, 5));
        local_log_close(l);
        ASSERT_TRUE(!exists(dir, LOG ".1"));
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "4");
        collect_free(&c);
        tmpdir_remove(dir);
        /* max-size 0 or -1: one file that grows. */
        dir = tmpdir_new("locallog");
        free(p);
        p = tmpdir_path(dir, LOG);
        ASSERT_OK(local_log_open(p, -1, 5, true, &l, NULL));
        ASSERT_OK(write_n(l, 0, 50));
        local_log_close(l);
        ASSERT_TRUE(!exists(dir, LOG ".1"));
        ASSERT_EQ(file_size(dir, LOG), (off_t)(50 * rec_size()));
        tmpdir_remove(dir);
}

TEST(compressed_rotation)
{
        char *dir = compressed_log();
        _cleanup_free_ char *two = NULL, *raw = NULL;
        size_t n = 0, rn = 0, R = rec_size();
        struct stat st;
        ASSERT_TRUE(exists(dir, LOG ".1") && !exists(dir, LOG ".1.gz"));
        ASSERT_TRUE(exists(dir, LOG ".2.gz") && !exists(dir, LOG ".2"));
        ASSERT_TRUE(exists(dir, LOG ".3.gz") && !exists(dir, LOG ".4.gz"));
        ASSERT_TRUE(!exists(dir, LOG ".2.gz.tmp"));
        /* .2.gz decompresses to records m002 and m003, byte for byte. */
        two = gunzip(dir, LOG ".2.gz", &n);
        ASSERT_TRUE(two != NULL);
        ASSERT_EQ(n, 2 * R);
        {
                LocalLogEntry e2 = entry("stderr", "m002", at(BASE + 2, 123456789));
                LocalLogEntry e3 = entry("stdout", "m003", at(BASE + 3, 123456789));
                size_t k;
                _cleanup_free_ uint8_t *r2 = record(&e2, &k), *r3 = record(&e3, &k);
                ASSERT_TRUE(memcmp(two, r2, R) == 0 && memcmp(two + R, r3, R) == 0);
        }
        _cleanup_free_ char *p = tmpdir_path(dir, LOG ".2.gz");
        ASSERT_OK(stat(p, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640);
        /* dockerd's gzip header: FEXTRA with the time of the file's last message. */
        raw = slurp(dir, LOG ".2.gz", &rn);
        ASSERT_TRUE(rn > 12 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b && (raw[3] & 0x04));
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
        ASSERT_STREQ(c.m[2].stream, "stderr");
        ASSERT_EQ(c.m[7].ts.tv_sec, BASE + 7);
        ASSERT_EQ(c.m[7].ts.tv_nsec, 123456789);
        collect_free(&c);
        ASSERT_OK(read_log(dir, 2, &all_opts, &c));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "4,5,6,7");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(reads_docker_compressed_newest_rotation)
{
        /* dockerd gzips .1 too: .1.gz is read like .1. */
        char *dir = compressed_log();
        _cleanup_free_ char *one = tmpdir_path(dir, LOG ".1"), *one_gz = tmpdir_path(dir, LOG ".1.gz"), *raw = NULL;
        Collect c = { 0 };
        size_t n;
        raw = slurp(dir, LOG ".1", &n);
        {
                gzFile g = gzopen(one_gz, "wb");
                ASSERT_TRUE(g != NULL);
                ASSERT_EQ(gzwrite(g, raw, (unsigned)n), (int)n);
                gzclose(g);
        }
        ASSERT_OK(unlink(one));
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,2,3,4,5,6,7");
        collect_free(&c);
        JsonLogReadOpts o = { .tail = 5 };
        ASSERT_OK(read_log(dir, 4, &o, &c));
        _cleanup_free_ char *got2 = numbers(&c);
        ASSERT_STREQ(got2, "3,4,5,6,7");
        collect_free(&c);
        tmpdir_remove(dir);
}

/* ---- reading: tail, since, until ---- */

TEST(tail)
{
        char *dir = compressed_log();
        static const struct {
                int64_t tail;
                const char *want;
        } cases[] = {
                { 3, "5,6,7" },  { 5, "3,4,5,6,7" },          { 1, "7" },
                { 2, "6,7" },    { 0, "" },                   { 8, "0,1,2,3,4,5,6,7" },
                { 100, "0,1,2,3,4,5,6,7" }, { -1, "0,1,2,3,4,5,6,7" },
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
                { true, true, BASE + 2, BASE + 5, 0, 2, "3,4" }, /* the tail of what passes */
                { true, true, BASE + 1, BASE + 6, 0, 4, "2,3,4,5" },
                { false, true, 0, BASE + 3, 0, 1, "2" },
                { true, false, BASE + 100, 0, 0, -1, "" },
                { true, false, BASE + 100, 0, 0, 3, "" },
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
        _cleanup_free_ char *raw = NULL;
        size_t n = 0;
        Collect c = { 0 };
        JsonLogReadOpts o = { .tail = -1, .has_since = true, .since = at(BASE, 0) };
        /* .2.gz's header now says it ended in 2000: with --since it is not opened at all. */
        raw = slurp(dir, LOG ".2.gz", &n);
        ASSERT_TRUE(memcmp(raw + 12 + 13, "2026", 4) == 0);
        memcpy(raw + 12 + 13, "2000", 4);
        put_file(dir, LOG ".2.gz", raw, n, false);
        ASSERT_OK(read_log(dir, 4, &o, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,4,5,6,7");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(tail_walks_backwards)
{
        /*
         * The backward walk reads only the end of a plain file: with garbage that no forward reading
         * could frame at its start (a length of 1 MiB exactly, then nothing like its trailer), --tail
         * still finds the last records exactly, and a full read skips the garbage.
         */
        char *dir = tmpdir_new("locallog");
        Collect c = { 0 };
        uint8_t junk[64] = { 0x00, 0x10, 0x00, 0x00 };
        JsonLogReadOpts o = { .tail = 3 };
        put_file(dir, LOG, junk, sizeof(junk), false);
        for (int i = 0; i < 1000; i++) {
                char m[16];
                snprintf(m, sizeof(m), "m%03d", i);
                append_entry(dir, m, i);
        }
        ASSERT_OK(read_log(dir, 1, &o, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "997,998,999");
        collect_free(&c);
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        ASSERT_EQ(c.n, 1000);
        ASSERT_STREQ(c.m[0].msg, "m000\n");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(callback_stops_or_fails)
{
        char *dir = compressed_log();
        Collect c = { .stop_after = 3, .stop_with = 1 };
        Error *e = NULL;
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        ASSERT_EQ(c.n, 3);
        collect_free(&c);
        c.stop_with = -EPIPE;
        ASSERT_EQ(local_log_read(p, 4, &all_opts, collect_fn, &c, &e), -EPIPE);
        ASSERT_EQ(c.n, 3);
        error_free(e);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(missing_log_is_empty)
{
        char *dir = tmpdir_new("locallog");
        Collect c = { 0 };
        Error *e = NULL;
        ASSERT_OK(read_log(dir, 5, &all_opts, &c));
        ASSERT_EQ(c.n, 0);
        ASSERT_EQ(local_log_read("/nonexistent-dir/container.log", 5, &all_opts, collect_fn, &c, &e), -ENOENT);
        error_free(e);
        tmpdir_remove(dir);
}

TEST(details)
{
        /* Attributes as later dockerds write them (field 6), printed as docker's attrsByteSlice. */
        char *dir = tmpdir_new("locallog");
        static const char rec[] = "\x00\x00\x00\x28"
                                  "\x0a\x06stdout"
                                  "\x10\x01"
                                  "\x1a\x02hi"
                                  "\x32\x0b\x0a\x03tag\x12\x04w/ b"   /* tag="w/ b" */
                                  "\x32\x0b\x0a\x03" "app\x12\x04shop" /* app=shop */
                                  "\x00\x00\x00\x28";
        Collect c = { 0 };
        JsonLogReadOpts o = { .tail = -1, .details = true };
        put_file(dir, LOG, rec, sizeof(rec) - 1, false);
        append_entry(dir, "plain", 2);
        ASSERT_OK(read_log(dir, 1, &o, &c));
        ASSERT_EQ(c.n, 2);
        ASSERT_STREQ(c.m[0].msg, "app=shop,tag=w%2F+b hi\n");
        ASSERT_STREQ(c.m[1].msg, " plain\n");
        collect_free(&c);
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        ASSERT_STREQ(c.m[0].msg, "hi\n");
        collect_free(&c);
        tmpdir_remove(dir);
}

/* ---- damage ---- */

TEST(torn_record_skipped_then_cut_by_the_writer)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        LocalLog *l = NULL;
        Collect c = { 0 };
        size_t n, R = rec_size();
        LocalLogEntry t = entry("stdout", "m900", at(BASE, 0));
        _cleanup_free_ uint8_t *torn = record(&t, &n);
        ASSERT_OK(local_log_open(p, 0, 1, false, &l, NULL));
        ASSERT_OK(write_n(l, 0, 3));
        local_log_close(l);
        /* A crash in the middle of a record: every cut, the trailer's last byte included. */
        for (size_t cut = 1; cut < n; cut++) {
                _cleanup_free_ char *orig = slurp(dir, LOG, NULL);
                put_file(dir, LOG, torn, cut, true);
                JsonLogReadOpts o = { .tail = 2 };
                ASSERT_OK(read_log(dir, 1, &all_opts, &c));
                _cleanup_free_ char *got = numbers(&c);
                if (strcmp(got, "0,1,2") != 0)
                        TAP_FAIL("cut at %zu: read %s", cut, got);
                collect_free(&c);
                ASSERT_OK(read_log(dir, 1, &o, &c));
                _cleanup_free_ char *got2 = numbers(&c);
                if (strcmp(got2, "1,2") != 0)
                        TAP_FAIL("cut at %zu: tail 2 read %s", cut, got2);
                collect_free(&c);
                put_file(dir, LOG, orig, 3 * R, false);
        }
        /* The writer, started again, cuts the torn bytes off: its records follow a whole one. */
        put_file(dir, LOG, torn, n - 1, true);
        ASSERT_OK(local_log_open(p, 0, 1, false, &l, NULL));
        ASSERT_OK(write_n(l, 3, 5));
        local_log_close(l);
        ASSERT_EQ(file_size(dir, LOG), (off_t)(5 * R));
        ASSERT_OK(read_log(dir, 1, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1,2,3,4");
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(hostile_lengths)
{
        /* Each kind of bad framing between good records: the good ones are all read, forwards and by
         * --tail, and nothing is allocated by what a length claims. */
        static const struct {
                const char *why;
                const char *b;
                size_t n;
        } bad[] = {
                { "length 2^32-1", G("\xff\xff\xff\xff" "abcdefgh") },
                { "length just over the bound", G("\x00\x10\x00\x01" "abcdefgh") },
                { "length beyond the file's end", G("\x00\x0f\xff\xff" "abcdefgh") },
                { "trailer that differs", G("\x00\x00\x00\x02" "\x10\x01" "\x00\x00\x00\x03") },
                { "trailer off by 2^24", G("\x00\x00\x00\x02" "\x10\x01" "\x01\x00\x00\x02") },
                { "framed but no LogEntry", G("\x00\x00\x00\x02" "\x08\x01" "\x00\x00\x00\x02") },
                { "zeroed space", G("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00") },
                { "a lone byte", G("\x07") },
                { "three bytes", G("\x00\x00\x01") },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *dir = tmpdir_new("locallog");
                Collect c = { 0 };
                JsonLogReadOpts o = { .tail = 3 };
                append_entry(dir, "m000", 0);
                append_entry(dir, "m001", 1);
                put_file(dir, LOG, bad[i].b, bad[i].n, true);
                append_entry(dir, "m002", 2);
                append_entry(dir, "m003", 3);
                ASSERT_OK(read_log(dir, 1, &all_opts, &c));
                _cleanup_free_ char *got = numbers(&c);
                if (strcmp(got, "0,1,2,3") != 0)
                        TAP_FAIL("%s: read %s", bad[i].why, got);
                collect_free(&c);
                ASSERT_OK(read_log(dir, 1, &o, &c));
                _cleanup_free_ char *got2 = numbers(&c);
                if (strcmp(got2, "1,2,3") != 0)
                        TAP_FAIL("%s: tail 3 read %s", bad[i].why, got2);
                collect_free(&c);
                tmpdir_remove(dir);
        }
}

TEST(damaged_gzip_keeps_what_came_before)
{
        char *dir = compressed_log();
        _cleanup_free_ char *raw = NULL;
        size_t n = 0;
        Collect c = { 0 };
        raw = slurp(dir, LOG ".3.gz", &n);
        put_file(dir, LOG ".3.gz", raw, n / 2, false);
        put_file(dir, LOG ".2.gz", "\x1f\x8b\x08\x00garbage", 11, false);
        ASSERT_OK(read_log(dir, 4, &all_opts, &c));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "4,5,6,7");
        collect_free(&c);
        tmpdir_remove(dir);
}

/* ---- follow ---- */

typedef struct Writer {
        char *path;
        int64_t max_size;
        int max_file;
        bool compress;
        bool buffered;
        int count;
        Collect *pace; /* if set, stay at most `lead` records ahead of this reader */
        int lead;
        int delay_start_ms;
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
        LocalLog *l = NULL;

        sleep_us(w->delay_start_ms * 1000L);
        if (local_log_open(w->path, w->max_size, w->max_file, w->compress, &l, NULL) < 0) {
                w->errors++;
                atomic_store(&w->done, true);
                return NULL;
        }
        local_log_set_buffered(l, w->buffered);
        for (int i = 0; i < w->count; i++) {
                char m[32];
                struct timespec now;
                while (w->pace && (int)atomic_load(&w->pace->seen) < i - w->lead)
                        sleep_us(100);
                snprintf(m, sizeof(m), "line %05d", i);
                clock_gettime(CLOCK_REALTIME, &now);
                LocalLogEntry e = entry(i % 3 ? "stdout" : "stderr", m, now);
                if (local_log_write(l, &e, NULL) < 0)
                        w->errors++;
                if (i % 20 == 19) {
                        (void)local_log_flush(l, NULL);
                        if (!w->pace)
                                sleep_us(1000);
                }
        }
        local_log_close(l);
        atomic_store(&w->done, true);
        return NULL;
}

static bool writer_running(void *ud)
{
        return !atomic_load(&((Writer *)ud)->done);
}

/* Follows the log while a writer thread writes; every record must come exactly once, in order. */
static int follow_run(Writer *w, Collect *c, int64_t tail, char **why)
{
        pthread_t th;
        JsonLogReadOpts o = { .tail = tail, .follow = true, .running = writer_running, .running_ud = w };
        Error *e = NULL;
        int r;

        if (pthread_create(&th, NULL, writer_main, w) != 0)
                return -1;
        r = local_log_read(w->path, w->max_file, &o, collect_fn, c, &e);
        pthread_join(th, NULL);
        if (r < 0) {
                *why = xasprintf("local_log_read: %s", e ? e->msg : "?");
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
                if (strcmp(c->m[i].msg, m) != 0 || strcmp(c->m[i].stream, i % 3 ? "stdout" : "stderr") != 0) {
                        *why = xasprintf("message %d is %.12s", i, c->m[i].msg);
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
        char *dir = tmpdir_new("locallog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, LOG), .max_size = 1000, .max_file = 2, .count = 600, .pace = &c, .lead = 5 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        ASSERT_TRUE(exists(dir, LOG ".1"));
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_catches_up_over_compressed_rotations)
{
        /* A slow reader many rotations behind finds its place again, in compressed files too. */
        char *dir = tmpdir_new("locallog");
        Collect c = { .sleep_every = 150 };
        Writer w = { .path = tmpdir_path(dir, LOG), .max_size = 1000, .max_file = 400, .compress = true,
                     .buffered = true, .count = 2000 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        ASSERT_TRUE(exists(dir, LOG ".2.gz"));
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_max_file_1)
{
        char *dir = tmpdir_new("locallog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, LOG), .max_size = 1000, .max_file = 1, .count = 300, .pace = &c, .lead = 3 };
        char *why = NULL;
        if (follow_run(&w, &c, -1, &why) < 0)
                TAP_FAIL("%s", why);
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_a_log_that_appears_later)
{
        char *dir = tmpdir_new("locallog");
        Collect c = { 0 };
        Writer w = { .path = tmpdir_path(dir, LOG), .max_size = 0, .max_file = 1, .count = 50, .delay_start_ms = 300 };
        char *why = NULL;
        if (follow_run(&w, &c, 0, &why) < 0)
                TAP_FAIL("%s", why);
        free(w.path);
        collect_free(&c);
        tmpdir_remove(dir);
}

TEST(follow_tail_then_stop)
{
        char *dir = compressed_log();
        Writer w = { .path = tmpdir_path(dir, LOG) };
        Collect c = { 0 };
        JsonLogReadOpts o = { .tail = 2, .follow = true, .running = writer_running, .running_ud = &w };
        atomic_store(&w.done, true);
        ASSERT_OK(local_log_read(w.path, 4, &o, collect_fn, &c, NULL));
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "6,7");
        collect_free(&c);
        o.running = NULL;
        o.has_until = true;
        o.until = at(BASE + 7, 0);
        ASSERT_OK(local_log_read(w.path, 4, &o, collect_fn, &c, NULL));
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
        LocalLogEntry a = entry("stdout", "m000", at(BASE, 0)), b = entry("stdout", "m001", at(BASE + 1, 0));
        size_t na, nb;
        _cleanup_free_ uint8_t *ra = record(&a, &na), *rb = record(&b, &nb);
        int fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        /* Half a record, a pause (the reader must wait for the rest, not skip it), the rest. */
        (void)write_all(fd, ra, 7);
        sleep_us(400 * 1000);
        (void)write_all(fd, ra + 7, na - 7);
        (void)write_all(fd, rb, nb);
        close(fd);
        atomic_store(&w->done, true);
        return NULL;
}

static bool raw_running(void *ud)
{
        return !atomic_load(&((RawWriter *)ud)->done);
}

TEST(follow_waits_for_the_rest_of_a_record)
{
        char *dir = tmpdir_new("locallog");
        RawWriter w = { .path = tmpdir_path(dir, LOG) };
        Collect c = { 0 };
        pthread_t th;
        JsonLogReadOpts o = { .tail = -1, .follow = true, .running = raw_running, .running_ud = &w };
        put_file(dir, LOG, "", 0, false);
        ASSERT_EQ(pthread_create(&th, NULL, raw_writer_main, &w), 0);
        ASSERT_OK(local_log_read(w.path, 1, &o, collect_fn, &c, NULL));
        pthread_join(th, NULL);
        _cleanup_free_ char *got = numbers(&c);
        ASSERT_STREQ(got, "0,1");
        collect_free(&c);
        free(w.path);
        tmpdir_remove(dir);
}

/* ---- the driver ---- */

TEST(driver_writes_messages_and_pieces)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG), *data = NULL;
        json_t *cfg = json_pack("{s:s, s:s}", "max-size", "1k", "max-file", "2");
        LogInfo info = { .id = "x", .log_path = p, .config = cfg };
        LogDriver *d = NULL;
        Collect c = { 0 };
        size_t n;
        ASSERT_TRUE(log_driver_local.open != NULL && STREQ(log_driver_local.name, "local"));
        ASSERT_OK(log_driver_local.open(&info, &d, NULL));
        LogMsg a = { .stream = "stdout", .line = "hello\n", .len = 5, .newline = true, .ts = at(BASE, 49396970) };
        LogMsg p1 = { .stream = "stderr", .line = "piece", .len = 5, .ts = at(BASE, 1),
                      .partial_id = ID64, .partial_ordinal = 1 };
        LogMsg p2 = { .stream = "stderr", .line = "end\n", .len = 3, .newline = true, .ts = at(BASE, 1),
                      .partial_id = ID64, .partial_ordinal = 2, .partial_last = true };
        LogMsg u = { .stream = "stdout", .line = "unfinished", .len = 10, .ts = at(BASE + 1, 0),
                     .partial_id = ID64, .partial_ordinal = 1 };
        ASSERT_OK(log_driver_local.log(d, &a, NULL));
        ASSERT_OK(log_driver_local.log(d, &p1, NULL));
        ASSERT_OK(log_driver_local.log(d, &p2, NULL));
        ASSERT_OK(log_driver_local.log(d, &u, NULL));
        ASSERT_OK(log_driver_local.flush(d, NULL));
        /* The first record is golden's first shape: no "\n" stored. */
        data = slurp(dir, LOG, &n);
        {
                LocalLogEntry want = entry("stdout", "hello", at(BASE, 49396970));
                size_t k;
                _cleanup_free_ uint8_t *r = record(&want, &k);
                ASSERT_TRUE(n > k && memcmp(data, r, k) == 0);
        }
        ASSERT_OK(read_log(dir, 2, &all_opts, &c));
        ASSERT_EQ(c.n, 4);
        ASSERT_STREQ(c.m[0].msg, "hello\n");
        ASSERT_STREQ(c.m[1].msg, "piece");
        ASSERT_STREQ(c.m[2].msg, "end\n");
        ASSERT_STREQ(c.m[3].msg, "unfinished"); /* the unfinished end keeps no "\n" */
        ASSERT_STREQ(c.m[1].stream, "stderr");
        collect_free(&c);
        /* A time Go's UnixNano cannot hold is refused, and the driver goes on. */
        LogMsg far = { .stream = "stdout", .line = "x", .len = 1, .ts = at((time_t)1 << 40, 0) };
        Error *e = NULL;
        ASSERT_EQ(log_driver_local.log(d, &far, &e), -ERANGE);
        error_free(e);
        log_driver_local.close(d);
        json_decref(cfg);
        tmpdir_remove(dir);
}

TEST(driver_defaults_and_options)
{
        char *dir = tmpdir_new("locallog");
        _cleanup_free_ char *p = tmpdir_path(dir, LOG);
        json_t *cfg = json_object();
        LogInfo info = { .id = "x", .log_path = p, .config = cfg };
        LogDriver *d = NULL;
        Error *e = NULL;
        char line[1000];
        memset(line, 'q', sizeof(line));
        /* Defaults: 20m, so 3000 records of ~1 KiB stay in one file. */
        ASSERT_OK(log_driver_local.open(&info, &d, NULL));
        for (int i = 0; i < 3000; i++) {
                LogMsg m = { .stream = "stdout", .line = line, .len = sizeof(line), .ts = at(BASE + i, 0) };
                ASSERT_OK(log_driver_local.log(d, &m, NULL));
        }
        log_driver_local.close(d);
        ASSERT_TRUE(!exists(dir, LOG ".1"));
        /* 100k, max-file 3, compress default (true): three files, the oldest gzipped. */
        json_object_set_new(cfg, "max-size", json_string("100k"));
        json_object_set_new(cfg, "max-file", json_string("3"));
        ASSERT_OK(log_driver_local.open(&info, &d, NULL));
        for (int i = 0; i < 3000; i++) {
                LogMsg m = { .stream = "stdout", .line = line, .len = sizeof(line), .ts = at(BASE + i, 0) };
                ASSERT_OK(log_driver_local.log(d, &m, NULL));
        }
        log_driver_local.close(d);
        ASSERT_TRUE(exists(dir, LOG ".1") && exists(dir, LOG ".2.gz") && !exists(dir, LOG ".3.gz"));
        ASSERT_TRUE(file_size(dir, LOG) <= 102400 && file_size(dir, LOG ".1") <= 102400);
        /* compress=false */
        tmpdir_remove(dir);
        dir = tmpdir_new("locallog");
        free(p);
        p = tmpdir_path(dir, LOG);
        info.log_path = p;
        json_object_set_new(cfg, "compress", json_string("false"));
        ASSERT_OK(log_driver_local.open(&info, &d, NULL));
        for (int i = 0; i < 400; i++) {
                LogMsg m = { .stream = "stdout", .line = line, .len = sizeof(line), .ts = at(BASE + i, 0) };
                ASSERT_OK(log_driver_local.log(d, &m, NULL));
        }
        log_driver_local.close(d);
        ASSERT_TRUE(exists(dir, LOG ".2") && !exists(dir, LOG ".2.gz"));
        /* No log path: refused, naming the driver. */
        info.log_path = "";
        ASSERT_TRUE(log_driver_local.open(&info, &d, &e) < 0);
        ASSERT_CONTAINS(e->msg, "local");
        error_clear(&e);
        json_decref(cfg);
        tmpdir_remove(dir);
}
