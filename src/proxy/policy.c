/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "json-util.h"
#include "policy.h"
#include "util.h"

#define PROXY_SECTION_NAME(name, path, dflt) #name,
#define PROXY_SECTION_PATH(name, path, dflt) path,
#define PROXY_SECTION_DFLT(name, path, dflt) dflt,
static const char *const section_env[] = { PROXY_SECTIONS(PROXY_SECTION_NAME) };
static const char *const section_path[] = { PROXY_SECTIONS(PROXY_SECTION_PATH) };
static const bool section_default[] = { PROXY_SECTIONS(PROXY_SECTION_DFLT) };

void proxy_policy_init(ProxyPolicy *p)
{
        *p = (ProxyPolicy){ 0 };
        for (size_t i = 0; i < PROXY_SEC_COUNT; i++)
                p->section[i] = section_default[i];
        p->inspect = true;
}

void proxy_policy_free(ProxyPolicy *p)
{
        for (size_t i = 0; i < p->nbinds; i++)
                free(p->binds[i]);
        for (size_t i = 0; i < p->nrules; i++)
                for (size_t j = 0; j < p->rules[i].nsegs; j++)
                        free(p->rules[i].segs[j]);
        p->nbinds = p->nrules = 0;
}

static int parse_bool(const char *name, const char *v, bool *ret, Error **err)
{
        int64_t x;

        if (!*v) {
                *ret = false; /* HAProxy: an empty variable is false */
                return 0;
        }
        if (parse_int64(v, &x) == 0) {
                *ret = x != 0;
                return 0;
        }
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
                *ret = true;
                return 0;
        }
        if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
                *ret = false;
                return 0;
        }
        return error_setx(err, EINVAL, "%s: \"%s\" is not a boolean (1, 0, true, false)", name, v);
}

/* A host directory for the bind allow-list: absolute, no empty, "." or ".." segments. */
static int add_bind(ProxyPolicy *p, const char *name, const char *dir, size_t len, Error **err)
{
        _cleanup_free_ char *d = xstrndup(dir, len);
        size_t l = strlen(d);

        if (d[0] != '/')
                return error_setx(err, EINVAL, "%s: \"%s\" is not an absolute path", name, d);
        if (strstr(d, "//") || strstr(d, "/./") || strstr(d, "/../") || (l > 1 && d[l - 1] == '/') ||
            (l >= 2 && !strcmp(d + l - 2, "/.")) || (l >= 3 && !strcmp(d + l - 3, "/..")))
                return error_setx(err, EINVAL,
                                  "%s: \"%s\" is not a clean path (no //, . or .., no trailing /)", name, d);
        if (p->nbinds >= PROXY_BINDS_MAX)
                return error_setx(err, E2BIG, "%s: more than %d directories", name, PROXY_BINDS_MAX);
        p->binds[p->nbinds++] = TAKE_PTR(d);
        return 0;
}

static bool *bool_setting(ProxyPolicy *p, const char *name)
{
        static const struct {
                const char *name;
                size_t off;
        } extra[] = {
                { "POST", offsetof(ProxyPolicy, post) },
                { "PUT", offsetof(ProxyPolicy, put) },
                { "DELETE", offsetof(ProxyPolicy, del) },
                { "ALLOW_START", offsetof(ProxyPolicy, allow_start) },
                { "ALLOW_STOP", offsetof(ProxyPolicy, allow_stop) },
                { "ALLOW_RESTARTS", offsetof(ProxyPolicy, allow_restarts) },
                { "CONTAINERS_ARCHIVE", offsetof(ProxyPolicy, c_archive) },
                { "CONTAINERS_EXPORT", offsetof(ProxyPolicy, c_export) },
                { "CONTAINERS_LOGS", offsetof(ProxyPolicy, c_logs) },
                { "CONTAINERS_ATTACH", offsetof(ProxyPolicy, c_attach) },
                { "INSPECT_BODIES", offsetof(ProxyPolicy, inspect) },
        };

        for (size_t i = 0; i < PROXY_SEC_COUNT; i++)
                if (STREQ(name, section_env[i]))
                        return &p->section[i];
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                if (STREQ(name, extra[i].name))
                        return (bool *)((char *)p + extra[i].off);
        return NULL;
}

