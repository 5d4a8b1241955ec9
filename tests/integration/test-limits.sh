#!/bin/bash
# Enforcement of linux.resources and process.rlimits: not only that a value lands in a cgroup file,
# but that the kernel holds the container to it.  Works on cgroup v1 (and hybrid) hosts and on pure
# cgroup v2 (tests/integration/test-vm-cgroup2.sh runs this file in a v2 guest): the container's
# cgroup directories are found from /proc/PID/cgroup and /proc/self/mountinfo.
#
# Environment: STOCKADE_SWAP_DIR (default /var/tmp) holds the temporary swap file of the swap test,
# STOCKADE_SWAP_MB its size (default 256).
source "$(dirname "$0")/lib.sh"

MIB=$((1024 * 1024))

# The cgroup file finders (cg_dir, ctr_cg_dir, is_v2, need_ctrl, key_of, oom_kills, ...).
source "$(dirname "$0")/cgroup-lib.sh"

# wait_output FILE STRING [SECONDS]: waits until FILE contains STRING.
wait_output() {
        local f=$1 s=$2 secs=${3:-30} i
        for ((i = 0; i < secs * 10; i++)); do
                grep -qF -- "$s" "$f" 2>/dev/null && return 0
                sleep 0.1
        done
        fail "no \"$s\" in the container's output after ${secs}s: $(tail -5 "$f" 2>/dev/null | tr '\n' '|')"
}

# ---------------------------------------------------------------- a temporary swap device

SWAP_FILE="" SWAP_DEV="" SWAP_LOOP=""

swap_off() {
        local id
        # A container with pages in swap would make swapoff fail (they no longer fit its limit):
        # the test's containers go first.
        if [ -n "$SWAP_DEV" ] && [ -n "${CUR_IDS_FILE:-}" ]; then
                for id in $(sort -u "$CUR_IDS_FILE"); do
                        ctr_rm "$id"
                done
        fi
        [ -z "$SWAP_DEV" ] || swapoff "$SWAP_DEV" 2>/dev/null || echo "swapoff $SWAP_DEV failed" >&2
        [ -z "$SWAP_LOOP" ] || losetup -d "$SWAP_LOOP" 2>/dev/null
        [ -z "$SWAP_FILE" ] || rm -f "$SWAP_FILE"
        SWAP_FILE="" SWAP_DEV="" SWAP_LOOP=""
}

# swap_on: makes sure the host has swap: the host's own if it has any, else a temporary swap file
# (through a loop device where the file system cannot hold a swap file, e.g. 9p in the VM lane),
# removed when the test's subshell exits.  Skips, saying why, when neither works.
swap_on() {
        local dir=${STOCKADE_SWAP_DIR:-/var/tmp} mb=${STOCKADE_SWAP_MB:-256} err c
        if [ "$(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)" -gt 0 ]; then
                echo "the host has swap: $(awk 'NR > 1 { print $1 }' /proc/swaps | tr '\n' ' ')" >&2
                return 0
        fi
        [ -e /proc/swaps ] || skip "this kernel has no swap support (no /proc/swaps)"
        for c in mkswap swapon swapoff; do
                command -v "$c" >/dev/null || skip "the host has no swap and no $c to make some"
        done
        trap swap_off EXIT
        SWAP_FILE=$(mktemp "$dir/stockade-swap.XXXXXX") || skip "cannot create a swap file in $dir"
        chmod 600 "$SWAP_FILE"
        dd if=/dev/zero of="$SWAP_FILE" bs=1M count="$mb" status=none 2>/dev/null ||
                dd if=/dev/zero of="$SWAP_FILE" bs=1048576 count="$mb" 2>/dev/null ||
                skip "cannot write a $mb MiB swap file in $dir"
        mkswap "$SWAP_FILE" >/dev/null 2>&1 || skip "mkswap $SWAP_FILE failed"
        if err=$(swapon "$SWAP_FILE" 2>&1); then
                SWAP_DEV=$SWAP_FILE
        elif command -v losetup >/dev/null; then
                modprobe loop 2>/dev/null || true
                local loop
                loop=$(losetup -f 2>/dev/null) && losetup "$loop" "$SWAP_FILE" 2>/dev/null && SWAP_LOOP=$loop ||
                        skip "swapon $SWAP_FILE failed ($err) and no loop device could be set up"
                err=$(swapon "$SWAP_LOOP" 2>&1) || skip "swapon failed on $SWAP_FILE and on $SWAP_LOOP: $err"
                SWAP_DEV=$SWAP_LOOP
        else
                skip "swapon $SWAP_FILE failed: $err"
        fi
        echo "temporary swap: $SWAP_DEV ($mb MiB${SWAP_LOOP:+, on $SWAP_FILE})" >&2
}

