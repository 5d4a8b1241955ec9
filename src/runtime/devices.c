/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "json-util.h"
#include "util.h"

const DevRule default_device_rules[] = {
        { true, 'c', -1, -1, DEV_ACC_MKNOD },   /* mknod of any device: opening it is what is checked */
        { true, 'b', -1, -1, DEV_ACC_MKNOD },
        { true, 'c', 1, 3, DEV_ACC_ALL },       /* /dev/null */
        { true, 'c', 1, 5, DEV_ACC_ALL },       /* /dev/zero */
        { true, 'c', 1, 7, DEV_ACC_ALL },       /* /dev/full */
        { true, 'c', 1, 8, DEV_ACC_ALL },       /* /dev/random */
        { true, 'c', 1, 9, DEV_ACC_ALL },       /* /dev/urandom */
        { true, 'c', 5, 0, DEV_ACC_ALL },       /* /dev/tty */
        { true, 'c', 5, 1, DEV_ACC_ALL },       /* /dev/console */
        { true, 'c', 5, 2, DEV_ACC_ALL },       /* /dev/ptmx */
        { true, 'c', 136, -1, DEV_ACC_ALL },    /* /dev/pts/N */
};
const size_t n_default_device_rules = ELEMENTSOF(default_device_rules);

int devices_parse(json_t *arr, DevRule **ret, size_t *ret_n, Error **err)
{
        _cleanup_free_ DevRule *rules = NULL;
        size_t n = json_array_size(arr), i;
        json_t *e;

        if (arr && !json_is_array(arr))
                return error_setx(err, EINVAL, "linux.resources.devices: expected an array");
        rules = xmalloc((n ? n : 1) * sizeof(DevRule));
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *p = jx_path_index("linux.resources.devices", i), *type = NULL, *access = NULL;
                DevRule *r = &rules[i];
                *r = (DevRule){ .type = 'a', .major = -1, .minor = -1, .access = DEV_ACC_ALL };
                if (!json_is_object(e))
                        return error_setx(err, EINVAL, "%s: expected an object", p);
                if (jx_bool(e, p, "allow", true, &r->allow, err) < 0 || jx_string(e, p, "type", false, &type, err) < 0 ||
                    jx_int64(e, p, "major", false, &r->major, err) < 0 || jx_int64(e, p, "minor", false, &r->minor, err) < 0 ||
                    jx_string(e, p, "access", false, &access, err) < 0)
                        return -EINVAL;
                if (type && (strlen(type) != 1 || !strchr("abc", type[0])))
                        return error_setx(err, EINVAL, "%s.type: \"%s\" is not a, b or c", p, type);
                if (type)
                        r->type = type[0];
                if (r->major < -1 || r->major > INT32_MAX)
                        return error_setx(err, EINVAL, "%s.major: %" PRId64 " is not a device major number", p, r->major);
                if (r->minor < -1 || r->minor > INT32_MAX)
                        return error_setx(err, EINVAL, "%s.minor: %" PRId64 " is not a device minor number", p, r->minor);
                if (access && *access) {
                        if (strlen(access) > 3 || strspn(access, "rwm") != strlen(access))
                                return error_setx(err, EINVAL, "%s.access: \"%s\" is not a subset of rwm", p, access);
                        r->access = (strchr(access, 'r') ? DEV_ACC_READ : 0) | (strchr(access, 'w') ? DEV_ACC_WRITE : 0) |
                                    (strchr(access, 'm') ? DEV_ACC_MKNOD : 0);
                }
        }
        *ret = TAKE_PTR(rules);
        *ret_n = n;
        return 0;
}

