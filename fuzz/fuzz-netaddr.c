/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net_addr_parse (netconn.c): each line is an address, parsed with and without a default port and with
 * every protocol allowed; a parse that succeeds must give a consistent NetAddr.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netconn.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, const char *dflt, unsigned allowed)
{
        NetAddr a = { 0 };
        Error *e = NULL;

        if (net_addr_parse(s, dflt, allowed, &a, &e) < 0) {
                if (!e || !e->msg || !*e->msg)
                        abort(); /* every failure says why */
                error_free(e);
                return;
        }
        if (e || !(allowed & (1u << a.proto)))
                abort();
        if (a.proto == NET_UNIX || a.proto == NET_UNIXGRAM) {
                if (!a.path || a.path[0] != '/' || a.host || a.port || strlen(a.path) > 107)
                        abort();
        } else {
                if (a.path || !a.host || !*a.host || !a.port || !*a.port || strlen(a.host) > 253)
                        abort();
                if (strpbrk(a.host, "/[] ") || strpbrk(a.port, "/:[] "))
                        abort();
        }
        net_addr_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = NULL;
        char *save = NULL;

        if (size > 65536)
                return 0;
        text = xstrndup((const char *)data, size);
        for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                check(t, NULL, 0x1f);
                check(t, "514", 0x1f);
                check(t, "514", 1u << NET_TCP);
        }
        return 0;
}
