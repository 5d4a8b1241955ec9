/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `stockade events` (docker's, from the persistent event log) and `stockade audit` (the hash-chained
 * audit log, and `audit verify`).  docs/EVENTS.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cli.h"
#include "events.h"
#include "json-util.h"
#include "jsonlog.h"
#include "pflag.h"
#include "template.h"
#include "util.h"

/* --format: "" the default text, "json" or {{json .}} the stored line, anything else a template. */
typedef struct Output {
        enum { OUT_TEXT, OUT_JSON, OUT_TEMPLATE } kind;
        Template *t;
        bool failed;
} Output;

static bool is_json_format(const char *f)
{
        _cleanup_free_ char *s = NULL;
        size_t n;
        char *p;

        if (STREQ(f, "json"))
                return true;
        /* "{{json .}}" with any spaces inside the braces */
        s = xstrdup(f);
        for (p = s, n = 0; s[n]; n++)
                if (s[n] != ' ' && s[n] != '\t')
                        *p++ = s[n];
        *p = '\0';
        return STREQ(s, "{{json.}}");
}

static int output_init(Output *o, const char *format)
{
        Error *err = NULL;

        *o = (Output){ .kind = OUT_TEXT };
        if (!format || !*format)
                return 0;
        if (is_json_format(format)) {
                o->kind = OUT_JSON;
                return 0;
        }
        o->kind = OUT_TEMPLATE;
        if (tmpl_parse(format, &o->t, &err) < 0) {
                /* docker: "Error parsing format: ..." with status 64 */
                fprintf(stderr, "Error parsing format: %s\n", err->msg);
                error_free(err);
                return 64;
        }
        return 0;
}

/* Prints s; false when stdout is gone (a closed pipe), which ends the command. */
static bool emit(const char *s, size_t n)
{
        if (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0)
                return false;
        return true;
}

static int print_with_template(Output *o, json_t *data)
{
        _cleanup_free_ char *out = NULL;
        Error *err = NULL;

        if (tmpl_execute(o->t, data, &out, &err) < 0) {
                fprintf(stderr, "stockade: %s\n", err->msg);
                error_free(err);
                o->failed = true;
                return 1;
        }
        if (!emit(out, strlen(out)) || !emit("\n", 1))
                return 1;
        return 0;
}

static int print_event(void *ud, json_t *ev, const char *line, size_t len)
{
        Output *o = ud;

        switch (o->kind) {
        case OUT_JSON:
                return emit(line, len) && emit("\n", 1) ? 0 : 1;
        case OUT_TEMPLATE: {
                _cleanup_json_ json_t *data = event_template_data(ev);
                return print_with_template(o, data);
        }
        case OUT_TEXT:
        default: {
                _cleanup_free_ char *s = event_format_text(ev);
                return emit(s, strlen(s)) ? 0 : 1;
        }
        }
}

/* --since/--until as the docker CLI reads them; false after reporting. */
static bool parse_times(const char *cmd, const char *since, const char *until, struct timespec now,
                        struct timespec *s, bool *has_s, struct timespec *u, bool *has_u, int *rc)
{
        Error *err = NULL;

        if (since) {
                if (parse_timestamp_arg(since, now, s, &err) < 0) {
                        *rc = cli_fail(cmd, err);
                        return false;
                }
                *has_s = true;
        }
        if (until) {
                if (parse_timestamp_arg(until, now, u, &err) < 0) {
                        *rc = cli_fail(cmd, err);
                        return false;
                }
                *has_u = true;
        }
        if (*has_s && *has_u && (u->tv_sec < s->tv_sec || (u->tv_sec == s->tv_sec && u->tv_nsec < s->tv_nsec))) {
                fprintf(stderr, "Error response from daemon: `since` time (%" PRId64 ".%09ld) cannot be after "
                        "`until` time (%" PRId64 ".%09ld)\n", (int64_t)s->tv_sec, s->tv_nsec, (int64_t)u->tv_sec,
                        u->tv_nsec);
                *rc = 1;
                return false;
        }
        return true;
}

/*
 * Adds every --filter to f; false after reporting.  The docker CLI checks the form (name=value), as a flag
 * error; dockerd checks the key, as its error.
 */
static bool build_filter(const char *cmd, EventFilter *f, char **values, int *rc)
{
        for (size_t i = 0; values && values[i]; i++)
                if (*values[i] && !strchr(values[i], '=')) {
                        *rc = cli_failf(cmd, "invalid argument \"%s\" for \"-f, --filter\" flag: bad format of filter "
                                        "(expected name=value)", values[i]);
                        return false;
                }
        for (size_t i = 0; values && values[i]; i++) {
                Error *err = NULL;
                if (event_filter_add(f, values[i], &err) < 0) {
                        fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                        error_free(err);
                        *rc = 1;
                        return false;
                }
        }
        return true;
}

