/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The monitor's log pipe (logpipe.h, logdriver.h).  The main thread splits what it reads into docker's
 * messages (jsonlog.c's LineSplitter: lines, 16 KiB pieces, the unfinished end) and appends them as
 * records to a batch; a log thread empties batches into the driver.
 *
 * Hand-over, so that a busy container costs neither a batch nor a wake-up per read:
 *  - The main thread keeps filling one batch across reads.  Between reads the batch waits as `pend`,
 *    where the log thread may take it; the next read takes it back if it is still there.  A full batch
 *    goes on the queue.
 *  - The log thread takes the queue's batches first, then `pend`.  When it runs out it naps for
 *    FLUSH_DELAY_NS (output collects in `pend` meanwhile; only a full batch wakes it early), takes what
 *    came, and only after a nap without output flushes the driver and sleeps until woken.  The main
 *    thread signals it only then (IDLE: any output), or while it naps (a full batch): never while it
 *    works, so a steady stream costs a wake-up per full batch or per nap at most, not per read.
 *  - Delivered batches go on a free list for the main thread to fill again, so the heap is not
 *    trimmed and faulted in again all the time.  The list holds at most as many as the queue's limit
 *    needs (so the pipe never holds more memory than a full queue), and the log thread frees it when
 *    it goes idle, so a quiet container holds no batch.
 * Two uncontended locks per read (take `pend` back, put it back), and none per message.
 *
 * Accounting is in bytes of records queued.  Blocking mode: the caller stops reading the container's
 * pipes while logpipe_full(), and an eventfd tells it when the log thread has made room (below half
 * the limit, so it does not wake for every batch).  Non-blocking mode: a message that would take the
 * queue over max-buffer-size is dropped and counted, so the container never waits for the sink.
 */
#include "logpipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "jsonlog.h"
#include "logdriver.h"
#include "template.h"
#include "util.h"

#define MIN(a, b)   ((a) < (b) ? (a) : (b))
#define MAX(a, b)   ((a) > (b) ? (a) : (b))
#define ALIGN8(n)   (((n) + 7) & ~(size_t)7)

#define BLOCKING_LIMIT   (4u << 20) /* queued bytes before the container's pipes are left unread */
#define DEFAULT_NB_LIMIT (1u << 20) /* docker's default max-buffer-size */
#define ERROR_EVERY_S    60         /* a failing driver is reported at most once a minute */
#define FLUSH_DELAY_NS   2000000L   /* an idle log thread flushes the driver after 2 ms without output */
#define IDLE_RELEASE_NS  1000000000L /* and gives its spare memory back after a quiet second */
#define BATCH_SIZE       (256u << 10) /* three reads of 64 KiB of short lines, with their record headers */


enum {
        REC_NEWLINE = 1 << 0,
        REC_PARTIAL = 1 << 1, /* carries a partial id and ordinal */
        REC_LAST = 1 << 2,
};

/*
 * A record in a batch: the header, with REC_PARTIAL the 64-hex partial id, then `len` bytes of line
 * (+ "\n" with REC_NEWLINE), padded to 8.
 */
typedef struct Rec {
        uint32_t len;
        uint32_t ordinal;
        uint8_t stream;
        uint8_t flags;
        uint8_t pad[6];
        struct timespec ts;
} Rec;

#define ID_LEN 64

static size_t rec_size(const Rec *r)
{
        return sizeof(Rec) + ALIGN8(((r->flags & REC_PARTIAL) ? ID_LEN : 0) + r->len + ((r->flags & REC_NEWLINE) ? 1 : 0));
}

typedef struct Batch {
        struct Batch *next;
        size_t used, cap;
        size_t counted; /* bytes of `used` already added to the pipe's `queued` */
        _Alignas(8) char data[]; /* records, each 8-aligned */
} Batch;

typedef struct StreamState {
        LineSplitter split;
        bool in_split;        /* pieces of a long line went out and its end has not */
        uint32_t ordinal;
        char id[65];
} StreamState;

struct LogPipe {
        const LogDriverOps *ops;
        LogDriver *driver;
        bool non_blocking;
        size_t limit;
        /* main thread only */
        StreamState st[2];
        Batch *cur;        /* the batch being filled, during logpipe_write() and logpipe_eof() */
        size_t nb_queued;  /* non-blocking mode: `queued` as last seen plus what was added since, so
                            * at least the real figure: the message that seems to fit does */
        /* shared, under lock */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Batch *head, *tail; /* full batches, oldest first */
        Batch *pend;        /* the batch being filled, between two reads: after head, before the next */
        Batch *free_list;   /* delivered batches kept for reuse */
        size_t nfree, free_max;
        LogPipeStats stats;
        enum { LT_RUNNING, LT_NAPPING, LT_IDLE } lt_state; /* what the log thread is doing */
        size_t queued;      /* bytes of records in head...tail, pend and cur, as counted so far */
        bool stopping, thread_done, notify_armed;
        atomic_bool abandon; /* read by the log thread without the lock, per record */
        uint64_t dropped;
        pthread_t thread;
        bool have_thread;
        int efd;
        /* the driver's facts, kept for its lifetime */
        LogInfo info;
        json_t *log;
        char *tag;
        json_t *attrs;
};

/* ================================================================ tag and attributes */

/* Docker's {{.Command}}: the entrypoint and args joined with spaces; the rest straight from monitor.json. */
static char *render_tag(const LogInfo *i, Error **err)
{
        const char *t = json_string_value(json_object_get(i->config, "tag"));
        _cleanup_(tmpl_freep) Template *tp = NULL;
        json_t *fields;
        char *out = NULL;
        int r;

        if (!t)
                return xstrndup(i->id, 12);
        {
                /* {{.ID}} and {{.ImageID}} are the short forms: 12 hex (the image's without "sha256:"). */
                const char *id = i->id ? i->id : "", *img = i->image_id ? i->image_id : "";
                const char *img_hex = str_has_prefix(img, "sha256:") ? img + 7 : img;
                fields = json_pack("{s:s%, s:s, s:s, s:s, s:s%, s:s, s:s, s:s, s:s}", "ID", id, MIN(strlen(id), (size_t)12),
                                   "FullID", id, "Name", i->name ? i->name : "", "ImageName",
                                   i->image_name ? i->image_name : "", "ImageID", img_hex,
                                   MIN(strlen(img_hex), (size_t)12), "ImageFullID", img, "Command",
                                   i->command ? i->command : "", "Hostname", i->hostname ? i->hostname : "",
                                   "DaemonName", i->daemon_name ? i->daemon_name : "");
        }
        r = tmpl_parse(t, &tp, err);
        if (r == 0)
                r = tmpl_execute(tp, fields, &out, err);
        json_decref(fields);
        return r < 0 ? NULL : out;
}

/* Splits a comma list ("a,b") and calls fn for each non-empty item. */
static void each_item(const char *list, void (*fn)(const char *item, void *ud), void *ud)
{
        _cleanup_free_ char *copy = xstrdup(list ? list : "");
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (*t)
                        fn(t, ud);
}

typedef struct AttrCtx {
        json_t *attrs, *labels, *env;
} AttrCtx;

static void add_label(const char *k, void *ud)
{
        AttrCtx *c = ud;
        json_t *v = json_object_get(c->labels, k);
        if (json_is_string(v))
                json_object_set(c->attrs, k, v);
}

static const char *env_value(json_t *env, const char *k)
{
        size_t i, n = strlen(k);
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *s = json_string_value(v);
                if (s && strncmp(s, k, n) == 0 && s[n] == '=')
                        return s + n + 1;
        }
        return NULL;
}

