/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compose files into a project (compose.h): loading, interpolation, the Compose Specification's merge,
 * the normalised model `config` prints, and each service's `stockade create` flags.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "compose.h"
#include "json-util.h"
#include "pflag.h"
#include "runopts.h"
#include "volume.h"

typedef struct LoadCtx {
        ComposeProject *p;
        json_t *env;            /* interpolation variables */
        json_t *locs;
        json_t *services;       /* the normalised services, while they are built */
} LoadCtx;

/* "file:line" of a key path, or of its nearest parent that has one. */
static const char *loc_of(json_t *locs, const char *path)
{
        _cleanup_free_ char *p = xstrdup(path ? path : "");

        for (;;) {
                const char *l = json_string_value(json_object_get(locs, p));
                char *cut;
                if (l)
                        return l;
                cut = strrchr(p, '.');
                char *br = strrchr(p, '[');
                if (br && (!cut || br > cut))
                        cut = br;
                if (!cut)
                        return NULL;
                *cut = '\0';
        }
}

/* "file:line: path: message", the form of every error, warning and note about a key. */
static char *vat(LoadCtx *c, const char *path, const char *fmt, va_list ap)
{
        _cleanup_free_ char *m = xvasprintf(fmt, ap);
        const char *l = loc_of(c->locs, path);
        return xasprintf("%s%s%s: %s", l ? l : "", l ? ": " : "", path, m);
}

static char *at(LoadCtx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *at(LoadCtx *c, const char *path, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *m = vat(c, path, fmt, ap);
        va_end(ap);
        return m;
}

static int fail_at(LoadCtx *c, Error **err, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(LoadCtx *c, Error **err, const char *path, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        m = vat(c, path, fmt, ap);
        va_end(ap);
        return error_setx(err, EINVAL, "%s", m);
}

static void warn_at(LoadCtx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn_at(LoadCtx *c, const char *path, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        strv_consume(&c->p->warnings, vat(c, path, fmt, ap));
        va_end(ap);
}

/* ---- values ---- */

/* A scalar as text ("512", "true"); NULL for objects, arrays and null. */
static char *scalar_text(json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_STRING:
                return xstrdup(json_string_value(v));
        case JSON_INTEGER:
                return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        case JSON_REAL:
                return xasprintf("%.17g", json_real_value(v));
        case JSON_TRUE:
                return xstrdup("true");
        case JSON_FALSE:
                return xstrdup("false");
        case JSON_OBJECT:
        case JSON_ARRAY:
        case JSON_NULL:
        default:
                return NULL;
        }
}

static int get_bool(LoadCtx *c, json_t *v, const char *path, bool *ret, Error **err)
{
        const char *s = json_string_value(v);
        if (json_is_boolean(v)) {
                *ret = json_is_true(v);
                return 0;
        }
        if (s && (STREQ(s, "true") || STREQ(s, "false"))) {
                *ret = STREQ(s, "true");
                return 0;
        }
        return fail_at(c, err, path, "expected true or false");
}

static int get_int(LoadCtx *c, json_t *v, const char *path, int64_t *ret, Error **err)
{
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (json_is_string(v) && parse_int64(json_string_value(v), ret) == 0)
                return 0;
        _cleanup_free_ char *t = scalar_text(v);
        return fail_at(c, err, path, "expected an integer, got %s%s%s", t ? "\"" : "", t ? t : "a collection", t ? "\"" : "");
}

static int get_size(LoadCtx *c, json_t *v, const char *path, int64_t *ret, Error **err)
{
        _cleanup_free_ char *t = scalar_text(v);
        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v) || parse_size(t, ret) < 0)
                return fail_at(c, err, path, "invalid size \"%s\"", t ? t : "(not a scalar)");
        return 0;
}

static int get_str(LoadCtx *c, json_t *v, const char *path, char **ret, Error **err)
{
        char *t = json_is_string(v) || json_is_number(v) || json_is_boolean(v) ? scalar_text(v) : NULL;
        if (!t)
                return fail_at(c, err, path, "expected a string");
        *ret = t;
        return 0;
}

/* A size into bytes, written back into obj[key] as docker compose's config writes it ("1073741824"). */
static int norm_size(LoadCtx *c, json_t *obj, const char *key, const char *path, char **ret, Error **err)
{
        int64_t n;
        int r = get_size(c, json_object_get(obj, key), path, &n, err);

        if (r < 0)
                return r;
        *ret = xasprintf("%" PRId64, n);
        json_object_set_new(obj, key, json_string(*ret));
        return 0;
}

