/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "logdriver.h"
#include "runopts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "apparmor.h"
#include "caps.h"
#include "json-util.h"
#include "pflag.h"
#include "util.h"
#include "volume.h"

void runopts_free(RunOpts *o)
{
        json_decref(o->config);
        json_decref(o->host);
        free(o->name);
        free(o->seccomp_record);
        strv_free(o->warnings);
        *o = (RunOpts){ 0 };
}

/* ---- value parsers shared by the CLI, compose and the API ---- */

static const struct {
        const char *name;
        int resource;
} ulimits[] = {
        { "core", RLIMIT_CORE },       { "cpu", RLIMIT_CPU },           { "data", RLIMIT_DATA },
        { "fsize", RLIMIT_FSIZE },     { "locks", RLIMIT_LOCKS },       { "memlock", RLIMIT_MEMLOCK },
        { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },       { "nofile", RLIMIT_NOFILE },
        { "nproc", RLIMIT_NPROC },     { "rss", RLIMIT_RSS },           { "rtprio", RLIMIT_RTPRIO },
        { "rttime", RLIMIT_RTTIME },   { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};

int ulimit_resource(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(ulimits); i++)
                if (STREQ(ulimits[i].name, name))
                        return ulimits[i].resource;
        return -1;
}

int ulimit_parse(const char *s, json_t **ret, Error **err)
{
        const char *eq = strchr(s, '=');
        _cleanup_free_ char *name = NULL, *vals = NULL;
        int64_t soft, hard;
        char *colon;

        if (!eq)
                return error_setx(err, EINVAL, "invalid ulimit argument: %s", s);
        name = xstrndup(s, (size_t)(eq - s));
        if (ulimit_resource(name) < 0)
                return error_setx(err, EINVAL, "invalid ulimit type: %s", name);
        vals = xstrdup(eq + 1);
        colon = strchr(vals, ':');
        if (colon)
                *colon = '\0';
        if (parse_int64(vals, &soft) < 0 || soft < -1)
                return error_setx(err, EINVAL, "invalid ulimit soft value %s", vals);
        hard = soft;
        if (colon && (parse_int64(colon + 1, &hard) < 0 || hard < -1))
                return error_setx(err, EINVAL, "invalid ulimit hard value %s", colon + 1);
        /* -1 is unlimited: compare as unsigned so that "1024:-1" is fine and "-1:1024" is not. */
        if ((uint64_t)soft > (uint64_t)hard)
                return error_setx(err, EINVAL, "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                                  (long long)soft, (long long)hard);
        *ret = json_pack("{s:s, s:I, s:I}", "Name", name, "Hard", (json_int_t)hard, "Soft", (json_int_t)soft);
        return 0;
}

int restart_policy_parse(const char *s, json_t **ret, Error **err)
{
        _cleanup_free_ char *name = xstrdup(s);
        char *colon = strchr(name, ':');
        int64_t max = 0;

        if (colon) {
                *colon = '\0';
                if (parse_int64(colon + 1, &max) < 0 || max < 0)
                        return error_setx(err, EINVAL, "invalid restart policy format: maximum retry count must be an "
                                          "integer: %s", colon + 1);
        }
        if (!*name)
                name = (free(name), xstrdup("no"));
        if (!STREQ(name, "no") && !STREQ(name, "always") && !STREQ(name, "unless-stopped") && !STREQ(name, "on-failure"))
                return error_setx(err, EINVAL, "invalid restart policy %s: use no, always, unless-stopped or "
                                  "on-failure[:max-retries]", name);
        if (colon && !STREQ(name, "on-failure"))
                return error_setx(err, EINVAL, "maximum retry count cannot be used with restart policy '%s'", name);
        *ret = json_pack("{s:s, s:I}", "Name", name, "MaximumRetryCount", (json_int_t)max);
        return 0;
}

int nanocpus_parse(const char *s, int64_t *ret, Error **err)
{
        /* An exact decimal: "1.5" is 1500000000, never 1499999999 as a float would give. */
        const char *p = s;
        bool neg = false;
        int64_t whole = 0, frac = 0;
        int digits = 0;

        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
                goto bad;
        for (; isdigit((unsigned char)*p); p++) {
                if (whole > 1000000)
                        goto bad;
                whole = whole * 10 + (*p - '0');
        }
        if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++)
                        if (digits < 9) {
                                frac = frac * 10 + (*p - '0');
                                digits++;
                        }
        if (*p)
                goto bad;
        while (digits++ < 9)
                frac *= 10;
        *ret = (whole * 1000000000 + frac) * (neg ? -1 : 1);
        return 0;
bad:
        return error_setx(err, EINVAL, "failed to parse %s as a rational number", s);
}

int security_opt_split(const char *opt, char **ret_key, char **ret_value, bool *ret_colon, Error **err)
{
        const char *eq = strchr(opt, '='), *colon = strchr(opt, ':');
        const char *sep = eq;

        *ret_colon = false;
        if (STREQ(opt, "no-new-privileges")) {
                *ret_key = xstrdup(opt);
                *ret_value = xstrdup("true");
                return 0;
        }
        if (!sep && colon) {
                sep = colon;
                *ret_colon = true;
        }
        if (!sep || !sep[1])
                return error_setx(err, EINVAL, "Invalid --security-opt: \"%s\"", opt);
        *ret_key = xstrndup(opt, (size_t)(sep - opt));
        *ret_value = xstrdup(sep + 1);
        return 0;
}

/* ---- the flags ---- */

typedef struct ParseCtx {
        RunOpts *o;
        json_t *labels, *tmpfs, *ulimits, *binds, *mounts, *env, *secopts, *capadd, *capdrop, *groupadd, *sysctls;
        json_t *volumes_from;
        json_t *health; /* --health-*: HealthConfig's durations and retries */
        json_t *devices;
} ParseCtx;

static int set_size(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;

        if (parse_size(v, &n) < 0)
                return error_setx(err, EINVAL, "invalid size: '%s'", v);
        json_object_set_new(c->o->host, (const char *)f->value, json_integer(n));
        return 0;
}

static int set_memswap(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;

        if (STREQ(v, "-1"))
                n = -1;
        else if (parse_size(v, &n) < 0)
                return error_setx(err, EINVAL, "invalid size: '%s'", v);
        json_object_set_new(c->o->host, "MemorySwap", json_integer(n));
        return 0;
}

