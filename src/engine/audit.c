/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log (audit.h, docs/EVENTS.md): hash-chained records appended under a directory lock,
 * rotation that keeps the chain, verification that names the first bad record, and forwarding.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "json-util.h"
#include "util.h"

#define FILE_PREFIX   "audit-"
#define HASH_MEMBER   ",\"hash\":\""
#define SUFFIX_LEN    (9 + 64 + 2) /* ,"hash":"<64 hex>"} */
#define HEAD_LEN      (20 + 1 + 64 + 1)
#define FILE_MAX      ((size_t)256 << 20) /* a file verify reads: rotation keeps them far smaller */
#define RECORDS_MAX   ((size_t)16 << 20)
#define HEAD_LAG_MAX  64 /* records one append writes at most (rotate + retention + record), with margin */
#define SYSLOG_SOCKET   "/dev/log"
#define JOURNAL_SOCKET  "/run/systemd/journal/socket"
#define LOG_AUTHPRIV_FAC 10

static const char zero_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";

static int close_fd(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}

static void sha256_hex(const char *a, size_t alen, const char *b, size_t blen, char hex[65])
{
        static const char digits[] = "0123456789abcdef";
        struct sha256_ctx ctx;
        uint8_t md[SHA256_DIGEST_SIZE];

        sha256_init(&ctx);
        sha256_update(&ctx, alen, (const uint8_t *)a);
        sha256_update(&ctx, blen, (const uint8_t *)b);
        sha256_digest(&ctx, sizeof(md), md);
        for (size_t i = 0; i < sizeof(md); i++) {
                hex[2 * i] = digits[md[i] >> 4];
                hex[2 * i + 1] = digits[md[i] & 0xF];
        }
        hex[64] = '\0';
}

static bool is_hex64(const char *s, size_t n)
{
        if (n != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static void format_time(const struct timespec *ts, char buf[64])
{
        struct tm tm;
        char date[48];
        time_t t = ts->tv_sec;

        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, 64, "%s.%09ldZ", date, (long)ts->tv_nsec);
}

int audit_parse_time(const char *s, int64_t *ret_ns)
{
        struct tm tm = { 0 };
        const char *p;
        int64_t frac = 0;
        int digits = 0;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits++ < 9)
                                frac = frac * 10 + (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 9; digits++)
                        frac *= 10;
        }
        if (!STREQ(p, "Z"))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0 || t > INT64_MAX / 1000000000 - 1)
                return -EINVAL;
        *ret_ns = (int64_t)t * 1000000000 + frac;
        return 0;
}

/* ================================================================ configuration */

static void config_defaults(AuditConfig *c)
{
        *c = (AuditConfig){ .max_size = AUDIT_DEFAULT_MAX_SIZE, .max_files = AUDIT_DEFAULT_MAX_FILES };
}

void audit_config(Engine *e, AuditConfig *ret)
{
        const char *size = json_string_value(json_object_get(e->daemon, "audit-max-size"));
        const char *fwd = json_string_value(json_object_get(e->daemon, "audit-forward"));
        int64_t v;

        config_defaults(ret);
        if (size && parse_size(size, &v) == 0 && v > 0)
                ret->max_size = v;
        if (fwd && STREQ(fwd, "syslog"))
                ret->forward = AUDIT_FORWARD_SYSLOG;
        else if (fwd && STREQ(fwd, "journald"))
                ret->forward = AUDIT_FORWARD_JOURNALD;
}

char *audit_dir(Engine *e)
{
        return xasprintf("%s/%s", e->data_root, AUDIT_DIR);
}

/* ================================================================ records */

typedef struct Chain {
        uint64_t seq;  /* 0: none */
        char hash[65];
} Chain;

typedef struct Parsed {
        uint64_t seq;
        char hash[65], prev[65];
        bool hash_ok;
        bool retention; /* a "retention" record: dropped_* say what it covers */
        uint64_t dropped_last_seq;
        char dropped_last_hash[65];
} Parsed;

/* One line of an audit file (no "\n"); -EINVAL when it is not a record at all. */
static int parse_record(const char *line, size_t len, Parsed *p)
{
        _cleanup_json_ json_t *j = NULL;
        const char *prev, *hash, *action;
        json_t *seq;
        char hex[65];

        if (len < SUFFIX_LEN + 2 || len > AUDIT_MAX_RECORD || line[0] != '{' || line[len - 1] != '}' ||
            line[len - 2] != '"' || memcmp(line + len - SUFFIX_LEN, HASH_MEMBER, 9) != 0 ||
            !is_hex64(line + len - 66, 64))
                return -EINVAL;
        if (jx_parse(line, len, "audit record", &j, NULL) < 0 || !json_is_object(j))
                return -EINVAL;
        seq = json_object_get(j, "seq");
        prev = json_string_value(json_object_get(j, "prev"));
        hash = json_string_value(json_object_get(j, "hash"));
        action = json_string_value(json_object_get(j, "action"));
        if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !prev || !is_hex64(prev, strlen(prev)) || !hash ||
            strncmp(hash, line + len - 66, 64) != 0 || strlen(hash) != 64 || !action)
                return -EINVAL;
        *p = (Parsed){ .seq = (uint64_t)json_integer_value(seq) };
        memcpy(p->hash, hash, 65);
        memcpy(p->prev, prev, 65);
        sha256_hex(line, len - SUFFIX_LEN, "}", 1, hex);
        p->hash_ok = STREQ(hex, hash);
        if (STREQ(action, "retention")) {
                json_t *d = json_object_get(j, "dropped");
                json_t *ls = json_object_get(d, "last_seq");
                const char *lh = json_string_value(json_object_get(d, "last_hash"));
                if (json_is_integer(ls) && json_integer_value(ls) >= 0 && lh && is_hex64(lh, strlen(lh))) {
                        p->retention = true;
                        p->dropped_last_seq = (uint64_t)json_integer_value(ls);
                        memcpy(p->dropped_last_hash, lh, 65);
                }
        }
        return 0;
}

