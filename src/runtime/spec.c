/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "caps.h"
#include "json-util.h"
#include "log.h"
#include "spec.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Bounds on untrusted input before anything is allocated for it. */
#define CONFIG_MAX_BYTES (16u << 20)

const char *const ns_type_names[_NS_MAX] = {
        [NS_PID] = "pid", [NS_NETWORK] = "network", [NS_MOUNT] = "mount", [NS_IPC] = "ipc",
        [NS_UTS] = "uts", [NS_USER] = "user",       [NS_CGROUP] = "cgroup", [NS_TIME] = "time",
};
const char *const ns_proc_names[_NS_MAX] = {
        [NS_PID] = "pid", [NS_NETWORK] = "net", [NS_MOUNT] = "mnt",       [NS_IPC] = "ipc",
        [NS_UTS] = "uts", [NS_USER] = "user",   [NS_CGROUP] = "cgroup", [NS_TIME] = "time",
};
const int ns_clone_flags[_NS_MAX] = {
        [NS_PID] = CLONE_NEWPID, [NS_NETWORK] = CLONE_NEWNET, [NS_MOUNT] = CLONE_NEWNS,
        [NS_IPC] = CLONE_NEWIPC, [NS_UTS] = CLONE_NEWUTS,     [NS_USER] = CLONE_NEWUSER,
        [NS_CGROUP] = CLONE_NEWCGROUP, [NS_TIME] = CLONE_NEWTIME,
};
const char *const hook_kind_names[_HOOK_MAX] = {
        [HOOK_PRESTART] = "prestart",
        [HOOK_CREATE_RUNTIME] = "createRuntime",
        [HOOK_CREATE_CONTAINER] = "createContainer",
        [HOOK_START_CONTAINER] = "startContainer",
        [HOOK_POSTSTART] = "poststart",
        [HOOK_POSTSTOP] = "poststop",
};

static const struct {
        const char *name;
        int resource;
} rlimit_table[] = {
        { "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_NICE", RLIMIT_NICE },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

int rlimit_from_name(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(rlimit_table); i++)
                if (STREQ(name, rlimit_table[i].name))
                        return rlimit_table[i].resource;
        return -EINVAL;
}

static int parse_idmaps(json_t *obj, const char *parent, const char *key, OciIdMap **ret, size_t *ret_n,
                        Error **err)
{
        _cleanup_free_ char *path = jx_path(parent, key);
        json_t *arr = NULL, *e;
        size_t i;
        int r;

        r = jx_array(obj, parent, key, false, &arr, err);
        if (r <= 0)
                return r;
        if (json_array_size(arr) > 340) /* the kernel's limit on id map lines */
                return error_setx(err, EINVAL, "%s: more than 340 mappings", path);
        *ret = xcalloc(json_array_size(arr), sizeof(OciIdMap));
        *ret_n = json_array_size(arr);
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *p = jx_path_index(path, i);
                OciIdMap *m = &(*ret)[i];
                if (!json_is_object(e))
                        return error_setx(err, EINVAL, "%s: expected an object", p);
                if (jx_uint32(e, p, "containerID", true, &m->container_id, err) < 0 ||
                    jx_uint32(e, p, "hostID", true, &m->host_id, err) < 0 ||
                    jx_uint32(e, p, "size", true, &m->size, err) < 0)
                        return -EINVAL;
                if (m->size == 0)
                        return error_setx(err, EINVAL, "%s.size: must be greater than 0", p);
        }
        return 1;
}

static int parse_caps_set(json_t *caps, const char *parent, const char *key, uint64_t *ret, Error **err)
{
        _cleanup_strv_ char **names = NULL;
        _cleanup_free_ char *path = jx_path(parent, key);
        int r;

        r = jx_strv(caps, parent, key, false, &names, err);
        if (r <= 0)
                return r;
        for (size_t i = 0; names[i]; i++) {
                int c;
                /* Docker's "ALL": every capability this kernel has */
                if (strcasecmp(names[i], "ALL") == 0 || strcasecmp(names[i], "CAP_ALL") == 0) {
                        int last = caps_last_cap();
                        *ret |= last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
                        continue;
                }
                c = caps_from_name(names[i]);
                if (c < 0)
                        return error_setx(err, EINVAL, "%s[%zu]: unknown capability \"%s\"", path, i, names[i]);
                if (c > caps_last_cap()) {
                        log_warn("%s[%zu]: %s is not supported by this kernel, ignored", path, i, names[i]);
                        continue;
                }
                *ret |= UINT64_C(1) << c;
        }
        return 1;
}

