/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap.h"
#include "json-util.h"
#include "subid.h"
#include "util.h"

typedef enum UsernsMode {
        USERNS_NONE,    /* the host's user namespace */
        USERNS_REMAP,   /* daemon.json userns-remap */
        USERNS_AUTO,    /* --userns=auto: a range of its own */
} UsernsMode;

/* "auto" or "auto:size=N" → *size (0: the default); -EINVAL otherwise. */
static int parse_auto(const char *mode, uint32_t *size, Error **err)
{
        uint64_t n;

        *size = 0;
        if (STREQ(mode, "auto"))
                return 0;
        if (!str_has_prefix(mode, "auto:size=") || parse_uint64(mode + 10, &n) < 0 || n < 1 || n > (1u << 30))
                return error_setx(err, EINVAL, "--userns %s: expected auto or auto:size=N (1 to 1073741824 ids)", mode);
        *size = (uint32_t)n;
        return 0;
}

static UsernsMode mode_of(Engine *e, json_t *host)
{
        const char *remap = json_string_value(json_object_get(e->daemon, "userns-remap"));
        const char *mode = json_string_value(json_object_get(host, "UsernsMode"));

        if (mode && str_has_prefix(mode, "auto"))
                return USERNS_AUTO;
        if (!remap || !*remap || (mode && STREQ(mode, "host")))
                return USERNS_NONE;
        return USERNS_REMAP;
}

int userns_check(Engine *e, json_t *host, Error **err)
{
        const char *net = json_string_value(json_object_get(host, "NetworkMode"));
        const char *pid = json_string_value(json_object_get(host, "PidMode"));
        const char *mode = json_string_value(json_object_get(host, "UsernsMode"));
        uint32_t size;

        if (mode && *mode && !STREQ(mode, "host") && parse_auto(mode, &size, err) < 0)
                return -EINVAL;
        if (mode_of(e, host) == USERNS_NONE)
                return 0;
        if (json_is_true(json_object_get(host, "Privileged")))
                return error_setx(err, EINVAL, "privileged mode is incompatible with user namespaces.  You must run the "
                                  "container in the host namespace when running privileged mode (--userns=host)");
        if (net && STREQ(net, "host"))
                return error_setx(err, EINVAL, "cannot share the host's network namespace when user namespaces are "
                                  "enabled (--userns=host)");
        if (pid && STREQ(pid, "host"))
                return error_setx(err, EINVAL, "cannot share the host PID namespace when user namespaces are enabled "
                                  "(--userns=host)");
        return 0;
}

int userns_mappings(Engine *e, json_t *host, json_t **ret_uid, json_t **ret_gid, char ***warnings, Error **err)
{
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        const char *remap = json_string_value(json_object_get(e->daemon, "userns-remap"));
        SubidConfig cfg = { .create_user = subid_useradd };
        int r;

        *ret_uid = *ret_gid = NULL;
        if (mode_of(e, host) != USERNS_REMAP)
                return 0;
        r = subid_remap_resolve(&cfg, remap, &rm, err);
        if (r < 0)
                return error_wrap(err, "%s: userns-remap \"%s\"", e->config_file, remap);
        for (size_t i = 0; rm->warnings && rm->warnings[i]; i++)
                strv_push(warnings, rm->warnings[i]);
        *ret_uid = subid_mappings_json(rm->uid_map, rm->n_uid_map);
        *ret_gid = subid_mappings_json(rm->gid_map, rm->n_gid_map);
        return 0;
}

static char *registry_dir(Engine *e)
{
        return xasprintf("%s/userns", e->data_root);
}

/* A lease's container is alive while its directory exists (--rm's monitor removes it without us). */
static int container_alive(const char *id, void *ud)
{
        Engine *e = ud;
        _cleanup_free_ char *dir = engine_container_dir(e, id);
        struct stat st;

        if (stat(dir, &st) == 0)
                return 1;
        return errno == ENOENT ? 0 : -errno;
}

int userns_auto_assign(Engine *e, json_t *host, const char *id, json_t **ret_uid, json_t **ret_gid, Error **err)
{
        const char *mode = json_string_value(json_object_get(host, "UsernsMode"));
        const char *user = json_string_value(json_object_get(e->daemon, "userns-auto-user"));
        _cleanup_free_ SubidRange *ur = NULL, *gr = NULL;
        _cleanup_free_ char *reg = NULL;
        size_t nu = 0, ng = 0;
        SubidAutoLease lease;
        SubidMapping m;
        uint32_t size;
        uid_t uid = (uid_t)-1;
        int r;

        *ret_uid = *ret_gid = NULL;
        if (mode_of(e, host) != USERNS_AUTO)
                return 0;
        r = parse_auto(mode, &size, err);
        if (r < 0)
                return r;
        if (!user || !*user)
                user = USERNS_AUTO_USER;
        {
                struct passwd pw, *res = NULL;
                char buf[4096];
                if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res)
                        uid = res->pw_uid;
        }
        r = subid_user_ranges("/etc/subuid", user, uid, &ur, &nu, err);
        if (r >= 0)
                r = subid_user_ranges("/etc/subgid", user, uid, &gr, &ng, err);
        if (r < 0)
                return error_wrap(err, "--userns=auto takes its ranges from user %s (daemon.json userns-auto-user): add "
                                  "them to /etc/subuid and /etc/subgid, e.g. %s:2147483647:2147483648", user, user);
        reg = registry_dir(e);
        SubidAutoPool pool = { .uid = ur, .n_uid = nu, .gid = gr, .n_gid = ng };
        r = subid_auto_alloc(reg, &pool, size, id, container_alive, e, &lease, err);
        if (r < 0)
                return error_wrap(err, "--userns=auto");
        m = (SubidMapping){ .container_id = 0, .host_id = lease.uid_start, .size = lease.size };
        *ret_uid = subid_mappings_json(&m, 1);
        m.host_id = lease.gid_start;
        *ret_gid = subid_mappings_json(&m, 1);
        return 0;
}

