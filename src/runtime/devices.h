/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The device cgroup: linux.resources.devices as v1 rules (devices.allow / devices.deny) or, on
 * cgroup v2, as an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's
 * cgroup.  Both apply the rules in order, later rules winning, and then the devices every container
 * gets (DEFAULT_DEVICE_RULES), as runc and crun do.
 */

#define DEV_ACC_MKNOD 1u        /* BPF_DEVCG_ACC_MKNOD */
#define DEV_ACC_READ  2u
#define DEV_ACC_WRITE 4u
#define DEV_ACC_ALL   7u

typedef struct DevRule {
        bool allow;
        char type;              /* 'a', 'b' or 'c' */
        int64_t major, minor;   /* -1: any */
        unsigned access;        /* DEV_ACC_* bits */
} DevRule;

/* Parses linux.resources.devices; errors name the entry ("linux.resources.devices[2].type"). */
int devices_parse(json_t *arr, DevRule **ret, size_t *ret_n, Error **err);

/* The rules every container gets after its own (runtime-spec "Default Devices", and the ptys). */
extern const DevRule default_device_rules[];
extern const size_t n_default_device_rules;

/* The v1 text of a rule: "c 1:3 rwm", or "a" for a whole-type rule. */
void devices_rule_v1(const DevRule *r, char *buf, size_t size);

/*
 * The eBPF program for rules (then the defaults): the last matching rule decides; an allow rule
 * matches when every access asked for is in it, a deny rule when any is; nothing matching allows (a
 * new v1 cgroup allows everything too).  *ret is malloc'ed.
 */
int devices_bpf_build(const DevRule *rules, size_t n, struct bpf_insn **ret, size_t *ret_n, Error **err);

/* Loads the program and attaches it to the cgroup2 directory, then detaches any it replaces. */
int devices_bpf_apply(const char *cgroup_dir, const DevRule *rules, size_t n, Error **err);
