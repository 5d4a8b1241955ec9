/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The splunk driver (logdriver-splunk.c) and its HTTP client (http-client.c): the event encoding of
 * each format against vectors produced by Go's encoding/json (go1.19, the toolchain era of docker
 * 20.10), docker's time format, the request bytes, the response parser (whole, byte by byte, and
 * malformed), the client against canned servers in this process, and the whole driver against the
 * strict receiver tests/helpers/splunk-receiver.py over http and https (CA verification, a wrong CA,
 * insecureskipverify, caname), with gzip, batching, retries, the buffer maximum and keep-alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http-client.h"
#include "logdriver-splunk.h"
#include "logdriver.h"
#include "tap.h"
#include "tls-fixture.h"
#include "util.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static char tmpdir[] = "/tmp/test-splunk-XXXXXX";
static char hostname[256];

__attribute__((constructor)) static void setup(void)
{
        signal(SIGPIPE, SIG_DFL); /* netconn must never raise it */
        alarm(300);               /* a hang is a failure */
        if (!mkdtemp(tmpdir))
                abort();
        if (gethostname(hostname, sizeof(hostname)) < 0)
                abort();
        unsetenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE");
        unsetenv("SPLUNK_LOGGING_DRIVER_BUFFER_MAX");
        unsetenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_FREQUENCY");
}

static pid_t receiver_pids[64]; /* every receiver started: a failed test leaves none behind */
static int receivers;

