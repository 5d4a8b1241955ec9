/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "volume.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "container-store.h"
#include "events.h"
#include "json-util.h"
#include "syscalls.h"
#include "util.h"

#define VOLUMES_DIR   "volumes"
#define VOLUME_RECORD "volume.json"
#define VOLUME_MAX    (1u << 20)
/* deeper trees than this in an image are refused rather than walked (the walk keeps an fd per level) */
#define COPY_MAX_DEPTH 128

char *volume_root(Engine *e)
{
        return xasprintf("%s/" VOLUMES_DIR, e->data_root);
}

char *volume_data_dir(Engine *e, const char *name)
{
        return xasprintf("%s/" VOLUMES_DIR "/%s/_data", e->data_root, name);
}

int volume_check_name(const char *name, Error **err)
{
        if (docker_name_valid(name, 255))
                return 0;
        if (strlen(name) < 2)
                return error_setx(err, EINVAL, "create %s: volume name is too short, names should be at least two "
                                  "alphanumeric characters", name);
        return error_setx(err, EINVAL, "create %s: \"%s\" includes invalid characters for a local volume name, only "
                          "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use "
                          "absolute path", name, name);
}

bool volume_is_name(const char *s)
{
        return s[0] && s[0] != '/' && s[0] != '.' && s[0] != '~';
}

int volumes_lock(Engine *e, bool exclusive, int *ret_fd, Error **err)
{
        _cleanup_free_ char *root = volume_root(e), *path = xasprintf("%s/.lock", root);
        int fd, r;

        r = mkdir_p(root, 0700);
        if (r < 0)
                return error_set(err, -r, "creating %s", root);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set(err, errno, "opening %s", path);
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
                if (errno != EINTR) {
                        r = errno;
                        close(fd);
                        return error_set(err, r, "locking %s", path);
                }
        *ret_fd = fd;
        return 0;
}

int volume_check_options(json_t *opts, Error **err)
{
        const char *k;
        json_t *v;

        json_object_foreach(opts, k, v) {
                if (!STREQ(k, "type") && !STREQ(k, "device") && !STREQ(k, "o"))
                        return error_setx(err, EINVAL, "invalid option: \"%s\" (the local driver takes type, device and o)", k);
                if (!json_is_string(v))
                        return error_setx(err, EINVAL, "invalid option: \"%s\": not a string", k);
        }
        if (json_object_size(opts) && !*(json_string_value(json_object_get(opts, "type")) ?: ""))
                return error_setx(err, EINVAL, "missing required option: \"type\" (device and o describe a mount of that type)");
        if (json_object_get(opts, "type") && !*(json_string_value(json_object_get(opts, "device")) ?: ""))
                return error_setx(err, EINVAL, "missing required option: \"device\" (the source of the \"%s\" mount)",
                                  json_string_value(json_object_get(opts, "type")));
        return 0;
}

static char *rfc3339_local(time_t t)
{
        struct tm tm;
        char buf[64], tz[48];

        localtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        if (tm.tm_gmtoff == 0)
                snprintf(tz, sizeof(tz), "Z");
        else
                snprintf(tz, sizeof(tz), "%c%02ld:%02ld", tm.tm_gmtoff < 0 ? '-' : '+', labs(tm.tm_gmtoff) / 3600,
                         labs(tm.tm_gmtoff) % 3600 / 60);
        return xasprintf("%s%s", buf, tz);
}

