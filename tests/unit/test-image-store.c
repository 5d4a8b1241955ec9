/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image store: references, import (plain and compressed), the on-disk layout, whiteouts under a
 * real overlay mount, hostile layers, docker save / OCI layout / old-format loads with their digest
 * checks, save→load round trips, lookups, tags, rmi's rules, concurrency and crash leftovers.
 * Runs as root (chroot, mknod, trusted.* xattrs, overlayfs).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image-store.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

/* ================================================================ building archives */

typedef enum Filter { PLAIN, GZIP, XZ, ZSTD, BZIP2 } Filter;

typedef struct Tar {
        struct archive *a;
} Tar;

static void tar_open(Tar *t, const char *path, Filter f)
{
        t->a = archive_write_new();
        archive_write_set_format_pax_restricted(t->a);
        switch (f) {
        case GZIP:
                archive_write_add_filter_gzip(t->a);
                break;
        case XZ:
                archive_write_add_filter_xz(t->a);
                break;
        case ZSTD:
                archive_write_add_filter_zstd(t->a);
                break;
        case BZIP2:
                archive_write_add_filter_bzip2(t->a);
                break;
        case PLAIN:
        default:
                break;
        }
        if (archive_write_open_filename(t->a, path) != ARCHIVE_OK)
                abort();
}

typedef struct Entry {
        const char *name;
        mode_t type; /* AE_IFREG when 0 */
        const char *data;
        size_t len; /* strlen(data) when 0 */
        const char *symlink, *hardlink;
        mode_t perm; /* 0644 / 0755 when 0 */
        int uid, gid;
        dev_t rdev;
        const char *xattr_name, *xattr_value;
        const char *xattr2_name, *xattr2_value;
        size_t xattr_len; /* of xattr_value, when it holds NULs */
} Entry;