__attribute__((destructor)) static void teardown(void)
{
        char cmd[128];
        for (int i = 0; i < receivers && i < (int)ELEMENTSOF(receiver_pids); i++)
                if (receiver_pids[i] > 0 && kill(receiver_pids[i], SIGTERM) == 0)
                        (void)waitpid(receiver_pids[i], NULL, 0);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

/* ================================================================ helpers */

static const char *const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* Opens the driver with `config` (a JSON object text), tag and attrs; *msg gets the error, if any. */
static int open_driver(const char *config, const char *tag, const char *attrs, LogDriver **ret, char **msg)
{
        json_t *cfg = json_loads(config, 0, NULL), *at = json_loads(attrs ? attrs : "{}", 0, NULL);
        LogInfo info = { .id = ID, .name = "web", .image_name = "busybox", .image_id = "sha256:abc", .command = "sh",
                         .hostname = "ctr", .daemon_name = "stockade", .created = "", .log_path = "",
                         .config = cfg, .tag = tag, .attrs = at };
        Error *e = NULL;
        int r;

        if (!cfg || !at)
                abort();
        *ret = NULL;
        r = log_driver_splunk.open(&info, ret, &e);
        if (msg)
                *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        /* The driver keeps no reference to info: drop ours now (ASan would see a use after free). */
        json_decref(cfg);
        json_decref(at);
        return r;
}

static LogMsg msg_at(const char *stream, const char *line, time_t sec, long nsec)
{
        return (LogMsg){ .stream = stream, .line = line, .len = strlen(line), .newline = true,
                         .ts = { .tv_sec = sec, .tv_nsec = nsec } };
}

static char *encode(LogDriver *d, const char *stream, const char *line)
{
        LogMsg m = msg_at(stream, line, 1, 0);
        return splunk_encode(d, &m, NULL);
}

/* The expected message: `event` then docker's fields, host being this machine's. */
static char *expect(const char *event, const char *time_s, const char *tail)
{
        return xasprintf("{\"event\":%s,\"time\":\"%s\",\"host\":\"%s\"%s}", event, time_s, hostname, tail);
}

static int log_ok(LogDriver *d, const char *stream, const char *line)
{
        struct timespec ts;
        Error *e = NULL;
        LogMsg m;
        int r;
        clock_gettime(CLOCK_REALTIME, &ts);
        m = msg_at(stream, line, ts.tv_sec, ts.tv_nsec);
        r = d->ops->log(d, &m, &e);
        if (r < 0)
                printf("# log: %s\n", e ? e->msg : "?");
        error_free(e);
        return r;
}

static int flush_msg(LogDriver *d, char **msg)
{
        Error *e = NULL;
        int r = d->ops->flush(d, &e);
        *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        return r;
}

/* ================================================================ Go's JSON */

TEST(quote_as_go)
{
        /* Left: the bytes; right: json.Marshal(string) from go1.19. */
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
#define C(s, o) { s, sizeof(s) - 1, o }
                C("plain", "\"plain\""),
                C("<a href=\"x\">&amp;</a>", "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\""),
                C("tab\there\r\nnl", "\"tab\\there\\r\\nnl\""),
                C("\x00\x01\x08\x0c\x1f\x7f", "\"\\u0000\\u0001\\u0008\\u000c\\u001f\x7f\""),
                C("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
                C("bad \xff\xfe end", "\"bad \\ufffd\\ufffd end\""),
                C("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),
                C("\xe2\x82", "\"\\ufffd\\ufffd\""),
                C("\xc0\xaf", "\"\\ufffd\\ufffd\""),
                C("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
                C("ls\xe2\x80\xa8ps\xe2\x80\xa9", "\"ls\\u2028ps\\u2029\""),
                C("back\\slash/", "\"back\\\\slash/\""),
                C("\xef\xbf\xbd", "\"\xef\xbf\xbd\""),
                C("", "\"\""),
#undef C
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len;
                _cleanup_free_ char *q = splunk_json_quote(cases[i].in, cases[i].len, &len);
                ASSERT_STREQ(q, cases[i].out);
                ASSERT_EQ(len, strlen(cases[i].out));
        }
}

TEST(compact_as_go)
{
        /* json.Unmarshal into json.RawMessage, then json.Marshal, from go1.19; NULL: Unmarshal fails. */
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "  {\"a\" : [1, 2.5e3, true, null, \"x<y&z>\"] }  ",
                  "{\"a\":[1,2.5e3,true,null,\"x\\u003cy\\u0026z\\u003e\"]}" },
                { "\"str\"", "\"str\"" },
                { "12", "12" },
                { "-0.5E+7", "-0.5E+7" },
                { "[]", "[]" },
                { "{}", "{}" },
                { "{\"a\":{\"b\":[{}]}}", "{\"a\":{\"b\":[{}]}}" },
                { "\"\xe2\x80\xa8\"", "\"\\u2028\"" },
                { "\"\\uD800\"", "\"\\uD800\"" },
                { "\n\t[ 1 ,\r\n 2 ]\n", "[1,2]" },
                { "{\"a\":1,}", NULL },
                { "01", NULL },
                { "1.", NULL },
                { "\"\\x\"", NULL },
                { "{} x", NULL },
                { "1 2", NULL },
                { "", NULL },
                { " ", NULL },
                { "tru", NULL },
                { "nul", NULL },
                { "[1,]", NULL },
                { "{\"a\"}", NULL },
                { "\"\\u12\"", NULL },
                { "\"\\u12g4\"", NULL },
                { "-", NULL },
                { "1e", NULL },
                { "[", NULL },
                { "\"a\tb\"", NULL },
                { "[1}", NULL },
                { "{\"a\":1]", NULL },
                { "{1:2}", NULL },
                { "NaN", NULL },
                /* Ours: Go passes invalid UTF-8 through; we send such a line as a string. */
                { "\"\xff\"", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *c = splunk_json_compact(cases[i].in, strlen(cases[i].in), NULL);
                if (!cases[i].out) {
                        if (c)
                                TAP_FAIL("case %zu (%s): expected invalid, got %s", i, cases[i].in, c);
                        continue;
                }
                ASSERT_STREQ(c, cases[i].out);
        }
}

TEST(compact_depth_limit)
{
        /* Go's scanner refuses nesting deeper than 10000. */
        for (size_t depth = 9999; depth <= 10001; depth++) {
                _cleanup_free_ char *s = xmalloc(2 * depth + 1);
                memset(s, '[', depth);
                memset(s + depth, ']', depth);
                s[2 * depth] = '\0';
                _cleanup_free_ char *c = splunk_json_compact(s, 2 * depth, NULL);
                if (depth <= 10000)
                        ASSERT_STREQ(c, s);
                else
                        ASSERT_TRUE(c == NULL);
        }
}

TEST(time_as_docker)
{
        /* fmt.Sprintf("%f", float64(UnixNano)/float64(time.Second)) from go1.19. */
        static const struct {
                int64_t ns;
                const char *out;
        } cases[] = {
                { 1700000000123456789, "1700000000.123457" }, { 0, "0.000000" },
                { 1, "0.000000" },                            { 999999, "0.001000" },
                { 1700000000999999999, "1700000001.000000" }, { 1234567890000500000, "1234567890.000500" },
                { 1700000000000000500, "1700000000.000000" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct timespec ts = { .tv_sec = cases[i].ns / 1000000000, .tv_nsec = cases[i].ns % 1000000000 };
                char out[32];
                splunk_time(&ts, out);
                ASSERT_STREQ(out, cases[i].out);
        }
}

TEST(time_fast_path_as_printf)
{
        /* splunk_time formats most times without printf: it must agree with printf's "%f" everywhere. */
        static const int64_t secs[] = { 0, 1, 7, 1234567890, 1700000000, 2147483647, 4102444800 };
        uint64_t state = 0x9e3779b97f4a7c15u;
        /* Exact ties at the 7th decimal: n + k/128 seconds (k odd) is a double, printf rounds half to even. */
        for (size_t i = 0; i < ELEMENTSOF(secs); i++)
                for (int64_t k = 0; k < 128; k++) {
                        int64_t ns = secs[i] * 1000000000 + k * 7812500;
                        struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
                        char got[32], want[32];
                        splunk_time(&ts, got);
                        snprintf(want, sizeof(want), "%f", (double)ns / 1e9);
                        if (strcmp(got, want) != 0)
                                TAP_FAIL("ns %lld: %s != %s", (long long)ns, got, want);
                }
        for (int i = 0; i < 2000000; i++) {
                int64_t ns;
                char got[32], want[32];
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                switch (i % 4) {
                case 0: /* anywhere up to 2^62 ns */
                        ns = (int64_t)(state >> 2);
                        break;
                case 1: /* around now */
                        ns = 1700000000000000000 + (int64_t)(state % 100000000000000000u);
                        break;
                case 2: /* small */
                        ns = (int64_t)(state % 10000000000u);
                        break;
                default: /* near a rounding boundary of the 6th decimal */
                        ns = 1700000000000000000 + (int64_t)(state % 1000000000u) / 1000 * 1000 + 500 +
                             (int64_t)(state >> 60) - 8;
                        break;
                }
                struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
                splunk_time(&ts, got);
                snprintf(want, sizeof(want), "%f", (double)ns / 1e9);
                if (strcmp(got, want) != 0)
                        TAP_FAIL("ns %lld: %s != %s", (long long)ns, got, want);
        }
}

/* ================================================================ events */

#define NOVERIFY "\"splunk-url\":\"http://127.0.0.1:9\",\"splunk-token\":\"T\",\"splunk-verify-connection\":\"false\""

TEST(encode_inline)
{
        LogDriver *d;
        ASSERT_OK(open_driver("{" NOVERIFY ",\"splunk-source\":\"src\",\"splunk-index\":\"main\"}", "web",
                              "{\"z\":\"1\",\"a\":\"x&y\"}", &d, NULL));
        LogMsg m = msg_at("stdout", "hello <world>", 1, 0);
        size_t len;
        _cleanup_free_ char *got = splunk_encode(d, &m, &len);
        /* The event json.Marshal wrote for docker's structs with these values (go1.19). */
        _cleanup_free_ char *want = expect("{\"line\":\"hello \\u003cworld\\u003e\",\"source\":\"stdout\",\"tag\":\"web\","
                                           "\"attrs\":{\"a\":\"x\\u0026y\",\"z\":\"1\"}}",
                                           "1.000000", ",\"source\":\"src\",\"index\":\"main\"");
        ASSERT_STREQ(got, want);
        ASSERT_EQ(len, strlen(want));
        ASSERT_EQ(splunk_held(d), 0);
        log_driver_splunk.close(d);
}

TEST(encode_inline_bare)
{
        LogDriver *d;
        /* An empty tag (tag="") and no attributes: both omitted, as omitempty does; no source/index either. */
        ASSERT_OK(open_driver("{" NOVERIFY ",\"splunk-sourcetype\":\"\"}", "", NULL, &d, NULL));
        _cleanup_free_ char *got = encode(d, "stderr", "x\x01y");
        _cleanup_free_ char *want = expect("{\"line\":\"x\\u0001y\",\"source\":\"stderr\"}", "1.000000", "");
        ASSERT_STREQ(got, want);
        log_driver_splunk.close(d);
}

TEST(encode_json)
{
        static const struct {
                const char *line, *event_line;
        } cases[] = {
                { "{\"a\": 1, \"b\": [true, null]}", "{\"a\":1,\"b\":[true,null]}" },
                { "not json", "\"not json\"" },
                { "[1, 2]", "[1,2]" },
                { "42", "42" },
                { "\"quoted <b>\"", "\"quoted \\u003cb\\u003e\"" },
                { "", "\"\"" },
                { "{\"a\":\"\xff\"}", "\"{\\\"a\\\":\\\"\\ufffd\\\"}\"" },
                { "{\"a\":1} trailing", "\"{\\\"a\\\":1} trailing\"" },
        };
        LogDriver *d;
        ASSERT_OK(open_driver("{" NOVERIFY ",\"splunk-format\":\"json\",\"splunk-sourcetype\":\"docker\"}", "t", NULL,
                              &d, NULL));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = encode(d, "stdout", cases[i].line);
                _cleanup_free_ char *ev = xasprintf("{\"line\":%s,\"source\":\"stdout\",\"tag\":\"t\"}",
                                                    cases[i].event_line);
                _cleanup_free_ char *want = expect(ev, "1.000000", ",\"sourcetype\":\"docker\"");
                ASSERT_STREQ(got, want);
        }
        log_driver_splunk.close(d);
}

TEST(encode_raw)
{
        LogDriver *d;
        ASSERT_OK(open_driver("{" NOVERIFY ",\"splunk-format\":\"raw\"}", "web", "{\"z\":\"1\",\"a\":\"x&y\"}", &d, NULL));
        _cleanup_free_ char *got = encode(d, "stdout", "GET / \"200\"");
        _cleanup_free_ char *want = expect("\"web a=x\\u0026y z=1 GET / \\\"200\\\"\"", "1.000000", "");
        ASSERT_STREQ(got, want);
        /* Blank lines are not sent (HEC refuses them): Go's TrimSpace, Unicode spaces included. */
        ASSERT_TRUE(encode(d, "stdout", "") == NULL);
        ASSERT_TRUE(encode(d, "stdout", " \t\r\v\f") == NULL);
        ASSERT_TRUE(encode(d, "stdout", "\xc2\xa0\xe3\x80\x80\xe2\x80\x83") == NULL);
        _cleanup_free_ char *dot = encode(d, "stdout", " . ");
        ASSERT_TRUE(dot != NULL);
        log_driver_splunk.close(d);

        /* No tag, no attributes: the line alone. */
        ASSERT_OK(open_driver("{" NOVERIFY ",\"splunk-format\":\"raw\"}", "", NULL, &d, NULL));
        _cleanup_free_ char *bare = encode(d, "stderr", "just this");
        _cleanup_free_ char *want2 = expect("\"just this\"", "1.000000", "");
        ASSERT_STREQ(bare, want2);
        log_driver_splunk.close(d);
}

/* ================================================================ options */

TEST(open_errors)
{
        static const struct {
                const char *config, *msg;
        } cases[] = {
                { "{\"splunk-token\":\"T\"}", "splunk: splunk-url is expected" },
                { "{\"splunk-url\":\"ftp://h\",\"splunk-token\":\"T\"}",
                  "splunk: expected format scheme://dns_name_or_ip:port for splunk-url" },
                { "{\"splunk-url\":\"http://h:8088/services\",\"splunk-token\":\"T\"}",
                  "splunk: expected format scheme://dns_name_or_ip:port for splunk-url" },
                { "{\"splunk-url\":\"http://h:8088/?q\",\"splunk-token\":\"T\"}",
                  "splunk: expected format scheme://dns_name_or_ip:port for splunk-url" },
                { "{\"splunk-url\":\"http://h:8088\"}", "splunk: splunk-token is expected" },
                { "{\"splunk-url\":\"http://h:8088\",\"splunk-token\":\"a\\r\\nX-Injected: 1\"}",
                  "splunk: splunk-token holds a control character" },
                { "{" NOVERIFY ",\"splunk-capath\":\"/nonexistent/ca.pem\"}",
                  "splunk: splunk-capath '/nonexistent/ca.pem': No such file or directory" },
                { "{" NOVERIFY ",\"splunk-gzip-level\":\"10\"}",
                  "splunk: not supported level '10' for splunk-gzip-level (supported values between -1 and 9)" },
                { "{" NOVERIFY ",\"splunk-gzip\":\"yes\"}", "splunk: splunk-gzip: invalid boolean 'yes'" },
                { "{" NOVERIFY ",\"splunk-format\":\"xml\"}", "splunk: unknown format specified xml" },
                /* Nothing listens on port 9 of the loopback: the connection check fails the open. */
                { "{\"splunk-url\":\"http://127.0.0.1:9\",\"splunk-token\":\"T\"}",
                  "splunk: failed to verify connection: connect to tcp://127.0.0.1:9: Connection refused" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                LogDriver *d = NULL;
                _cleanup_free_ char *msg = NULL;
                int r = open_driver(cases[i].config, "t", NULL, &d, &msg);
                if (r >= 0) {
                        log_driver_splunk.close(d);
                        TAP_FAIL("case %zu opened", i);
                }
                ASSERT_CONTAINS(msg, cases[i].msg);
        }
}

TEST(url_parse)
{
        static const struct {
                const char *in;
                bool tls;
                const char *host, *port, *authority, *path;
        } good[] = {
                { "http://splunk:8088", false, "splunk", "8088", "splunk:8088", "" },
                { "https://splunk.example.com", true, "splunk.example.com", "443", "splunk.example.com", "" },
                { "http://127.0.0.1/", false, "127.0.0.1", "80", "127.0.0.1", "/" },
                { "https://[::1]:8088/", true, "::1", "8088", "[::1]:8088", "/" },
                { "http://h:1/a/b?c=d", false, "h", "1", "h:1", "/a/b?c=d" },
        };
        static const struct {
                const char *in, *msg;
        } bad[] = {
                { "splunk:8088", "the scheme must be http or https" },
                { "http://", "no host" },
                { "http://:80", "no host" },
                { "http://h:0", "out of range" },
                { "http://h:65536", "out of range" },
                { "http://h:80x", "invalid port" },
                { "http://h:", "invalid port" },
                { "http://user:pw@h", "user information" },
                { "http://h/#frag", "fragment" },
                { "http://[::1", "closing ']'" },
                { "http://[::1]x", "junk after" },
                { "http://h h", "in the host name" },
                { "http://h/a b", "space or control" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                HttpUrl u;
                Error *e = NULL;
                ASSERT_OK(http_url_parse(good[i].in, &u, &e));
                ASSERT_EQ(u.tls, good[i].tls);
                ASSERT_STREQ(u.host, good[i].host);
                ASSERT_STREQ(u.port, good[i].port);
                ASSERT_STREQ(u.authority, good[i].authority);
                ASSERT_STREQ(u.path, good[i].path);
                http_url_free(&u);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HttpUrl u;
                Error *e = NULL;
                ASSERT_EQ(http_url_parse(bad[i].in, &u, &e), -EINVAL);
                ASSERT_CONTAINS(e->msg, bad[i].msg);
                ASSERT_CONTAINS(e->msg, bad[i].in);
                error_free(e);
        }
}

/* ================================================================ HTTP */

TEST(request_head_bytes)
{
        HttpHeader h[] = { { "Authorization", "Splunk T" }, { "Content-Type", "application/json" } };
        size_t len;
        _cleanup_free_ char *post = http_request_head("POST", "127.0.0.1:8088", "/services/collector/event/1.0", h, 2,
                                                      42, &len);
        ASSERT_STREQ(post, "POST /services/collector/event/1.0 HTTP/1.1\r\n"
                           "Host: 127.0.0.1:8088\r\n"
                           "Authorization: Splunk T\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: 42\r\n"
                           "\r\n");
        ASSERT_EQ(len, strlen(post));
        _cleanup_free_ char *opt = http_request_head("OPTIONS", "[::1]:1", "/x", NULL, 0, -1, NULL);
        ASSERT_STREQ(opt, "OPTIONS /x HTTP/1.1\r\nHost: [::1]:1\r\n\r\n");
        ASSERT_TRUE(http_header_value_valid("Splunk abc-123 \t"));
        ASSERT_TRUE(!http_header_value_valid("a\rb"));
        ASSERT_TRUE(!http_header_value_valid("a\nb"));
        ASSERT_TRUE(!http_header_value_valid("a\x7f"));
}

typedef struct RespCase {
        const char *in;
        int result; /* 1 complete, 0 needs more, -EBADMSG */
        int status;
        const char *body;
        bool keep_alive;
        const char *msg; /* for errors */
} RespCase;

static const RespCase resp_cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 27\r\nContent-Type: application/json\r\n\r\n"
          "{\"text\":\"Success\",\"code\":0}",
          1, 200, "{\"text\":\"Success\",\"code\":0}", true, NULL },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n", 1,
          200, "hello!", true, NULL },
        { "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 1, 200, "0123456789",
          true, NULL },
        { "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 1, 200, "ok", false, NULL },
        { "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 1, 200, "", true, NULL },
        { "HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n", 1, 200, "", false, NULL },
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nbad", 1, 403, "bad", true,
          NULL },
        { "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 1, 204, "", true, NULL },
        { "HTTP/1.1 503\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 1, 503, "x", true, NULL },
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 0, 0, NULL, false, NULL },
        { "HTTP/1.1 200 OK\r\n", 0, 0, NULL, false, NULL },
        { "HTTP/1.1 200 OK\r\n\r\nuntil close", 0, 0, NULL, false, NULL },
        /* Malformed */
        { "HTTP/2 200 OK\r\n\r\n", -EBADMSG, 0, NULL, false, "status line" },
        { "HTTP/1.1 20 OK\r\n\r\n", -EBADMSG, 0, NULL, false, "status line" },
        { "HTTP/1.1 200OK\r\n\r\n", -EBADMSG, 0, NULL, false, "status line" },
        { "HTTP/1.1 099 X\r\n\r\n", -EBADMSG, 0, NULL, false, "status 99" },
        { "HTTP/1.1 600 X\r\n\r\n", -EBADMSG, 0, NULL, false, "status 600" },
        { "HTTP/1.1 101 Switching Protocols\r\n\r\n", -EBADMSG, 0, NULL, false, "101" },
        { "\r\nHTTP/1.1 200 OK\r\n\r\n", -EBADMSG, 0, NULL, false, "status line" },
        { "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", -EBADMSG, 0, NULL, false, "control character" },
        { "HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n", -EBADMSG, 0, NULL, false, "without CRLF" },
        { "HTTP/1.1 200 OK\r\n folded\r\n\r\n", -EBADMSG, 0, NULL, false, "folded" },
        { "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", -EBADMSG, 0, NULL, false, "is not 'name: value'" },
        { "HTTP/1.1 200 OK\r\nX : y\r\n\r\n", -EBADMSG, 0, NULL, false, "is not 'name: value'" },
        { "HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", -EBADMSG, 0, NULL, false, "control character in header 'X'" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", -EBADMSG, 0, NULL, false,
          "two different Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EBADMSG, 0, NULL, false, "invalid Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", -EBADMSG, 0, NULL, false, "invalid Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", -EBADMSG, 0, NULL, false,
          "invalid Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", -EBADMSG, 0, NULL, false, "over the limit of 65536" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -EBADMSG, 0, NULL, false,
          "only chunked is accepted" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", -EBADMSG, 0, NULL,
          false, "Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", -EBADMSG, 0, NULL, false,
          "both Content-Length and Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n", -EBADMSG, 0, NULL, false, "chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", -EBADMSG, 0, NULL, false, "chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n", -EBADMSG, 0, NULL, false,
          "chunk size too large" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n", -EBADMSG, 0, NULL, false,
          "over 65536 bytes" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", -EBADMSG, 0, NULL, false,
          "not followed by CRLF" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n", -EBADMSG, 0, NULL, false, "bare LF" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", -EBADMSG, 0, NULL, false,
          "is not 'name: value'" },
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
          -EBADMSG, 0, NULL, false, "interim" },
};

/* Feeds `in` in pieces of `step` bytes (0: all at once); returns the parser's verdict and the error. */
static int feed_all(const char *in, size_t len, size_t step, HttpResponse *ret, char **msg)
{
        HttpParser p;
        size_t off = 0;
        int r = 0;

        http_parser_init(&p, false, 65536);
        *msg = NULL;
        while (off < len) {
                size_t n = step ? MIN(step, len - off) : len - off, used = 0;
                Error *e = NULL;
                r = http_parser_feed(&p, in + off, n, &used, &e);
                if (r < 0) {
                        *msg = xstrdup(e->msg);
                        error_free(e);
                        break;
                }
                off += used;
                if (r == 1)
                        break;
                if (used != n) {
                        http_parser_done(&p);
                        return -1000; /* "needs more" must take everything */
                }
        }
        if (r == 1)
                http_parser_take(&p, ret);
        http_parser_done(&p);
        return r;
}

TEST(response_parser)
{
        for (size_t i = 0; i < ELEMENTSOF(resp_cases); i++) {
                const RespCase *c = &resp_cases[i];
                size_t len = strlen(c->in);
                /* Whole, byte by byte, and in 7-byte pieces: the same verdict each time. */
                size_t steps[] = { 0, 1, 7 };
                for (size_t s = 0; s < ELEMENTSOF(steps); s++) {
                        HttpResponse resp = { 0 };
                        _cleanup_free_ char *msg = NULL;
                        int r = feed_all(c->in, len, steps[s], &resp, &msg);
                        if (r != c->result)
                                TAP_FAIL("case %zu step %zu: %d != %d (%s)", i, steps[s], r, c->result,
                                         msg ? msg : "");
                        if (r == 1) {
                                ASSERT_EQ(resp.status, c->status);
                                ASSERT_EQ(resp.keep_alive, c->keep_alive);
                                ASSERT_STREQ(resp.body ? resp.body : "", c->body);
                        }
                        if (r < 0)
                                ASSERT_CONTAINS(msg, c->msg);
                        http_response_done(&resp);
                }
        }
}

TEST(response_parser_eof)
{
        HttpParser p;
        HttpResponse resp;
        Error *e = NULL;
        size_t used;
        const char *close_delim = "HTTP/1.1 500 Internal Server Error\r\n\r\nboom";

        /* A body without a length ends at EOF; the connection is not kept. */
        http_parser_init(&p, false, 1024);
        ASSERT_EQ(http_parser_feed(&p, close_delim, strlen(close_delim), &used, &e), 0);
        ASSERT_EQ(http_parser_eof(&p, &e), 1);
        http_parser_take(&p, &resp);
        ASSERT_EQ(resp.status, 500);
        ASSERT_STREQ(resp.reason, "Internal Server Error");
        ASSERT_STREQ(resp.body, "boom");
        ASSERT_TRUE(!resp.keep_alive);
        http_response_done(&resp);
        http_parser_done(&p);

        /* Nothing at all: ECONNRESET (the client retries a reused connection); a cut response: EBADMSG. */
        http_parser_init(&p, false, 1024);
        ASSERT_EQ(http_parser_eof(&p, &e), -ECONNRESET);
        error_clear(&e);
        ASSERT_EQ(http_parser_feed(&p, "HTTP/1.1 2", 10, &used, &e), 0);
        ASSERT_EQ(http_parser_eof(&p, &e), -EBADMSG);
        ASSERT_CONTAINS(e->msg, "inside the response head");
        error_clear(&e);
        http_parser_done(&p);
        http_parser_init(&p, false, 1024);
        ASSERT_EQ(http_parser_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na", 39, &used, &e), 0);
        ASSERT_EQ(http_parser_eof(&p, &e), -EBADMSG);
        ASSERT_CONTAINS(e->msg, "inside the response body");
        error_clear(&e);
        http_parser_done(&p);

        /* A response to HEAD has no body whatever its Content-Length says. */
        http_parser_init(&p, true, 1024);
        const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
        ASSERT_EQ(http_parser_feed(&p, head, strlen(head), &used, &e), 1);
        http_parser_done(&p);

        /* Bytes after a complete response are left unused (the client drops such a connection). */
        http_parser_init(&p, false, 1024);
        const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
        ASSERT_EQ(http_parser_feed(&p, two, strlen(two), &used, &e), 1);
        ASSERT_EQ(used, 39);
        http_parser_done(&p);

        /* A head over 16 KiB. */
        http_parser_init(&p, false, 1024);
        _cleanup_free_ char *big = xmalloc(HTTP_HEAD_MAX + 64);
        memset(big, 'a', HTTP_HEAD_MAX + 64);
        memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
        ASSERT_EQ(http_parser_feed(&p, big, HTTP_HEAD_MAX + 64, &used, &e), -EBADMSG);
        ASSERT_CONTAINS(e->msg, "response head over 16384 bytes");
        error_clear(&e);
        http_parser_done(&p);
}

/* ================================================================ canned servers in this process */

typedef struct Canned {
        int lfd;
        int port;
        const char *response; /* NULL: close at once; "" : never answer (until the client goes) */
        char request[65536];
        size_t req_len;
        int requests; /* how many to serve on the connection */
        pthread_t thread;
} Canned;

static int listener(int *ret_port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &al) < 0)
                abort();
        *ret_port = ntohs(a.sin_port);
        return fd;
}

/* Reads one request (head and Content-Length body) into c->request; false at EOF. */
static bool read_request(Canned *c, int fd)
{
        size_t start = c->req_len;
        for (;;) {
                char *end;
                ssize_t n;
                c->request[c->req_len] = '\0';
                end = strstr(c->request + start, "\r\n\r\n");
                if (end) {
                        const char *cl = strcasestr(c->request + start, "Content-Length: ");
                        size_t want = (size_t)(end + 4 - c->request) + (cl && cl < end ? (size_t)atoi(cl + 16) : 0);
                        if (c->req_len >= want)
                                return true;
                }
                if (c->req_len >= sizeof(c->request) - 1)
                        return false;
                n = read(fd, c->request + c->req_len, sizeof(c->request) - 1 - c->req_len);
                if (n <= 0)
                        return false;
                c->req_len += (size_t)n;
        }
}

static void *canned_main(void *ud)
{
        Canned *c = ud;
        int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return NULL;
        for (int i = 0; i < MAX(c->requests, 1); i++) {
                if (!read_request(c, fd))
                        break;
                if (!c->response)
                        break;
                if (!*c->response) {
                        char b[256];
                        while (read(fd, b, sizeof(b)) > 0)
                                ;
                        break;
                }
                if (write_all(fd, c->response, strlen(c->response)) < 0)
                        break;
        }
        close(fd);
        return NULL;
}

static void canned_start(Canned *c, const char *response)
{
        memset(c, 0, sizeof(*c));
        c->response = response;
        c->lfd = listener(&c->port);
        if (pthread_create(&c->thread, NULL, canned_main, c) != 0)
                abort();
}

static void canned_stop(Canned *c)
{
        pthread_join(c->thread, NULL);
        close(c->lfd);
        c->request[c->req_len] = '\0';
}

static int client_request(int port, const char *method, const char *body, int timeout_ms, HttpResponse *resp,
                          char **msg)
{
        _cleanup_free_ char *url_s = xasprintf("http://127.0.0.1:%d", port);
        HttpUrl url;
        Error *e = NULL;
        HttpClient *c;
        int r;

        if (http_url_parse(url_s, &url, NULL) < 0)
                abort();
        c = http_client_new(&url, NULL);
        r = http_client_request(c, method, "/p", NULL, 0, body, body ? strlen(body) : 0, timeout_ms, 65536, resp, &e);
        *msg = e ? xstrdup(e->msg) : NULL;
        error_free(e);
        http_client_free(c);
        http_url_free(&url);
        return r;
}

TEST(client_canned)
{
        static const struct {
                const char *response;
                int result, status;
                const char *body, *msg;
        } cases[] = {
                { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 200, "abc", NULL },
                { "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno", 0, 400, "no", NULL },
                { "HTTP/1.0 200 OK\r\n\r\nuntil close", 0, 200, "until close", NULL },
                { "garbage\r\n\r\n", -EBADMSG, 0, NULL, "response from 127.0.0.1:" },
                { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", -EBADMSG, 0, NULL,
                  "connection closed inside the response body" },
                { NULL, -ECONNRESET, 0, NULL, "connection closed before a response" },
                { "", -ETIMEDOUT, 0, NULL, "nothing came" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Canned c;
                HttpResponse resp = { 0 };
                _cleanup_free_ char *msg = NULL;
                canned_start(&c, cases[i].response);
                int r = client_request(c.port, "POST", "{}", cases[i].result == -ETIMEDOUT ? 300 : 10000, &resp, &msg);
                canned_stop(&c);
                if (r != cases[i].result)
                        TAP_FAIL("case %zu: %d != %d (%s)", i, r, cases[i].result, msg ? msg : "");
                if (r == 0) {
                        ASSERT_EQ(resp.status, cases[i].status);
                        ASSERT_STREQ(resp.body, cases[i].body);
                } else
                        ASSERT_CONTAINS(msg, cases[i].msg);
                http_response_done(&resp);
                /* What the server got: the request, byte for byte. */
                _cleanup_free_ char *want = xasprintf("POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 2\r\n"
                                                      "\r\n{}",
                                                      c.port);
                ASSERT_STREQ(c.request, want);
        }
}

TEST(driver_request_bytes)
{
        /* The driver's check and its post, on one kept-alive connection, byte for byte. */
        Canned c;
        LogDriver *d;
        _cleanup_free_ char *msg = NULL;
        canned_start(&c, "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n{\"text\":\"Success\",\"code\":0}");
        c.requests = 2;
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d/\",\"splunk-token\":\"00000000-TOKEN\","
                                             "\"splunk-index\":\"main\"}",
                                             c.port);
        ASSERT_OK(open_driver(cfg, "web", NULL, &d, &msg));
        LogMsg m1 = msg_at("stdout", "one", 1700000000, 500000000), m2 = msg_at("stderr", "two", 1700000000, 600000000);
        ASSERT_OK(d->ops->log(d, &m1, NULL));
        ASSERT_OK(d->ops->log(d, &m2, NULL));
        ASSERT_EQ(splunk_held(d), 2);
        ASSERT_OK(flush_msg(d, &msg));
        ASSERT_EQ(splunk_held(d), 0);
        log_driver_splunk.close(d);
        canned_stop(&c);
        _cleanup_free_ char *e1 = expect("{\"line\":\"one\",\"source\":\"stdout\",\"tag\":\"web\"}", "1700000000.500000",
                                         ",\"index\":\"main\"");
        _cleanup_free_ char *e2 = expect("{\"line\":\"two\",\"source\":\"stderr\",\"tag\":\"web\"}", "1700000000.600000",
                                         ",\"index\":\"main\"");
        _cleanup_free_ char *want = xasprintf("OPTIONS /services/collector/event/1.0 HTTP/1.1\r\n"
                                              "Host: 127.0.0.1:%d\r\n"
                                              "\r\n"
                                              "POST /services/collector/event/1.0 HTTP/1.1\r\n"
                                              "Host: 127.0.0.1:%d\r\n"
                                              "Authorization: Splunk 00000000-TOKEN\r\n"
                                              "Content-Type: application/json\r\n"
                                              "Content-Length: %zu\r\n"
                                              "\r\n"
                                              "%s%s",
                                              c.port, c.port, strlen(e1) + strlen(e2), e1, e2);
        ASSERT_STREQ(c.request, want);
}

TEST(verify_refused_status)
{
        Canned c;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        canned_start(&c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\n\r\nHEC is \x01unhealthy?\r\n");
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\"}", c.port);
        ASSERT_EQ(open_driver(cfg, "t", NULL, &d, &msg), -EIO);
        canned_stop(&c);
        ASSERT_STREQ(msg, "splunk: failed to verify connection - 503 Service Unavailable - HEC is ?unhealthy?");
}

/* ================================================================ against the receiver */

typedef struct Receiver {
        pid_t pid;
        int port;
        char dir[256], out[300], errors[300], requests[300], status[300];
} Receiver;

static bool have_pki;

/* The receiver: $SPLUNK_RECEIVER, else the source tree's (the build knows where). */
static const char *receiver_script(void)
{
        const char *s = getenv("SPLUNK_RECEIVER");
        if (!s || !*s)
                s = SPLUNK_RECEIVER_PATH;
        return access(s, R_OK) == 0 ? s : NULL;
}

static char *slurp(const char *path)
{
        char *s = NULL;
        size_t len;
        if (read_file_at(AT_FDCWD, path, 64 << 20, &s, &len) < 0)
                return xstrdup("");
        return s;
}

/* Starts the receiver; tls: with the fixture's server certificate.  extra: more arguments or NULL. */
static int receiver_start(Receiver *r, bool tls, const char *extra)
{
        _cleanup_free_ char *port_file = NULL;
        const char *script = receiver_script();
        memset(r, 0, sizeof(*r));
        snprintf(r->dir, sizeof(r->dir), "%s/recv%d", tmpdir, ++receivers);
        if (mkdir(r->dir, 0700) < 0)
                return -errno;
        snprintf(r->out, sizeof(r->out), "%s/events.jsonl", r->dir);
        snprintf(r->errors, sizeof(r->errors), "%s/errors.log", r->dir);
        snprintf(r->requests, sizeof(r->requests), "%s/requests.log", r->dir);
        snprintf(r->status, sizeof(r->status), "%s/status", r->dir);
        port_file = xasprintf("%s/port", r->dir);
        _cleanup_free_ char *tls_args = tls ? xasprintf("--tls-cert '%s/server.pem' --tls-key '%s/server.key'",
                                                        tmpdir, tmpdir)
                                              : xstrdup("");
        _cleanup_free_ char *cmd = xasprintf("exec python3 '%s' --port-file '%s' --token T --out '%s' --errors '%s' "
                                             "--requests '%s' --status-file '%s' %s %s",
                                             script, port_file, r->out, r->errors, r->requests, r->status, tls_args,
                                             extra ? extra : "");
        r->pid = fork();
        if (r->pid < 0)
                return -errno;
        if (r->pid == 0) {
                /* Its output to a file in its directory (not our TAP stream), and it dies with us. */
                _cleanup_free_ char *log = xasprintf("%s/receiver.log", r->dir);
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        if (receivers <= (int)ELEMENTSOF(receiver_pids))
                receiver_pids[receivers - 1] = r->pid;
        for (int i = 0; i < 2000; i++) { /* at most 20 s for python to start */
                int st;
                if (access(port_file, R_OK) == 0) {
                        _cleanup_free_ char *p = slurp(port_file);
                        r->port = atoi(p);
                        return r->port > 0 ? 0 : -EINVAL;
                }
                if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
                        receiver_pids[receivers - 1] = 0;
                        r->pid = 0;
                        return -ECHILD;
                }
                usleep(10000);
        }
        return -ETIMEDOUT;
}

static void receiver_stop(Receiver *r)
{
        if (r->pid > 0) {
                kill(r->pid, SIGTERM);
                (void)waitpid(r->pid, NULL, 0);
                for (int i = 0; i < receivers && i < (int)ELEMENTSOF(receiver_pids); i++)
                        if (receiver_pids[i] == r->pid)
                                receiver_pids[i] = 0;
                r->pid = 0;
        }
}

static size_t count_lines(const char *path)
{
        _cleanup_free_ char *s = slurp(path);
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += *p == '\n';
        return n;
}

/* The receiver's events as a JSON array. */
static json_t *received(Receiver *r)
{
        _cleanup_free_ char *s = slurp(r->out);
        json_t *a = json_array();
        char *save = NULL;
        for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                json_t *v = json_loads(line, 0, NULL);
                if (!v)
                        abort();
                json_array_append_new(a, v);
        }
        return a;
}