/* Reads <root>/<name>/volume.json; the name and mountpoint come from where it is, not from the file. */
static int load(Engine *e, const char *name, json_t **ret, Error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/" VOLUMES_DIR "/%s/" VOLUME_RECORD, e->data_root, name), *text = NULL;
        json_t *j = NULL;
        size_t len = 0;
        int r;

        if (volume_check_name(name, NULL) < 0)
                return error_setx(err, ENOENT, "get %s: no such volume", name);
        r = read_file_at(AT_FDCWD, path, VOLUME_MAX, &text, &len);
        if (r == -ENOENT)
                return error_setx(err, ENOENT, "get %s: no such volume", name);
        if (r < 0)
                return error_set(err, -r, "reading %s", path);
        r = jx_parse(text, len, path, &j, err);
        if (r < 0)
                return r;
        if (!json_is_object(j)) {
                json_decref(j);
                return error_setx(err, EINVAL, "%s: not an object", path);
        }
        {
                _cleanup_free_ char *mp = volume_data_dir(e, name);
                json_object_set_new(j, "Mountpoint", json_string(mp));
        }
        json_object_set_new(j, "Name", json_string(name));
        {
                /* the field order of docker's types.Volume */
                static const char *const order[] = { "CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope" };
                json_t *o = json_object();
                for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                        json_t *v = json_object_get(j, order[i]);
                        json_object_set(o, order[i], v ? v : json_null());
                }
                json_decref(j);
                *ret = o;
        }
        return 0;
}

int volume_get(Engine *e, const char *name, json_t **ret, Error **err)
{
        return load(e, name, ret, err);
}

void volume_event(Engine *e, const char *name, const char *action, json_t *extra)
{
        _cleanup_json_ json_t *attrs = json_pack("{s:s}", "driver", "local");
        Error *err = NULL;

        if (extra)
                json_object_update(attrs, extra);
        if (event_emit(e, "volume", action, name, attrs, &err) < 0) {
                fprintf(stderr, "stockade: warning: the volume %s event was not logged: %s\n", action, err->msg);
                error_free(err);
        }
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int volume_create(Engine *e, const char *name, const char *driver, json_t *labels, json_t *opts, bool anonymous,
                  json_t **ret, bool *ret_created, Error **err)
{
        _cleanup_free_ char *gen = NULL, *root = volume_root(e), *tmp = NULL, *final = NULL, *created = NULL;
        _cleanup_json_ json_t *rec = NULL;
        _cleanup_close_ int tfd = -EBADF, lock = -EBADF;
        const char *k;
        json_t *v;
        int r;

        if (driver && *driver && !STREQ(driver, "local"))
                return error_setx(err, EINVAL, "create %s: volume driver \"%s\" is not available: stockade has the local "
                                  "driver only", name ? name : "(anonymous)", driver);
        if (!name)
                name = gen = container_new_id();
        r = volume_check_name(name, err);
        if (r < 0)
                return r;
        /* a JSON null (an unset field of a caller's JSON) is no labels or options */
        if (json_is_null(labels))
                labels = NULL;
        if (json_is_null(opts))
                opts = NULL;
        if (labels && !json_is_object(labels))
                return error_setx(err, EINVAL, "create %s: labels: expected an object of strings", name);
        if (opts && !json_is_object(opts))
                return error_setx(err, EINVAL, "create %s: options: expected an object of strings", name);
        json_object_foreach(labels, k, v) if (!json_is_string(v))
                return error_setx(err, EINVAL, "create %s: label \"%s\": not a string", name, k);
        r = volume_check_options(opts, err);
        if (r < 0)
                return error_wrap(err, "create %s", name);
        if (load(e, name, ret, NULL) == 0) {
                const char *d = json_string_value(json_object_get(*ret, "Driver"));
                if (d && !STREQ(d, "local")) {
                        json_decref(TAKE_PTR(*ret));
                        return error_setx(err, EEXIST, "create %s: a volume with this name exists with driver %s", name, d);
                }
                if (ret_created)
                        *ret_created = false;
                return 0;
        }

        /* shared, beside any the caller holds: prune's exclusive section may then sweep the temporary
         * entries a killed command left, knowing that none belongs to a create under way */
        r = volumes_lock(e, false, &lock, err);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *rnd = container_new_id();
                tmp = xasprintf("%s/.new-%.16s", root, rnd);
        }
        final = xasprintf("%s/%s", root, name);
        if (mkdir(tmp, 0700) < 0)
                return error_set(err, errno, "creating %s", tmp);
        tfd = open(tmp, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (tfd < 0 || mkdirat(tfd, "_data", 0755) < 0) {
                r = error_set(err, errno, "creating %s/_data", tmp);
                goto fail;
        }
        created = rfc3339_local(time(NULL));
        {
                _cleanup_json_ json_t *all_labels = labels ? json_deep_copy(labels) : json_object();
                if (anonymous)
                        json_object_set_new(all_labels, VOLUME_ANON_LABEL, json_string(""));
                /* none is null, as dockerd 20.10 prints it */
                rec = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s}", "CreatedAt", created, "Driver", "local", "Labels",
                                json_object_size(all_labels) ? jx_sorted_copy(all_labels) : json_null(), "Name", name,
                                "Options", json_object_size(opts) ? jx_sorted_copy(opts) : json_null(), "Scope", "local");
        }
        {
                _cleanup_free_ char *text = jx_dump(rec, false);
                r = write_file_atomic(tfd, VOLUME_RECORD, text, strlen(text), 0600, true);
                if (r < 0) {
                        r = error_set(err, -r, "writing %s/" VOLUME_RECORD, tmp);
                        goto fail;
                }
        }
        /* into place whole; a volume made meanwhile by another command wins, and is returned */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0) {
                int saved = errno;
                (void)rm_rf_at(AT_FDCWD, tmp);
                if (saved == EEXIST && load(e, name, ret, err) == 0) {
                        if (ret_created)
                                *ret_created = false;
                        return 0;
                }
                return error_set(err, saved, "creating volume %s", final);
        }
        {
                _cleanup_close_ int rfd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                if (rfd >= 0)
                        (void)fsync(rfd);
        }
        volume_event(e, name, "create", NULL);
        if (ret_created)
                *ret_created = true;
        return load(e, name, ret, err);
