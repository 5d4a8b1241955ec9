#!/bin/bash
# The container's process: args, env, cwd, user, umask, rlimits, oomScoreAdj, noNewPrivileges,
# capabilities, terminals.
source "$(dirname "$0")/lib.sh"

# caps_of OUTPUT SET: the hex mask of one set from `/init caps` output.
caps_of() {
        sed -n "s/^$2=//p" <<<"$1"
}

# with_key CMD...: runs CMD in a new session keyring of its own holding a "user" key
# "st13-secret-$RUN_TAG" that only its possessors can see (perm 0x3f000000: possessor all).
with_key() {
        python3 - "$@" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl = 248, 250            # x86_64
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING = 1, 5, -3
if libc.syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
    sys.exit("keyctl join: %s" % os.strerror(ctypes.get_errno()))
desc = ("st13-secret-%s" % os.environ["RUN_TAG"]).encode()
k = libc.syscall(SYS_add_key, b"user", desc, b"x", 1, KEY_SPEC_SESSION_KEYRING)
if k < 0 or libc.syscall(SYS_keyctl, KEYCTL_SETPERM, k, 0x3f000000) < 0:
    sys.exit("add_key: %s" % os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
PY
}

t_session_keyring() {
        local out
        [ "$(uname -m)" = x86_64 ] || skip "the keyctl syscall numbers used here are x86_64's"
        [ -e /proc/keys ] || skip "no /proc/keys (CONFIG_KEYS off)"
        export RUN_TAG
        new_bundle pr-keyring /bin/cat /proc/keys
        cfg pr-keyring '.linux.maskedPaths -= ["/proc/keys"]'
        out=$(with_key "${RT[@]}" run --bundle "$BUNDLE" "$CID" 2>&1) || fail "run: $out"
        case $out in *"st13-secret-$RUN_TAG"*) fail "the container sees the caller's session keyring: $out" ;; esac
        assert_match "$out" " _ses" "a session keyring of its own"
        # --no-new-keyring: the caller's, with its key
        out=$(with_key "${RT[@]}" run --no-new-keyring --bundle "$BUNDLE" "$CID" 2>&1) || fail "run: $out"
        case $out in *"st13-secret-$RUN_TAG"*) ;; *) fail "--no-new-keyring: the key is not there: $out" ;; esac
        # exec: the same, as the container was created
        new_bundle pr-keyring-x /init pause
        cfg pr-keyring-x '.linux.maskedPaths -= ["/proc/keys"]'
        with_key "${RT[@]}" run -d --bundle "$BUNDLE" "$CID" >"$WORK/keyring.out" 2>&1 </dev/null ||
                fail "run -d: $(cat "$WORK/keyring.out")"
        out=$(with_key "${RT[@]}" exec "$CID" /bin/cat /proc/keys 2>&1) || fail "exec: $out"
        case $out in *"st13-secret-$RUN_TAG"*) fail "exec sees the caller's session keyring: $out" ;; esac
        "${RT[@]}" delete --force "$CID"
        new_bundle pr-keyring-nx /init pause
        cfg pr-keyring-nx '.linux.maskedPaths -= ["/proc/keys"]'
        with_key "${RT[@]}" create --no-new-keyring --bundle "$BUNDLE" "$CID" >"$WORK/keyring.out" 2>&1 </dev/null ||
                fail "create: $(cat "$WORK/keyring.out")"
        out=$(with_key "${RT[@]}" exec "$CID" /bin/cat /proc/keys 2>&1) || fail "exec: $out"
        case $out in *"st13-secret-$RUN_TAG"*) ;; *) fail "exec after --no-new-keyring: the key is not there: $out" ;; esac
        "${RT[@]}" delete --force "$CID"
}

t_args() {
        new_bundle pr-args /init echo 'a b' '$HOME' '*' "quote\"d" ''
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "a b \$HOME * quote\"d "
        new_bundle pr-args-sh /bin/sh -c 'echo "$0:$1:$#"' zero one two
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "zero:one:2"
}

