/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stockade volume create|ls|inspect|rm|prune: docker's volume commands over volume.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "container-store.h"
#include "json-util.h"
#include "pflag.h"
#include "util.h"
#include "volume.h"

/* "key=value" strings into an object; the flag named in the error. */
static int kv_object(char **list, const char *flag, json_t **ret, Error **err)
{
        json_t *o = json_object();

        for (size_t i = 0; list && list[i]; i++) {
                const char *eq = strchr(list[i], '=');
                _cleanup_free_ char *k = eq ? xstrndup(list[i], (size_t)(eq - list[i])) : xstrdup(list[i]);
                if (!*k) {
                        json_decref(o);
                        return error_setx(err, EINVAL, "invalid argument \"%s\" for \"%s\" flag: a key is needed", list[i], flag);
                }
                json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
        }
        *ret = o;
        return 0;
}

static int volume_create_cmd(Engine *e, int argc, char **argv)
{
        const char *driver = NULL, *name = NULL;
        char **labels = NULL, **opts = NULL;
        Pflag flags[] = {
                { "driver", 'd', PFLAG_STRING, &driver, NULL, "Specify volume driver name (local)" },
                { "label", 0, PFLAG_STRINGS, &labels, NULL, "Set metadata for a volume" },
                { "opt", 'o', PFLAG_STRINGS, &opts, NULL, "Set driver specific options (type, device, o)" },
                { "name", 0, PFLAG_STRING, &name, NULL, "Specify volume name" },
                { 0 },
        };
        _cleanup_json_ json_t *lab = NULL, *opt = NULL, *vol = NULL;
        Error *err = NULL;
        int idx = 1, r;

        r = pflag_parse(flags, argc, argv, &idx, true, NULL, &err);
        if (r >= 0)
                argc = r;       /* interspersed: the positional arguments gathered from idx */
        if (r >= 0 && argc - idx > 1)
                r = error_setx(&err, EINVAL, "\"stockade volume create\" requires at most 1 argument.");
        if (r >= 0 && argc - idx == 1) {
                if (name && !STREQ(name, argv[idx]))
                        r = error_setx(&err, EINVAL, "conflicting options: either specify --name or provide positional arg, not both");
                name = argv[idx];
        }
        if (r >= 0)
                r = kv_object(labels, "--label", &lab, &err);
        if (r >= 0)
                r = kv_object(opts, "--opt", &opt, &err);
        strv_free(labels);
        strv_free(opts);
        if (r < 0)
                return cli_fail("volume create", err);
        r = volume_create(e, name, driver, lab, opt, false, &vol, NULL, &err);
        cli_audit(e, "volume create", "volume", vol ? json_string_value(json_object_get(vol, "Name")) : name, name,
                  r < 0 ? err : NULL);
        if (r < 0) {
                fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                error_free(err);
                return 1;
        }
        printf("%s\n", json_string_value(json_object_get(vol, "Name")));
        return 0;
}

static int volume_ls_cmd(Engine *e, int argc, char **argv)
{
        bool quiet = false;
        const char *format = NULL;
        char **filters = NULL;
        Pflag flags[] = {
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Only display volume names" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format output using a Go template" },
                { "filter", 'f', PFLAG_STRINGS, &filters, NULL, "Provide filter values (dangling, name, label, driver)" },
                { 0 },
        };
        _cleanup_json_ json_t *vols = NULL, *ctrs = NULL, *rows = json_array();
        VolumeFilter f = VOLUME_FILTER_INIT;
        Error *err = NULL;
        int idx = 1, r;
        size_t i;
        json_t *v;

        r = pflag_parse(flags, argc, argv, &idx, false, NULL, &err);
        for (size_t k = 0; r >= 0 && filters && filters[k]; k++)
                r = volume_filter_add(&f, filters[k], false, &err);
        strv_free(filters);
        if (r >= 0)
                r = volume_list(e, &vols, &err);
        if (r >= 0)
                r = container_list(e, &ctrs, &err);
        if (r < 0) {
                volume_filter_done(&f);
                return cli_fail("volume ls", err);
        }
        json_array_foreach(vols, i, v) {
                if (!volume_filter_match(&f, v, ctrs))
                        continue;
                if (quiet) {
                        printf("%s\n", json_string_value(json_object_get(v, "Name")));
                        continue;
                }
                _cleanup_free_ char *labels = NULL;
                size_t cap = 0;
                FILE *m = open_memstream(&labels, &cap);
                const char *k;
                json_t *lv;
                bool first = true;
                json_object_foreach(json_object_get(v, "Labels"), k, lv) {
                        fprintf(m, "%s%s=%s", first ? "" : ",", k, json_string_value(lv) ?: "");
                        first = false;
                }
                fclose(m);
                /* the docker CLI's fields (the cluster ones N/A, as it prints them for local volumes) */
                json_array_append_new(rows, json_pack("{s:s, s:O, s:s, s:s, s:s, s:O, s:O, s:O, s:s, s:s}",
                                                      "Availability", "N/A", "Driver", json_object_get(v, "Driver"),
                                                      "Group", "N/A", "Labels", labels, "Links", "N/A", "Mountpoint",
                                                      json_object_get(v, "Mountpoint"), "Name", json_object_get(v, "Name"),
                                                      "Scope", json_object_get(v, "Scope"), "Size", "N/A", "Status", "N/A"));
        }
        volume_filter_done(&f);
        if (quiet)
                return 0;
        if (!format || !*format || STREQ(format, "table"))
                format = "table {{.Driver}}\t{{.Name}}";
        _cleanup_json_ json_t *header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Name",
                                                  "VOLUME NAME", "Driver", "DRIVER", "Scope", "SCOPE", "Mountpoint",
                                                  "MOUNTPOINT", "Labels", "LABELS", "Links", "LINKS",
                                                  "Size", "SIZE", "Availability", "AVAILABILITY", "Group", "GROUP", "Status",
                                                  "STATUS");
        return cli_print_table(format, rows, header);
}

