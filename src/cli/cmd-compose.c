/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade compose: the project (src/engine/compose.c) driven through the engine's own verbs.  Each
 * service's container is made by the same `create` parser and lifecycle_create() as `stockade run`,
 * named <project>-<service>-1 and labelled com.docker.compose.* as docker compose v2 does, so that
 * ps, down, logs and the rest find a project's containers by label.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "compose.h"
#include "container-store.h"
#include "image-store.h"
#include "json-util.h"
#include "lifecycle.h"
#include "pflag.h"
#include "runopts.h"
#include "volume.h"

extern char **environ;

#define LABEL_PROJECT "com.docker.compose.project"
#define LABEL_SERVICE "com.docker.compose.service"
#define LABEL_ONEOFF "com.docker.compose.oneoff"
#define LABEL_HASH "com.docker.compose.config-hash"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
        interrupted = sig;
}

static const char *label_of(json_t *rec, const char *key)
{
        return json_string_value(json_object_get(json_object_get(json_object_get(rec, "Config"), "Labels"), key));
}

static const char *name_of(json_t *rec)
{
        const char *n = json_string_value(json_object_get(rec, "Name")) ?: "";
        return n[0] == '/' ? n + 1 : n;
}

/* The project's containers (records), oldest first; with `service`, that service's only. */
static json_t *project_containers(Engine *e, ComposeProject *p, const char *service, bool oneoff_too)
{
        json_t *all = NULL, *out = json_array(), *rec;
        size_t i;

        if (container_list(e, &all, NULL) < 0)
                return out;
        json_array_foreach(all, i, rec) {
                const char *proj = label_of(rec, LABEL_PROJECT), *svc = label_of(rec, LABEL_SERVICE);
                const char *oneoff = label_of(rec, LABEL_ONEOFF);
                if (!proj || !STREQ(proj, p->name))
                        continue;
                if (service && (!svc || !STREQ(svc, service)))
                        continue;
                if (!oneoff_too && oneoff && STREQ(oneoff, "True"))
                        continue;
                json_array_append(out, rec);
        }
        json_decref(all);
        return out;
}

static void print_list(const char *prefix, char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                fprintf(stderr, "%s%s\n", prefix, v[i]);
}

static void print_socket_warning(ComposeService *s)
{
        for (size_t i = 0; s->socket_mounts && s->socket_mounts[i]; i++) {
                fprintf(stderr,
                        "WARNING: ************************************************************************\n"
                        "WARNING: service \"%s\" mounts a container engine's socket (%s).\n"
                        "WARNING: Whoever controls that container controls the engine: it can start a privileged\n"
                        "WARNING: container, mount the host's / and so own the host.  Mount stockade-proxy's\n"
                        "WARNING: filtered socket instead, allowing only the API calls it needs (docs/PROXY.md):\n"
                        "WARNING:   CONTAINERS=1 stockade-proxy --listen unix:/run/stockade-proxy/docker.sock %s\n"
                        "WARNING: ************************************************************************\n",
                        s->name, s->socket_mounts[i], strchr(s->socket_mounts[i], '/') ? strchr(s->socket_mounts[i], '/') : "");
        }
}

/* The services named (with those they depend on), or all; in dependency order.  NULL after an error. */
static bool *select_services(ComposeProject *p, char **names, bool with_deps)
{
        bool *sel = xcalloc(p->n_services ? p->n_services : 1, sizeof(bool));

        if (!names || !names[0]) {
                for (size_t i = 0; i < p->n_services; i++)
                        sel[i] = true;
                return sel;
        }
        for (size_t n = 0; names[n]; n++) {
                if (!compose_service(p, names[n])) {
                        fprintf(stderr, "stockade: no such service: %s\n", names[n]);
                        free(sel);
                        return NULL;
                }
                sel[compose_service(p, names[n]) - p->services] = true;
        }
        /* services come after their dependencies: walking backwards marks the whole closure */
        for (size_t i = p->n_services; with_deps && i-- > 0;) {
                const char *k;
                json_t *d;
                if (!sel[i])
                        continue;
                json_object_foreach(p->services[i].depends_on, k, d) {
                        ComposeService *dep = compose_service(p, k);
                        if (dep)
                                sel[dep - p->services] = true;
                }
        }
        return sel;
}

/* ---- up ---- */

static int container_state(Engine *e, const char *id, bool *running, int *exit_code)
{
        _cleanup_json_ json_t *rec = NULL;
        if (container_load(e, id, &rec, NULL) < 0)
                return -ENOENT;
        *running = container_is_running(rec);
        *exit_code = (int)json_integer_value(json_object_get(json_object_get(rec, "State"), "ExitCode"));
        return 0;
}

static void sleep_ms(int64_t ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
                ;
}

/* Waits until dependency `dep` of `svc` meets `condition`; 0, or the exit status after saying why. */
static int wait_condition(Engine *e, ComposeProject *p, ComposeService *svc, ComposeService *dep, const char *condition)
{
        _cleanup_free_ char *cname = compose_container_name(p, dep), *id = NULL;
        bool running;
        int code;

        if (container_lookup(e, cname, &id, NULL) < 0)
                return cli_failf(NULL, "service \"%s\" depends on \"%s\", which has no container", svc->name, dep->name);
        if (STREQ(condition, "service_completed_successfully")) {
                fprintf(stderr, " Container %s  Waiting\n", cname);
                while (!interrupted) {
                        if (container_state(e, id, &running, &code) < 0)
                                return cli_failf(NULL, "container %s disappeared", cname);
                        if (!running) {
                                if (code != 0)
                                        return cli_failf(NULL, "service \"%s\" didn't complete successfully: exit %d", dep->name,
                                                         code);
                                fprintf(stderr, " Container %s  Exited\n", cname);
                                return 0;
                        }
                        sleep_ms(100);
                }
                return 130;
        }
        if (STREQ(condition, "service_healthy")) {
                /* the monitor runs the healthcheck and keeps State.Health ("starting", "healthy", "unhealthy") */
                fprintf(stderr, " Container %s  Waiting\n", cname);
                while (!interrupted) {
                        _cleanup_json_ json_t *rec = NULL;
                        if (container_load(e, id, &rec, NULL) < 0)
                                return cli_failf(NULL, "container %s disappeared", cname);
                        json_t *health = json_object_get(json_object_get(rec, "State"), "Health");
                        const char *st = json_string_value(json_object_get(health, "Status"));
                        if (!health)
                                break;
                        if (st && STREQ(st, "healthy")) {
                                fprintf(stderr, " Container %s  Healthy\n", cname);
                                return 0;
                        }
                        if (st && STREQ(st, "unhealthy"))
                                return cli_failf(NULL, "dependency failed to start: container %s is unhealthy", cname);
                        if (!container_is_running(rec))
                                return cli_failf(NULL, "dependency failed to start: container %s exited (%d) before it was "
                                                 "healthy", cname,
                                                 (int)json_integer_value(json_object_get(json_object_get(rec, "State"), "ExitCode")));
                        sleep_ms(100);
                }
                if (interrupted)
                        return 130;
                return cli_failf(NULL, "dependency failed to start: container %s has no healthcheck", cname);
        }
        return 0;
}
/* A container's anonymous volumes: {destination: volume name}. */
static json_t *anonymous_mounts(Engine *e, json_t *rec)
{
        json_t *out = json_object(), *m;
        size_t i;

        json_array_foreach(json_object_get(rec, "Mounts"), i, m) {
                const char *n = json_string_value(json_object_get(m, "Name"));
                const char *dst = json_string_value(json_object_get(m, "Destination"));
                _cleanup_json_ json_t *vol = NULL;
                if (n && dst && volume_get(e, n, &vol, NULL) == 0 &&
                    json_object_get(json_object_get(vol, "Labels"), VOLUME_ANON_LABEL))
                        json_object_set_new(out, dst, json_string(n));
        }
        return out;
}

