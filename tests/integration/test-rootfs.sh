#!/bin/bash
# The root filesystem: read-only root, pivot_root and --no-pivot, mounts and their options,
# propagation, idmapped mounts, devices, masked and read-only paths, sysctls.
source "$(dirname "$0")/lib.sh"

# mnt_field MOUNTINFO_TEXT DEST FIELD: per-mount options ("opts"), super options ("super") or
# filesystem type ("fstype") of the last mount at DEST.
mnt_field() {
        awk -v d="$2" -v f="$3" '
                $5 == d {
                        for (i = 7; $i != "-"; i++) opt = opt " " $i
                        if (f == "opts") v = $6
                        else if (f == "optional") v = opt
                        else if (f == "fstype") v = $(i + 1)
                        else if (f == "super") v = $(i + 3)
                        opt = ""
                }
                END { print v }' <<<"$1"
}

has_opt() { # has_opt "a,b,c" b
        case ",$1," in *",$2,"*) return 0 ;; esac
        return 1
}

t_readonly_root() {
        new_bundle rf-ro
        cfg rf-ro '.mounts += [{destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["size=1m"]}]'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init write /x data
        assert_failure "writing / of a read-only root"
        assert_output_contains "/x: Read-only file system"
        rt exec "$CID" /init write /scratch/x data
        assert_success "writing to a tmpfs below a read-only root"
        rt exec "$CID" /init cat /scratch/x
        assert_output data
        rt exec "$CID" /init mountinfo
        has_opt "$(mnt_field "$output" / opts)" ro || fail "/ is not ro in mountinfo"
        rt delete --force "$CID"

        new_bundle rf-rw /init write /x written
        cfg rf-rw '.root.readonly = false'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success "writing / of a read-write root"
        assert_eq "$(cat "$BUNDLE/rootfs/x")" written "the file on the host"
}

t_pivot_root() {
        new_bundle rf-pivot /init mountinfo
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        # The host's root is gone: nothing is mounted outside the container's tree.
        local n
        n=$(awk '{print $5}' <<<"$output" | grep -c -v -E '^/(proc|dev|sys)?(/|$)' || true)
        assert_eq "$n" 0 "mounts outside /, /proc, /dev, /sys"
        [ "$(awk '$5 == "/"' <<<"$output" | wc -l)" -ge 1 ] || fail "no root mount"
        new_bundle rf-pivot2 /init ls /
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "$(ls -A "$BUNDLE/rootfs")" "the container's /"
}

t_no_pivot() {
        new_bundle rf-nopivot /init ls /
        rt run --no-pivot --bundle "$BUNDLE" "$CID"
        assert_success "run --no-pivot"
        assert_eq "$output" "$(ls -A "$BUNDLE/rootfs")" "the container's / with --no-pivot"
        new_bundle rf-nopivot2 /init exit 4
        rt create --no-pivot --bundle "$BUNDLE" "$CID"
        assert_success "create --no-pivot"
        rt start "$CID"
        assert_success
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success
}

t_bind_ro() {
        mkdir -p "$WORK/rf-data"
        echo hello >"$WORK/rf-data/file"
        new_bundle rf-bindro
        cfg rf-bindro '.mounts += [{destination: "/data", type: "bind", source: $s, options: ["bind", "ro"]}]' \
                --arg s "$WORK/rf-data"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init cat /data/file
        assert_success
        assert_output hello
        rt exec "$CID" /init write /data/new x
        assert_failure
        assert_output_contains "Read-only file system"
        rt exec "$CID" /init mountinfo
        has_opt "$(mnt_field "$output" /data opts)" ro || fail "/data is not ro: $(mnt_field "$output" /data opts)"
        [ ! -e "$WORK/rf-data/new" ] || fail "the write reached the host"
        rt delete --force "$CID"

        new_bundle rf-bindrw
        cfg rf-bindrw '.mounts += [{destination: "/data", type: "bind", source: $s, options: ["bind"]}]' \
                --arg s "$WORK/rf-data"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init write /data/new from-container
        assert_success
        assert_eq "$(cat "$WORK/rf-data/new")" from-container "a write through a rw bind"
        rt delete --force "$CID"
}

