/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-util.h"
#include "state.h"
#include "util.h"


const char *const status_names[] = { "creating", "created", "running", "paused", "stopped" };

int state_validate_id(const char *id, Error **err)
{
        size_t n = strlen(id);

        if (n == 0)
                return error_setx(err, EINVAL, "container id must not be empty");
        if (n > 1024)
                return error_setx(err, EINVAL, "container id is longer than 1024 bytes");
        for (size_t i = 0; i < n; i++) {
                char c = id[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          (i > 0 && (c == '_' || c == '.' || c == '-' || c == '+'));
                if (!ok)
                        return error_setx(err, EINVAL,
                                          "container id \"%s\" is invalid: use letters, digits and _ . + - "
                                          "(not first)",
                                          id);
        }
        return 0;
}

int state_open_root(const char *root, bool create, int *ret_fd, Error **err)
{
        int fd;

        if (create) {
                int r = mkdir_p(root, 0711);
                if (r < 0)
                        return error_set(err, -r, "creating the state root %s", root);
        }
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "opening the state root %s", root);
        *ret_fd = fd;
        return 0;
}

int state_create_dir(int rootfd, const char *id, int *ret_fd, Error **err)
{
        int fd;

        if (mkdirat(rootfd, id, 0711) < 0) {
                if (errno == EEXIST)
                        return error_setx(err, EEXIST, "container \"%s\" already exists", id);
                return error_set(err, errno, "creating the state directory of %s", id);
        }
        fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "opening the state directory of %s", id);
        if (flock(fd, LOCK_EX) < 0) {
                int e = errno;
                close(fd);
                return error_set(err, e, "locking the state directory of %s", id);
        }
        *ret_fd = fd;
        return 0;
}

int state_open_dir(int rootfd, const char *id, bool lock, int *ret_fd, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                        return error_setx(err, ENOENT, "container \"%s\" does not exist", id);
                return error_set(err, errno, "opening the state directory of %s", id);
        }
        if (lock) {
                if (flock(fd, LOCK_EX) < 0)
                        return error_set(err, errno, "locking the state directory of %s", id);
                /* Deleted while we waited for the lock? */
                if (fstat(fd, &st) < 0 || st.st_nlink == 0)
                        return error_setx(err, ENOENT, "container \"%s\" does not exist", id);
        }
        if (faccessat(fd, "state.json", F_OK, 0) < 0)
                return error_setx(err, ENOENT, "container \"%s\" does not exist", id);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int state_save(int dirfd, const ContainerState *st, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        int r;

        j = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:I,s:O?,s:O?,s:b,s:b,s:b,s:b}", "id", st->id, "pid", (json_int_t)st->pid,
                      "startTime", (json_int_t)st->start_time, "bundle", st->bundle, "rootfs", st->rootfs,
                      "created", st->created, "owner", (json_int_t)st->owner, "annotations", st->annotations,
                      "cgroupPaths", st->cgroup_paths, "pidNsPrivate", st->pid_ns_private, "hasPoststart",
                      st->has_poststart, "hasPoststop", st->has_poststop, "noNewKeyring", st->no_new_keyring);
        if (!j)
                return error_setx(err, ENOMEM, "building state.json");
        s = jx_dump(j, false);
        /* Atomic, not fsync'ed: this state describes live processes, which a crash ends anyway; what
         * matters is that a concurrent `state` or `list` never reads a torn file. */
        r = write_file_atomic(dirfd, "state.json", s, strlen(s), 0600, false);
        if (r < 0)
                return error_set(err, -r, "writing state.json");
        return 0;
}

ContainerState *state_free(ContainerState *st)
{
        if (!st)
                return NULL;
        free(st->id);
        free(st->bundle);
        free(st->rootfs);
        free(st->created);
        json_decref(st->annotations);
        json_decref(st->cgroup_paths);
        free(st);
        return NULL;
}

