/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event log (events.h, docs/EVENTS.md): docker 20.10's event JSON appended under a directory lock,
 * numbered files for rotation, dockerd's filters, and a reader that follows the files as they grow.
 *
 * Only common code and jansson: the monitor (statically linked, no nettle) may link this file to
 * emit die and oom events.
 */
#include "events.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-util.h"
#include "util.h"

#define FILE_PREFIX     "events-"
#define FOLLOW_POLL_MS  100
#define READ_CHUNK      (64 * 1024)
#define NS_PER_S        1000000000LL

static int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void)close(fd);
                errno = saved;
        }
        return -EBADF;
}

/* ================================================================ Go's JSON text */

void gobuf_add(GoBuf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t c = b->cap ? b->cap : 256;
                while (c < b->len + n + 1)
                        c *= 2;
                b->s = xrealloc(b->s, c);
                b->cap = c;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

void gobuf_puts(GoBuf *b, const char *s)
{
        gobuf_add(b, s, strlen(s));
}

void gobuf_printf(GoBuf *b, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = xvasprintf(fmt, ap);
        va_end(ap);
        gobuf_puts(b, s);
        free(s);
}


bool gobuf_json_string(GoBuf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *)s;
        size_t start = 0, i = 0;
        bool valid = true;

        gobuf_add(b, "\"", 1);
        while (i < n) {
                unsigned char c = u[i];
                uint32_t r;
                size_t w;
                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        i++;
                        continue;
                }
                if (c < 0x80) {
                        char esc[7] = { '\\', 0 };
                        size_t el = 2;
                        gobuf_add(b, s + start, i - start);
                        switch (c) {
                        case '"': esc[1] = '"'; break;
                        case '\\': esc[1] = '\\'; break;
                        case '\b': esc[1] = 'b'; break;
                        case '\f': esc[1] = 'f'; break;
                        case '\n': esc[1] = 'n'; break;
                        case '\r': esc[1] = 'r'; break;
                        case '\t': esc[1] = 't'; break;
                        default:
                                memcpy(esc + 1, "u00", 3);
                                esc[4] = hex[c >> 4];
                                esc[5] = hex[c & 0xF];
                                el = 6;
                                break;
                        }
                        gobuf_add(b, esc, el);
                        start = ++i;
                        continue;
                }
                w = utf8_valid_width(u + i, n - i, &r);
                if (w == 0 || r == 0x2028 || r == 0x2029) {
                        gobuf_add(b, s + start, i - start);
                        if (w == 0) {
                                gobuf_puts(b, "\\ufffd");
                                valid = false;
                                w = 1;
                        } else
                                gobuf_puts(b, r == 0x2028 ? "\\u2028" : "\\u2029");
                        start = i + w;
                }
                i += w;
        }
        gobuf_add(b, s + start, n - start);
        gobuf_add(b, "\"", 1);
        return valid;
}

static void gobuf_str(GoBuf *b, const char *s)
{
        (void)gobuf_json_string(b, s, strlen(s));
}

/* ================================================================ formatting */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted as Go sorts a map's (bytewise). */
static const char **sorted_keys(json_t *o, size_t *ret_n)
{
        size_t n = json_object_size(o), i = 0;
        const char **keys = xcalloc(n + 1, sizeof(char *));
        const char *k;
        json_t *v;

        json_object_foreach(o, k, v) keys[i++] = k;
        qsort(keys, n, sizeof(char *), cmp_str);
        *ret_n = n;
        return keys;
}