static int set_int(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;

        if (parse_int64(v, &n) < 0)
                return error_setx(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax", v);
        json_object_set_new(c->o->host, (const char *)f->value, json_integer(n));
        return 0;
}

static int set_cpus(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;
        int r = nanocpus_parse(v, &n, err);

        if (r < 0)
                return r;
        json_object_set_new(c->o->host, "NanoCpus", json_integer(n));
        return 0;
}

static int set_hoststr(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_object_set_new(c->o->host, (const char *)f->value, json_string(v));
        return 0;
}

static int set_cfgstr(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_object_set_new(c->o->config, (const char *)f->value, json_string(v));
        return 0;
}

static int set_ulimit(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_t *u = NULL;
        int r = ulimit_parse(v, &u, err);
        size_t i;
        json_t *old;

        if (r < 0)
                return r;
        /* A later --ulimit for the same name replaces the earlier one. */
        json_array_foreach(c->ulimits, i, old) if (json_equal(json_object_get(old, "Name"), json_object_get(u, "Name"))) {
                json_array_set_new(c->ulimits, i, u);
                return 0;
        }
        json_array_append_new(c->ulimits, u);
        return 0;
}

static int set_restart(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_t *p = NULL;
        int r = restart_policy_parse(v, &p, err);

        if (r < 0)
                return r;
        json_object_set_new(c->o->host, "RestartPolicy", p);
        return 0;
}

static int set_label(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *k = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);

        if (!*k)
                return error_setx(err, EINVAL, "invalid label '%s': empty name", v);
        json_object_set_new(c->labels, k, json_string(eq ? eq + 1 : ""));
        return 0;
}

static int add_env(ParseCtx *c, const char *v, Error **err)
{
        const char *eq = strchr(v, '=');

        if (v[0] == '=' || !*v)
                return error_setx(err, EINVAL, "invalid environment variable: %s", v);
        if (eq) {
                json_array_append_new(c->env, json_string(v));
                return 0;
        }
        /* "-e NAME" takes NAME's value from the caller's environment, and is dropped when it is unset. */
        const char *val = getenv(v);
        if (val) {
                _cleanup_free_ char *kv = xasprintf("%s=%s", v, val);
                json_array_append_new(c->env, json_string(kv));
        }
        return 0;
}

static int set_env(const Pflag *f, const char *v, void *ud, Error **err)
{
        return add_env(ud, v, err);
}

static int set_env_file(const Pflag *f, const char *v, void *ud, Error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, v, 16 << 20, &text, &len);
        char *save = NULL;
        int line = 0;

        if (r < 0)
                return error_set(err, -r, "open %s", v);
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                line++;
                size_t n = strlen(l);
                if (n && l[n - 1] == '\r')
                        l[--n] = '\0';
                while (*l == ' ' || *l == '\t')
                        l++;
                if (!*l || *l == '#')
                        continue;
                if (strchr(l, '=') == NULL && strpbrk(l, " \t"))
                        return error_setx(err, EINVAL, "%s:%d: variable '%s' contains whitespaces", v, line, l);
                r = add_env(ud, l, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int set_tmpfs(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        const char *colon = strchr(v, ':');
        _cleanup_free_ char *path = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);

        if (path[0] != '/')
                return error_setx(err, EINVAL, "invalid mount path: '%s' mount path must be absolute", path);
        json_object_set_new(c->tmpfs, path, json_string(colon ? colon + 1 : ""));
        return 0;
}

static int set_volume(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        _cleanup_free_ char *copy = xstrdup(v);
        char *parts[4] = { 0 };
        int n = 0;

        for (char *p = copy, *save = NULL, *t; n < 4 && (t = strtok_r(p, ":", &save)); p = NULL)
                parts[n++] = t;
        if (n < 1 || n > 3)
                return error_setx(err, EINVAL, "invalid volume specification: '%s' (expected [SOURCE:]/container/path[:OPTIONS], "
                                  "SOURCE a host path or a volume name)", v);
        if (n == 1) {
                /* -v /data: an anonymous volume */
                if (parts[0][0] != '/')
                        return error_setx(err, EINVAL, "invalid volume specification: '%s': invalid mount config: the "
                                          "container path must be absolute", v);
                json_array_append_new(c->binds, json_string(v));
                return 0;
        }
        if (parts[0][0] != '/') {
                if (!volume_is_name(parts[0]))
                        return error_setx(err, EINVAL, "invalid volume specification: '%s': a host path must be absolute "
                                          "(a relative one would depend on the directory stockade runs in)", v);
                if (volume_check_name(parts[0], err) < 0)
                        return error_wrap(err, "invalid volume specification: '%s'", v);
        }
        if (parts[1][0] != '/')
                return error_setx(err, EINVAL, "invalid volume specification: '%s': invalid mount config: the "
                                  "container path must be absolute", v);
        if (n == 3) {
                _cleanup_free_ char *o = xstrdup(parts[2]);
                for (char *p = o, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL)
                        if (!STREQ(t, "ro") && !STREQ(t, "rw") && !STREQ(t, "z") && !STREQ(t, "Z") &&
                            !STREQ(t, "private") && !STREQ(t, "rprivate") && !STREQ(t, "slave") && !STREQ(t, "rslave") &&
                            !STREQ(t, "shared") && !STREQ(t, "rshared") && !STREQ(t, "nocopy") && !STREQ(t, "idmap"))
                                return error_setx(err, EINVAL, "invalid volume specification: '%s': invalid mode: %s", v, t);
        }
        json_array_append_new(c->binds, json_string(v));
        return 0;
}

/* --volumes-from CONTAINER[:ro|rw]: resolved at create, when the container is looked up. */
static int set_volumes_from(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        const char *colon = strchr(v, ':');

        if (colon == v || !*v)
                return error_setx(err, EINVAL, "invalid value \"%s\": a container name or id is needed", v);
        if (colon && !STREQ(colon + 1, "ro") && !STREQ(colon + 1, "rw"))
                return error_setx(err, EINVAL, "invalid mode for volumes-from: %s (ro or rw)", colon + 1);
        json_array_append_new(c->volumes_from, json_string(v));
        return 0;
}

static json_t *mount_volume_options(json_t *m)
{
        json_t *vo = json_object_get(m, "VolumeOptions");
        if (!vo)
                json_object_set_new(m, "VolumeOptions", vo = json_object());
        return vo;
}

