/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stockade-proxy's matcher, path normalisation, settings, configuration file, body inspection and HTTP
 * reading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "policy.h"
#include "tap.h"

static bool decide(const ProxyPolicy *p, const char *method, const char *target, ProxyDecision *d)
{
        proxy_decide(p, method, strlen(method), target, strlen(target), d);
        return d->allow;
}

static int set(ProxyPolicy *p, const char *name, const char *value)
{
        Error *e = NULL;
        int r = proxy_policy_set(p, name, value, &e);
        error_free(e);
        return r;
}

TEST(defaults_are_docker_socket_proxys)
{
        ProxyPolicy p;
        ProxyDecision d;

        proxy_policy_init(&p);
        ASSERT_TRUE(decide(&p, "GET", "/_ping", &d));
        ASSERT_TRUE(decide(&p, "HEAD", "/_ping", &d));
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/version", &d));
        ASSERT_TRUE(decide(&p, "GET", "/v1.51/events?filters=x", &d));
        ASSERT_TRUE(d.stream);
        ASSERT_TRUE(!decide(&p, "GET", "/v1.41/containers/json", &d));
        ASSERT_STREQ(d.reason, "CONTAINERS=0: /containers is not allowed");
        ASSERT_TRUE(!decide(&p, "GET", "/info", &d));
        ASSERT_TRUE(!decide(&p, "POST", "/_ping", &d));
        ASSERT_STREQ(d.reason, "POST=0: only GET and HEAD are allowed");
        ASSERT_TRUE(!decide(&p, "PATCH", "/_ping", &d));
        ASSERT_CONTAINS(d.reason, "PATCH is never allowed");
        ASSERT_TRUE(!decide(&p, "GET", "/nosuch", &d));
        ASSERT_TRUE(!decide(&p, "GET", "/", &d));
        proxy_policy_free(&p);
}

TEST(sections_match_whole_segments)
{
        ProxyPolicy p;
        ProxyDecision d;

        proxy_policy_init(&p);
        ASSERT_EQ(set(&p, "INFO", "1"), 1);
        ASSERT_TRUE(decide(&p, "GET", "/info", &d));
        /* docker-socket-proxy's ^(/v[\d.]+)?/info also matched /infoXYZ */
        ASSERT_TRUE(!decide(&p, "GET", "/infoxyz", &d));
        ASSERT_TRUE(!decide(&p, "GET", "/versionx", &d));
        proxy_policy_free(&p);
}

TEST(post_does_not_imply_put_or_delete)
{
        ProxyPolicy p;
        ProxyDecision d;

        proxy_policy_init(&p);
        set(&p, "CONTAINERS", "1");
        set(&p, "POST", "1");
        ASSERT_TRUE(decide(&p, "POST", "/v1.41/containers/abc/start", &d));
        ASSERT_TRUE(!decide(&p, "DELETE", "/v1.41/containers/abc", &d));
        ASSERT_STREQ(d.reason, "DELETE=0");
        ASSERT_TRUE(!decide(&p, "PUT", "/v1.41/containers/abc/archive", &d));
        set(&p, "DELETE", "1");
        ASSERT_TRUE(decide(&p, "DELETE", "/v1.41/containers/abc", &d));
        proxy_policy_free(&p);
}

TEST(allow_start_stop_restarts_without_post)
{
        ProxyPolicy p;
        ProxyDecision d;

        proxy_policy_init(&p);
        set(&p, "ALLOW_START", "1");
        ASSERT_TRUE(decide(&p, "POST", "/v1.41/containers/web-1/start", &d));
        ASSERT_STREQ(d.reason, "ALLOW_START=1");
        ASSERT_TRUE(!decide(&p, "POST", "/v1.41/containers/web-1/stop", &d));
        ASSERT_TRUE(!decide(&p, "POST", "/v1.41/containers/web-1/startx", &d));
        ASSERT_TRUE(!decide(&p, "POST", "/v1.41/containers/web-1/start/x", &d));
        ASSERT_TRUE(!decide(&p, "GET", "/v1.41/containers/json", &d));
        set(&p, "ALLOW_RESTARTS", "true");
        ASSERT_TRUE(decide(&p, "POST", "/containers/a.b_c/restart", &d));
        ASSERT_TRUE(decide(&p, "POST", "/containers/a/kill?signal=KILL", &d));
        ASSERT_TRUE(decide(&p, "POST", "/containers/a/stop", &d));
        ASSERT_TRUE(!decide(&p, "POST", "/containers/a/pause", &d));
        proxy_policy_free(&p);
}

