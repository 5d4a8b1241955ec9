/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cleanup.h"
#include "error.h"

/*
 * Docker's json-file log driver, byte for byte (moby daemon/logger/jsonfilelog, as dockerd 20.10 writes
 * it; recorded in shared/reference/docker-20.10/OBSERVED.md, section 2c):
 *
 *   {"log":"line 1999 out\n","stream":"stdout","time":"2026-11-28T13:01:10.04939697Z"}
 *
 * one JSON object and "\n" per message, keys in the order log, stream, time; "log" is left out when the
 * message is empty and "stream" when the stream name is.  "time" is Go's RFC3339Nano in UTC (trailing
 * zeros of the fraction trimmed, no fraction at all on a whole second).  Strings are escaped as Docker's
 * own marshaller (jsonlog.ffjsonWriteJSONBytesAsString) does, which is *not* quite encoding/json:
 * `"` and `\` are backslashed, \n and \r written as \n and \r, every other byte below 0x20 (tab
 * included) as \u00XX, `<` `>` `&` as \u003c \u003e \u0026, U+2028 and U+2029 as \u2028 \u2029, and each
 * byte that does not start a valid UTF-8 sequence (Go's utf8.DecodeRune rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF) as \ufffd.  All other bytes are copied.
 *
 * Files: <id>-json.log is written; with rotation, <id>-json.log.1 is the newest rotated file and
 * .2, .3 ... older ones, up to .<max_file-1>.  With compression every rotated file but .1 is gzipped
 * (.2.gz ...; moby compresses .1 as well, in the background after each rotation: keeping it plain
 * lets a follower one rotation behind find its file unchanged, by inode), its gzip header carrying
 * Docker's {"lastTime":"..."} (the time of its last message) as FEXTRA, as moby writes it.  Files are
 * created 0640.  The reader takes .N and .N.gz alike, so switching compression on or off between runs loses
 * nothing.  Rotated files are .1 up to the first missing number: only a crash in the middle of a rotation
 * leaves a gap, files beyond it are not read until later rotations have closed it up.
 *
 * Concurrency: one writer per file (the container monitor) and any number of readers (`stockade logs`)
 * in other processes.  The writer holds flock(LOCK_EX) on the current file while it renames files, and
 * a reader holds LOCK_SH while it opens the set, so it never sees a half-rotated set; neither waits
 * for the other for long (the writer compresses before it takes the lock, and gives up waiting for it
 * after ~100 ms: the lock protects readers' consistency, not the log).  The file set, its rotation and
 * this protocol are logfile.c's (logfile.h), which the local driver's format shares.
 */

/* Docker's copier buffer: a line longer than this is passed on in pieces of this size. */
#define JSONLOG_PARTIAL_SIZE 16384
/*
 * The longest line the reader takes (the "\n" not counted).  A 16 KiB message escapes to at most
 * 96 KiB; anything beyond 1 MiB is damage and skipped, so a bad file cannot make the reader allocate
 * without bound.  The writer refuses to write a line longer than this (-E2BIG).
 */
#define JSONLOG_MAX_LINE (1 << 20)
/* Room for format_rfc3339nano_buf(), any time_t included. */
#define RFC3339NANO_MAX 48

/*
 * A message, as the line splitter produces it and as the reader delivers it: `msg` holds `len` bytes
 * (any bytes, NULs included; a complete line ends in "\n", a piece of a longer line or the unfinished
 * last line does not).  The reader NUL-terminates msg after len; the splitter does not.  `stream` is
 * "stdout" or "stderr" (from a file: whatever it says, possibly "").  Return 0 to go on; the reader
 * stops on a negative errno (and returns it) or on a positive value (and returns 0).
 */
typedef int (*jsonlog_msg_fn)(void *ud, const char *stream, const char *msg, size_t len,
                              const struct timespec *ts);

/* ---- writing ---- */

typedef struct JsonLog JsonLog;

/*
 * Opens (creating, 0640) the log file `path`, <dir>/<id>-json.log, for appending; the directory must
 * exist.  max_size <= 0 turns rotation off; otherwise a write that would make the current file exceed
 * max_size first rotates it (a message larger than max_size still goes, alone, into a fresh file), so
 * files stay within max_size as in the dockerd 20.10 recording (moby's code lets the message that
 * crosses it in and rotates at the next).
 * max_file (>= 1; ignored without rotation) counts the current file: with 1 the file is replaced by
 * an empty one instead of rotated, with N the rotated files .1 ... .N-1 are kept.  compress gzips
 * rotated files other than .1.  If the file ends in a torn line (a crash mid-write), a "\n" is appended so
 * that only that line is lost and the next one parses.
 */
