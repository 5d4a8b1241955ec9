/* SPDX-License-Identifier: GPL-2.0-or-later */
/* update, pause, resume, events */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "container.h"
#include "json-util.h"
#include "util.h"

/* Sets obj[key] from a flag's text: a size ("64m", "-1") or a plain integer. */
static int flag_number(json_t *obj, const char *key, const char *flag, const char *text, bool size, bool allow_neg,
                       Error **err)
{
        int64_t v;
        int r;

        if (!text)
                return 0;
        r = size ? parse_size(text, &v) : parse_int64(text, &v);
        if (r < 0)
                return error_setx(err, EINVAL, "update: --%s: \"%s\" is not %s", flag, text,
                                  size ? "a size (bytes, or with a k, m, g or t suffix, or -1)" : "an integer");
        if (v < 0 && !(allow_neg && v == -1))
                return error_setx(err, EINVAL, "update: --%s: %s must not be negative", flag, text);
        json_object_set_new(obj, key, json_integer(v));
        return 0;
}

int cmd_update(int argc, char **argv)
{
        const char *resources = NULL, *blkio_weight = NULL, *cpu_period = NULL, *cpu_quota = NULL, *cpu_share = NULL,
                   *rt_period = NULL, *rt_runtime = NULL, *cpuset_cpus = NULL, *cpuset_mems = NULL, *memory = NULL,
                   *reservation = NULL, *swap = NULL, *pids = NULL, *l3 = NULL, *membw = NULL, *kmem = NULL,
                   *kmem_tcp = NULL;
        const CliFlag flags[] = {
                { "resources", 'r', CLI_STRING, &resources, "a JSON file of linux.resources to apply ('-': stdin)" },
                { "blkio-weight", 0, CLI_STRING, &blkio_weight, "block IO weight, 10 to 1000" },
                { "cpu-period", 0, CLI_STRING, &cpu_period, "CFS period (microseconds)" },
                { "cpu-quota", 0, CLI_STRING, &cpu_quota, "CFS quota per period (microseconds; -1: none)" },
                { "cpu-share", 0, CLI_STRING, &cpu_share, "CPU shares (relative weight)" },
                { "cpu-rt-period", 0, CLI_STRING, &rt_period, "realtime period (microseconds)" },
                { "cpu-rt-runtime", 0, CLI_STRING, &rt_runtime, "realtime runtime per period (microseconds)" },
                { "cpuset-cpus", 0, CLI_STRING, &cpuset_cpus, "CPUs to run on (0-3,5)" },
                { "cpuset-mems", 0, CLI_STRING, &cpuset_mems, "memory nodes to use" },
                { "memory", 0, CLI_STRING, &memory, "memory limit (bytes, or 64m, 1g; -1: none)" },
                { "memory-reservation", 0, CLI_STRING, &reservation, "memory soft limit" },
                { "memory-swap", 0, CLI_STRING, &swap, "memory+swap limit (-1: unlimited swap)" },
                { "kernel-memory", 0, CLI_STRING, &kmem, "kernel memory limit (cgroup v1)" },
                { "kernel-memory-tcp", 0, CLI_STRING, &kmem_tcp, "kernel TCP buffer limit (cgroup v1)" },
                { "pids-limit", 0, CLI_STRING, &pids, "maximum number of tasks (0 or -1: none)" },
                { "l3-cache-schema", 0, CLI_STRING, &l3, "Intel RDT L3 cache schema (not supported)" },
                { "mem-bw-schema", 0, CLI_STRING, &membw, "Intel RDT memory bandwidth schema (not supported)" },
                { NULL, 0, 0, NULL, NULL },
        };
        _cleanup_json_ json_t *res = NULL;
        const char *id;
        Error *err = NULL;
        int i, r;

        r = cmd_simple(argc, argv, "[options] CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (i < argc)
                return fail((error_setx(&err, EINVAL, "update: unexpected argument \"%s\"", argv[i]), err));
        if (l3 || membw)
                return fail((error_setx(&err, ENOTSUP, "update: --%s: Intel RDT is not supported by this runtime",
                                        l3 ? "l3-cache-schema" : "mem-bw-schema"), err));
        if (resources) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (blkio_weight || cpu_period || cpu_quota || cpu_share || rt_period || rt_runtime || cpuset_cpus ||
                    cpuset_mems || memory || reservation || swap || pids || kmem || kmem_tcp)
                        return fail((error_setx(&err, EINVAL,
                                                "update: --resources replaces the other flags: give one or the other"),
                                     err));
                r = STREQ(resources, "-") ? read_all_fd(STDIN_FILENO, 16 << 20, &text, &len)
                                          : read_file_at(AT_FDCWD, resources, 16 << 20, &text, &len);
                if (r < 0)
                        return fail((error_set(&err, -r, "update: --resources %s", resources), err));
                if (jx_parse(text, len, STREQ(resources, "-") ? "update: resources from stdin" : resources, &res, &err) < 0)
                        return fail(err);
                if (!json_is_object(res))
                        return fail((error_setx(&err, EINVAL, "update: --resources %s: expected a JSON object", resources),
                                     err));
        } else {
                res = json_object();
                json_t *mem = json_object(), *cpu = json_object(), *blk = json_object(), *pid = json_object();
                if (flag_number(mem, "limit", "memory", memory, true, true, &err) < 0 ||
                    flag_number(mem, "reservation", "memory-reservation", reservation, true, true, &err) < 0 ||
                    flag_number(mem, "swap", "memory-swap", swap, true, true, &err) < 0 ||
                    flag_number(mem, "kernel", "kernel-memory", kmem, true, true, &err) < 0 ||
                    flag_number(mem, "kernelTCP", "kernel-memory-tcp", kmem_tcp, true, true, &err) < 0 ||
                    flag_number(cpu, "shares", "cpu-share", cpu_share, false, false, &err) < 0 ||
                    flag_number(cpu, "quota", "cpu-quota", cpu_quota, false, true, &err) < 0 ||
                    flag_number(cpu, "period", "cpu-period", cpu_period, false, false, &err) < 0 ||
                    flag_number(cpu, "realtimeRuntime", "cpu-rt-runtime", rt_runtime, false, true, &err) < 0 ||
                    flag_number(cpu, "realtimePeriod", "cpu-rt-period", rt_period, false, false, &err) < 0 ||
                    flag_number(blk, "weight", "blkio-weight", blkio_weight, false, false, &err) < 0 ||
                    flag_number(pid, "limit", "pids-limit", pids, false, true, &err) < 0) {
                        json_decref(mem), json_decref(cpu), json_decref(blk), json_decref(pid);
                        return fail(err);
                }
                if (cpuset_cpus)
                        json_object_set_new(cpu, "cpus", json_string(cpuset_cpus));
                if (cpuset_mems)
                        json_object_set_new(cpu, "mems", json_string(cpuset_mems));
                if (json_object_size(mem))
                        json_object_set(res, "memory", mem);
                if (json_object_size(cpu))
                        json_object_set(res, "cpu", cpu);
                if (json_object_size(blk))
                        json_object_set(res, "blockIO", blk);
                if (json_object_size(pid))
                        json_object_set(res, "pids", pid);
                json_decref(mem), json_decref(cpu), json_decref(blk), json_decref(pid);
                if (json_object_size(res) == 0)
                        return fail((error_setx(&err, EINVAL, "update: nothing to update: give --resources or a limit flag"),
                                     err));
        }
        return container_update(arg_root, id, res, &err) < 0 ? fail(err) : 0;
}

