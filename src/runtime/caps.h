/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "error.h"
#include "spec.h"

#define CAPS_NAMES_MAX 64

/* "CAP_CHOWN", "chown" or "CHOWN" -> 0; -EINVAL for a name no kernel defines. */
int caps_from_name(const char *name);
/* 0 -> "CAP_CHOWN"; NULL beyond the table. */
const char *caps_to_name(int cap);
/* The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
int caps_last_cap(void);
/* Number of names in our table. */
int caps_known_count(void);

/*
 * Drops every capability not in caps->bounding from the bounding set.  Run as root before changing
 * uid, with PR_SET_KEEPCAPS set so that permitted survives the uid change.
 */
int caps_drop_bounding(const OciCaps *caps, Error **err);
/* Sets effective, permitted and inheritable, then raises the ambient set.  Run after the uid change. */
int caps_apply_final(const OciCaps *caps, Error **err);
