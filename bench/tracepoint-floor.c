/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tracepoint-floor.c - attach bench/tracepoint-floor.bpf.c (an empty sys_enter program) and run a
 * command while it is attached (bench/bench-seccomp-record.sh).
 *
 * Usage: tracepoint-floor OBJECT.bpf.o CMD [ARG...]   exit status: the command's, or 125
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct bpf_object *obj;
        struct bpf_program *prog;
        struct bpf_link *link;
        int status;
        pid_t pid;

        if (argc < 3) {
                fprintf(stderr, "usage: tracepoint-floor OBJECT.bpf.o CMD [ARG...]\n");
                return 125;
        }
        obj = bpf_object__open_file(argv[1], NULL);
        if (!obj || bpf_object__load(obj)) {
                fprintf(stderr, "tracepoint-floor: loading %s: %s\n", argv[1], strerror(errno));
                return 125;
        }
        prog = bpf_object__find_program_by_name(obj, "floor_sys_enter");
        link = prog ? bpf_program__attach(prog) : NULL;
        if (!link) {
                fprintf(stderr, "tracepoint-floor: attaching: %s\n", strerror(errno));
                return 125;
        }
        pid = fork();
        if (pid == 0) {
                execvp(argv[2], argv + 2);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return 125;
        bpf_link__destroy(link);
        bpf_object__close(obj);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
