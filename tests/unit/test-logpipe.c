/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The log pipe and the log options: docker's message splitting with partial metadata, blocking and
 * non-blocking modes against a driver that stalls, the tag's fields, the attributes labels/env
 * select, and --log-opt validation with docker's messages.  A recording driver stands in for a sink.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logdriver.h"
#include <fcntl.h>

#include "json-util.h"
#include "jsonlog.h"
#include "logpipe.h"
#include "tap.h"
#include "util.h"

/* ---- a recording driver ---- */

typedef struct Seen {
        char stream[8];
        char *line;
        size_t len;
        bool newline, last;
        char id[65];
        int ordinal;
} Seen;

static struct {
        pthread_mutex_t lock;
        Seen seen[4096];
        size_t n;
        atomic_bool stall; /* log() waits while set */
        atomic_size_t total; /* every message, recorded or not */
        char tag[256];
        char *attrs;
        int flushes;
        /* Lines "seq:N": N must count up from 0 on each stream. */
        long next_seq[2];
        int order_errors;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void rec_reset(void)
{
        pthread_mutex_lock(&R.lock);
        for (size_t i = 0; i < R.n; i++)
                free(R.seen[i].line);
        R.n = 0;
        atomic_store(&R.total, 0);
        R.flushes = 0;
        R.next_seq[0] = R.next_seq[1] = 0;
        R.order_errors = 0;
        free(R.attrs);
        R.attrs = NULL;
        R.tag[0] = '\0';
        pthread_mutex_unlock(&R.lock);
        atomic_store(&R.stall, false);
}

static size_t rec_count(void)
{
        pthread_mutex_lock(&R.lock);
        size_t n = R.n;
        pthread_mutex_unlock(&R.lock);
        return n;
}

static int rec_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        static LogDriver d;
        d.ops = NULL;
        snprintf(R.tag, sizeof(R.tag), "%s", info->tag);
        R.attrs = json_dumps(info->attrs, JSON_SORT_KEYS | JSON_COMPACT);
        *ret = &d;
        return 0;
}

static int rec_log(LogDriver *d, const LogMsg *m, Error **err)
{
        while (atomic_load(&R.stall))
                usleep(1000);
        atomic_fetch_add(&R.total, 1);
        pthread_mutex_lock(&R.lock);
        if (m->len > 4 && memcmp(m->line, "seq:", 4) == 0) {
                int si = strcmp(m->stream, "stderr") == 0;
                if (strtol(m->line + 4, NULL, 10) != R.next_seq[si])
                        R.order_errors++;
                R.next_seq[si]++;
        }
        if (R.n < ELEMENTSOF(R.seen)) {
                Seen *s = &R.seen[R.n++];
                snprintf(s->stream, sizeof(s->stream), "%s", m->stream);
                s->line = xstrndup(m->line, m->len);
                s->len = m->len;
                s->newline = m->newline;
                s->last = m->partial_last;
                s->ordinal = m->partial_ordinal;
                snprintf(s->id, sizeof(s->id), "%s", m->partial_id ? m->partial_id : "");
                if (m->newline && m->line[m->len] != '\n')
                        s->ordinal = -99; /* the promised "\n" after the line is missing */
        }
        pthread_mutex_unlock(&R.lock);
        return 0;
}

static atomic_int hold_flushes; /* flush says -EAGAIN this many more times */
static int rec_flush(LogDriver *d, Error **err)
{
        pthread_mutex_lock(&R.lock);
        R.flushes++;
        pthread_mutex_unlock(&R.lock);
        if (atomic_load(&hold_flushes) > 0) {
                atomic_fetch_sub(&hold_flushes, 1);
                return -EAGAIN;
        }
        return 0;
}

static atomic_int finish_drops; /* what finish says the driver gave up */
static uint64_t rec_finish(LogDriver *d)
{
        return (uint64_t)atomic_load(&finish_drops);
}

static void rec_close(LogDriver *d)
{
}

