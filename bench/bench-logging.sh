#!/usr/bin/env bash
# bench-logging.sh - a container writes BENCH_BYTES (1 GiB) of log lines to stdout; how long
# until they are all in the engine's log file, side by side in one run:
#   stockade   json-file (--log-opt max-size=-1 --log-opt max-file=1: no rotation)
#   docker     json-file of dockerd 20.10 (its default: no max-size, no rotation)
#   podman     k8s-file written by conmon (its default: log_size_max -1, no limit)
#   cat > file the same producer on the host piped into `cat > FILE`, no container
# FILE and the three logs are on the same filesystem (the temp dir). Each log is checked:
# decoded back into the container's output, whose sha256 must be the producer's.
#
# Usage (as root):  bench/bench-logging.sh
# Env:
#   BENCH_BYTES      bytes the container writes (default 1073741824; a multiple of 128)
#   BENCH_N          interleaved rounds (default 3); the table shows medians
#   BENCH_PRODUCER   cat (default): 1 MiB of lines made once, then `cat` of it (sendfile,
#                    64 KiB writes into the pipe); yes: `yes LINE | head -c BYTES` (4 KiB writes)
#   BENCH_PERF=1     after the rounds, one more stockade run with `perf record -g` on its
#                    monitor; the top symbols are printed (perf.data kept with BENCH_KEEP=1)
#   BENCH_ENGINES, STOCKADE, DOCKER_CLI, DOCKERD, PODMAN, PODMAN_RUNTIME, BENCH_TMP,
#   BENCH_KEEP       as in bench-engine.sh (bench/lib-engines.sh)
#
# See bench/README.md, "bench-logging.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
BENCH_NAME=bench-logging
# shellcheck source=bench/lib-engines.sh
. "$(dirname "$SELF")/lib-engines.sh"

