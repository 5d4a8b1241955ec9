/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event log (events.c): exact bytes against dockerd 20.10's recorded events, dockerd's filters on
 * the recorded samples, rotation and retention, torn records, 20 concurrent writer processes, and
 * followers that see every event through rotations.  No test asserts a timing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "json-util.h"
#include "tap.h"
#include "template.h"
#include "util.h"

/* ---- helpers ---- */

static char **sample_lines(size_t *ret_n)
{
        static const char *const files[] = { "events-lifecycle.jsonl", "events-limits.jsonl" };
        const char *dir = getenv("EVENTS_SAMPLES");
        char **lines = xcalloc(1, sizeof(char *));

        *ret_n = 0;
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir ? dir : "tests/data/events", files[f]);
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                char *save = NULL;
                if (read_file_at(AT_FDCWD, path, 1 << 20, &text, &len) < 0)
                        continue;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        strv_push(&lines, l);
                        (*ret_n)++;
                }
        }
        return lines;
}

static char *tmpdir(void)
{
        char t[] = "/tmp/test-events-XXXXXX";
        if (!mkdtemp(t))
                abort();
        return xasprintf("%s/events", t);
}

static void rmdir_all(const char *dir)
{
        _cleanup_free_ char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');
        if (slash)
                *slash = '\0';
        (void)rm_rf_at(AT_FDCWD, parent);
}

typedef struct Collect {
        char **lines;
        size_t n;
        size_t stop_after; /* 0: never */
        atomic_bool done;
} Collect;

static int collect(void *ud, json_t *ev, const char *line, size_t len)
{
        Collect *c = ud;
        _cleanup_free_ char *l = xstrndup(line, len);
        (void)ev;
        strv_push(&c->lines, l);
        c->n++;
        return c->stop_after && c->n >= c->stop_after ? 1 : 0;
}

static size_t count_files(const char *dir)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ uint64_t *nums = NULL;
        size_t n = 0;
        if (dfd < 0 || eventlog_list(dfd, "events-", &nums, &n) < 0)
                return 0;
        return n;
}

static int read_all(const char *dir, const EventFilter *f, Collect *c)
{
        EventsReadOpts o = { .has_since = true, .filter = f };
        *c = (Collect){ .lines = xcalloc(1, sizeof(char *)) };
        return events_read_dir(dir, &o, collect, c, NULL);
}

static struct timespec ts_of(int64_t ns)
{
        return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

/* ---- format ---- */

TEST(sample_bytes)
{
        size_t n = 0;
        _cleanup_strv_ char **lines = sample_lines(&n);

        ASSERT_EQ(n, 66);
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *ev = NULL;
                _cleanup_free_ char *out = NULL, *expect = xasprintf("%s\n", lines[i]);
                json_t *actor;
                int64_t ns = 0;
                size_t len = 0;
                struct timespec ts;
                ASSERT_OK(event_parse_line(lines[i], strlen(lines[i]), &ev, &ns));
                ts = ts_of(ns);
                actor = json_object_get(ev, "Actor");
                ASSERT_OK(event_format(json_string_value(json_object_get(ev, "Type")),
                                       json_string_value(json_object_get(ev, "Action")),
                                       json_string_value(json_object_get(actor, "ID")),
                                       json_object_get(actor, "Attributes"), &ts, &out, &len, NULL));
                ASSERT_STREQ(out, expect);
                ASSERT_EQ(len, strlen(expect));
        }
}

/* The docker CLI's {{json .}} over a parsed event gives the stored bytes back. */
TEST(sample_json_template)
{
        size_t n = 0;
        _cleanup_strv_ char **lines = sample_lines(&n);
        _cleanup_(tmpl_freep) Template *t = NULL;

        ASSERT_OK(tmpl_parse("{{json .}}", &t, NULL));
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *ev = NULL;
                _cleanup_free_ char *out = NULL;
                ASSERT_OK(event_parse_line(lines[i], strlen(lines[i]), &ev, NULL));
                ASSERT_OK(tmpl_execute(t, ev, &out, NULL));
                ASSERT_STREQ(out, lines[i]);
        }
}