static atomic_int cancels;
static void rec_cancel(LogDriver *d)
{
        atomic_fetch_add(&cancels, 1);
        atomic_store(&R.stall, false); /* the stalled call gives up */
}

static const LogDriverOps rec_ops = { .name = "rec", .open = rec_open, .log = rec_log, .flush = rec_flush, .close = rec_close,
                                      .cancel = rec_cancel, .finish = rec_finish };

static json_t *facts(const char *config_json)
{
        json_t *j = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:[s, s]}", "type", "rec", "config",
                              json_loads(config_json ? config_json : "{}", 0, NULL), "id",
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "name", "web",
                              "imageName", "busybox", "imageId",
                              "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "command",
                              "sh -c true", "hostname", "box", "labels", "app", "shop", "tier", "front", "env", "A=1",
                              "SECRET_KEY=x");
        return j;
}

static struct timespec ts0 = { 1795871458, 123 };

static void wait_for(size_t n)
{
        for (int i = 0; i < 5000 && rec_count() < n; i++)
                usleep(1000);
}

/* ---- splitting ---- */

TEST(lines_and_the_newline_byte)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "one\ntwo\nthr", 11, &ts0);
        logpipe_write(p, LOGPIPE_STDERR, "err\n", 4, &ts0);
        logpipe_write(p, LOGPIPE_STDOUT, "ee\n", 3, &ts0);
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(rec_count(), 4);
        ASSERT_STREQ(R.seen[0].line, "one");
        ASSERT_TRUE(R.seen[0].newline);
        ASSERT_STREQ(R.seen[0].id, "");
        ASSERT_STREQ(R.seen[1].line, "two");
        ASSERT_STREQ(R.seen[2].stream, "stderr");
        ASSERT_STREQ(R.seen[3].line, "three");
        ASSERT_STREQ(R.seen[3].stream, "stdout");
        for (int i = 0; i < 4; i++)
                ASSERT_TRUE(R.seen[i].ordinal != -99);
}

TEST(long_line_partial_metadata)
{
        _cleanup_json_ json_t *f = facts(NULL);
        _cleanup_free_ char *big = xmalloc(40 * 1024 + 1);
        LogPipe *p = NULL;
        memset(big, 'x', 40 * 1024);
        big[40 * 1024] = '\n';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, big, 40 * 1024 + 1, &ts0);
        logpipe_write(p, LOGPIPE_STDOUT, "after\n", 6, &ts0);
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(rec_count(), 4);
        ASSERT_EQ(R.seen[0].len, 16384);
        ASSERT_EQ(R.seen[1].len, 16384);
        ASSERT_EQ(R.seen[2].len, 40 * 1024 - 2 * 16384);
        ASSERT_TRUE(!R.seen[0].newline && !R.seen[1].newline && R.seen[2].newline);
        ASSERT_EQ(R.seen[0].ordinal, 1);
        ASSERT_EQ(R.seen[1].ordinal, 2);
        ASSERT_EQ(R.seen[2].ordinal, 3);
        ASSERT_TRUE(!R.seen[0].last && !R.seen[1].last && R.seen[2].last);
        ASSERT_EQ(strlen(R.seen[0].id), 64);
        ASSERT_STREQ(R.seen[0].id, R.seen[2].id);
        /* the next line is whole again */
        ASSERT_STREQ(R.seen[3].line, "after");
        ASSERT_STREQ(R.seen[3].id, "");
}

TEST(two_long_lines_in_one_read_keep_their_ids)
{
        _cleanup_json_ json_t *f = facts(NULL);
        _cleanup_free_ char *two = xmalloc(2 * 20000);
        LogPipe *p = NULL;
        memset(two, 'a', 20000);
        two[19999] = '\n';
        memset(two + 20000, 'b', 20000);
        two[39999] = '\n';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, two, 40000, &ts0);
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(rec_count(), 4);
        ASSERT_STREQ(R.seen[0].id, R.seen[1].id);
        ASSERT_STREQ(R.seen[2].id, R.seen[3].id);
        ASSERT_TRUE(strcmp(R.seen[0].id, R.seen[2].id) != 0);
        ASSERT_TRUE(R.seen[1].last && R.seen[3].last);
        ASSERT_EQ(R.seen[2].ordinal, 1);
        ASSERT_TRUE(R.seen[0].line[0] == 'a' && R.seen[2].line[0] == 'b');
}

