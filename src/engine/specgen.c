/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "specgen.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "apparmor-profile.h"
#include "caps.h"
#include "json-util.h"
#include "runopts.h"
#include "seccomp-default.h"
#include "seccomp-filter.h"
#include "syscalls.h"
#include "util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Docker's default capabilities (moby oci/caps/defaults.go), in its order. */
static const char *const default_caps[] = {
        "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",           "CAP_MKNOD",       "CAP_NET_RAW",    "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP",      "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",       "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
        "/proc/asound",   "/proc/acpi",        "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
};
static const char *const readonly_paths[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };

static char *cap_full_name(const char *n)
{
        char *full = strncasecmp(n, "CAP_", 4) == 0 ? xstrdup(n) : xasprintf("CAP_%s", n);
        for (char *p = full; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        return full;
}

static bool list_has(json_t *list, const char *cap)
{
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
                _cleanup_free_ char *f = cap_full_name(json_string_value(v));
                if (STREQ(f, cap) || STREQ(f, "CAP_ALL"))
                        return true;
        }
        return false;
}

int specgen_caps(json_t *host, json_t **ret, Error **err)
{
        json_t *add = json_object_get(host, "CapAdd"), *drop = json_object_get(host, "CapDrop");
        json_t *out = json_array();
        int last = caps_last_cap();

        if (json_is_true(json_object_get(host, "Privileged"))) {
                /* Every capability we hold in our bounding set: asking for one we lack (CAP_SYS_RESOURCE
                 * on some hosts) could only fail. */
                for (int c = 0; c <= last; c++)
                        if (caps_to_name(c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
                                json_array_append_new(out, json_string(caps_to_name(c)));
                *ret = out;
                return 0;
        }
        /* Docker's rule: a cap both added and dropped is added unless ALL is dropped... keep it simple and
         * exact for the common cases: start from the defaults (or all when ALL is added), drop what
         * CapDrop names (everything for ALL), then add what CapAdd names. */
        bool add_all = list_has(add, "CAP_ALL");
        for (int c = 0; c <= last; c++) {
                const char *name = caps_to_name(c);
                bool in = false;
                if (!name)
                        continue;
                if (add_all)
                        in = true;
                else
                        for (size_t i = 0; i < ELEMENTSOF(default_caps); i++)
                                in |= STREQ(default_caps[i], name);
                if (in && list_has(drop, name))
                        in = false;
                if (!in && list_has(add, name) && !(list_has(drop, "CAP_ALL") && !list_has(add, name)))
                        in = true;
                if (in)
                        json_array_append_new(out, json_string(name));
        }
        (void)err;
        *ret = out;
        return 0;
}

void env_merge(json_t *env, json_t *over)
{
        size_t i;
        json_t *v;

        json_array_foreach(over, i, v) {
                const char *kv = json_string_value(v), *eq;
                size_t k, klen;
                json_t *old;
                bool replaced = false;
                if (!kv)
                        continue;
                eq = strchr(kv, '=');
                klen = eq ? (size_t)(eq - kv) : strlen(kv);
                json_array_foreach(env, k, old) {
                        const char *o = json_string_value(old);
                        if (o && strncmp(o, kv, klen) == 0 && (o[klen] == '=' || o[klen] == '\0')) {
                                json_array_set(env, k, v);
                                replaced = true;
                                break;
                        }
                }
                if (!replaced)
                        json_array_append(env, v);
        }
}

json_t *specgen_env(json_t *config)
{
        json_t *env = json_array();
        const char *host = json_string_value(json_object_get(config, "Hostname"));

        json_array_append_new(env, json_string(DEFAULT_PATH));
        {
                _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", host ? host : "");
                json_array_append_new(env, json_string(h));
        }
        if (json_is_true(json_object_get(config, "Tty")))
                json_array_append_new(env, json_string("TERM=xterm"));
        env_merge(env, json_object_get(config, "Env"));
        return env;
}

/* ---- users and groups from the image ---- */

static char *read_in_root(const char *rootfs, const char *path)
{
        _cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int fd = -EBADF;
        char *text = NULL;

        if (root < 0)
                return NULL;
        fd = sys_openat2(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
                return NULL;
        {
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return NULL;    /* a FIFO or device in a hostile image must not block or be read */
        }
        if (read_all_fd(fd, 4 << 20, &text, NULL) < 0)
                return NULL;
        return text;
}

/* Splits a line at ':' into at most max fields, in place; the number of fields. */
static size_t split_colon(char *line, char **f, size_t max)
{
        size_t n = 0;

        while (n < max) {
                f[n++] = line;
                line = strchr(line, ':');
                if (!line)
                        break;
                *line++ = '\0';
        }
        return n;
}

/*
 * The first line of a passwd or group text whose name (field 0), or numeric id (field 2) when name
 * is NULL, matches and that has at least min_fields fields (an image's file may have short lines),
 * split into fields[0..nfields) (NULL past the line's own).  Returns the line the fields point into,
 * for the caller to free, or NULL.
 */
static char *find_entry(const char *text, const char *name, long id, char **fields, size_t nfields, size_t min_fields)
{
        for (const char *p = text; p && *p;) {
                size_t len = strcspn(p, "\n");
                char *line = xstrndup(p, len);
                size_t n;

                memset(fields, 0, nfields * sizeof(char *));
                n = split_colon(line, fields, nfields);
                if (n >= min_fields && fields[0][0] != '#' &&
                    (name ? STREQ(fields[0], name) : isdigit((unsigned char)fields[2][0]) && strtol(fields[2], NULL, 10) == id))
                        return line;
                free(line);
                p += len + (p[len] == '\n');
        }
        return NULL;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s))
                        return false;
        return true;
}

int specgen_user(const char *rootfs, const char *user, json_t *group_add, json_t **ret, Error **err)
{
        _cleanup_free_ char *passwd = read_in_root(rootfs, "/etc/passwd"), *group = read_in_root(rootfs, "/etc/group");
        _cleanup_free_ char *u = xstrdup(user ? user : ""), *store = NULL, *gstore = NULL;
        char *g = strchr(u, ':');
        long uid = 0, gid = 0;
        const char *uname = NULL;
        char *pf[7] = { 0 };
        json_t *gids = json_array();

        if (g)
                *g++ = '\0';
        if (!*u)
                uname = "root", uid = 0;
        if (*u && all_digits(u)) {
                uid = strtol(u, NULL, 10);
                if (uid < 0 || uid > 0x7fffffffL)
                        goto bad_user;
                store = find_entry(passwd, NULL, uid, pf, 7, 4);
                if (store) {
                        gid = strtol(pf[3], NULL, 10);
                        uname = pf[0];
                }
        } else if (*u) {
                store = find_entry(passwd, u, 0, pf, 7, 4);
                if (!store) {
                        json_decref(gids);
                        return error_setx(err, ENOENT, "unable to find user %s: no matching entries in passwd file", u);
                }
                uid = strtol(pf[2], NULL, 10);
                gid = strtol(pf[3], NULL, 10);
                uname = pf[0];
        } else if ((store = find_entry(passwd, "root", 0, pf, 7, 4)))
                gid = strtol(pf[3], NULL, 10);
        if (g && *g) {
                char *gf[4];
                if (all_digits(g))
                        gid = strtol(g, NULL, 10);
                else if ((gstore = find_entry(group, g, 0, gf, 4, 3)))
                        gid = strtol(gf[2], NULL, 10);
                else {
                        json_decref(gids);
                        return error_setx(err, ENOENT, "unable to find group %s: no matching entries in group file", g);
                }
        }
        /* The primary group first, then the groups that list the user by name (as runc/libcontainer does). */
        json_array_append_new(gids, json_integer(gid));
        if (uname && group && !(g && *g)) {
                _cleanup_free_ char *copy = xstrdup(group);
                char *save = NULL;
                for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        char *f[4];
                        if (split_colon(l, f, 4) < 4 || !all_digits(f[2]))
                                continue;
                        char *s2 = NULL;
                        for (char *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2))
                                if (STREQ(m, uname) && strtol(f[2], NULL, 10) != gid)
                                        json_array_append_new(gids, json_integer(strtol(f[2], NULL, 10)));
                }
        }
        {
                size_t i;
                json_t *v;
                json_array_foreach(group_add, i, v) {
                        const char *s = json_string_value(v);
                        char *gf[4];
                        _cleanup_free_ char *gs = NULL;
                        if (!s)
                                continue;
                        if (all_digits(s))
                                json_array_append_new(gids, json_integer(strtol(s, NULL, 10)));
                        else if ((gs = find_entry(group, s, 0, gf, 4, 3)))
                                json_array_append_new(gids, json_integer(strtol(gf[2], NULL, 10)));
                        else {
                                json_decref(gids);
                                return error_setx(err, ENOENT, "--group-add %s: no such group in the image's /etc/group", s);
                        }
                }
        }
        *ret = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)uid, "gid", (json_int_t)gid, "additionalGids", gids);
        return 0;
