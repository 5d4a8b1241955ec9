/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

#include "cleanup.h"
#include "error.h"

/*
 * The subset of Go's text/template that `docker inspect --format`, `docker ps --format` and log tags
 * use, evaluated over jansson values: the JSON Docker would marshal, so objects keep their key order.
 *
 * Supported: text and {{ }} actions with the {{- and -}} trim markers; comments ({{/\* ... *\/}}); field
 * chains (.A.B, $x.A, (pipeline).A); . and $; variables ({{$x := ...}}, {{$x = ...}}, and
 * {{range $i, $e := ...}}); pipelines; parenthesised pipelines; string ("..." with Go escapes, `raw`),
 * character, integer and float literals, true, false, nil; if / else if / else, with / else with,
 * range / else over arrays and objects (objects in sorted key order, like Go maps), break and
 * continue.  Functions: Go's and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le,
 * gt, ge; Docker's json, split, join, title, lower, upper, pad, truncate.  Not supported: define,
 * template and block (there is only one template), and the call, html, js and urlquery functions.
 *
 * The data model follows Go's map[string]interface{} view of JSON, with these choices:
 *   - a missing key yields "no value": it prints `<no value>`, a field of it is again no value, and a
 *     function receives it as nil;
 *   - JSON null prints `<nil>` (Go's nil interface).  Docker prints `[]` for a nil slice, so callers
 *     store an empty list as [] where Docker would print [];
 *   - a field of null is an error ("nil pointer evaluating"), a field of a string, number, boolean or
 *     array is an error ("can't evaluate field");
 *   - JSON integers are Go ints, reals are float64; eq/lt/... compare an int with a float by value
 *     where Go would refuse ("incompatible types for comparison"); arrays and objects do not compare;
 *   - values print as fmt's %v does: strings raw, floats shortest (1.5, 1e+06), arrays `[a b]`,
 *     objects `map[k1:v1 k2:v2]` with sorted keys;
 *   - json writes what Docker's does (encoding/json of Go 1.22+ with SetEscapeHTML(false): \b and \f
 *     escapes, invalid UTF-8 as \ufffd, no trailing newline), object keys in their stored order;
 *   - integers above INT64_MAX that jx_parse() kept as marked strings print and encode as numbers;
 *   - upper, lower and title map ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic letters only;
 *     other characters pass through.
 *
 * Untrusted input: the template comes from users and the data from containers.  Parsing refuses
 * templates over 1 MiB and nesting (control structures and parentheses) deeper than 100; execution
 * refuses output or any intermediate string over 64 MiB, data nested deeper than 1000 levels, and
 * more than a fixed amount of work (about 16 million steps), so no input can exhaust memory or time.
 */
typedef struct Template Template;

/*
 * Parses src (NUL-terminated).  On failure returns -EINVAL (-E2BIG for an oversized template) and
 * sets *err with Go's wording: `template: :1: function "foo" not defined`,
 * `template: :1: unexpected "}" in operand`, `template: :1: unclosed action`,
 * `template: :1: unexpected EOF` (a missing {{end}}).  On success *ret owns the parsed template.
 */
int tmpl_parse(const char *src, Template **ret, Error **err);

/*
 * Executes t over data (borrowed; never modified) into a malloc'd NUL-terminated string in *ret.
 * Errors name the position and the action as Go does:
 * `template: :1:2: executing "" at <.Foo.Bar>: nil pointer evaluating interface {}.Bar`; they return
 * -EINVAL, or -E2BIG when the output, a string or the work exceeds its limit.  *ret is untouched on
 * failure.  A value holding a NUL byte is written as is, so a C caller sees the output end there.
 */
int tmpl_execute(const Template *t, json_t *data, char **ret, Error **err);

/* Frees a template; accepts NULL. */
void tmpl_free(Template *t);
DEFINE_CLEANUP_FUNC(Template, tmpl_free)

/*
 * Go's text/tabwriter as docker formats tables (NewWriter(out, minwidth, tabwidth, padding, ' ', 0)):
 * cells are tab-terminated, so the trailing cell of each line is not aligned; a column block is a
 * run of consecutive lines that have that cell, and each of its cells is padded with spaces to the
 * widest cell plus `padding`, at least `minwidth`.  Widths count runes.  tabwidth matters only for
 * tab padding and is accepted for the signature's sake.  Returns malloc'd text; should the aligned
 * text exceed the input by more than 64 MiB (huge cells above many short ones), the input is returned
 * unaligned instead.
 */
char *tabwriter_format(const char *text, int minwidth, int tabwidth, int padding);