/* {"seq":N,"time":"...","action":"..." */
static void record_begin(GoBuf *b, uint64_t seq, const struct timespec *ts, const char *action)
{
        char t[64];

        format_time(ts, t);
        gobuf_printf(b, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"action\":", seq, t);
        (void)gobuf_json_string(b, action, strlen(action));
}

/* Adds "prev", hashes the record so far and adds "hash" and the line's end; *chain becomes this record. */
static void record_end(GoBuf *b, size_t start, Chain *chain)
{
        char hex[65];

        gobuf_printf(b, ",\"prev\":\"%s\"", chain->hash);
        sha256_hex(b->s + start, b->len - start, "}", 1, hex);
        gobuf_printf(b, HASH_MEMBER "%s\"}\n", hex);
        chain->seq++;
        memcpy(chain->hash, hex, 65);
}

static void str_member(GoBuf *b, const char *key, const char *v)
{
        gobuf_printf(b, ",\"%s\":", key);
        (void)gobuf_json_string(b, v ? v : "", v ? strlen(v) : 0);
}

static void user_member(GoBuf *b, const struct ucred *peer)
{
        char buf[32] = "";
        int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
        uint64_t login = UINT32_MAX;

        if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n > 0) {
                        buf[n] = '\0';
                        buf[strcspn(buf, "\n")] = '\0';
                        if (parse_uint64(buf, &login) < 0)
                                login = UINT32_MAX;
                }
        }
        gobuf_printf(b, ",\"user\":{\"uid\":%u,\"gid\":%u,\"loginuid\":", (unsigned)getuid(), (unsigned)getgid());
        if (login >= UINT32_MAX)
                gobuf_puts(b, "null");
        else
                gobuf_printf(b, "%" PRIu64, login);
        gobuf_printf(b, ",\"pid\":%d,\"peer\":", (int)getpid());
        if (peer)
                gobuf_printf(b, "{\"pid\":%d,\"uid\":%u,\"gid\":%u}}", (int)peer->pid, (unsigned)peer->uid,
                             (unsigned)peer->gid);
        else
                gobuf_puts(b, "null}");
}

static void append_action(GoBuf *b, Chain *chain, const AuditEntry *a, const struct timespec *ts)
{
        size_t start = b->len;

        record_begin(b, chain->seq + 1, ts, a->action ? a->action : "");
        gobuf_puts(b, ",\"actor\":{\"type\":");
        (void)gobuf_json_string(b, a->actor_type ? a->actor_type : "", a->actor_type ? strlen(a->actor_type) : 0);
        str_member(b, "id", a->actor_id);
        str_member(b, "name", a->actor_name);
        gobuf_puts(b, "}");
        user_member(b, a->peer);
        gobuf_puts(b, ",\"command\":[");
        for (size_t i = 0; a->command && a->command[i]; i++) {
                if (i > 0)
                        gobuf_puts(b, ",");
                (void)gobuf_json_string(b, a->command[i], strlen(a->command[i]));
        }
        gobuf_puts(b, "]");
        str_member(b, "outcome", a->outcome ? a->outcome : "ok");
        record_end(b, start, chain);
}

typedef struct FileInfo {
        char *name;
        uint64_t first_seq, last_seq;
        char last_hash[65];
        bool has_first, has_last;
} FileInfo;

static void append_rotate(GoBuf *b, Chain *chain, const FileInfo *prev, const struct timespec *ts)
{
        size_t start = b->len;

        record_begin(b, chain->seq + 1, ts, "rotate");
        gobuf_puts(b, ",\"previous\":{\"file\":");
        (void)gobuf_json_string(b, prev->name, strlen(prev->name));
        if (prev->has_first)
                gobuf_printf(b, ",\"first_seq\":%" PRIu64, prev->first_seq);
        if (prev->has_last)
                gobuf_printf(b, ",\"last_seq\":%" PRIu64, prev->last_seq);
        gobuf_puts(b, "}");
        record_end(b, start, chain);
}

static void append_retention(GoBuf *b, Chain *chain, const FileInfo *d, const struct timespec *ts)
{
        size_t start = b->len;

        record_begin(b, chain->seq + 1, ts, "retention");
        gobuf_puts(b, ",\"dropped\":{\"file\":");
        (void)gobuf_json_string(b, d->name, strlen(d->name));
        if (d->has_first)
                gobuf_printf(b, ",\"first_seq\":%" PRIu64, d->first_seq);
        if (d->has_last)
                gobuf_printf(b, ",\"last_seq\":%" PRIu64 ",\"last_hash\":\"%s\"", d->last_seq, d->last_hash);
        gobuf_puts(b, "}");
        record_end(b, start, chain);
}

/* ================================================================ files */

/*
 * The first and the last complete line of a file (either may be absent), and whether it ends in a torn
 * record.  Reads a few KiB at each end, more only for records that long.
 */