bad_user:
        json_decref(gids);
        return error_setx(err, EINVAL, "invalid user %s", user);
}

/* ---- mounts ---- */

static json_t *mnt(const char *dst, const char *type, const char *src, const char *opts_csv)
{
        json_t *o = json_array();
        _cleanup_free_ char *copy = xstrdup(opts_csv);
        char *save = NULL;

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(o, json_string(t));
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src, "options", o);
}

static json_t *tmpfs_mount(const char *path, const char *user_opts)
{
        /* Docker's defaults for --tmpfs: nodev always; noexec and nosuid unless the user says exec/suid. */
        json_t *o = json_array();
        bool exec = false, suid = false, dev = false;
        _cleanup_free_ char *copy = xstrdup(user_opts ? user_opts : "");
        char *save = NULL;

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                exec |= STREQ(t, "exec");
                suid |= STREQ(t, "suid");
                dev |= STREQ(t, "dev");
        }
        if (!dev)
                json_array_append_new(o, json_string("nodev"));
        json_array_append_new(o, json_string("rprivate"));
        if (!exec)
                json_array_append_new(o, json_string("noexec"));
        if (!suid)
                json_array_append_new(o, json_string("nosuid"));
        free(copy);
        copy = xstrdup(user_opts ? user_opts : "");
        save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (STREQ(t, "rw") || STREQ(t, "exec") || STREQ(t, "suid") || STREQ(t, "dev") || STREQ(t, "noexec") ||
                    STREQ(t, "nosuid") || STREQ(t, "nodev"))
                        continue;
                json_array_append_new(o, json_string(t));
        }
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", path, "type", "tmpfs", "source", "tmpfs", "options", o);
}

