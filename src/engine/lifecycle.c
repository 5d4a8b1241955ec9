/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach-proto.h"
#include "container-store.h"
#include "events.h"
#include "image-store.h"
#include "json-util.h"
#include "monitor-client.h"
#include "runopts.h"
#include "specgen.h"
#include "userns.h"
#include "util.h"
#include "volume.h"

static int wait_monitor_gone(Engine *e, const char *id, int seconds);

/* ---- create ---- */

static json_t *merge_env(json_t *image_env, json_t *user_env)
{
        json_t *env = json_array();
        size_t i;
        json_t *v;

        json_array_foreach(image_env, i, v) if (json_is_string(v)) json_array_append(env, v);
        env_merge(env, user_env);
        return env;
}

static int write_etc_files(const char *dir, json_t *config, json_t *host, Error **err)
{
        const char *hn = json_string_value(json_object_get(config, "Hostname"));
        const char *net = json_string_value(json_object_get(host, "NetworkMode"));
        bool host_net = net && STREQ(net, "host");
        _cleanup_free_ char *hostname = NULL, *hosts = NULL, *resolv = NULL;
        _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        int r;

        if (dfd < 0)
                return error_set(err, errno, "opening %s", dir);
        if (host_net) {
                char buf[256] = "";
                (void)gethostname(buf, sizeof(buf) - 1);
                hostname = xasprintf("%s\n", buf);
                if (read_file_at(AT_FDCWD, "/etc/hosts", 1 << 20, &hosts, NULL) < 0)
                        hosts = xstrdup("127.0.0.1\tlocalhost\n");
        } else {
                hostname = xasprintf("%s\n", hn ? hn : "");
                hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                                  "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
                                  "127.0.1.1\t%s\n", hn ? hn : "");
        }
        {
                /* The host's resolv.conf; a container without the host's network cannot reach the host's
                 * loopback resolvers, so those lines are left out (as Docker does). */
                _cleanup_free_ char *text = NULL;
                size_t cap = 0;
                FILE *m = NULL;
                if (read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &text, NULL) < 0)
                        text = xstrdup("");
                m = open_memstream(&resolv, &cap);
                char *save = NULL;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        if (!host_net && str_has_prefix(l, "nameserver") &&
                            (strstr(l, " 127.") || strstr(l, " ::1") || strstr(l, "\t127.")))
                                continue;
                        fprintf(m, "%s\n", l);
                }
                fclose(m);
        }
        if ((r = write_file_atomic(dfd, "hostname", hostname, strlen(hostname), 0644, false)) < 0 ||
            (r = write_file_atomic(dfd, "hosts", hosts, strlen(hosts), 0644, false)) < 0 ||
            (r = write_file_atomic(dfd, "resolv.conf", resolv, strlen(resolv), 0644, false)) < 0)
                return error_set(err, -r, "writing the container's /etc files in %s", dir);
        return 0;
}

/* -v SPEC split as docker does: SOURCE:DEST[:OPTS], or DEST alone (an anonymous volume). */
static int split_bind(const char *spec, char **ret_src, char **ret_dst, char **ret_opts)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        char *parts[4] = { 0 };
        int n = 0;

        for (char *p = copy, *save = NULL, *t; n < 4 && (t = strtok_r(p, ":", &save)); p = NULL)
                parts[n++] = t;
        if (n < 1 || n > 3)
                return -EINVAL;
        *ret_src = n == 1 ? NULL : xstrdup(parts[0]);
        *ret_dst = xstrdup(parts[n == 1 ? 0 : 1]);
        *ret_opts = n == 3 ? xstrdup(parts[2]) : NULL;
        return 0;
}

static bool opt_listed(const char *opts, const char *word)
{
        _cleanup_free_ char *copy = xstrdup(opts ? opts : "");
        for (char *p = copy, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL)
                if (STREQ(t, word))
                        return true;
        return false;
}

static json_t *mounts_for_inspect(json_t *host, json_t *vols, json_t *from_binds)
{
        json_t *out = json_array();
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(host, "Binds"), i, v) {
                _cleanup_free_ char *src = NULL, *dst = NULL, *opts = NULL;
                if (split_bind(json_string_value(v) ?: "", &src, &dst, &opts) < 0 || !src || src[0] != '/')
                        continue;       /* volumes come below */
                json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind", "Source", src,
                                                     "Destination", dst, "Mode", opts ? opts : "", "RW",
                                                     !opt_listed(opts, "ro"), "Propagation", "rprivate"));
        }
        json_array_foreach(json_object_get(host, "Mounts"), i, v) {
                const char *type = json_string_value(json_object_get(v, "Type"));
                if (type && STREQ(type, "volume"))
                        continue;
                json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", type ? type : "",
                                                     "Source", json_string_value(json_object_get(v, "Source")) ?: "",
                                                     "Destination", json_string_value(json_object_get(v, "Target")) ?: "",
                                                     "Mode", "", "RW", !json_is_true(json_object_get(v, "ReadOnly")),
                                                     "Propagation", type && STREQ(type, "bind") ? "rprivate" : ""));
        }
        json_array_foreach(from_binds, i, v)
                json_array_append_new(out, json_pack("{s:s, s:O, s:O, s:O, s:O, s:s}", "Type", "bind", "Source",
                                                     json_object_get(v, "Source"), "Destination", json_object_get(v, "Destination"),
                                                     "Mode", json_object_get(v, "Mode"), "RW", json_object_get(v, "RW"),
                                                     "Propagation", "rprivate"));
        json_array_foreach(vols, i, v)
                json_array_append_new(out, json_pack("{s:s, s:O, s:O, s:O, s:s, s:O, s:O, s:s}", "Type", "volume", "Name",
                                                     json_object_get(v, "Name"), "Source", json_object_get(v, "Source"),
                                                     "Destination", json_object_get(v, "Destination"), "Driver", "local",
                                                     "Mode", json_object_get(v, "Mode"), "RW", json_object_get(v, "RW"),
                                                     "Propagation", ""));
        return out;
}

/* Does an absolute path name the root once "." and ".." are taken lexically ("/a/..", "//.")? */
static bool path_is_root(const char *p)
{
        int depth = 0;

        for (const char *s = p; *s;) {
                size_t n;
                while (*s == '/')
                        s++;
                n = strcspn(s, "/");
                if (n == 2 && s[0] == '.' && s[1] == '.')
                        depth = depth > 0 ? depth - 1 : 0;
                else if (n > 0 && !(n == 1 && s[0] == '.'))
                        depth++;
                s += n;
                if (depth == 0 && !*s)
                        return true;
        }
        return depth == 0;
}

/* One volume a container asks for, before it is resolved to a volume. */
static int want_volume(json_t *vols, json_t *dests, const char *name, const char *dst, bool rw, const char *mode,
                       bool copy, bool idmap, const char *propagation, json_t *labels, json_t *driver, const char *what,
                       Error **err)
{
        if (dst[0] != '/')
                return error_setx(err, EINVAL, "%s: invalid mount config: the container path \"%s\" must be absolute", what, dst);
        if (json_object_get(dests, dst))
                return error_setx(err, EINVAL, "%s: Duplicate mount point: %s", what, dst);
        if (path_is_root(dst))
                /* "/", "/.", "/a/..": a volume over the whole root (and a copy-up of all of it) */
                return error_setx(err, EINVAL, "%s: invalid specification: destination can't be '/'", what);
        json_object_set_new(dests, dst, json_true());
        json_array_append_new(vols, json_pack("{s:s?, s:s, s:b, s:s, s:b, s:b, s:s, s:O?, s:O?}", "Name", name, "Destination",
                                              dst, "RW", rw, "Mode", mode, "Copy", copy, "Idmap", idmap, "Propagation",
                                              propagation ? propagation : "", "Labels", labels, "DriverConfig", driver));
        return 0;
}

