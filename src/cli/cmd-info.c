/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Looking at containers: ps, inspect, logs, top, stats. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "container-store.h"
#include "image-store.h"
#include "json-util.h"
#include "jsonlog.h"
#include "locallog.h"
#include "logread-journald.h"
#include "pflag.h"
#include "template.h"
#include "util.h"
#include "volume.h"

/* ---- ps ---- */

static char *ellipsis(const char *s, size_t max)
{
        /* Counts UTF-8 characters, as Go's runes, and ends a cut string with "…". */
        size_t chars = 0, i = 0, cut = 0;
        for (i = 0; s[i]; i++)
                if (((unsigned char)s[i] & 0xC0) != 0x80) {
                        if (chars == max - 1)
                                cut = i;
                        chars++;
                }
        if (chars <= max)
                return xstrdup(s);
        return xasprintf("%.*s\xe2\x80\xa6", (int)cut, s);
}

/* Go's strconv.Quote for the ASCII a command line usually is. */
static char *go_quote(const char *s)
{
        size_t cap = 0;
        char *out = NULL;
        FILE *m = open_memstream(&out, &cap);
        fputc('"', m);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(m, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", m);
                else if (*p == '\t')
                        fputs("\\t", m);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(m, "\\x%02x", *p);
                else
                        fputc(*p, m);
        }
        fputc('"', m);
        fclose(m);
        return out;
}

char *cli_status_text(json_t *rec)
{
        json_t *st = json_object_get(rec, "State");
        const char *s = container_status(rec);
        const char *started = json_string_value(json_object_get(st, "StartedAt"));
        const char *finished = json_string_value(json_object_get(st, "FinishedAt"));
        int code = (int)json_integer_value(json_object_get(st, "ExitCode"));

        if (STREQ(s, "running")) {
                _cleanup_free_ char *d = cli_human_since(started, false);
                const char *h = json_string_value(json_object_get(json_object_get(st, "Health"), "Status"));
                if (json_is_true(json_object_get(st, "Paused")))
                        return xasprintf("Up %s (Paused)", d);
                if (h) /* docker's Health.String() */
                        return xasprintf("Up %s (%s)", d, STREQ(h, "starting") ? "health: starting" : h);
                return xasprintf("Up %s", d);
        }
        if (STREQ(s, "restarting")) {
                _cleanup_free_ char *d = cli_human_since(finished, true);
                return xasprintf("Restarting (%d) %s", code, d);
        }
        if (STREQ(s, "exited")) {
                if (!finished || str_has_prefix(finished, "0001-"))
                        return xstrdup("Created");
                _cleanup_free_ char *d = cli_human_since(finished, true);
                return xasprintf("Exited (%d) %s", code, d);
        }
        if (STREQ(s, "dead"))
                return xstrdup("Dead");
        return xstrdup("Created");
}

static char *created_at(const char *rfc)
{
        struct tm tm = { 0 };
        char buf[64];
        if (!rfc || !strptime(rfc, "%Y-%m-%dT%H:%M:%S", &tm))
                return xstrdup("");
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
        return xstrdup(buf);
}

