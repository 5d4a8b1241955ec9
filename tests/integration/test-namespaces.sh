#!/bin/bash
# Namespaces: new ones of every type, user namespace mappings, joining existing ones by path.
source "$(dirname "$0")/lib.sh"

# Interface names in /proc/net/dev text.
ifaces() {
        awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | sort | tr '\n' ' '
}

t_pid_ns() {
        new_bundle ns-pid /init pid
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output 1
        new_bundle ns-pid2 /init ns pid
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_ne "$output" "$(readlink /proc/self/ns/pid)" "pid namespace"
        # /proc is the container's: only its own processes.
        new_bundle ns-pid3 /init ls /proc
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(grep -E '^[0-9]+$' <<<"$output" | tr '\n' ' ')" "1 " "pids in the container's /proc"
}

t_uts_ns() {
        new_bundle ns-uts /init hostname
        cfg ns-uts '.hostname = "ctr-host" | .domainname = "ctr.domain"'
        local host_before
        host_before=$(hostname)
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output ctr-host
        new_bundle ns-uts2 /init domainname
        cfg ns-uts2 '.hostname = "ctr-host" | .domainname = "ctr.domain"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output ctr.domain
        assert_eq "$(hostname)" "$host_before" "the host's hostname"
        new_bundle ns-uts3 /init ns uts
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_ne "$output" "$(readlink /proc/self/ns/uts)" "uts namespace"
}

t_net_ns() {
        new_bundle ns-net /init cat /proc/net/dev
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(ifaces <<<"$output")" "lo " "interfaces in a new network namespace"
        new_bundle ns-net2 /init ns net
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_ne "$output" "$(readlink /proc/self/ns/net)" "network namespace"
}

t_net_host() {
        # Without a network namespace the container shares the host's.
        new_bundle ns-nethost /init ns net
        cfg ns-nethost '.linux.namespaces |= map(select(.type != "network"))'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "$(readlink /proc/self/ns/net)"
}

t_ipc_ns() {
        new_bundle ns-ipc /init ns ipc
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$output" '^ipc:\[[0-9]+\]$'
        assert_ne "$output" "$(readlink /proc/self/ns/ipc)" "ipc namespace"
        # A host SysV message queue is not visible inside.
        if command -v ipcmk >/dev/null; then
                local q
                q=$(ipcmk -Q | grep -o '[0-9]*$')
                new_bundle ns-ipc2 /init cat /proc/sysvipc/msg
                rt run --bundle "$BUNDLE" "$CID"
                ipcrm -q "$q"
                assert_success
                assert_eq "$(wc -l <<<"$output")" 1 "lines of /proc/sysvipc/msg (the header only)"
        fi
}

t_cgroup_ns() {
        new_bundle ns-cgroup /init cat /proc/self/cgroup
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        # In a cgroup namespace rooted at the container's cgroup every path is "/".
        local bad
        bad=$(awk -F: '$3 != "/"' <<<"$output")
        [ -z "$bad" ] || fail "cgroup paths not rooted at the container: $bad"
        new_bundle ns-cgroup2 /init ns cgroup
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_ne "$output" "$(readlink /proc/self/ns/cgroup)" "cgroup namespace"
}

t_time_ns() {
        [ -e /proc/self/ns/time ] || skip "the kernel has no time namespaces"
        new_bundle ns-time /init cat /proc/uptime
        cfg ns-time '.linux.namespaces += [{type: "time"}]
                | .linux.timeOffsets = {boottime: {secs: 31536000}, monotonic: {secs: 86400}}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local up
        up=$(cut -d. -f1 <<<"$output")
        [ "$up" -ge 31536000 ] || fail "uptime $up in the container is not offset by a year"
        new_bundle ns-time2 /init ns time
        cfg ns-time2 '.linux.namespaces += [{type: "time"}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_ne "$output" "$(readlink /proc/self/ns/time)" "time namespace"
}

userns_cfg() {
        cfg "$1" '.linux.namespaces += [{type: "user"}]
                | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
                | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
}

