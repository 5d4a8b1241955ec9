/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sync.h"
#include "util.h"

/* One sendmsg for header and payload: two processes (stage 1 and the init) share the socket. */
static int send_iov(int sock, struct iovec *iov, int n, int fd)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        size_t total = 0;
        ssize_t k;

        for (int i = 0; i < n; i++)
                total += iov[i].iov_len;
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
                k = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        /* A large payload may go out in pieces: finish it. */
        for (int i = 0; i < n && (size_t)k < total; i++) {
                if ((size_t)k >= iov[i].iov_len) {
                        k -= (ssize_t)iov[i].iov_len;
                        total -= iov[i].iov_len;
                        continue;
                }
                int r = write_all(sock, (const char *)iov[i].iov_base + k, iov[i].iov_len - (size_t)k);
                if (r < 0)
                        return r;
                total -= iov[i].iov_len;
                k = 0;
        }
        return 0;
}

static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        return send_iov(sock, &iov, 1, fd);
}

int sync_send(int sock, SyncType type, int value, const void *payload, size_t len, int fd)
{
        SyncMsg m = { .type = type, .value = value, .len = (uint32_t)len, .has_fd = fd >= 0 };
        struct iovec iov[2] = { { .iov_base = &m, .iov_len = sizeof(m) },
                                { .iov_base = (void *)payload, .iov_len = len } };

        if (len > SYNC_PAYLOAD_MAX)
                return -EMSGSIZE;
        return send_iov(sock, iov, len ? 2 : 1, fd);
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
