/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "log.h"
#include "syscalls.h"
#include "util.h"

#define HOOK_STDERR_MAX 1024

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_one(const OciHook *h, const char *state_json, char *errbuf, Error **err)
{
        int in[2], errp[2];
        pid_t pid;
        int pidfd, status = 0;
        size_t errlen = 0;
        long long deadline = h->timeout > 0 ? now_ms() + (long long)h->timeout * 1000 : -1;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
                return error_set(err, errno, "pipe");
        pid = fork();
        if (pid < 0)
                return error_set(err, errno, "fork");
        if (pid == 0) {
                char *const empty[] = { NULL };
                char *const argv0[] = { (char *)h->path, NULL };
                dup2(in[0], STDIN_FILENO);
                dup2(errp[1], STDERR_FILENO);
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                execve(h->path, h->args ? h->args : argv0, h->env ? h->env : empty);
                dprintf(STDERR_FILENO, "exec %s: %s", h->path, strerror(errno));
                _exit(127);
        }
        close(in[0]);
        close(errp[1]);
        /* The hook may not read its stdin: a full pipe must not block us, so ignore EPIPE. */
        {
                struct sigaction sa = { .sa_handler = SIG_IGN }, old;
                sigaction(SIGPIPE, &sa, &old);
                (void)fcntl(in[1], F_SETFL, O_NONBLOCK);
                (void)write_all(in[1], state_json, strlen(state_json));
                sigaction(SIGPIPE, &old, NULL);
        }
        close(in[1]);
        pidfd = sys_pidfd_open(pid, 0);
        for (bool exited = false; !exited;) {
                struct pollfd pfd[2] = { { .fd = errp[0], .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                int timeout = deadline < 0 ? -1 : (int)(deadline - now_ms());
                if (deadline >= 0 && timeout <= 0) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        close(errp[0]);
                        if (pidfd >= 0)
                                close(pidfd);
                        return error_setx(err, ETIMEDOUT, "timed out after %d s", h->timeout);
                }
                int n = poll(pfd, pfd[0].fd >= 0 ? 2 : 2, timeout);
                if (n < 0 && errno != EINTR)
                        break;
                if (pfd[0].revents & (POLLIN | POLLHUP)) {
                        char buf[512];
                        ssize_t k = read(errp[0], buf, sizeof(buf));
                        if (k <= 0) {
                                close(errp[0]);
                                errp[0] = -1;
                        } else {
                                for (ssize_t i = 0; i < k; i++) {
                                        if (errlen == HOOK_STDERR_MAX) {
                                                memmove(errbuf, errbuf + 1, HOOK_STDERR_MAX - 1);
                                                errlen--;
                                        }
                                        errbuf[errlen++] = buf[i];
                                }
                        }
                }
                if (pidfd < 0 || (pfd[1].revents & POLLIN))
                        exited = true;
        }
        if (errp[0] >= 0)
                close(errp[0]);
        if (pidfd >= 0)
                close(pidfd);
        errbuf[errlen] = '\0';
        while (errlen > 0 && (errbuf[errlen - 1] == '\n' || errbuf[errlen - 1] == ' '))
                errbuf[--errlen] = '\0';
        if (waitpid(pid, &status, 0) < 0)
                return error_set(err, errno, "waitpid");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFSIGNALED(status))
                return error_setx(err, ECHILD, "killed by signal %d%s%s", WTERMSIG(status), errlen ? ": " : "",
                                  errbuf);
        return error_setx(err, ECHILD, "exited with status %d%s%s", WEXITSTATUS(status), errlen ? ": " : "",
                          errbuf);
}

int hooks_run(const OciSpec *spec, OciHookKind kind, const char *state_json, Error **err)
{
        /* After start and after delete a failing hook is only a warning, and the rest still run. */
        bool keep_going = kind == HOOK_POSTSTART || kind == HOOK_POSTSTOP;
        char errbuf[HOOK_STDERR_MAX + 1];
        int ret = 0;

        for (size_t i = 0; i < spec->n_hooks[kind]; i++) {
                const OciHook *h = &spec->hooks[kind][i];
                Error *e = NULL;
                if (run_one(h, state_json, errbuf, &e) == 0)
                        continue;
                error_wrap(&e, "hooks.%s[%zu] (%s)", hook_kind_names[kind], i, h->path);
                if (!keep_going) {
                        error_free(*err);
                        *err = e;
                        return -e->errnum;
                }
                log_warn("%s", e->msg);
                ret = -e->errnum;
                error_free(e);
        }
        if (ret < 0)
                error_setx(err, -ret, "hooks.%s: some hooks failed (warned above)", hook_kind_names[kind]);
        return ret;
}
