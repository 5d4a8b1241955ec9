/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* Global options (runc's): set by main() before a command runs. */
extern const char *arg_root;
extern bool arg_debug;

/* Each command parses its own flags from argv[0] = the command name; returns the exit status. */
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_spec(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_seccomp(int argc, char **argv);

struct CliFlag;
/*
 * Parses `extra` flags and the container id of a command that takes one; returns 0 with *ret_id and
 * *ret_index (the first argument after the id) set, -1 after printing help, or the exit status of a
 * usage error (already reported).
 */
int cmd_simple(int argc, char **argv, const char *synopsis, const struct CliFlag *extra, const char **ret_id,
               int *ret_index);

/* Logs err's message (as runc does, to stderr and the --log file), frees it, returns 1. */
int fail(struct Error *err);