TEST(unfinished_end_without_newline)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "done\nno-newline-at-end", 22, &ts0);
        logpipe_eof(p, LOGPIPE_STDOUT, &ts0);
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(rec_count(), 2);
        ASSERT_STREQ(R.seen[1].line, "no-newline-at-end");
        ASSERT_TRUE(!R.seen[1].newline);
        ASSERT_EQ(R.seen[1].ordinal, 1);
        ASSERT_TRUE(!R.seen[1].last);
}

TEST(flush_called_when_queue_runs_empty)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "a\n", 2, &ts0);
        wait_for(1);
        for (int i = 0; i < 2000; i++) {
                pthread_mutex_lock(&R.lock);
                int fl = R.flushes;
                pthread_mutex_unlock(&R.lock);
                if (fl > 0)
                        break;
                usleep(1000);
        }
        p = logpipe_close(p, -1, NULL);
        ASSERT_TRUE(R.flushes > 0);
}

TEST(flush_eagain_is_retried_while_idle_and_finish_counts)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        uint64_t dropped = 0;
        rec_reset();
        atomic_store(&hold_flushes, 2);
        atomic_store(&finish_drops, 7); /* as if the driver had given up seven of its own */
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "a\n", 2, &ts0);
        /* no more messages: the pipe comes back by itself after each -EAGAIN */
        for (int i = 0; i < 5000 && atomic_load(&hold_flushes) > 0; i++)
                usleep(1000);
        ASSERT_EQ(atomic_load(&hold_flushes), 0);
        p = logpipe_close(p, -1, &dropped);
        atomic_store(&finish_drops, 0);
        ASSERT_EQ(dropped, 7);
}

/* ---- modes ---- */

TEST(non_blocking_drops_and_counts)
{
        _cleanup_json_ json_t *f = facts("{\"mode\":\"non-blocking\",\"max-buffer-size\":\"4k\"}");
        LogPipe *p = NULL;
        uint64_t dropped = 0;
        char line[101];
        memset(line, 'y', 100);
        line[100] = '\n';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        atomic_store(&R.stall, true);
        for (int i = 0; i < 500; i++) /* 50 KB against a 4 KB buffer and a sink that does not move */
                logpipe_write(p, LOGPIPE_STDOUT, line, sizeof(line), &ts0);
        ASSERT_TRUE(!logpipe_full(p)); /* never holds the container */
        ASSERT_TRUE(logpipe_dropped(p) > 400);
        atomic_store(&R.stall, false);
        p = logpipe_close(p, 2000, &dropped);
        ASSERT_EQ(dropped + rec_count(), 500);
        ASSERT_TRUE(rec_count() > 0);
}

TEST(blocking_holds_then_delivers_everything)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        uint64_t dropped = 1;
        size_t n = 0;
        _cleanup_free_ char *chunk = xmalloc(65536);
        for (size_t i = 0; i < 65536; i++)
                chunk[i] = (i % 128 == 127) ? '\n' : 'z';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        atomic_store(&R.stall, true);
        while (!logpipe_full(p) && n < 1000) { /* the queue's limit is a few MiB */
                logpipe_write(p, LOGPIPE_STDOUT, chunk, 65536, &ts0);
                n++;
        }
        ASSERT_TRUE(logpipe_full(p));
        ASSERT_TRUE(logpipe_fd(p) >= 0);
        atomic_store(&R.stall, false);
        p = logpipe_close(p, -1, &dropped);
        ASSERT_EQ(dropped, 0);
        /* every 128-byte line of every chunk arrived */
        ASSERT_EQ(atomic_load(&R.total), n * 512);
}