static void tar_add(Tar *t, Entry en)
{
        struct archive_entry *e = archive_entry_new();
        mode_t type = en.type ? en.type : AE_IFREG;
        size_t len = en.data ? (en.len ? en.len : strlen(en.data)) : 0;

        archive_entry_set_pathname(e, en.name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, en.perm ? en.perm : type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_uid(e, en.uid);
        archive_entry_set_gid(e, en.gid);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (en.rdev)
                archive_entry_set_rdev(e, en.rdev);
        if (en.symlink)
                archive_entry_set_symlink(e, en.symlink);
        if (en.hardlink)
                archive_entry_set_hardlink(e, en.hardlink);
        if (en.xattr_name)
                archive_entry_xattr_add_entry(e, en.xattr_name, en.xattr_value,
                                              en.xattr_len ? en.xattr_len : strlen(en.xattr_value));
        if (en.xattr2_name)
                archive_entry_xattr_add_entry(e, en.xattr2_name, en.xattr2_value, strlen(en.xattr2_value));
        archive_entry_set_size(e, type == AE_IFREG && !en.hardlink ? (la_int64_t)len : 0);
        if (archive_write_header(t->a, e) != ARCHIVE_OK)
                abort();
        if (len && !en.hardlink && archive_write_data(t->a, en.data, len) != (la_ssize_t)len)
                abort();
        archive_entry_free(e);
}

static void tar_file(Tar *t, const char *name, const char *data)
{
        tar_add(t, (Entry){ .name = name, .data = data });
}

static void tar_dir(Tar *t, const char *name)
{
        tar_add(t, (Entry){ .name = name, .type = AE_IFDIR });
}

static void tar_close(Tar *t)
{
        if (archive_write_close(t->a) != ARCHIVE_OK)
                abort();
        archive_write_free(t->a);
}

static char *slurp(const char *path, size_t *len)
{
        char *text = NULL;
        if (read_file_at(AT_FDCWD, path, 256 << 20, &text, len) < 0)
                abort();
        return text;
}

static void hex_of(const void *p, size_t n, char hex[65])
{
        unsigned char md[32];
        unsigned k = 0;
        EVP_Digest(p, n, md, &k, EVP_sha256(), NULL);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void file_hex(const char *path, char hex[65])
{
        size_t len = 0;
        _cleanup_free_ char *text = slurp(path, &len);
        hex_of(text, len, hex);
}

/* Adds a file's bytes as a member. */
static void tar_copy(Tar *t, const char *name, const char *path)
{
        size_t len = 0;
        _cleanup_free_ char *text = slurp(path, &len);
        tar_add(t, (Entry){ .name = name, .data = text, .len = len ? len : 0 });
        if (len == 0)
                abort();
}

/* Adds bytes as blobs/sha256/<hex> and gives the hex. */
static void tar_blob(Tar *t, const void *data, size_t len, char hex[65])
{
        _cleanup_free_ char *name = NULL;
        hex_of(data, len, hex);
        name = xasprintf("blobs/sha256/%s", hex);
        tar_add(t, (Entry){ .name = name, .data = data, .len = len });
}

static char *tmpdir(void)
{
        char *d = xstrdup("/tmp/test-image-store-XXXXXX");
        if (!mkdtemp(d))
                abort();
        return d;
}

static void rmtree(const char *d)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", d);
        if (system(cmd) != 0)
                abort();
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *cmd = NULL;
        int st;
        va_start(ap, fmt);
        cmd = xvasprintf(fmt, ap);
        va_end(ap);
        st = system(cmd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int import_file(ImageStore *s, const char *path, const char *ref, char **id, Error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return image_import(s, fd, ref, "-", NULL, NULL, id, err);
}

static int import_at(ImageStore *s, const char *path, const char *ref, const char *created, char **id,
                     Error **err)
{
        ImageImportOptions o = { .created = created };
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return image_import_with(s, fd, ref, "-", &o, NULL, NULL, id, err);
}

static int load_file(ImageStore *s, const char *path, json_t **loaded, Error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return image_load(s, fd, NULL, NULL, loaded, err);
}

static int save_file(ImageStore *s, const char *path, const char *ref1, const char *ref2, Error **err)
{
        char *refs[] = { (char *)ref1, (char *)ref2, NULL };
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        return image_save(s, refs, fd, err);
}

/* "store is clean": no layer, config or staging directory (a failed operation leaves nothing). */
static bool store_empty(const char *data)
{
        return sh("test -z \"$(find %s/image/layers/sha256 %s/image/configs/sha256 %s/image/tmp -mindepth "
                  "1)\"",
                  data, data, data) == 0;
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *p = NULL;
        struct stat st;
        va_start(ap, fmt);
        p = xvasprintf(fmt, ap);
        va_end(ap);
        return lstat(p, &st) == 0;
}

static char *read_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *read_text(const char *fmt, ...)
{
        va_list ap;
        _cleanup_free_ char *p = NULL;
        char *text = NULL;
        va_start(ap, fmt);
        p = xvasprintf(fmt, ap);
        va_end(ap);
        if (read_file_at(AT_FDCWD, p, 1 << 20, &text, NULL) < 0)
                return NULL;
        return text;
}

/* A one-file layer tar at path; its diff_id in hex. */
static void make_layer(const char *path, const char *name, const char *data, char hex[65])
{
        Tar t;
        tar_open(&t, path, PLAIN);
        tar_file(&t, name, data);
        tar_close(&t);
        if (hex)
                file_hex(path, hex);
}

/* A docker save archive of one image from layer tars (uncompressed); the config's id in hex. */
static void make_docker_save(const char *archive, const char *tag, char *const *layers,
                             const char *extra_cfg, char id[65])
{
        _cleanup_free_ char *diffs = xstrdup(""), *cfg = NULL, *man = NULL, *lnames = xstrdup(""),
                            *cname = NULL;
        Tar t;

        for (size_t i = 0; layers[i]; i++) {
                char h[65];
                char *n;
                file_hex(layers[i], h);
                n = xasprintf("%s%s\"sha256:%s\"", diffs, i ? "," : "", h);
                free(diffs);
                diffs = n;
                n = xasprintf("%s%s\"l%zu/layer.tar\"", lnames, i ? "," : "", i);
                free(lnames);
                lnames = n;
        }
        cfg = xasprintf("{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"A=1\"]},\"created\":\"2024-01-"
                        "01T00:00:00Z\",%s"
                        "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
                        extra_cfg ? extra_cfg : "", diffs);
        hex_of(cfg, strlen(cfg), id);
        cname = xasprintf("%s.json", id);
        man = tag ? xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"%s\"],\"Layers\":[%s]}]", cname, tag,
                              lnames)
                  : xasprintf("[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[%s]}]", cname, lnames);
        tar_open(&t, archive, PLAIN);
        for (size_t i = 0; layers[i]; i++) {
                _cleanup_free_ char *d = xasprintf("l%zu", i), *n = xasprintf("l%zu/layer.tar", i);
                tar_dir(&t, d);
                tar_copy(&t, n, layers[i]);
        }
        tar_file(&t, cname, cfg);
        tar_file(&t, "manifest.json", man);
        tar_close(&t);
}

static const char *jget(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* The config image_import writes for a layer and a time (docker import's shape). */
static char *import_config_text(const char *created, const char *diff)
{
        return xasprintf(
                "{\"architecture\":\"amd64\",\"comment\":\"Imported from -\",\"config\":{\"Hostname\":\"\","
                "\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,\"AttachStdout\":false,"
                "\"AttachStderr\":false,"
                "\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":[\"PATH=/usr/local/sbin:/usr/"
                "local/bin:"
                "/usr/sbin:/usr/bin:/sbin:/"
                "bin\"],\"Cmd\":null,\"Image\":\"\",\"Volumes\":null,\"WorkingDir\":\"\","
                "\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null},\"created\":\"%s\",\"history\":[{"
                "\"created\":"
                "\"%s\",\"comment\":\"Imported from -\"}],\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                "\"diff_ids\":[\"sha256:%s\"]}}",
                created, created, diff);
}

/* ================================================================ references */

TEST(ref_normalize_table)
{
        static const struct {
                const char *in, *out;
        } ok[] = {
                { "busybox", "busybox:latest" },
                { "busybox:1.36", "busybox:1.36" },
                { "library/busybox", "busybox:latest" },
                { "docker.io/library/busybox:1", "busybox:1" },
                { "index.docker.io/foo/bar", "foo/bar:latest" },
                { "docker.io/foo/bar/baz:t", "foo/bar/baz:t" },
                { "reg.example:5000/a/b:tag", "reg.example:5000/a/b:tag" },
                { "localhost/x", "localhost/x:latest" },
                { "localhost:5000/x", "localhost:5000/x:latest" },
                { "Foo/bar", "Foo/bar:latest" }, /* an upper-case first component is a registry */
                { "a_b__c-d.e---f:v1.0-rc_1", "a_b__c-d.e---f:v1.0-rc_1" },
                { "x:_T.A-G", "x:_T.A-G" },
                { "sha256:abcd", "sha256:abcd" },
                { "reg:5000", "reg:5000" }, /* no slash: "reg" tagged "5000", as docker reads it */
                /* docker.io kept where dropping it would make the first component a registry */
                { "docker.io/foo.bar/baz:1", "docker.io/foo.bar/baz:1" },
                { "docker.io/localhost/x", "docker.io/localhost/x:latest" },
                { "docker.io/l__reg.eckes.io/foo", "docker.io/l__reg.eckes.io/foo:latest" },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_free_ char *n = NULL;
                Error *err = NULL;
                if (image_ref_normalize(ok[i].in, &n, &err) < 0)
                        TAP_FAIL("%s: %s", ok[i].in, err->msg);
                if (!STREQ(n, ok[i].out))
                        TAP_FAIL("%s -> %s, want %s", ok[i].in, n, ok[i].out);
        }
}

TEST(ref_normalize_refusals)
{
        _cleanup_free_ char *long_name = NULL, *long_tag = NULL;
        static const struct {
                const char *in, *msg;
        } bad[] = {
                { "", "invalid reference format" },
                { "Busybox", "invalid reference format: repository name must be lowercase" },
                { "foo/Bar", "invalid reference format: repository name must be lowercase" },
                { "a..b", "invalid reference format" },
                { "a__-b", "invalid reference format" },
                { "a___b", "invalid reference format" },
                { "a/", "invalid reference format" },
                { "/a", "invalid reference format" },
                { "a//b", "invalid reference format" },
                { "a:", "invalid reference format" },
                { "a:-x", "invalid reference format" },
                { "a:x:y", "invalid reference format" },
                { "a b", "invalid reference format" },
                { "-a", "invalid reference format" },
                { "a-", "invalid reference format" },
                { ".a", "invalid reference format" },
                { "reg.example:/a", "invalid reference format" },
                { "reg.example:50a/a", "invalid reference format" },
                { "a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                  "digests are not supported" },
                { "0123456789012345678901234567890123456789012345678901234567890123",
                  "cannot specify 64-byte hexadecimal strings" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *n = NULL;
                Error *err = NULL;
                if (image_ref_normalize(bad[i].in, &n, &err) == 0)
                        TAP_FAIL("accepted \"%s\" as %s", bad[i].in, n);
                if (!strstr(err->msg, bad[i].msg) || err->errnum != EINVAL)
                        TAP_FAIL("\"%s\": %s", bad[i].in, err->msg);
                error_free(err);
        }
        long_name = xasprintf("%0250d/abcdef", 0);
        for (char *p = long_name; *p; p++)
                if (*p == '0')
                        *p = 'a';
        {
                Error *err = NULL;
                char *n = NULL;
                ASSERT_TRUE(image_ref_normalize(long_name, &n, &err) < 0);
                ASSERT_CONTAINS(err->msg, "must not be more than 255 characters");
                error_free(err);
        }
        long_tag = xasprintf("a:%0129d", 0);
        ASSERT_TRUE(image_ref_normalize(long_tag, &(char *){ NULL }, NULL) < 0);
}

/* ================================================================ import */

TEST(import_plain_tar)
{
        _cleanup_free_ char *d = tmpdir(), *tar = xasprintf("%s/r.tar", d), *data = xasprintf("%s/data", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        Tar t;

        tar_open(&t, tar, PLAIN);
        tar_dir(&t, "bin");
        tar_file(&t, "bin/hello", "hi\n");
        tar_add(&t, (Entry){ .name = "bin/sh", .type = AE_IFLNK, .symlink = "/bin/hello" });
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, tar, "one:a", &id, NULL));
        ASSERT_TRUE(str_has_prefix(id, "sha256:") && strlen(id) == 71);
        ASSERT_OK(image_layer_dirs(s, "one:a", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 1);
        ASSERT_TRUE(dirs[0][0] == '/');
        {
                _cleanup_free_ char *text = read_text("%s/bin/hello", dirs[0]);
                char target[64] = "";
                _cleanup_free_ char *link = xasprintf("%s/bin/sh", dirs[0]);
                ASSERT_STREQ(text, "hi\n");
                ASSERT_TRUE(readlink(link, target, sizeof(target) - 1) > 0);
                ASSERT_STREQ(target, "/bin/hello");
        }
        rmtree(d);
}

TEST(import_compressed_same_diff_id)
{
        static const Filter filters[] = { GZIP, XZ, ZSTD, BZIP2 };
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d),
                            *plain = xasprintf("%s/p.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        char want[65];
        Tar t;

        tar_open(&t, plain, PLAIN);
        tar_file(&t, "f", "same content");
        tar_close(&t);
        file_hex(plain, want);
        ASSERT_OK(image_store_open(data, &s, NULL));
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                _cleanup_free_ char *path = xasprintf("%s/c%zu", d, i), *id = NULL;
                _cleanup_json_ json_t *cfg = NULL;
                Error *err = NULL;
                tar_open(&t, path, filters[i]);
                tar_file(&t, "f", "same content");
                tar_close(&t);
                if (import_file(s, path, NULL, &id, &err) < 0)
                        TAP_FAIL("filter %zu: %s", i, err->msg);
                ASSERT_OK(image_lookup(s, id, NULL, &cfg, NULL));
                /* the diff_id is the sha256 of the uncompressed tar, whatever the compression */
                ASSERT_STREQ(json_string_value(json_array_get(
                                     json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), 0)) +
                                     7,
                             want);
        }
        /* one layer for all four */
        ASSERT_EQ(sh("test $(ls %s/image/layers/sha256 | wc -l) = 1", data), 0);
        rmtree(d);
}

TEST(import_ids_stable)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tar", d),
                            *g = xasprintf("%s/g.tgz", d);
        _cleanup_free_ char *id1 = NULL, *id2 = NULL, *id3 = NULL, *id4 = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Tar t;

        tar_open(&t, p, PLAIN);
        tar_file(&t, "f", "x");
        tar_close(&t);
        tar_open(&t, g, GZIP);
        tar_file(&t, "f", "x");
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_at(s, p, NULL, "2024-01-01T00:00:00Z", &id1, NULL));
        ASSERT_OK(import_at(s, g, NULL, "2024-01-01T00:00:00Z", &id2, NULL));
        ASSERT_OK(import_at(s, p, NULL, "2024-01-01T00:00:00Z", &id3, NULL));
        /* equal content and time: equal id, however compressed */
        ASSERT_STREQ(id1, id2);
        ASSERT_STREQ(id1, id3);
        /* another time: another image, the same layer */
        ASSERT_OK(import_at(s, p, NULL, "2024-01-02T00:00:00Z", &id4, NULL));
        ASSERT_TRUE(!STREQ(id1, id4));
        ASSERT_EQ(sh("test $(ls %s/image/layers/sha256 | wc -l) = 1 && test $(ls %s/image/configs/sha256 | "
                     "wc -l) = 2",
                     data, data),
                  0);
        rmtree(d);
}

TEST(import_config_shape)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tar", d),
                            *id = NULL, *id2 = NULL, *text = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *cfg = NULL, *cfg2 = NULL;
        char diff[65];
        Error *err = NULL;

        make_layer(p, "f", "x", diff);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, p, "imp", &id, NULL));
        ASSERT_OK(image_lookup(s, "imp", NULL, &cfg, NULL));
        /* docker import's shape: sorted keys, container.Config's fields in Go's order */
        text = jx_dump(cfg, false);
        {
                _cleanup_free_ char *want = import_config_text(jget(cfg, "created"), diff);
                ASSERT_STREQ(text, want);
        }
        {
                int64_t t = 0;
                ASSERT_OK(image_parse_created(jget(cfg, "created"), &t));
                ASSERT_TRUE(llabs(t - (int64_t)time(NULL)) < 60);
        }
        /* the config bytes are the id's preimage */
        {
                _cleanup_free_ char *bytes = read_text("%s/image/configs/sha256/%s", data, id + 7);
                char h[65];
                hex_of(bytes, strlen(bytes), h);
                ASSERT_STREQ(h, id + 7);
        }
        /* -m and the source name */
        {
                ImageImportOptions o = { .message = "my message" };
                _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
                ASSERT_OK(image_import_with(s, fd, NULL, "http://x/y.tar", &o, NULL, NULL, &id2, NULL));
                ASSERT_OK(image_lookup(s, id2, NULL, &cfg2, NULL));
                ASSERT_STREQ(jget(cfg2, "comment"), "my message");
        }
        /* --change (test-image-change.c has the instructions) */
        {
                char *changes[] = { (char *)"CMD [\"sh\"]", NULL };
                ImageImportOptions o = { .changes = changes };
                _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
                _cleanup_json_ json_t *cfg3 = NULL;
                _cleanup_free_ char *x = NULL;
                ASSERT_OK(image_import_with(s, fd, NULL, NULL, &o, NULL, NULL, &x, &err));
                ASSERT_OK(image_lookup(s, x, NULL, &cfg3, NULL));
                json_t *cmd = json_object_get(json_object_get(cfg3, "config"), "Cmd");
                ASSERT_STREQ(json_string_value(json_array_get(cmd, 0)), "sh");
        }
        rmtree(d);
}

TEST(import_layout_on_disk)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tar", d),
                            *id = NULL;
        _cleanup_free_ char *size = NULL, *repos = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        char diff[65], h[65];
        Tar t;

        tar_open(&t, p, PLAIN);
        tar_file(&t, "a", "12345");
        tar_file(&t, "b", "678");
        tar_add(&t, (Entry){ .name = "c", .hardlink = "a" });
        tar_close(&t);
        file_hex(p, diff);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, p, "lay:out", &id, NULL));
        ASSERT_TRUE(exists("%s/image/layers/sha256/%s/diff/a", data, diff));
        {
                _cleanup_free_ char *lt = xasprintf("%s/image/layers/sha256/%s/layer.tar", data, diff);
                file_hex(lt, h);
                ASSERT_STREQ(h, diff); /* kept byte for byte */
        }
        size = read_text("%s/image/layers/sha256/%s/size", data, diff);
        ASSERT_STREQ(size, "8\n"); /* content bytes, the hard link counted once */
        ASSERT_TRUE(exists("%s/image/configs/sha256/%s", data, id + 7));
        repos = read_text("%s/image/repositories.json", data);
        {
                _cleanup_free_ char *want = xasprintf("{\"refs\":{\"lay:out\":\"%s\"}}", id);
                ASSERT_STREQ(repos, want);
        }
        ASSERT_TRUE(store_empty(data) == false);
        ASSERT_EQ(sh("test -z \"$(ls -A %s/image/tmp)\"", data), 0);
        ASSERT_EQ(sh("test \"$(stat -c %%a %s/image)\" = 700", data), 0);
        {
                struct stat a, c;
                _cleanup_free_ char *pa = xasprintf("%s/image/layers/sha256/%s/diff/a", data, diff),
                                    *pc = xasprintf("%s/image/layers/sha256/%s/diff/c", data, diff);
                ASSERT_OK(stat(pa, &a));
                ASSERT_OK(stat(pc, &c));
                ASSERT_EQ(a.st_ino, c.st_ino);
        }
        rmtree(d);
}

