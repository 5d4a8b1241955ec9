/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seccomp-profile.c on untrusted profiles: the input is two JSON documents separated by a NUL byte
 * (one alone: diffed with itself, and merged into a recording).  Diffing a profile with itself must
 * say nothing; merging must keep the allow list sorted and free of duplicates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "seccomp-profile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data, *nul = memchr(data, 0, size);
        size_t len_a = nul ? (size_t)(nul - text) : size;
        _cleanup_json_ json_t *a = NULL, *b = NULL, *rec = NULL;
        _cleanup_free_ char *d = NULL, *self = NULL;
        SeccompRecording r = { 0 };
        Error *e = NULL;

        if (size > 65536)
                return 0;
        if (jx_parse(text, len_a, "a", &a, &e) < 0) {
                error_free(e);
                return 0;
        }
        if (!nul || jx_parse(nul + 1, size - len_a - 1, "b", &b, &e) < 0) {
                e = error_free(e);
                b = json_incref(a);
        }
        if (seccomp_profile_diff(a, a, &self, &e) == 0) {
                if (*self)
                        abort();
        } else
                e = error_free(e);
        if (seccomp_profile_diff(a, b, &d, &e) < 0)
                e = error_free(e);
        seccomp_recording_add(&r, 0, 0);
        seccomp_recording_add(&r, 1, 3);
        rec = seccomp_profile_from_recording(&r, false);
        if (seccomp_profile_merge(rec, b, &e) == 0) {
                json_t *names = json_object_get(json_array_get(json_object_get(rec, "syscalls"), 0), "names");
                for (size_t i = 1; i < json_array_size(names); i++)
                        if (strcmp(json_string_value(json_array_get(names, i - 1)), json_string_value(json_array_get(names, i))) >= 0)
                                abort();
        } else
                e = error_free(e);
        seccomp_recording_clear(&r);
        return 0;
}