TEST(drain_limit_cancels_a_stuck_sink)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        uint64_t dropped = 0;
        rec_reset();
        atomic_store(&cancels, 0);
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        atomic_store(&R.stall, true);
        for (int i = 0; i < 100; i++)
                logpipe_write(p, LOGPIPE_STDOUT, "stuck\n", 6, &ts0);
        /* the sink never moves by itself: close gives up after 100 ms and cancels it */
        p = logpipe_close(p, 100, &dropped);
        ASSERT_EQ(atomic_load(&cancels), 1);
        ASSERT_EQ(dropped + atomic_load(&R.total), 100);
        ASSERT_TRUE(dropped >= 99);
}

/* ---- tag and attributes ---- */

TEST(default_tag_is_short_id)
{
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        p = logpipe_close(p, -1, NULL);
        ASSERT_STREQ(R.tag, "0123456789ab");
        ASSERT_STREQ(R.attrs, "{}");
}

TEST(tag_fields)
{
        _cleanup_json_ json_t *f = facts("{\"tag\":\"{{.Name}}/{{.ID}}/{{.FullID}}/{{.ImageName}}/{{.ImageID}}/"
                                         "{{.Command}}/{{.Hostname}}/{{.DaemonName}}\"}");
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        p = logpipe_close(p, -1, NULL);
        ASSERT_STREQ(R.tag, "web/0123456789ab/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/busybox/"
                            "fedcba987654/sh -c true/box/stockade");
}

TEST(attrs_by_name_and_regex)
{
        _cleanup_json_ json_t *f =
                facts("{\"labels\":\"app,missing\",\"env\":\"A\",\"labels-regex\":\"^ti\",\"env-regex\":\"^SEC\"}");
        LogPipe *p = NULL;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        p = logpipe_close(p, -1, NULL);
        ASSERT_STREQ(R.attrs, "{\"A\":\"1\",\"SECRET_KEY\":\"x\",\"app\":\"shop\",\"tier\":\"front\"}");
}

TEST(bad_tag_fails_open)
{
        _cleanup_json_ json_t *f = facts("{\"tag\":\"{{.Nope\"}");
        LogPipe *p = NULL;
        Error *e = NULL;
        ASSERT_TRUE(logpipe_open_ops(f, &rec_ops, &p, &e) < 0);
        ASSERT_CONTAINS(e->msg, "tag");
        error_free(e);
}

TEST(unknown_driver_fails_open)
{
        _cleanup_json_ json_t *f = json_pack("{s:s, s:{}}", "type", "gelf", "config");
        LogPipe *p = NULL;
        Error *e = NULL;
        ASSERT_TRUE(logpipe_open(f, &p, &e) < 0);
        ASSERT_CONTAINS(e->msg, "no log driver named 'gelf'");
        error_free(e);
}

