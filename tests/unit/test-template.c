/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Go text/template semantics over JSON, as docker's --format uses them.  The expected strings were
 * checked against Go's text/template with Docker's functions (over map[string]interface{} data),
 * except where template.h documents a difference (null prints <nil>, key order in json, and the
 * concrete type named in "can't evaluate field" errors).
 */
#include <errno.h>

#include "json-util.h"
#include "tap.h"
#include "template.h"
#include "util.h"

/* A container as docker inspect shows it, keys in the order Docker marshals them. */
static json_t *fixture(void)
{
        static const char *text =
                "{\"Id\":\"4c01db0b339c\",\"Name\":\"/web\","
                "\"State\":{\"Status\":\"running\",\"Running\":true,\"Pid\":1234,\"ExitCode\":0},"
                "\"Config\":{\"Labels\":{\"tier\":\"front\",\"app\":\"web\"},\"Env\":[\"A=1\",\"B=2\"]},"
                "\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges:true\"],\"Binds\":[],\"Links\":null},"
                "\"Mounts\":[{\"Source\":\"/srv\",\"Destination\":\"/data\"},"
                "{\"Source\":\"/tmp\",\"Destination\":\"/t\"}],"
                "\"Args\":[\"-g\",\"daemon off;\"],\"Ratio\":1.5,\"Big\":1000000.0,\"Count\":3,\"Zero\":0,"
                "\"Empty\":\"\",\"False\":false,\"EmptyList\":[],\"EmptyMap\":{},"
                "\"Mixed\":[1,\"a\",null,1.5,true,{\"k\":[]}],\"Limit\":18446744073709551615}";
        json_t *j = NULL;
        Error *e = NULL;

        if (jx_parse(text, strlen(text), "fixture", &j, &e) < 0)
                abort();
        return j;
}

/* The output of tmpl over d, or "ERR <message>"; *errnum gets the error's errno (0 on success). */
static char *render_errno(const char *tmpl, json_t *d, int *errnum)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        Error *e = NULL;
        char *out = NULL;
        int r;

        r = tmpl_parse(tmpl, &t, &e);
        if (r == 0)
                r = tmpl_execute(t, d, &out, &e);
        if (errnum)
                *errnum = r < 0 ? -r : 0;
        if (r < 0) {
                out = xasprintf("ERR %s", e ? e->msg : "(no message)");
                error_free(e);
        }
        return out;
}

static char *render(const char *tmpl, json_t *d)
{
        return render_errno(tmpl, d, NULL);
}

#define ASSERT_RENDER(d, tmpl, expected)                                                                    \
        do {                                                                                                \
                _cleanup_free_ char *_out = render((tmpl), (d));                                            \
                ASSERT_STREQ(_out, (expected));                                                             \
        } while (0)

#define ASSERT_RENDER_ERR(d, tmpl, needle)                                                                  \
        do {                                                                                                \
                _cleanup_free_ char *_out = render((tmpl), (d));                                            \
                ASSERT_TRUE(str_has_prefix(_out, "ERR template: "));                                        \
                ASSERT_CONTAINS(_out, (needle));                                                            \
        } while (0)

/* ---- The brief's docker examples ---- */

TEST(docker_examples)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.HostConfig.SecurityOpt}}", "[no-new-privileges:true]");
        ASSERT_RENDER(d, "{{.HostConfig.Binds}}", "[]");
        ASSERT_RENDER(d, "{{json .State}}",
                      "{\"Status\":\"running\",\"Running\":true,\"Pid\":1234,\"ExitCode\":0}");
        ASSERT_RENDER(d, "{{index .Config.Labels \"app\"}}", "web");
        ASSERT_RENDER(d, "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/srv:/data /tmp:/t ");
        ASSERT_RENDER(d, "{{if eq .State.Status \"running\"}}up{{else}}down{{end}}", "up");
        ASSERT_RENDER(d, "{{printf \"%-10s|\" .Name}}", "/web      |");
        ASSERT_RENDER(d, "{{join .Args \",\"}}", "-g,daemon off;");
        ASSERT_RENDER(d, "{{.Name | upper}}", "/WEB");
        ASSERT_RENDER(d, "{{len .Mounts}}", "2");
}

/* ---- Text, fields, dot and $ ---- */

TEST(text_without_actions)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "", "");
        ASSERT_RENDER(d, "plain } text { with braces }", "plain } text { with braces }");
        ASSERT_RENDER(d, "line1\nline2\n", "line1\nline2\n");
}

TEST(field_chains)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.Name}} {{.State.Pid}} {{.State.Running}}", "/web 1234 true");
        ASSERT_RENDER(d, "{{.Config.Labels.app}}", "web");
        ASSERT_RENDER(d, "{{$.State.Status}}", "running");
        ASSERT_RENDER(d, "{{with .State}}{{.Status}} of {{$.Name}}{{end}}", "running of /web");
}

TEST(dot_is_the_data)
{
        _cleanup_json_ json_t *s = json_string("hello");
        _cleanup_json_ json_t *a = json_pack("[i,s]", 1, "x");

        ASSERT_RENDER(s, "{{.}}", "hello");
        ASSERT_RENDER(s, "{{$}}", "hello");
        ASSERT_RENDER(a, "{{.}}", "[1 x]");
        /* no data at all is Go's nil: no value */
        ASSERT_RENDER(NULL, "{{.}}|{{.A}}", "<no value>|<no value>");
}

