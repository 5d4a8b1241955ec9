/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journald driver (logdriver-journald.c) and its reader (logread-journald.c).
 *
 * Part one, no privileges: docker's key sanitising, and the parser of journalctl's export format
 * (text and binary fields, any chunking, every malformed input refused, bounded sizes).
 *
 * Part two, as root: the test moves into a private mount namespace with a tmpfs on
 * /run/systemd/journal (or /run/systemd when there is none) and on /var/log, where the driver's
 * fixed socket path /run/systemd/journal/socket is free.  First a strict receiver of our own binds it
 * and checks the datagrams byte for byte (both field forms, a sealed memfd for large entries); then a
 * real systemd-journald (Debian's) is started there with a private configuration and the entries are
 * read back with `journalctl -o json` (parsed with jansson, independently of our parser) and with
 * journald_log_read (tail, since, until, details, pieces of long lines, follow).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json-util.h"
#include "jsonlog.h"
#include "logdriver-journald.h"
#include "logdriver.h"
#include "logread-journald.h"
#include "tap.h"
#include "util.h"

static const char *const journald_paths[] = { "/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald" };

static int ns_state;          /* 0 not tried, 1 ready, -1 not possible here */
static char ns_why[256];
static pid_t journald_pid;
static char work[] = "/tmp/test-journald-XXXXXX";

__attribute__((constructor)) static void setup(void)
{
        signal(SIGPIPE, SIG_DFL); /* neither the driver nor the reader may raise it */
        alarm(600);
        if (!mkdtemp(work))
                abort();
}

__attribute__((destructor)) static void teardown(void)
{
        char cmd[128];
        if (journald_pid > 0) {
                kill(journald_pid, SIGTERM);
                waitpid(journald_pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
        (void)!system(cmd);
}

static void sleep_ms(int ms)
{
        (void)nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

static void random_id(char out[65])
{
        static const char hex[] = "0123456789abcdef";
        FILE *f = fopen("/dev/urandom", "re");
        unsigned char raw[32];
        if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw))
                abort();
        fclose(f);
        for (int i = 0; i < 32; i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[64] = '\0';
}

/* The private mount namespace where /run/systemd/journal/socket is ours. */
static bool ns_enter(void)
{
        if (ns_state)
                return ns_state > 0;
        ns_state = -1;
        if (geteuid() != 0) {
                snprintf(ns_why, sizeof(ns_why), "needs root (a private mount namespace for journald's socket path)");
                return false;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                snprintf(ns_why, sizeof(ns_why), "no private mount namespace: %s", strerror(errno));
                return false;
        }
        struct stat st;
        const char *jdir = stat("/run/systemd/journal", &st) == 0 ? "/run/systemd/journal" : "/run/systemd";
        if (stat("/run/systemd", &st) < 0 && mkdir("/run/systemd", 0755) < 0) {
                snprintf(ns_why, sizeof(ns_why), "/run/systemd: %s", strerror(errno));
                return false;
        }
        if (mount("tmpfs", jdir, "tmpfs", 0, "mode=0755") < 0 || mount("tmpfs", "/var/log", "tmpfs", 0, "mode=0755") < 0) {
                snprintf(ns_why, sizeof(ns_why), "tmpfs: %s", strerror(errno));
                return false;
        }
        (void)mkdir("/run/systemd/journal", 0755);
        ns_state = 1;
        return true;
}

/* ================================================================ part one */

TEST(sanitize_key_as_docker)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "com.example.version", "COM_EXAMPLE_VERSION" },
                { "label", "LABEL" },
                { "__x", "X" },
                { "-a-b-", "A_B_" },
                { "Mixed09", "MIXED09" },
                { "_", "" },
                { "\xc3\xa9t\xc3\xa9", "T_" },   /* é is one rune: one "_" (dropped while leading) */
                { "a\xc3\xa9\xe2\x82\xac", "A__" }, /* é and € */
                { "a\xff\xfe", "A__" },          /* invalid bytes count one each */
                { "a\xe0\x80\x80", "A___" },     /* an overlong form is three invalid bytes */
                { "9lives", "9LIVES" },
        };
        char out[JOURNALD_FIELD_NAME_MAX + 2];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = journald_sanitize_key(cases[i].in, out);
                ASSERT_STREQ(out, cases[i].out);
                ASSERT_EQ(n, strlen(cases[i].out));
        }
        char longkey[200];
        memset(longkey, 'k', sizeof(longkey) - 1);
        longkey[sizeof(longkey) - 1] = '\0';
        ASSERT_EQ(journald_sanitize_key(longkey, out), JOURNALD_FIELD_NAME_MAX + 1);
}

/* ---- the export parser */

typedef struct Got {
        int n;
        char cursor[8][64];
        uint64_t rt[8];
        bool has_message[8], partial[8];
        char msg[8][64];
        size_t msg_len[8];
        int prio[8];
        char attrs[8][256];
} Got;

static int collect(void *ud, const JournalEntry *e)
{
        Got *g = ud;
        int i = g->n++;
        if (i >= 8)
                return -E2BIG;
        snprintf(g->cursor[i], sizeof(g->cursor[i]), "%s", e->cursor);
        g->rt[i] = e->realtime_us;
        g->has_message[i] = e->has_message;
        g->partial[i] = e->partial;
        g->prio[i] = e->priority;
        if (e->has_message) {
                if (e->message[e->message_len] != '\0')
                        return -EINVAL;
                g->msg_len[i] = e->message_len < 64 ? e->message_len : 63;
                memcpy(g->msg[i], e->message, g->msg_len[i]);
        }
        for (size_t k = 0; k < e->n_attrs; k++) {
                size_t l = strlen(g->attrs[i]);
                snprintf(g->attrs[i] + l, sizeof(g->attrs[i]) - l, "%s%s=%s", k ? "," : "", e->attrs[k].name,
                         e->attrs[k].value);
        }
        return 0;
}

