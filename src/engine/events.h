/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cleanup.h"
#include "engine.h"
#include "error.h"

/*
 * Events: docker's `docker events`, kept on disk (docs/EVENTS.md).
 *
 * Each event is one line of docker 20.10's JSON, byte for byte as `docker events --format '{{json .}}'`
 * prints it (shared/reference/docker-20.10/events-*.jsonl):
 *
 *   {"status":"die","id":"<id>","from":"busybox:local","Type":"container","Action":"die",
 *    "Actor":{"ID":"<id>","Attributes":{"exitCode":"0","image":"busybox:local","name":"web"}},
 *    "scope":"local","time":1795871880,"timeNano":1795871880061242177}
 *
 * status, id and from are 20.10's legacy fields: container events carry all three (from =
 * Attributes.image, left out when there is none), image events status and id only, other types none.
 * Attributes keys are sorted (Go marshals a map so); strings are escaped as Go's encoding/json with
 * SetEscapeHTML(false), the docker CLI's json function.
 *
 * Files: <data-root>/events/events-NNNNNNNNNN.log, numbered from 1; the highest is the current one.
 * Files are never renamed: rotation starts the next number, retention unlinks the lowest, so a reader
 * that finished file N continues with the lowest number above N and can never miss or repeat one.
 *
 * Writers (every `stockade` command, every monitor) take flock(LOCK_EX) on the directory, take the
 * event's time (so file order is time order), and append the record with a single write(2).  A file
 * that does not end in "\n" (a writer killed mid-write) gets one before the next record, so a torn
 * record only ever spoils itself, and readers skip it.  No fsync: an event is in the page cache when
 * event_emit() returns, visible to every reader at once; a machine crash may lose the last seconds of
 * events but never tears a record into another.
 */

#define EVENTS_DIR         "events"
/* The longest record written or read; a longer line in a file is damage and skipped. */
#define EVENTS_MAX_RECORD  (256 * 1024)
#define EVENTS_DEFAULT_MAX_SIZE  ((int64_t)32 << 20)           /* all files together */
#define EVENTS_DEFAULT_MAX_AGE_S ((int64_t)30 * 24 * 3600)     /* 30 days */
#define EVENTS_DEFAULT_MAX_FILES 8
#define EVENTS_MIN_FILE_SIZE     ((int64_t)64 << 10)

/*
 * Retention: at most max_files files of at most max_size / max_files bytes each (at least
 * EVENTS_MIN_FILE_SIZE; a record larger than that goes alone into a fresh file).  A file whose newest
 * event (its mtime) is older than max_age_s is dropped, and the current file is rotated once its first
 * event is older than max_age_s, so an event lives at least max_age_s (unless the size limit drops it
 * first) and at most about twice that.  max_age_s <= 0: no age limit.
 */
typedef struct EventsConfig {
        int64_t max_size;
        int64_t max_age_s;
        int max_files;
} EventsConfig;

/* The defaults, overridden by daemon.json "events-max-size" (a size, "32m") and "events-max-age" ("720h"). */
void events_config(Engine *e, EventsConfig *ret);
/* <data-root>/events (malloc'd). */
char *events_dir(Engine *e);

/*
 * Formats one event line ("\n" included, NUL-terminated) into *ret.  attributes: an object of strings
 * (borrowed; NULL means {}).  actor_id may be "" but not NULL.  -EINVAL for a non-string attribute or
 * invalid UTF-8 (named in *err), -E2BIG beyond EVENTS_MAX_RECORD.
 */
int event_format(const char *type, const char *action, const char *actor_id, json_t *attributes,
                 const struct timespec *ts, char **ret, size_t *ret_len, Error **err);

/*
 * Appends one event to the log in `dir` (created 0700 if missing) under the directory's lock, with
 * rotation and retention per `c` (NULL: defaults).  ts NULL: now, read under the lock.  On failure
 * nothing is in the file (a short write is cut off again).
 */
int events_append(const char *dir, const EventsConfig *c, const char *type, const char *action,
                  const char *actor_id, json_t *attributes, const struct timespec *ts, Error **err);

/* Appends an event to the engine's log, now, with the daemon.json retention. */
int event_emit(Engine *e, const char *type, const char *action, const char *actor_id, json_t *attributes,
               Error **err);
/* The same at a given time (tests, imports of old events). */
int event_emit_at(Engine *e, const struct timespec *ts, const char *type, const char *action,
                  const char *actor_id, json_t *attributes, Error **err);

/*
 * A container event as dockerd's LogContainerEventWithAttributes builds it, from the container's record
 * (container.json): Attributes = `extra` (borrowed, may be NULL: {"exitCode": "0"}, {"signal": "15"},
 * {"execID": ...}), then Config.Labels over them, then "image" (Config.Image, if set) and "name" (Name
 * without its "/").  Actor.ID = the record's Id.
 */
int event_emit_container(Engine *e, json_t *record, const char *action, json_t *extra, Error **err);
/*
 * An image event as dockerd's LogImageEvent builds it: Attributes = the image's Config.Labels
 * (`labels`, borrowed, may be NULL) and "name" = ref_name when not empty.  image_id is "sha256:<hex>".
 * 20.10 passes: import, load, untag and delete: ref_name = the image id; tag: the new reference in its
 * familiar form ("busybox:local").
 */
int event_emit_image(Engine *e, const char *image_id, const char *ref_name, json_t *labels, const char *action,
                     Error **err);
