#!/bin/bash
# tests/integration/lib.sh - sourced by every tests/integration/test-*.sh.
#
# Gives each test file a temporary work directory (removed on exit), a state root of its own
# (--root, so nothing touches /run/stockade-runtime), one busybox rootfs built with
# tests/helpers/mkrootfs.sh (cached in $STOCKADE_TEST_ROOTFS, or $STOCKADE_TEST_ROOTFS_CACHE/rootfs,
# when set), and a small bats-like vocabulary:
#
#   new_bundle NAME [ARGS...]   bundle $WORK/bundles/NAME: a copy of the rootfs and a `spec` config
#                               with terminal=false and process.args ARGS (default: /init pause).
#                               Sets BUNDLE and CID (a container id unique to this run).
#   cfg NAME 'jq-filter' [jq options...]   edits NAME's config.json in place
#   rt ARGS...                  runs the runtime with --root; sets $status, $output (stdout+stderr)
#                               and $RT_OUT (the file that also keeps what a detached container
#                               writes later)
#   run_test "name" function    runs one test in a subshell, prints its TAP line
#   finish                      prints the plan, exits 0
#
# After every test, run_test fails it if a cgroup directory, a state directory or a process of any
# container the test made is left, then cleans those up so the next test starts clean.
#
# Environment: STOCKADE_RUNTIME, STOCKADE_TEST_INIT override the binaries.

set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
RUNTIME=${STOCKADE_RUNTIME:-$REPO_ROOT/build/stockade-runtime}
TEST_INIT=${STOCKADE_TEST_INIT:-$REPO_ROOT/build/tests/stockade-test-init}
MKROOTFS=$REPO_ROOT/tests/helpers/mkrootfs.sh
TEST_FILE=$(basename "$0")

bail() {
        echo "Bail out! $TEST_FILE: $*"
        exit 1
}

[ "$(id -u)" -eq 0 ] || bail "needs root (namespaces, cgroups, mounts)"
[ -x "$RUNTIME" ] || bail "$RUNTIME not found: build it with 'ninja -C build'"
[ -x "$TEST_INIT" ] || bail "$TEST_INIT not found: build it with 'ninja -C build'"
command -v jq >/dev/null || bail "jq is needed"
command -v timeout >/dev/null || bail "timeout (coreutils) is needed"

WORK=$(mktemp -d /tmp/stockade-it.XXXXXX) || bail "mktemp failed"
chmod 0755 "$WORK"
STATE_ROOT=$WORK/state
RUN_TAG=$$
RT=("$RUNTIME" --root "$STATE_ROOT")
TEST_NUM=0
N_PASS=0 N_FAIL=0 N_SKIP=0
RT_N=0

