/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Subordinate ids (subid.c, issue 8): the subuid/subgid parser and its edge cases, dockerd's
 * userns-remap forms, mappings from several ranges, "default"'s allocation byte for byte, ten
 * processes allocating at once, shadow-utils' locks (stale, live, broken, lckpwdf), Debian's real
 * useradd/usermod with --prefix (as root), and the --userns=auto registry.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json-util.h"
#include "subid.h"
#include "tap.h"
#include "tmpdir.h"
#include "util.h"

/* ---- helpers ---- */


static void put(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
                abort();
        close(fd);
}

static char *get(const char *path)
{
        char *s = NULL;
        size_t n;
        if (read_file_at(AT_FDCWD, path, 1 << 20, &s, &n) < 0)
                return NULL;
        return s;
}

static size_t count_lines_with(const char *text, const char *prefix)
{
        size_t n = 0;
        for (const char *p = text; p && *p;) {
                if (str_has_prefix(p, prefix))
                        n++;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return n;
}

/* Files left in dir other than the ones named (temporary files, locks). */
static int stray_files(const char *dir)
{
        static const char *const ok[] = { "subuid", "subgid", "passwd", "group", ".pwd.lock", "shadow", "gshadow",
                                          "passwd-", "group-", "shadow-", "gshadow-", "subuid-", "subgid-", "etc" };
        int n = 0;
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                bool known = de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]));
                for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                        known = known || STREQ(de->d_name, ok[i]);
                if (!known) {
                        printf("# stray file %s/%s\n", dir, de->d_name);
                        n++;
                }
        }
        if (d)
                closedir(d);
        return n;
}

static const char passwd_text[] = "root:x:0:0:root:/root:/bin/bash\n"
                                  "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
                                  "bob:x:1001:1001::/home/bob:/bin/sh\n"
                                  "carol:x:1002:100::/home/carol:/bin/sh\n";
static const char group_text[] = "root:x:0:\n"
                                 "users:x:100:\n"
                                 "alice:x:1000:\n"
                                 "bob:x:1001:\n"
                                 "staff:x:50:alice\n";

/* A private "/etc": passwd, group, and the two subid files. */
typedef struct Etc {
        char *dir, *subuid, *subgid, *passwd, *group;
        SubidConfig cfg;
} Etc;

static void etc_init(Etc *e, const char *subuid, const char *subgid)
{
        e->dir = tmpdir_new("subid");
        e->subuid = tmpdir_path(e->dir, "subuid");
        e->subgid = tmpdir_path(e->dir, "subgid");
        e->passwd = tmpdir_path(e->dir, "passwd");
        e->group = tmpdir_path(e->dir, "group");
        put(e->passwd, passwd_text);
        put(e->group, group_text);
        if (subuid)
                put(e->subuid, subuid);
        if (subgid)
                put(e->subgid, subgid);
        e->cfg = (SubidConfig){ .subuid_path = e->subuid, .subgid_path = e->subgid, .passwd_path = e->passwd,
                                .group_path = e->group, .lock_timeout_ms = 3000 };
}

static void etc_done(Etc *e)
{
        free(e->subuid);
        free(e->subgid);
        free(e->passwd);
        free(e->group);
        tmpdir_remove(e->dir);
}

/* A create_user callback for a private /etc: appends dockremap to passwd and group. */
static int create_dockremap(const char *name, void *userdata, Error **err)
{
        Etc *e = userdata;
        _cleanup_free_ char *pw = get(e->passwd), *gr = get(e->group);
        _cleanup_free_ char *pw2 = xasprintf("%s%s:x:999:999::/nonexistent:/usr/sbin/nologin\n", pw, name);
        _cleanup_free_ char *gr2 = xasprintf("%s%s:x:999:\n", gr, name);
        put(e->passwd, pw2);
        put(e->group, gr2);
        return 0;
}

static int create_fails(const char *name, void *userdata, Error **err)
{
        return error_setx(err, EPERM, "not allowed to create %s", name);
}

static bool have_useradd_prefix(void)
{
        return geteuid() == 0 && access("/usr/sbin/useradd", X_OK) == 0 && access("/usr/sbin/usermod", X_OK) == 0;
}

/* A private root for Debian's useradd --prefix: DIR/etc/{passwd,group,shadow,gshadow}. */
static char *mk_prefix_root(void)
{
        char *root = tmpdir_new("subid");
        _cleanup_free_ char *etc = tmpdir_path(root, "etc");
        _cleanup_free_ char *pw = NULL, *gr = NULL, *sh = NULL, *gs = NULL;
        if (mkdir(etc, 0755) < 0)
                abort();
        pw = tmpdir_path(etc, "passwd");
        gr = tmpdir_path(etc, "group");
        sh = tmpdir_path(etc, "shadow");
        gs = tmpdir_path(etc, "gshadow");
        put(pw, passwd_text);
        put(gr, group_text);
        put(sh, "root:*:19000:0:99999:7:::\n");
        put(gs, "root:*::\n");
        chmod(sh, 0600);
        chmod(gs, 0600);
        return root;
}

/* ---- parsing ---- */

TEST(parse_entries_comments_blank_lines)
{
        static const char text[] = "# subordinate ids\n"
                                   "\n"
                                   "alice:100000:65536\n"
                                   "   \t\n"
                                   "  # indented comment\n"
                                   "1001:165536:65536\n"
                                   "alice:300000:10\n"
                                   "dave:4294967285:10\n"
                                   "bob:231072:1";
        _cleanup_(subid_file_freep) SubidFile *f = subid_file_parse("/etc/subuid", text, strlen(text));

        ASSERT_EQ(f->n_entries, 5);
        ASSERT_EQ(f->n_bad, 0);
        ASSERT_STREQ(f->entries[0].owner, "alice");
        ASSERT_EQ(f->entries[0].line, 3);
        ASSERT_EQ(f->entries[0].start, 100000);
        ASSERT_EQ(f->entries[0].count, 65536);
        ASSERT_STREQ(f->entries[1].owner, "1001");
        ASSERT_EQ(f->entries[1].line, 6);
        ASSERT_EQ(f->entries[3].start, 4294967285u); /* last id 4294967294: the highest valid */
        ASSERT_STREQ(f->entries[4].owner, "bob");     /* the last line needs no newline */
        ASSERT_EQ(f->entries[4].line, 9);
        ASSERT_EQ(f->len, strlen(text));
        ASSERT_TRUE(memcmp(f->data, text, f->len) == 0);
}

