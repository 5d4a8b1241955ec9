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
# a private unix socket and stopped at the end. See bench/README.md, "bench-engine.sh".
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
STOCKADE=${STOCKADE:-$REPO/build/stockade}
BENCH_N=${BENCH_N:-20}
BENCH_ENGINES=${BENCH_ENGINES:-stockade docker podman}
PODMAN_RUNTIME=${PODMAN_RUNTIME:-runc}
if [[ -z ${DOCKER_CLI:-} ]]; then
    if [[ -x /usr/local/bin/docker ]]; then DOCKER_CLI=/usr/local/bin/docker; else DOCKER_CLI=docker; fi
fi

die() { echo "bench-engine: $*" >&2; exit 1; }
log() { echo "bench-engine: $*" >&2; }

[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
[[ $(id -u) == 0 ]] || die "must run as root (dockerd, podman and unshare -m need it)"
[[ $PODMAN_RUNTIME == runc || $PODMAN_RUNTIME == crun ]] || die "PODMAN_RUNTIME must be runc or crun"
for e in $BENCH_ENGINES; do
    [[ $e == stockade || $e == docker || $e == podman ]] || die "unknown engine '$e' in BENCH_ENGINES"
done
want() { [[ " $BENCH_ENGINES " == *" $1 "* ]]; }

# --- dependencies (only outside the namespace, before re-exec) -------------
if [[ -z ${STOCKADE_BENCH_INNER:-} ]]; then
    missing=()
    if ! [[ -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
        missing+=(busybox-static)     # tools/busybox-image.sh needs a *static* busybox
    fi
    command -v findmnt >/dev/null || missing+=(util-linux)
    if want docker; then
        command -v "${DOCKERD:-dockerd}" >/dev/null || missing+=(docker.io)
        command -v "$DOCKER_CLI" >/dev/null || missing+=(docker.io)
    fi
    if want podman; then
        command -v "${PODMAN:-podman}" >/dev/null || missing+=(podman)
        command -v "$PODMAN_RUNTIME" >/dev/null || missing+=("$PODMAN_RUNTIME")
    fi
    if ((${#missing[@]})); then
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        log "installing missing packages: ${missing[*]}"
        # (docker.io's postinst starts the system dockerd where an init system allows it;
        # this bench never talks to that one.)
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y "${missing[@]}" >&2 ||
            { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; } ||
            die "apt-get install ${missing[*]} failed"
    fi
    # Everything runs in a private mount namespace: mounts made by the engines (overlay
    # rootfs, netns binds, shm) cannot leak to the host, and /dev/shm can be replaced.
    export STOCKADE_BENCH_INNER=1
    exec unshare -m --propagation private "$SELF" "$@"
fi

# --- inside the private mount namespace -------------------------------------
if [[ $PODMAN_RUNTIME == crun ]] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    # crun 1.8.1: "cgroups in hybrid mode not supported" (bench/README.md, bench-run.sh).
    umount /sys/fs/cgroup/unified || die "cannot umount /sys/fs/cgroup/unified"
    mount -t tmpfs -o size=1m,mode=755 bench-unified /sys/fs/cgroup/unified ||
        die "cannot mount tmpfs on /sys/fs/cgroup/unified"
    log "PODMAN_RUNTIME=crun: /sys/fs/cgroup/unified unmounted, all engines see cgroup v1 only"
fi
# podman keeps its lock file in /dev/shm/libpod_lock; give this namespace its own /dev/shm.
mount -t tmpfs -o mode=1777,size=64m bench-shm /dev/shm || die "cannot mount tmpfs on /dev/shm"

WORK=$(mktemp -d /tmp/stockade-bench-engine.XXXXXX)
chmod 0755 "$WORK"
PREFIX="bench$$"

# Paths outside $WORK that dockerd/containerd/podman create even with private roots
# (bench/README.md lists which creates which). The ones that do not exist now are
# removed at the end, the others are left alone. Shared runtime directories are only
# rmdir'ed when empty (another user's state may be in them); podman's own are removed.
RMDIR_PATHS=(/opt/containerd /run/docker /run/containerd /run/runc /run/crun)
RM_PATHS=(/etc/docker/key.json /var/lib/containers /run/containers /run/libpod)
KNOWN_PATHS=("${RMDIR_PATHS[@]}" "${RM_PATHS[@]}")
KNOWN_CGROUPS=(docker libpod_parent stockade)  # parents made in every hierarchy
declare -A PREEXIST=()
for p in "${KNOWN_PATHS[@]}"; do [[ -e $p ]] && PREEXIST[$p]=1; done
for h in /sys/fs/cgroup/*/; do
    for c in "${KNOWN_CGROUPS[@]}"; do [[ -d $h$c ]] && PREEXIST[$h$c]=1; done
done
netns_list() { find /run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | LC_ALL=C sort; }
netns_list >"$WORK/netns.before"

# --- engine set-up state -------------------------------------------------------
NAMES=()                 # engines that passed set-up and the sanity run
declare -A SKIP=()       # engine -> reason
DOCKERD_PID=

# stockade: private roots through the variables the CLI (and tools/busybox-image.sh) read.
export STOCKADE_DATA_ROOT=$WORK/stockade/data STOCKADE_EXEC_ROOT=$WORK/stockade/exec
export STOCKADE_CONFIG=$WORK/stockade/daemon.json
# docker CLI: private socket, and no ~/.docker (not exported: podman reads DOCKER_CONFIG too)
DOCKER_SOCK=unix://$WORK/docker/docker.sock
dk() { DOCKER_HOST=$DOCKER_SOCK DOCKER_CONFIG=$WORK/docker/cli "$DOCKER_CLI" "$@"; }
DOCKER_IMAGE=busybox:local
PODMAN=${PODMAN:-podman}
PODMAN_IMAGE=localhost/busybox:local
P=$WORK/podman
PODMAN_G=(--root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" --network-config-dir "$P/net"
    --volumepath "$P/volumes" --cgroup-manager cgroupfs
    --runtime "$PODMAN_RUNTIME" --runtime-flag "root=$P/$PODMAN_RUNTIME-state")
# podman puts RLIMIT_NOFILE=1048576 and NPROC into the spec, which nobody may set here
# without CAP_SYS_RESOURCE (OBSERVED.md section 4); --network none matches the loopback-only
# network of docker --bridge=none and of stockade's default.
PODMAN_OPTS=(--network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
PODMAN_RUN=(run --rm "${PODMAN_OPTS[@]}")

# the command of one timed run, per engine (stdin/stdout/stderr set by the caller)
cmd_stockade() { "$STOCKADE" run --rm busybox true; }
cmd_docker() { dk run --rm "$DOCKER_IMAGE" true; }
cmd_baseline() { /bin/true; }   # what the timing itself costs (fork + exec)
cmd_podman() { "$PODMAN" "${PODMAN_G[@]}" "${PODMAN_RUN[@]}" "$PODMAN_IMAGE" true; }

# --- cleanup (EXIT trap): containers, daemons, stray processes, mounts, paths -------
# pids of live processes whose command line names $WORK (all started by this bench)
work_pids() {
    local d pid
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        if tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$WORK"; then echo "$pid"; fi
    done
}
cleanup() {
    set +e
    exec 1>&8 2>&9   # a signal may arrive inside run_once, whose output goes elsewhere
    local ids=() leftover=() i m p h c
    if [[ -x $STOCKADE && -d $WORK/stockade/data ]]; then
        mapfile -t ids < <("$STOCKADE" ps -aq 2>/dev/null)
        ((${#ids[@]} == 0)) || "$STOCKADE" rm -f "${ids[@]}" >/dev/null 2>&1
    fi
    if [[ -d $P/root ]]; then
        "$PODMAN" "${PODMAN_G[@]}" rm --all --force --time 0 >/dev/null 2>&1
    fi
    if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        mapfile -t ids < <(dk ps -aq 2>/dev/null)
        ((${#ids[@]} == 0)) || dk rm -f "${ids[@]}" >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID"
        for ((i = 0; i < 200; i++)); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            log "WARNING: dockerd did not stop in 20 s, killing it"
            kill -KILL "$DOCKERD_PID"
        fi
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    # anything still running from $WORK (monitors, shims, conmon, containerd): by pid
    for ((i = 0; i < 30; i++)); do
        mapfile -t leftover < <(work_pids)
        ((${#leftover[@]})) || break
        ((i == 10)) && log "WARNING: processes still running from $WORK: ${leftover[*]}"
        if ((i < 20)); then kill -TERM "${leftover[@]}" 2>/dev/null; else kill -KILL "${leftover[@]}" 2>/dev/null; fi
        sleep 0.2
    done
    # mounts under $WORK (private to this namespace, but unmount before rm -rf)
    findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    # paths the engines created outside $WORK (only those that did not exist before)
    for p in "${RM_PATHS[@]}"; do
        if [[ -e $p && -z ${PREEXIST[$p]:-} ]]; then
            echo "$p" >>"$WORK/created-paths"
            rm -rf "$p"
        fi
    done
    for p in "${RMDIR_PATHS[@]}"; do
        if [[ -e $p && -z ${PREEXIST[$p]:-} ]]; then
            echo "$p" >>"$WORK/created-paths"
            find "$p" -depth -type d -empty -delete 2>/dev/null
            [[ -e $p ]] && log "WARNING: $p is not empty, left in place: $(find "$p" | head -n 5 | tr '\n' ' ')"
        fi
    done
    for h in /sys/fs/cgroup/*/; do
        [[ $(stat -f -c %T "$h") == cgroup* ]] || continue  # not the crun tmpfs
        for c in "${KNOWN_CGROUPS[@]}"; do
            p=$h$c
            if [[ -d $p && -z ${PREEXIST[$p]:-} ]]; then
                find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
                [[ -d $p ]] && log "WARNING: cgroup $p not empty, left in place"
            fi
        done
    done
    if [[ -s $WORK/created-paths ]]; then
        log "removed paths the engines created outside the temp dir: $(sort -u "$WORK/created-paths" | tr '\n' ' ')"
    fi
    netns_list | LC_ALL=C comm -13 "$WORK/netns.before" - >"$WORK/netns.new"
    [[ -s $WORK/netns.new ]] && log "WARNING: new entries in /run/netns: $(tr '\n' ' ' <"$WORK/netns.new")"
    if [[ -n ${BENCH_KEEP:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
exec 8>&1 9>&2
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the busybox rootfs tarball, shared by all engines --------------------------
# tools/busybox-image.sh builds it and hands it to `STOCKADE import TAR busybox:latest`.
# It is called with a wrapper as its "stockade binary" that keeps a copy of that tar
# for docker and podman and passes everything on to the real CLI; if stockade is not
# usable, the wrapper only keeps the tar. So all three engines import the very same file.
TAR=$WORK/busybox-rootfs.tar
mkdir -p "$WORK/bin" "$WORK/stockade" "$WORK/docker/cli" "$P"
cat >"$WORK/bin/stockade-tee" <<'EOF'
#!/bin/sh
if [ "$1" = import ]; then cp -- "$2" "$BENCH_TAR" || exit 1; fi
if [ -n "$BENCH_REAL" ]; then exec "$BENCH_REAL" "$@"; fi
[ "$1" = import ]
EOF
chmod 0755 "$WORK/bin/stockade-tee"

if want stockade; then
    if ! [[ -x $STOCKADE ]]; then
        SKIP[stockade]="$STOCKADE not found (ninja -C build)"
    elif ! "$STOCKADE" --version >"$WORK/stockade/version" 2>&1 || ! [[ -s $WORK/stockade/version ]]; then
        SKIP[stockade]="'$STOCKADE --version' failed or printed nothing: $(head -c 300 "$WORK/stockade/version")"
    fi
fi
echo '{}' >"$STOCKADE_CONFIG"
real=
want stockade && [[ -z ${SKIP[stockade]:-} ]] && real=$STOCKADE
if ! BENCH_TAR=$TAR BENCH_REAL=$real "$REPO/tools/busybox-image.sh" "$WORK/bin/stockade-tee" \
    >"$WORK/stockade/image.log" 2>&1; then
    if [[ -n $real ]]; then
        SKIP[stockade]="tools/busybox-image.sh (stockade import) failed: $(tail -c 400 "$WORK/stockade/image.log")"
    fi
    if ! [[ -s $TAR ]]; then
        cat "$WORK/stockade/image.log" >&2
        die "tools/busybox-image.sh did not produce the rootfs tarball"
    fi
fi
[[ -s $TAR ]] || die "no rootfs tarball from tools/busybox-image.sh"
log "rootfs tarball: $(tar -tf "$TAR" | wc -l) entries, $(($(stat -c %s "$TAR") / 1024)) KiB, sha256 $(sha256sum "$TAR" | cut -c1-12)"

# --- docker: our own dockerd on a private socket -----------------------------------
if want docker; then
    DOCKERD=$(command -v "${DOCKERD:-dockerd}") || SKIP[docker]="dockerd not found"
fi
if want docker && [[ -z ${SKIP[docker]:-} ]]; then
    D=$WORK/docker
    cat >"$D/daemon.json" <<EOF
{"storage-driver": "overlay2", "exec-opts": ["native.cgroupdriver=cgroupfs"],
 "deprecated-key-path": "$D/key.json"}
EOF
    "$DOCKERD" --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
        --pidfile "$D/dockerd.pid" -H "$DOCKER_SOCK" \
        --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
        </dev/null >"$D/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for ((i = 0; i < 300; i++)); do
        dk version >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! command -v "$DOCKER_CLI" >/dev/null; then
        SKIP[docker]="docker CLI $DOCKER_CLI not found"
    elif ! dk version >/dev/null 2>&1; then
        SKIP[docker]="dockerd did not come up: $(tail -n 5 "$D/dockerd.log")"
    elif ! dk import "$TAR" "$DOCKER_IMAGE" >"$D/import.log" 2>&1; then
        SKIP[docker]="docker import failed: $(tail -c 400 "$D/import.log")"
    fi
fi

# --- podman: private storage -----------------------------------------------------
if want podman; then
    PODMAN=$(command -v "$PODMAN") || SKIP[podman]="podman not found"
fi
if want podman && [[ -z ${SKIP[podman]:-} ]]; then
    if ! "$PODMAN" "${PODMAN_G[@]}" import "$TAR" "$PODMAN_IMAGE" >"$P/import.log" 2>&1; then
        SKIP[podman]="podman import failed: $(tail -c 400 "$P/import.log")"
    fi
fi

# --- sanity: one run each must exit 0 ---------------------------------------------
# run_once ENGINE -> RC, WALL_US; the engine's stderr in $WORK/err
run_once() {
    local t0 t1
    t0=$EPOCHREALTIME
    set +e
    "cmd_$1" </dev/null >/dev/null 2>"$WORK/err"
    RC=$?
    set -e
    t1=$EPOCHREALTIME
    WALL_US=$(( ${t1//[.,]/} - ${t0//[.,]/} ))
}
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
for e in $BENCH_ENGINES; do
    [[ -z ${SKIP[$e]:-} ]] || log "SKIP $e: ${SKIP[$e]}"
done
((${#NAMES[@]})) || die "no engine passed set-up and the sanity run"

# versions, for the record
{
    echo "host: $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
    for e in "${NAMES[@]}"; do
        case $e in
        stockade) echo "stockade: $(head -n 1 "$WORK/stockade/version") ($STOCKADE)" ;;
        docker) echo "docker: CLI $(dk version --format '{{.Client.Version}}' 2>/dev/null)," \
            "dockerd $(dk version --format '{{.Server.Version}}' 2>/dev/null)," \
            "containerd $(containerd --version 2>/dev/null | awk '{print $3}'), $(runc --version | head -n 1)" ;;
        podman) echo "podman: $("$PODMAN" --version | awk '{print $3}'), conmon" \
            "$(conmon --version 2>/dev/null | head -n 1 | awk '{print $3}'), runtime $("$PODMAN_RUNTIME" --version | head -n 1)" ;;
        esac
    done
} >"$WORK/versions"

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
# stats FILE -> "n median_ms p90_ms min_ms"; median: mean of the two middle values for
# even n; p90: nearest rank.
stats() {
    sort -n "$1" | awk '{a[NR] = $1} END {
        if (NR == 0) { print "0 nan nan nan"; exit }
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        p = int(0.9 * NR); if (p < 0.9 * NR) p++
        printf "%d %.2f %.2f %.2f\n", NR, m / 1000, a[p] / 1000, a[1] / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.2fx", a / b; else print "n/a" }'; }

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