/*
 * --volumes-from (HostConfig.VolumesFrom, "CONTAINER[:ro|rw]"): the volumes and bind mounts of each
 * container, at the same destinations, read-only with ":ro", as they are in it otherwise (docker's
 * rule).  A destination the container's own mounts already take is left to them.  Volumes go into
 * `want` (never copied up: they are in use), binds into `binds` ({Source, Destination, RW}).
 */
static int volumes_from(Engine *e, json_t *host, json_t *want, json_t *dests, json_t *binds, Error **err)
{
        size_t i, k;
        json_t *v, *m;
        int r;

        json_array_foreach(json_object_get(host, "VolumesFrom"), i, v) {
                _cleanup_free_ char *ref = xstrdup(json_string_value(v) ?: ""), *id = NULL, *what = NULL;
                _cleanup_json_ json_t *rec = NULL;
                char *mode = strchr(ref, ':');
                if (mode)
                        *mode++ = '\0';
                what = xasprintf("--volumes-from %s", json_string_value(v) ?: "");
                if (!*ref || (mode && !STREQ(mode, "ro") && !STREQ(mode, "rw")))
                        return error_setx(err, EINVAL, "HostConfig.VolumesFrom[%zu]: invalid value \"%s\" (CONTAINER[:ro|rw])",
                                          i, json_string_value(v) ?: "");
                r = container_lookup(e, ref, &id, err);
                if (r >= 0)
                        r = container_load(e, id, &rec, err);
                if (r < 0) {
                        /* a bad parameter, not a missing object: over the API a 404 on create sends the
                         * docker CLI off to pull the image, hiding this message */
                        if (r == -ENOENT && err && *err) {
                                (*err)->errnum = EINVAL;
                                r = -EINVAL;
                        }
                        error_wrap(err, "%s", what);
                        return r;
                }
                json_array_foreach(json_object_get(rec, "Mounts"), k, m) {
                        const char *type = json_string_value(json_object_get(m, "Type")) ?: "";
                        const char *dst = json_string_value(json_object_get(m, "Destination"));
                        bool rw = mode ? STREQ(mode, "rw") : json_is_true(json_object_get(m, "RW"));
                        if (!dst || json_object_get(dests, dst))
                                continue;
                        if (STREQ(type, "volume")) {
                                r = want_volume(want, dests, json_string_value(json_object_get(m, "Name")), dst, rw,
                                                mode ? mode : json_string_value(json_object_get(m, "Mode")) ?: "", false, false,
                                                NULL, NULL, NULL, what, err);
                                if (r < 0)
                                        return r;
                        } else if (STREQ(type, "bind")) {
                                json_object_set_new(dests, dst, json_true());
                                json_array_append_new(binds, json_pack("{s:O, s:s, s:b, s:s}", "Source", json_object_get(m, "Source"),
                                                                       "Destination", dst, "RW", rw, "Mode", mode ? mode : ""));
                        }
                }
        }
        return 0;
}

/*
 * The volumes a container mounts, from HostConfig.Binds (NAME:/dst, /dst), HostConfig.Mounts (type
 * volume), then Config.Volumes (the API's form of `-v /dst`, as docker's CLI sends it) and the image's
 * Volumes not covered by a mount of the user's, each made unless it exists.
 * *ret: [{Name, Source, Destination, RW, Mode, Copy, Idmap, Propagation}], what start mounts and
 * inspect shows; *ret_created: the volumes made here (for the rollback of a failed create).  *ret_lock:
 * the volumes lock, taken shared before the first volume is resolved when there is one (a container
 * without volumes takes no lock), for the caller to hold until the record that names them is saved.
 */
static int resolve_volumes(Engine *e, json_t *host, json_t *config_volumes, json_t *image_volumes, json_t *from_binds,
                           int *ret_lock, json_t **ret, char ***ret_created, Error **err)
{
        json_t *const anonymous[] = { config_volumes, image_volumes };
        static const char *const anonymous_what[] = { "Config.Volumes", "the image's VOLUME" };
        _cleanup_json_ json_t *want = json_array(), *dests = json_object(), *out = json_array();
        char **created = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *v;
        const char *k;
        int r = 0;

        json_array_foreach(json_object_get(host, "Binds"), i, v) {
                _cleanup_free_ char *src = NULL, *dst = NULL, *opts = NULL, *what = NULL;
                const char *spec = json_string_value(v);
                if (!spec || split_bind(spec, &src, &dst, &opts) < 0) {
                        r = error_setx(err, EINVAL, "HostConfig.Binds[%zu]: invalid volume specification: '%s'", i, spec ? spec : "");
                        goto fail;
                }
                what = xasprintf("-v %s", spec);
                if (src && src[0] == '/') {
                        json_object_set_new(dests, dst, json_true());
                        continue;
                }
                if (src && (r = volume_check_name(src, err)) < 0) {
                        error_wrap(err, "%s", what);
                        goto fail;
                }
                const char *prop = NULL;
                _cleanup_free_ char *ocopy = xstrdup(opts ? opts : "");
                for (char *p = ocopy, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL)
                        if (strstr(t, "private") || strstr(t, "slave") || strstr(t, "shared"))
                                prop = t;
                r = want_volume(want, dests, src, dst, !opt_listed(opts, "ro"), opts ? opts : src ? "z" : "",
                                !opt_listed(opts, "nocopy"), opt_listed(opts, "idmap"), prop, NULL, NULL, what, err);
                if (r < 0)
                        goto fail;
        }
        json_array_foreach(json_object_get(host, "Mounts"), i, v) {
                const char *type = json_string_value(json_object_get(v, "Type"));
                const char *src = json_string_value(json_object_get(v, "Source"));
                const char *dst = json_string_value(json_object_get(v, "Target"));
                json_t *vo = json_object_get(v, "VolumeOptions");
                _cleanup_free_ char *what = xasprintf("HostConfig.Mounts[%zu]", i);
                if (!type || !STREQ(type, "volume")) {
                        if (dst)
                                json_object_set_new(dests, dst, json_true());
                        continue;
                }
                if (!dst) {
                        r = error_setx(err, EINVAL, "%s: a volume mount needs a target", what);
                        goto fail;
                }
                if (src && *src && (r = volume_check_name(src, err)) < 0) {
                        error_wrap(err, "%s", what);
                        goto fail;
                }
                r = want_volume(want, dests, src && *src ? src : NULL, dst, !json_is_true(json_object_get(v, "ReadOnly")), "z",
                                !json_is_true(json_object_get(vo, "NoCopy")), false, NULL, json_object_get(vo, "Labels"),
                                json_object_get(vo, "DriverConfig"), what, err);
                if (r < 0)
                        goto fail;
        }
        json_object_foreach(json_object_get(host, "Tmpfs"), k, v)
                json_object_set_new(dests, k, json_true());
        r = volumes_from(e, host, want, dests, from_binds, err);
        if (r < 0)
                goto fail;
        if (config_volumes && !json_is_null(config_volumes) && !json_is_object(config_volumes)) {
                r = error_setx(err, EINVAL, "Config.Volumes: expected an object whose keys are container paths");
                goto fail;
        }
        for (size_t s = 0; s < ELEMENTSOF(anonymous); s++)
                json_object_foreach(anonymous[s], k, v) {
                        if (json_object_get(dests, k))
                                continue;       /* the user's mount takes the place of the image's volume */
                        r = want_volume(want, dests, NULL, k, true, "", true, false, NULL, NULL, NULL, anonymous_what[s], err);
                        if (r < 0)
                                goto fail;
                }

        if (json_array_size(want) > 0 && (r = volumes_lock(e, false, ret_lock, err)) < 0)
                goto fail;
        json_array_foreach(want, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                json_t *dc = json_object_get(v, "DriverConfig");
                _cleanup_json_ json_t *vol = NULL;
                bool made = false;
                r = volume_create(e, name, json_string_value(json_object_get(dc, "Name")), json_object_get(v, "Labels"),
                                  json_object_get(dc, "Options"), !name, &vol, &made, err);
                if (r < 0)
                        goto fail;
                name = json_string_value(json_object_get(vol, "Name"));
                if (made)
                        strv_push(&created, name);
                json_array_append_new(out, json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "Name", name, "Source",
                                                     json_object_get(vol, "Mountpoint"), "Destination",
                                                     json_object_get(v, "Destination"), "RW", json_object_get(v, "RW"), "Mode",
                                                     json_object_get(v, "Mode"), "Copy", json_object_get(v, "Copy"), "Idmap",
                                                     json_object_get(v, "Idmap"), "Propagation", json_object_get(v, "Propagation")));
        }
        *ret = TAKE_PTR(out);
        *ret_created = created;
        return 0;