int proxy_policy_set(ProxyPolicy *p, const char *name, const char *value, Error **err)
{
        bool *b = bool_setting(p, name);
        int r;

        if (b) {
                r = parse_bool(name, value, b, err);
                return r < 0 ? r : 1;
        }
        if (STREQ(name, "ALLOWED_BINDS")) {
                /* colon-separated, like PATH; replaces what was there */
                for (size_t i = 0; i < p->nbinds; i++)
                        free(p->binds[i]);
                p->nbinds = 0;
                for (const char *s = value; *s;) {
                        const char *e = strchrnul(s, ':');
                        if (e > s) {
                                r = add_bind(p, name, s, (size_t)(e - s), err);
                                if (r < 0)
                                        return r;
                        }
                        s = *e ? e + 1 : e;
                }
                return 1;
        }
        return 0;
}

int proxy_policy_from_env(ProxyPolicy *p, Error **err)
{
        static const char *const others[] = { "POST",
                                              "PUT",
                                              "DELETE",
                                              "ALLOW_START",
                                              "ALLOW_STOP",
                                              "ALLOW_RESTARTS",
                                              "CONTAINERS_ARCHIVE",
                                              "CONTAINERS_EXPORT",
                                              "CONTAINERS_LOGS",
                                              "CONTAINERS_ATTACH",
                                              "INSPECT_BODIES",
                                              "ALLOWED_BINDS" };
        int r;

        for (size_t i = 0; i < PROXY_SEC_COUNT + ELEMENTSOF(others); i++) {
                const char *name = i < PROXY_SEC_COUNT ? section_env[i] : others[i - PROXY_SEC_COUNT];
                const char *v = getenv(name);
                if (!v)
                        continue;
                r = proxy_policy_set(p, name, v, err);
                if (r < 0)
                        return error_wrap(err, "environment");
        }
        return 0;
}

/* ================================================================ the configuration file */

static int parse_methods(const char *s, unsigned *ret)
{
        unsigned m = 0;

        if (STREQ(s, "*")) {
                *ret = PROXY_M_ALL;
                return 0;
        }
        while (*s) {
                const char *e = strchrnul(s, ',');
                size_t l = (size_t)(e - s);
                if (l == 3 && !strncmp(s, "GET", 3))
                        m |= PROXY_M_GET;
                else if (l == 4 && !strncmp(s, "HEAD", 4))
                        m |= PROXY_M_GET;
                else if (l == 4 && !strncmp(s, "POST", 4))
                        m |= PROXY_M_POST;
                else if (l == 3 && !strncmp(s, "PUT", 3))
                        m |= PROXY_M_PUT;
                else if (l == 6 && !strncmp(s, "DELETE", 6))
                        m |= PROXY_M_DELETE;
                else
                        return -EINVAL;
                s = *e ? e + 1 : e;
        }
        if (!m)
                return -EINVAL;
        *ret = m;
        return 0;
}

static int parse_rule(ProxyRule *r, const char *methods, const char *pattern, const char **why)
{
        const char *s = pattern;

        if (parse_methods(methods, &r->methods) < 0)
                return *why = "methods must be * or a comma list of GET, HEAD, POST, PUT, DELETE", -EINVAL;
        if (s[0] != '/' || !s[1])
                return *why = "a pattern starts with / and names at least one segment", -EINVAL;
        while (*s == '/') {
                const char *e = strchrnul(s + 1, '/');
                size_t l = (size_t)(e - s - 1);
                char *seg;
                if (l == 0)
                        return *why = "an empty segment in the pattern", -EINVAL;
                if (r->nsegs >= PROXY_PATTERN_SEGS)
                        return *why = "more than 16 segments in the pattern", -EINVAL;
                if (r->nsegs && STREQ(r->segs[r->nsegs - 1], "**"))
                        return *why = "** must be the last segment", -EINVAL;
                seg = xstrndup(s + 1, l);
                r->segs[r->nsegs++] = seg;
                for (char *c = seg; *c; c++) {
                        if (*c == '%' || *c == '\\' || *c == '?' || (unsigned char)*c < 0x21 ||
                            (unsigned char)*c > 0x7e)
                                return *why = "a pattern segment holds %, \\, ? or a non-printable byte",
                                       -EINVAL;
                        *c = (char)tolower((unsigned char)*c);
                }
                if (STREQ(seg, ".") || STREQ(seg, ".."))
                        return *why = "a . or .. segment in the pattern", -EINVAL;
                if (strchr(seg, '*') && !STREQ(seg, "*") && !STREQ(seg, "**"))
                        return *why = "* stands alone in a segment (* or **)", -EINVAL;
                s = e;
        }
        return 0;
}