BENCH_BYTES=${BENCH_BYTES:-1073741824}
BENCH_N=${BENCH_N:-3}
BENCH_PRODUCER=${BENCH_PRODUCER:-cat}
[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
if ! [[ $BENCH_BYTES =~ ^[1-9][0-9]*$ ]] || ((BENCH_BYTES % 128 != 0)); then
    die "BENCH_BYTES must be a positive multiple of 128, the line length (got '$BENCH_BYTES')"
fi
[[ $BENCH_PRODUCER == cat || $BENCH_PRODUCER == yes ]] || die "BENCH_PRODUCER must be cat or yes"
eng_config
perf_dep=()
[[ -n ${BENCH_PERF:-} ]] && perf_dep=(perf:linux-perf)
eng_enter_namespace "$@" -- gcc:gcc /usr/include/stdio.h:libc6-dev "${perf_dep[@]}"

# --- inside the private mount namespace -------------------------------------
eng_workdir

# Disk: the baseline's file (1x) or one engine's log (json-file: about 1.8x) at a time;
# the engines' images and state besides. Ask for 3x.
avail=$(df --output=avail -B1 "$WORK" | tail -n 1 | tr -d ' ')
((avail >= 3 * BENCH_BYTES)) ||
    die "$WORK has $((avail >> 20)) MiB free, needs $((3 * BENCH_BYTES >> 20)) MiB (3x BENCH_BYTES); set BENCH_TMP or BENCH_BYTES"

# --- the producer ------------------------------------------------------------------
# One line of 127 characters + "\n" (128 bytes), like an application's access log; only
# characters that JSON leaves as they are (no quote, backslash, <, >, &), so the json-file
# "log" value is the line itself with "\n" escaped.
LINE='2026-11-29T01:00:00.000Z INFO  http: request served method=GET path=/api/v1/items/42 status=200 bytes=5120 dur_ms=12 req=7f3a9c'
((${#LINE} == 127)) || die "internal: the line is ${#LINE} characters, not 127"
BLOCK=1048576   # 8192 lines
# producer_script BLOCKFILE: the busybox sh script that writes BENCH_BYTES to stdout
producer_script() {
    if [[ $BENCH_PRODUCER == yes ]]; then
        echo "yes '$LINE' | head -c $BENCH_BYTES"
        return
    fi
    local nblk=$((BENCH_BYTES / BLOCK)) rest=$((BENCH_BYTES % BLOCK))
    echo "yes '$LINE' | head -c $BLOCK >$1 || exit 1; i=0; while [ \$i -lt $nblk ]; do cat $1 || exit 1; i=\$((i + 1)); done;" \
        "if [ $rest -gt 0 ]; then head -c $rest $1; fi; rm -f $1"
}
CSCRIPT=$(producer_script /tmp/bench-block)       # in the container (its rootfs' /tmp)
HSCRIPT=$(producer_script "$WORK/host-block")     # on the host, for the baseline
OUT=$WORK/out    # the baseline's file
mkdir -p "$OUT"

# the expected stream: the producer's bytes, on the host with the image's busybox
log "producer ($BENCH_PRODUCER): $BENCH_BYTES bytes, $((BENCH_BYTES / 128)) lines of 128 bytes"
EXPECT=$(/bin/busybox sh -c "$HSCRIPT" | sha256sum | cut -d' ' -f1)

# Decoders: a log file back into the container's stdout (bench/logdecode.c; anything that
# is not a well-formed stdout record of the format ends it with an error).
gcc -O2 -o "$WORK/logdecode" "$REPO/bench/logdecode.c" || die "cannot build bench/logdecode.c"
cat >"$WORK/decode-json" <<EOF
#!/bin/sh
exec "$WORK/logdecode" json
EOF
cat >"$WORK/decode-k8s" <<EOF
#!/bin/sh
exec "$WORK/logdecode" k8s
EOF
cat >"$WORK/decode-raw" <<'EOF'
#!/bin/sh
exec cat
EOF
chmod 0755 "$WORK/decode-json" "$WORK/decode-k8s" "$WORK/decode-raw"
declare -A DECODE=([stockade]=json [docker]=json [podman]=k8s [baseline]=raw)

eng_image
eng_docker
eng_podman

# --- one run ------------------------------------------------------------------------
# Each engine runs the container detached and waits for it; the time ends when the engine
# says the container exited *and* the process that writes the log is gone (stockade: its
# monitor, which drains its log queue after the exit; podman: conmon; docker: dockerd
# writes the log and closes it before `wait` returns). Sets ID (container), LOGF (log
# file), RC.
SEQ=0
# alive PID: the process exists and is not a zombie (a helper that double-forked is reaped
# by pid 1, which may take a second or two here)
alive() {
    local st
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z && ${st:0:1} != X ]]
}
start_stockade() {
    ID=$("$STOCKADE" run -d --name "$PREFIX-$SEQ" --log-driver json-file \
        --log-opt max-size=-1 --log-opt max-file=1 busybox sh -c "$CSCRIPT")
}
wait_stockade() {
    local mpid
    mpid=$(grep -o '"MonitorPid": *[0-9]*' "$STOCKADE_DATA_ROOT/containers/$ID/container.json" | grep -o '[0-9]*$')
    RC=$("$STOCKADE" wait "$ID")
    while [[ -n $mpid && $mpid != 0 ]] && alive "$mpid"; do sleep 0.01; done
}
start_docker() {
    ID=$(dk run -d --name "$PREFIX-$SEQ" --log-driver json-file "$DOCKER_IMAGE" sh -c "$CSCRIPT")
}
wait_docker() { RC=$(dk wait "$ID"); }
start_podman() {
    ID=$(pm run -d "${PODMAN_OPTS[@]}" --name "$PREFIX-$SEQ" --log-driver k8s-file "$PODMAN_IMAGE" sh -c "$CSCRIPT")
}
CONMON_PIDFILE=   # podman's conmon pid file, with the container id as @ID@ (from the sanity run)
wait_podman() {
    local cpid=
    [[ -n $CONMON_PIDFILE && -r ${CONMON_PIDFILE//@ID@/$ID} ]] && cpid=$(<"${CONMON_PIDFILE//@ID@/$ID}")
    RC=$(pm wait --interval 10ms "$ID")
    while [[ -n $cpid ]] && alive "$cpid"; do sleep 0.01; done
}
start_baseline() { ID=; }
wait_baseline() {
    set +e
    /bin/busybox sh -c "$HSCRIPT" | cat >"$OUT/baseline.log"
    RC=$?
    set -e
}
logpath() {
    case $1 in
    stockade) "$STOCKADE" inspect --format '{{.LogPath}}' "$ID" ;;
    docker) dk inspect --format '{{.LogPath}}' "$ID" ;;
    podman) pm inspect --format '{{.HostConfig.LogConfig.Path}}' "$ID" ;;
    baseline) echo "$OUT/baseline.log" ;;
    esac
}
remove() {
    case $1 in
    stockade) "$STOCKADE" rm -f "$ID" ;;
    docker) dk rm -f "$ID" ;;
    podman) pm rm -f -t 0 "$ID" ;;
    baseline) rm -f "$OUT/baseline.log" ;;
    esac
}

