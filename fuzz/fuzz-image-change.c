/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * import --change: the input is the changes, separated by NUL bytes (at most 64; newlines stay inside
 * a change, where they separate instructions as in a Dockerfile), applied to docker import's config.
 * Whatever the input, no crash, no leak; a failure must leave the config exactly as it was, and a
 * success must leave a config whose changed keys have docker's types.  The input is also checked as
 * an import --message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image-change.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *import_config(void)
{
        return json_pack(
                "{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:[s], s:n, s:s, s:n, s:s, s:n, s:n, s:n}",
                "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "Cmd", "Image", "",
                "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

static bool null_or(json_t *v, bool (*is)(const json_t *))
{
        return !v || json_is_null(v) || is(v);
}

static bool is_array(const json_t *v)
{
        return json_is_array(v);
}

static bool is_object(const json_t *v)
{
        return json_is_object(v);
}

static bool is_string(const json_t *v)
{
        return json_is_string(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ json_t *cfg = import_config(), *orig = NULL;
        _cleanup_free_ char *text = NULL, *before = NULL;
        char *changes[65];
        size_t n = 0;
        Error *err = NULL;
        int r;

        if (size > 256 * 1024)
                return 0;
        text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;
        for (size_t i = 0; i <= size && n < 64;) {
                changes[n++] = text + i;
                i += strlen(text + i) + 1;
        }
        changes[n] = NULL;

        if (image_text_check("--message", text, 64 * 1024, true, &err) < 0)
                error_clear(&err);

        orig = json_deep_copy(cfg);
        before = jx_dump(cfg, false);
        r = image_change_apply(cfg, changes, &err);
        if (r < 0) {
                _cleanup_free_ char *after = jx_dump(cfg, false);
                if (!err || !err->msg || !*err->msg || !STREQ(before, after))
                        abort();
                error_clear(&err);
                return 0;
        }
        if (!null_or(json_object_get(cfg, "Cmd"), is_array) ||
            !null_or(json_object_get(cfg, "Entrypoint"), is_array) ||
            !null_or(json_object_get(cfg, "Env"), is_array) ||
            !null_or(json_object_get(cfg, "OnBuild"), is_array) ||
            !null_or(json_object_get(cfg, "Labels"), is_object) ||
            !null_or(json_object_get(cfg, "Volumes"), is_object) ||
            !null_or(json_object_get(cfg, "ExposedPorts"), is_object) ||
            !null_or(json_object_get(cfg, "Healthcheck"), is_object) ||
            !null_or(json_object_get(cfg, "StopSignal"), is_string) ||
            !is_string(json_object_get(cfg, "WorkingDir")) || !is_string(json_object_get(cfg, "User")))
                abort();
        {
                /* the result serialises, and applying the same changes to the same config gives the same
                 * bytes */
                _cleanup_free_ char *a = jx_dump(cfg, false), *b = NULL;
                if (image_change_apply(orig, changes, &err) < 0)
                        abort();
                b = jx_dump(orig, false);
                if (!STREQ(a, b))
                        abort();
        }
        return 0;
}