static int parse_user(json_t *p, const char *parent, OciUser *u, Error **err)
{
        _cleanup_free_ char *path = jx_path(parent, "user");
        json_t *user = NULL, *gids = NULL, *e;
        size_t i;
        int r;

        r = jx_object(p, parent, "user", false, &user, err);
        if (r <= 0)
                return r;
        if (jx_uint32(user, path, "uid", false, &u->uid, err) < 0 ||
            jx_uint32(user, path, "gid", false, &u->gid, err) < 0)
                return -EINVAL;
        r = jx_uint32(user, path, "umask", false, &u->umask, err);
        if (r < 0)
                return r;
        u->has_umask = r > 0;
        if (u->has_umask && u->umask > 0777)
                return error_setx(err, EINVAL, "%s.umask: %o is not a valid umask", path, u->umask);
        r = jx_array(user, path, "additionalGids", false, &gids, err);
        if (r < 0)
                return r;
        if (gids) {
                if (json_array_size(gids) > 65536)
                        return error_setx(err, EINVAL, "%s.additionalGids: more than 65536 groups", path);
                u->additional_gids = xcalloc(json_array_size(gids), sizeof(uint32_t));
                u->n_additional_gids = json_array_size(gids);
                json_array_foreach (gids, i, e) {
                        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                            json_integer_value(e) > UINT32_MAX)
                                return error_setx(err, EINVAL, "%s.additionalGids[%zu]: expected a gid", path, i);
                        u->additional_gids[i] = (uint32_t)json_integer_value(e);
                }
        }
        return 0;
}

static int name_index(const char *name, const char *const *names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (STREQ(name, names[i]))
                        return (int)i;
        return -1;
}

