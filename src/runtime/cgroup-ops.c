/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-ops.h"
#include "cgroup-resources.h"
#include "json-util.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS 5000

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_cg(const char *dir, const char *file)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
        char *s = NULL;
        if (read_file_at(AT_FDCWD, p, 1 << 20, &s, NULL) < 0)
                return NULL;
        return s;
}

/* A file holding one number ("max" reads as `max_value`); false when absent or not a number. */
static bool read_u64(const char *dir, const char *file, uint64_t max_value, uint64_t *ret)
{
        _cleanup_free_ char *s = read_cg(dir, file);
        if (!s)
                return false;
        s[strcspn(s, " \n")] = '\0';
        if (STREQ(s, "max")) {
                *ret = max_value;
                return true;
        }
        return parse_uint64(s, ret) == 0;
}

/* The value of `key` in a flat keyed file ("key value" lines: memory.stat, cpu.stat, memory.events). */
static bool keyed_u64(const char *text, const char *key, uint64_t *ret)
{
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
                        char buf[32];
                        size_t n = strcspn(l + kl + 1, "\n");
                        if (n == 0 || n >= sizeof(buf))
                                return false;
                        memcpy(buf, l + kl + 1, n);
                        buf[n] = '\0';
                        return parse_uint64(buf, ret) == 0;
                }
        }
        return false;
}

/* ------------------------------------------------------------------ freezer */

static const char *freezer_dir(json_t *paths, bool *v2)
{
        json_t *v = json_object_get(paths, "freezer");
        if (json_is_string(v)) {
                *v2 = false;
                return json_string_value(v);
        }
        v = json_object_get(paths, "");
        if (json_is_string(v)) {
                *v2 = true;
                return json_string_value(v);
        }
        return NULL;
}

static int freeze_v1(const char *dir, bool freeze, Error **err)
{
        const char *want = freeze ? "FROZEN" : "THAWED";
        _cleanup_free_ char *file = xasprintf("%s/freezer.state", dir);
        int64_t deadline = now_ms() + FREEZE_TIMEOUT_MS;
        long sleep_us = 100;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *s = NULL;
                int r;
                /* Writing again is what moves a FREEZING cgroup on when a task raced in (forked). */
                if (attempt % 16 == 0) {
                        r = write_file_at(AT_FDCWD, file, want);
                        if (r < 0)
                                return error_set(err, -r, "writing %s to %s", want, file);
                }
                r = read_file_at(AT_FDCWD, file, 64, &s, NULL);
                if (r < 0)
                        return error_set(err, -r, "reading %s", file);
                if (str_has_prefix(s, want))
                        return 0;
                if (now_ms() > deadline)
                        break;
                usleep(sleep_us);
                if (sleep_us < 10000)
                        sleep_us *= 2;
        }
        if (freeze)
                (void)write_file_at(AT_FDCWD, file, "THAWED");
        return error_setx(err, ETIMEDOUT, "%s: the container did not reach %s within %d ms%s", file, want,
                          FREEZE_TIMEOUT_MS, freeze ? " (thawed again)" : "");
}

static int freeze_v2(const char *dir, bool freeze, Error **err)
{
        _cleanup_free_ char *file = xasprintf("%s/cgroup.freeze", dir);
        _cleanup_free_ char *events = xasprintf("%s/cgroup.events", dir);
        _cleanup_close_ int efd = -EBADF;
        int64_t deadline;
        int r;

        r = write_file_at(AT_FDCWD, file, freeze ? "1" : "0");
        if (r == -ENOENT)
                return error_setx(err, ENOTSUP, "pausing needs the freezer: this kernel has no %s", file);
        if (r < 0)
                return error_set(err, -r, "writing to %s", file);
        efd = open(events, O_RDONLY | O_CLOEXEC);
        if (efd < 0)
                return error_set(err, errno, "opening %s", events);
        deadline = now_ms() + FREEZE_TIMEOUT_MS;
        for (;;) {
                _cleanup_free_ char *s = NULL;
                uint64_t frozen = 0;
                if (lseek(efd, 0, SEEK_SET) < 0 || (r = read_all_fd(efd, 4096, &s, NULL)) < 0)
                        return error_set(err, errno, "reading %s", events);
                if (keyed_u64(s, "frozen", &frozen) && (frozen != 0) == freeze)
                        return 0;
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        break;
                struct pollfd p = { .fd = efd, .events = POLLPRI };
                (void)poll(&p, 1, (int)(left < 100 ? left : 100));
        }
        if (freeze)
                (void)write_file_at(AT_FDCWD, file, "0");
        return error_setx(err, ETIMEDOUT, "%s: the container was not %s within %d ms%s", events,
                          freeze ? "frozen" : "thawed", FREEZE_TIMEOUT_MS, freeze ? " (thawed again)" : "");
}

