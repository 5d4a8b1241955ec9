/* SPDX-License-Identifier: GPL-2.0-or-later */
/* seccomp-profile.c: the recorded profile, --base merge, diff, reading with line and column. */
#include <seccomp.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"
#include "json-util.h"
#include "seccomp-profile.h"
#include "tap.h"
#include "util.h"

static json_t *parse(const char *s)
{
        json_t *j = NULL;
        Error *e = NULL;
        if (jx_parse(s, strlen(s), "test", &j, &e) < 0) {
                error_free(e);
                return NULL;
        }
        return j;
}

static char *names_of(json_t *p, size_t rule)
{
        json_t *r = json_array_get(json_object_get(p, "syscalls"), rule);
        return jx_dump(json_object_get(r, "names"), false);
}

static void add_name(SeccompRecording *r, unsigned row, const char *name)
{
        int nr = seccomp_syscall_resolve_name_arch(row ? SCMP_ARCH_X86 : SCMP_ARCH_X86_64, name);
        if (nr >= 0)
                seccomp_recording_add(r, row, (unsigned)nr);
}

TEST(recording_minimal_profile_sorted_with_runtime_calls)
{
        SeccompRecording r = { 0 };
        add_name(&r, 0, "write");
        add_name(&r, 0, "getpid");
        add_name(&r, 0, "arch_prctl");
        add_name(&r, 1, "sgetmask"); /* 32-bit only */
        _cleanup_json_ json_t *p = seccomp_profile_from_recording(&r, true);
        _cleanup_free_ char *names = names_of(p, 0);
        ASSERT_STREQ(names, "[\"arch_prctl\",\"brk\",\"execve\",\"exit_group\",\"getpid\",\"mmap\",\"sgetmask\",\"write\"]");
        ASSERT_STREQ(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_ERRNO");
        ASSERT_EQ(json_integer_value(json_object_get(p, "defaultErrnoRet")), 1);
        _cleanup_free_ char *arches = jx_dump(json_object_get(p, "architectures"), false);
        ASSERT_STREQ(arches, "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]");
        /* clone3 not recorded: ENOSYS as under the recording's filter, so libc falls back to clone */
        ASSERT_EQ(json_array_size(json_object_get(p, "syscalls")), 2);
        _cleanup_free_ char *c3 = jx_dump(json_array_get(json_object_get(p, "syscalls"), 1), false);
        ASSERT_STREQ(c3, "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}");
        add_name(&r, 0, "clone3");
        _cleanup_json_ json_t *p2 = seccomp_profile_from_recording(&r, true);
        ASSERT_EQ(json_array_size(json_object_get(p2, "syscalls")), 1);
        seccomp_recording_clear(&r);
}

TEST(recording_without_nnp_has_the_runtime_identity_calls)
{
        SeccompRecording r = { 0 };
        _cleanup_json_ json_t *p = seccomp_profile_from_recording(&r, false);
        _cleanup_free_ char *names = names_of(p, 0);
        ASSERT_CONTAINS(names, "\"capset\"");
        ASSERT_CONTAINS(names, "\"setresuid\"");
        ASSERT_CONTAINS(names, "\"accept4\"");
        ASSERT_CONTAINS(names, "\"execve\"");
}

TEST(argument_rules)
{
        SeccompRecording r = { .with_args = true };
        add_name(&r, 0, "socket");
        add_name(&r, 0, "clone");
        add_name(&r, 0, "personality");
        add_name(&r, 0, "read");
        int sock = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "socket");
        int clone = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "clone");
        int pers = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, "personality");
        seccomp_recording_add_arg(&r, 0, (unsigned)sock, 10);
        seccomp_recording_add_arg(&r, 0, (unsigned)sock, 1);
        seccomp_recording_add_arg(&r, 0, (unsigned)sock, 10); /* once */
        seccomp_recording_add_arg(&r, 0, (unsigned)clone, 0x1200011);
        seccomp_recording_add_arg(&r, 0, (unsigned)pers, 0xffffffff);
        _cleanup_json_ json_t *p = seccomp_profile_from_recording(&r, true);
        _cleanup_free_ char *all = jx_dump(json_object_get(p, "syscalls"), false);
        _cleanup_free_ char *names = names_of(p, 0);
        ASSERT_TRUE(!strstr(names, "socket") && !strstr(names, "clone") && !strstr(names, "personality"));
        ASSERT_CONTAINS(names, "\"read\"");
        /* clone without namespace flags: Docker's masked rule; personality and socket per value, ascending */
        ASSERT_CONTAINS(all, "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}");
        ASSERT_CONTAINS(all, "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":4294967295,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"}]}");
        ASSERT_CONTAINS(all, "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"}]},{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":10,");
        ASSERT_EQ(json_array_size(json_object_get(p, "syscalls")), 6);
        /* a clone with CLONE_NEWNS: exact values instead */
        seccomp_recording_add_arg(&r, 0, (unsigned)clone, 0x20000);
        _cleanup_json_ json_t *p2 = seccomp_profile_from_recording(&r, true);
        _cleanup_free_ char *all2 = jx_dump(json_object_get(p2, "syscalls"), false);
        ASSERT_TRUE(!strstr(all2, "MASKED_EQ"));
        ASSERT_CONTAINS(all2, "\"value\":131072,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"");
        seccomp_recording_clear(&r);
}

