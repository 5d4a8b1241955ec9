/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `stockade logs` for the journald driver: journalctl's export output, parsed strictly (see the header). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logread-journald.h"
#include "util.h"

#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* ================================================================ the export format */

typedef struct Buf {
        char *p;
        size_t len, cap;
} Buf;

static void buf_put(Buf *b, const void *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t c = b->cap ? b->cap : 256;
                while (c < b->len + n + 1)
                        c *= 2;
                b->p = xrealloc(b->p, c);
                b->cap = c;
        }
        if (n)
                memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

enum { ST_NAME, ST_TEXT, ST_BINLEN, ST_BINDATA, ST_BINEND };

/* What the field being read is to the parser. */
enum { F_SKIP, F_CURSOR, F_REALTIME, F_MESSAGE, F_PARTIAL, F_PRIORITY, F_ATTR };

/* The fields docker's reader knows: never attributes (moby daemon/logger/journald/read.go). */
static const char *const known_fields[] = {
        "MESSAGE",
        "MESSAGE_ID",
        "PRIORITY",
        "CODE_FILE",
        "CODE_LINE",
        "CODE_FUNC",
        "ERRNO",
        "SYSLOG_FACILITY",
        "SYSLOG_IDENTIFIER",
        "SYSLOG_PID",
        "SYSLOG_TIMESTAMP",
        "CONTAINER_NAME",
        "CONTAINER_ID",
        "CONTAINER_ID_FULL",
        "CONTAINER_TAG",
        "IMAGE_NAME",
        "CONTAINER_PARTIAL_ID",
        "CONTAINER_PARTIAL_ORDINAL",
        "CONTAINER_PARTIAL_LAST",
        "CONTAINER_PARTIAL_MESSAGE",
        "CONTAINER_LOG_EPOCH",
        "CONTAINER_LOG_ORDINAL",
};

struct JournalExportParser {
        bool want_attrs;
        int state;
        uint64_t offset;
        /* the field being read */
        char name[JOURNAL_ATTR_NAME_SIZE];
        size_t name_len;
        int field;
        size_t cap;     /* how much of its value is kept */
        bool over;      /* the value was longer than that */
        Buf val;
        unsigned char lenbytes[8];
        size_t nlen;
        uint64_t left;  /* binary bytes still to come */
        /* the entry being read */
        size_t nfields;
        Buf cursor;
        bool has_cursor, has_realtime, has_message, has_partial, has_priority;
        uint64_t realtime;
        Buf message;
        bool partial;
        int priority;
        JournalAttr *attrs;
        size_t n_attrs;
};

JournalExportParser *journal_export_new(bool want_attrs)
{
        JournalExportParser *p = xcalloc(1, sizeof(*p));
        p->want_attrs = want_attrs;
        p->priority = -1;
        return p;
}

static void entry_reset(JournalExportParser *p)
{
        for (size_t i = 0; i < p->n_attrs; i++)
                free(p->attrs[i].value);
        p->n_attrs = 0;
        p->nfields = 0;
        p->cursor.len = p->message.len = 0;
        p->has_cursor = p->has_realtime = p->has_message = p->has_partial = p->has_priority = false;
        p->partial = false;
        p->priority = -1;
}

JournalExportParser *journal_export_free(JournalExportParser *p)
{
        if (!p)
                return NULL;
        entry_reset(p);
        free(p->attrs);
        free(p->val.p);
        free(p->cursor.p);
        free(p->message.p);
        free(p);
        return NULL;
}

uint64_t journal_export_offset(const JournalExportParser *p)
{
        return p->offset;
}

static int proto(JournalExportParser *p, Error **err, const char *what)
{
        return error_setx(err, EPROTO, "journalctl's output at byte %" PRIu64 ": %s", p->offset, what);
}

static bool is_known(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(known_fields); i++)
                if (STREQ(name, known_fields[i]))
                        return true;
        return false;
}

