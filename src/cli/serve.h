/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * `stockade serve` (docs/API.md): the Docker Engine API 1.41 on a socket.  cmd-serve.c is the
 * server (listener, one process per connection, HTTP framing, limits, audit); serve-api.c the
 * endpoints, which call the engine in the connection's process as the CLI does.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cli.h"
#include "engine.h"
#include "http-request.h"

#define API_VERSION     "1.41"
#define API_VERSION_NUM 141
#define API_MIN_VERSION_NUM 112
#define API_BODY_MAX    (8 << 20) /* a JSON request body (an inline seccomp profile fits many times) */

typedef struct ApiConn {
        int fd;
        Engine *e;
        struct ucred peer;
        bool peer_known;
        char tls_subject[1024];  /* a TLS client's certificate subject ("-": none), "" without TLS */
        char buf[HTTPREQ_HEAD_MAX + 4096]; /* bytes read and not yet used */
        size_t len;
        HttpRequest req;
        const char *route;      /* the path without its /vX.Y prefix */
        int version;            /* the client's API version (141 when not in the path) */
        bool head;              /* a HEAD request: no body in the response */
        bool close_after;       /* answer, then close */
        bool hijacked;          /* the connection left HTTP (attach, exec start) */
        bool body_read;         /* the request body has been consumed */
        HttpChunked chunked;
        int64_t body_left;      /* Content-Length bytes still unread */
        /* for the audit record */
        char action[32];
        char actor_type[16];
        char actor_id[80];
        char actor_name[256];
        char outcome[512];
        int status;
} ApiConn;

/* ---- responses (cmd-serve.c) ---- */
/* A response with a body (Content-Length); NULL ctype: none. */
int api_reply(ApiConn *c, int status, const char *ctype, const char *body, size_t len);
/* JSON as dockerd writes it (Go's encoder: compact, keys in order, a trailing newline). */
int api_reply_json(ApiConn *c, int status, json_t *j);
/* {"message": ...} with docker's status code. */
int api_reply_error(ApiConn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An Error mapped to a status: ENOENT 404, EEXIST/EBUSY/EALREADY 409, EINVAL 400, else 500. */
int api_reply_err(ApiConn *c, Error *err);
int api_reply_status(ApiConn *c, int status); /* no body (204, 304) */
/* The head of a chunked response; then api_chunk() pieces and api_chunk_end(). */
int api_chunked_begin(ApiConn *c, int status, const char *ctype);
int api_chunk(ApiConn *c, const void *p, size_t n);
int api_chunk_end(ApiConn *c);
/* 101 UPGRADED (or 200 OK without an Upgrade request, as dockerd), with docker's stream type. */
int api_hijack(ApiConn *c, bool tty);

/* The request body, whole (at most `max` bytes); *ret NUL-terminated.  400/413 answered on error. */
int api_read_body(ApiConn *c, size_t max, char **ret, size_t *ret_len);
/* The next piece of the body (chunked decoded): bytes, 0 at its end, <0 on error. */
ssize_t api_body_read(ApiConn *c, char *p, size_t n);
/* Reads what is already buffered, then from the socket (after a hijack). */
ssize_t api_conn_read(ApiConn *c, void *p, size_t n);
int api_write(ApiConn *c, const void *p, size_t n);

/* The query parameter as a boolean ("1", "true", "True" ...: dockerd's BoolValue). */
bool api_query_bool(ApiConn *c, const char *key);
char *api_query(ApiConn *c, const char *key);

/*
 * The `filters` query parameter, {"key":{"value":true}} (or the older {"key":["value"]}), handed to
 * add() as "key=value" strings, dockerd's filters.Args as the CLI's --filter takes them.  A malformed
 * parameter or add()'s refusal: <0 with the error (for a 400).
 */
int api_query_filters(ApiConn *c, int (*add)(void *ud, const char *kv, Error **err), void *ud, Error **err);

/*
 * The request body as a JSON object (dockerd's CheckForJSON and decoding): an announced body must be
 * application/json; without a body, *ret is an empty object unless `required`.  <0 when answered (400,
 * 413).
 */
int api_json_body(ApiConn *c, bool required, json_t **ret);

/* Who did what, for the audit record. */
void api_actor(ApiConn *c, const char *action, const char *type, const char *id, const char *name);

/*
 * Runs one of the CLI's commands (cmd_top, cmd_rmi, cmd_update, cmd_exec ...) in a child process, as
 * `stockade` would run it, with stdin from `in_fd` (-1: /dev/null) and stdout and stderr captured into
 * *ret_out and *ret_err (NUL-terminated, at most 16 MiB each; either may be NULL to discard).  Returns
 * its exit status.  The command's own checks and messages are the API's.
 */
int api_run_cli(ApiConn *c, cmd_fn fn, char **argv, char **ret_out, char **ret_err);
/* The same without waiting: the child's pid; its stdout and stderr as pipes (stderr_fd NULL: into stdout). */
pid_t api_spawn_cli(ApiConn *c, cmd_fn fn, char **argv, int in_fd, int *stdout_fd, int *stderr_fd);

/* In a child: runs the CLI command function with the stdio the caller set up, and exits with its status. */
_Noreturn void api_cli_child(ApiConn *c, cmd_fn fn, char **argv);

/* The last line of a CLI command's stderr without its "stockade: " or "Error response from daemon: " prefix. */
char *api_cli_message(const char *err_text);

/* ---- endpoints (serve-api.c: containers; serve-exec.c; serve-system.c: events, images, df; serve-volume.c); ref: from the path ---- */
int api_exec_create(ApiConn *c, const char *ref);
int api_exec_start(ApiConn *c, const char *exec_id);
int api_exec_inspect(ApiConn *c, const char *exec_id);
int api_exec_resize(ApiConn *c, const char *exec_id);
int api_events(ApiConn *c, const char *unused);
int api_images_create(ApiConn *c, const char *unused);
int api_images_load(ApiConn *c, const char *unused);
int api_images_get(ApiConn *c, const char *name);
int api_images_delete(ApiConn *c, const char *name);
int api_images_inspect(ApiConn *c, const char *name);
int api_images_tag(ApiConn *c, const char *name);
int api_system_df(ApiConn *c, const char *unused);
int api_volumes_list(ApiConn *c, const char *unused);
int api_volumes_create(ApiConn *c, const char *unused);
int api_volumes_prune(ApiConn *c, const char *unused);
int api_volumes_inspect(ApiConn *c, const char *name);
int api_volumes_delete(ApiConn *c, const char *name);
/* system/df's Volumes: every volume's inspect form with UsageData {Size, RefCount}; recs: the container records. */
json_t *api_volumes_usage(ApiConn *c, json_t *recs, Error **err);
int api_containers_top(ApiConn *c, const char *ref);
int api_containers_update(ApiConn *c, const char *ref);
int api_containers_stats(ApiConn *c, const char *ref);

/* Dispatches c->req (route already stripped of its version); answers, returns <0 to close. */
int api_dispatch(ApiConn *c);
