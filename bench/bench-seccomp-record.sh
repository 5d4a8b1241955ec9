#!/usr/bin/env bash
# bench-seccomp-record.sh - what recording a seccomp profile costs the workload (issue 9):
#   syscall-heavy: bench/getppid-loop.c (ns per getppid(), measured inside the container);
#   and the floors: getppid() of a host process with an empty program on sys_enter (the kernel's own
#   cost of the hook, bench/tracepoint-floor.c), and while a recording of another container is on (the
#   program returns at its first test: what the enabled tracepoint costs every process);
#   fork-heavy:    a busybox sh loop running /bin/true BENCH_FORKS times (wall time of the whole run);
#   file-heavy:    `du -a` over the host's /usr (stat, getdents), `tar cf /dev/null` of /usr/share
#                  (open, read, close) and `dd bs=512` from /dev/zero to /dev/null (2 cheap calls per
#                  block), /usr bind-mounted read-only, page cache warmed first (wall time; plain and
#                  eBPF only: notify and strace take minutes there);
# each as a plain `stockade run --rm`, under `stockade seccomp record` with the eBPF recorder and with
# the notify fallback, and under `strace -f -c` (the reference's way: strace -f over docker run's
# processes is what a user would do).  Configurations are interleaved round by round; medians.
#
# Usage (as root):  bench/bench-seccomp-record.sh
# Env:
#   BENCH_REPS   rounds (default 5)
#   BENCH_CALLS  getppid() calls per run (default 5000000)
#   BENCH_FORKS  fork+exec per run of the loop (default 1000)
#   BENCH_BLOCKS 512-byte blocks dd copies (default 1000000)
#   STOCKADE     the engine binary (default build/stockade)
#   BENCH_KEEP=1 keep the temp dir
# See bench/README.md, "bench-seccomp-record.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
STOCKADE=${STOCKADE:-$REPO/build/stockade}
BENCH_REPS=${BENCH_REPS:-5} BENCH_CALLS=${BENCH_CALLS:-5000000} BENCH_FORKS=${BENCH_FORKS:-1000}

die() { echo "bench-seccomp-record: $*" >&2; exit 1; }
log() { echo "bench-seccomp-record: $*" >&2; }

for v in BENCH_REPS BENCH_CALLS BENCH_FORKS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $(id -u) == 0 ]] || die "must run as root"
[[ -x $STOCKADE ]] || die "$STOCKADE not found (ninja -C build)"
command -v strace >/dev/null || die "strace missing (apt-get install strace)"

WORK=$(mktemp -d /tmp/bench-seccomp-record.XXXXXX)
chmod 0755 "$WORK"
cleanup() { [[ -n ${BENCH_KEEP:-} ]] && log "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT
export STOCKADE_DATA_ROOT=$WORK/data STOCKADE_EXEC_ROOT=$WORK/run STOCKADE_CONFIG=$WORK/daemon.json
bash "$REPO/tools/busybox-image.sh" "$STOCKADE" >"$WORK/image.log" 2>&1 || die "importing busybox failed"
gcc -O2 -static -o "$WORK/getppid-loop" "$REPO/bench/getppid-loop.c" || die "building getppid-loop failed"
clang -O2 -g -target bpf -I/usr/include/"$(gcc -print-multiarch)" -c "$REPO/bench/tracepoint-floor.bpf.c" \
    -o "$WORK/tracepoint-floor.bpf.o" || die "building tracepoint-floor.bpf.o failed"
gcc -O2 -o "$WORK/tracepoint-floor" "$REPO/bench/tracepoint-floor.c" -lbpf || die "building tracepoint-floor failed"

LOOP="i=0; while [ \$i -lt $BENCH_FORKS ]; do /bin/true; i=\$((i+1)); done"
CONFIGS=(plain bpf notify strace)

# run CONFIG ARGS... : the container run as CONFIG, its stdout in $WORK/out
run() {
    local c=$1; shift
    case $c in
    plain) "$STOCKADE" run --rm "$@" ;;
    bpf) "$STOCKADE" seccomp record -o "$WORK/p.json" -- "$@" ;;
    notify) "$STOCKADE" seccomp record --recorder notify -o "$WORK/p.json" -- "$@" ;;
    strace) strace -f -c -o "$WORK/strace.out" "$STOCKADE" run --rm "$@" ;;
    esac >"$WORK/out" 2>"$WORK/err" || die "$c failed: $(cat "$WORK/err")"
}

now() { date +%s.%N; }

