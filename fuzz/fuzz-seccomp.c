/* SPDX-License-Identifier: GPL-2.0-or-later */
/* linux.seccomp profiles: parsed as JSON, then compiled with libseccomp (never loaded). */
#include <stdint.h>

#include "json-util.h"
#include "seccomp-filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *j = NULL;
        SeccompFilter *f = NULL;
        Error *e = NULL;

        if (size > 1 << 20)
                return 0;
        if (jx_parse((const char *)data, size, "fuzz", &j, &e) == 0) {
                if (seccomp_compile(j, NULL, &f, &e) == 0)
                        seccomp_filter_free(f);
                json_decref(j);
        }
        error_free(e);
        return 0;
}
