/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "container-store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-util.h"
#include "util.h"

#define RECORD     "container.json"
#define RECORD_MAX (16u << 20)

char *container_new_id(void)
{
        unsigned char b[32];
        char *id = xmalloc(65);

        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                abort();        /* the kernel's CSPRNG does not fail for 32 bytes once initialised */
        for (size_t i = 0; i < sizeof(b); i++)
                sprintf(id + 2 * i, "%02x", b[i]);
        return id;
}

int container_check_name(const char *name, Error **err)
{
        if (docker_name_valid(name[0] == '/' ? name + 1 : name, 253))
                return 0;
        return error_setx(err, EINVAL, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
}

static const char *const adjectives[] = {
        "admiring", "brave", "busy", "calm", "clever", "eager", "elastic", "festive", "focused", "gallant",
        "gifted", "happy", "hopeful", "jolly", "keen", "kind", "loving", "lucid", "modest", "nifty",
        "quirky", "serene", "sharp", "stoic", "tender", "trusting", "vigilant", "wizardly", "zealous", "upbeat",
};
static const char *const nouns[] = {
        "albattani", "babbage", "curie", "darwin", "einstein", "fermi", "galileo", "hopper", "hypatia", "johnson",
        "kepler", "lamport", "lovelace", "meitner", "noether", "pike", "ritchie", "shannon", "thompson", "turing",
        "wozniak", "yonath", "zhukovsky", "bohr", "dijkstra", "euclid", "knuth", "liskov", "mccarthy", "torvalds",
};

static bool name_in_use(Engine *e, const char *name, const char *except_id)
{
        _cleanup_json_ json_t *all = NULL;
        size_t i;
        json_t *c;

        if (container_list(e, &all, NULL) < 0)
                return false;
        json_array_foreach(all, i, c) {
                const char *n = json_string_value(json_object_get(c, "Name"));
                const char *id = json_string_value(json_object_get(c, "Id"));
                if (n && STREQ(n + (n[0] == '/'), name) && !(except_id && id && STREQ(id, except_id)))
                        return true;
        }
        return false;
}

char *container_random_name(Engine *e)
{
        for (int attempt = 0; attempt < 100; attempt++) {
                unsigned r;
                if (getrandom(&r, sizeof(r), 0) != sizeof(r))
                        r = (unsigned)getpid() * 2654435761u + (unsigned)attempt;
                char *n = attempt < 10 ? xasprintf("%s_%s", adjectives[r % ELEMENTSOF(adjectives)],
                                                   nouns[(r / ELEMENTSOF(adjectives)) % ELEMENTSOF(nouns)])
                                       : xasprintf("%s_%s%u", adjectives[r % ELEMENTSOF(adjectives)],
                                                   nouns[(r / ELEMENTSOF(adjectives)) % ELEMENTSOF(nouns)], r % 100);
                if (!name_in_use(e, n, NULL))
                        return n;
                free(n);
        }
        return container_new_id();
}

static int lock_file(const char *path, int *ret_fd, Error **err)
{
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return error_set(err, errno, "opening lock %s", path);
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int r = error_set(err, errno, "locking %s", path);
                        close(fd);
                        return r;
                }
        }
        *ret_fd = fd;
        return 0;
}

int container_store_lock(Engine *e, int *ret_fd, Error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/containers", e->data_root);
        _cleanup_free_ char *path = xasprintf("%s/.lock", dir);
        int r = mkdir_p(dir, 0700);

        if (r < 0)
                return error_set(err, -r, "creating %s", dir);
        return lock_file(path, ret_fd, err);
}

int container_lock(Engine *e, const char *id, int *ret_fd, Error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/containers/%s/.lock", e->data_root, id);
        return lock_file(path, ret_fd, err);
}

static int save_at(const char *dir, json_t *record, bool durable, Error **err)
{
        _cleanup_free_ char *text = jx_dump(record, false);
        _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        int r;

        if (dfd < 0)
                return error_set(err, errno, "opening %s", dir);
        r = write_file_atomic(dfd, RECORD, text, strlen(text), 0600, durable);
        if (r < 0)
                return error_set(err, -r, "writing %s/" RECORD, dir);
        return 0;
}

int container_save(Engine *e, const char *id, json_t *record, Error **err)
{
        _cleanup_free_ char *dir = engine_container_dir(e, id);
        return save_at(dir, record, true, err);
}

