/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log (audit.c): the record and its hash (checked with OpenSSL, a second SHA-256), verify
 * naming edits, deletions, insertions, swaps and truncations with the record number, rotation and
 * retention keeping the chain, torn records, 20 concurrent writers, filters, and forwarding to
 * syslog and journald datagram sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "json-util.h"
#include "tap.h"
#include "util.h"

static char *tmpdir(void)
{
        char t[] = "/tmp/test-audit-XXXXXX";
        if (!mkdtemp(t))
                abort();
        return xasprintf("%s/audit", t);
}

static void rmdir_all(const char *dir)
{
        _cleanup_free_ char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');
        if (slash)
                *slash = '\0';
        (void)rm_rf_at(AT_FDCWD, parent);
}

static int append(const char *dir, const AuditConfig *c, const char *action, const char *name, const char *outcome)
{
        char *cmd[] = { "stockade", (char *)action, (char *)name, NULL };
        AuditEntry a = { .action = action, .actor_type = "container", .actor_id = "0123456789abcdef",
                         .actor_name = name, .command = cmd, .outcome = outcome };
        return audit_append(dir, c, &a, NULL, NULL);
}

static AuditDamage verify(const char *dir, AuditVerifyResult *res)
{
        if (audit_verify_dir(dir, res, NULL) < 0)
                abort();
        return res->damage;
}

/* The lines of the single file audit-0000000001.log. */
static char **file_lines(const char *dir, const char *name)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name), *text = NULL;
        char **v = xcalloc(1, sizeof(char *));
        size_t len = 0;
        char *save = NULL;

        if (read_file_at(AT_FDCWD, path, 64 << 20, &text, &len) < 0)
                return v;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                strv_push(&v, l);
        return v;
}

static void write_lines(const char *dir, const char *name, char **lines)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        for (size_t i = 0; lines[i]; i++)
                fprintf(f, "%s\n", lines[i]);
        fclose(f);
}

static void make_log(const char *dir, int n)
{
        static const char *const actions[] = { "create", "start", "stop", "rm" };
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *name = xasprintf("web%d", i);
                if (append(dir, NULL, actions[i % 4], name, NULL) < 0)
                        abort();
        }
}

#define F1 "audit-0000000001.log"

TEST(record_shape_and_hash)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL;
        _cleanup_json_ json_t *r1 = NULL, *r2 = NULL;
        AuditVerifyResult res;
        unsigned char md[SHA256_DIGEST_LENGTH];
        char hex[65];
        struct stat st;

        ASSERT_OK(append(dir, NULL, "start", "web", NULL));
        ASSERT_OK(append(dir, NULL, "rm", "web", "No such container: web"));
        lines = file_lines(dir, F1);
        ASSERT_EQ(strv_length(lines), 2);
        ASSERT_TRUE(str_has_prefix(lines[0], "{\"seq\":1,\"time\":\"20"));
        ASSERT_CONTAINS(lines[0], "Z\",\"action\":\"start\",\"actor\":{\"type\":\"container\",\"id\":\"0123456789abcdef\","
                                  "\"name\":\"web\"},\"user\":{\"uid\":");
        ASSERT_CONTAINS(lines[0], ",\"peer\":null},\"command\":[\"stockade\",\"start\",\"web\"],\"outcome\":\"ok\",\"prev\":"
                                  "\"0000000000000000000000000000000000000000000000000000000000000000\",\"hash\":\"");
        ASSERT_CONTAINS(lines[1], "\"outcome\":\"No such container: web\"");
        /* hash = SHA-256 of the record without its hash member, as another implementation computes it */
        for (int i = 0; i < 2; i++) {
                size_t len = strlen(lines[i]);
                char *canon = xstrndup(lines[i], len - 75 + 1);
                canon[len - 75] = '}';
                SHA256((const unsigned char *)canon, len - 74, md);
                for (int k = 0; k < 32; k++)
                        snprintf(hex + 2 * k, 3, "%02x", md[k]);
                ASSERT_TRUE(strncmp(lines[i] + len - 66, hex, 64) == 0);
                free(canon);
        }
        ASSERT_OK(jx_parse(lines[0], strlen(lines[0]), "r1", &r1, NULL));
        ASSERT_OK(jx_parse(lines[1], strlen(lines[1]), "r2", &r2, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(r2, "seq")), 2);
        ASSERT_STREQ(json_string_value(json_object_get(r2, "prev")), json_string_value(json_object_get(r1, "hash")));
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r1, "user"), "uid")), getuid());
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r1, "user"), "pid")), getpid());
        ASSERT_EQ(verify(dir, &res), AUDIT_INTACT);
        ASSERT_EQ(res.records, 2);
        ASSERT_EQ(res.last_seq, 2);
        audit_verify_result_clear(&res);
        ASSERT_OK(stat(dir, &st));
        ASSERT_EQ(st.st_mode & 0777, 0700);
        rmdir_all(dir);
}

