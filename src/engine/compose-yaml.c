/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * compose's text layers: YAML in (libyaml's document loader: anchors and aliases; merge keys here),
 * YAML out (libyaml's emitter), interpolation, .env files and shell-style command splitting.
 * Everything here reads attacker-controlled text: sizes, node counts and depth are bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "compose.h"
#include "json-util.h"

#define MAX_STRING (1 << 20)
#define MAX_INTERP_DEPTH 8

typedef struct YamlCtx {
        yaml_document_t *doc;
        const char *file;
        json_t *locs;
        size_t nodes;
} YamlCtx;

static void loc_set(YamlCtx *c, const char *path, const yaml_mark_t *m)
{
        if (c->locs && path && *path)
                json_object_set_new(c->locs, path, json_sprintf("%s:%zu", c->file, m->line + 1));
}

static bool is_null_word(const char *s)
{
        return !*s || STREQ(s, "~") || STREQ(s, "null") || STREQ(s, "Null") || STREQ(s, "NULL");
}

static int bool_word(const char *s)
{
        if (STREQ(s, "true") || STREQ(s, "True") || STREQ(s, "TRUE"))
                return 1;
        if (STREQ(s, "false") || STREQ(s, "False") || STREQ(s, "FALSE"))
                return 0;
        return -1;
}

/* A plain scalar's JSON: YAML 1.2 core's null, bool and decimal int; all else (floats too) text. */
static json_t *plain_scalar(const char *s)
{
        int64_t n;
        int b;

        if (is_null_word(s))
                return json_null();
        b = bool_word(s);
        if (b >= 0)
                return json_boolean(b);
        if ((isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))) &&
            !(s[0] == '0' && s[1]) && !(s[0] == '-' && s[1] == '0') && parse_int64(s, &n) == 0)
                return json_integer(n);
        return json_string(s);
}

static int convert(YamlCtx *c, yaml_node_t *n, const char *path, int depth, json_t **ret, Error **err);

