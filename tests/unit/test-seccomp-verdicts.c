/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every syscall's verdict under a compiled filter, decided by the kernel but never executed (in
 * kafel's manner, on the real filter): a forked child loads the filter under test, then a probe
 * filter that sends every syscall carrying a cookie in its 6th argument to a user-notification
 * listener.  The kernel runs both filters and keeps the stronger verdict: ERRNO (from the filter
 * under test) beats USER_NOTIF, and USER_NOTIF beats ALLOW.  So a probed syscall either fails with
 * the filter's errno, or reaches the parent, which answers "EHWPOISON": that errno means "allowed".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "json-util.h"
#include "seccomp-default.h"
#include "seccomp-filter.h"
#include "tap.h"
#include "util.h"

#define COOKIE_LO 0x5eccu
#define COOKIE_HI 0x0c0ffee0u
#define ALLOWED   EHWPOISON

typedef struct Probe {
        const char *label;
        long nr;
        unsigned long a0, a1;
        int want;               /* ALLOWED, or the errno the filter must return */
} Probe;

static int send_fd(int sock, int fd)
{
        char c = 'f';
        struct iovec iov = { &c, 1 };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
        char c;
        struct iovec iov = { &c, 1 };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *cm;
        int fd = -1;
        if (recvmsg(sock, &m, 0) != 1)
                return -1;
        cm = CMSG_FIRSTHDR(&m);
        if (cm && cm->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

/* The probe: USER_NOTIF for x86_64 syscalls whose 6th argument is the cookie, ALLOW for the rest. */
static int install_probe(void)
{
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 5),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5])),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COOKIE_LO, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5]) + 4),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COOKIE_HI, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { ELEMENTSOF(f), f };
        return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

/* Runs the probes under `filter`; results[i] is the errno each got (ALLOWED when it reached the probe). */
static int run_probes(const SeccompFilter *filter, const Probe *p, size_t n, int *results)
{
        int sv[2], pipefd[2], listener, status = 0;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                Error *e = NULL;
                int lfd;
                close(sv[0]);
                close(pipefd[0]);
                /* The probe first (the filter under test may refuse seccomp and sendmsg); the order of
                 * the two does not change the verdict, which is the strongest of both. */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        syscall(SYS_exit_group, 100);
                lfd = install_probe();
                if (lfd < 0 || send_fd(sv[1], lfd) < 0)
                        syscall(SYS_exit_group, 101);
                if (seccomp_install(filter, &e) < 0)
                        syscall(SYS_exit_group, 103);
                for (size_t i = 0; i < n; i++) {
                        long r = syscall(p[i].nr, p[i].a0, p[i].a1, 0UL, 0UL, 0UL,
                                         ((unsigned long)COOKIE_HI << 32) | COOKIE_LO);
                        int res = r < 0 ? errno : 0;
                        /* The 6th argument register keeps the cookie until a syscall sets it again: clear it,
                         * or the write below would be probed too. */
                        (void)syscall(SYS_getpid, 0UL, 0UL, 0UL, 0UL, 0UL, 0UL);
                        if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
                                syscall(SYS_exit_group, 102);
                }
                syscall(SYS_exit_group, 0);
        }
        close(sv[1]);
        close(pipefd[1]);
        listener = recv_fd(sv[0]);
        close(sv[0]);
        size_t got = 0;
        for (; got < n;) {
                struct pollfd pf[2] = { { listener, POLLIN, 0 }, { pipefd[0], POLLIN, 0 } };
                if (poll(pf, listener >= 0 ? 2 : 1 + 0, 10000) <= 0)
                        break;
                if (listener >= 0 && (pf[0].revents & POLLIN)) {
                        struct seccomp_notif req;
                        struct seccomp_notif_resp resp;
                        memset(&req, 0, sizeof(req));
                        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                                memset(&resp, 0, sizeof(resp));
                                resp.id = req.id;
                                resp.error = -ALLOWED;
                                (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                        }
                        continue;
                }
                if (pf[1].revents & (POLLIN | POLLHUP)) {
                        if (read(pipefd[0], &results[got], sizeof(int)) != sizeof(int))
                                break;
                        got++;
                }
        }
        if (listener >= 0)
                close(listener);
        close(pipefd[0]);
        waitpid(pid, &status, 0);
        size_t done = got;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                printf("# probe child status 0x%x after %zu of %zu probes (next: %s)\n", status, done, n,
                       done < n ? p[done].label : "-");
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static uint64_t cap_bit(const char *name)
{
        int c = caps_from_name(name);
        return c >= 0 ? 1ULL << c : 0;
}

/* Docker's 14 default capabilities. */
static uint64_t docker_default_caps(void)
{
        static const char *const names[] = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                             "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                             "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" };
        uint64_t b = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                b |= cap_bit(names[i]);
        return b;
}

