/* SPDX-License-Identifier: GPL-2.0-or-later */
/* config.json (and through it every JSON getter and the big-integer rewriter). */
#include <stdint.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        OciSpec *s = NULL;
        Error *e = NULL;

        if (oci_spec_parse((const char *)data, size, "fuzz", &s, &e) == 0)
                oci_spec_free(s);
        error_free(e);
        return 0;
}
