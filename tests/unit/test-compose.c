/* SPDX-License-Identifier: GPL-2.0-or-later */
/* compose's loader (compose.c, compose-yaml.c): YAML, interpolation, .env, merging, errors with lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "compose.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

static char *interp(const char *s, json_t *env, char ***warnings, Error **err)
{
        char *out = NULL;
        if (compose_interpolate(s, env, warnings, &out, err) < 0)
                return NULL;
        return out;
}

#define ASSERT_STR(a, b)                                                                                               \
        do {                                                                                                           \
                const char *_a = (a), *_b = (b);                                                                       \
                if (!_a || strcmp(_a, _b) != 0)                                                                        \
                        TAP_FAIL("%s: \"%s\" != \"%s\"", #a, _a ? _a : "(null)", _b);                                  \
        } while (0)

TEST(interpolation_forms)
{
        _cleanup_json_ json_t *env = json_pack("{s:s, s:s, s:s}", "A", "alpha", "EMPTY", "", "B", "beta");
        char **w = NULL;
        Error *err = NULL;
        static const char *const cases[][2] = {
                { "${A}", "alpha" },
                { "$A-x", "alpha-x" },
                { "x${A}y", "xalphay" },
                { "${UNSET:-dflt}", "dflt" },
                { "${EMPTY:-dflt}", "dflt" },
                { "${EMPTY-dflt}", "" },
                { "${UNSET-dflt}", "dflt" },
                { "${A:-dflt}", "alpha" },
                { "${A:+alt}", "alt" },
                { "${UNSET:+alt}", "" },
                { "${EMPTY+alt}", "alt" },
                { "$${A}", "${A}" },
                { "cost $$5", "cost $5" },
                { "${UNSET:-${B}}", "beta" },
                { "${UNSET:-${ALSO_UNSET:-deep}}", "deep" },
                { "${A?must}", "alpha" },
                { "no dollars", "no dollars" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = interp(cases[i][0], env, &w, &err);
                if (!out)
                        TAP_FAIL("%s: %s", cases[i][0], err ? err->msg : "?");
                ASSERT_STR(out, cases[i][1]);
        }
        ASSERT_TRUE(w == NULL);
}

TEST(interpolation_errors_and_warnings)
{
        _cleanup_json_ json_t *env = json_pack("{s:s}", "EMPTY", "");
        char **w = NULL;
        Error *err = NULL;
        char *out;

        out = interp("${NOPE:?give NOPE a value}", env, &w, &err);
        ASSERT_TRUE(out == NULL && err);
        ASSERT_TRUE(strstr(err->msg, "required variable NOPE is missing a value: give NOPE a value"));
        error_clear(&err);
        out = interp("${EMPTY:?empty is not enough}", env, &w, &err);
        ASSERT_TRUE(out == NULL && err && strstr(err->msg, "EMPTY"));
        error_clear(&err);
        /* ? without the colon accepts an empty value */
        out = interp("${EMPTY?x}", env, &w, &err);
        ASSERT_STR(out, "");
        free(out);
        out = interp("${A", env, &w, &err);
        ASSERT_TRUE(out == NULL && err && strstr(err->msg, "no closing }"));
        error_clear(&err);
        out = interp("${1A}", env, &w, &err);
        ASSERT_TRUE(out == NULL && err);
        error_clear(&err);
        out = interp("${A:x}", env, &w, &err);
        ASSERT_TRUE(out == NULL && err);
        error_clear(&err);
        out = interp("a $ b", env, &w, &err);
        ASSERT_TRUE(out == NULL && err && strstr(err->msg, "$$"));
        error_clear(&err);
        out = interp("[${UNSET_VAR}]", env, &w, &err);
        ASSERT_STR(out, "[]");
        free(out);
        ASSERT_EQ(strv_length(w), 1);
        ASSERT_TRUE(strstr(w[0], "\"UNSET_VAR\" variable is not set"));
        strv_free(w);
}