t_bind_file() {
        echo "file content" >"$WORK/rf-file"
        new_bundle rf-bindfile /init cat /etc/bound
        cfg rf-bindfile '.mounts += [{destination: "/etc/bound", type: "bind", source: $s, options: ["rbind", "ro"]}]' \
                --arg s "$WORK/rf-file"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output "file content"
        [ -f "$BUNDLE/rootfs/etc/bound" ] || fail "the mount point file was not made in the rootfs"
        # A bind source that does not exist.
        new_bundle rf-bindmissing /init true
        cfg rf-bindmissing '.mounts += [{destination: "/x", type: "bind", source: "/nonexistent/src", options: ["bind"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "mounts[7] (/x)"
        assert_output_contains "/nonexistent/src"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_tmpfs_options() {
        new_bundle rf-tmpfs /init mountinfo
        cfg rf-tmpfs '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs",
                options: ["size=1m", "mode=700", "nosuid", "nodev", "noexec"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local opts super
        opts=$(mnt_field "$output" /t opts)
        super=$(mnt_field "$output" /t super)
        assert_eq "$(mnt_field "$output" /t fstype)" tmpfs "type of /t"
        has_opt "$super" size=1024k || fail "size=1m not applied: $super"
        has_opt "$super" mode=700 || fail "mode=700 not applied: $super"
        for o in nosuid nodev noexec rw; do
                has_opt "$opts" "$o" || fail "$o missing from the options of /t: $opts"
        done
        new_bundle rf-tmpfs2 /init cat /proc/mounts
        cfg rf-tmpfs2 '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs", options: ["size=1m", "mode=700"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(grep ' /t ' <<<"$output")" '^tmpfs /t tmpfs rw,.*size=1024k,mode=700' "/proc/mounts line of /t"
        new_bundle rf-tmpfs3 /init stat /t
        cfg rf-tmpfs3 '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs", options: ["mode=1770"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$output" '^dir 1770 0 0 ' "mode of the tmpfs root"
        # noexec is enforced.
        new_bundle rf-noexec /bin/sh -c 'cp /init /t/x && /t/x true; echo rc=$?'
        cfg rf-noexec '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs", options: ["noexec"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output_contains "Permission denied"
        assert_output_contains "rc=126"
}

t_rbind_rro() {
        mkdir -p "$WORK/rf-rb/sub"
        echo top >"$WORK/rf-rb/top"
        mount -t tmpfs -o size=1m tmpfs "$WORK/rf-rb/sub" || skip "cannot mount a tmpfs on the host"
        trap 'umount -l "$WORK/rf-rb/sub"' EXIT
        echo below >"$WORK/rf-rb/sub/below"

        new_bundle rf-bind-norec /init ls /rb/sub
        cfg rf-bind-norec '.mounts += [{destination: "/rb", type: "bind", source: $s, options: ["bind"]}]' \
                --arg s "$WORK/rf-rb"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output ""

        new_bundle rf-rbind
        cfg rf-rbind '.mounts += [{destination: "/rb", type: "bind", source: $s, options: ["rbind", "rro"]}]' \
                --arg s "$WORK/rf-rb"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init cat /rb/sub/below
        assert_success "rbind brings the submount"
        assert_output below
        rt exec "$CID" /init ismount /rb/sub
        assert_success "/rb/sub is a mount point"
        rt exec "$CID" /init write /rb/sub/new x
        assert_failure "rro makes the submount read-only"
        assert_output_contains "Read-only file system"
        rt exec "$CID" /init write /rb/new x
        assert_failure "rro makes the top read-only"
        assert_output_contains "Read-only file system"
        rt delete --force "$CID"
        # The host's mounts stay writable.
        echo ok >"$WORK/rf-rb/sub/host-write" || fail "the host's submount became read-only"
}

t_propagation() {
        new_bundle rf-prop-shared /init mountinfo
        cfg rf-prop-shared '.linux.rootfsPropagation = "shared"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success "rootfsPropagation shared"
        assert_match "$(mnt_field "$output" / optional)" 'shared:[0-9]+' "propagation of / with shared"

        new_bundle rf-prop-private /init mountinfo
        cfg rf-prop-private '.linux.rootfsPropagation = "private"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success "rootfsPropagation private"
        assert_eq "$(mnt_field "$output" / optional)" "" "propagation fields of / with private"

        new_bundle rf-prop-rslave /init true
        cfg rf-prop-rslave '.linux.rootfsPropagation = "rslave"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success "rootfsPropagation rslave"

        new_bundle rf-prop-bad /init true
        cfg rf-prop-bad '.linux.rootfsPropagation = "sideways"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.rootfsPropagation: "sideways" is not a propagation type'

}

t_mount_propagation_options() {
        # Propagation options on single mounts (runtime-spec: "shared", "rshared", ... in options).
        mkdir -p "$WORK/rf-propsrc"
        new_bundle rf-prop-mount /init mountinfo
        cfg rf-prop-mount '.mounts += [{destination: "/s", type: "bind", source: $s, options: ["rbind", "rshared"]},
                {destination: "/t", type: "tmpfs", source: "tmpfs", options: ["shared"]},
                {destination: "/p", type: "tmpfs", source: "tmpfs", options: ["private"]}]' --arg s "$WORK/rf-propsrc"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(mnt_field "$output" /p optional)" "" "propagation of /p (private)"
        assert_match "$(mnt_field "$output" /t optional)" 'shared:[0-9]+' "propagation of the tmpfs /t (shared)"
        assert_match "$(mnt_field "$output" /s optional)" 'shared:[0-9]+' "propagation of the bind /s (rshared)"
}

t_container_mounts_stay_inside() {
        # Nothing the container mounts shows on the host.
        local before after
        before=$(wc -l </proc/self/mountinfo)
        new_bundle rf-nohostmounts
        cfg rf-nohostmounts '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs"}]
                | .linux.rootfsPropagation = "shared"'
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init true
        after=$(wc -l </proc/self/mountinfo)
        assert_eq "$after" "$before" "number of host mounts while the container runs"
        [ -z "$(host_mounts_below "$BUNDLE")" ] || fail "host mounts below the bundle: $(host_mounts_below "$BUNDLE")"
        rt delete --force "$CID"
}

t_relative_bind_source() {
        new_bundle rf-relsrc /init cat /rel/file
        mkdir -p "$BUNDLE/reldata"
        echo relative >"$BUNDLE/reldata/file"
        cfg rf-relsrc '.mounts += [{destination: "/rel", type: "bind", source: "reldata", options: ["bind", "ro"]}]'
        # Run from elsewhere: the source is relative to the bundle, not to the caller.
        mkdir -p "$WORK/elsewhere/reldata"
        echo wrong >"$WORK/elsewhere/reldata/file"
        cd "$WORK/elsewhere"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output relative
        # A relative --bundle is relative to the caller.
        new_bundle rf-relbundle /init echo relbundle
        cd "$WORK/bundles"
        rt run --bundle rf-relbundle "$CID"
        assert_success
        assert_output relbundle
}

t_idmap_mount() {
        [ -e /proc/self/ns/user ] || skip "no user namespaces"
        mkdir -p "$WORK/rf-idmap"
        touch "$WORK/rf-idmap/root-owned" "$WORK/rf-idmap/u1000" "$WORK/rf-idmap/u100000"
        chown 1000:1000 "$WORK/rf-idmap/u1000"
        chown 100000:100000 "$WORK/rf-idmap/u100000"
        local maps='uidMappings: [{containerID: 0, hostID: 100000, size: 65536}],
                gidMappings: [{containerID: 0, hostID: 100000, size: 65536}]'
        new_bundle rf-idmap /bin/sh -c '/init stat /data/root-owned; /init stat /data/u1000; /init stat /data/u100000; /init mountinfo'
        cfg rf-idmap ".mounts += [{destination: \"/data\", type: \"bind\", source: \$s, options: [\"bind\", \"idmap\"], $maps}]" \
                --arg s "$WORK/rf-idmap"
        rt run --bundle "$BUNDLE" "$CID"
        if [ "$status" -ne 0 ] && grep -q 'does its filesystem support idmapped mounts' <<<"$output"; then
                skip "the filesystem of $WORK does not support idmapped mounts"
        fi
        assert_success
        # The mount maps on-disk id N to N+100000 (containerID -> hostID); ids outside the map are
        # the overflow id. The container has no user namespace: it sees the mapped ids.
        assert_match "$(sed -n 1p <<<"$output")" '^file 0644 100000 100000 ' "on-disk 0 through the idmapped mount"
        assert_match "$(sed -n 2p <<<"$output")" '^file 0644 101000 101000 ' "on-disk 1000 through the idmapped mount"
        assert_match "$(sed -n 3p <<<"$output")" '^file 0644 65534 65534 ' "on-disk 100000 (unmapped)"
        assert_match "$(grep ' /data ' <<<"$output")" 'idmapped' "mountinfo of /data"

        # In a user namespace with the same mapping, on-disk root is the container's root.
        new_bundle rf-idmap-userns /bin/sh -c '/init stat /data/root-owned; /init id; /init write /data/made-inside x && /init stat /data/made-inside'
        # The container's root (host uid 100000) cannot create the mount point in a root-owned rootfs.
        mkdir "$BUNDLE/rootfs/data"
        cfg rf-idmap-userns ".mounts += [{destination: \"/data\", type: \"bind\", source: \$s, options: [\"bind\", \"idmap\"], $maps}]
                | .linux.namespaces += [{type: \"user\"}]
                | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
                | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]" --arg s "$WORK/rf-idmap"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_match "$(sed -n 1p <<<"$output")" '^file 0644 0 0 ' "on-disk 0 seen from the container's user namespace"
        assert_eq "$(sed -n 2p <<<"$output")" "uid=0 gid=0 groups=" "id in the user namespace"
        assert_match "$(sed -n 3p <<<"$output")" '^file 0644 0 0 ' "a file the container's root made"
        assert_eq "$(stat -c %u:%g "$WORK/rf-idmap/made-inside")" 0:0 "on-disk owner of the file the container made"
}

t_idmap_errors() {
        mkdir -p "$WORK/rf-idmap-err"
        new_bundle rf-idmap-nomap /init true
        cfg rf-idmap-nomap '.mounts += [{destination: "/data", type: "bind", source: $s, options: ["bind", "idmap"]}]' \
                --arg s "$WORK/rf-idmap-err"
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "mounts[7] (/data)"
        assert_output_contains "option idmap needs uidMappings and gidMappings on the mount"
        new_bundle rf-idmap-half /init true
        cfg rf-idmap-half '.mounts += [{destination: "/data", type: "bind", source: $s, options: ["bind", "idmap"],
                uidMappings: [{containerID: 0, hostID: 100000, size: 1}]}]' --arg s "$WORK/rf-idmap-err"
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "mounts[7]: uidMappings and gidMappings must be given together"
}