/* Two entries: text fields, a binary MESSAGE with NUL and "\n", known and unknown fields. */
static size_t sample_export(char *out)
{
        static const char a[] = "__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1795915503627338\n__MONOTONIC_TIMESTAMP=1\n"
                                "_BOOT_ID=abc\nMESSAGE=hello world\nPRIORITY=6\nCONTAINER_ID=0123456789ab\n"
                                "COM_EXAMPLE_A=1\n_PID=42\nSYSLOG_IDENTIFIER=web\n\n";
        static const char b1[] = "__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1795915503627339\nMESSAGE\n";
        static const char bin[] = "a\0b\nc";
        static const char b2[] = "\nPRIORITY=3\nCONTAINER_PARTIAL_MESSAGE=true\nZ_LAST=z\nMULTI\n";
        static const char multi[] = "x\ny";
        size_t n = 0;
        unsigned char le[8] = { 0 };

        memcpy(out + n, a, sizeof(a) - 1), n += sizeof(a) - 1;
        memcpy(out + n, b1, sizeof(b1) - 1), n += sizeof(b1) - 1;
        le[0] = sizeof(bin) - 1;
        memcpy(out + n, le, 8), n += 8;
        memcpy(out + n, bin, sizeof(bin) - 1), n += sizeof(bin) - 1;
        memcpy(out + n, b2, sizeof(b2) - 1), n += sizeof(b2) - 1;
        le[0] = sizeof(multi) - 1;
        memcpy(out + n, le, 8), n += 8;
        memcpy(out + n, multi, sizeof(multi) - 1), n += sizeof(multi) - 1;
        memcpy(out + n, "\n\n", 2), n += 2;
        return n;
}

static void check_sample(int *tap_failed, const Got *g)
{
        ASSERT_EQ(g->n, 2);
        ASSERT_STREQ(g->cursor[0], "s=1;i=1");
        ASSERT_EQ(g->rt[0], 1795915503627338ULL);
        ASSERT_TRUE(g->has_message[0] && !g->partial[0]);
        ASSERT_EQ(g->msg_len[0], 11);
        ASSERT_TRUE(memcmp(g->msg[0], "hello world", 11) == 0);
        ASSERT_EQ(g->prio[0], 6);
        ASSERT_STREQ(g->attrs[0], "COM_EXAMPLE_A=1");
        ASSERT_STREQ(g->cursor[1], "s=1;i=2");
        ASSERT_EQ(g->msg_len[1], 5);
        ASSERT_TRUE(memcmp(g->msg[1], "a\0b\nc", 5) == 0);
        ASSERT_EQ(g->prio[1], 3);
        ASSERT_TRUE(g->partial[1]);
        ASSERT_STREQ(g->attrs[1], "MULTI=x\ny,Z_LAST=z");
}

TEST(export_parser_whole_and_byte_by_byte)
{
        char in[1024];
        size_t n = sample_export(in);
        Error *err = NULL;
        Got g = { 0 };

        _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(true);
        ASSERT_OK(journal_export_feed(p, in, n, collect, &g, &err));
        ASSERT_OK(journal_export_finish(p, &err));
        check_sample(tap_failed, &g);
        if (*tap_failed)
                return;

        _cleanup_(journal_export_freep) JournalExportParser *q = journal_export_new(true);
        Got h = { 0 };
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(journal_export_feed(q, in + i, 1, collect, &h, &err));
        ASSERT_OK(journal_export_finish(q, &err));
        check_sample(tap_failed, &h);
        ASSERT_EQ(journal_export_offset(q), n);

        /* Without want_attrs nothing is collected. */
        _cleanup_(journal_export_freep) JournalExportParser *r = journal_export_new(false);
        Got k = { 0 };
        ASSERT_OK(journal_export_feed(r, in, n, collect, &k, &err));
        ASSERT_STREQ(k.attrs[0], "");
        ASSERT_STREQ(k.attrs[1], "");
}

TEST(export_parser_refuses_malformed)
{
        static const struct {
                const char *in;
                size_t len;
                const char *why;
        } bad[] = {
#define B(s, w) { s, sizeof(s) - 1, w }
                B("=x\n", "without a name"),
                B("lower=x\n", "character other than"),
                B("A-B=x\n", "character other than"),
                B("\n", "empty entry"),
                B("MESSAGE=x\n\n", "without __CURSOR"),
                B("__CURSOR=c\nMESSAGE=x\n\n", "without __CURSOR or __REALTIME"),
                B("__CURSOR=c\n__REALTIME_TIMESTAMP=12x\n\n", "bad __REALTIME_TIMESTAMP"),
                B("__CURSOR=c\n__REALTIME_TIMESTAMP=012\n\n", "bad __REALTIME_TIMESTAMP"),
                B("__CURSOR=c\n__REALTIME_TIMESTAMP=99999999999999999999\n\n", "bad __REALTIME_TIMESTAMP"),
                B("__CURSOR=c\n__CURSOR=d\n", "twice"),
                B("__CURSOR=\n", "bad __CURSOR"),
                B("M\n\1\0\0\0\0\0\0\0xy", "not followed by a newline"),
                B("M\n\0\0\0\0\0\0\0\x80", "longer than 1 GiB"),
                B("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x\n", "longer than 64"),
#undef B
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(true);
                Error *err = NULL;
                Got g = { 0 };
                int r = journal_export_feed(p, bad[i].in, bad[i].len, collect, &g, &err);
                if (r != -EPROTO)
                        TAP_FAIL("case %zu: %d", i, r);
                ASSERT_CONTAINS(err->msg, bad[i].why);
                ASSERT_CONTAINS(err->msg, "journalctl's output at byte");
                ASSERT_EQ(g.n, 0);
                error_free(err);
        }
        /* Output that ends inside an entry, or inside a field. */
        static const char *const cut[] = { "__CURSOR=c\n", "__CURSOR=c", "M\n\1\0", "M" };
        for (size_t i = 0; i < ELEMENTSOF(cut); i++) {
                _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(false);
                Error *err = NULL;
                ASSERT_OK(journal_export_feed(p, cut[i], strlen(cut[i]), collect, &(Got){ 0 }, &err));
                ASSERT_EQ(journal_export_finish(p, &err), -EPROTO);
                ASSERT_CONTAINS(err->msg, "ends inside an entry");
                error_free(err);
        }
}

