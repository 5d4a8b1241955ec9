/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Go's text/template over jansson values; template.h lists the subset and the data model.
 *
 * The lexer and the parser are ports of Go's text/template/parse (Go 1.19, plus `else with` from
 * 1.23), so a template parses as Go parses it and errors read the same.  Values print as Go's fmt
 * prints the interface{} values that encoding/json decodes, and the json function writes what Docker's
 * does (encoding/json with SetEscapeHTML(false)).
 *
 * The template comes from users and the data from containers, so everything that grows with them is
 * bounded: the template's size and nesting (which bounds every recursion of the parser and of the
 * executor), the size of every string built (OUTPUT_MAX, checked as it grows, before memory is
 * committed), the work done (WORK_MAX: nested ranges multiply, and a variable can double a string on
 * every iteration), and the depth of the data walked.  Variables are resolved to slots while parsing,
 * through a hash of the names in scope, so a template with many variables stays linear.
 *
 * stockade never calls setlocale(), so the C library formats and reads numbers as the C locale does
 * (util.c's parse_size relies on the same).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "template.h"
#include "util.h"

#define TEMPLATE_MAX ((size_t)1 << 20)   /* bytes of template text: parse trees take up to ~120 times that */
#define NESTING_MAX  100                 /* if/with/range and parentheses, together */
#define OUTPUT_MAX   ((size_t)64 << 20)  /* the output, and every string built on the way */
#define WORK_MAX     ((uint64_t)1 << 24) /* units of work of one execution */
#define WORK_BYTES   16                  /* bytes of text built that cost one unit */
#define WORK_ELEMENT 16                  /* units for each array element that split or slice creates */
#define DEPTH_MAX    1000                /* nesting of data that printing and json walk */
#define CONTEXT_MAX  160                 /* bytes of an action quoted in an execution error */
#define QUOTE_MAX    80                  /* bytes of a token quoted in a parse error */
#define FMT_NUM_MAX  1000000             /* fmt's bound on widths, precisions and argument indexes */
#define TAB_EXTRA    ((size_t)64 << 20)  /* padding that tabwriter_format may add */

/* json-util.c keeps integers above INT64_MAX as strings behind this mark (U+FDD0, a noncharacter). */
#define BIG_MARK     "\xef\xb7\x90"
#define BIG_MARK_LEN 3

#define RUNE_ERROR 0xFFFDu

static json_t *xjson(json_t *j)
{
        /* jansson returns NULL only when out of memory here; allocation failure aborts, as xmalloc's. */
        if (!j)
                abort();
        return j;
}

/* ---- Growing text with a ceiling ---- */

typedef struct Buf {
        char *s;
        size_t len, cap;
        bool overflow; /* an append would have passed OUTPUT_MAX, so the text is incomplete */
} Buf;

/* Makes room for n more bytes and the NUL; false (and overflow set) past OUTPUT_MAX. */
static bool buf_reserve(Buf *b, size_t n)
{
        size_t cap;

        if (b->overflow)
                return false;
        if (n > OUTPUT_MAX - b->len) {
                b->overflow = true;
                return false;
        }
        if (b->len + n + 1 <= b->cap)
                return true;
        cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
                cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
        return true;
}

static void buf_add(Buf *b, const void *p, size_t n)
{
        if (!buf_reserve(b, n))
                return;
        if (n > 0)
                memcpy(b->s + b->len, p, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static void buf_putc(Buf *b, char c)
{
        buf_add(b, &c, 1);
}

static void buf_puts(Buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

static void buf_fill(Buf *b, char c, size_t n)
{
        if (!buf_reserve(b, n))
                return;
        memset(b->s + b->len, c, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...)
{
        _cleanup_free_ char *big = NULL;
        char small[128];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof(small)) {
                buf_add(b, small, (size_t)n);
                return;
        }
        va_start(ap, fmt);
        big = xvasprintf(fmt, ap);
        va_end(ap);
        buf_add(b, big, (size_t)n);
}

static void buf_done(Buf *b)
{
        free(b->s);
        *b = (Buf){ 0 };
}

/* Hands the text out: an empty string if nothing was written. */
static char *buf_steal(Buf *b)
{
        char *s = b->s ? b->s : xstrdup("");
        *b = (Buf){ 0 };
        return s;
}

/* ---- UTF-8 and the few Unicode properties Go's functions use ---- */

/* Decodes one rune as Go's utf8.DecodeRune: an invalid or truncated sequence is (RUNE_ERROR, 1). */
static size_t utf8_decode(const char *p, size_t n, uint32_t *ret)
{
        const unsigned char *s = (const unsigned char *)p;
        unsigned char lo = 0x80, hi = 0xBF;
        size_t need;
        uint32_t r;

        if (n == 0) {
                *ret = RUNE_ERROR;
                return 0;
        }
        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if (s[0] < 0xC2 || s[0] > 0xF4)
                goto bad;
        if (s[0] < 0xE0) {
                need = 1;
                r = s[0] & 0x1F;
        } else if (s[0] < 0xF0) {
                need = 2;
                r = s[0] & 0x0F;
                if (s[0] == 0xE0)
                        lo = 0xA0;
                if (s[0] == 0xED) /* no surrogates */
                        hi = 0x9F;
        } else {
                need = 3;
                r = s[0] & 0x07;
                if (s[0] == 0xF0)
                        lo = 0x90;
                if (s[0] == 0xF4) /* nothing above U+10FFFF */
                        hi = 0x8F;
        }
        if (n < need + 1 || s[1] < lo || s[1] > hi)
                goto bad;
        r = (r << 6) | (s[1] & 0x3F);
        for (size_t i = 2; i <= need; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        goto bad;
                r = (r << 6) | (s[i] & 0x3F);
        }
        *ret = r;
        return need + 1;
bad:
        *ret = RUNE_ERROR;
        return 1;
}

/* The width of the rune that ends at s[end], as Go's utf8.DecodeLastRune measures it. */
static size_t utf8_last_width(const char *s, size_t end)
{
        size_t start, lim, w;
        uint32_t r;

        if (end == 0)
                return 0;
        if ((unsigned char)s[end - 1] < 0x80)
                return 1;
        lim = end >= 4 ? end - 4 : 0;
        start = end - 1;
        while (start > lim && ((unsigned char)s[start] & 0xC0) == 0x80)
                start--;
        w = utf8_decode(s + start, end - start, &r);
        return start + w == end ? w : 1;
}

static bool rune_valid(uint32_t r)
{
        return r <= 0x10FFFF && !(r >= 0xD800 && r <= 0xDFFF);
}

/* Encodes r (U+FFFD for what is not a rune); returns the width. */
static size_t utf8_encode(uint32_t r, char out[4])
{
        if (!rune_valid(r))
                r = RUNE_ERROR;
        if (r < 0x80) {
                out[0] = (char)r;
                return 1;
        }
        if (r < 0x800) {
                out[0] = (char)(0xC0 | (r >> 6));
                out[1] = (char)(0x80 | (r & 0x3F));
                return 2;
        }
        if (r < 0x10000) {
                out[0] = (char)(0xE0 | (r >> 12));
                out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
                out[2] = (char)(0x80 | (r & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (r >> 18));
        out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[3] = (char)(0x80 | (r & 0x3F));
        return 4;
}

static void buf_rune(Buf *b, uint32_t r)
{
        char tmp[4];
        buf_add(b, tmp, utf8_encode(r, tmp));
}

/* Go's utf8.RuneCount: each byte of an invalid sequence counts as one rune. */
static size_t utf8_count(const char *s, size_t n)
{
        size_t count = 0;
        uint32_t r;

        for (size_t i = 0; i < n; count++)
                i += (unsigned char)s[i] < 0x80 ? 1 : utf8_decode(s + i, n - i, &r);
        return count;
}

/* Go's unicode.IsSpace. */
static bool rune_is_space(uint32_t r)
{
        switch (r) {
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ' ':
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
                return true;
        default:
                return r >= 0x2000 && r <= 0x200A;
        }
}

/*
 * Go's strconv.IsPrint, approximated without its tables: ASCII graphics and space, and every rune
 * above U+00A0 except spaces, format characters, private use, surrogates and noncharacters.  Only
 * the escaping of %q depends on it.
 */
static bool rune_is_print(uint32_t r)
{
        if (r < 0x80)
                return r >= 0x20 && r < 0x7F;
        if (r <= 0xA0 || r == 0xAD || rune_is_space(r))
                return false;
        if ((r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || r == 0x180E)
                return false;
        if ((r >= 0x200B && r <= 0x200F) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2060 && r <= 0x206F))
                return false;
        if ((r >= 0xD800 && r <= 0xF8FF) || (r >= 0xFDD0 && r <= 0xFDEF) || r == 0xFEFF ||
            (r >= 0xFFF9 && r <= 0xFFFB) || (r & 0xFFFE) == 0xFFFE)
                return false;
        if ((r >= 0xE0000 && r < 0xE0100) || r >= 0xF0000)
                return false;
        return true;
}

/*
 * Letters for identifiers (Go's unicode.IsLetter || IsDigit, approximated): ASCII letters and digits,
 * '_', and printable runes above U+00BF that are not in the punctuation and symbol blocks.
 */
static bool rune_is_alnum(int32_t r)
{
        if (r < 0)
                return false;
        if (r < 0x80)
                return r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') ||
                       (r >= 'A' && r <= 'Z');
        if (r == 0xAA || r == 0xB5 || r == 0xBA)
                return true;
        if (r < 0xC0 || r == 0xD7 || r == 0xF7 || (uint32_t)r == RUNE_ERROR)
                return false;
        if ((r >= 0x2000 && r <= 0x2BFF) || (r >= 0x3000 && r <= 0x303F) || (r >= 0xFE30 && r <= 0xFE4F) ||
            (r >= 0xFF00 && r <= 0xFF0F) || (r >= 0x1F000 && r <= 0x1FAFF))
                return false;
        return rune_is_print((uint32_t)r);
}

/*
 * Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic: the letters that
 * container names, labels and image names use in practice.  Other runes map to themselves.
 */
static uint32_t rune_upper(uint32_t r)
{
        if (r < 0x80)
                return r >= 'a' && r <= 'z' ? r - 32 : r;
        if (r == 0xB5)
                return 0x39C;
        if (r >= 0xE0 && r <= 0xFE && r != 0xF7)
                return r - 32;
        if (r == 0xFF)
                return 0x178;
        if (r == 0x131)
                return 'I';
        if (r == 0x17F)
                return 'S';
        if ((r >= 0x101 && r <= 0x137 && (r & 1)) || (r >= 0x13A && r <= 0x148 && !(r & 1)) ||
            (r >= 0x14B && r <= 0x177 && (r & 1)) || (r >= 0x17A && r <= 0x17E && !(r & 1)))
                return r - 1;
        if (r == 0x3C2)
                return 0x3A3;
        if ((r >= 0x3B1 && r <= 0x3C9) || (r >= 0x430 && r <= 0x44F))
                return r - 32;
        if (r >= 0x450 && r <= 0x45F)
                return r - 80;
        return r;
}

static uint32_t rune_lower(uint32_t r)
{
        if (r < 0x80)
                return r >= 'A' && r <= 'Z' ? r + 32 : r;
        if (r >= 0xC0 && r <= 0xDE && r != 0xD7)
                return r + 32;
        if (r == 0x130)
                return 'i';
        if (r == 0x178)
                return 0xFF;
        if ((r >= 0x100 && r <= 0x136 && !(r & 1)) || (r >= 0x139 && r <= 0x147 && (r & 1)) ||
            (r >= 0x14A && r <= 0x176 && !(r & 1)) || (r >= 0x179 && r <= 0x17D && (r & 1)))
                return r + 1;
        if ((r >= 0x391 && r <= 0x3A9 && r != 0x3A2) || (r >= 0x410 && r <= 0x42F))
                return r + 32;
        if (r >= 0x400 && r <= 0x40F)
                return r + 80;
        return r;
}

/* ---- strconv's quoting ---- */

static const char lowerhex[] = "0123456789abcdef";

/* strconv's appendEscapedRune. */
static void quote_rune_into(Buf *b, uint32_t r, char quote, bool ascii)
{
        if (r == (unsigned char)quote || r == '\\') {
                buf_putc(b, '\\');
                buf_putc(b, (char)r);
                return;
        }
        if (ascii ? (r < 0x80 && rune_is_print(r)) : rune_is_print(r)) {
                buf_rune(b, r);
                return;
        }
        switch (r) {
        case '\a':
                buf_puts(b, "\\a");
                return;
        case '\b':
                buf_puts(b, "\\b");
                return;
        case '\f':
                buf_puts(b, "\\f");
                return;
        case '\n':
                buf_puts(b, "\\n");
                return;
        case '\r':
                buf_puts(b, "\\r");
                return;
        case '\t':
                buf_puts(b, "\\t");
                return;
        case '\v':
                buf_puts(b, "\\v");
                return;
        default:
                break;
        }
        if (r < ' ' || r == 0x7F) {
                buf_puts(b, "\\x");
                buf_putc(b, lowerhex[r >> 4]);
                buf_putc(b, lowerhex[r & 0xF]);
                return;
        }
        if (!rune_valid(r))
                r = RUNE_ERROR;
        if (r < 0x10000)
                buf_printf(b, "\\u%04" PRIx32, r);
        else
                buf_printf(b, "\\U%08" PRIx32, r);
}

/* strconv.Quote, or QuoteToASCII. */
static void go_quote(Buf *b, const char *s, size_t n, bool ascii)
{
        buf_putc(b, '"');
        for (size_t i = 0; i < n && !b->overflow;) {
                uint32_t r;
                size_t w = utf8_decode(s + i, n - i, &r);
                if (w == 1 && r == RUNE_ERROR) {
                        buf_puts(b, "\\x");
                        buf_putc(b, lowerhex[(unsigned char)s[i] >> 4]);
                        buf_putc(b, lowerhex[(unsigned char)s[i] & 0xF]);
                } else
                        quote_rune_into(b, r, '"', ascii);
                i += w;
        }
        buf_putc(b, '"');
}

/* strconv.QuoteRune, or QuoteRuneToASCII. */
static void go_quote_rune(Buf *b, uint32_t r, bool ascii)
{
        if (!rune_valid(r))
                r = RUNE_ERROR;
        buf_putc(b, '\'');
        quote_rune_into(b, r, '\'', ascii);
        buf_putc(b, '\'');
}

static bool can_backquote(const char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                uint32_t r;
                size_t w = utf8_decode(s + i, n - i, &r);
                i += w;
                if (w > 1) {
                        if (r == 0xFEFF)
                                return false;
                        continue;
                }
                if (r == RUNE_ERROR || (r < ' ' && r != '\t') || r == '`' || r == 0x7F)
                        return false;
        }
        return true;
}

/* Go's %q of at most QUOTE_MAX bytes of s, with "..." when cut: for tokens quoted in errors. */
static char *quote_capped(const char *s, size_t n)
{
        Buf b = { 0 };
        size_t cut = n;

        if (cut > QUOTE_MAX) {
                cut = QUOTE_MAX;
                while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
                        cut--;
        }
        go_quote(&b, s, cut, false);
        if (cut < n)
                buf_puts(&b, "...");
        return buf_steal(&b);
}

/* ---- Numbers as strconv formats them ---- */

/* Decimal digits d[0..nd) with the point after dp digits: 0.d * 10^dp. nd == 0 is zero. */
typedef struct Digits {
        char d[24];
        int nd, dp;
} Digits;

/* The shortest digits that read back as |v| (strconv's shortest mode), v finite. */
static void float_shortest(double v, Digits *out)
{
        char tmp[48];
        const char *e;
        int p, nd = 0;

        v = signbit(v) ? -v : v; /* no libm: nothing else links it */
        out->nd = out->dp = 0;
        if (v == 0 || !isfinite(v))
                return;
        for (p = 1; p <= 17; p++) {
                snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
                if (strtod(tmp, NULL) == v)
                        break;
        }
        e = strchr(tmp, 'e');
        if (!e)
                return;
        for (const char *c = tmp; c < e; c++)
                if (*c >= '0' && *c <= '9' && nd < (int)sizeof(out->d))
                        out->d[nd++] = *c;
        while (nd > 1 && out->d[nd - 1] == '0')
                nd--;
        out->nd = nd;
        out->dp = atoi(e + 1) + 1;
}

/* strconv's fmtE: d.ddde±dd with prec digits after the point. */
static void digits_e(Buf *b, const Digits *d, int prec, char e)
{
        int exp = d->nd ? d->dp - 1 : 0;

        buf_putc(b, d->nd ? d->d[0] : '0');
        if (prec > 0) {
                int i = 1, m = d->nd < prec + 1 ? d->nd : prec + 1;
                buf_putc(b, '.');
                if (i < m) {
                        buf_add(b, d->d + i, (size_t)(m - i));
                        i = m;
                }
                if (i <= prec)
                        buf_fill(b, '0', (size_t)(prec - i + 1));
        }
        buf_putc(b, e);
        buf_putc(b, exp < 0 ? '-' : '+');
        buf_printf(b, "%02d", abs(exp));
}

/* strconv's fmtF: the integer part, then prec digits after the point. */
static void digits_f(Buf *b, const Digits *d, int prec)
{
        if (d->dp > 0) {
                int m = d->nd < d->dp ? d->nd : d->dp;
                buf_add(b, d->d, (size_t)m);
                if (m < d->dp)
                        buf_fill(b, '0', (size_t)(d->dp - m));
        } else
                buf_putc(b, '0');
        if (prec > 0) {
                buf_putc(b, '.');
                for (int i = 0; i < prec && !b->overflow; i++) {
                        int j = d->dp + i;
                        buf_putc(b, j >= 0 && j < d->nd ? d->d[j] : '0');
                }
        }
}

/* Adds a digit to a one-digit exponent after 'p', as Go writes hexadecimal floats (0x1.8p+01). */
static void hex_exponent_2digits(Buf *b, size_t start)
{
        for (size_t i = start; i < b->len; i++) {
                if (b->s[i] != 'p' && b->s[i] != 'P')
                        continue;
                if (i + 3 == b->len) { /* "p+1" */
                        buf_putc(b, b->s[b->len - 1]);
                        if (!b->overflow)
                                b->s[b->len - 2] = '0';
                }
                return;
        }
}

/*
 * strconv.AppendFloat(v, verb, prec, 64): verbs e E f g G x X b; prec < 0 is the shortest form.
 * Explicit precisions go through the C library, which rounds exactly as strconv does.
 */
static void go_float(Buf *b, double v, char verb, int prec)
{
        size_t start = b->len;

        if (isnan(v)) {
                buf_puts(b, "NaN");
                return;
        }
        if (isinf(v)) {
                buf_puts(b, v < 0 ? "-Inf" : "+Inf");
                return;
        }
        switch (verb) {
        case 'e':
                buf_printf(b, "%.*e", prec < 0 ? 6 : prec, v);
                break;
        case 'E':
                buf_printf(b, "%.*E", prec < 0 ? 6 : prec, v);
                break;
        case 'f':
                buf_printf(b, "%.*f", prec < 0 ? 6 : prec, v);
                break;
        case 'g':
        case 'G':
                if (prec < 0) {
                        Digits d;
                        float_shortest(v, &d);
                        if (signbit(v))
                                buf_putc(b, '-');
                        /* strconv's %g in shortest mode takes precision 6 to choose %e. */
                        if (d.nd && (d.dp - 1 < -4 || d.dp - 1 >= 6))
                                digits_e(b, &d, d.nd - 1, verb == 'g' ? 'e' : 'E');
                        else
                                digits_f(b, &d, d.nd > d.dp ? d.nd - d.dp : 0);
                } else if (verb == 'g')
                        buf_printf(b, "%.*g", prec, v);
                else
                        buf_printf(b, "%.*G", prec, v);
                break;
        case 'x':
        case 'X':
                if (prec < 0)
                        buf_printf(b, verb == 'x' ? "%a" : "%A", v);
                else if (verb == 'x')
                        buf_printf(b, "%.*a", prec, v);
                else
                        buf_printf(b, "%.*A", prec, v);
                hex_exponent_2digits(b, start);
                break;
        case 'b': {
                uint64_t bits, mant;
                int exp;
                memcpy(&bits, &v, sizeof(bits));
                exp = (int)((bits >> 52) & 0x7FF);
                mant = bits & (((uint64_t)1 << 52) - 1);
                if (exp == 0)
                        exp++;
                else
                        mant |= (uint64_t)1 << 52;
                exp += -1023 - 52;
                buf_printf(b, "%s%" PRIu64 "p%+d", bits >> 63 ? "-" : "", mant, exp);
                break;
        }
        default:
                break;
        }
}

/* encoding/json's float encoder: shortest form, %e only beyond 1e21 or under 1e-6, "e-07" as "e-7". */
static void json_float(Buf *b, double v)
{
        double a = signbit(v) ? -v : v;
        Digits d;

        float_shortest(v, &d);
        if (signbit(v))
                buf_putc(b, '-');
        if (a != 0 && (a < 1e-6 || a >= 1e21)) {
                digits_e(b, &d, d.nd - 1, 'e');
                if (!b->overflow && b->len >= 4 && b->s[b->len - 4] == 'e' && b->s[b->len - 3] == '-' &&
                    b->s[b->len - 2] == '0') {
                        b->s[b->len - 2] = b->s[b->len - 1];
                        b->s[--b->len] = '\0';
                }
        } else
                digits_f(b, &d, d.nd > d.dp ? d.nd - d.dp : 0);
}

/* ---- Values ---- */

static bool big_uint(const json_t *v, uint64_t *ret)
{
        const char *s;
        size_t n;

        if (!json_is_string(v))
                return false;
        s = json_string_value(v);
        n = json_string_length(v);
        if (n <= BIG_MARK_LEN || n > BIG_MARK_LEN + 20 || memcmp(s, BIG_MARK, BIG_MARK_LEN) != 0)
                return false;
        s += BIG_MARK_LEN;
        if (strspn(s, "0123456789") != n - BIG_MARK_LEN)
                return false;
        return parse_uint64(s, ret) == 0;
}

static bool is_big(const json_t *v)
{
        uint64_t u;
        return big_uint(v, &u);
}

/* The Go type a JSON value decodes to, for messages and for fmt's %T. */
static const char *type_name(const json_t *v)
{
        if (!v)
                return "<nil>";
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "map[string]interface {}";
        case JSON_ARRAY:
                return "[]interface {}";
        case JSON_STRING:
                return is_big(v) ? "uint64" : "string";
        case JSON_INTEGER:
                return "int";
        case JSON_REAL:
                return "float64";
        case JSON_TRUE:
        case JSON_FALSE:
                return "bool";
        case JSON_NULL:
                return "<nil>";
        default:
                return "?";
        }
}

/* Go's truth: false, 0, "", nil and empty arrays and objects are false. */
static bool truth(const json_t *v)
{
        if (!v)
                return false;
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return json_object_size(v) > 0;
        case JSON_ARRAY:
                return json_array_size(v) > 0;
        case JSON_STRING:
                return json_string_length(v) > 0;
        case JSON_INTEGER:
                return json_integer_value(v) != 0;
        case JSON_REAL:
                return json_real_value(v) != 0;
        case JSON_TRUE:
                return true;
        case JSON_FALSE:
        case JSON_NULL:
        default:
                return false;
        }
}

typedef struct KeyVal {
        const char *key;
        size_t len;
        json_t *value;
} KeyVal;

static int keyval_cmp(const void *a, const void *b)
{
        const KeyVal *x = a, *y = b;
        int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
        if (c != 0)
                return c;
        return x->len < y->len ? -1 : x->len > y->len;
}

/* An object's entries in Go's map order: keys sorted bytewise.  Borrowed; caller frees the array. */
static KeyVal *sorted_entries(json_t *obj, size_t *ret_n)
{
        size_t n = json_object_size(obj), i = 0, klen;
        KeyVal *kv = xcalloc(n ? n : 1, sizeof(KeyVal));
        const char *key;
        json_t *value;

        json_object_keylen_foreach(obj, key, klen, value)
        {
                if (i == n)
                        break;
                kv[i++] = (KeyVal){ key, klen, value };
        }
        qsort(kv, i, sizeof(KeyVal), keyval_cmp);
        *ret_n = i;
        return kv;
}

/* ---- fmt ---- */

typedef struct Fmt {
        bool minus, plus, sharp, space, zero, sharp_v;
        bool wid_present, prec_present;
        int wid, prec;
} Fmt;

static void fmt_padding(Buf *b, const Fmt *f, long n)
{
        if (n > 0)
                buf_fill(b, f->zero ? '0' : ' ', (size_t)n);
}

/* fmt.pad: s padded to the width, which counts runes. */
static void fmt_pad(Buf *b, const Fmt *f, const char *s, size_t n)
{
        long width;

        if (!f->wid_present || f->wid == 0) {
                buf_add(b, s, n);
                return;
        }
        width = f->wid - (long)utf8_count(s, n);
        if (!f->minus) {
                fmt_padding(b, f, width);
                buf_add(b, s, n);
        } else {
                buf_add(b, s, n);
                fmt_padding(b, f, width);
        }
}

static void fmt_pad_str(Buf *b, const Fmt *f, const char *s)
{
        fmt_pad(b, f, s, strlen(s));
}

/* The length of the first prec runes of s, for precisions applied to strings. */
static size_t fmt_truncated(const Fmt *f, const char *s, size_t n)
{
        size_t i = 0;
        uint32_t r;

        if (!f->prec_present)
                return n;
        for (int k = 0; k < f->prec && i < n; k++)
                i += utf8_decode(s + i, n - i, &r);
        return i;
}

/* fmt.fmtInteger. */
static void fmt_integer(Buf *b, Fmt *f, uint64_t u, bool is_signed, int base, uint32_t verb, bool upper)
{
        const char *digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
        bool negative = is_signed && (int64_t)u < 0, zero = f->zero;
        char num[72], pre[8];
        size_t i = sizeof(num), np = 0, ndig;
        long prec = 0, zeros, total;

        if (negative)
                u = -u;
        if (f->prec_present) {
                prec = f->prec;
                /* precision 0 and value 0 print nothing but the padding */
                if (prec == 0 && u == 0) {
                        f->zero = false;
                        fmt_padding(b, f, f->wid);
                        f->zero = zero;
                        return;
                }
        } else if (f->zero && f->wid_present) {
                prec = f->wid;
                if (negative || f->plus || f->space)
                        prec--; /* room for the sign */
        }
        do {
                num[--i] = digits[u % (uint64_t)base];
                u /= (uint64_t)base;
        } while (u > 0);
        ndig = sizeof(num) - i;
        zeros = prec > (long)ndig ? prec - (long)ndig : 0;
        if (negative)
                pre[np++] = '-';
        else if (f->plus)
                pre[np++] = '+';
        else if (f->space)
                pre[np++] = ' ';
        if (verb == 'O') {
                pre[np++] = '0';
                pre[np++] = 'o';
        }
        if (f->sharp) {
                if (base == 2) {
                        pre[np++] = '0';
                        pre[np++] = 'b';
                } else if (base == 8 && zeros == 0 && num[i] != '0')
                        pre[np++] = '0';
                else if (base == 16) {
                        pre[np++] = '0';
                        pre[np++] = digits[16];
                }
        }
        total = (long)(np + ndig) + zeros;
        /* zero padding was turned into precision above */
        f->zero = false;
        if (f->wid_present && !f->minus)
                fmt_padding(b, f, f->wid - total);
        buf_add(b, pre, np);
        if (zeros > 0)
                buf_fill(b, '0', (size_t)zeros);
        buf_add(b, num + i, ndig);
        if (f->wid_present && f->minus)
                fmt_padding(b, f, f->wid - total);
        f->zero = zero;
}

/* fmt.fmtUnicode: U+0041, and with '#' the quoted character too. */
static void fmt_unicode(Buf *b, Fmt *f, uint64_t u)
{
        Buf t = { 0 };
        bool zero = f->zero;
        int prec = f->prec_present && f->prec > 4 ? f->prec : 4;

        buf_printf(&t, "U+%0*" PRIX64, prec, u);
        if (f->sharp && u <= 0x10FFFF && rune_is_print((uint32_t)u)) {
                buf_puts(&t, " '");
                buf_rune(&t, (uint32_t)u);
                buf_putc(&t, '\'');
        }
        f->zero = false;
        fmt_pad(b, f, t.s, t.len);
        f->zero = zero;
        buf_done(&t);
}

static void bad_verb_open(Buf *b, uint32_t verb, const char *type)
{
        buf_puts(b, "%!");
        buf_rune(b, verb);
        buf_putc(b, '(');
        buf_puts(b, type);
        if (strcmp(type, "<nil>") != 0)
                buf_putc(b, '=');
}

/* An integer under any verb (fmt's fmtInteger and friends); value_type names it for a bad verb. */
static void fmt_int_verb(Buf *b, Fmt *f, uint32_t verb, uint64_t u, bool is_signed, const char *value_type)
{
        switch (verb) {
        case 'v':
                if (f->sharp_v && !is_signed) {
                        bool sharp = f->sharp;
                        f->sharp = true;
                        fmt_integer(b, f, u, false, 16, 'v', false);
                        f->sharp = sharp;
                } else
                        fmt_integer(b, f, u, is_signed, 10, verb, false);
                return;
        case 'd':
                fmt_integer(b, f, u, is_signed, 10, verb, false);
                return;
        case 'b':
                fmt_integer(b, f, u, is_signed, 2, verb, false);
                return;
        case 'o':
        case 'O':
                fmt_integer(b, f, u, is_signed, 8, verb, false);
                return;
        case 'x':
                fmt_integer(b, f, u, is_signed, 16, verb, false);
                return;
        case 'X':
                fmt_integer(b, f, u, is_signed, 16, verb, true);
                return;
        case 'c': {
                char tmp[4];
                uint32_t r = u > 0x10FFFF ? RUNE_ERROR : (uint32_t)u;
                fmt_pad(b, f, tmp, utf8_encode(r, tmp));
                return;
        }
        case 'q': {
                Buf t = { 0 };
                go_quote_rune(&t, u > 0x10FFFF ? RUNE_ERROR : (uint32_t)u, f->plus);
                fmt_pad(b, f, t.s, t.len);
                buf_done(&t);
                return;
        }
        case 'U':
                fmt_unicode(b, f, u);
                return;
        default:
                bad_verb_open(b, verb, value_type);
                fmt_integer(b, f, u, is_signed, 10, 'v', false);
                buf_putc(b, ')');
                return;
        }
}

/* fmt.fmtFloat. */
static void fmt_float(Buf *b, Fmt *f, double v, char verb, int prec)
{
        Buf num = { 0 }, sharp = { 0 };
        const char *s;
        size_t n;

        if (f->prec_present)
                prec = f->prec;
        buf_putc(&num, '+'); /* the sign's place */
        go_float(&num, v, verb, prec);
        if (num.overflow) {
                b->overflow = true;
                goto out;
        }
        s = num.s;
        n = num.len;
        if (s[1] == '-' || s[1] == '+') {
                s++;
                n--;
        }
        if (f->space && s[0] == '+' && !f->plus)
                num.s[s - num.s] = ' ';
        if (s[1] == 'I' || s[1] == 'N') {
                /* infinities and NaN are not padded with zeros; NaN has no sign unless asked */
                bool zero = f->zero;
                f->zero = false;
                if (s[1] == 'N' && !f->space && !f->plus) {
                        s++;
                        n--;
                }
                fmt_pad(b, f, s, n);
                f->zero = zero;
                goto out;
        }
        if (f->sharp && verb != 'b') {
                /* '#' keeps a decimal point, and for %g the trailing zeros up to the precision */
                long digits = 0;
                bool point = false, nonzero = false;
                size_t tail = n;
                if (verb == 'v' || verb == 'g' || verb == 'G' || verb == 'x')
                        digits = prec == -1 ? 6 : prec;
                for (size_t i = 1; i < n; i++) {
                        char c = s[i];
                        if (c == '.')
                                point = true;
                        else if (c == 'p' || c == 'P' ||
                                 ((c == 'e' || c == 'E') && verb != 'x' && verb != 'X')) {
                                tail = i;
                                break;
                        } else {
                                if (c != '0')
                                        nonzero = true;
                                if (nonzero)
                                        digits--;
                        }
                }
                buf_add(&sharp, s, tail);
                if (!point) {
                        if (tail == 2 && s[1] == '0')
                                digits--;
                        buf_putc(&sharp, '.');
                }
                if (digits > 0)
                        buf_fill(&sharp, '0', (size_t)digits);
                buf_add(&sharp, s + tail, n - tail);
                if (sharp.overflow) {
                        b->overflow = true;
                        goto out;
                }
                s = sharp.s;
                n = sharp.len;
        }
        if (f->plus || s[0] != '+') {
                /* with zero padding the sign goes before the zeros */
                if (f->zero && f->wid_present && f->wid > (long)n) {
                        buf_putc(b, s[0]);
                        fmt_padding(b, f, f->wid - (long)n);
                        buf_add(b, s + 1, n - 1);
                } else
                        fmt_pad(b, f, s, n);
        } else
                fmt_pad(b, f, s + 1, n - 1);
out:
        buf_done(&num);
        buf_done(&sharp);
}

static void fmt_float_verb(Buf *b, Fmt *f, uint32_t verb, double v)
{
        switch (verb) {
        case 'v':
                fmt_float(b, f, v, 'g', -1);
                return;
        case 'b':
        case 'g':
        case 'G':
        case 'x':
        case 'X':
                fmt_float(b, f, v, (char)verb, -1);
                return;
        case 'f':
        case 'e':
        case 'E':
                fmt_float(b, f, v, (char)verb, 6);
                return;
        case 'F':
                fmt_float(b, f, v, 'f', 6);
                return;
        default:
                bad_verb_open(b, verb, "float64");
                fmt_float(b, f, v, 'g', -1);
                buf_putc(b, ')');
                return;
        }
}

/* fmt.fmtSbx: a string as hexadecimal bytes. */
static void fmt_sx(Buf *b, const Fmt *f, const char *s, size_t n, bool upper)
{
        const char *digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
        size_t length = n, width;

        if (f->prec_present && (size_t)f->prec < length)
                length = (size_t)f->prec;
        width = 2 * length;
        if (width == 0) {
                if (f->wid_present)
                        fmt_padding(b, f, f->wid);
                return;
        }
        if (f->space) {
                if (f->sharp)
                        width *= 2;
                width += length - 1;
        } else if (f->sharp)
                width += 2;
        if (f->wid_present && (size_t)f->wid > width && !f->minus)
                fmt_padding(b, f, (long)(f->wid - width));
        if (f->sharp) {
                buf_putc(b, '0');
                buf_putc(b, digits[16]);
        }
        for (size_t i = 0; i < length && !b->overflow; i++) {
                unsigned char c = (unsigned char)s[i];
                if (f->space && i > 0) {
                        buf_putc(b, ' ');
                        if (f->sharp) {
                                buf_putc(b, '0');
                                buf_putc(b, digits[16]);
                        }
                }
                buf_putc(b, digits[c >> 4]);
                buf_putc(b, digits[c & 0xF]);
        }
        if (f->wid_present && (size_t)f->wid > width && f->minus)
                fmt_padding(b, f, (long)(f->wid - width));
}

/* fmt.fmtQ. */
static void fmt_q(Buf *b, const Fmt *f, const char *s, size_t n)
{
        Buf t = { 0 };

        n = fmt_truncated(f, s, n);
        if (f->sharp && can_backquote(s, n)) {
                buf_putc(&t, '`');
                buf_add(&t, s, n);
                buf_putc(&t, '`');
        } else
                go_quote(&t, s, n, f->plus);
        if (t.overflow)
                b->overflow = true;
        else
                fmt_pad(b, f, t.s, t.len);
        buf_done(&t);
}

static void fmt_string(Buf *b, const Fmt *f, uint32_t verb, const char *s, size_t n)
{
        switch (verb) {
        case 'v':
                if (f->sharp_v) {
                        fmt_q(b, f, s, n);
                        return;
                }
                fmt_pad(b, f, s, fmt_truncated(f, s, n));
                return;
        case 's':
                fmt_pad(b, f, s, fmt_truncated(f, s, n));
                return;
        case 'x':
        case 'X':
                fmt_sx(b, f, s, n, verb == 'X');
                return;
        case 'q':
                fmt_q(b, f, s, n);
                return;
        default:
                bad_verb_open(b, verb, "string");
                fmt_pad(b, f, s, fmt_truncated(f, s, n));
                buf_putc(b, ')');
                return;
        }
}

/*
 * fmt's printArg and printValue for a decoded JSON value: scalars under their verbs, arrays as
 * [a b], objects as map[k:v] in key order, nil inside them as <nil>, and "%!d(string=x)" for a verb
 * that does not fit.  depth > 0 inside arrays and objects.  -ELOOP for data nested too deep.
 */
static int fmt_value(Buf *b, Fmt *f, uint32_t verb, json_t *v, int depth)
{
        uint64_t u;
        int r;

        if (depth > DEPTH_MAX)
                return -ELOOP;
        if (verb == 'T' && depth == 0) {
                fmt_pad_str(b, f, type_name(v && !json_is_null(v) ? v : NULL));
                return 0;
        }
        if (!v || json_is_null(v)) {
                if (depth > 0)
                        buf_puts(b, f->sharp_v ? "interface {}(nil)" : "<nil>");
                else if (verb == 'v')
                        fmt_pad_str(b, f, "<nil>");
                else {
                        bad_verb_open(b, verb, "<nil>");
                        buf_putc(b, ')');
                }
                return 0;
        }
        switch (json_typeof(v)) {
        case JSON_TRUE:
        case JSON_FALSE:
                if (verb == 't' || verb == 'v')
                        fmt_pad_str(b, f, json_is_true(v) ? "true" : "false");
                else {
                        bad_verb_open(b, verb, "bool");
                        fmt_pad_str(b, f, json_is_true(v) ? "true" : "false");
                        buf_putc(b, ')');
                }
                return 0;
        case JSON_INTEGER:
                fmt_int_verb(b, f, verb, (uint64_t)json_integer_value(v), true, "int");
                return 0;
        case JSON_REAL:
                fmt_float_verb(b, f, verb, json_real_value(v));
                return 0;
        case JSON_STRING:
                if (big_uint(v, &u))
                        fmt_int_verb(b, f, verb, u, false, "uint64");
                else
                        fmt_string(b, f, verb, json_string_value(v), json_string_length(v));
                return 0;
        case JSON_ARRAY: {
                size_t n = json_array_size(v);
                buf_puts(b, f->sharp_v ? "[]interface {}{" : "[");
                for (size_t i = 0; i < n && !b->overflow; i++) {
                        if (i > 0)
                                buf_puts(b, f->sharp_v ? ", " : " ");
                        r = fmt_value(b, f, verb, json_array_get(v, i), depth + 1);
                        if (r < 0)
                                return r;
                }
                buf_putc(b, f->sharp_v ? '}' : ']');
                return 0;
        }
        case JSON_OBJECT: {
                size_t n;
                _cleanup_free_ KeyVal *kv = sorted_entries(v, &n);
                buf_puts(b, f->sharp_v ? "map[string]interface {}{" : "map[");
                for (size_t i = 0; i < n && !b->overflow; i++) {
                        if (i > 0)
                                buf_puts(b, f->sharp_v ? ", " : " ");
                        fmt_string(b, f, verb, kv[i].key, kv[i].len);
                        buf_putc(b, ':');
                        r = fmt_value(b, f, verb, kv[i].value, depth + 1);
                        if (r < 0)
                                return r;
                }
                buf_putc(b, f->sharp_v ? '}' : ']');
                return 0;
        }
        case JSON_NULL:
        default:
                return 0;
        }
}

static bool is_string_arg(const json_t *v)
{
        return v && json_is_string(v) && !is_big(v);
}

/* fmt.Sprint (spaces between operands when neither is a string) and fmt.Sprintln. */
static int go_sprint(Buf *b, json_t **args, size_t n, bool ln)
{
        bool prev_string = false;

        for (size_t i = 0; i < n && !b->overflow; i++) {
                bool is_string = is_string_arg(args[i]);
                Fmt f = { 0 };
                int r;

                if (i > 0 && (ln || (!is_string && !prev_string)))
                        buf_putc(b, ' ');
                r = fmt_value(b, &f, 'v', args[i], 0);
                if (r < 0)
                        return r;
                prev_string = is_string;
        }
        if (ln)
                buf_putc(b, '\n');
        return 0;
}

/* fmt's parsenum: a decimal number up to FMT_NUM_MAX; past it the rest of the format is consumed. */
static bool fmt_parsenum(const char *s, size_t start, size_t end, int *num, size_t *newi)
{
        bool isnum = false;
        size_t i;

        *num = 0;
        for (i = start; i < end && s[i] >= '0' && s[i] <= '9'; i++) {
                if (*num > FMT_NUM_MAX) {
                        *num = 0;
                        *newi = end;
                        return false;
                }
                *num = *num * 10 + (s[i] - '0');
                isnum = true;
        }
        *newi = i;
        return isnum;
}

typedef struct Printf {
        const char *format;
        size_t end;
        json_t **args;
        size_t n_args;
        bool reordered, good_arg_num;
} Printf;

/* fmt's argNumber: an explicit "[n]" argument index. */
static size_t printf_arg_number(Printf *p, size_t arg_num, size_t *i, bool *found)
{
        const char *s = p->format + *i;
        size_t n = p->end - *i;

        *found = false;
        if (n == 0 || s[0] != '[')
                return arg_num;
        p->reordered = true;
        if (n >= 3) {
                for (size_t j = 1; j < n; j++) {
                        int index;
                        size_t newi;
                        if (s[j] != ']')
                                continue;
                        if (!fmt_parsenum(s, 1, j, &index, &newi) || newi != j) {
                                *i += j + 1;
                                p->good_arg_num = false;
                                return arg_num;
                        }
                        *i += j + 1;
                        *found = true;
                        if (index >= 1 && (size_t)index - 1 < p->n_args)
                                return (size_t)index - 1;
                        p->good_arg_num = false;
                        return arg_num;
                }
        }
        *i += 1;
        p->good_arg_num = false;
        return arg_num;
}

/* fmt's intFromArg, for '*' widths and precisions: an int argument within FMT_NUM_MAX. */
static bool printf_int_arg(Printf *p, size_t *arg_num, int *num)
{
        json_t *v;
        bool ok = false;
        uint64_t u;

        *num = 0;
        if (*arg_num >= p->n_args)
                return false;
        v = p->args[(*arg_num)++];
        if (v && json_is_integer(v)) {
                json_int_t i = json_integer_value(v);
                if (i >= -FMT_NUM_MAX && i <= FMT_NUM_MAX) {
                        *num = (int)i;
                        ok = true;
                }
        } else if (v && big_uint(v, &u))
                ok = false;
        return ok;
}

/* fmt.Sprintf's doPrintf, over decoded JSON arguments. */
static int go_sprintf(Buf *b, const char *format, size_t flen, json_t **args, size_t n_args)
{
        Printf p = { .format = format, .end = flen, .args = args, .n_args = n_args };
        size_t arg_num = 0, i = 0;
        bool after_index = false;
        int r;

        while (i < p.end && !b->overflow) {
                size_t lasti = i;
                Fmt f = { 0 };
                uint32_t verb;

                p.good_arg_num = true;
                while (i < p.end && format[i] != '%')
                        i++;
                if (i > lasti)
                        buf_add(b, format + lasti, i - lasti);
                if (i >= p.end)
                        break;
                i++;
                for (; i < p.end; i++) {
                        char c = format[i];
                        if (c == '#')
                                f.sharp = true;
                        else if (c == '0')
                                f.zero = !f.minus; /* zero padding only on the left */
                        else if (c == '+')
                                f.plus = true;
                        else if (c == '-') {
                                f.minus = true;
                                f.zero = false;
                        } else if (c == ' ')
                                f.space = true;
                        else
                                break;
                }
                arg_num = printf_arg_number(&p, arg_num, &i, &after_index);
                if (i < p.end && format[i] == '*') {
                        i++;
                        f.wid_present = printf_int_arg(&p, &arg_num, &f.wid);
                        if (!f.wid_present)
                                buf_puts(b, "%!(BADWIDTH)");
                        if (f.wid < 0) {
                                f.wid = -f.wid;
                                f.minus = true;
                                f.zero = false;
                        }
                        after_index = false;
                } else {
                        f.wid_present = fmt_parsenum(format, i, p.end, &f.wid, &i);
                        if (after_index && f.wid_present)
                                p.good_arg_num = false;
                }
                if (i + 1 < p.end && format[i] == '.') {
                        i++;
                        if (after_index)
                                p.good_arg_num = false;
                        arg_num = printf_arg_number(&p, arg_num, &i, &after_index);
                        if (i < p.end && format[i] == '*') {
                                i++;
                                f.prec_present = printf_int_arg(&p, &arg_num, &f.prec);
                                if (f.prec < 0) {
                                        f.prec = 0;
                                        f.prec_present = false;
                                }
                                if (!f.prec_present)
                                        buf_puts(b, "%!(BADPREC)");
                                after_index = false;
                        } else {
                                f.prec_present = fmt_parsenum(format, i, p.end, &f.prec, &i);
                                if (!f.prec_present) {
                                        f.prec = 0;
                                        f.prec_present = true;
                                }
                        }
                }
                if (!after_index)
                        arg_num = printf_arg_number(&p, arg_num, &i, &after_index);
                if (i >= p.end) {
                        buf_puts(b, "%!(NOVERB)");
                        break;
                }
                i += utf8_decode(format + i, p.end - i, &verb);
                if (verb == '%') {
                        buf_putc(b, '%');
                        continue;
                }
                if (!p.good_arg_num) {
                        buf_puts(b, "%!");
                        buf_rune(b, verb);
                        buf_puts(b, "(BADINDEX)");
                        continue;
                }
                if (arg_num >= p.n_args) {
                        buf_puts(b, "%!");
                        buf_rune(b, verb);
                        buf_puts(b, "(MISSING)");
                        continue;
                }
                if (verb == 'v') {
                        f.sharp_v = f.sharp;
                        f.sharp = false;
                        f.plus = false;
                }
                r = fmt_value(b, &f, verb, p.args[arg_num++], 0);
                if (r < 0)
                        return r;
        }
        if (!p.reordered && arg_num < p.n_args) {
                buf_puts(b, "%!(EXTRA ");
                for (size_t k = arg_num; k < p.n_args && !b->overflow; k++) {
                        Fmt f = { 0 };
                        json_t *v = p.args[k];
                        if (k > arg_num)
                                buf_puts(b, ", ");
                        if (!v || json_is_null(v)) {
                                buf_puts(b, "<nil>");
                                continue;
                        }
                        buf_puts(b, type_name(v));
                        buf_putc(b, '=');
                        r = fmt_value(b, &f, 'v', v, 0);
                        if (r < 0)
                                return r;
                }
                buf_putc(b, ')');
        }
        return 0;
}

/* ---- The json function: encoding/json as Docker configures it ---- */

/* encodeState.string with SetEscapeHTML(false): \" \\ \b \f \n \r \t, \u00XX, U+2028/9, U+FFFD. */
static void json_go_string(Buf *b, const char *s, size_t n)
{
        size_t start = 0, i = 0;

        buf_putc(b, '"');
        while (i < n && !b->overflow) {
                unsigned char c = (unsigned char)s[i];
                uint32_t r;
                size_t w;
                if (c < 0x80) {
                        if (c >= 0x20 && c != '"' && c != '\\') {
                                i++;
                                continue;
                        }
                        buf_add(b, s + start, i - start);
                        buf_putc(b, '\\');
                        switch (c) {
                        case '"':
                        case '\\':
                                buf_putc(b, (char)c);
                                break;
                        case '\b':
                                buf_putc(b, 'b');
                                break;
                        case '\f':
                                buf_putc(b, 'f');
                                break;
                        case '\n':
                                buf_putc(b, 'n');
                                break;
                        case '\r':
                                buf_putc(b, 'r');
                                break;
                        case '\t':
                                buf_putc(b, 't');
                                break;
                        default:
                                buf_puts(b, "u00");
                                buf_putc(b, lowerhex[c >> 4]);
                                buf_putc(b, lowerhex[c & 0xF]);
                                break;
                        }
                        start = ++i;
                        continue;
                }
                w = utf8_decode(s + i, n - i, &r);
                if ((r == RUNE_ERROR && w == 1) || r == 0x2028 || r == 0x2029) {
                        buf_add(b, s + start, i - start);
                        if (w == 1)
                                buf_puts(b, "\\ufffd");
                        else
                                buf_printf(b, "\\u%04" PRIx32, r);
                        start = i + w;
                }
                i += w;
        }
        buf_add(b, s + start, n - start);
        buf_putc(b, '"');
}

/* json.Marshal's compact text, object keys in their stored order.  -ELOOP for data nested too deep. */
static int json_go(Buf *b, const json_t *v, int depth)
{
        uint64_t u;
        int r;

        if (depth > DEPTH_MAX)
                return -ELOOP;
        if (!v) {
                buf_puts(b, "null");
                return 0;
        }
        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                const char *key;
                size_t klen;
                json_t *value;
                bool first = true;
                buf_putc(b, '{');
                json_object_keylen_foreach((json_t *)v, key, klen, value)
                {
                        if (b->overflow)
                                break;
                        if (!first)
                                buf_putc(b, ',');
                        first = false;
                        json_go_string(b, key, klen);
                        buf_putc(b, ':');
                        r = json_go(b, value, depth + 1);
                        if (r < 0)
                                return r;
                }
                buf_putc(b, '}');
                return 0;
        }
        case JSON_ARRAY:
                buf_putc(b, '[');
                for (size_t i = 0; i < json_array_size(v) && !b->overflow; i++) {
                        if (i > 0)
                                buf_putc(b, ',');
                        r = json_go(b, json_array_get(v, i), depth + 1);
                        if (r < 0)
                                return r;
                }
                buf_putc(b, ']');
                return 0;
        case JSON_STRING:
                if (big_uint(v, &u))
                        buf_printf(b, "%" PRIu64, u);
                else
                        json_go_string(b, json_string_value(v), json_string_length(v));
                return 0;
        case JSON_INTEGER:
                buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return 0;
        case JSON_REAL:
                json_float(b, json_real_value(v));
                return 0;
        case JSON_TRUE:
                buf_puts(b, "true");
                return 0;
        case JSON_FALSE:
                buf_puts(b, "false");
                return 0;
        case JSON_NULL:
        default:
                buf_puts(b, "null");
                return 0;
        }
}

/* ---- Lexer: Go's text/template/parse/lex.go ---- */

typedef enum ItemType {
        ITEM_ERROR,
        ITEM_BOOL,
        ITEM_CHAR,
        ITEM_CHAR_CONSTANT,
        ITEM_COMPLEX,
        ITEM_ASSIGN,
        ITEM_DECLARE,
        ITEM_EOF,
        ITEM_FIELD,
        ITEM_IDENTIFIER,
        ITEM_LEFT_DELIM,
        ITEM_LEFT_PAREN,
        ITEM_NUMBER,
        ITEM_PIPE,
        ITEM_RAW_STRING,
        ITEM_RIGHT_DELIM,
        ITEM_RIGHT_PAREN,
        ITEM_SPACE,
        ITEM_STRING,
        ITEM_TEXT,
        ITEM_VARIABLE,
        ITEM_KEYWORD, /* keywords follow */
        ITEM_BLOCK,
        ITEM_BREAK,
        ITEM_CONTINUE,
        ITEM_DOT,
        ITEM_DEFINE,
        ITEM_ELSE,
        ITEM_END,
        ITEM_IF,
        ITEM_NIL,
        ITEM_RANGE,
        ITEM_TEMPLATE,
        ITEM_WITH,
} ItemType;

static const struct {
        const char *word;
        ItemType type;
} keywords[] = {
        { "block", ITEM_BLOCK },
        { "break", ITEM_BREAK },
        { "continue", ITEM_CONTINUE },
        { "define", ITEM_DEFINE },
        { "else", ITEM_ELSE },
        { "end", ITEM_END },
        { "if", ITEM_IF },
        { "range", ITEM_RANGE },
        { "nil", ITEM_NIL },
        { "template", ITEM_TEMPLATE },
        { "with", ITEM_WITH },
};

typedef struct Item {
        ItemType type;
        size_t pos, len; /* the item's text is src[pos, pos + len); an error's is the lexer's message */
        int line;
} Item;

typedef enum LexState {
        LEX_TEXT,
        LEX_LEFT_DELIM,
        LEX_COMMENT,
        LEX_RIGHT_DELIM,
        LEX_INSIDE,
        LEX_SPACE,
        LEX_IDENTIFIER,
        LEX_FIELD,
        LEX_VARIABLE,
        LEX_CHAR,
        LEX_NUMBER,
        LEX_QUOTE,
        LEX_RAW_QUOTE,
        LEX_DONE,
} LexState;

#define LEX_EOF   (-1)
#define LEX_QUEUE 4

typedef struct Lexer {
        const char *in;
        size_t len, pos, start;
        bool at_eof;
        int paren_depth, line, start_line;
        LexState state;
        Item queue[LEX_QUEUE]; /* a state emits at most two items; the parser takes them one by one */
        unsigned q_head, q_len;
        char err[160];
} Lexer;

static size_t count_newlines(const char *s, size_t n)
{
        size_t count = 0;
        const char *end = s + n;

        while ((s = memchr(s, '\n', (size_t)(end - s)))) {
                count++;
                s++;
        }
        return count;
}

static bool is_space(int32_t r)
{
        return r == ' ' || r == '\t' || r == '\r' || r == '\n';
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0;
}

static bool has_left_trim_marker(const char *s, size_t n)
{
        return n >= 2 && s[0] == '-' && is_space((unsigned char)s[1]);
}

static bool has_right_trim_marker(const char *s, size_t n)
{
        return n >= 2 && is_space((unsigned char)s[0]) && s[1] == '-';
}

/* fmt's %#U: "U+007D '}'". */
static const char *fmt_sharp_u(char buf[32], int32_t r)
{
        char enc[4];
        size_t w;

        if (r < 0)
                r = (int32_t)RUNE_ERROR;
        if (!rune_is_print((uint32_t)r)) {
                snprintf(buf, 32, "U+%04" PRIX32, (uint32_t)r);
                return buf;
        }
        w = utf8_encode((uint32_t)r, enc);
        snprintf(buf, 32, "U+%04" PRIX32 " '%.*s'", (uint32_t)r, (int)w, enc);
        return buf;
}

static int32_t lex_next(Lexer *l)
{
        uint32_t r;

        if (l->pos >= l->len) {
                l->at_eof = true;
                return LEX_EOF;
        }
        l->pos += utf8_decode(l->in + l->pos, l->len - l->pos, &r);
        if (r == '\n')
                l->line++;
        return (int32_t)r;
}

static void lex_backup(Lexer *l)
{
        if (!l->at_eof && l->pos > 0) {
                size_t w = utf8_last_width(l->in, l->pos);
                l->pos -= w;
                if (w == 1 && l->in[l->pos] == '\n')
                        l->line--;
        }
}

static int32_t lex_peek(Lexer *l)
{
        int32_t r = lex_next(l);
        lex_backup(l);
        return r;
}

static void lex_emit(Lexer *l, ItemType t)
{
        l->queue[(l->q_head + l->q_len++) % LEX_QUEUE] =
                (Item){ t, l->start, l->pos - l->start, l->start_line };
        l->start = l->pos;
        l->start_line = l->line;
}

static void lex_ignore(Lexer *l)
{
        l->line += (int)count_newlines(l->in + l->start, l->pos - l->start);
        l->start = l->pos;
        l->start_line = l->line;
}

static LexState lex_errorf(Lexer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static LexState lex_errorf(Lexer *l, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(l->err, sizeof(l->err), fmt, ap);
        va_end(ap);
        l->queue[(l->q_head + l->q_len++) % LEX_QUEUE] = (Item){ ITEM_ERROR, l->start, 0, l->start_line };
        return LEX_DONE;
}

static bool lex_accept(Lexer *l, const char *valid)
{
        int32_t r = lex_next(l);
        if (r > 0 && r < 0x80 && strchr(valid, (int)r))
                return true;
        lex_backup(l);
        return false;
}

static void lex_accept_run(Lexer *l, const char *valid)
{
        while (lex_accept(l, valid))
                ;
}

/* Whether the input is at a valid end of an identifier: space, eof, . , | : ( ) or the delimiter. */
static bool lex_at_terminator(Lexer *l)
{
        int32_t r = lex_peek(l);

        if (is_space(r))
                return true;
        switch (r) {
        case LEX_EOF:
        case '.':
        case ',':
        case '|':
        case ':':
        case ')':
        case '(':
                return true;
        default:
                return has_prefix(l->in + l->pos, l->len - l->pos, "}}");
        }
}

static void lex_at_right_delim(Lexer *l, bool *delim, bool *trim)
{
        const char *s = l->in + l->pos;
        size_t n = l->len - l->pos;

        *delim = *trim = false;
        if (has_right_trim_marker(s, n) && has_prefix(s + 2, n - 2, "}}"))
                *delim = *trim = true;
        else if (has_prefix(s, n, "}}"))
                *delim = true;
}

static LexState lex_text(Lexer *l)
{
        const char *x = memmem(l->in + l->pos, l->len - l->pos, "{{", 2);
        size_t trim = 0;

        if (!x) {
                l->pos = l->len;
                if (l->pos > l->start) {
                        l->line += (int)count_newlines(l->in + l->start, l->pos - l->start);
                        lex_emit(l, ITEM_TEXT);
                }
                lex_emit(l, ITEM_EOF);
                return LEX_DONE;
        }
        l->pos = (size_t)(x - l->in);
        if (has_left_trim_marker(x + 2, l->len - l->pos - 2)) {
                /* "{{- " trims the spaces before the action */
                size_t i = l->pos;
                while (i > l->start && is_space((unsigned char)l->in[i - 1]))
                        i--;
                trim = l->pos - i;
        }
        l->pos -= trim;
        if (l->pos > l->start) {
                l->line += (int)count_newlines(l->in + l->start, l->pos - l->start);
                lex_emit(l, ITEM_TEXT);
        }
        l->pos += trim;
        lex_ignore(l);
        return LEX_LEFT_DELIM;
}

static size_t left_trim_length(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && is_space((unsigned char)s[i]))
                i++;
        return i;
}

static LexState lex_left_delim(Lexer *l)
{
        size_t after;

        l->pos += 2;
        after = has_left_trim_marker(l->in + l->pos, l->len - l->pos) ? 2 : 0;
        if (has_prefix(l->in + l->pos + after, l->len - l->pos - after, "/*")) {
                l->pos += after;
                lex_ignore(l);
                return LEX_COMMENT;
        }
        lex_emit(l, ITEM_LEFT_DELIM);
        l->pos += after;
        lex_ignore(l);
        l->paren_depth = 0;
        return LEX_INSIDE;
}

static LexState lex_comment(Lexer *l)
{
        const char *e;
        bool delim, trim;

        l->pos += 2;
        e = memmem(l->in + l->pos, l->len - l->pos, "*/", 2);
        if (!e)
                return lex_errorf(l, "unclosed comment");
        l->pos = (size_t)(e - l->in) + 2;
        lex_at_right_delim(l, &delim, &trim);
        if (!delim)
                return lex_errorf(l, "comment ends before closing delimiter");
        if (trim)
                l->pos += 2;
        l->pos += 2;
        if (trim)
                l->pos += left_trim_length(l->in + l->pos, l->len - l->pos);
        lex_ignore(l);
        return LEX_TEXT;
}

static LexState lex_right_delim(Lexer *l)
{
        bool trim = has_right_trim_marker(l->in + l->pos, l->len - l->pos);

        if (trim) {
                l->pos += 2;
                lex_ignore(l);
        }
        l->pos += 2;
        lex_emit(l, ITEM_RIGHT_DELIM);
        if (trim) {
                /* " -}}" trims the spaces after the action */
                l->pos += left_trim_length(l->in + l->pos, l->len - l->pos);
                lex_ignore(l);
        }
        return LEX_TEXT;
}

static LexState lex_inside(Lexer *l)
{
        char u[32];
        bool delim, trim;
        int32_t r;

        lex_at_right_delim(l, &delim, &trim);
        if (delim) {
                if (l->paren_depth == 0)
                        return LEX_RIGHT_DELIM;
                return lex_errorf(l, "unclosed left paren");
        }
        r = lex_next(l);
        if (r == LEX_EOF)
                return lex_errorf(l, "unclosed action");
        if (is_space(r)) {
                lex_backup(l); /* put the space back in case this is " -}}" */
                return LEX_SPACE;
        }
        switch (r) {
        case '=':
                lex_emit(l, ITEM_ASSIGN);
                return LEX_INSIDE;
        case ':':
                if (lex_next(l) != '=')
                        return lex_errorf(l, "expected :=");
                lex_emit(l, ITEM_DECLARE);
                return LEX_INSIDE;
        case '|':
                lex_emit(l, ITEM_PIPE);
                return LEX_INSIDE;
        case '"':
                return LEX_QUOTE;
        case '`':
                return LEX_RAW_QUOTE;
        case '$':
                return LEX_VARIABLE;
        case '\'':
                return LEX_CHAR;
        case '.':
                /* ".Field", unless a digit follows: then it starts a number */
                if (l->pos < l->len && (l->in[l->pos] < '0' || l->in[l->pos] > '9'))
                        return LEX_FIELD;
                lex_backup(l);
                return LEX_NUMBER;
        case '+':
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
                lex_backup(l);
                return LEX_NUMBER;
        case '(':
                lex_emit(l, ITEM_LEFT_PAREN);
                l->paren_depth++;
                return LEX_INSIDE;
        case ')':
                lex_emit(l, ITEM_RIGHT_PAREN);
                if (--l->paren_depth < 0)
                        return lex_errorf(l, "unexpected right paren %s", fmt_sharp_u(u, r));
                return LEX_INSIDE;
        default:
                break;
        }
        if (rune_is_alnum(r)) {
                lex_backup(l);
                return LEX_IDENTIFIER;
        }
        if (r < 0x80 && r >= 0x20 && r < 0x7F) {
                lex_emit(l, ITEM_CHAR);
                return LEX_INSIDE;
        }
        return lex_errorf(l, "unrecognized character in action: %s", fmt_sharp_u(u, r));
}

static LexState lex_space(Lexer *l)
{
        int spaces = 0;

        while (is_space(lex_peek(l))) {
                lex_next(l);
                spaces++;
        }
        /* a trim-marked right delimiter starts with a space: leave it to lex_right_delim */
        if (has_right_trim_marker(l->in + l->pos - 1, l->len - l->pos + 1) &&
            has_prefix(l->in + l->pos + 1, l->len - l->pos - 1, "}}")) {
                lex_backup(l);
                if (spaces == 1)
                        return LEX_RIGHT_DELIM;
        }
        lex_emit(l, ITEM_SPACE);
        return LEX_INSIDE;
}

static LexState lex_identifier(Lexer *l)
{
        char u[32];
        int32_t r;
        const char *word;
        size_t n;

        do
                r = lex_next(l);
        while (rune_is_alnum(r));
        lex_backup(l);
        if (!lex_at_terminator(l))
                return lex_errorf(l, "bad character %s", fmt_sharp_u(u, r));
        word = l->in + l->start;
        n = l->pos - l->start;
        for (size_t i = 0; i < ELEMENTSOF(keywords); i++)
                if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, word, n) == 0) {
                        lex_emit(l, keywords[i].type);
                        return LEX_INSIDE;
                }
        if ((n == 4 && memcmp(word, "true", 4) == 0) || (n == 5 && memcmp(word, "false", 5) == 0))
                lex_emit(l, ITEM_BOOL);
        else
                lex_emit(l, ITEM_IDENTIFIER);
        return LEX_INSIDE;
}

