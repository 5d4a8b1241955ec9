/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/*
 * linux.resources written into the container's cgroups.  Each controller goes to its v1 hierarchy
 * when the host has one, else to the unified (v2) hierarchy when the controller is enabled there:
 * so one code path serves v1, v2 and the hybrid layout.  `paths` is what cgroup_create() returned.
 * Errors name the OCI field and the cgroup file.
 */
typedef struct Target {
        const char *dir;        /* the container's directory in the chosen hierarchy, or NULL */
        bool v2;                /* dir is in the unified (cgroup2) hierarchy */
} Target;

/* Where `controller` lives: its own v1 hierarchy, else the unified one where it is enabled there. */
Target cgroup_target(json_t *paths, const char *controller);

int cgroup_apply_resources(json_t *paths, json_t *resources, Error **err);

/* The cpu.weight (v2) runc and crun use for cpu.shares (v1): 1 + ((shares - 2) * 9999) / 262142. */
uint64_t cgroup_shares_to_weight(uint64_t shares);