TEST(export_parser_bounds)
{
        /* A MESSAGE longer than JOURNAL_MESSAGE_MAX skips the entry, not the read; a long unknown
         * field and a long attribute cost nothing; the next entry is fine. */
        size_t big = JOURNAL_MESSAGE_MAX + 10;
        _cleanup_free_ char *in = xmalloc(3 * big + 1024);
        size_t n = 0;
        Error *err = NULL;
        Got g = { 0 };

        n += (size_t)sprintf(in + n, "__CURSOR=a\n__REALTIME_TIMESTAMP=1\nMESSAGE=");
        memset(in + n, 'm', big), n += big;
        n += (size_t)sprintf(in + n, "\nUNKNOWN_FIELD=");
        memset(in + n, 'u', big), n += big;
        n += (size_t)sprintf(in + n, "\nBIG_ATTR=");
        memset(in + n, 'b', JOURNAL_ATTR_VALUE_MAX + 1), n += JOURNAL_ATTR_VALUE_MAX + 1;
        n += (size_t)sprintf(in + n, "\n\n__CURSOR=b\n__REALTIME_TIMESTAMP=2\nMESSAGE=ok\nPRIORITY=9\n\n");

        _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(true);
        ASSERT_OK(journal_export_feed(p, in, n, collect, &g, &err));
        ASSERT_OK(journal_export_finish(p, &err));
        ASSERT_EQ(g.n, 2);
        ASSERT_TRUE(!g.has_message[0]);
        ASSERT_STREQ(g.attrs[0], "");
        ASSERT_TRUE(g.has_message[1]);
        ASSERT_EQ(g.prio[1], -1);
        ASSERT_TRUE(memcmp(g.msg[1], "ok", 2) == 0);
}

/* ================================================================ part two: the wire */

static const char SOCK[] = JOURNALD_SOCKET;

/* A receiver bound at journald's path, in the private namespace. */
static int fake_journald(void)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        memcpy(a.sun_path, SOCK, sizeof(SOCK));
        unlink(SOCK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return -1;
        return fd;
}

typedef struct Field {
        char name[80];
        char *value;
        size_t len;
        bool binary;
} Field;

typedef struct Datagram {
        Field f[64];
        int n;
        bool via_memfd;
        int seals;
} Datagram;

static void datagram_free(Datagram *d)
{
        for (int i = 0; i < d->n; i++)
                free(d->f[i].value);
        d->n = 0;
}

/* journald's native protocol, decoded strictly: -1 on anything malformed. */
static int decode_native(const char *p, size_t len, Datagram *d)
{
        size_t i = 0;
        while (i < len) {
                const char *nl = memchr(p + i, '\n', len - i), *eq;
                Field *f;
                if (!nl || d->n >= 64)
                        return -1;
                f = &d->f[d->n];
                eq = memchr(p + i, '=', (size_t)(nl - (p + i)));
                if (eq) {
                        size_t nn = (size_t)(eq - (p + i));
                        if (nn == 0 || nn >= sizeof(f->name))
                                return -1;
                        memcpy(f->name, p + i, nn);
                        f->name[nn] = '\0';
                        f->len = (size_t)(nl - eq - 1);
                        f->value = xmalloc(f->len + 1);
                        memcpy(f->value, eq + 1, f->len);
                        f->value[f->len] = '\0';
                        f->binary = false;
                        i = (size_t)(nl - p) + 1;
                } else {
                        size_t nn = (size_t)(nl - (p + i));
                        uint64_t vl = 0;
                        if (nn == 0 || nn >= sizeof(f->name))
                                return -1;
                        memcpy(f->name, p + i, nn);
                        f->name[nn] = '\0';
                        i += nn + 1;
                        if (len - i < 8)
                                return -1;
                        for (int k = 7; k >= 0; k--)
                                vl = (vl << 8) | (unsigned char)p[i + (size_t)k];
                        i += 8;
                        if (vl > len - i || len - i - vl < 1 || p[i + vl] != '\n')
                                return -1;
                        f->len = (size_t)vl;
                        f->value = xmalloc(f->len + 1);
                        memcpy(f->value, p + i, f->len);
                        f->value[f->len] = '\0';
                        f->binary = true;
                        i += (size_t)vl + 1;
                }
                for (const char *c = f->name; *c; c++)
                        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                                return -1;
                d->n++;
        }
        return 0;
}

static int recv_datagram(int fd, Datagram *d)
{
        static char buf[4 << 20];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int) * 4)];
        } ctl;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        struct cmsghdr *c;
        int mfd = -1;

        memset(d, 0, sizeof(*d));
        if (n < 0)
                return -1;
        for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(&mfd, CMSG_DATA(c), sizeof(int));
        if (mfd >= 0) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                int r;
                if (n != 0) /* the fd comes alone */
                        return -1;
                d->via_memfd = true;
                d->seals = fcntl(mfd, F_GET_SEALS);
                /* The sender's file offset is at its end: journald maps the file, we read it from 0. */
                if (lseek(mfd, 0, SEEK_SET) != 0)
                        return -1;
                r = read_all_fd(mfd, 64 << 20, &data, &len);
                close(mfd);
                return r < 0 ? -1 : decode_native(data, len, d);
        }
        return decode_native(buf, (size_t)n, d);
}