static void set_status(Receiver *r, const char *status)
{
        if (status) {
                FILE *f = fopen(r->status, "we");
                fputs(status, f);
                fclose(f);
        } else
                unlink(r->status);
}

#define NEED_RECEIVER()                                                                                        \
        do {                                                                                                   \
                if (!receiver_script())                                                                        \
                        TAP_FAIL("no receiver at %s", SPLUNK_RECEIVER_PATH);                                   \
                if (system("python3 -c 'import http.server, ssl' >/dev/null 2>&1") != 0)                       \
                        TAP_SKIP("no python3 with http.server and ssl");                                       \
        } while (0)

#define START(r, tls, extra)                                                                                   \
        do {                                                                                                   \
                int _r = receiver_start(r, tls, extra);                                                        \
                if (_r < 0)                                                                                    \
                        TAP_FAIL("receiver did not start: %s", strerror(-_r));                                 \
        } while (0)

/* The receiver refused nothing. */
#define ASSERT_NO_REFUSALS(r)                                                                                  \
        do {                                                                                                   \
                _cleanup_free_ char *_e = slurp((r)->errors);                                                  \
                if (*_e)                                                                                       \
                        TAP_FAIL("receiver refused: %s", _e);                                                  \
        } while (0)

TEST(receiver_http_inline)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\","
                                             "\"splunk-source\":\"app\",\"splunk-sourcetype\":\"docker\","
                                             "\"splunk-index\":\"main\"}",
                                             r.port);
        int rc = open_driver(cfg, "web/1", "{\"env1\":\"v<1>\",\"label\":\"x\"}", &d, &msg);
        if (rc < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        ASSERT_OK(log_ok(d, "stdout", "hello"));
        ASSERT_OK(log_ok(d, "stderr", "caf\xc3\xa9 \xff <b>"));
        LogMsg partial = msg_at("stdout", "piece", 5, 0);
        partial.newline = false;
        partial.partial_id = "abc";
        partial.partial_ordinal = 1;
        ASSERT_OK(d->ops->log(d, &partial, NULL));
        ASSERT_OK(flush_msg(d, &msg));
        log_driver_splunk.close(d);
        json_t *got = received(&r);
        _cleanup_free_ char *reqs = slurp(r.requests);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_EQ(json_array_size(got), 3);
        const char *lines[] = { "hello", "caf\xc3\xa9 \xef\xbf\xbd <b>", "piece" };
        const char *streams[] = { "stdout", "stderr", "stdout" };
        for (size_t i = 0; i < 3; i++) {
                json_t *ev = json_array_get(got, i);
                json_t *want = json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:s}},s:s,s:s,s:s,s:s,s:s}", "event", "line", lines[i],
                                         "source", streams[i], "tag", "web/1", "attrs", "env1", "v<1>", "label", "x",
                                         "host", hostname, "source", "app", "sourcetype", "docker", "index", "main",
                                         "time", json_string_value(json_object_get(ev, "time")));
                if (!json_equal(ev, want)) {
                        _cleanup_free_ char *a = json_dumps(ev, JSON_COMPACT);
                        _cleanup_free_ char *b = want ? json_dumps(want, JSON_COMPACT) : xstrdup("(json_pack failed)");
                        json_decref(want);
                        json_decref(got);
                        TAP_FAIL("event %zu: %s != %s", i, a, b);
                }
                json_decref(want);
        }
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(got, 2), "time")), "5.000000");
        json_decref(got);
        /* docker's check (OPTIONS), then one post with all three, on one kept-alive connection. */
        ASSERT_STREQ(reqs, "1 OPTIONS /services/collector/event/1.0 200 - 0\n"
                           "1 POST /services/collector/event/1.0 200 - 3\n");
}