TEST(missing_keys_print_no_value)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.Nope}}", "<no value>");
        ASSERT_RENDER(d, "{{.Nope.Deeper.Still}}", "<no value>");
        ASSERT_RENDER(d, "{{index .Config.Labels \"nope\"}}", "<no value>");
        ASSERT_RENDER(d, "{{print .Nope}}", "<nil>");
}

TEST(null_prints_nil)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.HostConfig.Links}}", "<nil>");
        ASSERT_RENDER(d, "{{.Mixed}}", "[1 a <nil> 1.5 true map[k:[]]]");
        ASSERT_RENDER(d, "{{json .HostConfig.Links}}", "null");
}

TEST(field_of_non_object_fails)
{
        _cleanup_json_ json_t *d = fixture();
        _cleanup_free_ char *out = render("{{.Name.X}}", d);

        ASSERT_STREQ(
                out,
                "ERR template: :1:7: executing \"\" at <.Name.X>: can't evaluate field X in type string");
        ASSERT_RENDER_ERR(d, "{{.Mounts.Source}}", "can't evaluate field Source in type []interface {}");
        ASSERT_RENDER_ERR(d, "{{.State.Pid.X}}", "can't evaluate field X in type int");
        ASSERT_RENDER_ERR(d, "{{.HostConfig.Links.X}}",
                          "at <.HostConfig.Links.X>: nil pointer evaluating interface {}.X");
}

/* ---- Printing as fmt's %v ---- */

TEST(value_printing_like_go)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.Count}} {{.Ratio}} {{.Big}} {{.False}} {{.Empty}}|", "3 1.5 1e+06 false |");
        ASSERT_RENDER(d, "{{.Config.Labels}}", "map[app:web tier:front]");
        ASSERT_RENDER(d, "{{.Mounts}}",
                      "[map[Destination:/data Source:/srv] map[Destination:/t Source:/tmp]]");
        ASSERT_RENDER(d, "{{.EmptyList}} {{.EmptyMap}}", "[] map[]");
        ASSERT_RENDER(d, "{{1.0}} {{100000.0}} {{123456789.0}} {{0.0001}} {{0.00001}} {{-0.5}}",
                      "1 100000 1.23456789e+08 0.0001 1e-05 -0.5");
        ASSERT_RENDER(d, "{{1e21}} {{0.1}} {{2.5e-10}}", "1e+21 0.1 2.5e-10");
        /* integers above INT64_MAX (kept by jx_parse) print as numbers */
        ASSERT_RENDER(d, "{{.Limit}} {{json .Limit}}", "18446744073709551615 18446744073709551615");
}

/* ---- Literals ---- */

TEST(string_literals)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{\"a\\tb\\n\\\"q\\\"\\\\\"}}", "a\tb\n\"q\"\\");
        ASSERT_RENDER(d, "{{\"\\x41\\101\\u00e9\\U0001F600\"}}", "AA\xc3\xa9\xf0\x9f\x98\x80");
        ASSERT_RENDER(d, "{{`raw \\n {{ stays`}}", "raw \\n {{ stays");
        ASSERT_RENDER_ERR(d, "{{\"\\q\"}}", "template: :1: invalid syntax");
        ASSERT_RENDER_ERR(d, "{{\"\\'\"}}", "invalid syntax");
        ASSERT_RENDER_ERR(d, "{{\"abc}}", "unterminated quoted string");
        ASSERT_RENDER_ERR(d, "{{`abc}}", "unterminated raw quoted string");
}

TEST(number_bool_nil_literals)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{42}} {{-7}} {{+3}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}",
                      "42 -7 3 31 15 15 5 1000");
        ASSERT_RENDER(d, "{{1.5}} {{1e3}} {{.5}} {{0x1p4}}", "1.5 1000 0.5 16");
        ASSERT_RENDER(d, "{{'a'}} {{'\\n'}} {{'\\u00e9'}}", "97 10 233");
        ASSERT_RENDER(d, "{{true}} {{false}} {{print nil}}", "true false <nil>");
        ASSERT_RENDER_ERR(d, "{{1x}}", "bad number syntax: \"1x\"");
        ASSERT_RENDER_ERR(d, "{{08}}", "integer overflow: \"08\"");
        ASSERT_RENDER_ERR(d, "{{1__0}}", "illegal number syntax");
        ASSERT_RENDER_ERR(d, "{{99999999999999999999}}", "integer overflow: \"99999999999999999999\"");
        ASSERT_RENDER_ERR(d, "{{18446744073709551615}}", "18446744073709551615 overflows int");
        ASSERT_RENDER_ERR(d, "{{nil}}", "nil is not a command");
        ASSERT_RENDER_ERR(d, "{{\"x\".A}}", "unexpected . after term \"\\\"x\\\"\"");
}

/* ---- Actions: trim markers, comments ---- */

TEST(trim_markers)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "a  \n {{- .Name -}} \n\t b", "a/webb");
        ASSERT_RENDER(d, "a {{- .Name}} b {{.Name -}} c", "a/web b /webc");
        /* a minus without a space is a number */
        ASSERT_RENDER(d, "{{-3}}", "-3");
        ASSERT_RENDER(d, "x {{- -3 -}} y", "x-3y");
}

TEST(comments)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "a{{/* a comment {{ }} */}}b", "ab");
        ASSERT_RENDER(d, "a {{- /* multi\nline */ -}} b", "ab");
        ASSERT_RENDER_ERR(d, "{{/* open", "template: :1: unclosed comment");
        ASSERT_RENDER_ERR(d, "{{/* c */ .Name}}", "comment ends before closing delimiter");
}