typedef struct Seen {
        int calls;
        uint64_t last_done, last_total;
        bool extracting;
} Seen;

static void on_progress(void *ud, const char *what, uint64_t done, uint64_t total)
{
        Seen *s = ud;
        s->calls++;
        if (STREQ(what, "Importing")) {
                s->last_done = done;
                s->last_total = total;
        }
        if (STREQ(what, "Extracting"))
                s->extracting = true;
}

TEST(import_progress)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tgz", d),
                            *id = NULL;
        _cleanup_free_ char *big = xmalloc(3 << 20);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        Seen seen = { 0 };
        struct stat st;
        Tar t;

        for (size_t i = 0; i < (3u << 20) - 1; i++)
                big[i] = (char)('a' + (i * 7919 % 26));
        big[(3 << 20) - 1] = '\0';
        tar_open(&t, p, GZIP);
        tar_file(&t, "big", big);
        tar_close(&t);
        ASSERT_OK(stat(p, &st));
        ASSERT_OK(image_store_open(data, &s, NULL));
        fd = open(p, O_RDONLY | O_CLOEXEC);
        ASSERT_OK(image_import(s, fd, NULL, "-", on_progress, &seen, &id, NULL));
        ASSERT_TRUE(seen.calls >= 2);
        ASSERT_TRUE(seen.extracting);
        ASSERT_EQ(seen.last_total, st.st_size);
        ASSERT_EQ(seen.last_done, st.st_size);
        rmtree(d);
}

TEST(import_refuses_junk_and_leaves_nothing)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *junk = xasprintf("%s/junk", d),
                            *cut = xasprintf("%s/cut.tar", d), *full = xasprintf("%s/full.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Error *err = NULL;
        char *id = NULL;
        Tar t;

        ASSERT_EQ(sh("head -c 5000 /dev/urandom > %s", junk), 0);
        tar_open(&t, full, PLAIN);
        tar_file(&t, "a", "0123456789012345678901234567890123456789");
        tar_close(&t);
        ASSERT_EQ(sh("head -c 530 %s > %s", full, cut), 0);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_TRUE(import_file(s, junk, "junk", &id, &err) < 0);
        error_clear(&err);
        ASSERT_TRUE(import_file(s, cut, "cut", &id, &err) < 0);
        ASSERT_CONTAINS(err->msg, "runcated");
        error_clear(&err);
        /* a bad name is refused before any work */
        ASSERT_EQ(import_file(s, full, "Bad", &id, &err), -EINVAL);
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        ASSERT_TRUE(!exists("%s/image/repositories.json", data));
        rmtree(d);
}

TEST(import_owners_modes_devices_root)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        struct stat st;
        Tar t;

        tar_open(&t, p, PLAIN);
        tar_add(&t, (Entry){ .name = "./", .type = AE_IFDIR, .perm = 0750, .uid = 1000, .gid = 1001 });
        tar_add(&t, (Entry){ .name = "./suid", .data = "x", .perm = 04755, .uid = 1234, .gid = 5678 });
        tar_add(&t, (Entry){ .name = "./fifo", .type = AE_IFIFO, .perm = 0600 });
        tar_add(&t, (Entry){ .name = "./null", .type = AE_IFCHR, .perm = 0666, .rdev = makedev(1, 3) });
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, p, "own", &id, NULL));
        ASSERT_OK(image_layer_dirs(s, "own", &dirs, NULL));
        ASSERT_OK(stat(dirs[0], &st));
        ASSERT_EQ(st.st_mode & 07777, 0750);
        ASSERT_EQ(st.st_uid, 1000);
        ASSERT_EQ(st.st_gid, 1001);
        {
                _cleanup_free_ char *f = xasprintf("%s/suid", dirs[0]), *fi = xasprintf("%s/fifo", dirs[0]),
                                    *n = xasprintf("%s/null", dirs[0]);
                ASSERT_OK(lstat(f, &st));
                ASSERT_EQ(st.st_mode & 07777, 04755);
                ASSERT_EQ(st.st_uid, 1234);
                ASSERT_EQ(st.st_gid, 5678);
                ASSERT_EQ(st.st_mtime, 1700000000);
                ASSERT_OK(lstat(fi, &st));
                ASSERT_TRUE(S_ISFIFO(st.st_mode));
                ASSERT_OK(lstat(n, &st));
                ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
        }
        rmtree(d);
}

/* ================================================================ whiteouts */

TEST(whiteouts_converted)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        Tar t;

        tar_open(&t, p, PLAIN);
        tar_file(&t, ".wh.gone", "");
        tar_dir(&t, "dir");
        tar_file(&t, "dir/.wh..wh..opq", "");
        tar_file(&t, "deep/er/.wh.x", ""); /* parents missing from the tar */
        tar_file(&t, ".wh..wh.plnk", "");  /* AUFS metadata: skipped */
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, p, "wh", &id, NULL));
        ASSERT_OK(image_layer_dirs(s, "wh", &dirs, NULL));
        {
                _cleanup_free_ char *wh = xasprintf("%s/gone", dirs[0]), *opq = xasprintf("%s/dir", dirs[0]),
                                    *x = xasprintf("%s/deep/er/x", dirs[0]);
                struct stat st;
                char v[4] = "";
                ASSERT_OK(lstat(wh, &st));
                ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) && st.st_uid == 0 &&
                            st.st_gid == 0);
                ASSERT_OK(lstat(x, &st));
                ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
                ASSERT_EQ(getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)), 1);
                ASSERT_TRUE(v[0] == 'y');
                ASSERT_TRUE(!exists("%s/.wh.gone", dirs[0]));
                ASSERT_TRUE(!exists("%s/.wh..wh.plnk", dirs[0]));
                ASSERT_TRUE(!exists("%s/dir/.wh..wh..opq", dirs[0]));
        }
        rmtree(d);
}

TEST(whiteouts_hide_under_overlay)
{
        _cleanup_free_ char *d = tmpdir(), *l1 = xasprintf("%s/l1.tar", d), *l2 = xasprintf("%s/l2.tar", d);
        _cleanup_free_ char *data = xasprintf("%s/data", d), *archive = xasprintf("%s/img.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        char id[65];
        Error *err = NULL;
        Tar t;

        tar_open(&t, l1, PLAIN);
        tar_file(&t, "keep", "k");
        tar_file(&t, "gone", "g");
        tar_dir(&t, "dir");
        tar_file(&t, "dir/old", "o");
        tar_close(&t);
        tar_open(&t, l2, PLAIN);
        tar_file(&t, ".wh.gone", "");
        tar_dir(&t, "dir");
        tar_file(&t, "dir/.wh..wh..opq", "");
        tar_file(&t, "dir/new", "n");
        tar_close(&t);
        {
                char *layers[] = { l1, l2, NULL };
                make_docker_save(archive, "two:layers", layers, NULL, id);
        }
        ASSERT_OK(image_store_open(data, &s, NULL));
        if (load_file(s, archive, &loaded, &err) < 0)
                TAP_FAIL("load: %s", err->msg);
        ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), "two:layers");
        ASSERT_OK(image_layer_dirs(s, "two:layers", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 2);
        {
                char h2[65];
                file_hex(l2, h2);
                ASSERT_TRUE(strstr(dirs[0], h2) != NULL); /* top first */
        }
        /* a real overlay over the two, in a private mount namespace */
        {
                pid_t pid = fork();
                int st = 0;
                if (pid == 0) {
                        _cleanup_free_ char *mnt = xasprintf("%s/mnt", d),
                                            *opts = xasprintf("lowerdir=%s:%s", dirs[0], dirs[1]);
                        _cleanup_free_ char *a = xasprintf("%s/keep", mnt), *b = xasprintf("%s/gone", mnt),
                                            *c = xasprintf("%s/dir/old", mnt),
                                            *n = xasprintf("%s/dir/new", mnt);
                        if (unshare(CLONE_NEWNS) < 0 ||
                            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                                _exit(10);
                        (void)mkdir(mnt, 0755);
                        if (mount("overlay", mnt, "overlay", MS_RDONLY, opts) < 0)
                                _exit(11);
                        _exit(access(a, F_OK) == 0 && access(b, F_OK) < 0 && errno == ENOENT &&
                                              access(c, F_OK) < 0 && access(n, F_OK) == 0
                                      ? 0
                                      : 12);
                }
                waitpid(pid, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        TAP_FAIL("overlay check exited %d", WEXITSTATUS(st));
        }
        rmtree(d);
}

/* ================================================================ hostile layers */

/*
 * Imports a tar built by `build` into a fresh store under d; returns import's result.  Whatever
 * happens, nothing may appear at d/outside (the canary directory the tar aims at).
 */
static int import_hostile(const char *d, void (*build)(Tar *, const char *outside), char **ret_id,
                          Error **err)
{
        _cleanup_free_ char *tar = xasprintf("%s/bad.tar", d), *data = xasprintf("%s/data", d),
                            *outside = xasprintf("%s/outside", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Tar t;

        (void)mkdir(outside, 0755);
        tar_open(&t, tar, PLAIN);
        build(&t, outside);
        tar_close(&t);
        if (image_store_open(data, &s, NULL) < 0)
                abort();
        return import_file(s, tar, "bad", ret_id, err);
}

static bool outside_untouched(const char *d)
{
        return sh("test -z \"$(ls -A %s/outside)\"", d) == 0 && !exists("%s/escape", d);
}

static void build_dotdot(Tar *t, const char *outside)
{
        tar_file(t, "ok", "fine");
        tar_file(t, "a/../../escape", "pwned");
}

TEST(hostile_dotdot_refused)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d);
        Error *err = NULL;
        char *id = NULL;

        ASSERT_EQ(import_hostile(d, build_dotdot, &id, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "leaves the directory");
        error_free(err);
        ASSERT_TRUE(outside_untouched(d));
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

static void build_absolute(Tar *t, const char *outside)
{
        _cleanup_free_ char *abs = xasprintf("%s/pwn", outside);
        tar_file(t, abs, "pwned");
        tar_file(t, "/etc/stockade-test-escape", "pwned");
}

TEST(hostile_absolute_paths_stay_inside)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;

        ASSERT_OK(import_hostile(d, build_absolute, &id, NULL));
        ASSERT_TRUE(outside_untouched(d));
        ASSERT_TRUE(!exists("/etc/stockade-test-escape"));
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(image_layer_dirs(s, "bad", &dirs, NULL));
        ASSERT_TRUE(exists("%s/etc/stockade-test-escape", dirs[0]));
        ASSERT_TRUE(exists("%s/%s/outside/pwn", dirs[0], d));
        rmtree(d);
}

static void build_symlink_write(Tar *t, const char *outside)
{
        tar_add(t, (Entry){ .name = "evil", .type = AE_IFLNK, .symlink = outside });
        tar_file(t, "evil/pwn", "pwned");
        tar_add(t, (Entry){ .name = "rel", .type = AE_IFLNK, .symlink = "../../../../../../../../.." });
        tar_file(t, "rel/escape", "pwned");
}

TEST(hostile_symlink_then_write_through)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d);
        Error *err = NULL;
        char *id = NULL;
        int r = import_hostile(d, build_symlink_write, &id, &err);

        /* refused, or neutralised (libarchive replaces the symlink by a directory): never outside */
        ASSERT_TRUE(outside_untouched(d));
        ASSERT_TRUE(!exists("/escape"));
        if (r < 0)
                ASSERT_TRUE(store_empty(data));
        error_free(err);
        free(id);
        rmtree(d);
}