static const Field *field(const Datagram *d, const char *name)
{
        const Field *found = NULL;
        for (int i = 0; i < d->n; i++)
                if (STREQ(d->f[i].name, name)) {
                        if (found)
                                return NULL; /* twice: no test expects that */
                        found = &d->f[i];
                }
        return found;
}

#define ASSERT_FIELD(d, name, want)                                                                            \
        do {                                                                                                   \
                const Field *_f = field((d), (name));                                                         \
                if (!_f)                                                                                       \
                        TAP_FAIL("field %s missing or repeated", (name));                                     \
                ASSERT_STREQ(_f->value, (want));                                                               \
        } while (0)

static LogInfo test_info(const char *id, json_t *attrs)
{
        return (LogInfo){
                .id = id,
                .name = "web",
                .image_name = "busybox",
                .image_id = "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                .command = "sh -c x",
                .hostname = "h",
                .daemon_name = "stockade",
                .created = "2026-11-28T00:00:00Z",
                .log_path = "",
                .config = NULL,
                .tag = "webtag",
                .attrs = attrs,
        };
}

TEST(open_without_journald)
{
        LogDriver *d = NULL;
        Error *err = NULL;
        char id[65];
        LogInfo info;

        if (!ns_enter())
                TAP_SKIP("%s", ns_why);
        unlink(SOCK);
        random_id(id);
        info = test_info(id, NULL);
        ASSERT_TRUE(log_driver_journald.open(&info, &d, &err) < 0);
        ASSERT_CONTAINS(err->msg, "journald is not enabled on this host (/run/systemd/journal/socket)");
        error_free(err);
}

TEST(wire_fields)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_json_ json_t *attrs = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "com.example.a", "1", "multi", "x\ny",
                                                 "container_id_full", "forged", "9bad", "v", "dup.key", "first",
                                                 "dup-key", "second");
        LogDriver *d = NULL;
        Error *err = NULL;
        Datagram g;
        char id[65], id12[13];
        LogInfo info;
        const Field *f;

        if (!ns_enter())
                TAP_SKIP("%s", ns_why);
        fd = fake_journald();
        ASSERT_TRUE(fd >= 0);
        random_id(id);
        memcpy(id12, id, 12);
        id12[12] = '\0';
        info = test_info(id, attrs);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));

        LogMsg m = { .stream = "stdout", .line = "hello\n", .len = 5, .newline = true, .ts = { 1795915503, 627338120 } };
        ASSERT_OK(d->ops->log(d, &m, &err));
        ASSERT_OK(recv_datagram(fd, &g));
        ASSERT_TRUE(!g.via_memfd);
        ASSERT_STREQ(g.f[0].name, "MESSAGE"); /* first, as in every journald client */
        ASSERT_FIELD(&g, "MESSAGE", "hello");
        ASSERT_FIELD(&g, "PRIORITY", "6");
        ASSERT_FIELD(&g, "SYSLOG_TIMESTAMP", "2026-11-29T01:25:03.62733812Z");
        ASSERT_FIELD(&g, "CONTAINER_ID", id12);
        ASSERT_FIELD(&g, "CONTAINER_ID_FULL", id);
        ASSERT_FIELD(&g, "CONTAINER_NAME", "web");
        ASSERT_FIELD(&g, "CONTAINER_TAG", "webtag");
        ASSERT_FIELD(&g, "SYSLOG_IDENTIFIER", "webtag");
        ASSERT_FIELD(&g, "IMAGE_NAME", "busybox");
        ASSERT_FIELD(&g, "CONTAINER_LOG_ORDINAL", "1");
        ASSERT_FIELD(&g, "COM_EXAMPLE_A", "1");
        ASSERT_FIELD(&g, "MULTI", "x\ny");
        ASSERT_TRUE(field(&g, "MULTI")->binary);
        ASSERT_TRUE(!field(&g, "MESSAGE")->binary);
        ASSERT_FIELD(&g, "DUP_KEY", "second"); /* "dup-key" sorts before "dup.key" */
        ASSERT_TRUE(field(&g, "9BAD") == NULL);
        ASSERT_TRUE(field(&g, "CONTAINER_PARTIAL_ID") == NULL);
        ASSERT_TRUE(field(&g, "CONTAINER_PARTIAL_MESSAGE") == NULL);
        f = field(&g, "CONTAINER_LOG_EPOCH");
        ASSERT_TRUE(f && f->len == 64 && strspn(f->value, "0123456789abcdef") == 64);
        _cleanup_free_ char *epoch = xstrdup(f->value);
        datagram_free(&g);

        /* stderr, a line with "\n" and NUL inside (binary MESSAGE), pieces of a split line. */
        static const char odd[] = "a\0b\nc\xff";
        m = (LogMsg){ .stream = "stderr", .line = odd, .len = sizeof(odd) - 1, .newline = false, .ts = { 1795915503, 0 } };
        ASSERT_OK(d->ops->log(d, &m, &err));
        ASSERT_OK(recv_datagram(fd, &g));
        f = field(&g, "MESSAGE");
        ASSERT_TRUE(f && f->binary && f->len == sizeof(odd) - 1 && memcmp(f->value, odd, f->len) == 0);
        ASSERT_FIELD(&g, "PRIORITY", "3");
        ASSERT_FIELD(&g, "SYSLOG_TIMESTAMP", "2026-11-29T01:25:03Z");
        ASSERT_FIELD(&g, "CONTAINER_LOG_ORDINAL", "2");
        ASSERT_FIELD(&g, "CONTAINER_LOG_EPOCH", epoch);
        datagram_free(&g);

        static const char pid[] = "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee0";
        for (int k = 1; k <= 3; k++) {
                m = (LogMsg){ .stream = "stdout", .line = "piece", .len = 5, .newline = k == 3, .ts = { 1795915503, 5 },
                              .partial_id = pid, .partial_ordinal = k, .partial_last = k == 3 };
                ASSERT_OK(d->ops->log(d, &m, &err));
                ASSERT_OK(recv_datagram(fd, &g));
                ASSERT_FIELD(&g, "CONTAINER_PARTIAL_ID", pid);
                ASSERT_FIELD(&g, "CONTAINER_PARTIAL_ORDINAL", k == 1 ? "1" : k == 2 ? "2" : "3");
                ASSERT_FIELD(&g, "CONTAINER_PARTIAL_LAST", k == 3 ? "true" : "false");
                if (k < 3)
                        ASSERT_FIELD(&g, "CONTAINER_PARTIAL_MESSAGE", "true");
                else
                        ASSERT_TRUE(field(&g, "CONTAINER_PARTIAL_MESSAGE") == NULL);
                ASSERT_FIELD(&g, "SYSLOG_TIMESTAMP", "2026-11-29T01:25:03.000000005Z");
                datagram_free(&g);
        }
        d->ops->close(d);
        unlink(SOCK);
}

