/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp-listener SOCKET OUTFILE ERRNO: a seccomp notification listener for the tests.  It listens
 * on the unix socket SOCKET (linux.seccomp.listenerPath), takes each notification fd a runtime sends
 * there, appends the message that came with it (the ContainerProcessState JSON) as one line to
 * OUTFILE, and answers every notified syscall with the error ERRNO, so a test sees that the syscall
 * reached the listener and was never run.  Prints "listening" once ready; runs until killed.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 16

static int recv_fd(int conn, char *buf, size_t size)
{
        union {
                char b[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { buf, size - 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b) };
        struct cmsghdr *cm;
        ssize_t n = recvmsg(conn, &m, 0);
        int fd = -1;

        if (n <= 0)
                return -1;
        buf[n] = '\0';
        cm = CMSG_FIRSTHDR(&m);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

int main(int argc, char **argv)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct pollfd pf[MAX_FDS + 1];
        int n = 1, answer, lsock;
        FILE *out;

        if (argc != 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: seccomp-listener SOCKET OUTFILE ERRNO\n");
                return 2;
        }
        answer = atoi(argv[3]);
        strcpy(sa.sun_path, argv[1]);
        unlink(argv[1]);
        lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 8) < 0) {
                perror("seccomp-listener: listen");
                return 1;
        }
        out = fopen(argv[2], "a");
        if (!out) {
                perror("seccomp-listener: output");
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        pf[0] = (struct pollfd){ lsock, POLLIN, 0 };
        for (;;) {
                if (poll(pf, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (pf[0].revents & POLLIN) {
                        char buf[65536];
                        int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC), fd;
                        if (conn < 0)
                                continue;
                        fd = recv_fd(conn, buf, sizeof(buf));
                        close(conn);
                        fprintf(out, "%s\n", buf);
                        fflush(out);
                        if (fd >= 0 && n <= MAX_FDS)
                                pf[n++] = (struct pollfd){ fd, POLLIN, 0 };
                }
                for (int i = 1; i < n; i++) {
                        struct seccomp_notif req;
                        struct seccomp_notif_resp resp;
                        if (pf[i].revents & (POLLHUP | POLLERR)) {
                                /* the filtered process is gone */
                                close(pf[i].fd);
                                pf[i--] = pf[--n];
                                continue;
                        }
                        if (!(pf[i].revents & POLLIN))
                                continue;
                        memset(&req, 0, sizeof(req));
                        if (ioctl(pf[i].fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
                                continue;
                        memset(&resp, 0, sizeof(resp));
                        resp.id = req.id;
                        resp.error = -answer;
                        (void)ioctl(pf[i].fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                }
        }
}