TEST(image_and_other_types)
{
        _cleanup_json_ json_t *attrs = json_pack("{s:s, s:s}", "name", "busybox:local", "maintainer", "me");
        struct timespec ts = { 1795871879, 844194409 };
        _cleanup_free_ char *img = NULL, *net = NULL, *noattr = NULL;
        size_t len;

        ASSERT_OK(event_format("image", "tag", "sha256:0123", attrs, &ts, &img, &len, NULL));
        ASSERT_STREQ(img, "{\"status\":\"tag\",\"id\":\"sha256:0123\",\"Type\":\"image\",\"Action\":\"tag\",\"Actor\":{\"ID\":"
                          "\"sha256:0123\",\"Attributes\":{\"maintainer\":\"me\",\"name\":\"busybox:local\"}},\"scope\":"
                          "\"local\",\"time\":1795871879,\"timeNano\":1795871879844194409}\n");
        ASSERT_OK(event_format("network", "connect", "n1", attrs, &ts, &net, &len, NULL));
        ASSERT_STREQ(net, "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n1\",\"Attributes\":{"
                          "\"maintainer\":\"me\",\"name\":\"busybox:local\"}},\"scope\":\"local\",\"time\":1795871879,"
                          "\"timeNano\":1795871879844194409}\n");
        /* a container without an image attribute has no "from"; no attributes is {} */
        ASSERT_OK(event_format("container", "die", "c1", NULL, &ts, &noattr, &len, NULL));
        ASSERT_STREQ(noattr, "{\"status\":\"die\",\"id\":\"c1\",\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":"
                             "\"c1\",\"Attributes\":{}},\"scope\":\"local\",\"time\":1795871879,\"timeNano\":"
                             "1795871879844194409}\n");
}

TEST(escaping)
{
        _cleanup_json_ json_t *attrs = json_object();
        struct timespec ts = { 1, 5 };
        _cleanup_free_ char *out = NULL;
        size_t len;
        Error *err = NULL;

        json_object_set_new(attrs, "a", json_string("<&>\"\\\n\t\x01 \xe2\x80\xa8 é"));
        ASSERT_OK(event_format("container", "exec_create: sh -c a & b", "x", attrs, &ts, &out, &len, NULL));
        ASSERT_CONTAINS(out, "\"Action\":\"exec_create: sh -c a & b\"");
        ASSERT_CONTAINS(out, "\"a\":\"<&>\\\"\\\\\\n\\t\\u0001 \\u2028 é\"");
        ASSERT_CONTAINS(out, "\"time\":1,\"timeNano\":1000000005}");
        free(out);
        out = NULL;
        /* invalid UTF-8 in an action (an exec'd command's bytes) becomes U+FFFD, as Go writes it */
        ASSERT_OK(event_format("container", "exec_create: \xff ", "x", NULL, &ts, &out, &len, NULL));
        ASSERT_CONTAINS(out, "\"Action\":\"exec_create: \\ufffd \"");
        free(out);
        out = NULL;
        json_object_set_new(attrs, "n", json_integer(3));
        ASSERT_EQ(event_format("container", "x", "x", attrs, &ts, &out, &len, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "Attributes.n: expected a string");
        error_free(err);
}

TEST(exec_action)
{
        char *a1[] = { "true", NULL }, *a2[] = { "sh", "-c", "sleep 1 & wait", NULL }, *a3[] = { "sleep", "50", NULL };
        _cleanup_free_ char *s1 = event_exec_action("exec_create", a1);
        _cleanup_free_ char *s2 = event_exec_action("exec_start", a2);
        _cleanup_free_ char *s3 = event_exec_action("exec_create", a3);

        ASSERT_STREQ(s1, "exec_create: true ");
        ASSERT_STREQ(s2, "exec_start: sh -c sleep 1 & wait");
        ASSERT_STREQ(s3, "exec_create: sleep 50");
}

TEST(text_and_template_data)
{
        const char *line = "{\"status\":\"die\",\"id\":\"56c6\",\"from\":\"busybox:local\",\"Type\":\"container\",\"Action\":"
                           "\"die\",\"Actor\":{\"ID\":\"56c6\",\"Attributes\":{\"exitCode\":\"0\",\"image\":\"busybox:local\","
                           "\"name\":\"ev-rm\"}},\"scope\":\"local\",\"time\":1795871880,\"timeNano\":1795871880061242177}";
        _cleanup_json_ json_t *ev = NULL, *d = NULL;
        _cleanup_free_ char *text = NULL, *t2 = NULL;
        const char *tz = getenv("TZ");
        _cleanup_free_ char *saved = tz ? xstrdup(tz) : NULL;

        ASSERT_OK(event_parse_line(line, strlen(line), &ev, NULL));
        setenv("TZ", "UTC", 1);
        tzset();
        text = event_format_text(ev);
        ASSERT_STREQ(text, "2026-11-28T13:18:00.061242177Z container die 56c6 (exitCode=0, image=busybox:local, name=ev-rm)\n");
        setenv("TZ", "CET-1", 1);
        tzset();
        t2 = event_format_text(ev);
        if (saved)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        tzset();
        ASSERT_CONTAINS(t2, "2026-11-28T14:18:00.061242177+01:00 container die 56c6 (");
        d = event_template_data(ev);
        ASSERT_STREQ(json_string_value(json_object_get(d, "Status")), "die");
        ASSERT_STREQ(json_string_value(json_object_get(d, "ID")), "56c6");
        ASSERT_STREQ(json_string_value(json_object_get(d, "From")), "busybox:local");
        ASSERT_STREQ(json_string_value(json_object_get(d, "Scope")), "local");
        ASSERT_EQ(json_integer_value(json_object_get(d, "TimeNano")), 1795871880061242177LL);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(d, "Actor"), "Attributes"), "name")),
                     "ev-rm");
}