fail:
        *ret_created = created;         /* the caller removes them once it has let go of the lock */
        return r;
}

static void apply_log_defaults(Engine *e, json_t *host)
{
        json_t *lc = json_object_get(host, "LogConfig");
        const char *type = json_string_value(json_object_get(lc, "Type"));
        const char *dtype = json_string_value(json_object_get(e->daemon, "log-driver"));
        json_t *cfg = json_object_get(lc, "Config");

        if (!lc) {
                json_object_set_new(host, "LogConfig", lc = json_pack("{s:s, s:{}}", "Type", "", "Config"));
                cfg = json_object_get(lc, "Config");
        }
        if (!cfg)
                json_object_set_new(lc, "Config", cfg = json_object());
        if (!type || !*type) {
                type = dtype && *dtype ? dtype : "json-file";
                json_object_set_new(lc, "Type", json_string(type));
                /* daemon.json log-opts belong to the daemon's driver. */
                const char *k;
                json_t *v;
                json_object_foreach(json_object_get(e->daemon, "log-opts"), k, v) if (!json_object_get(cfg, k))
                        json_object_set(cfg, k, v);
        }
        /* Rotation is on by default (a deliberate difference from Docker, whose json-file grows until
         * the disk is full): 10 MB a file, 3 files. */
        if (STREQ(json_string_value(json_object_get(lc, "Type")), "json-file")) {
                if (!json_object_get(cfg, "max-size"))
                        json_object_set_new(cfg, "max-size", json_string("10m"));
                if (!json_object_get(cfg, "max-file"))
                        json_object_set_new(cfg, "max-file", json_string("3"));
        }
}