# ---------------------------------------------------------------- the tests

t_oom_kill() {
        need_ctrl memory
        # swap == limit (memory+swap): a hog cannot escape into swap if the host has some.
        local mem='{limit: 33554432, swap: 33554432}'
        # Foreground: the hog is the container's init; run exits with its status.
        new_bundle lim-oom-fg /init memhog 64
        cfg lim-oom-fg ".linux.resources.memory = $mem"
        rt run --bundle "$BUNDLE" "$CID"
        assert_status 137 "a 64 MiB hog under a 32 MiB limit is SIGKILLed"
        # Detached: the hog under a shell, so the container outlives it and its cgroup can be read.
        new_bundle lim-oom /bin/sh -c '/init memhog 64; echo "hog exit $?"'
        cfg lim-oom ".linux.resources.memory = $mem"
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT dir kills
        dir=$(ctr_cg_dir "$CID" memory)
        echo "memory cgroup: $dir" >&2
        if is_v2 "$dir"; then
                assert_eq "$(cat "$dir/memory.max")" 33554432 "memory.max"
        else
                assert_eq "$(cat "$dir/memory.limit_in_bytes")" 33554432 "memory.limit_in_bytes"
        fi
        assert_eq "$(oom_kills "$dir")" 0 "OOM kills before start"
        rt start "$CID"
        assert_success
        wait_output "$out" "hog exit" 60
        wait_status "$CID" stopped 20
        assert_match "$(cat "$out")" "hog exit 137" "the hog's exit status seen by the container's shell"
        # The container is stopped, not deleted: its cgroup and the kernel's counters are still there.
        kills=$(oom_kills "$dir")
        echo "oom_kill=$kills" >&2
        [ -n "$kills" ] && [ "$kills" -ge 1 ] || fail "the kernel counted no OOM kill in $dir (oom_kill=\"$kills\")"
        rt delete "$CID"
        assert_success
        [ ! -d "$dir" ] || fail "delete left $dir"
}

# Checks the memory and swap files of the running container ID for limit L and memory+swap S.
check_swap_files() {
        local id=$1 l=$2 s=$3 dir
        dir=$(ctr_cg_dir "$id" memory)
        if is_v2 "$dir"; then
                [ -e "$dir/memory.swap.max" ] || skip "this kernel has no memory.swap.max (no swap support)"
                assert_eq "$(cat "$dir/memory.max")" "$l" "memory.max"
                # v2 counts swap alone: memory.swap.max = (memory+swap) - memory.
                assert_eq "$(cat "$dir/memory.swap.max")" "$((s - l))" "memory.swap.max"
        else
                [ -e "$dir/memory.memsw.limit_in_bytes" ] || skip "no memory.memsw files (swap accounting off)"
                assert_eq "$(cat "$dir/memory.limit_in_bytes")" "$l" "memory.limit_in_bytes"
                assert_eq "$(cat "$dir/memory.memsw.limit_in_bytes")" "$s" "memory.memsw.limit_in_bytes"
        fi
}

t_swap_files() {
        need_ctrl memory
        new_bundle lim-noswap
        cfg lim-noswap '.linux.resources.memory = {limit: 33554432, swap: 33554432}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        check_swap_files "$CID" 33554432 33554432
        rt delete --force "$CID"
        assert_success
        new_bundle lim-swap
        cfg lim-swap '.linux.resources.memory = {limit: 33554432, swap: 134217728}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        check_swap_files "$CID" 33554432 134217728
        rt delete --force "$CID"
        assert_success
}

# swap_used DIR: bytes of the memory cgroup DIR's memory that are in swap now.
swap_used() {
        if is_v2 "$1"; then
                cat "$1/memory.swap.current"
        else
                key_of "$1/memory.stat" swap
        fi
}