/* ---- filters ---- */

static const struct {
        const char *args[4];
        size_t expect;
} filter_cases[] = {
        /* counted by dockerd's rules (daemon/events/filter.go) over the 66 recorded events */
        { { NULL }, 66 },
        { { "type=container", NULL }, 66 },
        { { "type=image", NULL }, 0 },
        { { "event=die", NULL }, 10 },
        { { "event=die", "event=start", NULL }, 20 },
        { { "event=exec_create", NULL }, 4 },
        { { "event=exec_create", "event=st", NULL }, 15 },
        { { "event=exec_die", NULL }, 4 },
        { { "container=ev-stop", NULL }, 10 },
        { { "container=ev-", NULL }, 25 },
        { { "container=8cbc", NULL }, 10 },
        { { "container=hog", NULL }, 18 },
        { { "container=ev-rm", "event=die", NULL }, 1 },
        { { "container=ev-rm", "container=ev-kill", NULL }, 10 },
        { { "image=busybox", NULL }, 66 },
        { { "image=busybox:local", NULL }, 66 },
        { { "image=docker.io/library/busybox", NULL }, 0 },
        { { "image=alpine", NULL }, 0 },
        { { "label=app", NULL }, 10 },
        { { "label=app=demo", NULL }, 10 },
        { { "label=app=other", NULL }, 0 },
        { { "label=app", "label=image=busybox:local", NULL }, 10 },
        { { "label=app=demo", "label=name=ev-rm", NULL }, 0 },
        { { "scope=local", NULL }, 66 },
        { { "scope=swarm", NULL }, 0 },
        { { "network=ev", NULL }, 25 },
        { { "event=exec_start", "container=fb1", NULL }, 3 },
        { { "type=container", "event=oom", "container=hog", NULL }, 3 },
        { { "event=kill", "label=signal=9", NULL }, 3 },
        { { "container=", NULL }, 66 },
        { { " Event = die ", NULL }, 10 },
        { { "TYPE=container", "event=destroy", NULL }, 10 },
};

TEST(filters_on_samples)
{
        size_t n = 0;
        _cleanup_strv_ char **lines = sample_lines(&n);
        json_t **evs = xcalloc(n, sizeof(json_t *));

        ASSERT_EQ(n, 66);
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(event_parse_line(lines[i], strlen(lines[i]), &evs[i], NULL));
        for (size_t c = 0; c < ELEMENTSOF(filter_cases); c++) {
                _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
                size_t matched = 0;
                for (size_t a = 0; filter_cases[c].args[a]; a++)
                        ASSERT_OK(event_filter_add(f, filter_cases[c].args[a], NULL));
                for (size_t i = 0; i < n; i++)
                        matched += event_filter_match(f, evs[i]);
                if (matched != filter_cases[c].expect)
                        TAP_FAIL("case %zu (%s, %s): %zu events, expected %zu", c, filter_cases[c].args[0] ?: "-",
                                 filter_cases[c].args[0] && filter_cases[c].args[1] ? filter_cases[c].args[1] : "-",
                                 matched, filter_cases[c].expect);
        }
        for (size_t i = 0; i < n; i++)
                json_decref(evs[i]);
        free(evs);
}

