#!/bin/bash
# Lifecycle: create, start, state, kill, delete, run, list, ps, and their errors.
source "$(dirname "$0")/lib.sh"

t_create_start_kill_delete() {
        new_bundle lc-basic
        rt create --bundle "$BUNDLE" --pid-file "$WORK/lc-basic.pid" "$CID"
        assert_success
        rt state "$CID"
        assert_success
        assert_eq "$(jq -r .status <<<"$output")" created "status after create"
        assert_eq "$(jq -r .id <<<"$output")" "$CID" "id"
        assert_eq "$(jq -r .bundle <<<"$output")" "$BUNDLE" "bundle"
        assert_eq "$(jq -r .ociVersion <<<"$output")" 1.2.0 "ociVersion"
        local pid
        pid=$(jq -r .pid <<<"$output")
        assert_match "$pid" '^[1-9][0-9]*$' "pid of a created container"
        [ -d "/proc/$pid" ] || fail "the init $pid does not exist"
        assert_eq "$(cat "$WORK/lc-basic.pid")" "$pid" "--pid-file content"

        rt start "$CID"
        assert_success
        assert_eq "$(state_of "$CID")" running "status after start"
        assert_eq "$(state_of "$CID" pid)" "$pid" "pid after start"
        assert_eq "$(readlink "/proc/$pid/exe")" /init "the init runs /init"

        rt kill "$CID" KILL
        assert_success
        wait_status "$CID" stopped
        assert_eq "$(state_of "$CID" pid)" 0 "pid of a stopped container"
        rt delete "$CID"
        assert_success
        rt state "$CID"
        assert_failure "state after delete"
        assert_output_contains "container \"$CID\" does not exist"
}

t_kill_sigterm_by_name() {
        new_bundle lc-sigterm /init trap
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT i
        for i in $(seq 50); do grep -q 'trap: ready' "$out" && break; sleep 0.1; done
        grep -q 'trap: ready' "$out" || fail "the trap helper never became ready: $(cat "$out")"
        rt kill "$CID" SIGTERM
        assert_success
        wait_status "$CID" stopped
        grep -q 'got SIGTERM' "$out" || fail "the init did not get SIGTERM: $(cat "$out")"
        rt delete "$CID"
        assert_success
}

t_kill_by_number_and_default() {
        new_bundle lc-kill9
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt kill "$CID" 9
        assert_success
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success

        # No signal given: SIGTERM, as runc. /init trap exits 0 on it.
        new_bundle lc-killdef /init trap
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local out=$RT_OUT i
        for i in $(seq 50); do grep -q 'trap: ready' "$out" && break; sleep 0.1; done
        rt kill "$CID"
        assert_success
        wait_status "$CID" stopped
        grep -q 'got SIGTERM' "$out" || fail "kill without a signal did not send SIGTERM: $(cat "$out")"
        rt delete "$CID"
        assert_success
}

t_kill_unknown_signal() {
        new_bundle lc-badsig
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt kill "$CID" SIGNOPE
        assert_failure
        assert_output_contains 'unknown signal "SIGNOPE"'
        assert_eq "$(state_of "$CID")" running "still running after a bad kill"
        rt delete --force "$CID"
        assert_success
}

t_kill_all_stopped() {
        # No pid namespace of its own: the init's child outlives it, as in a pod sharing one; containerd's
        # shim then runs kill --all on the stopped container, which must reach that child.
        new_bundle lc-killall-st /bin/sh -c '/init pause & echo $! >/child.pid; exit 0'
        cfg lc-killall-st '.linux.namespaces |= map(select(.type != "pid")) | .root.readonly = false'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        wait_status "$CID" stopped
        local child=""
        for i in $(seq 50); do child=$(cat "$BUNDLE/rootfs/child.pid" 2>/dev/null) && [ -n "$child" ] && break; sleep 0.1; done
        [ -n "$child" ] && [ -d "/proc/$child" ] || fail "the init's child is not running"
        rt kill "$CID" KILL
        assert_failure
        assert_output_contains "container not running"
        rt kill --all "$CID" KILL
        assert_success
        for i in $(seq 50); do [ -e "/proc/$child/status" ] && ! grep -q '^State:.*Z' "/proc/$child/status" || break; sleep 0.1; done
        if [ -e "/proc/$child/status" ] && ! grep -q '^State:.*Z' "/proc/$child/status"; then
                fail "kill --all left the init's child $child alive"
        fi
        rt delete "$CID"
        assert_success
}

