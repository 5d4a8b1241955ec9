/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The image store: import, whiteouts, hostile archives, load/save round trips, OCI layouts, refs, rmi. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image-store.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

/* ---- building archives ---- */

typedef struct Tar {
        struct archive *a;
        char *path;
} Tar;

static void tar_open(Tar *t, const char *path, bool gzip)
{
        t->path = xstrdup(path);
        t->a = archive_write_new();
        archive_write_set_format_pax_restricted(t->a);
        if (gzip)
                archive_write_add_filter_gzip(t->a);
        if (archive_write_open_filename(t->a, path) != ARCHIVE_OK)
                abort();
}

static void tar_entry(Tar *t, const char *name, mode_t type, const char *data, const char *link, bool hard)
{
        struct archive_entry *e = archive_entry_new();
        size_t len = data ? strlen(data) : 0;
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (link && hard)
                archive_entry_set_hardlink(e, link);
        else if (link)
                archive_entry_set_symlink(e, link);
        archive_entry_set_size(e, (la_int64_t)len);
        if (archive_write_header(t->a, e) != ARCHIVE_OK)
                abort();
        if (len)
                archive_write_data(t->a, data, len);
        archive_entry_free(e);
}

static void tar_file(Tar *t, const char *name, const char *data)
{
        tar_entry(t, name, AE_IFREG, data, NULL, false);
}

static void tar_close(Tar *t)
{
        archive_write_close(t->a);
        archive_write_free(t->a);
        free(t->path);
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

static int import_file(ImageStore *s, const char *path, const char *ref, char **id, Error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return image_import(s, fd, ref, path, NULL, NULL, id, err);
}

static char *file_sha256(const char *path)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        unsigned char md[32];
        unsigned n = 0;
        char *hex = xmalloc(65);
        if (read_file_at(AT_FDCWD, path, 64 << 20, &text, &len) < 0)
                abort();
        EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
        for (int i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", md[i]);
        return hex;
}

/* ---- tests ---- */

TEST(ref_normalize)
{
        static const struct {
                const char *in, *out;
        } ok[] = {
                { "busybox", "busybox:latest" },
                { "busybox:1.36", "busybox:1.36" },
                { "library/busybox", "library/busybox:latest" },
                { "reg.example:5000/a/b:tag", "reg.example:5000/a/b:tag" },
                { "localhost/x", "localhost/x:latest" },
                { "a_b__c-d.e:v1.0-rc_1", "a_b__c-d.e:v1.0-rc_1" },
        };
        static const char *const bad[] = { "", "Busybox", "a..b", "a/", "/a", "a:", "a:-x", "a@sha256:00", "a b", "-a" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char *n = NULL;
                ASSERT_OK(image_ref_normalize(ok[i].in, &n, NULL));
                if (!STREQ(n, ok[i].out))
                        TAP_FAIL("%s -> %s", ok[i].in, n);
                free(n);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *n = NULL;
                Error *err = NULL;
                if (image_ref_normalize(bad[i], &n, &err) == 0)
                        TAP_FAIL("accepted \"%s\" as %s", bad[i], n);
                error_free(err);
        }
        {
                Error *err = NULL;
                char *n = NULL;
                ASSERT_TRUE(image_ref_normalize("Busybox", &n, &err) < 0);
                ASSERT_TRUE(strstr(err->msg, "repository name must be lowercase") != NULL);
                error_free(err);
        }
}

TEST(import_plain_and_gzip_same_id_lookup)
{
        _cleanup_free_ char *d = tmpdir(), *tar = xasprintf("%s/r.tar", d), *tgz = xasprintf("%s/r.tgz", d);
        _cleanup_free_ char *data = xasprintf("%s/data", d), *id1 = NULL, *id2 = NULL, *found = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        json_t *cfg = NULL;
        Tar t;

        tar_open(&t, tar, false);
        tar_entry(&t, "bin", AE_IFDIR, NULL, NULL, false);
        tar_file(&t, "bin/hello", "hi\n");
        tar_close(&t);
        tar_open(&t, tgz, true);
        tar_entry(&t, "bin", AE_IFDIR, NULL, NULL, false);
        tar_file(&t, "bin/hello", "hi\n");
        tar_close(&t);

        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, tar, "one:a", &id1, NULL));
        ASSERT_OK(import_file(s, tgz, "two", &id2, NULL));
        ASSERT_TRUE(str_has_prefix(id1, "sha256:") && strlen(id1) == 71);
        ASSERT_OK(image_lookup(s, "two:latest", &found, &cfg, NULL));
        ASSERT_TRUE(STREQ(found, id2));
        /* the diff_id is the sha256 of the uncompressed tar, whichever compression it came in */
        {
                _cleanup_free_ char *diff = file_sha256(tar);
                const char *d0 = json_string_value(json_array_get(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), 0));
                ASSERT_TRUE(d0 && STREQ(d0 + 7, diff));
        }
        json_decref(cfg);
        ASSERT_OK(image_layer_dirs(s, "one:a", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 1);
        {
                _cleanup_free_ char *p = xasprintf("%s/bin/hello", dirs[0]), *text = NULL;
                ASSERT_OK(read_file_at(AT_FDCWD, p, 100, &text, NULL));
                ASSERT_TRUE(STREQ(text, "hi\n"));
        }
        /* lookup by id, bare hex and a short prefix */
        free(found);
        found = NULL;
        ASSERT_OK(image_lookup(s, id1 + 7, &found, NULL, NULL));
        ASSERT_TRUE(STREQ(found, id1));
        free(found);
        found = NULL;
        {
                _cleanup_free_ char *prefix = xstrndup(id1 + 7, 12);
                ASSERT_OK(image_lookup(s, prefix, &found, NULL, NULL));
                ASSERT_TRUE(STREQ(found, id1));
        }
        {
                Error *err = NULL;
                char *x = NULL;
                ASSERT_TRUE(image_lookup(s, "nothere", &x, NULL, &err) == -ENOENT);
                ASSERT_TRUE(strstr(err->msg, "No such image: nothere:latest") != NULL);
                error_free(err);
        }
        rmtree(d);
}