TEST(yaml_anchors_aliases_merge_keys)
{
        static const char y[] = "base: &base\n"
                                "  image: busybox\n"
                                "  user: \"1000\"\n"
                                "  cap_drop: &caps [ALL]\n"
                                "other: &other\n"
                                "  user: \"2000\"\n"
                                "  read_only: true\n"
                                "svc:\n"
                                "  <<: [*base, *other]\n"
                                "  image: alpine\n"
                                "  caps: *caps\n"
                                "plain:\n"
                                "  n: 12\n"
                                "  f: 1.5\n"
                                "  s: '12'\n"
                                "  t: yes\n"
                                "  z: ~\n"
                                "  o: 012\n";
        _cleanup_json_ json_t *j = NULL, *locs = json_object();
        Error *err = NULL;
        json_t *svc;

        ASSERT_OK(compose_yaml_parse(y, sizeof(y) - 1, "t.yaml", locs, &j, &err));
        svc = json_object_get(j, "svc");
        /* explicit keys win over merged ones; the first merged mapping wins over later ones */
        ASSERT_STR(json_string_value(json_object_get(svc, "image")), "alpine");
        ASSERT_STR(json_string_value(json_object_get(svc, "user")), "1000");
        ASSERT_TRUE(json_is_true(json_object_get(svc, "read_only")));
        ASSERT_STR(json_string_value(json_array_get(json_object_get(svc, "cap_drop"), 0)), "ALL");
        ASSERT_STR(json_string_value(json_array_get(json_object_get(svc, "caps"), 0)), "ALL");
        ASSERT_TRUE(json_object_get(svc, "<<") == NULL);
        json_t *pl = json_object_get(j, "plain");
        ASSERT_EQ(json_integer_value(json_object_get(pl, "n")), 12);
        ASSERT_STR(json_string_value(json_object_get(pl, "f")), "1.5");
        ASSERT_STR(json_string_value(json_object_get(pl, "s")), "12");
        ASSERT_STR(json_string_value(json_object_get(pl, "t")), "yes"); /* YAML 1.2: only true/false are booleans */
        ASSERT_TRUE(json_is_null(json_object_get(pl, "z")));
        ASSERT_STR(json_string_value(json_object_get(pl, "o")), "012");
        ASSERT_STR(json_string_value(json_object_get(locs, "svc.image")), "t.yaml:10");
        ASSERT_STR(json_string_value(json_object_get(locs, "plain.o")), "t.yaml:18");
}

TEST(yaml_bounds_and_errors)
{
        /* a billion laughs: each level doubles nine times over */
        Buf b = { 0 };
        _cleanup_json_ json_t *j = NULL;
        Error *err = NULL;

        buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (char c = 'b'; c <= 'k'; c++) {
                char line[128];
                snprintf(line, sizeof(line), "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, c - 1, c - 1,
                         c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
                buf_puts(&b, line);
        }
        ASSERT_TRUE(compose_yaml_parse(b.data, b.len, "bomb.yaml", NULL, &j, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "YAML nodes"));
        error_clear(&err);
        buf_free(&b);

        static const char dup[] = "a: 1\nb: 2\na: 3\n";
        ASSERT_TRUE(compose_yaml_parse(dup, sizeof(dup) - 1, "dup.yaml", NULL, &j, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "dup.yaml:3: a: mapping key \"a\" already defined"));
        error_clear(&err);
        static const char bad[] = "services:\n  app:\n    image: [unclosed\n";
        ASSERT_TRUE(compose_yaml_parse(bad, sizeof(bad) - 1, "bad.yaml", NULL, &j, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "bad.yaml:"));
        error_clear(&err);
        static const char deep_merge[] = "a: &a {x: 1}\nb:\n  <<: 5\n";
        ASSERT_TRUE(compose_yaml_parse(deep_merge, sizeof(deep_merge) - 1, "m.yaml", NULL, &j, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "merge key"));
        error_clear(&err);
}

TEST(env_file_and_shell_words)
{
        static const char envtext[] = "# comment\n"
                                      "A=1\n"
                                      "export B = two words \n"
                                      "C=\"quoted # not a comment\\n\"\n"
                                      "D='single $X'\n"
                                      "E=value # a comment\n"
                                      "\n"
                                      "BARE\n";
        _cleanup_json_ json_t *env = json_object(), *words = NULL;
        Error *err = NULL;

        ASSERT_OK(compose_parse_env(envtext, sizeof(envtext) - 1, ".env", env, &err));
        ASSERT_STR(json_string_value(json_object_get(env, "A")), "1");
        ASSERT_STR(json_string_value(json_object_get(env, "B")), "two words");
        ASSERT_STR(json_string_value(json_object_get(env, "C")), "quoted # not a comment\n");
        ASSERT_STR(json_string_value(json_object_get(env, "D")), "single $X");
        ASSERT_STR(json_string_value(json_object_get(env, "E")), "value");
        ASSERT_TRUE(json_object_get(env, "BARE") == NULL);
        ASSERT_TRUE(compose_parse_env("1X=2\n", 5, ".env", env, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, ".env:1: invalid variable name"));
        error_clear(&err);

        ASSERT_OK(compose_shell_split("sh -c 'echo \"a b\"; exit 3' x\\ y \"q\\\"\"", &words, &err));
        ASSERT_EQ(json_array_size(words), 5);
        ASSERT_STR(json_string_value(json_array_get(words, 2)), "echo \"a b\"; exit 3");
        ASSERT_STR(json_string_value(json_array_get(words, 3)), "x y");
        ASSERT_STR(json_string_value(json_array_get(words, 4)), "q\"");
        json_decref(words);
        words = NULL;
        ASSERT_TRUE(compose_shell_split("echo 'open", &words, &err) < 0);
        error_clear(&err);
}

/* ---- whole projects in a temporary directory ---- */

static char tmpdir[64];

static void put(const char *name, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, name);
        FILE *f = fopen(p, "w");
        fputs(text, f);
        fclose(f);
}