int jsonlog_open(const char *path, int64_t max_size, int max_file, bool compress, JsonLog **ret,
                 Error **err);

/*
 * Appends one message.  ts NULL means now.  Errors: -ERANGE for a time outside years 0000-9999 (which
 * Docker cannot write either), -E2BIG for a line longer than JSONLOG_MAX_LINE, or the errno of a
 * failed rotation or write; in every case nothing was written (a short write is cut off again), so a
 * caller may warn and go on with the next message.  Rotation, when due, compresses the previous .1 in
 * the calling thread (in buffered mode it was compressed on a thread right after the rotation that
 * made it).  Not thread-safe: the monitor serialises both streams' messages.
 */
int jsonlog_write(JsonLog *l, const char *stream, const char *msg, size_t len, const struct timespec *ts,
                  Error **err);

/*
 * Buffered mode (the monitor's log thread): lines collect in memory and go to the file in writes of
 * about JSONLOG_BUFFER bytes, at a rotation, at jsonlog_flush() (when the container has gone quiet)
 * and at close, instead of one write per line.  Rotation still keeps every file within max-size.  Off
 * by default: each jsonlog_write() is then in the file when it returns.  256 KiB: against 64 KiB
 * writes, the log thread of a busy container needs about a fifth less CPU (bench/README.md).
 */
#define JSONLOG_BUFFER (256 * 1024)
void jsonlog_set_buffered(JsonLog *l, bool on);
/*
 * Writes what buffered mode holds; 0 or the write's error (those lines are then lost, not retried).
 * With nothing held it frees the buffer (logfile_flush()), so a quiet container's monitor does not
 * keep 256 KiB for it.
 */
int jsonlog_flush(JsonLog *l, Error **err);

/*
 * Docker's "attrs" (the tag, and the labels and env the log options select): an object of strings
 * written into every line after "stream", keys sorted as Go marshals a map.  NULL or empty: none.
 */
void jsonlog_set_attrs(JsonLog *l, json_t *attrs);

/* Closes the log.  Accepts NULL, returns NULL. */
JsonLog *jsonlog_close(JsonLog *l);
DEFINE_CLEANUP_FUNC(JsonLog, jsonlog_close)

/*
 * Encodes one line exactly as jsonlog_write() writes it, "\n" included, into a malloc'd buffer (NUL
 * terminated too).  Same errors as jsonlog_write() apart from I/O.
 */
int jsonlog_encode_line(const char *stream, const char *msg, size_t len, const struct timespec *ts,
                        char **ret, size_t *ret_len);

/*
 * Writes str (n bytes, any bytes) at out as a quoted JSON string, escaped as docker's writer does (the
 * rules at the top), and returns the bytes written.  out must have JSONLOG_ESCAPE_ROOM(n) bytes: each
 * input byte takes at most six (\u00XX, \ufffd), and the quotes two.  Clean runs are copied 16 bytes
 * at a time (SSE2) or 8 (other machines); nothing is read beyond str + n nor written beyond the room.
 */
#define JSONLOG_ESCAPE_ROOM(n) ((n) * 6 + 2)
size_t jsonlog_escape(char *out, const char *str, size_t n);

/* ---- splitting a stream into messages, as Docker's copier does ---- */

/*
 * One per stream.  The monitor feeds the bytes it reads from the container's stdout (or stderr) as
 * they come, with the time it read them, and flushes at EOF.  Each "\n" ends a message (the "\n" is
 * part of it); a line that reaches JSONLOG_PARTIAL_SIZE bytes without one is passed on in pieces of
 * exactly that size, without "\n", and every piece of it and its end carry the time of its first piece
 * (as Docker's partial messages do).  At EOF the unfinished rest is passed on without "\n".
 */
typedef struct LineSplitter {
        const char *stream; /* borrowed: "stdout" or "stderr" */
        char *buf;          /* the unfinished line: JSONLOG_PARTIAL_SIZE + 1 bytes once allocated */
        size_t len;
        bool partial;               /* pieces of the current line were already passed on */
        struct timespec partial_ts; /* the time of the first of them */
} LineSplitter;

void line_splitter_init(LineSplitter *s, const char *stream);
/*
 * Passes each message completed by buf to fn.  A failing fn does not stop the splitting (the messages
 * after a failed write are still worth writing): the first negative value fn returned is returned.
 */
