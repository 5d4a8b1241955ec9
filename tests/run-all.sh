#!/usr/bin/env bash
# Runs every suite: unit tests (normal and ASan+UBSan builds), fuzz corpus replays, and the integration
# tests against real containers.  Installs its own packages and builds first.  Ends with one line:
# "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
if ! tools/build.sh --asan; then
        echo "build failed"
        echo "0 passed, 1 failed"
        exit 1
fi

pass=0 fail=0 skip=0
failed_names=()

# Reads TAP on stdin, echoes it, and counts it under the label $1.
count_tap() {
        local label=$1 line
        while IFS= read -r line; do
                echo "$line"
                case "$line" in
                "not ok"*) fail=$((fail + 1)); failed_names+=("$label: ${line#not ok }") ;;
                "ok "*"# SKIP"* | "ok "*"# skip"*) skip=$((skip + 1)) ;;
                "ok "*) pass=$((pass + 1)) ;;
                esac
        done
}

# Runs a TAP producer; a non-zero exit without any "not ok" (a crash, a sanitizer abort) is a failure too.
tap_run() {
        local label=$1; shift
        local out rc before=$fail
        out=$("$@" 2>&1); rc=$?
        count_tap "$label" <<<"$out"
        if [ $rc -ne 0 ] && [ "$fail" -eq "$before" ]; then
                echo "not ok - $label exited with status $rc"
                fail=$((fail + 1))
                failed_names+=("$label (exit $rc)")
        fi
}

# One binary or script that must exit 0 counts as one test.
one() {
        local label=$1; shift
        local out
        if out=$("$@" 2>&1); then
                echo "ok - $label"
                pass=$((pass + 1))
        else
                echo "not ok - $label"
                printf '%s\n' "$out" | tail -20 | sed 's/^/# /'
                fail=$((fail + 1))
                failed_names+=("$label")
        fi
}

echo "== unit tests =="
for t in build/tests/test-*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        tap_run "unit/$(basename "$t")" timeout 300 "$t"
done

echo "== unit tests under ASan+UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in build-asan/tests/test-*; do
        [ -x "$t" ] && [ -f "$t" ] || continue
        tap_run "asan/$(basename "$t")" timeout 300 "$t"
done

echo "== fuzz corpus replays (ASan+UBSan) =="
for f in build-asan/fuzz/fuzz-*; do
        [ -x "$f" ] && [ -f "$f" ] || continue
        name=$(basename "$f"); name=${name#fuzz-}
        one "fuzz/$name" timeout 300 "$f" "$root/fuzz/corpus/$name"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== integration tests =="
if [ "$(id -u)" -ne 0 ]; then
        echo "ok - integration # SKIP needs root (namespaces, cgroups, mounts)"
        skip=$((skip + 1))
else
        export STOCKADE_TEST_ROOTFS_CACHE
        STOCKADE_TEST_ROOTFS_CACHE=$(mktemp -d /tmp/stockade-rootfs.XXXXXX)
        for t in tests/integration/test-*.sh; do
                [ -f "$t" ] || continue
                echo "-- $t"
                tap_run "$(basename "$t")" timeout 600 bash "$t"
        done
        rm -rf "$STOCKADE_TEST_ROOTFS_CACHE"
fi

if [ ${#failed_names[@]} -gt 0 ]; then
        echo "== failures =="
        printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