static json_t *bind_mount(const char *src, const char *dst, bool ro, const char *propagation)
{
        json_t *o = json_pack("[s]", "rbind");
        if (ro)
                json_array_append_new(o, json_string("ro"));
        json_array_append_new(o, json_string(propagation && *propagation ? propagation : "rprivate"));
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "bind", "source", src, "options", o);
}

static bool mount_listed(json_t *mounts, const char *dst)
{
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                const char *d = json_string_value(json_object_get(m, "destination"));
                if (d && STREQ(d, dst))
                        return true;
        }
        return false;
}

static size_t path_depth(json_t *mount)
{
        const char *d = json_string_value(json_object_get(mount, "destination"));
        size_t n = 0;
        for (; d && *d; d++)
                n += *d == '/' && d[1] && d[1] != '/';
        return n;
}

static int add_user_mounts(json_t *mounts, json_t *host, json_t *stockade, Error **err)
{
        json_t *user = json_array();
        size_t i;
        json_t *v;
        const char *k;

        json_array_foreach(json_object_get(host, "Binds"), i, v) {
                _cleanup_free_ char *copy = xstrdup(json_string_value(v));
                char *src = copy, *dst = strchr(copy, ':'), *opts;
                bool ro = false, idmap = false;
                const char *prop = NULL;
                struct stat st;
                if (!dst || src[0] != '/')
                        continue;       /* a volume (NAME:/dst, /dst): from Stockade.Volumes below */
                *dst++ = '\0';
                opts = strchr(dst, ':');
                if (opts)
                        *opts++ = '\0';
                for (char *save = NULL, *t = opts ? strtok_r(opts, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
                        ro |= STREQ(t, "ro");
                        idmap |= STREQ(t, "idmap");
                        if (strstr(t, "private") || strstr(t, "slave") || strstr(t, "shared"))
                                prop = t;
                }
                /* Docker creates a missing bind source directory; we refuse instead: a typo must not
                 * become an empty directory that hides the mistake. */
                if (stat(src, &st) < 0) {
                        json_decref(user);
                        return error_set(err, errno, "invalid mount config for type \"bind\": bind source path does not exist: %s", src);
                }
                json_t *bm = bind_mount(src, dst, ro, prop);
                if (idmap) {
                        /* the host's owners as seen inside: the mount is idmapped with the container's mappings */
                        json_t *um = json_object_get(stockade, "UidMappings");
                        if (json_array_size(um) == 0) {
                                json_decref(bm);
                                json_decref(user);
                                return error_setx(err, EINVAL, "-v %s: idmap needs a remapped container (daemon.json "
                                                  "userns-remap, without --userns=host)", json_string_value(v));
                        }
                        json_array_append_new(json_object_get(bm, "options"), json_string("idmap"));
                        json_object_set(bm, "uidMappings", um);
                        json_object_set(bm, "gidMappings", json_object_get(stockade, "GidMappings"));
                }
                json_array_append_new(user, bm);
        }
        /* --volumes-from's binds, resolved at create (lifecycle.c) */
        json_array_foreach(json_object_get(stockade, "FromBinds"), i, v) {
                const char *src = json_string_value(json_object_get(v, "Source"));
                const char *dst = json_string_value(json_object_get(v, "Destination"));
                struct stat st;
                if (!src || !dst)
                        continue;
                if (stat(src, &st) < 0) {
                        json_decref(user);
                        return error_set(err, errno, "--volumes-from: bind source path does not exist: %s", src);
                }
                json_array_append_new(user, bind_mount(src, dst, !json_is_true(json_object_get(v, "RW")), NULL));
        }
        /* volumes: their _data bound in, resolved at create (lifecycle.c, volume.h) */
        json_array_foreach(json_object_get(stockade, "Volumes"), i, v) {
                const char *src = json_string_value(json_object_get(v, "Source"));
                const char *dst = json_string_value(json_object_get(v, "Destination"));
                const char *prop = json_string_value(json_object_get(v, "Propagation"));
                if (!src || !dst)
                        continue;
                json_t *bm = bind_mount(src, dst, !json_is_true(json_object_get(v, "RW")), prop && *prop ? prop : NULL);
                if (json_is_true(json_object_get(v, "Idmap"))) {
                        json_t *um = json_object_get(stockade, "UidMappings");
                        if (json_array_size(um) == 0) {
                                json_decref(bm);
                                json_decref(user);
                                return error_setx(err, EINVAL, "volume %s: idmap needs a remapped container (daemon.json "
                                                  "userns-remap, without --userns=host)",
                                                  json_string_value(json_object_get(v, "Name")));
                        }
                        json_array_append_new(json_object_get(bm, "options"), json_string("idmap"));
                        json_object_set(bm, "uidMappings", um);
                        json_object_set(bm, "gidMappings", json_object_get(stockade, "GidMappings"));
                }
                json_array_append_new(user, bm);
        }
        json_array_foreach(json_object_get(host, "Mounts"), i, v) {
                const char *type = json_string_value(json_object_get(v, "Type"));
                const char *src = json_string_value(json_object_get(v, "Source"));
                const char *dst = json_string_value(json_object_get(v, "Target"));
                struct stat st;
                if (!type || !dst || STREQ(type, "volume"))
                        continue;
                if (STREQ(type, "bind")) {
                        if (!src || stat(src, &st) < 0) {
                                json_decref(user);
                                return error_set(err, src ? errno : EINVAL,
                                                 "invalid mount config for type \"bind\": bind source path does not exist: %s",
                                                 src ? src : "(none)");
                        }
                        json_array_append_new(user, bind_mount(src, dst, json_is_true(json_object_get(v, "ReadOnly")),
                                                               json_string_value(json_object_get(json_object_get(v, "BindOptions"), "Propagation"))));
                } else if (STREQ(type, "tmpfs")) {
                        json_int_t size = json_integer_value(json_object_get(json_object_get(v, "TmpfsOptions"), "SizeBytes"));
                        _cleanup_free_ char *o = size > 0 ? xasprintf("size=%lld", (long long)size) : xstrdup("");
                        json_array_append_new(user, tmpfs_mount(dst, o));
                }
        }
        json_object_foreach(json_object_get(host, "Tmpfs"), k, v)
                json_array_append_new(user, tmpfs_mount(k, json_string_value(v)));

        /* A user mount replaces a default one at the same destination (as Docker does for /dev/shm). */
        json_array_foreach(user, i, v) {
                const char *d = json_string_value(json_object_get(v, "destination"));
                size_t k2;
                json_t *m;
                json_array_foreach(mounts, k2, m) {
                        if (STREQ(json_string_value(json_object_get(m, "destination")), d)) {
                                json_array_remove(mounts, k2);
                                break;
                        }
                }
        }
        /* parents before children (docker sorts by the number of path components), so a mount at
         * /data/sub is made on the volume at /data, not hidden under it */
        for (size_t a = 1; a < json_array_size(user); a++)
                for (size_t b = a; b > 0 && path_depth(json_array_get(user, b)) < path_depth(json_array_get(user, b - 1)); b--) {
                        json_t *t = json_incref(json_array_get(user, b));
                        json_array_set(user, b, json_array_get(user, b - 1));
                        json_array_set_new(user, b - 1, t);
                }
        json_array_extend(mounts, user);
        json_decref(user);
        return 0;
}

/* ---- resources ---- */

static json_t *device_rule(bool allow, const char *type, int major, int minor)
{
        json_t *d = json_pack("{s:b}", "allow", allow);
        if (type)
                json_object_set_new(d, "type", json_string(type));
        if (major >= 0)
                json_object_set_new(d, "major", json_integer(major));
        if (minor >= 0)
                json_object_set_new(d, "minor", json_integer(minor));
        json_object_set_new(d, "access", json_string("rwm"));
        return d;
}

json_t *specgen_resources(Engine *e, json_t *host)
{
        json_t *r = json_object(), *dev = json_array(), *mem = json_object(), *cpu = json_object();
        int64_t memory = (int64_t)json_integer_value(json_object_get(host, "Memory"));
        int64_t swap = (int64_t)json_integer_value(json_object_get(host, "MemorySwap"));
        int64_t resv = (int64_t)json_integer_value(json_object_get(host, "MemoryReservation"));
        int64_t nano = (int64_t)json_integer_value(json_object_get(host, "NanoCpus"));
        int64_t shares = (int64_t)json_integer_value(json_object_get(host, "CpuShares"));
        int64_t period = (int64_t)json_integer_value(json_object_get(host, "CpuPeriod"));
        int64_t quota = (int64_t)json_integer_value(json_object_get(host, "CpuQuota"));
        const char *cpus = json_string_value(json_object_get(host, "CpusetCpus"));
        const char *mems = json_string_value(json_object_get(host, "CpusetMems"));
        json_t *pids = json_object_get(host, "PidsLimit");
        json_t *swappiness = json_object_get(host, "MemorySwappiness");

        if (json_is_true(json_object_get(host, "Privileged")))
                json_array_append_new(dev, device_rule(true, NULL, -1, -1));
        else {
                /* Docker's allow-list: everything denied, then null, zero, full, random, urandom, tty, console... */
                json_array_append_new(dev, device_rule(false, NULL, -1, -1));
                static const int allowed[][2] = { { 1, 5 }, { 1, 3 }, { 1, 9 }, { 1, 8 }, { 5, 0 }, { 5, 1 } };
                for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                        json_array_append_new(dev, device_rule(true, "c", allowed[i][0], allowed[i][1]));
                json_array_append_new(dev, device_rule(true, "c", 136, -1));    /* /dev/pts/N */
                json_array_append_new(dev, device_rule(true, "c", 5, 2));       /* /dev/ptmx */
                json_array_append_new(dev, device_rule(false, "c", 10, 229));   /* /dev/fuse stays out */
                /* --device: each node allowed with its permissions (after the denials, as dockerd) */
                size_t i;
                json_t *d;
                json_array_foreach(json_object_get(host, "Devices"), i, d)
                {
                        struct stat st;
                        const char *src = json_string_value(json_object_get(d, "PathOnHost"));
                        const char *perm = json_string_value(json_object_get(d, "CgroupPermissions"));
                        if (!src || stat(src, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
                                continue; /* refused at create (hostconfig_validate); gone since */
                        json_t *rule = device_rule(true, S_ISCHR(st.st_mode) ? "c" : "b", (int)major(st.st_rdev),
                                                   (int)minor(st.st_rdev));
                        json_object_set_new(rule, "access", json_string(perm && *perm ? perm : "rwm"));
                        json_array_append_new(dev, rule);
                }
        }
        json_object_set_new(r, "devices", dev);

        if (memory > 0)
                json_object_set_new(mem, "limit", json_integer(memory));
        if (resv > 0)
                json_object_set_new(mem, "reservation", json_integer(resv));
        /* --memory-swap is memory plus swap, as the OCI's memory.swap; unset with --memory gives twice
         * the memory, as Docker does; -1 is unlimited. */
        if (swap == -1)
                json_object_set_new(mem, "swap", json_integer(-1));
        else if (swap > 0)
                json_object_set_new(mem, "swap", json_integer(swap));
        else if (memory > 0)
                json_object_set_new(mem, "swap", json_integer(memory * 2));
        if (json_is_true(json_object_get(host, "OomKillDisable")))
                json_object_set_new(mem, "disableOOMKiller", json_true());
        if (json_is_integer(swappiness) && json_integer_value(swappiness) >= 0)
                json_object_set_new(mem, "swappiness", json_integer(json_integer_value(swappiness)));
        if (json_object_size(mem))
                json_object_set_new(r, "memory", mem);
        else
                json_decref(mem);

        if (shares > 0)
                json_object_set_new(cpu, "shares", json_integer(shares));
        if (nano > 0) {
                json_object_set_new(cpu, "period", json_integer(100000));
                json_object_set_new(cpu, "quota", json_integer(nano * 100000 / 1000000000));
        }
        if (period > 0)
                json_object_set_new(cpu, "period", json_integer(period));
        if (quota != 0)
                json_object_set_new(cpu, "quota", json_integer(quota));
        if (cpus && *cpus)
                json_object_set_new(cpu, "cpus", json_string(cpus));
        if (mems && *mems)
                json_object_set_new(cpu, "mems", json_string(mems));
        if (json_object_size(cpu))
                json_object_set_new(r, "cpu", cpu);
        else
                json_decref(cpu);
        if (json_is_integer(pids) && json_integer_value(pids) != 0)
                json_object_set_new(r, "pids", json_pack("{s:I}", "limit",
                                                         json_integer_value(pids) < 0 ? (json_int_t)-1 : json_integer_value(pids)));
        (void)e;
        return r;
}

/* --privileged: every device node of the host's /dev (but the per-instance ones), as dockerd adds them. */
static void host_devices(const char *dir, int depth, json_t *out)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                if (de->d_name[0] == '.' || (depth == 0 && (STREQ(de->d_name, "pts") || STREQ(de->d_name, "shm") ||
                                                              STREQ(de->d_name, "mqueue") || STREQ(de->d_name, "console") ||
                                                              STREQ(de->d_name, "ptmx"))))
                        continue;
                p = xasprintf("%s/%s", dir, de->d_name);
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < 4)
                        host_devices(p, depth + 1, out);
                else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
                        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", p, "type",
                                                             S_ISCHR(st.st_mode) ? "c" : "b", "major",
                                                             (json_int_t)major(st.st_rdev), "minor",
                                                             (json_int_t)minor(st.st_rdev), "fileMode",
                                                             (int)(st.st_mode & 07777), "uid", (int)st.st_uid, "gid",
                                                             (int)st.st_gid));
        }
        closedir(d);
}