void userns_release(Engine *e, const char *id)
{
        _cleanup_free_ char *reg = registry_dir(e);
        Error *err = NULL;

        if (subid_auto_release(reg, id, &err) < 0) {
                fprintf(stderr, "stockade: warning: the --userns=auto range of %.12s stays leased: %s\n", id, err->msg);
                error_free(err);
        }
}

static uint32_t root_of(json_t *maps)
{
        size_t i;
        json_t *m;

        json_array_foreach(maps, i, m) {
                if (json_integer_value(json_object_get(m, "containerID")) == 0)
                        return (uint32_t)json_integer_value(json_object_get(m, "hostID"));
        }
        return 0;
}

void userns_root(json_t *rec, uid_t *ret_uid, gid_t *ret_gid)
{
        json_t *s = json_object_get(rec, "Stockade");

        *ret_uid = root_of(json_object_get(s, "UidMappings"));
        *ret_gid = root_of(json_object_get(s, "GidMappings"));
}

/* OCI's mapping objects → OciIdMap (malloc'd); -EINVAL when one is malformed. */
static int maps_from_json(json_t *a, OciIdMap **ret, size_t *ret_n)
{
        size_t n = json_array_size(a), i;
        OciIdMap *m = xcalloc(n ? n : 1, sizeof(*m));
        json_t *v;

        json_array_foreach(a, i, v) {
                json_int_t c = json_integer_value(json_object_get(v, "containerID"));
                json_int_t h = json_integer_value(json_object_get(v, "hostID"));
                json_int_t z = json_integer_value(json_object_get(v, "size"));
                if (c < 0 || h < 0 || z <= 0 || c > UINT32_MAX || h > UINT32_MAX || z > UINT32_MAX) {
                        free(m);
                        return -EINVAL;
                }
                m[i] = (OciIdMap){ .container_id = (uint32_t)c, .host_id = (uint32_t)h, .size = (uint32_t)z };
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

/* ---- the chowned copy, where the layers' filesystem cannot be idmapped ---- */

/* nftw() has no user pointer: the mapping of the walk in progress (the CLI is single-threaded). */
static const OciIdMap *shift_um, *shift_gm;
static size_t shift_nu, shift_ng;

static uint32_t shift_id(const OciIdMap *m, size_t n, uint32_t id)
{
        for (size_t i = 0; i < n; i++)
                if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
                        return m[i].host_id + (id - m[i].container_id);
        return id; /* unmapped: it shows as nobody inside, as it would through an idmapped mount */
}

static int shift_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
        (void)type;
        (void)f;
        if (lchown(path, shift_id(shift_um, shift_nu, st->st_uid), shift_id(shift_gm, shift_ng, st->st_gid)) < 0)
                return -errno;
        /* chown clears set-id bits of files: put them back, as they were in the image */
        if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) && chmod(path, st->st_mode & 07777) < 0)
                return -errno;
        return 0;
}

/* A copy of layer `src` at `dst` with every owner shifted by the mappings; made in `dst`.tmp, renamed. */
static int shifted_copy(const char *src, const char *dst, Error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", dst, (int)getpid()), *parent = xstrdup(dst);
        int status = 0, r;
        pid_t pid;

        *strrchr(parent, '/') = '\0';
        r = mkdir_p(parent, 0700);
        if (r < 0)
                return error_set(err, -r, "creating %s", parent);
        (void)rm_rf_at(AT_FDCWD, tmp);
        pid = fork();
        if (pid < 0)
                return error_set(err, errno, "fork");
        if (pid == 0) {
                execlp("cp", "cp", "-a", "--reflink=auto", "--", src, tmp, (char *)NULL);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, errno, "waiting for cp");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                (void)rm_rf_at(AT_FDCWD, tmp);
                return error_setx(err, EIO, "copying %s to %s failed (cp exited %d)", src, tmp,
                                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        r = nftw(tmp, shift_one, 64, FTW_PHYS | FTW_MOUNT);
        if (r != 0) {
                int e = r < 0 ? errno : -r;
                (void)rm_rf_at(AT_FDCWD, tmp);
                return error_set(err, e, "shifting the owners of %s", tmp);
        }
        if (rename(tmp, dst) < 0 && errno != ENOTEMPTY && errno != EEXIST) {
                r = error_set(err, errno, "renaming %s to %s", tmp, dst);
                (void)rm_rf_at(AT_FDCWD, tmp);
                return r;
        }
        (void)rm_rf_at(AT_FDCWD, tmp); /* a concurrent start made it first */
        return 0;
}

/* A name for a set of mappings: the root ids, and a hash of the whole (several ranges, auto sizes). */
static char *mapping_key(json_t *um, json_t *gm, uid_t uid, gid_t gid)
{
        _cleanup_free_ char *a = jx_dump(um, false), *b = jx_dump(gm, false);
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = a; *p; p++)
                h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        for (const char *p = b; *p; p++)
                h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        return xasprintf("%u.%u-%016llx", (unsigned)uid, (unsigned)gid, (unsigned long long)h);
}