TEST(parse_malformed_lines_reported_with_file_and_line)
{
        static const char text[] = "alice:100000:65536\n"  /* 1 */
                                   "alice:100000\n"        /* 2 */
                                   "bob:200000:x\n"        /* 3 */
                                   ":300000:10\n"          /* 4 */
                                   "carol:-5:10\n"         /* 5 */
                                   "carol:0100:10\n"       /* 6: octal to some readers */
                                   "carol:10:0\n"          /* 7 */
                                   "carol:4294967290:10\n" /* 8: past 4294967294 */
                                   "carol:1:2:3\n"         /* 9 */
                                   "carol:1:4294967296\n"  /* 10 */
                                   "carol:1: 2\n"          /* 11 */
                                   "carol:1:2\r\n"         /* 12 */
                                   "ca rol:1:2\n"          /* 13 */
                                   "dave:1:2\n";           /* 14 */
        _cleanup_(subid_file_freep) SubidFile *f = subid_file_parse("/etc/subuid", text, strlen(text));

        ASSERT_EQ(f->n_entries, 2);
        ASSERT_EQ(f->entries[1].line, 14);
        ASSERT_EQ(f->n_bad, 12);
        ASSERT_STREQ(f->bad[0].message, "/etc/subuid:2: expected owner:start:count, found 2 fields");
        ASSERT_STREQ(f->bad[0].owner, "alice");
        ASSERT_STREQ(f->bad[1].message, "/etc/subuid:3: invalid count \"x\"");
        ASSERT_STREQ(f->bad[1].owner, "bob");
        ASSERT_STREQ(f->bad[2].message, "/etc/subuid:4: invalid owner \"\"");
        ASSERT_STREQ(f->bad[3].message, "/etc/subuid:5: invalid start \"-5\"");
        ASSERT_STREQ(f->bad[4].message, "/etc/subuid:6: invalid start \"0100\"");
        ASSERT_STREQ(f->bad[5].message, "/etc/subuid:7: invalid count \"0\"");
        ASSERT_STREQ(f->bad[6].message, "/etc/subuid:8: range 4294967290+10 goes past id 4294967294");
        ASSERT_STREQ(f->bad[7].message, "/etc/subuid:9: expected owner:start:count, found 4 fields");
        ASSERT_STREQ(f->bad[8].message, "/etc/subuid:10: invalid count \"4294967296\"");
        ASSERT_STREQ(f->bad[9].message, "/etc/subuid:11: invalid count \" 2\"");
        ASSERT_STREQ(f->bad[10].message, "/etc/subuid:12: invalid count \"2\\x0d\"");
        ASSERT_STREQ(f->bad[11].message, "/etc/subuid:13: invalid owner \"ca rol\"");
}

TEST(parse_nul_and_long_lines)
{
        char text[SUBID_LINE_MAX + 64];
        size_t n = 0;
        _cleanup_(subid_file_freep) SubidFile *f = NULL;

        memcpy(text + n, "a:1:2\n", 6);
        n += 6;
        memcpy(text + n, "b:1\0:2\n", 7);
        n += 7;
        memset(text + n, 'x', SUBID_LINE_MAX + 1);
        n += SUBID_LINE_MAX + 1;
        text[n++] = '\n';
        memcpy(text + n, "c:5:6\n", 6);
        n += 6;
        f = subid_file_parse("s", text, n);
        ASSERT_EQ(f->n_entries, 2);
        ASSERT_EQ(f->n_bad, 2);
        ASSERT_STREQ(f->bad[0].message, "s:2: line holds a NUL byte");
        ASSERT_STREQ(f->bad[1].message, "s:3: line longer than 4096 bytes");
        ASSERT_EQ(f->entries[1].line, 4);
}

TEST(find_by_name_and_uid_in_file_order)
{
        static const char text[] = "alice:100000:65536\n"
                                   "bob:165536:65536\n"
                                   "1000:500000:1000\n"
                                   "alice:100000:65536\n" /* duplicate: shadow allows it, dockerd uses it */
                                   "alice:120000:5\n";    /* overlapping */
        _cleanup_(subid_file_freep) SubidFile *f = subid_file_parse("x", text, strlen(text));
        _cleanup_free_ SubidRange *r = NULL;
        _cleanup_free_ SubidRange *r2 = NULL;

        ASSERT_EQ(subid_file_find(f, "alice", 1000, &r), 4);
        ASSERT_EQ(r[0].start, 100000);
        ASSERT_EQ(r[1].start, 500000);
        ASSERT_EQ(r[1].count, 1000);
        ASSERT_EQ(r[2].start, 100000);
        ASSERT_EQ(r[3].start, 120000);
        ASSERT_EQ(subid_file_find(f, "alice", (uid_t)-1, &r2), 3);
        free(r2);
        r2 = NULL;
        ASSERT_EQ(subid_file_find(f, "nobody", 4242, &r2), 0);
        ASSERT_TRUE(r2 == NULL);
}

TEST(next_free_range)
{
        struct {
                const char *text;
                uint32_t want;
                int r;
        } cases[] = {
                { "", 100000, 0 },
                { "a:0:1000\n", 100000, 0 },                              /* below the minimum */
                { "a:100000:65536\n", 165536, 0 },
                { "a:165536:65536\nb:100000:65536\n", 231072, 0 },        /* unsorted */
                { "a:100000:10\nb:300000:65536\n", 100010, 0 },           /* first gap that fits */
                { "a:100000:10\nb:150000:65536\n", 215536, 0 },           /* gap too small */
                { "a:50000:60000\n", 110000, 0 },                         /* straddles the minimum */
                { "a:100000:10\na:100005:100\n", 100105, 0 },             /* overlapping entries */
                { "a:100000:1000000\na:100005:10\n", 1100000, 0 },        /* nested */
                { "a:165535:1\n", 165536, 0 },                            /* one id in the way */
                { "a:165536:1\n", 100000, 0 },                            /* just after: no overlap */
                { "a:100000:4294867295\n", 0, -ENOSPC },                  /* nothing left */
                { "bad:100000:x\n", 100000, 0 },                          /* malformed lines are no ranges */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(subid_file_freep) SubidFile *f = subid_file_parse("x", cases[i].text, strlen(cases[i].text));
                uint32_t s = 0;
                int r = subid_file_next_free(f, 100000, 65536, &s);
                if (r != cases[i].r || (r == 0 && s != cases[i].want))
                        TAP_FAIL("case %zu: r=%d start=%u, want r=%d start=%u", i, r, s, cases[i].r, cases[i].want);
        }
}

