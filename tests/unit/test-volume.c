/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Volumes (volume.c) without containers: docker's name rule, the local driver's options, the store's
 * create/get/list/remove in a private data root, the copy-up walk (links kept as links, fifos,
 * no device nodes, a depth bound), and the filters (VolumeFilter) shared by `stockade volume ls/prune`
 * and the API's GET /volumes and POST /volumes/prune: the keys each takes, the messages of a refusal,
 * and the matching (names by substring, labels all required, label! excluding, dangling by the
 * containers' Mounts).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "tmpdir.h"
#include "util.h"
#include "volume.h"

static bool name_ok(const char *n)
{
        return volume_check_name(n, NULL) == 0;
}

TEST(names)
{
        Error *err = NULL;
        char longname[300];

        ASSERT_TRUE(name_ok("ab"));
        ASSERT_TRUE(name_ok("a.b-c_d9"));
        ASSERT_TRUE(name_ok("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        ASSERT_TRUE(!name_ok("a"));
        ASSERT_TRUE(!name_ok("-ab"));
        ASSERT_TRUE(!name_ok(".ab"));
        ASSERT_TRUE(!name_ok(".."));
        ASSERT_TRUE(!name_ok("a/b"));
        ASSERT_TRUE(!name_ok("a b"));
        ASSERT_TRUE(!name_ok("a:b"));
        ASSERT_TRUE(!name_ok(""));
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        ASSERT_TRUE(!name_ok(longname));
        ASSERT_EQ(volume_check_name("x/y", &err), -EINVAL);
        ASSERT_TRUE(strstr(err->msg, "\"x/y\" includes invalid characters for a local volume name") != NULL);
        error_free(err);

        ASSERT_TRUE(volume_is_name("data"));
        ASSERT_TRUE(!volume_is_name("/data"));
        ASSERT_TRUE(!volume_is_name("./data"));
        ASSERT_TRUE(!volume_is_name("~/data"));
        ASSERT_TRUE(!volume_is_name(""));
}

static int opts_err(const char *json, char **msg)
{
        json_t *o = json_loads(json, 0, NULL);
        Error *err = NULL;
        int r = volume_check_options(o, &err);
        *msg = err ? xstrdup(err->msg) : NULL;
        error_free(err);
        json_decref(o);
        return r;
}

TEST(options)
{
        char *m = NULL;

        ASSERT_EQ(opts_err("{}", &m), 0);
        ASSERT_EQ(opts_err("{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=1m\"}", &m), 0);
        ASSERT_EQ(opts_err("{\"foo\":\"bar\"}", &m), -EINVAL);
        ASSERT_TRUE(strstr(m, "invalid option: \"foo\"") != NULL);
        free(m);
        ASSERT_EQ(opts_err("{\"device\":\"/dev/sda\"}", &m), -EINVAL);
        ASSERT_TRUE(strstr(m, "missing required option: \"type\"") != NULL);
        free(m);
        ASSERT_EQ(opts_err("{\"type\":\"tmpfs\"}", &m), -EINVAL);
        ASSERT_TRUE(strstr(m, "missing required option: \"device\"") != NULL);
        free(m);
        ASSERT_EQ(opts_err("{\"type\":1}", &m), -EINVAL);
        ASSERT_TRUE(strstr(m, "not a string") != NULL);
        free(m);
}

TEST(store)
{
        char *root = tmpdir_new("volume");
        Engine e = { .data_root = root, .exec_root = root };
        json_t *v = NULL, *list = NULL, *labels = json_pack("{s:s, s:s}", "z", "1", "a", "2");
        char **users = NULL;
        bool made = false;
        Error *err = NULL;

        ASSERT_EQ(volume_create(&e, "vol1", NULL, labels, NULL, false, &v, &made, &err), 0);
        ASSERT_TRUE(made);
        ASSERT_STREQ(json_string_value(json_object_get(v, "Name")), "vol1");
        /* labels sorted as Go prints a map */
        ASSERT_STREQ(json_object_iter_key(json_object_iter(json_object_get(v, "Labels"))), "a");
        json_decref(v);
        ASSERT_EQ(volume_create(&e, "vol1", "local", NULL, NULL, false, &v, &made, &err), 0);
        ASSERT_TRUE(!made);
        json_decref(v);
        ASSERT_EQ(volume_create(&e, "vol2", "nfs", NULL, NULL, false, &v, &made, &err), -EINVAL);
        error_clear(&err);
        ASSERT_EQ(volume_create(&e, NULL, NULL, NULL, NULL, true, &v, &made, &err), 0);
        ASSERT_EQ(strlen(json_string_value(json_object_get(v, "Name"))), 64);
        ASSERT_TRUE(json_object_get(json_object_get(v, "Labels"), VOLUME_ANON_LABEL) != NULL);
        json_decref(v);
        ASSERT_EQ(volume_list(&e, &list, &err), 0);
        ASSERT_EQ(json_array_size(list), 2);
        json_decref(list);
        ASSERT_EQ(volume_users(&e, "vol1", &users, &err), 0);
        ASSERT_TRUE(users[0] == NULL);
        strv_free(users);
        ASSERT_EQ(volume_get(&e, "nope", &v, &err), -ENOENT);
        ASSERT_STREQ(err->msg, "get nope: no such volume");
        error_clear(&err);
        /* a name that is a path is never looked up as one */
        ASSERT_EQ(volume_get(&e, "../../etc", &v, &err), -ENOENT);
        error_clear(&err);
        ASSERT_EQ(volume_remove(&e, "vol1", NULL, &err), 0);
        ASSERT_EQ(volume_remove(&e, "vol1", NULL, &err), -ENOENT);
        error_clear(&err);
        json_decref(labels);
        tmpdir_remove(root);
}

TEST(copy_tree)
{
        char *root = tmpdir_new("volume");
        _cleanup_free_ char *src = xasprintf("%s/src", root), *dst = xasprintf("%s/dst", root);
        char buf[64] = "";
        Error *err = NULL;
        int s, d;

        ASSERT_EQ(mkdir(src, 0755), 0);
        ASSERT_EQ(mkdir(dst, 0755), 0);
        s = open(src, O_RDONLY | O_DIRECTORY);
        d = open(dst, O_RDONLY | O_DIRECTORY);
        ASSERT_EQ(write_file_atomic(s, "file", "data", 4, 0644, false), 0);
        ASSERT_EQ(mkdirat(s, "sub", 0711), 0);
        {
                int sub = openat(s, "sub", O_RDONLY | O_DIRECTORY);
                ASSERT_EQ(write_file_atomic(sub, "inner", "x", 1, 0600, false), 0);
                close(sub);
        }
        ASSERT_EQ(symlinkat("/etc/passwd", s, "link"), 0);
        ASSERT_EQ(symlinkat("/", s, "rootlink"), 0);
        ASSERT_EQ(mkfifoat(s, "fifo", 0640), 0);
        ASSERT_EQ(volume_copy_tree(s, d, &err), 0);
        ASSERT_EQ(readlinkat(d, "link", buf, sizeof(buf) - 1), (ssize_t)strlen("/etc/passwd"));
        ASSERT_STREQ(buf, "/etc/passwd");
        {
                struct stat st;
                ASSERT_EQ(fstatat(d, "rootlink", &st, AT_SYMLINK_NOFOLLOW), 0);
                ASSERT_TRUE(S_ISLNK(st.st_mode));
                ASSERT_EQ(fstatat(d, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
                ASSERT_TRUE(S_ISFIFO(st.st_mode));
                ASSERT_EQ(st.st_mode & 07777, 0640);
                ASSERT_EQ(fstatat(d, "sub", &st, AT_SYMLINK_NOFOLLOW), 0);
                ASSERT_EQ(st.st_mode & 07777, 0711);
                ASSERT_EQ(fstatat(d, "sub/inner", &st, AT_SYMLINK_NOFOLLOW), 0);
                ASSERT_EQ(st.st_size, 1);
        }
        close(s);
        close(d);

        /* a tree deeper than the bound is refused, not walked */
        {
                _cleanup_free_ char *deep = xasprintf("%s/deep", root), *out = xasprintf("%s/out", root);
                int fd, o;
                ASSERT_EQ(mkdir(deep, 0755), 0);
                ASSERT_EQ(mkdir(out, 0755), 0);
                fd = open(deep, O_RDONLY | O_DIRECTORY);
                for (int i = 0; i < 140; i++) {
                        int next;
                        ASSERT_EQ(mkdirat(fd, "d", 0755), 0);
                        next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
                        close(fd);
                        fd = next;
                }
                close(fd);
                fd = open(deep, O_RDONLY | O_DIRECTORY);
                o = open(out, O_RDONLY | O_DIRECTORY);
                ASSERT_EQ(volume_copy_tree(fd, o, &err), -ELOOP);
                error_clear(&err);
                close(fd);
                close(o);
        }
        tmpdir_remove(root);
}

static json_t *vol(const char *name, const char *labels_json)
{
        return json_pack("{s:s, s:s, s:o}", "Name", name, "Driver", "local", "Labels", json_loads(labels_json, 0, NULL));
}

static const char *refusal(const char *kv, bool prune)
{
        static char msg[256];
        VolumeFilter f = VOLUME_FILTER_INIT;
        Error *err = NULL;

        msg[0] = '\0';
        if (volume_filter_add(&f, kv, prune, &err) < 0) {
                snprintf(msg, sizeof(msg), "%s", err->msg);
                error_free(err);
        }
        volume_filter_done(&f);
        return msg;
}

TEST(keys_and_messages)
{
        static const struct {
                const char *kv;
                bool prune;
                const char *want; /* "": accepted */
        } cases[] = {
                { "dangling=true", false, "" },
                { "name=x", false, "" },
                { "driver=local", false, "" },
                { "label=a=b", false, "" },
                { "dangling=maybe", false, "invalid filter 'dangling=maybe' (true, false, 1 or 0)" },
                { "until=10m", false, "invalid filter 'until' (dangling, name, label and driver are)" },
                { "label!=a", false, "invalid filter 'label!' (dangling, name, label and driver are)" },
                { "dangling", false, "bad format of filter 'dangling' (expected name=value)" },
                { "label!=a", true, "" },
                { "all=1", true, "" },
                { "all=yes", true, "invalid filter 'all=yes' (true, false, 1 or 0)" },
                { "name=x", true, "invalid filter 'name' (label, label! and all are)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ASSERT_STREQ(refusal(cases[i].kv, cases[i].prune), cases[i].want);
}

TEST(prune_all)
{
        VolumeFilter f = VOLUME_FILTER_INIT;
        ASSERT_OK(volume_filter_add(&f, "all=false", true, NULL));
        ASSERT_TRUE(!f.all);
        ASSERT_OK(volume_filter_add(&f, "all=true", true, NULL));
        ASSERT_TRUE(f.all);
        ASSERT_OK(volume_filter_add(&f, "label!=keep", true, NULL));
        ASSERT_STREQ(f.labels_not[0], "keep");
        volume_filter_done(&f);
        ASSERT_TRUE(!f.all && !f.labels_not);
}

TEST(matching)
{
        json_t *a = vol("data-one", "{\"team\":\"a\",\"tier\":\"db\"}"), *b = vol("cache", "{\"team\":\"b\"}");
        json_t *ctrs = json_pack("[{s:[{s:s, s:s}]}, {s:[{s:s, s:s}]}]", "Mounts", "Type", "volume", "Name", "cache", "Mounts",
                                 "Type", "bind", "Name", "data-one");
        VolumeFilter f = VOLUME_FILTER_INIT;

        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        /* names: substrings, alternatives */
        ASSERT_OK(volume_filter_add(&f, "name=one", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        ASSERT_OK(volume_filter_add(&f, "name=cac", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        /* labels: every one must hold, with or without a value */
        ASSERT_OK(volume_filter_add(&f, "label=team", false, NULL));
        ASSERT_OK(volume_filter_add(&f, "label=tier=db", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        ASSERT_OK(volume_filter_add(&f, "driver=nfs", false, NULL));
        ASSERT_TRUE(!volume_filter_match(&f, a, ctrs));
        volume_filter_done(&f);
        /* dangling: no container mounts it as a volume (a bind of the same name does not count) */
        ASSERT_OK(volume_filter_add(&f, "dangling=1", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        ASSERT_OK(volume_filter_add(&f, "dangling=false", false, NULL));
        ASSERT_TRUE(!volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        json_decref(a);
        json_decref(b);
        json_decref(ctrs);
}
