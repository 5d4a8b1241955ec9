/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image store: see image-store.h for the layout and the rules.  This file holds what every command
 * needs (references, the store and its lock, the parsers, lookup, list, tag, rmi) and links neither
 * libarchive nor a TLS library; reading and writing archives (import, load, save) is in
 * image-archive.c, which only the stockade-image helper links (see docs/ARCHITECTURE.md).
 */
#include "image-store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image-store-private.h"
#include "json-util.h"
#include "util.h"

/* ================================================================ small helpers */

bool istore_is_hex(const char *s, size_t min, size_t max)
{
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n >= min && n <= max;
}

const char *image_digest_hex(const char *d)
{
        if (!d || strncmp(d, "sha256:", 7) != 0 || !istore_is_hex(d + 7, 64, 64))
                return NULL;
        return d + 7;
}

/* A JSON string without embedded NULs (a "\u0000" would cut a path or a name short), else NULL. */
const char *istore_jstr(const json_t *j)
{
        const char *v = json_string_value(j);
        if (!v || strlen(v) != json_string_length(j))
                return NULL;
        return v;
}

/* An archive's text for a message: at most 200 bytes, control bytes shown as '?'. */
char *istore_printable(const char *s)
{
        size_t n = s ? strnlen(s, 200) : 0;
        char *p = xstrndup(s ? s : "", n);

        for (char *c = p; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
        return p;
}

void istore_hash_init(Hash *h)
{
        sha256_init(&h->ctx);
        h->open = true;
}

void istore_hash_update(Hash *h, const void *p, size_t n)
{
        if (n)
                sha256_update(&h->ctx, n, p);
}

/* Ends the hash; hex may be NULL to discard it.  Safe on a hash already ended. */
void istore_hash_final(Hash *h, char hex[65])
{
        static const char digits_hex[] = "0123456789abcdef";
        uint8_t md[SHA256_DIGEST_SIZE];

        if (!h->open)
                return;
        sha256_digest(&h->ctx, sizeof(md), md);
        h->open = false;
        if (hex) {
                for (unsigned i = 0; i < sizeof(md); i++) {
                        hex[2 * i] = digits_hex[md[i] >> 4];
                        hex[2 * i + 1] = digits_hex[md[i] & 15];
                }
                hex[64] = '\0';
        }
}

void istore_sha256_hex(const void *p, size_t n, char hex[65])
{
        Hash h;

        istore_hash_init(&h);
        istore_hash_update(&h, p, n);
        istore_hash_final(&h, hex);
}

char *istore_random_name(const char *prefix)
{
        unsigned char b[8] = { 0 };

        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
                /* Uniqueness only (mkdirat fails on a clash): time and pid do. */
                uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
                memcpy(b, &t, sizeof(b));
        }
        return xasprintf("%s-%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3], b[4], b[5],
                         b[6], b[7]);
}

int istore_open_dir_at(int dfd, const char *name, int *ret)
{
        int fd = openat(dfd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

int istore_strcmp_p(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory whose names pass `keep` (NULL: all but dot files), sorted. */
static int list_dir(int dfd, bool (*keep)(const char *), char ***ret)
{
        int fd = openat(dfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        char **v = xcalloc(1, sizeof(char *));
        struct dirent *de;
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd))) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                strv_free(v);
                return r;
        }
        while ((de = readdir(d)))
                if (keep ? keep(de->d_name) : de->d_name[0] != '.')
                        strv_push(&v, de->d_name);
        closedir(d);
        qsort(v, strv_length(v), sizeof(char *), istore_strcmp_p);
        *ret = v;
        return 0;
}

static bool is_hex64(const char *name)
{
        return istore_is_hex(name, 64, 64);
}

/* ================================================================ references */

