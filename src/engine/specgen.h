/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "engine.h"
#include "error.h"

/*
 * A container record (Config + HostConfig, Docker's model) into an OCI config.json, with Docker's
 * defaults: the 14 capabilities, masked and read-only paths, the device allow-list, the default
 * seccomp profile (resolved to the OCI form for the container's capabilities, so runc and crun get
 * it too), /dev/shm, /etc/{hosts,hostname,resolv.conf} bound from the container's directory.
 */
typedef struct SpecInput {
        json_t *record;                 /* the container record */
        const char *rootfs;             /* the mounted root filesystem */
        const char *container_dir;      /* hosts, hostname, resolv.conf live here */
        const char *netns_path;         /* the network namespace to join; NULL: none given (host or a new one) */
        const char *init_path;          /* the binary bound at /sbin/docker-init for --init */
} SpecInput;

int specgen(Engine *e, const SpecInput *in, json_t **ret, Error **err);

/* Docker's 14 default capabilities adjusted by CapAdd/CapDrop ("ALL" included), or every capability when privileged. */
int specgen_caps(json_t *host, json_t **ret, Error **err);

/*
 * Resolves Config.User ("", "name", "uid", "name:group", "uid:gid") against the rootfs's /etc/passwd
 * and /etc/group (read with RESOLVE_IN_ROOT, so a hostile image's symlinks cannot lead out), plus
 * HostConfig.GroupAdd, into OCI process.user.
 */
int specgen_user(const char *rootfs, const char *user, json_t *group_add, json_t **ret, Error **err);

/* HostConfig's limits as OCI linux.resources (devices included). */
json_t *specgen_resources(Engine *e, json_t *host);

/* Appends each NAME=value of `over` to `env`, replacing an entry of the same NAME (docker's rule). */
void env_merge(json_t *env, json_t *over);

/* The container's environment: PATH, HOSTNAME, TERM (with a tty), then Config.Env overriding. */
json_t *specgen_env(json_t *config);