t_swap_enforced() {
        need_ctrl memory
        local probe
        probe=$(cg_dir "$BASHPID" memory)
        if is_v2 "$probe"; then
                [ -e /proc/swaps ] || skip "this kernel has no swap support"
        else
                [ -e "$probe/memory.memsw.limit_in_bytes" ] || skip "no memory.memsw files (swap accounting off)"
        fi
        swap_on
        # memory == memory+swap: no swap at all, the hog is OOM-killed although swap is free.
        new_bundle lim-swap-none /init memhog 64
        cfg lim-swap-none '.linux.resources.memory = {limit: 33554432, swap: 33554432}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_status 137 "64 MiB with memory 32M == memory+swap 32M, swap on"
        # memory+swap 128M: the same hog fits, a part of it in swap.
        new_bundle lim-swap-ok /init memhog 64
        cfg lim-swap-ok '.linux.resources.memory = {limit: 33554432, swap: 134217728}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT dir used
        dir=$(ctr_cg_dir "$CID" memory)
        wait_output "$out" "allocated 64 MiB" 120
        local st
        st=$("${RT[@]}" state "$CID" 2>&1) || echo "state $CID failed (exit $?): $st" >&2
        assert_eq "$(jq -r .status <<<"$st" 2>/dev/null)" running "the hog with room in swap (state: $st)"
        used=$(swap_used "$dir")
        echo "swap used by the container: $used bytes; oom_kill=$(oom_kills "$dir")" >&2
        [ -n "$used" ] && [ "$used" -ge $((16 * MIB)) ] || fail "the container used ${used:-no} bytes of swap, expected 32 MiB or so"
        assert_eq "$(oom_kills "$dir")" 0 "OOM kills with room in swap"
        rt delete --force "$CID"
        assert_success
        swap_off
}

t_forkbomb() {
        need_ctrl pids
        # A sustained fork bomb: the helper forks until it fails, holds its children for a second,
        # and the shell starts it again, so the cgroup stays at its limit.
        new_bundle lim-fork /bin/sh -c 'while :; do /init forkbomb 1000; done'
        cfg lim-fork '.linux.resources.pids = {limit: 20}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT dir v max=0 i t0 t1 host_rc=0
        dir=$(ctr_cg_dir "$CID" pids)
        assert_eq "$(cat "$dir/pids.max")" 20 "pids.max"
        wait_output "$out" "forks=" 30
        # The host stays usable: 50 fork+execs and a walk of /proc while the bomb runs.
        t0=$SECONDS
        timeout 60 bash -c 'for i in $(seq 50); do /bin/true || exit 1; done; ls /proc >/dev/null' || host_rc=$?
        t1=$SECONDS
        echo "host commands took about $((t1 - t0)) s during the fork bomb" >&2
        [ "$host_rc" -eq 0 ] || fail "host commands did not complete within 60 s during the fork bomb (exit $host_rc)"
        for ((i = 0; i < 40; i++)); do
                read -r v <"$dir/pids.current" || v=0
                [ "$v" -le "$max" ] || max=$v
                sleep 0.05
        done
        echo "highest pids.current seen: $max" >&2
        [ "$max" -le 20 ] || fail "pids.current reached $max, above pids.max 20"
        [ "$max" -ge 10 ] || fail "pids.current stayed at $max: the fork bomb does not seem to run"
        v=$(key_of "$dir/pids.events" max)
        [ -n "$v" ] && [ "$v" -ge 1 ] || fail "pids.events counts no refused fork (max=\"$v\")"
        assert_eq "$(state_of "$CID")" running "the container under its fork bomb"
        rt delete --force "$CID"
        assert_success
        # Every round of the helper stopped below 20 tasks (it and the shell count too) on EAGAIN.
        local forks
        forks=$(sed -n 's/^forks=//p' "$out" | sort -n | tail -1)
        echo "rounds: $(grep -c '^forks=' "$out"), most forks in a round: $forks" >&2
        [ -n "$forks" ] && [ "$forks" -lt 20 ] || fail "forks=$forks under pids.max 20"
        grep -q '^errno=EAGAIN$' "$out" || fail "no fork failed with EAGAIN: $(grep '^errno=' "$out" | sort -u | tr '\n' ' ')"
        if grep '^errno=' "$out" | grep -qv '^errno=EAGAIN$'; then
                fail "a fork failed otherwise than with EAGAIN: $(grep '^errno=' "$out" | sort -u | tr '\n' ' ')"
        fi
}

