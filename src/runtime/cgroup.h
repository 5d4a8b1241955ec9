/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/*
 * Container cgroups on cgroup v1, v2 and the hybrid layout (v1 controllers plus a cgroup2 mount).
 * Hierarchies are found from /proc/self/mountinfo and the caller's place in each from
 * /proc/self/cgroup.  A relative cgroupsPath is created beneath the caller's own cgroup in every
 * hierarchy (default: "stockade-<id>"), an absolute one below each hierarchy's root; processes outside the container are never
 * moved.  The result is a JSON object mapping each hierarchy's name ("memory", "cpu,cpuacct",
 * "name=systemd", and "" for cgroup2) to the container's directory in it; it is kept in state.json.
 */

/* Creates the container's cgroup in every hierarchy (no process is moved: see cgroup_join). */
int cgroup_create(const char *id, const char *cgroups_path, json_t **ret_paths, Error **err);
/*
 * Moving a task between cgroups takes the kernel's cgroup_threadgroup_rwsem for writing, and the
 * first writer after a quiet spell waits a whole RCU grace period (5-20 ms here): most of a
 * container's start-up.  cgroup_prime() starts that wait early: a short-lived child "moves" itself
 * into the cgroup it is already in (no change of membership), so the grace period runs while the
 * runtime re-executes, parses the config and creates namespaces.  The child is not waited for; it is
 * reaped with the runtime's other children.
 */
void cgroup_prime(void);
/* Moves pid (the init, or an exec'd process) into every directory of paths. */
int cgroup_join(json_t *paths, pid_t pid, Error **err);
/* The pids in the container's cgroup, read from one hierarchy. */
int cgroup_pids(json_t *paths, pid_t **ret, size_t *ret_n, Error **err);
/* Removes the container's directories, waiting (up to 2 s) for the kernel to release them. */
int cgroup_destroy(json_t *paths, Error **err);
/*
 * The directory of process pid's cgroup in the v1 hierarchy holding `controller` ("memory"), or with
 * controller NULL in the cgroup2 hierarchy; NULL when that hierarchy is not mounted here or pid is gone.
 * For reading a running container's statistics from outside (stats, the monitor's OOM count).
 */
char *cgroup_dir_of(pid_t pid, const char *controller);
/* Whether this machine has a unified (cgroup2) hierarchy with controllers; for `features`. */
bool cgroup_have_v2(void);
bool cgroup_have_v1(void);
