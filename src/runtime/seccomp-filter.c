/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "caps.h"
#include "state.h"
#include "sync.h"
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
        else if (STREQ(name, "SCMP_ACT_NOTIFY"))
                *ret = SCMP_ACT_NOTIFY;
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

/* Logs a warning and keeps it with the filter, so a cached filter can say it again. */
static void warn(char ***warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(char ***warnings, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m)
                return;
        log_warn("%s", m);
        if (strv_length(*warnings) < 64)
                strv_push(warnings, m);
}

/* Adds one syscall rule; -EEXIST-like conflicts from libseccomp are reported with the name. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, uint32_t default_action, const char *name,
                    const struct scmp_arg_cmp *cmps, unsigned ncmp, const char *path, char ***warnings, Error **err)
{
        int nr = seccomp_syscall_resolve_name(name);
        int r;

        if (nr == __NR_SCMP_ERROR) {
                warn(warnings, "%s: unknown syscall \"%s\" skipped", path, name);
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

/* Go's name for this machine's architecture, as Docker profiles write it in includes/excludes. */
static const char *native_go_arch(void)
{
        switch (seccomp_arch_native()) {
        case SCMP_ARCH_X86_64: return "amd64";
        case SCMP_ARCH_X86: return "386";
        case SCMP_ARCH_X32: return "x32";
        case SCMP_ARCH_AARCH64: return "arm64";
        case SCMP_ARCH_ARM: return "arm";
        case SCMP_ARCH_PPC64LE: return "ppc64le";
        case SCMP_ARCH_PPC64: return "ppc64";
        case SCMP_ARCH_S390X: return "s390x";
        case SCMP_ARCH_S390: return "s390";
        case SCMP_ARCH_RISCV64: return "riscv64";
        case SCMP_ARCH_MIPS64: return "mips64";
        case SCMP_ARCH_MIPSEL64: return "mips64le";
        default: return "";
        }
}

static const char *native_scmp_arch(void)
{
        switch (seccomp_arch_native()) {
        case SCMP_ARCH_X86_64: return "SCMP_ARCH_X86_64";
        case SCMP_ARCH_X86: return "SCMP_ARCH_X86";
        case SCMP_ARCH_AARCH64: return "SCMP_ARCH_AARCH64";
        case SCMP_ARCH_ARM: return "SCMP_ARCH_ARM";
        case SCMP_ARCH_PPC64LE: return "SCMP_ARCH_PPC64LE";
        case SCMP_ARCH_S390X: return "SCMP_ARCH_S390X";
        case SCMP_ARCH_RISCV64: return "SCMP_ARCH_RISCV64";
        default: return "";
        }
}

static void host_kernel(unsigned *major, unsigned *minor)
{
        struct utsname u;
        *major = *minor = 0;
        if (uname(&u) == 0)
                (void)sscanf(u.release, "%u.%u", major, minor);
}

/*
 * Docker's includes/excludes: an entry applies when every `includes` condition holds (all its caps
 * in the bounding set, this arch among its arches, the kernel at least minKernel) and no `excludes`
 * condition does (any of its caps held, this arch listed, the kernel at least minKernel).
 */
static int condition(json_t *c, const char *path, const SeccompContext *ctx, bool includes, bool *ret, char ***warnings,
                     Error **err)
{
        _cleanup_strv_ char **caps = NULL, **arches = NULL;
        _cleanup_free_ char *mk = NULL;
        int hc, ha, hk;
        bool any = false, all = true;

        if (!c)
                return 0;
        if (!json_is_object(c))
                return error_setx(err, EINVAL, "%s: expected an object", path);
        if ((hc = jx_strv(c, path, "caps", false, &caps, err)) < 0 || (ha = jx_strv(c, path, "arches", false, &arches, err)) < 0 ||
            (hk = jx_string(c, path, "minKernel", false, &mk, err)) < 0)
                return -EINVAL;
        for (size_t i = 0; caps && caps[i]; i++) {
                _cleanup_free_ char *full = str_has_prefix(caps[i], "CAP_") ? xstrdup(caps[i]) : xasprintf("CAP_%s", caps[i]);
                int cap = caps_from_name(full);
                bool held;
                if (cap < 0) {
                        /* a capability this build does not know is one the container cannot hold */
                        warn(warnings, "%s.caps[%zu]: unknown capability \"%s\" taken as not held", path, i, caps[i]);
                        held = false;
                } else
                        held = cap < 64 && (ctx->bounding >> cap) & 1;
                any |= held;
                all &= held;
        }
        if (hc && caps && caps[0])
                *ret &= includes ? all : !any;
        if (ha && arches && arches[0]) {
                bool listed = false;
                for (size_t i = 0; arches[i]; i++)
                        listed |= STREQ(arches[i], native_go_arch());
                *ret &= includes ? listed : !listed;
        }
        if (hk && *mk) {
                unsigned maj = 0, min = 0, kmaj = ctx->kernel_major, kmin = ctx->kernel_minor;
                char tail = 0;
                if (sscanf(mk, "%u.%u%c", &maj, &min, &tail) != 2)
                        return error_setx(err, EINVAL, "%s.minKernel: \"%s\" is not a kernel version X.Y", path, mk);
                bool newer = kmaj > maj || (kmaj == maj && kmin >= min);
                *ret &= includes ? newer : !newer;
        }
        return 0;
}