int proxy_policy_load(ProxyPolicy *p, const char *text, size_t len, const char *what, Error **err)
{
        unsigned lineno = 0;
        const char *s = text, *end = text + len;
        int r;

        if (len > PROXY_CONFIG_MAX)
                return error_setx(err, EFBIG, "%s: larger than %d bytes", what, PROXY_CONFIG_MAX);
        if (memchr(text, '\0', len))
                return error_setx(err, EINVAL, "%s: a NUL byte", what);
        while (s < end) {
                const char *e = memchr(s, '\n', (size_t)(end - s));
                _cleanup_free_ char *line = xstrndup(s, e ? (size_t)(e - s) : (size_t)(end - s));
                char *tok[4] = { 0 }, *save = NULL, *c;
                size_t ntok = 0;

                lineno++;
                s = e ? e + 1 : end;
                c = strchr(line, '#');
                if (c)
                        *c = '\0';
                for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
                        if (ntok == ELEMENTSOF(tok))
                                return error_setx(err, EINVAL, "%s:%u: too many words", what, lineno);
                        tok[ntok++] = t;
                }
                if (!ntok)
                        continue;
                if (STREQ(tok[0], "allow") || STREQ(tok[0], "deny")) {
                        ProxyRule *rule;
                        const char *why = NULL;
                        if (ntok != 3)
                                return error_setx(err, EINVAL, "%s:%u: %s takes METHODS PATTERN", what,
                                                  lineno, tok[0]);
                        if (p->nrules >= PROXY_RULES_MAX)
                                return error_setx(err, E2BIG, "%s:%u: more than %d rules", what, lineno,
                                                  PROXY_RULES_MAX);
                        rule = &p->rules[p->nrules++];
                        *rule = (ProxyRule){ .allow = tok[0][0] == 'a', .line = lineno };
                        if (parse_rule(rule, tok[1], tok[2], &why) < 0)
                                return error_setx(err, EINVAL, "%s:%u: %s %s %s: %s", what, lineno, tok[0],
                                                  tok[1], tok[2], why);
                } else if (STREQ(tok[0], "allow-bind")) {
                        if (ntok != 2)
                                return error_setx(err, EINVAL, "%s:%u: allow-bind takes one directory", what,
                                                  lineno);
                        r = add_bind(p, "allow-bind", tok[1], strlen(tok[1]), err);
                        if (r < 0)
                                return error_wrap(err, "%s:%u", what, lineno);
                } else if ((c = strchr(tok[0], '=')) && ntok == 1) {
                        *c = '\0';
                        r = proxy_policy_set(p, tok[0], c + 1, err);
                        if (r < 0)
                                return error_wrap(err, "%s:%u", what, lineno);
                        if (r == 0)
                                return error_setx(err, EINVAL, "%s:%u: %s: not a setting", what, lineno,
                                                  tok[0]);
                } else {
                        return error_setx(err, EINVAL,
                                          "%s:%u: \"%s\": expected NAME=VALUE, allow, deny or allow-bind",
                                          what, lineno, tok[0]);
                }
        }
        return 0;
}

/* ================================================================ the path */

