/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event log's filters and its line parser (events.c), which read `--filter` values from users and
 * files a crash or an editor may have damaged.  Input: filter arguments one per line, an empty line,
 * then event lines.  Every filter value also goes through the image-name normaliser; every line that
 * parses is matched, printed both ways, and must survive a round trip through the writer: formatting
 * its fields again gives a line that parses to the same type, action, actor and time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const EventFilter *f, const char *line, size_t len)
{
        _cleanup_json_ json_t *ev = NULL, *ev2 = NULL, *d = NULL;
        _cleanup_free_ char *text = NULL, *out = NULL;
        json_t *actor;
        struct timespec ts;
        int64_t ns = 0, ns2 = 0;
        size_t out_len = 0;

        if (event_parse_line(line, len, &ev, &ns) < 0)
                return;
        (void)event_filter_match(f, ev);
        text = event_format_text(ev);
        d = event_template_data(ev);
        if (!text || !d || ns < 0)
                abort();
        actor = json_object_get(ev, "Actor");
        ts = (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
        if (event_format(json_string_value(json_object_get(ev, "Type")), json_string_value(json_object_get(ev, "Action")),
                         json_string_value(json_object_get(actor, "ID")), json_object_get(actor, "Attributes"), &ts,
                         &out, &out_len, NULL) < 0)
                return; /* too long, or a time the writer refuses */
        if (out_len == 0 || out[out_len - 1] != '\n' || memchr(out, '\n', out_len - 1))
                abort();
        if (event_parse_line(out, out_len, &ev2, &ns2) < 0 || ns2 != ns)
                abort();
        if (!json_equal(json_object_get(ev, "Type"), json_object_get(ev2, "Type")) ||
            !json_equal(json_object_get(ev, "Action"), json_object_get(ev2, "Action")) ||
            !json_equal(json_object_get(actor, "ID"), json_object_get(json_object_get(ev2, "Actor"), "ID")))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
        _cleanup_free_ char *text = NULL;
        bool events = false;
        char *p, *end;

        if (size > (1 << 20))
                return 0;
        text = xmalloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        end = text + size;
        for (p = text; p < end;) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (!events) {
                        if (n == 0)
                                events = true;
                        else {
                                _cleanup_free_ char *arg = xstrndup(p, n), *fam = NULL;
                                (void)event_filter_add(f, arg, NULL);
                                fam = event_image_familiar_name(arg);
                                if (!fam)
                                        abort();
                        }
                } else
                        check_event(f, p, n);
                p += n + 1;
        }
        return 0;
}
