/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

/*
 * Container state under the runtime root (default /run/stockade-runtime):
 *   <root>/<id>/state.json   what the runtime knows (written atomically)
 *   <root>/<id>/config.json  the config the container was created from
 *   <root>/<id>/exec.sock    exists while the container is "created"; init waits on it for `start`
 * Commands that change a container hold an exclusive flock on <root>/<id> itself.
 */

/* The runtime-spec version of the state and ContainerProcessState documents we write. */
#define OCI_VERSION "1.2.0"

typedef enum ContainerStatus {
        STATUS_CREATING,
        STATUS_CREATED,
        STATUS_RUNNING,
        STATUS_PAUSED,
        STATUS_STOPPED,
} ContainerStatus;

typedef struct ContainerState {
        char *id;
        pid_t pid;
        uint64_t start_time;    /* of pid, to recognise pid reuse */
        char *bundle;
        char *rootfs;
        char *created;          /* RFC 3339 */
        uint32_t owner;         /* uid of the creator */
        json_t *annotations;    /* owned, may be NULL */
        json_t *cgroup_paths;   /* owned: {"memory": "/sys/fs/cgroup/memory/...", ...} */
        bool has_poststart;     /* config.json has poststart hooks: `start` must load it */
        bool has_poststop;      /* config.json has poststop hooks: `delete` must load it */
        bool pid_ns_private;    /* the container has its own pid namespace */
        bool no_new_keyring;    /* created with --no-new-keyring: exec keeps the caller's session keyring too */
} ContainerState;

extern const char *const status_names[];

/* Checks a container id: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes. */
int state_validate_id(const char *id, Error **err);

/* Opens (creating if needed) the runtime root directory. */
int state_open_root(const char *root, bool create, int *ret_fd, Error **err);
/* Creates <root>/<id> (EEXIST if it exists), locked; returns its fd. */
int state_create_dir(int rootfd, const char *id, int *ret_fd, Error **err);
/* Opens <root>/<id>, taking the lock when `lock` is set; ENOENT when there is no such container. */
int state_open_dir(int rootfd, const char *id, bool lock, int *ret_fd, Error **err);

int state_save(int dirfd, const ContainerState *st, Error **err);
int state_load(int dirfd, const char *id, ContainerState **ret, Error **err);
ContainerState *state_free(ContainerState *st);
DEFINE_CLEANUP_FUNC(ContainerState, state_free)

/* The live status of a container, from its pid, start time, exec fifo and freezer. */
ContainerStatus state_status(int dirfd, const ContainerState *st);

/* The OCI state JSON (ociVersion, id, status, pid, bundle, annotations). */
json_t *state_to_oci_json(const ContainerState *st, ContainerStatus status);
