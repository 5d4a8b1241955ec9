/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "error.h"
#include "spec.h"

/*
 * Runs the hooks of one kind in order, each with the OCI state JSON on its stdin, killing a hook that
 * outlives its timeout.  The error names the hook kind, index and path, and includes what the hook
 * wrote to stderr (its last 1 KiB).  Stops at the first failure, except for poststart and poststop
 * hooks, where each failure is logged as a warning and the remaining hooks still run (runtime-spec).
 */
int hooks_run(const OciSpec *spec, OciHookKind kind, const char *state_json, Error **err);
