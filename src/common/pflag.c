/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pflag.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static char *display(const Pflag *f)
{
        return f->short_name ? xasprintf("-%c, --%s", f->short_name, f->name) : xasprintf("--%s", f->name);
}

static int set_value(Pflag *f, const char *value, void *ud, Error **err)
{
        f->seen = true;
        switch (f->kind) {
        case PFLAG_BOOL:
                if (STREQ(value, "true") || STREQ(value, "1") || STREQ(value, "t") || STREQ(value, "TRUE"))
                        *(bool *)f->value = true;
                else if (STREQ(value, "false") || STREQ(value, "0") || STREQ(value, "f") || STREQ(value, "FALSE"))
                        *(bool *)f->value = false;
                else {
                        _cleanup_free_ char *d = display(f);
                        return error_setx(err, EINVAL, "invalid argument \"%s\" for \"%s\" flag: strconv.ParseBool: "
                                          "parsing \"%s\": invalid syntax", value, d, value);
                }
                return 0;
        case PFLAG_STRING:
                *(const char **)f->value = value;
                return 0;
        case PFLAG_STRINGS:
                strv_push((char ***)f->value, value);
                return 0;
        case PFLAG_CUSTOM: {
                Error *e = NULL;
                int r = f->set(f, value, ud, &e);
                if (r < 0) {
                        _cleanup_free_ char *d = display(f);
                        r = error_setx(err, e ? e->errnum : EINVAL, "invalid argument \"%s\" for \"%s\" flag: %s", value, d,
                                       e ? e->msg : "invalid value");
                        error_free(e);
                }
                return r;
        }
        default:
                return -EINVAL;
        }
}

static Pflag *find_long(Pflag *flags, const char *name, size_t len)
{
        for (Pflag *f = flags; f->name; f++)
                if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
                        return f;
        return NULL;
}

static Pflag *find_short(Pflag *flags, char c)
{
        for (Pflag *f = flags; f->name; f++)
                if (f->short_name == c)
                        return f;
        return NULL;
}

int pflag_parse(Pflag *flags, int argc, char **argv, int *index, bool interspersed, void *ud, Error **err)
{
        int i = *index, out = *index;
        int r;

        while (i < argc) {
                char *a = argv[i];
                if (STREQ(a, "--")) {
                        i++;
                        break;
                }
                if (a[0] != '-' || a[1] == '\0') {
                        if (!interspersed)
                                break;
                        argv[out++] = argv[i++];        /* keep positional arguments in order */
                        continue;
                }
                if (a[1] == '-') {
                        const char *name = a + 2, *eq = strchr(name, '=');
                        size_t len = eq ? (size_t)(eq - name) : strlen(name);
                        Pflag *f = find_long(flags, name, len);
                        if (!f)
                                return error_setx(err, EINVAL, "unknown flag: --%.*s", (int)len, name);
                        i++;
                        if (eq)
                                r = set_value(f, eq + 1, ud, err);
                        else if (f->kind == PFLAG_BOOL)
                                r = set_value(f, "true", ud, err);
                        else if (i < argc)
                                r = set_value(f, argv[i++], ud, err);
                        else
                                return error_setx(err, EINVAL, "flag needs an argument: --%s", f->name);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Short flags, possibly grouped: -dit, -e X, -eX, -e=X. */
                i++;
                for (const char *c = a + 1; *c; c++) {
                        Pflag *f = find_short(flags, *c);
                        if (!f)
                                return error_setx(err, EINVAL, "unknown shorthand flag: '%c' in %s", *c, a);
                        if (f->kind == PFLAG_BOOL) {
                                if (c[1] == '=') {
                                        r = set_value(f, c + 2, ud, err);
                                        if (r < 0)
                                                return r;
                                        break;
                                }
                                r = set_value(f, "true", ud, err);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (c[1] == '=')
                                r = set_value(f, c + 2, ud, err);
                        else if (c[1])
                                r = set_value(f, c + 1, ud, err);
                        else if (i < argc)
                                r = set_value(f, argv[i++], ud, err);
                        else
                                return error_setx(err, EINVAL, "flag needs an argument: '%c' in -%c", *c, *c);
                        if (r < 0)
                                return r;
                        break;
                }
        }
        if (interspersed) {
                /* Move what follows "--" down behind the positional arguments gathered so far. */
                int n = out;
                while (i < argc)
                        argv[n++] = argv[i++];
                for (int k = n; k < argc; k++)
                        argv[k] = NULL;
                *index = *index;        /* positional arguments start where the flags started */
                return n;               /* the new argc */
        }
        *index = i;
        return argc;
}

void pflag_usage(const Pflag *flags)
{
        printf("\nOptions:\n");
        for (const Pflag *f = flags; f->name; f++) {
                char left[64];
                if (f->short_name)
                        snprintf(left, sizeof(left), "-%c, --%s", f->short_name, f->name);
                else
                        snprintf(left, sizeof(left), "    --%s", f->name);
                printf("  %-28s %s\n", left, f->help ? f->help : "");
        }
}

bool pflag_seen(const Pflag *flags, const char *name)
{
        for (const Pflag *f = flags; f->name; f++)
                if (STREQ(f->name, name))
                        return f->seen;
        return false;
}
