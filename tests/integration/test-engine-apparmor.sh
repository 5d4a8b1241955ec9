#!/bin/bash
# The engine's AppArmor profiles (docs/SECCOMP.md, "AppArmor"): stockade-default applied to every
# unprivileged container where AppArmor is enabled and skipped silently where it is not,
# --security-opt apparmor=NAME loaded from /etc/apparmor.d, `stockade apparmor default|load`.
#
# Each test checks what this machine allows: where AppArmor is enabled (the VM lane runs this file
# in its guest, tests/integration/test-vm-cgroup2.sh) the confinement itself; where it is not (the
# project's hosts) that the default is skipped and explicit profiles are refused with a reason.
source "$(dirname "$0")/engine-lib.sh"

TAG=$$
AA_DIR=/etc/apparmor.d

aa_enabled() {
        [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]
}

aa_loaded() {
        grep -q "^$1 (" /sys/kernel/security/apparmor/profiles
}

# The spec the engine wrote for container $1.
spec_of() {
        local id
        id=$("$STOCKADE" inspect --format '{{.Id}}' "$1")
        cat "$STOCKADE_DATA_ROOT/containers/$id/bundle/config.json"
}

t_aa_default_profile() {
        sk_out apparmor default
        expect_status 0
        expect_output_has "profile stockade-default flags=(attach_disconnected,mediate_deleted) {"
        expect_output_has "deny mount,"
        expect_output_has "deny @{PROC}/sys/kernel/{s,sh,[^s]**,s[^h]**,sh[^m]**} w,"
        expect_output_has "deny /sys/kernel/security/** rwklx,"
        expect_output_has "ptrace (trace,read,tracedby,readby) peer=stockade-default,"
        [ -z "$errout" ] || fail "stderr: $errout"
        # abi and includes only where this machine has them
        if [ -e $AA_DIR/abi/3.0 ]; then expect_output_has "abi <abi/3.0>,"; else case $output in *"abi <"*) fail "abi line without $AA_DIR/abi/3.0" ;; esac; fi
        if [ -e $AA_DIR/tunables/global ]; then expect_output_has "#include <tunables/global>"; else expect_output_has "@{PROC}=/proc/"; fi
        # the parser accepts it (-Q: parse and check only, nothing is loaded; works without AppArmor)
        local parser
        parser=$(PATH=$PATH:/usr/sbin:/sbin command -v apparmor_parser) ||
                skip "no apparmor_parser (tools/setup.sh installs the apparmor package)"
        printf '%s\n' "$output" >"$WORK/default.profile"
        "$parser" -Q -K "$WORK/default.profile" >"$WORK/parse.log" 2>&1 || fail "apparmor_parser -Q: $(cat "$WORK/parse.log")"
        # it takes no arguments
        sk apparmor default extra
        expect_status 125
        expect_output_has "accepts no arguments"
}