fail:
        (void)rm_rf_at(AT_FDCWD, tmp);
        return r;
}

int volume_list(Engine *e, json_t **ret, Error **err)
{
        _cleanup_free_ char *root = volume_root(e);
        _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
        DIR *d = opendir(root);
        struct dirent *de;
        json_t *out = json_array();

        if (!d) {
                if (errno == ENOENT) {
                        *ret = out;
                        return 0;
                }
                json_decref(out);
                return error_set(err, errno, "opening %s", root);
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && volume_check_name(de->d_name, NULL) == 0)
                        strv_push(&names, de->d_name);
        closedir(d);
        qsort(names, strv_length(names), sizeof(char *), cmp_names);
        for (size_t i = 0; names[i]; i++) {
                json_t *v = NULL;
                if (load(e, names[i], &v, NULL) == 0)
                        json_array_append_new(out, v);
        }
        *ret = out;
        return 0;
}

bool volume_record_uses(json_t *rec, const char *name)
{
        size_t i;
        json_t *m;

        json_array_foreach(json_object_get(rec, "Mounts"), i, m) {
                const char *t = json_string_value(json_object_get(m, "Type"));
                const char *n = json_string_value(json_object_get(m, "Name"));
                if (t && n && STREQ(t, "volume") && STREQ(n, name))
                        return true;
        }
        return false;
}

int volume_users(Engine *e, const char *name, char ***ret, Error **err)
{
        _cleanup_json_ json_t *all = NULL;
        char **ids = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *c;
        int r = container_list(e, &all, err);

        if (r < 0) {
                strv_free(ids);
                return r;
        }
        json_array_foreach(all, i, c) if (volume_record_uses(c, name))
                strv_push(&ids, json_string_value(json_object_get(c, "Id")) ?: "");
        *ret = ids;
        return 0;
}