/* A version prefix as dockerd's router takes it (/v{version:[0-9.]+}), bounded to vN.N .. vNN.NNN. */
static bool version_ok(const char *s, size_t l)
{
        size_t i = 1, d = 0;

        while (i < l && s[i] >= '0' && s[i] <= '9')
                i++, d++;
        if (d < 1 || d > 2 || i >= l || s[i] != '.')
                return false;
        i++;
        d = 0;
        while (i < l && s[i] >= '0' && s[i] <= '9')
                i++, d++;
        return d >= 1 && d <= 3 && i == l;
}

int proxy_path_normalize(const char *target, size_t len, char *out, size_t outsz, const char **query,
                         const char **reason)
{
        size_t n = 0, plen;
        const char *q = memchr(target, '?', len);
        char *seg, *end;

        *query = NULL;
        if (len == 0 || target[0] != '/')
                return *reason = "the request target does not start with /", -EINVAL;
        if (memchr(target, '#', len))
                return *reason = "a fragment (#) in the request target", -EINVAL;
        plen = q ? (size_t)(q - target) : len;
        if (q)
                *query = q + 1;
        if (plen + 2 > outsz)
                return *reason = "the path is too long", -EINVAL;
        for (size_t i = 0; i < plen; i++) {
                unsigned char c = (unsigned char)target[i];
                if (c == '%') {
                        int hi, lo;
                        if (i + 2 >= plen)
                                return *reason = "a truncated percent-escape", -EINVAL;
                        hi = hex_value(target[i + 1]);
                        lo = hex_value(target[i + 2]);
                        if (hi < 0 || lo < 0)
                                return *reason = "a bad percent-escape", -EINVAL;
                        c = (unsigned char)(hi * 16 + lo);
                        i += 2;
                        if (c == '/')
                                return *reason = "an encoded slash (%2F)", -EINVAL;
                }
                if (c < 0x20 || c >= 0x7f)
                        return *reason = "a control or non-ASCII byte in the path", -EINVAL;
                if (c == '\\')
                        return *reason = "a backslash in the path", -EINVAL;
                out[n++] = (char)tolower(c);
        }
        out[n] = '\0';

        /* segments: no empty ones, no dot segments */
        for (seg = out; *seg == '/'; seg = end) {
                size_t l;
                end = strchrnul(seg + 1, '/');
                l = (size_t)(end - seg - 1);
                if (l == 0)
                        return *reason = "an empty path segment (// or a trailing /)", -EINVAL;
                if ((l == 1 && seg[1] == '.') || (l == 2 && seg[1] == '.' && seg[2] == '.'))
                        return *reason = "a . or .. path segment", -EINVAL;
        }
        if (*seg)
                return *reason = "a bad path", -EINVAL; /* unreachable: out starts with / */

        /* the optional version prefix */
        if (out[1] == 'v' && ((out[2] >= '0' && out[2] <= '9') || out[2] == '.')) {
                end = strchrnul(out + 1, '/');
                if (!version_ok(out + 1, (size_t)(end - out - 1)))
                        return *reason = "a malformed API version prefix (expected /vN.N, at most /vNN.NNN)",
                               -EINVAL;
                memmove(out, end, strlen(end) + 1);
                if (!out[0])
                        strcpy(out, "/");
        }
        return 0;
}

/* ================================================================ decisions */

#define PATH_SEGS_MAX 32

/* Splits a normalised path ("/a/b/c") in place; returns the count, PATH_SEGS_MAX + 1 when too many. */
static size_t split_path(char *path, char **segs)
{
        size_t n = 0;
        char *s = path + 1;

        if (!*s)
                return 0;
        for (;;) {
                char *e = strchrnul(s, '/');
                if (n == PATH_SEGS_MAX)
                        return PATH_SEGS_MAX + 1;
                segs[n++] = s;
                if (!*e)
                        return n;
                *e = '\0';
                s = e + 1;
        }
}

static unsigned method_bit(const char *m, size_t l)
{
        if ((l == 3 && !memcmp(m, "GET", 3)) || (l == 4 && !memcmp(m, "HEAD", 4)))
                return PROXY_M_GET;
        if (l == 4 && !memcmp(m, "POST", 4))
                return PROXY_M_POST;
        if (l == 3 && !memcmp(m, "PUT", 3))
                return PROXY_M_PUT;
        if (l == 6 && !memcmp(m, "DELETE", 6))
                return PROXY_M_DELETE;
        return 0;
}

