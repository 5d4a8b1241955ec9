#!/usr/bin/env bash
# The demo: the busybox image made offline, then `stockade run` with the hardening reference's flags,
# showing the effect inside the container, on the host's cgroup, and in `inspect`; then the OCI
# runtime alone on a bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
sk=build/stockade
tools/busybox-image.sh "$sk"

echo "== stockade run with the reference's flags =="
flags=(--read-only --tmpfs /tmp:rw,noexec,nosuid,size=10m --cap-drop ALL --security-opt no-new-privileges:true
       --memory=64m --memory-swap=64m --cpus=0.5 --pids-limit=20 --ulimit nofile=1024:2048 --user 1000:1000)
echo "stockade run --rm ${flags[*]} busybox ..."
"$sk" run --rm "${flags[@]}" busybox sh -c \
        'id; grep -E "^(Cap(Eff|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status; ulimit -n; touch /x 2>&1; touch /tmp/ok && echo "/tmp is writable"'

echo "== the same container detached: host cgroup, inspect, logs =="
name=demo-$$
"$sk" run -d --name "$name" "${flags[@]}" busybox sh -c 'echo started; sleep 30' >/dev/null
pid=$("$sk" inspect --format '{{.State.Pid}}' "$name")
cg=$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' "/proc/$pid/cgroup" | cut -d: -f3)
if [ -n "$cg" ]; then
        echo "memory.limit_in_bytes = $(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")"
fi
echo "SecurityOpt: $("$sk" inspect --format '{{.HostConfig.SecurityOpt}}' "$name")"
echo "LogConfig:   $("$sk" inspect --format '{{json .HostConfig.LogConfig}}' "$name")"
"$sk" ps --filter "name=$name"
"$sk" logs "$name"
"$sk" rm -f "$name" >/dev/null

echo "== a memory hog: exit 137, OOMKilled =="
rc=0
"$sk" run --name "$name-hog" --memory=32m --memory-swap=32m busybox sh -c 'x=a; while true; do x=$x$x; done' || rc=$?
echo "exit status $rc, OOMKilled=$("$sk" inspect --format '{{.State.OOMKilled}}' "$name-hog")"
"$sk" rm "$name-hog" >/dev/null

echo "== a bad flag: docker's message, exit 125, nothing created =="
"$sk" run --memory=12q busybox true || echo "exit status $?"