/* ".Field" or "$var"; the '.' or '$' has been read. */
static LexState lex_field_or_variable(Lexer *l, ItemType t)
{
        char u[32];
        int32_t r;

        if (lex_at_terminator(l)) { /* "." or "$" alone */
                lex_emit(l, t == ITEM_VARIABLE ? ITEM_VARIABLE : ITEM_DOT);
                return LEX_INSIDE;
        }
        do
                r = lex_next(l);
        while (rune_is_alnum(r));
        lex_backup(l);
        if (!lex_at_terminator(l))
                return lex_errorf(l, "bad character %s", fmt_sharp_u(u, r));
        lex_emit(l, t);
        return LEX_INSIDE;
}

/* A quoted item; the opening quote has been read.  Escapes are checked by the parser. */
static LexState lex_quoted(Lexer *l, int32_t quote, ItemType t, const char *what)
{
        for (;;) {
                int32_t r = lex_next(l);
                if (r == '\\' && quote != '`') {
                        r = lex_next(l);
                        if (r != LEX_EOF && r != '\n')
                                continue;
                }
                if (r == LEX_EOF || (r == '\n' && quote != '`'))
                        return lex_errorf(l, "unterminated %s", what);
                if (r == quote)
                        break;
        }
        lex_emit(l, t);
        return LEX_INSIDE;
}

