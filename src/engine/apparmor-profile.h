/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"

/*
 * The engine's side of AppArmor (docs/SECCOMP.md): the default profile, rendered from a template
 * for this machine, and loading profiles with apparmor_parser.  The runtime applies
 * process.apparmorProfile (src/runtime/apparmor.c); the engine makes sure it is loaded first.
 */

#define APPARMOR_DEFAULT_PROFILE "stockade-default"

/* Where `--security-opt apparmor=NAME` finds NAME when it is not loaded yet. */
#define APPARMOR_PROFILE_DIR "/etc/apparmor.d"
/* The hash of the stockade-default text this machine loaded since boot (tmpfs: gone at reboot). */
#define APPARMOR_DEFAULT_STAMP "/run/stockade/apparmor-default.hash"

/*
 * The default profile named `name`, as text: its abi line only where this machine's parser has
 * /etc/apparmor.d/abi/3.0, tunables/global and abstractions/base included only where they exist
 * (else @{PROC} is defined here), and signals from the engine's own label accepted when the engine
 * runs confined.  Returns a malloc'ed string.
 */
char *apparmor_default_profile(const char *name);

/* Is a profile of exactly this name in /sys/kernel/security/apparmor/profiles?  *ret_known is false
 * when that list cannot be read (no securityfs, not root). */
bool apparmor_profile_loaded(const char *name, bool *ret_known);

/*
 * Runs `apparmor_parser -Kr` (load or replace, no cache read or written) on `file`, or, when file
 * is NULL, on `text` through its stdin.  `what` names the input in errors.  Errors: no
 * apparmor_parser (ENOENT), and its failure with its own message (EIO).  STOCKADE_APPARMOR_PARSER
 * overrides where the parser is looked for (tests).
 */
int apparmor_parser_load(const char *file, const char *text, const char *what, Error **err);

/*
 * Makes `name` loaded for a container: the default profile from the template, any other from
 * APPARMOR_PROFILE_DIR/NAME, each only when not loaded yet.  `field` names the setting in errors
 * ("--security-opt apparmor").  AppArmor must be enabled (the caller checks).
 */
int apparmor_ensure_loaded(const char *name, const char *field, Error **err);

/*
 * The profile a container gets, as Docker chooses it: `requested` (--security-opt apparmor=, NULL
 * when not given) loaded if need be; "unconfined" is none; without a request, the default profile,
 * loaded on first use, unless the container is privileged or AppArmor is not enabled (then none,
 * silently, as Docker).  *ret_profile is a malloc'ed name or NULL for none.
 */
int apparmor_container_profile(const char *requested, bool privileged, char **ret_profile, Error **err);