static void build_hardlink_out(Tar *t, const char *outside)
{
        tar_file(t, "ok", "fine");
        tar_add(t, (Entry){ .name = "h", .hardlink = "../../../../../../etc/passwd" });
}

static void build_hardlink_abs(Tar *t, const char *outside)
{
        tar_dir(t, "etc");
        tar_file(t, "etc/passwd", "mine");
        tar_add(t, (Entry){ .name = "h", .hardlink = "/etc/passwd" });
}

static void build_hardlink_through_symlink(Tar *t, const char *outside)
{
        tar_add(t, (Entry){ .name = "evil", .type = AE_IFLNK, .symlink = "/etc" });
        tar_add(t, (Entry){ .name = "h", .hardlink = "evil/passwd" });
}

TEST(hostile_hardlinks)
{
        _cleanup_free_ char *d1 = tmpdir(), *d2 = tmpdir(), *d3 = tmpdir(), *id = NULL;
        _cleanup_free_ char *data2 = xasprintf("%s/data", d2), *data3 = xasprintf("%s/data", d3);
        Error *err = NULL;
        struct stat host, st;
        char *x = NULL;

        ASSERT_OK(stat("/etc/passwd", &host));
        ASSERT_EQ(import_hostile(d1, build_hardlink_out, &x, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "hard link out of the directory");
        error_clear(&err);
        /* an absolute target is the layer's own file (we unpack chroot'ed) */
        ASSERT_OK(import_hostile(d2, build_hardlink_abs, &id, NULL));
        {
                _cleanup_(image_store_closep) ImageStore *s = NULL;
                _cleanup_strv_ char **dirs = NULL;
                _cleanup_free_ char *h = NULL;
                ASSERT_OK(image_store_open(data2, &s, NULL));
                ASSERT_OK(image_layer_dirs(s, "bad", &dirs, NULL));
                h = xasprintf("%s/h", dirs[0]);
                ASSERT_OK(stat(h, &st));
                ASSERT_TRUE(st.st_ino != host.st_ino || st.st_dev != host.st_dev);
                ASSERT_EQ(st.st_nlink, 2);
        }
        /* through a symlink to /etc: refused (or pointing at nothing inside): never the host's file */
        if (import_hostile(d3, build_hardlink_through_symlink, &x, &err) == 0) {
                _cleanup_(image_store_closep) ImageStore *s = NULL;
                _cleanup_strv_ char **dirs = NULL;
                _cleanup_free_ char *h = NULL;
                ASSERT_OK(image_store_open(data3, &s, NULL));
                ASSERT_OK(image_layer_dirs(s, "bad", &dirs, NULL));
                h = xasprintf("%s/h", dirs[0]);
                ASSERT_TRUE(stat(h, &st) < 0 || st.st_ino != host.st_ino);
        } else
                ASSERT_TRUE(store_empty(data3));
        error_clear(&err);
        ASSERT_OK(stat("/etc/passwd", &st));
        ASSERT_EQ(st.st_nlink, host.st_nlink);
        rmtree(d1);
        rmtree(d2);
        rmtree(d3);
}

static void build_dir_to_symlink(Tar *t, const char *outside)
{
        tar_dir(t, "a");
        tar_file(t, "a/f", "x");
        tar_dir(t, "b");
        tar_add(t, (Entry){ .name = "b", .type = AE_IFLNK, .symlink = outside });
        tar_file(t, "b/pwn", "pwned");
        tar_add(t, (Entry){ .name = "a", .type = AE_IFLNK, .symlink = outside });
        tar_file(t, "a/pwn", "pwned");
}

TEST(hostile_directory_replaced_by_symlink)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d);
        Error *err = NULL;
        char *id = NULL;
        int r = import_hostile(d, build_dir_to_symlink, &id, &err);

        ASSERT_TRUE(outside_untouched(d));
        if (r < 0)
                ASSERT_TRUE(store_empty(data));
        error_free(err);
        free(id);
        rmtree(d);
}

static void build_whiteout_through_symlink(Tar *t, const char *outside)
{
        tar_add(t, (Entry){ .name = "l", .type = AE_IFLNK, .symlink = outside });
        tar_file(t, "l/.wh.victim", "");
        tar_file(t, "l/.wh..wh..opq", "");
}

TEST(hostile_whiteout_through_symlink)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d),
                            *outside = xasprintf("%s/outside", d);
        Error *err = NULL;
        char *id = NULL, v[4];

        ASSERT_TRUE(import_hostile(d, build_whiteout_through_symlink, &id, &err) < 0);
        error_free(err);
        ASSERT_TRUE(outside_untouched(d));
        ASSERT_TRUE(getxattr(outside, "trusted.overlay.opaque", v, sizeof(v)) < 0);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

static void build_xattrs(Tar *t, const char *outside)
{
        tar_add(t, (Entry){ .name = "steer",
                            .type = AE_IFDIR,
                            .xattr_name = "trusted.overlay.redirect",
                            .xattr_value = "/elsewhere",
                            .xattr2_name = "user.note",
                            .xattr2_value = "kept" });
        tar_add(t, (Entry){ .name = "opq",
                            .type = AE_IFDIR,
                            .xattr_name = "trusted.overlay.opaque",
                            .xattr_value = "y" });
        tar_add(t, (Entry){ .name = "ping",
                            .data = "elf",
                            .perm = 0755,
                            .xattr_name = "security.capability",
                            .xattr_value = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                           "\x00\x00\x00\x00",
                            .xattr_len = 20,
                            .xattr2_name = "security.selinux",
                            .xattr2_value = "system_u:object_r:shadow_t:s0" });
}

TEST(hostile_xattrs_filtered)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char v[64];

        ASSERT_OK(import_hostile(d, build_xattrs, &id, NULL));
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(image_layer_dirs(s, "bad", &dirs, NULL));
        {
                _cleanup_free_ char *steer = xasprintf("%s/steer", dirs[0]),
                                    *opq = xasprintf("%s/opq", dirs[0]),
                                    *ping = xasprintf("%s/ping", dirs[0]);
                /* overlayfs's own attributes never come from an image */
                ASSERT_TRUE(getxattr(steer, "trusted.overlay.redirect", v, sizeof(v)) < 0);
                ASSERT_TRUE(getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)) < 0);
                ASSERT_EQ(getxattr(steer, "user.note", v, sizeof(v)), 4);
                /* file capabilities stay (ping needs them), host labels do not */
                ASSERT_EQ(getxattr(ping, "security.capability", v, sizeof(v)), 20);
                ASSERT_TRUE(getxattr(ping, "security.selinux", v, sizeof(v)) < 0 || !strstr(v, "shadow_t"));
        }
        rmtree(d);
}

TEST(hostile_absurd_size_and_depth)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/big.tar", d),
                            *deep = xasprintf("%s/deep.tar", d), *path = xstrdup("");
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        unsigned char hdr[512] = { 0 };
        unsigned sum = 0;
        Error *err = NULL;
        char *id = NULL;
        FILE *f;
        Tar t;

        /* a ustar header announcing 8 GiB, followed by a few bytes */
        strcpy((char *)hdr, "huge");
        memcpy(hdr + 100, "0000644", 8);
        memcpy(hdr + 108, "0000000", 8);
        memcpy(hdr + 116, "0000000", 8);
        memcpy(hdr + 124, "77777777777", 12);
        memcpy(hdr + 136, "00000000000", 12);
        memset(hdr + 148, ' ', 8);
        hdr[156] = '0';
        memcpy(hdr + 257, "ustar", 6);
        memcpy(hdr + 263, "00", 2);
        for (int i = 0; i < 512; i++)
                sum += hdr[i];
        snprintf((char *)hdr + 148, 8, "%06o", sum);
        f = fopen(p, "w");
        fwrite(hdr, 1, 512, f);
        fputs("just a little", f);
        fclose(f);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_TRUE(import_file(s, p, "big", &id, &err) < 0);
        error_clear(&err);
        /* a path 300 directories deep */
        for (int i = 0; i < 300; i++) {
                char *n = xasprintf("%sd/", path);
                free(path);
                path = n;
        }
        {
                char *n = xasprintf("%sf", path);
                free(path);
                path = n;
        }
        tar_open(&t, deep, PLAIN);
        tar_file(&t, path, "x");
        tar_close(&t);
        ASSERT_EQ(import_file(s, deep, "deep", &id, &err), -ENAMETOOLONG);
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

/* ================================================================ load */

TEST(load_refuses_config_digest_mismatch)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/bad.tar", d),
                            *data = xasprintf("%s/data", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *loaded = NULL;
        Error *err = NULL;
        Tar t;

        /* the config's name promises one digest, its bytes have another */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "0000000000000000000000000000000000000000000000000000000000000000.json",
                 "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        tar_file(&t, "manifest.json",
                 "[{\"Config\":\"0000000000000000000000000000000000000000000000000000000000000000.json\","
                 "\"RepoTags\":[\"x\"],"
                 "\"Layers\":[]}]");
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "has the content of sha256:");
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

