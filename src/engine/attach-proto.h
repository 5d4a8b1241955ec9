/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The monitor's socket protocol (<exec-root>/containers/<id>/attach.sock, and the socketpair the CLI
 * hands a new monitor).  Frames as Docker's multiplexed stream: an 8-byte header [type, 0, 0, 0,
 * uint32 big-endian length] and the payload.
 *
 *   client -> monitor   STDIN (0) bytes for the container (length 0: close stdin)
 *                       CONTROL (3) one JSON object:
 *                         {"attach":{"stdin":B,"stdout":B,"stderr":B}}  stream output to this client
 *                         {"wait":true}                                  just wait for the exit
 *                         {"stop":{"signal":"SIGTERM","timeout":10}}     stop, then SIGKILL after timeout s
 *                         {"kill":"SIGHUP"}                              send a signal
 *                         {"resize":{"h":24,"w":80}}                     the tty's size
 *   monitor -> client   STDOUT (1), STDERR (2) output (a tty's output is all STDOUT)
 *                       STATUS (4) one JSON object:
 *                         {"status":"started","pid":N}
 *                         {"status":"error","message":"...","exitCode":125|126|127}
 *                         {"status":"exited","exitCode":N,"oomKilled":B,"restarting":B}
 *                         {"status":"removed"}    after --rm has removed the container
 *                         {"status":"ack"}        a control request was done
 */
enum {
        FRAME_STDIN = 0,
        FRAME_STDOUT = 1,
        FRAME_STDERR = 2,
        FRAME_CONTROL = 3,
        FRAME_STATUS = 4,
};

#define FRAME_HEADER 8
#define FRAME_MAX    (1u << 20)

static inline void frame_header(uint8_t h[FRAME_HEADER], uint8_t type, uint32_t len)
{
        h[0] = type;
        h[1] = h[2] = h[3] = 0;
        h[4] = (uint8_t)(len >> 24);
        h[5] = (uint8_t)(len >> 16);
        h[6] = (uint8_t)(len >> 8);
        h[7] = (uint8_t)len;
}

static inline uint32_t frame_len(const uint8_t h[FRAME_HEADER])
{
        return (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
}