/* Whether the container path `dst` has a mount of the options' own: a bind or volume (-v, --mount) or a tmpfs. */
static bool mounted_at(RunOpts *o, const char *dst)
{
        json_t *v;
        size_t i;

        json_array_foreach(json_object_get(o->host, "Binds"), i, v) {
                const char *spec = json_string_value(v) ?: "", *c = strchr(spec, ':');
                size_t n = c ? strcspn(c + 1, ":") : 0;
                if (c ? strlen(dst) == n && strncmp(c + 1, dst, n) == 0 : STREQ(spec, dst))
                        return true;
        }
        json_array_foreach(json_object_get(o->host, "Mounts"), i, v)
                if (STREQ(json_string_value(json_object_get(v, "Target")) ?: "", dst))
                        return true;
        return json_object_get(json_object_get(o->host, "Tmpfs"), dst) != NULL;
}

/*
 * A recreated container gets back the anonymous volumes of the one it replaces, as docker compose
 * carries them over: `keep` ({destination: name}) gives them; each destination that the new container
 * mounts anonymously (the service's `- /dst`, a `type: volume` without source, or a VOLUME of its image
 * that nothing else covers) mounts the old volume instead of a new one.
 */
static void keep_anonymous(Engine *e, RunOpts *o, json_t *keep)
{
        _cleanup_(image_store_closep) ImageStore *store = NULL;
        _cleanup_json_ json_t *image_config = NULL;
        json_t *binds = json_object_get(o->host, "Binds"), *v;
        const char *dst;
        size_t i;

        json_array_foreach(binds, i, v) {
                const char *spec = json_string_value(v), *name;
                if (!spec || strchr(spec, ':') || !(name = json_string_value(json_object_get(keep, spec))))
                        continue;
                json_array_set_new(binds, i, json_sprintf("%s:%s", name, spec));
                json_object_del(keep, spec);
        }
        json_array_foreach(json_object_get(o->host, "Mounts"), i, v) {
                const char *type = json_string_value(json_object_get(v, "Type"));
                const char *src = json_string_value(json_object_get(v, "Source"));
                const char *target = json_string_value(json_object_get(v, "Target")), *name;
                if (!type || !STREQ(type, "volume") || (src && *src) || !target ||
                    !(name = json_string_value(json_object_get(keep, target))))
                        continue;
                json_object_set_new(v, "Source", json_string(name));
                json_object_del(keep, target);
        }
        if (!json_object_size(keep) || image_store_open(e->data_root, &store, NULL) < 0 ||
            image_lookup(store, json_string_value(json_object_get(o->config, "Image")) ?: "", NULL, &image_config, NULL) < 0)
                return;
        json_object_foreach(json_object_get(json_object_get(image_config, "config"), "Volumes"), dst, v) {
                const char *name = json_string_value(json_object_get(keep, dst));
                if (!name || mounted_at(o, dst))
                        continue;
                if (!binds)
                        json_object_set_new(o->host, "Binds", binds = json_array());
                json_array_append_new(binds, json_sprintf("%s:%s", name, dst));
        }
}

/*
 * Creates a service's container from its `create` command line, as `stockade create` does; `keep`
 * (may be NULL): the anonymous volumes of the container it replaces.
 */
static int create_container(Engine *e, ComposeProject *p, ComposeService *s, const char *cname, json_t *keep,
                            char **ret_id)
{
        _cleanup_strv_ char **argv = compose_create_argv(p, s, cname, false, "create", NULL, NULL);
        char **warnings = NULL;
        RunOpts o = { 0 };
        Error *err = NULL;
        int idx = 1, r;

        r = runopts_parse(false, (int)strv_length(argv), argv, &idx, &o, &err);
        /* the healthcheck as the API's Config.Healthcheck: the CMD form has no run flag */
        if (r >= 0 && s->engine_healthcheck)
                json_object_set(o.config, "Healthcheck", s->engine_healthcheck);
        if (r >= 0 && keep)
                keep_anonymous(e, &o, keep);
        if (r >= 0)
                r = lifecycle_create(e, o.config, o.host, o.name, ret_id, &warnings, &err);
        print_list("WARNING: ", warnings);
        strv_free(warnings);
        runopts_free(&o);
        cli_audit(e, "create", "container", r < 0 ? "" : *ret_id, cname, r < 0 ? err : NULL);
        if (r < 0) {
                fprintf(stderr, "stockade: service \"%s\": %s\n", s->name, err->msg);
                error_free(err);
                return EXIT_ENGINE;
        }
        fprintf(stderr, " Container %s  Created\n", cname);
        return 0;
}