TEST(filters_image_events)
{
        const char *tag = "{\"status\":\"tag\",\"id\":\"sha256:aaaa\",\"Type\":\"image\",\"Action\":\"tag\",\"Actor\":{\"ID\":"
                          "\"sha256:aaaa\",\"Attributes\":{\"name\":\"docker.io/library/alpine:3\"}},\"scope\":\"local\","
                          "\"time\":1,\"timeNano\":1000000000}";
        _cleanup_json_ json_t *ev = NULL;
        static const struct {
                const char *arg;
                bool match;
        } cases[] = {
                { "image=alpine", true },          { "image=docker.io/library/alpine:3", true },
                { "image=alpine:3", false },       { "image=sha256:aaaa", true },
                { "image=sha256", true },          { "type=image", true },
                { "container=sha256", true },      { "event=tag", true },
                { "event=untag", false },          { "label=name", true },
        };

        ASSERT_OK(event_parse_line(tag, strlen(tag), &ev, NULL));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
                ASSERT_OK(event_filter_add(f, cases[i].arg, NULL));
                if (event_filter_match(f, ev) != cases[i].match)
                        TAP_FAIL("%s: expected %s", cases[i].arg, cases[i].match ? "a match" : "no match");
        }
}

TEST(filter_errors)
{
        _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
        Error *err = NULL;

        ASSERT_EQ(event_filter_add(f, "die", &err), -EINVAL);
        ASSERT_STREQ(err->msg, "bad format of filter (expected name=value)");
        error_clear(&err);
        ASSERT_EQ(event_filter_add(f, "bogus=1", &err), -EINVAL);
        ASSERT_STREQ(err->msg, "invalid filter 'bogus'");
        error_clear(&err);
        ASSERT_OK(event_filter_add(f, "", NULL));
        ASSERT_TRUE(event_filter_empty(f));
        ASSERT_OK(event_filter_add(f, "label=a=b=c", NULL));
        ASSERT_TRUE(event_filter_has(f, "label"));
}

