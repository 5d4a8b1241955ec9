/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * A throwaway PKI for the TLS tests (test-netconn, test-syslog-driver), made with the openssl CLI in
 * a fresh directory: ca.pem (a CA), server.pem/server.key (CN=localhost, SANs DNS:localhost and
 * IP:127.0.0.1, signed by the CA), client.pem/client.key (CN=stockade-client, clientAuth, signed by the
 * CA), and other-ca.pem (a CA that signed nothing here).  EC P-256 keys: fast to make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tls_fixture_make(const char *dir)
{
        char cmd[8192];
        int n = snprintf(
                cmd, sizeof(cmd),
                "set -e; cd '%s'; exec >openssl.log 2>&1; "
                "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
                "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=stockade-test-ca "
                "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; "
                "openssl req -x509 $K -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca "
                "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; "
                "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
                "extendedKeyUsage=serverAuth\\n' >server.ext; "
                "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' >client.ext; "
                "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost; "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
                "  -extfile server.ext -out server.pem; "
                "openssl req $K -keyout client.key -out client.csr -subj /CN=stockade-client; "
                "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
                "  -extfile client.ext -out client.pem",
                dir);
        if (n < 0 || (size_t)n >= sizeof(cmd))
                return -1;
        return system(cmd) == 0 ? 0 : -1;
}