t_idmap_not_bind() {
        new_bundle rf-idmap-tmpfs /init true
        cfg rf-idmap-tmpfs '.mounts += [{destination: "/data", type: "tmpfs", source: "tmpfs", options: ["idmap"],
                uidMappings: [{containerID: 0, hostID: 100000, size: 1}], gidMappings: [{containerID: 0, hostID: 100000, size: 1}]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "mounts[7] (/data): idmapped mounts must be bind mounts"
}

t_default_devices() {
        new_bundle rf-devs /bin/sh -c 'for d in null zero full random urandom tty; do /init stat /dev/$d; done'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local want
        want=$(printf '%s\n' "chr 0666 0 0 1 3" "chr 0666 0 0 1 5" "chr 0666 0 0 1 7" "chr 0666 0 0 1 8" \
                "chr 0666 0 0 1 9" "chr 0666 0 0 5 0")
        assert_eq "$output" "$want" "the default devices"
        new_bundle rf-devlinks /bin/sh -c 'for l in fd stdin stdout stderr ptmx; do /init readlink /dev/$l; done'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "$(printf '%s\n' /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 pts/ptmx)" "/dev symlinks"
        new_bundle rf-devuse /bin/sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(tr -d ' ' <<<"$output" | tr '\n' ' ')" "4 4 " "reading the devices"
        # No other device nodes leak in from the host.
        new_bundle rf-devlist /init ls /dev
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(tr '\n' ' ' <<<"$output")" "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " "entries of /dev"
}