/* A number of CPUs ("1.5", 2), written back as a number; *ret the text as given, for --cpus. */
static int norm_cpus(LoadCtx *c, json_t *obj, const char *key, const char *path, char **ret, Error **err)
{
        _cleanup_free_ char *t = scalar_text(json_object_get(obj, key));
        int64_t nano;

        if (!t || nanocpus_parse(t, &nano, NULL) < 0)
                return fail_at(c, err, path, "invalid number of CPUs \"%s\"", t ? t : "");
        json_object_set_new(obj, key, json_real((double)nano / 1e9));
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- interpolation over the tree ---- */

static int interpolate_tree(LoadCtx *c, json_t *j, const char *path, Error **err);

/* One value of the tree: a string with a '$' is replaced by its interpolation (*ret), a collection walked. */
static int interpolate_value(LoadCtx *c, json_t *v, const char *path, json_t **ret, Error **err)
{
        _cleanup_free_ char *out = NULL;
        char **w = NULL;
        Error *e = NULL;
        int r;

        *ret = NULL;
        if (json_is_object(v) || json_is_array(v))
                return interpolate_tree(c, v, path, err);
        if (!json_is_string(v) || !strchr(json_string_value(v), '$'))
                return 0;
        r = compose_interpolate(json_string_value(v), c->env, &w, &out, &e);
        for (size_t n = 0; w && w[n]; n++)
                warn_at(c, path, "%s", w[n]);
        strv_free(w);
        if (r < 0) {
                r = fail_at(c, err, path, "%s", e->msg);
                error_free(e);
                return r;
        }
        *ret = json_string(out);
        return 0;
}

static int interpolate_tree(LoadCtx *c, json_t *j, const char *path, Error **err)
{
        const char *k;
        json_t *v, *nv;
        size_t i;
        int r;

        if (json_is_object(j)) {
                json_object_foreach(j, k, v) {
                        _cleanup_free_ char *p = jx_path(path, k);
                        if (str_has_prefix(k, "x-"))
                                continue;
                        if ((r = interpolate_value(c, v, p, &nv, err)) < 0)
                                return r;
                        if (nv)
                                json_object_set_new(j, k, nv);
                }
        } else if (json_is_array(j)) {
                json_array_foreach(j, i, v) {
                        _cleanup_free_ char *p = jx_path_index(path, i);
                        if ((r = interpolate_value(c, v, p, &nv, err)) < 0)
                                return r;
                        if (nv)
                                json_array_set_new(j, i, nv);
                }
        }
        return 0;
}

/* ---- one form for the short syntaxes (before merging, so that files merge key by key) ---- */

/* ["K=V", "K"] or {K: V} into {K: "V"} (null kept: "take it from the environment"). */
static int to_map(LoadCtx *c, json_t *svc, const char *key, const char *path, bool null_is_empty, Error **err)
{
        json_t *v = json_object_get(svc, key), *m;
        _cleanup_free_ char *p = jx_path(path, key);
        const char *k;
        json_t *x;
        size_t i;

        if (!v)
                return 0;
        m = json_object();
        if (json_is_array(v)) {
                json_array_foreach(v, i, x) {
                        _cleanup_free_ char *ip = jx_path_index(p, i), *t = scalar_text(x);
                        if (!t || json_is_null(x)) {
                                json_decref(m);
                                return fail_at(c, err, ip, "expected a string KEY=VALUE");
                        }
                        char *eq = strchr(t, '=');
                        if (eq) {
                                *eq = '\0';
                                json_object_set_new(m, t, json_string(eq + 1));
                        } else
                                json_object_set_new(m, t, null_is_empty ? json_string("") : json_null());
                }
        } else if (json_is_object(v)) {
                json_object_foreach(v, k, x) {
                        _cleanup_free_ char *t = scalar_text(x);
                        if (!t && !json_is_null(x)) {
                                _cleanup_free_ char *kp = jx_path(p, k);
                                json_decref(m);
                                return fail_at(c, err, kp, "expected a string, a number or a boolean");
                        }
                        json_object_set_new(m, k, t ? json_string(t) : null_is_empty ? json_string("") : json_null());
                }
        } else if (!json_is_null(v)) {
                json_decref(m);
                return fail_at(c, err, p, "expected a list of KEY=VALUE or a mapping");
        }
        json_object_set_new(svc, key, m);
        return 0;
}

/* A string into a one-element list; the list's elements must be scalars. */
static int to_list(LoadCtx *c, json_t *svc, const char *key, const char *path, Error **err)
{
        json_t *v = json_object_get(svc, key), *x;
        _cleanup_free_ char *p = jx_path(path, key);
        size_t i;

        if (!v)
                return 0;
        if (json_is_null(v)) {
                json_object_del(svc, key);
                return 0;
        }
        if (json_is_string(v) || json_is_number(v)) {
                char *t = scalar_text(v);
                json_object_set_new(svc, key, json_pack("[s]", t));
                free(t);
                return 0;
        }
        if (!json_is_array(v))
                return fail_at(c, err, p, "expected a string or a list of strings");
        json_array_foreach(v, i, x) {
                _cleanup_free_ char *t = scalar_text(x);
                if (!t) {
                        _cleanup_free_ char *ip = jx_path_index(p, i);
                        return fail_at(c, err, ip, "expected a string");
                }
                json_array_set_new(v, i, json_string(t));
        }
        return 0;
}

/* command / entrypoint: a string is split as a shell would. */
static int to_command(LoadCtx *c, json_t *obj, const char *key, const char *path, Error **err)
{
        json_t *v = json_object_get(obj, key);
        _cleanup_free_ char *p = jx_path(path, key);

        if (!v)
                return 0;
        if (json_is_string(v)) {
                json_t *l = NULL;
                Error *e = NULL;
                if (compose_shell_split(json_string_value(v), &l, &e) < 0) {
                        int r = fail_at(c, err, p, "%s", e->msg);
                        error_free(e);
                        return r;
                }
                json_object_set_new(obj, key, l);
                return 0;
        }
        if (json_is_null(v))
                return 0;
        return to_list(c, obj, key, path, err);
}

static char *abs_path(LoadCtx *c, const char *s)
{
        if (s[0] == '/')
                return xstrdup(s);
        if (s[0] == '~' && (s[1] == '/' || !s[1])) {
                const char *home = json_string_value(json_object_get(c->env, "HOME"));
                return xasprintf("%s%s", home ? home : "/root", s + 1);
        }
        if (STREQ(s, "."))
                return xstrdup(c->p->project_dir);
        return xasprintf("%s/%s", c->p->project_dir, str_has_prefix(s, "./") ? s + 2 : s);
}

/* volumes: "src:dst[:mode]" into the long syntax {type, source, target, read_only}. */
static int to_volumes(LoadCtx *c, json_t *svc, const char *path, Error **err)
{
        json_t *v = json_object_get(svc, "volumes"), *x;
        _cleanup_free_ char *p = jx_path(path, "volumes");
        size_t i;

        if (!v)
                return 0;
        if (!json_is_array(v))
                return fail_at(c, err, p, "expected a list");
        json_array_foreach(v, i, x) {
                _cleanup_free_ char *ip = jx_path_index(p, i);
                if (json_is_string(x)) {
                        _cleanup_strv_ char **parts = NULL;
                        _cleanup_free_ char *s = xstrdup(json_string_value(x));
                        char *save = NULL;
                        json_t *o;
                        for (char *t = strtok_r(s, ":", &save); t; t = strtok_r(NULL, ":", &save))
                                strv_push(&parts, t);
                        size_t n = strv_length(parts);
                        if (n == 0 || n > 3)
                                return fail_at(c, err, ip, "invalid volume \"%s\": expected [SOURCE:]TARGET[:MODE]",
                                               json_string_value(x));
                        if (n == 1) {
                                o = json_pack("{s:s, s:s}", "type", "volume", "target", parts[0]);
                        } else {
                                bool bind = parts[0][0] == '/' || parts[0][0] == '.' || parts[0][0] == '~';
                                _cleanup_free_ char *src = bind ? abs_path(c, parts[0]) : xstrdup(parts[0]);
                                o = json_pack("{s:s, s:s, s:s}", "type", bind ? "bind" : "volume", "source", src, "target",
                                              parts[1]);
                                if (bind)
                                        json_object_set_new(o, "bind", json_pack("{s:b}", "create_host_path", 1));
                                if (n == 3) {
                                        _cleanup_free_ char *modes = xstrdup(parts[2]);
                                        char *sv = NULL;
                                        for (char *m = strtok_r(modes, ",", &sv); m; m = strtok_r(NULL, ",", &sv)) {
                                                if (STREQ(m, "ro"))
                                                        json_object_set_new(o, "read_only", json_true());
                                                else if (STREQ(m, "nocopy") && !bind)
                                                        json_object_set_new(o, "volume", json_pack("{s:b}", "nocopy", 1));
                                                else if (!STREQ(m, "rw")) {
                                                        json_decref(o);
                                                        return fail_at(c, err, ip, "invalid volume \"%s\": mode \"%s\": only ro, "
                                                                       "rw and (for a volume) nocopy are supported",
                                                                       json_string_value(x), m);
                                                }
                                        }
                                }
                        }
                        json_array_set_new(v, i, o);
                } else if (json_is_object(x)) {
                        const char *src = json_string_value(json_object_get(x, "source"));
                        const char *type = json_string_value(json_object_get(x, "type"));
                        if (!type || !json_is_string(json_object_get(x, "target")))
                                return fail_at(c, err, ip, "the long syntax needs type and target");
                        if (STREQ(type, "bind") && src) {
                                _cleanup_free_ char *a = abs_path(c, src);
                                json_object_set_new(x, "source", json_string(a));
                        }
                } else
                        return fail_at(c, err, ip, "expected a string or a mapping");
        }
        return 0;
}

static int to_depends_on(LoadCtx *c, json_t *svc, const char *path, Error **err)
{
        json_t *v = json_object_get(svc, "depends_on"), *m, *x;
        _cleanup_free_ char *p = jx_path(path, "depends_on");
        const char *k;
        size_t i;

        if (!v)
                return 0;
        m = json_object();
        if (json_is_array(v)) {
                json_array_foreach(v, i, x) {
                        if (!json_is_string(x)) {
                                _cleanup_free_ char *ip = jx_path_index(p, i);
                                json_decref(m);
                                return fail_at(c, err, ip, "expected a service name");
                        }
                        json_object_set_new(m, json_string_value(x),
                                            json_pack("{s:s, s:b}", "condition", "service_started", "required", 1));
                }
        } else if (json_is_object(v)) {
                json_object_foreach(v, k, x) {
                        json_t *d = json_pack("{s:s, s:b}", "condition", "service_started", "required", 1);
                        if (json_is_object(x))
                                json_object_update(d, x);
                        else if (!json_is_null(x)) {
                                _cleanup_free_ char *kp = jx_path(p, k);
                                json_decref(d);
                                json_decref(m);
                                return fail_at(c, err, kp, "expected a mapping (condition, required, restart)");
                        }
                        json_object_set_new(m, k, d);
                }
        } else {
                json_decref(m);
                return fail_at(c, err, p, "expected a list of services or a mapping");
        }
        json_object_set_new(svc, "depends_on", m);
        return 0;
}

static int normalise_forms(LoadCtx *c, json_t *svc, const char *path, Error **err)
{
        static const char *const lists[] = { "cap_add", "cap_drop", "security_opt", "tmpfs", "env_file", "dns", "dns_search",
                                             "group_add", "devices", "expose", "ports", "profiles", "links", "external_links" };
        json_t *hc = json_object_get(svc, "healthcheck");
        int r;

        if (!json_is_object(svc))
                return fail_at(c, err, path, "a service must be a mapping");
        if ((r = to_map(c, svc, "environment", path, false, err)) < 0 || (r = to_map(c, svc, "labels", path, true, err)) < 0 ||
            (r = to_map(c, svc, "sysctls", path, true, err)) < 0 || (r = to_map(c, svc, "extra_hosts", path, true, err)) < 0 ||
            (r = to_command(c, svc, "command", path, err)) < 0 || (r = to_command(c, svc, "entrypoint", path, err)) < 0 ||
            (r = to_volumes(c, svc, path, err)) < 0 || (r = to_depends_on(c, svc, path, err)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                if (!STREQ(lists[i], "ports") && (r = to_list(c, svc, lists[i], path, err)) < 0)
                        return r;
        if (json_is_object(hc) && json_is_string(json_object_get(hc, "test"))) {
                json_object_set_new(hc, "test", json_pack("[ss]", "CMD-SHELL", json_string_value(json_object_get(hc, "test"))));
        }
        return 0;
}

/* ---- merging (Compose Specification, "Merge and override") ---- */

static bool scalar_in(json_t *arr, json_t *v)
{
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) if (json_equal(x, v)) return true;
        return false;
}

static void merge_into(json_t *base, json_t *over, const char *path)
{
        const char *k;
        json_t *v;

        json_object_foreach(over, k, v) {
                json_t *b = json_object_get(base, k);
                _cleanup_free_ char *p = jx_path(path, k);
                /* commands are replaced whole */
                bool replace = STREQ(k, "command") || STREQ(k, "entrypoint") || (STREQ(k, "test") && strstr(p, ".healthcheck"));
                if (!b || replace || json_typeof(b) != json_typeof(v) || (!json_is_object(v) && !json_is_array(v))) {
                        json_object_set(base, k, v);
                } else if (json_is_object(v)) {
                        merge_into(b, v, p);
                } else if (STREQ(k, "volumes")) {
                        /* unique by target: a later file's mount of a target replaces the earlier one */
                        size_t i, j;
                        json_t *x, *y;
                        json_array_foreach(v, i, x) {
                                bool done = false;
                                json_array_foreach(b, j, y) {
                                        if (json_equal(json_object_get(x, "target"), json_object_get(y, "target"))) {
                                                json_array_set(b, j, x);
                                                done = true;
                                                break;
                                        }
                                }
                                if (!done)
                                        json_array_append(b, x);
                        }
                } else {
                        size_t i;
                        json_t *x;
                        json_array_foreach(v, i, x) if (!scalar_in(b, x)) json_array_append(b, x);
                }
        }
}

/* ---- services into flags ---- */

static void add_flag(ComposeService *s, const char *flag, const char *value, const char *path)
{
        s->flags = xrealloc(s->flags, (s->n_flags + 1) * sizeof(*s->flags));
        s->flags[s->n_flags++] = (ComposeFlag){ xstrdup(flag), value ? xstrdup(value) : NULL, xstrdup(path) };
}

static void unhonoured(LoadCtx *c, ComposeService *s, const char *path, const char *why)
{
        strv_consume(&s->unhonoured, at(c, path, "not honoured: %s", why));
}

/* Checks one flag alone through `stockade create`'s parser, so an error names the compose key and line. */
static int check_flag(LoadCtx *c, const ComposeFlag *f, Error **err)
{
        _cleanup_free_ char *arg = f->value ? xasprintf("%s=%s", f->flag, f->value) : xstrdup(f->flag);
        char *argv[] = { (char *)"create", arg, (char *)"compose-check", NULL };
        RunOpts o = { 0 };
        Error *e = NULL;
        int idx = 1, r;

        r = runopts_parse(false, 3, argv, &idx, &o, &e);
        runopts_free(&o);
        if (r < 0) {
                r = fail_at(c, err, f->path, "%s", e->msg);
                error_free(e);
        }
        return r;
}

/* The first n flags of a service through the parser and dockerd's checks (hostconfig_validate); 0 or -errno. */
static int validate_flags(ComposeService *s, size_t n, Error **err)
{
        char **argv = NULL;
        char **warnings = NULL;
        RunOpts o = { 0 };
        int idx = 1, r;

        strv_push(&argv, "create");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *a = s->flags[i].value ? xasprintf("%s=%s", s->flags[i].flag, s->flags[i].value) : NULL;
                strv_push(&argv, a ? a : s->flags[i].flag);
        }
        strv_push(&argv, "compose-check");
        r = runopts_parse(false, (int)strv_length(argv), argv, &idx, &o, err);
        if (r >= 0)
                r = hostconfig_validate(NULL, o.config, o.host, &warnings, err);
        runopts_free(&o);
        strv_free(warnings);
        strv_free(argv);
        return r;
}

/*
 * dockerd's checks over the whole service (a memory reservation above the limit, an unknown capability,
 * a log option the driver lacks...).  The error is put on the first flag whose addition makes the
 * checks fail, the key most likely at fault.
 */
static int check_service(LoadCtx *c, ComposeService *s, const char *path, Error **err)
{
        Error *e = NULL;
        int r;

        if (validate_flags(s, s->n_flags, &e) >= 0)
                return 0;
        for (size_t k = 1; k <= s->n_flags; k++) {
                Error *e2 = NULL;
                if (validate_flags(s, k, &e2) < 0) {
                        r = fail_at(c, err, s->flags[k - 1].path, "%s", e2->msg);
                        error_free(e2);
                        error_free(e);
                        return r;
                }
        }
        r = fail_at(c, err, path, "%s", e->msg);
        error_free(e);
        return r;
}

typedef enum { K_STR, K_BOOL, K_INT, K_SIZE, K_LIST } Kind;

static const struct {
        const char *key;
        Kind kind;
        const char *flag;
} simple_keys[] = {
        { "user", K_STR, "--user" },
        { "working_dir", K_STR, "--workdir" },
        { "hostname", K_STR, "--hostname" },
        { "network_mode", K_STR, "--network" },
        { "userns_mode", K_STR, "--userns" },
        { "pid", K_STR, "--pid" },
        { "ipc", K_STR, "--ipc" },
        { "uts", K_STR, "--uts" },
        { "cgroup", K_STR, "--cgroupns" },
        { "runtime", K_STR, "--runtime" },
        { "stop_signal", K_STR, "--stop-signal" },
        { "cpuset", K_STR, "--cpuset-cpus" },
        { "restart", K_STR, "--restart" },
        { "read_only", K_BOOL, "--read-only" },
        { "privileged", K_BOOL, "--privileged" },
        { "oom_kill_disable", K_BOOL, "--oom-kill-disable" },
        { "init", K_BOOL, "--init" },
        { "tty", K_BOOL, "--tty" },
        { "stdin_open", K_BOOL, "--interactive" },
        { "oom_score_adj", K_INT, "--oom-score-adj" },
        { "pids_limit", K_INT, "--pids-limit" },
        { "cpu_shares", K_INT, "--cpu-shares" },
        { "cpu_quota", K_INT, "--cpu-quota" },
        { "cpu_period", K_INT, "--cpu-period" },
        { "mem_swappiness", K_INT, "--memory-swappiness" },
        { "mem_limit", K_SIZE, "--memory" },
        { "memswap_limit", K_SIZE, "--memory-swap" },
        { "mem_reservation", K_SIZE, "--memory-reservation" },
        { "shm_size", K_SIZE, "--shm-size" },
        { "cap_add", K_LIST, "--cap-add" },
        { "cap_drop", K_LIST, "--cap-drop" },
        { "group_add", K_LIST, "--group-add" },
        { "tmpfs", K_LIST, "--tmpfs" },
        { "devices", K_LIST, "--device" },
};

/* Keys the engine has no counterpart for yet, and why. */
static const struct {
        const char *key;
        const char *why;
} unsupported_keys[] = {
        { "ports", "the engine has no port publishing yet (a container has its own network namespace with only "
                   "loopback, or the host's with network_mode: host)" },
        { "expose", "the engine has no container networks yet" },
        { "networks", "the engine has no container networks yet: services cannot reach each other by name" },
        { "links", "the engine has no container networks yet" },
        { "external_links", "the engine has no container networks yet" },
        { "extra_hosts", "the engine has no --add-host yet" },
        { "dns", "the engine has no --dns yet (a container gets the host's resolv.conf)" },
        { "dns_search", "the engine has no --dns-search yet" },
        { "mac_address", "the engine has no container networks yet" },
        { "domainname", "the engine has no --domainname yet" },
        { "platform", "images are used as they are, for this machine's platform" },
        { "pull_policy", "the engine has no registry client: images are imported or loaded" },
        { "profiles", "stockade compose has no profiles: every service is started" },
        { "secrets", "the engine has no secrets store: nothing is mounted at /run/secrets" },
        { "configs", "the engine has no configs store: nothing is mounted for them" },
        { "scale", "one container per service" },
};

static const char *const known_other[] = { "image", "build", "command", "entrypoint", "environment", "env_file", "labels",
                                           "sysctls", "ulimits", "logging", "volumes", "depends_on", "healthcheck",
                                           "container_name", "stop_grace_period", "deploy", "security_opt", "cpus",
                                           "volumes_from" };

static bool is_socket_path(const char *p)
{
        static const char *const socks[] = { "/var/run/docker.sock", "/run/docker.sock", "/run/stockade/stockade.sock",
                                             "/var/run/stockade/stockade.sock", "/run/podman/podman.sock",
                                             "/run/containerd/containerd.sock" };
        char real[PATH_MAX];
        for (size_t i = 0; i < ELEMENTSOF(socks); i++)
                if (STREQ(p, socks[i]))
                        return true;
        if (realpath(p, real))
                for (size_t i = 0; i < ELEMENTSOF(socks); i++)
                        if (STREQ(real, socks[i]))
                                return true;
        size_t n = strlen(p);
        return (n >= 11 && STREQ(p + n - 11, "docker.sock")) || (n >= 13 && STREQ(p + n - 13, "stockade.sock"));
}

/*
 * A `type: volume` mount: a project volume by its key, as its engine name (`--volume NAME:/dst`), or
 * without a source an anonymous one (`--volume /dst`, or `--mount` when it has options).
 */
static int svc_volume(LoadCtx *c, ComposeService *s, json_t *x, const char *path, const char *src, const char *dst, bool ro,
                      Error **err)
{
        json_t *opts = json_object_get(x, "volume"), *o;
        _cleanup_free_ char *arg = NULL;
        bool nocopy = false;
        const char *k;
        int r;

        if (opts && !json_is_object(opts)) {
                _cleanup_free_ char *p = jx_path(path, "volume");
                return fail_at(c, err, p, "expected a mapping (nocopy)");
        }
        json_object_foreach(opts, k, o) {
                _cleanup_free_ char *p = xasprintf("%s.volume.%s", path, k);
                if (!STREQ(k, "nocopy"))
                        warn_at(c, p, "unknown key, ignored");
                else if ((r = get_bool(c, o, p, &nocopy, err)) < 0)
                        return r;
        }
        if (src && *src) {
                ComposeVolume *cv = compose_volume(c->p, src);
                if (!cv)
                        return fail_at(c, err, path, "service \"%s\" refers to undefined volume %s: invalid compose project",
                                       s->name, src);
                arg = xasprintf("%s:%s%s%s%s", cv->name, dst, ro || nocopy ? ":" : "", ro ? "ro" : "",
                                nocopy ? (ro ? ",nocopy" : "nocopy") : "");
                add_flag(s, "--volume", arg, path);
                if (!strv_contains(s->volumes, src))
                        strv_push(&s->volumes, src);
        } else if (ro || nocopy) {
                arg = xasprintf("type=volume,target=%s%s%s", dst, ro ? ",readonly" : "", nocopy ? ",volume-nocopy" : "");
                add_flag(s, "--mount", arg, path);
        } else
                add_flag(s, "--volume", dst, path);
        return 0;
}

static int svc_volumes(LoadCtx *c, ComposeService *s, json_t *v, const char *path, Error **err)
{
        size_t i;
        json_t *x;

        json_array_foreach(v, i, x) {
                _cleanup_free_ char *ip = jx_path_index(path, i), *arg = NULL;
                const char *type = json_string_value(json_object_get(x, "type"));
                const char *src = json_string_value(json_object_get(x, "source"));
                const char *dst = json_string_value(json_object_get(x, "target"));
                bool ro = json_is_true(json_object_get(x, "read_only"));
                if (STREQ(type, "bind")) {
                        if (!src)
                                return fail_at(c, err, ip, "a bind mount needs a source");
                        if (is_socket_path(src))
                                strv_consume(&s->socket_mounts, xasprintf("%s: %s", ip, src));
                        arg = xasprintf("%s:%s%s", src, dst, ro ? ":ro" : "");
                        add_flag(s, "--volume", arg, ip);
                } else if (STREQ(type, "tmpfs")) {
                        json_t *size = json_object_get(json_object_get(x, "tmpfs"), "size");
                        int64_t n = 0;
                        if (size) {
                                _cleanup_free_ char *sp = jx_path(ip, "tmpfs.size");
                                int r = get_size(c, size, sp, &n, err);
                                if (r < 0)
                                        return r;
                        }
                        arg = n ? xasprintf("%s:size=%" PRId64 "%s", dst, n, ro ? ",ro" : "") : xasprintf("%s%s", dst, ro ? ":ro" : "");
                        add_flag(s, "--tmpfs", arg, ip);
                } else if (STREQ(type, "volume")) {
                        int r = svc_volume(c, s, x, ip, src, dst, ro, err);
                        if (r < 0)
                                return r;
                } else
                        return fail_at(c, err, ip, "volume type \"%s\": expected bind, volume or tmpfs", type);
        }
        return 0;
}

static int svc_deploy(LoadCtx *c, ComposeService *s, json_t *svc, json_t *d, const char *path, Error **err)
{
        json_t *res = json_object_get(d, "resources"), *lim = json_object_get(res, "limits"),
               *resv = json_object_get(res, "reservations"), *v;
        const char *k;
        int r;

        if (!json_is_object(d))
                return fail_at(c, err, path, "expected a mapping");
        json_object_foreach(d, k, v) {
                _cleanup_free_ char *p = jx_path(path, k);
                if (STREQ(k, "resources") || STREQ(k, "restart_policy"))
                        continue;
                if (STREQ(k, "replicas")) {
                        int64_t n;
                        if ((r = get_int(c, v, p, &n, err)) < 0)
                                return r;
                        if (n != 1)
                                unhonoured(c, s, p, "one container per service");
                        continue;
                }
                unhonoured(c, s, p, "a swarm setting; ignored, as docker compose ignores it outside swarm");
        }
        json_object_foreach(lim, k, v) {
                _cleanup_free_ char *p = xasprintf("%s.resources.limits.%s", path, k), *t = NULL;
                if (STREQ(k, "memory") || STREQ(k, "cpus")) {
                        bool mem = STREQ(k, "memory");
                        if ((r = mem ? norm_size(c, lim, k, p, &t, err) : norm_cpus(c, lim, k, p, &t, err)) < 0)
                                return r;
                        add_flag(s, mem ? "--memory" : "--cpus", t, p);
                } else if (STREQ(k, "pids")) {
                        int64_t n;
                        if ((r = get_int(c, v, p, &n, err)) < 0)
                                return r;
                        json_object_set_new(lim, k, json_integer(n));
                        t = xasprintf("%" PRId64, n);
                        add_flag(s, "--pids-limit", t, p);
                } else
                        warn_at(c, p, "unknown key, ignored");
        }
        json_object_foreach(resv, k, v) {
                _cleanup_free_ char *p = xasprintf("%s.resources.reservations.%s", path, k), *t = NULL;
                if (STREQ(k, "memory")) {
                        if ((r = norm_size(c, resv, k, p, &t, err)) < 0)
                                return r;
                        add_flag(s, "--memory-reservation", t, p);
                } else if (STREQ(k, "cpus")) {
                        if ((r = norm_cpus(c, resv, k, p, &t, err)) < 0)
                                return r;
                        unhonoured(c, s, p, "a container has no CPU reservation (docker compose ignores it outside swarm too)");
                } else if (STREQ(k, "devices") || STREQ(k, "generic_resources")) {
                        unhonoured(c, s, p, "the engine has no device requests");
                } else
                        warn_at(c, p, "unknown key, ignored");
        }
        json_t *rp = json_object_get(d, "restart_policy");
        if (rp && !json_object_get(svc, "restart")) {
                _cleanup_free_ char *p = jx_path(path, "restart_policy");
                const char *cond = json_string_value(json_object_get(rp, "condition")) ?: "any";
                json_t *max = json_object_get(rp, "max_attempts");
                int64_t n = 0;
                _cleanup_free_ char *pol = NULL;
                if (max && (r = get_int(c, max, p, &n, err)) < 0)
                        return r;
                if (STREQ(cond, "none"))
                        pol = xstrdup("no");
                else if (STREQ(cond, "on-failure"))
                        pol = n ? xasprintf("on-failure:%" PRId64, n) : xstrdup("on-failure");
                else if (STREQ(cond, "any"))
                        pol = xstrdup("always");
                else
                        return fail_at(c, err, p, "condition \"%s\": expected none, on-failure or any", cond);
                add_flag(s, "--restart", pol, p);
        }
        return 0;
}

static int svc_healthcheck(LoadCtx *c, ComposeService *s, json_t *hc, const char *path, Error **err)
{
        json_t *test = json_object_get(hc, "test");
        bool disable = false;
        int64_t ms;
        int r;

        if (!json_is_object(hc))
                return fail_at(c, err, path, "expected a mapping");
        if (json_object_get(hc, "disable") && (r = get_bool(c, json_object_get(hc, "disable"), path, &disable, err)) < 0)
                return r;
        if (disable) {
                s->engine_healthcheck = json_pack("{s:[s]}", "Test", "NONE");
                return 0;
        }
        if (!json_is_array(test) || json_array_size(test) < 1 || !json_is_string(json_array_get(test, 0)))
                return fail_at(c, err, path, "test: expected a string or a list [\"CMD\", ...] / [\"CMD-SHELL\", \"...\"]");
        const char *kind = json_string_value(json_array_get(test, 0));
        if (STREQ(kind, "NONE")) {
                s->engine_healthcheck = json_pack("{s:[s]}", "Test", "NONE");
                return 0;
        }
        if (!STREQ(kind, "CMD") && !STREQ(kind, "CMD-SHELL"))
                return fail_at(c, err, path, "test: the first word must be CMD, CMD-SHELL or NONE, not \"%s\"", kind);
        if (json_array_size(test) < 2)
                return fail_at(c, err, path, "test: no command after %s", kind);
        s->healthcheck = json_pack("{s:O, s:I, s:I, s:I, s:I}", "test", test, "interval_ms", (json_int_t)30000, "timeout_ms",
                                   (json_int_t)30000, "start_period_ms", (json_int_t)0, "retries", (json_int_t)3);
        s->engine_healthcheck = json_pack("{s:O}", "Test", test);
        static const char *const durs[] = { "interval", "timeout", "start_period", "start_interval" };
        for (size_t i = 0; i < ELEMENTSOF(durs); i++) {
                json_t *v = json_object_get(hc, durs[i]);
                _cleanup_free_ char *p = jx_path(path, durs[i]), *t = NULL;
                if (!v)
                        continue;
                t = scalar_text(v);
                if (!t || parse_duration_ms(t, &ms) < 0 || ms < 0)
                        return fail_at(c, err, p, "invalid duration \"%s\" (Go's syntax: 30s, 1m30s)", t ? t : "");
                if (ms > INT64_MAX / 1000000)
                        return fail_at(c, err, p, "duration \"%s\" out of range", t);
                if (i < 3) {
                        static const char *const engine_names[] = { "Interval", "Timeout", "StartPeriod" };
                        _cleanup_free_ char *f = xasprintf("%s_ms", durs[i]);
                        json_object_set_new(s->healthcheck, f, json_integer(ms));
                        json_object_set_new(s->engine_healthcheck, engine_names[i], json_integer(ms * 1000000));
                }
        }
        if (json_object_get(hc, "retries")) {
                int64_t n;
                _cleanup_free_ char *p = jx_path(path, "retries");
                if ((r = get_int(c, json_object_get(hc, "retries"), p, &n, err)) < 0)
                        return r;
                if (n < 1 || n > 1000)
                        return fail_at(c, err, p, "expected 1 to 1000");
                json_object_set_new(s->healthcheck, "retries", json_integer(n));
                json_object_set_new(s->engine_healthcheck, "Retries", json_integer(n));
        }
        return 0;
}

/* labels, sysctls: one flag KEY=VALUE per entry of the (normalised) mapping. */
static int map_flags(LoadCtx *c, ComposeService *s, json_t *svc, const char *key, const char *path, const char *flag,
                     Error **err)
{
        _cleanup_free_ char *p = jx_path(path, key);
        const char *k;
        json_t *x;

        json_object_foreach(json_object_get(svc, key), k, x) {
                _cleanup_free_ char *kp = jx_path(p, k), *kv = xasprintf("%s=%s", k, json_string_value(x));
                if (STREQ(flag, "--label") && str_has_prefix(k, "com.docker.compose."))
                        return fail_at(c, err, kp, "labels com.docker.compose.* are compose's own");
                add_flag(s, flag, kv, kp);
        }
        return 0;
}

static int volumes_from_entry(LoadCtx *c, json_t *services, json_t *v, const char *path, char **ret_service,
                              char **ret_name, char **ret_mode, Error **err);

static int build_service(LoadCtx *c, const char *name, json_t *svc, ComposeService *s, Error **err)
{
        _cleanup_free_ char *path = xasprintf("services.%s", name);
        const char *k;
        json_t *v;
        void *tmp;
        int r;

        s->name = xstrdup(name);
        json_object_foreach_safe(svc, tmp, k, v) {
                _cleanup_free_ char *p = jx_path(path, k);
                bool known = false;

                if (str_has_prefix(k, "x-")) {
                        json_object_del(svc, k);
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(simple_keys) && !known; i++) {
                        if (!STREQ(k, simple_keys[i].key))
                                continue;
                        known = true;
                        if (json_is_null(v))
                                break;
                        switch (simple_keys[i].kind) {
                        case K_STR: {
                                _cleanup_free_ char *t = NULL;
                                if ((r = get_str(c, v, p, &t, err)) < 0)
                                        return r;
                                json_object_set_new(svc, k, json_string(t));
                                add_flag(s, simple_keys[i].flag, t, p);
                                break;
                        }
                        case K_BOOL: {
                                bool b;
                                if ((r = get_bool(c, v, p, &b, err)) < 0)
                                        return r;
                                json_object_set_new(svc, k, json_boolean(b));
                                add_flag(s, simple_keys[i].flag, b ? "true" : "false", p);
                                break;
                        }
                        case K_INT: {
                                int64_t n;
                                if ((r = get_int(c, v, p, &n, err)) < 0)
                                        return r;
                                json_object_set_new(svc, k, json_integer(n));
                                _cleanup_free_ char *t = xasprintf("%" PRId64, n);
                                add_flag(s, simple_keys[i].flag, t, p);
                                break;
                        }
                        case K_SIZE: {
                                _cleanup_free_ char *t = NULL;
                                if ((r = norm_size(c, svc, k, p, &t, err)) < 0)
                                        return r;
                                add_flag(s, simple_keys[i].flag, t, p);
                                break;
                        }
                        case K_LIST: {
                                size_t j;
                                json_t *x;
                                json_array_foreach(v, j, x) {
                                        _cleanup_free_ char *ip = jx_path_index(p, j);
                                        add_flag(s, simple_keys[i].flag, json_string_value(x), ip);
                                }
                                break;
                        }
                        default:
                                break;
                        }
                }
                for (size_t i = 0; i < ELEMENTSOF(unsupported_keys) && !known; i++)
                        if (STREQ(k, unsupported_keys[i].key)) {
                                known = true;
                                unhonoured(c, s, p, unsupported_keys[i].why);
                        }
                for (size_t i = 0; i < ELEMENTSOF(known_other) && !known; i++)
                        known = STREQ(k, known_other[i]);
                if (!known) {
                        warn_at(c, p, "unknown key, ignored");
                        json_object_del(svc, k);
                }
        }

        /* the keys that need more than one flag, or none */
        if ((v = json_object_get(svc, "image")) && !json_is_null(v)) {
                _cleanup_free_ char *p = jx_path(path, "image");
                if ((r = get_str(c, v, p, &s->image, err)) < 0)
                        return r;
                if (!*s->image)
                        return fail_at(c, err, p, "an empty image name");
        }
        if (json_object_get(svc, "build")) {
                _cleanup_free_ char *p = jx_path(path, "build");
                if (!s->image)
                        strv_consume(&s->blocking, at(c, p, "the engine has no image builder: give an image (import or load it "
                                                         "first)"));
                else
                        unhonoured(c, s, p, "the engine has no image builder: the image is used as it is");
        }
        if (!s->image && !json_object_get(svc, "build"))
                return fail_at(c, err, path, "has neither image nor build");
        if ((v = json_object_get(svc, "container_name")) && !json_is_null(v)) {
                _cleanup_free_ char *p = jx_path(path, "container_name");
                if ((r = get_str(c, v, p, &s->container_name, err)) < 0)
                        return r;
                add_flag(s, "--name", s->container_name, p);
        }
        if ((v = json_object_get(svc, "cpus")) && !json_is_null(v)) {
                _cleanup_free_ char *p = jx_path(path, "cpus"), *t = NULL;
                if ((r = norm_cpus(c, svc, "cpus", p, &t, err)) < 0)
                        return r;
                add_flag(s, "--cpus", t, p);
        }
        if ((v = json_object_get(svc, "security_opt"))) {
                _cleanup_free_ char *p = jx_path(path, "security_opt");
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                        _cleanup_free_ char *ip = jx_path_index(p, i), *opt = xstrdup(json_string_value(x));
                        /* a seccomp profile path is the project directory's, as the compose file's other paths */
                        if ((str_has_prefix(opt, "seccomp:") || str_has_prefix(opt, "seccomp=")) && !STREQ(opt + 8, "unconfined") &&
                            opt[8] && opt[8] != '/' && opt[8] != '{') {
                                _cleanup_free_ char *a = abs_path(c, opt + 8);
                                free(opt);
                                opt = xasprintf("seccomp=%s", a);
                        }
                        add_flag(s, "--security-opt", opt, ip);
                }
        }
        if ((v = json_object_get(svc, "env_file"))) {
                _cleanup_free_ char *p = jx_path(path, "env_file");
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                        _cleanup_free_ char *ip = jx_path_index(p, i), *a = abs_path(c, json_string_value(x));
                        json_array_set_new(v, i, json_string(a));
                        add_flag(s, "--env-file", a, ip);
                }
        }
        if ((v = json_object_get(svc, "environment"))) {
                _cleanup_free_ char *p = jx_path(path, "environment");
                json_t *x;
                json_object_foreach(v, k, x) {
                        _cleanup_free_ char *kp = jx_path(p, k), *kv = NULL;
                        const char *val = json_string_value(x);
                        if (!val) {
                                /* KEY alone: from the environment compose runs in (and .env), else left out */
                                val = json_string_value(json_object_get(c->env, k));
                                if (!val)
                                        continue;
                        }
                        kv = xasprintf("%s=%s", k, val);
                        add_flag(s, "--env", kv, kp);
                }
        }
        if ((r = map_flags(c, s, svc, "labels", path, "--label", err)) < 0 ||
            (r = map_flags(c, s, svc, "sysctls", path, "--sysctl", err)) < 0)
                return r;
        if ((v = json_object_get(svc, "ulimits"))) {
                _cleanup_free_ char *p = jx_path(path, "ulimits");
                json_t *x;
                if (!json_is_object(v))
                        return fail_at(c, err, p, "expected a mapping of limits");
                json_object_foreach(v, k, x) {
                        _cleanup_free_ char *kp = jx_path(p, k), *kv = NULL;
                        int64_t soft, hard;
                        if (json_is_object(x)) {
                                _cleanup_free_ char *sp = jx_path(kp, "soft"), *hp = jx_path(kp, "hard");
                                if (!json_object_get(x, "soft") || !json_object_get(x, "hard"))
                                        return fail_at(c, err, kp, "expected both soft and hard");
                                if ((r = get_int(c, json_object_get(x, "soft"), sp, &soft, err)) < 0 ||
                                    (r = get_int(c, json_object_get(x, "hard"), hp, &hard, err)) < 0)
                                        return r;
                                json_object_set_new(v, k, json_pack("{s:I, s:I}", "soft", (json_int_t)soft, "hard", (json_int_t)hard));
                        } else {
                                if ((r = get_int(c, x, kp, &soft, err)) < 0)
                                        return r;
                                hard = soft;
                                json_object_set_new(v, k, json_integer(soft));
                        }
                        kv = xasprintf("%s=%" PRId64 ":%" PRId64, k, soft, hard);
                        add_flag(s, "--ulimit", kv, kp);
                }
        }
        if ((v = json_object_get(svc, "logging"))) {
                _cleanup_free_ char *p = jx_path(path, "logging");
                json_t *drv = json_object_get(v, "driver"), *opts = json_object_get(v, "options"), *x;
                if (!json_is_object(v))
                        return fail_at(c, err, p, "expected a mapping (driver, options)");
                json_object_foreach(v, k, x) if (!STREQ(k, "driver") && !STREQ(k, "options")) {
                        _cleanup_free_ char *kp = jx_path(p, k);
                        warn_at(c, kp, "unknown key, ignored");
                }
                if (drv) {
                        _cleanup_free_ char *dp = jx_path(p, "driver"), *t = NULL;
                        if ((r = get_str(c, drv, dp, &t, err)) < 0)
                                return r;
                        add_flag(s, "--log-driver", t, dp);
                }
                if (opts && !json_is_object(opts)) {
                        _cleanup_free_ char *op = jx_path(p, "options");
                        return fail_at(c, err, op, "expected a mapping");
                }
                json_object_foreach(opts, k, x) {
                        _cleanup_free_ char *kp = xasprintf("%s.options.%s", p, k), *t = scalar_text(x), *kv = NULL;
                        if (!t)
                                return fail_at(c, err, kp, "expected a string");
                        json_object_set_new(opts, k, json_string(t));
                        kv = xasprintf("%s=%s", k, t);
                        add_flag(s, "--log-opt", kv, kp);
                }
        }
        if ((v = json_object_get(svc, "stop_grace_period"))) {
                _cleanup_free_ char *p = jx_path(path, "stop_grace_period"), *t = scalar_text(v), *secs = NULL;
                int64_t ms;
                if (!t || parse_duration_ms(t, &ms) < 0 || ms < 0)
                        return fail_at(c, err, p, "invalid duration \"%s\" (Go's syntax: 10s, 1m30s)", t ? t : "");
                secs = xasprintf("%" PRId64, (ms + 999) / 1000);
                add_flag(s, "--stop-timeout", secs, p);
        }
        if ((v = json_object_get(svc, "volumes"))) {
                _cleanup_free_ char *p = jx_path(path, "volumes");
                if ((r = svc_volumes(c, s, v, p, err)) < 0)
                        return r;
        }
        if ((v = json_object_get(svc, "volumes_from"))) {
                json_t *services = c->services, *x;
                size_t i;
                if (!json_is_array(v)) {
                        _cleanup_free_ char *p = jx_path(path, "volumes_from");
                        return fail_at(c, err, p, "expected a list");
                }
                json_array_foreach(v, i, x) {
                        _cleanup_free_ char *p = xasprintf("%s.volumes_from[%zu]", path, i), *from = NULL, *n = NULL,
                                            *mode = NULL, *cname = NULL, *arg = NULL;
                        if ((r = volumes_from_entry(c, services, x, p, &from, &n, &mode, err)) < 0)
                                return r;
                        if (from) {
                                /* the service's container: its container_name, else compose's own name */
                                const char *cn = json_string_value(json_object_get(json_object_get(services, from), "container_name"));
                                cname = cn ? xstrdup(cn) : xasprintf("%s-%s-1", c->p->name, from);
                        }
                        arg = xasprintf("%s%s%s", cname ? cname : n, *mode ? ":" : "", mode);
                        add_flag(s, "--volumes-from", arg, p);
                }
        }
        if ((v = json_object_get(svc, "deploy"))) {
                _cleanup_free_ char *p = jx_path(path, "deploy");
                if ((r = svc_deploy(c, s, svc, v, p, err)) < 0)
                        return r;
        }
        if ((v = json_object_get(svc, "healthcheck"))) {
                _cleanup_free_ char *p = jx_path(path, "healthcheck");
                if ((r = svc_healthcheck(c, s, v, p, err)) < 0)
                        return r;
        }
        if ((v = json_object_get(svc, "command")) && json_is_array(v))
                s->command = json_incref(v);
        if ((v = json_object_get(svc, "entrypoint")) && json_is_array(v))
                s->entrypoint = json_incref(v);
        s->depends_on = json_incref(json_object_get(svc, "depends_on"));

        /* the same limit given twice (mem_limit and deploy's memory) must agree, as docker compose requires */
        static const char *const once[] = { "--memory", "--cpus", "--pids-limit", "--memory-reservation" };
        for (size_t i = 0; i < ELEMENTSOF(once); i++) {
                const ComposeFlag *first = NULL;
                for (size_t j = 0; j < s->n_flags; j++) {
                        if (!STREQ(s->flags[j].flag, once[i]))
                                continue;
                        int64_t a = 0, b = 0;
                        bool same = first && (STREQ(first->value, s->flags[j].value) ||
                                              (STREQ(once[i], "--cpus") && nanocpus_parse(first->value, &a, NULL) == 0 &&
                                               nanocpus_parse(s->flags[j].value, &b, NULL) == 0 && a == b));
                        if (first && !same)
                                return fail_at(c, err, s->flags[j].path, "%s disagrees with %s (%s)", s->flags[j].value,
                                               first->path, first->value);
                        first = &s->flags[j];
                }
        }
        for (size_t j = 0; j < s->n_flags; j++)
                if ((r = check_flag(c, &s->flags[j], err)) < 0)
                        return r;
        if ((r = check_service(c, s, path, err)) < 0)
                return r;
        s->model = json_incref(svc);
        return 0;
}

