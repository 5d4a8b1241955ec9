#!/bin/bash
# exec: a new process in a running (or created) container.
source "$(dirname "$0")/lib.sh"

# start_ctr NAME: a running container whose init pauses; sets CID.
start_ctr() {
        new_bundle "$1"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success "run -d $CID"
}

t_exec_args() {
        start_ctr ex-args
        rt exec "$CID" /init echo one "two words" three
        assert_success
        assert_output "one two words three"
        # A bare name is looked up in the process's PATH.
        rt exec "$CID" busybox echo via-path
        assert_success
        assert_output "via-path"
        rt exec "$CID" /init pid
        assert_success
        [ "$output" != 1 ] || fail "the exec'd process is pid 1"
        rt delete --force "$CID"
}

t_exec_env() {
        start_ctr ex-env
        rt exec --env FOO=bar -e "SPACED=a b" "$CID" /init env
        assert_success
        grep -qx 'FOO=bar' <<<"$output" || fail "FOO missing"
        grep -qx 'SPACED=a b' <<<"$output" || fail "SPACED missing"
        grep -qx "STOCKADE_TEST_CID=$CID" <<<"$output" || fail "the container's own env is not inherited"
        grep -q '^PATH=' <<<"$output" || fail "PATH is not inherited"
        # --env replaces a variable of the container's env rather than adding a second one.
        rt exec -e PATH=/bin "$CID" /init env
        assert_success
        assert_eq "$(grep -c '^PATH=' <<<"$output")" 1 "PATH entries"
        grep -qx 'PATH=/bin' <<<"$output" || fail "PATH not replaced"
        rt exec -e NOEQUALS "$CID" /init env
        assert_failure
        assert_output_contains 'exec: --env "NOEQUALS" is not NAME=VALUE'
        rt delete --force "$CID"
}

t_exec_cwd() {
        start_ctr ex-cwd
        rt exec --cwd /tmp "$CID" /init cwd
        assert_success
        assert_output /tmp
        rt exec "$CID" /init cwd
        assert_success
        assert_output /
        rt exec --cwd /does/not/exist "$CID" /init cwd
        assert_failure
        assert_output_contains "process.cwd: chdir to /does/not/exist"
        assert_output_contains "No such file or directory"
        rt exec --cwd relative "$CID" /init cwd
        assert_failure
        assert_output_contains "must be an absolute path"
        rt delete --force "$CID"
}

t_exec_user() {
        start_ctr ex-user
        rt exec --user 1000:1000 "$CID" /init id
        assert_success
        assert_output "uid=1000 gid=1000 groups="
        rt exec --user 1000:1000 --additional-gids 2000 -g 3000 "$CID" /init id
        assert_success
        assert_output "uid=1000 gid=1000 groups=2000,3000"
        rt exec -u 1000 "$CID" /init id
        assert_success
        assert_output "uid=1000 gid=0 groups="
        rt exec -u 1000:1000 "$CID" /init status
        assert_success
        grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$output" || fail "a non-root exec keeps capabilities"
        rt exec -u nobody "$CID" /init id
        assert_failure
        assert_output_contains 'exec: --user "nobody" is not UID[:GID]'
        rt delete --force "$CID"
}

t_exec_cap() {
        start_ctr ex-cap
        rt exec "$CID" /init caps
        assert_success
        local base_eff
        base_eff=$(sed -n 's/^CapEff=//p' <<<"$output")
        assert_eq "$base_eff" 0000000020000420 "default CapEff"
        rt exec --cap CAP_NET_RAW "$CID" /init caps
        assert_success
        # CAP_NET_RAW is bit 13.
        assert_output_contains "CapEff=0000000020002420"
        assert_output_contains "CapPrm=0000000020002420"
        assert_output_contains "CapBnd=0000000020002420"
        assert_output_contains "CapInh=0000000000000000"
        assert_output_contains "CapAmb=0000000000000000"
        rt exec --cap CAP_NOPE "$CID" /init caps
        assert_failure
        assert_output_contains 'exec: --cap "CAP_NOPE" is not a capability'
        rt delete --force "$CID"
}