static int start_container(Engine *e, const char *id, const char *cname)
{
        Error *err = NULL;
        int code = 0;
        int r = lifecycle_start(e, id, false, false, NULL, &code, &err);

        if (r == -EALREADY) {
                error_free(err);
                fprintf(stderr, " Container %s  Running\n", cname);
                return 0;
        }
        cli_audit(e, "start", "container", id, cname, r < 0 ? err : NULL);
        if (r < 0) {
                fprintf(stderr, "stockade: Error response from daemon: %s\n", err->msg);
                error_free(err);
                return code ? code : EXIT_ENGINE;
        }
        fprintf(stderr, " Container %s  Started\n", cname);
        return 0;
}

/* The service's container up to date and running: created, recreated when its configuration changed, started. */
static int ensure_service(Engine *e, ComposeProject *p, ComposeService *s, bool start, char **ret_id)
{
        _cleanup_free_ char *cname = compose_container_name(p, s), *id = NULL;
        _cleanup_json_ json_t *rec = NULL, *keep = NULL;
        Error *err = NULL;
        int r;

        if (container_lookup(e, cname, &id, NULL) == 0 && container_load(e, id, &rec, NULL) == 0) {
                const char *proj = label_of(rec, LABEL_PROJECT), *hash = label_of(rec, LABEL_HASH);
                if (!proj || !STREQ(proj, p->name))
                        return cli_failf(NULL, "service \"%s\": the container name \"%s\" is already in use by a container "
                                         "that is not of project \"%s\"", s->name, cname, p->name);
                if (!hash || !STREQ(hash, s->config_hash)) {
                        fprintf(stderr, " Container %s  Recreate\n", cname);
                        keep = anonymous_mounts(e, rec);
                        r = lifecycle_remove(e, id, true, false, &err);
                        cli_audit(e, "rm", "container", id, cname, r < 0 ? err : NULL);
                        if (r < 0)
                                return cli_fail(NULL, err);
                        free(TAKE_PTR(id));
                }
        } else
                free(TAKE_PTR(id));
        if (!id && (r = create_container(e, p, s, cname, keep, &id)) != 0)
                return r;
        if (start && (r = start_container(e, id, cname)) != 0)
                return r;
        if (ret_id)
                *ret_id = TAKE_PTR(id);
        return 0;
}

/* Starts the selected services in dependency order, waiting for each one's conditions first. */
static int up_services(Engine *e, ComposeProject *p, const bool *sel)
{
        _cleanup_json_ json_t *met = json_object(); /* "service/condition" already waited for */

        for (size_t i = 0; i < p->n_services; i++) {
                ComposeService *s = &p->services[i];
                const char *k;
                json_t *d;
                int r;
                if (!sel[i])
                        continue;
                json_object_foreach(s->depends_on, k, d) {
                        ComposeService *dep = compose_service(p, k);
                        const char *cond = json_string_value(json_object_get(d, "condition"));
                        _cleanup_free_ char *key = NULL;
                        if (!dep || !sel[dep - p->services])
                                continue;
                        key = xasprintf("%s/%s", k, cond);
                        if (json_object_get(met, key))
                                continue;
                        r = wait_condition(e, p, s, dep, cond);
                        if (r)
                                return r;
                        json_object_set_new(met, key, json_true());
                }
                if (interrupted)
                        return 130;
                r = ensure_service(e, p, s, true, NULL);
                if (r)
                        return r;
        }
        return 0;
}

/* Whether `up` of the selected services makes volume v: all of them for the whole project, else those they mount. */
static bool volume_wanted(ComposeProject *p, const bool *sel, const ComposeVolume *v)
{
        bool all = true, used = false;

        for (size_t i = 0; i < p->n_services; i++) {
                all &= sel[i];
                used |= sel[i] && strv_contains(p->services[i].volumes, v->key);
        }
        return all || used;
}

/*
 * The project's volumes before any container: every external one must exist (checked first, so that
 * nothing is made when one is missing), the others are made unless they exist, with compose's labels.
 */
static int ensure_volumes(Engine *e, ComposeProject *p, const bool *sel)
{
        _cleanup_close_ int lock = -EBADF;
        Error *err = NULL;

        for (size_t i = 0; i < p->n_volumes; i++) {
                _cleanup_json_ json_t *vol = NULL;
                ComposeVolume *v = &p->volumes[i];
                if (!v->external || !volume_wanted(p, sel, v))
                        continue;
                int r = volume_get(e, v->name, &vol, &err);
                if (r == -ENOENT) {
                        error_clear(&err);
                        return cli_failf(NULL, "%s: external volume \"%s\" not found (an external volume is never created: "
                                         "`stockade volume create %s` makes it)", v->where, v->name, v->name);
                }
                if (r < 0)
                        return cli_fail(NULL, err);
        }
        if (volumes_lock(e, false, &lock, &err) < 0)
                return cli_fail(NULL, err);
        for (size_t i = 0; i < p->n_volumes; i++) {
                _cleanup_json_ json_t *vol = NULL;
                ComposeVolume *v = &p->volumes[i];
                bool made = false;
                if (v->external || !volume_wanted(p, sel, v))
                        continue;
                int r = volume_create(e, v->name, "local", v->labels, v->driver_opts, false, &vol, &made, &err);
                if (r < 0 || made)
                        cli_audit(e, "volume create", "volume", v->name, v->name, r < 0 ? err : NULL);
                if (r < 0) {
                        fprintf(stderr, "stockade: %s: %s\n", v->where, err->msg);
                        error_free(err);
                        return EXIT_ENGINE;
                }
                const char *proj = json_string_value(json_object_get(json_object_get(vol, "Labels"), LABEL_PROJECT));
                json_t *opts = json_object_get(vol, "Options");
                if (made)
                        fprintf(stderr, " Volume \"%s\"  Created\n", v->name);
                else if (!proj || !STREQ(proj, p->name))
                        fprintf(stderr, "WARNING: volume \"%s\" already exists but was not created for project \"%s\": it is "
                                        "used as it is. Use `external: true` to use an existing volume\n", v->name, p->name);
                else if (v->driver_opts ? !json_equal(opts, v->driver_opts) : json_object_size(opts) > 0)
                        fprintf(stderr, "WARNING: %s: volume \"%s\" exists with other driver_opts: it is used as it is "
                                        "(`down -v` removes it, with its data, so that `up` makes it anew)\n", v->where,
                                v->name);
        }
        return 0;
}

