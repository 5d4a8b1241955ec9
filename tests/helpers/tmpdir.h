/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Scratch directories for the unit tests: tmpdir_new("name") makes /tmp/stockade-name-XXXXXX (the
 * test aborts when it cannot), tmpdir_remove() deletes it with everything in it and frees the path,
 * tmpdir_path() joins a name to it (malloc'd).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static inline char *tmpdir_new(const char *name)
{
        char *d = xasprintf("/tmp/stockade-%s-XXXXXX", name);
        if (!mkdtemp(d))
                abort();
        return d;
}

static inline void tmpdir_remove(char *d)
{
        int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void)rm_rf_at(fd, d + strlen("/tmp/"));
        close(fd);
        free(d);
}

static inline char *tmpdir_path(const char *dir, const char *name)
{
        return xasprintf("%s/%s", dir, name);
}
