/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log's verifier and reader (audit.c) over arbitrary files: an attacker, an editor or a crash
 * may have left anything in them.  Input: pieces separated by "\n===\n": the first is audit.head ("-"
 * for none), the others the log files, oldest first.  Verify must finish with a verdict and a message
 * naming a file of the input; every line that is JSON goes through the text and filter views.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n===\n"
#define MAX_FILES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const names[MAX_FILES] = { "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9",
                                                      "f10", "f11", "f12", "f13", "f14", "f15" };
        const char *text = (const char *)data, *end = text + size, *p = text;
        const char *pieces[MAX_FILES + 1];
        size_t lens[MAX_FILES + 1], n = 0;
        AuditVerifyResult res;
        _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();

        if (size > (4 << 20))
                return 0;
        while (n < MAX_FILES + 1) {
                const char *s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
                pieces[n] = p;
                lens[n] = s ? (size_t)(s - p) : (size_t)(end - p);
                n++;
                if (!s)
                        break;
                p = s + strlen(SEP);
        }
        {
                bool no_head = lens[0] == 1 && pieces[0][0] == '-';
                if (audit_verify_mem(names, pieces + 1, lens + 1, n - 1, no_head ? NULL : pieces[0], lens[0], &res) < 0)
                        abort();
        }
        if (!res.message || (res.damage != AUDIT_INTACT && res.file && strncmp(res.file, "f", 1) != 0))
                abort();
        if (res.damage == AUDIT_INTACT && res.records > 0 && res.last_seq < res.first_seq)
                abort();
        audit_verify_result_clear(&res);
        (void)event_filter_add(f, "type=container", NULL);
        for (size_t i = 1; i < n; i++) {
                const char *q = pieces[i], *qe = pieces[i] + lens[i];
                while (q < qe) {
                        const char *nl = memchr(q, '\n', (size_t)(qe - q));
                        size_t ln = nl ? (size_t)(nl - q) : (size_t)(qe - q);
                        _cleanup_json_ json_t *rec = NULL, *view = NULL;
                        if (ln > 0 && ln < (1 << 20) && jx_parse(q, ln, "record", &rec, NULL) == 0) {
                                _cleanup_free_ char *t = audit_format_text(rec);
                                view = audit_event_view(rec);
                                if (!t || !view)
                                        abort();
                                (void)event_filter_match(f, view);
                        }
                        q += ln + 1;
                }
        }
        return 0;
}
