/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Engine API's endpoints (docs/API.md), each run in its connection's process (cmd-serve.c)
 * on the engine the CLI uses.
 *
 * Attach and wait before start: docker's CLI attaches and waits on a created container, then starts
 * it, and a short container can be gone before a late connection to its monitor.  So a waiting
 * attach or wait binds a "party" socket under <exec-root>/api/<id>/, and `start` connects to every
 * party before it answers and hands the monitor connection it got from lifecycle_start() to a relay
 * process, which copies the monitor's frames to the parties (output and status to an attach party,
 * status to a wait party) and an attach party's input to the monitor.  Nothing is missed: the
 * monitor's first client is that relay from the container's first instruction on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apparmor.h"
#include "attach-proto.h"
#include "buf.h"
#include "cli.h"
#include "container-store.h"
#include "events.h"
#include "image-store.h"
#include "json-util.h"
#include "jsonlog.h"
#include "lifecycle.h"
#include "locallog.h"
#include "logread-journald.h"
#include "monitor-client.h"
#include "runopts.h"
#include "serve.h"
#include "util.h"

#define PARTY_POLL_MS 200
#define MAX_PARTIES   16

/* ---- helpers ---- */

/* The container named in the route (a name, id or prefix) → its id; 404 answered when unknown. */
static int lookup(ApiConn *c, const char *ref, const char *action, char **ret_id, json_t **ret_rec)
{
        Error *err = NULL;
        api_actor(c, action, "container", NULL, ref);
        if (container_lookup(c->e, ref, ret_id, &err) < 0 || (ret_rec && container_load(c->e, *ret_id, ret_rec, &err) < 0)) {
                api_reply_err(c, err);
                return -ENOENT;
        }
        api_actor(c, NULL, NULL, *ret_id, NULL);
        if (ret_rec) {
                container_refresh_state(*ret_rec);
                api_actor(c, NULL, NULL, NULL, json_string_value(json_object_get(*ret_rec, "Name")) ?: ref);
        }
        return 0;
}

static int reply_fail(ApiConn *c, Error *err)
{
        if (err && err->msg)
                snprintf(c->outcome, sizeof(c->outcome), "%s", err->msg);
        return api_reply_err(c, err);
}

/* <exec-root>/api/<12 hex>: short, so that the socket paths fit sun_path under a long exec root */
static char *party_dir(Engine *e, const char *id)
{
        return xasprintf("%s/api/%.12s", e->exec_root, id);
}

/* Binds a party socket for a created container (kind 'a' attach, 'w' wait); the listening fd. */
static int party_bind(Engine *e, const char *id, char kind, bool in, char **ret_path)
{
        _cleanup_free_ char *dir = party_dir(e, id);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (mkdir_p(dir, 0700) < 0)
                return -errno;
        _cleanup_free_ char *path = xasprintf("%s/%c%d-%d.sock", dir, kind, in ? 1 : 0, (int)getpid());
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_path = TAKE_PTR(path);
        return fd;
}

/*
 * Waits for `start` to connect to our party socket, watching the record (started another way,
 * removed) and the client (gone).  The monitor connection, or <0.
 */
static int party_wait_in(ApiConn *c, const char *id, int lfd, const char *path, bool attach, bool in);

/* The same, and the party's directory goes once it is empty (the last party of a container removes it). */
static int party_wait(ApiConn *c, const char *id, int lfd, const char *path, bool attach, bool in)
{
        int fd = party_wait_in(c, id, lfd, path, attach, in);
        _cleanup_free_ char *dir = party_dir(c->e, id);
        (void)rmdir(dir);
        return fd;
}

static int party_wait_in(ApiConn *c, const char *id, int lfd, const char *path, bool attach, bool in)
{
        for (;;) {
                struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = c->fd, .events = 0 } };
                int r = poll(p, 2, PARTY_POLL_MS);
                if (r > 0 && (p[0].revents & POLLIN)) {
                        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        (void)unlink(path);
                        return fd;
                }
                if (r > 0 && (p[1].revents & (POLLHUP | POLLERR))) {
                        (void)unlink(path);
                        return -EPIPE;
                }
                _cleanup_json_ json_t *rec = NULL;
                if (container_load(c->e, id, &rec, NULL) < 0) {
                        (void)unlink(path);
                        return -ENOENT;
                }
                if (container_monitor_alive(rec)) {
                        /* started by something else than the API (stockade start) */
                        (void)unlink(path);
                        int fd = monitor_connect(c->e, id, NULL);
                        if (fd < 0)
                                return fd;
                        _cleanup_json_ json_t *req = attach ? json_pack("{s:{s:b, s:b, s:b}}", "attach", "stdin", in, "stdout", 1,
                                                                        "stderr", 1)
                                                            : json_pack("{s:b}", "wait", 1);
                        (void)monitor_send_control(fd, req);
                        return fd;
                }
        }
}

/* ---- system ---- */

static int ping(ApiConn *c, const char *unused)
{
        char date[64], head[512];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nApi-Version: %s\r\nCache-Control: no-cache, no-store, must-revalidate\r\n"
                         "Content-Length: %d\r\nContent-Type: text/plain; charset=utf-8\r\nDocker-Experimental: false\r\n"
                         "Ostype: linux\r\nPragma: no-cache\r\nServer: Stockade/%s (linux)\r\nDate: %s\r\n\r\n%s",
                         API_VERSION, c->head ? 0 : 2, STOCKADE_VERSION, date, c->head ? "" : "OK");
        c->status = 200;
        api_actor(c, "ping", NULL, NULL, NULL);
        return api_write(c, head, (size_t)n);
}

static const char *kernel_version(void)
{
        static struct utsname u;
        if (!u.release[0])
                (void)uname(&u);
        return u.release;
}

