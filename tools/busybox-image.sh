#!/usr/bin/env bash
# Creates the `busybox` image offline from Debian's busybox-static, as `docker import` of a rootfs
# tarball would: a static /bin/busybox with a symlink per applet, /etc/passwd and /etc/group (root,
# nobody, and a user 1000 for `--user` tests), imported as busybox:latest.  Does nothing when the
# image exists.  Honours STOCKADE_DATA_ROOT / STOCKADE_EXEC_ROOT / STOCKADE_CONFIG like the binary.
#
#   tools/busybox-image.sh [STOCKADE_BINARY]   import (default build/stockade)
#   tools/busybox-image.sh --tar FILE          only write the rootfs tarball to FILE
#
# With BUSYBOX_TAR set, that tarball (from --tar) is imported instead of building one (the VM lane,
# whose guest has no tar with --numeric-owner).
set -euo pipefail
tar_only=
if [ "${1:-}" = --tar ]; then
        tar_only=$(realpath -m "${2:?busybox-image.sh: --tar needs a file}")
fi
cd "$(dirname "$0")/.."
stockade=${1:-build/stockade}
ref=${BUSYBOX_IMAGE:-busybox:latest}

if [ -z "$tar_only" ]; then
        if "$stockade" inspect --type image "$ref" >/dev/null 2>&1; then
                exit 0
        fi
        if [ -n "${BUSYBOX_TAR:-}" ]; then
                "$stockade" import "$BUSYBOX_TAR" "$ref" >/dev/null
                echo "busybox-image.sh: imported $ref from $BUSYBOX_TAR"
                exit 0
        fi
fi
[ -x /bin/busybox ] || { echo "busybox-image.sh: /bin/busybox missing (install busybox-static)" >&2; exit 1; }

work=$(mktemp -d /tmp/stockade-busybox.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,dev,etc,home/user,proc,root,run,sys,tmp,usr/bin,var}
chmod 0755 "$root"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GR
chown 1000:1000 "$root/home/user"
tar -C "$root" --numeric-owner -cf "$work/busybox.tar" .
if [ -n "$tar_only" ]; then
        mv "$work/busybox.tar" "$tar_only"
        exit 0
fi
"$stockade" import "$work/busybox.tar" "$ref" >/dev/null
echo "busybox-image.sh: imported $ref"
