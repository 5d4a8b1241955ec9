/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The image store's archive half: import, load and save, which read and write tar streams with
 * libarchive and unpack layers in a chroot'ed child.  Linked only into stockade-image, so that the
 * commands a container's life needs do not load libarchive and what it pulls in (libxml2, ICU,
 * libstdc++): several milliseconds on every call.  The file runs: reading input, unpacking, staging
 * and committing, import, load, save.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "image-change.h"
#include "image-store-private.h"
#include "json-util.h"
#include "syscalls.h"
#include "util.h"

/* ================================================================ reading input */

typedef struct Reader {
        int fd;
        unsigned char *buf;
        uint64_t done, total; /* total: 0 when unknown */
        Hash *raw;            /* hashes the bytes as read (a compressed blob's digest), or NULL */
        image_progress_fn p;
        void *ud;
        const char *what;
} Reader;

static void reader_init(Reader *rd, int fd, const char *what, image_progress_fn p, void *ud)
{
        struct stat st;
        off_t pos;

        *rd = (Reader){ .fd = fd, .buf = xmalloc(CHUNK), .p = p, .ud = ud, .what = what };
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (pos = lseek(fd, 0, SEEK_CUR)) >= 0 &&
            pos <= st.st_size)
                rd->total = (uint64_t)(st.st_size - pos);
}

static ssize_t reader_next(Reader *rd)
{
        ssize_t n;

        do
                n = read(rd->fd, rd->buf, CHUNK);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
                rd->done += (uint64_t)n;
                if (rd->raw)
                        istore_hash_update(rd->raw, rd->buf, (size_t)n);
                if (rd->p)
                        rd->p(rd->ud, rd->what, rd->done, rd->total);
        }
        return n;
}

static la_ssize_t reader_cb(struct archive *a, void *ud, const void **buf)
{
        Reader *rd = ud;
        ssize_t n = reader_next(rd);

        if (n < 0) {
                archive_set_error(a, errno, "reading the input: %s", strerror(errno));
                return -1;
        }
        *buf = rd->buf;
        return n;
}

/*
 * The decompressors we accept: docker's (gzip, bzip2, xz, zstd).  Not archive_read_support_filter_all:
 * some of its filters run external programs (lrzip, lzop, grzip) on the hostile input.
 */
static void support_filters(struct archive *a)
{
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_lzma(a);
        archive_read_support_filter_zstd(a);
}

/*
 * Decompresses what rd reads (gzip, bzip2, xz, zstd or nothing) into out_fd (or nowhere when it is
 * negative), hashing the uncompressed bytes: their sha256 is the layer's diff_id.  With rd->raw the input is
 * read to its very end so that hash covers every byte of the blob.
 */
static int decompress_to(Reader *rd, int out_fd, char hex[65], uint64_t *ret_size, Error **err)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        unsigned char *buf = xmalloc(CHUNK);
        uint64_t size = 0;
        Hash h;
        int r = 0, ar;

        istore_hash_init(&h);
        support_filters(a);
        archive_read_support_format_raw(a);
        if (archive_read_open(a, rd, NULL, reader_cb, NULL) != ARCHIVE_OK) {
                r = error_setx(err, EINVAL, "%s: %s", rd->what,
                               archive_error_string(a) ?: "unreadable input");
                goto out;
        }
        ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
                goto drain; /* nothing at all: an empty layer */
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
                r = error_setx(err, EINVAL, "%s: %s", rd->what,
                               archive_error_string(a) ?: "unreadable input");
                goto out;
        }
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf, CHUNK);
                if (n < 0) {
                        r = error_setx(err, EINVAL, "%s: %s", rd->what,
                                       archive_error_string(a) ?: "decompression failed");
                        goto out;
                }
                if (n == 0)
                        break;
                istore_hash_update(&h, buf, (size_t)n);
                size += (uint64_t)n;
                r = out_fd >= 0 ? write_all(out_fd, buf, (size_t)n) : 0;
                if (r < 0) {
                        r = error_set(err, -r, "%s: writing the uncompressed layer", rd->what);
                        goto out;
                }
        }
drain:
        while (rd->raw) {
                ssize_t n = reader_next(rd);
                if (n < 0) {
                        r = error_set(err, errno, "%s: reading the input", rd->what);
                        goto out;
                }
                if (n == 0)
                        break;
        }
        if (rd->p && rd->total == 0)
                rd->p(rd->ud, rd->what, rd->done, rd->done);
out:
        istore_hash_final(&h, r == 0 ? hex : NULL);
        archive_read_free(a);
        free(buf);
        if (r == 0)
                *ret_size = size;
        return r;
}

/* ================================================================ unpacking, in a chroot'ed child */

typedef enum UnpackMode {
        UNPACK_LAYER,   /* a layer: owners, modes, times, devices, whiteouts, filtered xattrs */
        UNPACK_ARCHIVE, /* the outer archive of a load: files, directories and links, 0600/0700, root's */
} UnpackMode;

enum { MSG_PROGRESS = 1, MSG_DONE, MSG_ERROR };

/* Child → parent, one write each: smaller than PIPE_BUF, so never interleaved or torn. */
typedef struct UnpackMsg {
        uint32_t kind;
        int32_t errnum;
        uint64_t value;
        char text[480];
} UnpackMsg;

static void msg_send(int fd, uint32_t kind, int errnum, uint64_t value, const char *text)
{
        UnpackMsg m = { .kind = kind, .errnum = errnum, .value = value };

        if (text)
                snprintf(m.text, sizeof(m.text), "%s", text);
        (void)write_all(fd, &m, sizeof(m));
}

/*
 * A member's path, cleaned: no leading "/", no "." or empty components; ".." anywhere refuses it
 * (-EINVAL), as does a path longer or deeper than the kernel or our removal can handle.  The root
 * itself is ".".
 */
static int clean_path(const char *p, char **ret)
{
        _cleanup_free_ char *copy = NULL, *out = NULL;
        char *save = NULL;
        size_t n = 0, depth = 0;

        if (!p || strlen(p) > PATH_LEN_MAX)
                return -ENAMETOOLONG;
        copy = xstrdup(p);
        out = xmalloc(strlen(p) + 2);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (STREQ(c, "."))
                        continue;
                if (STREQ(c, ".."))
                        return -EINVAL;
                if (++depth > PATH_DEPTH_MAX)
                        return -ENAMETOOLONG;
                n += (size_t)sprintf(out + n, "%s%s", n ? "/" : "", c);
        }
        if (n == 0)
                strcpy(out, ".");
        *ret = TAKE_PTR(out);
        return 0;
}

