/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API's events, images, top, update and system/df (docs/API.md).  Import, load and save run the
 * stockade-image helper (the half of the CLI that links libarchive) with the request body as its
 * stdin or the response body from its stdout; rmi, top and update run the CLI's commands
 * (api_run_cli) and turn their output into the API's JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "container-store.h"
#include "events.h"
#include "image-store.h"
#include "json-util.h"
#include "jsonlog.h"
#include "serve.h"
#include "util.h"

/* ---- events ---- */

typedef struct EventsOut {
        ApiConn *c;
        bool failed;
} EventsOut;

static int event_out(void *ud, json_t *event, const char *line, size_t len)
{
        EventsOut *o = ud;
        char *l = xmalloc(len + 1);
        memcpy(l, line, len);
        l[len] = '\n';
        int r = api_chunk(o->c, l, len + 1);
        free(l);
        if (r < 0) {
                o->failed = true;
                return 1;
        }
        return 0;
}

static bool client_connected(void *ud)
{
        EventsOut *o = ud;
        struct pollfd p = { .fd = o->c->fd, .events = 0 };
        return !(poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)));
}

int api_query_filters(ApiConn *c, int (*add)(void *ud, const char *kv, Error **err), void *ud, Error **err)
{
        _cleanup_free_ char *q = api_query(c, "filters");
        _cleanup_json_ json_t *j = NULL;
        const char *key;
        json_t *vals;

        if (!q || !*q)
                return 0;
        j = json_loads(q, 0, NULL);
        if (!json_is_object(j))
                return error_setx(err, EINVAL, "filters: expected a JSON object of the form {\"key\":{\"value\":true}}");
        json_object_foreach(j, key, vals) {
                const char *v;
                json_t *x;
                size_t i;
                if (json_is_object(vals)) {
                        json_object_foreach(vals, v, x) {
                                _cleanup_free_ char *kv = xasprintf("%s=%s", key, v);
                                if (add(ud, kv, err) < 0)
                                        return -EINVAL;
                        }
                } else if (json_is_array(vals)) {
                        json_array_foreach(vals, i, x) {
                                if (!json_is_string(x))
                                        return error_setx(err, EINVAL, "filters.%s[%zu]: expected a string", key, i);
                                _cleanup_free_ char *kv = xasprintf("%s=%s", key, json_string_value(x));
                                if (add(ud, kv, err) < 0)
                                        return -EINVAL;
                        }
                } else
                        return error_setx(err, EINVAL, "filters.%s: expected an object or an array", key);
        }
        return 0;
}

static int event_filter_add_kv(void *ud, const char *kv, Error **err)
{
        return event_filter_add(ud, kv, err);
}

int api_events(ApiConn *c, const char *unused)
{
        _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
        _cleanup_free_ char *since = api_query(c, "since"), *until = api_query(c, "until");
        EventsReadOpts o = { 0 };
        EventsOut out = { .c = c };
        struct timespec now;
        Error *err = NULL;

        api_actor(c, "events", NULL, NULL, NULL);
        clock_gettime(CLOCK_REALTIME, &now);
        if (api_query_filters(c, event_filter_add_kv, f, &err) < 0)
                return api_reply_err(c, err);
        if (since && *since) {
                if (parse_timestamp_arg(since, now, &o.since, &err) < 0)
                        return api_reply_err(c, err);
                o.has_since = true;
        }
        if (until && *until) {
                if (parse_timestamp_arg(until, now, &o.until, &err) < 0)
                        return api_reply_err(c, err);
                o.has_until = true;
        }
        o.filter = event_filter_empty(f) ? NULL : f;
        o.follow = !(o.has_until && o.until.tv_sec < now.tv_sec);
        o.running = client_connected;
        o.running_ud = &out;
        if (api_chunked_begin(c, 200, "application/json") < 0)
                return -EPIPE;
        c->close_after = true;
        if (events_read(c->e, &o, event_out, &out, &err) < 0)
                error_free(err);
        if (!out.failed)
                (void)api_chunk_end(c);
        return 0;
}