/* A field's name is complete: decide what to keep of its value. */
static void field_begin(JournalExportParser *p)
{
        const char *n = p->name;

        p->val.len = 0;
        p->over = false;
        p->field = F_SKIP;
        p->cap = 0;
        if (STREQ(n, "__CURSOR"))
                p->field = F_CURSOR, p->cap = JOURNAL_CURSOR_MAX;
        else if (STREQ(n, "__REALTIME_TIMESTAMP"))
                p->field = F_REALTIME, p->cap = 32;
        else if (STREQ(n, "MESSAGE") && !p->has_message)
                p->field = F_MESSAGE, p->cap = JOURNAL_MESSAGE_MAX;
        else if (STREQ(n, "CONTAINER_PARTIAL_MESSAGE") && !p->has_partial)
                p->field = F_PARTIAL, p->cap = 16;
        else if (STREQ(n, "PRIORITY") && !p->has_priority)
                p->field = F_PRIORITY, p->cap = 16;
        else if (p->want_attrs && n[0] != '_' && !is_known(n) && p->n_attrs < JOURNAL_ATTRS_MAX)
                p->field = F_ATTR, p->cap = JOURNAL_ATTR_VALUE_MAX;
}

static void field_data(JournalExportParser *p, const char *s, size_t n)
{
        size_t room;

        if (p->field == F_SKIP || p->over)
                return;
        room = p->cap - p->val.len;
        if (n > room) {
                p->over = true;
                return;
        }
        buf_put(&p->val, s, n);
}

static bool parse_u64_strict(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;

        if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *ret = v;
        return true;
}

static int field_end(JournalExportParser *p, Error **err)
{
        const char *v = p->val.p ? p->val.p : "";
        size_t len = p->val.len;

        p->nfields++;
        switch (p->field) {
        case F_CURSOR:
                if (p->has_cursor)
                        return proto(p, err, "__CURSOR twice in an entry");
                if (p->over || len == 0 || memchr(v, '\0', len))
                        return proto(p, err, "a bad __CURSOR");
                buf_put(&p->cursor, v, len);
                p->has_cursor = true;
                break;
        case F_REALTIME:
                if (p->has_realtime)
                        return proto(p, err, "__REALTIME_TIMESTAMP twice in an entry");
                if (p->over || !parse_u64_strict(v, len, &p->realtime))
                        return proto(p, err, "a bad __REALTIME_TIMESTAMP");
                p->has_realtime = true;
                break;
        case F_MESSAGE:
                /* Too long: the entry is skipped, not the whole read. */
                p->has_message = !p->over;
                if (p->has_message)
                        buf_put(&p->message, v, len);
                break;
        case F_PARTIAL:
                p->has_partial = true;
                p->partial = !p->over && len == 4 && memcmp(v, "true", 4) == 0;
                break;
        case F_PRIORITY:
                p->has_priority = true;
                p->priority = !p->over && len == 1 && v[0] >= '0' && v[0] <= '7' ? v[0] - '0' : -1;
                break;
        case F_ATTR:
                if (!p->over) {
                        JournalAttr *a;
                        if (!p->attrs)
                                p->attrs = xcalloc(JOURNAL_ATTRS_MAX, sizeof(*p->attrs));
                        a = &p->attrs[p->n_attrs++];
                        memcpy(a->name, p->name, p->name_len + 1);
                        a->value = xmalloc(len + 1);
                        memcpy(a->value, v, len);
                        a->value[len] = '\0';
                        a->len = len;
                }
                break;
        default:
                break;
        }
        return 0;
}

/* By name, and a name given twice by value, so that the order never depends on qsort's. */
static int cmp_attr(const void *a, const void *b)
{
        const JournalAttr *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c == 0)
                c = memcmp(x->value, y->value, MIN_SZ(x->len, y->len));
        if (c == 0)
                c = x->len < y->len ? -1 : x->len > y->len;
        return c;
}

static int entry_end(JournalExportParser *p, journal_entry_fn fn, void *ud, Error **err)
{
        JournalEntry e;
        int r;

        if (p->nfields == 0)
                return proto(p, err, "an empty entry");
        if (!p->has_cursor || !p->has_realtime)
                return proto(p, err, "an entry without __CURSOR or __REALTIME_TIMESTAMP");
        if (p->n_attrs > 1)
                qsort(p->attrs, p->n_attrs, sizeof(*p->attrs), cmp_attr);
        e = (JournalEntry){
                .cursor = p->cursor.p,
                .realtime_us = p->realtime,
                .has_message = p->has_message,
                .message = p->has_message ? (p->message.p ? p->message.p : "") : NULL,
                .message_len = p->has_message ? p->message.len : 0,
                .partial = p->partial,
                .priority = p->priority,
                .attrs = p->attrs,
                .n_attrs = p->n_attrs,
        };
        r = fn ? fn(ud, &e) : 0;
        entry_reset(p);
        return r;
}