static void pki_need(int *tap_failed)
{
        if (have_pki)
                return;
        if (system("command -v openssl >/dev/null 2>&1") != 0)
                return;
        if (tls_fixture_make(tmpdir) < 0) {
                _cleanup_free_ char *cmd = xasprintf("sed 's/^/# /' '%s/openssl.log'", tmpdir);
                (void)!system(cmd);
                *tap_failed = 1;
                return;
        }
        have_pki = true;
}

/* Opens against the https receiver with extra options; returns open's result and message. */
static int open_https(Receiver *r, const char *host, const char *opts, LogDriver **d, char **msg)
{
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"https://%s:%d\",\"splunk-token\":\"T\"%s}", host, r->port,
                                             opts);
        return open_driver(cfg, "tls", NULL, d, msg);
}

TEST(receiver_https)
{
        Receiver r;
        LogDriver *d = NULL;
        NEED_RECEIVER();
        pki_need(tap_failed);
        if (*tap_failed)
                TAP_FAIL("could not make the test certificates");
        if (!have_pki)
                TAP_SKIP("no openssl command (tools/setup.sh installs it)");
        START(&r, true, NULL);
        _cleanup_free_ char *ca = xasprintf(",\"splunk-capath\":\"%s/ca.pem\"", tmpdir);
        _cleanup_free_ char *other = xasprintf(",\"splunk-capath\":\"%s/other-ca.pem\"", tmpdir);
        _cleanup_free_ char *ca_name = xasprintf("%s,\"splunk-caname\":\"localhost\"", ca);
        _cleanup_free_ char *ca_wrong = xasprintf("%s,\"splunk-caname\":\"wrong.example\"", ca);
        _cleanup_free_ char *skip = xasprintf("%s,\"splunk-insecureskipverify\":\"true\"", other);
        static const char *hosts[] = { "127.0.0.1", "localhost", "127.0.0.1", "127.0.0.1", "127.0.0.1", "localhost" };
        const char *opts[] = { ca, ca, ca_name, skip, other, ca_wrong };
        const char *fails[] = { NULL, NULL, NULL, NULL, "certificate verify failed: unable to get local issuer",
                                "certificate verify failed: hostname mismatch" };
        size_t sent = 0;
        for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
                _cleanup_free_ char *msg = NULL;
                int rc = open_https(&r, hosts[i], opts[i], &d, &msg);
                if (fails[i]) {
                        if (rc >= 0) {
                                log_driver_splunk.close(d);
                                receiver_stop(&r);
                                TAP_FAIL("case %zu: opened", i);
                        }
                        if (!strstr(msg, fails[i]) || !strstr(msg, "splunk: failed to verify connection")) {
                                receiver_stop(&r);
                                TAP_FAIL("case %zu: %s", i, msg);
                        }
                        continue;
                }
                if (rc < 0) {
                        receiver_stop(&r);
                        TAP_FAIL("case %zu: %s", i, msg);
                }
                ASSERT_OK(log_ok(d, "stdout", "over tls"));
                log_driver_splunk.close(d); /* close posts what is held */
                sent++;
        }
        json_t *got = received(&r);
        receiver_stop(&r);
        size_t n = json_array_size(got);
        json_decref(got);
        ASSERT_EQ(n, sent);
        /* The receiver saw the refused handshakes; nothing else. */
        _cleanup_free_ char *errs = slurp(r.errors);
        ASSERT_TRUE(!strstr(errs, "POST"));
}