static bool rule_match(const ProxyRule *r, char *const *segs, size_t n)
{
        for (size_t i = 0; i < r->nsegs; i++) {
                if (STREQ(r->segs[i], "**"))
                        return true;
                if (i >= n)
                        return false;
                if (!STREQ(r->segs[i], "*") && !STREQ(r->segs[i], segs[i]))
                        return false;
        }
        return n == r->nsegs;
}

/* docker-socket-proxy's container name class for ALLOW_*: [a-zA-Z0-9_.-]+ (lower case here). */
static bool name_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("_.-", *s)))
                        return false;
        return true;
}

/* Does the query ask to follow (logs ?follow=1/true)? */
static bool query_follows(const char *q)
{
        if (!q)
                return false;
        for (const char *s = q; s && *s; s = strchr(s, '&') ? strchr(s, '&') + 1 : NULL)
                if (!strncasecmp(s, "follow=1", 8) || !strncasecmp(s, "follow=true", 11))
                        return true;
        return false;
}

#define DECIDE(ok, ...)                                                                                     \
        do {                                                                                                \
                d->allow = (ok);                                                                            \
                snprintf(d->reason, sizeof(d->reason), __VA_ARGS__);                                        \
                return;                                                                                     \
        } while (0)

void proxy_decide(const ProxyPolicy *p, const char *method, size_t mlen, const char *target, size_t tlen,
                  ProxyDecision *d)
{
        char path[4200], *segs[PATH_SEGS_MAX];
        const char *query = NULL, *why = NULL, *sub;
        unsigned m = method_bit(method, mlen);
        size_t n;
        int sec = -1;
        bool containers;

        *d = (ProxyDecision){ 0 };
        if (!m)
                DECIDE(false, "method %.*s is never allowed", (int)(mlen > 16 ? 16 : mlen), method);
        if (proxy_path_normalize(target, tlen, path, sizeof(path), &query, &why) < 0)
                DECIDE(false, "refused path: %s", why);
        n = split_path(path, segs);
        if (n > PATH_SEGS_MAX)
                DECIDE(false, "refused path: more than %d segments", PATH_SEGS_MAX);

        containers = n >= 1 && STREQ(segs[0], "containers");
        sub = containers && n == 3 ? segs[2] : NULL;
        if (p->inspect && m == PROXY_M_POST) {
                if (containers && n == 2 && STREQ(segs[1], "create"))
                        d->inspect = PROXY_INSPECT_CREATE;
                else if (sub && STREQ(sub, "update"))
                        d->inspect = PROXY_INSPECT_UPDATE;
                else if (sub && STREQ(sub, "exec"))
                        d->inspect = PROXY_INSPECT_EXEC;
                else if (n == 2 && STREQ(segs[0], "volumes") && STREQ(segs[1], "create"))
                        d->inspect = PROXY_INSPECT_VOLUME;
        }
        d->stream = (n == 1 && STREQ(segs[0], "events")) || (sub && STREQ(sub, "attach")) ||
                    (containers && n == 4 && STREQ(segs[2], "attach")) ||
                    (sub && STREQ(sub, "logs") && query_follows(query)) ||
                    (n == 3 && STREQ(segs[0], "exec") && STREQ(segs[2], "start")) ||
                    (n >= 1 && (STREQ(segs[0], "session") || STREQ(segs[0], "grpc")));

        /* the configuration file's rules come first, in order */
        for (size_t i = 0; i < p->nrules; i++)
                if ((p->rules[i].methods & m) && rule_match(&p->rules[i], segs, n))
                        DECIDE(p->rules[i].allow, "configuration rule at line %u", p->rules[i].line);

        /* ALLOW_START/STOP/RESTARTS stand on their own: neither POST nor CONTAINERS is needed
         * (docker-socket-proxy #101, #114) */
        if (m == PROXY_M_POST && sub && name_ok(segs[1])) {
                if (p->allow_start && STREQ(sub, "start"))
                        DECIDE(true, "ALLOW_START=1");
                if (p->allow_stop && STREQ(sub, "stop"))
                        DECIDE(true, "ALLOW_STOP=1");
                if (p->allow_restarts && (STREQ(sub, "stop") || STREQ(sub, "restart") || STREQ(sub, "kill")))
                        DECIDE(true, "ALLOW_RESTARTS=1");
        }

        if (n == 0)
                DECIDE(false, "no API section in the path");
        for (size_t i = 0; i < PROXY_SEC_COUNT; i++)
                if (STREQ(segs[0], section_path[i]))
                        sec = (int)i;
        if (sec < 0)
                DECIDE(false, "/%.64s is not an API section", segs[0]);
        if (!p->section[sec])
                DECIDE(false, "%s=0: /%s is not allowed", section_env[sec], section_path[sec]);
        /* POST opens POST only, not PUT or DELETE (docker-socket-proxy's POST=1 opens every method) */
        if (m == PROXY_M_POST && !p->post)
                DECIDE(false, "POST=0: only GET and HEAD are allowed");
        if (m == PROXY_M_PUT && !p->put)
                DECIDE(false, "PUT=0");
        if (m == PROXY_M_DELETE && !p->del)
                DECIDE(false, "DELETE=0");
        /* what CONTAINERS=1 alone does not give (docker-socket-proxy #182) */
        if (containers && n >= 3) {
                const char *s = segs[2];
                if (STREQ(s, "archive") && !p->c_archive)
                        DECIDE(false, "CONTAINERS_ARCHIVE=0: /containers/{id}/archive");
                if (STREQ(s, "export") && !p->c_export)
                        DECIDE(false, "CONTAINERS_EXPORT=0: /containers/{id}/export");
                if (STREQ(s, "logs") && !p->c_logs)
                        DECIDE(false, "CONTAINERS_LOGS=0: /containers/{id}/logs");
                if (STREQ(s, "attach") && !p->c_attach)
                        DECIDE(false, "CONTAINERS_ATTACH=0: /containers/{id}/attach");
                if (STREQ(s, "exec") && !p->section[PROXY_SEC_EXEC])
                        DECIDE(false, "EXEC=0: /containers/{id}/exec");
        }
        DECIDE(true, "%s=1", section_env[sec]);
}

