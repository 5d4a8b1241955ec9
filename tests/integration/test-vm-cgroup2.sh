#!/bin/bash
# The VM lane: runs integration test files inside a throw-away guest with pure cgroup v2 (Debian's
# 6.1 kernel under qemu, every controller enabled in the root's subtree_control; see
# ../shared/tools/vm/README.md), in ONE boot, and relays the guest's TAP lines one by one, renumbered
# and prefixed "vm: FILE:", so tests/run-all.sh counts each of them.
#
# The files to run in the guest are listed in VM_TEST_FILES, the one place to add more.  Each runs
# there exactly as on the host (lib.sh and all), against this tree's build/stockade-runtime and
# build/tests/stockade-test-init (and the engine's: build/stockade, stockade-monitor, stockade-image,
# with the busybox image imported from a tarball made here).  When the VM kit is missing or its setup (qemu, the kernel) fails,
# the whole lane is one "ok - ... # SKIP reason" line.
#
# Environment: STOCKADE_VM_RUNNER (default ../shared/tools/vm/run-in-vm.sh beside the repository),
# STOCKADE_VM_DIR (the kit's artifacts, default /var/cache/stockade-vm), VM_TIMEOUT (default 900 s),
# VM_MEM, VM_SMP (passed on to the kit), STOCKADE_RUNTIME, STOCKADE_TEST_INIT, STOCKADE_VM_FILES.
set -u
set -o pipefail

# The test files (in tests/integration/) run in the guest, in this order.
VM_TEST_FILES=(test-limits.sh test-cgroups.sh test-apparmor.sh test-engine-apparmor.sh test-engine-run.sh test-engine-lifecycle.sh test-events.sh
        test-engine-volumes.sh)
# STOCKADE_VM_FILES (space-separated) runs only those, for working on one file.
[ -z "${STOCKADE_VM_FILES:-}" ] || read -r -a VM_TEST_FILES <<<"$STOCKADE_VM_FILES"
# Of the engine's files, the tests whose paths differ on cgroup v2 (limits, OOM via memory.events,
# update, stats, the monitor's oom events, pause through cgroup.freeze) and a few end-to-end ones; the
# rest do not depend on the cgroup version.  The volume tests run on Debian's kernel besides this
# machine's (statx's mount-root flag, overlayfs as copy-up's source, tmpfs and bind volumes).
VM_ENGINE_TESTS="t_run_rm_echo t_exit_codes t_rm_leaves_nothing t_memory_limits t_cpu_limits t_pids_and_ulimits
t_oom_killed t_fork_bomb_contained t_default_security t_create_start_stop_rm t_rename_update_stats
t_lifecycle_replay t_oom_events t_more_actions t_aa_default_profile t_aa_default_applied t_aa_peers t_aa_explicit_profile t_aa_load_command
t_named_volume t_copy_up t_hostile_image t_anonymous t_mount_and_typed"

HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
TEST_FILE=$(basename "$0")
RUNTIME=${STOCKADE_RUNTIME:-$REPO_ROOT/build/stockade-runtime}
TEST_INIT=${STOCKADE_TEST_INIT:-$REPO_ROOT/build/tests/stockade-test-init}
RUNNER=${STOCKADE_VM_RUNNER:-$REPO_ROOT/../shared/tools/vm/run-in-vm.sh}
VM_DIR=${STOCKADE_VM_DIR:-/var/cache/stockade-vm}

N=0 N_PASS=0 N_FAIL=0 N_SKIP=0

tap() { # tap ok|not-ok DESCRIPTION
        N=$((N + 1))
        if [ "$1" = ok ]; then
                echo "ok $N - $2"
                case $2 in *"# SKIP"* | *"# skip"*) N_SKIP=$((N_SKIP + 1)) ;; *) N_PASS=$((N_PASS + 1)) ;; esac
        else
                echo "not ok $N - $2"
                N_FAIL=$((N_FAIL + 1))
        fi
}

finish() {
        echo "1..$N"
        echo "# $TEST_FILE: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
        exit 0
}

