#!/bin/bash
# Security options on the real kernel: the built-in default seccomp profile (Docker's semantics,
# conditioned on the container's capabilities), Docker-format profiles, defaultErrnoRet, the ENOSYS
# stub, capabilities by name and ALL, no-new-privileges against a setuid binary, and AppArmor's clear
# error where the kernel has none (enforcement runs in the VM lane).
source "$(dirname "$0")/lib.sh"

# x86_64 syscall numbers (the test helper's `syscall NR ARGS` makes one raw call)
NR_personality=135 NR_unshare=272 NR_setns=308 NR_keyctl=250 NR_clone3=435 NR_socket=41 NR_getpid=39
NR_mount=165 NR_bpf=321 NR_acct=163

need_x86_64() {
        [ "$(uname -m)" = x86_64 ] || skip "the syscall numbers here are x86_64's"
}

default_profile() {
        "$RUNTIME" seccomp default
}

# probes run by the container: one line each, "syscall NR: ok" or "syscall NR: ENAME (text)"
PROBES="/init syscall $NR_getpid; /init syscall $NR_unshare 0; /init syscall $NR_setns -1 0;
        /init syscall $NR_keyctl 0 -1; /init syscall $NR_personality 0; /init syscall $NR_personality 0x400000;
        /init syscall $NR_clone3 0 0; /init syscall $NR_socket 40 1 0; /init syscall $NR_socket 1 1 0;
        /init syscall 1000; true"

t_default_profile() {
        need_x86_64
        default_profile >"$WORK/default.json"
        # Without the filter: the calls the profile refuses work or fail for other reasons.
        new_bundle sc-none /bin/sh -c "$PROBES"
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "syscall $NR_unshare: ok"
        assert_output_contains "syscall $NR_setns: EBADF"
        assert_output_contains "syscall $NR_personality: ok"
        refute_output_contains "syscall $NR_clone3: ENOSYS"
        # With it (the spec's three capabilities: no CAP_SYS_ADMIN)
        new_bundle sc-default /bin/sh -c "$PROBES"
        cfg sc-default '.linux.seccomp = $p[0]' --slurpfile p "$WORK/default.json"
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "syscall $NR_getpid: ok"
        assert_output_contains "syscall $NR_unshare: EPERM"
        assert_output_contains "syscall $NR_setns: EPERM"
        assert_output_contains "syscall $NR_keyctl: EPERM"
        assert_output_contains "syscall $NR_personality: ok"
        assert_output_contains "syscall $NR_personality: EPERM"
        assert_output_contains "syscall $NR_clone3: ENOSYS"
        assert_output_contains "syscall $NR_socket: EPERM"   # AF_VSOCK
        assert_output_contains "syscall $NR_socket: ok"      # AF_UNIX
        assert_output_contains "syscall 1000: ENOSYS"
        # busybox itself runs normally under it
        new_bundle sc-default-sh /bin/sh -c 'ls / >/dev/null && echo listed; mount -t tmpfs t /mnt || echo mount-refused'
        cfg sc-default-sh '.linux.seccomp = $p[0]' --slurpfile p "$WORK/default.json"
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "listed"
        assert_output_contains "mount-refused"
}

t_default_profile_follows_caps() {
        need_x86_64
        default_profile >"$WORK/default.json"
        new_bundle sc-admin /bin/sh -c "/init syscall $NR_unshare 0; /init syscall $NR_setns -1 0; /init syscall $NR_clone3 0 0;
                mount -t tmpfs t /tmp && echo mounted"
        cfg sc-admin '.linux.seccomp = $p[0] | .root.readonly = false
                | .process.capabilities |= with_entries(.value += ["CAP_SYS_ADMIN"])' --slurpfile p "$WORK/default.json"
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "syscall $NR_unshare: ok"
        assert_output_contains "syscall $NR_setns: EBADF"
        refute_output_contains "syscall $NR_clone3: ENOSYS"
        assert_output_contains "mounted"
}

t_exec_gets_the_filter() {
        need_x86_64
        default_profile >"$WORK/default.json"
        new_bundle sc-exec
        cfg sc-exec '.linux.seccomp = $p[0]' --slurpfile p "$WORK/default.json"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        in_ctr "$CID" /init syscall $NR_unshare 0
        assert_output_contains "syscall $NR_unshare: EPERM"
        rt delete --force "$CID"
}

t_default_errno_ret() {
        need_x86_64
        new_bundle sc-errno /bin/sh -c "/init syscall $NR_unshare 0; /init syscall $NR_getpid"
        cfg sc-errno '.linux.seccomp = ($p[0] | .defaultErrnoRet = 38)' --slurpfile p <(default_profile)
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "syscall $NR_unshare: ENOSYS"
        assert_output_contains "syscall $NR_getpid: ok"
}

