/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recording a container's syscalls: the eBPF recorder (see seccomp-recorder.h). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "container-store.h"
#include "json-util.h"
#include "runopts.h"
#include "seccomp-default.h"
#include "seccomp-record.skel.h"
#include "seccomp-recorder.h"
#include "util.h"

#define NOTIFY_MAX_FDS 256 /* notification fds: the init and exec'd processes */

struct SeccompRecorder {
        SeccompRecorderKind kind;
        bool with_args;
        char *cgroup_dir;       /* made by us for the runtime; removed at the end if still there */
        struct seccomp_record_bpf *skel;
        bool fentry;            /* on x64_sys_call/ia32_sys_call, else on the sys_enter tracepoint */
        /* notify */
        Engine *engine;         /* borrowed */
        char *id;
        json_t *orig_secopt;    /* the container's SecurityOpt before ours, put back at the end */
        char *sock_dir;
        int listen_fd, wake[2];
        pthread_t thread;
        bool thread_started;
        int arg_nrs[SECCOMP_REC_ROWS][3];
        SeccompRecording rec;   /* written by the thread until it is joined */
};

int seccomp_recorder_kind(const char *s)
{
        if (!s || STREQ(s, "bpf"))
                return SECCOMP_RECORDER_BPF;
        if (STREQ(s, "notify"))
                return SECCOMP_RECORDER_NOTIFY;
        return -EINVAL;
}

/* libbpf's messages: kept (the last one) for the error, printed only with STOCKADE_DEBUG */
static char bpf_last_msg[512];
static int bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        char buf[512];
        int n;

        if (level == LIBBPF_DEBUG)
                return 0;
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        if (n > 0) {
                if (buf[strlen(buf) - 1] == '\n')
                        buf[strlen(buf) - 1] = '\0';
                snprintf(bpf_last_msg, sizeof(bpf_last_msg), "%s", buf);
        }
        if (getenv("STOCKADE_DEBUG"))
                fprintf(stderr, "libbpf: %s\n", buf);
        return 0;
}

/* What of CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) we lack, as a phrase; NULL when nothing. */
static const char *missing_caps(void)
{
        cap_t c = cap_get_proc();
        cap_flag_value_t admin = CAP_CLEAR, bpf = CAP_CLEAR, perf = CAP_CLEAR;
        const char *what = NULL;

        if (!c)
                return NULL;
        (void)cap_get_flag(c, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
        (void)cap_get_flag(c, CAP_BPF, CAP_EFFECTIVE, &bpf);
        (void)cap_get_flag(c, CAP_PERFMON, CAP_EFFECTIVE, &perf);
        cap_free(c);
        if (admin == CAP_SET || (bpf == CAP_SET && perf == CAP_SET))
                return NULL;
        if (bpf == CAP_SET)
                what = "CAP_PERFMON (or CAP_SYS_ADMIN)";
        else if (perf == CAP_SET)
                what = "CAP_BPF (or CAP_SYS_ADMIN)";
        else
                what = "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root";
        return what;
}

/*
 * The cgroup2 directory src/runtime/cgroup.c will make for container `id`: the engine gives the runtime
 * the relative cgroupsPath "stockade/<id>", which it creates beneath its caller's cgroup (ours, inherited
 * by the monitor), found the same way (cgroup_dir_of: mountinfo's root and /proc/self/cgroup's 0:: line).
 */
static int cgroup2_dir_of(const char *id, char **ret, Error **err)
{
        _cleanup_free_ char *own = cgroup_dir_of(getpid(), NULL);

        if (!own)
                return error_setx(err, ENOENT,
                                  "seccomp record: no cgroup2 hierarchy is mounted, or this process has no cgroup2 path "
                                  "(the eBPF recorder finds the container by its cgroup2 id; use --recorder notify)");
        *ret = xasprintf("%s/stockade/%s", own, id);
        return 0;
}

/*
 * Whether fentry on the syscall dispatchers failed on this boot: a kernel's tracing does not change
 * until it reboots, and each attempt costs a parse of the kernel's BTF (~10 ms), so a failure is noted
 * in <exec-root> (a tmpfs, emptied at boot) with the boot id, and later recordings go straight to the
 * tracepoint.
 */
#define HOOK_STAMP "seccomp-record-tracepoint"

static char *boot_id(void)
{
        _cleanup_free_ char *b = NULL;

        if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &b, NULL) < 0)
                return NULL;
        b[strcspn(b, "\n")] = '\0';
        return TAKE_PTR(b);
}

