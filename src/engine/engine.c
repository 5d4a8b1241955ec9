/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json-util.h"
#include "logdriver.h"
#include "util.h"

#define DEFAULT_CONFIG    "/etc/stockade/daemon.json"
#define DEFAULT_DATA_ROOT "/var/lib/stockade"
#define DEFAULT_EXEC_ROOT "/run/stockade"
#define DEFAULT_RUNTIME   "stockade-runtime"

/* The daemon.json keys stockade knows, with the JSON type each must have (dockerd's names). */
static const struct {
        const char *key;
        json_type type;
} daemon_keys[] = {
        { "log-driver", JSON_STRING },        { "log-opts", JSON_OBJECT },        { "default-ulimits", JSON_OBJECT },
        { "seccomp-profile", JSON_STRING },   { "no-new-privileges", JSON_TRUE }, { "userns-remap", JSON_STRING },
        { "default-runtime", JSON_STRING },   { "runtimes", JSON_OBJECT },        { "data-root", JSON_STRING },
        { "exec-root", JSON_STRING },         { "init-path", JSON_STRING },       { "init", JSON_TRUE },
        { "default-shm-size", JSON_STRING },  { "debug", JSON_TRUE },             { "log-level", JSON_STRING },
        { "events-max-size", JSON_STRING },   { "events-max-age", JSON_STRING },  { "audit-max-size", JSON_STRING },
        { "audit-forward", JSON_STRING },     { "userns-auto-user", JSON_STRING },
};

static const char *type_name(json_type t)
{
        switch (t) {
        case JSON_STRING: return "a string";
        case JSON_OBJECT: return "an object";
        case JSON_TRUE:
        case JSON_FALSE: return "a boolean";
        case JSON_ARRAY: return "an array";
        case JSON_INTEGER:
        case JSON_REAL: return "a number";
        case JSON_NULL: return "null";
        default: return "a value";
        }
}

static int check_ulimits(json_t *v, const char *what, Error **err)
{
        const char *name;
        json_t *u;

        json_object_foreach(v, name, u) {
                json_t *soft = json_object_get(u, "Soft"), *hard = json_object_get(u, "Hard");
                if (!json_is_object(u) || !json_is_integer(soft) || !json_is_integer(hard))
                        return error_setx(err, EINVAL, "%s: default-ulimits.%s: expected {\"Name\": ..., \"Hard\": N, \"Soft\": N}",
                                          what, name);
                if (json_integer_value(soft) > json_integer_value(hard))
                        return error_setx(err, EINVAL, "%s: default-ulimits.%s: soft limit %lld is above the hard limit %lld",
                                          what, name, (long long)json_integer_value(soft), (long long)json_integer_value(hard));
        }
        return 0;
}

static int check_runtimes(json_t *v, const char *what, Error **err)
{
        const char *name;
        json_t *r;

        json_object_foreach(v, name, r) {
                json_t *path = json_object_get(r, "path"), *args = json_object_get(r, "runtimeArgs");
                if (!json_is_object(r) || !json_is_string(path) || !*json_string_value(path))
                        return error_setx(err, EINVAL, "%s: runtimes.%s: expected {\"path\": \"...\", \"runtimeArgs\": [...]}",
                                          what, name);
                if (args) {
                        size_t i;
                        json_t *a;
                        if (!json_is_array(args))
                                return error_setx(err, EINVAL, "%s: runtimes.%s.runtimeArgs: expected an array of strings",
                                                  what, name);
                        json_array_foreach(args, i, a) if (!json_is_string(a)) return error_setx(
                                err, EINVAL, "%s: runtimes.%s.runtimeArgs[%zu]: expected a string", what, name, i);
                }
        }
        return 0;
}

/* The event and audit logs' keys (docs/EVENTS.md). */
static int check_events_key(const char *key, const char *v, const char *what, Error **err)
{
        int64_t n;

        if ((STREQ(key, "events-max-size") || STREQ(key, "audit-max-size")) && (parse_size(v, &n) < 0 || n <= 0))
                return error_setx(err, EINVAL, "%s: %s: invalid size: '%s' (expected a size such as \"32m\")", what, key, v);
        if (STREQ(key, "events-max-age") && (parse_duration_ms(v, &n) < 0 || n <= 0))
                return error_setx(err, EINVAL, "%s: %s: invalid duration: '%s' (expected a duration such as \"720h\")", what,
                                  key, v);
        if (STREQ(key, "audit-forward") && !STREQ(v, "") && !STREQ(v, "syslog") && !STREQ(v, "journald"))
                return error_setx(err, EINVAL, "%s: audit-forward: \"%s\" is not one of \"syslog\", \"journald\" or \"\"",
                                  what, v);
        return 0;
}