TEST(none_discards)
{
        _cleanup_json_ json_t *f = json_pack("{s:s, s:{}}", "type", "none", "config");
        LogPipe *p = NULL;
        ASSERT_OK(logpipe_open(f, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "x\n", 2, &ts0);
        ASSERT_EQ(logpipe_fd(p), -1);
        ASSERT_TRUE(!logpipe_full(p));
        p = logpipe_close(p, 0, NULL);
}

/* ---- options ---- */

static const char *validate(const char *type, const char *opts_json)
{
        static char msg[512];
        _cleanup_json_ json_t *o = json_loads(opts_json, 0, NULL);
        Error *e = NULL;
        if (log_config_validate(type, o, &e) == 0)
                return "ok";
        snprintf(msg, sizeof(msg), "%s", e->msg);
        error_free(e);
        return msg;
}

TEST(options_accepted)
{
        ASSERT_STREQ(validate("json-file", "{\"max-size\":\"10k\",\"max-file\":\"3\",\"compress\":\"true\",\"tag\":\"{{.Name}}\"}"), "ok");
        ASSERT_STREQ(validate("json-file", "{\"max-file\":\"5\"}"), "ok"); /* our default max-size applies */
        ASSERT_STREQ(validate("json-file", "{\"mode\":\"non-blocking\",\"max-buffer-size\":\"4m\"}"), "ok");
        ASSERT_STREQ(validate("local", "{\"max-size\":\"1m\",\"max-file\":\"2\",\"compress\":\"false\"}"), "ok");
        ASSERT_STREQ(validate("syslog", "{\"syslog-address\":\"tcp+tls://127.0.0.1:6514\",\"syslog-tls-skip-verify\":\"true\","
                                        "\"syslog-format\":\"rfc5424micro\",\"syslog-facility\":\"local3\"}"), "ok");
        ASSERT_STREQ(validate("syslog", "{\"syslog-address\":\"unixgram:///dev/log\",\"syslog-facility\":\"17\"}"), "ok");
        ASSERT_STREQ(validate("journald", "{\"tag\":\"x\",\"labels\":\"a\"}"), "ok");
        ASSERT_STREQ(validate("fluentd", "{\"fluentd-address\":\"127.0.0.1:24224\",\"fluentd-async\":\"true\","
                                         "\"fluentd-retry-wait\":\"1s\",\"fluentd-max-retries\":\"3\"}"), "ok");
        ASSERT_STREQ(validate("splunk", "{\"splunk-url\":\"https://h:8088\",\"splunk-token\":\"t\",\"splunk-format\":\"raw\"}"), "ok");
        ASSERT_STREQ(validate("none", "{}"), "ok");
        ASSERT_STREQ(validate("", "{\"anything\":\"goes to the default\"}"), "ok");
}

TEST(options_refused_with_docker_messages)
{
        ASSERT_STREQ(validate("json-file", "{\"foo\":\"bar\"}"), "unknown log opt 'foo' for json-file log driver");
        ASSERT_CONTAINS(validate("json-file", "{\"max-size\":\"bogus\"}"), "invalid size: 'bogus'");
        ASSERT_STREQ(validate("json-file", "{\"max-size\":\"-1\",\"max-file\":\"2\"}"),
                     "max-file cannot be greater than 1 when max-size is not set");
        ASSERT_CONTAINS(validate("json-file", "{\"max-file\":\"1\",\"compress\":\"true\"}"), "compress cannot be true");
        ASSERT_STREQ(validate("none", "{\"mode\":\"blocking\"}"), "unknown log opt 'mode' for none log driver");
        ASSERT_CONTAINS(validate("gelf", "{}"), "no log driver named 'gelf' is registered");
        ASSERT_CONTAINS(validate("json-file", "{\"mode\":\"fast\"}"), "mode: invalid value 'fast'");
        ASSERT_CONTAINS(validate("json-file", "{\"max-buffer-size\":\"1m\"}"), "only supported with 'mode=non-blocking'");
        ASSERT_CONTAINS(validate("local", "{\"tag\":\"x\"}"), "unknown log opt 'tag' for local log driver");
        ASSERT_STREQ(validate("local", "{\"max-size\":\"-1\"}"), "max size should be a positive number");
        ASSERT_STREQ(validate("local", "{\"max-file\":\"1\"}"), "compression cannot be enabled when max file count is 1");
        ASSERT_STREQ(validate("local", "{\"max-file\":\"1\",\"compress\":\"false\"}"), "ok");
        ASSERT_CONTAINS(validate("syslog", "{\"syslog-address\":\"http://x:1\"}"), "unsupported scheme: 'http'");
        ASSERT_CONTAINS(validate("syslog", "{\"syslog-facility\":\"bogus\"}"), "invalid syslog facility 'bogus'");
        ASSERT_CONTAINS(validate("syslog", "{\"syslog-facility\":\"24\"}"), "invalid syslog facility");
        ASSERT_CONTAINS(validate("syslog", "{\"syslog-format\":\"rfc9999\"}"), "syslog-format: invalid value");
        ASSERT_CONTAINS(validate("syslog", "{\"syslog-tls-skip-verify\":\"true\"}"), "need a tcp+tls://");
        ASSERT_CONTAINS(validate("fluentd", "{\"fluentd-retry-wait\":\"soon\"}"), "invalid duration 'soon'");
        ASSERT_CONTAINS(validate("fluentd", "{\"fluentd-async\":\"maybe\"}"), "fluentd-async: invalid value 'maybe'");
        ASSERT_STREQ(validate("fluentd", "{\"fluentd-async\":\"true\",\"fluentd-async-connect\":\"true\"}"),
                     "conflicting options: cannot specify both 'fluentd-async' and 'fluentd-async-connect'");
        ASSERT_STREQ(validate("splunk", "{\"splunk-token\":\"t\"}"), "splunk: splunk-url is expected");
        ASSERT_STREQ(validate("splunk", "{\"splunk-url\":\"https://h\"}"), "splunk: splunk-token is expected");
        ASSERT_CONTAINS(validate("splunk", "{\"splunk-url\":\"ftp://h\",\"splunk-token\":\"t\"}"), "splunk-url");
        ASSERT_CONTAINS(validate("splunk", "{\"splunk-url\":\"http://h\",\"splunk-token\":\"t\",\"splunk-gzip-level\":\"10\"}"),
                        "-1 to 9");
        ASSERT_CONTAINS(validate("json-file", "{\"tag\":\"{{.Name\"}"), "log-opt tag:");
        ASSERT_CONTAINS(validate("json-file", "{\"labels-regex\":\"(\"}"), "invalid regular expression");
        ASSERT_CONTAINS(validate("json-file", "{\"max-size\":1}"), "expected a string");
}

TEST(readable_drivers)
{
        ASSERT_TRUE(log_driver_readable("json-file"));
        ASSERT_TRUE(log_driver_readable("local"));
        ASSERT_TRUE(log_driver_readable("journald"));
        ASSERT_TRUE(!log_driver_readable("syslog"));
        ASSERT_TRUE(!log_driver_readable("none"));
        ASSERT_TRUE(!log_driver_readable("bogus"));
}

/* ---- json-file end to end: attrs written, --details read back ---- */

static int collect(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        char **acc = ud;
        char *n = xasprintf("%s%s|%.*s", *acc ? *acc : "", stream, (int)len, msg);
        free(*acc);
        *acc = n;
        return 0;
}

TEST(json_file_attrs_and_details)
{
        char dir[] = "/tmp/stockade-logpipe-XXXXXX";
        _cleanup_free_ char *path = NULL, *got = NULL, *plain = NULL, *text = NULL;
        LogPipe *p = NULL;
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        path = xasprintf("%s/c-json.log", dir);
        _cleanup_json_ json_t *f = facts("{\"tag\":\"{{.Name}} x\",\"labels\":\"app\"}");
        json_object_set_new(f, "type", json_string("json-file"));
        json_object_set_new(f, "path", json_string(path));
        ASSERT_OK(logpipe_open(f, &p, NULL));
        logpipe_write(p, LOGPIPE_STDOUT, "hi\n", 3, &ts0);
        logpipe_write(p, LOGPIPE_STDERR, "oops\n", 5, &ts0);
        p = logpipe_close(p, -1, NULL);
        ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL));
        ASSERT_STREQ(text, "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"attrs\":{\"app\":\"shop\",\"tag\":\"web x\"},"
                           "\"time\":\"2026-11-28T13:10:58.000000123Z\"}\n"
                           "{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"attrs\":{\"app\":\"shop\",\"tag\":\"web x\"},"
                           "\"time\":\"2026-11-28T13:10:58.000000123Z\"}\n");
        JsonLogReadOpts o = { .tail = -1, .details = true };
        ASSERT_OK(jsonlog_read(path, 1, &o, collect, &got, NULL));
        ASSERT_STREQ(got, "stdout|app=shop,tag=web+x hi\nstderr|app=shop,tag=web+x oops\n");
        o.details = false;
        ASSERT_OK(jsonlog_read(path, 1, &o, collect, &plain, NULL));
        ASSERT_STREQ(plain, "stdout|hi\nstderr|oops\n");
        (void)unlink(path);
        (void)rmdir(dir);
}