TEST(load_refuses_layer_diff_id_mismatch)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/a.tar", d),
                            *data = xasprintf("%s/data", d), *l1 = xasprintf("%s/l1.tar", d),
                            *l2 = xasprintf("%s/l2.tar", d), *cfg = NULL, *man = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *loaded = NULL;
        Error *err = NULL;
        char h1[65], h2[65], c[65];
        Tar t;

        make_layer(l1, "a", "1", h1);
        make_layer(l2, "a", "2", h2);
        /* the config promises l1 and something else; the archive carries l1 then l2 */
        cfg = xasprintf("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\",\"sha256:%064x\"]}}",
                        h1, 7);
        hex_of(cfg, strlen(cfg), c);
        man = xasprintf(
                "[{\"Config\":\"c.json\",\"RepoTags\":[\"mis:match\"],\"Layers\":[\"1.tar\",\"2.tar\"]}]");
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "c.json", cfg);
        tar_copy(&t, "1.tar", l1);
        tar_copy(&t, "2.tar", l2);
        tar_file(&t, "manifest.json", man);
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "but the image config says");
        error_clear(&err);
        /* nothing half-made: no layer (not even the good one), no config, no tag, no staging */
        ASSERT_TRUE(store_empty(data));
        ASSERT_TRUE(!exists("%s/image/repositories.json", data));
        /* a layer listed twice is checked twice: the second copy may not differ */
        free(cfg);
        cfg = xasprintf("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]}}", h1,
                        h1);
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "c.json", cfg);
        tar_copy(&t, "1.tar", l1);
        tar_copy(&t, "2.tar", l2);
        tar_file(&t, "manifest.json", man);
        tar_close(&t);
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, h2);
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

/* An OCI layout with one image: a gzip (or zstd) layer, its config and manifest, and index.json. */
static void make_oci(const char *archive, const char *annotations, Filter f, bool nested, bool tamper,
                     char cfg_hex[65])
{
        _cleanup_free_ char *d = tmpdir(), *plain = xasprintf("%s/l.tar", d), *comp = xasprintf("%s/l.c", d);
        _cleanup_free_ char *cfg = NULL, *man = NULL, *index = NULL, *ltext = NULL, *nested_index = NULL;
        char diff[65], lhex[65], mhex[65], nhex[65], junk[65];
        size_t llen = 0;
        Tar t;

        tar_open(&t, plain, PLAIN);
        tar_file(&t, "hello", "oci");
        tar_close(&t);
        file_hex(plain, diff);
        tar_open(&t, comp, f);
        tar_file(&t, "hello", "oci");
        tar_close(&t);
        ltext = slurp(comp, &llen);
        hex_of(ltext, llen, lhex);
        cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
                        "\"created\":\"2024-02-03T04:05:06Z\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                        "\"sha256:%s\"]}}",
                        diff);
        hex_of(cfg, strlen(cfg), cfg_hex);
        man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/"
                        "vnd.oci.image.manifest.v1+json\",\"config\":{"
                        "\"mediaType\":\"application/"
                        "vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},"
                        "\"layers\":[{\"mediaType\":\"application/"
                        "vnd.oci.image.layer.v1.tar+%s\",\"digest\":\"sha256:%s\","
                        "\"size\":%zu}]}",
                        cfg_hex, strlen(cfg), f == ZSTD ? "zstd" : "gzip", lhex, llen);
        hex_of(man, strlen(man), mhex);
        if (tamper)
                ltext[llen - 12] ^= 1; /* inside the gzip trailer: the digest no longer matches */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_blob(&t, cfg, strlen(cfg), junk);
        tar_blob(&t, man, strlen(man), junk);
        {
                _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", lhex);
                tar_add(&t, (Entry){ .name = name, .data = ltext, .len = llen });
        }
        if (nested) {
                /* a multi-platform index: another architecture, ours, and an attestation */
                nested_index = xasprintf(
                        "{\"schemaVersion\":2,\"mediaType\":\"application/"
                        "vnd.oci.image.index.v1+json\",\"manifests\":["
                        "{\"mediaType\":\"application/"
                        "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%064d\","
                        "\"size\":1,\"platform\":{\"architecture\":\"s390x-not-us\",\"os\":\"linux\"}},"
                        "{\"mediaType\":\"application/"
                        "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,"
                        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
                        "{\"mediaType\":\"application/"
                        "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%064d\",\"size\":1,"
                        "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},\"annotations\":{"
                        "\"vnd.docker.reference.type\":\"attestation-manifest\"}}]}",
                        0, mhex, strlen(man), 1);
                tar_blob(&t, nested_index, strlen(nested_index), nhex);
                index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                                  "vnd.oci.image.index.v1+json\","
                                  "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{%s}}]}",
                                  nhex, strlen(nested_index), annotations);
        } else
                index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                                  "vnd.oci.image.manifest.v1+json\","
                                  "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{%s}}]}",
                                  mhex, strlen(man), annotations);
        tar_file(&t, "index.json", index);
        tar_close(&t);
        rmtree(d);
}

TEST(load_oci_layout)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/oci.tar", d),
                            *data = xasprintf("%s/data", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char cfg_hex[65];
        Error *err = NULL;

        make_oci(archive, "\"org.opencontainers.image.ref.name\":\"oci/hello:1\"", GZIP, false, false,
                 cfg_hex);
        ASSERT_OK(image_store_open(data, &s, NULL));
        if (load_file(s, archive, &loaded, &err) < 0)
                TAP_FAIL("load: %s", err->msg);
        ASSERT_EQ(json_array_size(loaded), 1);
        ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), "oci/hello:1");
        ASSERT_OK(image_lookup(s, "oci/hello:1", &id, NULL, NULL));
        ASSERT_STREQ(id + 7, cfg_hex);
        ASSERT_OK(image_layer_dirs(s, "oci/hello:1", &dirs, NULL));
        {
                _cleanup_free_ char *text = read_text("%s/hello", dirs[0]);
                ASSERT_STREQ(text, "oci");
        }
        rmtree(d);
}

TEST(load_oci_nested_index_zstd)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/oci.tar", d),
                            *data = xasprintf("%s/data", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        char cfg_hex[65];
        Error *err = NULL;

        /* docker 25's annotations: the full name in io.containerd.image.name, a bare tag in ref.name */
        make_oci(archive,
                 "\"io.containerd.image.name\":\"docker.io/library/"
                 "multi:2\",\"org.opencontainers.image.ref.name\":\"2\"",
                 ZSTD, true, false, cfg_hex);
        ASSERT_OK(image_store_open(data, &s, NULL));
        if (load_file(s, archive, &loaded, &err) < 0)
                TAP_FAIL("load: %s", err->msg);
        ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), "multi:2");
        ASSERT_OK(image_lookup(s, "multi:2", &id, NULL, NULL));
        ASSERT_STREQ(id + 7, cfg_hex);
        rmtree(d);
}

TEST(load_oci_bare_tag_is_untagged)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/oci.tar", d),
                            *data = xasprintf("%s/data", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL, *list = NULL;
        char cfg_hex[65];

        make_oci(archive, "\"org.opencontainers.image.ref.name\":\"latest\"", GZIP, false, false, cfg_hex);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(load_file(s, archive, &loaded, NULL));
        {
                _cleanup_free_ char *want = xasprintf("sha256:%s", cfg_hex);
                ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), want);
        }
        ASSERT_OK(image_list(s, &list, NULL));
        ASSERT_EQ(json_array_size(list), 1);
        ASSERT_EQ(json_array_size(json_object_get(json_array_get(list, 0), "RepoTags")), 0);
        rmtree(d);
}

TEST(load_oci_refuses_tampered_blob)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/oci.tar", d),
                            *data = xasprintf("%s/data", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *loaded = NULL;
        char cfg_hex[65];
        Error *err = NULL;

        make_oci(archive, "\"org.opencontainers.image.ref.name\":\"t/t:1\"", GZIP, false, true, cfg_hex);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "has the content of sha256:");
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

TEST(load_legacy_repositories_format)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/old.tar", d),
                            *data = xasprintf("%s/data", d);
        _cleanup_free_ char *l1 = xasprintf("%s/l1.tar", d), *l2 = xasprintf("%s/l2.tar", d), *v1a = NULL,
                            *v1b = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL, *cfg = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char h1[65], h2[65];
        const char *ida = "1111111111111111111111111111111111111111111111111111111111111111";
        const char *idb = "2222222222222222222222222222222222222222222222222222222222222222";
        Error *err = NULL;
        Tar t;

        make_layer(l1, "base", "b", h1);
        make_layer(l2, "top", "t", h2);
        v1a = xasprintf("{\"id\":\"%s\",\"created\":\"2015-01-01T00:00:00Z\",\"container_config\":{\"Cmd\":["
                        "\"/bin/sh\",\"-c\","
                        "\"#(nop) ADD file\"]},\"os\":\"linux\",\"Size\":1}",
                        ida);
        v1b = xasprintf(
                "{\"id\":\"%s\",\"parent\":\"%s\",\"created\":\"2015-01-02T00:00:00Z\",\"author\":\"me\","
                "\"config\":{\"Cmd\":[\"sh\"]},\"os\":\"linux\",\"architecture\":\"amd64\"}",
                idb, ida);
        tar_open(&t, archive, PLAIN);
        {
                _cleanup_free_ char *ja = xasprintf("%s/json", ida), *jb = xasprintf("%s/json", idb),
                                    *ta = xasprintf("%s/layer.tar", ida),
                                    *tb = xasprintf("%s/layer.tar", idb),
                                    *repos = xasprintf("{\"old\":{\"v1\":\"%s\"}}", idb);
                tar_file(&t, ja, v1a);
                tar_copy(&t, ta, l1);
                tar_file(&t, jb, v1b);
                tar_copy(&t, tb, l2);
                tar_file(&t, "repositories", repos);
        }
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        if (load_file(s, archive, &loaded, &err) < 0)
                TAP_FAIL("load: %s", err->msg);
        ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), "old:v1");
        ASSERT_OK(image_lookup(s, "old:v1", NULL, &cfg, NULL));
        /* MakeConfigFromV1Config: v1 fields gone, rootfs and history added, keys sorted */
        ASSERT_TRUE(!json_object_get(cfg, "id") && !json_object_get(cfg, "parent") &&
                    !json_object_get(cfg, "Size"));
        ASSERT_STREQ(jget(cfg, "author"), "me");
        {
                json_t *h = json_object_get(cfg, "history"),
                       *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
                ASSERT_EQ(json_array_size(h), 2);
                ASSERT_STREQ(jget(json_array_get(h, 0), "created_by"), "/bin/sh -c #(nop) ADD file");
                ASSERT_STREQ(jget(json_array_get(h, 1), "author"), "me");
                ASSERT_STREQ(json_string_value(json_array_get(diffs, 0)) + 7, h1);
                ASSERT_STREQ(json_string_value(json_array_get(diffs, 1)) + 7, h2);
        }
        ASSERT_OK(image_layer_dirs(s, "old:v1", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 2);
        ASSERT_TRUE(exists("%s/top", dirs[0]) && exists("%s/base", dirs[1]));
        rmtree(d);
}