/* ---- Variables ---- */

TEST(variables)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{$x := .Name}}{{$x}} {{$x = \"other\"}}{{$x}}", "/web other");
        ASSERT_RENDER(d, "{{$x := .State}}{{$x.Status}}", "running");
        /* a declaration lives to the end of its control structure; inner ones shadow */
        ASSERT_RENDER(d, "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21");
        ASSERT_RENDER(d, "{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2");
        ASSERT_RENDER(d, "{{$x := 1}}{{$x := $x}}{{$x}}", "1");
        ASSERT_RENDER(d, "{{if $v := .State.Pid}}{{$v}}{{end}}", "1234");
        ASSERT_RENDER_ERR(d, "{{$nope}}", "template: :1: undefined variable \"$nope\"");
        ASSERT_RENDER_ERR(d, "{{if true}}{{$y := 1}}{{end}}{{$y}}", "undefined variable \"$y\"");
        /* declared in a branch that did not run */
        ASSERT_RENDER_ERR(d, "{{if false}}{{$y := 1}}{{else}}{{$y}}{{end}}", "undefined variable: $y");
        ASSERT_RENDER_ERR(d, "{{$z = 1}}", "undefined variable: $z");
        ASSERT_RENDER_ERR(d, "{{$x, $y := 1}}", "too many declarations in command");
}

TEST(variables_are_fresh_on_each_execution)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_json_ json_t *rows = json_pack("[{s:s},{s:s},{}]", "N", "a", "N", "b");
        Error *e = NULL;
        const char *expected[] = { "a:a", "b:b", "<no value>:<no value>" };

        ASSERT_OK(tmpl_parse("{{$n := .N}}{{$n}}:{{.N}}", &t, &e));
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *out = NULL;
                ASSERT_OK(tmpl_execute(t, json_array_get(rows, i), &out, &e));
                ASSERT_STREQ(out, expected[i]);
        }
}

/* ---- Pipelines and parentheses ---- */

TEST(pipelines)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{.Name | printf \"%s!\" | upper}}", "/WEB!");
        ASSERT_RENDER(d, "{{.Name | printf \"%s-%s\" \"x\"}}", "x-/web");
        /* the piped value is the last argument */
        ASSERT_RENDER(d, "{{\",\" | split \"a,b,c\" | len}} {{\"a,b,c\" | split \",\" | len}}", "3 1");
        ASSERT_RENDER_ERR(d, "{{.Name | \"x\"}}",
                          "template: :1: non executable command in pipeline stage 2");
        ASSERT_RENDER_ERR(d, "{{.Name 1}}", "at <.Name>: Name is not a method but has arguments");
        ASSERT_RENDER_ERR(d, "{{\"x\" | .Name}}", "Name is not a method but has arguments");
        ASSERT_RENDER_ERR(d, "{{1 2}}", "at <1>: can't give argument to non-function 1");
}

TEST(parentheses)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{(index .Mounts 1).Source}}", "/tmp");
        ASSERT_RENDER(d, "{{len (split \"a,b,c\" \",\")}}", "3");
        ASSERT_RENDER(d, "{{printf \"%d-%s\" (len .Mounts) (upper (index .Args 0))}}", "2--G");
        ASSERT_RENDER_ERR(d, "{{(1}}", "unclosed left paren");
        ASSERT_RENDER_ERR(d, "{{1)}}", "unexpected \")\" in command");
        ASSERT_RENDER_ERR(d, "{{()}}", "missing value for parenthesized pipeline");
}

/* ---- Control structures ---- */

TEST(if_else_if_chains)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{if eq .State.Status \"exited\"}}a{{else if .State.Running}}b{{else}}c{{end}}",
                      "b");
        ASSERT_RENDER(d, "{{if .False}}a{{else if .Zero}}b{{else if .Empty}}c{{else}}d{{end}}", "d");
        ASSERT_RENDER(d, "{{if .Name}}yes{{end}}", "yes");
        ASSERT_RENDER_ERR(d, "{{if}}{{end}}", "missing value for if");
        ASSERT_RENDER_ERR(d, "{{if 1}}a{{else}}b{{else}}c{{end}}", "expected end; found {{else}}");
}

TEST(truthiness)
{
        _cleanup_json_ json_t *d = fixture();
        const char *t = "{{range $k, $v := .}}{{if $v}}{{$k}} {{end}}{{end}}";
        _cleanup_json_ json_t *v = json_pack("{s:b,s:i,s:f,s:s,s:n,s:[],s:{},s:b,s:i,s:f,s:s,s:[i],s:{s:i}}",
                                             "f", 0, "i", 0, "r", 0.0, "s", "", "n", "a", "o", "T", 1, "I",
                                             -1, "R", 0.5, "S", "x", "A", 0, "O", "k", 1);

        ASSERT_RENDER(v, t, "A I O R S T ");
        ASSERT_RENDER(d, "{{if .Nope}}a{{else}}b{{end}}", "b");
        ASSERT_RENDER(d, "{{not .EmptyList}} {{not .Mounts}}", "true false");
}

TEST(with_and_else_with)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{with .State}}{{.Pid}}{{end}}", "1234");
        ASSERT_RENDER(d, "{{with .Nope}}a{{else}}none{{end}}", "none");
        ASSERT_RENDER(d, "{{with .Empty}}a{{else with .Name}}{{.}}{{end}}", "/web");
        ASSERT_RENDER(d, "{{with $s := .State.Status}}{{$s}}/{{.}}{{end}}", "running/running");
}

