/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"

/*
 * process.apparmorProfile: the profile the process is confined by from its execve on.  The runtime
 * checks it before anything is created: a profile other than "unconfined" on a kernel without
 * AppArmor is an error (Docker runs such a container unconfined, silently).  The init opens its
 * thread's attr/apparmor/exec (or the older attr/exec) on the host's procfs before pivot_root, checks
 * the fd is procfs (CVE-2019-16884: a rootfs can bring a fake /proc), and writes "exec PROFILE" to
 * it as the last step before execve.
 */

/* AppArmor is enabled in this kernel (/sys/module/apparmor/parameters/enabled is "Y"). */
bool apparmor_enabled(void);
/* Is there anything to apply?  NULL, "" and "unconfined" are nothing. */
bool apparmor_wanted(const char *profile);
/* Checks the name, and that this kernel can apply it; `field` names the setting in errors. */
int apparmor_check(const char *profile, const char *field, Error **err);
/* Opens this thread's exec attribute on procfs; *ret_fd is -1 when nothing is wanted. */
int apparmor_open_exec_attr(const char *profile, int *ret_fd, Error **err);
/* Writes "exec PROFILE" to the attribute opened above (a no-op for fd -1). */
int apparmor_set_exec(int fd, const char *profile, Error **err);