TEST(whiteouts_and_overlay)
{
        _cleanup_free_ char *d = tmpdir(), *l1 = xasprintf("%s/l1.tar", d), *l2 = xasprintf("%s/l2.tar", d);
        _cleanup_free_ char *data = xasprintf("%s/data", d), *id = NULL, *archive = xasprintf("%s/img.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        Tar t;

        tar_open(&t, l1, false);
        tar_file(&t, "keep", "k");
        tar_file(&t, "gone", "g");
        tar_entry(&t, "dir", AE_IFDIR, NULL, NULL, false);
        tar_file(&t, "dir/old", "o");
        tar_close(&t);
        tar_open(&t, l2, false);
        tar_file(&t, ".wh.gone", NULL);
        tar_entry(&t, "dir", AE_IFDIR, NULL, NULL, false);
        tar_file(&t, "dir/.wh..wh..opq", NULL);
        tar_file(&t, "dir/new", "n");
        tar_close(&t);

        /* a docker save archive of a two-layer image, built by hand */
        {
                _cleanup_free_ char *h1 = file_sha256(l1), *h2 = file_sha256(l2), *cfg = NULL, *chex = NULL, *man = NULL;
                _cleanup_free_ char *l1t = NULL, *l2t = NULL, *cname = NULL;
                size_t n1 = 0, n2 = 0;
                cfg = xasprintf("{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                                "\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]}}", h1, h2);
                {
                        unsigned char md[32];
                        unsigned k = 0;
                        chex = xmalloc(65);
                        EVP_Digest(cfg, strlen(cfg), md, &k, EVP_sha256(), NULL);
                        for (int i = 0; i < 32; i++)
                                sprintf(chex + 2 * i, "%02x", md[i]);
                }
                cname = xasprintf("%s.json", chex);
                man = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"two:layers\"],\"Layers\":[\"a/layer.tar\",\"b/layer.tar\"]}]", cname);
                ASSERT_OK(read_file_at(AT_FDCWD, l1, 1 << 20, &l1t, &n1));
                ASSERT_OK(read_file_at(AT_FDCWD, l2, 1 << 20, &l2t, &n2));
                tar_open(&t, archive, false);
                tar_file(&t, cname, cfg);
                {
                        struct archive_entry *e = archive_entry_new();
                        archive_entry_set_pathname(e, "a/layer.tar");
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t)n1);
                        archive_write_header(t.a, e);
                        archive_write_data(t.a, l1t, n1);
                        archive_entry_clear(e);
                        archive_entry_set_pathname(e, "b/layer.tar");
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t)n2);
                        archive_write_header(t.a, e);
                        archive_write_data(t.a, l2t, n2);
                        archive_entry_free(e);
                }
                tar_file(&t, "manifest.json", man);
                tar_close(&t);
        }
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                _cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
                Error *err = NULL;
                if (image_load(s, fd, NULL, NULL, &loaded, &err) < 0)
                        TAP_FAIL("load: %s", err->msg);
        }
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(loaded, 0)), "two:layers"));
        ASSERT_OK(image_layer_dirs(s, "two:layers", &dirs, NULL));
        ASSERT_EQ(strv_length(dirs), 2);
        {
                _cleanup_free_ char *wh = xasprintf("%s/gone", dirs[0]), *opq = xasprintf("%s/dir", dirs[0]);
                struct stat st;
                char v[4] = "";
                ASSERT_OK(lstat(wh, &st));
                ASSERT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
                ASSERT_EQ(getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)), 1);
                ASSERT_TRUE(v[0] == 'y');
        }
        /* overlayfs over the two: "gone" and "dir/old" are hidden, "keep" and "dir/new" are there */
        {
                pid_t pid = fork();
                if (pid == 0) {
                        _cleanup_free_ char *mnt = xasprintf("%s/mnt", d), *opts = xasprintf("lowerdir=%s:%s", dirs[0], dirs[1]);
                        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                                _exit(10);
                        mkdir(mnt, 0755);
                        if (mount("overlay", mnt, "overlay", 0, opts) < 0)
                                _exit(11);
                        _cleanup_free_ char *a = xasprintf("%s/keep", mnt), *b = xasprintf("%s/gone", mnt),
                                            *c = xasprintf("%s/dir/old", mnt), *n = xasprintf("%s/dir/new", mnt);
                        _exit(access(a, F_OK) == 0 && access(b, F_OK) < 0 && access(c, F_OK) < 0 && access(n, F_OK) == 0 ? 0 : 12);
                }
                int st = 0;
                waitpid(pid, &st, 0);
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        TAP_FAIL("overlay check exited %d", WEXITSTATUS(st));
        }
        (void)id;
        rmtree(d);
}

