/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API's exec instances (docs/API.md): create records what to run, start runs `stockade exec`'s
 * command (cmd_exec, in a child of the connection's process) with the hijacked connection as its
 * stdio, inspect reports its exit code.  Records live in <exec-root>/api/exec/<id>.json (0600,
 * written atomically), so create, start and inspect may come on different connections.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "attach-proto.h"
#include "cli.h"
#include "container-store.h"
#include "json-util.h"
#include "serve.h"
#include "util.h"

#define EXEC_RECORD_MAX (1 << 20)

static bool exec_id_valid(const char *id)
{
        return strlen(id) == 64 && strspn(id, "0123456789abcdef") == 64;
}

static char *exec_dir(Engine *e)
{
        return xasprintf("%s/api/exec", e->exec_root);
}

static int exec_save(Engine *e, const char *id, json_t *rec)
{
        _cleanup_free_ char *dir = exec_dir(e), *name = xasprintf("%s.json", id), *text = jx_dump(rec, false);
        _cleanup_close_ int dfd = -EBADF;
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return write_file_atomic(dfd, name, text, strlen(text), 0600, false);
}

/* The exec record, or 404 answered. */
static json_t *exec_load(ApiConn *c, const char *id)
{
        _cleanup_free_ char *dir = exec_dir(c->e), *path = NULL, *text = NULL;
        size_t len = 0;
        json_t *j;

        api_actor(c, NULL, "exec", id, NULL);
        if (!exec_id_valid(id)) {
                api_reply_error(c, 404, "No such exec instance: %s", id);
                return NULL;
        }
        path = xasprintf("%s/%s.json", dir, id);
        if (read_file_at(AT_FDCWD, path, EXEC_RECORD_MAX, &text, &len) < 0 || !(j = json_loadb(text, len, 0, NULL))) {
                api_reply_error(c, 404, "No such exec instance: %s", id);
                return NULL;
        }
        return j;
}

/*
 * Exec records that are done are kept for EXEC_KEEP_S (the CLI asks for the exit code right after
 * the stream ends), then removed at the next exec create, so the directory does not grow forever.
 */
#define EXEC_KEEP_S (10 * 60)

static void exec_expire(Engine *e)
{
        _cleanup_free_ char *dir = exec_dir(e);
        DIR *d = opendir(dir);
        struct dirent *de;
        time_t now = time(NULL);

        while (d && (de = readdir(d))) {
                struct stat st;
                size_t n = strlen(de->d_name);
                if (n != 64 + 5 || strcmp(de->d_name + 64, ".json") != 0 || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
                    now - st.st_mtime < EXEC_KEEP_S)
                        continue;
                _cleanup_free_ char *text = NULL;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                _cleanup_json_ json_t *j = NULL;
                if (read_file_at(AT_FDCWD, path, EXEC_RECORD_MAX, &text, NULL) == 0 && (j = json_loads(text, 0, NULL)) &&
                    json_is_true(json_object_get(j, "Running")))
                        continue; /* a long exec: kept while it runs */
                (void)unlinkat(dirfd(d), de->d_name, 0);
        }
        if (d)
                closedir(d);
}

int api_exec_create(ApiConn *c, const char *ref)
{
        _cleanup_free_ char *cid = NULL, *body = NULL, *id = container_new_id();
        _cleanup_json_ json_t *rec = NULL, *req = NULL, *ex = NULL;
        Error *err = NULL;
        json_error_t je;
        size_t len, i;
        json_t *v;

        api_actor(c, "exec_create", "container", NULL, ref);
        if (container_lookup(c->e, ref, &cid, &err) < 0 || container_load(c->e, cid, &rec, &err) < 0)
                return api_reply_err(c, err);
        api_actor(c, NULL, NULL, cid, json_string_value(json_object_get(rec, "Name")));
        container_refresh_state(rec);
        if (api_read_body(c, API_BODY_MAX, &body, &len) < 0)
                return 0;
        req = json_loadb(body, len, 0, &je);
        if (!json_is_object(req))
                return api_reply_error(c, 400, "invalid JSON in the request body: %s", je.text);
        if (!container_is_running(rec))
                return api_reply_error(c, 409, "Container %s is not running", cid);
        json_t *cmd = json_object_get(req, "Cmd");
        if (!json_is_array(cmd) || json_array_size(cmd) == 0)
                return api_reply_error(c, 400, "No exec command specified");
        json_array_foreach(cmd, i, v) if (!json_is_string(v)) return api_reply_error(c, 400, "Cmd[%zu]: expected a string", i);
        json_t *env = json_object_get(req, "Env");
        if (env && !json_is_null(env)) {
                if (!json_is_array(env))
                        return api_reply_error(c, 400, "Env: expected an array of strings");
                json_array_foreach(env, i, v) if (!json_is_string(v)) return api_reply_error(c, 400, "Env[%zu]: expected a string", i);
        }
        for (const char *const *k = (const char *const[]){ "User", "WorkingDir", NULL }; *k; k++) {
                json_t *s = json_object_get(req, *k);
                if (s && !json_is_null(s) && !json_is_string(s))
                        return api_reply_error(c, 400, "%s: expected a string", *k);
        }
        json_t *args = json_array();
        for (i = 1; i < json_array_size(cmd); i++)
                json_array_append(args, json_array_get(cmd, i));
        ex = json_pack("{s:s, s:b, s:n, s:{s:b, s:O, s:o, s:b, s:s}, s:b, s:b, s:b, s:b, s:s, s:s, s:i, s:{s:O, s:s, s:s}}",
                       "ID", id, "Running", 0, "ExitCode", "ProcessConfig", "tty",
                       json_is_true(json_object_get(req, "Tty")), "entrypoint", json_array_get(cmd, 0), "arguments", args,
                       "privileged", json_is_true(json_object_get(req, "Privileged")), "user",
                       json_string_value(json_object_get(req, "User")) ?: "", "OpenStdin",
                       json_is_true(json_object_get(req, "AttachStdin")), "OpenStderr",
                       json_is_true(json_object_get(req, "AttachStderr")), "OpenStdout",
                       json_is_true(json_object_get(req, "AttachStdout")), "CanRemove", 0, "ContainerID", cid, "DetachKeys",
                       "", "Pid", 0, "Stockade", "Env", json_is_array(env) ? env : json_array(), "WorkingDir",
                       json_string_value(json_object_get(req, "WorkingDir")) ?: "", "Started", "");
        exec_expire(c->e);
        int r = exec_save(c->e, id, ex);
        if (r < 0)
                return api_reply_error(c, 500, "saving exec %s: %s", id, strerror(-r));
        _cleanup_json_ json_t *out = json_pack("{s:s}", "Id", id);
        return api_reply_json(c, 201, out);
}

/* cmd_exec's command line for the record. */
static char **exec_argv(json_t *ex, bool detach, bool tty)
{
        json_t *pc = json_object_get(ex, "ProcessConfig"), *own = json_object_get(ex, "Stockade"), *v;
        const char *user = json_string_value(json_object_get(pc, "user"));
        const char *wd = json_string_value(json_object_get(own, "WorkingDir"));
        char **argv = NULL;
        size_t i;

        strv_push(&argv, "exec");
        if (json_is_true(json_object_get(ex, "OpenStdin")))
                strv_push(&argv, "-i");
        if (tty)
                strv_push(&argv, "-t");
        if (detach)
                strv_push(&argv, "-d");
        if (json_is_true(json_object_get(pc, "privileged")))
                strv_push(&argv, "--privileged");
        json_array_foreach(json_object_get(own, "Env"), i, v) {
                strv_push(&argv, "-e");
                strv_push(&argv, json_string_value(v));
        }
        if (user && *user) {
                strv_push(&argv, "-u");
                strv_push(&argv, user);
        }
        if (wd && *wd) {
                strv_push(&argv, "-w");
                strv_push(&argv, wd);
        }
        strv_push(&argv, "--");
        strv_push(&argv, json_string_value(json_object_get(ex, "ContainerID")));
        strv_push(&argv, json_string_value(json_object_get(pc, "entrypoint")));
        json_array_foreach(json_object_get(pc, "arguments"), i, v) strv_push(&argv, json_string_value(v));
        return argv;
}

/* Copies the command's output to the client (framed unless tty) and the client's input to it. */
static void exec_pump(ApiConn *c, int in_fd, int out_fd, int err_fd, bool tty)
{
        bool client_open = in_fd >= 0;
        char buf[16384];

        while (out_fd >= 0 || err_fd >= 0) {
                struct pollfd p[3] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN },
                                       { .fd = client_open ? c->fd : -1, .events = POLLIN } };
                if (client_open && c->len)
                        p[2].revents = POLLIN;
                else if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (client_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t k = api_conn_read(c, buf, sizeof(buf));
                        if (k <= 0 || write_all(in_fd, buf, (size_t)k) < 0) {
                                (void)shutdown(in_fd, SHUT_WR);
                                client_open = false;
                        }
                        continue;
                }
                for (int i = 0; i < 2; i++) {
                        int *fd = i ? &err_fd : &out_fd;
                        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t k = read(*fd, buf, sizeof(buf));
                        if (k <= 0) {
                                close(*fd);
                                *fd = -1;
                                continue;
                        }
                        uint8_t h[FRAME_HEADER];
                        frame_header(h, i ? FRAME_STDERR : FRAME_STDOUT, (uint32_t)k);
                        if (!tty)
                                (void)api_write(c, h, sizeof(h));
                        (void)api_write(c, buf, (size_t)k);
                }
        }
        if (out_fd >= 0)
                close(out_fd);
        if (err_fd >= 0)
                close(err_fd);
}