static void check(const Probe *p, size_t n, json_t *profile, uint64_t bounding, int *tap_failed)
{
        SeccompFilter *f = NULL;
        Error *e = NULL;
        int results[1024];

        if (n > ELEMENTSOF(results))
                TAP_FAIL("too many probes");
        SeccompContext ctx = { .bounding = bounding };
        if (seccomp_compile(profile, &ctx, &f, &e) < 0)
                TAP_FAIL("compiling: %s", e->msg);
        for (size_t i = 0; i < n; i++)
                results[i] = -1;
        int r = run_probes(f, p, n, results);
        seccomp_filter_free(f);
        if (r < 0)
                TAP_FAIL("the probe child failed (%d)", r);
        for (size_t i = 0; i < n; i++)
                if (results[i] != p[i].want)
                        TAP_FAIL("%s: got %s, want %s", p[i].label, results[i] == ALLOWED ? "allowed" : strerror(results[i]),
                                 p[i].want == ALLOWED ? "allowed" : strerror(p[i].want));
}

#define NEED_X86_64()                                                                                          \
        do {                                                                                                   \
                if (seccomp_arch_native() != SCMP_ARCH_X86_64)                                                 \
                        TAP_SKIP("the probe filter is written for x86_64");                                    \
        } while (0)

TEST(default_profile_docker_caps)
{
        NEED_X86_64();
        _cleanup_json_ json_t *p = seccomp_default_profile();
        const Probe probes[] = {
                { "getpid", SYS_getpid, 0, 0, ALLOWED },
                { "openat", SYS_openat, 0, 0, ALLOWED },
                { "chroot (CAP_SYS_CHROOT)", SYS_chroot, 0, 0, ALLOWED },
                { "clone without namespace flags", SYS_clone, SIGCHLD, 0, ALLOWED },
                { "clone(CLONE_NEWNS)", SYS_clone, 0x00020000 | SIGCHLD, 0, EPERM },
                { "clone(CLONE_NEWUSER)", SYS_clone, 0x10000000 | SIGCHLD, 0, EPERM },
                { "clone3", SYS_clone3, 0, 0, ENOSYS },
                { "personality(PER_LINUX)", SYS_personality, 0, 0, ALLOWED },
                { "personality(0xffffffff)", SYS_personality, 0xffffffff, 0, ALLOWED },
                { "personality(READ_IMPLIES_EXEC)", SYS_personality, 0x0400000, 0, EPERM },
                { "socket(AF_INET)", SYS_socket, 2, 0, ALLOWED },
                { "socket(AF_VSOCK)", SYS_socket, 40, 0, EPERM },
                { "ptrace (kernel >= 4.8)", SYS_ptrace, 0, 0, ALLOWED },
                { "mount", SYS_mount, 0, 0, EPERM },
                { "umount2", SYS_umount2, 0, 0, EPERM },
                { "unshare", SYS_unshare, 0, 0, EPERM },
                { "setns", SYS_setns, 0, 0, EPERM },
                { "reboot", SYS_reboot, 0, 0, EPERM },
                { "kexec_load", SYS_kexec_load, 0, 0, EPERM },
                { "keyctl", SYS_keyctl, 0, 0, EPERM },
                { "add_key", SYS_add_key, 0, 0, EPERM },
                { "bpf", SYS_bpf, 0, 0, EPERM },
                { "open_by_handle_at", SYS_open_by_handle_at, 0, 0, EPERM },
                { "init_module", SYS_init_module, 0, 0, EPERM },
                { "pivot_root", SYS_pivot_root, 0, 0, EPERM },
                { "userfaultfd", SYS_userfaultfd, 0, 0, EPERM },
                { "io_uring_setup", SYS_io_uring_setup, 0, 0, EPERM },
                { "perf_event_open", SYS_perf_event_open, 0, 0, EPERM },
                { "syslog", SYS_syslog, 0, 0, EPERM },
                { "kcmp (CAP_SYS_PTRACE)", SYS_kcmp, 0, 0, EPERM },
                { "settimeofday", SYS_settimeofday, 0, 0, EPERM },
                { "a number above every syscall", 1000, 0, 0, ENOSYS },
        };
        check(probes, ELEMENTSOF(probes), p, docker_default_caps(), tap_failed);
}

