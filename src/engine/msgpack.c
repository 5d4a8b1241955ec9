/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MessagePack encoder and reader (msgpack.h).  Every multi-byte number on the wire is big-endian.
 */
#include "msgpack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ================================================================ encoder */

void mp_buf_free(MpBuf *b)
{
        free(b->data);
        *b = (MpBuf){ 0 };
}

static uint8_t *reserve(MpBuf *b, size_t n)
{
        uint8_t *p;

        if (n > SIZE_MAX / 2 - b->len)
                abort();
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + n)
                        cap *= 2;
                b->data = xrealloc(b->data, cap);
                b->cap = cap;
        }
        p = b->data + b->len;
        b->len += n;
        return p;
}

static void put8(MpBuf *b, uint8_t v)
{
        *reserve(b, 1) = v;
}

/* A type byte followed by `width` bytes of v, big-endian. */
static void put_be(MpBuf *b, uint8_t type, uint64_t v, unsigned width)
{
        uint8_t *p = reserve(b, 1 + width);

        p[0] = type;
        for (unsigned i = 0; i < width; i++)
                p[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static void put_bytes(MpBuf *b, const void *p, size_t n)
{
        if (n)
                memcpy(reserve(b, n), p, n);
}

static void check_len(size_t n)
{
        if (n > UINT32_MAX)
                abort(); /* msgpack cannot say it; callers bound their sizes */
}

void mp_nil(MpBuf *b)
{
        put8(b, 0xc0);
}

void mp_bool(MpBuf *b, bool v)
{
        put8(b, v ? 0xc3 : 0xc2);
}

void mp_uint(MpBuf *b, uint64_t v)
{
        if (v <= 0x7f)
                put8(b, (uint8_t)v);
        else if (v <= UINT8_MAX)
                put_be(b, 0xcc, v, 1);
        else if (v <= UINT16_MAX)
                put_be(b, 0xcd, v, 2);
        else if (v <= UINT32_MAX)
                put_be(b, 0xce, v, 4);
        else
                put_be(b, 0xcf, v, 8);
}

void mp_int(MpBuf *b, int64_t v)
{
        if (v >= 0)
                mp_uint(b, (uint64_t)v);
        else if (v >= -32)
                put8(b, (uint8_t)(int8_t)v); /* negative fixint: 0xe0..0xff */
        else if (v >= INT8_MIN)
                put_be(b, 0xd0, (uint64_t)v, 1);
        else if (v >= INT16_MIN)
                put_be(b, 0xd1, (uint64_t)v, 2);
        else if (v >= INT32_MIN)
                put_be(b, 0xd2, (uint64_t)v, 4);
        else
                put_be(b, 0xd3, (uint64_t)v, 8);
}

void mp_str(MpBuf *b, const void *s, size_t len)
{
        check_len(len);
        if (len <= 31)
                put8(b, (uint8_t)(0xa0 | len));
        else if (len <= UINT8_MAX)
                put_be(b, 0xd9, len, 1);
        else if (len <= UINT16_MAX)
                put_be(b, 0xda, len, 2);
        else
                put_be(b, 0xdb, len, 4);
        put_bytes(b, s, len);
}

void mp_cstr(MpBuf *b, const char *s)
{
        mp_str(b, s, strlen(s));
}

void mp_bin(MpBuf *b, const void *p, size_t len)
{
        check_len(len);
        if (len <= UINT8_MAX)
                put_be(b, 0xc4, len, 1);
        else if (len <= UINT16_MAX)
                put_be(b, 0xc5, len, 2);
        else
                put_be(b, 0xc6, len, 4);
        put_bytes(b, p, len);
}

void mp_array(MpBuf *b, size_t n)
{
        check_len(n);
        if (n <= 15)
                put8(b, (uint8_t)(0x90 | n));
        else if (n <= UINT16_MAX)
                put_be(b, 0xdc, n, 2);
        else
                put_be(b, 0xdd, n, 4);
}

void mp_map(MpBuf *b, size_t n)
{
        check_len(n);
        if (n <= 15)
                put8(b, (uint8_t)(0x80 | n));
        else if (n <= UINT16_MAX)
                put_be(b, 0xde, n, 2);
        else
                put_be(b, 0xdf, n, 4);
}

void mp_ext(MpBuf *b, int8_t type, const void *p, size_t len)
{
        static const struct {
                size_t len;
                uint8_t code;
        } fixed[] = { { 1, 0xd4 }, { 2, 0xd5 }, { 4, 0xd6 }, { 8, 0xd7 }, { 16, 0xd8 } };
        bool done = false;

        check_len(len);
        for (size_t i = 0; i < ELEMENTSOF(fixed) && !done; i++)
                if (fixed[i].len == len) {
                        put8(b, fixed[i].code);
                        done = true;
                }
        if (!done) {
                if (len <= UINT8_MAX)
                        put_be(b, 0xc7, len, 1);
                else if (len <= UINT16_MAX)
                        put_be(b, 0xc8, len, 2);
                else
                        put_be(b, 0xc9, len, 4);
        }
        put8(b, (uint8_t)type);
        put_bytes(b, p, len);
}

/* ================================================================ reader */

static uint64_t get_be(const uint8_t *p, unsigned width)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < width; i++)
                v = v << 8 | p[i];
        return v;
}

