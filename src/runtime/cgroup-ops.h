/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/*
 * What the runtime does to a running container's cgroups after create: freeze and thaw them
 * (pause/resume), read their statistics (events --stats, in runc's JSON), and watch for OOM kills
 * (events).  `paths` is the map cgroup_create() returned and state.json keeps.
 */

/*
 * Freezes (or thaws) every task of the container: the v1 freezer where the host has one, else the
 * unified hierarchy's cgroup.freeze.  Waits until the kernel reports the new state (FROZEN, or
 * "frozen 1" in cgroup.events), at most 5 s; on a timeout the container is thawed again and the
 * error says so.
 */
int cgroup_freeze(json_t *paths, bool freeze, Error **err);

/* The container's statistics as runc's `events --stats` prints them in "data". */
int cgroup_stats(json_t *paths, json_t **ret, Error **err);

/* How many times the kernel's OOM killer has killed a task of the container (0 when unknown). */
uint64_t cgroup_oom_kills(json_t *paths);

/*
 * An OOM watch: `fd` becomes readable (v1: an eventfd registered on memory.oom_control) or raises
 * POLLPRI (v2: memory.events) when the kernel handles an OOM in the container's memory cgroup;
 * `events` says which poll bits to wait for.  cgroup_oom_watch_read() consumes the wake-up and
 * returns how many new OOM events there were since the last call (at least 1 for a v1 eventfd
 * tick, the growth of oom_kill for v2).
 */
typedef struct OomWatch {
        int fd;
        short events;
        bool v2;
        json_t *paths;          /* borrowed */
        uint64_t seen;          /* the oom_kill count already reported */
} OomWatch;

int cgroup_oom_watch_open(json_t *paths, OomWatch *ret, Error **err);
uint64_t cgroup_oom_watch_read(OomWatch *w);
void cgroup_oom_watch_close(OomWatch *w);
