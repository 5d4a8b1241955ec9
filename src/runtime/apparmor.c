/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "apparmor.h"
#include "util.h"

bool apparmor_enabled(void)
{
        _cleanup_free_ char *s = NULL;
        return read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", 16, &s, NULL) == 0 && s[0] == 'Y';
}

bool apparmor_wanted(const char *profile)
{
        return profile && *profile && !STREQ(profile, "unconfined");
}

int apparmor_check(const char *profile, const char *field, Error **err)
{
        if (!apparmor_wanted(profile))
                return 0;
        /* a name with a newline or NUL could smuggle a second command to the kernel's parser */
        if (strlen(profile) > 4000 || strpbrk(profile, "\n\r") || profile[0] == ' ')
                return error_setx(err, EINVAL, "%s: \"%s\" is not an AppArmor profile name", field, profile);
        if (!apparmor_enabled())
                return error_setx(err, ENOTSUP,
                                  "%s: \"%s\" cannot be applied: AppArmor is not enabled in this kernel (use \"unconfined\" "
                                  "or leave it empty to run without it)",
                                  field, profile);
        /* Loaded?  Say so now, not when the container starts (when securityfs lets us see). */
        _cleanup_free_ char *list = NULL;
        if (read_file_at(AT_FDCWD, "/sys/kernel/security/apparmor/profiles", 16 << 20, &list, NULL) == 0) {
                size_t n = strlen(profile);
                for (const char *l = list; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                        if (strncmp(l, profile, n) == 0 && l[n] == ' ' && l[n + 1] == '(')
                                return 0;
                return error_setx(err, ENOENT,
                                  "%s: no AppArmor profile \"%s\" is loaded (see /sys/kernel/security/apparmor/profiles; "
                                  "load it with apparmor_parser)",
                                  field, profile);
        }
        return 0;
}

int apparmor_open_exec_attr(const char *profile, int *ret_fd, Error **err)
{
        static const char *const paths[] = { "/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec" };
        struct statfs sfs;
        int fd = -1;

        *ret_fd = -1;
        if (!apparmor_wanted(profile))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(paths) && fd < 0; i++)
                fd = open(paths[i], O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return error_set(err, errno, "process.apparmorProfile: opening /proc/thread-self/attr/apparmor/exec");
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
                close(fd);
                return error_setx(err, EXDEV, "process.apparmorProfile: the exec attribute is not on procfs");
        }
        *ret_fd = fd;
        return 0;
}

int apparmor_set_exec(int fd, const char *profile, Error **err)
{
        _cleanup_free_ char *cmd = NULL;
        int r;

        if (fd < 0)
                return 0;
        cmd = xasprintf("exec %s", profile);
        r = write_all(fd, cmd, strlen(cmd));
        if (r == -ENOENT || r == -EINVAL)
                return error_set(err, -r, "process.apparmorProfile: \"%s\" (is the profile loaded? see "
                                          "/sys/kernel/security/apparmor/profiles)", profile);
        if (r < 0)
                return error_set(err, -r, "process.apparmorProfile: changing to \"%s\" on exec", profile);
        return 0;
}
