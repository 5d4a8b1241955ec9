/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b)   (strcmp((a), (b)) == 0)

/* Allocation aborts on OOM (crun, bubblewrap): every size taken from untrusted input is bounded first. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

size_t strv_length(char *const *v);
char **strv_copy(char *const *v);
/* Whether the NULL-terminated array v (may be NULL) holds s. */
bool strv_contains(char *const *v, const char *s);
/* Appends a copy of s to the NULL-terminated array *v. */
void strv_push(char ***v, const char *s);
/* Appends s itself (malloc'd), which the array then owns. */
void strv_consume(char ***v, char *s);

bool str_has_prefix(const char *s, const char *prefix);
/* docker's rule for container and volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, 2 to `max` bytes. */
bool docker_name_valid(const char *s, size_t max);

/* Parses a decimal unsigned integer; -EINVAL on junk, -ERANGE on overflow. */
int parse_uint64(const char *s, uint64_t *ret);
int parse_int64(const char *s, int64_t *ret);
/* A byte count as docker and runc take it: "1024", "64m", "1.5GiB", "512 kB" (binary units), or "-1". */
int parse_size(const char *s, int64_t *ret);
/* A Go duration ("5s", "100ms", "1m30s", "1.5h") in milliseconds. */
int parse_duration_ms(const char *s, int64_t *ret);
/* The value of a hex digit, or -1. */
int hex_value(char c);
/* Does the comma-separated HTTP header value v[0, len) hold `token` (case-insensitive, OWS trimmed)? */
bool http_list_has(const char *v, size_t len, const char *token);
/* Go's utf8.DecodeRune: the width (1-4) of the valid UTF-8 sequence at s, or 0 when it is not one
 * (overlong forms, surrogates and anything above U+10FFFF are not). */
size_t utf8_valid_width(const unsigned char *s, size_t n, uint32_t *ret);
/* s[0..n) with each byte that starts no valid sequence replaced by U+FFFD (as Go's JSON encoder
 * does), NUL-terminated; its length in *ret_len. */
char *utf8_sanitize(const char *s, size_t n, size_t *ret_len);
/* A non-negative duration as Go's time.Duration.String() writes it ("500ms", "1.5s", "1m30s", "1h0m0s"); 0 and less: "0s". */
char *format_go_duration_ms(int64_t ms);

/* Writes all of buf, retrying on EINTR and short writes; -errno. */
int write_all(int fd, const void *buf, size_t len);
/* Reads the whole of fd (at most max bytes, -EFBIG beyond) into a NUL-terminated buffer. */
int read_all_fd(int fd, size_t max, char **ret, size_t *ret_len);

/*
 * Runs a helper program and waits for it: argv[0] a path (or a name looked up in PATH), envp NULL for
 * ours, stdin from in_fd (-1: /dev/null), stderr (and stdout when with_stdout, else /dev/null) into
 * msg: at most cap - 1 bytes kept, the rest read and dropped, trailing newlines and blanks trimmed.
 * Every other fd is closed in the child.  A program that cannot be executed exits 127 with "exec
 * ARGV0: reason" as its message.  *ret_wstatus: waitpid's status.  -errno when it cannot be started.
 */
int spawn_wait_msg(char *const argv[], char *const envp[], int in_fd, bool with_stdout, char *msg, size_t cap,
                   int *ret_wstatus);
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/*
 * Writes a whole file atomically: temporary file, rename, so no reader ever sees a torn file.  With
 * `durable` the file and then its directory are fsync'ed too, so the new content survives a crash.
 */
int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode, bool durable);
/* Writes s to an existing file (no O_CREAT), as for sysfs/procfs/cgroupfs. */
int write_file_at(int dirfd, const char *path, const char *s);

/* Creates directory path and its parents with mode; existing ones are fine. */
int mkdir_p(const char *path, mode_t mode);
/* Removes a directory tree below dirfd/name, without crossing mount points or following symlinks. */
int rm_rf_at(int dirfd, const char *name);

/* Current time as RFC 3339 with nanoseconds, UTC, as Go's time.RFC3339Nano writes it. */
char *now_rfc3339nano(void);

/* The start time of a process (field 22 of /proc/PID/stat), used to detect pid reuse. 0 if gone. */
uint64_t proc_start_time(pid_t pid);