static json_t *ps_row(json_t *rec, bool trunc)
{
        const char *id = json_string_value(json_object_get(rec, "Id"));
        const char *name = json_string_value(json_object_get(rec, "Name"));
        json_t *cfg = json_object_get(rec, "Config");
        _cleanup_free_ char *cmd = NULL, *cmdq = NULL, *status = cli_status_text(rec), *running_for = NULL, *labels = NULL, *mounts = NULL,
                            *created = created_at(json_string_value(json_object_get(rec, "Created")));
        size_t cap = 0, i;
        json_t *v;
        FILE *m = open_memstream(&cmd, &cap);

        fputs(json_string_value(json_object_get(rec, "Path")) ?: "", m);
        json_array_foreach(json_object_get(rec, "Args"), i, v) fprintf(m, " %s", json_string_value(v));
        fclose(m);
        {
                _cleanup_free_ char *e = trunc ? ellipsis(cmd, 20) : xstrdup(cmd);
                cmdq = go_quote(e);
        }
        running_for = cli_human_since(json_string_value(json_object_get(rec, "Created")), true);
        {
                const char *k;
                size_t lc = 0;
                FILE *lm = open_memstream(&labels, &lc);
                bool first = true;
                json_object_foreach(json_object_get(cfg, "Labels"), k, v) {
                        fprintf(lm, "%s%s=%s", first ? "" : ",", k, json_string_value(v));
                        first = false;
                }
                fclose(lm);
        }
        {
                /* docker's Mounts column: a volume's name or a bind's source, 15 characters unless --no-trunc */
                size_t mc = 0;
                FILE *mm = open_memstream(&mounts, &mc);
                json_array_foreach(json_object_get(rec, "Mounts"), i, v) {
                        const char *n = json_string_value(json_object_get(v, "Name"));
                        if (!n || !*n)
                                n = json_string_value(json_object_get(v, "Source")) ?: "";
                        _cleanup_free_ char *t = trunc ? ellipsis(n, 15) : xstrdup(n);
                        fprintf(mm, "%s%s", i ? "," : "", t);
                }
                fclose(mm);
        }
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%s", id ? id : "");
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", trunc ? short_id : id, "Image",
                         json_string_value(json_object_get(cfg, "Image")) ?: "", "Command", cmdq, "CreatedAt", created,
                         "RunningFor", running_for, "Ports", "", "State", container_status(rec), "Status", status, "Size", "",
                         "Names", name ? name + (name[0] == '/') : "", "Labels", labels, "Mounts", mounts);
}

typedef struct Filter {
        char *key, *value;
} Filter;

static bool filter_match_one(const char *key, const char *value, json_t *rec, Engine *e)
{
        json_t *cfg = json_object_get(rec, "Config");
        if (STREQ(key, "id"))
                return str_has_prefix(json_string_value(json_object_get(rec, "Id")), value);
        if (STREQ(key, "name")) {
                regex_t re;
                const char *n = json_string_value(json_object_get(rec, "Name"));
                bool ok = false;
                if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) == 0) {
                        ok = regexec(&re, n + (n[0] == '/'), 0, NULL, 0) == 0;
                        regfree(&re);
                }
                return ok;
        }
        if (STREQ(key, "label")) {
                const char *eq = strchr(value, '=');
                _cleanup_free_ char *k = eq ? xstrndup(value, (size_t)(eq - value)) : xstrdup(value);
                json_t *l = json_object_get(json_object_get(cfg, "Labels"), k);
                return l && (!eq || STREQ(json_string_value(l), eq + 1));
        }
        if (STREQ(key, "status"))
                return STREQ(container_status(rec), value);
        if (STREQ(key, "exited")) {
                int64_t n;
                return STREQ(container_status(rec), "exited") && parse_int64(value, &n) == 0 &&
                       json_integer_value(json_object_get(json_object_get(rec, "State"), "ExitCode")) == n;
        }
        if (STREQ(key, "volume")) {
                /* docker: a mount whose volume name or destination is the value */
                size_t i;
                json_t *m;
                json_array_foreach(json_object_get(rec, "Mounts"), i, m) {
                        const char *n = json_string_value(json_object_get(m, "Name"));
                        const char *d = json_string_value(json_object_get(m, "Destination"));
                        if ((n && STREQ(n, value)) || (d && STREQ(d, value)))
                                return true;
                }
                return false;
        }
        if (STREQ(key, "ancestor")) {
                const char *img = json_string_value(json_object_get(cfg, "Image"));
                const char *iid = json_string_value(json_object_get(rec, "Image"));
                _cleanup_free_ char *want = NULL;
                if (img && STREQ(img, value))
                        return true;
                _cleanup_(image_store_closep) ImageStore *s = NULL;
                if (image_store_open(e->data_root, &s, NULL) == 0 && image_lookup(s, value, &want, NULL, NULL) == 0)
                        return iid && STREQ(iid, want);
                return false;
        }
        return false;
}