TEST(containers_does_not_give_archive_export_logs_attach_exec)
{
        static const char *const subs[] = { "archive", "export", "logs", "attach" };
        ProxyPolicy p;
        ProxyDecision d;
        char t[128];

        proxy_policy_init(&p);
        set(&p, "CONTAINERS", "1");
        set(&p, "POST", "1");
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/containers/abc/json", &d));
        for (size_t i = 0; i < 4; i++) {
                snprintf(t, sizeof(t), "/v1.41/containers/abc/%s", subs[i]);
                ASSERT_TRUE(!decide(&p, STREQ(subs[i], "attach") ? "POST" : "GET", t, &d));
        }
        ASSERT_TRUE(!decide(&p, "POST", "/v1.41/containers/abc/exec", &d));
        ASSERT_STREQ(d.reason, "EXEC=0: /containers/{id}/exec");
        set(&p, "CONTAINERS_LOGS", "1");
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/containers/abc/logs?follow=1", &d));
        ASSERT_TRUE(d.stream);
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/containers/abc/logs", &d));
        ASSERT_TRUE(!d.stream);
        set(&p, "EXEC", "1");
        ASSERT_TRUE(decide(&p, "POST", "/v1.41/containers/abc/exec", &d));
        ASSERT_EQ(d.inspect, PROXY_INSPECT_EXEC);
        proxy_policy_free(&p);
}

TEST(path_tricks)
{
        static const struct {
                const char *target;
                bool allow;
                const char *reason;
        } cases[] = {
                { "//containers/json", false, "empty path segment" },
                { "/v1.41//containers/json", false, "empty path segment" },
                { "/containers/json/", false, "empty path segment" },
                { "/%2e%2e/containers/json", false, ". or .." },
                { "/v1.41/../containers/json", false, ". or .." },
                { "/v1.41/./containers/json", false, ". or .." },
                { "/images/%2E%2e/containers/json", false, ". or .." },
                { "/containers%2fjson", false, "encoded slash" },
                { "/containers%2Fjson", false, "encoded slash" },
                { "/containers\\json", false, "backslash" },
                { "/containers/json%00", false, "control" },
                { "/containers/json%zz", false, "bad percent" },
                { "/containers/json%4", false, "truncated" },
                { "/v1.41.0/containers/json", false, "version" },
                { "/v99999.41/containers/json", false, "version" },
                { "/v1.41999/containers/json", false, "version" },
                { "/v./containers/json", false, "version" },
                { "/v1/containers/json", false, "version" },
                { "http://docker/containers/json", false, "does not start with /" },
                { "/containers/json#x", false, "fragment" },
                { "/containers/j%C3%A9", false, "non-ASCII" },
                { "/v1.41/CONTAINERS/json", true, NULL },
                { "/V1.41/Containers/JSON", true, NULL },
                { "/%63ontainers/json", true, NULL },
                { "/v1.41/containers/json?all=1&filters=%2F%2E%2E", true, NULL },
                { "/v1.41/Images/json", false, "IMAGES=0" },
                { "/%69mages/json", false, "IMAGES=0" },
        };
        ProxyPolicy p;
        ProxyDecision d;

        proxy_policy_init(&p);
        set(&p, "CONTAINERS", "1");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                bool a = decide(&p, "GET", cases[i].target, &d);
                if (a != cases[i].allow)
                        TAP_FAIL("%s: allow=%d (%s)", cases[i].target, a, d.reason);
                if (cases[i].reason && !strstr(d.reason, cases[i].reason))
                        TAP_FAIL("%s: reason \"%s\" lacks \"%s\"", cases[i].target, d.reason,
                                 cases[i].reason);
        }
        proxy_policy_free(&p);
}