/*
 * docker's exec actions: "exec_create: " + argv[0] + " " + the rest joined by " " (so a command without
 * arguments ends in a space, "exec_create: true ", as 20.10 prints it).  malloc'd.
 */
char *event_exec_action(const char *action, char *const *argv);

/* ---- filters ---- */

/*
 * `--filter key=value` with dockerd's semantics (daemon/events/filter.go, api/types/filters):
 *   type      exact Type;             event  exact Action (prefix match of every value when one of them
 *   scope     exact scope;                   is exec_create, exec_start or health_status, moby#25798);
 *   container, network, volume, daemon, plugin, service, node, secret, config:
 *             Actor.ID or Attributes.name equal to, or starting with, a value (whatever the event's type,
 *             as dockerd does);
 *   image     exact match of Actor.ID or the image name (Attributes.image for containers, .name for
 *             images), each also with its tag stripped ("busybox:local" matches image=busybox);
 *   label     every label value must match: "key" (present) or "key=value" (equal) against Attributes.
 * Different keys are ANDed; values of one key are ORed, except label, whose values are ANDed (docker's
 * MatchKVList).  Keys are lower-cased and values trimmed as the docker CLI does; unknown keys are refused.
 */
typedef struct EventFilter EventFilter;

EventFilter *event_filter_new(void);
/* Adds "key=value" (as given to --filter); -EINVAL with docker's message for a bad one. */
int event_filter_add(EventFilter *f, const char *arg, Error **err);
/* Does the event (parsed line) pass?  NULL filter: everything does. */
bool event_filter_match(const EventFilter *f, json_t *event);
bool event_filter_empty(const EventFilter *f);
/* Does the filter set `key` at all? */
bool event_filter_has(const EventFilter *f, const char *key);
EventFilter *event_filter_free(EventFilter *f);
DEFINE_CLEANUP_FUNC(EventFilter, event_filter_free)

/* docker's reference.FamiliarName of an image reference: tag and digest stripped, docker.io/library/
 * dropped ("docker.io/library/busybox:1" → "busybox").  A string that is no reference comes back as is. */
char *event_image_familiar_name(const char *ref);

/* ---- reading ---- */

/*
 * Parses one line (trailing "\n" allowed).  Requires Type, Action (strings), Actor {ID: string,
 * Attributes: object of strings} and timeNano (or time); -EINVAL otherwise.  *ret keeps the line's key
 * order.  *ret_ns: the event's time in ns since the epoch.
 */
int event_parse_line(const char *line, size_t len, json_t **ret, int64_t *ret_ns);

/*
 * Gets each event that passes: `event` (borrowed, valid during the call), and its line as stored
 * (without "\n").  Return 0 to go on; a positive value stops reading (events_read returns 0), a negative
 * errno stops it with that error.
 */
typedef int (*event_fn)(void *ud, json_t *event, const char *line, size_t len);

typedef struct EventsReadOpts {
        /* Past events with since <= time (<= until).  Neither set: no past events (docker's default). */
        bool has_since, has_until;
        struct timespec since, until;
        /*
         * After the past events, new ones as they are written (inotify on the directory, a 100 ms poll
         * besides), through rotations, until `until` has passed, `running` returns false (asked at
         * least every 100 ms) or fn stops it.  Without has_since/has_until, following starts at the
         * current end.
         */
        bool follow;
        bool (*running)(void *ud);
        void *running_ud;
        const EventFilter *filter; /* borrowed; NULL: all */
} EventsReadOpts;

/* Reads the log in `dir` (a missing one is empty; when following it is created and waited on). */
int events_read_dir(const char *dir, const EventsReadOpts *o, event_fn fn, void *ud, Error **err);
int events_read(Engine *e, const EventsReadOpts *o, event_fn fn, void *ud, Error **err);

/*
 * The event in the Go field names a --format template sees (Status, ID, From, Type, Action, Actor,
 * Scope, Time, TimeNano; missing legacy fields as ""), a new reference.
 */
json_t *event_template_data(json_t *event);
/*
 * The docker CLI's default line, "\n" included: "<time> <Type> <Action> <Actor.ID> (k=v, k2=v2)", the
 * time as RFC 3339 with 9 fraction digits in local time ("2026-11-28T13:01:10.123456789Z" in UTC).
 */
char *event_format_text(json_t *event);

/* ---- shared with audit.c ---- */

/* Opens a log directory (O_DIRECTORY; created 0700 with its parents when `create`); -errno. */
int eventlog_open_dir(const char *dir, bool create, int *ret);
/* flock(LOCK_EX) on it, through EINTR: the writers' lock; -errno. */
int eventlog_lock(int dfd);
/* Files "<prefix>NNNNNNNNNN.log" in dirfd, sorted by number (malloc'd array of numbers). */
int eventlog_list(int dirfd, const char *prefix, uint64_t **ret, size_t *ret_n);
/* "<prefix>%010llu.log" */
char *eventlog_name(const char *prefix, uint64_t n);
/* Appends Go's encoding/json form of s (SetEscapeHTML(false)); false on invalid UTF-8. */
typedef struct GoBuf {
        char *s;
        size_t len, cap;
} GoBuf;
void gobuf_add(GoBuf *b, const char *s, size_t n);
void gobuf_puts(GoBuf *b, const char *s);
void gobuf_printf(GoBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool gobuf_json_string(GoBuf *b, const char *s, size_t n);
