#!/bin/bash
# Security hygiene, one test per known runc CVE class: the sealed binary (CVE-2019-5736), leaked
# fds and cwd (CVE-2024-21626), non-dumpable set-up (CVE-2016-9962), symlinks at mount
# destinations (CVE-2021-30465), /proc as a symlink (CVE-2019-19921, CVE-2023-27561), /dev/null
# and /dev/console redirection (CVE-2025-31133, CVE-2025-52565), ../ in destinations; seccomp.
source "$(dirname "$0")/lib.sh"

# Prints "sealed" when /proc/PID/exe can never be written: a fully sealed memfd, or a file on a
# read-only mount; then holds an O_PATH fd to it across the process's exit (the attack of
# CVE-2019-5736) and prints "refused" when reopening that fd for writing fails.
exe_sealed_check() {
        python3 - "$1" "$2" <<'PY'
import fcntl, os, subprocess, sys
pid, after = sys.argv[1], sys.argv[2]
fd = os.open("/proc/%s/exe" % pid, os.O_PATH)
ro = bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)
try:
    r = os.open("/proc/%s/exe" % pid, os.O_RDONLY)
    seals = fcntl.fcntl(r, 1034)  # F_GET_SEALS
    full = (seals & 0xf) == 0xf
    os.close(r)
except OSError:
    full = False
print("sealed" if ro or full else "writable")
subprocess.run(after, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    os.close(os.open("/proc/self/fd/%d" % fd, os.O_WRONLY))
    print("reopened-for-write")
except OSError:
    print("refused")
PY
}

t_sealed_binary() {
        new_bundle sec-sealed
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        local pid out
        pid=$(state_of "$CID" pid)
        cmp -s "/proc/$pid/exe" "$RUNTIME" || fail "/proc/<init>/exe is not the runtime's code"
        out=$(exe_sealed_check "$pid" "${RT[*]} delete --force $CID")
        assert_eq "$out" "sealed
refused" "/proc/<created init>/exe is sealed and stays unwritable after the init exits"

        # The foreground runtime of `run` runs sealed too.
        new_bundle sec-sealed-run
        "${RT[@]}" run --bundle "$BUNDLE" "$CID" >/dev/null 2>&1 &
        local bg=$!
        wait_status "$CID" running
        out=$(exe_sealed_check "$bg" "${RT[*]} kill $CID KILL")
        assert_eq "$out" "sealed
refused" "/proc/<runtime of run>/exe is sealed and stays unwritable"
        wait "$bg" || true
}

t_created_init_not_dumpable() {
        new_bundle sec-dumpable
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        # Before start, pid 1 is the runtime's code: a process of the container cannot reach it.
        rt exec "$CID" /init readlink /proc/1/exe
        assert_failure "reading /proc/1/exe of the created init from the container"
        assert_output_contains "Permission denied"
        rt exec "$CID" /init readlink /proc/1/fd/0
        assert_failure "reading the fds of the created init from the container"
        assert_output_contains "Permission denied"
        rt exec "$CID" /init readlink /proc/1/cwd
        assert_failure "reading the cwd of the created init from the container"
        rt exec "$CID" /init cat /proc/1/environ
        assert_failure "reading /proc/1/environ of the created init from the container"
        rt delete --force "$CID"
}

t_no_fd_leak() {
        new_bundle sec-fds /init fds
        local out
        out=$("${RT[@]}" run --bundle "$BUNDLE" "$CID" 7</etc/hostname 8>"$WORK/fd8" 9<"$WORK" 2>&1 </dev/null) ||
                fail "run failed: $out"
        assert_eq "$(tr '\n' ' ' <<<"$out")" "0 1 2 " "fds of the init (run)"

        new_bundle sec-fds-create /init fds
        "${RT[@]}" create --bundle "$BUNDLE" "$CID" 7</etc/hostname 9<"$WORK" >"$WORK/sec-fds-create.out" 2>&1 </dev/null ||
                fail "create failed: $(cat "$WORK/sec-fds-create.out")"
        "${RT[@]}" start "$CID" 7</etc/hostname || fail "start failed"
        wait_status "$CID" stopped
        assert_eq "$(tr '\n' ' ' <"$WORK/sec-fds-create.out")" "0 1 2 " "fds of the init (create + start)"
        rt delete "$CID"

        new_bundle sec-fds-exec
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        out=$("${RT[@]}" exec "$CID" /init fds 7</etc/hostname 9<"$WORK" 2>&1 </dev/null) || fail "exec failed: $out"
        assert_eq "$(tr '\n' ' ' <<<"$out")" "0 1 2 " "fds of an exec'd process"
        # --preserve-fds passes exactly the fds asked for.
        out=$("${RT[@]}" exec --preserve-fds 1 "$CID" /init fds 3</etc/hostname 4</etc/hostname 2>&1 </dev/null) ||
                fail "exec --preserve-fds failed: $out"
        assert_eq "$(tr '\n' ' ' <<<"$out")" "0 1 2 3 " "fds of an exec'd process with --preserve-fds 1"
        rt delete --force "$CID"

        new_bundle sec-fds-preserve /init fds
        out=$("${RT[@]}" run --preserve-fds 2 --bundle "$BUNDLE" "$CID" 3</etc/hostname 4</etc/hostname 5</etc/hostname 2>&1 </dev/null) ||
                fail "run --preserve-fds failed: $out"
        assert_eq "$(tr '\n' ' ' <<<"$out")" "0 1 2 3 4 " "fds of the init with --preserve-fds 2"
}