static int pause_or_resume(int argc, char **argv, bool pause)
{
        const CliFlag flags[] = { { NULL, 0, 0, NULL, NULL } };
        const char *id;
        Error *err = NULL;
        int i, r;

        r = cmd_simple(argc, argv, "CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (i < argc)
                return fail((error_setx(&err, EINVAL, "%s: unexpected argument \"%s\"", argv[0], argv[i]), err));
        return container_pause(arg_root, id, pause, &err) < 0 ? fail(err) : 0;
}

int cmd_pause(int argc, char **argv)
{
        return pause_or_resume(argc, argv, true);
}

int cmd_resume(int argc, char **argv)
{
        return pause_or_resume(argc, argv, false);
}

int cmd_events(int argc, char **argv)
{
        const char *interval = "5s";
        bool stats = false;
        const CliFlag flags[] = {
                { "interval", 0, CLI_STRING, &interval, "time between stats events (Go duration, default 5s)" },
                { "stats", 0, CLI_BOOL, &stats, "print the container's stats once and exit" },
                { NULL, 0, 0, NULL, NULL },
        };
        EventsOpts o = { 0 };
        const char *id;
        Error *err = NULL;
        int64_t ms = 0;
        int i, r;

        r = cmd_simple(argc, argv, "[--stats] [--interval 5s] CONTAINER_ID", flags, &id, &i);
        if (r)
                return r < 0 ? 0 : r;
        if (i < argc)
                return fail((error_setx(&err, EINVAL, "events: unexpected argument \"%s\"", argv[i]), err));
        if (parse_duration_ms(interval, &ms) < 0 || ms <= 0 || ms > INT32_MAX)
                return fail((error_setx(&err, EINVAL, "events: --interval: \"%s\" is not a positive duration (5s, 500ms)",
                                        interval), err));
        o.stats_once = stats;
        o.interval_ms = (int)ms;
        return container_events(arg_root, id, &o, &err) < 0 ? fail(err) : 0;
}