/* ================================================================ bodies */

#define DENY(...) (snprintf(reason, rsz, __VA_ARGS__), -EPERM)

/*
 * dockerd decodes bodies with Go's encoding/json, which matches keys case-insensitively (with
 * Unicode folding: U+212A KELVIN SIGN matches "k").  A key is looked up the same way here, and an
 * object with two keys that fold alike, or with a non-ASCII key, is refused rather than guessed.
 */
static int ci_get(json_t *obj, const char *where, const char *key, json_t **ret, char *reason, size_t rsz)
{
        const char *k, *k2;
        json_t *v, *v2;

        *ret = NULL;
        if (!obj || json_is_null(obj))
                return 0;
        if (!json_is_object(obj))
                return DENY("%s is not an object", where);
        json_object_foreach (obj, k, v)
                for (const char *c = k; *c; c++)
                        if ((unsigned char)*c >= 0x80)
                                return DENY("%s: a non-ASCII key", where);
        json_object_foreach (obj, k, v) {
                if (strcasecmp(k, key))
                        continue;
                json_object_foreach (obj, k2, v2)
                        if (k2 != k && !strcasecmp(k2, key))
                                return DENY("%s: keys %s and %s differ only in case", where, k, k2);
                *ret = v;
                return 0;
        }
        return 0;
}

static bool none(json_t *v)
{
        return !v || json_is_null(v) || json_is_false(v) || (json_is_array(v) && json_array_size(v) == 0) ||
               (json_is_object(v) && json_object_size(v) == 0);
}