static int version(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *j = json_pack(
                "{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform",
                "Name", "stockade", "Components", "Name", "Engine", "Version", STOCKADE_VERSION, "Details", "ApiVersion",
                API_VERSION, "Arch", "amd64", "Experimental", "false", "KernelVersion", kernel_version(), "MinAPIVersion",
                "1.12", "Os", "linux", "Version", STOCKADE_VERSION, "ApiVersion", API_VERSION, "MinAPIVersion", "1.12",
                "GitCommit", "", "GoVersion", "", "Os", "linux", "Arch", "amd64", "KernelVersion", kernel_version());
        api_actor(c, "version", NULL, NULL, NULL);
        return api_reply_json(c, 200, j);
}

static int info(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *list = NULL, *images = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        int running = 0, paused = 0, stopped = 0;
        char host[256] = "";
        size_t i;
        json_t *r;

        api_actor(c, "info", NULL, NULL, NULL);
        (void)container_list(c->e, &list, NULL);
        json_array_foreach(list, i, r) {
                container_refresh_state(r);
                const char *st = container_status(r);
                if (STREQ(st, "paused"))
                        paused++;
                else if (STREQ(st, "running") || STREQ(st, "restarting"))
                        running++;
                else
                        stopped++;
        }
        if (image_store_open(c->e->data_root, &s, NULL) == 0)
                (void)image_list(s, &images, NULL);
        (void)gethostname(host, sizeof(host) - 1);
        const char *rt = engine_default_runtime(c->e);
        _cleanup_json_ json_t *j = json_pack(
                "{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:[], s:{s:[], s:[], s:n, s:[s,s,s,s,s,s]}, s:b, s:b, s:b, s:b, s:b,"
                " s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:[], s:b, s:s, s:{s:{s:s}}, s:s,"
                " s:{s:s, s:s}, s:b, s:[s], s:[]}",
                "ID", "stockade", "Containers", (int)json_array_size(list), "ContainersRunning", running, "ContainersPaused",
                paused, "ContainersStopped", stopped, "Images", (int)json_array_size(images), "Driver", "overlay2",
                "DriverStatus", "Plugins", "Volume", "Network", "Authorization", "Log", "json-file", "local", "journald",
                "syslog", "fluentd", "splunk", "MemoryLimit", 1, "SwapLimit", 1, "CpuCfsPeriod", 1, "CpuCfsQuota", 1,
                "PidsLimit", 1, "Debug", 0, "LoggingDriver", "json-file", "CgroupDriver", "cgroupfs", "KernelVersion",
                kernel_version(), "OperatingSystem", "stockade", "OSType", "linux", "Architecture", "x86_64", "DockerRootDir",
                c->e->data_root, "ServerVersion", STOCKADE_VERSION, "Name", host, "NCPU", (int)sysconf(_SC_NPROCESSORS_ONLN),
                "IndexServerAddress", "", "InitBinary", "", "Labels", "ExperimentalBuild", 0, "DefaultRuntime", rt,
                "Runtimes", rt, "path", rt, "Isolation", "", "Swarm", "LocalNodeState", "inactive", "NodeID", "",
                "LiveRestoreEnabled", 1, "SecurityOptions", "name=seccomp,profile=default", "Warnings");
        json_object_set_new(j, "MemTotal", json_integer((json_int_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE)));
        {
                /* what this host has, as dockerd reports it: cgroup2 at /sys/fs/cgroup is version 2 */
                struct statfs sf;
                bool v2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
                json_object_set_new(j, "CgroupVersion", json_string(v2 ? "2" : "1"));
                json_t *sec = json_object_get(j, "SecurityOptions");
                if (apparmor_enabled())
                        json_array_insert_new(sec, 0, json_string("name=apparmor"));
                const char *remap = json_string_value(json_object_get(c->e->daemon, "userns-remap"));
                if (remap && *remap)
                        json_array_append_new(sec, json_string("name=userns"));
        }
        return api_reply_json(c, 200, j);
}

/* ---- containers ---- */

static json_t *list_row(json_t *rec)
{
        const char *name = json_string_value(json_object_get(rec, "Name")) ?: "";
        json_t *cfg = json_object_get(rec, "Config");
        _cleanup_free_ char *cmd = NULL, *status = cli_status_text(rec);
        size_t cap = 0, i;
        json_t *v;
        FILE *m = open_memstream(&cmd, &cap);
        struct tm tm = { 0 };
        const char *created = json_string_value(json_object_get(rec, "Created"));
        time_t ct = 0;

        fputs(json_string_value(json_object_get(rec, "Path")) ?: "", m);
        json_array_foreach(json_object_get(rec, "Args"), i, v) fprintf(m, " %s", json_string_value(v));
        fclose(m);
        if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
                ct = timegm(&tm);
        const char *nm = json_string_value(json_object_get(json_object_get(rec, "HostConfig"), "NetworkMode")) ?: "default";
        return json_pack("{s:O, s:[s], s:O, s:O, s:s, s:I, s:[], s:O, s:s, s:s, s:{s:s}, s:{s:{}}, s:[]}", "Id",
                         json_object_get(rec, "Id"), "Names", name, "Image", json_object_get(cfg, "Image") ?: json_string(""),
                         "ImageID", json_object_get(rec, "Image") ?: json_string(""), "Command", cmd, "Created",
                         (json_int_t)ct, "Ports", "Labels", json_object_get(cfg, "Labels") ?: json_object(), "State",
                         container_status(rec), "Status", status, "HostConfig", "NetworkMode", nm, "NetworkSettings",
                         "Networks", "Mounts");
}