static void file_ends(int fd, bool want_first, Parsed *first, bool *has_first, Parsed *last, bool *has_last,
                      bool *torn)
{
        struct stat st;
        size_t want = 8192;

        *has_first = *has_last = false;
        if (torn)
                *torn = false;
        if (fstat(fd, &st) < 0 || st.st_size == 0)
                return;
        if (want_first) {
                _cleanup_free_ char *buf = xmalloc(AUDIT_MAX_RECORD + 2);
                ssize_t n = pread(fd, buf, AUDIT_MAX_RECORD + 1, 0);
                char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
                if (nl && parse_record(buf, (size_t)(nl - buf), first) == 0)
                        *has_first = true;
        }
        for (;;) {
                size_t len = (size_t)st.st_size < want ? (size_t)st.st_size : want;
                _cleanup_free_ char *buf = xmalloc(len + 1);
                ssize_t n = pread(fd, buf, len, st.st_size - (off_t)len);
                size_t end, begin;
                if (n != (ssize_t)len)
                        return;
                end = len;
                if (torn && buf[len - 1] != '\n')
                        *torn = true;
                while (end > 0 && buf[end - 1] != '\n')
                        end--; /* past a torn end */
                if (end == 0) {
                        if (len == (size_t)st.st_size || want > 2 * AUDIT_MAX_RECORD)
                                return;
                        want *= 8;
                        continue;
                }
                begin = end - 1;
                while (begin > 0 && buf[begin - 1] != '\n')
                        begin--;
                if (begin == 0 && len < (size_t)st.st_size) {
                        if (want > 2 * AUDIT_MAX_RECORD)
                                return;
                        want *= 8; /* the line may begin before what was read */
                        continue;
                }
                if (parse_record(buf + begin, end - 1 - begin, last) == 0)
                        *has_last = true;
                return;
        }
}

static void file_info(int dfd, uint64_t num, FileInfo *fi)
{
        _cleanup_close_ int fd = -EBADF;
        Parsed first, last;

        *fi = (FileInfo){ .name = eventlog_name(FILE_PREFIX, num) };
        fd = openat(dfd, fi->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return;
        file_ends(fd, true, &first, &fi->has_first, &last, &fi->has_last, NULL);
        fi->first_seq = first.seq;
        if (fi->has_last) {
                fi->last_seq = last.seq;
                memcpy(fi->last_hash, last.hash, 65);
        }
}

static bool head_parse(const char *buf, size_t n, Chain *ret)
{
        uint64_t seq = 0;

        if (n != HEAD_LEN || buf[20] != ' ' || buf[HEAD_LEN - 1] != '\n' || !is_hex64(buf + 21, 64))
                return false;
        for (size_t i = 0; i < 20; i++) {
                if (buf[i] < '0' || buf[i] > '9')
                        return false;
                seq = seq * 10 + (uint64_t)(buf[i] - '0');
        }
        ret->seq = seq;
        memcpy(ret->hash, buf + 21, 64);
        ret->hash[64] = '\0';
        return true;
}

static ssize_t forward_send(const char *path, const void *msg, size_t len)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;
        ssize_t r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa));
        if (r < 0)
                r = -errno;
        close(fd);
        return r;
}

char *audit_syslog_datagram(const char *line, size_t len, bool ok, const struct timespec *ts)
{
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        struct tm tm;
        time_t t = ts->tv_sec;

        /* RFC 3164 as glibc's syslog(3) writes it: local time, "TAG[PID]: ", severity info or warning. */
        localtime_r(&t, &tm);
        return xasprintf("<%d>%s %2d %02d:%02d:%02d stockade-audit[%d]: %.*s", LOG_AUTHPRIV_FAC * 8 + (ok ? 6 : 4),
                         months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid(),
                         (int)len, line);
}

/* KEY=value, or the binary form (KEY\n<le64 length>value) for a value with a newline. */
static void journal_field(GoBuf *b, const char *key, const char *v, size_t n)
{
        if (!memchr(v, '\n', n)) {
                gobuf_printf(b, "%s=", key);
                gobuf_add(b, v, n);
                gobuf_add(b, "\n", 1);
                return;
        }
        {
                uint8_t le[8];
                uint64_t x = n;
                for (int i = 0; i < 8; i++, x >>= 8)
                        le[i] = (uint8_t)(x & 0xFF);
                gobuf_printf(b, "%s\n", key);
                gobuf_add(b, (const char *)le, 8);
                gobuf_add(b, v, n);
                gobuf_add(b, "\n", 1);
        }
}

int audit_journald_datagram(const char *line, size_t len, json_t *rec, char **ret, size_t *ret_len)
{
        GoBuf b = { 0 };
        json_t *actor = json_object_get(rec, "actor");
        const char *action = json_string_value(json_object_get(rec, "action")) ?: "";
        const char *outcome = json_string_value(json_object_get(rec, "outcome"));
        const char *name = json_string_value(json_object_get(actor, "name"));
        const char *id = json_string_value(json_object_get(actor, "id"));
        const char *hash = json_string_value(json_object_get(rec, "hash")) ?: "";
        json_t *seq = json_object_get(rec, "seq");
        bool ok = !outcome || STREQ(outcome, "ok");
        _cleanup_free_ char *msg = NULL, *seqs = NULL;

        if (!json_is_integer(seq))
                return -EINVAL;
        seqs = xasprintf("%" PRId64, (int64_t)json_integer_value(seq));
        msg = xasprintf("audit %s: %s %s%s%s", seqs, action, name && *name ? name : id ? id : "", ok ? "" : ": ",
                        ok ? "" : outcome);
        journal_field(&b, "MESSAGE", msg, strlen(msg));
        gobuf_printf(&b, "PRIORITY=%d\nSYSLOG_FACILITY=%d\nSYSLOG_IDENTIFIER=stockade-audit\n", ok ? 6 : 4,
                     LOG_AUTHPRIV_FAC);
        journal_field(&b, "STOCKADE_AUDIT_SEQ", seqs, strlen(seqs));
        journal_field(&b, "STOCKADE_AUDIT_ACTION", action, strlen(action));
        if (id)
                journal_field(&b, "STOCKADE_AUDIT_ACTOR_ID", id, strlen(id));
        if (name)
                journal_field(&b, "STOCKADE_AUDIT_ACTOR_NAME", name, strlen(name));
        if (outcome)
                journal_field(&b, "STOCKADE_AUDIT_OUTCOME", outcome, strlen(outcome));
        journal_field(&b, "STOCKADE_AUDIT_HASH", hash, strlen(hash));
        journal_field(&b, "STOCKADE_AUDIT_RECORD", line, len);
        *ret = b.s;
        *ret_len = b.len;
        return 0;
}

