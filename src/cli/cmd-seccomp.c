/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stockade seccomp record | check | diff | default, and run --seccomp-record (docs/SECCOMP.md, "Recording profiles"). */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json-util.h"
#include "pflag.h"
#include "seccomp-default.h"
#include "seccomp-filter.h"
#include "seccomp-profile.h"
#include "seccomp-recorder.h"

/* What `seccomp record` adds to the run it drives; plain `run --seccomp-record` uses the defaults. */
static const char *arg_base;
static bool arg_args;
static const char *arg_recorder;

struct SeccompRecordSession {
        SeccompRecorder *rec;
        char *output;
        json_t *base;
        bool nnp;
};

static bool host_nnp(json_t *host)
{
        size_t i;
        json_t *v;

        json_array_foreach(json_object_get(host, "SecurityOpt"), i, v)
        {
                const char *s = json_string_value(v);
                if (s && str_has_prefix(s, "no-new-privileges") && !strstr(s, "false"))
                        return true;
        }
        return false;
}

int seccomp_record_begin(Engine *e, const char *id, const char *output, json_t *host, SeccompRecordSession **ret,
                         Error **err)
{
        _cleanup_json_ json_t *base = NULL;
        const char *kind_s = arg_recorder ? arg_recorder : getenv("STOCKADE_SECCOMP_RECORDER");
        int kind = seccomp_recorder_kind(kind_s), r;
        SeccompRecorder *rec = NULL;

        if (kind < 0)
                return error_setx(err, EINVAL, "--recorder: \"%s\" is not a recorder (bpf, notify)", kind_s);
        if (arg_base && (r = seccomp_profile_read(arg_base, &base, err)) < 0)
                return error_wrap(err, "--base");
        r = seccomp_recorder_start(e, (SeccompRecorderKind)kind, id, arg_args, &rec, err);
        if (r < 0 && !kind_s && (r == -EPERM || r == -ENOENT || r == -EOPNOTSUPP || r == -EINVAL || r == -ENOSYS)) {
                /* no recorder asked for: where eBPF is unavailable, say why and use the fallback */
                fprintf(stderr, "stockade: WARNING: %s; recording with the notify fallback instead\n", (*err)->msg);
                *err = error_free(*err);
                r = seccomp_recorder_start(e, SECCOMP_RECORDER_NOTIFY, id, arg_args, &rec, err);
        }
        if (r < 0)
                return r;
        SeccompRecordSession *s = xcalloc(1, sizeof(*s));
        s->rec = rec;
        s->output = xstrdup(output);
        s->base = TAKE_PTR(base);
        s->nnp = host_nnp(host);
        *ret = s;
        return 0;
}

int seccomp_record_end(SeccompRecordSession *s, bool write, Error **err)
{
        SeccompRecording rec = { 0 };
        _cleanup_json_ json_t *profile = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = seccomp_recorder_finish(s->rec, &rec, err);
        s->rec = NULL;
        if (r < 0 || !write)
                goto out;
        profile = seccomp_profile_from_recording(&rec, s->nnp);
        if (s->base && (r = seccomp_profile_merge(profile, s->base, err)) < 0)
                goto out;
        if (rec.dropped)
                fprintf(stderr, "stockade: WARNING: seccomp record: %llu syscall events could not be recorded (x32 numbers "
                                "or more than %d argument values)\n",
                        (unsigned long long)rec.dropped, SECCOMP_REC_MAX_ARGS);
        text = jx_dump(profile, true);
        {
                size_t len = strlen(text);
                _cleanup_free_ char *withnl = xasprintf("%s\n", text);
                _cleanup_close_ int fd = open(s->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || (r = write_all(fd, withnl, len + 1)) < 0)
                        r = error_set(err, fd < 0 ? errno : -r, "--seccomp-record: writing %s", s->output);
                else
                        r = 0;
        }
out:
        seccomp_recording_clear(&rec);
        seccomp_recorder_free(s->rec);
        json_decref(s->base);
        free(s->output);
        free(s);
        return r;
}

static void usage(void)
{
        printf("\nUsage:  stockade seccomp record -o FILE [--base PROFILE] [--args] [--recorder bpf|notify] -- [RUN OPTIONS] IMAGE [COMMAND...]\n"
               "        stockade seccomp check PROFILE\n"
               "        stockade seccomp diff A B\n"
               "        stockade seccomp default\n\n"
               "Record, check and compare seccomp profiles (Docker's format)\n\n"
               "Commands:\n"
               "  record    Run the container and write the minimal profile under which the same run succeeds\n"
               "  check     Validate a profile: JSON errors with line and column, unknown syscalls, BPF size\n"
               "  diff      Syscalls added, removed or with another action from A to B (exit 1 when they differ)\n"
               "  default   Print the built-in default profile\n");
}