TEST(receiver_gzip_json)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\","
                                             "\"splunk-format\":\"json\",\"splunk-gzip\":\"true\","
                                             "\"splunk-gzip-level\":\"9\"}",
                                             r.port);
        if (open_driver(cfg, "j", NULL, &d, &msg) < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        ASSERT_OK(log_ok(d, "stdout", "{\"level\":\"info\",\"n\":[1,2.50]}"));
        ASSERT_OK(log_ok(d, "stdout", "plain text"));
        for (int i = 0; i < 200; i++) /* something worth compressing */
                ASSERT_OK(log_ok(d, "stderr", "{\"i\": 1, \"pad\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"));
        ASSERT_OK(flush_msg(d, &msg));
        log_driver_splunk.close(d);
        json_t *got = received(&r);
        _cleanup_free_ char *reqs = slurp(r.requests);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_EQ(json_array_size(got), 202);
        json_t *l0 = json_object_get(json_object_get(json_array_get(got, 0), "event"), "line");
        json_t *l1 = json_object_get(json_object_get(json_array_get(got, 1), "event"), "line");
        json_t *want0 = json_pack("{s:s,s:[i,f]}", "level", "info", "n", 1, 2.5);
        ASSERT_TRUE(json_equal(l0, want0));
        json_decref(want0);
        ASSERT_STREQ(json_string_value(l1), "plain text");
        json_decref(got);
        ASSERT_CONTAINS(reqs, "1 POST /services/collector/event/1.0 200 gzip 202\n");
}

