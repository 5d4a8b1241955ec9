/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static const CliFlag *find(const CliFlag *flags, const char *name, size_t len)
{
        for (const CliFlag *f = flags; f->name; f++) {
                if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
                        return f;
                if (len == 1 && f->short_name == name[0])
                        return f;
        }
        return NULL;
}

int cli_parse(const char *cmd, const CliFlag *flags, int argc, char **argv, int *index, Error **err)
{
        int i = *index;

        while (i < argc) {
                const char *a = argv[i];
                const char *name, *eq, *val = NULL;
                const CliFlag *f;
                size_t len;

                if (a[0] != '-' || a[1] == '\0')
                        break;
                if (STREQ(a, "--")) {
                        i++;
                        break;
                }
                name = a + (a[1] == '-' ? 2 : 1);
                eq = strchr(name, '=');
                len = eq ? (size_t)(eq - name) : strlen(name);
                f = find(flags, name, len);
                if (!f)
                        return error_setx(err, EINVAL, "%s: unknown flag %.*s%.*s (see --help)", cmd,
                                          (int)(name - a), a, (int)len, name);
                if (eq)
                        val = eq + 1;
                if (f->kind == CLI_BOOL) {
                        bool v = true;
                        if (val) {
                                if (STREQ(val, "true") || STREQ(val, "1"))
                                        v = true;
                                else if (STREQ(val, "false") || STREQ(val, "0"))
                                        v = false;
                                else
                                        return error_setx(err, EINVAL, "%s: flag --%s: \"%s\" is not a boolean",
                                                          cmd, f->name, val);
                        }
                        *(bool *)f->value = v;
                        i++;
                        continue;
                }
                if (!val) {
                        if (i + 1 >= argc)
                                return error_setx(err, EINVAL, "%s: flag --%s needs a value", cmd, f->name);
                        val = argv[++i];
                }
                i++;
                switch (f->kind) {
                case CLI_STRING:
                        *(const char **)f->value = val;
                        break;
                case CLI_STRINGS:
                        strv_push((char ***)f->value, val);
                        break;
                case CLI_INT: {
                        int64_t n;
                        if (parse_int64(val, &n) < 0 || n < 0 || n > 1 << 20)
                                return error_setx(err, EINVAL, "%s: flag --%s: \"%s\" is not a valid number", cmd,
                                                  f->name, val);
                        *(int *)f->value = (int)n;
                        break;
                }
                default:
                        break;
                }
        }
        *index = i;
        return 0;
}

void cli_usage(const char *cmd, const char *synopsis, const CliFlag *flags)
{
        printf("Usage: stockade-runtime %s %s\n", cmd, synopsis);
        if (flags && flags->name)
                printf("\nOptions:\n");
        for (const CliFlag *f = flags; f && f->name; f++) {
                char left[64];
                if (f->short_name)
                        snprintf(left, sizeof(left), "-%c, --%s%s", f->short_name, f->name,
                                 f->kind == CLI_BOOL ? "" : " VALUE");
                else
                        snprintf(left, sizeof(left), "    --%s%s", f->name, f->kind == CLI_BOOL ? "" : " VALUE");
                printf("  %-32s %s\n", left, f->help ? f->help : "");
        }
}
