/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cleanup.h"
#include "error.h"
#include "jsonlog.h"

/*
 * Docker's `local` log driver format (moby daemon/logger/local, dockerd 20.10), byte for byte.  Each
 * message is one record:
 *
 *   [u32 big-endian N][N bytes: a protobuf LogEntry][u32 big-endian N]
 *
 * so that the file can be walked forwards (by the leading length) and backwards (by the trailing one),
 * which is how `logs --tail` finds the last lines without reading the whole file.  LogEntry is
 * moby's api/types/plugins/logdriver/entry.proto:
 *
 *   message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4;
 *                      PartialLogEntryMetadata partial_log_metadata = 5; repeated LogAttr attrs = 6; }
 *   message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }
 *   message LogAttr { string key = 1; string value = 2; }
 *
 * encoded as gogo-protobuf's generated marshaller does: fields in ascending order, proto3 defaults
 * (empty strings, 0, false) left out, int64/int32 as plain varints (a negative value takes ten bytes),
 * partial_log_metadata present exactly when partial is true (even when all its fields are defaults).
 * `line` has no "\n": docker's reader adds it back unless the entry is a piece of a longer line that
 * is not its last piece (partial set and last not).  dockerd 20.10 writes no attrs (later versions
 * write the tag, labels and env there); the reader takes them for `logs --details`.
 *
 * Files: <container dir>/local-logs/container.log, rotated to container.log.1, .2 ... up to
 * .<max_file-1>, as json-file's (jsonlog.h): .1 stays plain, older ones are gzipped when compress is
 * on (with docker's {"lastTime":...} gzip header); the reader takes .N and .N.gz alike, so files
 * dockerd compressed (.1.gz too) read as well.  Files are 0640.  The same flock protocol as json-file
 * keeps readers from seeing a half-rotated set (the file set is logfile.c's, shared with json-file).
 * Defaults (docker's): max-size 20m, max-file 5, compress true.
 *
 * Every length in a file is treated as hostile: a record longer than LOCAL_LOG_MAX_RECORD, a leading
 * and trailing length that differ, or a body that is not a LogEntry is damage.  The reader then looks
 * for the next position where a well-framed record that decodes starts, so one bad record costs only
 * itself.  A record cut short at the end of a file (a crash mid-write) is skipped; the writer cuts it
 * off when it opens the file again, so that its own records follow a whole one.
 */

/* The longest record body taken (docker's reader stops at 1e6 bytes; a 16 KiB piece needs ~16.5 KiB). */
#define LOCAL_LOG_MAX_RECORD (1 << 20)
/* The framing around each body. */
#define LOCAL_LOG_FRAME 8

#define LOCAL_LOG_DEFAULT_MAX_SIZE ((int64_t)20 << 20)
#define LOCAL_LOG_DEFAULT_MAX_FILE 5

/* One LogEntry.  Every pointer is borrowed (into the decoded buffer, or the caller's). */
typedef struct LocalLogEntry {
        const char *source; /* "stdout" or "stderr" */
        size_t source_len;
        int64_t time_nano; /* Unix time in nanoseconds, as Go's UnixNano() */
        const char *line;  /* without "\n" */
        size_t line_len;
        bool partial;
        bool has_meta; /* partial_log_metadata was present (the writer: written iff partial) */
        bool last;
        const char *id;
        size_t id_len;
        int32_t ordinal;
} LocalLogEntry;

typedef struct LocalLogAttr {
        const char *key, *value; /* borrowed, not NUL-terminated */
        size_t key_len, value_len;
} LocalLogAttr;

/* ---- the format ---- */

/*
 * The size of e's record, framing included; -E2BIG when its body would be longer than
 * LOCAL_LOG_MAX_RECORD.
 */
int64_t local_log_record_size(const LocalLogEntry *e);

/* Writes e's record (exactly local_log_record_size(e) bytes, which must be > 0) to out. */
void local_log_encode(const LocalLogEntry *e, uint8_t *out);

/*
 * Decodes a record body (the protobuf bytes, without the framing) into *e, whose pointers then point
 * into body.  Unknown fields are skipped as protobuf readers do; repeated scalar fields keep the last
 * value.  With attrs non-NULL, each LogAttr is appended to the array *attrs (grown with xrealloc,
 * *n_attrs counting them; the caller frees it), otherwise attrs are skipped.  -EINVAL for anything that
 * is not a LogEntry (a varint longer than ten bytes, a length beyond the body, a known field with
 * another wire type, groups, field number 0), -E2BIG above LOCAL_LOG_MAX_RECORD.  On failure *e is
 * unspecified and *attrs may have grown (still the caller's to free).
 */
int local_log_decode(const uint8_t *body, size_t len, LocalLogEntry *e, LocalLogAttr **attrs, size_t *n_attrs);

/* The time of an entry as a timespec (floor division for times before 1970). */
struct timespec local_log_entry_time(const LocalLogEntry *e);

/* ---- writing ---- */

typedef struct LocalLog LocalLog;

/*
 * Opens (creating, 0640) the log file `path` for appending; the directory must exist.  max_size <= 0
 * turns rotation off; otherwise a record that would make the current file exceed max_size first rotates
 * it (a record larger than max_size still goes, alone, into a fresh file), so every file stays within
 * max_size.  max_file (>= 1) counts the current file; compress gzips the rotated files other than .1.
 * A file that ends in a torn record is cut back to its last whole record.
 */
int local_log_open(const char *path, int64_t max_size, int max_file, bool compress, LocalLog **ret, Error **err);

/*
 * Appends one entry.  -E2BIG for an entry over LOCAL_LOG_MAX_RECORD, or the errno of a failed rotation
 * or write; nothing is written then (a torn write is cut off again), so the caller may go on.  Not
 * thread-safe.
 */
int local_log_write(LocalLog *l, const LocalLogEntry *e, Error **err);

/*
 * Buffered mode, as jsonlog's: records collect in memory and go out in writes of ~JSONLOG_BUFFER, and
 * .1 is compressed on a thread right after the rotation that made it (logfile.h).
 */
void local_log_set_buffered(LocalLog *l, bool on);
/* Writes what buffered mode holds, as jsonlog_flush() (with nothing held, frees the buffer). */
int local_log_flush(LocalLog *l, Error **err);

/* Closes (flushing).  Accepts NULL, returns NULL. */
LocalLog *local_log_close(LocalLog *l);
DEFINE_CLEANUP_FUNC(LocalLog, local_log_close)

/* ---- reading ---- */

/*
 * Reads the log at `path` written with `max_file`, with jsonlog_read()'s semantics (jsonlog.h): the
 * rotated files oldest first, then the current one; tail, since, until, follow through rotations,
 * details.  Each message goes to fn with "\n" at its end unless it is a piece of a longer line that
 * does not end it (each piece is a message of its own, as json-file's reader gives them); msg is
 * NUL-terminated after len.  --tail walks plain files backwards by the trailing lengths, so the last
 * lines of a large log cost a few reads; compressed files are read forwards.  Damage is skipped (see
 * above).  A log that does not exist is empty (waited for when following).  Returns 0 or a negative
 * errno (from fn, or an I/O error).
 */
int local_log_read(const char *path, int max_file, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud,
                   Error **err);
