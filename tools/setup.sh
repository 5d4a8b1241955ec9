#!/usr/bin/env bash
# Installs what stockade needs to build, test and benchmark on Debian 12, and nothing twice.
# Idempotent and quiet when everything is present; run as root (CI and the README's commands call it).
set -euo pipefail

pkgs=(build-essential meson ninja-build pkg-config libjansson-dev libyaml-dev libcap-dev libseccomp-dev libbpf-dev bpftool clang libarchive-dev nettle-dev libssl-dev zlib1g-dev tini
      busybox-static jq iproute2 procps util-linux python3 time runc crun rsyslog rsyslog-openssl openssl python3-msgpack python3-protobuf systemd uidmap passwd apparmor
      docker-compose python3-yaml)

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
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
