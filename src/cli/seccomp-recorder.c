/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recording a container's syscalls: the eBPF recorder (see seccomp-recorder.h). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "seccomp-record.skel.h"
#include "seccomp-recorder.h"
#include "util.h"

struct SeccompRecorder {
        SeccompRecorderKind kind;
        bool with_args;
        char *cgroup_dir;       /* made by us for the runtime; removed at the end if still there */
        struct seccomp_record_bpf *skel;
};

int seccomp_recorder_kind(const char *s)
{
        if (!s || STREQ(s, "bpf"))
                return SECCOMP_RECORDER_BPF;
        if (STREQ(s, "ptrace"))
                return SECCOMP_RECORDER_PTRACE;
        return -EINVAL;
}

/* libbpf's messages: kept (the last one) for the error, printed only with STOCKADE_DEBUG */
static char bpf_last_msg[512];
static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        char buf[512];
        int n;

        if (level == LIBBPF_DEBUG)
                return 0;
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        if (n > 0) {
                if (buf[strlen(buf) - 1] == '\n')
                        buf[strlen(buf) - 1] = '\0';
                snprintf(bpf_last_msg, sizeof(bpf_last_msg), "%s", buf);
        }
        if (getenv("STOCKADE_DEBUG"))
                fprintf(stderr, "libbpf: %s\n", buf);
        return 0;
}

/* What of CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) we lack, as a phrase; NULL when nothing. */
static const char *missing_caps(void)
{
        cap_t c = cap_get_proc();
        cap_flag_value_t admin = CAP_CLEAR, bpf = CAP_CLEAR, perf = CAP_CLEAR;
        const char *what = NULL;

        if (!c)
                return NULL;
        (void)cap_get_flag(c, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
        (void)cap_get_flag(c, CAP_BPF, CAP_EFFECTIVE, &bpf);
        (void)cap_get_flag(c, CAP_PERFMON, CAP_EFFECTIVE, &perf);
        cap_free(c);
        if (admin == CAP_SET || (bpf == CAP_SET && perf == CAP_SET))
                return NULL;
        if (bpf == CAP_SET)
                what = "CAP_PERFMON (or CAP_SYS_ADMIN)";
        else if (perf == CAP_SET)
                what = "CAP_BPF (or CAP_SYS_ADMIN)";
        else
                what = "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root";
        return what;
}

/* The cgroup2 directory src/runtime/cgroup.c will make for container `id`. */
static int cgroup2_dir_of(const char *id, char **ret, Error **err)
{
        _cleanup_fclose_ FILE *mi = NULL, *cg = NULL;
        _cleanup_free_ char *line = NULL, *mnt = NULL, *own = NULL;
        size_t cap = 0;

        mi = fopen("/proc/self/mountinfo", "re");
        if (!mi)
                return error_set(err, errno, "seccomp record: reading /proc/self/mountinfo");
        while (!mnt && getline(&line, &cap, mi) > 0) {
                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                char *sep = strstr(line, " - "), *f[5] = { 0 }, *save = NULL, *p = line;
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                for (int i = 0; i < 5 && (f[i] = strtok_r(p, " ", &save)); i++)
                        p = NULL;
                if (f[4])
                        mnt = xstrdup(f[4]);
        }
        if (!mnt)
                return error_setx(err, ENOENT,
                                  "seccomp record: no cgroup2 hierarchy is mounted (the eBPF recorder finds the "
                                  "container by its cgroup2 id; use --recorder=ptrace)");
        cg = fopen("/proc/self/cgroup", "re");
        if (!cg)
                return error_set(err, errno, "seccomp record: reading /proc/self/cgroup");
        while (!own && getline(&line, &cap, cg) > 0)
                if (str_has_prefix(line, "0::")) {
                        line[strcspn(line, "\n")] = '\0';
                        own = xstrdup(line + 3);
                }
        if (!own)
                return error_setx(err, ENOENT, "seccomp record: this process has no cgroup2 path (no \"0::\" line in /proc/self/cgroup)");
        *ret = xasprintf("%s%s%sstockade/%s", mnt, own, own[strlen(own) - 1] == '/' ? "" : "/", id);
        return 0;
}

static int start_bpf(SeccompRecorder *r, const char *id, Error **err)
{
        static const char *const arg_names[] = { "clone", "personality", "socket" };
        static const uint32_t arches[2] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86 };
        const char *miss;
        struct stat st;
        int k;

        if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
                return error_set(err, errno,
                                 "seccomp record: the eBPF recorder needs the kernel's BTF (/sys/kernel/btf/vmlinux, "
                                 "CONFIG_DEBUG_INFO_BTF); use --recorder=ptrace");
        if ((miss = missing_caps()))
                return error_setx(err, EPERM, "seccomp record: the eBPF recorder needs %s; or use --recorder=ptrace", miss);
        k = cgroup2_dir_of(id, &r->cgroup_dir, err);
        if (k < 0)
                return k;
        k = mkdir_p(r->cgroup_dir, 0755);
        if (k < 0)
                return error_set(err, -k, "seccomp record: creating the container's cgroup %s", r->cgroup_dir);
        if (stat(r->cgroup_dir, &st) < 0)
                return error_set(err, errno, "seccomp record: %s", r->cgroup_dir);

        libbpf_set_print(bpf_print);
        r->skel = seccomp_record_bpf__open();
        if (!r->skel)
                return error_set(err, errno, "seccomp record: opening the eBPF program%s%s", *bpf_last_msg ? ": " : "",
                                 bpf_last_msg);
        /* on cgroup2 the cgroup id is the directory's inode number (kernfs node id) */
        r->skel->rodata->target_cgid = (uint64_t)st.st_ino;
        r->skel->rodata->record_args = r->with_args;
        for (int row = 0; row < 2; row++)
                for (size_t i = 0; i < ELEMENTSOF(arg_names); i++)
                        r->skel->rodata->arg_nrs[row][i] = seccomp_syscall_resolve_name_arch(arches[row], arg_names[i]);
        k = seccomp_record_bpf__load(r->skel);
        if (k < 0)
                return error_set(err, -k, "seccomp record: loading the eBPF program%s%s", *bpf_last_msg ? " (" : "",
                                 *bpf_last_msg ? bpf_last_msg : "");
        k = seccomp_record_bpf__attach(r->skel);
        if (k < 0)
                return error_set(err, -k, "seccomp record: attaching to raw_syscalls:sys_enter");
        return 0;
}

