/* getppid-loop.c - time N raw getppid(2) system calls (bench/bench-seccomp.sh).
 *
 * Usage: getppid-loop [N]   (default 5000000)
 * Prints one line: "ns_per_call=<float> n=<N> seccomp=<mode> filters=<count>",
 * the last two from /proc/self/status ("?" when /proc is not mounted).
 * Built with gcc -O2 -static so that it runs in a rootfs without a libc.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void status_field(const char *name, char *out, size_t len)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t n = strlen(name);

        snprintf(out, len, "?");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, name, n) && line[n] == ':') {
                        char *v = line + n + 1;
                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = '\0';
                        snprintf(out, len, "%s", v);
                        break;
                }
        fclose(f);
}

int main(int argc, char **argv)
{
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
        struct timespec t0, t1;
        char mode[32], filters[32];

        if (n <= 0) {
                fprintf(stderr, "getppid-loop: N must be a positive integer\n");
                return 2;
        }
        /* warm up: fault in the code and the vDSO-free syscall path */
        for (long i = 0; i < 10000; i++)
                syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++)
                syscall(SYS_getppid);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        status_field("Seccomp", mode, sizeof(mode));
        status_field("Seccomp_filters", filters, sizeof(filters));
        printf("ns_per_call=%.2f n=%ld seccomp=%s filters=%s\n", ns / (double)n, n, mode, filters);
        return 0;
}
