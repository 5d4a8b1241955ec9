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
 * "notify": the fallback where eBPF is unavailable (--recorder notify, or STOCKADE_SECCOMP_RECORDER=notify):
 * the container's own profile (the default, or its --security-opt seccomp=) with every SCMP_ACT_ALLOW
 * turned into SCMP_ACT_NOTIFY and a listenerPath of ours, written into its HostConfig before it
 * starts; a thread receives the notification fds the runtime sends (init and exec'd processes), notes
 * each (arch, number, first argument) and lets the call continue (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 * sendmsg cannot be notified (the runtime sends the fd with it), so it is always allowed and recorded.
 * Needs nothing but what running a container needs; costs two context switches per syscall.
 */
typedef struct SeccompRecorder SeccompRecorder;

typedef enum SeccompRecorderKind {
        SECCOMP_RECORDER_BPF,
        SECCOMP_RECORDER_NOTIFY,
} SeccompRecorderKind;

/* "bpf" (or NULL) or "notify"; -EINVAL for anything else */
int seccomp_recorder_kind(const char *s);

/* Starts recording container `id` (created, not started). */
int seccomp_recorder_start(Engine *e, SeccompRecorderKind kind, const char *id, bool with_args, SeccompRecorder **ret,
                           Error **err);
/* Stops and hands over what was seen; the recorder is freed. */
int seccomp_recorder_finish(SeccompRecorder *r, SeccompRecording *out, Error **err);
SeccompRecorder *seccomp_recorder_free(SeccompRecorder *r);