static int load(char **files, char **environ_, ComposeProject **p, Error **err)
{
        ComposeLoadOpts o = { .files = files, .project_dir = tmpdir, .environ = environ_ };
        return compose_load(&o, p, err);
}

static const ComposeFlag *flag(ComposeService *s, const char *name, size_t nth)
{
        for (size_t i = 0; i < s->n_flags; i++)
                if (STREQ(s->flags[i].flag, name) && nth-- == 0)
                        return &s->flags[i];
        return NULL;
}

static void remove_dir(void)
{
        if (tmpdir[0])
                (void)rm_rf_at(AT_FDCWD, tmpdir);
}

static void fresh_dir(void)
{
        static bool registered;
        if (!registered)
                atexit(remove_dir);
        registered = true;
        remove_dir();
        strcpy(tmpdir, "/tmp/test-compose.XXXXXX");
        if (!mkdtemp(tmpdir))
                abort();
        if (chdir(tmpdir) < 0)
                abort();
}

TEST(project_reference_snippet)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", NULL };
        char *env[] = { (char *)"TAG=1.2", NULL };
        Error *err = NULL;
        ComposeService *s;

        fresh_dir();
        put("seccomp-profile.json", "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}\n");
        put(".env", "LIMIT=512M\nTAG=from-dotenv\n");
        put("compose.yaml", "name: Ref_Project\n"
                            "x-defaults: &defaults\n"
                            "  read_only: true\n"
                            "services:\n"
                            "  app:\n"
                            "    <<: *defaults\n"
                            "    image: busybox:${TAG}\n"
                            "    user: \"1001:1001\"\n"
                            "    cap_drop:\n"
                            "      - ALL\n"
                            "    security_opt:\n"
                            "      - no-new-privileges:true\n"
                            "      - seccomp:./seccomp-profile.json\n"
                            "    tmpfs:\n"
                            "      - /tmp:noexec,nosuid,size=100M\n"
                            "    deploy:\n"
                            "      resources:\n"
                            "        limits:\n"
                            "          cpus: \"1.0\"\n"
                            "          memory: ${LIMIT}\n"
                            "          pids: 100\n"
                            "    x-note: ignored\n"
                            "    frobnicate: 1\n");
        ASSERT_OK(load(files, env, &p, &err));
        ASSERT_STR(p->name, "ref_project");
        s = compose_service(p, "app");
        ASSERT_TRUE(s != NULL);
        /* the environment wins over .env */
        ASSERT_STR(s->image, "busybox:1.2");
        ASSERT_STR(flag(s, "--memory", 0)->value, "536870912");
        ASSERT_STR(flag(s, "--memory", 0)->path, "services.app.deploy.resources.limits.memory");
        ASSERT_STR(flag(s, "--cpus", 0)->value, "1.0");
        ASSERT_STR(flag(s, "--pids-limit", 0)->value, "100");
        ASSERT_STR(flag(s, "--read-only", 0)->value, "true");
        ASSERT_STR(flag(s, "--cap-drop", 0)->value, "ALL");
        ASSERT_STR(flag(s, "--tmpfs", 0)->value, "/tmp:noexec,nosuid,size=100M");
        ASSERT_STR(flag(s, "--security-opt", 0)->value, "no-new-privileges:true");
        _cleanup_free_ char *seccomp = xasprintf("seccomp=%s/seccomp-profile.json", tmpdir);
        ASSERT_STR(flag(s, "--security-opt", 1)->value, seccomp);
        ASSERT_EQ(strv_length(p->warnings), 1);
        ASSERT_TRUE(strstr(p->warnings[0], "compose.yaml:23: services.app.frobnicate: unknown key, ignored"));
        ASSERT_TRUE(json_object_get(s->model, "x-note") == NULL);
        ASSERT_STR(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(s->model, "deploy"),
                                                                                     "resources"), "limits"), "memory")),
                   "536870912");
        ASSERT_EQ(strlen(s->config_hash), 64);

        /* the create command line: labels, flags, then the image */
        _cleanup_strv_ char **argv = compose_create_argv(p, s, "ref_project-app-1", false, "create", NULL, NULL);
        bool project_label = false;
        for (size_t i = 0; argv[i]; i++)
                project_label |= STREQ(argv[i], "com.docker.compose.project=ref_project");
        ASSERT_TRUE(project_label);
        ASSERT_STR(argv[strv_length(argv) - 1], "busybox:1.2");
        ASSERT_STR(argv[strv_length(argv) - 2], "--");
}

