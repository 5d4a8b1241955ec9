#!/usr/bin/env bash
# Installs what stockade needs to build, test and benchmark on Debian 12, and nothing twice.
# Idempotent and quiet when everything is present; run as root (CI and the README's commands call it).
set -euo pipefail

pkgs=(build-essential meson ninja-build pkg-config libjansson-dev libyaml-dev libcap-dev libseccomp-dev libbpf-dev bpftool clang libarchive-dev nettle-dev libssl-dev zlib1g-dev tini
      busybox-static jq iproute2 procps util-linux python3 time runc crun rsyslog rsyslog-openssl openssl python3-msgpack python3-protobuf systemd uidmap passwd apparmor
      containerd podman conmon docker.io docker-compose python3-grpcio python3-yaml)
# stockade-proxy (issue 12): its integration test and bench run Debian's dockerd, and haproxy and wrk for the bench.
pkgs+=(haproxy wrk curl)

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup: missing packages (${missing[*]}) and not root: run as root" >&2
                exit 1
        fi
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # Packages with daemons (docker.io, containerd, rsyslog...) must not start system-wide ones:
        # the tests start their own in private directories.  Debian's policy-rc.d hook says so for
        # the length of the install, unless the machine already has one.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
                chmod 0755 /usr/sbin/policy-rc.d
                trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