/* Where the names the profile mentions are kept, for the ENOSYS stub. */
typedef struct NameSet {
        char **names;
        size_t n;
        /* per name: the first rule without arguments that applies (-1: none yet), and its action */
        long *uncond_entry;
        uint32_t *uncond_action;
} NameSet;

/*
 * The stub in front of libseccomp's program (classic BPF): for each architecture of the filter, a
 * syscall number above the highest the profile names returns ENOSYS; anything else jumps to the
 * libseccomp program, which checks the architecture again.  x86_64 and x32 share AUDIT_ARCH_X86_64
 * and are told apart by the x32 bit of the number.
 */
static int build_enosys_stub(const uint32_t *arches, size_t narch, const NameSet *ns, struct sock_filter **ret,
                             size_t *ret_len)
{
        struct sock_filter *f = xcalloc(8 * narch + 4, sizeof(*f));
        int64_t max64 = -1, max32x = -1;
        bool have_x32 = false, have_x86_64 = false;
        size_t k = 0;
        size_t enosys_at, end_at;
        struct { size_t at; bool to_enosys; } fix[64];
        size_t nfix = 0;

        for (size_t a = 0; a < narch; a++) {
                if (arches[a] == SCMP_ARCH_X32)
                        have_x32 = true;
                if (arches[a] == SCMP_ARCH_X86_64)
                        have_x86_64 = true;
        }
        for (size_t i = 0; i < ns->n; i++) {
                int nr;
                if (have_x86_64 && (nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, ns->names[i])) >= 0 && nr > max64)
                        max64 = nr;
                if (have_x32 && (nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, ns->names[i])) >= 0 &&
                    (nr & ~0x40000000) > max32x)
                        max32x = nr & ~0x40000000;
        }
        f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        for (size_t a = 0; a < narch; a++) {
                uint32_t arch = arches[a];
                int64_t max = -1;
                if (arch == SCMP_ARCH_X32)
                        continue; /* handled with x86_64 */
                if (arch == SCMP_ARCH_X86_64)
                        max = max64;
                else
                        for (size_t i = 0; i < ns->n; i++) {
                                int nr = seccomp_syscall_resolve_name_arch(arch, ns->names[i]);
                                if (nr >= 0 && nr > max)
                                        max = nr;
                        }
                if (max < 0 || nfix + 3 > ELEMENTSOF(fix))
                        continue;
                /* if (arch == A) { load nr; [x32 split]; if (nr > max) ENOSYS; } goto end */
                size_t skip_at = k;
                f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 0);
                f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
                if (arch == SCMP_ARCH_X86_64) {
                        /* x32 numbers carry bit 30: compare them with the x32 maximum (or leave them
                         * to libseccomp, which refuses x32 when the filter does not include it) */
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 1, 0);
                        fix[nfix].at = k;
                        fix[nfix++].to_enosys = true;
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, 0, 0);
                        if (have_x32 && max32x >= 0) {
                                fix[nfix].at = k;
                                fix[nfix++].to_enosys = true;
                                f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K,
                                                                      (uint32_t)max32x | 0x40000000, 0, 0);
                        }
                } else {
                        fix[nfix].at = k;
                        fix[nfix++].to_enosys = true;
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, 0, 0);
                }
                fix[nfix].at = k;
                fix[nfix++].to_enosys = false;
                f[k++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA | BPF_K, 0);
                /* not this arch: on to the next test */
                f[skip_at].jf = (uint8_t)(k - skip_at - 1);
        }
        /* no arch matched, or below the maximum: on to libseccomp's program */
        fix[nfix].at = k;
        fix[nfix++].to_enosys = false;
        f[k++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA | BPF_K, 0);
        enosys_at = k;
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
        end_at = k;
        for (size_t i = 0; i < nfix; i++) {
                struct sock_filter *j = &f[fix[i].at];
                size_t target = fix[i].to_enosys ? enosys_at : end_at;
                if (BPF_OP(j->code) == BPF_JA)
                        j->k = (uint32_t)(target - fix[i].at - 1);
                else
                        j->jt = (uint8_t)(target - fix[i].at - 1);
        }
        *ret = f;
        *ret_len = k;
        return 0;
}

