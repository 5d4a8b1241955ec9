/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CLI's side of the monitor protocol (attach-proto.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "attach-proto.h"
#include "cli.h"
#include "json-util.h"
#include "monitor-client.h"
#include "util.h"

static void send_winsize(int fd)
{
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
                json_t *j = json_pack("{s:{s:i, s:i}}", "resize", "h", ws.ws_row, "w", ws.ws_col);
                (void)monitor_send_control(fd, j);
                json_decref(j);
        }
}

int monitor_stream(int fd, bool in, bool tty, bool until_removed, bool *ret_oom, char **ret_error)
{
        struct termios saved, raw;
        bool restore = false, stdin_open = in;
        int code = -1;
        sigset_t mask, old;
        int sfd;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        sigprocmask(SIG_BLOCK, &mask, &old);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);

        if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                raw.c_oflag = saved.c_oflag;    /* keep output processing as the container's pty does it */
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                        restore = true;
                send_winsize(fd);
        }
        for (;;) {
                struct pollfd p[3] = { { .fd = fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN },
                                       { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN } };
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH)
                                        send_winsize(fd);
                                else if (!tty) {
                                        /* --sig-proxy: the signal goes to the container, as docker's CLI does. */
                                        const char *name = sigabbrev_np((int)si.ssi_signo);
                                        _cleanup_free_ char *s = xasprintf("SIG%s", name ? name : "TERM");
                                        json_t *j = json_pack("{s:s}", "kill", s);
                                        (void)monitor_send_control(fd, j);
                                        json_decref(j);
                                }
                        }
                }
                if (p[2].revents) {
                        char buf[16384];
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n > 0)
                                (void)monitor_send_frame(fd, FRAME_STDIN, buf, (size_t)n);
                        else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                                (void)monitor_send_frame(fd, FRAME_STDIN, NULL, 0);
                                stdin_open = false;
                        }
                }
                if (p[0].revents) {
                        char *body = NULL;
                        size_t len = 0;
                        int type = monitor_read_frame(fd, &body, &len);
                        if (type < 0)
                                break;
                        if (type == FRAME_STDOUT)
                                (void)write_all(STDOUT_FILENO, body, len);
                        else if (type == FRAME_STDERR)
                                (void)write_all(STDERR_FILENO, body, len);
                        else if (type == FRAME_STATUS) {
                                json_t *j = json_loads(body, 0, NULL);
                                const char *st = json_string_value(json_object_get(j, "status"));
                                if (st && STREQ(st, "exited")) {
                                        code = (int)json_integer_value(json_object_get(j, "exitCode"));
                                        if (ret_oom)
                                                *ret_oom = json_is_true(json_object_get(j, "oomKilled"));
                                        if (!json_is_true(json_object_get(j, "restarting")) && !until_removed) {
                                                json_decref(j);
                                                free(body);
                                                break;
                                        }
                                } else if (st && STREQ(st, "error")) {
                                        code = (int)json_integer_value(json_object_get(j, "exitCode"));
                                        if (ret_error)
                                                *ret_error = xstrdup(json_string_value(json_object_get(j, "message")));
                                        if (!until_removed) {
                                                json_decref(j);
                                                free(body);
                                                break;
                                        }
                                } else if (st && STREQ(st, "removed")) {
                                        json_decref(j);
                                        free(body);
                                        break;
                                }
                                json_decref(j);
                        }
                        free(body);
                }
        }
        if (restore)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (sfd >= 0)
                close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return code;
}