TEST(receiver_batching)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        setenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE", "10", 1);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\","
                                             "\"splunk-verify-connection\":\"false\"}",
                                             r.port);
        int rc = open_driver(cfg, "b", NULL, &d, &msg);
        unsetenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE");
        if (rc < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        for (int i = 0; i < 25; i++) {
                char line[32];
                snprintf(line, sizeof(line), "line %d", i);
                ASSERT_OK(log_ok(d, "stdout", line));
        }
        /* Two full batches went while logging; five wait for the flush. */
        ASSERT_EQ(splunk_held(d), 5);
        ASSERT_EQ(count_lines(r.out), 20);
        ASSERT_OK(flush_msg(d, &msg));
        ASSERT_EQ(splunk_held(d), 0);
        log_driver_splunk.close(d);
        json_t *got = received(&r);
        _cleanup_free_ char *reqs = slurp(r.requests);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_EQ(json_array_size(got), 25);
        for (size_t i = 0; i < 25; i++) {
                char line[32];
                snprintf(line, sizeof(line), "line %zu", i);
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(got, i), "event"), "line")),
                             line);
        }
        json_decref(got);
        ASSERT_STREQ(reqs, "1 POST /services/collector/event/1.0 200 - 10\n"
                           "1 POST /services/collector/event/1.0 200 - 10\n"
                           "1 POST /services/collector/event/1.0 200 - 5\n");
}