static bool lex_scan_number(Lexer *l)
{
        const char *digits = "0123456789_";

        lex_accept(l, "+-");
        if (lex_accept(l, "0")) {
                /* a leading 0 does not mean octal in floats */
                if (lex_accept(l, "xX"))
                        digits = "0123456789abcdefABCDEF_";
                else if (lex_accept(l, "oO"))
                        digits = "01234567_";
                else if (lex_accept(l, "bB"))
                        digits = "01_";
        }
        lex_accept_run(l, digits);
        if (lex_accept(l, "."))
                lex_accept_run(l, digits);
        if (strlen(digits) == 11 && lex_accept(l, "eE")) {
                lex_accept(l, "+-");
                lex_accept_run(l, "0123456789_");
        }
        if (strlen(digits) == 23 && lex_accept(l, "pP")) {
                lex_accept(l, "+-");
                lex_accept_run(l, "0123456789_");
        }
        lex_accept(l, "i");
        if (rune_is_alnum(lex_peek(l))) {
                lex_next(l);
                return false;
        }
        return true;
}

static LexState lex_number(Lexer *l)
{
        _cleanup_free_ char *q = NULL;
        int32_t sign;

        if (!lex_scan_number(l))
                goto bad;
        sign = lex_peek(l);
        if (sign == '+' || sign == '-') {
                /* complex: 1+2i */
                if (!lex_scan_number(l) || l->in[l->pos - 1] != 'i')
                        goto bad;
                lex_emit(l, ITEM_COMPLEX);
        } else
                lex_emit(l, ITEM_NUMBER);
        return LEX_INSIDE;
bad:
        q = quote_capped(l->in + l->start, l->pos - l->start);
        return lex_errorf(l, "bad number syntax: %s", q);
}