TEST(wire_large_entries_through_a_sealed_memfd)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *big = xmalloc(1 << 20), *label = xmalloc(300 * 1024 + 1);
        _cleanup_json_ json_t *attrs = NULL;
        LogDriver *d = NULL;
        Error *err = NULL;
        Datagram g;
        char id[65];
        LogInfo info;
        const Field *f;

        if (!ns_enter())
                TAP_SKIP("%s", ns_why);
        fd = fake_journald();
        ASSERT_TRUE(fd >= 0);
        for (size_t i = 0; i < (1 << 20); i++)
                big[i] = (char)('a' + i % 26);
        memset(label, 'L', 300 * 1024);
        label[300 * 1024] = '\0';
        attrs = json_pack("{s:s}", "big", label);
        random_id(id);
        info = test_info(id, NULL);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        /* A 1 MiB message (the pipe sends 16 KiB at most; the driver takes any). */
        LogMsg m = { .stream = "stdout", .line = big, .len = 1 << 20, .ts = { 1, 0 } };
        ASSERT_OK(d->ops->log(d, &m, &err));
        ASSERT_OK(recv_datagram(fd, &g));
        ASSERT_TRUE(g.via_memfd);
        ASSERT_EQ(g.seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        f = field(&g, "MESSAGE");
        ASSERT_TRUE(f && f->len == (1 << 20) && memcmp(f->value, big, f->len) == 0);
        ASSERT_FIELD(&g, "CONTAINER_ID_FULL", id);
        datagram_free(&g);
        /* A small message goes as a datagram. */
        m.len = 10;
        ASSERT_OK(d->ops->log(d, &m, &err));
        ASSERT_OK(recv_datagram(fd, &g));
        ASSERT_TRUE(!g.via_memfd);
        datagram_free(&g);
        d->ops->close(d);

        /* 300 KiB of labels: every message of that container goes through a memfd. */
        info = test_info(id, attrs);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        m.len = 3;
        ASSERT_OK(d->ops->log(d, &m, &err));
        ASSERT_OK(recv_datagram(fd, &g));
        ASSERT_TRUE(g.via_memfd);
        f = field(&g, "BIG");
        ASSERT_TRUE(f && f->len == 300 * 1024);
        ASSERT_FIELD(&g, "MESSAGE", "abc");
        datagram_free(&g);
        d->ops->close(d);
        unlink(SOCK);
}

/* ================================================================ part two: a real journald */

static bool put_file(const char *path, const char *s)
{
        FILE *f = fopen(path, "we");
        bool ok = f && fputs(s, f) >= 0;
        if (f && fclose(f) != 0)
                ok = false;
        return ok;
}

static char journald_why[256];