static bool bind_allowed(const ProxyPolicy *p, const char *src, size_t len)
{
        char clean[4096];
        size_t n = 0;

        if (len >= sizeof(clean))
                return false;
        /* collapse repeated slashes and drop a trailing one; refuse . and .. segments */
        for (size_t i = 0; i < len; i++) {
                if (src[i] == '/' && n && clean[n - 1] == '/')
                        continue;
                clean[n++] = src[i];
        }
        if (n > 1 && clean[n - 1] == '/')
                n--;
        clean[n] = '\0';
        if (strstr(clean, "/./") || strstr(clean, "/../") || (n >= 2 && !strcmp(clean + n - 2, "/.")) ||
            (n >= 3 && !strcmp(clean + n - 3, "/..")))
                return false;
        for (size_t i = 0; i < p->nbinds; i++) {
                size_t bl = strlen(p->binds[i]);
                if (STREQ(p->binds[i], "/"))
                        return true;
                if (!strncmp(clean, p->binds[i], bl) && (clean[bl] == '\0' || clean[bl] == '/'))
                        return true;
        }
        return false;
}

static int check_devices(json_t *obj, const char *where, char *reason, size_t rsz)
{
        static const char *const keys[] = { "Devices", "DeviceCgroupRules", "DeviceRequests" };
        json_t *v;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                r = ci_get(obj, where, keys[i], &v, reason, rsz);
                if (r < 0)
                        return r;
                if (!none(v))
                        return DENY("%s.%s: host devices are not allowed", where, keys[i]);
        }
        return 0;
}

static int check_host_config(const ProxyPolicy *p, json_t *hc, char *reason, size_t rsz)
{
        static const char *const modes[] = { "PidMode",    "NetworkMode", "IpcMode",
                                             "UsernsMode", "UTSMode",     "CgroupnsMode" };
        json_t *v, *e;
        size_t i;
        int r;

        r = ci_get(hc, "HostConfig", "Privileged", &v, reason, rsz);
        if (r < 0)
                return r;
        if (!none(v))
                return DENY("HostConfig.Privileged: privileged containers are not allowed");
        r = ci_get(hc, "HostConfig", "CapAdd", &v, reason, rsz);
        if (r < 0)
                return r;
        if (!none(v))
                return DENY("HostConfig.CapAdd: adding capabilities is not allowed");
        for (i = 0; i < ELEMENTSOF(modes); i++) {
                r = ci_get(hc, "HostConfig", modes[i], &v, reason, rsz);
                if (r < 0)
                        return r;
                if (v && !json_is_null(v) &&
                    (!json_is_string(v) || !strcasecmp(json_string_value(v), "host")))
                        return DENY("HostConfig.%s: the host's namespace is not allowed", modes[i]);
        }
        r = ci_get(hc, "HostConfig", "SecurityOpt", &v, reason, rsz);
        if (r < 0)
                return r;
        if (v && !json_is_null(v) && !json_is_array(v))
                return DENY("HostConfig.SecurityOpt is not an array");
        json_array_foreach (v, i, e) {
                const char *s = json_string_value(e);
                if (!s)
                        return DENY("HostConfig.SecurityOpt[%zu] is not a string", i);
                if (strcasestr(s, "unconfined") || !strncasecmp(s, "label=disable", 13) ||
                    !strncasecmp(s, "label:disable", 13))
                        return DENY("HostConfig.SecurityOpt: \"%.64s\" is not allowed", s);
        }
        r = check_devices(hc, "HostConfig", reason, rsz);
        if (r < 0)
                return r;

        r = ci_get(hc, "HostConfig", "Binds", &v, reason, rsz);
        if (r < 0)
                return r;
        if (v && !json_is_null(v) && !json_is_array(v))
                return DENY("HostConfig.Binds is not an array");
        json_array_foreach (v, i, e) {
                const char *s = json_string_value(e), *colon;
                if (!s)
                        return DENY("HostConfig.Binds[%zu] is not a string", i);
                colon = strchr(s, ':');
                /* "name:/dst" is a named volume, "/dst" alone an anonymous one; "/src:/dst" binds the host
                 */
                if (s[0] == '/' && colon && !bind_allowed(p, s, (size_t)(colon - s)))
                        return DENY("HostConfig.Binds: host path %.*s is outside the allowed directories",
                                    (int)(colon - s > 200 ? 200 : colon - s), s);
        }
        r = ci_get(hc, "HostConfig", "Mounts", &v, reason, rsz);
        if (r < 0)
                return r;
        if (v && !json_is_null(v) && !json_is_array(v))
                return DENY("HostConfig.Mounts is not an array");
        json_array_foreach (v, i, e) {
                json_t *type, *src, *vo, *dc, *opts;
                r = ci_get(e, "HostConfig.Mounts[]", "Type", &type, reason, rsz);
                if (r < 0)
                        return r;
                if (!type)
                        continue;
                if (!json_is_string(type))
                        return DENY("HostConfig.Mounts[%zu].Type is not a string", i);
                if (!strcasecmp(json_string_value(type), "bind")) {
                        r = ci_get(e, "HostConfig.Mounts[]", "Source", &src, reason, rsz);
                        if (r < 0)
                                return r;
                        if (!json_is_string(src))
                                return DENY("HostConfig.Mounts[%zu].Source is not a string", i);
                        if (!bind_allowed(p, json_string_value(src), strlen(json_string_value(src))))
                                return DENY(
                                        "HostConfig.Mounts[%zu]: host path %.200s is outside the allowed "
                                        "directories",
                                        i, json_string_value(src));
                } else if (!strcasecmp(json_string_value(type), "volume")) {
                        /* the local driver's device=/o=bind options mount any host path */
                        r = ci_get(e, "HostConfig.Mounts[]", "VolumeOptions", &vo, reason, rsz);
                        if (r >= 0)
                                r = ci_get(vo, "VolumeOptions", "DriverConfig", &dc, reason, rsz);
                        if (r >= 0)
                                r = ci_get(dc, "DriverConfig", "Options", &opts, reason, rsz);
                        if (r < 0)
                                return r;
                        if (!none(opts))
                                return DENY("HostConfig.Mounts[%zu]: volume driver options are not allowed",
                                            i);
                } else if (strcasecmp(json_string_value(type), "tmpfs")) {
                        return DENY("HostConfig.Mounts[%zu].Type: \"%.32s\" is not allowed", i,
                                    json_string_value(type));
                }
        }
        return 0;
}

