/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"

/*
 * `stockade compose`'s model: compose files (YAML through libyaml) into a project whose services are
 * `stockade create` command lines, so that each service goes through the same flag parser
 * (runopts.c) and the same checks as `stockade run`.
 *
 * Loading: every file is read (at most COMPOSE_MAX_FILE bytes), parsed with anchors and aliases
 * (libyaml) and merge keys (`<<`, done here), its string values interpolated (${VAR}, ${VAR:-d},
 * ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, $VAR, $$) from the environment and the .env
 * file beside the first file, its short forms brought to one form (environment lists to maps, string
 * commands split as a shell would...), and merged into the files before it by the Compose
 * Specification's rules.  Every key path remembers the file and line it came from: errors read
 *   compose.yaml:12: services.app.deploy.resources.limits.memory: invalid size "1GG"
 * Unknown keys are warnings naming file, line and key; `x-` keys are ignored.
 */

#define COMPOSE_MAX_FILE (1 << 20)      /* bytes of one compose file, .env or env_file */
#define COMPOSE_MAX_NODES 100000        /* YAML nodes after aliases are expanded (billion laughs) */
#define COMPOSE_MAX_DEPTH 64
#define COMPOSE_MAX_SERVICES 256

typedef struct ComposeLoadOpts {
        char **files;                   /* -f FILE...; NULL: compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in cwd */
        const char *project_name;       /* -p; NULL: COMPOSE_PROJECT_NAME, the top-level `name`, the directory's name */
        const char *project_dir;        /* --project-directory; NULL: the first file's directory */
        const char *env_file;           /* --env-file; NULL: <project dir>/.env when it exists */
        char **environ;                 /* the environment interpolation reads (NULL-terminated); over the .env file */
        char ***warnings;               /* if not NULL: the warnings (unknown keys...), also when loading fails */
} ComposeLoadOpts;

/* One `stockade create` flag and the key path it came from (for errors and the "cannot honour" notes). */
typedef struct ComposeFlag {
        char *flag;                     /* "--memory" */
        char *value;                    /* NULL for a boolean flag */
        char *path;                     /* "services.app.mem_limit" */
} ComposeFlag;

typedef struct ComposeService {
        char *name;
        json_t *model;                  /* the normalised service, as `config` prints it */
        char *image;
        json_t *entrypoint;             /* array of strings, or NULL (the image's) */
        json_t *command;                /* array of strings, or NULL (the image's) */
        ComposeFlag *flags;
        size_t n_flags;
        json_t *depends_on;             /* {service: {"condition": ..., "required": bool}} */
        json_t *healthcheck;            /* {"test": [...], "interval_ms", "timeout_ms", "start_period_ms", "retries"} or NULL */
        json_t *engine_healthcheck;     /* the same as Config.Healthcheck (docker's HealthConfig: Test, durations in ns,
                                         * Retries; Test ["NONE"] when disabled), or NULL: the image's */
        char *container_name;           /* container_name, or NULL: <project>-<service>-1 */
        char *config_hash;              /* sha256 of the normalised service (label com.docker.compose.config-hash) */
        char **unhonoured;              /* "services.web.ports: ... why" */
        char **socket_mounts;           /* "services.ci.volumes[0]: /var/run/docker.sock" */
        char **blocking;                /* what makes `up` refuse the service (only `build` without an image) */
        char **volumes;                 /* the keys of the project volumes it mounts */
} ComposeService;

/* The version in compose's com.docker.compose.version label, on containers and volumes. */
#define COMPOSE_VERSION STOCKADE_VERSION

/*
 * A top-level `volumes:` entry.  Its engine name is <project>_<key>, or `name:`; an external one's is
 * the key or `name:`, and it must exist already: it is never created nor removed.
 */
typedef struct ComposeVolume {
        char *key;                      /* the key under `volumes:`, as services name it */
        char *name;                     /* the engine's volume */
        char *where;                    /* "compose.yaml:12: volumes.data", for the messages of up and down */
        bool external;
        json_t *labels;                 /* the volume's labels, compose's own (project, volume, version) included */
        json_t *driver_opts;            /* the local driver's type, device and o (strings), or NULL */
} ComposeVolume;

typedef struct ComposeProject {
        char *name;
        char *project_dir;
        char **files;                   /* the files read, as given */
        json_t *model;                  /* {"name", "services": {...}, "volumes", "networks"} normalised */
        ComposeService *services;       /* in dependency order: every service after those it depends on */
        size_t n_services;
        ComposeVolume *volumes;         /* the top-level volumes, in the order of their keys */
        size_t n_volumes;
        char **warnings;                /* unknown keys, unset variables, obsolete keys (moved to o->warnings when given) */
        char **unhonoured;              /* top-level keys the engine cannot honour */
        json_t *locs;                   /* key path -> "file:line" */
} ComposeProject;

int compose_load(const ComposeLoadOpts *o, ComposeProject **ret, Error **err);
ComposeProject *compose_project_free(ComposeProject *p);
DEFINE_CLEANUP_FUNC(ComposeProject, compose_project_free)

/*
 * Parses one YAML text into JSON (anchors, aliases, merge keys; scalars: plain null/true/false and
 * decimal integers typed, everything else a string), recording "file:line" for each key path in
 * `locs` (may be NULL).  Bounded by COMPOSE_MAX_NODES and COMPOSE_MAX_DEPTH.
 */
int compose_yaml_parse(const char *text, size_t len, const char *file, json_t *locs, json_t **ret, Error **err);

/*
 * Interpolates one string: `env` maps names to values (strings).  Unset variables without a default
 * become "" and add a warning.  Errors: ${VAR:?msg} with VAR unset or empty, bad syntax.
 */
int compose_interpolate(const char *s, json_t *env, char ***warnings, char **ret, Error **err);

/* Reads a .env / env_file text (KEY=VALUE lines, comments, quotes, `export `) into `env`. */
int compose_parse_env(const char *text, size_t len, const char *file, json_t *env, Error **err);

/* Splits a command string as a POSIX shell would (quotes and backslashes, no expansion). */
int compose_shell_split(const char *s, json_t **ret, Error **err);

/* A JSON value as YAML, keys sorted; strings YAML would read as something else quoted. */
int compose_to_yaml(json_t *model, char **ret, Error **err);
/* The normalised model as `compose config` prints it: compose_to_yaml() with every '$' written "$$". */
int compose_config_yaml(ComposeProject *p, char **ret, Error **err);

/* The service by name, or NULL. */
ComposeService *compose_service(ComposeProject *p, const char *name);
/* The top-level volume by its key, or NULL. */
ComposeVolume *compose_volume(ComposeProject *p, const char *key);

/*
 * The `stockade create` command line of a service's container: "create", --name, the com.docker.compose.*
 * labels, the service's flags, the image and the command (the entrypoint's first word through
 * --entrypoint, the rest before the command).  `oneoff` for `compose run`: its own name and label.
 * `extra` flags go after the service's (so they win); `command` (NULL: the service's) replaces its command.
 */
char **compose_create_argv(ComposeProject *p, ComposeService *s, const char *name, bool oneoff, const char *verb,
                           char **extra, char **command);

/* The container name of a service's (first) container: container_name or <project>-<service>-1. */
char *compose_container_name(ComposeProject *p, ComposeService *s);
