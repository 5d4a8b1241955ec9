/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `stockade seccomp record`: notes which syscalls one container makes (raw_syscalls:sys_enter).
 *
 * The container is its cgroup2 cgroup: the recorder makes the directory the runtime will use before
 * the container starts and gives its id here (target_cgid).  Every process has a cgroup2 path, also
 * on a hybrid host whose unified hierarchy holds no controllers, so the test is a few pointer loads,
 * threads and forked children included, on v2 and hybrid alike.
 *
 * Before the container's first execve its processes are the runtime's (mounts, pivot_root...): those
 * syscalls are not the workload's, so counting starts at the first exec inside the cgroup
 * (sched_process_exec).  The few calls the runtime makes after its filter is loaded are added by
 * the user-space side.
 *
 * Seen syscalls go into a per-CPU bitmap (no atomics, no shared cache line), native x86_64 numbers in
 * row 0 and 32-bit compat ones (TS_COMPAT in the thread's status) in row 1.  With record_args, the
 * first argument of the few syscalls Docker's profile filters by argument goes into a hash of
 * (row, number, value).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* CO-RE: only the fields read, relocated against the kernel's BTF at load. */
struct thread_info {
        __u32 status;
} __attribute__((preserve_access_index));
struct kernfs_node {
        __u64 id;
} __attribute__((preserve_access_index));
struct cgroup {
        struct kernfs_node *kn;
} __attribute__((preserve_access_index));
struct css_set {
        struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));
struct task_struct {
        struct thread_info thread_info;
        struct css_set *cgroups;
} __attribute__((preserve_access_index));

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h: a 32-bit syscall is running */

struct pt_regs {
        unsigned long bx;       /* the first argument of a 32-bit call */
        unsigned long di;       /* the first argument of a 64-bit call */
} __attribute__((preserve_access_index));

#define REC_ROWS 2
#define REC_WORDS 16 /* 1024 numbers per row */
#define REC_ARG_NRS 4

struct rec_bitmap {
        __u64 w[REC_ROWS][REC_WORDS];
};

struct rec_arg_key {
        __u32 row;
        __u32 nr;
        __u64 value;
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct rec_bitmap);
} seen SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4096);
        __type(key, struct rec_arg_key);
        __type(value, __u8);
} arg_values SEC(".maps");

const volatile __u64 target_cgid = 0;
const volatile __u32 record_args = 0;
/* syscall numbers whose first argument is recorded, per row; -1 ends */
const volatile __s32 arg_nrs[REC_ROWS][REC_ARG_NRS] = { { -1, -1, -1, -1 }, { -1, -1, -1, -1 } };

__u32 armed = 0;
__u64 dropped = 0; /* numbers out of range (x32's, above 1023) and full arg_values */

/*
 * BTF-typed raw tracepoints (tp_btf): the program gets the tracepoint's own arguments, with none of
 * the perf buffer a classic tracepoint program fills first (which doubled the cost of a getppid()).
 */
/*
 * The task's cgroup2 id, read through BTF pointers (CO-RE relocated) as bpf_get_current_cgroup_id()
 * computes it, without the helper call: every syscall of the machine runs this test while a recording
 * is on, and the call measured ~15 ns of a ~110 ns floor here (bench/README.md).
 */
static __always_inline int in_target(struct task_struct *t)
{
        return t->cgroups->dfl_cgrp->kn->id == target_cgid;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(rec_exec)
{
        if (!armed && in_target(bpf_get_current_task_btf()))
                armed = 1;
        return 0;
}

static __always_inline int note(__u32 row, long id, unsigned long arg0)
{
        struct rec_bitmap *b;
        __u32 zero = 0, nr;
        __u64 bit;

        if (id < 0)
                return 0;
        if (id >= REC_WORDS * 64) {
                __sync_fetch_and_add(&dropped, 1);
                return 0;
        }
        nr = (__u32)id;
        b = bpf_map_lookup_elem(&seen, &zero);
        if (!b)
                return 0;
        bit = 1ULL << (nr & 63);
        if (!(b->w[row][nr >> 6] & bit))
                b->w[row][nr >> 6] |= bit;
        if (record_args) {
                for (int i = 0; i < REC_ARG_NRS; i++) {
                        if (arg_nrs[row][i] != (__s32)nr)
                                continue;
                        struct rec_arg_key k = { .row = row, .nr = nr, .value = arg0 };
                        __u8 one = 1;
                        if (row == 1)
                                k.value &= 0xffffffffULL;
                        if (bpf_map_update_elem(&arg_values, &k, &one, BPF_NOEXIST) == -7 /* E2BIG */)
                                __sync_fetch_and_add(&dropped, 1);
                        break;
                }
        }
        return 0;
}

/*
 * Where the kernel has them (x86 since 6.9), fentry on the syscall tables' dispatchers: the row comes
 * from which one runs, and no task is sent down the tracing slow path that an enabled sys_enter
 * tracepoint imposes on every syscall of the machine (measured: ~200 ns per getppid() here, against
 * a few ns for these).  Both run after seccomp, as the tracepoint does.
 */
SEC("fentry/x64_sys_call")
int BPF_PROG(rec_x64, const struct pt_regs *regs, unsigned int nr)
{
        if (!armed || !in_target(bpf_get_current_task_btf()))
                return 0;
        return note(0, nr, regs->di);
}

SEC("fentry/ia32_sys_call")
int BPF_PROG(rec_ia32, const struct pt_regs *regs, unsigned int nr)
{
        if (!armed || !in_target(bpf_get_current_task_btf()))
                return 0;
        return note(1, nr, regs->bx);
}

/* Elsewhere the tracepoint; 32-bit calls are told apart by TS_COMPAT in the thread's status. */
SEC("tp_btf/sys_enter")
int BPF_PROG(rec_sys_enter, struct pt_regs *regs, long id)
{
        struct task_struct *t;

        if (!armed)
                return 0;
        /* a BTF pointer: read directly (CO-RE relocated), no probe-read helper call */
        t = bpf_get_current_task_btf();
        if (!in_target(t))
                return 0;
        if (t->thread_info.status & TS_COMPAT)
                return note(1, id, regs->bx);
        return note(0, id, regs->di);
}

char LICENSE[] SEC("license") = "GPL";