static Item lex_item(Lexer *l)
{
        Item it;

        while (l->q_len == 0) {
                switch (l->state) {
                case LEX_TEXT:
                        l->state = lex_text(l);
                        break;
                case LEX_LEFT_DELIM:
                        l->state = lex_left_delim(l);
                        break;
                case LEX_COMMENT:
                        l->state = lex_comment(l);
                        break;
                case LEX_RIGHT_DELIM:
                        l->state = lex_right_delim(l);
                        break;
                case LEX_INSIDE:
                        l->state = lex_inside(l);
                        break;
                case LEX_SPACE:
                        l->state = lex_space(l);
                        break;
                case LEX_IDENTIFIER:
                        l->state = lex_identifier(l);
                        break;
                case LEX_FIELD:
                        l->state = lex_field_or_variable(l, ITEM_FIELD);
                        break;
                case LEX_VARIABLE:
                        l->state = lex_field_or_variable(l, ITEM_VARIABLE);
                        break;
                case LEX_CHAR:
                        l->state = lex_quoted(l, '\'', ITEM_CHAR_CONSTANT, "character constant");
                        break;
                case LEX_NUMBER:
                        l->state = lex_number(l);
                        break;
                case LEX_QUOTE:
                        l->state = lex_quoted(l, '"', ITEM_STRING, "quoted string");
                        break;
                case LEX_RAW_QUOTE:
                        l->state = lex_quoted(l, '`', ITEM_RAW_STRING, "raw quoted string");
                        break;
                case LEX_DONE:
                default:
                        /* after the end or an error the parser stops; it only ever sees EOF again */
                        return (Item){ ITEM_EOF, l->len, 0, l->line };
                }
        }
        it = l->queue[l->q_head];
        l->q_head = (l->q_head + 1) % LEX_QUEUE;
        l->q_len--;
        return it;
}

/* ---- Parse tree ---- */

typedef enum NodeKind {
        N_LIST,   /* first..: text and actions */
        N_TEXT,   /* text, len */
        N_ACTION, /* pipe */
        N_IF,     /* first..: N_BRANCH; else_list */
        N_WITH,   /* the same, and a true branch's value becomes dot */
        N_BRANCH, /* pipe, list */
        N_RANGE,  /* pipe, list, else_list */
        N_BREAK,
        N_CONTINUE,
        N_PIPE,     /* first..: N_COMMAND; decl[], is_assign */
        N_COMMAND,  /* first..: operands */
        N_FIELD,    /* names: .A.B */
        N_VARIABLE, /* id, text ("$x"), names */
        N_CHAIN,    /* pipe (the term), names: (...).A.B */
        N_IDENT,    /* id (the function), text */
        N_DOT,
        N_NIL,
        N_BOOL,   /* value */
        N_NUMBER, /* value, text; overflow */
        N_STRING, /* value, text (as written) */
        N_END,    /* {{end}} and {{else}} end item lists; they never stay in the tree */
        N_ELSE,
} NodeKind;

typedef struct Name {
        const char *s;
        size_t len;
} Name;

typedef struct Node Node;
struct Node {
        NodeKind kind;
        size_t pos;         /* byte offset in the source, for error locations */
        Node *next;         /* the next sibling */
        Node *first, *last; /* children: list items, if/with branches, commands, operands */
        size_t count;
        Node *pipe;             /* ACTION, BRANCH, RANGE: the pipeline; CHAIN: the term */
        Node *list, *else_list; /* BRANCH, RANGE: the body; IF, WITH, RANGE: the else part */
        const char *text;       /* TEXT: the bytes; IDENT, NUMBER, STRING, VARIABLE: the spelling */
        size_t len;
        Name *names; /* FIELD, VARIABLE, CHAIN: the fields */
        size_t n_names;
        json_t *value; /* BOOL, NIL, NUMBER, STRING: the constant (owned by the template) */
        int id;        /* VARIABLE: the slot (-1 for an assignment to an undeclared name); IDENT: function */
        int decl[2];   /* PIPE: the slots it declares or assigns */
        Name decl_name[2];
        int n_decls;
        bool is_assign; /* PIPE: `=` rather than `:=` */
        bool overflow;  /* NUMBER: does not fit an int */
};

typedef struct ArenaChunk ArenaChunk;
struct ArenaChunk {
        ArenaChunk *next;
        size_t used, size;
        max_align_t data[];
};

struct Template {
        char *src; /* a copy of the text; nodes point into it */
        size_t len;
        ArenaChunk *arena;
        Node *root;
        int n_slots;    /* variables: $ is slot 0 */
        json_t *consts; /* keeps the constants of the nodes alive */
};

static void *arena_alloc(Template *t, size_t n)
{
        ArenaChunk *c = t->arena;
        void *p;

        n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
        if (!c || c->size - c->used < n) {
                size_t size = n > 65536 ? n : 65536;
                c = xcalloc(1, sizeof(ArenaChunk) + size);
                c->size = size;
                c->next = t->arena;
                t->arena = c;
        }
        p = (char *)c->data + c->used;
        c->used += n;
        return p;
}

static void node_append(Node *parent, Node *kid)
{
        if (parent->last)
                parent->last->next = kid;
        else
                parent->first = kid;
        parent->last = kid;
        parent->count++;
}

/* Go's Node.String(), for the context of execution errors; stops once CONTEXT_MAX is passed. */
static void node_string(Buf *b, const Node *n)
{
        if (!n || b->len > CONTEXT_MAX)
                return;
        switch (n->kind) {
        case N_LIST:
                for (const Node *k = n->first; k; k = k->next)
                        node_string(b, k);
                return;
        case N_TEXT:
                buf_add(b, n->text, n->len > CONTEXT_MAX ? CONTEXT_MAX + 1 : n->len);
                return;
        case N_ACTION:
                buf_puts(b, "{{");
                node_string(b, n->pipe);
                buf_puts(b, "}}");
                return;
        case N_IF:
        case N_WITH:
                for (const Node *k = n->first; k; k = k->next) {
                        buf_puts(b, k == n->first ? "{{" : "{{else ");
                        buf_puts(b, n->kind == N_IF ? "if " : "with ");
                        node_string(b, k->pipe);
                        buf_puts(b, "}}");
                        node_string(b, k->list);
                }
                if (n->else_list) {
                        buf_puts(b, "{{else}}");
                        node_string(b, n->else_list);
                }
                buf_puts(b, "{{end}}");
                return;
        case N_RANGE:
                buf_puts(b, "{{range ");
                node_string(b, n->pipe);
                buf_puts(b, "}}");
                node_string(b, n->list);
                if (n->else_list) {
                        buf_puts(b, "{{else}}");
                        node_string(b, n->else_list);
                }
                buf_puts(b, "{{end}}");
                return;
        case N_BREAK:
                buf_puts(b, "{{break}}");
                return;
        case N_CONTINUE:
                buf_puts(b, "{{continue}}");
                return;
        case N_PIPE:
                for (int i = 0; i < n->n_decls; i++) {
                        if (i > 0)
                                buf_puts(b, ", ");
                        buf_add(b, n->decl_name[i].s, n->decl_name[i].len);
                }
                if (n->n_decls > 0)
                        buf_puts(b, n->is_assign ? " = " : " := ");
                for (const Node *k = n->first; k; k = k->next) {
                        if (k != n->first)
                                buf_puts(b, " | ");
                        node_string(b, k);
                }
                return;
        case N_COMMAND:
                for (const Node *k = n->first; k; k = k->next) {
                        if (k != n->first)
                                buf_putc(b, ' ');
                        if (k->kind == N_PIPE)
                                buf_putc(b, '(');
                        node_string(b, k);
                        if (k->kind == N_PIPE)
                                buf_putc(b, ')');
                }
                return;
        case N_CHAIN:
                if (n->pipe->kind == N_PIPE)
                        buf_putc(b, '(');
                node_string(b, n->pipe);
                if (n->pipe->kind == N_PIPE)
                        buf_putc(b, ')');
                break;
        case N_VARIABLE:
        case N_IDENT:
        case N_NUMBER:
        case N_STRING:
                buf_add(b, n->text, n->len > CONTEXT_MAX ? CONTEXT_MAX + 1 : n->len);
                break;
        case N_DOT:
                buf_putc(b, '.');
                return;
        case N_NIL:
                buf_puts(b, "nil");
                return;
        case N_BOOL:
                buf_puts(b, json_is_true(n->value) ? "true" : "false");
                return;
        case N_END:
                buf_puts(b, "{{end}}");
                return;
        case N_ELSE:
                buf_puts(b, "{{else}}");
                return;
        case N_FIELD:
        case N_BRANCH:
        default:
                break;
        }
        for (size_t i = 0; i < n->n_names && b->len <= CONTEXT_MAX; i++) {
                buf_putc(b, '.');
                buf_add(b, n->names[i].s, n->names[i].len > CONTEXT_MAX ? CONTEXT_MAX + 1 : n->names[i].len);
        }
}

/* ---- Parser: Go's text/template/parse/parse.go ---- */

typedef struct ScopeVar {
        Name name;
        int id;
        size_t hash;
        size_t bucket_next; /* index + 1 of the entry this one hides in its bucket, 0 for none */
} ScopeVar;