static bool fentry_known_bad(Engine *e)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", e->exec_root, HOOK_STAMP), *have = NULL, *want = boot_id();

        if (!want || read_file_at(AT_FDCWD, p, 64, &have, NULL) < 0)
                return false;
        have[strcspn(have, "\n")] = '\0';
        return STREQ(have, want);
}

static void fentry_note_bad(Engine *e)
{
        _cleanup_free_ char *want = boot_id(), *line = NULL;
        _cleanup_close_ int dir = -EBADF;

        if (!want || mkdir_p(e->exec_root, 0700) < 0 || (dir = open(e->exec_root, O_DIRECTORY | O_CLOEXEC)) < 0)
                return;
        line = xasprintf("%s\n", want);
        (void)write_file_atomic(dir, HOOK_STAMP, line, strlen(line), 0644, false);
}

static int start_bpf(SeccompRecorder *r, Engine *e, const char *id, Error **err)
{
        static const char *const arg_names[] = { "clone", "personality", "socket" };
        static const uint32_t arches[2] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86 };
        const char *miss;
        struct stat st;
        int k;

        if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
                return error_set(err, errno,
                                 "seccomp record: the eBPF recorder needs the kernel's BTF (/sys/kernel/btf/vmlinux, "
                                 "CONFIG_DEBUG_INFO_BTF); use --recorder notify");
        if ((miss = missing_caps()))
                return error_setx(err, EPERM, "seccomp record: the eBPF recorder needs %s; or use --recorder notify", miss);
        k = cgroup2_dir_of(id, &r->cgroup_dir, err);
        if (k < 0)
                return k;
        k = mkdir_p(r->cgroup_dir, 0755);
        if (k < 0)
                return error_set(err, -k, "seccomp record: creating the container's cgroup %s", r->cgroup_dir);
        if (stat(r->cgroup_dir, &st) < 0)
                return error_set(err, errno, "seccomp record: %s", r->cgroup_dir);

        libbpf_set_print(bpf_print);
        /* fentry on the syscall dispatchers first; the sys_enter tracepoint where they cannot attach */
        /* STOCKADE_SECCOMP_RECORD_TRACEPOINT=1 forces the tracepoint (tests, bench/bench-seccomp-record.sh) */
        for (int fentry = getenv("STOCKADE_SECCOMP_RECORD_TRACEPOINT") || fentry_known_bad(e) ? 0 : 1; fentry >= 0;
             fentry--) {
                if (r->skel)
                        seccomp_record_bpf__destroy(r->skel);
                r->skel = seccomp_record_bpf__open();
                if (!r->skel)
                        return error_set(err, errno, "seccomp record: opening the eBPF program%s%s",
                                         *bpf_last_msg ? ": " : "", bpf_last_msg);
                /* on cgroup2 the cgroup id is the directory's inode number (kernfs node id) */
                r->skel->rodata->target_cgid = (uint64_t)st.st_ino;
                r->skel->rodata->record_args = r->with_args;
                for (int row = 0; row < 2; row++)
                        for (size_t i = 0; i < ELEMENTSOF(arg_names); i++)
                                r->skel->rodata->arg_nrs[row][i] = seccomp_syscall_resolve_name_arch(arches[row], arg_names[i]);
                (void)bpf_program__set_autoload(r->skel->progs.rec_x64, fentry);
                (void)bpf_program__set_autoload(r->skel->progs.rec_ia32, fentry);
                (void)bpf_program__set_autoload(r->skel->progs.rec_sys_enter, !fentry);
                k = seccomp_record_bpf__load(r->skel);
                if (k == 0 && (k = seccomp_record_bpf__attach(r->skel)) == 0) {
                        r->fentry = fentry;
                        return 0;
                }
                if (fentry)
                        fentry_note_bad(e);
        }
        return error_set(err, -k, "seccomp record: loading the eBPF program%s%s%s", *bpf_last_msg ? " (" : "",
                         bpf_last_msg, *bpf_last_msg ? ")" : "");
}