int daemon_config_validate(json_t *j, const char *what, Error **err)
{
        const char *key;
        json_t *v;

        if (!json_is_object(j))
                return error_setx(err, EINVAL, "%s: expected a JSON object", what);
        json_object_foreach(j, key, v) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(daemon_keys); i++)
                        if (STREQ(daemon_keys[i].key, key))
                                break;
                if (i == ELEMENTSOF(daemon_keys))
                        return error_setx(err, EINVAL, "%s: unknown key \"%s\" (stockade knows: log-driver, log-opts, "
                                          "default-ulimits, seccomp-profile, no-new-privileges, userns-remap, "
                                          "default-runtime, runtimes, data-root, exec-root, init, init-path, "
                                          "default-shm-size, debug, log-level, events-max-size, events-max-age, "
                                          "audit-max-size, audit-forward, userns-auto-user)", what, key);
                bool ok = daemon_keys[i].type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == daemon_keys[i].type;
                if (!ok)
                        return error_setx(err, EINVAL, "%s: %s: expected %s, got %s", what, key,
                                          type_name(daemon_keys[i].type), type_name(json_typeof(v)));
                if (STREQ(key, "log-opts")) {
                        const char *k;
                        json_t *o;
                        json_object_foreach(v, k, o) if (!json_is_string(o)) return error_setx(
                                err, EINVAL, "%s: log-opts.%s: expected a string (dockerd takes only strings here)", what, k);
                }
                if (STREQ(key, "default-ulimits") && check_ulimits(v, what, err) < 0)
                        return -EINVAL;
                if (STREQ(key, "runtimes") && check_runtimes(v, what, err) < 0)
                        return -EINVAL;
                if (check_events_key(key, json_string_value(v), what, err) < 0)
                        return -EINVAL;
                if ((STREQ(key, "data-root") || STREQ(key, "exec-root")) && json_string_value(v)[0] != '/')
                        return error_setx(err, EINVAL, "%s: %s: \"%s\" is not an absolute path", what, key,
                                          json_string_value(v));
        }
        /* log-opts belong to log-driver (json-file when unset), as dockerd checks them at start. */
        {
                const char *drv = json_string_value(json_object_get(j, "log-driver"));
                Error *e = NULL;
                if (log_config_validate(drv && *drv ? drv : "json-file", json_object_get(j, "log-opts"), &e) < 0) {
                        int r = error_setx(err, EINVAL, "%s: log-driver/log-opts: %s", what, e->msg);
                        error_free(e);
                        return r;
                }
        }
        return 0;
}

static char *self_dir(void)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        char *slash;

        if (n <= 0)
                return xstrdup("/usr/local/bin");
        buf[n] = '\0';
        slash = strrchr(buf, '/');
        if (slash)
                *slash = '\0';
        return xstrdup(buf);
}

int engine_open(const EngineOpts *o, Engine **ret, Error **err)
{
        Engine *e = xcalloc(1, sizeof(*e));
        const char *cfg = o && o->config_file ? o->config_file : getenv("STOCKADE_CONFIG");
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        e->config_file = xstrdup(cfg && *cfg ? cfg : DEFAULT_CONFIG);
        r = read_file_at(AT_FDCWD, e->config_file, 1 << 20, &text, &len);
        if (r == -ENOENT && !(o && o->config_file))
                e->daemon = json_object();
        else if (r < 0) {
                error_set(err, -r, "reading the daemon configuration %s", e->config_file);
                goto fail;
        } else {
                r = jx_parse(text, len, e->config_file, &e->daemon, err);
                if (r < 0)
                        goto fail;
                r = daemon_config_validate(e->daemon, e->config_file, err);
                if (r < 0)
                        goto fail;
        }

        /* dockerd's --userns-remap flag over daemon.json's key ("" turns remapping off) */
        if (o && o->userns_remap)
                json_object_set_new(e->daemon, "userns-remap", json_string(o->userns_remap));
        {
                const char *env_data = getenv("STOCKADE_DATA_ROOT"), *env_exec = getenv("STOCKADE_EXEC_ROOT");
                const char *cfg_data = json_string_value(json_object_get(e->daemon, "data-root"));
                const char *cfg_exec = json_string_value(json_object_get(e->daemon, "exec-root"));
                const char *d = o && o->data_root ? o->data_root : env_data && *env_data ? env_data : cfg_data ? cfg_data : DEFAULT_DATA_ROOT;
                const char *x = o && o->exec_root ? o->exec_root : env_exec && *env_exec ? env_exec : cfg_exec ? cfg_exec : DEFAULT_EXEC_ROOT;
                if (d[0] != '/' || x[0] != '/') {
                        r = error_setx(err, EINVAL, "--data-root and --exec-root must be absolute paths");
                        goto fail;
                }
                e->data_root = xstrdup(d);
                e->exec_root = xstrdup(x);
        }
        e->self_dir = self_dir();
        *ret = e;
        return 0;
fail:
        engine_free(e);
        return r < 0 ? r : -EINVAL;
}

