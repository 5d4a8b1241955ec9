/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "json-util.h"
#include "util.h"

/* U+FDD0, a Unicode noncharacter, marks integers too big for jansson's int64. */
#define BIG_MARK     "\xef\xb7\x90"
#define BIG_MARK_LEN 3
#define MAX_DEPTH    64

/*
 * Rewrites unsigned integer literals above INT64_MAX into marked strings.  This is a lexer for the
 * parts of JSON that matter here (strings with escapes, and number tokens); it never changes the
 * structure, so jansson still validates the whole document.  Also measures nesting depth.
 */
static int rewrite_big_ints(const char *in, size_t len, char **ret, size_t *ret_len, int *ret_depth)
{
        char *out = NULL;
        size_t o = 0, cap = 0;
        int depth = 0, maxdepth = 0;
        bool changed = false;

        for (size_t i = 0; i < len;) {
                char c = in[i];
                size_t start = i;

                if (c == '"') {
                        i++;
                        while (i < len && in[i] != '"')
                                i += (in[i] == '\\') ? 2 : 1;
                        i = i < len ? i + 1 : len;
                } else if (c >= '0' && c <= '9' && (start == 0 || in[start - 1] != '-')) {
                        while (i < len && in[i] >= '0' && in[i] <= '9')
                                i++;
                        bool integer = !(i < len && (in[i] == '.' || in[i] == 'e' || in[i] == 'E'));
                        size_t ndig = i - start;
                        if (integer && (ndig > 19 || (ndig == 19 && memcmp(in + start, "9223372036854775807", 19) > 0))) {
                                if (!changed) {
                                        cap = len + 64;
                                        out = xmalloc(cap);
                                        memcpy(out, in, start);
                                        o = start;
                                        changed = true;
                                }
                                if (o + ndig + BIG_MARK_LEN + 3 > cap) {
                                        cap = (o + ndig + 64) * 2;
                                        out = xrealloc(out, cap);
                                }
                                out[o++] = '"';
                                memcpy(out + o, BIG_MARK, BIG_MARK_LEN);
                                o += BIG_MARK_LEN;
                                memcpy(out + o, in + start, ndig);
                                o += ndig;
                                out[o++] = '"';
                                continue;
                        }
                } else {
                        if (c == '{' || c == '[') {
                                if (++depth > maxdepth)
                                        maxdepth = depth;
                        } else if (c == '}' || c == ']')
                                depth--;
                        i++;
                }
                if (changed) {
                        size_t n = i - start;
                        if (o + n + 1 > cap) {
                                cap = (o + n + 64) * 2;
                                out = xrealloc(out, cap);
                        }
                        memcpy(out + o, in + start, n);
                        o += n;
                }
        }
        *ret = out;
        *ret_len = o;
        *ret_depth = maxdepth;
        return changed;
}

int jx_parse(const char *text, size_t len, const char *what, json_t **ret, Error **err)
{
        _cleanup_free_ char *rewritten = NULL;
        size_t rlen = 0;
        int depth = 0;
        json_error_t je;
        json_t *j;

        if (rewrite_big_ints(text, len, &rewritten, &rlen, &depth) > 0) {
                text = rewritten;
                len = rlen;
        }
        if (depth > MAX_DEPTH)
                return error_setx(err, EINVAL, "%s: JSON nested deeper than %d levels", what, MAX_DEPTH);
        j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return error_setx(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what, je.line,
                                  je.column, je.text);
        *ret = j;
        return 0;
}

char *jx_path(const char *parent, const char *key)
{
        if (!parent || !*parent)
                return xstrdup(key);
        return xasprintf("%s.%s", parent, key);
}

char *jx_path_index(const char *parent, size_t index)
{
        return xasprintf("%s[%zu]", parent ? parent : "", index);
}

static bool is_big(const json_t *v)
{
        return json_is_string(v) && strncmp(json_string_value(v), BIG_MARK, BIG_MARK_LEN) == 0;
}

/* Looks the key up; 0 absent (an error if required), 1 present with *ret set. */
static int lookup(json_t *obj, const char *parent, const char *key, bool required, json_t **ret, Error **err)
{
        json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

        if (!v || json_is_null(v)) {
                if (required) {
                        _cleanup_free_ char *p = jx_path(parent, key);
                        return error_setx(err, EINVAL, "%s: required field is missing", p);
                }
                return 0;
        }
        *ret = v;
        return 1;
}

static int type_error(const char *parent, const char *key, const char *expected, Error **err)
{
        _cleanup_free_ char *p = jx_path(parent, key);
        return error_setx(err, EINVAL, "%s: expected %s", p, expected);
}

int jx_string(json_t *obj, const char *parent, const char *key, bool required, char **ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_string(v) || is_big(v))
                return type_error(parent, key, "a string", err);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return type_error(parent, key, "a string without NUL bytes", err);
        free(*ret);
        *ret = xstrdup(json_string_value(v));
        return 1;
}