TEST(range_over_arrays)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{range .Args}}[{{.}}]{{end}}", "[-g][daemon off;]");
        ASSERT_RENDER(d, "{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}", "0=A=1 1=B=2 ");
        ASSERT_RENDER(d, "{{range $e := .Args}}{{$e}};{{end}}", "-g;daemon off;;");
        ASSERT_RENDER(d, "{{range .Mounts}}{{$.Name}}{{.Source}} {{end}}", "/web/srv /web/tmp ");
}

TEST(range_over_objects_sorts_keys)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "app=web;tier=front;");
        ASSERT_RENDER(d, "{{range .Config.Labels}}{{.}} {{end}}", "web front ");
}

TEST(range_else_branch)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{range .EmptyList}}x{{else}}empty{{end}}", "empty");
        ASSERT_RENDER(d, "{{range .EmptyMap}}x{{else}}empty{{end}}", "empty");
        ASSERT_RENDER(d, "{{range .HostConfig.Links}}x{{else}}nil{{end}}", "nil");
        ASSERT_RENDER(d, "{{range .Nope}}x{{else}}missing{{end}}", "missing");
        ASSERT_RENDER_ERR(d, "{{range .Name}}x{{end}}", "at <.Name>: range can't iterate over /web");
        ASSERT_RENDER_ERR(d, "{{range 5}}x{{end}}", "range can't iterate over 5");
}

TEST(range_break_continue)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{range .Args}}{{if eq . \"daemon off;\"}}{{break}}{{end}}{{.}}{{end}}", "-g");
        ASSERT_RENDER(d, "{{range $i, $e := .Args}}{{if eq $i 0}}{{continue}}{{end}}{{$e}}{{end}}",
                      "daemon off;");
        ASSERT_RENDER_ERR(d, "{{break}}", "{{break}} outside {{range}}");
        ASSERT_RENDER_ERR(d, "{{range .Args}}{{else}}{{continue}}{{end}}", "{{continue}} outside {{range}}");
}

/* ---- Functions ---- */

TEST(json_function)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{json .Name}} {{json .Count}} {{json .Ratio}} {{json .False}} {{json .Nope}}",
                      "\"/web\" 3 1.5 false null");
        ASSERT_RENDER(d, "{{json .Mounts}}",
                      "[{\"Source\":\"/srv\",\"Destination\":\"/data\"},"
                      "{\"Source\":\"/tmp\",\"Destination\":\"/t\"}]");
        /* key order as stored, like Docker's structs */
        ASSERT_RENDER(d, "{{json .Config.Labels}}", "{\"tier\":\"front\",\"app\":\"web\"}");
        /* SetEscapeHTML(false): <, > and & stay; control characters and U+2028/9 are escaped */
        ASSERT_RENDER(d, "{{json \"<a>&\\u2028\\t\\x01\\\\\\\"\"}}", "\"<a>&\\u2028\\t\\u0001\\\\\\\"\"");
        ASSERT_RENDER(d, "{{json \"\\xff\"}}", "\"\\ufffd\"");
        ASSERT_RENDER(d, "{{json 1e21}} {{json 1e-7}} {{json 100000000.0}} {{json 0.000001}}",
                      "1e+21 1e-7 100000000 0.000001");
        ASSERT_RENDER(d, "{{json .Big}} {{json .EmptyList}} {{json .EmptyMap}}", "1000000 [] {}");
}

TEST(index_function)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{index .Args 1}}", "daemon off;");
        ASSERT_RENDER(d, "{{index .Mounts 0 \"Destination\"}}", "/data");
        ASSERT_RENDER(d, "{{index .Config \"Labels\" \"tier\"}}", "front");
        ASSERT_RENDER(d, "{{index .Name 1}}", "119");
        ASSERT_RENDER(d, "{{index .Args}}", "[-g daemon off;]");
        ASSERT_RENDER_ERR(d, "{{index .Args 2}}",
                          "at <index .Args 2>: error calling index: index out of range: 2");
        ASSERT_RENDER_ERR(d, "{{index .Args -1}}", "index out of range: -1");
        ASSERT_RENDER_ERR(d, "{{index .Args \"a\"}}", "cannot index slice/array with type string");
        ASSERT_RENDER_ERR(d, "{{index .Config.Labels 1}}", "value has type int; should be string");
        ASSERT_RENDER_ERR(d, "{{index .Nope 1}}", "index of untyped nil");
        ASSERT_RENDER_ERR(d, "{{index .Config.Labels \"x\" \"y\"}}", "index of nil pointer");
        ASSERT_RENDER_ERR(d, "{{index .Count 0}}", "can't index item of type int");
}

TEST(slice_function)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{slice .Id 0 4}} {{slice .Id 10}}", "4c01 9c");
        ASSERT_RENDER(d, "{{slice .Mixed 1 3}} {{slice .Args 1 2 2}}", "[a <nil>] [daemon off;]");
        ASSERT_RENDER_ERR(d, "{{slice .Id 3 1}}", "invalid slice index: 3 > 1");
        ASSERT_RENDER_ERR(d, "{{slice .Id 0 99}}", "index out of range: 99");
        ASSERT_RENDER_ERR(d, "{{slice .Id 0 1 2}}", "cannot 3-index slice a string");
}

