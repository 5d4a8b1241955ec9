/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "caps.h"
#include "process.h"
#include "syscalls.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int process_setup_rlimits(const OciProcess *p, Error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                const OciRlimit *l = &p->rlimits[i];
                struct rlimit cur, want = { .rlim_cur = l->soft, .rlim_max = l->hard };

                if (setrlimit(l->resource, &want) == 0)
                        continue;
                int e = errno;
                if (e == EPERM && getrlimit(l->resource, &cur) == 0 && want.rlim_max > cur.rlim_max)
                        return error_set(err, e,
                                         "process.rlimits[%zu]: setting %s to soft %llu hard %llu: the hard limit "
                                         "is above the current %llu, and raising it needs CAP_SYS_RESOURCE",
                                         i, l->type, (unsigned long long)l->soft, (unsigned long long)l->hard,
                                         (unsigned long long)cur.rlim_max);
                return error_set(err, e, "process.rlimits[%zu]: setting %s to soft %llu hard %llu", i, l->type,
                                 (unsigned long long)l->soft, (unsigned long long)l->hard);
        }
        return 0;
}

int process_setup_identity(const OciProcess *p, bool in_userns, Error **err)
{
        const OciUser *u = &p->user;
        int r;

        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_set(err, errno, "process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS)");
        r = caps_drop_bounding(&p->caps, err);
        if (r < 0)
                return error_wrap(err, "process.capabilities.bounding");
        /* Keep permitted across the uid change; capset below sets the final sets. */
        if (p->caps.present && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
        if (setgroups(u->n_additional_gids, (const gid_t *)u->additional_gids) < 0) {
                /* With setgroups denied in a user namespace only an empty list is acceptable. */
                if (!(errno == EPERM && in_userns && u->n_additional_gids == 0))
                        return error_set(err, errno, "process.user.additionalGids: setgroups");
        }
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return error_set(err, errno, "process.user.gid: setting gid %u%s", u->gid,
                                 errno == EINVAL ? " (not mapped in the user namespace)" : "");
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return error_set(err, errno, "process.user.uid: setting uid %u%s", u->uid,
                                 errno == EINVAL ? " (not mapped in the user namespace)" : "");
        if (p->caps.present && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return error_set(err, errno, "prctl(PR_SET_KEEPCAPS, 0)");
        r = caps_apply_final(&p->caps, err);
        if (r < 0)
                return error_wrap(err, "process.capabilities");
        if (u->has_umask)
                umask((mode_t)u->umask);
        else
                umask(0022);
        return 0;
}

/* A cpu list ("0-2,5") into a set; -EINVAL on junk or a cpu beyond CPU_SETSIZE. */
static int parse_cpu_list(const char *s, cpu_set_t *set)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char *save = NULL;

        CPU_ZERO(set);
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *dash = strchr(t, '-');
                uint64_t a, b;
                if (dash)
                        *dash = '\0';
                if (parse_uint64(t, &a) < 0 || (dash && parse_uint64(dash + 1, &b) < 0))
                        return -EINVAL;
                if (!dash)
                        b = a;
                if (a > b || b >= CPU_SETSIZE)
                        return -EINVAL;
                for (uint64_t c = a; c <= b; c++)
                        CPU_SET((int)c, set);
        }
        return 0;
}

int process_setup_sched(const OciProcess *p, Error **err)
{
        if (p->has_io_priority &&
            syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (p->io_class << 13) | p->io_level) < 0)
                return error_set(err, errno, "process.ioPriority: ioprio_set");
        if (p->has_scheduler) {
                struct {
                        uint32_t size, policy;
                        uint64_t flags;
                        int32_t nice;
                        uint32_t priority;
                        uint64_t runtime, deadline, period;
                } attr = { .size = 48, .policy = p->sched_policy, .flags = p->sched_flags, .nice = p->sched_nice,
                           .priority = p->sched_priority, .runtime = p->sched_runtime,
                           .deadline = p->sched_deadline, .period = p->sched_period };
                if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
                        return error_set(err, errno, "process.scheduler: sched_setattr");
        }
        if (p->cpu_affinity_final) {
                cpu_set_t set;
                if (parse_cpu_list(p->cpu_affinity_final, &set) < 0)
                        return error_setx(err, EINVAL, "process.execCPUAffinity.final: \"%s\" is not a cpu list",
                                          p->cpu_affinity_final);
                if (sched_setaffinity(0, sizeof(set), &set) < 0)
                        return error_set(err, errno, "process.execCPUAffinity.final: sched_setaffinity(%s)",
                                         p->cpu_affinity_final);
        }
        return 0;
}

/*
 * Is the working directory below our root?  Walks ".." up from "." until it meets "/" (reachable) or a
 * directory that is its own parent without being "/" (the root of some other tree: unreachable).
 * 1 reachable, 0 not, negative errno when it cannot tell.
 */
