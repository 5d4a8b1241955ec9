/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "json-util.h"
#include "log.h"
#include "seccomp-filter.h"
#include "util.h"

#define MAX_RULES 4096

static int parse_action(const char *name, uint32_t errno_ret, bool has_errno, uint32_t *ret)
{
        if (STREQ(name, "SCMP_ACT_KILL") || STREQ(name, "SCMP_ACT_KILL_THREAD"))
                *ret = SCMP_ACT_KILL_THREAD;
        else if (STREQ(name, "SCMP_ACT_KILL_PROCESS"))
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (STREQ(name, "SCMP_ACT_TRAP"))
                *ret = SCMP_ACT_TRAP;
        else if (STREQ(name, "SCMP_ACT_ERRNO"))
                *ret = SCMP_ACT_ERRNO(has_errno ? errno_ret : EPERM);
        else if (STREQ(name, "SCMP_ACT_TRACE"))
                *ret = SCMP_ACT_TRACE(has_errno ? errno_ret : EPERM);
        else if (STREQ(name, "SCMP_ACT_ALLOW"))
                *ret = SCMP_ACT_ALLOW;
        else if (STREQ(name, "SCMP_ACT_LOG"))
                *ret = SCMP_ACT_LOG;
        else
                return -EINVAL;
        return 0;
}