TEST(len_function)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d,
                      "{{len .Mounts}} {{len .Config.Labels}} {{len .Name}} "
                      "{{len \"\xc3\xa9\"}} {{len .EmptyList}}",
                      "2 2 4 2 0");
        ASSERT_RENDER_ERR(d, "{{len .Nope}}", "error calling len: len of nil pointer");
        ASSERT_RENDER_ERR(d, "{{len .Count}}", "error calling len: len of type int");
        ASSERT_RENDER_ERR(d, "{{len}}", "wrong number of args for len: want 1 got 0");
        ASSERT_RENDER_ERR(d, "{{len 1 2}}", "wrong number of args for len: want 1 got 2");
}

TEST(join_and_split)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{join .Config.Env \";\"}}|{{join .EmptyList \",\"}}|{{join .Nope \",\"}}",
                      "A=1;B=2||");
        ASSERT_RENDER(d,
                      "{{split \"a:b:c\" \":\"}} {{split \"\" \",\"}} {{split \"abc\" \"\"}} "
                      "{{len (split \"a\" \"a\")}}",
                      "[a b c] [] [a b c] 2");
        ASSERT_RENDER(d, "{{join (split \"x-y-z\" \"-\") \"+\"}}", "x+y+z");
        ASSERT_RENDER_ERR(d, "{{join .Mixed \",\"}}",
                          "wrong type for value; expected []string; got []interface {}");
        ASSERT_RENDER_ERR(d, "{{split .Count \",\"}}", "wrong type for value; expected string; got int");
}

TEST(case_functions)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d,
                      "{{upper \"Hello, w\xc3\xb6rld\"}} {{lower \"\xc3\x89T\xc3\x89 \xce\xa3\xce\x91\"}}",
                      "HELLO, W\xc3\x96RLD \xc3\xa9t\xc3\xa9 \xcf\x83\xce\xb1");
        ASSERT_RENDER(d, "{{title \"hello wide-world foo_bar 3d\"}}", "Hello Wide-World Foo_bar 3d");
        /* invalid UTF-8 becomes U+FFFD, as strings.Map makes it */
        ASSERT_RENDER(d, "{{upper \"a\\xffb\"}}",
                      "A\xef\xbf\xbd"
                      "B");
        ASSERT_RENDER_ERR(d, "{{upper .Nope}}", "invalid value; expected string");
}

TEST(pad_and_truncate)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "[{{pad .Name 2 3}}] [{{pad \"\" 2 3}}]", "[  /web   ] []");
        ASSERT_RENDER(d, "{{truncate .Id 4}} {{truncate \"ab\" 5}} [{{truncate \"ab\" 0}}]", "4c01 ab []");
        ASSERT_RENDER_ERR(d, "{{pad .Name -1 0}}", "error calling pad: strings: negative Repeat count");
        ASSERT_RENDER_ERR(d, "{{truncate .Name -1}}", "slice bounds out of range [:-1]");
        ASSERT_RENDER_ERR(d, "{{truncate .Name \"x\"}}", "wrong type for value; expected int; got string");
}

TEST(printf_verbs)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{printf \"%s|%10s|%-6s|%.2s\" .Name .Name .Name .Name}}",
                      "/web|      /web|/web  |/w");
        ASSERT_RENDER(d, "{{printf \"%d|%5d|%-5d|%05d|%x|%X|%o|%b|%+d\" 42 42 42 -42 255 255 8 5 3}}",
                      "42|   42|42   |-0042|ff|FF|10|101|+3");
        ASSERT_RENDER(d, "{{printf \"%q %q %t %v %%\" .Name 65 true .Ratio}}", "\"/web\" 'A' true 1.5 %");
        ASSERT_RENDER(
                d, "{{printf \"%f|%.2f|%8.3f|%e|%g|%G\" 3.14159 3.14159 -3.14159 1234.5678 0.000012 1e30}}",
                "3.141590|3.14|  -3.142|1.234568e+03|1.2e-05|1E+30");
        ASSERT_RENDER(d, "{{printf \"%v %v\" .Config.Labels .Mixed}}",
                      "map[app:web tier:front] [1 a <nil> 1.5 true map[k:[]]]");
        ASSERT_RENDER(d, "{{printf \"%5v|\" .Args}}", "[   -g daemon off;]|");
        ASSERT_RENDER(d, "{{printf \"%x % X %#x\" \"hi\" \"hi\" \"hi\"}}", "6869 68 69 0x6869");
        ASSERT_RENDER(d, "{{printf \"%*d|%-*d|%.*f\" 4 1 3 2 1 2.25}}", "   1|2  |2.2");
        ASSERT_RENDER(d, "{{printf \"%[2]s %[1]s\" \"a\" \"b\"}}", "b a");
        ASSERT_RENDER(d, "{{printf \"%c %U %#v %T\" 233 233 .Args .Ratio}}",
                      "\xc3\xa9 U+00E9 []interface {}{\"-g\", \"daemon off;\"} float64");
}

TEST(printf_mistakes_print_inline)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{printf \"%d\" .Name}}", "%!d(string=/web)");
        ASSERT_RENDER(d, "{{printf \"%s\" .Count}}", "%!s(int=3)");
        ASSERT_RENDER(d, "{{printf \"%d %d\" 1}}", "1 %!d(MISSING)");
        ASSERT_RENDER(d, "{{printf \"%d\" 1 \"x\" nil}}", "1%!(EXTRA string=x, <nil>)");
        ASSERT_RENDER(d, "{{printf \"%\"}} {{printf \"%z\" 1}}", "%!(NOVERB) %!z(int=1)");
        ASSERT_RENDER(d, "{{printf \"%d\" .Mixed}}",
                      "[1 %!d(string=a) <nil> %!d(float64=1.5) %!d(bool=true) map[%!d(string=k):[]]]");
        ASSERT_RENDER(d, "{{printf \"%[3]d\" 1}} {{printf \"%s\" nil}}", "%!d(BADINDEX) %!s(<nil>)");
        /* widths beyond fmt's limit are refused, not allocated */
        ASSERT_RENDER(d, "{{printf \"%99999999999d\" 1}}", "%!(NOVERB)%!(EXTRA int=1)");
        ASSERT_RENDER_ERR(d, "{{printf 1}}", "wrong type for value; expected string; got int");
}

