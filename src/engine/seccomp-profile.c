/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recorded syscalls -> a minimal Docker-format profile; merge and diff (see seccomp-profile.h). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json-util.h"
#include "seccomp-profile.h"
#include "util.h"

#define PROFILE_MAX (4u << 20)
/* Docker's clone rule without CAP_SYS_ADMIN: no namespace flags (CLONE_NEWNS...CLONE_NEWNET, NEWCGROUP) */
#define CLONE_NS_MASK 0x7E020000ULL

const char *const seccomp_arg_syscalls[] = { "clone", "personality", "socket", NULL };

const char *const seccomp_runtime_nnp[] = { "execve", "brk", "mmap", "write", "exit_group", NULL };
/*
 * Measured by taking each out of a recorded profile (docs/SECCOMP.md): without no_new_privs the
 * filter precedes setgroups/setresgid/setresuid, prctl(PR_SET_KEEPCAPS...), capset, chdir, getcwd
 * (the cwd check), newfstatat and access (finding the executable), sendmsg (READY), accept4 and read
 * (waiting for start), execve; write, brk, mmap and exit_group report a failed exec.
 */
const char *const seccomp_runtime_no_nnp[] = {
        "setgroups", "setresgid", "setresuid", "prctl", "capset", "chdir", "getcwd", "newfstatat", "access",
        "sendmsg", "accept4", "read", "execve", "write", "brk", "mmap", "exit_group", NULL,
};

static const uint32_t row_arch[SECCOMP_REC_ROWS] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86 };

void seccomp_recording_add(SeccompRecording *r, unsigned row, unsigned nr)
{
        if (row < SECCOMP_REC_ROWS && nr < SECCOMP_REC_WORDS * 64)
                r->seen[row][nr / 64] |= 1ULL << (nr % 64);
}

void seccomp_recording_add_arg(SeccompRecording *r, unsigned row, unsigned nr, uint64_t value)
{
        for (size_t i = 0; i < r->n_args; i++)
                if (r->args[i].row == row && r->args[i].nr == nr && r->args[i].value == value)
                        return;
        if (r->n_args >= SECCOMP_REC_MAX_ARGS) {
                r->dropped++;
                return;
        }
        r->args = xrealloc(r->args, (r->n_args + 1) * sizeof(*r->args));
        r->args[r->n_args++] = (SeccompArgSeen){ .row = row, .nr = nr, .value = value };
}

void seccomp_recording_clear(SeccompRecording *r)
{
        free(r->args);
        *r = (SeccompRecording){ 0 };
}