static int parse_op(const char *name, enum scmp_compare *ret)
{
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {
                { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
                { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
                { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
        };
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (STREQ(name, ops[i].name)) {
                        *ret = ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

static int parse_arch(const char *name, uint32_t *ret)
{
        static const struct {
                const char *name;
                uint32_t arch;
        } archs[] = {
                { "SCMP_ARCH_X86", SCMP_ARCH_X86 },         { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
                { "SCMP_ARCH_X32", SCMP_ARCH_X32 },         { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
                { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 }, { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
                { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },   { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
                { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },   { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
                { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 }, { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
                { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },     { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
                { "SCMP_ARCH_S390", SCMP_ARCH_S390 },       { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
                { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },   { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
                { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
        };
        for (size_t i = 0; i < ELEMENTSOF(archs); i++)
                if (STREQ(name, archs[i].name)) {
                        *ret = archs[i].arch;
                        return 0;
                }
        return -EINVAL;
}

static int parse_flags(json_t *j, unsigned *ret, Error **err)
{
        _cleanup_strv_ char **flags = NULL;
        unsigned f = 0;

        if (jx_strv(j, "linux.seccomp", "flags", false, &flags, err) < 0)
                return -EINVAL;
        for (size_t i = 0; flags && flags[i]; i++) {
                if (STREQ(flags[i], "SECCOMP_FILTER_FLAG_TSYNC"))
                        f |= SECCOMP_FILTER_FLAG_TSYNC;
                else if (STREQ(flags[i], "SECCOMP_FILTER_FLAG_LOG"))
                        f |= SECCOMP_FILTER_FLAG_LOG;
                else if (STREQ(flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                        f |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                else
                        return error_setx(err, EINVAL, "linux.seccomp.flags[%zu]: unknown flag \"%s\"", i, flags[i]);
        }
        *ret = f;
        return 0;
}

/* Adds one syscall rule; -EEXIST-like conflicts from libseccomp are reported with the name. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, uint32_t default_action, const char *name,
                    const struct scmp_arg_cmp *cmps, unsigned ncmp, const char *path, Error **err)
{
        int nr = seccomp_syscall_resolve_name(name);
        int r;

        if (nr == __NR_SCMP_ERROR) {
                log_warn("%s: unknown syscall \"%s\" skipped", path, name);
                return 0;
        }
        if (action == default_action)
                return 0; /* libseccomp refuses rules that repeat the default */
        r = seccomp_rule_add_array(ctx, action, nr, ncmp, cmps);
        if (r == -EACCES || r == -EDOM)
                return 0; /* not applicable on one of the architectures (e.g. a pseudo-syscall) */
        if (r < 0)
                return error_set(err, -r, "%s: adding a rule for \"%s\"", path, name);
        return 0;
}

int seccomp_compile(json_t *j, SeccompFilter **ret, Error **err)
{
        _cleanup_free_ char *dflt = NULL, *listener = NULL;
        _cleanup_strv_ char **archs = NULL;
        uint32_t default_action, default_errno = EPERM;
        json_t *syscalls = NULL, *rule;
        scmp_filter_ctx ctx = NULL;
        SeccompFilter *f = NULL;
        size_t i;
        int r, has_errno;

        if (jx_string(j, "linux.seccomp", "defaultAction", true, &dflt, err) < 0)
                return -EINVAL;
        has_errno = jx_uint32(j, "linux.seccomp", "defaultErrnoRet", false, &default_errno, err);
        if (has_errno < 0)
                return -EINVAL;
        if (parse_action(dflt, default_errno, has_errno > 0, &default_action) < 0) {
                if (STREQ(dflt, "SCMP_ACT_NOTIFY"))
                        return error_setx(err, ENOTSUP, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported");
                return error_setx(err, EINVAL, "linux.seccomp.defaultAction: unknown action \"%s\"", dflt);
        }
        if (jx_string(j, "linux.seccomp", "listenerPath", false, &listener, err) < 0)
                return -EINVAL;
        if (listener && *listener)
                return error_setx(err, ENOTSUP, "linux.seccomp.listenerPath: seccomp notification is not supported");
        f = xcalloc(1, sizeof(*f));
        if (parse_flags(j, &f->flags, err) < 0)
                goto fail;
        ctx = seccomp_init(default_action);
        if (!ctx) {
                error_setx(err, ENOMEM, "linux.seccomp: seccomp_init failed");
                goto fail;
        }
        /* We load the program ourselves: libseccomp must not set no_new_privs behind our back. */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (jx_strv(j, "linux.seccomp", "architectures", false, &archs, err) < 0)
                goto fail;
        for (i = 0; archs && archs[i]; i++) {
                uint32_t a;
                if (parse_arch(archs[i], &a) < 0) {
                        error_setx(err, EINVAL, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
                                   archs[i]);
                        goto fail;
                }
                r = seccomp_arch_add(ctx, a);
                if (r < 0 && r != -EEXIST) {
                        error_set(err, -r, "linux.seccomp.architectures[%zu]: adding %s", i, archs[i]);
                        goto fail;
                }
        }
        if (jx_array(j, "linux.seccomp", "syscalls", false, &syscalls, err) < 0)
                goto fail;
        if (syscalls && json_array_size(syscalls) > MAX_RULES) {
                error_setx(err, EINVAL, "linux.seccomp.syscalls: more than %d entries", MAX_RULES);
                goto fail;
        }
        json_array_foreach (syscalls, i, rule) {
                _cleanup_free_ char *path = jx_path_index("linux.seccomp.syscalls", i), *act = NULL;
                _cleanup_strv_ char **names = NULL;
                struct scmp_arg_cmp cmps[6];
                uint32_t action, eret = EPERM;
                json_t *args = NULL, *arg;
                size_t k;
                int he;

                if (!json_is_object(rule)) {
                        error_setx(err, EINVAL, "%s: expected an object", path);
                        goto fail;
                }
                if (jx_strv(rule, path, "names", true, &names, err) < 0 ||
                    jx_string(rule, path, "action", true, &act, err) < 0)
                        goto fail;
                he = jx_uint32(rule, path, "errnoRet", false, &eret, err);
                if (he < 0)
                        goto fail;
                if (parse_action(act, eret, he > 0, &action) < 0) {
                        error_setx(err, STREQ(act, "SCMP_ACT_NOTIFY") ? ENOTSUP : EINVAL,
                                   "%s.action: %s \"%s\"", path,
                                   STREQ(act, "SCMP_ACT_NOTIFY") ? "not supported:" : "unknown action", act);
                        goto fail;
                }
                if (jx_array(rule, path, "args", false, &args, err) < 0)
                        goto fail;
                if (args && json_array_size(args) > 6) {
                        error_setx(err, EINVAL, "%s.args: more than 6 arguments", path);
                        goto fail;
                }
                json_array_foreach (args, k, arg) {
                        _cleanup_free_ char *ap = xasprintf("%s.args[%zu]", path, k), *op = NULL;
                        uint32_t index = 0;
                        uint64_t value = 0, value2 = 0;
                        enum scmp_compare cop;
                        if (jx_uint32(arg, ap, "index", true, &index, err) < 0 ||
                            jx_uint64(arg, ap, "value", true, &value, err) < 0 ||
                            jx_uint64(arg, ap, "valueTwo", false, &value2, err) < 0 ||
                            jx_string(arg, ap, "op", true, &op, err) < 0)
                                goto fail;
                        if (index > 5) {
                                error_setx(err, EINVAL, "%s.index: %u is not 0..5", ap, index);
                                goto fail;
                        }
                        if (parse_op(op, &cop) < 0) {
                                error_setx(err, EINVAL, "%s.op: unknown operator \"%s\"", ap, op);
                                goto fail;
                        }
                        cmps[k] = (struct scmp_arg_cmp){ .arg = index, .op = cop, .datum_a = value, .datum_b = value2 };
                }
                for (size_t n = 0; names[n]; n++)
                        if (add_rule(ctx, action, default_action, names[n], cmps, (unsigned)json_array_size(args),
                                     path, err) < 0)
                                goto fail;
        }
        {
                /* Export the BPF through a memfd, then keep it in memory. */
                int mfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
                char *bpf = NULL;
                size_t len = 0;
                if (mfd < 0) {
                        error_set(err, errno, "linux.seccomp: memfd_create");
                        goto fail;
                }
                r = seccomp_export_bpf(ctx, mfd);
                if (r == 0 && lseek(mfd, 0, SEEK_SET) == 0)
                        r = read_all_fd(mfd, 1 << 20, &bpf, &len);
                close(mfd);
                if (r < 0) {
                        error_set(err, -r, "linux.seccomp: exporting the filter");
                        goto fail;
                }
                f->prog.len = (unsigned short)(len / sizeof(struct sock_filter));
                f->prog.filter = (struct sock_filter *)bpf;
        }
        seccomp_release(ctx);
        *ret = f;
        return 0;
fail:
        if (ctx)
                seccomp_release(ctx);
        seccomp_filter_free(f);
        return -EINVAL;
}

int seccomp_install(const SeccompFilter *f, Error **err)
{
        if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &f->prog) < 0)
                return error_set(err, errno, "linux.seccomp: loading the filter%s",
                                 errno == EACCES ? " (needs noNewPrivileges or CAP_SYS_ADMIN)" : "");
        return 0;
}

SeccompFilter *seccomp_filter_free(SeccompFilter *f)
{
        if (!f)
                return NULL;
        free(f->prog.filter);
        free(f);
        return NULL;
}
