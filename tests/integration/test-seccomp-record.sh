#!/bin/bash
# `stockade seccomp record` and `run --seccomp-record` (issue 9, docs/SECCOMP.md "Recording profiles"):
# a profile recorded from a busybox workload lets the same workload run under it and refuses what it
# did not record (mkdir: EPERM); forks, pipelines, threads and a 32-bit call are all recorded; --base
# merges; --args writes Docker-style argument rules; check, diff and default; the errors.
. "$(dirname "$0")/engine-lib.sh"

MIX=$REPO_ROOT/build/tests/stockade-test-syscall-mix
WORKLOAD='echo hi; ls / >/dev/null; cat /etc/passwd | wc -l'

names() {
        jq -r '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW" and (.args // [] | length) == 0) | .names[]] | .[]' "$1"
}

has_name() {
        names "$1" | grep -qx "$2" || fail "$1 lacks $2: $(names "$1" | tr '\n' ' ')"
}

t_record_replay_deny() {
        sk_out seccomp record -o "$WORK/p.json" -- busybox sh -c "$WORKLOAD"
        expect_status 0
        [ "$output" = "$(printf 'hi\n3')" ] || fail "recorded run's output: $output"
        [ -z "$errout" ] || fail "stderr: $errout"   # no warning: the eBPF recorder did the recording
        jq -e '.defaultAction == "SCMP_ACT_ERRNO" and .defaultErrnoRet == 1 and
               .architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] and
               (.syscalls | length) == 2 and .syscalls[0].names == (.syscalls[0].names | sort) and
               .syscalls[1] == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}' "$WORK/p.json" >/dev/null ||
                fail "profile shape: $(cat "$WORK/p.json")"
        has_name "$WORK/p.json" execve
        has_name "$WORK/p.json" getdents64
        names "$WORK/p.json" | grep -qx mkdir && fail "mkdir recorded"
        names "$WORK/p.json" | grep -qxE 'mount|pivot_root|sethostname' && fail "the runtime's set-up was recorded"
        diag "$(names "$WORK/p.json" | wc -l) syscalls recorded"
        sk_out run --rm --security-opt seccomp="$WORK/p.json" busybox sh -c "$WORKLOAD"
        expect_status 0
        [ "$output" = "$(printf 'hi\n3')" ] || fail "replay's output: $output"
        sk run --rm --security-opt seccomp="$WORK/p.json" busybox sh -c 'mkdir /tmp/x'
        expect_status 1
        expect_output_has "Operation not permitted"
}

t_nnp_runtime_calls() {
        # with no_new_privs the filter goes in last: fewer of the runtime's calls are needed
        sk_out seccomp record -o "$WORK/n.json" -- --security-opt no-new-privileges busybox true
        expect_status 0
        names "$WORK/n.json" | grep -qx capset && fail "capset in a no-new-privileges recording"
        sk run --rm --security-opt no-new-privileges --security-opt seccomp="$WORK/n.json" busybox true
        expect_status 0
        # without it, the runtime's identity calls come after the filter: the profile must have them
        sk_out seccomp record -o "$WORK/y.json" -- busybox true
        has_name "$WORK/y.json" capset
        has_name "$WORK/y.json" setresuid
        sk run --rm --security-opt seccomp="$WORK/y.json" busybox true
        expect_status 0
        # and without them the start fails: they are needed
        jq '.syscalls[0].names -= ["capset"]' "$WORK/y.json" >"$WORK/y2.json"
        sk run --rm --security-opt seccomp="$WORK/y2.json" busybox true
        [ "$status" -ne 0 ] || fail "ran without capset allowed: $output"
}

t_forks_and_pipelines() {
        sk_out seccomp record -o "$WORK/f.json" -- busybox sh -c '(mkdir /tmp/a) & wait; echo x | (uname -n >/dev/null; cat) | cat'
        expect_status 0
        [ "$output" = x ] || fail "output: $output"
        has_name "$WORK/f.json" mkdir   # only a forked child made it
        has_name "$WORK/f.json" uname   # only a pipeline's child made it
        has_name "$WORK/f.json" pipe2
        sk run --rm --security-opt seccomp="$WORK/f.json" busybox sh -c '(mkdir /tmp/a) & wait; echo x | (uname -n >/dev/null; cat) | cat'
        expect_status 0
}

