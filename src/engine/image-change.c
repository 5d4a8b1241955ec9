/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * docker import/commit --change.  dockerd (moby's BuildFromConfig) makes four passes, and so do we, so
 * the same input fails with the same error:
 *   1. the joined text is read as a Dockerfile: lines, comments, continuations, the escape directive,
 *      and each instruction's line parser (buildkit's parser package: JSON or shell form, ENV's two
 *      syntaxes, HEALTHCHECK's type, ONBUILD's trigger);
 *   2. every instruction must be a change command ("RUN is not a valid change command");
 *   3. each is parsed into its arguments (buildkit's instructions package: argument counts, flags);
 *   4. each is applied to a copy of the config (moby's dispatchers), words expanded first by the
 *      shell lexer against the Env the config has before the instruction.
 * Only when all of that succeeded does the copy replace the config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image-change.h"
#include "json-util.h"
#include "signals.h"
#include "util.h"

/* ${A:-${B:-...}} nests by recursion: deeper than this is refused before the stack matters. */
#define LEX_DEPTH_MAX 64
/* PATH_MAX - 1 */
#define WORKDIR_MAX 4095

/* ================================================================ strings */

typedef struct Buf {
        char *p;
        size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->p = xrealloc(b->p, b->cap);
        }
        if (n)
                memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void buf_adds(Buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

static void buf_reset(Buf *b)
{
        b->len = 0;
        if (b->p)
                b->p[0] = 0;
}

static char *buf_take(Buf *b)
{
        char *p = b->p ? b->p : xstrdup("");
        *b = (Buf){ 0 };
        return p;
}

static void buf_free(Buf *b)
{
        free(b->p);
        *b = (Buf){ 0 };
}

/* The length of the UTF-8 sequence starting at s: every text here has been checked to be valid UTF-8
 * (image_text_check), or comes from jansson, which only holds valid UTF-8. */
static size_t rune_len(const char *s)
{
        unsigned char c = (unsigned char)*s;
        return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Go's unicode.IsSpace at s: the length of the space character there, or 0. */
static size_t space_at(const char *s)
{
        const unsigned char *u = (const unsigned char *)s;

        switch (u[0]) {
        case ' ':
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
                return 1;
        case 0xc2: /* U+0085, U+00A0 */
                return u[1] == 0x85 || u[1] == 0xa0 ? 2 : 0;
        case 0xe1: /* U+1680 */
                return u[1] == 0x9a && u[2] == 0x80 ? 3 : 0;
        case 0xe2: /* U+2000..U+200A, U+2028, U+2029, U+202F, U+205F */
                if (u[1] == 0x80 &&
                    ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf))
                        return 3;
                return u[1] == 0x81 && u[2] == 0x9f ? 3 : 0;
        case 0xe3: /* U+3000 */
                return u[1] == 0x80 && u[2] == 0x80 ? 3 : 0;
        default:
                return 0;
        }
}

/* The Dockerfile parser's reWhitespace, [\t\v\f\r ]. */
static bool is_hspace(char c)
{
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Go regexp's \s, [\t\n\f\r ]. */
static bool is_re_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static const char *skip_space(const char *s)
{
        size_t k;
        while ((k = space_at(s)))
                s += k;
        return s;
}

/* strings.TrimSpace */
static char *trim_space(const char *s)
{
        const char *end;

        s = skip_space(s);
        end = s;
        for (const char *p = s; *p;) {
                size_t k = space_at(p);
                if (k) {
                        p += k;
                        continue;
                }
                p += rune_len(p);
                end = p;
        }
        return xstrndup(s, (size_t)(end - s));
}

/* Go's %q of s, for messages (s holds no control characters but tabs). */
static char *go_quote(const char *s)
{
        Buf b = { 0 };

        buf_adds(&b, "\"");
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        buf_add(&b, "\\", 1);
                if (*s == '\t')
                        buf_adds(&b, "\\t");
                else
                        buf_add(&b, s, 1);
        }
        buf_adds(&b, "\"");
        return buf_take(&b);
}

/*
 * Appends to a vector of n strings made by strv_new(): its room doubles when n + 1 is a power of two,
 * so EXPOSE's tens of thousands of words cost no quadratic copying.
 */
static void strv_add_n(char ***v, size_t *n, const char *s, size_t len)
{
        if (((*n + 1) & *n) == 0)
                *v = xrealloc(*v, 2 * (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = xstrndup(s, len);
        (*v)[*n] = NULL;
}

static char **strv_new(void)
{
        return xcalloc(1, sizeof(char *));
}

int image_text_check(const char *what, const char *s, size_t max, bool newlines, Error **err)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t n = strlen(s);

        if (n > max)
                return error_setx(err, EINVAL, "%s: longer than %zu bytes", what, max);
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t k;

                if (u[i] < 0x80) {
                        bool ok = u[i] == '\t' ||
                                  (newlines && (u[i] == '\n' || (u[i] == '\r' && u[i + 1] == '\n')));
                        if (!ok && (u[i] < 0x20 || u[i] == 0x7f))
                                return error_setx(err, EINVAL, "%s: control character 0x%02x at byte %zu",
                                                  what, u[i], i);
                        i++;
                        continue;
                }
                if (u[i] >= 0xc2 && u[i] <= 0xdf)
                        k = 2, cp = u[i] & 0x1f;
                else if (u[i] >= 0xe0 && u[i] <= 0xef)
                        k = 3, cp = u[i] & 0x0f;
                else if (u[i] >= 0xf0 && u[i] <= 0xf4)
                        k = 4, cp = u[i] & 0x07;
                else
                        return error_setx(err, EINVAL, "%s: invalid UTF-8 at byte %zu", what, i);
                if (i + k > n)
                        return error_setx(err, EINVAL, "%s: invalid UTF-8 at byte %zu", what, i);
                for (size_t j = 1; j < k; j++) {
                        if ((u[i + j] & 0xc0) != 0x80)
                                return error_setx(err, EINVAL, "%s: invalid UTF-8 at byte %zu", what, i);
                        cp = (cp << 6) | (u[i + j] & 0x3f);
                }
                /* shortest form only, no surrogates, nothing above U+10FFFF */
                if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return error_setx(err, EINVAL, "%s: invalid UTF-8 at byte %zu", what, i);
                /* C1 controls: U+009B is a CSI to some terminals */
                if (cp >= 0x80 && cp <= 0x9f)
                        return error_setx(err, EINVAL, "%s: control character U+%04X at byte %zu", what,
                                          (unsigned)cp, i);
                i += k;
        }
        return 0;
}

/* ================================================================ pass 1: the Dockerfile parser */

enum {
        K_CMD,
        K_ENTRYPOINT,
        K_ENV,
        K_EXPOSE,
        K_HEALTHCHECK,
        K_LABEL,
        K_ONBUILD,
        K_STOPSIGNAL,
        K_USER,
        K_VOLUME,
        K_WORKDIR,
        K_CHANGE_MAX, /* the ones above are change commands */
        K_ADD = K_CHANGE_MAX,
        K_ARG,
        K_COPY,
        K_FROM,
        K_MAINTAINER,
        K_RUN,
        K_SHELL,
        K_UNKNOWN,
};

static const char *const keywords[] = {
        [K_CMD] = "CMD",
        [K_ENTRYPOINT] = "ENTRYPOINT",
        [K_ENV] = "ENV",
        [K_EXPOSE] = "EXPOSE",
        [K_HEALTHCHECK] = "HEALTHCHECK",
        [K_LABEL] = "LABEL",
        [K_ONBUILD] = "ONBUILD",
        [K_STOPSIGNAL] = "STOPSIGNAL",
        [K_USER] = "USER",
        [K_VOLUME] = "VOLUME",
        [K_WORKDIR] = "WORKDIR",
        [K_ADD] = "ADD",
        [K_ARG] = "ARG",
        [K_COPY] = "COPY",
        [K_FROM] = "FROM",
        [K_MAINTAINER] = "MAINTAINER",
        [K_RUN] = "RUN",
        [K_SHELL] = "SHELL",
};

static int keyword_kind(const char *w)
{
        for (int k = 0; k < K_UNKNOWN; k++)
                if (strcasecmp(w, keywords[k]) == 0)
                        return k;
        return K_UNKNOWN;
}

typedef struct Node {
        int kind;
        char *name;     /* the keyword as written */
        char *line;     /* the whole instruction, continuations joined (ONBUILD keeps it) */
        char **flags;   /* the leading --flag words */
        char **args;    /* the line parser's arguments; NULL when there were none */
        bool json;      /* they were a JSON array */
        json_t *health; /* HEALTHCHECK: the parsed Healthcheck (pass 3) */
        char *onbuild;  /* ONBUILD: the trigger's text (pass 3) */
} Node;

static void node_done(Node *n)
{
        free(n->name);
        free(n->line);
        strv_free(n->flags);
        strv_free(n->args);
        json_decref(n->health);
        free(n->onbuild);
        *n = (Node){ 0 };
}

/* An error of instruction n: docker's message, prefixed with the instruction when it does not name it. */
static int node_err(Error **err, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int node_err(Error **err, const Node *n, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        const char *kw = n->kind < K_UNKNOWN ? keywords[n->kind] : n->name;
        size_t l = strlen(kw);
        va_list ap;

        va_start(ap, fmt);
        m = xvasprintf(fmt, ap);
        va_end(ap);
        if (strncmp(m, kw, l) == 0 && (m[l] == ' ' || m[l] == 0))
                return error_setx(err, EINVAL, "%s", m);
        return error_setx(err, EINVAL, "%s: %s", kw, m);
}

/*
 * The --flag words at the start of an instruction's arguments (buildkit's extractBuilderFlags: quotes
 * and backslashes inside them are taken off, "--" ends them).  Returns where the arguments start.
 */
static const char *extract_flags(const char *line, char ***flags)
{
        enum { SPACES, WORD, QUOTE } phase = SPACES;
        size_t len = strlen(line), nflags = 0;
        bool blank_ok = false;
        char quote = 0;
        Buf word = { 0 };

        *flags = strv_new();
        for (size_t pos = 0; pos <= len; pos++) {
                char ch = pos < len ? line[pos] : 0;

                if (phase == SPACES) {
                        if (pos == len)
                                break;
                        if (is_hspace(ch) || ch == '\n')
                                continue;
                        if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
                                buf_free(&word);
                                return line + pos;
                        }
                        phase = WORD;
                }
                if (pos == len) {
                        if (!(word.p && STREQ(word.p, "--")) && (blank_ok || word.len))
                                strv_add_n(flags, &nflags, word.p ? word.p : "", word.len);
                        break;
                }
                if (phase == WORD) {
                        if (is_hspace(ch) || ch == '\n') {
                                phase = SPACES;
                                if (word.p && STREQ(word.p, "--")) {
                                        buf_free(&word);
                                        return line + pos;
                                }
                                if (blank_ok || word.len)
                                        strv_add_n(flags, &nflags, word.p ? word.p : "", word.len);
                                buf_reset(&word);
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = ch;
                                blank_ok = true;
                                phase = QUOTE;
                                continue;
                        }
                        if (ch == '\\') {
                                if (pos + 1 == len)
                                        continue;
                                ch = line[++pos];
                        }
                        buf_add(&word, &ch, 1);
                        continue;
                }
                /* QUOTE */
                if (ch == quote) {
                        phase = WORD;
                        continue;
                }
                if (ch == '\\') {
                        if (pos + 1 == len) {
                                phase = WORD;
                                continue;
                        }
                        ch = line[++pos];
                }
                buf_add(&word, &ch, 1);
        }
        buf_free(&word);
        return line + len;
}

/*
 * buildkit's parseWords (ENV and LABEL): words split at spaces outside quotes; quotes and escapes stay
 * in the words for the lexer to take off later.
 */
static char **parse_words(const char *rest, char esc)
{
        enum { SPACES, WORD, QUOTE } phase = SPACES;
        size_t len = strlen(rest), n = 0, w;
        char **words = strv_new(), quote = 0;
        bool blank_ok = false;
        Buf word = { 0 };

        for (size_t pos = 0; pos <= len; pos += w) {
                size_t sp = pos < len ? space_at(rest + pos) : 0;
                char ch = pos < len ? rest[pos] : 0;

                w = pos < len ? (sp ? sp : rune_len(rest + pos)) : 1;
                if (phase == SPACES) {
                        if (pos == len)
                                break;
                        if (sp)
                                continue;
                        phase = WORD;
                }
                if (pos == len) {
                        if (blank_ok || word.len)
                                strv_add_n(&words, &n, word.p ? word.p : "", word.len);
                        break;
                }
                if (phase == WORD) {
                        if (sp) {
                                phase = SPACES;
                                if (blank_ok || word.len)
                                        strv_add_n(&words, &n, word.p ? word.p : "", word.len);
                                buf_reset(&word);
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = ch;
                                blank_ok = true;
                                phase = QUOTE;
                        }
                        if (ch == esc) {
                                if (pos + w == len)
                                        continue; /* an escape at the end is dropped */
                                buf_add(&word, rest + pos, w);
                                pos += w;
                                w = rune_len(rest + pos);
                        }
                        buf_add(&word, rest + pos, w);
                        continue;
                }
                /* QUOTE */
                if (ch == quote)
                        phase = WORD;
                if (ch == esc && quote != '\'') {
                        if (pos + w == len) {
                                phase = WORD;
                                continue;
                        }
                        buf_add(&word, rest + pos, w);
                        pos += w;
                        w = rune_len(rest + pos);
                }
                buf_add(&word, rest + pos, w);
        }
        buf_free(&word);
        return words;
}

/* Splits at runs of [\t\v\f\r ] (reWhitespace.Split(s, -1)). */
static char **split_hspace(const char *s)
{
        char **v = strv_new();
        size_t n = 0;

        while (*s) {
                size_t l = 0;
                while (s[l] && !is_hspace(s[l]))
                        l++;
                strv_add_n(&v, &n, s, l);
                s += l;
                if (!*s)
                        break;
                while (is_hspace(*s))
                        s++;
                if (!*s) /* a trailing separator leaves an empty last field */
                        strv_add_n(&v, &n, "", 0);
        }
        return v;
}

static const char not_string_array[] =
        "when using JSON array syntax, arrays must be comprised of strings only";

/*
 * buildkit's parseJSON: text starting with '[' whose first JSON value (anything after it is ignored,
 * as Go's json.Decoder does) is an array of strings.  1 with *ret set; 0 when it is no JSON array;
 * -EINVAL (not_string_array) when the array holds anything but strings.
 */
static int parse_json_array(const char *rest, char ***ret)
{
        _cleanup_json_ json_t *a = NULL;
        char **v;
        size_t i, n = 0;
        json_t *e;

        rest = skip_space(rest);
        if (*rest != '[')
                return 0;
        a = json_loads(rest, JSON_DISABLE_EOF_CHECK | JSON_DECODE_INT_AS_REAL, NULL);
        if (!json_is_array(a))
                return 0;
        json_array_foreach (a, i, e)
                if (!json_is_string(e))
                        return -EINVAL;
        v = strv_new();
        json_array_foreach (a, i, e)
                strv_add_n(&v, &n, json_string_value(e), json_string_length(e));
        *ret = v;
        return 1;
}

/* parseMaybeJSON: a JSON array of strings, else the text as one argument. */
static int parse_maybe_json(Node *n, const char *rest, Error **err)
{
        size_t k = 0;
        int r;

        if (!*rest)
                return 0;
        r = parse_json_array(rest, &n->args);
        if (r < 0)
                return node_err(err, n, "%s", not_string_array);
        if (r > 0) {
                n->json = true;
                return 0;
        }
        n->args = strv_new();
        strv_add_n(&n->args, &k, rest, strlen(rest));
        return 0;
}

/* parseMaybeJSONToList: a JSON array of strings, else the words between spaces. */
static int parse_maybe_json_list(Node *n, const char *rest, Error **err)
{
        int r = parse_json_array(rest, &n->args);

        if (r < 0)
                return node_err(err, n, "%s", not_string_array);
        if (r > 0) {
                n->json = true;
                return 0;
        }
        if (*rest)
                n->args = split_hspace(rest);
        return 0;
}

/* parseNameVal: `KEY name value` (all the rest is the value) or `KEY n=v n2="v 2" ...`. */
static int parse_name_val(Node *n, const char *rest, char esc, Error **err)
{
        _cleanup_strv_ char **words = parse_words(rest, esc);
        size_t k = 0;

        if (!words[0])
                return 0;
        n->args = strv_new();
        if (!strchr(words[0], '=')) {
                size_t i = 0, j;
                while (rest[i] && !is_hspace(rest[i]))
                        i++;
                if (!rest[i])
                        return node_err(err, n, "%s must have two arguments", keywords[n->kind]);
                for (j = i; is_hspace(rest[j]); j++)
                        ;
                strv_add_n(&n->args, &k, rest, i);
                strv_add_n(&n->args, &k, rest + j, strlen(rest + j));
                return 0;
        }
        for (size_t i = 0; words[i]; i++) {
                const char *eq = strchr(words[i], '=');
                if (!eq) {
                        _cleanup_free_ char *q = go_quote(words[i]);
                        return node_err(err, n,
                                        "Syntax error - can't find = in %s. Must be of the form: name=value",
                                        q);
                }
                strv_add_n(&n->args, &k, words[i], (size_t)(eq - words[i]));
                strv_add_n(&n->args, &k, eq + 1, strlen(eq + 1));
        }
        return 0;
}

/* parseHealthConfig: the type (NONE, CMD), then CMD's command in either form. */
static int parse_health(Node *n, const char *rest, Error **err)
{
        _cleanup_strv_ char **cmd = NULL;
        size_t sep = 0, k = 0;
        const char *next;
        Node tmp = { .kind = K_HEALTHCHECK };
        int r;

        while (rest[sep] && !space_at(rest + sep))
                sep += rune_len(rest + sep);
        if (sep == 0)
                return 0;
        next = skip_space(rest + sep);
        r = parse_maybe_json(&tmp, next, err);
        if (r < 0) {
                node_done(&tmp);
                return r;
        }
        n->json = tmp.json;
        n->args = strv_new();
        strv_add_n(&n->args, &k, rest, sep);
        for (size_t i = 0; tmp.args && tmp.args[i]; i++)
                strv_add_n(&n->args, &k, tmp.args[i], strlen(tmp.args[i]));
        node_done(&tmp);
        return 0;
}

static int node_parse(const char *line, char esc, unsigned depth, Node *n, Error **err);

/* parseSubCommand (ONBUILD): the trigger is parsed as an instruction of its own; its keyword is the
 * first argument.  A trigger's own ONBUILD is not parsed further (pass 3 refuses it anyway), which
 * keeps the recursion to one level. */
static int parse_sub(Node *n, const char *rest, char esc, unsigned depth, Error **err)
{
        Node sub = { 0 };
        size_t k = 0;
        int r;

        if (!*rest)
                return 0;
        n->args = strv_new();
        if (depth > 0) {
                size_t l = 0;
                while (rest[l] && !is_hspace(rest[l]))
                        l++;
                strv_add_n(&n->args, &k, rest, l);
                return 0;
        }
        r = node_parse(rest, esc, depth + 1, &sub, err);
        if (r < 0) {
                node_done(&sub);
                (void)error_wrap(err, "ONBUILD");
                return r;
        }
        strv_add_n(&n->args, &k, sub.name, strlen(sub.name));
        node_done(&sub);
        return 0;
}

/* newNodeFromLine: the keyword, the flags, and the line parser of the keyword. */
static int node_parse(const char *line, char esc, unsigned depth, Node *n, Error **err)
{
        _cleanup_free_ char *t = trim_space(line), *rest = NULL;
        const char *p;
        size_t i = 0;

        while (t[i] && !is_hspace(t[i]))
                i++;
        n->name = xstrndup(t, i);
        n->kind = keyword_kind(n->name);
        n->line = xstrdup(line);
        for (p = t + i; is_hspace(*p); p++)
                ;
        if (*p)
                rest = trim_space(extract_flags(p, &n->flags));
        else {
                n->flags = strv_new();
                rest = xstrdup("");
        }
        switch (n->kind) {
        case K_CMD:
        case K_ENTRYPOINT:
        case K_RUN:
        case K_SHELL:
                return parse_maybe_json(n, rest, err);
        case K_ADD:
        case K_COPY:
        case K_VOLUME:
                return parse_maybe_json_list(n, rest, err);
        case K_ENV:
        case K_LABEL:
                return parse_name_val(n, rest, esc, err);
        case K_EXPOSE:
        case K_FROM:
                if (*rest)
                        n->args = split_hspace(rest);
                return 0;
        case K_MAINTAINER:
        case K_STOPSIGNAL:
        case K_USER:
        case K_WORKDIR:
                if (*rest) {
                        size_t k = 0;
                        n->args = strv_new();
                        strv_add_n(&n->args, &k, rest, strlen(rest));
                }
                return 0;
        case K_HEALTHCHECK:
                return parse_health(n, rest, err);
        case K_ONBUILD:
                return parse_sub(n, rest, esc, depth, err);
        case K_ARG:
        case K_UNKNOWN:
                return 0; /* never a change command: pass 2 names it */
        default:
                abort(); /* internal: a keyword without a line parser */
        }
}

/* One line of the text: *cur moves past it; the line ends before "\n" or "\r\n". */
static bool line_next(const char **cur, const char **ret, size_t *ret_len)
{
        const char *s = *cur, *nl;

        if (!*s)
                return false;
        nl = strchr(s, '\n');
        *ret = s;
        *ret_len = nl ? (size_t)(nl - s) : strlen(s);
        *cur = nl ? nl + 1 : s + *ret_len;
        while (*ret_len && s[*ret_len - 1] == '\r')
                (*ret_len)--;
        return true;
}

/*
 * buildkit's trimContinuationCharacter: the escape character as the last thing on the line (spaces
 * and tabs may follow it), not itself escaped, continues the instruction on the next line.  Appends
 * the line without it to b; false when the line continues.
 */
static bool add_line(Buf *b, const char *s, char esc)
{
        size_t n = strlen(s), e = n;

        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
        if (e > 0 && s[e - 1] == esc && (e == 1 || s[e - 2] != esc)) {
                buf_add(b, s, e - 1);
                return false;
        }
        buf_add(b, s, n);
        return true;
}

typedef struct Directives {
        bool done;
        unsigned seen; /* bit per directive name */
        char esc;
} Directives;

/*
 * Parser directives, `# name=value`, only before anything else: `escape` (\ or `) is the one that
 * matters here; `syntax` and `check` are recognised (and may appear once) but change nothing.
 */
static int directive(Directives *d, const char *t, Error **err)
{
        static const char *const names[] = { "syntax", "escape", "check" };
        const char *p = t, *name, *val, *vend;
        size_t nlen, i;

        if (d->done)
                return 0;
        if (*p++ != '#')
                goto done;
        while (is_re_space(*p))
                p++;
        name = p;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                goto done;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                p++;
        nlen = (size_t)(p - name);
        while (is_re_space(*p))
                p++;
        if (*p++ != '=')
                goto done;
        while (is_re_space(*p))
                p++;
        val = p;
        vend = val + strlen(val);
        while (vend > val && is_re_space(vend[-1]))
                vend--;
        if (vend == val)
                goto done;
        for (i = 0; i < ELEMENTSOF(names); i++)
                if (strlen(names[i]) == nlen && strncasecmp(name, names[i], nlen) == 0)
                        break;
        if (i == ELEMENTSOF(names))
                goto done;
        if (d->seen & (1u << i))
                return error_setx(err, EINVAL, "--change: only one %s parser directive can be used",
                                  names[i]);
        d->seen |= 1u << i;
        if (i == 1) {
                if ((size_t)(vend - val) != 1 || (*val != '`' && *val != '\\')) {
                        _cleanup_free_ char *v = xstrndup(val, (size_t)(vend - val));
                        return error_setx(err, EINVAL,
                                          "--change: invalid escape token '%s' does not match ` or \\", v);
                }
                d->esc = *val;
        }
        return 0;
done:
        d->done = true;
        return 0;
}

typedef struct Nodes {
        Node *v;
        size_t n, cap;
        char esc;
} Nodes;

static void nodes_done(Nodes *ns)
{
        for (size_t i = 0; i < ns->n; i++)
                node_done(&ns->v[i]);
        free(ns->v);
        *ns = (Nodes){ 0 };
}

/* buildkit's Parse: logical lines (comments and blank lines skipped, continuations joined), each parsed. */
static int parse_text(const char *text, Nodes *ns, Error **err)
{
        Directives d = { .esc = '\\' };
        const char *cur = text, *ls;
        size_t ll;
        bool first = true;
        Buf logical = { 0 };
        int r = 0;

        while (line_next(&cur, &ls, &ll)) {
                _cleanup_free_ char *line = xstrndup(ls, ll);
                const char *t = line;
                bool eol;

                if (first && str_has_prefix(t, "\xef\xbb\xbf"))
                        t += 3;
                first = false;
                t = skip_space(t);
                r = directive(&d, t, err);
                if (r < 0)
                        break;
                if (*t == '#')
                        continue;
                buf_reset(&logical);
                eol = add_line(&logical, t, d.esc);
                if (eol && logical.len == 0)
                        continue;
                while (!eol && line_next(&cur, &ls, &ll)) {
                        _cleanup_free_ char *more = xstrndup(ls, ll);
                        const char *mt = skip_space(more);
                        if (*mt == '#' || !*mt) /* comments and empty lines inside a continuation */
                                continue;
                        eol = add_line(&logical, more, d.esc);
                }
                if (ns->n == ns->cap) {
                        ns->cap = ns->cap ? ns->cap * 2 : 16;
                        ns->v = xrealloc(ns->v, ns->cap * sizeof(Node));
                }
                ns->v[ns->n] = (Node){ 0 };
                r = node_parse(logical.p, d.esc, 0, &ns->v[ns->n++], err);
                if (r < 0)
                        break;
        }
        buf_free(&logical);
        ns->esc = d.esc;
        if (r == 0 && ns->n == 0)
                r = error_setx(err, EINVAL, "--change: no instruction (only blank lines or comments)");
        return r;
}

/* ================================================================ pass 3: arguments and flags */

typedef struct Flag {
        const char *name;
        char *value; /* NULL when not given */
} Flag;

/* buildkit's BFlags.Parse, for string flags: --name=value, each at most once; "--" ends them. */
static int parse_flags(const Node *n, Flag *allowed, size_t nallowed, Error **err)
{
        for (size_t i = 0; n->flags && n->flags[i]; i++) {
                const char *a = n->flags[i], *eq;
                size_t l, j;

                if (!str_has_prefix(a, "--"))
                        return node_err(err, n, "arg should start with -- : %s", a);
                if (STREQ(a, "--"))
                        return 0;
                a += 2;
                eq = strchr(a, '=');
                l = eq ? (size_t)(eq - a) : strlen(a);
                for (j = 0; j < nallowed; j++)
                        if (strlen(allowed[j].name) == l && strncmp(allowed[j].name, a, l) == 0)
                                break;
                if (j == nallowed)
                        return node_err(err, n, "unknown flag: %.*s", (int)l, a);
                if (allowed[j].value)
                        return node_err(err, n, "duplicate flag specified: %s", allowed[j].name);
                if (!eq)
                        return node_err(err, n, "missing a value on flag: %s", allowed[j].name);
                allowed[j].value = xstrdup(eq + 1);
        }
        return 0;
}

static int no_flags(const Node *n, Error **err)
{
        return parse_flags(n, NULL, 0, err);
}

/* Go's time.ParseDuration, in nanoseconds. */
static int go_duration(const char *orig, int64_t *ret, char **msg)
{
        static const struct {
                const char *unit;
                uint64_t ns;
        } units[] = {
                { "ns", 1 },
                { "us", 1000 },
                { "\xc2\xb5s", 1000 },
                { "\xce\xbcs", 1000 },
                { "ms", 1000000 },
                { "s", 1000000000ull },
                { "m", 60000000000ull },
                { "h", 3600000000000ull },
        };
        const uint64_t lim = 1ull << 63;
        const char *s = orig;
        uint64_t d = 0;
        bool neg = false;
        char *q;

        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        if (STREQ(s, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*s)
                goto invalid;
        while (*s) {
                uint64_t v = 0, f = 0, unit = 0;
                double scale = 1;
                bool pre, post = false, overflow = false;
                const char *start = s, *u;
                size_t ul, k;

                if (!(*s == '.' || (*s >= '0' && *s <= '9')))
                        goto invalid;
                for (; *s >= '0' && *s <= '9'; s++) {
                        if (v > lim / 10)
                                goto invalid;
                        v = v * 10 + (uint64_t)(*s - '0');
                        if (v > lim)
                                goto invalid;
                }
                pre = s != start;
                if (*s == '.') {
                        const char *fs = ++s;
                        for (; *s >= '0' && *s <= '9'; s++) {
                                uint64_t y;
                                if (overflow)
                                        continue;
                                if (f > (lim - 1) / 10) {
                                        overflow = true;
                                        continue;
                                }
                                y = f * 10 + (uint64_t)(*s - '0');
                                if (y > lim) {
                                        overflow = true;
                                        continue;
                                }
                                f = y;
                                scale *= 10;
                        }
                        post = s != fs;
                }
                if (!pre && !post)
                        goto invalid;
                u = s;
                while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
                        s++;
                ul = (size_t)(s - u);
                if (ul == 0) {
                        q = go_quote(orig);
                        *msg = xasprintf("time: missing unit in duration %s", q);
                        free(q);
                        return -EINVAL;
                }
                for (k = 0; k < ELEMENTSOF(units); k++)
                        if (strlen(units[k].unit) == ul && strncmp(units[k].unit, u, ul) == 0)
                                unit = units[k].ns;
                if (!unit) {
                        char *uu = xstrndup(u, ul), *qu = go_quote(uu);
                        q = go_quote(orig);
                        *msg = xasprintf("time: unknown unit %s in duration %s", qu, q);
                        free(q);
                        free(qu);
                        free(uu);
                        return -EINVAL;
                }
                if (v > lim / unit)
                        goto invalid;
                v *= unit;
                if (f > 0) {
                        v += (uint64_t)((double)f * ((double)unit / scale));
                        if (v > lim)
                                goto invalid;
                }
                d += v;
                if (d > lim)
                        goto invalid;
        }
        if (neg) {
                *ret = d == lim ? INT64_MIN : -(int64_t)d;
                return 0;
        }
        if (d > lim - 1)
                goto invalid;
        *ret = (int64_t)d;
        return 0;
invalid:
        q = go_quote(orig);
        *msg = xasprintf("time: invalid duration %s", q);
        free(q);
        return -EINVAL;
}

/* parseOptInterval: a duration of at least 1ms (container.MinimumDuration), or 0 when not given. */
static int health_interval(const Node *n, const Flag *f, json_t *h, const char *key, Error **err)
{
        _cleanup_free_ char *msg = NULL;
        int64_t ns = 0;

        if (!f->value || !*f->value)
                return 0;
        if (go_duration(f->value, &ns, &msg) < 0)
                return node_err(err, n, "%s", msg);
        if (ns < 1000000)
                return node_err(err, n, "Interval \"%s\" cannot be less than 1ms", f->name);
        json_object_set_new(h, key, json_integer(ns));
        return 0;
}

/* strconv.ParseInt(s, 10, 32) */
static int go_atoi32(const char *s, int64_t *ret, char **msg)
{
        const char *p = s;
        int64_t v = 0;
        bool neg = false;
        char *q;

        if (*p == '+' || *p == '-')
                neg = *p++ == '-';
        if (!*p)
                goto syntax;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        goto syntax;
                if (v <= 2147483648LL)
                        v = v * 10 + (*p - '0');
        }
        if (neg)
                v = -v;
        if (v > INT32_MAX || v < INT32_MIN) {
                q = go_quote(s);
                *msg = xasprintf("strconv.ParseInt: parsing %s: value out of range", q);
                free(q);
                return -ERANGE;
        }
        *ret = v;
        return 0;
syntax:
        q = go_quote(s);
        *msg = xasprintf("strconv.ParseInt: parsing %s: invalid syntax", q);
        free(q);
        return -EINVAL;
}

/* parseHealthcheck */
static int check_health(Node *n, Error **err)
{
        Flag f[] = { { "interval", NULL },
                     { "timeout", NULL },
                     { "start-period", NULL },
                     { "start-interval", NULL },
                     { "retries", NULL } };
        _cleanup_free_ char *typ = NULL;
        _cleanup_json_ json_t *h = NULL;
        json_t *test;
        int r = 0;

        if (!n->args || !n->args[0])
                return node_err(err, n, "HEALTHCHECK requires at least one argument");
        typ = xstrdup(n->args[0]);
        for (char *c = typ; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 'a' + 'A');
        if (STREQ(typ, "NONE")) {
                if (n->args[1])
                        return node_err(err, n, "HEALTHCHECK NONE takes no arguments");
                n->health = json_pack("{s:[s]}", "Test", "NONE");
                return 0;
        }
        r = parse_flags(n, f, ELEMENTSOF(f), err);
        if (r < 0)
                goto out;
        if (!STREQ(typ, "CMD")) {
                _cleanup_free_ char *q = go_quote(typ);
                r = node_err(err, n, "Unknown type %s in HEALTHCHECK (try CMD)", q);
                goto out;
        }
        if (!n->args[1]) {
                r = node_err(err, n, "Missing command after HEALTHCHECK CMD");
                goto out;
        }
        h = json_object();
        test = json_array();
        json_array_append_new(test, json_string(n->json ? "CMD" : "CMD-SHELL"));
        for (size_t i = 1; n->args[i]; i++)
                json_array_append_new(test, json_string(n->args[i]));
        json_object_set_new(h, "Test", test);
        if ((r = health_interval(n, &f[0], h, "Interval", err)) < 0 ||
            (r = health_interval(n, &f[1], h, "Timeout", err)) < 0 ||
            (r = health_interval(n, &f[2], h, "StartPeriod", err)) < 0 ||
            (r = health_interval(n, &f[3], h, "StartInterval", err)) < 0)
                goto out;
        if (f[4].value && *f[4].value) {
                _cleanup_free_ char *msg = NULL;
                int64_t retries = 0;
                if (go_atoi32(f[4].value, &retries, &msg) < 0) {
                        r = node_err(err, n, "%s", msg);
                        goto out;
                }
                if (retries < 1) {
                        r = node_err(err, n, "--retries must be at least 1 (not %lld)", (long long)retries);
                        goto out;
                }
                json_object_set_new(h, "Retries", json_integer(retries));
        }
        n->health = TAKE_PTR(h);
out:
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                free(f[i].value);
        return r;
}

static size_t nargs(const Node *n)
{
        return n->args ? strv_length(n->args) : 0;
}

/* buildkit's instructions.ParseCommand, for the change commands */
static int check_node(Node *n, Error **err)
{
        const char *kw = keywords[n->kind];
        size_t c = nargs(n);
        int r;

        switch (n->kind) {
        case K_ENV:
        case K_LABEL:
                if ((r = no_flags(n, err)) < 0)
                        return r;
                if (c == 0)
                        return node_err(err, n, "%s requires at least one argument", kw);
                if (c % 2)
                        return node_err(err, n, "Bad input to %s, too many arguments", kw);
                for (size_t i = 0; i < c; i += 2)
                        if (!*n->args[i])
                                return node_err(err, n, "%s names can not be blank", kw);
                return 0;
        case K_CMD:
        case K_ENTRYPOINT:
                return no_flags(n, err);
        case K_WORKDIR:
        case K_USER:
                if (c != 1)
                        return node_err(err, n, "%s requires exactly one argument", kw);
                return no_flags(n, err);
        case K_STOPSIGNAL:
                /* buildkit parses no flags here: they are ignored */
                if (c != 1)
                        return node_err(err, n, "%s requires exactly one argument", kw);
                return 0;
        case K_EXPOSE:
                if (c == 0)
                        return node_err(err, n, "%s requires at least one argument", kw);
                return no_flags(n, err);
        case K_VOLUME:
                if (c == 0)
                        return node_err(err, n, "%s requires at least one argument", kw);
                if ((r = no_flags(n, err)) < 0)
                        return r;
                for (size_t i = 0; i < c; i++) {
                        char *t = trim_space(n->args[i]);
                        free(n->args[i]);
                        n->args[i] = t;
                        if (!*t)
                                return node_err(err, n, "VOLUME specified can not be an empty string");
                }
                return 0;
        case K_ONBUILD: {
                const char *p = n->line;
                _cleanup_free_ char *trigger = NULL;
                if (c == 0)
                        return node_err(err, n, "%s requires at least one argument", kw);
                if ((r = no_flags(n, err)) < 0)
                        return r;
                trigger = trim_space(n->args[0]);
                for (char *t = trigger; *t; t++)
                        if (*t >= 'a' && *t <= 'z')
                                *t = (char)(*t - 'a' + 'A');
                if (STREQ(trigger, "ONBUILD"))
                        return node_err(err, n, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                if (STREQ(trigger, "MAINTAINER") || STREQ(trigger, "FROM"))
                        return node_err(err, n, "%s isn't allowed as an ONBUILD trigger", trigger);
                /* the instruction's text without `(?i)^\s*ONBUILD\s*` */
                while (is_re_space(*p))
                        p++;
                if (strncasecmp(p, "ONBUILD", 7) == 0)
                        p += 7;
                while (is_re_space(*p))
                        p++;
                n->onbuild = xstrdup(p);
                return 0;
        }
        case K_HEALTHCHECK:
                return check_health(n, err);
        default:
                abort(); /* internal: pass 2 let a non-change command through */
        }
}

/* ================================================================ the shell lexer (ProcessWord) */

typedef struct State {
        json_t *cfg; /* the copy being changed */
        char esc;
        bool cmd_set;      /* a CMD with arguments came before: ENTRYPOINT keeps Cmd */
        size_t budget;     /* bytes substitutions may still produce */
        size_t ports;      /* ports EXPOSE has added */
        json_t *env_first; /* variable → index of its first entry in Env (the one ENV replaces) */
        json_t *env_last;  /* variable → index of its last entry (the one a substitution reads) */
} State;

typedef struct Words {
        Buf cur;
        bool in_word;
        char **v;
        size_t n;
} Words;

typedef struct Lex {
        const char *s;
        size_t i, n;
        State *st;
        unsigned depth;
} Lex;

static void words_push(Words *w)
{
        strv_add_n(&w->v, &w->n, w->cur.p ? w->cur.p : "", w->cur.len);
        buf_reset(&w->cur);
        w->in_word = false;
}

/* addChar: spaces split words (outside quotes, and in substituted values) */
static void words_add_char(Words *w, const char *c, size_t k)
{
        if (space_at(c)) {
                if (w->in_word && w->cur.len)
                        words_push(w);
        } else {
                buf_add(&w->cur, c, k);
                w->in_word = true;
        }
}

static void words_add_string(Words *w, const char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t k = rune_len(s + i);
                words_add_char(w, s + i, k);
                i += k;
        }
}

static void words_add_raw(Words *w, const char *s, size_t n)
{
        buf_add(&w->cur, s, n);
        w->in_word = true;
}

/*
 * The Env is indexed once and the index kept as ENV changes it, so neither a substitution nor ENV
 * scans it: the changes may hold many thousands of variables.
 */
static void env_note(State *st, const char *s, size_t i)
{
        const char *eq = s ? strchr(s, '=') : NULL;
        _cleanup_free_ char *k = NULL;

        if (!s)
                return;
        k = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s);
        if (!json_object_get(st->env_first, k))
                json_object_set_new_nocheck(st->env_first, k, json_integer((json_int_t)i));
        json_object_set_new_nocheck(st->env_last, k, json_integer((json_int_t)i));
}

static void env_index(State *st)
{
        json_t *e;
        size_t i;

        if (st->env_first)
                return;
        st->env_first = json_object();
        st->env_last = json_object();
        json_array_foreach (json_object_get(st->cfg, "Env"), i, e)
                env_note(st, json_string_value(e), i);
}

/* The value of name in the Env (the last entry wins, as buildkit's EnvsFromSlice); NULL when unset. */
static const char *env_get(State *st, const char *name)
{
        const char *s, *eq;
        json_t *ix;

        env_index(st);
        ix = json_object_get(st->env_last, name);
        if (!ix)
                return NULL;
        s = json_string_value(
                json_array_get(json_object_get(st->cfg, "Env"), (size_t)json_integer_value(ix)));
        if (!s)
                return NULL;
        eq = strchr(s, '=');
        return eq ? eq + 1 : "";
}

static int lex_add_value(Lex *l, Buf *out, const char *v, Error **err)
{
        size_t n = strlen(v);

        if (n > l->st->budget)
                return error_setx(err, EINVAL, "substitutions produce more than %u bytes",
                                  IMAGE_CHANGE_EXPAND_MAX);
        l->st->budget -= n;
        buf_add(out, v, n);
        return 0;
}

static bool special_param(char c)
{
        return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

/* processName: digits, or one special parameter, or letters, digits and underscores (any non-ASCII
 * character but a space counts as a letter). */
static char *lex_name(Lex *l)
{
        size_t start = l->i;

        if (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9') {
                while (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9')
                        l->i++;
                return xstrndup(l->s + start, l->i - start);
        }
        if (l->i < l->n && special_param(l->s[l->i]))
                return xstrndup(l->s + l->i++, 1);
        while (l->i < l->n) {
                char c = l->s[l->i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
                        l->i++;
                else if ((unsigned char)c >= 0x80 && !space_at(l->s + l->i))
                        l->i += rune_len(l->s + l->i);
                else
                        break;
        }
        return xstrndup(l->s + start, l->i - start);
}

static int lex_until(Lex *l, char stop, Buf *out, Words *w, Error **err);

static int lex_dollar(Lex *l, Buf *out, Error **err)
{
        _cleanup_free_ char *name = NULL;
        const char *value;
        char mod[16];
        bool null_is_unset = false, unset;
        char ch;
        int r;

        l->i++; /* $ */
        if (l->i >= l->n || l->s[l->i] != '{') {
                name = lex_name(l);
                if (!*name) {
                        buf_add(out, "$", 1);
                        return 0;
                }
                value = env_get(l->st, name);
                return value ? lex_add_value(l, out, value, err) : 0;
        }
        l->i++; /* { */
        if (l->i >= l->n)
                return error_setx(err, EINVAL, "syntax error: missing '}'");
        ch = l->s[l->i];
        if (ch == '{' || ch == '}' || ch == ':')
                return error_setx(err, EINVAL, "syntax error: bad substitution");
        name = lex_name(l);
        if (l->i >= l->n)
                return error_setx(err, EINVAL, "syntax error: missing '}'");
        ch = l->s[l->i];
        snprintf(mod, sizeof(mod), "%.*s", (int)rune_len(l->s + l->i), l->s + l->i);
        l->i += rune_len(l->s + l->i);
        if (ch == '}') {
                value = env_get(l->st, name);
                return value ? lex_add_value(l, out, value, err) : 0;
        }
        if (ch == ':') {
                null_is_unset = true;
                if (l->i >= l->n)
                        return error_setx(err, EINVAL, "syntax error: missing '}'");
                ch = l->s[l->i];
                snprintf(mod, sizeof(mod), ":%.*s", (int)rune_len(l->s + l->i), l->s + l->i);
                l->i += rune_len(l->s + l->i);
        }
        if (ch == '-' || ch == '+' || ch == '?') {
                Buf word = { 0 };
                if (l->depth >= LEX_DEPTH_MAX)
                        return error_setx(err, EINVAL, "substitutions nested deeper than %d", LEX_DEPTH_MAX);
                l->depth++;
                r = lex_until(l, '}', &word, NULL, err);
                l->depth--;
                if (r < 0) {
                        buf_free(&word);
                        if (l->i >= l->n) {
                                error_clear(err);
                                return error_setx(err, EINVAL, "syntax error: missing '}'");
                        }
                        return r;
                }
                /* with the colon an empty variable counts as unset */
                value = env_get(l->st, name);
                unset = !value || (null_is_unset && !*value);
                if ((ch == '-' && unset) || (ch == '+' && !unset))
                        buf_add(out, word.p ? word.p : "", word.len);
                else if (ch == '?' && unset)
                        r = error_setx(err, EINVAL, "%s: %s", name,
                                       word.len ? word.p
                                       : value  ? "is not allowed to be empty"
                                                : "is not allowed to be unset");
                else if (ch != '+')
                        r = lex_add_value(l, out, value, err);
                buf_free(&word);
                return r;
        }
        /* ${VAR#pattern}, ${VAR%pattern}, ${VAR/pattern/replacement} are not supported */
        return error_setx(err, EINVAL, "unsupported modifier (%s) in substitution", mod);
}

static int lex_single(Lex *l, Buf *out, Error **err)
{
        l->i++;
        while (l->i < l->n) {
                size_t k = rune_len(l->s + l->i);
                if (l->s[l->i] == '\'') {
                        l->i++;
                        return 0;
                }
                buf_add(out, l->s + l->i, k);
                l->i += k;
        }
        return error_setx(err, EINVAL,
                          "unexpected end of statement while looking for matching single-quote");
}

/* In double quotes only $ is special, and the escape character before ", $ or itself. */
static int lex_double(Lex *l, Buf *out, Error **err)
{
        char esc = l->st->esc;
        int r;

        l->i++;
        while (l->i < l->n) {
                const char *c = l->s + l->i;
                size_t k = rune_len(c);
                if (*c == '"') {
                        l->i++;
                        return 0;
                }
                if (*c == '$') {
                        if ((r = lex_dollar(l, out, err)) < 0)
                                return r;
                        continue;
                }
                l->i += k;
                if (*c == esc) {
                        if (l->i >= l->n)
                                continue;
                        if (l->s[l->i] == '"' || l->s[l->i] == '$' || l->s[l->i] == esc) {
                                c = l->s + l->i;
                                l->i++;
                        }
                }
                buf_add(out, c, k);
        }
        return error_setx(err, EINVAL,
                          "unexpected end of statement while looking for matching double-quote");
}

/* processStopOn: up to stop (0: the end), quotes and substitutions processed; w collects the words. */
static int lex_until(Lex *l, char stop, Buf *out, Words *w, Error **err)
{
        char esc = l->st->esc;
        int r;

        while (l->i < l->n) {
                const char *c = l->s + l->i;
                size_t k;

                if (stop && *c == stop) {
                        l->i++;
                        return 0;
                }
                if (*c == '$' || *c == '\'' || *c == '"') {
                        Buf tmp = { 0 };
                        char kind = *c;
                        r = kind == '$'    ? lex_dollar(l, &tmp, err)
                            : kind == '\'' ? lex_single(l, &tmp, err)
                                           : lex_double(l, &tmp, err);
                        if (r < 0) {
                                buf_free(&tmp);
                                return r;
                        }
                        buf_add(out, tmp.p ? tmp.p : "", tmp.len);
                        if (w && kind == '$')
                                words_add_string(w, tmp.p ? tmp.p : "", tmp.len);
                        else if (w)
                                words_add_raw(w, tmp.p ? tmp.p : "", tmp.len);
                        buf_free(&tmp);
                        continue;
                }
                if (*c == esc) {
                        if (++l->i >= l->n)
                                break;
                        c = l->s + l->i;
                        k = rune_len(c);
                        buf_add(out, c, k);
                        if (w)
                                words_add_raw(w, c, k);
                        l->i += k;
                        continue;
                }
                k = rune_len(c);
                buf_add(out, c, k);
                if (w)
                        words_add_char(w, c, k);
                l->i += k;
        }
        if (stop)
                return error_setx(err, EINVAL, "unexpected end of statement while looking for matching %c",
                                  stop);
        return 0;
}

/*
 * ProcessWord (ret_words NULL) or ProcessWords: word with quotes removed, escapes applied and
 * variables substituted from the config's Env.  An instruction expands all its words before it
 * changes anything, so they all see the Env as it was before it.
 */
static int expand(State *st, const Node *n, const char *word, char **ret, char ***ret_words, Error **err)
{
        Lex l = { .s = word, .n = strlen(word), .st = st };
        Words w = { .v = strv_new() };
        Buf out = { 0 };
        int r;

        r = lex_until(&l, 0, &out, ret_words ? &w : NULL, err);
        if (r < 0) {
                buf_free(&out);
                buf_free(&w.cur);
                strv_free(w.v);
                (void)error_wrap(err, "%s", keywords[n->kind]);
                return r;
        }
        if (ret_words) {
                if (w.cur.len)
                        words_push(&w);
                *ret_words = w.v;
                w.v = NULL;
        }
        buf_free(&w.cur);
        strv_free(w.v);
        if (ret)
                *ret = buf_take(&out);
        buf_free(&out);
        return 0;
}

/* ================================================================ pass 4: the dispatchers */

static json_t *cfg_object(json_t *cfg, const char *key)
{
        json_t *o = json_object_get(cfg, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(cfg, key, o);
        }
        return o;
}

static json_t *cfg_array(json_t *cfg, const char *key)
{
        json_t *a = json_object_get(cfg, key);
        if (!json_is_array(a)) {
                a = json_array();
                json_object_set_new(cfg, key, a);
        }
        return a;
}

/* resolveCmdLine: the exec form as it is, the shell form after the config's Shell (or /bin/sh -c). */
static json_t *cmd_line(State *st, const Node *n)
{
        json_t *a = json_array(), *shell;
        size_t i;
        json_t *e;

        if (!n->args || !n->args[0])
                return a;
        if (n->json) {
                for (i = 0; n->args[i]; i++)
                        json_array_append_new(a, json_string(n->args[i]));
                return a;
        }
        shell = json_object_get(st->cfg, "Shell");
        if (json_is_array(shell) && json_array_size(shell) > 0) {
                json_array_foreach (shell, i, e)
                        json_array_append(a, e);
        } else {
                json_array_append_new(a, json_string("/bin/sh"));
                json_array_append_new(a, json_string("-c"));
        }
        {
                Buf b = { 0 };
                for (i = 0; n->args[i]; i++) {
                        if (i)
                                buf_add(&b, " ", 1);
                        buf_adds(&b, n->args[i]);
                }
                json_array_append_new(a, json_string(b.p));
                buf_free(&b);
        }
        return a;
}

static int apply_env_like(State *st, const Node *n, Error **err)
{
        _cleanup_strv_ char **kv = strv_new();
        size_t nkv = 0;
        int r;

        /* every word is expanded against the Env as it was before the instruction, then set */
        for (size_t i = 0; n->args[i]; i++) {
                char *x = NULL;
                r = expand(st, n, n->args[i], &x, NULL, err);
                if (r < 0)
                        return r;
                if (i % 2 == 0 && !*x) {
                        free(x);
                        return node_err(err, n, "%s names can not be blank", keywords[n->kind]);
                }
                strv_add_n(&kv, &nkv, x, strlen(x));
                free(x);
        }
        if (n->kind == K_LABEL) {
                json_t *labels = cfg_object(st->cfg, "Labels");
                for (size_t i = 0; kv[i]; i += 2)
                        json_object_set_new(labels, kv[i], json_string(kv[i + 1]));
                return 0;
        }
        env_index(st);
        if (!json_is_array(json_object_get(st->cfg, "Env"))) {
                json_object_clear(st->env_first);
                json_object_clear(st->env_last);
        }
        for (size_t i = 0; kv[i]; i += 2) {
                json_t *a = cfg_array(st->cfg, "Env"), *ix = json_object_get(st->env_first, kv[i]);
                _cleanup_free_ char *var = xasprintf("%s=%s", kv[i], kv[i + 1]);
                /* an existing variable is replaced where it stands (its first entry), a new one appended */
                if (ix)
                        json_array_set_new(a, (size_t)json_integer_value(ix), json_string(var));
                else {
                        json_array_append_new(a, json_string(var));
                        env_note(st, var, json_array_size(a) - 1);
                }
        }
        return 0;
}

/* strconv.ParseUint(s, 10, 16) */
static bool port_number(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
                if (v > 65535)
                        return false;
        }
        *ret = v;
        return true;
}

/* nat.ParsePortRange: "80" or "8000-8002" (anything after a second dash is ignored, as there) */
static bool port_range(const char *s, unsigned *start, unsigned *end)
{
        const char *dash = strchr(s, '-'), *dash2;

        if (!*s)
                return false;
        if (!dash)
                return port_number(s, strlen(s), start) && (*end = *start, true);
        dash2 = strchr(dash + 1, '-');
        if (!port_number(s, (size_t)(dash - s), start) ||
            !port_number(dash + 1, dash2 ? (size_t)(dash2 - dash - 1) : strlen(dash + 1), end))
                return false;
        return *end >= *start;
}

/* nat.ParsePortSpec: [ip:[hostport]:]port[-port][/proto]; the container ports are added. */
static int expose_spec(State *st, const Node *n, const char *raw, Error **err)
{
        _cleanup_free_ char *ip = NULL, *host = NULL, *cport = NULL, *proto = NULL, *port = NULL;
        const char *last = strrchr(raw, ':'), *slash;
        unsigned start, end, hstart = 0, hend = 0;
        json_t *exposed;

        /* splitParts: the last field is the container port, the one before the host port, the rest the ip */
        if (!last)
                cport = xstrdup(raw);
        else {
                const char *prev = last;
                cport = xstrdup(last + 1);
                while (prev > raw && prev[-1] != ':')
                        prev--;
                host = xstrndup(prev, (size_t)(last - prev));
                if (prev > raw)
                        ip = xstrndup(raw, (size_t)(prev - 1 - raw));
        }
        /* SplitProtoPort */
        slash = strchr(cport, '/');
        if (!*cport || cport == slash) {
                proto = xstrdup("");
                port = xstrdup("");
        } else if (!slash || !slash[1] || slash[1] == '/') {
                proto = xstrdup("tcp");
                port = slash ? xstrndup(cport, (size_t)(slash - cport)) : xstrdup(cport);
        } else {
                const char *s2 = strchr(slash + 1, '/');
                proto = s2 ? xstrndup(slash + 1, (size_t)(s2 - slash - 1)) : xstrdup(slash + 1);
                port = xstrndup(cport, (size_t)(slash - cport));
        }
        if (ip && *ip) {
                unsigned char buf[16];
                size_t il = strlen(ip);
                if (ip[0] == '[') {
                        if (il < 2 || ip[il - 1] != ']')
                                return node_err(err, n, "invalid IP address: %s", ip);
                        memmove(ip, ip + 1, il - 2);
                        ip[il - 2] = 0;
                }
                if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
                        return node_err(err, n, "invalid IP address: %s", ip);
        }
        if (!*port)
                return node_err(err, n, "no port specified: %s<empty>", raw);
        if (!port_range(port, &start, &end))
                return node_err(err, n, "invalid containerPort: %s", port);
        if (host && *host && !port_range(host, &hstart, &hend))
                return node_err(err, n, "invalid hostPort: %s", host);
        if (host && *host && end - start != hend - hstart && end != start)
                return node_err(err, n, "invalid ranges specified for container and host Ports: %s and %s",
                                port, host);
        for (char *c = proto; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        if (!STREQ(proto, "tcp") && !STREQ(proto, "udp") && !STREQ(proto, "sctp"))
                return node_err(err, n, "invalid proto: %s", proto);
        if (end - start + 1 > IMAGE_CHANGE_PORTS_MAX - st->ports)
                return node_err(err, n, "more than %d ports exposed", IMAGE_CHANGE_PORTS_MAX);
        st->ports += end - start + 1;
        exposed = cfg_object(st->cfg, "ExposedPorts");
        for (unsigned p = start; p <= end; p++) {
                char key[32];
                snprintf(key, sizeof(key), "%u/%s", p, proto);
                json_object_set_new(exposed, key, json_object());
        }
        return 0;
}

/* path.Clean */
static char *path_clean(const char *p)
{
        bool rooted = *p == '/';
        char **parts = strv_new();
        size_t n = 0;
        Buf b = { 0 };

        while (*p) {
                size_t l = 0;
                while (p[l] && p[l] != '/')
                        l++;
                if (l == 0 || (l == 1 && p[0] == '.'))
                        ;
                else if (l == 2 && p[0] == '.' && p[1] == '.') {
                        if (n > 0 && !STREQ(parts[n - 1], ".."))
                                free(parts[--n]), parts[n] = NULL;
                        else if (!rooted)
                                strv_add_n(&parts, &n, "..", 2);
                } else
                        strv_add_n(&parts, &n, p, l);
                p += l;
                if (*p)
                        p++;
        }
        if (rooted)
                buf_add(&b, "/", 1);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        buf_add(&b, "/", 1);
                buf_adds(&b, parts[i]);
        }
        strv_free(parts);
        if (b.len == 0)
                buf_add(&b, ".", 1);
        return buf_take(&b);
}

static bool signal_ok(const char *s)
{
        /* signal_from_string would take spaces strtoull skips */
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '+' || *c == '-'))
                        return false;
        return *s && signal_from_string(s) > 0;
}

static int apply_node(State *st, const Node *n, Error **err)
{
        _cleanup_free_ char *x = NULL;
        int r;

        switch (n->kind) {
        case K_ENV:
        case K_LABEL:
                return apply_env_like(st, n, err);
        case K_CMD:
                json_object_set_new(st->cfg, "Cmd", cmd_line(st, n));
                json_object_del(st->cfg, "ArgsEscaped");
                if (n->args && n->args[0])
                        st->cmd_set = true;
                return 0;
        case K_ENTRYPOINT:
                json_object_set_new(st->cfg, "Entrypoint", cmd_line(st, n));
                json_object_del(st->cfg, "ArgsEscaped");
                if (!st->cmd_set)
                        json_object_set_new(st->cfg, "Cmd", json_null());
                return 0;
        case K_WORKDIR: {
                const char *cur = json_string_value(json_object_get(st->cfg, "WorkingDir")) ?: "";
                if ((r = expand(st, n, n->args[0], &x, NULL, err)) < 0)
                        return r;
                if (!*x)
                        return node_err(err, n, "cannot normalize nothing");
                {
                        _cleanup_free_ char *joined = *x == '/' ? xstrdup(x) : xasprintf("/%s/%s", cur, x),
                                            *clean = path_clean(joined);
                        /* relative WORKDIRs pile up; a path the kernel would refuse is refused here */
                        if (strlen(clean) > WORKDIR_MAX)
                                return node_err(err, n, "the path is longer than %d bytes", WORKDIR_MAX);
                        json_object_set_new(st->cfg, "WorkingDir", json_string(clean));
                }
                return 0;
        }
        case K_USER:
                if ((r = expand(st, n, n->args[0], &x, NULL, err)) < 0)
                        return r;
                json_object_set_new(st->cfg, "User", json_string(x));
                return 0;
        case K_STOPSIGNAL:
                if ((r = expand(st, n, n->args[0], &x, NULL, err)) < 0)
                        return r;
                if (!signal_ok(x))
                        return node_err(err, n, "Invalid signal: %s", x);
                json_object_set_new(st->cfg, "StopSignal", json_string(x));
                return 0;
        case K_VOLUME:
                for (size_t i = 0; n->args[i]; i++) {
                        _cleanup_free_ char *v = NULL;
                        if ((r = expand(st, n, n->args[i], &v, NULL, err)) < 0)
                                return r;
                        if (!*v)
                                return node_err(err, n, "VOLUME specified can not be an empty string");
                        json_object_set_new(cfg_object(st->cfg, "Volumes"), v, json_object());
                }
                return 0;
        case K_EXPOSE: {
                _cleanup_strv_ char **ports = strv_new();
                size_t np = 0;
                for (size_t i = 0; n->args[i]; i++) {
                        _cleanup_strv_ char **w = NULL;
                        if ((r = expand(st, n, n->args[i], NULL, &w, err)) < 0)
                                return r;
                        for (size_t j = 0; w[j]; j++)
                                strv_add_n(&ports, &np, w[j], strlen(w[j]));
                }
                for (size_t i = 0; ports[i]; i++)
                        if ((r = expose_spec(st, n, ports[i], err)) < 0)
                                return r;
                return 0;
        }
        case K_ONBUILD:
                json_array_append_new(cfg_array(st->cfg, "OnBuild"), json_string(n->onbuild));
                return 0;
        case K_HEALTHCHECK:
                json_object_set(st->cfg, "Healthcheck", n->health);
                return 0;
        default:
                abort(); /* internal: pass 2 let a non-change command through */
        }
}

/* ================================================================ the config's shape */

/* A JSON object with its keys sorted, as Go marshals a map. */
static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_object(json_t *cfg, const char *key)
{
        json_t *o = json_object_get(cfg, key), *sorted, *v;
        const char **keys;
        const char *k;
        size_t n = 0;

        if (!json_is_object(o))
                return;
        keys = xcalloc(json_object_size(o) + 1, sizeof(char *));
        json_object_foreach (o, k, v)
                keys[n++] = k;
        qsort(keys, n, sizeof(char *), cmp_str);
        sorted = json_object();
        for (size_t i = 0; i < n; i++)
                json_object_set(sorted, keys[i], json_object_get(o, keys[i]));
        free(keys);
        json_object_set_new(cfg, key, sorted);
}

/* docker's container.Config field order */
static void order_config(json_t *cfg)
{
        static const char *const order[] = {
                "Hostname",     "Domainname",   "User",        "AttachStdin",     "AttachStdout",
                "AttachStderr", "ExposedPorts", "Tty",         "OpenStdin",       "StdinOnce",
                "Env",          "Cmd",          "Healthcheck", "ArgsEscaped",     "Image",
                "Volumes",      "WorkingDir",   "Entrypoint",  "NetworkDisabled", "MacAddress",
                "OnBuild",      "Labels",       "StopSignal",  "StopTimeout",     "Shell",
        };
        _cleanup_json_ json_t *out = json_object();
        const char *k;
        json_t *v;

        sort_object(cfg, "Labels");
        sort_object(cfg, "Volumes");
        sort_object(cfg, "ExposedPorts");
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if ((v = json_object_get(cfg, order[i])))
                        json_object_set(out, order[i], v);
        json_object_foreach (cfg, k, v)
                if (!json_object_get(out, k))
                        json_object_set(out, k, v);
        json_object_clear(cfg);
        json_object_update(cfg, out);
}

/* ================================================================ the whole */

int image_change_apply(json_t *config, char *const *changes, Error **err)
{
        _cleanup_json_ json_t *copy = NULL;
        Nodes ns = { 0 };
        State st = { .budget = IMAGE_CHANGE_EXPAND_MAX };
        int r = 0;
        Buf text = { 0 };
        size_t count, total = 0;

        if (!changes || !changes[0])
                return 0;
        if (!json_is_object(config))
                return error_setx(err, EINVAL, "--change: the image config has no \"config\" object");
        for (count = 0; changes[count]; count++) {
                char what[32];
                if (count >= IMAGE_CHANGES_MAX)
                        return error_setx(err, EINVAL, "--change: more than %d changes", IMAGE_CHANGES_MAX);
                snprintf(what, sizeof(what), "--change #%zu", count + 1);
                r = image_text_check(what, changes[count], IMAGE_CHANGE_MAX, true, err);
                if (r < 0)
                        return r;
                total += strlen(changes[count]) + 1;
                if (total > IMAGE_CHANGES_TOTAL_MAX)
                        return error_setx(err, EINVAL, "--change: more than %u bytes in all",
                                          IMAGE_CHANGES_TOTAL_MAX);
        }
        /* dockerd joins them into one Dockerfile */
        for (size_t i = 0; i < count; i++) {
                if (i)
                        buf_add(&text, "\n", 1);
                buf_adds(&text, changes[i]);
        }
        r = parse_text(text.p, &ns, err);
        buf_free(&text);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < ns.n; i++)
                if (ns.v[i].kind >= K_CHANGE_MAX) {
                        r = error_setx(err, EINVAL, "%s is not a valid change command", ns.v[i].name);
                        goto out;
                }
        for (size_t i = 0; i < ns.n; i++)
                if ((r = check_node(&ns.v[i], err)) < 0)
                        goto out;
        copy = json_deep_copy(config);
        st.cfg = copy;
        st.esc = ns.esc;
        for (size_t i = 0; i < ns.n; i++)
                if ((r = apply_node(&st, &ns.v[i], err)) < 0)
                        goto out;
        order_config(copy);
        json_object_clear(config);
        json_object_update(config, copy);
out:
        nodes_done(&ns);
        json_decref(st.env_first);
        json_decref(st.env_last);
        return r;
}