/* ---- security options ---- */

typedef struct SecOpts {
        bool nnp, nnp_set, seccomp_unconfined;
        const char *seccomp_json;       /* inline profile */
        const char *apparmor;
        bool systempaths_unconfined;
} SecOpts;

static void sec_opts(json_t *host, SecOpts *s, char ***keep)
{
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(host, "SecurityOpt"), i, v) {
                char *k = NULL, *val = NULL;
                bool colon;
                if (security_opt_split(json_string_value(v), &k, &val, &colon, NULL) < 0)
                        continue;
                if (STREQ(k, "no-new-privileges")) {
                        s->nnp = STREQ(val, "true");
                        s->nnp_set = true;
                } else if (STREQ(k, "seccomp")) {
                        s->seccomp_unconfined = STREQ(val, "unconfined");
                        if (val[0] == '{') {
                                strv_push(keep, val);
                                s->seccomp_json = (*keep)[strv_length(*keep) - 1];
                        }
                } else if (STREQ(k, "apparmor")) {
                        strv_push(keep, val);
                        s->apparmor = (*keep)[strv_length(*keep) - 1];
                } else if (STREQ(k, "systempaths"))
                        s->systempaths_unconfined = STREQ(val, "unconfined");
                free(k);
                free(val);
        }
}

static int seccomp_for(Engine *e, const SecOpts *s, json_t *caps, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *profile = NULL;
        const char *daemon_profile = json_string_value(json_object_get(e->daemon, "seccomp-profile"));
        SeccompContext sc = { 0 };
        size_t i;
        json_t *v;
        int r;

        *ret = NULL;
        if (s->seccomp_unconfined)
                return 0;
        if (s->seccomp_json) {
                r = jx_parse(s->seccomp_json, strlen(s->seccomp_json), "--security-opt seccomp", &profile, err);
                if (r < 0)
                        return r;
        } else if (daemon_profile && *daemon_profile && !STREQ(daemon_profile, "builtin")) {
                if (STREQ(daemon_profile, "unconfined"))
                        return 0;
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                r = read_file_at(AT_FDCWD, daemon_profile, 16 << 20, &text, &len);
                if (r < 0)
                        return error_set(err, -r, "%s: seccomp-profile %s", e->config_file, daemon_profile);
                r = jx_parse(text, len, daemon_profile, &profile, err);
                if (r < 0)
                        return r;
        } else
                profile = seccomp_default_profile();
        json_array_foreach(caps, i, v) {
                int c = caps_from_name(json_string_value(v));
                if (c >= 0 && c < 64)
                        sc.bounding |= 1ULL << c;
        }
        return seccomp_profile_resolve(profile, &sc, ret, err);
}

