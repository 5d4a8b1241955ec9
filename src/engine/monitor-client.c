/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "monitor-client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach-proto.h"
#include "json-util.h"
#include "util.h"

int monitor_connect(Engine *e, const char *id, Error **err)
{
        _cleanup_free_ char *dir = engine_container_run_dir(e, id);
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        /* Through the directory's fd: the full path can be longer than sun_path's 108 bytes. */
        if (dfd < 0)
                return error_set(err, errno, "connecting to the monitor of %.12s (%s)", id, dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/attach.sock", dfd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(err, errno, "socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = error_set(err, errno, "connecting to the monitor of %.12s (%s/attach.sock)", id, dir);
                close(fd);
                return r;
        }
        return fd;
}

int monitor_send_frame(int fd, uint8_t type, const void *buf, size_t len)
{
        uint8_t h[FRAME_HEADER];
        int r;

        frame_header(h, type, (uint32_t)len);
        r = write_all(fd, h, sizeof(h));
        if (r == 0 && len)
                r = write_all(fd, buf, len);
        return r;
}

int monitor_send_control(int fd, json_t *j)
{
        _cleanup_free_ char *s = jx_dump(j, false);
        return monitor_send_frame(fd, FRAME_CONTROL, s, strlen(s));
}

static int read_full(int fd, void *buf, size_t len)
{
        size_t got = 0;
        while (got < len) {
                ssize_t n = read(fd, (char *)buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                got += (size_t)n;
        }
        return 0;
}

int monitor_read_frame(int fd, char **body, size_t *len)
{
        uint8_t h[FRAME_HEADER];
        uint32_t n;

        *body = NULL;
        if (read_full(fd, h, sizeof(h)) < 0)
                return -1;
        n = frame_len(h);
        if (n > FRAME_MAX)
                return -1;
        *body = xmalloc(n + 1);
        if (n && read_full(fd, *body, n) < 0) {
                free(*body);
                *body = NULL;
                return -1;
        }
        (*body)[n] = '\0';
        *len = n;
        return h[0];
}

/* Reads status frames until `want` says stop; returns its value or -1 at EOF. */
static int wait_status(int fd, bool ack)
{
        for (;;) {
                char *body = NULL;
                size_t len = 0;
                int type = monitor_read_frame(fd, &body, &len);
                if (type < 0)
                        return -1;
                if (type == FRAME_STATUS) {
                        json_t *j = json_loads(body, 0, NULL);
                        const char *st = json_string_value(json_object_get(j, "status"));
                        int code = (int)json_integer_value(json_object_get(j, "exitCode"));
                        bool done = ack ? (st && STREQ(st, "ack"))
                                        : (st && (STREQ(st, "exited") || STREQ(st, "error")) &&
                                           !json_is_true(json_object_get(j, "restarting")));
                        json_decref(j);
                        free(body);
                        if (done)
                                return ack ? 0 : code;
                        continue;
                }
                free(body);
        }
}

int monitor_wait_exit(int fd)
{
        return wait_status(fd, false);
}

int monitor_wait_ack(int fd)
{
        return wait_status(fd, true);
}
