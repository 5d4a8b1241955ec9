#!/bin/bash
# stockade-runtime under containerd 1.6 (Debian's), through its runc shim (io.containerd.runc.v2,
# containerd-shim-runc-v2) with `ctr run --runc-binary`: what Kubernetes reaches through the CRI
# with a runtime handler whose BinaryName is stockade-runtime (docs/INTEGRATION.md).
# The test starts its own containerd (private root, state, sockets, cgroup namespace name), imports a
# busybox image from a docker-save archive made from tools/busybox-image.sh's rootfs, and checks inside
# the containers the memory limit, the read-only root, dropped capabilities and seccomp; then the
# task lifecycle (exec, ps, pause/resume, kill, delete) with the runtime's own state alongside, exit
# statuses, a terminal, and that the runtime's error reaches ctr's message.
. "$(dirname "$0")/callers-lib.sh"

need_bin containerd ctr containerd-shim-runc-v2 script runc

C=$WORK/containerd
NS=$CALLERS_TAG             # containerd namespace: cgroups are /$NS/<id>, runtime state $STATE_ROOT/$NS/<id>
IMG=docker.io/library/busybox:st13
mkdir -p "$C"
containerd_config "$C" >"$C/config.toml"
containerd --config "$C/config.toml" </dev/null >"$C/containerd.log" 2>&1 &
daemon_started $! containerd

cr() { ctr --address "$C/containerd.sock" -n "$NS" "$@"; }
# ctr run with stockade-runtime as the shim's runc binary and its state under the test's root
RUNC=(--runc-binary "$RUNTIME" --runc-root "$STATE_ROOT")

wait_for 30 cr version || bail "containerd did not come up: $(tail -n 5 "$C/containerd.log")"
busybox_docker_archive "$WORK/busybox-archive.tar" "$IMG"
cr images import "$WORK/busybox-archive.tar" >"$C/import.log" 2>&1 ||
        bail "ctr images import failed: $(tail -c 400 "$C/import.log")"

# The state directory of a task, for lib.sh's after-test check (STATE_ROOT/<ns>/<id>).
track() { track_id "$NS/$1"; }

# a task's pid as containerd sees it
task_pid() { cr task ls | awk -v id="$1" '$1 == id { print $2 }'; }

t_limits_inside() {
        local out
        track lim
        # docker's default capabilities (0xa80425fb) less CHOWN (bit 0), NET_RAW (13) and SETUID (7)
        out=$(cr run --rm "${RUNC[@]}" --memory-limit 67108864 --read-only --seccomp \
                --cap-drop CAP_CHOWN --cap-drop CAP_NET_RAW --cap-drop CAP_SETUID \
                --mount type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec \
                "$IMG" lim sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
                        echo "mem $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null)"
                        touch /rootfile 2>&1; echo "pid1 $(cat /proc/1/comm)"' 2>&1) ||
                fail "ctr run failed: $out"
        echo "$out"
        for want in "CapEff:	00000000a804057a" "CapBnd:	00000000a804057a" "NoNewPrivs:	1" "Seccomp:	2" \
                "mem 67108864" "Read-only file system" "pid1 sh"; do
                case $out in *"$want"*) ;; *) fail "\"$want\" missing inside: $out" ;; esac
        done
        # the task ran under stockade-runtime (its --log-format json file is in the bundle) and is gone
        [ ! -e "$STATE_ROOT/$NS/lim" ] || fail "state of a --rm task left"
        [ ! -e "$C/state/io.containerd.runtime.v2.task/$NS/lim" ] || fail "bundle of a --rm task left"
}