/* One filter value against a record, as dockerd's container list filters. */
static bool list_filter_one(const char *key, const char *want, json_t *rec)
{
        const char *name = json_string_value(json_object_get(rec, "Name")) ?: "";
        const char *id = json_string_value(json_object_get(rec, "Id")) ?: "";
        if (STREQ(key, "label")) {
                json_t *labels = json_object_get(json_object_get(rec, "Config"), "Labels");
                const char *eq = strchr(want, '=');
                _cleanup_free_ char *k = eq ? xstrndup(want, (size_t)(eq - want)) : xstrdup(want);
                const char *have = json_string_value(json_object_get(labels, k));
                return have && (!eq || STREQ(have, eq + 1));
        }
        if (STREQ(key, "label!"))
                return !list_filter_one("label", want, rec);
        if (STREQ(key, "name"))
                return strstr(name, want) != NULL;
        if (STREQ(key, "id"))
                return str_has_prefix(id, want);
        if (STREQ(key, "status"))
                return STREQ(container_status(rec), want);
        return true; /* not filtered here (docs/API.md) */
}

/*
 * filters={"label":{"k=v":true},"name":{"x":true}} (or the older {"label":["k=v"]}, as compose sends):
 * keys ANDed, values of a key ORed, except label whose values are all required (dockerd's).
 */
static bool list_filter(json_t *filters, json_t *rec)
{
        const char *key;
        json_t *vals;
        json_object_foreach(filters, key, vals) {
                _cleanup_strv_ char **wants = NULL;
                const char *w;
                json_t *x;
                size_t i;
                bool any = false, all = true;
                if (json_is_object(vals))
                        json_object_foreach(vals, w, x) strv_push(&wants, w);
                else
                        json_array_foreach(vals, i, x) if (json_is_string(x)) strv_push(&wants, json_string_value(x));
                if (!wants)
                        continue;
                for (char **v = wants; *v; v++) {
                        bool m = list_filter_one(key, *v, rec);
                        any |= m;
                        all &= m;
                }
                if (str_has_prefix(key, "label") ? !all : !any)
                        return false;
        }
        return true;
}

static int containers_list(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *list = NULL, *out = json_array(), *filters = NULL;
        _cleanup_free_ char *f = api_query(c, "filters");
        bool all = api_query_bool(c, "all");
        Error *err = NULL;
        size_t i;
        json_t *r;

        api_actor(c, "ps", NULL, NULL, NULL);
        if (f && *f) {
                json_error_t je;
                filters = json_loads(f, 0, &je);
                if (!json_is_object(filters))
                        return api_reply_error(c, 400, "invalid filter: %s", je.text);
        }
        if (container_list(c->e, &list, &err) < 0)
                return reply_fail(c, err);
        /* newest first, as docker ps */
        for (i = json_array_size(list); i-- > 0;) {
                r = json_array_get(list, i);
                container_refresh_state(r);
                if (!all && !container_is_running(r))
                        continue;
                if (filters && !list_filter(filters, r))
                        continue;
                json_array_append_new(out, list_row(r));
        }
        return api_reply_json(c, 200, out);
}

/*
 * Overlays what the client set (not null: docker's "not set") on the Config and HostConfig that
 * `stockade create IMAGE` starts from, so the engine sees the shape runopts.c gives it.
 */
static void overlay(json_t *base, json_t *client)
{
        const char *k;
        json_t *v;
        json_object_foreach(client, k, v) if (!json_is_null(v)) json_object_set(base, k, v);
}

static int create_defaults(json_t **ret_config, json_t **ret_host, Error **err)
{
        char *argv[] = { "create", "image-placeholder", NULL };
        RunOpts o = { 0 };
        int idx = 1;
        if (runopts_parse(false, 2, argv, &idx, &o, err) < 0)
                return -EINVAL;
        *ret_config = json_incref(o.config);
        *ret_host = json_incref(o.host);
        runopts_free(&o);
        return 0;
}

static int containers_create(ApiConn *c, const char *unused)
{
        _cleanup_free_ char *name = api_query(c, "name"), *id = NULL;
        _cleanup_json_ json_t *config = NULL, *host = NULL;
        char **warnings = NULL;
        Error *err = NULL;

        api_actor(c, "create", "container", NULL, name);
        if (api_json_body(c, true, &config) < 0)
                return 0;
        {
                _cleanup_json_ json_t *body_j = TAKE_PTR(config);
                _cleanup_json_ json_t *h = json_incref(json_object_get(body_j, "HostConfig"));
                if (h && !json_is_null(h) && !json_is_object(h))
                        return api_reply_error(c, 400, "HostConfig: expected an object");
                if (create_defaults(&config, &host, &err) < 0)
                        return reply_fail(c, err);
                json_object_del(body_j, "HostConfig");
                json_object_del(body_j, "NetworkingConfig");
                overlay(config, body_j);
                if (json_is_object(h))
                        overlay(host, h);
        }
        if (!json_is_string(json_object_get(config, "Image")) || !*json_string_value(json_object_get(config, "Image")))
                return api_reply_error(c, 400, "Config.Image: an image name is required");
        if (name && *name == '/')
                memmove(name, name + 1, strlen(name));
        if (lifecycle_create(c->e, config, host, name && *name ? name : NULL, &id, &warnings, &err) < 0) {
                strv_free(warnings);
                return reply_fail(c, err);
        }
        api_actor(c, NULL, NULL, id, NULL);
        _cleanup_json_ json_t *w = json_array(), *out = NULL;
        for (size_t i = 0; warnings && warnings[i]; i++)
                json_array_append_new(w, json_string(warnings[i]));
        strv_free(warnings);
        out = json_pack("{s:s, s:O}", "Id", id, "Warnings", w);
        return api_reply_json(c, 201, out);
}

static int containers_inspect(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL, *out = NULL;
        if (lookup(c, ref, "inspect", &id, &rec) < 0)
                return 0;
        out = cli_container_for_inspect(rec);
        return api_reply_json(c, 200, out);
}