t_env() {
        new_bundle pr-env /init env
        cfg pr-env '.process.env = ["PATH=/bin", "A=1", "B=with spaces", "EMPTY=", "STOCKADE_TEST_CID=" + $cid]' \
                --arg cid "$CID"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "$(printf '%s\n' PATH=/bin A=1 'B=with spaces' EMPTY= "STOCKADE_TEST_CID=$CID")" "environment"
        new_bundle pr-env-bad /init env
        cfg pr-env-bad '.process.env += ["NOEQUALS"]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'process.env[3]: "NOEQUALS" is not of the form NAME=VALUE'
}

t_cwd() {
        new_bundle pr-cwd /init cwd
        cfg pr-cwd '.process.cwd = "/home/tester"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output /home/tester
        new_bundle pr-cwd-missing /init cwd
        cfg pr-cwd-missing '.process.cwd = "/no/such/dir"'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create with a missing cwd"
        assert_output_contains "process.cwd: chdir to /no/such/dir: No such file or directory"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        new_bundle pr-cwd-file /init cwd
        cfg pr-cwd-file '.process.cwd = "/etc/passwd"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure "a cwd that is a file"
        assert_output_contains "process.cwd: chdir to /etc/passwd: Not a directory"
}

t_user() {
        new_bundle pr-user /init id
        cfg pr-user '.process.user = {uid: 1000, gid: 1000, additionalGids: [2000, 3000]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "uid=1000 gid=1000 groups=2000,3000"
        new_bundle pr-user2 /init status
        cfg pr-user2 '.process.user = {uid: 1000, gid: 2000}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep '^Uid:' <<<"$output")" '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000$' "Uid"
        assert_match "$(grep '^Gid:' <<<"$output")" '^Gid:[[:space:]]+2000[[:space:]]+2000[[:space:]]+2000[[:space:]]+2000$' "Gid"
        assert_match "$(grep '^Groups:' <<<"$output")" '^Groups:[[:space:]]*$' "no supplementary groups"
        # A non-root user can write its home but not root's files.
        new_bundle pr-user3 /bin/sh -c '/init write /home/tester/f x && echo home-ok; /init write /etc/passwd x'
        cfg pr-user3 '.process.user = {uid: 1000, gid: 1000} | .root.readonly = false'
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "home-ok"
        assert_output_contains "/etc/passwd: Permission denied"
}

t_umask() {
        new_bundle pr-umask /init umask
        cfg pr-umask '.process.user.umask = 23'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output 0027
        new_bundle pr-umask-default /init umask
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output 0022
        new_bundle pr-umask-bad /init umask
        cfg pr-umask-bad '.process.user.umask = 4096'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.user.umask: 10000 is not a valid umask"
}

t_rlimits() {
        new_bundle pr-rlimits /bin/sh -c '/init rlimit NOFILE; /init rlimit NPROC; /init limits'
        cfg pr-rlimits '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1024, hard: 2048},
                {type: "RLIMIT_NPROC", soft: 64, hard: 128}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(sed -n 1p <<<"$output")" "1024 2048" "RLIMIT_NOFILE"
        assert_eq "$(sed -n 2p <<<"$output")" "64 128" "RLIMIT_NPROC"
        assert_match "$(grep '^Max open files' <<<"$output")" '^Max open files +1024 +2048 +files' "/proc/self/limits NOFILE"
        assert_match "$(grep '^Max processes' <<<"$output")" '^Max processes +64 +128 +processes' "/proc/self/limits NPROC"
}

