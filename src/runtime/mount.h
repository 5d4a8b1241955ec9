/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "spec.h"

/*
 * The container's root filesystem, set up by the container's init inside its new mount namespace.
 * Every destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), created without
 * following symlinks out of it, held as an O_PATH fd and mounted on through /proc/self/fd/N, so a
 * symlink swapped in by a racing container cannot redirect a mount to the host (CVE-2021-30465,
 * CVE-2024-45310).
 */
typedef struct RootfsCtx {
        const OciSpec *spec;    /* borrowed */
        const char *rootfs;     /* absolute host path of the rootfs, borrowed */
        int rootfd;             /* O_DIRECTORY fd of the rootfs once it is a mount point */
        bool userns;            /* in a new user namespace: no mknod */
        json_t *cgroup_paths;   /* the container's cgroup directories, borrowed (cgroup mounts) */
        const int *idmap_fds;   /* per mount: a detached idmapped tree prepared by the runtime, or -1 */
        int devnull_fd;         /* the host's /dev/null, verified as the 1:3 character device */
        bool terminal;          /* a /dev/console will be bound over the pty */
} RootfsCtx;

/* Parses mount options into flags, propagation, recursive attributes and data; for tests as well. */
typedef struct MountOpts {
        unsigned long flags;        /* MS_* set */
        unsigned long clear;        /* MS_* explicitly cleared (rw, suid, ...) */
        unsigned long propagation;  /* MS_SHARED etc., possibly | MS_REC */
        unsigned long long rattr_set, rattr_clr; /* MOUNT_ATTR_* applied recursively (rro, rnosuid...) */
        bool idmap, ridmap;
        bool tmpcopyup;             /* tmpfs only: the image's files at the destination are copied in */
        char *data;                 /* everything else, comma-joined; may be NULL */
} MountOpts;

int mount_opts_parse(char *const *options, MountOpts *ret, Error **err);
void mount_opts_done(MountOpts *o);

/*
 * Makes / a slave, binds the rootfs onto itself and does every mount and device of the spec.  It
 * needs nothing from the init's cgroup membership, so it runs while the runtime moves the init into
 * its cgroups (the slow step, see cgroup_prime()).
 */
int rootfs_prepare(RootfsCtx *c, Error **err);
/* Writes linux.sysctl through the container's procfs, then masks and write-protects paths. */
int rootfs_protect(RootfsCtx *c, Error **err);
/* pivot_root (or MS_MOVE + chroot with no_pivot) into the rootfs and detach the old root. */
int rootfs_pivot(RootfsCtx *c, bool no_pivot, Error **err);
/* After the pivot: read-only root and the root's propagation. */
int rootfs_finalize(RootfsCtx *c, Error **err);

/*
 * Opens `path` inside root (an O_PATH fd), creating missing components as directories (the last
 * as a file unless `dir`), never leaving the root.  For tests too.
 */
int open_in_root(int rootfd, const char *path, bool create, bool dir, int *ret_fd, Error **err);

/* Creates a detached idmapped clone of `source` for a bind mount with uid/gidMappings; runtime side. */
int idmap_prepare_mount(const OciMount *m, const MountOpts *o, int *ret_fd, Error **err);
