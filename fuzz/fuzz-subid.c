/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Subordinate ids (subid.c).  The first byte picks the parser: 's' (or anything else) a subuid/subgid
 * file, 'r' a userns-remap value, 'a' the --userns=auto registry.  For a file: every entry is valid, the
 * free range found overlaps none, and appending keeps every byte and adds exactly one entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "subid.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_file(const char *text, size_t len)
{
        _cleanup_(subid_file_freep) SubidFile *f = subid_file_parse("/etc/subuid", text, len);
        _cleanup_(subid_file_freep) SubidFile *g = NULL;
        _cleanup_free_ SubidRange *mine = NULL;
        _cleanup_free_ char *out = NULL;
        unsigned last = 0;
        uint32_t start;
        size_t out_len, n;

        if (f->len != len || memcmp(f->data, text, len) != 0)
                abort();
        for (size_t i = 0; i < f->n_entries; i++) {
                const SubidEntry *e = &f->entries[i];
                if (e->count == 0 || (uint64_t)e->start + e->count > UINT32_MAX || !*e->owner || e->line <= last)
                        abort();
                last = e->line;
        }
        for (size_t i = 0; i < f->n_bad; i++)
                if (!f->bad[i].message || strncmp(f->bad[i].message, "/etc/subuid:", 12) != 0)
                        abort();
        if (subid_file_next_free(f, SUBID_DEFAULT_START, SUBID_DEFAULT_COUNT, &start) == 0) {
                if (start < SUBID_DEFAULT_START || (uint64_t)start + SUBID_DEFAULT_COUNT > UINT32_MAX)
                        abort();
                for (size_t i = 0; i < f->n_entries; i++) {
                        const SubidEntry *e = &f->entries[i];
                        if (e->start < (uint64_t)start + SUBID_DEFAULT_COUNT && start < (uint64_t)e->start + e->count)
                                abort();
                }
        } else
                start = 1;
        subid_file_render_append(f, SUBID_DEFAULT_USER, start, SUBID_DEFAULT_COUNT, &out, &out_len);
        if (out_len < len || memcmp(out, text, len) != 0)
                abort();
        g = subid_file_parse("/etc/subuid", out, out_len);
        if (g->n_entries != f->n_entries + 1 || g->n_bad != f->n_bad)
                abort();
        if (!STREQ(g->entries[g->n_entries - 1].owner, SUBID_DEFAULT_USER) || g->entries[g->n_entries - 1].start != start)
                abort();

        /* The first owner's ranges as mappings, and their JSON. */
        if (f->n_entries > 0) {
                _cleanup_free_ SubidMapping *m = NULL;
                Error *err = NULL;
                size_t nm = 0;
                n = subid_file_find(f, f->entries[0].owner, (uid_t)-1, &mine);
                if (n == 0)
                        abort();
                if (subid_mappings_build(mine, n, "fuzz", &m, &nm, &err) == 0) {
                        _cleanup_json_ json_t *j = subid_mappings_json(m, nm);
                        uint64_t next = 0;
                        for (size_t i = 0; i < nm; i++) {
                                if (m[i].container_id != next)
                                        abort();
                                next += m[i].size;
                        }
                        if (json_array_size(j) != nm)
                                abort();
                }
                error_clear(&err);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        Error *err = NULL;

        if (size < 1 || size > (1u << 20))
                return 0;
        text = xstrndup((const char *)data + 1, size - 1);
        switch (data[0]) {
        case 'r': {
                _cleanup_free_ char *u = NULL, *g = NULL;
                if (subid_spec_split(text, &u, &g, &err) == 0 && (!*u || strchr(u, ':') || (g && (!*g || strchr(g, ':')))))
                        abort();
                break;
        }
        case 'a': {
                SubidAutoEntry *e = NULL;
                size_t n = 0;
                if (subid_auto_parse("auto.json", (const char *)data + 1, size - 1, &e, &n, &err) == 0) {
                        for (size_t i = 0; i < n; i++)
                                if (e[i].lease.size == 0 || !e[i].container)
                                        abort();
                        subid_auto_entries_free(e, n);
                }
                break;
        }
        default:
                check_file((const char *)data + 1, size - 1);
                break;
        }
        error_clear(&err);
        return 0;
}