t_threads() {
        [ -x "$MIX" ] || fail "$MIX not built (a build failure, not a missing feature)"
        sk_out seccomp record -o "$WORK/t.json" -- -v "$MIX:/mix:ro" busybox /mix threads
        expect_status 0
        expect_output_has "threads done"
        for n in getpriority sched_getscheduler getitimer times futex clone3; do
                case $n in clone3) names "$WORK/t.json" | grep -qxE 'clone3|clone' || fail "no clone" ;; *) has_name "$WORK/t.json" $n ;; esac
        done
        sk run --rm -v "$MIX:/mix:ro" --security-opt seccomp="$WORK/t.json" busybox /mix threads
        expect_status 0
        expect_output_has "threads done"
}

t_compat() {
        [ -x "$MIX" ] || fail "$MIX not built (a build failure, not a missing feature)"
        "$MIX" compat >/dev/null 2>&1 || skip "no 32-bit syscalls on this kernel (IA32 emulation off)"
        # Docker's default refuses sgetmask, and the tracepoint fires after seccomp: record unconfined
        sk_out seccomp record -o "$WORK/c.json" -- --security-opt seccomp=unconfined -v "$MIX:/mix:ro" busybox /mix compat
        expect_status 0
        has_name "$WORK/c.json" sgetmask   # i386's 68, which x86_64 does not have
        sk_out run --rm -v "$MIX:/mix:ro" --security-opt seccomp="$WORK/c.json" busybox /mix compat
        expect_status 0
        [ "$output" = "compat sgetmask: 0" ] || fail "replay: $output"
        jq '.syscalls[0].names -= ["sgetmask"]' "$WORK/c.json" >"$WORK/c2.json"
        sk_out run --rm -v "$MIX:/mix:ro" --security-opt seccomp="$WORK/c2.json" busybox /mix compat
        [ "$output" = "compat sgetmask: -1" ] || fail "without sgetmask: $output"
}

t_run_flag() {
        sk_out run --rm --seccomp-record "$WORK/r.json" busybox sh -c 'uname -n >/dev/null; echo done'
        expect_status 0
        [ "$output" = done ] || fail "output: $output"
        has_name "$WORK/r.json" uname
        sk run -d --seccomp-record "$WORK/r.json" busybox true
        expect_status 125
        expect_output_has "Conflicting options: --seccomp-record and -d"
        sk create --seccomp-record "$WORK/r.json" busybox true
        expect_status 125
        expect_output_has "seccomp-record"
}