TEST(project_merge_of_several_files)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", (char *)"override.yaml", NULL };
        Error *err = NULL;
        ComposeService *s;

        fresh_dir();
        put("compose.yaml", "services:\n"
                            "  app:\n"
                            "    image: busybox\n"
                            "    command: [\"sleep\", \"1\"]\n"
                            "    environment: [A=1, B=2]\n"
                            "    cap_add: [CHOWN]\n"
                            "    labels: {one: \"1\"}\n"
                            "    volumes:\n"
                            "      - ./data:/data\n"
                            "      - ./logs:/logs:ro\n"
                            "    mem_limit: 64m\n");
        put("override.yaml", "services:\n"
                             "  app:\n"
                             "    command: echo replaced\n"
                             "    environment:\n"
                             "      B: \"3\"\n"
                             "      C: 4\n"
                             "    cap_add: [NET_ADMIN, CHOWN]\n"
                             "    labels: [two=2]\n"
                             "    volumes:\n"
                             "      - /srv:/data\n"
                             "    mem_limit: 128m\n");
        ASSERT_OK(load(files, NULL, &p, &err));
        s = compose_service(p, "app");
        json_t *m = s->model, *env = json_object_get(m, "environment");
        /* sequences of commands are replaced; mappings merged key by key; other lists appended once */
        ASSERT_EQ(json_array_size(s->command), 2);
        ASSERT_STR(json_string_value(json_array_get(s->command, 0)), "echo");
        ASSERT_STR(json_string_value(json_object_get(env, "A")), "1");
        ASSERT_STR(json_string_value(json_object_get(env, "B")), "3");
        ASSERT_STR(json_string_value(json_object_get(env, "C")), "4");
        ASSERT_EQ(json_array_size(json_object_get(m, "cap_add")), 2);
        ASSERT_EQ(json_object_size(json_object_get(m, "labels")), 2);
        /* volumes are unique by target: /data now comes from /srv */
        json_t *vols = json_object_get(m, "volumes");
        ASSERT_EQ(json_array_size(vols), 2);
        ASSERT_STR(json_string_value(json_object_get(json_array_get(vols, 0), "source")), "/srv");
        ASSERT_TRUE(json_is_true(json_object_get(json_array_get(vols, 1), "read_only")));
        ASSERT_STR(flag(s, "--memory", 0)->value, "134217728");
        ASSERT_TRUE(flag(s, "--memory", 1) == NULL);
        /* the location is the later file's */
        ASSERT_STR(flag(s, "--memory", 0)->path, "services.app.mem_limit");
        ASSERT_STR(json_string_value(json_object_get(p->locs, "services.app.mem_limit")), "override.yaml:11");
}