static bool filters_match(Filter *f, size_t n, json_t *rec, Engine *e)
{
        /* Same key: any matches; different keys: all must. */
        for (size_t i = 0; i < n; i++) {
                bool seen_before = false, any = false;
                for (size_t j = 0; j < i; j++)
                        seen_before |= STREQ(f[j].key, f[i].key);
                if (seen_before)
                        continue;
                for (size_t j = i; j < n; j++)
                        if (STREQ(f[j].key, f[i].key))
                                any |= filter_match_one(f[j].key, f[j].value, rec, e);
                if (!any)
                        return false;
        }
        return true;
}

int cmd_ps(Engine *e, int argc, char **argv)
{
        bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
        const char *format = NULL, *last = NULL;
        char **filters = NULL;
        Pflag flags[] = {
                { "all", 'a', PFLAG_BOOL, &all, NULL, "Show all containers (default shows just running)" },
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Only display container IDs" },
                { "no-trunc", 0, PFLAG_BOOL, &no_trunc, NULL, "Don't truncate output" },
                { "latest", 'l', PFLAG_BOOL, &latest, NULL, "Show the latest created container" },
                { "last", 'n', PFLAG_STRING, &last, NULL, "Show n last created containers" },
                { "size", 's', PFLAG_BOOL, &size, NULL, "Display total file sizes (not computed yet)" },
                { "filter", 'f', PFLAG_STRINGS, &filters, NULL, "Filter output based on conditions provided" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format output using a Go template" },
                { 0 },
        };
        _cleanup_json_ json_t *recs = NULL, *rows = json_array(), *header = NULL;
        Filter *f = NULL;
        size_t nf = 0, i;
        json_t *rec;
        Error *err = NULL;
        int64_t n = -1;
        int idx = 1, rc;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (last && parse_int64(last, &n) < 0)
                return cli_failf(argv[0], "invalid argument \"%s\" for \"-n, --last\" flag", last);
        if (latest)
                n = 1;
        for (i = 0; filters && filters[i]; i++) {
                const char *eq = strchr(filters[i], '=');
                if (!eq) {
                        strv_free(filters);
                        free(f);
                        return cli_failf(NULL, "Error response from daemon: bad format of filter (expected name=value)");
                }
                f = xrealloc(f, (nf + 1) * sizeof(*f));
                f[nf].key = xstrndup(filters[i], (size_t)(eq - filters[i]));
                f[nf].value = xstrdup(eq + 1);
                if (!STREQ(f[nf].key, "id") && !STREQ(f[nf].key, "name") && !STREQ(f[nf].key, "label") &&
                    !STREQ(f[nf].key, "status") && !STREQ(f[nf].key, "exited") && !STREQ(f[nf].key, "ancestor") &&
                    !STREQ(f[nf].key, "volume")) {
                        fprintf(stderr, "Error response from daemon: invalid filter '%s'\n", f[nf].key);
                        return EXIT_ENGINE;
                }
                nf++;
        }
        if (container_list(e, &recs, &err) < 0)
                return cli_fail(NULL, err);
        /* Newest first, as docker lists them. */
        for (i = json_array_size(recs); i-- > 0;) {
                rec = json_array_get(recs, i);
                container_refresh_state(rec);
                bool running = STREQ(container_status(rec), "running") || STREQ(container_status(rec), "restarting");
                if (!all && n < 0 && !running && nf == 0)
                        continue;
                if (!all && n < 0 && nf && !running) {
                        bool status_filter = false;
                        for (size_t k = 0; k < nf; k++)
                                status_filter |= STREQ(f[k].key, "status") || STREQ(f[k].key, "exited");
                        if (!status_filter)
                                continue;
                }
                if (!filters_match(f, nf, rec, e))
                        continue;
                if (n >= 0 && (int64_t)json_array_size(rows) >= n)
                        break;
                json_array_append_new(rows, ps_row(rec, !no_trunc));
        }
        for (i = 0; i < nf; i++) {
                free(f[i].key);
                free(f[i].value);
        }
        free(f);
        strv_free(filters);
        if (quiet) {
                json_array_foreach(rows, i, rec) printf("%s\n", json_string_value(json_object_get(rec, "ID")));
                return 0;
        }
        if (!format || !*format || STREQ(format, "table"))
                format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
        header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "CONTAINER ID", "Image",
                           "IMAGE", "Command", "COMMAND", "CreatedAt", "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS",
                           "State", "STATE", "Status", "STATUS", "Size", "SIZE", "Names", "NAMES", "Labels", "LABELS",
                           "Mounts", "MOUNTS");
        rc = cli_print_table(format, rows, header);
        return rc;
}