TEST(receiver_retry_after_failure)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        /* No wait between tries, so that the test needs no clock. */
        setenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_FREQUENCY", "0s", 1);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\"}", r.port);
        int rc = open_driver(cfg, "t", NULL, &d, &msg);
        unsetenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_FREQUENCY");
        if (rc < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        set_status(&r, "503");
        /* log() keeps the messages when a post fails (frequency 0: each log tries); flush reports it. */
        for (int i = 0; i < 5; i++)
                ASSERT_OK(log_ok(d, "stdout", "kept"));
        ASSERT_EQ(splunk_held(d), 5);
        free(msg);
        msg = NULL;
        ASSERT_EQ(flush_msg(d, &msg), -EIO);
        ASSERT_CONTAINS(msg, "splunk: failed to send event - 503 Service Unavailable - {\"text\":\"Server is busy\"");
        ASSERT_EQ(splunk_held(d), 5);
        set_status(&r, NULL);
        free(msg);
        msg = NULL;
        ASSERT_OK(flush_msg(d, &msg));
        ASSERT_EQ(splunk_held(d), 0);
        ASSERT_EQ(splunk_dropped(d), 0);
        log_driver_splunk.close(d);
        size_t n = count_lines(r.out);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_EQ(n, 5);
}

TEST(receiver_buffer_max)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        size_t failed_logs = 0;
        NEED_RECEIVER();
        START(&r, false, NULL);
        setenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE", "10", 1);
        setenv("SPLUNK_LOGGING_DRIVER_BUFFER_MAX", "20", 1);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\"}", r.port);
        int rc = open_driver(cfg, "t", NULL, &d, &msg);
        unsetenv("SPLUNK_LOGGING_DRIVER_POST_MESSAGES_BATCH_SIZE");
        unsetenv("SPLUNK_LOGGING_DRIVER_BUFFER_MAX");
        if (rc < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        set_status(&r, "500");
        for (int i = 0; i < 50; i++) {
                char line[32];
                Error *e = NULL;
                snprintf(line, sizeof(line), "m%d", i);
                LogMsg m = msg_at("stdout", line, 1, 0);
                if (d->ops->log(d, &m, &e) < 0) {
                        failed_logs++;
                        ASSERT_CONTAINS(e->msg, "10 messages dropped (the buffer is full): splunk: failed to send "
                                                "event - 500 Internal Server Error");
                }
                error_free(e);
        }
        /* As docker's worker: at 10 a post fails and all stay; at 20 (the maximum) the post fails again and the
         * oldest batch of 10 goes; so at 30, 40 and 50. */
        ASSERT_EQ(splunk_dropped(d), 40);
        ASSERT_EQ(failed_logs, 4);
        ASSERT_EQ(splunk_held(d), 10);
        set_status(&r, NULL);
        /* Within the retry pause flush only says it still holds them (the pipe calls again); finish posts. */
        ASSERT_EQ(flush_msg(d, &msg), -EAGAIN);
        free(msg);
        ASSERT_EQ(log_driver_splunk.finish(d), 40);
        log_driver_splunk.close(d);
        json_t *got = received(&r);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        /* The newest 10 arrived, in order. */
        ASSERT_EQ(json_array_size(got), 10);
        for (size_t i = 0; i < 10; i++) {
                char line[32];
                snprintf(line, sizeof(line), "m%zu", i + 40);
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(got, i), "event"), "line")),
                             line);
        }
        json_decref(got);
}

TEST(receiver_wrong_token)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        /* docker's check sends no token, so a wrong one shows at the first post. */
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"WRONG\"}",
                                             r.port);
        if (open_driver(cfg, "t", NULL, &d, &msg) < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        ASSERT_OK(log_ok(d, "stdout", "x"));
        ASSERT_EQ(flush_msg(d, &msg), -EIO);
        ASSERT_STREQ(msg, "splunk: failed to send event - 403 Forbidden - {\"text\":\"Invalid token\",\"code\":4}");
        log_driver_splunk.close(d);
        _cleanup_free_ char *errs = slurp(r.errors);
        receiver_stop(&r);
        ASSERT_CONTAINS(errs, "403 Authorization ['Splunk WRONG']");
}