static void add_env(const char *k, void *ud)
{
        AttrCtx *c = ud;
        const char *v = env_value(c->env, k);
        if (v)
                json_object_set_new(c->attrs, k, json_string(v));
}

/* Docker's ReadLogs extra attributes: labels and env by name and by regular expression. */
static json_t *select_attrs(json_t *config, json_t *labels, json_t *env)
{
        AttrCtx c = { json_object(), labels, env };
        const char *re;
        regex_t rx;

        each_item(json_string_value(json_object_get(config, "labels")), add_label, &c);
        each_item(json_string_value(json_object_get(config, "env")), add_env, &c);
        re = json_string_value(json_object_get(config, "labels-regex"));
        if (re && regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0) {
                const char *k;
                json_t *v;
                json_object_foreach(labels, k, v) if (json_is_string(v) && regexec(&rx, k, 0, NULL, 0) == 0)
                        json_object_set(c.attrs, k, v);
                regfree(&rx);
        }
        re = json_string_value(json_object_get(config, "env-regex"));
        if (re && regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0) {
                size_t i;
                json_t *v;
                json_array_foreach(env, i, v) {
                        const char *s = json_string_value(v), *eq = s ? strchr(s, '=') : NULL;
                        if (!eq)
                                continue;
                        _cleanup_free_ char *k = xstrndup(s, (size_t)(eq - s));
                        if (regexec(&rx, k, 0, NULL, 0) == 0)
                                json_object_set_new(c.attrs, k, json_string(eq + 1));
                }
                regfree(&rx);
        }
        return c.attrs;
}

