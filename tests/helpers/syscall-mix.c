/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A static test program for `stockade seccomp record` (tests/integration/test-seccomp-record.sh):
 *   syscall-mix threads   four threads, each making one syscall nothing else in the test makes
 *                         (getpriority, sched_getscheduler, getitimer, times): a recording must
 *                         see every thread's, not only the main one's
 *   syscall-mix compat    a 32-bit syscall through int $0x80 (i386's sgetmask, 68, which x86_64
 *                         does not have): recorded under its x86 name
 * Exits 0 when every call returned (any result but being killed).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <unistd.h>

/* every thread meets here after its call, so the futex waits happen in every run, not only when a
 * join happens to find its thread still running: a recording must not depend on the timing */
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
        long which = (long)arg;
        struct itimerval it;
        struct tms t;

        switch (which) {
        case 0:
                (void)syscall(SYS_getpriority, PRIO_PROCESS, 0);
                break;
        case 1:
                (void)syscall(SYS_sched_getscheduler, 0);
                break;
        case 2:
                (void)syscall(SYS_getitimer, ITIMER_REAL, &it);
                break;
        default:
                (void)syscall(SYS_times, &t);
                break;
        }
        pthread_barrier_wait(&barrier);
        return NULL;
}

int main(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "threads") == 0) {
                pthread_t th[4];
                if (pthread_barrier_init(&barrier, NULL, 5) != 0)
                        return 1;
                for (long i = 0; i < 4; i++)
                        if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
                                return 1;
                pthread_barrier_wait(&barrier);
                for (int i = 0; i < 4; i++)
                        pthread_join(th[i], NULL);
                puts("threads done");
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "compat") == 0) {
#if defined(__x86_64__)
                long ret;
                /* int $0x80 from 64-bit code zeroes r8-r11 */
                __asm__ volatile("int $0x80" : "=a"(ret) : "a"(68L) : "memory", "r8", "r9", "r10", "r11");
                printf("compat sgetmask: %ld\n", ret);
                return 0;
#else
                return 77;
#endif
        }
        fprintf(stderr, "usage: syscall-mix threads|compat\n");
        return 2;
}
