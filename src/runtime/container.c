/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "apparmor.h"
#include "cgroup-ops.h"
#include "cgroup-resources.h"
#include "cgroup.h"
#include "container.h"
#include "hooks.h"
#include "idmap.h"
#include "json-util.h"
#include "log.h"
#include "mount.h"
#include "process.h"
#include "seccomp-filter.h"
#include "state.h"
#include "sync.h"
#include "syscalls.h"
#include "terminal.h"
#include "util.h"

/* Everything the two children of `create` need; filled by the runtime before it forks. */
typedef struct InitCtx {
        const OciSpec *spec;
        const char *rootfs;
        int sync;               /* child end of the sync socketpair */
        int exec_listen;        /* listening exec.sock */
        int console;            /* console socket, or -1 */
        int *idmap_fds;
        int close_fds[2];       /* the runtime's state fds: the flock must not live on in the init */
        json_t *cgroup_paths;   /* the container's cgroup directories, borrowed */
        bool no_pivot;
        bool new_keyring;       /* join a new session keyring (not --no-new-keyring) */
        int preserve_fds;
        int seccomp_cache;      /* <root>/.seccomp-cache, or -1 */
} InitCtx;


/* Sets "lo" up in the calling thread's network namespace. */
static void loopback_up(void)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return;
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        log_debug("stage1: bringing lo up: %s", strerror(errno));
        }
        close(fd);
}

static _Noreturn void child_fail(int sync, Error *e)
{
        sync_send_error(sync, e);
        _exit(1);
}

static int sync_expect_value(int sock, SyncType want, char **payload, int *ret_value, Error **err)
{
        SyncMsg m;
        int r = sync_recv(sock, &m, payload, NULL);
        if (r < 0)
                return error_set(err, -r, "waiting for the runtime");
        if (m.type != want)
                return error_setx(err, EPROTO, "unexpected sync message %u (wanted %u)", m.type, want);
        if (ret_value)
                *ret_value = m.value;
        return 0;
}

static int sync_expect(int sock, SyncType want, char **payload, Error **err)
{
        return sync_expect_value(sock, want, payload, NULL, err);
}

/* The "pid" of an OCI state document (0 when absent). */
static long state_json_pid(const char *state_json)
{
        _cleanup_json_ json_t *j = NULL;
        json_int_t pid = 0;
        if (state_json && jx_parse(state_json, strlen(state_json), "state", &j, NULL) == 0)
                pid = json_integer_value(json_object_get(j, "pid"));
        return (long)pid;
}

/* Opens the host's /dev/null and checks it really is the 1:3 character device (CVE-2025-31133). */
static int open_devnull(Error **err)
{
        struct stat st;
        int fd = open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return error_set(err, errno, "opening /dev/null");
        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
                close(fd);
                return error_setx(err, EPERM, "/dev/null is not the null device");
        }
        return fd;
}

/* Joins the namespace of type t given by path in the config. */
static int join_namespace(const OciSpec *s, NsType t, Error **err)
{
        _cleanup_close_ int fd = open(s->ns[t].path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || setns(fd, ns_clone_flags[t]) < 0)
                return error_set(err, errno, "linux.namespaces: joining %s namespace %s", ns_type_names[t],
                                 s->ns[t].path);
        return 0;
}

/* Stage 2: the container's init, pid 1 of its pid namespace. Never returns. */
/* The capabilities Docker-style seccomp rules are conditioned on: the container's bounding set. */
uint64_t seccomp_bounding(const OciProcess *p)
{
        return p && p->caps.present ? p->caps.bounding : 0;
}

