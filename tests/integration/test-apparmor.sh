#!/bin/bash
# AppArmor enforcement: a profile that denies a path confines the container's process (and exec'd
# ones).  Needs a kernel with AppArmor and apparmor_parser: the VM lane runs this file in its guest
# (tests/integration/test-vm-cgroup2.sh); on a host without AppArmor every test skips, and the
# clear-error path is tested by test-seccomp.sh instead.
source "$(dirname "$0")/lib.sh"

PROFILE=stockade-test-deny-$RUN_TAG

need_apparmor() {
        [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] ||
                skip "this kernel has no AppArmor (the VM lane runs these tests)"
        command -v apparmor_parser >/dev/null || skip "no apparmor_parser"
        [ -r /sys/kernel/security/apparmor/profiles ] || skip "securityfs is not mounted"
}

# Loads (or reloads) a profile that allows everything but reading /etc/hostname.
load_profile() {
        cat >"$WORK/profile" <<EOF
abi <abi/3.0>,
profile $PROFILE flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  audit deny /etc/hostname r,
}
EOF
        apparmor_parser -r -W "$WORK/profile" || fail "apparmor_parser could not load the test profile"
        grep -q "^$PROFILE (enforce)" /sys/kernel/security/apparmor/profiles || fail "the profile is not loaded"
}

unload_profile() {
        apparmor_parser -R "$WORK/profile" >/dev/null 2>&1 || true
}

t_profile_enforced() {
        need_apparmor
        load_profile
        trap unload_profile EXIT
        new_bundle aa-confined /bin/sh -c 'cat /proc/self/attr/current; cat /etc/hostname || echo read-denied; ls / >/dev/null && echo ls-ok'
        cfg aa-confined '.process.apparmorProfile = $p' --arg p "$PROFILE"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output_contains "$PROFILE (enforce)"
        assert_output_contains "read-denied"
        assert_output_contains "ls-ok"
        # the same container without the profile reads it
        new_bundle aa-free /bin/sh -c 'cat /proc/self/attr/current; cat /etc/hostname && echo read-ok'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output_contains "read-ok"
        refute_output_contains "$PROFILE"
}

t_exec_confined() {
        need_apparmor
        load_profile
        trap unload_profile EXIT
        new_bundle aa-exec
        cfg aa-exec '.process.apparmorProfile = $p' --arg p "$PROFILE"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        # an exec'd process gets the container's profile
        in_ctr "$CID" /bin/sh -c 'cat /proc/self/attr/current; cat /etc/hostname || echo read-denied'
        assert_output_contains "$PROFILE (enforce)"
        assert_output_contains "read-denied"
        rt delete --force "$CID"
        # exec --apparmor into an unconfined container
        new_bundle aa-exec-flag
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec --apparmor "$PROFILE" "$CID" /bin/sh -c 'cat /etc/hostname || echo read-denied'
        assert_output_contains "read-denied"
        in_ctr "$CID" /bin/sh -c 'cat /etc/hostname && echo read-ok'
        assert_output_contains "read-ok"
        rt delete --force "$CID"
}

t_profile_not_loaded() {
        need_apparmor
        new_bundle aa-missing /init true
        cfg aa-missing '.process.apparmorProfile = "stockade-no-such-profile"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'process.apparmorProfile: no AppArmor profile "stockade-no-such-profile" is loaded'
        [ -z "$(state_of "$CID")" ] || fail "a refused container was left"
}

run_test "an AppArmor profile confines the container's process" t_profile_enforced
run_test "exec'd processes: the container's profile, or --apparmor" t_exec_confined
run_test "a profile that is not loaded is refused at create" t_profile_not_loaded
finish
