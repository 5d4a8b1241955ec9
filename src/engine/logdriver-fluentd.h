/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The fluentd driver's pieces (logdriver-fluentd.c), for its unit tests and fuzzer.  The driver
 * itself is log_driver_fluentd (logdriver.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logdriver.h"
#include "msgpack.h"
#include "netconn.h"

#define FLUENTD_DEFAULT_ADDRESS      "127.0.0.1:24224"
#define FLUENTD_DEFAULT_PORT         "24224"
#define FLUENTD_DEFAULT_BUFFER_LIMIT (1024 * 1024) /* messages (docker's defaultBufferLimit) */
#define FLUENTD_DEFAULT_RETRY_WAIT   1000          /* ms */
#define FLUENTD_DEFAULT_MAX_RETRIES  INT32_MAX
#define FLUENTD_CHUNK_LEN            24 /* base64 of 16 bytes */

typedef struct FluentdOpts {
        NetAddr addr;
        bool async;            /* fluentd-async, or the deprecated fluentd-async-connect */
        int64_t buffer_limit;  /* messages held at most in async mode */
        int64_t retry_wait_ms; /* the first wait between two tries */
        int64_t max_retries;   /* tries after the first */
        bool sub_second;       /* time as EventTime (ext 0) rather than whole seconds */
        bool request_ack;      /* a "chunk" option in each message, answered by {"ack": chunk} */
} FluentdOpts;

/* Reads the fluentd-* options of `config` (already validated by logopts.c, checked again here). */
int fluentd_opts_parse(json_t *config, FluentdOpts *ret, Error **err);
void fluentd_opts_free(FluentdOpts *o);

/*
 * Appends one event in the forward protocol's Message mode, as docker's driver (fluent-logger-golang)
 * sends it: [tag, time, record, option].  time is whole seconds, or with sub_second an EventTime;
 * record is {"container_id", "container_name" ("/" + name), "source", "log"} plus the string
 * attributes of info->attrs plus, for a piece of a split line, partial_message, partial_id,
 * partial_ordinal and partial_last (an attribute named like one of these fields is left out: docker
 * would let it replace the field); option is {} or {"chunk": chunk} when chunk is not NULL.
 */
void fluentd_encode(MpBuf *b, const LogInfo *info, const LogMsg *m, bool sub_second, const char *chunk);

/* A chunk id as fluent-logger-golang makes one: base64 of the second (64-bit little-endian) and 64
 * random bits; `out` holds FLUENTD_CHUNK_LEN + 1 bytes. */
void fluentd_chunk_id(int64_t sec, uint64_t random, char out[FLUENTD_CHUNK_LEN + 1]);

/*
 * The server's answer to a message with a chunk option: a map holding "ack": <str>, other keys ignored.
 * Returns 1 when buf starts with a whole answer: *ret_consumed its size, *ret_match whether its ack is
 * `chunk`; 0 when more bytes are needed; -EBADMSG when buf does not start with such an answer.
 */
int fluentd_ack_parse(const uint8_t *buf, size_t len, const char *chunk, size_t *ret_consumed, bool *ret_match);

/* The wait before try number `retry` (1 for the first retry): none before the first retry (the
 * connection may just have been reset), then retry_wait, growing by half each time, at most 60 s. */
int64_t fluentd_backoff_ms(int64_t retry_wait_ms, int64_t retry);
