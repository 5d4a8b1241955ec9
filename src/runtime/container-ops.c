/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pause, resume, update and events: what the runtime does to a live container's cgroups. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-ops.h"
#include "cgroup-resources.h"
#include "container.h"
#include "json-util.h"
#include "log.h"
#include "syscalls.h"
#include "util.h"


int container_pause(const char *root, const char *id, bool pause, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        ContainerStatus status;
        int r;

        r = container_open(root, id, true, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        if (pause && status != STATUS_RUNNING)
                return error_setx(err, EINVAL, "container \"%s\" is %s: only a running container can be paused", id,
                                  status_names[status]);
        if (!pause && status != STATUS_PAUSED)
                return error_setx(err, EINVAL, "container \"%s\" is %s, not paused: nothing to resume", id,
                                  status_names[status]);
        r = cgroup_freeze(st->cgroup_paths, pause, err);
        if (r < 0)
                return error_wrap(err, "%s container \"%s\"", pause ? "pausing" : "resuming", id);
        return 0;
}

/* Copies every key of src into dst, recursing into objects both have, so unnamed fields stay. */
static void merge_into(json_t *dst, json_t *src)
{
        const char *k;
        json_t *v;

        json_object_foreach (src, k, v) {
                json_t *d = json_object_get(dst, k);
                if (json_is_object(v) && json_is_object(d))
                        merge_into(d, v);
                else
                        json_object_set(dst, k, v);
        }
}

/* Keeps config.json true to the container's limits, so later updates and `events` agree with it. */
static int store_resources(int dirfd, json_t *resources, Error **err)
{
        _cleanup_free_ char *text = NULL, *out = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        json_t *linux_o, *res;
        size_t len = 0;
        int r;

        r = read_file_at(dirfd, "config.json", 64 << 20, &text, &len);
        if (r < 0)
                return error_set(err, -r, "reading the container's config.json");
        r = jx_parse(text, len, "config.json", &cfg, err);
        if (r < 0)
                return r;
        linux_o = json_object_get(cfg, "linux");
        if (!json_is_object(linux_o)) {
                linux_o = json_object();
                json_object_set_new(cfg, "linux", linux_o);
        }
        res = json_object_get(linux_o, "resources");
        if (!json_is_object(res)) {
                res = json_object();
                json_object_set_new(linux_o, "resources", res);
        }
        merge_into(res, resources);
        out = jx_dump(cfg, false);
        r = write_file_atomic(dirfd, "config.json", out, strlen(out), 0600, true);
        if (r < 0)
                return error_set(err, -r, "writing the container's config.json");
        return 0;
}

int container_update(const char *root, const char *id, json_t *resources, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        ContainerStatus status;
        int r;

        if (!json_is_object(resources))
                return error_setx(err, EINVAL, "resources: expected a JSON object (linux.resources)");
        r = container_open(root, id, true, &dirfd, &st, err);
        if (r < 0)
                return r;
        status = state_status(dirfd, st);
        if (status == STATUS_STOPPED)
                return error_setx(err, EINVAL, "container \"%s\" is stopped: its resources cannot be updated", id);
        r = cgroup_apply_resources(st->cgroup_paths, resources, err);
        if (r < 0)
                return error_wrap(err, "updating container \"%s\"", id);
        return store_resources(dirfd, resources, err);
}

static void print_event(const char *type, const char *id, json_t *data)
{
        _cleanup_json_ json_t *e = json_pack("{s:s,s:s}", "type", type, "id", id);
        _cleanup_free_ char *s = NULL;

        if (data)
                json_object_set(e, "data", data);
        s = jx_dump(e, false);
        printf("%s\n", s);
        fflush(stdout);
}

static int print_stats(const ContainerState *st, Error **err)
{
        _cleanup_json_ json_t *d = NULL;
        int r = cgroup_stats(st->cgroup_paths, &d, err);
        if (r < 0)
                return r;
        print_event("stats", st->id, d);
        return 0;
}

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int container_events(const char *root, const char *id, const EventsOpts *o, Error **err)
{
        _cleanup_(state_freep) ContainerState *st = NULL;
        _cleanup_close_ int dirfd = -EBADF, pidfd = -EBADF;
        OomWatch w = { .fd = -EBADF };
        int64_t next;
        int r;

        /* No lock: events runs for as long as the container does, and must not block kill or delete. */
        r = container_open(root, id, false, &dirfd, &st, err);
        if (r < 0)
                return r;
        if (state_status(dirfd, st) == STATUS_STOPPED)
                return error_setx(err, EINVAL, "container \"%s\" is not running", id);
        if (o->stats_once)
                return print_stats(st, err);
        pidfd = sys_pidfd_open(st->pid, 0);
        if (pidfd < 0 || state_status(dirfd, st) == STATUS_STOPPED)
                return error_setx(err, EINVAL, "container \"%s\" is not running", id);
        if (cgroup_oom_watch_open(st->cgroup_paths, &w, err) < 0) {
                log_warn("events: no OOM events for %s: %s", id, (*err)->msg);
                error_clear(err);
        }
        next = mono_ms();
        for (;;) {
                struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = w.fd, .events = w.events } };
                int64_t now = mono_ms();
                if (now >= next) {
                        Error *e = NULL;
                        if (print_stats(st, &e) < 0) {
                                log_warn("events: %s", e->msg);
                                error_free(e);
                        }
                        next = now + (o->interval_ms > 0 ? o->interval_ms : 5000);
                        continue;
                }
                r = poll(p, w.fd >= 0 ? 2 : 1, (int)(next - now));
                if (r < 0 && errno != EINTR) {
                        r = error_set(err, errno, "events: poll");
                        break;
                }
                /* OOM before exit: a container killed by the OOM killer reports it, then ends. */
                if (w.fd >= 0 && (p[1].revents & (w.events | POLLERR))) {
                        for (uint64_t n = cgroup_oom_watch_read(&w); n > 0; n--)
                                print_event("oom", id, NULL);
                }
                if (p[0].revents & POLLIN) {
                        if (w.fd >= 0)
                                for (uint64_t n = cgroup_oom_watch_read(&w); n > 0; n--)
                                        print_event("oom", id, NULL);
                        r = 0;
                        break;
                }
        }
        cgroup_oom_watch_close(&w);
        return r;
}
