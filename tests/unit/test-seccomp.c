/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Compiles profiles and checks the verdicts by loading them in a forked child (kafel's method). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-resources.h"
#include "json-util.h"
#include "seccomp-filter.h"
#include "tap.h"
#include "util.h"

static int compile(const char *text, SeccompFilter **f, Error **e)
{
        json_t *j = NULL;
        int r = jx_parse(text, strlen(text), "seccomp", &j, e);
        if (r < 0)
                return r;
        r = seccomp_compile(j, NULL, f, e);
        json_decref(j);
        return r;
}

/* Runs syscall nr in a child under the filter; returns the errno it saw (0 on success). */
static int verdict(const SeccompFilter *f, long nr)
{
        pid_t pid = fork();
        int status;
        if (pid == 0) {
                Error *e = NULL;
                alarm(5); /* a filter that traps the child must not hang the suite */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_install(f, &e) < 0)
                        _exit(200);
                long r = syscall(nr, 0, 0, 0);
                /* Leave with the raw syscall: _exit() under ASan runs code the filter may forbid. */
                syscall(SYS_exit_group, r < 0 ? errno : 0);
                _exit(201);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return -1;
        return WEXITSTATUS(status);
}

TEST(errno_rules_and_default)
{
        SeccompFilter *f = NULL;
        Error *e = NULL;
        ASSERT_OK(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                          "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
                          "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\"},"
                          "{\"names\":[\"no_such_syscall_name\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                          &f, &e));
        ASSERT_EQ(verdict(f, SYS_getppid), ENOSYS);
        ASSERT_EQ(verdict(f, SYS_getpgid), EPERM); /* errnoRet defaults to EPERM */
        ASSERT_EQ(verdict(f, SYS_getpid), 0);
        seccomp_filter_free(f);
}

TEST(argument_conditions)
{
        SeccompFilter *f = NULL;
        Error *e = NULL;
        /* Allow everything but getpgid(pid) with pid == 1. */
        ASSERT_OK(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
                          "\"syscalls\":[{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
                          "\"args\":[{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                          &f, &e));
        /* kill(0, 0) -> signal 0 matches the rule. */
        ASSERT_EQ(verdict(f, SYS_kill), EACCES);
        seccomp_filter_free(f);
}

TEST(default_errno)
{
        SeccompFilter *f = NULL;
        Error *e = NULL;
        ASSERT_OK(compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
                          "{\"names\":[\"exit\",\"exit_group\",\"rt_sigreturn\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
                          &f, &e));
        ASSERT_EQ(verdict(f, SYS_getppid), ENOSYS);
        seccomp_filter_free(f);
}

TEST(bad_profiles_name_the_field)
{
        SeccompFilter *f = NULL;
        Error *e = NULL;
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_BOGUS\"}", &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BOGUS\"");
        error_clear(&e);
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}", &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"");
        error_clear(&e);
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
                            "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":7,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                            &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.syscalls[0].args[0].index: 7 is not 0..5");
        error_clear(&e);
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"relative.sock\"}", &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.listenerPath: \"relative.sock\" is not an absolute path");
        error_clear(&e);
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mount\"],"
                            "\"action\":\"SCMP_ACT_NOTIFY\"}]}", &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
        error_clear(&e);
        ASSERT_TRUE(compile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":5000}", &f, &e) < 0);
        ASSERT_STREQ(e->msg, "linux.seccomp.defaultErrnoRet: 5000 is not an errno (0..4095)");
        error_clear(&e);
        /* a listenerPath without a notifying rule is harmless: nothing to send */
        ASSERT_OK(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\"}", &f, &e));
        ASSERT_EQ(f->listener_path == NULL, 1);
        seccomp_filter_free(f);
}

TEST(shares_to_weight)
{
        ASSERT_EQ(cgroup_shares_to_weight(2), 1);
        ASSERT_EQ(cgroup_shares_to_weight(1024), 39);
        ASSERT_EQ(cgroup_shares_to_weight(262144), 10000);
        ASSERT_EQ(cgroup_shares_to_weight(1), 1);
        ASSERT_EQ(cgroup_shares_to_weight(1000000), 10000);
}

TEST(cache_hit_miss_and_tampering)
{
        static const char text[] = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"getpid\",\"write\","
                                   "\"exit_group\",\"no_such_syscall_name\"],\"action\":\"SCMP_ACT_ALLOW\"}]}";
        char dir[] = "/tmp/stockade-test-cache.XXXXXX";
        SeccompFilter *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        SeccompContext ctx = { .bounding = 1 };
        json_t *j = NULL;
        Error *e = NULL;
        bool hit = true;
        int rootfd, cfd;

        ASSERT_TRUE(mkdtemp(dir) != NULL);
        rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cfd = seccomp_cache_open(rootfd);
        ASSERT_TRUE(cfd >= 0);
        ASSERT_OK(jx_parse(text, strlen(text), "seccomp", &j, &e));
        ASSERT_OK(seccomp_compile_cached(cfd, j, &ctx, &a, &hit, &e));
        ASSERT_EQ(hit, false);
        ASSERT_OK(seccomp_compile_cached(cfd, j, &ctx, &b, &hit, &e));
        ASSERT_EQ(hit, true);
        ASSERT_EQ(a->prog.len, b->prog.len);
        ASSERT_TRUE(memcmp(a->prog.filter, b->prog.filter, a->prog.len * sizeof(*a->prog.filter)) == 0);
        /* the unknown-syscall warning comes back with the cached filter */
        ASSERT_TRUE(b->warnings && b->warnings[0]);
        ASSERT_CONTAINS(b->warnings[0], "no_such_syscall_name");
        /* other capabilities: another entry */
        ctx.bounding = 3;
        ASSERT_OK(seccomp_compile_cached(cfd, j, &ctx, &c, &hit, &e));
        ASSERT_EQ(hit, false);
        /* a tampered file is not used: flip a byte of every cache file, then compile again */
        {
                DIR *dd = fdopendir(dup(cfd));
                struct dirent *de;
                while (dd && (de = readdir(dd)))
                        if (de->d_name[0] != '.') {
                                int fd = openat(cfd, de->d_name, O_RDWR | O_CLOEXEC);
                                char x = 'X';
                                ASSERT_TRUE(fd >= 0);
                                ASSERT_EQ(pwrite(fd, &x, 1, 40), 1); /* inside the key */
                                close(fd);
                        }
                if (dd)
                        closedir(dd);
        }
        ctx.bounding = 1;
        ASSERT_OK(seccomp_compile_cached(cfd, j, &ctx, &d, &hit, &e));
        ASSERT_EQ(hit, false);
        ASSERT_TRUE(memcmp(a->prog.filter, d->prog.filter, a->prog.len * sizeof(*a->prog.filter)) == 0);
        seccomp_filter_free(a);
        seccomp_filter_free(b);
        seccomp_filter_free(c);
        seccomp_filter_free(d);
        json_decref(j);
        close(cfd);
        ASSERT_OK(rm_rf_at(AT_FDCWD, dir));
        close(rootfd);
}
