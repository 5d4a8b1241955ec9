#!/bin/bash
# What the runtime does to a live container's cgroups: update, pause/resume, events (stats and OOM),
# OOM reporting, and the device filter (v1 rules, or the eBPF program on cgroup v2).  Works on cgroup
# v1, hybrid and pure v2 hosts (tests/integration/test-vm-cgroup2.sh runs it in a v2 guest).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cgroup-lib.sh"

MIB=$((1024 * 1024))

mem_limit_file() {
        if is_v2 "$1"; then echo memory.max; else echo memory.limit_in_bytes; fi
}

# The counter a container writes to /tmp/n every 50 ms: progress that stops when it is frozen.
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/dev/shm/n; usleep 50000; done'

counter_of() {
        cat "/proc/$(state_of "$1" pid)/root/dev/shm/n" 2>/dev/null || echo none
}

t_update_memory() {
        need_ctrl memory
        new_bundle up-mem
        cfg up-mem '.linux.resources.memory = {limit: 33554432}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local d f
        d=$(ctr_cg_dir "$CID" memory)
        f=$(mem_limit_file "$d")
        assert_eq "$(cat "$d/$f")" $((32 * MIB)) "$f at create"
        in_ctr "$CID" /init memhog 48
        assert_status 137 "48 MiB in a container limited to 32 MiB is OOM-killed"
        rt update --memory 96m "$CID"
        assert_success
        assert_eq "$(cat "$d/$f")" $((96 * MIB)) "$f raised by update"
        # memhog holds its memory once allocated: the line says it got all of it.
        in_ctr "$CID" /bin/sh -c 'timeout 5 /init memhog 48; echo done'
        assert_success
        assert_output_contains "allocated 48 MiB"
        rt update --memory 16m "$CID"
        assert_success
        assert_eq "$(cat "$d/$f")" $((16 * MIB)) "$f lowered by update"
        in_ctr "$CID" /init memhog 24
        assert_status 137 "24 MiB after lowering the limit to 16 MiB is OOM-killed"
        assert_eq "$(jq .linux.resources.memory.limit "$STATE_ROOT/$CID/config.json")" $((16 * MIB)) \
                "the stored config follows the update"
        rt delete --force "$CID"
        assert_success
}

t_update_pids_and_resources_file() {
        need_ctrl pids
        new_bundle up-pids
        cfg up-pids '.linux.resources.pids = {limit: 6}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        in_ctr "$CID" /init forkbomb 40
        local forks
        forks=$(sed -n 's/^forks=//p' <<<"$output")
        [ -n "$forks" ] && [ "$forks" -lt 6 ] || fail "forks=$forks under pids.limit 6"
        echo '{"pids": {"limit": 42}}' >"$WORK/res.json"
        rt update --resources "$WORK/res.json" "$CID"
        assert_success
        assert_eq "$(cg_read "$CID" pids pids.max)" 42 "pids.max from --resources FILE"
        "${RT[@]}" update -r - "$CID" <<<'{"pids": {"limit": 50}}' || fail "update -r - failed"
        assert_eq "$(cg_read "$CID" pids pids.max)" 50 "pids.max from --resources - (stdin)"
        in_ctr "$CID" /init forkbomb 30
        assert_success
        assert_output_contains "forks=30"
        rt update --pids-limit -1 "$CID"
        assert_success
        assert_eq "$(cg_read "$CID" pids pids.max)" max "--pids-limit -1 lifts the limit"
        rt delete --force "$CID"
}

t_update_cpu() {
        need_ctrl cpu
        new_bundle up-cpu
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local d
        d=$(ctr_cg_dir "$CID" cpu)
        rt update --cpu-quota 20000 --cpu-period 100000 --cpu-share 512 "$CID"
        assert_success
        if is_v2 "$d"; then
                assert_eq "$(cat "$d/cpu.max")" "20000 100000" "cpu.max"
                assert_eq "$(cat "$d/cpu.weight")" 20 "cpu.weight from 512 shares"
        else
                assert_eq "$(cat "$d/cpu.cfs_quota_us")" 20000 "cpu.cfs_quota_us"
                assert_eq "$(cat "$d/cpu.cfs_period_us")" 100000 "cpu.cfs_period_us"
                assert_eq "$(cat "$d/cpu.shares")" 512 "cpu.shares"
        fi
        # A new quota alone keeps the period; -1 lifts it.
        rt update --cpu-quota 50000 "$CID"
        assert_success
        if is_v2 "$d"; then
                assert_eq "$(cat "$d/cpu.max")" "50000 100000" "cpu.max keeps its period"
        else
                assert_eq "$(cat "$d/cpu.cfs_quota_us")" 50000 "cpu.cfs_quota_us"
        fi
        rt update --cpu-quota -1 "$CID"
        assert_success
        if is_v2 "$d"; then
                assert_eq "$(cat "$d/cpu.max")" "max 100000" "cpu.max without a quota"
        else
                assert_eq "$(cat "$d/cpu.cfs_quota_us")" -1 "cpu.cfs_quota_us without a quota"
        fi
        rt update --cpuset-cpus 0 "$CID"
        assert_success
        assert_eq "$(cg_read "$CID" cpuset cpuset.cpus)" 0 "cpuset.cpus"
        rt delete --force "$CID"
}