TEST(load_refuses_junk_and_escapes)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/bad.tar", d),
                            *data = xasprintf("%s/data", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *loaded = NULL;
        Error *err = NULL;
        Tar t;

        ASSERT_OK(image_store_open(data, &s, NULL));
        /* neither format */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "random", "x");
        tar_close(&t);
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "no manifest.json");
        error_clear(&err);
        /* a manifest pointing out of the archive through a symlink */
        tar_open(&t, archive, PLAIN);
        tar_add(&t, (Entry){ .name = "link", .type = AE_IFLNK, .symlink = "/etc" });
        tar_file(&t, "manifest.json", "[{\"Config\":\"link/passwd\",\"Layers\":[]}]");
        tar_close(&t);
        ASSERT_TRUE(load_file(s, archive, &loaded, &err) < 0);
        error_clear(&err);
        /* ... or with a path */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "manifest.json", "[{\"Config\":\"../../../../../../etc/passwd\",\"Layers\":[]}]");
        tar_close(&t);
        ASSERT_TRUE(load_file(s, archive, &loaded, &err) < 0);
        error_clear(&err);
        /* an archive member escaping */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "../escape", "x");
        tar_close(&t);
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        error_clear(&err);
        ASSERT_TRUE(!exists("%s/escape", d) && !exists("%s/image/escape", data));
        /* a manifest with a bad tag */
        tar_open(&t, archive, PLAIN);
        tar_file(&t, "manifest.json", "[{\"Config\":\"c.json\",\"RepoTags\":[\"UPPER\"],\"Layers\":[]}]");
        tar_close(&t);
        ASSERT_EQ(load_file(s, archive, &loaded, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg,
                        "RepoTags[0]: invalid reference format: repository name must be lowercase");
        error_clear(&err);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

/* ================================================================ save */

TEST(save_load_round_trip)
{
        _cleanup_free_ char *d = tmpdir(), *a = xasprintf("%s/a", d), *b = xasprintf("%s/b", d),
                            *saved = xasprintf("%s/s.tar", d);
        _cleanup_free_ char *l1 = xasprintf("%s/l1.tar", d), *l2 = xasprintf("%s/l2.tar", d),
                            *l3 = xasprintf("%s/l3.tar", d);
        _cleanup_free_ char *arch1 = xasprintf("%s/1.tar", d), *arch2 = xasprintf("%s/2.tar", d),
                            *x = xasprintf("%s/x", d);
        _cleanup_(image_store_closep) ImageStore *s1 = NULL, *s2 = NULL;
        _cleanup_json_ json_t *loaded = NULL, *loaded2 = NULL;
        char id1[65], id2[65];
        Error *err = NULL;

        make_layer(l1, "base", "shared", NULL);
        make_layer(l2, "one", "1", NULL);
        make_layer(l3, "two", "2", NULL);
        {
                char *la[] = { l1, l2, NULL }, *lb[] = { l1, l3, NULL };
                make_docker_save(arch1, "app:v1", la, NULL, id1);
                make_docker_save(arch2, "reg.example:5000/team/app:v2", lb, "\"comment\":\"<&>\",", id2);
        }
        ASSERT_OK(image_store_open(a, &s1, NULL));
        ASSERT_OK(load_file(s1, arch1, &loaded, NULL));
        json_decref(loaded);
        ASSERT_OK(load_file(s1, arch2, &loaded, NULL));
        json_decref(loaded);
        loaded = NULL;
        ASSERT_OK(image_tag(s1, "app:v1", "app:also", NULL));
        if (save_file(s1, saved, "app:v1", "reg.example:5000/team/app:v2", &err) < 0)
                TAP_FAIL("save: %s", err->msg);
        /* what docker load reads: manifest.json with RepoTags and Layers, repositories */
        ASSERT_EQ(sh("mkdir %s && tar -xf %s -C %s", x, saved, x), 0);
        {
                _cleanup_free_ char *man = read_text("%s/manifest.json", x),
                                    *repos = read_text("%s/repositories", x);
                _cleanup_json_ json_t *m = NULL;
                ASSERT_OK(jx_parse(man, strlen(man), "manifest.json", &m, NULL));
                ASSERT_EQ(json_array_size(m), 2);
                ASSERT_STREQ(json_string_value(
                                     json_array_get(json_object_get(json_array_get(m, 0), "RepoTags"), 0)),
                             "app:v1");
                ASSERT_EQ(json_array_size(json_object_get(json_array_get(m, 1), "Layers")), 2);
                ASSERT_CONTAINS(repos, "\"reg.example:5000/team/app\":{\"v2\":");
                ASSERT_TRUE(exists("%s/%s.json", x, id1));
        }
        ASSERT_OK(image_store_open(b, &s2, NULL));
        if (load_file(s2, saved, &loaded2, &err) < 0)
                TAP_FAIL("load: %s", err->msg);
        ASSERT_EQ(json_array_size(loaded2), 2);
        ASSERT_STREQ(json_string_value(json_array_get(loaded2, 0)), "app:v1");
        ASSERT_STREQ(json_string_value(json_array_get(loaded2, 1)), "reg.example:5000/team/app:v2");
        {
                _cleanup_free_ char *i1 = NULL, *i2 = NULL;
                ASSERT_OK(image_lookup(s2, "app:v1", &i1, NULL, NULL));
                ASSERT_OK(image_lookup(s2, "reg.example:5000/team/app:v2", &i2, NULL, NULL));
                ASSERT_STREQ(i1 + 7, id1);
                ASSERT_STREQ(i2 + 7, id2);
                /* "app:also" was not named, so not saved */
                ASSERT_EQ(image_lookup(s2, "app:also", NULL, NULL, NULL), -ENOENT);
        }
        ASSERT_EQ(sh("test $(ls %s/image/layers/sha256 | wc -l) = 3", b), 0);
        ASSERT_EQ(sh("diff -r %s/image/layers %s/image/layers", a, b), 0);
        rmtree(d);
}

TEST(save_name_means_all_tags_id_means_none)
{
        _cleanup_free_ char *d = tmpdir(), *a = xasprintf("%s/a", d), *b = xasprintf("%s/b", d),
                            *c = xasprintf("%s/c", d);
        _cleanup_free_ char *l = xasprintf("%s/l.tar", d), *s1 = xasprintf("%s/s1.tar", d),
                            *s2 = xasprintf("%s/s2.tar", d), *s3 = xasprintf("%s/s3.tar", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *sa = NULL, *sb = NULL, *sc = NULL;
        _cleanup_json_ json_t *loaded = NULL, *loaded2 = NULL;
        size_t len1 = 0, len3 = 0;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(a, &sa, NULL));
        ASSERT_OK(import_at(sa, l, "rep:one", "2024-01-01T00:00:00Z", &id, NULL));
        ASSERT_OK(image_tag(sa, "rep:one", "rep:two", NULL));
        ASSERT_OK(image_tag(sa, "rep:one", "other:x", NULL));
        ASSERT_OK(save_file(sa, s1, "rep", NULL, NULL));
        ASSERT_OK(image_store_open(b, &sb, NULL));
        ASSERT_OK(load_file(sb, s1, &loaded, NULL));
        ASSERT_EQ(json_array_size(loaded), 2);
        ASSERT_OK(image_lookup(sb, "rep:one", NULL, NULL, NULL));
        ASSERT_OK(image_lookup(sb, "rep:two", NULL, NULL, NULL));
        ASSERT_EQ(image_lookup(sb, "other:x", NULL, NULL, NULL), -ENOENT);
        /* by id: no tags */
        ASSERT_OK(save_file(sa, s2, id + 7, NULL, NULL));
        ASSERT_OK(image_store_open(c, &sc, NULL));
        ASSERT_OK(load_file(sc, s2, &loaded2, NULL));
        ASSERT_STREQ(json_string_value(json_array_get(loaded2, 0)), id);
        /* deterministic: the same save twice gives the same bytes */
        ASSERT_OK(save_file(sa, s3, "rep", NULL, NULL));
        {
                _cleanup_free_ char *x = slurp(s1, &len1), *y = slurp(s3, &len3);
                ASSERT_TRUE(len1 == len3 && memcmp(x, y, len1) == 0);
        }
        {
                Error *err = NULL;
                ASSERT_EQ(save_file(sa, s3, "nothere:1", NULL, &err), -ENOENT);
                ASSERT_CONTAINS(err->msg, "No such image: nothere:1");
                error_free(err);
        }
        rmtree(d);
}

TEST(load_compressed_archive)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *arch = xasprintf("%s/a.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        char id[65];

        make_layer(l, "f", "x", NULL);
        {
                char *layers[] = { l, NULL };
                make_docker_save(arch, "gz:1", layers, NULL, id);
        }
        ASSERT_EQ(sh("gzip -9 %s", arch), 0);
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                _cleanup_free_ char *gz = xasprintf("%s.gz", arch);
                ASSERT_OK(load_file(s, gz, &loaded, NULL));
        }
        ASSERT_STREQ(json_string_value(json_array_get(loaded, 0)), "gz:1");
        rmtree(d);
}

/* ================================================================ lookup, tag, list */

TEST(lookup_forms)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        char *id = NULL, *found = NULL;
        Error *err = NULL;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_at(s, l, "busybox", "2024-01-01T00:00:00Z", &id, NULL));
        ASSERT_OK(image_tag(s, id, "busybox:1.36", NULL));
        {
                const char *forms[] = {
                        "busybox", "busybox:latest", "docker.io/library/busybox", "library/busybox:1.36", id,
                        id + 7
                };
                for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                        if (image_lookup(s, forms[i], &found, NULL, &err) < 0)
                                TAP_FAIL("%s: %s", forms[i], err->msg);
                        ASSERT_STREQ(found, id);
                        free(found);
                }
        }
        {
                _cleanup_free_ char *p12 = xstrndup(id + 7, 12), *p4 = xstrndup(id + 7, 4),
                                    *sp = xasprintf("sha256:%.6s", id + 7), *p3 = xstrndup(id + 7, 3);
                ASSERT_OK(image_lookup(s, p12, &found, NULL, NULL));
                ASSERT_STREQ(found, id);
                free(found);
                ASSERT_OK(image_lookup(s, p4, &found, NULL, NULL));
                free(found);
                ASSERT_OK(image_lookup(s, sp, &found, NULL, NULL));
                free(found);
                /* fewer than 4 digits is a name, not a prefix */
                ASSERT_EQ(image_lookup(s, p3, &found, NULL, NULL), -ENOENT);
        }
        ASSERT_EQ(image_lookup(s, "nothere", &found, NULL, &err), -ENOENT);
        ASSERT_STREQ(err->msg, "No such image: nothere:latest");
        error_clear(&err);
        ASSERT_EQ(image_lookup(s, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                               &found, NULL, &err),
                  -ENOENT);
        ASSERT_CONTAINS(err->msg, "No such image: sha256:0000");
        error_clear(&err);
        ASSERT_EQ(image_lookup(s, "NotLower", &found, NULL, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "must be lowercase");
        error_clear(&err);
        free(id);
        rmtree(d);
}