TEST(familiar_names)
{
        static const char *const cases[][2] = {
                { "busybox:local", "busybox" },
                { "busybox", "busybox" },
                { "docker.io/library/busybox:1", "busybox" },
                { "index.docker.io/library/busybox", "busybox" },
                { "docker.io/foo/bar:1", "foo/bar" },
                { "foo/bar", "foo/bar" },
                { "localhost:5000/foo:bar", "localhost:5000/foo" },
                { "localhost/foo", "localhost/foo" },
                { "reg.example.com/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
                  "reg.example.com/a/b" },
                { "sha256:0123456789012345678901234567890123456789012345678901234567890123", "sha256" },
                { "0123456789012345678901234567890123456789012345678901234567890123",
                  "0123456789012345678901234567890123456789012345678901234567890123" },
                { "UPPER:tag", "UPPER:tag" },
                { "a..b", "a..b" },
                { "a__b-c---d.e", "a__b-c---d.e" },
                { "", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = event_image_familiar_name(cases[i][0]);
                ASSERT_STREQ(s, cases[i][1]);
        }
}

/* ---- writing and reading ---- */

TEST(write_and_read_back)
{
        _cleanup_free_ char *dir = tmpdir();
        size_t n = 0;
        _cleanup_strv_ char **lines = sample_lines(&n);
        EventsConfig c = { .max_size = 32 << 20, .max_files = 8, .max_age_s = 0 };
        Collect got;
        EventsReadOpts o = { 0 };
        struct stat st;

        for (size_t i = 0; i < 25; i++) { /* the lifecycle sample, in time order */
                _cleanup_json_ json_t *ev = NULL;
                int64_t ns;
                struct timespec ts;
                json_t *actor;
                ASSERT_OK(event_parse_line(lines[i], strlen(lines[i]), &ev, &ns));
                ts = ts_of(ns);
                actor = json_object_get(ev, "Actor");
                ASSERT_OK(events_append(dir, &c, json_string_value(json_object_get(ev, "Type")),
                                        json_string_value(json_object_get(ev, "Action")),
                                        json_string_value(json_object_get(actor, "ID")),
                                        json_object_get(actor, "Attributes"), &ts, NULL));
        }
        ASSERT_OK(stat(dir, &st));
        ASSERT_EQ(st.st_mode & 0777, 0700);
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 25);
        for (size_t i = 0; i < 25; i++)
                ASSERT_STREQ(got.lines[i], lines[i]);
        strv_free(got.lines);

        /* since and until are inclusive (dockerd: TimeNano >= since, <= until) */
        o.has_since = o.has_until = true;
        o.since = ts_of(1795871880035904898LL); /* ev-rm's start */
        o.until = ts_of(1795871880289424081LL); /* ev-stop's start */
        got = (Collect){ .lines = xcalloc(1, sizeof(char *)) };
        ASSERT_OK(events_read_dir(dir, &o, collect, &got, NULL));
        ASSERT_EQ(got.n, 5);
        ASSERT_STREQ(got.lines[0], lines[2]);
        ASSERT_STREQ(got.lines[4], lines[6]);
        strv_free(got.lines);

        /* no since and no until: no past events (docker's default) */
        o = (EventsReadOpts){ 0 };
        got = (Collect){ .lines = xcalloc(1, sizeof(char *)) };
        ASSERT_OK(events_read_dir(dir, &o, collect, &got, NULL));
        ASSERT_EQ(got.n, 0);
        strv_free(got.lines);

        /* a filter, and a callback that stops */
        {
                _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
                ASSERT_OK(event_filter_add(f, "event=kill", NULL));
                ASSERT_OK(read_all(dir, f, &got));
                ASSERT_EQ(got.n, 3);
                strv_free(got.lines);
        }
        o = (EventsReadOpts){ .has_since = true };
        got = (Collect){ .lines = xcalloc(1, sizeof(char *)), .stop_after = 4 };
        ASSERT_OK(events_read_dir(dir, &o, collect, &got, NULL));
        ASSERT_EQ(got.n, 4);
        strv_free(got.lines);
        rmdir_all(dir);

        /* a log that does not exist is empty */
        ASSERT_OK(read_all("/nonexistent/events", NULL, &got));
        ASSERT_EQ(got.n, 0);
        strv_free(got.lines);
}

TEST(rotation_and_size_retention)
{
        _cleanup_free_ char *dir = tmpdir();
        EventsConfig c = { .max_size = 4 * EVENTS_MIN_FILE_SIZE, .max_files = 4, .max_age_s = 0 };
        Collect got;
        int64_t last = -1;

        for (int i = 0; i < 3000; i++) {
                _cleanup_json_ json_t *a = json_pack("{s:s, s:i}", "name", "web", "n", i);
                json_object_set_new(a, "n", json_sprintf("%d", i));
                ASSERT_OK(events_append(dir, &c, "container", "start", "0123456789abcdef", a, NULL, NULL));
        }
        ASSERT_TRUE(count_files(dir) <= 4);
        ASSERT_TRUE(count_files(dir) >= 3);
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_TRUE(got.n > 500 && got.n < 3000);
        /* what remains is the newest events, without a gap */
        for (size_t i = 0; i < got.n; i++) {
                _cleanup_json_ json_t *ev = NULL;
                int64_t k;
                ASSERT_OK(event_parse_line(got.lines[i], strlen(got.lines[i]), &ev, NULL));
                ASSERT_OK(parse_int64(json_string_value(json_object_get(json_object_get(json_object_get(ev, "Actor"),
                                                                                          "Attributes"), "n")), &k));
                if (last >= 0)
                        ASSERT_EQ(k, last + 1);
                last = k;
        }
        ASSERT_EQ(last, 2999);
        strv_free(got.lines);
        rmdir_all(dir);
}

