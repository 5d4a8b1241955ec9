/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/*
 * The last steps before the container process runs, shared by the container's init and `exec`:
 * rlimits, the user and groups, capabilities, no_new_privs, umask and working directory.  Each
 * failure names its OCI setting and the errno.
 */
int process_setup_rlimits(const OciProcess *p, Error **err);
int process_setup_identity(const OciProcess *p, bool in_userns, Error **err);
/* process.ioPriority, process.scheduler and process.execCPUAffinity.final, for the process itself. */
int process_setup_sched(const OciProcess *p, Error **err);
/* chdir to process.cwd and check that the result is inside the container (CVE-2024-21626). */
int process_setup_cwd(const OciProcess *p, Error **err);
/* Resolves args[0] with the process's PATH, inside the current root. Caller frees. */
/* Joins a new anonymous session keyring: the container never sees the caller's keys (as runc does). */
int process_new_session_keyring(Error **err);
int process_find_executable(const OciProcess *p, char **ret, Error **err);
/* Marks every fd >= 3 + preserve_fds close-on-exec (CVE-2024-21626); the preserved ones inheritable. */
int process_close_fds(int preserve_fds, Error **err);
/* Executes the process. Returns only on failure. */
int process_exec(const OciProcess *p, const char *exe, Error **err);

/* Writes oom_score_adj of pid through the runtime's procfs; names CAP_SYS_RESOURCE when refused. */
int process_set_oom_score_adj(pid_t pid, int value, Error **err);
