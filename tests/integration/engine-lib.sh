#!/bin/bash
# tests/integration/engine-lib.sh - sourced by the engine's test files (test-engine-*.sh).
#
# Each test file gets private roots (STOCKADE_DATA_ROOT, STOCKADE_EXEC_ROOT, STOCKADE_CONFIG under a
# temporary directory), so nothing touches /var/lib/stockade, and the busybox image imported there
# by tools/busybox-image.sh.  Vocabulary:
#
#   sk ARGS...           runs `stockade ARGS`; sets $status and $output (stdout+stderr)
#   sk_out ARGS...       same, stdout only in $output, stderr in $errout
#   run_test NAME FN     runs FN in a subshell with `set -e`, prints its TAP line; afterwards fails the
#                        test if a container of the store still runs, a mount is left under the roots,
#                        or a cgroup named after one of its containers remains, and cleans those up
#   skip REASON          skips the running test (only where the machine lacks a feature)
#   fail MSG             fails the running test
#   cg_file ID CONTROLLER FILE   a cgroup file of a running container (v1, v2 or hybrid)
#   cg_v2 CONTROLLER     true when CONTROLLER is on cgroup2 here (no v1 hierarchy of its own)
#   mem_limit ID / memsw_limit ID   a running container's memory and memory+swap limits in bytes,
#                        from v1's or v2's files
#
# ENGINE_TESTS (space-separated test function names), when set, runs only those tests of a file: the
# VM lane uses it to run the cgroup-dependent ones on pure cgroup v2.
#   finish               prints the plan
set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
STOCKADE=${STOCKADE:-$REPO_ROOT/build/stockade}
TEST_FILE=$(basename "$0")

[ "$(id -u)" -eq 0 ] || { echo "Bail out! $TEST_FILE: needs root (namespaces, cgroups, mounts)"; exit 1; }
[ -x "$STOCKADE" ] || { echo "Bail out! $STOCKADE not found: build it with 'ninja -C build'"; exit 1; }

WORK=$(mktemp -d /tmp/stockade-engine.XXXXXX)
chmod 0755 "$WORK"
export STOCKADE_DATA_ROOT=$WORK/data STOCKADE_EXEC_ROOT=$WORK/run STOCKADE_CONFIG=$WORK/daemon.json
TEST_NUM=0 N_PASS=0 N_FAIL=0 N_SKIP=0

all_container_ids() {
        ls "$STOCKADE_DATA_ROOT/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$' || true
}

# Kills whatever the engine still runs and unmounts what it left (used after each test).
force_cleanup() {
        local id
        for id in $(all_container_ids); do
                "$STOCKADE" rm -f "$id" >/dev/null 2>&1 || true
        done
        grep -o " $WORK/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do
                umount -l "$m" 2>/dev/null || true
        done
}

leftovers() {
        local id m
        for id in $(all_container_ids); do
                if [ -f "$STOCKADE_DATA_ROOT/containers/$id/container.json" ] &&
                        jq -e '.Stockade.MonitorPid > 0 and .State.Running' \
                                "$STOCKADE_DATA_ROOT/containers/$id/container.json" >/dev/null 2>&1; then
                        echo "container $id still running"
                fi
        done
        m=$(grep -c " $WORK/" /proc/self/mountinfo || true)
        [ "$m" = 0 ] || echo "$m mounts under $WORK"
}

lib_exit() {
        force_cleanup
        rm -rf "$WORK"
}
trap lib_exit EXIT

sk() {
        status=0
        output=$("$STOCKADE" "$@" 2>&1) || status=$?
        return 0
}

sk_out() {
        status=0
        output=$("$STOCKADE" "$@" 2>"$WORK/stderr") || status=$?
        errout=$(cat "$WORK/stderr")
        return 0
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# A line for the TAP output under the test's ok line (a measurement, never a verdict).
diag() {
        echo "$*" >>"$WORK/diag.$TEST_NUM"
}

skip() {
        echo "$*" >"$WORK/skip.$TEST_NUM"
        exit 200
}

expect_status() {
        [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status; output: $output"
}

expect_output_has() {
        case "$output" in
        *"$1"*) ;;
        *) fail "output lacks \"$1\": $output" ;;
        esac
}