int proxy_inspect_body(const ProxyPolicy *p, ProxyInspect kind, const char *body, size_t len, char *reason,
                       size_t rsz)
{
        _cleanup_json_ json_t *j = NULL;
        Error *e = NULL;
        json_t *v;
        int r;

        if (kind == PROXY_INSPECT_NONE)
                return 0;
        if (len == 0 && kind != PROXY_INSPECT_CREATE)
                return 0;
        if (len > PROXY_BODY_MAX)
                return DENY("the request body is larger than %d bytes", PROXY_BODY_MAX);
        if (jx_parse(body, len, "request body", &j, &e) < 0) {
                snprintf(reason, rsz, "%s", e->msg);
                error_free(e);
                return -EINVAL;
        }
        if (!json_is_object(j))
                return DENY("the request body is not a JSON object");
        switch (kind) {
        case PROXY_INSPECT_CREATE:
                r = ci_get(j, "body", "HostConfig", &v, reason, rsz);
                if (r < 0)
                        return r;
                return v ? check_host_config(p, v, reason, rsz) : 0;
        case PROXY_INSPECT_UPDATE:
                return check_devices(j, "body", reason, rsz);
        case PROXY_INSPECT_EXEC:
                r = ci_get(j, "body", "Privileged", &v, reason, rsz);
                if (r < 0)
                        return r;
                return none(v) ? 0 : DENY("Privileged: privileged exec is not allowed");
        case PROXY_INSPECT_VOLUME:
                r = ci_get(j, "body", "DriverOpts", &v, reason, rsz);
                if (r < 0)
                        return r;
                return none(v) ? 0 : DENY("DriverOpts: volume driver options are not allowed");
        case PROXY_INSPECT_NONE:
        default:
                return 0;
        }
}