static _Noreturn void init_stage2(InitCtx *c)
{
        const OciSpec *s = c->spec;
        const OciProcess *p = s->process;
        _cleanup_free_ char *state_json = NULL, *exe = NULL;
        SeccompFilter *filter = NULL;
        RootfsCtx rc = { .spec = s, .rootfs = c->rootfs, .rootfd = -1, .devnull_fd = -1,
                         .idmap_fds = c->idmap_fds, .terminal = p->terminal };
        Error *e = NULL;
        int conn, aa_fd = -1, notify_sock = -1;
        char go;

        rc.userns = s->ns[NS_USER].enabled;
        rc.cgroup_paths = c->cgroup_paths;

        if (setsid() < 0) {
                error_set(&e, errno, "setsid");
                child_fail(c->sync, e);
        }
        /* Mount everything while the runtime moves us into our cgroups. The host's /dev/null is
         * opened here, not by the runtime: a bind source must be in our own mount namespace. */
        rc.devnull_fd = open_devnull(&e);
        if (rc.devnull_fd < 0 || rootfs_prepare(&rc, &e) < 0)
                child_fail(c->sync, e);
        if (s->seccomp && seccomp_compile_cached(c->seccomp_cache, s->seccomp,
                                                 &(SeccompContext){ .bounding = seccomp_bounding(s->process) }, &filter,
                                                 NULL, &e) < 0)
                child_fail(c->sync, e);
        if (c->seccomp_cache >= 0)
                close(c->seccomp_cache);
        /* A notifying filter's listener is reached through the host's filesystem, before pivot_root. */
        if (seccomp_notify_connect(filter, &notify_sock, &e) < 0)
                child_fail(c->sync, e);
        /* The host's procfs, before pivot_root: the rootfs cannot fake it (CVE-2019-16884). */
        if (apparmor_open_exec_attr(p->apparmor_profile, &aa_fd, &e) < 0)
                child_fail(c->sync, e);
        if (sync_expect(c->sync, SYNC_GO, &state_json, &e) < 0)
                child_fail(c->sync, e);
        log_debug("init: go");
        /* The cgroup namespace is rooted at the cgroup the runtime just put us in. */
        if (s->ns[NS_CGROUP].enabled) {
                if (s->ns[NS_CGROUP].path) {
                        if (join_namespace(s, NS_CGROUP, &e) < 0)
                                child_fail(c->sync, e);
                } else if (unshare(CLONE_NEWCGROUP) < 0) {
                        error_set(&e, errno, "creating the cgroup namespace");
                        child_fail(c->sync, e);
                }
        }
        log_debug("init: rootfs prepared");
        /* prestart and createRuntime hooks run in the runtime's namespaces, while we wait. */
        if (s->n_hooks[HOOK_PRESTART] + s->n_hooks[HOOK_CREATE_RUNTIME] > 0 &&
            (sync_send(c->sync, SYNC_HOOKS_REQ, 0, NULL, 0, -1) < 0 ||
             sync_expect(c->sync, SYNC_HOOKS_DONE, NULL, &e) < 0)) {
                if (!e)
                        error_setx(&e, EPIPE, "lost the runtime");
                child_fail(c->sync, e);
        }
        if (hooks_run(s, HOOK_CREATE_CONTAINER, state_json, &e) < 0)
                child_fail(c->sync, e);
        if (s->has_personality && personality(s->personality) < 0) {
                error_set(&e, errno, "linux.personality: personality(0x%lx)", s->personality);
                child_fail(c->sync, e);
        }
        if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
                error_set(&e, errno, "hostname: sethostname(\"%s\")", s->hostname);
                child_fail(c->sync, e);
        }
        if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
                error_set(&e, errno, "domainname: setdomainname(\"%s\")", s->domainname);
                child_fail(c->sync, e);
        }
        if (rootfs_protect(&rc, &e) < 0 || rootfs_pivot(&rc, c->no_pivot, &e) < 0)
                child_fail(c->sync, e);
        log_debug("init: pivoted");
        if (p->terminal && terminal_setup(p, c->console, true, &e) < 0)
                child_fail(c->sync, e);
        if (c->console >= 0)
                close(c->console);
        if (rootfs_finalize(&rc, &e) < 0)
                child_fail(c->sync, e);
        if ((c->new_keyring && process_new_session_keyring(&e) < 0) || process_setup_rlimits(p, &e) < 0 ||
            process_setup_sched(p, &e) < 0)
                child_fail(c->sync, e);
        /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the capabilities
         * go (as runc does); with it, load it as the very last step before execve. */
        /* fds first, before any filter that may forbid close_range: every fd we open from here on is
         * O_CLOEXEC anyway. */
        if (process_close_fds(c->preserve_fds, &e) < 0 ||
            (filter && !p->no_new_privileges &&
             seccomp_install_notify(filter, notify_sock, state_json_pid(state_json), state_json, &e) < 0))
                child_fail(c->sync, e);
        if (process_setup_identity(p, rc.userns, &e) < 0 || process_setup_cwd(p, &e) < 0 ||
            process_find_executable(p, &exe, &e) < 0)
                child_fail(c->sync, e);
        log_debug("init: ready");
        if (sync_send(c->sync, SYNC_READY, 0, NULL, 0, -1) < 0)
                _exit(1);
        close(c->sync);

        /* Created: wait for `start`. */
        do
                conn = accept4(c->exec_listen, NULL, NULL, SOCK_CLOEXEC);
        while (conn < 0 && errno == EINTR);
        if (conn < 0)
                _exit(1);
        close(c->exec_listen);
        if (read(conn, &go, 1) != 1)
                _exit(1);
        log_debug("init: started");
        /* The profile applies from execve on: after the startContainer hooks, which must not inherit it. */
        if (hooks_run(s, HOOK_START_CONTAINER, state_json, &e) < 0 || apparmor_set_exec(aa_fd, p->apparmor_profile, &e) < 0 ||
            (filter && p->no_new_privileges &&
             seccomp_install_notify(filter, notify_sock, state_json_pid(state_json), state_json, &e) < 0) ||
            process_exec(p, exe, &e) < 0) {
                (void)write_all(conn, e->msg, strlen(e->msg));
                _exit(127);
        }
        _exit(127);
}

/* Stage 1: joins and creates namespaces, then forks the init. Never returns. */
static _Noreturn void init_stage1(InitCtx *c)
{
        const OciSpec *s = c->spec;
        Error *e = NULL;
        int flags = 0;
        pid_t pid;

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* Until execve, container processes must not reach our fds or memory through /proc/<pid>
         * (CVE-2016-9962); execve of the container's binary makes the process dumpable again. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                error_set(&e, errno, "prctl(PR_SET_DUMPABLE)");
                child_fail(c->sync, e);
        }
        for (size_t i = 0; i < ELEMENTSOF(c->close_fds); i++)
                if (c->close_fds[i] >= 0)
                        close(c->close_fds[i]);
        if (s->ns[NS_USER].enabled) {
                if (s->ns[NS_USER].path) {
                        if (join_namespace(s, NS_USER, &e) < 0)
                                child_fail(c->sync, e);
                } else {
                        if (unshare(CLONE_NEWUSER) < 0) {
                                error_set(&e, errno, "linux.namespaces: creating the user namespace");
                                child_fail(c->sync, e);
                        }
                        if (sync_send(c->sync, SYNC_USERMAP_REQ, 0, NULL, 0, -1) < 0 ||
                            sync_expect(c->sync, SYNC_USERMAP_DONE, NULL, &e) < 0)
                                _exit(1);
                }
                /* Become the namespace's root, if it is mapped, to own what we create. */
                (void)setresgid(0, 0, 0);
                (void)setresuid(0, 0, 0);
        }
        for (int t = 0; t < _NS_MAX; t++) {
                if (t == NS_USER || t == NS_CGROUP || !s->ns[t].enabled)
                        continue;
                if (s->ns[t].path) {
                        if (join_namespace(s, t, &e) < 0)
                                child_fail(c->sync, e);
                } else
                        flags |= ns_clone_flags[t];
        }
        if (flags && unshare(flags) < 0) {
                error_set(&e, errno, "linux.namespaces: creating namespaces (unshare 0x%x)", (unsigned)flags);
                child_fail(c->sync, e);
        }
        /* A new network namespace gets its loopback up, as crun does and Docker's "none" network
         * has it: 127.0.0.1 works inside without any hook.  Failing here is not fatal (a kernel
         * without loopback support); the container then has no usable loopback. */
        if (flags & CLONE_NEWNET)
                loopback_up();
        if (s->n_time_offsets) {
                _cleanup_free_ char *text = xstrdup("");
                for (size_t i = 0; i < s->n_time_offsets; i++) {
                        char *t = xasprintf("%s%s %lld %u\n", text, s->time_offsets[i].clock,
                                            (long long)s->time_offsets[i].secs, s->time_offsets[i].nanosecs);
                        free(text);
                        text = t;
                }
                int r = write_file_at(AT_FDCWD, "/proc/self/timens_offsets", text);
                if (r < 0) {
                        error_set(&e, -r, "linux.timeOffsets: writing /proc/self/timens_offsets");
                        child_fail(c->sync, e);
                }
        }
        log_debug("stage1: namespaces made");
        pid = fork();
        if (pid < 0) {
                error_set(&e, errno, "forking the container's init");
                child_fail(c->sync, e);
        }
        if (pid == 0)
                init_stage2(c);
        (void)sync_send(c->sync, SYNC_PID, pid, NULL, 0, -1);
        _exit(0);
}

