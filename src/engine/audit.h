/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "error.h"
#include "events.h"

/*
 * The audit log: one record per action a user asked for, hash-chained (docs/EVENTS.md).
 *
 *   {"seq":12,"time":"2026-11-28T13:01:10.123456789Z","action":"start",
 *    "actor":{"type":"container","id":"<64 hex>","name":"web"},
 *    "user":{"uid":0,"gid":0,"loginuid":1000,"pid":4242,"peer":null},
 *    "command":["stockade","start","web"],"outcome":"ok",
 *    "prev":"<sha256 of record 11>","hash":"<sha256 of this record without its hash>"}
 *
 * `hash` is the hex SHA-256 of the record's own bytes as written, without the `,"hash":"..."` member:
 * the line up to and including prev's value, then "}".  `prev` is the previous record's hash (64 zeros
 * before the first), `seq` counts from 1 across all files.  Any change to a record breaks its hash; a
 * record deleted, inserted or moved breaks seq or prev of the next one.
 *
 * Files: <data-root>/audit/audit-NNNNNNNNNN.log (the highest is current) and audit.head, the seq and
 * hash of the last record (rewritten in place after each append), which shows records cut off the end.
 * Rotation starts the next file with a "rotate" record naming the previous file and its range; when
 * retention drops the oldest file, a "retention" record (chained like the rest) carries that file's
 * last seq and hash, so that verify can tell files dropped by stockade from files deleted by hand.
 *
 * Concurrency and crashes as for events: flock(LOCK_EX) on the directory, one write(2) per append (its
 * rotate/retention records and the record itself together), a torn record left by a killed writer
 * stays alone on its line and the chain continues from the last whole record.
 *
 * What the chain proves: an edit, deletion, insertion, reordering or truncation done by anything but
 * stockade's own writer.  Someone able to rewrite the files can recompute every hash after their change;
 * forwarding each record to syslog or journald (audit-forward) keeps a copy out of their reach to
 * compare with.
 */

#define AUDIT_DIR               "audit"
#define AUDIT_HEAD_FILE         "audit.head"
#define AUDIT_MAX_RECORD        (256 * 1024)
#define AUDIT_DEFAULT_MAX_SIZE  ((int64_t)64 << 20) /* all files together */
#define AUDIT_DEFAULT_MAX_FILES 8
#define AUDIT_MIN_FILE_SIZE     ((int64_t)16 << 10)

typedef enum AuditForward {
        AUDIT_FORWARD_NONE,
        AUDIT_FORWARD_SYSLOG,   /* RFC 3164 datagram to /dev/log, facility authpriv */
        AUDIT_FORWARD_JOURNALD, /* native protocol datagram to /run/systemd/journal/socket */
} AuditForward;

typedef struct AuditConfig {
        int64_t max_size;           /* all files together: each file max_size / max_files */
        int max_files;
        AuditForward forward;
        const char *forward_socket; /* NULL: the standard path of `forward` (tests give their own) */
} AuditConfig;

/* Defaults overridden by daemon.json "audit-max-size" ("64m") and "audit-forward" ("syslog", "journald", ""). */
void audit_config(Engine *e, AuditConfig *ret);
char *audit_dir(Engine *e);

typedef struct AuditEntry {
        const char *action;        /* "run", "start", "rm", "tag", ... */
        const char *actor_type;    /* "container", "image", or NULL */
        const char *actor_id;      /* NULL: "" */
        const char *actor_name;    /* NULL: "" */
        char *const *command;      /* the command line, NULL-terminated; NULL: [] */
        const char *outcome;       /* NULL: "ok"; else what went wrong (the error message) */
        const struct ucred *peer;  /* the API client's credentials (SO_PEERCRED); NULL from the CLI */
} AuditEntry;

/*
 * Appends one record to the log in `dir` (created 0700), with rotation per `c` (NULL: defaults), and
 * forwards it when configured (best effort: a forwarding failure is not an error).  ts NULL: now.
 * `user` is the calling process: uid, gid, /proc/self/loginuid (null when unset), pid.
 */