/* `<<: *a` or `<<: [*a, *b]`: keys not set explicitly come from the mappings, the first one winning. */
static int merge_keys(YamlCtx *c, yaml_node_t *v, const char *path, int depth, json_t *into, Error **err)
{
        yaml_node_item_t *it;
        json_t *m = NULL;
        const char *k;
        json_t *x;
        int r;

        if (v->type == YAML_SEQUENCE_NODE) {
                for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
                        if (!e || e->type != YAML_MAPPING_NODE)
                                return error_setx(err, EINVAL, "%s:%zu: %s: a merge key (<<) takes a mapping or a list of mappings",
                                                  c->file, v->start_mark.line + 1, path && *path ? path : "<<");
                        r = merge_keys(c, e, path, depth + 1, into, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (v->type != YAML_MAPPING_NODE)
                return error_setx(err, EINVAL, "%s:%zu: %s: a merge key (<<) takes a mapping or a list of mappings", c->file,
                                  v->start_mark.line + 1, path && *path ? path : "<<");
        /* the merged keys' lines are the anchor's, but only where the mapping has no line of its own */
        json_t *locs = c->locs, *mine = locs ? json_object() : NULL;
        c->locs = mine;
        r = convert(c, v, path, depth + 1, &m, err);
        c->locs = locs;
        if (r >= 0) {
                json_object_foreach(m, k, x) if (!json_object_get(into, k)) json_object_set(into, k, x);
                json_object_foreach(mine, k, x) if (!json_object_get(locs, k)) json_object_set(locs, k, x);
        }
        json_decref(m);
        json_decref(mine);
        return r;
}

static int convert(YamlCtx *c, yaml_node_t *n, const char *path, int depth, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *out = NULL;

        if (depth > COMPOSE_MAX_DEPTH)
                return error_setx(err, E2BIG, "%s:%zu: %s: nested deeper than %d levels", c->file, n->start_mark.line + 1,
                                  path && *path ? path : "(top)", COMPOSE_MAX_DEPTH);
        if (++c->nodes > COMPOSE_MAX_NODES)
                return error_setx(err, E2BIG, "%s:%zu: more than %d YAML nodes once aliases are expanded", c->file,
                                  n->start_mark.line + 1, COMPOSE_MAX_NODES);
        switch (n->type) {
        case YAML_SCALAR_NODE: {
                const char *s = (const char *)n->data.scalar.value;
                size_t len = n->data.scalar.length;
                if (memchr(s, '\0', len))
                        return error_setx(err, EINVAL, "%s:%zu: %s: a NUL byte in a value", c->file, n->start_mark.line + 1,
                                          path && *path ? path : "(top)");
                /* libyaml's loader tags every untagged plain scalar !!str, so an explicit "!!str 12" cannot be
                 * told from "12": plain scalars are resolved by their text alone (quote a value to keep it text). */
                if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
                        out = plain_scalar(s);
                else
                        out = json_stringn(s, len);
                if (!out)
                        return error_setx(err, EINVAL, "%s:%zu: %s: not valid UTF-8", c->file, n->start_mark.line + 1,
                                          path && *path ? path : "(top)");
                break;
        }
        case YAML_SEQUENCE_NODE: {
                size_t i = 0;
                out = json_array();
                for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
                        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
                        _cleanup_free_ char *p = jx_path_index(path, i);
                        json_t *v = NULL;
                        int r;
                        if (!e)
                                return error_setx(err, EINVAL, "%s: broken YAML document", c->file);
                        loc_set(c, p, &e->start_mark);
                        r = convert(c, e, p, depth + 1, &v, err);
                        if (r < 0)
                                return r;
                        json_array_append_new(out, v);
                }
                break;
        }
        case YAML_MAPPING_NODE: {
                yaml_node_t *merge = NULL;
                out = json_object();
                for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
                        yaml_node_t *k = yaml_document_get_node(c->doc, pr->key);
                        yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
                        _cleanup_free_ char *p = NULL;
                        const char *key;
                        json_t *jv = NULL;
                        int r;
                        if (!k || !v)
                                return error_setx(err, EINVAL, "%s: broken YAML document", c->file);
                        if (k->type != YAML_SCALAR_NODE)
                                return error_setx(err, EINVAL, "%s:%zu: %s: a mapping key must be a scalar", c->file,
                                                  k->start_mark.line + 1, path && *path ? path : "(top)");
                        key = (const char *)k->data.scalar.value;
                        json_t *kt = memchr(key, '\0', k->data.scalar.length) ? NULL : json_stringn(key, k->data.scalar.length);
                        if (!kt)
                                return error_setx(err, EINVAL, "%s:%zu: %s: a key with a NUL byte or not UTF-8", c->file,
                                                  k->start_mark.line + 1, path && *path ? path : "(top)");
                        json_decref(kt);
                        if (STREQ(key, "<<") && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                                merge = v;
                                continue;
                        }
                        p = jx_path(path, key);
                        if (json_object_get(out, key))
                                return error_setx(err, EINVAL, "%s:%zu: %s: mapping key \"%s\" already defined", c->file,
                                                  k->start_mark.line + 1, p, key);
                        loc_set(c, p, &k->start_mark);
                        r = convert(c, v, p, depth + 1, &jv, err);
                        if (r < 0)
                                return r;
                        json_object_set_new(out, key, jv);
                }
                if (merge) {
                        int r = merge_keys(c, merge, path, depth, out, err);
                        if (r < 0)
                                return r;
                }
                break;
        }
        case YAML_NO_NODE:
        default:
                out = json_null();
                break;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int compose_yaml_parse(const char *text, size_t len, const char *file, json_t *locs, json_t **ret, Error **err)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root;
        YamlCtx c = { .doc = &doc, .file = file, .locs = locs };
        int r;

        if (len > COMPOSE_MAX_FILE)
                return error_setx(err, EFBIG, "%s: larger than %d bytes", file, COMPOSE_MAX_FILE);
        if (!yaml_parser_initialize(&parser))
                return error_setx(err, ENOMEM, "%s: initialising the YAML parser", file);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = error_setx(err, EINVAL, "%s:%zu: %s%s%s", file,
                               (parser.problem_mark.line ? parser.problem_mark.line : parser.context_mark.line) + 1,
                               parser.context ? parser.context : "", parser.context ? ": " : "",
                               parser.problem ? parser.problem : "invalid YAML");
                yaml_parser_delete(&parser);
                return r;
        }
        root = yaml_document_get_root_node(&doc);
        if (!root)
                *ret = json_object();
        else {
                json_t *j = NULL;
                r = convert(&c, root, "", 0, &j, err);
                if (r < 0) {
                        yaml_document_delete(&doc);
                        yaml_parser_delete(&parser);
                        return r;
                }
                *ret = j;
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return 0;
}

/* ---- interpolation ---- */

static bool name_start(char ch)
{
        return ch == '_' || isalpha((unsigned char)ch);
}

static bool name_char(char ch)
{
        return ch == '_' || isalnum((unsigned char)ch);
}

static int interp(const char *s, size_t len, json_t *env, char ***warnings, int depth, Buf *out, Error **err);

/* ${...}: body is what is between the braces (nested braces allowed in the default). */
static int interp_braced(const char *body, size_t len, json_t *env, char ***warnings, int depth, Buf *out, Error **err)
{
        size_t i = 0;
        _cleanup_free_ char *name = NULL;
        const char *val;
        json_t *jv;
        bool colon = false;
        char op = 0;

        if (!len || !name_start(body[0]))
                return error_setx(err, EINVAL, "invalid interpolation format for \"${%.*s}\": a name must start with a letter or _",
                                  (int)len, body);
        while (i < len && name_char(body[i]))
                i++;
        name = xstrndup(body, i);
        jv = json_object_get(env, name);
        val = json_string_value(jv);
        if (i < len) {
                if (body[i] == ':') {
                        colon = true;
                        i++;
                }
                if (i >= len || !strchr("-?+", body[i]))
                        return error_setx(err, EINVAL, "invalid interpolation format for \"${%.*s}\": expected :-, -, :?, ?, :+ or + "
                                          "after the name", (int)len, body);
                op = body[i++];
        }
        bool unset = !val || (colon && !*val);
        const char *rest = body + i;
        size_t rlen = len - i;
        switch (op) {
        case 0:
                if (!val) {
                        strv_consume(warnings, xasprintf("the \"%s\" variable is not set: defaulting to a blank string", name));
                        return 0;
                }
                buf_puts(out, val);
                return 0;
        case '-':
                if (unset)
                        return interp(rest, rlen, env, warnings, depth + 1, out, err);
                buf_puts(out, val);
                return 0;
        case '+':
                if (!unset)
                        return interp(rest, rlen, env, warnings, depth + 1, out, err);
                return 0;
        case '?':
                if (unset) {
                        Buf m = { 0 };
                        int r = interp(rest, rlen, env, warnings, depth + 1, &m, err);
                        if (r < 0) {
                                buf_free(&m);
                                return r;
                        }
                        r = error_setx(err, EINVAL, "required variable %s is missing a value: %s", name,
                                       m.len ? buf_cstr(&m) : "(no message)");
                        buf_free(&m);
                        return r;
                }
                buf_puts(out, val);
                return 0;
        default:
                return error_setx(err, EINVAL, "invalid interpolation format");
        }
}

static int interp(const char *s, size_t len, json_t *env, char ***warnings, int depth, Buf *out, Error **err)
{
        if (depth > MAX_INTERP_DEPTH)
                return error_setx(err, E2BIG, "interpolation nested deeper than %d levels", MAX_INTERP_DEPTH);
        for (size_t i = 0; i < len;) {
                if (out->len > MAX_STRING)
                        return error_setx(err, E2BIG, "an interpolated value longer than %d bytes", MAX_STRING);
                if (s[i] != '$') {
                        buf_putc(out, s[i++]);
                        continue;
                }
                if (i + 1 < len && s[i + 1] == '$') {
                        buf_putc(out, '$');
                        i += 2;
                        continue;
                }
                if (i + 1 < len && s[i + 1] == '{') {
                        size_t j = i + 2;
                        int level = 1;
                        for (; j < len; j++) {
                                if (s[j] == '{' && s[j - 1] == '$')
                                        level++;
                                else if (s[j] == '}' && --level == 0)
                                        break;
                        }
                        if (j >= len)
                                return error_setx(err, EINVAL, "invalid interpolation format for \"%.*s\": no closing }",
                                                  (int)(len - i), s + i);
                        int r = interp_braced(s + i + 2, j - i - 2, env, warnings, depth, out, err);
                        if (r < 0)
                                return r;
                        i = j + 1;
                        continue;
                }
                if (i + 1 < len && name_start(s[i + 1])) {
                        size_t j = i + 1;
                        while (j < len && name_char(s[j]))
                                j++;
                        int r = interp_braced(s + i + 1, j - i - 1, env, warnings, depth, out, err);
                        if (r < 0)
                                return r;
                        i = j;
                        continue;
                }
                return error_setx(err, EINVAL, "invalid interpolation format for \"%.*s\": use $$ for a literal $", (int)(len - i),
                                  s + i);
        }
        return 0;
}

int compose_interpolate(const char *s, json_t *env, char ***warnings, char **ret, Error **err)
{
        Buf out = { 0 };
        int r = interp(s, strlen(s), env, warnings, 0, &out, err);
        if (r < 0) {
                buf_free(&out);
                return r;
        }
        *ret = xstrdup(out.len ? buf_cstr(&out) : "");
        buf_free(&out);
        return 0;
}

/* ---- .env ---- */

int compose_parse_env(const char *text, size_t len, const char *file, json_t *env, Error **err)
{
        size_t lineno = 0;

        if (len > COMPOSE_MAX_FILE)
                return error_setx(err, EFBIG, "%s: larger than %d bytes", file, COMPOSE_MAX_FILE);
        for (size_t pos = 0; pos < len;) {
                const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
                size_t ll = nl ? (size_t)(nl - l) : len - pos;
                _cleanup_free_ char *line = xstrndup(l, ll), *key = NULL;
                char *p = line, *eq, *v, *end;

                pos += ll + (nl ? 1 : 0);
                lineno++;
                if (memchr(l, '\0', ll))
                        return error_setx(err, EINVAL, "%s:%zu: a NUL byte", file, lineno);
                end = p + strlen(p);
                while (end > p && (end[-1] == '\r' || isspace((unsigned char)end[-1])))
                        *--end = '\0';
                while (isspace((unsigned char)*p))
                        p++;
                if (!*p || *p == '#')
                        continue;
                if (str_has_prefix(p, "export ") || str_has_prefix(p, "export\t"))
                        for (p += 7; isspace((unsigned char)*p);)
                                p++;
                eq = strchr(p, '=');
                if (!eq) {
                        /* a bare name takes the value from the environment compose runs in: nothing to do here */
                        continue;
                }
                key = xstrndup(p, (size_t)(eq - p));
                for (end = key + strlen(key); end > key && isspace((unsigned char)end[-1]);)
                        *--end = '\0';
                if (!*key || !name_start(key[0]))
                        return error_setx(err, EINVAL, "%s:%zu: invalid variable name \"%s\"", file, lineno, key);
                for (char *k = key; *k; k++)
                        if (!name_char(*k) && *k != '.' && *k != '-')
                                return error_setx(err, EINVAL, "%s:%zu: invalid variable name \"%s\"", file, lineno, key);
                v = eq + 1;
                while (*v == ' ' || *v == '\t')
                        v++;
                if (*v == '"' || *v == '\'') {
                        char q = *v++;
                        Buf b = { 0 };
                        for (; *v && *v != q; v++) {
                                if (q == '"' && *v == '\\' && v[1]) {
                                        v++;
                                        buf_putc(&b, *v == 'n' ? '\n' : *v == 't' ? '\t' : *v);
                                } else
                                        buf_putc(&b, *v);
                        }
                        if (*v != q) {
                                buf_free(&b);
                                return error_setx(err, EINVAL, "%s:%zu: %s: unterminated quoted value", file, lineno, key);
                        }
                        json_object_set_new(env, key, json_string(b.len ? buf_cstr(&b) : ""));
                        buf_free(&b);
                } else {
                        char *hash = strstr(v, " #");
                        if (hash)
                                *hash = '\0';
                        for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]);)
                                *--end = '\0';
                        json_t *jv = json_string(v);
                        if (!jv)
                                return error_setx(err, EINVAL, "%s:%zu: %s: not valid UTF-8", file, lineno, key);
                        json_object_set_new(env, key, jv);
                }
        }
        return 0;
}