static bool name_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int journal_export_feed(JournalExportParser *p, const char *buf, size_t len, journal_entry_fn fn, void *ud,
                        Error **err)
{
        size_t i = 0;
        int r;

        while (i < len) {
                switch (p->state) {
                case ST_NAME: {
                        char c = buf[i];
                        if (c == '=' || c == '\n') {
                                if (p->name_len == 0) {
                                        if (c == '=')
                                                return proto(p, err, "a field without a name");
                                        i++, p->offset++;
                                        r = entry_end(p, fn, ud, err);
                                        if (r != 0)
                                                return r;
                                        continue;
                                }
                                p->name[p->name_len] = '\0';
                                field_begin(p);
                                p->state = c == '=' ? ST_TEXT : ST_BINLEN;
                                p->nlen = 0;
                                i++, p->offset++;
                                continue;
                        }
                        if (!name_char(c))
                                return proto(p, err, "a field name with a character other than A-Z, 0-9 and _");
                        if (p->name_len >= JOURNAL_ATTR_NAME_SIZE - 1)
                                return proto(p, err, "a field name longer than 64 characters");
                        p->name[p->name_len++] = c;
                        i++, p->offset++;
                        break;
                }
                case ST_TEXT: {
                        const char *nl = memchr(buf + i, '\n', len - i);
                        size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
                        field_data(p, buf + i, n);
                        i += n, p->offset += n;
                        if (nl) {
                                i++, p->offset++;
                                r = field_end(p, err);
                                if (r < 0)
                                        return r;
                                p->state = ST_NAME;
                                p->name_len = 0;
                        }
                        break;
                }
                case ST_BINLEN:
                        p->lenbytes[p->nlen++] = (unsigned char)buf[i];
                        i++, p->offset++;
                        if (p->nlen == 8) {
                                uint64_t n = 0;
                                for (int k = 7; k >= 0; k--)
                                        n = (n << 8) | p->lenbytes[k];
                                if (n > JOURNAL_FIELD_MAX)
                                        return proto(p, err, "a binary field longer than 1 GiB");
                                p->left = n;
                                p->state = n ? ST_BINDATA : ST_BINEND;
                        }
                        break;
                case ST_BINDATA: {
                        size_t n = (size_t)MIN_SZ((uint64_t)(len - i), p->left);
                        field_data(p, buf + i, n);
                        i += n, p->offset += n;
                        p->left -= n;
                        if (p->left == 0)
                                p->state = ST_BINEND;
                        break;
                }
                case ST_BINEND:
                        if (buf[i] != '\n')
                                return proto(p, err, "a binary field not followed by a newline");
                        i++, p->offset++;
                        r = field_end(p, err);
                        if (r < 0)
                                return r;
                        p->state = ST_NAME;
                        p->name_len = 0;
                        break;
                default:
                        return proto(p, err, "internal: unknown parser state");
                }
        }
        return 0;
}

int journal_export_finish(JournalExportParser *p, Error **err)
{
        if (p->state != ST_NAME || p->name_len != 0 || p->nfields != 0)
                return proto(p, err, "the output ends inside an entry");
        return 0;
}

/* ================================================================ journalctl */

typedef struct Child {
        pid_t pid;
        int out, errfd;
        char errbuf[4096];
        size_t errlen;
        bool killed;
} Child;

static void child_kill(Child *c)
{
        if (c->pid > 0) {
                (void)kill(c->pid, SIGKILL);
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                c->pid = 0;
        }
        if (c->out >= 0)
                close(c->out);
        if (c->errfd >= 0)
                close(c->errfd);
        c->out = c->errfd = -1;
}

static const char *const journalctl_paths[] = { "/usr/bin/journalctl", "/bin/journalctl" };