TEST(hostile_layers_refused)
{
        static const struct {
                const char *name, *entry, *link;
                bool hard, symlink_then_write;
        } cases[] = {
                { "dotdot", "../escape", NULL, false, false },
                { "dotdot-deep", "a/../../escape", NULL, false, false },
                { "hardlink-out", "h", "../../etc/passwd", true, false },
                { "through-symlink", "evil", "/tmp", false, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *d = tmpdir(), *tar = xasprintf("%s/bad.tar", d), *data = xasprintf("%s/data", d);
                _cleanup_free_ char *id = NULL, *canary = xasprintf("%s/escape", d);
                _cleanup_(image_store_closep) ImageStore *s = NULL;
                Error *err = NULL;
                Tar t;
                tar_open(&t, tar, false);
                tar_file(&t, "ok", "fine");
                if (cases[i].symlink_then_write) {
                        tar_entry(&t, cases[i].entry, AE_IFLNK, NULL, d, false);
                        tar_file(&t, "evil/escape", "pwned");
                } else if (cases[i].link)
                        tar_entry(&t, cases[i].entry, AE_IFREG, NULL, cases[i].link, true);
                else
                        tar_file(&t, cases[i].entry, "pwned");
                tar_close(&t);
                ASSERT_OK(image_store_open(data, &s, NULL));
                int r = import_file(s, tar, "bad", &id, &err);
                error_free(err);
                if (access(canary, F_OK) == 0)
                        TAP_FAIL("%s: wrote outside the layer", cases[i].name);
                if (r == 0 && cases[i].symlink_then_write) {
                        /* neutralised: libarchive replaced the symlink by a directory inside the layer */
                        _cleanup_strv_ char **dirs = NULL;
                        struct stat st;
                        ASSERT_OK(image_layer_dirs(s, "bad", &dirs, NULL));
                        _cleanup_free_ char *p = xasprintf("%s/evil", dirs[0]);
                        ASSERT_OK(lstat(p, &st));
                        ASSERT_TRUE(S_ISDIR(st.st_mode));
                        rmtree(d);
                        continue;
                }
                if (r == 0)
                        TAP_FAIL("%s: imported", cases[i].name);
                /* nothing half-made: no layer, no config, no tag, an empty staging area */
                _cleanup_free_ char *cmd = xasprintf("test -z \"$(find %s/image/layers %s/image/configs %s/image/tmp -mindepth 1)\"", data, data, data);
                if (system(cmd) != 0)
                        TAP_FAIL("%s: left something in the store", cases[i].name);
                rmtree(d);
        }
}

TEST(save_load_round_trip_and_tamper)
{
        _cleanup_free_ char *d = tmpdir(), *tar = xasprintf("%s/r.tar", d), *a = xasprintf("%s/a", d), *b = xasprintf("%s/b", d);
        _cleanup_free_ char *saved = xasprintf("%s/saved.tar", d), *id = NULL, *id2 = NULL;
        _cleanup_(image_store_closep) ImageStore *s1 = NULL, *s2 = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        Tar t;

        tar_open(&t, tar, false);
        tar_file(&t, "x", "1");
        tar_close(&t);
        ASSERT_OK(image_store_open(a, &s1, NULL));
        ASSERT_OK(import_file(s1, tar, "app:v1", &id, NULL));
        {
                _cleanup_close_ int fd = open(saved, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                char *refs[] = { (char *)"app:v1", NULL };
                ASSERT_OK(image_save(s1, refs, fd, NULL));
        }
        ASSERT_OK(image_store_open(b, &s2, NULL));
        {
                _cleanup_close_ int fd = open(saved, O_RDONLY | O_CLOEXEC);
                Error *err = NULL;
                if (image_load(s2, fd, NULL, NULL, &loaded, &err) < 0)
                        TAP_FAIL("load: %s", err->msg);
        }
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(loaded, 0)), "app:v1"));
        ASSERT_OK(image_lookup(s2, "app:v1", &id2, NULL, NULL));
        ASSERT_TRUE(STREQ(id, id2));
        rmtree(d);
}

