/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "syscalls.h"
#include "util.h"

static char *map_text(const OciIdMap *m, size_t n)
{
        char *text = xstrdup("");

        for (size_t i = 0; i < n; i++) {
                char *t = xasprintf("%s%u %u %u\n", text, m[i].container_id, m[i].host_id, m[i].size);
                free(text);
                text = t;
        }
        return text;
}

int idmap_userns_fd(const OciIdMap *uid, size_t n_uid, const OciIdMap *gid, size_t n_gid, int *ret_fd, Error **err)
{
        int pipefd[2];
        pid_t pid;
        int r = 0, fd = -1;
        char path[64];

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_set(err, errno, "pipe");
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return error_set(err, errno, "fork");
        }
        if (pid == 0) {
                char b;
                close(pipefd[1]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                /* Wait until the parent has read our namespace, then go. */
                (void)!read(pipefd[0], &b, 1);
                _exit(0);
        }
        close(pipefd[0]);
        /* Wait for the child to have unshared: poll its ns link until it differs from ours. */
        for (int i = 0; i < 1000; i++) {
                char a[64] = "", b[64] = "";
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                if (readlink(path, a, sizeof(a) - 1) < 0)
                        break;
                (void)!readlink("/proc/self/ns/user", b, sizeof(b) - 1);
                if (!STREQ(a, b))
                        break;
                usleep(200);
        }
        const char *files[] = { "uid_map", "gid_map" };
        const OciIdMap *maps[] = { uid, gid };
        size_t ns[] = { n_uid, n_gid };
        for (int k = 0; k < 2 && r == 0; k++) {
                _cleanup_free_ char *text = map_text(maps[k], ns[k]);
                snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[k]);
                r = write_file_at(AT_FDCWD, path, text);
                if (r < 0)
                        error_set(err, -r, "writing the idmap's %s", files[k]);
        }
        if (r == 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = error_set(err, errno, "opening %s", path);
        }
        close(pipefd[1]);
        (void)waitpid(pid, NULL, 0);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

/* The helper's argv: HELPER PID C H S [C H S]... */
static int run_helper(const char *helper, pid_t pid, const OciIdMap *m, size_t n, const char *field, Error **err)
{
        _cleanup_strv_ char **argv = NULL;
        int status = 0, r;
        char buf[512];

        strv_push(&argv, helper);
        {
                char num[3][16];
                snprintf(num[0], sizeof(num[0]), "%d", (int)pid);
                strv_push(&argv, num[0]);
                for (size_t i = 0; i < n; i++) {
                        snprintf(num[0], sizeof(num[0]), "%u", m[i].container_id);
                        snprintf(num[1], sizeof(num[1]), "%u", m[i].host_id);
                        snprintf(num[2], sizeof(num[2]), "%u", m[i].size);
                        strv_push(&argv, num[0]);
                        strv_push(&argv, num[1]);
                        strv_push(&argv, num[2]);
                }
        }
        r = spawn_wait_msg(argv, NULL, -1, true, buf, sizeof(buf), &status);
        if (r < 0)
                return error_set(err, -r, "running %s", helper);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return error_setx(err, ENOENT, "linux.%s: %s (install the uidmap package)", field, *buf ? buf : helper);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return error_setx(err, EPERM, "linux.%s: %s refused the mapping: %s", field, helper,
                                  *buf ? buf : "no message");
        return 0;
}

int idmap_write_maps(pid_t pid, const OciIdMap *uid, size_t n_uid, const OciIdMap *gid, size_t n_gid, Error **err)
{
        const char *files[] = { "gid_map", "uid_map" }, *fields[] = { "gidMappings", "uidMappings" };
        const char *helpers[] = { "newgidmap", "newuidmap" };
        const OciIdMap *maps[] = { gid, uid };
        size_t ns[] = { n_gid, n_uid };
        unsigned own[] = { (unsigned)getegid(), (unsigned)geteuid() };
        bool root = geteuid() == 0;
        int r;

        for (int k = 0; k < 2; k++) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, files[k]);
                bool self_only = ns[k] == 1 && maps[k][0].size == 1 && maps[k][0].host_id == own[k];
                if (!root) {
                        /* the helpers map our own id too, and they can write to a non-dumpable child */
                        r = run_helper(helpers[k], pid, maps[k], ns[k], fields[k], err);
                        if (r >= 0)
                                continue;
                        if (r != -ENOENT || !self_only)
                                return r;
                        error_clear(err);
                }
                if (!root && k == 0) {
                        /* an unprivileged writer of gid_map must give up setgroups(2) first */
                        _cleanup_free_ char *sg = xasprintf("/proc/%d/setgroups", (int)pid);
                        r = write_file_at(AT_FDCWD, sg, "deny");
                        if (r < 0)
                                return error_set(err, -r, "linux.gidMappings: writing deny to %s", sg);
                }
                _cleanup_free_ char *text = map_text(maps[k], ns[k]);
                r = write_file_at(AT_FDCWD, path, text);
                if (r < 0)
                        return error_set(err, -r, "linux.%s: writing %s", fields[k], path);
        }
        return 0;
}

int idmap_bind(const char *source, const char *target, int userns_fd, bool recursive, Error **err)
{
        _cleanup_close_ int tree = -EBADF;
        struct st_mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };

        tree = sys_open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (tree < 0)
                return error_set(err, errno, "cloning the mount at %s", source);
        if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a) < 0)
                return error_set(err, errno, "idmapping %s (does its filesystem support idmapped mounts?)", source);
        if (sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return error_set(err, errno, "attaching the idmapped %s at %s", source, target);
        return 0;
}
