/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The local log format's decoder and reader, which read files a crash (or anyone with access to the
 * directory) may have damaged.  The input is tried as one record body: what decodes must encode and
 * decode again to the same fields.  Then it is a log file: read whole, with --tail, since, details;
 * every message must be NUL-terminated and bounded.  Then the writer opens it (cutting a torn end),
 * appends one record, and --tail 1 must give exactly that record back.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locallog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const uint8_t *data, size_t size)
{
        LocalLogEntry e, e2;
        LocalLogAttr *attrs = NULL;
        size_t n_attrs = 0;
        int64_t n;
        uint8_t *rec;

        if (local_log_decode(data, size, &e, &attrs, &n_attrs) < 0) {
                free(attrs);
                return;
        }
        for (size_t i = 0; i < n_attrs; i++)
                if (attrs[i].key_len > size || attrs[i].value_len > size)
                        abort();
        free(attrs);
        if (e.source_len > size || e.line_len > size || e.id_len > size)
                abort();
        n = local_log_record_size(&e);
        if (n < 0)
                return; /* the record of a body this large would be over the bound */
        rec = xmalloc((size_t)n);
        local_log_encode(&e, rec);
        if (local_log_decode(rec + 4, (size_t)n - LOCAL_LOG_FRAME, &e2, NULL, NULL) < 0)
                abort();
        /* Metadata is written exactly when partial is set (docker), so it survives only then. */
        if (e2.source_len != e.source_len || memcmp(e2.source, e.source, e.source_len) != 0 ||
            e2.time_nano != e.time_nano || e2.line_len != e.line_len || memcmp(e2.line, e.line, e.line_len) != 0 ||
            e2.partial != e.partial || e2.has_meta != e.partial ||
            (e.partial && (e2.last != e.last || e2.ordinal != e.ordinal || e2.id_len != e.id_len ||
                           memcmp(e2.id, e.id, e.id_len) != 0)))
                abort();
        free(rec);
}

typedef struct Seen {
        size_t n;
        char *last;
        size_t last_len;
} Seen;

static int seen_fn(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        Seen *s = ud;

        /* The line, "\n", and for --details the attributes, each escaped to at most 3 bytes a byte. */
        if (msg[len] != '\0' || len > 4 * (size_t)LOCAL_LOG_MAX_RECORD || strlen(stream) > LOCAL_LOG_MAX_RECORD ||
            ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
                abort();
        s->n++;
        free(s->last);
        s->last = xmalloc(len + 1);
        memcpy(s->last, msg, len + 1);
        s->last_len = len;
        return 0;
}

static char *work_dir(void)
{
        static char *dir;

        if (!dir) {
                dir = xstrdup("/tmp/stockade-fuzz-locallog-XXXXXX");
                if (!mkdtemp(dir))
                        abort();
        }
        return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *path = NULL;
        JsonLogReadOpts all = { .tail = -1 }, tail = { .tail = 3 }, since = { .tail = -1, .has_since = true },
                        last = { .tail = 1 }, details = { .tail = -1, .details = true };
        Seen s = { 0 };
        LocalLog *l = NULL;
        int fd;

        if (size > 4 << 20)
                return 0;
        check_body(data, size);
        if (size >= LOCAL_LOG_FRAME)
                check_body(data + 4, size - LOCAL_LOG_FRAME);

        path = xasprintf("%s/container.log", work_dir());
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0 || write_all(fd, data, size) < 0)
                abort();
        close(fd);
        if (local_log_read(path, 1, &all, seen_fn, &s, NULL) < 0)
                abort();
        size_t n_all = s.n;
        s.n = 0;
        if (local_log_read(path, 1, &tail, seen_fn, &s, NULL) < 0 || local_log_read(path, 1, &details, seen_fn, &s, NULL) < 0)
                abort();
        since.since.tv_sec = 1795870870;
        if (local_log_read(path, 1, &since, seen_fn, &s, NULL) < 0)
                abort();
        (void)n_all;

        /* The writer cuts a torn end off; its own record is then the last one, found backwards. */
        if (local_log_open(path, 0, 1, false, &l, NULL) < 0)
                abort();
        LocalLogEntry e = { .source = "stdout", .source_len = 6, .time_nano = 1795870870000000000LL,
                            .line = "fuzz-end", .line_len = 8 };
        if (local_log_write(l, &e, NULL) < 0)
                abort();
        local_log_close(l);
        s.n = 0;
        if (local_log_read(path, 1, &last, seen_fn, &s, NULL) < 0 || s.n != 1 || s.last_len != 9 ||
            memcmp(s.last, "fuzz-end\n", 9) != 0)
                abort();
        free(s.last);
        unlink(path);
        return 0;
}
