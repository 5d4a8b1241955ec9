/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The monitor's log pipe (see logdriver.h): the main thread hands over the container's output as it
 * reads it; a log thread splits it into docker's messages and feeds the driver.  Only the main thread
 * calls these functions.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

typedef struct LogPipe LogPipe;

enum { LOGPIPE_STDOUT = 0, LOGPIPE_STDERR = 1 };

/*
 * Opens the driver named by log.type with the container's facts, as the engine writes them into
 * monitor.json: {"type": "json-file", "config": {--log-opt...}, "path": LogPath, "id", "name",
 * "imageName", "imageId", "command", "hostname", "created", "labels": {}, "env": ["K=V"...]}.
 * The driver's own open runs here, on the caller's thread, so that a sink that cannot be reached
 * fails the container's start as docker's does ("failed to initialize logging driver: ...").
 * "none" gives a pipe that discards everything without a thread.  Then starts the log thread.
 */
int logpipe_open(json_t *log, LogPipe **ret, Error **err);

/* The same with the driver given (the unit tests' recording driver); ops NULL: by log.type. */
struct LogDriverOps;
int logpipe_open_ops(json_t *log, const struct LogDriverOps *ops, LogPipe **ret, Error **err);

/*
 * Hands over bytes read from the container's stdout or stderr at time ts.  In blocking mode this
 * always queues (the caller stops reading while logpipe_full() says so); in non-blocking mode the
 * messages that do not fit in max-buffer-size are dropped and counted.
 */
void logpipe_write(LogPipe *p, int stream, const char *buf, size_t len, const struct timespec *ts);

/* At EOF of a stream: the unfinished last line goes out without "\n". */
void logpipe_eof(LogPipe *p, int stream, const struct timespec *ts);

/* Blocking mode: the queue is full; stop reading the container's output until the fd below is readable. */
bool logpipe_full(LogPipe *p);

/* Readable when the log thread has made room (poll it while logpipe_full()); -1 when there is no thread. */
int logpipe_fd(LogPipe *p);
/* Consumes the fd's wake-up. */
void logpipe_ack(LogPipe *p);

/* How the hand-over went so far, for the tests and bench/logpipe-micro. */
typedef struct LogPipeStats {
        uint64_t batches_allocated; /* malloc'ed (the rest were spare ones used again) */
        uint64_t batches_delivered;
        uint64_t wakeups;           /* times the main thread signalled the log thread */
} LogPipeStats;
void logpipe_stats(LogPipe *p, LogPipeStats *ret);

/* Messages dropped so far (non-blocking mode, or a driver that failed them). */
uint64_t logpipe_dropped(LogPipe *p);

/*
 * Lets the log thread deliver what is queued, for at most drain_ms (-1: no limit), and closes the
 * driver; what is still queued then is dropped and counted.  The monitor gives blocking mode a long
 * limit (a sink that comes back gets everything) and non-blocking mode a short one.  *ret_dropped
 * (may be NULL) gets the final count of dropped messages.  Returns NULL.
 */
LogPipe *logpipe_close(LogPipe *p, int drain_ms, uint64_t *ret_dropped);
