/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * stockade-proxy's rules (docs/PROXY.md): docker-socket-proxy's environment switches with the same
 * names and defaults, a few more that close its known holes, a configuration file of finer rules,
 * the request path's normalisation, and the inspection of request bodies that would hand out the
 * host (containers/create with Privileged, host binds, CapAdd, ...).
 *
 * Everything here is pure computation on bytes (no I/O), so the unit tests and the fuzz harness
 * drive it directly.
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* docker-socket-proxy's API sections, in its order; each is an environment switch. */
#define PROXY_SECTIONS(X)                                                                                   \
        X(AUTH, "auth", false)                                                                              \
        X(BUILD, "build", false)                                                                            \
        X(COMMIT, "commit", false)                                                                          \
        X(CONFIGS, "configs", false)                                                                        \
        X(CONTAINERS, "containers", false)                                                                  \
        X(DISTRIBUTION, "distribution", false)                                                              \
        X(EVENTS, "events", true)                                                                           \
        X(EXEC, "exec", false)                                                                              \
        X(GRPC, "grpc", false)                                                                              \
        X(IMAGES, "images", false)                                                                          \
        X(INFO, "info", false)                                                                              \
        X(NETWORKS, "networks", false)                                                                      \
        X(NODES, "nodes", false)                                                                            \
        X(PING, "_ping", true)                                                                              \
        X(PLUGINS, "plugins", false)                                                                        \
        X(SECRETS, "secrets", false)                                                                        \
        X(SERVICES, "services", false)                                                                      \
        X(SESSION, "session", false)                                                                        \
        X(SWARM, "swarm", false)                                                                            \
        X(SYSTEM, "system", false)                                                                          \
        X(TASKS, "tasks", false)                                                                            \
        X(VERSION, "version", true)                                                                         \
        X(VOLUMES, "volumes", false)

#define PROXY_SECTION_ENUM(name, path, dflt) PROXY_SEC_##name,
typedef enum ProxySection { PROXY_SECTIONS(PROXY_SECTION_ENUM) PROXY_SEC_COUNT } ProxySection;
#undef PROXY_SECTION_ENUM

/* Method bits for rules. */
enum {
        PROXY_M_GET = 1u << 0, /* GET and HEAD, as HAProxy's METH_GET */
        PROXY_M_POST = 1u << 1,
        PROXY_M_PUT = 1u << 2,
        PROXY_M_DELETE = 1u << 3,
        PROXY_M_ALL = 0xfu,
};

#define PROXY_RULES_MAX    256
#define PROXY_BINDS_MAX    64
#define PROXY_CONFIG_MAX   (64 * 1024)
#define PROXY_PATTERN_SEGS 16

typedef struct ProxyRule {
        bool allow;
        unsigned methods;
        unsigned line; /* in the configuration file */
        size_t nsegs;
        char *segs[PROXY_PATTERN_SEGS]; /* lower case; "*" one segment, "**" (last) the rest */
} ProxyRule;

typedef struct ProxyPolicy {
        bool section[PROXY_SEC_COUNT];
        bool post, put, del; /* POST, PUT, DELETE */
        bool allow_start, allow_stop, allow_restarts;
        bool c_archive, c_export, c_logs, c_attach; /* CONTAINERS_ARCHIVE, _EXPORT, _LOGS, _ATTACH */
        bool inspect;                               /* INSPECT_BODIES */
        size_t nbinds;
        char *binds[PROXY_BINDS_MAX]; /* ALLOWED_BINDS / allow-bind: host directories */
        size_t nrules;
        ProxyRule rules[PROXY_RULES_MAX];
} ProxyPolicy;

typedef enum ProxyInspect {
        PROXY_INSPECT_NONE,
        PROXY_INSPECT_CREATE, /* POST /containers/create */
        PROXY_INSPECT_UPDATE, /* POST /containers/{id}/update */
        PROXY_INSPECT_EXEC,   /* POST /containers/{id}/exec */
        PROXY_INSPECT_VOLUME, /* POST /volumes/create */
} ProxyInspect;

#define PROXY_BODY_MAX (1024 * 1024) /* an inspected body is read whole, at most this */

typedef struct ProxyDecision {
        bool allow;
        ProxyInspect inspect;
        bool stream; /* /events, followed logs, a hijack: closed at once on shutdown */
        char reason[256];
} ProxyDecision;

/* The defaults: EVENTS, PING, VERSION and INSPECT_BODIES on, everything else off. */
void proxy_policy_init(ProxyPolicy *p);
void proxy_policy_free(ProxyPolicy *p);
/*
 * Sets one setting by its environment name (CONTAINERS, POST, ALLOWED_BINDS, ...).  Booleans take
 * what HAProxy's `-m bool` takes for docker-socket-proxy (an integer, non-zero is on; empty is off)
 * and true/false/yes/no.  Returns 1 when the name is a setting, 0 when it is not one, negative with
 * *err naming the setting and the fault.
 */
int proxy_policy_set(ProxyPolicy *p, const char *name, const char *value, Error **err);
/* Reads every setting from the environment. */
int proxy_policy_from_env(ProxyPolicy *p, Error **err);
/* Reads a configuration file's text (docs/PROXY.md); errors are "WHAT:LINE: reason". */
int proxy_policy_load(ProxyPolicy *p, const char *text, size_t len, const char *what, Error **err);

/*
 * The request target's path as the rules see it: percent-decoded, lower case, without the /vX.Y
 * version prefix and the query.  Refuses (returns -EINVAL with *reason) what could be read two
 * ways: encoded slashes or backslashes, "." and ".." segments, empty segments ("//", a trailing
 * "/"), control and non-ASCII bytes, bad escapes, a malformed version prefix, a target that does
 * not start with "/".  *query points at the query in target (after '?') or is NULL.
 */
int proxy_path_normalize(const char *target, size_t len, char *out, size_t outsz, const char **query,
                         const char **reason);

/* Decides on a request (method and raw target as received). */
void proxy_decide(const ProxyPolicy *p, const char *method, size_t mlen, const char *target, size_t tlen,
                  ProxyDecision *d);

/*
 * Inspects a request body the decision asked for.  0: allowed; -EPERM (or -EINVAL for a body that
 * does not parse) with the reason in reason[].
 */
int proxy_inspect_body(const ProxyPolicy *p, ProxyInspect kind, const char *body, size_t len, char *reason,
                       size_t rsz);