t_aa_default_applied() {
        if ! aa_enabled; then
                # as Docker: no AppArmor, no default profile, and not a word about it
                sk_out run -d --name aa-off busybox sleep 30
                expect_status 0
                [ -z "$errout" ] || fail "the skipped default printed: $errout"
                spec_of aa-off | jq -e '.process | has("apparmorProfile") | not' >/dev/null ||
                        fail "apparmorProfile set without AppArmor: $(spec_of aa-off | jq -c .process)"
                sk rm -f aa-off
                sk run --rm busybox echo fine
                expect_status 0
                [ "$output" = fine ] || fail "output: $output"
                return 0
        fi
        # first use loads it (unload it first, so the test sees the engine do it)
        if aa_loaded stockade-default; then
                printf 'profile stockade-default {}\n' >"$WORK/unload.profile"
                apparmor_parser -R "$WORK/unload.profile" >/dev/null 2>&1 || fail "could not unload stockade-default"
        fi
        sk run --rm busybox cat /proc/self/attr/current
        expect_status 0
        expect_output_has "stockade-default (enforce)"
        aa_loaded stockade-default || fail "stockade-default is not loaded after the run"
        # an older text loaded (as after an upgrade of stockade): the stamp on /run differs, so the
        # next container replaces it, and the stamp records the current text again
        local stamp=/run/stockade/apparmor-default.hash good
        good=$(cat "$stamp") || fail "no stamp $stamp after loading stockade-default"
        printf 'profile stockade-default flags=(complain) {\n  file,\n}\n' >"$WORK/old.profile"
        apparmor_parser -r "$WORK/old.profile" >/dev/null 2>&1 || fail "could not load an old stockade-default"
        echo 0000000000000000 >"$stamp"
        sk run --rm busybox cat /proc/self/attr/current
        expect_output_has "stockade-default (enforce)"
        [ "$(cat "$stamp")" = "$good" ] || fail "stamp after the reload: $(cat "$stamp")"
        # /proc/sys/kernel/hostname and domainname (the UTS namespace's): /proc/sys is read-only by
        # default, so systempaths=unconfined makes the mount writable: the writes are then AppArmor's
        # to refuse (domainname is one docker-default lets through); shm* stays writable
        local f
        for f in hostname domainname; do
                sk run --rm --security-opt systempaths=unconfined busybox sh -c \
                        "echo aa-test > /proc/sys/kernel/$f && echo write-ok; cat /proc/sys/kernel/$f"
                expect_status 0
                expect_output_has "can't create /proc/sys/kernel/$f: Permission denied"
                case $output in *write-ok* | *aa-test*) fail "the write to $f went through: $output" ;; esac
                # the same without the profile succeeds: the refusal above was AppArmor's
                sk run --rm --security-opt systempaths=unconfined --security-opt apparmor=unconfined busybox sh -c \
                        "cat /proc/self/attr/current; echo aa-test > /proc/sys/kernel/$f && echo write-ok; cat /proc/sys/kernel/$f"
                expect_status 0
                expect_output_has "write-ok"
                expect_output_has "aa-test"
        done
        sk run --rm --security-opt systempaths=unconfined busybox sh -c 'echo 4097 > /proc/sys/kernel/shmmni && cat /proc/sys/kernel/shmmni'
        expect_status 0
        [ "$output" = 4097 ] || fail "shmmni under stockade-default: $output"
        # /proc/sysrq-trigger and /sys/kernel/security are denied even for reading
        sk run --rm --security-opt systempaths=unconfined busybox sh -c 'cat /proc/sysrq-trigger; echo done'
        expect_output_has "Permission denied"
        # mount is denied even with CAP_SYS_ADMIN (seccomp allows it then)
        sk run --rm --cap-add SYS_ADMIN busybox sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted'
        case $output in *mounted*) fail "mount under stockade-default: $output" ;; esac
        sk run --rm --cap-add SYS_ADMIN --security-opt apparmor=unconfined busybox sh -c 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted'
        expect_output_has "mounted"
        # --privileged runs unconfined, as Docker
        sk run --rm --privileged busybox cat /proc/self/attr/current
        expect_status 0
        expect_output_has "unconfined"
        # exec'd processes get the container's profile
        sk run -d --name aa-exec busybox sleep 30
        expect_status 0
        sk exec aa-exec cat /proc/self/attr/current
        expect_output_has "stockade-default (enforce)"
        sk rm -f aa-exec
}

t_aa_peers() {
        aa_enabled || skip "this kernel has no AppArmor (the VM lane runs this test)"
        local victim
        sleep 300 </dev/null >/dev/null 2>&1 &
        victim=$!
        trap "kill $victim 2>/dev/null || true" EXIT
        # a host process seen through --pid host: reading its environ is a ptrace read, and TERM a
        # signal to a peer outside the profile; CAP_SYS_PTRACE lets both through as far as
        # capabilities go, so what refuses them is AppArmor
        sk run --rm --pid host --cap-add SYS_PTRACE busybox sh -c \
                "cat /proc/$victim/environ >/dev/null && echo read-ok; kill -TERM $victim && echo kill-ok; echo end"
        expect_status 0
        expect_output_has end
        case $output in *read-ok* | *kill-ok*) fail "a confined container reached a host process: $output" ;; esac
        expect_output_has "Permission denied"
        kill -0 "$victim" || fail "the host process died"
        sk run --rm --pid host --cap-add SYS_PTRACE --security-opt apparmor=unconfined busybox sh -c \
                "cat /proc/$victim/environ >/dev/null && echo read-ok; kill -TERM $victim && echo kill-ok"
        case $output in *read-ok*kill-ok*) ;; *) fail "unconfined, the same did not work: $output" ;; esac
}

