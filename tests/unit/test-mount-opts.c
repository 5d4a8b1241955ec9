/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/mount.h>

#include "mount.h"
#include "syscalls.h"
#include "tap.h"
#include "util.h"

static MountOpts parse(const char *const *opts, int *r, Error **e)
{
        MountOpts o = { 0 };
        *r = mount_opts_parse((char *const *)opts, &o, e);
        return o;
}

TEST(flags_and_data)
{
        const char *opts[] = { "nosuid", "nodev", "ro", "size=64k", "mode=755", NULL };
        Error *e = NULL;
        int r;
        MountOpts o = parse(opts, &r, &e);
        ASSERT_OK(r);
        ASSERT_EQ(o.flags, MS_NOSUID | MS_NODEV | MS_RDONLY);
        ASSERT_STREQ(o.data, "size=64k,mode=755");
        mount_opts_done(&o);
}

TEST(later_option_wins)
{
        const char *opts[] = { "ro", "rw", "noexec", "exec", NULL };
        Error *e = NULL;
        int r;
        MountOpts o = parse(opts, &r, &e);
        ASSERT_OK(r);
        ASSERT_EQ(o.flags, 0);
        ASSERT_EQ(o.clear, MS_RDONLY | MS_NOEXEC);
        ASSERT_TRUE(o.data == NULL);
}

TEST(bind_and_propagation)
{
        const char *opts[] = { "rbind", "rslave", NULL };
        Error *e = NULL;
        int r;
        MountOpts o = parse(opts, &r, &e);
        ASSERT_OK(r);
        ASSERT_EQ(o.flags, MS_BIND | MS_REC);
        ASSERT_EQ(o.propagation, MS_SLAVE | MS_REC);
}

TEST(recursive_attributes)
{
        const char *opts[] = { "rbind", "rro", "rnosuid", "rnoatime", "idmap", NULL };
        Error *e = NULL;
        int r;
        MountOpts o = parse(opts, &r, &e);
        ASSERT_OK(r);
        ASSERT_EQ(o.rattr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
        ASSERT_TRUE(o.rattr_clr & MOUNT_ATTR__ATIME);
        ASSERT_TRUE(o.idmap);
}

TEST(unsupported_and_hostile)
{
        const char *a[] = { "tmpcopyup", "size=1m", NULL };
        const char *b[] = { "size=1,uid=0", NULL };
        Error *e = NULL;
        int r;
        MountOpts o = parse(a, &r, &e);
        ASSERT_EQ(r, 0);
        ASSERT_TRUE(o.tmpcopyup);
        ASSERT_STREQ(o.data, "size=1m"); /* not passed to the kernel */
        mount_opts_done(&o);
        /* A comma inside one option would smuggle extra options into the data string. */
        parse(b, &r, &e);
        ASSERT_TRUE(r < 0);
        error_clear(&e);
}
