/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"

/*
 * runc's command line follows Go's flag package: "-name", "--name", "-name=value", "--name value",
 * booleans as "-name" or "-name=false"; parsing stops at the first argument that is not a flag (or
 * at "--"), so `exec ID ls -la` keeps "-la" for ls.
 */
typedef enum CliFlagKind { CLI_BOOL, CLI_STRING, CLI_STRINGS, CLI_INT } CliFlagKind;

typedef struct CliFlag {
        const char *name;
        char short_name;        /* 0 for none */
        CliFlagKind kind;
        void *value;            /* bool*, const char**, char***, int* */
        const char *help;
} CliFlag;

/* Parses flags from argv[*index]; on return *index is the first positional argument. */
int cli_parse(const char *cmd, const CliFlag *flags, int argc, char **argv, int *index, Error **err);
void cli_usage(const char *cmd, const char *synopsis, const CliFlag *flags);