static int write_id_maps(pid_t pid, const OciSpec *s, Error **err)
{
        return idmap_write_maps(pid, s->uid_mappings, s->n_uid_mappings, s->gid_mappings, s->n_gid_mappings, err);
}

static char *oci_state_json(const ContainerState *st, ContainerStatus status)
{
        _cleanup_json_ json_t *j = state_to_oci_json(st, status);
        return jx_dump(j, false);
}

static int write_pid_file(const char *path, pid_t pid, Error **err)
{
        _cleanup_free_ char *dir = xstrdup(path), *base = NULL;
        _cleanup_close_ int dfd = -EBADF;
        char buf[32];
        char *slash = strrchr(dir, '/');
        int r;

        if (slash) {
                base = xstrdup(slash + 1);
                *(slash == dir ? slash + 1 : slash) = '\0';
        } else {
                base = xstrdup(path);
                free(dir);
                dir = xstrdup(".");
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set(err, errno, "--pid-file: opening directory %s", dir);
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        r = write_file_atomic(dfd, base, buf, strlen(buf), 0644, false);
        if (r < 0)
                return error_set(err, -r, "--pid-file: writing %s", path);
        return 0;
}

static int listen_exec_sock(int dirfd, Error **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/exec.sock", dirfd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(err, errno, "socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || fchmodat(dirfd, "exec.sock", 0600, 0) < 0 ||
            listen(fd, 1) < 0) {
                int e = errno;
                close(fd);
                return error_set(err, e, "creating exec.sock");
        }
        return fd;
}

static int wait_gone(pid_t pid, int pidfd)
{
        if (pidfd >= 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                (void)poll(&p, 1, 10000);
        }
        return waitpid(pid, NULL, WNOHANG);
}

/*
 * A send to the init failed: it has most likely exited after sending its own ERROR, which says
 * far more than "Broken pipe". Drain what it sent and report that error if there is one.
 */
static int sync_failed(int sock, int send_r, Error **err)
{
        for (;;) {
                _cleanup_free_ char *payload = NULL;
                SyncMsg m;
                if (sync_recv(sock, &m, &payload, NULL) < 0)
                        break;
                if (m.type == SYNC_ERROR)
                        return error_setx(err, m.value > 0 ? m.value : EIO, "%s", payload ? payload : "init failed");
        }
        return error_set(err, -send_r, "talking to the container's init");
}

/*
 * The runtime side of create.  On success the init waits for `start` and, when ret_console is given
 * (foreground run with a terminal), *ret_console is the pty master.
 */