typedef struct Parser {
        Template *t;
        Lexer lex;
        Item token[3]; /* three tokens of lookahead, as Go's parser has */
        int peek_count;
        int action_line, range_depth, nesting;
        /* the variables in scope, innermost last, with a hash of their names to find them */
        ScopeVar *vars;
        size_t n_vars, cap_vars;
        size_t *buckets; /* index + 1 of the innermost entry per bucket */
        size_t mask;
        Error **err;
} Parser;

static size_t name_hash(const char *s, size_t n)
{
        size_t h = 14695981039346656037ULL;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
        return h;
}

static void scope_push(Parser *p, const char *s, size_t n, int id)
{
        ScopeVar *v;
        size_t h = name_hash(s, n);

        if (p->n_vars == p->cap_vars) {
                p->cap_vars = p->cap_vars ? p->cap_vars * 2 : 16;
                p->vars = xrealloc(p->vars, p->cap_vars * sizeof(ScopeVar));
        }
        v = &p->vars[p->n_vars++];
        *v = (ScopeVar){ { s, n }, id, h, p->buckets[h & p->mask] };
        p->buckets[h & p->mask] = p->n_vars;
}

/* Leaves a scope: forgets the variables declared since mark, innermost first. */
static void scope_pop(Parser *p, size_t mark)
{
        while (p->n_vars > mark) {
                ScopeVar *v = &p->vars[--p->n_vars];
                p->buckets[v->hash & p->mask] = v->bucket_next;
        }
}

/* The slot of the innermost variable of that name; -2 if there is none. */
static int scope_lookup(Parser *p, const char *s, size_t n)
{
        size_t h = name_hash(s, n);

        for (size_t x = p->buckets[h & p->mask]; x; x = p->vars[x - 1].bucket_next) {
                const ScopeVar *v = &p->vars[x - 1];
                if (v->hash == h && v->name.len == n && memcmp(v->name.s, s, n) == 0)
                        return v->id;
        }
        return -2;
}

static Item p_next(Parser *p)
{
        if (p->peek_count > 0)
                p->peek_count--;
        else
                p->token[0] = lex_item(&p->lex);
        return p->token[p->peek_count];
}

static void p_backup(Parser *p)
{
        p->peek_count++;
}

static void p_backup2(Parser *p, Item t1)
{
        p->token[1] = t1;
        p->peek_count = 2;
}

static void p_backup3(Parser *p, Item t2, Item t1)
{
        p->token[1] = t1;
        p->token[2] = t2;
        p->peek_count = 3;
}

static Item p_peek(Parser *p)
{
        if (p->peek_count > 0)
                return p->token[p->peek_count - 1];
        p->peek_count = 1;
        p->token[0] = lex_item(&p->lex);
        return p->token[0];
}

static Item p_next_non_space(Parser *p)
{
        Item t;
        do
                t = p_next(p);
        while (t.type == ITEM_SPACE);
        return t;
}

static Item p_peek_non_space(Parser *p)
{
        Item t = p_next_non_space(p);
        p_backup(p);
        return t;
}

static int p_errorf(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int p_errorf(Parser *p, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        return error_setx(p->err, EINVAL, "template: :%d: %s", p->token[0].line, msg);
}

/* Go's item.String(): EOF, the error text, <keyword>, or the quoted text (cut after 10 runes). */
static char *item_string(Parser *p, const Item *it)
{
        const char *s = p->t->src + it->pos;
        Buf b = { 0 };

        if (it->type == ITEM_EOF)
                return xstrdup("EOF");
        if (it->type == ITEM_ERROR)
                return xstrdup(p->lex.err);
        if (it->type > ITEM_KEYWORD) {
                buf_printf(&b, "<%.*s>", (int)it->len, s);
                return buf_steal(&b);
        }
        if (it->len > 10) {
                size_t cut = 0;
                uint32_t r;
                for (int k = 0; k < 10 && cut < it->len; k++)
                        cut += utf8_decode(s + cut, it->len - cut, &r);
                go_quote(&b, s, cut, false);
                buf_puts(&b, "...");
                return buf_steal(&b);
        }
        go_quote(&b, s, it->len, false);
        return buf_steal(&b);
}

static int p_unexpected(Parser *p, const Item *it, const char *context)
{
        _cleanup_free_ char *s = item_string(p, it);

        if (it->type == ITEM_ERROR) {
                if (p->action_line != 0 && p->action_line != it->line) {
                        size_t n = strlen(s);
                        bool action = n >= 7 && strcmp(s + n - 7, " action") == 0;
                        return p_errorf(p, "%s%s started at :%d", s, action ? "" : " in action",
                                        p->action_line);
                }
                return p_errorf(p, "%s", s);
        }
        return p_errorf(p, "unexpected %s in %s", s, context);
}

static Item p_expect(Parser *p, ItemType expected, const char *context, int *r)
{
        Item t = p_next_non_space(p);
        *r = t.type == expected ? 0 : p_unexpected(p, &t, context);
        return t;
}

static Node *new_node(Parser *p, NodeKind kind, size_t pos)
{
        Node *n = arena_alloc(p->t, sizeof(Node));
        n->kind = kind;
        n->pos = pos;
        n->id = -1;
        return n;
}

/* Keeps a constant alive for the template's life and returns it borrowed. */
static json_t *p_const(Parser *p, json_t *v)
{
        json_array_append_new(p->t->consts, xjson(v));
        return v;
}

static int nesting_error(Parser *p)
{
        return p_errorf(p, "actions nested deeper than %d levels", NESTING_MAX);
}

static int parse_pipeline(Parser *p, const char *context, ItemType end, Node **ret);
static int parse_item_list(Parser *p, Node **ret_list, Node **ret_next);

static int hex_digit(char h)
{
        if (h >= '0' && h <= '9')
                return h - '0';
        if (h >= 'a' && h <= 'f')
                return h - 'a' + 10;
        if (h >= 'A' && h <= 'F')
                return h - 'A' + 10;
        return -1;
}

/* strconv.UnquoteChar: one character of a quoted literal; returns the bytes used, 0 for bad syntax. */
static size_t unquote_char(const char *s, size_t n, char quote, uint32_t *r, bool *multibyte)
{
        unsigned char c;
        uint32_t v = 0;
        size_t k;

        *multibyte = false;
        if (n == 0)
                return 0;
        c = (unsigned char)s[0];
        if (c == (unsigned char)quote)
                return 0;
        if (c >= 0x80) {
                *multibyte = true;
                return utf8_decode(s, n, r);
        }
        if (c != '\\') {
                *r = c;
                return 1;
        }
        if (n < 2)
                return 0;
        c = (unsigned char)s[1];
        switch (c) {
        case 'a':
                *r = '\a';
                return 2;
        case 'b':
                *r = '\b';
                return 2;
        case 'f':
                *r = '\f';
                return 2;
        case 'n':
                *r = '\n';
                return 2;
        case 'r':
                *r = '\r';
                return 2;
        case 't':
                *r = '\t';
                return 2;
        case 'v':
                *r = '\v';
                return 2;
        case '\\':
                *r = '\\';
                return 2;
        case '\'':
        case '"':
                if (c != (unsigned char)quote)
                        return 0;
                *r = c;
                return 2;
        case 'x':
        case 'u':
        case 'U':
                k = c == 'x' ? 2 : c == 'u' ? 4 : 8;
                if (n < 2 + k)
                        return 0;
                for (size_t j = 0; j < k; j++) {
                        int d = hex_digit(s[2 + j]);
                        if (d < 0)
                                return 0;
                        v = (v << 4) | (uint32_t)d;
                }
                if (c != 'x') {
                        if (!rune_valid(v))
                                return 0;
                        *multibyte = true;
                }
                *r = v;
                return 2 + k;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
                if (n < 4)
                        return 0;
                v = c - '0';
                for (size_t j = 2; j < 4; j++) {
                        if (s[j] < '0' || s[j] > '7')
                                return 0;
                        v = (v << 3) | (uint32_t)(s[j] - '0');
                }
                if (v > 255)
                        return 0;
                *r = v;
                return 4;
        default:
                return 0;
        }
}

/* strconv.Unquote of a "..." or `...` literal into out; -EINVAL for bad syntax. */
static int unquote(const char *s, size_t n, Buf *out)
{
        char quote;

        if (n < 2 || s[0] != s[n - 1])
                return -EINVAL;
        quote = s[0];
        s++;
        n -= 2;
        if (quote == '`') {
                if (memchr(s, '`', n))
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        if (s[i] != '\r') /* raw strings drop carriage returns */
                                buf_putc(out, s[i]);
                return 0;
        }
        if (quote != '"')
                return -EINVAL;
        for (size_t i = 0; i < n;) {
                uint32_t r;
                bool multibyte;
                size_t w;
                if (s[i] == '\n')
                        return -EINVAL;
                w = unquote_char(s + i, n - i, '"', &r, &multibyte);
                if (w == 0)
                        return -EINVAL;
                if (r < 0x80 || !multibyte)
                        buf_putc(out, (char)r);
                else
                        buf_rune(out, r);
                i += w;
        }
        return 0;
}

/* strconv's underscoreOK: '_' only between digits, or after a base prefix. */
static bool underscore_ok(const char *s, size_t n)
{
        char saw = '^';
        size_t i = 0;
        bool hex = false;

        if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
                s++;
                n--;
        }
        if (n >= 2 && s[0] == '0' && strchr("bBoOxX", s[1]) && s[1]) {
                i = 2;
                saw = '0';
                hex = s[1] == 'x' || s[1] == 'X';
        }
        for (; i < n; i++) {
                char c = s[i];
                if ((c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))) {
                        saw = '0';
                        continue;
                }
                if (c == '_') {
                        if (saw != '0')
                                return false;
                        saw = '_';
                        continue;
                }
                if (saw == '_')
                        return false;
                saw = '!';
        }
        return saw != '_';
}

/* strconv.ParseUint(s, 0, 64). */
static bool go_parse_uint(const char *s, size_t n, uint64_t *ret)
{
        const char *s0 = s;
        size_t n0 = n;
        unsigned base = 10;
        bool underscores = false;
        uint64_t v = 0;

        if (n == 0)
                return false;
        if (s[0] == '0') {
                if (n >= 3 && (s[1] == 'b' || s[1] == 'B')) {
                        base = 2;
                        s += 2;
                        n -= 2;
                } else if (n >= 3 && (s[1] == 'o' || s[1] == 'O')) {
                        base = 8;
                        s += 2;
                        n -= 2;
                } else if (n >= 3 && (s[1] == 'x' || s[1] == 'X')) {
                        base = 16;
                        s += 2;
                        n -= 2;
                } else {
                        base = 8;
                        s++;
                        n--;
                }
        }
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                unsigned d;
                if (c == '_') {
                        underscores = true;
                        continue;
                }
                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'z')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'Z')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return false;
                if (d >= base)
                        return false;
                if (v > (UINT64_MAX - d) / base)
                        return false;
                v = v * base + d;
        }
        if (underscores && !underscore_ok(s0, n0))
                return false;
        *ret = v;
        return true;
}

/* strconv.ParseInt(s, 0, 64). */
static bool go_parse_int(const char *s, size_t n, int64_t *ret)
{
        bool neg = false;
        uint64_t u;

        if (n > 0 && (s[0] == '+' || s[0] == '-')) {
                neg = s[0] == '-';
                s++;
                n--;
        }
        if (!go_parse_uint(s, n, &u))
                return false;
        if (!neg && u > (uint64_t)INT64_MAX)
                return false;
        if (neg && u > (uint64_t)INT64_MAX + 1)
                return false;
        *ret = neg ? (int64_t)(0 - u) : (int64_t)u;
        return true;
}

/* strconv.ParseFloat(s, 64) for what the lexer lets through: decimal or hexadecimal (with 'p'). */
static bool go_parse_float(const char *s, size_t n, double *ret)
{
        _cleanup_free_ char *clean = NULL;
        size_t k = 0;
        const char *d;
        char *end;
        double v;

        if (memchr(s, '_', n) && !underscore_ok(s, n))
                return false;
        clean = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
                if (s[i] != '_')
                        clean[k++] = s[i];
        clean[k] = '\0';
        d = clean[0] == '+' || clean[0] == '-' ? clean + 1 : clean;
        if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
                if (!strpbrk(d, "pP")) /* a hexadecimal mantissa needs a 'p' exponent */
                        return false;
        } else if (strpbrk(d, "xXpPnNiI"))
                return false;
        errno = 0;
        v = strtod(clean, &end);
        if (end == clean || *end != '\0' || isinf(v) || isnan(v))
                return false;
        *ret = v;
        return true;
}

/* parse.newNumber and the exec side's idealConstant: an int, a float64, or an int that overflows. */
static int parse_number(Parser *p, const Item *it, Node **ret)
{
        const char *text = p->t->src + it->pos;
        size_t n = it->len;
        Node *node = new_node(p, N_NUMBER, it->pos);
        _cleanup_free_ char *q = quote_capped(text, n);
        int64_t i;
        uint64_t u;
        double f;

        node->text = text;
        node->len = n;
        if (it->type == ITEM_CHAR_CONSTANT) {
                uint32_t r;
                bool multibyte;
                size_t w = unquote_char(text + 1, n - 1, '\'', &r, &multibyte);
                if (w == 0)
                        return p_errorf(p, "invalid syntax");
                if (1 + w != n - 1 || text[n - 1] != '\'')
                        return p_errorf(p, "malformed character constant: %.*s",
                                        (int)(n > QUOTE_MAX ? QUOTE_MAX : n), text);
                node->value = p_const(p, json_integer(r));
                *ret = node;
                return 0;
        }
        if (it->type == ITEM_COMPLEX || text[n - 1] == 'i')
                return p_errorf(p, "complex number %s is not supported", q);
        if (go_parse_int(text, n, &i)) {
                node->value = p_const(p, json_integer(i));
        } else if (go_parse_uint(text, n, &u)) {
                node->overflow = true; /* Go's "overflows int", when it is used */
        } else if (go_parse_float(text, n, &f)) {
                if (!memchr(text, '.', n) && !memchr(text, 'e', n) && !memchr(text, 'E', n) &&
                    !memchr(text, 'p', n) && !memchr(text, 'P', n))
                        return p_errorf(p, "integer overflow: %s", q);
                node->value = p_const(p, json_real(f));
        } else
                return p_errorf(p, "illegal number syntax: %s", q);
        *ret = node;
        return 0;
}

/* Go's builtins that docker's templates use, and docker's own functions. */
enum {
        F_AND,
        F_OR,
        F_NOT,
        F_LEN,
        F_INDEX,
        F_SLICE,
        F_PRINT,
        F_PRINTF,
        F_PRINTLN,
        F_EQ,
        F_NE,
        F_LT,
        F_LE,
        F_GT,
        F_GE,
        F_JSON,
        F_SPLIT,
        F_JOIN,
        F_TITLE,
        F_LOWER,
        F_UPPER,
        F_PAD,
        F_TRUNCATE,
};

static const struct {
        const char *name;
        int min, max; /* arguments; max -1: variadic */
} builtins[] = {
        [F_AND] = { "and", 1, -1 },
        [F_OR] = { "or", 1, -1 },
        [F_NOT] = { "not", 1, 1 },
        [F_LEN] = { "len", 1, 1 },
        [F_INDEX] = { "index", 1, -1 },
        [F_SLICE] = { "slice", 1, -1 },
        [F_PRINT] = { "print", 0, -1 },
        [F_PRINTF] = { "printf", 1, -1 },
        [F_PRINTLN] = { "println", 0, -1 },
        [F_EQ] = { "eq", 1, -1 },
        [F_NE] = { "ne", 2, 2 },
        [F_LT] = { "lt", 2, 2 },
        [F_LE] = { "le", 2, 2 },
        [F_GT] = { "gt", 2, 2 },
        [F_GE] = { "ge", 2, 2 },
        [F_JSON] = { "json", 1, 1 },
        [F_SPLIT] = { "split", 2, 2 },
        [F_JOIN] = { "join", 2, 2 },
        [F_TITLE] = { "title", 1, 1 },
        [F_LOWER] = { "lower", 1, 1 },
        [F_UPPER] = { "upper", 1, 1 },
        [F_PAD] = { "pad", 3, 3 },
        [F_TRUNCATE] = { "truncate", 2, 2 },
};

static int find_builtin(const char *s, size_t n)
{
        for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
                if (strlen(builtins[i].name) == n && memcmp(builtins[i].name, s, n) == 0)
                        return (int)i;
        return -1;
}

/* term: literal, function, ., .Field, $var, or ( pipeline ).  *ret is NULL if no term is next. */
static int parse_term(Parser *p, Node **ret)
{
        Item t = p_next_non_space(p);
        const char *s = p->t->src + t.pos;
        Node *n = NULL;
        int r;

        *ret = NULL;
        switch (t.type) {
        case ITEM_IDENTIFIER: {
                int fn = find_builtin(s, t.len);
                if (fn < 0) {
                        _cleanup_free_ char *q = quote_capped(s, t.len);
                        return p_errorf(p, "function %s not defined", q);
                }
                n = new_node(p, N_IDENT, t.pos);
                n->id = fn;
                n->text = s;
                n->len = t.len;
                break;
        }
        case ITEM_DOT:
                n = new_node(p, N_DOT, t.pos);
                break;
        case ITEM_NIL:
                n = new_node(p, N_NIL, t.pos);
                n->value = json_null();
                break;
        case ITEM_VARIABLE: {
                int id = scope_lookup(p, s, t.len);
                if (id == -2) {
                        _cleanup_free_ char *q = quote_capped(s, t.len);
                        return p_errorf(p, "undefined variable %s", q);
                }
                n = new_node(p, N_VARIABLE, t.pos);
                n->id = id;
                n->text = s;
                n->len = t.len;
                break;
        }
        case ITEM_FIELD:
                n = new_node(p, N_FIELD, t.pos);
                n->names = arena_alloc(p->t, sizeof(Name));
                n->names[0] = (Name){ s + 1, t.len - 1 };
                n->n_names = 1;
                break;
        case ITEM_BOOL:
                n = new_node(p, N_BOOL, t.pos);
                n->value = t.len == 4 ? json_true() : json_false();
                break;
        case ITEM_CHAR_CONSTANT:
        case ITEM_COMPLEX:
        case ITEM_NUMBER:
                r = parse_number(p, &t, &n);
                if (r < 0)
                        return r;
                break;
        case ITEM_LEFT_PAREN:
                if (++p->nesting > NESTING_MAX)
                        return nesting_error(p);
                r = parse_pipeline(p, "parenthesized pipeline", ITEM_RIGHT_PAREN, &n);
                if (r < 0)
                        return r;
                p->nesting--;
                break;
        case ITEM_STRING:
        case ITEM_RAW_STRING: {
                Buf b = { 0 };
                if (unquote(s, t.len, &b) < 0) {
                        buf_done(&b);
                        return p_errorf(p, "invalid syntax");
                }
                n = new_node(p, N_STRING, t.pos);
                n->text = s;
                n->len = t.len;
                n->value = p_const(p, json_stringn_nocheck(b.s ? b.s : "", b.len));
                buf_done(&b);
                break;
        }
        default:
                p_backup(p);
                return 0;
        }
        *ret = n;
        return 0;
}