t_base_merge() {
        cat >"$WORK/base.json" <<'B'
{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
  {"names": ["acct", "uname"], "action": "SCMP_ACT_ALLOW"},
  {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
  {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]}
B
        sk_out seccomp record -o "$WORK/m.json" --base "$WORK/base.json" -- busybox true
        expect_status 0
        has_name "$WORK/m.json" acct
        has_name "$WORK/m.json" uname
        has_name "$WORK/m.json" execve
        names "$WORK/m.json" | grep -qx mkdir && fail "an ERRNO rule of the base became an allow"
        jq -e '[.syscalls[] | select(.names == ["personality"])] | length == 1 and .[0].args[0].value == 0' "$WORK/m.json" >/dev/null ||
                fail "personality's rule: $(cat "$WORK/m.json")"
        jq -e '.syscalls[0].names == (.syscalls[0].names | sort)' "$WORK/m.json" >/dev/null || fail "not sorted"
        # a base that is not JSON fails before anything runs
        echo '{"syscalls": [' >"$WORK/badbase.json"
        sk seccomp record -o "$WORK/m2.json" --base "$WORK/badbase.json" -- busybox true
        expect_status 125
        expect_output_has "line 2 column"
        [ ! -e "$WORK/m2.json" ] || fail "profile written"
}

t_args() {
        sk_out seccomp record --args -o "$WORK/a.json" -- busybox sh -c 'nc 127.0.0.1 9 </dev/null 2>&1; (true) & wait; true'
        jq -e '[.syscalls[] | select(.names == ["socket"]) | .args[0]] | any(.value == 2 and .op == "SCMP_CMP_EQ")' "$WORK/a.json" >/dev/null ||
                fail "no socket(AF_INET) rule: $(cat "$WORK/a.json")"
        names "$WORK/a.json" | grep -qx socket && fail "socket allowed outright with --args"
        # the workload still runs (connection refused, not EPERM), and another family is refused
        sk run --rm --security-opt seccomp="$WORK/a.json" busybox sh -c 'nc 127.0.0.1 9 </dev/null 2>&1; (true) & wait; true'
        expect_status 0
        expect_output_has "Connection refused"
        sk run --rm --security-opt seccomp="$WORK/a.json" busybox sh -c 'nc ::1 9 </dev/null 2>&1; (true) & wait; true'
        expect_output_has "not permitted"
}

t_check_diff_default() {
        sk_out seccomp record -o "$WORK/p.json" -- busybox true
        sk_out seccomp check "$WORK/p.json"
        expect_status 0
        [[ "$output" =~ ^$WORK/p.json:\ valid,\ [0-9]+\ BPF\ instructions$ ]] || fail "check: $output"
        printf '{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [,]\n}\n' >"$WORK/bad.json"
        sk seccomp check "$WORK/bad.json"
        expect_status 125
        expect_output_has "line 3 column"
        echo '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "nosuch1", "nosuch2"], "action": "SCMP_ACT_ALLOW"}]}' >"$WORK/u.json"
        sk_out seccomp check "$WORK/u.json"
        expect_status 0
        expect_output_has "unknown syscalls (skipped): nosuch1 nosuch2"
        sk seccomp check "$WORK/missing.json"
        expect_status 125
        expect_output_has "missing.json: No such file or directory"
        echo '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]}' >"$WORK/act.json"
        sk seccomp check "$WORK/act.json"
        expect_status 125
        expect_output_has "SCMP_ACT_NOPE"
        # diff
        jq '.syscalls[0].names += ["uname"] | .syscalls[0].names -= ["brk"] | .syscalls += [{"names": ["write"], "action": "SCMP_ACT_LOG"}]' \
                "$WORK/p.json" >"$WORK/p2.json"
        sk_out seccomp diff "$WORK/p.json" "$WORK/p2.json"
        expect_status 1
        [ "$output" = "$(printf -- '- brk (SCMP_ACT_ALLOW)\n+ uname (SCMP_ACT_ALLOW)\n~ write: SCMP_ACT_ALLOW -> SCMP_ACT_ALLOW | SCMP_ACT_LOG')" ] ||
                fail "diff: $output"
        sk_out seccomp diff "$WORK/p.json" "$WORK/p.json"
        expect_status 0
        [ -z "$output" ] || fail "diff of a profile with itself: $output"
        # default: Docker's form, and check compiles it
        sk_out seccomp default
        expect_status 0
        echo "$output" >"$WORK/d.json"
        jq -e '.defaultAction == "SCMP_ACT_ERRNO" and (.archMap | length) > 0 and (.syscalls | length) > 10' "$WORK/d.json" >/dev/null ||
                fail "default profile shape"
        sk_out seccomp check "$WORK/d.json"
        expect_status 0
        diag "default profile: $output"
}

t_errors() {
        command -v setpriv >/dev/null || fail "no setpriv (util-linux, which tools/setup.sh installs)"
        # without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN the recorder says what is missing
        status=0
        output=$(setpriv --bounding-set -bpf,-perfmon,-sys_admin --inh-caps -bpf,-perfmon,-sys_admin \
                "$STOCKADE" seccomp record --recorder bpf -o "$WORK/e.json" -- busybox true 2>&1) || status=$?
        [ "$status" -eq 125 ] || fail "status $status: $output"
        expect_output_has "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
        [ ! -e "$WORK/e.json" ] || fail "a profile was written"
        [ -z "$(all_container_ids)" ] || fail "the container was left behind"
        # with no recorder asked for, the same says why and falls back to notify (here the run itself then
        # fails: mounting needs CAP_SYS_ADMIN too)
        status=0
        output=$(setpriv --bounding-set -bpf,-perfmon,-sys_admin --inh-caps -bpf,-perfmon,-sys_admin \
                "$STOCKADE" seccomp record -o "$WORK/e.json" -- busybox true 2>&1) || status=$?
        expect_output_has "WARNING: seccomp record: the eBPF recorder needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root; or use --recorder notify; recording with the notify fallback instead"
        sk seccomp record -- busybox true
        expect_status 125
        expect_output_has "-o FILE is required"
        sk seccomp record -o "$WORK/e.json" --recorder nope -- busybox true
        expect_status 125
        expect_output_has '"nope" is not a recorder'
        sk run --rm --security-opt seccomp="$WORK/none.json" busybox true
        expect_status 125
        expect_output_has "none.json"
}

t_notify_fallback() {
        # forced with the flag: the same workload, its replay, mkdir refused
        sk_out seccomp record --recorder notify -o "$WORK/nt.json" -- busybox sh -c "$WORKLOAD"
        expect_status 0
        [ "$output" = "$(printf 'hi\n3')" ] || fail "recorded run's output: $output"
        has_name "$WORK/nt.json" getdents64
        has_name "$WORK/nt.json" sendmsg   # never notified, always added (so are close, dup*, fcntl)
        has_name "$WORK/nt.json" close
        names "$WORK/nt.json" | grep -qx mkdir && fail "mkdir recorded"
        sk_out run --rm --security-opt seccomp="$WORK/nt.json" busybox sh -c "$WORKLOAD"
        expect_status 0
        sk run --rm --security-opt seccomp="$WORK/nt.json" busybox sh -c 'mkdir /tmp/x'
        expect_output_has "Operation not permitted"
        # forced with the environment, on forks, pipelines and threads, with --args
        status=0
        output=$(STOCKADE_SECCOMP_RECORDER=notify timeout 120 "$STOCKADE" seccomp record --args -o "$WORK/nf.json" -- busybox sh -c \
                '(mkdir /tmp/a) & wait; echo x | (uname -n >/dev/null; cat) | cat; nc 127.0.0.1 9 </dev/null 2>&1; true') || status=$?
        expect_status 0
        has_name "$WORK/nf.json" mkdir
        has_name "$WORK/nf.json" uname
        jq -e '[.syscalls[] | select(.names == ["socket"]) | .args[0].value] == [2]' "$WORK/nf.json" >/dev/null ||
                fail "socket rules: $(jq -c .syscalls "$WORK/nf.json")"
        if [ -x "$MIX" ]; then
                sk_out seccomp record --recorder notify -o "$WORK/nth.json" -- -v "$MIX:/mix:ro" busybox /mix threads
                expect_status 0
                for n in getpriority sched_getscheduler getitimer times; do has_name "$WORK/nth.json" $n; done
                sk run --rm -v "$MIX:/mix:ro" --security-opt seccomp="$WORK/nth.json" busybox /mix threads
                expect_status 0
        fi
        # a kept container gets its own profile back: it starts again without the recorder
        status=0
        output=$(STOCKADE_SECCOMP_RECORDER=notify "$STOCKADE" run --name keep --seccomp-record "$WORK/k.json" busybox echo once 2>&1) || status=$?
        expect_status 0
        has_name "$WORK/k.json" write
        [ "$("$STOCKADE" inspect -f '{{json .HostConfig.SecurityOpt}}' keep)" = "[]" ] || fail "SecurityOpt left changed"
        sk_out start -a keep
        expect_status 0
        [ "$output" = once ] || fail "restart: $output"
        sk rm keep
        # the bpf recording of the same workload has nothing the notify one lacks
        sk_out seccomp record -o "$WORK/bp.json" -- busybox sh -c "$WORKLOAD"
        sk_out seccomp diff "$WORK/nt.json" "$WORK/bp.json"
        case "$output" in *"+ "*) fail "bpf saw what notify did not: $output" ;; esac
        diag "notify minus bpf: $(echo "$output" | tr '\n' ' ')"
}