/* ---- the notify recorder ---- */

/*
 * Never notified, always allowed and recorded: sendmsg (the runtime sends the notification fd with it),
 * and the fd calls that must not fail with EINTR.  A signal that arrives while a call waits for the
 * listener ends the wait, and the call returns EINTR without having run: a close() a shell made while
 * SIGCHLD arrived then left a pipe's write end open and its pipeline hung (seen in the tests).
 */
static const char *const notify_never[] = { "sendmsg", "close", "dup", "dup2", "dup3", "fcntl" };

static bool never_notified(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(notify_never); i++)
                if (STREQ(notify_never[i], name))
                        return true;
        return false;
}

/* `p` with its SCMP_ACT_ALLOW rules notifying instead (notify_never excepted), listening at `path`. */
static json_t *notify_profile(json_t *p, const char *path)
{
        json_t *out = json_deep_copy(p), *rules = json_object_get(out, "syscalls"), *rule, *v;
        _cleanup_json_ json_t *kept = json_object();
        size_t i, j;

        json_array_foreach(rules, i, rule)
        {
                const char *a = json_string_value(json_object_get(rule, "action"));
                json_t *one = json_object_get(rule, "name"), *names;
                if (!a || !STREQ(a, "SCMP_ACT_ALLOW"))
                        continue;
                if (json_is_string(one)) {
                        json_object_set_new(rule, "names", json_pack("[O]", one));
                        json_object_del(rule, "name");
                }
                names = json_object_get(rule, "names");
                for (j = 0; j < json_array_size(names);) {
                        v = json_array_get(names, j);
                        if (json_is_string(v) && never_notified(json_string_value(v)) && !json_object_get(rule, "args")) {
                                json_object_set_new(kept, json_string_value(v), json_true());
                                json_array_remove(names, j);
                                continue;
                        }
                        j++;
                }
                json_object_set_new(rule, "action", json_string("SCMP_ACT_NOTIFY"));
        }
        if (json_is_true(json_object_get(out, "stockadeAllowSendmsg")))
                for (i = 0; i < ELEMENTSOF(notify_never); i++)
                        json_object_set_new(kept, notify_never[i], json_true());
        json_object_del(out, "stockadeAllowSendmsg");
        if (json_object_size(kept)) {
                const char *k;
                json_t *names = json_array();
                json_object_foreach(kept, k, v) json_array_append_new(names, json_string(k));
                json_array_append_new(rules, json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW"));
        }
        json_object_set_new(out, "listenerPath", json_string(path));
        return out;
}

/* unconfined: every syscall this libseccomp knows for x86_64 and x86 notifies; the rest is allowed */
static json_t *unconfined_profile(void)
{
        _cleanup_json_ json_t *set = json_object();
        static const uint32_t arches[2] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86 };
        json_t *names = json_array();
        const char *k;
        json_t *v;

        for (int a = 0; a < 2; a++)
                for (int nr = 0; nr < SECCOMP_REC_WORDS * 64; nr++) {
                        _cleanup_free_ char *n = seccomp_syscall_resolve_num_arch(arches[a], nr);
                        if (n && !never_notified(n))
                                json_object_set_new(set, n, json_true());
                }
        json_object_foreach(set, k, v) json_array_append_new(names, json_string(k));
        return json_pack("{s:s, s:[s, s, s], s:b, s:[{s:o, s:s}]}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                         "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "stockadeAllowSendmsg", 1, "syscalls",
                         "names", names, "action", "SCMP_ACT_ALLOW");
}

