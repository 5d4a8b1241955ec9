/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * CVE-2019-5736: a container process could open /proc/<runtime pid>/exe and overwrite the host's
 * runtime binary.  Commands that enter a container first re-execute the runtime from a sealed memfd
 * copy of itself, so /proc/self/exe never points at the file on the host.  Returns only when already
 * running from a sealed copy (or when sealing is impossible and STOCKADE_ALLOW_UNSEALED=1 is set);
 * otherwise re-executes or returns a negative errno.
 */
int ensure_sealed_binary(char **argv);
/* Whether /proc/self/exe is a fully sealed memfd. */
int is_sealed_binary(void);