void devices_rule_v1(const DevRule *r, char *buf, size_t size)
{
        char majs[24] = "*", mins[24] = "*", acc[4];
        size_t k = 0;

        if (r->type == 'a') {
                /* v1 cannot say "a" with an access subset; the whole-device rule is what it can. */
                snprintf(buf, size, "a");
                return;
        }
        if (r->major >= 0)
                snprintf(majs, sizeof(majs), "%" PRId64, r->major);
        if (r->minor >= 0)
                snprintf(mins, sizeof(mins), "%" PRId64, r->minor);
        if (r->access & DEV_ACC_READ)
                acc[k++] = 'r';
        if (r->access & DEV_ACC_WRITE)
                acc[k++] = 'w';
        if (r->access & DEV_ACC_MKNOD)
                acc[k++] = 'm';
        acc[k] = '\0';
        snprintf(buf, size, "%c %s:%s %s", r->type, majs, mins, acc);
}

/* ------------------------------------------------------------------ the program */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

#define LDX_W(dst, off)        insn(BPF_LDX | BPF_W | BPF_MEM, dst, 1, off, 0)
#define AND32_K(dst, imm)      insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH32_K(dst, imm)      insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define MOV64_X(dst, src)      insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, imm)      insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm, off)   insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JEQ_K(dst, imm, off)   insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
#define EXIT()                 insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define MAX_INSNS 4096