static int set_mount(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        _cleanup_free_ char *copy = xstrdup(v);
        json_t *m = json_object();
        const char *type = "volume";

        for (char *p = copy, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL) {
                char *eq = strchr(t, '=');
                const char *val = eq ? eq + 1 : NULL;
                if (eq)
                        *eq = '\0';
                if (STREQ(t, "type") && val)
                        type = val, json_object_set_new(m, "Type", json_string(val));
                else if ((STREQ(t, "source") || STREQ(t, "src")) && val)
                        json_object_set_new(m, "Source", json_string(val));
                else if ((STREQ(t, "target") || STREQ(t, "destination") || STREQ(t, "dst")) && val)
                        json_object_set_new(m, "Target", json_string(val));
                else if (STREQ(t, "readonly") || STREQ(t, "ro"))
                        json_object_set_new(m, "ReadOnly", json_boolean(!val || STREQ(val, "true") || STREQ(val, "1")));
                else if (STREQ(t, "bind-propagation") && val)
                        json_object_set_new(m, "BindOptions", json_pack("{s:s}", "Propagation", val));
                else if (STREQ(t, "volume-nocopy"))
                        json_object_set_new(mount_volume_options(m), "NoCopy",
                                            json_boolean(!val || STREQ(val, "true") || STREQ(val, "1")));
                else if ((STREQ(t, "volume-opt") || STREQ(t, "volume-label")) && val && strchr(val, '=')) {
                        /* volume-opt=type=tmpfs: the value is key=value itself */
                        json_t *vo = mount_volume_options(m), *obj;
                        char *eq2 = strchr((char *)val, '=');
                        *eq2 = '\0';
                        if (STREQ(t, "volume-label")) {
                                if (!(obj = json_object_get(vo, "Labels")))
                                        json_object_set_new(vo, "Labels", obj = json_object());
                        } else {
                                json_t *dc = json_object_get(vo, "DriverConfig");
                                if (!dc)
                                        json_object_set_new(vo, "DriverConfig", dc = json_pack("{s:s}", "Name", "local"));
                                if (!(obj = json_object_get(dc, "Options")))
                                        json_object_set_new(dc, "Options", obj = json_object());
                        }
                        json_object_set_new(obj, val, json_string(eq2 + 1));
                } else if (STREQ(t, "volume-opt") || STREQ(t, "volume-label")) {
                        json_decref(m);
                        return error_setx(err, EINVAL, "invalid value for %s: \"%s\" (expected %s=KEY=VALUE)", t, val ? val : "",
                                          t);
                } else if (STREQ(t, "volume-driver") && val) {
                        json_t *vo = mount_volume_options(m), *dc = json_object_get(vo, "DriverConfig");
                        if (!dc)
                                json_object_set_new(vo, "DriverConfig", dc = json_object());
                        json_object_set_new(dc, "Name", json_string(val));
                }
                else if (STREQ(t, "tmpfs-size") && val) {
                        int64_t n;
                        if (parse_size(val, &n) < 0) {
                                json_decref(m);
                                return error_setx(err, EINVAL, "invalid value for tmpfs-size: %s", val);
                        }
                        json_object_set_new(m, "TmpfsOptions", json_pack("{s:I}", "SizeBytes", (json_int_t)n));
                } else {
                        json_decref(m);
                        return error_setx(err, EINVAL, "unexpected key '%s' in '%s'", t, v);
                }
        }
        if (!json_object_get(m, "Type"))
                json_object_set_new(m, "Type", json_string(type));
        if (!STREQ(type, "bind") && !STREQ(type, "tmpfs") && !STREQ(type, "volume")) {
                json_decref(m);
                return error_setx(err, EINVAL, "invalid mount type '%s' (bind, volume and tmpfs are; npipe and cluster "
                                  "are not on Linux)", type);
        }
        if (json_object_get(m, "VolumeOptions") && !STREQ(type, "volume")) {
                json_decref(m);
                return error_setx(err, EINVAL, "invalid mount config: volume options given for a mount of type '%s'", type);
        }
        const char *target = json_string_value(json_object_get(m, "Target"));
        const char *source = json_string_value(json_object_get(m, "Source"));
        if (!target || target[0] != '/') {
                json_decref(m);
                return error_setx(err, EINVAL, "target is required and must be an absolute path");
        }
        if (STREQ(type, "bind") && (!source || source[0] != '/')) {
                json_decref(m);
                return error_setx(err, EINVAL, "source is required for a bind mount and must be an absolute path");
        }
        if (STREQ(type, "volume") && source && *source && volume_check_name(source, err) < 0) {
                json_decref(m);
                return error_wrap(err, "--mount %s", v);
        }
        json_array_append_new(c->mounts, m);
        return 0;
}

static int set_secopt(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        _cleanup_free_ char *k = NULL, *val = NULL;
        bool colon;
        int r = security_opt_split(v, &k, &val, &colon, err);

        if (r < 0)
                return r;
        if (STREQ(k, "seccomp") && !STREQ(val, "unconfined") && !STREQ(val, "builtin")) {
                /* The CLI inlines the profile, compacted, as the docker CLI does: the engine stores the JSON. */
                _cleanup_free_ char *text = NULL, *compact = NULL, *opt = NULL;
                _cleanup_json_ json_t *j = NULL;
                size_t len = 0;
                Error *e = NULL;
                r = read_file_at(AT_FDCWD, val, 16 << 20, &text, &len);
                if (r < 0)
                        return error_setx(err, -r, "opening seccomp profile (%s) failed: open %s: %s", val, val, strerror(-r));
                if (jx_parse(text, len, val, &j, &e) < 0) {
                        r = error_setx(err, EINVAL, "decoding seccomp profile failed: %s", e->msg);
                        error_free(e);
                        return r;
                }
                compact = jx_dump(j, false);
                opt = xasprintf("seccomp=%s", compact);
                json_array_append_new(c->secopts, json_string(opt));
                return 0;
        }
        json_array_append_new(c->secopts, json_string(v));
        return 0;
}

static int set_cap(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_array_append_new(STREQ(f->name, "cap-add") ? c->capadd : c->capdrop, json_string(v));
        return 0;
}

static int set_group_add(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_array_append_new(c->groupadd, json_string(v));
        return 0;
}

/* docker's parseDevice: HOST[:CONTAINER][:PERMISSIONS], permissions from r, w and m (default rwm) */
int device_parse(const char *v, json_t **ret, Error **err)
{
        _cleanup_strv_ char **parts = NULL;
        size_t n;

        for (const char *p = v;;) {
                const char *c = strchr(p, ':');
                strv_consume(&parts, c ? xstrndup(p, (size_t)(c - p)) : xstrdup(p));
                if (!c)
                        break;
                p = c + 1;
        }
        n = strv_length(parts);
        const char *src = n > 0 ? parts[0] : "", *dst = NULL, *perms = "rwm";

        if (n == 3) {
                dst = parts[1];
                perms = parts[2];
        } else if (n == 2) {
                if (parts[1][0] && strspn(parts[1], "rwm") == strlen(parts[1]))
                        perms = parts[1];
                else
                        dst = parts[1];
        } else if (n != 1)
                return error_setx(err, EINVAL, "invalid device specification: %s", v);
        if (!dst || !*dst)
                dst = src;
        if (!*perms || strspn(perms, "rwm") != strlen(perms))
                return error_setx(err, EINVAL, "invalid device mode: %s", perms);
        if (src[0] != '/' || dst[0] != '/')
                return error_setx(err, EINVAL, "%s is not an absolute path", src[0] != '/' ? src : dst);
        *ret = json_pack("{s:s, s:s, s:s}", "PathOnHost", src, "PathInContainer", dst, "CgroupPermissions", perms);
        return 0;
}