/* ---- the image helper ---- */

/* Starts stockade-image with the engine's roots, stdin `in` and stdout `out` (-1: a memfd), stderr a memfd. */
static pid_t spawn_image_helper(ApiConn *c, char **args, int in, int out, int *ret_err_fd)
{
        _cleanup_free_ char *helper = engine_helper_path(c->e, IMAGE_HELPER);
        _cleanup_strv_ char **argv = NULL;
        int efd = memfd_create("stockade-image-stderr", MFD_CLOEXEC);
        pid_t pid;

        if (efd < 0)
                return -errno;
        strv_push(&argv, helper);
        for (char **a = args; *a; a++)
                strv_push(&argv, *a);
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(in >= 0 ? in : null, 0);
                dup2(out >= 0 ? out : efd, 1);
                dup2(efd, 2);
                signal(SIGPIPE, SIG_DFL);
                /* the server's roots, with the precedence of the environment (a missing daemon.json is no error) */
                setenv("STOCKADE_DATA_ROOT", c->e->data_root, 1);
                setenv("STOCKADE_EXEC_ROOT", c->e->exec_root, 1);
                if (c->e->config_file)
                        setenv("STOCKADE_CONFIG", c->e->config_file, 1);
                execv(argv[0], argv);
                fprintf(stderr, "stockade: executing %s: %s\n", argv[0], strerror(errno));
                _exit(125);
        }
        if (pid < 0) {
                close(efd);
                return -errno;
        }
        *ret_err_fd = efd;
        return pid;
}

static int wait_status(pid_t pid)
{
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *memfd_text(int fd)
{
        char *text = NULL;
        (void)lseek(fd, 0, SEEK_SET);
        if (read_all_fd(fd, 1 << 20, &text, NULL) < 0)
                return xstrdup("");
        return text;
}

/* Runs the helper with the request body as its stdin; its stdout in *ret_out.  The exit status. */
static int helper_with_body(ApiConn *c, char **args, char **ret_out, char **ret_err)
{
        int p[2], efd = -1, ofd = memfd_create("stockade-image-stdout", MFD_CLOEXEC), code;
        char buf[65536];
        bool body_ok = true;

        if (ofd < 0 || pipe2(p, O_CLOEXEC) < 0) {
                if (ofd >= 0)
                        close(ofd);
                return -errno;
        }
        pid_t pid = spawn_image_helper(c, args, p[0], ofd, &efd);
        close(p[0]);
        if (pid < 0) {
                close(p[1]);
                close(ofd);
                return (int)pid;
        }
        for (;;) {
                ssize_t k = api_body_read(c, buf, sizeof(buf));
                if (k < 0)
                        body_ok = false;
                if (k <= 0)
                        break;
                if (write_all(p[1], buf, (size_t)k) < 0)
                        break; /* the helper stopped reading: its status says why */
        }
        close(p[1]);
        code = wait_status(pid);
        *ret_out = memfd_text(ofd);
        *ret_err = memfd_text(efd);
        close(ofd);
        close(efd);
        if (!body_ok) {
                c->close_after = true;
                return code ? code : 125;
        }
        return code;
}

int api_images_create(ApiConn *c, const char *unused)
{
        _cleanup_free_ char *src = api_query(c, "fromSrc"), *repo = api_query(c, "repo"), *tag = api_query(c, "tag"),
                            *msg = api_query(c, "message"), *out = NULL, *err_text = NULL, *ref = NULL;
        _cleanup_strv_ char **args = NULL;

        api_actor(c, "import", "image", NULL, repo);
        if (!src) {
                _cleanup_free_ char *img = api_query(c, "fromImage");
                return api_reply_error(c, 404, "pull access denied for %s: stockade has no registry client (docker load or "
                                       "import the image)", img ? img : "");
        }
        if (!STREQ(src, "-"))
                return api_reply_error(c, 400, "fromSrc: only \"-\" (the request body) is supported, not a URL");
        strv_push(&args, "import");
        if (msg && *msg) {
                strv_push(&args, "-m");
                strv_push(&args, msg);
        }
        {
                /* changes=... may repeat: each is one --change */
                _cleanup_strv_ char **changes = http_query_get_all(c->req.query, "changes");
                for (char **ch = changes; ch && *ch; ch++) {
                        strv_push(&args, "-c");
                        strv_push(&args, *ch);
                }
        }
        strv_push(&args, "-");
        if (repo && *repo) {
                ref = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
                strv_push(&args, ref);
        }
        int code = helper_with_body(c, args, &out, &err_text);
        if (code != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                snprintf(c->outcome, sizeof(c->outcome), "%s", m);
                return api_reply_error(c, code == 125 && strstr(m, "open") ? 500 : 400, "%s", m);
        }
        out[strcspn(out, "\n")] = '\0';
        api_actor(c, NULL, NULL, out, NULL);
        _cleanup_json_ json_t *st = json_pack("{s:s}", "status", out);
        _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT);
        if (api_chunked_begin(c, 200, "application/json") < 0)
                return -EPIPE;
        (void)api_chunk(c, text, strlen(text));
        (void)api_chunk(c, "\r\n", 2);
        return api_chunk_end(c);
}