/* Puts the notifying profile into the container's HostConfig.SecurityOpt (it is created, not started). */
static int notify_install_profile(SeccompRecorder *rr, Engine *e, const char *id, const char *path, Error **err)
{
        _cleanup_json_ json_t *rec = NULL, *base = NULL, *np = NULL;
        _cleanup_close_ int lock = -EBADF;
        json_t *opts, *host, *v, *kept;
        size_t i;
        int r;

        if ((r = container_lock(e, id, &lock, err)) < 0 || (r = container_load(e, id, &rec, err)) < 0)
                return r;
        host = json_object_get(rec, "HostConfig");
        opts = json_object_get(host, "SecurityOpt");
        rr->orig_secopt = opts ? json_deep_copy(opts) : json_null();
        kept = json_array();
        json_array_foreach(opts, i, v)
        {
                _cleanup_free_ char *k = NULL, *val = NULL;
                bool colon;
                if (security_opt_split(json_string_value(v), &k, &val, &colon, NULL) < 0 || !STREQ(k, "seccomp")) {
                        json_array_append(kept, v);
                        continue;
                }
                if (STREQ(val, "unconfined"))
                        base = unconfined_profile();
                else if (val[0] == '{' && (r = jx_parse(val, strlen(val), "--security-opt seccomp", &base, err)) < 0) {
                        json_decref(kept);
                        return r;
                }
        }
        if (!base)
                base = seccomp_default_profile();
        np = notify_profile(base, path);
        {
                _cleanup_free_ char *text = jx_dump(np, false), *opt = xasprintf("seccomp=%s", text);
                json_array_append_new(kept, json_string(opt));
        }
        json_object_set_new(host, "SecurityOpt", kept);
        return container_save(e, id, rec, err);
}

static void notify_note(SeccompRecorder *r, const struct seccomp_notif *req)
{
        unsigned row;

        if (req->data.arch == AUDIT_ARCH_X86_64 && !(req->data.nr & 0x40000000))
                row = 0;
        else if (req->data.arch == AUDIT_ARCH_I386)
                row = 1;
        else {
                r->rec.dropped++;
                return;
        }
        if (req->data.nr < 0 || req->data.nr >= SECCOMP_REC_WORDS * 64) {
                r->rec.dropped++;
                return;
        }
        seccomp_recording_add(&r->rec, row, (unsigned)req->data.nr);
        if (r->with_args)
                for (int i = 0; i < 3; i++)
                        if (r->arg_nrs[row][i] == req->data.nr)
                                seccomp_recording_add_arg(&r->rec, row, (unsigned)req->data.nr,
                                                          row == 1 ? (req->data.args[0] & 0xffffffffULL) : req->data.args[0]);
}

/* takes the notification fd out of one connection from the runtime (SCM_RIGHTS; the state JSON is not needed) */
static int notify_take_fd(int conn)
{
        char buf[65536];
        union {
                struct cmsghdr h;
                char b[CMSG_SPACE(sizeof(int))];
        } c;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
        struct cmsghdr *h;
        int fd = -1;

        if (recvmsg(conn, &m, MSG_CMSG_CLOEXEC) < 0)
                return -errno;
        for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
                if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(h), sizeof(int));
        return fd >= 0 ? fd : -EBADMSG;
}