static bool is_mount_root(int dirfd, const char *path)
{
        struct statx stx;

        if (statx(dirfd, path, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static uint64_t tree_size(int dfd, int depth)
{
        DIR *d;
        struct dirent *de;
        uint64_t total = 0;

        if (depth > COPY_MAX_DEPTH)
                return 0;
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return 0;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                        /* a hard link counts once per link; share the blocks among them */
                        total += (uint64_t)st.st_blocks * 512 / st.st_nlink;
                        continue;
                }
                total += (uint64_t)st.st_blocks * 512;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                total += tree_size(sub, depth + 1);
                }
        }
        closedir(d);
        return total;
}

uint64_t volume_size(Engine *e, const char *name)
{
        _cleanup_free_ char *data = volume_data_dir(e, name);
        int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? 0 : tree_size(fd, 0);
}

/* Removes a volume's files; the caller holds the exclusive lock and found no user. */
static int remove_locked(Engine *e, const char *name, uint64_t *ret_size, Error **err)
{
        _cleanup_free_ char *root = volume_root(e), *dir = xasprintf("%s/%s", root, name), *data = NULL, *grave = NULL;
        int r;

        data = xasprintf("%s/_data", dir);
        if (is_mount_root(AT_FDCWD, data)) {
                if (umount2(data, MNT_DETACH) < 0)
                        return error_set(err, errno, "remove %s: unmounting %s", name, data);
                if (is_mount_root(AT_FDCWD, data))
                        return error_setx(err, EBUSY, "remove %s: %s is still a mount point; nothing was deleted", name, data);
        }
        if (ret_size)
                *ret_size = volume_size(e, name);
        /* out of sight first, so a half-removed volume is never listed or mounted */
        {
                _cleanup_free_ char *rnd = container_new_id();
                grave = xasprintf("%s/.rm-%.16s", root, rnd);
        }
        if (rename(dir, grave) < 0)
                return error_set(err, errno, "remove %s", name);
        r = rm_rf_at(AT_FDCWD, grave);
        if (r < 0)
                fprintf(stderr, "stockade: warning: volume %s: removing %s: %s\n", name, grave, strerror(-r));
        volume_event(e, name, "destroy", NULL);
        return 0;
}

int volume_remove(Engine *e, const char *name, uint64_t *ret_size, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_strv_ char **users = NULL;
        int r;

        r = volumes_lock(e, true, &lock, err);
        if (r < 0)
                return r;
        r = load(e, name, &v, err);
        if (r < 0)
                return r;
        r = volume_users(e, name, &users, err);
        if (r < 0)
                return r;
        if (users[0]) {
                _cleanup_free_ char *list = NULL;
                size_t cap = 0;
                FILE *m = open_memstream(&list, &cap);
                for (size_t i = 0; users[i]; i++)
                        fprintf(m, "%s%s", i ? ", " : "", users[i]);
                fclose(m);
                return error_setx(err, EBUSY, "remove %s: volume is in use - [%s]", name, list);
        }
        return remove_locked(e, name, ret_size, err);
}

void volume_remove_anonymous(Engine *e, json_t *record)
{
        size_t i;
        json_t *m;

        json_array_foreach(json_object_get(record, "Mounts"), i, m) {
                const char *t = json_string_value(json_object_get(m, "Type"));
                const char *n = json_string_value(json_object_get(m, "Name"));
                _cleanup_json_ json_t *v = NULL;
                Error *err = NULL;
                if (!t || !n || !STREQ(t, "volume") || load(e, n, &v, NULL) < 0 ||
                    !json_object_get(json_object_get(v, "Labels"), VOLUME_ANON_LABEL))
                        continue;
                if (volume_remove(e, n, NULL, &err) < 0) {
                        fprintf(stderr, "stockade: warning: anonymous volume %s kept: %s\n", n, err->msg);
                        error_free(err);
                }
        }
}

