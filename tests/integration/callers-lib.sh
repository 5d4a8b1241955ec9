#!/bin/bash
# tests/integration/callers-lib.sh - sourced by the files that run stockade-runtime under the
# programs that drive runc (test-runtime-containerd.sh, test-runtime-podman.sh,
# test-runtime-docker.sh): Debian's containerd, podman (+conmon) and dockerd, each started by the
# test itself with private roots, sockets and pidfiles in the test's temporary directory.
#
# The file re-executes itself in a private mount namespace first, where /run and /dev/shm are fresh
# tmpfs mounts: what the daemons put there (containerd's and dockerd's run directories, podman's
# /dev/shm/libpod_lock, /run/containers, /run/libpod) stays in this namespace and goes with it, and a
# system daemon, or another test's, never sees ours. Then it sources lib.sh (run_test, fail, skip,
# the after-test leftover checks on $STATE_ROOT) and adds:
#
#   need_bin NAME...          bails out (a set-up fault: tools/setup.sh installs them) if one is missing
#   busybox_rootfs_tar        $WORK/busybox-rootfs.tar from tools/busybox-image.sh --tar (cached)
#   busybox_docker_archive F REF [ENTRYPOINT-JSON]   a `docker save`-style archive of that rootfs as
#                             image REF (with that Entrypoint, e.g. '["sleep","1000000"]')
#   wait_for N CMD...         retries CMD every 0.1 s, up to N seconds
#   hardened_check OUT        checks what hardened_script printed inside a container run with the
#                             hardening reference's flags (HARDENED_* below)
#   CALLERS_TAG               a name part unique to this run (issue 13 + pid), for cgroups and ids
#
# A daemon a file starts is registered with `daemon_started PID NAME`; the EXIT trap stops it
# (TERM, then KILL after 20 s), then any process still naming the test's directory (a shim or conmon
# a failed test left), before lib.sh's own clean-up.

if [ -z "${STOCKADE_CALLERS_NS:-}" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "Bail out! $(basename "$0"): needs root"; exit 1; }
        export STOCKADE_CALLERS_NS=1
        exec unshare --mount --propagation private bash "$0" "$@"
fi
mount -t tmpfs -o mode=0755,size=64m "stockade-callers-run" /run ||
        { echo "Bail out! $(basename "$0"): cannot mount a private /run"; exit 1; }
mount -t tmpfs -o mode=1777,size=64m "stockade-callers-shm" /dev/shm ||
        { echo "Bail out! $(basename "$0"): cannot mount a private /dev/shm"; exit 1; }

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../helpers/containerd-config.sh"

CALLERS_TAG=st13-$$
CALLERS_PIDS=()
CALLERS_CGROUP=/$CALLERS_TAG # the cgroup parent every caller is told to use
# cgroups podman makes for conmon whatever the containers' parent; removed at exit (when empty) unless
# they were there before
CALLERS_SHARED_CGROUPS=(libpod_parent/conmon libpod_parent)
declare -A CALLERS_PREEXIST=()
for h in /sys/fs/cgroup/*/; do
        for c in "${CALLERS_SHARED_CGROUPS[@]}"; do
                [ ! -d "$h$c" ] || CALLERS_PREEXIST[$h$c]=1
        done
done

need_bin() {
        local b
        for b in "$@"; do
                command -v "$b" >/dev/null 2>&1 ||
                        bail "$b is missing: tools/setup.sh installs it (containerd, podman, conmon, docker.io)"
        done
}

daemon_started() {
        CALLERS_PIDS+=("$1")
        echo "# started $2 (pid $1)"
}

callers_exit() {
        local pid i h pids
        for pid in "${CALLERS_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || continue
                for ((i = 0; i < 200; i++)); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        # what the daemons leave running on purpose when they stop (containerd's shims, conmon)
        # after a failed test: every process whose command line names our directory
        for ((i = 0; i < 30; i++)); do
                pids=$(pids_of "$WORK")
                [ -n "$pids" ] || break
                # shellcheck disable=SC2086
                if ((i < 20)); then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
                sleep 0.2
        done
        # the cgroup parent of this run, in every hierarchy (empty once the containers are gone)
        for h in /sys/fs/cgroup/*/; do
                [ -d "$h$CALLERS_TAG" ] && find "$h$CALLERS_TAG" -depth -type d -exec rmdir {} \; 2>/dev/null
                for c in "${CALLERS_SHARED_CGROUPS[@]}"; do
                        [ -n "${CALLERS_PREEXIST[$h$c]:-}" ] || rmdir "$h$c" 2>/dev/null
                done
        done
        lib_exit
}
trap callers_exit EXIT

