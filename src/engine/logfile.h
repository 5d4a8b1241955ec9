/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "cleanup.h"
#include "error.h"
#include "jsonlog.h"

/*
 * A rotating log file set, as docker's json-file and local drivers keep one (jsonlog.h, locallog.h
 * describe each format; this is what they share).
 *
 * Files: <dir>/<name> is written; with rotation <name>.1 is the newest rotated file and .2, .3 ...
 * older ones, up to .<max_file-1>.  With compression every rotated file but .1 is gzipped (.2.gz ...),
 * its gzip header carrying docker's {"lastTime":"..."} (the time of the file's last entry, which the
 * format finds) as FEXTRA, MTIME 0 and OS 255, as Go's gzip.Writer writes them.  Files are created
 * 0640 whatever the umask.  The reader takes .N and .N.gz alike (the plain one first); rotated files
 * are .1 up to the first missing number.
 *
 * Rotation: the oldest goes, .i moves to .i+1 (plain and .gz, whichever exist, so that a set written
 * with the other compression setting is carried along), .1 becomes .2.gz (compressed before the lock
 * is taken: .1 does not change; if that fails it moves on plain) or .2, the current file becomes .1
 * and an empty one starts.  With max_file 1 the file is replaced by a new one (a follower sees the
 * switch by its inode).  In buffered mode .1 is compressed on a thread right after the rotation that
 * made it (into <name>.2.gz.tmp), so the next rotation finds it done.
 *
 * Concurrency: one writer per set (the container monitor) and any number of readers in other
 * processes.  The writer holds flock(LOCK_EX) on the current file while it renames files, a reader
 * holds LOCK_SH while it opens the set, so it never sees a half-rotated set; neither waits for the
 * other long (~100 ms for the writer, ~1 s for a reader: the lock protects readers' consistency,
 * not the log).
 *
 * The format (how an entry is encoded, framed and found) is the caller's: the writer takes bytes that
 * are whole entries; the reader hands each file of the set to the format's callbacks.
 */

/* ---- writing ---- */

typedef struct LogFileFormat {
        /*
         * The file being opened for appending has *size bytes; if it ends in an entry torn by a crash,
         * repairs it so that the next entry starts clean, and updates *size.  0, or a negative errno
         * with err set (`path` names the file).
         */
        int (*repair_end)(int fd, int64_t *size, const char *path, Error **err);
        /*
         * The time of the last entry of a complete plain file of `size` bytes, for the gzip header of
         * its compressed copy: 0, or negative when there is none (the header then has no FEXTRA).
         * Called on the compression thread as well: it may touch nothing but fd.
         */
        int (*last_time)(int fd, uint64_t size, struct timespec *ret);
} LogFileFormat;

typedef struct LogFile LogFile;

/*
 * Opens (creating, 0640) the current file `path` for appending; the directory must exist.  max_size
 * <= 0 turns rotation off; otherwise a write that would make the current file exceed max_size first
 * rotates it (an entry larger than max_size still goes, alone, into a fresh file).  max_file (>= 1;
 * ignored without rotation) counts the current file.  fmt (borrowed, static) repairs a torn end here
 * and after each rotation.
 */
int logfile_open(const char *path, int64_t max_size, int max_file, bool compress, const LogFileFormat *fmt,
                 LogFile **ret, Error **err);

/*
 * Appends n bytes, whole entries (rotating first when due).  The errno of a failed rotation or write;
 * nothing was written then (a torn write is cut off again).  Not thread-safe.
 */
int logfile_write(LogFile *l, const void *p, size_t n, Error **err);

/*
 * The same without a copy: logfile_entry_buf() returns room for up to `max` bytes, where the caller
 * encodes its entries; logfile_append() then takes the first n of them (n <= max), as logfile_write()
 * would.  The room is valid until the next call on l; nothing is taken unless logfile_append() is called.
 */
char *logfile_entry_buf(LogFile *l, size_t max);
int logfile_append(LogFile *l, size_t n, Error **err);

/*
 * Buffered mode: entries collect in memory and go to the file in writes of about LOGFILE_BUFFER
 * bytes, at a rotation, at logfile_flush() and at close.
 */
#define LOGFILE_BUFFER JSONLOG_BUFFER
void logfile_set_buffered(LogFile *l, bool on);
/*
 * Writes what buffered mode holds; 0 or the write's error (those entries are then lost, not retried).
 * With nothing held it frees the buffer: the monitor's log thread flushes when the container goes
 * quiet and once more after a quiet second, so an idle container's monitor keeps no write buffer.
 */