TEST(peer_credentials)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL;
        struct ucred peer = { .pid = 77, .uid = 1000, .gid = 100 };
        AuditEntry a = { .action = "start", .actor_type = "container", .actor_id = "x", .peer = &peer };

        ASSERT_OK(audit_append(dir, NULL, &a, NULL, NULL));
        lines = file_lines(dir, F1);
        ASSERT_CONTAINS(lines[0], "\"peer\":{\"pid\":77,\"uid\":1000,\"gid\":100}},\"command\":[],\"outcome\":\"ok\"");
        rmdir_all(dir);
}

TEST(verify_edit)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL;
        AuditVerifyResult res;
        char *p;

        make_log(dir, 10);
        lines = file_lines(dir, F1);
        p = strstr(lines[4], "\"name\":\"web4\"");
        ASSERT_TRUE(p != NULL);
        p[10] = 'X'; /* web4 → weX4 */
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_EDITED);
        ASSERT_EQ(res.seq, 5);
        ASSERT_EQ(res.line, 5);
        ASSERT_STREQ(res.file, F1);
        ASSERT_CONTAINS(res.message, "audit-0000000001.log line 5: record 5 edited");
        audit_verify_result_clear(&res);

        /* an edit that makes the line no record at all */
        strcpy(lines[4], "{\"seq\":5,\"oops\"}");
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_EDITED);
        ASSERT_EQ(res.seq, 5);
        ASSERT_EQ(res.line, 5);
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(verify_delete)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL;
        AuditVerifyResult res;

        make_log(dir, 10);
        lines = file_lines(dir, F1);
        free(lines[4]);
        memmove(lines + 4, lines + 5, 6 * sizeof(char *)); /* record 5 gone */
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_DELETED);
        ASSERT_EQ(res.seq, 5);
        ASSERT_EQ(res.line, 5);
        ASSERT_CONTAINS(res.message, "record 5 is missing");
        audit_verify_result_clear(&res);

        /* the first record */
        free(lines[0]);
        memmove(lines, lines + 1, 9 * sizeof(char *));
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_DELETED);
        ASSERT_EQ(res.seq, 1);
        ASSERT_EQ(res.line, 1);
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(verify_insert)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL, **v = xcalloc(1, sizeof(char *));
        AuditVerifyResult res;

        make_log(dir, 10);
        lines = file_lines(dir, F1);
        /* a copy of record 3 after record 5 */
        for (size_t i = 0; lines[i]; i++) {
                strv_push(&v, lines[i]);
                if (i == 4)
                        strv_push(&v, lines[2]);
        }
        write_lines(dir, F1, v);
        ASSERT_EQ(verify(dir, &res), AUDIT_INSERTED);
        ASSERT_EQ(res.seq, 3);
        ASSERT_EQ(res.line, 6);
        ASSERT_CONTAINS(res.message, "a copy of record 3");
        audit_verify_result_clear(&res);

        /* a forged record 6, hash made right, before the real record 6 */
        {
                char *forged = xstrdup(lines[5]), *p = strstr(forged, "\"name\":\"web5\"");
                size_t len = strlen(forged);
                unsigned char md[SHA256_DIGEST_LENGTH];
                char *canon;
                p[10] = 'Z';
                canon = xstrndup(forged, len - 74);
                canon[len - 75] = '}';
                SHA256((const unsigned char *)canon, len - 74, md);
                for (int k = 0; k < 32; k++)
                        snprintf(forged + len - 66 + 2 * k, 3, "%02x", md[k]);
                forged[len - 2] = '"';
                free(canon);
                strv_free(v);
                v = xcalloc(1, sizeof(char *));
                for (size_t i = 0; lines[i]; i++) {
                        if (i == 5)
                                strv_push(&v, forged);
                        strv_push(&v, lines[i]);
                }
                free(forged);
        }
        write_lines(dir, F1, v);
        ASSERT_EQ(verify(dir, &res), AUDIT_INSERTED);
        ASSERT_EQ(res.seq, 6);
        ASSERT_EQ(res.line, 7);
        ASSERT_CONTAINS(res.message, "a second record 6");
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(verify_swap)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_strv_ char **lines = NULL;
        AuditVerifyResult res;
        char *t;

        make_log(dir, 10);
        lines = file_lines(dir, F1);
        t = lines[3];
        lines[3] = lines[4];
        lines[4] = t; /* records 4 and 5 swapped */
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_REORDERED);
        ASSERT_EQ(res.seq, 5);
        ASSERT_EQ(res.line, 4);
        ASSERT_CONTAINS(res.message, "it comes before record 4, which is at audit-0000000001.log line 5");
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(verify_truncate)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_free_ char *path = NULL, *head = NULL;
        _cleanup_strv_ char **lines = NULL;
        AuditVerifyResult res;
        struct stat st;

        make_log(dir, 10);
        path = xasprintf("%s/%s", dir, F1);
        ASSERT_OK(stat(path, &st));
        /* cut in the middle of the last record */
        ASSERT_OK(truncate(path, st.st_size - 30));
        ASSERT_EQ(verify(dir, &res), AUDIT_TRUNCATED);
        ASSERT_EQ(res.seq, 10);
        ASSERT_EQ(res.line, 10);
        audit_verify_result_clear(&res);
        /* cut at a line's end: the head knows more was written */
        lines = file_lines(dir, F1);
        free(lines[9]);
        lines[9] = NULL;
        free(lines[8]);
        lines[8] = NULL;
        write_lines(dir, F1, lines);
        ASSERT_EQ(verify(dir, &res), AUDIT_TRUNCATED);
        ASSERT_EQ(res.seq, 9);
        ASSERT_CONTAINS(res.message, "the log ends at record 8 but audit.head says record 10 was written");
        audit_verify_result_clear(&res);
        /* the next append numbers on from the head, so the gap stays visible */
        ASSERT_OK(append(dir, NULL, "start", "late", NULL));
        ASSERT_EQ(verify(dir, &res), AUDIT_DELETED);
        ASSERT_EQ(res.seq, 9);
        ASSERT_CONTAINS(res.message, "records 9 to 10 are missing: record 11 comes next");
        audit_verify_result_clear(&res);
        rmdir_all(dir);
        /* no head at all */
        free(dir);
        dir = tmpdir();
        make_log(dir, 3);
        head = xasprintf("%s/audit.head", dir);
        ASSERT_OK(unlink(head));
        ASSERT_EQ(verify(dir, &res), AUDIT_HEAD);
        ASSERT_CONTAINS(res.message, "audit.head is missing");
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(torn_record)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_free_ char *path = NULL;
        AuditVerifyResult res;
        int fd;

        make_log(dir, 3);
        /* a writer killed half way through its record */
        path = xasprintf("%s/%s", dir, F1);
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        ASSERT_OK(write_all(fd, "{\"seq\":4,\"time\":\"2026-", strlen("{\"seq\":4,\"time\":\"2026-")));
        close(fd);
        ASSERT_EQ(verify(dir, &res), AUDIT_TRUNCATED);
        ASSERT_EQ(res.seq, 4);
        ASSERT_EQ(res.line, 4);
        audit_verify_result_clear(&res);
        /* the next record chains to record 3; the torn one is passed over */
        ASSERT_OK(append(dir, NULL, "start", "next", NULL));
        ASSERT_EQ(verify(dir, &res), AUDIT_INTACT);
        ASSERT_EQ(res.records, 4);
        ASSERT_EQ(res.torn, 1);
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