static size_t nameset_add(NameSet *ns, const char *name)
{
        for (size_t i = 0; i < ns->n; i++)
                if (STREQ(ns->names[i], name))
                        return i;
        ns->names = xrealloc(ns->names, (ns->n + 1) * sizeof(char *));
        ns->uncond_entry = xrealloc(ns->uncond_entry, (ns->n + 1) * sizeof(long));
        ns->uncond_action = xrealloc(ns->uncond_action, (ns->n + 1) * sizeof(uint32_t));
        ns->names[ns->n] = xstrdup(name);
        ns->uncond_entry[ns->n] = -1;
        ns->uncond_action[ns->n] = 0;
        return ns->n++;
}

static void nameset_free(NameSet *ns)
{
        for (size_t i = 0; i < ns->n; i++)
                free(ns->names[i]);
        free(ns->names);
        free(ns->uncond_entry);
        free(ns->uncond_action);
}

static int add_arch(scmp_filter_ctx ctx, const char *name, const char *path, uint32_t *arches, size_t *narch, Error **err)
{
        uint32_t a;
        int r;

        if (parse_arch(name, &a) < 0)
                return error_setx(err, EINVAL, "%s: unknown architecture \"%s\"", path, name);
        r = seccomp_arch_add(ctx, a);
        if (r < 0 && r != -EEXIST)
                return error_set(err, -r, "%s: adding %s", path, name);
        for (size_t i = 0; i < *narch; i++)
                if (arches[i] == a)
                        return 0;
        if (*narch < 32)
                arches[(*narch)++] = a;
        return 0;
}