int api_images_load(ApiConn *c, const char *unused)
{
        _cleanup_free_ char *out = NULL, *err_text = NULL;
        char *args[] = { "load", NULL };

        api_actor(c, "load", "image", NULL, NULL);
        int code = helper_with_body(c, args, &out, &err_text);
        if (code != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                return api_reply_error(c, 500, "%s", m);
        }
        if (api_chunked_begin(c, 200, "application/json") < 0)
                return -EPIPE;
        char *save = NULL;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                /* dockerd's stream lines end in "\n" inside the string, and the JSON in "\r\n" */
                _cleanup_free_ char *msg = xasprintf("%s\n", l);
                _cleanup_json_ json_t *j = json_pack("{s:s}", "stream", msg);
                _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
                _cleanup_free_ char *line = xasprintf("%s\r\n", text);
                (void)api_chunk(c, line, strlen(line)); /* quiet=1 only silences progress, as dockerd */
        }
        return api_chunk_end(c);
}

int api_images_get(ApiConn *c, const char *name)
{
        _cleanup_strv_ char **args = NULL;
        _cleanup_free_ char *err_text = NULL;
        char buf[65536];
        int p[2], efd = -1;

        api_actor(c, "save", "image", NULL, name);
        strv_push(&args, "save");
        strv_push(&args, "--");
        if (name)
                strv_push(&args, name);
        else {
                /* GET /images/get?names=a&names=b */
                _cleanup_strv_ char **names = http_query_get_all(c->req.query, "names");
                for (char **n = names; n && *n; n++)
                        strv_push(&args, *n);
                if (strv_length(args) < 3)
                        return api_reply_error(c, 400, "names: at least one image is required");
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                return api_reply_error(c, 500, "pipe: %s", strerror(errno));
        pid_t pid = spawn_image_helper(c, args, -1, p[1], &efd);
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return api_reply_error(c, 500, "starting %s: %s", IMAGE_HELPER, strerror((int)-pid));
        }
        /* the head only once the archive has started: a refusal is still an error response */
        ssize_t k = read(p[0], buf, sizeof(buf));
        if (k <= 0) {
                close(p[0]);
                int code = wait_status(pid);
                err_text = memfd_text(efd);
                close(efd);
                _cleanup_free_ char *m = api_cli_message(err_text);
                return api_reply_error(c, code == 0 ? 500 : strstr(m, "No such image") ? 404 : 500, "%s", m);
        }
        if (api_chunked_begin(c, 200, "application/x-tar") < 0) {
                close(p[0]);
                kill(pid, SIGTERM);
                wait_status(pid);
                close(efd);
                return -EPIPE;
        }
        c->close_after = true;
        while (k > 0) {
                if (api_chunk(c, buf, (size_t)k) < 0)
                        break;
                k = read(p[0], buf, sizeof(buf));
        }
        close(p[0]);
        int code = wait_status(pid);
        close(efd);
        if (code == 0 && k == 0)
                (void)api_chunk_end(c); /* a failed save ends without the last chunk: the client sees the cut */
        return 0;
}