# cpu_usage_ns DIR: CPU time used by the cgroup so far (v1 cpuacct.usage, v2 cpu.stat usage_usec).
cpu_usage_ns() {
        if is_v2 "$1"; then
                echo $(($(key_of "$1/cpu.stat" usage_usec) * 1000))
        else
                cat "$1/cpuacct.usage"
        fi
}

t_cpu_quota() {
        need_ctrl cpu
        local acct_ctrl=cpuacct
        [ -n "$(cg_dir "$BASHPID" cpuacct)" ] || acct_ctrl=cpu
        new_bundle lim-cpu /bin/sh -c 'while :; do :; done'
        cfg lim-cpu '.linux.resources.cpu = {quota: 50000, period: 100000}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local dir acct u0 u1 t0 t1 ratio thr
        dir=$(ctr_cg_dir "$CID" cpu)
        acct=$(ctr_cg_dir "$CID" "$acct_ctrl")
        if is_v2 "$dir"; then
                assert_eq "$(cat "$dir/cpu.max")" "50000 100000" "cpu.max"
        else
                assert_eq "$(cat "$dir/cpu.cfs_quota_us")" 50000 "cpu.cfs_quota_us"
                assert_eq "$(cat "$dir/cpu.cfs_period_us")" 100000 "cpu.cfs_period_us"
        fi
        sleep 0.5
        u0=$(cpu_usage_ns "$acct")
        t0=$EPOCHREALTIME
        sleep 2
        u1=$(cpu_usage_ns "$acct")
        t1=$EPOCHREALTIME
        ratio=$(awk -v u0="$u0" -v u1="$u1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f", (u1 - u0) / ((t1 - t0) * 1e9) }')
        thr=$(key_of "$dir/cpu.stat" nr_throttled)
        echo "busy loop used $ratio CPU over $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; nr_throttled=$thr" >&2
        awk -v r="$ratio" 'BEGIN { exit !(r >= 0.3 && r <= 0.7) }' || fail "a busy loop under quota 50000/100000 used $ratio CPU, expected 0.3..0.7"
        [ -n "$thr" ] && [ "$thr" -ge 1 ] || fail "cpu.stat counts no throttled period (nr_throttled=\"$thr\")"
        rt delete --force "$CID"
        assert_success
}

# The CPUs in a list like "0-3,6".
expand_cpus() {
        local part out=""
        for part in ${1//,/ }; do
                if [[ $part == *-* ]]; then
                        out+=" $(seq -s ' ' "${part%-*}" "${part#*-}")"
                else
                        out+=" $part"
                fi
        done
        echo $out
}

t_cpuset() {
        need_ctrl cpuset
        local mine cpu=""
        mine=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
        case " $(expand_cpus "$mine") " in
        *" 1 "*) cpu=1 ;;
        *) cpu=$(expand_cpus "$mine" | awk '{ print $1 }') ;;
        esac
        echo "this shell may run on CPUs $mine; pinning the container to $cpu" >&2
        new_bundle lim-cpuset
        cfg lim-cpuset '.linux.resources.cpu = {cpus: $c}' --arg c "$cpu"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local dir pid
        dir=$(ctr_cg_dir "$CID" cpuset)
        pid=$(state_of "$CID" pid)
        assert_eq "$(cat "$dir/cpuset.cpus")" "$cpu" "cpuset.cpus"
        if is_v2 "$dir"; then
                assert_eq "$(cat "$dir/cpuset.cpus.effective")" "$cpu" "cpuset.cpus.effective"
        elif [ -e "$dir/cpuset.effective_cpus" ]; then
                assert_eq "$(cat "$dir/cpuset.effective_cpus")" "$cpu" "cpuset.effective_cpus"
        fi
        assert_eq "$(awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$pid/status")" "$cpu" "the init's Cpus_allowed_list seen from the host"
        in_ctr "$CID" /bin/sh -c 'grep Cpus_allowed_list /proc/self/status'
        assert_success
        assert_match "$output" "^Cpus_allowed_list:[[:space:]]+$cpu\$" "Cpus_allowed_list inside the container"
        rt delete --force "$CID"
        assert_success
}