/* One entry of syscalls[]: its conditions, action, arguments, then a rule per name. */
static int add_entry(scmp_filter_ctx ctx, json_t *rule, const char *path, const SeccompContext *sc, uint32_t default_action,
                     long entry, bool has_listener, bool *notify, NameSet *ns, char ***warnings, Error **err)
{
        _cleanup_free_ char *act = NULL, *name = NULL, *ip = jx_path(path, "includes"), *ep = jx_path(path, "excludes");
        _cleanup_strv_ char **names = NULL;
        struct scmp_arg_cmp cmps[6];
        uint32_t action, eret = EPERM;
        json_t *args = NULL, *arg;
        bool applies = true;
        size_t k;
        int he, hn, hs;

        if (!json_is_object(rule))
                return error_setx(err, EINVAL, "%s: expected an object", path);
        if ((hn = jx_strv(rule, path, "names", false, &names, err)) < 0 || (hs = jx_string(rule, path, "name", false, &name, err)) < 0 ||
            jx_string(rule, path, "action", true, &act, err) < 0)
                return -EINVAL;
        if (!hn && !hs)
                return error_setx(err, EINVAL, "%s: needs \"names\" (or Docker's legacy \"name\")", path);
        if (hs)
                strv_push(&names, name);
        he = jx_uint32(rule, path, "errnoRet", false, &eret, err);
        if (he < 0)
                return -EINVAL;
        if (he && eret > 4095)
                return error_setx(err, EINVAL, "%s.errnoRet: %u is not an errno (0..4095)", path, eret);
        if (parse_action(act, eret, he > 0, &action) < 0)
                return error_setx(err, EINVAL, "%s.action: unknown action \"%s\"", path, act);
        if (action == SCMP_ACT_NOTIFY) {
                if (!has_listener)
                        return error_setx(err, EINVAL, "%s.action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", path);
                /* The listener gets its fd by sendmsg right after the filter is loaded: a notified
                 * sendmsg would wait for a listener that cannot have it yet. */
                for (size_t n = 0; names && names[n]; n++)
                        if (STREQ(names[n], "sendmsg"))
                                return error_setx(err, EINVAL,
                                                  "%s: SCMP_ACT_NOTIFY on sendmsg would block the runtime before the listener "
                                                  "has the notification fd",
                                                  path);
        }
        if (condition(json_object_get(rule, "includes"), ip, sc, true, &applies, warnings, err) < 0 ||
            condition(json_object_get(rule, "excludes"), ep, sc, false, &applies, warnings, err) < 0)
                return -EINVAL;
        if (jx_array(rule, path, "args", false, &args, err) < 0)
                return -EINVAL;
        if (args && json_array_size(args) > 6)
                return error_setx(err, EINVAL, "%s.args: more than 6 arguments", path);
        json_array_foreach (args, k, arg) {
                _cleanup_free_ char *ap = xasprintf("%s.args[%zu]", path, k), *op = NULL;
                uint32_t index = 0;
                uint64_t value = 0, value2 = 0;
                enum scmp_compare cop;
                if (!json_is_object(arg))
                        return error_setx(err, EINVAL, "%s: expected an object", ap);
                if (jx_uint32(arg, ap, "index", true, &index, err) < 0 || jx_uint64(arg, ap, "value", true, &value, err) < 0 ||
                    jx_uint64(arg, ap, "valueTwo", false, &value2, err) < 0 || jx_string(arg, ap, "op", true, &op, err) < 0)
                        return -EINVAL;
                if (index > 5)
                        return error_setx(err, EINVAL, "%s.index: %u is not 0..5", ap, index);
                if (parse_op(op, &cop) < 0)
                        return error_setx(err, EINVAL, "%s.op: unknown operator \"%s\"", ap, op);
                cmps[k] = (struct scmp_arg_cmp){ .arg = index, .op = cop, .datum_a = value, .datum_b = value2 };
        }
        for (size_t n = 0; names && names[n]; n++) {
                if (seccomp_syscall_resolve_name(names[n]) != __NR_SCMP_ERROR) {
                        size_t at = nameset_add(ns, names[n]);
                        /* libseccomp keeps the first unconditional rule of a syscall and drops a later one
                         * with another action without a word (so does Docker): say so. */
                        if (applies && json_array_size(args) == 0) {
                                if (ns->uncond_entry[at] < 0) {
                                        ns->uncond_entry[at] = entry;
                                        ns->uncond_action[at] = action;
                                } else if (ns->uncond_action[at] != action)
                                        warn(warnings,
                                             "%s: \"%s\" already has a rule without arguments in linux.seccomp.syscalls[%ld]; "
                                             "this one is ignored (the first rule of a syscall wins)",
                                             path, names[n], ns->uncond_entry[at]);
                        }
                }
                if (applies && add_rule(ctx, action, default_action, names[n], cmps, (unsigned)json_array_size(args), path,
                                        warnings, err) < 0)
                        return -EINVAL;
        }
        if (applies && action == SCMP_ACT_NOTIFY)
                *notify = true;
        return 0;
}