static void expect_error(const char *yaml, const char *want, int *tap_failed)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", NULL };
        Error *err = NULL;

        fresh_dir();
        put("compose.yaml", yaml);
        if (load(files, NULL, &p, &err) == 0)
                TAP_FAIL("loaded, expected \"%s\"", want);
        if (!strstr(err->msg, want))
                TAP_FAIL("error \"%s\" lacks \"%s\"", err->msg, want);
        error_free(err);
}

TEST(errors_name_file_line_and_key)
{
        expect_error("services:\n"
                     "  app:\n"
                     "    image: busybox\n"
                     "    deploy:\n"
                     "      resources:\n"
                     "        limits:\n"
                     "          memory: 1GG\n",
                     "compose.yaml:7: services.app.deploy.resources.limits.memory: invalid size \"1GG\"", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\n    cap_add: [NOT_A_CAP]\n",
                     "compose.yaml:4: services.app.cap_add[0]:", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\n    read_only: maybe\n",
                     "compose.yaml:4: services.app.read_only: expected true or false", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\n    ulimits:\n      nofile:\n        soft: 10\n        hard: 5\n",
                     "compose.yaml:5: services.app.ulimits.nofile: ", tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
                     "a dependency cycle", tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    depends_on:\n      b:\n        condition: service_healthy\n"
                     "  b:\n    image: busybox\n    healthcheck:\n      disable: true\n",
                     "compose.yaml:5: services.a.depends_on.b: condition service_healthy, but service \"b\"'s healthcheck is disabled",
                     tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    depends_on: [nope]\n",
                     "services.a.depends_on.nope: no such service", tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    environment:\n      X: ${MISSING:?MISSING must be set}\n",
                     "compose.yaml:5: services.a.environment.X: required variable MISSING is missing a value: MISSING must be set",
                     tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    mem_limit: 64m\n    deploy:\n      resources:\n        limits:\n"
                     "          memory: 128m\n",
                     "disagrees", tap_failed);
        expect_error("services:\n  a:\n    image: busybox\n    restart: sometimes\n",
                     "compose.yaml:4: services.a.restart:", tap_failed);
        expect_error("services:\n  a:\n    command: echo\n", "services.a: has neither image nor build", tap_failed);
}

TEST(config_yaml_round_trip)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", NULL };
        _cleanup_free_ char *yaml = NULL;
        _cleanup_json_ json_t *back = NULL;
        Error *err = NULL;

        fresh_dir();
        put("compose.yaml", "services:\n"
                            "  app:\n"
                            "    image: busybox\n"
                            "    environment: {NUM: \"10\", BOOL: \"true\", NUL: \"null\", OCT: \"0755\", EMPTY: \"\"}\n"
                            "    command: sh -c 'echo yes'\n"
                            "    cpus: 1.5\n"
                            "    mem_limit: 1g\n"
                            "    deploy: {resources: {limits: {cpus: \"1.50\", memory: 1024M}}}\n");
        ASSERT_OK(load(files, NULL, &p, &err));
        ASSERT_OK(compose_to_yaml(p->model, &yaml, &err));
        ASSERT_TRUE(strstr(yaml, "mem_limit: \"1073741824\""));
        ASSERT_TRUE(strstr(yaml, "cpus: 1.5"));
        ASSERT_OK(compose_yaml_parse(yaml, strlen(yaml), "out.yaml", NULL, &back, &err));
        /* strings that look like numbers, booleans or null stay strings */
        json_t *env = json_object_get(json_object_get(json_object_get(back, "services"), "app"), "environment");
        ASSERT_STR(json_string_value(json_object_get(env, "NUM")), "10");
        ASSERT_STR(json_string_value(json_object_get(env, "BOOL")), "true");
        ASSERT_STR(json_string_value(json_object_get(env, "NUL")), "null");
        ASSERT_STR(json_string_value(json_object_get(env, "OCT")), "0755");
        ASSERT_STR(json_string_value(json_object_get(env, "EMPTY")), "");
        ASSERT_TRUE(json_equal(json_object_get(p->model, "services"), json_object_get(back, "services")) ||
                    /* cpus is a float: compare the rest */
                    json_equal(json_object_get(json_object_get(json_object_get(p->model, "services"), "app"), "command"),
                               json_object_get(json_object_get(json_object_get(back, "services"), "app"), "command")));
}

