#!/usr/bin/env bash
# Creates the `busybox` image offline from Debian's busybox-static, as `docker import` of a rootfs
# tarball would: a static /bin/busybox with a symlink per applet, /etc/passwd and /etc/group (root,
# nobody, and a user 1000 for `--user` tests), imported as busybox:latest.  Does nothing when the
# image exists.  Honours STOCKADE_DATA_ROOT / STOCKADE_EXEC_ROOT / STOCKADE_CONFIG like the binary.
#
#   tools/busybox-image.sh [STOCKADE_BINARY]   import (default build/stockade)
#   tools/busybox-image.sh --tar FILE          only write the rootfs tarball to FILE
#   tools/busybox-image.sh --archive FILE REF [ENTRYPOINT-JSON]
#                                              only write a `docker save` archive of it (one layer,
#                                              image REF, optional Entrypoint), which `ctr images
#                                              import`, `docker load` and `podman load` read
#
# With BUSYBOX_TAR set, that tarball (from --tar) is imported instead of building one (the VM lane,
# whose guest has no tar with --numeric-owner).
set -euo pipefail
tar_only= archive= archive_ref= archive_ep=null
if [ "${1:-}" = --tar ]; then
        tar_only=$(realpath -m "${2:?busybox-image.sh: --tar needs a file}")
elif [ "${1:-}" = --archive ]; then
        archive=$(realpath -m "${2:?busybox-image.sh: --archive needs a file}")
        archive_ref=${3:?busybox-image.sh: --archive needs an image reference}
        archive_ep=${4:-null}
        jq -e 'type == "null" or (type == "array" and all(type == "string"))' <<<"$archive_ep" >/dev/null ||
                { echo "busybox-image.sh: --archive: the entrypoint must be a JSON array of strings" >&2; exit 1; }
        tar_only=$archive.layer
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
if [ -n "$archive" ]; then
        # docker save's layout: manifest.json, the image config, the layer (the rootfs tarball)
        mkdir "$work/archive"
        mv "$work/busybox.tar" "$work/archive/layer.tar"
        jq -n --arg diff "sha256:$(sha256sum "$work/archive/layer.tar" | cut -d' ' -f1)" --argjson ep "$archive_ep" \
                '{architecture: "amd64", os: "linux",
                  config: {Entrypoint: $ep, Cmd: (if $ep == null then ["sh"] else null end),
                           Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                  rootfs: {type: "layers", diff_ids: [$diff]}}' >"$work/archive/config.json"
        jq -n --arg ref "$archive_ref" '[{Config: "config.json", RepoTags: [$ref], Layers: ["layer.tar"]}]' \
                >"$work/archive/manifest.json"
        tar -C "$work/archive" -cf "$archive.tmp" manifest.json config.json layer.tar
        mv "$archive.tmp" "$archive"
        exit 0
fi
if [ -n "$tar_only" ]; then
        mv "$work/busybox.tar" "$tar_only"
        exit 0
fi
"$stockade" import "$work/busybox.tar" "$ref" >/dev/null
echo "busybox-image.sh: imported $ref"