int lifecycle_create(Engine *e, json_t *config_in, json_t *host_in, const char *name, char **ret_id, char ***warnings,
                     Error **err)
{
        _cleanup_json_ json_t *config = json_deep_copy(config_in), *host = json_deep_copy(host_in);
        _cleanup_json_ json_t *image_config = NULL, *record = NULL;
        _cleanup_(image_store_closep) ImageStore *store = NULL;
        _cleanup_free_ char *image_id = NULL, *id = NULL, *dir = NULL, *rt_path = NULL, *created = NULL, *image_ref = NULL;
        _cleanup_strv_ char **rt_args = NULL, **vols_made = NULL;
        _cleanup_json_ json_t *vols = NULL, *from_binds = NULL;
        _cleanup_close_ int vlock = -EBADF;
        const char *image = json_string_value(json_object_get(config, "Image"));
        json_t *ic, *args, *v;
        size_t i;
        int r;

        if (!image || !*image)
                return error_setx(err, EINVAL, "no image given");
        r = hostconfig_validate(e, config, host, warnings, err);
        if (r < 0)
                return r;
        r = userns_check(e, host, err);
        if (r < 0)
                return r;
        apply_log_defaults(e, host);
        {
                /* the daemon's defaults too (their warnings were said already) */
                _cleanup_strv_ char **again = NULL;
                r = hostconfig_validate(e, config, host, &again, err);
                if (r < 0)
                        return error_wrap(err, "with the defaults of %s", e->config_file);
        }
        {
                const char *rt = json_string_value(json_object_get(host, "Runtime"));
                if (!rt || !*rt)
                        json_object_set_new(host, "Runtime", json_string(engine_default_runtime(e)));
                r = engine_runtime(e, json_string_value(json_object_get(host, "Runtime")), &rt_path, &rt_args, err);
                if (r < 0)
                        return r;
        }

        r = image_store_open(e->data_root, &store, err);
        if (r < 0)
                return r;
        r = image_lookup(store, image, &image_id, &image_config, err);
        if (r < 0) {
                if (r == -ENOENT) {
                        error_clear(err);
                        return error_setx(err, ENOENT, "Unable to find image '%s' locally (stockade has no registry: "
                                          "`stockade import` or `stockade load` it first)", image);
                }
                return r;
        }

        /* The image's defaults under the user's settings. */
        ic = json_object_get(image_config, "config");
        json_object_set_new(config, "Env", merge_env(json_object_get(ic, "Env"), json_object_get(config, "Env")));
        if (json_is_null(json_object_get(config, "Entrypoint")) || !json_object_get(config, "Entrypoint")) {
                if (json_is_array(json_object_get(ic, "Entrypoint")))
                        json_object_set(config, "Entrypoint", json_object_get(ic, "Entrypoint"));
                if (!json_is_array(json_object_get(config, "Cmd")) && json_is_array(json_object_get(ic, "Cmd")))
                        json_object_set(config, "Cmd", json_object_get(ic, "Cmd"));
        }
        if (!*(json_string_value(json_object_get(config, "WorkingDir")) ?: "") && json_is_string(json_object_get(ic, "WorkingDir")))
                json_object_set(config, "WorkingDir", json_object_get(ic, "WorkingDir"));
        if (!*(json_string_value(json_object_get(config, "User")) ?: "") && json_is_string(json_object_get(ic, "User")))
                json_object_set(config, "User", json_object_get(ic, "User"));
        if (!json_object_get(config, "StopSignal") && json_is_string(json_object_get(ic, "StopSignal")))
                json_object_set(config, "StopSignal", json_object_get(ic, "StopSignal"));
        /* dockerd's merge: the image's HEALTHCHECK fills what the user left unset */
        {
                json_t *uh = json_object_get(config, "Healthcheck"), *ih = json_object_get(ic, "Healthcheck");
                static const char *const fields[] = { "Interval", "Timeout", "StartPeriod", "Retries" };
                if (json_is_object(ih)) {
                        if (!json_is_object(uh))
                                json_object_set(config, "Healthcheck", ih);
                        else {
                                if (json_array_size(json_object_get(uh, "Test")) == 0 && json_object_get(ih, "Test"))
                                        json_object_set(uh, "Test", json_object_get(ih, "Test"));
                                for (size_t f = 0; f < ELEMENTSOF(fields); f++)
                                        if (json_integer_value(json_object_get(uh, fields[f])) == 0 &&
                                            json_integer_value(json_object_get(ih, fields[f])) != 0)
                                                json_object_set(uh, fields[f], json_object_get(ih, fields[f]));
                        }
                }
        }
        {
                json_t *labels = json_object_get(config, "Labels");
                const char *k;
                if (!json_is_object(labels))
                        json_object_set_new(config, "Labels", labels = json_object());
                json_object_foreach(json_object_get(ic, "Labels"), k, v) if (!json_object_get(labels, k))
                        json_object_set(labels, k, v);
        }
        args = json_array();
        json_array_extend(args, json_object_get(config, "Entrypoint"));
        json_array_extend(args, json_object_get(config, "Cmd"));
        if (json_array_size(args) == 0) {
                json_decref(args);
                return error_setx(err, EINVAL, "No command specified");
        }
        /* `image` points into config's own string, which this replaces: keep a copy for below. */
        image = image_ref = xstrdup(image);
        json_object_set_new(config, "Image", json_string(image));

        created = now_rfc3339nano();
        {
                const char *aa = "";
                json_array_foreach(json_object_get(host, "SecurityOpt"), i, v) {
                        const char *s = json_string_value(v);
                        if (s && (str_has_prefix(s, "apparmor=") || str_has_prefix(s, "apparmor:")))
                                aa = s + 9;
                }
                record = json_pack("{s:s, s:s, s:O, s:O, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:n}",
                                   "Id", "", "Created", created, "Path", json_array_get(args, 0), "Args", json_null(),
                                   "State", container_state_new(), "Image", image_id, "ResolvConfPath", "", "HostnamePath",
                                   "", "HostsPath", "", "LogPath", "", "Name", "", "RestartCount", 0, "Driver", "overlay",
                                   "Platform", "linux", "MountLabel", "", "ProcessLabel", "", "AppArmorProfile", aa,
                                   "ExecIDs");
                json_t *rest = json_array();
                for (i = 1; i < json_array_size(args); i++)
                        json_array_append(rest, json_array_get(args, i));
                json_object_set_new(record, "Args", rest);
                json_decref(args);
        }
        json_object_set(record, "HostConfig", host);
        json_object_set_new(record, "GraphDriver", json_pack("{s:{}, s:s}", "Data", "Name", "overlay"));
        json_object_set(record, "Config", config);
        json_object_set_new(record, "NetworkSettings",
                            json_pack("{s:s, s:s, s:b, s:s, s:i, s:{}, s:s, s:n, s:n, s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:{}}",
                                      "Bridge", "", "SandboxID", "", "HairpinMode", 0, "LinkLocalIPv6Address", "",
                                      "LinkLocalIPv6PrefixLen", 0, "Ports", "SandboxKey", "", "SecondaryIPAddresses",
                                      "SecondaryIPv6Addresses", "EndpointID", "", "Gateway", "", "GlobalIPv6Address", "",
                                      "GlobalIPv6PrefixLen", 0, "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "",
                                      "MacAddress", "", "Networks"));
        json_object_set_new(record, "Stockade", json_pack("{s:s, s:i, s:i}", "ImageRef", image, "MonitorPid", 0, "MonitorStart", 0));
        {
                /* userns-remap: the mappings are fixed at create, as docker's (a daemon.json change
                 * applies to new containers) */
                json_t *uidmap = NULL, *gidmap = NULL;
                r = userns_mappings(e, host, &uidmap, &gidmap, warnings, err);
                if (r < 0)
                        return r;
                if (uidmap) {
                        json_object_set_new(json_object_get(record, "Stockade"), "UidMappings", uidmap);
                        json_object_set_new(json_object_get(record, "Stockade"), "GidMappings", gidmap);
                }
        }

        /* Volumes last, right before the record that names them: their lock is held (shared) until the
         * record is saved, so a `volume rm` that scans the records cannot slip in between. */
        from_binds = json_array();
        r = resolve_volumes(e, host, json_object_get(config, "Volumes"), json_object_get(ic, "Volumes"), from_binds, &vlock,
                            &vols, &vols_made, err);
        if (r < 0)
                goto fail_volumes;
        json_object_set_new(record, "Mounts", mounts_for_inspect(host, vols, from_binds));
        json_object_set(json_object_get(record, "Stockade"), "Volumes", vols);
        if (json_array_size(from_binds))
                json_object_set(json_object_get(record, "Stockade"), "FromBinds", from_binds);

        r = container_create_record(e, record, name, &id, err);
        if (r < 0)
                goto fail_volumes;
        dir = engine_container_dir(e, id);
        {
                /* --userns=auto: leased once the record exists, so a concurrent reclaim sees it alive */
                json_t *uidmap = NULL, *gidmap = NULL;
                r = userns_auto_assign(e, host, id, &uidmap, &gidmap, err);
                if (r < 0)
                        goto fail;
                if (uidmap) {
                        json_object_set_new(json_object_get(record, "Stockade"), "UidMappings", uidmap);
                        json_object_set_new(json_object_get(record, "Stockade"), "GidMappings", gidmap);
                }
        }
        {
                json_t *cfg = json_object_get(record, "Config");
                const char *hn = json_string_value(json_object_get(cfg, "Hostname"));
                if (!hn || !*hn) {
                        char short_id[13];
                        snprintf(short_id, sizeof(short_id), "%s", id);
                        json_object_set_new(cfg, "Hostname", json_string(short_id));
                }
                static const char *const sub[] = { "upper", "work", "rootfs", "bundle" };
                for (i = 0; i < ELEMENTSOF(sub); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, sub[i]);
                        if (mkdir(p, 0700) < 0) {
                                r = error_set(err, errno, "creating %s", p);
                                goto fail;
                        }
                }
                /* overlayfs gives the merged root the upper dir's owner and mode: 0755, as an image's
                 * root is, or a container user other than root could not even look up /bin.  The
                 * container's directory stays closed to others but traversable. */
                {
                        _cleanup_free_ char *p = xasprintf("%s/rootfs", dir), *u = xasprintf("%s/upper", dir);
                        (void)chmod(dir, 0711);
                        (void)chmod(p, 0755);
                        (void)chmod(u, 0755);
                }
                r = write_etc_files(dir, cfg, host, err);
                if (r < 0)
                        goto fail;
                _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", dir), *hostname = xasprintf("%s/hostname", dir),
                                    *hosts = xasprintf("%s/hosts", dir), *log = xasprintf("%s/%s-json.log", dir, id),
                                    *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir),
                                    *merged = xasprintf("%s/rootfs", dir);
                json_object_set_new(record, "ResolvConfPath", json_string(resolv));
                json_object_set_new(record, "HostnamePath", json_string(hostname));
                json_object_set_new(record, "HostsPath", json_string(hosts));
                {
                        /* Where the file drivers write, as docker's; the others have none. */
                        const char *lt = json_string_value(json_object_get(json_object_get(host, "LogConfig"), "Type"));
                        if (STREQ(lt, "json-file"))
                                json_object_set_new(record, "LogPath", json_string(log));
                        else if (STREQ(lt, "local")) {
                                _cleanup_free_ char *ld = xasprintf("%s/local-logs", dir);
                                if (mkdir(ld, 0700) < 0 && errno != EEXIST) {
                                        r = error_set(err, errno, "creating %s", ld);
                                        goto fail;
                                }
                                json_object_set_new(record, "LogPath", json_sprintf("%s/container.log", ld));
                        }
                }
                json_object_set_new(json_object_get(record, "GraphDriver"), "Data",
                                    json_pack("{s:s, s:s, s:s}", "MergedDir", merged, "UpperDir", upper, "WorkDir", work));
        }
        r = container_save(e, id, record, err);
        if (r < 0)
                goto fail;
        lifecycle_event(e, id, record, "create", NULL);
        *ret_id = TAKE_PTR(id);
        return 0;
fail:
        (void)container_remove_dirs(e, id, NULL);
        userns_release(e, id);