int event_format(const char *type, const char *action, const char *actor_id, json_t *attributes,
                 const struct timespec *ts, char **ret, size_t *ret_len, Error **err)
{
        _cleanup_free_ const char **keys = NULL;
        GoBuf b = { 0 };
        const char *from = NULL;
        bool container = STREQ(type, "container"), image = STREQ(type, "image");
        size_t n = 0;
        int64_t ns;

        if (attributes && !json_is_object(attributes))
                return error_setx(err, EINVAL, "event %s %s: Attributes: expected an object of strings", type, action);
        if (ts->tv_sec < 0 || ts->tv_sec > INT64_MAX / NS_PER_S - 1 || ts->tv_nsec < 0 || ts->tv_nsec >= NS_PER_S)
                return error_setx(err, ERANGE, "event %s %s: time out of range", type, action);
        ns = (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
        if (attributes) {
                keys = sorted_keys(attributes, &n);
                for (size_t i = 0; i < n; i++)
                        if (!json_is_string(json_object_get(attributes, keys[i])))
                                return error_setx(err, EINVAL, "event %s %s: Attributes.%s: expected a string", type,
                                                  action, keys[i]);
                from = json_string_value(json_object_get(attributes, "image"));
        }
        /* 20.10's events.Log fills the deprecated fields, each `omitempty`. */
        gobuf_add(&b, "{", 1);
        if (container || image) {
                if (*action) {
                        gobuf_puts(&b, "\"status\":");
                        gobuf_str(&b, action);
                        gobuf_puts(&b, ",");
                }
                if (*actor_id) {
                        gobuf_puts(&b, "\"id\":");
                        gobuf_str(&b, actor_id);
                        gobuf_puts(&b, ",");
                }
                if (container && from && *from) {
                        gobuf_puts(&b, "\"from\":");
                        gobuf_str(&b, from);
                        gobuf_puts(&b, ",");
                }
        }
        gobuf_puts(&b, "\"Type\":");
        gobuf_str(&b, type);
        gobuf_puts(&b, ",\"Action\":");
        gobuf_str(&b, action);
        gobuf_puts(&b, ",\"Actor\":{\"ID\":");
        gobuf_str(&b, actor_id);
        gobuf_puts(&b, ",\"Attributes\":{");
        for (size_t i = 0; i < n; i++) {
                json_t *v = json_object_get(attributes, keys[i]);
                if (i > 0)
                        gobuf_add(&b, ",", 1);
                gobuf_str(&b, keys[i]);
                gobuf_add(&b, ":", 1);
                (void)gobuf_json_string(&b, json_string_value(v), json_string_length(v));
        }
        gobuf_puts(&b, "}},\"scope\":\"local\"");
        if (ts->tv_sec != 0)
                gobuf_printf(&b, ",\"time\":%" PRId64, (int64_t)ts->tv_sec);
        if (ns != 0)
                gobuf_printf(&b, ",\"timeNano\":%" PRId64, ns);
        gobuf_puts(&b, "}\n");
        if (b.len > EVENTS_MAX_RECORD) {
                free(b.s);
                return error_setx(err, E2BIG, "event %s %s: %zu bytes, more than the %d an event may have", type,
                                  action, b.len, EVENTS_MAX_RECORD);
        }
        *ret = b.s;
        *ret_len = b.len;
        return 0;
}

char *event_exec_action(const char *action, char *const *argv)
{
        GoBuf b = { 0 };

        gobuf_puts(&b, action);
        gobuf_puts(&b, ": ");
        if (argv && argv[0]) {
                gobuf_puts(&b, argv[0]);
                gobuf_puts(&b, " ");
                for (size_t i = 1; argv[i]; i++) {
                        if (i > 1)
                                gobuf_puts(&b, " ");
                        gobuf_puts(&b, argv[i]);
                }
        }
        return b.s;
}

/* ================================================================ files */

char *eventlog_name(const char *prefix, uint64_t n)
{
        return xasprintf("%s%010" PRIu64 ".log", prefix, n);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* "<prefix><digits>.log" → its number; 0 for any other name. */
static uint64_t file_number(const char *name, const char *prefix)
{
        size_t pl = strlen(prefix);
        const char *p = name + pl, *dot;
        uint64_t n = 0;

        if (strncmp(name, prefix, pl) != 0)
                return 0;
        dot = strchr(p, '.');
        if (!dot || dot == p || dot - p > 19 || !STREQ(dot, ".log"))
                return 0;
        for (; p < dot; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                n = n * 10 + (uint64_t)(*p - '0');
        }
        return n;
}

int eventlog_list(int dirfd, const char *prefix, uint64_t **ret, size_t *ret_n)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t *v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                uint64_t num = file_number(de->d_name, prefix);
                if (num == 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = num;
        }
        closedir(d);
        if (n > 1)
                qsort(v, n, sizeof(*v), cmp_u64);
        *ret = v;
        *ret_n = n;
        return 0;
}

/* The event's time from the end of a line as written ("...,"timeNano":N}"), without parsing it all. */
static bool line_time_ns(const char *line, size_t len, int64_t *ret)
{
        static const char key[] = "\"timeNano\":";
        size_t kl = sizeof(key) - 1, i;
        int64_t ns = 0;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len < kl + 2 || line[len - 1] != '}')
                return false;
        i = len - 1;
        while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
                i--;
        if (i == len - 1 || len - 1 - i > 19 || i < kl || memcmp(line + i - kl, key, kl) != 0)
                return false;
        for (size_t k = i; k < len - 1; k++) {
                if (ns > (INT64_MAX - 9) / 10)
                        return false;
                ns = ns * 10 + (line[k] - '0');
        }
        *ret = ns;
        return true;
}

/* The time of a file's first event (from its first 4 KiB); false if not found there. */
static bool first_event_ns(int fd, int64_t *ret)
{
        char buf[4096];
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        char *nl;

        if (n <= 0)
                return false;
        nl = memchr(buf, '\n', (size_t)n);
        return nl && line_time_ns(buf, (size_t)(nl - buf), ret);
}