static bool labels_match(json_t *labels, char *const *want, char *const *want_not)
{
        for (size_t i = 0; want && want[i]; i++) {
                const char *eq = strchr(want[i], '=');
                _cleanup_free_ char *k = eq ? xstrndup(want[i], (size_t)(eq - want[i])) : xstrdup(want[i]);
                json_t *v = json_object_get(labels, k);
                if (!v || (eq && !STREQ(json_string_value(v) ?: "", eq + 1)))
                        return false;
        }
        for (size_t i = 0; want_not && want_not[i]; i++) {
                const char *eq = strchr(want_not[i], '=');
                _cleanup_free_ char *k = eq ? xstrndup(want_not[i], (size_t)(eq - want_not[i])) : xstrdup(want_not[i]);
                json_t *v = json_object_get(labels, k);
                if (v && (!eq || STREQ(json_string_value(v) ?: "", eq + 1)))
                        return false;
        }
        return true;
}

/* "true", "false", "1", "0" → 1, 0; anything else -1. */
static int filter_bool(const char *v)
{
        if (STREQ(v, "true") || STREQ(v, "1"))
                return 1;
        if (STREQ(v, "false") || STREQ(v, "0"))
                return 0;
        return -1;
}

int volume_filter_add(VolumeFilter *f, const char *kv, bool prune, Error **err)
{
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = NULL;
        const char *v;

        if (!eq)
                return error_setx(err, EINVAL, "bad format of filter '%s' (expected name=value)", kv);
        k = xstrndup(kv, (size_t)(eq - kv));
        v = eq + 1;
        if (prune) {
                if (STREQ(k, "label"))
                        strv_push(&f->labels, v);
                else if (STREQ(k, "label!"))
                        strv_push(&f->labels_not, v);
                else if (STREQ(k, "all") && filter_bool(v) >= 0)
                        f->all |= filter_bool(v) == 1;
                else if (STREQ(k, "all"))
                        return error_setx(err, EINVAL, "invalid filter 'all=%s' (true, false, 1 or 0)", v);
                else
                        return error_setx(err, EINVAL, "invalid filter '%s' (label, label! and all are)", k);
                return 0;
        }
        if (STREQ(k, "dangling")) {
                f->dangling = filter_bool(v);
                if (f->dangling < 0)
                        return error_setx(err, EINVAL, "invalid filter 'dangling=%s' (true, false, 1 or 0)", v);
        } else if (STREQ(k, "name"))
                strv_push(&f->names, v);
        else if (STREQ(k, "label"))
                strv_push(&f->labels, v);
        else if (STREQ(k, "driver"))
                strv_push(&f->drivers, v);
        else
                return error_setx(err, EINVAL, "invalid filter '%s' (dangling, name, label and driver are)", k);
        return 0;
}

/* Is `s` one of `list` (contains one of them, when `substring`)?  An empty list takes anything. */
static bool any_of(char *const *list, const char *s, bool substring)
{
        if (!list)
                return true;
        for (size_t i = 0; list[i]; i++)
                if (substring ? strstr(s, list[i]) != NULL : STREQ(s, list[i]))
                        return true;
        return false;
}

bool volume_filter_match(const VolumeFilter *f, json_t *vol, json_t *containers)
{
        const char *name = json_string_value(json_object_get(vol, "Name")) ?: "";

        if (f->dangling >= 0) {
                bool used = false;
                size_t i;
                json_t *c;
                json_array_foreach(containers, i, c) used |= volume_record_uses(c, name);
                if (used == (f->dangling == 1))
                        return false;
        }
        return any_of(f->names, name, true) /* docker: a substring of the name */ &&
               any_of(f->drivers, json_string_value(json_object_get(vol, "Driver")) ?: "", false) &&
               labels_match(json_object_get(vol, "Labels"), f->labels, f->labels_not);
}

void volume_filter_done(VolumeFilter *f)
{
        strv_free(f->names);
        strv_free(f->labels);
        strv_free(f->labels_not);
        strv_free(f->drivers);
        *f = (VolumeFilter)VOLUME_FILTER_INIT;
}

/*
 * What killed commands left: a create's ".new-*" (never renamed into place) and a removal's ".rm-*"
 * (renamed out of sight, not yet deleted).  Only under the exclusive lock, when no create runs.
 */
