/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-resources.h"
#include "devices.h"
#include "json-util.h"
#include "util.h"

Target cgroup_target(json_t *paths, const char *controller)
{
        const char *k;
        json_t *v;
        Target t = { NULL, false };

        json_object_foreach (paths, k, v) {
                if (!*k)
                        continue;
                _cleanup_free_ char *names = xstrdup(k);
                char *save = NULL;
                for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save))
                        if (STREQ(n, controller)) {
                                t.dir = json_string_value(v);
                                return t;
                        }
        }
        v = json_object_get(paths, "");
        if (json_is_string(v)) {
                _cleanup_free_ char *p = xasprintf("%s/cgroup.controllers", json_string_value(v)), *c = NULL;
                if (read_file_at(AT_FDCWD, p, 4096, &c, NULL) == 0) {
                        char *save = NULL;
                        for (char *n = strtok_r(c, " \n", &save); n; n = strtok_r(NULL, " \n", &save))
                                if (STREQ(n, controller)) {
                                        t.dir = json_string_value(v);
                                        t.v2 = true;
                                }
                }
        }
        return t;
}

static int need(Target t, const char *controller, const char *field, Error **err)
{
        if (t.dir)
                return 0;
        return error_setx(err, ENOTSUP, "%s: the %s controller is not available on this host", field, controller);
}

static int put(const Target *t, const char *file, const char *value, const char *field, Error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", t->dir, file);
        int r = write_file_at(AT_FDCWD, p, value);
        if (r == -ENOENT)
                return error_setx(err, ENOTSUP, "%s: this kernel has no %s", field, file);
        if (r < 0)
                return error_set(err, -r, "%s: writing \"%s\" to %s", field, value, p);
        return 0;
}

static int put_u64(const Target *t, const char *file, uint64_t v, const char *field, Error **err)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return put(t, file, buf, field, err);
}

/* -1 (or below) means "no limit": "max" on v2, -1 on v1. */
static int put_limit(const Target *t, const char *file, int64_t v, const char *field, Error **err)
{
        char buf[32];
        if (v < 0)
                snprintf(buf, sizeof(buf), "%s", t->v2 ? "max" : "-1");
        else
                snprintf(buf, sizeof(buf), "%" PRId64, v);
        return put(t, file, buf, field, err);
}

/* What a v1 memory limit reads when there is none: PAGE_COUNTER_MAX pages of 4 KiB. */
#define V1_UNLIMITED INT64_C(0x7FFFFFFFFFFFF000)

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

