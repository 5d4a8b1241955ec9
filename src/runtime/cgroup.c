/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* Flat, one level below the caller: nothing shared to create or remove per container. */
#define DEFAULT_PREFIX "stockade-"

typedef struct Hierarchy {
        char *name;       /* "memory", "cpu,cpuacct", "name=systemd", "" for cgroup2 */
        char *mountpoint; /* /sys/fs/cgroup/memory */
        char *root;       /* the mount's root within the hierarchy (mountinfo field 4) */
        char *own;        /* our cgroup in it (/proc/self/cgroup) */
} Hierarchy;

static void hierarchies_free(Hierarchy *h, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(h[i].name);
                free(h[i].mountpoint);
                free(h[i].root);
                free(h[i].own);
        }
        free(h);
}

/* Unescapes the octal escapes (\040) of a mountinfo field, in place. */
static void unescape(char *s)
{
        char *o = s;
        for (char *i = s; *i; i++) {
                if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] && i[3]) {
                        *o++ = (char)(((i[1] - '0') << 6) | ((i[2] - '0') << 3) | (i[3] - '0'));
                        i += 3;
                } else
                        *o++ = *i;
        }
        *o = '\0';
}

/* Does the v1 mount's super options name exactly the controllers of `name` ("cpu,cpuacct")? */
static bool opts_match(const char *superopts, const char *name)
{
        _cleanup_free_ char *want = xstrdup(name);
        char *save = NULL;

        for (char *c = strtok_r(want, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
                bool found = false;
                _cleanup_free_ char *opts = xstrdup(superopts);
                char *s2 = NULL;
                for (char *o = strtok_r(opts, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
                        if (STREQ(o, c))
                                found = true;
                if (!found)
                        return false;
        }
        return true;
}

/* The hierarchies mounted here, with the place of process `pid` (0: ourselves) in each. */
static int hierarchies_load_pid(pid_t pid, Hierarchy **ret, size_t *ret_n, Error **err)
{
        _cleanup_free_ char *cg = NULL, *mi = NULL;
        _cleanup_free_ char *cg_path = pid > 0 ? xasprintf("/proc/%d/cgroup", (int)pid) : xstrdup("/proc/self/cgroup");
        Hierarchy *h = NULL;
        size_t n = 0;
        char *save = NULL;
        int r;

        r = read_file_at(AT_FDCWD, cg_path, 1 << 20, &cg, NULL);
        if (r < 0)
                return error_set(err, -r, "reading %s", cg_path);
        r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &mi, NULL);
        if (r < 0)
                return error_set(err, -r, "reading /proc/self/mountinfo");

        for (char *line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c1 = *c2 = '\0';
                const char *name = c1 + 1, *path = c2 + 1;
                bool v2 = STREQ(line, "0") && !*name;
                /* Find the mount of this hierarchy. */
                char *mp = NULL, *mroot = NULL;
                _cleanup_free_ char *copy = xstrdup(mi);
                char *s2 = NULL;
                for (char *l = strtok_r(copy, "\n", &s2); l && !mp; l = strtok_r(NULL, "\n", &s2)) {
                        char *f[12] = { 0 };
                        int nf = 0;
                        char *s3 = NULL;
                        for (char *t = strtok_r(l, " ", &s3); t && nf < 12; t = strtok_r(NULL, " ", &s3))
                                f[nf++] = t;
                        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                        int dash = -1;
                        for (int k = 6; k < nf; k++)
                                if (STREQ(f[k], "-")) {
                                        dash = k;
                                        break;
                                }
                        if (dash < 0 || dash + 3 >= nf)
                                continue;
                        const char *fstype = f[dash + 1], *superopts = f[dash + 3];
                        if (v2 ? !STREQ(fstype, "cgroup2") : (!STREQ(fstype, "cgroup") || !opts_match(superopts, name)))
                                continue;
                        unescape(f[3]);
                        unescape(f[4]);
                        mp = xstrdup(f[4]);
                        mroot = xstrdup(f[3]);
                }
                if (!mp)
                        continue; /* hierarchy not mounted here */
                h = xrealloc(h, (n + 1) * sizeof(*h));
                h[n].name = xstrdup(name);
                h[n].mountpoint = mp;
                h[n].root = mroot;
                h[n].own = xstrdup(path);
                n++;
        }
        *ret = h;
        *ret_n = n;
        return 0;
}

static int hierarchies_load(Hierarchy **ret, size_t *ret_n, Error **err)
{
        return hierarchies_load_pid(0, ret, ret_n, err);
}

/* The directory of cgroup `cgpath` (a path in the hierarchy) on this mount. */
static char *hierarchy_dir(const Hierarchy *h, const char *cgpath)
{
        const char *rel = cgpath;
        if (!STREQ(h->root, "/") && str_has_prefix(cgpath, h->root))
                rel = cgpath + strlen(h->root);
        while (*rel == '/')
                rel++;
        return *rel ? xasprintf("%s/%s", h->mountpoint, rel) : xstrdup(h->mountpoint);
}

char *cgroup_dir_of(pid_t pid, const char *controller)
{
        Hierarchy *h = NULL;
        size_t n = 0;
        char *dir = NULL;

        if (hierarchies_load_pid(pid, &h, &n, NULL) < 0)
                return NULL;
        for (size_t i = 0; i < n && !dir; i++) {
                if (!controller ? !*h[i].name : (*h[i].name && opts_match(h[i].name, controller)))
                        dir = hierarchy_dir(&h[i], h[i].own);
        }
        hierarchies_free(h, n);
        return dir;
}

/* A new v1 cpuset cgroup starts with empty cpus and mems and refuses tasks: inherit the parent's. */
static int cpuset_inherit(const char *dir)
{
        _cleanup_free_ char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

        if (!slash)
                return 0;
        *slash = '\0';
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *mine = NULL, *theirs = NULL;
                _cleanup_free_ char *pm = xasprintf("%s/%s", dir, files[i]), *pp = xasprintf("%s/%s", parent, files[i]);
                if (read_file_at(AT_FDCWD, pm, 4096, &mine, NULL) < 0)
                        return 0;
                if (mine[0] != '\n' && mine[0] != '\0')
                        continue;
                int r = read_file_at(AT_FDCWD, pp, 4096, &theirs, NULL);
                if (r < 0)
                        return r;
                r = write_file_at(AT_FDCWD, pm, theirs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* On cgroup2 a child sees only the controllers its parent enables: enable what the parent has. */
static void enable_v2_controllers(const char *dir)
{
        _cleanup_free_ char *ctl = xasprintf("%s/cgroup.controllers", dir), *have = NULL;
        _cleanup_free_ char *sub = xasprintf("%s/cgroup.subtree_control", dir);
        char *save = NULL;

        if (read_file_at(AT_FDCWD, ctl, 4096, &have, NULL) < 0)
                return;
        for (char *c = strtok_r(have, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
                _cleanup_free_ char *plus = xasprintf("+%s", c);
                /* Refused when the parent holds processes (no internal processes): then the
                 * controller stays off, and a resource that needs it fails with a clear error. */
                (void)write_file_at(AT_FDCWD, sub, plus);
        }
}

static int mkdir_cgroup(const Hierarchy *h, const char *base, const char *rel, bool cpuset)
{
        _cleanup_free_ char *cur = xstrdup(base);
        _cleanup_free_ char *copy = xstrdup(rel);
        char *save = NULL;

        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                char *next = xasprintf("%s/%s", cur, c);
                free(cur);
                cur = next;
                if (!*h->name) {
                        _cleanup_free_ char *parent = xstrdup(cur);
                        *strrchr(parent, '/') = '\0';
                        enable_v2_controllers(parent);
                }
                if (mkdir(cur, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (cpuset) {
                        int r = cpuset_inherit(cur);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int cgroup_create(const char *id, const char *cgroups_path, json_t **ret_paths, Error **err)
{
        Hierarchy *h = NULL;
        size_t n = 0;
        json_t *paths = json_object();
        _cleanup_free_ char *rel = NULL;
        bool absolute = false;
        int r;

        if (!cgroups_path || !*cgroups_path) {
                rel = xasprintf(DEFAULT_PREFIX "%s", id);
        } else if (cgroups_path[0] == '/') {
                rel = xstrdup(cgroups_path);
                absolute = true;
        } else if (strchr(cgroups_path, ':')) {
                json_decref(paths);
                return error_setx(err, EINVAL,
                                  "linux.cgroupsPath: \"%s\" is in the systemd slice:prefix:name form, which needs "
                                  "--systemd-cgroup (not supported yet)",
                                  cgroups_path);
        } else
                rel = xstrdup(cgroups_path);

        r = hierarchies_load(&h, &n, err);
        if (r < 0) {
                json_decref(paths);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *base = hierarchy_dir(&h[i], absolute ? "/" : h[i].own);
                _cleanup_free_ char *dir = NULL;
                r = mkdir_cgroup(&h[i], base, rel, strstr(h[i].name, "cpuset") != NULL);
                if (r < 0) {
                        error_set(err, -r, "creating cgroup %s in %s", rel, base);
                        goto fail;
                }
                dir = xasprintf("%s/%s", base, rel[0] == '/' ? rel + 1 : rel);
                json_object_set_new(paths, h[i].name, json_string(dir));
        }
        hierarchies_free(h, n);
        *ret_paths = paths;
        return 0;
fail:
        hierarchies_free(h, n);
        (void)cgroup_destroy(paths, NULL);
        json_decref(paths);
        return r;
}

int cgroup_join(json_t *paths, pid_t pid, Error **err)
{
        const char *name;
        json_t *v;
        char pidbuf[32];

        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
        json_object_foreach (paths, name, v) {
                _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", json_string_value(v));
                int r = write_file_at(AT_FDCWD, procs, pidbuf);
                if (r < 0)
                        return error_set(err, -r, "moving pid %d into cgroup %s", (int)pid, json_string_value(v));
        }
        return 0;
}

int cgroup_pids(json_t *paths, pid_t **ret, size_t *ret_n, Error **err)
{
        static const char *const prefer[] = { "pids", "", "memory", "freezer", "cpu,cpuacct", "devices" };
        const char *dir = NULL;
        _cleanup_free_ char *text = NULL, *procs = NULL;
        pid_t *pids = NULL;
        size_t n = 0;
        char *save = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(prefer) && !dir; i++) {
                json_t *v = json_object_get(paths, prefer[i]);
                if (json_is_string(v))
                        dir = json_string_value(v);
        }
        if (!dir) {
                const char *k;
                json_t *v;
                json_object_foreach (paths, k, v) {
                        dir = json_string_value(v);
                        break;
                }
        }
        if (!dir)
                return error_setx(err, ENOENT, "the container has no cgroup");
        procs = xasprintf("%s/cgroup.procs", dir);
        r = read_file_at(AT_FDCWD, procs, 64 << 20, &text, NULL);
        if (r < 0)
                return error_set(err, -r, "reading %s", procs);
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                pids = xrealloc(pids, (n + 1) * sizeof(pid_t));
                pids[n++] = (pid_t)atoi(l);
        }
        *ret = pids;
        *ret_n = n;
        return 0;
}

static int rmdir_retry(const char *dir)
{
        long wait_ns = 50 * 1000, total_ns = 0;

        /* The kernel releases a cgroup a moment after its last task is reaped: back off, up to 2 s. */
        for (;;) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY || total_ns > 2000L * 1000 * 1000)
                        return -errno;
                nanosleep(&(struct timespec){ .tv_nsec = wait_ns }, NULL);
                total_ns += wait_ns;
                if (wait_ns < 10 * 1000 * 1000)
                        wait_ns *= 2;
        }
}

void cgroup_prime(void)
{
        Hierarchy *h = NULL;
        size_t n = 0;
        pid_t pid = fork();

        if (pid != 0)
                return; /* the parent goes on at once; a failed fork only loses the head start */
        if (hierarchies_load(&h, &n, NULL) == 0)
                /* Any hierarchy will do: the lock is global.  "0" means the writing process itself. */
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *dir = hierarchy_dir(&h[i], h[i].own);
                        _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
                        if (write_file_at(AT_FDCWD, procs, "0") == 0)
                                break;
                }
        _exit(0);
}

int cgroup_destroy(json_t *paths, Error **err)
{
        const char *name;
        json_t *v;
        int ret = 0;

        if (!paths)
                return 0;
        json_object_foreach (paths, name, v) {
                const char *dir = json_string_value(v);
                int r = rmdir_retry(dir);
                if (r < 0 && ret == 0)
                        ret = error_set(err, -r, "removing cgroup %s", dir);
        }
        return ret;
}

bool cgroup_have_v2(void)
{
        return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ||
               access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0;
}

bool cgroup_have_v1(void)
{
        return access("/sys/fs/cgroup/memory", F_OK) == 0 || access("/sys/fs/cgroup/pids", F_OK) == 0;
}