# limit_of PID NAME: "SOFT HARD" of the /proc/PID/limits line that starts with NAME.
limit_of() {
        awk -v n="$2" 'index($0, n) == 1 { s = substr($0, 27); split(s, a, " +"); print a[1], a[2] }' "/proc/$1/limits"
}

t_rlimits() {
        local hn hu
        hn=$(ulimit -Hn) hu=$(ulimit -Hu)
        [ "$hn" = unlimited ] || [ "$hn" -ge 2048 ] || skip "the hard RLIMIT_NOFILE here is $hn, below 2048 (raising it needs CAP_SYS_RESOURCE)"
        [ "$hu" = unlimited ] || [ "$hu" -ge 128 ] || skip "the hard RLIMIT_NPROC here is $hu, below 128 (raising it needs CAP_SYS_RESOURCE)"
        new_bundle lim-rlimits /bin/sh -c '/init rlimit NOFILE; /init rlimit NPROC; echo rlimits-done; exec /init pause'
        cfg lim-rlimits '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1024, hard: 2048},
                {type: "RLIMIT_NPROC", soft: 64, hard: 128}]'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT pid
        wait_output "$out" rlimits-done 30
        pid=$(state_of "$CID" pid)
        assert_eq "$(limit_of "$pid" "Max open files")" "1024 2048" "RLIMIT_NOFILE of the init in /proc/$pid/limits"
        assert_eq "$(limit_of "$pid" "Max processes")" "64 128" "RLIMIT_NPROC of the init in /proc/$pid/limits"
        assert_eq "$(sed -n 1p "$out")" "1024 2048" "RLIMIT_NOFILE inside the container"
        assert_eq "$(sed -n 2p "$out")" "64 128" "RLIMIT_NPROC inside the container"
        rt delete --force "$CID"
        assert_success
}

# all_cg_dirs PID: the host directory of PID's cgroup in every hierarchy mounted here.
all_cg_dirs() {
        local hid ctrls path m
        while IFS=: read -r hid ctrls path; do
                if [ -n "$ctrls" ]; then
                        m=$(cg_mount cgroup "${ctrls%%,*}")
                else
                        m=$(cg_mount cgroup2 "")
                fi
                [ -z "$m" ] || cg_join ${m% *} "${m#* }" "$path"
        done <"/proc/$1/cgroup"
}

# The after-test leak check (lib.sh cgroups_of) must see a container's cgroups wherever they are.
t_leak_check_sees_cgroups() {
        new_bundle lim-leak
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid d found n=0
        pid=$(state_of "$CID" pid)
        found=$(cgroups_of "$CID" | sed 's|/*$||')
        echo "cgroups_of $CID: $(tr '\n' ' ' <<<"$found")" >&2
        for d in $(all_cg_dirs "$pid"); do
                case $d in
                */"$CID" | */"stockade-$CID") ;;
                *) fail "the container's cgroup $d is not named after it" ;;
                esac
                grep -qxF -- "$d" <<<"$found" || fail "the leak check does not see $d"
                n=$((n + 1))
        done
        [ "$n" -ge 1 ] || fail "no cgroup directory found for pid $pid"
        rt delete --force "$CID"
        assert_success
        assert_nothing_left "$CID"
}

run_test "memory limit 32M: a 64 MiB hog is OOM-killed (137) and counted in the cgroup's oom_kill" t_oom_kill
run_test "memory == memory+swap: no swap allowed (memsw / memory.swap.max files)" t_swap_files
run_test "with swap on: memory == memory+swap OOM-kills a hog, memory+swap 128M lets it swap" t_swap_enforced
run_test "pids limit 20: a fork bomb stays at or below 20 tasks (EAGAIN), the host stays usable" t_forkbomb
run_test "cpu quota 50000/100000 holds a busy loop near half a CPU" t_cpu_quota
run_test "cpuset pin: cpuset files and Cpus_allowed_list" t_cpuset
run_test "rlimits NOFILE 1024:2048 and NPROC 64:128 from the host and inside" t_rlimits
run_test "the leak check finds the container's cgroups" t_leak_check_sees_cgroups
finish