/* ---- hand-over between the threads ---- */

TEST(an_idle_log_thread_gets_a_line_at_once)
{
        /* No more output and no close: the line must still arrive (and be flushed) by itself. */
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        int flushes;
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        usleep(20000); /* the log thread has napped, flushed and gone idle */
        logpipe_write(p, LOGPIPE_STDOUT, "first\n", 6, &ts0);
        wait_for(1);
        ASSERT_EQ(rec_count(), 1);
        /* at start, and after the line: waited for (a loaded machine may run the thread late) */
        for (int i = 0; i < 3000; i++) {
                pthread_mutex_lock(&R.lock);
                flushes = R.flushes;
                pthread_mutex_unlock(&R.lock);
                if (flushes >= 2)
                        break;
                usleep(10000);
        }
        ASSERT_TRUE(flushes >= 2);
        logpipe_write(p, LOGPIPE_STDERR, "second\n", 7, &ts0);
        wait_for(2);
        ASSERT_EQ(rec_count(), 2);
        ASSERT_STREQ(R.seen[1].line, "second");
        p = logpipe_close(p, -1, NULL);
}

TEST(small_reads_share_batches_and_stay_in_order)
{
        /* 30000 reads of one line each, both streams: far fewer batches and wake-ups than reads, and
         * every line in order. */
        _cleanup_json_ json_t *f = facts(NULL);
        LogPipe *p = NULL;
        LogPipeStats st;
        long seq[2] = { 0, 0 };
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        for (int i = 0; i < 30000; i++) {
                int s = (i % 3 == 2) ? LOGPIPE_STDERR : LOGPIPE_STDOUT;
                char line[32];
                int n = snprintf(line, sizeof(line), "seq:%ld\n", seq[s]++);
                logpipe_write(p, s, line, (size_t)n, &ts0);
        }
        logpipe_stats(p, &st);
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(atomic_load(&R.total), 30000);
        ASSERT_EQ(R.order_errors, 0);
        ASSERT_EQ(R.next_seq[0], seq[0]);
        ASSERT_EQ(R.next_seq[1], seq[1]);
        printf("# %llu batches (%llu allocated), %llu wake-ups\n", (unsigned long long)st.batches_delivered,
               (unsigned long long)st.batches_allocated, (unsigned long long)st.wakeups);
        ASSERT_TRUE(st.batches_delivered <= 3000);
        ASSERT_TRUE(st.wakeups <= 3000);
}