/* process.ioPriority, process.scheduler and process.execCPUAffinity (runtime-spec 1.2). */
static int parse_process_sched(json_t *j, const char *path, OciProcess *p, Error **err)
{
        static const char *const io_classes[] = { "", "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE" };
        static const char *const policies[] = { "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
                                                "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE" };
        static const char *const flag_names[] = { "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM",
                                                  "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
                                                  "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
                                                  "SCHED_FLAG_UTIL_CLAMP_MAX" };
        json_t *o = NULL;
        int r;

        r = jx_object(j, path, "ioPriority", false, &o, err);
        if (r < 0)
                return r;
        if (o) {
                _cleanup_free_ char *op = jx_path(path, "ioPriority"), *cls = NULL;
                int32_t prio = 0;
                if (jx_string(o, op, "class", true, &cls, err) < 0 || jx_int32(o, op, "priority", false, &prio, err) < 0)
                        return -EINVAL;
                p->io_class = name_index(cls, io_classes, ELEMENTSOF(io_classes));
                if (p->io_class <= 0)
                        return error_setx(err, EINVAL, "%s.class: \"%s\" is not IOPRIO_CLASS_RT, _BE or _IDLE", op, cls);
                if (prio < 0 || prio > 7)
                        return error_setx(err, EINVAL, "%s.priority: %d is outside 0..7", op, prio);
                p->io_level = prio;
                p->has_io_priority = true;
        }
        o = NULL;
        r = jx_object(j, path, "scheduler", false, &o, err);
        if (r < 0)
                return r;
        if (o) {
                _cleanup_free_ char *sp = jx_path(path, "scheduler"), *pol = NULL;
                _cleanup_strv_ char **flags = NULL;
                int k;
                if (jx_string(o, sp, "policy", true, &pol, err) < 0 ||
                    jx_int32(o, sp, "nice", false, &p->sched_nice, err) < 0 ||
                    jx_uint32(o, sp, "priority", false, &p->sched_priority, err) < 0 ||
                    jx_strv(o, sp, "flags", false, &flags, err) < 0 ||
                    jx_uint64(o, sp, "runtime", false, &p->sched_runtime, err) < 0 ||
                    jx_uint64(o, sp, "deadline", false, &p->sched_deadline, err) < 0 ||
                    jx_uint64(o, sp, "period", false, &p->sched_period, err) < 0)
                        return -EINVAL;
                k = name_index(pol, policies, ELEMENTSOF(policies));
                if (k < 0 || k == 4)
                        return error_setx(err, EINVAL, "%s.policy: \"%s\" is not a scheduling policy", sp, pol);
                p->sched_policy = (uint32_t)k;
                if (p->sched_nice < -20 || p->sched_nice > 19)
                        return error_setx(err, EINVAL, "%s.nice: %d is outside -20..19", sp, p->sched_nice);
                for (size_t i = 0; flags && flags[i]; i++) {
                        int f = name_index(flags[i], flag_names, ELEMENTSOF(flag_names));
                        if (f < 0)
                                return error_setx(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", sp, i, flags[i]);
                        p->sched_flags |= UINT64_C(1) << f;
                }
                p->has_scheduler = true;
        }
        o = NULL;
        r = jx_object(j, path, "execCPUAffinity", false, &o, err);
        if (r < 0)
                return r;
        if (o) {
                _cleanup_free_ char *ap = jx_path(path, "execCPUAffinity");
                if (jx_string(o, ap, "final", false, &p->cpu_affinity_final, err) < 0)
                        return -EINVAL;
                if (p->cpu_affinity_final && strspn(p->cpu_affinity_final, "0123456789,-") != strlen(p->cpu_affinity_final))
                        return error_setx(err, EINVAL, "%s.final: \"%s\" is not a cpu list", ap, p->cpu_affinity_final);
        }
        return 0;
}

OciProcess *oci_process_free(OciProcess *p)
{
        if (!p)
                return NULL;
        free(p->user.additional_gids);
        strv_free(p->args);
        strv_free(p->env);
        free(p->cwd);
        for (size_t i = 0; i < p->n_rlimits; i++)
                free(p->rlimits[i].type);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        free(p->cpu_affinity_final);
        free(p);
        return NULL;
}

int oci_process_parse(json_t *j, const char *path, OciProcess **ret, Error **err)
{
        OciProcess *p = xcalloc(1, sizeof(*p));
        json_t *o = NULL, *arr = NULL, *e;
        size_t i;
        int r;

        if (!json_is_object(j)) {
                error_setx(err, EINVAL, "%s: expected an object", path);
                goto fail;
        }
        if (jx_bool(j, path, "terminal", false, &p->terminal, err) < 0)
                goto fail;
        r = jx_object(j, path, "consoleSize", false, &o, err);
        if (r < 0)
                goto fail;
        if (o) {
                _cleanup_free_ char *cp = jx_path(path, "consoleSize");
                if (jx_uint32(o, cp, "height", true, &p->console_height, err) < 0 ||
                    jx_uint32(o, cp, "width", true, &p->console_width, err) < 0)
                        goto fail;
        }
        if (parse_user(j, path, &p->user, err) < 0)
                goto fail;
        if (jx_strv(j, path, "args", false, &p->args, err) < 0)
                goto fail;
        if (!p->args || !p->args[0]) {
                _cleanup_free_ char *ap = jx_path(path, "args");
                /* commandLine is the Windows form; a Linux process needs args. */
                error_setx(err, EINVAL, "%s: required, with at least the program to run", ap);
                goto fail;
        }
        if (jx_strv(j, path, "env", false, &p->env, err) < 0)
                goto fail;
        if (!p->env)
                p->env = xcalloc(1, sizeof(char *));
        for (i = 0; p->env[i]; i++)
                if (!strchr(p->env[i], '=')) {
                        error_setx(err, EINVAL, "%s.env[%zu]: \"%s\" is not of the form NAME=VALUE", path, i,
                                   p->env[i]);
                        goto fail;
                }
        if (jx_string(j, path, "cwd", true, &p->cwd, err) < 0)
                goto fail;
        if (p->cwd[0] != '/') {
                error_setx(err, EINVAL, "%s.cwd: \"%s\" must be an absolute path", path, p->cwd);
                goto fail;
        }
        o = NULL;
        r = jx_object(j, path, "capabilities", false, &o, err);
        if (r < 0)
                goto fail;
        if (o) {
                _cleanup_free_ char *cp = jx_path(path, "capabilities");
                p->caps.present = true;
                if (parse_caps_set(o, cp, "bounding", &p->caps.bounding, err) < 0 ||
                    parse_caps_set(o, cp, "effective", &p->caps.effective, err) < 0 ||
                    parse_caps_set(o, cp, "inheritable", &p->caps.inheritable, err) < 0 ||
                    parse_caps_set(o, cp, "permitted", &p->caps.permitted, err) < 0 ||
                    parse_caps_set(o, cp, "ambient", &p->caps.ambient, err) < 0)
                        goto fail;
        }
        r = jx_array(j, path, "rlimits", false, &arr, err);
        if (r < 0)
                goto fail;
        if (arr) {
                _cleanup_free_ char *rp = jx_path(path, "rlimits");
                if (json_array_size(arr) > 64) {
                        error_setx(err, EINVAL, "%s: too many entries", rp);
                        goto fail;
                }
                p->rlimits = xcalloc(json_array_size(arr), sizeof(OciRlimit));
                json_array_foreach (arr, i, e) {
                        _cleanup_free_ char *ep = jx_path_index(rp, i);
                        OciRlimit *l = &p->rlimits[p->n_rlimits++];
                        if (!json_is_object(e)) {
                                error_setx(err, EINVAL, "%s: expected an object", ep);
                                goto fail;
                        }
                        if (jx_string(e, ep, "type", true, &l->type, err) < 0 ||
                            jx_uint64(e, ep, "soft", true, &l->soft, err) < 0 ||
                            jx_uint64(e, ep, "hard", true, &l->hard, err) < 0)
                                goto fail;
                        l->resource = rlimit_from_name(l->type);
                        if (l->resource < 0) {
                                error_setx(err, EINVAL, "%s.type: unknown rlimit \"%s\"", ep, l->type);
                                goto fail;
                        }
                        for (size_t k = 0; k + 1 < p->n_rlimits; k++)
                                if (p->rlimits[k].resource == l->resource) {
                                        error_setx(err, EINVAL, "%s.type: %s is given twice", ep, l->type);
                                        goto fail;
                                }
                        if (l->soft > l->hard) {
                                error_setx(err, EINVAL,
                                           "%s: %s soft limit %llu is above its hard limit %llu", ep, l->type,
                                           (unsigned long long)l->soft, (unsigned long long)l->hard);
                                goto fail;
                        }
                }
        }
        if (jx_bool(j, path, "noNewPrivileges", false, &p->no_new_privileges, err) < 0)
                goto fail;
        r = jx_int32(j, path, "oomScoreAdj", false, &p->oom_score_adj, err);
        if (r < 0)
                goto fail;
        p->has_oom_score_adj = r > 0;
        if (p->has_oom_score_adj && (p->oom_score_adj < -1000 || p->oom_score_adj > 1000)) {
                error_setx(err, EINVAL, "%s.oomScoreAdj: %d is outside -1000..1000", path, p->oom_score_adj);
                goto fail;
        }
        if (jx_string(j, path, "apparmorProfile", false, &p->apparmor_profile, err) < 0 ||
            jx_string(j, path, "selinuxLabel", false, &p->selinux_label, err) < 0)
                goto fail;
        if (parse_process_sched(j, path, p, err) < 0)
                goto fail;
        *ret = p;
        return 0;
fail:
        oci_process_free(p);
        return -EINVAL;
}

static int parse_mounts(OciSpec *s, Error **err)
{
        json_t *arr = NULL, *e;
        size_t i;
        int r;

        r = jx_array(s->json, "", "mounts", false, &arr, err);
        if (r <= 0)
                return r;
        if (json_array_size(arr) > 4096)
                return error_setx(err, EINVAL, "mounts: more than 4096 entries");
        s->mounts = xcalloc(json_array_size(arr), sizeof(OciMount));
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *p = jx_path_index("mounts", i);
                OciMount *m = &s->mounts[s->n_mounts++];
                if (!json_is_object(e))
                        return error_setx(err, EINVAL, "%s: expected an object", p);
                if (jx_string(e, p, "destination", true, &m->destination, err) < 0 ||
                    jx_string(e, p, "type", false, &m->type, err) < 0 ||
                    jx_string(e, p, "source", false, &m->source, err) < 0 ||
                    jx_strv(e, p, "options", false, &m->options, err) < 0)
                        return -EINVAL;
                if (m->destination[0] != '/')
                        return error_setx(err, EINVAL, "%s.destination: \"%s\" must be an absolute path", p,
                                          m->destination);
                if (parse_idmaps(e, p, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err) < 0 ||
                    parse_idmaps(e, p, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err) < 0)
                        return -EINVAL;
                if ((m->n_uid_mappings > 0) != (m->n_gid_mappings > 0))
                        return error_setx(err, EINVAL, "%s: uidMappings and gidMappings must be given together",
                                          p);
        }
        return 0;
}