TEST(oci_layout)
{
        _cleanup_free_ char *d = tmpdir(), *layer = xasprintf("%s/l.tgz", d), *data = xasprintf("%s/data", d);
        _cleanup_free_ char *archive = xasprintf("%s/oci.tar", d), *uncompressed = xasprintf("%s/l.tar", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        Tar t;

        tar_open(&t, uncompressed, false);
        tar_file(&t, "hello", "oci");
        tar_close(&t);
        tar_open(&t, layer, true);
        tar_file(&t, "hello", "oci");
        tar_close(&t);
        _cleanup_free_ char *diff = file_sha256(uncompressed), *lhex = file_sha256(layer);
        _cleanup_free_ char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
                                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}", diff);
        char chex[65], mhex[65];
        {
                unsigned char md[32];
                unsigned k = 0;
                EVP_Digest(cfg, strlen(cfg), md, &k, EVP_sha256(), NULL);
                for (int i = 0; i < 32; i++)
                        sprintf(chex + 2 * i, "%02x", md[i]);
        }
        _cleanup_free_ char *man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                                             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                                             "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
                                             "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\"}]}",
                                             chex, strlen(cfg), lhex);
        {
                unsigned char md[32];
                unsigned k = 0;
                EVP_Digest(man, strlen(man), md, &k, EVP_sha256(), NULL);
                for (int i = 0; i < 32; i++)
                        sprintf(mhex + 2 * i, "%02x", md[i]);
        }
        _cleanup_free_ char *index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                                               "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\","
                                               "\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":"
                                               "\"oci/hello:1\"}}]}", mhex, strlen(man));
        _cleanup_free_ char *ltext = NULL;
        size_t llen = 0;
        ASSERT_OK(read_file_at(AT_FDCWD, layer, 1 << 20, &ltext, &llen));
        tar_open(&t, archive, false);
        tar_file(&t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_file(&t, "index.json", index);
        {
                _cleanup_free_ char *p1 = xasprintf("blobs/sha256/%s", chex), *p2 = xasprintf("blobs/sha256/%s", mhex),
                                    *p3 = xasprintf("blobs/sha256/%s", lhex);
                tar_file(&t, p1, cfg);
                tar_file(&t, p2, man);
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, p3);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t)llen);
                archive_write_header(t.a, e);
                archive_write_data(t.a, ltext, llen);
                archive_entry_free(e);
        }
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                _cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
                Error *err = NULL;
                if (image_load(s, fd, NULL, NULL, &loaded, &err) < 0)
                        TAP_FAIL("load: %s", err->msg);
        }
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(loaded, 0)), "oci/hello:1"));
        {
                _cleanup_strv_ char **dirs = NULL;
                ASSERT_OK(image_layer_dirs(s, "oci/hello:1", &dirs, NULL));
                _cleanup_free_ char *p = xasprintf("%s/hello", dirs[0]), *text = NULL;
                ASSERT_OK(read_file_at(AT_FDCWD, p, 100, &text, NULL));
                ASSERT_TRUE(STREQ(text, "oci"));
        }
        rmtree(d);
}