/* operand: term .Field*.  *ret is NULL if no operand is next. */
static int parse_operand(Parser *p, Node **ret)
{
        _cleanup_free_ Name *names = NULL;
        size_t n_names = 0, cap = 0, pos;
        Node *node = NULL, *m = NULL;
        int r;

        r = parse_term(p, &node);
        if (r < 0 || !node) {
                *ret = NULL;
                return r;
        }
        if (p_peek(p).type != ITEM_FIELD) {
                *ret = node;
                return 0;
        }
        pos = p_peek(p).pos;
        if (node->kind == N_FIELD) {
                cap = 8;
                names = xmalloc(cap * sizeof(Name));
                names[n_names++] = node->names[0];
        }
        while (p_peek(p).type == ITEM_FIELD) {
                Item f = p_next(p);
                if (n_names == cap) {
                        cap = cap ? cap * 2 : 8;
                        names = xrealloc(names, cap * sizeof(Name));
                }
                names[n_names++] = (Name){ p->t->src + f.pos + 1, f.len - 1 };
        }
        switch (node->kind) {
        case N_FIELD:
                m = new_node(p, N_FIELD, pos);
                break;
        case N_VARIABLE:
                m = new_node(p, N_VARIABLE, pos);
                m->id = node->id;
                m->text = node->text;
                m->len = node->len;
                break;
        case N_BOOL:
        case N_STRING:
        case N_NUMBER:
        case N_NIL:
        case N_DOT: {
                Buf b = { 0 };
                _cleanup_free_ char *q = NULL;
                node_string(&b, node);
                q = quote_capped(b.s ? b.s : "", b.len);
                buf_done(&b);
                return p_errorf(p, "unexpected . after term %s", q);
        }
        default:
                m = new_node(p, N_CHAIN, pos);
                m->pipe = node;
                break;
        }
        m->names = arena_alloc(p->t, n_names * sizeof(Name));
        memcpy(m->names, names, n_names * sizeof(Name));
        m->n_names = n_names;
        *ret = m;
        return 0;
}

/* command: operand (space operand)*, up to a pipe, which it consumes, or the end, which it leaves. */
static int parse_command(Parser *p, Node **ret)
{
        Node *cmd = new_node(p, N_COMMAND, p_peek_non_space(p).pos);
        int r;

        for (;;) {
                Node *op = NULL;
                Item t;
                p_peek_non_space(p);
                r = parse_operand(p, &op);
                if (r < 0)
                        return r;
                if (op)
                        node_append(cmd, op);
                t = p_next(p);
                if (t.type == ITEM_SPACE)
                        continue;
                if (t.type == ITEM_RIGHT_DELIM || t.type == ITEM_RIGHT_PAREN)
                        p_backup(p);
                else if (t.type != ITEM_PIPE)
                        return p_unexpected(p, &t, "operand");
                break;
        }
        if (cmd->count == 0)
                return p_errorf(p, "empty command");
        *ret = cmd;
        return 0;
}

/*
 * pipeline: declarations? command ('|' command)*.  Declared variables come into scope after the
 * pipeline, so `{{$x := $x}}` reads an outer $x as Go does at run time; an assignment takes the slot
 * of the variable in scope (or none: Go reports that when it runs).
 */
static int parse_pipeline(Parser *p, const char *context, ItemType end, Node **ret)
{
        Item t = p_peek_non_space(p), v;
        Node *pipe = new_node(p, N_PIPE, t.pos);
        int r;

decls:
        v = p_peek_non_space(p);
        if (v.type == ITEM_VARIABLE) {
                Item after, next;
                p_next(p);
                after = p_peek(p);
                next = p_peek_non_space(p);
                if (next.type == ITEM_ASSIGN || next.type == ITEM_DECLARE) {
                        pipe->is_assign = next.type == ITEM_ASSIGN;
                        p_next_non_space(p);
                        pipe->decl_name[pipe->n_decls++] = (Name){ p->t->src + v.pos, v.len };
                } else if (next.type == ITEM_CHAR && p->t->src[next.pos] == ',') {
                        p_next_non_space(p);
                        pipe->decl_name[pipe->n_decls++] = (Name){ p->t->src + v.pos, v.len };
                        if (strcmp(context, "range") == 0 && pipe->n_decls < 2) {
                                switch (p_peek_non_space(p).type) {
                                case ITEM_VARIABLE:
                                case ITEM_RIGHT_DELIM:
                                case ITEM_RIGHT_PAREN:
                                        goto decls; /* the second variable of a range */
                                default:
                                        return p_errorf(p, "range can only initialize variables");
                                }
                        }
                        return p_errorf(p, "too many declarations in %s", context);
                } else if (after.type == ITEM_SPACE)
                        p_backup3(p, v, after);
                else
                        p_backup2(p, v);
        }
        for (;;) {
                Node *cmd = NULL;
                t = p_next_non_space(p);
                if (t.type == end)
                        break;
                switch (t.type) {
                case ITEM_BOOL:
                case ITEM_CHAR_CONSTANT:
                case ITEM_COMPLEX:
                case ITEM_DOT:
                case ITEM_FIELD:
                case ITEM_IDENTIFIER:
                case ITEM_NUMBER:
                case ITEM_NIL:
                case ITEM_RAW_STRING:
                case ITEM_STRING:
                case ITEM_VARIABLE:
                case ITEM_LEFT_PAREN:
                        p_backup(p);
                        r = parse_command(p, &cmd);
                        if (r < 0)
                                return r;
                        node_append(pipe, cmd);
                        break;
                default:
                        return p_unexpected(p, &t, context);
                }
        }
        if (pipe->count == 0)
                return p_errorf(p, "missing value for %s", context);
        /* only the first command of a pipeline can be a value rather than something executable */
        {
                int stage = 2;
                for (const Node *c = pipe->first->next; c; c = c->next, stage++)
                        switch (c->first->kind) {
                        case N_BOOL:
                        case N_DOT:
                        case N_NIL:
                        case N_NUMBER:
                        case N_STRING:
                                return p_errorf(p, "non executable command in pipeline stage %d", stage);
                        default:
                                break;
                        }
        }
        for (int i = 0; i < pipe->n_decls; i++) {
                const Name *nm = &pipe->decl_name[i];
                if (pipe->is_assign) {
                        int id = scope_lookup(p, nm->s, nm->len);
                        pipe->decl[i] = id < 0 ? -1 : id;
                } else
                        pipe->decl[i] = p->t->n_slots++;
                scope_push(p, nm->s, nm->len, pipe->decl[i]);
        }
        *ret = pipe;
        return 0;
}

static int parse_if_with(Parser *p, NodeKind kind, Node **ret)
{
        const char *context = kind == N_IF ? "if" : "with";
        size_t mark = p->n_vars;
        Node *node = new_node(p, kind, 0);
        int r;

        if (++p->nesting > NESTING_MAX)
                return nesting_error(p);
        /* {{else if}} (and {{else with}}) chains are one node, so they cost no depth */
        for (;;) {
                Node *pipe = NULL, *list = NULL, *next = NULL, *br;
                r = parse_pipeline(p, context, ITEM_RIGHT_DELIM, &pipe);
                if (r < 0)
                        return r;
                r = parse_item_list(p, &list, &next);
                if (r < 0)
                        return r;
                br = new_node(p, N_BRANCH, pipe->pos);
                br->pipe = pipe;
                br->list = list;
                if (!node->first)
                        node->pos = pipe->pos;
                node_append(node, br);
                if (next->kind == N_END)
                        break;
                if (p_peek(p).type == (kind == N_IF ? ITEM_IF : ITEM_WITH)) {
                        p_next(p);
                        continue;
                }
                r = parse_item_list(p, &node->else_list, &next);
                if (r < 0)
                        return r;
                if (next->kind != N_END)
                        return p_errorf(p, "expected end; found {{else}}");
                break;
        }
        scope_pop(p, mark);
        p->nesting--;
        *ret = node;
        return 0;
}

static int parse_range(Parser *p, Node **ret)
{
        size_t mark = p->n_vars;
        Node *node, *pipe = NULL, *next = NULL;
        int r;

        if (++p->nesting > NESTING_MAX)
                return nesting_error(p);
        r = parse_pipeline(p, "range", ITEM_RIGHT_DELIM, &pipe);
        if (r < 0)
                return r;
        node = new_node(p, N_RANGE, pipe->pos);
        node->pipe = pipe;
        p->range_depth++;
        r = parse_item_list(p, &node->list, &next);
        if (r < 0)
                return r;
        p->range_depth--;
        if (next->kind == N_ELSE) {
                r = parse_item_list(p, &node->else_list, &next);
                if (r < 0)
                        return r;
                if (next->kind != N_END)
                        return p_errorf(p, "expected end; found {{else}}");
        }
        scope_pop(p, mark);
        p->nesting--;
        *ret = node;
        return 0;
}

static int parse_action(Parser *p, Node **ret)
{
        Item t = p_next_non_space(p), t2;
        Node *pipe = NULL, *n;
        int r;

        switch (t.type) {
        case ITEM_BLOCK:
        case ITEM_DEFINE:
        case ITEM_TEMPLATE:
                return p_errorf(p, "{{%.*s}} is not supported", (int)t.len, p->t->src + t.pos);
        case ITEM_BREAK:
        case ITEM_CONTINUE: {
                bool brk = t.type == ITEM_BREAK;
                t2 = p_next_non_space(p);
                if (t2.type != ITEM_RIGHT_DELIM)
                        return p_unexpected(p, &t2, brk ? "{{break}}" : "{{continue}}");
                if (p->range_depth == 0)
                        return p_errorf(p, "{{%s}} outside {{range}}", brk ? "break" : "continue");
                *ret = new_node(p, brk ? N_BREAK : N_CONTINUE, t.pos);
                return 0;
        }
        case ITEM_ELSE:
                /* "{{else if" is "{{else}}{{if": the if stays for the caller */
                t2 = p_peek_non_space(p);
                if (t2.type == ITEM_IF || t2.type == ITEM_WITH) {
                        *ret = new_node(p, N_ELSE, t2.pos);
                        return 0;
                }
                t2 = p_expect(p, ITEM_RIGHT_DELIM, "else", &r);
                if (r < 0)
                        return r;
                *ret = new_node(p, N_ELSE, t2.pos);
                return 0;
        case ITEM_END:
                t2 = p_expect(p, ITEM_RIGHT_DELIM, "end", &r);
                if (r < 0)
                        return r;
                *ret = new_node(p, N_END, t2.pos);
                return 0;
        case ITEM_IF:
                return parse_if_with(p, N_IF, ret);
        case ITEM_WITH:
                return parse_if_with(p, N_WITH, ret);
        case ITEM_RANGE:
                return parse_range(p, ret);
        default:
                break;
        }
        p_backup(p);
        t2 = p_peek(p);
        r = parse_pipeline(p, "command", ITEM_RIGHT_DELIM, &pipe);
        if (r < 0)
                return r;
        n = new_node(p, N_ACTION, t2.pos);
        n->pipe = pipe;
        *ret = n;
        return 0;
}

static int parse_text_or_action(Parser *p, Node **ret)
{
        Item t = p_next_non_space(p);
        Node *n;
        int r;

        switch (t.type) {
        case ITEM_TEXT:
                n = new_node(p, N_TEXT, t.pos);
                n->text = p->t->src + t.pos;
                n->len = t.len;
                *ret = n;
                return 0;
        case ITEM_LEFT_DELIM:
                p->action_line = t.line;
                r = parse_action(p, ret);
                p->action_line = 0;
                return r;
        default:
                return p_unexpected(p, &t, "input");
        }
}

/* itemList: textOrAction* up to {{end}} or {{else}}, returned in *ret_next. */
static int parse_item_list(Parser *p, Node **ret_list, Node **ret_next)
{
        Node *list = new_node(p, N_LIST, p_peek_non_space(p).pos);
        int r;

        while (p_peek_non_space(p).type != ITEM_EOF) {
                Node *n = NULL;
                r = parse_text_or_action(p, &n);
                if (r < 0)
                        return r;
                if (n->kind == N_END || n->kind == N_ELSE) {
                        *ret_list = list;
                        *ret_next = n;
                        return 0;
                }
                node_append(list, n);
        }
        return p_errorf(p, "unexpected EOF");
}

static int parse_template(Parser *p)
{
        Node *root = new_node(p, N_LIST, p_peek(p).pos);
        int r;

        p->t->root = root;
        while (p_peek(p).type != ITEM_EOF) {
                Node *n = NULL;
                if (p_peek(p).type == ITEM_LEFT_DELIM) {
                        Item delim = p_next(p);
                        if (p_next_non_space(p).type == ITEM_DEFINE)
                                return p_errorf(p, "{{define}} is not supported");
                        p_backup2(p, delim);
                }
                r = parse_text_or_action(p, &n);
                if (r < 0)
                        return r;
                if (n->kind == N_END || n->kind == N_ELSE)
                        return p_errorf(p, "unexpected %s", n->kind == N_END ? "{{end}}" : "{{else}}");
                node_append(root, n);
        }
        return 0;
}

void tmpl_free(Template *t)
{
        if (!t)
                return;
        while (t->arena) {
                ArenaChunk *c = t->arena;
                t->arena = c->next;
                free(c);
        }
        json_decref(t->consts);
        free(t->src);
        free(t);
}

int tmpl_parse(const char *src, Template **ret, Error **err)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        Parser p = { 0 };
        size_t len = strlen(src), nb = 64;
        int r;

        if (len > TEMPLATE_MAX)
                return error_setx(err, E2BIG, "template: the template is longer than %zu bytes",
                                  TEMPLATE_MAX);
        t = xcalloc(1, sizeof(Template));
        t->src = xstrndup(src, len);
        t->len = len;
        t->consts = xjson(json_array());
        t->n_slots = 1; /* $ */
        while (nb < len / 8 && nb < ((size_t)1 << 20))
                nb *= 2;
        p = (Parser){ .t = t, .err = err, .mask = nb - 1 };
        p.lex = (Lexer){ .in = t->src, .len = len, .line = 1, .start_line = 1, .state = LEX_TEXT };
        p.buckets = xcalloc(nb, sizeof(size_t));
        scope_push(&p, "$", 1, 0);
        r = parse_template(&p);
        free(p.vars);
        free(p.buckets);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- Execution: Go's text/template/exec.go ---- */

typedef struct Slot {
        json_t *v; /* NULL is "no value" */
        bool set;
} Slot;

typedef struct State {
        const Template *t;
        Buf out;
        Slot *slots;
        int *stack; /* the slots set, in order, so that leaving a scope unsets its variables */
        size_t n_stack;
        uint64_t work;
        Error **err;
} State;

#define WALK_BREAK    1
#define WALK_CONTINUE 2

static int exec_errorf(State *s, const Node *at, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int exec_errorf(State *s, const Node *at, int errnum, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        Buf ctx = { 0 };
        size_t line = 1, col, last = SIZE_MAX;
        va_list ap;
        int r;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < at->pos && i < s->t->len; i++)
                if (s->t->src[i] == '\n') {
                        line++;
                        last = i;
                }
        col = last == SIZE_MAX ? at->pos : at->pos - last - 1;
        node_string(&ctx, at);
        if (ctx.len > CONTEXT_MAX) {
                size_t cut = CONTEXT_MAX;
                while (cut > 0 && ((unsigned char)ctx.s[cut] & 0xC0) == 0x80)
                        cut--;
                ctx.len = cut;
                buf_puts(&ctx, "...");
        }
        r = error_setx(s->err, errnum, "template: :%zu:%zu: executing \"\" at <%.*s>: %s", line, col,
                       (int)ctx.len, ctx.s ? ctx.s : "", msg);
        buf_done(&ctx);
        return r;
}

/* Counts work; nested ranges multiply, so every step and every byte built is paid for. */
static int charge(State *s, const Node *at, uint64_t units)
{
        s->work += units;
        if (s->work > WORK_MAX)
                return exec_errorf(s, at, E2BIG, "template execution exceeds its work limit");
        return 0;
}

/* Data too deep to print; fname names the function that tried, if one did. */
static int deep_error(State *s, const Node *at, const char *fname)
{
        if (fname)
                return exec_errorf(s, at, EINVAL, "error calling %s: value nested deeper than %d levels",
                                   fname, DEPTH_MAX);
        return exec_errorf(s, at, EINVAL, "value nested deeper than %d levels", DEPTH_MAX);
}

static void var_set(State *s, int id, json_t *v)
{
        Slot *slot = &s->slots[id];

        if (!slot->set) {
                s->stack[s->n_stack++] = id;
                slot->set = true;
        } else
                json_decref(slot->v);
        slot->v = json_incref(v);
}

static void vars_pop(State *s, size_t mark)
{
        while (s->n_stack > mark) {
                Slot *slot = &s->slots[s->stack[--s->n_stack]];
                json_decref(slot->v);
                *slot = (Slot){ 0 };
        }
}

static int eval_pipe(State *s, json_t *dot, const Node *pipe, json_t **ret);
static int eval_arg(State *s, json_t *dot, const Node *n, json_t **ret);
static int walk_list(State *s, json_t *dot, const Node *list);

/* A field chain .A.B over recv: "no value" stays no value, a field of anything but an object fails. */
static int field_chain(State *s, const Node *at, json_t *recv, const Name *names, size_t n, bool has_args,
                       json_t **ret)
{
        json_t *cur = json_incref(recv);

        for (size_t i = 0; i < n; i++) {
                const Name *nm = &names[i];
                int len = (int)(nm->len > QUOTE_MAX ? QUOTE_MAX : nm->len);
                json_t *next;
                if (!cur)
                        continue;
                if (json_is_object(cur)) {
                        if (i == n - 1 && has_args) {
                                json_decref(cur);
                                return exec_errorf(s, at, EINVAL, "%.*s is not a method but has arguments",
                                                   len, nm->s);
                        }
                        next = json_incref(json_object_getn(cur, nm->s, nm->len));
                } else if (json_is_null(cur)) {
                        json_decref(cur);
                        return exec_errorf(s, at, EINVAL, "nil pointer evaluating interface {}.%.*s", len,
                                           nm->s);
                } else {
                        const char *type = type_name(cur);
                        json_decref(cur);
                        return exec_errorf(s, at, EINVAL, "can't evaluate field %.*s in type %s", len, nm->s,
                                           type);
                }
                json_decref(cur);
                cur = next;
        }
        *ret = cur;
        return 0;
}

static int var_get(State *s, const Node *n, json_t **ret)
{
        if (n->id < 0 || !s->slots[n->id].set)
                return exec_errorf(s, n, EINVAL, "undefined variable: %.*s",
                                   (int)(n->len > QUOTE_MAX ? QUOTE_MAX : n->len), n->text);
        *ret = s->slots[n->id].v;
        return 0;
}

static int not_a_function(State *s, const Node *n)
{
        Buf b = { 0 };
        int r;

        node_string(&b, n);
        r = exec_errorf(s, n, EINVAL, "can't give argument to non-function %.*s",
                        (int)(b.len > CONTEXT_MAX ? CONTEXT_MAX : b.len), b.s ? b.s : "");
        buf_done(&b);
        return r;
}