static int parse_hooks(OciSpec *s, Error **err)
{
        json_t *hooks = NULL;
        int r;

        r = jx_object(s->json, "", "hooks", false, &hooks, err);
        if (r <= 0)
                return r;
        for (int k = 0; k < _HOOK_MAX; k++) {
                _cleanup_free_ char *kp = jx_path("hooks", hook_kind_names[k]);
                json_t *arr = NULL, *e;
                size_t i;

                r = jx_array(hooks, "hooks", hook_kind_names[k], false, &arr, err);
                if (r < 0)
                        return r;
                if (!arr)
                        continue;
                if (json_array_size(arr) > 1024)
                        return error_setx(err, EINVAL, "%s: more than 1024 hooks", kp);
                s->hooks[k] = xcalloc(json_array_size(arr), sizeof(OciHook));
                json_array_foreach (arr, i, e) {
                        _cleanup_free_ char *p = jx_path_index(kp, i);
                        OciHook *h = &s->hooks[k][s->n_hooks[k]++];
                        int32_t t = 0;
                        if (!json_is_object(e))
                                return error_setx(err, EINVAL, "%s: expected an object", p);
                        if (jx_string(e, p, "path", true, &h->path, err) < 0 ||
                            jx_strv(e, p, "args", false, &h->args, err) < 0 ||
                            jx_strv(e, p, "env", false, &h->env, err) < 0 ||
                            jx_int32(e, p, "timeout", false, &t, err) < 0)
                                return -EINVAL;
                        if (h->path[0] != '/')
                                return error_setx(err, EINVAL, "%s.path: \"%s\" must be an absolute path", p,
                                                  h->path);
                        if (json_object_get(e, "timeout") && t <= 0)
                                return error_setx(err, EINVAL, "%s.timeout: must be greater than zero", p);
                        h->timeout = t;
                }
        }
        return 0;
}