/* [a-z0-9]+ joined by ".", "_", "__" or one or more "-" (docker's reference.nameComponent). */
static bool path_component_ok(const char *c, size_t n)
{
        size_t i = 0;

        for (;;) {
                size_t start = i;
                while (i < n && ((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9')))
                        i++;
                if (i == start)
                        return false;
                if (i == n)
                        return true;
                if (c[i] == '.')
                        i++;
                else if (c[i] == '_')
                        i += (i + 1 < n && c[i + 1] == '_') ? 2 : 1;
                else if (c[i] == '-')
                        while (i < n && c[i] == '-')
                                i++;
                else
                        return false;
        }
}

static bool alnum(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* host[:port]: dot-separated [a-zA-Z0-9] labels with inner dashes (docker's domain, without IPv6). */
static bool domain_ok(const char *d, size_t n)
{
        const char *colon = memchr(d, ':', n);
        size_t host = colon ? (size_t)(colon - d) : n, i = 0;

        if (colon) {
                if (colon + 1 == d + n)
                        return false;
                for (const char *p = colon + 1; p < d + n; p++)
                        if (*p < '0' || *p > '9')
                                return false;
        }
        if (host == 0)
                return false;
        while (i < host) {
                size_t start = i;
                while (i < host && d[i] != '.')
                        i++;
                if (i == start || !alnum(d[start]) || !alnum(d[i - 1]))
                        return false;
                for (size_t k = start; k < i; k++)
                        if (!alnum(d[k]) && d[k] != '-')
                                return false;
                if (i < host)
                        i++;
                if (i == host && d[host - 1] == '.')
                        return false;
        }
        return true;
}

static bool tag_ok(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > 128 || !(alnum(t[0]) || t[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!alnum(t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
                        return false;
        return true;
}

/*
 * docker's ParseNormalizedNamed, then FamiliarName: *ret_repo is "busybox", "foo/bar" or
 * "reg:5000/a/b"; *ret_tag is the tag or NULL when there is none.
 */
int istore_ref_parse(const char *s, char **ret_repo, char **ret_tag, Error **err)
{
        _cleanup_free_ char *domain = NULL, *remainder = NULL, *path = NULL, *tag = NULL;
        const char *slash, *colon;
        size_t dn;

        if (!*s)
                return error_setx(err, EINVAL, "invalid reference format");
        if (istore_is_hex(s, 64, 64))
                return error_setx(err, EINVAL,
                                  "invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
                                  s);
        if (strchr(s, '@')) {
                _cleanup_free_ char *shown = istore_printable(s);
                return error_setx(err, EINVAL, "invalid reference format: digests are not supported (%s)",
                                  shown);
        }
        /* splitDockerDomain: the first component is a registry when it has a "." or ":", is
         * "localhost", or has upper case (a path component never may). */
        slash = strchr(s, '/');
        dn = slash ? (size_t)(slash - s) : 0;
        if (slash) {
                bool upper = false;
                for (size_t i = 0; i < dn; i++)
                        upper |= s[i] >= 'A' && s[i] <= 'Z';
                if (memchr(s, '.', dn) || memchr(s, ':', dn) || (dn == 9 && !strncmp(s, "localhost", 9)) ||
                    upper) {
                        domain = xstrndup(s, dn);
                        remainder = xstrdup(slash + 1);
                }
        }
        if (!domain) {
                domain = xstrdup("docker.io");
                remainder = xstrdup(s);
        }
        if (STREQ(domain, "index.docker.io")) {
                free(domain);
                domain = xstrdup("docker.io");
        }
        if (STREQ(domain, "docker.io") && !strchr(remainder, '/')) {
                char *p = xasprintf("library/%s", remainder);
                free(remainder);
                remainder = p;
        }
        colon = strchr(remainder, ':');
        path = colon ? xstrndup(remainder, (size_t)(colon - remainder)) : xstrdup(remainder);
        if (colon)
                tag = xstrdup(colon + 1);
        for (const char *p = path; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return error_setx(err, EINVAL,
                                          "invalid reference format: repository name must be lowercase");
        if (!domain_ok(domain, strlen(domain)) || (tag && !tag_ok(tag)))
                return error_setx(err, EINVAL, "invalid reference format");
        for (const char *p = path;;) {
                const char *end = strchr(p, '/');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                if (!path_component_ok(p, n))
                        return error_setx(err, EINVAL, "invalid reference format");
                if (!end)
                        break;
                p = end + 1;
        }
        if (strlen(domain) + 1 + strlen(path) > 255)
                return error_setx(err, EINVAL, "repository name must not be more than 255 characters");
        /*
         * FamiliarName: docker.io's "library/x" is "x", its other repositories lose the domain, unless
         * their first component would then read as a registry ("docker.io/foo.bar/x" is not
         * "foo.bar/x"): docker drops it anyway and gets a name that means another image or none (found
         * by fuzzing: a stored ref must parse back to itself).
         */
        if (STREQ(domain, "docker.io")) {
                const char *rest = path + 8;
                size_t first = strcspn(path, "/");
                if (str_has_prefix(path, "library/") && !strchr(rest, '/'))
                        *ret_repo = xstrdup(rest);
                else if (path[first] == '/' &&
                         (memchr(path, '.', first) || (first == 9 && !strncmp(path, "localhost", 9))))
                        *ret_repo = xasprintf("docker.io/%s", path);
                else
                        *ret_repo = xstrdup(path);
        } else
                *ret_repo = xasprintf("%s/%s", domain, path);
        *ret_tag = TAKE_PTR(tag);
        return 0;
}

int image_ref_normalize(const char *ref, char **ret, Error **err)
{
        _cleanup_free_ char *repo = NULL, *tag = NULL;
        int r = istore_ref_parse(ref, &repo, &tag, err);

        if (r < 0)
                return r;
        *ret = xasprintf("%s:%s", repo, tag ? tag : "latest");
        return 0;
}

/* ================================================================ the store, its lock, its refs */

static void store_unlock(ImageStore *s)
{
        if (s->lock_depth == 0 || --s->lock_depth > 0)
                return;
        close(s->lock_fd); /* releases the flock */
        s->lock_fd = -EBADF;
}

void istore_unlockp(ImageStore **s)
{
        if (*s)
                store_unlock(*s);
}

/*
 * The store's lock (flock on <root>/lock), around every change of refs, configs and layers, so that
 * concurrent commands never lose an update or collect a layer another is committing.  Re-entrant
 * within a process: flock locks of two open files conflict even in one process.
 */
int istore_lock(ImageStore *s, Error **err)
{
        int fd;

        if (s->lock_depth > 0) {
                s->lock_depth++;
                return 0;
        }
        fd = openat(s->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set(err, errno, "opening %s/lock", s->root);
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int r = error_set(err, errno, "locking %s/lock", s->root);
                        close(fd);
                        return r;
                }
        }
        s->lock_fd = fd;
        s->lock_depth = 1;
        return 0;
}

/* repositories.json: absent is empty; damaged is an error (rewriting it would drop every tag). */
int istore_refs_read(ImageStore *s, json_t **ret, Error **err)
{
        _cleanup_free_ char *text = NULL;
        json_t *j = NULL, *map, *v;
        const char *k;
        size_t len = 0;
        int r = read_file_at(s->dfd, "repositories.json", REFS_MAX, &text, &len);

        if (r == -ENOENT) {
                *ret = json_pack("{s:{}}", "refs");
                return 0;
        }
        if (r < 0)
                return error_set(err, -r, "reading %s/repositories.json", s->root);
        r = jx_parse(text, len, "repositories.json", &j, err);
        if (r < 0)
                return r;
        map = json_object_get(j, "refs");
        if (!json_is_object(map))
                goto bad;
        json_object_foreach (map, k, v) {
                if (!image_digest_hex(istore_jstr(v)))
                        goto bad;
        }
        *ret = j;
        return 0;
bad:
        json_decref(j);
        return error_setx(
                err, EINVAL,
                "%s/repositories.json is damaged: expected {\"refs\": {\"name:tag\": \"sha256:...\"}}",
                s->root);
}

int istore_refs_write(ImageStore *s, json_t *j, Error **err)
{
        _cleanup_free_ char *text = jx_dump(j, false);
        int r = write_file_atomic(s->dfd, "repositories.json", text, strlen(text), 0600, true);

        if (r < 0)
                return error_set(err, -r, "writing %s/repositories.json", s->root);
        return 0;
}

bool istore_layer_exists(ImageStore *s, const char *hex)
{
        struct stat st;
        _cleanup_free_ char *p = xasprintf("%s/diff", hex);

        return fstatat(s->layers_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool istore_config_exists(ImageStore *s, const char *hex)
{
        struct stat st;

        return fstatat(s->configs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/*
 * The first layout kept layers/<hex> and configs/<hex>; move such entries under sha256/ so stores
 * made by earlier builds keep working.  Best effort: whatever cannot move stays unseen.
 */
static void migrate_flat_layout(ImageStore *s)
{
        static const char *const dirs[] = { "layers", "configs" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = -EBADF;
                _cleanup_strv_ char **names = NULL;
                if (istore_open_dir_at(s->dfd, dirs[i], &fd) < 0 || list_dir(fd, is_hex64, &names) < 0 || !names[0])
                        continue;
                if (istore_lock(s, NULL) < 0)
                        return;
                for (size_t k = 0; names[k]; k++)
                        (void)renameat(fd, names[k], i == 0 ? s->layers_fd : s->configs_fd, names[k]);
                store_unlock(s);
        }
}

/*
 * Staging directories nobody holds (their command crashed, or a layer being deleted was left) go.
 * A live operation holds a flock on its directory from the moment it is made; the age check covers
 * the instant between mkdir and flock.
 */
static void clean_stale_staging(ImageStore *s)
{
        _cleanup_strv_ char **names = NULL;
        time_t now = time(NULL);

        if (list_dir(s->tmp_fd, NULL, &names) < 0)
                return;
        for (size_t i = 0; names[i]; i++) {
                _cleanup_close_ int fd = openat(s->tmp_fd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || now - st.st_mtime < STALE_SECONDS)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                (void)rm_rf_at(s->tmp_fd, names[i]);
        }
}

int image_store_open(const char *data_root, ImageStore **ret, Error **err)
{
        _cleanup_(image_store_closep) ImageStore *s = xcalloc(1, sizeof(*s));
        _cleanup_free_ char *root = xasprintf("%s/image", data_root);
        static const char *const dirs[] = { "layers", "layers/sha256", "configs", "configs/sha256", "tmp" };
        int r;

        s->dfd = s->layers_fd = s->configs_fd = s->tmp_fd = s->lock_fd = -EBADF;
        r = mkdir_p(root, 0700);
        if (r < 0)
                return error_set(err, -r, "creating %s", root);
        /* Absolute, as overlayfs's lowerdir= needs it whatever the caller's directory. */
        s->root = realpath(root, NULL);
        if (!s->root)
                return error_set(err, errno, "resolving %s", root);
        s->dfd = open(s->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (s->dfd < 0)
                return error_set(err, errno, "opening %s", s->root);
        /* Layers hold set-uid files and device nodes: no one but root may reach them. */
        if (fchmod(s->dfd, 0700) < 0)
                return error_set(err, errno, "chmod 0700 %s", s->root);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdirat(s->dfd, dirs[i], 0700) < 0 && errno != EEXIST)
                        return error_set(err, errno, "creating %s/%s", s->root, dirs[i]);
        if ((r = istore_open_dir_at(s->dfd, "layers/sha256", &s->layers_fd)) < 0 ||
            (r = istore_open_dir_at(s->dfd, "configs/sha256", &s->configs_fd)) < 0 ||
            (r = istore_open_dir_at(s->dfd, "tmp", &s->tmp_fd)) < 0)
                return error_set(err, -r, "opening the image store in %s", s->root);
        migrate_flat_layout(s);
        clean_stale_staging(s);
        *ret = TAKE_PTR(s);
        return 0;
}

void image_store_close(ImageStore *s)
{
        if (!s)
                return;
        if (s->lock_depth > 0) {
                s->lock_depth = 1;
                store_unlock(s);
        }
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

/* ================================================================ parsers */

static bool digest_field_ok(json_t *obj, const char *key, const char *parent, Error **err, int *r)
{
        const char *d = istore_jstr(json_object_get(obj, key));

        if (image_digest_hex(d))
                return true;
        if (d && strchr(d, ':') && !str_has_prefix(d, "sha256:"))
                *r = error_setx(err, EINVAL, "%s.%s: only sha256 digests are supported", parent, key);
        else
                *r = error_setx(err, EINVAL, "%s.%s: expected \"sha256:<64 hex digits>\"", parent, key);
        return false;
}

/* A descriptor: digest required; mediaType, size, annotations, platform typed when present. */
static int descriptor_check(json_t *d, const char *path, Error **err)
{
        json_t *v, *ann = json_object_get(d, "annotations"), *plat = json_object_get(d, "platform");
        const char *k;
        int r = 0;

        if (!json_is_object(d))
                return error_setx(err, EINVAL, "%s: expected a descriptor object", path);
        if (!digest_field_ok(d, "digest", path, err, &r))
                return r;
        v = json_object_get(d, "mediaType");
        if (v && !istore_jstr(v))
                return error_setx(err, EINVAL, "%s.mediaType: expected a string", path);
        v = json_object_get(d, "size");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
                return error_setx(err, EINVAL, "%s.size: expected a byte count", path);
        if (ann && !json_is_null(ann)) {
                if (!json_is_object(ann))
                        return error_setx(err, EINVAL, "%s.annotations: expected an object", path);
                json_object_foreach (ann, k, v) {
                        if (!istore_jstr(v))
                                return error_setx(err, EINVAL, "%s.annotations: values must be strings",
                                                  path);
                }
        }
        if (plat && !json_is_null(plat)) {
                if (!json_is_object(plat))
                        return error_setx(err, EINVAL, "%s.platform: expected an object", path);
                if (json_object_get(plat, "os") && !istore_jstr(json_object_get(plat, "os")))
                        return error_setx(err, EINVAL, "%s.platform.os: expected a string", path);
                if (json_object_get(plat, "architecture") && !istore_jstr(json_object_get(plat, "architecture")))
                        return error_setx(err, EINVAL, "%s.platform.architecture: expected a string", path);
        }
        return 0;
}

int image_parse_docker_manifest(const char *text, size_t len, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *m;
        size_t i;
        int r = jx_parse(text, len, "manifest.json", &j, err);

        if (r < 0)
                return r;
        if (!json_is_array(j) || json_array_size(j) == 0)
                return error_setx(err, EINVAL,
                                  "manifest.json: expected [{\"Config\": ..., \"RepoTags\": [...], "
                                  "\"Layers\": [...]}]");
        if (json_array_size(j) > MAX_IMAGES)
                return error_setx(err, E2BIG, "manifest.json: more than %d images", MAX_IMAGES);
        json_array_foreach (j, i, m) {
                json_t *layers = json_object_get(m, "Layers"), *tags = json_object_get(m, "RepoTags"), *v;
                const char *cfg = istore_jstr(json_object_get(m, "Config"));
                size_t k;
                if (!json_is_object(m))
                        return error_setx(err, EINVAL, "manifest.json: [%zu]: expected an object", i);
                if (!cfg || !*cfg || strlen(cfg) > PATH_LEN_MAX)
                        return error_setx(err, EINVAL, "manifest.json: [%zu].Config: expected a file name",
                                          i);
                if (!json_is_array(layers))
                        return error_setx(err, EINVAL,
                                          "manifest.json: [%zu].Layers: expected an array of file names", i);
                if (json_array_size(layers) > MAX_LAYERS)
                        return error_setx(err, E2BIG, "manifest.json: [%zu].Layers: more than %d layers", i,
                                          MAX_LAYERS);
                json_array_foreach (layers, k, v) {
                        const char *l = istore_jstr(v);
                        if (!l || !*l || strlen(l) > PATH_LEN_MAX)
                                return error_setx(err, EINVAL,
                                                  "manifest.json: [%zu].Layers[%zu]: expected a file name",
                                                  i, k);
                }
                if (!tags || json_is_null(tags)) {
                        json_object_set_new(m, "RepoTags", json_array());
                        continue;
                }
                if (!json_is_array(tags) || json_array_size(tags) > MAX_INDEX)
                        return error_setx(err, EINVAL,
                                          "manifest.json: [%zu].RepoTags: expected an array of references",
                                          i);
                json_array_foreach (tags, k, v) {
                        char *norm = NULL;
                        if (!istore_jstr(v))
                                return error_setx(err, EINVAL,
                                                  "manifest.json: [%zu].RepoTags[%zu]: expected a string", i,
                                                  k);
                        r = image_ref_normalize(istore_jstr(v), &norm, err);
                        if (r < 0)
                                return error_wrap(err, "manifest.json: [%zu].RepoTags[%zu]", i, k);
                        json_array_set_new(tags, k, json_string(norm));
                        free(norm);
                }
        }
        *ret = TAKE_PTR(j);
        return 0;
}

int image_parse_legacy_repositories(const char *text, size_t len, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *tags, *v;
        const char *repo, *tag;
        int r = jx_parse(text, len, "repositories", &j, err);

        if (r < 0)
                return r;
        if (!json_is_object(j) || json_object_size(j) == 0 || json_object_size(j) > MAX_IMAGES)
                return error_setx(err, EINVAL,
                                  "repositories: expected {\"repository\": {\"tag\": \"<image id>\"}}");
        json_object_foreach (j, repo, tags) {
                if (!json_is_object(tags) || json_object_size(tags) > MAX_IMAGES)
                        return error_setx(err, EINVAL, "repositories.%s: expected {\"tag\": \"<image id>\"}",
                                          repo);
                json_object_foreach (tags, tag, v) {
                        _cleanup_free_ char *ref = xasprintf("%s:%s", repo, tag), *norm = NULL;
                        if (!istore_jstr(v) || !istore_is_hex(istore_jstr(v), 64, 64))
                                return error_setx(err, EINVAL,
                                                  "repositories.%s.%s: expected a 64-digit hex id", repo,
                                                  tag);
                        if (strlen(repo) != strcspn(repo, ":@") || strlen(tag) != strcspn(tag, ":@/"))
                                return error_setx(err, EINVAL,
                                                  "repositories.%s.%s: invalid reference format", repo, tag);
                        r = image_ref_normalize(ref, &norm, err);
                        if (r < 0)
                                return error_wrap(err, "repositories.%s.%s", repo, tag);
                }
        }
        *ret = TAKE_PTR(j);
        return 0;
}

int image_parse_oci_index(const char *text, size_t len, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *ms, *d;
        size_t i;
        int r = jx_parse(text, len, "index", &j, err);

        if (r < 0)
                return r;
        ms = json_object_get(j, "manifests");
        if (!json_is_object(j) || !json_is_array(ms))
                return error_setx(err, EINVAL,
                                  "index: expected {\"manifests\": [{\"digest\": \"sha256:...\", ...}]}");
        if (json_array_size(ms) > MAX_INDEX)
                return error_setx(err, E2BIG, "index: more than %d manifests", MAX_INDEX);
        json_array_foreach (ms, i, d) {
                _cleanup_free_ char *path = xasprintf("manifests[%zu]", i);
                r = descriptor_check(d, path, err);
                if (r < 0)
                        return error_wrap(err, "index");
        }
        *ret = json_incref(ms);
        return 0;
}

int image_parse_oci_manifest(const char *text, size_t len, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *layers, *l;
        size_t i;
        int r = jx_parse(text, len, "manifest", &j, err);

        if (r < 0)
                return r;
        layers = json_object_get(j, "layers");
        if (!json_is_object(j) || !json_is_object(json_object_get(j, "config")) || !json_is_array(layers))
                return error_setx(err, EINVAL, "manifest: expected {\"config\": {...}, \"layers\": [...]}");
        r = descriptor_check(json_object_get(j, "config"), "config", err);
        if (r < 0)
                return error_wrap(err, "manifest");
        if (json_array_size(layers) > MAX_LAYERS)
                return error_setx(err, E2BIG, "manifest: more than %d layers", MAX_LAYERS);
        json_array_foreach (layers, i, l) {
                _cleanup_free_ char *path = xasprintf("layers[%zu]", i);
                r = descriptor_check(l, path, err);
                if (r < 0)
                        return error_wrap(err, "manifest");
        }
        *ret = TAKE_PTR(j);
        return 0;
}

int image_parse_config(const char *text, size_t len, json_t **ret_config, char ***ret_diff_ids, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        _cleanup_strv_ char **v = NULL;
        json_t *rootfs, *diffs, *d, *c;
        size_t i;
        int r = jx_parse(text, len, "image config", &j, err);

        if (r < 0)
                return r;
        if (!json_is_object(j))
                return error_setx(err, EINVAL, "image config: expected an object");
        c = json_object_get(j, "config");
        if (c && !json_is_null(c) && !json_is_object(c))
                return error_setx(err, EINVAL, "image config: config: expected an object");
        if (json_object_get(j, "created") && !istore_jstr(json_object_get(j, "created")))
                return error_setx(err, EINVAL, "image config: created: expected a time");
        rootfs = json_object_get(j, "rootfs");
        diffs = json_object_get(rootfs, "diff_ids");
        if (!json_is_object(rootfs) || !STREQ(istore_jstr(json_object_get(rootfs, "type")) ?: "", "layers"))
                return error_setx(
                        err, EINVAL,
                        "image config: rootfs: expected {\"type\": \"layers\", \"diff_ids\": [...]}");
        if (diffs && !json_is_null(diffs) && !json_is_array(diffs))
                return error_setx(err, EINVAL,
                                  "image config: rootfs.diff_ids: expected an array of digests");
        if (json_array_size(diffs) > MAX_LAYERS)
                return error_setx(err, E2BIG, "image config: rootfs.diff_ids: more than %d layers",
                                  MAX_LAYERS);
        v = xcalloc(1, sizeof(char *));
        json_array_foreach (diffs, i, d) {
                const char *hex = image_digest_hex(istore_jstr(d));
                if (!hex)
                        return error_setx(
                                err, EINVAL,
                                "image config: rootfs.diff_ids[%zu]: expected \"sha256:<64 hex digits>\"",
                                i);
                strv_push(&v, hex);
        }
        if (ret_config)
                *ret_config = TAKE_PTR(j);
        if (ret_diff_ids)
                *ret_diff_ids = TAKE_PTR(v);
        return 0;
}

static int digits(const char *s, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int image_parse_created(const char *s, int64_t *ret)
{
        struct tm tm = { 0 };
        int y, mo, d, h, mi, sec, off = 0;
        const char *p;

        if (!s || strnlen(s, 41) > 40 || strlen(s) < 20)
                return -EINVAL;
        if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 || s[7] != '-' ||
            digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) < 0 ||
            s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':' || digits(s + 17, 2, &sec) < 0)
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        p = s + 19;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if ((*p == 'Z' || *p == 'z') && !p[1])
                off = 0;
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
                int oh, om;
                if (digits(p + 1, 2, &oh) < 0 || digits(p + 4, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        } else
                return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        *ret = (int64_t)timegm(&tm) - off;
        return 0;
}

/* ================================================================ lookup */

/* The stored ids starting with `prefix`: *ret_hex gets the only one; the count is returned. */
static int find_by_prefix(ImageStore *s, const char *prefix, char hex[65], Error **err)
{
        _cleanup_strv_ char **names = NULL;
        int r = list_dir(s->configs_fd, is_hex64, &names), n = 0;

        if (r < 0)
                return error_set(err, -r, "listing the images in %s", s->root);
        for (size_t i = 0; names[i]; i++)
                if (str_has_prefix(names[i], prefix) && n++ == 0)
                        memcpy(hex, names[i], 65);
        return n;
}

/* docker's GetImage: an id, a reference, then an id prefix.  *ret_by_name: found as a reference. */
int istore_resolve(ImageStore *s, const char *ref, char hex[65], bool *ret_by_name, Error **err)
{
        _cleanup_free_ char *norm = NULL;
        _cleanup_json_ json_t *refs = NULL;
        const char *q = str_has_prefix(ref, "sha256:") ? ref + 7 : ref, *id;
        int r;

        if (ret_by_name)
                *ret_by_name = false;
        if (istore_is_hex(q, 64, 64)) {
                if (!istore_config_exists(s, q))
                        return error_setx(err, ENOENT, "No such image: sha256:%s", q);
                memcpy(hex, q, 65);
                return 0;
        }
        r = image_ref_normalize(ref, &norm, err);
        if (r < 0)
                return r;
        r = istore_refs_read(s, &refs, err);
        if (r < 0)
                return r;
        id = image_digest_hex(istore_jstr(json_object_get(json_object_get(refs, "refs"), norm)));
        if (id && istore_config_exists(s, id)) {
                memcpy(hex, id, 65);
                if (ret_by_name)
                        *ret_by_name = true;
                return 0;
        }
        if (istore_is_hex(q, 4, 63)) {
                r = find_by_prefix(s, q, hex, err);
                if (r < 0)
                        return r;
                if (r == 1)
                        return 0;
                if (r > 1)
                        return error_setx(err, ENOENT,
                                          "No such image: %s (the id prefix %s matches %d images)", norm, q,
                                          r);
        }
        return error_setx(err, ENOENT, "No such image: %s", norm);
}

static int config_load(ImageStore *s, const char *hex, json_t **ret_config, char ***ret_diffs, Error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_at(s->configs_fd, hex, JSON_MAX, &text, &len);

        if (r < 0)
                return error_set(err, -r, "reading the config of image %.12s", hex);
        r = image_parse_config(text, len, ret_config, ret_diffs, err);
        if (r < 0)
                return error_wrap(err, "image %.12s", hex);
        return 0;
}

int image_lookup(ImageStore *s, const char *ref, char **ret_id, json_t **ret_config, Error **err)
{
        char hex[65];
        int r = istore_resolve(s, ref, hex, NULL, err);

        if (r < 0)
                return r;
        if (ret_config) {
                r = config_load(s, hex, ret_config, NULL, err);
                if (r < 0)
                        return r;
        }
        if (ret_id)
                *ret_id = xasprintf("sha256:%s", hex);
        return 0;
}

int image_layer_dirs(ImageStore *s, const char *id, char ***ret, Error **err)
{
        _cleanup_strv_ char **diffs = NULL, **v = xcalloc(1, sizeof(char *));
        char hex[65];
        int r = istore_resolve(s, id, hex, NULL, err);

        if (r < 0)
                return r;
        r = config_load(s, hex, NULL, &diffs, err);
        if (r < 0)
                return r;
        for (size_t n = strv_length(diffs); n-- > 0;) {
                _cleanup_free_ char *dir = NULL;
                bool seen = false;
                for (size_t k = n + 1; diffs[k] && !seen; k++)
                        seen = STREQ(diffs[k], diffs[n]);
                if (seen)
                        continue;
                if (!istore_layer_exists(s, diffs[n]))
                        return error_setx(err, ENOENT,
                                          "image %.12s: layer sha256:%.12s is missing from the store", hex,
                                          diffs[n]);
                dir = xasprintf("%s/layers/sha256/%s/diff", s->root, diffs[n]);
                strv_push(&v, dir);
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* ================================================================ list, tag */

static uint64_t layer_size(ImageStore *s, const char *hex)
{
        _cleanup_free_ char *p = xasprintf("%s/size", hex), *text = NULL;
        uint64_t v = 0;
        struct stat st;

        if (read_file_at(s->layers_fd, p, 64, &text, NULL) == 0) {
                text[strcspn(text, "\n")] = '\0';
                if (parse_uint64(text, &v) == 0)
                        return v;
        }
        free(p);
        p = xasprintf("%s/layer.tar", hex);
        return fstatat(s->layers_fd, p, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

/* The refs pointing at an image, sorted. */
static char **tags_of(json_t *refs, const char *full)
{
        char **v = xcalloc(1, sizeof(char *));
        const char *k;
        json_t *id;

        json_object_foreach (json_object_get(refs, "refs"), k, id) {
                if (STREQ(json_string_value(id), full))
                        strv_push(&v, k);
        }
        qsort(v, strv_length(v), sizeof(char *), istore_strcmp_p);
        return v;
}

static int cmp_created(const void *a, const void *b)
{
        json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
        json_int_t cx = json_integer_value(json_object_get(x, "Created")),
                   cy = json_integer_value(json_object_get(y, "Created"));

        if (cx != cy)
                return cx > cy ? -1 : 1;
        return strcmp(json_string_value(json_object_get(x, "Id")),
                      json_string_value(json_object_get(y, "Id")));
}

int image_list(ImageStore *s, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *refs = NULL;
        _cleanup_strv_ char **names = NULL;
        _cleanup_free_ json_t **items = NULL;
        json_t *out;
        size_t n = 0;
        int r = istore_refs_read(s, &refs, err);

        if (r < 0)
                return r;
        r = list_dir(s->configs_fd, is_hex64, &names);
        if (r < 0)
                return error_set(err, -r, "listing the images in %s", s->root);
        items = xcalloc(strv_length(names) + 1, sizeof(json_t *));
        for (size_t i = 0; names[i]; i++) {
                _cleanup_json_ json_t *cfg = NULL;
                _cleanup_strv_ char **diffs = NULL, **tags = NULL;
                _cleanup_free_ char *full = xasprintf("sha256:%s", names[i]);
                json_t *jtags = json_array();
                uint64_t size = 0;
                int64_t created = 0;
                if (config_load(s, names[i], &cfg, &diffs, NULL) < 0) {
                        json_decref(jtags);
                        continue; /* a damaged config: that image cannot be used, the others can */
                }
                tags = tags_of(refs, full);
                for (size_t k = 0; tags[k]; k++)
                        json_array_append_new(jtags, json_string(tags[k]));
                for (size_t k = 0; diffs[k]; k++) {
                        bool seen = false;
                        for (size_t j = 0; j < k && !seen; j++)
                                seen = STREQ(diffs[j], diffs[k]);
                        if (!seen)
                                size += layer_size(s, diffs[k]);
                }
                (void)image_parse_created(istore_jstr(json_object_get(cfg, "created")), &created);
                items[n++] = json_pack("{s:s, s:o, s:I, s:I}", "Id", full, "RepoTags", jtags, "Created",
                                       (json_int_t)created, "Size", (json_int_t)size);
        }
        qsort(items, n, sizeof(json_t *), cmp_created);
        out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(out, items[i]);
        *ret = out;
        return 0;
}

int image_tag(ImageStore *s, const char *src, const char *ref, Error **err)
{
        _cleanup_unlock_ ImageStore *locked = NULL;
        _cleanup_free_ char *norm = NULL, *full = NULL;
        _cleanup_json_ json_t *refs = NULL;
        char hex[65];
        int r;

        r = image_ref_normalize(ref, &norm, err);
        if (r < 0)
                return r;
        r = istore_lock(s, err);
        if (r < 0)
                return r;
        locked = s;
        r = istore_resolve(s, src, hex, NULL, err);
        if (r < 0)
                return r;
        r = istore_refs_read(s, &refs, err);
        if (r < 0)
                return r;
        full = xasprintf("sha256:%s", hex);
        json_object_set_new(json_object_get(refs, "refs"), norm, json_string(full));
        return istore_refs_write(s, refs, err);
}

/* ================================================================ remove */

/*
 * Deletes the layers no config lists and no running operation has pinned, each renamed out of
 * layers/ first so it vanishes at once.  The caller holds the lock.  A config that cannot be read
 * stops the collection: its layers are unknown, and deleting what it needs would be worse than
 * keeping garbage.  *removed gets the deleted diff hexes.
 */
static int gc_layers(ImageStore *s, json_t *removed, Error **err)
{
        _cleanup_json_ json_t *keep = json_object();
        _cleanup_strv_ char **configs = NULL, **ops = NULL, **layers = NULL;
        int r;

        r = list_dir(s->configs_fd, is_hex64, &configs);
        if (r < 0)
                return error_set(err, -r, "listing the images");
        for (size_t i = 0; configs[i]; i++) {
                _cleanup_strv_ char **diffs = NULL;
                r = config_load(s, configs[i], NULL, &diffs, err);
                if (r < 0)
                        return r;
                for (size_t k = 0; diffs[k]; k++)
                        json_object_set_new(keep, diffs[k], json_true());
        }
        if (list_dir(s->tmp_fd, NULL, &ops) < 0)
                return error_set(err, errno, "listing %s/tmp", s->root);
        for (size_t i = 0; ops[i]; i++) {
                _cleanup_close_ int dfd = -EBADF;
                _cleanup_free_ char *text = NULL;
                char *save = NULL;
                if (istore_open_dir_at(s->tmp_fd, ops[i], &dfd) < 0 ||
                    read_file_at(dfd, "pins", PINS_MAX, &text, NULL) < 0)
                        continue;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        json_object_set_new(keep, l, json_true());
        }
        r = list_dir(s->layers_fd, is_hex64, &layers);
        if (r < 0)
                return error_set(err, -r, "listing the layers");
        for (size_t i = 0; layers[i]; i++) {
                _cleanup_free_ char *gone = NULL;
                if (json_object_get(keep, layers[i]))
                        continue;
                gone = istore_random_name("gc");
                if (renameat(s->layers_fd, layers[i], s->tmp_fd, gone) < 0)
                        continue;
                (void)rm_rf_at(s->tmp_fd, gone); /* what fails to go is retried by a later open */
                json_array_append_new(removed, json_string(layers[i]));
        }
        return 0;
}

/* Whether `ref` names the image by id: docker's isImageIDPrefix. */
static bool is_id_prefix(const char *full, const char *ref)
{
        return str_has_prefix(full, ref) || str_has_prefix(full + 7, ref);
}

/* Docker lists removed layers by chain id, top first: chain(0) = diff(0), chain(n) = sha256(chain(n-1) + " "
 * + diff(n)). */
static void report_layers(char *const *diffs, json_t *removed, json_t *out)
{
        size_t n = strv_length(diffs);
        _cleanup_strv_ char **chain = xcalloc(n + 1, sizeof(char *));
        json_t *v;
        size_t k;

        for (size_t i = 0; i < n; i++) {
                if (i == 0)
                        chain[i] = xasprintf("sha256:%s", diffs[0]);
                else {
                        _cleanup_free_ char *text = xasprintf("%s sha256:%s", chain[i - 1], diffs[i]);
                        char hex[65];
                        istore_sha256_hex(text, strlen(text), hex);
                        chain[i] = xasprintf("sha256:%s", hex);
                }
        }
        for (size_t i = n; i-- > 0;) {
                bool gone = false;
                json_array_foreach (removed, k, v)
                        gone |= STREQ(json_string_value(v), diffs[i]);
                for (size_t j = i + 1; j < n && gone; j++)
                        gone = !STREQ(diffs[j], diffs[i]); /* reported once, at its top place */
                if (gone)
                        json_array_append_new(out, json_pack("{s:s}", "Deleted", chain[i]));
        }
}

int image_remove(ImageStore *s, const char *ref, bool force, char *const *in_use_ids,
                 char *const *in_use_containers, json_t **ret, Error **err)
{
        _cleanup_unlock_ ImageStore *locked = NULL;
        _cleanup_free_ char *full = NULL;
        _cleanup_json_ json_t *refs = NULL, *out = json_array(), *removed = json_array();
        _cleanup_strv_ char **tags = NULL, **diffs = NULL;
        const char *user = NULL;
        json_t *map;
        size_t ntags;
        bool quiet = false, by_name = false;
        char hex[65];
        int r;

        r = istore_lock(s, err);
        if (r < 0)
                return r;
        locked = s;
        r = istore_resolve(s, ref, hex, &by_name, err);
        if (r < 0)
                return r;
        full = xasprintf("sha256:%s", hex);
        r = istore_refs_read(s, &refs, err);
        if (r < 0)
                return r;
        map = json_object_get(refs, "refs");
        tags = tags_of(refs, full);
        ntags = strv_length(tags);
        for (size_t i = 0; in_use_ids && in_use_ids[i] && !user; i++)
                if (STREQ(in_use_ids[i], full) || STREQ(in_use_ids[i], hex))
                        user = in_use_containers && in_use_containers[i] ? in_use_containers[i] : "";

        /* docker asks isImageIDPrefix() alone, so `rmi a` of an image tagged "a" whose id starts with
         * "a" deleted by id; a ref found as a name is a name here. */
        if (by_name || !is_id_prefix(full, ref)) {
                /* A reference: untag it.  Its last tag while a container uses the image needs force,
                 * or the image would be left dangling under the container. */
                _cleanup_free_ char *norm = NULL;
                r = image_ref_normalize(ref, &norm, err);
                if (r < 0)
                        return r;
                if (!force && ntags == 1 && user)
                        return error_setx(err, EBUSY,
                                          "conflict: unable to remove repository reference \"%s\" "
                                          "(must force) - container %.12s is using its referenced image %.12s",
                                          ref, user, hex);
                json_object_del(map, norm);
                json_array_append_new(out, json_pack("{s:s}", "Untagged", norm));
                strv_free(tags);
                tags = tags_of(refs, full);
                ntags = strv_length(tags);
                if (ntags > 0)
                        goto write;
                quiet = true;
        } else if (ntags == 1) {
                if (!force && user)
                        return error_setx(
                                err, EBUSY,
                                "conflict: unable to delete %.12s (must be forced) - image is being used by "
                                "stopped container %.12s",
                                hex, user);
                json_object_del(map, tags[0]);
                json_array_append_new(out, json_pack("{s:s}", "Untagged", tags[0]));
                ntags = 0;
        }
        /* dockerd's imageDeleteHelper */
        if (!force && ntags > 1)
                return error_setx(
                        err, EBUSY,
                        "conflict: unable to delete %.12s (must be forced) - image is referenced in "
                        "multiple repositories",
                        hex);
        if (!force && user && !quiet)
                return error_setx(
                        err, EBUSY,
                        "conflict: unable to delete %.12s (must be forced) - image is being used by "
                        "stopped container %.12s",
                        hex, user);
        for (size_t i = 0; tags[i] && ntags > 0; i++) {
                json_object_del(map, tags[i]);
                json_array_append_new(out, json_pack("{s:s}", "Untagged", tags[i]));
        }
        if (user) {
                /* the container's lower layers: kept, untagged, until it goes */
                if (json_array_size(out) == 0)
                        return error_setx(
                                err, EBUSY,
                                "conflict: unable to delete %.12s (cannot be forced) - image is being "
                                "used by container %.12s",
                                hex, user);
                goto write;
        }
        r = config_load(s, hex, NULL, &diffs, NULL);
        if (r < 0)
                diffs = xcalloc(1, sizeof(char *));
        r = istore_refs_write(s, refs, err);
        if (r < 0)
                return r;
        if (unlinkat(s->configs_fd, hex, 0) < 0 && errno != ENOENT)
                return error_set(err, errno, "deleting image %.12s", hex);
        (void)fsync(s->configs_fd);
        json_array_append_new(out, json_pack("{s:s}", "Deleted", full));
        /* The image is gone whatever the collection finds: a layer it cannot remove now is garbage
         * the next rmi collects. */
        if (gc_layers(s, removed, NULL) == 0)
                report_layers(diffs, removed, out);
        *ret = TAKE_PTR(out);
        return 0;
write:
        r = istore_refs_write(s, refs, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}
