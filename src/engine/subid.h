/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

/*
 * Subordinate ids for user-namespace remapping (issue 8; docs/USERNS.md).
 *
 * - /etc/subuid and /etc/subgid (subuid(5): "owner:start:count", owner a user name or a uid) are
 *   parsed as shadow-utils reads them: duplicate and overlapping ranges are allowed, malformed lines
 *   are reported ("path:line: reason") and kept byte for byte when the file is rewritten.
 * - daemon.json `userns-remap` ("default", "user", "user:group", "uid", "uid:gid") is resolved as
 *   dockerd resolves it: every range of the user (matched by name and by uid, in file order, in
 *   both files) becomes the OCI uidMappings/gidMappings, container ids continuing from one range to
 *   the next.  "default" creates the user dockremap if missing (through a callback) and appends the
 *   first free 65536 ids at or above 100000 to each file that has no range for it.
 * - `--userns=auto` leases each container its own range out of a pool, recorded in a registry file
 *   under the data root.
 *
 * Files are edited under shadow-utils' own locks (see subid_file_lock()), replaced atomically
 * (temporary file beside the original with its owner and mode, fsync, rename, fsync of the directory).
 * Nothing here logs: warnings come back as strings for the caller to print.
 */

#define SUBID_DEFAULT_USER    "dockremap"
#define SUBID_DEFAULT_START   100000u
#define SUBID_DEFAULT_COUNT   65536u
/* Bytes of a subuid/subgid, passwd or group file read at most. */
#define SUBID_FILE_MAX        (32u << 20)
/* Longer lines are malformed (kept verbatim, never parsed). */
#define SUBID_LINE_MAX        4096u
#define SUBID_OWNER_MAX       256u
/* The kernel takes at most 340 lines in uid_map/gid_map (Linux >= 4.15). */
#define SUBID_MAPPINGS_MAX    340u
/* Leases the auto registry holds at most. */
#define SUBID_AUTO_LEASES_MAX 65536u
/* How long a lock is waited for unless SubidConfig says otherwise (glibc's lckpwdf() waits 15 s). */
#define SUBID_LOCK_TIMEOUT_MS 15000u

/* A range of host ids.  start + count <= UINT32_MAX: the id 4294967295 ((uid_t)-1) is never included. */
typedef struct SubidRange {
        uint32_t start;
        uint32_t count;
} SubidRange;

/* One valid line of a subuid/subgid file. */
typedef struct SubidEntry {
        char *owner;   /* user name or decimal uid, as written */
        uint32_t start;
        uint32_t count;
        unsigned line; /* 1-based */
} SubidEntry;

/* A malformed line: not an entry, kept verbatim. */
typedef struct SubidBadLine {
        unsigned line;
        char *owner;   /* the text before the first ':' (NULL when there is none), to tie it to a user */
        char *message; /* "path:line: reason" */
} SubidBadLine;

/* A parsed subuid or subgid file.  `data` holds the bytes exactly as read. */
typedef struct SubidFile {
        char *path;
        char *data;
        size_t len;
        SubidEntry *entries;
        size_t n_entries;
        SubidBadLine *bad;
        size_t n_bad;
} SubidFile;

/*
 * Parses the text of a subuid/subgid file (`path` only names it in messages).  Never fails: comments
 * ('#' as the first non-blank byte) and blank lines are skipped, malformed lines land in `bad`.
 */
SubidFile *subid_file_parse(const char *path, const char *data, size_t len);
/* Reads and parses path; a missing file is an empty one.  A symlink or a non-regular file is an error. */
int subid_file_load(const char *path, SubidFile **ret, Error **err);
SubidFile *subid_file_free(SubidFile *f);
DEFINE_CLEANUP_FUNC(SubidFile, subid_file_free)

/*
 * Every range of a user, in file order: lines whose owner is `name` or the decimal `uid` (pass
 * (uid_t)-1 to match by name only).  Returns the number found (0: none; *ret is then NULL).
 */
size_t subid_file_find(const SubidFile *f, const char *name, uid_t uid, SubidRange **ret);
/* The first malformed line whose owner field is name or uid, or NULL. */
const SubidBadLine *subid_file_find_bad(const SubidFile *f, const char *name, uid_t uid);
/*
 * The first range of `count` ids at or above `min` that overlaps no entry of any owner (dockerd's and
 * shadow's choice: entries sorted by start, the candidate moved past each one it overlaps).  -ENOSPC
 * if none fits below 2^32 - 1.
 */