/* Starts journald once; false (with journald_why) where the machine cannot. */
static bool journald_up(void)
{
        char *why = journald_why;
        size_t whylen = sizeof(journald_why);
        const char *bin = NULL;
        struct stat st;

        if (journald_pid > 0)
                return true;
        if (*journald_why)
                return false;
        if (!ns_enter()) {
                snprintf(why, whylen, "%s", ns_why);
                return false;
        }
        for (size_t i = 0; i < ELEMENTSOF(journald_paths); i++)
                if (access(journald_paths[i], X_OK) == 0)
                        bin = journald_paths[i];
        if (!bin) {
                snprintf(why, whylen, "systemd-journald not installed (Debian's systemd package)");
                return false;
        }
        if (system("command -v journalctl >/dev/null") != 0) {
                snprintf(why, whylen, "journalctl not installed");
                return false;
        }
        /*
         * Persistent storage in the tmpfs on /var/log, written from the start ("flushed" says the
         * runtime journal was already moved there), no rate limit, no kernel log, nothing forwarded.
         */
        (void)mkdir("/run/systemd/journald.conf.d", 0755);
        if (!put_file("/run/systemd/journald.conf.d/test.conf",
                      "[Journal]\nStorage=persistent\nReadKMsg=no\nRateLimitBurst=0\n"
                      "ForwardToSyslog=no\nForwardToWall=no\nForwardToConsole=no\n") ||
            !put_file("/run/systemd/journal/flushed", "")) {
                snprintf(why, whylen, "writing journald's configuration: %s", strerror(errno));
                return false;
        }
        unlink(SOCK);
        journald_pid = fork();
        if (journald_pid == 0) {
                char log[600];
                snprintf(log, sizeof(log), "%s/journald.log", work);
                int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (lfd >= 0) {
                        dup2(lfd, 1);
                        dup2(lfd, 2);
                }
                execl(bin, bin, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 1000 && stat(SOCK, &st) < 0; i++)
                sleep_ms(10);
        if (stat(SOCK, &st) < 0) {
                snprintf(why, whylen, "systemd-journald did not come up (see %s/journald.log)", work);
                return false;
        }
        return true;
}

/* `journalctl -o json` for one container, read with jansson: an array of entries, oldest first. */
static json_t *journalctl_json(const char *id)
{
        char cmd[256];
        json_t *arr = json_array();
        FILE *f;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        snprintf(cmd, sizeof(cmd), "journalctl --no-pager --all -q -o json CONTAINER_ID_FULL=%s", id);
        f = popen(cmd, "r");
        if (!f)
                return arr;
        while ((n = getline(&line, &cap, f)) > 0) {
                json_t *e = json_loadb(line, (size_t)n, 0, NULL);
                if (e)
                        json_array_append_new(arr, e);
        }
        free(line);
        pclose(f);
        return arr;
}

/* Waits (without a time assertion) until the container has n entries; returns them. */
static json_t *entries(const char *id, size_t n)
{
        json_t *a = NULL;
        for (int i = 0; i < 500; i++) {
                json_decref(a);
                a = journalctl_json(id);
                if (json_array_size(a) >= n)
                        break;
                sleep_ms(20);
        }
        return a;
}

/* A field of a json entry: a string, or journalctl's array of byte values for binary data. */
static char *jfield(json_t *e, const char *name, size_t *ret_len)
{
        json_t *v = json_object_get(e, name);
        char *out;
        if (json_is_string(v)) {
                *ret_len = json_string_length(v);
                out = xmalloc(*ret_len + 1);
                memcpy(out, json_string_value(v), *ret_len + 1);
                return out;
        }
        if (json_is_array(v) && json_array_size(v) > 0 && json_is_integer(json_array_get(v, 0))) {
                size_t i;
                json_t *b;
                out = xmalloc(json_array_size(v) + 1);
                json_array_foreach(v, i, b) out[i] = (char)json_integer_value(b);
                out[json_array_size(v)] = '\0';
                *ret_len = json_array_size(v);
                return out;
        }
        *ret_len = 0;
        return NULL;
}

static const char *jstr(json_t *e, const char *name)
{
        return json_string_value(json_object_get(e, name));
}

static int log_line(LogDriver *d, const char *stream, const char *s)
{
        struct timespec ts;
        Error *err = NULL;
        LogMsg m;
        int r;
        clock_gettime(CLOCK_REALTIME, &ts);
        m = (LogMsg){ .stream = stream, .line = s, .len = strlen(s), .newline = true, .ts = ts };
        r = d->ops->log(d, &m, &err);
        error_free(err);
        return r;
}

TEST(journald_receives_docker_fields)
{
        _cleanup_json_ json_t *attrs = json_pack("{s:s, s:s}", "com.example.version", "1.2", "multi", "x\ny");
        _cleanup_json_ json_t *got = NULL;
        char id[65];
        LogDriver *d = NULL;
        Error *err = NULL;
        LogInfo info;
        json_t *e;

        if (!journald_up())
                TAP_SKIP("%s", journald_why);
        random_id(id);
        info = test_info(id, attrs);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        ASSERT_OK(log_line(d, "stdout", "out line"));
        ASSERT_OK(log_line(d, "stderr", "err line"));
        d->ops->close(d);
        got = entries(id, 2);
        ASSERT_EQ(json_array_size(got), 2);
        e = json_array_get(got, 0);
        ASSERT_STREQ(jstr(e, "MESSAGE"), "out line");
        ASSERT_STREQ(jstr(e, "PRIORITY"), "6");
        ASSERT_STREQ(jstr(e, "CONTAINER_ID_FULL"), id);
        ASSERT_TRUE(strlen(jstr(e, "CONTAINER_ID")) == 12 && strncmp(jstr(e, "CONTAINER_ID"), id, 12) == 0);
        ASSERT_STREQ(jstr(e, "CONTAINER_NAME"), "web");
        ASSERT_STREQ(jstr(e, "CONTAINER_TAG"), "webtag");
        ASSERT_STREQ(jstr(e, "SYSLOG_IDENTIFIER"), "webtag");
        ASSERT_STREQ(jstr(e, "IMAGE_NAME"), "busybox");
        ASSERT_STREQ(jstr(e, "COM_EXAMPLE_VERSION"), "1.2");
        ASSERT_STREQ(jstr(e, "CONTAINER_LOG_ORDINAL"), "1");
        ASSERT_STREQ(jstr(e, "_TRANSPORT"), "journal");
        ASSERT_TRUE(jstr(e, "SYSLOG_TIMESTAMP") && strlen(jstr(e, "SYSLOG_TIMESTAMP")) >= 20);
        size_t ml;
        _cleanup_free_ char *multi = jfield(e, "MULTI", &ml);
        ASSERT_TRUE(multi && ml == 3 && memcmp(multi, "x\ny", 3) == 0);
        e = json_array_get(got, 1);
        ASSERT_STREQ(jstr(e, "MESSAGE"), "err line");
        ASSERT_STREQ(jstr(e, "PRIORITY"), "3");
        ASSERT_STREQ(jstr(e, "CONTAINER_LOG_ORDINAL"), "2");
        ASSERT_STREQ(jstr(e, "CONTAINER_LOG_EPOCH"), jstr(json_array_get(got, 0), "CONTAINER_LOG_EPOCH"));
}

TEST(journald_binary_safe_and_large)
{
        static const char odd[] = "nul\0newline\nff\xff end";
        _cleanup_free_ char *big = xmalloc(1 << 20), *label = xmalloc(300 * 1024 + 1);
        _cleanup_json_ json_t *attrs = NULL, *got = NULL;
        char id[65];
        LogDriver *d = NULL;
        Error *err = NULL;
        LogInfo info;
        size_t len;

        if (!journald_up())
                TAP_SKIP("%s", journald_why);
        for (size_t i = 0; i < (1 << 20); i++)
                big[i] = (char)('a' + i % 26);
        memset(label, 'L', 300 * 1024);
        label[300 * 1024] = '\0';
        attrs = json_pack("{s:s}", "big", label);
        random_id(id);
        info = test_info(id, attrs);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        LogMsg m = { .stream = "stdout", .line = odd, .len = sizeof(odd) - 1, .ts = { 1795915503, 1 } };
        ASSERT_OK(d->ops->log(d, &m, &err));
        m = (LogMsg){ .stream = "stdout", .line = big, .len = 1 << 20, .ts = { 1795915503, 2 } };
        ASSERT_OK(d->ops->log(d, &m, &err));
        d->ops->close(d);
        got = entries(id, 2);
        ASSERT_EQ(json_array_size(got), 2);
        _cleanup_free_ char *m0 = jfield(json_array_get(got, 0), "MESSAGE", &len);
        ASSERT_TRUE(m0 && len == sizeof(odd) - 1 && memcmp(m0, odd, len) == 0);
        _cleanup_free_ char *m1 = jfield(json_array_get(got, 1), "MESSAGE", &len);
        ASSERT_TRUE(m1 && len == (1 << 20) && memcmp(m1, big, len) == 0);
        _cleanup_free_ char *b = jfield(json_array_get(got, 1), "BIG", &len);
        ASSERT_TRUE(b && len == 300 * 1024 && b[0] == 'L' && b[len - 1] == 'L');
}

/* ---- reading back with journald_log_read */

typedef struct Out {
        char buf[1 << 17];
        size_t len;
        int n;
        int stop_after;
} Out;

static int out_fn(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        Out *o = ud;
        int w = snprintf(o->buf + o->len, sizeof(o->buf) - o->len, "%s|", stream);
        if (w < 0 || (size_t)w >= sizeof(o->buf) - o->len || len >= sizeof(o->buf) - o->len - (size_t)w)
                return -ENOSPC;
        o->len += (size_t)w;
        memcpy(o->buf + o->len, msg, len);
        o->len += len;
        o->buf[o->len] = '\0';
        if (msg[len] != '\0' || ts->tv_nsec % 1000 != 0)
                return -EINVAL;
        o->n++;
        return o->stop_after && o->n >= o->stop_after ? 1 : 0;
}

/* A container with lines a..e on stdout/stderr alternately, their journal times known. */
static int fill(const char *id, json_t *attrs, uint64_t rt[5])
{
        static const char *const lines[] = { "a", "b", "c", "d", "e" };
        LogDriver *d = NULL;
        Error *err = NULL;
        LogInfo info = test_info(id, attrs);
        _cleanup_json_ json_t *got = NULL;
        size_t i;
        json_t *e;

        if (log_driver_journald.open(&info, &d, &err) < 0)
                return -1;
        for (i = 0; i < 5; i++)
                if (log_line(d, i % 2 ? "stderr" : "stdout", lines[i]) < 0)
                        return -1;
        d->ops->close(d);
        got = entries(id, 5);
        if (json_array_size(got) != 5)
                return -1;
        json_array_foreach(got, i, e) {
                uint64_t v;
                if (parse_uint64(jstr(e, "__REALTIME_TIMESTAMP"), &v) < 0)
                        return -1;
                rt[i] = v;
        }
        return 0;
}

static struct timespec us_ts(uint64_t us)
{
        return (struct timespec){ .tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000 };
}

TEST(reader_tail_since_until_details)
{
        _cleanup_json_ json_t *attrs = json_pack("{s:s, s:s}", "com.example.b", "x y", "a", "1");
        char id[65];
        Error *err = NULL;
        uint64_t rt[5];
        static Out o;

        if (!journald_up())
                TAP_SKIP("%s", journald_why);
        random_id(id);
        ASSERT_OK(fill(id, attrs, rt));

        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = -1 }, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stdout|a\nstderr|b\nstdout|c\nstderr|d\nstdout|e\n");

        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = 2 }, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stderr|d\nstdout|e\n");

        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = 0 }, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "");

        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = 10 }, out_fn, &o, &err));
        ASSERT_EQ(o.n, 5);

        /* since is inclusive, until exclusive, to the nanosecond around the journal's microseconds. */
        memset(&o, 0, sizeof(o));
        JsonLogReadOpts r = { .tail = -1, .has_since = true, .since = us_ts(rt[1]), .has_until = true, .until = us_ts(rt[3]) };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stderr|b\nstdout|c\n");
        memset(&o, 0, sizeof(o));
        r.since.tv_nsec += 1;
        if (r.since.tv_nsec >= 1000000000L)
                r.since.tv_sec++, r.since.tv_nsec -= 1000000000L;
        r.until.tv_nsec += 1;
        if (r.until.tv_nsec >= 1000000000L)
                r.until.tv_sec++, r.until.tv_nsec -= 1000000000L;
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stdout|c\nstderr|d\n");

        /* tail within since: the last one of b..e */
        memset(&o, 0, sizeof(o));
        r = (JsonLogReadOpts){ .tail = 1, .has_until = true, .until = us_ts(rt[4]) };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stderr|d\n");
        memset(&o, 0, sizeof(o));
        r = (JsonLogReadOpts){ .tail = 3, .has_since = true, .since = us_ts(rt[3]) };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stderr|d\nstdout|e\n");

        /* details: the attribute fields, sorted, query-escaped, as docker prints them */
        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = 1, .details = true }, out_fn, &o, &err));
        ASSERT_STREQ(o.buf, "stdout|A=1,COM_EXAMPLE_B=x+y e\n");

        /* fn stopping the read */
        memset(&o, 0, sizeof(o));
        o.stop_after = 2;
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = -1 }, out_fn, &o, &err));
        ASSERT_EQ(o.n, 2);

        /* another container's id: nothing; not an id: refused */
        char other[65];
        random_id(other);
        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(other, &(JsonLogReadOpts){ .tail = -1 }, out_fn, &o, &err));
        ASSERT_EQ(o.n, 0);
        ASSERT_EQ(journald_log_read("x y", &(JsonLogReadOpts){ .tail = -1 }, out_fn, &o, &err), -EINVAL);
        error_free(err);
}