static size_t nfiles(const char *dir)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ uint64_t *nums = NULL;
        size_t n = 0;
        if (dfd < 0 || eventlog_list(dfd, "audit-", &nums, &n) < 0)
                return 0;
        return n;
}

TEST(rotation_and_retention)
{
        _cleanup_free_ char *dir = tmpdir();
        AuditConfig c = { .max_size = 4 * AUDIT_MIN_FILE_SIZE, .max_files = 4 };
        AuditVerifyResult res;
        _cleanup_strv_ char **first = NULL;

        for (int i = 0; i < 120; i++)
                ASSERT_OK(append(dir, &c, "start", "web", NULL));
        ASSERT_TRUE(nfiles(dir) >= 2);
        ASSERT_EQ(verify(dir, &res), AUDIT_INTACT);
        ASSERT_EQ(res.first_seq, 1);
        audit_verify_result_clear(&res);
        /* each file after the first begins with a rotate record naming the one before */
        first = file_lines(dir, "audit-0000000002.log");
        ASSERT_CONTAINS(first[0], "\"action\":\"rotate\",\"previous\":{\"file\":\"audit-0000000001.log\",\"first_seq\":1,");
        /* far past max_files: the oldest files go, each with a retention record, and the rest verifies */
        for (int i = 0; i < 600; i++)
                ASSERT_OK(append(dir, &c, "stop", "web", NULL));
        ASSERT_EQ(nfiles(dir), 4);
        ASSERT_EQ(verify(dir, &res), AUDIT_INTACT);
        ASSERT_TRUE(res.first_seq > 1);
        audit_verify_result_clear(&res);
        /* a file deleted by hand is not retention's doing */
        {
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ uint64_t *nums = NULL;
                _cleanup_free_ char *name = NULL;
                size_t n = 0;
                ASSERT_OK(eventlog_list(dfd, "audit-", &nums, &n));
                name = eventlog_name("audit-", nums[0]);
                ASSERT_OK(unlinkat(dfd, name, 0));
        }
        ASSERT_EQ(verify(dir, &res), AUDIT_DELETED);
        ASSERT_EQ(res.line, 1);
        ASSERT_CONTAINS(res.message, "no retention record accounts for the files before");
        audit_verify_result_clear(&res);
        rmdir_all(dir);
}