t_linux_devices() {
        new_bundle rf-linuxdevs /bin/sh -c '/init stat /dev/mydev; /init stat /dev/sub/myfifo; /init stat /dev/myblk'
        cfg rf-linuxdevs '.linux.devices = [
                {path: "/dev/mydev", type: "c", major: 1, minor: 7, fileMode: 416, uid: 1000, gid: 2000},
                {path: "/dev/sub/myfifo", type: "p", fileMode: 384},
                {path: "/dev/myblk", type: "b", major: 7, minor: 0}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(sed -n 1p <<<"$output")" "chr 0640 1000 2000 1 7" "/dev/mydev"
        assert_eq "$(sed -n 2p <<<"$output")" "fifo 0600 0 0 0 0" "/dev/sub/myfifo"
        assert_eq "$(sed -n 3p <<<"$output")" "blk 0666 0 0 7 0" "/dev/myblk"
        new_bundle rf-baddev /init true
        cfg rf-baddev '.linux.devices = [{path: "/dev/x", type: "q", major: 1, minor: 1}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.devices[0].type: "q" is not one of c, b, u, p'
        new_bundle rf-reldev /init true
        cfg rf-reldev '.linux.devices = [{path: "dev/x", type: "c", major: 1, minor: 1}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.devices[0].path: "dev/x" must be an absolute path'
}

