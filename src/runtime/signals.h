/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* "KILL", "SIGKILL", "kill", "9", "SIGRTMIN+3" -> signal number; -EINVAL when unknown. */
int signal_from_string(const char *s);