t_rlimit_raise_hard() {
        if grep -q '^CapEff:' /proc/self/status &&
                (($(printf '%d' "0x$(awk '/^CapEff:/ {print $2}' /proc/self/status)") & (1 << 24))); then
                skip "this shell has CAP_SYS_RESOURCE: raising a hard limit is allowed"
        fi
        local hard want
        hard=$(ulimit -Hn)
        [ "$hard" != unlimited ] || skip "the hard RLIMIT_NOFILE is unlimited"
        want=$((hard + 1))
        new_bundle pr-rlimit-raise /init true
        cfg pr-rlimit-raise '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1024, hard: ($h | tonumber)}]' --arg h "$want"
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "raising the hard RLIMIT_NOFILE without CAP_SYS_RESOURCE"
        assert_output_contains "process.rlimits[0]: setting RLIMIT_NOFILE to soft 1024 hard $want: the hard limit is above the current $hard, and raising it needs CAP_SYS_RESOURCE"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_rlimit_parse_errors() {
        new_bundle pr-rlimit-softhard /init true
        cfg pr-rlimit-softhard '.process.rlimits = [{type: "RLIMIT_NPROC", soft: 10, hard: 20},
                {type: "RLIMIT_NOFILE", soft: 2048, hard: 1024}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.rlimits[1]: RLIMIT_NOFILE soft limit 2048 is above its hard limit 1024"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        new_bundle pr-rlimit-unknown /init true
        cfg pr-rlimit-unknown '.process.rlimits = [{type: "RLIMIT_BOGUS", soft: 1, hard: 1}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS"'
        new_bundle pr-rlimit-twice /init true
        cfg pr-rlimit-twice '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1, hard: 1}, {type: "RLIMIT_NOFILE", soft: 1, hard: 1}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.rlimits[1].type: RLIMIT_NOFILE is given twice"
}

t_oom_score_adj() {
        new_bundle pr-oom /init oom
        cfg pr-oom '.process.oomScoreAdj = 500'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output 500
        if (($(printf '%d' "0x$(awk '/^CapEff:/ {print $2}' /proc/self/status)") & (1 << 24))); then
                return 0 # with CAP_SYS_RESOURCE a negative value is allowed
        fi
        new_bundle pr-oom-neg /init oom
        cfg pr-oom-neg '.process.oomScoreAdj = -500'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "a negative oomScoreAdj without CAP_SYS_RESOURCE"
        assert_output_contains "process.oomScoreAdj: writing -500 to oom_score_adj"
        assert_output_contains "CAP_SYS_RESOURCE"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        new_bundle pr-oom-range /init oom
        cfg pr-oom-range '.process.oomScoreAdj = 1001'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.oomScoreAdj: 1001 is outside -1000..1000"
}

t_no_new_privileges() {
        new_bundle pr-nnp /init status
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep '^NoNewPrivs:' <<<"$output")" '^NoNewPrivs:[[:space:]]+1$' "NoNewPrivs with noNewPrivileges true"
        new_bundle pr-nnp-off /init status
        cfg pr-nnp-off '.process.noNewPrivileges = false'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep '^NoNewPrivs:' <<<"$output")" '^NoNewPrivs:[[:space:]]+0$' "NoNewPrivs with noNewPrivileges false"
}

t_caps_default() {
        new_bundle pr-caps-default /init caps
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        # CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29)
        assert_eq "$(caps_of "$output" CapBnd)" 0000000020000420 "CapBnd"
        assert_eq "$(caps_of "$output" CapPrm)" 0000000020000420 "CapPrm"
        assert_eq "$(caps_of "$output" CapEff)" 0000000020000420 "CapEff"
        assert_eq "$(caps_of "$output" CapInh)" 0000000000000000 "CapInh is empty by default"
        assert_eq "$(caps_of "$output" CapAmb)" 0000000000000000 "CapAmb is empty by default"
}