int cmd_events(Engine *e, int argc, char **argv)
{
        const char *since = NULL, *until = NULL, *format = NULL;
        _cleanup_strv_ char **filters = NULL;
        _cleanup_(event_filter_freep) EventFilter *filter = event_filter_new();
        bool help = false;
        Pflag flags[] = {
                { "filter", 'f', PFLAG_STRINGS, &filters, NULL, "Filter output based on conditions provided" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format output using a custom template: 'json' or a Go template" },
                { "since", 0, PFLAG_STRING, &since, NULL, "Show all events created since timestamp" },
                { "until", 0, PFLAG_STRING, &until, NULL, "Stream events until this timestamp" },
                { "help", 0, PFLAG_BOOL, &help, NULL, "Print usage" },
                { 0 },
        };
        EventsReadOpts o = { 0 };
        Output out;
        struct timespec now;
        Error *err = NULL;
        int idx = 1, rc = 0;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (help) {
                printf("\nUsage:  stockade events [OPTIONS]\n\nGet real time events from the event log\n\n");
                pflag_usage(flags);
                return 0;
        }
        if (idx < argc)
                return cli_failf(argv[0], "\"stockade events\" accepts no arguments.");
        if (!build_filter(argv[0], filter, filters, &rc))
                return rc;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!parse_times(argv[0], since, until, now, &o.since, &o.has_since, &o.until, &o.has_until, &rc))
                return rc;
        rc = output_init(&out, format);
        if (rc != 0)
                return rc;
        o.filter = filter;
        /* docker: until in the past means past events only; otherwise stream (until it comes). */
        o.follow = !(o.has_until && (o.until.tv_sec < now.tv_sec ||
                                     (o.until.tv_sec == now.tv_sec && o.until.tv_nsec <= now.tv_nsec)));
        if (events_read(e, &o, print_event, &out, &err) < 0) {
                tmpl_free(out.t);
                return cli_fail(NULL, err);
        }
        tmpl_free(out.t);
        return out.failed ? 1 : 0;
}

/* ---- audit ---- */

static int print_record(void *ud, json_t *rec, const char *line, size_t len)
{
        Output *o = ud;

        switch (o->kind) {
        case OUT_JSON:
                return emit(line, len) && emit("\n", 1) ? 0 : 1;
        case OUT_TEMPLATE:
                return print_with_template(o, rec);
        case OUT_TEXT:
        default: {
                _cleanup_free_ char *s = audit_format_text(rec);
                return emit(s, strlen(s)) ? 0 : 1;
        }
        }
}

static int audit_verify_cmd(Engine *e, int argc, char **argv)
{
        AuditVerifyResult res;
        Error *err = NULL;

        if (argc > 2)
                return cli_failf("audit verify", "\"stockade audit verify\" accepts no arguments.");
        if (audit_verify(e, &res, &err) < 0)
                return cli_fail(NULL, err);
        if (res.damage != AUDIT_INTACT) {
                _cleanup_free_ char *dir = audit_dir(e);
                fprintf(stderr, "stockade: audit log %s is damaged: %s\n", dir, res.message);
                audit_verify_result_clear(&res);
                return 1;
        }
        printf("%s", res.message);
        if (res.torn)
                printf(" (%" PRIu64 " torn record%s of killed writers passed over)", res.torn, res.torn == 1 ? "" : "s");
        printf("\n");
        audit_verify_result_clear(&res);
        return 0;
}

int cmd_audit(Engine *e, int argc, char **argv)
{
        const char *since = NULL, *until = NULL, *format = NULL;
        _cleanup_strv_ char **filters = NULL;
        _cleanup_(event_filter_freep) EventFilter *filter = event_filter_new();
        bool help = false;
        Pflag flags[] = {
                { "filter", 'f', PFLAG_STRINGS, &filters, NULL, "Filter output based on conditions provided" },
                { "format", 0, PFLAG_STRING, &format, NULL, "'json' (the records as stored) or a Go template" },
                { "since", 0, PFLAG_STRING, &since, NULL, "Show records since timestamp or relative (e.g. 42m)" },
                { "until", 0, PFLAG_STRING, &until, NULL, "Show records before a timestamp or relative (e.g. 42m)" },
                { "help", 0, PFLAG_BOOL, &help, NULL, "Print usage" },
                { 0 },
        };
        AuditReadOpts o = { 0 };
        Output out;
        struct timespec now;
        Error *err = NULL;
        int idx = 1, rc = 0;

        if (argc > 1 && STREQ(argv[1], "verify"))
                return audit_verify_cmd(e, argc, argv);
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (help) {
                printf("\nUsage:  stockade audit [OPTIONS]\n        stockade audit verify\n\n"
                       "Show the audit log, or check its hash chain\n\n");
                pflag_usage(flags);
                return 0;
        }
        if (idx < argc)
                return cli_failf(argv[0], "\"stockade audit\" accepts no arguments but verify.");
        if (!build_filter(argv[0], filter, filters, &rc))
                return rc;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!parse_times(argv[0], since, until, now, &o.since, &o.has_since, &o.until, &o.has_until, &rc))
                return rc;
        rc = output_init(&out, format);
        if (rc != 0)
                return rc;
        o.filter = filter;
        if (audit_read(e, &o, print_record, &out, &err) < 0) {
                tmpl_free(out.t);
                return cli_fail(NULL, err);
        }
        tmpl_free(out.t);
        return out.failed ? 1 : 0;
}