static void sweep_leftovers(Engine *e)
{
        _cleanup_free_ char *root = volume_root(e);
        _cleanup_close_ int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
        DIR *d;
        struct dirent *de;
        int fd;

        if (dfd < 0 || (fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3)) < 0)
                return;
        if (!(d = fdopendir(fd))) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (str_has_prefix(de->d_name, ".new-") || str_has_prefix(de->d_name, ".rm-"))
                        strv_push(&names, de->d_name);
        closedir(d);
        for (size_t i = 0; names[i]; i++) {
                int r = rm_rf_at(dfd, names[i]);
                if (r < 0)
                        fprintf(stderr, "stockade: warning: removing %s/%s: %s\n", root, names[i], strerror(-r));
        }
}

int volume_prune(Engine *e, bool all, char *const *label, char *const *label_not, char ***ret_names,
                 uint64_t *ret_size, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_json_ json_t *vols = NULL, *ctrs = NULL;
        char **gone = xcalloc(1, sizeof(char *));
        uint64_t total = 0;
        size_t i, k;
        json_t *v, *c;
        int r;

        r = volumes_lock(e, true, &lock, err);
        if (r >= 0)
                r = volume_list(e, &vols, err);
        if (r >= 0)
                r = container_list(e, &ctrs, err);
        if (r < 0) {
                strv_free(gone);
                return r;
        }
        sweep_leftovers(e);
        json_array_foreach(vols, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                json_t *labels = json_object_get(v, "Labels");
                bool used = false;
                uint64_t size = 0;
                Error *e2 = NULL;
                if (!all && !json_object_get(labels, VOLUME_ANON_LABEL))
                        continue;
                if (!labels_match(labels, label, label_not))
                        continue;
                json_array_foreach(ctrs, k, c) if (volume_record_uses(c, name))
                        used = true;
                if (used)
                        continue;
                if (remove_locked(e, name, &size, &e2) < 0) {
                        fprintf(stderr, "stockade: warning: %s\n", e2->msg);
                        error_free(e2);
                        continue;
                }
                strv_push(&gone, name);
                total += size;
        }
        *ret_names = gone;
        *ret_size = total;
        return 0;
}

/* ---- copy-up ---- */

static int copy_meta(int dfd, const char *name, const struct stat *st, bool is_link, Error **err)
{
        struct timespec ts[2] = { st->st_atim, st->st_mtim };

        if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(err, errno, "copying the owner of %s", name);
        if (!is_link && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
                return error_set(err, errno, "copying the mode of %s", name);
        if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(err, errno, "copying the times of %s", name);
        return 0;
}

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st, Error **err)
{
        _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        _cleanup_close_ int out = -EBADF;
        struct stat again;

        if (in < 0)
                return error_set(err, errno, "opening %s", name);
        if (fstat(in, &again) < 0 || !S_ISREG(again.st_mode) || again.st_ino != st->st_ino || again.st_dev != st->st_dev)
                return error_setx(err, EAGAIN, "%s changed while it was copied", name);
        out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return error_set(err, errno, "creating %s", name);
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
                                return error_set(err, errno, "copying %s", name);
                        /* no copy_file_range between these filesystems: read and write */
                        char buf[65536];
                        for (;;) {
                                ssize_t k = read(in, buf, sizeof(buf));
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k < 0)
                                        return error_set(err, errno, "reading %s", name);
                                if (k == 0)
                                        break;
                                if (write_all(out, buf, (size_t)k) < 0)
                                        return error_set(err, errno, "writing %s", name);
                        }
                        break;
                }
        }
        {
                struct timespec ts[2] = { st->st_atim, st->st_mtim };
                if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0 || futimens(out, ts) < 0)
                        return error_set(err, errno, "copying the owner, mode and times of %s", name);
        }
        return 0;
}