TEST(merge_union_and_conditional_rules)
{
        SeccompRecording r = { 0 };
        add_name(&r, 0, "getpid");
        add_name(&r, 0, "socket");
        _cleanup_json_ json_t *p = seccomp_profile_from_recording(&r, true);
        _cleanup_json_ json_t *base = parse(
                "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                "{\"names\":[\"uname\",\"getpid\",\"clone3\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"name\":\"acct\",\"action\":\"SCMP_ACT_ALLOW\"},"
                "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"},"
                "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
                "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}");
        Error *e = NULL;
        ASSERT_TRUE(base != NULL);
        ASSERT_OK(seccomp_profile_merge(p, base, &e));
        _cleanup_free_ char *names = names_of(p, 0);
        ASSERT_STREQ(names, "[\"acct\",\"brk\",\"clone3\",\"execve\",\"exit_group\",\"getpid\",\"mmap\",\"socket\",\"uname\",\"write\"]");
        /* personality's rule kept; socket's dropped (allowed outright), clone3's ENOSYS too; mkdir's ERRNO rule dropped */
        ASSERT_EQ(json_array_size(json_object_get(p, "syscalls")), 2);
        _cleanup_free_ char *second = names_of(p, 1);
        ASSERT_STREQ(second, "[\"personality\"]");
        /* a bad base is an error naming the field */
        _cleanup_json_ json_t *bad = parse("{\"syscalls\":[{\"names\":[1],\"action\":\"SCMP_ACT_ALLOW\"}]}");
        ASSERT_TRUE(seccomp_profile_merge(p, bad, &e) < 0);
        ASSERT_CONTAINS(e->msg, "syscalls[0].names[0]");
        error_free(e);
}

TEST(diff)
{
        _cleanup_json_ json_t *a = parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
                                         "{\"names\":[\"read\",\"write\",\"mkdir\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                                         "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}");
        _cleanup_json_ json_t *b = parse("{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":["
                                         "{\"names\":[\"read\",\"write\",\"uname\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                                         "{\"name\":\"socket\",\"action\":\"SCMP_ACT_ALLOW\"},"
                                         "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_LOG\"}]}");
        _cleanup_free_ char *text = NULL, *same = NULL;
        Error *e = NULL;
        ASSERT_OK(seccomp_profile_diff(a, b, &text, &e));
        ASSERT_STREQ(text, "defaultAction: SCMP_ACT_ERRNO -> SCMP_ACT_KILL\n"
                           "- mkdir (SCMP_ACT_ALLOW)\n"
                           "~ socket: SCMP_ACT_ALLOW if args -> SCMP_ACT_ALLOW\n"
                           "+ uname (SCMP_ACT_ALLOW)\n"
                           "~ write: SCMP_ACT_ALLOW -> SCMP_ACT_ALLOW | SCMP_ACT_LOG\n");
        ASSERT_OK(seccomp_profile_diff(a, a, &same, &e));
        ASSERT_STREQ(same, "");
        _cleanup_json_ json_t *bad = parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":{}}");
        _cleanup_free_ char *t2 = NULL;
        ASSERT_TRUE(seccomp_profile_diff(a, bad, &t2, &e) < 0);
        ASSERT_CONTAINS(e->msg, "second profile: syscalls: expected an array");
        error_free(e);
}

TEST(read_errors)
{
        char path[] = "/tmp/test-seccomp-profile.XXXXXX";
        int fd = mkstemp(path);
        json_t *j = NULL;
        Error *e = NULL;
        ASSERT_TRUE(fd >= 0);
        const char *text = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [,]\n}\n";
        ASSERT_OK(write_all(fd, text, strlen(text)));
        close(fd);
        ASSERT_TRUE(seccomp_profile_read(path, &j, &e) < 0);
        ASSERT_CONTAINS(e->msg, "line 3 column");
        ASSERT_CONTAINS(e->msg, path);
        e = error_free(e);
        unlink(path);
        ASSERT_TRUE(seccomp_profile_read(path, &j, &e) < 0);
        ASSERT_CONTAINS(e->msg, "No such file or directory");
        error_free(e);
}