/* ---- the project ---- */

static void service_clear(ComposeService *s)
{
        free(s->name);
        json_decref(s->model);
        free(s->image);
        json_decref(s->entrypoint);
        json_decref(s->command);
        for (size_t i = 0; i < s->n_flags; i++) {
                free(s->flags[i].flag);
                free(s->flags[i].value);
                free(s->flags[i].path);
        }
        free(s->flags);
        json_decref(s->depends_on);
        json_decref(s->healthcheck);
        json_decref(s->engine_healthcheck);
        free(s->container_name);
        free(s->config_hash);
        strv_free(s->unhonoured);
        strv_free(s->socket_mounts);
        strv_free(s->blocking);
        strv_free(s->volumes);
}

ComposeProject *compose_project_free(ComposeProject *p)
{
        if (!p)
                return NULL;
        free(p->name);
        free(p->project_dir);
        strv_free(p->files);
        json_decref(p->model);
        for (size_t i = 0; i < p->n_services; i++)
                service_clear(&p->services[i]);
        free(p->services);
        for (size_t i = 0; i < p->n_volumes; i++) {
                free(p->volumes[i].key);
                free(p->volumes[i].name);
                free(p->volumes[i].where);
                json_decref(p->volumes[i].labels);
                json_decref(p->volumes[i].driver_opts);
        }
        free(p->volumes);
        strv_free(p->warnings);
        strv_free(p->unhonoured);
        json_decref(p->locs);
        free(p);
        return NULL;
}

