/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * CVE-2019-5736: a container process could open /proc/<runtime pid>/exe and overwrite the host's
 * runtime binary.  Commands that enter a container first re-execute the runtime through a read-only,
 * detached bind mount of its own binary (zero-copy; writes fail with EROFS), or, where that is
 * impossible, from a sealed memfd copy.  Returns 0 when already running that way; otherwise
 * re-executes, and returns a negative errno only when both ways failed.
 */
int ensure_sealed_binary(char **argv);
/* Whether /proc/self/exe is a fully sealed memfd. */
int is_sealed_binary(void);