TEST(lookup_ambiguous_prefix)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d);
        _cleanup_free_ char *id1 = NULL, *id2 = NULL, *found = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_free_ int *seen = xcalloc(65536, sizeof(int));
        char diff[65];
        Error *err = NULL;
        int a = -1, b = -1;

        make_layer(l, "f", "x", diff);
        /* import's ids are known in advance: find two times whose ids share 4 hex digits (birthday: ~300) */
        for (int i = 1; i < 20000 && a < 0; i++) {
                _cleanup_free_ char *when = xasprintf("2024-03-01T00:00:00.%dZ", i),
                                    *cfg = import_config_text(when, diff);
                char hex[65];
                unsigned v;
                hex_of(cfg, strlen(cfg), hex);
                sscanf(hex, "%4x", &v);
                if (seen[v]) {
                        a = seen[v];
                        b = i;
                } else
                        seen[v] = i;
        }
        ASSERT_TRUE(a > 0);
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                _cleanup_free_ char *w1 = xasprintf("2024-03-01T00:00:00.%dZ", a),
                                    *w2 = xasprintf("2024-03-01T00:00:00.%dZ", b);
                ASSERT_OK(import_at(s, l, NULL, w1, &id1, NULL));
                ASSERT_OK(import_at(s, l, NULL, w2, &id2, NULL));
        }
        ASSERT_TRUE(strncmp(id1 + 7, id2 + 7, 4) == 0);
        {
                _cleanup_free_ char *p = xstrndup(id1 + 7, 4),
                                    *want = xasprintf("No such image: %s:latest", p);
                ASSERT_EQ(image_lookup(s, p, &found, NULL, &err), -ENOENT);
                ASSERT_CONTAINS(err->msg, want);
                ASSERT_CONTAINS(err->msg, "matches 2 images");
                error_clear(&err);
        }
        /* a longer prefix tells them apart (if the 5th digit does) */
        if (id1[11] != id2[11]) {
                _cleanup_free_ char *p = xstrndup(id1 + 7, 5);
                ASSERT_OK(image_lookup(s, p, &found, NULL, NULL));
                ASSERT_STREQ(found, id1);
        }
        rmtree(d);
}

TEST(tag_moves_and_refuses)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d);
        _cleanup_free_ char *id1 = NULL, *id2 = NULL, *found = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Error *err = NULL;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_at(s, l, "t:1", "2024-01-01T00:00:00Z", &id1, NULL));
        ASSERT_OK(import_at(s, l, "t:2", "2024-01-02T00:00:00Z", &id2, NULL));
        ASSERT_OK(image_tag(s, id1 + 7, "docker.io/library/moving", NULL));
        ASSERT_OK(image_lookup(s, "moving", &found, NULL, NULL));
        ASSERT_STREQ(found, id1);
        free(found);
        ASSERT_OK(image_tag(s, "t:2", "moving:latest", NULL));
        ASSERT_OK(image_lookup(s, "moving", &found, NULL, NULL));
        ASSERT_STREQ(found, id2);
        ASSERT_EQ(image_tag(s, "t:1", id1 + 7, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "cannot specify 64-byte hexadecimal strings");
        error_clear(&err);
        ASSERT_EQ(image_tag(s, "t:9", "x", &err), -ENOENT);
        ASSERT_STREQ(err->msg, "No such image: t:9");
        error_clear(&err);
        rmtree(d);
}

TEST(list_newest_first_with_sizes)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *l2 = xasprintf("%s/l2.tar", d), *id1 = NULL, *id2 = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *list = NULL;
        json_t *a, *b;

        make_layer(l, "f", "12345", NULL);
        make_layer(l2, "g", "123", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_at(s, l, "old", "2020-01-01T00:00:00Z", &id1, NULL));
        ASSERT_OK(import_at(s, l2, "new:b", "2021-01-01T00:00:00.5+01:00", &id2, NULL));
        ASSERT_OK(image_tag(s, "new:b", "new:a", NULL));
        ASSERT_OK(image_list(s, &list, NULL));
        ASSERT_EQ(json_array_size(list), 2);
        a = json_array_get(list, 0);
        b = json_array_get(list, 1);
        ASSERT_STREQ(jget(a, "Id"), id2);
        ASSERT_EQ(json_integer_value(json_object_get(a, "Created")), 1609455600);
        ASSERT_EQ(json_integer_value(json_object_get(a, "Size")), 3);
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(a, "RepoTags"), 0)), "new:a");
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(a, "RepoTags"), 1)), "new:b");
        ASSERT_STREQ(jget(b, "Id"), id1);
        ASSERT_EQ(json_integer_value(json_object_get(b, "Created")), 1577836800);
        ASSERT_EQ(json_integer_value(json_object_get(b, "Size")), 5);
        rmtree(d);
}

TEST(layer_dirs_dedupe_and_order)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l1 = xasprintf("%s/l1.tar", d),
                            *l2 = xasprintf("%s/l2.tar", d), *arch = xasprintf("%s/a.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char h1[65], h2[65], id[65];

        make_layer(l1, "a", "1", h1);
        make_layer(l2, "b", "2", h2);
        {
                /* l1, l2, l1 again (docker's empty layers repeat like this) */
                char *layers[] = { l1, l2, l1, NULL };
                make_docker_save(arch, "dup", layers, NULL, id);
        }
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(load_file(s, arch, &loaded, NULL));
        ASSERT_OK(image_layer_dirs(s, "dup", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 2);
        ASSERT_TRUE(strstr(dirs[0], h1) && strstr(dirs[1], h2));
        rmtree(d);
}

/* ================================================================ rmi */

static json_t *rmi(ImageStore *s, const char *ref, bool force, char **ids, char **ctrs, int *r, Error **err)
{
        json_t *res = NULL;
        *r = image_remove(s, ref, force, ids, ctrs, &res, err);
        return res;
}

static char *dump(json_t *j)
{
        return j ? jx_dump(j, false) : xstrdup("(null)");
}

TEST(rmi_untag_then_delete)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        char diff[65];
        int r;

        make_layer(l, "f", "x", diff);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "a", &id, NULL));
        ASSERT_OK(image_tag(s, "a", "a2:x", NULL));
        {
                _cleanup_json_ json_t *res = rmi(s, "a2:x", false, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res);
                ASSERT_OK(r);
                ASSERT_STREQ(text, "[{\"Untagged\":\"a2:x\"}]");
        }
        ASSERT_OK(image_lookup(s, "a", NULL, NULL, NULL));
        {
                _cleanup_json_ json_t *res = rmi(s, "docker.io/library/a", false, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res),
                                    *want = xasprintf("[{\"Untagged\":\"a:latest\"},{\"Deleted\":\"%s\"},{"
                                                      "\"Deleted\":\"sha256:%s\"}]",
                                                      id, diff);
                ASSERT_OK(r);
                ASSERT_STREQ(text, want);
        }
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

TEST(rmi_by_id_rules)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL, *id2 = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Error *err = NULL;
        int r;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_at(s, l, "m:1", "2024-01-01T00:00:00Z", &id, NULL));
        ASSERT_OK(image_tag(s, "m:1", "n:1", NULL));
        /* two repositories: refused without force */
        {
                _cleanup_json_ json_t *res = rmi(s, id, false, NULL, NULL, &r, &err);
                _cleanup_free_ char *want = xasprintf(
                        "conflict: unable to delete %.12s (must be forced) - image is referenced in "
                        "multiple repositories",
                        id + 7);
                ASSERT_EQ(r, -EBUSY);
                ASSERT_STREQ(err->msg, want);
                error_clear(&err);
        }
        /* forced, by a short prefix: every tag goes, then the image */
        {
                _cleanup_free_ char *p = xstrndup(id + 7, 12);
                _cleanup_json_ json_t *res = rmi(s, p, true, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res);
                ASSERT_OK(r);
                ASSERT_CONTAINS(text,
                                "{\"Untagged\":\"m:1\"},{\"Untagged\":\"n:1\"},{\"Deleted\":\"sha256:");
        }
        /* one tag, by id: untagged and deleted without force */
        ASSERT_OK(import_at(s, l, "o:1", "2024-01-01T00:00:00Z", &id2, NULL));
        {
                _cleanup_json_ json_t *res = rmi(s, id2 + 7, false, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res);
                ASSERT_OK(r);
                ASSERT_CONTAINS(text, "[{\"Untagged\":\"o:1\"},{\"Deleted\":\"sha256:");
        }
        ASSERT_TRUE(store_empty(data));
        {
                _cleanup_json_ json_t *res = rmi(s, "gone:1", false, NULL, NULL, &r, &err);
                ASSERT_EQ(r, -ENOENT);
                ASSERT_STREQ(err->msg, "No such image: gone:1");
                error_clear(&err);
        }
        rmtree(d);
}

TEST(rmi_in_use)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        Error *err = NULL;
        int r;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "busybox", &id, NULL));
        {
                char *ids[] = { (char *)"sha256:0000", id, NULL },
                     *ctrs[] = { (char *)"ffff", (char *)"1a2b3c4d5e6f7a8b9c0d", NULL };
                _cleanup_json_ json_t *res = rmi(s, "busybox", false, ids, ctrs, &r, &err);
                _cleanup_free_ char *want = xasprintf(
                        "conflict: unable to remove repository reference \"busybox\" (must force) - "
                        "container 1a2b3c4d5e6f is using its referenced image %.12s",
                        id + 7);
                ASSERT_EQ(r, -EBUSY);
                ASSERT_STREQ(err->msg, want);
                error_clear(&err);
                json_decref(rmi(s, id, false, ids, ctrs, &r, &err));
                ASSERT_EQ(r, -EBUSY);
                ASSERT_CONTAINS(err->msg,
                                "(must be forced) - image is being used by stopped container 1a2b3c4d5e6f");
                error_clear(&err);
                /* forced: untagged, but kept for the container */
                {
                        _cleanup_json_ json_t *res2 = rmi(s, "busybox", true, ids, ctrs, &r, NULL);
                        _cleanup_free_ char *text = dump(res2);
                        ASSERT_OK(r);
                        ASSERT_STREQ(text, "[{\"Untagged\":\"busybox:latest\"}]");
                }
                ASSERT_OK(image_layer_dirs(s, id, &dirs, NULL));
                /* dangling and in use: by id, refused even forced; once unused, deleted */
                json_decref(rmi(s, id, true, ids, ctrs, &r, &err));
                ASSERT_EQ(r, -EBUSY);
                error_clear(&err);
                json_decref(rmi(s, id, false, NULL, NULL, &r, NULL));
                ASSERT_OK(r);
        }
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