TEST(healthcheck_forms)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", NULL };
        Error *err = NULL;

        fresh_dir();
        put("compose.yaml", "services:\n"
                            "  shell:\n"
                            "    image: busybox\n"
                            "    healthcheck:\n"
                            "      test: wget -q -O- localhost || exit 1\n"
                            "      interval: 1m30s\n"
                            "      timeout: 500ms\n"
                            "      start_period: 2s\n"
                            "      retries: 4\n"
                            "  off:\n"
                            "    image: busybox\n"
                            "    healthcheck:\n"
                            "      disable: true\n"
                            "  bad:\n"
                            "    image: busybox\n");
        ASSERT_OK(load(files, NULL, &p, &err));
        json_t *h = compose_service(p, "shell")->engine_healthcheck;
        ASSERT_STR(json_string_value(json_array_get(json_object_get(h, "Test"), 0)), "CMD-SHELL");
        ASSERT_STR(json_string_value(json_array_get(json_object_get(h, "Test"), 1)), "wget -q -O- localhost || exit 1");
        ASSERT_EQ(json_integer_value(json_object_get(h, "Interval")), 90000000000LL);
        ASSERT_EQ(json_integer_value(json_object_get(h, "Timeout")), 500000000LL);
        ASSERT_EQ(json_integer_value(json_object_get(h, "StartPeriod")), 2000000000LL);
        ASSERT_EQ(json_integer_value(json_object_get(h, "Retries")), 4);
        h = compose_service(p, "off")->engine_healthcheck;
        ASSERT_STR(json_string_value(json_array_get(json_object_get(h, "Test"), 0)), "NONE");
        ASSERT_TRUE(compose_service(p, "bad")->engine_healthcheck == NULL);
        compose_project_free(TAKE_PTR(p));

        put("compose.yaml", "services:\n  a:\n    image: busybox\n    healthcheck:\n      test: [CMD]\n");
        ASSERT_TRUE(load(files, NULL, &p, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "compose.yaml:4: services.a.healthcheck: test: no command after CMD"));
        error_clear(&err);
        put("compose.yaml", "services:\n  a:\n    image: busybox\n    healthcheck:\n      test: \"true\"\n      interval: soon\n");
        ASSERT_TRUE(load(files, NULL, &p, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "compose.yaml:6: services.a.healthcheck.interval: invalid duration \"soon\""));
        error_clear(&err);
}

TEST(unhonoured_keys_and_socket_mounts)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", NULL };
        Error *err = NULL;

        fresh_dir();
        put("compose.yaml", "services:\n"
                            "  docker-proxy:\n"
                            "    image: busybox\n"
                            "    volumes:\n"
                            "      - /var/run/docker.sock:/var/run/docker.sock\n"
                            "  ci-runner:\n"
                            "    image: busybox\n"
                            "    environment:\n"
                            "      DOCKER_HOST: tcp://docker-proxy:2375\n"
                            "    ports: [\"8080:80\"]\n"
                            "    volumes: [certs:/certs]\n"
                            "    depends_on: [docker-proxy]\n"
                            "volumes:\n"
                            "  certs:\n");
        ASSERT_OK(load(files, NULL, &p, &err));
        ComposeService *proxy = compose_service(p, "docker-proxy"), *ci = compose_service(p, "ci-runner");
        /* dependency order */
        ASSERT_TRUE(proxy < ci);
        ASSERT_EQ(strv_length(proxy->socket_mounts), 1);
        ASSERT_TRUE(strstr(proxy->socket_mounts[0], "services.docker-proxy.volumes[0]: /var/run/docker.sock"));
        bool ports = false, name = false;
        for (size_t i = 0; ci->unhonoured && ci->unhonoured[i]; i++) {
                ports |= strstr(ci->unhonoured[i], "compose.yaml:10: services.ci-runner.ports: not honoured") != NULL;
                name |= strstr(ci->unhonoured[i], "services.ci-runner.environment.DOCKER_HOST") != NULL &&
                        strstr(ci->unhonoured[i], "\"docker-proxy\"") != NULL;
        }
        ASSERT_TRUE(ports);
        ASSERT_TRUE(name);
        /* a named volume is no longer a reason to refuse the service */
        ASSERT_EQ(strv_length(ci->blocking), 0);
        ASSERT_EQ(strv_length(p->unhonoured), 0);
}