int seccomp_compile(json_t *j, const SeccompContext *c, SeccompFilter **ret, Error **err)
{
        _cleanup_free_ char *dflt = NULL, *listener = NULL, *metadata = NULL;
        _cleanup_strv_ char **archs = NULL;
        SeccompContext sc = c ? *c : (SeccompContext){ 0 };
        uint32_t default_action, default_errno = EPERM, arches[32];
        size_t narch = 0;
        json_t *syscalls = NULL, *rule, *archmap = NULL, *m;
        scmp_filter_ctx ctx = NULL;
        SeccompFilter *f = NULL;
        NameSet ns = { NULL, 0 };
        bool notify = false;
        size_t i;
        int r, has_errno;

        if (!json_is_object(j))
                return error_setx(err, EINVAL, "linux.seccomp: expected an object");
        if (sc.kernel_major == 0 && sc.kernel_minor == 0)
                host_kernel(&sc.kernel_major, &sc.kernel_minor);
        if (jx_string(j, "linux.seccomp", "defaultAction", true, &dflt, err) < 0)
                return -EINVAL;
        has_errno = jx_uint32(j, "linux.seccomp", "defaultErrnoRet", false, &default_errno, err);
        if (has_errno < 0)
                return -EINVAL;
        if (has_errno && default_errno > 4095)
                return error_setx(err, EINVAL, "linux.seccomp.defaultErrnoRet: %u is not an errno (0..4095)", default_errno);
        if (parse_action(dflt, default_errno, has_errno > 0, &default_action) < 0)
                return error_setx(err, EINVAL, "linux.seccomp.defaultAction: unknown action \"%s\"", dflt);
        /* Every syscall the runtime makes after loading would wait for the listener. */
        if (default_action == SCMP_ACT_NOTIFY)
                return error_setx(err, EINVAL, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action "
                                               "(name the syscalls to notify in syscalls[])");
        if (jx_string(j, "linux.seccomp", "listenerPath", false, &listener, err) < 0 ||
            jx_string(j, "linux.seccomp", "listenerMetadata", false, &metadata, err) < 0)
                return -EINVAL;
        if (listener && *listener && listener[0] != '/')
                return error_setx(err, EINVAL, "linux.seccomp.listenerPath: \"%s\" is not an absolute path", listener);
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
        /* A binary tree of syscall numbers rather than a list: a few comparisons per syscall, not
         * hundreds (libseccomp >= 2.5; older ones keep the list). */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        arches[narch++] = seccomp_arch_native();
        if (jx_strv(j, "linux.seccomp", "architectures", false, &archs, err) < 0 ||
            jx_array(j, "linux.seccomp", "archMap", false, &archmap, err) < 0)
                goto fail;
        if (archs && archs[0] && json_array_size(archmap)) {
                error_setx(err, EINVAL, "linux.seccomp: give \"architectures\" or \"archMap\", not both");
                goto fail;
        }
        for (i = 0; archs && archs[i]; i++) {
                _cleanup_free_ char *p = jx_path_index("linux.seccomp.architectures", i);
                if (add_arch(ctx, archs[i], p, arches, &narch, err) < 0)
                        goto fail;
        }
        /* Docker's archMap: this machine's architecture and its sub-architectures (x86_64: x86, x32). */
        json_array_foreach (archmap, i, m) {
                _cleanup_free_ char *p = jx_path_index("linux.seccomp.archMap", i), *arch = NULL;
                _cleanup_strv_ char **subs = NULL;
                if (!json_is_object(m)) {
                        error_setx(err, EINVAL, "%s: expected an object", p);
                        goto fail;
                }
                if (jx_string(m, p, "architecture", true, &arch, err) < 0 || jx_strv(m, p, "subArchitectures", false, &subs, err) < 0)
                        goto fail;
                if (!STREQ(arch, native_scmp_arch()))
                        continue;
                _cleanup_free_ char *ap = jx_path(p, "architecture");
                if (add_arch(ctx, arch, ap, arches, &narch, err) < 0)
                        goto fail;
                for (size_t s = 0; subs && subs[s]; s++) {
                        _cleanup_free_ char *sp = xasprintf("%s.subArchitectures[%zu]", p, s);
                        if (add_arch(ctx, subs[s], sp, arches, &narch, err) < 0)
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
                _cleanup_free_ char *path = jx_path_index("linux.seccomp.syscalls", i);
                if (add_entry(ctx, rule, path, &sc, default_action, (long)i, listener && *listener, &notify, &ns, &f->warnings,
                              err) < 0)
                        goto fail;
        }
        {
                /* Export the BPF through a memfd, then keep it in memory, behind the ENOSYS stub. */
                int mfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
                _cleanup_free_ char *bpf = NULL;
                struct sock_filter *stub = NULL;
                size_t len = 0, nstub = 0, nprog;
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
                nprog = len / sizeof(struct sock_filter);
                if (default_action != SCMP_ACT_ALLOW && default_action != SCMP_ACT_LOG && ns.n > 0)
                        build_enosys_stub(arches, narch, &ns, &stub, &nstub);
                if (nprog + nstub > BPF_MAXINSNS) {
                        free(stub);
                        error_setx(err, E2BIG, "linux.seccomp: the filter has %zu instructions, more than the kernel's %d",
                                   nprog + nstub, BPF_MAXINSNS);
                        goto fail;
                }
                f->prog.filter = xmalloc((nprog + nstub) * sizeof(struct sock_filter) + 1);
                if (nstub)
                        memcpy(f->prog.filter, stub, nstub * sizeof(struct sock_filter));
                memcpy(f->prog.filter + nstub, bpf, nprog * sizeof(struct sock_filter));
                f->prog.len = (unsigned short)(nprog + nstub);
                free(stub);
        }
        seccomp_release(ctx);
        nameset_free(&ns);
        if (notify) {
                f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
                f->listener_path = TAKE_PTR(listener);
                f->listener_metadata = TAKE_PTR(metadata);
        }
        *ret = f;
        return 0;
fail:
        if (ctx)
                seccomp_release(ctx);
        nameset_free(&ns);
        seccomp_filter_free(f);
        return -EINVAL;
}

/*
 * Docker's format into the plain OCI form, for runtimes that read only that (runc, crun): archMap
 * becomes `architectures` (this machine's and its sub-architectures), includes/excludes are decided
 * here for the container's capabilities, arches and kernel, and the legacy `name` joins `names`.
 */
int seccomp_profile_resolve(json_t *j, const SeccompContext *c, json_t **ret, Error **err)
{
        static const char *const keep[] = { "defaultAction", "defaultErrnoRet", "flags", "listenerPath", "listenerMetadata" };
        SeccompContext sc = c ? *c : (SeccompContext){ 0 };
        json_t *out, *archs, *syscalls, *rule, *m;
        size_t i;

        if (!json_is_object(j))
                return error_setx(err, EINVAL, "seccomp profile: expected an object");
        if (sc.kernel_major == 0 && sc.kernel_minor == 0)
                host_kernel(&sc.kernel_major, &sc.kernel_minor);
        out = json_object();
        for (i = 0; i < ELEMENTSOF(keep); i++)
                if (json_object_get(j, keep[i]))
                        json_object_set(out, keep[i], json_object_get(j, keep[i]));
        archs = json_array();
        json_array_foreach (json_object_get(j, "architectures"), i, m)
                json_array_append(archs, m);
        json_array_foreach (json_object_get(j, "archMap"), i, m) {
                const char *a = json_string_value(json_object_get(m, "architecture"));
                size_t k;
                json_t *sub;
                if (!a || !STREQ(a, native_scmp_arch()))
                        continue;
                json_array_append_new(archs, json_string(a));
                json_array_foreach (json_object_get(m, "subArchitectures"), k, sub)
                        json_array_append(archs, sub);
        }
        json_object_set_new(out, "architectures", archs);
        syscalls = json_array();
        json_array_foreach (json_object_get(j, "syscalls"), i, rule) {
                _cleanup_free_ char *path = jx_path_index("syscalls", i), *ip = NULL, *ep = NULL;
                bool applies = true;
                json_t *r, *names;
                const char *key;
                json_t *v;
                if (!json_is_object(rule)) {
                        json_decref(syscalls);
                        json_decref(out);
                        return error_setx(err, EINVAL, "%s: expected an object", path);
                }
                ip = jx_path(path, "includes");
                ep = jx_path(path, "excludes");
                _cleanup_strv_ char **warnings = NULL;
                if (condition(json_object_get(rule, "includes"), ip, &sc, true, &applies, &warnings, err) < 0 ||
                    condition(json_object_get(rule, "excludes"), ep, &sc, false, &applies, &warnings, err) < 0) {
                        json_decref(syscalls);
                        json_decref(out);
                        return -EINVAL;
                }
                if (!applies)
                        continue;
                r = json_object();
                names = json_array();
                {
                        size_t k;
                        json_array_foreach (json_object_get(rule, "names"), k, v)
                                json_array_append(names, v);
                }
                if (json_is_string(json_object_get(rule, "name")))
                        json_array_append(names, json_object_get(rule, "name"));
                json_object_set_new(r, "names", names);
                json_object_foreach (rule, key, v)
                        if (!STREQ(key, "names") && !STREQ(key, "name") && !STREQ(key, "comment") &&
                            !STREQ(key, "includes") && !STREQ(key, "excludes"))
                                json_object_set(r, key, v);
                json_array_append_new(syscalls, r);
        }
        json_object_set_new(out, "syscalls", syscalls);
        *ret = out;
        return 0;
}

/* ------------------------------------------------------------------ the cache of compiled filters */

/* Bump when the compiled output for the same input changes (the stub, libseccomp attributes...). */
#define CACHE_FORMAT "stockade-seccomp-cache 1"
#define CACHE_MAGIC  0x46424b53u /* "SKBF" */
#define CACHE_MAX_ENTRIES 256

int seccomp_cache_open(int root_fd)
{
        struct stat st;
        int fd;

        if (root_fd < 0 || (mkdirat(root_fd, ".seccomp-cache", 0700) < 0 && errno != EEXIST))
                return -1;
        fd = openat(root_fd, ".seccomp-cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -1;
        /* Only a directory of ours, that nobody else can write, may hand filters to the kernel. */
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0022)) {
                close(fd);
                return -1;
        }
        return fd;
}