TEST(age_retention)
{
        _cleanup_free_ char *dir = tmpdir();
        EventsConfig c = { .max_size = 32 << 20, .max_files = 8, .max_age_s = 30 * 24 * 3600 };
        struct timespec now, old;
        Collect got;

        clock_gettime(CLOCK_REALTIME, &now);
        old = now;
        old.tv_sec -= 40 * 24 * 3600;
        /* an old event, then a new one: the file whose first event is too old is rotated */
        ASSERT_OK(events_append(dir, &c, "container", "create", "c1", NULL, &old, NULL));
        ASSERT_OK(events_append(dir, &c, "container", "start", "c1", NULL, NULL, NULL));
        ASSERT_EQ(count_files(dir), 2);
        /* the old file's newest event (its mtime) is too old: it goes at the next write */
        {
                _cleanup_free_ char *p = xasprintf("%s/events-0000000001.log", dir);
                struct timespec times[2] = { old, old };
                ASSERT_OK(utimensat(AT_FDCWD, p, times, 0));
        }
        ASSERT_OK(events_append(dir, &c, "container", "die", "c1", NULL, NULL, NULL));
        ASSERT_EQ(count_files(dir), 1);
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 2);
        ASSERT_CONTAINS(got.lines[0], "\"Action\":\"start\"");
        strv_free(got.lines);
        rmdir_all(dir);
}

TEST(torn_record)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_free_ char *path = NULL, *text = NULL;
        EventsConfig c = { .max_size = 32 << 20, .max_files = 8 };
        Collect got;
        size_t len = 0;
        int fd;

        ASSERT_OK(events_append(dir, &c, "container", "create", "c1", NULL, NULL, NULL));
        /* a writer killed half way through its record */
        path = xasprintf("%s/events-0000000001.log", dir);
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        {
                const char *half = "{\"status\":\"start\",\"id\":\"c1\",\"Type\":\"contai";
                ASSERT_OK(write_all(fd, half, strlen(half)));
        }
        close(fd);
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 1);
        strv_free(got.lines);
        /* the next writer starts a fresh line: only the torn record is lost */
        ASSERT_OK(events_append(dir, &c, "container", "die", "c1", NULL, NULL, NULL));
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 2);
        ASSERT_CONTAINS(got.lines[1], "\"Action\":\"die\"");
        strv_free(got.lines);
        ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len));
        ASSERT_CONTAINS(text, "\"Type\":\"contai\n{\"status\":\"die\"");
        /* garbage and over-long lines are skipped too */
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        {
                size_t big = EVENTS_MAX_RECORD + 10;
                char *junk = xmalloc(big + 1);
                memset(junk, 'x', big);
                junk[big] = '\n';
                ASSERT_OK(write_all(fd, "not json\n", 9));
                ASSERT_OK(write_all(fd, junk, big + 1));
                free(junk);
        }
        close(fd);
        ASSERT_OK(events_append(dir, &c, "container", "destroy", "c1", NULL, NULL, NULL));
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 3);
        ASSERT_CONTAINS(got.lines[2], "\"Action\":\"destroy\"");
        strv_free(got.lines);
        rmdir_all(dir);
}

/* ---- concurrency and following ---- */

#define WRITERS 20
#define PER_WRITER 300

typedef struct Follower {
        const char *dir;
        Collect c;
        bool history;
        atomic_bool stop;
        atomic_bool started;
        int rc;
} Follower;

static bool follower_running(void *ud)
{
        Follower *f = ud;
        atomic_store(&f->started, true);
        return !atomic_load(&f->stop);
}

static void *follow_thread(void *ud)
{
        Follower *f = ud;
        EventsReadOpts o = { .follow = true, .running = follower_running, .running_ud = f, .has_since = f->history };
        f->rc = events_read_dir(f->dir, &o, collect, &f->c, NULL);
        return NULL;
}

static void wait_started(Follower *f)
{
        for (int i = 0; i < 3000 && !atomic_load(&f->started); i++)
                usleep(1000);
}

/* Waits (bounded, generously) until the follower has `n` events, then stops it. */
static void follow_finish(Follower *f, pthread_t t, size_t n)
{
        for (int i = 0; i < 60000 && f->c.n < n; i++)
                usleep(1000);
        atomic_store(&f->stop, true);
        pthread_join(t, NULL);
}

