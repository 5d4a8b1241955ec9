#!/bin/bash
# stockade-runtime under podman 4.3 and conmon (Debian's): `podman --runtime PATH` and a
# containers.conf naming it, with private storage (--root, --runroot, --tmpdir, overlay) and the
# runtime's state under the test's root (--runtime-flag root=...). podman needs
# --ulimit nofile=... --ulimit nproc=... on this machine: its defaults (1048576) are above what
# root may set here without CAP_SYS_RESOURCE.
# Checks: the hardening reference's docker-run flags inside a container; run -d, exec (status, tty),
# pause/unpause, update, stop, start again, kill, rm with the runtime's state alongside; exit
# statuses; run -t (create --console-socket); the runtime's error in podman's message; and crun,
# podman's default runtime, beside stockade-runtime on this machine's hybrid cgroups.
. "$(dirname "$0")/callers-lib.sh"

need_bin podman conmon crun

P=$WORK/podman
IMG=localhost/busybox:st13
mkdir -p "$P"
# podman reads only this file: the host's /etc/containers/containers.conf cannot change the test
cat >"$P/containers.conf" <<EOF
[engine]
runtime = "stockade"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
stockade = ["$RUNTIME"]
EOF
export CONTAINERS_CONF=$P/containers.conf
PG=(--root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" --network-config-dir "$P/net"
        --volumepath "$P/volumes" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
RUN_OPTS=(--network none --cgroup-parent "$CALLERS_CGROUP" --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

# The runtime's default root (/run/stockade-runtime), which is on this namespace's private /run:
# podman's clean-up after a container exits (conmon's exit command, `podman container cleanup`)
# runs the runtime without the --runtime-flag options, so a --root given that way would be lost.
STATE_ROOT=/run/stockade-runtime
RT=("$RUNTIME" --root "$STATE_ROOT")
pm_any() { podman "${PG[@]}" "$@"; }
pm() { podman "${PG[@]}" --runtime "$RUNTIME" "$@"; }

pm_any import "$(busybox_rootfs_tar)" "$IMG" >"$P/import.log" 2>&1 ||
        bail "podman import failed: $(tail -c 400 "$P/import.log")"

# full id of a container name, registered for lib.sh's after-test checks ($STATE_ROOT/<id>)
pm_id() {
        local id
        id=$(pm inspect --format '{{.Id}}' "$1") || return 1
        track_id "$id"
        echo "$id"
}

rt_state() { "$RUNTIME" --root "$STATE_ROOT" state "$1" | jq -r ".${2:-status}"; }

t_hardened() {
        local out
        out=$(pm run --rm --network none --cgroup-parent "$CALLERS_CGROUP" "${HARDENED_FLAGS[@]}" "$IMG" \
                sh -c "$HARDENED_SCRIPT" 2>&1) || fail "podman run failed: $out"
        echo "$out"
        hardened_check "$out"
}

t_lifecycle() {
        local id pid out
        pm run -d --name st13-life "${RUN_OPTS[@]}" --memory 64m "$IMG" sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
        id=$(pm_id st13-life)
        pid=$(pm inspect --format '{{.State.Pid}}' st13-life)
        assert_eq "$(pm inspect --format '{{.OCIRuntime}}' st13-life)" "$RUNTIME" "podman's OCIRuntime"
        assert_eq "$(rt_state "$id")" running "runtime status"
        assert_eq "$(rt_state "$id" pid)" "$pid" "runtime pid vs podman's"

        out=$(pm exec st13-life sh -c 'echo exec-ok') || fail "exec: $out"
        assert_eq "$out" exec-ok "exec output"
        status=0
        pm exec st13-life sh -c 'exit 7' || status=$?
        assert_status 7 "exec exit status"
        out=$(pm exec -t st13-life tty) || fail "exec -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "exec -t has a pty"
        out=$(pm exec -u 1000:1000 -e ST13=x st13-life sh -c 'echo $(id -u) $ST13') || fail "exec -u -e: $out"
        assert_eq "$out" "1000 x" "exec -u -e"

        pm pause st13-life
        assert_eq "$(rt_state "$id")" paused "after podman pause"
        pm unpause st13-life
        assert_eq "$(rt_state "$id")" running "after podman unpause"

        # update: the runtime's update --resources -
        pm update --memory 128m st13-life
        assert_eq "$(cat "/sys/fs/cgroup/memory/$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")/memory.limit_in_bytes")" \
                134217728 "memory limit after podman update"

        pm stop -t 20 st13-life
        assert_eq "$(pm inspect --format '{{.State.ExitCode}}' st13-life)" 0 "exit code after stop (TERM handled)"
        [ ! -d "/proc/$pid" ] || fail "init $pid still there"
        pm start st13-life
        assert_eq "$(rt_state "$id")" running "after podman start"
        pm kill st13-life
        wait_for 10 sh -c "[ \"\$(podman ${PG[*]} inspect --format '{{.State.Status}}' st13-life)\" = exited ]" ||
                fail "not exited after kill"
        assert_eq "$(pm inspect --format '{{.State.ExitCode}}' st13-life)" 137 "exit code after kill"
        pm rm st13-life
        [ ! -e "$STATE_ROOT/$id" ] || fail "runtime state left after rm"
}

t_exit_and_tty() {
        local out
        status=0
        pm run --rm "${RUN_OPTS[@]}" "$IMG" sh -c 'exit 3' || status=$?
        assert_status 3 "podman run exit status"
        out=$(pm run --rm -t "${RUN_OPTS[@]}" "$IMG" sh -c 'tty; echo tty-ok') || fail "run -t: $out"
        assert_match "$out" "/dev/pts/[0-9]+" "run -t has a pty"
        case $out in *tty-ok*) ;; *) fail "run -t output: $out" ;; esac
        # rm -f of a running container (runtime kill, delete --force)
        pm run -d --name st13-rmf "${RUN_OPTS[@]}" "$IMG" sleep 1000
        pm_id st13-rmf >/dev/null
        pm rm -f -t 0 st13-rmf
}