static int cwd_below_root(void)
{
        struct stat root, cur;
        _cleanup_close_ int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || stat("/", &root) < 0 || fstat(fd, &cur) < 0)
                return -errno;
        for (int depth = 0; depth < 4096; depth++) {
                struct stat up;
                int parent;
                if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino)
                        return 1;
                parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0)
                        return -errno;
                if (fstat(parent, &up) < 0) {
                        int e = errno;
                        close(parent);
                        return -e;
                }
                close(fd);
                fd = parent;
                if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino)
                        return 0;
                cur = up;
        }
        return -ELOOP;
}

int process_setup_cwd(const OciProcess *p, Error **err)
{
        char buf[PATH_MAX];
        int r;

        if (chdir(p->cwd) < 0)
                return error_set(err, errno, "process.cwd: chdir to %s", p->cwd);
        /* A cwd reached through a leaked fd of the host (/proc/self/fd/N) is "unreachable". */
        if (getcwd(buf, sizeof(buf))) {
                if (buf[0] != '/')
                        return error_setx(err, ENOENT, "process.cwd: %s is outside the container's root", p->cwd);
                return 0;
        }
        if (errno == ENOENT)
                return error_set(err, errno, "process.cwd: %s is not reachable from the container's root", p->cwd);
        /* getcwd refused (a seccomp profile may forbid it): walk up by hand instead. */
        r = cwd_below_root();
        if (r == 0)
                return error_setx(err, ENOENT, "process.cwd: %s is outside the container's root", p->cwd);
        if (r < 0)
                return error_set(err, -r, "process.cwd: cannot tell whether %s is inside the container's root "
                                          "(getcwd and the walk up both failed)", p->cwd);
        return 0;
}

static const char *env_get(char **env, const char *name)
{
        size_t n = strlen(name);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

static bool is_executable(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * The container command's errors in runc's (Go's) words where callers look for them: docker run
 * exits 127 on "no such file or directory" or "executable file not found", 126 on "permission denied".
 */
static int exec_error(Error **err, int e, const char *what, const char *file)
{
        if (e == ENOENT)
                return error_setx(err, e, "process.args[0]: %s%s: no such file or directory", what, file);
        if (e == EACCES)
                return error_setx(err, e, "process.args[0]: %s%s: permission denied", what, file);
        return error_set(err, e, "process.args[0]: %s%s", what, file);
}

int process_new_session_keyring(Error **err)
{
        /* ENOSYS: no keyrings in this kernel, or a seccomp filter around the runtime forbids them. */
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
                return error_set(err, errno, "joining a new session keyring (--no-new-keyring keeps the caller's)");
        return 0;
}

int process_find_executable(const OciProcess *p, char **ret, Error **err)
{
        const char *a0 = p->args[0];
        const char *path;

        if (strchr(a0, '/')) {
                if (access(a0, F_OK) < 0)
                        return exec_error(err, errno, "", a0);
                *ret = xstrdup(a0);
                return 0;
        }
        path = env_get(p->env, "PATH");
        if (!path)
                path = DEFAULT_PATH;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = xasprintf("%s/%s", *d ? d : ".", a0);
                if (is_executable(cand)) {
                        *ret = TAKE_PTR(cand);
                        return 0;
                }
        }
        return error_setx(err, ENOENT, "process.args[0]: \"%s\": executable file not found in $PATH (%s)", a0, path);
}

int process_close_fds(int preserve_fds, Error **err)
{
        unsigned first = 3 + (unsigned)(preserve_fds > 0 ? preserve_fds : 0);

        for (unsigned fd = 3; fd < first; fd++) {
                int fl = fcntl((int)fd, F_GETFD);
                if (fl >= 0)
                        (void)fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC);
        }
        /* No host fd may survive into the container (CVE-2024-21626). */
        if (sys_close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return error_set(err, errno, "close_range");
        return 0;
}

int process_exec(const OciProcess *p, const char *exe, Error **err)
{
        execve(exe, p->args, p->env);
        return exec_error(err, errno, "executing ", exe);
}

int process_set_oom_score_adj(pid_t pid, int value, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[32];
        struct statfs sfs;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return error_set(err, errno, "process.oomScoreAdj: opening %s", path);
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                return error_setx(err, EXDEV, "process.oomScoreAdj: %s is not on procfs", path);
        snprintf(buf, sizeof(buf), "%d", value);
        r = write_all(fd, buf, strlen(buf));
        if (r == -EACCES || r == -EPERM)
                return error_set(err, -r,
                                 "process.oomScoreAdj: writing %d to oom_score_adj (lowering it below the "
                                 "runtime's own needs CAP_SYS_RESOURCE)",
                                 value);
        if (r < 0)
                return error_set(err, -r, "process.oomScoreAdj: writing %d to oom_score_adj", value);
        return 0;
}