static int do_create(const char *root, const char *id, const CreateOpts *o, bool internal_console, int *ret_console,
                     pid_t *ret_pid, Error **err)
{
        _cleanup_free_ char *bundle = NULL, *config_path = NULL, *rootfs = NULL, *cfg = NULL, *rootfs_abs = NULL;
        _cleanup_close_ int rootfd = -EBADF, dirfd = -EBADF, console = -EBADF, console_peer = -EBADF;
        _cleanup_close_ int exec_listen = -EBADF, pidfd = -EBADF;
        int sv[2] = { -1, -1 };
        int *idmap_fds = NULL;
        OciSpec *spec = NULL;
        ContainerState st = { 0 };
        pid_t c1 = -1, c2 = -1;
        bool dir_made = false;
        int r;

        r = state_validate_id(id, err);
        if (r < 0)
                return r;
        bundle = realpath(o->bundle ? o->bundle : ".", NULL);
        if (!bundle) {
                r = error_set(err, errno, "--bundle %s", o->bundle ? o->bundle : ".");
                goto fail;
        }
        config_path = xasprintf("%s/config.json", bundle);
        r = oci_spec_load(config_path, &spec, err);
        if (r < 0)
                goto fail;
        if (!spec->process) {
                r = error_setx(err, EINVAL, "process: required to create a container");
                goto fail;
        }
        /* A profile this kernel cannot apply is an error, never a silently unconfined container. */
        r = apparmor_check(spec->process->apparmor_profile, "process.apparmorProfile", err);
        if (r < 0)
                goto fail;
        /* Without a mount namespace of its own the rootfs set-up would mount over the host's. */
        if (!spec->ns[NS_MOUNT].enabled) {
                r = error_setx(err, EINVAL, "linux.namespaces: a mount namespace is required (the rootfs is "
                                            "never set up in the host's)");
                goto fail;
        }
        rootfs = spec->root_path[0] == '/' ? xstrdup(spec->root_path) : xasprintf("%s/%s", bundle, spec->root_path);
        rootfs_abs = realpath(rootfs, NULL);
        if (!rootfs_abs) {
                r = error_set(err, errno, "root.path: %s", rootfs);
                goto fail;
        }
        if (spec->process->terminal && !o->console_socket && !internal_console) {
                r = error_setx(err, EINVAL, "process.terminal is true: --console-socket is required");
                goto fail;
        }
        /* Relative mount sources are relative to the bundle, as in runc. */
        if (chdir(bundle) < 0) {
                r = error_set(err, errno, "chdir to the bundle %s", bundle);
                goto fail;
        }
        r = state_open_root(root, true, &rootfd, err);
        if (r < 0)
                goto fail;
        r = state_create_dir(rootfd, id, &dirfd, err);
        if (r < 0)
                goto fail;
        dir_made = true;
        cfg = jx_dump(spec->json, false);
        r = write_file_atomic(dirfd, "config.json", cfg, strlen(cfg), 0600, false);
        if (r < 0) {
                error_set(err, -r, "saving config.json in the state directory");
                goto fail;
        }
        if (spec->process->terminal) {
                if (o->console_socket) {
                        r = console_socket_connect(o->console_socket, &console, err);
                        if (r < 0)
                                goto fail;
                } else {
                        int p[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
                                r = error_set(err, errno, "socketpair");
                                goto fail;
                        }
                        console = p[1];
                        console_peer = p[0];
                }
        }
        idmap_fds = xcalloc(spec->n_mounts + 1, sizeof(int));
        for (size_t i = 0; i < spec->n_mounts; i++) {
                MountOpts mo;
                idmap_fds[i] = -1;
                if (mount_opts_parse(spec->mounts[i].options, &mo, err) < 0) {
                        r = error_wrap(err, "mounts[%zu] (%s)", i, spec->mounts[i].destination);
                        goto fail;
                }
                bool bind = (mo.flags & MS_BIND) || (spec->mounts[i].type && STREQ(spec->mounts[i].type, "bind"));
                if ((spec->mounts[i].n_uid_mappings || mo.idmap) && !bind)
                        r = error_setx(err, EINVAL, "idmapped mounts must be bind mounts");
                else if (mo.tmpcopyup && (bind || !spec->mounts[i].type || !STREQ(spec->mounts[i].type, "tmpfs")))
                        r = error_setx(err, EINVAL, "option \"tmpcopyup\" is only for tmpfs mounts");
                else if (spec->mounts[i].n_uid_mappings || mo.idmap)
                        r = idmap_prepare_mount(&spec->mounts[i], &mo, &idmap_fds[i], err);
                mount_opts_done(&mo);
                if (r < 0) {
                        error_wrap(err, "mounts[%zu] (%s)", i, spec->mounts[i].destination);
                        goto fail;
                }
        }
        r = listen_exec_sock(dirfd, err);
        if (r < 0)
                goto fail;
        exec_listen = r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = error_set(err, errno, "socketpair");
                goto fail;
        }
        log_debug("runtime: forking stage 1");
        /* The cgroups and their limits exist before any process: the init bind-mounts them while
         * the runtime waits to move it in (see cgroup_prime()). */
        r = cgroup_create(id, spec->cgroups_path, &st.cgroup_paths, err);
        if (r < 0 && geteuid() != 0 && (r == -EACCES || r == -EPERM) &&
            (!spec->resources || json_object_size(spec->resources) == 0)) {
                /* Rootless without a delegated cgroup, as runc: no limits asked, so none are needed. */
                log_debug("runtime: rootless, no cgroup (%s)", (*err)->msg);
                error_clear(err);
                st.cgroup_paths = json_object();
                r = 0;
        }
        if (r < 0) {
                error_wrap(err, "linux.cgroupsPath");
                goto fail;
        }
        r = cgroup_apply_resources(st.cgroup_paths, spec->resources, err);
        if (r < 0)
                goto fail;
        /* Orphaned when stage 1 exits, the init is re-parented to us, so failures can reap it. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        InitCtx ic = { .spec = spec, .rootfs = rootfs_abs, .sync = sv[1], .exec_listen = exec_listen,
                       .console = console, .idmap_fds = idmap_fds, .close_fds = { rootfd, dirfd }, .cgroup_paths = st.cgroup_paths, .no_pivot = o->no_pivot, .new_keyring = !o->no_new_keyring,
                       .preserve_fds = o->preserve_fds, .seccomp_cache = spec->seccomp ? seccomp_cache_open(rootfd) : -1 };
        c1 = fork();
        if (c1 < 0) {
                r = error_set(err, errno, "fork");
                if (ic.seccomp_cache >= 0)
                        close(ic.seccomp_cache);
                goto fail;
        }
        if (c1 == 0) {
                close(sv[0]);
                init_stage1(&ic);
        }
        if (ic.seccomp_cache >= 0)
                close(ic.seccomp_cache);
        close(sv[1]);
        sv[1] = -1;

        st.id = (char *)id;
        st.bundle = bundle;
        st.rootfs = rootfs_abs;
        st.created = now_rfc3339nano();
        st.owner = getuid();
        st.annotations = spec->annotations;
        st.pid_ns_private = spec->ns[NS_PID].enabled && !spec->ns[NS_PID].path;
        st.no_new_keyring = o->no_new_keyring;
        st.has_poststart = spec->n_hooks[HOOK_POSTSTART] > 0;
        st.has_poststop = spec->n_hooks[HOOK_POSTSTOP] > 0;

        for (bool ready = false; !ready;) {
                _cleanup_free_ char *payload = NULL;
                SyncMsg m;
                r = sync_recv(sv[0], &m, &payload, NULL);
                if (r < 0) {
                        int status = 0;
                        pid_t w = c2 > 0 ? c2 : c1;
                        if (waitpid(w, &status, 0) == w && WIFSIGNALED(status))
                                r = error_setx(err, ECHILD, "the container's init was killed by signal %d during "
                                               "set-up", WTERMSIG(status));
                        else
                                r = error_setx(err, ECHILD, "the container's init exited during set-up (status %d)",
                                               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                        goto fail;
                }
                switch (m.type) {
                case SYNC_USERMAP_REQ:
                        r = write_id_maps(c1, spec, err);
                        if (r < 0)
                                goto fail;
                        r = sync_send(sv[0], SYNC_USERMAP_DONE, 0, NULL, 0, -1);
                        if (r < 0) {
                                r = sync_failed(sv[0], r, err);
                                goto fail;
                        }
                        break;
                case SYNC_PID:
                        log_debug("runtime: init is pid %d", m.value);
                        c2 = m.value;
                        pidfd = sys_pidfd_open(c2, 0);
                        (void)waitpid(c1, NULL, 0);
                        c1 = -1;
                        st.pid = c2;
                        st.start_time = proc_start_time(c2);
                        r = cgroup_join(st.cgroup_paths, c2, err);
                        if (r < 0)
                                goto fail;
                        if (spec->process->has_oom_score_adj) {
                                r = process_set_oom_score_adj(c2, spec->process->oom_score_adj, err);
                                if (r < 0)
                                        goto fail;
                        }
                        log_debug("runtime: cgroups joined");
                        {
                                /* The state for the container's own hooks travels with GO. */
                                _cleanup_free_ char *sj = oci_state_json(&st, STATUS_CREATED);
                                r = sync_send(sv[0], SYNC_GO, 0, sj, strlen(sj), -1);
                                if (r < 0) {
                                        r = sync_failed(sv[0], r, err);
                                        goto fail;
                                }
                        }
                        r = state_save(dirfd, &st, err);
                        if (r < 0)
                                goto fail;
                        break;
                case SYNC_HOOKS_REQ: {
                        _cleanup_free_ char *sj = oci_state_json(&st, STATUS_CREATING);
                        r = hooks_run(spec, HOOK_PRESTART, sj, err);
                        if (r == 0)
                                r = hooks_run(spec, HOOK_CREATE_RUNTIME, sj, err);
                        if (r < 0)
                                goto fail;
                        r = sync_send(sv[0], SYNC_HOOKS_DONE, 0, NULL, 0, -1);
                        if (r < 0) {
                                r = sync_failed(sv[0], r, err);
                                goto fail;
                        }
                        break;
                }
                case SYNC_READY:
                        ready = true;
                        break;
                case SYNC_ERROR:
                        r = error_setx(err, m.value > 0 ? m.value : EIO, "%s", payload ? payload : "init failed");
                        goto fail;
                default:
                        r = error_setx(err, EPROTO, "unexpected sync message %u", m.type);
                        goto fail;
                }
        }
        if (o->pid_file) {
                r = write_pid_file(o->pid_file, c2, err);
                if (r < 0)
                        goto fail;
        }
        if (ret_console && console_peer >= 0) {
                r = console_socket_recv(console_peer, ret_console, err);
                if (r < 0)
                        goto fail;
        }
        if (ret_pid)
                *ret_pid = c2;
        close(sv[0]);
        for (size_t i = 0; i < spec->n_mounts; i++)
                if (idmap_fds[i] >= 0)
                        close(idmap_fds[i]);
        free(idmap_fds);
        json_decref(st.cgroup_paths);
        free(st.created);
        oci_spec_free(spec);
        return 0;