TEST(verify_across_files)
{
        _cleanup_free_ char *dir = tmpdir();
        AuditConfig c = { .max_size = 4 * AUDIT_MIN_FILE_SIZE, .max_files = 8 };
        _cleanup_strv_ char **lines = NULL;
        AuditVerifyResult res;

        for (int i = 0; i < 100; i++)
                ASSERT_OK(append(dir, &c, "start", "web", NULL));
        ASSERT_TRUE(nfiles(dir) >= 3);
        /* the second file's first record (the rotate record) deleted: the chain breaks across the files */
        lines = file_lines(dir, "audit-0000000002.log");
        {
                uint64_t seq;
                _cleanup_json_ json_t *r = NULL;
                ASSERT_OK(jx_parse(lines[0], strlen(lines[0]), "r", &r, NULL));
                seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
                write_lines(dir, "audit-0000000002.log", lines + 1);
                ASSERT_EQ(verify(dir, &res), AUDIT_DELETED);
                ASSERT_EQ(res.seq, seq);
                ASSERT_STREQ(res.file, "audit-0000000002.log");
                ASSERT_EQ(res.line, 1);
                audit_verify_result_clear(&res);
        }
        rmdir_all(dir);
}

#define WRITERS 20
#define PER_WRITER 50

static int count_cb(void *ud, json_t *r, const char *l, size_t len)
{
        (void)r;
        (void)l;
        (void)len;
        (*(size_t *)ud)++;
        return 0;
}