t_kill_all() {
        new_bundle lc-killall
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local init extra
        init=$(state_of "$CID" pid)
        rt exec -d --pid-file "$WORK/lc-killall.exec.pid" "$CID" /init pause
        assert_success
        extra=$(cat "$WORK/lc-killall.exec.pid")
        [ -d "/proc/$extra" ] || fail "the exec'd process $extra is not running"
        rt ps --format json "$CID"
        assert_success
        jq -e --argjson p "$extra" 'index($p) != null' <<<"$output" >/dev/null || fail "ps misses $extra"
        jq -e --argjson p "$init" 'index($p) != null' <<<"$output" >/dev/null || fail "ps misses $init"
        rt kill --all "$CID" KILL
        assert_success
        wait_status "$CID" stopped
        local i
        for i in $(seq 50); do [ -e "/proc/$extra/status" ] && ! grep -q '^State:.*Z' "/proc/$extra/status" || break; sleep 0.1; done
        if [ -e "/proc/$extra/status" ] && ! grep -q '^State:.*Z' "/proc/$extra/status"; then
                fail "kill --all left the exec'd process $extra alive"
        fi
        rt delete "$CID"
        assert_success
}

t_kill_stopped() {
        new_bundle lc-killstopped /init true
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        wait_status "$CID" stopped
        rt kill "$CID" KILL
        assert_failure
        assert_output_contains "container not running: \"$CID\" has stopped"
        rt delete "$CID"
        assert_success
}

t_run_exit_code() {
        new_bundle lc-exit3 /init exit 3
        rt run --bundle "$BUNDLE" "$CID"
        assert_status 3 "the exit status of /init exit 3"
        # A foreground run deletes its container.
        [ ! -e "$STATE_ROOT/$CID" ] || fail "run left its state directory"

        new_bundle lc-exit0 /init echo hello from the container
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "hello from the container"
}

t_run_killed_status() {
        new_bundle lc-runkilled
        (
                rc=0
                "${RT[@]}" run --bundle "$BUNDLE" "$CID" >"$WORK/lc-runkilled.out" 2>&1 || rc=$?
                echo $rc >"$WORK/lc-runkilled.rc"
        ) &
        local bg=$!
        wait_status "$CID" running
        local pid
        pid=$(state_of "$CID" pid)
        kill -9 "$pid"
        wait "$bg" || true
        assert_eq "$(cat "$WORK/lc-runkilled.rc")" 137 "exit status of a container killed by SIGKILL"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "run left its state directory"
}

t_run_forwards_signals() {
        new_bundle lc-runfwd /init trap
        (
                rc=0
                "${RT[@]}" run --bundle "$BUNDLE" "$CID" >"$WORK/lc-runfwd.out" 2>&1 || rc=$?
                echo $rc >"$WORK/lc-runfwd.rc"
        ) &
        local bg=$! rtpid i
        for i in $(seq 50); do grep -q 'trap: ready' "$WORK/lc-runfwd.out" 2>/dev/null && break; sleep 0.1; done
        grep -q 'trap: ready' "$WORK/lc-runfwd.out" || fail "never ready: $(cat "$WORK/lc-runfwd.out")"
        rtpid=$(pgrep -P "$bg" -f "run --bundle $BUNDLE $CID" || true)
        [ -n "$rtpid" ] || fail "cannot find the runtime's pid"
        kill -USR1 "$rtpid"
        wait "$bg" || true
        assert_eq "$(cat "$WORK/lc-runfwd.rc")" 0 "exit status after a forwarded SIGUSR1"
        grep -q 'got SIGUSR1' "$WORK/lc-runfwd.out" || fail "SIGUSR1 was not forwarded: $(cat "$WORK/lc-runfwd.out")"
}