fail:
        /* Roll back everything: processes, cgroups, the state directory. */
        if (c2 > 0) {
                if (pidfd >= 0)
                        (void)sys_pidfd_send_signal(pidfd, SIGKILL);
                (void)waitpid(c2, NULL, 0);
                (void)wait_gone(c2, pidfd);
        }
        if (c1 > 0) {
                kill(c1, SIGKILL);
                (void)waitpid(c1, NULL, 0);
        }
        if (st.cgroup_paths)
                (void)cgroup_destroy(st.cgroup_paths, NULL);
        if (dir_made)
                (void)rm_rf_at(rootfd, id);
        if (sv[0] >= 0)
                close(sv[0]);
        if (sv[1] >= 0)
                close(sv[1]);
        if (idmap_fds) {
                for (size_t i = 0; i < spec->n_mounts; i++)
                        if (idmap_fds[i] > 0)
                                close(idmap_fds[i]);
                free(idmap_fds);
        }
        json_decref(st.cgroup_paths);
        free(st.created);
        oci_spec_free(spec);
        return r < 0 ? r : -EIO;
}

int container_create(const char *root, const char *id, const CreateOpts *o, Error **err)
{
        return do_create(root, id, o, false, NULL, NULL, err);
}

int container_open(const char *root, const char *id, bool lock, int *ret_dirfd, ContainerState **ret,
                       Error **err)
{
        _cleanup_close_ int rootfd = -EBADF, dirfd = -EBADF;
        int r;

        r = state_validate_id(id, err);
        if (r < 0)
                return r;
        r = state_open_root(root, false, &rootfd, err);
        if (r == -ENOENT)
                return error_setx(err, ENOENT, "container \"%s\" does not exist", id);
        if (r < 0)
                return r;
        r = state_open_dir(rootfd, id, lock, &dirfd, err);
        if (r < 0)
                return r;
        r = state_load(dirfd, id, ret, err);
        if (r < 0)
                return r;
        *ret_dirfd = TAKE_FD(dirfd);
        return 0;
}

DEFINE_CLEANUP_FUNC(OciSpec, oci_spec_free)

int container_load_config(const char *root, const char *id, OciSpec **ret, Error **err)
{
        _cleanup_free_ char *path = NULL;
        int r = state_validate_id(id, err);

        if (r < 0)
                return r;
        path = xasprintf("%s/%s/config.json", root, id);
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return error_setx(err, ENOENT, "container \"%s\" does not exist", id);
        return oci_spec_load(path, ret, err);
}