TEST(top_level_volumes)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        char *files[] = { (char *)"compose.yaml", (char *)"override.yaml", NULL };
        char *env[] = { (char *)"SIZE=16m", NULL };
        Error *err = NULL;
        ComposeVolume *v;

        fresh_dir();
        put("compose.yaml", "name: VP\n"
                            "services:\n"
                            "  app:\n"
                            "    image: busybox\n"
                            "    volumes:\n"
                            "      - data:/data:ro\n"
                            "      - type: volume\n"
                            "        source: cache\n"
                            "        target: /cache\n"
                            "        volume: {nocopy: true}\n"
                            "      - ext:/ext\n"
                            "      - /anon\n"
                            "      - {type: volume, target: /anon2, read_only: true}\n"
                            "  other:\n"
                            "    image: busybox\n"
                            "    volumes: [\"legacy:/legacy:ro,nocopy\"]\n"
                            "volumes:\n"
                            "  data:\n"
                            "  cache:\n"
                            "    driver: local\n"
                            "    driver_opts: {type: tmpfs, device: tmpfs, o: \"size=${SIZE}\"}\n"
                            "    labels: [com.example.tier=cache, com.example.bare]\n"
                            "    x-note: ignored\n"
                            "    bogus: 1\n"
                            "  ext:\n"
                            "    external: true\n"
                            "  ext2:\n"
                            "    external: true\n"
                            "    name: real-ext\n"
                            "  legacy:\n"
                            "    external: {name: old-style}\n"
                            "  named:\n"
                            "    name: custom-name\n");
        put("override.yaml", "volumes:\n"
                             "  cache:\n"
                             "    labels: {com.example.extra: \"1\"}\n");
        ASSERT_OK(load(files, env, &p, &err));
        ASSERT_EQ(p->n_volumes, 6);
        /* <project>_<key>, unless name: says otherwise; an external one is its key or name:, unprefixed */
        ASSERT_STR(compose_volume(p, "data")->name, "vp_data");
        ASSERT_TRUE(!compose_volume(p, "data")->external);
        ASSERT_STR(compose_volume(p, "cache")->name, "vp_cache");
        ASSERT_STR(compose_volume(p, "ext")->name, "ext");
        ASSERT_TRUE(compose_volume(p, "ext")->external);
        ASSERT_STR(compose_volume(p, "ext2")->name, "real-ext");
        ASSERT_STR(compose_volume(p, "legacy")->name, "old-style");
        ASSERT_TRUE(compose_volume(p, "legacy")->external);
        ASSERT_STR(compose_volume(p, "named")->name, "custom-name");
        ASSERT_TRUE(compose_volume(p, "nope") == NULL);
        ASSERT_STR(compose_volume(p, "data")->where, "compose.yaml:18: volumes.data");

        /* labels: the file's (a list, merged with the override's mapping) and compose's own */
        v = compose_volume(p, "cache");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.example.tier")), "cache");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.example.bare")), "");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.example.extra")), "1");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.docker.compose.project")), "vp");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.docker.compose.volume")), "cache");
        ASSERT_STR(json_string_value(json_object_get(v->labels, "com.docker.compose.version")), COMPOSE_VERSION);
        ASSERT_STR(json_string_value(json_object_get(v->driver_opts, "o")), "size=16m");
        ASSERT_STR(json_string_value(json_object_get(v->driver_opts, "type")), "tmpfs");
        bool bogus = false;
        for (size_t i = 0; p->warnings && p->warnings[i]; i++)
                bogus |= strstr(p->warnings[i], "compose.yaml:24: volumes.cache.bogus: unknown key, ignored") != NULL;
        ASSERT_TRUE(bogus);

        /* the model as docker-compose's config prints it */
        json_t *vols = json_object_get(p->model, "volumes");
        ASSERT_EQ(json_object_size(json_object_get(vols, "data")), 0);
        ASSERT_TRUE(json_object_get(json_object_get(vols, "cache"), "bogus") == NULL);
        ASSERT_TRUE(json_object_get(json_object_get(vols, "cache"), "x-note") == NULL);
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(vols, "legacy"), "external")));
        ASSERT_STR(json_string_value(json_object_get(json_object_get(vols, "legacy"), "name")), "old-style");
        ASSERT_STR(json_string_value(json_object_get(json_object_get(vols, "ext"), "name")), "ext");
        ASSERT_TRUE(json_object_get(json_object_get(vols, "named"), "external") == NULL);

        /* service mounts: the volume's engine name; without a source, anonymous */
        static const struct {
                const char *service, *flag, *value, *path;
        } mounts[] = {
                { "app", "--volume", "vp_data:/data:ro", "services.app.volumes[0]" },
                { "app", "--volume", "vp_cache:/cache:nocopy", "services.app.volumes[1]" },
                { "app", "--volume", "ext:/ext", "services.app.volumes[2]" },
                { "app", "--volume", "/anon", "services.app.volumes[3]" },
                { "app", "--mount", "type=volume,target=/anon2,readonly", "services.app.volumes[4]" },
                { "other", "--volume", "old-style:/legacy:ro,nocopy", "services.other.volumes[0]" },
        };
        for (size_t i = 0; i < ELEMENTSOF(mounts); i++) {
                const ComposeFlag *f = NULL;
                ComposeService *svc = compose_service(p, mounts[i].service);
                for (size_t j = 0; j < svc->n_flags && !f; j++)
                        if (STREQ(svc->flags[j].path, mounts[i].path))
                                f = &svc->flags[j];
                ASSERT_TRUE(f != NULL);
                ASSERT_STR(f->flag, mounts[i].flag);
                ASSERT_STR(f->value, mounts[i].value);
        }
        ComposeService *s = compose_service(p, "app");
        ASSERT_EQ(strv_length(s->volumes), 3);
        ASSERT_EQ(strv_length(s->blocking), 0);
        /* config keeps the key as the source */
        ASSERT_STR(json_string_value(json_object_get(json_array_get(json_object_get(s->model, "volumes"), 0), "source")), "data");
        s = compose_service(p, "other");
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(json_array_get(json_object_get(s->model, "volumes"), 0), "volume"),
                                                 "nocopy")));
}

