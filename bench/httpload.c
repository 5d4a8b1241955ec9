/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A closed-loop HTTP/1.1 load generator for bench-proxy.sh: C keep-alive connections (TCP or a unix
 * socket, so the upstream can be measured without a proxy), each sending GET PATH and waiting for
 * the whole response before the next.  Prints the request count, requests/s and the latency
 * percentiles.  Responses are framed with stockade-proxy's own reader (src/proxy/http.c).
 *
 *   httpload (--unix PATH | --tcp ADDR:PORT) [--path /_ping] [--expect STATUS] [-c CONNS] [-d SECONDS] [-w
 * WARMUP]
 *
 * A response with another status than --expect (200) is counted in "unexpected".  A server that
 * closes after a response (Connection: close, as HAProxy after a deny) is dialled again; the
 * reconnections are counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define MAX_SAMPLES (8 * 1000 * 1000)

typedef struct Client {
        int fd;
        char buf[65536];
        size_t len;
        double start;
        bool have_head;
        HttpHead h;
        size_t head_len;
        ChunkReader ck;
        size_t body_seen;
} Client;

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
        float x = *(const float *)a, y = *(const float *)b;
        return x < y ? -1 : x > y;
}

static int dial(const char *unix_path, const char *tcp)
{
        int fd;

        if (unix_path) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", unix_path);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        return -1;
        } else {
                struct sockaddr_in sa = { .sin_family = AF_INET };
                char host[64];
                const char *colon = strrchr(tcp, ':');
                int one = 1;
                if (!colon || (size_t)(colon - tcp) >= sizeof(host))
                        return -1;
                memcpy(host, tcp, (size_t)(colon - tcp));
                host[colon - tcp] = '\0';
                sa.sin_port = htons((uint16_t)atoi(colon + 1));
                if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                        return -1;
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        return -1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        return fd;
}

int main(int argc, char **argv)
{
        const char *unix_path = NULL, *tcp = NULL, *path = "/_ping";
        int conns = 16, epfd, expect = 200;
        size_t reconnects = 0;
        double secs = 10, warm = 1, t0, t_end, t_meas;
        char req[512];
        size_t reqlen, nsamples = 0, errors = 0;
        float *lat = malloc(MAX_SAMPLES * sizeof(float));
        Client *cl;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--unix") && i + 1 < argc)
                        unix_path = argv[++i];
                else if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
                        tcp = argv[++i];
                else if (!strcmp(argv[i], "--path") && i + 1 < argc)
                        path = argv[++i];
                else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
                        expect = atoi(argv[++i]);
                else if (!strcmp(argv[i], "-c") && i + 1 < argc)
                        conns = atoi(argv[++i]);
                else if (!strcmp(argv[i], "-d") && i + 1 < argc)
                        secs = atof(argv[++i]);
                else if (!strcmp(argv[i], "-w") && i + 1 < argc)
                        warm = atof(argv[++i]);
                else {
                        fprintf(stderr, "usage: httpload (--unix PATH | --tcp ADDR:PORT) [--path P] [-c N] "
                                        "[-d S] [-w S]\n");
                        return 2;
                }
        }
        if ((!unix_path == !tcp) || conns < 1 || conns > 10000 || !lat) {
                fprintf(stderr, "httpload: one of --unix or --tcp, and 1 <= -c <= 10000\n");
                return 2;
        }
        reqlen = (size_t)snprintf(req, sizeof(req),
                                  "GET %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: httpload\r\n\r\n", path);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        cl = calloc((size_t)conns, sizeof(*cl));
        t0 = now();
        t_meas = t0 + warm;
        t_end = t_meas + secs;
        for (int i = 0; i < conns; i++) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cl[i] };
                cl[i].fd = dial(unix_path, tcp);
                if (cl[i].fd < 0) {
                        fprintf(stderr, "httpload: connect: %s\n", strerror(errno));
                        return 1;
                }
                epoll_ctl(epfd, EPOLL_CTL_ADD, cl[i].fd, &ev);
                cl[i].start = now();
                if (write(cl[i].fd, req, reqlen) != (ssize_t)reqlen)
                        return 1;
        }
        for (;;) {
                struct epoll_event evs[256];
                int n = epoll_wait(epfd, evs, 256, 1000);
                double t = now();
                if (t >= t_end)
                        break;
                for (int i = 0; i < n; i++) {
                        Client *c = evs[i].data.ptr;
                        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
                        bool done = false;
                        if (r <= 0) {
                                fprintf(stderr, "httpload: the server closed a connection (%s)\n",
                                        r < 0 ? strerror(errno) : "EOF");
                                return 1;
                        }
                        c->len += (size_t)r;
                        if (!c->have_head) {
                                const char *why = NULL;
                                size_t e = http_head_end(c->buf, c->len);
                                if (!e)
                                        continue;
                                if (http_parse_response(c->buf, e, false, &c->h, &why) < 0) {
                                        fprintf(stderr, "httpload: bad response: %s\n", why);
                                        return 1;
                                }
                                if (c->h.status != expect)
                                        errors++;
                                c->have_head = true;
                                c->head_len = e;
                                c->ck = (ChunkReader){ 0 };
                                c->body_seen = e;
                        }
                        if (c->h.framing == HTTP_BODY_LENGTH) {
                                done = c->len - c->head_len >= c->h.content_length;
                        } else if (c->h.framing == HTTP_BODY_CHUNKED) {
                                long k = chunk_advance(&c->ck, c->buf + c->body_seen, c->len - c->body_seen,
                                                       NULL, NULL);
                                if (k < 0)
                                        return 1;
                                c->body_seen += (size_t)k;
                                done = c->ck.phase == CHUNK_DONE;
                        } else {
                                done = c->h.framing == HTTP_BODY_NONE;
                        }
                        if (!done)
                                continue;
                        if (t >= t_meas && nsamples < MAX_SAMPLES)
                                lat[nsamples++] = (float)((t - c->start) * 1e6);
                        c->len = 0;
                        c->have_head = false;
                        if (c->h.conn_close) {
                                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                                close(c->fd);
                                c->fd = dial(unix_path, tcp);
                                if (c->fd < 0) {
                                        fprintf(stderr, "httpload: connect: %s\n", strerror(errno));
                                        return 1;
                                }
                                epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
                                reconnects++;
                        }
                        c->start = now();
                        if (write(c->fd, req, reqlen) != (ssize_t)reqlen)
                                return 1;
                }
        }
        if (!nsamples) {
                fprintf(stderr, "httpload: no responses\n");
                return 1;
        }
        qsort(lat, nsamples, sizeof(float), cmp);
        printf("requests %zu rps %.0f p50_us %.0f p90_us %.0f p99_us %.0f unexpected %zu reconnects %zu\n",
               nsamples, (double)nsamples / secs, lat[nsamples / 2], lat[nsamples * 9 / 10],
               lat[nsamples * 99 / 100], errors, reconnects);
        return 0;
}