t_lifecycle() {
        local pid out cg
        track life
        cr run -d "${RUNC[@]}" --memory-limit 33554432 "$IMG" life sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
        wait_for 10 sh -c "[ -n \"\$(ctr --address $C/containerd.sock -n $NS task ls | awk '\$1 == \"life\" && \$3 == \"RUNNING\"')\" ]" ||
                fail "task not RUNNING: $(cr task ls)"
        pid=$(task_pid life)
        # stockade-runtime's own state agrees with containerd's
        out=$("$RUNTIME" --root "$STATE_ROOT/$NS" state life) || fail "stockade-runtime state: $out"
        assert_eq "$(jq -r .status <<<"$out")" running "runtime status"
        assert_eq "$(jq -r .pid <<<"$out")" "$pid" "runtime pid vs containerd's"
        cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
        assert_eq "$cg" "/$NS/life" "memory cgroup"
        assert_eq "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 33554432 "memory limit on the host"

        # exec: output, exit status, environment and a terminal
        out=$(cr task exec --exec-id e1 life sh -c 'echo exec-ok $$') || fail "exec: $out"
        assert_match "$out" "^exec-ok [0-9]+$" "exec output"
        status=0
        cr task exec --exec-id e2 life sh -c 'exit 7' || status=$?
        assert_status 7 "exec exit status"
        out=$(script -qec "ctr --address $C/containerd.sock -n $NS task exec -t --exec-id e3 life sh -c 'tty; stty size'" /dev/null) ||
                fail "exec -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "exec -t has a pty"

        # ps (runtime ps --format json), metrics (cgroup files) see the task
        out=$(cr task ps life) || fail "task ps: $out"
        assert_match "$out" "(^|[^0-9])$pid([^0-9]|$)" "task ps lists the init"
        out=$(cr task metrics --format json life) || fail "task metrics: $out"
        jq -e '.memory.usage.limit == 33554432' <<<"$out" >/dev/null || fail "metrics: $out"

        # pause / resume (runtime pause/resume)
        cr task pause life
        assert_eq "$("$RUNTIME" --root "$STATE_ROOT/$NS" state life | jq -r .status)" paused "after task pause"
        assert_eq "$(cr task ls | awk '$1 == "life" { print $3 }')" PAUSED "containerd status"
        cr task resume life
        assert_eq "$("$RUNTIME" --root "$STATE_ROOT/$NS" state life | jq -r .status)" running "after task resume"

        # stop: TERM to the init (runtime kill), which exits 0
        cr task kill -s TERM life
        wait_for 10 sh -c "ctr --address $C/containerd.sock -n $NS task ls | grep -qE '^life +[0-9]+ +STOPPED'" ||
                fail "not STOPPED after TERM: $(cr task ls)"
        cr task rm life
        cr container rm life
        [ ! -d "/proc/$pid" ] || fail "init $pid still there"
        [ ! -e "$STATE_ROOT/$NS/life" ] || fail "runtime state left after task rm"
}

t_kill_all_and_force() {
        local pid
        track killme
        cr run -d "${RUNC[@]}" "$IMG" killme sh -c 'sleep 1000 & sleep 1000 & wait'
        wait_for 10 sh -c "ctr --address $C/containerd.sock -n $NS task ls | grep -qE '^killme +[0-9]+ +RUNNING'"
        pid=$(task_pid killme)
        # SIGKILL to every process of the task (runtime kill --all), then rm
        cr task kill -a -s KILL killme
        wait_for 10 sh -c "ctr --address $C/containerd.sock -n $NS task ls | grep -qE '^killme +[0-9]+ +STOPPED'" ||
                fail "not STOPPED after kill -a: $(cr task ls)"
        cr task rm killme
        cr container rm killme
        [ ! -d "/proc/$pid" ] || fail "init $pid still there"
        # rm -f of a running task (runtime delete --force)
        track force
        cr run -d "${RUNC[@]}" "$IMG" force sleep 1000
        wait_for 10 sh -c "ctr --address $C/containerd.sock -n $NS task ls | grep -qE '^force +[0-9]+ +RUNNING'"
        cr task rm -f force
        cr container rm force
        [ ! -e "$STATE_ROOT/$NS/force" ] || fail "runtime state left after task rm -f"
}

t_exit_status_and_tty() {
        local out
        track ex
        status=0
        cr run --rm "${RUNC[@]}" "$IMG" ex sh -c 'exit 3' || status=$?
        assert_status 3 "ctr run exit status"
        # a terminal for the task itself: create --console-socket
        track tty
        out=$(script -qec "ctr --address $C/containerd.sock -n $NS run --rm -t ${RUNC[*]} $IMG tty sh -c 'tty; echo tty-ok'" /dev/null) ||
                fail "run -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "run -t has a pty"
        assert_output_contains_str "$out" tty-ok
}

assert_output_contains_str() {
        case $1 in *"$2"*) ;; *) fail "\"$2\" missing in: $1" ;; esac
}