int line_splitter_feed(LineSplitter *s, const char *buf, size_t len, const struct timespec *ts,
                       jsonlog_msg_fn fn, void *ud);
/* At EOF: passes on the unfinished line, if any, without "\n"; returns what fn returned. */
int line_splitter_flush(LineSplitter *s, const struct timespec *ts, jsonlog_msg_fn fn, void *ud);
/* Frees the buffer; the splitter may be initialised again. */
void line_splitter_free(LineSplitter *s);

/* ---- reading ---- */

typedef struct JsonLogReadOpts {
        /*
         * The last `tail` messages of those that pass since/until (so `--since 1h --tail 10` means the
         * last ten of the last hour); negative: all.  In follow mode it applies to what exists at the
         * start only.
         */
        int64_t tail;
        bool has_since, has_until;
        struct timespec since; /* messages with time >= since ... */
        struct timespec until; /* ... and < until */
        /*
         * After what exists, wait for new messages (inotify on the directory, a 250 ms poll besides)
         * and follow the current file through rotations, without losing or repeating messages while
         * the rotated files survive, until `running` returns false (asked at most every 250 ms, and
         * before the last read, so that everything written before the container stopped is
         * delivered), `until` has passed, or fn stops it.  running NULL: forever.
         */
        bool follow;
        bool (*running)(void *ud);
        void *running_ud;
        /*
         * `logs --details`: each message starts with its attributes as docker prints them, "k=v,k2=v2 "
         * (keys sorted, keys and values escaped as Go's url.QueryEscape; a lone " " when it has none).
         */
        bool details;
} JsonLogReadOpts;

/*
 * Reads the log at `path` written with `max_file`: the rotated files oldest first (gzipped ones
 * decompressed as they are read; with since, those whose header says they end before it are not even
 * opened), then the current one.  Each message goes to fn.  Damaged lines (not JSON, no valid time,
 * torn by a crash, longer than JSONLOG_MAX_LINE) and damaged gzip data are skipped.  A log that does
 * not exist (yet) is empty; in follow mode it is waited for.  Returns 0 or a negative errno (from fn,
 * or an I/O error).
 */
int jsonlog_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
                 Error **err);

/*
 * Parses one line of the file (a trailing "\n" is allowed).  On success *stream and *msg are malloc'd,
 * NUL-terminated (msg may contain NULs: *msg_len counts its bytes) and owned by the caller; a missing
 * "log" or "stream" is "" (Docker leaves empty ones out), "time" is required, other keys are ignored.
 * -EINVAL for anything else, -E2BIG beyond JSONLOG_MAX_LINE.  Nothing is allocated on failure.
 */
int jsonlog_parse_line(const char *line, size_t len, char **stream, char **msg, size_t *msg_len,
                       struct timespec *ts);

/* ---- times ---- */

/*
 * RFC 3339 in UTC with nanoseconds: trim=true is Go's RFC3339Nano as the log files carry it
 * ("2026-11-28T13:01:10.04939697Z", "2026-11-28T13:01:10Z"); trim=false always has nine digits, as
 * `docker logs -t` prints ("2026-11-28T13:01:10.049396970Z").  The _buf form returns the length.
 */
char *format_rfc3339nano(const struct timespec *ts, bool trim);
size_t format_rfc3339nano_buf(const struct timespec *ts, bool trim, char buf[static RFC3339NANO_MAX]);
/*
 * Parses RFC 3339 as a log file's times are written (a line's "time", a gzip header's lastTime): the
 * time down to the second and the zone required, a fraction optional (cut to nine digits, as Go does).
 * 0 or -EINVAL.
 */
int parse_rfc3339nano(const char *s, size_t n, struct timespec *ret);
/* -1, 0, 1 as a is before, equal to or after b. */
int timespec_cmp(const struct timespec *a, const struct timespec *b);

/*
 * A `docker logs --since/--until` value, as the docker CLI's GetTimestamp takes it:
 *   - a Go duration, "10m", "1h30m" (a sign allowed): that long before `now`, truncated to the second;
 *   - RFC 3339 with or without seconds, fraction and zone: "2026-11-28", "2026-11-28T13",
 *     "2026-11-28T13:01", "2026-11-28T13:01:10.5Z", "2026-11-28T14:01:10+01:00"; without a zone the time
 *     is local (the offset in force at `now`);
 *   - Unix seconds with an optional fraction, "1795871458", "1795871458.5"; "0" is the epoch.
 * EINVAL otherwise, with the value in the message.
 */
int parse_timestamp_arg(const char *s, struct timespec now, struct timespec *ret, Error **err);