/* What up cannot honour, and what refuses it. */
static int report_unhonoured(ComposeProject *p, const bool *sel)
{
        bool blocked = false;

        print_list("WARNING: ", p->unhonoured);
        for (size_t i = 0; i < p->n_services; i++) {
                if (!sel[i])
                        continue;
                print_list("WARNING: ", p->services[i].unhonoured);
                print_socket_warning(&p->services[i]);
                for (size_t j = 0; p->services[i].blocking && p->services[i].blocking[j]; j++) {
                        fprintf(stderr, "stockade: %s\n", p->services[i].blocking[j]);
                        blocked = true;
                }
        }
        return blocked ? EXIT_ENGINE : 0;
}

/* ---- following the logs of several containers with prefixes ---- */

typedef struct LogStream {
        int fd;
        pid_t pid;
        char *id;
        char *label;
        char partial[4096];
        size_t plen;
} LogStream;

/* One line, after its "service-1 | " prefix (width < 0: --no-log-prefix, the line alone). */
static void stream_emit(LogStream *ls, int width, const char *line, size_t n)
{
        if (width < 0)
                printf("%.*s\n", (int)n, line);
        else
                printf("%-*s | %.*s\n", width, ls->label, (int)n, line);
}

/* Runs `stockade logs [flags] ID` in children (the same reader as `stockade logs`) and prefixes their lines
 * (unless !prefix). */
