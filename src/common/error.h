/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdarg.h>

/*
 * An error that carries a message and an errno.  Every fallible function that can fail in more than one
 * way takes `Error **err` as its last parameter and returns a negative errno; on failure *err is set
 * (if err is not NULL) and the caller either wraps it with more context or reports it.  On success *err
 * is untouched.
 */
typedef struct Error {
        int errnum;      /* positive errno */
        char *msg;       /* full message, already including the errno text where one applies */
} Error;

/* Sets *err to "<fmt>: <strerror(errnum)>" and returns -errnum. errnum must be > 0. */
int error_set(Error **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, but for synthetic errors: the message is taken as is, without the errno text. */
int error_setx(Error **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the message of *err with "<fmt>: " and returns -(*err)->errnum. */
int error_wrap(Error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees an error; accepts NULL and returns NULL. */
Error *error_free(Error *e);
/* Frees *err and sets it to NULL. */
void error_clear(Error **err);