TEST(normalize_output)
{
        char out[256];
        const char *q = NULL, *why = NULL;

        ASSERT_OK(proxy_path_normalize("/v1.41/Containers/%41b/json?x=1", 31, out, sizeof(out), &q, &why));
        ASSERT_STREQ(out, "/containers/ab/json");
        ASSERT_STREQ(q, "x=1");
        ASSERT_OK(proxy_path_normalize("/v1.41", 6, out, sizeof(out), &q, &why));
        ASSERT_STREQ(out, "/");
        ASSERT_OK(proxy_path_normalize("/version", 8, out, sizeof(out), &q, &why));
        ASSERT_STREQ(out, "/version");
        ASSERT_EQ(proxy_path_normalize("/a/b", 4, out, 4, &q, &why), -EINVAL);
}

TEST(settings_and_errors)
{
        ProxyPolicy p;
        ProxyDecision d;
        Error *e = NULL;

        proxy_policy_init(&p);
        ASSERT_EQ(set(&p, "CONTAINERS", ""), 1); /* empty: off, as HAProxy's -m bool */
        ASSERT_EQ(set(&p, "EVENTS", "0"), 1);
        ASSERT_TRUE(!decide(&p, "GET", "/events", &d));
        ASSERT_EQ(set(&p, "NOSUCH", "1"), 0);
        ASSERT_EQ(proxy_policy_set(&p, "POST", "maybe", &e), -EINVAL);
        ASSERT_CONTAINS(e->msg, "POST: \"maybe\" is not a boolean");
        error_clear(&e);
        ASSERT_EQ(proxy_policy_set(&p, "ALLOWED_BINDS", "/srv:relative", &e), -EINVAL);
        ASSERT_CONTAINS(e->msg, "ALLOWED_BINDS: \"relative\" is not an absolute path");
        error_clear(&e);
        ASSERT_EQ(proxy_policy_set(&p, "ALLOWED_BINDS", "/srv/../etc", &e), -EINVAL);
        error_clear(&e);
        ASSERT_EQ(set(&p, "ALLOWED_BINDS", "/srv/data:/home/u"), 1);
        ASSERT_EQ(p.nbinds, 2);
        proxy_policy_free(&p);
}

