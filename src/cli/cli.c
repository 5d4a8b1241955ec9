/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the stockade binaries share: the global flags and command dispatch (cli_main), error
 * reporting, --format printing and docker's human units.  `stockade` hands import, load and save to
 * the stockade-image helper, which links libarchive (see docs/ARCHITECTURE.md).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "events.h"
#include "image-store.h"
#include "pflag.h"
#include "template.h"
#include "util.h"

int cli_fail(const char *cmd, Error *err)
{
        fprintf(stderr, "stockade: %s\n", err && err->msg ? err->msg : "unknown error");
        if (cmd)
                fprintf(stderr, "See 'stockade %s --help'.\n", cmd);
        error_free(err);
        return EXIT_ENGINE;
}

int cli_failf(const char *cmd, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "stockade: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        if (cmd)
                fprintf(stderr, "See 'stockade %s --help'.\n", cmd);
        return EXIT_ENGINE;
}

/* The command line for the audit log: argv as given, with argv[0] "stockade" (the image helper's is a path). */
static char **audit_command;

void cli_audit(Engine *e, const char *action, const char *type, const char *id, const char *name, const Error *outcome)
{
        AuditEntry a = { .action = action, .actor_type = type, .actor_id = id, .actor_name = name,
                         .command = audit_command,
                         .outcome = outcome ? (outcome->msg ? outcome->msg : "failed") : NULL };
        Error *err = NULL;

        if (name && *name == '/')
                a.actor_name = name + 1;
        if (audit_record(e, &a, &err) < 0) {
                fprintf(stderr, "stockade: warning: the audit log did not record %s: %s\n", action, err->msg);
                error_free(err);
        }
}

void cli_image_event(Engine *e, const char *image_id, const char *ref_name, json_t *config, const char *action)
{
        json_t *labels = json_object_get(json_object_get(config, "config"), "Labels");
        Error *err = NULL;

        if (event_emit_image(e, image_id, ref_name, json_is_object(labels) ? labels : NULL, action, &err) < 0) {
                fprintf(stderr, "stockade: warning: the %s event was not logged: %s\n", action, err->msg);
                error_free(err);
        }
}

int cli_open_store(Engine *e, ImageStore **s)
{
        Error *err = NULL;
        if (image_store_open(e->data_root, s, &err) < 0)
                return cli_fail(NULL, err);
        return 0;
}

bool cli_print_format(const char *tmpl, json_t *data)
{
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_free_ char *out = NULL;
        Error *err = NULL;

        if (tmpl_parse(tmpl, &t, &err) < 0 || tmpl_execute(t, data, &out, &err) < 0) {
                fprintf(stderr, "stockade: %s\n", err->msg);
                error_free(err);
                return false;
        }
        printf("%s\n", out);
        return true;
}

/* Prints rows with a template; "table ..." gives a header and tabwriter alignment as docker does. */
int cli_print_table(const char *format, json_t *rows, json_t *header)
{
        bool table = str_has_prefix(format, "table");
        const char *body = table ? format + 5 : format;
        _cleanup_(tmpl_freep) Template *t = NULL;
        size_t cap = 0, i;
        char *text = NULL;
        FILE *m;
        json_t *row;
        Error *err = NULL;

        while (table && (*body == ' ' || *body == '\t'))
                body++;
        if (tmpl_parse(body, &t, &err) < 0) {
                fprintf(stderr, "stockade: %s\n", err->msg);
                error_free(err);
                return EXIT_ENGINE;
        }
        m = open_memstream(&text, &cap);
        if (table && header) {
                _cleanup_free_ char *h = NULL;
                if (tmpl_execute(t, header, &h, NULL) == 0)
                        fprintf(m, "%s\n", h);
        }
        json_array_foreach(rows, i, row) {
                _cleanup_free_ char *out = NULL;
                if (tmpl_execute(t, row, &out, &err) < 0) {
                        fclose(m);
                        free(text);
                        fprintf(stderr, "stockade: %s\n", err->msg);
                        error_free(err);
                        return EXIT_ENGINE;
                }
                fprintf(m, "%s\n", out);
        }
        fclose(m);
        if (table) {
                _cleanup_free_ char *aligned = tabwriter_format(text, 10, 1, 3);
                fputs(aligned, stdout);
        } else
                fputs(text, stdout);
        free(text);
        return 0;
}

static time_t parse_rfc3339(const char *s)
{
        struct tm tm = { 0 };
        if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return timegm(&tm);
}

