/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/*
 * Idmapped mounts (MOUNT_ATTR_IDMAP), shared by the runtime (a mount's uidMappings/gidMappings) and
 * the engine (a user-namespace-remapped container's image layers, docs/USERNS.md).
 */

/*
 * A user namespace holding exactly these mappings, as an fd (O_CLOEXEC): a child unshares it, we
 * write its maps as the caller (root writes any mapping), open its ns link, and reap the child.
 */
int idmap_userns_fd(const OciIdMap *uid, size_t n_uid, const OciIdMap *gid, size_t n_gid, int *ret_fd, Error **err);

/*
 * Writes a process's uid_map and gid_map (gid first).  As root, directly.  Otherwise through the
 * setuid helpers newgidmap / newuidmap (uidmap package), which check the ranges against /etc/subuid
 * and /etc/subgid (and allow our own id), as runc does rootless; without the helpers, a single
 * mapping of our own euid / egid is written directly, after "deny" in setgroups (the kernel's rule
 * for unprivileged writers of gid_map).  Errors name the spec field and the helper's own message.
 */
int idmap_write_maps(pid_t pid, const OciIdMap *uid, size_t n_uid, const OciIdMap *gid, size_t n_gid, Error **err);

/*
 * Attaches at `target` (an existing directory) a clone of the tree at `source`, idmapped through
 * `userns_fd` (recursive: the mounts below it too).  Fails with the kernel's reason when the
 * filesystem cannot be idmapped.
 */
int idmap_bind(const char *source, const char *target, int userns_fd, bool recursive, Error **err);