int logfile_flush(LogFile *l, Error **err);

/* Closes (flushing, and waiting for a compression thread).  Accepts NULL, returns NULL. */
LogFile *logfile_close(LogFile *l);
DEFINE_CLEANUP_FUNC(LogFile, logfile_close)

/* ---- reading ---- */

/* One file of the set, opened for reading. */
typedef struct LogFilePart {
        int fd;
        bool gz;
        bool current;
        struct stat st;
        /* Where the format's reader starts in it: zero unless its plan callback (--tail) set them. */
        bool skip_file;
        uint64_t start; /* plain: the offset of the first entry to read */
        uint64_t skip;  /* gz: entries that pass since/until to pass over first */
} LogFilePart;

/*
 * The format's side of reading a set.  ud is logfile_read()'s.  Those returning int return 0 to go on,
 * a negative errno on error, a positive value to stop (logfile_read() then returns 0).
 */
typedef struct LogFileReader {
        /* Optional: the set as first opened, before anything of it is read (where --tail starts). */
        int (*plan)(void *ud, LogFilePart *f, size_t n);
        /* Reads a whole rotated file of the set (f->fd stays the caller's). */
        int (*read_file)(void *ud, const LogFilePart *f);
        /* fd (plain, not owned) is the followed current file now: drop the last one, read fd from `start`.
         */
        void (*follow)(void *ud, int fd, uint64_t start);
        /*
         * Reads what the followed file has that was not read yet.  final: it was rotated away, nothing
         * more will come.  Otherwise the format also deals with a file now shorter than what it read.
         */
        int (*drain)(void *ud, bool final);
        /* Optional: what existed at the start has been read (json-file delivers its --tail ring). */
        int (*existing_done)(void *ud);
        /* The first entry of a file (malloc'd, NULL if none): to know a plain file's compressed copy. */
        void *(*first_entry)(int fd, bool gz, size_t *ret_len);
} LogFileReader;

/*
 * The bytes of one file of the set, for the format's entry reader: a plain file is read with pread()
 * from an offset (so that several readers may share its fd), a gzipped one is decompressed from its
 * start (damaged compressed data ends it; what came before is kept).  buf[start, len) holds what was
 * read and not yet taken.
 */
typedef struct LogFileIn {
        int fd; /* not owned */
        bool gz;
        struct z_stream_s *z; /* gz: decompressing */
        unsigned char *zin;   /* gz: compressed input */
        bool zeof;            /* gz: nothing more will come */
        uint64_t consumed;    /* plain: the file offset of buf[len] */
        uint64_t limit;       /* plain: nothing at or beyond this offset is read */
        char *buf;
        size_t start, len, cap;
} LogFileIn;

/* Starts reading fd at `offset` (plain) or from its start (gz); logfile_in_done() first if in was in use. */
void logfile_in_start(LogFileIn *in, int fd, bool gz, uint64_t offset);
/* Frees the buffers (fd stays open); in is then an idle reader (fd -EBADF). */
void logfile_in_done(LogFileIn *in);
/*
 * Moves buf[start, len) to the front and reads more after it: the number of bytes added, 0 at the
 * end of the file (for now, for a plain file still being written), or -errno.
 */
ssize_t logfile_in_more(LogFileIn *in);
/* The file offset of buf[start] (plain files). */
static inline uint64_t logfile_in_offset(const LogFileIn *in)
{
        return in->consumed - (in->len - in->start);
}

/*
 * Reads the set at `path` written with `max_file`: opens it (oldest first, the current file last,
 * under the shared lock), hands the rotated files to fmt->read_file and the current one to
 * fmt->follow and fmt->drain; with o->follow then waits for more (inotify on the directory, a 250 ms
 * poll besides) and follows the current file through rotations, finding the file it was reading in
 * the new set by its inode or, compressed, by its size and first entry (jsonlog.h: follow, running,
 * until).  A set that does not exist is empty (waited for when following).  0 or a negative errno.
 */
int logfile_read(const char *path, int max_file, const JsonLogReadOpts *o, const LogFileReader *fmt,
                 void *ud, Error **err);

/* The lastTime in the gzip header of a rotated file; -ENOENT if it has none. */
int logfile_gz_last_time(int fd, struct timespec *ret);
/* f is gzipped and its header says it ends before o's --since: it need not be read at all. */
bool logfile_gz_ends_before_since(const LogFilePart *f, const JsonLogReadOpts *o);