# The host-side path of a cgroup file of the running container ID for CONTROLLER (v1 hierarchy
# when mounted, else cgroup2).
cg_file() {
        local id=$1 ctrl=$2 file=$3 pid line path
        pid=$(jq -r .State.Pid "$STOCKADE_DATA_ROOT/containers/$id/container.json")
        [ "$pid" -gt 0 ] || fail "container $id has no pid"
        line=$(grep -E "^[0-9]+:([^:]*,)?$ctrl(,[^:]*)?:" "/proc/$pid/cgroup" | head -1)
        if [ -n "$line" ]; then
                path=${line#*:*:}
                echo "/sys/fs/cgroup/$ctrl$path/$file"
        else
                path=$(grep '^0::' "/proc/$pid/cgroup" | cut -d: -f3)
                echo "/sys/fs/cgroup$path/$file"
        fi
}

cg_v2() {
        ! grep -qE "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" /proc/self/cgroup
}

# The limit and the memory+swap total, in bytes ("max" when unlimited), from v1's or v2's files.
mem_limit() {
        if cg_v2 memory; then cat "$(cg_file "$1" memory memory.max)"; else cat "$(cg_file "$1" memory memory.limit_in_bytes)"; fi
}

memsw_limit() {
        local mem swap
        if cg_v2 memory; then
                mem=$(cat "$(cg_file "$1" memory memory.max)")
                swap=$(cat "$(cg_file "$1" memory memory.swap.max)")
                if [ "$mem" = max ] || [ "$swap" = max ]; then echo max; else echo $((mem + swap)); fi
        else
                cat "$(cg_file "$1" memory memory.memsw.limit_in_bytes)"
        fi
}

run_test() {
        local name=$1 fn=$2 rc left
        if [ -n "${ENGINE_TESTS:-}" ]; then
                case " $ENGINE_TESTS " in *" $fn "*) ;; *) return 0 ;; esac
        fi
        TEST_NUM=$((TEST_NUM + 1))
        local log=$WORK/log.$TEST_NUM
        (
                cd "$WORK" || exit 1
                set -eE
                trap 'echo "FAIL: command failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
                "$fn"
        ) >"$log" 2>&1 </dev/null
        rc=$?
        left=$(leftovers)
        force_cleanup >/dev/null 2>&1
        if [ "$rc" -eq 200 ] && [ -z "$left" ]; then
                echo "ok $TEST_NUM - $name # SKIP $(cat "$WORK/skip.$TEST_NUM" 2>/dev/null)"
                N_SKIP=$((N_SKIP + 1))
        elif [ "$rc" -eq 0 ] && [ -z "$left" ]; then
                echo "ok $TEST_NUM - $name"
                [ -f "$WORK/diag.$TEST_NUM" ] && sed 's/^/# /' "$WORK/diag.$TEST_NUM"
                N_PASS=$((N_PASS + 1))
        else
                echo "not ok $TEST_NUM - $name"
                if [ "$rc" -eq 0 ] || [ "$rc" -eq 200 ]; then
                        printf 'left behind after the test:\n%s\n' "$left" | sed 's/^/# /'
                else
                        tail -n 40 "$log" | sed 's/^/# /'
                fi
                N_FAIL=$((N_FAIL + 1))
        fi
}

finish() {
        echo "1..$TEST_NUM"
        echo "# $TEST_FILE: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
        exit 0
}

# The busybox image, once per file.
bash "$REPO_ROOT/tools/busybox-image.sh" "$STOCKADE" >"$WORK/image.log" 2>&1 ||
        { echo "Bail out! importing busybox failed: $(tail -5 "$WORK/image.log")"; exit 1; }