TEST(concurrent_writers)
{
        _cleanup_free_ char *dir = tmpdir();
        /* small files, so that the writers rotate under each other; room for everything */
        EventsConfig c = { .max_size = 64 * EVENTS_MIN_FILE_SIZE, .max_files = 64, .max_age_s = 0 };
        Follower fol = { .dir = dir, .history = true };
        pthread_t t;
        pid_t pids[WRITERS];
        Collect got;
        int next[WRITERS] = { 0 };

        int go[2];

        ASSERT_OK(mkdir_p(dir, 0700));
        fol.c = (Collect){ .lines = xcalloc(1, sizeof(char *)) };
        /*
         * The writers are forked before the follower thread exists (a fork beside a running thread can
         * inherit a lock that thread held: the sanitizer's allocator's, for one) and wait for the pipe
         * to close, so that they all start once the follower follows.
         */
        ASSERT_OK(pipe2(go, O_CLOEXEC));
        for (int w = 0; w < WRITERS; w++) {
                pids[w] = fork();
                if (pids[w] == 0) {
                        char b;
                        close(go[1]);
                        while (read(go[0], &b, 1) < 0 && errno == EINTR)
                                ;
                        for (int i = 0; i < PER_WRITER; i++) {
                                json_t *a = json_object();
                                json_object_set_new(a, "w", json_sprintf("%d", w));
                                json_object_set_new(a, "n", json_sprintf("%d", i));
                                json_object_set_new(a, "name", json_sprintf("writer-%d", w));
                                if (events_append(dir, &c, "container", "start", "0123456789abcdef", a, NULL, NULL) < 0)
                                        _exit(1);
                                json_decref(a);
                        }
                        _exit(0);
                }
                ASSERT_TRUE(pids[w] > 0);
        }
        close(go[0]);
        ASSERT_EQ(pthread_create(&t, NULL, follow_thread, &fol), 0);
        wait_started(&fol);
        close(go[1]);
        for (int w = 0; w < WRITERS; w++) {
                int st = 0;
                ASSERT_EQ(waitpid(pids[w], &st, 0), pids[w]);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ASSERT_TRUE(count_files(dir) > 2); /* rotation happened */
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, WRITERS * PER_WRITER);
        /* every record whole, each writer's in its order, times in file order */
        {
                int64_t prev_ns = 0;
                for (size_t i = 0; i < got.n; i++) {
                        _cleanup_json_ json_t *ev = NULL;
                        int64_t w, k, ns;
                        json_t *attrs;
                        ASSERT_OK(event_parse_line(got.lines[i], strlen(got.lines[i]), &ev, &ns));
                        attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
                        ASSERT_OK(parse_int64(json_string_value(json_object_get(attrs, "w")), &w));
                        ASSERT_OK(parse_int64(json_string_value(json_object_get(attrs, "n")), &k));
                        ASSERT_TRUE(w >= 0 && w < WRITERS);
                        ASSERT_EQ(k, next[w]);
                        next[w]++;
                        ASSERT_TRUE(ns >= prev_ns);
                        prev_ns = ns;
                }
        }
        /* the follower saw the same events, in the same order, through the rotations */
        follow_finish(&fol, t, got.n);
        ASSERT_OK(fol.rc);
        ASSERT_EQ(fol.c.n, got.n);
        for (size_t i = 0; i < got.n; i++)
                ASSERT_STREQ(fol.c.lines[i], got.lines[i]);
        strv_free(got.lines);
        strv_free(fol.c.lines);
        rmdir_all(dir);
}