t_errors_reach_ctr() {
        local out
        track badcap
        # the runtime's message from its --log-format json file is what ctr prints
        status=0
        out=$(cr run --rm "${RUNC[@]}" --cap-add CAP_BOGUS "$IMG" badcap true 2>&1) || status=$?
        assert_failure "an unknown capability"
        assert_output_contains_str "$out" "CAP_BOGUS"
        assert_output_contains_str "$out" "OCI runtime create failed"
        [ ! -e "$STATE_ROOT/$NS/badcap" ] || fail "state of a failed create left"
        cr container rm badcap >/dev/null 2>&1 || true
        # the systemd cgroup driver (runc --systemd-cgroup): a clear refusal here
        track sysd
        status=0
        out=$(cr run --rm "${RUNC[@]}" --runc-systemd-cgroup --cgroup "system.slice:st13:sysd" "$IMG" sysd true 2>&1) ||
                status=$?
        assert_failure "--systemd-cgroup"
        assert_output_contains_str "$out" "--systemd-cgroup"
        cr container rm sysd >/dev/null 2>&1 || true
}

# the key paths of a JSON document, array indexes dropped
json_keys() { jq -r 'paths | map(tostring) | join(".")' | sed -E 's/\.[0-9]+(\.|$)/\1/g' | sort -u; }
# the same for the objects only: runc leaves out a counter that is 0 (Go's omitempty), and so do we
json_object_keys() { jq -r 'paths(type == "object") | map(tostring) | join(".")' | sed -E 's/\.[0-9]+(\.|$)/\1/g' | sort -u; }

t_runc_json() {
        local rk sk out
        need_cmd runc
        # events --stats: what containerd's v1 shim and other monitors parse, beside runc's own
        new_bundle rj-ev /init pause
        cfg rj-ev '.linux.resources = {memory: {limit: 67108864}, pids: {limit: 50}}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        runc --root "$WORK/runc-root" run -d --bundle "$BUNDLE" "$CID-runc" >/dev/null 2>&1 </dev/null ||
                fail "runc run -d failed"
        track_id "$CID-runc"
        rk=$(runc --root "$WORK/runc-root" events --stats "$CID-runc" | json_object_keys)
        out=$("${RT[@]}" events --stats "$CID")
        jq -e --arg id "$CID" '.type == "stats" and .id == $id and .data.memory.usage.limit == 67108864
                and .data.pids.limit == 50 and .data.pids.current == 1' <<<"$out" >/dev/null || fail "events --stats: $out"
        sk=$(json_object_keys <<<"$out")
        runc --root "$WORK/runc-root" delete -f "$CID-runc"
        "${RT[@]}" delete -f "$CID"
        [ -n "$rk" ] || fail "runc events --stats printed nothing"
        out=$(comm -23 <(echo "$rk") <(echo "$sk"))
        [ -z "$out" ] || fail "keys of runc's events --stats missing: $out"
        # features: every key runc 1.1 prints, except its own annotations
        rk=$(runc features | json_keys | grep -v '^annotations\.org\.opencontainers\.runc\|^annotations\.io\.github\.seccomp')
        sk=$("${RT[@]}" features | json_keys)
        out=$(comm -23 <(echo "$rk") <(echo "$sk"))
        [ -z "$out" ] || fail "keys of runc's features missing: $out"
        # and runc's mount options (tmpcopyup included)
        out=$(comm -23 <(runc features | jq -r '.mountOptions[]' | sort) <("${RT[@]}" features | jq -r '.mountOptions[]' | sort))
        echo "mount options of runc's not in ours (informational): $out"
}

run_test "ctr run: memory limit, read-only root, dropped capabilities, seccomp inside" t_limits_inside
run_test "ctr tasks: state, exec (status, tty), ps, metrics, pause/resume, TERM, rm" t_lifecycle
run_test "ctr tasks: kill --all, rm -f of a running task" t_kill_all_and_force
run_test "ctr run: exit status, a terminal through --console-socket" t_exit_status_and_tty
run_test "ctr run: the runtime's errors in ctr's message, --systemd-cgroup refused" t_errors_reach_ctr
run_test "runc's JSON: events --stats and features have every key runc prints" t_runc_json
finish