int userns_layers(Engine *e, json_t *rec, const char *layers_root, char *const *layers, const char *cdir, char **ret_root,
                  bool *ret_mounted, Error **err)
{
        json_t *s = json_object_get(rec, "Stockade");
        _cleanup_free_ OciIdMap *um = NULL, *gm = NULL;
        _cleanup_free_ char *idl = xasprintf("%s/idlayers", cdir);
        _cleanup_close_ int ns = -EBADF;
        size_t nu = 0, ng = 0;
        uid_t uid;
        gid_t gid;
        int r;

        *ret_root = NULL;
        *ret_mounted = false;
        if (maps_from_json(json_object_get(s, "UidMappings"), &um, &nu) < 0 ||
            maps_from_json(json_object_get(s, "GidMappings"), &gm, &ng) < 0)
                return error_setx(err, EINVAL, "the container's record has malformed Stockade.UidMappings/GidMappings");
        userns_root(rec, &uid, &gid);
        {
                /*
                 * The runtime mounts the rootfs as the container's root, in its user namespace: the
                 * path must be traversable for it, as dockerd makes its root 0711 with userns-remap.
                 * The data root and containers/ let anyone through but list nothing; the container's
                 * own directory only lets its root's group through (root:GID 0710).
                 */
                _cleanup_free_ char *containers = xasprintf("%s/..", cdir), *data_root = xasprintf("%s/../..", cdir);
                if (chmod(data_root, 0711) < 0 || chmod(containers, 0711) < 0 || chown(cdir, 0, gid) < 0 ||
                    chmod(cdir, 0710) < 0)
                        return error_set(err, errno, "opening the path to %s to the container's root (%u:%u)", cdir, uid, gid);
        }
        {
                static const char *const owned[] = { "upper", "hostname", "hosts", "resolv.conf" };
                for (size_t i = 0; i < ELEMENTSOF(owned); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", cdir, owned[i]);
                        if (lchown(p, uid, gid) < 0 && errno != ENOENT)
                                return error_set(err, errno, "giving %s to the container's root (%u:%u)", p, uid, gid);
                }
        }
        r = idmap_userns_fd(um, nu, gm, ng, &ns, err);
        if (r < 0)
                return error_wrap(err, "the container's user namespace mappings");
        (void)umount2(idl, MNT_DETACH);
        if (mkdir(idl, 0700) < 0 && errno != EEXIST)
                return error_set(err, errno, "creating %s", idl);
        r = idmap_bind(layers_root, idl, ns, false, err);
        if (r >= 0) {
                *ret_root = TAKE_PTR(idl);
                *ret_mounted = true;
                return 0;
        }
        (void)rmdir(idl);
        if (r != -EINVAL && r != -EPERM && r != -ENOTSUP && r != -EOPNOTSUPP)
                return error_wrap(err, "the image's layers for a remapped container");
        {
                /* The filesystem cannot idmap: a copy of the layers per mapping, owners shifted, kept
                 * for the next container of the same mapping (docs/USERNS.md). */
                _cleanup_free_ char *key = mapping_key(json_object_get(s, "UidMappings"), json_object_get(s, "GidMappings"), uid, gid);
                _cleanup_free_ char *copies = xasprintf("%s/userns/copies/%s", e->data_root, key);
                struct stat st;
                fprintf(stderr, "WARNING: %s cannot be idmapped (%s): the container gets a copy of its image's layers "
                        "owned by its root (%u:%u), in %s\n", layers_root, (*err)->msg, (unsigned)uid, (unsigned)gid, copies);
                error_clear(err);
                shift_um = um;
                shift_nu = nu;
                shift_gm = gm;
                shift_ng = ng;
                for (size_t i = 0; layers[i]; i++) {
                        const char *rel = layers[i] + strlen(layers_root);
                        _cleanup_free_ char *dst = xasprintf("%s%s", copies, rel);
                        if (stat(dst, &st) == 0)
                                continue;
                        r = shifted_copy(layers[i], dst, err);
                        if (r < 0)
                                return error_wrap(err, "the chowned copy of the image's layers");
                }
                *ret_root = TAKE_PTR(copies);
                return 0;
        }
}