static int apply_memory(json_t *paths, json_t *m, Error **err)
{
        Target t = cgroup_target(paths, "memory");
        int64_t limit = 0, reservation = 0, swap = 0, kernel = 0, kernel_tcp = 0;
        uint64_t swappiness = 0;
        bool disable_oom = false, use_hierarchy = false;
        int hl, hr, hs, hw, hd, hk, ht, hu;
        int r;

        if ((hl = jx_int64(m, "linux.resources.memory", "limit", false, &limit, err)) < 0 ||
            (hr = jx_int64(m, "linux.resources.memory", "reservation", false, &reservation, err)) < 0 ||
            (hs = jx_int64(m, "linux.resources.memory", "swap", false, &swap, err)) < 0 ||
            (hk = jx_int64(m, "linux.resources.memory", "kernel", false, &kernel, err)) < 0 ||
            (ht = jx_int64(m, "linux.resources.memory", "kernelTCP", false, &kernel_tcp, err)) < 0 ||
            (hw = jx_uint64(m, "linux.resources.memory", "swappiness", false, &swappiness, err)) < 0 ||
            (hd = jx_bool(m, "linux.resources.memory", "disableOOMKiller", false, &disable_oom, err)) < 0 ||
            (hu = jx_bool(m, "linux.resources.memory", "useHierarchy", false, &use_hierarchy, err)) < 0)
                return -EINVAL;
        if (!(hl || hr || hs || hw || hd || hk || ht || hu))
                return 0;
        r = need(t, "memory", "linux.resources.memory", err);
        if (r < 0)
                return r;
        if (hl && hs && limit >= 0 && swap >= 0 && swap < limit)
                return error_setx(err, EINVAL,
                                  "linux.resources.memory.swap: %" PRId64 " (memory+swap) is below the memory limit %" PRId64,
                                  swap, limit);
        if (hw && swappiness > 100)
                return error_setx(err, EINVAL, "linux.resources.memory.swappiness: %" PRIu64 " is above 100", swappiness);
        if (t.v2) {
                if (hl && (r = put_limit(&t, "memory.max", limit, "linux.resources.memory.limit", err)) < 0)
                        return r;
                if (hr && (r = put_limit(&t, "memory.low", reservation, "linux.resources.memory.reservation", err)) < 0)
                        return r;
                if (hs) {
                        /* v2 counts swap alone: memory.swap.max = (memory+swap) - memory. */
                        int64_t v = swap < 0 ? -1 : (hl && limit >= 0 ? swap - limit : swap);
                        if ((r = put_limit(&t, "memory.swap.max", v, "linux.resources.memory.swap", err)) < 0)
                                return r;
                }
                if (hd && disable_oom)
                        return error_setx(err, ENOTSUP,
                                          "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer");
                /* v2 has no per-cgroup swappiness: say so rather than ignore it. */
                if (hw)
                        return error_setx(err, ENOTSUP, "linux.resources.memory.swappiness: cgroup v2 has no swappiness");
                return 0;
        }
        /* v1: memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every step. */
        if (hl && !hs) {
                _cleanup_free_ char *p = xasprintf("%s/memory.memsw.limit_in_bytes", t.dir), *cur = NULL;
                int64_t memsw = -1;
                if (read_file_at(AT_FDCWD, p, 64, &cur, NULL) == 0 && parse_int64(strtok(cur, "\n"), &memsw) == 0 &&
                    (limit < 0 ? memsw < V1_UNLIMITED : limit > memsw))
                        return error_setx(err, EINVAL,
                                          "linux.resources.memory.limit: %" PRId64 " is above the memory+swap limit %" PRId64
                                          " already set: change swap (--memory-swap) with it",
                                          limit, memsw);
        }
        if (hl) {
                r = put_limit(&t, "memory.limit_in_bytes", limit, "linux.resources.memory.limit", err);
                if (r == -EBUSY)
                        return error_setx(err, EBUSY,
                                          "linux.resources.memory.limit: %" PRId64 " is below what the container uses "
                                          "now and the kernel could not reclaim enough",
                                          limit);
                if (r == -EINVAL && hs) {
                        error_clear(err);
                        if ((r = put_limit(&t, "memory.memsw.limit_in_bytes", swap, "linux.resources.memory.swap", err)) < 0 ||
                            (r = put_limit(&t, "memory.limit_in_bytes", limit, "linux.resources.memory.limit", err)) < 0)
                                return r;
                        hs = 0;
                } else if (r < 0)
                        return r;
        }
        if (hs && (r = put_limit(&t, "memory.memsw.limit_in_bytes", swap, "linux.resources.memory.swap", err)) < 0)
                return r;
        if (hr && (r = put_limit(&t, "memory.soft_limit_in_bytes", reservation, "linux.resources.memory.reservation", err)) < 0)
                return r;
        if (hk && (r = put_limit(&t, "memory.kmem.limit_in_bytes", kernel, "linux.resources.memory.kernel", err)) < 0)
                return r;
        if (ht && (r = put_limit(&t, "memory.kmem.tcp.limit_in_bytes", kernel_tcp, "linux.resources.memory.kernelTCP", err)) < 0)
                return r;
        if (hw && (r = put_u64(&t, "memory.swappiness", swappiness, "linux.resources.memory.swappiness", err)) < 0)
                return r;
        if (hu && (r = put(&t, "memory.use_hierarchy", use_hierarchy ? "1" : "0", "linux.resources.memory.useHierarchy", err)) < 0)
                return r;
        if (hd && disable_oom && (r = put(&t, "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller", err)) < 0)
                return r;
        return 0;
}