/* What the compiled filter depends on, in full: compared byte for byte on every hit. */
static char *cache_key(json_t *j, const SeccompContext *c)
{
        const struct scmp_version *v = seccomp_version();
        _cleanup_free_ char *profile = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        struct utsname u;

        if (!profile || uname(&u) < 0)
                return NULL;
        return xasprintf("%s\nlibseccomp %u.%u.%u\nkernel %s %s\narch %u\nbounding %016" PRIx64 "\nkernel-version %u.%u\n%s",
                         CACHE_FORMAT, v->major, v->minor, v->micro, u.release, u.machine, seccomp_arch_native(),
                         c->bounding, c->kernel_major, c->kernel_minor, profile);
}

static uint64_t fnv1a(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return h;
}

typedef struct CacheHeader {
        uint32_t magic, key_len, flags, n_insns, n_warnings, warnings_len;
} CacheHeader;

static SeccompFilter *cache_load(int dirfd, const char *name, const char *key)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *buf = NULL;
        SeccompFilter *f;
        CacheHeader h;
        struct stat st;
        size_t len = 0, klen = strlen(key), off;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022) ||
            read_all_fd(fd, 4 << 20, &buf, &len) < 0 || len < sizeof(h))
                return NULL;
        memcpy(&h, buf, sizeof(h));
        if (h.magic != CACHE_MAGIC || h.key_len != klen || h.n_insns == 0 || h.n_insns > BPF_MAXINSNS ||
            h.warnings_len > 65536 || len != sizeof(h) + klen + (size_t)h.n_insns * sizeof(struct sock_filter) + h.warnings_len ||
            memcmp(buf + sizeof(h), key, klen) != 0)
                return NULL;
        off = sizeof(h) + klen;
        f = xcalloc(1, sizeof(*f));
        f->flags = h.flags;
        f->prog.len = (unsigned short)h.n_insns;
        f->prog.filter = xmalloc((size_t)h.n_insns * sizeof(struct sock_filter));
        memcpy(f->prog.filter, buf + off, (size_t)h.n_insns * sizeof(struct sock_filter));
        off += (size_t)h.n_insns * sizeof(struct sock_filter);
        /* the warnings, NUL-separated */
        for (size_t p = off; p < len && h.n_warnings > 0;) {
                size_t l = strnlen(buf + p, len - p);
                if (p + l >= len)
                        break;
                strv_push(&f->warnings, buf + p);
                p += l + 1;
        }
        return f;
}