int cgroup_freeze(json_t *paths, bool freeze, Error **err)
{
        bool v2 = false;
        const char *dir = freezer_dir(paths, &v2);

        if (!dir)
                return error_setx(err, ENOTSUP, "pausing needs a freezer cgroup: the container has none");
        return v2 ? freeze_v2(dir, freeze, err) : freeze_v1(dir, freeze, err);
}

/* ------------------------------------------------------------------ stats */

/* {"limit":..,"usage":..,"max":..,"failcnt":..} from v1 files <prefix>.limit_in_bytes and friends. */
static json_t *mem_entry_v1(const char *dir, const char *prefix)
{
        uint64_t v;
        json_t *o = json_object();
        _cleanup_free_ char *lim = xasprintf("%s.limit_in_bytes", prefix), *use = xasprintf("%s.usage_in_bytes", prefix),
                            *max = xasprintf("%s.max_usage_in_bytes", prefix), *fc = xasprintf("%s.failcnt", prefix);

        if (read_u64(dir, lim, UINT64_MAX, &v))
                json_object_set_new(o, "limit", jx_uint64_new(v));
        if (read_u64(dir, use, 0, &v) && v)
                json_object_set_new(o, "usage", jx_uint64_new(v));
        if (read_u64(dir, max, 0, &v) && v)
                json_object_set_new(o, "max", jx_uint64_new(v));
        json_object_set_new(o, "failcnt", jx_uint64_new(read_u64(dir, fc, 0, &v) ? v : 0));
        return o;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "key value" lines as an object with sorted keys, as Go writes a map. */
static json_t *keyed_object(const char *text)
{
        json_t *o = json_object();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        _cleanup_free_ char **lines = NULL;
        size_t n = 0, cap = 0;
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        lines = xrealloc(lines, cap * sizeof(char *));
                }
                lines[n++] = l;
        }
        if (n)
                qsort(lines, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
                char *sp = strchr(lines[i], ' ');
                uint64_t v;
                if (!sp)
                        continue;
                *sp = '\0';
                if (parse_uint64(sp + 1, &v) == 0)
                        json_object_set_new(o, lines[i], jx_uint64_new(v));
        }
        return o;
}

static json_t *stats_memory(json_t *paths)
{
        Target t = cgroup_target(paths, "memory");
        _cleanup_free_ char *stat = NULL;
        json_t *m;

        if (!t.dir)
                return NULL;
        m = json_object();
        stat = read_cg(t.dir, "memory.stat");
        if (!t.v2) {
                json_object_set_new(m, "usage", mem_entry_v1(t.dir, "memory"));
                json_object_set_new(m, "swap", mem_entry_v1(t.dir, "memory.memsw"));
                json_object_set_new(m, "kernel", mem_entry_v1(t.dir, "memory.kmem"));
                json_object_set_new(m, "kernelTCP", mem_entry_v1(t.dir, "memory.kmem.tcp"));
        } else {
                /* As runc reports v2: "swap" is memory+swap, so it reads like v1's memsw. */
                uint64_t cur = 0, max = UINT64_MAX, peak = 0, scur = 0, smax = UINT64_MAX, ev = 0;
                _cleanup_free_ char *events = read_cg(t.dir, "memory.events");
                json_t *u = json_object(), *s = json_object();
                (void)read_u64(t.dir, "memory.current", 0, &cur);
                (void)read_u64(t.dir, "memory.max", UINT64_MAX, &max);
                (void)read_u64(t.dir, "memory.swap.current", 0, &scur);
                (void)read_u64(t.dir, "memory.swap.max", UINT64_MAX, &smax);
                json_object_set_new(u, "limit", jx_uint64_new(max));
                if (cur)
                        json_object_set_new(u, "usage", jx_uint64_new(cur));
                if (read_u64(t.dir, "memory.peak", 0, &peak) && peak)
                        json_object_set_new(u, "max", jx_uint64_new(peak));
                json_object_set_new(u, "failcnt", jx_uint64_new(events && keyed_u64(events, "max", &ev) ? ev : 0));
                json_object_set_new(s, "limit", jx_uint64_new(max == UINT64_MAX || smax == UINT64_MAX ? UINT64_MAX : max + smax));
                if (cur + scur)
                        json_object_set_new(s, "usage", jx_uint64_new(cur + scur));
                json_object_set_new(s, "failcnt", json_integer(0));
                json_object_set_new(m, "usage", u);
                json_object_set_new(m, "swap", s);
                json_object_set_new(m, "kernel", json_pack("{s:I}", "failcnt", (json_int_t)0));
                json_object_set_new(m, "kernelTCP", json_pack("{s:I}", "failcnt", (json_int_t)0));
        }
        json_object_set_new(m, "raw", keyed_object(stat));
        return m;
}

