/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sync.h"
#include "terminal.h"
#include "util.h"

int terminal_setup(const OciProcess *p, int console_sock, bool bind_console, Error **err)
{
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        char name[64];
        int unlock = 0, r;

        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return error_set(err, errno, "process.terminal: opening /dev/ptmx in the container");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return error_set(err, errno, "process.terminal: unlocking the pty");
        /* TIOCGPTPEER opens the slave through the master: no path lookup a container could redirect. */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return error_set(err, errno, "process.terminal: opening the pty slave");
        if (ptsname_r(master, name, sizeof(name)) != 0)
                snprintf(name, sizeof(name), "/dev/ptmx");
        if (p->console_height || p->console_width) {
                struct winsize ws = { .ws_row = (unsigned short)p->console_height,
                                      .ws_col = (unsigned short)p->console_width };
                if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
                        return error_set(err, errno, "process.consoleSize: setting the window size");
        }
        if (bind_console) {
                int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
                char src[64];
                if (fd < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating /dev/console");
                if (fd >= 0)
                        close(fd);
                snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
                /* The target must be a plain file or our own node, never a symlink (CVE-2025-52565). */
                struct stat st;
                if (lstat("/dev/console", &st) < 0 || S_ISLNK(st.st_mode))
                        return error_setx(err, ELOOP, "/dev/console in the container is a symlink");
                if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
                        return error_set(err, errno, "binding the pty over /dev/console");
        }
        r = send_fd_named(console_sock, master, name);
        if (r < 0)
                return error_set(err, -r, "sending the pty master to the console socket");
        if (setsid() < 0 && errno != EPERM)
                return error_set(err, errno, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return error_set(err, errno, "making the pty the controlling terminal");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return error_set(err, errno, "dup2 of the pty");
        return 0;
}

int console_socket_connect(const char *path, int *ret_fd, Error **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return error_setx(err, ENAMETOOLONG, "--console-socket: path %s is too long", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(err, errno, "--console-socket: socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return error_set(err, e, "--console-socket: connecting to %s", path);
        }
        *ret_fd = fd;
        return 0;
}

int console_socket_recv(int sock, int *ret_fd, Error **err)
{
        char buf[256];
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
        int fd = -1;

        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) < 0)
                return error_set(err, errno, "receiving the pty master");
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if (fd < 0)
                return error_setx(err, EPROTO, "no pty master received");
        *ret_fd = fd;
        return 0;
}

static struct termios saved_termios;
static bool termios_saved;

static void restore_termios(void)
{
        if (termios_saved)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

void terminal_proxy(int master, int stop_fd)
{
        char buf[8192];
        bool in_open = true;

        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                struct termios raw = saved_termios;
                struct winsize ws;
                cfmakeraw(&raw);
                termios_saved = true;
                atexit(restore_termios);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        (void)ioctl(master, TIOCSWINSZ, &ws);
        }
        for (;;) {
                struct pollfd pfd[3] = { { .fd = master, .events = POLLIN },
                                         { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
                                         { .fd = stop_fd, .events = POLLIN } };
                if (poll(pfd, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents & POLLIN) {
                        ssize_t n = read(master, buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        (void)write_all(STDOUT_FILENO, buf, (size_t)n);
                } else if (pfd[0].revents & (POLLHUP | POLLERR))
                        break;
                if (pfd[1].revents & (POLLIN | POLLHUP)) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0)
                                in_open = false;
                        else
                                (void)write_all(master, buf, (size_t)n);
                }
                if (pfd[2].revents)
                        break;
        }
        restore_termios();
}