skip_all() {
        tap ok "vm: cgroup v2 guest # SKIP $*"
        finish
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root (the guest's tests run as root; qemu's setup installs packages)"
[ -x "$RUNNER" ] || skip_all "no VM kit at $RUNNER"
[ -x "$RUNTIME" ] || { echo "Bail out! $TEST_FILE: $RUNTIME not found: build it with 'ninja -C build'"; exit 1; }
[ -x "$TEST_INIT" ] || { echo "Bail out! $TEST_FILE: $TEST_INIT not found: build it with 'ninja -C build'"; exit 1; }

WORK=$(mktemp -d /tmp/stockade-vm-lane.XXXXXX) || { echo "Bail out! $TEST_FILE: mktemp failed"; exit 1; }
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# First use on a machine: the kit's setup (qemu, the guest kernel, the initramfs), once at a time.
if [ -z "${VM_KERNEL:-}" ] && [ ! -f "$VM_DIR/initrd.cpio" ]; then
        mkdir -p "$VM_DIR" 2>/dev/null
        setup=$(dirname "$RUNNER")/setup.sh
        if ! (
                flock 9
                [ -f "$VM_DIR/initrd.cpio" ] || "$setup"
        ) 9>"$VM_DIR.lock" >"$WORK/setup.log" 2>&1; then
                tail -n 20 "$WORK/setup.log" | sed 's/^/# /'
                skip_all "the VM kit's setup.sh failed: $(grep -v '^$' "$WORK/setup.log" | tail -n 1)"
        fi
fi

# Host tools the guest lacks or has only as busybox applets without the options lib.sh uses
# (grep -a, rm --one-file-system, flock): they go on the guest's PATH, their libraries come along.
HOST_TOOLS=()
for t in jq grep flock rm timeout; do
        p=$(command -v "$t") || { echo "Bail out! $TEST_FILE: $t is needed on the host"; exit 1; }
        HOST_TOOLS+=("$p")
done
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip_all "no static busybox at $BUSYBOX for the containers' rootfs"

ENGINE_BIN_DIR=$(dirname "$RUNTIME")
for b in stockade stockade-monitor stockade-image; do
        [ -x "$ENGINE_BIN_DIR/$b" ] || { echo "Bail out! $TEST_FILE: $ENGINE_BIN_DIR/$b not found: build it with 'ninja -C build'"; exit 1; }
done
"$REPO_ROOT/tools/busybox-image.sh" --tar "$WORK/busybox.tar" >"$WORK/busybox.log" 2>&1 ||
        { echo "Bail out! $TEST_FILE: the busybox tarball: $(tail -n 3 "$WORK/busybox.log")"; exit 1; }

FILES=("$HERE/lib.sh" "$HERE/cgroup-lib.sh" "$HERE/engine-lib.sh" "$REPO_ROOT/tests/helpers/mkrootfs.sh"
        "$REPO_ROOT/tools/busybox-image.sh" "$WORK/busybox.tar" "$RUNTIME" "$TEST_INIT"
        "$ENGINE_BIN_DIR/stockade" "$ENGINE_BIN_DIR/stockade-monitor" "$ENGINE_BIN_DIR/stockade-image"
        "$BUSYBOX" "${HOST_TOOLS[@]}" "$REPO_ROOT"/tests/data/events/events-*.jsonl)
for t in "${VM_TEST_FILES[@]}"; do
        [ -f "$HERE/$t" ] || { echo "Bail out! $TEST_FILE: $HERE/$t (in VM_TEST_FILES) not found"; exit 1; }
        FILES+=("$HERE/$t")
done

# The guest side: rebuild the repository's layout on the guest's tmpfs (lib.sh finds mkrootfs.sh
# relative to itself), then run each file with its output between markers the host parses.
# The guest inherits no environment from here: the file list is written into the script.
printf '#!/bin/bash\nSTOCKADE_VM_TESTS="%s"\nexport ENGINE_TESTS="%s"\n' "${VM_TEST_FILES[*]}" \
        "$(echo $VM_ENGINE_TESTS)" >"$WORK/guest.sh"
cat >>"$WORK/guest.sh" <<'GUEST'
S=${VM_SHARE:-/mnt/host}
T=/tmp/stockade-tree
mkdir -p "$T/tests/integration" "$T/tests/helpers" "$T/build/tests" "$T/tools" /tmp/stockade-rootfs
cp "$S/lib.sh" "$S/cgroup-lib.sh" "$S/engine-lib.sh" "$T/tests/integration/"
cp "$S/mkrootfs.sh" "$T/tests/helpers/"
cp "$S/busybox-image.sh" "$T/tools/"
mkdir -p "$T/tests/data/events" && cp "$S"/events-*.jsonl "$T/tests/data/events/"
cp "$S/stockade-runtime" "$S/stockade" "$S/stockade-monitor" "$S/stockade-image" "$T/build/"
export BUSYBOX_TAR=$S/busybox.tar
modprobe overlay 2>/dev/null || true    # the engine's rootfs; the guest loads no module by itself
cp "$S/stockade-test-init" "$T/build/tests/"
for f in $STOCKADE_VM_TESTS; do cp "$S/$f" "$T/tests/integration/"; done
export STOCKADE_RUNTIME=$T/build/stockade-runtime STOCKADE_TEST_INIT=$T/build/tests/stockade-test-init
export STOCKADE_TEST_ROOTFS_CACHE=/tmp/stockade-rootfs BUSYBOX=$S/busybox
# The guest's /var/tmp is in RAM: the swap test's file goes on the 9p share (through a loop device).
export STOCKADE_SWAP_DIR=$S STOCKADE_SWAP_MB=${STOCKADE_SWAP_MB:-160}
echo "# vm-env: $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
for f in $STOCKADE_VM_TESTS; do
        echo "# vm-file-begin: $f"
        s=$(date +%s)
        timeout -k 10 "${STOCKADE_VM_FILE_TIMEOUT:-400}" bash "$T/tests/integration/$f" 2>&1
        echo "# vm-file-end: $f status=$? secs=$(($(date +%s) - s))"
done
exit 0
GUEST

# Relay: every guest TAP line becomes one of ours; the rest become comments.
relay() {
        local line file="" plan="" desc
        while IFS= read -r line; do
                line=${line%$'\r'}
                case $line in
                "# vm-file-begin: "*)
                        file=${line#"# vm-file-begin: "}
                        plan=""
                        echo "# vm: -- $file"
                        ;;
                "# vm-file-end: "*)
                        local rest=${line#"# vm-file-end: "} st
                        st=${rest#* status=}
                        st=${st%% *}
                        echo "# vm: $rest"
                        if [ -z "$plan" ] || [ "$st" != 0 ]; then
                                tap not-ok "vm: $file: ended without its plan (exit status $st)"
                        fi
                        echo "$file" >>"$WORK/done"
                        file=""
                        ;;
                "not ok "*)
                        desc=${line#not ok }
                        desc=${desc#[0-9]*- }
                        tap not-ok "vm: ${file:-?}: $desc"
                        ;;
                "ok "*)
                        desc=${line#ok }
                        desc=${desc#[0-9]*- }
                        tap ok "vm: ${file:-?}: $desc"
                        ;;
                "Bail out!"*)
                        tap not-ok "vm: ${file:-?}: $line"
                        ;;
                1..[0-9]*)
                        plan=$line
                        ;;
                "#"*)
                        echo "$line"
                        ;;
                *)
                        echo "# vm: $line"
                        ;;
                esac
        done
}