static void cache_store(int dirfd, const char *name, const char *key, const SeccompFilter *f)
{
        size_t klen = strlen(key), wlen = 0, n = strv_length(f->warnings), len, off;
        _cleanup_free_ char *buf = NULL;
        DIR *d = NULL;
        CacheHeader h;
        int dfd;

        for (size_t i = 0; i < n; i++)
                wlen += strlen(f->warnings[i]) + 1;
        /* A bounded cache: past CACHE_MAX_ENTRIES files, start again from empty. */
        dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0 && (d = fdopendir(dfd))) {
                struct dirent *de;
                size_t count = 0;
                while ((de = readdir(d)))
                        count += de->d_name[0] != '.';
                if (count >= CACHE_MAX_ENTRIES) {
                        rewinddir(d);
                        while ((de = readdir(d)))
                                if (de->d_name[0] != '.')
                                        (void)unlinkat(dirfd, de->d_name, 0);
                }
                closedir(d);
        } else if (dfd >= 0)
                close(dfd);
        h = (CacheHeader){ CACHE_MAGIC, (uint32_t)klen, f->flags, f->prog.len, (uint32_t)n, (uint32_t)wlen };
        len = sizeof(h) + klen + (size_t)f->prog.len * sizeof(struct sock_filter) + wlen;
        buf = xmalloc(len);
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + sizeof(h), key, klen);
        off = sizeof(h) + klen;
        memcpy(buf + off, f->prog.filter, (size_t)f->prog.len * sizeof(struct sock_filter));
        off += (size_t)f->prog.len * sizeof(struct sock_filter);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(f->warnings[i]) + 1;
                memcpy(buf + off, f->warnings[i], l);
                off += l;
        }
        /* atomic: a reader never sees half a filter (and checks the whole key anyway) */
        (void)write_file_atomic(dirfd, name, buf, len, 0600, false);
}