/* ================================================================ drivers */

/*
 * The drivers this build carries.  The network drivers are in stockade-monitor-net only (built with
 * STOCKADE_NET_DRIVERS), which the engine starts for containers that use them.
 */
const LogDriverOps *log_driver_ops(const char *type)
{
        static const LogDriverOps *const all[] = {
                &log_driver_json_file,
                &log_driver_local,
                &log_driver_journald,
#ifdef STOCKADE_NET_DRIVERS
                &log_driver_syslog,
                &log_driver_fluentd,
                &log_driver_splunk,
#endif
        };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (STREQ(all[i]->name, type))
                        return all[i];
        return NULL;
}

/* ================================================================ the log thread */

static void report(LogPipe *p, Error *e)
{
        static time_t last;
        time_t now = time(NULL);
        if (now - last >= ERROR_EVERY_S) {
                fprintf(stderr, "stockade-monitor: log driver %s: %s\n", p->ops->name, e && e->msg ? e->msg : "failed");
                last = now;
        }
        error_free(e);
}

static void deliver(LogPipe *p, Batch *b)
{
        size_t off = 0;

        while (off < b->used) {
                const Rec *r = (const Rec *)(b->data + off);
                bool partial = r->flags & REC_PARTIAL;
                char id[ID_LEN + 1];
                if (partial) {
                        memcpy(id, b->data + off + sizeof(Rec), ID_LEN);
                        id[ID_LEN] = '\0';
                }
                LogMsg m = {
                        .stream = r->stream == LOGPIPE_STDERR ? "stderr" : "stdout",
                        .line = b->data + off + sizeof(Rec) + (partial ? ID_LEN : 0),
                        .len = r->len,
                        .newline = r->flags & REC_NEWLINE,
                        .ts = r->ts,
                        .partial_id = partial ? id : NULL,
                        .partial_ordinal = (int)r->ordinal,
                        .partial_last = r->flags & REC_LAST,
                };
                Error *e = NULL;

                /* An atomic, not the lock: checked per record, so an abandoned drain ends at once. */
                if (atomic_load_explicit(&p->abandon, memory_order_relaxed)) {
                        pthread_mutex_lock(&p->lock);
                        p->dropped++;
                        pthread_mutex_unlock(&p->lock);
                } else if (p->ops->log(p->driver, &m, &e) < 0) {
                        report(p, e);
                        pthread_mutex_lock(&p->lock);
                        p->dropped++;
                        pthread_mutex_unlock(&p->lock);
                }
                off += rec_size(r);
        }
}

/* Gives a delivered batch back (under the lock): kept for reuse, or handed back to free outside it. */
static Batch *recycle_locked(LogPipe *p, Batch *b)
{
        p->stats.batches_delivered++;
        if (p->nfree >= p->free_max || b->cap != BATCH_SIZE)
                return b;
        b->next = p->free_list;
        p->free_list = b;
        p->nfree++;
        return NULL;
}

static void free_batches(Batch *b)
{
        while (b) {
                Batch *next = b->next;
                free(b);
                b = next;
        }
}

static void deadline_in(struct timespec *t, long ns)
{
        clock_gettime(CLOCK_REALTIME, t);
        t->tv_nsec += ns;
        while (t->tv_nsec >= 1000000000L) {
                t->tv_sec++;
                t->tv_nsec -= 1000000000L;
        }
}