void engine_free(Engine *e)
{
        if (!e)
                return;
        free(e->data_root);
        free(e->exec_root);
        free(e->config_file);
        free(e->self_dir);
        json_decref(e->daemon);
        free(e);
}

/* An executable named `name` in the directories of $PATH; NULL if none. */
static char *find_in_path(const char *name)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        char *save = NULL;

        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/%s", d, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

char *engine_helper_path(Engine *e, const char *name)
{
        char *p = xasprintf("%s/%s", e->self_dir, name);
        char *found;

        if (access(p, X_OK) == 0)
                return p;
        found = find_in_path(name);
        if (found) {
                free(p);
                return found;
        }
        return p;       /* the error comes from exec, naming this path */
}

const char *engine_default_runtime(Engine *e)
{
        const char *d = json_string_value(json_object_get(e->daemon, "default-runtime"));
        return d && *d ? d : DEFAULT_RUNTIME;
}

int engine_runtime(Engine *e, const char *name, char **ret_path, char ***ret_args, Error **err)
{
        json_t *r = json_object_get(json_object_get(e->daemon, "runtimes"), name);
        char **args = xcalloc(1, sizeof(char *));

        if (r) {
                size_t i;
                json_t *a;
                json_array_foreach(json_object_get(r, "runtimeArgs"), i, a) strv_push(&args, json_string_value(a));
                *ret_path = xstrdup(json_string_value(json_object_get(r, "path")));
                *ret_args = args;
                return 0;
        }
        if (STREQ(name, DEFAULT_RUNTIME)) {
                *ret_path = engine_helper_path(e, DEFAULT_RUNTIME);
                *ret_args = args;
                return 0;
        }
        if (name[0] == '/') {
                if (access(name, X_OK) < 0) {
                        strv_free(args);
                        return error_set(err, errno, "--runtime %s", name);
                }
                *ret_path = xstrdup(name);
                *ret_args = args;
                return 0;
        }
        if (STREQ(name, "runc") || STREQ(name, "crun")) {
                char *p = find_in_path(name);
                if (p) {
                        *ret_path = p;
                        *ret_args = args;
                        return 0;
                }
        }
        strv_free(args);
        return error_setx(err, ENOENT, "unknown runtime specified %s (known: stockade-runtime, runc, crun, an absolute "
                          "path, or a name from daemon.json \"runtimes\")", name);
}

char *engine_runtime_root(Engine *e, const char *name)
{
        const char *base = strrchr(name, '/');
        return xasprintf("%s/runtime/%s", e->exec_root, base ? base + 1 : name);
}

int engine_runtime_argv(Engine *e, json_t *host, char ***ret, Error **err)
{
        const char *name = json_string_value(json_object_get(host, "Runtime"));
        _cleanup_free_ char *rt = NULL, *root = NULL;
        _cleanup_strv_ char **args = NULL;
        char **v = NULL;
        int r;

        if (!name || !*name)
                name = engine_default_runtime(e);
        r = engine_runtime(e, name, &rt, &args, err);
        if (r < 0)
                return r;
        root = engine_runtime_root(e, name);
        strv_push(&v, rt);
        for (size_t i = 0; args && args[i]; i++)
                strv_push(&v, args[i]);
        strv_push(&v, "--root");
        strv_push(&v, root);
        *ret = v;
        return 0;
}

char *engine_container_dir(Engine *e, const char *id)
{
        return xasprintf("%s/containers/%s", e->data_root, id);
}

char *engine_container_run_dir(Engine *e, const char *id)
{
        return xasprintf("%s/containers/%s", e->exec_root, id);
}
