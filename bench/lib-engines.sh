# bench/lib-engines.sh - what the benches that run whole engines side by side share
# (bench-engine.sh, bench-logging.sh): the stockade CLI, docker (our own dockerd 20.10 on a
# private socket) and podman, each with private state in one temp dir, the same busybox
# image in all three, and an EXIT trap that leaves the host as it was.
#
# Source it from a bench script, after setting:
#   BENCH_NAME   the script's name, for messages and the temp dir (e.g. bench-engine)
#   SELF         the script's absolute path (it is re-executed in a private mount namespace)
# then call, in this order:
#   eng_config                  defaults and checks of the common environment variables
#   eng_enter_namespace "$@"    installs what is missing, re-execs SELF under unshare -m
#                               (returns only inside the namespace)
#   eng_workdir                 the temp dir, the engines' private state, the EXIT trap
#   eng_image                   the busybox rootfs tarball, imported into stockade
#   eng_docker / eng_podman     our own dockerd + docker import / podman import
#                               (DOCKERD_EXTRA_ARGS: more dockerd flags, e.g. --add-runtime)
#   eng_versions FILE           the engines' versions, for the record
# An engine that cannot be set up gets SKIP[engine]="reason"; the bench goes on without it.
#
# Common environment variables (see bench/README.md):
#   BENCH_ENGINES    engines to try (default "stockade docker podman")
#   STOCKADE         the engine CLI (default build/stockade)
#   DOCKER_CLI       docker CLI (default /usr/local/bin/docker, else from PATH)
#   DOCKERD          dockerd (default from PATH; Debian's docker.io)
#   PODMAN           podman (default from PATH)
#   PODMAN_RUNTIME   runc (default) or crun (crun: /sys/fs/cgroup/unified unmounted in the
#                    bench's namespace, pure cgroup v1 for all engines)
#   BENCH_TMP        where the temp dir goes (default /tmp)
#   BENCH_KEEP=1     keep the temp dir
# shellcheck shell=bash disable=SC2034  # variables set here are the benches'

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
log() { echo "$BENCH_NAME: $*" >&2; }
want() { [[ " $BENCH_ENGINES " == *" $1 "* ]]; }

eng_config() {
    REPO=$(cd "$(dirname "$SELF")/.." && pwd)
    STOCKADE=${STOCKADE:-$REPO/build/stockade}
    BENCH_ENGINES=${BENCH_ENGINES:-stockade docker podman}
    PODMAN_RUNTIME=${PODMAN_RUNTIME:-runc}
    BENCH_TMP=${BENCH_TMP:-/tmp}
    if [[ -z ${DOCKER_CLI:-} ]]; then
        if [[ -x /usr/local/bin/docker ]]; then DOCKER_CLI=/usr/local/bin/docker; else DOCKER_CLI=docker; fi
    fi
    [[ $(id -u) == 0 ]] || die "must run as root (dockerd, podman and unshare -m need it)"
    [[ $PODMAN_RUNTIME == runc || $PODMAN_RUNTIME == crun ]] || die "PODMAN_RUNTIME must be runc or crun"
    local e
    for e in $BENCH_ENGINES; do
        [[ $e == stockade || $e == docker || $e == podman ]] || die "unknown engine '$e' in BENCH_ENGINES"
    done
    [[ -d $BENCH_TMP ]] || die "BENCH_TMP=$BENCH_TMP is not a directory"
}