static int copy_tree_at(int src, int dst, int depth, Error **err)
{
        DIR *d;
        struct dirent *de;
        int r = 0, sfd;

        if (depth > COPY_MAX_DEPTH)
                return error_setx(err, ELOOP, "the tree is deeper than %d directories", COPY_MAX_DEPTH);
        sfd = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (sfd < 0)
                return error_set(err, errno, "dup");
        d = fdopendir(sfd);
        if (!d) {
                close(sfd);
                return error_set(err, errno, "reading a directory");
        }
        rewinddir(d);
        while (r >= 0 && (de = readdir(d))) {
                const char *name = de->d_name;
                struct stat st;
                if (STREQ(name, ".") || STREQ(name, ".."))
                        continue;
                if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = error_set(err, errno, "stat %s", name);
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int s2 = -EBADF, d2 = -EBADF;
                        if (mkdirat(dst, name, 0700) < 0) {
                                r = error_set(err, errno, "creating %s", name);
                                break;
                        }
                        s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        d2 = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s2 < 0 || d2 < 0) {
                                r = error_set(err, errno, "opening %s", name);
                                break;
                        }
                        r = copy_tree_at(s2, d2, depth + 1, err);
                        if (r < 0) {
                                error_wrap(err, "%s", name);
                                break;
                        }
                        r = copy_meta(dst, name, &st, false, err);
                } else if (S_ISREG(st.st_mode)) {
                        r = copy_file(src, dst, name, &st, err);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
                        if (n < 0) {
                                r = error_set(err, errno, "reading the link %s", name);
                                break;
                        }
                        target[n] = '\0';
                        if (symlinkat(target, dst, name) < 0) {
                                r = error_set(err, errno, "creating the link %s", name);
                                break;
                        }
                        r = copy_meta(dst, name, &st, true, err);
                } else if (S_ISFIFO(st.st_mode)) {
                        if (mkfifoat(dst, name, 0600) < 0) {
                                r = error_set(err, errno, "creating the fifo %s", name);
                                break;
                        }
                        r = copy_meta(dst, name, &st, false, err);
                }
                /* device nodes and sockets stay behind: a node from an image must not appear on the
                 * host's disk, where the device cgroup that guards it in the container does not apply */
        }
        closedir(d);
        return r < 0 ? r : 0;
}

int volume_copy_tree(int src, int dst, Error **err)
{
        return copy_tree_at(src, dst, 0, err);
}

static bool dir_empty(int dfd)
{
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d;
        struct dirent *de;
        bool empty = true;

        if (fd < 0)
                return false;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return false;
        }
        while ((de = readdir(d)))
                if (!STREQ(de->d_name, ".") && !STREQ(de->d_name, "..")) {
                        empty = false;
                        break;
                }
        closedir(d);
        return empty;
}

/* Empties a directory whose copy failed half-way, so the next start copies again from nothing. */
static void clear_dir(int dfd)
{
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (!STREQ(de->d_name, ".") && !STREQ(de->d_name, ".."))
                        (void)rm_rf_at(dfd, de->d_name);
        closedir(d);
}

