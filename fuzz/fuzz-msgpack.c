/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The msgpack reader (msgpack.c) and the fluentd driver's ack parser (logdriver-fluentd.c) on any bytes,
 * which is what a server may send back.  Checks: every read stays inside the input and moves forward;
 * mp_skip agrees with a walk of mp_read; each scalar read, written again by the encoder and read back,
 * is the same value (so the encoder and the reader agree on every form); the ack parser never reads
 * past what it says it consumed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logdriver-fluentd.h"
#include "msgpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const MpItem *a, const MpItem *b)
{
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case MP_NIL:
                return true;
        case MP_BOOL:
                return a->b == b->b;
        case MP_UINT:
                return a->u == b->u;
        case MP_INT:
                return a->i == b->i;
        case MP_FLOAT:
                return memcmp(&a->f, &b->f, sizeof(a->f)) == 0 || (a->f != a->f && b->f != b->f);
        case MP_STR:
        case MP_BIN:
        case MP_EXT:
                return a->len == b->len && a->ext_type == b->ext_type &&
                       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
        case MP_ARRAY:
        case MP_MAP:
                return a->len == b->len;
        default:
                return false;
        }
}

/* Writes it again (floats are not written by the encoder: skipped) and reads it back. */
static void round_trip(const MpItem *it)
{
        MpBuf b = { 0 };
        MpItem back;
        size_t off = 0;

        switch (it->type) {
        case MP_NIL:
                mp_nil(&b);
                break;
        case MP_BOOL:
                mp_bool(&b, it->b);
                break;
        case MP_UINT:
                mp_uint(&b, it->u);
                break;
        case MP_INT:
                mp_int(&b, it->i);
                break;
        case MP_STR:
                mp_str(&b, it->data, it->len);
                break;
        case MP_BIN:
                mp_bin(&b, it->data, it->len);
                break;
        case MP_EXT:
                mp_ext(&b, it->ext_type, it->data, it->len);
                break;
        case MP_ARRAY:
                mp_array(&b, it->len);
                break;
        case MP_MAP:
                mp_map(&b, it->len);
                break;
        default:
                return;
        }
        if (mp_read(b.data, b.len, &off, &back) != 1 || off != b.len)
                abort();
        /* a non-negative int 8..64 comes back in its smallest form, an unsigned one */
        if (it->type == MP_INT && it->i >= 0) {
                if (back.type != MP_UINT || back.u != (uint64_t)it->i)
                        abort();
        } else if (!same(it, &back)) {
                abort();
        }
        mp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t off = 0, skip_off = 0;
        size_t used = 0;
        bool match;
        int r;

        if (size > 1 << 20)
                return 0;

        /* A walk with mp_read, item by item. */
        while (off < size) {
                MpItem it;
                size_t before = off;
                r = mp_read(data, size, &off, &it);
                if (r == 0) {
                        if (off != before)
                                abort();
                        break;
                }
                if (r < 0) {
                        if (r != -EBADMSG || off != before || data[before] != 0xc1)
                                abort();
                        break;
                }
                if (off <= before || off > size)
                        abort();
                if ((it.type == MP_STR || it.type == MP_BIN || it.type == MP_EXT) &&
                    (it.data < data + before || it.data + it.len != data + off))
                        abort();
                round_trip(&it);
        }

        /* mp_skip, value by value. */
        while (skip_off < size) {
                size_t before = skip_off;
                r = mp_skip(data, size, &skip_off);
                if (r <= 0) {
                        if (skip_off != before || (r < 0 && r != -EBADMSG))
                                abort();
                        break;
                }
                if (skip_off <= before || skip_off > size)
                        abort();
        }

        r = fluentd_ack_parse(data, size, "APFTZQAAAADvzauJZ0UjAQ==", &used, &match);
        if (r == 1 && (used == 0 || used > size))
                abort();
        if (r < 0 && r != -EBADMSG)
                abort();
        /* an answer cut anywhere is incomplete or malformed, never accepted */
        if (r == 1 && used > 1) {
                size_t used2;
                bool m2;
                int r2 = fluentd_ack_parse(data, used - 1, "APFTZQAAAADvzauJZ0UjAQ==", &used2, &m2);
                if (r2 != 0)
                        abort();
        }
        return 0;
}