t_caps_all_sets() {
        # Root: effective = permitted (root's exec makes them equal anyway).
        new_bundle pr-caps-sets /init caps
        cfg pr-caps-sets '.process.capabilities = {bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                effective: ["CAP_KILL", "CAP_NET_RAW"], permitted: ["CAP_KILL", "CAP_NET_RAW"],
                inheritable: ["CAP_NET_RAW"], ambient: ["CAP_NET_RAW"]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(caps_of "$output" CapBnd)" 0000000000002021 "CapBnd"
        assert_eq "$(caps_of "$output" CapPrm)" 0000000000002020 "CapPrm"
        assert_eq "$(caps_of "$output" CapEff)" 0000000000002020 "CapEff"
        assert_eq "$(caps_of "$output" CapInh)" 0000000000002000 "CapInh"
        assert_eq "$(caps_of "$output" CapAmb)" 0000000000002000 "CapAmb"
        # A non-root user keeps exactly its ambient capabilities across exec.
        new_bundle pr-caps-user /init caps
        cfg pr-caps-user '.process.user = {uid: 1000, gid: 1000}
                | .process.capabilities = {bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                effective: ["CAP_NET_RAW"], permitted: ["CAP_NET_RAW"], inheritable: ["CAP_NET_RAW"], ambient: ["CAP_NET_RAW"]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(caps_of "$output" CapBnd)" 0000000000002021 "CapBnd of uid 1000"
        assert_eq "$(caps_of "$output" CapPrm)" 0000000000002000 "CapPrm of uid 1000"
        assert_eq "$(caps_of "$output" CapEff)" 0000000000002000 "CapEff of uid 1000"
        assert_eq "$(caps_of "$output" CapInh)" 0000000000002000 "CapInh of uid 1000"
        assert_eq "$(caps_of "$output" CapAmb)" 0000000000002000 "CapAmb of uid 1000"
        # No capabilities at all.
        new_bundle pr-caps-none /init caps
        cfg pr-caps-none '.process.capabilities = {}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(caps_of "$output" CapBnd)" 0000000000000000 "CapBnd of an empty capabilities object"
        assert_eq "$(caps_of "$output" CapEff)" 0000000000000000 "CapEff of an empty capabilities object"
}

t_caps_ambient_needs_inheritable() {
        new_bundle pr-caps-amb /init caps
        cfg pr-caps-amb '.process.user = {uid: 1000, gid: 1000}
                | .process.capabilities = {bounding: ["CAP_NET_RAW"], effective: ["CAP_NET_RAW"],
                permitted: ["CAP_NET_RAW"], ambient: ["CAP_NET_RAW"]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success "an ambient capability that is not inheritable only warns"
        assert_output_contains "process.capabilities.ambient: CAP_NET_RAW not raised"
        assert_eq "$(caps_of "$output" CapAmb)" 0000000000000000 "CapAmb"
        assert_eq "$(caps_of "$output" CapEff)" 0000000000000000 "CapEff of uid 1000 without ambient"
}

t_caps_unknown() {
        new_bundle pr-caps-unknown /init caps
        cfg pr-caps-unknown '.process.capabilities.effective += ["CAP_DOES_NOT_EXIST"]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'process.capabilities.effective[3]: unknown capability "CAP_DOES_NOT_EXIST"'
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_caps_outside_runtime_bounding() {
        (($(printf '%d' "0x$(awk '/^CapBnd:/ {print $2}' /proc/self/status)") & (1 << 24))) &&
                skip "the runtime's bounding set has CAP_SYS_RESOURCE"
        new_bundle pr-caps-nobnd /init caps
        cfg pr-caps-nobnd '.process.capabilities |= with_entries(.value += ["CAP_SYS_RESOURCE"])
                | .process.capabilities |= (del(.inheritable) | del(.ambient))'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "a capability the runtime does not have"
        assert_output_contains "process.capabilities.permitted: CAP_SYS_RESOURCE is not in the runtime's own bounding set"
        assert_nothing_left "$CID"
}

t_terminal_console_socket() {
        local sock=$WORK/console.sock out=$WORK/console.out
        console_receiver "$sock" "$out" $'hello\n'
        new_bundle pr-tty /bin/sh -c 'read x; echo "got:$x"; /init tty; /init stat /dev/console; /init readlink /proc/self/fd/1'
        cfg pr-tty '.process.terminal = true'
        rt create --bundle "$BUNDLE" --console-socket "$sock" "$CID"
        assert_success
        rt start "$CID"
        assert_success
        wait "$CONSOLE_PID" || fail "the console receiver failed"
        local text
        text=$(tr -d '\r' <"$out")
        echo "pty output: $text" >&2
        assert_match "$text" 'got:hello' "input through the pty"
        assert_match "$text" $'\n/dev/pts/[0-9]+\n' "stdin is a pty"
        assert_match "$text" $'\nchr 0620 0 5 136 [0-9]+\n' "/dev/console is the pty"
        assert_match "$(cat "$out.name")" '^/dev/pts/[0-9]+$' "the name sent with the pty master"
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success
}

t_terminal_console_size() {
        local sock=$WORK/console2.sock out=$WORK/console2.out
        console_receiver "$sock" "$out"
        new_bundle pr-tty-size /bin/stty size
        cfg pr-tty-size '.process.terminal = true | .process.consoleSize = {height: 31, width: 101}'
        rt run -d --bundle "$BUNDLE" --console-socket "$sock" "$CID"
        assert_success
        wait "$CONSOLE_PID" || fail "the console receiver failed"
        assert_eq "$(tr -d '\r' <"$out")" "31 101" "the console size"
        wait_status "$CID" stopped
        rt delete "$CID"
}

t_terminal_needs_socket() {
        new_bundle pr-tty-nosock /init tty
        cfg pr-tty-nosock '.process.terminal = true'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.terminal is true: --console-socket is required"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "--console-socket is required"
        rt create --bundle "$BUNDLE" --console-socket "$WORK/nobody-listens.sock" "$CID"
        assert_failure
        assert_output_contains "--console-socket: connecting to $WORK/nobody-listens.sock"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_terminal_run_foreground() {
        command -v script >/dev/null || skip "script (util-linux) is not installed"
        new_bundle pr-tty-fg /bin/sh -c '/init tty; exit 5'
        cfg pr-tty-fg '.process.terminal = true'
        local out rc=0
        out=$(timeout 30 script -qec "$RUNTIME --root $STATE_ROOT run --bundle $BUNDLE $CID" /dev/null </dev/null 2>&1) || rc=$?
        echo "script output: $out (exit $rc)" >&2
        assert_eq "$rc" 5 "exit status through the pty"
        assert_match "$out" '/dev/pts/[0-9]+' "the container's stdin is a pty"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "run left its state"
        # Input typed at the terminal reaches the container.
        new_bundle pr-tty-fg2 /bin/sh -c 'read x; echo "got:$x"'
        cfg pr-tty-fg2 '.process.terminal = true'
        rc=0
        out=$( (sleep 1; printf 'typed\r'; sleep 2) | timeout 30 script -qec "$RUNTIME --root $STATE_ROOT run --bundle $BUNDLE $CID" /dev/null 2>&1) || rc=$?
        echo "script output: $out (exit $rc)" >&2
        assert_eq "$rc" 0 "exit status"
        assert_match "$out" 'got:typed' "input through the proxied pty"
}

run_test "process.args are passed verbatim" t_args
run_test "process.env is the whole environment; a bad entry is refused" t_env
run_test "process.cwd; a missing cwd fails create clearly" t_cwd
run_test "process.user uid, gid, additionalGids" t_user
run_test "process.user.umask" t_umask
run_test "rlimits RLIMIT_NOFILE 1024:2048 and RLIMIT_NPROC 64:128" t_rlimits
run_test "a hard rlimit above the runtime's needs CAP_SYS_RESOURCE: clear error" t_rlimit_raise_hard
run_test "rlimits: soft above hard, unknown type, given twice are refused at parse" t_rlimit_parse_errors
run_test "oomScoreAdj 500 works; -500 needs CAP_SYS_RESOURCE; out of range is refused" t_oom_score_adj
run_test "noNewPrivileges true and false" t_no_new_privileges
run_test "default capabilities; inheritable and ambient empty" t_caps_default
run_test "all five capability sets as configured (root and uid 1000)" t_caps_all_sets
run_test "an ambient capability that is not inheritable warns and is not raised" t_caps_ambient_needs_inheritable
run_test "an unknown capability is refused" t_caps_unknown
run_test "a capability outside the runtime's own bounding set is named" t_caps_outside_runtime_bounding
run_test "terminal with --console-socket: the pty works, /dev/console is the pty" t_terminal_console_socket
run_test "a new session keyring for init and exec; --no-new-keyring keeps the caller's" t_session_keyring
run_test "terminal with consoleSize" t_terminal_console_size
run_test "terminal without a console socket is refused for create and run -d" t_terminal_needs_socket
run_test "run in the foreground with a terminal and no console socket" t_terminal_run_foreground
finish
