/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Docker's `local` log format: records, the writer with rotation, and the reader (see locallog.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "json-util.h"
#include "locallog.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000LL
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* The same bounds and pacing as json-file's reader and writer (jsonlog.c). */
#define WRITER_LOCK_TRIES 100
#define READER_LOCK_TRIES 1000
#define CUR_MISSING_TRIES 200
#define READ_CHUNK        65536
#define FOLLOW_POLL_MS    250

#define GZ_FEXTRA 0x04

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

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

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* A growable byte buffer. */
typedef struct Buf {
        uint8_t *data;
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
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

/* ================================================================ the format */

/* Bytes of v as a varint. */
static size_t varint_size(uint64_t v)
{
        size_t n = 1;
        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
        while (v >= 0x80) {
                *o++ = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        *o++ = (uint8_t)v;
        return o;
}

/* A length-delimited field of n bytes, key included. */
static size_t len_field_size(size_t n)
{
        return 1 + varint_size(n) + n;
}

static uint8_t *put_len_field(uint8_t *o, uint8_t key, const void *p, size_t n)
{
        *o++ = key;
        o = put_varint(o, n);
        if (n)
                memcpy(o, p, n);
        return o + n;
}

static size_t meta_size(const LocalLogEntry *e)
{
        size_t n = 0;

        if (e->last)
                n += 2;
        if (e->id_len)
                n += len_field_size(e->id_len);
        if (e->ordinal)
                n += 1 + varint_size((uint64_t)(int64_t)e->ordinal); /* an int32 sign-extends */
        return n;
}

static size_t body_size(const LocalLogEntry *e)
{
        size_t n = 0;

        if (e->source_len)
                n += len_field_size(e->source_len);
        if (e->time_nano)
                n += 1 + varint_size((uint64_t)e->time_nano);
        if (e->line_len)
                n += len_field_size(e->line_len);
        if (e->partial)
                n += 2 + len_field_size(meta_size(e)); /* partial = 4, then partial_log_metadata = 5 */
        return n;
}

int64_t local_log_record_size(const LocalLogEntry *e)
{
        /* Each part bounded first, so that the sum cannot wrap whatever the caller passes. */
        if (e->source_len > LOCAL_LOG_MAX_RECORD || e->line_len > LOCAL_LOG_MAX_RECORD ||
            e->id_len > LOCAL_LOG_MAX_RECORD)
                return -E2BIG;
        size_t n = body_size(e);
        if (n > LOCAL_LOG_MAX_RECORD)
                return -E2BIG;
        return (int64_t)(n + LOCAL_LOG_FRAME);
}

void local_log_encode(const LocalLogEntry *e, uint8_t *out)
{
        size_t n = body_size(e);
        uint8_t *o = out + 4;

        put_be32(out, (uint32_t)n);
        /* Ascending field numbers, defaults left out: gogo-protobuf's MarshalTo. */
        if (e->source_len)
                o = put_len_field(o, 1 << 3 | WT_LEN, e->source, e->source_len);
        if (e->time_nano) {
                *o++ = 2 << 3 | WT_VARINT;
                o = put_varint(o, (uint64_t)e->time_nano);
        }
        if (e->line_len)
                o = put_len_field(o, 3 << 3 | WT_LEN, e->line, e->line_len);
        if (e->partial) {
                *o++ = 4 << 3 | WT_VARINT;
                *o++ = 1;
                *o++ = 5 << 3 | WT_LEN;
                o = put_varint(o, meta_size(e));
                if (e->last) {
                        *o++ = 1 << 3 | WT_VARINT;
                        *o++ = 1;
                }
                if (e->id_len)
                        o = put_len_field(o, 2 << 3 | WT_LEN, e->id, e->id_len);
                if (e->ordinal) {
                        *o++ = 3 << 3 | WT_VARINT;
                        o = put_varint(o, (uint64_t)(int64_t)e->ordinal);
                }
        }
        put_be32(o, (uint32_t)n);
}

/* A varint of at most ten bytes (what Go's decoders take; the tenth byte's high bits are lost as there). */
static int get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *ret)
{
        uint64_t v = 0;

        for (unsigned shift = 0; shift < 70; shift += 7) {
                uint8_t b;
                if (*i >= n)
                        return -EINVAL;
                b = p[(*i)++];
                v |= (uint64_t)(b & 0x7f) << shift;
                if (b < 0x80) {
                        *ret = v;
                        return 0;
                }
        }
        return -EINVAL;
}

/* The payload of a length-delimited field: bounded by what is left of the message. */
static int get_bytes(const uint8_t *p, size_t n, size_t *i, const uint8_t **ret, size_t *ret_len)
{
        uint64_t len;

        if (get_varint(p, n, i, &len) < 0 || len > n - *i)
                return -EINVAL;
        *ret = p + *i;
        *ret_len = (size_t)len;
        *i += (size_t)len;
        return 0;
}

/* The next key: field number (1 .. 2^29-1, as protobuf allows) and wire type. */
static int get_key(const uint8_t *p, size_t n, size_t *i, uint32_t *field, int *wt)
{
        uint64_t k;

        if (get_varint(p, n, i, &k) < 0)
                return -EINVAL;
        *field = (uint32_t)(k >> 3);
        *wt = (int)(k & 7);
        if (k >> 3 == 0 || k >> 3 > 0x1fffffff)
                return -EINVAL;
        return 0;
}

/* Skips an unknown field.  Groups (deprecated, never written by docker) are damage here. */
static int skip_field(const uint8_t *p, size_t n, size_t *i, int wt)
{
        uint64_t v;
        const uint8_t *b;
        size_t bl;

        switch (wt) {
        case WT_VARINT:
                return get_varint(p, n, i, &v);
        case WT_I64:
                if (n - *i < 8)
                        return -EINVAL;
                *i += 8;
                return 0;
        case WT_LEN:
                return get_bytes(p, n, i, &b, &bl);
        case WT_I32:
                if (n - *i < 4)
                        return -EINVAL;
                *i += 4;
                return 0;
        default:
                return -EINVAL;
        }
}

static int decode_meta(const uint8_t *p, size_t n, LocalLogEntry *e)
{
        size_t i = 0;

        while (i < n) {
                uint32_t f;
                uint64_t v;
                const uint8_t *b;
                size_t bl;
                int wt;

                if (get_key(p, n, &i, &f, &wt) < 0)
                        return -EINVAL;
                if (f == 1 || f == 3) {
                        if (wt != WT_VARINT || get_varint(p, n, &i, &v) < 0)
                                return -EINVAL;
                        if (f == 1)
                                e->last = v != 0;
                        else
                                e->ordinal = (int32_t)(uint32_t)v;
                } else if (f == 2) {
                        if (wt != WT_LEN || get_bytes(p, n, &i, &b, &bl) < 0)
                                return -EINVAL;
                        e->id = (const char *)b;
                        e->id_len = bl;
                } else if (skip_field(p, n, &i, wt) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int decode_attr(const uint8_t *p, size_t n, LocalLogAttr *a)
{
        size_t i = 0;

        *a = (LocalLogAttr){ .key = "", .value = "" };
        while (i < n) {
                uint32_t f;
                const uint8_t *b;
                size_t bl;
                int wt;

                if (get_key(p, n, &i, &f, &wt) < 0)
                        return -EINVAL;
                if (f == 1 || f == 2) {
                        if (wt != WT_LEN || get_bytes(p, n, &i, &b, &bl) < 0)
                                return -EINVAL;
                        if (f == 1) {
                                a->key = (const char *)b;
                                a->key_len = bl;
                        } else {
                                a->value = (const char *)b;
                                a->value_len = bl;
                        }
                } else if (skip_field(p, n, &i, wt) < 0)
                        return -EINVAL;
        }
        return 0;
}

int local_log_decode(const uint8_t *p, size_t n, LocalLogEntry *e, LocalLogAttr **attrs, size_t *n_attrs)
{
        size_t i = 0;

        if (n > LOCAL_LOG_MAX_RECORD)
                return -E2BIG;
        *e = (LocalLogEntry){ .source = "", .line = "", .id = "" };
        while (i < n) {
                uint32_t f;
                uint64_t v;
                const uint8_t *b;
                size_t bl;
                int wt;

                if (get_key(p, n, &i, &f, &wt) < 0)
                        return -EINVAL;
                switch (f) {
                case 1: /* source */
                case 3: /* line */
                        if (wt != WT_LEN || get_bytes(p, n, &i, &b, &bl) < 0)
                                return -EINVAL;
                        if (f == 1) {
                                e->source = (const char *)b;
                                e->source_len = bl;
                        } else {
                                e->line = (const char *)b;
                                e->line_len = bl;
                        }
                        break;
                case 2: /* time_nano */
                case 4: /* partial */
                        if (wt != WT_VARINT || get_varint(p, n, &i, &v) < 0)
                                return -EINVAL;
                        if (f == 2)
                                e->time_nano = (int64_t)v;
                        else
                                e->partial = v != 0;
                        break;
                case 5: /* partial_log_metadata: a second occurrence merges into the first, as protobuf's */
                        if (wt != WT_LEN || get_bytes(p, n, &i, &b, &bl) < 0 || decode_meta(b, bl, e) < 0)
                                return -EINVAL;
                        e->has_meta = true;
                        break;
                case 6: { /* attrs */
                        LocalLogAttr a;
                        if (wt != WT_LEN || get_bytes(p, n, &i, &b, &bl) < 0 || decode_attr(b, bl, &a) < 0)
                                return -EINVAL;
                        if (attrs) {
                                /* At most one per two bytes of the body: bounded by LOCAL_LOG_MAX_RECORD. */
                                *attrs = xrealloc(*attrs, (*n_attrs + 1) * sizeof(**attrs));
                                (*attrs)[(*n_attrs)++] = a;
                        }
                        break;
                }
                default:
                        if (skip_field(p, n, &i, wt) < 0)
                                return -EINVAL;
                        break;
                }
        }
        return 0;
}

struct timespec local_log_entry_time(const LocalLogEntry *e)
{
        int64_t sec = e->time_nano / NSEC_PER_SEC, nsec = e->time_nano % NSEC_PER_SEC;

        if (nsec < 0) {
                nsec += NSEC_PER_SEC;
                sec--;
        }
        return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = (long)nsec };
}

/* ================================================================ reading records forwards */

/*
 * Records of a plain or gzipped file, in order.  The framing is checked at each step; where it does
 * not hold (see locallog.h) the reader moves on byte by byte until a well-framed record that decodes
 * starts again.  Memory: at most LOCAL_LOG_MAX_RECORD + framing + 2 chunks.
 */
typedef struct RecReader {
        int fd; /* not owned */
        z_stream *z;
        unsigned char *zin;
        bool zeof;
        uint8_t *buf;
        size_t start, len, cap;
        uint64_t consumed; /* plain: the file offset of buf[len] */
        uint64_t limit;    /* plain: read nothing at or beyond this offset */
        uint64_t sealed;   /* plain: a whole record ends here, so no record runs across it */
        bool resync;       /* looking for the next good record after damage */
} RecReader;

static void rr_done(RecReader *r)
{
        if (r->z) {
                inflateEnd(r->z);
                free(r->z);
        }
        free(r->zin);
        free(r->buf);
        *r = (RecReader){ .fd = -EBADF };
}

/* Starts reading fd (not owned) at `offset` (plain) or from its beginning (gz). */
static void rr_start(RecReader *r, int fd, bool gz, uint64_t offset)
{
        *r = (RecReader){ .fd = fd, .consumed = gz ? 0 : offset, .limit = UINT64_MAX };
        if (!gz)
                return;
        (void)lseek(fd, 0, SEEK_SET);
        r->z = xcalloc(1, sizeof(*r->z));
        r->zin = xmalloc(READ_CHUNK);
        if (inflateInit2(r->z, 15 + 16) != Z_OK) {
                free(r->z);
                r->z = NULL;
                r->zeof = true;
        }
}

/* The file offset of the byte at buf[start] (plain files). */
static uint64_t rr_offset(const RecReader *r)
{
        return r->consumed - (r->len - r->start);
}

static ssize_t rr_fill(RecReader *r, uint8_t *p, size_t n)
{
        if (r->z || r->zeof) {
                /* Damaged compressed data ends the file: what came before it is kept. */
                while (!r->zeof) {
                        size_t want = MIN_SZ(n, (size_t)UINT32_MAX), got;
                        int zr;
                        if (r->z->avail_in == 0) {
                                ssize_t k = read(r->fd, r->zin, READ_CHUNK);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        r->zeof = true;
                                        return 0;
                                }
                                r->z->next_in = r->zin;
                                r->z->avail_in = (uInt)k;
                        }
                        r->z->next_out = p;
                        r->z->avail_out = (uInt)want;
                        zr = inflate(r->z, Z_NO_FLUSH);
                        got = want - r->z->avail_out;
                        if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
                                r->zeof = true;
                        if (got > 0)
                                return (ssize_t)got;
                }
                return 0;
        }
        if (r->consumed >= r->limit)
                return 0;
        if (r->limit - r->consumed < n)
                n = (size_t)(r->limit - r->consumed);
        for (;;) {
                /* pread: the fd may be shared (first_record()). */
                ssize_t k = pread(r->fd, p, n, (off_t)r->consumed);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                r->consumed += (uint64_t)k;
                return k;
        }
}

/*
 * While resynchronising, a candidate body must start with a key of LogEntry's own (docker's and ours
 * start with source, 0x0a): fewer false starts, and no decoding of every byte of a damaged stretch.
 */
static bool plausible_start(uint8_t key)
{
        return key == (1 << 3 | WT_LEN) || key == (2 << 3 | WT_VARINT) || key == (3 << 3 | WT_LEN) ||
               key == (4 << 3 | WT_VARINT) || key == (5 << 3 | WT_LEN) || key == (6 << 3 | WT_LEN);
}

/*
 * The next record: 1 with *e (pointing into the reader's buffer, valid until the next call) and, for
 * plain files, *ret_off its offset; 0 when no whole record is there; -errno.  `final`: nothing more
 * will be appended (a rotated file), so bytes that cannot complete a record are damage and are looked
 * through; otherwise they wait for more, unless they start before `sealed` (a record that would run
 * across a whole record's end is no record).
 */
static int rr_next(RecReader *r, bool final, LocalLogEntry *e, LocalLogAttr **attrs, size_t *n_attrs,
                   uint64_t *ret_off)
{
        for (;;) {
                size_t avail = r->len - r->start;
                ssize_t k;

                if (avail >= 4) {
                        uint8_t *p = r->buf + r->start;
                        uint32_t n = get_be32(p);
                        if (n > LOCAL_LOG_MAX_RECORD) {
                                r->start++;
                                r->resync = true;
                                continue;
                        }
                        if (avail >= (size_t)n + LOCAL_LOG_FRAME) {
                                if (get_be32(p + 4 + n) != n) {
                                        r->start++;
                                        r->resync = true;
                                        continue;
                                }
                                if (n == 0) {
                                        /*
                                         * Never written (an entry has at least its time): zeroed space
                                         * after a crash.  Walked a byte at a time, so that a run of
                                         * zeros of any length never swallows the start of the next
                                         * record (whose length begins with zero bytes too).
                                         */
                                        r->start++;
                                        r->resync = true;
                                        continue;
                                }
                                if (r->resync && !plausible_start(p[4])) {
                                        r->start++;
                                        continue;
                                }
                                if (n_attrs)
                                        *n_attrs = 0;
                                if (local_log_decode(p + 4, n, e, attrs, n_attrs) < 0) {
                                        /* Well framed but no LogEntry: skipped whole, unless the framing
                                         * itself is a guess made while resynchronising. */
                                        r->start += r->resync ? 1 : (size_t)n + LOCAL_LOG_FRAME;
                                        continue;
                                }
                                if (ret_off)
                                        *ret_off = r->z || r->zeof ? 0 : rr_offset(r);
                                r->start += (size_t)n + LOCAL_LOG_FRAME;
                                r->resync = false;
                                return 1;
                        }
                }
                /* More bytes are needed. */
                if (r->start > 0) {
                        memmove(r->buf, r->buf + r->start, avail);
                        r->len = avail;
                        r->start = 0;
                }
                if (r->cap - r->len < READ_CHUNK) {
                        r->cap = r->len + 2 * READ_CHUNK;
                        r->buf = xrealloc(r->buf, r->cap);
                }
                k = rr_fill(r, r->buf + r->len, r->cap - r->len);
                if (k < 0)
                        return (int)k;
                if (k > 0) {
                        r->len += (size_t)k;
                        continue;
                }
                if (avail == 0 || (!final && rr_offset(r) >= r->sealed))
                        return 0;
                if (avail < LOCAL_LOG_FRAME) {
                        r->start = r->len; /* too short for any record: the end of a torn one */
                        return 0;
                }
                /* A record cut short, or a length that is damage: look for whole records after it. */
                r->start++;
                r->resync = true;
        }
}

/*
 * Reads `len` bytes at `off` of a plain file; false on a short read.
 */
static bool pread_exact(int fd, void *p, size_t len, uint64_t off)
{
        size_t got = 0;

        while (got < len) {
                ssize_t k = pread(fd, (uint8_t *)p + got, len - got, (off_t)(off + got));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                got += (size_t)k;
        }
        return true;
}

/*
 * The record that ends at `end` in a plain file, found by its trailing length: 1 with its body in *body
 * (reallocated as needed) and *ret_len, 0 if the framing does not hold there (damage, a torn end, zeros).
 */
static int record_before(int fd, uint64_t end, Buf *body, uint32_t *ret_len)
{
        uint8_t l[4];
        uint32_t n;

        if (end < LOCAL_LOG_FRAME || !pread_exact(fd, l, 4, end - 4))
                return 0;
        n = get_be32(l);
        if (n == 0 || n > LOCAL_LOG_MAX_RECORD || (uint64_t)n + LOCAL_LOG_FRAME > end)
                return 0;
        body->len = 0;
        buf_reserve(body, (size_t)n + 4);
        if (!pread_exact(fd, body->data, (size_t)n + 4, end - LOCAL_LOG_FRAME - n) || get_be32(body->data) != n)
                return 0;
        memmove(body->data, body->data + 4, n);
        body->len = n;
        *ret_len = n;
        return 1;
}

/*
 * Where the whole records of a plain file end: `size` when the last record is whole, else the end of
 * the last whole record a forward reading finds (0 if none).
 */
static int64_t whole_end(int fd, uint64_t size, struct timespec *ret_last)
{
        Buf body = { 0 };
        LocalLogEntry e;
        RecReader rr;
        uint64_t off, end = 0;
        uint32_t n;
        int r;

        if (size == 0)
                return 0;
        if (record_before(fd, size, &body, &n) > 0 && local_log_decode(body.data, n, &e, NULL, NULL) == 0) {
                if (ret_last)
                        *ret_last = local_log_entry_time(&e);
                free(body.data);
                return (int64_t)size;
        }
        free(body.data);
        rr_start(&rr, fd, false, 0);
        rr.limit = size;
        while ((r = rr_next(&rr, true, &e, NULL, NULL, &off)) > 0) {
                end = rr_offset(&rr);
                if (ret_last)
                        *ret_last = local_log_entry_time(&e);
        }
        rr_done(&rr);
        if (r < 0)
                return r;
        return (int64_t)end;
}

/* ================================================================ paths and locks */

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

/* How many rotated files there are, at most max: .1 ... .k exist (plain or gzipped), .k+1 does not. */
static int count_rotated(int dirfd, const char *name, int max)
{
        int k = 0;

        while (k < max) {
                _cleanup_free_ char *p = rotated_name(name, k + 1, false), *g = rotated_name(name, k + 1, true);
                if (faccessat(dirfd, p, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && faccessat(dirfd, g, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        break;
                k++;
        }
        return k;
}

/* flock with a bounded wait: neither the writer nor a reader may hang the other. */
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

        /* O_NONBLOCK: a FIFO put in the file's place must not hang us in open(). */
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

/* ================================================================ the writer */

struct LocalLog {
        int dirfd;
        char *name; /* the current file, in dirfd */
        char *path; /* for messages */
        int fd;     /* O_APPEND; -EBADF after a rotation that could not open the next file */
        int64_t size;
        int64_t max_size;
        int max_file;
        bool compress;
        Buf rec; /* the record being written, reused */
        bool buffered;
        Buf out; /* buffered mode: records not yet written (size does not count them) */
};

static int open_current(LocalLog *l, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool created = true;
        int64_t end;

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
        if (created && fchmod(fd, 0640) < 0)
                return error_set(err, errno, "chmod %s", l->path);
        l->size = st.st_size;
        /*
         * A crash mid-write leaves a torn record at the end.  Our records appended after it would be
         * read as its rest (and docker's reader stops there), so the torn bytes are cut off.
         */
        end = whole_end(fd, (uint64_t)st.st_size, NULL);
        if (end < 0)
                return error_set(err, (int)-end, "reading %s", l->path);
        if (end < st.st_size) {
                if (ftruncate(fd, end) < 0)
                        return error_set(err, errno, "cutting the torn end off %s", l->path);
                l->size = end;
        }
        l->fd = TAKE_FD(fd);
        return 0;
}

int local_log_open(const char *path, int64_t max_size, int max_file, bool compress, LocalLog **ret, Error **err)
{
        _cleanup_(local_log_closep) LocalLog *l = NULL;
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

LocalLog *local_log_close(LocalLog *l)
{
        if (!l)
                return NULL;
        (void)local_log_flush(l, NULL);
        if (l->fd >= 0)
                close(l->fd);
        if (l->dirfd >= 0)
                close(l->dirfd);
        free(l->out.data);
        free(l->rec.data);
        free(l->name);
        free(l->path);
        free(l);
        return NULL;
}

/*
 * Gzips dirfd/src into dirfd/dst (0640), with docker's {"lastTime":"..."} (the time of the file's last
 * record) as the gzip header's FEXTRA, MTIME 0 and OS 255 as Go's gzip.Writer writes them.
 */
static int compress_file(int dirfd, const char *src, const char *dst)
{
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        _cleanup_free_ char *extra = NULL;
        _cleanup_free_ unsigned char *chunk = NULL, *obuf = NULL;
        struct timespec last = { 0 };
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
        if (whole_end(in, (uint64_t)st.st_size, &last) > 0) {
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
                z.next_in = chunk;
                z.avail_in = (uInt)n;
                do {
                        z.next_out = obuf;
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
 * Rotation, as json-file's: the oldest goes, .i moves to .i+1, .1 is compressed into .2.gz when asked
 * (before the lock is taken: .1 does not change), the current file becomes .1 and an empty one starts.
 * With max_file 1 the file is replaced by a new one (a follower sees the switch by its inode).
 */
static int rotate(LocalLog *l, Error **err)
{
        _cleanup_free_ char *tmp = NULL, *one = rotated_name(l->name, 1, false);
        bool gz_ready = false, locked = false;
        int old_fd = l->fd, r = 0;

        if (l->max_file >= 3 && l->compress) {
                tmp = xasprintf("%s.2.gz.tmp", l->name);
                r = compress_file(l->dirfd, one, tmp);
                gz_ready = r == 0;
                if (r < 0)
                        (void)unlink_if_exists(l->dirfd, tmp); /* .1 moves on plain: the log matters more */
                r = 0;
        }
        if (old_fd >= 0)
                locked = lock_bounded(old_fd, LOCK_EX, WRITER_LOCK_TRIES);
        if (l->max_file >= 2) {
                int k = count_rotated(l->dirfd, l->name, l->max_file - 1);
                if (k == l->max_file - 1) {
                        _cleanup_free_ char *oldest = rotated_name(l->name, k, false);
                        _cleanup_free_ char *oldest_gz = rotated_name(l->name, k, true);
                        if ((r = unlink_if_exists(l->dirfd, oldest)) < 0 ||
                            (r = unlink_if_exists(l->dirfd, oldest_gz)) < 0) {
                                error_set(err, -r, "max-file: removing %s", oldest);
                                goto finish;
                        }
                        k--;
                }
                for (int i = k; i >= 2; i--)
                        for (int gz = 0; gz <= 1; gz++) {
                                _cleanup_free_ char *from = rotated_name(l->name, i, gz);
                                _cleanup_free_ char *to = rotated_name(l->name, i + 1, gz);
                                if ((r = rename_if_exists(l->dirfd, from, to)) < 0) {
                                        error_set(err, -r, "max-file: renaming %s to %s", from, to);
                                        goto finish;
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
        } else if ((r = unlink_if_exists(l->dirfd, l->name)) < 0) {
                error_set(err, -r, "max-size: removing %s", l->path);
                goto finish;
        }
        l->fd = -EBADF;
        r = open_current(l, err);
finish:
        if (l->fd != old_fd && old_fd >= 0)
                close(old_fd); /* and with it the lock */
        else if (locked)
                (void)flock(old_fd, LOCK_UN);
        if (tmp && gz_ready && r < 0)
                (void)unlink_if_exists(l->dirfd, tmp);
        return r;
}

/* Appends bytes to the current file; a torn write is cut off again. */
static int write_out(LocalLog *l, const uint8_t *p, size_t n, Error **err)
{
        int r = write_all(l->fd, p, n);

        if (r < 0) {
                (void)ftruncate(l->fd, l->size);
                return error_set(err, -r, "writing to %s", l->path);
        }
        l->size += (int64_t)n;
        return 0;
}

int local_log_flush(LocalLog *l, Error **err)
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

void local_log_set_buffered(LocalLog *l, bool on)
{
        if (!on)
                (void)local_log_flush(l, NULL);
        l->buffered = on;
}

int local_log_write(LocalLog *l, const LocalLogEntry *e, Error **err)
{
        int64_t size = local_log_record_size(e);
        int r;

        if (size < 0)
                return error_setx(err, E2BIG, "log message of %zu bytes is too long", e->line_len);
        l->rec.len = 0;
        buf_reserve(&l->rec, (size_t)size);
        local_log_encode(e, l->rec.data);
        l->rec.len = (size_t)size;
        if (l->fd < 0) {
                r = open_current(l, err);
                if (r < 0)
                        return r;
        }
        if (l->max_size > 0 && l->size + (int64_t)l->out.len > 0 &&
            l->size + (int64_t)l->out.len + size > l->max_size) {
                r = local_log_flush(l, err);
                if (r < 0)
                        return r;
                r = rotate(l, err);
                if (r < 0)
                        return r;
        }
        if (l->buffered) {
                buf_put(&l->out, l->rec.data, l->rec.len);
                return l->out.len >= JSONLOG_BUFFER ? local_log_flush(l, err) : 0;
        }
        return write_out(l, l->rec.data, l->rec.len, err);
}

/* ================================================================ the reader */

typedef struct LogFile {
        int fd;
        bool gz;
        bool current;
        struct stat st;
        /* Where reading starts, once --tail has been worked out. */
        bool skip_file;
        uint64_t start; /* plain: the offset of the first record to read */
        uint64_t skip;  /* gz: messages that pass since/until to pass over first */
} LogFile;

typedef struct Reader {
        const JsonLogReadOpts *o;
        jsonlog_msg_fn fn;
        void *ud;
        int dirfd;
        char *name;
        int rotated; /* how many rotated files there can be */
        uint64_t skip; /* messages still to pass over (gz files under --tail) */
        /* The current file, followed. */
        bool has_cur;
        int cur_fd;
        struct stat cur_st;
        RecReader cur;
        /* Without a current file (a writer that crashed mid-rotation), the newest file read. */
        int last_fd;
        bool last_gz;
        /* Scratch for a message being delivered. */
        Buf msg, src;
        LocalLogAttr *attrs;
        size_t n_attrs;
} Reader;

static void files_free(LogFile *f, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (f[i].fd >= 0)
                        close(f[i].fd);
        free(f);
}

/*
 * Opens the set of files, oldest first, the current one (if any) last, holding the current file's
 * flock shared while the others are opened, so that the set is not a half-rotated one.
 */
static int open_set(Reader *R, LogFile **ret, size_t *ret_n, Error **err)
{
        for (int attempt = 0;; attempt++) {
                LogFile cur = { .fd = -EBADF, .current = true }, *f;
                bool locked = false;
                size_t n = 0;
                int r, k;

                r = open_for_reading(R->dirfd, R->name, &cur.fd, &cur.st);
                if (r == -EINVAL)
                        return error_setx(err, EINVAL, "%s is not a regular file", R->name);
                if (r < 0 && r != -ENOENT)
                        return error_set(err, -r, "opening %s", R->name);
                if (r == 0) {
                        struct stat st;
                        locked = lock_bounded(cur.fd, LOCK_SH, READER_LOCK_TRIES);
                        if ((fstatat(R->dirfd, R->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != cur.st.st_ino ||
                             st.st_dev != cur.st.st_dev) &&
                            attempt < READER_LOCK_TRIES) {
                                close(cur.fd); /* rotated between our open() and our lock */
                                continue;
                        }
                }
                k = count_rotated(R->dirfd, R->name, R->rotated);
                f = xcalloc((size_t)k + 1, sizeof(*f));
                for (int i = k; i >= 1; i--)
                        for (int gz = 0; gz <= 1; gz++) {
                                _cleanup_free_ char *p = rotated_name(R->name, i, gz);
                                LogFile lf = { .fd = -EBADF, .gz = gz };
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
                if (locked)
                        (void)flock(cur.fd, LOCK_UN);
                if (cur.fd >= 0)
                        f[n++] = cur;
                else if (n > 0 && attempt < CUR_MISSING_TRIES) {
                        /* Rotated files but no current one: a writer mid-rotation.  Look again. */
                        files_free(f, n);
                        sleep_ms(1);
                        continue;
                }
                *ret = f;
                *ret_n = n;
                return 0;
        }
}

static bool passes(const Reader *R, const LocalLogEntry *e)
{
        struct timespec ts = local_log_entry_time(e);

        if (R->o->has_since && ts_cmp(&ts, &R->o->since) < 0)
                return false;
        if (R->o->has_until && ts_cmp(&ts, &R->o->until) >= 0)
                return false;
        return true;
}

/* Go's url.QueryEscape, which docker applies to each key and value of --details. */
static void put_query_escaped(Buf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == '~')
                        buf_put(b, &c, 1);
                else if (c == ' ')
                        buf_put(b, "+", 1);
                else {
                        char e[3] = { '%', hex[c >> 4], hex[c & 15] };
                        buf_put(b, e, 3);
                }
        }
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
        int c = memcmp(a, b, MIN_SZ(an, bn));
        return c ? c : (an < bn ? -1 : an > bn);
}

static int cmp_attr(const void *x, const void *y)
{
        const LocalLogAttr *a = x, *b = y;
        int c = cmp_bytes(a->key, a->key_len, b->key, b->key_len);
        return c ? c : cmp_bytes(a->value, a->value_len, b->value, b->value_len);
}

/* 0 to go on, <0 error, >0 stop (fn said so). */
static int deliver(Reader *R, const LocalLogEntry *e)
{
        struct timespec ts;

        if (!passes(R, e))
                return 0;
        if (R->skip > 0) {
                R->skip--;
                return 0;
        }
        R->msg.len = 0;
        if (R->o->details) {
                /* "k=v,k2=v2 " with keys sorted, or a lone " " (docker's attrsByteSlice). */
                if (R->n_attrs > 1)
                        qsort(R->attrs, R->n_attrs, sizeof(*R->attrs), cmp_attr);
                for (size_t i = 0; i < R->n_attrs; i++) {
                        if (i)
                                buf_put(&R->msg, ",", 1);
                        put_query_escaped(&R->msg, R->attrs[i].key, R->attrs[i].key_len);
                        buf_put(&R->msg, "=", 1);
                        put_query_escaped(&R->msg, R->attrs[i].value, R->attrs[i].value_len);
                }
                buf_put(&R->msg, " ", 1);
        }
        buf_put(&R->msg, e->line, e->line_len);
        /* docker's reader: "\n" back on every entry but a piece that does not end its line. */
        if (!e->partial || e->last)
                buf_put(&R->msg, "\n", 1);
        buf_put(&R->msg, "", 1);
        R->src.len = 0;
        buf_put(&R->src, e->source, e->source_len);
        buf_put(&R->src, "", 1);
        ts = local_log_entry_time(e);
        return R->fn(R->ud, (const char *)R->src.data, (const char *)R->msg.data, R->msg.len - 1, &ts);
}

static int drain(Reader *R, RecReader *rr, bool final)
{
        LocalLogEntry e;
        int r;

        while ((r = rr_next(rr, final, &e, R->o->details ? &R->attrs : NULL, &R->n_attrs, NULL)) > 0) {
                r = deliver(R, &e);
                if (r != 0)
                        return r;
        }
        return r;
}

/*
 * The current file, which the writer may be appending to: a record at its end may be incomplete and
 * is waited for.  When the reading stops on bytes that cannot (yet) complete a record, and the file
 * ends in a whole record, those bytes are damage (a length that runs past it), not a record being
 * written: the reader is told so and goes on.
 */
static int drain_current(Reader *R)
{
        Buf body = { 0 };
        LocalLogEntry e;
        struct stat st;
        uint32_t n;
        int r;

        r = drain(R, &R->cur, false);
        if (r != 0 || R->cur.len == R->cur.start || fstat(R->cur_fd, &st) < 0 || (uint64_t)st.st_size <= R->cur.sealed)
                return r;
        if (record_before(R->cur_fd, (uint64_t)st.st_size, &body, &n) > 0 &&
            local_log_decode(body.data, n, &e, NULL, NULL) == 0) {
                R->cur.sealed = (uint64_t)st.st_size;
                r = drain(R, &R->cur, false);
        }
        free(body.data);
        return r;
}

/* The time in the gzip header of a rotated file; -ENOENT if it has none. */
static int gz_last_time(int fd, struct timespec *ret)
{
        _cleanup_json_ json_t *j = NULL;
        unsigned char h[12];
        char extra[256];
        struct timespec zero = { 0 };
        const char *s;
        size_t xlen;
        json_t *t;

        if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || h[0] != 0x1f || h[1] != 0x8b || !(h[3] & GZ_FEXTRA))
                return -ENOENT;
        xlen = (size_t)h[10] | (size_t)h[11] << 8;
        if (xlen == 0 || xlen > sizeof(extra) || pread(fd, extra, xlen, sizeof(h)) != (ssize_t)xlen)
                return -ENOENT;
        j = json_loadb(extra, xlen, 0, NULL);
        t = json_object_get(j, "lastTime");
        s = json_string_value(t);
        /* An RFC 3339 time in UTC, nothing else (a duration or a bare number is no header of ours). */
        if (!s || strlen(s) < 20 || s[strlen(s) - 1] != 'Z' || !strchr(s, 'T') ||
            parse_timestamp_arg(s, zero, ret, NULL) < 0)
                return -ENOENT;
        return 0;
}

static bool gz_before_since(const Reader *R, const LogFile *f)
{
        struct timespec last;
        return f->gz && R->o->has_since && gz_last_time(f->fd, &last) == 0 && ts_cmp(&last, &R->o->since) < 0;
}

/* Reads a whole (rotated) file of the set, from where --tail says. */
static int read_file(Reader *R, const LogFile *f)
{
        RecReader rr;
        int r;

        if (f->skip_file || gz_before_since(R, f))
                return 0;
        rr_start(&rr, f->fd, f->gz, f->start);
        R->skip = f->skip;
        r = drain(R, &rr, true);
        R->skip = 0;
        rr_done(&rr);
        return r;
}

/* Messages of a gzipped file that pass since/until. */
static int64_t count_passing(Reader *R, const LogFile *f)
{
        LocalLogEntry e;
        RecReader rr;
        int64_t n = 0;
        int r;

        if (gz_before_since(R, f))
                return 0;
        rr_start(&rr, f->fd, true, 0);
        while ((r = rr_next(&rr, true, &e, NULL, NULL, NULL)) > 0)
                n += passes(R, &e);
        rr_done(&rr);
        return r < 0 ? r : n;
}

/*
 * In a plain file of `size` bytes: where reading must start for the last `need` passing messages
 * (fewer if the file has fewer: then from its start), and how many that is.  Walks backwards by the
 * trailing lengths; where the framing does not hold (damage, a record being written or torn at the
 * end), the part before that point is read forwards instead, keeping the offsets of the last passing
 * records.  With need 0 the start is the end of the last whole record.  `final` as rr_next()'s: false
 * for the current file, whose last record may be being written.
 */
static int tail_start(Reader *R, int fd, uint64_t size, int64_t need, bool final, uint64_t *ret_start,
                      int64_t *ret_found)
{
        Buf body = { 0 };
        LocalLogEntry e;
        uint64_t off = size, *ring = NULL;
        size_t ring_len = 0, ring_cap = 0, ring_head = 0;
        int64_t found = 0, want;
        RecReader rr;
        uint32_t n;
        int r;

        for (;;) {
                if (found == need && need > 0)
                        goto done;
                if (off == 0)
                        goto done;
                if (record_before(fd, off, &body, &n) <= 0)
                        break;
                if (found == need)
                        goto done; /* need 0: `off` is the end of a whole record */
                if (local_log_decode(body.data, n, &e, NULL, NULL) == 0 && passes(R, &e))
                        found++;
                off -= (uint64_t)n + LOCAL_LOG_FRAME;
        }
        /* The framing broke at `off`: read [0, off) forwards. */
        want = need - found;
        rr_start(&rr, fd, false, 0);
        rr.limit = off;
        {
                uint64_t last_end = 0, at;
                /* Damage before `off` is looked through; an unfinished end of the file is not. */
                while ((r = rr_next(&rr, final || off < size, &e, NULL, NULL, &at)) > 0) {
                        last_end = rr_offset(&rr);
                        if (want == 0 || !passes(R, &e))
                                continue;
                        if ((int64_t)ring_len < want) {
                                if (ring_len == ring_cap) {
                                        ring_cap = ring_cap ? ring_cap * 2 : 64;
                                        if ((int64_t)ring_cap > want)
                                                ring_cap = (size_t)want;
                                        ring = xrealloc(ring, ring_cap * sizeof(*ring));
                                }
                                ring[ring_len++] = at;
                        } else {
                                ring[ring_head] = at;
                                ring_head = (ring_head + 1) % ring_len;
                        }
                }
                rr_done(&rr);
                if (r < 0) {
                        free(ring);
                        free(body.data);
                        return r;
                }
                if (want == 0)
                        off = last_end; /* need 0: nothing was found walking backwards */
                else if ((int64_t)ring_len == want) {
                        off = ring[ring_head];
                        found = need;
                } else {
                        off = 0;
                        found += (int64_t)ring_len;
                }
        }
done:
        free(ring);
        free(body.data);
        *ret_start = off;
        *ret_found = found;
        return 0;
}

/* --tail: where each file of the set starts, newest first, until `tail` messages are found. */
static int plan_tail(Reader *R, LogFile *f, size_t n)
{
        int64_t need = R->o->tail;

        for (size_t i = n; i-- > 0;) {
                if (need == 0 && !f[i].current) {
                        f[i].skip_file = true;
                        continue;
                }
                if (f[i].gz) {
                        int64_t c = count_passing(R, &f[i]);
                        if (c < 0)
                                return (int)c;
                        if (c > need) {
                                f[i].skip = (uint64_t)(c - need);
                                need = 0;
                        } else
                                need -= c;
                } else {
                        int64_t found;
                        int r = tail_start(R, f[i].fd, (uint64_t)f[i].st.st_size, need, !f[i].current, &f[i].start,
                                           &found);
                        if (r < 0)
                                return r;
                        need -= found;
                }
        }
        return 0;
}

/* Makes f (a plain current file of the set) the followed one, read from `start`. */
static void follow_file(Reader *R, LogFile *f, uint64_t start)
{
        if (R->has_cur) {
                rr_done(&R->cur);
                close(R->cur_fd);
        }
        if (R->last_fd >= 0) {
                close(R->last_fd);
                R->last_fd = -EBADF;
        }
        R->has_cur = true;
        R->cur_fd = TAKE_FD(f->fd);
        R->cur_st = f->st;
        rr_start(&R->cur, R->cur_fd, false, start);
}

static void remember_last(Reader *R, LogFile *f, size_t n)
{
        if (n == 0 || f[n - 1].current)
                return;
        if (R->last_fd >= 0)
                close(R->last_fd);
        R->last_fd = TAKE_FD(f[n - 1].fd);
        R->last_gz = f[n - 1].gz;
}

/* The first record of a file, framing included (malloc'd), for recognising a compressed copy. */
static uint8_t *first_record(int fd, bool gz, size_t *ret_len)
{
        LocalLogEntry e;
        RecReader rr;
        uint8_t *s = NULL;

        rr_start(&rr, fd, gz, 0);
        if (rr_next(&rr, true, &e, NULL, NULL, NULL) > 0) {
                /* rr.start is just past it; its length is in its trailer. */
                uint32_t len = get_be32(rr.buf + rr.start - 4) + LOCAL_LOG_FRAME;
                s = xmalloc(len);
                memcpy(s, rr.buf + rr.start - len, len);
                *ret_len = len;
        }
        rr_done(&rr);
        return s;
}

/* Is f, a gzipped rotated file, the compressed copy of the plain file old_fd? */
static bool gz_is_copy_of(const LogFile *f, int old_fd, const struct stat *old_st)
{
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        unsigned char isize[4];
        size_t na = 0, nb = 0;
        uint32_t sz;

        /* ISIZE (the uncompressed size mod 2^32) and the first record must match. */
        if (f->st.st_size < 18 || pread(f->fd, isize, 4, f->st.st_size - 4) != 4)
                return false;
        sz = (uint32_t)isize[0] | (uint32_t)isize[1] << 8 | (uint32_t)isize[2] << 16 | (uint32_t)isize[3] << 24;
        if (sz != (uint32_t)old_st->st_size)
                return false;
        a = first_record(old_fd, false, &na);
        b = first_record(f->fd, true, &nb);
        return a && b && na == nb && memcmp(a, b, na) == 0;
}

/*
 * The followed file was rotated away: find it in the new set (by inode, or as a compressed copy), read
 * the files after it and follow the new current one.  If it is gone, everything there is newer.
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
                if (fstat(ref, &st) == 0)
                        for (size_t i = n; i-- > 0;) {
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
                        follow_file(R, &f[i], 0);
                        *switched = true;
                } else
                        r = read_file(R, &f[i]);
        }
        if (r == 0 && *switched)
                r = drain_current(R);
        else if (r == 0 && from < n)
                remember_last(R, f, n);
        files_free(f, n);
        return r;
}

static int follow_step(Reader *R, Error **err)
{
        for (;;) {
                struct stat st, now;
                bool switched = false;
                int r;

                if (R->has_cur) {
                        /*
                         * Shorter than what we read: our writer, started again, cut a torn record off
                         * (go on after the last whole record we took), or someone truncated the file
                         * (start over).
                         */
                        if (fstat(R->cur_fd, &now) == 0 && (uint64_t)now.st_size < R->cur.consumed) {
                                uint64_t at = rr_offset(&R->cur);
                                rr_done(&R->cur);
                                rr_start(&R->cur, R->cur_fd, false, at <= (uint64_t)now.st_size ? at : 0);
                        }
                        r = drain_current(R);
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
                /* The name is another file's now: the old one is complete (renames come between writes). */
                if (R->has_cur) {
                        r = drain(R, &R->cur, true);
                        if (r != 0)
                                return r;
                }
                r = catch_up(R, &switched, err);
                if (r != 0)
                        return r;
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

                /* Asked before reading, so that the last read sees all that was written before the stop. */
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
                        return 0; /* a record left unfinished by a writer that died is a torn one: skipped */
                if (ino >= 0) {
                        struct pollfd p = { .fd = ino, .events = POLLIN };
                        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                        if (poll(&p, 1, FOLLOW_POLL_MS) > 0)
                                while (read(ino, ev, sizeof(ev)) > 0)
                                        ;
                } else
                        sleep_ms(FOLLOW_POLL_MS / 2);
        }
}

int local_log_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
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
                .rotated = max_file < 1 ? 0 : max_file - 1,
        };
        LogFile *f = NULL;
        size_t n = 0;
        int r;

        R.cur = (RecReader){ .fd = -EBADF };
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
                                                  IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
                                                          IN_CLOSE_WRITE) < 0) {
                        close(ino);
                        ino = -EBADF;
                }
        }
        r = open_set(&R, &f, &n, err);
        if (r < 0)
                goto finish;
        if (o->tail >= 0)
                r = plan_tail(&R, f, n);
        for (size_t i = 0; i < n && r == 0; i++) {
                if (f[i].current) {
                        follow_file(&R, &f[i], f[i].start);
                        /*
                         * Not final: its last record may be being written.  Looking through those
                         * bytes for records would read the container's own output as framing.
                         */
                        r = drain_current(&R);
                } else
                        r = read_file(&R, &f[i]);
        }
        if (r == 0)
                remember_last(&R, f, n);
        files_free(f, n);
        if (r == 0 && o->follow)
                r = follow(&R, ino, err);
        if (r < 0 && err && !*err)
                error_set(err, -r, "reading %s", path);
finish:
        if (R.has_cur) {
                rr_done(&R.cur);
                close(R.cur_fd);
        }
        if (R.last_fd >= 0)
                close(R.last_fd);
        if (R.dirfd >= 0)
                close(R.dirfd);
        free(R.msg.data);
        free(R.src.data);
        free(R.attrs);
        free(R.name);
        return r < 0 ? r : 0;
}