fail_volumes:
        /* what this create made, and nobody else uses now that the record is gone */
        close(TAKE_FD(vlock));
        for (i = 0; vols_made && vols_made[i]; i++)
                (void)volume_remove(e, vols_made[i], NULL, NULL);
        return r;
}

/* ---- start ---- */

static int mount_rootfs(Engine *e, json_t *rec, const char *dir, Error **err)
{
        _cleanup_(image_store_closep) ImageStore *store = NULL;
        _cleanup_strv_ char **layers = NULL;
        _cleanup_free_ char *target = xasprintf("%s/rootfs", dir), *opts = NULL, *lower = NULL;
        size_t cap = 0;
        FILE *m;
        int r;

        r = image_store_open(e->data_root, &store, err);
        if (r < 0)
                return r;
        r = image_layer_dirs(store, json_string_value(json_object_get(rec, "Image")), &layers, err);
        if (r < 0)
                return error_wrap(err, "the container's image");
        m = open_memstream(&lower, &cap);
        for (size_t i = 0; layers[i]; i++)
                fprintf(m, "%s%s", i ? ":" : "", layers[i]);
        fclose(m);
        if (!layers[0])
                return error_setx(err, EINVAL, "the image has no layers");
        (void)umount2(target, MNT_DETACH);      /* a stale mount from a crash */
        {
                /*
                 * A remapped container sees the image's files as its own root's through idmapped
                 * layers: overlayfs cannot be idmapped itself here, but it takes idmapped lower
                 * layers and keeps them after the helper mount is detached.  A chowned copy only where
                 * the layers' filesystem cannot be idmapped (userns_layers()).
                 */
                json_t *uidmap = json_object_get(json_object_get(rec, "Stockade"), "UidMappings");
                if (json_array_size(uidmap) > 0) {
                        _cleanup_free_ char *layers_root = xasprintf("%s/image/layers", e->data_root), *idl = NULL;
                        bool mounted = false;
                        for (size_t i = 0; layers[i]; i++)
                                if (!str_has_prefix(layers[i], layers_root) || layers[i][strlen(layers_root)] != '/')
                                        return error_setx(err, EINVAL, "layer %s is outside %s", layers[i], layers_root);
                        r = userns_layers(e, rec, layers_root, layers, dir, &idl, &mounted, err);
                        if (r < 0)
                                return r;
                        free(lower);
                        lower = NULL;
                        m = open_memstream(&lower, &cap);
                        for (size_t i = 0; layers[i]; i++)
                                fprintf(m, "%s%s%s", i ? ":" : "", idl, layers[i] + strlen(layers_root));
                        fclose(m);
                        opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir);
                        r = strlen(opts) >= 4096 ? (errno = E2BIG, -1) : mount("overlay", target, "overlay", MS_NODEV, opts);
                        int saved = errno;
                        if (mounted) {
                                (void)umount2(idl, MNT_DETACH);
                                (void)rmdir(idl);
                        }
                        if (r < 0)
                                return error_set(err, saved, "mounting the container's root filesystem (overlay over "
                                                 "the remapped layers on %s)", target);
                        return 0;
                }
        }
        opts = xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir);
        if (strlen(opts) >= 4096)
                return error_setx(err, E2BIG, "the image has too many layers for one overlay mount (%zu bytes of options)",
                                  strlen(opts));
        if (mount("overlay", target, "overlay", MS_NODEV, opts) < 0) {
                if (errno == ENODEV)
                        return error_set(err, errno, "mounting the container's root filesystem (overlay on %s): this "
                                         "kernel has no overlay filesystem loaded (modprobe overlay)", target);
                return error_set(err, errno, "mounting the container's root filesystem (overlay on %s)", target);
        }
        return 0;
}

/*
 * Readies each volume for a start (volume_prepare: a typed volume's mount, docker's copy-up of the
 * image's files into a new empty volume, the first start only) and logs docker's "mount" events.
 */
static int start_volumes(Engine *e, const char *id, json_t *rec, const char *rootfs, Error **err)
{
        json_t *st = json_object_get(rec, "Stockade"), *vols = json_object_get(st, "Volumes"), *v;
        bool first = !json_is_true(json_object_get(st, "VolumesCopied"));
        uid_t uid = (uid_t)-1;
        gid_t gid = (gid_t)-1;
        size_t i;
        int r;

        if (json_array_size(vols) == 0)
                return 0;
        /* a remapped container's root owns a new volume, as its own files */
        json_array_foreach(json_object_get(st, "UidMappings"), i, v) if (json_integer_value(json_object_get(v, "containerID")) == 0)
                uid = (uid_t)json_integer_value(json_object_get(v, "hostID"));
        json_array_foreach(json_object_get(st, "GidMappings"), i, v) if (json_integer_value(json_object_get(v, "containerID")) == 0)
                gid = (gid_t)json_integer_value(json_object_get(v, "hostID"));
        json_array_foreach(vols, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                const char *dst = json_string_value(json_object_get(v, "Destination"));
                _cleanup_json_ json_t *vol = NULL;
                r = volume_get(e, name ? name : "", &vol, err);
                if (r < 0)
                        return error_wrap(err, "the volume at %s", dst ? dst : "?");
                if (gid != (gid_t)-1) {
                        /* the runtime binds _data as the container's root, in its user namespace: the path
                         * lets anyone through but lists nothing, and the volume's own directory only its
                         * root's group (root:GID 0710), as the container's directory (userns.c) */
                        _cleanup_free_ char *root = volume_root(e), *vdir = xasprintf("%s/%s", root, name);
                        if (chmod(root, 0711) < 0 || chown(vdir, 0, gid) < 0 || chmod(vdir, 0710) < 0)
                                return error_set(err, errno, "opening the path to volume %s to the container's root "
                                                 "(group %u)", name, (unsigned)gid);
                }
                r = volume_prepare(e, vol, rootfs, dst, first && json_is_true(json_object_get(v, "Copy")), uid, gid, err);
                if (r < 0)
                        return r;
        }
        json_object_set_new(st, "VolumesCopied", json_true());
        json_array_foreach(vols, i, v) {
                _cleanup_json_ json_t *a = json_pack("{s:s, s:O, s:O, s:s}", "container", id, "destination",
                                                     json_object_get(v, "Destination"), "propagation",
                                                     json_object_get(v, "Propagation"), "read/write",
                                                     json_is_true(json_object_get(v, "RW")) ? "true" : "false");
                volume_event(e, json_string_value(json_object_get(v, "Name")), "mount", a);
        }
        return 0;
}