TEST(config_file)
{
        static const char text[] = "# finer rules\n"
                                   "CONTAINERS=1\n"
                                   "deny GET /containers/*/json   # not even inspect\n"
                                   "allow GET,HEAD /containers/*/logs\n"
                                   "allow POST /images/**\n"
                                   "allow-bind /srv/data\n";
        ProxyPolicy p;
        ProxyDecision d;
        Error *e = NULL;

        proxy_policy_init(&p);
        ASSERT_OK(proxy_policy_load(&p, text, strlen(text), "proxy.conf", &e));
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/containers/json", &d));
        ASSERT_TRUE(!decide(&p, "GET", "/v1.41/containers/abc/json", &d));
        ASSERT_STREQ(d.reason, "configuration rule at line 3");
        ASSERT_TRUE(decide(&p, "GET", "/v1.41/containers/abc/logs", &d));
        ASSERT_TRUE(decide(&p, "POST", "/v1.41/images/create?fromImage=x", &d));
        ASSERT_TRUE(decide(&p, "POST", "/v1.41/images/a/b/c/push", &d));
        ASSERT_TRUE(!decide(&p, "GET", "/v1.41/images/json", &d));
        ASSERT_EQ(p.nbinds, 1);
        proxy_policy_free(&p);

        static const struct {
                const char *text, *msg;
        } bad[] = {
                { "allow GET\n", "proxy.conf:1: allow takes METHODS PATTERN" },
                { "\nallow FETCH /x\n", "proxy.conf:2: allow FETCH /x: methods must be" },
                { "deny GET containers\n", "a pattern starts with /" },
                { "deny GET /a//b\n", "an empty segment" },
                { "deny GET /**/b\n", "** must be the last segment" },
                { "deny GET /a*\n", "* stands alone" },
                { "deny GET /a/../b\n", "a . or .. segment" },
                { "POST=perhaps\n", "proxy.conf:1: POST: \"perhaps\" is not a boolean" },
                { "NOPE=1\n", "proxy.conf:1: NOPE: not a setting" },
                { "frobnicate\n", "expected NAME=VALUE, allow, deny or allow-bind" },
                { "allow-bind relative\n",
                  "proxy.conf:1: allow-bind: \"relative\" is not an absolute path" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                proxy_policy_init(&p);
                if (proxy_policy_load(&p, bad[i].text, strlen(bad[i].text), "proxy.conf", &e) >= 0)
                        TAP_FAIL("accepted: %s", bad[i].text);
                if (!strstr(e->msg, bad[i].msg))
                        TAP_FAIL("%s: \"%s\" lacks \"%s\"", bad[i].text, e->msg, bad[i].msg);
                error_clear(&e);
                proxy_policy_free(&p);
        }
}

static int inspect(const ProxyPolicy *p, ProxyInspect k, const char *body, char *reason)
{
        return proxy_inspect_body(p, k, body, strlen(body), reason, 256);
}

TEST(create_body_inspection)
{
        static const struct {
                const char *body, *reason;
        } refused[] = {
                { "{\"HostConfig\":{\"Privileged\":true}}", "HostConfig.Privileged" },
                { "{\"hostconfig\":{\"privileged\":true}}", "HostConfig.Privileged" },
                { "{\"HostConfig\":{\"Privileged\":1}}", "HostConfig.Privileged" },
                { "{\"HostConfig\":{\"Privileged\":false,\"privileged\":true}}", "differ only in case" },
                { "{\"HostConfig\":{\"Binds\":[\"/:/host\"]}}", "host path / is outside" },
                { "{\"HostConfig\":{\"Binds\":[\"/srv/data/../../etc:/x\"]}}", "outside" },
                { "{\"HostConfig\":{\"Binds\":[\"/srv/database:/x\"]}}", "outside" },
                { "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/etc\",\"Target\":\"/"
                  "x\"}]}}",
                  "Mounts[0]: host path /etc" },
                { "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/x\",\"VolumeOptions\":"
                  "{\"DriverConfig\":{\"Options\":{\"device\":\"/\",\"o\":\"bind\"}}}}]}}",
                  "volume driver options" },
                { "{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}", "CapAdd" },
                { "{\"HostConfig\":{\"SecurityOpt\":[\"seccomp=unconfined\"]}}", "SecurityOpt" },
                { "{\"HostConfig\":{\"SecurityOpt\":[\"apparmor:unconfined\"]}}", "SecurityOpt" },
                { "{\"HostConfig\":{\"SecurityOpt\":[\"label=disable\"]}}", "SecurityOpt" },
                { "{\"HostConfig\":{\"PidMode\":\"host\"}}", "PidMode" },
                { "{\"HostConfig\":{\"NetworkMode\":\"HOST\"}}", "NetworkMode" },
                { "{\"HostConfig\":{\"IpcMode\":\"host\"}}", "IpcMode" },
                { "{\"HostConfig\":{\"UsernsMode\":\"host\"}}", "UsernsMode" },
                { "{\"HostConfig\":{\"UTSMode\":\"host\"}}", "UTSMode" },
                { "{\"HostConfig\":{\"Devices\":[{\"PathOnHost\":\"/dev/sda\"}]}}", "Devices" },
                { "{\"HostConfig\":{\"DeviceCgroupRules\":[\"b *:* rwm\"]}}", "DeviceCgroupRules" },
                { "{\"HostConfig\":{\"CapAdd\":[]},\"HostConfig\":{\"Privileged\":true}}", "duplicate" },
                { "{\"HostConfig\":{\"Privil\xe2\x84\xaaged\":true}}", "non-ASCII key" },
                { "[1]", "not a JSON object" },
                { "{\"HostConfig\":[]}", "not an object" },
                { "{", "" },
        };
        ProxyPolicy p;
        char reason[256];

        proxy_policy_init(&p);
        set(&p, "ALLOWED_BINDS", "/srv/data");
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                reason[0] = '\0';
                if (inspect(&p, PROXY_INSPECT_CREATE, refused[i].body, reason) >= 0)
                        TAP_FAIL("allowed: %s", refused[i].body);
                if (!strstr(reason, refused[i].reason))
                        TAP_FAIL("%s: \"%s\" lacks \"%s\"", refused[i].body, reason, refused[i].reason);
        }
        ASSERT_OK(inspect(&p, PROXY_INSPECT_CREATE, "{\"Image\":\"busybox\"}", reason));
        ASSERT_OK(inspect(
                &p, PROXY_INSPECT_CREATE,
                "{\"Image\":\"busybox\",\"HostConfig\":{\"Privileged\":false,\"CapAdd\":null,\"Binds\":"
                "[\"/srv/data:/d:ro\",\"/srv/data/sub:/e\",\"named:/n\"],\"NetworkMode\":\"none\","
                "\"SecurityOpt\":[\"no-new-privileges\"],\"Devices\":[],\"Mounts\":[{\"Type\":\"tmpfs\","
                "\"Target\":\"/t\"},{\"Type\":\"bind\",\"Source\":\"/srv//data/\",\"Target\":\"/b\"}]}}",
                reason));
        ASSERT_EQ(inspect(&p, PROXY_INSPECT_EXEC, "{\"Cmd\":[\"sh\"],\"Privileged\":true}", reason), -EPERM);
        ASSERT_OK(inspect(&p, PROXY_INSPECT_EXEC, "{\"Cmd\":[\"sh\"]}", reason));
        ASSERT_EQ(inspect(&p, PROXY_INSPECT_UPDATE, "{\"Devices\":[{\"PathOnHost\":\"/dev/mem\"}]}", reason),
                  -EPERM);
        ASSERT_OK(inspect(&p, PROXY_INSPECT_UPDATE, "{\"Memory\":1000000}", reason));
        ASSERT_EQ(inspect(&p, PROXY_INSPECT_VOLUME, "{\"Name\":\"v\",\"DriverOpts\":{\"device\":\"/\"}}",
                          reason),
                  -EPERM);
        ASSERT_OK(inspect(&p, PROXY_INSPECT_VOLUME, "{\"Name\":\"v\"}", reason));
        proxy_policy_free(&p);
}