t_pts_ptmx_shm() {
        new_bundle rf-pts
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init mountinfo
        assert_success
        local mi=$output
        assert_eq "$(mnt_field "$mi" /dev/pts fstype)" devpts "/dev/pts"
        has_opt "$(mnt_field "$mi" /dev/pts super)" ptmxmode=666 || fail "ptmxmode: $(mnt_field "$mi" /dev/pts super)"
        assert_eq "$(mnt_field "$mi" /dev/shm fstype)" tmpfs "/dev/shm"
        assert_eq "$(mnt_field "$mi" /dev/mqueue fstype)" mqueue "/dev/mqueue"
        assert_eq "$(mnt_field "$mi" /dev fstype)" tmpfs "/dev"
        rt exec "$CID" /init stat /dev/pts/ptmx
        assert_success
        assert_match "$output" '^chr 0666 0 0 5 2$' "/dev/pts/ptmx"
        rt exec "$CID" /init stat /dev/shm
        assert_match "$output" '^dir 1777 ' "/dev/shm"
        rt exec "$CID" /init write /dev/shm/x shm
        assert_success "writing /dev/shm"
        # The pts instance is the container's own: the host's ptys are not there.
        rt exec "$CID" /init ls /dev/pts
        assert_success
        assert_output ptmx
        rt delete --force "$CID"
}

t_masked_paths() {
        new_bundle rf-masked
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local p checked=0
        for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts; do
                [ -e "$p" ] || continue
                checked=$((checked + 1))
                rt exec "$CID" /init stat "$p"
                assert_success
                assert_eq "$output" "chr 0666 0 0 1 3" "stat of masked $p"
                rt exec "$CID" /init cat "$p"
                assert_success
                assert_output ""
        done
        [ "$checked" -gt 0 ] || fail "none of the masked files exist on this kernel"
        for p in /sys/firmware /proc/acpi; do
                [ -d "$p" ] || continue
                rt exec "$CID" /init ls "$p"
                assert_success
                assert_eq "$output" "" "content of masked $p"
                rt exec "$CID" /init write "$p/x" x
                assert_failure "writing in masked $p"
        done
        # Unmasked files still work.
        rt exec "$CID" /init cat /proc/self/comm
        assert_output init
        rt delete --force "$CID"
        # A masked path that does not exist is no error; a custom one is masked.
        new_bundle rf-masked2 /bin/sh -c '/init stat /etc/passwd; /init cat /etc/passwd; /init ls /home'
        cfg rf-masked2 '.linux.maskedPaths += ["/does/not/exist", "/etc/passwd", "/home"]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "chr 0666 0 0 1 3" "a masked file and directory"
}

