/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rotating log file set shared by the json-file and local formats (see logfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

#include "buf.h"
#include "json-util.h"
#include "logfile.h"
#include "util.h"

/* How often a writer or a reader tries a flock that is held, 1 ms apart. */
#define WRITER_LOCK_TRIES 100
#define READER_LOCK_TRIES 1000
/* How long a reader waits, in 1 ms steps, for the current file when rotated ones exist. */
#define CUR_MISSING_TRIES 200
#define READ_CHUNK        65536
#define MIN_SZ(a, b)      ((a) < (b) ? (a) : (b))
#define FOLLOW_POLL_MS    250

/* gzip (RFC 1952) header flags. */
#define GZ_FEXTRA 0x04

static void sleep_ms(long ms)
{
        struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
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

/* flock with a bounded wait: true if taken.  Neither side may hang the other. */
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

struct LogFile {
        int dirfd;
        char *name;   /* the current file, in dirfd */
        char *path;   /* for messages */
        int fd;       /* the current file (O_APPEND); -EBADF after a rotation that could not open it */
        int64_t size; /* its size */
        int64_t max_size;
        int max_file;
        bool compress;
        const LogFileFormat *fmt;
        bool buffered;
        /*
         * Buffered mode: entries not yet written (size does not count them).  Either mode: an entry is
         * encoded at the end of it (logfile_entry_buf()) before logfile_append() takes it.
         */
        Buf out;
        /*
         * Buffered mode: .1 is compressed into .2.gz.tmp on a thread right after the rotation that
         * made it, so the next rotation finds it done instead of compressing while the container
         * waits.  Joined before any rename.
         */
        pthread_t zthread;
        bool zrunning;
        int zresult;
};

static int open_current(LogFile *l, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool created = true;
        int64_t size;
        int r;

        /* Read-write for the format's look at the end; O_APPEND keeps every write at the end. */
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
        size = st.st_size;
        /* A crash mid-write leaves a torn entry at the end: the format repairs it. */
        r = l->fmt->repair_end(fd, &size, l->path, err);
        if (r < 0)
                return r;
        l->size = size;
        l->fd = TAKE_FD(fd);
        return 0;
}

int logfile_open(const char *path, int64_t max_size, int max_file, bool compress, const LogFileFormat *fmt,
                 LogFile **ret, Error **err)
{
        _cleanup_(logfile_closep) LogFile *l = NULL;
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
        l->fmt = fmt;
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

/* Waits for the background compression of .1, if one runs; its result, or 1 when none ran. */
static int compress_join(LogFile *l)
{
        if (!l->zrunning)
                return 1;
        pthread_join(l->zthread, NULL);
        l->zrunning = false;
        return l->zresult;
}

LogFile *logfile_close(LogFile *l)
{
        if (!l)
                return NULL;
        (void)logfile_flush(l, NULL);
        if (compress_join(l) != 1 && l->dirfd >= 0) {
                /* The next rotation would have used it; a later open compresses again. */
                _cleanup_free_ char *tmp = xasprintf("%s.2.gz.tmp", l->name);
                (void)unlink_if_exists(l->dirfd, tmp);
        }
        buf_free(&l->out);
        if (l->fd >= 0)
                close(l->fd);
        if (l->dirfd >= 0)
                close(l->dirfd);
        free(l->name);
        free(l->path);
        free(l);
        return NULL;
}

/*
 * Gzips dirfd/src into dirfd/dst (created 0640, replaced if it exists).  -errno.  zlib writes the
 * header with FEXTRA, where dockerd keeps {"lastTime":...} (logfile_gz_last_time() reads it back),
 * MTIME 0 and OS 255, as Go's gzip.Writer does.  zlib rather than libarchive: the monitor links
 * this, and libarchive would bring libxml2 and ICU into every container's monitor.
 */
static int compress_file(int dirfd, const char *src, const char *dst, const LogFileFormat *fmt)
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
        if (fmt->last_time(in, (uint64_t)st.st_size, &last) == 0) {
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

/* The compression thread: .1 into .2.gz.tmp, which the next rotation renames to .2.gz. */
static void *compress_one(void *ud)
{
        LogFile *l = ud;
        _cleanup_free_ char *one = rotated_name(l->name, 1, false), *tmp = xasprintf("%s.2.gz.tmp", l->name);
        l->zresult = compress_file(l->dirfd, one, tmp, l->fmt);
        return NULL;
}

/*
 * Rotation (see logfile.h): drop the oldest, shift .i to .i+1, compress .1 into .2.gz when asked,
 * rename the current file to .1 and start an empty one; with max_file 1 start the file over.
 */
static int rotate(LogFile *l, Error **err)
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
                        r = compress_file(l->dirfd, one, tmp, l->fmt);
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
                 * entries written since.
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

/* Appends bytes to the current file; a torn write is cut off again. */
static int write_out(LogFile *l, const void *p, size_t n, Error **err)
{
        int r = write_all(l->fd, p, n);

        if (r < 0) {
                /* Cut a torn entry off again (ENOSPC after part of it), so the next one starts clean. */
                (void)ftruncate(l->fd, l->size);
                return error_set(err, -r, "writing to %s", l->path);
        }
        l->size += (int64_t)n;
        return 0;
}

int logfile_flush(LogFile *l, Error **err)
{
        int r;

        if (!l)
                return 0;
        if (l->out.len == 0) {
                /* Nothing since the last flush: the writer is quiet, its buffer goes. */
                buf_free(&l->out);
                return 0;
        }
        if (l->fd < 0) {
                r = open_current(l, err);
                if (r < 0)
                        return r;
        }
        r = write_out(l, l->out.data, l->out.len, err);
        l->out.len = 0; /* written, or dropped with the error reported: never written twice */
        return r;
}

void logfile_set_buffered(LogFile *l, bool on)
{
        if (!on)
                (void)logfile_flush(l, NULL);
        l->buffered = on;
}

char *logfile_entry_buf(LogFile *l, size_t max)
{
        buf_reserve(&l->out, max);
        return l->out.data + l->out.len;
}

int logfile_append(LogFile *l, size_t n, Error **err)
{
        int r;

        if (l->fd < 0) {
                r = open_current(l, err);
                if (r < 0)
                        return r;
        }
        if (l->max_size > 0 && l->size + (int64_t)l->out.len > 0 &&
            l->size + (int64_t)l->out.len + (int64_t)n > l->max_size) {
                /* The entries before this one go into the current file; this one waits behind them. */
                if (l->out.len > 0) {
                        size_t held = l->out.len;
                        r = write_out(l, l->out.data, held, err);
                        memmove(l->out.data, l->out.data + held, n);
                        l->out.len = 0; /* written, or dropped with the error reported */
                        if (r < 0)
                                return r;
                }
                r = rotate(l, err);
                if (r < 0)
                        return r;
        }
        if (!l->buffered)
                return write_out(l, l->out.data + l->out.len, n, err);
        l->out.len += n;
        return l->out.len >= LOGFILE_BUFFER ? logfile_flush(l, err) : 0;
}

int logfile_write(LogFile *l, const void *p, size_t n, Error **err)
{
        char *o = logfile_entry_buf(l, n);
        if (n)
                memcpy(o, p, n);
        return logfile_append(l, n, err);
}

/* ---- the reader ---- */

void logfile_in_done(LogFileIn *in)
{
        if (in->z) {
                inflateEnd(in->z);
                free(in->z);
        }
        free(in->zin);
        free(in->buf);
        *in = (LogFileIn){ .fd = -EBADF };
}

void logfile_in_start(LogFileIn *in, int fd, bool gz, uint64_t offset)
{
        *in = (LogFileIn){ .fd = fd, .gz = gz, .consumed = gz ? 0 : offset, .limit = UINT64_MAX };
        if (!gz)
                return;
        /* read() from the start, whoever used the fd before. */
        (void)lseek(fd, 0, SEEK_SET);
        in->z = xcalloc(1, sizeof(*in->z));
        in->zin = xmalloc(READ_CHUNK);
        if (inflateInit2(in->z, 15 + 16) != Z_OK) {
                free(in->z);
                in->z = NULL;
                in->zeof = true;
        }
}

static ssize_t in_fill(LogFileIn *in, char *p, size_t n)
{
        if (in->gz) {
                /* Damaged compressed data ends the file: what came before it is kept. */
                while (!in->zeof) {
                        size_t want = MIN_SZ(n, (size_t)UINT32_MAX), got;
                        int zr;
                        if (in->z->avail_in == 0) {
                                ssize_t k = read(in->fd, in->zin, READ_CHUNK);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        in->zeof = true;
                                        return 0;
                                }
                                in->z->next_in = in->zin;
                                in->z->avail_in = (uInt)k;
                        }
                        in->z->next_out = (Bytef *)p;
                        in->z->avail_out = (uInt)want;
                        zr = inflate(in->z, Z_NO_FLUSH);
                        got = want - in->z->avail_out;
                        if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
                                in->zeof = true;
                        if (got > 0)
                                return (ssize_t)got;
                }
                return 0;
        }
        if (in->consumed >= in->limit)
                return 0;
        if (in->limit - in->consumed < n)
                n = (size_t)(in->limit - in->consumed);
        for (;;) {
                /* pread: several readers (the format's first_entry) may share the fd of a plain file. */
                ssize_t k = pread(in->fd, p, n, (off_t)in->consumed);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                in->consumed += (uint64_t)k;
                return k;
        }
}

ssize_t logfile_in_more(LogFileIn *in)
{
        ssize_t k;

        if (in->start > 0) {
                memmove(in->buf, in->buf + in->start, in->len - in->start);
                in->len -= in->start;
                in->start = 0;
        }
        if (in->cap - in->len < READ_CHUNK) {
                in->cap = in->len + 2 * READ_CHUNK;
                in->buf = xrealloc(in->buf, in->cap);
        }
        k = in_fill(in, in->buf + in->len, in->cap - in->len);
        if (k > 0)
                in->len += (size_t)k;
        return k;
}

typedef struct SetReader {
        const JsonLogReadOpts *o;
        const LogFileReader *fmt;
        void *ud;
        int dirfd;
        char *name;
        int rotated; /* how many rotated files there can be */
        /* The current file, followed (the format reads it). */
        bool has_cur;
        int cur_fd;
        struct stat cur_st;
        /*
         * Without a current file (a writer that crashed mid-rotation), the newest file read: a
         * current file that turns up later is read after it, not from the oldest file again.
         */
        int last_fd;
        bool last_gz;
} SetReader;

static void parts_free(LogFilePart *f, size_t n)
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
static int open_set(SetReader *R, LogFilePart **ret, size_t *ret_n, Error **err)
{
        for (int attempt = 0;; attempt++) {
                LogFilePart cur = { .fd = -EBADF, .current = true }, *f;
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
                                LogFilePart lf = { .fd = -EBADF, .gz = gz };
                                /* The plain one first, as dockerd (.i and .i.gz both: not ours). */
                                r = open_for_reading(R->dirfd, p, &lf.fd, &lf.st);
                                if (r == 0) {
                                        f[n++] = lf;
                                        break;
                                }
                                if (r != -ENOENT && r != -EINVAL) {
                                        if (cur.fd >= 0)
                                                close(cur.fd);
                                        parts_free(f, n);
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
                        parts_free(f, n);
                        sleep_ms(1);
                        continue;
                }
                *ret = f;
                *ret_n = n;
                return 0;
        }
}

/* Makes f (a plain current file of the set) the followed one, read from f->start. */
static void follow_file(SetReader *R, LogFilePart *f)
{
        int old = R->has_cur ? R->cur_fd : -EBADF;

        if (R->last_fd >= 0) {
                close(R->last_fd);
                R->last_fd = -EBADF;
        }
        R->has_cur = true;
        R->cur_fd = TAKE_FD(f->fd);
        R->cur_st = f->st;
        R->fmt->follow(R->ud, R->cur_fd, f->start);
        if (old >= 0)
                close(old);
}

/* After reading a set without a current file: its newest file is where we are. */
static void remember_last(SetReader *R, LogFilePart *f, size_t n)
{
        if (n == 0 || f[n - 1].current)
                return;
        if (R->last_fd >= 0)
                close(R->last_fd);
        R->last_fd = TAKE_FD(f[n - 1].fd);
        R->last_gz = f[n - 1].gz;
}

/* Is f, a gzipped rotated file, the compressed copy of the plain file old_fd? */
static bool gz_is_copy_of(SetReader *R, const LogFilePart *f, int old_fd, const struct stat *old_st)
{
        _cleanup_free_ void *a = NULL, *b = NULL;
        unsigned char isize[4];
        size_t na = 0, nb = 0;
        uint32_t sz;

        /* ISIZE, the gzip trailer's uncompressed size mod 2^32, and the first entry must match. */
        if (f->st.st_size < 18 || pread(f->fd, isize, 4, f->st.st_size - 4) != 4)
                return false;
        sz = (uint32_t)isize[0] | (uint32_t)isize[1] << 8 | (uint32_t)isize[2] << 16 |
             (uint32_t)isize[3] << 24;
        if (sz != (uint32_t)old_st->st_size)
                return false;
        a = R->fmt->first_entry(old_fd, false, &na);
        b = R->fmt->first_entry(f->fd, true, &nb);
        return a && b && na == nb && memcmp(a, b, na) == 0;
}

/*
 * The followed file was rotated away.  Finds it in the new set (its inode, or for a compressed copy
 * its size and first entry), reads the files that came after it and follows the new current file.  If
 * it is gone altogether (more rotations than files while we slept, or max-file=1), everything there
 * is newer than it.
 */
static int catch_up(SetReader *R, bool *switched, Error **err)
{
        int ref = R->has_cur ? R->cur_fd : R->last_fd;
        bool ref_gz = !R->has_cur && R->last_gz;
        LogFilePart *f = NULL;
        size_t n = 0, from = 0;
        int r;

        r = open_set(R, &f, &n, err);
        if (r < 0)
                return r;
        if (ref >= 0) {
                struct stat st;
                if (fstat(ref, &st) == 0) /* its final size */
                        for (size_t i = n; i-- > 0;) {
                                /* Renames keep the inode; only compression makes a new file. */
                                bool same = f[i].st.st_dev == st.st_dev && f[i].st.st_ino == st.st_ino;
                                if (!same && f[i].gz && !ref_gz)
                                        same = gz_is_copy_of(R, &f[i], ref, &st);
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
                        r = R->fmt->read_file(R->ud, &f[i]);
        }
        if (r == 0 && *switched)
                r = R->fmt->drain(R->ud, false);
        else if (r == 0 && from < n)
                remember_last(R, f, n);
        parts_free(f, n);
        return r;
}

/* Reads what was added to the followed file, and catches up with rotations until there are none. */
static int follow_step(SetReader *R, Error **err)
{
        for (;;) {
                struct stat st;
                bool switched = false;
                int r;

                if (R->has_cur) {
                        r = R->fmt->drain(R->ud, false);
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
                        r = R->fmt->drain(R->ud, true);
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

static int follow(SetReader *R, int ino, Error **err)
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
                if (o->has_until && timespec_cmp(&now, &o->until) >= 0)
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

int logfile_read(const char *path, int max_file, const JsonLogReadOpts *o, const LogFileReader *fmt,
                 void *ud, Error **err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int ino = -EBADF;
        SetReader R = {
                .o = o,
                .fmt = fmt,
                .ud = ud,
                .dirfd = -EBADF,
                .cur_fd = -EBADF,
                .last_fd = -EBADF,
                .rotated = max_file < 1 ? 0 : max_file - 1,
        };
        LogFilePart *f = NULL;
        size_t n = 0;
        int r;

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
        if (fmt->plan)
                r = fmt->plan(ud, f, n);
        for (size_t i = 0; i < n && r == 0; i++) {
                if (f[i].current) {
                        follow_file(&R, &f[i]);
                        r = fmt->drain(ud, false);
                } else
                        r = fmt->read_file(ud, &f[i]);
        }
        if (r == 0)
                remember_last(&R, f, n);
        parts_free(f, n);
        if (r == 0 && fmt->existing_done)
                r = fmt->existing_done(ud);
        if (r == 0 && o->follow)
                r = follow(&R, ino, err);
        if (r < 0 && err && !*err)
                error_set(err, -r, "reading %s", path);
finish:
        if (R.cur_fd >= 0)
                close(R.cur_fd);
        if (R.last_fd >= 0)
                close(R.last_fd);
        if (R.dirfd >= 0)
                close(R.dirfd);
        free(R.name);
        return r < 0 ? r : 0;
}

int logfile_gz_last_time(int fd, struct timespec *ret)
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
        /* RFC 3339 down to the second, with a zone (a duration or a bare number is no header of ours). */
        if (!json_is_string(t) || parse_rfc3339nano(json_string_value(t), json_string_length(t), ret) < 0)
                return -ENOENT;
        return 0;
}

bool logfile_gz_ends_before_since(const LogFilePart *f, const JsonLogReadOpts *o)
{
        struct timespec last;

        return f->gz && o->has_since && logfile_gz_last_time(f->fd, &last) == 0 &&
               timespec_cmp(&last, &o->since) < 0;
}