int container_save_state(Engine *e, const char *id, json_t *record, Error **err)
{
        _cleanup_free_ char *dir = engine_container_dir(e, id);
        return save_at(dir, record, false, err);
}

int container_create_record(Engine *e, json_t *record, const char *name, char **ret_id, Error **err)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_free_ char *id = container_new_id(), *dir = NULL, *gen = NULL;
        int r;

        if (name) {
                r = container_check_name(name, err);
                if (r < 0)
                        return r;
                if (name[0] == '/')
                        name++;
        }
        r = container_store_lock(e, &lock, err);
        if (r < 0)
                return r;
        if (!name)
                name = gen = container_random_name(e);
        else if (name_in_use(e, name, NULL)) {
                _cleanup_free_ char *other = NULL;
                (void)container_lookup(e, name, &other, NULL);
                return error_setx(err, EEXIST,
                                  "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have "
                                  "to remove (or rename) that container to be able to reuse that name.",
                                  name, other ? other : "?");
        }
        dir = engine_container_dir(e, id);
        if (mkdir(dir, 0700) < 0)
                return error_set(err, errno, "creating %s", dir);
        json_object_set_new(record, "Id", json_string(id));
        {
                _cleanup_free_ char *n = xasprintf("/%s", name);
                json_object_set_new(record, "Name", json_string(n));
        }
        r = save_at(dir, record, false, err);
        if (r < 0) {
                (void)rm_rf_at(AT_FDCWD, dir);
                return r;
        }
        *ret_id = TAKE_PTR(id);
        return 0;
}

int container_load(Engine *e, const char *id, json_t **ret, Error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/containers/%s/" RECORD, e->data_root, id);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, path, RECORD_MAX, &text, &len);

        if (r == -ENOENT)
                return error_setx(err, ENOENT, "No such container: %s", id);
        if (r < 0)
                return error_set(err, -r, "reading %s", path);
        return jx_parse(text, len, path, ret, err);
}

static bool is_hex_id(const char *s)
{
        size_t n = strlen(s);
        if (n != 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
                        return false;
        return true;
}

int container_list(Engine *e, json_t **ret, Error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/containers", e->data_root);
        json_t *all = json_array();
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno == ENOENT) {
                        *ret = all;
                        return 0;
                }
                json_decref(all);
                return error_set(err, errno, "opening %s", dir);
        }
        while ((de = readdir(d))) {
                json_t *c = NULL;
                if (!is_hex_id(de->d_name))
                        continue;
                if (container_load(e, de->d_name, &c, NULL) < 0)
                        continue;       /* being created or removed right now */
                json_array_append_new(all, c);
        }
        closedir(d);
        /* Oldest first: RFC 3339 timestamps in UTC with the same layout sort as strings, near enough. */
        for (size_t i = 1; i < json_array_size(all); i++)
                for (size_t j = i; j > 0; j--) {
                        const char *a = json_string_value(json_object_get(json_array_get(all, j - 1), "Created"));
                        const char *b = json_string_value(json_object_get(json_array_get(all, j), "Created"));
                        if (!a || !b || strcmp(a, b) <= 0)
                                break;
                        json_t *t = json_incref(json_array_get(all, j - 1));
                        json_array_set(all, j - 1, json_array_get(all, j));
                        json_array_set_new(all, j, t);
                }
        *ret = all;
        return 0;
}

int container_lookup(Engine *e, const char *ref, char **ret_id, Error **err)
{
        _cleanup_json_ json_t *all = NULL;
        const char *found = NULL;
        size_t i, n = 0, len = strlen(ref);
        json_t *c;
        int r;

        if (!*ref)
                return error_setx(err, EINVAL, "No such container: (an empty name)");
        r = container_list(e, &all, err);
        if (r < 0)
                return r;
        /* A full id, then an exact name, then a unique id prefix: Docker's order. */
        json_array_foreach(all, i, c) {
                const char *id = json_string_value(json_object_get(c, "Id"));
                if (id && STREQ(id, ref)) {
                        *ret_id = xstrdup(id);
                        return 0;
                }
        }
        json_array_foreach(all, i, c) {
                const char *name = json_string_value(json_object_get(c, "Name"));
                if (name && STREQ(name + (name[0] == '/'), ref + (ref[0] == '/'))) {
                        *ret_id = xstrdup(json_string_value(json_object_get(c, "Id")));
                        return 0;
                }
        }
        json_array_foreach(all, i, c) {
                const char *id = json_string_value(json_object_get(c, "Id"));
                if (id && strncmp(id, ref, len) == 0) {
                        found = id;
                        n++;
                }
        }
        if (n == 1) {
                *ret_id = xstrdup(found);
                return 0;
        }
        if (n > 1)
                return error_setx(err, EINVAL, "multiple IDs found with provided prefix: %s", ref);
        return error_setx(err, ENOENT, "No such container: %s", ref);
}