/* ---- inspect ---- */

json_t *cli_container_for_inspect(json_t *rec)
{
        json_t *out = json_deep_copy(rec);
        container_refresh_state(out);
        json_object_del(out, "Stockade");
        return out;
}

json_t *cli_image_for_inspect(ImageStore *s, const char *ref, Error **err)
{
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *cfg = NULL, *list = NULL;
        json_t *tags = json_array(), *img;
        json_int_t size = 0;
        size_t i;

        if (image_lookup(s, ref, &id, &cfg, err) < 0) {
                json_decref(tags);
                return NULL;
        }
        if (image_list(s, &list, NULL) == 0)
                json_array_foreach(list, i, img) if (STREQ(json_string_value(json_object_get(img, "Id")) ?: "", id)) {
                        json_array_extend(tags, json_object_get(img, "RepoTags"));
                        size = json_integer_value(json_object_get(img, "Size"));
                }
        return json_pack("{s:s, s:o, s:[], s:s, s:s, s:O, s:s, s:O, s:s, s:s, s:I, s:I, s:O, s:{s:s}}", "Id", id, "RepoTags", tags,
                         "RepoDigests", "Parent", "", "Comment", json_string_value(json_object_get(cfg, "comment")) ?: "",
                         "Created", json_object_get(cfg, "created") ?: json_string(""), "Author",
                         json_string_value(json_object_get(cfg, "author")) ?: "", "Config",
                         json_object_get(cfg, "config") ?: json_null(), "Architecture",
                         json_string_value(json_object_get(cfg, "architecture")) ?: "amd64", "Os",
                         json_string_value(json_object_get(cfg, "os")) ?: "linux", "Size", size, "VirtualSize", size, "RootFS",
                         json_object_get(cfg, "rootfs") ?: json_null(), "Metadata", "LastTagTime", "0001-01-01T00:00:00Z");
}

int cmd_inspect(Engine *e, int argc, char **argv)
{
        const char *format = NULL, *type = NULL;
        bool size = false;
        Pflag flags[] = {
                { "format", 'f', PFLAG_STRING, &format, NULL, "Format output using a Go template" },
                { "type", 0, PFLAG_STRING, &type, NULL, "Return JSON for the specified type (container, image, volume)" },
                { "size", 's', PFLAG_BOOL, &size, NULL, "Display total file sizes if the type is container" },
                { 0 },
        };
        _cleanup_json_ json_t *out = json_array();
        _cleanup_(image_store_closep) ImageStore *store = NULL;
        Error *err = NULL;
        int idx = 1, rc = 0;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx >= argc)
                return cli_failf(argv[0], "\"stockade inspect\" requires at least 1 argument.");
        if (type && !STREQ(type, "container") && !STREQ(type, "image") && !STREQ(type, "volume"))
                return cli_failf(NULL, "\"%s\" is not a valid value for --type", type);
        for (int i = idx; i < argc; i++) {
                _cleanup_free_ char *id = NULL;
                json_t *obj = NULL;
                if ((!type || STREQ(type, "container")) && container_lookup(e, argv[i], &id, NULL) == 0) {
                        json_t *rec = NULL;
                        if (container_load(e, id, &rec, NULL) == 0) {
                                obj = cli_container_for_inspect(rec);
                                json_decref(rec);
                        }
                }
                if (!obj && (!type || STREQ(type, "image"))) {
                        if (!store && image_store_open(e->data_root, &store, &err) < 0)
                                return cli_fail(NULL, err);
                        obj = cli_image_for_inspect(store, argv[i], NULL);
                }
                if (!obj && (!type || STREQ(type, "volume")))
                        (void)volume_get(e, argv[i], &obj, NULL);
                if (!obj) {
                        fprintf(stderr, "Error: No such %s: %s\n", type ? type : "object", argv[i]);
                        rc = 1;
                        continue;
                }
                json_array_append_new(out, obj);
        }
        return cli_print_inspect(out, format) ? 1 : rc;
}

