/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"

/*
 * Docker's command line follows spf13/pflag: "--name value", "--name=value", "-n value", "-nvalue",
 * "-n=value", grouped booleans "-dit", "--flag=false"; with interspersed=false parsing stops at the
 * first positional argument (so `run IMAGE ls -la` keeps "-la" for ls) and "--" ends the flags.
 * Each value is handed to the flag's setter with the flag's display name ("-m, --memory") so
 * errors read as Docker's: invalid argument "12q" for "-m, --memory" flag: invalid size: '12q'.
 */
typedef enum PflagKind { PFLAG_BOOL, PFLAG_STRING, PFLAG_STRINGS, PFLAG_CUSTOM } PflagKind;

typedef struct Pflag Pflag;
/* A setter for PFLAG_CUSTOM: returns a negative errno with *err set to the reason (without the flag). */
typedef int (*pflag_set_fn)(const Pflag *f, const char *value, void *ud, Error **err);

struct Pflag {
        const char *name;       /* long name without "--" */
        char short_name;        /* 0: none */
        PflagKind kind;
        void *value;            /* bool *, const char **, char ***, or passed to set */
        pflag_set_fn set;       /* PFLAG_CUSTOM */
        const char *help;
        bool seen;              /* set by the parser */
};

/* Parses flags from argv[*index]; *index ends at the first positional argument (interspersed=false). */
int pflag_parse(Pflag *flags, int argc, char **argv, int *index, bool interspersed, void *ud, Error **err);
/* Prints "Options:" lines for a usage message. */
void pflag_usage(const Pflag *flags);
/* Was the flag with this long name given? */
bool pflag_seen(const Pflag *flags, const char *name);