static int follow_logs(Engine *e, json_t *recs, char **flags, bool up, bool prefix)
{
        size_t n = json_array_size(recs), open_n = 0;
        _cleanup_free_ LogStream *ls = xcalloc(n ? n : 1, sizeof(LogStream));
        _cleanup_free_ struct pollfd *pfd = xcalloc(n ? n : 1, sizeof(struct pollfd));
        int width = 0;
        json_t *rec;
        size_t i;

        json_array_foreach(recs, i, rec) {
                int pipefd[2];
                char **argv = NULL;
                const char *svc = label_of(rec, LABEL_SERVICE);
                const char *name = name_of(rec);
                const char *num = label_of(rec, "com.docker.compose.container-number") ?: "1";
                const char *oneoff = label_of(rec, LABEL_ONEOFF);
                ls[i].fd = -1;
                ls[i].id = xstrdup(json_string_value(json_object_get(rec, "Id")));
                ls[i].label = svc && !(oneoff && STREQ(oneoff, "True")) ? xasprintf("%s-%s", svc, num) : xstrdup(name);
                if ((int)strlen(ls[i].label) > width)
                        width = (int)strlen(ls[i].label);
                if (pipe2(pipefd, O_CLOEXEC) < 0)
                        continue;
                fflush(stdout);
                fflush(stderr);
                ls[i].pid = fork();
                if (ls[i].pid == 0) {
                        /* the parent decides: Ctrl-C reaches it alone, and its SIGTERM ends this reader */
                        signal(SIGINT, SIG_IGN);
                        signal(SIGTERM, SIG_DFL);
                        dup2(pipefd[1], 1);
                        dup2(pipefd[1], 2);
                        strv_push(&argv, "logs");
                        for (size_t f = 0; flags && flags[f]; f++)
                                strv_push(&argv, flags[f]);
                        strv_push(&argv, ls[i].id);
                        _exit(cmd_logs(e, (int)strv_length(argv), argv) & 0xff);
                }
                close(pipefd[1]);
                if (ls[i].pid < 0) {
                        close(pipefd[0]);
                        continue;
                }
                ls[i].fd = pipefd[0];
                open_n++;
        }
        if (!prefix)
                width = -1;
        bool stopping = false;
        while (open_n > 0) {
                if (interrupted && !up) {
                        /* `logs -f`: Ctrl-C ends the following, the containers go on */
                        for (i = 0; i < n; i++)
                                if (ls[i].fd >= 0 && ls[i].pid > 0)
                                        kill(ls[i].pid, SIGTERM);
                }
                if (interrupted && up && !stopping) {
                        stopping = true;
                        fprintf(stderr, "Gracefully stopping...\n");
                        for (i = n; i-- > 0;) {
                                _cleanup_json_ json_t *r = NULL;
                                if (container_load(e, ls[i].id, &r, NULL) == 0 && container_is_running(r)) {
                                        Error *err = NULL;
                                        fprintf(stderr, " Container %s  Stopping\n", name_of(r));
                                        if (lifecycle_stop(e, ls[i].id, -1, &err) < 0) {
                                                fprintf(stderr, "stockade: %s\n", err->msg);
                                                error_free(err);
                                        } else
                                                fprintf(stderr, " Container %s  Stopped\n", name_of(r));
                                }
                        }
                }
                for (i = 0; i < n; i++)
                        pfd[i] = (struct pollfd){ .fd = ls[i].fd, .events = POLLIN };
                if (poll(pfd, n, 500) < 0 && errno != EINTR)
                        break;
                for (i = 0; i < n; i++) {
                        char buf[8192];
                        ssize_t got;
                        if (ls[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        got = read(ls[i].fd, buf, sizeof(buf));
                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got <= 0) {
                                int status, code;
                                bool running;
                                if (ls[i].plen)
                                        stream_emit(&ls[i], width, ls[i].partial, ls[i].plen);
                                close(ls[i].fd);
                                ls[i].fd = -1;
                                open_n--;
                                (void)waitpid(ls[i].pid, &status, 0);
                                if (up && container_state(e, ls[i].id, &running, &code) == 0 && !running)
                                        printf("%s exited with code %d\n", ls[i].label, code);
                                continue;
                        }
                        for (ssize_t j = 0; j < got; j++) {
                                if (buf[j] == '\n' || ls[i].plen == sizeof(ls[i].partial)) {
                                        stream_emit(&ls[i], width, ls[i].partial, ls[i].plen);
                                        ls[i].plen = 0;
                                        if (buf[j] == '\n')
                                                continue;
                                }
                                ls[i].partial[ls[i].plen++] = buf[j];
                        }
                }
                fflush(stdout);
        }
        for (i = 0; i < n; i++) {
                free(ls[i].id);
                free(ls[i].label);
        }
        return 0;
}

/* ---- the subcommands ---- */

typedef struct Ctx {
        Engine *e;
        ComposeProject *p;
} Ctx;

static int parse_sub(Pflag *flags, int argc, char **argv, int *idx, const char *name)
{
        Error *err = NULL;
        for (int i = 1; i < argc; i++) {
                if (STREQ(argv[i], "--"))
                        break;
                if (STREQ(argv[i], "--help")) {
                        printf("\nUsage:  stockade compose %s\n", name);
                        pflag_usage(flags);
                        return 1;
                }
        }
        if (pflag_parse(flags, argc, argv, idx, false, NULL, &err) < 0) {
                fprintf(stderr, "stockade compose %s: %s\n", argv[0], err->msg);
                error_free(err);
                return -1;
        }
        return 0;
}

#define PARSE_SUB(flags, usage)                                                                                        \
        do {                                                                                                           \
                int _r = parse_sub(flags, argc, argv, &idx, usage);                                                    \
                if (_r)                                                                                                \
                        return _r > 0 ? 0 : EXIT_ENGINE;                                                               \
        } while (0)

static int sub_up(Ctx *c, int argc, char **argv)
{
        bool detach = false, no_deps = false;
        Pflag flags[] = {
                { "detach", 'd', PFLAG_BOOL, &detach, NULL, "Detached mode: run containers in the background" },
                { "no-deps", 0, PFLAG_BOOL, &no_deps, NULL, "Don't start linked services" },
                { 0 },
        };
        int idx = 1, r;

        PARSE_SUB(flags, "up [OPTIONS] [SERVICE...]");
        _cleanup_free_ bool *sel = select_services(c->p, argv + idx, !no_deps);
        if (!sel)
                return EXIT_ENGINE;
        r = report_unhonoured(c->p, sel);
        if (!r)
                r = ensure_volumes(c->e, c->p, sel);
        if (!r)
                r = up_services(c->e, c->p, sel);
        if (r || detach)
                return r;
        _cleanup_json_ json_t *recs = json_array();
        for (size_t i = 0; i < c->p->n_services; i++) {
                if (!sel[i])
                        continue;
                _cleanup_json_ json_t *one = project_containers(c->e, c->p, c->p->services[i].name, false);
                json_array_extend(recs, one);
        }
        {
                size_t i;
                json_t *rec;
                fprintf(stderr, "Attaching to");
                json_array_foreach(recs, i, rec) fprintf(stderr, "%s %s", i ? "," : "", name_of(rec));
                fprintf(stderr, "\n");
        }
        char *lflags[] = { (char *)"--follow", NULL };
        follow_logs(c->e, recs, lflags, true, true);
        return interrupted ? 130 : 0;
}

/* The anonymous volumes that containers mount (their removal with -v goes through lifecycle_remove). */
static char **anonymous_volumes(Engine *e, json_t *recs)
{
        char **names = NULL;
        const char *dst;
        size_t i;
        json_t *rec, *n;

        json_array_foreach(recs, i, rec) {
                _cleanup_json_ json_t *m = anonymous_mounts(e, rec);
                json_object_foreach(m, dst, n) if (!strv_contains(names, json_string_value(n)))
                        strv_push(&names, json_string_value(n));
        }
        return names;
}

/*
 * down -v, once the containers are gone: says which of their anonymous volumes went with them, and
 * removes the project's named volumes (never an external one, nor one another project or no compose
 * project made, whose data is not this project's to delete).
 */
static int remove_volumes(Engine *e, ComposeProject *p, char **anonymous)
{
        int rc = 0;

        for (size_t i = 0; anonymous && anonymous[i]; i++) {
                _cleanup_json_ json_t *vol = NULL;
                if (volume_get(e, anonymous[i], &vol, NULL) == -ENOENT)
                        fprintf(stderr, " Volume %s  Removed\n", anonymous[i]);
        }
        for (size_t i = 0; i < p->n_volumes; i++) {
                ComposeVolume *v = &p->volumes[i];
                _cleanup_json_ json_t *vol = NULL;
                Error *err = NULL;
                if (v->external || volume_get(e, v->name, &vol, NULL) < 0)
                        continue;
                const char *proj = json_string_value(json_object_get(json_object_get(vol, "Labels"), LABEL_PROJECT));
                if (!proj || !STREQ(proj, p->name)) {
                        fprintf(stderr, "WARNING: volume \"%s\" was not created by project \"%s\": it is left in place\n",
                                v->name, p->name);
                        continue;
                }
                fprintf(stderr, " Volume %s  Removing\n", v->name);
                int r = volume_remove(e, v->name, NULL, &err);
                cli_audit(e, "volume rm", "volume", v->name, v->name, r < 0 ? err : NULL);
                if (r < 0) {
                        fprintf(stderr, "stockade: %s\n", err->msg);
                        error_clear(&err);
                        rc = 1;
                } else
                        fprintf(stderr, " Volume %s  Removed\n", v->name);
        }
        return rc;
}

static int sub_down(Ctx *c, int argc, char **argv)
{
        bool volumes = false;
        int64_t timeout = -1;
        const char *t = NULL;
        Pflag flags[] = {
                { "volumes", 'v', PFLAG_BOOL, &volumes, NULL,
                  "Remove named volumes declared in the volumes section and anonymous volumes attached to containers" },
                { "timeout", 't', PFLAG_STRING, &t, NULL, "Shutdown timeout in seconds" },
                { "remove-orphans", 0, PFLAG_BOOL, NULL, NULL, "Remove containers for services not defined in the Compose file (always)" },
                { 0 },
        };
        bool orphans = false;
        flags[2].value = &orphans;
        int idx = 1, rc = 0;
        size_t i;
        json_t *rec;

        PARSE_SUB(flags, "down [OPTIONS]");
        if (t && (parse_int64(t, &timeout) < 0 || timeout < 0))
                return cli_failf(NULL, "invalid argument \"%s\" for \"-t, --timeout\" flag", t);
        _cleanup_json_ json_t *recs = project_containers(c->e, c->p, NULL, true);
        _cleanup_strv_ char **anonymous = volumes ? anonymous_volumes(c->e, recs) : NULL;
        /* stop dependants before what they depend on: the reverse of the start order, then the rest */
        for (size_t pass = 0; pass < 2; pass++)
                for (i = json_array_size(recs); i-- > 0;) {
                        rec = json_array_get(recs, i);
                        const char *id = json_string_value(json_object_get(rec, "Id"));
                        Error *err = NULL;
                        if (pass == 0) {
                                if (!container_is_running(rec))
                                        continue;
                                fprintf(stderr, " Container %s  Stopping\n", name_of(rec));
                                if (lifecycle_stop(c->e, id, (int)timeout, &err) < 0) {
                                        fprintf(stderr, "stockade: %s\n", err->msg);
                                        error_clear(&err);
                                        rc = 1;
                                } else
                                        fprintf(stderr, " Container %s  Stopped\n", name_of(rec));
                                continue;
                        }
                        fprintf(stderr, " Container %s  Removing\n", name_of(rec));
                        int r = lifecycle_remove(c->e, id, true, volumes, &err);
                        cli_audit(c->e, "rm", "container", id, name_of(rec), r < 0 ? err : NULL);
                        if (r < 0) {
                                fprintf(stderr, "stockade: %s\n", err->msg);
                                error_clear(&err);
                                rc = 1;
                        } else
                                fprintf(stderr, " Container %s  Removed\n", name_of(rec));
                }
        if (volumes)
                rc = remove_volumes(c->e, c->p, anonymous) ?: rc;
        return rc;
}

static int sub_ps(Ctx *c, int argc, char **argv)
{
        bool all = false, quiet = false;
        const char *format = NULL;
        Pflag flags[] = {
                { "all", 'a', PFLAG_BOOL, &all, NULL, "Show all stopped containers" },
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Only display IDs" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format the output (a Go template)" },
                { 0 },
        };
        _cleanup_free_ char *filter = xasprintf("label=%s=%s", LABEL_PROJECT, c->p->name);
        char **psargv = NULL;
        int idx = 1, r;

        PARSE_SUB(flags, "ps [OPTIONS] [SERVICE...]");
        strv_push(&psargv, "ps");
        strv_push(&psargv, "--filter");
        strv_push(&psargv, filter);
        for (; idx < argc; idx++) {
                _cleanup_free_ char *f = xasprintf("label=%s=%s", LABEL_SERVICE, argv[idx]);
                if (!compose_service(c->p, argv[idx])) {
                        strv_free(psargv);
                        return cli_failf(NULL, "no such service: %s", argv[idx]);
                }
                strv_push(&psargv, "--filter");
                strv_push(&psargv, f);
        }
        if (all)
                strv_push(&psargv, "--all");
        if (quiet)
                strv_push(&psargv, "--quiet");
        strv_push(&psargv, "--format");
        strv_push(&psargv, format ? format : "table {{.Names}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}");
        r = cmd_ps(c->e, (int)strv_length(psargv), psargv);
        strv_free(psargv);
        return r;
}