int eventlog_open_dir(const char *dir, bool create, int *ret)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 && errno == ENOENT && create) {
                int r = mkdir_p(dir, 0700);
                if (r < 0)
                        return r;
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

int eventlog_lock(int dfd)
{
        while (flock(dfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

/* Drops files beyond max_files and files whose newest event is older than the age limit. */
static void retention(int dfd, const EventsConfig *c, uint64_t cur, const struct timespec *now)
{
        _cleanup_free_ uint64_t *nums = NULL;
        size_t n = 0;

        if (eventlog_list(dfd, FILE_PREFIX, &nums, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = eventlog_name(FILE_PREFIX, nums[i]);
                struct stat st;
                bool drop = n - i > (size_t)c->max_files;
                if (nums[i] >= cur)
                        break;
                if (!drop && c->max_age_s > 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        drop = st.st_mtim.tv_sec < now->tv_sec - c->max_age_s;
                if (!drop)
                        break; /* files are in age order: the rest are younger */
                (void)unlinkat(dfd, name, 0);
        }
}

static void config_defaults(EventsConfig *c)
{
        c->max_size = EVENTS_DEFAULT_MAX_SIZE;
        c->max_age_s = EVENTS_DEFAULT_MAX_AGE_S;
        c->max_files = EVENTS_DEFAULT_MAX_FILES;
}

void events_config(Engine *e, EventsConfig *ret)
{
        const char *size = json_string_value(json_object_get(e->daemon, "events-max-size"));
        const char *age = json_string_value(json_object_get(e->daemon, "events-max-age"));
        int64_t v;

        config_defaults(ret);
        /* daemon_config_validate() checked both: a value that fails here keeps the default. */
        if (size && parse_size(size, &v) == 0 && v > 0)
                ret->max_size = v;
        if (age && parse_duration_ms(age, &v) == 0 && v > 0)
                ret->max_age_s = (v + 999) / 1000;
}

char *events_dir(Engine *e)
{
        return xasprintf("%s/%s", e->data_root, EVENTS_DIR);
}

int events_append(const char *dir, const EventsConfig *cfg, const char *type, const char *action,
                  const char *actor_id, json_t *attributes, const struct timespec *ts, Error **err)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        _cleanup_free_ uint64_t *nums = NULL;
        _cleanup_free_ char *line = NULL, *name = NULL;
        EventsConfig c;
        struct timespec now;
        struct stat st = { 0 };
        size_t n = 0, len = 0;
        uint64_t cur;
        int64_t per_file;
        bool rotate, nl = false;
        ssize_t w;
        int r;

        if (cfg)
                c = *cfg;
        else
                config_defaults(&c);
        if (c.max_files < 2)
                c.max_files = 2;
        per_file = c.max_size / c.max_files;
        if (per_file < EVENTS_MIN_FILE_SIZE)
                per_file = EVENTS_MIN_FILE_SIZE;

        r = eventlog_open_dir(dir, true, &dfd);
        if (r < 0)
                return error_set(err, -r, "opening the event log %s", dir);
        r = eventlog_lock(dfd);
        if (r < 0)
                return error_set(err, -r, "locking the event log %s", dir);
        /* The time is read under the lock, so that the order of the file is the order of time. */
        clock_gettime(CLOCK_REALTIME, &now);
        r = event_format(type, action, actor_id, attributes, ts ? ts : &now, &line, &len, err);
        if (r < 0)
                return r;
        r = eventlog_list(dfd, FILE_PREFIX, &nums, &n);
        if (r < 0)
                return error_set(err, -r, "listing the event log %s", dir);
        cur = n > 0 ? nums[n - 1] : 0;
        if (cur > 0) {
                name = eventlog_name(FILE_PREFIX, cur);
                fd = openat(dfd, name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        return error_set(err, errno, "opening %s/%s", dir, name);
                if (fstat(fd, &st) < 0)
                        return error_set(err, errno, "stat %s/%s", dir, name);
        }
        rotate = cur == 0 || (st.st_size > 0 && st.st_size + (off_t)len + 1 > per_file);
        if (!rotate && st.st_size > 0 && c.max_age_s > 0) {
                int64_t first;
                if (first_event_ns(fd, &first) && first / NS_PER_S < now.tv_sec - c.max_age_s)
                        rotate = true;
        }
        if (rotate) {
                fd = safe_close(fd);
                free(name);
                name = eventlog_name(FILE_PREFIX, ++cur);
                fd = openat(dfd, name, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return error_set(err, errno, "creating %s/%s", dir, name);
        }
        if (st.st_size > 0) {
                char last = '\n';
                if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
                        nl = true; /* a torn record: it stays alone on its line */
        }
        if (nl) {
                char *l2 = xmalloc(len + 2);
                l2[0] = '\n';
                memcpy(l2 + 1, line, len + 1);
                free(line);
                line = l2;
                len++;
        }
        /* One write: concurrent writers hold the lock, readers see whole lines or a growing one. */
        w = write(fd, line, len);
        if (w != (ssize_t)len) {
                int e = w < 0 ? errno : ENOSPC;
                (void)!ftruncate(fd, st.st_size);
                return error_set(err, e, "writing to the event log %s/%s", dir, name);
        }
        retention(dfd, &c, cur, &now);
        return 0;
}

int event_emit_at(Engine *e, const struct timespec *ts, const char *type, const char *action,
                  const char *actor_id, json_t *attributes, Error **err)
{
        _cleanup_free_ char *dir = events_dir(e);
        EventsConfig c;

        events_config(e, &c);
        return events_append(dir, &c, type, action, actor_id, attributes, ts, err);
}

int event_emit(Engine *e, const char *type, const char *action, const char *actor_id, json_t *attributes,
               Error **err)
{
        return event_emit_at(e, NULL, type, action, actor_id, attributes, err);
}

int event_emit_container(Engine *e, json_t *record, const char *action, json_t *extra, Error **err)
{
        _cleanup_json_ json_t *attrs = json_object();
        json_t *config = json_object_get(record, "Config"), *v;
        const char *id = json_string_value(json_object_get(record, "Id"));
        const char *name = json_string_value(json_object_get(record, "Name"));
        const char *image = json_string_value(json_object_get(config, "Image"));
        const char *k;

        if (extra)
                json_object_update(attrs, extra);
        json_object_foreach(json_object_get(config, "Labels"), k, v) if (json_is_string(v))
                json_object_set(attrs, k, v);
        if (image && *image)
                json_object_set_new(attrs, "image", json_string(image));
        while (name && *name == '/')
                name++;
        json_object_set_new(attrs, "name", json_string(name ? name : ""));
        return event_emit(e, "container", action, id ? id : "", attrs, err);
}

int event_emit_image(Engine *e, const char *image_id, const char *ref_name, json_t *labels, const char *action,
                     Error **err)
{
        _cleanup_json_ json_t *attrs = json_object();
        const char *k;
        json_t *v;

        json_object_foreach(labels, k, v) if (json_is_string(v)) json_object_set(attrs, k, v);
        if (ref_name && *ref_name)
                json_object_set_new(attrs, "name", json_string(ref_name));
        return event_emit(e, "image", action, image_id, attrs, err);
}

/* ================================================================ filters */

struct EventFilter {
        json_t *keys; /* key → {value: true, ...}: filters.Args' map of sets, in insertion order */
};

static const char *const filter_keys[] = {
        "config", "container", "daemon", "event", "image", "label", "network",
        "node", "plugin", "scope", "secret", "service", "type", "volume",
};

EventFilter *event_filter_new(void)
{
        EventFilter *f = xcalloc(1, sizeof(*f));
        f->keys = json_object();
        return f;
}

EventFilter *event_filter_free(EventFilter *f)
{
        if (f) {
                json_decref(f->keys);
                free(f);
        }
        return NULL;
}

static char *trim(const char *s, size_t n)
{
        while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
                s++;
                n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                         s[n - 1] == '\v' || s[n - 1] == '\f'))
                n--;
        return xstrndup(s, n);
}

int event_filter_add(EventFilter *f, const char *arg, Error **err)
{
        const char *eq = strchr(arg, '=');
        _cleanup_free_ char *key = NULL, *value = NULL;
        json_t *set;
        size_t i;

        if (!*arg)
                return 0; /* the docker CLI ignores an empty --filter */
        if (!eq)
                return error_setx(err, EINVAL, "bad format of filter (expected name=value)");
        key = trim(arg, (size_t)(eq - arg));
        value = trim(eq + 1, strlen(eq + 1));
        for (char *p = key; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        for (i = 0; i < ELEMENTSOF(filter_keys); i++)
                if (STREQ(filter_keys[i], key))
                        break;
        if (i == ELEMENTSOF(filter_keys))
                return error_setx(err, EINVAL, "invalid filter '%s'", key);
        /* Keys and values are JSON strings here: text that is not UTF-8 can never match a field. */
        set = json_object_get(f->keys, key);
        if (!set) {
                set = json_object();
                json_object_set_new(f->keys, key, set);
        }
        {
                json_t *t = json_true();
                if (json_object_set_new(set, value, t) < 0)
                        return error_setx(err, EINVAL, "filter %s: the value is not valid UTF-8", key);
        }
        return 0;
}

bool event_filter_empty(const EventFilter *f)
{
        return !f || json_object_size(f->keys) == 0;
}

bool event_filter_has(const EventFilter *f, const char *key)
{
        return f && json_object_size(json_object_get(f->keys, key)) > 0;
}

/* filters.Args.ExactMatch: no values for key → true. */
static bool exact_match(const EventFilter *f, const char *key, const char *src)
{
        json_t *set = json_object_get(f->keys, key);
        if (json_object_size(set) == 0)
                return true;
        return json_object_get(set, src ? src : "") != NULL;
}

/* filters.Args.FuzzyMatch: an exact match, or a value that is a prefix of src. */
static bool fuzzy_match(const EventFilter *f, const char *key, const char *src)
{
        json_t *set = json_object_get(f->keys, key), *v;
        const char *val;

        if (exact_match(f, key, src))
                return true;
        json_object_foreach(set, val, v) if (str_has_prefix(src ? src : "", val)) return true;
        return false;
}

static const char *attr(json_t *event, const char *key)
{
        return json_string_value(json_object_get(json_object_get(json_object_get(event, "Actor"), "Attributes"), key));
}

static bool alnum_lower(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component of a repository name: [a-z0-9]+ joined by ".", "_", "__" or dashes. */
static bool ref_component_ok(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0 || !alnum_lower(s[0]))
                return false;
        for (;;) {
                while (i < n && alnum_lower(s[i]))
                        i++;
                if (i == n)
                        return true;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
                if (i == n || !alnum_lower(s[i]))
                        return false;
        }
}

static bool is_hex64(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

char *event_image_familiar_name(const char *ref)
{
        _cleanup_free_ char *s = xstrdup(ref);
        char *at = strchr(s, '@'), *slash, *colon, *domain = NULL, *rest;
        size_t rl;

        if (at)
                *at = '\0';
        if (!*s || is_hex64(s))
                return xstrdup(ref);
        slash = strrchr(s, '/');
        colon = strrchr(s, ':');
        if (colon && (!slash || colon > slash)) {
                const char *tag = colon + 1;
                size_t tl = strlen(tag);
                if (tl == 0 || tl > 128)
                        return xstrdup(ref);
                for (size_t i = 0; i < tl; i++)
                        if (!((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
                              (tag[i] >= '0' && tag[i] <= '9') || tag[i] == '_' || (i > 0 && (tag[i] == '.' || tag[i] == '-'))))
                                return xstrdup(ref);
                *colon = '\0';
        }
        slash = strchr(s, '/');
        rest = s;
        if (slash) {
                size_t dl = (size_t)(slash - s);
                bool lower = true;
                for (size_t i = 0; i < dl; i++)
                        if (s[i] >= 'A' && s[i] <= 'Z')
                                lower = false;
                if (memchr(s, '.', dl) || memchr(s, ':', dl) || (dl == 9 && !strncmp(s, "localhost", 9)) || !lower) {
                        domain = s;
                        *slash = '\0';
                        rest = slash + 1;
                }
        }
        /* The path: components checked as docker's grammar, so a non-reference comes back unchanged. */
        rl = strlen(rest);
        for (const char *p = rest;;) {
                const char *e = strchr(p, '/');
                size_t cl = e ? (size_t)(e - p) : strlen(p);
                if (!ref_component_ok(p, cl))
                        return xstrdup(ref);
                if (!e)
                        break;
                p = e + 1;
        }
        if (rl > 255)
                return xstrdup(ref);
        if (domain && !STREQ(domain, "docker.io") && !STREQ(domain, "index.docker.io"))
                return xasprintf("%s/%s", domain, rest);
        if (str_has_prefix(rest, "library/") && !strchr(rest + 8, '/'))
                return xstrdup(rest + 8);
        return xstrdup(rest);
}

static bool image_exact(const EventFilter *f, const char *v)
{
        _cleanup_free_ char *stripped = NULL;
        if (exact_match(f, "image", v))
                return true;
        stripped = event_image_familiar_name(v ? v : "");
        return exact_match(f, "image", stripped);
}

bool event_filter_match(const EventFilter *f, json_t *event)
{
        static const char *const by_name[] = { "daemon", "container", "plugin", "volume", "network",
                                               "node", "service", "secret", "config" };
        const char *type = json_string_value(json_object_get(event, "Type"));
        const char *action = json_string_value(json_object_get(event, "Action"));
        const char *id = json_string_value(json_object_get(json_object_get(event, "Actor"), "ID"));
        const char *name = attr(event, "name");
        json_t *set;

        if (event_filter_empty(f))
                return true;
        /* event: moby#25798, a value exec_create, exec_start or health_status makes every value a prefix. */
        set = json_object_get(f->keys, "event");
        if (json_object_get(set, "exec_create") || json_object_get(set, "exec_start") ||
            json_object_get(set, "health_status")) {
                if (!fuzzy_match(f, "event", action))
                        return false;
        } else if (!exact_match(f, "event", action))
                return false;
        if (!exact_match(f, "type", type))
                return false;
        if (event_filter_has(f, "scope") && !exact_match(f, "scope", json_string_value(json_object_get(event, "scope"))))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(by_name); i++)
                if (!fuzzy_match(f, by_name[i], id) && !fuzzy_match(f, by_name[i], name))
                        return false;
        if (event_filter_has(f, "image")) {
                const char *img = attr(event, type && STREQ(type, "image") ? "name" : "image");
                if (!image_exact(f, id) && !image_exact(f, img))
                        return false;
        }
        set = json_object_get(f->keys, "label");
        if (json_object_size(set) > 0) {
                json_t *attrs = json_object_get(json_object_get(event, "Actor"), "Attributes"), *v;
                const char *kv;
                if (json_object_size(attrs) == 0)
                        return false;
                json_object_foreach(set, kv, v) {
                        const char *eq = strchr(kv, '=');
                        _cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
                        const char *have = json_string_value(json_object_get(attrs, k));
                        if (!have || (eq && !STREQ(have, eq + 1)))
                                return false;
                }
        }
        return true;
}

/* ================================================================ reading */

int event_parse_line(const char *line, size_t len, json_t **ret, int64_t *ret_ns)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *actor, *attrs, *v, *tn, *t;
        const char *k;
        int64_t ns;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len == 0 || len > EVENTS_MAX_RECORD || line[0] != '{')
                return -EINVAL;
        if (jx_parse(line, len, "event", &j, NULL) < 0 || !json_is_object(j))
                return -EINVAL;
        actor = json_object_get(j, "Actor");
        attrs = json_object_get(actor, "Attributes");
        if (!json_is_string(json_object_get(j, "Type")) || !json_is_string(json_object_get(j, "Action")) ||
            !json_is_object(actor) || !json_is_string(json_object_get(actor, "ID")))
                return -EINVAL;
        if (attrs && !json_is_object(attrs) && !json_is_null(attrs))
                return -EINVAL;
        json_object_foreach(attrs, k, v) if (!json_is_string(v)) return -EINVAL;
        tn = json_object_get(j, "timeNano");
        t = json_object_get(j, "time");
        if (json_is_integer(tn))
                ns = json_integer_value(tn);
        else if (json_is_integer(t) && json_integer_value(t) >= 0 && json_integer_value(t) < INT64_MAX / NS_PER_S)
                ns = json_integer_value(t) * NS_PER_S;
        else
                return -EINVAL;
        if (ns < 0)
                return -EINVAL;
        *ret = TAKE_PTR(j);
        if (ret_ns)
                *ret_ns = ns;
        return 0;
}

typedef struct Reader {
        const char *dir;
        int dfd;
        int fd;        /* the file being read, -1 before the first */
        uint64_t num;  /* its number */
        GoBuf line;    /* the unfinished line */
        bool skipping; /* inside a line longer than EVENTS_MAX_RECORD: dropped up to its "\n" */
        int64_t since_ns, until_ns;
        bool has_since, has_until;
        const EventsReadOpts *o;
        event_fn fn;
        void *ud;
} Reader;

static int64_t ts_ns(const struct timespec *t)
{
        if (t->tv_sec < 0)
                return 0;
        if (t->tv_sec >= INT64_MAX / NS_PER_S)
                return INT64_MAX;
        return (int64_t)t->tv_sec * NS_PER_S + t->tv_nsec;
}

static int deliver(Reader *R, const char *line, size_t len)
{
        _cleanup_json_ json_t *ev = NULL;
        int64_t ns;

        if (len == 0)
                return 0;
        /* Lines as written end in timeNano: most events outside since/until are skipped unparsed. */
        if (line_time_ns(line, len, &ns) &&
            ((R->has_since && ns < R->since_ns) || (R->has_until && ns > R->until_ns)))
                return 0;
        if (event_parse_line(line, len, &ev, &ns) < 0)
                return 0; /* damage (a torn record, an edit): skipped */
        if ((R->has_since && ns < R->since_ns) || (R->has_until && ns > R->until_ns))
                return 0;
        if (!event_filter_match(R->o->filter, ev))
                return 0;
        return R->fn(R->ud, ev, line, len);
}

/* Reads the current file to its end, delivering each complete line. */
static int drain(Reader *R)
{
        char chunk[READ_CHUNK];

        if (R->fd < 0)
                return 0;
        for (;;) {
                ssize_t n = read(R->fd, chunk, sizeof(chunk));
                size_t start = 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                for (size_t i = 0; i < (size_t)n; i++) {
                        int r = 0;
                        if (chunk[i] != '\n')
                                continue;
                        if (R->skipping)
                                R->skipping = false;
                        else if (R->line.len == 0)
                                r = deliver(R, chunk + start, i - start);
                        else if (R->line.len + (i - start) <= EVENTS_MAX_RECORD) {
                                gobuf_add(&R->line, chunk + start, i - start);
                                r = deliver(R, R->line.s, R->line.len);
                        }
                        R->line.len = 0;
                        start = i + 1;
                        if (r != 0)
                                return r;
                }
                if (start < (size_t)n && !R->skipping) {
                        if (R->line.len + ((size_t)n - start) > EVENTS_MAX_RECORD) {
                                R->skipping = true; /* damage: dropped up to its end */
                                R->line.len = 0;
                        } else
                                gobuf_add(&R->line, chunk + start, (size_t)n - start);
                }
        }
}

/* Opens file number `num` for reading from its start; -ENOENT if it is gone. */
static int open_num(Reader *R, uint64_t num)
{
        _cleanup_free_ char *name = eventlog_name(FILE_PREFIX, num);
        int fd = openat(R->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0)
                return -errno;
        R->fd = safe_close(R->fd);
        R->fd = fd;
        R->num = num;
        /* What is left of the previous file is a torn record: the writer never comes back to it. */
        R->line.len = 0;
        R->skipping = false;
        return 0;
}

/*
 * The file after the one being read: number + 1 (rotation counts up), else the lowest above it (files
 * deleted by hand), else, when ours was unlinked and only lower numbers exist (the directory was emptied
 * and numbering began again), the lowest.  0: none yet.
 */
static uint64_t next_file(Reader *R)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_free_ uint64_t *nums = NULL;
        struct stat st;
        size_t n = 0;

        if (R->fd >= 0) {
                name = eventlog_name(FILE_PREFIX, R->num + 1);
                if (fstatat(R->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        return R->num + 1;
                if (fstat(R->fd, &st) == 0 && st.st_nlink > 0)
                        return 0; /* ours is still the current file */
        }
        if (eventlog_list(R->dfd, FILE_PREFIX, &nums, &n) < 0 || n == 0)
                return 0;
        if (R->fd < 0)
                return nums[0];
        for (size_t i = 0; i < n; i++)
                if (nums[i] > R->num)
                        return nums[i];
        return nums[0] < R->num ? nums[0] : 0;
}

/* Moves on to the next file, if there is one: 1 when it did, 0 when there is none. */
static int advance(Reader *R)
{
        for (int tries = 0; tries < 100; tries++) {
                uint64_t next = next_file(R);
                int r;
                if (next == 0)
                        return 0;
                /* Everything of ours was written before the next file was made: read it to the end. */
                r = drain(R);
                if (r != 0)
                        return r;
                r = open_num(R, next);
                if (r == 0)
                        return 1;
                if (r != -ENOENT)
                        return r;
                /* dropped by retention in between: look again */
                if (R->fd < 0 || R->num < next)
                        R->num = next;
        }
        return 0;
}

static int start_at_end(Reader *R)
{
        _cleanup_free_ uint64_t *nums = NULL;
        size_t n = 0;
        int r = eventlog_list(R->dfd, FILE_PREFIX, &nums, &n);

        if (r < 0 || n == 0)
                return r;
        r = open_num(R, nums[n - 1]);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (lseek(R->fd, 0, SEEK_END) < 0)
                return -errno;
        return 0;
}

int events_read_dir(const char *dir, const EventsReadOpts *o, event_fn fn, void *ud, Error **err)
{
        _cleanup_close_ int ino = -EBADF;
        Reader R = { .dir = dir, .dfd = -EBADF, .fd = -EBADF, .o = o, .fn = fn, .ud = ud };
        bool history = o->has_since || o->has_until;
        int r;

        R.has_since = o->has_since;
        R.has_until = o->has_until;
        R.since_ns = o->has_since ? ts_ns(&o->since) : 0;
        R.until_ns = o->has_until ? ts_ns(&o->until) : INT64_MAX;
        r = eventlog_open_dir(dir, o->follow, &R.dfd);
        if (r == -ENOENT && !o->follow)
                return 0;
        if (r < 0)
                return error_set(err, -r, "opening the event log %s", dir);
        if (o->follow) {
                /* Before the first read, so that nothing written after it goes unnoticed. */
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0 && inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0)
                        ino = safe_close(ino); /* no inotify (limits): the poll does it, later */
        }
        r = history ? 0 : start_at_end(&R);
        while (r == 0) {
                r = drain(&R);
                if (r != 0)
                        break;
                r = advance(&R);
                if (r > 0) {
                        r = 0;
                        continue; /* a next file: read it */
                }
                if (r < 0 || !o->follow)
                        break;
                {
                        /* Everything there is has been read: stop, or wait for more. */
                        struct timespec now;
                        bool stop;
                        int timeout = FOLLOW_POLL_MS;
                        clock_gettime(CLOCK_REALTIME, &now);
                        stop = (o->has_until && ts_ns(&now) > R.until_ns) || (o->running && !o->running(o->running_ud));
                        if (stop) {
                                /* asked before this last look, so that nothing written before the stop is missed */
                                r = drain(&R);
                                if (r == 0 && advance(&R) > 0)
                                        continue;
                                break;
                        }
                        if (o->has_until) {
                                int64_t left = (R.until_ns - ts_ns(&now)) / 1000000 + 1;
                                if (left < timeout)
                                        timeout = (int)(left < 1 ? 1 : left);
                        }
                        if (ino >= 0) {
                                struct pollfd p = { .fd = ino, .events = POLLIN };
                                char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                                if (poll(&p, 1, timeout) > 0)
                                        while (read(ino, ev, sizeof(ev)) > 0)
                                                ; /* any change in the directory is a reason to look */
                        } else {
                                struct timespec d = { 0, (long)timeout * 1000000L };
                                (void)nanosleep(&d, NULL);
                        }
                }
        }
        free(R.line.s);
        safe_close(R.fd);
        safe_close(R.dfd);
        if (r < 0) {
                if (err && !*err)
                        error_set(err, -r, "reading the event log %s", dir);
                return r;
        }
        return 0;
}

int events_read(Engine *e, const EventsReadOpts *o, event_fn fn, void *ud, Error **err)
{
        _cleanup_free_ char *dir = events_dir(e);
        return events_read_dir(dir, o, fn, ud, err);
}

/* ================================================================ presentation */

json_t *event_template_data(json_t *ev)
{
        json_t *d = json_object();
        json_t *tn = json_object_get(ev, "timeNano"), *t = json_object_get(ev, "time");
        const char *s;

#define STR(key, from)                                                                                         \
        s = json_string_value(json_object_get(ev, from));                                                      \
        json_object_set_new(d, key, json_string(s ? s : ""));
        STR("Status", "status");
        STR("ID", "id");
        STR("From", "from");
        STR("Type", "Type");
        STR("Action", "Action");
        if (json_is_object(json_object_get(ev, "Actor")))
                json_object_set(d, "Actor", json_object_get(ev, "Actor"));
        else
                json_object_set_new(d, "Actor", json_pack("{s:s,s:{}}", "ID", "", "Attributes"));
        STR("Scope", "scope");
#undef STR
        json_object_set_new(d, "Time", json_integer(json_is_integer(t) ? json_integer_value(t) : 0));
        json_object_set_new(d, "TimeNano", json_integer(json_is_integer(tn) ? json_integer_value(tn) : 0));
        return d;
}

char *event_format_text(json_t *ev)
{
        json_t *tn = json_object_get(ev, "timeNano"), *t = json_object_get(ev, "time");
        json_t *actor = json_object_get(ev, "Actor"), *attrs = json_object_get(actor, "Attributes");
        const char *type = json_string_value(json_object_get(ev, "Type"));
        const char *action = json_string_value(json_object_get(ev, "Action"));
        const char *id = json_string_value(json_object_get(actor, "ID"));
        GoBuf b = { 0 };
        int64_t ns = -1;

        if (json_is_integer(tn) && json_integer_value(tn) != 0)
                ns = json_integer_value(tn);
        else if (json_is_integer(t) && json_integer_value(t) != 0)
                ns = json_integer_value(t) * NS_PER_S;
        if (ns >= 0) {
                /* docker: time.Unix(0, ns).Format("2006-01-02T15:04:05.000000000Z07:00"), local time */
                time_t sec = (time_t)(ns / NS_PER_S);
                struct tm tm;
                char date[64];
                localtime_r(&sec, &tm);
                strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
                gobuf_printf(&b, "%s.%09" PRId64, date, (int64_t)(ns % NS_PER_S));
                if (tm.tm_gmtoff == 0)
                        gobuf_puts(&b, "Z ");
                else {
                        long off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
                        gobuf_printf(&b, "%c%02ld:%02ld ", tm.tm_gmtoff < 0 ? '-' : '+', off / 3600, off / 60 % 60);
                }
        }
        gobuf_printf(&b, "%s %s %s", type ? type : "", action ? action : "", id ? id : "");
        if (json_object_size(attrs) > 0) {
                size_t n = 0;
                _cleanup_free_ const char **keys = sorted_keys(attrs, &n);
                gobuf_puts(&b, " (");
                for (size_t i = 0; i < n; i++) {
                        const char *v = json_string_value(json_object_get(attrs, keys[i]));
                        gobuf_printf(&b, "%s%s=%s", i > 0 ? ", " : "", keys[i], v ? v : "");
                }
                gobuf_puts(&b, ")");
        }
        gobuf_puts(&b, "\n");
        return b.s;
}