t_update_errors() {
        rt update --memory 64m "nosuch-$RUN_TAG"
        assert_failure
        assert_output_contains "container \"nosuch-$RUN_TAG\" does not exist"
        new_bundle up-err
        cfg up-err '.linux.resources.memory = {limit: 33554432, swap: 33554432}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt update --memory lots "$CID"
        assert_failure
        assert_output_contains '--memory: "lots" is not a size'
        rt update --pids-limit x "$CID"
        assert_failure
        assert_output_contains '--pids-limit: "x" is not an integer'
        rt update --memory 64m --resources /dev/null "$CID"
        assert_failure
        assert_output_contains "--resources replaces the other flags"
        echo '{"memory": {"limit": "big"}}' >"$WORK/bad.json"
        rt update -r "$WORK/bad.json" "$CID"
        assert_failure
        assert_output_contains "linux.resources.memory.limit: expected an integer"
        echo '{"memory": ' >"$WORK/broken.json"
        rt update -r "$WORK/broken.json" "$CID"
        assert_failure
        assert_output_contains "$WORK/broken.json: invalid JSON"
        rt update "$CID"
        assert_failure
        assert_output_contains "nothing to update"
        rt update --l3-cache-schema "L3:0=f" "$CID"
        assert_failure
        assert_output_contains "Intel RDT is not supported"
        local d
        d=$(ctr_cg_dir "$CID" memory)
        if ! is_v2 "$d"; then
                # v1 keeps memory <= memory+swap: raising one alone is refused with the way out.
                rt update --memory 64m "$CID"
                assert_failure
                assert_output_contains "above the memory+swap limit 33554432"
                assert_eq "$(cat "$d/memory.limit_in_bytes")" $((32 * MIB)) "the limit is unchanged after the refusal"
                rt update --memory 64m --memory-swap 64m "$CID"
                assert_success
                assert_eq "$(cat "$d/memory.memsw.limit_in_bytes")" $((64 * MIB)) "memsw raised first"
        fi
        rt kill "$CID" KILL
        wait_status "$CID" stopped
        rt update --memory 64m "$CID"
        assert_failure
        assert_output_contains "is stopped"
        rt delete "$CID"
        assert_success
}

t_pause_resume() {
        new_bundle pz /bin/sh -c "$COUNTER"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local a b d
        for _ in $(seq 50); do [ "$(counter_of "$CID")" != none ] && break; sleep 0.1; done
        rt pause "$CID"
        assert_success
        assert_eq "$(state_of "$CID")" paused "state after pause"
        d=$(cg_dir "$(state_of "$CID" pid)" freezer)
        if [ -n "$d" ]; then
                assert_eq "$(cat "$d/freezer.state")" FROZEN "v1 freezer.state"
        else
                d=$(cg2_dir "$(state_of "$CID" pid)")
                assert_eq "$(key_of "$d/cgroup.events" frozen)" 1 "cgroup.events frozen"
        fi
        a=$(counter_of "$CID")
        sleep 0.6
        b=$(counter_of "$CID")
        assert_eq "$b" "$a" "no progress while paused"
        in_ctr "$CID" /init true
        assert_failure
        assert_output_contains "is paused"
        rt pause "$CID"
        assert_failure
        assert_output_contains "only a running container can be paused"
        rt resume "$CID"
        assert_success
        assert_eq "$(state_of "$CID")" running "state after resume"
        # The file is empty when the freeze caught the shell between truncating and writing it.
        local c=""
        for _ in $(seq 30); do
                sleep 0.1
                c=$(counter_of "$CID")
                [ -n "$c" ] && [ "$c" != none ] && [ "$c" -gt "${b:-0}" ] && break
        done
        [ -n "$c" ] && [ "$c" != none ] && [ "$c" -gt "${b:-0}" ] || fail "no progress after resume ($c vs $b)"
        rt resume "$CID"
        assert_failure
        assert_output_contains "not paused"
        # A paused container can still be killed and deleted.
        rt pause "$CID"
        assert_success
        rt delete --force "$CID"
        assert_success
        [ -z "$(state_of "$CID")" ] || fail "the container is still there"
}

t_kill_paused() {
        new_bundle pz-kill
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt pause "$CID"
        assert_success
        rt kill "$CID" KILL
        assert_success
        wait_status "$CID" stopped 5
        rt delete "$CID"
        assert_success
}

t_pause_created() {
        new_bundle pz-created
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt pause "$CID"
        assert_failure
        assert_output_contains "is created: only a running container can be paused"
        rt delete --force "$CID"
}