int container_rename(Engine *e, const char *id, const char *new_name, Error **err)
{
        _cleanup_close_ int slock = -EBADF, lock = -EBADF;
        _cleanup_json_ json_t *rec = NULL;
        const char *n = new_name[0] == '/' ? new_name + 1 : new_name;
        int r;

        r = container_check_name(new_name, err);
        if (r < 0)
                return r;
        r = container_store_lock(e, &slock, err);
        if (r < 0)
                return r;
        if (name_in_use(e, n, id))
                return error_setx(err, EEXIST,
                                  "Error when allocating new name: Conflict. The container name \"/%s\" is already in use", n);
        r = container_lock(e, id, &lock, err);
        if (r < 0)
                return r;
        r = container_load(e, id, &rec, err);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *full = xasprintf("/%s", n);
                json_object_set_new(rec, "Name", json_string(full));
        }
        return container_save(e, id, rec, err);
}

int container_remove_dirs(Engine *e, const char *id, Error **err)
{
        _cleanup_free_ char *dir = engine_container_dir(e, id), *run = engine_container_run_dir(e, id);
        int r = rm_rf_at(AT_FDCWD, run);

        if (r < 0 && r != -ENOENT)
                return error_set(err, -r, "removing %s", run);
        r = rm_rf_at(AT_FDCWD, dir);
        if (r < 0 && r != -ENOENT)
                return error_set(err, -r, "removing %s", dir);
        return 0;
}

/* A zombie is not alive: the monitor has exited, only its reaping (by pid 1) is pending. */
static bool proc_is_zombie(pid_t pid)
{
        char path[64];
        _cleanup_free_ char *buf = NULL;
        const char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_file_at(AT_FDCWD, path, 65536, &buf, NULL) < 0)
                return true;
        p = strrchr(buf, ')');
        return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

bool container_monitor_alive(json_t *record)
{
        json_t *s = json_object_get(record, "Stockade");
        json_int_t pid = json_integer_value(json_object_get(s, "MonitorPid"));
        json_int_t start = json_integer_value(json_object_get(s, "MonitorStart"));

        if (pid <= 0)
                return false;
        return proc_start_time((pid_t)pid) == (uint64_t)start && !proc_is_zombie((pid_t)pid);
}

bool container_refresh_state(json_t *record)
{
        json_t *st = json_object_get(record, "State");

        if (!json_is_true(json_object_get(st, "Running")) && !json_is_true(json_object_get(st, "Restarting")))
                return false;
        if (container_monitor_alive(record))
                return false;
        json_object_set_new(st, "Status", json_string("exited"));
        json_object_set_new(st, "Running", json_false());
        json_object_set_new(st, "Paused", json_false());
        json_object_set_new(st, "Restarting", json_false());
        json_object_set_new(st, "Pid", json_integer(0));
        json_object_set_new(st, "ExitCode", json_integer(255));
        json_object_set_new(st, "Error", json_string("the container's monitor is gone (killed, or the machine restarted)"));
        return true;
}

bool container_is_running(json_t *record)
{
        json_t *st = json_object_get(record, "State");
        return (json_is_true(json_object_get(st, "Running")) || json_is_true(json_object_get(st, "Restarting"))) &&
               container_monitor_alive(record);
}

const char *container_status(json_t *record)
{
        const char *s = json_string_value(json_object_get(json_object_get(record, "State"), "Status"));
        return s ? s : "created";
}

json_t *container_state_new(void)
{
        return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status", "created", "Running", 0,
                         "Paused", 0, "Restarting", 0, "OOMKilled", 0, "Dead", 0, "Pid", 0, "ExitCode", 0, "Error", "",
                         "StartedAt", "0001-01-01T00:00:00Z", "FinishedAt", "0001-01-01T00:00:00Z");
}