int jx_bool(json_t *obj, const char *parent, const char *key, bool required, bool *ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_boolean(v))
                return type_error(parent, key, "a boolean", err);
        *ret = json_is_true(v);
        return 1;
}

int jx_int64(json_t *obj, const char *parent, const char *key, bool required, int64_t *ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_integer(v))
                return type_error(parent, key, is_big(v) ? "an integer in the int64 range" : "an integer", err);
        *ret = json_integer_value(v);
        return 1;
}

int jx_uint64(json_t *obj, const char *parent, const char *key, bool required, uint64_t *ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (is_big(v)) {
                uint64_t u;
                if (parse_uint64(json_string_value(v) + BIG_MARK_LEN, &u) < 0)
                        return type_error(parent, key, "an integer in the uint64 range", err);
                *ret = u;
                return 1;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return type_error(parent, key, "a non-negative integer", err);
        *ret = (uint64_t)json_integer_value(v);
        return 1;
}

int jx_uint32(json_t *obj, const char *parent, const char *key, bool required, uint32_t *ret, Error **err)
{
        uint64_t u = 0;
        int r = jx_uint64(obj, parent, key, required, &u, err);
        if (r <= 0)
                return r;
        if (u > UINT32_MAX)
                return type_error(parent, key, "an integer between 0 and 4294967295", err);
        *ret = (uint32_t)u;
        return 1;
}

int jx_int32(json_t *obj, const char *parent, const char *key, bool required, int32_t *ret, Error **err)
{
        int64_t i = 0;
        int r = jx_int64(obj, parent, key, required, &i, err);
        if (r <= 0)
                return r;
        if (i < INT32_MIN || i > INT32_MAX)
                return type_error(parent, key, "a 32-bit integer", err);
        *ret = (int32_t)i;
        return 1;
}

int jx_strv(json_t *obj, const char *parent, const char *key, bool required, char ***ret, Error **err)
{
        json_t *v, *e;
        size_t i;
        char **out;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_array(v))
                return type_error(parent, key, "an array of strings", err);
        json_array_foreach (v, i, e)
                if (!json_is_string(e) || is_big(e) || strlen(json_string_value(e)) != json_string_length(e))
                        return type_error(parent, key, "an array of strings", err);
        out = xcalloc(json_array_size(v) + 1, sizeof(char *));
        json_array_foreach (v, i, e)
                out[i] = xstrdup(json_string_value(e));
        strv_free(*ret);
        *ret = out;
        return 1;
}

int jx_object(json_t *obj, const char *parent, const char *key, bool required, json_t **ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_object(v))
                return type_error(parent, key, "an object", err);
        *ret = v;
        return 1;
}

int jx_array(json_t *obj, const char *parent, const char *key, bool required, json_t **ret, Error **err)
{
        json_t *v = NULL;
        int r = lookup(obj, parent, key, required, &v, err);
        if (r <= 0)
                return r;
        if (!json_is_array(v))
                return type_error(parent, key, "an array", err);
        *ret = v;
        return 1;
}

json_t *jx_uint64_new(uint64_t v)
{
        if (v <= INT64_MAX)
                return json_integer((json_int_t)v);
        return json_sprintf(BIG_MARK "%" PRIu64, v);
}

char *jx_dump(const json_t *j, bool pretty)
{
        char *s = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
        char *in, *out;

        if (!s)
                abort();
        /* Marked big integers go out as bare numbers again: "\"<mark>18446744073709551615\"" -> digits. */
        if (!strstr(s, "\"" BIG_MARK))
                return s;
        for (in = out = s; *in;) {
                if (in[0] == '"' && strncmp(in + 1, BIG_MARK, BIG_MARK_LEN) == 0) {
                        const char *d = in + 1 + BIG_MARK_LEN;
                        size_t n = strspn(d, "0123456789");
                        if (n > 0 && n <= 20 && d[n] == '"') {
                                memmove(out, d, n);
                                out += n;
                                in = (char *)d + n + 1;
                                continue;
                        }
                }
                if (in[0] == '"') {
                        /* copy a whole string, escapes included, so a quote inside is never taken for a start */
                        *out++ = *in++;
                        while (*in && *in != '"') {
                                if (*in == '\\' && in[1])
                                        *out++ = *in++;
                                *out++ = *in++;
                        }
                        if (*in)
                                *out++ = *in++;
                        continue;
                }
                *out++ = *in++;
        }
        *out = '\0';
        return s;
}

static int cmp_keys(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *jx_sorted_copy(json_t *obj)
{
        size_t n = json_is_object(obj) ? json_object_size(obj) : 0, i = 0;
        const char **keys = xcalloc(n + 1, sizeof(char *));
        json_t *out = json_object(), *v;
        const char *k;

        json_object_foreach(json_is_object(obj) ? obj : NULL, k, v)
                keys[i++] = k;
        qsort(keys, i, sizeof(char *), cmp_keys);
        for (size_t j = 0; j < i; j++)
                json_object_set(out, keys[j], json_object_get(obj, keys[j]));
        free(keys);
        return out;
}