/* ---- logs ---- */

typedef struct LogsCtx {
        bool timestamps;
        Engine *e;
        const char *id;
} LogsCtx;

static int print_log(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        LogsCtx *c = ud;
        FILE *f = STREQ(stream, "stderr") ? stderr : stdout;
        if (c->timestamps) {
                _cleanup_free_ char *t = format_rfc3339nano(ts, false);
                fprintf(f, "%s ", t);
        }
        fwrite(msg, 1, len, f);
        fflush(f);
        return 0;
}

static bool still_running(void *ud)
{
        LogsCtx *c = ud;
        _cleanup_json_ json_t *rec = NULL;
        if (container_load(c->e, c->id, &rec, NULL) < 0)
                return false;
        return container_monitor_alive(rec);
}

int cmd_logs(Engine *e, int argc, char **argv)
{
        bool follow = false, timestamps = false, details = false;
        const char *tail = "all", *since = NULL, *until = NULL;
        Pflag flags[] = {
                { "follow", 'f', PFLAG_BOOL, &follow, NULL, "Follow log output" },
                { "timestamps", 't', PFLAG_BOOL, &timestamps, NULL, "Show timestamps" },
                { "tail", 'n', PFLAG_STRING, &tail, NULL, "Number of lines to show from the end of the logs" },
                { "since", 0, PFLAG_STRING, &since, NULL, "Show logs since timestamp or relative (e.g. 42m)" },
                { "until", 0, PFLAG_STRING, &until, NULL, "Show logs before a timestamp or relative (e.g. 42m)" },
                { "details", 0, PFLAG_BOOL, &details, NULL, "Show extra details provided to logs" },
                { 0 },
        };
        _cleanup_free_ char *id = NULL;
        _cleanup_json_ json_t *rec = NULL;
        JsonLogReadOpts o = { .tail = -1 };
        LogsCtx ctx = { .e = e };
        struct timespec nowts;
        Error *err = NULL;
        int idx = 1, max_file = 1;
        const char *path, *type;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx != argc - 1)
                return cli_failf(argv[0], "\"stockade logs\" requires exactly 1 argument.");
        if (container_lookup(e, argv[idx], &id, &err) < 0 || container_load(e, id, &rec, &err) < 0) {
                fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                error_free(err);
                return 1;
        }
        type = json_string_value(json_object_get(json_object_get(json_object_get(rec, "HostConfig"), "LogConfig"), "Type"));
        path = json_string_value(json_object_get(rec, "LogPath"));
        if (!type || !(STREQ(type, "journald") || ((STREQ(type, "json-file") || STREQ(type, "local")) && path && *path))) {
                fprintf(stderr, "Error response from daemon: configured logging driver does not support reading\n");
                return 1;
        }
        {
                const char *mf = json_string_value(json_object_get(
                        json_object_get(json_object_get(json_object_get(rec, "HostConfig"), "LogConfig"), "Config"), "max-file"));
                int64_t n;
                if (mf && parse_int64(mf, &n) == 0 && n > 0 && n < 1000)
                        max_file = (int)n;
                else if (STREQ(type, "local"))
                        max_file = LOCAL_LOG_DEFAULT_MAX_FILE; /* docker's local default, 5 */
        }
        if (!STREQ(tail, "all")) {
                int64_t n;
                if (parse_int64(tail, &n) < 0)
                        return cli_failf(argv[0], "invalid argument \"%s\" for \"-n, --tail\" flag", tail);
                o.tail = n < 0 ? -1 : n;
        }
        clock_gettime(CLOCK_REALTIME, &nowts);
        if (since) {
                if (parse_timestamp_arg(since, nowts, &o.since, &err) < 0)
                        return cli_fail(argv[0], err);
                o.has_since = true;
        }
        if (until) {
                if (parse_timestamp_arg(until, nowts, &o.until, &err) < 0)
                        return cli_fail(argv[0], err);
                o.has_until = true;
        }
        ctx.timestamps = timestamps;
        ctx.id = id;
        o.follow = follow && !until;
        o.details = details;
        o.running = still_running;
        o.running_ud = &ctx;
        if (STREQ(type, "journald") ? journald_log_read(id, &o, print_log, &ctx, &err) < 0
            : STREQ(type, "local")  ? local_log_read(path, max_file, &o, print_log, &ctx, &err) < 0
                                    : jsonlog_read(path, max_file, &o, print_log, &ctx, &err) < 0) {
                if (err->errnum == ENOENT) {
                        error_free(err);
                        return 0;       /* never started: nothing logged */
                }
                return cli_fail(NULL, err);
        }
        return 0;
}