TEST(print_and_println)
{
        _cleanup_json_ json_t *d = fixture();

        /* Sprint puts spaces between operands when neither is a string */
        ASSERT_RENDER(d, "{{print 1 2 \"a\" \"b\" 3 .Ratio}}", "1 2ab3 1.5");
        ASSERT_RENDER(d, "{{println 1 \"a\" .Nope}}", "1 a <nil>\n");
        ASSERT_RENDER(d, "{{print}}|", "|");
}

TEST(comparisons)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d,
                      "{{eq .Count 3}} {{eq .Count 1 2 3}} {{eq .Name \"/web\"}} {{ne .Name \"x\"}} "
                      "{{eq .False false}}",
                      "true true true true true");
        ASSERT_RENDER(d,
                      "{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}} {{lt .Ratio 2}} {{gt .Limit 5}}",
                      "true true true false true true");
        /* nil equals only nil */
        ASSERT_RENDER(d, "{{eq .Nope 1}} {{eq .Nope .HostConfig.Links}} {{ne .Nope \"x\"}}",
                      "false true true");
        ASSERT_RENDER_ERR(d, "{{eq .Name 1}}",
                          "at <eq .Name 1>: error calling eq: incompatible types for comparison");
        ASSERT_RENDER_ERR(d, "{{lt true false}}", "error calling lt: invalid type for comparison");
        ASSERT_RENDER_ERR(d, "{{lt .Nope 1}}", "error calling lt: invalid type for comparison");
        ASSERT_RENDER_ERR(d, "{{eq .Args .Args}}", "error calling eq: non-comparable type []interface {}");
        ASSERT_RENDER_ERR(d, "{{eq 1}}", "error calling eq: missing argument for comparison");
}

TEST(and_or_not_short_circuit)
{
        _cleanup_json_ json_t *d = fixture();

        ASSERT_RENDER(d, "{{and 1 0 2}} {{and 1 2 3}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}|{{not 0}}",
                      "0 3 x |true");
        /* the failing operand is never evaluated */
        ASSERT_RENDER(d, "{{or .Name (index .Args 9)}} {{and .Zero (index .Args 9)}}", "/web 0");
        ASSERT_RENDER(d, "{{.Name | and 1}} {{.Empty | or \"fallback\"}}", "/web fallback");
        ASSERT_RENDER_ERR(d, "{{and}}", "wrong number of args for and: want at least 1 got 0");
}

/* ---- Errors ---- */

TEST(parse_errors_read_like_go)
{
        _cleanup_json_ json_t *d = fixture();
        struct {
                const char *tmpl, *msg;
        } cases[] = {
                { "{{foo}}", "template: :1: function \"foo\" not defined" },
                { "{{.Name }", "template: :1: unexpected \"}\" in operand" },
                { "{{.Name", "template: :1: unclosed action" },
                { "{{if .Name}}x", "template: :1: unexpected EOF" },
                { "{{end}}", "template: :1: unexpected {{end}}" },
                { "{{else}}", "template: :1: unexpected {{else}}" },
                { "a\nb\n{{.Name}x}}", "template: :3: bad character U+007D '}'" },
                { "{{.Name.}}", "template: :1: unexpected <.> in operand" },
                { "{{.Name | | upper}}", "template: :1: unexpected \"|\" in command" },
                { "{{|}}", "template: :1: unexpected \"|\" in command" },
                { "{{.Name\n", "template: :2: unclosed action started at :1" },
                { "{{\"a\nb\"}}", "template: :1: unterminated quoted string" },
                { "{{define \"x\"}}{{end}}", "template: :1: {{define}} is not supported" },
                { "{{template \"x\"}}", "template: :1: {{template}} is not supported" },
                { "{{html .}}", "template: :1: function \"html\" not defined" },
                { "{{.A = 1}}", "template: :1: unexpected \"=\" in operand" },
                { "{{@}}", "template: :1: unexpected \"@\" in command" },
                { "{{\x01}}", "template: :1: unrecognized character in action: U+0001" },
                { "{{range $a, $b, $c := .}}{{end}}", "template: :1: too many declarations in range" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = render(cases[i].tmpl, d);
                _cleanup_free_ char *want = xasprintf("ERR %s", cases[i].msg);
                ASSERT_STREQ(out, want);
        }
}

TEST(execution_errors_name_position_and_action)
{
        _cleanup_json_ json_t *d = fixture();
        _cleanup_free_ char *out = render("first line\n  {{.State.Pid.X}}", d);
        _cleanup_free_ char *out2 = render("{{range .Mounts}}\n{{index . \"Nope\" 1}}{{end}}", d);
        int errnum = 0;
        _cleanup_free_ char *out3 = render_errno("{{eq 1 \"a\"}}", d, &errnum);

        ASSERT_STREQ(
                out,
                "ERR template: :2:10: executing \"\" at <.State.Pid.X>: can't evaluate field X in type int");
        ASSERT_STREQ(out2,
                     "ERR template: :2:2: executing \"\" at <index . \"Nope\" 1>: error calling index: "
                     "index of nil pointer");
        ASSERT_EQ(errnum, EINVAL);
        ASSERT_CONTAINS(out3, "at <eq 1 \"a\">");
}

TEST(errors_without_error_pointer)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_json_ json_t *d = fixture();
        char *out = NULL;

        ASSERT_EQ(tmpl_parse("{{foo}}", &t, NULL), -EINVAL);
        ASSERT_TRUE(t == NULL);
        ASSERT_OK(tmpl_parse("{{.Name.X}}", &t, NULL));
        ASSERT_EQ(tmpl_execute(t, d, &out, NULL), -EINVAL);
        ASSERT_TRUE(out == NULL);
        tmpl_free(NULL);
}