int subid_file_next_free(const SubidFile *f, uint32_t min, uint32_t count, uint32_t *ret_start);
/*
 * The file's bytes with "owner:start:count\n" appended (a "\n" first if the last line lacks one):
 * every existing byte is kept.  Caller frees *ret.
 */
void subid_file_render_append(const SubidFile *f, const char *owner, uint32_t start, uint32_t count, char **ret,
                              size_t *ret_len);

/*
 * Locks a subuid/subgid file against other stockade processes and against shadow-utils, with shadow's
 * own protocol (lib/commonio.c, verified against Debian 12's shadow 4.13 with strace):
 *   1. an open-file-description write lock on `.pwd.lock` in the file's directory (/etc/.pwd.lock:
 *      glibc's lckpwdf(), which useradd, usermod, newusers take unless run with --prefix); OFD locks
 *      conflict with lckpwdf()'s POSIX record lock and, unlike those, between threads too;
 *   2. "<path>.lock" created by link(2) from "<path>.<pid>" holding our pid, the lock every shadow tool
 *      takes (with --prefix the only one).  A lock whose pid is dead is broken, as shadow breaks it;
 *      step 1 makes sure two stockade processes never race to break the same one.
 * Both are retried until timeout_ms (0: SUBID_LOCK_TIMEOUT_MS); -ETIMEDOUT names the holder.  Released
 * (both) by subid_file_unlock().
 */
typedef struct SubidLock SubidLock;
int subid_file_lock(const char *path, unsigned timeout_ms, SubidLock **ret, Error **err);
SubidLock *subid_file_unlock(SubidLock *l);
DEFINE_CLEANUP_FUNC(SubidLock, subid_file_unlock)

/*
 * Under the lock: if path has no range for name/uid, appends "name:START:count" with the first free
 * START at or above min and replaces the file atomically.  *ret_added (optional) tells whether a line
 * was added.  A malformed line of the user is an error (never papered over with a second range).
 */
int subid_file_ensure_range(const char *path, const char *name, uid_t uid, uint32_t min, uint32_t count,
                            unsigned timeout_ms, bool *ret_added, Error **err);

/* One line of an OCI uidMappings/gidMappings list. */
typedef struct SubidMapping {
        uint32_t container_id;
        uint32_t host_id;
        uint32_t size;
} SubidMapping;

/*
 * Ranges (in order) → mappings: container id 0 is the first range's start, each next range continues
 * at the sum of the previous counts.  `what` names the source in errors ("/etc/subuid, user alice").
 * More than SUBID_MAPPINGS_MAX ranges, or container ids past 2^32 - 1, are errors.
 */
int subid_mappings_build(const SubidRange *ranges, size_t n, const char *what, SubidMapping **ret, size_t *ret_n,
                         Error **err);
/* OCI's [{"containerID":0,"hostID":100000,"size":65536}, ...] (new reference). */
json_t *subid_mappings_json(const SubidMapping *m, size_t n);

/*
 * Creates a user for "default" (dockremap).  Returns 0 when the user exists afterwards (created by
 * this call or by someone else meanwhile), else a negative errno with *err set.
 */
typedef int (*SubidCreateUserFn)(const char *name, void *userdata, Error **err);

/*
 * The default SubidCreateUserFn: runs `useradd --system --no-create-home --shell /usr/sbin/nologin
 * --user-group NAME` (the user dockerd creates), with `--prefix DIR` or `--root DIR` when set.  Exit
 * status 9 (name in use: a concurrent creator won) counts as success.  Pass a SubidUseradd as userdata
 * (NULL: /usr/sbin/useradd, no prefix).
 */
typedef struct SubidUseradd {
        const char *useradd; /* NULL: /usr/sbin/useradd */
        const char *prefix;  /* --prefix DIR (Debian 12's shadow 4.13): DIR's etc, no chroot, no lckpwdf */
        const char *root;    /* --root DIR (chroot) */
} SubidUseradd;
int subid_useradd(const char *name, void *userdata, Error **err);

typedef struct SubidConfig {
        const char *subuid_path; /* NULL: /etc/subuid */
        const char *subgid_path; /* NULL: /etc/subgid */
        const char *passwd_path; /* NULL: the system's user database through NSS (getpwnam_r) */
        const char *group_path;  /* NULL: NSS (getgrnam_r) */
        SubidCreateUserFn create_user; /* NULL: "default" without dockremap is an error */
        void *create_user_data;
        unsigned lock_timeout_ms; /* 0: SUBID_LOCK_TIMEOUT_MS */
} SubidConfig;