static json_t *u64_list(const char *text)
{
        json_t *a = json_array();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;
        for (char *w = strtok_r(copy, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                uint64_t v;
                if (parse_uint64(w, &v) == 0)
                        json_array_append_new(a, jx_uint64_new(v));
        }
        return a;
}

/* "0-2,4" -> [0,1,2,4] (at most 65536 entries). */
static json_t *cpu_list(const char *text)
{
        json_t *a = json_array();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;

        copy[strcspn(copy, "\n")] = '\0';
        for (char *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
                unsigned long lo, hi;
                char *end;
                lo = strtoul(r, &end, 10);
                hi = *end == '-' ? strtoul(end + 1, &end, 10) : lo;
                if (*end || hi < lo || hi > 65535)
                        continue;
                for (unsigned long i = lo; i <= hi && json_array_size(a) < 65536; i++)
                        json_array_append_new(a, json_integer((json_int_t)i));
        }
        return a;
}

static json_t *stats_cpu(json_t *paths)
{
        Target t = cgroup_target(paths, "cpu"), acct = cgroup_target(paths, "cpuacct");
        json_t *cpu = json_object(), *usage = json_object(), *thr = json_object();
        uint64_t v;

        if (t.v2) {
                _cleanup_free_ char *st = read_cg(t.dir, "cpu.stat");
                if (st && keyed_u64(st, "usage_usec", &v))
                        json_object_set_new(usage, "total", jx_uint64_new(v * 1000));
                if (st && keyed_u64(st, "system_usec", &v))
                        json_object_set_new(usage, "kernel", jx_uint64_new(v * 1000));
                if (st && keyed_u64(st, "user_usec", &v))
                        json_object_set_new(usage, "user", jx_uint64_new(v * 1000));
                if (st && keyed_u64(st, "nr_periods", &v) && v)
                        json_object_set_new(thr, "periods", jx_uint64_new(v));
                if (st && keyed_u64(st, "nr_throttled", &v) && v)
                        json_object_set_new(thr, "throttled_periods", jx_uint64_new(v));
                if (st && keyed_u64(st, "throttled_usec", &v) && v)
                        json_object_set_new(thr, "throttled_time", jx_uint64_new(v * 1000));
        } else {
                if (acct.dir) {
                        _cleanup_free_ char *pc = read_cg(acct.dir, "cpuacct.usage_percpu"),
                                            *ps = read_cg(acct.dir, "cpuacct.usage_percpu_sys"),
                                            *pu = read_cg(acct.dir, "cpuacct.usage_percpu_user"),
                                            *st = read_cg(acct.dir, "cpuacct.stat");
                        long hz = sysconf(_SC_CLK_TCK);
                        uint64_t tick_ns = hz > 0 ? 1000000000ULL / (uint64_t)hz : 10000000ULL;
                        if (read_u64(acct.dir, "cpuacct.usage", 0, &v))
                                json_object_set_new(usage, "total", jx_uint64_new(v));
                        if (pc)
                                json_object_set_new(usage, "percpu", u64_list(pc));
                        if (ps)
                                json_object_set_new(usage, "percpu_kernel", u64_list(ps));
                        if (pu)
                                json_object_set_new(usage, "percpu_user", u64_list(pu));
                        json_object_set_new(usage, "kernel",
                                            jx_uint64_new(st && keyed_u64(st, "system", &v) ? v * tick_ns : 0));
                        json_object_set_new(usage, "user", jx_uint64_new(st && keyed_u64(st, "user", &v) ? v * tick_ns : 0));
                }
                if (t.dir) {
                        _cleanup_free_ char *st = read_cg(t.dir, "cpu.stat");
                        if (st && keyed_u64(st, "nr_periods", &v) && v)
                                json_object_set_new(thr, "periods", jx_uint64_new(v));
                        if (st && keyed_u64(st, "nr_throttled", &v) && v)
                                json_object_set_new(thr, "throttled_periods", jx_uint64_new(v));
                        if (st && keyed_u64(st, "throttled_time", &v) && v)
                                json_object_set_new(thr, "throttled_time", jx_uint64_new(v));
                }
        }
        json_object_set_new(cpu, "usage", usage);
        json_object_set_new(cpu, "throttling", thr);
        return cpu;
}

static json_t *stats_cpuset(json_t *paths)
{
        Target t = cgroup_target(paths, "cpuset");
        json_t *o;
        uint64_t v;

        if (!t.dir)
                return NULL;
        o = json_object();
        _cleanup_free_ char *cpus = read_cg(t.dir, t.v2 ? "cpuset.cpus.effective" : "cpuset.cpus");
        _cleanup_free_ char *mems = read_cg(t.dir, t.v2 ? "cpuset.mems.effective" : "cpuset.mems");
        json_object_set_new(o, "cpus", cpu_list(cpus));
        if (!t.v2)
                json_object_set_new(o, "cpu_exclusive", jx_uint64_new(read_u64(t.dir, "cpuset.cpu_exclusive", 0, &v) ? v : 0));
        json_object_set_new(o, "mems", cpu_list(mems));
        if (!t.v2) {
                static const char *const flags[][2] = {
                        { "mem_hardwall", "cpuset.mem_hardwall" },
                        { "mem_exclusive", "cpuset.mem_exclusive" },
                        { "memory_migrate", "cpuset.memory_migrate" },
                        { "memory_spread_page", "cpuset.memory_spread_page" },
                        { "memory_spread_slab", "cpuset.memory_spread_slab" },
                        { "memory_pressure", "cpuset.memory_pressure" },
                        { "sched_load_balance", "cpuset.sched_load_balance" },
                };
                int64_t lvl = -1;
                _cleanup_free_ char *rl = read_cg(t.dir, "cpuset.sched_relax_domain_level");
                for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                        json_object_set_new(o, flags[i][0], jx_uint64_new(read_u64(t.dir, flags[i][1], 0, &v) ? v : 0));
                if (rl) {
                        rl[strcspn(rl, "\n")] = '\0';
                        (void)parse_int64(rl, &lvl);
                }
                json_object_set_new(o, "sched_relax_domain_level", json_integer(lvl));
        }
        return o;
}

static json_t *stats_pids(json_t *paths)
{
        Target t = cgroup_target(paths, "pids");
        uint64_t cur = 0, lim = 0;
        json_t *o;

        if (!t.dir)
                return NULL;
        o = json_object();
        if (read_u64(t.dir, "pids.current", 0, &cur) && cur)
                json_object_set_new(o, "current", jx_uint64_new(cur));
        if (read_u64(t.dir, "pids.max", 0, &lim) && lim)
                json_object_set_new(o, "limit", jx_uint64_new(lim));
        return o;
}

/* v1 "MAJ:MIN Op value" lines (the last line "Total N" is skipped) into runc's entries. */
static json_t *blkio_entries(const char *text)
{
        json_t *a = json_array();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                char op[16];
                uint64_t v;
                if (sscanf(l, "%u:%u %15s %" SCNu64, &maj, &min, op, &v) == 4)
                        json_array_append_new(a, json_pack("{s:I,s:I,s:s,s:o}", "major", (json_int_t)maj, "minor",
                                                           (json_int_t)min, "op", op, "value", jx_uint64_new(v)));
        }
        return a;
}

