/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The json-file driver: jsonlog.c's writer behind the LogDriverOps interface (see logdriver.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlog.h"
#include "logdriver.h"
#include "util.h"

typedef struct JsonFileDriver {
        LogDriver base;
        JsonLog *log;
} JsonFileDriver;

static int64_t opt_size(json_t *cfg, const char *key, int64_t dflt)
{
        const char *s = json_string_value(json_object_get(cfg, key));
        int64_t n;
        return s && parse_size(s, &n) == 0 ? n : dflt;
}

static int jsonfile_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        const char *mf = json_string_value(json_object_get(info->config, "max-file"));
        const char *c = json_string_value(json_object_get(info->config, "compress"));
        int64_t max_file = 1;
        JsonFileDriver *d;
        int r;

        if (!info->log_path || !*info->log_path)
                return error_setx(err, EINVAL, "json-file: the container has no log path");
        if (mf)
                (void)parse_int64(mf, &max_file);
        d = xcalloc(1, sizeof(*d));
        d->base.ops = &log_driver_json_file;
        r = jsonlog_open(info->log_path, opt_size(info->config, "max-size", -1), (int)max_file,
                         c && (STREQ(c, "true") || STREQ(c, "1") || STREQ(c, "t") || STREQ(c, "TRUE") || STREQ(c, "True") ||
                               STREQ(c, "T")),
                         &d->log, err);
        if (r < 0) {
                free(d);
                return r;
        }
        jsonlog_set_buffered(d->log, true);
        /* json-file has no default tag: the tag goes into attrs only when given (docker). */
        if (json_object_get(info->config, "tag") || json_object_size(info->attrs) > 0) {
                json_t *a = json_deep_copy(info->attrs ? info->attrs : json_object());
                if (json_object_get(info->config, "tag"))
                        json_object_set_new(a, "tag", json_string(info->tag));
                jsonlog_set_attrs(d->log, a);
                json_decref(a);
        }
        *ret = &d->base;
        return 0;
}

static int jsonfile_log(LogDriver *base, const LogMsg *m, Error **err)
{
        JsonFileDriver *d = (JsonFileDriver *)base;
        /* The "\n" of a complete line belongs in "log", as docker writes it. */
        return jsonlog_write(d->log, m->stream, m->line, m->len + (m->newline ? 1 : 0), &m->ts, err);
}

static int jsonfile_flush(LogDriver *base, Error **err)
{
        return jsonlog_flush(((JsonFileDriver *)base)->log, err);
}

static void jsonfile_close(LogDriver *base)
{
        JsonFileDriver *d = (JsonFileDriver *)base;
        jsonlog_close(d->log);
        free(d);
}

const LogDriverOps log_driver_json_file = {
        .name = "json-file",
        .open = jsonfile_open,
        .log = jsonfile_log,
        .flush = jsonfile_flush,
        .close = jsonfile_close,
};
