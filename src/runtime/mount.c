/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap.h"
#include "mount.h"
#include "syscalls.h"
#include "util.h"

#define FD_PATH_MAX 64

static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} mount_flag_table[] = {
        { "ro", false, MS_RDONLY },          { "rw", true, MS_RDONLY },
        { "nosuid", false, MS_NOSUID },      { "suid", true, MS_NOSUID },
        { "nodev", false, MS_NODEV },        { "dev", true, MS_NODEV },
        { "noexec", false, MS_NOEXEC },      { "exec", true, MS_NOEXEC },
        { "sync", false, MS_SYNCHRONOUS },   { "async", true, MS_SYNCHRONOUS },
        { "dirsync", false, MS_DIRSYNC },    { "remount", false, MS_REMOUNT },
        { "mand", false, MS_MANDLOCK },      { "nomand", true, MS_MANDLOCK },
        { "atime", true, MS_NOATIME },       { "noatime", false, MS_NOATIME },
        { "diratime", true, MS_NODIRATIME }, { "nodiratime", false, MS_NODIRATIME },
        { "relatime", false, MS_RELATIME },  { "norelatime", true, MS_RELATIME },
        { "strictatime", false, MS_STRICTATIME }, { "nostrictatime", true, MS_STRICTATIME },
        { "bind", false, MS_BIND },          { "rbind", false, MS_BIND | MS_REC },
        { "silent", false, MS_SILENT },      { "loud", true, MS_SILENT },
        { "iversion", false, MS_I_VERSION }, { "noiversion", true, MS_I_VERSION },
        { "lazytime", false, MS_LAZYTIME },  { "nolazytime", true, MS_LAZYTIME },
};