echo "# booting the cgroup v2 guest for: ${VM_TEST_FILES[*]}"
start=$SECONDS
relay < <(
        VM_TIMEOUT=${VM_TIMEOUT:-900} "$RUNNER" "$WORK/guest.sh" "${FILES[@]}" 2>"$WORK/runner.err"
        echo "$?" >"$WORK/runner.rc"
)
rc=$(cat "$WORK/runner.rc" 2>/dev/null || echo 255)
grep '^run-in-vm:' "$WORK/runner.err" | sed 's/^/# /'
echo "# the VM lane took $((SECONDS - start)) s"
if [ "$rc" = 2 ] && [ "$N" -eq 0 ] && grep -q 'setup failed' "$WORK/runner.err"; then
        skip_all "run-in-vm.sh: setup failed"
fi
missing=0
for t in "${VM_TEST_FILES[@]}"; do
        grep -qxF "$t" "$WORK/done" 2>/dev/null && continue
        tap not-ok "vm: $t: did not run to its end in the guest (run-in-vm.sh exit status $rc)"
        missing=1
done
if [ "$rc" != 0 ]; then
        # 124: the VM timed out, 125: it died; the kit prints the guest's console then.
        grep -v '^run-in-vm:' "$WORK/runner.err" | tail -n 40 | sed 's/^/# /'
        [ "$missing" -eq 1 ] || tap not-ok "vm: run-in-vm.sh exited with status $rc"
fi
finish