static int eval_constant(State *s, json_t *dot, const Node *n, json_t **ret)
{
        switch (n->kind) {
        case N_DOT:
                *ret = json_incref(dot);
                return 0;
        case N_NUMBER:
                if (n->overflow)
                        return exec_errorf(s, n, EINVAL, "%.*s overflows int",
                                           (int)(n->len > QUOTE_MAX ? QUOTE_MAX : n->len), n->text);
                *ret = json_incref(n->value);
                return 0;
        case N_NIL:
        case N_BOOL:
        case N_STRING:
                *ret = json_incref(n->value);
                return 0;
        default:
                return exec_errorf(s, n, EINVAL, "can't evaluate command");
        }
}

static int arg_string(State *s, const Node *at, json_t *v, const char **p, size_t *n)
{
        if (is_string_arg(v)) {
                *p = json_string_value(v);
                *n = json_string_length(v);
                return 0;
        }
        if (!v || json_is_null(v))
                return exec_errorf(s, at, EINVAL, "invalid value; expected string");
        return exec_errorf(s, at, EINVAL, "wrong type for value; expected string; got %s", type_name(v));
}

/* An int argument; a float with an integral value is taken too, as Go takes the constant 3.0. */
static int arg_int(State *s, const Node *at, json_t *v, int64_t *ret)
{
        if (v && json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        if (v && json_is_real(v)) {
                double d = json_real_value(v);
                if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d) {
                        *ret = (int64_t)d;
                        return 0;
                }
        }
        if (!v || json_is_null(v))
                return exec_errorf(s, at, EINVAL, "invalid value; expected int");
        return exec_errorf(s, at, EINVAL, "wrong type for value; expected int; got %s", type_name(v));
}

/* Makes a string value of what b holds, charging for it; b is released. */
static int string_result(State *s, const Node *at, const char *fname, Buf *b, json_t **ret)
{
        int r;

        if (b->overflow) {
                buf_done(b);
                return exec_errorf(s, at, E2BIG, "error calling %s: result exceeds %zu bytes", fname,
                                   OUTPUT_MAX);
        }
        r = charge(s, at, 1 + b->len / WORK_BYTES);
        if (r == 0)
                *ret = xjson(json_stringn_nocheck(b->s ? b->s : "", b->len));
        buf_done(b);
        return r;
}

typedef enum CmpKind { K_NIL, K_BOOL, K_INT, K_UINT, K_FLOAT, K_STRING, K_OTHER } CmpKind;

typedef struct CmpVal {
        CmpKind kind;
        int64_t i;
        uint64_t u;
        double f;
        const char *s;
        size_t n;
} CmpVal;

static CmpVal cmp_val(const json_t *v)
{
        CmpVal c = { .kind = K_OTHER };

        if (!v || json_is_null(v))
                c.kind = K_NIL;
        else if (json_is_boolean(v)) {
                c.kind = K_BOOL;
                c.i = json_is_true(v);
        } else if (json_is_integer(v)) {
                c.kind = K_INT;
                c.i = json_integer_value(v);
        } else if (json_is_real(v)) {
                c.kind = K_FLOAT;
                c.f = json_real_value(v);
        } else if (big_uint(v, &c.u))
                c.kind = K_UINT;
        else if (json_is_string(v)) {
                c.kind = K_STRING;
                c.s = json_string_value(v);
                c.n = json_string_length(v);
        }
        return c;
}

static bool is_number(CmpKind k)
{
        return k == K_INT || k == K_UINT || k == K_FLOAT;
}

static double as_double(const CmpVal *c)
{
        return c->kind == K_FLOAT ? c->f : c->kind == K_INT ? (double)c->i : (double)c->u;
}

/* Compares two numbers of any kind exactly where they are integers; -1, 0 or 1. */
static int num_cmp(const CmpVal *a, const CmpVal *b)
{
        if (a->kind == K_FLOAT || b->kind == K_FLOAT) {
                double x = as_double(a), y = as_double(b);
                return x < y ? -1 : x > y;
        }
        if (a->kind == K_INT && b->kind == K_INT)
                return a->i < b->i ? -1 : a->i > b->i;
        if (a->kind == K_UINT && b->kind == K_UINT)
                return a->u < b->u ? -1 : a->u > b->u;
        if (a->kind == K_INT)
                return a->i < 0 ? -1 : ((uint64_t)a->i < b->u ? -1 : (uint64_t)a->i > b->u);
        return b->i < 0 ? 1 : (a->u < (uint64_t)b->i ? -1 : a->u > (uint64_t)b->i);
}

static int str_cmp(const CmpVal *a, const CmpVal *b)
{
        int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
        if (c != 0)
                return c < 0 ? -1 : 1;
        return a->n < b->n ? -1 : a->n > b->n;
}

/* Go's eq for one pair: nil equals only nil, numbers compare by value, other mixes are errors. */
static int go_eq(State *s, const Node *at, const char *fname, json_t *a, json_t *b, bool *ret)
{
        CmpVal x = cmp_val(a), y = cmp_val(b);

        *ret = false;
        if (is_number(x.kind) && is_number(y.kind)) {
                *ret = num_cmp(&x, &y) == 0;
                return 0;
        }
        if (x.kind != y.kind) {
                if (x.kind == K_NIL || y.kind == K_NIL)
                        return 0;
                return exec_errorf(s, at, EINVAL, "error calling %s: incompatible types for comparison",
                                   fname);
        }
        switch (x.kind) {
        case K_NIL:
                *ret = true;
                return 0;
        case K_BOOL:
                *ret = x.i == y.i;
                return 0;
        case K_STRING:
                *ret = str_cmp(&x, &y) == 0;
                return 0;
        default:
                return exec_errorf(s, at, EINVAL, "error calling %s: non-comparable type %s", fname,
                                   type_name(a));
        }
}

/* Go's lt: numbers and strings only. */
static int go_lt(State *s, const Node *at, const char *fname, json_t *a, json_t *b, bool *ret)
{
        CmpVal x = cmp_val(a), y = cmp_val(b);

        *ret = false;
        if (x.kind == K_NIL || x.kind == K_OTHER || y.kind == K_NIL || y.kind == K_OTHER)
                return exec_errorf(s, at, EINVAL, "error calling %s: invalid type for comparison", fname);
        if (is_number(x.kind) && is_number(y.kind)) {
                *ret = num_cmp(&x, &y) < 0;
                return 0;
        }
        if (x.kind != y.kind)
                return exec_errorf(s, at, EINVAL, "error calling %s: incompatible types for comparison",
                                   fname);
        if (x.kind == K_BOOL)
                return exec_errorf(s, at, EINVAL, "error calling %s: invalid type for comparison", fname);
        *ret = str_cmp(&x, &y) < 0;
        return 0;
}

/* Go's index: arrays and strings by int, objects by string key; a missing key is no value. */
static int fn_index(State *s, const Node *at, json_t **argv, size_t argc, json_t **ret)
{
        json_t *item = json_incref(argv[0]), *next;
        int r;

        if (!item || json_is_null(item)) {
                json_decref(item);
                return exec_errorf(s, at, EINVAL, "error calling index: index of untyped nil");
        }
        for (size_t k = 1; k < argc; k++) {
                json_t *idx = argv[k];
                if (!item || json_is_null(item)) {
                        r = exec_errorf(s, at, EINVAL, "error calling index: index of nil pointer");
                        goto fail;
                }
                if (json_is_array(item) || is_string_arg(item)) {
                        size_t len = json_is_array(item) ? json_array_size(item) : json_string_length(item);
                        json_int_t x;
                        if (!idx || json_is_null(idx)) {
                                r = exec_errorf(s, at, EINVAL,
                                                "error calling index: cannot index slice/array with nil");
                                goto fail;
                        }
                        if (!json_is_integer(idx)) {
                                r = exec_errorf(s, at, EINVAL,
                                                "error calling index: cannot index slice/array with type %s",
                                                type_name(idx));
                                goto fail;
                        }
                        x = json_integer_value(idx);
                        if (x < 0 || (uint64_t)x >= len) {
                                r = exec_errorf(
                                        s, at, EINVAL,
                                        "error calling index: index out of range: %" JSON_INTEGER_FORMAT, x);
                                goto fail;
                        }
                        if (json_is_array(item))
                                next = json_incref(json_array_get(item, (size_t)x));
                        else /* a string's byte, as Go indexes strings */
                                next = xjson(json_integer((unsigned char)json_string_value(item)[x]));
                } else if (json_is_object(item)) {
                        if (!idx || json_is_null(idx)) {
                                r = exec_errorf(
                                        s, at, EINVAL,
                                        "error calling index: value is nil; should be of type string");
                                goto fail;
                        }
                        if (!is_string_arg(idx)) {
                                r = exec_errorf(s, at, EINVAL,
                                                "error calling index: value has type %s; should be string",
                                                type_name(idx));
                                goto fail;
                        }
                        next = json_incref(
                                json_object_getn(item, json_string_value(idx), json_string_length(idx)));
                } else {
                        r = exec_errorf(s, at, EINVAL, "error calling index: can't index item of type %s",
                                        type_name(item));
                        goto fail;
                }
                json_decref(item);
                item = next;
        }
        *ret = item;
        return 0;
fail:
        json_decref(item);
        return r;
}

/* Go's slice: item[i:j] (and item[i:j:k] for arrays) of a string or an array. */
static int fn_slice(State *s, const Node *at, json_t **argv, size_t argc, json_t **ret)
{
        json_t *item = argv[0];
        size_t len, idx[3];
        int r;

        if (!item || json_is_null(item))
                return exec_errorf(s, at, EINVAL, "error calling slice: slice of untyped nil");
        if (argc - 1 > 3)
                return exec_errorf(s, at, EINVAL, "error calling slice: too many slice indexes: %zu",
                                   argc - 1);
        if (is_string_arg(item)) {
                if (argc - 1 == 3)
                        return exec_errorf(s, at, EINVAL,
                                           "error calling slice: cannot 3-index slice a string");
                len = json_string_length(item);
        } else if (json_is_array(item))
                len = json_array_size(item);
        else
                return exec_errorf(s, at, EINVAL, "error calling slice: can't slice item of type %s",
                                   type_name(item));
        idx[0] = 0;
        idx[1] = idx[2] = len;
        for (size_t k = 1; k < argc; k++) {
                json_t *v = argv[k];
                json_int_t x;
                if (!v || json_is_null(v))
                        return exec_errorf(s, at, EINVAL,
                                           "error calling slice: cannot index slice/array with nil");
                if (!json_is_integer(v))
                        return exec_errorf(s, at, EINVAL,
                                           "error calling slice: cannot index slice/array with type %s",
                                           type_name(v));
                x = json_integer_value(v);
                if (x < 0 || (uint64_t)x > len)
                        return exec_errorf(s, at, EINVAL,
                                           "error calling slice: index out of range: %" JSON_INTEGER_FORMAT,
                                           x);
                idx[k - 1] = (size_t)x;
        }
        if (idx[0] > idx[1])
                return exec_errorf(s, at, EINVAL, "error calling slice: invalid slice index: %zu > %zu",
                                   idx[0], idx[1]);
        if (argc - 1 == 3 && idx[1] > idx[2])
                return exec_errorf(s, at, EINVAL, "error calling slice: invalid slice index: %zu > %zu",
                                   idx[1], idx[2]);
        if (is_string_arg(item)) {
                r = charge(s, at, 1 + (idx[1] - idx[0]) / WORK_BYTES);
                if (r < 0)
                        return r;
                *ret = xjson(json_stringn_nocheck(json_string_value(item) + idx[0], idx[1] - idx[0]));
                return 0;
        }
        r = charge(s, at, 1 + (uint64_t)(idx[1] - idx[0]) * WORK_ELEMENT);
        if (r < 0)
                return r;
        *ret = xjson(json_array());
        for (size_t i = idx[0]; i < idx[1]; i++)
                json_array_append(*ret, json_array_get(item, i));
        return 0;
}

/* strings.Split: n-1 separators give n parts; an empty separator splits after each UTF-8 sequence. */
static int fn_split(State *s, const Node *at, const char *str, size_t n, const char *sep, size_t m,
                    json_t **ret)
{
        size_t parts = 0, i;
        json_t *a;
        int r;

        /* count first: the array is paid for before it is built */
        if (m == 0) {
                uint32_t c;
                for (i = 0; i < n; parts++)
                        i += utf8_decode(str + i, n - i, &c);
        } else {
                const char *p = str, *end = str + n, *x;
                parts = 1;
                while ((x = memmem(p, (size_t)(end - p), sep, m))) {
                        parts++;
                        p = x + m;
                }
        }
        r = charge(s, at, 1 + (uint64_t)parts * WORK_ELEMENT + n / WORK_BYTES);
        if (r < 0)
                return r;
        a = xjson(json_array());
        if (m == 0) {
                uint32_t c;
                for (i = 0; i < n;) {
                        size_t w = utf8_decode(str + i, n - i, &c);
                        json_array_append_new(a, xjson(json_stringn_nocheck(str + i, w)));
                        i += w;
                }
        } else {
                const char *p = str, *end = str + n, *x;
                while ((x = memmem(p, (size_t)(end - p), sep, m))) {
                        json_array_append_new(a, xjson(json_stringn_nocheck(p, (size_t)(x - p))));
                        p = x + m;
                }
                json_array_append_new(a, xjson(json_stringn_nocheck(p, (size_t)(end - p))));
        }
        *ret = a;
        return 0;
}

/* strings.Join over an array of strings; no value and nil are Go's nil slice. */
static int fn_join(State *s, const Node *at, json_t *list, const char *sep, size_t m, json_t **ret)
{
        Buf b = { 0 };
        size_t i;
        json_t *e;

        if (list && !json_is_null(list)) {
                if (!json_is_array(list))
                        return exec_errorf(s, at, EINVAL, "wrong type for value; expected []string; got %s",
                                           type_name(list));
                json_array_foreach (list, i, e)
                        if (!is_string_arg(e))
                                return exec_errorf(
                                        s, at, EINVAL,
                                        "wrong type for value; expected []string; got []interface {}");
                json_array_foreach (list, i, e) {
                        if (b.overflow)
                                break;
                        if (i > 0)
                                buf_add(&b, sep, m);
                        buf_add(&b, json_string_value(e), json_string_length(e));
                }
        }
        return string_result(s, at, "join", &b, ret);
}

