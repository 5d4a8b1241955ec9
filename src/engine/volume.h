/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"

/*
 * Volumes: docker's "local" driver (docs/ENGINE.md, "Volumes").
 *
 *   <data-root>/volumes/                 0700: only root reaches what containers wrote (0711 once a
 *                                        remapped container used a volume: its runtime binds _data in
 *                                        the container's user namespace; that volume's directory is
 *                                        then root:<its root's gid> 0710)
 *   <data-root>/volumes/<name>/_data     what containers mount
 *   <data-root>/volumes/<name>/volume.json
 *          {"CreatedAt","Driver":"local","Labels":{},"Mountpoint","Name","Options":{},"Scope":"local"}
 *          (`volume inspect`'s form; Mountpoint is filled in when read, never trusted from the file)
 *   <data-root>/volumes/.lock            flock: LOCK_EX to create or remove a volume; a container's
 *                                        creation holds LOCK_SH from resolving its volumes until its
 *                                        record is saved, so `volume rm` never removes a volume a new
 *                                        container is about to use (it scans the records under LOCK_EX).
 *
 * A volume is created whole or not at all: made under a temporary name and renamed into place.  An
 * anonymous volume (`-v /data`, an image's VOLUME) has a 64-hex name and the label
 * com.docker.volume.anonymous (as docker 23 marks them); `rm -v`, `run --rm` and a default
 * `volume prune` remove only those.
 *
 * Options (`--opt`, compose driver_opts) are the local driver's: type, device and o.  With a type the
 * volume is a mount (tmpfs, a bind with o=bind, a block device) made on _data at the first start that
 * finds it unmounted, and left there until the volume is removed.
 */

#define VOLUME_ANON_LABEL "com.docker.volume.anonymous"

/* <data-root>/volumes (malloc'd). */
char *volume_root(Engine *e);
/* <data-root>/volumes/<name>/_data (malloc'd); name must have passed volume_check_name(). */
char *volume_data_dir(Engine *e, const char *name);

/* docker's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, with its message. */
int volume_check_name(const char *name, Error **err);
/* Is `s` a volume name rather than a host path (for -v SRC:DST)?  Not absolute, not "." or "~" led. */
bool volume_is_name(const char *s);

/* flock on <data-root>/volumes/.lock (created with its directory); the fd releases it. */
int volumes_lock(Engine *e, bool exclusive, int *ret_fd, Error **err);

/*
 * Validates local driver options (an object of strings; NULL is none): only type, device and o,
 * and a device or o needs a type.  The message names the option.
 */
int volume_check_options(json_t *opts, Error **err);

/*
 * Creates volume `name` (NULL: an anonymous one) unless it exists.  driver NULL or "local"; others are
 * refused.  labels and opts: objects of strings (borrowed, may be NULL).  It takes the volumes lock
 * shared (a caller may hold it shared already, never exclusive); the volume appears whole through a
 * rename.  *ret: its inspect
 * form (new reference); *ret_created: whether it was made now (then a "create" event was logged).
 * An existing volume is returned as it is (as dockerd does), unless its driver differs.
 */
int volume_create(Engine *e, const char *name, const char *driver, json_t *labels, json_t *opts, bool anonymous,
                  json_t **ret, bool *ret_created, Error **err);

/* The inspect form of one volume; -ENOENT "get NAME: no such volume" (dockerd's message). */
int volume_get(Engine *e, const char *name, json_t **ret, Error **err);

/* Every volume's inspect form, sorted by name. */
int volume_list(Engine *e, json_t **ret, Error **err);

/* Does a container record's Mounts hold the volume (a Mounts entry of Type "volume" with its Name)? */
bool volume_record_uses(json_t *rec, const char *name);

/* The ids of the containers (any state) whose Mounts name the volume, as a NULL-terminated list. */
int volume_users(Engine *e, const char *name, char ***ret, Error **err);

/*
 * Removes a volume nobody uses, under the exclusive lock: "remove NAME: volume is in use - [ids]"
 * (-EBUSY) as dockerd says it; a typed volume is unmounted first, and nothing is deleted through a
 * mount that would not go.  A "destroy" event is logged.  *ret_size (may be NULL): bytes freed.
 */
int volume_remove(Engine *e, const char *name, uint64_t *ret_size, Error **err);

/*
 * Removes the anonymous volumes a container record mounts that no other container uses (rm -v,
 * run --rm).  Failures are warnings on stderr: the container is gone already.
 */
void volume_remove_anonymous(Engine *e, json_t *record);

/*
 * `volume prune`: every unused volume that is anonymous (all: every unused one) and has the labels
 * `label` asks ("key", "key=value"; "label!" forms negate; NULL: none).  *ret_names: what went;
 * *ret_size: the bytes freed.  Also removes the temporary entries a killed create or rm left.
 */
int volume_prune(Engine *e, bool all, char *const *label, char *const *label_not, char ***ret_names,
                 uint64_t *ret_size, Error **err);

/*
 * docker's volume filters, from "key=value" strings (`--filter`, or the API's filters turned into
 * those).  `volume ls` takes dangling (true, false, 1, 0), name (a substring of the name), label
 * (KEY or KEY=VALUE) and driver; `volume prune` takes label, label! and all (true, false, 1, 0: named
 * volumes too, docker 23's filter).  The values of one key are alternatives, except labels, which
 * must all hold.
 */
typedef struct VolumeFilter {
        int dangling;           /* -1: either */
        bool all;               /* prune: named volumes too */
        char **names, **labels, **labels_not, **drivers;
} VolumeFilter;

#define VOLUME_FILTER_INIT { .dangling = -1 }

/* Adds one "key=value"; prune selects prune's keys.  The message names the filter and the keys taken. */
int volume_filter_add(VolumeFilter *f, const char *kv, bool prune, Error **err);
/* Does the volume (inspect form) pass `volume ls`'s filter?  containers: every container record. */
bool volume_filter_match(const VolumeFilter *f, json_t *vol, json_t *containers);
void volume_filter_done(VolumeFilter *f);

/*
 * For a container's start, once its root filesystem is mounted at `rootfs`: makes a typed volume's
 * mount if it is not there, and when `copy` and the volume is empty, copies what the image has at
 * `dest` into it (docker's copy-up: owners, modes, times, symlinks and fifos; device nodes and
 * sockets are left out).  The source is resolved inside rootfs (RESOLVE_IN_ROOT) and walked by file
 * descriptors without following a symlink, and the volume's root gets the mode and owner of `dest`.
 * `root_uid`/`root_gid`: who a new, empty volume belongs to when nothing is copied ((uid_t)-1: left).
 */
int volume_prepare(Engine *e, json_t *vol, const char *rootfs, const char *dest, bool copy, uid_t root_uid,
                   gid_t root_gid, Error **err);

/* Copies the tree under directory fd `src` into the empty directory fd `dst` (volume_prepare's walk). */
int volume_copy_tree(int src, int dst, Error **err);

/* A volume event: Actor.ID = name, Attributes = {driver: "local"} plus `extra` (borrowed, may be NULL). */
void volume_event(Engine *e, const char *name, const char *action, json_t *extra);

/* Bytes used under a volume's _data (st_blocks, each inode once), for `system df` and prune. */
uint64_t volume_size(Engine *e, const char *name);