static int child_spawn(char **argv, Child *c, Error **err)
{
        int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
        pid_t parent = getpid();

        *c = (Child){ .out = -1, .errfd = -1 };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                int e = errno;
                if (out[0] >= 0)
                        close(out[0]), close(out[1]);
                return error_set(err, e, "journalctl: pipe");
        }
        c->pid = fork();
        if (c->pid < 0) {
                int e = errno;
                close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
                return error_set(err, e, "journalctl: fork");
        }
        if (c->pid == 0) {
                sigset_t all;
                int devnull;

                /* journalctl -f would outlive a reader killed with SIGKILL until the next entry. */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                sigemptyset(&all);
                (void)sigprocmask(SIG_SETMASK, &all, NULL);
                (void)signal(SIGPIPE, SIG_DFL);
                devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
                        _exit(127);
                execvp("journalctl", argv);
                for (size_t i = 0; i < ELEMENTSOF(journalctl_paths); i++)
                        execv(journalctl_paths[i], argv);
                dprintf(2, "exec journalctl: %s\n", strerror(errno));
                _exit(127);
        }
        close(out[1]);
        close(errp[1]);
        c->out = out[0];
        c->errfd = errp[0];
        return 0;
}

static void child_read_err(Child *c)
{
        char tmp[1024];
        ssize_t n = read(c->errfd, tmp, sizeof(tmp));
        if (n <= 0) {
                if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                        close(c->errfd);
                        c->errfd = -1;
                }
                return;
        }
        size_t take = MIN_SZ((size_t)n, sizeof(c->errbuf) - 1 - c->errlen);
        memcpy(c->errbuf + c->errlen, tmp, take);
        c->errlen += take;
        c->errbuf[c->errlen] = '\0';
}

/* After EOF on its output: the rest of stderr, the exit status. */
static int child_finish(Child *c, Error **err)
{
        int st = 0;

        while (c->errfd >= 0)
                child_read_err(c);
        while (waitpid(c->pid, &st, 0) < 0) {
                if (errno != EINTR) {
                        c->pid = 0;
                        return error_set(err, errno, "journalctl: waitpid");
                }
        }
        c->pid = 0;
        if (c->out >= 0)
                close(c->out), c->out = -1;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
        {
                char *nl = strchr(c->errbuf, '\n');
                if (nl)
                        *nl = '\0';
                if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && str_has_prefix(c->errbuf, "exec journalctl"))
                        return error_setx(err, ENOTSUP,
                                          "journalctl: not found (logs of the journald driver are read with journalctl, "
                                          "from the systemd package)");
                if (WIFEXITED(st))
                        return error_setx(err, EIO, "journalctl failed (exit status %d)%s%s", WEXITSTATUS(st),
                                          c->errlen ? ": " : "", c->errbuf);
                return error_setx(err, EIO, "journalctl killed by signal %d%s%s", WTERMSIG(st), c->errlen ? ": " : "",
                                  c->errbuf);
        }
}

/* ================================================================ reading */

typedef struct Reader {
        const JsonLogReadOpts *o;
        jsonlog_msg_fn fn;
        void *ud;
        bool deliver;       /* false: the tail pass, which only counts and keeps the oldest cursor */
        uint64_t seen;      /* entries taken (within since/until) */
        uint64_t limit;     /* stop after this many (0: no limit) */
        char *cursor;       /* of the last entry taken */
        int fn_result;      /* what fn returned when it stopped the read */
        Buf line;
} Reader;

static int64_t ts_ns(const struct timespec *t)
{
        return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Go's url.QueryEscape, which docker applies to each key and value of --details. */
static void put_query_escaped(Buf *b, const char *s, size_t len)
{
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == '~') {
                        buf_put(b, &s[i], 1);
                } else if (c == ' ') {
                        buf_put(b, "+", 1);
                } else {
                        char e[3] = { '%', hex[c >> 4], hex[c & 15] };
                        buf_put(b, e, 3);
                }
        }
}

