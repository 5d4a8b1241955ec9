/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "error.h"

/*
 * `docker run` / `docker create` flags into Docker's container model: a Config and a HostConfig with
 * the Engine API's field names and units (Memory in bytes, NanoCpus, PidsLimit, Ulimits
 * [{Name, Hard, Soft}], SecurityOpt verbatim, Tmpfs {path: options}, ...).  The CLI, the API (later)
 * and compose produce the same two objects, and hostconfig_validate() checks them the same way.
 */
typedef struct RunOpts {
        json_t *config;         /* Config, with Image and Cmd from the positional arguments */
        json_t *host;           /* HostConfig */
        char *name;             /* --name, or NULL */
        bool detach;            /* -d (run only) */
        char *seccomp_record;   /* --seccomp-record FILE (run only, not with -d) */
        char **warnings;        /* said on stderr, as dockerd returns them */
} RunOpts;

void runopts_free(RunOpts *o);

/*
 * Parses argv[*index...] for `run` (is_run) or `create`.  Errors read as Docker's:
 *   invalid argument "12q" for "-m, --memory" flag: invalid size: '12q'
 * A seccomp profile file is read here and inlined as `seccomp=<compact JSON>`, as the docker CLI does.
 */
int runopts_parse(bool is_run, int argc, char **argv, int *index, RunOpts *o, Error **err);

/* dockerd's checks of a HostConfig (and Config) before anything is created; warnings are appended. */
/* --device HOST[:CONTAINER][:PERMISSIONS] (docker's parseDevice) into a HostConfig.Devices entry. */
int device_parse(const char *v, json_t **ret, Error **err);
/* dockerd's checks of Config.Healthcheck (durations of at least 1ms, retries not negative) and a
 * known probe type (NONE, CMD, CMD-SHELL). */
int healthcheck_validate(json_t *hc, Error **err);
int hostconfig_validate(Engine *e, json_t *config, json_t *host, char ***warnings, Error **err);

/* One --security-opt entry split into key and value ("no-new-privileges" alone gives value "true"). */
int security_opt_split(const char *opt, char **ret_key, char **ret_value, bool *ret_deprecated_colon, Error **err);

/* Parses "name=soft[:hard]" (docker's units.ParseUlimit) into {Name, Hard, Soft}. */
int ulimit_parse(const char *s, json_t **ret, Error **err);
/* The RLIMIT_* resource for a ulimit name ("nofile" -> RLIMIT_NOFILE); -1 if unknown. */
int ulimit_resource(const char *name);
/* Parses "no", "always", "unless-stopped", "on-failure[:N]" into {Name, MaximumRetryCount}. */
int restart_policy_parse(const char *s, json_t **ret, Error **err);
/* Parses a --cpus value ("1.5") into nano CPUs. */
int nanocpus_parse(const char *s, int64_t *ret, Error **err);
