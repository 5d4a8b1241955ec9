/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>

/*
 * The built-in default seccomp profile in Docker's format (archMap, includes/excludes by caps and
 * arches), as `stockade-runtime seccomp default` prints it; seccomp_compile() resolves its conditions
 * against a container's bounding capabilities.  Names this libseccomp does not know are left out.
 */
json_t *seccomp_default_profile(void);
