#!/usr/bin/env bash
# bench-run.sh - compare `RUNTIME run` of /bin/true across stockade-runtime,
# crun and runc: wall time (median, p90) and peak RSS of the runtime process.
#
# Usage (as root):  bench/bench-run.sh
# Env:
#   BENCH_N           iterations per runtime (default 50)
#   STOCKADE_RUNTIME  path of our runtime (default build/stockade-runtime)
#   CRUN, RUNC        crun / runc binaries (default: from PATH)
#   BENCH_KEEP=1      keep the temp dir (bundle, state dirs, raw samples)
#
# See bench/README.md for how to read the output.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
STOCKADE_RUNTIME=${STOCKADE_RUNTIME:-$REPO/build/stockade-runtime}
BENCH_N=${BENCH_N:-50}
TIME_BIN=/usr/bin/time

die() { echo "bench-run: $*" >&2; exit 1; }
log() { echo "bench-run: $*" >&2; }

[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
[[ $(id -u) == 0 ]] || die "must run as root (runtimes need it, and so does unshare -m)"

# --- dependencies (only outside the namespace, before re-exec) -------------
if [[ -z ${STOCKADE_BENCH_INNER:-} ]]; then
    missing=()
    [[ -x $TIME_BIN ]] || missing+=(time)
    command -v jq >/dev/null || missing+=(jq)
    if ! [[ -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
        missing+=(busybox-static)     # need a *static* busybox for the rootfs
    fi
    command -v "${RUNC:-runc}" >/dev/null || missing+=(runc)
    command -v "${CRUN:-crun}" >/dev/null || missing+=(crun)
    if ((${#missing[@]})); then
        log "installing missing packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y "${missing[@]}" >&2 ||
            { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; } ||
            die "apt-get install ${missing[*]} failed"
    fi
    # crun 1.8.1 refuses the hybrid cgroup layout (v1 controllers + cgroup2 at
    # /sys/fs/cgroup/unified), so run everything in a private mount namespace
    # where the cgroup2 mount is gone. The host is not affected.
    export STOCKADE_BENCH_INNER=1
    exec unshare -m --propagation private "$SELF" "$@"
fi

# --- inside the private mount namespace -------------------------------------
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    umount /sys/fs/cgroup/unified || die "cannot umount /sys/fs/cgroup/unified"
    # The directory left behind lives on the host's (shared) /sys/fs/cgroup
    # tmpfs, and crun still mkdirs <id>/cgroup.procs there for the "0::" line
    # of /proc/self/cgroup. Cover it with a private tmpfs so that junk stays
    # in this namespace and vanishes with it.
    mount -t tmpfs -o size=1m,mode=755 bench-unified /sys/fs/cgroup/unified ||
        die "cannot mount tmpfs on /sys/fs/cgroup/unified"
fi

RUNC=$(command -v "${RUNC:-runc}") || die "runc not found"
CRUN=$(command -v "${CRUN:-crun}") || die "crun not found"

NAMES=() BINS=()
if [[ -x $STOCKADE_RUNTIME ]]; then
    NAMES+=(stockade) BINS+=("$STOCKADE_RUNTIME")
else
    log "NOTE: $STOCKADE_RUNTIME not found/executable -- benchmarking crun and runc only"
fi
NAMES+=(crun runc) BINS+=("$CRUN" "$RUNC")

WORK=$(mktemp -d /tmp/stockade-bench.XXXXXX)
PREFIX="bench$$"

# Delete every container we may have left behind, in every state root.
cleanup() {
    local i st d id
    for i in "${!NAMES[@]}"; do
        st=$WORK/state/${NAMES[$i]}
        [[ -d $st ]] || continue
        { "${BINS[$i]}" --root "$st" list -q 2>/dev/null || true; } | while read -r id; do
            if [[ -n $id ]]; then "${BINS[$i]}" --root "$st" delete -f "$id" >/dev/null 2>&1 || true; fi
        done
        for d in "$st"/*/; do
            [[ -d $d ]] || continue
            "${BINS[$i]}" --root "$st" delete -f "$(basename "$d")" >/dev/null 2>&1 || true
        done
    done
    # runc/crun with no cgroupsPath use /sys/fs/cgroup/<ctrl>/<id>; report leaks.
    local leaked
    leaked=$(find /sys/fs/cgroup -maxdepth 3 -path /sys/fs/cgroup/unified -prune \
        -o -type d -name "$PREFIX-*" -print 2>/dev/null | head -5)
    [[ -z $leaked ]] || log "WARNING: leftover cgroups: ${leaked//$'\n'/ }"
    if [[ -n ${BENCH_KEEP:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- bundle -----------------------------------------------------------------
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/proc" "$B/rootfs/dev" "$B/rootfs/sys"
cp /bin/busybox "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
(cd "$B" && "$RUNC" spec)
jq '.process.args = ["/bin/true"] | .process.terminal = false | .root.readonly = true' \
    "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"

# run_once IDX ID -> sets RC, WALL_US, RSS_KB; stderr of the runtime in $WORK/err
run_once() {
    local bin=${BINS[$1]} st=$WORK/state/${NAMES[$1]} id=$2 t0 t1
    t0=$EPOCHREALTIME
    set +e
    "$TIME_BIN" -f %M -o "$WORK/rss" "$bin" --root "$st" run --bundle "$B" "$id" \
        </dev/null >/dev/null 2>"$WORK/err"
    RC=$?
    set -e
    t1=$EPOCHREALTIME
    WALL_US=$(( ${t1//[.,]/} - ${t0//[.,]/} ))
    RSS_KB=$(tail -n 1 "$WORK/rss" 2>/dev/null || echo 0)
    # `run` (not detached) removes the container itself; make sure anyway.
    if [[ -e $st/$id ]]; then "$bin" --root "$st" delete -f "$id" >/dev/null 2>&1 || true; fi
}

# --- sanity check: one run each must exit 0 ----------------------------------
ACTIVE=()
for i in "${!NAMES[@]}"; do
    mkdir -p "$WORK/state/${NAMES[$i]}"
    run_once "$i" "$PREFIX-${NAMES[$i]}-sanity"
    if ((RC == 0)); then
        ACTIVE+=("$i")
        : >"$WORK/${NAMES[$i]}.samples"
    else
        log "SKIP ${NAMES[$i]} (${BINS[$i]}): sanity run exited $RC:"
        sed 's/^/    /' "$WORK/err" >&2
    fi
done
((${#ACTIVE[@]})) || die "no runtime passed the sanity run"

# Baseline: cost of the measuring wrapper itself (/usr/bin/time + fork/exec).
: >"$WORK/baseline.samples"

# --- timed, interleaved rounds ----------------------------------------------
log "runtimes: $(for i in "${ACTIVE[@]}"; do printf '%s ' "${NAMES[$i]}"; done)| N=$BENCH_N | cpus=$(nproc)"
declare -A FAILS=()
k=${#ACTIVE[@]}
for ((r = 0; r < BENCH_N; r++)); do
    # rotate the order each round so no runtime is always first/last
    for ((j = 0; j < k; j++)); do
        i=${ACTIVE[$(((r + j) % k))]}
        run_once "$i" "$PREFIX-${NAMES[$i]}-$r"
        if ((RC == 0)); then
            echo "$WALL_US $RSS_KB" >>"$WORK/${NAMES[$i]}.samples"
        else
            if [[ -z ${FAILS[${NAMES[$i]}]:-} ]]; then
                log "${NAMES[$i]} round $r exited $RC: $(head -c 300 "$WORK/err")"
            fi
            FAILS[${NAMES[$i]}]=$((${FAILS[${NAMES[$i]}]:-0} + 1))
        fi
    done
    t0=$EPOCHREALTIME
    "$TIME_BIN" -f %M -o "$WORK/rss" /bin/true
    t1=$EPOCHREALTIME
    echo "$(( ${t1//[.,]/} - ${t0//[.,]/} )) $(tail -n 1 "$WORK/rss")" >>"$WORK/baseline.samples"
    (( (r + 1) % 10 == 0 )) && log "round $((r + 1))/$BENCH_N"
done

# stats FILE -> "median_ms p90_ms rssmed_kb rssmax_kb n"
# median: mean of the two middle values for even n; p90: nearest rank.
stats() {
    local w r
    w=$(awk '{print $1}' "$1" | sort -n | awk '{a[NR]=$1} END {
        if (NR == 0) { print "nan nan"; exit }
        m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
        p = int(0.9 * NR); if (p < 0.9 * NR) p++
        printf "%.2f %.2f", m / 1000, a[p] / 1000 }')
    r=$(awk '{print $2}' "$1" | sort -n | awk '{a[NR]=$1} END {
        if (NR == 0) { print "nan nan 0"; exit }
        m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
        printf "%d %d %d", m, a[NR], NR }')
    echo "$w $r"
}

echo
printf '%-10s %6s %11s %11s %14s %13s\n' runtime n "median ms" "p90 ms" "med maxRSS KB" "peak RSS KB"
declare -A MED P90 RSSM RSSX
for i in "${ACTIVE[@]}"; do
    n=${NAMES[$i]}
    read -r MED[$n] P90[$n] RSSM[$n] RSSX[$n] cnt < <(stats "$WORK/$n.samples")
    printf '%-10s %6s %11s %11s %14s %13s%s\n' "$n" "$cnt" "${MED[$n]}" "${P90[$n]}" \
        "${RSSM[$n]}" "${RSSX[$n]}" "${FAILS[$n]:+  (${FAILS[$n]} failed runs excluded)}"
done
read -r bm bp brm brx bn < <(stats "$WORK/baseline.samples")
printf '%-10s %6s %11s %11s %14s %13s\n' "(baseline)" "$bn" "$bm" "$bp" "$brm" "$brx"
echo "(baseline = '$TIME_BIN /bin/true': measuring overhead included in every wall time)"

echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
if [[ -n ${MED[stockade]:-} ]]; then
    for o in crun runc; do
        if [[ -n ${MED[$o]:-} ]]; then
            printf 'stockade/%-5s  median %s   p90 %s   peak RSS %s\n' "$o" \
                "$(ratio "${MED[stockade]}" "${MED[$o]}")" "$(ratio "${P90[stockade]}" "${P90[$o]}")" \
                "$(ratio "${RSSX[stockade]}" "${RSSX[$o]}")"
        else
            echo "stockade/$o: n/a ($o skipped)"
        fi
    done
else
    echo "stockade/crun, stockade/runc: n/a (stockade-runtime not benchmarked: $STOCKADE_RUNTIME)"
    if [[ -n ${MED[crun]:-} && -n ${MED[runc]:-} ]]; then
        printf 'for reference crun/runc: median %s   p90 %s   peak RSS %s\n' \
            "$(ratio "${MED[crun]}" "${MED[runc]}")" "$(ratio "${P90[crun]}" "${P90[runc]}")" \
            "$(ratio "${RSSX[crun]}" "${RSSX[runc]}")"
    fi
fi