/* Copies the monitor's frames to the parties until it closes (the relay process's body). */
static void relay(int mfd, int *party, bool *is_attach, size_t n)
{
        bool open_[MAX_PARTIES];
        for (size_t i = 0; i < n; i++)
                open_[i] = true;
        for (;;) {
                struct pollfd p[MAX_PARTIES + 1];
                p[0] = (struct pollfd){ .fd = mfd, .events = POLLIN };
                for (size_t i = 0; i < n; i++)
                        p[i + 1] = (struct pollfd){ .fd = open_[i] && is_attach[i] ? party[i] : -1, .events = POLLIN };
                if (poll(p, n + 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        uint8_t h[FRAME_HEADER];
                        _cleanup_free_ char *body = NULL;
                        size_t len = 0;
                        int type = monitor_read_frame(mfd, &body, &len);
                        if (type < 0)
                                return;
                        frame_header(h, (uint8_t)type, (uint32_t)len);
                        for (size_t i = 0; i < n; i++) {
                                if (!open_[i] || (!is_attach[i] && type != FRAME_STATUS))
                                        continue;
                                if (write_all(party[i], h, sizeof(h)) < 0 || write_all(party[i], body, len) < 0)
                                        open_[i] = false;
                        }
                }
                for (size_t i = 0; i < n; i++) {
                        if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[16384];
                        ssize_t k = read(party[i], buf, sizeof(buf));
                        if (k <= 0) {
                                open_[i] = false;
                                continue;
                        }
                        if (write_all(mfd, buf, (size_t)k) < 0)
                                return;
                }
        }
}

static int containers_start(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *dir = NULL;
        _cleanup_json_ json_t *rec = NULL;
        _cleanup_close_ int mfd = -EBADF;
        int party[MAX_PARTIES];
        bool is_attach[MAX_PARTIES], any_attach = false, any_in = false;
        size_t n = 0;
        Error *err = NULL;
        int code = 0, r;

        if (lookup(c, ref, "start", &id, &rec) < 0)
                return 0;
        if (container_is_running(rec))
                return api_reply_status(c, 304);
        dir = party_dir(c->e, id);
        {
                DIR *d = opendir(dir);
                struct dirent *de;
                while (d && (de = readdir(d)) && n < MAX_PARTIES) {
                        struct sockaddr_un sa = { .sun_family = AF_UNIX };
                        if (de->d_name[0] != 'a' && de->d_name[0] != 'w')
                                continue;
                        if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, de->d_name) >= (int)sizeof(sa.sun_path))
                                continue;
                        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                                if (fd >= 0)
                                        close(fd);
                                continue;
                        }
                        is_attach[n] = de->d_name[0] == 'a';
                        any_attach |= is_attach[n];
                        any_in |= is_attach[n] && de->d_name[1] == '1';
                        party[n++] = fd;
                }
                if (d)
                        closedir(d);
        }
        r = lifecycle_start(c->e, id, any_attach, any_in, n ? &mfd : NULL, &code, &err);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        close(party[i]);
                if (r == -EALREADY) {
                        error_free(err);
                        return api_reply_status(c, 304);
                }
                lifecycle_event(c->e, id, NULL, "die", NULL);
                /* the docker CLI tells 126 and 127 from 125 by dockerd's wording (runStartContainerErr) */
                if (err && err->msg && code == 127 && !strstr(err->msg, "no such file or directory") &&
                    !strstr(err->msg, "executable file not found")) {
                        char *m = xasprintf("%s: exec: no such file or directory", err->msg);
                        free(err->msg);
                        err->msg = m;
                } else if (err && err->msg && code == 126 && !strstr(err->msg, "permission denied")) {
                        char *m = xasprintf("%s: exec: permission denied", err->msg);
                        free(err->msg);
                        err->msg = m;
                }
                return reply_fail(c, err);
        }
        if (n) {
                /* the relay outlives this connection: double fork, so no one waits for it */
                pid_t pid = fork();
                if (pid == 0) {
                        if (fork() == 0) {
                                close(c->fd);
                                relay(mfd, party, is_attach, n);
                                _exit(0);
                        }
                        _exit(0);
                }
                if (pid > 0)
                        (void)waitpid(pid, NULL, 0);
                for (size_t i = 0; i < n; i++)
                        close(party[i]);
        }
        return api_reply_status(c, 204);
}

/* Reads STATUS frames until the exit (and the removal when `removed`); the exit code or -1. */
static int await_exit(ApiConn *c, int mfd, bool removed)
{
        int code = -1;
        for (;;) {
                struct pollfd p[2] = { { .fd = mfd, .events = POLLIN }, { .fd = c->fd, .events = 0 } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return code;
                }
                if (p[1].revents & (POLLHUP | POLLERR))
                        return -2; /* the client went away */
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                _cleanup_free_ char *body = NULL;
                size_t len;
                int type = monitor_read_frame(mfd, &body, &len);
                if (type < 0)
                        return code;
                if (type != FRAME_STATUS)
                        continue;
                _cleanup_json_ json_t *j = json_loads(body, 0, NULL);
                const char *st = json_string_value(json_object_get(j, "status"));
                if (!st)
                        continue;
                if ((STREQ(st, "exited") && !json_is_true(json_object_get(j, "restarting"))) || STREQ(st, "error")) {
                        code = (int)json_integer_value(json_object_get(j, "exitCode"));
                        if (!removed)
                                return code;
                }
                if (STREQ(st, "removed"))
                        return code;
        }
}

