/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mount options: the input is split at newlines into the options array. */
#include <stdint.h>
#include <string.h>

#include "mount.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = xstrndup((const char *)data, size);
        _cleanup_strv_ char **opts = NULL;
        MountOpts o;
        Error *e = NULL;
        char *save = NULL;

        if (size > 65536)
                return 0;
        for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
                strv_push(&opts, t);
        if (mount_opts_parse(opts, &o, &e) == 0)
                mount_opts_done(&o);
        error_free(e);
        return 0;
}