TEST(spare_batches_reused_within_the_queue_limit)
{
        /* 300 reads of 64 KiB (512 lines each) through a full queue, as the monitor reads: no more
         * batches are ever allocated than the 4 MiB queue holds, however many are filled. */
        _cleanup_json_ json_t *f = facts(NULL);
        _cleanup_free_ char *chunk = xmalloc(65536);
        LogPipe *p = NULL;
        LogPipeStats st;
        uint64_t dropped = 1;
        for (size_t i = 0; i < 65536; i++)
                chunk[i] = (i % 128 == 127) ? '\n' : 'q';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        for (int i = 0; i < 300; i++) {
                while (logpipe_full(p)) {
                        struct pollfd pf = { .fd = logpipe_fd(p), .events = POLLIN };
                        ASSERT_TRUE(poll(&pf, 1, 5000) == 1);
                        logpipe_ack(p);
                }
                logpipe_write(p, LOGPIPE_STDOUT, chunk, 65536, &ts0);
        }
        logpipe_stats(p, &st);
        p = logpipe_close(p, -1, &dropped);
        ASSERT_EQ(dropped, 0);
        ASSERT_EQ(atomic_load(&R.total), 300 * 512);
        printf("# %llu batches delivered, %llu allocated\n", (unsigned long long)st.batches_delivered,
               (unsigned long long)st.batches_allocated);
        /* 300 reads of 80 KiB of records: about 90 batches of 256 KiB, from at most 4 MiB / 256 KiB
         * + 2 allocated (the queue, the one being filled, one more). */
        ASSERT_TRUE(st.batches_delivered >= 60);
        ASSERT_TRUE(st.batches_allocated <= 18);
}