# wait_for SECONDS CMD...: true once CMD succeeds.
wait_for() {
        local secs=$1 i
        shift
        for ((i = 0; i < secs * 10; i++)); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

busybox_rootfs_tar() {
        local tar=$WORK/busybox-rootfs.tar
        if [ ! -s "$tar" ]; then
                "$REPO_ROOT/tools/busybox-image.sh" --tar "$tar" >"$WORK/busybox-image.log" 2>&1 ||
                        bail "tools/busybox-image.sh --tar failed: $(tail -c 400 "$WORK/busybox-image.log")"
        fi
        echo "$tar"
}

# busybox_docker_archive FILE REF [ENTRYPOINT-JSON]: tools/busybox-image.sh --archive
busybox_docker_archive() {
        "$REPO_ROOT/tools/busybox-image.sh" --archive "$@" >"$WORK/busybox-archive.log" 2>&1 ||
                bail "tools/busybox-image.sh --archive failed: $(tail -c 400 "$WORK/busybox-archive.log")"
}

# The hardening reference's docker run flags (../shared/reference/container-runtime-hardening.md),
# as docker and podman take them, and a script that prints what they should change inside.
# --oom-score-adj is 500, not the reference's -500: lowering it needs CAP_SYS_RESOURCE, which root
# does not have on this machine (test-engine-run.sh checks that refusal).
HARDENED_FLAGS=(--user 1001:1001 --read-only --cap-drop ALL --security-opt no-new-privileges:true
        --tmpfs /tmp:noexec,nosuid,size=100m --memory 512m --memory-swap 512m --cpus 1.0 --cpu-shares 512
        --cpuset-cpus 0 --pids-limit 100 --ulimit nofile=1024:2048 --ulimit nproc=64:128 --oom-score-adj 500)
HARDENED_SCRIPT='grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
echo "id $(id -u):$(id -g)"
grep -E "^Max (open files|processes) " /proc/self/limits
echo "oom $(cat /proc/self/oom_score_adj)"
echo "root $(awk "\$2 == \"/\" { print \$4 }" /proc/mounts | cut -d, -f1)"
echo "tmp $(awk "\$2 == \"/tmp\" { print \$4 }" /proc/mounts)"
touch /rootfile 2>/dev/null && echo "rootfs writable"
echo "#!/bin/sh" >/tmp/x && chmod +x /tmp/x && { /tmp/x && echo "tmp exec allowed" || echo "tmp noexec"; }
echo "mem $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null)"
echo "pids $(cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null)"
echo "quota $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null)"
echo "shares $(cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null)"
echo "cpuset $(cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null)"'

# hardened_check OUTPUT: fails the test unless OUTPUT (HARDENED_SCRIPT's) shows every flag's effect.
hardened_check() {
        local out=$1 want
        for want in "CapEff:	0000000000000000" "CapBnd:	0000000000000000" "NoNewPrivs:	1" "Seccomp:	2" \
                "id 1001:1001" "oom 500" "root ro" "tmp noexec" "mem 536870912" "pids 100" "quota 100000" \
                "shares 512" "cpuset 0"; do
                case $out in
                *"$want"*) ;;
                *) fail "\"$want\" missing inside the container: $out" ;;
                esac
        done
        assert_match "$out" "Max open files +1024 +2048 " "nofile"
        assert_match "$out" "Max processes +64 +128 " "nproc"
        assert_match "$out" "tmp [^ ]*nosuid" "/tmp nosuid"
        assert_match "$out" "tmp [^ ]*size=102400k" "/tmp size"
        case $out in *"rootfs writable"*) fail "the root filesystem is writable" ;; esac
}