TEST(rmi_shared_layer_survives)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l1 = xasprintf("%s/l1.tar", d),
                            *l2 = xasprintf("%s/l2.tar", d), *a1 = xasprintf("%s/a1.tar", d),
                            *a2 = xasprintf("%s/a2.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char h1[65], h2[65], id1[65], id2[65];
        int r;

        make_layer(l1, "shared", "s", h1);
        make_layer(l2, "own", "o", h2);
        {
                char *la[] = { l1, l2, NULL }, *lb[] = { l1, NULL };
                make_docker_save(a1, "first", la, NULL, id1);
                make_docker_save(a2, "second", lb, "\"comment\":\"2\",", id2);
        }
        ASSERT_OK(image_store_open(data, &s, NULL));
        json_decref(NULL);
        {
                json_t *x = NULL;
                ASSERT_OK(load_file(s, a1, &x, NULL));
                json_decref(x);
                ASSERT_OK(load_file(s, a2, &x, NULL));
                json_decref(x);
        }
        ASSERT_EQ(sh("test $(ls %s/image/layers/sha256 | wc -l) = 2", data), 0);
        {
                _cleanup_json_ json_t *res = rmi(s, "first", false, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res), *want = NULL;
                /* only the layer no one else uses goes, reported by its chain id */
                _cleanup_free_ char *chain_text = xasprintf("sha256:%s sha256:%s", h1, h2);
                char chain[65];
                hex_of(chain_text, strlen(chain_text), chain);
                want = xasprintf("[{\"Untagged\":\"first:latest\"},{\"Deleted\":\"sha256:%s\"},{\"Deleted\":"
                                 "\"sha256:%s\"}]",
                                 id1, chain);
                ASSERT_OK(r);
                ASSERT_STREQ(text, want);
        }
        ASSERT_OK(image_layer_dirs(s, "second", &dirs, NULL));
        ASSERT_TRUE(exists("%s/shared", dirs[0]));
        ASSERT_EQ(sh("test $(ls %s/image/layers/sha256 | wc -l) = 1", data), 0);
        rmtree(d);
}

TEST(rmi_name_looking_like_an_id_prefix)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL, *name = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        int r;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "keep", &id, NULL));
        /* a name that is also the start of the id: a tag to untag, not an id to delete */
        name = xstrndup(id + 7, 1);
        ASSERT_OK(image_tag(s, id, name, NULL));
        {
                _cleanup_json_ json_t *res = rmi(s, name, false, NULL, NULL, &r, NULL);
                _cleanup_free_ char *text = dump(res),
                                    *want = xasprintf("[{\"Untagged\":\"%s:latest\"}]", name);
                ASSERT_OK(r);
                ASSERT_STREQ(text, want);
        }
        ASSERT_OK(image_lookup(s, "keep", NULL, NULL, NULL));
        rmtree(d);
}

/* ================================================================ the store itself */

TEST(concurrent_tags_all_kept)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *list = NULL;
        pid_t pids[6];

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "base", &id, NULL));
        for (int i = 0; i < 6; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        ImageStore *c = NULL;
                        if (image_store_open(data, &c, NULL) < 0)
                                _exit(1);
                        for (int k = 0; k < 15; k++) {
                                char ref[32];
                                snprintf(ref, sizeof(ref), "c%d:t%d", i, k);
                                if (image_tag(c, "base", ref, NULL) < 0)
                                        _exit(2);
                        }
                        image_store_close(c);
                        _exit(0);
                }
        }
        for (int i = 0; i < 6; i++) {
                int st = 0;
                waitpid(pids[i], &st, 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ASSERT_OK(image_list(s, &list, NULL));
        ASSERT_EQ(json_array_size(json_object_get(json_array_get(list, 0), "RepoTags")), 1 + 6 * 15);
        rmtree(d);
}

TEST(stale_staging_removed_live_kept)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *stale = NULL, *live = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL, *s2 = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };

        ASSERT_OK(image_store_open(data, &s, NULL));
        stale = xasprintf("%s/image/tmp/load-crashed", data);
        live = xasprintf("%s/image/tmp/load-running", data);
        ASSERT_OK(mkdir(stale, 0700));
        ASSERT_EQ(sh("mkdir -p %s/layer-0/diff && touch %s/layer-0/layer.tar", stale, stale), 0);
        ASSERT_OK(mkdir(live, 0700));
        ASSERT_OK(utimensat(AT_FDCWD, stale, old, 0));
        ASSERT_OK(utimensat(AT_FDCWD, live, old, 0));
        fd = open(live, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(flock(fd, LOCK_EX));
        /* the lock is held by this open file: a second store (as another command) must leave it */
        {
                pid_t pid = fork();
                int st = 0;
                if (pid == 0) {
                        close(fd);
                        _exit(image_store_open(data, &s2, NULL) < 0 ? 1 : 0);
                }
                waitpid(pid, &st, 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ASSERT_TRUE(!exists("%s", stale));
        ASSERT_TRUE(exists("%s", live));
        rmtree(d);
}

TEST(damaged_repositories_json_is_refused_not_wiped)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL, *text = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Error *err = NULL;

        make_layer(l, "f", "x", NULL);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_EQ(sh("printf '{\"refs\":{\"a:latest\":' > %s/image/repositories.json", data), 0);
        ASSERT_TRUE(import_file(s, l, "b", &id, &err) < 0);
        ASSERT_CONTAINS(err->msg, "repositories.json");
        error_clear(&err);
        ASSERT_TRUE(image_tag(s, "x", "y", &err) < 0);
        error_clear(&err);
        text = read_text("%s/image/repositories.json", data);
        ASSERT_STREQ(text, "{\"refs\":{\"a:latest\":");
        rmtree(d);
}

TEST(migrates_flat_layout)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL, *s2 = NULL;
        _cleanup_strv_ char **dirs = NULL;
        char diff[65];

        make_layer(l, "f", "x", diff);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "flat", &id, NULL));
        image_store_close(TAKE_PTR(s));
        /* the layout of the first build: layers/<hex>, configs/<hex> */
        ASSERT_EQ(sh("cd %s/image && mv layers/sha256/%s layers/ && mv configs/sha256/%s configs/", data,
                     diff, id + 7),
                  0);
        ASSERT_OK(image_store_open(data, &s2, NULL));
        ASSERT_OK(image_layer_dirs(s2, "flat", &dirs, NULL));
        ASSERT_TRUE(exists("%s/f", dirs[0]));
        rmtree(d);
}

TEST(parsers_refuse_what_the_loader_cannot_use)
{
        json_t *j = NULL;
        char **diffs = NULL;
        Error *err = NULL;
        int64_t t = 0;
        static const char *const bad_manifests[] = {
                "{}",
                "[]",
                "[1]",
                "[{\"Config\":\"\",\"Layers\":[]}]",
                "[{\"Config\":\"c\"}]",
                "[{\"Config\":\"c\",\"Layers\":[1]}]",
                "[{\"Config\":\"c\\u0000x\",\"Layers\":[]}]",
                "[{\"Config\":\"c\",\"Layers\":[],\"RepoTags\":\"x\"}]",
        };
        static const char *const bad_configs[] = {
                "[]",
                "{}",
                "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:00\"]}}",
                "{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}",
                "{\"config\":[],\"rootfs\":{\"type\":\"layers\"}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad_manifests); i++) {
                if (image_parse_docker_manifest(bad_manifests[i], strlen(bad_manifests[i]), &j, &err) == 0)
                        TAP_FAIL("accepted %s", bad_manifests[i]);
                error_clear(&err);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_configs); i++) {
                if (image_parse_config(bad_configs[i], strlen(bad_configs[i]), &j, &diffs, &err) == 0)
                        TAP_FAIL("accepted %s", bad_configs[i]);
                error_clear(&err);
        }
        {
                const char *idx = "{\"manifests\":[{\"digest\":\"sha512:00\"}]}";
                ASSERT_TRUE(image_parse_oci_index(idx, strlen(idx), &j, &err) < 0);
        }
        ASSERT_CONTAINS(err->msg, "only sha256 digests are supported");
        error_clear(&err);
        ASSERT_OK(image_parse_created("2024-01-02T03:04:05.123456789Z", &t));
        ASSERT_EQ(t, 1704164645);
        ASSERT_OK(image_parse_created("2024-01-02T03:04:05-01:30", &t));
        ASSERT_EQ(t, 1704164645 + 5400);
        ASSERT_TRUE(image_parse_created("2024-01-02 03:04:05Z", &t) < 0);
        ASSERT_TRUE(image_parse_created("2024-01-02T03:04:05", &t) < 0);
}

TEST(gc_keeps_layers_a_running_load_pinned)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *l = xasprintf("%s/l.tar", d),
                            *id = NULL, *op = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        char diff[65];
        int r;

        make_layer(l, "f", "x", diff);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, l, "pinned", &id, NULL));
        /* another command's load, between finding this layer in the store and committing its image */
        op = xasprintf("%s/image/tmp/load-other", data);
        ASSERT_OK(mkdir(op, 0700));
        fd = open(op, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_OK(flock(fd, LOCK_EX));
        ASSERT_EQ(sh("echo %s > %s/pins", diff, op), 0);
        json_decref(rmi(s, "pinned", false, NULL, NULL, &r, NULL));
        ASSERT_OK(r);
        ASSERT_TRUE(exists("%s/image/layers/sha256/%s/diff/f", data, diff));
        /* once that operation is over, the next collection takes the layer */
        ASSERT_EQ(sh("rm -rf %s", op), 0);
        free(id);
        id = NULL;
        ASSERT_OK(import_file(s, l, "again", &id, NULL));
        json_decref(rmi(s, "again", false, NULL, NULL, &r, NULL));
        ASSERT_OK(r);
        ASSERT_TRUE(store_empty(data));
        rmtree(d);
}

TEST(import_from_a_pipe)
{
        _cleanup_free_ char *d = tmpdir(), *data = xasprintf("%s/data", d), *p = xasprintf("%s/p.tgz", d),
                            *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        Seen seen = { 0 };
        int pfd[2], st = 0;
        pid_t pid;
        Tar t;

        tar_open(&t, p, GZIP);
        tar_file(&t, "piped", "yes");
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        pid = fork();
        if (pid == 0) {
                size_t len = 0;
                char *text = slurp(p, &len);
                close(pfd[0]);
                _exit(write_all(pfd[1], text, len) < 0 ? 1 : 0);
        }
        close(pfd[1]);
        ASSERT_OK(image_import(s, pfd[0], "piped", "-", on_progress, &seen, &id, NULL));
        close(pfd[0]);
        waitpid(pid, &st, 0);
        /* the size of a pipe is unknown: the last report gives the bytes read as both */
        ASSERT_TRUE(seen.last_total == seen.last_done && seen.last_done > 0);
        ASSERT_OK(image_layer_dirs(s, "piped", &dirs, NULL));
        ASSERT_TRUE(exists("%s/piped", dirs[0]));
        rmtree(d);
}
