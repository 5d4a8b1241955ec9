/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sync.h"
#include "util.h"

static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (fd >= 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = sizeof(u.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n < len)
                return write_all(sock, (const char *)buf + n, len - (size_t)n);
        return 0;
}

int sync_send(int sock, SyncType type, int value, const void *payload, size_t len, int fd)
{
        SyncMsg m = { .type = type, .value = value, .len = (uint32_t)len, .has_fd = fd >= 0 };
        int r;

        if (len > SYNC_PAYLOAD_MAX)
                return -EMSGSIZE;
        r = send_with_fd(sock, &m, sizeof(m), fd);
        if (r < 0 || len == 0)
                return r;
        return write_all(sock, payload, len);
}

static int read_exact(int sock, void *buf, size_t len)
{
        char *p = buf;
        while (len > 0) {
                ssize_t n = read(sock, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int sync_recv(int sock, SyncMsg *ret, char **ret_payload, int *ret_fd)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = { .iov_base = ret, .iov_len = sizeof(*ret) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        int fd = -1;
        ssize_t n;

        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if ((size_t)n < sizeof(*ret)) {
                int r = read_exact(sock, (char *)ret + n, sizeof(*ret) - (size_t)n);
                if (r < 0) {
                        if (fd >= 0)
                                close(fd);
                        return r;
                }
        }
        if (ret->len > SYNC_PAYLOAD_MAX) {
                if (fd >= 0)
                        close(fd);
                return -EMSGSIZE;
        }
        if (ret->len > 0 || ret_payload) {
                char *p = xmalloc(ret->len + 1);
                int r = read_exact(sock, p, ret->len);
                if (r < 0) {
                        free(p);
                        if (fd >= 0)
                                close(fd);
                        return r;
                }
                p[ret->len] = '\0';
                if (ret_payload)
                        *ret_payload = p;
                else
                        free(p);
        }
        if (ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                close(fd);
        return 0;
}

void sync_send_error(int sock, const Error *err)
{
        const char *m = err && err->msg ? err->msg : "unknown error";
        (void)sync_send(sock, SYNC_ERROR, err ? err->errnum : EIO, m, strlen(m), -1);
}

int send_fd_named(int sock, int fd, const char *name)
{
        return send_with_fd(sock, name, strlen(name), fd);
}