static int volume_inspect_cmd(Engine *e, int argc, char **argv)
{
        const char *format = NULL;
        Pflag flags[] = { { "format", 'f', PFLAG_STRING, &format, NULL, "Format output using a Go template" }, { 0 } };
        _cleanup_json_ json_t *out = json_array();
        Error *err = NULL;
        int idx = 1, rc = 0;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail("volume inspect", err);
        if (idx >= argc)
                return cli_failf("volume inspect", "\"stockade volume inspect\" requires at least 1 argument.");
        for (int k = idx; k < argc; k++) {
                json_t *v = NULL;
                if (volume_get(e, argv[k], &v, &err) < 0) {
                        fprintf(stderr, "Error: No such volume: %s\n", argv[k]);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                json_array_append_new(out, v);
        }
        return cli_print_inspect(out, format) ? 1 : rc;
}

static int volume_rm_cmd(Engine *e, int argc, char **argv)
{
        bool force = false;
        Pflag flags[] = {
                { "force", 'f', PFLAG_BOOL, &force, NULL, "Do not fail on a volume that does not exist (one in use is never removed)" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1, rc = 0;

        int n = pflag_parse(flags, argc, argv, &idx, true, NULL, &err);
        if (n < 0)
                return cli_fail("volume rm", err);
        argc = n;
        if (idx >= argc)
                return cli_failf("volume rm", "\"stockade volume rm\" requires at least 1 argument.");
        for (int k = idx; k < argc; k++) {
                int r = volume_remove(e, argv[k], NULL, &err);
                if (r == -ENOENT && force) {
                        error_clear(&err);
                        continue;
                }
                cli_audit(e, "volume rm", "volume", argv[k], argv[k], r < 0 ? err : NULL);
                if (r < 0) {
                        fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                printf("%s\n", argv[k]);
        }
        return rc;
}

static int volume_prune_cmd(Engine *e, int argc, char **argv)
{
        bool force = false, all = false;
        char **filters = NULL, **gone = NULL;
        Pflag flags[] = {
                { "all", 'a', PFLAG_BOOL, &all, NULL, "Remove all unused volumes, not just anonymous ones" },
                { "force", 'f', PFLAG_BOOL, &force, NULL, "Do not prompt for confirmation" },
                { "filter", 0, PFLAG_STRINGS, &filters, NULL, "Provide filter values (label=K[=V], label!=K[=V], all=true)" },
                { 0 },
        };
        VolumeFilter f = VOLUME_FILTER_INIT;
        Error *err = NULL;
        uint64_t size = 0;
        int idx = 1, r;

        r = pflag_parse(flags, argc, argv, &idx, false, NULL, &err);
        for (size_t i = 0; r >= 0 && filters && filters[i]; i++)
                r = volume_filter_add(&f, filters[i], true, &err);
        strv_free(filters);
        f.all |= all;
        if (r < 0) {
                volume_filter_done(&f);
                return cli_fail("volume prune", err);
        }
        if (!force) {
                char answer[16] = "";
                fprintf(stderr, "WARNING! This will remove %s local volumes not used by at least one container.\n"
                                "Are you sure you want to continue? [y/N] ", f.all ? "all" : "anonymous");
                if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
                        volume_filter_done(&f);
                        return 0;
                }
        }
        r = volume_prune(e, f.all, f.labels, f.labels_not, &gone, &size, &err);
        volume_filter_done(&f);
        cli_audit(e, "volume prune", "volume", NULL, NULL, r < 0 ? err : NULL);
        if (r < 0)
                return cli_fail(NULL, err);
        if (gone[0]) {
                printf("Deleted Volumes:\n");
                for (size_t i = 0; gone[i]; i++)
                        printf("%s\n", gone[i]);
                printf("\n");
        }
        {
                _cleanup_free_ char *h = cli_human_size((double)size);
                printf("Total reclaimed space: %s\n", h);
        }
        strv_free(gone);
        return 0;
}

int cmd_volume(Engine *e, int argc, char **argv)
{
        static const struct {
                const char *name, *alias, *help;
                int (*fn)(Engine *, int, char **);
        } subs[] = {
                { "create", NULL, "Create a volume", volume_create_cmd },
                { "ls", "list", "List volumes", volume_ls_cmd },
                { "inspect", NULL, "Display detailed information on one or more volumes", volume_inspect_cmd },
                { "rm", "remove", "Remove one or more volumes", volume_rm_cmd },
                { "prune", NULL, "Remove unused local volumes (anonymous ones; all with -a)", volume_prune_cmd },
        };

        if (argc < 2 || STREQ(argv[1], "--help") || STREQ(argv[1], "help")) {
                printf("\nUsage:  stockade volume COMMAND\n\nManage volumes\n\nCommands:\n");
                for (size_t i = 0; i < ELEMENTSOF(subs); i++)
                        printf("  %-10s %s\n", subs[i].name, subs[i].help);
                return argc < 2 ? EXIT_ENGINE : 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(subs); i++)
                if (STREQ(argv[1], subs[i].name) || (subs[i].alias && STREQ(argv[1], subs[i].alias)))
                        return subs[i].fn(e, argc - 1, argv + 1);
        return cli_failf(NULL, "volume: unknown command \"%s\" (create, ls, inspect, rm and prune are)", argv[1]);
}