int container_start(const char *root, const char *id, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_(oci_spec_freep) OciSpec *spec = NULL;
        _cleanup_close_ int dirfd = -EBADF, sock = -EBADF;
        _cleanup_free_ char *msg = NULL, *sj = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ContainerStatus status;
        int r;

        r = container_open(root, id, true, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        if (status != STATUS_CREATED)
                return error_setx(err, EINVAL, "container \"%s\" is %s, not created: it cannot be started", id,
                                  status_names[status]);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/exec.sock", dirfd);
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
                return error_set(err, errno, "socket");
        if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return error_set(err, errno, "connecting to the init of %s", id);
        (void)unlinkat(dirfd, "exec.sock", 0);
        if (write(sock, "s", 1) != 1)
                return error_set(err, errno, "releasing the init of %s", id);
        /* EOF means the process was executed; anything else is the init's error. */
        r = read_all_fd(sock, 65536, &msg, NULL);
        if (r < 0)
                return error_set(err, -r, "waiting for the init of %s", id);
        if (*msg)
                return error_setx(err, EIO, "starting container %s: %s", id, msg);
        if (!st->has_poststart)
                return 0;
        r = container_load_config(root, id, &spec, err);
        if (r < 0)
                return r;
        sj = oci_state_json(st, STATUS_RUNNING);
        /* The spec: a failing poststart hook is logged (hooks_run warns), the container goes on. */
        if (hooks_run(spec, HOOK_POSTSTART, sj, err) < 0)
                error_clear(err);
        return 0;
}

/* Every process in the container's cgroup (kill --all). */
static void signal_cgroup(const ContainerState *st, int sig)
{
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        if (cgroup_pids(st->cgroup_paths, &pids, &n, NULL) == 0)
                for (size_t i = 0; i < n; i++)
                        (void)kill(pids[i], sig);
}

static int signal_container(const ContainerState *st, int sig, bool all, Error **err)
{
        _cleanup_close_ int pidfd = -EBADF;

        if (all)
                signal_cgroup(st, sig);
        pidfd = sys_pidfd_open(st->pid, 0);
        /* --all signalled the init with the rest (as runc): its caller may have reaped it since. */
        if (all && (pidfd < 0 ? errno == ESRCH : proc_start_time(st->pid) != st->start_time))
                return 0;
        if (pidfd < 0)
                return error_set(err, errno, "opening the init process %d", (int)st->pid);
        /* The pidfd pins the process: check it is still ours, then signal without a reuse race. */
        if (proc_start_time(st->pid) != st->start_time)
                return error_setx(err, ESRCH, "container not running: its init has exited");
        if (sys_pidfd_send_signal(pidfd, sig) < 0 && !(all && errno == ESRCH))
                return error_set(err, errno, "sending signal %d to %d", sig, (int)st->pid);
        return 0;
}

int container_kill(const char *root, const char *id, int sig, bool all, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        ContainerStatus status;
        int r;

        r = container_open(root, id, true, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        /* --all after the init exited: what is left in the cgroup (a container sharing its pod's pid
         * namespace keeps its children when the init goes), as runc; containerd's shim relies on it. */
        if (status == STATUS_STOPPED && all) {
                signal_cgroup(st, sig);
                return 0;
        }
        /* runc's words: containerd's shim takes "container not running" as "already exited", not a failure. */
        if (status == STATUS_STOPPED)
                return error_setx(err, EINVAL, "container not running: \"%s\" has stopped", id);
        r = signal_container(st, sig, all, err);
        /* A frozen task cannot act on SIGKILL: thaw the container so the kill happens now. */
        if (r >= 0 && sig == SIGKILL && status == STATUS_PAUSED)
                (void)cgroup_freeze(st->cgroup_paths, false, NULL);
        return r;
}

int container_delete(const char *root, const char *id, bool force, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_(oci_spec_freep) OciSpec *spec = NULL;
        _cleanup_close_ int dirfd = -EBADF, rootfd = -EBADF;
        ContainerStatus status;
        int r;

        r = container_open(root, id, true, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        if (status != STATUS_STOPPED) {
                _cleanup_close_ int pidfd = -EBADF;
                if (!force)
                        return error_setx(err, EBUSY,
                                          "container \"%s\" is %s: stop it first, or delete it with --force", id,
                                          status_names[status]);
                pidfd = sys_pidfd_open(st->pid, 0);
                (void)signal_container(st, SIGKILL, !st->pid_ns_private || true, NULL);
                if (status == STATUS_PAUSED)
                        (void)cgroup_freeze(st->cgroup_paths, false, NULL);
                if (pidfd >= 0) {
                        struct pollfd p = { .fd = pidfd, .events = POLLIN };
                        (void)poll(&p, 1, 10000);
                }
                (void)waitpid(st->pid, NULL, WNOHANG);
        }
        if (st->has_poststop && container_load_config(root, id, &spec, NULL) == 0) {
                _cleanup_free_ char *sj = oci_state_json(st, STATUS_STOPPED);
                Error *e = NULL;
                if (hooks_run(spec, HOOK_POSTSTOP, sj, &e) < 0)
                        error_free(e); /* each failure was logged as a warning */
        }
        r = cgroup_destroy(st->cgroup_paths, err);
        if (r < 0)
                return r;
        r = state_open_root(root, false, &rootfd, err);
        if (r < 0)
                return r;
        r = rm_rf_at(rootfd, id);
        if (r < 0)
                return error_set(err, -r, "removing the state of %s", id);
        return 0;
}

int container_state(const char *root, const char *id, json_t **ret, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        int r;

        r = container_open(root, id, false, &dirfd, &st, err);
        if (r < 0)
                return r;
        *ret = state_to_oci_json(st, state_status(dirfd, st));
        return 0;
}

int container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        int r;

        r = container_open(root, id, false, &dirfd, &st, err);
        if (r < 0)
                return r;
        if (state_status(dirfd, st) == STATUS_STOPPED) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return cgroup_pids(st->cgroup_paths, ret, ret_n, err);
}

/*
 * Waits for pid (our child, or re-parented to us as subreaper), forwarding signals to it and, with a
 * pty master, copying between our stdio and the pty.  Returns the exit status (128+signal when killed).
 */
static int foreground_wait(pid_t pid, int master)
{
        static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGPIPE };
        _cleanup_close_ int sfd = -EBADF, pidfd = -EBADF;
        struct termios saved;
        bool raw = false, in_open = master >= 0;
        sigset_t set;
        int status = 0;
        char buf[8192];

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        for (size_t i = 0; i < ELEMENTSOF(fwd); i++)
                sigaddset(&set, fwd[i]);
        sigprocmask(SIG_BLOCK, &set, NULL);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        pidfd = sys_pidfd_open(pid, 0);
        if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                struct termios t = saved;
                struct winsize ws;
                cfmakeraw(&t);
                raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        (void)ioctl(master, TIOCSWINSZ, &ws);
        }
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (w < 0 && errno == ECHILD) {
                        status = 0;
                        break;
                }
                while (waitpid(-1, NULL, WNOHANG) > 0) /* reap re-parented grandchildren */
                        ;
                struct pollfd p[4] = { { .fd = sfd, .events = POLLIN },
                                       { .fd = pidfd, .events = POLLIN },
                                       { .fd = master, .events = POLLIN },
                                       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
                if (poll(p, 4, pidfd < 0 ? 100 : -1) < 0 && errno != EINTR)
                        break;
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD) {
                                if (si.ssi_signo == SIGWINCH && master >= 0) {
                                        struct winsize ws;
                                        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                                                (void)ioctl(master, TIOCSWINSZ, &ws);
                                } else if (si.ssi_signo != SIGPIPE)
                                        (void)kill(pid, (int)si.ssi_signo);
                        }
                }
                if (master >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t n = read(master, buf, sizeof(buf));
                        if (n > 0)
                                (void)write_all(STDOUT_FILENO, buf, (size_t)n);
                        else {
                                close(master);
                                master = -1;
                        }
                }
                if (master >= 0 && (p[3].revents & (POLLIN | POLLHUP))) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n > 0)
                                (void)write_all(master, buf, (size_t)n);
                        else
                                in_open = false;
                }
        }
        /* The process is gone but its last output may still sit in the pty: drain it.  Once every
         * slave fd is closed the master reads EIO; another holder of the slave only gets 200 ms. */
        while (master >= 0) {
                struct pollfd p = { .fd = master, .events = POLLIN };
                if (poll(&p, 1, 200) <= 0)
                        break;
                ssize_t n = read(master, buf, sizeof(buf));
                if (n <= 0)
                        break;
                (void)write_all(STDOUT_FILENO, buf, (size_t)n);
        }
        if (raw)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (master >= 0)
                close(master);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Docker and runc leave a user to guess why a process died with 137: say when it was the OOM killer. */