/* The driver's flush (without the lock): 0, -EAGAIN (call again) or a reported failure. */
static int flush_driver(LogPipe *p)
{
        Error *e = NULL;
        int r;

        if (!p->ops->flush)
                return 0;
        r = p->ops->flush(p->driver, &e);
        if (r < 0 && r != -EAGAIN)
                report(p, e);
        else
                error_free(e);
        return r;
}

static void *log_thread(void *ud)
{
        LogPipe *p = ud;
        int fr = 0;           /* the driver's last flush */
        bool released = true; /* nothing delivered since the spare batches went */

        pthread_mutex_lock(&p->lock);
        for (;;) {
                Batch *b = NULL, *spare = NULL;
                bool wake = false;

                if (p->head) {
                        b = p->head;
                        p->head = b->next;
                        if (!p->head)
                                p->tail = NULL;
                } else if (p->pend) {
                        b = TAKE_PTR(p->pend);
                }
                if (b) {
                        p->lt_state = LT_RUNNING;
                        released = false;
                        pthread_mutex_unlock(&p->lock);
                        deliver(p, b);
                        pthread_mutex_lock(&p->lock);
                        p->queued -= b->counted;
                        if (p->notify_armed && p->queued <= p->limit / 2) {
                                p->notify_armed = false;
                                wake = true;
                        }
                        spare = recycle_locked(p, b);
                        if (spare || wake) {
                                pthread_mutex_unlock(&p->lock);
                                free(spare);
                                if (wake) {
                                        uint64_t one = 1;
                                        (void)!write(p->efd, &one, sizeof(one));
                                }
                                pthread_mutex_lock(&p->lock);
                        }
                        continue;
                }
                if (p->stopping)
                        break;
                if (p->lt_state == LT_RUNNING) {
                        /* Out of work: more output usually follows within a moment.  Nap, and take
                         * what collected, so a busy container's lines go in big batches and big writes. */
                        struct timespec t;
                        p->lt_state = LT_NAPPING;
                        deadline_in(&t, FLUSH_DELAY_NS);
                        pthread_cond_timedwait(&p->cond, &p->lock, &t);
                        continue;
                }
                if (p->lt_state == LT_NAPPING) {
                        /* A nap without output: the container is quiet.  Flush. */
                        p->lt_state = LT_IDLE;
                        pthread_mutex_unlock(&p->lock);
                        fr = flush_driver(p);
                        pthread_mutex_lock(&p->lock);
                        continue;
                }
                /* Idle (a signal from the main thread sets it running again). */
                if (fr == -EAGAIN || !released) {
                        /*
                         * The driver holds messages for a retry: come back in a second even if no
                         * output arrives.  Otherwise, after a quiet second, the spare batches go and
                         * the driver is flushed once more (with nothing held, json-file and local free
                         * their write buffers): a quiet container's monitor keeps no buffers, a busy one
                         * with short pauses (a shell loop's forks) does not free and fault them in again.
                         */
                        struct timespec t;
                        deadline_in(&t, IDLE_RELEASE_NS);
                        if (pthread_cond_timedwait(&p->cond, &p->lock, &t) == ETIMEDOUT && p->lt_state == LT_IDLE &&
                            !p->head && !p->pend && !p->stopping) {
                                Batch *spares = TAKE_PTR(p->free_list);
                                p->nfree = 0;
                                released = fr != -EAGAIN;
                                pthread_mutex_unlock(&p->lock);
                                free_batches(spares);
                                fr = flush_driver(p);
                                pthread_mutex_lock(&p->lock);
                        }
                        continue;
                }
                pthread_cond_wait(&p->cond, &p->lock);
        }
        p->thread_done = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ================================================================ the main thread */

/* A batch to fill (under the lock): a spare one, else a new one. */
static Batch *batch_get_locked(LogPipe *p)
{
        Batch *b = p->free_list;

        if (b) {
                p->free_list = b->next;
                p->nfree--;
        } else {
                b = xmalloc(sizeof(Batch) + BATCH_SIZE);
                b->cap = BATCH_SIZE;
                p->stats.batches_allocated++;
        }
        b->next = NULL;
        b->used = b->counted = 0;
        return b;
}

/*
 * Counts what cur gained since it was last counted, and tells the log thread what it must know (under
 * the lock): an idle one about any output, a napping one about a full batch (on the queue).
 */
static void publish_locked(LogPipe *p, Batch *b, bool queued_full)
{
        p->queued += b->used - b->counted;
        b->counted = b->used;
        if (p->lt_state == LT_IDLE || (queued_full && p->lt_state == LT_NAPPING)) {
                /* Running from now on: one signal, not one per read until it gets the lock. */
                p->lt_state = LT_RUNNING;
                p->stats.wakeups++;
                pthread_cond_signal(&p->cond);
        }
}

static void random_id(char out[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[32];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
                uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)out;
                for (size_t i = 0; i < sizeof(raw); i++)
                        raw[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
        }
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[64] = '\0';
}

typedef struct SplitCtx {
        LogPipe *p;
        int stream;
} SplitCtx;

/* The splitter's callback: one message, "\n" included when it ends a line. */
static int on_message(void *ud, const char *stream_name, const char *msg, size_t len, const struct timespec *ts)
{
        SplitCtx *c = ud;
        LogPipe *p = c->p;
        StreamState *s = &p->st[c->stream];
        bool newline = len > 0 && msg[len - 1] == '\n';
        size_t body = len - (newline ? 1 : 0), size;
        uint8_t flags = newline ? REC_NEWLINE : 0;
        uint32_t ordinal = 0;
        Batch *b;
        Rec *r;

        (void)stream_name;
        if (!newline) {
                /* A 16 KiB piece, or the unfinished end at EOF: part of a line that goes on (docker). */
                if (!s->in_split) {
                        random_id(s->id);
                        s->in_split = true;
                        s->ordinal = 0;
                }
                ordinal = ++s->ordinal;
                flags |= REC_PARTIAL;
        } else if (s->in_split) {
                ordinal = ++s->ordinal;
                flags |= REC_PARTIAL | REC_LAST;
                s->in_split = false;
        }
        size = sizeof(Rec) + ALIGN8(((flags & REC_PARTIAL) ? ID_LEN : 0) + len);
        if (p->non_blocking) {
                /* nb_queued is at least what is queued (the log thread only takes away): when the
                 * message seems not to fit, look again under the lock before dropping it. */
                if (p->nb_queued + size > p->limit) {
                        bool fits;
                        pthread_mutex_lock(&p->lock);
                        p->nb_queued = p->queued + (p->cur ? p->cur->used - p->cur->counted : 0);
                        fits = p->nb_queued + size <= p->limit;
                        if (!fits)
                                p->dropped++;
                        pthread_mutex_unlock(&p->lock);
                        if (!fits)
                                return 0;
                }
                p->nb_queued += size;
        }
        if (!p->cur || p->cur->used + size > p->cur->cap) {
                /* Full (or none yet): queue it, and go on in another. */
                pthread_mutex_lock(&p->lock);
                if (p->cur) {
                        if (p->tail)
                                p->tail->next = p->cur;
                        else
                                p->head = p->cur;
                        p->tail = p->cur;
                        publish_locked(p, p->cur, true);
                }
                p->cur = batch_get_locked(p);
                pthread_mutex_unlock(&p->lock);
        }
        b = p->cur;
        r = (Rec *)(b->data + b->used);
        *r = (Rec){ .len = (uint32_t)body, .ordinal = ordinal, .stream = (uint8_t)c->stream, .flags = flags, .ts = *ts };
        if (flags & REC_PARTIAL)
                memcpy(b->data + b->used + sizeof(Rec), s->id, ID_LEN);
        memcpy(b->data + b->used + sizeof(Rec) + ((flags & REC_PARTIAL) ? ID_LEN : 0), msg, len);
        b->used += size;
        return 0;
}

/* Before a read's messages: the batch left between reads if the log thread has not taken it, else another. */
static void claim(LogPipe *p)
{
        pthread_mutex_lock(&p->lock);
        p->cur = TAKE_PTR(p->pend);
        if (!p->cur)
                p->cur = batch_get_locked(p);
        if (p->non_blocking)
                p->nb_queued = p->queued;
        pthread_mutex_unlock(&p->lock);
}

/* After them: the batch waits as `pend` (or, with nothing in it, is kept for the next read). */
static void release(LogPipe *p)
{
        if (!p->cur)
                return;
        pthread_mutex_lock(&p->lock);
        if (p->cur->used > 0) {
                publish_locked(p, p->cur, false);
                p->pend = TAKE_PTR(p->cur);
        } else {
                Batch *spare = recycle_locked(p, TAKE_PTR(p->cur));
                free(spare);
        }
        pthread_mutex_unlock(&p->lock);
}

void logpipe_write(LogPipe *p, int stream, const char *buf, size_t len, const struct timespec *ts)
{
        SplitCtx c = { p, stream };

        if (!p || !p->ops || len == 0)
                return;
        claim(p);
        (void)line_splitter_feed(&p->st[stream].split, buf, len, ts, on_message, &c);
        release(p);
}

void logpipe_eof(LogPipe *p, int stream, const struct timespec *ts)
{
        SplitCtx c = { p, stream };

        if (!p || !p->ops)
                return;
        claim(p);
        (void)line_splitter_flush(&p->st[stream].split, ts, on_message, &c);
        release(p);
        p->st[stream].in_split = false;
}

void logpipe_stats(LogPipe *p, LogPipeStats *ret)
{
        *ret = (LogPipeStats){ 0 };
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        *ret = p->stats;
        pthread_mutex_unlock(&p->lock);
}

bool logpipe_full(LogPipe *p)
{
        bool full;

        if (!p || !p->have_thread || p->non_blocking)
                return false;
        pthread_mutex_lock(&p->lock);
        full = p->queued >= p->limit;
        if (full)
                p->notify_armed = true;
        pthread_mutex_unlock(&p->lock);
        return full;
}

int logpipe_fd(LogPipe *p)
{
        return p && p->have_thread ? p->efd : -1;
}

void logpipe_ack(LogPipe *p)
{
        uint64_t v;
        if (p && p->efd >= 0)
                (void)!read(p->efd, &v, sizeof(v));
}

uint64_t logpipe_dropped(LogPipe *p)
{
        uint64_t n;
        if (!p)
                return 0;
        pthread_mutex_lock(&p->lock);
        n = p->dropped;
        pthread_mutex_unlock(&p->lock);
        return n;
}

static void pipe_free(LogPipe *p)
{
        Batch *b;

        while ((b = p->head)) {
                p->head = b->next;
                free(b);
        }
        free(p->cur);
        free(p->pend);
        free_batches(p->free_list);
        for (int i = 0; i < 2; i++)
                line_splitter_free(&p->st[i].split);
        if (p->efd >= 0)
                close(p->efd);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p->tag);
        json_decref(p->attrs);
        json_decref(p->log);
        free(p);
}