int seccomp_recorder_start(SeccompRecorderKind kind, const char *id, bool with_args, SeccompRecorder **ret, Error **err)
{
        SeccompRecorder *r = xcalloc(1, sizeof(*r));
        int k;

        r->kind = kind;
        r->with_args = with_args;
        if (kind != SECCOMP_RECORDER_BPF) {
                seccomp_recorder_free(r);
                return error_setx(err, ENOTSUP, "seccomp record: recorder %d not built", (int)kind);
        }
        k = start_bpf(r, id, err);
        if (k < 0) {
                seccomp_recorder_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

static int finish_bpf(SeccompRecorder *r, SeccompRecording *out, Error **err)
{
        int ncpu = libbpf_num_possible_cpus(), fd;
        uint32_t zero = 0;
        SeccompArgSeen key, next;
        void *prev = NULL;

        if (ncpu <= 0)
                return error_set(err, -ncpu, "seccomp record: counting CPUs");
        /* stop first: nothing changes while we read */
        seccomp_record_bpf__detach(r->skel);
        {
                _cleanup_free_ struct { uint64_t w[SECCOMP_REC_ROWS][SECCOMP_REC_WORDS]; } *v = xcalloc((size_t)ncpu, sizeof(*v));
                if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.seen), &zero, v) < 0)
                        return error_set(err, errno, "seccomp record: reading the syscall bitmap");
                for (int c = 0; c < ncpu; c++)
                        for (int row = 0; row < SECCOMP_REC_ROWS; row++)
                                for (int w = 0; w < SECCOMP_REC_WORDS; w++)
                                        out->seen[row][w] |= v[c].w[row][w];
        }
        out->dropped += r->skel->bss->dropped;
        out->with_args = r->with_args;
        fd = bpf_map__fd(r->skel->maps.arg_values);
        /* same layout as struct rec_arg_key: u32 row, u32 nr, u64 value */
        while (bpf_map_get_next_key(fd, prev, &next) == 0) {
                seccomp_recording_add_arg(out, next.row, next.nr, next.value);
                key = next;
                prev = &key;
        }
        return 0;
}

int seccomp_recorder_finish(SeccompRecorder *r, SeccompRecording *out, Error **err)
{
        int k = finish_bpf(r, out, err);
        seccomp_recorder_free(r);
        return k;
}

SeccompRecorder *seccomp_recorder_free(SeccompRecorder *r)
{
        if (!r)
                return NULL;
        if (r->skel)
                seccomp_record_bpf__destroy(r->skel);
        if (r->cgroup_dir)
                (void)rmdir(r->cgroup_dir); /* the runtime removes it when the container is deleted; else us */
        free(r->cgroup_dir);
        free(r);
        return NULL;
}
