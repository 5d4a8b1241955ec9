/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/*
 * In the container: allocates a pty from the container's own devpts, sends the master to the
 * console socket (runc's protocol: one message, SCM_RIGHTS), binds the slave over /dev/console
 * (init only), and makes the slave the controlling terminal and stdio.
 */
int terminal_setup(const OciProcess *p, int console_sock, bool bind_console, Error **err);

/* Connects to the unix socket at path (runc's --console-socket). */
int console_socket_connect(const char *path, int *ret_fd, Error **err);

/* Receives the pty master that terminal_setup() sent on sock. */
int console_socket_recv(int sock, int *ret_fd, Error **err);

/* Copies between our stdio and a pty master until the master hangs up (foreground `run`/`exec -t`). */
void terminal_proxy(int master, int stop_fd);
