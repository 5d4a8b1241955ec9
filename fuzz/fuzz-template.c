/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --format templates over JSON.  An input is the template text, then optionally a NUL byte and the
 * JSON data to run it over (a container as docker inspect shows it when there is none, or when the
 * data does not parse).  The template text and the output also go through tabwriter_format, since
 * table output aligns whatever a template printed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "template.h"
#include "util.h"

static const char container[] =
        "{\"Id\":\"4c01db0b339c\",\"Name\":\"/web\",\"Image\":\"nginx:latest\","
        "\"State\":{\"Status\":\"running\",\"Running\":true,\"Pid\":1234,\"ExitCode\":0,"
        "\"StartedAt\":\"2024-01-01T00:00:00Z\"},"
        "\"Config\":{\"Labels\":{\"tier\":\"front\",\"app\":\"web\"},\"Env\":[\"A=1\",\"B=2\"],"
        "\"Cmd\":null},"
        "\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges:true\"],\"Binds\":[],\"Memory\":0,"
        "\"CpuShares\":1.5},"
        "\"Mounts\":[{\"Source\":\"/srv\",\"Destination\":\"/data\",\"RW\":true},"
        "{\"Source\":\"/tmp\",\"Destination\":\"/t\",\"RW\":false}],"
        "\"Ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"}]},"
        "\"Limit\":18446744073709551615,"
        "\"Mixed\":[1,\"a\",null,1.5,true,{\"k\":[]},[[]]],"
        "\"Text\":\"tab\\there\\nnew \\u00e9\\u2028\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL, *out = NULL, *again = NULL, *aligned = NULL, *aligned_out = NULL;
        _cleanup_(tmpl_freep) Template *t = NULL;
        _cleanup_json_ json_t *d = NULL;
        const uint8_t *nul;
        Error *e = NULL;
        size_t tlen;
        int r;

        if (size > 65536)
                return 0;
        nul = memchr(data, 0, size);
        tlen = nul ? (size_t)(nul - data) : size;
        text = xstrndup((const char *)data, tlen);
        if (nul && jx_parse((const char *)nul + 1, size - tlen - 1, "fuzz", &d, &e) < 0)
                error_clear(&e);
        if (!d && jx_parse(container, strlen(container), "container", &d, &e) < 0)
                abort();

        aligned = tabwriter_format(text, 10, 1, 3);
        if (!aligned)
                abort();
        r = tmpl_parse(text, &t, &e);
        if (r < 0) {
                /* every failure explains itself, in Go's words */
                if (!e || !str_has_prefix(e->msg, "template: "))
                        abort();
                error_free(e);
                return 0;
        }
        r = tmpl_execute(t, d, &out, &e);
        if (r < 0) {
                if (!e || !str_has_prefix(e->msg, "template: "))
                        abort();
                error_free(e);
                return 0;
        }
        /* the same template over the same data says the same thing: no state survives an execution */
        if (tmpl_execute(t, d, &again, NULL) < 0 || strcmp(out, again) != 0)
                abort();
        aligned_out = tabwriter_format(out, 10, 1, 3);
        if (!aligned_out)
                abort();
        return 0;
}