static unsigned long mount_flag(const char *o, bool *clear)
{
        static const struct {
                const char *name;
                unsigned long flag;
                bool clear;
        } table[] = {
                { "ro", MS_RDONLY, false },        { "rw", MS_RDONLY, true },       { "nosuid", MS_NOSUID, false },
                { "suid", MS_NOSUID, true },       { "nodev", MS_NODEV, false },    { "dev", MS_NODEV, true },
                { "noexec", MS_NOEXEC, false },    { "exec", MS_NOEXEC, true },     { "sync", MS_SYNCHRONOUS, false },
                { "async", MS_SYNCHRONOUS, true }, { "noatime", MS_NOATIME, false }, { "atime", MS_NOATIME, true },
                { "nodiratime", MS_NODIRATIME, false }, { "relatime", MS_RELATIME, false },
                { "strictatime", MS_STRICTATIME, false }, { "bind", MS_BIND, false }, { "rbind", MS_BIND | MS_REC, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (STREQ(o, table[i].name)) {
                        *clear = table[i].clear;
                        return table[i].flag;
                }
        return 0;
}

/* A typed volume's mount on _data (type, device, o), made when _data is not a mount already. */
static int mount_typed(const char *name, json_t *opts, const char *data, Error **err)
{
        const char *type = json_string_value(json_object_get(opts, "type"));
        const char *device = json_string_value(json_object_get(opts, "device"));
        const char *o = json_string_value(json_object_get(opts, "o"));
        _cleanup_free_ char *copy = xstrdup(o ? o : ""), *rest = NULL;
        unsigned long flags = 0;
        size_t cap = 0;
        FILE *m;

        if (!type || !*type || is_mount_root(AT_FDCWD, data))
                return 0;
        m = open_memstream(&rest, &cap);
        for (char *p = copy, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL) {
                bool clear = false;
                unsigned long f = mount_flag(t, &clear);
                if (f)
                        flags = clear ? flags & ~f : flags | f;
                else
                        fprintf(m, "%s%s", ftell(m) ? "," : "", t);
        }
        fclose(m);
        if (flags & MS_BIND) {
                struct stat st;
                if (device[0] != '/' || stat(device, &st) < 0 || !S_ISDIR(st.st_mode))
                        return error_setx(err, EINVAL, "volume %s: o=bind: device \"%s\" must be an existing directory given "
                                          "by its absolute path", name, device);
                if (mount(device, data, NULL, flags & (MS_BIND | MS_REC), NULL) < 0)
                        return error_set(err, errno, "volume %s: binding %s", name, device);
                if ((flags & ~(MS_BIND | MS_REC)) &&
                    mount(NULL, data, NULL, MS_REMOUNT | MS_BIND | (flags & ~(MS_BIND | MS_REC)), NULL) < 0) {
                        int saved = errno;
                        (void)umount2(data, MNT_DETACH);
                        return error_set(err, saved, "volume %s: applying o=%s", name, o);
                }
                return 0;
        }
        if (mount(device, data, type, flags, rest && *rest ? rest : NULL) < 0)
                return error_set(err, errno, "volume %s: mounting %s (type %s, o=%s)", name, device, type, o ? o : "");
        return 0;
}

int volume_prepare(Engine *e, json_t *vol, const char *rootfs, const char *dest, bool copy, uid_t root_uid,
                   gid_t root_gid, Error **err)
{
        const char *name = json_string_value(json_object_get(vol, "Name"));
        _cleanup_free_ char *data = volume_data_dir(e, name);
        _cleanup_close_ int dfd = -EBADF, rootfd = -EBADF, sfd = -EBADF;
        struct stat st;
        int r;

        r = mount_typed(name, json_object_get(vol, "Options"), data, err);
        if (r < 0)
                return r;
        dfd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return error_set(err, errno, "volume %s: opening %s", name, data);
        if (!dir_empty(dfd))
                return 0;
        if (copy) {
                rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        return error_set(err, errno, "opening %s", rootfs);
                sfd = sys_openat2(rootfd, dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        }
        if (sfd >= 0 && fstat(sfd, &st) == 0) {
                /* docker's copy-up: the image's files, and the directory's owner and mode */
                r = volume_copy_tree(sfd, dfd, err);
                if (r < 0) {
                        clear_dir(dfd);
                        return error_wrap(err, "volume %s: copying %s of the image into it", name, dest);
                }
                if (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0)
                        return error_set(err, errno, "volume %s: copying the owner and mode of %s", name, dest);
                return 0;
        }
        if (root_uid != (uid_t)-1 && fstat(dfd, &st) == 0 && st.st_uid == 0 && st.st_gid == 0 &&
            fchown(dfd, root_uid, root_gid) < 0)
                return error_set(err, errno, "volume %s: giving it to the container's root", name);
        return 0;
}