TEST(reader_rejoins_pieces)
{
        char id[65], pid[65];
        static char line[40 * 1024 + 1];
        static Out o;
        LogDriver *d = NULL;
        Error *err = NULL;
        LogInfo info;
        size_t off = 0;
        int k = 0;

        if (!journald_up())
                TAP_SKIP("%s", journald_why);
        random_id(id);
        random_id(pid);
        for (size_t i = 0; i < sizeof(line) - 1; i++)
                line[i] = (char)('A' + i % 23);
        info = test_info(id, NULL);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        ASSERT_OK(log_line(d, "stdout", "before"));
        /* 40 KiB in 16 KiB pieces as the pipe sends them, then an unfinished last line. */
        while (off < sizeof(line) - 1) {
                size_t n = sizeof(line) - 1 - off < 16384 ? sizeof(line) - 1 - off : 16384;
                bool last = off + n == sizeof(line) - 1;
                LogMsg m = { .stream = "stdout", .line = line + off, .len = n, .newline = last, .ts = { 1795915503, 0 },
                             .partial_id = pid, .partial_ordinal = ++k, .partial_last = last };
                ASSERT_OK(d->ops->log(d, &m, &err));
                off += n;
        }
        random_id(pid);
        LogMsg m = { .stream = "stdout", .line = "tail", .len = 4, .newline = false, .ts = { 1795915504, 0 },
                     .partial_id = pid, .partial_ordinal = 1, .partial_last = false };
        ASSERT_OK(d->ops->log(d, &m, &err));
        d->ops->close(d);
        json_decref(entries(id, 5));

        memset(&o, 0, sizeof(o));
        ASSERT_OK(journald_log_read(id, &(JsonLogReadOpts){ .tail = -1 }, out_fn, &o, &err));
        ASSERT_EQ(o.n, 5); /* docker's reader gives each piece; without "\n" they make the line */
        _cleanup_free_ char *want = xasprintf("stdout|before\nstdout|%.16384sstdout|%.16384sstdout|%s\nstdout|tail", line,
                                              line + 16384, line + 32768);
        if (o.len != strlen(want) || memcmp(o.buf, want, o.len) != 0) {
                size_t i = 0;
                while (i < o.len && o.buf[i] == want[i])
                        i++;
                TAP_FAIL("got %zu bytes, want %zu; first difference at %zu: \"%.40s\"", o.len, strlen(want), i, o.buf + i);
        }
}

