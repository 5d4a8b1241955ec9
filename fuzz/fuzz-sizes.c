/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command-line values: sizes ("64m", "1.5GiB", "-1") and Go durations ("1m30s"); each line is one input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int64_t v;

        if (size > 65536)
                return 0;
        text = xstrndup((const char *)data, size);
        for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                if (parse_size(t, &v) == 0 && v < -1)
                        abort();
                if (parse_duration_ms(t, &v) == 0 && v < 0)
                        abort();
        }
        return 0;
}