t_aa_explicit_profile() {
        local name=stockade-test-noshadow-$TAG bad=stockade-test-bad-$TAG
        if ! aa_enabled; then
                sk run --rm --security-opt apparmor=$name busybox true
                expect_status 125
                expect_output_has "--security-opt apparmor=$name: AppArmor is not enabled in this kernel"
                [ -z "$(all_container_ids)" ] || fail "a refused container was created"
                # unconfined is no profile: fine anywhere
                sk run --rm --security-opt apparmor=unconfined busybox echo fine
                expect_status 0
                return 0
        fi
        # expanded now: the function's locals are gone when the subshell exits
        trap "apparmor_parser -R '$AA_DIR/$name' >/dev/null 2>&1; rm -f '$AA_DIR/$name' '$AA_DIR/$bad'" EXIT
        cat >"$AA_DIR/$name" <<EOF
abi <abi/3.0>,
#include <tunables/global>
profile $name flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  file,
  network,
  capability,
  umount,
  signal,
  ptrace,
  unix,
  audit deny /etc/shadow r,
}
EOF
        ! aa_loaded "$name" || fail "$name is loaded before the test"
        sk run --rm --security-opt apparmor=$name busybox sh -c \
                'echo root:x:1:: > /etc/shadow; cat /proc/self/attr/current; cat /etc/shadow || echo read-denied; cat /etc/passwd >/dev/null && echo passwd-ok'
        expect_status 0
        expect_output_has "$name (enforce)"
        expect_output_has "read-denied"
        expect_output_has "passwd-ok"
        aa_loaded "$name" || fail "$name was not loaded from $AA_DIR"
        # audit deny: the kernel's log names the profile and the file
        if dmesg >/dev/null 2>&1; then
                dmesg | grep 'apparmor="DENIED"' | grep "profile=\"$name\"" | grep -q 'name="/etc/shadow"' ||
                        fail "no denial in the kernel log: $(dmesg | grep apparmor= | tail -n 3)"
        fi
        # without the profile the same read works
        sk run --rm busybox sh -c 'echo root:x:1:: > /etc/shadow; cat /etc/shadow'
        expect_output_has "root:x:1::"
        # no file to load it from
        sk run --rm --security-opt apparmor=stockade-test-missing-$TAG busybox true
        expect_status 125
        expect_output_has "no AppArmor profile \"stockade-test-missing-$TAG\" is loaded and there is no $AA_DIR/stockade-test-missing-$TAG"
        # a file the parser refuses: its own message is passed on
        printf 'profile %s {\n  /etc/shadow rwq,\n}\n' "$bad" >"$AA_DIR/$bad"
        sk run --rm --security-opt apparmor=$bad busybox true
        expect_status 125
        expect_output_has "--security-opt apparmor=$bad: "
        expect_output_has "apparmor_parser failed (exit status"
        expect_output_has "$AA_DIR/$bad"
        # the profile is loaded at start: the refused containers were created but never ran
        local id
        for id in $(all_container_ids); do
                [ "$("$STOCKADE" inspect --format '{{.State.Running}}' "$id")" = false ] || fail "container $id runs"
                sk rm -f "$id"
        done
}

t_aa_load_command() {
        local name=stockade-test-load-$TAG
        sk apparmor load "$WORK/no-such-profile"
        expect_status 125
        expect_output_has "apparmor load: $WORK/no-such-profile: No such file or directory"
        cat >"$WORK/good.profile" <<EOF
profile $name {
  file,
  deny /etc/shadow r,
}
EOF
        printf 'profile %s {\n  /etc/shadow rwq,\n}\n' "$name" >"$WORK/bad.profile"
        if ! aa_enabled; then
                sk apparmor load "$WORK/good.profile"
                expect_status 125
                expect_output_has "apparmor load: $WORK/good.profile: AppArmor is not enabled in this kernel"
                return 0
        fi
        trap 'apparmor_parser -R "$WORK/good.profile" >/dev/null 2>&1 || true' EXIT
        sk apparmor load "$WORK/good.profile"
        expect_status 0
        aa_loaded "$name" || fail "apparmor load did not load $name"
        # loading again replaces it
        sk apparmor load "$WORK/good.profile"
        expect_status 0
        sk apparmor load "$WORK/bad.profile"
        expect_status 125
        expect_output_has "apparmor load $WORK/bad.profile: "
        expect_output_has "apparmor_parser failed (exit status"
        expect_output_has "$WORK/bad.profile"
        status=0
        output=$(STOCKADE_APPARMOR_PARSER=/nonexistent/apparmor_parser "$STOCKADE" apparmor load "$WORK/good.profile" 2>&1) || status=$?
        expect_status 125
        expect_output_has "apparmor_parser not found"
}

run_test "apparmor default prints stockade-default, and apparmor_parser accepts it" t_aa_default_profile
run_test "stockade-default: loaded on first use and enforced (/proc/sys, mount), unconfined when privileged; skipped silently without AppArmor" t_aa_default_applied
run_test "stockade-default: no ptrace read of, nor signal to, a process outside the profile" t_aa_peers
run_test "--security-opt apparmor=NAME loads $AA_DIR/NAME and enforces it; clear errors" t_aa_explicit_profile
run_test "apparmor load FILE, and its errors" t_aa_load_command
finish