# run_once ENGINE -> WALL_US, LOGSIZE, GREW (bytes the log grew in the second after the
# end), CHECK ("ok" or why not); the engine's stderr in $WORK/err. Outside the timed part:
# sync first (nobody starts with the previous run's dirty pages), afterwards the check and
# the removal of the container and its log.
run_once() {
    local e=$1 t0 t1 s2 got
    SEQ=$((SEQ + 1))
    sync
    WALL_US=0 LOGSIZE=0 GREW=0 ID='' LOGF=''
    t0=$EPOCHREALTIME
    if ! "start_$e" 2>"$WORK/err" </dev/null; then
        CHECK="run -d failed: $(head -c 400 "$WORK/err")"
        return
    fi
    if ! "wait_$e" 2>>"$WORK/err" </dev/null; then
        CHECK="wait failed: $(head -c 400 "$WORK/err")"
        remove "$e" >/dev/null 2>&1 || true
        return
    fi
    t1=$EPOCHREALTIME
    WALL_US=$(( ${t1//[.,]/} - ${t0//[.,]/} ))
    LOGF=$(logpath "$e" 2>>"$WORK/err") || LOGF=
    if [[ $RC != 0 ]]; then
        CHECK="the container exited $RC: $(head -c 400 "$WORK/err")"
    elif [[ -z $LOGF || ! -f $LOGF ]]; then
        CHECK="no log file ('$LOGF')"
    else
        LOGSIZE=$(stat -c %s "$LOGF")
        sleep 1
        s2=$(stat -c %s "$LOGF")
        GREW=$((s2 - LOGSIZE))
        got=$("$WORK/decode-${DECODE[$e]}" <"$LOGF" 2>"$WORK/decode.err" | tee >(wc -c >"$WORK/decoded.bytes") |
            sha256sum | cut -d' ' -f1)
        if [[ -s $WORK/decode.err ]]; then
            CHECK="the log does not decode: $(head -c 300 "$WORK/decode.err")"
        elif [[ $got != "$EXPECT" ]]; then
            sleep 0.1   # wc's process substitution
            CHECK="the log holds $(tr -d ' \n' <"$WORK/decoded.bytes" 2>/dev/null) bytes of output, not the $BENCH_BYTES written (or other bytes)"
        elif ((GREW != 0)); then
            CHECK="the log grew by $GREW bytes in the second after the end"
        else
            CHECK=ok
        fi
    fi
    remove "$e" >/dev/null 2>>"$WORK/err" || CHECK+=" (rm failed: $(tail -c 200 "$WORK/err"))"
}

# --- sanity: one run each, with the full check ----------------------------------------
declare -A LOGSZ=()
for e in baseline $BENCH_ENGINES; do
    [[ -z ${SKIP[$e]:-} ]] || continue
    if [[ $e == podman ]]; then
        # where conmon's pid file is (in the timed runs it is read without calling podman)
        if pm create "${PODMAN_OPTS[@]}" --name "$PREFIX-probe" "$PODMAN_IMAGE" true >"$WORK/probe" 2>"$WORK/err"; then
            pid_id=$(<"$WORK/probe")
            f=$(pm inspect --format '{{.ConmonPidFile}}' "$pid_id" 2>/dev/null || true)
            [[ $f == *"$pid_id"* ]] && CONMON_PIDFILE=${f//$pid_id/@ID@}
            pm rm -f "$pid_id" >/dev/null 2>&1 || true
        fi
        [[ -n $CONMON_PIDFILE ]] || log "podman: conmon's pid file not found; the time ends at 'podman wait'"
    fi
    log "sanity run: $e"
    run_once "$e"
    if [[ $CHECK == ok ]]; then
        [[ $e == baseline ]] || NAMES+=("$e")
        : >"$WORK/$e.samples"
        LOGSZ[$e]=$LOGSIZE
    else
        [[ $e == baseline ]] && die "the baseline failed: $CHECK"
        SKIP[$e]="sanity run: $CHECK"
    fi
done
eng_skipped
((${#NAMES[@]})) || die "no engine passed set-up and the sanity run"
eng_versions "$WORK/versions"

# --- timed, interleaved rounds ----------------------------------------------------
# Every round runs each engine and the baseline once, in a new random order.
log "engines: ${NAMES[*]} + cat > file | N=$BENCH_N | $BENCH_BYTES bytes | producer $BENCH_PRODUCER"
declare -A FAILS=() FAILMSG=()
for ((r = 0; r < BENCH_N; r++)); do
    mapfile -t order < <(shuf -e baseline "${NAMES[@]}")
    for e in "${order[@]}"; do
        run_once "$e"
        echo "$r $e $CHECK $WALL_US $LOGSIZE" >>"$WORK/rounds.log"   # round engine check µs bytes
        if [[ $CHECK == ok ]]; then
            echo "$WALL_US" >>"$WORK/$e.samples"
            LOGSZ[$e]=$LOGSIZE
            log "round $((r + 1))/$BENCH_N $e: $(awk -v u="$WALL_US" 'BEGIN { printf "%.2f", u / 1e6 }') s"
        else
            log "round $((r + 1))/$BENCH_N $e: FAILED: $CHECK"
            FAILS[$e]=$((${FAILS[$e]:-0} + 1))
            FAILMSG[$e]=$CHECK
        fi
    done
done

# --- optional: where stockade's monitor spends its time -----------------------------
PERF_PID=
eng_cleanup_hook() { [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" 2>/dev/null; }
if [[ -n ${BENCH_PERF:-} ]] && [[ " ${NAMES[*]} " == *" stockade "* ]]; then
    SEQ=$((SEQ + 1))
    sync
    start_stockade 2>"$WORK/err" </dev/null || die "perf run: run -d failed: $(head -c 300 "$WORK/err")"
    mpid=$(grep -o '"MonitorPid": *[0-9]*' "$STOCKADE_DATA_ROOT/containers/$ID/container.json" | grep -o '[0-9]*$')
    perf record -g -o "$WORK/perf.data" -p "$mpid" >"$WORK/perf.log" 2>&1 &
    PERF_PID=$!
    "$STOCKADE" wait "$ID" >/dev/null
    wait "$PERF_PID" || true
    PERF_PID=
    "$STOCKADE" rm -f "$ID" >/dev/null
    { perf report -i "$WORK/perf.data" --stdio --no-children --sort pid,symbol --percent-limit 0.5 \
        -g none 2>/dev/null | grep -v -e '^#' -e '^$' | head -n 40 >"$WORK/perf.top"; } || true
    [[ -s $WORK/perf.top ]] ||
        echo "    (no samples: the monitor may have finished before perf attached; $(tail -n 1 "$WORK/perf.log"))" >"$WORK/perf.top"
fi

# --- report --------------------------------------------------------------------------
echo
cat "$WORK/versions"
echo "disk: $(df --output=source,fstype -h "$WORK" | tail -n 1 | tr -s ' ') (temp dir $WORK)"
echo
declare -A MED=()
for e in baseline "${NAMES[@]}"; do
    read -r n "MED[$e]" _ _ < <(stats "$WORK/$e.samples" 1000000 3)
done
label() { case $1 in baseline) echo "cat > file" ;; podman) echo "podman k8s" ;; *) echo "$1" ;; esac; }
printf '%-12s %3s %9s %8s %8s %8s %8s %12s %9s\n' engine n "median s" "MB/s" "/docker" "/podman" "/cat" "log bytes" "log/out"
for e in $BENCH_ENGINES baseline; do
    if [[ -n ${SKIP[$e]:-} ]]; then
        printf '%-12s  SKIPPED: %s\n' "$e" "$(echo "${SKIP[$e]}" | tr '\n' ' ' | cut -c1-200)"
        continue
    fi
    want "$e" || [[ $e == baseline ]] || continue
    n=$(wc -l <"$WORK/$e.samples")
    note=
    [[ -n ${FAILS[$e]:-} ]] && note="  (${FAILS[$e]} failed runs excluded: ${FAILMSG[$e]:0:120})"
    if ((n == 0)); then
        printf '%-12s %3s  all runs failed%s\n' "$(label "$e")" 0 "$note"
        continue
    fi
    printf '%-12s %3s %9s %8s %8s %8s %8s %12s %9s%s\n' "$(label "$e")" "$n" "${MED[$e]}" \
        "$(awk -v b="$BENCH_BYTES" -v s="${MED[$e]}" 'BEGIN { printf "%.0f", b / 1e6 / s }')" \
        "$(ratio "${MED[$e]}" "${MED[docker]:-nan}")" "$(ratio "${MED[$e]}" "${MED[podman]:-nan}")" \
        "$(ratio "${MED[$e]}" "${MED[baseline]}")" "${LOGSZ[$e]}" \
        "$(awk -v a="${LOGSZ[$e]}" -v b="$BENCH_BYTES" 'BEGIN { printf "%.2fx", a / b }')" "$note"
done
echo "(seconds from 'run -d' until the container has exited and its log is complete; MB/s: 10^6 bytes of"
echo " container output per second; /docker, /podman, /cat: median over that engine's median, below"
echo " 1.00x is faster; log bytes: the log file of the last run; every log decoded and checked by sha256)"
if [[ -n ${MED[stockade]:-} ]]; then
    s=${MED[stockade]} verdict=met why=()
    for o in docker podman; do
        if [[ -z ${MED[$o]:-} ]]; then verdict="NOT met"; why+=("no $o result"); continue; fi
        awk -v a="$s" -v b="${MED[$o]}" 'BEGIN { exit !(a < b) }' || { verdict="NOT met"; why+=("not faster than $o"); }
    done
    awk -v a="$s" -v b="${MED[baseline]}" 'BEGIN { exit !(a <= 2 * b) }' ||
        { verdict="NOT met"; why+=("$(ratio "$s" "${MED[baseline]}") of cat > file"); }
    why_s=$(printf '%s; ' "${why[@]}")
    echo "goal: faster than both and within 2x of cat > file: $verdict${why:+ (${why_s%; })}"
fi
if [[ -s $WORK/perf.top ]]; then
    echo
    echo "perf record -g of stockade-monitor (one more run; self time by thread (pid:comm) and symbol, over 0.5%):"
    cat "$WORK/perf.top"
fi