int seccomp_compile_cached(int cache_fd, json_t *j, const SeccompContext *c, SeccompFilter **ret, bool *ret_hit, Error **err)
{
        SeccompContext sc = c ? *c : (SeccompContext){ 0 };
        _cleanup_free_ char *key = NULL;
        char name[32];
        int r;

        if (ret_hit)
                *ret_hit = false;
        if (sc.kernel_major == 0 && sc.kernel_minor == 0)
                host_kernel(&sc.kernel_major, &sc.kernel_minor);
        if (cache_fd < 0 || !(key = cache_key(j, &sc)))
                return seccomp_compile(j, &sc, ret, err);
        snprintf(name, sizeof(name), "%016" PRIx64 ".bpf", fnv1a(key));
        SeccompFilter *f = cache_load(cache_fd, name, key);
        if (f && (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
                /* what the key's profile says; only the program comes from the file */
                if (jx_string(j, "linux.seccomp", "listenerPath", false, &f->listener_path, NULL) < 0 ||
                    jx_string(j, "linux.seccomp", "listenerMetadata", false, &f->listener_metadata, NULL) < 0 ||
                    !f->listener_path)
                        f = seccomp_filter_free(f);
        }
        if (f) {
                for (size_t i = 0; f->warnings && f->warnings[i]; i++)
                        log_warn("%s", f->warnings[i]);
                if (ret_hit)
                        *ret_hit = true;
                *ret = f;
                return 0;
        }
        r = seccomp_compile(j, &sc, ret, err);
        if (r == 0)
                cache_store(cache_fd, name, key, *ret);
        return r;
}

int seccomp_install(const SeccompFilter *f, Error **err)
{
        long r;

        if (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
                return error_setx(err, EINVAL, "linux.seccomp: a notifying filter needs its listener");
        r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &f->prog);
        if (r < 0)
                return error_set(err, errno, "linux.seccomp: loading the filter%s",
                                 errno == EACCES ? " (needs noNewPrivileges or CAP_SYS_ADMIN)" : "");
        return 0;
}

int seccomp_notify_connect(const SeccompFilter *f, int *ret_sock, Error **err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        *ret_sock = -1;
        if (!f || !(f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
                return 0;
        if (strlen(f->listener_path) >= sizeof(sa.sun_path))
                return error_setx(err, ENAMETOOLONG, "linux.seccomp.listenerPath: \"%s\" is too long for a socket path",
                                  f->listener_path);
        strcpy(sa.sun_path, f->listener_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(err, errno, "linux.seccomp.listenerPath: socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return error_set(err, e, "linux.seccomp.listenerPath: connecting to %s", f->listener_path);
        }
        *ret_sock = fd;
        return 0;
}

int seccomp_install_notify(const SeccompFilter *f, int sock, long pid, const char *state_json, Error **err)
{
        _cleanup_json_ json_t *msg = NULL, *state = NULL;
        _cleanup_free_ char *text = NULL;
        int lfd, r;

        if (!(f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
                return seccomp_install(f, err);
        if (sock < 0)
                return error_setx(err, ENOTCONN, "linux.seccomp.listenerPath: not connected to the listener");
        /* Built first: nothing but the load and sendmsg happens between the two. */
        if (state_json && jx_parse(state_json, strlen(state_json), "state", &state, NULL) < 0)
                state = NULL;
        msg = json_pack("{s:s,s:[s],s:I}", "ociVersion", OCI_VERSION, "fds", "seccompFd", "pid", (json_int_t)pid);
        if (f->listener_metadata && *f->listener_metadata)
                json_object_set_new(msg, "metadata", json_string(f->listener_metadata));
        json_object_set(msg, "state", state ? state : json_null());
        text = jx_dump(msg, false);
        lfd = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &f->prog);
        if (lfd < 0)
                return error_set(err, errno, "linux.seccomp: loading the filter%s",
                                 errno == EACCES ? " (needs noNewPrivileges or CAP_SYS_ADMIN)" : "");
        r = send_fd_named(sock, lfd, text);
        close(lfd);
        close(sock);
        if (r < 0)
                return error_set(err, -r, "linux.seccomp.listenerPath: sending the notification fd to %s", f->listener_path);
        return 0;
}

SeccompFilter *seccomp_filter_free(SeccompFilter *f)
{
        if (!f)
                return NULL;
        free(f->prog.filter);
        strv_free(f->warnings);
        free(f->listener_path);
        free(f->listener_metadata);
        free(f);
        return NULL;
}
