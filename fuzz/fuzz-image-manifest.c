/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON an image archive brings, and the names in it: docker save's manifest.json and old
 * `repositories`, OCI indexes and manifests, image configs, their `created` times, and image
 * references.  Every input goes through every parser.  Each must refuse bad input with an error and
 * never crash, and what it accepts must hold what the loader relies on: digests that
 * image_digest_hex() accepts, strings where strings are read, normalised tags that normalise to
 * themselves.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image-store.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

/* A normalised reference is a fixed point, and has a tag. */
static void check_ref(const char *norm)
{
        char *again = NULL;
        const char *slash = strrchr(norm, '/'), *colon = strrchr(norm, ':');

        check(colon && (!slash || colon > slash));
        check(image_ref_normalize(norm, &again, NULL) == 0);
        check(STREQ(again, norm));
        free(again);
}

static void check_descriptor(json_t *d)
{
        json_t *size = json_object_get(d, "size"), *mt = json_object_get(d, "mediaType");

        check(image_digest_hex(json_string_value(json_object_get(d, "digest"))) != NULL);
        check(!size || (json_is_integer(size) && json_integer_value(size) >= 0));
        check(!mt || json_is_string(mt));
}

static void fuzz_json(const char *text, size_t size)
{
        Error *err = NULL;
        json_t *j = NULL, *v, *w;
        char **diffs = NULL;
        const char *k, *k2;
        size_t i, n;
        int64_t t;

        if (image_parse_docker_manifest(text, size, &j, &err) == 0) {
                check(json_is_array(j));
                json_array_foreach (j, i, v) {
                        check(json_string_value(json_object_get(v, "Config")) != NULL);
                        check(json_is_array(json_object_get(v, "Layers")));
                        json_array_foreach (json_object_get(v, "Layers"), n, w)
                                check(json_string_value(w) != NULL);
                        json_array_foreach (json_object_get(v, "RepoTags"), n, w)
                                check_ref(json_string_value(w));
                }
                json_decref(j);
        } else {
                check(err && err->msg);
                error_clear(&err);
        }
        if (image_parse_legacy_repositories(text, size, &j, &err) == 0) {
                json_object_foreach (j, k, v) {
                        json_object_foreach (v, k2, w) {
                                char *ref = xasprintf("%s:%s", k, k2), *norm = NULL;
                                check(json_string_length(w) == 64);
                                check(image_ref_normalize(ref, &norm, NULL) == 0);
                                check_ref(norm);
                                free(ref);
                                free(norm);
                        }
                }
                json_decref(j);
        } else
                error_clear(&err);
        if (image_parse_oci_index(text, size, &j, &err) == 0) {
                json_array_foreach (j, i, v)
                        check_descriptor(v);
                json_decref(j);
        } else
                error_clear(&err);
        if (image_parse_oci_manifest(text, size, &j, &err) == 0) {
                check_descriptor(json_object_get(j, "config"));
                json_array_foreach (json_object_get(j, "layers"), i, v)
                        check_descriptor(v);
                json_decref(j);
        } else
                error_clear(&err);
        if (image_parse_config(text, size, &j, &diffs, &err) == 0) {
                check(json_is_object(j));
                for (i = 0; diffs[i]; i++)
                        check(strlen(diffs[i]) == 64);
                v = json_object_get(j, "created");
                if (v)
                        (void)image_parse_created(json_string_value(v), &t);
                json_decref(j);
                strv_free(diffs);
        } else
                error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        char *save = NULL, *norm = NULL;
        Error *err = NULL;
        int64_t t;

        if (size > 1 << 20)
                return 0;
        text = xstrndup((const char *)data, size);
        /* The parsers take a length: give them the raw bytes, NULs included. */
        {
                char *raw = xmalloc(size + 1);
                memcpy(raw, data, size);
                raw[size] = '\0';
                fuzz_json(raw, size);
                free(raw);
        }
        /* Each line (up to the first NUL) as a reference and as a time. */
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (image_ref_normalize(line, &norm, &err) == 0) {
                        check_ref(norm);
                        free(norm);
                } else {
                        check(err && err->msg && err->errnum == EINVAL);
                        error_clear(&err);
                }
                (void)image_parse_created(line, &t);
                (void)image_digest_hex(line);
        }
        return 0;
}
