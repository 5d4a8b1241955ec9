#!/usr/bin/env bash
# bench-engine.sh - compare whole engines, side by side in one run:
#   1. wall time of `run --rm busybox true` for the stockade CLI, docker (CLI ->
#      dockerd 20.10 -> containerd -> shim -> runc) and podman 4.3 (-> conmon -> runc);
#   2. resident memory (VmRSS) of the per-container helper of a sleeping container:
#      stockade-monitor, podman's conmon, docker's containerd-shim-runc-v2.
#
# Usage (as root):  bench/bench-engine.sh
# Env:
#   BENCH_N          interleaved rounds (default 20)
#   BENCH_ENGINES    engines to try (default "stockade docker podman")
#   STOCKADE         the engine CLI (default build/stockade; stockade-monitor and
#                    stockade-runtime are found by it)
#   DOCKER_CLI       docker CLI (default /usr/local/bin/docker, else from PATH)
#   DOCKERD          dockerd (default from PATH; Debian's docker.io)
#   PODMAN           podman (default from PATH)
#   PODMAN_RUNTIME   runc (default) or crun. crun refuses this host's hybrid cgroup
#                    layout, so with crun the whole bench runs with /sys/fs/cgroup/unified
#                    unmounted (pure cgroup v1) in its private mount namespace.
#   BENCH_KEEP=1     keep the temp dir (raw samples, daemon logs)
#
# Every engine gets private state in one temp dir; dockerd is started by this script on
# a private unix socket and stopped at the end (bench/lib-engines.sh, shared with
# bench-logging.sh). See bench/README.md, "bench-engine.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
BENCH_NAME=bench-engine
# shellcheck source=bench/lib-engines.sh
. "$(dirname "$SELF")/lib-engines.sh"
BENCH_N=${BENCH_N:-20}
[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
eng_config
eng_enter_namespace "$@"

# --- inside the private mount namespace -------------------------------------
eng_workdir
PODMAN_RUN=(run --rm "${PODMAN_OPTS[@]}")

# the command of one timed run, per engine (stdin/stdout/stderr set by the caller)
cmd_stockade() { "$STOCKADE" run --rm busybox true; }
cmd_docker() { dk run --rm "$DOCKER_IMAGE" true; }
cmd_baseline() { /bin/true; }   # what the timing itself costs (fork + exec)
cmd_podman() { "$PODMAN" "${PODMAN_G[@]}" "${PODMAN_RUN[@]}" "$PODMAN_IMAGE" true; }

# the busybox image in all three (one tarball), our own dockerd, podman's private storage
eng_image
eng_docker
eng_podman

# --- sanity: one run each must exit 0 ---------------------------------------------
# run_once ENGINE -> RC, WALL_US (bench/lib-engines.sh)
for e in $BENCH_ENGINES; do
    [[ -z ${SKIP[$e]:-} ]] || continue
    run_once "$e"
    if ((RC == 0)); then
        NAMES+=("$e")
        : >"$WORK/$e.samples"
    else
        SKIP[$e]="sanity run exited $RC: $(head -c 600 "$WORK/err")"
    fi
done
eng_skipped
((${#NAMES[@]})) || die "no engine passed set-up and the sanity run"

# versions, for the record
eng_versions "$WORK/versions"

# --- timed, interleaved rounds ----------------------------------------------------
# Every round runs each engine once, in a new random order (see bench-seccomp.sh: with
# a fixed rotation each engine always follows the same one, and docker's and podman's
# asynchronous clean-up would always land on the same successor).
log "engines: ${NAMES[*]} | N=$BENCH_N | podman runtime $PODMAN_RUNTIME"
declare -A FAILS=()
: >"$WORK/baseline.samples"
for ((r = 0; r < BENCH_N; r++)); do
    mapfile -t order < <(shuf -e "${NAMES[@]}")
    prev=-
    for e in "${order[@]}"; do
        run_once "$e"
        echo "$r $e $prev $RC $WALL_US" >>"$WORK/rounds.log"   # round engine predecessor rc us
        prev=$e
        if ((RC == 0)); then
            echo "$WALL_US" >>"$WORK/$e.samples"
        else
            [[ -n ${FAILS[$e]:-} ]] || log "$e round $r exited $RC: $(head -c 300 "$WORK/err")"
            FAILS[$e]=$((${FAILS[$e]:-0} + 1))
        fi
    done
    run_once baseline
    echo "$WALL_US" >>"$WORK/baseline.samples"
    (((r + 1) % 5 == 0)) && log "round $((r + 1))/$BENCH_N"
done

# `run --rm` must leave nothing behind
declare -A LEFT=()
for e in "${NAMES[@]}"; do
    case $e in
    stockade) LEFT[$e]=$("$STOCKADE" ps -aq 2>/dev/null | wc -l) ;;
    docker) LEFT[$e]=$(dk ps -aq 2>/dev/null | wc -l) ;;
    podman) LEFT[$e]=$("$PODMAN" "${PODMAN_G[@]}" ps -aq 2>/dev/null | wc -l) ;;
    esac
done

# --- memory of the per-container helper -----------------------------------------
# One detached `sleep 30` container per engine, one at a time. The helper is the process
# with the helper's executable whose command line names $WORK (monitor run dir, conmon's
# --exit-dir, the shim's containerd address); it must be exactly one.
declare -A HELPER=([stockade]=stockade-monitor [podman]=conmon [docker]=containerd-shim-runc-v2)
declare -A MEM=()    # engine -> "rss_kb hwm_kb threads pid" or "n/a: reason"
start_sleeper() {
    case $1 in
    stockade) "$STOCKADE" run -d --name "$PREFIX-mem" busybox sleep 30 ;;
    docker) dk run -d --name "$PREFIX-mem" "$DOCKER_IMAGE" sleep 30 ;;
    podman) "$PODMAN" "${PODMAN_G[@]}" run -d "${PODMAN_OPTS[@]}" --name "$PREFIX-mem" "$PODMAN_IMAGE" sleep 30 ;;
    esac
}
stop_sleeper() {
    case $1 in
    stockade) "$STOCKADE" rm -f "$PREFIX-mem" ;;
    docker) dk rm -f "$PREFIX-mem" ;;
    podman) "$PODMAN" "${PODMAN_G[@]}" rm -f -t 0 "$PREFIX-mem" ;;
    esac
}
helper_pids() {
    local d exe
    for d in /proc/[0-9]*; do
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        [[ ${exe##*/} == "$1" ]] || continue
        tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$WORK" && echo "${d#/proc/}"
    done
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
for e in "${NAMES[@]}"; do
    if ! start_sleeper "$e" >/dev/null 2>"$WORK/err" </dev/null; then
        MEM[$e]="n/a: run -d failed: $(head -c 300 "$WORK/err")"
        continue
    fi
    sleep 1   # let the helper settle into its wait loop
    mapfile -t pids < <(helper_pids "${HELPER[$e]}")
    if ((${#pids[@]} != 1)); then
        MEM[$e]="n/a: ${#pids[@]} ${HELPER[$e]} processes found (want 1)"
    else
        pid=${pids[0]}
        MEM[$e]="$(status_kb "$pid" VmRSS) $(status_kb "$pid" VmHWM) $(status_kb "$pid" Threads) $pid"
    fi
    if [[ $e == docker ]]; then
        cpid=$(pgrep -P "$DOCKERD_PID" -x containerd | head -n 1 || true)
        DAEMONS="dockerd $(status_kb "$DOCKERD_PID" VmRSS) KB${cpid:+, containerd $(status_kb "$cpid" VmRSS) KB}"
    fi
    stop_sleeper "$e" >/dev/null 2>"$WORK/err" </dev/null || log "$e: rm -f of the sleeping container failed: $(head -c 300 "$WORK/err")"
done

# --- report --------------------------------------------------------------------------
# stats and ratio: bench/lib-engines.sh (medians and p90 in ms from µs samples)

echo
cat "$WORK/versions"
echo
printf '%-10s %4s %10s %9s %9s %11s %10s\n' engine n "median ms" "p90 ms" "min ms" "med/docker" "p90/docker"
declare -A MED P90
if [[ -n ${SKIP[docker]:-} ]] || ! want docker; then dmed=nan dp90=nan; else
    read -r _ dmed dp90 _ < <(stats "$WORK/docker.samples")
fi
for e in $BENCH_ENGINES; do
    if [[ -n ${SKIP[$e]:-} ]]; then
        printf '%-10s  SKIPPED: %s\n' "$e" "$(echo "${SKIP[$e]}" | tr '\n' ' ' | cut -c1-160)"
        continue
    fi
    read -r n "MED[$e]" "P90[$e]" mn < <(stats "$WORK/$e.samples")
    note=
    [[ -n ${FAILS[$e]:-} ]] && note+="  (${FAILS[$e]} failed runs excluded)"
    ((${LEFT[$e]:-0} > 0)) && note+="  (${LEFT[$e]} containers left after --rm runs)"
    printf '%-10s %4s %10s %9s %9s %11s %10s%s\n' "$e" "$n" "${MED[$e]}" "${P90[$e]}" "$mn" \
        "$(ratio "${MED[$e]}" "$dmed")" "$(ratio "${P90[$e]}" "$dp90")" "$note"
done
read -r n mbm mbp mbn < <(stats "$WORK/baseline.samples")
printf '%-10s %4s %10s %9s %9s\n' "(baseline)" "$n" "$mbm" "$mbp" "$mbn"
echo "(wall time of 'ENGINE run --rm IMAGE true'; podman with --network none, runtime $PODMAN_RUNTIME;"
echo " baseline: /bin/true timed the same way, included in every row)"
if [[ -n ${MED[stockade]:-} && $dmed != nan ]]; then
    r=$(awk -v a="${MED[stockade]}" -v b="$dmed" 'BEGIN { print (a < 0.25 * b) ? "met" : "NOT met" }')
    echo "stockade/docker median $(ratio "${MED[stockade]}" "$dmed") (goal: under 0.25x: $r)"
fi

echo
printf '%-10s %-24s %9s %9s %8s\n' engine "helper (sleeping ctr)" "VmRSS KB" "VmHWM KB" threads
for e in "${NAMES[@]}"; do
    if [[ ${MEM[$e]} == n/a* ]]; then
        printf '%-10s %-24s %s\n' "$e" "${HELPER[$e]}" "${MEM[$e]}"
    else
        read -r rss hwm thr _ <<<"${MEM[$e]}"
        printf '%-10s %-24s %9s %9s %8s\n' "$e" "${HELPER[$e]}" "$rss" "$hwm" "$thr"
    fi
done
[[ -n ${DAEMONS:-} ]] && echo "(docker's daemons besides, with that container: $DAEMONS)"
if [[ ${MEM[stockade]:-n/a} != n/a* && ${MEM[podman]:-n/a} != n/a* ]]; then
    read -r srss _ <<<"${MEM[stockade]}"
    read -r prss _ <<<"${MEM[podman]}"
    r=$( ((srss < prss)) && echo met || echo "NOT met")
    echo "stockade-monitor/conmon VmRSS $(ratio "$srss" "$prss") (goal: under conmon's: $r)"
fi
if [[ ${MEM[stockade]:-n/a} != n/a* && ${MEM[docker]:-n/a} != n/a* ]]; then
    read -r srss _ <<<"${MEM[stockade]}"
    read -r drss _ <<<"${MEM[docker]}"
    echo "stockade-monitor/containerd-shim-runc-v2 VmRSS $(ratio "$srss" "$drss")"
fi