int audit_append(const char *dir, const AuditConfig *c, const AuditEntry *a, const struct timespec *ts,
                 Error **err);
/* The same into the engine's log with the daemon.json settings. */
int audit_record(Engine *e, const AuditEntry *a, Error **err);

/* ---- reading ---- */

typedef int (*audit_fn)(void *ud, json_t *record, const char *line, size_t len);

typedef struct AuditReadOpts {
        bool has_since, has_until;      /* since <= time <= until */
        struct timespec since, until;
        const EventFilter *filter;      /* the events filters over audit_event_view(); NULL: all */
} AuditReadOpts;

/* Every record that passes, oldest first; lines that are not records are skipped (verify reports them). */
int audit_read_dir(const char *dir, const AuditReadOpts *o, audit_fn fn, void *ud, Error **err);
int audit_read(Engine *e, const AuditReadOpts *o, audit_fn fn, void *ud, Error **err);

/*
 * A record as the event filters see it: Type = actor.type ("audit" for rotate/retention records),
 * Action = action, Actor = {ID: actor.id, Attributes: {name: actor.name}}, scope "local".
 */
json_t *audit_event_view(json_t *record);
/* "2026-11-28 13:01:10 | start | web\n" in local time (the name, else the id; " | <outcome>" unless ok). */
char *audit_format_text(json_t *record);
/* "2026-11-28T13:01:10.123456789Z" (as written) → ns since the epoch; -EINVAL otherwise. */
int audit_parse_time(const char *s, int64_t *ret_ns);

/* ---- verifying ---- */

typedef enum AuditDamage {
        AUDIT_INTACT = 0,
        AUDIT_EDITED,    /* a record's bytes do not match its hash, or a line is no longer a record */
        AUDIT_DELETED,   /* records missing: a gap in seq, or files gone that no retention record covers */
        AUDIT_INSERTED,  /* a record that does not chain to the one before it, or a second record N */
        AUDIT_REORDERED, /* records out of order */
        AUDIT_TRUNCATED, /* the last record is incomplete, or the log ends before audit.head's record */
        AUDIT_HEAD,      /* audit.head is missing or damaged while there are records */
} AuditDamage;

const char *audit_damage_name(AuditDamage d); /* "intact", "edited", "deleted", ... */

typedef struct AuditVerifyResult {
        AuditDamage damage;
        char *file;         /* the file of the first bad record (malloc'd; NULL when intact or the head) */
        uint64_t line;      /* its line in that file, from 1 */
        uint64_t seq;       /* the record number concerned: edited, first missing, out of order ... */
        char *message;      /* one sentence naming the damage, file, line and record (malloc'd) */
        /* What was checked */
        uint64_t records, files, first_seq, last_seq;
        uint64_t torn;      /* torn records of killed writers, passed over (not damage) */
} AuditVerifyResult;

/*
 * Checks every file of the log in `dir` and audit.head: hashes, the seq and prev chain across files,
 * the start (seq 1, or a retention record accounting for the dropped files), the end against the head.
 * Returns 0 with *res filled (res->damage says the verdict, for the first bad record found), or a
 * negative errno when the files cannot be read.  A missing or empty log is intact.
 */
int audit_verify_dir(const char *dir, AuditVerifyResult *res, Error **err);
int audit_verify(Engine *e, AuditVerifyResult *res, Error **err);
/* The same over files in memory (names in order, oldest first; head NULL: none).  For tests and fuzzing. */
int audit_verify_mem(const char *const *names, const char *const *data, const size_t *lens, size_t n,
                     const char *head, size_t head_len, AuditVerifyResult *res);
void audit_verify_result_clear(AuditVerifyResult *res);

/* The record text of one append, for tests: the forwarded syslog and journald datagrams. */
char *audit_syslog_datagram(const char *line, size_t len, bool ok, const struct timespec *ts);
int audit_journald_datagram(const char *line, size_t len, json_t *record, char **ret, size_t *ret_len);