TEST(concurrent_writers)
{
        _cleanup_free_ char *dir = tmpdir();
        AuditConfig c = { .max_size = 8 * AUDIT_MIN_FILE_SIZE, .max_files = 64 };
        AuditVerifyResult res;
        pid_t pids[WRITERS];
        size_t n = 0;

        for (int w = 0; w < WRITERS; w++) {
                pids[w] = fork();
                if (pids[w] == 0) {
                        for (int i = 0; i < PER_WRITER; i++) {
                                char name[32];
                                snprintf(name, sizeof(name), "w%d-%d", w, i);
                                if (append(dir, &c, "start", name, NULL) < 0)
                                        _exit(1);
                        }
                        _exit(0);
                }
        }
        for (int w = 0; w < WRITERS; w++) {
                int st = 0;
                ASSERT_EQ(waitpid(pids[w], &st, 0), pids[w]);
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        ASSERT_TRUE(nfiles(dir) > 2);
        ASSERT_EQ(verify(dir, &res), AUDIT_INTACT);
        ASSERT_EQ(res.torn, 0);
        audit_verify_result_clear(&res);
        /* every writer's records, each once */
        {
                _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
                AuditReadOpts o = { .filter = f };
                ASSERT_OK(event_filter_add(f, "type=container", NULL));
                n = 0;
                ASSERT_OK(audit_read_dir(dir, &o, count_cb, &n, NULL));
                ASSERT_EQ(n, WRITERS * PER_WRITER);
        }
        rmdir_all(dir);
}

typedef struct Rows {
        char **text;
} Rows;

static int rows(void *ud, json_t *rec, const char *line, size_t len)
{
        Rows *r = ud;
        _cleanup_free_ char *s = audit_format_text(rec);
        (void)line;
        (void)len;
        strv_push(&r->text, s);
        return 0;
}

TEST(read_filters_and_text)
{
        _cleanup_free_ char *dir = tmpdir();
        const char *tz = getenv("TZ");
        _cleanup_free_ char *saved = tz ? xstrdup(tz) : NULL;
        struct timespec t1 = { 1795871470, 123 }, t2 = { 1795871480, 0 };
        char *cmd[] = { "stockade", "tag", "busybox", "b:2", NULL };
        AuditEntry img = { .action = "tag", .actor_type = "image", .actor_id = "sha256:00", .actor_name = "b:2",
                           .command = cmd };
        AuditEntry web = { .action = "start", .actor_type = "container", .actor_id = "abcdef", .actor_name = "web" };
        AuditEntry bad = { .action = "stop", .actor_type = "container", .actor_id = "abcdef", .actor_name = "web",
                           .outcome = "container web is not running" };
        Rows r = { .text = xcalloc(1, sizeof(char *)) };
        AuditReadOpts o = { 0 };

        setenv("TZ", "UTC", 1);
        tzset();
        ASSERT_OK(audit_append(dir, NULL, &web, &t1, NULL));
        ASSERT_OK(audit_append(dir, NULL, &img, &t2, NULL));
        ASSERT_OK(audit_append(dir, NULL, &bad, &t2, NULL));
        ASSERT_OK(audit_read_dir(dir, &o, rows, &r, NULL));
        ASSERT_EQ(strv_length(r.text), 3);
        ASSERT_STREQ(r.text[0], "2026-11-28 13:11:10 | start | web\n");
        ASSERT_STREQ(r.text[1], "2026-11-28 13:11:20 | tag | b:2\n");
        ASSERT_STREQ(r.text[2], "2026-11-28 13:11:20 | stop | web | container web is not running\n");
        strv_free(r.text);
        {
                static const struct {
                        const char *arg;
                        size_t n;
                } cases[] = { { "container=web", 2 }, { "container=abc", 2 }, { "type=image", 1 }, { "image=b", 1 },
                              { "event=stop", 1 },    { "label=x", 0 } };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        _cleanup_(event_filter_freep) EventFilter *f = event_filter_new();
                        ASSERT_OK(event_filter_add(f, cases[i].arg, NULL));
                        o = (AuditReadOpts){ .filter = f };
                        r.text = xcalloc(1, sizeof(char *));
                        ASSERT_OK(audit_read_dir(dir, &o, rows, &r, NULL));
                        if (strv_length(r.text) != cases[i].n)
                                TAP_FAIL("%s: %zu records, expected %zu", cases[i].arg, strv_length(r.text), cases[i].n);
                        strv_free(r.text);
                }
        }
        o = (AuditReadOpts){ .has_since = true, .since = t2 };
        r.text = xcalloc(1, sizeof(char *));
        ASSERT_OK(audit_read_dir(dir, &o, rows, &r, NULL));
        ASSERT_EQ(strv_length(r.text), 2);
        strv_free(r.text);
        o = (AuditReadOpts){ .has_until = true, .until = t1 };
        r.text = xcalloc(1, sizeof(char *));
        ASSERT_OK(audit_read_dir(dir, &o, rows, &r, NULL));
        ASSERT_EQ(strv_length(r.text), 1);
        strv_free(r.text);
        if (saved)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        tzset();
        rmdir_all(dir);
}

