/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md), the little the fluentd driver
 * needs: an encoder that always picks the smallest form (positive fixint, then uint 8/16/32/64;
 * negative fixint, then int 8/16/32/64; fixstr, str 8/16/32; bin 8/16/32; fixarray, array 16/32;
 * fixmap, map 16/32; fixext 1/2/4/8/16, then ext 8/16/32), and a bounds-checked reader for what a
 * server answers.  Implemented in msgpack.c; no I/O, no allocation except the encoder's buffer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ encoder */

/* A growing output buffer.  Zero-initialise; mp_buf_free releases it.  Out of memory aborts (xrealloc). */
typedef struct MpBuf {
        uint8_t *data;
        size_t len, cap;
} MpBuf;

void mp_buf_free(MpBuf *b);

void mp_nil(MpBuf *b);
void mp_bool(MpBuf *b, bool v);
void mp_uint(MpBuf *b, uint64_t v);
/* A non-negative value is written as mp_uint writes it (msgpack's smallest form). */
void mp_int(MpBuf *b, int64_t v);
/*
 * Lengths and counts are at most UINT32_MAX, msgpack's own limit: a larger one is a caller's bug and
 * aborts.  mp_str writes the bytes as they are (no UTF-8 check: docker's driver sends a log line's
 * bytes as a str whatever they are).
 */
void mp_str(MpBuf *b, const void *s, size_t len);
void mp_cstr(MpBuf *b, const char *s);
void mp_bin(MpBuf *b, const void *p, size_t len);
/* The header of an array or map of n elements (n pairs for a map); the elements follow. */
void mp_array(MpBuf *b, size_t n);
void mp_map(MpBuf *b, size_t n);
void mp_ext(MpBuf *b, int8_t type, const void *p, size_t len);

/* ================================================================ reader */

typedef enum MpType {
        MP_NIL,
        MP_BOOL,
        MP_UINT,  /* positive fixint, uint 8..64 */
        MP_INT,   /* negative fixint, int 8..64 (a non-negative int 8..64 is still MP_INT) */
        MP_FLOAT, /* float 32 or 64, in f */
        MP_STR,
        MP_BIN,
        MP_ARRAY,
        MP_MAP,
        MP_EXT,
} MpType;

typedef struct MpItem {
        MpType type;
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        const uint8_t *data; /* str, bin, ext: the payload, inside the caller's buffer */
        uint32_t len;        /* str, bin, ext: the payload's length; array: elements; map: pairs */
        int8_t ext_type;
} MpItem;

/*
 * Reads the item at buf[*off], with its payload for a str, bin or ext, only its header for an array
 * or a map (the elements follow it).  Returns 1 and advances *off; 0 when buf ends before the item
 * does (*off untouched: call again with more bytes); -EBADMSG on 0xc1, the byte msgpack never uses.
 */
int mp_read(const uint8_t *buf, size_t len, size_t *off, MpItem *ret);

/*
 * Skips one whole value at buf[*off], the elements of arrays and maps included (iteratively: nesting
 * costs no stack).  Returns 1 and advances *off; 0 when buf ends first (*off untouched); -EBADMSG.
 */
int mp_skip(const uint8_t *buf, size_t len, size_t *off);