/* ---- shell words ---- */

int compose_shell_split(const char *s, json_t **ret, Error **err)
{
        _cleanup_json_ json_t *out = json_array();
        Buf w = { 0 };
        bool in_word = false;

        for (const char *p = s;; p++) {
                if (!*p || isspace((unsigned char)*p)) {
                        if (in_word) {
                                json_array_append_new(out, json_string(w.len ? buf_cstr(&w) : ""));
                                w.len = 0;
                                in_word = false;
                        }
                        if (!*p)
                                break;
                        continue;
                }
                in_word = true;
                if (*p == '\'') {
                        const char *e = strchr(p + 1, '\'');
                        if (!e)
                                goto unterminated;
                        buf_put(&w, p + 1, (size_t)(e - p - 1));
                        p = e;
                } else if (*p == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1]))
                                        p++;
                                buf_putc(&w, *p);
                        }
                        if (!*p)
                                goto unterminated;
                } else if (*p == '\\') {
                        if (p[1])
                                p++;
                        buf_putc(&w, *p);
                } else
                        buf_putc(&w, *p);
        }
        buf_free(&w);
        *ret = TAKE_PTR(out);
        return 0;
unterminated:
        buf_free(&w);
        return error_setx(err, EINVAL, "unterminated quote in \"%s\"", s);
}