/* Opens directory `path` below the current directory, creating what is missing, never through a symlink. */
static int open_dirs(const char *path, int *ret)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        int fd = open(".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next = openat(fd, c, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (next < 0 && errno == ENOENT && (mkdirat(fd, c, 0755) == 0 || errno == EEXIST))
                        next = openat(fd, c, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (next < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                close(fd);
                fd = next;
        }
        *ret = fd;
        return 0;
}

/* An AUFS whiteout turned into overlayfs's form (docker's overlay2 applier does the same). */
static int apply_whiteout(const char *path, const char *shown, Error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        _cleanup_close_ int dfd = -EBADF;
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir, *name;
        struct stat st;
        int r;

        if (slash)
                *slash = '\0';
        if (str_has_prefix(base, ".wh..wh.") && !STREQ(base, ".wh..wh..opq"))
                return 0; /* AUFS's own metadata (.wh..wh.plnk, .wh..wh.aufs): docker skips it too */
        r = open_dirs(slash ? dir : ".", &dfd);
        if (r < 0)
                return error_set(err, -r, "entry \"%s\": opening its directory", shown);
        if (STREQ(base, ".wh..wh..opq")) {
                if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return error_set(err, errno, "entry \"%s\": marking the directory opaque", shown);
                return 0;
        }
        name = base + 4;
        if (!*name || STREQ(name, ".") || STREQ(name, ".."))
                return error_setx(err, EINVAL, "entry \"%s\": a whiteout without a name", shown);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                r = S_ISDIR(st.st_mode) ? rm_rf_at(dfd, name) : (unlinkat(dfd, name, 0) < 0 ? -errno : 0);
        if (r < 0)
                return error_set(err, -r, "entry \"%s\": removing what it hides", shown);
        /* overlayfs's whiteout: a character device 0:0 (its mode does not matter; overlayfs makes them 0) */
        if (mknodat(dfd, name, S_IFCHR, makedev(0, 0)) < 0)
                return error_set(err, errno, "entry \"%s\": creating the whiteout", shown);
        if (fchownat(dfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(err, errno, "entry \"%s\": owning the whiteout", shown);
        return 0;
}

/*
 * Only user.* and security.capability survive: trusted.overlay.* in a lower layer would steer
 * overlayfs (redirect, metacopy, origin: other layers' files shown in this one's place), and other
 * security.* and trusted.* labels are the host's business, not an image's.
 */
static void filter_xattrs(struct archive_entry *e)
{
        struct kept {
                char *name;
                void *value;
                size_t size;
        } kept[64];
        size_t n = 0, all = 0;
        const char *name;
        const void *value;
        size_t size;

        if (archive_entry_xattr_reset(e) == 0)
                return;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                all++;
                if (n < ELEMENTSOF(kept) && name &&
                    (str_has_prefix(name, "user.") || STREQ(name, "security.capability"))) {
                        kept[n].name = xstrdup(name);
                        kept[n].value = xmalloc(size ? size : 1);
                        memcpy(kept[n].value, value, size);
                        kept[n].size = size;
                        n++;
                }
        }
        if (n == all)
                goto out;
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++)
                archive_entry_xattr_add_entry(e, kept[i].name, kept[i].value, kept[i].size);
out:
        for (size_t i = 0; i < n; i++) {
                free(kept[i].name);
                free(kept[i].value);
        }
}

/* The root entry of a layer ("./") gives the layer's top directory its owner, mode and times. */
static int apply_root(struct archive_entry *e, Error **err)
{
        struct timespec ts[2] = {
                { .tv_sec = archive_entry_atime(e), .tv_nsec = archive_entry_atime_nsec(e) },
                { .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
        };

        if (archive_entry_filetype(e) != AE_IFDIR)
                return error_setx(err, EINVAL, "the root entry is not a directory");
        if (!archive_entry_atime_is_set(e))
                ts[0] = ts[1];
        if (chown(".", (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
            chmod(".", archive_entry_perm(e) & 07777) < 0 ||
            (archive_entry_mtime_is_set(e) && utimensat(AT_FDCWD, ".", ts, 0) < 0))
                return error_set(err, errno, "the root entry");
        return 0;
}

static int copy_data(struct archive *a, struct archive *w, const char *shown, Error **err)
{
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t off;
                int k = archive_read_data_block(a, &buf, &size, &off);
                if (k == ARCHIVE_EOF)
                        return 0;
                if (k < ARCHIVE_WARN)
                        return error_setx(err, EINVAL, "entry \"%s\": %s", shown,
                                          archive_error_string(a) ?: "unreadable");
                if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN)
                        return error_setx(err, EIO, "entry \"%s\": %s", shown,
                                          archive_error_string(w) ?: "writing");
        }
}

static void close_all_but(int a, int b)
{
        int lo = a < b ? a : b, hi = a < b ? b : a;

        if (lo > 3)
                (void)sys_close_range(3, (unsigned)lo - 1, 0);
        if (hi > lo + 1)
                (void)sys_close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
        (void)sys_close_range((unsigned)hi + 1, ~0U, 0);
}

static int unpack_run(int tar_fd, int dest_fd, int msg_fd, UnpackMode mode, uint64_t *ret_size, Error **err)
{
        struct archive *a = NULL, *w = NULL;
        struct archive_entry *e;
        uint64_t size = 0, reported = 0;
        int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_UNLINK;
        int r = 0, ar;

        /*
         * Every path the archive names resolves inside the target: chroot, as docker's chrootarchive,
         * so "..", absolute symlinks and hard links followed or made by libarchive cannot reach the
         * host even where its own SECURE_* checks (kept as a second line) would miss a case.
         */
        if (fchdir(dest_fd) < 0 || chroot(".") < 0)
                return error_set(err, errno, "entering the target directory");
        close_all_but(tar_fd, msg_fd);
        umask(022);
        a = archive_read_new();
        w = archive_write_disk_new();
        archive_read_support_format_tar(a);
        if (mode == UNPACK_ARCHIVE)
                support_filters(a);
        /*
         * Numeric owners only: no archive_write_disk_set_standard_lookup(), whose name lookups would
         * read the (container's) /etc/passwd.  No ARCHIVE_EXTRACT_FFLAGS: an immutable or append-only
         * file could never be removed from the store, and overlayfs has no use for the flags.
         */
        if (mode == UNPACK_LAYER)
                flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR;
        archive_write_disk_set_options(w, flags);
        if (archive_read_open_fd(a, tar_fd, 64 * 1024) != ARCHIVE_OK) {
                r = error_setx(err, EINVAL, "%s", archive_error_string(a) ?: "not a tar archive");
                goto out;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
                _cleanup_free_ char *path = NULL, *shown = istore_printable(archive_entry_pathname(e));
                const char *base, *link = archive_entry_hardlink(e);
                mode_t type = archive_entry_filetype(e);
                uint64_t pos = (uint64_t)archive_filter_bytes(a, -1);

                if (pos - reported >= (4u << 20)) {
                        msg_send(msg_fd, MSG_PROGRESS, 0, pos, NULL);
                        reported = pos;
                }
                if (!archive_entry_pathname(e)) {
                        r = error_setx(err, EINVAL, "an entry without a usable name");
                        goto out;
                }
                r = clean_path(archive_entry_pathname(e), &path);
                if (r == -EINVAL) {
                        r = error_setx(err, EINVAL, "entry \"%s\": its path leaves the directory (\"..\")",
                                       shown);
                        goto out;
                }
                if (r < 0) {
                        r = error_setx(err, ENAMETOOLONG,
                                       "entry \"%s\": path longer than %d bytes or deeper than %d", shown,
                                       PATH_LEN_MAX, PATH_DEPTH_MAX);
                        goto out;
                }
                if (mode == UNPACK_ARCHIVE) {
                        if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                                continue; /* devices, fifos: nothing an image archive needs */
                        if (STREQ(path, "."))
                                continue;
                        archive_entry_set_perm(e, type == AE_IFDIR ? 0700 : 0600);
                        archive_entry_xattr_clear(e);
                        archive_entry_acl_clear(e);
                } else {
                        if (STREQ(path, ".")) {
                                r = apply_root(e, err);
                                if (r < 0)
                                        goto out;
                                continue;
                        }
                        base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
                        if (str_has_prefix(base, ".wh.")) {
                                r = apply_whiteout(path, shown, err);
                                if (r < 0)
                                        goto out;
                                continue;
                        }
                        if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
                            type != AE_IFCHR && type != AE_IFBLK && type != AE_IFIFO) {
                                r = error_setx(err, EINVAL, "entry \"%s\": unsupported file type 0%o", shown,
                                               (unsigned)type);
                                goto out;
                        }
                        filter_xattrs(e);
                        archive_entry_acl_clear(e);
                }
                archive_entry_set_pathname(e, path);
                if (link) {
                        _cleanup_free_ char *target = NULL;
                        if (clean_path(link, &target) < 0 || STREQ(target, ".")) {
                                r = error_setx(err, EINVAL, "entry \"%s\": hard link out of the directory",
                                               shown);
                                goto out;
                        }
                        archive_entry_set_hardlink(e, target);
                }
                if (archive_write_header(w, e) < ARCHIVE_WARN) {
                        r = error_setx(err, EINVAL, "entry \"%s\": %s", shown,
                                       archive_error_string(w) ?: "refused");
                        goto out;
                }
                r = copy_data(a, w, shown, err);
                if (r < 0)
                        goto out;
                if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
                        r = error_setx(err, EIO, "entry \"%s\": %s", shown,
                                       archive_error_string(w) ?: "finishing");
                        goto out;
                }
                if (type == AE_IFREG && !link && archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
                        size += (uint64_t)archive_entry_size(e);
        }
        if (ar != ARCHIVE_EOF) {
                r = error_setx(err, EINVAL, "%s", archive_error_string(a) ?: "a damaged tar archive");
                goto out;
        }
        *ret_size = size;
out:
        archive_write_free(w);
        archive_read_free(a);
        return r;
}

/*
 * Unpacks the tar read from tar_fd (from its current offset) into dest_fd, in a child chroot'ed
 * there.  Progress (the bytes of tar_fd consumed) goes through `p`; *ret_size: bytes of regular files.
 */
static int unpack(int tar_fd, int dest_fd, UnpackMode mode, const char *what, uint64_t total,
                  image_progress_fn p, void *ud, uint64_t *ret_size, Error **err)
{
        int pfd[2], status = 0;
        UnpackMsg m, last = { 0 };
        bool done = false;
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return error_set(err, errno, "%s: pipe", what);
        pid = fork();
        if (pid < 0) {
                int r = error_set(err, errno, "%s: fork", what);
                close(pfd[0]);
                close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                Error *cerr = NULL;
                uint64_t size = 0;
                int r;
                close(pfd[0]);
                r = unpack_run(tar_fd, dest_fd, pfd[1], mode, &size, &cerr);
                if (r < 0)
                        msg_send(pfd[1], MSG_ERROR, -r, 0, cerr ? cerr->msg : "failed");
                else
                        msg_send(pfd[1], MSG_DONE, 0, size, NULL);
                _exit(r < 0 ? 1 : 0);
        }
        close(pfd[1]);
        for (;;) {
                size_t got = 0;
                while (got < sizeof(m)) {
                        ssize_t n = read(pfd[0], (char *)&m + got, sizeof(m) - got);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        got += (size_t)n;
                }
                if (got < sizeof(m))
                        break;
                m.text[sizeof(m.text) - 1] = '\0';
                if (m.kind == MSG_PROGRESS && p)
                        p(ud, what, m.value, total);
                else if (m.kind == MSG_DONE || m.kind == MSG_ERROR) {
                        last = m;
                        done = true;
                }
        }
        close(pfd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, errno, "%s: waiting for the unpacking process", what);
        if (done && last.kind == MSG_ERROR)
                return error_setx(err, last.errnum > 0 ? last.errnum : EIO, "%s: %s", what, last.text);
        if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        return error_setx(err, EIO, "%s: the unpacking process was killed by signal %d",
                                          what, WTERMSIG(status));
                return error_setx(err, EIO, "%s: the unpacking process failed", what);
        }
        if (p)
                p(ud, what, total ? total : last.value, total ? total : last.value);
        *ret_size = last.value;
        return 0;
}