TEST(request_heads)
{
        static const char ok[] = "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n"
                                 "Content-Length: 12\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
        static const struct {
                const char *head, *reason;
                int status;
        } bad[] = {
                { "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both", 400 },
                { "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "differing", 400 },
                { "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "Transfer-Encoding", 400 },
                { "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                  "Transfer-Encoding", 400 },
                { "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "folding", 400 },
                { "GET / HTTP/1.1\r\nX : a\r\n\r\n", "header name", 400 },
                { "GET / HTTP/1.1\nX: a\n\n", "request line", 400 },
                { "GET / HTTP/1.1\r\nX: a\n\r\n", "bare LF", 400 },
                { "GET / HTTP/2.0\r\n\r\n", "HTTP/1.0", 505 },
                { "GET /a b HTTP/1.1\r\n\r\n", "", 505 },
                { "GET /\x01 HTTP/1.1\r\n\r\n", "bad byte", 400 },
                { "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length", 400 },
                { "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "Content-Length", 400 },
                { "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0", 400 },
        };
        HttpHead h;
        const char *why = NULL;

        ASSERT_EQ(http_head_end(ok, sizeof(ok) - 1), sizeof(ok) - 1);
        ASSERT_EQ(http_head_end(ok, sizeof(ok) - 3), 0);
        ASSERT_EQ(http_parse_request(ok, sizeof(ok) - 1, &h, &why), 0);
        ASSERT_EQ(h.method_len, 4);
        ASSERT_EQ(h.target_len, strlen("/v1.41/containers/create"));
        ASSERT_EQ(h.framing, HTTP_BODY_LENGTH);
        ASSERT_EQ(h.content_length, 12);
        ASSERT_TRUE(h.upgrade);
        ASSERT_TRUE(!h.conn_close);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int st = http_parse_request(bad[i].head, strlen(bad[i].head), &h, &why);
                if (st != bad[i].status)
                        TAP_FAIL("%s: status %d", bad[i].head, st);
                if (!strstr(why, bad[i].reason))
                        TAP_FAIL("%s: \"%s\" lacks \"%s\"", bad[i].head, why, bad[i].reason);
        }
        ASSERT_EQ(http_parse_request("GET / HTTP/1.0\r\n\r\n", 18, &h, &why), 0);
        ASSERT_TRUE(h.conn_close);
}

TEST(response_heads)
{
        HttpHead h;
        const char *why = NULL;
        const char *r1 = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                         "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
        const char *r2 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        const char *r3 = "HTTP/1.0 200 OK\r\n\r\n";
        const char *r4 = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";

        ASSERT_EQ(http_parse_response(r1, strlen(r1), false, &h, &why), 0);
        ASSERT_EQ(h.status, 101);
        ASSERT_TRUE(h.raw_stream);
        ASSERT_EQ(http_parse_response(r2, strlen(r2), false, &h, &why), 0);
        ASSERT_EQ(h.framing, HTTP_BODY_CHUNKED);
        ASSERT_EQ(http_parse_response(r2, strlen(r2), true, &h, &why), 0);
        ASSERT_EQ(h.framing, HTTP_BODY_NONE);
        ASSERT_EQ(http_parse_response(r3, strlen(r3), false, &h, &why), 0);
        ASSERT_EQ(h.framing, HTTP_BODY_CLOSE);
        ASSERT_TRUE(h.conn_close);
        ASSERT_EQ(http_parse_response(r4, strlen(r4), false, &h, &why), 0);
        ASSERT_EQ(h.framing, HTTP_BODY_NONE);
        ASSERT_EQ(http_parse_response("HTTP/1.1 2x0 OK\r\n\r\n", 19, false, &h, &why), -EPROTO);
}

static void collect(void *data, const char *p, size_t n)
{
        Buf *b = data;
        buf_put(b, p, n);
}

TEST(chunked)
{
        static const char body[] = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\nGET /next";
        Buf out = { 0 };
        ChunkReader c = { 0 };
        long n = 0;

        /* byte by byte: the reader keeps its state across any split */
        for (size_t i = 0; i < sizeof(body) - 1 && c.phase != CHUNK_DONE; i++) {
                long k = chunk_advance(&c, body + i, 1, collect, &out);
                ASSERT_TRUE(k >= 0);
                n += k;
        }
        ASSERT_EQ(c.phase, CHUNK_DONE);
        ASSERT_EQ(n, strlen(body) - strlen("GET /next"));
        ASSERT_EQ(out.len, 11);
        ASSERT_TRUE(!memcmp(out.data, "hello world", 11));
        buf_free(&out);

        c = (ChunkReader){ 0 };
        ASSERT_EQ(chunk_advance(&c, body, sizeof(body) - 1, NULL, NULL), strlen(body) - strlen("GET /next"));
        c = (ChunkReader){ 0 };
        ASSERT_EQ(chunk_advance(&c, "5\r\nhelloX\r\n", 11, NULL, NULL), -EPROTO);
        c = (ChunkReader){ 0 };
        ASSERT_EQ(chunk_advance(&c, "fffffffffffffffff\r\n", 19, NULL, NULL), -EPROTO);
        c = (ChunkReader){ 0 };
        ASSERT_EQ(chunk_advance(&c, "\r\n", 2, NULL, NULL), -EPROTO);
        c = (ChunkReader){ 0 };
        ASSERT_EQ(chunk_advance(&c, "5\nhello", 7, NULL, NULL), -EPROTO);
}
