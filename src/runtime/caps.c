/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"
#include "log.h"
#include "util.h"

/* Indexed by capability number (linux/capability.h); the kernel's own names. */
static const char *const cap_names[] = {
        "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
        "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
        "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
        "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

int caps_known_count(void)
{
        return (int)ELEMENTSOF(cap_names);
}

int caps_from_name(const char *name)
{
        /* "CAP_SYS_ADMIN", "cap_sys_admin" or Docker's "SYS_ADMIN" */
        const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (strcasecmp(bare, cap_names[i] + 4) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *caps_to_name(int cap)
{
        if (cap < 0 || (size_t)cap >= ELEMENTSOF(cap_names))
                return NULL;
        return cap_names[cap];
}

int caps_last_cap(void)
{
        static int last = -1;
        _cleanup_free_ char *s = NULL;

        if (last >= 0)
                return last;
        if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, NULL) == 0)
                last = atoi(s);
        if (last <= 0 || last >= CAPS_NAMES_MAX)
                last = CAP_LAST_CAP;
        return last;
}

int caps_drop_bounding(const OciCaps *caps, Error **err)
{
        int last = caps_last_cap();

        if (!caps->present)
                return 0;
        for (int c = 0; c <= last; c++) {
                if (caps->bounding & (UINT64_C(1) << c))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return error_set(err, errno, "dropping %s from the bounding set",
                                         caps_to_name(c) ? caps_to_name(c) : "capability");
        }
        return 0;
}

static int set_flag(cap_t c, cap_flag_t flag, uint64_t mask, int last)
{
        cap_value_t vals[CAPS_NAMES_MAX];
        int n = 0;

        for (int i = 0; i <= last; i++)
                if (mask & (UINT64_C(1) << i))
                        vals[n++] = i;
        if (n > 0 && cap_set_flag(c, flag, n, vals, CAP_SET) < 0)
                return -errno;
        return 0;
}

int caps_apply_final(const OciCaps *caps, Error **err)
{
        int last = caps_last_cap();
        cap_t c;
        int r;

        if (!caps->present)
                return 0;
        /* Name what cannot be had: a capability outside our own bounding set can never be permitted. */
        for (int i = 0; i <= last; i++) {
                uint64_t bit = UINT64_C(1) << i;
                if (((caps->permitted | caps->effective | caps->inheritable) & bit) && !(caps->bounding & bit))
                        continue; /* dropped from bounding on purpose; capset decides */
                if ((caps->permitted & bit) && prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 0)
                        return error_setx(err, EPERM,
                                          "process.capabilities.permitted: %s is not in the runtime's own bounding "
                                          "set, so no process it starts can have it",
                                          caps_to_name(i));
        }
        c = cap_init();
        if (!c)
                return error_set(err, errno, "cap_init");
        r = set_flag(c, CAP_EFFECTIVE, caps->effective, last);
        if (r == 0)
                r = set_flag(c, CAP_PERMITTED, caps->permitted, last);
        if (r == 0)
                r = set_flag(c, CAP_INHERITABLE, caps->inheritable, last);
        if (r == 0 && cap_set_proc(c) < 0)
                r = -errno;
        cap_free(c);
        if (r < 0)
                return error_set(err, -r, "setting the effective, permitted and inheritable capabilities");

        /* Ambient stays empty unless asked (CVE-2022-29162): clear, then raise only what is listed. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return error_set(err, errno, "clearing the ambient capabilities");
        for (int i = 0; i <= last; i++) {
                if (!(caps->ambient & (UINT64_C(1) << i)))
                        continue;
                /* The kernel raises an ambient capability only if it is also permitted and inheritable.
                 * runc's own `spec` lists ambient capabilities without inheritable ones, and runc warns
                 * and goes on; so do we, which errs on the side of fewer privileges. */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
                        log_warn("process.capabilities.ambient: %s not raised (it must also be permitted and "
                                 "inheritable): %s",
                                 caps_to_name(i), strerror(errno));
        }
        return 0;
}