/* ---- rmi, top, update: the CLI's commands ---- */

int api_images_delete(ApiConn *c, const char *name)
{
        _cleanup_free_ char *out = NULL, *err_text = NULL;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_json_ json_t *res = json_array();

        api_actor(c, "rmi", "image", NULL, name);
        strv_push(&argv, "rmi");
        if (api_query_bool(c, "force"))
                strv_push(&argv, "-f");
        if (api_query_bool(c, "noprune"))
                strv_push(&argv, "--no-prune");
        strv_push(&argv, "--");
        strv_push(&argv, name);
        int code = api_run_cli(c, cmd_rmi, argv, &out, &err_text);
        if (code != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                int status = strstr(m, "No such image") ? 404 : strstr(m, "conflict") || strstr(m, "being used") ? 409 : 500;
                return api_reply_error(c, status, "%s", m);
        }
        char *save = NULL;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *colon = strstr(l, ": ");
                if (!colon)
                        continue;
                *colon = '\0';
                json_array_append_new(res, json_pack("{s:s}", l, colon + 2));
        }
        return api_reply_json(c, 200, res);
}

int api_images_inspect(ApiConn *c, const char *name)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *out = NULL;
        Error *err = NULL;

        api_actor(c, "inspect", "image", NULL, name);
        if (image_store_open(c->e->data_root, &s, &err) < 0)
                return api_reply_err(c, err);
        out = cli_image_for_inspect(s, name, &err);
        if (!out) {
                error_free(err);
                return api_reply_error(c, 404, "No such image: %s", name);
        }
        return api_reply_json(c, 200, out);
}

int api_images_tag(ApiConn *c, const char *name)
{
        _cleanup_free_ char *repo = api_query(c, "repo"), *tag = api_query(c, "tag"), *target = NULL, *err_text = NULL;
        api_actor(c, "tag", "image", NULL, name);
        if (!repo || !*repo)
                return api_reply_error(c, 400, "repo: a repository name is required");
        target = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        char *argv[] = { "tag", (char *)name, target, NULL }; /* name: never "-..." (the route refuses it) */
        if (api_run_cli(c, cmd_tag, argv, NULL, &err_text) != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                return api_reply_error(c, strstr(m, "No such image") ? 404 : 400, "%s", m);
        }
        return api_reply(c, 201, NULL, "", 0);
}

int api_containers_top(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *out = NULL, *err_text = NULL, *ps_args = api_query(c, "ps_args");
        _cleanup_strv_ char **argv = NULL;
        _cleanup_json_ json_t *titles = json_array(), *procs = json_array(), *res = NULL;
        char *save = NULL, *line;

        api_actor(c, "top", "container", NULL, ref);
        strv_push(&argv, "top");
        strv_push(&argv, ref);
        if (ps_args && *ps_args) {
                /* split on blanks, as dockerd does (strings.Split(psArgs, " ")) */
                _cleanup_free_ char *copy = xstrdup(ps_args);
                char *s2 = NULL;
                for (char *t = strtok_r(copy, " ", &s2); t; t = strtok_r(NULL, " ", &s2))
                        strv_push(&argv, t);
        }
        int code = api_run_cli(c, cmd_top, argv, &out, &err_text);
        if (code != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                return api_reply_error(c, strstr(m, "No such container") ? 404 : strstr(m, "not running") ? 409 : 500, "%s", m);
        }
        line = strtok_r(out, "\n", &save);
        for (char *s2 = NULL, *t = line ? strtok_r(line, " \t", &s2) : NULL; t; t = strtok_r(NULL, " \t", &s2))
                json_array_append_new(titles, json_string(t));
        size_t nt = json_array_size(titles);
        while (nt && (line = strtok_r(NULL, "\n", &save))) {
                json_t *row = json_array();
                char *p = line;
                for (size_t i = 0; i < nt; i++) {
                        p += strspn(p, " \t");
                        size_t len = i + 1 == nt ? strlen(p) : strcspn(p, " \t");
                        json_array_append_new(row, json_stringn(p, len));
                        p += len;
                }
                json_array_append_new(procs, row);
        }
        res = json_pack("{s:O, s:O}", "Processes", procs, "Titles", titles);
        return api_reply_json(c, 200, res);
}

