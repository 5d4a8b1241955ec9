#!/bin/bash
# linux.resources: limits land in the container's cgroups and are enforced.
source "$(dirname "$0")/lib.sh"

# v1_mount CONTROLLER: the host mount point of a cgroup v1 hierarchy with CONTROLLER.
v1_mount() {
        awk -v c="$1" '{
                for (i = 7; $i != "-"; i++) ;
                if ($(i + 1) != "cgroup") next
                n = split($(i + 3), a, ",")
                for (k = 1; k <= n; k++) if (a[k] == c) { print $5; exit }
        }' /proc/self/mountinfo
}

# cg_file PID CONTROLLER FILE: the host path of FILE in PID's v1 cgroup of CONTROLLER.
cg_file() {
        local rel
        rel=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup")
        echo "$(v1_mount "$2")$rel/$3"
}

need_v1() {
        [ -n "$(v1_mount "$1")" ] || skip "no cgroup v1 $1 hierarchy on this host"
}

t_memory_limit() {
        need_v1 memory
        new_bundle rs-mem
        cfg rs-mem '.linux.resources.memory = {limit: 67108864}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid f
        pid=$(state_of "$CID" pid)
        f=$(cg_file "$pid" memory memory.limit_in_bytes)
        assert_eq "$(cat "$f")" 67108864 "memory.limit_in_bytes of the container"
        rt delete --force "$CID"
        # Enforced: 200 MiB do not fit in 64.
        new_bundle rs-memhog /init memhog 200
        cfg rs-memhog '.linux.resources.memory = {limit: 67108864}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_status 137 "a process above its memory limit is OOM-killed"
}

t_pids_limit() {
        need_v1 pids
        new_bundle rs-pids /init forkbomb 50
        cfg rs-pids '.linux.resources.pids = {limit: 10}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local forks
        forks=$(sed -n 's/^forks=//p' <<<"$output")
        [ -n "$forks" ] && [ "$forks" -lt 10 ] || fail "forks=$forks under pids.limit 10"
        assert_output_contains "errno=EAGAIN"
        new_bundle rs-pids2
        cfg rs-pids2 '.linux.resources.pids = {limit: 10}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(cat "$(cg_file "$(state_of "$CID" pid)" pids pids.max)")" 10 "pids.max"
        rt delete --force "$CID"
}

t_cpu() {
        need_v1 cpu
        new_bundle rs-cpu
        cfg rs-cpu '.linux.resources.cpu = {shares: 512, quota: 50000, period: 100000}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        assert_eq "$(cat "$(cg_file "$pid" cpu cpu.shares)")" 512 "cpu.shares"
        assert_eq "$(cat "$(cg_file "$pid" cpu cpu.cfs_quota_us)")" 50000 "cpu.cfs_quota_us"
        assert_eq "$(cat "$(cg_file "$pid" cpu cpu.cfs_period_us)")" 100000 "cpu.cfs_period_us"
        rt delete --force "$CID"
}

t_cpuset() {
        need_v1 cpuset
        new_bundle rs-cpuset /bin/sh -c 'grep Cpus_allowed_list /proc/self/status'
        cfg rs-cpuset '.linux.resources.cpu = {cpus: "0"}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$output" 'Cpus_allowed_list:[[:space:]]+0$' "the container's cpus"
}

t_devices_cgroup() {
        need_v1 devices
        # The default spec denies every device; the default ones stay usable.
        new_bundle rs-dev /bin/sh -c 'echo x >/dev/null && echo null-ok; head -c 1 /dev/zero | wc -c; /init cat /dev/myblk'
        cfg rs-dev '.linux.devices = [{path: "/dev/myblk", type: "b", major: 7, minor: 0}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "null-ok"
        assert_output_contains "/dev/myblk: Operation not permitted"
}

t_resources_errors() {
        new_bundle rs-bad-swappiness /init true
        cfg rs-bad-swappiness '.linux.resources.memory = {swappiness: 200}'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.resources.memory.swappiness: 200 is above 100"
        assert_nothing_left "$CID"
        new_bundle rs-bad-swap /init true
        cfg rs-bad-swap '.linux.resources.memory = {limit: 67108864, swap: 1048576}'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.resources.memory.swap: 1048576 (memory+swap) is below the memory limit 67108864"
        assert_nothing_left "$CID"
        new_bundle rs-bad-dev /init true
        cfg rs-bad-dev '.linux.resources.devices += [{allow: true, type: "z", access: "rwm"}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.resources.devices[1].type: "z" is not a, b or c'
        assert_nothing_left "$CID"
        new_bundle rs-rdma /init true
        cfg rs-rdma '.linux.resources.rdma = {mlx5_0: {hcaHandles: 3}}'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.resources.rdma: the rdma controller is not supported"
        assert_nothing_left "$CID"
}

t_cgroups_path() {
        new_bundle rs-cgpath
        cfg rs-cgpath '.linux.cgroupsPath = ("stockade-it-" + $t + "/" + $id)' --arg t "$RUN_TAG" --arg id "$CID"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        grep -q "stockade-it-$RUN_TAG/$CID\$" "/proc/$pid/cgroup" || fail "cgroupsPath not used: $(cat "/proc/$pid/cgroup")"
        rt delete --force "$CID"
        assert_success
        # The container's own directory is gone (the parent made for it may stay, as with runc).
        [ -z "$(cgroups_of "$CID")" ] || fail "cgroups left: $(cgroups_of "$CID")"
        find /sys/fs/cgroup/*/ -maxdepth 6 -depth -type d -name "stockade-it-$RUN_TAG" -exec rmdir {} \; 2>/dev/null || true
}

run_test "memory.limit lands in memory.limit_in_bytes and is enforced (OOM kill)" t_memory_limit
run_test "pids.limit lands in pids.max and stops a fork bomb" t_pids_limit
run_test "cpu shares, quota and period" t_cpu
run_test "cpuset cpus" t_cpuset
run_test "devices cgroup: default devices usable, others denied" t_devices_cgroup
run_test "bad resources fail naming the JSON path and leave nothing" t_resources_errors
run_test "linux.cgroupsPath relative to the runtime's cgroup" t_cgroups_path
finish