t_events_stats() {
        need_ctrl memory pids
        new_bundle ev-stats
        cfg ev-stats '.linux.resources.memory = {limit: 67108864} | .linux.resources.pids = {limit: 50}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt events --stats "$CID"
        assert_success
        assert_eq "$(wc -l <"$RT_OUT")" 1 "one line"
        jq -e --arg id "$CID" '.type == "stats" and .id == $id' "$RT_OUT" >/dev/null || fail "not a stats event"
        assert_eq "$(jq .data.memory.usage.limit "$RT_OUT")" 67108864 "memory limit in the stats"
        assert_eq "$(jq .data.pids.limit "$RT_OUT")" 50 "pids limit in the stats"
        jq -e '.data.pids.current >= 1 and .data.memory.usage.usage > 0 and .data.cpu.usage.total > 0' "$RT_OUT" \
                >/dev/null || fail "usage figures missing"
        jq -e '.data | has("blkio") and has("hugetlb") and has("intel_rdt") and (.network_interfaces == null)' "$RT_OUT" \
                >/dev/null || fail "runc's keys missing"
        rt delete --force "$CID"
}

t_events_oom() {
        need_ctrl memory
        new_bundle ev-oom /bin/sh -c 'sleep 1; /init memhog 100; sleep 0.5'
        cfg ev-oom '.linux.resources.memory = {limit: 33554432}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$WORK/events.out rc=0
        timeout 30 "${RT[@]}" events --interval 200ms "$CID" >"$out" 2>"$WORK/events.err" || rc=$?
        cat "$WORK/events.err" >&2
        assert_eq "$rc" 0 "events ends (status 0) when the container stops"
        grep -qx "{\"type\":\"oom\",\"id\":\"$CID\"}" "$out" || fail "no oom event: $(cut -c1-60 "$out" | tr '\n' '|')"
        [ "$(grep -c '"type":"stats"' "$out")" -ge 2 ] || fail "fewer than 2 stats events at a 200ms interval"
        rt delete "$CID"
        assert_success
}

t_events_errors() {
        new_bundle ev-err
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt events --interval soon "$CID"
        assert_failure
        assert_output_contains '--interval: "soon" is not a positive duration'
        rt events --stats "nosuch-$RUN_TAG"
        assert_failure
        assert_output_contains "does not exist"
        rt kill "$CID" KILL
        wait_status "$CID" stopped
        rt events --stats "$CID"
        assert_failure
        assert_output_contains "is not running"
        rt delete "$CID"
}

t_run_reports_oom() {
        need_ctrl memory
        new_bundle run-oom /init memhog 100
        cfg run-oom '.linux.resources.memory = {limit: 33554432}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_status 137
        assert_output_contains "the kernel's OOM killer killed 1 process: the memory limit was reached"
}

t_device_filter() {
        # The default spec denies every device but the defaults: v1 devices.deny/allow, or on cgroup
        # v2 the eBPF program.  /dev/kmsg (c 1:11) is created in the container; opening it write-only
        # needs no capability, so only the device filter can refuse it.
        new_bundle dev-filter /bin/sh -c 'echo x >/dev/null && echo null-ok; head -c 1 /dev/zero | wc -c;
                echo stockade-device-test >/dev/kmsg2 || echo write-refused; echo x >/dev/full'
        cfg dev-filter '.linux.devices = [{path: "/dev/kmsg2", type: "c", major: 1, minor: 11}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "null-ok"
        assert_output_contains "/dev/kmsg2: Operation not permitted"
        assert_output_contains "write-refused"
        # /dev/full is a default device: it opens (and the write fails with ENOSPC, not EPERM)
        assert_output_contains "No space left on device"
        # Allowed for writing: it opens.
        new_bundle dev-w /bin/sh -c 'echo stockade-device-test >/dev/kmsg2 && echo write-ok'
        cfg dev-w '.linux.devices = [{path: "/dev/kmsg2", type: "c", major: 1, minor: 11}]
                | .linux.resources.devices += [{allow: true, type: "c", major: 1, minor: 11, access: "w"}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "write-ok"
        # Allowed for reading only: writing is still refused.
        new_bundle dev-r /bin/sh -c 'echo stockade-device-test >/dev/kmsg2 || echo write-refused'
        cfg dev-r '.linux.devices = [{path: "/dev/kmsg2", type: "c", major: 1, minor: 11}]
                | .linux.resources.devices += [{allow: true, type: "c", major: 1, minor: 11, access: "r"}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "write-refused"
}

run_test "update raises and lowers the memory limit of a running container" t_update_memory
run_test "update --pids-limit, --resources FILE and --resources - (stdin)" t_update_pids_and_resources_file
run_test "update cpu quota, period, shares and cpuset" t_update_cpu
run_test "update errors name the flag or field and change nothing" t_update_errors
run_test "pause freezes every process, resume thaws them" t_pause_resume
run_test "kill KILL of a paused container stops it" t_kill_paused
run_test "pause of a created container is refused" t_pause_created
run_test "events --stats prints runc's stats JSON" t_events_stats
run_test "events reports an OOM kill and ends with the container" t_events_oom
run_test "events errors" t_events_errors
run_test "run says when the OOM killer killed the process" t_run_reports_oom
run_test "device filter: defaults usable, others denied, read-only allowed" t_device_filter
finish