int api_containers_update(ApiConn *c, const char *ref)
{
        static const char *const ints[][2] = {
                { "Memory", "--memory" },         { "MemorySwap", "--memory-swap" }, { "MemoryReservation", "--memory-reservation" },
                { "CpuShares", "--cpu-shares" }, { "CpuPeriod", "--cpu-period" },   { "CpuQuota", "--cpu-quota" },
                { "PidsLimit", "--pids-limit" },
        };
        _cleanup_free_ char *body = NULL, *out = NULL, *err_text = NULL;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_json_ json_t *req = NULL;
        json_t *v;
        size_t len;

        api_actor(c, "update", "container", NULL, ref);
        if (api_read_body(c, API_BODY_MAX, &body, &len) < 0)
                return 0;
        req = json_loadb(body, len, 0, NULL);
        if (!json_is_object(req))
                return api_reply_error(c, 400, "invalid JSON in the request body");
        strv_push(&argv, "update");
        for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                v = json_object_get(req, ints[i][0]);
                if (!v || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == 0 && !STREQ(ints[i][0], "PidsLimit")))
                        continue;
                if (!json_is_integer(v))
                        return api_reply_error(c, 400, "%s: expected an integer", ints[i][0]);
                _cleanup_free_ char *a = xasprintf("%s=%lld", ints[i][1], (long long)json_integer_value(v));
                if (STREQ(ints[i][0], "PidsLimit") && json_integer_value(v) == 0)
                        continue;
                strv_push(&argv, a);
        }
        if ((v = json_object_get(req, "NanoCpus")) && json_is_integer(v) && json_integer_value(v) > 0) {
                _cleanup_free_ char *a = xasprintf("--cpus=%lld.%09lld", (long long)(json_integer_value(v) / 1000000000),
                                                   (long long)(json_integer_value(v) % 1000000000));
                strv_push(&argv, a);
        }
        for (const char *const *k = (const char *const[]){ "CpusetCpus", "CpusetMems", NULL }; *k; k++) {
                v = json_object_get(req, *k);
                if (json_is_string(v) && *json_string_value(v)) {
                        _cleanup_free_ char *a = xasprintf("--%s=%s", STREQ(*k, "CpusetCpus") ? "cpuset-cpus" : "cpuset-mems",
                                                           json_string_value(v));
                        strv_push(&argv, a);
                }
        }
        v = json_object_get(req, "RestartPolicy");
        if (json_is_object(v) && json_is_string(json_object_get(v, "Name")) && *json_string_value(json_object_get(v, "Name"))) {
                json_int_t n = json_integer_value(json_object_get(v, "MaximumRetryCount"));
                _cleanup_free_ char *a = n > 0 ? xasprintf("--restart=%s:%lld", json_string_value(json_object_get(v, "Name")), (long long)n)
                                               : xasprintf("--restart=%s", json_string_value(json_object_get(v, "Name")));
                strv_push(&argv, a);
        }
        strv_push(&argv, ref);
        int code = api_run_cli(c, cmd_update, argv, &out, &err_text);
        if (code != 0) {
                _cleanup_free_ char *m = api_cli_message(err_text);
                return api_reply_error(c, strstr(m, "No such container") ? 404 : 400, "%s", m);
        }
        _cleanup_json_ json_t *res = json_pack("{s:[]}", "Warnings");
        return api_reply_json(c, 200, res);
}