/* ================================================================ operations: staging and committing */

/*
 * One running import or load: tmp/<kind>-<random>/, flock'ed until it ends.  It holds the unpacked
 * archive, the layers being staged (layer-<n>/{layer.tar,diff/,size}) and `pins`, the diff_ids it
 * counts on finding in the store: the layer collector keeps those (see op_pin).
 */
typedef struct Op {
        ImageStore *s;
        char *name;
        int fd;
        unsigned n;
        json_t *staged; /* diff hex → staged directory name */
} Op;

static int op_begin(ImageStore *s, const char *kind, Op *op, Error **err)
{
        *op = (Op){ .s = s, .name = istore_random_name(kind), .fd = -EBADF, .staged = json_object() };
        if (mkdirat(s->tmp_fd, op->name, 0700) < 0)
                return error_set(err, errno, "creating a staging directory in %s/tmp", s->root);
        op->fd = openat(s->tmp_fd, op->name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (op->fd < 0 || flock(op->fd, LOCK_EX | LOCK_NB) < 0) {
                int r = error_set(err, errno, "opening the staging directory %s/tmp/%s", s->root, op->name);
                (void)rm_rf_at(s->tmp_fd, op->name);
                return r;
        }
        return 0;
}

static void op_end(Op *op)
{
        if (op->fd >= 0) {
                /* removed while still locked, so no one takes it for stale halfway */
                (void)rm_rf_at(op->s->tmp_fd, op->name);
                close(op->fd);
                op->fd = -EBADF;
        }
        free(op->name);
        op->name = NULL;
        json_decref(op->staged);
        op->staged = NULL;
}

/*
 * Under the lock: notes that this operation counts on the layers `hexes` (the collector keeps every
 * pinned layer while the operation's directory exists) and tells which the store already has.  Once
 * pinned, a layer found cannot vanish before the commit, whatever rmi runs meanwhile.
 */
static int op_pin(Op *op, char *const *hexes, bool *ret_exists, Error **err)
{
        _cleanup_unlock_ ImageStore *locked = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r = istore_lock(op->s, err);

        if (r < 0)
                return r;
        locked = op->s;
        fd = openat(op->fd, "pins", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set(err, errno, "writing the staging directory's pins");
        for (size_t i = 0; hexes[i]; i++) {
                _cleanup_free_ char *line = xasprintf("%s\n", hexes[i]);
                r = write_all(fd, line, strlen(line));
                if (r < 0)
                        return error_set(err, -r, "writing the staging directory's pins");
                ret_exists[i] = istore_layer_exists(op->s, hexes[i]);
        }
        return 0;
}

/* Checks a layer the store already has against what the archive carries for it, without extracting it. */
static int layer_verify(int fd, const char *what, const char *want_diff, const char *want_blob,
                        int64_t want_size, image_progress_fn p, void *ud, Error **err)
{
        _cleanup_free_ char *shown = istore_printable(what);
        uint64_t usize = 0;
        char hex[65], blob_hex[65];
        Reader rd;
        Hash blob;
        int r;

        reader_init(&rd, fd, what, p, ud);
        if (want_blob) {
                istore_hash_init(&blob);
                rd.raw = &blob;
        }
        r = decompress_to(&rd, -1, hex, &usize, err);
        free(rd.buf);
        if (want_blob)
                istore_hash_final(&blob, r == 0 ? blob_hex : NULL);
        if (r < 0)
                return r;
        if (want_blob && !STREQ(blob_hex, want_blob))
                return error_setx(err, EINVAL, "%s: blob sha256:%s has the content of sha256:%s", shown,
                                  want_blob, blob_hex);
        if (want_blob && want_size >= 0 && rd.done != (uint64_t)want_size)
                return error_setx(err, EINVAL,
                                  "%s: blob sha256:%.12s has %llu bytes, its descriptor says %lld", shown,
                                  want_blob, (unsigned long long)rd.done, (long long)want_size);
        if (!STREQ(hex, want_diff))
                return error_setx(
                        err, EINVAL,
                        "%s: the layer's content has diff_id sha256:%s, but the image config says sha256:%s",
                        shown, hex, want_diff);
        return 0;
}

/*
 * Stages one layer read from fd (compressed or not): its uncompressed tar is hashed while written
 * to layer.tar, checked (want_blob: the sha256 of the bytes as read, with want_size their count when
 * >= 0; want_diff: of the uncompressed tar), and only then extracted.  *hex: its diff_id.  A layer
 * the store (or this operation) already has is not extracted again.
 */
static int layer_stage(Op *op, int fd, const char *what, const char *want_diff, const char *want_blob,
                       int64_t want_size, image_progress_fn p, void *ud, char hex[65], Error **err)
{
        _cleanup_free_ char *name = xasprintf("layer-%u", op->n++), *shown = istore_printable(what);
        _cleanup_close_ int dfd = -EBADF, tarfd = -EBADF, diff = -EBADF;
        uint64_t usize = 0, content = 0;
        Reader rd;
        Hash blob;
        char blob_hex[65];
        int r;

        if (mkdirat(op->fd, name, 0700) < 0 || (r = istore_open_dir_at(op->fd, name, &dfd)) < 0)
                return error_set(err, errno, "%s: creating a staging directory", shown);
        tarfd = openat(dfd, "layer.tar", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (tarfd < 0) {
                r = error_set(err, errno, "%s: creating layer.tar", shown);
                goto fail;
        }
        reader_init(&rd, fd, what, p, ud);
        if (want_blob) {
                istore_hash_init(&blob);
                rd.raw = &blob;
        }
        r = decompress_to(&rd, tarfd, hex, &usize, err);
        free(rd.buf);
        if (want_blob)
                istore_hash_final(&blob, r == 0 ? blob_hex : NULL);
        if (r < 0)
                goto fail;
        if (want_blob && !STREQ(blob_hex, want_blob)) {
                r = error_setx(err, EINVAL, "%s: blob sha256:%s has the content of sha256:%s", shown,
                               want_blob, blob_hex);
                goto fail;
        }
        if (want_blob && want_size >= 0 && rd.done != (uint64_t)want_size) {
                r = error_setx(err, EINVAL, "%s: blob sha256:%.12s has %llu bytes, its descriptor says %lld",
                               shown, want_blob, (unsigned long long)rd.done, (long long)want_size);
                goto fail;
        }
        if (want_diff && !STREQ(hex, want_diff)) {
                r = error_setx(
                        err, EINVAL,
                        "%s: the layer's content has diff_id sha256:%s, but the image config says sha256:%s",
                        shown, hex, want_diff);
                goto fail;
        }
        if (json_object_get(op->staged, hex))
                goto drop;
        {
                char *pin[] = { hex, NULL };
                bool exists = false;
                r = op_pin(op, pin, &exists, err);
                if (r < 0)
                        goto fail;
                if (exists)
                        goto drop;
        }
        if (mkdirat(dfd, "diff", 0755) < 0 || (r = istore_open_dir_at(dfd, "diff", &diff)) < 0) {
                r = error_set(err, errno, "%s: creating the layer directory", shown);
                goto fail;
        }
        if (lseek(tarfd, 0, SEEK_SET) < 0) {
                r = error_set(err, errno, "%s: rewinding layer.tar", shown);
                goto fail;
        }
        r = unpack(tarfd, diff, UNPACK_LAYER, "Extracting", usize, p, ud, &content, err);
        if (r < 0) {
                error_wrap(err, "layer sha256:%.12s", hex);
                goto fail;
        }
        {
                _cleanup_free_ char *text = xasprintf("%llu\n", (unsigned long long)content);
                r = write_file_atomic(dfd, "size", text, strlen(text), 0600, false);
                if (r < 0) {
                        r = error_set(err, -r, "%s: writing the layer's size", shown);
                        goto fail;
                }
        }
        json_object_set_new(op->staged, hex, json_string(name));
        return 0;
drop:
        (void)rm_rf_at(op->fd, name);
        return 0;
fail:
        (void)rm_rf_at(op->fd, name);
        return r;
}

/*
 * Puts an image in place under the lock: its staged layers (renamed in), its config, then its tags.
 * Layers and config are synced before they become visible; the rename is the commit.
 */
static int op_commit(Op *op, char *const *diffs, const char *cfg, size_t cfg_len, const char *id_hex,
                     char *const *tags, Error **err)
{
        ImageStore *s = op->s;
        _cleanup_unlock_ ImageStore *locked = NULL;
        bool moved = false;
        int r = istore_lock(s, err);

        if (r < 0)
                return r;
        locked = s;
        if (json_object_size(op->staged) && syncfs(op->fd) < 0)
                return error_set(err, errno, "syncing the staged layers");
        for (size_t i = 0; diffs[i]; i++) {
                const char *name = json_string_value(json_object_get(op->staged, diffs[i]));
                if (istore_layer_exists(s, diffs[i]))
                        continue;
                if (!name)
                        return error_setx(err, ENOENT, "layer sha256:%.12s is missing from the store",
                                          diffs[i]);
                if (renameat(op->fd, name, s->layers_fd, diffs[i]) < 0 && errno != EEXIST &&
                    errno != ENOTEMPTY)
                        return error_set(err, errno, "storing layer sha256:%.12s", diffs[i]);
                json_object_del(op->staged, diffs[i]);
                moved = true;
        }
        if (moved)
                (void)fsync(s->layers_fd);
        if (!istore_config_exists(s, id_hex)) {
                r = write_file_atomic(s->configs_fd, id_hex, cfg, cfg_len, 0600, true);
                if (r < 0)
                        return error_set(err, -r, "storing the config of image %.12s", id_hex);
        }
        if (tags && tags[0]) {
                _cleanup_json_ json_t *refs = NULL;
                _cleanup_free_ char *full = xasprintf("sha256:%s", id_hex);
                r = istore_refs_read(s, &refs, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; tags[i]; i++)
                        json_object_set_new(json_object_get(refs, "refs"), tags[i], json_string(full));
                r = istore_refs_write(s, refs, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ================================================================ import */

/* docker import -m has no limit; 64 KiB is more than any commit message needs. */
#define IMPORT_MESSAGE_MAX (64u * 1024)

static json_t *import_container_config(void)
{
        /* the fields and order of docker's container.Config, as `docker import` writes them */
        json_t *c = json_object();

        json_object_set_new(c, "Hostname", json_string(""));
        json_object_set_new(c, "Domainname", json_string(""));
        json_object_set_new(c, "User", json_string(""));
        json_object_set_new(c, "AttachStdin", json_false());
        json_object_set_new(c, "AttachStdout", json_false());
        json_object_set_new(c, "AttachStderr", json_false());
        json_object_set_new(c, "Tty", json_false());
        json_object_set_new(c, "OpenStdin", json_false());
        json_object_set_new(c, "StdinOnce", json_false());
        json_object_set_new(c, "Env", json_pack("[s]", DEFAULT_PATH));
        json_object_set_new(c, "Cmd", json_null());
        json_object_set_new(c, "Image", json_string(""));
        json_object_set_new(c, "Volumes", json_null());
        json_object_set_new(c, "WorkingDir", json_string(""));
        json_object_set_new(c, "Entrypoint", json_null());
        json_object_set_new(c, "OnBuild", json_null());
        json_object_set_new(c, "Labels", json_null());
        return c;
}

int image_import_with(ImageStore *s, int fd, const char *ref, const char *source_name,
                      const ImageImportOptions *opts, image_progress_fn p, void *ud, char **ret_id,
                      Error **err)
{
        _cleanup_free_ char *norm = NULL, *now = now_rfc3339nano(), *comment = NULL, *bytes = NULL,
                            *diffid = NULL;
        _cleanup_json_ json_t *cfg = json_object(), *container_config = NULL;
        const char *created = opts && opts->created ? opts->created : now;
        char diff[65], id[65];
        Op op;
        int r;

        if (ref) {
                r = image_ref_normalize(ref, &norm, err);
                if (r < 0)
                        return r;
        }
        /* -m and -c are checked and applied before the tar is read: a bad one leaves nothing behind */
        if (opts && opts->message &&
            (r = image_text_check("--message", opts->message, IMPORT_MESSAGE_MAX, true, err)) < 0)
                return r;
        container_config = import_container_config();
        if (opts && (r = image_change_apply(container_config, opts->changes, err)) < 0)
                return r;
        r = op_begin(s, "import", &op, err);
        if (r < 0) {
                op_end(&op);
                return r;
        }
        r = layer_stage(&op, fd, "Importing", NULL, NULL, -1, p, ud, diff, err);
        if (r < 0)
                goto out;
        diffid = xasprintf("sha256:%s", diff);
        if (opts && opts->message && *opts->message)
                comment = xstrdup(opts->message);
        else {
                comment = xasprintf("Imported from %s", source_name && *source_name ? source_name : "-");
                /* A file name need not be UTF-8, and JSON strings must be: such bytes become '?'. */
                json_t *probe = json_string(comment);
                if (!probe) {
                        for (char *c = comment; *c; c++)
                                if ((unsigned char)*c >= 0x80)
                                        *c = '?';
                }
                json_decref(probe);
        }
        /* docker import's config: image.Image marshalled through a map, so its keys come sorted */
        json_object_set_new(cfg, "architecture", json_string(HOST_ARCH));
        json_object_set_new(cfg, "comment", json_string(comment));
        json_object_set_new(cfg, "config", TAKE_PTR(container_config));
        json_object_set_new(cfg, "created", json_string(created));
        json_object_set_new(cfg, "history",
                            json_pack("[{s:s, s:s}]", "created", created, "comment", comment));
        json_object_set_new(cfg, "os", json_string("linux"));
        json_object_set_new(cfg, "rootfs", json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", diffid));
        bytes = jx_dump(cfg, false);
        istore_sha256_hex(bytes, strlen(bytes), id);
        {
                char *diffs[] = { diff, NULL }, *tags[] = { norm, NULL };
                r = op_commit(&op, diffs, bytes, strlen(bytes), id, tags, err);
                if (r < 0)
                        goto out;
        }
        *ret_id = xasprintf("sha256:%s", id);
out:
        op_end(&op);
        return r;
}

int image_import(ImageStore *s, int fd, const char *ref, const char *source_name, image_progress_fn p,
                 void *ud, char **ret_id, Error **err)
{
        return image_import_with(s, fd, ref, source_name, NULL, p, ud, ret_id, err);
}

/* ================================================================ load */

typedef struct LoadCtx {
        Op *op;
        int root; /* the unpacked archive */
        image_progress_fn p;
        void *ud;
        json_t *loaded;
} LoadCtx;

/* Opens a member of the unpacked archive, never leaving it (RESOLVE_IN_ROOT), as a regular file. */
static int open_in(int root, const char *path, int *ret, Error **err)
{
        _cleanup_free_ char *shown = istore_printable(path);
        struct stat st;
        int fd = sys_openat2(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0,
                             RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);

        /* O_NOFOLLOW refuses only a final symlink; let openat2 follow it, still inside the root. */
        if (fd < 0 && errno == ELOOP)
                fd = sys_openat2(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0,
                                 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
        if (fd < 0)
                return error_set(err, errno, "archive member %s", shown);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return error_setx(err, EINVAL, "archive member %s is not a regular file", shown);
        }
        *ret = fd;
        return 0;
}

static int read_in(int root, const char *path, size_t max, char **ret, size_t *len, Error **err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *shown = istore_printable(path);
        int r = open_in(root, path, &fd, err);

        if (r < 0)
                return r;
        r = read_all_fd(fd, max, ret, len);
        if (r == -EFBIG)
                return error_setx(err, EFBIG, "archive member %s is larger than %zu bytes", shown, max);
        if (r < 0)
                return error_set(err, -r, "reading archive member %s", shown);
        return 0;
}

/* An OCI blob, checked against its digest (and size when the descriptor has one). */
static int read_blob(int root, json_t *desc, size_t max, char **ret, size_t *len, Error **err)
{
        const char *digest = istore_jstr(json_object_get(desc, "digest")), *want = image_digest_hex(digest);
        json_t *size = json_object_get(desc, "size");
        _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", want), *text = NULL;
        char hex[65];
        int r = read_in(root, path, max, &text, len, err);

        if (r < 0)
                return r;
        istore_sha256_hex(text, *len, hex);
        if (!STREQ(hex, want))
                return error_setx(err, EINVAL, "blob %s has the content of sha256:%s", digest, hex);
        if (json_is_integer(size) && (uint64_t)json_integer_value(size) != *len)
                return error_setx(err, EINVAL, "blob %s has %zu bytes, its descriptor says %lld", digest,
                                  *len, (long long)json_integer_value(size));
        *ret = TAKE_PTR(text);
        return 0;
}

/*
 * Stores one image: its config bytes (whose sha256 is its id: want_id when the archive names it) and
 * its layers, archive members named by layer_paths, or OCI blobs by blob_descs (then compressed,
 * and checked against their digests too).  Every layer is checked; those the store has are not
 * extracted again.
 */
static int load_one(LoadCtx *c, const char *cfg, size_t cfg_len, const char *want_id,
                    char *const *layer_paths, json_t *blob_descs, char *const *tags, Error **err)
{
        _cleanup_strv_ char **diffs = NULL;
        _cleanup_free_ bool *exists = NULL;
        char id[65];
        size_t n, npaths = blob_descs ? json_array_size(blob_descs) : strv_length(layer_paths);
        int r;

        istore_sha256_hex(cfg, cfg_len, id);
        if (want_id && !STREQ(id, want_id))
                return error_setx(err, EINVAL, "image config sha256:%s has the content of sha256:%s",
                                  want_id, id);
        r = image_parse_config(cfg, cfg_len, NULL, &diffs, err);
        if (r < 0)
                return error_wrap(err, "image %.12s", id);
        n = strv_length(diffs);
        if (n != npaths)
                return error_setx(err, EINVAL, "image %.12s: its config lists %zu layers, the archive %zu",
                                  id, n, npaths);
        exists = xcalloc(n + 1, sizeof(bool));
        r = op_pin(c->op, diffs, exists, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_close_ int fd = -EBADF;
                json_t *desc = blob_descs ? json_array_get(blob_descs, i) : NULL;
                const char *blob = desc ? image_digest_hex(istore_jstr(json_object_get(desc, "digest"))) : NULL;
                json_t *size = desc ? json_object_get(desc, "size") : NULL;
                int64_t want_size = json_is_integer(size) ? json_integer_value(size) : -1;
                char hex[65];
                path = blob ? xasprintf("blobs/sha256/%s", blob) : xstrdup(layer_paths[i]);
                r = open_in(c->root, path, &fd, err);
                if (r < 0)
                        return error_wrap(err, "image %.12s: layer %zu", id, i);
                /* a layer we have is still checked against what the archive says it is: never extracted
                 * again */
                if (exists[i] || json_object_get(c->op->staged, diffs[i]))
                        r = layer_verify(fd, "Verifying layer", diffs[i], blob, want_size, c->p, c->ud, err);
                else
                        r = layer_stage(c->op, fd, "Loading layer", diffs[i], blob, want_size, c->p, c->ud,
                                        hex, err);
                if (r < 0)
                        return error_wrap(err, "image %.12s: layer %zu", id, i);
        }
        r = op_commit(c->op, diffs, cfg, cfg_len, id, tags, err);
        if (r < 0)
                return r;
        if (tags && tags[0])
                for (size_t i = 0; tags[i]; i++)
                        json_array_append_new(c->loaded, json_string(tags[i]));
        else {
                _cleanup_free_ char *full = xasprintf("sha256:%s", id);
                json_array_append_new(c->loaded, json_string(full));
        }
        return 0;
}

/* A member name's last component without ".json", when it is an id: "<64 hex>.json", "blobs/sha256/<64
 * hex>". */
static char *id_from_member(const char *path)
{
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        _cleanup_free_ char *hex =
                xstrndup(base, strlen(base) - (str_has_prefix(base + strcspn(base, "."), ".json") ? 5 : 0));

        return istore_is_hex(hex, 64, 64) ? TAKE_PTR(hex) : NULL;
}

static int load_docker(LoadCtx *c, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *man = NULL;
        size_t len = 0, i;
        json_t *m;
        int r;

        r = read_in(c->root, "manifest.json", JSON_MAX, &text, &len, err);
        if (r < 0)
                return r;
        r = image_parse_docker_manifest(text, len, &man, err);
        if (r < 0)
                return r;
        json_array_foreach (man, i, m) {
                _cleanup_free_ char *cfg = NULL, *want = id_from_member(istore_jstr(json_object_get(m, "Config")));
                _cleanup_strv_ char **layers = xcalloc(1, sizeof(char *)),
                                    **tags = xcalloc(1, sizeof(char *));
                size_t clen = 0, k;
                json_t *v;
                r = read_in(c->root, istore_jstr(json_object_get(m, "Config")), JSON_MAX, &cfg, &clen, err);
                if (r < 0)
                        return error_wrap(err, "manifest.json: [%zu].Config", i);
                json_array_foreach (json_object_get(m, "Layers"), k, v)
                        strv_push(&layers, istore_jstr(v));
                json_array_foreach (json_object_get(m, "RepoTags"), k, v)
                        strv_push(&tags, istore_jstr(v));
                r = load_one(c, cfg, clen, want, layers, NULL, tags, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * The format before manifest.json (docker < 1.10): `repositories` names top layers by v1 id, each
 * <id>/json holds that layer's v1 image (with its parent) and <id>/layer.tar its content.  Docker
 * builds the config as MakeConfigFromV1Config does: the top v1 image without its v1 fields, plus
 * rootfs and a history built from every layer's v1 image.
 */
static int load_legacy_image(LoadCtx *c, const char *top, char *const *tags, Error **err)
{
        _cleanup_strv_ char **chain = xcalloc(1, sizeof(char *)), **diffs = xcalloc(1, sizeof(char *));
        _cleanup_json_ json_t *history = json_array(), *topcfg = NULL, *cfg = json_object(),
                              *diff_ids = json_array();
        _cleanup_free_ char *bytes = NULL, *cur = xstrdup(top);
        static const char *const drop[] = { "id", "parent", "Size", "parent_id", "layer_id", "throwaway" };
        char id[65];
        int r;

        /* the chain, top first */
        while (cur) {
                _cleanup_free_ char *path = xasprintf("%s/json", cur), *text = NULL;
                _cleanup_json_ json_t *v1 = NULL;
                const char *parent;
                size_t len = 0;
                if (strv_length(chain) >= MAX_LAYERS)
                        return error_setx(err, E2BIG,
                                          "repositories: image %.12s has more than %d layers (or a loop)",
                                          top, MAX_LAYERS);
                r = read_in(c->root, path, JSON_MAX, &text, &len, err);
                if (r < 0)
                        return r;
                r = jx_parse(text, len, path, &v1, err);
                if (r < 0)
                        return r;
                if (!json_is_object(v1))
                        return error_setx(err, EINVAL, "%s: expected an object", path);
                strv_push(&chain, cur);
                parent = istore_jstr(json_object_get(v1, "parent"));
                free(cur);
                cur = NULL;
                if (parent && *parent) {
                        if (!istore_is_hex(parent, 64, 64))
                                return error_setx(err, EINVAL, "%s: parent: expected a 64-digit hex id",
                                                  path);
                        cur = xstrdup(parent);
                }
                if (!topcfg)
                        topcfg = json_incref(v1);
        }
        /* layers and history, bottom first */
        for (size_t i = strv_length(chain); i-- > 0;) {
                _cleanup_free_ char *path = xasprintf("%s/json", chain[i]), *text = NULL,
                                    *tar = xasprintf("%s/layer.tar", chain[i]);
                _cleanup_free_ char *created_by = NULL, *diffid = NULL;
                _cleanup_json_ json_t *v1 = NULL;
                _cleanup_close_ int fd = -EBADF;
                json_t *h = json_object(), *cmd;
                size_t len = 0, k;
                char hex[65];
                FILE *f;
                r = read_in(c->root, path, JSON_MAX, &text, &len, err);
                if (r == 0)
                        r = jx_parse(text, len, path, &v1, err);
                if (r < 0) {
                        json_decref(h);
                        return r;
                }
                r = open_in(c->root, tar, &fd, err);
                if (r == 0)
                        r = layer_stage(c->op, fd, "Loading layer", NULL, NULL, -1, c->p, c->ud, hex, err);
                if (r < 0) {
                        json_decref(h);
                        return r;
                }
                strv_push(&diffs, hex);
                diffid = xasprintf("sha256:%s", hex);
                json_array_append_new(diff_ids, json_string(diffid));
                json_object_set(h, "created",
                                json_object_get(v1, "created") ?: json_string("0001-01-01T00:00:00Z"));
                if (istore_jstr(json_object_get(v1, "author")) && *istore_jstr(json_object_get(v1, "author")))
                        json_object_set(h, "author", json_object_get(v1, "author"));
                {
                        size_t cap = 0;
                        f = open_memstream(&created_by, &cap);
                        json_array_foreach (json_object_get(json_object_get(v1, "container_config"), "Cmd"),
                                            k, cmd)
                                fprintf(f, "%s%s", k ? " " : "", istore_jstr(cmd) ?: "");
                        fclose(f);
                }
                if (*created_by)
                        json_object_set_new(h, "created_by", json_string(created_by));
                if (istore_jstr(json_object_get(v1, "comment")) && *istore_jstr(json_object_get(v1, "comment")))
                        json_object_set(h, "comment", json_object_get(v1, "comment"));
                json_array_append_new(history, h);
        }
        for (size_t i = 0; i < ELEMENTSOF(drop); i++)
                json_object_del(topcfg, drop[i]);
        json_object_set_new(topcfg, "rootfs",
                            json_pack("{s:s, s:O}", "type", "layers", "diff_ids", diff_ids));
        json_object_set(topcfg, "history", history);
        {
                /* Go marshals the map with its keys sorted */
                _cleanup_json_ json_t *sorted = jx_sorted_copy(topcfg);
                json_object_update(cfg, sorted);
        }
        bytes = jx_dump(cfg, false);
        istore_sha256_hex(bytes, strlen(bytes), id);
        r = op_commit(c->op, diffs, bytes, strlen(bytes), id, tags, err);
        if (r < 0)
                return r;
        for (size_t i = 0; tags[i]; i++)
                json_array_append_new(c->loaded, json_string(tags[i]));
        return 0;
}

static int load_legacy(LoadCtx *c, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *repos = NULL, *by_id = json_object();
        json_t *tags, *v;
        const char *repo, *tag;
        size_t len = 0;
        int r;

        r = read_in(c->root, "repositories", JSON_MAX, &text, &len, err);
        if (r < 0)
                return r;
        r = image_parse_legacy_repositories(text, len, &repos, err);
        if (r < 0)
                return r;
        /* each top layer once, with all its tags */
        json_object_foreach (repos, repo, tags) {
                json_object_foreach (tags, tag, v) {
                        _cleanup_free_ char *ref = xasprintf("%s:%s", repo, tag), *norm = NULL;
                        if (!json_object_get(by_id, istore_jstr(v)))
                                json_object_set_new(by_id, istore_jstr(v), json_array());
                        if (image_ref_normalize(ref, &norm, err) < 0)
                                return -EINVAL;
                        json_array_append_new(json_object_get(by_id, istore_jstr(v)), json_string(norm));
                }
        }
        json_object_foreach (by_id, tag, tags) {
                _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
                size_t k;
                json_array_foreach (tags, k, v)
                        strv_push(&names, json_string_value(v));
                r = load_legacy_image(c, tag, names, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool mt_is_index(const char *mt)
{
        return STREQ(mt, "application/vnd.oci.image.index.v1+json") ||
               STREQ(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
}

static bool mt_is_manifest(const char *mt)
{
        return STREQ(mt, "application/vnd.oci.image.manifest.v1+json") ||
               STREQ(mt, "application/vnd.docker.distribution.manifest.v2+json");
}

/* Whether a descriptor is for this host: no platform, or linux on our architecture; never an attestation. */
static bool platform_ok(json_t *d)
{
        json_t *plat = json_object_get(d, "platform");
        const char *ref_type =
                istore_jstr(json_object_get(json_object_get(d, "annotations"), "vnd.docker.reference.type"));

        if (ref_type && STREQ(ref_type, "attestation-manifest"))
                return false;
        if (!json_is_object(plat))
                return true;
        return STREQ(istore_jstr(json_object_get(plat, "os")) ?: "", "linux") &&
               STREQ(istore_jstr(json_object_get(plat, "architecture")) ?: "", HOST_ARCH);
}

/*
 * The name an index descriptor gives its image: io.containerd.image.name (docker's and containerd's
 * full name), else org.opencontainers.image.ref.name when it is a full reference; a bare tag
 * ("latest", as skopeo writes) names no repository, so the image loads untagged, as with docker.
 */
static int descriptor_name(json_t *d, const char *path, char **ret, Error **err)
{
        json_t *ann = json_object_get(d, "annotations");
        const char *name = istore_jstr(json_object_get(ann, "io.containerd.image.name"));
        const char *ref = istore_jstr(json_object_get(ann, "org.opencontainers.image.ref.name"));
        int r;

        if (!name && ref && (strchr(ref, '/') || strchr(ref, ':')))
                name = ref;
        *ret = NULL;
        if (!name)
                return 0;
        r = image_ref_normalize(name, ret, err);
        if (r < 0)
                return error_wrap(err, "%s.annotations", path);
        return 0;
}

static int load_oci_desc(LoadCtx *c, json_t *d, const char *path, const char *name, int depth, Error **err)
{
        const char *mt = istore_jstr(json_object_get(d, "mediaType"));
        _cleanup_free_ char *text = NULL, *own = NULL;
        _cleanup_json_ json_t *doc = NULL;
        size_t len = 0;
        bool index;
        int r;

        if (depth > MAX_NESTING)
                return error_setx(err, ELOOP, "%s: indexes nested deeper than %d", path, MAX_NESTING);
        r = descriptor_name(d, path, &own, err);
        if (r < 0)
                return r;
        if (own)
                name = own;
        if (mt && !mt_is_index(mt) && !mt_is_manifest(mt))
                return 0; /* an artifact (signature, SBOM): not an image */
        r = read_blob(c->root, d, JSON_MAX, &text, &len, err);
        if (r < 0)
                return error_wrap(err, "%s", path);
        if (mt)
                index = mt_is_index(mt);
        else {
                /* no mediaType: tell by the content */
                if (jx_parse(text, len, path, &doc, err) < 0)
                        return -EINVAL;
                if (json_object_get(doc, "manifests"))
                        index = true;
                else if (json_object_get(doc, "config") && json_object_get(doc, "layers"))
                        index = false;
                else
                        return 0;
        }
        if (index) {
                _cleanup_json_ json_t *children = NULL;
                json_t *child;
                size_t i;
                r = image_parse_oci_index(text, len, &children, err);
                if (r < 0)
                        return error_wrap(err, "%s", path);
                /* one image per index: the first for this platform */
                json_array_foreach (children, i, child) {
                        _cleanup_free_ char *cpath = xasprintf("%s.manifests[%zu]", path, i);
                        if (!platform_ok(child))
                                continue;
                        return load_oci_desc(c, child, cpath, name, depth + 1, err);
                }
                return error_setx(err, ENOENT, "%s: no image for linux/%s among its %zu manifests", path,
                                  HOST_ARCH, json_array_size(children));
        }
        {
                _cleanup_json_ json_t *man = NULL;
                _cleanup_free_ char *cfg = NULL;
                json_t *cdesc;
                size_t clen = 0;
                char *tags[] = { (char *)name, NULL };
                r = image_parse_oci_manifest(text, len, &man, err);
                if (r < 0)
                        return error_wrap(err, "%s", path);
                cdesc = json_object_get(man, "config");
                r = read_blob(c->root, cdesc, JSON_MAX, &cfg, &clen, err);
                if (r < 0)
                        return error_wrap(err, "%s: config", path);
                return load_one(c, cfg, clen, image_digest_hex(istore_jstr(json_object_get(cdesc, "digest"))), NULL,
                                json_object_get(man, "layers"), tags, err);
        }
}

static int load_oci(LoadCtx *c, Error **err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *descs = NULL;
        size_t len = 0, i, before = json_array_size(c->loaded);
        json_t *d;
        int r;

        r = read_in(c->root, "index.json", JSON_MAX, &text, &len, err);
        if (r < 0)
                return r;
        r = image_parse_oci_index(text, len, &descs, err);
        if (r < 0)
                return error_wrap(err, "index.json");
        json_array_foreach (descs, i, d) {
                _cleanup_free_ char *path = xasprintf("index.json: manifests[%zu]", i);
                if (!platform_ok(d))
                        continue;
                r = load_oci_desc(c, d, path, NULL, 0, err);
                if (r < 0)
                        return r;
        }
        if (json_array_size(c->loaded) == before)
                return error_setx(err, ENOENT, "index.json: no image for linux/%s", HOST_ARCH);
        return 0;
}

int image_load(ImageStore *s, int fd, image_progress_fn p, void *ud, json_t **ret_loaded, Error **err)
{
        _cleanup_json_ json_t *loaded = json_array();
        _cleanup_close_ int root = -EBADF;
        LoadCtx c = { .p = p, .ud = ud, .loaded = loaded };
        uint64_t total = 0, size = 0;
        struct stat st;
        off_t pos;
        Op op;
        int r;

        r = op_begin(s, "load", &op, err);
        if (r < 0)
                goto out;
        c.op = &op;
        if (mkdirat(op.fd, "archive", 0700) < 0 || (r = istore_open_dir_at(op.fd, "archive", &root)) < 0) {
                r = error_set(err, errno, "creating the staging directory");
                goto out;
        }
        c.root = root;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (pos = lseek(fd, 0, SEEK_CUR)) >= 0 &&
            pos <= st.st_size)
                total = (uint64_t)(st.st_size - pos);
        r = unpack(fd, root, UNPACK_ARCHIVE, "Loading", total, p, ud, &size, err);
        if (r < 0)
                goto out;
        if (faccessat(root, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                r = load_docker(&c, err);
        else if (faccessat(root, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                r = load_oci(&c, err);
        else if (faccessat(root, "repositories", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                r = load_legacy(&c, err);
        else
                r = error_setx(
                        err, EINVAL,
                        "the archive has no manifest.json (docker save) nor index.json (OCI image layout)");
        if (r < 0)
                goto out;
        *ret_loaded = TAKE_PTR(loaded);
out:
        op_end(&op);
        return r;
}

/* ================================================================ save */

static int tar_header(struct archive *w, const char *name, mode_t type, int64_t size, int64_t mtime,
                      Error **err)
{
        struct archive_entry *e = archive_entry_new();
        int r = 0;

        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
        archive_entry_set_mtime(e, mtime, 0);
        if (archive_write_header(w, e) != ARCHIVE_OK)
                r = error_setx(err, EIO, "writing %s: %s", name, archive_error_string(w) ?: "failed");
        archive_entry_free(e);
        return r;
}

static int tar_bytes(struct archive *w, const char *name, const void *buf, size_t len, int64_t mtime,
                     Error **err)
{
        int r = tar_header(w, name, AE_IFREG, (int64_t)len, mtime, err);

        if (r == 0 && len && archive_write_data(w, buf, len) != (la_ssize_t)len)
                r = error_setx(err, EIO, "writing %s: %s", name, archive_error_string(w) ?: "failed");
        return r;
}

static int tar_file(struct archive *w, const char *name, int fd, int64_t mtime, Error **err)
{
        _cleanup_free_ unsigned char *buf = NULL;
        struct stat st;
        uint64_t left;
        int r;

        if (fstat(fd, &st) < 0)
                return error_set(err, errno, "stat %s", name);
        r = tar_header(w, name, AE_IFREG, st.st_size, mtime, err);
        if (r < 0)
                return r;
        buf = xmalloc(CHUNK);
        /* exactly the size announced, even if the file changed meanwhile (it should not) */
        for (left = (uint64_t)st.st_size; left > 0;) {
                ssize_t n = read(fd, buf, left < CHUNK ? left : CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return error_set(err, n < 0 ? errno : EIO, "reading %s", name);
                if (archive_write_data(w, buf, (size_t)n) != n)
                        return error_setx(err, EIO, "writing %s: %s", name,
                                          archive_error_string(w) ?: "failed");
                left -= (uint64_t)n;
        }
        return 0;
}

static la_ssize_t out_write(struct archive *a, void *ud, const void *buf, size_t n)
{
        int r = write_all(*(int *)ud, buf, n);

        if (r < 0) {
                archive_set_error(a, -r, "write: %s", strerror(-r));
                return -1;
        }
        return (la_ssize_t)n;
}

/* Adds (image hex, tag or NULL) to the images to save: {"hex": [tags]} in the order first named. */
static void save_assoc(json_t *images, const char *hex, const char *tag)
{
        json_t *tags = json_object_get(images, hex);
        json_t *t;
        size_t i;

        if (!tags) {
                tags = json_array();
                json_object_set_new(images, hex, tags);
        }
        if (!tag)
                return;
        json_array_foreach (tags, i, t) {
                if (STREQ(json_string_value(t), tag))
                        return;
        }
        json_array_append_new(tags, json_string(tag));
}

/* docker's parseNames: an id; a name alone means every tag of it; name:tag; else an id prefix. */
static int save_names(ImageStore *s, char *const *refs, json_t *images, Error **err)
{
        _cleanup_json_ json_t *map = NULL;
        int r = istore_refs_read(s, &map, err);

        if (r < 0)
                return r;
        for (size_t i = 0; refs[i]; i++) {
                _cleanup_free_ char *repo = NULL, *tag = NULL, *norm = NULL;
                const char *q = str_has_prefix(refs[i], "sha256:") ? refs[i] + 7 : refs[i];
                char hex[65];
                size_t found = 0;
                if (!istore_is_hex(q, 64, 64) && istore_ref_parse(refs[i], &repo, &tag, NULL) == 0) {
                        const char *k;
                        json_t *v;
                        if (!tag) {
                                _cleanup_free_ char *prefix = xasprintf("%s:", repo);
                                _cleanup_strv_ char **keys = xcalloc(1, sizeof(char *));
                                json_object_foreach (json_object_get(map, "refs"), k, v) {
                                        if (str_has_prefix(k, prefix))
                                                strv_push(&keys, k);
                                }
                                qsort(keys, strv_length(keys), sizeof(char *), istore_strcmp_p);
                                for (size_t j = 0; keys[j]; j++, found++) {
                                        const char *h = image_digest_hex(istore_jstr(
                                                json_object_get(json_object_get(map, "refs"), keys[j])));
                                        if (!istore_config_exists(s, h))
                                                return error_setx(err, ENOENT, "No such image: %s", keys[j]);
                                        save_assoc(images, h, keys[j]);
                                }
                        } else {
                                norm = xasprintf("%s:%s", repo, tag);
                                v = json_object_get(json_object_get(map, "refs"), norm);
                                if (v && istore_config_exists(s, image_digest_hex(istore_jstr(v)))) {
                                        save_assoc(images, image_digest_hex(istore_jstr(v)), norm);
                                        found++;
                                }
                        }
                }
                if (found)
                        continue;
                r = istore_resolve(s, refs[i], hex, NULL, err);
                if (r < 0)
                        return r;
                save_assoc(images, hex, NULL);
        }
        return 0;
}

int image_save(ImageStore *s, char *const *refs, int fd, Error **err)
{
        _cleanup_json_ json_t *images = json_object(), *manifest = json_array(), *written = json_object(),
                              *repos = json_object();
        struct archive *w = NULL;
        json_t *tags;
        const char *hex;
        int64_t newest = 0;
        int r;

        if (!refs || !refs[0])
                return error_setx(err, EINVAL, "no images to save");
        r = save_names(s, refs, images, err);
        if (r < 0)
                return r;
        w = archive_write_new();
        archive_write_set_format_pax_restricted(w);
        archive_write_set_bytes_per_block(w, 10240);
        if (archive_write_open(w, &fd, NULL, out_write, NULL) != ARCHIVE_OK) {
                r = error_setx(err, EIO, "writing the archive: %s", archive_error_string(w) ?: "failed");
                goto out;
        }
        json_object_foreach (images, hex, tags) {
                _cleanup_free_ char *text = NULL, *cname = xasprintf("%s.json", hex);
                _cleanup_strv_ char **diffs = NULL;
                _cleanup_json_ json_t *cfg = NULL;
                json_t *layers = json_array(), *t;
                int64_t created = 0;
                size_t len = 0, k;
                r = read_file_at(s->configs_fd, hex, JSON_MAX, &text, &len);
                if (r < 0) {
                        json_decref(layers);
                        r = error_set(err, -r, "reading the config of image %.12s", hex);
                        goto out;
                }
                r = image_parse_config(text, len, &cfg, &diffs, err);
                if (r < 0) {
                        json_decref(layers);
                        error_wrap(err, "image %.12s", hex);
                        goto out;
                }
                (void)image_parse_created(istore_jstr(json_object_get(cfg, "created")), &created);
                if (created < 0)
                        created = 0;
                if (created > newest)
                        newest = created;
                for (size_t i = 0; diffs[i]; i++) {
                        _cleanup_free_ char *lname = xasprintf("%s/layer.tar", diffs[i]),
                                            *dname = xasprintf("%s/", diffs[i]);
                        _cleanup_close_ int lfd = -EBADF;
                        json_array_append_new(layers, json_string(lname));
                        if (json_object_get(written, lname))
                                continue;
                        lfd = openat(s->layers_fd, lname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (lfd < 0) {
                                json_decref(layers);
                                r = error_set(err, errno, "image %.12s: layer sha256:%.12s", hex, diffs[i]);
                                goto out;
                        }
                        if ((r = tar_header(w, dname, AE_IFDIR, 0, created, err)) < 0 ||
                            (r = tar_file(w, lname, lfd, created, err)) < 0) {
                                json_decref(layers);
                                goto out;
                        }
                        json_object_set_new(written, lname, json_true());
                }
                r = tar_bytes(w, cname, text, len, created, err);
                if (r < 0) {
                        json_decref(layers);
                        goto out;
                }
                json_array_foreach (tags, k, t) {
                        _cleanup_free_ char *repo = xstrdup(json_string_value(t));
                        char *colon = strrchr(repo, ':');
                        *colon = '\0';
                        if (!json_object_get(repos, repo))
                                json_object_set_new(repos, repo, json_object());
                        /* the v1 id of the top layer: our layer directories are named by diff_id */
                        if (diffs[0])
                                json_object_set_new(json_object_get(repos, repo), colon + 1,
                                                    json_string(diffs[strv_length(diffs) - 1]));
                }
                json_array_append_new(manifest, json_pack("{s:s, s:O, s:o}", "Config", cname, "RepoTags",
                                                          json_array_size(tags) ? tags : json_null(),
                                                          "Layers", layers));
        }
        {
                _cleanup_free_ char *m = jx_dump(manifest, false), *rp = jx_dump(repos, false);
                r = tar_bytes(w, "manifest.json", m, strlen(m), newest, err);
                if (r == 0 && json_object_size(repos))
                        r = tar_bytes(w, "repositories", rp, strlen(rp), newest, err);
        }
out:
        if (archive_write_close(w) != ARCHIVE_OK && r == 0)
                r = error_setx(err, EIO, "writing the archive: %s", archive_error_string(w) ?: "failed");
        archive_write_free(w);
        return r;
}