t_readonly_paths() {
        new_bundle rf-ropaths
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init write /proc/sys/kernel/hostname evil
        assert_failure
        assert_output_contains "Read-only file system"
        rt exec "$CID" /init mountinfo
        has_opt "$(mnt_field "$output" /proc/sys opts)" ro || fail "/proc/sys is not ro"
        rt exec "$CID" /init cat /proc/sys/kernel/hostname
        assert_success "/proc/sys is still readable"
        rt delete --force "$CID"
        # A custom read-only path, recursively.
        new_bundle rf-ropaths2 /bin/sh -c '/init write /dev/shm/x y; /init write /tmp/x y; echo done'
        cfg rf-ropaths2 '.root.readonly = false | .linux.readonlyPaths += ["/dev/shm", "/tmp"]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output_contains "/dev/shm/x: Read-only file system"
        assert_output_contains "/tmp/x: Read-only file system"
}

t_sysctl() {
        local host
        host=$(cat /proc/sys/net/ipv4/ip_forward)
        local want=$((1 - host))
        new_bundle rf-sysctl /bin/sh -c '/init sysctl net.ipv4.ip_forward; /init sysctl kernel.shmmni'
        cfg rf-sysctl '.linux.sysctl = {"net.ipv4.ip_forward": $v, "kernel/shmmni": "1234"}' --arg v "$want"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$output" "$(printf '%s\n' "$want" 1234)" "sysctls inside"
        assert_eq "$(cat /proc/sys/net/ipv4/ip_forward)" "$host" "the host's net.ipv4.ip_forward"
        [ "$(cat /proc/sys/kernel/shmmni)" != 1234 ] || fail "the host's kernel.shmmni changed"
        new_bundle rf-sysctl-missing /init true
        cfg rf-sysctl-missing '.linux.sysctl = {"net.nope.nothing": "1"}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "linux.sysctl: net.nope.nothing"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state left"
        new_bundle rf-sysctl-escape /init true
        cfg rf-sysctl-escape '.linux.sysctl = {"../../etc/passwd": "x"}'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'linux.sysctl: "../../etc/passwd" is not a valid sysctl name'
}

t_hostname() {
        new_bundle rf-hostname /init hostname
        cfg rf-hostname '.hostname = "rootfs-test"'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output rootfs-test
        new_bundle rf-hostname-nouts /init hostname
        cfg rf-hostname-nouts '.linux.namespaces |= map(select(.type != "uts"))'
        rt run --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "hostname: setting it needs a new uts namespace"
}

t_mount_dest_created() {
        new_bundle rf-mkdest /init ismount /new/deep/dir
        cfg rf-mkdest '.mounts += [{destination: "/new/deep/dir", type: "tmpfs", source: "tmpfs"}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        [ -d "$BUNDLE/rootfs/new/deep/dir" ] || fail "the destination was not made inside the rootfs"
}

