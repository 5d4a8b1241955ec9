/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>

#include "error.h"

/*
 * linux.seccomp (the OCI form) compiled with libseccomp into a classic BPF program, then loaded with
 * seccomp(2) as the last step before execve.  Compiling happens early (in the init, while the runtime
 * waits for the kernel), loading late.  Unknown syscall names are skipped with a warning, as crun
 * does: a profile written for a newer kernel must still work on an older one.
 */
typedef struct SeccompFilter {
        struct sock_fprog prog;
        unsigned flags;         /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
} SeccompFilter;

/* Compiles `j` (linux.seccomp); *ret is NULL-free on success. */
int seccomp_compile(json_t *j, SeccompFilter **ret, Error **err);
/* Loads the filter into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN. */
int seccomp_install(const SeccompFilter *f, Error **err);
SeccompFilter *seccomp_filter_free(SeccompFilter *f);