t_containers_conf() {
        local id out
        # no --runtime: containers.conf's runtime = "stockade", found in [engine.runtimes]
        pm_any run -d --name st13-conf \
                "${RUN_OPTS[@]}" "$IMG" sleep 1000
        id=$(pm_id st13-conf)
        assert_eq "$(pm inspect --format '{{.OCIRuntime}}' st13-conf)" stockade "OCIRuntime"
        assert_eq "$(rt_state "$id")" running "runtime status"
        out=$(pm exec st13-conf echo conf-ok) || fail "exec: $out"
        assert_eq "$out" conf-ok "exec"
        pm rm -f -t 0 st13-conf
}

t_errors() {
        local out id
        # a hard limit above the host's, which root cannot set here: the runtime's own message
        status=0
        out=$(pm run "${RUN_OPTS[@]}" --name st13-bad --ulimit nofile=1024:2000000 "$IMG" true 2>&1) ||
                status=$?
        echo "$out"
        assert_failure "nofile above the host's hard limit"
        case $out in *"process.rlimits"*RLIMIT_NOFILE*) ;; *) fail "not the runtime's message: $out" ;; esac
        # podman keeps its record of the container; the runtime has nothing of it
        id=$(pm_id st13-bad)
        [ ! -e "$STATE_ROOT/$id" ] || fail "runtime state left: $STATE_ROOT/$id"
        pm rm -f st13-bad
}

t_crun_beside() {
        local out
        # podman's default runtime on this machine, the same command with its own state root
        status=0
        out=$(pm_any --runtime crun run --rm "${RUN_OPTS[@]}" "$IMG" \
                echo ran 2>&1) || status=$?
        echo "crun: exit $status: $out" | head -5 | sed "s/^/# /" >&3
        out=$(pm run --rm "${RUN_OPTS[@]}" "$IMG" echo ran 2>&1) || fail "stockade-runtime: $out"
        assert_eq "$out" ran "stockade-runtime"
}
exec 3>&1

run_test "podman run: the hardening reference's flags, checked inside" t_hardened
run_test "podman: run -d, exec (status, tty, user), pause, update, stop, start, kill, rm" t_lifecycle
run_test "podman run: exit status, -t (console socket), rm -f" t_exit_and_tty
run_test "podman: the runtime named in containers.conf" t_containers_conf
run_test "podman: the runtime's error in podman's message, nothing left" t_errors
run_test "podman: crun (the default) beside stockade-runtime on hybrid cgroups" t_crun_beside
finish