static int set_device(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_t *d = NULL;
        int r = device_parse(v, &d, err);

        if (r < 0)
                return r;
        json_array_append_new(c->devices, d);
        return 0;
}

static int set_sysctl(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *k = NULL;

        if (!eq || eq == v)
                return error_setx(err, EINVAL, "sysctl '%s' is not allowed: expected key=value", v);
        k = xstrndup(v, (size_t)(eq - v));
        json_object_set_new(c->sysctls, k, json_string(eq + 1));
        return 0;
}

static int set_log_opt(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *k = NULL;
        json_t *lc = json_object_get(c->o->host, "LogConfig");

        if (!eq || eq == v)
                return error_setx(err, EINVAL, "invalid key value pair format in log options: %s", v);
        k = xstrndup(v, (size_t)(eq - v));
        json_object_set_new(json_object_get(lc, "Config"), k, json_string(eq + 1));
        return 0;
}

static int set_log_driver(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        json_object_set_new(json_object_get(c->o->host, "LogConfig"), "Type", json_string(v));
        return 0;
}

static int set_stop_timeout(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;

        if (parse_int64(v, &n) < 0)
                return error_setx(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax", v);
        json_object_set_new(c->o->config, "StopTimeout", json_integer(n));
        return 0;
}

/*
 * --health-interval, --health-timeout, --health-start-period: Go durations (docker's flags are
 * time.Duration) into HealthCheck's nanoseconds; docker's message for a negative one.
 */
static int set_health_dur(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t ms;
        bool neg = v[0] == '-';

        if (parse_duration_ms(v + (neg || v[0] == '+'), &ms) < 0)
                return error_setx(err, EINVAL, "time: invalid duration \"%s\"", v);
        if (neg && ms != 0)
                return error_setx(err, EINVAL, "--%s cannot be negative", f->name);
        if (ms == 0 && strpbrk(v, "123456789")) /* under 1ms, dockerd's refusal (we count in ms) */
                return error_setx(err, EINVAL, "%s in Healthcheck cannot be less than 1ms", (const char *)f->value);
        if (ms > INT64_MAX / 1000000)
                return error_setx(err, EINVAL, "time: invalid duration \"%s\"", v);
        json_object_set_new(c->health, (const char *)f->value, json_integer(ms * 1000000));
        return 0;
}

static int set_health_retries(const Pflag *f, const char *v, void *ud, Error **err)
{
        ParseCtx *c = ud;
        int64_t n;

        if (parse_int64(v, &n) < 0 || n < INT32_MIN || n > INT32_MAX)
                return error_setx(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax", v);
        if (n < 0)
                return error_setx(err, EINVAL, "--health-retries cannot be negative");
        json_object_set_new(c->health, "Retries", json_integer(n));
        return 0;
}

static json_t *host_new(void)
{
        /* The fields `inspect` shows, in the order dockerd 20.10 writes them (sample-hostconfig.json). */
        return json_pack("{s:n, s:s, s:{s:s, s:{}}, s:s, s:{}, s:{s:s, s:i}, s:b, s:s, s:n, s:n, s:n, s:s,"
                         " s:[], s:[], s:[], s:n, s:n, s:s, s:s, s:n, s:i, s:s, s:b, s:b, s:b, s:n, s:s, s:s, s:i,"
                         " s:s, s:[ii], s:s}",
                         "Binds", "ContainerIDFile", "", "LogConfig", "Type", "", "Config", "NetworkMode", "default",
                         "PortBindings", "RestartPolicy", "Name", "no", "MaximumRetryCount", 0, "AutoRemove", 0,
                         "VolumeDriver", "", "VolumesFrom", "CapAdd", "CapDrop", "CgroupnsMode", "private", "Dns",
                         "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "private", "Cgroup", "", "Links",
                         "OomScoreAdj", 0, "PidMode", "", "Privileged", 0, "PublishAllPorts", 0, "ReadonlyRootfs", 0,
                         "SecurityOpt", "UTSMode", "", "UsernsMode", "", "ShmSize", 67108864, "Runtime", "",
                         "ConsoleSize", 0, 0, "Isolation", "");
}

static void host_add_resources(json_t *h)
{
        json_t *r = json_pack("{s:i, s:i, s:i, s:s, s:i, s:[], s:[], s:[], s:[], s:[], s:i, s:i, s:i, s:i, s:s, s:s,"
                              " s:[], s:n, s:n, s:i, s:i, s:i, s:i, s:n, s:b, s:n, s:n, s:i, s:i, s:i, s:i}",
                              "CpuShares", 0, "Memory", 0, "NanoCpus", 0, "CgroupParent", "", "BlkioWeight", 0,
                              "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                              "BlkioDeviceWriteIOps", "CpuPeriod", 0, "CpuQuota", 0, "CpuRealtimePeriod", 0,
                              "CpuRealtimeRuntime", 0, "CpusetCpus", "", "CpusetMems", "", "Devices", "DeviceCgroupRules",
                              "DeviceRequests", "KernelMemory", 0, "KernelMemoryTCP", 0, "MemoryReservation", 0,
                              "MemorySwap", 0, "MemorySwappiness", "OomKillDisable", 0, "PidsLimit", "Ulimits",
                              "CpuCount", 0, "CpuPercent", 0, "IOMaximumIOps", 0, "IOMaximumBandwidth", 0);
        json_object_update(h, r);
        json_decref(r);
}

static json_t *config_new(void)
{
        return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:n, s:s, s:n, s:s, s:n, s:n, s:{}}",
                         "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                         "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd", "Image", "",
                         "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

int runopts_parse(bool is_run, int argc, char **argv, int *index, RunOpts *o, Error **err)
{
        const char *name = NULL, *entrypoint = NULL, *user = NULL, *workdir = NULL, *hostname = NULL, *network = NULL;
        const char *runtime = NULL, *userns = NULL, *pid = NULL, *ipc = NULL, *uts = NULL, *cgroupns = NULL;
        const char *seccomp_record = NULL, *health_cmd = NULL;
        bool no_healthcheck = false;
        bool detach = false, rm = false, interactive = false, tty = false, init = false, privileged = false;
        bool read_only = false, oom_kill_disable = false;
        ParseCtx c = { .o = o };
        int r;

        *o = (RunOpts){ .config = config_new(), .host = host_new() };
        host_add_resources(o->host);
        c.labels = json_object_get(o->config, "Labels");
        c.tmpfs = json_object();
        c.ulimits = json_array();
        c.binds = json_array();
        c.volumes_from = json_array();
        c.mounts = json_array();
        c.env = json_array();
        c.secopts = json_array();
        c.capadd = json_array();
        c.capdrop = json_array();
        c.groupadd = json_array();
        c.sysctls = json_object();
        c.health = json_object();
        c.devices = json_array();

        Pflag flags[] = {
                { "detach", 'd', PFLAG_BOOL, &detach, NULL, "Run container in background and print container ID" },
                { "rm", 0, PFLAG_BOOL, &rm, NULL, "Automatically remove the container when it exits" },
                { "interactive", 'i', PFLAG_BOOL, &interactive, NULL, "Keep STDIN open even if not attached" },
                { "tty", 't', PFLAG_BOOL, &tty, NULL, "Allocate a pseudo-TTY" },
                { "name", 0, PFLAG_STRING, &name, NULL, "Assign a name to the container" },
                { "env", 'e', PFLAG_CUSTOM, NULL, set_env, "Set environment variables" },
                { "env-file", 0, PFLAG_CUSTOM, NULL, set_env_file, "Read in a file of environment variables" },
                { "workdir", 'w', PFLAG_STRING, &workdir, NULL, "Working directory inside the container" },
                { "entrypoint", 0, PFLAG_STRING, &entrypoint, NULL, "Overwrite the default ENTRYPOINT of the image" },
                { "volume", 'v', PFLAG_CUSTOM, NULL, set_volume, "Bind mount a host path or a volume ([/host/path|NAME:]/container[:ro])" },
                { "mount", 0, PFLAG_CUSTOM, NULL, set_mount, "Attach a filesystem mount (type=bind|volume|tmpfs,...)" },
                { "volumes-from", 0, PFLAG_CUSTOM, NULL, set_volumes_from, "Mount the volumes and binds of a container (CONTAINER[:ro|rw])" },
                { "hostname", 'h', PFLAG_STRING, &hostname, NULL, "Container host name" },
                { "network", 0, PFLAG_STRING, &network, NULL, "Connect a container to a network (none, host)" },
                { "net", 0, PFLAG_STRING, &network, NULL, "Alias of --network" },
                { "label", 'l', PFLAG_CUSTOM, NULL, set_label, "Set meta data on a container" },
                { "restart", 0, PFLAG_CUSTOM, NULL, set_restart, "Restart policy (no, on-failure[:N], always, unless-stopped)" },
                { "init", 0, PFLAG_BOOL, &init, NULL, "Run an init inside the container that forwards signals and reaps processes" },
                { "memory", 'm', PFLAG_CUSTOM, "Memory", set_size, "Memory limit" },
                { "memory-swap", 0, PFLAG_CUSTOM, NULL, set_memswap, "Memory plus swap: '-1' for unlimited swap" },
                { "memory-reservation", 0, PFLAG_CUSTOM, "MemoryReservation", set_size, "Memory soft limit" },
                { "memory-swappiness", 0, PFLAG_CUSTOM, "MemorySwappiness", set_int, "Tune container memory swappiness (0 to 100)" },
                { "shm-size", 0, PFLAG_CUSTOM, "ShmSize", set_size, "Size of /dev/shm" },
                { "cpus", 0, PFLAG_CUSTOM, NULL, set_cpus, "Number of CPUs" },
                { "cpu-shares", 'c', PFLAG_CUSTOM, "CpuShares", set_int, "CPU shares (relative weight)" },
                { "cpu-period", 0, PFLAG_CUSTOM, "CpuPeriod", set_int, "Limit CPU CFS period" },
                { "cpu-quota", 0, PFLAG_CUSTOM, "CpuQuota", set_int, "Limit CPU CFS quota" },
                { "cpuset-cpus", 0, PFLAG_CUSTOM, "CpusetCpus", set_hoststr, "CPUs in which to allow execution (0-3, 0,1)" },
                { "cpuset-mems", 0, PFLAG_CUSTOM, "CpusetMems", set_hoststr, "MEMs in which to allow execution (0-3, 0,1)" },
                { "pids-limit", 0, PFLAG_CUSTOM, "PidsLimit", set_int, "Tune container pids limit (-1 for unlimited)" },
                { "ulimit", 0, PFLAG_CUSTOM, NULL, set_ulimit, "Ulimit options (name=soft[:hard])" },
                { "oom-kill-disable", 0, PFLAG_BOOL, &oom_kill_disable, NULL, "Disable OOM Killer" },
                { "oom-score-adj", 0, PFLAG_CUSTOM, "OomScoreAdj", set_int, "Tune host's OOM preferences (-1000 to 1000)" },
                { "security-opt", 0, PFLAG_CUSTOM, NULL, set_secopt, "Security Options" },
                { "cap-add", 0, PFLAG_CUSTOM, NULL, set_cap, "Add Linux capabilities" },
                { "cap-drop", 0, PFLAG_CUSTOM, NULL, set_cap, "Drop Linux capabilities" },
                { "privileged", 0, PFLAG_BOOL, &privileged, NULL, "Give extended privileges to this container" },
                { "device", 0, PFLAG_CUSTOM, NULL, set_device, "Add a host device to the container (HOST[:CONTAINER][:rwm])" },
                { "read-only", 0, PFLAG_BOOL, &read_only, NULL, "Mount the container's root filesystem as read only" },
                { "tmpfs", 0, PFLAG_CUSTOM, NULL, set_tmpfs, "Mount a tmpfs directory (PATH[:OPTIONS])" },
                { "user", 'u', PFLAG_STRING, &user, NULL, "Username or UID (format: <name|uid>[:<group|gid>])" },
                { "group-add", 0, PFLAG_CUSTOM, NULL, set_group_add, "Add additional groups to join" },
                { "log-driver", 0, PFLAG_CUSTOM, NULL, set_log_driver, "Logging driver for the container" },
                { "log-opt", 0, PFLAG_CUSTOM, NULL, set_log_opt, "Log driver options" },
                { "userns", 0, PFLAG_STRING, &userns, NULL, "User namespace to use" },
                { "runtime", 0, PFLAG_STRING, &runtime, NULL, "Runtime to use for this container" },
                { "stop-signal", 0, PFLAG_CUSTOM, "StopSignal", set_cfgstr, "Signal to stop the container" },
                { "stop-timeout", 0, PFLAG_CUSTOM, NULL, set_stop_timeout, "Timeout (in seconds) to stop a container" },
                { "pid", 0, PFLAG_STRING, &pid, NULL, "PID namespace to use (host)" },
                { "ipc", 0, PFLAG_STRING, &ipc, NULL, "IPC mode to use (private, shareable, host)" },
                { "uts", 0, PFLAG_STRING, &uts, NULL, "UTS namespace to use (host)" },
                { "cgroupns", 0, PFLAG_STRING, &cgroupns, NULL, "Cgroup namespace to use (host|private)" },
                { "sysctl", 0, PFLAG_CUSTOM, NULL, set_sysctl, "Sysctl options" },
                { "health-cmd", 0, PFLAG_STRING, &health_cmd, NULL, "Command to run to check health" },
                { "health-interval", 0, PFLAG_CUSTOM, "Interval", set_health_dur, "Time between running the check (ms|s|m|h) (default 0s)" },
                { "health-timeout", 0, PFLAG_CUSTOM, "Timeout", set_health_dur, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)" },
                { "health-start-period", 0, PFLAG_CUSTOM, "StartPeriod", set_health_dur, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)" },
                { "health-retries", 0, PFLAG_CUSTOM, NULL, set_health_retries, "Consecutive failures needed to report unhealthy" },
                { "no-healthcheck", 0, PFLAG_BOOL, &no_healthcheck, NULL, "Disable any container-specified HEALTHCHECK" },
                { "seccomp-record", 0, PFLAG_STRING, &seccomp_record, NULL, "Record the container's syscalls into a seccomp profile FILE" },
                { 0 },
        };
        if (!is_run) {
                flags[0].name = "detach-is-run-only";   /* `create` has no -d */
                flags[ELEMENTSOF(flags) - 2].name = "seccomp-record-is-run-only";
        }

        r = pflag_parse(flags, argc, argv, index, false, &c, err);
        if (r < 0)
                goto out;
        if (*index >= argc) {
                r = error_setx(err, EINVAL, "\"%s\" requires at least 1 argument.", is_run ? "stockade run" : "stockade create");
                goto out;
        }
        json_object_set_new(o->config, "Image", json_string(argv[(*index)++]));
        if (*index < argc) {
                json_t *cmd = json_array();
                for (; *index < argc; (*index)++)
                        json_array_append_new(cmd, json_string(argv[*index]));
                json_object_set_new(o->config, "Cmd", cmd);
        }
        if (rm && json_object_get(json_object_get(o->host, "RestartPolicy"), "Name") &&
            !STREQ(json_string_value(json_object_get(json_object_get(o->host, "RestartPolicy"), "Name")), "no")) {
                r = error_setx(err, EINVAL, "Conflicting options: --restart and --rm");
                goto out;
        }
        if (seccomp_record && detach) {
                r = error_setx(err, EINVAL, "Conflicting options: --seccomp-record and -d (the profile is written when the container exits)");
                goto out;
        }
        /* docker's HealthConfig: zero fields left out (omitempty), taken from the image at create */
        {
                const char *k;
                json_t *v;
                void *tmp_iter;
                json_object_foreach_safe(c.health, tmp_iter, k, v) if (json_integer_value(v) == 0)
                        json_object_del(c.health, k);
        }
        if (health_cmd && !*health_cmd)
                health_cmd = NULL;
        if (no_healthcheck) {
                if (health_cmd || json_object_size(c.health)) {
                        r = error_setx(err, EINVAL, "--no-healthcheck conflicts with --health-* options");
                        goto out;
                }
                json_object_set_new(o->config, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
        } else if (health_cmd || json_object_size(c.health)) {
                json_t *h = json_object();
                if (health_cmd)
                        json_object_set_new(h, "Test", json_pack("[s, s]", "CMD-SHELL", health_cmd));
                json_object_update(h, c.health);
                json_object_set_new(o->config, "Healthcheck", h);
        }
        o->detach = detach;
        o->seccomp_record = seccomp_record ? xstrdup(seccomp_record) : NULL;
        o->name = name ? xstrdup(name) : NULL;
        if (entrypoint)
                json_object_set_new(o->config, "Entrypoint", *entrypoint ? json_pack("[s]", entrypoint) : json_array());
        if (user)
                json_object_set_new(o->config, "User", json_string(user));
        if (workdir)
                json_object_set_new(o->config, "WorkingDir", json_string(workdir));
        if (hostname)
                json_object_set_new(o->config, "Hostname", json_string(hostname));
        json_object_set_new(o->config, "Tty", json_boolean(tty));
        json_object_set_new(o->config, "OpenStdin", json_boolean(interactive));
        json_object_set_new(o->config, "AttachStdin", json_boolean(interactive && !detach));
        json_object_set_new(o->config, "StdinOnce", json_boolean(interactive && !detach));
        json_object_set_new(o->config, "AttachStdout", json_boolean(!detach));
        json_object_set_new(o->config, "AttachStderr", json_boolean(!detach));
        if (json_array_size(c.env))
                json_object_set(o->config, "Env", c.env);
        if (network)
                json_object_set_new(o->host, "NetworkMode", json_string(network));
        json_object_set_new(o->host, "AutoRemove", json_boolean(rm));
        json_object_set_new(o->host, "Privileged", json_boolean(privileged));
        json_object_set_new(o->host, "ReadonlyRootfs", json_boolean(read_only));
        json_object_set_new(o->host, "OomKillDisable", json_boolean(oom_kill_disable));
        if (pflag_seen(flags, "init"))
                json_object_set_new(o->host, "Init", json_boolean(init));
        if (json_array_size(c.binds))
                json_object_set(o->host, "Binds", c.binds);
        if (json_array_size(c.mounts))
                json_object_set(o->host, "Mounts", c.mounts);
        if (json_array_size(c.volumes_from))
                json_object_set(o->host, "VolumesFrom", c.volumes_from);
        if (json_object_size(c.tmpfs))
                json_object_set(o->host, "Tmpfs", c.tmpfs);
        json_object_set(o->host, "Ulimits", c.ulimits);
        json_object_set(o->host, "SecurityOpt", c.secopts);
        if (json_array_size(c.capadd))
                json_object_set(o->host, "CapAdd", c.capadd);
        if (json_array_size(c.capdrop))
                json_object_set(o->host, "CapDrop", c.capdrop);
        if (json_array_size(c.groupadd))
                json_object_set(o->host, "GroupAdd", c.groupadd);
        if (json_object_size(c.sysctls))
                json_object_set(o->host, "Sysctls", c.sysctls);
        if (json_array_size(c.devices))
                json_object_set(o->host, "Devices", c.devices);
        if (userns)
                json_object_set_new(o->host, "UsernsMode", json_string(userns));
        if (runtime)
                json_object_set_new(o->host, "Runtime", json_string(runtime));
        if (pid)
                json_object_set_new(o->host, "PidMode", json_string(pid));
        if (ipc)
                json_object_set_new(o->host, "IpcMode", json_string(ipc));
        if (uts)
                json_object_set_new(o->host, "UTSMode", json_string(uts));
        if (cgroupns)
                json_object_set_new(o->host, "CgroupnsMode", json_string(cgroupns));
        r = 0;
out:
        json_decref(c.tmpfs);
        json_decref(c.ulimits);
        json_decref(c.binds);
        json_decref(c.volumes_from);
        json_decref(c.mounts);
        json_decref(c.env);
        json_decref(c.secopts);
        json_decref(c.capadd);
        json_decref(c.capdrop);
        json_decref(c.groupadd);
        json_decref(c.sysctls);
        json_decref(c.health);
        json_decref(c.devices);
        if (r < 0)
                runopts_free(o);
        return r;
}

/* ---- dockerd's checks ---- */

static int64_t host_int(json_t *h, const char *k)
{
        return (int64_t)json_integer_value(json_object_get(h, k));
}

static int check_caps(json_t *list, const char *flag, Error **err)
{
        size_t i;
        json_t *v;

        json_array_foreach(list, i, v) {
                const char *n = json_string_value(v);
                if (!n)
                        return error_setx(err, EINVAL, "%s: expected strings", flag);
                if (strcasecmp(n, "ALL") == 0)
                        continue;
                if (caps_from_name(n) < 0)
                        return error_setx(err, EINVAL, "invalid %s: unknown capability: \"%s\"", flag, n);
        }
        return 0;
}

static int check_log_config(Engine *e, json_t *lc, Error **err)
{
        (void)e;
        return log_config_validate(json_string_value(json_object_get(lc, "Type")), json_object_get(lc, "Config"), err);
}

/* dockerd's checks of a HealthConfig (durations at least 1ms), and a known probe type. */
int healthcheck_validate(json_t *hc, Error **err)
{
        static const char *const durs[] = { "Interval", "Timeout", "StartPeriod" };
        json_t *test, *v;
        const char *t0;

        if (!hc || json_is_null(hc))
                return 0;
        if (!json_is_object(hc))
                return error_setx(err, EINVAL, "Healthcheck: must be an object");
        for (size_t i = 0; i < ELEMENTSOF(durs); i++) {
                v = json_object_get(hc, durs[i]);
                if (v && !json_is_integer(v))
                        return error_setx(err, EINVAL, "Healthcheck.%s: must be an integer (nanoseconds)", durs[i]);
                if (json_integer_value(v) != 0 && json_integer_value(v) < 1000000)
                        return error_setx(err, EINVAL, "%s in Healthcheck cannot be less than 1ms", durs[i]);
        }
        v = json_object_get(hc, "Retries");
        if (v && !json_is_integer(v))
                return error_setx(err, EINVAL, "Healthcheck.Retries: must be an integer");
        if (json_integer_value(v) < 0)
                return error_setx(err, EINVAL, "Retries in Healthcheck cannot be negative");
        test = json_object_get(hc, "Test");
        if (!test || json_is_null(test) || json_array_size(test) == 0)
                return 0;
        if (!json_is_array(test) || !(t0 = json_string_value(json_array_get(test, 0))))
                return error_setx(err, EINVAL, "Healthcheck.Test: must be a list of strings");
        for (size_t i = 0; i < json_array_size(test); i++)
                if (!json_is_string(json_array_get(test, i)))
                        return error_setx(err, EINVAL, "Healthcheck.Test: must be a list of strings");
        if (STREQ(t0, "CMD-SHELL") && json_array_size(test) != 2)
                return error_setx(err, EINVAL, "Healthcheck.Test: CMD-SHELL takes one command string");
        if (STREQ(t0, "CMD") && json_array_size(test) < 2)
                return error_setx(err, EINVAL, "Healthcheck.Test: CMD needs a command");
        if (!STREQ(t0, "NONE") && !STREQ(t0, "CMD") && !STREQ(t0, "CMD-SHELL"))
                return error_setx(err, EINVAL, "Healthcheck.Test: unknown type \"%s\" (NONE, CMD or CMD-SHELL)", t0);
        return 0;
}

int hostconfig_validate(Engine *e, json_t *config, json_t *h, char ***warnings, Error **err)
{
        int64_t mem = host_int(h, "Memory"), swap = host_int(h, "MemorySwap"), resv = host_int(h, "MemoryReservation");
        int64_t nano = host_int(h, "NanoCpus"), ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        size_t i;
        json_t *v;
        int r;

        if ((r = healthcheck_validate(json_object_get(config, "Healthcheck"), err)) < 0)
                return r;
        json_array_foreach(json_object_get(h, "Devices"), i, v)
        {
                const char *src = json_string_value(json_object_get(v, "PathOnHost"));
                struct stat st;
                if (!src || stat(src, &st) < 0)
                        return error_setx(err, ENOENT, "error gathering device information while adding custom device \"%s\": %s",
                                          src ? src : "", src ? strerror(errno) : "no PathOnHost");
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                        return error_setx(err, EINVAL, "error gathering device information while adding custom device \"%s\": not a device node",
                                          src);
        }
        if (mem != 0 && mem < 6 * 1024 * 1024)
                return error_setx(err, EINVAL, "Minimum memory limit allowed is 6MB");
        if (swap > 0 && mem == 0)
                return error_setx(err, EINVAL, "You should always set the Memory limit when using Memoryswap limit, see usage");
        if (swap > 0 && swap < mem)
                return error_setx(err, EINVAL, "Minimum memoryswap limit should be larger than memory limit, see usage");
        if (resv < 0 || (mem > 0 && resv > mem))
                return error_setx(err, EINVAL, "Minimum memory limit can not be less than memory reservation limit, see usage");
        if (json_is_integer(json_object_get(h, "MemorySwappiness"))) {
                int64_t s = host_int(h, "MemorySwappiness");
                if (s != -1 && (s < 0 || s > 100))
                        return error_setx(err, EINVAL, "Invalid value: %lld, valid memory swappiness range is 0-100", (long long)s);
        }
        if (nano != 0 && (host_int(h, "CpuPeriod") || host_int(h, "CpuQuota")))
                return error_setx(err, EINVAL, "Conflicting options: Nano CPUs and CPU Period cannot both be set");
        if (nano < 0 || nano > ncpu * 1000000000LL)
                return error_setx(err, EINVAL, "Range of CPUs is from 0.01 to %lld.00, as there are only %lld CPUs available",
                                  (long long)ncpu, (long long)ncpu);
        if (nano > 0 && nano < 10000000)
                return error_setx(err, EINVAL, "Range of CPUs is from 0.01 to %lld.00, as there are only %lld CPUs available",
                                  (long long)ncpu, (long long)ncpu);
        if (host_int(h, "CpuShares") < 0)
                return error_setx(err, EINVAL, "invalid CPU shares %lld: must be positive", (long long)host_int(h, "CpuShares"));
        if (host_int(h, "CpuPeriod") && (host_int(h, "CpuPeriod") < 1000 || host_int(h, "CpuPeriod") > 1000000))
                return error_setx(err, EINVAL, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
        if (host_int(h, "CpuQuota") > 0 && host_int(h, "CpuQuota") < 1000)
                return error_setx(err, EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
        {
                int64_t adj = host_int(h, "OomScoreAdj");
                if (adj < -1000 || adj > 1000)
                        return error_setx(err, EINVAL, "Invalid value %lld, range for oom score adj is [-1000, 1000]", (long long)adj);
        }
        if (json_is_true(json_object_get(h, "OomKillDisable")) && mem == 0)
                strv_push(warnings, "OOM killer is disabled for the container, but no memory limit is set, this can result "
                                    "in the system running out of resources.");
        if (host_int(h, "ShmSize") < 0)
                return error_setx(err, EINVAL, "SHM size can not be less than 0");

        json_array_foreach(json_object_get(h, "Ulimits"), i, v) {
                const char *n = json_string_value(json_object_get(v, "Name"));
                int64_t soft = (int64_t)json_integer_value(json_object_get(v, "Soft"));
                int64_t hard = (int64_t)json_integer_value(json_object_get(v, "Hard"));
                if (!n || ulimit_resource(n) < 0)
                        return error_setx(err, EINVAL, "invalid ulimit type: %s", n ? n : "(none)");
                if ((uint64_t)soft > (uint64_t)hard)
                        return error_setx(err, EINVAL, "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                                          (long long)soft, (long long)hard);
        }

        json_array_foreach(json_object_get(h, "SecurityOpt"), i, v) {
                _cleanup_free_ char *k = NULL, *val = NULL;
                bool colon;
                const char *opt = json_string_value(v);
                if (!opt || security_opt_split(opt, &k, &val, &colon, NULL) < 0)
                        return error_setx(err, EINVAL, "invalid --security-opt %zu: \"%s\"", i + 1, opt ? opt : "");
                if (colon)
                        strv_push(warnings, "Security options with `:` as a separator are deprecated and will be completely "
                                            "unsupported in 17.04, use `=` instead.");
                if (STREQ(k, "no-new-privileges")) {
                        if (!STREQ(val, "true") && !STREQ(val, "false"))
                                return error_setx(err, EINVAL, "invalid --security-opt 2: \"%s\": no-new-privileges takes "
                                                  "true or false", opt);
                } else if (STREQ(k, "seccomp")) {
                        if (!STREQ(val, "unconfined") && !STREQ(val, "builtin") && val[0] != '{')
                                return error_setx(err, EINVAL, "invalid --security-opt %zu: \"%s\": seccomp takes "
                                                  "unconfined or a profile file", i + 1, opt);
                } else if (STREQ(k, "apparmor")) {
                        /* Docker accepts any name and runs unconfined where AppArmor is off: we say so instead. */
                        if (!STREQ(val, "unconfined") && !apparmor_enabled())
                                return error_setx(err, EINVAL, "--security-opt apparmor=%s: AppArmor is not enabled in this "
                                                  "kernel, so the profile cannot be applied (use apparmor=unconfined to "
                                                  "run without it)", val);
                } else if (STREQ(k, "label")) {
                        /* SELinux labels: accepted as dockerd does; this kernel has no SELinux to apply them. */
                } else if (STREQ(k, "systempaths")) {
                        if (!STREQ(val, "unconfined"))
                                return error_setx(err, EINVAL, "invalid --security-opt %zu: \"%s\"", i + 1, opt);
                } else
                        return error_setx(err, EINVAL, "invalid --security-opt %zu: \"%s\"", i + 1, opt);
        }
        r = check_caps(json_object_get(h, "CapAdd"), "--cap-add", err);
        if (r < 0)
                return r;
        r = check_caps(json_object_get(h, "CapDrop"), "--cap-drop", err);
        if (r < 0)
                return r;
        r = check_log_config(e, json_object_get(h, "LogConfig"), err);
        if (r < 0)
                return r;

        {
                const char *net = json_string_value(json_object_get(h, "NetworkMode"));
                if (net && !STREQ(net, "default") && !STREQ(net, "none") && !STREQ(net, "host"))
                        return error_setx(err, EINVAL, "--network %s: stockade has no bridge networking yet: use none (the "
                                          "default: a private network namespace with loopback only) or host", net);
        }
        {
                const char *u = json_string_value(json_object_get(h, "UsernsMode"));
                if (u && *u && !STREQ(u, "host") && !str_has_prefix(u, "auto"))
                        return error_setx(err, EINVAL, "--userns %s: \"host\" (out of daemon.json's userns-remap), "
                                          "\"auto\" or \"auto:size=N\" (a range of its own), or nothing", u);
        }
        {
                static const char *const modes[][2] = { { "PidMode", "--pid" }, { "UTSMode", "--uts" } };
                for (size_t m = 0; m < ELEMENTSOF(modes); m++) {
                        const char *s = json_string_value(json_object_get(h, modes[m][0]));
                        if (s && *s && !STREQ(s, "host"))
                                return error_setx(err, EINVAL, "%s %s: only \"host\" (or nothing) is supported", modes[m][1], s);
                }
                const char *ipc = json_string_value(json_object_get(h, "IpcMode"));
                if (ipc && *ipc && !STREQ(ipc, "private") && !STREQ(ipc, "shareable") && !STREQ(ipc, "host") &&
                    !STREQ(ipc, "none"))
                        return error_setx(err, EINVAL, "--ipc %s: invalid IPC mode (private, shareable, host, none)", ipc);
                const char *cg = json_string_value(json_object_get(h, "CgroupnsMode"));
                if (cg && *cg && !STREQ(cg, "private") && !STREQ(cg, "host"))
                        return error_setx(err, EINVAL, "--cgroupns %s: invalid cgroup namespace mode (host, private)", cg);
        }
        {
                const char *wd = json_string_value(json_object_get(config, "WorkingDir"));
                if (wd && *wd && wd[0] != '/')
                        return error_setx(err, EINVAL, "the working directory '%s' is invalid, it needs to be an absolute path", wd);
        }
        return 0;
}