/* ---- system/df ---- */

int api_system_df(ApiConn *c, const char *unused)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *images = NULL, *recs = NULL, *out = NULL, *imgs = json_array(), *ctrs = json_array(), *vols = NULL;
        json_int_t layers = 0;
        Error *err = NULL;
        size_t i, k;
        json_t *img, *r;

        api_actor(c, "df", NULL, NULL, NULL);
        if (image_store_open(c->e->data_root, &s, &err) < 0 || image_list(s, &images, &err) < 0 ||
            container_list(c->e, &recs, &err) < 0)
                return api_reply_err(c, err);
        json_array_foreach(images, i, img) {
                json_int_t used = 0, size = json_integer_value(json_object_get(img, "Size"));
                const char *iid = json_string_value(json_object_get(img, "Id")) ?: "";
                json_array_foreach(recs, k, r) used += STREQ(json_string_value(json_object_get(r, "Image")) ?: "", iid);
                layers += size;
                json_array_append_new(imgs, json_pack("{s:I, s:O, s:s, s:O, s:O, s:[], s:I, s:I, s:I, s:n}", "Containers", used,
                                                      "Created", json_object_get(img, "Created") ?: json_integer(0), "ParentId",
                                                      "", "Id", json_object_get(img, "Id"), "RepoTags",
                                                      json_object_get(img, "RepoTags") ?: json_array(), "RepoDigests", "Size",
                                                      size, "SharedSize", (json_int_t)0, "VirtualSize", size, "Labels"));
        }
        json_array_foreach(recs, i, r) {
                container_refresh_state(r);
                const char *name = json_string_value(json_object_get(r, "Name")) ?: "";
                _cleanup_free_ char *status = cli_status_text(r);
                json_array_append_new(ctrs, json_pack("{s:O, s:[s], s:O, s:O, s:s, s:I, s:s, s:s, s:I, s:I}", "Id",
                                                      json_object_get(r, "Id"), "Names", name, "Image",
                                                      json_object_get(json_object_get(r, "Config"), "Image") ?: json_string(""),
                                                      "ImageID", json_object_get(r, "Image") ?: json_string(""), "Command", "",
                                                      "Created", (json_int_t)0, "State", container_status(r), "Status", status, "SizeRw",
                                                      (json_int_t)0, "SizeRootFs", (json_int_t)0));
        }
        vols = api_volumes_usage(c, recs, &err);
        if (!vols)
                return api_reply_err(c, err);
        out = json_pack("{s:I, s:O, s:O, s:O, s:[]}", "LayersSize", layers, "Images", imgs, "Containers", ctrs, "Volumes", vols,
                        "BuildCache");
        return api_reply_json(c, 200, out);
}

/* ---- stats ---- */

