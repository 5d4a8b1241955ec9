/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade-proxy's request path (src/proxy/http.c, policy.c): the input is a request as a client
 * sends it.  Its head is parsed, decided on under two policies (the defaults, and everything on
 * with a configuration file), and what follows the head is read as a chunked body and inspected as
 * the body of every inspected endpoint.  The whole input is also read as a response head and as a
 * configuration file.  A decision always gives a reason; an allowed path always normalises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "policy.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decide(const ProxyPolicy *p, const HttpHead *h)
{
        ProxyDecision d;
        char out[HTTP_TARGET_MAX + 8];
        const char *q = NULL, *why = NULL;

        proxy_decide(p, h->method, h->method_len, h->target, h->target_len, &d);
        if (!d.reason[0])
                abort(); /* every decision says why */
        if (d.allow) {
                if (proxy_path_normalize(h->target, h->target_len, out, sizeof(out), &q, &why) < 0)
                        abort();
                if (out[0] != '/' || strstr(out, "//") || strstr(out, "/../") || strchr(out, '%'))
                        abort();
                for (const char *c = out; *c; c++)
                        if (*c >= 'A' && *c <= 'Z')
                                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char conf[] = "CONTAINERS=1\nPOST=1\nPUT=1\nDELETE=1\nEXEC=1\nIMAGES=1\nVOLUMES=1\n"
                                   "deny GET /containers/*/export\nallow * /plugins/**\nallow-bind /srv\n";
        const char *p = (const char *)data;
        ProxyPolicy dflt, all;
        HttpHead h;
        const char *why = NULL;
        size_t e;
        Error *err = NULL;

        if (size > 1 << 20)
                return 0;
        proxy_policy_init(&dflt);
        proxy_policy_init(&all);
        if (proxy_policy_load(&all, conf, strlen(conf), "conf", &err) < 0)
                abort();

        e = http_head_end(p, size);
        if (e && http_parse_request(p, e, &h, &why) == 0) {
                ProxyDecision d;
                char reason[256];
                ChunkReader c = { 0 };
                const char *body = p + e;
                size_t blen = size - e;

                if (h.target < p || h.target + h.target_len > p + e || h.method_len == 0)
                        abort();
                decide(&dflt, &h);
                decide(&all, &h);
                proxy_decide(&all, h.method, h.method_len, h.target, h.target_len, &d);
                long k = chunk_advance(&c, body, blen, NULL, NULL);
                if (k > (long)blen)
                        abort();
                for (int kind = PROXY_INSPECT_CREATE; kind <= PROXY_INSPECT_VOLUME; kind++) {
                        reason[0] = '\0';
                        if (proxy_inspect_body(&all, (ProxyInspect)kind, body, blen, reason,
                                               sizeof(reason)) < 0 &&
                            !reason[0])
                                abort(); /* a refusal says why */
                }
        } else if (e && !why) {
                abort();
        }
        if (e && http_parse_response(p, e, false, &h, &why) == 0 && (h.status < 100 || h.status > 999))
                abort();
        proxy_policy_free(&dflt);
        proxy_policy_free(&all);

        proxy_policy_init(&dflt);
        if (proxy_policy_load(&dflt, p, size, "fuzz", &err) < 0) {
                if (!err || !err->msg[0])
                        abort();
                error_clear(&err);
        }
        proxy_policy_free(&dflt);
        return 0;
}