static int containers_wait(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *cond = api_query(c, "condition"), *path = NULL;
        _cleanup_json_ json_t *rec = NULL, *out = NULL;
        _cleanup_close_ int mfd = -EBADF, lfd = -EBADF;
        bool removed, next_exit;
        int code;

        if (lookup(c, ref, "wait", &id, &rec) < 0)
                return 0;
        if (cond && *cond && !STREQ(cond, "not-running") && !STREQ(cond, "next-exit") && !STREQ(cond, "removed"))
                return api_reply_error(c, 400, "invalid condition: \"%s\"", cond);
        removed = cond && STREQ(cond, "removed");
        next_exit = cond && STREQ(cond, "next-exit");
        code = (int)json_integer_value(json_object_get(json_object_get(rec, "State"), "ExitCode"));
        if (!container_monitor_alive(rec) && !next_exit && !removed) {
                out = json_pack("{s:n, s:i}", "Error", "StatusCode", code);
                return api_reply_json(c, 200, out);
        }
        if (container_monitor_alive(rec)) {
                mfd = monitor_connect(c->e, id, NULL);
                if (mfd >= 0) {
                        _cleanup_json_ json_t *req = json_pack("{s:b}", "wait", 1);
                        (void)monitor_send_control(mfd, req);
                }
        } else {
                lfd = party_bind(c->e, id, 'w', false, &path);
                if (lfd < 0)
                        return api_reply_error(c, 500, "waiting for %s: %s", ref, strerror(-lfd));
        }
        /* dockerd answers the head at once and the body when the condition is met */
        if (api_chunked_begin(c, 200, "application/json") < 0)
                return -EPIPE;
        c->close_after = true;
        if (lfd >= 0)
                mfd = party_wait(c, id, lfd, path, false, false);
        int got = mfd >= 0 ? await_exit(c, mfd, removed) : -1;
        if (got == -2)
                return -EPIPE;
        if (got < 0) {
                /* the monitor was gone before we reached it: the record has the exit code (if any) */
                _cleanup_json_ json_t *now = NULL;
                if (container_load(c->e, id, &now, NULL) == 0) {
                        container_refresh_state(now);
                        got = (int)json_integer_value(json_object_get(json_object_get(now, "State"), "ExitCode"));
                } else
                        got = code;
        }
        out = json_pack("{s:n, s:i}", "Error", "StatusCode", got);
        _cleanup_free_ char *text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        _cleanup_free_ char *line = xasprintf("%s\n", text);
        (void)api_chunk(c, line, strlen(line));
        (void)api_chunk_end(c);
        return 0;
}

/* Streams the monitor's output frames to the hijacked client, and the client's input back as STDIN frames. */
static void attach_pump(ApiConn *c, int mfd, bool tty, bool in)
{
        bool client_open = in;
        char ibuf[16384];
        /* bytes the client sent with its request head */
        for (;;) {
                /* without input still watched for a hang-up: a client gone must not hold its place until the container speaks */
                struct pollfd p[2] = { { .fd = mfd, .events = POLLIN }, { .fd = c->fd, .events = client_open ? POLLIN : 0 } };
                if (client_open && c->len) {
                        p[1].revents = POLLIN;
                } else if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (!client_open && (p[1].revents & (POLLHUP | POLLERR)))
                        return;
                if (client_open && (c->len || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
                        ssize_t k = api_conn_read(c, ibuf, sizeof(ibuf));
                        if (k <= 0) {
                                /* the client closed its input: close the container's stdin */
                                (void)monitor_send_frame(mfd, FRAME_STDIN, NULL, 0);
                                client_open = false;
                        } else if (monitor_send_frame(mfd, FRAME_STDIN, ibuf, (size_t)k) < 0)
                                return;
                        continue;
                }
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                _cleanup_free_ char *body = NULL;
                size_t len;
                int type = monitor_read_frame(mfd, &body, &len);
                if (type < 0)
                        return;
                if (type == FRAME_STDOUT || type == FRAME_STDERR) {
                        uint8_t h[FRAME_HEADER];
                        frame_header(h, (uint8_t)type, (uint32_t)len);
                        if ((!tty && api_write(c, h, sizeof(h)) < 0) || api_write(c, body, len) < 0)
                                return;
                } else if (type == FRAME_STATUS) {
                        _cleanup_json_ json_t *j = json_loads(body, 0, NULL);
                        const char *st = json_string_value(json_object_get(j, "status"));
                        if (st && ((STREQ(st, "exited") && !json_is_true(json_object_get(j, "restarting"))) ||
                                   STREQ(st, "error")))
                                return;
                }
        }
}

static int containers_attach(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *path = NULL;
        _cleanup_json_ json_t *rec = NULL;
        _cleanup_close_ int mfd = -EBADF, lfd = -EBADF;
        bool stream = api_query_bool(c, "stream"), want_in = api_query_bool(c, "stdin");

        if (lookup(c, ref, "attach", &id, &rec) < 0)
                return 0;
        json_t *cfg = json_object_get(rec, "Config");
        bool tty = json_is_true(json_object_get(cfg, "Tty"));
        bool in = want_in && json_is_true(json_object_get(cfg, "OpenStdin"));
        if (!stream)
                return api_reply_error(c, 400, "attach without stream=1 (logs only) is not supported: use /logs");
        if (container_monitor_alive(rec)) {
                Error *err = NULL;
                mfd = monitor_connect(c->e, id, &err);
                if (mfd < 0)
                        return reply_fail(c, err);
                _cleanup_json_ json_t *req = json_pack("{s:{s:b, s:b, s:b}}", "attach", "stdin", in, "stdout",
                                                       api_query_bool(c, "stdout"), "stderr", api_query_bool(c, "stderr"));
                (void)monitor_send_control(mfd, req);
        } else {
                const char *st = container_status(rec);
                if (!STREQ(st, "created") && !STREQ(st, "exited"))
                        return api_reply_error(c, 409, "You cannot attach to a stopped container, start it first");
                lfd = party_bind(c->e, id, 'a', in, &path);
                if (lfd < 0)
                        return api_reply_error(c, 500, "attaching to %s: %s", ref, strerror(-lfd));
        }
        lifecycle_event(c->e, id, rec, "attach", NULL);
        if (api_hijack(c, tty) < 0)
                return -EPIPE;
        if (lfd >= 0) {
                mfd = party_wait(c, id, lfd, path, true, in);
                if (mfd < 0)
                        return 0;
        }
        attach_pump(c, mfd, tty, in);
        return 0;
}

static int containers_stop_kill(ApiConn *c, const char *ref, const char *what)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;
        int r;

        if (lookup(c, ref, what, &id, &rec) < 0)
                return 0;
        if (STREQ(what, "kill")) {
                _cleanup_free_ char *sig = api_query(c, "signal");
                if (!container_is_running(rec))
                        return api_reply_error(c, 409, "Container %s is not running", id);
                r = lifecycle_kill(c->e, id, sig && *sig ? sig : "KILL", &err);
        } else {
                _cleanup_free_ char *t = api_query(c, "t");
                int64_t timeout = -1;
                if (t && *t && (parse_int64(t, &timeout) < 0 || timeout < -1 || timeout > 1 << 30))
                        return api_reply_error(c, 400, "t: \"%s\" is not a number of seconds", t);
                if (STREQ(what, "stop")) {
                        if (!container_is_running(rec))
                                return api_reply_status(c, 304);
                        r = lifecycle_stop(c->e, id, (int)timeout, &err);
                } else
                        r = lifecycle_restart(c->e, id, (int)timeout, &err);
        }
        if (r < 0)
                return reply_fail(c, err);
        return api_reply_status(c, 204);
}