# the file-heavy workloads, name -> busybox command line
declare -A FILEW=([du]="du -a /u" [tar]="tar cf /dev/null /u/share" [dd]="dd if=/dev/zero of=/dev/null bs=512 count=${BENCH_BLOCKS:-1000000}")
FILEW_ORDER=(du tar dd)
for w in "${FILEW_ORDER[@]}"; do run plain -v /usr:/u:ro busybox ${FILEW[$w]}; done # warm the page cache

declare -A NS WALL FW
for ((r = 0; r < BENCH_REPS; r++)); do
    for ((k = 0; k < 2; k++)); do
        c=${CONFIGS[(k + r) % 2]}
        for w in "${FILEW_ORDER[@]}"; do
            t0=$(now)
            run "$c" -v /usr:/u:ro busybox ${FILEW[$w]}
            t1=$(now)
            FW[$c.$w]+="$(echo "$t1 - $t0" | bc -l) "
        done
    done
    for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
        c=${CONFIGS[(k + r) % ${#CONFIGS[@]}]}
        run "$c" -v "$WORK/getppid-loop:/getppid-loop:ro" busybox /getppid-loop "$BENCH_CALLS"
        NS[$c]+="$(sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p' "$WORK/out") "
        t0=$(now)
        run "$c" busybox sh -c "$LOOP"
        t1=$(now)
        WALL[$c]+="$(echo "$t1 - $t0" | bc -l) "
    done
    log "round $((r + 1))/$BENCH_REPS done"
done

# the floor: a host process, outside the recorded cgroup, while a recorder is attached
FLOOR_OFF="" FLOOR_ON="" FLOOR_EMPTY=""
for ((r = 0; r < BENCH_REPS; r++)); do
    FLOOR_OFF+="$("$WORK/getppid-loop" "$BENCH_CALLS" | sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p') "
    FLOOR_EMPTY+="$("$WORK/tracepoint-floor" "$WORK/tracepoint-floor.bpf.o" "$WORK/getppid-loop" "$BENCH_CALLS" |
        sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p') "
    "$STOCKADE" seccomp record -o "$WORK/floor.json" -- busybox sleep 30 >/dev/null 2>&1 &
    rec_pid=$!
    for ((w = 0; w < 100; w++)); do
        [[ -n $(ls "$STOCKADE_DATA_ROOT/containers" 2>/dev/null) ]] && break
        sleep 0.05
    done
    sleep 1
    FLOOR_ON+="$("$WORK/getppid-loop" "$BENCH_CALLS" | sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p') "
    for id in $(ls "$STOCKADE_DATA_ROOT/containers"); do "$STOCKADE" kill "$id" >/dev/null 2>&1 || true; done
    wait "$rec_pid" || true
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "getppid(): ns per call inside the container (median of $BENCH_REPS runs of $BENCH_CALLS calls)"
echo "fork loop: wall seconds of the whole run, $BENCH_FORKS x fork+exec of /bin/true (median of $BENCH_REPS)"
printf '%-8s %12s %8s %12s %8s\n' config 'getppid ns' ratio 'fork loop s' ratio
base_ns=$(echo "${NS[plain]}" | median)
base_wall=$(echo "${WALL[plain]}" | median)
for c in "${CONFIGS[@]}"; do
    ns=$(echo "${NS[$c]}" | median)
    wall=$(echo "${WALL[$c]}" | median)
    printf '%-8s %12.1f %7.2fx %12.3f %7.2fx\n' "$c" "$ns" "$(echo "$ns / $base_ns" | bc -l)" "$wall" \
        "$(echo "$wall / $base_wall" | bc -l)"
done
echo
echo "file-heavy workloads: wall seconds of the whole run (median of $BENCH_REPS), eBPF recording against plain"
printf '%-8s %10s %10s %8s\n' workload plain bpf ratio
for w in "${FILEW_ORDER[@]}"; do
    p=$(echo "${FW[plain.$w]}" | median) b=$(echo "${FW[bpf.$w]}" | median)
    printf '%-8s %10.3f %10.3f %7.2fx\n' "$w" "$p" "$b" "$(echo "$b / $p" | bc -l)"
done
off=$(echo "$FLOOR_OFF" | median) on=$(echo "$FLOOR_ON" | median)
printf 'floor: getppid() of a host process %.1f ns, %.1f ns while a recorder is attached elsewhere (%.2fx)\n' \
    "$off" "$on" "$(echo "$on / $off" | bc -l)"
empty=$(echo "$FLOOR_EMPTY" | median)
printf 'kernel floor: %.1f ns with an empty program on sys_enter (%.2fx): what any recorder on this hook costs\n' \
    "$empty" "$(echo "$empty / $off" | bc -l)"
