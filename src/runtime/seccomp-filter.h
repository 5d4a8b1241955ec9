/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/*
 * linux.seccomp compiled with libseccomp into a classic BPF program, then loaded with seccomp(2) as
 * the last step before execve.  Compiling happens early (in the init, while the runtime waits for
 * the kernel), loading late.
 *
 * Both the OCI form and Docker's profile format are read: Docker's adds `archMap`, the legacy
 * `name`, `comment`, and `includes`/`excludes` ({caps, arches, minKernel}) which keep or drop a rule
 * by the container's bounding capabilities, this machine's architecture and its kernel version, as
 * dockerd does before it hands the profile to runc.  Unknown syscall names are skipped with a
 * warning (a profile written for a newer kernel must still work on an older one); unknown actions,
 * operators, architectures or malformed entries are errors with the JSON path.
 *
 * Unless the default action allows, a stub runs in front of the libseccomp program: a syscall
 * numbered above every syscall the profile names (for its architecture) fails with ENOSYS, not the
 * default errno, so a libc built for a newer kernel falls back (clone3 -> clone) as runc arranges.
 */
typedef struct SeccompFilter {
        struct sock_fprog prog;
        unsigned flags;         /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
        char **warnings;        /* what compiling said (unknown syscalls...): said again on a cache hit */
        char *listener_path;    /* linux.seccomp.listenerPath, when a rule notifies (flags has NEW_LISTENER) */
        char *listener_metadata;
} SeccompFilter;

typedef struct SeccompContext {
        uint64_t bounding;              /* the container's bounding capabilities (bit per CAP_*) */
        unsigned kernel_major, kernel_minor; /* 0.0: this machine's, from uname */
} SeccompContext;

/* Compiles `j` (linux.seccomp) for the container described by `c` (NULL: no capabilities). */
int seccomp_compile(json_t *j, const SeccompContext *c, SeccompFilter **ret, Error **err);
/*
 * Compiled filters are kept in <root>/.seccomp-cache (0700, the runtime's own), one file per input:
 * the profile (canonical JSON), the bounding capabilities, the kernel, the architecture and the
 * libseccomp version make the key, which the file holds in full and a hit compares byte for byte.
 * Compiling Docker's default profile takes ~10 ms here; loading it from the cache a fraction of that.
 * seccomp_cache_open(fd of the runtime root) returns -1 when the cache cannot be used (compiling then happens every time).
 */
int seccomp_cache_open(int root_fd);
int seccomp_compile_cached(int cache_fd, json_t *j, const SeccompContext *c, SeccompFilter **ret, bool *ret_hit,
                           Error **err);

/*
 * Docker's profile format resolved into the plain OCI form for the container described by `c`
 * (archMap -> architectures, includes/excludes decided, `name` into `names`), for runc and crun.
 */
int seccomp_profile_resolve(json_t *j, const SeccompContext *c, json_t **ret, Error **err);
/* Loads the filter into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN. */
int seccomp_install(const SeccompFilter *f, Error **err);

/*
 * SCMP_ACT_NOTIFY: the filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER and the notification fd
 * is sent (SCM_RIGHTS) to the unix socket at linux.seccomp.listenerPath with the OCI
 * ContainerProcessState as payload: {"ociVersion", "fds": ["seccompFd"], "pid", "metadata"
 * (listenerMetadata), "state"}.  The socket is connected early, from the host's mount namespace
 * (seccomp_notify_connect: a no-op giving -1 for a filter that does not notify), and the fd sent
 * right after the load (seccomp_install_notify, which loads plain filters too).  A notified default
 * action, or a notified sendmsg, is refused when compiling: either would block before the listener
 * has the fd.
 */
int seccomp_notify_connect(const SeccompFilter *f, int *ret_sock, Error **err);
int seccomp_install_notify(const SeccompFilter *f, int sock, long pid, const char *state_json, Error **err);
SeccompFilter *seccomp_filter_free(SeccompFilter *f);