TEST(render_append_keeps_every_byte)
{
        static const char a[] = "# c\nalice:100000:65536\nbogus line\n";
        static const char b[] = "alice:100000:65536"; /* no final newline */
        _cleanup_(subid_file_freep) SubidFile *fa = subid_file_parse("x", a, strlen(a));
        _cleanup_(subid_file_freep) SubidFile *fb = subid_file_parse("x", b, strlen(b));
        _cleanup_(subid_file_freep) SubidFile *fe = subid_file_parse("x", "", 0);
        _cleanup_free_ char *ra = NULL, *rb = NULL, *re = NULL;
        size_t la, lb, le;

        subid_file_render_append(fa, "dockremap", 165536, 65536, &ra, &la);
        ASSERT_STREQ(ra, "# c\nalice:100000:65536\nbogus line\ndockremap:165536:65536\n");
        ASSERT_EQ(la, strlen(ra));
        subid_file_render_append(fb, "dockremap", 165536, 65536, &rb, &lb);
        ASSERT_STREQ(rb, "alice:100000:65536\ndockremap:165536:65536\n");
        subid_file_render_append(fe, "dockremap", 100000, 65536, &re, &le);
        ASSERT_STREQ(re, "dockremap:100000:65536\n");
}

/* ---- mappings ---- */

TEST(mappings_from_several_ranges)
{
        SubidRange r[] = { { 100000, 65536 }, { 500000, 1000 }, { 100000, 10 } };
        _cleanup_free_ SubidMapping *m = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        Error *err = NULL;
        size_t n = 0;

        ASSERT_OK(subid_mappings_build(r, 3, "t", &m, &n, &err));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(m[0].container_id, 0);
        ASSERT_EQ(m[0].host_id, 100000);
        ASSERT_EQ(m[1].container_id, 65536);
        ASSERT_EQ(m[1].host_id, 500000);
        ASSERT_EQ(m[1].size, 1000);
        ASSERT_EQ(m[2].container_id, 66536);
        j = subid_mappings_json(m, n);
        s = jx_dump(j, false);
        ASSERT_STREQ(s, "[{\"containerID\":0,\"hostID\":100000,\"size\":65536},"
                        "{\"containerID\":65536,\"hostID\":500000,\"size\":1000},"
                        "{\"containerID\":66536,\"hostID\":100000,\"size\":10}]");
}

TEST(mappings_limits)
{
        SubidRange many[SUBID_MAPPINGS_MAX + 1];
        SubidRange big[] = { { 1, 4294967290u }, { 1, 10 } };
        SubidMapping *m = NULL;
        Error *err = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (SubidRange){ 100000 + (uint32_t)i * 10, 10 };
        ASSERT_EQ(subid_mappings_build(many, SUBID_MAPPINGS_MAX + 1, "/etc/subuid, user x", &m, &n, &err), -E2BIG);
        ASSERT_STREQ(err->msg, "/etc/subuid, user x: 341 ranges; the kernel takes at most 340 lines in a uid/gid map");
        error_clear(&err);
        ASSERT_OK(subid_mappings_build(many, SUBID_MAPPINGS_MAX, "t", &m, &n, &err));
        ASSERT_EQ(n, 340);
        free(m);
        m = NULL;
        ASSERT_EQ(subid_mappings_build(big, 2, "t", &m, &n, &err), -ERANGE);
        error_clear(&err);
        ASSERT_EQ(subid_mappings_build(big, 0, "t", &m, &n, &err), -ENOENT);
        error_clear(&err);
        ASSERT_TRUE(m == NULL);
}

/* ---- userns-remap forms ---- */

TEST(spec_split)
{
        static const struct {
                const char *spec, *msg;
        } bad[] = {
                { "", "userns-remap: empty value" },
                { "a:b:c", "userns-remap \"a:b:c\": invalid user/group specification (user[:group])" },
                { ":g", "userns-remap \":g\": empty user or group" },
                { "u:", "userns-remap \"u:\": empty user or group" },
                { "u g", "userns-remap \"u g\": blanks or control characters" },
        };
        char *u = NULL, *g = NULL;
        Error *err = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ASSERT_EQ(subid_spec_split(bad[i].spec, &u, &g, &err), -EINVAL);
                ASSERT_STREQ(err->msg, bad[i].msg);
                error_clear(&err);
        }
        ASSERT_OK(subid_spec_split("1000:50", &u, &g, &err));
        ASSERT_STREQ(u, "1000");
        ASSERT_STREQ(g, "50");
        free(u);
        free(g);
}