/* <exec-root>/api/exec/<id>.sock: where a tty exec's start listens for its resizes */
static char *resize_sock_path(Engine *e, const char *id)
{
        _cleanup_free_ char *dir = exec_dir(e);
        return xasprintf("%s/%.12s.sock", dir, id);
}

/*
 * A tty exec: cmd_exec runs with a pty of ours as its controlling terminal and stdio (raw: the
 * container's own pty does the echo and line editing), so that a resize here (TIOCSWINSZ on our
 * master, and the kernel's SIGWINCH to the runtime) reaches the container's pty, which the runtime
 * sizes from its stdin.  Copies master <-> client and applies "H W" lines from the resize socket.
 * Returns the child's pid, or <0.
 */
static pid_t exec_tty(ApiConn *c, const char *exec_id, char **argv)
{
        _cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -EBADF, lfd = -EBADF;
        _cleanup_free_ char *sock = resize_sock_path(c->e, exec_id);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct termios t;
        char buf[16384];
        pid_t pid;

        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return -errno;
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        if (tcgetattr(slave, &t) == 0) {
                cfmakeraw(&t);
                (void)tcsetattr(slave, TCSANOW, &t);
        }
        if (strlen(sock) < sizeof(sa.sun_path)) {
                strcpy(sa.sun_path, sock);
                lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                (void)unlink(sock);
                if (lfd >= 0 && (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0))
                        close(TAKE_FD(lfd));
        }
        pid = fork();
        if (pid == 0) {
                close(c->fd);
                (void)setsid();
                (void)ioctl(slave, TIOCSCTTY, 0);
                dup2(slave, 0);
                dup2(slave, 1);
                dup2(slave, 2);
                api_cli_child(c, cmd_exec, argv);
        }
        close(TAKE_FD(slave));
        if (pid < 0)
                return -errno;
        for (bool client_open = true;;) {
                struct pollfd p[3] = { { .fd = master, .events = POLLIN }, { .fd = client_open ? c->fd : -1, .events = POLLIN },
                                       { .fd = lfd, .events = POLLIN } };
                if (client_open && c->len)
                        p[1].revents = POLLIN;
                else if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t k = read(master, buf, sizeof(buf));
                        if (k <= 0)
                                break; /* EIO: every slave fd is closed, the command is done */
                        if (api_write(c, buf, (size_t)k) < 0)
                                client_open = false;
                }
                if (client_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t k = api_conn_read(c, buf, sizeof(buf));
                        if (k <= 0)
                                client_open = false;
                        else
                                (void)write_all(master, buf, (size_t)k);
                }
                if (lfd >= 0 && (p[2].revents & POLLIN)) {
                        _cleanup_close_ int r = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        char line[64] = "";
                        unsigned h = 0, w = 0;
                        ssize_t k = r >= 0 ? read(r, line, sizeof(line) - 1) : -1;
                        if (k > 0 && (line[k] = '\0', sscanf(line, "%u %u", &h, &w) == 2) && h && w && h < 65536 && w < 65536) {
                                struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
                                (void)ioctl(master, TIOCSWINSZ, &ws);
                        }
                }
        }
        if (lfd >= 0)
                (void)unlink(sock);
        return pid;
}

