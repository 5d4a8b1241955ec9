/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Log drivers: where a container's stdout and stderr go.  Three parts:
 *
 *  - The options (logopts.c, linked by the CLI and the monitor): which drivers exist, the --log-opt
 *    keys each takes and their values, checked at `create` with docker's messages
 *    ("unknown log opt 'x' for syslog log driver").  No I/O.
 *  - The drivers (one file each: logdriver-jsonfile.c, logdriver-syslog.c, ...; linked by the
 *    monitor): open, log one message, flush, close.  A driver may block (a network sink): it runs on
 *    the monitor's log thread, never on the thread that serves attach, stop and kill.
 *  - The pipe (logpipe.c, the monitor): the container's output goes, as read, into a bounded queue;
 *    the log thread splits it into messages as docker's copier does (16 KiB pieces with partial
 *    metadata, the unfinished last line without "\n") and hands them to the driver.  mode=blocking
 *    (docker's default): a full queue stops the monitor reading the container's pipes, so the
 *    container's writes block and nothing is lost.  mode=non-blocking: a full queue drops the
 *    message and counts it; the container never waits for a slow or dead sink.
 *
 * Options every driver takes (docker's): mode, max-buffer-size (non-blocking only, default 1m),
 * tag, labels, labels-regex, env, env-regex.  The pipe renders tag and selects the attributes into
 * LogInfo before open, so drivers only read them.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* ================================================================ options (logopts.c) */

/*
 * Checks a LogConfig before anything is created: `type` is a known driver and every key of `opts`
 * (an object of strings) is one it takes, with a valid value.  Errors are docker's where docker has
 * one (`unknown log opt 'x' for json-file log driver`, `logger: no log driver named 'x' is
 * registered`) and name the key and the reason otherwise.
 */
int log_config_validate(const char *type, json_t *opts, Error **err);

/* Whether `stockade logs` can read what the driver wrote (json-file, local, journald). */
bool log_driver_readable(const char *type);

/* The drivers, for messages and docs: "json-file, local, none, syslog, journald, fluentd, splunk". */
const char *log_driver_names(void);

/* ================================================================ drivers */

/* What a driver knows of its container (from monitor.json), all borrowed and valid until close. */
typedef struct LogInfo {
        const char *id;          /* 64 hex */
        const char *name;        /* without docker's leading "/" */
        const char *image_name;  /* as given to run: "busybox" */
        const char *image_id;    /* "sha256:<64 hex>" */
        const char *command;     /* entrypoint and cmd joined with spaces, as docker's {{.Command}} */
        const char *hostname;    /* the container's hostname */
        const char *daemon_name; /* "stockade" */
        const char *created;     /* RFC 3339 */
        const char *log_path;    /* the record's LogPath: where a file driver writes ("" for others) */
        json_t *config;          /* the --log-opt object (string values), already validated */
        const char *tag;         /* the `tag` option rendered; default the first 12 hex of the id */
        json_t *attrs;           /* {"key": "value"} from labels, labels-regex, env, env-regex */
} LogInfo;

/*
 * One message, as docker's logger.Message: the bytes of a line without its "\n".  `newline` is false
 * for a piece of a line longer than 16 KiB and for the unfinished last line at EOF.  Pieces of a split
 * line carry docker's PLogMetaData: the same partial_id, ordinals from 1, partial_last on the piece
 * that ends the line (which has newline set, unless the output ended inside the line).
 */
typedef struct LogMsg {
        const char *stream; /* "stdout" or "stderr" */
        const char *line;   /* with newline set, line[len] is that "\n" (a driver may take len + 1) */
        size_t len;
        bool newline;
        struct timespec ts; /* when the monitor read it; every piece of a split line has the first's */
        const char *partial_id; /* NULL unless the line was split */
        int partial_ordinal;
        bool partial_last;
} LogMsg;

typedef struct LogDriverOps LogDriverOps;

/* Each driver's state starts with this. */
typedef struct LogDriver {
        const LogDriverOps *ops;
} LogDriver;

struct LogDriverOps {
        const char *name;
        /* Opens the sink (a file, a socket...).  A sink that is down at open is not an error when the
         * driver reconnects later (syslog, fluentd with async): docker's behaviour per driver. */
        int (*open)(const LogInfo *info, LogDriver **ret, Error **err);
        /* Writes one message; may block.  A failure is reported (rate-limited, in monitor.log) and the
         * next message is tried: one bad message or a sink's bad moment must not end the logging. */
        int (*log)(LogDriver *d, const LogMsg *m, Error **err);
        /* Optional (NULL): called when the queue has run empty, for drivers that batch (splunk,
         * fluentd's async buffer): send what is held.  -EAGAIN: something is still held (a send
         * failed and waits for its retry): call again in about a second even if no message comes. */
        int (*flush)(LogDriver *d, Error **err);
        /* Optional (NULL): the last send of what is held (within the driver's own limit), before
         * close; returns how many messages the driver took and then gave up over its life (its
         * buffer full, unsent at the end), which the pipe adds to its own count. */
        uint64_t (*finish)(LogDriver *d);
        /* Flushes what is held (within the driver's own time limit) and frees everything. */
        void (*close)(LogDriver *d);
        /* Optional (NULL): called from the monitor's main thread when it stops waiting for the log
         * thread (the drain limit passed): the call in progress and those after it should give up
         * soon (an error is fine), instead of waiting out their own retries. */
        void (*cancel)(LogDriver *d);
};

/* The implementation of a driver, or NULL ("none" has none: nothing is started for it). */
const LogDriverOps *log_driver_ops(const char *type);

extern const LogDriverOps log_driver_json_file;
extern const LogDriverOps log_driver_local;
extern const LogDriverOps log_driver_syslog;
extern const LogDriverOps log_driver_journald;
extern const LogDriverOps log_driver_fluentd;
extern const LogDriverOps log_driver_splunk;