static const struct {
        const char *name;
        unsigned long flag;
} propagation_table[] = {
        { "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
        { "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
        { "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
        { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Recursive mount attributes (runtime-spec 1.1, mount_setattr(2) with AT_RECURSIVE). */
static const struct {
        const char *name;
        bool clear;
        unsigned long long attr;
} rattr_table[] = {
        { "rro", false, MOUNT_ATTR_RDONLY },          { "rrw", true, MOUNT_ATTR_RDONLY },
        { "rnosuid", false, MOUNT_ATTR_NOSUID },      { "rsuid", true, MOUNT_ATTR_NOSUID },
        { "rnodev", false, MOUNT_ATTR_NODEV },        { "rdev", true, MOUNT_ATTR_NODEV },
        { "rnoexec", false, MOUNT_ATTR_NOEXEC },      { "rexec", true, MOUNT_ATTR_NOEXEC },
        { "rnodiratime", false, MOUNT_ATTR_NODIRATIME }, { "rdiratime", true, MOUNT_ATTR_NODIRATIME },
        { "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW }, { "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
        { "rnoatime", false, MOUNT_ATTR_NOATIME },    { "rstrictatime", false, MOUNT_ATTR_STRICTATIME },
        { "rrelatime", false, MOUNT_ATTR_RELATIME },
};

int mount_opts_parse(char *const *options, MountOpts *ret, Error **err)
{
        MountOpts o = { 0 };

        for (size_t i = 0; options && options[i]; i++) {
                const char *opt = options[i];
                bool done = false;

                for (size_t k = 0; k < ELEMENTSOF(mount_flag_table) && !done; k++)
                        if (STREQ(opt, mount_flag_table[k].name)) {
                                if (mount_flag_table[k].clear) {
                                        o.flags &= ~mount_flag_table[k].flag;
                                        o.clear |= mount_flag_table[k].flag;
                                } else {
                                        o.flags |= mount_flag_table[k].flag;
                                        o.clear &= ~mount_flag_table[k].flag;
                                }
                                done = true;
                        }
                for (size_t k = 0; k < ELEMENTSOF(propagation_table) && !done; k++)
                        if (STREQ(opt, propagation_table[k].name)) {
                                o.propagation = propagation_table[k].flag;
                                done = true;
                        }
                for (size_t k = 0; k < ELEMENTSOF(rattr_table) && !done; k++)
                        if (STREQ(opt, rattr_table[k].name)) {
                                unsigned long long a = rattr_table[k].attr;
                                if (a == MOUNT_ATTR_NOATIME || a == MOUNT_ATTR_STRICTATIME || a == MOUNT_ATTR_RELATIME) {
                                        o.rattr_clr |= MOUNT_ATTR__ATIME;
                                        o.rattr_set = (o.rattr_set & ~MOUNT_ATTR__ATIME) | a;
                                } else if (rattr_table[k].clear) {
                                        o.rattr_clr |= a;
                                        o.rattr_set &= ~a;
                                } else {
                                        o.rattr_set |= a;
                                        o.rattr_clr &= ~a;
                                }
                                done = true;
                        }
                if (done)
                        continue;
                if (STREQ(opt, "idmap")) {
                        o.idmap = true;
                        continue;
                }
                if (STREQ(opt, "ridmap")) {
                        o.idmap = o.ridmap = true;
                        continue;
                }
                if (STREQ(opt, "tmpcopyup")) {
                        o.tmpcopyup = true;
                        continue;
                }
                if (strchr(opt, ',')) {
                        free(o.data);
                        return error_setx(err, EINVAL, "option \"%s\" contains a comma", opt);
                }
                if (o.data) {
                        char *d = xasprintf("%s,%s", o.data, opt);
                        free(o.data);
                        o.data = d;
                } else
                        o.data = xstrdup(opt);
        }
        *ret = o;
        return 0;
}

void mount_opts_done(MountOpts *o)
{
        free(o->data);
        o->data = NULL;
}

static void fd_path(char buf[FD_PATH_MAX], int fd)
{
        snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

int open_in_root(int rootfd, const char *path, bool create, bool dir, int *ret_fd, Error **err)
{
        const uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        _cleanup_free_ char *p = xstrdup(path);
        _cleanup_close_ int parent = -EBADF;
        char *slash;
        int fd;

        fd = sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, 0, resolve);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (errno != ENOENT || !create)
                return error_set(err, errno, "resolving %s in the rootfs", path);

        /* Create what is missing, one level at a time, each level opened inside the root. */
        while (strlen(p) > 1 && p[strlen(p) - 1] == '/')
                p[strlen(p) - 1] = '\0';
        slash = strrchr(p, '/');
        if (!slash || !slash[1])
                return error_setx(err, EINVAL, "cannot create \"%s\" in the rootfs", path);
        *slash = '\0';
        {
                int r = open_in_root(rootfd, *p ? p : "/", true, true, &parent, err);
                if (r < 0)
                        return r;
        }
        const char *base = slash + 1;
        if (STREQ(base, "..") || STREQ(base, "."))
                return error_setx(err, EINVAL, "cannot create \"%s\" in the rootfs", path);
        if (dir) {
                if (mkdirat(parent, base, 0755) < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating directory %s in the rootfs", path);
        } else {
                int f = openat(parent, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating file %s in the rootfs", path);
                if (f >= 0)
                        close(f);
        }
        /* Reopen through the root: a symlink planted meanwhile still cannot lead outside. */
        fd = sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, 0, resolve);
        if (fd < 0)
                return error_set(err, errno, "resolving %s in the rootfs after creating it", path);
        *ret_fd = fd;
        return 0;
}

static int set_propagation(int rootfd, const char *dest, unsigned long prop, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        char p[FD_PATH_MAX];
        int r;

        if (!prop)
                return 0;
        r = open_in_root(rootfd, dest, false, false, &fd, err);
        if (r < 0)
                return r;
        fd_path(p, fd);
        if (mount(NULL, p, NULL, prop, NULL) < 0)
                return error_set(err, errno, "setting the propagation of %s", dest);
        return 0;
}

static int set_rattrs(int rootfd, const char *dest, const MountOpts *o, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct st_mount_attr a = { .attr_set = o->rattr_set, .attr_clr = o->rattr_clr };
        int r;

        if (!o->rattr_set && !o->rattr_clr)
                return 0;
        r = open_in_root(rootfd, dest, false, false, &fd, err);
        if (r < 0)
                return r;
        if (sys_mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0)
                return error_set(err, errno, "setting recursive mount attributes on %s", dest);
        return 0;
}

static unsigned long long flags_to_attr(unsigned long flags)
{
        unsigned long long a = 0;
        if (flags & MS_RDONLY)
                a |= MOUNT_ATTR_RDONLY;
        if (flags & MS_NOSUID)
                a |= MOUNT_ATTR_NOSUID;
        if (flags & MS_NODEV)
                a |= MOUNT_ATTR_NODEV;
        if (flags & MS_NOEXEC)
                a |= MOUNT_ATTR_NOEXEC;
        if (flags & MS_NODIRATIME)
                a |= MOUNT_ATTR_NODIRATIME;
        return a;
}

static unsigned long long atime_attr(unsigned long flags, bool *set)
{
        *set = true;
        if (flags & MS_NOATIME)
                return MOUNT_ATTR_NOATIME;
        if (flags & MS_STRICTATIME)
                return MOUNT_ATTR_STRICTATIME;
        if (flags & MS_RELATIME)
                return MOUNT_ATTR_RELATIME;
        *set = false;
        return 0;
}

/* Applies ro/nosuid/... of a bind mount to the (top of the) detached tree. */
static int tree_set_attrs(int tree, const MountOpts *o, Error **err)
{
        struct st_mount_attr a = { 0 };
        bool atime;

        a.attr_set = flags_to_attr(o->flags);
        a.attr_clr = flags_to_attr(o->clear);
        unsigned long long at = atime_attr(o->flags, &atime);
        if (atime) {
                a.attr_clr |= MOUNT_ATTR__ATIME;
                a.attr_set |= at;
        }
        if (!a.attr_set && !a.attr_clr)
                return 0;
        if (sys_mount_setattr(tree, "", AT_EMPTY_PATH, &a) < 0)
                return error_set(err, errno, "setting mount attributes");
        return 0;
}

static int bind_mount(RootfsCtx *c, size_t idx, const OciMount *m, const MountOpts *o, Error **err)
{
        _cleanup_close_ int tree = -EBADF, dest = -EBADF;
        struct stat st;
        int r;

        if (!m->source)
                return error_setx(err, EINVAL, "a bind mount needs a source");
        if (c->idmap_fds && c->idmap_fds[idx] >= 0) {
                tree = fcntl(c->idmap_fds[idx], F_DUPFD_CLOEXEC, 3);
                if (tree < 0)
                        return error_set(err, errno, "dup");
        } else {
                tree = sys_open_tree(AT_FDCWD, m->source,
                                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((o->flags & MS_REC) ? AT_RECURSIVE : 0));
                if (tree < 0)
                        return error_set(err, errno, "opening bind source %s", m->source);
        }
        if (fstat(tree, &st) < 0)
                return error_set(err, errno, "stat of bind source %s", m->source);
        r = open_in_root(c->rootfd, m->destination, true, S_ISDIR(st.st_mode), &dest, err);
        if (r < 0)
                return r;
        r = tree_set_attrs(tree, o, err);
        if (r < 0)
                return r;
        if (sys_move_mount(tree, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return error_set(err, errno, "bind mounting %s", m->source);
        return 0;
}

/*
 * The container's own cgroup directories, bound read-only (unless "rw") below dest: one directory
 * per hierarchy on v1 and hybrid hosts (cpu,cpuacct also reachable as cpu and cpuacct), the one
 * cgroup2 directory on pure v2 hosts.  Binding the directories the runtime created, rather than
 * mounting cgroup filesystems from inside a cgroup namespace, lets this happen before the init has
 * joined its cgroups; with a cgroup namespace the view is the same.
 */
static int bind_cgroup_dir(int dirfd, const char *sub, const char *src, unsigned long flags, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        char p[FD_PATH_MAX];

        fd = openat(dirfd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "opening %s", sub);
        fd_path(p, fd);
        if (mount(src, p, NULL, MS_BIND | MS_REC, NULL) < 0)
                return error_set(err, errno, "binding %s", src);
        close(TAKE_FD(fd));
        /* Reopen: the old fd names the directory beneath the new mount. */
        fd = openat(dirfd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "reopening %s", sub);
        fd_path(p, fd);
        if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
                return error_set(err, errno, "remounting %s", src);
        return 0;
}

static int mount_cgroup(RootfsCtx *c, const char *dest, const MountOpts *o, Error **err)
{
        unsigned long flags = (o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        json_t *v2 = json_object_get(c->cgroup_paths, ""), *v;
        _cleanup_close_ int destfd = -EBADF, dirfd = -EBADF;
        const char *name;
        char p[FD_PATH_MAX];
        int r;

        if (json_object_size(c->cgroup_paths) == 0)
                return error_setx(err, ENOENT, "the container has no cgroup to mount");
        r = open_in_root(c->rootfd, dest, true, true, &destfd, err);
        if (r < 0)
                return r;
        if (json_object_size(c->cgroup_paths) == 1 && json_is_string(v2)) {
                /* Pure cgroup v2: the container's directory is the whole tree. */
                _cleanup_free_ char *parent = NULL, *base = NULL;
                char *slash;
                parent = xstrdup(dest);
                slash = strrchr(parent, '/');
                base = xstrdup(slash + 1);
                *(slash == parent ? slash + 1 : slash) = '\0';
                r = open_in_root(c->rootfd, parent, false, true, &dirfd, err);
                if (r < 0)
                        return r;
                return bind_cgroup_dir(dirfd, base, json_string_value(v2), flags, err);
        }
        fd_path(p, destfd);
        if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
                return error_set(err, errno, "mounting the tmpfs for cgroups");
        close(TAKE_FD(destfd));
        r = open_in_root(c->rootfd, dest, false, true, &destfd, err);
        if (r < 0)
                return r;
        fd_path(p, destfd);
        json_object_foreach (c->cgroup_paths, name, v) {
                const char *dir = json_string_value(v);
                _cleanup_free_ char *sub = NULL;
                /* The directory name the host uses: /sys/fs/cgroup/<sub>/... */
                if (str_has_prefix(dir, "/sys/fs/cgroup/"))
                        sub = xstrndup(dir + 15, strcspn(dir + 15, "/"));
                else
                        sub = xstrdup(!*name ? "unified" : str_has_prefix(name, "name=") ? name + 5 : name);
                if (!*sub || STREQ(sub, ".") || STREQ(sub, ".."))
                        continue;
                if (mkdirat(destfd, sub, 0755) < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating %s/%s", dest, sub);
                r = bind_cgroup_dir(destfd, sub, dir, flags, err);
                if (r < 0)
                        return r;
                if (strchr(sub, ',')) {
                        _cleanup_free_ char *names = xstrdup(sub);
                        char *save = NULL;
                        for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save))
                                (void)symlinkat(sub, destfd, n);
                }
        }
        if ((flags & MS_RDONLY) &&
            mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return error_set(err, errno, "making %s read-only", dest);
        return 0;
}

#define COPYUP_MAX_DEPTH 32

static int copy_file_fd(int in, int out)
{
        char buf[65536];
        ssize_t n;

        while ((n = read(in, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (write_all(out, buf, (size_t)n) < 0)
                        return -errno;
        }
        return 0;
}

/*
 * tmpcopyup (runc's option, which podman sets on the tmpfs mounts of a read-only root): what the
 * image has below the destination is copied into the new tmpfs, owners and modes kept. The walk goes
 * by fd with O_NOFOLLOW only: a symlink of the image is copied as a symlink and never followed, so
 * the image cannot make the copy read or write outside the two directories. Fifos and sockets are
 * made anew; device nodes are left out.
 */
static int copy_up(int src, int dst, const char *shown, unsigned depth, Error **err)
{
        DIR *d;
        struct dirent *e;
        int fd, r = 0;

        if (depth > COPYUP_MAX_DEPTH)
                return error_setx(err, ELOOP, "tmpcopyup: %s: more than %d directory levels", shown, COPYUP_MAX_DEPTH);
        fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !(d = fdopendir(fd))) {
                r = error_set(err, errno, "tmpcopyup: reading %s", shown);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        while (r == 0 && (errno = 0, e = readdir(d))) {
                const char *n = e->d_name;
                _cleanup_free_ char *sub = NULL;
                struct stat st;

                if (STREQ(n, ".") || STREQ(n, ".."))
                        continue;
                sub = xasprintf("%s/%s", shown, n);
                if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = error_set(err, errno, "tmpcopyup: %s", sub);
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int s2 = -EBADF, d2 = -EBADF;
                        if (mkdirat(dst, n, 0700) < 0 ||
                            (s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
                            (d2 = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                                r = error_set(err, errno, "tmpcopyup: %s", sub);
                        else
                                r = copy_up(s2, d2, sub, depth + 1, err);
                } else if (S_ISREG(st.st_mode)) {
                        _cleanup_close_ int in = -EBADF, out = -EBADF;
                        struct stat fst;
                        /* O_NONBLOCK and a second look: a fifo swapped in since fstatat must not block us */
                        in = openat(src, n, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                        if (in >= 0 && (fstat(in, &fst) < 0 || !S_ISREG(fst.st_mode))) {
                                close(TAKE_FD(in));
                                errno = EINVAL;
                        }
                        out = in < 0 ? -1 : openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                        if (in < 0 || out < 0)
                                r = error_set(err, errno, "tmpcopyup: %s", sub);
                        else if ((r = copy_file_fd(in, out)) < 0)
                                r = error_set(err, -r, "tmpcopyup: copying %s", sub);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t len = readlinkat(src, n, target, sizeof(target) - 1);
                        if (len < 0)
                                r = error_set(err, errno, "tmpcopyup: %s", sub);
                        else {
                                target[len] = '\0';
                                if (symlinkat(target, dst, n) < 0)
                                        r = error_set(err, errno, "tmpcopyup: %s", sub);
                        }
                } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                        /* not copied: a device node of the image would become one on a tmpfs that may
                         * lack nodev; the container's devices come from linux.devices */
                        continue;
                } else if (mknodat(dst, n, st.st_mode & (S_IFMT | 0600), 0) < 0)
                        r = error_set(err, errno, "tmpcopyup: %s", sub);
                if (r < 0)
                        break;
                /* the owner first: chown clears the set-id bits that chmod then puts back */
                if (fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    (!S_ISLNK(st.st_mode) && fchmodat(dst, n, st.st_mode & 07777, 0) < 0))
                        r = error_set(err, errno, "tmpcopyup: owner and mode of %s", sub);
        }
        if (r == 0 && errno != 0 && !e)
                r = error_set(err, errno, "tmpcopyup: reading %s", shown);
        closedir(d);
        return r;
}

static int other_mount(RootfsCtx *c, const OciMount *m, const MountOpts *o, Error **err)
{
        _cleanup_close_ int dest = -EBADF;
        char p[FD_PATH_MAX];
        const char *type = m->type;
        bool special = STREQ(type, "proc") || STREQ(type, "sysfs");
        int r;

        if (STREQ(type, "cgroup") || STREQ(type, "cgroup2"))
                return mount_cgroup(c, m->destination, o, err);

        if (special) {
                /* proc and sysfs must land exactly where asked, never through a symlink
                 * (CVE-2019-19921, CVE-2023-27561). */
                int fd = sys_openat2(c->rootfd, m->destination, O_PATH | O_CLOEXEC, 0,
                                     RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
                if (fd < 0 && errno == ELOOP)
                        return error_setx(err, ELOOP, "%s must not be a symlink in the rootfs", m->destination);
                if (fd >= 0) {
                        struct stat st;
                        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
                                close(fd);
                                return error_setx(err, ENOTDIR, "%s must be a directory in the rootfs",
                                                  m->destination);
                        }
                        dest = fd;
                }
        }
        if (dest < 0) {
                r = open_in_root(c->rootfd, m->destination, true, true, &dest, err);
                if (r < 0)
                        return r;
        }
        fd_path(p, dest);
        if (o->tmpcopyup) {
                _cleanup_close_ int below = -EBADF, top_path = -EBADF, top = -EBADF;
                if (!STREQ(type, "tmpfs"))
                        return error_setx(err, EINVAL, "option \"tmpcopyup\" is only for tmpfs mounts");
                /* the image's directory, still reachable through this fd once the tmpfs covers it */
                below = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (below < 0)
                        return error_set(err, errno, "tmpcopyup: opening %s", m->destination);
                if (mount(m->source ? m->source : type, p, type, o->flags & ~MS_REC, o->data) < 0)
                        return error_set(err, errno, "mounting tmpfs (options \"%s\")", o->data ? o->data : "");
                r = open_in_root(c->rootfd, m->destination, false, true, &top_path, err);
                if (r < 0)
                        return r;
                top = openat(top_path, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (top < 0)
                        return error_set(err, errno, "tmpcopyup: opening the tmpfs at %s", m->destination);
                return copy_up(below, top, m->destination, 0, err);
        }
        if (mount(m->source ? m->source : type, p, type, o->flags & ~MS_REC, o->data) < 0) {
                int e = errno;
                if (STREQ(type, "sysfs") && c->userns && (e == EPERM || e == EACCES)) {
                        /* sysfs cannot be mounted in a user namespace that does not own the
                         * network namespace: bind the host's, read-only (runc does the same). */
                        if (mount("/sys", p, NULL, MS_BIND | MS_REC, NULL) == 0) {
                                close(TAKE_FD(dest));
                                r = open_in_root(c->rootfd, m->destination, false, true, &dest, err);
                                if (r < 0)
                                        return r;
                                fd_path(p, dest);
                                if (mount(NULL, p, NULL,
                                          MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                          NULL) < 0)
                                        return error_set(err, errno, "making the bound /sys read-only");
                                return 0;
                        }
                }
                if (STREQ(type, "mqueue") && c->userns && (e == EPERM || e == EACCES)) {
                        if (mount("/dev/mqueue", p, NULL, MS_BIND | MS_REC, NULL) == 0)
                                return 0;
                }
                return error_set(err, e, "mounting %s (type %s, options \"%s\")",
                                 m->source ? m->source : type, type, o->data ? o->data : "");
        }
        return 0;
}

static const struct {
        const char *path;
        unsigned major, minor;
} default_devices[] = {
        { "/dev/null", 1, 3 },    { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
        { "/dev/random", 1, 8 },  { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
};

/* Creates a device node (or, in a user namespace, binds the host's one over an empty file). */
static int make_device(RootfsCtx *c, const char *path, char type, unsigned major, unsigned minor, mode_t mode,
                       bool chown_it, uid_t uid, gid_t gid, Error **err)
{
        _cleanup_free_ char *dir = xstrdup(path), *base = xstrdup(path);
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        const char *b = basename(base);
        mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
        int r;

        r = open_in_root(c->rootfd, dirname(dir), true, true, &dirfd, err);
        if (r < 0)
                return r;
        /* O_PATH fds of a directory cannot be used for mknodat: reopen it. */
        {
                char p[FD_PATH_MAX];
                int d;
                fd_path(p, dirfd);
                d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (d < 0)
                        return error_set(err, errno, "opening %s", dir);
                close(dirfd);
                dirfd = d;
        }
        (void)unlinkat(dirfd, b, 0);
        if (!c->userns && mknodat(dirfd, b, kind | (mode & 07777), makedev(major, minor)) == 0) {
                if (fchmodat(dirfd, b, mode & 07777, 0) < 0) /* umask must not narrow it */
                        return error_set(err, errno, "chmod of %s", path);
                if (chown_it && fchownat(dirfd, b, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return error_set(err, errno, "chown of %s", path);
                return 0;
        }
        if (!c->userns && errno != EPERM)
                return error_set(err, errno, "creating device %s", path);
        /* A user namespace cannot mknod: bind the host's device node instead. */
        fd = openat(dirfd, b, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set(err, errno, "creating %s", path);
        {
                char p[FD_PATH_MAX];
                fd_path(p, fd);
                if (mount(path, p, NULL, MS_BIND, NULL) < 0)
                        return error_set(err, errno, "binding host device %s", path);
        }
        return 0;
}

static int setup_devices(RootfsCtx *c, bool dev_is_ours, Error **err)
{
        const OciSpec *s = c->spec;
        int r;

        if (dev_is_ours) {
                static const char *const links[][2] = {
                        { "/proc/self/fd", "/dev/fd" },     { "/proc/self/fd/0", "/dev/stdin" },
                        { "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
                        { "pts/ptmx", "/dev/ptmx" },
                };
                _cleanup_close_ int devfd = -EBADF;
                char p[FD_PATH_MAX];

                for (size_t i = 0; i < ELEMENTSOF(default_devices); i++) {
                        r = make_device(c, default_devices[i].path, 'c', default_devices[i].major,
                                        default_devices[i].minor, 0666, false, 0, 0, err);
                        if (r < 0)
                                return r;
                }
                r = open_in_root(c->rootfd, "/dev", false, true, &devfd, err);
                if (r < 0)
                        return r;
                fd_path(p, devfd);
                int d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (d < 0)
                        return error_set(err, errno, "opening /dev in the rootfs");
                for (size_t i = 0; i < ELEMENTSOF(links); i++)
                        if (symlinkat(links[i][0], d, links[i][1] + 5) < 0 && errno != EEXIST) {
                                int e = errno;
                                close(d);
                                return error_set(err, e, "creating symlink %s", links[i][1]);
                        }
                if (access("/proc/kcore", F_OK) == 0)
                        (void)symlinkat("/proc/kcore", d, "core");
                close(d);
        }
        for (size_t i = 0; i < s->n_devices; i++) {
                const OciDevice *d = &s->devices[i];
                r = make_device(c, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
                                d->has_mode ? d->mode : 0666, d->has_uid || d->has_gid, d->has_uid ? d->uid : 0,
                                d->has_gid ? d->gid : 0, err);
                if (r < 0)
                        return error_wrap(err, "linux.devices[%zu]", i);
        }
        return 0;
}

static int do_mounts(RootfsCtx *c, Error **err)
{
        const OciSpec *s = c->spec;
        bool dev_is_ours = false;
        int r;

        for (size_t i = 0; i < s->n_mounts; i++) {
                const OciMount *m = &s->mounts[i];
                MountOpts o;

                r = mount_opts_parse(m->options, &o, err);
                if (r < 0)
                        return error_wrap(err, "mounts[%zu] (%s)", i, m->destination);
                bool bind = (o.flags & MS_BIND) || (m->type && STREQ(m->type, "bind"));
                if (!bind && !m->type) {
                        mount_opts_done(&o);
                        return error_setx(err, EINVAL, "mounts[%zu] (%s): no type and not a bind mount", i,
                                          m->destination);
                }
                if ((m->n_uid_mappings || o.idmap) && !bind) {
                        mount_opts_done(&o);
                        return error_setx(err, EINVAL, "mounts[%zu] (%s): idmapped mounts must be bind mounts",
                                          i, m->destination);
                }
                if (bind)
                        r = bind_mount(c, i, m, &o, err);
                else
                        r = other_mount(c, m, &o, err);
                if (r == 0)
                        r = set_rattrs(c->rootfd, m->destination, &o, err);
                if (r == 0)
                        r = set_propagation(c->rootfd, m->destination, o.propagation, err);
                mount_opts_done(&o);
                if (r < 0)
                        return error_wrap(err, "mounts[%zu] (%s)", i, m->destination);
                if (STREQ(m->destination, "/dev") && !bind)
                        dev_is_ours = true;
        }
        return setup_devices(c, dev_is_ours, err);
}

int rootfs_prepare(RootfsCtx *c, Error **err)
{
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return error_set(err, errno, "making / a recursive slave");
        /* pivot_root needs the new root to be a mount point whose parent is not shared. */
        if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return error_set(err, errno, "binding the rootfs %s onto itself", c->rootfs);
        if (mount(NULL, c->rootfs, NULL, MS_PRIVATE, NULL) < 0)
                return error_set(err, errno, "making the rootfs private");
        c->rootfd = open(c->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->rootfd < 0)
                return error_set(err, errno, "opening the rootfs %s", c->rootfs);
        return do_mounts(c, err);
}

static int write_sysctls(RootfsCtx *c, Error **err)
{
        const OciSpec *s = c->spec;
        _cleanup_close_ int procfd = -EBADF;
        struct statfs sfs;

        if (s->n_sysctls == 0)
                return 0;
        procfd = sys_openat2(c->rootfd, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (procfd < 0 || fstatfs(procfd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                return error_setx(err, ENOENT, "linux.sysctl: needs procfs mounted at /proc in the container");
        for (size_t i = 0; i < s->n_sysctls; i++) {
                _cleanup_free_ char *rel = xasprintf("sys/%s", s->sysctls[i].key);
                _cleanup_close_ int fd = -EBADF;
                if (!strchr(s->sysctls[i].key, '/'))
                        for (char *q = rel + 4; *q; q++)
                                if (*q == '.')
                                        *q = '/';
                /* Only through an fd proven to be on procfs (CVE-2023-27561). */
                fd = sys_openat2(procfd, rel, O_WRONLY | O_CLOEXEC | O_NOCTTY, 0,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
                if (fd < 0)
                        return error_set(err, errno, "linux.sysctl: %s", s->sysctls[i].key);
                if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                        return error_setx(err, EXDEV, "linux.sysctl: %s is not on procfs", s->sysctls[i].key);
                int r = write_all(fd, s->sysctls[i].value, strlen(s->sysctls[i].value));
                if (r < 0)
                        return error_set(err, -r, "linux.sysctl: writing \"%s\" to %s", s->sysctls[i].value,
                                         s->sysctls[i].key);
        }
        return 0;
}

static int mask_path(RootfsCtx *c, const char *path, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        char p[FD_PATH_MAX], src[FD_PATH_MAX];
        struct stat st;

        fd = sys_openat2(c->rootfd, path, O_PATH | O_CLOEXEC | O_NOFOLLOW, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return error_set(err, errno, "linux.maskedPaths: %s", path);
        }
        if (fstat(fd, &st) < 0)
                return error_set(err, errno, "linux.maskedPaths: stat of %s", path);
        fd_path(p, fd);
        if (S_ISDIR(st.st_mode)) {
                if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555") < 0)
                        return error_set(err, errno, "linux.maskedPaths: masking directory %s", path);
                return 0;
        }
        if (S_ISLNK(st.st_mode))
                return 0; /* a symlink is no file to hide; masking its target could hit anything */
        /* The mask is the host's /dev/null, checked by fd before use (CVE-2025-31133). */
        fd_path(src, c->devnull_fd);
        if (mount(src, p, NULL, MS_BIND, NULL) < 0)
                return error_set(err, errno, "linux.maskedPaths: masking %s", path);
        return 0;
}

static int readonly_path(RootfsCtx *c, const char *path, Error **err)
{
        _cleanup_close_ int fd = -EBADF, tree = -EBADF;
        struct st_mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                               MOUNT_ATTR_NOEXEC };

        fd = sys_openat2(c->rootfd, path, O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return error_set(err, errno, "linux.readonlyPaths: %s", path);
        }
        tree = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return error_set(err, errno, "linux.readonlyPaths: cloning %s", path);
        if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0)
                return error_set(err, errno, "linux.readonlyPaths: making %s read-only", path);
        if (sys_move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return error_set(err, errno, "linux.readonlyPaths: mounting %s", path);
        return 0;
}

int rootfs_protect(RootfsCtx *c, Error **err)
{
        const OciSpec *s = c->spec;
        int r;

        r = write_sysctls(c, err);
        if (r < 0)
                return r;
        for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++) {
                r = mask_path(c, s->masked_paths[i], err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++) {
                r = readonly_path(c, s->readonly_paths[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int rootfs_pivot(RootfsCtx *c, bool no_pivot, Error **err)
{
        if (fchdir(c->rootfd) < 0)
                return error_set(err, errno, "chdir to the rootfs");
        if (no_pivot) {
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                        return error_set(err, errno, "moving the rootfs to /");
                if (chroot(".") < 0)
                        return error_set(err, errno, "chroot to the rootfs");
        } else {
                _cleanup_close_ int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (oldroot < 0)
                        return error_set(err, errno, "opening the old root");
                if (sys_pivot_root(".", ".") < 0)
                        return error_set(err, errno, "pivot_root");
                /* The old root is now stacked on the new one.  Reach it through its own fd: "." alone
                 * would name the new root, and a recursive slave there would strip the container's
                 * own mounts of their shared propagation.  Then detach it without telling the host. */
                if (fchdir(oldroot) < 0)
                        return error_set(err, errno, "chdir to the old root");
                if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                        return error_set(err, errno, "making the old root a slave");
                if (umount2(".", MNT_DETACH) < 0)
                        return error_set(err, errno, "detaching the old root");
        }
        if (chdir("/") < 0)
                return error_set(err, errno, "chdir to the new root");
        return 0;
}

int rootfs_finalize(RootfsCtx *c, Error **err)
{
        const OciSpec *s = c->spec;

        if (s->root_readonly) {
                struct statvfs sv;
                unsigned long keep = 0;
                if (statvfs("/", &sv) == 0) {
                        /* A user namespace may not drop locked flags: keep what is set. */
                        keep |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
                        keep |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
                        keep |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
                        keep |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
                        keep |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
                }
                if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
                        return error_set(err, errno, "root.readonly: remounting / read-only");
        }
        if (s->rootfs_propagation) {
                for (size_t i = 0; i < ELEMENTSOF(propagation_table); i++)
                        if (STREQ(s->rootfs_propagation, propagation_table[i].name) &&
                            mount(NULL, "/", NULL, propagation_table[i].flag, NULL) < 0)
                                return error_set(err, errno, "linux.rootfsPropagation: setting %s on /",
                                                 s->rootfs_propagation);
        }
        return 0;
}

/* A user namespace holding only `m`'s mapping, for MOUNT_ATTR_IDMAP. */
static int idmap_userns(const OciMount *m, int *ret_fd, Error **err)
{
        return idmap_userns_fd(m->uid_mappings, m->n_uid_mappings, m->gid_mappings, m->n_gid_mappings, ret_fd, err);
}

int idmap_prepare_mount(const OciMount *m, const MountOpts *o, int *ret_fd, Error **err)
{
        _cleanup_close_ int userns = -EBADF, tree = -EBADF;
        struct st_mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP };
        int r;

        if (!m->source)
                return error_setx(err, EINVAL, "an idmapped mount needs a source");
        if (!m->n_uid_mappings)
                return error_setx(err, EINVAL, "option idmap needs uidMappings and gidMappings on the mount");
        r = idmap_userns(m, &userns, err);
        if (r < 0)
                return r;
        tree = sys_open_tree(AT_FDCWD, m->source,
                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((o->flags & MS_REC) ? AT_RECURSIVE : 0));
        if (tree < 0)
                return error_set(err, errno, "opening bind source %s", m->source);
        a.userns_fd = (uint64_t)userns;
        if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | ((o->ridmap || (o->flags & MS_REC)) ? AT_RECURSIVE : 0), &a) < 0)
                return error_set(err, errno, "idmapping %s (does its filesystem support idmapped mounts?)",
                                 m->source);
        *ret_fd = TAKE_FD(tree);
        return 0;
}