TEST(tags_and_rmi)
{
        _cleanup_free_ char *d = tmpdir(), *t1 = xasprintf("%s/1.tar", d), *t2 = xasprintf("%s/2.tar", d), *data = xasprintf("%s/data", d);
        _cleanup_free_ char *id1 = NULL, *id2 = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *res = NULL;
        Error *err = NULL;
        Tar t;

        tar_open(&t, t1, false);
        tar_file(&t, "shared", "s");
        tar_close(&t);
        tar_open(&t, t2, false);
        tar_file(&t, "other", "o");
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, t1, "a", &id1, NULL));
        ASSERT_OK(import_file(s, t2, "b", &id2, NULL));
        ASSERT_OK(image_tag(s, "a", "a2:x", NULL));
        /* by id with two tags: refused without force */
        ASSERT_TRUE(image_remove(s, id1, false, NULL, NULL, &res, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "referenced in multiple repositories") != NULL);
        error_clear(&err);
        /* untag one: the image stays */
        ASSERT_OK(image_remove(s, "a2:x", false, NULL, NULL, &res, NULL));
        ASSERT_EQ(json_array_size(res), 1);
        json_decref(res);
        /* in use: conflict */
        {
                char *ids[] = { id1, NULL }, *ctrs[] = { (char *)"c0ffee000000aaaa", NULL };
                ASSERT_TRUE(image_remove(s, "a", false, ids, ctrs, &res, &err) < 0);
                ASSERT_TRUE(strstr(err->msg, "conflict: unable to remove repository reference \"a\" (must force) - container c0ffee000000") != NULL);
                error_clear(&err);
                /* forced: untagged, but kept for the container */
                ASSERT_OK(image_remove(s, "a", true, ids, ctrs, &res, NULL));
                ASSERT_EQ(json_array_size(res), 1);
                json_decref(res);
                _cleanup_strv_ char **dirs = NULL;
                ASSERT_OK(image_layer_dirs(s, id1, &dirs, NULL));
        }
        /* delete b: its layer goes, a's stays */
        ASSERT_OK(image_remove(s, "b", false, NULL, NULL, &res, NULL));
        ASSERT_EQ(json_array_size(res), 2);
        json_decref(res);
        {
                _cleanup_json_ json_t *list = NULL;
                ASSERT_OK(image_list(s, &list, NULL));
                ASSERT_EQ(json_array_size(list), 1);
                ASSERT_EQ(json_array_size(json_object_get(json_array_get(list, 0), "RepoTags")), 0);
        }
        {
                _cleanup_free_ char *cmd = xasprintf("test $(ls %s/image/layers | wc -l) = 1", data);
                ASSERT_EQ(system(cmd), 0);
        }
        rmtree(d);
}

