#!/usr/bin/env bash
# The demo: a busybox-static container run by stockade-runtime with a read-only root, every capability
# dropped and no_new_privs, printing the security lines of its own /proc/self/status.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh

work=$(mktemp -d /tmp/stockade-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
rt() { build/stockade-runtime --root "$work/state" "$@"; }

tests/helpers/mkrootfs.sh "$work/bundle/rootfs" build/tests/stockade-test-init >/dev/null
rt spec --bundle "$work/bundle"
jq '.process.terminal = false
    | .process.args = ["/bin/grep", "-E", "^(Uid|Gid|Cap|NoNewPrivs|Seccomp)", "/proc/self/status"]
    | .process.capabilities = {bounding: [], effective: [], permitted: [], inheritable: [], ambient: []}
    | .process.noNewPrivileges = true
    | .root.readonly = true' "$work/bundle/config.json" > "$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"

echo "== stockade-runtime run (read-only root, no capabilities, no_new_privs) =="
rt run --bundle "$work/bundle" "demo-$$"
echo "== writing to the read-only root fails inside the container =="
jq '.process.args = ["/bin/sh", "-c", "touch /x 2>&1 || echo refused: read-only root"]' \
        "$work/bundle/config.json" > "$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
rt run --bundle "$work/bundle" "demo2-$$"
