/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "error.h"
#include "spec.h"

/*
 * Runs the hooks of one kind in order, each with the OCI state JSON on its stdin, killing a hook that
 * outlives its timeout.  Stops at the first failure; the error names the hook kind, index and path,
 * and includes what the hook wrote to stderr (its last 1 KiB).
 */
int hooks_run(const OciSpec *spec, OciHookKind kind, const char *state_json, Error **err);
