/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * logpipe-micro: the monitor's log path without a container, for measuring its CPU cost quickly.
 * Reads stdin as the monitor reads a container's stdout (poll, then read() of up to 64 KiB) and
 * hands each read to a json-file log pipe writing FILE (no rotation), then prints the wall time and
 * the CPU time of the reading thread and of the rest of the process (the log thread).
 *
 *   yes LINE | head -c 268435456 | build/bench/logpipe-micro /tmp/x.log        (4 KiB writes)
 *   build/bench/logpipe-micro /tmp/x.log < /tmp/block-file                    (64 KiB reads)
 *
 * See bench/README.md, bench-logging.sh ("Where stockade's time goes").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "logpipe.h"

static double tv_s(struct timeval t)
{
        return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static double now_s(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        static char buf[65536];
        struct rusage self, thread;
        unsigned long long total = 0, reads = 0;
        LogPipe *p = NULL;
        Error *e = NULL;
        uint64_t dropped = 0;
        LogPipeStats st;
        json_t *log;
        double t0, t1;

        if (argc != 2) {
                fprintf(stderr, "usage: %s LOGFILE < OUTPUT\n", argv[0]);
                return 2;
        }
        log = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "type", "json-file", "config", "max-size", "-1", "max-file",
                        "1", "path", argv[1], "id", "0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab0123");
        if (logpipe_open(log, &p, &e) < 0) {
                fprintf(stderr, "logpipe-micro: %s\n", e && e->msg ? e->msg : "open failed");
                return 1;
        }
        if (getenv("MICRO_PIPE_SZ"))
                (void)fcntl(0, F_SETPIPE_SZ, atoi(getenv("MICRO_PIPE_SZ")));
        t0 = now_s();
        for (;;) {
                struct pollfd pf[2] = { { .fd = 0, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
                struct timespec ts;
                ssize_t n;
                bool held = logpipe_full(p);

                pf[0].fd = held ? -1 : 0;
                pf[1].fd = held ? logpipe_fd(p) : -1;
                if (poll(pf, 2, -1) < 0 && errno != EINTR)
                        return 1;
                if (pf[1].revents)
                        logpipe_ack(p);
                if (!pf[0].revents)
                        continue;
                n = read(0, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                clock_gettime(CLOCK_REALTIME, &ts);
                logpipe_write(p, LOGPIPE_STDOUT, buf, (size_t)n, &ts);
                total += (unsigned long long)n;
                reads++;
        }
        {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                logpipe_eof(p, LOGPIPE_STDOUT, &ts);
        }
        getrusage(RUSAGE_THREAD, &thread);
        logpipe_stats(p, &st);
        p = logpipe_close(p, -1, &dropped);
        t1 = now_s();
        getrusage(RUSAGE_SELF, &self);
        printf("bytes %llu reads %llu (avg %.0f) wall %.3f s  %.0f MB/s  reader cpu %.3f s (usr %.3f sys %.3f)  "
               "log thread cpu %.3f s  dropped %llu  batches %llu (%llu allocated) wake-ups %llu\n",
               total, reads, reads ? (double)total / (double)reads : 0.0, t1 - t0, (double)total / 1e6 / (t1 - t0),
               tv_s(thread.ru_utime) + tv_s(thread.ru_stime), tv_s(thread.ru_utime), tv_s(thread.ru_stime),
               tv_s(self.ru_utime) + tv_s(self.ru_stime) - tv_s(thread.ru_utime) - tv_s(thread.ru_stime),
               (unsigned long long)dropped, (unsigned long long)st.batches_delivered,
               (unsigned long long)st.batches_allocated, (unsigned long long)st.wakeups);
        json_decref(log);
        return 0;
}
