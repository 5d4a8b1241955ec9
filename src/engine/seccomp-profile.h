/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The pure half of `stockade seccomp record|check|diff`: what a recording holds, the minimal
 * Docker-format profile made from it, merging with a base profile, and the diff of two profiles.
 * No kernel access here (the recorders are src/cli/seccomp-recorder.c); unit-tested.
 */

#define SECCOMP_REC_ROWS 2      /* 0: x86_64, 1: its 32-bit compat (x86) */
#define SECCOMP_REC_WORDS 16    /* 1024 syscall numbers per row, as src/bpf/seccomp-record.bpf.c */
#define SECCOMP_REC_MAX_ARGS 4096

typedef struct SeccompArgSeen {
        uint32_t row, nr;
        uint64_t value;         /* the first argument */
} SeccompArgSeen;

typedef struct SeccompRecording {
        uint64_t seen[SECCOMP_REC_ROWS][SECCOMP_REC_WORDS];
        bool with_args;         /* args[] is meaningful: emit argument rules */
        SeccompArgSeen *args;
        size_t n_args;
        uint64_t dropped;       /* events the recorder could not keep (x32 numbers, a full table) */
} SeccompRecording;

void seccomp_recording_add(SeccompRecording *r, unsigned row, unsigned nr);
void seccomp_recording_add_arg(SeccompRecording *r, unsigned row, unsigned nr, uint64_t value);
void seccomp_recording_clear(SeccompRecording *r);

/* The syscalls whose first argument Docker's profile filters (clone flags, personality, socket family). */
extern const char *const seccomp_arg_syscalls[];

/*
 * The syscalls the runtime itself makes after it loaded the filter (docs/SECCOMP.md, "When the
 * filter is loaded"): few with no_new_privs, more without (the filter then goes in before the
 * identity and capabilities change).
 */
extern const char *const seccomp_runtime_nnp[];
extern const char *const seccomp_runtime_no_nnp[];

/*
 * The minimal profile: defaultAction SCMP_ACT_ERRNO (EPERM), architectures x86_64, x86 and x32 as
 * Docker lists them for amd64, one SCMP_ACT_ALLOW rule with the sorted names seen (either row) plus
 * the runtime's (`nnp` picks the list); with r->with_args, each syscall of seccomp_arg_syscalls
 * instead gets Docker-style rules on the values seen.  Returns a new reference.
 */
json_t *seccomp_profile_from_recording(const SeccompRecording *r, bool nnp);

/*
 * Union with `base` (a Docker-format profile, already validated by the caller's parse): every name
 * of its SCMP_ACT_ALLOW rules without conditions joins the allow list; its ALLOW rules with args,
 * includes or excludes are appended unchanged for names not already allowed outright.  Other actions
 * are dropped (the recorded profile's default refuses anyway).  Modifies `profile`.
 */
int seccomp_profile_merge(json_t *profile, json_t *base, Error **err);

/*
 * What changed from `a` to `b`: "+ name (ACTION)" for syscalls only b names, "- name (ACTION)" for
 * those only a names, "~ name: A -> B" for changed actions (a rule with args reads
 * "ACTION if args"), and the default action when it differs; sorted by name.  *ret_text is
 * empty when the profiles agree.  Errors name the field (`syscalls[3].names`).
 */
int seccomp_profile_diff(json_t *a, json_t *b, char **ret_text, Error **err);

/* Reads a profile file (at most 4 MiB): missing file and invalid JSON (with line and column) are errors naming the path. */
int seccomp_profile_read(const char *path, json_t **ret, Error **err);