static int sub_logs(Ctx *c, int argc, char **argv)
{
        bool follow = false, timestamps = false, no_prefix = false;
        const char *tail = NULL;
        Pflag flags[] = {
                { "follow", 'f', PFLAG_BOOL, &follow, NULL, "Follow log output" },
                { "timestamps", 't', PFLAG_BOOL, &timestamps, NULL, "Show timestamps" },
                { "tail", 'n', PFLAG_STRING, &tail, NULL, "Number of lines to show from the end of the logs" },
                { "no-log-prefix", 0, PFLAG_BOOL, &no_prefix, NULL, "Don't print prefix in logs" },
                { 0 },
        };
        _cleanup_strv_ char **lflags = NULL;
        _cleanup_json_ json_t *recs = json_array();
        int idx = 1;

        PARSE_SUB(flags, "logs [OPTIONS] [SERVICE...]");
        if (follow)
                strv_push(&lflags, "--follow");
        if (timestamps)
                strv_push(&lflags, "--timestamps");
        if (tail) {
                strv_push(&lflags, "--tail");
                strv_push(&lflags, tail);
        }
        for (size_t i = 0; i < c->p->n_services; i++) {
                bool want = idx >= argc;
                for (int j = idx; j < argc; j++)
                        want |= STREQ(argv[j], c->p->services[i].name);
                if (!want)
                        continue;
                _cleanup_json_ json_t *one = project_containers(c->e, c->p, c->p->services[i].name, false);
                json_array_extend(recs, one);
        }
        for (int j = idx; j < argc; j++)
                if (!compose_service(c->p, argv[j]))
                        return cli_failf(NULL, "no such service: %s", argv[j]);
        follow_logs(c->e, recs, lflags, false, !no_prefix);
        return 0;
}

static int sub_config(Ctx *c, int argc, char **argv)
{
        bool quiet = false, services = false, volumes = false;
        Pflag flags[] = {
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Only validate the configuration, don't print anything" },
                { "services", 0, PFLAG_BOOL, &services, NULL, "Print the service names, one per line" },
                { "volumes", 0, PFLAG_BOOL, &volumes, NULL, "Print the volume names (the keys), one per line" },
                { 0 },
        };
        _cleanup_free_ char *yaml = NULL;
        Error *err = NULL;
        int idx = 1;

        PARSE_SUB(flags, "config [OPTIONS]");
        if (quiet)
                return 0;
        for (size_t i = 0; services && i < c->p->n_services; i++)
                printf("%s\n", c->p->services[i].name);
        for (size_t i = 0; volumes && i < c->p->n_volumes; i++)
                printf("%s\n", c->p->volumes[i].key);
        if (services || volumes)
                return 0;
        if (compose_config_yaml(c->p, &yaml, &err) < 0)
                return cli_fail(NULL, err);
        fputs(yaml, stdout);
        return 0;
}

typedef enum { V_START, V_STOP, V_RESTART } Verb;