static int containers_pause(ApiConn *c, const char *ref, bool pause)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;

        if (lookup(c, ref, pause ? "pause" : "unpause", &id, &rec) < 0)
                return 0;
        if (!container_is_running(rec))
                return api_reply_error(c, 409, "Container %s is not running", id);
        if (lifecycle_pause(c->e, id, pause, &err) < 0) {
                if (err)
                        err->errnum = EBUSY; /* dockerd: 409 for "is already paused" / "is not paused" */
                return reply_fail(c, err);
        }
        return api_reply_status(c, 204);
}

static int containers_delete(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;

        if (lookup(c, ref, "rm", &id, &rec) < 0)
                return 0;
        if (lifecycle_remove(c->e, id, api_query_bool(c, "force"), api_query_bool(c, "v"), &err) < 0) {
                if (err && err->msg && strstr(err->msg, "running"))
                        err->errnum = EBUSY; /* dockerd's 409 */
                return reply_fail(c, err);
        }
        return api_reply_status(c, 204);
}

/* POST /containers/prune: every container not running, as `docker container prune` (label filters honoured). */
static int containers_prune(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *list = NULL, *deleted = json_array(), *filters = NULL, *out = NULL;
        _cleanup_free_ char *f = api_query(c, "filters");
        Error *err = NULL;
        size_t i;
        json_t *r;

        api_actor(c, "prune", "container", NULL, NULL);
        if (f && *f) {
                filters = json_loads(f, 0, NULL);
                if (!json_is_object(filters))
                        return api_reply_error(c, 400, "filters: expected a JSON object");
                json_object_del(filters, "until"); /* not supported: documented */
        }
        if (container_list(c->e, &list, &err) < 0)
                return reply_fail(c, err);
        json_array_foreach(list, i, r) {
                const char *id = json_string_value(json_object_get(r, "Id"));
                container_refresh_state(r);
                if (!id || container_monitor_alive(r) || (filters && !list_filter(filters, r)))
                        continue;
                if (lifecycle_remove(c->e, id, false, false, &err) < 0) {
                        error_clear(&err);
                        continue;
                }
                json_array_append_new(deleted, json_string(id));
        }
        out = json_pack("{s:O, s:i}", "ContainersDeleted", json_array_size(deleted) ? deleted : json_null(), "SpaceReclaimed", 0);
        return api_reply_json(c, 200, out);
}

static int containers_rename(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *name = api_query(c, "name");
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;

        if (lookup(c, ref, "rename", &id, &rec) < 0)
                return 0;
        if (!name || !*name)
                return api_reply_error(c, 400, "name: a new name is required");
        if (container_rename(c->e, id, name[0] == '/' ? name + 1 : name, &err) < 0)
                return reply_fail(c, err);
        _cleanup_json_ json_t *extra = json_pack("{s:O}", "oldName", json_object_get(rec, "Name"));
        lifecycle_event(c->e, id, NULL, "rename", extra);
        return api_reply_status(c, 204);
}

static int containers_resize(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *h = api_query(c, "h"), *w = api_query(c, "w");
        _cleanup_json_ json_t *rec = NULL;
        int64_t hh, ww;

        if (lookup(c, ref, "resize", &id, &rec) < 0)
                return 0;
        if (!h || !w || parse_int64(h, &hh) < 0 || parse_int64(w, &ww) < 0 || hh < 0 || ww < 0 || hh > 65535 || ww > 65535)
                return api_reply_error(c, 400, "h, w: the terminal's height and width, 0 to 65535");
        if (!container_monitor_alive(rec))
                return api_reply_error(c, 409, "Container %s is not running", id);
        _cleanup_close_ int fd = monitor_connect(c->e, id, NULL);
        _cleanup_json_ json_t *req = json_pack("{s:{s:I, s:I}}", "resize", "h", (json_int_t)hh, "w", (json_int_t)ww);
        if (fd < 0 || monitor_send_control(fd, req) < 0)
                return api_reply_error(c, 500, "resizing %s: its monitor is not reachable", id);
        return api_reply(c, 200, "text/plain; charset=utf-8", "", 0);
}

/* ---- logs ---- */

typedef struct LogsOut {
        ApiConn *c;
        Engine *e;
        const char *id;
        bool tty, timestamps, out, err;
} LogsOut;

