/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journald log driver: each message becomes one journal entry, sent with journald's native
 * protocol (systemd.journal-fields(7), "Native Journal Protocol" on systemd.io) to the datagram socket
 * /run/systemd/journal/socket.  We speak the protocol ourselves rather than link libsystemd: the
 * monitor is a static binary and Debian ships no static libsystemd.
 *
 * The datagram is a list of fields.  A value without "\n" is sent as `NAME=value\n`; one with "\n" in
 * the binary form `NAME\n`, its length as a 64-bit little-endian integer, the bytes, `\n`.  An entry
 * too large for a datagram (or larger than 256 KiB, which only large attributes make) goes the way
 * sd_journal_sendv() sends what a datagram cannot hold: written to a memfd, sealed (journald refuses
 * unsealed memfds: the sender could change it while journald reads), and the fd passed with
 * SCM_RIGHTS in an otherwise empty datagram.
 *
 * Fields, as moby's daemon/logger/journald sends them:
 *   MESSAGE                  the line, without its "\n"
 *   PRIORITY                 3 (err) for stderr, 6 (info) for stdout
 *   CONTAINER_ID             the first 12 hex of the id
 *   CONTAINER_ID_FULL        the id
 *   CONTAINER_NAME           the name, without docker's "/"
 *   CONTAINER_TAG            the rendered tag option (default {{.ID}})
 *   SYSLOG_IDENTIFIER        the same tag, so that `journalctl -t <tag>` finds the lines
 *   IMAGE_NAME               the image as given to run
 *   SYSLOG_TIMESTAMP         when the monitor read the line, Go's RFC3339Nano in UTC
 *   CONTAINER_LOG_EPOCH      64 random hex per driver instance (each start of the container) ...
 *   CONTAINER_LOG_ORDINAL    ... and the message's sequence number in it, from 1
 *   CONTAINER_PARTIAL_ID, CONTAINER_PARTIAL_ORDINAL, CONTAINER_PARTIAL_LAST (true/false)
 *                            on the pieces of a line longer than 16 KiB, and
 *   CONTAINER_PARTIAL_MESSAGE=true  on every piece but the last (so a reader adds no "\n" after it)
 * plus one field per attribute (labels, env; LogInfo.attrs), its key made a journal field name as
 * docker makes it: ASCII letters upper-cased, every other character but digits made "_", leading
 * "_" dropped.  Docker 20.10 sends neither SYSLOG_TIMESTAMP nor the epoch and ordinal; moby 23+
 * does, and shared/reference/anchors.md lists them, so we send them.
 *
 * Differences from docker, on purpose: an attribute whose key becomes one of the fields above is not
 * sent (docker lets a label named "container_id_full" replace the real one, which would file the
 * container's lines under another container's id); a key that is no valid journal field name
 * (starts with a digit, longer than 64) is not sent either (journald would drop it silently).  Two
 * keys that become the same name: the first in byte order is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jsonlog.h"
#include "logdriver-journald.h"
#include "logdriver.h"
#include "util.h"

#define MAX_SZ(a, b) ((a) > (b) ? (a) : (b))

/*
 * The largest entry we send.  journald takes far more through a memfd (768 MiB); a message is at
 * most 16 KiB, so anything near this is the attributes, and 8 MiB of labels is a mistake to report.
 */
#define ENTRY_MAX (8u << 20)
/*
 * Entries larger than this go through a memfd straight away (journald maps it instead of copying a
 * datagram that large through the socket); smaller ones too when the datagram is refused for its size.
 */
#define DGRAM_MAX (256u << 10)
/* How long one send may wait for a journald that does not read (the socket queue is full). */
#define SEND_TIMEOUT_S 10
/* How long close() waits for journald to take what the socket still holds. */
#define CLOSE_DRAIN_MS 2000

typedef struct Buf {
        char *p;
        size_t len, cap;
} Buf;

typedef struct JournaldDriver {
        LogDriver base;
        int fd;
        struct sockaddr_un addr;
        socklen_t addr_len;
        Buf fixed;      /* the fields every entry carries, encoded */
        Buf head, tail; /* a message's own fields, before and after its bytes (reused) */
        uint64_t ordinal;
} JournaldDriver;

