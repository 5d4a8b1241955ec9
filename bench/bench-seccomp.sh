#!/usr/bin/env bash
# bench-seccomp.sh - what a seccomp filter costs, stockade-runtime vs runc vs crun:
#  1. per syscall: ns per getppid() of bench/getppid-loop.c, on the host and in
#     containers without a filter / with stockade's default / with Docker 20.10's profile;
#  2. at set-up: wall time of `run` of /bin/true with and without a profile, stockade
#     with a cold and a warm compiled-filter cache.
#
# Usage (as root):  bench/bench-seccomp.sh
# Env:
#   BENCH_N           rounds of part 2 (default 20)
#   BENCH_REPS        runs per configuration in part 1 (default 5)
#   BENCH_CALLS       getppid() calls per run in part 1 (default 5000000)
#   STOCKADE_RUNTIME  our runtime (default build/stockade-runtime)
#   CRUN, RUNC        crun / runc binaries (default: from PATH)
#   DOCKER_OCI_CONFIG the dockerd-rendered config.json whose .linux.seccomp is used
#                     (default /work/shared/reference/docker-20.10/docker-default-oci-config.json)
#   BENCH_KEEP=1      keep the temp dir
# See bench/README.md, "bench-seccomp.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
STOCKADE_RUNTIME=${STOCKADE_RUNTIME:-$REPO/build/stockade-runtime}
DOCKER_OCI_CONFIG=${DOCKER_OCI_CONFIG:-/work/shared/reference/docker-20.10/docker-default-oci-config.json}
BENCH_N=${BENCH_N:-20} BENCH_REPS=${BENCH_REPS:-5} BENCH_CALLS=${BENCH_CALLS:-5000000}

die() { echo "bench-seccomp: $*" >&2; exit 1; }
log() { echo "bench-seccomp: $*" >&2; }

for v in BENCH_N BENCH_REPS BENCH_CALLS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $(id -u) == 0 ]] || die "must run as root (runtimes need it, and so does unshare -m)"
[[ -x $STOCKADE_RUNTIME ]] || die "$STOCKADE_RUNTIME not found (build it with tools/build.sh)"
[[ -r $DOCKER_OCI_CONFIG ]] || die "cannot read $DOCKER_OCI_CONFIG"
[[ -r $REPO/bench/getppid-loop.c && -r $REPO/tests/helpers/mkrootfs.sh ]] ||
    die "bench/getppid-loop.c or tests/helpers/mkrootfs.sh missing in $REPO"

