/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade compose's loader: the input as a compose file (YAML with anchors, aliases and merge keys,
 * interpolation, the normalised model, each service's create command line through the run parser),
 * as YAML alone, as a .env file, each line as an interpolated string and as a shell command.  The
 * normalised model printed as YAML must read back.  Nothing may crash or leak, whatever the bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compose.h"
#include "json-util.h"
#include "runopts.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void whole_project(const uint8_t *data, size_t size)
{
        _cleanup_(compose_project_freep) ComposeProject *p = NULL;
        _cleanup_free_ char *path = NULL;
        char *env[] = { (char *)"A=alpha", (char *)"EMPTY=", (char *)"HOME=/root", NULL };
        Error *err = NULL;
        int fd = memfd_create("compose.yaml", MFD_CLOEXEC);

        if (fd < 0)
                return;
        if (write_all(fd, data, size) < 0) {
                close(fd);
                return;
        }
        path = xasprintf("/proc/self/fd/%d", fd);
        char *files[] = { path, NULL };
        ComposeLoadOpts o = { .files = files, .project_dir = "/", .env_file = "/dev/null",
                              .environ = env };
        if (compose_load(&o, &p, &err) < 0) {
                error_clear(&err);
                close(fd);
                return;
        }
        close(fd);
        {
                _cleanup_free_ char *yaml = NULL;
                _cleanup_json_ json_t *back = NULL;
                if (compose_to_yaml(p->model, &yaml, &err) < 0)
                        abort(); /* the model is ours: printing it cannot fail */
                if (compose_yaml_parse(yaml, strlen(yaml), "config", NULL, &back, &err) < 0) {
                        fprintf(stderr, "config output does not read back: %s\n%s\n", err->msg, yaml);
                        abort();
                }
        }
        for (size_t i = 0; i < p->n_services; i++) {
                ComposeService *s = &p->services[i];
                _cleanup_free_ char *name = compose_container_name(p, s);
                _cleanup_strv_ char **argv = compose_create_argv(p, s, name, false, "create", NULL, NULL);
                RunOpts ro = { 0 };
                int idx = 1;
                /* the service's flags each passed the parser: the whole line must too */
                if (runopts_parse(false, (int)strv_length(argv), argv, &idx, &ro, &err) < 0) {
                        fprintf(stderr, "service %s: %s\n", s->name, err->msg);
                        abort();
                }
                runopts_free(&ro);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *j = NULL, *locs = json_object(), *env = json_pack("{s:s, s:s}", "A", "alpha", "EMPTY", "");
        Error *err = NULL;
        char *save = NULL;

        if (size > 65536)
                return 0;
        if (compose_yaml_parse((const char *)data, size, "fuzz.yaml", locs, &j, &err) < 0)
                error_clear(&err);
        {
                _cleanup_json_ json_t *dotenv = json_object();
                if (compose_parse_env((const char *)data, size, ".env", dotenv, &err) < 0)
                        error_clear(&err);
        }
        whole_project(data, size);
        text = xstrndup((const char *)data, size);
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char **w = NULL;
                char *out = NULL;
                json_t *words = NULL;
                if (compose_interpolate(line, env, &w, &out, &err) < 0)
                        error_clear(&err);
                free(out);
                strv_free(w);
                if (compose_shell_split(line, &words, &err) < 0)
                        error_clear(&err);
                json_decref(words);
        }
        return 0;
}
