/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "image-store.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "json-util.h"
#include "syscalls.h"
#include "util.h"

#define CHUNK         (256 * 1024)
#define CONFIG_MAX    (8u << 20)
#define MANIFEST_MAX  (8u << 20)
#define REFS_MAX      (16u << 20)

struct ImageStore {
        char *root;             /* <data-root>/image */
        int dfd, layers_fd, configs_fd, tmp_fd;
};

/* ---------------------------------------------------------------- small helpers */

const char *image_digest_hex(const char *d)
{
        if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
                return NULL;
        for (const char *p = d + 7; *p; p++)
                if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
                        return NULL;
        return d + 7;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
        size_t n = strlen(s);
        if (n < min || n > max)
                return false;
        for (; *s; s++)
                if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                        return false;
        return true;
}

typedef struct Hash {
        EVP_MD_CTX *ctx;
} Hash;

static void hash_init(Hash *h)
{
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
                abort();
}

static void hash_update(Hash *h, const void *p, size_t n)
{
        if (EVP_DigestUpdate(h->ctx, p, n) != 1)
                abort();
}

static void hash_final(Hash *h, char hex[65])
{
        unsigned char md[32];
        unsigned int n = 0;
        EVP_DigestFinal_ex(h->ctx, md, &n);
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
        for (unsigned i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", md[i]);
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
        Hash h;
        hash_init(&h);
        hash_update(&h, p, n);
        hash_final(&h, hex);
}

static char *random_name(const char *prefix)
{
        unsigned char b[8];
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                memset(b, 0, sizeof(b));
        return xasprintf("%s-%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

static int open_dir_at(int dfd, const char *name, int *ret)
{
        int fd = openat(dfd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

/* ---------------------------------------------------------------- open */

int image_store_open(const char *data_root, ImageStore **ret, Error **err)
{
        ImageStore *s = xcalloc(1, sizeof(*s));
        int r;

        s->dfd = s->layers_fd = s->configs_fd = s->tmp_fd = -1;
        s->root = xasprintf("%s/image", data_root);
        r = mkdir_p(s->root, 0700);
        if (r < 0) {
                error_set(err, -r, "creating %s", s->root);
                goto fail;
        }
        s->dfd = open(s->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (s->dfd < 0) {
                r = error_set(err, errno, "opening %s", s->root);
                goto fail;
        }
        (void)mkdirat(s->dfd, "layers", 0700);
        (void)mkdirat(s->dfd, "configs", 0700);
        (void)mkdirat(s->dfd, "tmp", 0700);
        if ((r = open_dir_at(s->dfd, "layers", &s->layers_fd)) < 0 || (r = open_dir_at(s->dfd, "configs", &s->configs_fd)) < 0 ||
            (r = open_dir_at(s->dfd, "tmp", &s->tmp_fd)) < 0) {
                error_set(err, -r, "opening the image store in %s", s->root);
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        image_store_close(s);
        return r < 0 ? r : -EIO;
}

void image_store_close(ImageStore *s)
{
        if (!s)
                return;
        if (s->dfd >= 0)
                close(s->dfd);
        if (s->layers_fd >= 0)
                close(s->layers_fd);
        if (s->configs_fd >= 0)
                close(s->configs_fd);
        if (s->tmp_fd >= 0)
                close(s->tmp_fd);
        free(s->root);
        free(s);
}

/* ---------------------------------------------------------------- references */

static bool component_ok(const char *c, size_t n)
{
        /* [a-z0-9]+ separated by ".", "_", "__" or one or more "-" */
        if (n == 0 || (!islower((unsigned char)c[0]) && !isdigit((unsigned char)c[0])))
                return false;
        if (!islower((unsigned char)c[n - 1]) && !isdigit((unsigned char)c[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = c[i];
                if (islower((unsigned char)ch) || isdigit((unsigned char)ch))
                        continue;
                if (ch == '.' || ch == '_' || ch == '-') {
                        if (ch == '.' && (c[i + 1] == '.' || c[i + 1] == '_' || c[i + 1] == '-'))
                                return false;
                        if (ch == '_' && c[i + 1] == '_' && (c[i + 2] == '_' || c[i + 2] == '.' || c[i + 2] == '-'))
                                return false;
                        continue;
                }
                return false;
        }
        return true;
}

int image_ref_normalize(const char *ref, char **ret, Error **err)
{
        _cleanup_free_ char *name = NULL;
        const char *slash, *colon, *tag = "latest";
        size_t len = strlen(ref);

        if (len == 0 || len > 255)
                return error_setx(err, EINVAL, "invalid reference format");
        if (strchr(ref, '@'))
                return error_setx(err, EINVAL, "invalid reference format: digests are not supported (%s)", ref);
        slash = strrchr(ref, '/');
        colon = strrchr(ref, ':');
        if (colon && (!slash || colon > slash)) {
                tag = colon + 1;
                name = xstrndup(ref, (size_t)(colon - ref));
        } else
                name = xstrdup(ref);
        if (!*tag || strlen(tag) > 128 || !(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
                return error_setx(err, EINVAL, "invalid reference format: invalid tag \"%s\"", tag);
        for (const char *t = tag; *t; t++)
                if (!isalnum((unsigned char)*t) && *t != '_' && *t != '.' && *t != '-')
                        return error_setx(err, EINVAL, "invalid reference format: invalid tag \"%s\"", tag);
        for (const char *p = name; *p; p++)
                if (isupper((unsigned char)*p))
                        return error_setx(err, EINVAL, "invalid reference format: repository name must be lowercase");
        /* The first component may be a registry host[:port]; the others follow the component rule. */
        {
                const char *p = name;
                bool first = true;
                while (*p) {
                        const char *end = strchr(p, '/');
                        size_t n = end ? (size_t)(end - p) : strlen(p);
                        bool host = first && end && (memchr(p, '.', n) || memchr(p, ':', n) || (n == 9 && !strncmp(p, "localhost", 9)));
                        if (host) {
                                for (size_t i = 0; i < n; i++)
                                        if (!isalnum((unsigned char)p[i]) && !strchr(".-:", p[i]))
                                                return error_setx(err, EINVAL, "invalid reference format");
                        } else if (!component_ok(p, n))
                                return error_setx(err, EINVAL, "invalid reference format: \"%s\"", ref);
                        first = false;
                        p += n;
                        if (*p == '/') {
                                p++;
                                if (!*p)
                                        return error_setx(err, EINVAL, "invalid reference format");
                        }
                }
        }
        *ret = xasprintf("%s:%s", name, tag);
        return 0;
}

static int refs_lock(ImageStore *s, int *ret)
{
        int fd = openat(s->dfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        *ret = fd;
        return 0;
}

static json_t *refs_load(ImageStore *s)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        json_t *j = NULL;

        if (read_file_at(s->dfd, "repositories.json", REFS_MAX, &text, &len) < 0 || jx_parse(text, len, "repositories.json", &j, NULL) < 0 ||
            !json_is_object(json_object_get(j, "refs"))) {
                json_decref(j);
                return json_pack("{s:{}}", "refs");
        }
        return j;
}

static int refs_save(ImageStore *s, json_t *j, Error **err)
{
        _cleanup_free_ char *text = jx_dump(j, false);
        int r = write_file_atomic(s->dfd, "repositories.json", text, strlen(text), 0600, true);
        if (r < 0)
                return error_set(err, -r, "writing %s/repositories.json", s->root);
        return 0;
}

/* Points ref at id (already normalised), under the lock the caller holds. */
static int refs_set_locked(ImageStore *s, const char *ref, const char *id, Error **err)
{
        _cleanup_json_ json_t *j = refs_load(s);
        json_object_set_new(json_object_get(j, "refs"), ref, json_string(id));
        return refs_save(s, j, err);
}

static int refs_set(ImageStore *s, const char *ref, const char *id, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_free_ char *norm = NULL;
        int r = image_ref_normalize(ref, &norm, err);
        if (r < 0)
                return r;
        r = refs_lock(s, &lock);
        if (r < 0)
                return error_set(err, -r, "locking the image store");
        return refs_set_locked(s, norm, id, err);
}

/* ---------------------------------------------------------------- configs */

static int config_read(ImageStore *s, const char *hex, char **ret, size_t *len)
{
        return read_file_at(s->configs_fd, hex, CONFIG_MAX, ret, len);
}

static bool config_exists(ImageStore *s, const char *hex)
{
        return faccessat(s->configs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int config_store(ImageStore *s, const char *bytes, size_t len, char hex[65], Error **err)
{
        int r;
        sha256_hex(bytes, len, hex);
        if (config_exists(s, hex))
                return 0;
        r = write_file_atomic(s->configs_fd, hex, bytes, len, 0600, true);
        if (r < 0)
                return error_set(err, -r, "storing the image config %.12s", hex);
        return 0;
}

static bool layer_exists(ImageStore *s, const char *hex)
{
        struct stat st;
        return fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------- reading archives */

typedef struct Source {
        int fd;
        unsigned char *buf;
        uint64_t done, total;
        image_progress_fn p;
        void *ud;
        const char *what;
} Source;

static la_ssize_t source_read(struct archive *a, void *ud, const void **buf)
{
        Source *src = ud;
        ssize_t n;

        do
                n = read(src->fd, src->buf, CHUNK);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read: %s", strerror(errno));
                return -1;
        }
        src->done += (uint64_t)n;
        if (src->p)
                src->p(src->ud, src->what, src->done, src->total);
        *buf = src->buf;
        return n;
}

static void source_init(Source *src, int fd, const char *what, image_progress_fn p, void *ud)
{
        struct stat st;
        *src = (Source){ .fd = fd, .buf = xmalloc(CHUNK), .p = p, .ud = ud, .what = what };
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                src->total = (uint64_t)st.st_size - (uint64_t)lseek(fd, 0, SEEK_CUR);
}

/*
 * Decompresses whatever fd holds (gzip, xz, zstd, bzip2 or nothing) into out_fd, hashing the
 * uncompressed bytes: that hash is the layer's diff_id.
 */
static int decompress_to(int fd, int out_fd, const char *what, image_progress_fn p, void *ud, char hex[65],
                         uint64_t *ret_size, Error **err)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        Source src;
        Hash h;
        uint64_t size = 0;
        int r = 0;

        source_init(&src, fd, what, p, ud);
        hash_init(&h);
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        if (archive_read_open(a, &src, NULL, source_read, NULL) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK) {
                r = error_setx(err, EINVAL, "%s: %s", what, archive_error_string(a) ?: "empty or unreadable");
                goto out;
        }
        for (;;) {
                char buf[CHUNK / 4];
                la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
                if (n < 0) {
                        r = error_setx(err, EIO, "%s: %s", what, archive_error_string(a) ?: "decompression failed");
                        goto out;
                }
                if (n == 0)
                        break;
                hash_update(&h, buf, (size_t)n);
                size += (uint64_t)n;
                r = write_all(out_fd, buf, (size_t)n);
                if (r < 0) {
                        r = error_set(err, -r, "%s: writing the layer", what);
                        goto out;
                }
        }
        if (p && src.total == 0)
                p(ud, what, src.done, src.done);
out:
        {
                char tmp[65];
                hash_final(&h, r == 0 ? hex : tmp);
        }
        archive_read_free(a);
        free(src.buf);
        if (r == 0 && ret_size)
                *ret_size = size;
        return r;
}

/* Cleans a tar path: leading "/" and "./" go; "..", empty results and NULs are refused (NULL). */
static char *clean_path(const char *p)
{
        _cleanup_free_ char *copy = NULL;
        size_t cap = 0;
        char *out = NULL, *save = NULL;
        FILE *m;
        bool any = false;

        if (!p)
                return NULL;
        copy = xstrdup(p);
        m = open_memstream(&out, &cap);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (STREQ(c, "."))
                        continue;
                if (STREQ(c, "..")) {
                        fclose(m);
                        free(out);
                        return NULL;
                }
                fprintf(m, "%s%s", any ? "/" : "", c);
                any = true;
        }
        fclose(m);
        if (!any) {
                free(out);
                return xstrdup(".");
        }
        return out;
}

/* Opens (creating as needed) the directory `path` below root_fd, one component at a time, never through a symlink. */
static int open_parent_dirs(int root_fd, const char *path, int *ret)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        int fd = dup(root_fd);

        if (fd < 0)
                return -errno;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next = openat(fd, c, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                                int r = -errno;
                                close(fd);
                                return r;
                        }
                        next = openat(fd, c, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                }
                if (next < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                close(fd);
                fd = next;
        }
        *ret = fd;
        return 0;
}

/* A whiteout entry as overlayfs wants it. */
static int apply_whiteout(int root_fd, const char *path, Error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        _cleanup_close_ int dfd = -EBADF;
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        int r;

        if (slash)
                *slash = '\0';
        r = open_parent_dirs(root_fd, slash ? dir : "", &dfd);
        if (r < 0)
                return error_set(err, -r, "layer entry %s", path);
        if (STREQ(base, ".wh..wh..opq")) {
                if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return error_set(err, errno, "layer entry %s: marking the directory opaque", path);
                return 0;
        }
        const char *name = base + 4;
        if (!*name || STREQ(name, ".") || STREQ(name, ".."))
                return error_setx(err, EINVAL, "layer entry %s: a whiteout without a name", path);
        (void)unlinkat(dfd, name, 0);
        if (mknodat(dfd, name, S_IFCHR | 0600, makedev(0, 0)) < 0 && errno != EEXIST)
                return error_set(err, errno, "layer entry %s: creating the whiteout", path);
        return 0;
}

/*
 * Only user.* and security.capability (file capabilities, as ping's) survive from a layer: a
 * trusted.overlay.* xattr would steer overlayfs (redirect, opaque, metacopy) and security.* others
 * belong to LSMs the host configures, not to an image.
 */
static void keep_safe_xattrs(struct archive_entry *e)
{
        const char *name;
        const void *value;
        size_t size;
        struct {
                char *name;
                void *value;
                size_t size;
        } keep[64];
        size_t n = 0;

        if (archive_entry_xattr_reset(e) == 0)
                return;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                if (n < ELEMENTSOF(keep) && (str_has_prefix(name, "user.") || STREQ(name, "security.capability"))) {
                        keep[n].name = xstrdup(name);
                        keep[n].value = xmalloc(size + 1);
                        memcpy(keep[n].value, value, size);
                        keep[n].size = size;
                        n++;
                }
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++) {
                archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
                free(keep[i].name);
                free(keep[i].value);
        }
}

/* Extracts an uncompressed layer tar (fd, from its start) into dest_fd, safely. */
static int extract_layer(int tar_fd, int dest_fd, const char *what, Error **err)
{
        struct archive *a = archive_read_new(), *w = archive_write_disk_new();
        struct archive_entry *e;
        Source src;
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r = 0, ar;

        (void)lseek(tar_fd, 0, SEEK_SET);
        source_init(&src, tar_fd, what, NULL, NULL);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_read_support_filter_none(a);
        /* Numeric owners only (never the host's user database), and nothing written outside. */
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_OWNER |
                                                  ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                                  ARCHIVE_EXTRACT_UNLINK);
        if (cwd < 0 || fchdir(dest_fd) < 0) {
                r = error_set(err, errno, "%s: entering the layer directory", what);
                goto out;
        }
        if (archive_read_open(a, &src, NULL, source_read, NULL) != ARCHIVE_OK) {
                r = error_setx(err, EINVAL, "%s: %s", what, archive_error_string(a) ?: "not a tar archive");
                goto out;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
                _cleanup_free_ char *path = clean_path(archive_entry_pathname(e));
                const char *base;
                if (!path) {
                        r = error_setx(err, EINVAL, "%s: entry \"%s\" leaves the layer", what, archive_entry_pathname(e) ?: "");
                        goto out;
                }
                if (STREQ(path, "."))
                        continue;       /* the layer's root: the directory exists */
                base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
                if (str_has_prefix(base, ".wh.")) {
                        r = apply_whiteout(dest_fd, path, err);
                        if (r < 0)
                                goto out;
                        continue;
                }
                archive_entry_set_pathname(e, path);
                keep_safe_xattrs(e);
                if (archive_entry_hardlink(e)) {
                        _cleanup_free_ char *target = clean_path(archive_entry_hardlink(e));
                        if (!target || STREQ(target, ".")) {
                                r = error_setx(err, EINVAL, "%s: hard link \"%s\" points out of the layer", what, path);
                                goto out;
                        }
                        archive_entry_set_hardlink(e, target);
                }
                if (archive_write_header(w, e) < ARCHIVE_WARN) {
                        r = error_setx(err, EINVAL, "%s: entry \"%s\": %s", what, path, archive_error_string(w) ?: "refused");
                        goto out;
                }
                for (;;) {
                        const void *buf;
                        size_t size;
                        la_int64_t off;
                        int k = archive_read_data_block(a, &buf, &size, &off);
                        if (k == ARCHIVE_EOF)
                                break;
                        if (k < ARCHIVE_WARN || archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN) {
                                r = error_setx(err, EIO, "%s: entry \"%s\": %s", what, path,
                                               archive_error_string(k < ARCHIVE_WARN ? a : w) ?: "data");
                                goto out;
                        }
                }
                if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
                        r = error_setx(err, EIO, "%s: entry \"%s\": %s", what, path, archive_error_string(w) ?: "finishing");
                        goto out;
                }
        }
        if (ar != ARCHIVE_EOF)
                r = error_setx(err, EINVAL, "%s: %s", what, archive_error_string(a) ?: "damaged tar");
out:
        if (cwd >= 0) {
                (void)fchdir(cwd);
                close(cwd);
        }
        archive_write_free(w);
        archive_read_free(a);
        free(src.buf);
        return r;
}

/*
 * Adds a layer from fd (compressed or not).  *hex gets its diff_id; `expect` (a diff_id hex, or NULL)
 * must match.  An existing layer with that diff_id is reused.
 */
static int layer_add(ImageStore *s, int fd, const char *what, const char *expect, image_progress_fn p, void *ud, char hex[65],
                     Error **err)
{
        _cleanup_free_ char *stage = random_name("layer");
        _cleanup_close_ int sfd = -EBADF, tarfd = -EBADF, diff = -EBADF;
        int r;

        if (mkdirat(s->tmp_fd, stage, 0700) < 0)
                return error_set(err, errno, "creating a staging directory in %s/tmp", s->root);
        r = open_dir_at(s->tmp_fd, stage, &sfd);
        if (r < 0) {
                error_set(err, -r, "opening the staging directory");
                goto fail;
        }
        tarfd = openat(sfd, "layer.tar", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (tarfd < 0) {
                r = error_set(err, errno, "creating layer.tar");
                goto fail;
        }
        r = decompress_to(fd, tarfd, what, p, ud, hex, NULL, err);
        if (r < 0)
                goto fail;
        if (expect && !STREQ(expect, hex)) {
                r = error_setx(err, EINVAL, "%s: its content has diff_id sha256:%s, but the image config says sha256:%s",
                               what, hex, expect);
                goto fail;
        }
        if (layer_exists(s, hex)) {
                (void)rm_rf_at(s->tmp_fd, stage);
                return 0;
        }
        if (mkdirat(sfd, "diff", 0755) < 0 || (r = open_dir_at(sfd, "diff", &diff)) < 0) {
                r = error_set(err, r < 0 ? -r : errno, "creating the layer directory");
                goto fail;
        }
        r = extract_layer(tarfd, diff, what, err);
        if (r < 0)
                goto fail;
        if (fsync(tarfd) < 0 || syncfs(sfd) < 0) {
                r = error_set(err, errno, "syncing the layer");
                goto fail;
        }
        if (renameat(s->tmp_fd, stage, s->layers_fd, hex) < 0) {
                if (errno == EEXIST || errno == ENOTEMPTY) {
                        (void)rm_rf_at(s->tmp_fd, stage);
                        return 0;       /* another command stored it meanwhile */
                }
                r = error_set(err, errno, "storing layer %.12s", hex);
                goto fail;
        }
        (void)fsync(s->layers_fd);
        return 0;
fail:
        (void)rm_rf_at(s->tmp_fd, stage);
        return r;
}

/* ---------------------------------------------------------------- import */

int image_import(ImageStore *s, int fd, const char *ref, const char *source_name, image_progress_fn p, void *ud,
                 char **ret_id, Error **err)
{
        _cleanup_free_ char *norm = NULL, *created = now_rfc3339nano(), *comment = NULL, *bytes = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        char diff[65], id[65];
        int r;

        if (ref) {
                r = image_ref_normalize(ref, &norm, err);
                if (r < 0)
                        return r;
        }
        r = layer_add(s, fd, "importing", NULL, p, ud, diff, err);
        if (r < 0)
                return r;
        comment = xasprintf("Imported from %s", source_name && *source_name ? source_name : "-");
        {
                _cleanup_free_ char *d = xasprintf("sha256:%s", diff);
                cfg = json_pack("{s:s, s:{s:[s]}, s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:[s]}}", "architecture", "amd64", "config",
                                "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "created", created,
                                "history", "created", created, "comment", comment, "os", "linux", "rootfs", "type", "layers",
                                "diff_ids", d);
        }
        bytes = jx_dump(cfg, false);
        r = config_store(s, bytes, strlen(bytes), id, err);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *full = xasprintf("sha256:%s", id);
                if (norm) {
                        r = refs_set(s, norm, full, err);
                        if (r < 0)
                                return r;
                }
                *ret_id = TAKE_PTR(full);
        }
        return 0;
}

/* ---------------------------------------------------------------- load */

int image_parse_docker_manifest(const char *text, size_t len, json_t **ret, Error **err)
{
        json_t *j = NULL, *m;
        size_t i;
        int r = jx_parse(text, len, "manifest.json", &j, err);

        if (r < 0)
                return r;
        if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > 1024)
                goto bad;
        json_array_foreach(j, i, m) {
                json_t *layers = json_object_get(m, "Layers"), *tags = json_object_get(m, "RepoTags"), *v;
                size_t k;
                if (!json_is_object(m) || !json_is_string(json_object_get(m, "Config")) || !json_is_array(layers) ||
                    json_array_size(layers) > 512)
                        goto bad;
                json_array_foreach(layers, k, v) if (!json_is_string(v)) goto bad;
                if (tags && !json_is_null(tags)) {
                        if (!json_is_array(tags))
                                goto bad;
                        json_array_foreach(tags, k, v) if (!json_is_string(v)) goto bad;
                }
        }
        *ret = j;
        return 0;
bad:
        json_decref(j);
        return error_setx(err, EINVAL, "manifest.json: expected [{\"Config\": \"...\", \"RepoTags\": [...], \"Layers\": [...]}]");
}

int image_parse_oci_index(const char *text, size_t len, json_t **ret, Error **err)
{
        json_t *j = NULL, *ms, *d;
        size_t i;
        int r = jx_parse(text, len, "index.json", &j, err);

        if (r < 0)
                return r;
        ms = json_object_get(j, "manifests");
        if (!json_is_array(ms) || json_array_size(ms) > 1024)
                goto bad;
        json_array_foreach(ms, i, d) {
                if (!json_is_object(d) || !image_digest_hex(json_string_value(json_object_get(d, "digest"))))
                        goto bad;
        }
        *ret = json_incref(ms);
        json_decref(j);
        return 0;
bad:
        json_decref(j);
        return error_setx(err, EINVAL, "index.json: expected {\"manifests\": [{\"digest\": \"sha256:...\", ...}]}");
}

int image_parse_oci_manifest(const char *text, size_t len, char **ret_config, char ***ret_layers, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *layers, *l;
        const char *cd;
        char **v = NULL;
        size_t i;
        int r = jx_parse(text, len, "manifest", &j, err);

        if (r < 0)
                return r;
        cd = json_string_value(json_object_get(json_object_get(j, "config"), "digest"));
        layers = json_object_get(j, "layers");
        if (!image_digest_hex(cd) || !json_is_array(layers) || json_array_size(layers) > 512)
                return error_setx(err, EINVAL, "image manifest: expected config.digest and layers[]");
        v = xcalloc(1, sizeof(char *));
        json_array_foreach(layers, i, l) {
                const char *d = json_string_value(json_object_get(l, "digest"));
                if (!image_digest_hex(d)) {
                        strv_free(v);
                        return error_setx(err, EINVAL, "image manifest: layers[%zu].digest is not a sha256 digest", i);
                }
                strv_push(&v, d);
        }
        *ret_config = xstrdup(cd);
        *ret_layers = v;
        return 0;
}

/* Opens a file of the unpacked archive, never leaving it (RESOLVE_IN_ROOT), and checks it is a regular file. */
static int open_in(int root, const char *path, int *ret, Error **err)
{
        struct stat st;
        int fd = sys_openat2(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

        if (fd < 0)
                return error_set(err, errno, "archive member %s", path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return error_setx(err, EINVAL, "archive member %s is not a regular file", path);
        }
        *ret = fd;
        return 0;
}

static int read_in(int root, const char *path, size_t max, char **ret, size_t *len, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = open_in(root, path, &fd, err);
        if (r < 0)
                return r;
        r = read_all_fd(fd, max, ret, len);
        if (r < 0)
                return error_set(err, -r, "reading archive member %s", path);
        return 0;
}

/* A blob of an OCI layout, checked against its digest. */
static int read_blob(int root, const char *digest, size_t max, char **ret, size_t *len, Error **err)
{
        _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", image_digest_hex(digest));
        char hex[65];
        int r = read_in(root, path, max, ret, len, err);

        if (r < 0)
                return r;
        sha256_hex(*ret, *len, hex);
        if (!STREQ(hex, image_digest_hex(digest))) {
                free(*ret);
                *ret = NULL;
                return error_setx(err, EINVAL, "blob %s: its content has digest sha256:%s", digest, hex);
        }
        return 0;
}

/* Checks a whole file's sha256 against hex (for compressed OCI layer blobs). */
static int check_file_digest(int fd, const char *hex, const char *what, Error **err)
{
        unsigned char *buf = xmalloc(CHUNK);
        char got[65];
        Hash h;
        ssize_t n;

        hash_init(&h);
        (void)lseek(fd, 0, SEEK_SET);
        while ((n = read(fd, buf, CHUNK)) > 0)
                hash_update(&h, buf, (size_t)n);
        hash_final(&h, got);
        free(buf);
        (void)lseek(fd, 0, SEEK_SET);
        if (n < 0)
                return error_set(err, errno, "reading %s", what);
        if (!STREQ(got, hex))
                return error_setx(err, EINVAL, "%s: its content has digest sha256:%s, not sha256:%s", what, got, hex);
        return 0;
}

/* Stores one image: its config bytes (verified against config_hex when given) and its layers. */
static int load_image(ImageStore *s, int root, const char *config_bytes, size_t config_len, const char *config_hex,
                      char **layer_paths, bool oci, json_t *tags, image_progress_fn p, void *ud, json_t *loaded, Error **err)
{
        _cleanup_json_ json_t *cfg = NULL;
        json_t *diffs;
        char id[65];
        int r;

        sha256_hex(config_bytes, config_len, id);
        if (config_hex && !STREQ(id, config_hex))
                return error_setx(err, EINVAL, "image config %s: its content has digest sha256:%s", config_hex, id);
        r = jx_parse(config_bytes, config_len, "image config", &cfg, err);
        if (r < 0)
                return r;
        diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
        if (!json_is_array(diffs) || json_array_size(diffs) != strv_length(layer_paths))
                return error_setx(err, EINVAL, "image config %.12s: rootfs.diff_ids does not match the %zu layers", id,
                                  strv_length(layer_paths));
        for (size_t i = 0; layer_paths[i]; i++) {
                const char *want = image_digest_hex(json_string_value(json_array_get(diffs, i)));
                _cleanup_close_ int fd = -EBADF;
                char hex[65];
                if (!want)
                        return error_setx(err, EINVAL, "image config %.12s: rootfs.diff_ids[%zu] is not a sha256 digest", id, i);
                if (layer_exists(s, want))
                        continue;
                r = open_in(root, layer_paths[i], &fd, err);
                if (r < 0)
                        return r;
                if (oci) {
                        const char *blob_hex = strrchr(layer_paths[i], '/') + 1;
                        r = check_file_digest(fd, blob_hex, layer_paths[i], err);
                        if (r < 0)
                                return r;
                }
                _cleanup_free_ char *what = xasprintf("loading layer %.12s", want);
                r = layer_add(s, fd, what, want, p, ud, hex, err);
                if (r < 0)
                        return r;
        }
        {
                char stored[65];
                r = config_store(s, config_bytes, config_len, stored, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *full = xasprintf("sha256:%s", id);
        size_t k;
        json_t *t;
        bool tagged = false;
        json_array_foreach(tags, k, t) {
                _cleanup_free_ char *norm = NULL;
                if (image_ref_normalize(json_string_value(t), &norm, err) < 0)
                        return -EINVAL;
                r = refs_set(s, norm, full, err);
                if (r < 0)
                        return r;
                json_array_append_new(loaded, json_string(norm));
                tagged = true;
        }
        if (!tagged)
                json_array_append_new(loaded, json_string(full));
        return 0;
}

/* Unpacks the outer archive into a staging directory (regular files, directories and symlinks only). */
static int unpack_archive(ImageStore *s, int fd, const char *stage, image_progress_fn p, void *ud, Error **err)
{
        struct archive *a = archive_read_new(), *w = archive_write_disk_new();
        struct archive_entry *e;
        _cleanup_close_ int sfd = -EBADF;
        int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        Source src;
        int r = 0, ar;

        source_init(&src, fd, "loading", p, ud);
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        if (mkdirat(s->tmp_fd, stage, 0700) < 0 || (r = open_dir_at(s->tmp_fd, stage, &sfd)) < 0 || cwd < 0 ||
            fchdir(sfd) < 0) {
                r = error_set(err, r < 0 ? -r : errno, "creating a staging directory in %s/tmp", s->root);
                goto out;
        }
        if (archive_read_open(a, &src, NULL, source_read, NULL) != ARCHIVE_OK) {
                r = error_setx(err, EINVAL, "the archive: %s", archive_error_string(a) ?: "unreadable");
                goto out;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
                _cleanup_free_ char *path = clean_path(archive_entry_pathname(e));
                mode_t type = archive_entry_filetype(e);
                if (!path) {
                        r = error_setx(err, EINVAL, "the archive: entry \"%s\" leaves it", archive_entry_pathname(e) ?: "");
                        goto out;
                }
                if (STREQ(path, ".") || (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) ||
                    archive_entry_hardlink(e))
                        continue;
                archive_entry_set_pathname(e, path);
                archive_entry_set_perm(e, type == AE_IFDIR ? 0700 : 0600);
                if (archive_write_header(w, e) < ARCHIVE_WARN) {
                        r = error_setx(err, EINVAL, "the archive: entry \"%s\": %s", path, archive_error_string(w) ?: "refused");
                        goto out;
                }
                for (;;) {
                        const void *buf;
                        size_t size;
                        la_int64_t off;
                        int k = archive_read_data_block(a, &buf, &size, &off);
                        if (k == ARCHIVE_EOF)
                                break;
                        if (k < ARCHIVE_WARN || archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN) {
                                r = error_setx(err, EIO, "the archive: entry \"%s\": %s", path,
                                               archive_error_string(k < ARCHIVE_WARN ? a : w) ?: "data");
                                goto out;
                        }
                }
                (void)archive_write_finish_entry(w);
        }
        if (ar != ARCHIVE_EOF)
                r = error_setx(err, EINVAL, "the archive: %s", archive_error_string(a) ?: "damaged");
out:
        if (cwd >= 0) {
                (void)fchdir(cwd);
                close(cwd);
        }
        archive_write_free(w);
        archive_read_free(a);
        free(src.buf);
        return r;
}

static int load_docker(ImageStore *s, int root, image_progress_fn p, void *ud, json_t *loaded, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *man = NULL;
        size_t len = 0, i;
        json_t *m;
        int r;

        r = read_in(root, "manifest.json", MANIFEST_MAX, &text, &len, err);
        if (r < 0)
                return r;
        r = image_parse_docker_manifest(text, len, &man, err);
        if (r < 0)
                return r;
        json_array_foreach(man, i, m) {
                _cleanup_free_ char *cfg = NULL;
                _cleanup_strv_ char **layers = xcalloc(1, sizeof(char *));
                const char *cpath = json_string_value(json_object_get(m, "Config"));
                const char *base = strrchr(cpath, '/') ? strrchr(cpath, '/') + 1 : cpath;
                _cleanup_free_ char *hex = xstrndup(base, strcspn(base, "."));
                size_t clen = 0, k;
                json_t *l;
                r = read_in(root, cpath, CONFIG_MAX, &cfg, &clen, err);
                if (r < 0)
                        return r;
                json_array_foreach(json_object_get(m, "Layers"), k, l) strv_push(&layers, json_string_value(l));
                r = load_image(s, root, cfg, clen, is_hex(hex, 64, 64) ? hex : NULL, layers, false,
                               json_object_get(m, "RepoTags"), p, ud, loaded, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_oci_descriptors(ImageStore *s, int root, json_t *descs, int depth, image_progress_fn p, void *ud, json_t *loaded,
                                Error **err)
{
        size_t i;
        json_t *d;
        int r;

        if (depth > 4)
                return error_setx(err, EINVAL, "index.json: indexes nested too deep");
        json_array_foreach(descs, i, d) {
                const char *digest = json_string_value(json_object_get(d, "digest"));
                const char *mt = json_string_value(json_object_get(d, "mediaType")) ?: "";
                _cleanup_free_ char *text = NULL, *cdig = NULL, *cfg = NULL;
                _cleanup_strv_ char **ldig = NULL, **lpaths = xcalloc(1, sizeof(char *));
                size_t len = 0, clen = 0;
                r = read_blob(root, digest, MANIFEST_MAX, &text, &len, err);
                if (r < 0)
                        return r;
                if (strstr(mt, "index") || strstr(mt, "manifest.list")) {
                        _cleanup_json_ json_t *sub = NULL;
                        r = image_parse_oci_index(text, len, &sub, err);
                        if (r < 0)
                                return r;
                        r = load_oci_descriptors(s, root, sub, depth + 1, p, ud, loaded, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = image_parse_oci_manifest(text, len, &cdig, &ldig, err);
                if (r < 0)
                        return r;
                r = read_blob(root, cdig, CONFIG_MAX, &cfg, &clen, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; ldig[k]; k++) {
                        _cleanup_free_ char *lp = xasprintf("blobs/sha256/%s", image_digest_hex(ldig[k]));
                        strv_push(&lpaths, lp);
                }
                _cleanup_json_ json_t *tags = json_array();
                json_t *ann = json_object_get(d, "annotations");
                const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
                const char *refname = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
                if (name)
                        json_array_append_new(tags, json_string(name));
                else if (refname && strchr(refname, ':'))
                        json_array_append_new(tags, json_string(refname));
                else if (refname) {
                        /* A bare tag names no repository: the image is loaded untagged, as docker does. */
                }
                r = load_image(s, root, cfg, clen, image_digest_hex(cdig), lpaths, true, tags, p, ud, loaded, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int image_load(ImageStore *s, int fd, image_progress_fn p, void *ud, json_t **ret_loaded, Error **err)
{
        _cleanup_free_ char *stage = random_name("load");
        _cleanup_json_ json_t *loaded = json_array();
        _cleanup_close_ int root = -EBADF;
        int r;

        r = unpack_archive(s, fd, stage, p, ud, err);
        if (r < 0)
                goto out;
        r = open_dir_at(s->tmp_fd, stage, &root);
        if (r < 0) {
                error_set(err, -r, "opening the staging directory");
                goto out;
        }
        if (faccessat(root, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                r = load_docker(s, root, p, ud, loaded, err);
        else if (faccessat(root, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                _cleanup_free_ char *text = NULL;
                _cleanup_json_ json_t *descs = NULL;
                size_t len = 0;
                r = read_in(root, "index.json", MANIFEST_MAX, &text, &len, err);
                if (r == 0)
                        r = image_parse_oci_index(text, len, &descs, err);
                if (r == 0)
                        r = load_oci_descriptors(s, root, descs, 0, p, ud, loaded, err);
        } else
                r = error_setx(err, EINVAL, "the archive has neither manifest.json (docker save) nor index.json (OCI layout)");
out:
        (void)rm_rf_at(s->tmp_fd, stage);
        if (r < 0)
                return r;
        *ret_loaded = TAKE_PTR(loaded);
        return 0;
}

/* ---------------------------------------------------------------- lookup */

static int resolve_id(ImageStore *s, const char *ref, char **ret_hex, Error **err)
{
        const char *q = str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
        int r;

        if (is_hex(q, 4, 64)) {
                DIR *d = fdopendir(dup(s->configs_fd));
                struct dirent *de;
                char *found = NULL;
                size_t n = 0;
                if (!d)
                        return error_set(err, errno, "listing images");
                rewinddir(d);
                while ((de = readdir(d))) {
                        if (is_hex(de->d_name, 64, 64) && strncmp(de->d_name, q, strlen(q)) == 0) {
                                free(found);
                                found = xstrdup(de->d_name);
                                n++;
                        }
                }
                closedir(d);
                if (n == 1) {
                        *ret_hex = found;
                        return 0;
                }
                free(found);
                if (n > 1)
                        return error_setx(err, EINVAL, "ambiguous image id prefix: %s", ref);
                if (strlen(q) == 64 || str_has_prefix(ref, "sha256:"))
                        return error_setx(err, ENOENT, "No such image: %s", ref);
        }
        _cleanup_free_ char *norm = NULL;
        r = image_ref_normalize(ref, &norm, NULL);
        if (r < 0)
                return error_setx(err, ENOENT, "No such image: %s", ref);
        _cleanup_json_ json_t *refs = refs_load(s);
        const char *id = json_string_value(json_object_get(json_object_get(refs, "refs"), norm));
        if (!id || !image_digest_hex(id) || !config_exists(s, image_digest_hex(id)))
                return error_setx(err, ENOENT, "No such image: %s", norm);
        *ret_hex = xstrdup(image_digest_hex(id));
        return 0;
}

int image_lookup(ImageStore *s, const char *ref, char **ret_id, json_t **ret_config, Error **err)
{
        _cleanup_free_ char *hex = NULL, *text = NULL;
        size_t len = 0;
        int r = resolve_id(s, ref, &hex, err);

        if (r < 0)
                return r;
        if (ret_config) {
                r = config_read(s, hex, &text, &len);
                if (r < 0)
                        return error_set(err, -r, "reading the config of image %.12s", hex);
                r = jx_parse(text, len, "image config", ret_config, err);
                if (r < 0)
                        return r;
        }
        if (ret_id)
                *ret_id = xasprintf("sha256:%s", hex);
        return 0;
}

static int config_diff_ids(ImageStore *s, const char *hex, char ***ret, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        size_t len = 0, i;
        json_t *d;
        char **v = xcalloc(1, sizeof(char *));
        int r = config_read(s, hex, &text, &len);

        if (r < 0 || jx_parse(text, len, "image config", &cfg, NULL) < 0) {
                strv_free(v);
                return error_setx(err, EIO, "image %.12s: its config is unreadable", hex);
        }
        json_array_foreach(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), i, d) {
                const char *h = image_digest_hex(json_string_value(d));
                if (!h) {
                        strv_free(v);
                        return error_setx(err, EINVAL, "image %.12s: rootfs.diff_ids[%zu] is not a sha256 digest", hex, i);
                }
                strv_push(&v, h);
        }
        *ret = v;
        return 0;
}

int image_layer_dirs(ImageStore *s, const char *id, char ***ret, Error **err)
{
        _cleanup_free_ char *hex = NULL;
        _cleanup_strv_ char **diffs = NULL;
        char **v = xcalloc(1, sizeof(char *));
        int r = resolve_id(s, id, &hex, err);

        if (r < 0 || (r = config_diff_ids(s, hex, &diffs, err)) < 0) {
                strv_free(v);
                return r;
        }
        for (size_t n = strv_length(diffs); n-- > 0;) {
                if (!layer_exists(s, diffs[n])) {
                        strv_free(v);
                        return error_setx(err, ENOENT, "image %.12s: layer %.12s is missing from the store", hex, diffs[n]);
                }
                _cleanup_free_ char *p = xasprintf("%s/layers/%s/diff", s->root, diffs[n]);
                strv_push(&v, p);
        }
        *ret = v;
        return 0;
}

/* ---------------------------------------------------------------- list, tag, save, remove */

static uint64_t layer_size(ImageStore *s, const char *hex)
{
        struct stat st;
        _cleanup_free_ char *p = xasprintf("%s/layer.tar", hex);
        return fstatat(s->layers_fd, p, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

int image_list(ImageStore *s, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *refs = refs_load(s);
        json_t *out = json_array();
        DIR *d = fdopendir(dup(s->configs_fd));
        struct dirent *de;

        if (!d) {
                json_decref(out);
                return error_set(err, errno, "listing images");
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *text = NULL, *full = NULL;
                _cleanup_json_ json_t *cfg = NULL;
                _cleanup_strv_ char **diffs = NULL;
                json_t *tags = json_array(), *v;
                const char *k;
                size_t len = 0;
                uint64_t size = 0;
                struct tm tm = { 0 };
                if (!is_hex(de->d_name, 64, 64) || config_read(s, de->d_name, &text, &len) < 0 ||
                    jx_parse(text, len, "image config", &cfg, NULL) < 0) {
                        json_decref(tags);
                        continue;
                }
                full = xasprintf("sha256:%s", de->d_name);
                json_object_foreach(json_object_get(refs, "refs"), k, v) if (STREQ(json_string_value(v) ?: "", full))
                        json_array_append_new(tags, json_string(k));
                if (config_diff_ids(s, de->d_name, &diffs, NULL) == 0)
                        for (size_t i = 0; diffs[i]; i++)
                                size += layer_size(s, diffs[i]);
                const char *created = json_string_value(json_object_get(cfg, "created"));
                time_t t = created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm) ? timegm(&tm) : 0;
                json_array_append_new(out, json_pack("{s:s, s:o, s:I, s:I}", "Id", full, "RepoTags", tags, "Created",
                                                     (json_int_t)t, "Size", (json_int_t)size));
        }
        closedir(d);
        /* newest first */
        for (size_t i = 1; i < json_array_size(out); i++)
                for (size_t j = i; j > 0; j--) {
                        json_int_t a = json_integer_value(json_object_get(json_array_get(out, j - 1), "Created"));
                        json_int_t b = json_integer_value(json_object_get(json_array_get(out, j), "Created"));
                        if (a >= b)
                                break;
                        json_t *tmp = json_incref(json_array_get(out, j - 1));
                        json_array_set(out, j - 1, json_array_get(out, j));
                        json_array_set_new(out, j, tmp);
                }
        *ret = out;
        return 0;
}

int image_tag(ImageStore *s, const char *src, const char *ref, Error **err)
{
        _cleanup_free_ char *hex = NULL, *full = NULL;
        int r = resolve_id(s, src, &hex, err);

        if (r < 0)
                return r;
        full = xasprintf("sha256:%s", hex);
        return refs_set(s, ref, full, err);
}

static int tar_add_bytes(struct archive *w, const char *name, const void *buf, size_t len, Error **err)
{
        struct archive_entry *e = archive_entry_new();
        int r = 0;

        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_mtime(e, 0, 0);
        if (archive_write_header(w, e) != ARCHIVE_OK || (len && archive_write_data(w, buf, len) != (la_ssize_t)len))
                r = error_setx(err, EIO, "writing %s: %s", name, archive_error_string(w) ?: "failed");
        archive_entry_free(e);
        return r;
}

static int tar_add_file(struct archive *w, const char *name, int fd, Error **err)
{
        struct archive_entry *e = archive_entry_new();
        struct stat st;
        unsigned char *buf = NULL;
        int r = 0;

        if (fstat(fd, &st) < 0) {
                archive_entry_free(e);
                return error_set(err, errno, "stat %s", name);
        }
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, st.st_size);
        archive_entry_set_mtime(e, 0, 0);
        if (archive_write_header(w, e) != ARCHIVE_OK) {
                r = error_setx(err, EIO, "writing %s: %s", name, archive_error_string(w) ?: "failed");
                goto out;
        }
        buf = xmalloc(CHUNK);
        for (;;) {
                ssize_t n = read(fd, buf, CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = error_set(err, errno, "reading %s", name);
                        goto out;
                }
                if (n == 0)
                        break;
                if (archive_write_data(w, buf, (size_t)n) != n) {
                        r = error_setx(err, EIO, "writing %s: %s", name, archive_error_string(w) ?: "failed");
                        goto out;
                }
        }
out:
        free(buf);
        archive_entry_free(e);
        return r;
}

static la_ssize_t out_write(struct archive *a, void *ud, const void *buf, size_t n)
{
        int r = write_all(*(int *)ud, buf, n);
        if (r < 0) {
                archive_set_error(a, -r, "write: %s", strerror(-r));
                return -1;
        }
        return (la_ssize_t)n;
}

int image_save(ImageStore *s, char *const *refs, int fd, Error **err)
{
        struct archive *w = archive_write_new();
        _cleanup_json_ json_t *manifest = json_array(), *written = json_object(), *repos = json_object();
        int r = 0;

        archive_write_set_format_pax_restricted(w);
        archive_write_set_bytes_per_block(w, 10240);
        if (archive_write_open(w, &fd, NULL, out_write, NULL) != ARCHIVE_OK) {
                archive_write_free(w);
                return error_setx(err, EIO, "writing the archive: %s", archive_error_string(w) ?: "failed");
        }
        for (size_t i = 0; refs[i]; i++) {
                _cleanup_free_ char *hex = NULL, *text = NULL, *cname = NULL, *norm = NULL;
                _cleanup_strv_ char **diffs = NULL;
                json_t *layers = json_array(), *tags = json_array();
                size_t len = 0;
                r = resolve_id(s, refs[i], &hex, err);
                if (r < 0 || (r = config_diff_ids(s, hex, &diffs, err)) < 0 || (r = config_read(s, hex, &text, &len)) < 0) {
                        if (r != -EINVAL && r != -ENOENT && r != -EIO)
                                error_set(err, -r, "image %s", refs[i]);
                        json_decref(layers);
                        json_decref(tags);
                        goto out;
                }
                cname = xasprintf("%s.json", hex);
                if (!json_object_get(written, cname)) {
                        r = tar_add_bytes(w, cname, text, len, err);
                        if (r < 0) {
                                json_decref(layers);
                                json_decref(tags);
                                goto out;
                        }
                        json_object_set_new(written, cname, json_true());
                }
                for (size_t k = 0; diffs[k]; k++) {
                        _cleanup_free_ char *lname = xasprintf("%s/layer.tar", diffs[k]), *src = xasprintf("%s/layer.tar", diffs[k]);
                        json_array_append_new(layers, json_string(lname));
                        if (json_object_get(written, lname))
                                continue;
                        _cleanup_close_ int lfd = openat(s->layers_fd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (lfd < 0) {
                                r = error_set(err, errno, "layer %.12s of %s", diffs[k], refs[i]);
                                json_decref(layers);
                                json_decref(tags);
                                goto out;
                        }
                        r = tar_add_file(w, lname, lfd, err);
                        if (r < 0) {
                                json_decref(layers);
                                json_decref(tags);
                                goto out;
                        }
                        json_object_set_new(written, lname, json_true());
                }
                /* A name (not an id) given is saved as a tag, as docker does. */
                const char *q = str_has_prefix(refs[i], "sha256:") ? refs[i] + 7 : refs[i];
                if (!is_hex(q, 4, 64) && image_ref_normalize(refs[i], &norm, NULL) == 0) {
                        json_array_append_new(tags, json_string(norm));
                        char *colon = strrchr(norm, ':');
                        *colon = '\0';
                        if (!json_object_get(repos, norm))
                                json_object_set_new(repos, norm, json_object());
                        if (diffs[0])
                                json_object_set_new(json_object_get(repos, norm), colon + 1,
                                                    json_string(diffs[strv_length(diffs) - 1]));
                }
                json_array_append_new(manifest, json_pack("{s:s, s:o, s:o}", "Config", cname, "RepoTags",
                                                          json_array_size(tags) ? tags : (json_decref(tags), json_null()),
                                                          "Layers", layers));
        }
        {
                _cleanup_free_ char *m = jx_dump(manifest, false), *rp = jx_dump(repos, false);
                r = tar_add_bytes(w, "manifest.json", m, strlen(m), err);
                if (r == 0 && json_object_size(repos))
                        r = tar_add_bytes(w, "repositories", rp, strlen(rp), err);
        }
out:
        if (archive_write_close(w) != ARCHIVE_OK && r == 0)
                r = error_setx(err, EIO, "writing the archive: %s", archive_error_string(w) ?: "failed");
        archive_write_free(w);
        return r;
}

/* Removes layers no stored image references. */
static void gc_layers(ImageStore *s)
{
        _cleanup_json_ json_t *keep = json_object();
        DIR *d = fdopendir(dup(s->configs_fd));
        struct dirent *de;

        if (!d)
                return;
        rewinddir(d);
        while ((de = readdir(d))) {
                _cleanup_strv_ char **diffs = NULL;
                if (!is_hex(de->d_name, 64, 64) || config_diff_ids(s, de->d_name, &diffs, NULL) < 0)
                        continue;
                for (size_t i = 0; diffs[i]; i++)
                        json_object_set_new(keep, diffs[i], json_true());
        }
        closedir(d);
        d = fdopendir(dup(s->layers_fd));
        if (!d)
                return;
        rewinddir(d);
        while ((de = readdir(d)))
                if (is_hex(de->d_name, 64, 64) && !json_object_get(keep, de->d_name))
                        (void)rm_rf_at(s->layers_fd, de->d_name);
        closedir(d);
}

int image_remove(ImageStore *s, const char *ref, bool force, char *const *in_use_ids, char *const *in_use_containers,
                 json_t **ret, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_free_ char *hex = NULL, *full = NULL, *norm = NULL;
        _cleanup_json_ json_t *refs = NULL, *out = json_array();
        const char *q = str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
        const char *user = NULL;
        json_t *map, *v;
        const char *k;
        size_t ntags = 0;
        bool by_id;
        int r;

        r = refs_lock(s, &lock);
        if (r < 0)
                return error_set(err, -r, "locking the image store");
        r = resolve_id(s, ref, &hex, err);
        if (r < 0)
                return r;
        full = xasprintf("sha256:%s", hex);
        refs = refs_load(s);
        map = json_object_get(refs, "refs");
        json_object_foreach(map, k, v) ntags += STREQ(json_string_value(v) ?: "", full);
        for (size_t i = 0; in_use_ids && in_use_ids[i]; i++)
                if (STREQ(in_use_ids[i], full))
                        user = in_use_containers && in_use_containers[i] ? in_use_containers[i] : "?";
        by_id = is_hex(q, 4, 64) && (image_ref_normalize(ref, &norm, NULL) < 0 || !json_object_get(map, norm));
        if (!by_id && !norm)
                (void)image_ref_normalize(ref, &norm, NULL);

        if (!by_id) {
                if (user && ntags <= 1 && !force)
                        return error_setx(err, EBUSY, "conflict: unable to remove repository reference \"%s\" (must force) - "
                                          "container %.12s is using its referenced image %.12s", ref, user, hex);
                json_object_del(map, norm);
                json_array_append_new(out, json_pack("{s:s}", "Untagged", norm));
                ntags--;
        } else {
                if (ntags > 1 && !force)
                        return error_setx(err, EBUSY, "conflict: unable to delete %.12s (must be forced) - image is "
                                          "referenced in multiple repositories", hex);
                if (user && !force)
                        return error_setx(err, EBUSY, "conflict: unable to delete %.12s (must be forced) - image is being "
                                          "used by container %.12s", hex, user);
                void *tmp;
                json_object_foreach_safe(map, tmp, k, v) if (STREQ(json_string_value(v) ?: "", full)) {
                        json_array_append_new(out, json_pack("{s:s}", "Untagged", k));
                        json_object_del(map, k);
                }
                ntags = 0;
        }
        r = refs_save(s, refs, err);
        if (r < 0)
                return r;
        /* An image in use keeps its config and layers (untagged, "dangling"): the container needs them. */
        if (ntags == 0 && !user) {
                if (unlinkat(s->configs_fd, hex, 0) < 0 && errno != ENOENT)
                        return error_set(err, errno, "deleting image %.12s", hex);
                json_array_append_new(out, json_pack("{s:s}", "Deleted", full));
                gc_layers(s);
        }
        *ret = TAKE_PTR(out);
        return 0;
}
