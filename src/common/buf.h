/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A growable byte buffer: data[0, len) is what was put, cap what is allocated.  { 0 } is an empty
 * buffer; buf_free() releases it.  Growth doubles (from 256 bytes), so appending n bytes one piece at
 * a time costs O(n).  Allocation failure aborts (xrealloc), so callers bound what they append when
 * it comes from outside (the log encoders check a message's length first).
 *
 * Header-only on purpose: the log encoders call these per field of every line, and the fast path
 * (room already there) must inline into them.  The buffer is not NUL-terminated unless the caller
 * puts one (buf_cstr()).
 */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

/* The slow half of buf_reserve(): grows cap to hold `extra` more bytes after len. */
static inline void buf_grow(Buf *b, size_t extra)
{
        size_t cap = b->cap ? b->cap : 256;

        while (cap - b->len < extra) {
                if (cap > ((size_t)-1) / 2)
                        abort(); /* unreachable: callers bound what they append */
                cap *= 2;
        }
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

/* Makes room for `extra` more bytes: data + len may then be written up to extra bytes. */
static inline void buf_reserve(Buf *b, size_t extra)
{
        if (b->cap - b->len < extra)
                buf_grow(b, extra);
}

static inline void buf_put(Buf *b, const void *p, size_t n)
{
        buf_reserve(b, n);
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

static inline void buf_puts(Buf *b, const char *s)
{
        buf_put(b, s, strlen(s));
}

static inline void buf_putc(Buf *b, char c)
{
        buf_reserve(b, 1);
        b->data[b->len++] = c;
}

/* Terminates the contents with a NUL that len does not count, and returns them. */
static inline char *buf_cstr(Buf *b)
{
        buf_reserve(b, 1);
        b->data[b->len] = '\0';
        return b->data;
}

/* Frees the contents; b is then empty again. */
static inline void buf_free(Buf *b)
{
        free(b->data);
        *b = (Buf){ 0 };
}
