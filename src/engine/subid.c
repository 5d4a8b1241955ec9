/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Subordinate ids: /etc/subuid and /etc/subgid, dockerd's userns-remap forms, the --userns=auto
 * registry.  See subid.h for the contract and docs/USERNS.md for the choices.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json-util.h"
#include "subid.h"
#include "util.h"

/* ---- small helpers ---- */

/* Decimal digits only, no sign, no blanks, no leading zero (shadow's older readers took strtoul base 0,
 * which reads "0100" as octal: such a line means different ids to different tools, so it is refused). */
static int parse_u32_strict(const char *s, size_t n, uint32_t *ret)
{
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return -EINVAL;
        if (s[0] == '0' && n > 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

/* A field quoted for a message: at most 64 bytes, anything unprintable as \xNN. */
static char *quote_field(const char *s, size_t n)
{
        Buf b = { 0 };
        size_t lim = n > 64 ? 64 : n;

        buf_putc(&b, '"');
        for (size_t i = 0; i < lim; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        buf_putc(&b, '\\');
                        buf_putc(&b, (char)c);
                } else if (c < 0x20 || c >= 0x7f) {
                        char x[5];
                        snprintf(x, sizeof(x), "\\x%02x", c);
                        buf_puts(&b, x);
                } else
                        buf_putc(&b, (char)c);
        }
        if (lim < n)
                buf_puts(&b, "...");
        buf_putc(&b, '"');
        return buf_cstr(&b);
}

static bool owner_valid(const char *s, size_t n)
{
        if (n == 0 || n > SUBID_OWNER_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* "dir" and "base" of a path ("." for a bare name). */
static void split_path(const char *path, char **ret_dir, char **ret_base)
{
        const char *slash = strrchr(path, '/');

        if (!slash) {
                *ret_dir = xstrdup(".");
                *ret_base = xstrdup(path);
        } else if (slash == path) {
                *ret_dir = xstrdup("/");
                *ret_base = xstrdup(slash + 1);
        } else {
                *ret_dir = xstrndup(path, (size_t)(slash - path));
                *ret_base = xstrdup(slash + 1);
        }
}

/* ---- parsing ---- */

static void add_bad(SubidFile *f, size_t *cap, unsigned line, const char *s, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
static void add_bad(SubidFile *f, size_t *cap, unsigned line, const char *s, size_t n, const char *fmt, ...)
{
        const char *colon = memchr(s, ':', n);
        _cleanup_free_ char *reason = NULL;
        va_list ap;

        if (f->n_bad == *cap) {
                *cap = *cap ? *cap * 2 : 8;
                f->bad = xrealloc(f->bad, *cap * sizeof(*f->bad));
        }
        va_start(ap, fmt);
        reason = xvasprintf(fmt, ap);
        va_end(ap);
        f->bad[f->n_bad++] = (SubidBadLine){
                .line = line,
                .owner = colon && (size_t)(colon - s) <= SUBID_OWNER_MAX ? xstrndup(s, (size_t)(colon - s)) : NULL,
                .message = xasprintf("%s:%u: %s", f->path, line, reason),
        };
}

static void parse_line(SubidFile *f, size_t *cap_e, size_t *cap_b, unsigned line, const char *s, size_t n)
{
        const char *field[3];
        size_t len[3];
        size_t nf = 0, i = 0;
        uint32_t start, count;
        _cleanup_free_ char *q = NULL;

        if (n > SUBID_LINE_MAX) {
                add_bad(f, cap_b, line, s, n, "line longer than %u bytes", SUBID_LINE_MAX);
                return;
        }
        if (memchr(s, '\0', n)) {
                add_bad(f, cap_b, line, s, n, "line holds a NUL byte");
                return;
        }
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        if (i == n || s[i] == '#')
                return; /* blank or comment */

        /* Exactly three ':'-separated fields, as shadow's subordinate-id reader requires. */
        for (size_t b = 0, k = 0; k <= n; k++) {
                if (k == n || s[k] == ':') {
                        if (nf < 3) {
                                field[nf] = s + b;
                                len[nf] = k - b;
                        }
                        nf++;
                        b = k + 1;
                }
        }
        if (nf != 3) {
                add_bad(f, cap_b, line, s, n, "expected owner:start:count, found %zu field%s", nf, nf == 1 ? "" : "s");
                return;
        }
        if (!owner_valid(field[0], len[0])) {
                q = quote_field(field[0], len[0]);
                add_bad(f, cap_b, line, s, n, "invalid owner %s", q);
                return;
        }
        if (parse_u32_strict(field[1], len[1], &start) < 0) {
                q = quote_field(field[1], len[1]);
                add_bad(f, cap_b, line, s, n, "invalid start %s", q);
                return;
        }
        if (parse_u32_strict(field[2], len[2], &count) < 0 || count == 0) {
                q = quote_field(field[2], len[2]);
                add_bad(f, cap_b, line, s, n, "invalid count %s", q);
                return;
        }
        /* The kernel refuses a map extent whose end wraps: the last id must be at most 4294967294. */
        if ((uint64_t)start + count > UINT32_MAX) {
                add_bad(f, cap_b, line, s, n, "range %" PRIu32 "+%" PRIu32 " goes past id 4294967294", start, count);
                return;
        }
        if (f->n_entries == *cap_e) {
                *cap_e = *cap_e ? *cap_e * 2 : 16;
                f->entries = xrealloc(f->entries, *cap_e * sizeof(*f->entries));
        }
        f->entries[f->n_entries++] = (SubidEntry){
                .owner = xstrndup(field[0], len[0]), .start = start, .count = count, .line = line
        };
}

SubidFile *subid_file_parse(const char *path, const char *data, size_t len)
{
        SubidFile *f = xcalloc(1, sizeof(*f));
        size_t cap_e = 0, cap_b = 0, pos = 0;
        unsigned line = 0;

        f->path = xstrdup(path);
        f->data = xmalloc(len + 1);
        if (len)
                memcpy(f->data, data, len);
        f->data[len] = '\0';
        f->len = len;
        while (pos < len) {
                const char *s = f->data + pos;
                const char *nl = memchr(s, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - s) : len - pos;

                pos += n + (nl ? 1 : 0);
                line++;
                parse_line(f, &cap_e, &cap_b, line, s, n);
        }
        return f;
}

SubidFile *subid_file_free(SubidFile *f)
{
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_entries; i++)
                free(f->entries[i].owner);
        for (size_t i = 0; i < f->n_bad; i++) {
                free(f->bad[i].owner);
                free(f->bad[i].message);
        }
        free(f->entries);
        free(f->bad);
        free(f->data);
        free(f->path);
        free(f);
        return NULL;
}

/* Opens a file that must be a regular file reached without a final symlink (shadow opens these files
 * with O_NOFOLLOW too).  -ENOENT passes through without an error set. */
static int open_regular(const char *path, int flags, struct stat *ret_st, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                if (errno == ELOOP)
                        return error_setx(err, ELOOP, "%s: is a symbolic link; refusing to use it", path);
                return error_set(err, errno, "%s", path);
        }
        if (fstat(fd, &st) < 0)
                return error_set(err, errno, "%s", path);
        if (!S_ISREG(st.st_mode))
                return error_setx(err, EINVAL, "%s: not a regular file", path);
        if (ret_st)
                *ret_st = st;
        return TAKE_FD(fd);
}

static int read_regular(const char *path, char **ret, size_t *ret_len, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open_regular(path, O_RDONLY, NULL, err);
        if (fd < 0)
                return fd;
        r = read_all_fd(fd, SUBID_FILE_MAX, ret, ret_len);
        if (r == -EFBIG)
                return error_setx(err, EFBIG, "%s: larger than %u bytes", path, SUBID_FILE_MAX);
        if (r < 0)
                return error_set(err, -r, "%s: read", path);
        return 0;
}

int subid_file_load(const char *path, SubidFile **ret, Error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r;

        r = read_regular(path, &data, &len, err);
        if (r == -ENOENT) {
                *ret = subid_file_parse(path, "", 0);
                return 0;
        }
        if (r < 0)
                return r;
        *ret = subid_file_parse(path, data, len);
        return 0;
}

static bool owner_matches(const char *owner, const char *name, uid_t uid)
{
        char buf[16];

        if (name && STREQ(owner, name))
                return true;
        if (uid == (uid_t)-1)
                return false;
        snprintf(buf, sizeof(buf), "%" PRIu32, (uint32_t)uid);
        return STREQ(owner, buf);
}

size_t subid_file_find(const SubidFile *f, const char *name, uid_t uid, SubidRange **ret)
{
        SubidRange *v = NULL;
        size_t n = 0;

        for (size_t i = 0; i < f->n_entries; i++) {
                if (!owner_matches(f->entries[i].owner, name, uid))
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = (SubidRange){ f->entries[i].start, f->entries[i].count };
        }
        *ret = v;
        return n;
}

const SubidBadLine *subid_file_find_bad(const SubidFile *f, const char *name, uid_t uid)
{
        for (size_t i = 0; i < f->n_bad; i++)
                if (f->bad[i].owner && owner_matches(f->bad[i].owner, name, uid))
                        return &f->bad[i];
        return NULL;
}

static int cmp_range_start(const void *a, const void *b)
{
        const SubidRange *x = a, *y = b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return x->count < y->count ? -1 : x->count > y->count;
}

/*
 * First fit of `count` ids in [lo, hi) past every range of `taken` (sorted by start).  Moving the
 * candidate past each range it overlaps, in start order, lands on the lowest free start: a range that
 * did not overlap lies wholly below the candidate (and stays so) or wholly above it, and so do all
 * after it.
 */
static int first_fit(const SubidRange *taken, size_t n, uint64_t lo, uint64_t hi, uint32_t count, uint32_t *ret)
{
        uint64_t s = lo;

        for (size_t i = 0; i < n; i++) {
                uint64_t ts = taken[i].start, te = ts + taken[i].count;
                if (ts < s + count && s < te)
                        s = te;
                if (s + count > hi)
                        return -ENOSPC;
        }
        if (s + count > hi)
                return -ENOSPC;
        *ret = (uint32_t)s;
        return 0;
}

int subid_file_next_free(const SubidFile *f, uint32_t min, uint32_t count, uint32_t *ret_start)
{
        _cleanup_free_ SubidRange *v = NULL;

        if (count == 0)
                return -EINVAL;
        v = xmalloc((f->n_entries ? f->n_entries : 1) * sizeof(*v));
        for (size_t i = 0; i < f->n_entries; i++)
                v[i] = (SubidRange){ f->entries[i].start, f->entries[i].count };
        qsort(v, f->n_entries, sizeof(*v), cmp_range_start);
        return first_fit(v, f->n_entries, min, UINT32_MAX, count, ret_start);
}

void subid_file_render_append(const SubidFile *f, const char *owner, uint32_t start, uint32_t count, char **ret,
                              size_t *ret_len)
{
        _cleanup_free_ char *line = xasprintf("%s:%" PRIu32 ":%" PRIu32 "\n", owner, start, count);
        Buf b = { 0 };

        buf_put(&b, f->data, f->len);
        if (f->len > 0 && f->data[f->len - 1] != '\n')
                buf_putc(&b, '\n');
        buf_puts(&b, line);
        *ret_len = b.len;
        *ret = buf_cstr(&b);
}

/* ---- locking (shadow-utils' protocol, see subid.h) ---- */

struct SubidLock {
        int pwd_fd;       /* OFD write lock on <dir>/.pwd.lock */
        char *lock_path;  /* <path>.lock, ours while `linked` */
        bool linked;
};

static int read_lock_pid(const char *lock, pid_t *ret)
{
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        ssize_t n;
        uint32_t v;
        size_t len;

        fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        len = (size_t)n;
        /* shadow writes the pid with a trailing NUL; tolerate a newline too. */
        while (len > 0 && (buf[len - 1] == '\0' || buf[len - 1] == '\n'))
                len--;
        if (parse_u32_strict(buf, len, &v) < 0 || v == 0 || v > INT_MAX)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

static int take_pwd_lock(const char *dir, uint64_t deadline, int *ret_fd, Error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/.pwd.lock", dir);
        _cleanup_close_ int fd = -EBADF;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

        /* glibc's lckpwdf() opens it so: O_WRONLY|O_CREAT, 0600. */
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return error_set(err, errno, "%s", p);
        for (;;) {
                if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
                        break;
                if (errno != EAGAIN && errno != EACCES && errno != EINTR)
                        return error_set(err, errno, "%s: lock", p);
                if (now_ms() >= deadline)
                        return error_setx(err, ETIMEDOUT,
                                          "%s: still locked after the timeout (a useradd, usermod or passwd running?)", p);
                sleep_ms(5);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int take_link_lock(const char *path, uint64_t deadline, Error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.%ld", path, (long)getpid());
        _cleanup_free_ char *lock = xasprintf("%s.lock", path);
        char pidbuf[24];
        int r;

        snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
        for (;;) {
                _cleanup_close_ int fd = -EBADF;
                struct stat st;
                pid_t holder;

                fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                if (fd < 0)
                        return error_set(err, errno, "%s", tmp);
                r = write_all(fd, pidbuf, strlen(pidbuf));
                if (r == 0 && fdatasync(fd) < 0)
                        r = -errno;
                if (r < 0) {
                        (void)unlink(tmp);
                        return error_set(err, -r, "%s: write", tmp);
                }
                if (link(tmp, lock) == 0) {
                        /* shadow's check: both names on one inode, or the link did not really happen (NFS). */
                        r = stat(tmp, &st) < 0 ? -errno : (st.st_nlink == 2 ? 0 : -EBUSY);
                        (void)unlink(tmp);
                        if (r < 0)
                                return error_set(err, -r, "%s: lock not taken (link count)", lock);
                        return 0;
                }
                r = -errno;
                (void)unlink(tmp);
                if (r != -EEXIST)
                        return error_set(err, -r, "%s: link", lock);

                r = read_lock_pid(lock, &holder);
                if (r == -ENOENT)
                        continue; /* released meanwhile */
                if (r == -EINVAL)
                        /* shadow's tools refuse such a lock forever too; only a human can tell it is stale. */
                        return error_setx(err, EBUSY,
                                          "%s: lock file without a valid pid; remove it if no tool is editing %s", lock,
                                          path);
                if (r < 0)
                        return error_set(err, -r, "%s", lock);
                if (holder != getpid() && (kill(holder, 0) == 0 || errno == EPERM)) {
                        if (now_ms() >= deadline)
                                return error_setx(err, ETIMEDOUT, "%s: held by pid %ld past the timeout", lock,
                                                  (long)holder);
                        sleep_ms(5);
                        continue;
                }
                /* The holder is gone (or is a dead process of ours whose pid we got again): break it, as
                 * shadow does.  The .pwd.lock held makes us the only stockade process doing so. */
                if (unlink(lock) < 0 && errno != ENOENT)
                        return error_set(err, errno, "%s: remove stale lock of pid %ld", lock, (long)holder);
        }
}

int subid_file_lock(const char *path, unsigned timeout_ms, SubidLock **ret, Error **err)
{
        _cleanup_free_ char *dir = NULL, *base = NULL;
        _cleanup_(subid_file_unlockp) SubidLock *l = NULL;
        uint64_t deadline = now_ms() + (timeout_ms ? timeout_ms : SUBID_LOCK_TIMEOUT_MS);
        int r;

        split_path(path, &dir, &base);
        if (!*base)
                return error_setx(err, EINVAL, "%s: not a file name", path);
        l = xcalloc(1, sizeof(*l));
        l->pwd_fd = -EBADF;
        l->lock_path = xasprintf("%s.lock", path);
        r = take_pwd_lock(dir, deadline, &l->pwd_fd, err);
        if (r < 0)
                return r;
        r = take_link_lock(path, deadline, err);
        if (r < 0)
                return r;
        l->linked = true;
        *ret = TAKE_PTR(l);
        return 0;
}

SubidLock *subid_file_unlock(SubidLock *l)
{
        pid_t holder;

        if (!l)
                return NULL;
        /* Only our own lock is removed: should someone have broken it meanwhile, theirs stays. */
        if (l->linked && read_lock_pid(l->lock_path, &holder) == 0 && holder == getpid())
                (void)unlink(l->lock_path);
        if (l->pwd_fd >= 0)
                (void)close(l->pwd_fd); /* drops the OFD lock */
        free(l->lock_path);
        free(l);
        return NULL;
}

/*
 * Replaces path with buf: a temporary file in the same directory with the original's owner and mode
 * (0644 root-owned, shadow's, for a new file), written, fsync'ed, renamed over, directory fsync'ed.
 * A reader sees the old file or the new one, never a mix; a crash leaves one of them whole.
 */
static int replace_file(const char *path, const char *buf, size_t len, Error **err)
{
        _cleanup_free_ char *dir = NULL, *base = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        struct stat st;
        bool have;
        int r;

        split_path(path, &dir, &base);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set(err, errno, "%s", dir);
        have = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (!have && errno != ENOENT)
                return error_set(err, errno, "%s", path);
        if (have && !S_ISREG(st.st_mode))
                return error_setx(err, EINVAL, "%s: not a regular file; refusing to replace it", path);

        tmp = xasprintf("%s/.%s.stockade-XXXXXX", dir, base);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "%s: create a temporary file beside it", path);
        if (fchmod(fd, have ? (st.st_mode & 07777) : 0644) < 0) {
                r = error_set(err, errno, "%s: chmod", tmp);
                goto fail;
        }
        if (have && fchown(fd, st.st_uid, st.st_gid) < 0) {
                r = error_set(err, errno, "%s: chown to %u:%u (the owner of %s)", tmp, (unsigned)st.st_uid,
                              (unsigned)st.st_gid, path);
                goto fail;
        }
        r = write_all(fd, buf, len);
        if (r < 0) {
                r = error_set(err, -r, "%s: write", tmp);
                goto fail;
        }
        if (fsync(fd) < 0) {
                r = error_set(err, errno, "%s: fsync", tmp);
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = error_set(err, errno, "%s: rename over %s", tmp, path);
                goto fail;
        }
        if (fsync(dfd) < 0)
                return error_set(err, errno, "%s: fsync", dir);
        return 0;
fail:
        (void)unlink(tmp);
        return r;
}

int subid_file_ensure_range(const char *path, const char *name, uid_t uid, uint32_t min, uint32_t count,
                            unsigned timeout_ms, bool *ret_added, Error **err)
{
        _cleanup_(subid_file_unlockp) SubidLock *lock = NULL;
        _cleanup_(subid_file_freep) SubidFile *f = NULL;
        _cleanup_free_ SubidRange *have = NULL;
        _cleanup_free_ char *buf = NULL;
        const SubidBadLine *bad;
        uint32_t start;
        size_t len;
        int r;

        if (!owner_valid(name, strlen(name)))
                return error_setx(err, EINVAL, "%s: invalid owner name for a new range", path);
        r = subid_file_lock(path, timeout_ms, &lock, err);
        if (r < 0)
                return r;
        /* Read under the lock: whatever another process appended before we got it is seen here. */
        r = subid_file_load(path, &f, err);
        if (r < 0)
                return r;
        if (subid_file_find(f, name, uid, &have) > 0) {
                if (ret_added)
                        *ret_added = false;
                return 0;
        }
        bad = subid_file_find_bad(f, name, uid);
        if (bad)
                return error_setx(err, EINVAL, "%s (a line of user %s: fix or remove it)", bad->message, name);
        r = subid_file_next_free(f, min, count, &start);
        if (r < 0)
                return error_setx(err, ENOSPC, "%s: no free range of %" PRIu32 " ids at or above %" PRIu32, path,
                                  count, min);
        subid_file_render_append(f, name, start, count, &buf, &len);
        r = replace_file(path, buf, len, err);
        if (r < 0)
                return r;
        if (ret_added)
                *ret_added = true;
        return 0;
}

/* ---- mappings ---- */

int subid_mappings_build(const SubidRange *ranges, size_t n, const char *what, SubidMapping **ret, size_t *ret_n,
                         Error **err)
{
        _cleanup_free_ SubidMapping *m = NULL;
        uint64_t next = 0;

        if (n == 0)
                return error_setx(err, ENOENT, "%s: no ranges", what);
        if (n > SUBID_MAPPINGS_MAX)
                return error_setx(err, E2BIG, "%s: %zu ranges; the kernel takes at most %u lines in a uid/gid map",
                                  what, n, SUBID_MAPPINGS_MAX);
        m = xcalloc(n, sizeof(*m));
        for (size_t i = 0; i < n; i++) {
                if (ranges[i].count == 0 || (uint64_t)ranges[i].start + ranges[i].count > UINT32_MAX)
                        return error_setx(err, EINVAL, "%s: invalid range %" PRIu32 "+%" PRIu32, what,
                                          ranges[i].start, ranges[i].count);
                if (next + ranges[i].count > UINT32_MAX)
                        return error_setx(err, ERANGE, "%s: the ranges add up to more than 4294967295 container ids",
                                          what);
                m[i] = (SubidMapping){ .container_id = (uint32_t)next, .host_id = ranges[i].start,
                                       .size = ranges[i].count };
                next += ranges[i].count;
        }
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

json_t *subid_mappings_json(const SubidMapping *m, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)m[i].container_id,
                                                   "hostID", (json_int_t)m[i].host_id, "size", (json_int_t)m[i].size));
        return a;
}

/* ---- users and groups ---- */

typedef struct DbEntry {
        char *name;
        uint32_t id;  /* uid or gid */
        uint32_t gid; /* passwd: the primary group */
} DbEntry;

static void db_entry_done(DbEntry *e)
{
        free(e->name);
        e->name = NULL;
}

static bool is_number(const char *s)
{
        uint32_t v;
        return parse_u32_strict(s, strlen(s), &v) == 0;
}

/* passwd ("name:pw:uid:gid:...") or group ("name:pw:gid:members") from a file: 1 found, 0 not. */
static int db_file_lookup(const char *path, bool group, const char *name, int64_t id, DbEntry *ret, Error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0, pos = 0;
        int r;

        r = read_regular(path, &data, &len, err);
        if (r == -ENOENT)
                return error_setx(err, ENOENT, "%s: No such file or directory", path);
        if (r < 0)
                return r;
        while (pos < len) {
                char *s = data + pos, *nl = memchr(s, '\n', len - pos);
                char *f[4] = { 0 };
                size_t nf = 0;
                uint32_t v, g = 0;

                if (nl)
                        *nl = '\0';
                pos = nl ? (size_t)(nl - data) + 1 : len;
                if (*s == '+' || *s == '-' || *s == '#')
                        continue; /* NIS compat lines, comments */
                for (char *p = s; nf < 4 && p; nf++) {
                        f[nf] = p;
                        p = strchr(p, ':');
                        if (p)
                                *p++ = '\0';
                }
                if (nf < (group ? 3u : 4u) || !*f[0] || parse_u32_strict(f[2], strlen(f[2]), &v) < 0)
                        continue;
                if (!group && parse_u32_strict(f[3], strlen(f[3]), &g) < 0)
                        continue;
                if ((name && STREQ(f[0], name)) || (id >= 0 && (int64_t)v == id)) {
                        *ret = (DbEntry){ .name = xstrdup(f[0]), .id = v, .gid = g };
                        return 1;
                }
        }
        return 0;
}

/* The same through NSS (getpwnam_r and friends), for users from LDAP, sssd and the like. */
static int db_nss_lookup(bool group, const char *name, int64_t id, DbEntry *ret, Error **err)
{
        size_t size = 4096;

        for (;;) {
                _cleanup_free_ char *buf = xmalloc(size);
                int e;

                if (group) {
                        struct group gr, *res = NULL;
                        e = name ? getgrnam_r(name, &gr, buf, size, &res) : getgrgid_r((gid_t)id, &gr, buf, size, &res);
                        if (e == 0 && res) {
                                *ret = (DbEntry){ .name = xstrdup(gr.gr_name), .id = (uint32_t)gr.gr_gid };
                                return 1;
                        }
                } else {
                        struct passwd pw, *res = NULL;
                        e = name ? getpwnam_r(name, &pw, buf, size, &res) : getpwuid_r((uid_t)id, &pw, buf, size, &res);
                        if (e == 0 && res) {
                                *ret = (DbEntry){ .name = xstrdup(pw.pw_name), .id = (uint32_t)pw.pw_uid,
                                                  .gid = (uint32_t)pw.pw_gid };
                                return 1;
                        }
                }
                if (e == ERANGE && size < (1u << 20)) {
                        size *= 2;
                        continue;
                }
                if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
                        return 0; /* "not found", as glibc reports it in several ways */
                return error_set(err, e, "%s lookup", group ? "group" : "user");
        }
}

static int db_lookup(const char *path, bool group, const char *name, int64_t id, DbEntry *ret, Error **err)
{
        if (path)
                return db_file_lookup(path, group, name, id, ret, err);
        return db_nss_lookup(group, name, id, ret, err);
}

int subid_spec_split(const char *spec, char **ret_user, char **ret_group, Error **err)
{
        const char *colon;
        _cleanup_free_ char *q = NULL;

        if (!spec || !*spec)
                return error_setx(err, EINVAL, "userns-remap: empty value");
        q = quote_field(spec, strlen(spec));
        if (strlen(spec) > 2 * SUBID_OWNER_MAX + 1)
                return error_setx(err, EINVAL, "userns-remap %s: too long", q);
        for (const char *p = spec; *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return error_setx(err, EINVAL, "userns-remap %s: blanks or control characters", q);
        colon = strchr(spec, ':');
        if (colon && strchr(colon + 1, ':'))
                return error_setx(err, EINVAL, "userns-remap %s: invalid user/group specification (user[:group])", q);
        if (colon && (colon == spec || !colon[1]))
                return error_setx(err, EINVAL, "userns-remap %s: empty user or group", q);
        *ret_user = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
        *ret_group = colon ? xstrdup(colon + 1) : NULL;
        return 0;
}

SubidRemap *subid_remap_free(SubidRemap *r)
{
        if (!r)
                return NULL;
        free(r->user);
        free(r->group);
        free(r->uid_map);
        free(r->gid_map);
        strv_free(r->warnings);
        free(r);
        return NULL;
}

int subid_user_ranges(const char *path, const char *name, uid_t uid, SubidRange **ret, size_t *ret_n, Error **err)
{
        _cleanup_(subid_file_freep) SubidFile *f = NULL;
        const SubidBadLine *bad;
        SubidRange *v = NULL;
        size_t n;
        int r;

        r = subid_file_load(path, &f, err);
        if (r < 0)
                return r;
        n = subid_file_find(f, name, uid, &v);
        if (n == 0) {
                bad = subid_file_find_bad(f, name, uid);
                if (bad)
                        return error_setx(err, EINVAL, "%s (a line of user %s: fix or remove it)", bad->message, name);
                if (uid == (uid_t)-1)
                        return error_setx(err, ENOENT, "%s: no range for user %s", path, name);
                return error_setx(err, ENOENT, "%s: no range for user %s (uid %" PRIu32 ")", path, name, (uint32_t)uid);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void collect_warnings(const char *path, char ***warnings)
{
        _cleanup_(subid_file_freep) SubidFile *f = NULL;

        if (subid_file_load(path, &f, NULL) < 0)
                return;
        for (size_t i = 0; i < f->n_bad; i++)
                strv_push(warnings, f->bad[i].message);
}

/* The ranges of one file as mappings; for "default" the range is first added when missing. */
static int remap_file(const SubidConfig *cfg, const char *path, const char *user, uid_t uid, bool allocate,
                      SubidMapping **ret, size_t *ret_n, bool *ret_added, Error **err)
{
        _cleanup_free_ SubidRange *v = NULL;
        _cleanup_free_ char *what = NULL;
        Error *e = NULL;
        size_t n = 0;
        int r;

        /* Unlocked first: containers are created far more often than ranges are added, and a lookup
         * should not take /etc/.pwd.lock.  Only a missing range takes the lock (and looks again). */
        r = subid_user_ranges(path, user, uid, &v, &n, allocate ? &e : err);
        if (r == -ENOENT && allocate) {
                error_clear(&e);
                r = subid_file_ensure_range(path, user, uid, SUBID_DEFAULT_START, SUBID_DEFAULT_COUNT,
                                            cfg->lock_timeout_ms, ret_added, err);
                if (r < 0)
                        return r;
                r = subid_user_ranges(path, user, uid, &v, &n, err);
        } else if (r < 0 && allocate) {
                if (err)
                        *err = TAKE_PTR(e);
                error_clear(&e);
        }
        if (r < 0)
                return r;
        what = xasprintf("%s, user %s", path, user);
        return subid_mappings_build(v, n, what, ret, ret_n, err);
}

/*
 * flock on the directory of the subuid file (/etc): serialises user creation between stockade processes.
 * A directory lock creates no file in /etc, and no other tool takes it.  Polled, to honour the timeout.
 */
static int create_lock(const char *subuid, unsigned timeout_ms, int *ret_fd, Error **err)
{
        _cleanup_free_ char *dir = NULL, *base = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t deadline = now_ms() + (timeout_ms ? timeout_ms : SUBID_LOCK_TIMEOUT_MS);

        split_path(subuid, &dir, &base);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, errno, "%s", dir);
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return error_set(err, errno, "%s: flock", dir);
                if (now_ms() >= deadline)
                        return error_setx(err, ETIMEDOUT, "%s: flock: another stockade process is creating the user "
                                          "past the timeout", dir);
                sleep_ms(5);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int subid_remap_resolve(const SubidConfig *cfg, const char *spec, SubidRemap **ret, Error **err)
{
        static const SubidConfig defaults = { 0 };
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        _cleanup_free_ char *u = NULL, *g = NULL, *q = NULL;
        const char *subuid, *subgid, *name;
        _cleanup_close_ int create_fd = -EBADF; /* held until the group is looked up too */
        DbEntry pw = { 0 }, gr = { 0 };
        bool is_default;
        int r;

        if (!cfg)
                cfg = &defaults;
        subuid = cfg->subuid_path ? cfg->subuid_path : "/etc/subuid";
        subgid = cfg->subgid_path ? cfg->subgid_path : "/etc/subgid";
        r = subid_spec_split(spec, &u, &g, err);
        if (r < 0)
                return r;
        q = quote_field(spec, strlen(spec));
        is_default = STREQ(u, "default");
        name = is_default ? SUBID_DEFAULT_USER : u;
        rm = xcalloc(1, sizeof(*rm));

        /* The user: a number is a uid (dockerd parses it first), anything else a name. */
        if (is_number(name)) {
                uint32_t id;
                (void)parse_u32_strict(name, strlen(name), &id);
                r = db_lookup(cfg->passwd_path, false, NULL, id, &pw, err);
                if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no user with uid %s", q, name);
        } else {
                r = db_lookup(cfg->passwd_path, false, name, -1, &pw, err);
                if (r == 0 && is_default && cfg->create_user) {
                        /* One stockade process at a time creates the user, the others wait and find it: without
                         * this, a loser's useradd exits "name in use" while the winner's has written passwd but
                         * not yet group, and the loser would find no group dockremap. */
                        r = create_lock(subuid, cfg->lock_timeout_ms, &create_fd, err);
                        if (r >= 0)
                                r = db_lookup(cfg->passwd_path, false, name, -1, &pw, err);
                }
                if (r == 0 && is_default && cfg->create_user) {
                        r = cfg->create_user(name, cfg->create_user_data, err);
                        if (r >= 0) {
                                rm->created_user = true;
                                r = db_lookup(cfg->passwd_path, false, name, -1, &pw, err);
                                if (r == 0)
                                        r = error_setx(err, ENOENT, "userns-remap %s: user %s still missing after creating it",
                                                       q, name);
                        } else
                                r = error_wrap(err, "userns-remap %s: create user %s", q, name);
                } else if (r == 0 && is_default)
                        r = error_setx(err, ENOENT, "userns-remap %s: no such user %s", q, name);
                else if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no such user", q);
        }
        if (r < 0)
                goto out;
        if (pw.id == 0) {
                r = error_setx(err, EINVAL, "userns-remap %s: root cannot be remapped to itself (use --userns=host "
                               "for a container without remapping)", q);
                goto out;
        }

        /* The group, checked and recorded as dockerd does; the subgid ranges are the user's. */
        if (g && is_number(g)) {
                uint32_t id;
                (void)parse_u32_strict(g, strlen(g), &id);
                r = db_lookup(cfg->group_path, true, NULL, id, &gr, err);
                if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no group with gid %s", q, g);
        } else if (g) {
                r = db_lookup(cfg->group_path, true, g, -1, &gr, err);
                if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no such group %s", q, g);
        } else if (is_number(name)) {
                r = db_lookup(cfg->group_path, true, NULL, pw.id, &gr, err);
                if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no group with gid %" PRIu32
                                       " (a uid alone is taken as the gid too; give uid:gid)", q, pw.id);
        } else {
                r = db_lookup(cfg->group_path, true, name, -1, &gr, err);
                if (r == 0 && is_default && cfg->create_user && create_fd < 0) {
                        /* A concurrent creator may have written passwd and not yet group: wait for it
                         * (it holds the creation lock until its useradd is done) and look again. */
                        r = create_lock(subuid, cfg->lock_timeout_ms, &create_fd, err);
                        if (r >= 0)
                                r = db_lookup(cfg->group_path, true, name, -1, &gr, err);
                }
                if (r == 0)
                        r = error_setx(err, ENOENT, "userns-remap %s: no group named %s (give user:group)", q, name);
        }
        if (r < 0)
                goto out;

        if (create_fd >= 0) {
                (void)close(create_fd);
                create_fd = -EBADF;
        }
        rm->user = TAKE_PTR(pw.name);
        rm->uid = (uid_t)pw.id;
        rm->group = TAKE_PTR(gr.name);
        rm->gid = (gid_t)gr.id;
        r = remap_file(cfg, subuid, rm->user, rm->uid, is_default, &rm->uid_map, &rm->n_uid_map, &rm->added_subuid, err);
        if (r < 0)
                goto out;
        r = remap_file(cfg, subgid, rm->user, rm->uid, is_default, &rm->gid_map, &rm->n_gid_map, &rm->added_subgid, err);
        if (r < 0)
                goto out;
        collect_warnings(subuid, &rm->warnings);
        collect_warnings(subgid, &rm->warnings);
        *ret = TAKE_PTR(rm);
        r = 0;
out:
        db_entry_done(&pw);
        db_entry_done(&gr);
        return r;
}

/* ---- useradd ---- */

static bool user_name_valid(const char *s)
{
        size_t n = strlen(s);

        /* Debian's useradd accepts [a-z_][a-z0-9_-]*[$]; a leading '-' would be read as an option. */
        if (n == 0 || n > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
                        return false;
        return true;
}

int subid_useradd(const char *name, void *userdata, Error **err)
{
        const SubidUseradd *o = userdata;
        const char *exe = o && o->useradd ? o->useradd : "/usr/sbin/useradd";
        const char *argv[12];
        char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
        int status = 0, n = 0;
        char msg[1024];
        size_t mlen = 0;

        if (!user_name_valid(name))
                return error_setx(err, EINVAL, "useradd: invalid user name %s", name);
        argv[n++] = exe;
        if (o && o->prefix) {
                argv[n++] = "--prefix";
                argv[n++] = o->prefix;
        }
        if (o && o->root) {
                argv[n++] = "--root";
                argv[n++] = o->root;
        }
        argv[n++] = "--system";
        argv[n++] = "--no-create-home";
        argv[n++] = "--shell";
        argv[n++] = "/usr/sbin/nologin";
        argv[n++] = "--user-group";
        argv[n++] = name;
        argv[n] = NULL;

        {
                int r = spawn_wait_msg((char *const *)argv, envp, -1, false, msg, sizeof(msg), &status);
                if (r < 0)
                        return error_set(err, -r, "running %s", exe);
                /* one line of message */
                for (char *c = msg; *c; c++)
                        if (*c == '\n')
                                *c = ' ';
                mlen = strlen(msg);
        }
        if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 9))
                return 0; /* 9: E_NAME_IN_USE, a concurrent creator won */
        if (WIFEXITED(status))
                return error_setx(err, EIO, "%s %s: exit status %d%s%s", exe, name, WEXITSTATUS(status),
                                  mlen ? ": " : "", msg);
        return error_setx(err, EIO, "%s %s: killed by signal %d", exe, name, WTERMSIG(status));
}

/* ---- the --userns=auto registry ---- */

#define AUTO_FILE "auto.json"
#define AUTO_LOCK "auto.lock"

static bool container_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == '.'))
                        return false;
        }
        return true;
}