int specgen(Engine *e, const SpecInput *in, json_t **ret, Error **err)
{
        json_t *rec = in->record, *cfg = json_object_get(rec, "Config"), *host = json_object_get(rec, "HostConfig");
        const char *id = json_string_value(json_object_get(rec, "Id"));
        const char *hostname = json_string_value(json_object_get(cfg, "Hostname"));
        const char *net = json_string_value(json_object_get(host, "NetworkMode"));
        bool privileged = json_is_true(json_object_get(host, "Privileged"));
        bool host_net = net && STREQ(net, "host");
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_strv_ char **keep = NULL;
        _cleanup_free_ char *aa_profile = NULL;
        json_t *process, *linux_, *mounts, *args, *caps = NULL, *user = NULL, *ns, *seccomp = NULL, *rl;
        SecOpts so = { 0 };
        size_t i;
        json_t *v;
        int r;

        sec_opts(host, &so, &keep);
        if (!so.nnp_set && json_is_true(json_object_get(e->daemon, "no-new-privileges")))
                so.nnp = true;

        /* args: the entrypoint, then the command; --init puts docker-init in front. */
        args = json_array();
        if (json_is_true(json_object_get(host, "Init")) ||
            (!json_is_boolean(json_object_get(host, "Init")) && json_is_true(json_object_get(e->daemon, "init")))) {
                json_array_append_new(args, json_string("/sbin/docker-init"));
                json_array_append_new(args, json_string("--"));
        }
        json_array_extend(args, json_object_get(cfg, "Entrypoint"));
        json_array_extend(args, json_object_get(cfg, "Cmd"));
        if (json_array_size(args) == 0) {
                json_decref(args);
                return error_setx(err, EINVAL, "No command specified");
        }

        r = specgen_user(in->rootfs, json_string_value(json_object_get(cfg, "User")), json_object_get(host, "GroupAdd"),
                         &user, err);
        if (r < 0) {
                json_decref(args);
                return r;
        }
        r = specgen_caps(host, &caps, err);
        if (r < 0) {
                json_decref(args);
                json_decref(user);
                return r;
        }
        if (!privileged) {
                r = seccomp_for(e, &so, caps, &seccomp, err);
                if (r < 0) {
                        json_decref(args);
                        json_decref(user);
                        json_decref(caps);
                        return r;
                }
        }
        /* AppArmor: the requested profile, else stockade-default where AppArmor is enabled. */
        r = apparmor_container_profile(so.apparmor, privileged, &aa_profile, err);
        if (r < 0) {
                json_decref(args);
                json_decref(user);
                json_decref(caps);
                json_decref(seccomp);
                return r;
        }

        process = json_pack("{s:b, s:o, s:o, s:o, s:s}", "terminal", json_is_true(json_object_get(cfg, "Tty")), "user", user,
                            "args", args, "env", specgen_env(cfg), "cwd",
                            json_string_value(json_object_get(cfg, "WorkingDir")) && *json_string_value(json_object_get(cfg, "WorkingDir"))
                                    ? json_string_value(json_object_get(cfg, "WorkingDir"))
                                    : "/");
        json_object_set_new(process, "capabilities",
                            json_pack("{s:O, s:O, s:O}", "bounding", caps, "effective", caps, "permitted", caps));
        json_decref(caps);
        {
                /* HostConfig.ConsoleSize [height, width] (the docker CLI's terminal, sent with create): the
                 * pty's size from the start, as dockerd sets it, rather than after a resize that races the
                 * first instruction */
                json_t *cs = json_object_get(host, "ConsoleSize");
                json_int_t h = json_integer_value(json_array_get(cs, 0)), w = json_integer_value(json_array_get(cs, 1));
                if (json_is_true(json_object_get(cfg, "Tty")) && h > 0 && w > 0 && h < 65536 && w < 65536)
                        json_object_set_new(process, "consoleSize", json_pack("{s:I, s:I}", "height", h, "width", w));
        }
        if (so.nnp)
                json_object_set_new(process, "noNewPrivileges", json_true());
        if (aa_profile)
                json_object_set_new(process, "apparmorProfile", json_string(aa_profile));
        json_object_set_new(process, "oomScoreAdj", json_integer(json_integer_value(json_object_get(host, "OomScoreAdj"))));

        /* rlimits: daemon.json default-ulimits, overridden by --ulimit. */
        rl = json_array();
        {
                const char *name;
                json_t *d;
                json_t *merged = json_object();
                json_object_foreach(json_object_get(e->daemon, "default-ulimits"), name, d)
                        json_object_set_new(merged, name, json_pack("{s:O, s:O}", "Hard", json_object_get(d, "Hard"), "Soft",
                                                                   json_object_get(d, "Soft")));
                json_array_foreach(json_object_get(host, "Ulimits"), i, v)
                        json_object_set(merged, json_string_value(json_object_get(v, "Name")), v);
                json_object_foreach(merged, name, d) {
                        _cleanup_free_ char *type = xasprintf("RLIMIT_%s", name);
                        for (char *p = type; *p; p++)
                                *p = (char)toupper((unsigned char)*p);
                        json_int_t hard = json_integer_value(json_object_get(d, "Hard"));
                        json_int_t soft = json_integer_value(json_object_get(d, "Soft"));
                        json_array_append_new(rl, json_pack("{s:s, s:o, s:o}", "type", type, "hard",
                                                            hard < 0 ? jx_uint64_new(UINT64_MAX) : json_integer(hard), "soft",
                                                            soft < 0 ? jx_uint64_new(UINT64_MAX) : json_integer(soft)));
                }
                json_decref(merged);
        }
        if (json_array_size(rl))
                json_object_set_new(process, "rlimits", rl);
        else
                json_decref(rl);

        mounts = json_array();
        json_array_append_new(mounts, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
        json_array_append_new(mounts, mnt("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
        json_array_append_new(mounts, mnt("/dev/pts", "devpts", "devpts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
        json_array_append_new(mounts, mnt("/sys", "sysfs", "sysfs", privileged ? "nosuid,noexec,nodev" : "nosuid,noexec,nodev,ro"));
        json_array_append_new(mounts, mnt("/sys/fs/cgroup", "cgroup", "cgroup", privileged ? "nosuid,noexec,nodev" : "ro,nosuid,noexec,nodev"));
        json_array_append_new(mounts, mnt("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
        {
                _cleanup_free_ char *shm = xasprintf("nosuid,noexec,nodev,mode=1777,size=%lld",
                                                     (long long)(json_integer_value(json_object_get(host, "ShmSize"))
                                                                         ? json_integer_value(json_object_get(host, "ShmSize"))
                                                                         : 67108864));
                json_array_append_new(mounts, mnt("/dev/shm", "tmpfs", "shm", shm));
        }
        r = add_user_mounts(mounts, host, json_object_get(rec, "Stockade"), err);
        if (r < 0) {
                json_decref(process);
                json_decref(mounts);
                json_decref(seccomp);
                return r;
        }
        {
                static const char *const etc[] = { "resolv.conf", "hostname", "hosts" };
                bool ro = json_is_true(json_object_get(host, "ReadonlyRootfs"));
                for (i = 0; i < ELEMENTSOF(etc); i++) {
                        _cleanup_free_ char *src = xasprintf("%s/%s", in->container_dir, etc[i]);
                        _cleanup_free_ char *dst = xasprintf("/etc/%s", etc[i]);
                        if (!mount_listed(mounts, dst))
                                json_array_append_new(mounts, bind_mount(src, dst, ro, "rprivate"));
                }
        }
        if (in->init_path && json_array_size(args) > 1 && STREQ(json_string_value(json_array_get(args, 0)), "/sbin/docker-init"))
                json_array_append_new(mounts, bind_mount(in->init_path, "/sbin/docker-init", true, "rprivate"));

        ns = json_array();
        json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
        if (!host_net) {
                if (in->netns_path)
                        json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path", in->netns_path));
                else
                        json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
        }
        {
                const char *uts = json_string_value(json_object_get(host, "UTSMode"));
                const char *pid = json_string_value(json_object_get(host, "PidMode"));
                const char *ipc = json_string_value(json_object_get(host, "IpcMode"));
                const char *cg = json_string_value(json_object_get(host, "CgroupnsMode"));
                if (!(uts && STREQ(uts, "host")) && !host_net)
                        json_array_append_new(ns, json_pack("{s:s}", "type", "uts"));
                if (!(pid && STREQ(pid, "host")))
                        json_array_append_new(ns, json_pack("{s:s}", "type", "pid"));
                if (!(ipc && STREQ(ipc, "host")))
                        json_array_append_new(ns, json_pack("{s:s}", "type", "ipc"));
                if (!(cg && STREQ(cg, "host")))
                        json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
        }

        linux_ = json_object();
        {
                json_t *sysctl = json_object();
                const char *k;
                if (!host_net) {
                        json_object_set_new(sysctl, "net.ipv4.ip_unprivileged_port_start", json_string("0"));
                        json_object_set_new(sysctl, "net.ipv4.ping_group_range", json_string("0 2147483647"));
                }
                json_object_foreach(json_object_get(host, "Sysctls"), k, v) json_object_set(sysctl, k, v);
                json_object_set_new(linux_, "sysctl", sysctl);
        }
        json_object_set_new(linux_, "resources", specgen_resources(e, host));
        {
                _cleanup_free_ char *cg = xasprintf("stockade/%s", id);
                json_object_set_new(linux_, "cgroupsPath", json_string(cg));
        }
        {
                /* userns-remap (userns.c): the mappings fixed at create */
                json_t *st = json_object_get(in->record, "Stockade");
                json_t *um = json_object_get(st, "UidMappings"), *gm = json_object_get(st, "GidMappings");
                if (json_array_size(um) > 0) {
                        json_t *sysctl = json_object_get(linux_, "sysctl"), *m;
                        const char *pgr = json_string_value(json_object_get(sysctl, "net.ipv4.ping_group_range"));
                        json_int_t ids = 0;
                        size_t k;
                        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
                        json_object_set(linux_, "uidMappings", um);
                        json_object_set(linux_, "gidMappings", gm);
                        /* the kernel takes only groups mapped in the container's namespace */
                        json_array_foreach(gm, k, m) ids += json_integer_value(json_object_get(m, "size"));
                        if (pgr && STREQ(pgr, "0 2147483647") && ids > 0)
                                json_object_set_new(sysctl, "net.ipv4.ping_group_range",
                                                    json_sprintf("0 %lld", (long long)ids - 1));
                }
        }
        json_object_set_new(linux_, "namespaces", ns);
        if (!privileged && !so.systempaths_unconfined) {
                json_t *m = json_array(), *ro = json_array();
                for (i = 0; i < ELEMENTSOF(masked_paths); i++)
                        json_array_append_new(m, json_string(masked_paths[i]));
                for (i = 0; i < ELEMENTSOF(readonly_paths); i++)
                        json_array_append_new(ro, json_string(readonly_paths[i]));
                json_object_set_new(linux_, "maskedPaths", m);
                json_object_set_new(linux_, "readonlyPaths", ro);
        }
        if (seccomp)
                json_object_set_new(linux_, "seccomp", seccomp);
        if (privileged) {
                json_t *devs = json_array();
                host_devices("/dev", 0, devs);
                json_object_set_new(linux_, "devices", devs);
        } else if (json_array_size(json_object_get(host, "Devices"))) {
                /* --device: the node made in the container at PathInContainer, with the host's owner and mode */
                json_t *devs = json_array(), *d;
                size_t k;
                json_array_foreach(json_object_get(host, "Devices"), k, d)
                {
                        struct stat st;
                        const char *src = json_string_value(json_object_get(d, "PathOnHost"));
                        const char *dst = json_string_value(json_object_get(d, "PathInContainer"));
                        if (!src || stat(src, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
                                continue;
                        json_array_append_new(devs, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", dst && *dst ? dst : src,
                                                              "type", S_ISCHR(st.st_mode) ? "c" : "b", "major",
                                                              (json_int_t)major(st.st_rdev), "minor",
                                                              (json_int_t)minor(st.st_rdev), "fileMode",
                                                              (int)(st.st_mode & 07777), "uid", (int)st.st_uid, "gid",
                                                              (int)st.st_gid));
                }
                json_object_set_new(linux_, "devices", devs);
        }

        spec = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2-dev", "process", process, "root", "path",
                         in->rootfs, "readonly", json_is_true(json_object_get(host, "ReadonlyRootfs")), "hostname",
                         host_net ? "" : (hostname ? hostname : ""), "mounts", mounts, "linux", linux_);
        if (host_net)
                json_object_del(spec, "hostname");
        *ret = TAKE_PTR(spec);
        return 0;
}
