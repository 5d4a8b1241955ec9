#!/bin/bash
# bench/bench-serve.sh - `docker run --rm busybox true` with the same docker CLI through
# `stockade serve` and through dockerd 20.10, side by side (and stockade's own CLI for reference).
#
#   sudo bench/bench-serve.sh            # 20 interleaved rounds
#   BENCH_N=50 bench/bench-serve.sh
#
# Environment (bench/README.md): BENCH_N, STOCKADE, DOCKER_CLI, DOCKERD, BENCH_TMP, BENCH_KEEP.
# Every engine gets private state in one temp dir (bench/lib-engines.sh): dockerd on its own
# socket with --bridge=none, stockade serve on another socket over private roots; both stopped
# at the end.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
BENCH_NAME=bench-serve
# shellcheck source=bench/lib-engines.sh
. "$(dirname "$SELF")/lib-engines.sh"
BENCH_N=${BENCH_N:-20}
[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
BENCH_ENGINES="stockade docker"
eng_config
eng_enter_namespace "$@"

# --- inside the private mount namespace -------------------------------------
eng_workdir
eng_image
eng_docker
[[ -z ${SKIP[stockade]:-} ]] || die "stockade cannot run: ${SKIP[stockade]}"

SERVE_SOCK=$WORK/stockade/api.sock
"$STOCKADE" serve -H "unix://$SERVE_SOCK" </dev/null >"$WORK/stockade/serve.log" 2>&1 &
SERVE_PID=$!
for ((i = 0; i < 100; i++)); do
    [[ -S $SERVE_SOCK ]] && break
    sleep 0.05
done
[[ -S $SERVE_SOCK ]] || die "stockade serve did not come up: $(cat "$WORK/stockade/serve.log")"
sv() { DOCKER_HOST=unix://$SERVE_SOCK DOCKER_CONFIG=$WORK/docker/cli "$DOCKER_CLI" "$@"; }

# the command of one timed run, per row
cmd_serve() { sv run --rm busybox true; }
cmd_docker() { dk run --rm "$DOCKER_IMAGE" true; }
cmd_cli() { "$STOCKADE" run --rm busybox true; }
cmd_baseline() { /bin/true; }
ROWS=(serve cli)
[[ -z ${SKIP[docker]:-} ]] && ROWS+=(docker)

for e in "${ROWS[@]}"; do
    run_once "$e"
    ((RC == 0)) || die "sanity run of $e exited $RC: $(head -c 600 "$WORK/err")"
    : >"$WORK/$e.samples"
done
eng_skipped
: >"$WORK/baseline.samples"
log "rows: ${ROWS[*]} | N=$BENCH_N"
for ((r = 0; r < BENCH_N; r++)); do
    mapfile -t order < <(shuf -e "${ROWS[@]}")
    for e in "${order[@]}"; do
        run_once "$e"
        ((RC == 0)) || die "$e round $r exited $RC: $(head -c 300 "$WORK/err")"
        echo "$WALL_US" >>"$WORK/$e.samples"
    done
    run_once baseline
    echo "$WALL_US" >>"$WORK/baseline.samples"
    (((r + 1) % 5 == 0)) && log "round $((r + 1))/$BENCH_N"
done
left_serve=$(sv ps -aq | wc -l)
serve_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVE_PID/status")
kill "$SERVE_PID" 2>/dev/null || true

echo
echo "host: $(uname -r), $(nproc) cpus; docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null)"
printf '%-26s %4s %10s %9s %9s %11s\n' "path" n "median ms" "p90 ms" "min ms" "med/dockerd"
dmed=nan
[[ -s $WORK/docker.samples ]] && read -r _ dmed _ _ < <(stats "$WORK/docker.samples")
declare -A LABEL=([serve]="docker CLI -> stockade serve" [docker]="docker CLI -> dockerd 20.10" [cli]="stockade CLI (no daemon)")
for e in serve docker cli; do
    [[ -s $WORK/$e.samples ]] || { printf '%-26s  SKIPPED: %s\n' "${LABEL[$e]}" "${SKIP[docker]:-}"; continue; }
    read -r n med p90 mn < <(stats "$WORK/$e.samples")
    printf '%-26s %4s %10s %9s %9s %11s\n' "${LABEL[$e]}" "$n" "$med" "$p90" "$mn" "$(ratio "$med" "$dmed")"
done
read -r n bm bp bn < <(stats "$WORK/baseline.samples")
printf '%-26s %4s %10s %9s %9s\n' "(baseline /bin/true)" "$n" "$bm" "$bp" "$bn"
echo "(wall time of 'run --rm busybox true', rounds interleaved in random order;"
echo " stockade serve's listener: VmRSS ${serve_rss} KB after the runs; containers left: $left_serve)"