/* Best effort: a missing or full socket loses the copy, never the record. */
static void forward(const AuditConfig *c, const char *buf, size_t len)
{
        struct timespec now;

        if (c->forward == AUDIT_FORWARD_NONE)
                return;
        clock_gettime(CLOCK_REALTIME, &now);
        for (const char *p = buf, *end = buf + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                _cleanup_json_ json_t *rec = NULL;
                if (n > 0 && jx_parse(p, n, "audit record", &rec, NULL) == 0) {
                        const char *outcome = json_string_value(json_object_get(rec, "outcome"));
                        bool ok = !outcome || STREQ(outcome, "ok");
                        if (c->forward == AUDIT_FORWARD_SYSLOG) {
                                _cleanup_free_ char *m = audit_syslog_datagram(p, n, ok, &now);
                                (void)forward_send(c->forward_socket ?: SYSLOG_SOCKET, m, strlen(m));
                        } else {
                                _cleanup_free_ char *m = NULL;
                                size_t ml = 0;
                                if (audit_journald_datagram(p, n, rec, &m, &ml) == 0)
                                        (void)forward_send(c->forward_socket ?: JOURNAL_SOCKET, m, ml);
                        }
                }
                p += n + 1;
        }
}

int audit_append(const char *dir, const AuditConfig *cfg, const AuditEntry *a, const struct timespec *ts,
                 Error **err)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF, hfd = -EBADF;
        _cleanup_free_ uint64_t *nums = NULL;
        _cleanup_free_ char *name = NULL;
        FileInfo prev_info = { 0 }, *drops = NULL;
        size_t n = 0, ndrops = 0, body_start = 0;
        AuditConfig c;
        Chain chain = { 0 }, head = { 0 };
        GoBuf b = { 0 };
        struct timespec now;
        struct stat st = { 0 };
        bool have_head = false, rotate, torn = false;
        int64_t per_file;
        uint64_t cur;
        ssize_t w;
        int r;

        if (cfg)
                c = *cfg;
        else
                config_defaults(&c);
        if (c.max_files < 2)
                c.max_files = 2;
        per_file = c.max_size / c.max_files;
        if (per_file < AUDIT_MIN_FILE_SIZE)
                per_file = AUDIT_MIN_FILE_SIZE;
        memcpy(chain.hash, zero_hash, 65);

        r = eventlog_open_dir(dir, true, &dfd);
        if (r < 0)
                return error_set(err, -r, "opening the audit log %s", dir);
        r = eventlog_lock(dfd);
        if (r < 0)
                return error_set(err, -r, "locking the audit log %s", dir);
        clock_gettime(CLOCK_REALTIME, &now);
        if (!ts)
                ts = &now;

        /* Where the chain stands: the log's last record, or audit.head when that is further on (the end
         * of the log was cut off: numbering on from the head keeps the gap visible). */
        hfd = openat(dfd, AUDIT_HEAD_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (hfd < 0)
                return error_set(err, errno, "opening %s/%s", dir, AUDIT_HEAD_FILE);
        {
                char hb[HEAD_LEN + 1];
                ssize_t hn = pread(hfd, hb, sizeof(hb), 0);
                have_head = hn == HEAD_LEN && head_parse(hb, HEAD_LEN, &head);
        }
        r = eventlog_list(dfd, FILE_PREFIX, &nums, &n);
        if (r < 0)
                return error_set(err, -r, "listing the audit log %s", dir);
        cur = n > 0 ? nums[n - 1] : 0;
        for (size_t k = n; k > 0 && k + 2 > n && chain.seq == 0; k--) {
                _cleanup_close_ int f = -EBADF;
                _cleanup_free_ char *nm = eventlog_name(FILE_PREFIX, nums[k - 1]);
                Parsed first, last;
                bool hf, hl;
                f = openat(dfd, nm, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (f < 0)
                        continue;
                file_ends(f, false, &first, &hf, &last, &hl, NULL);
                if (hl) {
                        chain.seq = last.seq;
                        memcpy(chain.hash, last.hash, 65);
                }
        }
        if (have_head && head.seq >= chain.seq)
                chain = head;
        if (cur > 0) {
                name = eventlog_name(FILE_PREFIX, cur);
                fd = openat(dfd, name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        return error_set(err, errno, "opening %s/%s", dir, name);
                if (fstat(fd, &st) < 0)
                        return error_set(err, errno, "stat %s/%s", dir, name);
                if (st.st_size > 0) {
                        char last = '\n';
                        torn = pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
                }
        }

        /* The record, to know its size. */
        {
                Chain probe = chain;
                append_action(&b, &probe, a, ts);
                if (b.len > AUDIT_MAX_RECORD) {
                        free(b.s);
                        return error_setx(err, E2BIG, "audit record for %s: %zu bytes, more than %d", a->action,
                                          b.len, AUDIT_MAX_RECORD);
                }
        }
        rotate = cur == 0 || (st.st_size > 0 && st.st_size + (off_t)b.len + 1 > per_file);
        b.len = 0;
        if (rotate) {
                if (cur > 0) {
                        file_info(dfd, cur, &prev_info);
                        append_rotate(&b, &chain, &prev_info, ts);
                }
                /* Files beyond max_files go, oldest first; each leaves a record of what it held. */
                for (size_t k = 0; n + 1 > (size_t)c.max_files + k && k < n; k++) {
                        drops = xrealloc(drops, (ndrops + 1) * sizeof(*drops));
                        file_info(dfd, nums[k], &drops[ndrops]);
                        append_retention(&b, &chain, &drops[ndrops], ts);
                        ndrops++;
                }
                fd = close_fd(fd);
                free(name);
                name = eventlog_name(FILE_PREFIX, cur + 1);
                fd = openat(dfd, name, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = error_set(err, errno, "creating %s/%s", dir, name);
                        goto out;
                }
                torn = false;
                if (st.st_size > 0) {
                        char last = '\n';
                        torn = pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
                }
        }
        append_action(&b, &chain, a, ts);
        if (torn) {
                /* a torn record stays alone on its line */
                char *s = xmalloc(b.len + 2);
                s[0] = '\n';
                memcpy(s + 1, b.s, b.len + 1);
                free(b.s);
                b.s = s;
                b.len++;
                b.cap = b.len + 1;
                body_start = 1;
        }
        w = write(fd, b.s, b.len);
        if (w != (ssize_t)b.len) {
                int e = w < 0 ? errno : ENOSPC;
                (void)!ftruncate(fd, st.st_size);
                r = error_set(err, e, "writing to the audit log %s/%s", dir, name);
                goto out;
        }
        for (size_t k = 0; k < ndrops; k++)
                (void)unlinkat(dfd, drops[k].name, 0);
        {
                char hb[HEAD_LEN + 1];
                snprintf(hb, sizeof(hb), "%020" PRIu64 " %s\n", chain.seq, chain.hash);
                if (pwrite(hfd, hb, HEAD_LEN, 0) != HEAD_LEN) {
                        r = error_set(err, errno ? errno : EIO, "writing %s/%s", dir, AUDIT_HEAD_FILE);
                        goto out;
                }
        }
        dfd = close_fd(dfd); /* unlock before forwarding */
        forward(&c, b.s + body_start, b.len - body_start);
        r = 0;
out:
        free(b.s);
        free(prev_info.name);
        for (size_t k = 0; k < ndrops; k++)
                free(drops[k].name);
        free(drops);
        return r;
}

int audit_record(Engine *e, const AuditEntry *a, Error **err)
{
        _cleanup_free_ char *dir = audit_dir(e);
        AuditConfig c;

        audit_config(e, &c);
        return audit_append(dir, &c, a, NULL, err);
}

/* ================================================================ reading */

json_t *audit_event_view(json_t *rec)
{
        json_t *actor = json_object_get(rec, "actor");
        const char *action = json_string_value(json_object_get(rec, "action")) ?: "";
        const char *type = json_string_value(json_object_get(actor, "type"));
        const char *id = json_string_value(json_object_get(actor, "id"));
        const char *name = json_string_value(json_object_get(actor, "name"));
        json_t *attrs = json_object();

        if (STREQ(action, "rotate") || STREQ(action, "retention"))
                type = "audit";
        if (name && *name)
                json_object_set_new(attrs, "name", json_string(name));
        return json_pack("{s:s, s:s, s:{s:s, s:o}, s:s}", "Type", type ? type : "", "Action", action, "Actor", "ID",
                         id ? id : "", "Attributes", attrs, "scope", "local");
}

char *audit_format_text(json_t *rec)
{
        const char *t = json_string_value(json_object_get(rec, "time"));
        const char *action = json_string_value(json_object_get(rec, "action")) ?: "";
        json_t *actor = json_object_get(rec, "actor");
        const char *name = json_string_value(json_object_get(actor, "name"));
        const char *id = json_string_value(json_object_get(actor, "id"));
        const char *outcome = json_string_value(json_object_get(rec, "outcome"));
        const char *who = name && *name ? name : id ? id : "";
        char date[64] = "";
        int64_t ns;

        if (STREQ(action, "rotate") || STREQ(action, "retention")) {
                json_t *o = json_object_get(rec, STREQ(action, "rotate") ? "previous" : "dropped");
                who = json_string_value(json_object_get(o, "file")) ?: "";
        }
        if (audit_parse_time(t, &ns) == 0) {
                time_t sec = (time_t)(ns / 1000000000);
                struct tm tm;
                localtime_r(&sec, &tm);
                strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        }
        if (outcome && !STREQ(outcome, "ok"))
                return xasprintf("%s | %s | %s | %s\n", date, action, who, outcome);
        return xasprintf("%s | %s | %s\n", date, action, who);
}

int audit_read_dir(const char *dir, const AuditReadOpts *o, audit_fn fn, void *ud, Error **err)
{
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ uint64_t *nums = NULL;
        size_t n = 0;
        int64_t since = o && o->has_since ? (int64_t)o->since.tv_sec * 1000000000 + o->since.tv_nsec : INT64_MIN;
        int64_t until = o && o->has_until ? (int64_t)o->until.tv_sec * 1000000000 + o->until.tv_nsec : INT64_MAX;
        int r = eventlog_open_dir(dir, false, &dfd);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(err, -r, "opening the audit log %s", dir);
        r = eventlog_list(dfd, FILE_PREFIX, &nums, &n);
        if (r < 0)
                return error_set(err, -r, "listing the audit log %s", dir);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = eventlog_name(FILE_PREFIX, nums[i]);
                _cleanup_fclose_ FILE *f = NULL;
                _cleanup_free_ char *line = NULL;
                size_t cap = 0;
                ssize_t len;
                int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue; /* dropped by retention meanwhile */
                        return error_set(err, errno, "opening %s/%s", dir, name);
                }
                f = fdopen(fd, "r");
                if (!f) {
                        close(fd);
                        return error_set(err, errno, "opening %s/%s", dir, name);
                }
                while ((len = getline(&line, &cap, f)) > 0) {
                        _cleanup_json_ json_t *rec = NULL, *view = NULL;
                        int64_t ns;
                        if (line[len - 1] != '\n')
                                break; /* torn, or being written */
                        len--;
                        if (len == 0 || len > AUDIT_MAX_RECORD || jx_parse(line, (size_t)len, "audit", &rec, NULL) < 0 ||
                            !json_is_object(rec) ||
                            audit_parse_time(json_string_value(json_object_get(rec, "time")), &ns) < 0)
                                continue;
                        if (ns < since || ns > until)
                                continue;
                        if (o && o->filter && !event_filter_empty(o->filter)) {
                                view = audit_event_view(rec);
                                if (!event_filter_match(o->filter, view))
                                        continue;
                        }
                        r = fn(ud, rec, line, (size_t)len);
                        if (r < 0)
                                return error_set(err, -r, "reading the audit log");
                        if (r > 0)
                                return 0;
                }
        }
        return 0;
}

