/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Scope-bound cleanup, after systemd and crun.  Initialise every such variable where it is declared. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f)
                (void)fclose(*f);
}

/* Frees a NULL-terminated array of strings. */
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_   _cleanup_(strv_freep)

#define DEFINE_CLEANUP_FUNC(type, func)                                                                        \
        static inline void func##p(type **p)                                                                   \
        {                                                                                                      \
                if (*p)                                                                                        \
                        func(*p);                                                                              \
        }

/* Hands ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                            \
        ({                                                                                                     \
                __typeof__(p) _p = (p);                                                                        \
                (p) = NULL;                                                                                    \
                _p;                                                                                            \
        })
#define TAKE_FD(fd)                                                                                            \
        ({                                                                                                     \
                int _fd = (fd);                                                                                \
                (fd) = -EBADF;                                                                                 \
                _fd;                                                                                           \
        })