TEST(receiver_close_posts_the_rest)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        START(&r, false, NULL);
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\","
                                             "\"splunk-format\":\"raw\"}",
                                             r.port);
        if (open_driver(cfg, "rawtag", "{\"k\":\"v\"}", &d, &msg) < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        ASSERT_OK(log_ok(d, "stdout", "a"));
        ASSERT_OK(log_ok(d, "stdout", "   ")); /* not sent: blank */
        ASSERT_OK(log_ok(d, "stderr", "b"));
        ASSERT_EQ(splunk_held(d), 2);
        log_driver_splunk.close(d);
        json_t *got = received(&r);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_EQ(json_array_size(got), 2);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(got, 0), "event")), "rawtag k=v a");
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(got, 1), "event")), "rawtag k=v b");
        json_decref(got);
}

TEST(receiver_idle_connection_closed)
{
        Receiver r;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        NEED_RECEIVER();
        /* The receiver closes a connection idle for 0.1 s; the next post must go on a new one. */
        START(&r, false, "--idle-timeout 0.1");
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\"}", r.port);
        if (open_driver(cfg, "t", NULL, &d, &msg) < 0) {
                receiver_stop(&r);
                TAP_FAIL("open: %s", msg);
        }
        for (int i = 0; i < 3; i++) {
                ASSERT_OK(log_ok(d, "stdout", "again"));
                usleep(400000);
                free(msg);
                msg = NULL;
                if (flush_msg(d, &msg) < 0) {
                        log_driver_splunk.close(d);
                        receiver_stop(&r);
                        TAP_FAIL("flush %d: %s", i, msg);
                }
        }
        log_driver_splunk.close(d);
        _cleanup_free_ char *reqs = slurp(r.requests);
        receiver_stop(&r);
        ASSERT_NO_REFUSALS(&r);
        ASSERT_STREQ(reqs, "1 OPTIONS /services/collector/event/1.0 200 - 0\n"
                           "2 POST /services/collector/event/1.0 200 - 1\n"
                           "3 POST /services/collector/event/1.0 200 - 1\n"
                           "4 POST /services/collector/event/1.0 200 - 1\n");
}

/* The receiver itself: what it must refuse (its strictness is what the tests above rely on). */
TEST(receiver_refuses_malformed)
{
        static const struct {
                const char *headers, *body;
                int status;
                const char *error;
        } cases[] = {
                { "Authorization: Splunk T\r\n", "{\"event\":\"x\",\"host\":\"h\"}", 400, "no 'time'" },
                { "Authorization: Splunk T\r\n", "{\"event\":\"x\",\"time\":1.5,\"host\":\"h\"}", 400,
                  "not docker's" },
                { "Authorization: Splunk T\r\n", "{\"event\":\"x\",\"time\":\"1.000000\",\"host\":\"h\"} junk", 400,
                  "invalid JSON" },
                { "Authorization: Splunk T\r\n", "{\"event\":NaN,\"time\":\"1.000000\",\"host\":\"h\"}", 400,
                  "NaN is not JSON" },
                { "Authorization: Splunk T\r\n", "{\"event\":\"a\",\"event\":\"b\",\"time\":\"1.000000\",\"host\":\"h\"}",
                  400, "duplicate key" },
                { "Authorization: Splunk T\r\n", "{\"event\":{\"line\":\"x\",\"source\":\"stdin\"},\"time\":\"1.000000\","
                  "\"host\":\"h\"}", 400, "not stdout or stderr" },
                { "Authorization: Splunk T\r\n", "{\"event\":\" \",\"time\":\"1.000000\",\"host\":\"h\"}", 400,
                  "blank raw event" },
                { "Authorization: Splunk T\r\n", "{\"event\":\"x\",\"time\":\"1.000000\",\"host\":\"h\",\"index\":\"\"}",
                  400, "index '' is not a non-empty string" },
                { "Authorization: Splunk T\r\nContent-Encoding: gzip\r\n", "not gzip", 400, "gzip body" },
                { "Authorization: Splunk T\r\nContent-Encoding: br\r\n", "{}", 415, "Content-Encoding 'br'" },
                { "Authorization: Splunk T\r\nContent-Type: text/plain\r\n", "{}", 400, "Content-Type 'text/plain'" },
                { "", "{}", 401, "no Authorization header" },
                { "Authorization: Bearer T\r\n", "{}", 403, "Authorization ['Bearer T']" },
                { "Authorization: Splunk T\r\n", "\xff", 400, "not UTF-8" },
                { "Authorization: Splunk T\r\n", "", 400, "empty body" },
                { "Authorization: Splunk T\r\n", "{\"event\":\"ok\",\"time\":\"1.000000\",\"host\":\"h\"}\n"
                  "{\"event\":{\"line\":{\"a\":1},\"source\":\"stdout\"},\"time\":\"2.000000\",\"host\":\"h\"}", 200, NULL },
        };
        Receiver r;
        NEED_RECEIVER();
        START(&r, false, NULL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *req = xasprintf("POST /services/collector/event/1.0 HTTP/1.1\r\nHost: x\r\n%s"
                                                     "Content-Length: %zu\r\n\r\n%s",
                                                     cases[i].headers, strlen(cases[i].body), cases[i].body);
                struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r.port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                char resp[4096];
                size_t got = 0;
                ssize_t n;
                if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write_all(fd, req, strlen(req)) < 0)
                        abort();
                shutdown(fd, SHUT_WR);
                while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
                        got += (size_t)n;
                resp[got] = '\0';
                close(fd);
                char want[32];
                snprintf(want, sizeof(want), "HTTP/1.1 %d ", cases[i].status);
                if (strncmp(resp, want, strlen(want)) != 0) {
                        receiver_stop(&r);
                        TAP_FAIL("case %zu: %.40s", i, resp);
                }
                _cleanup_free_ char *errs = slurp(r.errors);
                if (cases[i].error)
                        ASSERT_CONTAINS(errs, cases[i].error);
        }
        size_t n = count_lines(r.out);
        receiver_stop(&r);
        ASSERT_EQ(n, 2);
}

typedef struct FlushCall {
        LogDriver *d;
        int r;
        char *msg;
} FlushCall;

static void *flush_thread(void *ud)
{
        FlushCall *f = ud;
        f->r = flush_msg(f->d, &f->msg);
        return NULL;
}

TEST(cancel_ends_a_waiting_post)
{
        /* A collector that takes the request and never answers: the monitor's cancel (its drain limit)
         * ends the wait well before the post's own 30 s, and close drops what is held at once. */
        Canned c;
        LogDriver *d = NULL;
        _cleanup_free_ char *msg = NULL;
        FlushCall f = { 0 };
        pthread_t th;
        canned_start(&c, "");
        _cleanup_free_ char *cfg = xasprintf("{\"splunk-url\":\"http://127.0.0.1:%d\",\"splunk-token\":\"T\","
                                             "\"splunk-verify-connection\":\"false\"}",
                                             c.port);
        ASSERT_OK(open_driver(cfg, "t", NULL, &d, &msg));
        ASSERT_OK(log_ok(d, "stdout", "never answered"));
        f.d = d;
        if (pthread_create(&th, NULL, flush_thread, &f) != 0)
                abort();
        /* Wait until the server has the request, so that the cancel finds the post waiting. */
        for (int i = 0; i < 2000; i++) {
                struct pollfd none = { .fd = -1 };
                if (__atomic_load_n(&c.req_len, __ATOMIC_SEQ_CST) > 0)
                        break;
                (void)poll(&none, 0, 10);
        }
        log_driver_splunk.cancel(d);
        pthread_join(th, NULL);
        ASSERT_EQ(f.r, -ECANCELED);
        ASSERT_CONTAINS(f.msg, "cancelled");
        free(f.msg);
        ASSERT_EQ(splunk_held(d), 1);
        log_driver_splunk.close(d); /* drops the one held, without trying again */
        canned_stop(&c);
        ASSERT_CONTAINS(c.request, "never answered");
}