TEST(remap_user_forms)
{
        Etc e;
        static const struct {
                const char *spec, *user, *group;
                unsigned uid, gid;
        } ok[] = {
                { "alice", "alice", "alice", 1000, 1000 },
                { "alice:staff", "alice", "staff", 1000, 50 },
                { "alice:100", "alice", "users", 1000, 100 },
                { "1000", "alice", "alice", 1000, 1000 },
                { "1000:50", "alice", "staff", 1000, 50 },
        };

        etc_init(&e, "bob:400000:65536\nalice:100000:65536\n1000:300000:1000\n",
                 "alice:200000:65536\nbob:400000:65536\n");
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
                Error *err = NULL;
                int r = subid_remap_resolve(&e.cfg, ok[i].spec, &rm, &err);
                if (r < 0)
                        TAP_FAIL("%s: %s", ok[i].spec, err->msg);
                ASSERT_STREQ(rm->user, ok[i].user);
                ASSERT_STREQ(rm->group, ok[i].group);
                ASSERT_EQ(rm->uid, ok[i].uid);
                ASSERT_EQ(rm->gid, ok[i].gid);
                /* Both of alice's subuid ranges (by name and by uid), in file order. */
                ASSERT_EQ(rm->n_uid_map, 2);
                ASSERT_EQ(rm->uid_map[0].host_id, 100000);
                ASSERT_EQ(rm->uid_map[0].container_id, 0);
                ASSERT_EQ(rm->uid_map[1].host_id, 300000);
                ASSERT_EQ(rm->uid_map[1].container_id, 65536);
                ASSERT_EQ(rm->uid_map[1].size, 1000);
                /* subgid ranges are the user's, whatever the group (dockerd's LoadIdentityMapping). */
                ASSERT_EQ(rm->n_gid_map, 1);
                ASSERT_EQ(rm->gid_map[0].host_id, 200000);
                ASSERT_TRUE(!rm->created_user && !rm->added_subuid && !rm->added_subgid);
                ASSERT_TRUE(rm->warnings == NULL);
        }
        etc_done(&e);
}

TEST(remap_errors)
{
        Etc e;
        _cleanup_free_ char *before = NULL, *after = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;
        struct {
                const char *spec;
                int r;
                const char *msg;
        } bad[] = {
                { "foo", -ENOENT, "userns-remap \"foo\": no such user" },
                { "4242", -ENOENT, "userns-remap \"4242\": no user with uid 4242" },
                { "alice:nogroup", -ENOENT, "userns-remap \"alice:nogroup\": no such group nogroup" },
                { "alice:777", -ENOENT, "userns-remap \"alice:777\": no group with gid 777" },
                { "carol", -ENOENT, "userns-remap \"carol\": no group named carol (give user:group)" },
                { "1002", -ENOENT,
                  "userns-remap \"1002\": no group with gid 1002 (a uid alone is taken as the gid too; give uid:gid)" },
                { "root", -EINVAL, NULL },
                { "0:0", -EINVAL, NULL },
                { "carol:users", -ENOENT, NULL },
                { "bob", -EINVAL, NULL },
                { "default", -ENOENT, "userns-remap \"default\": no such user dockremap" },
        };

        etc_init(&e, "alice:100000:65536\n# c\nbob:200000:x\n", "alice:100000:65536\n");
        m1 = xasprintf("%s: no range for user carol (uid 1002)", e.subuid);
        m2 = xasprintf("%s:3: invalid count \"x\" (a line of user bob: fix or remove it)", e.subuid);
        bad[8].msg = m1;
        bad[9].msg = m2;
        bad[6].msg = "userns-remap \"root\": root cannot be remapped to itself (use --userns=host for a container "
                     "without remapping)";
        bad[7].msg = "userns-remap \"0:0\": root cannot be remapped to itself (use --userns=host for a container "
                     "without remapping)";
        before = get(e.subuid);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                SubidRemap *rm = NULL;
                Error *err = NULL;
                int r = subid_remap_resolve(&e.cfg, bad[i].spec, &rm, &err);
                if (r != bad[i].r || !err || !STREQ(err->msg, bad[i].msg))
                        TAP_FAIL("%s: r=%d \"%s\", want %d \"%s\"", bad[i].spec, r, err ? err->msg : "", bad[i].r,
                                 bad[i].msg);
                ASSERT_TRUE(rm == NULL);
                error_clear(&err);
        }
        /* A failing create_user is wrapped with the setting. */
        {
                SubidRemap *rm = NULL;
                Error *err = NULL;
                e.cfg.create_user = create_fails;
                ASSERT_EQ(subid_remap_resolve(&e.cfg, "default", &rm, &err), -EPERM);
                ASSERT_STREQ(err->msg, "userns-remap \"default\": create user dockremap: not allowed to create dockremap");
                error_clear(&err);
        }
        /* Nothing was edited by any of those. */
        after = get(e.subuid);
        ASSERT_STREQ(after, before);
        ASSERT_EQ(stray_files(e.dir), 0);
        /* A missing subgid file: no range. */
        {
                SubidRemap *rm = NULL;
                Error *err = NULL;
                unlink(e.subgid);
                m3 = xasprintf("%s: no range for user alice (uid 1000)", e.subgid);
                ASSERT_EQ(subid_remap_resolve(&e.cfg, "alice", &rm, &err), -ENOENT);
                ASSERT_STREQ(err->msg, m3);
                error_clear(&err);
        }
        etc_done(&e);
}

TEST(remap_warnings_for_malformed_lines)
{
        Etc e;
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        _cleanup_free_ char *w = NULL;
        Error *err = NULL;

        etc_init(&e, "alice:100000:65536\nzed:1:2:3\n", "alice:100000:65536\n");
        ASSERT_OK(subid_remap_resolve(&e.cfg, "alice", &rm, &err));
        ASSERT_EQ(strv_length(rm->warnings), 1);
        w = xasprintf("%s:2: expected owner:start:count, found 4 fields", e.subuid);
        ASSERT_STREQ(rm->warnings[0], w);
        etc_done(&e);
}

/* ---- "default": dockremap and its ranges ---- */

static const char subuid_existing[] = "# managed by hand\n"
                                      "alice:100000:65536\n"
                                      "\n"
                                      "bob:165536:65536\n"
                                      "broken line kept as is\n"
                                      "1001:400000:65536"; /* no final newline */
static const char subgid_existing[] = "alice:100000:65536\n"
                                      "carol:231072:10\n";