static int log_frame(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        LogsOut *l = ud;
        bool is_err = STREQ(stream, "stderr");
        Buf b = { 0 };
        if ((is_err && !l->err) || (!is_err && !l->out))
                return 0;
        if (!l->tty)
                buf_put(&b, "\0\0\0\0\0\0\0\0", FRAME_HEADER);
        if (l->timestamps) {
                _cleanup_free_ char *t = format_rfc3339nano(ts, false);
                buf_puts(&b, t);
                buf_putc(&b, ' ');
        }
        buf_put(&b, msg, len);
        if (!l->tty)
                frame_header((uint8_t *)b.data, is_err ? FRAME_STDERR : FRAME_STDOUT, (uint32_t)(b.len - FRAME_HEADER));
        int r = api_chunk(l->c, b.data, b.len);
        buf_free(&b);
        return r < 0 ? -EPIPE : 0;
}

static bool logs_running(void *ud)
{
        LogsOut *l = ud;
        _cleanup_json_ json_t *rec = NULL;
        struct pollfd p = { .fd = l->c->fd, .events = 0 };
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
                return false; /* the client went away */
        if (container_load(l->e, l->id, &rec, NULL) < 0)
                return false;
        return container_monitor_alive(rec);
}

static int containers_logs(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *id = NULL, *tail = api_query(c, "tail"), *since = api_query(c, "since"),
                            *until = api_query(c, "until");
        _cleanup_json_ json_t *rec = NULL;
        JsonLogReadOpts o = { .tail = -1 };
        LogsOut l = { .c = c, .e = c->e };
        struct timespec nowts;
        Error *err = NULL;
        int max_file = 1, r;

        if (lookup(c, ref, "logs", &id, &rec) < 0)
                return 0;
        json_t *lc = json_object_get(json_object_get(rec, "HostConfig"), "LogConfig");
        const char *type = json_string_value(json_object_get(lc, "Type"));
        const char *path = json_string_value(json_object_get(rec, "LogPath"));
        l.id = id;
        l.out = api_query_bool(c, "stdout");
        l.err = api_query_bool(c, "stderr");
        l.timestamps = api_query_bool(c, "timestamps");
        l.tty = json_is_true(json_object_get(json_object_get(rec, "Config"), "Tty"));
        if (!l.out && !l.err)
                return api_reply_error(c, 400, "Bad parameters: you must choose at least one stream");
        if (!type || !(STREQ(type, "journald") || ((STREQ(type, "json-file") || STREQ(type, "local")) && path && *path)))
                return api_reply_error(c, 501, "configured logging driver does not support reading");
        {
                const char *mf = json_string_value(json_object_get(json_object_get(lc, "Config"), "max-file"));
                int64_t n;
                if (mf && parse_int64(mf, &n) == 0 && n > 0 && n < 1000)
                        max_file = (int)n;
                else if (STREQ(type, "local"))
                        max_file = LOCAL_LOG_DEFAULT_MAX_FILE;
        }
        if (tail && *tail && !STREQ(tail, "all")) {
                int64_t n;
                if (parse_int64(tail, &n) < 0)
                        return api_reply_error(c, 400, "tail: \"%s\" is not a number or \"all\"", tail);
                o.tail = n < 0 ? -1 : n;
        }
        clock_gettime(CLOCK_REALTIME, &nowts);
        if (since && *since && !STREQ(since, "0")) {
                if (parse_timestamp_arg(since, nowts, &o.since, &err) < 0)
                        return reply_fail(c, err);
                o.has_since = true;
        }
        if (until && *until && !STREQ(until, "0")) {
                if (parse_timestamp_arg(until, nowts, &o.until, &err) < 0)
                        return reply_fail(c, err);
                o.has_until = true;
        }
        o.follow = api_query_bool(c, "follow") && !o.has_until;
        o.running = logs_running;
        o.running_ud = &l;
        if (api_chunked_begin(c, 200, NULL) < 0)
                return -EPIPE;
        c->close_after = o.follow;
        r = STREQ(type, "journald") ? journald_log_read(id, &o, log_frame, &l, &err)
            : STREQ(type, "local")  ? local_log_read(path, max_file, &o, log_frame, &l, &err)
                                    : jsonlog_read(path, max_file, &o, log_frame, &l, &err);
        if (r < 0) {
                error_free(err);
                if (r == -EPIPE)
                        return -EPIPE;
        }
        return api_chunk_end(c);
}

/* ---- images ---- */

static int images_list(ApiConn *c, const char *unused)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *list = NULL, *out = json_array();
        Error *err = NULL;
        size_t i;
        json_t *img;

        api_actor(c, "images", NULL, NULL, NULL);
        if (image_store_open(c->e->data_root, &s, &err) < 0 || image_list(s, &list, &err) < 0)
                return reply_fail(c, err);
        json_array_foreach(list, i, img) {
                json_t *tags = json_object_get(img, "RepoTags");
                json_array_append_new(
                        out, json_pack("{s:i, s:O, s:s, s:O, s:O, s:[], s:O, s:i, s:O, s:n}", "Containers", -1, "Created",
                                       json_object_get(img, "Created") ?: json_integer(0), "ParentId", "", "Id",
                                       json_object_get(img, "Id"), "RepoTags", tags ?: json_array(), "RepoDigests", "Size",
                                       json_object_get(img, "Size") ?: json_integer(0), "SharedSize", -1, "VirtualSize",
                                       json_object_get(img, "Size") ?: json_integer(0), "Labels"));
        }
        return api_reply_json(c, 200, out);
}

/* ---- routing ---- */