static void report_oom(const char *root, const char *id)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        uint64_t n;

        if (container_open(root, id, false, &dirfd, &st, NULL) < 0)
                return;
        n = cgroup_oom_kills(st->cgroup_paths);
        if (n > 0)
                log_warn("container %s: the kernel's OOM killer killed %" PRIu64 " process%s: the memory limit was reached",
                         id, n, n == 1 ? "" : "es");
}

int container_run(const char *root, const char *id, const CreateOpts *o, bool detach, int *ret_status,
                  Error **err)
{
        int master = -1;
        pid_t pid = 0;
        int r;

        r = do_create(root, id, o, !detach, &master, &pid, err);
        if (r < 0)
                return r;
        r = container_start(root, id, err);
        if (r < 0) {
                if (master >= 0)
                        close(master);
                (void)container_delete(root, id, true, NULL);
                return r;
        }
        if (detach) {
                *ret_status = 0;
                return 0;
        }
        *ret_status = foreground_wait(pid, master);
        log_debug("runtime: container exited");
        report_oom(root, id);
        r = container_delete(root, id, true, err);
        log_debug("runtime: deleted");
        return r;
}

/* exec: stage 1 joins the container's namespaces and forks; stage 2 becomes the process. */
static _Noreturn void exec_stage2(int sync, OciProcess *p, int console, bool userns, bool new_keyring,
                                   const ExecOpts *o, SeccompFilter *filter, int notify_sock)
{
        _cleanup_free_ char *exe = NULL, *state_json = NULL;
        Error *e = NULL;
        int pid = 0;

        /* GO carries our pid as the runtime sees it and the container's state, for a seccomp listener. */
        if (sync_expect_value(sync, SYNC_GO, &state_json, &pid, &e) < 0)
                child_fail(sync, e);
        if (p->terminal && terminal_setup(p, console, false, &e) < 0)
                child_fail(sync, e);
        if (console >= 0)
                close(console);
        if ((new_keyring && process_new_session_keyring(&e) < 0) || process_setup_rlimits(p, &e) < 0 ||
            process_setup_sched(p, &e) < 0)
                child_fail(sync, e);
        if (process_close_fds(o->preserve_fds, &e) < 0 ||
            (filter && !p->no_new_privileges && seccomp_install_notify(filter, notify_sock, pid, state_json, &e) < 0))
                child_fail(sync, e);
        if (process_setup_identity(p, userns, &e) < 0 || process_setup_cwd(p, &e) < 0 ||
            process_find_executable(p, &exe, &e) < 0)
                child_fail(sync, e);
        if (filter && p->no_new_privileges && seccomp_install_notify(filter, notify_sock, pid, state_json, &e) < 0)
                child_fail(sync, e);
        process_exec(p, exe, &e);
        child_fail(sync, e);
}