TEST(non_blocking_takes_exactly_what_fits)
{
        /* A stalled sink and a 4 KiB buffer: records of 136 bytes (a 101-byte line and its header),
         * so exactly 30 fit and the other 470 are dropped, as the queue's accounting says. */
        _cleanup_json_ json_t *f = facts("{\"mode\":\"non-blocking\",\"max-buffer-size\":\"4k\"}");
        LogPipe *p = NULL;
        uint64_t dropped = 0;
        char line[101];
        memset(line, 'w', 100);
        line[100] = '\n';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        atomic_store(&R.stall, true);
        for (int i = 0; i < 500; i++)
                logpipe_write(p, i % 2 ? LOGPIPE_STDERR : LOGPIPE_STDOUT, line, sizeof(line), &ts0);
        ASSERT_EQ(logpipe_dropped(p), 470);
        atomic_store(&R.stall, false);
        p = logpipe_close(p, 2000, &dropped);
        ASSERT_EQ(dropped, 470);
        ASSERT_EQ(rec_count(), 30);
}

TEST(spares_kept_through_short_pauses_and_freed_after_a_quiet_second)
{
        /* A pause of 20 ms (a shell loop forking its next writer) keeps the spare batches; a quiet
         * second gives them back, so the next output needs a new one.  Each chunk is written once the
         * previous one is delivered, so how many batches are in flight never depends on scheduling. */
        _cleanup_json_ json_t *f = facts(NULL);
        _cleanup_free_ char *chunk = xmalloc(65536);
        LogPipe *p = NULL;
        LogPipeStats a, b, c;
        size_t want = 0;
        for (size_t i = 0; i < 65536; i++)
                chunk[i] = (i % 128 == 127) ? '\n' : 'k';
        rec_reset();
        ASSERT_OK(logpipe_open_ops(f, &rec_ops, &p, NULL));
        for (int round = 0; round < 3; round++) {
                if (round == 1)
                        usleep(20000);
                if (round == 2)
                        usleep(2500000);
                for (int i = 0; i < 4; i++) {
                        logpipe_write(p, LOGPIPE_STDOUT, chunk, 65536, &ts0);
                        want += 512;
                        /* R.total: rec_count() stops at what R.seen holds */
                        for (int k = 0; k < 5000 && atomic_load(&R.total) < want; k++)
                                usleep(1000);
                }
                /* the last batch back on the spare list */
                for (int k = 0; k < 5000; k++) {
                        logpipe_stats(p, round == 0 ? &a : round == 1 ? &b : &c);
                        LogPipeStats *s = round == 0 ? &a : round == 1 ? &b : &c;
                        if (atomic_load(&R.total) >= want && s->batches_delivered > 0)
                                break;
                        usleep(1000);
                }
        }
        p = logpipe_close(p, -1, NULL);
        ASSERT_EQ(atomic_load(&R.total), 12 * 512);
        printf("# allocated: %llu, after a short pause %llu, after a quiet second %llu\n",
               (unsigned long long)a.batches_allocated, (unsigned long long)b.batches_allocated,
               (unsigned long long)c.batches_allocated);
        ASSERT_EQ(b.batches_allocated, a.batches_allocated);
        ASSERT_TRUE(c.batches_allocated > b.batches_allocated);
}