static const char *jstr(json_t *log, const char *key)
{
        return json_string_value(json_object_get(log, key));
}

int logpipe_open(json_t *log, LogPipe **ret, Error **err)
{
        return logpipe_open_ops(log, NULL, ret, err);
}

int logpipe_open_ops(json_t *log, const LogDriverOps *ops, LogPipe **ret, Error **err)
{
        const char *type = jstr(log, "type") ?: "json-file";
        json_t *config = json_object_get(log, "config");
        LogPipe *p;
        int r;

        p = xcalloc(1, sizeof(*p));
        p->efd = -1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        line_splitter_init(&p->st[0].split, "stdout");
        line_splitter_init(&p->st[1].split, "stderr");
        p->log = json_incref(log);
        if (STREQ(type, "none") && !ops) {
                *ret = p;
                return 0;
        }
        p->ops = ops ? ops : log_driver_ops(type);
        if (!p->ops) {
                pipe_free(p);
                return error_setx(err, EINVAL, "failed to initialize logging driver: logger: no log driver named '%s' is "
                                  "registered", type);
        }
        if (!json_is_object(config))
                config = json_object_get(p->log, "config") ?: json_object();
        p->non_blocking = STREQ(jstr(config, "mode") ?: "blocking", "non-blocking");
        p->limit = BLOCKING_LIMIT;
        if (p->non_blocking) {
                int64_t n = DEFAULT_NB_LIMIT;
                if (jstr(config, "max-buffer-size"))
                        (void)parse_size(jstr(config, "max-buffer-size"), &n);
                p->limit = n > 0 ? (size_t)n : DEFAULT_NB_LIMIT;
        }
        /* Spare batches: as many as a full queue holds, with the one being filled and one more. */
        p->free_max = p->limit / BATCH_SIZE + 2;
        p->info = (LogInfo){
                .id = jstr(log, "id") ?: "",
                .name = jstr(log, "name") ?: "",
                .image_name = jstr(log, "imageName") ?: "",
                .image_id = jstr(log, "imageId") ?: "",
                .command = jstr(log, "command") ?: "",
                .hostname = jstr(log, "hostname") ?: "",
                .daemon_name = "stockade",
                .created = jstr(log, "created") ?: "",
                .log_path = jstr(log, "path") ?: "",
                .config = config,
        };
        p->tag = render_tag(&p->info, err);
        if (!p->tag) {
                r = error_wrap(err, "failed to initialize logging driver: log-opt tag");
                pipe_free(p);
                return r;
        }
        p->info.tag = p->tag;
        p->attrs = select_attrs(config, json_object_get(log, "labels"), json_object_get(log, "env"));
        p->info.attrs = p->attrs;
        r = p->ops->open(&p->info, &p->driver, err);
        if (r < 0) {
                r = error_wrap(err, "failed to initialize logging driver");
                pipe_free(p);
                return r;
        }
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0 || (r = -pthread_create(&p->thread, NULL, log_thread, p)) < 0) {
                r = error_set(err, p->efd < 0 ? errno : -r, "starting the log thread");
                p->ops->close(p->driver);
                pipe_free(p);
                return r;
        }
        p->have_thread = true;
        *ret = p;
        return 0;
}

