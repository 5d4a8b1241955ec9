/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

static int error_vset(Error **err, int errnum, bool with_errno, const char *fmt, va_list ap)
{
        _cleanup_free_ char *m = NULL;
        Error *e;

        if (errnum <= 0)
                errnum = EINVAL;
        if (!err)
                return -errnum;
        m = xvasprintf(fmt, ap);
        e = xmalloc(sizeof(*e));
        e->errnum = errnum;
        e->msg = with_errno ? xasprintf("%s: %s", m, strerror(errnum)) : TAKE_PTR(m);
        error_free(*err);
        *err = e;
        return -errnum;
}

int error_set(Error **err, int errnum, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, errnum, true, fmt, ap);
        va_end(ap);
        return r;
}

int error_setx(Error **err, int errnum, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, errnum, false, fmt, ap);
        va_end(ap);
        return r;
}

int error_wrap(Error **err, const char *fmt, ...)
{
        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        char *m;

        if (!err || !*err)
                return -EINVAL;
        va_start(ap, fmt);
        prefix = xvasprintf(fmt, ap);
        va_end(ap);
        m = xasprintf("%s: %s", prefix, (*err)->msg);
        free((*err)->msg);
        (*err)->msg = m;
        return -(*err)->errnum;
}

Error *error_free(Error *e)
{
        if (!e)
                return NULL;
        free(e->msg);
        free(e);
        return NULL;
}

void error_clear(Error **err)
{
        if (err && *err)
                *err = error_free(*err);
}