static json_t *cpu_stats(const CliUsage *u, uint64_t sys)
{
        return json_pack("{s:{s:I, s:n, s:I, s:I}, s:I, s:i, s:{s:i, s:i, s:i}}", "cpu_usage", "total_usage",
                         (json_int_t)u->cpu_ns, "percpu_usage", "usage_in_kernelmode", (json_int_t)0, "usage_in_usermode",
                         (json_int_t)0, "system_cpu_usage", (json_int_t)sys, "online_cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                         "throttling_data", "periods", 0, "throttled_periods", 0, "throttled_time", 0);
}

/* One stats object in dockerd's shape (cgroup v1 field names; memory usage without inactive file pages). */
static json_t *stats_json(json_t *rec, const CliUsage *pre, uint64_t presys, const struct timespec *pre_ts,
                          const CliUsage *now, uint64_t sys, const struct timespec *ts)
{
        char read[RFC3339NANO_MAX], preread[RFC3339NANO_MAX];
        format_rfc3339nano_buf(ts, false, read);
        if (pre_ts)
                format_rfc3339nano_buf(pre_ts, false, preread);
        else
                snprintf(preread, sizeof(preread), "0001-01-01T00:00:00Z");
        return json_pack("{s:s, s:s, s:{s:I}, s:{s:[{s:i, s:i, s:s, s:I}, {s:i, s:i, s:s, s:I}], s:n, s:n, s:n, s:n, s:n, s:n,"
                         " s:n}, s:i, s:{}, s:o, s:o, s:{s:I, s:I, s:{s:I}, s:I}, s:O, s:O, s:{}}",
                         "read", read, "preread", preread, "pids_stats", "current", (json_int_t)now->pids, "blkio_stats",
                         "io_service_bytes_recursive", "major", 0, "minor", 0, "op", "Read", "value", (json_int_t)now->blk_read, "major",
                         0, "minor", 0, "op", "Write", "value", (json_int_t)now->blk_write, "io_serviced_recursive",
                         "io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                         "io_time_recursive", "sectors_recursive", "num_procs", 0, "storage_stats", "cpu_stats",
                         cpu_stats(now, sys), "precpu_stats", cpu_stats(pre, presys), "memory_stats", "usage",
                         (json_int_t)now->mem_usage, "max_usage", (json_int_t)0, "stats", "total_inactive_file",
                         (json_int_t)0, "limit", (json_int_t)now->mem_limit, "name", json_object_get(rec, "Name"), "id",
                         json_object_get(rec, "Id"), "networks");
}

int api_containers_stats(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *stream_q = api_query(c, "stream");
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;
        bool stream = !stream_q || api_query_bool(c, "stream"), one_shot = api_query_bool(c, "one-shot");
        CliUsage pre = { 0 }, now;
        uint64_t presys = 0, sys;
        struct timespec pre_ts, ts;
        bool have_pre = false;

        api_actor(c, "stats", "container", NULL, ref);
        if (container_lookup(c->e, ref, &id, &err) < 0 || container_load(c->e, id, &rec, &err) < 0)
                return api_reply_err(c, err);
        api_actor(c, NULL, NULL, id, json_string_value(json_object_get(rec, "Name")));
        container_refresh_state(rec);
        if (!stream && !one_shot) {
                /* dockerd's answer without streaming has a previous sample to compute CPU use against */
                cli_container_usage(rec, &pre);
                presys = cli_system_cpu_ns();
                clock_gettime(CLOCK_REALTIME, &pre_ts);
                have_pre = true;
                struct timespec d = { 0, 500 * 1000000L };
                nanosleep(&d, NULL);
        }
        if (!stream) {
                cli_container_usage(rec, &now);
                sys = cli_system_cpu_ns();
                clock_gettime(CLOCK_REALTIME, &ts);
                _cleanup_json_ json_t *j = stats_json(rec, &pre, presys, have_pre ? &pre_ts : NULL, &now, sys, &ts);
                return api_reply_json(c, 200, j);
        }
        if (api_chunked_begin(c, 200, "application/json") < 0)
                return -EPIPE;
        c->close_after = true;
        EventsOut alive = { .c = c };
        for (;;) {
                _cleanup_json_ json_t *cur = NULL;
                if (container_load(c->e, id, &cur, NULL) < 0)
                        break;
                container_refresh_state(cur);
                cli_container_usage(cur, &now);
                sys = cli_system_cpu_ns();
                clock_gettime(CLOCK_REALTIME, &ts);
                _cleanup_json_ json_t *j = stats_json(cur, &pre, presys, have_pre ? &pre_ts : NULL, &now, sys, &ts);
                _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                _cleanup_free_ char *line = xasprintf("%s\n", text);
                if (api_chunk(c, line, strlen(line)) < 0)
                        return -EPIPE;
                if (!now.running)
                        break;
                pre = now;
                presys = sys;
                pre_ts = ts;
                have_pre = true;
                for (int i = 0; i < 10; i++) {
                        struct timespec d = { 0, 100 * 1000000L };
                        nanosleep(&d, NULL);
                        if (!client_connected(&alive))
                                return -EPIPE;
                }
        }
        return api_chunk_end(c);
}
