/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The API server's request parser (http-request.c): docker CLI requests, refusals, chunked bodies, queries. */
#include <string.h>

#include "http-request.h"
#include "tap.h"
#include "util.h"

/* Parses s; a refusal must explain itself (else status 0, which no caller expects). */
static int parse(const char *s, HttpRequest *q, int *status)
{
        Error *err = NULL;
        int r = http_request_parse(s, strlen(s), q, status, &err);
        if (r < 0) {
                bool explained = err && err->msg && *err->msg;
                error_free(err);
                if (!explained) {
                        *status = 0;
                        return -1000;
                }
        }
        return r;
}

TEST(docker_cli_requests)
{
        HttpRequest q;
        int status = 0;
        const char *attach = "POST /v1.41/containers/35b3/attach?stderr=1&stdout=1&stream=1 HTTP/1.1\r\n"
                             "Host: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: 0\r\n"
                             "Connection: Upgrade\r\nContent-Type: text/plain\r\nUpgrade: tcp\r\n\r\nextra";
        int r = parse(attach, &q, &status);
        ASSERT_EQ(r, (int)strlen(attach) - 5);
        ASSERT_STREQ(q.method, "POST");
        ASSERT_STREQ(q.path, "/v1.41/containers/35b3/attach");
        ASSERT_STREQ(q.query, "stderr=1&stdout=1&stream=1");
        ASSERT_EQ(q.content_length, 0);
        ASSERT_TRUE(q.upgrade && q.keep_alive && !q.chunked);
        ASSERT_STREQ(http_request_header(&q, "content-type"), "text/plain");
        ASSERT_EQ(q.n_headers, 6);
        http_request_done(&q);

        const char *import = "POST /v1.41/images/create?fromSrc=-&repo=tiny%3Atrace HTTP/1.1\r\nHost: x\r\n"
                             "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n";
        ASSERT_EQ(parse(import, &q, &status), (int)strlen(import));
        ASSERT_TRUE(q.chunked && q.content_length == -1);
        char *repo = http_query_get(q.query, "repo");
        ASSERT_STREQ(repo, "tiny:trace");
        free(repo);
        ASSERT_TRUE(http_query_get(q.query, "tag") == NULL);
        http_request_done(&q);

        /* HTTP/1.0 closes unless asked; 1.1 keeps unless told */
        ASSERT_TRUE(parse("GET /_ping HTTP/1.0\r\n\r\n", &q, &status) > 0);
        ASSERT_TRUE(!q.keep_alive);
        http_request_done(&q);
        ASSERT_TRUE(parse("GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &q, &status) > 0);
        ASSERT_TRUE(!q.keep_alive);
        http_request_done(&q);
        /* incomplete: more needed, nothing kept */
        ASSERT_EQ(parse("GET /_ping HTTP/1.1\r\nHost: x\r\n", &q, &status), 0);
}

TEST(refusals)
{
        static const struct {
                const char *in;
                int status;
        } cases[] = {
                { "GARBAGE\r\n\r\n", 400 },
                { "GET / HTTP/1.1\nHost: x\n\n", 400 },
                { "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
                { "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
                { "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
                { "GET / HTTP/1.1\r\n\r\n", 400 },
                { "GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
                { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
                { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
                { "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
                { "GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400 },
                { "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HttpRequest q;
                int status = 0;
                if (parse(cases[i].in, &q, &status) >= 0 || status != cases[i].status)
                        TAP_FAIL("case %zu: status %d, expected %d", i, status, cases[i].status);
        }
        /* too many headers, too big a head */
        {
                char *s = NULL;
                size_t n = 0;
                FILE *m = open_memstream(&s, &n);
                fputs("GET / HTTP/1.1\r\nHost: x\r\n", m);
                for (int i = 0; i < HTTPREQ_HEADERS_MAX; i++)
                        fprintf(m, "X-%d: y\r\n", i);
                fputs("\r\n", m);
                fclose(m);
                HttpRequest q;
                int status = 0;
                ASSERT_TRUE(parse(s, &q, &status) < 0);
                ASSERT_EQ(status, 431);
                free(s);
                char *big = xmalloc(HTTPREQ_HEAD_MAX + 1);
                memset(big, 'a', HTTPREQ_HEAD_MAX);
                memcpy(big, "GET /", 5);
                big[HTTPREQ_HEAD_MAX] = '\0';
                ASSERT_TRUE(parse(big, &q, &status) < 0);
                ASSERT_EQ(status, 431);
                free(big);
        }
}

static int decode_all(const char *in, size_t step, char *out, size_t *out_len, size_t *used)
{
        HttpChunked c = { 0 };
        size_t off = 0, o = 0, len = strlen(in);
        int r = 0;
        while (off < len) {
                size_t n = len - off < step ? len - off : step, u = 0, got = 0;
                Error *err = NULL;
                r = http_chunked_decode(&c, in + off, n, &u, out + o, &got, &err);
                error_free(err);
                off += u;
                o += got;
                if (r != 0)
                        break;
        }
        *out_len = o;
        *used = off;
        return r;
}

TEST(chunked)
{
        const char *body = "5\r\nhello\r\na;ext=1\r\n, world!!!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for (size_t step = 1; step <= strlen(body); step++) {
                char out[128];
                size_t n = 0, used = 0;
                ASSERT_EQ(decode_all(body, step, out, &n, &used), 1);
                ASSERT_EQ(n, 15);
                ASSERT_TRUE(memcmp(out, "hello, world!!!", 15) == 0);
                ASSERT_EQ(used, strlen(body) - 4);
        }
        static const char *const bad[] = { "x\r\n", "5\r\nhelloXX", "5\nhello\r\n", "10000000000000000\r\n", "5\r\nhello\r\n0\r\nX: \x01\r\n\r\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char out[128];
                size_t n, used;
                if (decode_all(bad[i], 3, out, &n, &used) >= 0)
                        TAP_FAIL("bad chunked body %zu accepted", i);
        }
}

TEST(queries_and_versions)
{
        char *v = http_query_get("a=1&name=x+y%2Fz&flag&b=", "name");
        ASSERT_STREQ(v, "x y/z");
        free(v);
        v = http_query_get("a=1&flag&b=", "flag");
        ASSERT_STREQ(v, "");
        free(v);
        ASSERT_TRUE(http_query_get("a=%00", "a") == NULL);
        ASSERT_TRUE(http_query_get("a=%4", "a") == NULL);
        ASSERT_EQ(http_api_version("1.41", 4), 141);
        ASSERT_EQ(http_api_version("1.5", 3), 105);
        ASSERT_EQ(http_api_version("1.", 2), -1);
        ASSERT_EQ(http_api_version("x.41", 4), -1);
        ASSERT_EQ(http_api_version("1.41a", 5), -1);
}