static int on_entry(void *ud, const JournalEntry *e)
{
        Reader *rd = ud;
        const JsonLogReadOpts *o = rd->o;
        struct timespec ts = { .tv_sec = (time_t)(e->realtime_us / 1000000), .tv_nsec = (long)(e->realtime_us % 1000000) * 1000 };
        const char *stream;
        int r;

        /* journalctl was given the bounds in microseconds, rounded inwards: this only guards them. */
        if ((o->has_since && ts_ns(&ts) < ts_ns(&o->since)) || (o->has_until && ts_ns(&ts) >= ts_ns(&o->until)))
                return 0;
        free(rd->cursor);
        rd->cursor = xstrdup(e->cursor);
        rd->seen++;
        if (rd->deliver && e->has_message) {
                stream = e->priority == 3 ? "stderr" : e->priority == 6 ? "stdout" : "";
                rd->line.len = 0;
                if (o->details) {
                        for (size_t i = 0; i < e->n_attrs; i++) {
                                if (i)
                                        buf_put(&rd->line, ",", 1);
                                put_query_escaped(&rd->line, e->attrs[i].name, strlen(e->attrs[i].name));
                                buf_put(&rd->line, "=", 1);
                                put_query_escaped(&rd->line, e->attrs[i].value, e->attrs[i].len);
                        }
                        buf_put(&rd->line, " ", 1);
                }
                buf_put(&rd->line, e->message, e->message_len);
                if (!e->partial)
                        buf_put(&rd->line, "\n", 1);
                r = rd->fn(rd->ud, stream, rd->line.p, rd->line.len, &ts);
                if (r != 0) {
                        rd->fn_result = r;
                        return r < 0 ? r : 1;
                }
        }
        if (rd->limit && rd->seen >= rd->limit)
                return 1;
        return 0;
}

static bool time_passed(const struct timespec *t)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return ts_ns(&now) >= ts_ns(t);
}

static int64_t mono_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Runs journalctl with argv and parses its output into rd.  follow: it was started with --follow; the
 * run ends (journalctl killed) when o->running says stop or `until` has passed, and returns 1 then.
 * Otherwise returns 0 at the end of the output, or when rd's limit or fn stopped it, or an error.
 */
static int run(char **argv, Reader *rd, bool follow, Error **err)
{
        _cleanup_(journal_export_freep) JournalExportParser *p = journal_export_new(rd->o->details && rd->deliver);
        Child c;
        char buf[65536];
        int64_t last_check = mono_ms();
        int r;

        r = child_spawn(argv, &c, err);
        if (r < 0)
                return r;
        for (;;) {
                struct pollfd pfd[2] = { { .fd = c.out, .events = POLLIN }, { .fd = c.errfd, .events = POLLIN } };
                int n = poll(pfd, 2, follow ? 250 : -1);

                if (n < 0 && errno != EINTR) {
                        r = error_set(err, errno, "journalctl: poll");
                        child_kill(&c);
                        return r;
                }
                if (follow && mono_ms() - last_check >= 250) {
                        last_check = mono_ms();
                        if ((rd->o->running && !rd->o->running(rd->o->running_ud)) ||
                            (rd->o->has_until && time_passed(&rd->o->until))) {
                                child_kill(&c);
                                return 1;
                        }
                }
                if (n <= 0)
                        continue;
                if (pfd[1].revents)
                        child_read_err(&c);
                if (pfd[0].revents) {
                        ssize_t got = read(c.out, buf, sizeof(buf));
                        if (got < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                r = error_set(err, errno, "journalctl: read");
                                child_kill(&c);
                                return r;
                        }
                        if (got == 0)
                                break;
                        r = journal_export_feed(p, buf, (size_t)got, on_entry, rd, err);
                        if (r != 0) {
                                child_kill(&c);
                                if (r < 0 && rd->fn_result < 0)
                                        return error_set(err, -r, "writing the logs");
                                return r < 0 ? r : 0;
                        }
                }
        }
        r = child_finish(&c, err);
        if (r < 0)
                return r;
        return journal_export_finish(p, err);
}