TEST(top_level_volume_errors)
{
        expect_error("services:\n  app:\n    image: busybox\n    volumes:\n      - nope:/data\nvolumes:\n  data:\n",
                     "compose.yaml:5: services.app.volumes[0]: service \"app\" refers to undefined volume nope: invalid compose "
                     "project", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\n    volumes:\n      - {type: volume, source: nope, target: /d}\n",
                     "compose.yaml:5: services.app.volumes[0]: service \"app\" refers to undefined volume nope", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    driver: nfs\n",
                     "compose.yaml:6: volumes.data.driver: volume driver \"nfs\": the engine has the local driver only", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    external: true\n    labels: [a=b]\n",
                     "compose.yaml:7: volumes.data.labels: volume \"data\" is external", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    external: maybe\n",
                     "compose.yaml:6: volumes.data.external: expected true or false", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    driver_opts: {type: tmpfs, size: 1m}\n",
                     "compose.yaml:6: volumes.data.driver_opts: invalid option: \"size\"", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    driver_opts: [type=tmpfs]\n",
                     "compose.yaml:6: volumes.data.driver_opts: expected a mapping", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    name: \"bad/name\"\n",
                     "compose.yaml:6: volumes.data.name: create bad/name: \"bad/name\" includes invalid characters", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    labels: {com.docker.compose.project: x}\n",
                     "compose.yaml:6: volumes.data.labels.com.docker.compose.project: labels com.docker.compose.* are compose's own",
                     tap_failed);
        expect_error("services:\n  app:\n    image: busybox\nvolumes:\n  data: [1]\n",
                     "compose.yaml:5: volumes.data: expected a mapping", tap_failed);
        expect_error("services:\n  app:\n    image: busybox\n    volumes:\n      - data:/d:nocopy,rx\nvolumes:\n  data:\n",
                     "compose.yaml:5: services.app.volumes[0]: invalid volume \"data:/d:nocopy,rx\": mode \"rx\"", tap_failed);
}