/* Emits one rule's block: jumps that skip the rest of the block when it does not match, then the verdict. */
static void emit_rule(const DevRule *r, struct bpf_insn *out, size_t *n)
{
        struct bpf_insn b[12];
        size_t k = 0, jumps[6], nj = 0;

        /* r2 = device type, r3 = access asked for, r4 = major, r5 = minor (see the prologue) */
        if (r->type != 'a') {
                jumps[nj++] = k;
                b[k++] = JNE_K(2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
        }
        if (r->access != DEV_ACC_ALL) {
                b[k++] = MOV64_X(1, 3);
                if (r->allow) {
                        /* an allow rule covers a request only when it has every access bit asked for */
                        b[k++] = AND32_K(1, (int32_t)(~r->access & DEV_ACC_ALL));
                        jumps[nj++] = k;
                        b[k++] = JNE_K(1, 0, 0);
                } else {
                        /* a deny rule refuses a request that asks for any of its bits */
                        b[k++] = AND32_K(1, (int32_t)r->access);
                        jumps[nj++] = k;
                        b[k++] = JEQ_K(1, 0, 0);
                }
        }
        if (r->major >= 0) {
                jumps[nj++] = k;
                b[k++] = JNE_K(4, (int32_t)r->major, 0);
        }
        if (r->minor >= 0) {
                jumps[nj++] = k;
                b[k++] = JNE_K(5, (int32_t)r->minor, 0);
        }
        b[k++] = MOV64_K(0, r->allow ? 1 : 0);
        b[k++] = EXIT();
        for (size_t j = 0; j < nj; j++)
                b[jumps[j]].off = (int16_t)(k - jumps[j] - 1);
        memcpy(out + *n, b, k * sizeof(*b));
        *n += k;
}

int devices_bpf_build(const DevRule *rules, size_t n, struct bpf_insn **ret, size_t *ret_n, Error **err)
{
        size_t total = n + n_default_device_rules, k = 0;
        _cleanup_free_ struct bpf_insn *p = NULL;

        if (total * 12 + 8 > MAX_INSNS)
                return error_setx(err, E2BIG, "linux.resources.devices: %zu rules are more than the device filter holds (%d)",
                                  n, (MAX_INSNS - 8) / 12 - (int)n_default_device_rules);
        p = xmalloc((total * 12 + 8) * sizeof(*p));
        p[k++] = LDX_W(2, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[k++] = AND32_K(2, 0xffff);
        p[k++] = LDX_W(3, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[k++] = RSH32_K(3, 16);
        p[k++] = LDX_W(4, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, major));
        p[k++] = LDX_W(5, (int16_t)offsetof(struct bpf_cgroup_dev_ctx, minor));
        /* Last rule first: the defaults, then the config's from its end; the first match decides. */
        for (size_t i = n_default_device_rules; i > 0; i--)
                emit_rule(&default_device_rules[i - 1], p, &k);
        for (size_t i = n; i > 0; i--) {
                const DevRule *r = &rules[i - 1];
                emit_rule(r, p, &k);
                /* A rule for every device and access ends the program: the verifier refuses code
                 * that cannot be reached. */
                if (r->type == 'a' && r->access == DEV_ACC_ALL && r->major < 0 && r->minor < 0)
                        goto done;
        }
        p[k++] = MOV64_K(0, 1);
        p[k++] = EXIT();
done:
        *ret = TAKE_PTR(p);
        *ret_n = k;
        return 0;
}

/* ------------------------------------------------------------------ loading */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
        return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *p, size_t n, int *ret_fd, Error **err)
{
        static const char license[] = "GPL";
        union bpf_attr a;
        int fd;

        memset(&a, 0, sizeof(a));
        a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        a.insns = (uint64_t)(uintptr_t)p;
        a.insn_cnt = (uint32_t)n;
        a.license = (uint64_t)(uintptr_t)license;
        fd = sys_bpf(BPF_PROG_LOAD, &a);
        if (fd < 0) {
                int e = errno;
                _cleanup_free_ char *log = xmalloc(65536);
                log[0] = '\0';
                a.log_level = 1;
                a.log_buf = (uint64_t)(uintptr_t)log;
                a.log_size = 65536;
                fd = sys_bpf(BPF_PROG_LOAD, &a);
                if (fd < 0) {
                        /* the verifier's last line before its "processed N insns" summary says why */
                        char *last = log, *save = NULL;
                        for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                if (!str_has_prefix(l, "processed "))
                                        last = l;
                        return error_set(err, e, "linux.resources.devices: loading the eBPF device filter%s%s%s",
                                         *last ? " (verifier: " : "", last, *last ? ")" : "");
                }
        }
        *ret_fd = fd;
        return 0;
}

int devices_bpf_apply(const char *cgroup_dir, const DevRule *rules, size_t n, Error **err)
{
        _cleanup_free_ struct bpf_insn *prog = NULL;
        _cleanup_close_ int dirfd = -EBADF, progfd = -EBADF;
        uint32_t old_ids[64], n_old = ELEMENTSOF(old_ids);
        union bpf_attr a;
        size_t ninsn = 0;
        int r;

        r = devices_bpf_build(rules, n, &prog, &ninsn, err);
        if (r < 0)
                return r;
        dirfd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return error_set(err, errno, "opening cgroup %s", cgroup_dir);
        r = prog_load(prog, ninsn, &progfd, err);
        if (r < 0)
                return r;
        /* The programs attached before (a previous update) are replaced: noted now, detached after. */
        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t)dirfd;
        a.query.attach_type = BPF_CGROUP_DEVICE;
        a.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
        a.query.prog_cnt = n_old;
        if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
                n_old = 0;
        else
                n_old = a.query.prog_cnt < ELEMENTSOF(old_ids) ? a.query.prog_cnt : ELEMENTSOF(old_ids);
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)dirfd;
        a.attach_bpf_fd = (uint32_t)progfd;
        a.attach_type = BPF_CGROUP_DEVICE;
        a.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
                return error_set(err, errno, "linux.resources.devices: attaching the eBPF device filter to %s", cgroup_dir);
        for (uint32_t i = 0; i < n_old; i++) {
                _cleanup_close_ int ofd = -EBADF;
                memset(&a, 0, sizeof(a));
                a.prog_id = old_ids[i];
                ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
                if (ofd < 0)
                        continue;
                memset(&a, 0, sizeof(a));
                a.target_fd = (uint32_t)dirfd;
                a.attach_bpf_fd = (uint32_t)ofd;
                a.attach_type = BPF_CGROUP_DEVICE;
                if (sys_bpf(BPF_PROG_DETACH, &a) < 0)
                        return error_set(err, errno, "linux.resources.devices: detaching the device filter it replaces");
        }
        return 0;
}