ComposeService *compose_service(ComposeProject *p, const char *name)
{
        for (size_t i = 0; i < p->n_services; i++)
                if (STREQ(p->services[i].name, name))
                        return &p->services[i];
        return NULL;
}

ComposeVolume *compose_volume(ComposeProject *p, const char *key)
{
        for (size_t i = 0; i < p->n_volumes; i++)
                if (STREQ(p->volumes[i].key, key))
                        return &p->volumes[i];
        return NULL;
}

char *compose_container_name(ComposeProject *p, ComposeService *s)
{
        return s->container_name ? xstrdup(s->container_name) : xasprintf("%s-%s-1", p->name, s->name);
}

/* Docker compose's project names: lower case letters, digits, '-' and '_', starting with a letter or digit. */
static char *project_name_normalise(const char *s)
{
        Buf b = { 0 };
        for (; *s; s++) {
                char ch = (char)tolower((unsigned char)*s);
                if (isalnum((unsigned char)ch) || ((ch == '-' || ch == '_') && b.len))
                        buf_putc(&b, ch);
        }
        char *r = xstrdup(b.len ? buf_cstr(&b) : "");
        buf_free(&b);
        return r;
}

static void env_from_strv(json_t *env, char **v)
{
        for (size_t i = 0; v && v[i]; i++) {
                const char *eq = strchr(v[i], '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *k = xstrndup(v[i], (size_t)(eq - v[i]));
                json_t *s = json_string(eq + 1);
                if (s)
                        json_object_set_new(env, k, s);
        }
}

static int read_text(const char *path, char **ret, size_t *ret_len, Error **err)
{
        int r = read_file_at(AT_FDCWD, path, COMPOSE_MAX_FILE, ret, ret_len);
        if (r == -EFBIG || r == -E2BIG)
                return error_setx(err, EFBIG, "%s: larger than %d bytes", path, COMPOSE_MAX_FILE);
        if (r < 0)
                return error_set(err, -r, "reading %s", path);
        return 0;
}

/*
 * One entry of volumes_from: "[service:]SERVICE[:ro|rw]" or "container:NAME[:ro|rw]".  *ret_service: the
 * service named (NULL for a container), *ret_name: the service or container, *ret_mode: "" or the mode.
 */
static int volumes_from_entry(LoadCtx *c, json_t *services, json_t *v, const char *path, char **ret_service,
                              char **ret_name, char **ret_mode, Error **err)
{
        const char *s = json_string_value(v);
        bool container = s && str_has_prefix(s, "container:");
        /* "service:NAME" is docker-compose 1's own spelling, as its `config` prints it */
        size_t skip = container ? 10 : s && str_has_prefix(s, "service:") ? 8 : 0;
        _cleanup_free_ char *copy = xstrdup(s ? s + skip : "");
        char *mode = strchr(copy, ':');

        if (!s)
                return fail_at(c, err, path, "expected a string (SERVICE[:ro|rw] or container:NAME[:ro|rw])");
        if (mode)
                *mode++ = '\0';
        if (!*copy || (mode && !STREQ(mode, "ro") && !STREQ(mode, "rw")))
                return fail_at(c, err, path, "invalid volumes_from \"%s\" (SERVICE[:ro|rw] or container:NAME[:ro|rw])", s);
        if (!container && !json_object_get(services, copy))
                return fail_at(c, err, path, "service \"%s\" not found (a container is given as container:NAME)", copy);
        *ret_service = container ? NULL : xstrdup(copy);
        *ret_mode = xstrdup(mode ? mode : "");
        *ret_name = TAKE_PTR(copy);
        return 0;
}

/* Every service after those it depends on (depth first); a cycle is an error. */
static int order_visit(LoadCtx *c, json_t *services, const char *name, json_t *state, char ***order, Error **err)
{
        json_t *st = json_object_get(state, name), *deps, *d;
        const char *k;

        if (json_integer_value(st) == 2)
                return 0;
        if (json_integer_value(st) == 1) {
                _cleanup_free_ char *p = xasprintf("services.%s.depends_on", name);
                return fail_at(c, err, p, "a dependency cycle through \"%s\"", name);
        }
        json_object_set_new(state, name, json_integer(1));
        deps = json_object_get(json_object_get(services, name), "depends_on");
        json_object_foreach(deps, k, d) {
                _cleanup_free_ char *p = xasprintf("services.%s.depends_on.%s", name, k);
                const char *cond = json_string_value(json_object_get(d, "condition"));
                json_t *dep = json_object_get(services, k);
                if (!dep)
                        return fail_at(c, err, p, "no such service \"%s\"", k);
                if (!cond || (!STREQ(cond, "service_started") && !STREQ(cond, "service_healthy") &&
                              !STREQ(cond, "service_completed_successfully")))
                        return fail_at(c, err, p, "condition \"%s\": expected service_started, service_healthy or "
                                       "service_completed_successfully", cond ? cond : "");
                if (STREQ(cond, "service_healthy")) {
                        /* without a healthcheck key the image's HEALTHCHECK may do: that is seen when it runs */
                        json_t *hc = json_object_get(dep, "healthcheck"), *test = json_object_get(hc, "test");
                        if (json_is_true(json_object_get(hc, "disable")) ||
                            (json_is_array(test) && STREQ(json_string_value(json_array_get(test, 0)) ?: "", "NONE")))
                                return fail_at(c, err, p, "condition service_healthy, but service \"%s\"'s healthcheck is "
                                               "disabled", k);
                }
                int r = order_visit(c, services, k, state, order, err);
                if (r < 0)
                        return r;
        }
        {
                /* a service whose volumes this one mounts is made first, as docker compose orders them */
                json_t *vf = json_object_get(json_object_get(services, name), "volumes_from"), *x;
                size_t i;
                json_array_foreach(vf, i, x) {
                        _cleanup_free_ char *p = xasprintf("services.%s.volumes_from[%zu]", name, i), *svc = NULL,
                                            *n = NULL, *mode = NULL;
                        int r = volumes_from_entry(c, services, x, p, &svc, &n, &mode, err);
                        if (r >= 0 && svc)
                                r = order_visit(c, services, svc, state, order, err);
                        if (r < 0)
                                return r;
                }
        }
        json_object_set_new(state, name, json_integer(2));
        strv_push(order, name);
        return 0;
}

static const char *const default_files[] = { "compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml" };
static const char *const override_files[] = { "compose.override.yaml", "compose.override.yml", "docker-compose.override.yml",
                                              "docker-compose.override.yaml" };

static char **find_default_files(const char *dir)
{
        char **files = NULL;
        for (size_t i = 0; i < ELEMENTSOF(default_files); i++) {
                _cleanup_free_ char *f = dir ? xasprintf("%s/%s", dir, default_files[i]) : xstrdup(default_files[i]);
                if (access(f, F_OK) == 0) {
                        strv_push(&files, f);
                        break;
                }
        }
        if (!files)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(override_files); i++) {
                _cleanup_free_ char *f = dir ? xasprintf("%s/%s", dir, override_files[i]) : xstrdup(override_files[i]);
                if (access(f, F_OK) == 0) {
                        strv_push(&files, f);
                        break;
                }
        }
        return files;
}