static int sub_verb(Ctx *c, int argc, char **argv, Verb verb)
{
        const char *t = NULL;
        int64_t timeout = -1;
        Pflag flags[] = { { "timeout", 't', PFLAG_STRING, &t, NULL, "Shutdown timeout in seconds" }, { 0 } };
        int idx = 1, rc = 0;

        PARSE_SUB(flags, verb == V_START ? "start [SERVICE...]" : verb == V_STOP ? "stop [OPTIONS] [SERVICE...]" :
                                                                                    "restart [OPTIONS] [SERVICE...]");
        if (t && (parse_int64(t, &timeout) < 0 || timeout < 0))
                return cli_failf(NULL, "invalid argument \"%s\" for \"-t, --timeout\" flag", t);
        _cleanup_free_ bool *sel = select_services(c->p, argv + idx, false);
        if (!sel)
                return EXIT_ENGINE;
        for (size_t k = 0; k < c->p->n_services; k++) {
                /* start in dependency order, stop in the reverse */
                size_t i = verb == V_STOP ? c->p->n_services - 1 - k : k;
                ComposeService *s = &c->p->services[i];
                if (!sel[i])
                        continue;
                if (verb == V_START) {
                        const char *dk;
                        json_t *d;
                        json_object_foreach(s->depends_on, dk, d) {
                                ComposeService *dep = compose_service(c->p, dk);
                                int r = dep ? wait_condition(c->e, c->p, s, dep, json_string_value(json_object_get(d, "condition"))) : 0;
                                if (r)
                                        return r;
                        }
                }
                _cleanup_json_ json_t *recs = project_containers(c->e, c->p, s->name, false);
                size_t j;
                json_t *rec;
                json_array_foreach(recs, j, rec) {
                        const char *id = json_string_value(json_object_get(rec, "Id"));
                        Error *err = NULL;
                        int r;
                        if (verb == V_START) {
                                r = start_container(c->e, id, name_of(rec));
                                rc = r ? r : rc;
                                continue;
                        }
                        fprintf(stderr, " Container %s  %s\n", name_of(rec), verb == V_STOP ? "Stopping" : "Restarting");
                        r = verb == V_STOP ? lifecycle_stop(c->e, id, (int)timeout, &err) :
                                             lifecycle_restart(c->e, id, (int)timeout, &err);
                        cli_audit(c->e, verb == V_STOP ? "stop" : "restart", "container", id, name_of(rec), r < 0 ? err : NULL);
                        if (r < 0) {
                                fprintf(stderr, "stockade: %s\n", err->msg);
                                error_clear(&err);
                                rc = 1;
                                continue;
                        }
                        fprintf(stderr, " Container %s  %s\n", name_of(rec), verb == V_STOP ? "Stopped" : "Started");
                }
        }
        return rc;
}

/* exec's and run's shared options as flags of `stockade exec` / `run` (which take the same). */
static void push_process_flags(char ***argv, bool detach, bool no_tty, const char *user, const char *workdir, char **env)
{
        if (detach)
                strv_push(argv, "--detach");
        else if (isatty(STDIN_FILENO)) {
                strv_push(argv, "--interactive");
                if (!no_tty)
                        strv_push(argv, "--tty");
        }
        if (user) {
                strv_push(argv, "--user");
                strv_push(argv, user);
        }
        if (workdir) {
                strv_push(argv, "--workdir");
                strv_push(argv, workdir);
        }
        for (size_t i = 0; env && env[i]; i++) {
                strv_push(argv, "--env");
                strv_push(argv, env[i]);
        }
}

static int sub_exec(Ctx *c, int argc, char **argv)
{
        bool detach = false, no_tty = false, privileged = false;
        const char *user = NULL, *workdir = NULL, *index = NULL;
        char **env = NULL;
        Pflag flags[] = {
                { "detach", 'd', PFLAG_BOOL, &detach, NULL, "Detached mode: run command in the background" },
                { "no-TTY", 'T', PFLAG_BOOL, &no_tty, NULL, "Disable pseudo-TTY allocation" },
                { "privileged", 0, PFLAG_BOOL, &privileged, NULL, "Give extended privileges to the process" },
                { "user", 'u', PFLAG_STRING, &user, NULL, "Run the command as this user" },
                { "workdir", 'w', PFLAG_STRING, &workdir, NULL, "Path to workdir directory for this command" },
                { "env", 'e', PFLAG_STRINGS, &env, NULL, "Set environment variables" },
                { "index", 0, PFLAG_STRING, &index, NULL, "Index of the container (only 1)" },
                { 0 },
        };
        _cleanup_strv_ char **xargv = NULL;
        _cleanup_free_ char *cname = NULL;
        int idx = 1, r;

        PARSE_SUB(flags, "exec [OPTIONS] SERVICE COMMAND [ARGS...]");
        if (argc - idx < 2) {
                strv_free(env);
                return cli_failf(NULL, "\"stockade compose exec\" requires at least 2 arguments (SERVICE COMMAND)");
        }
        ComposeService *s = compose_service(c->p, argv[idx]);
        if (!s || (index && !STREQ(index, "1"))) {
                strv_free(env);
                return cli_failf(NULL, s ? "service \"%s\" has one container (index 1)" : "no such service: %s", argv[idx]);
        }
        cname = compose_container_name(c->p, s);
        strv_push(&xargv, "exec");
        push_process_flags(&xargv, detach, no_tty, user, workdir, env);
        if (privileged)
                strv_push(&xargv, "--privileged");
        strv_free(env);
        strv_push(&xargv, cname);
        for (int i = idx + 1; i < argc; i++)
                strv_push(&xargv, argv[i]);
        r = cmd_exec(c->e, (int)strv_length(xargv), xargv);
        return r;
}