static void *notify_thread(void *arg)
{
        SeccompRecorder *r = arg;
        struct pollfd p[NOTIFY_MAX_FDS + 2];
        struct seccomp_notif *req = NULL;
        struct seccomp_notif_resp *resp = NULL;
        size_t n = 2;

        if (seccomp_notify_alloc(&req, &resp) < 0)
                return NULL;
        p[0] = (struct pollfd){ .fd = r->wake[0], .events = POLLIN };
        p[1] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
        for (;;) {
                if (poll(p, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        break;
                if (p[1].revents & POLLIN) {
                        int conn = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC), fd;
                        if (conn >= 0) {
                                fd = notify_take_fd(conn);
                                close(conn);
                                if (fd >= 0 && n < ELEMENTSOF(p))
                                        p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
                                else if (fd >= 0) {
                                        close(fd); /* its calls then fail: the run shows it */
                                        r->rec.dropped++;
                                }
                        }
                }
                for (size_t i = 2; i < n;) {
                        if (p[i].revents & POLLIN) {
                                memset(req, 0, sizeof(*req));
                                if (seccomp_notify_receive(p[i].fd, req) == 0) {
                                        notify_note(r, req);
                                        memset(resp, 0, sizeof(*resp));
                                        resp->id = req->id;
                                        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                                        (void)seccomp_notify_respond(p[i].fd, resp); /* ENOENT: the task died */
                                }
                        } else if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                                close(p[i].fd);
                                p[i] = p[--n];
                                continue;
                        }
                        i++;
                }
        }
        for (size_t i = 2; i < n; i++)
                close(p[i].fd);
        seccomp_notify_free(req, resp);
        return NULL;
}

static int start_notify(SeccompRecorder *r, Engine *e, const char *id, Error **err)
{
        static const char *const arg_names[] = { "clone", "personality", "socket" };
        static const uint32_t arches[2] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86 };
        _cleanup_free_ char *tmpl = xasprintf("%s/seccomp-record.XXXXXX", e->exec_root), *path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int k;

        for (int row = 0; row < 2; row++)
                for (size_t i = 0; i < ELEMENTSOF(arg_names); i++)
                        r->arg_nrs[row][i] = seccomp_syscall_resolve_name_arch(arches[row], arg_names[i]);
        (void)mkdir_p(e->exec_root, 0700);
        if (!mkdtemp(tmpl))
                return error_set(err, errno, "seccomp record: creating a directory in %s", e->exec_root);
        r->sock_dir = TAKE_PTR(tmpl);
        path = xasprintf("%s/notify.sock", r->sock_dir);
        if (strlen(path) >= sizeof(sa.sun_path))
                return error_setx(err, ENAMETOOLONG, "seccomp record: %s is too long for a socket path", path);
        strcpy(sa.sun_path, path);
        r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(r->listen_fd, 16) < 0)
                return error_set(err, errno, "seccomp record: listening on %s", path);
        if (pipe2(r->wake, O_CLOEXEC) < 0)
                return error_set(err, errno, "seccomp record: pipe");
        r->engine = e;
        r->id = xstrdup(id);
        k = notify_install_profile(r, e, id, path, err);
        if (k < 0)
                return k;
        k = pthread_create(&r->thread, NULL, notify_thread, r);
        if (k != 0)
                return error_set(err, k, "seccomp record: starting the listener thread");
        r->thread_started = true;
        return 0;
}