/* v2 io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...") into the same two v1 lists. */
static void io_stat_v2(const char *text, json_t *bytes, json_t *ios)
{
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                char *s2 = NULL;
                if (sscanf(l, "%u:%u", &maj, &min) != 2)
                        continue;
                for (char *kv = strtok_r(strchr(l, ' '), " ", &s2); kv; kv = strtok_r(NULL, " ", &s2)) {
                        static const struct { const char *key; const char *op; bool bytes; } map[] = {
                                { "rbytes=", "Read", true }, { "wbytes=", "Write", true },
                                { "rios=", "Read", false }, { "wios=", "Write", false },
                        };
                        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                                uint64_t v;
                                if (!str_has_prefix(kv, map[i].key) || parse_uint64(kv + strlen(map[i].key), &v) < 0)
                                        continue;
                                json_array_append_new(map[i].bytes ? bytes : ios,
                                                      json_pack("{s:I,s:I,s:s,s:o}", "major", (json_int_t)maj, "minor",
                                                                (json_int_t)min, "op", map[i].op, "value", jx_uint64_new(v)));
                        }
                }
        }
}

static json_t *stats_blkio(json_t *paths)
{
        Target t = cgroup_target(paths, "blkio");
        json_t *o = json_object();

        if (!t.dir)
                t = cgroup_target(paths, "io");
        if (!t.dir)
                return o;
        if (t.v2) {
                _cleanup_free_ char *st = read_cg(t.dir, "io.stat");
                json_t *bytes = json_array(), *ios = json_array();
                io_stat_v2(st, bytes, ios);
                json_object_set_new(o, "io_service_bytes_recursive", bytes);
                json_object_set_new(o, "io_serviced_recursive", ios);
                return o;
        }
        _cleanup_free_ char *b = read_cg(t.dir, "blkio.throttle.io_service_bytes_recursive");
        _cleanup_free_ char *s = read_cg(t.dir, "blkio.throttle.io_serviced_recursive");
        json_t *be = blkio_entries(b), *se = blkio_entries(s);
        /* runc leaves out empty lists */
        if (json_array_size(be))
                json_object_set(o, "io_service_bytes_recursive", be);
        if (json_array_size(se))
                json_object_set(o, "io_serviced_recursive", se);
        json_decref(be);
        json_decref(se);
        return o;
}