static int64_t sign_extend(uint64_t v, unsigned width)
{
        unsigned shift = 64 - 8 * width;
        return (int64_t)(v << shift) >> shift;
}

int mp_read(const uint8_t *buf, size_t len, size_t *off, MpItem *ret)
{
        size_t pos = *off, avail;
        MpItem it = { 0 };
        unsigned width = 0; /* bytes of a number, or of a length field */
        uint8_t c;

        if (pos >= len)
                return 0;
        avail = len - pos - 1;
        c = buf[pos];

        /* Forms whose whole value is in the first byte, or whose size is fixed. */
        if (c <= 0x7f) {
                it.type = MP_UINT;
                it.u = c;
                goto done;
        }
        if (c >= 0xe0) {
                it.type = MP_INT;
                it.i = (int8_t)c;
                goto done;
        }
        if (c >= 0x80 && c <= 0x8f) {
                it.type = MP_MAP;
                it.len = c & 0x0f;
                goto done;
        }
        if (c >= 0x90 && c <= 0x9f) {
                it.type = MP_ARRAY;
                it.len = c & 0x0f;
                goto done;
        }
        if (c >= 0xa0 && c <= 0xbf) {
                it.type = MP_STR;
                it.len = c & 0x1f;
                goto payload;
        }
        switch (c) {
        case 0xc0:
                it.type = MP_NIL;
                goto done;
        case 0xc2:
        case 0xc3:
                it.type = MP_BOOL;
                it.b = c == 0xc3;
                goto done;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
                width = 1u << (c - 0xcc);
                if (avail < width)
                        return 0;
                it.type = MP_UINT;
                it.u = get_be(buf + pos + 1, width);
                pos += width;
                goto done;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
                width = 1u << (c - 0xd0);
                if (avail < width)
                        return 0;
                it.type = MP_INT;
                it.i = sign_extend(get_be(buf + pos + 1, width), width);
                pos += width;
                goto done;
        case 0xca: {
                float f;
                uint32_t bits;
                if (avail < 4)
                        return 0;
                bits = (uint32_t)get_be(buf + pos + 1, 4);
                memcpy(&f, &bits, sizeof(f));
                it.type = MP_FLOAT;
                it.f = f;
                pos += 4;
                goto done;
        }
        case 0xcb: {
                uint64_t bits;
                if (avail < 8)
                        return 0;
                bits = get_be(buf + pos + 1, 8);
                memcpy(&it.f, &bits, sizeof(it.f));
                it.type = MP_FLOAT;
                pos += 8;
                goto done;
        }
        case 0xd9:
        case 0xda:
        case 0xdb:
                it.type = MP_STR;
                width = 1u << (c - 0xd9);
                break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
                it.type = MP_BIN;
                width = 1u << (c - 0xc4);
                break;
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf:
                it.type = c <= 0xdd ? MP_ARRAY : MP_MAP;
                width = (c == 0xdc || c == 0xde) ? 2 : 4;
                if (avail < width)
                        return 0;
                it.len = (uint32_t)get_be(buf + pos + 1, width);
                pos += width;
                goto done;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
                /* fixext: the type byte, then 1, 2, 4, 8 or 16 bytes */
                if (avail < 1)
                        return 0;
                it.type = MP_EXT;
                it.len = 1u << (c - 0xd4);
                it.ext_type = (int8_t)buf[pos + 1];
                pos += 1;
                goto payload;
        case 0xc7:
        case 0xc8:
        case 0xc9:
                /* ext 8/16/32: the length, the type byte, the payload */
                width = 1u << (c - 0xc7);
                if (avail < width + 1)
                        return 0;
                it.type = MP_EXT;
                it.len = (uint32_t)get_be(buf + pos + 1, width);
                it.ext_type = (int8_t)buf[pos + 1 + width];
                pos += width + 1;
                goto payload;
        default: /* 0xc1: never used */
                return -EBADMSG;
        }

        /* str 8/16/32, bin 8/16/32: a length field, then the payload */
        if (avail < width)
                return 0;
        it.len = (uint32_t)get_be(buf + pos + 1, width);
        pos += width;

payload:
        /* pos is at the last header byte; the payload starts after it */
        if (len - pos - 1 < it.len)
                return 0;
        it.data = buf + pos + 1;
        pos += it.len;

done:
        *off = pos + 1;
        *ret = it;
        return 1;
}

int mp_skip(const uint8_t *buf, size_t len, size_t *off)
{
        uint64_t pending = 1; /* values still to read; at most 1 + 2 * UINT32_MAX per item read */
        size_t pos = *off;

        while (pending > 0) {
                MpItem it;
                int r = mp_read(buf, len, &pos, &it);
                if (r <= 0)
                        return r;
                pending--;
                if (it.type == MP_ARRAY)
                        pending += it.len;
                else if (it.type == MP_MAP)
                        pending += 2 * (uint64_t)it.len;
                /* Each element takes at least one byte: more pending than bytes left cannot complete,
                 * but more bytes may come, so that is "incomplete", not an error. */
                if (pending > len - pos)
                        return 0;
        }
        *off = pos;
        return 1;
}
