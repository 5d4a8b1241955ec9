/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The local driver: locallog.c's writer behind the LogDriverOps interface (see logdriver.h).  Options
 * (checked by logopts.c): max-size (default 20m; -1 or 0 turns rotation off), max-file (default 5),
 * compress (default true, Go's strconv.ParseBool spellings).  Like dockerd 20.10's, it takes no tag and
 * writes no attributes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "locallog.h"
#include "logdriver.h"
#include "util.h"

typedef struct LocalDriver {
        LogDriver base;
        LocalLog *log;
} LocalDriver;

static const char *opt(const LogInfo *info, const char *key)
{
        return json_string_value(json_object_get(info->config, key));
}

static bool go_bool(const char *s, bool dflt)
{
        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

        if (!s)
                return dflt;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (STREQ(s, yes[i]))
                        return true;
                if (STREQ(s, no[i]))
                        return false;
        }
        return dflt;
}

static int local_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        int64_t max_size = LOCAL_LOG_DEFAULT_MAX_SIZE, max_file = LOCAL_LOG_DEFAULT_MAX_FILE;
        LocalDriver *d;
        int r;

        if (!info->log_path || !*info->log_path)
                return error_setx(err, EINVAL, "local: the container has no log path");
        if (opt(info, "max-size") && parse_size(opt(info, "max-size"), &max_size) < 0)
                return error_setx(err, EINVAL, "local: max-size: invalid size '%s'", opt(info, "max-size"));
        if (opt(info, "max-file") && (parse_int64(opt(info, "max-file"), &max_file) < 0 || max_file < 1 ||
                                      max_file > 1 << 20))
                return error_setx(err, EINVAL, "local: max-file: invalid value '%s'", opt(info, "max-file"));
        d = xcalloc(1, sizeof(*d));
        d->base.ops = &log_driver_local;
        r = local_log_open(info->log_path, max_size, (int)max_file, go_bool(opt(info, "compress"), true), &d->log,
                           err);
        if (r < 0) {
                free(d);
                return r;
        }
        local_log_set_buffered(d->log, true);
        *ret = &d->base;
        return 0;
}

static int local_log(LogDriver *base, const LogMsg *m, Error **err)
{
        LocalDriver *d = (LocalDriver *)base;
        LocalLogEntry e = {
                .source = m->stream,
                .source_len = strlen(m->stream),
                .line = m->line,
                .line_len = m->len, /* without the "\n": docker's copier strips it */
                .partial = m->partial_id != NULL,
                .last = m->partial_last,
                .id = m->partial_id ? m->partial_id : "",
                .id_len = m->partial_id ? strlen(m->partial_id) : 0,
                .ordinal = m->partial_id ? (int32_t)m->partial_ordinal : 0,
        };
        int64_t ns;

        /* Go's UnixNano(): representable from 1678 to 2262 only. */
        if (__builtin_mul_overflow((int64_t)m->ts.tv_sec, (int64_t)1000000000, &ns) ||
            __builtin_add_overflow(ns, (int64_t)m->ts.tv_nsec, &ns))
                return error_setx(err, ERANGE, "log message time %lld is outside what nanoseconds since 1970 hold",
                                  (long long)m->ts.tv_sec);
        e.time_nano = ns;
        return local_log_write(d->log, &e, err);
}

static int local_flush(LogDriver *base, Error **err)
{
        return local_log_flush(((LocalDriver *)base)->log, err);
}

static void local_close(LogDriver *base)
{
        LocalDriver *d = (LocalDriver *)base;

        local_log_close(d->log);
        free(d);
}

const LogDriverOps log_driver_local = {
        .name = "local",
        .open = local_open,
        .log = local_log,
        .flush = local_flush,
        .close = local_close,
};