static bool in_list(const char *const *l, const char *s)
{
        for (; *l; l++)
                if (STREQ(*l, s))
                        return true;
        return false;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* names as a sorted array without duplicates */
static json_t *sorted_names(json_t *set)
{
        const char *k;
        json_t *v, *out = json_array();
        size_t n = json_object_size(set), i = 0;
        _cleanup_free_ const char **v_ = xcalloc(n ? n : 1, sizeof(char *));

        json_object_foreach(set, k, v) v_[i++] = k;
        qsort(v_, n, sizeof(char *), cmp_str);
        for (i = 0; i < n; i++)
                json_array_append_new(out, json_string(v_[i]));
        return out;
}

static json_t *arg_rule(const char *name, uint64_t value, uint64_t value_two, const char *op)
{
        return json_pack("{s:[s], s:s, s:[{s:i, s:o, s:o, s:s}]}", "names", name, "action", "SCMP_ACT_ALLOW", "args",
                         "index", 0, "value", jx_uint64_new(value), "valueTwo", jx_uint64_new(value_two), "op", op);
}

json_t *seccomp_profile_from_recording(const SeccompRecording *r, bool nnp)
{
        _cleanup_json_ json_t *allow = json_object(), *argnames = json_object();
        json_t *rules = json_array();

        for (unsigned row = 0; row < SECCOMP_REC_ROWS; row++)
                for (unsigned nr = 0; nr < SECCOMP_REC_WORDS * 64; nr++) {
                        if (!(r->seen[row][nr / 64] & (1ULL << (nr % 64))))
                                continue;
                        _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(row_arch[row], (int)nr);
                        if (!name)
                                continue; /* not a syscall this libseccomp knows: nothing a profile can name */
                        if (r->with_args && in_list(seccomp_arg_syscalls, name))
                                json_object_set_new(argnames, name, json_true());
                        else
                                json_object_set_new(allow, name, json_true());
                }
        for (const char *const *p = nnp ? seccomp_runtime_nnp : seccomp_runtime_no_nnp; *p; p++)
                if (!json_object_get(argnames, *p))
                        json_object_set_new(allow, *p, json_true());
        json_array_append_new(rules, json_pack("{s:o, s:s}", "names", sorted_names(allow), "action", "SCMP_ACT_ALLOW"));

        /* argument rules, by name, values ascending */
        for (const char *const *p = seccomp_arg_syscalls; *p; p++) {
                if (!json_object_get(argnames, *p))
                        continue;
                _cleanup_free_ uint64_t *vals = xcalloc(r->n_args + 1, sizeof(uint64_t));
                size_t n = 0;
                bool ns_flags = false;
                for (size_t i = 0; i < r->n_args; i++) {
                        _cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(row_arch[r->args[i].row],
                                                                                     (int)r->args[i].nr);
                        if (!name || !STREQ(name, *p))
                                continue;
                        bool dup = false;
                        for (size_t j = 0; j < n; j++)
                                dup |= vals[j] == r->args[i].value;
                        if (!dup)
                                vals[n++] = r->args[i].value;
                        ns_flags |= (r->args[i].value & CLONE_NS_MASK) != 0;
                }
                qsort(vals, n, sizeof(uint64_t), cmp_u64);
                if (STREQ(*p, "clone") && !ns_flags) {
                        /* Docker's own rule: any clone without namespace flags */
                        json_array_append_new(rules, arg_rule(*p, CLONE_NS_MASK, 0, "SCMP_CMP_MASKED_EQ"));
                        continue;
                }
                for (size_t j = 0; j < n; j++)
                        json_array_append_new(rules, arg_rule(*p, vals[j], 0, "SCMP_CMP_EQ"));
        }
        /* The recording ran under the container's filter, and the tracepoint fires after seccomp: what that
         * filter refused was never seen.  Docker's default makes clone3 fail with ENOSYS, so glibc falls back
         * to clone; the recorded profile must do the same, or clone3 gets EPERM and threads fail to start. */
        if (!json_object_get(allow, "clone3"))
                json_array_append_new(rules, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action", "SCMP_ACT_ERRNO",
                                                       "errnoRet", ENOSYS));
        return json_pack("{s:s, s:i, s:[s, s, s], s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 1,
                         "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", rules);
}

/* names of syscalls[i] (Docker's `name` or `names`) into the object `set` */
static int rule_names(json_t *rule, size_t i, json_t *set, Error **err)
{
        json_t *names = json_object_get(rule, "names"), *one = json_object_get(rule, "name"), *v;
        size_t j;

        if (!json_is_object(rule))
                return error_setx(err, EINVAL, "syscalls[%zu]: expected an object", i);
        if (one) {
                if (!json_is_string(one))
                        return error_setx(err, EINVAL, "syscalls[%zu].name: expected a string", i);
                json_object_set_new(set, json_string_value(one), json_true());
        }
        if (names && !json_is_array(names))
                return error_setx(err, EINVAL, "syscalls[%zu].names: expected an array of strings", i);
        json_array_foreach(names, j, v)
        {
                if (!json_is_string(v))
                        return error_setx(err, EINVAL, "syscalls[%zu].names[%zu]: expected a string", i, j);
                json_object_set_new(set, json_string_value(v), json_true());
        }
        return 0;
}