# The mounts a broken runtime may have left on the host below $WORK, deepest first.
host_mounts_below() {
        awk -v w="$1" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

all_ids() {
        cat "$WORK"/ids.* 2>/dev/null | sort -u
}

lib_exit() {
        local id m
        trap - EXIT INT TERM
        for id in $(all_ids); do
                force_cleanup_id "$id" >/dev/null 2>&1
        done
        for m in $(host_mounts_below "$WORK"); do
                umount -l "$m" 2>/dev/null
        done
        rm -rf --one-file-system "$WORK"
}
trap lib_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the rootfs

build_rootfs() {
        local dest=$1 log=$WORK/mkrootfs.log
        if [ -x "$dest/init" ] && cmp -s "$TEST_INIT" "$dest/init" && [ -e "$dest/.stockade-complete" ]; then
                return 0
        fi
        rm -rf "$dest"
        if ! bash "$MKROOTFS" "$dest" "$TEST_INIT" >"$log" 2>&1; then
                cat "$log" | sed 's/^/# /'
                return 1
        fi
        touch "$dest/.stockade-complete"
}

if [ -n "${STOCKADE_TEST_ROOTFS:-}" ]; then
        ROOTFS=$STOCKADE_TEST_ROOTFS
elif [ -n "${STOCKADE_TEST_ROOTFS_CACHE:-}" ]; then
        ROOTFS=$STOCKADE_TEST_ROOTFS_CACHE/rootfs
else
        ROOTFS=$WORK/rootfs
fi
mkdir -p "$(dirname "$ROOTFS")" || bail "cannot create $(dirname "$ROOTFS")"
(
        flock 9
        build_rootfs "$ROOTFS"
) 9>"$ROOTFS.lock" || bail "building the rootfs with $MKROOTFS failed"

# ---------------------------------------------------------------- bundles and the runtime

# new_bundle NAME [ARGS...]: sets BUNDLE and CID.
new_bundle() {
        local name=$1
        shift
        [ $# -gt 0 ] || set -- /init pause
        BUNDLE=$WORK/bundles/$name
        CID=$name-$RUN_TAG
        [ ! -e "$BUNDLE" ] || { echo "new_bundle: $name used twice" >&2; return 1; }
        mkdir -p "$BUNDLE"
        cp -a "$ROOTFS" "$BUNDLE/rootfs"
        rm -f "$BUNDLE/rootfs/.stockade-complete"
        "$RUNTIME" spec --bundle "$BUNDLE" || return 1
        track_id "$CID"
        cfg "$name" '.process.terminal = false | .process.args = $ARGS.positional
                | .process.env += ["STOCKADE_TEST_CID=" + $cid]' --arg cid "$CID" --args -- "$@"
}

# Registers a container id for the after-test checks (new_bundle does it for CID).
track_id() {
        echo "$1" >>"${CUR_IDS_FILE:-$WORK/ids.0}"
}

bundle_dir() {
        case $1 in
        */*) echo "$1" ;;
        *) echo "$WORK/bundles/$1" ;;
        esac
}

# cfg NAME|DIR 'jq-filter' [jq options...]
cfg() {
        local dir f
        dir=$(bundle_dir "$1")
        f=$2
        shift 2
        jq "$f" "$dir/config.json" "$@" >"$dir/config.json.new" || {
                echo "cfg: jq filter failed: $f" >&2
                return 1
        }
        mv "$dir/config.json.new" "$dir/config.json"
}

# rt ARGS...: the runtime with our --root. Never fails; look at $status and $output.
rt() {
        RT_N=$((RT_N + 1))
        RT_OUT=$WORK/out.$TEST_NUM.$RT_N
        echo "\$ stockade-runtime --root \$STATE_ROOT $*" >&2
        status=0
        timeout -k 5 "${RT_TIMEOUT:-60}" "$RUNTIME" --root "$STATE_ROOT" "$@" >"$RT_OUT" 2>&1 </dev/null || status=$?
        output=$(cat "$RT_OUT")
        [ -z "$output" ] || printf '%s\n' "$output" | sed 's/^/    /' | head -50 >&2 || true
        echo "    (exit $status)" >&2
        return 0
}

# Container state field ("status", "pid", ...), or "" if the state cannot be read.
state_of() {
        "${RT[@]}" state "$1" 2>/dev/null | jq -r ".${2:-status}" 2>/dev/null || true
}

# wait_status ID STATUS [SECONDS]
wait_status() {
        local id=$1 want=$2 secs=${3:-10} i s=""
        for ((i = 0; i < secs * 20; i++)); do
                s=$(state_of "$id")
                [ "$s" = "$want" ] && return 0
                sleep 0.05
        done
        echo "wait_status: $id is \"$s\", not \"$want\", after ${secs}s" >&2
        return 1
}

# Runs a command in a created or running container, capturing like rt.
in_ctr() {
        local id=$1
        shift
        rt exec "$id" "$@"
}

# Deletes a container whatever its state; for tests to tidy up after themselves.
ctr_rm() {
        local id
        for id in "$@"; do
                "${RT[@]}" delete --force "$id" >/dev/null 2>&1 || true
        done
}

# ---------------------------------------------------------------- assertions

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "$*" >"$WORK/skip.$TEST_NUM"
        exit 200
}

assert_status() {
        [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status${2:+ ($2)}"
}

assert_success() {
        [ "$status" -eq 0 ] || fail "expected success, got exit status $status${1:+ ($1)}"
}

assert_failure() {
        [ "$status" -ne 0 ] || fail "expected failure, got exit status 0${1:+ ($1)}"
}

# assert_output_contains STRING: a fixed-string match in $output.
assert_output_contains() {
        case $output in
        *"$1"*) ;;
        *) fail "output does not contain \"$1\"" ;;
        esac
}

refute_output_contains() {
        case $output in
        *"$1"*) fail "output contains \"$1\"" ;;
        esac
}

assert_output() {
        [ "$output" = "$1" ] || fail "expected output \"$1\", got \"$output\""
}

assert_eq() {
        [ "$1" = "$2" ] || fail "${3:-values differ}: expected \"$2\", got \"$1\""
}

assert_ne() {
        [ "$1" != "$2" ] || fail "${3:-values equal}: both are \"$1\""
}

# assert_match STRING ERE
assert_match() {
        [[ $1 =~ $2 ]] || fail "${3:-no match}: \"$1\" does not match /$2/"
}

# ---------------------------------------------------------------- leftovers

# The cgroup directories of a container id: every hierarchy below /sys/fs/cgroup on v1 and hybrid
# hosts (/sys/fs/cgroup/memory/..., /sys/fs/cgroup/unified/...), and the single tree on pure cgroup v2,
# where the glob's starting points are the top-level cgroups themselves (find matches those too).
cgroups_of() {
        find /sys/fs/cgroup/*/ -maxdepth 6 -type d \( -name "$1" -o -name "stockade-$1" \) 2>/dev/null || true
}

# Pids of processes whose environment (the STOCKADE_TEST_CID marker) or command line names the id.
pids_of() {
        local pat=$WORK/pat.$BASHPID f pid
        printf '%s\n' "$1" >"$pat"
        for f in $(grep -laFf "$pat" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null || true); do
                pid=${f#/proc/}
                pid=${pid%%/*}
                [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || echo "$pid"
        done | sort -un
        rm -f "$pat"
}

# Prints what is left of the container id; nothing if it is all gone.
leftovers_of() {
        local id=$1 p
        [ ! -e "$STATE_ROOT/$id" ] || echo "state directory $STATE_ROOT/$id left"
        p=$(cgroups_of "$id")
        [ -z "$p" ] || echo "$(wc -l <<<"$p") cgroup directories left, e.g. $(head -1 <<<"$p")"
        # A process in the middle of exiting gets a moment (the runtime's cgroup primer child may
        # outlive a fast command by a few milliseconds).
        local i pids
        for i in $(seq 20); do
                pids=$(pids_of "$id")
                [ -n "$pids" ] || break
                sleep 0.1
        done
        for p in $pids; do
                echo "process $p left: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done
}

force_cleanup_id() {
        local id=$1 p i
        if [ -e "$STATE_ROOT/$id" ]; then
                timeout 20 "${RT[@]}" delete --force "$id" >/dev/null 2>&1
                rm -rf "${STATE_ROOT:?}/$id"
        fi
        for p in $(pids_of "$id"); do
                kill -9 "$p" 2>/dev/null
        done
        # cgroup v2 (5.14+) kills whatever is left in a cgroup, marked or not, in one write.
        for p in $(cgroups_of "$id"); do
                [ ! -e "$p/cgroup.kill" ] || echo 1 >"$p/cgroup.kill" 2>/dev/null
        done
        for i in 1 2 3 4 5; do
                [ -n "$(cgroups_of "$id")" ] || break
                for p in $(cgroups_of "$id" | sort -r); do
                        find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
                done
                sleep 0.1
        done
}

# ---------------------------------------------------------------- running tests

run_test() {
        local name=$1 fn=$2 rc left l id
        TEST_NUM=$((TEST_NUM + 1))
        local log=$WORK/log.$TEST_NUM ids=$WORK/ids.$TEST_NUM
        : >"$ids"
        (
                CUR_IDS_FILE=$ids
                cd "$WORK" || exit 1
                set -eE
                trap 'echo "FAIL: command failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
                "$fn"
        ) >"$log" 2>&1 </dev/null
        rc=$?
        left=""
        for id in $(sort -u "$ids"); do
                l=$(leftovers_of "$id")
                [ -z "$l" ] || left+="$l"$'\n'
                force_cleanup_id "$id" >/dev/null 2>&1
        done
        if [ "$rc" -eq 200 ] && [ -z "$left" ]; then
                echo "ok $TEST_NUM - $name # SKIP $(cat "$WORK/skip.$TEST_NUM" 2>/dev/null)"
                N_SKIP=$((N_SKIP + 1))
        elif [ "$rc" -eq 0 ] && [ -z "$left" ]; then
                echo "ok $TEST_NUM - $name"
                N_PASS=$((N_PASS + 1))
        else
                echo "not ok $TEST_NUM - $name"
                if [ "$rc" -eq 0 ] || [ "$rc" -eq 200 ]; then
                        # The test passed but something of its containers is still there.
                        printf 'left behind after the test:\n%s' "$left" | sed 's/^/# /'
                else
                        # (A test that failed half-way may leave its containers: they were cleaned up.)
                        tail -n 60 "$log" | sed 's/^/# /'
                fi
                N_FAIL=$((N_FAIL + 1))
        fi
}

finish() {
        echo "1..$TEST_NUM"
        echo "# $TEST_FILE: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
        exit 0
}

# ---------------------------------------------------------------- small helpers for tests

# A host helper: python3 or skip.
need_cmd() {
        command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"
}

# The content of a file in the state root, or "".
host_ulimit_hard_nofile() {
        ulimit -Hn
}

# console_receiver SOCKET OUT [INPUT]: listens on SOCKET (runc's --console-socket protocol), takes
# one pty master, writes INPUT to it, and copies everything read from it to OUT until the pty
# closes; the name sent with the fd goes to OUT.name. Runs in the background: CONSOLE_PID.
console_receiver() {
        command -v python3 >/dev/null 2>&1 || skip "python3 is needed for a console socket"
        python3 -c 'import socket; socket.recv_fds' 2>/dev/null || skip "python3 >= 3.9 is needed (socket.recv_fds)"
        cat >"$WORK/console-receiver.py" <<'PY'
import os, select, socket, sys, time
sock_path, out_path = sys.argv[1], sys.argv[2]
inp = sys.argv[3] if len(sys.argv) > 3 else ""
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock_path)
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 4)
with open(out_path + ".name", "w") as f:
    f.write(msg.rstrip(b"\0").decode(errors="replace"))
if not fds:
    sys.exit("no fd received")
master = fds[0]
if inp:
    os.write(master, inp.encode())
deadline = time.time() + 30
with open(out_path, "wb", buffering=0) as out:
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if master not in r:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        out.write(data)
PY
        rm -f "$1"
        python3 "$WORK/console-receiver.py" "$@" &
        CONSOLE_PID=$!
        local i
        for i in $(seq 100); do
                [ -S "$1" ] && return 0
                sleep 0.05
        done
        fail "the console receiver did not listen on $1"
}

# assert_nothing_left ID [BUNDLE]: no state directory, cgroup, process or host mount of ID (below
# BUNDLE) is left right now.
assert_nothing_left() {
        local id=$1 bundle=${2:-} p i
        [ ! -e "$STATE_ROOT/$id" ] || fail "state directory $STATE_ROOT/$id left"
        p=$(cgroups_of "$id")
        [ -z "$p" ] || fail "cgroups left: $p"
        for i in $(seq 20); do
                p=$(pids_of "$id")
                [ -n "$p" ] || break
                sleep 0.1
        done
        [ -z "$p" ] || fail "processes left: $p"
        if [ -n "$bundle" ]; then
                p=$(host_mounts_below "$bundle")
                [ -z "$p" ] || fail "host mounts left: $p"
        fi
}
