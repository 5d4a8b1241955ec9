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

/* Logs err's message (as runc does, to stderr and the --log file), frees it, returns 1. */
int fail(struct Error *err);