# eng_enter_namespace "$@" [-- EXTRA_PACKAGES...]: outside the namespace, installs what is
# missing and re-execs $SELF under unshare -m with the script's arguments; inside, returns.
# EXTRA_PACKAGES are "command:package" (or "/path:package") pairs the bench needs besides
# the engines.
eng_enter_namespace() {
    [[ -z ${STOCKADE_BENCH_INNER:-} ]] || return 0
    local args=() extra=() missing=() a
    while (($#)); do
        if [[ $1 == -- ]]; then shift; extra=("$@"); break; fi
        args+=("$1"); shift
    done
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
    for a in "${extra[@]}"; do
        if [[ ${a%%:*} == /* ]]; then
            [[ -e ${a%%:*} ]] || missing+=("${a#*:}")
        else
            command -v "${a%%:*}" >/dev/null || missing+=("${a#*:}")
        fi
    done
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
    exec unshare -m --propagation private "$SELF" "${args[@]}"
}

# --- inside the private mount namespace: the temp dir and the engines' private state ----
eng_workdir() {
    if [[ $PODMAN_RUNTIME == crun ]] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
        # crun 1.8.1: "cgroups in hybrid mode not supported" (bench/README.md, bench-run.sh).
        umount /sys/fs/cgroup/unified || die "cannot umount /sys/fs/cgroup/unified"
        mount -t tmpfs -o size=1m,mode=755 bench-unified /sys/fs/cgroup/unified ||
            die "cannot mount tmpfs on /sys/fs/cgroup/unified"
        log "PODMAN_RUNTIME=crun: /sys/fs/cgroup/unified unmounted, all engines see cgroup v1 only"
    fi
    # podman keeps its lock file in /dev/shm/libpod_lock; give this namespace its own /dev/shm.
    mount -t tmpfs -o mode=1777,size=64m bench-shm /dev/shm || die "cannot mount tmpfs on /dev/shm"

    WORK=$(mktemp -d "$BENCH_TMP/stockade-$BENCH_NAME.XXXXXX")
    chmod 0755 "$WORK"
    PREFIX="bench$$"

    # Paths outside $WORK that dockerd/containerd/podman create even with private roots
    # (bench/README.md lists which creates which). The ones that do not exist now are
    # removed at the end, the others are left alone. Shared runtime directories are only
    # rmdir'ed when empty (another user's state may be in them); podman's own are removed.
    RMDIR_PATHS=(/opt/containerd /run/docker /run/containerd /run/runc /run/crun)
    RM_PATHS=(/etc/docker/key.json /var/lib/containers /run/containers /run/libpod)
    KNOWN_PATHS=("${RMDIR_PATHS[@]}" "${RM_PATHS[@]}")
    KNOWN_CGROUPS=(docker libpod_parent stockade ${EXTRA_CGROUPS[@]+"${EXTRA_CGROUPS[@]}"})  # parents made in every hierarchy
    declare -gA PREEXIST=()
    local p h c
    for p in "${KNOWN_PATHS[@]}"; do [[ -e $p ]] && PREEXIST[$p]=1; done
    for h in /sys/fs/cgroup/*/; do
        for c in "${KNOWN_CGROUPS[@]}"; do [[ -d $h$c ]] && PREEXIST[$h$c]=1; done
    done
    netns_list >"$WORK/netns.before"

    # --- engine set-up state ---
    NAMES=()                 # engines that passed set-up and the sanity run
    declare -gA SKIP=()      # engine -> reason
    DOCKERD_PID=

    # stockade: private roots through the variables the CLI (and tools/busybox-image.sh) read.
    export STOCKADE_DATA_ROOT=$WORK/stockade/data STOCKADE_EXEC_ROOT=$WORK/stockade/exec
    export STOCKADE_CONFIG=$WORK/stockade/daemon.json
    # docker CLI: private socket, and no ~/.docker (not exported: podman reads DOCKER_CONFIG too)
    DOCKER_SOCK=unix://$WORK/docker/docker.sock
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

    exec 8>&1 9>&2
    trap eng_cleanup EXIT
    trap 'exit 130' INT TERM
}

dk() { DOCKER_HOST=$DOCKER_SOCK DOCKER_CONFIG=$WORK/docker/cli "$DOCKER_CLI" "$@"; }
pm() { "$PODMAN" "${PODMAN_G[@]}" "$@"; }
netns_list() { find /run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | LC_ALL=C sort; }

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
# A bench may define eng_cleanup_hook, called first (e.g. to stop a perf it started).
eng_cleanup() {
    set +e
    exec 1>&8 2>&9   # a signal may arrive while a timed run's output goes elsewhere
    local ids=() leftover=() i m p h c
    declare -F eng_cleanup_hook >/dev/null && eng_cleanup_hook
    if [[ -x $STOCKADE && -d $WORK/stockade/data ]]; then
        mapfile -t ids < <("$STOCKADE" ps -aq 2>/dev/null)
        ((${#ids[@]} == 0)) || "$STOCKADE" rm -f "${ids[@]}" >/dev/null 2>&1
    fi
    if [[ -d $P/root ]]; then
        pm rm --all --force --time 0 >/dev/null 2>&1
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

# --- the busybox rootfs tarball, shared by all engines --------------------------
# tools/busybox-image.sh builds it and hands it to `STOCKADE import TAR busybox:latest`.
# It is called with a wrapper as its "stockade binary" that keeps a copy of that tar
# for docker and podman and passes everything on to the real CLI; if stockade is not
# usable, the wrapper only keeps the tar. So all three engines import the very same file.
# Sets TAR; SKIP[stockade] when stockade cannot be used.
eng_image() {
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
    local real=
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
}

# --- docker: our own dockerd on a private socket -----------------------------------
# Sets DOCKERD_PID (stopped by the EXIT trap); SKIP[docker] on failure.
eng_docker() {
    want docker || return 0
    DOCKERD=$(command -v "${DOCKERD:-dockerd}") || { SKIP[docker]="dockerd not found"; return 0; }
    local D=$WORK/docker i
    cat >"$D/daemon.json" <<EOF
{"storage-driver": "overlay2", "exec-opts": ["native.cgroupdriver=cgroupfs"],
 "deprecated-key-path": "$D/key.json"}
EOF
    "$DOCKERD" --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
        --pidfile "$D/dockerd.pid" -H "$DOCKER_SOCK" \
        --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
        ${DOCKERD_EXTRA_ARGS[@]+"${DOCKERD_EXTRA_ARGS[@]}"} \
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
}

# --- podman: private storage -----------------------------------------------------
eng_podman() {
    want podman || return 0
    PODMAN=$(command -v "$PODMAN") || { SKIP[podman]="podman not found"; return 0; }
    if ! pm import "$TAR" "$PODMAN_IMAGE" >"$P/import.log" 2>&1; then
        SKIP[podman]="podman import failed: $(tail -c 400 "$P/import.log")"
    fi
}

# eng_versions FILE: host and engines of NAMES, for the record.
eng_versions() {
    local e
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
    } >"$1"
}

# eng_skipped: logs the reason of each engine of BENCH_ENGINES that was skipped.
eng_skipped() {
    local e
    for e in $BENCH_ENGINES; do
        [[ -z ${SKIP[$e]:-} ]] || log "SKIP $e: ${SKIP[$e]}"
    done
}

# run_once NAME -> RC, WALL_US: times the bench's function cmd_NAME (stdin /dev/null, stdout
# dropped, stderr in $WORK/err), its exit status in RC and its wall time in µs in WALL_US.
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

# stats FILE -> "n median p90 min" of the numbers in FILE divided by DIV (default 1000:
# µs -> ms), with DEC decimals (default 2). median: mean of the two middle values for even
# n; p90: nearest rank.
stats() {
    sort -n "$1" | awk -v div="${2:-1000}" -v dec="${3:-2}" '{a[NR] = $1} END {
        if (NR == 0) { print "0 nan nan nan"; exit }
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        p = int(0.9 * NR); if (p < 0.9 * NR) p++
        f = "%d %." dec "f %." dec "f %." dec "f\n"
        printf f, NR, m / div, a[p] / div, a[1] / div }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.2fx", a / b; else print "n/a" }'; }