/* A resolved userns-remap setting. */
typedef struct SubidRemap {
        char *user;
        uid_t uid;
        char *group; /* recorded as dockerd records it ("dockremap:dockremap"); ranges come from the user */
        gid_t gid;
        SubidMapping *uid_map;
        size_t n_uid_map;
        SubidMapping *gid_map;
        size_t n_gid_map;
        bool created_user;  /* this call ran create_user */
        bool added_subuid;  /* this call appended a line to the subuid file */
        bool added_subgid;
        char **warnings;    /* malformed lines of the files ("path:line: reason"), NULL-terminated, may be NULL */
} SubidRemap;

/*
 * Resolves a userns-remap value ("default", "user", "user:group", "uid", "uid:gid") into the user,
 * its group and the mappings from every subuid and subgid range of the user, matched by name or uid
 * as dockerd matches them (subgid ranges too are the user's, as in dockerd's LoadIdentityMapping).
 * "default" creates dockremap and its ranges when missing; the other forms never edit anything.
 * Root (by name or uid 0) is refused: dockerd would silently run without remapping.
 */
int subid_remap_resolve(const SubidConfig *cfg, const char *spec, SubidRemap **ret, Error **err);
SubidRemap *subid_remap_free(SubidRemap *r);
DEFINE_CLEANUP_FUNC(SubidRemap, subid_remap_free)

/* The ranges of a user in one file (by name or uid), or an error naming the file and the user. */
int subid_user_ranges(const char *path, const char *name, uid_t uid, SubidRange **ret, size_t *ret_n, Error **err);

/*
 * --userns=auto: a registry of leases, <registry_dir>/auto.json (e.g. <data-root>/userns/auto.json),
 * read and replaced atomically (fsync'ed) under flock on <registry_dir>/auto.lock.  Each container
 * holds one contiguous range of `size` host uids and one of host gids (each maps container ids
 * 0..size-1), taken from the pools at the lowest start that overlaps no other lease, so a range is
 * never given twice while leased.
 */
typedef struct SubidAutoPool {
        const SubidRange *uid;
        size_t n_uid;
        const SubidRange *gid;
        size_t n_gid;
} SubidAutoPool;

typedef struct SubidAutoLease {
        uint32_t uid_start;
        uint32_t gid_start;
        uint32_t size;
} SubidAutoLease;

/* Whether a container still exists: 1 yes, 0 no, negative unknown (then it is kept). */
typedef int (*SubidAliveFn)(const char *container_id, void *userdata);

/*
 * Leases container_id a range of `size` ids (0: SUBID_DEFAULT_COUNT) from each pool; an existing lease
 * of the same container and size is returned as is.  When the pools are full and `alive` is given,
 * leases of containers that no longer exist are dropped and the allocation retried.  Call it once the
 * container's record exists, so a concurrent reclaim sees it alive.
 */
int subid_auto_alloc(const char *registry_dir, const SubidAutoPool *pool, uint32_t size, const char *container_id,
                     SubidAliveFn alive, void *userdata, SubidAutoLease *ret, Error **err);
/* 1 and *ret when container_id holds a lease, 0 when not. */
int subid_auto_get(const char *registry_dir, const char *container_id, SubidAutoLease *ret, Error **err);
/* Drops container_id's lease: 1 when there was one, 0 when not (no registry is no lease). */
int subid_auto_release(const char *registry_dir, const char *container_id, Error **err);
/* Drops every lease whose container `alive` says is gone; *ret_n (optional) the number dropped. */
int subid_auto_reclaim(const char *registry_dir, SubidAliveFn alive, void *userdata, size_t *ret_n, Error **err);

/* The registry's JSON text → leases (for the fuzzer and tests); `what` names it in errors. */
typedef struct SubidAutoEntry {
        char *container;
        SubidAutoLease lease;
        char *created;
} SubidAutoEntry;
int subid_auto_parse(const char *what, const char *text, size_t len, SubidAutoEntry **ret, size_t *ret_n, Error **err);
void subid_auto_entries_free(SubidAutoEntry *e, size_t n);

/* Splits a userns-remap value into its user and optional group parts, checking its shape. */
int subid_spec_split(const char *spec, char **ret_user, char **ret_group, Error **err);
