/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int log_fd = -1;
static bool log_json;
static bool log_dbg;
static bool log_to_stderr = true;
static struct timespec log_start;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int log_open(const char *path, bool json, bool debug)
{
        log_json = json;
        log_dbg = debug;
        clock_gettime(CLOCK_MONOTONIC, &log_start);
        if (path && *path) {
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
                if (fd < 0)
                        return -errno;
                log_fd = fd;
        }
        return 0;
}

void log_set_stderr(bool on)
{
        log_to_stderr = on;
}

bool log_debug_enabled(void)
{
        return log_dbg;
}

void log_msg(LogLevel level, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL, *now = NULL, *line = NULL;
        va_list ap;

        if (level == LOG_LEVEL_DEBUG && !log_dbg)
                return;
        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);

        if (log_to_stderr && (level <= LOG_LEVEL_WARN || log_dbg)) {
                if (level == LOG_LEVEL_DEBUG) {
                        /* Debug lines carry the time since the start: where a container's set-up time goes. */
                        struct timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        double ms = (double)(ts.tv_sec - log_start.tv_sec) * 1e3 +
                                    (double)(ts.tv_nsec - log_start.tv_nsec) / 1e6;
                        line = xasprintf("stockade-runtime[%d] +%.3fms: %s\n", (int)getpid(), ms, msg);
                } else
                        line = xasprintf("stockade-runtime: %s%s\n", level == LOG_LEVEL_WARN ? "warning: " : "", msg);
                (void)write_all(STDERR_FILENO, line, strlen(line));
                free(TAKE_PTR(line));
        }
        if (log_fd < 0)
                return;
        now = now_rfc3339nano();
        if (log_json) {
                json_t *j = json_pack("{s:s,s:s,s:s}", "level", level_names[level], "msg", msg, "time", now);
                char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (s)
                        line = xasprintf("%s\n", s);
                free(s);
                json_decref(j);
        } else {
                json_t *q = json_string(msg); /* quote like logrus does */
                char *s = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
                line = xasprintf("time=\"%s\" level=%s msg=%s\n", now, level_names[level], s ? s : "\"\"");
                free(s);
                json_decref(q);
        }
        if (line)
                (void)write_all(log_fd, line, strlen(line));
}
