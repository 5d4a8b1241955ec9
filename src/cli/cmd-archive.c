/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image commands that read or write archives: import, load, save.  No registry: images come from
 * archives.  These run in the stockade-image helper (image-main.c), the only binary linking libarchive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "image-store.h"
#include "json-util.h"
#include "pflag.h"
#include "util.h"

/* Progress on a terminal only, redrawn in place at most ten times a second. */
static void progress(void *ud, const char *what, uint64_t done, uint64_t total)
{
        static struct timespec last;
        struct timespec now;

        if (!isatty(STDERR_FILENO))
                return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (done != total && (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 100)
                return;
        last = now;
        _cleanup_free_ char *d = cli_human_size((double)done);
        if (total) {
                _cleanup_free_ char *t = cli_human_size((double)total);
                int width = 40, fill = (int)((double)done / (double)total * width);
                fprintf(stderr, "\r%-12.12s [%.*s>%*s] %s/%s\033[K", what, fill, "========================================",
                        width - fill, "", d, t);
        } else
                fprintf(stderr, "\r%-12.12s %s\033[K", what, d);
        if (total && done >= total)
                fprintf(stderr, "\n");
}

int cmd_import(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_free_ char *id = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_ char **changes = NULL;
        const char *message = NULL;
        Pflag flags[] = {
                { "change", 'c', PFLAG_STRINGS, &changes, NULL,
                  "Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, "
                  "HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)" },
                { "message", 'm', PFLAG_STRING, &message, NULL, "Set commit message for imported image" },
                { 0 },
        };
        ImageImportOptions opts = { 0 };
        Error *err = NULL;
        int idx = 1, r;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (argc - idx < 1 || argc - idx > 2)
                return cli_failf(argv[0], "\"stockade import\" requires at least 1 and at most 2 arguments.");
        if (STREQ(argv[idx], "-"))
                fd = dup(STDIN_FILENO);
        else {
                fd = open(argv[idx], O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return cli_failf(NULL, "open %s: %s", argv[idx], strerror(errno));
        }
        if ((r = cli_open_store(e, &s)))
                return r;
        opts.message = message;
        opts.changes = changes;
        if (image_import_with(s, fd, idx + 1 < argc ? argv[idx + 1] : NULL,
                              STREQ(argv[idx], "-") ? "-" : argv[idx], &opts, progress, NULL, &id, &err) < 0) {
                cli_audit(e, "import", "image", NULL, idx + 1 < argc ? argv[idx + 1] : "", err);
                return cli_fail(NULL, err);
        }
        {
                /* dockerd's order: the tag's event, then the import's */
                _cleanup_json_ json_t *config = NULL;
                _cleanup_free_ char *norm = NULL;
                (void)image_lookup(s, id, NULL, &config, NULL);
                if (idx + 1 < argc && image_ref_normalize(argv[idx + 1], &norm, NULL) == 0)
                        cli_image_event(e, id, norm, config, "tag");
                cli_image_event(e, id, id, config, "import");
                cli_audit(e, "import", "image", id, norm ? norm : "", NULL);
        }
        printf("%s\n", id);
        return 0;
}

int cmd_load(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        _cleanup_json_ json_t *loaded = NULL;
        _cleanup_strv_ char **seen = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *input = NULL;
        bool quiet = false;
        Pflag flags[] = {
                { "input", 'i', PFLAG_STRING, &input, NULL, "Read from tar archive file, instead of STDIN" },
                { "quiet", 'q', PFLAG_BOOL, &quiet, NULL, "Suppress the load output" },
                { 0 },
        };
        Error *err = NULL;
        int idx = 1, r;
        size_t i;
        json_t *v;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx != argc)
                return cli_failf(argv[0], "\"stockade load\" accepts no arguments.");
        if (input) {
                fd = open(input, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return cli_failf(NULL, "open %s: %s", input, strerror(errno));
        } else {
                if (isatty(STDIN_FILENO))
                        return cli_failf(NULL, "requested load from stdin, but stdin is empty");
                fd = dup(STDIN_FILENO);
        }
        if ((r = cli_open_store(e, &s)))
                return r;
        if (image_load(s, fd, quiet ? NULL : progress, NULL, &loaded, &err) < 0) {
                cli_audit(e, "load", "image", NULL, input ? input : "-", err);
                return cli_fail(NULL, err);
        }
        json_array_foreach(loaded, i, v) {
                const char *ref = json_string_value(v);
                _cleanup_json_ json_t *config = NULL;
                _cleanup_free_ char *image_id = NULL;
                if (ref && image_lookup(s, ref, &image_id, &config, NULL) == 0) {
                        /* one event per image, as dockerd's (an image loaded with two tags is one) */
                        bool seen_before = false;
                        for (size_t k = 0; seen && seen[k]; k++)
                                seen_before |= STREQ(seen[k], image_id);
                        if (!seen_before)
                                cli_image_event(e, image_id, image_id, config, "load");
                        strv_push(&seen, image_id);
                        cli_audit(e, "load", "image", image_id, ref, NULL);
                }
                if (ref && str_has_prefix(ref, "sha256:"))
                        printf("Loaded image ID: %s\n", ref);
                else if (ref)
                        printf("Loaded image: %s\n", ref);
        }
        return 0;
}

/* Written beside the target and renamed: an interrupted save leaves no partial archive. */
static int save_to_file(ImageStore *s, char *const *refs, const char *output, Error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", output, (int)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r;

        if (fd < 0)
                return error_set(err, errno, "open %s", tmp);
        r = image_save(s, refs, fd, err);
        if (r == 0 && fsync(fd) < 0)
                r = error_set(err, errno, "fsync %s", tmp);
        close(fd);
        if (r == 0 && rename(tmp, output) < 0)
                r = error_set(err, errno, "rename %s", output);
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int cmd_save(Engine *e, int argc, char **argv)
{
        _cleanup_(image_store_closep) ImageStore *s = NULL;
        const char *output = NULL;
        Pflag flags[] = { { "output", 'o', PFLAG_STRING, &output, NULL, "Write to a file, instead of STDOUT" }, { 0 } };
        Error *err = NULL;
        int idx = 1, r;

        if (pflag_parse(flags, argc, argv, &idx, false, NULL, &err) < 0)
                return cli_fail(argv[0], err);
        if (idx >= argc)
                return cli_failf(argv[0], "\"stockade save\" requires at least 1 argument.");
        if (!output && isatty(STDOUT_FILENO))
                return cli_failf(NULL, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
        if ((r = cli_open_store(e, &s)))
                return r;
        r = output ? save_to_file(s, argv + idx, output, &err) : image_save(s, argv + idx, STDOUT_FILENO, &err);
        /* dockerd's "save" event per image named, and an audit record: an image leaving the engine */
        for (int i = idx; i < argc; i++) {
                _cleanup_json_ json_t *config = NULL;
                _cleanup_free_ char *image_id = NULL;
                if (image_lookup(s, argv[i], &image_id, &config, NULL) < 0)
                        continue;
                if (r == 0)
                        cli_image_event(e, image_id, image_id, config, "save");
                cli_audit(e, "save", "image", image_id, argv[i], r < 0 ? err : NULL);
        }
        if (r < 0)
                return cli_fail(NULL, err);
        return 0;
}
