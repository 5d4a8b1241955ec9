/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade-monitor: one per running container, like conmon but smaller.  It is started by the CLI
 * (detached from its session), runs the OCI runtime's create and start, holds the container's stdio
 * (pipes, or the pty master it receives on a console socket), writes the log, serves attach, stop,
 * kill and wait on <run-dir>/attach.sock, reaps the container's init (it is a child subreaper),
 * records the exit code, OOMKilled and timestamps, applies the restart policy and --rm, and outlives
 * the CLI.  Single-threaded: one poll loop.
 *
 * Usage: stockade-monitor RUN-DIR   (RUN-DIR/monitor.json says the rest; fd 3, if open, is the
 * first client, already attached, whose CLI is waiting for "started").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "attach-proto.h"
#include "cgroup.h"
#include "container-store.h"
#include "engine.h"
#include "events.h"
#include "health.h"
#include "json-util.h"
#include "jsonlog.h"
#include "logpipe.h"
#include "signals.h"
#include "util.h"
#include "volume.h"

#define MAX_CLIENTS 64

typedef struct Client {
        int fd;
        bool out, err, in;      /* streams attached */
        uint8_t hdr[FRAME_HEADER];
        size_t hdr_got;
        uint8_t *body;
        size_t body_len, body_got;
} Client;

typedef struct Monitor {
        json_t *cfg;
        Engine eng;
        const char *id, *runtime, *runtime_root, *bundle, *run_dir;
        char **runtime_args;
        bool tty, open_stdin, stdin_once, auto_remove;
        json_t *restart;
        int listen_fd, sig_fd, run_dirfd;
        int out_fd, err_fd, master_fd, stdin_fd;        /* our ends */
        Client clients[MAX_CLIENTS];
        size_t nclients;
        LogPipe *logp;  /* the log driver behind its queue and thread (logpipe.c) */
        pid_t init_pid;
        bool exited, manual_stop;
        bool stop_event, in_backoff;        /* a `stop` asked: its event follows the die (not for rm -f's kill) */
        int exit_code;
        struct timespec stop_deadline;
        bool stop_armed;
        uint64_t oom_base, oom_reported;
        char *oom_file;
        int oom_fd;             /* v1: an eventfd on memory.oom_control; v2: memory.events (POLLPRI) */
        short oom_events;
        unsigned restart_count;
} Monitor;

static Monitor M;

/*
 * The healthcheck (Config.Healthcheck, monitor.json's "health"): every interval the probe runs as a
 * detached `runtime exec` of the container's own process (user, env, caps) with other args; its
 * runtime exits at once and the probe, orphaned, becomes our child (we are a subreaper), so we reap
 * it for its exit status and kill it at the timeout.  Its output comes back on a pipe.
 */
#define HEALTH_REAPED_MAX 16

typedef struct Health {
        json_t *argv;                   /* the probe; NULL: no healthcheck */
        int64_t interval_ms, timeout_ms, start_period_ms;
        int retries;
        char *proc_path, *pid_path;
        struct timespec run_start, next, deadline, probe_start; /* CLOCK_MONOTONIC */
        char *start_ts;                 /* the running probe's start, RFC 3339 */
        bool running, timed_out, rt_done;
        pid_t rt_pid, pid;              /* the runtime's `exec --detach`, then the probe */
        int rt_status;
        int out_fd;
        char out[HEALTH_OUTPUT_MAX];
        size_t out_len;
        pid_t reaped_pid[HEALTH_REAPED_MAX]; /* children reaped before we knew them (the probe can exit */
        int reaped_status[HEALTH_REAPED_MAX]; /* before its runtime does, and before its pid file is read) */
        unsigned nreaped;
} Health;

static Health H = { .out_fd = -1 };

/* ---- small helpers ---- */

static void now(struct timespec *ts)
{
        clock_gettime(CLOCK_REALTIME, ts);
}

static char *rfc3339(void)
{
        return now_rfc3339nano();
}

static void send_frame(Client *c, uint8_t type, const void *buf, size_t len)
{
        uint8_t h[FRAME_HEADER];

        if (c->fd < 0)
                return;
        frame_header(h, type, (uint32_t)len);
        /* A client that does not read is dropped rather than allowed to stall the container's output. */
        if (write_all(c->fd, h, sizeof(h)) < 0 || (len && write_all(c->fd, buf, len) < 0)) {
                close(c->fd);
                c->fd = -1;
        }
}

static void send_status(Client *c, json_t *j)
{
        _cleanup_free_ char *s = jx_dump(j, false);
        send_frame(c, FRAME_STATUS, s, strlen(s));
}

static void broadcast_status(json_t *j)
{
        for (size_t i = 0; i < M.nclients; i++)
                send_status(&M.clients[i], j);
        json_decref(j);
}

static void update_record(void (*fn)(json_t *rec, void *ud), void *ud)
{
        _cleanup_close_ int lock = -EBADF;
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;

        if (container_lock(&M.eng, M.id, &lock, &err) < 0 || container_load(&M.eng, M.id, &rec, &err) < 0) {
                fprintf(stderr, "stockade-monitor: %s\n", err->msg);
                error_free(err);
                return;
        }
        fn(rec, ud);
        if (container_save_state(&M.eng, M.id, rec, &err) < 0) {
                fprintf(stderr, "stockade-monitor: %s\n", err->msg);
                error_free(err);
        }
}

/*
 * Writes a container event (events.h) from the record as it is now (a rename shows at once).  A
 * failure to write it is reported in monitor.log and does not stop the container.
 */
static void emit(const char *action, json_t *extra)
{
        _cleanup_json_ json_t *rec = NULL;
        Error *err = NULL;

        if (container_load(&M.eng, M.id, &rec, &err) < 0 || event_emit_container(&M.eng, rec, action, extra, &err) < 0) {
                fprintf(stderr, "stockade-monitor: the %s event was not logged: %s\n", action, err->msg);
                error_free(err);
        }
}

static void emit_kv(const char *action, const char *key, long long value)
{
        _cleanup_json_ json_t *extra = json_object();
        json_object_set_new(extra, key, json_sprintf("%lld", value));
        emit(action, extra);
}

/* docker's "unmount" event of each volume, once the container has stopped for good */
static void emit_volume_unmounts(void)
{
        _cleanup_json_ json_t *rec = NULL;
        size_t i;
        json_t *v;

        if (container_load(&M.eng, M.id, &rec, NULL) < 0)
                return;
        json_array_foreach(json_object_get(json_object_get(rec, "Stockade"), "Volumes"), i, v) {
                _cleanup_json_ json_t *a = json_pack("{s:s}", "container", M.id);
                volume_event(&M.eng, json_string_value(json_object_get(v, "Name")) ?: "", "unmount", a);
        }
}