static bool rule_conditional(json_t *rule)
{
        json_t *a = json_object_get(rule, "args");
        return (a && json_array_size(a) > 0) || json_object_size(json_object_get(rule, "includes")) > 0 ||
               json_object_size(json_object_get(rule, "excludes")) > 0;
}

/* the syscalls array of profile `p` (NULL when there is none); `which` names it in errors */
static int syscalls_of(json_t *p, const char *which, json_t **ret, Error **err)
{
        json_t *s;

        if (!json_is_object(p))
                return error_setx(err, EINVAL, "%s: a profile must be a JSON object", which);
        s = json_object_get(p, "syscalls");
        if (s && !json_is_null(s) && !json_is_array(s))
                return error_setx(err, EINVAL, "%s: syscalls: expected an array", which);
        *ret = json_is_array(s) ? s : NULL;
        return 0;
}

int seccomp_profile_merge(json_t *profile, json_t *base, Error **err)
{
        _cleanup_json_ json_t *allow = json_object();
        json_t *rules = NULL, *brules = NULL, *first = NULL, *rule;
        size_t i;
        int r;

        if ((r = syscalls_of(profile, "recorded profile", &rules, err)) < 0 ||
            (r = syscalls_of(base, "base profile", &brules, err)) < 0)
                return r;
        if (!rules) {
                rules = json_array();
                json_object_set_new(profile, "syscalls", rules);
        }
        /* the recorded profile's unconditional allow rule is the first one */
        json_array_foreach(rules, i, rule)
        {
                const char *a = json_string_value(json_object_get(rule, "action"));
                if (a && STREQ(a, "SCMP_ACT_ALLOW") && !rule_conditional(rule)) {
                        first = rule;
                        if ((r = rule_names(rule, i, allow, err)) < 0)
                                return r;
                        break;
                }
        }
        json_array_foreach(brules, i, rule)
        {
                _cleanup_json_ json_t *names = json_object();
                const char *a;
                if ((r = rule_names(rule, i, names, err)) < 0)
                        return error_wrap(err, "base profile");
                a = json_string_value(json_object_get(rule, "action"));
                if (!a)
                        return error_setx(err, EINVAL, "base profile: syscalls[%zu].action: expected a string", i);
                if (!STREQ(a, "SCMP_ACT_ALLOW"))
                        continue;
                if (!rule_conditional(rule)) {
                        if ((r = rule_names(rule, i, allow, err)) < 0)
                                return r;
                }
        }
        /* conditional ALLOW rules of the base, for names not allowed outright */
        json_array_foreach(brules, i, rule)
        {
                _cleanup_json_ json_t *names = json_object();
                const char *a = json_string_value(json_object_get(rule, "action")), *k;
                json_t *v, *keep;
                if (!STREQ(a, "SCMP_ACT_ALLOW") || !rule_conditional(rule))
                        continue;
                (void)rule_names(rule, i, names, NULL);
                keep = json_array();
                json_object_foreach(names, k, v) if (!json_object_get(allow, k)) json_array_append_new(keep, json_string(k));
                if (json_array_size(keep) == 0) {
                        json_decref(keep);
                        continue;
                }
                json_t *copy = json_deep_copy(rule);
                json_object_del(copy, "name");
                json_object_set_new(copy, "names", keep);
                json_array_append_new(rules, copy);
        }
        if (!first) {
                first = json_pack("{s:[], s:s}", "names", "action", "SCMP_ACT_ALLOW");
                json_array_insert_new(rules, 0, first);
        }
        json_object_del(first, "name");
        json_object_set_new(first, "names", sorted_names(allow));
        /* a name allowed outright needs no other rule (argument rules, clone3's ENOSYS) */
        for (i = 0; i < json_array_size(rules);) {
                _cleanup_json_ json_t *names = json_object();
                bool all = true;
                const char *k;
                json_t *v;
                rule = json_array_get(rules, i);
                if (rule != first && rule_names(rule, i, names, NULL) == 0) {
                        json_object_foreach(names, k, v) all &= json_object_get(allow, k) != NULL;
                        if (all) {
                                json_array_remove(rules, i);
                                continue;
                        }
                }
                i++;
        }
        return 0;
}

