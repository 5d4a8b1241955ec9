/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The device cgroup rules: parsing, their v1 text, and the eBPF filter run by the real kernel. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

static int parse(const char *text, DevRule **rules, size_t *n, Error **err)
{
        _cleanup_json_ json_t *j = NULL;
        if (jx_parse(text, strlen(text), "test", &j, err) < 0)
                return -EINVAL;
        return devices_parse(j, rules, n, err);
}

TEST(parse_rules)
{
        _cleanup_free_ DevRule *r = NULL;
        size_t n = 0;
        Error *err = NULL;

        ASSERT_OK(parse("[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]",
                        &r, &n, &err));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(r[0].allow, false);
        ASSERT_EQ(r[0].type, 'a');
        ASSERT_EQ(r[0].access, DEV_ACC_ALL);
        ASSERT_EQ(r[1].type, 'c');
        ASSERT_EQ(r[1].major, 1);
        ASSERT_EQ(r[1].minor, 3);
        ASSERT_EQ(r[1].access, DEV_ACC_READ | DEV_ACC_WRITE);
}

TEST(parse_errors_name_the_field)
{
        static const struct { const char *json, *want; } cases[] = {
                { "[{\"allow\":true,\"type\":\"x\"}]", "linux.resources.devices[0].type: \"x\" is not a, b or c" },
                { "[{\"allow\":true},{\"allow\":true,\"access\":\"rwx\"}]", "linux.resources.devices[1].access" },
                { "[{\"type\":\"c\"}]", "linux.resources.devices[0].allow: required field is missing" },
                { "[{\"allow\":true,\"major\":-5}]", "linux.resources.devices[0].major" },
                { "[{\"allow\":true,\"minor\":99999999999}]", "linux.resources.devices[0].minor" },
                { "[7]", "linux.resources.devices[0]: expected an object" },
                { "{}", "linux.resources.devices: expected an array" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                _cleanup_free_ DevRule *r = NULL;
                size_t n = 0;
                Error *err = NULL;
                ASSERT_TRUE(parse(cases[i].json, &r, &n, &err) < 0);
                ASSERT_CONTAINS(err->msg, cases[i].want);
                error_free(err);
        }
}

TEST(v1_text)
{
        char buf[96];
        DevRule a = { false, 'a', -1, -1, DEV_ACC_ALL }, c = { true, 'c', 1, -1, DEV_ACC_READ | DEV_ACC_MKNOD };
        devices_rule_v1(&a, buf, sizeof(buf));
        ASSERT_STREQ(buf, "a");
        devices_rule_v1(&c, buf, sizeof(buf));
        ASSERT_STREQ(buf, "c 1:* rm");
}

TEST(program_shape)
{
        _cleanup_free_ struct bpf_insn *p = NULL;
        size_t n = 0;
        Error *err = NULL;
        DevRule deny_all = { false, 'a', -1, -1, DEV_ACC_ALL };

        ASSERT_OK(devices_bpf_build(&deny_all, 1, &p, &n, &err));
        /* the prologue, one block per rule, and the final "allow" */
        ASSERT_TRUE(n > 6 + 2 * (n_default_device_rules + 1));
        /* a deny-all rule is the last block: nothing after it could run */
        ASSERT_EQ(p[n - 1].code, BPF_JMP | BPF_EXIT);
        ASSERT_EQ(p[n - 2].imm, 0);
        /* every jump lands inside the program */
        for (size_t i = 0; i < n; i++)
                if ((p[i].code & 0x07) == BPF_JMP && (p[i].code & 0xf0) != BPF_EXIT)
                        ASSERT_TRUE(i + 1 + (size_t)p[i].off < n);
        free(p);
        p = NULL;
        /* without one, nothing matching allows, as in a new v1 cgroup */
        ASSERT_OK(devices_bpf_build(NULL, 0, &p, &n, &err));
        ASSERT_EQ(p[n - 2].imm, 1);
        ASSERT_TRUE(devices_bpf_build(&deny_all, 100000, &p, &n, &err) == -E2BIG);
        error_free(err);
}

/* ------------------------------------------------------------------ against the kernel */

static char cg2_mount[4096];
static char cg2_own[8192];

/* The cgroup2 mount and this process's cgroup in it; false when there is none. */
static bool find_cgroup2(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_fclose_ FILE *g = fopen("/proc/self/cgroup", "re");
        char line[8192];
        bool found = false;

        if (!f || !g)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - cgroup2 ");
                char mp[4096];
                if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                snprintf(cg2_mount, sizeof(cg2_mount), "%s", mp);
                found = true;
                break;
        }
        if (!found)
                return false;
        while (fgets(line, sizeof(line), g))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(cg2_own, sizeof(cg2_own), "%s", line + 3);
                        return true;
                }
        return false;
}