/* The fields the driver sets itself: attributes may not replace them. */
static const char *const own_fields[] = {
        "MESSAGE",
        "PRIORITY",
        "CONTAINER_ID",
        "CONTAINER_ID_FULL",
        "CONTAINER_NAME",
        "CONTAINER_TAG",
        "IMAGE_NAME",
        "SYSLOG_IDENTIFIER",
        "SYSLOG_TIMESTAMP",
        "CONTAINER_LOG_EPOCH",
        "CONTAINER_LOG_ORDINAL",
        "CONTAINER_PARTIAL_ID",
        "CONTAINER_PARTIAL_ORDINAL",
        "CONTAINER_PARTIAL_LAST",
        "CONTAINER_PARTIAL_MESSAGE",
};

/* ---------------------------------------------------------------- encoding */

static void buf_put(Buf *b, const void *s, size_t n)
{
        if (b->len + n > b->cap) {
                b->cap = MAX_SZ(b->len + n, b->cap ? 2 * b->cap : 512);
                b->p = xrealloc(b->p, b->cap);
        }
        if (n)
                memcpy(b->p + b->len, s, n);
        b->len += n;
}

/* One field: `NAME=value\n`, or the binary form when the value holds a "\n". */
static void put_field(Buf *b, const char *name, const char *value, size_t len)
{
        buf_put(b, name, strlen(name));
        if (len == 0 || !memchr(value, '\n', len)) {
                buf_put(b, "=", 1);
                buf_put(b, value, len);
        } else {
                unsigned char le[8];
                uint64_t n = len;
                for (int i = 0; i < 8; i++)
                        le[i] = (unsigned char)(n >> (8 * i));
                buf_put(b, "\n", 1);
                buf_put(b, le, sizeof(le));
                buf_put(b, value, len);
        }
        buf_put(b, "\n", 1);
}

static void put_field_str(Buf *b, const char *name, const char *value)
{
        put_field(b, name, value ? value : "", value ? strlen(value) : 0);
}

/* The length of the UTF-8 sequence at s as Go's utf8.DecodeRune takes it: 1 for an invalid one. */
static size_t rune_len(const unsigned char *s)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0xc2 || c > 0xf4)
                return 1;
        n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (c == 0xe0)
                lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
                hi = 0x9f; /* no surrogates */
        else if (c == 0xf0)
                lo = 0x90;
        else if (c == 0xf4)
                hi = 0x8f; /* nothing above U+10FFFF */
        if (s[1] < lo || s[1] > hi)
                return 1;
        for (size_t k = 2; k < n; k++)
                if ((s[k] & 0xc0) != 0x80)
                        return 1;
        return n;
}

size_t journald_sanitize_key(const char *key, char out[static JOURNALD_FIELD_NAME_MAX + 2])
{
        const unsigned char *s = (const unsigned char *)key;
        size_t n = 0;

        while (*s && n <= JOURNALD_FIELD_NAME_MAX) {
                unsigned char c = *s;
                char v;

                if (c >= 'a' && c <= 'z')
                        v = (char)(c - 'a' + 'A');
                else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                        v = (char)c;
                else
                        v = '_';
                s += rune_len(s);
                if (n == 0 && v == '_')
                        continue;
                out[n++] = v;
        }
        out[n] = '\0';
        return n;
}

