/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The journald driver's pieces the tests reach (the driver itself is log_driver_journald, logdriver.h). */

#include <stddef.h>

/* Where journald listens for native-protocol datagrams. */
#define JOURNALD_SOCKET "/run/systemd/journal/socket"

/* journald's limit on a field name. */
#define JOURNALD_FIELD_NAME_MAX 64

/*
 * A label or env name made a journal field name as docker's journald driver makes it (sanitizeKeyMod):
 * per character (a UTF-8 sequence as Go decodes it counts once, an invalid byte alone), a-z
 * upper-cased, A-Z and 0-9 kept, anything else "_", and no "_" while the name is still empty.  Writes
 * at most JOURNALD_FIELD_NAME_MAX + 1 characters (the extra one says "too long") and a NUL; returns
 * the length.
 */
size_t journald_sanitize_key(const char *key, char out[static JOURNALD_FIELD_NAME_MAX + 2]);