/* A value in one service's environment that names another service as a host ("tcp://proxy:2375"). */
static void name_reachability(ComposeProject *p)
{
        for (size_t i = 0; i < p->n_services; i++) {
                ComposeService *s = &p->services[i];
                json_t *env = json_object_get(s->model, "environment"), *v;
                const char *k;
                json_object_foreach(env, k, v) {
                        const char *val = json_string_value(v);
                        if (!val)
                                continue;
                        for (size_t j = 0; j < p->n_services; j++) {
                                const char *n = p->services[j].name, *hit = val;
                                size_t nl = strlen(n);
                                while ((hit = strstr(hit, n))) {
                                        bool before = hit == val || hit[-1] == '/' || hit[-1] == '@' || hit[-1] == '=';
                                        bool after = hit[nl] == ':' || hit[nl] == '/' || hit[nl] == '\0';
                                        if (before && after && (hit != val || hit[nl] == ':')) {
                                                strv_consume(&s->unhonoured,
                                                          xasprintf("services.%s.environment.%s: not honoured: \"%s\" reaches "
                                                                    "service \"%s\" by name, but the engine has no container "
                                                                    "networks yet: the name will not resolve",
                                                                    s->name, k, val, n));
                                                break;
                                        }
                                        hit += nl;
                                }
                        }
                }
        }
}