TEST(default_profile_sys_admin)
{
        NEED_X86_64();
        _cleanup_json_ json_t *p = seccomp_default_profile();
        const Probe probes[] = {
                { "mount", SYS_mount, 0, 0, ALLOWED },
                { "unshare", SYS_unshare, 0, 0, ALLOWED },
                { "setns", SYS_setns, 0, 0, ALLOWED },
                { "clone(CLONE_NEWNS)", SYS_clone, 0x00020000 | SIGCHLD, 0, ALLOWED },
                { "clone3", SYS_clone3, 0, 0, ALLOWED },
                { "reboot (no CAP_SYS_BOOT)", SYS_reboot, 0, 0, EPERM },
                { "chroot (no CAP_SYS_CHROOT)", SYS_chroot, 0, 0, EPERM },
                { "kexec_load", SYS_kexec_load, 0, 0, EPERM },
        };
        check(probes, ELEMENTSOF(probes), p, cap_bit("CAP_SYS_ADMIN"), tap_failed);
}

TEST(custom_default_errno_and_kill_free_actions)
{
        NEED_X86_64();
        static const char text[] =
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
                "\"syscalls\":[{\"names\":[\"getpid\",\"write\",\"read\",\"exit_group\",\"exit\",\"close\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
                "{\"names\":[\"gettid\"],\"action\":\"SCMP_ACT_LOG\"},"
                "{\"name\":\"getuid\",\"action\":\"SCMP_ACT_ALLOW\",\"comment\":\"Docker's legacy name\"},"
                "{\"names\":[\"getgid\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
                "{\"names\":[\"getegid\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
                "{\"names\":[\"geteuid\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"99.0\"}},"
                "{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":18,\"op\":\"SCMP_CMP_LE\"}]}]}";
        _cleanup_json_ json_t *p = NULL;
        Error *e = NULL;
        const Probe probes[] = {
                { "getpid", SYS_getpid, 0, 0, ALLOWED },
                { "getppid (errnoRet 13)", SYS_getppid, 0, 0, EACCES },
                { "gettid (LOG, then allowed)", SYS_gettid, 0, 0, ALLOWED },
                { "getuid (legacy name)", SYS_getuid, 0, 0, ALLOWED },
                { "getgid (includes CAP_SYS_ADMIN, not held)", SYS_getgid, 0, 0, ENOSYS },
                { "getegid (excludes CAP_SYS_ADMIN, not held)", SYS_getegid, 0, 0, ALLOWED },
                { "geteuid (minKernel 99.0)", SYS_geteuid, 0, 0, ENOSYS },
                { "umask(0)", SYS_umask, 0, 0, ALLOWED },
                { "umask(077)", SYS_umask, 077, 0, ENOSYS },
                { "mount (defaultErrnoRet 38)", SYS_mount, 0, 0, ENOSYS },
        };
        ASSERT_OK(jx_parse(text, strlen(text), "profile", &p, &e));
        check(probes, ELEMENTSOF(probes), p, 0, tap_failed);
}

TEST(enosys_stub_only_above_the_profile)
{
        NEED_X86_64();
        /* The highest name here is exit_group (231): 232 and above are ENOSYS, below it the default EPERM. */
        static const char text[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\","
                                   "\"syscalls\":[{\"names\":[\"getpid\",\"write\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"}]}";
        _cleanup_json_ json_t *p = NULL;
        Error *e = NULL;
        const Probe probes[] = {
                { "getpid (39)", SYS_getpid, 0, 0, ALLOWED },
                { "mount (165)", SYS_mount, 0, 0, EPERM },
                { "getuid (102)", SYS_getuid, 0, 0, EPERM },
                { "232", 232, 0, 0, ENOSYS },
                { "clone3 (435)", SYS_clone3, 0, 0, ENOSYS },
        };
        ASSERT_OK(jx_parse(text, strlen(text), "profile", &p, &e));
        check(probes, ELEMENTSOF(probes), p, 0, tap_failed);
}

TEST(no_stub_when_the_default_allows)
{
        NEED_X86_64();
        static const char text[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                                   "\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}]}";
        _cleanup_json_ json_t *p = NULL;
        Error *e = NULL;
        const Probe probes[] = {
                { "getppid", SYS_getppid, 0, 0, EPERM },
                { "clone3 (above the profile, default allows)", SYS_clone3, 0, 0, ALLOWED },
        };
        ASSERT_OK(jx_parse(text, strlen(text), "profile", &p, &e));
        check(probes, ELEMENTSOF(probes), p, 0, tap_failed);
}

TEST(first_unconditional_rule_of_a_syscall_wins)
{
        NEED_X86_64();
        /* libseccomp keeps the first rule without arguments of a syscall; the compiler warns about the rest. */
        static const char text[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                                   "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
                                   "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":22},"
                                   "{\"names\":[\"getuid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":22},"
                                   "{\"names\":[\"getuid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
        _cleanup_json_ json_t *p = NULL;
        SeccompFilter *f = NULL;
        Error *e = NULL;
        const Probe probes[] = {
                { "getppid", SYS_getppid, 0, 0, EACCES },
                { "getuid", SYS_getuid, 0, 0, EINVAL },
        };
        ASSERT_OK(jx_parse(text, strlen(text), "profile", &p, &e));
        ASSERT_OK(seccomp_compile(p, NULL, &f, &e));
        ASSERT_TRUE(f->warnings && f->warnings[0] && f->warnings[1]);
        ASSERT_CONTAINS(f->warnings[0], "linux.seccomp.syscalls[1]: \"getppid\" already has a rule without arguments in linux.seccomp.syscalls[0]");
        seccomp_filter_free(f);
        check(probes, ELEMENTSOF(probes), p, 0, tap_failed);
}

