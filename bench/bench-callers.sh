#!/usr/bin/env bash
# bench-callers.sh - stockade-runtime as the runtime of other engines, against their default:
#   docker  `docker run --rm IMAGE true` through dockerd 20.10 -> containerd -> shim, with
#           --runtime runc (dockerd's default) and --runtime stockade (--add-runtime)
#   podman  `podman run --rm IMAGE true` through podman 4.3 -> conmon, with --runtime runc
#           (podman's default, crun, refuses this machine's hybrid cgroups) and --runtime
#           stockade-runtime
#   ctr     `ctr run --rm IMAGE ID true` through containerd 1.6 -> shim, with
#           --runc-binary runc and --runc-binary stockade-runtime
# The pairs differ only in the runtime binary; the rows say what the runtime's share of a whole
# `run --rm` is worth to each engine.
#
# Usage (as root):  bench/bench-callers.sh
# Env:
#   BENCH_N          interleaved rounds (default 20)
#   BENCH_CALLERS    callers to run (default "docker podman ctr")
#   STOCKADE_RUNTIME the runtime (default build/stockade-runtime)
#   DOCKER_CLI, DOCKERD, PODMAN as in bench/lib-engines.sh; BENCH_KEEP=1 keeps the temp dir
#
# Everything is private: the bench runs in its own mount namespace with a tmpfs on /run (the
# runtimes' default state roots, containerd's and podman's run directories) and /dev/shm, dockerd
# and containerd are started on sockets in the temp dir and stopped at the end (bench/lib-engines.sh).
# See bench/README.md, "bench-callers.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
BENCH_NAME=bench-callers
# shellcheck source=bench/lib-engines.sh
. "$(dirname "$SELF")/lib-engines.sh"
# shellcheck source=tests/helpers/containerd-config.sh
. "$(dirname "$SELF")/../tests/helpers/containerd-config.sh"
BENCH_N=${BENCH_N:-20}
[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
BENCH_CALLERS=${BENCH_CALLERS:-docker podman ctr}
# the engines bench/lib-engines.sh sets up: the callers other than ctr
BENCH_ENGINES=$(tr ' ' '\n' <<<"$BENCH_CALLERS" | grep -xE 'docker|podman' | tr '\n' ' ' || true)
export BENCH_ENGINES
eng_config
STOCKADE_RUNTIME=$(realpath "${STOCKADE_RUNTIME:-$REPO/build/stockade-runtime}")
[[ -x $STOCKADE_RUNTIME ]] || die "$STOCKADE_RUNTIME not found (ninja -C build)"
for c in $BENCH_CALLERS; do
    [[ $c == docker || $c == podman || $c == ctr ]] || die "unknown caller '$c' in BENCH_CALLERS"
done
eng_enter_namespace "$@" -- containerd:containerd ctr:containerd conmon:conmon runc:runc

# --- inside the private mount namespace -------------------------------------
# The runtimes' default roots (/run/runc, /run/stockade-runtime) and what the daemons put in /run
# stay in this namespace: podman's clean-up after an exit runs the runtime without --runtime-flag.
mount -t tmpfs -o mode=0755,size=64m bench-callers-run /run || die "cannot mount a tmpfs on /run"
mkdir -p /run/netns
DOCKERD_EXTRA_ARGS=(--add-runtime "stockade=$STOCKADE_RUNTIME")
EXTRA_CGROUPS=(bench-callers-$$)   # ctr's tasks: /<namespace>/<id>
eng_workdir
# podman without lib-engines' --runtime: each timed command names its own
PODMAN_G=(--root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" --network-config-dir "$P/net"
    --volumepath "$P/volumes" --cgroup-manager cgroupfs --events-backend file)
eng_image
eng_docker
eng_podman

# containerd for ctr: private root, state, sockets, opt dir
C=$WORK/containerd
CTR_IMAGE=docker.io/library/busybox:bench
CONTAINERD_PID=
cr() { ctr --address "$C/containerd.sock" -n "bench-callers-$$" "$@"; }
eng_cleanup_hook() {
    if [[ -n $CONTAINERD_PID ]] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
        kill -TERM "$CONTAINERD_PID"
        wait "$CONTAINERD_PID" 2>/dev/null || true
    fi
}
if [[ " $BENCH_CALLERS " == *" ctr "* ]]; then
    mkdir -p "$C"
    containerd_config "$C" >"$C/config.toml"
    containerd --config "$C/config.toml" </dev/null >"$C/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    for ((i = 0; i < 300; i++)); do cr version >/dev/null 2>&1 && break; sleep 0.1; done
    # a docker-save archive of the same rootfs (tools/busybox-image.sh makes it the same way)
    # a set-up fault, not something this machine lacks: the bench stops
    "$REPO/tools/busybox-image.sh" --archive "$C/image.tar" "$CTR_IMAGE" >"$C/import.log" 2>&1 ||
        die "tools/busybox-image.sh --archive failed: $(tail -c 300 "$C/import.log")"
    cr images import "$C/image.tar" >"$C/import.log" 2>&1 || die "ctr images import failed: $(tail -c 300 "$C/import.log")"
fi

# the timed commands: CALLER-RUNTIME
NRUN=0
cmd_docker-runc() { dk run --rm --runtime runc "$DOCKER_IMAGE" true; }
cmd_docker-stockade() { dk run --rm --runtime stockade "$DOCKER_IMAGE" true; }
cmd_podman-runc() { "$PODMAN" "${PODMAN_G[@]}" --runtime runc run --rm "${PODMAN_OPTS[@]}" "$PODMAN_IMAGE" true; }
cmd_podman-stockade() { "$PODMAN" "${PODMAN_G[@]}" --runtime "$STOCKADE_RUNTIME" run --rm "${PODMAN_OPTS[@]}" "$PODMAN_IMAGE" true; }
cmd_ctr-runc() { NRUN=$((NRUN + 1)); cr run --rm --runc-binary "$(command -v runc)" "$CTR_IMAGE" "r$NRUN" true; }
cmd_ctr-stockade() { NRUN=$((NRUN + 1)); cr run --rm --runc-binary "$STOCKADE_RUNTIME" "$CTR_IMAGE" "s$NRUN" true; }
cmd_baseline() { /bin/true; }

# run_once: bench/lib-engines.sh

VARIANTS=()
for c in $BENCH_CALLERS; do
    if [[ -n ${SKIP[$c]:-} ]]; then log "SKIP $c: ${SKIP[$c]}"; continue; fi
    for v in "$c-runc" "$c-stockade"; do
        run_once "$v"
        if ((RC == 0)); then
            VARIANTS+=("$v")
            : >"$WORK/$v.samples"
        else
            log "SKIP $v: sanity run exited $RC: $(head -c 600 "$WORK/err")"
            SKIP[$v]="sanity run exited $RC"
        fi
    done
done
((${#VARIANTS[@]})) || die "no caller/runtime pair passed the sanity run"
read -r -a NAMES <<<"$BENCH_ENGINES"
eng_versions "$WORK/versions"
echo "stockade-runtime: $("$STOCKADE_RUNTIME" --version | head -n 1)" >>"$WORK/versions"
echo "containerd (ctr): $(containerd --version | awk '{print $3}')" >>"$WORK/versions"

# --- timed, interleaved rounds, a new random order each round ------------------------
log "pairs: ${VARIANTS[*]} | N=$BENCH_N"
declare -A FAILS=()
: >"$WORK/baseline.samples"
for ((r = 0; r < BENCH_N; r++)); do
    mapfile -t order < <(shuf -e "${VARIANTS[@]}")
    for v in "${order[@]}"; do
        run_once "$v"
        if ((RC == 0)); then
            echo "$WALL_US" >>"$WORK/$v.samples"
        else
            [[ -n ${FAILS[$v]:-} ]] || log "$v round $r exited $RC: $(head -c 300 "$WORK/err")"
            FAILS[$v]=$((${FAILS[$v]:-0} + 1))
        fi
    done
    run_once baseline
    echo "$WALL_US" >>"$WORK/baseline.samples"
    (((r + 1) % 5 == 0)) && log "round $((r + 1))/$BENCH_N"
done

# --- report --------------------------------------------------------------------------
echo
cat "$WORK/versions"
echo
printf '%-8s %-10s %4s %10s %9s %9s %16s %16s\n' caller runtime n "median ms" "p90 ms" "min ms" "med stockade/runc" "p90 stockade/runc"
for c in $BENCH_CALLERS; do
    for rt in runc stockade; do
        v=$c-$rt
        if [[ ! -e $WORK/$v.samples ]]; then
            printf '%-8s %-10s  SKIPPED\n' "$c" "$rt"
            continue
        fi
        read -r n med p90 mn < <(stats "$WORK/$v.samples")
        declare "MED_${c}_$rt=$med" "P90_${c}_$rt=$p90"
        rm_=
        [[ $rt == stockade && -e $WORK/$c-runc.samples ]] && {
            m0=MED_${c}_runc p0=P90_${c}_runc
            rm_="$(ratio "$med" "${!m0}") $(ratio "$p90" "${!p0}")"
        }
        note=
        [[ -n ${FAILS[$v]:-} ]] && note="  (${FAILS[$v]} failed runs excluded)"
        read -r a b <<<"${rm_:-"" ""}"
        printf '%-8s %-10s %4s %10s %9s %9s %16s %16s%s\n' "$c" "$rt" "$n" "$med" "$p90" "$mn" "$a" "$b" "$note"
    done
done
read -r n mbm mbp mbn < <(stats "$WORK/baseline.samples")
printf '%-8s %-10s %4s %10s %9s %9s\n' "(baseline)" "" "$n" "$mbm" "$mbp" "$mbn"
echo "(wall time of 'CALLER run --rm IMAGE true'; podman with --network none and the ulimits this machine"
echo " needs, docker with --bridge=none; baseline: /bin/true timed the same way, included in every row)"