t_cwd_fd_leak() {
        # CVE-2024-21626: a cwd through /proc/self/fd/N of an fd the runtime holds must not leave
        # the process outside the container's root.
        local n out
        for n in 3 4 5 6 7 8 9 10; do
                new_bundle "sec-cwd$n" /init cwd
                cfg "sec-cwd$n" '.process.cwd = "/proc/self/fd/" + $n' --arg n "$n"
                rt run --bundle "$BUNDLE" "$CID"
                if [ "$status" -eq 0 ]; then
                        assert_match "$output" '^/' "cwd /proc/self/fd/$n gives a reachable path"
                        refute_output_contains "unreachable"
                        [ "$output" = / ] || [ "$output" = /dev/null ] || [[ $output == /dev/* ]] ||
                                fail "cwd /proc/self/fd/$n is $output"
                else
                        assert_output_contains "process.cwd"
                fi
        done
        new_bundle sec-cwd-exec
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        for n in 3 4 5 6 7 8; do
                rt exec --cwd "/proc/self/fd/$n" "$CID" /init cwd
                if [ "$status" -eq 0 ]; then
                        assert_match "$output" '^/' "exec cwd /proc/self/fd/$n"
                        refute_output_contains "unreachable"
                else
                        assert_output_contains "process.cwd"
                fi
        done
        rt delete --force "$CID"
        new_bundle sec-cwd-missing /init cwd
        cfg sec-cwd-missing '.process.cwd = "/does/not/exist"'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "process.cwd: chdir to /does/not/exist: No such file or directory"
        assert_nothing_left "$CID"
}

t_symlink_mount_destination() {
        # CVE-2021-30465: rootfs/evil -> /etc; a tmpfs on /evil lands on the rootfs's /etc.
        local before
        before=$(md5sum </proc/self/mountinfo)
        new_bundle sec-symdest
        ln -s /etc "$BUNDLE/rootfs/evil"
        ln -s ../../../../../../../../etc "$BUNDLE/rootfs/evil-rel"
        cfg sec-symdest '.mounts += [{destination: "/evil", type: "tmpfs", source: "tmpfs", options: ["size=1m"]},
                {destination: "/evil-rel/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init readlink /evil
        assert_output /etc
        rt exec "$CID" /init ismount /etc
        assert_success "the tmpfs is on the container's /etc"
        rt exec "$CID" /init ismount /etc/sub
        assert_success "the second tmpfs is on the container's /etc/sub"
        rt exec "$CID" /init write /evil/stockade-probe-$RUN_TAG x
        assert_success
        [ ! -e "/etc/stockade-probe-$RUN_TAG" ] || fail "a write to /evil reached the host's /etc"
        [ ! -e "/etc/sub" ] || fail "the host's /etc/sub was created"
        local pid
        pid=$(state_of "$CID" pid)
        [ -d "/proc/$pid/root/etc/sub" ] || fail "the destination was not created inside the container's /etc"
        [ -s /etc/passwd ] || fail "the host's /etc/passwd is gone"
        assert_eq "$(md5sum </proc/self/mountinfo)" "$before" "the host's mounts"
        rt delete --force "$CID"

        # A bind mount onto a symlink pointing outside.
        mkdir -p "$WORK/sec-src"
        echo src >"$WORK/sec-src/file"
        new_bundle sec-symdest-bind
        ln -s /usr "$BUNDLE/rootfs/evilbind"
        mkdir -p "$BUNDLE/rootfs/usr"
        cfg sec-symdest-bind '.mounts += [{destination: "/evilbind", type: "bind", source: $s, options: ["bind"]}]' --arg s "$WORK/sec-src"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init cat /usr/file
        assert_success
        assert_output src
        [ ! -e /usr/file ] || fail "the host's /usr got the bind"
        assert_eq "$(md5sum </proc/self/mountinfo)" "$before" "the host's mounts"
        rt delete --force "$CID"
}

t_dotdot_destination() {
        local before
        before=$(md5sum </proc/self/mountinfo)
        new_bundle sec-dotdot
        cfg sec-dotdot '.mounts += [{destination: ("/../../../../../../tmp/stockade-escape-" + $t), type: "tmpfs", source: "tmpfs"},
                {destination: "/dev/../../../../var/x", type: "tmpfs", source: "tmpfs"}]' --arg t "$RUN_TAG"
        cfg sec-dotdot '.linux.devices = [{path: ("/dev/../../../../stockade-dev-" + $t), type: "c", major: 1, minor: 3}]' --arg t "$RUN_TAG"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        [ ! -e "/tmp/stockade-escape-$RUN_TAG" ] || fail "the destination escaped to the host's /tmp"
        [ ! -e "/stockade-dev-$RUN_TAG" ] || fail "the device escaped to the host's /"
        [ ! -e "/var/x" ] || fail "the destination escaped to the host's /var"
        [ -d "$BUNDLE/rootfs/tmp/stockade-escape-$RUN_TAG" ] || fail "the destination is not inside the rootfs"
        rt exec "$CID" /init ismount "/tmp/stockade-escape-$RUN_TAG"
        assert_success
        rt exec "$CID" /init ismount /var/x
        assert_success
        rt exec "$CID" /init stat "/stockade-dev-$RUN_TAG"
        assert_success
        assert_match "$output" '^chr .* 1 3$' "the device made inside the rootfs"
        assert_eq "$(md5sum </proc/self/mountinfo)" "$before" "the host's mounts"
        rt delete --force "$CID"
}

t_proc_symlink_refused() {
        # CVE-2019-19921, CVE-2023-27561: /proc must be a real directory.
        new_bundle sec-procsym /init true
        rmdir "$BUNDLE/rootfs/proc"
        mkdir -p "$BUNDLE/rootfs/fakeproc"
        ln -s /fakeproc "$BUNDLE/rootfs/proc"
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "a rootfs whose /proc is a symlink"
        assert_output_contains "/proc must not be a symlink in the rootfs"
        assert_nothing_left "$CID" "$BUNDLE"
        [ -z "$(ls -A "$BUNDLE/rootfs/fakeproc")" ] || fail "procfs was mounted through the symlink"

        new_bundle sec-procsym-out /init true
        rmdir "$BUNDLE/rootfs/proc"
        ln -s "$WORK" "$BUNDLE/rootfs/proc"
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "/proc must not be a symlink in the rootfs"
        assert_nothing_left "$CID" "$BUNDLE"

        new_bundle sec-syssym /init true
        rmdir "$BUNDLE/rootfs/sys"
        ln -s /tmp "$BUNDLE/rootfs/sys"
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "a rootfs whose /sys is a symlink"
        assert_output_contains "/sys must not be a symlink in the rootfs"
        assert_nothing_left "$CID" "$BUNDLE"

        new_bundle sec-procfile /init true
        rmdir "$BUNDLE/rootfs/proc"
        touch "$BUNDLE/rootfs/proc"
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "a rootfs whose /proc is a file"
        assert_output_contains "/proc must be a directory in the rootfs"
        assert_nothing_left "$CID" "$BUNDLE"
}

t_devnull_symlink_masking() {
        # CVE-2025-31133: the rootfs's own /dev (no tmpfs on it) has /dev/null -> a file. Masking
        # must bind the host's real /dev/null, never that file.
        echo "SECRET-$RUN_TAG" >"$WORK/secret"
        new_bundle sec-devnull
        echo "ROOTFS-SECRET" >"$BUNDLE/rootfs/etc/secret"
        ln -s /etc/secret "$BUNDLE/rootfs/dev/null"
        cfg sec-devnull '.mounts |= map(select(.destination | startswith("/dev") | not))'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local p n=0
        for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts; do
                [ -e "$p" ] || continue
                n=$((n + 1))
                rt exec "$CID" /init stat "$p"
                assert_success
                assert_eq "$output" "chr 0666 0 0 1 3" "masked $p"
                rt exec "$CID" /init cat "$p"
                assert_success
                assert_output ""
        done
        [ "$n" -gt 0 ] || fail "no masked file exists on this kernel"
        rt exec "$CID" /init readlink /dev/null
        assert_output /etc/secret
        rt delete --force "$CID"

        # A symlink to a host path.
        new_bundle sec-devnull-host
        ln -s "$WORK/secret" "$BUNDLE/rootfs/dev/null"
        cfg sec-devnull-host '.mounts |= map(select(.destination | startswith("/dev") | not))'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init cat /proc/keys
        assert_success
        refute_output_contains "SECRET"
        assert_output ""
        rt delete --force "$CID"
}

t_masked_symlink_not_followed() {
        new_bundle sec-masksym
        ln -s /etc/passwd "$BUNDLE/rootfs/masklink"
        cfg sec-masksym '.linux.maskedPaths += ["/masklink"]'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init cat /etc/passwd
        assert_success
        assert_output_contains "root:x:0:0"
        rt delete --force "$CID"
}

t_console_symlink_refused() {
        # CVE-2025-52565: /dev/console must not be a symlink the pty is bound over.
        local sock=$WORK/sec-console.sock
        console_receiver "$sock" "$WORK/sec-console.out"
        new_bundle sec-console /init tty
        ln -s /etc/passwd "$BUNDLE/rootfs/dev/console"
        ln -s pts/ptmx "$BUNDLE/rootfs/dev/ptmx"
        cfg sec-console '.process.terminal = true | .mounts |= map(select(.destination != "/dev"))'
        local before
        before=$(md5sum <"$BUNDLE/rootfs/etc/passwd")
        rt create --bundle "$BUNDLE" --console-socket "$sock" "$CID"
        assert_failure "a /dev/console symlink"
        assert_output_contains "/dev/console"
        assert_nothing_left "$CID" "$BUNDLE"
        assert_eq "$(md5sum <"$BUNDLE/rootfs/etc/passwd")" "$before" "the symlink's target"
        kill "$CONSOLE_PID" 2>/dev/null || true
        wait "$CONSOLE_PID" 2>/dev/null || true
}

t_state_permissions() {
        new_bundle sec-perms
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(stat -c %a "$STATE_ROOT")" 711 "mode of the state root"
        assert_eq "$(stat -c %a "$STATE_ROOT/$CID")" 711 "mode of the state directory"
        assert_eq "$(stat -c %a "$STATE_ROOT/$CID/state.json")" 600 "mode of state.json"
        assert_eq "$(stat -c %a "$STATE_ROOT/$CID/config.json")" 600 "mode of the saved config.json"
        assert_eq "$(stat -c %a "$STATE_ROOT/$CID/exec.sock")" 600 "mode of exec.sock"
        # An unprivileged user cannot start it.
        if command -v setpriv >/dev/null; then
                local out
                out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$RUNTIME" --root "$STATE_ROOT" start "$CID" 2>&1) &&
                        fail "an unprivileged user started the container: $out"
                assert_eq "$(state_of "$CID")" created "status after the unprivileged start"
        fi
        rt delete --force "$CID"
}

t_seccomp_filter() {
        new_bundle sec-seccomp
        cfg sec-seccomp '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
                syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid
        pid=$(state_of "$CID" pid)
        assert_match "$(grep '^Seccomp:' "/proc/$pid/status")" '^Seccomp:[[:space:]]+2$' "seccomp mode of the init"
        rt exec "$CID" /init mkdir /dev/shm/blocked
        assert_failure "mkdir under the filter"
        assert_output_contains "Operation not permitted"
        rt exec "$CID" /init write /dev/shm/allowed x
        assert_success "an allowed syscall"
        rt exec "$CID" /init status
        assert_match "$(grep '^Seccomp:' <<<"$output")" '^Seccomp:[[:space:]]+2$' "seccomp mode of an exec'd process"
        rt delete --force "$CID"
}

run_test "the runtime runs from a sealed, read-only binary (CVE-2019-5736)" t_sealed_binary
run_test "the created init cannot be reached through /proc/1 (CVE-2016-9962)" t_created_init_not_dumpable
run_test "no fd >= 3 leaks into the container; --preserve-fds (CVE-2024-21626)" t_no_fd_leak
run_test "a cwd through /proc/self/fd/N is refused or reachable (CVE-2024-21626)" t_cwd_fd_leak
run_test "a symlink at a mount destination cannot lead outside the rootfs (CVE-2021-30465)" t_symlink_mount_destination
run_test "../ in a mount destination or device path stays inside the rootfs" t_dotdot_destination
run_test "a rootfs whose /proc or /sys is a symlink is refused (CVE-2019-19921, CVE-2023-27561)" t_proc_symlink_refused
run_test "masking uses the host's /dev/null, not the rootfs's symlink (CVE-2025-31133)" t_devnull_symlink_masking
run_test "a masked path that is a symlink is not followed" t_masked_symlink_not_followed
run_test "a /dev/console symlink is refused (CVE-2025-52565)" t_console_symlink_refused
run_test "the state directory is private to root" t_state_permissions
run_test "a linux.seccomp filter applies to the init and exec'd processes" t_seccomp_filter
finish