static int parse_devices(OciSpec *s, json_t *lx, Error **err)
{
        json_t *arr = NULL, *e;
        size_t i;
        int r;

        r = jx_array(lx, "linux", "devices", false, &arr, err);
        if (r <= 0)
                return r;
        if (json_array_size(arr) > 4096)
                return error_setx(err, EINVAL, "linux.devices: more than 4096 entries");
        s->devices = xcalloc(json_array_size(arr), sizeof(OciDevice));
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *p = jx_path_index("linux.devices", i);
                _cleanup_free_ char *type = NULL;
                OciDevice *d = &s->devices[s->n_devices++];
                if (!json_is_object(e))
                        return error_setx(err, EINVAL, "%s: expected an object", p);
                if (jx_string(e, p, "path", true, &d->path, err) < 0 ||
                    jx_string(e, p, "type", true, &type, err) < 0)
                        return -EINVAL;
                if (d->path[0] != '/')
                        return error_setx(err, EINVAL, "%s.path: \"%s\" must be an absolute path", p, d->path);
                if (strlen(type) != 1 || !strchr("cbup", type[0]))
                        return error_setx(err, EINVAL, "%s.type: \"%s\" is not one of c, b, u, p", p, type);
                d->type = type[0] == 'u' ? 'c' : type[0];
                if (d->type != 'p') {
                        if (jx_int64(e, p, "major", true, &d->major, err) < 0 ||
                            jx_int64(e, p, "minor", true, &d->minor, err) < 0)
                                return -EINVAL;
                        if (d->major < 0 || d->major > 0xfff || d->minor < 0 || d->minor > 0xfffff)
                                return error_setx(err, EINVAL, "%s: device number %lld:%lld is out of range", p,
                                                  (long long)d->major, (long long)d->minor);
                }
                r = jx_uint32(e, p, "fileMode", false, &d->mode, err);
                if (r < 0)
                        return r;
                d->has_mode = r > 0;
                if (d->has_mode && d->mode > 07777)
                        return error_setx(err, EINVAL, "%s.fileMode: %o is not a valid mode", p, d->mode);
                r = jx_uint32(e, p, "uid", false, &d->uid, err);
                if (r < 0)
                        return r;
                d->has_uid = r > 0;
                r = jx_uint32(e, p, "gid", false, &d->gid, err);
                if (r < 0)
                        return r;
                d->has_gid = r > 0;
        }
        return 0;
}