static void config_hash(ComposeService *s)
{
        _cleanup_free_ char *text = json_dumps(s->model, JSON_COMPACT | JSON_SORT_KEYS);
        struct sha256_ctx ctx;
        uint8_t d[SHA256_DIGEST_SIZE];
        char hex[2 * SHA256_DIGEST_SIZE + 1];

        sha256_init(&ctx);
        sha256_update(&ctx, strlen(text), (const uint8_t *)text);
        sha256_digest(&ctx, sizeof(d), d);
        for (size_t i = 0; i < sizeof(d); i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        s->config_hash = xstrdup(hex);
}

/* Each top-level volume's labels as a mapping, before the files merge (so they merge key by key). */
static int volume_labels_to_map(LoadCtx *c, json_t *vols, Error **err)
{
        const char *k;
        json_t *v;
        int r;

        json_object_foreach(vols, k, v) {
                _cleanup_free_ char *path = jx_path("volumes", k);
                if (json_is_object(v) && (r = to_map(c, v, "labels", path, true, err)) < 0)
                        return r;
        }
        return 0;
}

/* A mapping of scalars with every value a string, as `config` prints it (driver_opts). */
static int strings_map(LoadCtx *c, json_t *obj, const char *key, const char *path, Error **err)
{
        _cleanup_free_ char *p = jx_path(path, key);
        json_t *m = json_object_get(obj, key), *x;
        const char *k;

        if (!json_is_object(m))
                return fail_at(c, err, p, "expected a mapping");
        json_object_foreach(m, k, x) {
                _cleanup_free_ char *kp = jx_path(p, k);
                char *t = scalar_text(x);
                if (!t)
                        return fail_at(c, err, kp, "expected a string");
                json_object_set_new(m, k, json_string(t));
                free(t);
        }
        return 0;
}

/*
 * One top-level volume into the model's normalised form (docker-compose's `config`: labels and
 * driver_opts as mappings of strings, `external: {name}` as `external: true` and `name`, an external
 * one's name always written) and into p->volumes.
 */
static int load_volume(LoadCtx *c, json_t *vols, const char *key, json_t *v, Error **err)
{
        static const char *const keys[] = { "driver", "driver_opts", "labels", "external", "name" };
        _cleanup_free_ char *path = jx_path("volumes", key), *name = NULL;
        json_t *ext, *x;
        bool external = false;
        const char *k;
        void *tmp;
        int r;

        for (const char *q = key; *q; q++)
                if (!isalnum((unsigned char)*q) && !strchr("._-", *q))
                        return fail_at(c, err, path, "a volume's key may hold letters, digits, '.', '-' and '_' only");
        if (json_is_null(v))
                json_object_set_new(vols, key, v = json_object());
        if (!json_is_object(v))
                return fail_at(c, err, path, "expected a mapping (driver, driver_opts, labels, external, name)");
        json_object_foreach_safe(v, tmp, k, x) {
                _cleanup_free_ char *p = jx_path(path, k);
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        known |= STREQ(k, keys[i]);
                if (!known && !str_has_prefix(k, "x-"))
                        warn_at(c, p, "unknown key, ignored");
                if (!known || json_is_null(x))
                        json_object_del(v, k);
        }
        if ((x = json_object_get(v, "name"))) {
                _cleanup_free_ char *p = jx_path(path, "name");
                if ((r = get_str(c, x, p, &name, err)) < 0)
                        return r;
                json_object_set_new(v, "name", json_string(name));
        }
        if ((ext = json_object_get(v, "external"))) {
                _cleanup_free_ char *p = jx_path(path, "external");
                if (json_is_object(ext)) {
                        /* the old form, external: {name: N} */
                        json_object_foreach(ext, k, x) if (!STREQ(k, "name")) {
                                _cleanup_free_ char *kp = jx_path(p, k);
                                warn_at(c, kp, "unknown key, ignored");
                        }
                        if ((x = json_object_get(ext, "name"))) {
                                _cleanup_free_ char *np = jx_path(p, "name");
                                free(name);
                                name = NULL;
                                if ((r = get_str(c, x, np, &name, err)) < 0)
                                        return r;
                                json_object_set_new(v, "name", json_string(name));
                        }
                        external = true;
                } else if ((r = get_bool(c, ext, p, &external, err)) < 0)
                        return r;
                json_object_set_new(v, "external", json_boolean(external));
        }
        if (external) {
                for (size_t i = 0; i < 3; i++)
                        if (json_object_get(v, keys[i])) {
                                _cleanup_free_ char *p = jx_path(path, keys[i]);
                                return fail_at(c, err, p, "volume \"%s\" is external: it is used as it is, so it cannot "
                                               "set %s", key, keys[i]);
                        }
                if (!name)
                        name = xstrdup(key);
                json_object_set_new(v, "name", json_string(name));
        } else if (!name)
                name = xasprintf("%s_%s", c->p->name, key);
        if ((x = json_object_get(v, "driver"))) {
                _cleanup_free_ char *p = jx_path(path, "driver"), *d = NULL;
                if ((r = get_str(c, x, p, &d, err)) < 0)
                        return r;
                if (!STREQ(d, "local"))
                        return fail_at(c, err, p, "volume driver \"%s\": the engine has the local driver only", d);
                json_object_set_new(v, "driver", json_string(d));
        }
        if (json_object_get(v, "driver_opts")) {
                _cleanup_free_ char *p = jx_path(path, "driver_opts");
                Error *e = NULL;
                if ((r = strings_map(c, v, "driver_opts", path, err)) < 0)
                        return r;
                if (volume_check_options(json_object_get(v, "driver_opts"), &e) < 0) {
                        r = fail_at(c, err, p, "%s", e->msg);
                        error_free(e);
                        return r;
                }
        }
        json_object_foreach(json_object_get(v, "labels"), k, x) if (str_has_prefix(k, "com.docker.compose.")) {
                _cleanup_free_ char *p = xasprintf("%s.labels.%s", path, k);
                return fail_at(c, err, p, "labels com.docker.compose.* are compose's own");
        }
        {
                _cleanup_free_ char *p = json_object_get(v, "name") ? jx_path(path, "name") : xstrdup(path);
                Error *e = NULL;
                if (volume_check_name(name, &e) < 0) {
                        r = fail_at(c, err, p, "%s", e->msg);
                        error_free(e);
                        return r;
                }
        }

        ComposeVolume *cv = &c->p->volumes[c->p->n_volumes++];
        cv->key = xstrdup(key);
        cv->name = TAKE_PTR(name);
        const char *l = loc_of(c->locs, path);
        cv->where = l ? xasprintf("%s: %s", l, path) : xstrdup(path);
        cv->external = external;
        cv->labels = json_object_get(v, "labels") ? json_deep_copy(json_object_get(v, "labels")) : json_object();
        json_object_set_new(cv->labels, "com.docker.compose.project", json_string(c->p->name));
        json_object_set_new(cv->labels, "com.docker.compose.volume", json_string(key));
        json_object_set_new(cv->labels, "com.docker.compose.version", json_string(COMPOSE_VERSION));
        cv->driver_opts = json_deep_copy(json_object_get(v, "driver_opts"));
        return 0;
}

/* The top-level volumes, once the project has its name (their names begin with it). */
static int load_volumes(LoadCtx *c, json_t *model, Error **err)
{
        json_t *vols = json_object_get(model, "volumes"), *v;
        const char *k;
        int r;

        if (!json_object_size(vols)) {
                json_object_del(model, "volumes");
                return 0;
        }
        c->p->volumes = xcalloc(json_object_size(vols), sizeof(ComposeVolume));
        json_object_foreach(vols, k, v)
                if ((r = load_volume(c, vols, k, v, err)) < 0)
                        return r;
        return 0;
}

static int load(const ComposeLoadOpts *o, ComposeProject *p, Error **err);

int compose_load(const ComposeLoadOpts *o, ComposeProject **ret, Error **err)
{
        ComposeProject *p = xcalloc(1, sizeof(*p));
        int r = load(o, p, err);

        if (o->warnings) {
                *o->warnings = p->warnings;
                p->warnings = NULL;
        }
        if (r < 0) {
                compose_project_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

/* A copy of the model with every '$' of a string doubled, so that `config`'s output reads back the same. */
static json_t *escape_dollars(json_t *j)
{
        const char *k;
        json_t *v, *out;
        size_t i;

        switch (json_typeof(j)) {
        case JSON_OBJECT:
                out = json_object();
                json_object_foreach(j, k, v) json_object_set_new(out, k, escape_dollars(v));
                return out;
        case JSON_ARRAY:
                out = json_array();
                json_array_foreach(j, i, v) json_array_append_new(out, escape_dollars(v));
                return out;
        case JSON_STRING: {
                Buf b = { 0 };
                for (const char *q = json_string_value(j); *q; q++) {
                        if (*q == '$')
                                buf_putc(&b, '$');
                        buf_putc(&b, *q);
                }
                out = json_string(b.len ? buf_cstr(&b) : "");
                buf_free(&b);
                return out;
        }
        case JSON_INTEGER:
        case JSON_REAL:
        case JSON_TRUE:
        case JSON_FALSE:
        case JSON_NULL:
        default:
                return json_incref(j);
        }
}

int compose_config_yaml(ComposeProject *p, char **ret, Error **err)
{
        _cleanup_json_ json_t *m = escape_dollars(p->model);
        return compose_to_yaml(m, ret, err);
}

static int load(const ComposeLoadOpts *o, ComposeProject *p, Error **err)
{
        _cleanup_json_ json_t *env = json_object(), *model = json_object(), *state = json_object();
        _cleanup_strv_ char **order = NULL;
        LoadCtx c = { .p = p, .env = env };
        const char *k;
        json_t *v, *services;
        void *tmp;
        int r;

        p->locs = json_object();
        c.locs = p->locs;
        if (o->files && o->files[0])
                p->files = strv_copy(o->files);
        else {
                p->files = find_default_files(o->project_dir);
                if (!p->files)
                        return error_setx(err, ENOENT, "no configuration file provided: not found (compose.yaml, compose.yml, "
                                          "docker-compose.yml or docker-compose.yaml in %s)", o->project_dir ? o->project_dir : "the current directory");
        }
        if (o->project_dir)
                p->project_dir = realpath(o->project_dir, NULL);
        else {
                _cleanup_free_ char *f = xstrdup(p->files[0]);
                _cleanup_free_ char *d = xstrdup(dirname(f));
                p->project_dir = realpath(d, NULL);
        }
        if (!p->project_dir)
                return error_set(err, errno, "the project directory of %s", p->files[0]);

        /* .env first, the environment over it (the environment compose runs in wins, as docker compose's) */
        {
                _cleanup_free_ char *envf = o->env_file ? xstrdup(o->env_file) : xasprintf("%s/.env", p->project_dir);
                _cleanup_free_ char *text = NULL;
                size_t len;
                if (o->env_file || access(envf, F_OK) == 0) {
                        if ((r = read_text(envf, &text, &len, err)) < 0 || (r = compose_parse_env(text, len, envf, env, err)) < 0)
                                return r;
                }
        }
        env_from_strv(env, o->environ);

        for (size_t i = 0; p->files[i]; i++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_json_ json_t *doc = NULL;
                size_t len;
                if ((r = read_text(p->files[i], &text, &len, err)) < 0)
                        return r;
                if ((r = compose_yaml_parse(text, len, p->files[i], p->locs, &doc, err)) < 0)
                        return r;
                if (json_is_null(doc))
                        continue;
                if (!json_is_object(doc))
                        return error_setx(err, EINVAL, "%s: the top level must be a mapping", p->files[i]);
                if ((r = interpolate_tree(&c, doc, "", err)) < 0)
                        return r;
                json_object_foreach_safe(doc, tmp, k, v) {
                        if (str_has_prefix(k, "x-")) {
                                json_object_del(doc, k);
                                continue;
                        }
                        if (STREQ(k, "version")) {
                                warn_at(&c, k, "the attribute `version` is obsolete, it is ignored");
                                json_object_del(doc, k);
                                continue;
                        }
                        if (STREQ(k, "services")) {
                                const char *sn;
                                json_t *sv;
                                if (!json_is_object(v))
                                        return fail_at(&c, err, k, "expected a mapping of services");
                                json_object_foreach(v, sn, sv) {
                                        _cleanup_free_ char *sp = jx_path("services", sn);
                                        if ((r = normalise_forms(&c, sv, sp, err)) < 0)
                                                return r;
                                }
                        } else if (STREQ(k, "name")) {
                                if (!json_is_string(v))
                                        return fail_at(&c, err, k, "expected a string");
                        } else if (STREQ(k, "volumes") || STREQ(k, "networks") || STREQ(k, "secrets") || STREQ(k, "configs")) {
                                if (!json_is_object(v) && !json_is_null(v))
                                        return fail_at(&c, err, k, "expected a mapping");
                                if (STREQ(k, "volumes") && (r = volume_labels_to_map(&c, v, err)) < 0)
                                        return r;
                        } else {
                                warn_at(&c, k, "unknown key, ignored");
                                json_object_del(doc, k);
                        }
                }
                merge_into(model, doc, "");
        }

        /* the project's name */
        {
                const char *n = o->project_name;
                if (!n)
                        n = json_string_value(json_object_get(env, "COMPOSE_PROJECT_NAME"));
                if (!n || !*n)
                        n = json_string_value(json_object_get(model, "name"));
                if (!n || !*n)
                        n = strrchr(p->project_dir, '/') ? strrchr(p->project_dir, '/') + 1 : p->project_dir;
                p->name = project_name_normalise(n);
                if (!*p->name)
                        return error_setx(err, EINVAL, "project name \"%s\": must contain a letter or a digit (use -p NAME)", n);
                json_object_set_new(model, "name", json_string(p->name));
        }

        if ((r = load_volumes(&c, model, err)) < 0)
                return r;
        services = json_object_get(model, "services");
        if (!json_is_object(services) || !json_object_size(services))
                return error_setx(err, EINVAL, "%s: no services defined", p->files[0]);
        if (json_object_size(services) > COMPOSE_MAX_SERVICES)
                return error_setx(err, E2BIG, "%s: more than %d services", p->files[0], COMPOSE_MAX_SERVICES);
        json_object_foreach(services, k, v) {
                for (const char *q = k; *q; q++)
                        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.') {
                                _cleanup_free_ char *sp = jx_path("services", k);
                                return fail_at(&c, err, sp, "a service name may hold letters, digits, '.', '-' and '_' only");
                        }
                if (!*k || !isalnum((unsigned char)k[0])) {
                        _cleanup_free_ char *sp = jx_path("services", k);
                        return fail_at(&c, err, sp, "a service name must start with a letter or a digit");
                }
        }
        json_object_foreach(services, k, v)
                if ((r = order_visit(&c, services, k, state, &order, err)) < 0)
                        return r;
        c.services = services;
        p->services = xcalloc(strv_length(order), sizeof(ComposeService));
        for (size_t i = 0; order[i]; i++) {
                ComposeService *s = &p->services[p->n_services++];
                if ((r = build_service(&c, order[i], json_object_get(services, order[i]), s, err)) < 0)
                        return r;
                config_hash(s);
        }
        if (json_object_size(json_object_get(model, "networks")))
                strv_push(&p->unhonoured, ("networks: not honoured: the engine has no container networks yet"));
        name_reachability(p);
        p->model = TAKE_PTR(model);
        return 0;
}

char **compose_create_argv(ComposeProject *p, ComposeService *s, const char *name, bool oneoff, const char *verb,
                           char **extra, char **command)
{
        char **argv = NULL;
        size_t i;
        json_t *x;

        strv_push(&argv, verb);
        strv_push(&argv, "--name");
        strv_push(&argv, name);
        const char *labels[][2] = {
                { "com.docker.compose.project", p->name },
                { "com.docker.compose.service", s->name },
                { "com.docker.compose.container-number", "1" },
                { "com.docker.compose.oneoff", oneoff ? "True" : "False" },
                { "com.docker.compose.config-hash", s->config_hash },
                { "com.docker.compose.project.working_dir", p->project_dir },
                { "com.docker.compose.version", COMPOSE_VERSION },
        };
        for (i = 0; i < ELEMENTSOF(labels); i++) {
                _cleanup_free_ char *l = xasprintf("%s=%s", labels[i][0], labels[i][1]);
                strv_push(&argv, "--label");
                strv_push(&argv, l);
        }
        for (i = 0; i < s->n_flags; i++) {
                if (STREQ(s->flags[i].flag, "--name"))
                        continue;
                _cleanup_free_ char *f = s->flags[i].value ? xasprintf("%s=%s", s->flags[i].flag, s->flags[i].value) : NULL;
                strv_push(&argv, f ? f : s->flags[i].flag);
        }
        for (i = 0; extra && extra[i]; i++)
                strv_push(&argv, extra[i]);
        if (s->entrypoint) {
                _cleanup_free_ char *ep = xasprintf("--entrypoint=%s", json_string_value(json_array_get(s->entrypoint, 0)) ?: "");
                strv_push(&argv, ep);
        }
        strv_push(&argv, "--");
        strv_push(&argv, s->image);
        if (s->entrypoint)
                for (i = 1; i < json_array_size(s->entrypoint); i++)
                        strv_push(&argv, json_string_value(json_array_get(s->entrypoint, i)));
        if (command)
                for (i = 0; command[i]; i++)
                        strv_push(&argv, command[i]);
        else
                json_array_foreach(s->command, i, x) strv_push(&argv, json_string_value(x));
        return argv;
}
