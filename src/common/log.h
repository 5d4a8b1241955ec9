/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/*
 * The one mutable global besides arg_*: the program's logger.  Only main.c files log above debug.
 * Messages go to stderr and, when a log file is set (runc's --log), appended to it as text
 * (logrus style: time="..." level=error msg="...") or JSON ({"level":"error","msg":"...","time":"..."}),
 * which containerd and podman read back.
 */
typedef enum LogLevel { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } LogLevel;

int log_open(const char *path, bool json, bool debug);
void log_set_stderr(bool on);
void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
bool log_debug_enabled(void);