/* ---- Hostile input ---- */

TEST(nesting_is_bounded)
{
        _cleanup_json_ json_t *d = fixture();
        char *ok = NULL, *deep = NULL, *parens = NULL;
        size_t n = 0;
        FILE *f;

        /* 100 levels work, 101 do not; parentheses count as levels too */
        f = open_memstream(&ok, &n);
        for (int i = 0; i < 100; i++)
                fputs("{{if 1}}", f);
        fputs("x", f);
        for (int i = 0; i < 100; i++)
                fputs("{{end}}", f);
        fclose(f);
        f = open_memstream(&deep, &n);
        fputs("{{if 1}}", f);
        fputs(ok, f);
        fputs("{{end}}", f);
        fclose(f);
        f = open_memstream(&parens, &n);
        fputs("{{", f);
        for (int i = 0; i < 100000; i++)
                fputc('(', f);
        fputs("1}}", f);
        fclose(f);
        ASSERT_RENDER(d, ok, "x");
        ASSERT_RENDER_ERR(d, deep, "template: :1: actions nested deeper than 100 levels");
        ASSERT_RENDER_ERR(d, parens, "template: :1: actions nested deeper than 100 levels");
        free(ok);
        free(deep);
        free(parens);
}

TEST(long_else_if_chains_cost_no_depth)
{
        _cleanup_json_ json_t *d = fixture();
        char *t = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&t, &n);

        fputs("{{if false}}", f);
        for (int i = 0; i < 20000; i++)
                fputs("{{else if false}}", f);
        fputs("{{else}}last{{end}}", f);
        fclose(f);
        ASSERT_RENDER(d, t, "last");
        free(t);
}

TEST(template_size_is_bounded)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_free_ char *big = xmalloc((2 << 20) + 1);
        Error *e = NULL;

        memset(big, 'x', 2 << 20);
        big[2 << 20] = '\0';
        ASSERT_EQ(tmpl_parse(big, &t, &e), -E2BIG);
        ASSERT_CONTAINS(e->msg, "template is longer than");
        error_free(e);
}

TEST(output_size_is_bounded)
{
        _cleanup_json_ json_t *d = fixture();
        int errnum = 0;
        _cleanup_free_ char *out =
                render_errno("{{range .Mounts}}{{pad \"x\" 40000000 0}}{{end}}", d, &errnum);
        _cleanup_free_ char *out2 = render_errno("{{pad \"x\" 9223372036854775807 0}}", d, NULL);

        ASSERT_EQ(errnum, E2BIG);
        ASSERT_CONTAINS(out, "output exceeds 67108864 bytes");
        ASSERT_CONTAINS(out2, "error calling pad: result exceeds 67108864 bytes");
}

TEST(doubling_a_string_is_bounded)
{
        _cleanup_json_ json_t *d = fixture();
        int errnum = 0;
        _cleanup_free_ char *out =
                render_errno("{{$x := \"ab\"}}{{range .Mounts}}{{range $.Mixed}}{{range $.Mixed}}"
                             "{{$x = printf \"%s%s\" $x $x}}{{end}}{{end}}{{end}}",
                             d, &errnum);

        ASSERT_EQ(errnum, E2BIG);
        ASSERT_CONTAINS(out, "error calling printf: result exceeds 67108864 bytes");
}

TEST(nested_ranges_are_bounded)
{
        _cleanup_json_ json_t *d = fixture();
        char *t = NULL;
        size_t n = 0;
        int errnum = 0;
        FILE *f = open_memstream(&t, &n);
        _cleanup_free_ char *out = NULL;

        /* 6^12 iterations: refused by the work limit, quickly */
        for (int i = 0; i < 12; i++)
                fputs("{{range $.Mixed}}", f);
        for (int i = 0; i < 12; i++)
                fputs("{{end}}", f);
        fclose(f);
        out = render_errno(t, d, &errnum);
        free(t);
        ASSERT_EQ(errnum, E2BIG);
        ASSERT_CONTAINS(out, "template execution exceeds its work limit");
}

TEST(many_variables_stay_linear)
{
        _cleanup_json_ json_t *d = fixture();
        char *t = NULL, *expected = NULL;
        size_t n = 0, m = 0;
        FILE *f = open_memstream(&t, &n), *g = open_memstream(&expected, &m);
        _cleanup_free_ char *out = NULL;

        for (int i = 0; i < 30000; i++)
                fprintf(f, "{{$v%d := %d}}", i, i);
        for (int i = 0; i < 30000; i += 1000) {
                fprintf(f, "{{$v%d}},", i);
                fprintf(g, "%d,", i);
        }
        fclose(f);
        fclose(g);
        out = render(t, d);
        ASSERT_STREQ(out, expected);
        free(t);
        free(expected);
}

