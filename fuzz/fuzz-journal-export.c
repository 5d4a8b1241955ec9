/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The parser of journalctl's export output (logread-journald.c), which `stockade logs` reads for the
 * journald driver.  The input is parsed whole and again in pieces of several sizes: the entries and
 * the result must not depend on how the output arrives.  Each entry must keep the parser's promises
 * (a NUL after the message, a priority of -1..7, valid and sorted attribute names, bounded sizes), and
 * written out again in the export format it must parse back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logread-journald.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Buf {
        char *p;
        size_t len, cap;
} Buf;

static void put(Buf *b, const void *s, size_t n)
{
        if (b->len + n > b->cap) {
                b->cap = (b->len + n) * 2 + 64;
                b->p = xrealloc(b->p, b->cap);
        }
        if (n)
                memcpy(b->p + b->len, s, n);
        b->len += n;
}

static void put_str(Buf *b, const char *s)
{
        put(b, s, strlen(s));
}

static void put_u64(Buf *b, uint64_t v)
{
        char t[32];
        int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
        put(b, t, (size_t)n);
}

/* A field in the export format: text unless the value holds "\n". */
static void put_field(Buf *b, const char *name, const char *v, size_t len)
{
        put_str(b, name);
        if (!memchr(v, '\n', len)) {
                put(b, "=", 1);
                put(b, v, len);
        } else {
                unsigned char le[8];
                for (int i = 0; i < 8; i++)
                        le[i] = (unsigned char)((uint64_t)len >> (8 * i));
                put(b, "\n", 1);
                put(b, le, 8);
                put(b, v, len);
        }
        put(b, "\n", 1);
}

static bool valid_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

typedef struct Ctx {
        Buf summary; /* every entry, serialised unambiguously */
        Buf again;   /* every entry, written out in the export format */
} Ctx;

static int on_entry(void *ud, const JournalEntry *e)
{
        Ctx *c = ud;
        size_t clen = strlen(e->cursor);

        if (clen == 0 || clen > JOURNAL_CURSOR_MAX || e->priority < -1 || e->priority > 7 ||
            e->n_attrs > JOURNAL_ATTRS_MAX)
                abort();
        if (e->has_message && (e->message_len > JOURNAL_MESSAGE_MAX || e->message[e->message_len] != '\0'))
                abort();
        if (!e->has_message && (e->message || e->message_len))
                abort();
        for (size_t i = 0; i < e->n_attrs; i++) {
                if (!valid_name(e->attrs[i].name) || e->attrs[i].name[0] == '_' || e->attrs[i].len > JOURNAL_ATTR_VALUE_MAX ||
                    e->attrs[i].value[e->attrs[i].len] != '\0')
                        abort();
                if (i && strcmp(e->attrs[i - 1].name, e->attrs[i].name) > 0)
                        abort();
        }

        /* the summary: lengths first, so that nothing can run into the next item */
        put_u64(&c->summary, clen);
        put(&c->summary, ":", 1);
        put(&c->summary, e->cursor, clen);
        put_u64(&c->summary, e->realtime_us);
        put(&c->summary, e->has_message ? "M" : "-", 1);
        put_u64(&c->summary, e->message_len);
        put(&c->summary, ":", 1);
        if (e->has_message)
                put(&c->summary, e->message, e->message_len);
        put(&c->summary, e->partial ? "P" : "-", 1);
        put_u64(&c->summary, (uint64_t)(e->priority + 1));
        for (size_t i = 0; i < e->n_attrs; i++) {
                put_str(&c->summary, e->attrs[i].name);
                put(&c->summary, "=", 1);
                put_u64(&c->summary, e->attrs[i].len);
                put(&c->summary, ":", 1);
                put(&c->summary, e->attrs[i].value, e->attrs[i].len);
        }
        put(&c->summary, ";", 1);

        /* written out again: what the parser keeps, in the form journalctl writes */
        put_field(&c->again, "__CURSOR", e->cursor, clen);
        put_str(&c->again, "__REALTIME_TIMESTAMP=");
        put_u64(&c->again, e->realtime_us);
        put(&c->again, "\n", 1);
        if (e->has_message)
                put_field(&c->again, "MESSAGE", e->message, e->message_len);
        if (e->partial)
                put_str(&c->again, "CONTAINER_PARTIAL_MESSAGE=true\n");
        if (e->priority >= 0) {
                char p[32];
                snprintf(p, sizeof(p), "PRIORITY=%d\n", e->priority);
                put_str(&c->again, p);
        }
        for (size_t i = 0; i < e->n_attrs; i++)
                put_field(&c->again, e->attrs[i].name, e->attrs[i].value, e->attrs[i].len);
        put(&c->again, "\n", 1);
        return 0;
}

/* Parses the input in pieces of `chunk` bytes (0: whole); returns the result, fills c. */
static int parse(const uint8_t *data, size_t size, size_t chunk, Ctx *c)
{
        _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(true);
        Error *err = NULL;
        size_t off = 0;
        int r = 0;

        if (chunk == 0)
                chunk = size ? size : 1;
        while (off < size && r == 0) {
                size_t n = size - off < chunk ? size - off : chunk;
                r = journal_export_feed(p, (const char *)data + off, n, on_entry, c, &err);
                off += n;
        }
        if (r == 0)
                r = journal_export_finish(p, &err);
        if ((r < 0) != (err != NULL))
                abort();
        if (r < 0 && (r != -EPROTO || !err->msg || !*err->msg))
                abort();
        error_free(err);
        return r;
}

static void ctx_free(Ctx *c)
{
        free(c->summary.p);
        free(c->again.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const size_t chunks[] = { 1, 3, 8, 9, 4096 };
        Ctx whole = { 0 };
        int r = parse(data, size, 0, &whole);

        for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
                Ctx c = { 0 };
                int r2 = parse(data, size, chunks[i], &c);
                /* An error stops the entries where it is met, whatever the pieces. */
                if (r2 != r || c.summary.len != whole.summary.len ||
                    (c.summary.len && memcmp(c.summary.p, whole.summary.p, c.summary.len) != 0))
                        abort();
                ctx_free(&c);
        }
        if (r == 0) {
                Ctx again = { 0 };
                if (parse((const uint8_t *)whole.again.p, whole.again.len, 0, &again) != 0)
                        abort();
                if (again.summary.len != whole.summary.len ||
                    (again.summary.len && memcmp(again.summary.p, whole.summary.p, again.summary.len) != 0))
                        abort();
                ctx_free(&again);
        }
        ctx_free(&whole);
        return 0;
}