LogPipe *logpipe_close(LogPipe *p, int drain_ms, uint64_t *ret_dropped)
{
        struct timespec deadline;

        if (ret_dropped)
                *ret_dropped = 0;
        if (!p)
                return NULL;
        if (p->have_thread) {
                clock_gettime(CLOCK_REALTIME, &deadline);
                if (drain_ms >= 0) {
                        deadline.tv_sec += drain_ms / 1000;
                        deadline.tv_nsec += (long)(drain_ms % 1000) * 1000000L;
                        if (deadline.tv_nsec >= 1000000000L) {
                                deadline.tv_sec++;
                                deadline.tv_nsec -= 1000000000L;
                        }
                }
                pthread_mutex_lock(&p->lock);
                p->stopping = true;
                pthread_cond_broadcast(&p->cond);
                while (!p->thread_done) {
                        if (drain_ms < 0) {
                                pthread_cond_wait(&p->cond, &p->lock);
                                continue;
                        }
                        if (pthread_cond_timedwait(&p->cond, &p->lock, &deadline) == ETIMEDOUT) {
                                /* Out of time: what is left is dropped; the driver's current call is
                                 * asked to give up, else it ends within its own deadline. */
                                atomic_store(&p->abandon, true);
                                if (p->ops->cancel)
                                        p->ops->cancel(p->driver);
                                while (!p->thread_done)
                                        pthread_cond_wait(&p->cond, &p->lock);
                        }
                }
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
        }
        if (p->driver) {
                /* After a cancel the driver's finish gives up at once, counting what it held. */
                if (p->ops->finish)
                        p->dropped += p->ops->finish(p->driver);
                p->ops->close(p->driver);
        }
        if (ret_dropped) {
                /* What the abandoned drain left queued counts too. */
                uint64_t n = p->dropped;
                for (Batch *b = p->head; b; b = b->next)
                        for (size_t off = 0; off < b->used; n++)
                                off += rec_size((const Rec *)(b->data + off));
                for (size_t off = 0; p->pend && off < p->pend->used; n++)
                        off += rec_size((const Rec *)(p->pend->data + off));
                *ret_dropped = n;
        }
        pipe_free(p);
        return NULL;
}