static json_t *stats_hugetlb(json_t *paths)
{
        Target t = cgroup_target(paths, "hugetlb");
        json_t *o = json_object();
        _cleanup_close_ int dfd = -EBADF;
        static const char *const sizes[] = { "64KB", "2MB", "32MB", "512MB", "1GB", "16GB" };

        if (!t.dir)
                return o;
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *cur = t.v2 ? xasprintf("hugetlb.%s.current", sizes[i])
                                                : xasprintf("hugetlb.%s.usage_in_bytes", sizes[i]);
                _cleanup_free_ char *max = t.v2 ? NULL : xasprintf("hugetlb.%s.max_usage_in_bytes", sizes[i]);
                _cleanup_free_ char *fc = t.v2 ? xasprintf("hugetlb.%s.events", sizes[i])
                                               : xasprintf("hugetlb.%s.failcnt", sizes[i]);
                uint64_t u, m = 0, f = 0;
                if (!read_u64(t.dir, cur, 0, &u))
                        continue;
                json_t *e = json_object();
                if (u)
                        json_object_set_new(e, "usage", jx_uint64_new(u));
                if (max && read_u64(t.dir, max, 0, &m) && m)
                        json_object_set_new(e, "max", jx_uint64_new(m));
                if (t.v2) {
                        _cleanup_free_ char *ev = read_cg(t.dir, fc);
                        if (ev)
                                (void)keyed_u64(ev, "max", &f);
                } else
                        (void)read_u64(t.dir, fc, 0, &f);
                json_object_set_new(e, "failcnt", jx_uint64_new(f));
                json_object_set_new(o, sizes[i], e);
        }
        return o;
}