TEST(default_creates_user_and_ranges_byte_for_byte)
{
        Etc e;
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        _cleanup_(subid_remap_freep) SubidRemap *rm2 = NULL;
        _cleanup_free_ char *u = NULL, *g = NULL, *u2 = NULL, *want_u = NULL;
        Error *err = NULL;
        struct stat st;

        etc_init(&e, subuid_existing, subgid_existing);
        chmod(e.subuid, 0640);
        e.cfg.create_user = create_dockremap;
        e.cfg.create_user_data = &e;
        ASSERT_OK(subid_remap_resolve(&e.cfg, "default", &rm, &err));
        ASSERT_STREQ(rm->user, "dockremap");
        ASSERT_STREQ(rm->group, "dockremap");
        ASSERT_EQ(rm->uid, 999);
        ASSERT_TRUE(rm->created_user && rm->added_subuid && rm->added_subgid);
        u = get(e.subuid);
        g = get(e.subgid);
        /* Each file gets its own first free range: 231072 in subuid, 231082 past carol's in subgid. */
        want_u = xasprintf("%s\ndockremap:231072:65536\n", subuid_existing);
        ASSERT_STREQ(u, want_u);
        ASSERT_STREQ(g, "alice:100000:65536\ncarol:231072:10\ndockremap:165536:65536\n");
        ASSERT_EQ(rm->n_uid_map, 1);
        ASSERT_EQ(rm->uid_map[0].host_id, 231072);
        ASSERT_EQ(rm->uid_map[0].size, 65536);
        ASSERT_EQ(rm->gid_map[0].host_id, 165536);
        ASSERT_EQ(strv_length(rm->warnings), 1); /* "broken line kept as is" */
        /* The original's mode survives the replace. */
        ASSERT_OK(stat(e.subuid, &st) < 0 ? -errno : 0);
        ASSERT_EQ(st.st_mode & 07777, 0640);
        ASSERT_EQ(stray_files(e.dir), 0);

        /* Second run: nothing changes. */
        ASSERT_OK(subid_remap_resolve(&e.cfg, "default", &rm2, &err));
        ASSERT_TRUE(!rm2->created_user && !rm2->added_subuid && !rm2->added_subgid);
        u2 = get(e.subuid);
        ASSERT_STREQ(u2, want_u);
        ASSERT_EQ(rm2->uid_map[0].host_id, 231072);
        etc_done(&e);
}

TEST(default_missing_files_are_created)
{
        Etc e;
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        _cleanup_free_ char *u = NULL;
        Error *err = NULL;
        struct stat st;

        etc_init(&e, NULL, NULL);
        e.cfg.create_user = create_dockremap;
        e.cfg.create_user_data = &e;
        ASSERT_OK(subid_remap_resolve(&e.cfg, "default", &rm, &err));
        u = get(e.subuid);
        ASSERT_STREQ(u, "dockremap:100000:65536\n");
        ASSERT_OK(stat(e.subgid, &st) < 0 ? -errno : 0);
        ASSERT_EQ(st.st_mode & 07777, 0644);
        etc_done(&e);
}

TEST(default_refuses_to_add_beside_a_malformed_line_of_dockremap)
{
        Etc e;
        SubidRemap *rm = NULL;
        Error *err = NULL;
        _cleanup_free_ char *want = NULL;

        etc_init(&e, "dockremap:100000:6553x\n", "");
        e.cfg.create_user = create_dockremap;
        e.cfg.create_user_data = &e;
        ASSERT_EQ(subid_remap_resolve(&e.cfg, "default", &rm, &err), -EINVAL);
        want = xasprintf("%s:1: invalid count \"6553x\" (a line of user dockremap: fix or remove it)", e.subuid);
        ASSERT_STREQ(err->msg, want);
        error_clear(&err);
        etc_done(&e);
}

TEST(symlinked_subuid_is_refused)
{
        Etc e;
        SubidRemap *rm = NULL;
        Error *err = NULL;
        _cleanup_free_ char *real = NULL;

        etc_init(&e, NULL, "");
        real = tmpdir_path(e.dir, "real");
        put(real, "dockremap:100000:65536\n");
        ASSERT_OK(symlink(real, e.subuid));
        e.cfg.create_user = create_dockremap;
        e.cfg.create_user_data = &e;
        ASSERT_EQ(subid_remap_resolve(&e.cfg, "default", &rm, &err), -ELOOP);
        ASSERT_CONTAINS(err->msg, "is a symbolic link");
        error_clear(&err);
        etc_done(&e);
}

/* Ten processes resolve "default" at once (dockremap exists, no ranges yet). */
static void race_default(Etc *e, int nproc, SubidCreateUserFn create, void *data, const char *useradd_root)
{
        int go[2];
        pid_t pids[16];

        if (pipe2(go, O_CLOEXEC) < 0)
                abort();
        fflush(stdout); /* or the children would print the parent's buffered lines again */
        for (int i = 0; i < nproc; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        SubidConfig cfg = e->cfg;
                        SubidRemap *rm = NULL;
                        Error *err = NULL;
                        char c;
                        close(go[1]);
                        (void)!read(go[0], &c, 1); /* EOF: everyone starts together */
                        cfg.create_user = create;
                        cfg.create_user_data = data;
                        cfg.lock_timeout_ms = 30000;
                        if (subid_remap_resolve(&cfg, "default", &rm, &err) < 0) {
                                fprintf(stderr, "# child %d: %s\n", i, err->msg);
                                _exit(1);
                        }
                        /* Everyone sees the same first range. */
                        _exit(rm->uid_map[0].host_id == 231072 && rm->gid_map[0].host_id == 165536 ? 0 : 2);
                }
        }
        close(go[0]);
        close(go[1]);
        (void)useradd_root;
        for (int i = 0; i < nproc; i++) {
                int st;
                waitpid(pids[i], &st, 0);
                pids[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
        }
        for (int i = 0; i < nproc; i++)
                if (pids[i] != 0)
                        printf("# child %d exited %d\n", i, pids[i]);
        for (int i = 1; i < nproc; i++)
                pids[0] |= pids[i];
        if (pids[0] != 0)
                abort();
}

TEST(default_ten_processes_at_once)
{
        Etc e;
        _cleanup_free_ char *u = NULL, *g = NULL, *want_u = NULL, *pw = NULL, *gr = NULL;

        for (int round = 0; round < 3; round++) {
                etc_init(&e, subuid_existing, subgid_existing);
                pw = xasprintf("%sdockremap:x:999:999::/nonexistent:/usr/sbin/nologin\n", passwd_text);
                gr = xasprintf("%sdockremap:x:999:\n", group_text);
                put(e.passwd, pw);
                put(e.group, gr);
                race_default(&e, 10, NULL, NULL, NULL);
                u = get(e.subuid);
                g = get(e.subgid);
                want_u = xasprintf("%s\ndockremap:231072:65536\n", subuid_existing);
                ASSERT_STREQ(u, want_u);
                ASSERT_STREQ(g, "alice:100000:65536\ncarol:231072:10\ndockremap:165536:65536\n");
                ASSERT_EQ(count_lines_with(u, "dockremap:"), 1);
                ASSERT_EQ(count_lines_with(g, "dockremap:"), 1);
                ASSERT_EQ(stray_files(e.dir), 0);
                free(u);
                free(g);
                free(want_u);
                free(pw);
                free(gr);
                u = g = want_u = pw = gr = NULL;
                etc_done(&e);
        }
}

