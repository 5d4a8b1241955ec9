/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "util.h"

/*
 * The engine's context: where things live, the daemon.json defaults and the OCI runtime to drive.
 * There is no daemon: every `stockade` command opens one, and so does each container's monitor.
 *
 *   <data-root>  (/var/lib/stockade)  image/ (image-store.c), containers/<id>/ (container.c)
 *   <exec-root>  (/run/stockade)      containers/<id>/ (attach.sock, the monitor's pid), netns/<id>,
 *                                     runtime/<name>/ (the runtime's --root)
 *
 * Every root is settable by flag, environment (STOCKADE_DATA_ROOT, STOCKADE_EXEC_ROOT,
 * STOCKADE_CONFIG) and daemon.json, in that order of precedence, so tests run in private roots.
 */
typedef struct EngineOpts {
        const char *config_file;        /* NULL: $STOCKADE_CONFIG or /etc/stockade/daemon.json */
        const char *data_root;          /* NULL: $STOCKADE_DATA_ROOT, daemon.json data-root, default */
        const char *exec_root;
        const char *runtime;            /* --runtime for this command (a name from `runtimes` or a path) */
        const char *userns_remap;       /* --userns-remap: over daemon.json's userns-remap */
} EngineOpts;

typedef struct Engine {
        char *data_root;
        char *exec_root;
        char *config_file;
        json_t *daemon;                 /* the validated daemon.json ({} when absent) */
        char *self_dir;                 /* the directory of the running binary (for stockade-monitor, stockade-runtime) */
} Engine;

int engine_open(const EngineOpts *o, Engine **ret, Error **err);
void engine_free(Engine *e);
DEFINE_CLEANUP_FUNC(Engine, engine_free)

/* Validates a daemon.json document: unknown keys and wrong types are errors naming the key. */
int daemon_config_validate(json_t *j, const char *what, Error **err);

/*
 * Resolves a runtime name to a binary: "stockade-runtime" (default, next to this binary or on PATH),
 * a name from daemon.json `runtimes` ({"name": {"path": ..., "runtimeArgs": [...]}}), or "runc"/"crun"
 * found on PATH.  *ret_args gets the runtimeArgs (NULL-terminated, may be empty).
 */
int engine_runtime(Engine *e, const char *name, char **ret_path, char ***ret_args, Error **err);
/* The runtime name a container gets: --runtime, else daemon.json default-runtime, else stockade-runtime. */
const char *engine_default_runtime(Engine *e);
/* The runtime's --root for a runtime name (one per name, under the exec root). */
char *engine_runtime_root(Engine *e, const char *name);
/*
 * The command line that runs a container's runtime (HostConfig.Runtime of `host`): the binary, its
 * configured arguments, `--root` and its root; the caller appends the verb and its arguments.
 */
int engine_runtime_argv(Engine *e, json_t *host, char ***ret, Error **err);
/* A helper binary shipped with stockade ("stockade-monitor"): next to this binary, else on PATH. */
char *engine_helper_path(Engine *e, const char *name);

/* Paths of a container's directories. */
char *engine_container_dir(Engine *e, const char *id);
char *engine_container_run_dir(Engine *e, const char *id);