int api_exec_start(ApiConn *c, const char *exec_id)
{
        _cleanup_free_ char *body = NULL;
        _cleanup_json_ json_t *ex = NULL, *req = NULL;
        _cleanup_strv_ char **argv = NULL;
        size_t len;
        int sp[2] = { -1, -1 }, out_fd = -1, err_fd = -1, st = 0;

        api_actor(c, "exec_start", NULL, NULL, NULL);
        if (!(ex = exec_load(c, exec_id)))
                return 0;
        if (api_read_body(c, API_BODY_MAX, &body, &len) < 0)
                return 0;
        req = len ? json_loadb(body, len, 0, NULL) : json_object();
        if (!json_is_object(req))
                return api_reply_error(c, 400, "invalid JSON in the request body");
        if (json_is_true(json_object_get(ex, "Running")) || !json_is_null(json_object_get(ex, "ExitCode")))
                return api_reply_error(c, 409, "Error: Exec command %s has already run", exec_id);
        bool detach = json_is_true(json_object_get(req, "Detach"));
        bool tty = json_is_true(json_object_get(req, "Tty")) || json_is_true(json_object_get(json_object_get(ex, "ProcessConfig"), "tty"));
        bool in = json_is_true(json_object_get(ex, "OpenStdin"));
        argv = exec_argv(ex, detach, tty);
        json_object_set_new(ex, "Running", json_true());
        (void)exec_save(c->e, exec_id, ex);
        if (detach) {
                _cleanup_free_ char *err_text = NULL;
                int code = api_run_cli(c, cmd_exec, argv, NULL, &err_text);
                json_object_set_new(ex, "Running", json_boolean(code == 0));
                if (code != 0)
                        json_object_set_new(ex, "ExitCode", json_integer(code));
                (void)exec_save(c->e, exec_id, ex);
                if (code != 0) {
                        _cleanup_free_ char *m = api_cli_message(err_text);
                        return api_reply_error(c, 500, "%s", m);
                }
                return api_reply(c, 200, "application/json", "", 0);
        }
        if (tty) {
                if (api_hijack(c, tty) < 0)
                        return -EPIPE;
                pid_t tpid = exec_tty(c, exec_id, argv);
                if (tpid > 0)
                        while (waitpid(tpid, &st, 0) < 0 && errno == EINTR)
                                ;
                else
                        st = 126 << 8;
                json_object_set_new(ex, "Running", json_false());
                json_object_set_new(ex, "ExitCode", json_integer(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
                (void)exec_save(c->e, exec_id, ex);
                return 0;
        }
        if (in && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return api_reply_error(c, 500, "socketpair: %s", strerror(errno));
        if (api_hijack(c, tty) < 0) {
                if (in)
                        close(sp[0]), close(sp[1]);
                return -EPIPE;
        }
        pid_t pid = api_spawn_cli(c, cmd_exec, argv, in ? sp[1] : -1, &out_fd, tty ? NULL : &err_fd);
        if (in)
                close(sp[1]);
        if (pid < 0) {
                if (in)
                        close(sp[0]);
                return -EPIPE;
        }
        exec_pump(c, in ? sp[0] : -1, out_fd, err_fd, tty);
        if (in)
                close(sp[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        json_object_set_new(ex, "Running", json_false());
        json_object_set_new(ex, "ExitCode", json_integer(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)));
        (void)exec_save(c->e, exec_id, ex);
        return 0;
}

int api_exec_inspect(ApiConn *c, const char *exec_id)
{
        _cleanup_json_ json_t *ex = NULL;

        api_actor(c, "exec_inspect", NULL, NULL, NULL);
        if (!(ex = exec_load(c, exec_id)))
                return 0;
        json_object_del(ex, "Stockade");
        return api_reply_json(c, 200, ex);
}

int api_exec_resize(ApiConn *c, const char *exec_id)
{
        _cleanup_json_ json_t *ex = NULL;
        _cleanup_free_ char *h = api_query(c, "h"), *w = api_query(c, "w"), *sock = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int64_t hh, ww;

        api_actor(c, "exec_resize", NULL, NULL, NULL);
        if (!(ex = exec_load(c, exec_id)))
                return 0;
        if (!h || !w || parse_int64(h, &hh) < 0 || parse_int64(w, &ww) < 0 || hh < 1 || ww < 1 || hh > 65535 || ww > 65535)
                return api_reply_error(c, 400, "h, w: the terminal's height and width, 1 to 65535");
        if (!json_is_true(json_object_get(ex, "Running")) ||
            !json_is_true(json_object_get(json_object_get(ex, "ProcessConfig"), "tty")))
                return api_reply_error(c, 409, "exec %s is not running with a tty", exec_id);
        sock = resize_sock_path(c->e, exec_id);
        if (strlen(sock) >= sizeof(sa.sun_path))
                return api_reply_error(c, 500, "exec %s: the resize socket's path is too long", exec_id);
        strcpy(sa.sun_path, sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return api_reply_error(c, 409, "exec %s is not running with a tty", exec_id);
        _cleanup_free_ char *line = xasprintf("%lld %lld\n", (long long)hh, (long long)ww);
        if (write_all(fd, line, strlen(line)) < 0)
                return api_reply_error(c, 500, "exec %s: sending the size failed", exec_id);
        return api_reply(c, 200, "text/plain; charset=utf-8", "", 0);
}
