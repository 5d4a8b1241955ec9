/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "spec.h"
#include "state.h"

/* The container lifecycle, one function per runtime verb.  `root` is the state root (--root). */

typedef struct CreateOpts {
        const char *bundle;
        const char *pid_file;
        const char *console_socket;
        int preserve_fds;
        bool no_pivot;
        bool no_new_keyring;    /* keep the caller's session keyring (runc's --no-new-keyring) */
} CreateOpts;

typedef struct ExecOpts {
        const char *pid_file;
        const char *console_socket;
        int preserve_fds;
        bool detach;
        json_t *seccomp;        /* the container's linux.seccomp, borrowed; NULL for none */
        uint64_t seccomp_bounding; /* the container's bounding capabilities, for its includes/excludes */
        int seccomp_cache;      /* <root>/.seccomp-cache (see seccomp_cache_open), or -1 */
} ExecOpts;

/* The capabilities Docker-style seccomp rules are conditioned on: the container's bounding set. */
uint64_t seccomp_bounding(const OciProcess *p);

int container_create(const char *root, const char *id, const CreateOpts *o, Error **err);
int container_start(const char *root, const char *id, Error **err);
/* create + start; in the foreground waits and returns the exit status (128+signal) in *ret_status. */
int container_run(const char *root, const char *id, const CreateOpts *o, bool detach, int *ret_status,
                  Error **err);
int container_kill(const char *root, const char *id, int sig, bool all, Error **err);
int container_delete(const char *root, const char *id, bool force, Error **err);
int container_state(const char *root, const char *id, json_t **ret, Error **err);
/* Runs p in the container; in the foreground returns its exit status in *ret_status. */
int container_exec(const char *root, const char *id, OciProcess *p, const ExecOpts *o, int *ret_status,
                   Error **err);
/* The pids in the container's cgroup. */
int container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, Error **err);
/* The container's config.json as it was created (for exec defaults). */
int container_load_config(const char *root, const char *id, OciSpec **ret, Error **err);

/* Loads a container's state (taking its lock when `lock` is set); ENOENT names the id. */
int container_open(const char *root, const char *id, bool lock, int *ret_dirfd, ContainerState **ret,
                   Error **err);

/* pause/resume: freezes or thaws every process of a running (paused) container. */
int container_pause(const char *root, const char *id, bool pause, Error **err);
/*
 * Applies `resources` (linux.resources syntax, only the fields to change) to a running, created or
 * paused container's cgroups, then merges them into its stored config.json.
 */
int container_update(const char *root, const char *id, json_t *resources, Error **err);

typedef struct EventsOpts {
        bool stats_once;        /* print one stats event and return */
        int interval_ms;        /* between stats events */
} EventsOpts;
/* Prints runc's event lines (stats every interval, oom when it happens) until the container stops. */
int container_events(const char *root, const char *id, const EventsOpts *o, Error **err);
