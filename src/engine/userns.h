/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"
#include "error.h"

/*
 * User-namespace remapping (docs/USERNS.md): daemon.json "userns-remap" maps each container's root
 * to the first subordinate id of the remap user (subid.c), unless it runs with --userns=host.  The
 * mappings are fixed at create (the record's Stockade.UidMappings/GidMappings); the image's layers
 * are idmapped at start, so one image store serves every mapping.
 */

/* Refuses what remapping cannot give, with dockerd's messages: --privileged, --network host, --pid host. */
int userns_check(Engine *e, json_t *host, Error **err);

/*
 * For a remapped container, OCI's uidMappings and gidMappings (new references); NULL and NULL when
 * the container is not remapped.  "default" creates the user dockremap and its ranges when missing.
 * Warnings (malformed lines of /etc/subuid or /etc/subgid) are appended to *warnings.
 */
int userns_mappings(Engine *e, json_t *host, json_t **ret_uid, json_t **ret_gid, char ***warnings, Error **err);

/* The pool user of --userns=auto when daemon.json has no userns-auto-user (podman's convention). */
#define USERNS_AUTO_USER "containers"

/*
 * --userns=auto[:size=N]: once the container's record exists, leases it a range of its own (65536 ids
 * unless size is given) from the pool user's ranges, recorded in <data-root>/userns so that no two
 * containers ever share one; NULL and NULL for other containers.
 */
int userns_auto_assign(Engine *e, json_t *host, const char *id, json_t **ret_uid, json_t **ret_gid, Error **err);
/* Gives back a removed container's auto range (a no-op for others). */
void userns_release(Engine *e, const char *id);

/* The host ids of the container's root: its mappings' container id 0, else 0 and 0. */
void userns_root(json_t *rec, uid_t *ret_uid, gid_t *ret_gid);

/*
 * Before the overlay mount of a remapped container: gives the container's root its upper directory
 * and the files it gets from `cdir` (hostname, hosts, resolv.conf), opens the path to them, and
 * returns in *ret_root the directory that stands for `layers_root` in the overlay's lowerdirs:
 * `cdir`/idlayers, an idmapped clone of `layers_root` (*ret_mounted: the caller detaches it once the
 * overlay holds its layers), or, where the filesystem cannot be idmapped, a copy of `layers` (paths
 * under `layers_root`) with their owners shifted, made once per mapping under
 * <data-root>/userns/copies, with a warning on stderr.
 */
int userns_layers(Engine *e, json_t *rec, const char *layers_root, char *const *layers, const char *cdir, char **ret_root,
                  bool *ret_mounted, Error **err);
