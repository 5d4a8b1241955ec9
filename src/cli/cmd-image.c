/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Image commands: images, rmi, tag.  Import, load and save are in cmd-archive.c (the image helper). */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "image-store.h"
#include "json-util.h"
#include "lifecycle.h"
#include "pflag.h"
#include "template.h"
#include "util.h"

int cmd_images(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *list = NULL, *rows = json_array();
        bool quiet = false, all = false, no_trunc = false;
        const char *format = NULL;
        char **filters = NULL;
        Pflag flags[] = {
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Only show image IDs" },
                { "all", 'a', PFLAG_BOOL, &all, NULL, "Show all images" },
                { "no-trunc", 0, PFLAG_BOOL, &no_trunc, NULL, "Don't truncate output" },
                { "format", 0, PFLAG_STRING, &format, NULL, "Format output using a Go template" },
                { "filter", 'f', PFLAG_STRINGS, &filters, NULL, "Filter output (dangling=true|false, reference=PATTERN)" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1, r;
        size_t i;
        json_t *img;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if ((r = cli_open_store(e, &s)))
                return r;
        if (image_list(s, &list, &err) < 0)
                return cli_fail(NULL, err);
        json_array_foreach(list, i, img) {
                const char *id = json_string_value(json_object_get(img, "Id")) ?: "";
                json_t *tags = json_object_get(img, "RepoTags");
                const char *hex = str_has_prefix(id, "sha256:") ? id + 7 : id;
                _cleanup_free_ char *short_id = xasprintf("%.12s", hex), *size = cli_human_size(
                        (double)json_integer_value(json_object_get(img, "Size")));
                time_t created = (time_t)json_integer_value(json_object_get(img, "Created"));
                char iso[64];
                struct tm tm;
                gmtime_r(&created, &tm);
                strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
                _cleanup_free_ char *since = cli_human_since(iso, true);
                bool dangling = json_array_size(tags) == 0;
                bool keep = true;
                for (size_t k = 0; filters && filters[k]; k++) {
                        if (STREQ(filters[k], "dangling=true"))
                                keep &= dangling;
                        else if (STREQ(filters[k], "dangling=false"))
                                keep &= !dangling;
                        else if (str_has_prefix(filters[k], "reference=")) {
                                bool any = false;
                                size_t t;
                                json_t *tag;
                                json_array_foreach(tags, t, tag) any |= fnmatch(filters[k] + 10, json_string_value(tag), 0) == 0;
                                keep &= any;
                        }
                }
                if (!keep)
                        continue;
                size_t nt = dangling ? 1 : json_array_size(tags);
                for (size_t t = 0; t < nt; t++) {
                        const char *tag = dangling ? "<none>:<none>" : json_string_value(json_array_get(tags, t));
                        const char *colon = strrchr(tag, ':');
                        if (colon && strchr(colon, '/'))
                                colon = NULL;
                        _cleanup_free_ char *repo = colon ? xstrndup(tag, (size_t)(colon - tag)) : xstrdup(tag);
                        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", repo,
                                                              "Tag", colon ? colon + 1 : "<none>", "ID",
                                                              no_trunc ? id : short_id, "CreatedSince", since, "CreatedAt", iso,
                                                              "Size", size, "Digest", "<none>", "Containers", "N/A"));
                }
        }
        strv_free(filters);
        if (quiet) {
                json_t *seen = json_object();
                json_array_foreach(rows, i, img) {
                        const char *id = json_string_value(json_object_get(img, "ID"));
                        if (!json_object_get(seen, id)) {
                                printf("%s\n", id);
                                json_object_set_new(seen, id, json_true());
                        }
                }
                json_decref(seen);
                return 0;
        }
        (void)all;
        if (!format || !*format || STREQ(format, "table"))
                format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
        _cleanup_json_ json_t *header = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", "REPOSITORY",
                                                  "Tag", "TAG", "ID", "IMAGE ID", "CreatedSince", "CREATED", "CreatedAt",
                                                  "CREATED AT", "Size", "SIZE", "Digest", "DIGEST", "Containers", "CONTAINERS");
        return cli_print_table(format, rows, header);
}

int cmd_rmi(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_strv_ char **imgs = NULL, **ctrs = NULL;
        bool force = false, no_prune = false;
        Pflag flags[] = {
                { "force", 'f', PFLAG_BOOL, &force, NULL, "Force removal of the image" },
                { "no-prune", 0, PFLAG_BOOL, &no_prune, NULL, "Do not delete untagged parents" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1, r, rc = 0;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx >= argc)
                return cli_failf(argv[0], "\"stockade rmi\" requires at least 1 argument.");
        if ((r = cli_open_store(e, &s)))
                return r;
        if (lifecycle_images_in_use(e, &imgs, &ctrs, &err) < 0)
                return cli_fail(NULL, err);
        for (int i = idx; i < argc; i++) {
                _cleanup_json_ json_t *res = NULL, *config = NULL;
                _cleanup_free_ char *image_id = NULL;
                size_t k;
                json_t *v;
                /* the id and labels before they go, for the events */
                (void)image_lookup(s, argv[i], &image_id, &config, NULL);
                if (image_remove(s, argv[i], force, imgs, ctrs, &res, &err) < 0) {
                        cli_audit(e, "rmi", "image", image_id, argv[i], err);
                        fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                        error_clear(&err);
                        rc = 1;
                        continue;
                }
                cli_audit(e, "rmi", "image", image_id, argv[i], NULL);
                json_array_foreach(res, k, v) {
                        const char *key;
                        json_t *val;
                        json_object_foreach(v, key, val) printf("%s: %s\n", key, json_string_value(val));
                        /* dockerd's: "untag" per reference removed, "delete" for the image (not its layers) */
                        if (image_id && json_object_get(v, "Untagged"))
                                cli_image_event(e, image_id, image_id, config, "untag");
                        else if (image_id && STREQ(json_string_value(json_object_get(v, "Deleted")) ?: "", image_id))
                                cli_image_event(e, image_id, image_id, config, "delete");
                }
        }
        return rc;
}

int cmd_tag(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        Error *err = NULL;
        int r;

        if (argc != 3)
                return cli_failf(argv[0], "\"stockade tag\" requires exactly 2 arguments.");
        if ((r = cli_open_store(e, &s)))
                return r;
        _cleanup_json_ json_t *config = NULL;
        _cleanup_free_ char *image_id = NULL, *norm = NULL;
        if (image_tag(s, argv[1], argv[2], &err) < 0 || image_lookup(s, argv[1], &image_id, &config, &err) < 0 ||
            image_ref_normalize(argv[2], &norm, &err) < 0) {
                cli_audit(e, "tag", "image", image_id, argv[2], err);
                fprintf(stderr, "Error response from daemon: %s\n", err->msg);
                error_free(err);
                return 1;
        }
        cli_image_event(e, image_id, norm, config, "tag");
        cli_audit(e, "tag", "image", image_id, norm, NULL);
        return 0;
}