static int sub_run(Ctx *c, int argc, char **argv)
{
        bool detach = false, rm = false, no_tty = false, no_deps = false;
        const char *user = NULL, *workdir = NULL, *name = NULL, *entrypoint = NULL;
        char **env = NULL;
        Pflag flags[] = {
                { "detach", 'd', PFLAG_BOOL, &detach, NULL, "Run container in background and print container ID" },
                { "rm", 0, PFLAG_BOOL, &rm, NULL, "Automatically remove the container when it exits" },
                { "no-TTY", 'T', PFLAG_BOOL, &no_tty, NULL, "Disable pseudo-TTY allocation" },
                { "no-deps", 0, PFLAG_BOOL, &no_deps, NULL, "Don't start linked services" },
                { "user", 'u', PFLAG_STRING, &user, NULL, "Run as specified username or uid" },
                { "workdir", 'w', PFLAG_STRING, &workdir, NULL, "Working directory inside the container" },
                { "name", 0, PFLAG_STRING, &name, NULL, "Assign a name to the container" },
                { "entrypoint", 0, PFLAG_STRING, &entrypoint, NULL, "Override the entrypoint of the image" },
                { "env", 'e', PFLAG_STRINGS, &env, NULL, "Set environment variables" },
                { 0 },
        };
        _cleanup_strv_ char **extra = NULL, **cmd = NULL, **rargv = NULL;
        _cleanup_free_ char *cname = NULL;
        int idx = 1, r;

        PARSE_SUB(flags, "run [OPTIONS] SERVICE [COMMAND] [ARGS...]");
        if (idx >= argc) {
                strv_free(env);
                return cli_failf(NULL, "\"stockade compose run\" requires at least 1 argument (SERVICE)");
        }
        ComposeService *s = compose_service(c->p, argv[idx]);
        if (!s) {
                strv_free(env);
                return cli_failf(NULL, "no such service: %s", argv[idx]);
        }
        char *only[] = { argv[idx], NULL };
        bool *sel = select_services(c->p, only, !no_deps);
        if (!sel) {
                strv_free(env);
                return EXIT_ENGINE;
        }
        sel[s - c->p->services] = false;
        r = report_unhonoured(c->p, sel);
        if (!r) {
                bool one[COMPOSE_MAX_SERVICES] = { 0 };
                one[s - c->p->services] = true;
                r = report_unhonoured(c->p, one);
                /* the volumes of the dependencies and of the one-off container */
                sel[s - c->p->services] = true;
                if (!r)
                        r = ensure_volumes(c->e, c->p, sel);
                sel[s - c->p->services] = false;
        }
        if (!r)
                r = up_services(c->e, c->p, sel);
        free(sel);
        if (r) {
                strv_free(env);
                return r;
        }
        if (name)
                cname = xstrdup(name);
        else {
                uint8_t rnd[6] = { 0 };
                (void)getrandom(rnd, sizeof(rnd), 0);
                cname = xasprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", c->p->name, s->name, rnd[0], rnd[1], rnd[2], rnd[3],
                                  rnd[4], rnd[5]);
        }
        push_process_flags(&extra, detach, no_tty, user, workdir, env);
        if (rm)
                strv_push(&extra, "--rm");
        strv_free(env);
        for (int i = idx + 1; i < argc; i++)
                strv_push(&cmd, argv[i]);
        if (entrypoint) {
                /* the service's entrypoint replaced: no entrypoint tail before the command */
                json_t *saved = s->entrypoint;
                _cleanup_free_ char *ep = xasprintf("--entrypoint=%s", entrypoint);
                strv_push(&extra, ep);
                s->entrypoint = NULL;
                rargv = compose_create_argv(c->p, s, cname, true, "run", extra, cmd);
                s->entrypoint = saved;
        } else
                rargv = compose_create_argv(c->p, s, cname, true, "run", extra, cmd);
        /* a restart policy is the service's, not its one-off runs' (docker compose drops it too) */
        return cmd_run(c->e, (int)strv_length(rargv), rargv);
}

int cmd_compose(Engine *e, int argc, char **argv)
{
        char **files = NULL;
        const char *project = NULL, *project_dir = NULL, *env_file = NULL;
        bool help = false;
        Pflag flags[] = {
                { "file", 'f', PFLAG_STRINGS, &files, NULL, "Compose configuration files" },
                { "project-name", 'p', PFLAG_STRING, &project, NULL, "Project name" },
                { "project-directory", 0, PFLAG_STRING, &project_dir, NULL, "Alternate working directory (default: the first file's)" },
                { "env-file", 0, PFLAG_STRING, &env_file, NULL, "An alternate environment file" },
                { "help", 0, PFLAG_BOOL, &help, NULL, "Print usage" },
                { 0 },
        };
        static const char *const subs[] = { "up", "down", "ps", "logs", "config", "start", "stop", "restart", "exec", "run" };
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        Error *err = NULL;
        int idx = 1, r;
        bool known = false;

        r = pflag_parse(flags, argc, argv, &idx, false, NULL, &err);
        if (r < 0) {
                strv_free(files);
                return cli_fail(argv[0], err);
        }
        if (idx >= argc || help) {
                strv_free(files);
                printf("\nUsage:  stockade compose [-f FILE]... [-p NAME] COMMAND\n\nCommands:\n"
                       "  up [-d] [SERVICE...]     Create and start containers (foreground: follow their logs)\n"
                       "  down [-v]                Stop and remove the project's containers\n"
                       "  ps [-a]                  List the project's containers\n"
                       "  logs [-f] [SERVICE...]   The services' logs, prefixed\n"
                       "  config                   The normalised model, as YAML\n"
                       "  start|stop|restart       The services' containers\n"
                       "  exec SERVICE CMD...      Run a command in a service's container\n"
                       "  run SERVICE [CMD...]     A one-off container of a service\n");
                pflag_usage(flags);
                return help ? 0 : EXIT_ENGINE;
        }
        for (size_t i = 0; i < ELEMENTSOF(subs); i++)
                known |= STREQ(argv[idx], subs[i]);
        if (!known) {
                strv_free(files);
                return cli_failf(NULL, "compose: unknown command \"%s\" (see stockade compose --help)", argv[idx]);
        }
        _cleanup_strv_ char **warnings = NULL;
        ComposeLoadOpts lo = { .files = files, .project_name = project, .project_dir = project_dir, .env_file = env_file,
                               .environ = environ, .warnings = &warnings };
        r = compose_load(&lo, &p, &err);
        strv_free(files);
        print_list("WARNING: ", warnings);
        if (r < 0) {
                fprintf(stderr, "stockade compose: %s\n", err->msg);
                error_free(err);
                return EXIT_ENGINE;
        }
        Ctx c = { .e = e, .p = p };
        struct sigaction sa = { .sa_handler = on_interrupt }, old_int, old_term;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        const char *sub = argv[idx];
        argc -= idx;
        argv += idx;
        if (STREQ(sub, "up"))
                r = sub_up(&c, argc, argv);
        else if (STREQ(sub, "down"))
                r = sub_down(&c, argc, argv);
        else if (STREQ(sub, "ps"))
                r = sub_ps(&c, argc, argv);
        else if (STREQ(sub, "logs"))
                r = sub_logs(&c, argc, argv);
        else if (STREQ(sub, "config"))
                r = sub_config(&c, argc, argv);
        else if (STREQ(sub, "start"))
                r = sub_verb(&c, argc, argv, V_START);
        else if (STREQ(sub, "stop"))
                r = sub_verb(&c, argc, argv, V_STOP);
        else if (STREQ(sub, "restart"))
                r = sub_verb(&c, argc, argv, V_RESTART);
        else {
                /* exec and run hand the terminal to the container: Ctrl-C goes there */
                sigaction(SIGINT, &old_int, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                r = STREQ(sub, "exec") ? sub_exec(&c, argc, argv) : sub_run(&c, argc, argv);
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        return r;
}
