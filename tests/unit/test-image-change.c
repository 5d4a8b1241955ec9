/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * import --change: Dockerfile instructions applied to docker import's config.  The expectations follow
 * moby's BuildFromConfig (builder/dockerfile) over buildkit's parser, instructions and shell lexer:
 * docker's values and, where docker has one, docker's message (with the instruction in front where
 * docker's own message does not name it).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "image-change.h"
#include "image-store.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

#define CH(...) ((char *const[]){ __VA_ARGS__, NULL })

static const char import_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* docker import's container config (image-archive.c's import_container_config) */
static json_t *import_config(void)
{
        return json_pack(
                "{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:[s], s:n, s:s, s:n, s:s, s:n, s:n, s:n}",
                "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", import_env, "Cmd",
                "Image", "", "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

/* The changes applied to the import config: the config as compact JSON, or "ERR <message>". */
static char *run_on(json_t *cfg, char *const *changes)
{
        Error *e = NULL;
        char *out;

        if (image_change_apply(cfg, changes, &e) < 0) {
                out = xasprintf("ERR %s", e && e->msg ? e->msg : "(no message)");
                error_free(e);
                return out;
        }
        if (e)
                abort(); /* success must leave err alone */
        return jx_dump(cfg, false);
}

static char *run(char *const *changes)
{
        _cleanup_json_ json_t *cfg = import_config();
        return run_on(cfg, changes);
}

/* One key of the result as compact JSON ("absent" when missing), or "ERR <message>". */
static char *field(char *const *changes, const char *key)
{
        _cleanup_json_ json_t *cfg = import_config();
        Error *e = NULL;
        json_t *v;
        char *out;

        if (image_change_apply(cfg, changes, &e) < 0) {
                out = xasprintf("ERR %s", e && e->msg ? e->msg : "(no message)");
                error_free(e);
                return out;
        }
        v = json_object_get(cfg, key);
        if (!v)
                return xstrdup("absent");
        out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!out)
                abort();
        return out;
}

#define EXPECT_FIELD(changes, key, want)                                                                    \
        do {                                                                                                \
                _cleanup_free_ char *_got = field(changes, key);                                            \
                ASSERT_STREQ(_got, want);                                                                   \
        } while (0)

#define EXPECT_ERR(changes, want)                                                                           \
        do {                                                                                                \
                _cleanup_free_ char *_got = run(changes);                                                   \
                ASSERT_STREQ(_got, "ERR " want);                                                            \
        } while (0)

/* ================================================================ CMD and ENTRYPOINT */

TEST(cmd_exec_and_shell_forms)
{
        EXPECT_FIELD(CH("CMD [\"echo\",\"hi\"]"), "Cmd", "[\"echo\",\"hi\"]");
        EXPECT_FIELD(CH("CMD [ \"echo\" , \"a b\" ]"), "Cmd", "[\"echo\",\"a b\"]");
        EXPECT_FIELD(CH("CMD echo hi  there"), "Cmd", "[\"/bin/sh\",\"-c\",\"echo hi  there\"]");
        /* not JSON (or not an array): the shell form, text as written */
        EXPECT_FIELD(CH("CMD [ \"a\", "), "Cmd", "[\"/bin/sh\",\"-c\",\"[ \\\"a\\\",\"]");
        EXPECT_FIELD(CH("CMD {\"a\":1}"), "Cmd", "[\"/bin/sh\",\"-c\",\"{\\\"a\\\":1}\"]");
        EXPECT_FIELD(CH("CMD [abc"), "Cmd", "[\"/bin/sh\",\"-c\",\"[abc\"]");
        /* Go's json.Decoder reads the first value and ignores what follows */
        EXPECT_FIELD(CH("CMD [\"a\"] trailing"), "Cmd", "[\"a\"]");
        EXPECT_FIELD(CH("CMD [\"\\u00e9\\t\"]"), "Cmd", "[\"\xc3\xa9\\t\"]");
        /* no arguments, or an empty array: an empty command */
        EXPECT_FIELD(CH("CMD"), "Cmd", "[]");
        EXPECT_FIELD(CH("CMD []"), "Cmd", "[]");
        /* the last one wins */
        EXPECT_FIELD(CH("CMD a", "CMD [\"b\"]"), "Cmd", "[\"b\"]");
        EXPECT_ERR(CH("CMD [1]"),
                   "CMD: when using JSON array syntax, arrays must be comprised of strings only");
        EXPECT_ERR(CH("CMD [\"a\", null]"),
                   "CMD: when using JSON array syntax, arrays must be comprised of strings only");
        EXPECT_ERR(CH("CMD [[\"a\"]]"),
                   "CMD: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(entrypoint_and_cmd)
{
        EXPECT_FIELD(CH("ENTRYPOINT [\"/e\", \"-x\"]"), "Entrypoint", "[\"/e\",\"-x\"]");
        EXPECT_FIELD(CH("ENTRYPOINT /e -x"), "Entrypoint", "[\"/bin/sh\",\"-c\",\"/e -x\"]");
        EXPECT_FIELD(CH("ENTRYPOINT []"), "Entrypoint", "[]");
        EXPECT_FIELD(CH("ENTRYPOINT"), "Entrypoint", "[]");
        /* ENTRYPOINT clears Cmd unless a CMD with arguments came first in the same changes */
        EXPECT_FIELD(CH("ENTRYPOINT [\"/e\"]"), "Cmd", "null");
        EXPECT_FIELD(CH("CMD [\"a\"]", "ENTRYPOINT [\"/e\"]"), "Cmd", "[\"a\"]");
        EXPECT_FIELD(CH("CMD a", "ENTRYPOINT [\"/e\"]"), "Cmd", "[\"/bin/sh\",\"-c\",\"a\"]");
        EXPECT_FIELD(CH("ENTRYPOINT [\"/e\"]", "CMD [\"a\"]"), "Cmd", "[\"a\"]");
        EXPECT_FIELD(CH("CMD []", "ENTRYPOINT [\"/e\"]"), "Cmd", "null");
        EXPECT_FIELD(CH("CMD", "ENTRYPOINT [\"/e\"]"), "Cmd", "null");
        EXPECT_ERR(CH("ENTRYPOINT [true]"),
                   "ENTRYPOINT: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(shell_form_uses_the_configs_shell)
{
        _cleanup_json_ json_t *cfg = import_config();
        _cleanup_free_ char *out = NULL;

        json_object_set_new(cfg, "Shell", json_pack("[s, s]", "/bin/bash", "-ec"));
        json_object_set_new(cfg, "ArgsEscaped", json_true());
        out = run_on(cfg, CH("CMD echo hi"));
        ASSERT_CONTAINS(out, "\"Cmd\":[\"/bin/bash\",\"-ec\",\"echo hi\"]");
        /* ArgsEscaped is Windows': a CMD on Linux sets it false, which docker omits */
        ASSERT_TRUE(!strstr(out, "ArgsEscaped"));
}

TEST(keywords_in_any_case)
{
        EXPECT_FIELD(CH("cmd x"), "Cmd", "[\"/bin/sh\",\"-c\",\"x\"]");
        EXPECT_FIELD(CH("Env a=1"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"a=1\"]");
        EXPECT_FIELD(CH("wOrKdIr /x"), "WorkingDir", "\"/x\"");
        EXPECT_FIELD(CH("  \tUSER   nobody  "), "User", "\"nobody\"");
}

/* ================================================================ ENV and LABEL */

TEST(env_forms)
{
        EXPECT_FIELD(CH("ENV A=1"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\"]");
        EXPECT_FIELD(CH("ENV PATH=/x A=1 B=\"v 2\" C='$A' D=\\$A E=a\\ b F="), "Env",
                     "[\"PATH=/x\",\"A=1\",\"B=v 2\",\"C=$A\",\"D=$A\",\"E=a b\",\"F=\"]");
        /* the legacy form: the rest of the line is the value, quotes still taken off */
        EXPECT_FIELD(
                CH("ENV A  b c   d"), "Env",
                "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=b c   d\"]");
        EXPECT_FIELD(CH("ENV A \"quoted value\""), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=quoted "
                     "value\"]");
        /* an existing variable is replaced where it stands */
        EXPECT_FIELD(CH("ENV A=1 B=2", "ENV PATH=/p A=3"), "Env", "[\"PATH=/p\",\"A=3\",\"B=2\"]");
        /* quotes and escapes inside words: parseWords keeps them together, the lexer takes them off */
        EXPECT_FIELD(CH("ENV \"A\"=\"x\"y'z' B=\"a\\\"b\" C='a\\b'"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=xyz\",\"B=a\\\"b\","
                     "\"C=a\\\\b\"]");
}

TEST(env_errors)
{
        EXPECT_ERR(CH("ENV"), "ENV requires at least one argument");
        EXPECT_ERR(CH("ENV A"), "ENV must have two arguments");
        EXPECT_ERR(CH("ENV A=1 B"),
                   "ENV: Syntax error - can't find = in \"B\". Must be of the form: name=value");
        EXPECT_ERR(CH("ENV =1"), "ENV names can not be blank");
        /* blank after substitution too (docker would store "=1") */
        EXPECT_ERR(CH("ENV $UNSET=1"), "ENV names can not be blank");
        EXPECT_ERR(CH("ENV A=\"open"),
                   "ENV: unexpected end of statement while looking for matching double-quote");
        EXPECT_ERR(CH("ENV A='open"),
                   "ENV: unexpected end of statement while looking for matching single-quote");
        EXPECT_ERR(CH("ENV --flag A=1"), "ENV: unknown flag: flag");
}

TEST(substitutions)
{
        EXPECT_FIELD(CH("ENV A=1 E=",
                        "ENV B=$A C=${A} D=${A}x G=$Ax H=${NONE} I=$ J=$$ K=${A:-d} L=${NONE:-d} "
                        "M=${E:-d} N=${E-d} O=${A:+s} P=${NONE:+s} Q=${E:+s} R=${E+s} S=${A?} "
                        "T=\"$A ${A}\" U='$A' V=\\$A W=${NONE:-\"x y\"} X=${NONE:-$A}"),
                     "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=1\",\"E=\",\"B=1\","
                     "\"C=1\",\"D=1x\",\"G=\",\"H=\",\"I=$\",\"J=\",\"K=1\",\"L=d\",\"M=d\",\"N=\",\"O=s\","
                     "\"P=\","
                     "\"Q=\",\"R=s\",\"S=1\",\"T=1 1\",\"U=$A\",\"V=$A\",\"W=x y\",\"X=1\"]");
        /* words are expanded against the Env before the instruction: B sees no A */
        EXPECT_FIELD(CH("ENV A=1 B=$A", "ENV C=$A"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=1\",\"B=\",\"C=1\"]");
        EXPECT_FIELD(CH("ENV PATH=$PATH:/opt/bin"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin\"]");
        /* digits and special parameters are names of their own */
        EXPECT_FIELD(CH("ENV 1=one", "ENV A=$1x B=$10 C=${1}"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"1=one\",\"A=onex\","
                     "\"B=\",\"C=one\"]");
        /* in double quotes the escape only takes ", $ and itself */
        EXPECT_FIELD(
                CH("ENV A=\"\\a\\$\\\\\""), "Env",
                "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=\\\\a$\\\\\"]");
        EXPECT_FIELD(CH("LABEL l=${NONE:-default}"), "Labels", "{\"l\":\"default\"}");
        EXPECT_FIELD(CH("ENV D=/data", "VOLUME $D ${D}2", "WORKDIR $D", "USER ${U:-1000}"), "Volumes",
                     "{\"/data\":{},\"/data2\":{}}");
        EXPECT_FIELD(CH("ENV D=/data", "WORKDIR $D/x"), "WorkingDir", "\"/data/x\"");
        EXPECT_FIELD(CH("ENV U=1", "USER ${U}:${G:-2}"), "User", "\"1:2\"");
        EXPECT_FIELD(CH("ENV S=KILL", "STOPSIGNAL SIG$S"), "StopSignal", "\"SIGKILL\"");
        /* CMD, ENTRYPOINT and ONBUILD are not expanded */
        EXPECT_FIELD(CH("ENV A=1", "CMD echo $A"), "Cmd", "[\"/bin/sh\",\"-c\",\"echo $A\"]");
}

TEST(substitution_errors)
{
        EXPECT_ERR(CH("ENV A=${B"), "ENV: syntax error: missing '}'");
        EXPECT_ERR(CH("ENV A=${"), "ENV: syntax error: missing '}'");
        EXPECT_ERR(CH("ENV A=${}"), "ENV: syntax error: bad substitution");
        EXPECT_ERR(CH("ENV A=${:-x}"), "ENV: syntax error: bad substitution");
        EXPECT_ERR(CH("ENV A=${B:-x"), "ENV: syntax error: missing '}'");
        EXPECT_ERR(CH("ENV A=${B!}"), "ENV: unsupported modifier (!) in substitution");
        EXPECT_ERR(CH("ENV A=${B:x}"), "ENV: unsupported modifier (:x) in substitution");
        EXPECT_ERR(CH("ENV A=${B#x}"), "ENV: unsupported modifier (#) in substitution");
        EXPECT_ERR(CH("ENV A=${B%x}"), "ENV: unsupported modifier (%) in substitution");
        EXPECT_ERR(CH("ENV A=${B/x/y}"), "ENV: unsupported modifier (/) in substitution");
        EXPECT_ERR(CH("ENV A=${B?}"), "ENV: B: is not allowed to be unset");
        EXPECT_ERR(CH("ENV A=\"${B?gone}\""), "ENV: B: gone");
        EXPECT_ERR(CH("ENV E=", "ENV A=${E:?}"), "ENV: E: is not allowed to be empty");
        EXPECT_ERR(CH("WORKDIR ${B?}"), "WORKDIR: B: is not allowed to be unset");
        EXPECT_ERR(CH("ENV A=\"${B:-${C}\""), "ENV: syntax error: missing '}'");
}

TEST(labels)
{
        /* Go marshals a map with sorted keys */
        EXPECT_FIELD(
                CH("LABEL z=1 a=\"two words\" \"m n\"=3", "LABEL a=override", "label legacy form value"),
                "Labels", "{\"a\":\"override\",\"legacy\":\"form value\",\"m n\":\"3\",\"z\":\"1\"}");
        EXPECT_FIELD(CH("LABEL empty="), "Labels", "{\"empty\":\"\"}");
        EXPECT_ERR(CH("LABEL"), "LABEL requires at least one argument");
        EXPECT_ERR(CH("LABEL x"), "LABEL must have two arguments");
        EXPECT_ERR(CH("LABEL a=b c"),
                   "LABEL: Syntax error - can't find = in \"c\". Must be of the form: name=value");
        EXPECT_ERR(CH("LABEL =x"), "LABEL names can not be blank");
}

/* ================================================================ EXPOSE, VOLUME */

TEST(expose)
{
        EXPECT_FIELD(
                CH("EXPOSE 80 53/udp 8000-8002 9/SCTP 22/tcp 443/"), "ExposedPorts",
                "{\"22/tcp\":{},\"443/tcp\":{},\"53/udp\":{},\"80/tcp\":{},\"8000/tcp\":{},\"8001/tcp\":{},"
                "\"8002/tcp\":{},\"9/sctp\":{}}");
        /* docker's [ip:][hostport:] prefix is taken and dropped */
        EXPECT_FIELD(CH("EXPOSE 127.0.0.1:8080:80 8081:81/udp [::1]::82 ::83"), "ExposedPorts",
                     "{\"80/tcp\":{},\"81/udp\":{},\"82/tcp\":{},\"83/tcp\":{}}");
        /* one word can become several through a variable, or none */
        EXPECT_FIELD(CH("ENV P=\"1 2/udp\"", "EXPOSE $P \"3\" $NONE"), "ExposedPorts",
                     "{\"1/tcp\":{},\"2/udp\":{},\"3/tcp\":{}}");
        EXPECT_FIELD(CH("EXPOSE $NONE"), "ExposedPorts", "absent");
        /* ExposedPorts goes where container.Config has it, after AttachStderr */
        {
                _cleanup_free_ char *out = run(CH("EXPOSE 80"));
                ASSERT_CONTAINS(out,
                                "\"AttachStderr\":false,\"ExposedPorts\":{\"80/tcp\":{}},\"Tty\":false");
        }
        EXPECT_FIELD(CH("EXPOSE 0-65535"), "User", "\"\"");
}

TEST(expose_errors)
{
        EXPECT_ERR(CH("EXPOSE"), "EXPOSE requires at least one argument");
        EXPECT_ERR(CH("EXPOSE 65536"), "EXPOSE: invalid containerPort: 65536");
        EXPECT_ERR(CH("EXPOSE http"), "EXPOSE: invalid containerPort: http");
        EXPECT_ERR(CH("EXPOSE -1"), "EXPOSE: invalid containerPort: -1");
        EXPECT_ERR(CH("EXPOSE 9-8"), "EXPOSE: invalid containerPort: 9-8");
        EXPECT_ERR(CH("EXPOSE 80/http"), "EXPOSE: invalid proto: http");
        EXPECT_ERR(CH("EXPOSE /tcp"), "EXPOSE: no port specified: /tcp<empty>");
        EXPECT_ERR(CH("EXPOSE 1.2.3:80:80"), "EXPOSE: invalid IP address: 1.2.3");
        EXPECT_ERR(CH("EXPOSE x:80"), "EXPOSE: invalid hostPort: x");
        EXPECT_ERR(CH("EXPOSE 1-3:80-81"),
                   "EXPOSE: invalid ranges specified for container and host Ports: 80-81 and 1-3");
        /* a sane limit: every port of one protocol, and no more */
        EXPECT_ERR(CH("EXPOSE 0-65535", "EXPOSE 1/udp"), "EXPOSE: more than 65536 ports exposed");
}

TEST(volumes)
{
        EXPECT_FIELD(CH("VOLUME [\"/b\", \"/a\"]", "VOLUME /c  /d", "VOLUME [\" /e \"]"), "Volumes",
                     "{\"/a\":{},\"/b\":{},\"/c\":{},\"/d\":{},\"/e\":{}}");
        EXPECT_FIELD(CH("VOLUME [\"/with space\"]"), "Volumes", "{\"/with space\":{}}");
        /* the space-separated form splits before the lexer sees quotes, as docker's */
        EXPECT_ERR(CH("VOLUME \"/with space\""),
                   "VOLUME: unexpected end of statement while looking for matching double-quote");
        EXPECT_ERR(CH("VOLUME"), "VOLUME requires at least one argument");
        EXPECT_ERR(CH("VOLUME [\"\"]"), "VOLUME specified can not be an empty string");
        EXPECT_ERR(CH("VOLUME \"\""), "VOLUME specified can not be an empty string");
        EXPECT_ERR(CH("VOLUME [\"/a\", 1]"),
                   "VOLUME: when using JSON array syntax, arrays must be comprised of strings only");
}

/* ================================================================ WORKDIR, USER, STOPSIGNAL */

TEST(workdir)
{
        EXPECT_FIELD(CH("WORKDIR /tmp"), "WorkingDir", "\"/tmp\"");
        EXPECT_FIELD(CH("WORKDIR //a/./b//c/../d/"), "WorkingDir", "\"/a/b/d\"");
        EXPECT_FIELD(CH("WORKDIR a"), "WorkingDir", "\"/a\"");
        EXPECT_FIELD(CH("WORKDIR /a", "WORKDIR b", "WORKDIR ../c"), "WorkingDir", "\"/a/c\"");
        EXPECT_FIELD(CH("WORKDIR /a", "WORKDIR ../../../.."), "WorkingDir", "\"/\"");
        EXPECT_FIELD(CH("WORKDIR /a b"), "WorkingDir", "\"/a b\"");
        EXPECT_ERR(CH("WORKDIR"), "WORKDIR requires exactly one argument");
        EXPECT_ERR(CH("WORKDIR \"\""), "WORKDIR: cannot normalize nothing");
        EXPECT_ERR(CH("WORKDIR --x /a"), "WORKDIR: unknown flag: x");
        {
                _cleanup_free_ char *big = xmalloc(5000), *line = NULL;
                memset(big, 'a', 4999);
                big[4999] = 0;
                line = xasprintf("WORKDIR /%s", big);
                EXPECT_ERR(CH(line), "WORKDIR: the path is longer than 4095 bytes");
        }
}

TEST(user)
{
        EXPECT_FIELD(CH("USER 1000"), "User", "\"1000\"");
        EXPECT_FIELD(CH("USER nobody:nogroup"), "User", "\"nobody:nogroup\"");
        /* parseString: the rest of the line is the one argument */
        EXPECT_FIELD(CH("USER a b"), "User", "\"a b\"");
        EXPECT_ERR(CH("USER"), "USER requires exactly one argument");
}

TEST(stopsignal)
{
        EXPECT_FIELD(CH("STOPSIGNAL SIGKILL"), "StopSignal", "\"SIGKILL\"");
        EXPECT_FIELD(CH("STOPSIGNAL term"), "StopSignal", "\"term\"");
        EXPECT_FIELD(CH("STOPSIGNAL 9"), "StopSignal", "\"9\"");
        EXPECT_FIELD(CH("STOPSIGNAL RTMIN+3"), "StopSignal", "\"RTMIN+3\"");
        /* StopSignal goes after Labels */
        {
                _cleanup_free_ char *out = run(CH("STOPSIGNAL 15"));
                ASSERT_CONTAINS(out, "\"Labels\":null,\"StopSignal\":\"15\"}");
        }
        /* buildkit parses no flags for STOPSIGNAL: they are ignored */
        EXPECT_FIELD(CH("STOPSIGNAL --x=1 HUP"), "StopSignal", "\"HUP\"");
        EXPECT_ERR(CH("STOPSIGNAL"), "STOPSIGNAL requires exactly one argument");
        EXPECT_ERR(CH("STOPSIGNAL FOO"), "STOPSIGNAL: Invalid signal: FOO");
        EXPECT_ERR(CH("STOPSIGNAL 0"), "STOPSIGNAL: Invalid signal: 0");
        EXPECT_ERR(CH("STOPSIGNAL 999"), "STOPSIGNAL: Invalid signal: 999");
        EXPECT_ERR(CH("STOPSIGNAL \" 9\""), "STOPSIGNAL: Invalid signal:  9");
        EXPECT_ERR(CH("STOPSIGNAL $NONE"), "STOPSIGNAL: Invalid signal: ");
}

/* ================================================================ ONBUILD, HEALTHCHECK */

TEST(onbuild)
{
        EXPECT_FIELD(
                CH("ONBUILD RUN echo hi", "onbuild  add . /app", "ONBUILD CMD [\"x\"]", "ONBUILD FOO bar"),
                "OnBuild", "[\"RUN echo hi\",\"add . /app\",\"CMD [\\\"x\\\"]\",\"FOO bar\"]");
        /* not expanded; the text as written after the keyword */
        EXPECT_FIELD(CH("ONBUILD ENV A=$B"), "OnBuild", "[\"ENV A=$B\"]");
        EXPECT_ERR(CH("ONBUILD"), "ONBUILD requires at least one argument");
        EXPECT_ERR(CH("ONBUILD ONBUILD RUN x"),
                   "ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        EXPECT_ERR(CH("ONBUILD from x"), "ONBUILD: FROM isn't allowed as an ONBUILD trigger");
        EXPECT_ERR(CH("ONBUILD MAINTAINER me"), "ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger");
        /* the trigger is parsed: its syntax errors show at import */
        EXPECT_ERR(CH("ONBUILD CMD [1]"),
                   "ONBUILD: CMD: when using JSON array syntax, arrays must be comprised of strings only");
        EXPECT_ERR(CH("ONBUILD ENV x"), "ONBUILD: ENV must have two arguments");
        EXPECT_ERR(CH("ONBUILD --x RUN y"), "ONBUILD: unknown flag: x");
}

TEST(healthcheck)
{
        EXPECT_FIELD(CH("HEALTHCHECK NONE"), "Healthcheck", "{\"Test\":[\"NONE\"]}");
        EXPECT_FIELD(CH("healthcheck none"), "Healthcheck", "{\"Test\":[\"NONE\"]}");
        EXPECT_FIELD(CH("HEALTHCHECK CMD curl -f http://localhost/"), "Healthcheck",
                     "{\"Test\":[\"CMD-SHELL\",\"curl -f http://localhost/\"]}");
        EXPECT_FIELD(CH("HEALTHCHECK cmd [\"/check\", \"-v\"]"), "Healthcheck",
                     "{\"Test\":[\"CMD\",\"/check\",\"-v\"]}");
        EXPECT_FIELD(CH("HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1.5h "
                        "--start-interval=500us500ms "
                        "--retries=3 CMD true"),
                     "Healthcheck",
                     "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":5000000000,\"Timeout\":90000000000,"
                     "\"StartPeriod\":5400000000000,\"StartInterval\":500500000,\"Retries\":3}");
        EXPECT_FIELD(CH("HEALTHCHECK --interval=.5s --timeout=1.ms --retries=+2 CMD true"), "Healthcheck",
                     "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":500000000,\"Timeout\":1000000,"
                     "\"Retries\":2}");
        /* an empty value is no value; NONE takes no flags and ignores them */
        EXPECT_FIELD(CH("HEALTHCHECK --interval= CMD true"), "Healthcheck",
                     "{\"Test\":[\"CMD-SHELL\",\"true\"]}");
        EXPECT_FIELD(CH("HEALTHCHECK --bogus NONE"), "Healthcheck", "{\"Test\":[\"NONE\"]}");
        /* Healthcheck goes after Cmd */
        {
                _cleanup_free_ char *out = run(CH("HEALTHCHECK NONE"));
                ASSERT_CONTAINS(out, "\"Cmd\":null,\"Healthcheck\":{\"Test\":[\"NONE\"]},\"Image\"");
        }
}

TEST(healthcheck_errors)
{
        EXPECT_ERR(CH("HEALTHCHECK"), "HEALTHCHECK requires at least one argument");
        EXPECT_ERR(CH("HEALTHCHECK NONE x"), "HEALTHCHECK NONE takes no arguments");
        EXPECT_ERR(CH("HEALTHCHECK CMD"), "HEALTHCHECK: Missing command after HEALTHCHECK CMD");
        EXPECT_ERR(CH("HEALTHCHECK RUN x"), "HEALTHCHECK: Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
        EXPECT_ERR(CH("HEALTHCHECK --foo=1 CMD x"), "HEALTHCHECK: unknown flag: foo");
        EXPECT_ERR(CH("HEALTHCHECK --interval CMD x"), "HEALTHCHECK: missing a value on flag: interval");
        EXPECT_ERR(CH("HEALTHCHECK --retries=1 --retries=2 CMD x"),
                   "HEALTHCHECK: duplicate flag specified: retries");
        EXPECT_ERR(CH("HEALTHCHECK --interval=0s CMD x"),
                   "HEALTHCHECK: Interval \"interval\" cannot be less than 1ms");
        EXPECT_ERR(CH("HEALTHCHECK --timeout=999us CMD x"),
                   "HEALTHCHECK: Interval \"timeout\" cannot be less than 1ms");
        EXPECT_ERR(CH("HEALTHCHECK --interval=-1s CMD x"),
                   "HEALTHCHECK: Interval \"interval\" cannot be less than 1ms");
        EXPECT_ERR(CH("HEALTHCHECK --interval=5 CMD x"),
                   "HEALTHCHECK: time: missing unit in duration \"5\"");
        EXPECT_ERR(CH("HEALTHCHECK --interval=5d CMD x"),
                   "HEALTHCHECK: time: unknown unit \"d\" in duration \"5d\"");
        EXPECT_ERR(CH("HEALTHCHECK --interval=s CMD x"), "HEALTHCHECK: time: invalid duration \"s\"");
        EXPECT_ERR(CH("HEALTHCHECK --interval=. CMD x"), "HEALTHCHECK: time: invalid duration \".\"");
        EXPECT_ERR(CH("HEALTHCHECK --interval=9999999999h CMD x"),
                   "HEALTHCHECK: time: invalid duration \"9999999999h\"");
        EXPECT_ERR(CH("HEALTHCHECK --retries=0 CMD x"), "HEALTHCHECK: --retries must be at least 1 (not 0)");
        EXPECT_ERR(CH("HEALTHCHECK --retries=x CMD x"),
                   "HEALTHCHECK: strconv.ParseInt: parsing \"x\": invalid syntax");
        EXPECT_ERR(CH("HEALTHCHECK --retries=3000000000 CMD x"),
                   "HEALTHCHECK: strconv.ParseInt: parsing \"3000000000\": value out of range");
        EXPECT_ERR(CH("HEALTHCHECK CMD [1]"),
                   "HEALTHCHECK: when using JSON array syntax, arrays must be comprised of strings only");
}

/* ================================================================ what is not a change command */

TEST(not_change_commands)
{
        /* docker's words, with the instruction as it was written */
        EXPECT_ERR(CH("RUN x"), "RUN is not a valid change command");
        EXPECT_ERR(CH("run x"), "run is not a valid change command");
        EXPECT_ERR(CH("FROM busybox"), "FROM is not a valid change command");
        EXPECT_ERR(CH("COPY a b"), "COPY is not a valid change command");
        EXPECT_ERR(CH("ADD a b"), "ADD is not a valid change command");
        EXPECT_ERR(CH("ARG A=1"), "ARG is not a valid change command");
        EXPECT_ERR(CH("SHELL [\"/bin/bash\"]"), "SHELL is not a valid change command");
        EXPECT_ERR(CH("MAINTAINER me"), "MAINTAINER is not a valid change command");
        EXPECT_ERR(CH("BOGUS x"), "BOGUS is not a valid change command");
        EXPECT_ERR(CH("[\"x\"]"), "[\"x\"] is not a valid change command");
        /* every instruction is checked before any is applied, and syntax before validity, as dockerd */
        EXPECT_ERR(CH("ENV A=1", "RUN x"), "RUN is not a valid change command");
        EXPECT_ERR(CH("ENV", "RUN x"), "RUN is not a valid change command");
        EXPECT_ERR(CH("RUN x", "CMD [1]"),
                   "CMD: when using JSON array syntax, arrays must be comprised of strings only");
        EXPECT_ERR(CH("RUN [1]"),
                   "RUN: when using JSON array syntax, arrays must be comprised of strings only");
        EXPECT_ERR(CH("STOPSIGNAL FOO", "WORKDIR"), "WORKDIR requires exactly one argument");
}

TEST(flags)
{
        EXPECT_ERR(CH("CMD --x echo"), "CMD: unknown flag: x");
        EXPECT_ERR(CH("ENTRYPOINT --x=1 e"), "ENTRYPOINT: unknown flag: x");
        EXPECT_ERR(CH("VOLUME --x /a"), "VOLUME: unknown flag: x");
        EXPECT_ERR(CH("EXPOSE --x 80"), "EXPOSE: unknown flag: x");
        EXPECT_ERR(CH("LABEL --\"q x\"=1 a=b"), "LABEL: unknown flag: q x");
        /* "--" ends the flags; a single dash is no flag */
        EXPECT_FIELD(CH("CMD -- --help"), "Cmd", "[\"/bin/sh\",\"-c\",\"--help\"]");
        EXPECT_FIELD(CH("CMD -x"), "Cmd", "[\"/bin/sh\",\"-c\",\"-x\"]");
}

/* ================================================================ the text */

TEST(lines_comments_continuations)
{
        /* the changes are joined with newlines into one Dockerfile */
        EXPECT_FIELD(CH("ENV A=1\nENV B=2", "# a comment\n\n   \nENV C=3"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=1\",\"B=2\",\"C=3\"]");
        /* a continuation keeps the next line's leading spaces; comments and blank lines inside are skipped
         */
        EXPECT_FIELD(CH("CMD echo \\\n# inside\n\n   hello \\  \n world"), "Cmd",
                     "[\"/bin/sh\",\"-c\",\"echo    hello  world\"]");
        EXPECT_FIELD(
                CH("ENV A=1 \\", "B=2"), "Env",
                "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\",\"B=2\"]");
        /* an escaped escape at the end is no continuation; a continuation at the very end is dropped */
        EXPECT_FIELD(CH("CMD a\\\\", "USER u"), "Cmd", "[\"/bin/sh\",\"-c\",\"a\\\\\\\\\"]");
        EXPECT_FIELD(CH("CMD a \\"), "Cmd", "[\"/bin/sh\",\"-c\",\"a\"]");
        /* CRLF line ends and a byte order mark */
        EXPECT_FIELD(CH("\xef\xbb\xbfUSER a\r\nWORKDIR /w\r\n"), "WorkingDir", "\"/w\"");
        EXPECT_FIELD(CH("  # indented comment\nUSER b"), "User", "\"b\"");
        EXPECT_ERR(CH(""), "--change: no instruction (only blank lines or comments)");
        EXPECT_ERR(CH("# only\n\n", "   "), "--change: no instruction (only blank lines or comments)");
}

TEST(escape_directive)
{
        EXPECT_FIELD(CH("# escape=`\nENV A=a\\b `\n  B=c`$d"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=a\\\\b\",\"B=c$d\"]");
        EXPECT_FIELD(CH("#ESCAPE = \\", "ENV A=1"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\"]");
        /* directives only come first: later it is a comment */
        EXPECT_FIELD(CH("USER u", "# escape=`", "ENV A=a\\ b"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=a b\"]");
        EXPECT_FIELD(CH("# syntax=docker/dockerfile:1", "# escape=`", "ENV A=`$x"), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=$x\"]");
        EXPECT_ERR(CH("# escape=x", "USER u"), "--change: invalid escape token 'x' does not match ` or \\");
        EXPECT_ERR(CH("# escape=`", "# escape=\\", "USER u"),
                   "--change: only one escape parser directive can be used");
}

TEST(hostile_text)
{
        EXPECT_ERR(CH("ENV A=\x01"), "--change #1: control character 0x01 at byte 6");
        EXPECT_ERR(CH("USER u", "ENV A=\x1b[31m"), "--change #2: control character 0x1b at byte 6");
        EXPECT_ERR(CH("ENV A=1\rB=2"), "--change #1: control character 0x0d at byte 7");
        EXPECT_ERR(CH("ENV A=\x7f"), "--change #1: control character 0x7f at byte 6");
        EXPECT_ERR(CH("ENV A=\xc2\x9b"
                      "31m"),
                   "--change #1: control character U+009B at byte 6");
        EXPECT_ERR(CH("ENV A=\xff"), "--change #1: invalid UTF-8 at byte 6");
        EXPECT_ERR(CH("ENV A=\xc3"), "--change #1: invalid UTF-8 at byte 6");
        EXPECT_ERR(CH("ENV A=\xc0\xaf"), "--change #1: invalid UTF-8 at byte 6");
        EXPECT_ERR(CH("ENV A=\xe0\x80\xaf"), "--change #1: invalid UTF-8 at byte 6");
        EXPECT_ERR(CH("ENV A=\xed\xa0\x80"), "--change #1: invalid UTF-8 at byte 6");
        EXPECT_ERR(CH("ENV A=\xf4\x90\x80\x80"), "--change #1: invalid UTF-8 at byte 6");
        /* tabs and non-ASCII text are fine */
        EXPECT_FIELD(CH("ENV\tA=\"\xc3\xa9\t\xf0\x9f\x90\xb3\""), "Env",
                     "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
                     "bin\",\"A=\xc3\xa9\\t\xf0\x9f\x90\xb3\"]");
        /* a non-breaking space separates words as Go's unicode.IsSpace says */
        EXPECT_FIELD(
                CH("ENV A=1\xc2\xa0"
                   "B=2"),
                "Env",
                "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\",\"B=2\"]");
}

TEST(limits)
{
        _cleanup_free_ char *big = xmalloc(IMAGE_CHANGE_MAX + 16), *msg = NULL;
        char **many = xcalloc(IMAGE_CHANGES_MAX + 2, sizeof(char *));

        memcpy(big, "USER ", 5);
        memset(big + 5, 'u', IMAGE_CHANGE_MAX);
        big[IMAGE_CHANGE_MAX + 5] = 0;
        msg = xasprintf("ERR --change #1: longer than %u bytes", IMAGE_CHANGE_MAX);
        {
                _cleanup_free_ char *out = run(CH(big));
                ASSERT_STREQ(out, msg);
        }
        big[IMAGE_CHANGE_MAX] = 0; /* exactly the limit */
        {
                _cleanup_free_ char *out = field(CH(big), "User");
                ASSERT_EQ(strlen(out), IMAGE_CHANGE_MAX - 5 + 2);
        }
        for (size_t i = 0; i <= IMAGE_CHANGES_MAX; i++)
                many[i] = (char *)"USER u";
        {
                _cleanup_free_ char *out = run(many);
                ASSERT_STREQ(out, "ERR --change: more than 1024 changes");
        }
        many[IMAGE_CHANGES_MAX] = NULL;
        {
                _cleanup_free_ char *out = field(many, "User");
                ASSERT_STREQ(out, "\"u\"");
        }
        free(many);
        /* doubling a variable at each step runs into the substitution budget, not out of memory */
        {
                char *steps[40];
                size_t n = 0;
                steps[n++] = (char *)"ENV A=xxxxxxxxxxxxxxxx";
                while (n < 38)
                        steps[n++] = (char *)"ENV A=$A$A";
                steps[n] = NULL;
                _cleanup_free_ char *out = run(steps);
                ASSERT_STREQ(out, "ERR ENV: substitutions produce more than 1048576 bytes");
        }
        /* nesting is bounded before the stack is */
        {
                _cleanup_free_ char *deep = xmalloc(6 + 100 * 5 + 100 + 1);
                size_t p = 0;
                memcpy(deep, "ENV A=", 6);
                p = 6;
                for (int i = 0; i < 100; i++) {
                        memcpy(deep + p, "${B:-", 5);
                        p += 5;
                }
                memset(deep + p, '}', 100);
                p += 100;
                deep[p] = 0;
                EXPECT_ERR(CH(deep), "ENV: substitutions nested deeper than 64");
        }
}

TEST(failure_leaves_config_untouched)
{
        _cleanup_json_ json_t *cfg = import_config();
        _cleanup_free_ char *before = jx_dump(cfg, false), *after = NULL, *out = NULL;

        /* the first instructions would apply, the last fails */
        out = run_on(cfg, CH("ENV A=1", "CMD x", "WORKDIR /w", "LABEL a=b", "EXPOSE 80", "STOPSIGNAL NOPE"));
        ASSERT_STREQ(out, "ERR STOPSIGNAL: Invalid signal: NOPE");
        after = jx_dump(cfg, false);
        ASSERT_STREQ(after, before);
        /* no changes at all: untouched, and success */
        free(out);
        out = run_on(cfg, NULL);
        ASSERT_STREQ(out, before);
        free(out);
        out = run_on(cfg, CH(NULL));
        ASSERT_STREQ(out, before);
        /* a config that is not an object */
        {
                _cleanup_json_ json_t *arr = json_array();
                _cleanup_free_ char *o = run_on(arr, CH("USER u"));
                ASSERT_STREQ(o, "ERR --change: the image config has no \"config\" object");
        }
}

TEST(whole_config_in_docker_order)
{
        _cleanup_free_ char *out = run(CH("CMD [\"echo\",\"hi\"]", "ENV A=1", "WORKDIR /tmp", "USER 1000",
                                          "LABEL b=2 a=1", "VOLUME /v", "EXPOSE 80", "ENTRYPOINT [\"/e\"]",
                                          "ONBUILD RUN x", "HEALTHCHECK NONE", "STOPSIGNAL TERM"));
        ASSERT_STREQ(
                out,
                "{\"Hostname\":\"\",\"Domainname\":\"\",\"User\":\"1000\",\"AttachStdin\":false,"
                "\"AttachStdout\":false,\"AttachStderr\":false,\"ExposedPorts\":{\"80/"
                "tcp\":{}},\"Tty\":false,"
                "\"OpenStdin\":false,\"StdinOnce\":false,"
                "\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"A=1\"],"
                "\"Cmd\":[\"echo\",\"hi\"],\"Healthcheck\":{\"Test\":[\"NONE\"]},\"Image\":\"\","
                "\"Volumes\":{\"/v\":{}},\"WorkingDir\":\"/tmp\",\"Entrypoint\":[\"/e\"],"
                "\"OnBuild\":[\"RUN x\"],\"Labels\":{\"a\":\"1\",\"b\":\"2\"},\"StopSignal\":\"TERM\"}");
        /* the same changes, the same bytes (the image id is their hash) */
        {
                _cleanup_free_ char *again =
                        run(CH("CMD [\"echo\",\"hi\"]", "ENV A=1", "WORKDIR /tmp", "USER 1000",
                               "LABEL b=2 a=1", "VOLUME /v", "EXPOSE 80", "ENTRYPOINT [\"/e\"]",
                               "ONBUILD RUN x", "HEALTHCHECK NONE", "STOPSIGNAL TERM"));
                ASSERT_STREQ(again, out);
        }
        /* unknown keys of a config are kept, after docker's */
        {
                _cleanup_json_ json_t *cfg = import_config();
                _cleanup_free_ char *o = NULL;
                json_object_set_new(cfg, "XExtra", json_integer(1));
                o = run_on(cfg, CH("USER u"));
                ASSERT_CONTAINS(o, "\"Labels\":null,\"XExtra\":1}");
        }
}

TEST(text_check)
{
        Error *e = NULL;

        ASSERT_OK(image_text_check("--message", "line 1\nline 2\r\n\ttabbed \xe2\x82\xac", 100, true, NULL));
        ASSERT_EQ(image_text_check("--message", "a\nb", 100, false, &e), -EINVAL);
        ASSERT_STREQ(e->msg, "--message: control character 0x0a at byte 1");
        error_clear(&e);
        ASSERT_EQ(image_text_check("--message", "abcdef", 5, true, &e), -EINVAL);
        ASSERT_STREQ(e->msg, "--message: longer than 5 bytes");
        error_clear(&e);
        ASSERT_OK(image_text_check("--message", "abcde", 5, true, NULL));
        ASSERT_OK(image_text_check("--message", "", 5, true, NULL));
        ASSERT_EQ(image_text_check("--message", "\xf0\x9f\x90", 5, true, NULL), -EINVAL);
}

/* ================================================================ through image_import_with */

static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void write_tar(const char *path)
{
        struct archive *a = archive_write_new();
        struct archive_entry *en = archive_entry_new();

        archive_write_set_format_pax_restricted(a);
        if (archive_write_open_filename(a, path) != ARCHIVE_OK)
                abort();
        archive_entry_set_pathname(en, "hello");
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_size(en, 2);
        if (archive_write_header(a, en) != ARCHIVE_OK || archive_write_data(a, "hi", 2) != 2)
                abort();
        archive_entry_free(en);
        if (archive_write_close(a) != ARCHIVE_OK)
                abort();
        archive_write_free(a);
}

TEST(import_with_message_and_changes)
{
        _cleanup_free_ char *d = xstrdup("/tmp/test-image-change-XXXXXX"), *data = NULL, *tar = NULL,
                            *configs = NULL, *id = NULL, *cmd = NULL;
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        Error *e = NULL;

        if (geteuid() != 0)
                TAP_SKIP("import extracts in a chroot'ed child: needs root");
        if (!mkdtemp(d))
                abort();
        data = xasprintf("%s/data", d);
        tar = xasprintf("%s/l.tar", d);
        configs = xasprintf("%s/image/configs/sha256", data);
        write_tar(tar);
        ASSERT_OK(image_store_open(data, &s, NULL));
        {
                ImageImportOptions o = { .message = "my message\nsecond line",
                                         .changes = CH("CMD [\"echo\",\"hi\"]", "ENV A=1", "WORKDIR /tmp",
                                                       "USER 1000"),
                                         .created = "2024-01-02T03:04:05Z" };
                _cleanup_close_ int fd = open(tar, O_RDONLY | O_CLOEXEC);
                ASSERT_OK(image_import_with(s, fd, "changed:1", "-", &o, NULL, NULL, &id, NULL));
        }
        ASSERT_OK(image_lookup(s, "changed:1", NULL, &cfg, NULL));
        ASSERT_STREQ(json_string_value(json_object_get(cfg, "comment")), "my message\nsecond line");
        ASSERT_STREQ(json_string_value(
                             json_object_get(json_array_get(json_object_get(cfg, "history"), 0), "comment")),
                     "my message\nsecond line");
        cmd = jx_dump(json_object_get(json_object_get(cfg, "config"), "Cmd"), false);
        ASSERT_STREQ(cmd, "[\"echo\",\"hi\"]");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(cfg, "config"), "WorkingDir")),
                     "/tmp");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(cfg, "config"), "User")), "1000");
        ASSERT_EQ(count_entries(configs), 1);

        /* a bad change, or a bad message: refused before anything is read or stored */
        {
                ImageImportOptions o = { .changes = CH("ENV A=1", "RUN x") };
                _cleanup_close_ int fd = open(tar, O_RDONLY | O_CLOEXEC);
                char *x = NULL;
                ASSERT_EQ(image_import_with(s, fd, "bad:1", "-", &o, NULL, NULL, &x, &e), -EINVAL);
                ASSERT_STREQ(e->msg, "RUN is not a valid change command");
                error_clear(&e);
                ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 0);
                ASSERT_TRUE(x == NULL);
        }
        {
                ImageImportOptions o = { .message = "bell\a" };
                _cleanup_close_ int fd = open(tar, O_RDONLY | O_CLOEXEC);
                char *x = NULL;
                ASSERT_EQ(image_import_with(s, fd, "bad:2", "-", &o, NULL, NULL, &x, &e), -EINVAL);
                ASSERT_STREQ(e->msg, "--message: control character 0x07 at byte 4");
                error_clear(&e);
        }
        ASSERT_EQ(count_entries(configs), 1);
        ASSERT_EQ(image_lookup(s, "bad:1", NULL, NULL, NULL), -ENOENT);
        {
                _cleanup_free_ char *tmp = xasprintf("%s/image/tmp", data);
                ASSERT_EQ(count_entries(tmp), 0);
        }
        /* the same tar, message and changes at the same time: the same id */
        {
                ImageImportOptions o = { .message = "my message\nsecond line",
                                         .changes = CH("CMD [\"echo\",\"hi\"]", "ENV A=1", "WORKDIR /tmp",
                                                       "USER 1000"),
                                         .created = "2024-01-02T03:04:05Z" };
                _cleanup_close_ int fd = open(tar, O_RDONLY | O_CLOEXEC);
                _cleanup_free_ char *id2 = NULL;
                ASSERT_OK(image_import_with(s, fd, NULL, "-", &o, NULL, NULL, &id2, NULL));
                ASSERT_STREQ(id2, id);
        }
        {
                _cleanup_free_ char *rm = xasprintf("rm -rf '%s'", d);
                image_store_close(TAKE_PTR(s));
                if (system(rm) != 0)
                        abort();
        }
}
