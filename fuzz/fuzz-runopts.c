/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * docker run's command line and daemon.json: the input's lines are argv after "run" (at most 64), and
 * the whole input is also tried as a daemon.json document.  Parsing, dockerd's checks and the
 * resource/caps parts of the spec generator must never crash, whatever the values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "json-util.h"
#include "runopts.h"
#include "specgen.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        char *argv[66];
        int argc = 0, idx = 1;
        char *save = NULL;
        RunOpts o;
        Error *err = NULL;
        Engine e = { .data_root = (char *)"/nonexistent", .exec_root = (char *)"/nonexistent",
                     .config_file = (char *)"daemon.json", .self_dir = (char *)"/nonexistent" };

        if (size > 65536)
                return 0;
        text = xstrndup((const char *)data, size);
        {
                json_t *j = NULL;
                if (jx_parse(text, strlen(text), "daemon.json", &j, &err) == 0) {
                        if (daemon_config_validate(j, "daemon.json", &err) < 0)
                                error_clear(&err);
                        json_decref(j);
                } else
                        error_clear(&err);
        }
        argv[argc++] = (char *)"run";
        for (char *t = strtok_r(text, "\n", &save); t && argc < 64; t = strtok_r(NULL, "\n", &save))
                if (!str_has_prefix(t, "--env-file") && !str_has_prefix(t, "--security-opt=seccomp=") &&
                    !STREQ(t, "--env-file"))
                        argv[argc++] = t;
        argv[argc] = NULL;
        e.daemon = json_object();
        if (runopts_parse(true, argc, argv, &idx, &o, &err) == 0) {
                char **w = NULL;
                json_t *caps = NULL, *res;
                if (hostconfig_validate(&e, o.config, o.host, &w, &err) < 0)
                        error_clear(&err);
                strv_free(w);
                if (specgen_caps(o.host, &caps, &err) == 0)
                        json_decref(caps);
                else
                        error_clear(&err);
                res = specgen_resources(&e, o.host);
                json_decref(res);
                runopts_free(&o);
        } else
                error_clear(&err);
        json_decref(e.daemon);
        return 0;
}