static int record(Engine *e, int argc, char **argv)
{
        const char *out = NULL;
        Pflag flags[] = {
                { "output", 'o', PFLAG_STRING, &out, NULL, "Write the profile to FILE" },
                { "base", 0, PFLAG_STRING, &arg_base, NULL, "Merge with this profile (union of the allow lists)" },
                { "args", 0, PFLAG_BOOL, &arg_args, NULL, "Record clone flags, personality and socket family: argument rules" },
                { "recorder", 0, PFLAG_STRING, &arg_recorder, NULL, "bpf (default) or notify (without eBPF; slower)" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1;

        for (int i = 1; i < argc && !STREQ(argv[i], "--"); i++)
                if (STREQ(argv[i], "--help") || STREQ(argv[i], "-h")) {
                        printf("\nUsage:  stockade seccomp record -o FILE [OPTIONS] -- [RUN OPTIONS] IMAGE [COMMAND...]\n\n"
                               "Run the container and write the minimal seccomp profile under which the same run succeeds\n");
                        pflag_usage(flags);
                        return 0;
                }
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail("seccomp record", err);
        if (!out || !*out)
                return cli_failf("seccomp record", "seccomp record: -o FILE is required");
        if (idx < argc && STREQ(argv[idx], "--"))
                idx++;
        if (idx >= argc)
                return cli_failf("seccomp record", "seccomp record: an IMAGE (and its command) must follow --");
        if (seccomp_recorder_kind(arg_recorder) < 0)
                return cli_failf("seccomp record", "seccomp record: --recorder: \"%s\" is not a recorder (bpf, notify)",
                                 arg_recorder);
        {
                _cleanup_free_ char **v = xcalloc((size_t)(argc - idx) + 5, sizeof(char *));
                int n = 0;
                v[n++] = (char *)"run";
                v[n++] = (char *)"--rm";
                v[n++] = (char *)"--seccomp-record";
                v[n++] = (char *)out;
                for (int i = idx; i < argc; i++)
                        v[n++] = argv[i];
                return cmd_run(e, n, v);
        }
}

static void unknown_names(json_t *p, json_t *unknown)
{
        size_t i, j;
        json_t *rule, *v;

        json_array_foreach(json_object_get(p, "syscalls"), i, rule)
        {
                json_t *one = json_object_get(rule, "name");
                if (json_is_string(one) && seccomp_syscall_resolve_name(json_string_value(one)) == __NR_SCMP_ERROR)
                        json_object_set_new(unknown, json_string_value(one), json_true());
                json_array_foreach(json_object_get(rule, "names"), j, v) if (json_is_string(v) &&
                                                                            seccomp_syscall_resolve_name(json_string_value(v)) ==
                                                                                    __NR_SCMP_ERROR)
                        json_object_set_new(unknown, json_string_value(v), json_true());
        }
}

static int check(const char *path)
{
        _cleanup_json_ json_t *p = NULL, *unknown = json_object();
        SeccompFilter *f = NULL;
        Error *err = NULL;
        const char *k;
        json_t *v;

        if (seccomp_profile_read(path, &p, &err) < 0)
                return cli_fail(NULL, err);
        if (seccomp_compile(p, NULL, &f, &err) < 0) {
                error_wrap(&err, "%s", path);
                return cli_fail(NULL, err);
        }
        unknown_names(p, unknown);
        if (json_object_size(unknown)) {
                printf("unknown syscalls (skipped):");
                json_object_foreach(unknown, k, v) printf(" %s", k);
                printf("\n");
        }
        for (size_t i = 0; f->warnings && f->warnings[i]; i++)
                if (!strstr(f->warnings[i], "unknown syscall"))
                        printf("warning: %s\n", f->warnings[i]);
        printf("%s: valid, %u BPF instructions\n", path, (unsigned)f->prog.len);
        seccomp_filter_free(f);
        return 0;
}

static int diff(const char *a, const char *b)
{
        _cleanup_json_ json_t *ja = NULL, *jb = NULL;
        _cleanup_free_ char *text = NULL;
        Error *err = NULL;

        if (seccomp_profile_read(a, &ja, &err) < 0 || seccomp_profile_read(b, &jb, &err) < 0)
                return cli_fail(NULL, err);
        if (seccomp_profile_diff(ja, jb, &text, &err) < 0)
                return cli_fail(NULL, err);
        fputs(text, stdout);
        return *text ? 1 : 0;
}

int cmd_seccomp(Engine *e, int argc, char **argv)
{
        if (argc < 2 || STREQ(argv[1], "--help") || STREQ(argv[1], "-h")) {
                usage();
                return argc < 2 ? EXIT_ENGINE : 0;
        }
        if (STREQ(argv[1], "record"))
                return record(e, argc - 1, argv + 1);
        if (STREQ(argv[1], "check")) {
                if (argc != 3)
                        return cli_failf(NULL, "\"stockade seccomp check\" requires exactly 1 argument: the profile file.");
                return check(argv[2]);
        }
        if (STREQ(argv[1], "diff")) {
                if (argc != 4)
                        return cli_failf(NULL, "\"stockade seccomp diff\" requires exactly 2 arguments: two profile files.");
                return diff(argv[2], argv[3]);
        }
        if (STREQ(argv[1], "default")) {
                if (argc != 2)
                        return cli_failf(NULL, "\"stockade seccomp default\" accepts no arguments.");
                _cleanup_json_ json_t *p = seccomp_default_profile();
                _cleanup_free_ char *text = jx_dump(p, true);
                printf("%s\n", text);
                return fflush(stdout) == 0 ? 0 : EXIT_ENGINE;
        }
        return cli_failf(NULL, "seccomp: unknown command \"%s\" (record, check, diff, default)", argv[1]);
}
