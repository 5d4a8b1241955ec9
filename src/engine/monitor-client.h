/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"

/* The client side of the monitor's socket (attach-proto.h). */

/* Connects to <exec-root>/containers/<id>/attach.sock; the fd, or a negative errno. */
int monitor_connect(Engine *e, const char *id, Error **err);
int monitor_send_frame(int fd, uint8_t type, const void *buf, size_t len);
int monitor_send_control(int fd, json_t *j);
/* Reads one frame; its type, or -1 at EOF or on a malformed frame. *body is malloc'd, NUL-terminated. */
int monitor_read_frame(int fd, char **body, size_t *len);
/* Waits for the next "exited" (not restarting) or "error" status: its exit code, or -1 at EOF. */
int monitor_wait_exit(int fd);
/* Waits for an "ack" status; 0, or -1 at EOF. */
int monitor_wait_ack(int fd);