/* ---- the runtime ---- */

static char **runtime_argv(const char *verb)
{
        char **v = NULL;
        _cleanup_free_ char *log = xasprintf("%s/runtime.log", M.run_dir);

        strv_push(&v, M.runtime);
        for (size_t i = 0; M.runtime_args && M.runtime_args[i]; i++)
                strv_push(&v, M.runtime_args[i]);
        strv_push(&v, "--root");
        strv_push(&v, M.runtime_root);
        strv_push(&v, "--log");
        strv_push(&v, log);
        strv_push(&v, "--log-format");
        strv_push(&v, "json");
        strv_push(&v, verb);
        return v;
}

/* Forks the runtime with the given stdio (-1: /dev/null); the child's pid, or -errno. */
static pid_t spawn_runtime(char **argv, int in, int out, int errfd)
{
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                dup2(in >= 0 ? in : null, 0);
                dup2(out >= 0 ? out : null, 1);
                dup2(errfd >= 0 ? errfd : null, 2);
                execv(argv[0], argv);
                dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return pid;
}

static int wait_runtime(pid_t pid)
{
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the runtime with the given stdio (-1: /dev/null) and waits for it. Returns its exit status. */
static int run_runtime(char **argv, int in, int out, int errfd)
{
        pid_t pid = spawn_runtime(argv, in, out, errfd);
        return pid < 0 ? pid : wait_runtime(pid);
}

/* The last error the runtime logged (runc, crun and ours write JSON lines with "msg"). */
static char *runtime_error(void)
{
        _cleanup_free_ char *path = xasprintf("%s/runtime.log", M.run_dir), *text = NULL;
        char *last = NULL, *save = NULL;

        if (read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL) < 0)
                return xstrdup("the runtime failed without a message");
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                json_t *j = json_loads(l, 0, NULL);
                const char *lvl = json_string_value(json_object_get(j, "level"));
                const char *msg = json_string_value(json_object_get(j, "msg"));
                if (msg && (!lvl || STREQ(lvl, "error") || STREQ(lvl, "fatal"))) {
                        free(last);
                        last = xstrdup(msg);
                } else if (!j && *l) {
                        free(last);
                        last = xstrdup(l);
                }
                json_decref(j);
        }
        (void)unlink(path);
        return last ? last : xstrdup("the runtime failed without a message");
}

/* Docker's exit codes for a process that could not start: 127 not found, 126 not executable; 125
 * for anything else (a limit the kernel refused, a bad mount...). */
static int start_error_code(const char *msg)
{
        bool about_exec = strstr(msg, "process.args") || strstr(msg, "exec ") || strstr(msg, "exec:") ||
                          strstr(msg, "executable");
        if (!about_exec)
                return 125;
        if (strstr(msg, "not found") || strcasestr(msg, "no such file or directory"))
                return 127;
        if (strcasestr(msg, "permission denied") || strcasestr(msg, "exec format error") || strcasestr(msg, "is a directory"))
                return 126;
        return 125;
}

/* ---- OOM ---- */

static uint64_t oom_kills(void)
{
        _cleanup_free_ char *text = NULL;
        const char *p;

        if (!M.oom_file || read_file_at(AT_FDCWD, M.oom_file, 65536, &text, NULL) < 0)
                return 0;
        p = strstr(text, "oom_kill ");
        return p ? strtoull(p + 9, NULL, 10) : 0;
}

static void oom_watch_close(void)
{
        if (M.oom_fd >= 0)
                close(M.oom_fd);
        M.oom_fd = -1;
}

/*
 * Watches the container's memory cgroup for OOM kills while it runs, for docker's "oom" event (a
 * process of the container killed; the container may live on): v1 registers an eventfd for
 * memory.oom_control in cgroup.event_control, v2 polls memory.events for POLLPRI.  Without a watch
 * the kills are still counted at the exit.
 */
static void oom_watch_init(pid_t pid)
{
        _cleanup_free_ char *v1 = cgroup_dir_of(pid, "memory");

        free(M.oom_file);
        M.oom_file = NULL;
        oom_watch_close();
        if (v1) {
                M.oom_file = xasprintf("%s/memory.oom_control", v1);
                _cleanup_free_ char *ctl = xasprintf("%s/cgroup.event_control", v1);
                _cleanup_close_ int ocfd = open(M.oom_file, O_RDONLY | O_CLOEXEC);
                int efd = ocfd >= 0 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
                char line[64];
                snprintf(line, sizeof(line), "%d %d", efd, ocfd);
                if (efd >= 0 && write_file_at(AT_FDCWD, ctl, line) == 0) {
                        M.oom_fd = efd;
                        M.oom_events = POLLIN;
                } else if (efd >= 0)
                        close(efd);
        } else {
                _cleanup_free_ char *v2 = cgroup_dir_of(pid, NULL);
                if (v2) {
                        M.oom_file = xasprintf("%s/memory.events", v2);
                        M.oom_fd = open(M.oom_file, O_RDONLY | O_CLOEXEC);
                        M.oom_events = POLLPRI;
                }
        }
        M.oom_base = M.oom_reported = oom_kills();
}

/*
 * One "oom" event when the kill count grew since the last report: one per notification, as dockerd
 * sends one per containerd OOM event (the kernel may kill several tasks for one notification).
 */
static void oom_report(void)
{
        uint64_t n = oom_kills();

        if (n > M.oom_reported) {
                emit("oom", NULL);
                M.oom_reported = n;
        }
}