static int dgram_socket(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { 5, 0 };
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

TEST(forward_syslog)
{
        _cleanup_free_ char *dir = tmpdir(), *sock = NULL;
        _cleanup_strv_ char **lines = NULL;
        AuditConfig c = { .max_size = 1 << 20, .max_files = 4, .forward = AUDIT_FORWARD_SYSLOG };
        char buf[65536];
        ssize_t n;
        int fd;

        ASSERT_OK(mkdir_p(dir, 0700));
        sock = xasprintf("%s/log.sock", dir);
        fd = dgram_socket(sock);
        ASSERT_TRUE(fd >= 0);
        c.forward_socket = sock;
        ASSERT_OK(append(dir, &c, "start", "web", NULL));
        ASSERT_OK(append(dir, &c, "stop", "web", "it failed"));
        lines = file_lines(dir, F1);
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        ASSERT_TRUE(n > 0);
        buf[n] = '\0';
        /* <authpriv.info>Mmm dd hh:mm:ss stockade-audit[pid]: <the record> */
        ASSERT_TRUE(str_has_prefix(buf, "<86>"));
        ASSERT_CONTAINS(buf, " stockade-audit[");
        ASSERT_CONTAINS(buf, lines[0]);
        ASSERT_EQ(buf[4 + 15], ' ');
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        ASSERT_TRUE(n > 0);
        buf[n] = '\0';
        ASSERT_TRUE(str_has_prefix(buf, "<84>")); /* authpriv.warning for a failure */
        ASSERT_CONTAINS(buf, lines[1]);
        close(fd);
        /* nobody listening: the record is still written */
        unlink(sock);
        ASSERT_OK(append(dir, &c, "rm", "web", NULL));
        rmdir_all(dir);
}

TEST(forward_journald)
{
        _cleanup_free_ char *dir = tmpdir(), *sock = NULL;
        _cleanup_strv_ char **lines = NULL;
        AuditConfig c = { .max_size = 1 << 20, .max_files = 4, .forward = AUDIT_FORWARD_JOURNALD };
        char buf[65536];
        ssize_t n;
        int fd;

        ASSERT_OK(mkdir_p(dir, 0700));
        sock = xasprintf("%s/journal.sock", dir);
        fd = dgram_socket(sock);
        ASSERT_TRUE(fd >= 0);
        c.forward_socket = sock;
        ASSERT_OK(append(dir, &c, "kill", "web", "line one\nline two"));
        lines = file_lines(dir, F1);
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        ASSERT_TRUE(n > 0);
        buf[n] = '\0';
        /* MESSAGE has the outcome's newline: binary form */
        ASSERT_TRUE(str_has_prefix(buf, "MESSAGE\n"));
        ASSERT_EQ((unsigned char)buf[8], strlen("audit 1: kill web: line one\nline two"));
        ASSERT_TRUE(memcmp(buf + 16, "audit 1: kill web: line one\nline two\n", 37) == 0);
        ASSERT_TRUE(memmem(buf, (size_t)n, "\nPRIORITY=4\nSYSLOG_FACILITY=10\nSYSLOG_IDENTIFIER=stockade-audit\n", 64) != NULL);
        ASSERT_TRUE(memmem(buf, (size_t)n, "\nSTOCKADE_AUDIT_SEQ=1\nSTOCKADE_AUDIT_ACTION=kill\n", 49) != NULL);
        ASSERT_TRUE(memmem(buf, (size_t)n, "\nSTOCKADE_AUDIT_ACTOR_NAME=web\n", 31) != NULL);
        /* a value with a newline takes the binary form: KEY\n, a little-endian 64-bit length, the value */
        {
                const char *k = memmem(buf, (size_t)n, "STOCKADE_AUDIT_OUTCOME\n", 23);
                ASSERT_TRUE(k != NULL);
                ASSERT_EQ((unsigned char)k[23], 17);
                ASSERT_EQ(k[24], 0);
                ASSERT_TRUE(memcmp(k + 31, "line one\nline two\n", 18) == 0);
        }
        ASSERT_TRUE(memmem(buf, (size_t)n, lines[0], strlen(lines[0])) != NULL);
        close(fd);
        rmdir_all(dir);
}

/* Runs cmd through the shell and returns its stdout (malloc'd). */
static char *capture(const char *cmd)
{
        FILE *p = popen(cmd, "r");
        char *out = NULL;
        size_t len = 0;
        if (!p)
                return xstrdup("");
        (void)read_all_fd(fileno(p), 16 << 20, &out, &len);
        pclose(p);
        return out ? out : xstrdup("");
}

static pid_t spawn(const char *log, char *const argv[])
{
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                dup2(fd, 1);
                dup2(fd, 2);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void stop(pid_t pid)
{
        if (pid > 0) {
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
        }
}

/* A real rsyslogd (Debian's) listening on a socket of its own: what it parsed of the datagram. */
TEST(forward_real_rsyslogd)
{
        static const char *const paths[] = { "/usr/sbin/rsyslogd", "/sbin/rsyslogd" };
        const char *bin = NULL;
        _cleanup_free_ char *dir = NULL, *work = NULL, *conf = NULL, *confpath = NULL, *sock = NULL, *out = NULL,
                            *log = NULL, *pidf = NULL;
        _cleanup_strv_ char **lines = NULL;
        AuditConfig c = { .max_size = 1 << 20, .max_files = 4, .forward = AUDIT_FORWARD_SYSLOG };
        char pidbuf[16];
        pid_t pid;
        FILE *f;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        bin = paths[i];
        if (!bin)
                TAP_SKIP("rsyslogd is not installed (tools/setup.sh installs rsyslog)");
        dir = tmpdir();
        work = xstrndup(dir, strrchr(dir, '/') - dir);
        sock = xasprintf("%s/rs.sock", work);
        out = xasprintf("%s/out.log", work);
        log = xasprintf("%s/rsyslogd.log", work);
        pidf = xasprintf("%s/rsyslogd.pid", work);
        confpath = xasprintf("%s/rsyslog.conf", work);
        conf = xasprintf("global(workDirectory=\"%s\")\n"
                         "module(load=\"imuxsock\" sysSock.use=\"off\")\n"
                         "input(type=\"imuxsock\" socket=\"%s\" rateLimit.interval=\"0\")\n"
                         "template(name=\"parsed\" type=\"string\" string=\"%%pri%%|%%syslogfacility-text%%|"
                         "%%syslogseverity-text%%|%%programname%%|%%procid%%|%%msg%%\\n\")\n"
                         "action(type=\"omfile\" file=\"%s\" template=\"parsed\")\n",
                         work, sock, out);
        f = fopen(confpath, "we");
        ASSERT_TRUE(f != NULL);
        fputs(conf, f);
        fclose(f);
        pid = spawn(log, (char *[]){ (char *)bin, "-n", "-f", confpath, "-i", pidf, NULL });
        ASSERT_TRUE(pid > 0);
        for (int i = 0; i < 300 && access(sock, F_OK) < 0; i++)
                usleep(50 * 1000);
        if (access(sock, F_OK) < 0) {
                stop(pid);
                TAP_FAIL("rsyslogd did not come up");
        }
        c.forward_socket = sock;
        ASSERT_OK(append(dir, &c, "start", "web", NULL));
        ASSERT_OK(append(dir, &c, "stop", "web", "it failed"));
        for (int i = 0; i < 400; i++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                strv_free(lines);
                lines = xcalloc(1, sizeof(char *));
                if (read_file_at(AT_FDCWD, out, 1 << 20, &text, &len) == 0) {
                        char *save = NULL;
                        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                strv_push(&lines, l);
                }
                if (strv_length(lines) >= 2)
                        break;
                usleep(50 * 1000);
        }
        stop(pid);
        ASSERT_EQ(strv_length(lines), 2);
        snprintf(pidbuf, sizeof(pidbuf), "|%d|", (int)getpid());
        {
                _cleanup_strv_ char **rec = file_lines(dir, F1);
                /* PRI, facility and severity, the tag and pid parsed out, the record as the message */
                ASSERT_TRUE(strstr(lines[0], "86|authpriv|info|stockade-audit") == lines[0]);
                ASSERT_CONTAINS(lines[0], pidbuf);
                ASSERT_CONTAINS(lines[0], rec[0]);
                ASSERT_TRUE(strstr(lines[1], "84|authpriv|warning|stockade-audit") == lines[1]);
                ASSERT_CONTAINS(lines[1], rec[1]);
        }
        rmdir_all(dir);
}

/*
 * A real systemd-journald (Debian's), as root, in a child with a private mount namespace where
 * /run/systemd and /var/log are fresh tmpfs: the record forwarded to the standard socket path comes
 * back from `journalctl -o json` with its fields.
 */
static int journald_child(const char *dir, char *why, size_t whylen)
{
        static const char *const paths[] = { "/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald" };
        const char *bin = NULL;
        AuditConfig c = { .max_size = 1 << 20, .max_files = 4, .forward = AUDIT_FORWARD_JOURNALD };
        _cleanup_free_ char *cmd = NULL, *out = NULL, *log = xasprintf("%s.journald.log", dir);
        _cleanup_strv_ char **rec = NULL;
        _cleanup_json_ json_t *e = NULL;
        struct stat st;
        pid_t pid;
        FILE *f;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        bin = paths[i];
        if (!bin)
                return snprintf(why, whylen, "systemd-journald not installed (Debian's systemd package)"), 77;
        if (system("command -v journalctl >/dev/null") != 0)
                return snprintf(why, whylen, "journalctl not installed"), 77;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return snprintf(why, whylen, "no private mount namespace: %s", strerror(errno)), 77;
        (void)mkdir("/run/systemd", 0755);
        if (mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755") < 0 ||
            mount("tmpfs", "/var/log", "tmpfs", 0, "mode=0755") < 0)
                return snprintf(why, whylen, "tmpfs: %s", strerror(errno)), 1;
        (void)mkdir("/run/systemd/journal", 0755);
        (void)mkdir("/run/systemd/journald.conf.d", 0755);
        f = fopen("/run/systemd/journald.conf.d/test.conf", "we");
        if (!f)
                return snprintf(why, whylen, "journald.conf.d: %s", strerror(errno)), 1;
        fputs("[Journal]\nStorage=persistent\nReadKMsg=no\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToWall=no\n", f);
        fclose(f);
        f = fopen("/run/systemd/journal/flushed", "we");
        if (f)
                fclose(f);
        pid = spawn(log, (char *[]){ (char *)bin, NULL });
        for (int i = 0; i < 1000 && stat("/run/systemd/journal/socket", &st) < 0; i++)
                usleep(10 * 1000);
        if (stat("/run/systemd/journal/socket", &st) < 0) {
                stop(pid);
                return snprintf(why, whylen, "systemd-journald did not come up (see %s)", log), 1;
        }
        if (append(dir, &c, "kill", "jweb", "line one\nline two") < 0) {
                stop(pid);
                return snprintf(why, whylen, "append failed"), 1;
        }
        rec = file_lines(dir, F1);
        cmd = xasprintf("journalctl --no-pager --all -q -o json STOCKADE_AUDIT_ACTOR_NAME=jweb");
        for (int i = 0; i < 200; i++) {
                free(out);
                out = capture(cmd);
                if (*out)
                        break;
                usleep(50 * 1000);
        }
        stop(pid);
        e = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
        if (!e)
                return snprintf(why, whylen, "journalctl gave no entry: %s", out), 1;
#define FIELD(k, v)                                                                                            \
        if (!json_is_string(json_object_get(e, k)) || strcmp(json_string_value(json_object_get(e, k)), v) != 0)   \
                return snprintf(why, whylen, "%s: %s", k, out), 1;
        FIELD("MESSAGE", "audit 1: kill jweb: line one\nline two");
        FIELD("PRIORITY", "4");
        FIELD("SYSLOG_FACILITY", "10");
        FIELD("SYSLOG_IDENTIFIER", "stockade-audit");
        FIELD("STOCKADE_AUDIT_SEQ", "1");
        FIELD("STOCKADE_AUDIT_ACTION", "kill");
        FIELD("STOCKADE_AUDIT_OUTCOME", "line one\nline two");
        FIELD("STOCKADE_AUDIT_RECORD", rec[0]);
#undef FIELD
        return 0;
}

TEST(forward_real_journald)
{
        _cleanup_free_ char *dir = NULL;
        char *why;
        int st = 0;
        pid_t pid;

        if (geteuid() != 0)
                TAP_SKIP("needs root (a private mount namespace for journald's socket path)");
        dir = tmpdir();
        why = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(why != MAP_FAILED);
        why[0] = '\0';
        pid = fork();
        if (pid == 0)
                _exit(journald_child(dir, why, 4096));
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        rmdir_all(dir);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
                TAP_SKIP("%s", why);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                TAP_FAIL("%s", why[0] ? why : "the journald child died");
        munmap(why, 4096);
}

TEST(verify_mem_garbage)
{
        const char *names[] = { "a", "b" };
        const char *data[] = { "\n\n{}\n{\"seq\":1}\n", "x" };
        size_t lens[] = { strlen(data[0]), 1 };
        AuditVerifyResult res;

        ASSERT_OK(audit_verify_mem(names, data, lens, 2, "junk", 4, &res));
        ASSERT_TRUE(res.damage != AUDIT_INTACT);
        ASSERT_TRUE(res.message != NULL);
        audit_verify_result_clear(&res);
        ASSERT_OK(audit_verify_mem(names, data, lens, 0, NULL, 0, &res));
        ASSERT_EQ(res.damage, AUDIT_INTACT);
        audit_verify_result_clear(&res);
}
