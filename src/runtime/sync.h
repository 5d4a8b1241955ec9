/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Messages between the runtime and the container's init while it is set up, over a SOCK_STREAM
 * socketpair: a fixed header, an optional payload (at most SYNC_PAYLOAD_MAX bytes) and optionally one
 * fd passed with SCM_RIGHTS.  An ERROR message carries the failing step and errno as text, so the
 * runtime can say exactly what went wrong instead of "child exited".
 */
typedef enum SyncType {
        SYNC_USERMAP_REQ = 1, /* child -> parent: write my uid/gid maps */
        SYNC_USERMAP_DONE,
        SYNC_PID,             /* value = the container init's pid, as the runtime sees it */
        SYNC_GO,              /* parent -> init: cgroups joined, go on; payload = state JSON for hooks */
        SYNC_HOOKS_REQ,       /* init -> parent: run prestart and createRuntime hooks */
        SYNC_HOOKS_DONE,
        SYNC_READY,           /* init is set up and waits for `start` */
        SYNC_ERROR,           /* value = errno, payload = message */
} SyncType;

#define SYNC_PAYLOAD_MAX (4u << 20)

typedef struct SyncMsg {
        uint32_t type;
        int32_t value;
        uint32_t len;
        uint32_t has_fd;
} SyncMsg;

int sync_send(int sock, SyncType type, int value, const void *payload, size_t len, int fd);
/* Receives a message; *ret_payload (NUL-terminated, may be NULL) and *ret_fd (-1) are optional. */
int sync_recv(int sock, SyncMsg *ret, char **ret_payload, int *ret_fd);
/* Sends SYNC_ERROR with err's message; for the child side. */
void sync_send_error(int sock, const Error *err);

/* Sends fd over a unix socket with `name` as the data, as runc's console socket protocol does. */
int send_fd_named(int sock, int fd, const char *name);