TEST(deep_data_is_refused_not_overflowed)
{
        json_t *deep = json_array(), *cur = deep;
        _cleanup_free_ char *ok = NULL, *out = NULL, *out2 = NULL;

        for (int i = 0; i < 5000; i++) {
                json_t *next = json_array();
                json_array_append_new(cur, next);
                cur = next;
        }
        out = render("{{.}}", deep);
        out2 = render("{{json .}}", deep);
        ASSERT_CONTAINS(out, "value nested deeper than 1000 levels");
        ASSERT_CONTAINS(out2, "at <json .>: error calling json: value nested deeper than 1000 levels");
        ok = render("{{len .}}", deep);
        ASSERT_STREQ(ok, "1");
        json_decref(deep);
}

TEST(hostile_bytes_do_not_crash)
{
        _cleanup_json_ json_t *d = fixture();
        const char *inputs[] = {
                "{{",
                "}}",
                "{{{{",
                "{{-",
                "{{- ",
                "-}}",
                "{{ -}}",
                "{{/*",
                "{{/**/",
                "{{\"\\",
                "{{'",
                "{{''}}",
                "{{'ab'}}",
                "{{$}}",
                "{{$.}}",
                "{{..}}",
                "{{.$}}",
                "{{:=}}",
                "{{$x:=}}",
                "{{range}}",
                "{{with}}",
                "{{else if}}",
                "{{if 1}}{{else if}}{{end}}",
                "{{\xff}}",
                "{{.\xff}}",
                "\xff{{.Name}}\xfe",
                "{{printf \"%\xff\" 1}}",
                "{{printf \"%[\" 1}}",
                "{{printf \"%[1\" 1}}",
                "{{printf \"%.*[1]d\" 1}}",
                "{{printf \"%-*d\" -5 1}}",
                "{{0x}}",
                "{{0b}}",
                "{{1e}}",
                "{{0x1.8}}",
                "{{1e999}}",
                "{{-}}",
                "{{+}}",
                "{{.}}{{.}}{{/* */}}{{- -}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_free_ char *out = render(inputs[i], d);
                ASSERT_TRUE(out != NULL);
        }
}

TEST(nul_bytes_in_values)
{
        _cleanup_json_ json_t *d = json_pack("{s:s#}", "S", "a\0b", (size_t)3);
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ char *q = render("{{printf \"%q\" .S}} {{json .S}} {{len .S}}", d);

        ASSERT_OK(tmpl_parse("{{.S}}", &t, NULL));
        ASSERT_OK(tmpl_execute(t, d, &out, NULL));
        ASSERT_STREQ(out, "a"); /* the NUL is written; a C string ends there */
        ASSERT_STREQ(q, "\"a\\x00b\" \"a\\u0000b\" 3");
}

/* ---- tabwriter ---- */

TEST(tabwriter_docker_table)
{
        _cleanup_free_ char *out = tabwriter_format(
                "CONTAINER ID\tIMAGE\tNAMES\n4c01db0b339c\tnginx:latest\tweb\nab\tb\tc\n", 10, 1, 3);

        ASSERT_STREQ(out, "CONTAINER ID   IMAGE          NAMES\n"
                          "4c01db0b339c   nginx:latest   web\n"
                          "ab             b              c\n");
}

TEST(tabwriter_blocks_and_trailing_cells)
{
        /* a line without tabs ends the column blocks; trailing cells are never padded */
        _cleanup_free_ char *out = tabwriter_format("a\tb\nlonger cell\tc\nbreak\nx\ty\n", 0, 1, 1);
        /* text after the last tab only counts if there is some: "a\t" at the end is not aligned */
        _cleanup_free_ char *out2 = tabwriter_format("aaaa\tb\nc\t", 0, 1, 1);
        _cleanup_free_ char *out3 = tabwriter_format("", 10, 1, 3);

        ASSERT_STREQ(out, "a           b\nlonger cell c\nbreak\nx y\n");
        ASSERT_STREQ(out2, "aaaa b\nc");
        ASSERT_STREQ(out3, "");
}

TEST(tabwriter_counts_runes_and_minwidth)
{
        _cleanup_free_ char *out = tabwriter_format("\xc3\xa9t\xc3\xa9\tx\nab\ty\n", 0, 1, 2);
        _cleanup_free_ char *out2 = tabwriter_format("a\tb\n", 10, 1, 3);

        ASSERT_STREQ(out, "\xc3\xa9t\xc3\xa9  x\nab   y\n");
        ASSERT_STREQ(out2, "a         b\n");
}

TEST(tabwriter_hostile_shapes)
{
        char *many = NULL, *tall = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&many, &n);
        _cleanup_free_ char *a = NULL, *b = NULL;

        /* 200000 columns in one line: no recursion per column */
        for (int i = 0; i < 200000; i++)
                fputs("x\t", f);
        fputs("\n", f);
        fclose(f);
        a = tabwriter_format(many, 10, 1, 3);
        ASSERT_EQ(strlen(a), 200000 * 10 + 1);
        free(many);

        /* a wide cell above a million short lines would pad every one: the text comes back unaligned */
        f = open_memstream(&tall, &n);
        for (int i = 0; i < 200; i++)
                fputs("wwwwwwwwww", f);
        fputs("\tz\n", f);
        for (int i = 0; i < 1000000; i++)
                fputs("\t\n", f);
        fclose(f);
        b = tabwriter_format(tall, 10, 1, 3);
        ASSERT_TRUE(strcmp(b, tall) == 0);
        free(tall);
}
