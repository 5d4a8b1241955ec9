#!/bin/bash
# stockade-runtime under dockerd 20.10 (Debian's docker.io) and the docker CLI: a dockerd started by
# the test (private --data-root, --exec-root, socket, pidfile, its own managed containerd under the
# exec root; --bridge=none --iptables=false) with the runtime added twice, as `--add-runtime
# stockade=PATH` and as daemon.json "runtimes" (docs/INTEGRATION.md), and driven through
# `docker run --runtime stockade`: dockerd -> containerd -> containerd-shim-runc-v2 -> stockade-runtime.
# Checks: the hardening reference's flags inside a container; run -d, exec (status, tty), top, stats,
# update, pause/unpause, stop, start, kill, rm -f with the runtime's own state alongside; exit
# statuses; run -t; the runtime's error in docker's message.
. "$(dirname "$0")/callers-lib.sh"

need_bin dockerd containerd containerd-shim-runc-v2
DOCKER_CLI=/usr/local/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=$(command -v docker) || bail "the docker CLI is missing"

D=$WORK/docker
IMG=busybox:st13
mkdir -p "$D/cli"
# the JSON form of --add-runtime, as an operator writes it in /etc/docker/daemon.json
jq -n --arg rt "$RUNTIME" --arg cg "$CALLERS_CGROUP" --arg key "$D/key.json" '{
        "runtimes": {"stockade-json": {"path": $rt}},
        "exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": $cg,
        "storage-driver": "overlay2", "deprecated-key-path": $key}' >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
        -H "unix://$D/docker.sock" --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
        --add-runtime "stockade=$RUNTIME" </dev/null >"$D/dockerd.log" 2>&1 &
daemon_started $! dockerd

dk() { DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli "$DOCKER_CLI" "$@"; }
wait_for 60 dk version || bail "dockerd did not come up: $(tail -n 5 "$D/dockerd.log")"
dk import "$(busybox_rootfs_tar)" "$IMG" >"$D/import.log" 2>&1 || bail "docker import failed: $(tail -c 400 "$D/import.log")"
dk info --format '{{json .Runtimes}}' | jq -e '.stockade and ."stockade-json"' >/dev/null ||
        bail "dockerd does not list the runtimes: $(dk info --format '{{json .Runtimes}}')"

# The shim runs the runtime with --root <exec-root>/runtime-runc/moby (dockerd 20.10 names it after
# runc whatever the runtime); lib.sh's after-test checks look there.
STATE_ROOT=$D/exec/runtime-runc/moby
RT=("$RUNTIME" --root "$STATE_ROOT")
RUN_OPTS=(--runtime stockade --network none)

dk_id() {
        local id
        id=$(dk inspect --format '{{.Id}}' "$1") || return 1
        track_id "$id"
        echo "$id"
}
rt_state() { "${RT[@]}" state "$1" | jq -r ".${2:-status}"; }

t_hardened() {
        local out
        out=$(dk run --rm "${RUN_OPTS[@]}" "${HARDENED_FLAGS[@]}" "$IMG" sh -c "$HARDENED_SCRIPT" 2>&1) ||
                fail "docker run failed: $out"
        echo "$out"
        hardened_check "$out"
}

