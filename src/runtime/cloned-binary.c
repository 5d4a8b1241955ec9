/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cloned-binary.h"
#include "syscalls.h"
#include "util.h"

#define SEALS      (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define SEALED_ENV "_STOCKADE_SEALED_EXE"

extern char **environ;

int is_sealed_binary(void)
{
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        struct statvfs sv;
        int seals;

        if (fd < 0)
                return -errno;
        seals = fcntl(fd, F_GET_SEALS);
        if (seals >= 0 && (seals & SEALS) == SEALS)
                return 1;
        /* A read-only, detached bind mount of the binary: opening it for writing fails with EROFS,
         * and no path leads to it to remount it.  The variable only says we made it; the check is
         * the mount flag itself. */
        return getenv(SEALED_ENV) && fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* Zero-copy: execute through a read-only clone of the mount holding our binary (crun does the same). */
static int exec_readonly_bind(char **argv)
{
        _cleanup_close_ int tree = -EBADF;
        struct st_mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID };

        tree = sys_open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return -errno;
        if (sys_mount_setattr(tree, "", AT_EMPTY_PATH, &a) < 0)
                return -errno;
        if (setenv(SEALED_ENV, "1", 1) < 0)
                return -errno;
        syscall(__NR_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
        (void)unsetenv(SEALED_ENV);
        return -errno;
}

/* Fallback: a sealed memfd copy of the binary. */
static int exec_memfd_copy(char **argv)
{
        _cleanup_close_ int exe = -EBADF, mfd = -EBADF;
        struct stat st;
        off_t off = 0;

        exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (exe < 0 || fstat(exe, &st) < 0)
                return -errno;
        mfd = memfd_create("stockade-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        while (off < st.st_size) {
                ssize_t n = sendfile(mfd, exe, &off, (size_t)(st.st_size - off));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
        }
        if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
                return -errno;
        fexecve(mfd, argv, environ);
        return -errno;
}

int ensure_sealed_binary(char **argv)
{
        int r;

        if (is_sealed_binary() > 0) {
                (void)unsetenv(SEALED_ENV);
                return 0;
        }
        (void)unsetenv(SEALED_ENV);
        r = exec_readonly_bind(argv);
        (void)r;
        return exec_memfd_copy(argv);
}
