/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "error.h"
#include "image-store.h"
#include "util.h"

/*
 * The `stockade` command line: one function per command (cmd-*.c), each returning the process's
 * exit status.  Docker's exit codes: 125 when stockade itself fails (bad flags, no such image...),
 * 126 when the command cannot be executed, 127 when it is not found, else the container's own.
 */
#define EXIT_ENGINE 125

typedef int (*cmd_fn)(Engine *e, int argc, char **argv);

typedef struct CliCommand {
        const char *name;
        cmd_fn fn; /* NULL: the command is the image helper's (IMAGE_HELPER) */
        const char *help;
} CliCommand;

/* Links libarchive, which costs every call that loads it milliseconds: import, load and save only. */
#define IMAGE_HELPER "stockade-image"

/*
 * Parses the global flags (--config-file, --data-root, --exec-root, --version, --help), opens the
 * engine and runs the command named next from `cmds`, handing those without a function to the image
 * helper with the whole command line.  Returns the exit status.
 */
int cli_main(int argc, char **argv, const CliCommand *cmds, size_t n);

int cmd_run(Engine *e, int argc, char **argv);
int cmd_create(Engine *e, int argc, char **argv);
int cmd_start(Engine *e, int argc, char **argv);
int cmd_stop(Engine *e, int argc, char **argv);
int cmd_kill(Engine *e, int argc, char **argv);
int cmd_restart(Engine *e, int argc, char **argv);
int cmd_rm(Engine *e, int argc, char **argv);
int cmd_ps(Engine *e, int argc, char **argv);
int cmd_wait(Engine *e, int argc, char **argv);
int cmd_logs(Engine *e, int argc, char **argv);
int cmd_exec(Engine *e, int argc, char **argv);
int cmd_inspect(Engine *e, int argc, char **argv);
int cmd_top(Engine *e, int argc, char **argv);
int cmd_stats(Engine *e, int argc, char **argv);
int cmd_rename(Engine *e, int argc, char **argv);
int cmd_update(Engine *e, int argc, char **argv);
int cmd_attach(Engine *e, int argc, char **argv);
int cmd_pause(Engine *e, int argc, char **argv);
int cmd_unpause(Engine *e, int argc, char **argv);

int cmd_import(Engine *e, int argc, char **argv);
int cmd_load(Engine *e, int argc, char **argv);
int cmd_save(Engine *e, int argc, char **argv);
int cmd_images(Engine *e, int argc, char **argv);
int cmd_rmi(Engine *e, int argc, char **argv);
int cmd_tag(Engine *e, int argc, char **argv);

int cmd_volume(Engine *e, int argc, char **argv);
int cmd_events(Engine *e, int argc, char **argv);
int cmd_audit(Engine *e, int argc, char **argv);
int cmd_apparmor(Engine *e, int argc, char **argv);
int cmd_seccomp(Engine *e, int argc, char **argv);
int cmd_serve(Engine *e, int argc, char **argv);
int cmd_compose(Engine *e, int argc, char **argv);

/*
 * run --seccomp-record FILE (cmd-seccomp.c): recording starts once the container is created and
 * ends, writing FILE when `write`, after it exited.  `host` is its HostConfig (no-new-privileges
 * decides which syscalls of the runtime the profile must allow).
 */
typedef struct SeccompRecordSession SeccompRecordSession;
int seccomp_record_begin(Engine *e, const char *id, const char *output, json_t *host, SeccompRecordSession **ret,
                         Error **err);
int seccomp_record_end(SeccompRecordSession *s, bool write, Error **err);

/* Prints "stockade: <msg>" (and the usage hint for flag errors) and returns EXIT_ENGINE. */
int cli_fail(const char *cmd, Error *err);
int cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * One audit record (audit.h) for what this command did to one actor: action ("run", "stop", "tag"...),
 * actor type ("container", "image" or NULL), its id and name, and the error when it failed (NULL: ok).
 * The command line is the one cli_main ran.  A record that cannot be written is a warning on stderr.
 */
void cli_audit(Engine *e, const char *action, const char *type, const char *id, const char *name, const Error *outcome);

/*
 * An image event (events.h), with the image's labels (`config`: its parsed config as image_lookup gives
 * it, or NULL).  A failure to log it is a warning on stderr.
 */
void cli_image_event(Engine *e, const char *image_id, const char *ref_name, json_t *config, const char *action);

/* Opens the image store of the engine's data root; 0, or the exit status after reporting. */
int cli_open_store(Engine *e, ImageStore **s);

/* inspect's output: each object through --format (NULL: the array as docker's indented JSON); 1 on a template error. */
int cli_print_inspect(json_t *list, const char *format);
/* Executes a --format template over one value and prints it with a newline; false on error (reported). */
bool cli_print_format(const char *tmpl, json_t *data);

/*
 * Prints rows through a --format template; "table ..." adds a header (the template run over `header`,
 * which maps field names to column titles) and aligns the columns as docker's tabwriter does.
 */
int cli_print_table(const char *format, json_t *rows, json_t *header);

/* "2 minutes ago", "About an hour ago": Docker's HumanDuration of now - t (an RFC 3339 time). */
char *cli_human_since(const char *rfc3339, bool ago);
/* A container's Status column ("Up 3 seconds", "Exited (0) 2 minutes ago"), as docker ps shows it. */
char *cli_status_text(json_t *rec);
/* The record as `inspect` shows it: State refreshed, stockade's own fields left out. */
json_t *cli_container_for_inspect(json_t *rec);
/* An image as `inspect` shows it; NULL with err when there is no such image. */
json_t *cli_image_for_inspect(ImageStore *s, const char *ref, Error **err);

/* A running container's resource usage from its cgroups (v1, v2 or hybrid), as `stats` reads it. */
typedef struct CliUsage {
        bool running;                   /* its cgroups were found */
        uint64_t cpu_ns;                /* CPU time used */
        uint64_t mem_usage, mem_limit;  /* bytes (inactive file pages not counted); limit: the host's when none */
        uint64_t pids;
        uint64_t blk_read, blk_write;   /* bytes */
} CliUsage;
void cli_container_usage(json_t *rec, CliUsage *u);
/* The host's CPU time since boot (/proc/stat), in ns. */
uint64_t cli_system_cpu_ns(void);

/* "1.98MB": Docker's HumanSize (decimal units, 3 significant digits). */
char *cli_human_size(double bytes);

/*
 * Streams a monitor connection (client.c): STDOUT/STDERR frames to fds 1 and 2, our stdin as STDIN
 * frames when `in`, raw terminal and window size with `tty`, signals forwarded without a tty; returns
 * the exit code when a STATUS frame says "exited" (after "removed" when `until_removed`), or -1 when
 * the connection ends without one.
 */
int monitor_stream(int fd, bool in, bool tty, bool until_removed, bool *ret_oom, char **ret_error);