t_docker_format_profile() {
        need_x86_64
        # The legacy "name", comment, includes/excludes by caps: as dockerd reads them.  The spec's
        # bounding set holds CAP_KILL, not CAP_SYS_ADMIN.
        new_bundle sc-docker /bin/sh -c "/init syscall $NR_acct 0; /init syscall $NR_bpf 0 0 0; /init syscall $NR_keyctl 0 -1;
                /init syscall $NR_setns -1 0"
        cfg sc-docker '.linux.seccomp = ($p[0] | .syscalls += [
                {name: "acct", action: "SCMP_ACT_ERRNO", errnoRet: 13, comment: "refused with EACCES"},
                {names: ["bpf"], action: "SCMP_ACT_ERRNO", errnoRet: 42, includes: {caps: ["CAP_KILL"]}},
                {names: ["keyctl"], action: "SCMP_ACT_ERRNO", errnoRet: 42, includes: {caps: ["CAP_SYS_ADMIN"]}},
                {names: ["setns"], action: "SCMP_ACT_ERRNO", errnoRet: 42, excludes: {caps: ["KILL"]}}])' \
                --slurpfile p <(default_profile)
        rt run --bundle "$BUNDLE" "$CID"
        assert_output_contains "syscall $NR_acct: EACCES"
        assert_output_contains "syscall $NR_bpf: errno 42"
        assert_output_contains "syscall $NR_keyctl: EPERM"
        assert_output_contains "syscall $NR_setns: EPERM"
}

t_profile_errors() {
        new_bundle sc-bad /init true
        cfg sc-bad '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", syscalls: [{names: ["read"], action: "SCMP_ACT_ALLOW",
                includes: {minKernel: "five"}}]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.seccomp.syscalls[0].includes.minKernel: "five" is not a kernel version X.Y'
        new_bundle sc-bad2 /init true
        cfg sc-bad2 '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
                archMap: [{architecture: "SCMP_ARCH_X86_64", subArchitectures: []}]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'give "architectures" or "archMap", not both'
        new_bundle sc-bad3 /init true
        cfg sc-bad3 '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", syscalls: [{action: "SCMP_ACT_ALLOW"}]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.seccomp.syscalls[0]: needs "names"'
}

t_caps_by_name_and_all() {
        new_bundle sc-caps-all /init caps
        cfg sc-caps-all '.process.capabilities.bounding = ["ALL"] | .process.capabilities.effective = ["sys_admin", "KILL"]
                | .process.capabilities.permitted = ["CAP_SYS_ADMIN", "kill"]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        # ALL: every capability the runtime itself holds (here CAP_SYS_RESOURCE may be missing)
        assert_eq "$(sed -n 's/^CapBnd=//p' <<<"$output")" "$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)" \
                "ALL is the runtime's whole bounding set"
        # CAP_KILL (5) and CAP_SYS_ADMIN (21)
        assert_eq "$(sed -n 's/^CapEff=//p' <<<"$output")" 0000000000200020 "names without CAP_, any case"
}

t_nnp_blocks_setuid() {
        # A setuid-root copy of the helper, run by uid 1000: without no_new_privs it becomes euid 0.
        new_bundle sc-suid /suid-init status
        cp "$BUNDLE/rootfs/init" "$BUNDLE/rootfs/suid-init"
        chown 0:0 "$BUNDLE/rootfs/suid-init"
        chmod 4755 "$BUNDLE/rootfs/suid-init"
        cfg sc-suid '.process.user = {uid: 1000, gid: 1000} | .process.noNewPrivileges = false'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep '^Uid:' <<<"$output")" '^Uid:[[:space:]]+1000[[:space:]]+0[[:space:]]' \
                "the setuid bit works without no_new_privs"
        new_bundle sc-suid-nnp /suid-init status
        cp "$WORK/bundles/sc-suid/rootfs/suid-init" "$BUNDLE/rootfs/suid-init"
        chown 0:0 "$BUNDLE/rootfs/suid-init"
        chmod 4755 "$BUNDLE/rootfs/suid-init"
        cfg sc-suid-nnp '.process.user = {uid: 1000, gid: 1000} | .process.noNewPrivileges = true'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep '^Uid:' <<<"$output")" '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]' \
                "no_new_privs keeps euid 1000"
}

t_apparmor_without_kernel_support() {
        if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
                skip "AppArmor is enabled here: the refusal path needs a kernel without it (enforcement: VM lane)"
        fi
        new_bundle aa-refused /init true
        cfg aa-refused '.process.apparmorProfile = "docker-default"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'process.apparmorProfile: "docker-default" cannot be applied: AppArmor is not enabled in this kernel'
        [ -z "$(state_of "$CID")" ] || fail "a refused container was left"
        new_bundle aa-unconfined /init true
        cfg aa-unconfined '.process.apparmorProfile = "unconfined"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        new_bundle aa-exec
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec --apparmor docker-default "$CID" /init true
        assert_failure
        assert_output_contains 'exec: --apparmor: "docker-default" cannot be applied'
        rt delete --force "$CID"
}

