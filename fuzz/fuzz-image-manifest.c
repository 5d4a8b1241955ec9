/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON an image archive brings: docker save's manifest.json, an OCI index and an OCI manifest,
 * plus image references.  Every parser must refuse bad input with an error, never crash, and what a
 * parser accepts must hold what the loader relies on (strings where strings are read, digests that
 * image_digest_hex() accepts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image-store.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        json_t *j = NULL;
        Error *err = NULL;
        char *cfg = NULL, **layers = NULL, *norm = NULL;

        if (size > 1 << 20)
                return 0;
        text = xstrndup((const char *)data, size);
        size = strlen(text);    /* up to the first NUL: the parsers take a length, not a C string */
        if (image_parse_docker_manifest(text, size, &j, &err) == 0) {
                size_t i;
                json_t *m;
                json_array_foreach(j, i, m) if (!json_string_value(json_object_get(m, "Config"))) abort();
                json_decref(j);
        } else
                error_clear(&err);
        if (image_parse_oci_index(text, size, &j, &err) == 0) {
                size_t i;
                json_t *d;
                json_array_foreach(j, i, d) if (!image_digest_hex(json_string_value(json_object_get(d, "digest")))) abort();
                json_decref(j);
        } else
                error_clear(&err);
        if (image_parse_oci_manifest(text, size, &cfg, &layers, &err) == 0) {
                if (!image_digest_hex(cfg))
                        abort();
                for (size_t i = 0; layers[i]; i++)
                        if (!image_digest_hex(layers[i]))
                                abort();
                free(cfg);
                strv_free(layers);
        } else
                error_clear(&err);
        /* the first line as an image reference */
        {
                _cleanup_free_ char *line = xstrndup(text, strcspn(text, "\n"));
                if (image_ref_normalize(line, &norm, &err) == 0) {
                        if (!strchr(norm, ':'))
                                abort();
                        free(norm);
                } else
                        error_clear(&err);
        }
        return 0;
}