enum { R_NULL_RW = 1, R_KMSG_R = 2, R_KMSG_W = 4, R_KMSG_RW = 8, R_MKNOD = 16 };

/* Runs the probes in a child inside a new cgroup with the filter for `rules`; returns the R_* that opened. */
static int probe(const char *rules_json, int *tap_failed)
{
        _cleanup_free_ DevRule *rules = NULL;
        _cleanup_free_ char *dir = NULL;
        size_t n = 0;
        Error *err = NULL;
        int status = 0, r;
        pid_t pid;

        if (parse(rules_json, &rules, &n, &err) < 0) {
                printf("# %s\n", err->msg);
                *tap_failed = 1;
                return -1;
        }
        dir = xasprintf("%s%s/stockade-test-devices-%d", cg2_mount, STREQ(cg2_own, "/") ? "" : cg2_own, (int)getpid());
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                printf("# mkdir %s: %m\n", dir);
                *tap_failed = 1;
                return -1;
        }
        r = devices_bpf_apply(dir, rules, n, &err);
        if (r < 0) {
                printf("# %s\n", err->msg);
                error_free(err);
                rmdir(dir);
                *tap_failed = 1;
                return -1;
        }
        pid = fork();
        if (pid == 0) {
                _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
                char node[64];
                int res = 0, fd;
                if (write_file_at(AT_FDCWD, procs, "0") < 0)
                        _exit(255);
                if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0)
                        res |= R_NULL_RW, close(fd);
                if ((fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0)
                        res |= R_KMSG_R, close(fd);
                if ((fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)) >= 0)
                        res |= R_KMSG_W, close(fd);
                if ((fd = open("/dev/kmsg", O_RDWR | O_NONBLOCK | O_CLOEXEC)) >= 0)
                        res |= R_KMSG_RW, close(fd);
                snprintf(node, sizeof(node), "/tmp/stockade-test-devnode-%d", (int)getpid());
                if (mknod(node, S_IFCHR | 0600, makedev(1, 11)) == 0)
                        res |= R_MKNOD, unlink(node);
                _exit(res);
        }
        waitpid(pid, &status, 0);
        for (int i = 0; i < 200 && rmdir(dir) < 0 && errno == EBUSY; i++)
                usleep(10000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 255) {
                printf("# the probe child failed (status 0x%x)\n", status);
                *tap_failed = 1;
                return -1;
        }
        return WEXITSTATUS(status);
}

#define NEED_KERNEL()                                                                                          \
        do {                                                                                                   \
                if (geteuid() != 0)                                                                            \
                        TAP_SKIP("needs root to load eBPF programs and create cgroups");                       \
                if (!find_cgroup2())                                                                           \
                        TAP_SKIP("no cgroup2 hierarchy mounted");                                              \
        } while (0)

TEST(kernel_deny_all_keeps_default_devices)
{
        NEED_KERNEL();
        int r = probe("[{\"allow\":false,\"access\":\"rwm\"}]", tap_failed);
        if (r < 0)
                return;
        /* /dev/null is a default device; /dev/kmsg (c 1:11) is not; mknod is allowed by the defaults */
        ASSERT_EQ(r, R_NULL_RW | R_MKNOD);
}

TEST(kernel_allow_read_only)
{
        NEED_KERNEL();
        int r = probe("[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"r\"}]",
                      tap_failed);
        if (r < 0)
                return;
        ASSERT_EQ(r, R_NULL_RW | R_KMSG_R | R_MKNOD);
}

TEST(kernel_later_deny_wins)
{
        NEED_KERNEL();
        /* allow everything, then take write access to c 1:* away: read stays, any write is refused */
        int r = probe("[{\"allow\":true,\"access\":\"rwm\"},{\"allow\":false,\"type\":\"c\",\"major\":1,\"access\":\"w\"}]",
                      tap_failed);
        if (r < 0)
                return;
        /* /dev/null (c 1:3) is a default device and keeps rw: the defaults come last */
        ASSERT_EQ(r, R_NULL_RW | R_KMSG_R | R_MKNOD);
}

TEST(kernel_no_rules_allow_everything)
{
        NEED_KERNEL();
        int r = probe("[]", tap_failed);
        if (r < 0)
                return;
        ASSERT_EQ(r, R_NULL_RW | R_KMSG_R | R_KMSG_W | R_KMSG_RW | R_MKNOD);
}