int audit_read(Engine *e, const AuditReadOpts *o, audit_fn fn, void *ud, Error **err)
{
        _cleanup_free_ char *dir = audit_dir(e);
        return audit_read_dir(dir, o, fn, ud, err);
}

/* ================================================================ verifying */

enum { E_RECORD, E_BADHASH, E_GARBAGE, E_TORN };

typedef struct Entry {
        uint32_t file;
        uint8_t kind;
        uint64_t line;
        uint64_t seq;
        uint8_t hash[32], prev[32];
} Entry;

typedef struct Drop {
        uint64_t last_seq;
        uint8_t last_hash[32];
} Drop;

typedef struct Verify {
        Entry *e;
        size_t n, cap;
        Drop *drops;
        size_t ndrops;
        const char *const *names;
        size_t nfiles;
        bool too_many;
} Verify;

static void hex_to_bytes(const char *hex, uint8_t out[32])
{
        for (size_t i = 0; i < 32; i++) {
                int hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
                int lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
}

static void scan_file(Verify *V, uint32_t file, const char *data, size_t len)
{
        uint64_t line = 0;

        for (size_t pos = 0; pos < len && !V->too_many;) {
                const char *nl = memchr(data + pos, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
                Entry *e;
                Parsed p;
                line++;
                if (V->n == V->cap) {
                        if (V->n >= RECORDS_MAX) {
                                V->too_many = true;
                                break;
                        }
                        V->cap = V->cap ? V->cap * 2 : 256;
                        V->e = xrealloc(V->e, V->cap * sizeof(*V->e));
                }
                e = &V->e[V->n++];
                *e = (Entry){ .file = file, .line = line, .kind = E_GARBAGE };
                if (!nl)
                        e->kind = E_TORN;
                else if (parse_record(data + pos, n, &p) == 0) {
                        e->kind = p.hash_ok ? E_RECORD : E_BADHASH;
                        e->seq = p.seq;
                        hex_to_bytes(p.hash, e->hash);
                        hex_to_bytes(p.prev, e->prev);
                        if (p.hash_ok && p.retention) {
                                V->drops = xrealloc(V->drops, (V->ndrops + 1) * sizeof(*V->drops));
                                V->drops[V->ndrops].last_seq = p.dropped_last_seq;
                                hex_to_bytes(p.dropped_last_hash, V->drops[V->ndrops].last_hash);
                                V->ndrops++;
                        }
                }
                pos += n + 1;
        }
}

const char *audit_damage_name(AuditDamage d)
{
        switch (d) {
        case AUDIT_INTACT: return "intact";
        case AUDIT_EDITED: return "edited";
        case AUDIT_DELETED: return "deleted";
        case AUDIT_INSERTED: return "inserted";
        case AUDIT_REORDERED: return "reordered";
        case AUDIT_TRUNCATED: return "truncated";
        case AUDIT_HEAD: return "head";
        default: return "unknown";
        }
}

static void report(AuditVerifyResult *res, AuditDamage d, const char *file, uint64_t line, uint64_t seq,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void report(AuditVerifyResult *res, AuditDamage d, const char *file, uint64_t line, uint64_t seq,
                   const char *fmt, ...)
{
        va_list ap;
        char *detail;

        va_start(ap, fmt);
        detail = xvasprintf(fmt, ap);
        va_end(ap);
        res->damage = d;
        res->file = file ? xstrdup(file) : NULL;
        res->line = line;
        res->seq = seq;
        if (file)
                res->message = xasprintf("%s line %" PRIu64 ": record %" PRIu64 " %s: %s", file, line, seq,
                                         audit_damage_name(d), detail);
        else
                res->message = TAKE_PTR(detail);
        free(detail);
}

static const Entry *find_seq(const Verify *V, size_t from, size_t to, uint64_t seq)
{
        for (size_t i = from; i < to; i++)
                if (V->e[i].kind == E_RECORD && V->e[i].seq == seq)
                        return &V->e[i];
        return NULL;
}

static bool covered_by_retention(const Verify *V, uint64_t last_seq, const uint8_t hash[32])
{
        for (size_t i = 0; i < V->ndrops; i++)
                if (V->drops[i].last_seq == last_seq && memcmp(V->drops[i].last_hash, hash, 32) == 0)
                        return true;
        return false;
}

static void verify_entries(Verify *V, const char *head, size_t head_len, bool have_head_file,
                           AuditVerifyResult *res)
{
        static const uint8_t zeros[32] = { 0 };
        bool have_prev = false;
        uint64_t prev_seq = 0;
        uint8_t prev_hash[32] = { 0 };
        size_t pending = SIZE_MAX, pending_count = 0;
        const Entry *last_good = NULL;

#define NAME(e) (V->names[(e)->file])
        for (size_t i = 0; i < V->n; i++) {
                const Entry *e = &V->e[i];
                if (e->kind == E_TORN) {
                        if (i == V->n - 1) {
                                report(res, AUDIT_TRUNCATED, NAME(e), e->line, prev_seq + 1,
                                       "the last record is incomplete (the file was cut, or its writer was killed "
                                       "while writing it)");
                                return;
                        }
                        /* the end of an older file: a killed writer's, if the chain goes on */
                }
                if (e->kind == E_TORN || e->kind == E_GARBAGE) {
                        if (pending == SIZE_MAX)
                                pending = i;
                        pending_count++;
                        continue;
                }
                if (e->kind == E_BADHASH) {
                        report(res, AUDIT_EDITED, NAME(e), e->line, e->seq,
                               "its content does not match its hash");
                        return;
                }
                if (!have_prev) {
                        if (e->seq == 1 && memcmp(e->prev, zeros, 32) == 0) {
                                /* the first record ever */
                        } else if (e->seq > 1 && covered_by_retention(V, e->seq - 1, e->prev)) {
                                /* what came before was dropped by retention, and says so */
                        } else if (pending != SIZE_MAX && e->seq == 2) {
                                const Entry *g = &V->e[pending];
                                report(res, AUDIT_EDITED, NAME(g), g->line, 1, "the line is no longer a record");
                                return;
                        } else if (e->seq == 1) {
                                report(res, AUDIT_INSERTED, NAME(e), e->line, 1,
                                       "record 1 does not begin the chain (prev is not zero)");
                                return;
                        } else {
                                report(res, AUDIT_DELETED, NAME(e), e->line, 1,
                                       "records 1 to %" PRIu64 " are missing before it (record %" PRIu64
                                       " is the first; no retention record accounts for the files before)",
                                       e->seq - 1, e->seq);
                                return;
                        }
                } else if (e->seq == prev_seq + 1 && memcmp(e->prev, prev_hash, 32) == 0) {
                        /* in order */
                } else if (pending != SIZE_MAX && e->seq == prev_seq + 2) {
                        const Entry *g = &V->e[pending];
                        report(res, AUDIT_EDITED, NAME(g), g->line, prev_seq + 1, "the line is no longer a record");
                        return;
                } else if (e->seq == prev_seq + 1) {
                        report(res, AUDIT_INSERTED, NAME(e), e->line, e->seq,
                               "it does not chain to record %" PRIu64 " before it (it was replaced, or records were "
                               "inserted)", prev_seq);
                        return;
                } else if (e->seq > prev_seq + 1) {
                        const Entry *later = find_seq(V, i + 1, V->n, prev_seq + 1);
                        if (later)
                                report(res, AUDIT_REORDERED, NAME(e), e->line, e->seq,
                                       "it comes before record %" PRIu64 ", which is at %s line %" PRIu64, prev_seq + 1,
                                       NAME(later), later->line);
                        else if (e->seq == prev_seq + 2)
                                report(res, AUDIT_DELETED, NAME(e), e->line, prev_seq + 1,
                                       "record %" PRIu64 " is missing: record %" PRIu64 " comes next", prev_seq + 1,
                                       e->seq);
                        else
                                report(res, AUDIT_DELETED, NAME(e), e->line, prev_seq + 1,
                                       "records %" PRIu64 " to %" PRIu64 " are missing: record %" PRIu64 " comes next",
                                       prev_seq + 1, e->seq - 1, e->seq);
                        return;
                } else {
                        const Entry *earlier = find_seq(V, 0, i, e->seq);
                        if (earlier && memcmp(earlier->hash, e->hash, 32) == 0)
                                report(res, AUDIT_INSERTED, NAME(e), e->line, e->seq,
                                       "a copy of record %" PRIu64 " (%s line %" PRIu64 ")", e->seq, NAME(earlier),
                                       earlier->line);
                        else if (earlier)
                                report(res, AUDIT_INSERTED, NAME(e), e->line, e->seq,
                                       "a second record %" PRIu64 " (the first is at %s line %" PRIu64 ")", e->seq,
                                       NAME(earlier), earlier->line);
                        else
                                report(res, AUDIT_REORDERED, NAME(e), e->line, e->seq,
                                       "it comes after record %" PRIu64, prev_seq);
                        return;
                }
                if (pending != SIZE_MAX)
                        res->torn += pending_count; /* killed writers' torn records, passed over */
                pending = SIZE_MAX;
                pending_count = 0;
                if (!have_prev)
                        res->first_seq = e->seq;
                have_prev = true;
                prev_seq = e->seq;
                memcpy(prev_hash, e->hash, 32);
                last_good = e;
                res->records++;
        }
        if (pending != SIZE_MAX) {
                const Entry *g = &V->e[pending];
                report(res, AUDIT_EDITED, NAME(g), g->line, prev_seq + 1, "the line is no longer a record");
                return;
        }
        res->last_seq = prev_seq;
        /* The end, against audit.head. */
        if (!have_head_file) {
                if (have_prev)
                        report(res, AUDIT_HEAD, NULL, 0, prev_seq,
                               "%s is missing: the end of the log cannot be checked", AUDIT_HEAD_FILE);
                return;
        }
        {
                Chain h = { 0 };
                uint8_t hh[32];
                if (head_len == 0 && prev_seq <= HEAD_LAG_MAX)
                        return; /* a writer died before it first wrote the head */
                if (!head_parse(head, head_len, &h)) {
                        report(res, AUDIT_HEAD, NULL, 0, prev_seq, "%s is damaged", AUDIT_HEAD_FILE);
                        return;
                }
                hex_to_bytes(h.hash, hh);
                if (h.seq > prev_seq) {
                        report(res, AUDIT_TRUNCATED, last_good ? NAME(last_good) : NULL,
                               last_good ? last_good->line + 1 : 0, prev_seq + 1,
                               "the log ends at record %" PRIu64 " but %s says record %" PRIu64
                               " was written: the records after it were cut off",
                               prev_seq, AUDIT_HEAD_FILE, h.seq);
                } else if (h.seq == prev_seq && memcmp(hh, prev_hash, 32) != 0) {
                        report(res, AUDIT_EDITED, NAME(last_good), last_good->line, prev_seq,
                               "it is not the record %s says was written last (it was replaced)", AUDIT_HEAD_FILE);
                } else if (h.seq < prev_seq) {
                        const Entry *at = find_seq(V, 0, V->n, h.seq);
                        if (h.seq > 0 && at && memcmp(at->hash, hh, 32) != 0)
                                report(res, AUDIT_EDITED, NAME(at), at->line, h.seq,
                                       "it is not the record %s says was written", AUDIT_HEAD_FILE);
                        else if (prev_seq - h.seq > HEAD_LAG_MAX) {
                                const Entry *next = find_seq(V, 0, V->n, h.seq + 1);
                                report(res, AUDIT_INSERTED, next ? NAME(next) : NULL, next ? next->line : 0,
                                       h.seq + 1, "records %" PRIu64 " to %" PRIu64 " were appended behind stockade's "
                                       "back (%s says the log ends at record %" PRIu64 ")",
                                       h.seq + 1, prev_seq, AUDIT_HEAD_FILE, h.seq);
                        }
                        /* else: a writer died between its record and the head; not damage */
                }
        }
#undef NAME
}

int audit_verify_mem(const char *const *names, const char *const *data, const size_t *lens, size_t n,
                     const char *head, size_t head_len, AuditVerifyResult *res)
{
        Verify V = { .names = names, .nfiles = n };

        *res = (AuditVerifyResult){ .files = n };
        for (size_t i = 0; i < n && !V.too_many; i++)
                scan_file(&V, (uint32_t)i, data[i], lens[i]);
        if (V.too_many)
                report(res, AUDIT_INSERTED, NULL, 0, 0, "more than %zu lines: not a log stockade wrote", RECORDS_MAX);
        else
                verify_entries(&V, head, head_len, head != NULL, res);
        free(V.e);
        free(V.drops);
        if (!res->message)
                res->message = xasprintf("%" PRIu64 " record%s in %" PRIu64 " file%s verified (records %" PRIu64
                                         " to %" PRIu64 ")", res->records, res->records == 1 ? "" : "s", res->files,
                                         res->files == 1 ? "" : "s", res->first_seq, res->last_seq);
        return 0;
}

int audit_verify_dir(const char *dir, AuditVerifyResult *res, Error **err)
{
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ uint64_t *nums = NULL;
        _cleanup_free_ char *head = NULL;
        char **names = NULL, **data = NULL;
        size_t *lens = NULL, n = 0, head_len = 0;
        int r = eventlog_open_dir(dir, false, &dfd);

        *res = (AuditVerifyResult){ 0 };
        if (r == -ENOENT) {
                res->message = xstrdup("no audit log yet");
                return 0;
        }
        if (r < 0)
                return error_set(err, -r, "opening the audit log %s", dir);
        r = eventlog_list(dfd, FILE_PREFIX, &nums, &n);
        if (r < 0)
                return error_set(err, -r, "listing the audit log %s", dir);
        r = read_file_at(dfd, AUDIT_HEAD_FILE, 4096, &head, &head_len);
        if (r < 0 && r != -ENOENT && r != -EFBIG)
                return error_set(err, -r, "reading %s/%s", dir, AUDIT_HEAD_FILE);
        if (r == -EFBIG) {
                head = xstrdup("");
                head_len = 1; /* not a head: reported as damaged */
        }
        names = xcalloc(n + 1, sizeof(char *));
        data = xcalloc(n + 1, sizeof(char *));
        lens = xcalloc(n + 1, sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
                names[i] = eventlog_name(FILE_PREFIX, nums[i]);
                r = read_file_at(dfd, names[i], FILE_MAX, &data[i], &lens[i]);
                if (r < 0) {
                        r = error_set(err, -r, "reading %s/%s", dir, names[i]);
                        goto out;
                }
        }
        r = audit_verify_mem((const char *const *)names, (const char *const *)data, lens, n, head, head_len, res);
out:
        for (size_t i = 0; i < n; i++) {
                free(names[i]);
                free(data[i]);
        }
        free(names);
        free(data);
        free(lens);
        return r;
}

int audit_verify(Engine *e, AuditVerifyResult *res, Error **err)
{
        _cleanup_free_ char *dir = audit_dir(e);
        return audit_verify_dir(dir, res, err);
}

void audit_verify_result_clear(AuditVerifyResult *res)
{
        free(res->file);
        free(res->message);
        *res = (AuditVerifyResult){ 0 };
}