int state_load(int dirfd, const char *id, ContainerState **ret, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *j = NULL;
        ContainerState *st;
        size_t len;
        int64_t pid = 0, owner = 0;
        uint64_t start = 0;
        json_t *o;
        int r;

        r = read_file_at(dirfd, "state.json", 1 << 20, &text, &len);
        if (r < 0)
                return error_set(err, -r, "reading the state of %s", id);
        r = jx_parse(text, len, "state.json", &j, err);
        if (r < 0)
                return r;
        st = xcalloc(1, sizeof(*st));
        if (jx_string(j, "", "id", true, &st->id, err) < 0 || jx_int64(j, "", "pid", true, &pid, err) < 0 ||
            jx_uint64(j, "", "startTime", false, &start, err) < 0 ||
            jx_string(j, "", "bundle", true, &st->bundle, err) < 0 ||
            jx_string(j, "", "rootfs", true, &st->rootfs, err) < 0 ||
            jx_string(j, "", "created", true, &st->created, err) < 0 ||
            jx_int64(j, "", "owner", false, &owner, err) < 0 ||
            jx_bool(j, "", "hasPoststart", false, &st->has_poststart, err) < 0 ||
            jx_bool(j, "", "hasPoststop", false, &st->has_poststop, err) < 0 ||
            jx_bool(j, "", "pidNsPrivate", false, &st->pid_ns_private, err) < 0 ||
            jx_bool(j, "", "noNewKeyring", false, &st->no_new_keyring, err) < 0) {
                state_free(st);
                return error_wrap(err, "state of %s", id);
        }
        st->pid = (pid_t)pid;
        st->start_time = start;
        st->owner = (uint32_t)owner;
        o = json_object_get(j, "annotations");
        st->annotations = json_is_object(o) ? json_incref(o) : NULL;
        o = json_object_get(j, "cgroupPaths");
        st->cgroup_paths = json_is_object(o) ? json_incref(o) : json_object();
        *ret = st;
        return 0;
}

static bool freezer_frozen(const ContainerState *st)
{
        json_t *v = json_object_get(st->cgroup_paths, "freezer");
        _cleanup_free_ char *p = NULL, *s = NULL;

        if (json_is_string(v)) {
                p = xasprintf("%s/freezer.state", json_string_value(v));
                if (read_file_at(AT_FDCWD, p, 64, &s, NULL) == 0)
                        return str_has_prefix(s, "FROZEN");
        }
        v = json_object_get(st->cgroup_paths, "");
        if (json_is_string(v)) {
                free(p);
                p = xasprintf("%s/cgroup.freeze", json_string_value(v));
                if (read_file_at(AT_FDCWD, p, 64, &s, NULL) == 0)
                        return s[0] == '1';
        }
        return false;
}

ContainerStatus state_status(int dirfd, const ContainerState *st)
{
        _cleanup_free_ char *stat = NULL;
        char path[64];
        char *p;

        if (st->pid <= 0)
                return STATUS_STOPPED;
        if (proc_start_time(st->pid) != st->start_time)
                return STATUS_STOPPED;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)st->pid);
        if (read_file_at(AT_FDCWD, path, 65536, &stat, NULL) < 0)
                return STATUS_STOPPED;
        p = strrchr(stat, ')');
        if (p && (p[2] == 'Z' || p[2] == 'X'))
                return STATUS_STOPPED;
        if (faccessat(dirfd, "exec.sock", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return STATUS_CREATED;
        if (freezer_frozen(st))
                return STATUS_PAUSED;
        return STATUS_RUNNING;
}

json_t *state_to_oci_json(const ContainerState *st, ContainerStatus status)
{
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s}", "ociVersion", OCI_VERSION, "id", st->id,
                              "status", status_names[status], "pid",
                              (json_int_t)(status == STATUS_STOPPED ? 0 : st->pid), "bundle", st->bundle,
                              "rootfs", st->rootfs, "created", st->created, "owner", "");
        if (j && st->annotations)
                json_object_set(j, "annotations", st->annotations);
        return j;
}