static char **base_args(const JsonLogReadOpts *o, bool with_since)
{
        char **v = NULL;
        char tmp[96];

        strv_push(&v, "journalctl");
        strv_push(&v, "--no-pager");
        strv_push(&v, "--quiet");
        strv_push(&v, "--all");
        strv_push(&v, "--output=export");
        if (with_since && o->has_since) {
                /* The first microsecond at or after since. */
                int64_t ns = ts_ns(&o->since), us = ns <= 0 ? 0 : (ns + 999) / 1000;
                snprintf(tmp, sizeof(tmp), "--since=@%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
                strv_push(&v, tmp);
        }
        if (o->has_until) {
                /* The last microsecond before until (the caller returns early when there is none). */
                int64_t us = (ts_ns(&o->until) - 1) / 1000;
                snprintf(tmp, sizeof(tmp), "--until=@%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
                strv_push(&v, tmp);
        }
        return v;
}

/*
 * Only the fields the messages need, unless --details wants every attribute: journalctl's output is
 * then about a quarter the size (docker's fields and journald's own make ~1 KB an entry), which halves
 * the time `logs` takes for a long log.
 */
static void push_fields(char ***v, const JsonLogReadOpts *o)
{
        if (!o->details)
                strv_push(v, "--output-fields=MESSAGE,PRIORITY,CONTAINER_PARTIAL_MESSAGE");
}

static void push_matches(char ***v, const char *id)
{
        char tmp[96];
        strv_push(v, "--");
        snprintf(tmp, sizeof(tmp), "CONTAINER_ID_FULL=%s", id);
        strv_push(v, tmp);
        snprintf(tmp, sizeof(tmp), "_UID=%u", (unsigned)geteuid());
        strv_push(v, tmp);
}

static bool valid_id(const char *id)
{
        size_t n = strlen(id);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        return true;
}

static int msg_noop(void *ud, const char *stream, const char *msg, size_t len, const struct timespec *ts)
{
        return 0;
}

int journald_log_read(const char *id, const JsonLogReadOpts *o, jsonlog_msg_fn fn, void *ud, Error **err)
{
        _cleanup_strv_ char **args = NULL;
        _cleanup_free_ char *start_cursor = NULL;
        bool after = false; /* start after start_cursor rather than at it */
        bool follow = o->follow;
        Reader rd = { .o = o, .fn = fn, .ud = ud, .deliver = true };
        int r;

        if (!valid_id(id))
                return error_setx(err, EINVAL, "journald: \"%s\" is not a container id", id);
        if (o->has_until && ts_ns(&o->until) <= 0)
                return 0;
        if (o->has_since && o->has_until && ts_ns(&o->since) >= ts_ns(&o->until))
                return 0;
        /* A container that has already stopped logs nothing more: read what there is. */
        if (follow && o->running && !o->running(o->running_ud))
                follow = false;

        if (o->tail >= 0) {
                /*
                 * The tail: journalctl --reverse --lines=N lists the newest N within since/until (its
                 * --lines counts from the start when --since is given), with only the cursors and times
                 * (--output-fields).  The read then starts at the oldest of them; with --lines=0, after
                 * the newest entry.
                 */
                Reader tr = { .o = o, .fn = msg_noop, .deliver = false };
                char tmp[64];

                if (o->tail == 0 && !follow)
                        return 0;
                args = base_args(o, true);
                strv_push(&args, "--reverse");
                snprintf(tmp, sizeof(tmp), "--lines=%" PRId64, o->tail == 0 ? (int64_t)1 : o->tail);
                strv_push(&args, tmp);
                strv_push(&args, "--output-fields=PRIORITY");
                push_matches(&args, id);
                r = run(args, &tr, false, err);
                free(tr.line.p);
                strv_free(TAKE_PTR(args));
                if (r < 0) {
                        free(tr.cursor);
                        return r;
                }
                start_cursor = TAKE_PTR(tr.cursor);
                if (!start_cursor && !follow)
                        return 0; /* nothing in range */
                after = o->tail == 0;
                /* Without follow: exactly those, whatever was logged since. */
                if (!follow)
                        rd.limit = tr.seen;
        }

        args = base_args(o, !start_cursor);
        if (start_cursor) {
                _cleanup_free_ char *a = xasprintf("--%s=%s", after ? "after-cursor" : "cursor", start_cursor);
                strv_push(&args, a);
        }
        if (follow) {
                strv_push(&args, "--follow");
                strv_push(&args, "--no-tail");
        }
        push_fields(&args, o);
        push_matches(&args, id);
        r = run(args, &rd, follow, err);
        strv_free(TAKE_PTR(args));
        if (r == 1) {
                /*
                 * The container has stopped (its monitor waited for journald to take every entry before it
                 * exited): the follower may be behind journald's notifications, so read what is left
                 * directly, after the last entry taken.
                 */
                args = base_args(o, !start_cursor && !rd.cursor);
                if (rd.cursor) {
                        _cleanup_free_ char *a = xasprintf("--after-cursor=%s", rd.cursor);
                        strv_push(&args, a);
                } else if (start_cursor) {
                        _cleanup_free_ char *a = xasprintf("--%s=%s", after ? "after-cursor" : "cursor", start_cursor);
                        strv_push(&args, a);
                }
                push_fields(&args, o);
                push_matches(&args, id);
                r = run(args, &rd, false, err);
        }
        free(rd.cursor);
        free(rd.line.p);
        return r < 0 ? r : 0;
}