/* Docker's units.HumanDuration. */
char *cli_human_since(const char *rfc3339, bool ago)
{
        time_t t = parse_rfc3339(rfc3339), n = time(NULL);
        double s = difftime(n, t);
        char *d;

        if (t <= 0)
                return xstrdup("");
        if (s < 1)
                d = xstrdup("Less than a second");
        else if (s < 2)
                d = xstrdup("1 second");
        else if (s < 60)
                d = xasprintf("%d seconds", (int)s);
        else if (s / 60 < 2)
                d = xstrdup("About a minute");
        else if (s / 60 < 60)
                d = xasprintf("%d minutes", (int)(s / 60));
        else if (s / 3600 < 2)
                d = xstrdup("About an hour");
        else if (s / 3600 < 48)
                d = xasprintf("%d hours", (int)(s / 3600));
        else if (s / 3600 < 24 * 7 * 2)
                d = xasprintf("%d days", (int)(s / 86400));
        else if (s / 3600 < 24 * 30 * 2)
                d = xasprintf("%d weeks", (int)(s / 86400 / 7));
        else if (s / 3600 < 24 * 365 * 2)
                d = xasprintf("%d months", (int)(s / 86400 / 30));
        else
                d = xasprintf("%d years", (int)(s / 86400 / 365));
        if (ago) {
                char *a = xasprintf("%s ago", d);
                free(d);
                return a;
        }
        return d;
}

char *cli_human_size(double b)
{
        static const char *const u[] = { "B", "kB", "MB", "GB", "TB", "PB" };
        size_t i = 0;
        while (b >= 1000 && i < ELEMENTSOF(u) - 1) {
                b /= 1000;
                i++;
        }
        /* %.4g as Go's strconv 'g' with 4 significant digits, which is what units.HumanSize prints. */
        return xasprintf("%.4g%s", b, u[i]);
}

static void usage(const CliCommand *cmds, size_t n)
{
        printf("Usage:  stockade [OPTIONS] COMMAND\n\nA hardened, daemonless container engine with docker's commands.\n\n"
               "Options:\n"
               "      --config-file FILE   daemon configuration (default /etc/stockade/daemon.json, $STOCKADE_CONFIG)\n"
               "      --data-root DIR      images and containers (default /var/lib/stockade, $STOCKADE_DATA_ROOT)\n"
               "      --exec-root DIR      sockets and runtime state (default /run/stockade, $STOCKADE_EXEC_ROOT)\n"
               "  -v, --version            print the version\n\nCommands:\n");
        for (size_t i = 0; i < n; i++)
                printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
        printf("\nRun 'stockade COMMAND --help' for more information on a command.\n");
}

/* Runs the command in the helper binary, with the same arguments (global flags included). */
static int exec_helper(Engine *e, char **argv)
{
        _cleanup_free_ char *path = engine_helper_path(e, IMAGE_HELPER);

        fflush(stdout);
        argv[0] = path;
        execv(path, argv);
        return cli_failf(NULL, "cannot run %s: %s", path, strerror(errno));
}

int cli_main(int argc, char **argv, const CliCommand *cmds, size_t n)
{
        const char *config = NULL, *data_root = NULL, *exec_root = NULL, *userns_remap = NULL;
        bool version = false, help = false;
        Pflag flags[] = {
                { "config-file", 0, PFLAG_STRING, &config, NULL, NULL },
                { "data-root", 0, PFLAG_STRING, &data_root, NULL, NULL },
                { "exec-root", 0, PFLAG_STRING, &exec_root, NULL, NULL },
                { "userns-remap", 0, PFLAG_STRING, &userns_remap, NULL, NULL },
                { "version", 'v', PFLAG_BOOL, &version, NULL, NULL },
                { "help", 0, PFLAG_BOOL, &help, NULL, NULL },
                { 0 },
        };
        _cleanup_(engine_freep) Engine *e = NULL;
        Error *err = NULL;
        int idx = 1;

        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        {
                static char *argv0 = "stockade";
                audit_command = xcalloc((size_t)argc + 1, sizeof(char *));
                memcpy(audit_command, argv, (size_t)argc * sizeof(char *));
                audit_command[0] = argv0;
        }
        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(NULL, err);
        if (version) {
                printf("stockade version %s\n", STOCKADE_VERSION);
                return 0;
        }
        if (help || idx >= argc || STREQ(argv[idx], "help")) {
                usage(cmds, n);
                return idx >= argc && !help ? 1 : 0;
        }
        if (STREQ(argv[idx], "version")) {
                printf("stockade version %s\n", STOCKADE_VERSION);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                if (!STREQ(cmds[i].name, argv[idx]))
                        continue;
                EngineOpts o = { .config_file = config, .data_root = data_root, .exec_root = exec_root,
                                 .userns_remap = userns_remap };
                if (engine_open(&o, &e, &err) < 0)
                        return cli_fail(NULL, err);
                if (!cmds[i].fn)
                        return exec_helper(e, argv);
                int r = cmds[i].fn(e, argc - idx, argv + idx);
                fflush(stdout);
                return r;
        }
        fprintf(stderr, "stockade: '%s' is not a stockade command.\nSee 'stockade --help'\n", argv[idx]);
        return EXIT_ENGINE;
}

int cli_print_inspect(json_t *list, const char *format)
{
        size_t i;
        json_t *o;
        char *text;

        if (format) {
                json_array_foreach(list, i, o) if (!cli_print_format(format, o)) return 1;
                return 0;
        }
        text = json_dumps(list, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "[]");
        free(text);
        return 0;
}
