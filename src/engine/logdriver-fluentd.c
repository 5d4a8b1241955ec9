/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fluentd driver (see logdriver.h): docker's fluentd driver (moby daemon/logger/fluentd over
 * fluent-logger-golang), message for message, over netconn.c.
 *
 * Each message, including each 16 KiB piece of a long line, is one event of the forward protocol's
 * Message mode (Forward-Protocol-Specification-v1), msgpack over a TCP, TLS or unix stream:
 *
 *   [tag, time, {"container_id": <64 hex>, "container_name": "/<name>", "source": "stdout",
 *                "log": "<the line, without its newline>", <attributes>, <partial_*>}, option]
 *
 * time is whole seconds, or with fluentd-sub-second-precision an EventTime (ext type 0: 32-bit seconds
 * and nanoseconds, big-endian); option is {} or, with fluentd-request-ack, {"chunk": <base64 id>},
 * which the server answers with {"ack": <the id>} before the next message goes.
 *
 * Two ways to send, as docker's:
 *  - Synchronous (the default): open connects within CONNECT_TIMEOUT_MS and a server that cannot be
 *    reached fails the container's start.  log() writes the message itself; a failure is retried on a
 *    new connection, waiting fluentd_backoff_ms() between tries, up to fluentd-max-retries retries and
 *    at most SYNC_GIVE_UP_MS in all (docker's would wait for ever by default), or until the monitor
 *    cancels (its drain limit after the container's exit), then the message is reported lost.  The
 *    monitor's log pipe holds the container meanwhile (mode=blocking) or drops and counts
 *    (mode=non-blocking).
 *  - fluentd-async (or the deprecated fluentd-async-connect): open does not connect.  log() only
 *    queues the encoded message for a sender thread of the driver's own and never waits; a full queue
 *    (fluentd-buffer-limit messages, or ASYNC_BYTES_MAX bytes) refuses the message, which the pipe
 *    counts as dropped.  The sender connects and writes, retrying as above but without the time bound;
 *    a batch that runs out of retries is lost, counted and reported by the next flush.  close gives the
 *    sender ASYNC_CLOSE_MS to deliver what is queued (docker's discards it at once).
 *
 * A thread of its own for async mode: the pipe calls the driver only when there are messages or its
 * queue has just run empty, so retries that must happen while the container is quiet need one.
 */
#include "logdriver-fluentd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define CONNECT_TIMEOUT_MS 3000  /* fluent-logger-golang's dial timeout */
#define IO_TIMEOUT_MS      10000 /* one write */
#define ACK_TIMEOUT_MS     10000 /* the server's ack, once the message is written */
#define ACK_MAX            4096  /* an ack is a few dozen bytes */
#define SYNC_GIVE_UP_MS    60000
#define ASYNC_CLOSE_MS     10000
#define ASYNC_BYTES_MAX    (16u << 20)
#define BATCH_MAX          (64u << 10) /* bytes per write in async mode without acks */
#define BACKOFF_MAX_MS     60000       /* fluent-logger-golang's defaultMaxRetryWait */
#define LIB_MAX_RETRIES    13          /* fluent-logger-golang's default, which 0 stands for */
#define LIB_RETRY_WAIT_MS  500         /* fluent-logger-golang's default, which 0 stands for */

/* ================================================================ options */

static const char *opt(json_t *config, const char *key)
{
        return json_string_value(json_object_get(config, key));
}

/* Go's strconv.ParseBool, which docker uses: 1 true, 0 false, -EINVAL otherwise. */
static int parse_go_bool(const char *s)
{
        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (STREQ(s, yes[i]))
                        return 1;
                if (STREQ(s, no[i]))
                        return 0;
        }
        return -EINVAL;
}

static int bool_opt(json_t *config, const char *key, bool *ret, Error **err)
{
        const char *v = opt(config, key);
        int r;

        *ret = false;
        if (!v)
                return 0;
        r = parse_go_bool(v);
        if (r < 0)
                return error_setx(err, EINVAL, "log-opt %s: invalid value '%s' (true or false)", key, v);
        *ret = r;
        return 0;
}

void fluentd_opts_free(FluentdOpts *o)
{
        if (o)
                net_addr_free(&o->addr);
}

int fluentd_opts_parse(json_t *config, FluentdOpts *ret, Error **err)
{
        FluentdOpts o = {
                .buffer_limit = FLUENTD_DEFAULT_BUFFER_LIMIT,
                .retry_wait_ms = FLUENTD_DEFAULT_RETRY_WAIT,
                .max_retries = FLUENTD_DEFAULT_MAX_RETRIES,
        };
        const char *v;
        bool async_connect;
        int r;

        v = opt(config, "fluentd-address");
        r = net_addr_parse(v && *v ? v : FLUENTD_DEFAULT_ADDRESS, FLUENTD_DEFAULT_PORT,
                           (1u << NET_TCP) | (1u << NET_TLS) | (1u << NET_UNIX), &o.addr, err);
        if (r < 0)
                return error_wrap(err, "log-opt fluentd-address");

        if (opt(config, "fluentd-async") && opt(config, "fluentd-async-connect")) {
                r = error_setx(err, EINVAL, "conflicting options: cannot specify both 'fluentd-async' and "
                               "'fluentd-async-connect'");
                goto fail;
        }
        if ((r = bool_opt(config, "fluentd-async", &o.async, err)) < 0 ||
            (r = bool_opt(config, "fluentd-async-connect", &async_connect, err)) < 0 ||
            (r = bool_opt(config, "fluentd-sub-second-precision", &o.sub_second, err)) < 0 ||
            (r = bool_opt(config, "fluentd-request-ack", &o.request_ack, err)) < 0)
                goto fail;
        o.async |= async_connect;

        if ((v = opt(config, "fluentd-buffer-limit"))) {
                /* docker reads it with units.RAMInBytes ("1m" is 1048576) and uses it as a count of
                 * messages (fluent-logger-golang's BufferLimit). */
                if (parse_size(v, &o.buffer_limit) < 0 || o.buffer_limit <= 0) {
                        r = error_setx(err, EINVAL, "log-opt fluentd-buffer-limit: invalid value '%s' (a positive "
                                       "number, with k, m or g)", v);
                        goto fail;
                }
        }
        if ((v = opt(config, "fluentd-retry-wait"))) {
                if (parse_duration_ms(v, &o.retry_wait_ms) < 0 || o.retry_wait_ms < 0) {
                        r = error_setx(err, EINVAL, "log-opt fluentd-retry-wait: invalid duration '%s' (such as "
                                       "500ms, 1s)", v);
                        goto fail;
                }
                if (o.retry_wait_ms == 0)
                        o.retry_wait_ms = LIB_RETRY_WAIT_MS;
        }
        if ((v = opt(config, "fluentd-max-retries"))) {
                uint64_t n;
                if (parse_uint64(v, &n) < 0 || n > INT32_MAX) {
                        r = error_setx(err, EINVAL, "log-opt fluentd-max-retries: invalid value '%s' (a whole "
                                       "number from 0 to %d)", v, INT32_MAX);
                        goto fail;
                }
                o.max_retries = n == 0 ? LIB_MAX_RETRIES : (int64_t)n;
        }
        *ret = o;
        return 0;
fail:
        fluentd_opts_free(&o);
        return r;
}

/* ================================================================ the wire format */

static const char *const base_keys[] = { "container_id", "container_name", "source", "log" };
static const char *const partial_keys[] = { "partial_message", "partial_id", "partial_ordinal", "partial_last" };

static bool is_one_of(const char *k, const char *const *keys, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (STREQ(k, keys[i]))
                        return true;
        return false;
}

/*
 * An attribute that goes into the record: a string whose name is none of the driver's own fields.
 * Docker lets a label or an environment variable named container_id (or log, source...) replace the
 * real field, so an image's ENV could file its lines under another container; stockade leaves such
 * attributes out (docs/LOGGING.md).
 */
static bool extra_attr(const char *key, json_t *value)
{
        return json_is_string(value) && !is_one_of(key, base_keys, ELEMENTSOF(base_keys)) &&
               !is_one_of(key, partial_keys, ELEMENTSOF(partial_keys));
}

static void field(MpBuf *b, const char *key, const void *value, size_t len)
{
        mp_cstr(b, key);
        mp_str(b, value, len);
}

void fluentd_encode(MpBuf *b, const LogInfo *info, const LogMsg *m, bool sub_second, const char *chunk)
{
        bool partial = m->partial_id != NULL;
        size_t fields = ELEMENTSOF(base_keys) + (partial ? ELEMENTSOF(partial_keys) : 0);
        size_t name_len = strlen(info->name);
        _cleanup_free_ char *name = xmalloc(name_len + 2);
        const char *key;
        json_t *value;

        json_object_foreach (info->attrs, key, value)
                if (extra_attr(key, value))
                        fields++;

        mp_array(b, 4);
        mp_cstr(b, info->tag);
        if (sub_second) {
                /* EventTime: the seconds as fluent-logger-golang keeps them (int32), the nanoseconds. */
                uint32_t sec = (uint32_t)(int32_t)m->ts.tv_sec, nsec = (uint32_t)m->ts.tv_nsec;
                uint8_t t[8] = {
                        (uint8_t)(sec >> 24),  (uint8_t)(sec >> 16),  (uint8_t)(sec >> 8),  (uint8_t)sec,
                        (uint8_t)(nsec >> 24), (uint8_t)(nsec >> 16), (uint8_t)(nsec >> 8), (uint8_t)nsec,
                };
                mp_ext(b, 0, t, sizeof(t));
        } else {
                mp_int(b, (int64_t)m->ts.tv_sec);
        }

        mp_map(b, fields);
        name[0] = '/';
        memcpy(name + 1, info->name, name_len + 1);
        field(b, "container_id", info->id, strlen(info->id));
        field(b, "container_name", name, name_len + 1);
        field(b, "source", m->stream, strlen(m->stream));
        field(b, "log", m->line, m->len);
        json_object_foreach (info->attrs, key, value)
                if (extra_attr(key, value)) {
                        mp_cstr(b, key);
                        mp_str(b, json_string_value(value), json_string_length(value));
                }
        if (partial) {
                char ordinal[16];
                snprintf(ordinal, sizeof(ordinal), "%d", m->partial_ordinal);
                mp_cstr(b, "partial_message");
                mp_cstr(b, "true");
                mp_cstr(b, "partial_id");
                mp_cstr(b, m->partial_id);
                mp_cstr(b, "partial_ordinal");
                mp_cstr(b, ordinal);
                mp_cstr(b, "partial_last");
                mp_cstr(b, m->partial_last ? "true" : "false");
        }

        if (chunk) {
                mp_map(b, 1);
                mp_cstr(b, "chunk");
                mp_cstr(b, chunk);
        } else {
                mp_map(b, 0); /* fluent-logger-golang always sends an option map */
        }
}

void fluentd_chunk_id(int64_t sec, uint64_t random, char out[FLUENTD_CHUNK_LEN + 1])
{
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint8_t in[18] = { 0 }; /* 16 bytes, padded to a multiple of 3 */
        size_t o = 0;

        for (int i = 0; i < 8; i++) {
                in[i] = (uint8_t)((uint64_t)sec >> (8 * i));
                in[8 + i] = (uint8_t)(random >> (8 * i));
        }
        for (size_t i = 0; i < 18; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
                out[o++] = b64[v >> 18 & 63];
                out[o++] = b64[v >> 12 & 63];
                out[o++] = b64[v >> 6 & 63];
                out[o++] = b64[v & 63];
        }
        /* 16 bytes: five whole groups and one byte, so the last group is "XY==" */
        out[22] = out[23] = '=';
        out[FLUENTD_CHUNK_LEN] = '\0';
}

int fluentd_ack_parse(const uint8_t *buf, size_t len, const char *chunk, size_t *ret_consumed, bool *ret_match)
{
        size_t off = 0;
        bool found = false, match = false;
        MpItem it;
        int r;

        r = mp_read(buf, len, &off, &it);
        if (r <= 0)
                return r;
        if (it.type != MP_MAP)
                return -EBADMSG;
        for (uint32_t i = 0; i < it.len; i++) {
                MpItem key, val;
                if ((r = mp_read(buf, len, &off, &key)) <= 0)
                        return r;
                if (key.type != MP_STR)
                        return -EBADMSG;
                if (key.len == 3 && memcmp(key.data, "ack", 3) == 0) {
                        if (found)
                                return -EBADMSG; /* two acks: which one? */
                        if ((r = mp_read(buf, len, &off, &val)) <= 0)
                                return r;
                        if (val.type != MP_STR)
                                return -EBADMSG;
                        found = true;
                        match = val.len == strlen(chunk) && memcmp(val.data, chunk, val.len) == 0;
                } else if ((r = mp_skip(buf, len, &off)) <= 0) {
                        return r;
                }
        }
        if (!found)
                return -EBADMSG;
        *ret_consumed = off;
        *ret_match = match;
        return 1;
}

int64_t fluentd_backoff_ms(int64_t retry_wait_ms, int64_t retry)
{
        int64_t w = retry_wait_ms;

        if (retry <= 1)
                return 0;
        for (int64_t i = 2; i < retry && w < BACKOFF_MAX_MS; i++)
                w += (w + 1) / 2;
        return w < BACKOFF_MAX_MS ? w : BACKOFF_MAX_MS;
}

/* ================================================================ the driver */

typedef struct Pending {
        struct Pending *next;
        size_t len;
        char chunk[FLUENTD_CHUNK_LEN + 1]; /* "" without fluentd-request-ack */
        uint8_t data[];
} Pending;

typedef struct FluentdDriver {
        LogDriver base;
        FluentdOpts o;
        LogInfo info;  /* a copy; the strings and objects in it are borrowed (valid until close) */
        char *where;   /* the address, for messages: "tcp://127.0.0.1:24224" */
        MpBuf enc;     /* the log thread's */
        uint64_t rng;  /* chunk ids (xorshift64*, seeded from getrandom) */
        NetConn *conn; /* the sender's: the log thread (sync) or the sender thread (async) */

        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC: a message queued, close, or cancel */
        bool cancelled;      /* the monitor stopped waiting: give up (cancel) */

        /* async mode */
        pthread_t thread;
        bool have_thread;
        Pending *head, *tail;
        size_t count, bytes; /* queued or being sent */
        bool stopping;
        int64_t stop_at_ms;
        uint64_t lost, lost_reported; /* messages the sender gave up */
        char *last_error;
} FluentdDriver;

static int64_t now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t next_random(FluentdDriver *d)
{
        d->rng ^= d->rng >> 12;
        d->rng ^= d->rng << 25;
        d->rng ^= d->rng >> 27;
        return d->rng * 2685821657736338717ULL;
}

/* How long the sender may still take, in ms: `want`, or less once close has set a deadline; 0 when
 * that deadline has passed or the monitor has cancelled. */
static int64_t time_left(FluentdDriver *d, int64_t want)
{
        int64_t left = want;

        pthread_mutex_lock(&d->lock);
        if (d->cancelled) {
                left = 0;
        } else if (d->stopping) {
                int64_t rem = d->stop_at_ms - now_ms();
                left = rem < 0 ? 0 : rem < want ? rem : want;
        }
        pthread_mutex_unlock(&d->lock);
        return left;
}

/* Waits ms, or less when close's deadline comes first or the monitor cancels: 0, or -ECANCELED when
 * either has ended the wait. */
static int pause_ms(FluentdDriver *d, int64_t ms)
{
        int64_t until = now_ms() + ms;
        int r = 0;

        pthread_mutex_lock(&d->lock);
        for (;;) {
                int64_t limit = until, now = now_ms();
                struct timespec abs;
                if (d->stopping && d->stop_at_ms < limit)
                        limit = d->stop_at_ms;
                if (d->cancelled || now >= limit)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &abs);
                abs.tv_sec += (limit - now) / 1000;
                abs.tv_nsec += ((limit - now) % 1000) * 1000000L;
                if (abs.tv_nsec >= 1000000000L) {
                        abs.tv_sec++;
                        abs.tv_nsec -= 1000000000L;
                }
                (void)pthread_cond_timedwait(&d->cond, &d->lock, &abs);
        }
        if (d->cancelled || (d->stopping && now_ms() >= d->stop_at_ms))
                r = -ECANCELED;
        pthread_mutex_unlock(&d->lock);
        return r;
}

/* A connection the server has closed (a restart) is dropped before a message is written into it and
 * lost.  A forward server sends nothing but acks, which are read right after their message, so
 * whatever is readable here is the end, an error, or TLS housekeeping (net_read consumes that). */
static void drop_if_closed(FluentdDriver *d)
{
        char tmp[512];
        ssize_t n;

        if (!d->conn)
                return;
        n = net_read(d->conn, tmp, sizeof(tmp), 0, NULL);
        if (n == 0 || (n < 0 && n != -ETIMEDOUT))
                d->conn = net_close(d->conn);
}

static int wait_ack(FluentdDriver *d, const char *chunk, int64_t timeout_ms, Error **err)
{
        uint8_t buf[ACK_MAX];
        int64_t deadline = now_ms() + timeout_ms;
        size_t n = 0;

        for (;;) {
                int64_t left = deadline - now_ms();
                size_t used;
                bool match;
                ssize_t k;
                int r;

                if (left <= 0)
                        return error_setx(err, ETIMEDOUT, "%s: no ack for chunk %s within %lld ms", d->where, chunk,
                                          (long long)timeout_ms);
                k = net_read(d->conn, buf + n, sizeof(buf) - n, (int)left, err);
                if (k == -ETIMEDOUT) {
                        error_clear(err);
                        continue;
                }
                if (k < 0)
                        return (int)k;
                if (k == 0)
                        return error_setx(err, EPIPE, "%s: the server closed the connection before its ack", d->where);
                n += (size_t)k;
                r = fluentd_ack_parse(buf, n, chunk, &used, &match);
                if (r < 0)
                        return error_setx(err, EPROTO, "%s: the server's answer is not an ack (a map with \"ack\")",
                                          d->where);
                if (r > 0) {
                        if (!match)
                                return error_setx(err, EPROTO, "%s: the ack is not for chunk %s", d->where, chunk);
                        if (used != n)
                                return error_setx(err, EPROTO, "%s: %zu unexpected bytes after the ack", d->where,
                                                  n - used);
                        return 0;
                }
                if (n == sizeof(buf))
                        return error_setx(err, EPROTO, "%s: an ack longer than %d bytes", d->where, ACK_MAX);
        }
}

/* One try: connect if need be, write, wait for the ack.  A failure leaves no connection behind. */
static int try_once(FluentdDriver *d, const void *data, size_t len, const char *chunk, Error **err)
{
        int64_t left;
        int r;

        drop_if_closed(d);
        if (!d->conn) {
                if ((left = time_left(d, CONNECT_TIMEOUT_MS)) <= 0)
                        return error_setx(err, ECANCELED, "%s: given up (the monitor is stopping)", d->where);
                r = net_connect(&d->o.addr, &(NetTlsOpts){ 0 }, (int)left, &d->conn, err);
                if (r < 0)
                        return r;
        }
        if ((left = time_left(d, IO_TIMEOUT_MS)) <= 0)
                r = error_setx(err, ECANCELED, "%s: given up (the monitor is stopping)", d->where);
        else
                r = net_write(d->conn, data, len, (int)left, err);
        if (r >= 0 && chunk) {
                if ((left = time_left(d, ACK_TIMEOUT_MS)) <= 0)
                        r = error_setx(err, ECANCELED, "%s: given up (the monitor is stopping)", d->where);
                else
                        r = wait_ack(d, chunk, left, err);
        }
        if (r < 0)
                d->conn = net_close(d->conn);
        return r;
}

/*
 * Delivers one message, or a batch without acks, trying up to 1 + max-retries times with
 * fluentd_backoff_ms() between tries, and giving up at give_up_at (CLOCK_MONOTONIC ms; -1: never) or,
 * in async mode, at close's deadline.
 */
static int deliver(FluentdDriver *d, const void *data, size_t len, const char *chunk, int64_t give_up_at,
                   Error **err)
{
        Error *last = NULL;
        int64_t retry;
        int r;

        for (retry = 0;; retry++) {
                if (retry > 0) {
                        int64_t wait = fluentd_backoff_ms(d->o.retry_wait_ms, retry);
                        if (retry > d->o.max_retries || (give_up_at >= 0 && now_ms() + wait > give_up_at) ||
                            pause_ms(d, wait) < 0)
                                break;
                }
                error_clear(&last);
                r = try_once(d, data, len, chunk, &last);
                if (r >= 0)
                        return 0;
                if (r == -ECANCELED)
                        break;
        }
        r = error_setx(err, last ? last->errnum : EIO, "%s: gave up after %lld %s: %s", d->where, (long long)retry,
                       retry == 1 ? "try" : "tries", last ? last->msg : "the monitor is stopping");
        error_free(last);
        return r;
}

static void *sender(void *ud)
{
        FluentdDriver *d = ud;

        pthread_mutex_lock(&d->lock);
        for (;;) {
                Pending *first, *last;
                size_t n = 1, total, off = 0;
                uint8_t *batch = NULL;
                Error *e = NULL;
                int r;

                while (!d->head && !d->stopping)
                        pthread_cond_wait(&d->cond, &d->lock);
                if (!d->head)
                        break;
                if (d->stopping && now_ms() >= d->stop_at_ms)
                        break; /* close counts what is left */

                /* Without acks, consecutive messages go in one write. */
                first = last = d->head;
                total = first->len;
                while (!first->chunk[0] && last->next && total + last->next->len <= BATCH_MAX) {
                        last = last->next;
                        total += last->len;
                        n++;
                }
                d->head = last->next;
                if (!d->head)
                        d->tail = NULL;
                last->next = NULL;
                pthread_mutex_unlock(&d->lock);

                if (n > 1) {
                        batch = xmalloc(total);
                        for (Pending *p = first; p; p = p->next) {
                                memcpy(batch + off, p->data, p->len);
                                off += p->len;
                        }
                }
                r = deliver(d, batch ? batch : first->data, total, first->chunk[0] ? first->chunk : NULL, -1, &e);
                free(batch);

                pthread_mutex_lock(&d->lock);
                d->count -= n;
                d->bytes -= total;
                if (r < 0) {
                        d->lost += n;
                        free(d->last_error);
                        d->last_error = xstrdup(e->msg);
                }
                pthread_mutex_unlock(&d->lock);
                error_free(e);
                while (first) {
                        Pending *next = first->next;
                        free(first);
                        first = next;
                }
                pthread_mutex_lock(&d->lock);
        }
        pthread_mutex_unlock(&d->lock);
        return NULL;
}

static int fluentd_log(LogDriver *base, const LogMsg *m, Error **err)
{
        FluentdDriver *d = (FluentdDriver *)base;
        char chunk[FLUENTD_CHUNK_LEN + 1] = "";
        Pending *p;

        if (d->o.request_ack)
                fluentd_chunk_id((int64_t)m->ts.tv_sec, next_random(d), chunk);
        d->enc.len = 0;
        fluentd_encode(&d->enc, &d->info, m, d->o.sub_second, chunk[0] ? chunk : NULL);

        if (!d->have_thread)
                return deliver(d, d->enc.data, d->enc.len, chunk[0] ? chunk : NULL, now_ms() + SYNC_GIVE_UP_MS, err);

        p = xmalloc(sizeof(*p) + d->enc.len);
        p->next = NULL;
        p->len = d->enc.len;
        memcpy(p->chunk, chunk, sizeof(chunk));
        memcpy(p->data, d->enc.data, d->enc.len);
        pthread_mutex_lock(&d->lock);
        if ((int64_t)d->count >= d->o.buffer_limit || d->bytes + p->len > ASYNC_BYTES_MAX) {
                size_t count = d->count, bytes = d->bytes;
                pthread_mutex_unlock(&d->lock);
                free(p);
                return error_setx(err, ENOBUFS, "%s: buffer full (%zu messages, %zu bytes held; fluentd-buffer-limit "
                                  "%lld messages, at most %u bytes)", d->where, count, bytes,
                                  (long long)d->o.buffer_limit, ASYNC_BYTES_MAX);
        }
        if (d->tail)
                d->tail->next = p;
        else
                d->head = p;
        d->tail = p;
        d->count++;
        d->bytes += p->len;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        return 0;
}

/* Async mode: the messages the sender has given up since the last call, as an error for the monitor's
 * log.  The sender writes whatever is queued without being asked, so there is nothing to push. */
static int fluentd_flush(LogDriver *base, Error **err)
{
        FluentdDriver *d = (FluentdDriver *)base;
        uint64_t n;
        int r = 0;

        if (!d->have_thread)
                return 0;
        pthread_mutex_lock(&d->lock);
        n = d->lost - d->lost_reported;
        if (n > 0) {
                d->lost_reported = d->lost;
                r = error_setx(err, EIO, "%llu %s lost: %s", (unsigned long long)n, n == 1 ? "message" : "messages",
                               d->last_error ? d->last_error : "?");
        }
        pthread_mutex_unlock(&d->lock);
        return r;
}

/*
 * Async mode: gives the sender ASYNC_CLOSE_MS to deliver what is queued, then stops it.  Returns what
 * the driver took and never delivered (lost after retries, or still queued), for the pipe's count.
 */
static uint64_t fluentd_finish(LogDriver *base)
{
        FluentdDriver *d = (FluentdDriver *)base;
        uint64_t n;

        if (!d->have_thread)
                return 0;
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        d->stop_at_ms = now_ms() + ASYNC_CLOSE_MS;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
        d->have_thread = false;

        /* What the sender could not deliver in time, and losses no flush has reported. */
        n = d->lost - d->lost_reported + d->count;
        if (n > 0)
                fprintf(stderr, "stockade-monitor: log driver fluentd: %llu %s not delivered%s%s\n",
                        (unsigned long long)n, n == 1 ? "message" : "messages", d->last_error ? ": " : "",
                        d->last_error ? d->last_error : "");
        while (d->head) {
                Pending *next = d->head->next;
                free(d->head);
                d->head = next;
        }
        return d->lost + d->count;
}

static void fluentd_close(LogDriver *base)
{
        FluentdDriver *d = (FluentdDriver *)base;

        if (!d)
                return;
        (void)fluentd_finish(base); /* a no-op when the pipe called it already */
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        net_close(d->conn);
        fluentd_opts_free(&d->o);
        mp_buf_free(&d->enc);
        free(d->last_error);
        free(d->where);
        free(d);
}

static char *address_name(const NetAddr *a)
{
        if (a->proto == NET_UNIX)
                return xasprintf("unix://%s", a->path);
        return xasprintf(strchr(a->host, ':') ? "%s://[%s]:%s" : "%s://%s:%s", a->proto == NET_TLS ? "tls" : "tcp",
                         a->host, a->port);
}

/* Called from the monitor's main thread once it stops waiting for the log thread: the message being
 * retried, and any after it, give up at once. */
static void fluentd_cancel(LogDriver *base)
{
        FluentdDriver *d = (FluentdDriver *)base;

        pthread_mutex_lock(&d->lock);
        d->cancelled = true;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
}

static int fluentd_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        FluentdDriver *d = xcalloc(1, sizeof(*d));
        pthread_condattr_t ca;
        int r;

        d->base.ops = &log_driver_fluentd;
        d->info = *info;
        r = fluentd_opts_parse(info->config, &d->o, err);
        if (r < 0) {
                free(d);
                return r;
        }
        pthread_mutex_init(&d->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->cond, &ca);
        pthread_condattr_destroy(&ca);
        d->where = address_name(&d->o.addr);
        if (getrandom(&d->rng, sizeof(d->rng), GRND_NONBLOCK) != sizeof(d->rng))
                d->rng = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
        d->rng |= 1; /* xorshift never leaves 0 */

        if (!d->o.async) {
                /* docker's synchronous driver connects in New: a server that is not there fails the start */
                r = net_connect(&d->o.addr, &(NetTlsOpts){ 0 }, CONNECT_TIMEOUT_MS, &d->conn, err);
                if (r < 0) {
                        r = error_wrap(err, "fluentd");
                        fluentd_close(&d->base);
                        return r;
                }
                *ret = &d->base;
                return 0;
        }

        r = -pthread_create(&d->thread, NULL, sender, d);
        if (r < 0) {
                fluentd_close(&d->base);
                return error_set(err, -r, "fluentd: starting the sender thread");
        }
        d->have_thread = true;
        *ret = &d->base;
        return 0;
}

const LogDriverOps log_driver_fluentd = {
        .name = "fluentd",
        .open = fluentd_open,
        .log = fluentd_log,
        .finish = fluentd_finish,
        .flush = fluentd_flush,
        .close = fluentd_close,
        .cancel = fluentd_cancel,
};