t_seccomp_default_command() {
        rt seccomp default
        assert_success
        jq -e '.defaultAction == "SCMP_ACT_ERRNO" and .defaultErrnoRet == 1 and (.archMap | length) > 0
                and ([.syscalls[] | select(.includes.caps == ["CAP_SYS_ADMIN"]) | .names[]] | index("mount") != null)
                and ([.syscalls[0].names[]] | index("mount") == null)' "$RT_OUT" >/dev/null ||
                fail "the default profile is not Docker-shaped"
        rt seccomp nonsense
        assert_failure
        assert_output_contains "usage: stockade-runtime seccomp default"
}

LISTENER=${STOCKADE_TEST_LISTENER:-$REPO_ROOT/build/tests/stockade-test-seccomp-listener}

t_notify() {
        need_x86_64
        [ -x "$LISTENER" ] || fail "$LISTENER not built"
        local sock=$WORK/listener.sock out=$WORK/listener.out lpid
        "$LISTENER" "$sock" "$out" 133 >"$WORK/listener.log" 2>&1 &
        lpid=$!
        for _ in $(seq 50); do grep -q listening "$WORK/listener.log" 2>/dev/null && break; sleep 0.1; done
        # mount is refused by the default profile; here it is notified, and the listener answers EHWPOISON (133)
        new_bundle sc-notify /bin/sh -c "/init syscall $NR_mount; /init pause"
        cfg sc-notify '.linux.seccomp = ($p[0] | .listenerPath = $sock | .listenerMetadata = "meta-1"
                | .syscalls += [{names: ["mount"], action: "SCMP_ACT_NOTIFY"}])' --slurpfile p <(default_profile) --arg sock "$sock"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
        in_ctr "$CID" /init syscall $NR_mount
        assert_output_contains "syscall $NR_mount: errno 133"
        local pid
        pid=$(state_of "$CID" pid)
        kill "$lpid"
        assert_eq "$(wc -l <"$out")" 2 "one message for the init, one for the exec'd process"
        jq -s -e --arg id "$CID" --argjson pid "$pid" 'any(.[]; .state.id == $id and .pid == $pid and .metadata == "meta-1"
                and .fds == ["seccompFd"] and .ociVersion != null)' "$out" >/dev/null ||
                fail "no ContainerProcessState for the init: $(cat "$out")"
        jq -s -e --arg id "$CID" --argjson pid "$pid" 'any(.[]; .state.id == $id and .state.status == "running" and .pid != $pid)' \
                "$out" >/dev/null ||
                fail "no ContainerProcessState for the exec'd process: $(cat "$out")"
        rt delete --force "$CID"
}

t_notify_errors() {
        new_bundle sc-notify-bad /init true
        cfg sc-notify-bad '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mount"], action: "SCMP_ACT_NOTIFY"}]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"
        new_bundle sc-notify-default /init true
        cfg sc-notify-default '.linux.seccomp = {defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/run/x.sock"}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "SCMP_ACT_NOTIFY cannot be the default action"
        new_bundle sc-notify-sendmsg /init true
        cfg sc-notify-sendmsg '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/x.sock",
                syscalls: [{names: ["sendmsg"], action: "SCMP_ACT_NOTIFY"}]}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "SCMP_ACT_NOTIFY on sendmsg would block"
        new_bundle sc-notify-nolistener /init true
        cfg sc-notify-nolistener '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: $p,
                syscalls: [{names: ["mount"], action: "SCMP_ACT_NOTIFY"}]}' --arg p "$WORK/nobody-listens.sock"
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.seccomp.listenerPath: connecting to $WORK/nobody-listens.sock"
        [ -z "$(state_of "$CID")" ] || fail "a failed container was left"
}

run_test "the default profile refuses escapes, keeps ordinary syscalls, ENOSYS for clone3 and newer" t_default_profile
run_test "the default profile follows the capabilities: CAP_SYS_ADMIN allows mount, unshare, setns" t_default_profile_follows_caps
run_test "an exec'd process gets the container's filter" t_exec_gets_the_filter
run_test "defaultErrnoRet 38 gives ENOSYS" t_default_errno_ret
run_test "Docker-format entries: legacy name, comment, includes by caps" t_docker_format_profile
run_test "bad profiles fail with the JSON path" t_profile_errors
run_test "capabilities by bare or lower-case name, and ALL" t_caps_by_name_and_all
run_test "no-new-privileges stops a setuid-root binary" t_nnp_blocks_setuid
run_test "AppArmor on a kernel without it: a clear error, unconfined runs" t_apparmor_without_kernel_support
run_test "seccomp default prints a Docker-format profile" t_seccomp_default_command
run_test "SCMP_ACT_NOTIFY: the listener gets the fd and ContainerProcessState, answers for init and exec" t_notify
run_test "SCMP_ACT_NOTIFY errors: no listenerPath, default action, sendmsg, nobody listening" t_notify_errors
finish