int container_exec(const char *root, const char *id, OciProcess *p, const ExecOpts *o, int *ret_status,
                   Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF, pidfd = -EBADF, console = -EBADF, console_peer = -EBADF;
        int sv[2] = { -1, -1 };
        ContainerStatus status;
        pid_t c1, c2 = -1;
        int flags = 0, master = -1;
        bool userns = false;
        int r;

        r = container_open(root, id, false, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        if (status != STATUS_RUNNING && status != STATUS_CREATED)
                return error_setx(err, EINVAL, "container \"%s\" is %s: cannot exec in it", id, status_names[status]);
        pidfd = sys_pidfd_open(st->pid, 0);
        if (pidfd < 0 || proc_start_time(st->pid) != st->start_time)
                return error_setx(err, ESRCH, "the init of %s has exited", id);
        for (int t = 0; t < _NS_MAX; t++) {
                char a[PATH_MAX] = "", b[PATH_MAX] = "", path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)st->pid, ns_proc_names[t]);
                if (readlink(path, a, sizeof(a) - 1) < 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_proc_names[t]);
                if (readlink(path, b, sizeof(b) - 1) < 0 || STREQ(a, b))
                        continue;
                flags |= ns_clone_flags[t];
                if (t == NS_USER)
                        userns = true;
        }
        if (p->terminal) {
                if (o->console_socket) {
                        r = console_socket_connect(o->console_socket, &console, err);
                        if (r < 0)
                                return r;
                } else if (!o->detach) {
                        int q[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q) < 0)
                                return error_set(err, errno, "socketpair");
                        console_peer = q[0];
                        console = q[1];
                } else
                        return error_setx(err, EINVAL, "--tty with --detach needs --console-socket");
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set(err, errno, "socketpair");
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        c1 = fork();
        if (c1 < 0) {
                r = error_set(err, errno, "fork");
                goto out;
        }
        if (c1 == 0) {
                Error *e = NULL;
                SeccompFilter *filter = NULL;
                int notify_sock = -1;
                pid_t pid;
                close(sv[0]);
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                /* Not reachable through /proc by the container's processes until execve (CVE-2016-9962). */
                if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                        error_set(&e, errno, "prctl(PR_SET_DUMPABLE)");
                        child_fail(sv[1], e);
                }
                /* AppArmor's exec profile is set here, on the host's procfs before joining the container's
                 * mount namespace (CVE-2019-16884); the process forked below inherits it for its execve. */
                {
                        int aa_fd = -1;
                        if (apparmor_open_exec_attr(p->apparmor_profile, &aa_fd, &e) < 0 ||
                            apparmor_set_exec(aa_fd, p->apparmor_profile, &e) < 0)
                                child_fail(sv[1], e);
                        if (aa_fd >= 0)
                                close(aa_fd);
                }
                /* The filter is compiled here and its listener (if it notifies) reached through the host's
                 * filesystem, before joining the container's mount namespace. */
                if (o->seccomp && seccomp_compile_cached(o->seccomp_cache, o->seccomp,
                                                         &(SeccompContext){ .bounding = o->seccomp_bounding }, &filter,
                                                         NULL, &e) < 0)
                        child_fail(sv[1], e);
                if (o->seccomp_cache >= 0)
                        close(o->seccomp_cache);
                if (seccomp_notify_connect(filter, &notify_sock, &e) < 0)
                        child_fail(sv[1], e);
                /* One setns() with a pidfd enters all namespaces at once (Linux 5.8). */
                if (flags && setns(pidfd, flags) < 0) {
                        error_set(&e, errno, "joining the namespaces of the container's init");
                        child_fail(sv[1], e);
                }
                pid = fork();
                if (pid < 0) {
                        error_set(&e, errno, "fork");
                        child_fail(sv[1], e);
                }
                if (pid == 0)
                        exec_stage2(sv[1], p, console, userns, !st->no_new_keyring, o, filter, notify_sock);
                (void)sync_send(sv[1], SYNC_PID, pid, NULL, 0, -1);
                _exit(0);
        }
        close(sv[1]);
        sv[1] = -1;
        for (;;) {
                _cleanup_free_ char *payload = NULL;
                SyncMsg m;
                r = sync_recv(sv[0], &m, &payload, NULL);
                if (r == -EPIPE && c2 > 0) {
                        r = 0; /* the sync socket closed on exec: the process runs */
                        break;
                }
                if (r < 0) {
                        r = error_setx(err, ECHILD, "the exec'd process exited during set-up");
                        goto out;
                }
                if (m.type == SYNC_PID) {
                        c2 = m.value;
                        (void)waitpid(c1, NULL, 0);
                        r = cgroup_join(st->cgroup_paths, c2, err);
                        if (r == 0 && p->has_oom_score_adj)
                                r = process_set_oom_score_adj(c2, p->oom_score_adj, err);
                        if (r < 0)
                                goto out;
                        {
                                _cleanup_free_ char *sj = oci_state_json(st, state_status(dirfd, st));
                                r = sync_send(sv[0], SYNC_GO, (int)c2, sj, strlen(sj), -1);
                        }
                        if (r < 0) {
                                r = sync_failed(sv[0], r, err);
                                goto out;
                        }
                } else if (m.type == SYNC_ERROR) {
                        r = error_setx(err, m.value > 0 ? m.value : EIO, "%s", payload ? payload : "exec failed");
                        goto out;
                } else {
                        r = error_setx(err, EPROTO, "unexpected sync message %u", m.type);
                        goto out;
                }
        }
        if (o->pid_file) {
                r = write_pid_file(o->pid_file, c2, err);
                if (r < 0)
                        goto out;
        }
        if (console_peer >= 0) {
                r = console_socket_recv(console_peer, &master, err);
                if (r < 0)
                        goto out;
        }
        if (o->detach)
                *ret_status = 0;
        else
                *ret_status = foreground_wait(c2, master);
        c2 = -1;
out:
        if (r < 0 && c2 > 0) {
                kill(c2, SIGKILL);
                (void)waitpid(c2, NULL, 0);
        }
        if (sv[0] >= 0)
                close(sv[0]);
        if (sv[1] >= 0)
                close(sv[1]);
        return r;
}
