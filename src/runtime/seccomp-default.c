/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The built-in default seccomp profile, in Docker's profile format, with the semantics of Docker's
 * default (docs/SECCOMP.md): everything an ordinary program needs is allowed; what can escape or
 * harm the host (mount, unshare, setns, bpf, keyctl, kexec, reboot, modules, open_by_handle_at,
 * userfaultfd, io_uring, ...) is refused with EPERM unless the container holds the capability that
 * would allow it; clone with namespace flags needs CAP_SYS_ADMIN, and without it clone3 fails with
 * ENOSYS so that libc falls back to clone, whose flags the filter can see.
 */
#include <seccomp.h>
#include <string.h>

#include "seccomp-default.h"
#include "util.h"

/* Allowed whatever the capabilities.  Docker 20.10's list for x86_64, without io_uring_* (refused
 * since Docker 25) and socket (allowed below for every family but AF_VSOCK), plus the harmless
 * syscalls kernels added since (cachestat ... uretprobe). */
static const char *const allow_always[] = {
        "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk",
        "cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
        "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range",
        "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
        "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
        "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
        "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
        "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
        "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
        "futex_wake", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
        "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
        "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
        "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage",
        "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
        "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
        "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
        "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
        "listxattr", "listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
        "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd",
        "msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64",
        "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
        "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
        "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
        "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
        "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
        "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
        "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
        "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
        "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
        "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx",
        "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
        "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
        "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit",
        "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64",
        "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        NULL,
};

typedef struct Group {
        const char *cap;                /* NULL: no capability needed */
        const char *const names[16];
} Group;

/* Allowed only when the container's bounding set holds `cap` (Docker's includes.caps). */
static const Group cap_groups[] = {
        { "CAP_SYS_ADMIN", { "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                             "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                             "quotactl", NULL } },
        { "CAP_SYS_ADMIN", { "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
                             "unshare", "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", NULL } },
        { "CAP_DAC_READ_SEARCH", { "open_by_handle_at", NULL } },
        { "CAP_SYS_BOOT", { "reboot", NULL } },
        { "CAP_SYS_CHROOT", { "chroot", NULL } },
        { "CAP_SYS_MODULE", { "delete_module", "init_module", "finit_module", NULL } },
        { "CAP_SYS_PACCT", { "acct", NULL } },
        { "CAP_SYS_PTRACE", { "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
                              NULL } },
        { "CAP_SYS_RAWIO", { "iopl", "ioperm", NULL } },
        { "CAP_SYS_TIME", { "settimeofday", "stime", "clock_settime", "clock_settime64", NULL } },
        { "CAP_SYS_TTY_CONFIG", { "vhangup", NULL } },
        { "CAP_SYS_NICE", { "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", NULL } },
        { "CAP_SYSLOG", { "syslog", NULL } },
        { "CAP_BPF", { "bpf", NULL } },
        { "CAP_PERFMON", { "perf_event_open", NULL } },
};

