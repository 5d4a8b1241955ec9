/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "error.h"

/*
 * The container verbs shared by the CLI and (later) the API: create a container from Docker's
 * Config + HostConfig, start it under a new monitor, stop/kill it through its monitor, remove it.
 * Each failure names what failed, and leaves nothing half-made.
 */

/*
 * Creates a container: validates, resolves the image, merges its config (Env, Cmd, Entrypoint,
 * WorkingDir, User, Labels) and daemon.json defaults (log driver and options, runtime), writes the
 * record and the container's directory (upper/work dirs, hostname, hosts, resolv.conf).
 * Takes ownership of neither `config` nor `host`.  Warnings are appended to *warnings.
 */
int lifecycle_create(Engine *e, json_t *config, json_t *host, const char *name, char **ret_id, char ***warnings,
                     Error **err);

/*
 * Starts a created or exited container: mounts its rootfs (overlayfs over the image's layers),
 * makes its network namespace, writes the OCI bundle, and spawns its monitor, which runs the
 * runtime.  With ret_fd the caller keeps the monitor connection (attached to stdout/stderr, and
 * stdin with `attach_stdin`) to stream from; otherwise it is closed once the container runs.
 * On a start failure *ret_exit gets 125, 126 or 127 (Docker's codes) and err the runtime's message.
 */
int lifecycle_start(Engine *e, const char *id, bool attach, bool attach_stdin, int *ret_fd, int *ret_exit, Error **err);

/* Stops a running container (signal, then SIGKILL after `timeout` seconds; -1: its StopTimeout or 10). */
int lifecycle_stop(Engine *e, const char *id, int timeout, Error **err);
/* Sends a signal ("TERM", "SIGHUP", "9"...) to a running container. */
int lifecycle_kill(Engine *e, const char *id, const char *signal, Error **err);
/*
 * Removes a container; a running one only with force (killed first).  `volumes` (rm -v): its
 * anonymous volumes too, unless another container uses them.
 */
int lifecycle_remove(Engine *e, const char *id, bool force, bool volumes, Error **err);

/* stop (when running), start, and docker's "restart" event. */
int lifecycle_restart(Engine *e, const char *id, int timeout, Error **err);
/* Freezes / thaws a running container's processes (the runtime's pause / resume); State.Paused. */
int lifecycle_pause(Engine *e, const char *id, bool pause, Error **err);

/*
 * Writes a container event (events.h) for the container `id` from its record (`rec`, or loaded when
 * NULL).  Event logging never fails an operation: a failure is printed to stderr as a warning.
 */
void lifecycle_event(Engine *e, const char *id, json_t *rec, const char *action, json_t *extra);

/* Image ids used by containers (for rmi), with the container ids in a parallel vector. */
int lifecycle_images_in_use(Engine *e, char ***ret_images, char ***ret_containers, Error **err);