int cgroup_stats(json_t *paths, json_t **ret, Error **err)
{
        json_t *d, *x;

        if (!paths || json_object_size(paths) == 0)
                return error_setx(err, ENOENT, "the container has no cgroups");
        d = json_object();
        json_object_set_new(d, "cpu", stats_cpu(paths));
        if ((x = stats_cpuset(paths)))
                json_object_set_new(d, "cpuset", x);
        if ((x = stats_memory(paths)))
                json_object_set_new(d, "memory", x);
        if ((x = stats_pids(paths)))
                json_object_set_new(d, "pids", x);
        json_object_set_new(d, "blkio", stats_blkio(paths));
        json_object_set_new(d, "hugetlb", stats_hugetlb(paths));
        json_object_set_new(d, "intel_rdt", json_object());
        json_object_set_new(d, "network_interfaces", json_null());
        *ret = d;
        return 0;
}

/* ------------------------------------------------------------------ OOM */

uint64_t cgroup_oom_kills(json_t *paths)
{
        Target t = cgroup_target(paths, "memory");
        _cleanup_free_ char *s = NULL;
        uint64_t v = 0;

        if (!t.dir)
                return 0;
        s = read_cg(t.dir, t.v2 ? "memory.events" : "memory.oom_control");
        if (s)
                (void)keyed_u64(s, "oom_kill", &v);
        return v;
}

int cgroup_oom_watch_open(json_t *paths, OomWatch *w, Error **err)
{
        Target t = cgroup_target(paths, "memory");

        *w = (OomWatch){ .fd = -EBADF, .paths = paths };
        if (!t.dir)
                return error_setx(err, ENOTSUP, "OOM events need the memory controller: the container has none");
        w->seen = cgroup_oom_kills(paths);
        if (t.v2) {
                _cleanup_free_ char *p = xasprintf("%s/memory.events", t.dir);
                w->fd = open(p, O_RDONLY | O_CLOEXEC);
                if (w->fd < 0)
                        return error_set(err, errno, "opening %s", p);
                w->events = POLLPRI;
                w->v2 = true;
                return 0;
        }
        _cleanup_free_ char *ctl = xasprintf("%s/cgroup.event_control", t.dir);
        _cleanup_free_ char *oc = xasprintf("%s/memory.oom_control", t.dir);
        _cleanup_close_ int ocfd = open(oc, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        char line[64];
        int r;

        if (ocfd < 0)
                return error_set(err, errno, "opening %s", oc);
        if (efd < 0)
                return error_set(err, errno, "eventfd");
        snprintf(line, sizeof(line), "%d %d", efd, ocfd);
        r = write_file_at(AT_FDCWD, ctl, line);
        if (r < 0)
                return error_set(err, -r, "registering for OOM notifications in %s", ctl);
        w->fd = TAKE_FD(efd);
        w->events = POLLIN;
        return 0;
}

uint64_t cgroup_oom_watch_read(OomWatch *w)
{
        uint64_t now = cgroup_oom_kills(w->paths), n = now > w->seen ? now - w->seen : 0;

        if (!w->v2) {
                Target t = cgroup_target(w->paths, "memory");
                _cleanup_free_ char *s = t.dir ? read_cg(t.dir, "memory.oom_control") : NULL;
                uint64_t ticks = 0, under = 0, dummy;
                if (read(w->fd, &ticks, sizeof(ticks)) != sizeof(ticks))
                        ticks = 0;
                /* The eventfd also ticks when the cgroup goes away: trust the kernel's counters where it
                 * has them (oom_kill since 4.13; under_oom for a container whose OOM killer is off). */
                if (!s)
                        n = 0;
                else if (n == 0 && keyed_u64(s, "under_oom", &under) && under)
                        n = 1;
                else if (n == 0 && !keyed_u64(s, "oom_kill", &dummy))
                        n = ticks;
        } else {
                char buf[512];
                (void)!pread(w->fd, buf, sizeof(buf), 0);
        }
        if (now > w->seen)
                w->seen = now;
        return n;
}

void cgroup_oom_watch_close(OomWatch *w)
{
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -EBADF;
}
