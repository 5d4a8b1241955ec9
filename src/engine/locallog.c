/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Docker's `local` log format: records, the writer with rotation, and the reader (see locallog.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "locallog.h"
#include "logfile.h"
#include "util.h"

#define NSEC_PER_SEC 1000000000LL
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

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
        LogFileIn in;
        uint64_t sealed; /* plain: a whole record ends here, so no record runs across it */
        bool resync;     /* looking for the next good record after damage */
} RecReader;

static void rr_done(RecReader *r)
{
        logfile_in_done(&r->in);
        r->sealed = 0;
        r->resync = false;
}

/* Starts reading fd (not owned) at `offset` (plain) or from its beginning (gz). */
static void rr_start(RecReader *r, int fd, bool gz, uint64_t offset)
{
        logfile_in_start(&r->in, fd, gz, offset);
        r->sealed = 0;
        r->resync = false;
}

/* The file offset of the byte at buf[start] (plain files). */
static uint64_t rr_offset(const RecReader *r)
{
        return logfile_in_offset(&r->in);
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
                size_t avail = r->in.len - r->in.start;
                ssize_t k;

                if (avail >= 4) {
                        const uint8_t *p = (const uint8_t *)r->in.buf + r->in.start;
                        uint32_t n = get_be32(p);
                        if (n > LOCAL_LOG_MAX_RECORD) {
                                r->in.start++;
                                r->resync = true;
                                continue;
                        }
                        if (avail >= (size_t)n + LOCAL_LOG_FRAME) {
                                if (get_be32(p + 4 + n) != n) {
                                        r->in.start++;
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
                                        r->in.start++;
                                        r->resync = true;
                                        continue;
                                }
                                if (r->resync && !plausible_start(p[4])) {
                                        r->in.start++;
                                        continue;
                                }
                                if (n_attrs)
                                        *n_attrs = 0;
                                if (local_log_decode(p + 4, n, e, attrs, n_attrs) < 0) {
                                        /* Well framed but no LogEntry: skipped whole, unless the framing
                                         * itself is a guess made while resynchronising. */
                                        r->in.start += r->resync ? 1 : (size_t)n + LOCAL_LOG_FRAME;
                                        continue;
                                }
                                if (ret_off)
                                        *ret_off = r->in.gz ? 0 : rr_offset(r);
                                r->in.start += (size_t)n + LOCAL_LOG_FRAME;
                                r->resync = false;
                                return 1;
                        }
                }
                /* More bytes are needed. */
                k = logfile_in_more(&r->in);
                if (k < 0)
                        return (int)k;
                if (k > 0)
                        continue;
                if (avail == 0 || (!final && rr_offset(r) >= r->sealed))
                        return 0;
                if (avail < LOCAL_LOG_FRAME) {
                        r->in.start = r->in.len; /* too short for any record: the end of a torn one */
                        return 0;
                }
                /* A record cut short, or a length that is damage: look for whole records after it. */
                r->in.start++;
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
        rr.in.limit = size;
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

/* ================================================================ the writer */

struct LocalLog {
        LogFile *file; /* the rotating set (logfile.h) */
};

/*
 * A crash mid-write leaves a torn record at the end.  Our records appended after it would be read as
 * its rest (and docker's reader stops there), so the torn bytes are cut off.
 */
static int repair_end(int fd, int64_t *size, const char *path, Error **err)
{
        int64_t end = whole_end(fd, (uint64_t)*size, NULL);

        if (end < 0)
                return error_set(err, (int)-end, "reading %s", path);
        if (end < *size) {
                if (ftruncate(fd, end) < 0)
                        return error_set(err, errno, "cutting the torn end off %s", path);
                *size = end;
        }
        return 0;
}

/* The time of the file's last whole record, for the gzip header. */
static int last_time(int fd, uint64_t size, struct timespec *ret)
{
        return whole_end(fd, size, ret) > 0 ? 0 : -ENOENT;
}

static const LogFileFormat local_format = {
        .repair_end = repair_end,
        .last_time = last_time,
};

int local_log_open(const char *path, int64_t max_size, int max_file, bool compress, LocalLog **ret, Error **err)
{
        _cleanup_(local_log_closep) LocalLog *l = NULL;
        int r;

        l = xcalloc(1, sizeof(*l));
        r = logfile_open(path, max_size, max_file, compress, &local_format, &l->file, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

LocalLog *local_log_close(LocalLog *l)
{
        if (!l)
                return NULL;
        logfile_close(l->file);
        free(l);
        return NULL;
}

int local_log_flush(LocalLog *l, Error **err)
{
        return l ? logfile_flush(l->file, err) : 0;
}

void local_log_set_buffered(LocalLog *l, bool on)
{
        logfile_set_buffered(l->file, on);
}

int local_log_write(LocalLog *l, const LocalLogEntry *e, Error **err)
{
        int64_t size = local_log_record_size(e);

        if (size < 0)
                return error_setx(err, E2BIG, "log message of %zu bytes is too long", e->line_len);
        /* Encoded straight into the file's write buffer. */
        local_log_encode(e, (unsigned char *)logfile_entry_buf(l->file, (size_t)size));
        return logfile_append(l->file, (size_t)size, err);
}

/* ================================================================ the reader */

typedef struct Reader {
        const JsonLogReadOpts *o;
        jsonlog_msg_fn fn;
        void *ud;
        uint64_t skip; /* messages still to pass over (gz files under --tail) */
        /* The followed current file (logfile.c owns its fd). */
        RecReader cur;
        /* Scratch for a message being delivered. */
        Buf msg, src;
        LocalLogAttr *attrs;
        size_t n_attrs;
} Reader;

static bool passes(const Reader *R, const LocalLogEntry *e)
{
        struct timespec ts = local_log_entry_time(e);

        if (R->o->has_since && timespec_cmp(&ts, &R->o->since) < 0)
                return false;
        if (R->o->has_until && timespec_cmp(&ts, &R->o->until) >= 0)
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
        if (r != 0 || R->cur.in.len == R->cur.in.start || fstat(R->cur.in.fd, &st) < 0 ||
            (uint64_t)st.st_size <= R->cur.sealed)
                return r;
        if (record_before(R->cur.in.fd, (uint64_t)st.st_size, &body, &n) > 0 &&
            local_log_decode(body.data, n, &e, NULL, NULL) == 0) {
                R->cur.sealed = (uint64_t)st.st_size;
                r = drain(R, &R->cur, false);
        }
        free(body.data);
        return r;
}

/* Reads a whole (rotated) file of the set, from where --tail says. */
static int read_file(void *ud, const LogFilePart *f)
{
        Reader *R = ud;
        RecReader rr;
        int r;

        if (f->skip_file || logfile_gz_ends_before_since(f, R->o))
                return 0;
        rr_start(&rr, f->fd, f->gz, f->start);
        R->skip = f->skip;
        r = drain(R, &rr, true);
        R->skip = 0;
        rr_done(&rr);
        return r;
}

/* Messages of a gzipped file that pass since/until. */
static int64_t count_passing(Reader *R, const LogFilePart *f)
{
        LocalLogEntry e;
        RecReader rr;
        int64_t n = 0;
        int r;

        if (logfile_gz_ends_before_since(f, R->o))
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
        rr.in.limit = off;
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
static int plan_tail(void *ud, LogFilePart *f, size_t n)
{
        Reader *R = ud;
        int64_t need = R->o->tail;

        if (need < 0)
                return 0;
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

/* fd is the current file now, read from `start`. */
static void follow_file(void *ud, int fd, uint64_t start)
{
        Reader *R = ud;

        rr_done(&R->cur);
        rr_start(&R->cur, fd, false, start);
}

/* What was added to the followed file; all of it when it was rotated away (final). */
static int drain_followed(void *ud, bool final)
{
        Reader *R = ud;
        struct stat now;

        if (final)
                return drain(R, &R->cur, true);
        /*
         * Shorter than what we read: our writer, started again, cut a torn record off (go on after the
         * last whole record we took), or someone truncated the file (start over).
         */
        if (fstat(R->cur.in.fd, &now) == 0 && (uint64_t)now.st_size < R->cur.in.consumed) {
                int fd = R->cur.in.fd;
                uint64_t at = rr_offset(&R->cur);
                rr_done(&R->cur);
                rr_start(&R->cur, fd, false, at <= (uint64_t)now.st_size ? at : 0);
        }
        /*
         * Not final: its last record may be being written.  Looking through those bytes for records
         * would read the container's own output as framing.
         */
        return drain_current(R);
}

/* The first record of a file, framing included (malloc'd), for recognising a compressed copy. */
static void *first_record(int fd, bool gz, size_t *ret_len)
{
        LocalLogEntry e;
        RecReader rr;
        uint8_t *s = NULL;

        rr_start(&rr, fd, gz, 0);
        if (rr_next(&rr, true, &e, NULL, NULL, NULL) > 0) {
                /* rr.start is just past it; its length is in its trailer. */
                uint32_t len = get_be32((const uint8_t *)rr.in.buf + rr.in.start - 4) + LOCAL_LOG_FRAME;
                s = xmalloc(len);
                memcpy(s, rr.in.buf + rr.in.start - len, len);
                *ret_len = len;
        }
        rr_done(&rr);
        return s;
}

static const LogFileReader local_reader = {
        .plan = plan_tail,
        .read_file = read_file,
        .follow = follow_file,
        .drain = drain_followed,
        .first_entry = first_record,
};

int local_log_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
                   Error **err)
{
        Reader R = {
                .o = o,
                .fn = fn,
                .ud = ud,
                .cur = { .in = { .fd = -EBADF } },
        };
        int r;

        r = logfile_read(path, max_file, o, &local_reader, &R, err);
        rr_done(&R.cur);
        free(R.msg.data);
        free(R.src.data);
        free(R.attrs);
        return r;
}
