/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tracepoint-floor.bpf.c - an empty program on the sys_enter tracepoint (bench/bench-seccomp-record.sh):
 * what any syscall-entry hook this kernel offers costs before the recorder does anything.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter)
{
        return 0;
}

char LICENSE[] SEC("license") = "GPL";