t_lifecycle() {
        local id pid out cg
        dk run -d --name st13-life "${RUN_OPTS[@]}" --memory 64m "$IMG" sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
        id=$(dk_id st13-life)
        pid=$(dk inspect --format '{{.State.Pid}}' st13-life)
        assert_eq "$(dk inspect --format '{{.HostConfig.Runtime}}' st13-life)" stockade "HostConfig.Runtime"
        assert_eq "$(rt_state "$id")" running "runtime status"
        assert_eq "$(rt_state "$id" pid)" "$pid" "runtime pid vs docker's"
        cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
        assert_eq "$cg" "$CALLERS_CGROUP/$id" "memory cgroup (daemon.json cgroup-parent)"

        out=$(dk exec st13-life sh -c 'echo exec-ok') || fail "exec: $out"
        assert_eq "$out" exec-ok "exec output"
        status=0
        dk exec st13-life sh -c 'exit 7' || status=$?
        assert_status 7 "exec exit status"
        out=$(dk exec -t st13-life tty) || fail "exec -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "exec -t has a pty"
        out=$(dk exec -d st13-life sleep 1000) || fail "exec -d: $out"
        out=$(dk exec -u 1000:1000 -e ST13=x -w /tmp st13-life sh -c 'echo $(id -u) $ST13 $PWD') || fail "exec -u: $out"
        assert_eq "$out" "1000 x /tmp" "exec -u -e -w"

        # top: the runtime's ps --format json
        out=$(dk top st13-life) || fail "top: $out"
        assert_match "$out" "sleep 1000" "top lists the processes"
        out=$(dk stats --no-stream --format '{{.MemUsage}}' st13-life) || fail "stats: $out"
        assert_match "$out" "/ 64MiB" "stats shows the limit"

        # update: the runtime's update --resources -
        dk update --memory 128m --memory-swap 256m st13-life
        assert_eq "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 134217728 "memory limit after update"
        assert_eq "$(cat "/sys/fs/cgroup/memory$cg/memory.memsw.limit_in_bytes" 2>/dev/null || echo 268435456)" \
                268435456 "memory+swap after update"

        dk pause st13-life
        assert_eq "$(rt_state "$id")" paused "after docker pause"
        dk unpause st13-life
        assert_eq "$(rt_state "$id")" running "after docker unpause"

        dk stop -t 20 st13-life
        assert_eq "$(dk inspect --format '{{.State.ExitCode}}' st13-life)" 0 "exit code after stop (TERM handled)"
        [ ! -d "/proc/$pid" ] || fail "init $pid still there"
        [ ! -e "$STATE_ROOT/$id" ] || fail "runtime state left after stop"
        dk start st13-life
        assert_eq "$(rt_state "$id")" running "after docker start"
        dk kill st13-life
        wait_for 10 sh -c "[ ! -e '$STATE_ROOT/$id' ]" || fail "runtime state left after kill"
        assert_eq "$(dk inspect --format '{{.State.ExitCode}}' st13-life)" 137 "exit code after kill"
        dk rm st13-life
}

t_exit_tty_rmf() {
        local out id
        status=0
        dk run --rm "${RUN_OPTS[@]}" "$IMG" sh -c 'exit 3' || status=$?
        assert_status 3 "docker run exit status"
        status=0
        dk run --rm "${RUN_OPTS[@]}" "$IMG" /no/such/binary || status=$?
        assert_status 127 "a missing binary"
        status=0
        dk run --rm "${RUN_OPTS[@]}" "$IMG" /etc/passwd || status=$?
        assert_status 126 "a file that is not executable"
        out=$(script -qec "DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/cli $DOCKER_CLI run --rm -t ${RUN_OPTS[*]} $IMG sh -c 'tty; echo tty-ok'" /dev/null) ||
                fail "run -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "run -t has a pty"
        case $out in *tty-ok*) ;; *) fail "run -t output: $out" ;; esac
        # rm -f of a running container, and the daemon.json runtime
        dk run -d --name st13-rmf --runtime stockade-json --network none "$IMG" sleep 1000
        id=$(dk_id st13-rmf)
        assert_eq "$(rt_state "$id")" running "runtime status (daemon.json runtime)"
        dk rm -f st13-rmf
        [ ! -e "$STATE_ROOT/$id" ] || fail "runtime state left after rm -f"
}

t_errors() {
        local out id
        status=0
        out=$(dk run --name st13-bad "${RUN_OPTS[@]}" --ulimit nofile=1024:2000000 "$IMG" true 2>&1) || status=$?
        echo "$out"
        assert_status 125 "docker run with a hard limit the runtime cannot set"
        case $out in *"process.rlimits"*RLIMIT_NOFILE*) ;; *) fail "not the runtime's message: $out" ;; esac
        # the failed create left no runtime state (docker keeps its own record until rm)
        id=$(dk_id st13-bad)
        [ ! -e "$STATE_ROOT/$id" ] || fail "runtime state left: $STATE_ROOT/$id"
        dk rm st13-bad
}

run_test "docker run --runtime stockade: the hardening reference's flags, checked inside" t_hardened
run_test "docker: run -d, exec (status, tty, -d, user), top, stats, update, pause, stop, start, kill, rm" t_lifecycle
run_test "docker run: exit statuses, -t (console socket), the daemon.json runtime, rm -f" t_exit_tty_rmf
run_test "docker: the runtime's error in docker's message, nothing left" t_errors
finish