TEST(load_refuses_digest_mismatch_and_junk)
{
        _cleanup_free_ char *d = tmpdir(), *archive = xasprintf("%s/bad.tar", d), *data = xasprintf("%s/data", d);
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        json_t *loaded = NULL;
        Error *err = NULL;
        Tar t;

        /* the config's name promises one digest, its bytes have another */
        tar_open(&t, archive, false);
        tar_file(&t, "0000000000000000000000000000000000000000000000000000000000000000.json",
                 "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        tar_file(&t, "manifest.json", "[{\"Config\":\"0000000000000000000000000000000000000000000000000000000000000000.json\",\"Layers\":[]}]");
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                _cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
                ASSERT_TRUE(image_load(s, fd, NULL, NULL, &loaded, &err) < 0);
                ASSERT_TRUE(strstr(err->msg, "its content has digest") != NULL);
                error_clear(&err);
        }
        /* neither format */
        tar_open(&t, archive, false);
        tar_file(&t, "random", "x");
        tar_close(&t);
        {
                _cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
                ASSERT_TRUE(image_load(s, fd, NULL, NULL, &loaded, &err) < 0);
                ASSERT_TRUE(strstr(err->msg, "neither manifest.json") != NULL);
                error_clear(&err);
        }
        /* a manifest pointing out of the archive through a symlink */
        tar_open(&t, archive, false);
        tar_entry(&t, "link", AE_IFLNK, NULL, "/etc", false);
        tar_file(&t, "manifest.json", "[{\"Config\":\"link/passwd\",\"Layers\":[]}]");
        tar_close(&t);
        {
                _cleanup_close_ int fd = open(archive, O_RDONLY | O_CLOEXEC);
                ASSERT_TRUE(image_load(s, fd, NULL, NULL, &loaded, &err) < 0);
                error_clear(&err);
        }
        {
                _cleanup_free_ char *cmd = xasprintf("test -z \"$(find %s/image/configs %s/image/tmp -mindepth 1)\"", data, data);
                ASSERT_EQ(system(cmd), 0);
        }
        rmtree(d);
}

TEST(layer_xattrs_filtered)
{
        _cleanup_free_ char *d = tmpdir(), *tar = xasprintf("%s/x.tar", d), *data = xasprintf("%s/data", d), *id = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **dirs = NULL;
        Tar t;

        tar_open(&t, tar, false);
        {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, "steer");
                archive_entry_set_filetype(e, AE_IFDIR);
                archive_entry_set_perm(e, 0755);
                /* an image must not set overlayfs's own attributes on its files */
                archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
                archive_entry_xattr_add_entry(e, "user.note", "kept", 4);
                archive_write_header(t.a, e);
                archive_entry_free(e);
        }
        tar_close(&t);
        ASSERT_OK(image_store_open(data, &s, NULL));
        ASSERT_OK(import_file(s, tar, "x", &id, NULL));
        ASSERT_OK(image_layer_dirs(s, "x", &dirs, NULL));
        {
                _cleanup_free_ char *p = xasprintf("%s/steer", dirs[0]);
                char v[8] = "";
                ASSERT_TRUE(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
                ASSERT_EQ(getxattr(p, "user.note", v, sizeof(v)), 4);
        }
        rmtree(d);
}
