/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void oom(void)
{
        static const char m[] = "stockade: out of memory\n";
        (void)!write(STDERR_FILENO, m, sizeof(m) - 1);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t m)
{
        void *p = calloc(n ? n : 1, m ? m : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
        char *p;
        if (vasprintf(&p, fmt, ap) < 0)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = xvasprintf(fmt, ap);
        va_end(ap);
        return p;
}

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

bool strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (STREQ(v[i], s))
                        return true;
        return false;
}

char **strv_copy(char *const *v)
{
        size_t n = strv_length(v);
        char **r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

void strv_push(char ***v, const char *s)
{
        size_t n = strv_length(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

void strv_consume(char ***v, char *s)
{
        size_t n = strv_length(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

bool str_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool docker_name_valid(const char *s, size_t max)
{
        size_t len = strlen(s);

        if (len < 2 || len > max || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

int parse_uint64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_int64(const char *s, int64_t *ret)
{
        char *end;
        long long v;

        if (!s || !*s || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_size(const char *s, int64_t *ret)
{
        static const char units[] = "kmgtp";
        uint64_t whole = 0, frac_num = 0, frac_den = 1, mult = 1;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (STREQ(s, "-1")) {
                *ret = -1;
                return 0;
        }
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if (frac_den < 1000000000ULL) {
                                frac_num = frac_num * 10 + (uint64_t)(*p - '0');
                                frac_den *= 10;
                        }
        }
        if (*p == ' ')
                p++;
        if (*p) {
                const char *u = strchr(units, *p | 0x20);
                if (u && *p != ' ') {
                        for (long i = 0; i <= u - units; i++)
                                mult *= 1024;
                        p++;
                        if (*p == 'i' || *p == 'I')
                                p++;
                }
                if (*p == 'b' || *p == 'B')
                        p++;
        }
        if (*p)
                return -EINVAL;
        if (whole > (uint64_t)INT64_MAX / mult)
                return -ERANGE;
        whole = whole * mult + (frac_num * mult) / frac_den;
        if (whole > (uint64_t)INT64_MAX)
                return -ERANGE;
        *ret = (int64_t)whole;
        return 0;
}

/* Go's utf8.DecodeRune: the width of the sequence at s, or 0 if it is not valid UTF-8. */
size_t utf8_valid_width(const unsigned char *s, size_t n, uint32_t *ret)
{
        unsigned char c = s[0];
        size_t w;
        uint32_t r, min;

        if (c < 0x80) {
                *ret = c;
                return 1;
        }
        if (c >= 0xC2 && c <= 0xDF) {
                w = 2;
                r = c & 0x1F;
                min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
                w = 3;
                r = c & 0x0F;
                min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
                w = 4;
                r = c & 0x07;
                min = 0x10000;
        } else
                return 0;
        if (n < w)
                return 0;
        for (size_t i = 1; i < w; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                r = (r << 6) | (s[i] & 0x3F);
        }
        if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
                return 0;
        *ret = r;
        return w;
}

char *utf8_sanitize(const char *s, size_t n, size_t *ret_len)
{
        const unsigned char *u = (const unsigned char *)s;
        char *out = xmalloc(n * 3 + 1), *p = out;
        uint32_t r;

        for (size_t i = 0; i < n;) {
                size_t w = utf8_valid_width(u + i, n - i, &r);
                if (w == 0) {
                        memcpy(p, "\xef\xbf\xbd", 3);
                        p += 3;
                        i++;
                        continue;
                }
                memcpy(p, u + i, w);
                p += w;
                i += w;
        }
        *p = '\0';
        if (ret_len)
                *ret_len = (size_t)(p - out);
        return out;
}

int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c |= 0x20;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

bool http_list_has(const char *v, size_t len, const char *token)
{
        size_t tl = strlen(token), i = 0;

        while (i < len) {
                size_t s, e;
                while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                        i++;
                s = i;
                while (i < len && v[i] != ',')
                        i++;
                e = i;
                while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
                        e--;
                if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
                        return true;
        }
        return false;
}

char *format_go_duration_ms(int64_t ms)
{
        char sec[32];
        int64_t h, m, s_ms;

        if (ms <= 0)
                return xstrdup("0s");
        if (ms < 1000)
                return xasprintf("%lldms", (long long)ms);
        h = ms / 3600000;
        m = ms / 60000 % 60;
        s_ms = ms % 60000;
        if (s_ms % 1000 == 0)
                snprintf(sec, sizeof(sec), "%llds", (long long)(s_ms / 1000));
        else {
                int n = snprintf(sec, sizeof(sec), "%lld.%03lld", (long long)(s_ms / 1000), (long long)(s_ms % 1000));
                while (n > 0 && sec[n - 1] == '0')
                        sec[--n] = '\0';
                snprintf(sec + n, sizeof(sec) - (size_t)n, "s");
        }
        if (h)
                return xasprintf("%lldh%lldm%s", (long long)h, (long long)m, sec);
        if (m)
                return xasprintf("%lldm%s", (long long)m, sec);
        return xstrdup(sec);
}

int parse_duration_ms(const char *s, int64_t *ret)
{
        static const struct { const char *unit; double ms; } units[] = {
                { "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 }, { "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 },
        };
        double total = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        if (STREQ(s, "0")) {
                *ret = 0;
                return 0;
        }
        while (*p) {
                char *end;
                double v;
                size_t best = 0, k;
                if ((*p < '0' || *p > '9') && *p != '.')
                        return -EINVAL;
                v = strtod(p, &end);
                if (end == p)
                        return -EINVAL;
                p = end;
                for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
                        size_t n = strlen(units[k].unit);
                        /* the longest unit that matches: "ms" before "m" */
                        if (strncmp(p, units[k].unit, n) == 0 && n > best)
                                best = n;
                }
                if (!best)
                        return -EINVAL;
                for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
                        if (strlen(units[k].unit) == best && strncmp(p, units[k].unit, best) == 0)
                                break;
                total += v * units[k].ms;
                p += best;
                if (total > 1e15)
                        return -ERANGE;
        }
        *ret = (int64_t)total;
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int read_all_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t n;

                if (cap - len < 4097) {
                        cap = cap ? cap * 2 : 8192;
                        buf = xrealloc(buf, cap);
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf)
                buf = xmalloc(1);
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_all_fd(fd, max, ret, ret_len);
}

int write_file_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode, bool durable)
{
        _cleanup_free_ char *tmp = xasprintf(".%s.tmp%d", name, (int)getpid());
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strchr(name, '/'))
                return -EINVAL;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, len);
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        /* The rename is durable only once the directory is. */
        if (durable)
                (void)fsync(dirfd);
        return 0;
}

int write_file_at(int dirfd, const char *path, const char *s)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return write_all(fd, s, strlen(s));
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int rm_rf_at(int dfd, const char *name)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st_parent, st;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || fstatat(dfd, ".", &st_parent, 0) < 0)
                return -errno;
        if (st.st_dev != st_parent.st_dev)
                return -EXDEV; /* never cross into a mount */
        {
                /* nor into a bind mount of the same filesystem, whose st_dev is the parent's */
                struct statx stx;
                if (statx(fd, "", AT_EMPTY_PATH, 0, &stx) == 0 && (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                        return -EXDEV;
        }
        d = fdopendir(TAKE_FD(fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                int k = rm_rf_at(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = -errno;
        return r;
}

char *now_rfc3339nano(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64], frac[16];
        int n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        /* Go trims trailing zeros of the fraction. */
        n = snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
        while (n > 1 && frac[n - 1] == '0')
                frac[--n] = '\0';
        if (n == 1)
                frac[0] = '\0';
        return xasprintf("%s%sZ", buf, frac);
}

uint64_t proc_start_time(pid_t pid)
{
        char path[64];
        _cleanup_free_ char *buf = NULL;
        char *p;
        uint64_t v = 0;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_file_at(AT_FDCWD, path, 65536, &buf, NULL) < 0)
                return 0;
        /* comm may contain spaces and parentheses: fields start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return 0;
        p += 2;
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (p)
                v = strtoull(p, NULL, 10);
        return v;
}

int spawn_wait_msg(char *const argv[], char *const envp[], int in_fd, bool with_stdout, char *msg, size_t cap,
                   int *ret_wstatus)
{
        int pfd[2], status = 0;
        size_t mlen = 0;
        pid_t pid;

        if (cap == 0)
                return -EINVAL;
        msg[0] = '\0';
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int e = errno;
                (void)close(pfd[0]);
                (void)close(pfd[1]);
                return -e;
        }
        if (pid == 0) {
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul < 0 || dup2(in_fd >= 0 ? in_fd : nul, 0) < 0 || dup2(with_stdout ? pfd[1] : nul, 1) < 0 ||
                    dup2(pfd[1], 2) < 0)
                        _exit(127);
                (void)syscall(SYS_close_range, 3U, ~0U, 0U);
                if (envp)
                        execve(argv[0], argv, envp);
                else
                        execvp(argv[0], argv);
                dprintf(2, "exec %s: %s", argv[0], strerror(errno));
                _exit(127);
        }
        (void)close(pfd[1]);
        for (;;) {
                char tmp[512];
                ssize_t k = read(pfd[0], tmp, sizeof(tmp));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                for (ssize_t i = 0; i < k && mlen < cap - 1; i++)
                        msg[mlen++] = tmp[i];
        }
        (void)close(pfd[0]);
        while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
                mlen--;
        msg[mlen] = '\0';
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        *ret_wstatus = status;
        return 0;
}