/* ---- shadow-utils' locks ---- */

static pid_t dead_pid(void)
{
        pid_t p;
        fflush(stdout);
        p = fork();
        if (p == 0)
                _exit(0);
        waitpid(p, NULL, 0);
        return p;
}

TEST(lock_stale_link_lock_is_broken)
{
        Etc e;
        _cleanup_free_ char *lock = NULL, *pid = NULL, *u = NULL;
        bool added = false;
        Error *err = NULL;

        etc_init(&e, "alice:100000:65536\n", NULL);
        lock = xasprintf("%s.lock", e.subuid);
        pid = xasprintf("%d", (int)dead_pid());
        put(lock, pid);
        ASSERT_OK(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 2000, &added, &err));
        ASSERT_TRUE(added);
        ASSERT_TRUE(access(lock, F_OK) < 0 && errno == ENOENT);
        u = get(e.subuid);
        ASSERT_STREQ(u, "alice:100000:65536\ndockremap:165536:65536\n");
        etc_done(&e);
}

TEST(lock_live_holder_waited_for_then_timeout)
{
        Etc e;
        _cleanup_free_ char *lock = NULL, *pid = NULL, *u = NULL, *want = NULL;
        Error *err = NULL;
        pid_t holder;
        int st;

        etc_init(&e, "alice:100000:65536\n", NULL);
        lock = xasprintf("%s.lock", e.subuid);
        fflush(stdout);
        holder = fork();
        if (holder == 0) {
                pause();
                _exit(0);
        }
        pid = xasprintf("%d", (int)holder);
        put(lock, pid);
        /* Held past the timeout: refused, file untouched. */
        ASSERT_EQ(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 300, NULL, &err), -ETIMEDOUT);
        want = xasprintf("%s: held by pid %d past the timeout", lock, (int)holder);
        ASSERT_STREQ(err->msg, want);
        error_clear(&err);
        u = get(e.subuid);
        ASSERT_STREQ(u, "alice:100000:65536\n");
        /* Released while we wait: we go ahead. */
        if (fork() == 0) {
                usleep(200 * 1000);
                unlink(lock);
                _exit(0);
        }
        ASSERT_OK(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 5000, NULL, &err));
        kill(holder, SIGKILL);
        waitpid(holder, &st, 0);
        while (wait(NULL) > 0)
                ;
        free(u);
        u = get(e.subuid);
        ASSERT_STREQ(u, "alice:100000:65536\ndockremap:165536:65536\n");
        etc_done(&e);
}

TEST(lock_without_pid_is_refused)
{
        Etc e;
        _cleanup_free_ char *lock = NULL, *want = NULL;
        Error *err = NULL;

        etc_init(&e, "", NULL);
        lock = xasprintf("%s.lock", e.subuid);
        put(lock, "");
        ASSERT_EQ(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 300, NULL, &err), -EBUSY);
        want = xasprintf("%s: lock file without a valid pid; remove it if no tool is editing %s", lock, e.subuid);
        ASSERT_STREQ(err->msg, want);
        error_clear(&err);
        ASSERT_TRUE(access(lock, F_OK) == 0); /* not ours to remove */
        etc_done(&e);
}

/* glibc's lckpwdf() takes a POSIX record lock on .pwd.lock: it must hold us off. */
TEST(lock_lckpwdf_holder_holds_us_off)
{
        Etc e;
        _cleanup_free_ char *pwdlock = NULL, *want = NULL;
        Error *err = NULL;
        int ready[2], st;
        pid_t holder;
        char c;

        etc_init(&e, "", NULL);
        pwdlock = tmpdir_path(e.dir, ".pwd.lock");
        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        fflush(stdout);
        holder = fork();
        if (holder == 0) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                int fd = open(pwdlock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
                        _exit(1);
                (void)!write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        ASSERT_EQ(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 300, NULL, &err), -ETIMEDOUT);
        want = xasprintf("%s: still locked after the timeout (a useradd, usermod or passwd running?)", pwdlock);
        ASSERT_STREQ(err->msg, want);
        error_clear(&err);
        kill(holder, SIGKILL);
        waitpid(holder, &st, 0);
        ASSERT_OK(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 300, NULL, &err));
        etc_done(&e);
}

TEST(lock_owner_preserved_as_root)
{
        Etc e;
        Error *err = NULL;
        struct stat st;

        if (geteuid() != 0)
                TAP_SKIP("needs root to chown");
        etc_init(&e, "alice:100000:65536\n", NULL);
        ASSERT_OK(chown(e.subuid, 1234, 5678));
        ASSERT_OK(chmod(e.subuid, 0604));
        ASSERT_OK(subid_file_ensure_range(e.subuid, "dockremap", 999, 100000, 65536, 1000, NULL, &err));
        ASSERT_OK(stat(e.subuid, &st));
        ASSERT_EQ(st.st_uid, 1234);
        ASSERT_EQ(st.st_gid, 5678);
        ASSERT_EQ(st.st_mode & 07777, 0604);
        etc_done(&e);
}

/* ---- Debian's shadow tools, as root ---- */