if [[ -z ${STOCKADE_BENCH_INNER:-} ]]; then
    missing=()
    command -v jq >/dev/null || missing+=(jq)
    command -v gcc >/dev/null || missing+=(gcc)
    [[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
    if ! [[ -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
    command -v "${RUNC:-runc}" >/dev/null || missing+=(runc)
    command -v "${CRUN:-crun}" >/dev/null || missing+=(crun)
    if ((${#missing[@]})); then
        log "installing missing packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y "${missing[@]}" >&2 ||
            { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; } ||
            die "apt-get install ${missing[*]} failed"
    fi
    # crun 1.8.1 refuses the hybrid cgroup layout: see bench-run.sh and bench/README.md.
    export STOCKADE_BENCH_INNER=1
    exec unshare -m --propagation private "$SELF" "$@"
fi

if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    umount /sys/fs/cgroup/unified || die "cannot umount /sys/fs/cgroup/unified"
    mount -t tmpfs -o size=1m,mode=755 bench-unified /sys/fs/cgroup/unified ||
        die "cannot mount tmpfs on /sys/fs/cgroup/unified"
fi
RUNC=$(command -v "${RUNC:-runc}") || die "runc not found"
CRUN=$(command -v "${CRUN:-crun}") || die "crun not found"

WORK=$(mktemp -d /tmp/stockade-bench-seccomp.XXXXXX)
PREFIX="bsc$$"
# Every configuration: runtime binary (or "host") and profile; each has its own --root.
declare -A RT=(
    [host]=host [stk-none]=$STOCKADE_RUNTIME [stk-default]=$STOCKADE_RUNTIME
    [stk-default-cold]=$STOCKADE_RUNTIME [stk-default-warm]=$STOCKADE_RUNTIME
    [stk-docker]=$STOCKADE_RUNTIME [runc-none]=$RUNC [runc-docker]=$RUNC
    [crun-none]=$CRUN [crun-docker]=$CRUN)
declare -A PROF=(
    [stk-none]=none [stk-default]=default [stk-default-cold]=default [stk-default-warm]=default
    [stk-docker]=docker [runc-none]=none [runc-docker]=docker [crun-none]=none [crun-docker]=docker)

cleanup() {
    local c st id
    for c in "${!RT[@]}"; do
        st=$WORK/state/$c
        [[ $c != host && -d $st ]] || continue
        for id in $("${RT[$c]}" --root "$st" list -q 2>/dev/null || true) \
            $(cd "$st" && find . -mindepth 1 -maxdepth 1 -type d -name "$PREFIX-*" -printf '%f\n'); do
            "${RT[$c]}" --root "$st" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    if [[ -n ${BENCH_KEEP:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the loop program, the rootfs (loop program = /init) and one bundle per profile x program
gcc -O2 -static -o "$WORK/getppid-loop" "$REPO/bench/getppid-loop.c" ||
    die "gcc -O2 -static bench/getppid-loop.c failed (is libc6-dev installed?)"
"$REPO/tests/helpers/mkrootfs.sh" "$WORK/rootfs" "$WORK/getppid-loop" >/dev/null || die "mkrootfs.sh failed"
mkdir -p "$WORK/spec"
(cd "$WORK/spec" && "$RUNC" spec) || die "runc spec failed"
"$STOCKADE_RUNTIME" seccomp default >"$WORK/stockade-default.json" ||
    die "'$STOCKADE_RUNTIME seccomp default' failed"
jq -e '.linux.seccomp | objects' "$DOCKER_OCI_CONFIG" >"$WORK/docker.json" ||
    die "$DOCKER_OCI_CONFIG has no .linux.seccomp object"
# shellcheck disable=SC2016 # $prof and $args are jq variables
for p in none default docker; do
    for prog in loop true; do
        mkdir -p "$WORK/b-$p-$prog"
        case $prog in loop) args=$(jq -nc --arg n "$BENCH_CALLS" '["/init", $n]') ;; true) args='["/bin/true"]' ;; esac
        case $p in
            none) filt='del(.linux.seccomp)' prof=/dev/null ;;
            default) filt='.linux.seccomp = $prof[0]' prof=$WORK/stockade-default.json ;;
            docker) filt='.linux.seccomp = $prof[0]' prof=$WORK/docker.json ;;
        esac
        jq --argjson args "$args" --arg rootfs "$WORK/rootfs" --slurpfile prof "$prof" \
            ".process.args = \$args | .process.terminal = false | .root = {path: \$rootfs, readonly: true} | $filt" \
            "$WORK/spec/config.json" >"$WORK/b-$p-$prog/config.json" || die "jq failed building b-$p-$prog"
    done
done

# run_cfg CFG PROG ID -> RC, WALL_US; stdout in $WORK/out, stderr in $WORK/err
run_cfg() {
    local c=$1 st=$WORK/state/$1 t0 t1
    if [[ $c != host ]]; then mkdir -p "$st"; fi
    if [[ $c == stk-default-cold ]]; then rm -rf "$st/.seccomp-cache"; fi
    set +e
    t0=$EPOCHREALTIME
    if [[ $c == host ]]; then
        "$WORK/getppid-loop" "$BENCH_CALLS" </dev/null >"$WORK/out" 2>"$WORK/err"
    else
        "${RT[$c]}" --root "$st" run --bundle "$WORK/b-${PROF[$c]}-$2" "$3" </dev/null >"$WORK/out" 2>"$WORK/err"
    fi
    RC=$?
    t1=$EPOCHREALTIME
    set -e
    WALL_US=$(( ${t1//[.,]/} - ${t0//[.,]/} ))
    if [[ $c != host && -e $st/$3 ]]; then "${RT[$c]}" --root "$st" delete -f "$3" >/dev/null 2>&1 || true; fi
}
declare -A WHY=() INFO=()
# sanity CFG PROG: one run must exit 0 (and print ns_per_call for the loop); else record why
sanity() {
    run_cfg "$1" "$2" "$PREFIX-$1-$2-sanity"
    if ((RC != 0)); then
        WHY[$1-$2]="exit $RC: $(tr '\n' ' ' <"$WORK/err" | head -c 400)"
    elif [[ $2 == loop ]] && ! grep -q '^ns_per_call=' "$WORK/out"; then
        WHY[$1-$2]="no ns_per_call in output: $(head -c 200 "$WORK/out")"
    else
        if [[ $2 == loop ]]; then INFO[$1]=$(sed -n 's/^ns_per_call=[^ ]* n=[^ ]* //p' "$WORK/out"); fi
        return 0
    fi
    log "FAILED $1 ($2): ${WHY[$1-$2]}"
    return 1
}
med() { sort -n "$1" | awk '{a[NR]=$1} END { if (!NR) print "nan"; else printf "%.3f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
mini() { sort -n "$1" | awk 'NR == 1 { printf "%.3f\n", $1 } END { if (!NR) print "nan" }'; }
p90() { sort -n "$1" | awk '{a[NR]=$1} END { if (!NR) print "nan"; else { p=int(0.9*NR); if (p<0.9*NR) p++; printf "%.3f\n", a[p] } }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
# rounds PROG NROUNDS CFG... : interleaved, in a new random order each round (a rotation would keep
# each configuration behind the same predecessor, e.g. warm always right after cold); samples in
# $WORK/s-PROG-CFG
rounds() {
    local prog=$1 n=$2 r c v order; shift 2
    for c in "$@"; do : >"$WORK/s-$prog-$c"; done
    for ((r = 0; r < n; r++)); do
        mapfile -t order < <(shuf -e "$@")
        for c in "${order[@]}"; do
            run_cfg "$c" "$prog" "$PREFIX-$c-$prog-$r"
            if ((RC != 0)); then log "$c ($prog) round $r exited $RC: $(head -c 300 "$WORK/err")"; continue; fi
            if [[ $prog == loop ]]; then
                v=$(sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p' "$WORK/out")
                [[ -n $v ]] && echo "$v" >>"$WORK/s-$prog-$c"
            else
                awk -v u="$WALL_US" 'BEGIN { printf "%.3f\n", u / 1000 }' >>"$WORK/s-$prog-$c"
            fi
        done
        if (( (r + 1) % 5 == 0 )); then log "$prog: round $((r + 1))/$n"; fi
    done
}

echo "bench-seccomp: $(date -u '+%Y-%m-%d %H:%MZ') | $(uname -r) | $(nproc) cpus | $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "  stockade: $STOCKADE_RUNTIME ($("$STOCKADE_RUNTIME" --version 2>&1 | head -1))"
echo "  $("$RUNC" --version | head -1), $("$CRUN" --version | head -1); spec_store_bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo '?')"

# --- part 1: per-syscall cost ------------------------------------------------------------------
L1=(host stk-none stk-default stk-docker runc-docker crun-docker) A1=()
for c in "${L1[@]}"; do if sanity "$c" loop; then A1+=("$c"); fi; done
log "part 1: ${#A1[@]} configurations x $BENCH_REPS runs x $BENCH_CALLS getppid()"
if ((${#A1[@]})); then rounds loop "$BENCH_REPS" "${A1[@]}"; fi
declare -A NS=()
echo
echo "1. getppid() cost: median (and min) of $BENCH_REPS runs of $BENCH_CALLS calls"
printf '   %-28s %9s %8s %8s  %s\n' configuration ns/call "vs host" "min" "/proc/self/status of the loop"
declare -A DESC1=([host]="(a) host, no filter" [stk-none]="(b) stockade, no seccomp" [stk-default]="(c) stockade, own default"
    [stk-docker]="(d) stockade, docker 20.10" [runc-docker]="(e) runc, docker 20.10" [crun-docker]="(f) crun, docker 20.10")
for c in "${L1[@]}"; do
    if [[ -n ${WHY[$c-loop]:-} ]]; then printf '   %-28s FAILED %s\n' "${DESC1[$c]}" "${WHY[$c-loop]}"; continue; fi
    NS[$c]=$(med "$WORK/s-loop-$c")
    printf '   %-28s %9.2f %8s %8.2f  %s\n' "${DESC1[$c]}" "${NS[$c]}" "$(ratio "${NS[$c]}" "${NS[host]:-}")" \
        "$(mini "$WORK/s-loop-$c")" "${INFO[$c]:-}"
done
echo "   stockade docker / runc docker (d/e): $(ratio "${NS[stk-docker]:-}" "${NS[runc-docker]:-}")" \
     "  stockade docker / crun docker (d/f): $(ratio "${NS[stk-docker]:-}" "${NS[crun-docker]:-}")" \
     "  stockade default / stockade none (c/b): $(ratio "${NS[stk-default]:-}" "${NS[stk-none]:-}")"

# --- part 2: set-up cost --------------------------------------------------------------------
L2=(stk-none runc-none crun-none stk-default-cold stk-default-warm stk-docker runc-docker crun-docker) A2=()
for c in "${L2[@]}"; do if sanity "$c" true; then A2+=("$c"); fi; done  # also warms the warm caches
log "part 2: ${#A2[@]} configurations x $BENCH_N rounds of run /bin/true"
if ((${#A2[@]})); then rounds true "$BENCH_N" "${A2[@]}"; fi
declare -A MS=()
echo
echo "2. wall time of 'run' of /bin/true: median and p90 of $BENCH_N interleaved rounds"
printf '   %-34s %4s %10s %8s\n' configuration n "median ms" "p90 ms"
declare -A DESC2=([stk-none]="stockade, no seccomp" [runc-none]="runc, no seccomp" [crun-none]="crun, no seccomp"
    [stk-default-cold]="stockade, own default, cold cache" [stk-default-warm]="stockade, own default, warm cache"
    [stk-docker]="stockade, docker 20.10, warm cache" [runc-docker]="runc, docker 20.10" [crun-docker]="crun, docker 20.10")
for c in "${L2[@]}"; do
    if [[ -n ${WHY[$c-true]:-} ]]; then printf '   %-34s FAILED %s\n' "${DESC2[$c]}" "${WHY[$c-true]}"; continue; fi
    MS[$c]=$(med "$WORK/s-true-$c")
    printf '   %-34s %4d %10.2f %8.2f\n' "${DESC2[$c]}" "$(wc -l <"$WORK/s-true-$c")" "${MS[$c]}" "$(p90 "$WORK/s-true-$c")"
done
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.2f ms", a - b; else print "n/a" }'; }
echo "   stockade default warm / runc docker: $(ratio "${MS[stk-default-warm]:-}" "${MS[runc-docker]:-}")" \
     "  / crun docker: $(ratio "${MS[stk-default-warm]:-}" "${MS[crun-docker]:-}")"
echo "   stockade docker warm / runc docker: $(ratio "${MS[stk-docker]:-}" "${MS[runc-docker]:-}")" \
     "  / crun docker: $(ratio "${MS[stk-docker]:-}" "${MS[crun-docker]:-}")"
echo "   cold - warm (what the cache saves): $(diff_ms "${MS[stk-default-cold]:-}" "${MS[stk-default-warm]:-}")"
echo "   filter cost over no seccomp: stockade warm $(diff_ms "${MS[stk-default-warm]:-}" "${MS[stk-none]:-}")," \
     "stockade cold $(diff_ms "${MS[stk-default-cold]:-}" "${MS[stk-none]:-}")," \
     "runc $(diff_ms "${MS[runc-docker]:-}" "${MS[runc-none]:-}"), crun $(diff_ms "${MS[crun-docker]:-}" "${MS[crun-none]:-}")"
