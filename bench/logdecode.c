/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * logdecode - bench-logging.sh's check: a container log file on stdin back into the bytes the
 * container wrote to stdout, on stdout.  Strict: a record that is not a well-formed stdout record
 * of the format ends it with exit status 1 and the line number on stderr.
 *
 *   logdecode json   docker's json-file: {"log":"...","stream":"stdout","time":"..."} per line
 *   logdecode k8s    conmon's k8s-file:  TIME stdout F|P TEXT per line (P: the line goes on)
 *
 * Built by the script with gcc -O2; not part of the project's build.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long lineno;

static void bad(const char *why, const char *line, size_t n)
{
        fprintf(stderr, "line %lu: %s: %.*s\n", lineno, why, (int)(n > 200 ? 200 : n), line);
        exit(1);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool hex4(const char *p, const char *end, unsigned *ret)
{
        unsigned v = 0;
        if (end - p < 4)
                return false;
        for (int i = 0; i < 4; i++) {
                int h = hexval(p[i]);
                if (h < 0)
                        return false;
                v = v << 4 | (unsigned)h;
        }
        *ret = v;
        return true;
}

static void put_utf8(unsigned cp)
{
        char b[4];
        int n;
        if (cp < 0x80) {
                b[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                b[0] = (char)(0xc0 | cp >> 6);
                b[1] = (char)(0x80 | (cp & 0x3f));
                n = 2;
        } else if (cp < 0x10000) {
                b[0] = (char)(0xe0 | cp >> 12);
                b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                b[2] = (char)(0x80 | (cp & 0x3f));
                n = 3;
        } else {
                b[0] = (char)(0xf0 | cp >> 18);
                b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
                b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
                b[3] = (char)(0x80 | (cp & 0x3f));
                n = 4;
        }
        fwrite(b, 1, (size_t)n, stdout);
}

/* One json-file record: the "log" string decoded to stdout. */
static void json_line(const char *l, size_t n)
{
        static const char head[] = "{\"log\":\"", mid[] = ",\"stream\":\"stdout\",\"time\":\"";
        const char *p = l + sizeof(head) - 1, *end = l + n, *run;

        if (n < sizeof(head) - 1 || memcmp(l, head, sizeof(head) - 1) != 0)
                bad("not a json-file record with a log", l, n);
        for (run = p; p < end && *p != '"'; p++) {
                unsigned char c = (unsigned char)*p;
                if (c < 0x20)
                        bad("a control character in the string", l, n);
                if (c != '\\')
                        continue;
                fwrite(run, 1, (size_t)(p - run), stdout);
                if (++p == end)
                        bad("a cut escape", l, n);
                switch (*p) {
                case 'n': putchar('\n'); break;
                case 'r': putchar('\r'); break;
                case 't': putchar('\t'); break;
                case 'b': putchar('\b'); break;
                case 'f': putchar('\f'); break;
                case '"': case '\\': case '/': putchar(*p); break;
                case 'u': {
                        unsigned cp, lo;
                        if (!hex4(p + 1, end, &cp))
                                bad("a bad \\u escape", l, n);
                        p += 4;
                        if (cp >= 0xd800 && cp < 0xdc00 && end - p > 6 && p[1] == '\\' && p[2] == 'u' &&
                            hex4(p + 3, end, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                p += 6;
                        }
                        put_utf8(cp);
                        break;
                }
                default:
                        bad("an unknown escape", l, n);
                }
                run = p + 1;
        }
        if (p == end)
                bad("an unterminated string", l, n);
        fwrite(run, 1, (size_t)(p - run), stdout);
        p++;
        if ((size_t)(end - p) < sizeof(mid) - 1 || memcmp(p, mid, sizeof(mid) - 1) != 0)
                bad("not a stdout record (or attrs)", l, n);
        p += sizeof(mid) - 1;
        while (p < end && (strchr("0123456789-T:.Z+", *p) && *p))
                p++;
        if (end - p != 2 || memcmp(p, "\"}", 2) != 0)
                bad("a bad time or end", l, n);
}

/* One k8s-file record: TIME stdout F|P TEXT. */
static void k8s_line(const char *l, size_t n)
{
        const char *sp = memchr(l, ' ', n), *end = l + n;

        if (!sp || sp == l || (size_t)(end - sp) < 9 || memcmp(sp, " stdout ", 8) != 0 ||
            (sp[8] != 'F' && sp[8] != 'P') || (sp + 9 < end && sp[9] != ' '))
                bad("not a k8s-file stdout record", l, n);
        if (sp + 10 <= end)
                fwrite(sp + 10, 1, (size_t)(end - (sp + 10)), stdout);
        if (sp[8] == 'F')
                putchar('\n');
}

int main(int argc, char **argv)
{
        void (*fn)(const char *, size_t);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        if (argc != 2 || (strcmp(argv[1], "json") != 0 && strcmp(argv[1], "k8s") != 0)) {
                fprintf(stderr, "usage: logdecode json|k8s <LOG >OUTPUT\n");
                return 2;
        }
        fn = strcmp(argv[1], "json") == 0 ? json_line : k8s_line;
        setvbuf(stdout, NULL, _IOFBF, 1 << 20);
        while ((n = getline(&line, &cap, stdin)) > 0) {
                lineno++;
                if (line[n - 1] != '\n')
                        bad("no newline at the end of the file", line, (size_t)n);
                fn(line, (size_t)n - 1);
        }
        free(line);
        if (ferror(stdin) || fflush(stdout) != 0) {
                perror("logdecode");
                return 1;
        }
        return 0;
}
