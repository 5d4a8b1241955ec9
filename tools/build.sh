#!/usr/bin/env bash
# Configures (once) and builds the normal tree in build/ and, with --asan, the sanitizer tree in build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
if [ "${1:-}" = "--asan" ]; then
        [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
                --buildtype=debug >/dev/null
        ninja -C build-asan >/dev/null
fi