t_run_detached() {
        new_bundle lc-detach
        rt run -d --bundle "$BUNDLE" --pid-file "$WORK/lc-detach.pid" "$CID"
        assert_success
        assert_eq "$(state_of "$CID")" running "status after run -d"
        assert_eq "$(cat "$WORK/lc-detach.pid")" "$(state_of "$CID" pid)" "--pid-file of run -d"
        rt delete --force "$CID"
        assert_success
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_exit_on_its_own() {
        new_bundle lc-selfexit /init true
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success
}

t_delete_running_refused() {
        new_bundle lc-delrun
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        rt delete "$CID"
        assert_failure "delete of a running container without --force"
        assert_output_contains "container \"$CID\" is running: stop it first, or delete it with --force"
        assert_eq "$(state_of "$CID")" running "status after the refused delete"
        assert_eq "$(state_of "$CID" pid)" "$pid" "pid after the refused delete"
        [ -n "$(cgroups_of "$CID")" ] || fail "the refused delete removed the cgroups"
        rt exec "$CID" /init true
        assert_success "exec after a refused delete"
        rt delete --force "$CID"
        assert_success
        [ ! -e "/proc/$pid/status" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "delete --force left $pid alive"
}

t_delete_created_refused() {
        new_bundle lc-delcreated
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt delete "$CID"
        assert_failure "delete of a created container without --force"
        assert_output_contains "container \"$CID\" is created: stop it first, or delete it with --force"
        assert_eq "$(state_of "$CID")" created "status after the refused delete"
        rt start "$CID"
        assert_success "start after a refused delete"
        rt delete --force "$CID"
        assert_success
}

t_delete_force_created() {
        new_bundle lc-delfcreated
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        rt delete --force "$CID"
        assert_success
        rt state "$CID"
        assert_failure
        [ ! -e "/proc/$pid/status" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "delete --force left $pid alive"
}

t_delete_unknown() {
        rt delete "nosuch-$RUN_TAG"
        assert_failure
        assert_output_contains "container \"nosuch-$RUN_TAG\" does not exist"
        rt delete --force "nosuch-$RUN_TAG"
        assert_success "delete --force of an unknown id"
        assert_output ""
}

t_state_unknown() {
        rt state "nosuch-$RUN_TAG"
        assert_failure
        assert_output_contains "container \"nosuch-$RUN_TAG\" does not exist"
        rt start "nosuch-$RUN_TAG"
        assert_failure
        assert_output_contains "does not exist"
        rt kill "nosuch-$RUN_TAG" KILL
        assert_failure
        assert_output_contains "does not exist"
}

t_invalid_id() {
        new_bundle lc-badid
        rt create --bundle "$BUNDLE" "../escape"
        assert_failure
        assert_output_contains 'container id "../escape" is invalid'
        [ ! -e "$WORK/escape" ] && [ ! -e "$STATE_ROOT/../escape" ] || fail "a directory was made for ../escape"
        rt state "-x"
        assert_failure
}

t_list() {
        new_bundle lc-list1
        local a=$CID
        rt create --bundle "$BUNDLE" "$a"
        assert_success
        new_bundle lc-list2
        local b=$CID
        rt run -d --bundle "$BUNDLE" "$b"
        assert_success

        rt list
        assert_success
        assert_match "$(head -1 <<<"$output")" '^ID +PID +STATUS +BUNDLE +CREATED +OWNER' "list header"
        assert_match "$output" "$a +[0-9]+ +created +$WORK/bundles/lc-list1 " "list row of $a"
        assert_match "$output" "$b +[0-9]+ +running +$WORK/bundles/lc-list2 " "list row of $b"

        rt list --format json
        assert_success
        assert_eq "$(jq -r --arg id "$a" '.[] | select(.id == $id) | .status' <<<"$output")" created "json status of $a"
        assert_eq "$(jq -r --arg id "$b" '.[] | select(.id == $id) | .status' <<<"$output")" running "json status of $b"
        assert_eq "$(jq -r --arg id "$b" '.[] | select(.id == $id) | .pid' <<<"$output")" "$(state_of "$b" pid)" "json pid"
        assert_eq "$(jq length <<<"$output")" 2 "number of containers in json"

        rt list -q
        assert_success
        assert_eq "$(sort <<<"$output" | tr '\n' ' ')" "$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ')" "list -q"

        rt delete --force "$a"
        rt delete --force "$b"
        rt list --format json
        assert_success
        assert_output "[]"
}

t_list_empty_root() {
        # A state root that does not exist yet lists nothing.
        "$RUNTIME" --root "$WORK/never-made" list --format json >"$WORK/lc-empty.out" 2>&1
        assert_eq "$(cat "$WORK/lc-empty.out")" "[]" "list of a missing root"
}

t_create_twice() {
        new_bundle lc-twice
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "second create with the same id"
        assert_output_contains "container \"$CID\" already exists"
        assert_eq "$(state_of "$CID")" created "first container's status"
        assert_eq "$(state_of "$CID" pid)" "$pid" "first container's pid"
        [ -S "$STATE_ROOT/$CID/exec.sock" ] || fail "the second create removed exec.sock"
        [ -n "$(cgroups_of "$CID")" ] || fail "the second create removed the cgroups"
        rt start "$CID"
        assert_success "start of the first container"
        assert_eq "$(state_of "$CID")" running
        rt delete --force "$CID"
        assert_success
}

t_start_twice() {
        new_bundle lc-start2
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt start "$CID"
        assert_success
        rt start "$CID"
        assert_failure "second start"
        assert_output_contains "container \"$CID\" is running, not created: it cannot be started"
        assert_eq "$(state_of "$CID")" running
        rt kill "$CID" KILL
        wait_status "$CID" stopped
        rt start "$CID"
        assert_failure "start of a stopped container"
        assert_output_contains "is stopped, not created"
        rt delete "$CID"
        assert_success
}

t_concurrent_kill_delete() {
        new_bundle lc-race
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid i pids=()
        pid=$(state_of "$CID" pid)
        for i in 1 2 3 4; do
                timeout 30 "${RT[@]}" kill "$CID" KILL >"$WORK/race.kill.$i" 2>&1 &
                pids+=($!)
                timeout 30 "${RT[@]}" delete --force "$CID" >"$WORK/race.del.$i" 2>&1 &
                pids+=($!)
                timeout 30 "${RT[@]}" state "$CID" >"$WORK/race.state.$i" 2>&1 &
                pids+=($!)
        done
        local rc bad=""
        for i in "${pids[@]}"; do
                rc=0
                wait "$i" || rc=$?
                # 0 or 1 (a clean error such as "does not exist"); never a crash or a hang.
                [ "$rc" -le 1 ] || bad+=" $rc"
        done
        [ -z "$bad" ] || fail "concurrent commands exited with$bad: $(cat "$WORK"/race.*)"
        if grep -l -i -E 'abort|segmentation|assert|double free|corrupt' "$WORK"/race.* >/dev/null; then
                fail "a concurrent command crashed: $(cat "$WORK"/race.*)"
        fi
        # Every delete --force succeeded or found it gone.
        for i in 1 2 3 4; do
                [ ! -s "$WORK/race.del.$i" ] || grep -q 'does not exist' "$WORK/race.del.$i" ||
                        fail "delete --force $i: $(cat "$WORK/race.del.$i")"
        done
        rt state "$CID"
        assert_failure "the container must end deleted"
        [ ! -e "/proc/$pid/status" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "init $pid survived"
}

t_create_needs_id() {
        rt create
        assert_failure
        assert_output_contains "the container id is required"
        rt create a b
        assert_failure
        assert_output_contains 'unexpected argument "b"'
        rt nosuchcommand
        assert_status 2
        assert_output_contains 'unknown command "nosuchcommand"'
}

t_version_features() {
        rt --version
        assert_success
        assert_output_contains "stockade-runtime version"
        rt features
        assert_success
        jq -e '.ociVersionMax == "1.2.0" and (.hooks | index("poststop")) != null' <<<"$output" >/dev/null ||
                fail "features JSON: $output"
}

run_test "create, state created with pid, --pid-file, start, running, kill KILL, stopped, delete" t_create_start_kill_delete
run_test "kill SIGTERM by name reaches the init" t_kill_sigterm_by_name
run_test "kill 9 and kill without a signal (SIGTERM)" t_kill_by_number_and_default
run_test "kill with an unknown signal is refused" t_kill_unknown_signal
run_test "kill --all signals every process of the container" t_kill_all
run_test "kill --all after the init exited kills what is left in the cgroup (shared pid namespace)" t_kill_all_stopped
run_test "kill of a stopped container fails clearly" t_kill_stopped
run_test "run in the foreground propagates the exit code (3) and deletes" t_run_exit_code
run_test "run in the foreground: killed by SIGKILL gives 137" t_run_killed_status
run_test "run in the foreground forwards signals to the init" t_run_forwards_signals
run_test "run -d leaves a running container; delete --force" t_run_detached
run_test "a container whose init exits is stopped; delete works" t_exit_on_its_own
run_test "delete of a running container without --force fails and changes nothing" t_delete_running_refused
run_test "delete of a created container without --force fails and changes nothing" t_delete_created_refused
run_test "delete --force of a created container" t_delete_force_created
run_test "delete of an unknown id fails; delete --force of it succeeds" t_delete_unknown
run_test "state, start, kill of an unknown id fail" t_state_unknown
run_test "an invalid container id is refused" t_invalid_id
run_test "list, list --format json, list -q" t_list
run_test "list of a state root that does not exist" t_list_empty_root
run_test "a second create with the same id fails and leaves the first intact" t_create_twice
run_test "start twice fails the second time; start of a stopped container fails" t_start_twice
run_test "concurrent kill, delete --force and state on one container are safe" t_concurrent_kill_delete
run_test "create without an id, with two ids; unknown command" t_create_needs_id
run_test "--version and features" t_version_features
finish