/* ---- YAML out ---- */

/* A string that a YAML reader would take for something else is quoted. */
static bool needs_quotes(const char *s)
{
        json_t *j = plain_scalar(s);
        bool q = !json_is_string(j) || !*s;
        json_decref(j);
        if (q)
                return true;
        /* numbers that plain_scalar keeps as text (floats, octal-looking, 1e3) and YAML 1.1's booleans */
        static const char *const words[] = { "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON",
                                             "off", "Off", "OFF", ".inf", ".nan" };
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (STREQ(s, words[i]))
                        return true;
        if (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && isdigit((unsigned char)s[1])))
                return true;
        return false;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev)
{
        return yaml_emitter_emit(em, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, bool quote)
{
        yaml_event_t ev;
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                     quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
        return emit(em, &ev);
}

static int key_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int emit_json(yaml_emitter_t *em, json_t *j)
{
        yaml_event_t ev;
        int r;

        switch (json_typeof(j)) {
        case JSON_OBJECT: {
                size_t n = json_object_size(j), i = 0;
                _cleanup_free_ const char **keys = xcalloc(n ? n : 1, sizeof(char *));
                const char *k;
                json_t *v;
                json_object_foreach(j, k, v) keys[i++] = k;
                qsort(keys, n, sizeof(char *), key_cmp);
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
                if ((r = emit(em, &ev)) < 0)
                        return r;
                for (i = 0; i < n; i++) {
                        if ((r = emit_scalar(em, keys[i], needs_quotes(keys[i]))) < 0 ||
                            (r = emit_json(em, json_object_get(j, keys[i]))) < 0)
                                return r;
                }
                yaml_mapping_end_event_initialize(&ev);
                return emit(em, &ev);
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *v;
                yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
                if ((r = emit(em, &ev)) < 0)
                        return r;
                json_array_foreach(j, i, v) if ((r = emit_json(em, v)) < 0) return r;
                yaml_sequence_end_event_initialize(&ev);
                return emit(em, &ev);
        }
        case JSON_STRING:
                return emit_scalar(em, json_string_value(j), needs_quotes(json_string_value(j)));
        case JSON_INTEGER: {
                char b[32];
                snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
                return emit_scalar(em, b, false);
        }
        case JSON_REAL: {
                char b[64];
                snprintf(b, sizeof(b), "%.17g", json_real_value(j));
                return emit_scalar(em, b, false);
        }
        case JSON_TRUE:
                return emit_scalar(em, "true", false);
        case JSON_FALSE:
                return emit_scalar(em, "false", false);
        case JSON_NULL:
        default:
                return emit_scalar(em, "null", false);
        }
}

static int buf_writer(void *data, unsigned char *buffer, size_t size)
{
        buf_put(data, buffer, size);
        return 1;
}

int compose_to_yaml(json_t *model, char **ret, Error **err)
{
        yaml_emitter_t em;
        yaml_event_t ev;
        Buf out = { 0 };
        int r = 0;

        if (!yaml_emitter_initialize(&em))
                return error_setx(err, ENOMEM, "initialising the YAML emitter");
        yaml_emitter_set_output(&em, buf_writer, &out);
        yaml_emitter_set_unicode(&em, 1);
        yaml_emitter_set_indent(&em, 2);
        yaml_emitter_set_width(&em, -1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        r = emit(&em, &ev);
        if (r == 0) {
                yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
                r = emit(&em, &ev);
        }
        if (r == 0)
                r = emit_json(&em, model);
        if (r == 0) {
                yaml_document_end_event_initialize(&ev, 1);
                r = emit(&em, &ev);
        }
        if (r == 0) {
                yaml_stream_end_event_initialize(&ev);
                r = emit(&em, &ev);
        }
        if (r < 0) {
                r = error_setx(err, EIO, "writing YAML: %s", em.problem ? em.problem : "emitter error");
                yaml_emitter_delete(&em);
                buf_free(&out);
                return r;
        }
        yaml_emitter_delete(&em);
        *ret = xstrdup(out.len ? buf_cstr(&out) : "");
        buf_free(&out);
        return 0;
}