static int apply_cpu(json_t *paths, json_t *c, Error **err)
{
        const char *P = "linux.resources.cpu";
        Target t = cgroup_target(paths, "cpu"), cs = cgroup_target(paths, "cpuset");
        uint64_t shares = 0, period = 0, rt_period = 0, burst = 0;
        int64_t quota = 0, rt_runtime = 0, idle = 0;
        _cleanup_free_ char *cpus = NULL, *mems = NULL;
        int hs, hq, hp, hb, hrr, hrp, hi, hc, hm;
        int r;

        if ((hs = jx_uint64(c, P, "shares", false, &shares, err)) < 0 ||
            (hq = jx_int64(c, P, "quota", false, &quota, err)) < 0 ||
            (hp = jx_uint64(c, P, "period", false, &period, err)) < 0 ||
            (hb = jx_uint64(c, P, "burst", false, &burst, err)) < 0 ||
            (hrr = jx_int64(c, P, "realtimeRuntime", false, &rt_runtime, err)) < 0 ||
            (hrp = jx_uint64(c, P, "realtimePeriod", false, &rt_period, err)) < 0 ||
            (hi = jx_int64(c, P, "idle", false, &idle, err)) < 0 ||
            (hc = jx_string(c, P, "cpus", false, &cpus, err)) < 0 ||
            (hm = jx_string(c, P, "mems", false, &mems, err)) < 0)
                return -EINVAL;
        if (hs || hq || hp || hb || hrr || hrp || hi) {
                r = need(t, "cpu", P, err);
                if (r < 0)
                        return r;
        }
        if (t.v2) {
                if (hs && shares && (r = put_u64(&t, "cpu.weight", cgroup_shares_to_weight(shares), "linux.resources.cpu.shares", err)) < 0)
                        return r;
                if (hq || hp) {
                        /* cpu.max holds both: keep the half that is not being set ("max 100000" by default). */
                        _cleanup_free_ char *p = xasprintf("%s/cpu.max", t.dir), *cur = NULL;
                        char buf[64], cur_quota[24] = "max";
                        uint64_t cur_period = 100000;
                        if (read_file_at(AT_FDCWD, p, 64, &cur, NULL) == 0)
                                (void)sscanf(cur, "%23s %" SCNu64, cur_quota, &cur_period);
                        if (!hp || !period)
                                period = cur_period ? cur_period : 100000;
                        if (hq && quota > 0)
                                snprintf(buf, sizeof(buf), "%" PRId64 " %" PRIu64, quota, period);
                        else if (!hq && strspn(cur_quota, "0123456789") == strlen(cur_quota))
                                snprintf(buf, sizeof(buf), "%s %" PRIu64, cur_quota, period);
                        else
                                snprintf(buf, sizeof(buf), "max %" PRIu64, period);
                        if ((r = put(&t, "cpu.max", buf, "linux.resources.cpu.quota", err)) < 0)
                                return r;
                }
                if (hb && (r = put_u64(&t, "cpu.max.burst", burst, "linux.resources.cpu.burst", err)) < 0)
                        return r;
                if (hrr || hrp)
                        return error_setx(err, ENOTSUP, "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime controls");
        } else if (t.dir) {
                if (hs && shares && (r = put_u64(&t, "cpu.shares", shares, "linux.resources.cpu.shares", err)) < 0)
                        return r;
                /* The period first: a quota is checked against the current period. */
                if (hp && period && (r = put_u64(&t, "cpu.cfs_period_us", period, "linux.resources.cpu.period", err)) < 0)
                        return r;
                if (hq && quota && (r = put_limit(&t, "cpu.cfs_quota_us", quota, "linux.resources.cpu.quota", err)) < 0)
                        return r;
                if (hb && (r = put_u64(&t, "cpu.cfs_burst_us", burst, "linux.resources.cpu.burst", err)) < 0)
                        return r;
                if (hrp && rt_period && (r = put_u64(&t, "cpu.rt_period_us", rt_period, "linux.resources.cpu.realtimePeriod", err)) < 0)
                        return r;
                if (hrr && rt_runtime && (r = put_limit(&t, "cpu.rt_runtime_us", rt_runtime, "linux.resources.cpu.realtimeRuntime", err)) < 0)
                        return r;
        }
        if (hi && (r = put_u64(&t, "cpu.idle", idle ? 1 : 0, "linux.resources.cpu.idle", err)) < 0)
                return r;
        if ((hc && *cpus) || (hm && *mems)) {
                r = need(cs, "cpuset", "linux.resources.cpu.cpus", err);
                if (r < 0)
                        return r;
                if (hc && *cpus && (r = put(&cs, "cpuset.cpus", cpus, "linux.resources.cpu.cpus", err)) < 0)
                        return r;
                if (hm && *mems && (r = put(&cs, "cpuset.mems", mems, "linux.resources.cpu.mems", err)) < 0)
                        return r;
        }
        return 0;
}

