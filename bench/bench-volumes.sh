#!/bin/bash
# bench/bench-volumes.sh - volumes side by side: stockade, docker (our own dockerd 20.10) and podman.
#
#   copy-up   run --rm IMAGE true, where IMAGE declares VOLUME /data over BENCH_FILES small files and
#             one file of BENCH_BIG_MB MiB: each run makes an anonymous volume, copies the image's
#             /data into it, and removes it with the container (--rm)
#   named     run --rm -v NAME:/data IMAGE true on a volume that holds data already (no copy): what
#             mounting a volume adds to a run
#   plain     run --rm busybox true, the reference for both
#
# Rounds go through the engines in a new random order each time; the medians, p90s and the ratios to
# docker are printed, never judged by a test (bench/README.md).  Environment: BENCH_N (rounds,
# default 10), BENCH_FILES (default 2000), BENCH_BIG_MB (default 32), and lib-engines.sh's.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
BENCH_NAME=bench-volumes
. "$(dirname "$SELF")/lib-engines.sh"
BENCH_N=${BENCH_N:-10}
BENCH_FILES=${BENCH_FILES:-2000}
BENCH_BIG_MB=${BENCH_BIG_MB:-32}
for v in BENCH_N BENCH_FILES BENCH_BIG_MB; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
eng_config
eng_enter_namespace "$@"

eng_workdir
eng_image
eng_docker
eng_podman

# The volume image: busybox plus /data, imported into each engine with VOLUME /data.
VTAR=$WORK/volume-image.tar
mkdir -p "$WORK/vroot"
tar -C "$WORK/vroot" -xf "$TAR"
mkdir -p "$WORK/vroot/data/sub"
for ((i = 0; i < BENCH_FILES; i++)); do
    head -c 4096 /dev/urandom >"$WORK/vroot/data/sub/f$i"
done
head -c $((BENCH_BIG_MB << 20)) /dev/urandom >"$WORK/vroot/data/big"
tar -C "$WORK/vroot" --numeric-owner -cf "$VTAR" .
rm -rf "$WORK/vroot"
VIMG=bench-volume:latest
if want stockade && [[ -z ${SKIP[stockade]:-} ]] && ! "$STOCKADE" import --change 'VOLUME /data' "$VTAR" "$VIMG" >"$WORK/err" 2>&1; then
    SKIP[stockade]="import of the volume image failed: $(head -c 300 "$WORK/err")"
fi
if want docker && [[ -z ${SKIP[docker]:-} ]] && ! dk import -c 'VOLUME /data' "$VTAR" "$VIMG" >"$WORK/err" 2>&1; then
    SKIP[docker]="import of the volume image failed: $(head -c 300 "$WORK/err")"
fi
if want podman && [[ -z ${SKIP[podman]:-} ]] && ! pm import --change 'VOLUME /data' "$VTAR" "$VIMG" >"$WORK/err" 2>&1; then
    SKIP[podman]="import of the volume image failed: $(head -c 300 "$WORK/err")"
fi

PODMAN_RUN=(run --rm "${PODMAN_OPTS[@]}")
run_engine() {   # ENGINE ARGS...: `run --rm ARGS` through that engine
    local e=$1
    shift
    case $e in
    stockade) "$STOCKADE" run --rm "$@" ;;
    docker) dk run --rm "$@" ;;
    podman) "$PODMAN" "${PODMAN_G[@]}" "${PODMAN_RUN[@]}" "$@" ;;
    esac
}
image_of() { case $1 in stockade) echo busybox ;; docker) echo "$DOCKER_IMAGE" ;; podman) echo "$PODMAN_IMAGE" ;; esac; }
vimage_of() { case $1 in podman) echo "localhost/$VIMG" ;; *) echo "$VIMG" ;; esac; }
for e in stockade docker podman; do
    eval "cmd_${e}_copy() { run_engine $e \"\$(vimage_of $e)\" true; }"
    eval "cmd_${e}_named() { run_engine $e -v $PREFIX-vol:/data \"\$(vimage_of $e)\" true; }"
    eval "cmd_${e}_plain() { run_engine $e \"\$(image_of $e)\" true; }"
done

# Sanity: the copy happened (the volume holds the image's files), and --rm took the volume along.
check_engine() {
    local e=$1 n
    n=$(run_engine "$e" -v "$PREFIX-vol:/data" "$(vimage_of "$e")" sh -c 'ls /data/sub | wc -l') || return 1
    [[ $n == "$BENCH_FILES" ]] || { echo "the named volume holds $n files, not $BENCH_FILES" >"$WORK/err"; return 1; }
    case $e in
    stockade) n=$("$STOCKADE" volume ls -q | wc -l) ;;
    docker) n=$(dk volume ls -q | wc -l) ;;
    podman) n=$(pm volume ls -q | wc -l) ;;
    esac
    run_engine "$e" "$(vimage_of "$e")" true
    case $e in
    stockade) (($("$STOCKADE" volume ls -q | wc -l) == n)) ;;
    docker) (($(dk volume ls -q | wc -l) == n)) ;;
    podman) (($(pm volume ls -q | wc -l) == n)) ;;
    esac || { echo "run --rm left its anonymous volume" >"$WORK/err"; return 1; }
}
for e in $BENCH_ENGINES; do
    [[ -z ${SKIP[$e]:-} ]] || continue
    if check_engine "$e" >/dev/null 2>>"$WORK/err"; then
        NAMES+=("$e")
        for k in copy named plain; do : >"$WORK/$e.$k.samples"; done
    else
        SKIP[$e]="sanity run failed: $(head -c 600 "$WORK/err")"
    fi
done
eng_skipped
((${#NAMES[@]})) || die "no engine passed set-up and the sanity run"
eng_versions "$WORK/versions"

log "engines: ${NAMES[*]} | N=$BENCH_N | $BENCH_FILES files of 4 KiB and $BENCH_BIG_MB MiB in the volume"
for ((r = 0; r < BENCH_N; r++)); do
    for k in copy named plain; do
        mapfile -t order < <(shuf -e "${NAMES[@]}")
        for e in "${order[@]}"; do
            run_once "${e}_$k"
            if ((RC == 0)); then
                echo "$WALL_US" >>"$WORK/$e.$k.samples"
            else
                log "$e $k round $r exited $RC: $(head -c 300 "$WORK/err")"
            fi
        done
    done
done

echo
cat "$WORK/versions"
echo
printf '%-10s %-6s %4s %10s %9s %11s\n' engine run n "median ms" "p90 ms" "med/docker"
for k in copy named plain; do
    dmed=nan
    if [[ -s $WORK/docker.$k.samples ]]; then read -r _ dmed _ <<<"$(stats "$WORK/docker.$k.samples")"; fi
    for e in "${NAMES[@]}"; do
        read -r n med p90 _ <<<"$(stats "$WORK/$e.$k.samples")"
        printf '%-10s %-6s %4s %10s %9s %11s\n' "$e" "$k" "$n" "$med" "$p90" "$(ratio "$med" "$dmed")"
    done
done
