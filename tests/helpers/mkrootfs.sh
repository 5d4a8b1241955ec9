#!/bin/bash
# mkrootfs.sh DEST INIT_BINARY
#
# Build a minimal root filesystem for stockade tests at DEST: a static
# busybox with an applet symlink for every command in /bin, the test helper
# as /init, the usual top-level directories and small passwd/group files.
# Safe to run again on an existing DEST.
#
# Environment: BUSYBOX overrides the busybox binary to copy (default
# /bin/busybox); ROOTFS_HOSTNAME sets /etc/hostname (default "stockade").
set -euo pipefail

die() {
        echo "mkrootfs.sh: $*" >&2
        exit 1
}

[ $# -eq 2 ] || { echo "usage: $0 DEST INIT_BINARY" >&2; exit 2; }

dest=$1
init_bin=$2
busybox=${BUSYBOX:-/bin/busybox}
hostname=${ROOTFS_HOSTNAME:-stockade}

[ -n "$dest" ] || die "DEST must not be empty"
[ -f "$init_bin" ] || die "init binary '$init_bin' not found"
[ -x "$busybox" ] || die "busybox '$busybox' not found or not executable"

# The rootfs has no libc, so busybox must be statically linked.
is_static() {
        if command -v readelf >/dev/null 2>&1; then
                # Capture first: grep -q in a pipeline could SIGPIPE readelf.
                local phdrs
                phdrs=$(readelf -lW "$1" 2>/dev/null) || return 1
                case $phdrs in *INTERP*) return 1 ;; esac
        elif command -v file >/dev/null 2>&1; then
                local desc
                desc=$(file -L "$1")
                case $desc in *"statically linked"* | *"static-pie linked"*) ;; *) return 1 ;; esac
        elif LC_ALL=C grep -aq '/ld-linux\|/ld-musl\|/ld64\.so' "$1"; then
                return 1
        fi
}
is_static "$busybox" ||
        die "$busybox is not a statically linked executable (install busybox-static)"

mkdir -p "$dest"
[ "$(cd "$dest" && pwd -P)" != / ] || die "refusing to use / as DEST"

for d in bin proc sys dev etc root home run var usr/bin tmp; do
        mkdir -p "$dest/$d"
done
chmod 0755 "$dest"
chmod 0700 "$dest/root"
mkdir -p "$dest/home/tester"
chown 1000:1000 "$dest/home/tester"
chmod 1777 "$dest/tmp"

# Copy via a temporary name so a running busybox in DEST is never truncated.
cp "$busybox" "$dest/bin/.busybox.new"
chmod 0755 "$dest/bin/.busybox.new"
mv -f "$dest/bin/.busybox.new" "$dest/bin/busybox"

applets=$("$busybox" --list) || die "'$busybox --list' failed"
[ -n "$applets" ] || die "'$busybox --list' printed nothing"
for applet in $applets; do
        case $applet in
        busybox | */*) continue ;;
        esac
        ln -sfn busybox "$dest/bin/$applet"
done

cp "$init_bin" "$dest/.init.new"
chmod 0755 "$dest/.init.new"
mv -f "$dest/.init.new" "$dest/init"

cat >"$dest/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
tester:x:1000:1000:tester:/home/tester:/bin/sh
EOF

cat >"$dest/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
tester:x:1000:
extra:x:2000:
EOF

echo "$hostname" >"$dest/etc/hostname"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/hostname"