t_exec_detach_pidfile() {
        start_ctr ex-detach
        local init pid
        init=$(state_of "$CID" pid)
        rt exec -d --pid-file "$WORK/ex-detach.pid" "$CID" /init pause
        assert_success
        pid=$(cat "$WORK/ex-detach.pid")
        assert_match "$pid" '^[1-9][0-9]*$' "exec --pid-file content"
        [ -d "/proc/$pid" ] || fail "the detached process $pid is not running"
        assert_eq "$(readlink "/proc/$pid/ns/pid")" "$(readlink "/proc/$init/ns/pid")" "pid namespace of $pid"
        grep -qaF "STOCKADE_TEST_CID=$CID" "/proc/$pid/environ" || fail "$pid is not the exec'd process"
        # It is in the container's cgroups.
        assert_eq "$(cat "/proc/$pid/cgroup")" "$(cat "/proc/$init/cgroup")" "cgroups of the exec'd process"
        # A relative --pid-file is relative to the caller's directory.
        (cd "$WORK" && "${RT[@]}" exec -d --pid-file rel.pid "$CID" /init pause) || fail "exec with a relative --pid-file"
        [ -s "$WORK/rel.pid" ] || fail "the relative --pid-file was not written in the current directory"
        rt delete --force "$CID"
        assert_success
}

t_exec_process_file() {
        start_ctr ex-procfile
        jq -n '{args: ["/init", "id"], cwd: "/tmp", env: ["A=1"], user: {uid: 1000, gid: 1000, additionalGids: [2000]},
                terminal: false}' >"$WORK/process.json"
        rt exec --process "$WORK/process.json" "$CID"
        assert_success
        assert_output "uid=1000 gid=1000 groups=2000"
        jq '.args = ["/init", "env"]' "$WORK/process.json" >"$WORK/process2.json"
        rt exec -p "$WORK/process2.json" "$CID"
        assert_success
        assert_output "A=1"
        jq '.args = ["/init", "cwd"]' "$WORK/process.json" >"$WORK/process3.json"
        rt exec -p "$WORK/process3.json" "$CID"
        assert_success
        assert_output "/tmp"
        # A process file that is not a process.
        echo '{"args": "not-an-array", "cwd": "/"}' >"$WORK/bad.json"
        rt exec -p "$WORK/bad.json" "$CID"
        assert_failure
        assert_output_contains "process.args"
        rt exec -p "$WORK/process.json" "$CID" /init true
        assert_failure
        assert_output_contains "give either --process or a command, not both"
        rt exec -p "$WORK/nonexistent.json" "$CID"
        assert_failure
        assert_output_contains "nonexistent.json"
        rt delete --force "$CID"
}

t_exec_exit_code() {
        start_ctr ex-exit
        rt exec "$CID" /init exit 7
        assert_status 7
        rt exec "$CID" /init false
        assert_status 1
        rt exec "$CID" /bin/sh -c 'kill -9 $$'
        assert_status 137
        assert_eq "$(state_of "$CID")" running "the container after a failing exec"
        rt delete --force "$CID"
}

t_exec_not_found() {
        start_ctr ex-notfound
        rt exec "$CID" /no/such/binary
        assert_failure
        assert_output_contains "process.args[0]: /no/such/binary: no such file or directory"
        rt exec "$CID" nosuchcmd
        assert_failure
        assert_output_contains 'process.args[0]: "nosuchcmd": executable file not found in $PATH'
        rt exec "$CID"
        assert_failure
        assert_output_contains "exec: a command (or --process) is required"
        rt delete --force "$CID"
}

t_exec_stopped() {
        new_bundle ex-stopped /init true
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        wait_status "$CID" stopped
        rt exec "$CID" /init true
        assert_failure
        assert_output_contains "container \"$CID\" is stopped: cannot exec in it"
        rt delete "$CID"
        assert_success
}

t_exec_unknown() {
        rt exec "nosuch-$RUN_TAG" /init true
        assert_failure
        assert_output_contains "container \"nosuch-$RUN_TAG\" does not exist"
        # The id is validated before anything is read with it.
        rt exec "../nosuch-$RUN_TAG" /init true
        assert_failure
        assert_output_contains "is invalid"
}

t_exec_created() {
        new_bundle ex-created
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init echo in-created
        assert_success
        assert_output in-created
        assert_eq "$(state_of "$CID")" created "exec must not start the container"
        rt delete --force "$CID"
}

