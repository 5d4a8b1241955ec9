/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"
#include "error.h"

/*
 * The container store: <data-root>/containers/<id>/container.json holds one record in the shape of
 * Docker's `inspect` (Id, Created, Path, Args, State, Image, ..., HostConfig, Mounts, Config,
 * NetworkSettings) plus a "Stockade" object of our own (runtime, the monitor's pid, image ref) that
 * inspect leaves out.  Writes are atomic and durable (write, fsync, rename); every read-modify-write
 * holds the container's lock (flock on <dir>/.lock), and creation and renaming hold the store's lock
 * so names stay unique.
 */

/* A new 64-hex id (getrandom). */
char *container_new_id(void);
/* Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading "/" is dropped). */
int container_check_name(const char *name, Error **err);
/* A generated "adjective_noun" name not in use. */
char *container_random_name(Engine *e);

/*
 * Creates the container's directory and record.  `name` NULL: a generated one.  A name in use is
 * refused with Docker's conflict message.  *ret_id gets the new id; record's Id and Name are set here.
 */
int container_create_record(Engine *e, json_t *record, const char *name, char **ret_id, Error **err);

/* A name, a full id or a unique id prefix → the full id; "No such container: X" otherwise. */
int container_lookup(Engine *e, const char *ref, char **ret_id, Error **err);
int container_load(Engine *e, const char *id, json_t **ret, Error **err);
int container_save(Engine *e, const char *id, json_t *record, Error **err);
/*
 * The same write, atomic (rename) but not fsync'ed: for State, which describes live processes.  After
 * a crash an older State is read back and container_refresh_state() corrects it (the monitor is gone),
 * so a container's configuration is durable and its running state need not be (as the runtime's).
 */
int container_save_state(Engine *e, const char *id, json_t *record, Error **err);
/* Every record, oldest first. */
int container_list(Engine *e, json_t **ret, Error **err);
/* flock(LOCK_EX) on the container's lock file; the fd releases it. */
int container_lock(Engine *e, const char *id, int *ret_fd, Error **err);
/* Takes the store-wide lock (names, creation, removal). */
int container_store_lock(Engine *e, int *ret_fd, Error **err);
/* Renames under the store lock, refusing a name in use. */
int container_rename(Engine *e, const char *id, const char *new_name, Error **err);
/* Removes the container's directories (data and run); the caller has stopped it. */
int container_remove_dirs(Engine *e, const char *id, Error **err);

/* Is the container's monitor alive (so its State.Running can be trusted)? */
bool container_monitor_alive(json_t *record);
/*
 * Brings a record's State in line with reality: a record that says running whose monitor is gone
 * (killed, or the machine rebooted) becomes exited with an Error saying so.  Returns true if changed.
 */
bool container_refresh_state(json_t *record);

/* Running or restarting, with a live monitor. */
bool container_is_running(json_t *record);

/* Docker's status words: created, running, paused, restarting, exited, dead. */
const char *container_status(json_t *record);

/* Sets State fields for the named transitions, keeping Docker's field order. */
json_t *container_state_new(void);