t_tmpcopyup() {
        new_bundle rf-copyup /bin/sh -c 'stat -c "%a %u:%g %s" /seed/dir/file /seed/dir; cat /seed/dir/file
                [ -p /seed/fifo ] && echo "fifo copied"; [ -e /seed/disk ] && echo "device copied"
                readlink /seed/link; echo changed >/seed/dir/file; grep " /seed " /proc/mounts'
        mkdir -p "$BUNDLE/rootfs/seed/dir"
        echo image-content >"$BUNDLE/rootfs/seed/dir/file"
        chown 1000:1001 "$BUNDLE/rootfs/seed/dir/file" "$BUNDLE/rootfs/seed/dir"
        chmod 4757 "$BUNDLE/rootfs/seed/dir/file"
        chmod 0751 "$BUNDLE/rootfs/seed/dir"
        ln -s /etc/shadow-of-the-host "$BUNDLE/rootfs/seed/link"
        mkfifo "$BUNDLE/rootfs/seed/fifo"
        mknod "$BUNDLE/rootfs/seed/disk" b 7 0
        cfg rf-copyup '.mounts += [{destination: "/seed", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "size=1m"]}]'
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_output_contains "4757 1000:1001 14"
        assert_output_contains "751 1000:1001"
        assert_output_contains "image-content"
        assert_output_contains "/etc/shadow-of-the-host"
        assert_output_contains "fifo copied"
        refute_output_contains "device copied"
        assert_match "$output" "tmpfs /seed tmpfs [^ ]*size=1024k" "/seed is the tmpfs"
        # the image's file under the tmpfs is untouched
        assert_eq "$(cat "$BUNDLE/rootfs/seed/dir/file")" image-content "the rootfs file"
}

t_sys_and_cgroup_mounts() {
        new_bundle rf-sysfs
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt exec "$CID" /init mountinfo
        assert_success
        local mi=$output
        assert_eq "$(mnt_field "$mi" /sys fstype)" sysfs "/sys"
        has_opt "$(mnt_field "$mi" /sys opts)" ro || fail "/sys is not ro"
        assert_eq "$(mnt_field "$mi" /proc fstype)" proc "/proc"
        rt exec "$CID" /init ls /sys/fs/cgroup
        assert_success
        local h
        for h in /sys/fs/cgroup/*/; do
                h=$(basename "$h")
                grep -qx "$h" <<<"$output" || fail "hierarchy $h missing from the container's /sys/fs/cgroup: $output"
        done
        rt exec "$CID" /init mkdir /sys/fs/cgroup/pids/x
        assert_failure "the cgroup mounts are read-only"
        assert_output_contains "Read-only file system"
        rt delete --force "$CID"
}

run_test "root.readonly: / is read-only, a tmpfs below is writable; readonly false is writable" t_readonly_root
run_test "pivot_root: the host's mounts are gone" t_pivot_root
run_test "--no-pivot works for run and create" t_no_pivot
run_test "bind mount ro and rw" t_bind_ro
run_test "bind mount of a file; a missing bind source fails" t_bind_file
run_test "tmpfs with size=, mode=, nosuid, nodev, noexec" t_tmpfs_options
run_test "bind vs rbind, and rro on an rbind" t_rbind_rro
run_test "rootfsPropagation shared, private, rslave; a bad one is refused" t_propagation
run_test "mount options shared and rshared make the mount shared" t_mount_propagation_options
run_test "the container's mounts do not show on the host" t_container_mounts_stay_inside
run_test "a relative bind source is relative to the bundle" t_relative_bind_source
run_test "idmapped bind mount (mounts[].uidMappings with idmap)" t_idmap_mount
run_test "idmapped mount errors" t_idmap_errors
run_test "an idmapped tmpfs is refused as not a bind mount" t_idmap_not_bind
run_test "default devices, /dev symlinks, nothing else in /dev" t_default_devices
run_test "linux.devices adds devices with mode, uid, gid" t_linux_devices
run_test "/dev/pts, /dev/ptmx, /dev/shm, /dev/mqueue" t_pts_ptmx_shm
run_test "masked paths: files are /dev/null, directories are empty" t_masked_paths
run_test "read-only paths: /proc/sys cannot be written" t_readonly_paths
run_test "sysctl inside, not on the host; bad sysctls fail" t_sysctl
run_test "hostname; hostname without a uts namespace is refused" t_hostname
run_test "a missing mount destination is created inside the rootfs" t_mount_dest_created
run_test "/sys read-only, /proc, the cgroup hierarchies read-only" t_sys_and_cgroup_mounts
run_test "tmpcopyup: the image's files copied into the tmpfs, owners, modes and symlinks kept" t_tmpcopyup
finish