t_exec_namespaces() {
        start_ctr ex-ns
        local init ns
        init=$(state_of "$CID" pid)
        for ns in pid net mnt uts ipc cgroup; do
                rt exec "$CID" /init ns "$ns"
                assert_success
                assert_eq "$output" "$(readlink "/proc/$init/ns/$ns")" "$ns namespace of the exec'd process"
                assert_ne "$output" "$(readlink "/proc/self/ns/$ns")" "$ns namespace is the host's"
        done
        # Same root: a file the init's mount namespace has is visible.
        rt exec "$CID" /init stat /init
        assert_success
        rt delete --force "$CID"
}

t_exec_no_new_privs() {
        start_ctr ex-nnp
        rt exec "$CID" /init setuid-check
        assert_success
        assert_output 1
        local c1=$CID
        new_bundle ex-nnp2
        cfg ex-nnp2 '.process.noNewPrivileges = false'
        local c2=$CID
        rt run -d --bundle "$BUNDLE" "$c2"
        assert_success
        rt exec "$c2" /init setuid-check
        assert_success
        assert_output 0
        rt exec --no-new-privs "$c2" /init setuid-check
        assert_success
        assert_output 1
        rt delete --force "$c2"
        rt delete --force "$c1"
}

t_exec_tty() {
        need_cmd script
        start_ctr ex-tty
        local out
        # (The sleep keeps the process alive until its output is through the pty: see the next test.)
        out=$(timeout 30 script -qec "$RUNTIME --root $STATE_ROOT exec -t $CID /bin/sh -c '/init tty; sleep 0.5'" /dev/null </dev/null 2>&1) ||
                fail "exec -t failed: $out"
        assert_match "$out" '/dev/pts/[0-9]+' "tty of exec -t"
        rt exec -t -d "$CID" /init tty
        assert_failure
        assert_output_contains "--tty with --detach needs --console-socket"
        rt exec "$CID" /init tty
        assert_failure "exec without -t has no tty"
        rt delete --force "$CID"
}

t_exec_tty_output_drained() {
        need_cmd script
        start_ctr ex-tty-drain
        local i out lost=""
        # A process that writes and exits at once: its last output must not be lost.
        for i in $(seq 40); do
                out=$(timeout 30 script -qec "$RUNTIME --root $STATE_ROOT exec -t $CID /init echo marker-$i" /dev/null </dev/null 2>&1) ||
                        fail "exec -t failed: $out"
                case $out in *"marker-$i"*) ;; *) lost+=" $i" ;; esac
        done
        [ -z "$lost" ] || fail "exec -t lost the output of runs:$lost (of 40)"
        rt delete --force "$CID"
}

t_exec_unsupported_flags() {
        start_ctr ex-flags
        rt exec --process-label foo "$CID" /init true
        assert_failure
        assert_output_contains "exec: --process-label: SELinux is not supported"
        rt exec --cgroup foo "$CID" /init true
        assert_failure
        assert_output_contains "exec: --cgroup is not supported"
        rt delete --force "$CID"
}

run_test "exec with inline args; PATH lookup; not pid 1" t_exec_args
run_test "exec --env adds and replaces variables" t_exec_env
run_test "exec --cwd; a missing cwd fails clearly" t_exec_cwd
run_test "exec --user 1000:1000 and --additional-gids" t_exec_user
run_test "exec --cap CAP_NET_RAW is effective, never inheritable" t_exec_cap
run_test "exec -d --pid-file: the process runs in the container" t_exec_detach_pidfile
run_test "exec --process FILE" t_exec_process_file
run_test "exec propagates the exit code" t_exec_exit_code
run_test "exec of a missing executable fails with not found" t_exec_not_found
run_test "exec into a stopped container fails clearly" t_exec_stopped
run_test "exec into an unknown container says it does not exist" t_exec_unknown
run_test "exec into a created container works and does not start it" t_exec_created
run_test "the exec'd process shares the init's namespaces" t_exec_namespaces
run_test "exec inherits noNewPrivileges; --no-new-privs sets it" t_exec_no_new_privs
run_test "exec -t gets a pty; -t -d needs a console socket" t_exec_tty
run_test "exec -t delivers all the output of a short-lived process (40 runs)" t_exec_tty_output_drained
run_test "exec --process-label and --cgroup are refused" t_exec_unsupported_flags
finish