/* Allowed only on some architectures (Docker's includes.arches, Go's names). */
static const struct {
        const char *arches[3];
        const char *const names[8];
} arch_groups[] = {
        { { "amd64", "x32", NULL }, { "arch_prctl", NULL } },
        { { "amd64", "x32", "386" }, { "modify_ldt", NULL } },
        { { "arm", "arm64", NULL }, { "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                                      "cacheflush", "set_tls", NULL } },
        { { "ppc64le", NULL, NULL }, { "sync_file_range2", "swapcontext", NULL } },
        { { "s390", "s390x", NULL }, { "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr", NULL } },
        { { "riscv64", NULL, NULL }, { "riscv_flush_icache", NULL } },
};

/* personality(2) values a container may ask for: Linux, Linux32, UNAME26 with both, and the query. */
static const uint64_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* The namespace flags of clone(2) (CLONE_NEWNS ... CLONE_NEWNET, CLONE_NEWCGROUP): refused without CAP_SYS_ADMIN. */
#define CLONE_NS_MASK 0x7E020000ULL

/* Only names this libseccomp knows: the profile printed is the one this build enforces. */
static json_t *names_array(const char *const *names)
{
        json_t *a = json_array();
        for (size_t i = 0; names[i]; i++)
                if (seccomp_syscall_resolve_name(names[i]) != __NR_SCMP_ERROR)
                        json_array_append_new(a, json_string(names[i]));
        return a;
}

static void add(json_t *syscalls, json_t *names, const char *action, json_t *extra)
{
        json_t *e;
        if (json_array_size(names) == 0) {
                json_decref(names);
                json_decref(extra);
                return;
        }
        e = json_pack("{s:o,s:s}", "names", names, "action", action);
        if (extra) {
                json_object_update(e, extra);
                json_decref(extra);
        }
        json_array_append_new(syscalls, e);
}

json_t *seccomp_default_profile(void)
{
        json_t *p = json_object(), *sc = json_array();
        const char *one[2] = { NULL, NULL };

        json_object_set_new(p, "defaultAction", json_string("SCMP_ACT_ERRNO"));
        json_object_set_new(p, "defaultErrnoRet", json_integer(1));
        json_object_set_new(p, "archMap",
                            json_pack("[{s:s,s:[s,s]},{s:s,s:[s]},{s:s,s:[s]},{s:s,s:[]},{s:s,s:[]}]", "architecture",
                                      "SCMP_ARCH_X86_64", "subArchitectures", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                      "architecture", "SCMP_ARCH_AARCH64", "subArchitectures", "SCMP_ARCH_ARM",
                                      "architecture", "SCMP_ARCH_S390X", "subArchitectures", "SCMP_ARCH_S390",
                                      "architecture", "SCMP_ARCH_PPC64LE", "subArchitectures", "architecture",
                                      "SCMP_ARCH_RISCV64", "subArchitectures"));
        add(sc, names_array(allow_always), "SCMP_ACT_ALLOW", NULL);
        one[0] = "socket";
        add(sc, names_array(one), "SCMP_ACT_ALLOW",
            json_pack("{s:s,s:[{s:i,s:i,s:s}]}", "comment", "every address family but AF_VSOCK (40)", "args", "index", 0,
                      "value", 40, "op", "SCMP_CMP_NE"));
        {
                /* ptrace is safe to allow since 4.8, when seccomp started to re-check a traced syscall */
                static const char *const traced[] = { "process_vm_readv", "process_vm_writev", "ptrace", NULL };
                add(sc, names_array(traced), "SCMP_ACT_ALLOW", json_pack("{s:{s:s}}", "includes", "minKernel", "4.8"));
        }
        one[0] = "personality";
        for (size_t i = 0; i < ELEMENTSOF(personalities); i++)
                add(sc, names_array(one), "SCMP_ACT_ALLOW",
                    json_pack("{s:[{s:i,s:I,s:s}]}", "args", "index", 0, "value", (json_int_t)personalities[i], "op",
                              "SCMP_CMP_EQ"));
        for (size_t i = 0; i < ELEMENTSOF(arch_groups); i++) {
                json_t *arches = json_array();
                for (size_t k = 0; k < 3 && arch_groups[i].arches[k]; k++)
                        json_array_append_new(arches, json_string(arch_groups[i].arches[k]));
                add(sc, names_array(arch_groups[i].names), "SCMP_ACT_ALLOW",
                    json_pack("{s:{s:o}}", "includes", "arches", arches));
        }
        for (size_t i = 0; i < ELEMENTSOF(cap_groups); i++)
                add(sc, names_array(cap_groups[i].names), "SCMP_ACT_ALLOW",
                    json_pack("{s:{s:[s]}}", "includes", "caps", cap_groups[i].cap));
        /* Without CAP_SYS_ADMIN: clone without namespace flags (the flags are argument 1 on s390),
         * and clone3, whose flags sit in memory the filter cannot read, fails with ENOSYS. */
        one[0] = "clone";
        add(sc, names_array(one), "SCMP_ACT_ALLOW",
            json_pack("{s:[{s:i,s:I,s:I,s:s}],s:{s:[s],s:[s,s]}}", "args", "index", 0, "value", (json_int_t)CLONE_NS_MASK,
                      "valueTwo", (json_int_t)0, "op", "SCMP_CMP_MASKED_EQ", "excludes", "caps", "CAP_SYS_ADMIN", "arches",
                      "s390", "s390x"));
        add(sc, names_array(one), "SCMP_ACT_ALLOW",
            json_pack("{s:[{s:i,s:I,s:I,s:s}],s:{s:[s,s]},s:{s:[s]}}", "args", "index", 1, "value",
                      (json_int_t)CLONE_NS_MASK, "valueTwo", (json_int_t)0, "op", "SCMP_CMP_MASKED_EQ", "includes", "arches",
                      "s390", "s390x", "excludes", "caps", "CAP_SYS_ADMIN"));
        one[0] = "clone3";
        add(sc, names_array(one), "SCMP_ACT_ERRNO",
            json_pack("{s:i,s:{s:[s]}}", "errnoRet", 38, "excludes", "caps", "CAP_SYS_ADMIN"));
        json_object_set_new(p, "syscalls", sc);
        return p;
}