/* ---- top ---- */

static char *run_capture(char **argv_, int *ret_status)
{
        int p[2];
        pid_t pid;
        char *out = NULL;
        int st = 0;

        if (pipe2(p, O_CLOEXEC) < 0)
                return NULL;
        pid = fork();
        if (pid == 0) {
                dup2(p[1], 1);
                execvp(argv_[0], argv_);
                _exit(127);
        }
        close(p[1]);
        (void)read_all_fd(p[0], 16 << 20, &out, NULL);
        close(p[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        return out;
}

int cmd_top(Engine *e, int argc, char **argv)
{
        _cleanup_free_ char *id = NULL, *pids_json = NULL, *ps_out = NULL;
        _cleanup_strv_ char **v = NULL, **psv = NULL;
        _cleanup_json_ json_t *rec = NULL, *pids = NULL;
        Error *err = NULL;
        int st = 0;

        if (argc < 2)
                return cli_failf(argv[0], "\"stockade top\" requires at least 1 argument.");
        if (container_lookup(e, argv[1], &id, &err) < 0 || container_load(e, id, &rec, &err) < 0)
                return cli_fail(NULL, err);
        if (!container_monitor_alive(rec)) {
                fprintf(stderr, "Error response from daemon: Container %s is not running\n", id);
                return 1;
        }
        if (engine_runtime_argv(e, json_object_get(rec, "HostConfig"), &v, &err) < 0)
                return cli_fail(NULL, err);
        strv_push(&v, "ps");
        strv_push(&v, "--format");
        strv_push(&v, "json");
        strv_push(&v, id);
        pids_json = run_capture(v, &st);
        if (st != 0 || !pids_json || !(pids = json_loads(pids_json, 0, NULL)) || !json_is_array(pids))
                return cli_failf(NULL, "the runtime could not list the container's processes");

        /* docker's way: run ps (with the given options, -ef by default) and keep the rows whose PID is the container's. */
        strv_push(&psv, "ps");
        if (argc > 2)
                for (int i = 2; i < argc; i++)
                        strv_push(&psv, argv[i]);
        else
                strv_push(&psv, "-ef");
        ps_out = run_capture(psv, &st);
        if (st != 0 || !ps_out)
                return cli_failf(NULL, "ps failed");
        {
                char *save = NULL, *line = strtok_r(ps_out, "\n", &save);
                int pid_col = -1, col = 0;
                if (!line)
                        return 0;
                _cleanup_free_ char *hdr = xstrdup(line);
                for (char *s2 = NULL, *t = strtok_r(hdr, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2), col++)
                        if (STREQ(t, "PID"))
                                pid_col = col;
                if (pid_col < 0)
                        return cli_failf(NULL, "Couldn't find PID field in ps output");
                printf("%s\n", line);
                while ((line = strtok_r(NULL, "\n", &save))) {
                        _cleanup_free_ char *copy = xstrdup(line);
                        char *s2 = NULL, *t = strtok_r(copy, " \t", &s2);
                        for (col = 0; t && col < pid_col; col++)
                                t = strtok_r(NULL, " \t", &s2);
                        if (!t)
                                continue;
                        size_t i;
                        json_t *p;
                        json_array_foreach(pids, i, p) if (json_integer_value(p) == atoll(t)) {
                                printf("%s\n", line);
                                break;
                        }
                }
        }
        return 0;
}

/* ---- stats ---- */

static uint64_t read_u64(const char *dir, const char *file, const char *key)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (!dir)
                return 0;
        path = xasprintf("%s/%s", dir, file);
        if (read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL) < 0)
                return 0;
        if (!key)
                return strtoull(text, NULL, 10);
        char *p = text;
        size_t kl = strlen(key);
        while (p && *p) {
                if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
                        return strtoull(p + kl + 1, NULL, 10);
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return 0;
}

uint64_t cli_system_cpu_ns(void)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long v[10] = { 0 }, sum = 0;
        if (read_file_at(AT_FDCWD, "/proc/stat", 1 << 20, &text, NULL) < 0)
                return 0;
        sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        for (int i = 0; i < 8; i++)
                sum += v[i];
        return sum * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static char *bytes_size(double b)
{
        static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t i = 0;
        while (b >= 1024 && i < ELEMENTSOF(u) - 1) {
                b /= 1024;
                i++;
        }
        return xasprintf("%.4g%s", b, u[i]);
}

static uint64_t cpu_usage(const char *acct, const char *v2)
{
        if (acct)
                return read_u64(acct, "cpuacct.usage", NULL);
        return read_u64(v2, "cpu.stat", "usage_usec") * 1000;
}

void cli_container_usage(json_t *rec, CliUsage *u)
{
        pid_t pid = (pid_t)json_integer_value(json_object_get(json_object_get(rec, "State"), "Pid"));
        _cleanup_free_ char *acct = NULL, *mem = NULL, *pids = NULL, *blk = NULL, *v2 = NULL;

        *u = (CliUsage){ 0 };
        if (pid > 0 && container_monitor_alive(rec)) {
                acct = cgroup_dir_of(pid, "cpuacct");
                mem = cgroup_dir_of(pid, "memory");
                pids = cgroup_dir_of(pid, "pids");
                blk = cgroup_dir_of(pid, "blkio");
                v2 = cgroup_dir_of(pid, NULL);
        }
        u->running = acct || v2;
        if (u->running)
                u->cpu_ns = cpu_usage(acct, v2);
        if (mem) {
                u->mem_usage = read_u64(mem, "memory.usage_in_bytes", NULL);
                uint64_t inactive = read_u64(mem, "memory.stat", "total_inactive_file");
                u->mem_usage = u->mem_usage > inactive ? u->mem_usage - inactive : u->mem_usage;
                u->mem_limit = read_u64(mem, "memory.limit_in_bytes", NULL);
        } else if (v2) {
                u->mem_usage = read_u64(v2, "memory.current", NULL);
                uint64_t inactive = read_u64(v2, "memory.stat", "inactive_file");
                u->mem_usage = u->mem_usage > inactive ? u->mem_usage - inactive : u->mem_usage;
                u->mem_limit = read_u64(v2, "memory.max", NULL);
        }
        {
                long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
                uint64_t total = (uint64_t)pages * (uint64_t)psz;
                if (u->mem_limit == 0 || u->mem_limit > total)
                        u->mem_limit = total;
        }
        u->pids = pids ? read_u64(pids, "pids.current", NULL) : (v2 ? read_u64(v2, "pids.current", NULL) : 0);
        if (blk) {
                _cleanup_free_ char *path = xasprintf("%s/blkio.throttle.io_service_bytes", blk), *text = NULL;
                if (read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL) == 0) {
                        char *save = NULL;
                        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                                char dev[64], op[16];
                                unsigned long long val;
                                if (sscanf(l, "%63s %15s %llu", dev, op, &val) == 3) {
                                        if (STREQ(op, "Read"))
                                                u->blk_read += val;
                                        else if (STREQ(op, "Write"))
                                                u->blk_write += val;
                                }
                        }
                }
        }
}