/* name -> "ACTION" or "ACTION if args", several rules joined with " | " */
static int action_map(json_t *p, const char *which, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *m = json_object();
        json_t *rules = NULL, *rule;
        size_t i;
        int r;

        if ((r = syscalls_of(p, which, &rules, err)) < 0)
                return r;
        json_array_foreach(rules, i, rule)
        {
                _cleanup_json_ json_t *names = json_object();
                const char *a, *k;
                json_t *v;
                if ((r = rule_names(rule, i, names, err)) < 0)
                        return error_wrap(err, "%s", which);
                a = json_string_value(json_object_get(rule, "action"));
                if (!a)
                        return error_setx(err, EINVAL, "%s: syscalls[%zu].action: expected a string", which, i);
                _cleanup_free_ char *desc = rule_conditional(rule) ? xasprintf("%s if args", a) : xstrdup(a);
                json_object_foreach(names, k, v)
                {
                        const char *old = json_string_value(json_object_get(m, k));
                        if (!old)
                                json_object_set_new(m, k, json_string(desc));
                        else if (!strstr(old, desc)) {
                                _cleanup_free_ char *both = xasprintf("%s | %s", old, desc);
                                json_object_set_new(m, k, json_string(both));
                        }
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int seccomp_profile_diff(json_t *a, json_t *b, char **ret_text, Error **err)
{
        _cleanup_json_ json_t *ma = NULL, *mb = NULL, *all = json_object(), *order = NULL;
        const char *da, *db, *k;
        json_t *v;
        size_t i;
        char *out = xstrdup("");
        int r;

        if ((r = action_map(a, "first profile", &ma, err)) < 0 || (r = action_map(b, "second profile", &mb, err)) < 0) {
                free(out);
                return r;
        }
        da = json_string_value(json_object_get(a, "defaultAction"));
        db = json_string_value(json_object_get(b, "defaultAction"));
        if (!da || !db) {
                free(out);
                return error_setx(err, EINVAL, "%s profile: defaultAction: expected a string", !da ? "first" : "second");
        }
        if (!STREQ(da, db)) {
                char *n = xasprintf("%sdefaultAction: %s -> %s\n", out, da, db);
                free(out);
                out = n;
        }
        json_object_foreach(ma, k, v) json_object_set_new(all, k, json_true());
        json_object_foreach(mb, k, v) json_object_set_new(all, k, json_true());
        order = sorted_names(all);
        json_array_foreach(order, i, v)
        {
                const char *name = json_string_value(v);
                const char *x = json_string_value(json_object_get(ma, name)), *y = json_string_value(json_object_get(mb, name));
                char *n = NULL;
                if (!x)
                        n = xasprintf("%s+ %s (%s)\n", out, name, y);
                else if (!y)
                        n = xasprintf("%s- %s (%s)\n", out, name, x);
                else if (!STREQ(x, y))
                        n = xasprintf("%s~ %s: %s -> %s\n", out, name, x, y);
                if (n) {
                        free(out);
                        out = n;
                }
        }
        *ret_text = out;
        return 0;
}

int seccomp_profile_read(const char *path, json_t **ret, Error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file_at(AT_FDCWD, path, PROFILE_MAX, &text, &len);
        if (r == -EFBIG)
                return error_setx(err, EFBIG, "seccomp profile %s: larger than %u bytes", path, PROFILE_MAX);
        if (r < 0)
                return error_set(err, -r, "seccomp profile %s", path);
        return jx_parse(text, len, path, ret, err);
}