static int run(const char *cmd)
{
        int st = system(cmd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(useradd_prefix_creates_dockremap_then_usermod_agrees)
{
        _cleanup_free_ char *root = NULL, *etc = NULL, *cmd = NULL, *u = NULL, *g = NULL, *pw = NULL;
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        SubidUseradd ua = { 0 };
        Error *err = NULL;
        Etc e = { 0 };

        if (!have_useradd_prefix())
                TAP_SKIP("needs root and Debian's useradd/usermod");
        root = mk_prefix_root();
        etc = tmpdir_path(root, "etc");
        e.subuid = tmpdir_path(etc, "subuid");
        e.subgid = tmpdir_path(etc, "subgid");
        e.passwd = tmpdir_path(etc, "passwd");
        e.group = tmpdir_path(etc, "group");
        put(e.subuid, "alice:100000:65536\n");
        put(e.subgid, "alice:100000:65536\n");
        ua.prefix = root;
        e.cfg = (SubidConfig){ .subuid_path = e.subuid, .subgid_path = e.subgid, .passwd_path = e.passwd,
                               .group_path = e.group, .create_user = subid_useradd, .create_user_data = &ua };
        if (subid_remap_resolve(&e.cfg, "default", &rm, &err) < 0)
                TAP_FAIL("%s", err->msg);
        ASSERT_TRUE(rm->created_user);
        ASSERT_EQ(rm->uid_map[0].host_id, 165536);
        pw = get(e.passwd);
        ASSERT_CONTAINS(pw, "dockremap:x:");
        ASSERT_CONTAINS(pw, ":/usr/sbin/nologin\n");
        /* usermod takes the same lock files: none may be left behind. */
        cmd = xasprintf("usermod --prefix %s -v 300000-300009 -w 300000-300009 dockremap", root);
        ASSERT_EQ(run(cmd), 0);
        u = get(e.subuid);
        g = get(e.subgid);
        ASSERT_STREQ(u, "alice:100000:65536\ndockremap:165536:65536\ndockremap:300000:10\n");
        ASSERT_STREQ(g, "alice:100000:65536\ndockremap:165536:65536\ndockremap:300000:10\n");
        /* Both ranges, in file order. */
        subid_remap_free(rm);
        rm = NULL;
        ASSERT_OK(subid_remap_resolve(&e.cfg, "default", &rm, &err));
        ASSERT_EQ(rm->n_uid_map, 2);
        ASSERT_EQ(rm->uid_map[1].container_id, 65536);
        ASSERT_EQ(rm->uid_map[1].host_id, 300000);
        ASSERT_EQ(stray_files(etc), 0);
        free(e.subuid);
        free(e.subgid);
        free(e.passwd);
        free(e.group);
        tmpdir_remove(TAKE_PTR(root));
}

TEST(useradd_prefix_ten_processes_at_once)
{
        _cleanup_free_ char *root = NULL, *etc = NULL, *u = NULL, *pw = NULL, *want = NULL;
        SubidUseradd ua = { 0 };
        Etc e = { 0 };

        if (!have_useradd_prefix())
                TAP_SKIP("needs root and Debian's useradd/usermod");
        root = mk_prefix_root();
        etc = tmpdir_path(root, "etc");
        e.dir = NULL;
        e.subuid = tmpdir_path(etc, "subuid");
        e.subgid = tmpdir_path(etc, "subgid");
        e.passwd = tmpdir_path(etc, "passwd");
        e.group = tmpdir_path(etc, "group");
        put(e.subuid, subuid_existing);
        put(e.subgid, subgid_existing);
        ua.prefix = root;
        e.cfg = (SubidConfig){ .subuid_path = e.subuid, .subgid_path = e.subgid, .passwd_path = e.passwd,
                               .group_path = e.group };
        race_default(&e, 10, subid_useradd, &ua, root);
        pw = get(e.passwd);
        ASSERT_EQ(count_lines_with(pw, "dockremap:"), 1);
        u = get(e.subuid);
        want = xasprintf("%s\ndockremap:231072:65536\n", subuid_existing);
        ASSERT_STREQ(u, want);
        ASSERT_EQ(stray_files(etc), 0);
        free(e.subuid);
        free(e.subgid);
        free(e.passwd);
        free(e.group);
        tmpdir_remove(TAKE_PTR(root));
}

/* ---- --userns=auto ---- */

static const SubidRange pool_uid[] = { { 1000000, 262144 } }; /* room for four leases of 65536 */
static const SubidRange pool_gid[] = { { 2000000, 131072 }, { 3000000, 131072 } };
static const SubidAutoPool pool = { pool_uid, 1, pool_gid, 2 };

static bool overlap(uint32_t a, uint32_t b, uint32_t n)
{
        return a < b + n && b < a + n;
}

TEST(auto_disjoint_release_reuse)
{
        _cleanup_free_ char *dir = tmpdir_new("subid"), *reg = tmpdir_path(dir, "userns");
        SubidAutoLease l[5], again;
        Error *err = NULL;
        char id[16];

        for (int i = 0; i < 4; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                ASSERT_OK(subid_auto_alloc(reg, &pool, 0, id, NULL, NULL, &l[i], &err));
                ASSERT_EQ(l[i].size, 65536);
        }
        ASSERT_EQ(l[0].uid_start, 1000000);
        ASSERT_EQ(l[3].uid_start, 1000000 + 3 * 65536);
        ASSERT_EQ(l[1].gid_start, 2065536);
        ASSERT_EQ(l[2].gid_start, 3000000); /* the next pool range */
        for (int i = 0; i < 4; i++)
                for (int j = i + 1; j < 4; j++)
                        ASSERT_TRUE(!overlap(l[i].uid_start, l[j].uid_start, 65536) &&
                                    !overlap(l[i].gid_start, l[j].gid_start, 65536));
        /* The same container again: the same lease. */
        ASSERT_OK(subid_auto_alloc(reg, &pool, 65536, "c1", NULL, NULL, &again, &err));
        ASSERT_EQ(again.uid_start, l[1].uid_start);
        ASSERT_EQ(subid_auto_alloc(reg, &pool, 1000, "c1", NULL, NULL, &again, &err), -EEXIST);
        error_clear(&err);
        /* Full. */
        ASSERT_EQ(subid_auto_alloc(reg, &pool, 0, "c4", NULL, NULL, &l[4], &err), -ENOSPC);
        ASSERT_CONTAINS(err->msg, "no free uid range of 65536 ids left in the pool (4 leases in ");
        error_clear(&err);
        /* Released: its range is the one given next. */
        ASSERT_EQ(subid_auto_release(reg, "c1", &err), 1);
        ASSERT_EQ(subid_auto_release(reg, "c1", &err), 0);
        ASSERT_EQ(subid_auto_get(reg, "c1", &again, &err), 0);
        ASSERT_OK(subid_auto_alloc(reg, &pool, 0, "c4", NULL, NULL, &l[4], &err));
        ASSERT_EQ(l[4].uid_start, l[1].uid_start);
        ASSERT_EQ(l[4].gid_start, l[1].gid_start);
        ASSERT_EQ(subid_auto_get(reg, "c4", &again, &err), 1);
        ASSERT_EQ(again.gid_start, l[1].gid_start);
        /* A smaller lease fits in what is left of the gid pool's second range. */
        ASSERT_EQ(subid_auto_release(reg, "c0", &err), 1);
        ASSERT_OK(subid_auto_alloc(reg, &pool, 100, "small", NULL, NULL, &l[0], &err));
        ASSERT_EQ(l[0].uid_start, 1000000);
        tmpdir_remove(TAKE_PTR(dir));
}

static int alive_only_c2(const char *id, void *userdata)
{
        int *calls = userdata;
        (*calls)++;
        if (STREQ(id, "c3"))
                return -EIO; /* unknown: kept */
        return STREQ(id, "c2");
}

TEST(auto_stale_leases_reclaimed)
{
        _cleanup_free_ char *dir = tmpdir_new("subid"), *reg = tmpdir_path(dir, "userns");
        SubidAutoLease l, x;
        Error *err = NULL;
        size_t n = 0;
        int calls = 0;
        char id[16];

        for (int i = 0; i < 4; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                ASSERT_OK(subid_auto_alloc(reg, &pool, 0, id, alive_only_c2, &calls, &l, &err));
        }
        ASSERT_EQ(calls, 0); /* the predicate is asked only when the pool is full */
        ASSERT_OK(subid_auto_alloc(reg, &pool, 0, "new", alive_only_c2, &calls, &l, &err));
        ASSERT_EQ(calls, 4);
        ASSERT_EQ(l.uid_start, 1000000); /* c0's, the lowest freed */
        ASSERT_EQ(subid_auto_get(reg, "c0", &x, &err), 0);
        ASSERT_EQ(subid_auto_get(reg, "c1", &x, &err), 0);
        ASSERT_EQ(subid_auto_get(reg, "c2", &x, &err), 1);
        ASSERT_EQ(subid_auto_get(reg, "c3", &x, &err), 1);
        /* Explicit reclaim: "new" is gone by this predicate, c3 unknown. */
        ASSERT_OK(subid_auto_reclaim(reg, alive_only_c2, &calls, &n, &err));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(subid_auto_get(reg, "new", &x, &err), 0);
        /* No registry at all: nothing to reclaim or release. */
        ASSERT_OK(subid_auto_reclaim("/nonexistent/stockade", alive_only_c2, &calls, &n, &err));
        ASSERT_EQ(n, 0);
        ASSERT_EQ(subid_auto_release("/nonexistent/stockade", "x", &err), 0);
        tmpdir_remove(TAKE_PTR(dir));
}

TEST(auto_registry_damage_is_an_error)
{
        _cleanup_free_ char *dir = tmpdir_new("subid"), *file = tmpdir_path(dir, "auto.json"), *want = NULL;
        SubidAutoLease l;
        Error *err = NULL;

        put(file, "{\"version\":1,\"leases\":[{\"container\":\"a\",\"uidStart\":1,\"gidStart\":1}]}");
        ASSERT_EQ(subid_auto_alloc(dir, &pool, 0, "b", NULL, NULL, &l, &err), -EINVAL);
        ASSERT_CONTAINS(err->msg, "auto.json");
        ASSERT_CONTAINS(err->msg, "leases[0].size");
        error_clear(&err);
        put(file, "{\"version\":1,\"leases\":[{\"container\":\"a\",\"uidStart\":1,\"gidStart\":1,\"size\":1},"
                  "{\"container\":\"a\",\"uidStart\":5,\"gidStart\":5,\"size\":1}]}");
        ASSERT_EQ(subid_auto_release(dir, "a", &err), -EINVAL);
        want = xasprintf("%s: leases[1]: container a leased twice", file);
        ASSERT_STREQ(err->msg, want);
        error_clear(&err);
        put(file, "not json");
        ASSERT_EQ(subid_auto_get(dir, "a", &l, &err), -EINVAL);
        error_clear(&err);
        ASSERT_EQ(subid_auto_alloc(dir, &pool, 0, "../x", NULL, NULL, &l, &err), -EINVAL);
        error_clear(&err);
        tmpdir_remove(TAKE_PTR(dir));
}

TEST(auto_concurrent_processes_disjoint)
{
        _cleanup_free_ char *dir = tmpdir_new("subid"), *reg = tmpdir_path(dir, "userns");
        static const SubidRange big_uid[] = { { 1000000, 65536 * 16 } };
        static const SubidRange big_gid[] = { { 5000000, 65536 * 16 } };
        SubidAutoPool p = { big_uid, 1, big_gid, 1 };
        SubidAutoLease l[12];
        Error *err = NULL;
        pid_t pids[12];
        int go[2];

        ASSERT_OK(pipe2(go, O_CLOEXEC));
        fflush(stdout);
        for (int i = 0; i < 12; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        char id[16], c;
                        SubidAutoLease x;
                        close(go[1]);
                        (void)!read(go[0], &c, 1);
                        snprintf(id, sizeof(id), "p%d", i);
                        _exit(subid_auto_alloc(reg, &p, 0, id, NULL, NULL, &x, NULL) < 0);
                }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < 12; i++) {
                int st;
                waitpid(pids[i], &st, 0);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        for (int i = 0; i < 12; i++) {
                char id[16];
                snprintf(id, sizeof(id), "p%d", i);
                ASSERT_EQ(subid_auto_get(reg, id, &l[i], &err), 1);
        }
        for (int i = 0; i < 12; i++)
                for (int j = i + 1; j < 12; j++)
                        ASSERT_TRUE(!overlap(l[i].uid_start, l[j].uid_start, 65536) &&
                                    !overlap(l[i].gid_start, l[j].gid_start, 65536));
        tmpdir_remove(TAKE_PTR(dir));
}
