/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "engine.h"
#include "error.h"
#include "seccomp-profile.h"

/*
 * Recording the syscalls of one container (`stockade seccomp record`, `run --seccomp-record`).
 *
 * "bpf" (the default): src/bpf/seccomp-record.bpf.c on raw_syscalls:sys_enter, keyed by the
 * container's cgroup2 id.  The cgroup2 directory the runtime will use (<mount>/<our 0:: path>/
 * stockade/<id>, as src/runtime/cgroup.c makes it) is created first so its id is known before the
 * container starts; the runtime reuses an existing directory.  Needs root (CAP_BPF + CAP_PERFMON or
 * CAP_SYS_ADMIN) and the kernel's BTF.
 *
 * "ptrace": the fallback where eBPF is unavailable (SECCOMP_RECORDER=ptrace or --recorder=ptrace):
 * the container's init is seized with PTRACE_SEIZE before `start` with fork, clone, vfork and exec
 * tracing, and every syscall stop of every thread is noted; recording starts at the first exec.
 */
typedef struct SeccompRecorder SeccompRecorder;

typedef enum SeccompRecorderKind {
        SECCOMP_RECORDER_BPF,
        SECCOMP_RECORDER_PTRACE,
} SeccompRecorderKind;

/* "bpf" or "ptrace"; -EINVAL for anything else */
int seccomp_recorder_kind(const char *s);

/* Starts recording container `id` (created, not started). */
int seccomp_recorder_start(SeccompRecorderKind kind, const char *id, bool with_args, SeccompRecorder **ret, Error **err);
/* Stops and hands over what was seen; the recorder is freed. */
int seccomp_recorder_finish(SeccompRecorder *r, SeccompRecording *out, Error **err);
SeccompRecorder *seccomp_recorder_free(SeccompRecorder *r);