/* strings.ToUpper, ToLower and Title; invalid UTF-8 becomes U+FFFD as Go's strings.Map makes it. */
static int fn_case(State *s, const Node *at, int fn, const char *str, size_t n, json_t **ret)
{
        Buf b = { 0 };
        bool sep_before = true; /* Title: the previous rune separated words */

        for (size_t i = 0; i < n && !b.overflow;) {
                uint32_t r, m;
                size_t w = utf8_decode(str + i, n - i, &r);
                if (fn == F_UPPER)
                        m = rune_upper(r);
                else if (fn == F_LOWER)
                        m = rune_lower(r);
                else {
                        /* strings.Title's isSeparator: ASCII other than letters, digits and '_', and spaces
                         */
                        m = sep_before ? rune_upper(r) : r;
                        if (r < 0x80)
                                sep_before = !(r == '_' || (r >= '0' && r <= '9') ||
                                               (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'));
                        else
                                sep_before = rune_is_space(r);
                }
                if (w == 1 && r == RUNE_ERROR)
                        buf_rune(&b, RUNE_ERROR);
                else if (m == r)
                        buf_add(&b, str + i, w);
                else
                        buf_rune(&b, m);
                i += w;
        }
        return string_result(s, at, builtins[fn].name, &b, ret);
}

static int call_builtin(State *s, const Node *at, int fn, json_t **argv, size_t argc, json_t **ret)
{
        const char *name = builtins[fn].name, *str, *sep;
        size_t n, m;
        Buf b = { 0 };
        int64_t x, y;
        bool t;
        int r;

        switch (fn) {
        case F_NOT:
                *ret = truth(argv[0]) ? json_false() : json_true();
                return 0;
        case F_LEN: {
                json_t *v = argv[0];
                json_int_t len;
                if (!v || json_is_null(v))
                        return exec_errorf(s, at, EINVAL, "error calling len: len of nil pointer");
                if (json_is_array(v))
                        len = (json_int_t)json_array_size(v);
                else if (json_is_object(v))
                        len = (json_int_t)json_object_size(v);
                else if (is_string_arg(v))
                        len = (json_int_t)json_string_length(v);
                else
                        return exec_errorf(s, at, EINVAL, "error calling len: len of type %s", type_name(v));
                *ret = xjson(json_integer(len));
                return 0;
        }
        case F_INDEX:
                return fn_index(s, at, argv, argc, ret);
        case F_SLICE:
                return fn_slice(s, at, argv, argc, ret);
        case F_PRINT:
        case F_PRINTLN:
                if (go_sprint(&b, argv, argc, fn == F_PRINTLN) < 0) {
                        buf_done(&b);
                        return deep_error(s, at, name);
                }
                return string_result(s, at, name, &b, ret);
        case F_PRINTF:
                r = arg_string(s, at, argv[0], &str, &n);
                if (r < 0)
                        return r;
                if (go_sprintf(&b, str, n, argv + 1, argc - 1) < 0) {
                        buf_done(&b);
                        return deep_error(s, at, name);
                }
                return string_result(s, at, name, &b, ret);
        case F_EQ:
                if (argc < 2)
                        return exec_errorf(s, at, EINVAL,
                                           "error calling eq: missing argument for comparison");
                for (size_t i = 1; i < argc; i++) {
                        r = go_eq(s, at, name, argv[0], argv[i], &t);
                        if (r < 0)
                                return r;
                        if (t)
                                break;
                }
                *ret = t ? json_true() : json_false();
                return 0;
        case F_NE:
                r = go_eq(s, at, name, argv[0], argv[1], &t);
                t = !t;
                break;
        case F_LT:
                r = go_lt(s, at, name, argv[0], argv[1], &t);
                break;
        case F_LE:
                r = go_lt(s, at, name, argv[0], argv[1], &t);
                if (r == 0 && !t)
                        r = go_eq(s, at, name, argv[0], argv[1], &t);
                break;
        case F_GT:
                r = go_lt(s, at, name, argv[0], argv[1], &t);
                if (r == 0 && !t)
                        r = go_eq(s, at, name, argv[0], argv[1], &t);
                t = !t;
                break;
        case F_GE:
                r = go_lt(s, at, name, argv[0], argv[1], &t);
                t = !t;
                break;
        case F_JSON:
                if (json_go(&b, argv[0], 0) < 0) {
                        buf_done(&b);
                        return deep_error(s, at, name);
                }
                return string_result(s, at, name, &b, ret);
        case F_SPLIT:
                r = arg_string(s, at, argv[0], &str, &n);
                if (r == 0)
                        r = arg_string(s, at, argv[1], &sep, &m);
                if (r < 0)
                        return r;
                return fn_split(s, at, str, n, sep, m, ret);
        case F_JOIN:
                r = arg_string(s, at, argv[1], &sep, &m);
                if (r < 0)
                        return r;
                return fn_join(s, at, argv[0], sep, m, ret);
        case F_TITLE:
        case F_LOWER:
        case F_UPPER:
                r = arg_string(s, at, argv[0], &str, &n);
                if (r < 0)
                        return r;
                return fn_case(s, at, fn, str, n, ret);
        case F_PAD:
                /* Docker's padWithSpace: prefix spaces, the string, suffix spaces; "" stays "" */
                r = arg_string(s, at, argv[0], &str, &n);
                if (r == 0)
                        r = arg_int(s, at, argv[1], &x);
                if (r == 0)
                        r = arg_int(s, at, argv[2], &y);
                if (r < 0)
                        return r;
                if (n > 0) {
                        if (x < 0 || y < 0)
                                return exec_errorf(s, at, EINVAL,
                                                   "error calling pad: strings: negative Repeat count");
                        if ((uint64_t)x > OUTPUT_MAX || (uint64_t)y > OUTPUT_MAX) {
                                b.overflow = true;
                                return string_result(s, at, name, &b, ret);
                        }
                        buf_fill(&b, ' ', (size_t)x);
                        buf_add(&b, str, n);
                        buf_fill(&b, ' ', (size_t)y);
                }
                return string_result(s, at, name, &b, ret);
        case F_TRUNCATE:
                /* Docker's truncateWithLength: the first n bytes */
                r = arg_string(s, at, argv[0], &str, &n);
                if (r == 0)
                        r = arg_int(s, at, argv[1], &x);
                if (r < 0)
                        return r;
                if (x < 0)
                        return exec_errorf(s, at, EINVAL, "error calling truncate: %s [:%" PRId64 "]",
                                           "runtime error: slice bounds out of range", x);
                if ((uint64_t)x < n)
                        n = (size_t)x;
                buf_add(&b, str, n);
                return string_result(s, at, name, &b, ret);
        default:
                return exec_errorf(s, at, EINVAL, "function %s: no implementation behind its table entry (internal error)", name);
        }
        if (r < 0)
                return r;
        *ret = t ? json_true() : json_false();
        return 0;
}

/*
 * Calls a function with the operands in args (n_args of them, linked by next) and the value piped in,
 * if any, last.  and/or evaluate their operands only as far as needed and return the deciding one.
 */
static int call_function(State *s, json_t *dot, const Node *ident, const Node *at, const Node *args,
                         size_t n_args, bool has_final, json_t *final, json_t **ret)
{
        int fn = ident->id;
        size_t n_in = n_args + (has_final ? 1 : 0), i = 0;
        json_t **argv;
        int r = 0;

        if (builtins[fn].max < 0) {
                if (n_in < (size_t)builtins[fn].min)
                        return exec_errorf(s, at, EINVAL,
                                           "wrong number of args for %s: want at least %d got %zu",
                                           builtins[fn].name, builtins[fn].min, n_args);
        } else if (n_in != (size_t)builtins[fn].max)
                return exec_errorf(s, at, EINVAL, "wrong number of args for %s: want %d got %zu",
                                   builtins[fn].name, builtins[fn].max, n_in);
        r = charge(s, at, 1);
        if (r < 0)
                return r;
        if (fn == F_AND || fn == F_OR) {
                json_t *v = NULL;
                for (const Node *a = args; a && i < n_args; a = a->next, i++) {
                        json_decref(v);
                        v = NULL;
                        r = eval_arg(s, dot, a, &v);
                        if (r < 0)
                                return r;
                        if (truth(v) == (fn == F_OR)) {
                                *ret = v;
                                return 0;
                        }
                }
                if (has_final) {
                        json_decref(v);
                        v = json_incref(final);
                }
                *ret = v;
                return 0;
        }
        argv = xcalloc(n_in ? n_in : 1, sizeof(json_t *));
        for (const Node *a = args; a && i < n_args; a = a->next, i++) {
                r = eval_arg(s, dot, a, &argv[i]);
                if (r < 0)
                        goto out;
        }
        if (has_final)
                argv[i] = json_incref(final);
        r = call_builtin(s, at, fn, argv, n_in, ret);
out:
        for (size_t j = 0; j < n_in; j++)
                json_decref(argv[j]);
        free(argv);
        return r;
}

static int eval_chain(State *s, json_t *dot, const Node *n, bool has_args, json_t **ret)
{
        json_t *recv = NULL;
        int r;

        if (n->pipe->kind == N_NIL)
                return exec_errorf(s, n, EINVAL, "indirection through explicit nil");
        r = eval_arg(s, dot, n->pipe, &recv);
        if (r < 0)
                return r;
        r = field_chain(s, n, recv, n->names, n->n_names, has_args, ret);
        json_decref(recv);
        return r;
}

/* An operand as an argument: evaluated on its own. */
static int eval_arg(State *s, json_t *dot, const Node *n, json_t **ret)
{
        json_t *v;
        int r;

        *ret = NULL;
        switch (n->kind) {
        case N_FIELD:
                return field_chain(s, n, dot, n->names, n->n_names, false, ret);
        case N_VARIABLE:
                r = var_get(s, n, &v);
                if (r < 0)
                        return r;
                return field_chain(s, n, v, n->names, n->n_names, false, ret);
        case N_PIPE:
                return eval_pipe(s, dot, n, ret);
        case N_IDENT:
                return call_function(s, dot, n, n, NULL, 0, false, NULL, ret);
        case N_CHAIN:
                return eval_chain(s, dot, n, false, ret);
        default:
                return eval_constant(s, dot, n, ret);
        }
}

static int eval_command(State *s, json_t *dot, const Node *cmd, bool has_final, json_t *final, json_t **ret)
{
        const Node *first = cmd->first;
        bool has_args = cmd->count > 1 || has_final;
        json_t *v;
        int r;

        *ret = NULL;
        switch (first->kind) {
        case N_FIELD:
                return field_chain(s, first, dot, first->names, first->n_names, has_args, ret);
        case N_CHAIN:
                return eval_chain(s, dot, first, has_args, ret);
        case N_IDENT:
                return call_function(s, dot, first, cmd, first->next, cmd->count - 1, has_final, final, ret);
        case N_VARIABLE:
                r = var_get(s, first, &v);
                if (r < 0)
                        return r;
                if (first->n_names == 0) {
                        if (has_args)
                                return not_a_function(s, first);
                        *ret = json_incref(v);
                        return 0;
                }
                return field_chain(s, first, v, first->names, first->n_names, has_args, ret);
        case N_PIPE:
                if (has_args)
                        return not_a_function(s, first);
                return eval_pipe(s, dot, first, ret);
        case N_NIL:
                if (has_args)
                        return not_a_function(s, first);
                return exec_errorf(s, first, EINVAL, "nil is not a command");
        default:
                if (has_args)
                        return not_a_function(s, first);
                return eval_constant(s, dot, first, ret);
        }
}

/* A pipeline: each command's value is the last argument of the next; then the declarations. */
static int eval_pipe(State *s, json_t *dot, const Node *pipe, json_t **ret)
{
        json_t *val = NULL;
        bool has = false;
        int r;

        *ret = NULL;
        r = charge(s, pipe, 1);
        if (r < 0)
                return r;
        for (const Node *c = pipe->first; c; c = c->next) {
                json_t *nv = NULL;
                r = eval_command(s, dot, c, has, val, &nv);
                json_decref(val);
                if (r < 0)
                        return r;
                val = nv;
                has = true;
        }
        for (int i = 0; i < pipe->n_decls; i++) {
                int id = pipe->decl[i];
                if (pipe->is_assign && (id < 0 || !s->slots[id].set)) {
                        const Name *nm = &pipe->decl_name[i];
                        json_decref(val);
                        return exec_errorf(s, pipe, EINVAL, "undefined variable: %.*s",
                                           (int)(nm->len > QUOTE_MAX ? QUOTE_MAX : nm->len), nm->s);
                }
                var_set(s, id, val);
        }
        *ret = val;
        return 0;
}

static int out_check(State *s, const Node *at, size_t before)
{
        if (s->out.overflow)
                return exec_errorf(s, at, E2BIG, "output exceeds %zu bytes", OUTPUT_MAX);
        return charge(s, at, 1 + (s->out.len - before) / WORK_BYTES);
}

static int walk_if_with(State *s, json_t *dot, const Node *n)
{
        size_t mark = s->n_stack;
        int r = 0;
        bool taken = false;

        for (const Node *br = n->first; br && !taken; br = br->next) {
                json_t *v = NULL;
                r = eval_pipe(s, dot, br->pipe, &v);
                if (r < 0)
                        break;
                if (truth(v)) {
                        taken = true;
                        r = walk_list(s, n->kind == N_WITH ? v : dot, br->list);
                }
                json_decref(v);
        }
        if (!taken && r == 0 && n->else_list)
                r = walk_list(s, dot, n->else_list);
        vars_pop(s, mark);
        return r;
}

/* One iteration of a range: $i and $e (or $e alone) are set, then the body runs with the element. */
static int range_iteration(State *s, const Node *n, size_t mark, json_t *key, json_t *elem)
{
        const Node *pipe = n->pipe;
        int r;

        r = charge(s, n, 1);
        if (r < 0)
                return r;
        if (pipe->n_decls == 1)
                var_set(s, pipe->decl[0], elem);
        else if (pipe->n_decls == 2) {
                var_set(s, pipe->decl[0], key);
                var_set(s, pipe->decl[1], elem);
        }
        r = walk_list(s, elem, n->list);
        vars_pop(s, mark);
        return r;
}

static int walk_range(State *s, json_t *dot, const Node *n)
{
        size_t mark = s->n_stack, body_mark;
        json_t *v = NULL;
        bool empty = true;
        int r;

        r = eval_pipe(s, dot, n->pipe, &v);
        if (r < 0)
                goto out;
        body_mark = s->n_stack;
        if (json_is_array(v) && json_array_size(v) > 0) {
                empty = false;
                for (size_t i = 0; i < json_array_size(v); i++) {
                        json_t *key = n->pipe->n_decls == 2 ? xjson(json_integer((json_int_t)i)) : NULL;
                        r = range_iteration(s, n, body_mark, key, json_array_get(v, i));
                        json_decref(key);
                        if (r < 0 || r == WALK_BREAK)
                                break;
                }
        } else if (json_is_object(v) && json_object_size(v) > 0) {
                size_t count;
                _cleanup_free_ KeyVal *kv = sorted_entries(v, &count);
                empty = false;
                r = charge(s, n, count);
                for (size_t i = 0; r >= 0 && i < count; i++) {
                        json_t *key = n->pipe->n_decls == 2
                                              ? xjson(json_stringn_nocheck(kv[i].key, kv[i].len))
                                              : NULL;
                        r = range_iteration(s, n, body_mark, key, kv[i].value);
                        json_decref(key);
                        if (r < 0 || r == WALK_BREAK)
                                break;
                }
        } else if (v && !json_is_null(v) && !json_is_array(v) && !json_is_object(v)) {
                Buf b = { 0 };
                Fmt f = { 0 };
                fmt_value(&b, &f, 'v', v, 0);
                r = exec_errorf(s, n->pipe, EINVAL, "range can't iterate over %.*s",
                                (int)(b.len > CONTEXT_MAX ? CONTEXT_MAX : b.len), b.s ? b.s : "");
                buf_done(&b);
                goto out;
        }
        if (r > 0) /* break and continue end with the loop */
                r = 0;
        if (r == 0 && empty && n->else_list)
                r = walk_list(s, dot, n->else_list);
out:
        json_decref(v);
        vars_pop(s, mark);
        return r;
}

static int walk(State *s, json_t *dot, const Node *n)
{
        json_t *v = NULL;
        size_t before = s->out.len;
        int r;

        switch (n->kind) {
        case N_TEXT:
                buf_add(&s->out, n->text, n->len);
                return out_check(s, n, before);
        case N_ACTION:
                r = eval_pipe(s, dot, n->pipe, &v);
                if (r < 0)
                        return r;
                /* an action that declares a variable prints nothing */
                if (n->pipe->n_decls == 0) {
                        if (!v)
                                buf_puts(&s->out, "<no value>");
                        else {
                                Fmt f = { 0 };
                                if (fmt_value(&s->out, &f, 'v', v, 0) < 0)
                                        r = deep_error(s, n, NULL);
                        }
                        if (r == 0)
                                r = out_check(s, n, before);
                }
                json_decref(v);
                return r;
        case N_IF:
        case N_WITH:
                return walk_if_with(s, dot, n);
        case N_RANGE:
                return walk_range(s, dot, n);
        case N_BREAK:
                return WALK_BREAK;
        case N_CONTINUE:
                return WALK_CONTINUE;
        default:
                return exec_errorf(s, n, EINVAL, "unknown node");
        }
}

static int walk_list(State *s, json_t *dot, const Node *list)
{
        for (const Node *n = list ? list->first : NULL; n; n = n->next) {
                int r = walk(s, dot, n);
                if (r != 0)
                        return r;
        }
        return 0;
}

int tmpl_execute(const Template *t, json_t *data, char **ret, Error **err)
{
        State s = { .t = t, .err = err };
        int r;

        s.slots = xcalloc((size_t)t->n_slots, sizeof(Slot));
        s.stack = xcalloc((size_t)t->n_slots, sizeof(int));
        var_set(&s, 0, data);
        r = walk_list(&s, data, t->root);
        vars_pop(&s, 0);
        free(s.slots);
        free(s.stack);
        if (r < 0) {
                buf_done(&s.out);
                return r;
        }
        *ret = buf_steal(&s.out);
        return 0;
}

/* ---- text/tabwriter ---- */

typedef struct TwCell {
        size_t off, len;
        long width; /* runes */
        size_t run; /* the column block it belongs to */
} TwCell;

typedef struct TwLine {
        size_t first, n; /* its cells; the last is not aligned */
        bool flush;      /* ended by '\f', which ends every column block */
} TwLine;

#define TW_ESCAPE '\xff' /* tabwriter.Escape: text up to the next one is one unit, tabs and all */

static void tw_push_cell(TwCell **cells, size_t *n, size_t *cap, TwCell c)
{
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *cells = xrealloc(*cells, *cap * sizeof(TwCell));
        }
        (*cells)[(*n)++] = c;
}

static void tw_push_line(TwLine **lines, size_t *n, size_t *cap, TwLine l)
{
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *lines = xrealloc(*lines, *cap * sizeof(TwLine));
        }
        (*lines)[(*n)++] = l;
}

/*
 * Go's tabwriter computes a column's width per block of consecutive lines that have a cell in that
 * column, recursing column by column.  The same widths come from one pass that keeps the open blocks
 * on a stack (a line with k aligned cells closes the blocks of columns k and beyond), which needs no
 * recursion however many columns a line has.
 */
char *tabwriter_format(const char *text, int minwidth, int tabwidth, int padding)
{
        _cleanup_free_ TwCell *cells = NULL;
        _cleanup_free_ TwLine *lines = NULL;
        _cleanup_free_ long *runs = NULL;
        _cleanup_free_ size_t *open = NULL;
        size_t len = strlen(text), n_cells = 0, cap_cells = 0, n_lines = 0, cap_lines = 0;
        size_t n_runs = 0, cap_runs = 0, n_open = 0, cap_open = 0, total = 0, cell_start = 0, seg = 0;
        size_t line_first = 0;
        long width = 0;
        bool escaped = false;
        char *out, *o;

        (void)tabwidth; /* used only when padding with tabs */
        if (minwidth < 0)
                minwidth = 0;
        if (padding < 0)
                padding = 0;
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (escaped) {
                        if (c == TW_ESCAPE) {
                                /* the escape characters themselves do not count */
                                width += (long)utf8_count(text + seg, i + 1 - seg) - 2;
                                seg = i + 1;
                                escaped = false;
                        }
                        continue;
                }
                if (c == '\t' || c == '\v' || c == '\n' || c == '\f') {
                        width += (long)utf8_count(text + seg, i - seg);
                        tw_push_cell(&cells, &n_cells, &cap_cells,
                                     (TwCell){ cell_start, i - cell_start, width, 0 });
                        if (c == '\n' || c == '\f') {
                                tw_push_line(&lines, &n_lines, &cap_lines,
                                             (TwLine){ line_first, n_cells - line_first, c == '\f' });
                                line_first = n_cells;
                        }
                        cell_start = seg = i + 1;
                        width = 0;
                } else if (c == TW_ESCAPE) {
                        width += (long)utf8_count(text + seg, i - seg);
                        seg = i;
                        escaped = true;
                }
        }
        /* Flush terminates the text after the last tab or newline only if there is some */
        if (len > cell_start) {
                width += (long)utf8_count(text + seg, len - seg) - (escaped ? 2 : 0);
                tw_push_cell(&cells, &n_cells, &cap_cells,
                             (TwCell){ cell_start, len - cell_start, width, 0 });
        }
        tw_push_line(&lines, &n_lines, &cap_lines, (TwLine){ line_first, n_cells - line_first, false });

        for (size_t l = 0; l < n_lines; l++) {
                size_t k = lines[l].n > 0 ? lines[l].n - 1 : 0;
                if (n_open > k)
                        n_open = k;
                while (n_open < k) {
                        if (n_runs == cap_runs) {
                                cap_runs = cap_runs ? cap_runs * 2 : 64;
                                runs = xrealloc(runs, cap_runs * sizeof(long));
                        }
                        if (n_open == cap_open) {
                                cap_open = cap_open ? cap_open * 2 : 64;
                                open = xrealloc(open, cap_open * sizeof(size_t));
                        }
                        runs[n_runs] = minwidth;
                        open[n_open++] = n_runs++;
                }
                for (size_t c = 0; c < k; c++) {
                        TwCell *cell = &cells[lines[l].first + c];
                        long w = cell->width + padding;
                        cell->run = open[c];
                        if (w > runs[cell->run])
                                runs[cell->run] = w;
                }
                if (lines[l].flush)
                        n_open = 0;
        }

        /* huge cells above many short ones would multiply the text: then it goes out unaligned */
        for (size_t l = 0; l < n_lines; l++) {
                const TwLine *line = &lines[l];
                for (size_t c = 0; c < line->n; c++) {
                        const TwCell *cell = &cells[line->first + c];
                        total += cell->len;
                        if (c + 1 < line->n && runs[cell->run] > cell->width)
                                total += (size_t)(runs[cell->run] - cell->width);
                }
                total += l + 1 < n_lines;
                if (total > len + TAB_EXTRA)
                        return xstrdup(text);
        }
        out = o = xmalloc(total + 1);
        for (size_t l = 0; l < n_lines; l++) {
                const TwLine *line = &lines[l];
                for (size_t c = 0; c < line->n; c++) {
                        const TwCell *cell = &cells[line->first + c];
                        memcpy(o, text + cell->off, cell->len);
                        o += cell->len;
                        if (c + 1 < line->n && runs[cell->run] > cell->width) {
                                memset(o, ' ', (size_t)(runs[cell->run] - cell->width));
                                o += runs[cell->run] - cell->width;
                        }
                }
                if (l + 1 < n_lines)
                        *o++ = '\n';
        }
        *o = '\0';
        return out;
}