static int parse_linux(OciSpec *s, Error **err)
{
        json_t *lx = NULL, *arr = NULL, *e, *o = NULL;
        const char *key;
        size_t i;
        int r;

        r = jx_object(s->json, "", "linux", false, &lx, err);
        if (r <= 0)
                return r;
        r = jx_array(lx, "linux", "namespaces", false, &arr, err);
        if (r < 0)
                return r;
        if (arr)
                json_array_foreach (arr, i, e) {
                        _cleanup_free_ char *p = jx_path_index("linux.namespaces", i);
                        _cleanup_free_ char *type = NULL, *nspath = NULL;
                        int t = -1;
                        if (!json_is_object(e))
                                return error_setx(err, EINVAL, "%s: expected an object", p);
                        if (jx_string(e, p, "type", true, &type, err) < 0 ||
                            jx_string(e, p, "path", false, &nspath, err) < 0)
                                return -EINVAL;
                        for (int k = 0; k < _NS_MAX; k++)
                                if (STREQ(type, ns_type_names[k]))
                                        t = k;
                        if (t < 0)
                                return error_setx(err, EINVAL, "%s.type: unknown namespace type \"%s\"", p, type);
                        if (s->ns[t].enabled)
                                return error_setx(err, EINVAL, "%s.type: namespace \"%s\" is listed twice", p,
                                                  type);
                        if (nspath && nspath[0] != '/')
                                return error_setx(err, EINVAL, "%s.path: \"%s\" must be an absolute path", p,
                                                  nspath);
                        s->ns[t].enabled = true;
                        s->ns[t].path = nspath && *nspath ? TAKE_PTR(nspath) : NULL;
                }
        if (parse_idmaps(lx, "linux", "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0 ||
            parse_idmaps(lx, "linux", "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0)
                return -EINVAL;
        if ((s->n_uid_mappings || s->n_gid_mappings) && !s->ns[NS_USER].enabled)
                return error_setx(err, EINVAL,
                                  "linux.uidMappings: mappings are given but there is no user namespace");
        if (s->ns[NS_USER].enabled && !s->ns[NS_USER].path && (!s->n_uid_mappings || !s->n_gid_mappings))
                return error_setx(err, EINVAL,
                                  "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
        if (parse_devices(s, lx, err) < 0)
                return -EINVAL;
        if (jx_string(lx, "linux", "cgroupsPath", false, &s->cgroups_path, err) < 0 ||
            jx_object(lx, "linux", "resources", false, &s->resources, err) < 0 ||
            jx_object(lx, "linux", "seccomp", false, &s->seccomp, err) < 0 ||
            jx_string(lx, "linux", "rootfsPropagation", false, &s->rootfs_propagation, err) < 0 ||
            jx_strv(lx, "linux", "maskedPaths", false, &s->masked_paths, err) < 0 ||
            jx_strv(lx, "linux", "readonlyPaths", false, &s->readonly_paths, err) < 0 ||
            jx_string(lx, "linux", "mountLabel", false, &s->mount_label, err) < 0 ||
            jx_object(lx, "linux", "personality", false, &o, err) < 0)
                return -EINVAL;
        if (o) {
                _cleanup_free_ char *domain = NULL;
                _cleanup_strv_ char **flags = NULL;
                if (jx_string(o, "linux.personality", "domain", true, &domain, err) < 0 ||
                    jx_strv(o, "linux.personality", "flags", false, &flags, err) < 0)
                        return -EINVAL;
                if (STREQ(domain, "LINUX"))
                        s->personality = 0x0000;
                else if (STREQ(domain, "LINUX32"))
                        s->personality = 0x0008;
                else
                        return error_setx(err, EINVAL, "linux.personality.domain: \"%s\" is not LINUX or LINUX32",
                                          domain);
                /* The spec defines no flag names yet: refuse any rather than ignore them. */
                if (flags && flags[0])
                        return error_setx(err, EINVAL, "linux.personality.flags: \"%s\" is not supported", flags[0]);
                s->has_personality = true;
                o = NULL;
        }
        if (s->cgroups_path && strstr(s->cgroups_path, ".."))
                return error_setx(err, EINVAL, "linux.cgroupsPath: \"%s\" must not contain \"..\"",
                                  s->cgroups_path);
        if (s->rootfs_propagation) {
                static const char *const ok[] = { "private", "rprivate", "slave", "rslave", "shared",
                                                  "rshared", "unbindable", "runbindable" };
                bool found = false;
                for (i = 0; i < ELEMENTSOF(ok); i++)
                        found = found || STREQ(ok[i], s->rootfs_propagation);
                if (!found)
                        return error_setx(err, EINVAL, "linux.rootfsPropagation: \"%s\" is not a propagation type",
                                          s->rootfs_propagation);
        }
        for (i = 0; s->masked_paths && s->masked_paths[i]; i++)
                if (s->masked_paths[i][0] != '/')
                        return error_setx(err, EINVAL, "linux.maskedPaths[%zu]: \"%s\" must be an absolute path",
                                          i, s->masked_paths[i]);
        for (i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
                if (s->readonly_paths[i][0] != '/')
                        return error_setx(err, EINVAL,
                                          "linux.readonlyPaths[%zu]: \"%s\" must be an absolute path", i,
                                          s->readonly_paths[i]);
        r = jx_object(lx, "linux", "sysctl", false, &o, err);
        if (r < 0)
                return r;
        if (o) {
                json_t *v;
                if (json_object_size(o) > 1024)
                        return error_setx(err, EINVAL, "linux.sysctl: more than 1024 entries");
                s->sysctls = xcalloc(json_object_size(o), sizeof(OciSysctl));
                json_object_foreach (o, key, v) {
                        if (!json_is_string(v))
                                return error_setx(err, EINVAL, "linux.sysctl.%s: expected a string", key);
                        /* A sysctl name names a file below /proc/sys: no way out of it. */
                        if (!*key || strstr(key, "..") || key[0] == '/' || key[0] == '.')
                                return error_setx(err, EINVAL, "linux.sysctl: \"%s\" is not a valid sysctl name",
                                                  key);
                        s->sysctls[s->n_sysctls].key = xstrdup(key);
                        s->sysctls[s->n_sysctls++].value = xstrdup(json_string_value(v));
                }
        }
        arr = NULL;
        r = jx_object(lx, "linux", "timeOffsets", false, &o, err);
        if (r < 0)
                return r;
        if (r > 0) {
                json_t *v;
                s->time_offsets = xcalloc(json_object_size(o) + 1, sizeof(OciTimeOffset));
                json_object_foreach (o, key, v) {
                        _cleanup_free_ char *p = jx_path("linux.timeOffsets", key);
                        OciTimeOffset *t = &s->time_offsets[s->n_time_offsets++];
                        if (!STREQ(key, "monotonic") && !STREQ(key, "boottime"))
                                return error_setx(err, EINVAL, "%s: only monotonic and boottime can be offset", p);
                        if (!json_is_object(v))
                                return error_setx(err, EINVAL, "%s: expected an object", p);
                        t->clock = xstrdup(key);
                        if (jx_int64(v, p, "secs", false, &t->secs, err) < 0 ||
                            jx_uint32(v, p, "nanosecs", false, &t->nanosecs, err) < 0)
                                return -EINVAL;
                }
                if (s->n_time_offsets && !s->ns[NS_TIME].enabled)
                        return error_setx(err, EINVAL, "linux.timeOffsets: given without a time namespace");
        }
        return 0;
}

OciSpec *oci_spec_free(OciSpec *s)
{
        if (!s)
                return NULL;
        free(s->oci_version);
        free(s->root_path);
        free(s->hostname);
        free(s->domainname);
        oci_process_free(s->process);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].destination);
                free(s->mounts[i].type);
                free(s->mounts[i].source);
                strv_free(s->mounts[i].options);
                free(s->mounts[i].uid_mappings);
                free(s->mounts[i].gid_mappings);
        }
        free(s->mounts);
        for (int k = 0; k < _HOOK_MAX; k++) {
                for (size_t i = 0; i < s->n_hooks[k]; i++) {
                        free(s->hooks[k][i].path);
                        strv_free(s->hooks[k][i].args);
                        strv_free(s->hooks[k][i].env);
                }
                free(s->hooks[k]);
        }
        for (int k = 0; k < _NS_MAX; k++)
                free(s->ns[k].path);
        free(s->uid_mappings);
        free(s->gid_mappings);
        for (size_t i = 0; i < s->n_devices; i++)
                free(s->devices[i].path);
        free(s->devices);
        free(s->cgroups_path);
        free(s->rootfs_propagation);
        strv_free(s->masked_paths);
        strv_free(s->readonly_paths);
        for (size_t i = 0; i < s->n_sysctls; i++) {
                free(s->sysctls[i].key);
                free(s->sysctls[i].value);
        }
        free(s->sysctls);
        free(s->mount_label);
        for (size_t i = 0; i < s->n_time_offsets; i++)
                free(s->time_offsets[i].clock);
        free(s->time_offsets);
        json_decref(s->json);
        free(s);
        return NULL;
}

int oci_spec_parse(const char *text, size_t len, const char *what, OciSpec **ret, Error **err)
{
        OciSpec *s = xcalloc(1, sizeof(*s));
        json_t *root = NULL, *proc = NULL;
        int r;

        r = jx_parse(text, len, what, &s->json, err);
        if (r < 0)
                goto fail;
        if (!json_is_object(s->json)) {
                r = error_setx(err, EINVAL, "%s: expected a JSON object at the top level", what);
                goto fail;
        }
        r = -EINVAL;
        if (jx_string(s->json, "", "ociVersion", true, &s->oci_version, err) < 0)
                goto fail;
        if (!str_has_prefix(s->oci_version, "1.")) {
                error_setx(err, EINVAL, "ociVersion: \"%s\" is not supported (1.0.0 to 1.2.x are)", s->oci_version);
                goto fail;
        }
        if (jx_object(s->json, "", "root", true, &root, err) < 0 ||
            jx_string(root, "root", "path", true, &s->root_path, err) < 0 ||
            jx_bool(root, "root", "readonly", false, &s->root_readonly, err) < 0)
                goto fail;
        if (!*s->root_path) {
                error_setx(err, EINVAL, "root.path: must not be empty");
                goto fail;
        }
        if (jx_string(s->json, "", "hostname", false, &s->hostname, err) < 0 ||
            jx_string(s->json, "", "domainname", false, &s->domainname, err) < 0)
                goto fail;
        if (jx_object(s->json, "", "process", false, &proc, err) < 0)
                goto fail;
        if (proc && oci_process_parse(proc, "process", &s->process, err) < 0)
                goto fail;
        if (jx_object(s->json, "", "annotations", false, &s->annotations, err) < 0)
                goto fail;
        if (s->annotations) {
                const char *k;
                json_t *v;
                json_object_foreach (s->annotations, k, v)
                        if (!json_is_string(v)) {
                                error_setx(err, EINVAL, "annotations.%s: expected a string", k);
                                goto fail;
                        }
        }
        if (parse_mounts(s, err) < 0 || parse_hooks(s, err) < 0 || parse_linux(s, err) < 0)
                goto fail;
        if ((s->hostname || s->domainname) && !s->ns[NS_UTS].enabled) {
                error_setx(err, EINVAL, "%s: setting it needs a new uts namespace",
                           s->hostname ? "hostname" : "domainname");
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        oci_spec_free(s);
        return r < 0 ? r : -EINVAL;
}

int oci_spec_load(const char *path, OciSpec **ret, Error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file_at(AT_FDCWD, path, CONFIG_MAX_BYTES, &text, &len);
        if (r == -EFBIG)
                return error_setx(err, EFBIG, "%s: larger than %u bytes", path, CONFIG_MAX_BYTES);
        if (r < 0)
                return error_set(err, -r, "reading %s", path);
        return oci_spec_parse(text, len, path, ret, err);
}