int seccomp_recorder_start(Engine *e, SeccompRecorderKind kind, const char *id, bool with_args, SeccompRecorder **ret,
                           Error **err)
{
        SeccompRecorder *r = xcalloc(1, sizeof(*r));
        int k;

        r->kind = kind;
        r->with_args = with_args;
        r->listen_fd = r->wake[0] = r->wake[1] = -1;
        k = kind == SECCOMP_RECORDER_NOTIFY ? start_notify(r, e, id, err) : start_bpf(r, e, id, err);
        if (k < 0) {
                seccomp_recorder_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

static int finish_bpf(SeccompRecorder *r, SeccompRecording *out, Error **err)
{
        int ncpu = libbpf_num_possible_cpus(), fd;
        uint32_t zero = 0;
        SeccompArgSeen key, next;
        void *prev = NULL;

        if (ncpu <= 0)
                return error_set(err, -ncpu, "seccomp record: counting CPUs");
        /* stop first: nothing changes while we read */
        seccomp_record_bpf__detach(r->skel);
        {
                _cleanup_free_ struct { uint64_t w[SECCOMP_REC_ROWS][SECCOMP_REC_WORDS]; } *v = xcalloc((size_t)ncpu, sizeof(*v));
                if (bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.seen), &zero, v) < 0)
                        return error_set(err, errno, "seccomp record: reading the syscall bitmap");
                for (int c = 0; c < ncpu; c++)
                        for (int row = 0; row < SECCOMP_REC_ROWS; row++)
                                for (int w = 0; w < SECCOMP_REC_WORDS; w++)
                                        out->seen[row][w] |= v[c].w[row][w];
        }
        out->dropped += r->skel->bss->dropped;
        out->with_args = r->with_args;
        fd = bpf_map__fd(r->skel->maps.arg_values);
        /* same layout as struct rec_arg_key: u32 row, u32 nr, u64 value */
        while (bpf_map_get_next_key(fd, prev, &next) == 0) {
                seccomp_recording_add_arg(out, next.row, next.nr, next.value);
                key = next;
                prev = &key;
        }
        return 0;
}

static int finish_notify(SeccompRecorder *r, SeccompRecording *out)
{

        if (r->thread_started) {
                (void)write(r->wake[1], "x", 1);
                pthread_join(r->thread, NULL);
                r->thread_started = false;
        }
        memcpy(out->seen, r->rec.seen, sizeof(out->seen));
        /* never notified (notify_never): recorded as made */
        for (size_t i = 0; i < ELEMENTSOF(notify_never); i++) {
                int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, notify_never[i]);
                if (nr >= 0)
                        seccomp_recording_add(out, 0, (unsigned)nr);
        }
        for (size_t i = 0; i < r->rec.n_args; i++)
                seccomp_recording_add_arg(out, r->rec.args[i].row, r->rec.args[i].nr, r->rec.args[i].value);
        out->dropped += r->rec.dropped;
        out->with_args = r->with_args;
        return 0;
}

int seccomp_recorder_finish(SeccompRecorder *r, SeccompRecording *out, Error **err)
{
        int k = r->kind == SECCOMP_RECORDER_NOTIFY ? finish_notify(r, out) : finish_bpf(r, out, err);
        seccomp_recorder_free(r);
        return k;
}

SeccompRecorder *seccomp_recorder_free(SeccompRecorder *r)
{
        if (!r)
                return NULL;
        if (r->skel)
                seccomp_record_bpf__destroy(r->skel);
        if (r->thread_started) {
                (void)write(r->wake[1], "x", 1);
                pthread_join(r->thread, NULL);
        }
        if (r->listen_fd >= 0)
                close(r->listen_fd);
        if (r->wake[0] >= 0) {
                close(r->wake[0]);
                close(r->wake[1]);
        }
        if (r->orig_secopt && r->engine) {
                /* a kept container (run --seccomp-record without --rm) starts again with its own profile */
                _cleanup_json_ json_t *rec = NULL;
                _cleanup_close_ int lock = -EBADF;
                if (container_lock(r->engine, r->id, &lock, NULL) == 0 && container_load(r->engine, r->id, &rec, NULL) == 0) {
                        json_object_set(json_object_get(rec, "HostConfig"), "SecurityOpt", r->orig_secopt);
                        (void)container_save(r->engine, r->id, rec, NULL);
                }
        }
        json_decref(r->orig_secopt);
        free(r->id);
        if (r->sock_dir) {
                _cleanup_free_ char *sock = xasprintf("%s/notify.sock", r->sock_dir);
                (void)unlink(sock);
                (void)rmdir(r->sock_dir);
                free(r->sock_dir);
        }
        seccomp_recording_clear(&r->rec);
        if (r->cgroup_dir)
                (void)rmdir(r->cgroup_dir); /* the runtime removes it when the container is deleted; else us */
        free(r->cgroup_dir);
        free(r);
        return NULL;
}