/*
 * Every x86_64 syscall (by number) from 0 to past the profile's highest, against a model of the default
 * profile built here from its JSON (not from the BPF): rules without arguments that apply to Docker's
 * default capabilities decide (the first one of a syscall wins), numbers above every named syscall
 * get ENOSYS, the rest EPERM.  Syscalls with argument rules are checked in the tests above.
 */
static bool applies_to(json_t *rule, uint64_t bounding)
{
        json_t *inc = json_object_get(rule, "includes"), *exc = json_object_get(rule, "excludes"), *v;
        size_t i;

        json_array_foreach (json_object_get(inc, "caps"), i, v)
                if (!(bounding & cap_bit(json_string_value(v))))
                        return false;
        if (json_object_get(inc, "arches")) {
                bool found = false;
                json_array_foreach (json_object_get(inc, "arches"), i, v)
                        found |= strcmp(json_string_value(v), "amd64") == 0;
                if (!found)
                        return false;
        }
        json_array_foreach (json_object_get(exc, "caps"), i, v)
                if (bounding & cap_bit(json_string_value(v)))
                        return false;
        json_array_foreach (json_object_get(exc, "arches"), i, v)
                if (strcmp(json_string_value(v), "amd64") == 0)
                        return false;
        /* minKernel: the default profile's only one is 4.8, below any kernel this runs on */
        return true;
}

TEST(every_syscall_default_profile)
{
        NEED_X86_64();
        _cleanup_json_ json_t *p = seccomp_default_profile();
        enum { UNKNOWN = -1, CONDITIONAL = -2 };
        static int want[1024];
        static Probe probes[1024];
        uint64_t bounding = docker_default_caps();
        json_t *rule, *name;
        size_t i, k, n = 0;
        int max = -1;

        for (i = 0; i < ELEMENTSOF(want); i++)
                want[i] = UNKNOWN;
        json_array_foreach (json_object_get(p, "syscalls"), i, rule) {
                bool args = json_array_size(json_object_get(rule, "args")) > 0, ok = applies_to(rule, bounding);
                const char *action = json_string_value(json_object_get(rule, "action"));
                json_array_foreach (json_object_get(rule, "names"), k, name) {
                        int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, json_string_value(name));
                        if (nr < 0 || nr >= (int)ELEMENTSOF(want))
                                continue;
                        if (nr > max)
                                max = nr;
                        if (!ok)
                                continue;
                        if (args)
                                want[nr] = CONDITIONAL;
                        else if (want[nr] == UNKNOWN)
                                want[nr] = strcmp(action, "SCMP_ACT_ALLOW") == 0
                                                   ? ALLOWED
                                                   : (int)json_integer_value(json_object_get(rule, "errnoRet"));
                }
        }
        ASSERT_TRUE(max > 400 && max + 8 < (int)ELEMENTSOF(want));
        /* uretprobe is never filtered: the kernel passes it through seccomp (since 6.14), and outside a
         * uprobe trampoline it raises SIGILL */
        int uretprobe = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "uretprobe");
        for (int nr = 0; nr <= max + 8; nr++) {
                if (want[nr] == CONDITIONAL || nr == uretprobe || (uretprobe < 0 && nr == 335))
                        continue;
                /* numbers no x86_64 syscall has (the 335..423 gap): what a kernel does there is its own */
                char *sname = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
                free(sname);
                if (!sname && nr <= max)
                        continue;
                probes[n++] = (Probe){ "syscall", nr, 0, 0, want[nr] == UNKNOWN ? (nr > max ? ENOSYS : EPERM) : want[nr] };
        }
        /* the labels: the numbers themselves, for the failure message */
        static char labels[1024][16];
        for (i = 0; i < n; i++) {
                snprintf(labels[i], sizeof(labels[i]), "nr %ld", probes[i].nr);
                probes[i].label = labels[i];
        }
        printf("# %zu syscall numbers checked (0..%d)\n", n, max + 8);
        check(probes, n, p, bounding, tap_failed);
}