static int apply_pids(json_t *paths, json_t *p, Error **err)
{
        Target t = cgroup_target(paths, "pids");
        int64_t limit = 0;
        int r = jx_int64(p, "linux.resources.pids", "limit", true, &limit, err);
        if (r < 0)
                return r;
        r = need(t, "pids", "linux.resources.pids", err);
        if (r < 0)
                return r;
        /* 0 or less means no limit (runtime-spec: "-1 means unlimited"; docker passes 0 too). */
        if (limit <= 0) {
                char m[] = "max";
                return put(&t, "pids.max", m, "linux.resources.pids.limit", err);
        }
        return put_u64(&t, "pids.max", (uint64_t)limit, "linux.resources.pids.limit", err);
}

static int apply_hugetlb(json_t *paths, json_t *arr, Error **err)
{
        Target t = cgroup_target(paths, "hugetlb");
        json_t *e;
        size_t i;
        int r;

        if (json_array_size(arr) == 0)
                return 0;
        r = need(t, "hugetlb", "linux.resources.hugepageLimits", err);
        if (r < 0)
                return r;
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *p = jx_path_index("linux.resources.hugepageLimits", i), *size = NULL, *file = NULL;
                uint64_t limit = 0;
                if (jx_string(e, p, "pageSize", true, &size, err) < 0 || jx_uint64(e, p, "limit", true, &limit, err) < 0)
                        return -EINVAL;
                if (strspn(size, "0123456789KMGB") != strlen(size))
                        return error_setx(err, EINVAL, "%s.pageSize: \"%s\" is not a page size", p, size);
                file = t.v2 ? xasprintf("hugetlb.%s.max", size) : xasprintf("hugetlb.%s.limit_in_bytes", size);
                r = put_u64(&t, file, limit, p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_devices(json_t *paths, json_t *arr, Error **err)
{
        Target t = cgroup_target(paths, "devices");
        _cleanup_free_ DevRule *rules = NULL;
        size_t n = 0;
        int r;

        if (json_array_size(arr) == 0)
                return 0;
        r = devices_parse(arr, &rules, &n, err);
        if (r < 0)
                return r;
        if (!t.dir) {
                json_t *v2 = json_object_get(paths, "");
                /* cgroup v2 has no devices controller: an eBPF program on the cgroup does its work. */
                if (json_is_string(v2))
                        return devices_bpf_apply(json_string_value(v2), rules, n, err);
                return need(t, "devices", "linux.resources.devices", err);
        }
        for (size_t i = 0; i < n + n_default_device_rules; i++) {
                const DevRule *d = i < n ? &rules[i] : &default_device_rules[i - n];
                _cleanup_free_ char *p = i < n ? jx_path_index("linux.resources.devices", i)
                                               : xstrdup("linux.resources.devices (default devices)");
                char rule[96];
                devices_rule_v1(d, rule, sizeof(rule));
                /* The devices every container gets (runtime-spec "Default Devices"), and the pty ones,
                 * stay usable whatever the config denied, as runc and crun also allow them. */
                r = put(&t, d->allow ? "devices.allow" : "devices.deny", rule, p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* blkio weight (10..1000) to io.weight (1..10000), as crun converts it. */
static uint64_t blkio_to_io_weight(uint64_t w)
{
        return 1 + ((w - 10) * 9999) / 990;
}

static int blk_devices(const Target *t, json_t *b, const char *key, const char *v1file, const char *v2key,
                       Error **err)
{
        json_t *arr = json_object_get(b, key), *e;
        size_t i;

        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return error_setx(err, EINVAL, "linux.resources.blockIO.%s: expected an array", key);
        json_array_foreach (arr, i, e) {
                _cleanup_free_ char *base = xasprintf("linux.resources.blockIO.%s", key);
                _cleanup_free_ char *p = jx_path_index(base, i);
                int64_t major = 0, minor = 0;
                uint64_t rate = 0;
                char buf[96];
                int r;
                if (jx_int64(e, p, "major", true, &major, err) < 0 || jx_int64(e, p, "minor", true, &minor, err) < 0 ||
                    jx_uint64(e, p, "rate", true, &rate, err) < 0)
                        return -EINVAL;
                if (t->v2)
                        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, major, minor, v2key, rate);
                else
                        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor, rate);
                r = put(t, t->v2 ? "io.max" : v1file, buf, p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_blkio(json_t *paths, json_t *b, Error **err)
{
        const char *P = "linux.resources.blockIO";
        Target t = cgroup_target(paths, "blkio");
        uint64_t weight = 0, leaf = 0;
        json_t *wd, *e;
        size_t i;
        int hw, hl, r;

        if (!t.dir)
                t = cgroup_target(paths, "io");
        if ((hw = jx_uint64(b, P, "weight", false, &weight, err)) < 0 ||
            (hl = jx_uint64(b, P, "leafWeight", false, &leaf, err)) < 0)
                return -EINVAL;
        /* 0 is "not set", as runc reads it: dockerd 20.10 writes "blockIO": {"weight": 0} into every config. */
        hw = hw && weight != 0;
        hl = hl && leaf != 0;
        if (!hw && !hl && json_array_size(json_object_get(b, "weightDevice")) == 0 &&
            json_array_size(json_object_get(b, "throttleReadBpsDevice")) == 0 &&
            json_array_size(json_object_get(b, "throttleWriteBpsDevice")) == 0 &&
            json_array_size(json_object_get(b, "throttleReadIOPSDevice")) == 0 &&
            json_array_size(json_object_get(b, "throttleWriteIOPSDevice")) == 0)
                return 0;
        r = need(t, "blkio (io)", P, err);
        if (r < 0)
                return r;
        if (hw && (weight < 10 || weight > 1000))
                return error_setx(err, EINVAL, "%s.weight: %" PRIu64 " is outside 10..1000", P, weight);
        if (hw) {
                if (t.v2) {
                        char buf[48];
                        snprintf(buf, sizeof(buf), "default %" PRIu64, blkio_to_io_weight(weight));
                        r = put(&t, "io.weight", buf, "linux.resources.blockIO.weight", err);
                        if (r == -ENOTSUP) {
                                error_clear(err);
                                r = put_u64(&t, "io.bfq.weight", weight, "linux.resources.blockIO.weight", err);
                        }
                } else {
                        r = put_u64(&t, "blkio.weight", weight, "linux.resources.blockIO.weight", err);
                        if (r == -ENOTSUP) {
                                error_clear(err);
                                r = put_u64(&t, "blkio.bfq.weight", weight, "linux.resources.blockIO.weight", err);
                        }
                }
                if (r < 0)
                        return r;
        }
        if (hl) {
                if (t.v2)
                        return error_setx(err, ENOTSUP, "%s.leafWeight: cgroup v2 has no leaf weight", P);
                r = put_u64(&t, "blkio.leaf_weight", leaf, "linux.resources.blockIO.leafWeight", err);
                if (r < 0)
                        return r;
        }
        wd = json_object_get(b, "weightDevice");
        json_array_foreach (wd, i, e) {
                _cleanup_free_ char *p = jx_path_index("linux.resources.blockIO.weightDevice", i);
                int64_t major = 0, minor = 0;
                uint64_t w = 0;
                char buf[96];
                if (jx_int64(e, p, "major", true, &major, err) < 0 || jx_int64(e, p, "minor", true, &minor, err) < 0 ||
                    jx_uint64(e, p, "weight", false, &w, err) < 0)
                        return -EINVAL;
                if (!w)
                        continue;
                snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor,
                         t.v2 ? blkio_to_io_weight(w) : w);
                r = put(&t, t.v2 ? "io.weight" : "blkio.weight_device", buf, p, err);
                if (r < 0)
                        return r;
        }
        if ((r = blk_devices(&t, b, "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps", err)) < 0 ||
            (r = blk_devices(&t, b, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps", err)) < 0 ||
            (r = blk_devices(&t, b, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops", err)) < 0 ||
            (r = blk_devices(&t, b, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops", err)) < 0)
                return r;
        return 0;
}

static int apply_network(json_t *paths, json_t *n, Error **err)
{
        const char *P = "linux.resources.network";
        uint32_t classid = 0;
        json_t *prios = NULL, *e;
        size_t i;
        int hc, r;

        if ((hc = jx_uint32(n, P, "classID", false, &classid, err)) < 0 || jx_array(n, P, "priorities", false, &prios, err) < 0)
                return -EINVAL;
        if (hc) {
                Target t = cgroup_target(paths, "net_cls");
                if ((r = need(t, "net_cls", "linux.resources.network.classID", err)) < 0 ||
                    (r = put_u64(&t, "net_cls.classid", classid, "linux.resources.network.classID", err)) < 0)
                        return r;
        }
        if (json_array_size(prios) == 0)
                return 0;
        Target t = cgroup_target(paths, "net_prio");
        if ((r = need(t, "net_prio", "linux.resources.network.priorities", err)) < 0)
                return r;
        json_array_foreach (prios, i, e) {
                _cleanup_free_ char *p = jx_path_index("linux.resources.network.priorities", i), *name = NULL;
                uint32_t prio = 0;
                char buf[64];
                if (jx_string(e, p, "name", true, &name, err) < 0 || jx_uint32(e, p, "priority", true, &prio, err) < 0)
                        return -EINVAL;
                if (strlen(name) > 15 || strpbrk(name, " /\n"))
                        return error_setx(err, EINVAL, "%s.name: \"%s\" is not an interface name", p, name);
                snprintf(buf, sizeof(buf), "%s %u", name, prio);
                if ((r = put(&t, "net_prio.ifpriomap", buf, p, err)) < 0)
                        return r;
        }
        return 0;
}

static int apply_unified(json_t *paths, json_t *u, Error **err)
{
        json_t *dir = json_object_get(paths, "");
        const char *k;
        json_t *v;

        if (json_object_size(u) == 0)
                return 0;
        if (!json_is_string(dir))
                return error_setx(err, ENOTSUP, "linux.resources.unified: this host has no cgroup v2 hierarchy");
        Target t = { json_string_value(dir), true };
        json_object_foreach (u, k, v) {
                _cleanup_free_ char *p = jx_path("linux.resources.unified", k);
                if (!json_is_string(v))
                        return error_setx(err, EINVAL, "%s: expected a string", p);
                if (!*k || strchr(k, '/') || k[0] == '.')
                        return error_setx(err, EINVAL, "%s: not a cgroup file name", p);
                int r = put(&t, k, json_string_value(v), p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_apply_resources(json_t *paths, json_t *res, Error **err)
{
        json_t *o;
        int r;

        if (!res)
                return 0;
        if ((o = json_object_get(res, "memory")) && (r = apply_memory(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "cpu")) && (r = apply_cpu(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "pids")) && (r = apply_pids(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "hugepageLimits")) && (r = apply_hugetlb(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "devices")) && (r = apply_devices(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "blockIO")) && json_object_size(o) && (r = apply_blkio(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "network")) && (r = apply_network(paths, o, err)) < 0)
                return r;
        if ((o = json_object_get(res, "rdma")) && json_object_size(o))
                return error_setx(err, ENOTSUP, "linux.resources.rdma: the rdma controller is not supported");
        if ((o = json_object_get(res, "unified")) && (r = apply_unified(paths, o, err)) < 0)
                return r;
        return 0;
}