static bool field_name_ok(const char *name, size_t len)
{
        if (len == 0 || len > JOURNALD_FIELD_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(own_fields); i++)
                if (STREQ(name, own_fields[i]))
                        return false;
        return true;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The attributes, in key order, as fields; duplicates after sanitising and invalid names skipped. */
static void put_attrs(Buf *b, json_t *attrs)
{
        size_t n = json_object_size(attrs), k = 0;
        const char *key;
        json_t *v;

        if (!json_is_object(attrs) || n == 0)
                return;
        _cleanup_free_ const char **keys = xcalloc(n, sizeof(*keys));
        _cleanup_free_ char *seen = xmalloc(n * (JOURNALD_FIELD_NAME_MAX + 2));
        size_t nseen = 0;
        json_object_foreach(attrs, key, v) if (json_is_string(v) && k < n) keys[k++] = key;
        qsort(keys, k, sizeof(*keys), cmp_str);
        for (size_t i = 0; i < k; i++) {
                char *name = seen + nseen * (JOURNALD_FIELD_NAME_MAX + 2);
                size_t len = journald_sanitize_key(keys[i], name);
                bool dup = false;

                if (!field_name_ok(name, len))
                        continue;
                for (size_t j = 0; j < nseen && !dup; j++)
                        dup = STREQ(seen + j * (JOURNALD_FIELD_NAME_MAX + 2), name);
                if (dup)
                        continue;
                nseen++;
                v = json_object_get(attrs, keys[i]);
                put_field(b, name, json_string_value(v), json_string_length(v));
        }
}

static void random_hex(char out[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[32];
        size_t got = 0;

        while (got < sizeof(raw)) {
                ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        if (got < sizeof(raw)) {
                /* No getrandom (an old kernel, seccomp): the epoch only tells instances apart. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t x = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32) ^ 1;
                for (size_t i = got; i < sizeof(raw); i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        raw[i] = (unsigned char)x;
                }
        }
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[64] = '\0';
}

/* ---------------------------------------------------------------- sending */

/* The entry as one datagram; -EMSGSIZE (or -ENOBUFS) when it does not fit in one. */
static int send_datagram(JournaldDriver *d, struct iovec *iov, size_t n)
{
        struct msghdr mh = {
                .msg_name = &d->addr,
                .msg_namelen = d->addr_len,
                .msg_iov = iov,
                .msg_iovlen = n,
        };
        for (;;) {
                if (sendmsg(d->fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* The entry through a sealed memfd, as sd_journal_sendv() sends what a datagram cannot hold. */
static int send_memfd(JournaldDriver *d, struct iovec *iov, size_t n)
{
        _cleanup_close_ int mfd = -EBADF;
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } ctl = { 0 };
        struct msghdr mh = {
                .msg_name = &d->addr,
                .msg_namelen = d->addr_len,
                .msg_control = &ctl,
                .msg_controllen = sizeof(ctl),
        };
        struct cmsghdr *c;

        mfd = memfd_create("stockade-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        for (size_t i = 0; i < n; i++) {
                int r = write_all(mfd, iov[i].iov_base, iov[i].iov_len);
                if (r < 0)
                        return r;
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &mfd, sizeof(int));
        for (;;) {
                if (sendmsg(d->fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static int journald_log(LogDriver *base, const LogMsg *m, Error **err)
{
        JournaldDriver *d = (JournaldDriver *)base;
        bool err_stream = m->stream && STREQ(m->stream, "stderr");
        Buf *head = &d->head, *tail = &d->tail;
        struct iovec iov[4];
        size_t total = 0;
        char num[32];
        int r;

        /* MESSAGE first, its bytes sent from where they are; then the message's own fields. */
        head->len = tail->len = 0;
        if (m->len == 0 || !memchr(m->line, '\n', m->len)) {
                buf_put(head, "MESSAGE=", 8);
        } else {
                unsigned char le[8];
                for (int i = 0; i < 8; i++)
                        le[i] = (unsigned char)((uint64_t)m->len >> (8 * i));
                buf_put(head, "MESSAGE\n", 8);
                buf_put(head, le, sizeof(le));
        }
        buf_put(tail, "\n", 1);
        put_field_str(tail, "PRIORITY", err_stream ? "3" : "6");
        if (m->ts.tv_sec != 0 || m->ts.tv_nsec != 0) {
                char ts[RFC3339NANO_MAX];
                size_t n = format_rfc3339nano_buf(&m->ts, true, ts);
                put_field(tail, "SYSLOG_TIMESTAMP", ts, n);
        }
        if (m->partial_id) {
                put_field_str(tail, "CONTAINER_PARTIAL_ID", m->partial_id);
                snprintf(num, sizeof(num), "%d", m->partial_ordinal);
                put_field_str(tail, "CONTAINER_PARTIAL_ORDINAL", num);
                put_field_str(tail, "CONTAINER_PARTIAL_LAST", m->partial_last ? "true" : "false");
                if (!m->partial_last)
                        put_field_str(tail, "CONTAINER_PARTIAL_MESSAGE", "true");
        }
        snprintf(num, sizeof(num), "%" PRIu64, ++d->ordinal);
        put_field_str(tail, "CONTAINER_LOG_ORDINAL", num);

        iov[0] = (struct iovec){ head->p, head->len };
        iov[1] = (struct iovec){ m->len ? (void *)m->line : NULL, m->len };
        iov[2] = (struct iovec){ tail->p, tail->len };
        iov[3] = (struct iovec){ d->fixed.p, d->fixed.len };
        for (size_t i = 0; i < ELEMENTSOF(iov); i++)
                total += iov[i].iov_len;
        if (total > ENTRY_MAX)
                return error_setx(err, E2BIG, "journald: an entry of %zu bytes (the labels and env selected are too large)",
                                  total);
        r = total > DGRAM_MAX ? -EMSGSIZE : send_datagram(d, iov, ELEMENTSOF(iov));
        if (r == -EMSGSIZE || r == -ENOBUFS)
                r = send_memfd(d, iov, ELEMENTSOF(iov));
        if (r == -EAGAIN || r == -EWOULDBLOCK)
                return error_setx(err, ETIMEDOUT, "journald: %s took nothing for %d s", d->addr.sun_path, SEND_TIMEOUT_S);
        if (r < 0)
                return error_set(err, -r, "journald: sending to %s", d->addr.sun_path);
        return 0;
}

/* ---------------------------------------------------------------- open, close */

static void journald_close(LogDriver *base)
{
        JournaldDriver *d = (JournaldDriver *)base;
        if (!d)
                return;
        if (d->fd >= 0) {
                /*
                 * A datagram counts against its sender's socket until the receiver has taken it, so an
                 * empty output queue means journald has every entry: wait for that (briefly) before the
                 * monitor exits, so that `logs -f`, which stops when the monitor is gone, misses none.
                 */
                for (int waited = 0; waited < CLOSE_DRAIN_MS; waited += 5) {
                        int q = 0;
                        if (ioctl(d->fd, SIOCOUTQ, &q) < 0 || q <= 0)
                                break;
                        (void)nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
                }
                close(d->fd);
        }
        free(d->fixed.p);
        free(d->head.p);
        free(d->tail.p);
        free(d);
}

static int journald_open(const LogInfo *info, LogDriver **ret, Error **err)
{
        _cleanup_free_ JournaldDriver *d = NULL;
        const char *id = info->id ? info->id : "";
        char epoch[65];
        Buf *b;
        int sndbuf = 8 << 20;

        d = xcalloc(1, sizeof(*d));
        d->base.ops = &log_driver_journald;
        d->fd = -1;
        d->addr.sun_family = AF_UNIX;
        memcpy(d->addr.sun_path, JOURNALD_SOCKET, sizeof(JOURNALD_SOCKET));
        d->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(JOURNALD_SOCKET));

        d->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (d->fd < 0)
                return error_set(err, errno, "journald: socket");
        /* Docker's check (journal.Enabled): journald listens.  The connection is only a probe and is
         * undone: each send names the socket, so a journald restarted later gets the next message. */
        if (connect(d->fd, (struct sockaddr *)&d->addr, d->addr_len) < 0) {
                int e = errno;
                close(d->fd);
                d->fd = -1;
                return error_set(err, e, "journald is not enabled on this host (%s)", JOURNALD_SOCKET);
        }
        (void)connect(d->fd, &(struct sockaddr){ .sa_family = AF_UNSPEC }, sizeof(struct sockaddr));
        /* As sd-journal does: room for large entries and a burst in flight (root may go past wmem_max). */
        if (setsockopt(d->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
                (void)setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        (void)setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ SEND_TIMEOUT_S, 0 }, sizeof(struct timeval));

        random_hex(epoch);
        b = &d->fixed;
        put_field(b, "CONTAINER_ID", id, strnlen(id, 12));
        put_field_str(b, "CONTAINER_ID_FULL", id);
        put_field_str(b, "CONTAINER_NAME", info->name);
        put_field_str(b, "CONTAINER_TAG", info->tag);
        put_field_str(b, "IMAGE_NAME", info->image_name);
        put_field_str(b, "SYSLOG_IDENTIFIER", info->tag);
        put_field_str(b, "CONTAINER_LOG_EPOCH", epoch);
        put_attrs(b, info->attrs);
        *ret = &TAKE_PTR(d)->base;
        return 0;
}

const LogDriverOps log_driver_journald = {
        .name = "journald",
        .open = journald_open,
        .log = journald_log,
        .flush = NULL,
        .close = journald_close,
};