t_user_ns() {
        [ -e /proc/self/ns/user ] || skip "the kernel has no user namespaces"
        new_bundle ns-user
        userns_cfg ns-user
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        assert_match "$(grep '^Uid:' "/proc/$pid/status")" '^Uid:[[:space:]]+100000[[:space:]]+100000[[:space:]]+100000[[:space:]]+100000$' "host view of the init's uid"
        assert_match "$(grep '^Gid:' "/proc/$pid/status")" '^Gid:[[:space:]]+100000[[:space:]]+100000' "host view of the init's gid"
        assert_ne "$(readlink "/proc/$pid/ns/user")" "$(readlink /proc/self/ns/user)" "user namespace"
        rt exec "$CID" /init id
        assert_success
        assert_output "uid=0 gid=0 groups="
        rt exec "$CID" /init cat /proc/self/uid_map
        assert_success
        assert_match "$output" '^ +0 +100000 +65536$' "uid_map inside"
        # A file the container's root makes is owned by 100000 on the host.
        rt exec "$CID" /init write /dev/shm/owned x
        assert_success
        rt exec "$CID" /init stat /dev/shm/owned
        assert_success
        assert_match "$output" '^file 0644 0 0 ' "the container's view of its file"
        local hostview
        hostview=$(stat -c '%u:%g' "/proc/$pid/root/dev/shm/owned")
        assert_eq "$hostview" "100000:100000" "the host's view of the container's file"
        # The exec'd process joins the user namespace too.
        rt exec -d --pid-file "$WORK/ns-user.exec.pid" "$CID" /init pause
        assert_success
        assert_match "$(grep '^Uid:' "/proc/$(cat "$WORK/ns-user.exec.pid")/status")" '^Uid:[[:space:]]+100000' "uid of an exec'd process"
        rt delete --force "$CID"
        assert_success
}

t_user_ns_unmapped_user() {
        [ -e /proc/self/ns/user ] || skip "the kernel has no user namespaces"
        new_bundle ns-user-unmapped /init id
        cfg ns-user-unmapped '.linux.namespaces += [{type: "user"}]
                | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 1000}]
                | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 1000}]
                | .process.user = {uid: 5000, gid: 0}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.user.uid: setting uid 5000 (not mapped in the user namespace)"
}

# join_netns_ok: create a named netns with two veth ends; the container joins it by path.
t_join_netns() {
        command -v ip >/dev/null || skip "ip (iproute2) is not installed"
        local name=stk-it-$RUN_TAG
        ip netns add "$name" || skip "cannot create a network namespace with ip netns add"
        trap 'ip netns del '"$name"' 2>/dev/null' EXIT
        ip -n "$name" link add stkv0 type veth peer name stkv1 2>/dev/null || true
        new_bundle ns-join-net /init cat /proc/net/dev
        cfg ns-join-net '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
                --arg p "/run/netns/$name"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local want="lo "
        ip -n "$name" link show stkv0 >/dev/null 2>&1 && want="lo stkv0 stkv1 "
        assert_eq "$(ifaces <<<"$output")" "$want" "interfaces of the joined network namespace"
        new_bundle ns-join-net2 /init ns net
        cfg ns-join-net2 '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
                --arg p "/run/netns/$name"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "net:[$(stat -L -c %i "/run/netns/$name")]" "inode of the joined network namespace"
}

t_join_utsns() {
        command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
        local f=$WORK/utsns-$RUN_TAG
        touch "$f"
        unshare --uts="$f" hostname joined-uts || skip "cannot make a persistent uts namespace with unshare"
        trap 'umount -l '"$f"' 2>/dev/null' EXIT
        new_bundle ns-join-uts /init hostname
        cfg ns-join-uts 'del(.hostname) | .linux.namespaces |= map(if .type == "uts" then .path = $p else . end)' \
                --arg p "$f"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output joined-uts
        new_bundle ns-join-uts2 /init ns uts
        cfg ns-join-uts2 'del(.hostname) | .linux.namespaces |= map(if .type == "uts" then .path = $p else . end)' \
                --arg p "$f"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "uts:[$(stat -L -c %i "$f")]" "inode of the joined uts namespace"
}

t_join_missing_ns() {
        new_bundle ns-join-missing /init true
        cfg ns-join-missing '.linux.namespaces |= map(if .type == "network" then .path = "/nonexistent/netns" else . end)'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.namespaces: joining network namespace /nonexistent/netns"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        # A path that is not a namespace.
        new_bundle ns-join-notns /init true
        cfg ns-join-notns '.linux.namespaces |= map(if .type == "ipc" then .path = "/etc/hostname" else . end)'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.namespaces: joining ipc namespace /etc/hostname"
}

t_mount_ns_required() {
        new_bundle ns-nomnt /init true
        cfg ns-nomnt '.linux.namespaces |= map(select(.type != "mount"))'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.namespaces: a mount namespace is required"
}

run_test "pid namespace: the init is pid 1 and sees only itself" t_pid_ns
run_test "uts namespace with hostname and domainname" t_uts_ns
run_test "network namespace: only lo" t_net_ns
run_test "no network namespace: the host's" t_net_host
run_test "ipc namespace" t_ipc_ns
run_test "cgroup namespace rooted at the container's cgroup" t_cgroup_ns
run_test "time namespace with boottime and monotonic offsets" t_time_ns
run_test "user namespace: root maps to host uid 100000" t_user_ns
run_test "user namespace: an unmapped process.user fails clearly" t_user_ns_unmapped_user
run_test "join an existing network namespace by path" t_join_netns
run_test "join an existing uts namespace by path" t_join_utsns
run_test "joining a missing or non-namespace path fails clearly" t_join_missing_ns
run_test "a new mount namespace is required" t_mount_ns_required
finish