TEST(follow_live)
{
        _cleanup_free_ char *dir = tmpdir();
        EventsConfig c = { .max_size = 4 * EVENTS_MIN_FILE_SIZE, .max_files = 4, .max_age_s = 0 };
        Follower fol = { .dir = dir };
        pthread_t t;

        /* events from before the follower started are not delivered without since */
        ASSERT_OK(events_append(dir, &c, "container", "create", "old", NULL, NULL, NULL));
        fol.c = (Collect){ .lines = xcalloc(1, sizeof(char *)) };
        ASSERT_EQ(pthread_create(&t, NULL, follow_thread, &fol), 0);
        wait_started(&fol);
        for (int i = 0; i < 400; i++) {
                _cleanup_json_ json_t *a = json_object();
                json_object_set_new(a, "n", json_sprintf("%d", i));
                json_object_set_new(a, "pad", json_string("................................................................"
                                                          "................................................................"));
                ASSERT_OK(events_append(dir, &c, "container", "start", "live", a, NULL, NULL));
                if (i % 50 == 0) {
                        /* each event reaches the follower on its own (no assertion on how fast) */
                        for (int k = 0; k < 10000 && fol.c.n < (size_t)i + 1; k++)
                                usleep(1000);
                        ASSERT_EQ(fol.c.n, i + 1);
                }
        }
        ASSERT_TRUE(count_files(dir) > 1);
        follow_finish(&fol, t, 400);
        ASSERT_OK(fol.rc);
        ASSERT_EQ(fol.c.n, 400);
        for (size_t i = 0; i < 400; i++) {
                _cleanup_free_ char *want = xasprintf("\"n\":\"%zu\"", i);
                ASSERT_CONTAINS(fol.c.lines[i], want);
        }
        strv_free(fol.c.lines);
        rmdir_all(dir);
}

static bool never_stop(void *ud)
{
        (void)ud;
        return true;
}

TEST(follow_until)
{
        _cleanup_free_ char *dir = tmpdir();
        Collect got = { .lines = xcalloc(1, sizeof(char *)) };
        EventsReadOpts o = { .follow = true, .has_until = true, .running = never_stop };

        /* following ends by itself once until has passed */
        clock_gettime(CLOCK_REALTIME, &o.until);
        o.until.tv_nsec += 300 * 1000000L;
        if (o.until.tv_nsec >= 1000000000L) {
                o.until.tv_sec++;
                o.until.tv_nsec -= 1000000000L;
        }
        ASSERT_OK(events_append(dir, NULL, "container", "create", "c", NULL, NULL, NULL));
        ASSERT_OK(events_read_dir(dir, &o, collect, &got, NULL));
        ASSERT_EQ(got.n, 1); /* until alone: past events from the start */
        strv_free(got.lines);
        rmdir_all(dir);
}

TEST(emit_helpers)
{
        char t[] = "/tmp/test-events-XXXXXX";
        Engine e = { 0 };
        _cleanup_json_ json_t *rec = NULL, *extra = json_pack("{s:s, s:s}", "exitCode", "0", "app", "x");
        _cleanup_free_ char *dir = NULL;
        Collect got;

        ASSERT_TRUE(mkdtemp(t) != NULL);
        e.data_root = t;
        e.daemon = json_object();
        rec = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "Id", "abc", "Name", "/web", "Config", "Image", "busybox:local",
                        "Labels", "app", "demo");
        ASSERT_OK(event_emit_container(&e, rec, "die", extra, NULL));
        ASSERT_OK(event_emit_image(&e, "sha256:0123", "busybox:local", NULL, "tag", NULL));
        dir = events_dir(&e);
        ASSERT_OK(read_all(dir, NULL, &got));
        ASSERT_EQ(got.n, 2);
        /* labels over the extra attributes, then image and name (dockerd's order) */
        ASSERT_CONTAINS(got.lines[0], "{\"status\":\"die\",\"id\":\"abc\",\"from\":\"busybox:local\",\"Type\":\"container\","
                                      "\"Action\":\"die\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"app\":\"demo\","
                                      "\"exitCode\":\"0\",\"image\":\"busybox:local\",\"name\":\"web\"}},\"scope\":\"local\"");
        ASSERT_CONTAINS(got.lines[1], "{\"status\":\"tag\",\"id\":\"sha256:0123\",\"Type\":\"image\",\"Action\":\"tag\","
                                      "\"Actor\":{\"ID\":\"sha256:0123\",\"Attributes\":{\"name\":\"busybox:local\"}}");
        strv_free(got.lines);
        /* daemon.json's retention keys */
        {
                EventsConfig c;
                json_object_set_new(e.daemon, "events-max-size", json_string("8m"));
                json_object_set_new(e.daemon, "events-max-age", json_string("48h"));
                events_config(&e, &c);
                ASSERT_EQ(c.max_size, 8 << 20);
                ASSERT_EQ(c.max_age_s, 48 * 3600);
        }
        json_decref(e.daemon);
        (void)rm_rf_at(AT_FDCWD, t);
}