static pid_t writer;
static int writer_go = -1; /* the write end of a pipe: the writer starts when it closes */
static int running_calls;

/*
 * The reader asks before it starts (the first call) and then while it follows: the writer is let go
 * at the second call, so that what it logs is new to the reader, whose tail is already taken.
 */
static bool writer_running(void *ud)
{
        int st;
        if (++running_calls == 2 && writer_go >= 0) {
                close(writer_go);
                writer_go = -1;
        }
        if (writer <= 0)
                return false;
        if (waitpid(writer, &st, WNOHANG) == writer) {
                writer = 0;
                return false;
        }
        return true;
}

TEST(reader_follow_until_the_writer_stops)
{
        char id[65];
        static Out o;
        LogDriver *d = NULL;
        Error *err = NULL;
        LogInfo info;

        if (!journald_up())
                TAP_SKIP("%s", journald_why);
        random_id(id);
        info = test_info(id, NULL);
        ASSERT_OK(log_driver_journald.open(&info, &d, &err));
        ASSERT_OK(log_line(d, "stdout", "old1"));
        ASSERT_OK(log_line(d, "stdout", "old2"));
        d->ops->close(d);
        json_decref(entries(id, 2));

        /* The writer logs while the reader follows, then closes its driver and exits, as the monitor does. */
        int go[2];
        ASSERT_OK(pipe2(go, O_CLOEXEC));
        running_calls = 0;
        writer = fork();
        if (writer == 0) {
                LogDriver *w = NULL;
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 0 || log_driver_journald.open(&info, &w, NULL) < 0)
                        _exit(1);
                for (int i = 0; i < 20; i++) {
                        char s[32];
                        snprintf(s, sizeof(s), "new%d", i);
                        if (log_line(w, i % 3 ? "stdout" : "stderr", s) < 0)
                                _exit(1);
                        sleep_ms(i % 5 ? 5 : 100);
                }
                w->ops->close(w);
                _exit(0);
        }
        close(go[0]);
        writer_go = go[1];
        memset(&o, 0, sizeof(o));
        JsonLogReadOpts r = { .tail = 1, .follow = true, .running = writer_running };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_EQ(writer, 0);
        if (o.n != 21)
                TAP_FAIL("%d messages: %s", o.n, o.buf);
        ASSERT_TRUE(strncmp(o.buf, "stdout|old2\nstderr|new0\nstdout|new1\n", 36) == 0);
        ASSERT_CONTAINS(o.buf, "stdout|new19\n");

        /* Follow with --tail 0 of a stopped container: nothing, at once. */
        memset(&o, 0, sizeof(o));
        r = (JsonLogReadOpts){ .tail = 0, .follow = true, .running = writer_running };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_EQ(o.n, 0);
        /* Follow from the start of a stopped container: everything. */
        r = (JsonLogReadOpts){ .tail = -1, .follow = true, .running = writer_running };
        ASSERT_OK(journald_log_read(id, &r, out_fn, &o, &err));
        ASSERT_EQ(o.n, 22);
}