void subid_auto_entries_free(SubidAutoEntry *e, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(e[i].container);
                free(e[i].created);
        }
        free(e);
}

int subid_auto_parse(const char *what, const char *text, size_t len, SubidAutoEntry **ret, size_t *ret_n, Error **err)
{
        _cleanup_json_ json_t *root = NULL;
        json_t *leases = NULL, *it;
        SubidAutoEntry *v = NULL;
        size_t n = 0, idx;
        int64_t version = 0;
        int r;

        r = jx_parse(text, len, what, &root, err);
        if (r < 0)
                return r;
        if (!json_is_object(root))
                return error_setx(err, EINVAL, "%s: expected an object", what);
        r = jx_int64(root, "", "version", true, &version, err);
        if (r < 0)
                return error_wrap(err, "%s", what);
        if (version != 1)
                return error_setx(err, EINVAL, "%s: version %" PRId64 " is not supported (1 is)", what, version);
        r = jx_array(root, "", "leases", true, &leases, err);
        if (r < 0)
                return error_wrap(err, "%s", what);
        if (json_array_size(leases) > SUBID_AUTO_LEASES_MAX)
                return error_setx(err, E2BIG, "%s: more than %u leases", what, SUBID_AUTO_LEASES_MAX);
        v = xcalloc(json_array_size(leases) + 1, sizeof(*v));
        json_array_foreach(leases, idx, it) {
                _cleanup_free_ char *p = jx_path_index("leases", idx);
                SubidAutoEntry *e = &v[n];
                uint32_t us = 0, gs = 0, size = 0;

                if (!json_is_object(it)) {
                        r = error_setx(err, EINVAL, "%s: %s: expected an object", what, p);
                        goto fail;
                }
                n++;
                if ((r = jx_string(it, p, "container", true, &e->container, err)) < 0 ||
                    (r = jx_uint32(it, p, "uidStart", true, &us, err)) < 0 ||
                    (r = jx_uint32(it, p, "gidStart", true, &gs, err)) < 0 ||
                    (r = jx_uint32(it, p, "size", true, &size, err)) < 0 ||
                    (r = jx_string(it, p, "created", false, &e->created, err)) < 0) {
                        r = error_wrap(err, "%s", what);
                        goto fail;
                }
                if (!container_id_valid(e->container)) {
                        r = error_setx(err, EINVAL, "%s: %s.container: invalid container id", what, p);
                        goto fail;
                }
                if (size == 0 || (uint64_t)us + size > UINT32_MAX || (uint64_t)gs + size > UINT32_MAX) {
                        r = error_setx(err, EINVAL, "%s: %s: size %" PRIu32 " out of range", what, p, size);
                        goto fail;
                }
                for (size_t j = 0; j + 1 < n; j++)
                        if (STREQ(v[j].container, e->container)) {
                                r = error_setx(err, EINVAL, "%s: %s: container %s leased twice", what, p, e->container);
                                goto fail;
                        }
                e->lease = (SubidAutoLease){ .uid_start = us, .gid_start = gs, .size = size };
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        subid_auto_entries_free(v, n);
        return r;
}

typedef struct AutoRegistry {
        char *dir;
        int dfd;
        int lock_fd;
        SubidAutoEntry *v;
        size_t n;
} AutoRegistry;

static void auto_close(AutoRegistry *a)
{
        subid_auto_entries_free(a->v, a->n);
        a->v = NULL;
        a->n = 0;
        if (a->lock_fd >= 0)
                (void)close(a->lock_fd);
        if (a->dfd >= 0)
                (void)close(a->dfd);
        a->lock_fd = a->dfd = -EBADF;
        free(a->dir);
        a->dir = NULL;
}

/* Opens (creating with create) the registry directory, takes its lock and reads the leases.
 * Returns 0, or -ENOENT without an error when !create and there is no directory. */
static int auto_open(const char *dir, bool create, AutoRegistry *a, Error **err)
{
        _cleanup_free_ char *data = NULL, *what = NULL;
        size_t len = 0;
        int r;

        *a = (AutoRegistry){ .dir = xstrdup(dir), .dfd = -EBADF, .lock_fd = -EBADF };
        if (create && (r = mkdir_p(dir, 0700)) < 0)
                return error_set(err, -r, "%s: mkdir", dir);
        a->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (a->dfd < 0) {
                if (errno == ENOENT && !create)
                        return -ENOENT;
                return error_set(err, errno, "%s", dir);
        }
        a->lock_fd = openat(a->dfd, AUTO_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (a->lock_fd < 0)
                return error_set(err, errno, "%s/%s", dir, AUTO_LOCK);
        while (flock(a->lock_fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return error_set(err, errno, "%s/%s: flock", dir, AUTO_LOCK);
        what = xasprintf("%s/%s", dir, AUTO_FILE);
        r = read_file_at(a->dfd, AUTO_FILE, SUBID_FILE_MAX, &data, &len);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG)
                return error_setx(err, EFBIG, "%s: larger than %u bytes", what, SUBID_FILE_MAX);
        if (r < 0)
                return error_set(err, -r, "%s", what);
        /* A damaged registry is an error, not an empty one: forgetting leases would hand ranges out twice. */
        return subid_auto_parse(what, data, len, &a->v, &a->n, err);
}

static int auto_save(AutoRegistry *a, Error **err)
{
        _cleanup_json_ json_t *root = json_pack("{s:i, s:[]}", "version", 1, "leases");
        json_t *leases = json_object_get(root, "leases");
        _cleanup_free_ char *text = NULL, *all = NULL;
        int r;

        for (size_t i = 0; i < a->n; i++) {
                json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "container", a->v[i].container, "uidStart",
                                      (json_int_t)a->v[i].lease.uid_start, "gidStart",
                                      (json_int_t)a->v[i].lease.gid_start, "size", (json_int_t)a->v[i].lease.size);
                if (a->v[i].created)
                        json_object_set_new(o, "created", json_string(a->v[i].created));
                json_array_append_new(leases, o);
        }
        text = jx_dump(root, true);
        all = xasprintf("%s\n", text);
        r = write_file_atomic(a->dfd, AUTO_FILE, all, strlen(all), 0600, true);
        if (r < 0)
                return error_set(err, -r, "%s/%s: write", a->dir, AUTO_FILE);
        return 0;
}

static void auto_drop(AutoRegistry *a, size_t i)
{
        free(a->v[i].container);
        free(a->v[i].created);
        memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
        a->n--;
}

static size_t auto_find(const AutoRegistry *a, const char *id)
{
        for (size_t i = 0; i < a->n; i++)
                if (STREQ(a->v[i].container, id))
                        return i;
        return SIZE_MAX;
}

/* The lowest start in the pool (ranges in the order given) whose `size` ids overlap no lease's. */
static int auto_fit(const AutoRegistry *a, bool gid, const SubidRange *pool, size_t n_pool, uint32_t size,
                    uint32_t *ret)
{
        _cleanup_free_ SubidRange *taken = xmalloc((a->n ? a->n : 1) * sizeof(*taken));

        for (size_t i = 0; i < a->n; i++)
                taken[i] = (SubidRange){ gid ? a->v[i].lease.gid_start : a->v[i].lease.uid_start, a->v[i].lease.size };
        qsort(taken, a->n, sizeof(*taken), cmp_range_start);
        for (size_t p = 0; p < n_pool; p++) {
                uint64_t lo = pool[p].start, hi = lo + pool[p].count;
                if (pool[p].count < size || hi > UINT32_MAX)
                        continue;
                if (first_fit(taken, a->n, lo, hi, size, ret) == 0)
                        return 0;
        }
        return -ENOSPC;
}

static size_t auto_reclaim_locked(AutoRegistry *a, SubidAliveFn alive, void *userdata)
{
        size_t dropped = 0;

        for (size_t i = 0; i < a->n;) {
                /* Only a definite "gone" frees a range: an unknown answer keeps it. */
                if (alive(a->v[i].container, userdata) == 0) {
                        auto_drop(a, i);
                        dropped++;
                } else
                        i++;
        }
        return dropped;
}

int subid_auto_alloc(const char *registry_dir, const SubidAutoPool *pool, uint32_t size, const char *container_id,
                     SubidAliveFn alive, void *userdata, SubidAutoLease *ret, Error **err)
{
        _cleanup_(auto_close) AutoRegistry a = { .dfd = -EBADF, .lock_fd = -EBADF };
        uint32_t us = 0, gs = 0;
        const char *which = "uid";
        size_t i;
        int r;

        if (size == 0)
                size = SUBID_DEFAULT_COUNT;
        if (!container_id_valid(container_id))
                return error_setx(err, EINVAL, "userns=auto: invalid container id");
        if (!pool || pool->n_uid == 0 || pool->n_gid == 0)
                return error_setx(err, EINVAL, "userns=auto: the pool has no %s ranges",
                                  !pool || pool->n_uid == 0 ? "uid" : "gid");
        r = auto_open(registry_dir, true, &a, err);
        if (r < 0)
                return r;
        i = auto_find(&a, container_id);
        if (i != SIZE_MAX) {
                if (a.v[i].lease.size != size)
                        return error_setx(err, EEXIST, "userns=auto: container %s already holds %" PRIu32 " ids, not %" PRIu32,
                                          container_id, a.v[i].lease.size, size);
                *ret = a.v[i].lease;
                return 0;
        }
        if (a.n >= SUBID_AUTO_LEASES_MAX)
                return error_setx(err, ENOSPC, "%s/%s: %u leases already", registry_dir, AUTO_FILE, SUBID_AUTO_LEASES_MAX);
        for (int attempt = 0;; attempt++) {
                which = "uid";
                r = auto_fit(&a, false, pool->uid, pool->n_uid, size, &us);
                if (r == 0) {
                        which = "gid";
                        r = auto_fit(&a, true, pool->gid, pool->n_gid, size, &gs);
                }
                if (r == 0)
                        break;
                if (attempt > 0 || !alive || auto_reclaim_locked(&a, alive, userdata) == 0)
                        return error_setx(err, ENOSPC,
                                          "userns=auto: no free %s range of %" PRIu32 " ids left in the pool (%zu leases in %s/%s)",
                                          which, size, a.n, registry_dir, AUTO_FILE);
        }
        a.v = xrealloc(a.v, (a.n + 1) * sizeof(*a.v));
        a.v[a.n++] = (SubidAutoEntry){ .container = xstrdup(container_id),
                                       .lease = { .uid_start = us, .gid_start = gs, .size = size },
                                       .created = now_rfc3339nano() };
        r = auto_save(&a, err);
        if (r < 0)
                return r;
        *ret = a.v[a.n - 1].lease;
        return 0;
}

int subid_auto_get(const char *registry_dir, const char *container_id, SubidAutoLease *ret, Error **err)
{
        _cleanup_(auto_close) AutoRegistry a = { .dfd = -EBADF, .lock_fd = -EBADF };
        size_t i;
        int r;

        r = auto_open(registry_dir, false, &a, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        i = auto_find(&a, container_id);
        if (i == SIZE_MAX)
                return 0;
        *ret = a.v[i].lease;
        return 1;
}

int subid_auto_release(const char *registry_dir, const char *container_id, Error **err)
{
        _cleanup_(auto_close) AutoRegistry a = { .dfd = -EBADF, .lock_fd = -EBADF };
        size_t i;
        int r;

        r = auto_open(registry_dir, false, &a, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        i = auto_find(&a, container_id);
        if (i == SIZE_MAX)
                return 0;
        auto_drop(&a, i);
        r = auto_save(&a, err);
        return r < 0 ? r : 1;
}

int subid_auto_reclaim(const char *registry_dir, SubidAliveFn alive, void *userdata, size_t *ret_n, Error **err)
{
        _cleanup_(auto_close) AutoRegistry a = { .dfd = -EBADF, .lock_fd = -EBADF };
        size_t n;
        int r;

        r = auto_open(registry_dir, false, &a, err);
        if (r == -ENOENT) {
                if (ret_n)
                        *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        n = auto_reclaim_locked(&a, alive, userdata);
        if (n > 0 && (r = auto_save(&a, err)) < 0)
                return r;
        if (ret_n)
                *ret_n = n;
        return 0;
}
