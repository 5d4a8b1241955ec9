/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Reading back what the journald driver wrote, for `stockade logs`.  The CLI does not link libsystemd
 * (every stockade call would pay for loading it, see docs/ARCHITECTURE.md); it runs journalctl, which
 * is present wherever journald is, with `--output=export` and parses that strictly.
 *
 * journalctl's export format (systemd's "Journal Export Format"): an entry is a list of fields, each
 * either `NAME=value\n` (a value without "\n") or `NAME\n`, the value's length as a 64-bit little-endian
 * integer, the value's bytes, `\n`; an empty line ends the entry.  journalctl puts __CURSOR,
 * __REALTIME_TIMESTAMP (microseconds since the epoch) and __MONOTONIC_TIMESTAMP first.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "jsonlog.h"

/* The longest MESSAGE taken: a message of ours is at most 16 KiB; a longer one is skipped. */
#define JOURNAL_MESSAGE_MAX JSONLOG_MAX_LINE
/* The longest cursor: journalctl's are about 130 bytes. */
#define JOURNAL_CURSOR_MAX 1024
/* The longest binary field journalctl may announce (journald's own limit is 768 MiB). */
#define JOURNAL_FIELD_MAX ((uint64_t)1 << 30)
/* For --details: at most this many attributes per entry, each value at most this long (others are left out). */
#define JOURNAL_ATTRS_MAX     256
#define JOURNAL_ATTR_VALUE_MAX 65536

#define JOURNAL_ATTR_NAME_SIZE 65 /* a field name (at most 64) and its NUL */

typedef struct JournalAttr {
        char name[JOURNAL_ATTR_NAME_SIZE];
        char *value; /* NUL-terminated, len bytes */
        size_t len;
} JournalAttr;

/* One entry as the parser hands it over; everything is borrowed until the callback returns. */
typedef struct JournalEntry {
        const char *cursor;        /* __CURSOR, never NULL */
        uint64_t realtime_us;      /* __REALTIME_TIMESTAMP */
        bool has_message;          /* MESSAGE was present (and not longer than JOURNAL_MESSAGE_MAX) */
        const char *message;       /* NUL-terminated after message_len */
        size_t message_len;
        bool partial;              /* CONTAINER_PARTIAL_MESSAGE=true: no "\n" after it */
        int priority;              /* PRIORITY 0-7, or -1 */
        const JournalAttr *attrs;  /* with want_attrs: the user fields docker shows with --details, sorted */
        size_t n_attrs;
} JournalEntry;

/* Return 0 to go on; anything else stops the parser, which returns it. */
typedef int (*journal_entry_fn)(void *ud, const JournalEntry *e);

typedef struct JournalExportParser JournalExportParser;

/*
 * A parser for one journalctl output stream, fed as it arrives in pieces of any size.  want_attrs
 * collects the fields --details shows: those not starting with "_" and not among the fields docker's
 * reader knows (MESSAGE, PRIORITY, SYSLOG_*, CONTAINER_*, IMAGE_NAME ...).
 */
JournalExportParser *journal_export_new(bool want_attrs);
JournalExportParser *journal_export_free(JournalExportParser *p);
DEFINE_CLEANUP_FUNC(JournalExportParser, journal_export_free)

/*
 * Parses len bytes, calling fn for each entry completed.  Returns 0, what fn returned when that was
 * not 0, or -EPROTO for output that is not the export format (a bad field name, a field without
 * "=" or a length, a binary field longer than JOURNAL_FIELD_MAX or not ended by "\n", an empty entry,
 * an entry without a valid __CURSOR or __REALTIME_TIMESTAMP), with the reason in *err.  After an
 * error the parser must not be fed again.
 */
int journal_export_feed(JournalExportParser *p, const char *buf, size_t len, journal_entry_fn fn, void *ud,
                        Error **err);
/* At the end of the output: -EPROTO if it ended inside an entry. */
int journal_export_finish(JournalExportParser *p, Error **err);
/* Bytes taken so far (for messages). */
uint64_t journal_export_offset(const JournalExportParser *p);

/*
 * Reads the journal entries of container `id` (64 hex) that this user's monitor wrote (matches
 * CONTAINER_ID_FULL=<id> and _UID=<our uid>, so that another local user cannot slip lines into the
 * container's logs by sending them with its id) and passes each message to fn, as jsonlog_read()
 * does, with the options it takes:
 *   - the message is MESSAGE with "\n" unless CONTAINER_PARTIAL_MESSAGE=true (docker's reader), so
 *     the pieces of a line longer than 16 KiB come out one after another and make the line again;
 *   - the stream is "stderr" for PRIORITY 3, "stdout" for 6, "" otherwise;
 *   - the time is the journal's (__REALTIME_TIMESTAMP, microseconds), which --since, --until and
 *     the order follow, as docker's reader takes it;
 *   - --details: the entry's attribute fields (the sanitised label and env names), as docker prints
 *     them, "K=v,K2=v2 " in key order, query-escaped;
 *   - tail: the last `tail` entries among those since/until; follow: then what comes, until
 *     o->running says the container has stopped (asked every 250 ms; what it logged before then is
 *     read to the end), or until `until` has passed.
 * Returns 0 or a negative errno: -ENOTSUP with "journalctl: not found" when it is not installed, the
 * failure of journalctl (its status and first line of stderr) or of its output, or what fn returned.
 * The journalctl processes are killed and reaped before it returns.
 */
int journald_log_read(const char *id, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud, Error **err);