static void oom_wakeup(void)
{
        if (M.oom_events == POLLIN) {
                uint64_t ticks;
                if (read(M.oom_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                        oom_watch_close();
        } else {
                char buf[512];
                if (pread(M.oom_fd, buf, sizeof(buf), 0) < 0)
                        oom_watch_close();
        }
        oom_report();
}

/* ---- logging ---- */

static void output(int type, const char *buf, size_t len)
{
        struct timespec ts;

        now(&ts);
        logpipe_write(M.logp, type == FRAME_STDERR ? LOGPIPE_STDERR : LOGPIPE_STDOUT, buf, len, &ts);
        for (size_t i = 0; i < M.nclients; i++) {
                Client *c = &M.clients[i];
                if (c->fd >= 0 && ((type == FRAME_STDOUT && c->out) || (type == FRAME_STDERR && c->err)))
                        send_frame(c, (uint8_t)type, buf, len);
        }
}

/* Reads what a stream has; false at EOF. */
static bool pump(int *fd, int type)
{
        static char buf[65536];
        ssize_t n = read(*fd, buf, sizeof(buf));

        if (n > 0) {
                output(type, buf, (size_t)n);
                return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return true;
        close(*fd);
        *fd = -1;
        return false;
}

/* ---- clients ---- */

static void add_client(int fd, bool attached, bool in)
{
        if (M.nclients == MAX_CLIENTS) {
                close(fd);
                return;
        }
        /* A client that stops reading for 5 s is dropped: it must not stall the container's output. */
        {
                struct timeval tv = { 5, 0 };
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        M.clients[M.nclients++] = (Client){ .fd = fd, .out = attached, .err = attached, .in = in };
}

static void close_stdin(void)
{
        if (M.stdin_fd >= 0 && !M.tty) {
                close(M.stdin_fd);
                M.stdin_fd = -1;
        }
}

static void runtime_kill(const char *sig)
{
        int n = signal_from_string(sig);
        /* docker's kill event, with the signal's number, before the signal goes out */
        if (n > 0)
                emit_kv("kill", "signal", n);
        char **argv = runtime_argv("kill");
        strv_push(&argv, M.id);
        strv_push(&argv, sig);
        (void)run_runtime(argv, -1, -1, -1);
        strv_free(argv);
}

static void handle_control(Client *c, json_t *j)
{
        json_t *v;

        if ((v = json_object_get(j, "attach"))) {
                c->out = json_is_true(json_object_get(v, "stdout"));
                c->err = json_is_true(json_object_get(v, "stderr"));
                c->in = json_is_true(json_object_get(v, "stdin"));
        }
        if ((v = json_object_get(j, "resize")) && M.master_fd >= 0) {
                struct winsize ws = { .ws_row = (unsigned short)json_integer_value(json_object_get(v, "h")),
                                      .ws_col = (unsigned short)json_integer_value(json_object_get(v, "w")) };
                (void)ioctl(M.master_fd, TIOCSWINSZ, &ws);
        }
        if ((v = json_object_get(j, "kill")) && M.init_pid > 0 && !M.exited) {
                const char *sig = json_string_value(v);
                runtime_kill(sig ? sig : "KILL");
                json_t *ack = json_pack("{s:s}", "status", "ack");
                send_status(c, ack);
                json_decref(ack);
        }
        if ((v = json_object_get(j, "restart")) && json_is_object(v)) {
                /* `update --restart`: the policy applies from the next exit on. */
                json_object_set(M.cfg, "restart", v);
                M.restart = json_object_get(M.cfg, "restart");
                json_t *ack = json_pack("{s:s}", "status", "ack");
                send_status(c, ack);
                json_decref(ack);
        }
        if ((v = json_object_get(j, "stop"))) {
                const char *sig = json_string_value(json_object_get(v, "signal"));
                json_int_t t = json_integer_value(json_object_get(v, "timeout"));
                bool removing = json_is_true(json_object_get(v, "remove"));
                M.manual_stop = true;
                /* docker's stop event follows the die of a running container, or ends a restart's wait */
                if (!removing && (!M.exited || M.in_backoff))
                        M.stop_event = true;
                if (M.init_pid > 0 && !M.exited) {
                        /* rm -f: one SIGKILL and no stop event, as docker's */
                        if (!removing)
                                runtime_kill(sig && *sig ? sig : "TERM");
                        now(&M.stop_deadline);
                        M.stop_deadline.tv_sec += t < 0 ? 0 : t;
                        M.stop_armed = !removing && t > 0;
                        if (t <= 0 || removing)
                                runtime_kill("KILL");
                }
        }
}

/* Reads from a client; false when it went away. */
static bool client_read(Client *c)
{
        ssize_t n;

        if (c->hdr_got < FRAME_HEADER) {
                n = read(c->fd, c->hdr + c->hdr_got, FRAME_HEADER - c->hdr_got);
                if (n <= 0)
                        return n < 0 && (errno == EAGAIN || errno == EINTR);
                c->hdr_got += (size_t)n;
                if (c->hdr_got < FRAME_HEADER)
                        return true;
                c->body_len = frame_len(c->hdr);
                if (c->body_len > FRAME_MAX)
                        return false;
                c->body = xmalloc(c->body_len + 1);
                c->body_got = 0;
        }
        if (c->body_got < c->body_len) {
                n = read(c->fd, c->body + c->body_got, c->body_len - c->body_got);
                if (n <= 0)
                        return n < 0 && (errno == EAGAIN || errno == EINTR);
                c->body_got += (size_t)n;
                if (c->body_got < c->body_len)
                        return true;
        }
        /* A whole frame. */
        if (c->hdr[0] == FRAME_STDIN && c->in) {
                if (c->body_len == 0) {
                        if (M.stdin_once || !M.tty)
                                close_stdin();
                } else {
                        int fd = M.tty ? M.master_fd : M.stdin_fd;
                        if (fd >= 0)
                                (void)write_all(fd, c->body, c->body_len);
                }
        } else if (c->hdr[0] == FRAME_CONTROL) {
                json_t *j = json_loadb((const char *)c->body, c->body_len, 0, NULL);
                if (json_is_object(j))
                        handle_control(c, j);
                json_decref(j);
        }
        free(c->body);
        c->body = NULL;
        c->hdr_got = 0;
        return true;
}

static void drop_client(size_t i)
{
        Client *c = &M.clients[i];
        bool had_stdin = c->in;

        if (c->fd >= 0)
                close(c->fd);
        free(c->body);
        M.clients[i] = M.clients[--M.nclients];
        if (had_stdin && M.stdin_once)
                close_stdin();
}

/* ---- record updates ---- */

static void rec_started(json_t *rec, void *ud)
{
        json_t *st = json_object_get(rec, "State");
        _cleanup_free_ char *t = rfc3339();
        json_object_set_new(st, "Status", json_string("running"));
        json_object_set_new(st, "Running", json_true());
        json_object_set_new(st, "Paused", json_false());
        json_object_set_new(st, "Restarting", json_false());
        json_object_set_new(st, "OOMKilled", json_false());
        json_object_set_new(st, "Pid", json_integer(M.init_pid));
        json_object_set_new(st, "ExitCode", json_integer(0));
        json_object_set_new(st, "Error", json_string(""));
        json_object_set_new(st, "StartedAt", json_string(t));
        json_object_set_new(rec, "RestartCount", json_integer(M.restart_count));
        /* with a healthcheck, "starting" in the same write: no reader sees a running container without it */
        if (H.argv)
                json_object_set_new(st, "Health", health_state_begin(json_object_get(st, "Health")));
        json_t *s = json_object_get(rec, "Stockade");
        json_object_set_new(s, "HasBeenStartedBefore", json_true());
        json_object_set_new(s, "HasBeenManuallyStopped", json_false());
}

typedef struct ExitInfo {
        int code;
        bool oom, restarting;
        const char *error;
} ExitInfo;

static void rec_exited(json_t *rec, void *ud)
{
        ExitInfo *x = ud;
        json_t *st = json_object_get(rec, "State");
        _cleanup_free_ char *t = rfc3339();
        json_object_set_new(st, "Status", json_string(x->restarting ? "restarting" : "exited"));
        json_object_set_new(st, "Running", json_false());
        json_object_set_new(st, "Paused", json_false());
        json_object_set_new(st, "Restarting", json_boolean(x->restarting));
        json_object_set_new(st, "OOMKilled", json_boolean(x->oom));
        json_object_set_new(st, "Pid", json_integer(0));
        json_object_set_new(st, "ExitCode", json_integer(x->code));
        json_object_set_new(st, "Error", json_string(x->error ? x->error : ""));
        json_object_set_new(st, "FinishedAt", json_string(t));
        json_object_set_new(json_object_get(rec, "Stockade"), "HasBeenManuallyStopped", json_boolean(M.manual_stop));
}

/* ---- the healthcheck ---- */

static void mono(struct timespec *ts)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
}

static void ts_add_ms(struct timespec *ts, int64_t ms)
{
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

static int64_t ms_until(const struct timespec *t)
{
        struct timespec n;
        mono(&n);
        return (t->tv_sec - n.tv_sec) * 1000 + (t->tv_nsec - n.tv_nsec) / 1000000;
}

static void health_setup(void)
{
        json_t *h = json_object_get(M.cfg, "health");

        if (!json_is_object(h) || !json_array_size(json_object_get(h, "argv")))
                return;
        H.argv = json_object_get(h, "argv");
        H.interval_ms = json_integer_value(json_object_get(h, "intervalMs"));
        H.timeout_ms = json_integer_value(json_object_get(h, "timeoutMs"));
        H.start_period_ms = json_integer_value(json_object_get(h, "startPeriodMs"));
        H.retries = (int)json_integer_value(json_object_get(h, "retries"));
        if (H.interval_ms < 1)
                H.interval_ms = 30000;
        if (H.timeout_ms < 1)
                H.timeout_ms = 30000;
        H.proc_path = xasprintf("%s/health-process.json", M.run_dir);
        H.pid_path = xasprintf("%s/health.pid", M.run_dir);
}

/* A run of the container began (rec_started wrote "starting"): the first probe one interval from now (dockerd's). */
static void health_begin(void)
{
        if (!H.argv)
                return;
        mono(&H.run_start);
        H.next = H.run_start;
        ts_add_ms(&H.next, H.interval_ms);
}

/* The probe's process: the container's own (bundle/config.json), its args replaced. */
static int health_write_process(void)
{
        _cleanup_free_ char *path = xasprintf("%s/config.json", M.bundle), *text = NULL, *out = NULL;
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_close_ int dfd = -EBADF;
        json_t *proc;
        size_t len = 0;
        Error *err = NULL;

        if (read_file_at(AT_FDCWD, path, 16 << 20, &text, &len) < 0 || jx_parse(text, len, path, &spec, &err) < 0) {
                fprintf(stderr, "stockade-monitor: healthcheck: cannot read %s%s%s\n", path, err ? ": " : "", err ? err->msg : "");
                error_free(err);
                return -1;
        }
        proc = json_object_get(spec, "process");
        json_object_set(proc, "args", H.argv);
        json_object_set_new(proc, "terminal", json_false());
        out = jx_dump(proc, false);
        dfd = open(M.run_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dfd < 0 || write_file_atomic(dfd, "health-process.json", out, strlen(out), 0600, false) < 0) {
                fprintf(stderr, "stockade-monitor: healthcheck: writing %s failed\n", H.proc_path);
                return -1;
        }
        return 0;
}

typedef struct HealthApply {
        HealthResult res;
        const char *changed;
} HealthApply;

static void rec_health_apply(json_t *rec, void *ud)
{
        HealthApply *a = ud;
        json_t *st = json_object_get(rec, "State"), *h = json_object_get(st, "Health");

        if (!json_is_object(h)) {
                h = health_state_begin(NULL);
                json_object_set_new(st, "Health", h);
        }
        a->changed = health_state_apply(h, &a->res, H.retries);
}


/* The probe's output as it comes (a pipe holds 64 KiB: a chatty probe must not block on it); what
 * exceeds HEALTH_OUTPUT_MAX is read and dropped.  Returns the bytes read, 0 at the end, -1 for none yet. */
static ssize_t health_drain_some(void)
{
        char buf[4096];
        ssize_t n;

        if (H.out_fd < 0)
                return 0;
        n = read(H.out_fd, buf, sizeof(buf));
        if (n > 0) {
                size_t room = sizeof(H.out) - H.out_len, take = (size_t)n < room ? (size_t)n : room;
                memcpy(H.out + H.out_len, buf, take);
                H.out_len += take;
                return n;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return -1;
        close(H.out_fd), H.out_fd = -1;
        return 0;
}

/* What the probe wrote before it ended (its background children may hold the pipe: not waited for). */
static void health_drain(void)
{
        while (health_drain_some() > 0)
                ;
        if (H.out_fd >= 0)
                close(H.out_fd), H.out_fd = -1;
}

/* One probe's end: its result into State.Health, an event when the status changed, the next probe. */
static void health_finish(int code, const char *why)
{
        _cleanup_free_ char *end = rfc3339(), *msg = NULL;
        struct timespec sp = H.run_start;
        HealthApply a = { 0 };

        health_drain();
        if (H.timed_out) {
                _cleanup_free_ char *d = format_go_duration_ms(H.timeout_ms);
                msg = xasprintf("Health check exceeded timeout (%s)", d);
                code = -1;
        } else if (why)
                msg = xstrdup(why);
        ts_add_ms(&sp, H.start_period_ms);
        a.res = (HealthResult){ .exit_code = code, .output = msg ? msg : H.out, .output_len = msg ? strlen(msg) : H.out_len,
                                .start = H.start_ts, .end = end,
                                .in_start_period = H.probe_start.tv_sec < sp.tv_sec ||
                                                   (H.probe_start.tv_sec == sp.tv_sec && H.probe_start.tv_nsec < sp.tv_nsec) };
        update_record(rec_health_apply, &a);
        if (a.changed) {
                _cleanup_free_ char *action = xasprintf("health_status: %s", a.changed);
                emit(action, NULL);
        }
        H.running = H.timed_out = H.rt_done = false;
        H.rt_pid = H.pid = 0;
        H.out_len = 0;
        free(H.start_ts), H.start_ts = NULL;
        (void)unlink(H.pid_path);
        /* the next one an interval after this one began, or now if it ran longer */
        H.next = H.probe_start;
        ts_add_ms(&H.next, H.interval_ms);
        if (ms_until(&H.next) < 0)
                mono(&H.next);
}

static bool container_paused(void)
{
        _cleanup_json_ json_t *rec = NULL;
        return container_load(&M.eng, M.id, &rec, NULL) == 0 &&
               json_is_true(json_object_get(json_object_get(rec, "State"), "Paused"));
}

static void health_start_probe(void)
{
        int p[2];
        char **argv;

        mono(&H.probe_start);
        if (container_paused()) {
                /* an exec into a frozen cgroup would hang: no probe while paused (dockerd skips them too) */
                H.next = H.probe_start;
                ts_add_ms(&H.next, H.interval_ms);
                return;
        }
        H.start_ts = rfc3339();
        H.running = true;
        H.nreaped = 0;
        H.deadline = H.probe_start;
        ts_add_ms(&H.deadline, H.timeout_ms);
        if (health_write_process() < 0) {
                health_finish(-1, "the healthcheck's process could not be prepared (see monitor.log)");
                return;
        }
        if (pipe2(p, O_CLOEXEC) < 0) {
                health_finish(-1, "the healthcheck could not be started: pipe failed");
                return;
        }
        (void)unlink(H.pid_path);
        argv = runtime_argv("exec");
        strv_push(&argv, "--process");
        strv_push(&argv, H.proc_path);
        strv_push(&argv, "--detach");
        strv_push(&argv, "--pid-file");
        strv_push(&argv, H.pid_path);
        strv_push(&argv, M.id);
        H.rt_pid = spawn_runtime(argv, -1, p[1], p[1]);
        strv_free(argv);
        close(p[1]);
        H.out_fd = p[0];
        (void)fcntl(H.out_fd, F_SETFL, fcntl(H.out_fd, F_GETFL) | O_NONBLOCK);
        if (H.rt_pid < 0) {
                H.rt_pid = 0;
                health_finish(-1, "the healthcheck could not be started: fork failed");
        }
}

static int health_status_code(int status)
{
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A child reaped by reap(): the probe's runtime, the probe, or one we may learn of later. */
static void health_reaped(pid_t p, int status)
{
        if (!H.running)
                return;
        if (p == H.rt_pid) {
                H.rt_pid = 0;
                H.rt_done = true;
                H.rt_status = status;
                return;
        }
        if (H.nreaped < HEALTH_REAPED_MAX) {
                H.reaped_pid[H.nreaped] = p;
                H.reaped_status[H.nreaped++] = status;
        }
}

/* After reaping and polling: what the running probe's children have done, and the clocks. */
static void health_check(void)
{
        if (!H.argv || M.exited)
                return;
        if (!H.running) {
                if (ms_until(&H.next) <= 0)
                        health_start_probe();
                return;
        }
        if (H.rt_done && H.pid == 0) {
                _cleanup_free_ char *text = NULL;
                int code = health_status_code(H.rt_status);
                if (code != 0) {
                        _cleanup_free_ char *why = runtime_error();
                        health_finish(-1, why);
                        return;
                }
                if (read_file_at(AT_FDCWD, H.pid_path, 64, &text, NULL) < 0 || (H.pid = atoi(text)) <= 0) {
                        H.pid = 0;
                        health_finish(-1, "the runtime started the healthcheck but wrote no pid file");
                        return;
                }
        }
        for (unsigned i = 0; H.pid > 0 && i < H.nreaped; i++)
                if (H.reaped_pid[i] == H.pid) {
                        health_finish(health_status_code(H.reaped_status[i]), NULL);
                        return;
                }
        if (!H.timed_out && ms_until(&H.deadline) <= 0) {
                /* dockerd's timeout: the probe is killed and the result is -1 */
                H.timed_out = true;
                if (H.pid > 0)
                        (void)kill(H.pid, SIGKILL);
                else if (H.rt_pid > 0)
                        (void)kill(H.rt_pid, SIGKILL);
        }
}

/* How long poll may sleep for the healthcheck's sake (-1: no limit). */
static int health_poll_timeout(void)
{
        int64_t ms;

        if (!H.argv || M.exited)
                return -1;
        if (H.running)
                ms = H.timed_out ? 100 : ms_until(&H.deadline);
        else
                ms = ms_until(&H.next);
        if (H.running && H.rt_done && H.pid == 0)
                ms = 0;
        return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* The container stopped: a probe still running is killed and reaped, its result not recorded. */
static void health_end(void)
{
        int status;

        if (!H.running)
                return;
        if (H.pid > 0) {
                (void)kill(H.pid, SIGKILL);
                (void)waitpid(H.pid, &status, 0);
        }
        if (H.rt_pid > 0) {
                (void)kill(H.rt_pid, SIGKILL);
                (void)waitpid(H.rt_pid, &status, 0);
        }
        if (H.out_fd >= 0)
                close(H.out_fd), H.out_fd = -1;
        H.running = H.timed_out = H.rt_done = false;
        H.rt_pid = H.pid = 0;
        H.out_len = 0;
        free(H.start_ts), H.start_ts = NULL;
}

/* ---- one run of the container ---- */

static int console_socket(char **ret_path)
{
        /* The runtime connects through our fd of the run directory: any length of path fits. */
        char *path = xasprintf("/proc/%d/fd/%d/console.sock", (int)getpid(), M.run_dirfd);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        (void)unlinkat(M.run_dirfd, "console.sock", 0);
        if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
                free(path);
                return -1;
        }
        strcpy(sa.sun_path, path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                close(fd);
                free(path);
                return -1;
        }
        *ret_path = path;
        return fd;
}

static int recv_fd(int sock)
{
        char buf[256], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cm;

        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) < 0)
                return -1;
        cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
                return -1;
        int fd;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

/* create + start; on failure fills *x and returns negative. */
static int start_once(ExitInfo *x, char **ret_err)
{
        int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
        _cleanup_free_ char *pidfile = xasprintf("%s/init.pid", M.run_dir), *cons_path = NULL;
        _cleanup_close_ int cons = -EBADF;
        char **argv;
        int rc;

        (void)unlink(pidfile);
        if (M.tty) {
                cons = console_socket(&cons_path);
                if (cons < 0) {
                        *ret_err = xstrdup("creating the console socket failed");
                        return -1;
                }
        } else {
                if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                        *ret_err = xasprintf("pipe: %s", strerror(errno));
                        return -1;
                }
                if (M.open_stdin && M.stdin_fd < 0 && pipe2(in, O_CLOEXEC) < 0) {
                        *ret_err = xasprintf("pipe: %s", strerror(errno));
                        return -1;
                }
        }
        argv = runtime_argv("create");
        strv_push(&argv, "--bundle");
        strv_push(&argv, M.bundle);
        strv_push(&argv, "--pid-file");
        strv_push(&argv, pidfile);
        if (M.tty) {
                strv_push(&argv, "--console-socket");
                strv_push(&argv, cons_path);
        }
        strv_push(&argv, M.id);
        if (M.tty) {
                /* The runtime connects to the console socket while create runs: accept in a child-free way
                 * by forking the runtime and accepting here before waiting. */
                pid_t pid = spawn_runtime(argv, -1, -1, -1);
                struct pollfd p = { .fd = cons, .events = POLLIN };
                int status = 0;
                rc = -1;
                for (; pid > 0;) {
                        int pr = poll(&p, 1, 100);
                        if (pr > 0) {
                                int conn = accept4(cons, NULL, NULL, SOCK_CLOEXEC);
                                if (conn >= 0) {
                                        M.master_fd = recv_fd(conn);
                                        close(conn);
                                }
                                break;
                        }
                        if (waitpid(pid, &status, WNOHANG) == pid) {
                                rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
                                pid = -1;
                                break;
                        }
                }
                if (pid > 0)
                        rc = wait_runtime(pid);
                (void)unlinkat(M.run_dirfd, "console.sock", 0);
        } else {
                rc = run_runtime(argv, in[0], out[1], errp[1]);
                close(out[1]);
                close(errp[1]);
                if (in[0] >= 0) {
                        close(in[0]);
                        M.stdin_fd = in[1];
                }
                M.out_fd = out[0];
                M.err_fd = errp[0];
        }
        strv_free(argv);
        if (rc != 0) {
                *ret_err = runtime_error();
                x->code = start_error_code(*ret_err);
                return -1;
        }
        {
                _cleanup_free_ char *text = NULL;
                if (read_file_at(AT_FDCWD, pidfile, 64, &text, NULL) < 0 || (M.init_pid = atoi(text)) <= 0) {
                        *ret_err = xstrdup("the runtime wrote no pid file");
                        x->code = 125;
                        return -1;
                }
        }
        oom_watch_init(M.init_pid);
        argv = runtime_argv("start");
        strv_push(&argv, M.id);
        rc = run_runtime(argv, -1, -1, -1);
        strv_free(argv);
        if (rc != 0) {
                *ret_err = runtime_error();
                x->code = start_error_code(*ret_err);
                return -1;
        }
        M.exited = false;
        return 0;
}

static void runtime_delete(void)
{
        char **argv = runtime_argv("delete");
        strv_push(&argv, "--force");
        strv_push(&argv, M.id);
        (void)run_runtime(argv, -1, -1, -1);
        strv_free(argv);
}

/* `runtime delete` in the background, so that unmounting overlaps it; runtime_delete_wait() joins it. */
static pid_t runtime_delete_start(void)
{
        char **argv = runtime_argv("delete");
        pid_t pid;

        strv_push(&argv, "--force");
        strv_push(&argv, M.id);
        pid = spawn_runtime(argv, -1, -1, -1);
        strv_free(argv);
        if (pid < 0)
                runtime_delete();
        return pid;
}

static void runtime_delete_wait(pid_t pid)
{
        if (pid > 0)
                (void)wait_runtime(pid);
}

static void reap(void)
{
        struct signalfd_siginfo si;
        int status;
        pid_t p;

        while (read(M.sig_fd, &si, sizeof(si)) == sizeof(si))
                ;
        while ((p = waitpid(-1, &status, WNOHANG)) > 0)
                if (p == M.init_pid) {
                        M.exited = true;
                        M.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                } else
                        health_reaped(p, status);
}

static void accept_clients(void)
{
        int fd;
        while ((fd = accept4(M.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                int fl = fcntl(fd, F_GETFL);
                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                add_client(fd, false, false);
        }
}

/* The poll loop while the container runs, and until its output is drained. */
static void loop(void)
{
        struct timespec drain_until = { 0 };

        for (;;) {
                struct pollfd p[7 + MAX_CLIENTS];
                size_t n = 0, base;
                int timeout = -1;

                if (M.exited && M.out_fd < 0 && M.err_fd < 0 && M.master_fd < 0)
                        return;
                if (M.exited) {
                        struct timespec t;
                        now(&t);
                        if (drain_until.tv_sec == 0) {
                                drain_until = t;
                                drain_until.tv_sec += 2;
                        }
                        long ms = (drain_until.tv_sec - t.tv_sec) * 1000 + (drain_until.tv_nsec - t.tv_nsec) / 1000000;
                        if (ms <= 0)
                                return;
                        timeout = (int)ms;
                }
                if (M.stop_armed && !M.exited) {
                        struct timespec t;
                        now(&t);
                        long ms = (M.stop_deadline.tv_sec - t.tv_sec) * 1000 + (M.stop_deadline.tv_nsec - t.tv_nsec) / 1000000;
                        if (ms <= 0) {
                                runtime_kill("KILL");
                                M.stop_armed = false;
                        } else if (timeout < 0 || ms < timeout)
                                timeout = (int)ms;
                }
                {
                        int ht = health_poll_timeout();
                        if (ht >= 0 && (timeout < 0 || ht < timeout))
                                timeout = ht;
                }
                /* Blocking log mode: a full queue leaves the container's output unread (its writes
                 * block, as docker's do) until the log thread has made room. */
                bool held = logpipe_full(M.logp);
                p[n++] = (struct pollfd){ .fd = M.sig_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = M.listen_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = held ? -1 : M.tty ? M.master_fd : M.out_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = held || M.tty ? -1 : M.err_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = held ? logpipe_fd(M.logp) : -1, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = M.exited ? -1 : M.oom_fd, .events = M.oom_events };
                p[n++] = (struct pollfd){ .fd = H.out_fd, .events = POLLIN };
                base = n;
                for (size_t i = 0; i < M.nclients; i++)
                        p[n++] = (struct pollfd){ .fd = M.clients[i].fd, .events = POLLIN };
                if (poll(p, n, timeout) < 0 && errno != EINTR)
                        return;
                if (p[0].revents)
                        reap();
                if (p[1].revents)
                        accept_clients();
                if (p[2].revents) {
                        if (M.tty) {
                                if (!pump(&M.master_fd, FRAME_STDOUT))
                                        M.master_fd = -1;
                        } else
                                pump(&M.out_fd, FRAME_STDOUT);
                }
                if (p[3].revents)
                        pump(&M.err_fd, FRAME_STDERR);
                if (p[4].revents)
                        logpipe_ack(M.logp);
                if (p[5].revents)
                        oom_wakeup();
                if (p[6].revents)
                        (void)health_drain_some();
                health_check();
                for (size_t i = M.nclients; i-- > 0;) {
                        if (base + i >= n)
                                continue;
                        if (M.clients[i].fd < 0 || (p[base + i].revents && !client_read(&M.clients[i])))
                                drop_client(i);
                }
        }
}

/* The restart back-off: serves clients (a stop ends the wait) instead of sleeping blind. */
static void backoff_wait(unsigned ms)
{
        struct timespec end, t;

        now(&end);
        end.tv_sec += ms / 1000;
        end.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (end.tv_nsec >= 1000000000L) {
                end.tv_sec++;
                end.tv_nsec -= 1000000000L;
        }
        M.in_backoff = true;
        while (!M.manual_stop) {
                struct pollfd p[2 + MAX_CLIENTS];
                size_t n = 0;
                now(&t);
                long left = (end.tv_sec - t.tv_sec) * 1000 + (end.tv_nsec - t.tv_nsec) / 1000000;
                if (left <= 0)
                        break;
                p[n++] = (struct pollfd){ .fd = M.sig_fd, .events = POLLIN };
                p[n++] = (struct pollfd){ .fd = M.listen_fd, .events = POLLIN };
                for (size_t i = 0; i < M.nclients; i++)
                        p[n++] = (struct pollfd){ .fd = M.clients[i].fd, .events = POLLIN };
                if (poll(p, n, (int)left) < 0 && errno != EINTR)
                        break;
                if (p[0].revents)
                        reap();
                if (p[1].revents)
                        accept_clients();
                for (size_t i = M.nclients; i-- > 0;)
                        if (2 + i < n && (M.clients[i].fd < 0 || (p[2 + i].revents && !client_read(&M.clients[i]))))
                                drop_client(i);
        }
        M.in_backoff = false;
}

static bool should_restart(int code)
{
        const char *name = json_string_value(json_object_get(M.restart, "Name"));
        json_int_t max = json_integer_value(json_object_get(M.restart, "MaximumRetryCount"));

        if (M.manual_stop || !name)
                return false;
        if (STREQ(name, "always") || STREQ(name, "unless-stopped"))
                return true;
        if (STREQ(name, "on-failure"))
                return code != 0 && (max == 0 || (json_int_t)M.restart_count < max);
        return false;
}

static void cleanup_host(void)
{
        const char *rootfs = json_string_value(json_object_get(M.cfg, "rootfs"));
        const char *netns = json_string_value(json_object_get(M.cfg, "netns"));

        if (rootfs)
                (void)umount2(rootfs, MNT_DETACH);
        if (netns) {
                (void)umount2(netns, MNT_DETACH);
                (void)unlink(netns);
        }
}

static int setup(const char *run_dir)
{
        _cleanup_free_ char *path = xasprintf("%s/monitor.json", run_dir), *text = NULL, *sock = NULL;
        size_t len = 0;
        Error *err = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sigset_t set;

        if (read_file_at(AT_FDCWD, path, 1 << 20, &text, &len) < 0 || jx_parse(text, len, path, &M.cfg, &err) < 0) {
                fprintf(stderr, "stockade-monitor: cannot read %s\n", path);
                return -1;
        }
        M.id = json_string_value(json_object_get(M.cfg, "id"));
        M.runtime = json_string_value(json_object_get(M.cfg, "runtime"));
        M.runtime_root = json_string_value(json_object_get(M.cfg, "runtimeRoot"));
        M.bundle = json_string_value(json_object_get(M.cfg, "bundle"));
        M.run_dir = run_dir;
        M.eng.data_root = (char *)json_string_value(json_object_get(M.cfg, "dataRoot"));
        M.eng.exec_root = (char *)json_string_value(json_object_get(M.cfg, "execRoot"));
        M.tty = json_is_true(json_object_get(M.cfg, "tty"));
        M.open_stdin = json_is_true(json_object_get(M.cfg, "openStdin"));
        M.stdin_once = json_is_true(json_object_get(M.cfg, "stdinOnce"));
        M.auto_remove = json_is_true(json_object_get(M.cfg, "autoRemove"));
        M.restart = json_object_get(M.cfg, "restart");
        (void)jx_strv(M.cfg, "", "runtimeArgs", false, &M.runtime_args, NULL);
        if (!M.id || !M.runtime || !M.runtime_root || !M.bundle || !M.eng.data_root || !M.eng.exec_root) {
                fprintf(stderr, "stockade-monitor: %s is incomplete\n", path);
                return -1;
        }
        M.out_fd = M.err_fd = M.master_fd = M.stdin_fd = M.oom_fd = -1;
        /* daemon.json's event retention, as the CLI read it (events_config) */
        M.eng.daemon = json_object_get(M.cfg, "daemon");

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGPIPE);
        sigprocmask(SIG_BLOCK, &set, NULL);
        M.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);

        sock = xasprintf("%s/attach.sock", run_dir);
        M.run_dirfd = open(run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (M.run_dirfd < 0) {
                fprintf(stderr, "stockade-monitor: %s: %s\n", run_dir, strerror(errno));
                return -1;
        }
        (void)unlinkat(M.run_dirfd, "attach.sock", 0);
        /* Bound through the directory's fd: the full path may be longer than sun_path. */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/attach.sock", M.run_dirfd);
        M.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (M.listen_fd < 0 || bind(M.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(M.listen_fd, 16) < 0) {
                fprintf(stderr, "stockade-monitor: %s: %s\n", sock, strerror(errno));
                return -1;
        }
        (void)fchmodat(M.run_dirfd, "attach.sock", 0600, 0);
        return 0;
}

static void rec_log_dropped(json_t *rec, void *ud)
{
        json_object_set_new(json_object_get(rec, "Stockade"), "LogDropped", json_integer((json_int_t) * (uint64_t *)ud));
}

/*
 * Delivers what the log thread still holds: in blocking mode for up to a minute (a sink that comes
 * back within it gets every line), in non-blocking mode for up to two seconds.  Messages dropped
 * (non-blocking mode, a failing sink) are reported in monitor.log and counted in the record as
 * Stockade.LogDropped, which `inspect` shows.
 */
static void close_log(void)
{
        const char *mode = json_string_value(json_object_get(json_object_get(json_object_get(M.cfg, "log"), "config"), "mode"));
        bool nb = mode && STREQ(mode, "non-blocking");
        uint64_t dropped;

        if (!M.logp)
                return;
        M.logp = logpipe_close(M.logp, nb ? 2000 : 60000, &dropped);
        if (dropped > 0) {
                fprintf(stderr, "stockade-monitor: the %s log driver dropped %llu messages\n",
                        json_string_value(json_object_get(json_object_get(M.cfg, "log"), "type")) ?: "",
                        (unsigned long long)dropped);
                update_record(rec_log_dropped, &dropped);
        }
}

int main(int argc, char **argv)
{
        bool first = true;
        unsigned backoff_ms = 100;
        Error *err = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: stockade-monitor RUN-DIR\n");
                return 2;
        }
        if (setup(argv[1]) < 0)
                return 1;
        health_setup();
        if (fcntl(3, F_GETFD) >= 0) {
                json_t *a = json_object_get(M.cfg, "firstClient");
                fcntl(3, F_SETFD, FD_CLOEXEC);
                add_client(3, json_is_true(json_object_get(a, "attach")), json_is_true(json_object_get(a, "stdin")));
        }
        /* The CLI that spawned us recorded MonitorPid and MonitorStart before it let go of the lock. */

        /* The log driver first: a sink that cannot be reached fails the start, as docker's does. */
        if (logpipe_open(json_object_get(M.cfg, "log"), &M.logp, &err) < 0) {
                ExitInfo x = { .code = 128, .error = err->msg };
                cleanup_host();
                update_record(rec_exited, &x);
                broadcast_status(json_pack("{s:s, s:s, s:i}", "status", "error", "message", err->msg, "exitCode", 125));
                error_free(err);
                err = NULL;
                M.manual_stop = true;
                goto out;
        }

        for (;;) {
                ExitInfo x = { 0 };
                _cleanup_free_ char *msg = NULL;
                struct timespec started;

                now(&started);
                if (start_once(&x, &msg) < 0) {
                        json_t *st;
                        x.error = msg;
                        runtime_delete();
                        if (first || !should_restart(x.code))
                                cleanup_host();
                        update_record(rec_exited, &x);
                        st = json_pack("{s:s, s:s, s:i}", "status", "error", "message", msg, "exitCode", x.code);
                        broadcast_status(st);
                        if (first || !should_restart(x.code))
                                break;
                } else {
                        update_record(rec_started, NULL);
                        health_begin();
                        /* logged before the CLI hears "started": once `run -d` returns, its start is in the log */
                        emit("start", NULL);
                        broadcast_status(json_pack("{s:s, s:i}", "status", "started", "pid", (int)M.init_pid));
                        loop();
                        health_end();
                        {
                                struct timespec ts;
                                now(&ts);
                                logpipe_eof(M.logp, LOGPIPE_STDOUT, &ts);
                                logpipe_eof(M.logp, LOGPIPE_STDERR, &ts);
                        }
                        x.code = M.exit_code;
                        x.oom = oom_kills() > M.oom_base;
                        oom_report();   /* kills the watch had not seen yet come before the die */
                        oom_watch_close();
                        pid_t deleting = runtime_delete_start();
                        if (M.out_fd >= 0)
                                close(M.out_fd), M.out_fd = -1;
                        if (M.err_fd >= 0)
                                close(M.err_fd), M.err_fd = -1;
                        if (M.master_fd >= 0)
                                close(M.master_fd), M.master_fd = -1;
                        x.restarting = should_restart(x.code);
                        if (M.stdin_fd >= 0)
                                close(M.stdin_fd), M.stdin_fd = -1;
                        /* Unmount before the record says exited: a `start` that follows must not
                         * have its new rootfs unmounted by this monitor's cleanup. */
                        if (!x.restarting)
                                cleanup_host();
                        runtime_delete_wait(deleting);
                        update_record(rec_exited, &x);
                        emit_kv("die", "exitCode", x.code);
                        if (!x.restarting)
                                emit_volume_unmounts();
                        if (M.stop_event && !x.restarting)
                                emit("stop", NULL);
                        broadcast_status(json_pack("{s:s, s:i, s:b, s:b}", "status", "exited", "exitCode", x.code,
                                                   "oomKilled", x.oom, "restarting", x.restarting));
                        if (!x.restarting)
                                break;
                }
                first = false;
                M.restart_count++;
                /* Docker's back-off: 100 ms doubling, reset after a run of 10 s or more. */
                {
                        struct timespec t;
                        now(&t);
                        if (t.tv_sec - started.tv_sec >= 10)
                                backoff_ms = 100;
                        backoff_wait(backoff_ms);
                        backoff_ms = backoff_ms >= 60000 ? 60000 : backoff_ms * 2;
                }
                if (M.manual_stop) {
                        /* stopped while waiting to restart: exited, for good */
                        ExitInfo stopped = { .code = M.exit_code, .restarting = false };
                        cleanup_host();
                        update_record(rec_exited, &stopped);
                        emit_volume_unmounts();
                        if (M.stop_event)
                                emit("stop", NULL);
                        broadcast_status(json_pack("{s:s, s:i, s:b, s:b}", "status", "exited", "exitCode", M.exit_code,
                                                   "oomKilled", 0, "restarting", 0));
                        break;
                }
        }

        close_log();
out:
        cleanup_host();         /* again: a no-op unless a restart's wait was cut short */
        if (M.auto_remove) {
                _cleanup_close_ int lock = -EBADF;
                _cleanup_json_ json_t *rec = NULL;
                (void)container_store_lock(&M.eng, &lock, NULL);
                (void)container_load(&M.eng, M.id, &rec, NULL);
                if (container_remove_dirs(&M.eng, M.id, &err) < 0) {
                        fprintf(stderr, "stockade-monitor: %s\n", err->msg);
                        error_free(err);
                        err = NULL;
                } else {
                        if (rec && event_emit_container(&M.eng, rec, "destroy", NULL, &err) < 0) {
                                fprintf(stderr, "stockade-monitor: the destroy event was not logged: %s\n", err->msg);
                                error_free(err);
                                err = NULL;
                        }
                        /* run --rm takes its anonymous volumes along (after the store's lock: the
                         * volumes' lock is never taken inside it) */
                        close(TAKE_FD(lock));
                        if (rec)
                                volume_remove_anonymous(&M.eng, rec);
                }
                broadcast_status(json_pack("{s:s}", "status", "removed"));
        } else {
                _cleanup_free_ char *sock = xasprintf("%s/attach.sock", M.run_dir);
                (void)unlink(sock);
        }
        for (size_t i = 0; i < M.nclients; i++)
                if (M.clients[i].fd >= 0)
                        close(M.clients[i].fd);
        return 0;
}