/* A network namespace with only loopback, up, bound at `path` (as Docker's "none" network). */
static int make_netns(const char *path, Error **err)
{
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        pid_t pid;
        int status;

        if (fd < 0)
                return error_set(err, errno, "creating %s", path);
        close(fd);
        pid = fork();
        if (pid < 0)
                return error_set(err, errno, "fork");
        if (pid == 0) {
                struct ifreq ifr = { 0 };
                int s;
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                strcpy(ifr.ifr_name, "lo");
                if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                        _exit(2);
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                        _exit(3);
                if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
                        _exit(4);
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, errno, "waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                (void)unlink(path);
                return error_setx(err, EIO, "creating the container's network namespace at %s failed (step %d)", path,
                                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        return 0;
}

static const char *init_binary(Engine *e)
{
        const char *p = json_string_value(json_object_get(e->daemon, "init-path"));
        if (p && *p)
                return p;
        if (access("/usr/bin/tini-static", X_OK) == 0)
                return "/usr/bin/tini-static";
        if (access("/usr/bin/docker-init", X_OK) == 0)
                return "/usr/bin/docker-init";
        return NULL;
}

/*
 * monitor.json's "health": the probe the monitor runs (its argv, CMD-SHELL through the container's
 * shell as docker does) and dockerd's defaults for what Config.Healthcheck leaves at zero (30 s
 * interval and timeout, 3 retries, no start period); NULL when there is none or it is NONE.
 */
static json_t *health_facts(json_t *cfg)
{
        json_t *hc = json_object_get(cfg, "Healthcheck"), *test = json_object_get(hc, "Test"), *argv;
        const char *t0 = json_string_value(json_array_get(test, 0));
        json_int_t iv = json_integer_value(json_object_get(hc, "Interval")), to = json_integer_value(json_object_get(hc, "Timeout"));
        json_int_t retries = json_integer_value(json_object_get(hc, "Retries"));

        if (!t0 || STREQ(t0, "NONE"))
                return NULL;
        if (STREQ(t0, "CMD-SHELL")) {
                json_t *shell = json_object_get(cfg, "Shell");
                argv = json_array_size(shell) ? json_deep_copy(shell) : json_pack("[s, s]", "/bin/sh", "-c");
                json_array_append(argv, json_array_get(test, 1));
        } else {
                argv = json_array();
                for (size_t i = 1; i < json_array_size(test); i++)
                        json_array_append(argv, json_array_get(test, i));
        }
        return json_pack("{s:o, s:I, s:I, s:I, s:I}", "argv", argv, "intervalMs", (json_int_t)(iv ? iv / 1000000 : 30000),
                         "timeoutMs", (json_int_t)(to ? to / 1000000 : 30000), "startPeriodMs",
                         (json_int_t)(json_integer_value(json_object_get(hc, "StartPeriod")) / 1000000), "retries",
                         (json_int_t)(retries ? retries : 3));
}

/* monitor.json's "log": the driver, its options, and what its tag and attributes may name (logpipe.h). */
static json_t *log_facts(json_t *rec, json_t *cfg, json_t *lc)
{
        const char *name = json_string_value(json_object_get(rec, "Name")) ?: "";
        json_t *args = json_object_get(rec, "Args"), *v;
        char *cmd = xstrdup(json_string_value(json_object_get(rec, "Path")) ?: "");
        size_t i;

        json_array_foreach(args, i, v) {
                char *n = xasprintf("%s %s", cmd, json_string_value(v) ?: "");
                free(cmd);
                cmd = n;
        }
        json_t *j = json_pack("{s:O, s:O, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O*, s:O*}", "type",
                              json_object_get(lc, "Type"), "config", json_object_get(lc, "Config"), "path",
                              json_string_value(json_object_get(rec, "LogPath")) ?: "", "id",
                              json_string_value(json_object_get(rec, "Id")) ?: "", "name", name[0] == '/' ? name + 1 : name,
                              "imageName", json_string_value(json_object_get(cfg, "Image")) ?: "", "imageId",
                              json_string_value(json_object_get(rec, "Image")) ?: "", "command", cmd, "hostname",
                              json_string_value(json_object_get(cfg, "Hostname")) ?: "", "created",
                              json_string_value(json_object_get(rec, "Created")) ?: "", "labels",
                              json_is_object(json_object_get(cfg, "Labels")) ? json_object_get(cfg, "Labels") : NULL,
                              "env", json_is_array(json_object_get(cfg, "Env")) ? json_object_get(cfg, "Env") : NULL);
        free(cmd);
        return j;
}

/*
 * Forks the monitor out of our session; returns its pid (from the intermediate child) or -errno.
 * The network log drivers live in a second build of the monitor, stockade-monitor-net, which carries
 * OpenSSL for their TLS: linked into every monitor, OpenSSL's start-up alone would cost each
 * container about 750 KB of resident memory (docs/LOGGING.md).
 */
static pid_t spawn_monitor(Engine *e, const char *run_dir, int client_fd, const char *log_type)
{
        bool net = log_type && (STREQ(log_type, "syslog") || STREQ(log_type, "fluentd") || STREQ(log_type, "splunk"));
        _cleanup_free_ char *path = engine_helper_path(e, net ? "stockade-monitor-net" : "stockade-monitor");
        _cleanup_free_ char *logp = xasprintf("%s/monitor.log", run_dir);
        int p[2];
        pid_t child, mon = -1;
        int status;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        child = fork();
        if (child < 0) {
                close(p[0]);
                close(p[1]);
                return -errno;
        }
        if (child == 0) {
                pid_t g;
                sigset_t none;
                (void)setsid();
                g = fork();
                if (g != 0) {
                        (void)write(p[1], &g, sizeof(g));
                        _exit(g < 0);
                }
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                int null = open("/dev/null", O_RDWR);
                int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                dup2(null, 0);
                dup2(null, 1);
                dup2(log >= 0 ? log : null, 2);
                if (client_fd == 3)
                        (void)fcntl(3, F_SETFD, 0);     /* dup2 onto itself would keep close-on-exec */
                else if (client_fd >= 0)
                        dup2(client_fd, 3);
                else
                        close(3);
                close_range(4, ~0U, 0);
                char *argv[] = { path, (char *)run_dir, NULL };
                execv(path, argv);
                dprintf(2, "exec %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        close(p[1]);
        if (read(p[0], &mon, sizeof(mon)) != sizeof(mon))
                mon = -EIO;
        close(p[0]);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        return mon;
}

int lifecycle_start(Engine *e, const char *id, bool attach, bool attach_stdin, int *ret_fd, int *ret_exit, Error **err)
{
        _cleanup_close_ int lock = -EBADF, ours = -EBADF;
        _cleanup_json_ json_t *rec = NULL, *spec = NULL, *mon = NULL;
        _cleanup_free_ char *dir = engine_container_dir(e, id), *run = engine_container_run_dir(e, id);
        _cleanup_free_ char *netns = NULL, *rt_path = NULL, *rt_root = NULL, *bundle = NULL, *rootfs = NULL;
        _cleanup_strv_ char **rt_args = NULL;
        json_t *host, *cfg, *lc;
        const char *net;
        bool mounted = false, made_netns = false;
        int sp[2] = { -1, -1 };
        pid_t mpid;
        int r;

        *ret_exit = 125;
        r = container_lock(e, id, &lock, err);
        if (r < 0)
                return r;
        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        container_refresh_state(rec);
        if (container_monitor_alive(rec) && !container_is_running(rec)) {
                /* It exited and its monitor is unmounting: wait for that rather than race it. */
                close(TAKE_FD(lock));
                (void)wait_monitor_gone(e, id, 10);
                json_decref(rec);
                rec = NULL;
                r = container_lock(e, id, &lock, err);
                if (r < 0)
                        return r;
                r = container_load(e, id, &rec, err);
                if (r < 0)
                        return r;
        }
        if (container_monitor_alive(rec))
                return error_setx(err, EALREADY, "container %s is already running", id);
        host = json_object_get(rec, "HostConfig");
        cfg = json_object_get(rec, "Config");
        rootfs = xasprintf("%s/rootfs", dir);
        bundle = xasprintf("%s/bundle", dir);

        r = engine_runtime(e, json_string_value(json_object_get(host, "Runtime")), &rt_path, &rt_args, err);
        if (r < 0)
                return r;
        rt_root = engine_runtime_root(e, json_string_value(json_object_get(host, "Runtime")));
        if ((r = mkdir_p(rt_root, 0700)) < 0 || (r = mkdir_p(run, 0700)) < 0)
                return error_set(err, -r, "creating %s", r == 0 ? run : rt_root);

        r = mount_rootfs(e, rec, dir, err);
        if (r < 0)
                goto fail;
        mounted = true;
        r = start_volumes(e, id, rec, rootfs, err);
        if (r < 0)
                goto fail;
        net = json_string_value(json_object_get(host, "NetworkMode"));
        /* stockade-runtime brings up the loopback of the network namespace it creates; for other
         * runtimes (runc leaves it down) the engine makes the namespace, lo up, and passes its path. */
        const char *rt_base = strrchr(rt_path, '/') ? strrchr(rt_path, '/') + 1 : rt_path;
        if ((!net || !STREQ(net, "host")) && !STREQ(rt_base, "stockade-runtime")) {
                _cleanup_free_ char *nsdir = xasprintf("%s/netns", e->exec_root);
                netns = xasprintf("%s/%s", nsdir, id);
                (void)mkdir_p(nsdir, 0700);
                (void)umount2(netns, MNT_DETACH);
                r = make_netns(netns, err);
                if (r < 0)
                        goto fail;
                made_netns = true;
        }
        {
                SpecInput in = { .record = rec, .rootfs = rootfs, .container_dir = dir, .netns_path = netns,
                                 .init_path = init_binary(e) };
                if (json_is_true(json_object_get(host, "Init")) && !in.init_path) {
                        r = error_setx(err, ENOENT, "--init: no init binary (install tini, or set init-path in %s)",
                                       e->config_file);
                        goto fail;
                }
                r = specgen(e, &in, &spec, err);
                if (r < 0)
                        goto fail;
                /* what inspect shows: the profile the container got (stockade-default where
                 * AppArmor is enabled and none was asked), as docker shows docker-default */
                {
                        const char *aa = json_string_value(json_object_get(json_object_get(spec, "process"), "apparmorProfile"));
                        if (aa)
                                json_object_set_new(rec, "AppArmorProfile", json_string(aa));
                }
                _cleanup_free_ char *text = jx_dump(spec, true);
                _cleanup_close_ int bfd = open(bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (bfd < 0 || (r = write_file_atomic(bfd, "config.json", text, strlen(text), 0600, false)) < 0) {
                        r = error_set(err, bfd < 0 ? errno : -r, "writing %s/config.json", bundle);
                        goto fail;
                }
        }
        lc = json_object_get(host, "LogConfig");
        mon = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:O, s:s, s:s, s:s, s:{s:b, s:b}}", "id", id, "runtime",
                        rt_path, "runtimeRoot", rt_root, "bundle", bundle, "dataRoot", e->data_root, "tty",
                        json_is_true(json_object_get(cfg, "Tty")), "openStdin", json_is_true(json_object_get(cfg, "OpenStdin")),
                        "stdinOnce", json_is_true(json_object_get(cfg, "StdinOnce")), "autoRemove",
                        json_is_true(json_object_get(host, "AutoRemove")), "restart", json_object_get(host, "RestartPolicy"),
                        "execRoot", e->exec_root, "rootfs", rootfs, "runDir", run, "firstClient", "attach", attach, "stdin",
                        attach_stdin);
        {
                json_t *a = json_array();
                for (size_t i = 0; rt_args && rt_args[i]; i++)
                        json_array_append_new(a, json_string(rt_args[i]));
                json_object_set_new(mon, "runtimeArgs", a);
        }
        if (netns)
                json_object_set_new(mon, "netns", json_string(netns));
        {
                /* what the monitor needs of daemon.json: the event log's retention */
                json_t *d = json_object();
                static const char *const keys[] = { "events-max-size", "events-max-age" };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (json_object_get(e->daemon, keys[i]))
                                json_object_set(d, keys[i], json_object_get(e->daemon, keys[i]));
                json_object_set_new(mon, "daemon", d);
        }
        json_object_set_new(mon, "log", log_facts(rec, cfg, lc));
        {
                json_t *hc = health_facts(cfg);
                if (hc)
                        json_object_set_new(mon, "health", hc);
        }
        {
                _cleanup_free_ char *text = jx_dump(mon, false);
                _cleanup_close_ int rfd = open(run, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (rfd < 0 || (r = write_file_atomic(rfd, "monitor.json", text, strlen(text), 0600, false)) < 0) {
                        r = error_set(err, rfd < 0 ? errno : -r, "writing %s/monitor.json", run);
                        goto fail;
                }
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                r = error_set(err, errno, "socketpair");
                goto fail;
        }
        mpid = spawn_monitor(e, run, sp[1], json_string_value(json_object_get(lc, "Type")));
        close(sp[1]);
        ours = sp[0];
        if (mpid < 0) {
                r = error_set(err, -mpid, "starting the monitor");
                goto fail;
        }
        /* From here the monitor owns the mounts; the record says who it is before the lock goes, so a
         * second `start` sees it. */
        {
                json_t *s = json_object_get(rec, "Stockade");
                json_object_set_new(s, "MonitorPid", json_integer(mpid));
                json_object_set_new(s, "MonitorStart", json_integer((json_int_t)proc_start_time(mpid)));
                (void)container_save_state(e, id, rec, NULL);
        }
        close(TAKE_FD(lock));

        /* Wait for "started" or "error". */
        for (;;) {
                uint8_t h[FRAME_HEADER];
                _cleanup_free_ char *body = NULL;
                size_t got = 0;
                uint32_t n;
                while (got < sizeof(h)) {
                        ssize_t k = read(ours, h + got, sizeof(h) - got);
                        if (k <= 0) {
                                _cleanup_free_ char *logp = xasprintf("%s/monitor.log", run), *text = NULL;
                                (void)read_file_at(AT_FDCWD, logp, 65536, &text, NULL);
                                /* It died without its cleanup: undo the mounts it would have. */
                                r = error_setx(err, EIO, "the monitor of %.12s ended before the container started%s%s", id,
                                               text && *text ? ": " : "", text ? text : "");
                                goto fail;
                        }
                        got += (size_t)k;
                }
                n = frame_len(h);
                if (n > FRAME_MAX)
                        return error_setx(err, EIO, "bad frame from the monitor");
                body = xmalloc(n + 1);
                for (got = 0; got < n;) {
                        ssize_t k = read(ours, body + got, n - got);
                        if (k <= 0) {
                                r = error_setx(err, EIO, "the monitor of %.12s went away before the container started", id);
                                goto fail;
                        }
                        got += (size_t)k;
                }
                body[n] = '\0';
                if (h[0] != FRAME_STATUS)
                        continue;
                _cleanup_json_ json_t *j = json_loads(body, 0, NULL);
                const char *st = json_string_value(json_object_get(j, "status"));
                if (st && STREQ(st, "started"))
                        break;
                if (st && STREQ(st, "error")) {
                        *ret_exit = (int)json_integer_value(json_object_get(j, "exitCode"));
                        r = error_setx(err, EIO, "%s", json_string_value(json_object_get(j, "message")) ?: "start failed");
                        /* The monitor cleans up (and removes an --rm container) before it closes the
                         * connection: wait for that, so a failed run leaves nothing behind when it returns. */
                        {
                                char buf[4096];
                                struct timeval tv = { 10, 0 };
                                (void)setsockopt(ours, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                                while (read(ours, buf, sizeof(buf)) > 0)
                                        ;
                        }
                        return r;
                }
        }
        *ret_exit = 0;
        if (ret_fd)
                *ret_fd = TAKE_FD(ours);
        return 0;
fail:
        if (made_netns) {
                (void)umount2(netns, MNT_DETACH);
                (void)unlink(netns);
        }
        if (mounted)
                (void)umount2(rootfs, MNT_DETACH);
        return r;
}

/* ---- stop, kill, remove ---- */

static int wait_monitor_gone(Engine *e, const char *id, int seconds)
{
        for (int i = 0; i < seconds * 50; i++) {
                _cleanup_json_ json_t *rec = NULL;
                if (container_load(e, id, &rec, NULL) < 0 || !container_monitor_alive(rec))
                        return 0;
                struct timespec d = { 0, 20 * 1000000L };
                nanosleep(&d, NULL);
        }
        return -ETIMEDOUT;
}

int lifecycle_stop(Engine *e, const char *id, int timeout, Error **err)
{
        _cleanup_json_ json_t *rec = NULL, *req = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *sig;
        int r;

        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        if (!container_monitor_alive(rec))
                return 0;
        sig = json_string_value(json_object_get(json_object_get(rec, "Config"), "StopSignal"));
        if (timeout < 0) {
                json_t *t = json_object_get(json_object_get(rec, "Config"), "StopTimeout");
                timeout = json_is_integer(t) ? (int)json_integer_value(t) : 10;
        }
        fd = monitor_connect(e, id, err);
        if (fd < 0)
                return fd;
        req = json_pack("{s:{s:s, s:i}}", "stop", "signal", sig && *sig ? sig : "TERM", "timeout", timeout);
        r = monitor_send_control(fd, req);
        if (r < 0)
                return error_set(err, -r, "talking to the monitor of %.12s", id);
        (void)monitor_wait_exit(fd);
        (void)wait_monitor_gone(e, id, 10);
        return 0;
}

int lifecycle_kill(Engine *e, const char *id, const char *signal, Error **err)
{
        _cleanup_json_ json_t *rec = NULL, *req = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        if (!container_monitor_alive(rec) || !json_is_true(json_object_get(json_object_get(rec, "State"), "Running")))
                return error_setx(err, EINVAL, "Cannot kill container: %s: Container %s is not running", id, id);
        fd = monitor_connect(e, id, err);
        if (fd < 0)
                return fd;
        req = json_pack("{s:s}", "kill", signal);
        r = monitor_send_control(fd, req);
        if (r < 0)
                return error_set(err, -r, "talking to the monitor of %.12s", id);
        (void)monitor_wait_ack(fd);
        return 0;
}

int lifecycle_remove(Engine *e, const char *id, bool force, bool volumes, Error **err)
{
        _cleanup_json_ json_t *rec = NULL;
        _cleanup_close_ int slock = -EBADF;
        _cleanup_free_ char *dir = engine_container_dir(e, id), *rootfs = NULL, *netns = NULL;
        int r;

        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        if (container_monitor_alive(rec) && !container_is_running(rec))
                (void)wait_monitor_gone(e, id, 10);     /* exited: its monitor is finishing up */
        json_decref(rec);
        rec = NULL;
        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        if (container_monitor_alive(rec)) {
                if (!force)
                        return error_setx(err, EBUSY, "You cannot remove a running container %s. Stop the container before "
                                          "attempting removal or force remove", id);
                /* docker's rm -f: one SIGKILL (a kill event, no stop event) */
                _cleanup_close_ int fd = monitor_connect(e, id, err);
                _cleanup_json_ json_t *req = json_pack("{s:{s:s, s:i, s:b}}", "stop", "signal", "KILL", "timeout", 0,
                                                       "remove", 1);
                if (fd < 0)
                        return fd;
                r = monitor_send_control(fd, req);
                if (r < 0)
                        return error_set(err, -r, "talking to the monitor of %.12s", id);
                (void)monitor_wait_exit(fd);
                if (wait_monitor_gone(e, id, 10) < 0)
                        return error_setx(err, ETIMEDOUT, "container %s did not stop", id);
        }
        rootfs = xasprintf("%s/rootfs", dir);
        netns = xasprintf("%s/netns/%s", e->exec_root, id);
        (void)umount2(rootfs, MNT_DETACH);
        (void)umount2(netns, MNT_DETACH);
        (void)unlink(netns);
        r = container_store_lock(e, &slock, err);
        if (r < 0)
                return r;
        r = container_remove_dirs(e, id, err);
        if (r < 0)
                return r;
        close(TAKE_FD(slock));  /* the volumes' lock comes after the store's, never inside it */
        userns_release(e, id);
        lifecycle_event(e, id, rec, "destroy", NULL);
        if (volumes)
                volume_remove_anonymous(e, rec);
        return 0;
}

int lifecycle_restart(Engine *e, const char *id, int timeout, Error **err)
{
        int code = 0, r;

        r = lifecycle_stop(e, id, timeout, err);
        if (r < 0)
                return r;
        r = lifecycle_start(e, id, false, false, NULL, &code, err);
        if (r < 0 && r != -EALREADY)
                return r;
        error_clear(err);
        lifecycle_event(e, id, NULL, "restart", NULL);
        return 0;
}

int lifecycle_pause(Engine *e, const char *id, bool pause, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_json_ json_t *rec = NULL;
        _cleanup_strv_ char **v = NULL;
        json_t *st;
        int r, status = 0;
        pid_t pid;

        r = container_lock(e, id, &lock, err);
        if (r < 0)
                return r;
        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        st = json_object_get(rec, "State");
        /* dockerd's messages */
        if (!container_is_running(rec) || json_is_true(json_object_get(st, "Restarting")))
                return error_setx(err, EINVAL, "Container %s is not running", id);
        if (pause && json_is_true(json_object_get(st, "Paused")))
                return error_setx(err, EALREADY, "Container %s is already paused", id);
        if (!pause && !json_is_true(json_object_get(st, "Paused")))
                return error_setx(err, EINVAL, "Container %s is not paused", id);
        r = engine_runtime_argv(e, json_object_get(rec, "HostConfig"), &v, err);
        if (r < 0)
                return r;
        strv_push(&v, pause ? "pause" : "resume");
        strv_push(&v, id);
        pid = fork();
        if (pid < 0)
                return error_set(err, errno, "fork");
        if (pid == 0) {
                execv(v[0], v);
                fprintf(stderr, "exec %s: %s\n", v[0], strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, errno, "waiting for %s", v[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return error_setx(err, EIO, "Cannot %s container %s: the runtime failed (see its message above)",
                                  pause ? "pause" : "unpause", id);
        json_object_set_new(st, "Paused", json_boolean(pause));
        json_object_set_new(st, "Status", json_string(pause ? "paused" : "running"));
        r = container_save_state(e, id, rec, err);
        if (r < 0)
                return r;
        lifecycle_event(e, id, rec, pause ? "pause" : "unpause", NULL);
        return 0;
}

void lifecycle_event(Engine *e, const char *id, json_t *rec, const char *action, json_t *extra)
{
        _cleanup_json_ json_t *loaded = NULL;
        Error *err = NULL;

        if (!rec && container_load(e, id, &loaded, &err) < 0) {
                fprintf(stderr, "stockade: warning: the %s event was not logged: %s\n", action, err->msg);
                error_free(err);
                return;
        }
        if (event_emit_container(e, rec ? rec : loaded, action, extra, &err) < 0) {
                fprintf(stderr, "stockade: warning: the %s event was not logged: %s\n", action, err->msg);
                error_free(err);
        }
}

int lifecycle_images_in_use(Engine *e, char ***ret_images, char ***ret_containers, Error **err)
{
        _cleanup_json_ json_t *all = NULL;
        char **imgs = xcalloc(1, sizeof(char *)), **ids = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *c;
        int r = container_list(e, &all, err);

        if (r < 0) {
                strv_free(imgs);
                strv_free(ids);
                return r;
        }
        json_array_foreach(all, i, c) {
                strv_push(&imgs, json_string_value(json_object_get(c, "Image")) ?: "");
                strv_push(&ids, json_string_value(json_object_get(c, "Id")) ?: "");
        }
        *ret_images = imgs;
        *ret_containers = ids;
        return 0;
}