t_pure_v2() {
        # On a hybrid host, the same cgroup2 hierarchy alone at /sys/fs/cgroup in a private mount
        # namespace is the pure-v2 layout (the VM lane runs a real one): the recorder finds the
        # container's cgroup the way the runtime makes it there.
        if ! grep -q ' /sys/fs/cgroup/unified .* - cgroup2 ' /proc/self/mountinfo; then
                grep -q ' /sys/fs/cgroup .* - cgroup2 ' /proc/self/mountinfo || skip "no cgroup2 hierarchy"
        fi
        local w='echo v2; ls / | wc -l; (uname -n >/dev/null) & wait'
        status=0
        output=$(unshare -m --propagation private bash -c '
                umount -R -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup || exit 99
                "$0" seccomp record -o "$1/v2.json" -- busybox sh -c "$2" || exit 1
                "$0" run --rm --security-opt seccomp="$1/v2.json" busybox sh -c "$2" || exit 2
                "$0" run --rm --security-opt seccomp="$1/v2.json" busybox mkdir /tmp/q && exit 3
                exit 0' "$STOCKADE" "$WORK" "$w" 2>&1) || status=$?
        [ "$status" -ne 99 ] || skip "cannot mount cgroup2 in a mount namespace"
        expect_status 0
        expect_output_has "Operation not permitted"
        has_name "$WORK/v2.json" uname
}

t_hook_stamp() {
        # a kernel that refuses fentry on the syscall dispatchers is noted for this boot (exec root,
        # with the boot id) so later recordings skip the attempt; a stamp from another boot is not trusted
        local stamp=$STOCKADE_EXEC_ROOT/seccomp-record-tracepoint boot
        boot=$(cat /proc/sys/kernel/random/boot_id)
        echo 00000000-0000-0000-0000-000000000000 >"$stamp"
        sk_out seccomp record -o "$WORK/h1.json" -- busybox sh -c "$WORKLOAD"
        expect_status 0
        case $(cat "$stamp") in
        "$boot") diag "fentry refused on this kernel: noted for boot $boot" ;;
        00000000-0000-0000-0000-000000000000) diag "fentry attached: nothing noted" ;;
        *) fail "stamp: $(cat "$stamp")" ;;
        esac
        # with whatever is noted now, the next recording finds the same calls
        sk_out seccomp record -o "$WORK/h2.json" -- busybox sh -c "$WORKLOAD"
        expect_status 0
        [ "$output" = "$(printf 'hi\n3')" ] || fail "output: $output"
        [ "$(names "$WORK/h1.json")" = "$(names "$WORK/h2.json")" ] ||
                fail "recordings differ: $(diff <(names "$WORK/h1.json") <(names "$WORK/h2.json") | tr '\n' ' ')"
}

run_test "a recorded busybox workload runs under its profile; mkdir, not recorded, fails with EPERM" t_record_replay_deny
run_test "the runtime's own calls after the filter: with and without no-new-privileges" t_nnp_runtime_calls
run_test "forked children and pipelines are recorded" t_forks_and_pipelines
run_test "every thread's syscalls are recorded" t_threads
run_test "a 32-bit (int 0x80) call is recorded under its x86 name" t_compat
run_test "run --seccomp-record FILE" t_run_flag
run_test "--base: union of the allow lists" t_base_merge
run_test "--args: socket family rules" t_args
run_test "check, diff, default" t_check_diff_default
run_test "the notify fallback (--recorder notify, STOCKADE_SECCOMP_RECORDER=notify)" t_notify_fallback
run_test "pure cgroup v2 layout: recorded, replayed, mkdir refused" t_pure_v2
run_test "fentry refusal noted per boot; the next recording is the same" t_hook_stamp
run_test "errors: missing capabilities, flags, missing profile" t_errors
finish