/* One table of samples (each container measured over half a second). */
static int stats_sample(Engine *e, int argc, char **argv, int idx, bool all, bool no_trunc, const char *format)
{
        _cleanup_json_ json_t *recs = NULL, *sel = json_array(), *rows = json_array(), *header = NULL;
        Error *err = NULL;
        size_t i, n;
        json_t *rec;

        if (idx < argc) {
                for (int k = idx; k < argc; k++) {
                        _cleanup_free_ char *id = NULL;
                        json_t *r = NULL;
                        if (container_lookup(e, argv[k], &id, &err) < 0 || container_load(e, id, &r, &err) < 0)
                                return cli_fail(NULL, err);
                        json_array_append_new(sel, r);
                }
        } else {
                if (container_list(e, &recs, &err) < 0)
                        return cli_fail(NULL, err);
                json_array_foreach(recs, i, rec) if (all || container_monitor_alive(rec)) json_array_append(sel, rec);
        }
        n = json_array_size(sel);
        CliUsage *u0 = xcalloc(n + 1, sizeof(CliUsage));
        json_array_foreach(sel, i, rec) cli_container_usage(rec, &u0[i]);
        uint64_t sys0 = cli_system_cpu_ns();
        struct timespec d = { 0, 500 * 1000000L };
        nanosleep(&d, NULL);
        uint64_t sys1 = cli_system_cpu_ns();
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        json_array_foreach(sel, i, rec) {
                const char *id = json_string_value(json_object_get(rec, "Id"));
                const char *name = json_string_value(json_object_get(rec, "Name"));
                double cpu = 0, memp = 0;
                CliUsage u1;
                cli_container_usage(rec, &u1);
                if (u0[i].running && u1.running && sys1 > sys0 && u1.cpu_ns > u0[i].cpu_ns)
                        cpu = (double)(u1.cpu_ns - u0[i].cpu_ns) / (double)(sys1 - sys0) * (double)ncpu * 100.0;
                uint64_t usage = u1.mem_usage, limit = u1.mem_limit, np = u1.pids, rd = u1.blk_read, wr = u1.blk_write;
                if (limit)
                        memp = (double)usage / (double)limit * 100.0;
        char short_id[13];
                snprintf(short_id, sizeof(short_id), "%s", id ? id : "");
                _cleanup_free_ char *cpus = xasprintf("%.2f%%", cpu), *mems = NULL, *mu = bytes_size((double)usage),
                                    *ml = bytes_size((double)limit), *memps = xasprintf("%.2f%%", memp),
                                    *br = cli_human_size((double)rd), *bw = cli_human_size((double)wr), *blks = NULL,
                                    *pidss = xasprintf("%llu", (unsigned long long)np);
                mems = xasprintf("%s / %s", mu, ml);
                blks = xasprintf("%s / %s", br, bw);
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Container", short_id, "ID",
                                                      no_trunc ? id : short_id, "Name", name ? name + 1 : "", "CPUPerc", cpus,
                                                      "MemUsage", mems, "MemPerc", memps, "NetIO", "0B / 0B", "BlockIO", blks,
                                                      "PIDs", pidss));
        }
        free(u0);
        header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Container", "CONTAINER", "ID", "CONTAINER ID", "Name",
                           "NAME", "CPUPerc", "CPU %", "MemUsage", "MEM USAGE / LIMIT", "MemPerc", "MEM %", "NetIO", "NET I/O",
                           "BlockIO", "BLOCK I/O", "PIDs", "PIDS");
        if (!format || !*format)
                format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
        return cli_print_table(format, rows, header);
}

int cmd_stats(Engine *e, int argc, char **argv)
{
        bool no_stream = false, all = false, no_trunc = false;
        const char *format = NULL;
        Pflag flags[] = {
                { "no-stream", 0, PFLAG_BOOL, &no_stream, NULL, "Disable streaming stats and only pull the first result" },
                { "all", 'a', PFLAG_BOOL, &all, NULL, "Show all containers (default shows just running)" },
                { "no-trunc", 0, PFLAG_BOOL, &no_trunc, NULL, "Do not truncate output" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format output using a Go template" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        for (;;) {
                int r;
                if (!no_stream && isatty(STDOUT_FILENO))
                        fputs("\033[2J\033[H", stdout);
                r = stats_sample(e, argc, argv, idx, all, no_trunc, format);
                fflush(stdout);
                if (r != 0 || no_stream)
                        return r;
                /* Docker refreshes about once a second; a sample takes half of it. */
                struct timespec d = { 0, 500 * 1000000L };
                nanosleep(&d, NULL);
        }
}