/* Matches "/containers/{X}/suffix" (suffix NULL: "/containers/{X}"); *ret_ref malloc'd. */
static bool match_ref(const char *route, const char *prefix, const char *suffix, char **ret_ref)
{
        size_t pl = strlen(prefix);
        if (strncmp(route, prefix, pl) != 0)
                return false;
        const char *ref = route + pl, *slash = strchr(ref, '/');
        /* no name or id starts with "-": such a ref could only be taken for a flag by the CLI commands run for it */
        if (slash == ref || !*ref || *ref == '-')
                return false;
        if (!suffix) {
                if (slash)
                        return false;
                *ret_ref = xstrdup(ref);
                return true;
        }
        if (!slash || !STREQ(slash + 1, suffix))
                return false;
        *ret_ref = xstrndup(ref, (size_t)(slash - ref));
        return true;
}

static int do_stop(ApiConn *c, const char *ref)
{
        return containers_stop_kill(c, ref, "stop");
}

static int do_kill(ApiConn *c, const char *ref)
{
        return containers_stop_kill(c, ref, "kill");
}

static int do_restart(ApiConn *c, const char *ref)
{
        return containers_stop_kill(c, ref, "restart");
}

static int do_pause(ApiConn *c, const char *ref)
{
        return containers_pause(c, ref, true);
}

static int do_unpause(ApiConn *c, const char *ref)
{
        return containers_pause(c, ref, false);
}

typedef enum RouteKind {
        ROUTE_EXACT, /* the path is `prefix` */
        ROUTE_REF,   /* prefix{ref}/suffix, or prefix{ref} when suffix is NULL (ref without "/") */
        ROUTE_REST,  /* prefix{rest}: an image name may hold "/" */
} RouteKind;

typedef struct Route {
        const char *method; /* "GET" also takes HEAD */
        RouteKind kind;
        const char *prefix, *suffix;
        int (*fn)(ApiConn *c, const char *ref);
} Route;

static const Route routes[] = {
        { "GET", ROUTE_EXACT, "/_ping", NULL, ping },
        { "GET", ROUTE_EXACT, "/version", NULL, version },
        { "GET", ROUTE_EXACT, "/info", NULL, info },
        { "GET", ROUTE_EXACT, "/events", NULL, api_events },
        { "GET", ROUTE_EXACT, "/system/df", NULL, api_system_df },
        { "GET", ROUTE_EXACT, "/containers/json", NULL, containers_list },
        { "POST", ROUTE_EXACT, "/containers/create", NULL, containers_create },
        { "POST", ROUTE_EXACT, "/containers/prune", NULL, containers_prune },
        { "GET", ROUTE_REF, "/containers/", "json", containers_inspect },
        { "GET", ROUTE_REF, "/containers/", "logs", containers_logs },
        { "GET", ROUTE_REF, "/containers/", "top", api_containers_top },
        { "GET", ROUTE_REF, "/containers/", "stats", api_containers_stats },
        { "POST", ROUTE_REF, "/containers/", "start", containers_start },
        { "POST", ROUTE_REF, "/containers/", "stop", do_stop },
        { "POST", ROUTE_REF, "/containers/", "kill", do_kill },
        { "POST", ROUTE_REF, "/containers/", "restart", do_restart },
        { "POST", ROUTE_REF, "/containers/", "wait", containers_wait },
        { "POST", ROUTE_REF, "/containers/", "attach", containers_attach },
        { "POST", ROUTE_REF, "/containers/", "rename", containers_rename },
        { "POST", ROUTE_REF, "/containers/", "resize", containers_resize },
        { "POST", ROUTE_REF, "/containers/", "pause", do_pause },
        { "POST", ROUTE_REF, "/containers/", "unpause", do_unpause },
        { "POST", ROUTE_REF, "/containers/", "update", api_containers_update },
        { "POST", ROUTE_REF, "/containers/", "exec", api_exec_create },
        { "DELETE", ROUTE_REF, "/containers/", NULL, containers_delete },
        { "POST", ROUTE_REF, "/exec/", "start", api_exec_start },
        { "POST", ROUTE_REF, "/exec/", "resize", api_exec_resize },
        { "GET", ROUTE_REF, "/exec/", "json", api_exec_inspect },
        { "GET", ROUTE_EXACT, "/images/json", NULL, images_list },
        { "POST", ROUTE_EXACT, "/images/create", NULL, api_images_create },
        { "POST", ROUTE_EXACT, "/images/load", NULL, api_images_load },
        { "GET", ROUTE_EXACT, "/images/get", NULL, api_images_get },
        { "GET", ROUTE_REF, "/images/", "get", api_images_get },
        { "GET", ROUTE_REF, "/images/", "json", api_images_inspect },
        { "POST", ROUTE_REF, "/images/", "tag", api_images_tag },
        { "DELETE", ROUTE_REST, "/images/", NULL, api_images_delete },
        { "GET", ROUTE_EXACT, "/volumes", NULL, api_volumes_list },
        { "POST", ROUTE_EXACT, "/volumes/create", NULL, api_volumes_create },
        { "POST", ROUTE_EXACT, "/volumes/prune", NULL, api_volumes_prune },
        { "GET", ROUTE_REF, "/volumes/", NULL, api_volumes_inspect },
        { "DELETE", ROUTE_REF, "/volumes/", NULL, api_volumes_delete },
};

int api_dispatch(ApiConn *c)
{
        const char *m = STREQ(c->req.method, "HEAD") ? "GET" : c->req.method, *r = c->route;

        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                const Route *rt = &routes[i];
                _cleanup_free_ char *ref = NULL;
                if (!STREQ(m, rt->method))
                        continue;
                if (rt->kind == ROUTE_EXACT && STREQ(r, rt->prefix))
                        return rt->fn(c, NULL);
                if (rt->kind == ROUTE_REF && match_ref(r, rt->prefix, rt->suffix, &ref))
                        return rt->fn(c, ref);
                if (rt->kind == ROUTE_REST && str_has_prefix(r, rt->prefix) && r[strlen(rt->prefix)] &&
                    r[strlen(rt->prefix)] != '-')
                        return rt->fn(c, r + strlen(rt->prefix));
        }
        return api_reply_error(c, 404, "page not found");
}
