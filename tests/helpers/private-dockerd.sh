#!/bin/bash
# Debian's dockerd (package docker.io) with everything of its own below one directory, for the tests
# and benches that need a real engine API upstream (stockade-proxy's).  Sourced; defines:
#
#   dockerd_start DIR   starts dockerd: --data-root DIR/data, --exec-root DIR/exec (its containerd
#                       too), -H unix://DIR/docker.sock, --pidfile, the key in DIR, no bridge, no
#                       iptables, cgroupfs under its own cgroup parent; waits until it answers and
#                       imports busybox:latest from tools/busybox-image.sh's rootfs tarball.  Sets
#                       DOCKERD_PID and DOCKERD_SOCK.  Returns 1 with the log's end on stderr if
#                       it does not come up.
#   dockerd_stop        removes its containers, stops it (TERM, then KILL after 20 s) and removes
#                       its cgroup parents.
#   dkd ARGS...         the docker CLI (/usr/local/bin/docker, or $DOCKER_CLI) straight to it.

DOCKER_CLI=${DOCKER_CLI:-/usr/local/bin/docker}
DOCKERD_PID=
DOCKERD_SOCK=
DOCKERD_DIR=
DOCKERD_CGROUP=

dkd() { DOCKER_HOST=unix://$DOCKERD_SOCK DOCKER_CONFIG=$DOCKERD_DIR/cli "$DOCKER_CLI" "$@"; }

dockerd_start() {
        local d=$1 i repo
        repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
        DOCKERD_DIR=$d
        DOCKERD_SOCK=$d/docker.sock
        DOCKERD_CGROUP=stockade-dockerd-$$
        mkdir -p "$d/cli"
        command -v dockerd >/dev/null || { echo "dockerd not found: tools/setup.sh installs docker.io" >&2; return 1; }
        [ -x "$DOCKER_CLI" ] || { echo "docker CLI $DOCKER_CLI not found" >&2; return 1; }
        cat >"$d/daemon.json" <<JSON
{"storage-driver": "overlay2", "exec-opts": ["native.cgroupdriver=cgroupfs"],
 "deprecated-key-path": "$d/key.json", "cgroup-parent": "$DOCKERD_CGROUP"}
JSON
        dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
                --pidfile "$d/dockerd.pid" -H "unix://$DOCKERD_SOCK" \
                --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
                </dev/null >"$d/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        for ((i = 0; i < 300; i++)); do
                dkd version >/dev/null 2>&1 && break
                kill -0 "$DOCKERD_PID" 2>/dev/null || break
                sleep 0.1
        done
        if ! dkd version >/dev/null 2>&1; then
                echo "dockerd did not come up:" >&2
                tail -n 5 "$d/dockerd.log" >&2
                return 1
        fi
        "$repo/tools/busybox-image.sh" --tar "$d/busybox.tar" >/dev/null || return 1
        dkd import "$d/busybox.tar" busybox:latest >/dev/null || return 1
}

dockerd_stop() {
        local i ids h
        [ -n "$DOCKERD_PID" ] || return 0
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
                ids=$(dkd ps -aq 2>/dev/null)
                [ -z "$ids" ] || dkd rm -f $ids >/dev/null 2>&1
                kill -TERM "$DOCKERD_PID"
                for ((i = 0; i < 200; i++)); do
                        kill -0 "$DOCKERD_PID" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID"
        fi
        wait "$DOCKERD_PID" 2>/dev/null
        DOCKERD_PID=
        for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
                [ -d "$h$DOCKERD_CGROUP" ] && find "$h$DOCKERD_CGROUP" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        return 0
}
