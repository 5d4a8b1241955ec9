#!/bin/bash
# User-namespace remapping end to end (docs/USERNS.md): daemon.json "userns-remap": "default" creates
# dockremap and its range, container root is host uid 100000, the image's layers are idmapped (one
# store for every mapping), bind volumes as docker (files land as 100000) or idmapped with :idmap,
# port 80 inside, dockerd's refusals, --userns=host, and concurrent first runs against existing
# /etc/subuid lines.
#
# The file runs in a private mount namespace over a copy of /etc, so that useradd and the edits of
# /etc/subuid and /etc/subgid never reach the machine's own files.
if [ -z "${STOCKADE_USERNS_PRIVATE_ETC:-}" ]; then
        export STOCKADE_USERNS_PRIVATE_ETC=1
        exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/engine-lib.sh"

# (beside $WORK, whose mounts count as left behind)
ETC_COPY=$(mktemp -d /tmp/stockade-etc.XXXXXX)
cp -a /etc/. "$ETC_COPY"
mount --bind "$ETC_COPY" /etc
trap 'lib_exit; rm -rf "$ETC_COPY"' EXIT
# What an admin's files might hold already: another user's range above 100000, a comment, a
# malformed line for someone else; dockremap's range must go to the first free one, 100000.
SUBUID_BEFORE=$'# ranges\nalice:165536:65536\nbob:x:1\n'
reset_subids() {
        userdel dockremap >/dev/null 2>&1 || true
        groupdel dockremap >/dev/null 2>&1 || true
        printf '%s' "$SUBUID_BEFORE" >/etc/subuid
        printf '%s' "$SUBUID_BEFORE" >/etc/subgid
}
reset_subids
echo '{"userns-remap": "default"}' >"$STOCKADE_CONFIG"

t_remap_default() {
        sk_out run --rm busybox sh -c 'id -u; id -g; cat /proc/self/uid_map; ls -ln /bin/busybox'
        expect_status 0
        [ "$(echo "$output" | sed -n 1,2p | tr '\n' ' ')" = "0 0 " ] || fail "id inside: $output"
        echo "$output" | sed -n 3p | grep -Eq '^ +0 +100000 +65536$' || fail "uid_map: $output"
        # the image's files are root's inside (idmapped layers), not nobody's
        echo "$output" | sed -n 4p | grep -Eq '^-rwxr-xr-x +1 0 +0 ' || fail "the image's owner inside: $output"
        [ "$(cat /etc/subuid)" = "$(printf '%sdockremap:100000:65536' "$SUBUID_BEFORE")" ] || fail "/etc/subuid: $(cat /etc/subuid)"
        [ "$(cat /etc/subgid)" = "$(printf '%sdockremap:100000:65536' "$SUBUID_BEFORE")" ] || fail "/etc/subgid: $(cat /etc/subgid)"
        id dockremap >/dev/null || fail "no user dockremap"
        echo "$errout" | grep -q '/etc/subuid:3' || fail "the malformed line was not reported: $errout"
}

t_host_ids() {
        local id pid uid gid
        id=$("$STOCKADE" run -d busybox sleep 100)
        pid=$("$STOCKADE" inspect -f '{{.State.Pid}}' "$id")
        read -r uid gid < <(ps -o uid=,gid= -p "$pid")
        [ "$uid:$gid" = "100000:100000" ] || fail "host ids: $uid:$gid"
        # a new file of the container's root lands in its upper dir as 100000; the image's stay root's
        sk exec "$id" touch /made-inside
        [ "$(stat -c %u "$STOCKADE_DATA_ROOT/containers/$id/upper/made-inside")" = 100000 ] || fail "upper file owner"
        [ -z "$(find "$STOCKADE_DATA_ROOT/image" -uid 100000 | head -1)" ] || fail "the image store was chowned"
        sk rm -f "$id"
        expect_status 0
}

t_bind_volumes() {
        mkdir -p "$WORK/vol"
        chmod 0777 "$WORK/vol"
        echo hi >"$WORK/vol/hostfile"
        chown 1000:1000 "$WORK/vol/hostfile"
        # docker's way: the container's root is 100000 on the host, a host file of 1000 is nobody's inside
        sk_out run --rm -v "$WORK/vol:/vol" busybox sh -c 'touch /vol/plain; stat -c %u /vol/hostfile'
        expect_status 0
        [ "$output" = 65534 ] || fail "a host file inside: $output"
        [ "$(stat -c %u:%g "$WORK/vol/plain")" = "100000:100000" ] || fail "plain volume: $(stat -c %u:%g "$WORK/vol/plain")"
        # :idmap: the host's owners as seen inside
        sk_out run --rm -v "$WORK/vol:/vol:idmap" busybox stat -c %u /vol/hostfile
        expect_status 0
        [ "$output" = 1000 ] || fail "idmapped volume: $output"
        # :idmap without remapping is refused
        sk run --rm --userns=host -v "$WORK/vol:/vol:idmap" busybox true
        expect_status 125
        expect_output_has "idmap needs a remapped container"
}

t_named_volumes() {
        # a new volume belongs to the container's root (100000 on the host), as under docker's remapped root
        sk_out run --rm -v rv:/data busybox sh -c 'touch /data/f; stat -c %u:%g /data /data/f'
        [ "$status" = 0 ] || fail "run: $errout"
        [ "$output" = $'0:0\n0:0' ] || fail "inside: $output"
        local d=$STOCKADE_DATA_ROOT/volumes/rv/_data
        [ "$(stat -c %u:%g "$d" "$d/f" | tr '\n' ' ')" = "100000:100000 100000:100000 " ] ||
                fail "on the host: $(stat -c %u:%g "$d" "$d/f")"
        # copy-up of the image's files: root's inside, 100000's on the host
        sk_out run --rm -v rv2:/etc busybox stat -c %u /etc/passwd
        expect_status 0
        [ "$output" = 0 ] || fail "a copied file inside: $output"
        [ "$(stat -c %u "$STOCKADE_DATA_ROOT/volumes/rv2/_data/passwd")" = 100000 ] || fail "a copied file on the host"
        # :idmap on a volume: the volume's host owners as seen inside
        sk_out run --rm --userns=host -v idv:/data busybox sh -c 'touch /data/hostroot'
        sk_out run --rm -v idv:/data:idmap busybox stat -c %u /data/hostroot
        expect_status 0
        [ "$output" = 0 ] || fail "idmapped volume: $output"
        sk volume rm rv rv2 idv
        expect_status 0
}

t_refusals_and_host() {
        sk run --rm --privileged busybox true
        expect_status 125
        expect_output_has "privileged mode is incompatible with user namespaces"
        sk run --rm --network host busybox true
        expect_status 125
        expect_output_has "cannot share the host's network namespace when user namespaces are enabled"
        sk run --rm --pid host busybox true
        expect_status 125
        expect_output_has "cannot share the host PID namespace"
        # --userns=host opts out: no mapping, and --privileged is allowed again
        sk_out run --rm --userns=host --privileged busybox cat /proc/self/uid_map
        expect_status 0
        echo "$output" | grep -Eq '^ +0 +0 +4294967295$' || fail "--userns=host: $output"
}

t_flag() {
        # the --userns-remap flag over daemon.json: "" turns it off, a value turns it on
        sk_out --userns-remap "" run --rm busybox cat /proc/self/uid_map
        expect_status 0
        echo "$output" | grep -Eq '^ +0 +0 +4294967295$' || fail "--userns-remap '': $output"
        echo '{}' >"$STOCKADE_CONFIG"
        sk_out --userns-remap default run --rm busybox cat /proc/self/uid_map
        echo '{"userns-remap": "default"}' >"$STOCKADE_CONFIG"
        expect_status 0
        echo "$output" | grep -Eq '^ +0 +100000 +65536$' || fail "--userns-remap default: $output"
}

t_port_80() {
        sk_out run --rm busybox sh -c 'nc -l -p 80 & sleep 0.3; netstat -ltn | grep -c ":80 "; kill %1'
        expect_status 0
        [ "$output" = 1 ] || fail "port 80 inside a remapped container: $output"
}

t_concurrent_first_runs() {
        local pids=() i
        reset_subids
        for i in 1 2 3 4 5; do
                "$STOCKADE" run --rm busybox true >"$WORK/first.$i" 2>&1 &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || fail "a first run failed: $(cat "$WORK"/first.*)"; done
        [ "$(cat /etc/subuid)" = "$(printf '%sdockremap:100000:65536' "$SUBUID_BEFORE")" ] || fail "/etc/subuid: $(cat /etc/subuid)"
        [ "$(cat /etc/subgid)" = "$(printf '%sdockremap:100000:65536' "$SUBUID_BEFORE")" ] || fail "/etc/subgid: $(cat /etc/subgid)"
        [ "$(grep -c '^dockremap:' /etc/passwd)" -eq 1 ] || fail "dockremap in /etc/passwd $(grep -c '^dockremap:' /etc/passwd) times"
}

# host uid of container root in a container's uid_map ("0 START SIZE")
map_of() {
        local pid
        pid=$("$STOCKADE" inspect -f '{{.State.Pid}}' "$1")
        awk '{ print $2, $3 }' "/proc/$pid/uid_map"
}

t_userns_auto() {
        local m1 m2 m3 s1 z1 s2 z2
        printf '%scontainers:200000:1000000\n' "$SUBUID_BEFORE" >/etc/subuid
        printf '%scontainers:200000:1000000\n' "$SUBUID_BEFORE" >/etc/subgid
        mkdir -p "$WORK/shared"
        chmod 0777 "$WORK/shared"
        sk run -d --userns=auto --name a1 -v "$WORK/shared:/s" busybox sh -c 'echo secret >/s/a1file; chmod 600 /s/a1file; sleep 100'
        expect_status 0
        sk run -d --userns=auto --name a2 -v "$WORK/shared:/s" busybox sleep 100
        expect_status 0
        m1=$(map_of a1)
        m2=$(map_of a2)
        read -r s1 z1 <<<"$m1"
        read -r s2 z2 <<<"$m2"
        [ "$z1" = 65536 ] && [ "$z2" = 65536 ] || fail "sizes: $m1 / $m2"
        [ $((s1 + z1)) -le "$s2" ] || [ $((s2 + z2)) -le "$s1" ] || fail "ranges overlap: $m1 / $m2"
        [ "$s1" -ge 200000 ] && [ "$s2" -ge 200000 ] || fail "ranges outside the pool: $m1 / $m2"
        for _ in $(seq 1 50); do [ -f "$WORK/shared/a1file" ] && break; sleep 0.1; done
        # a2's root is not a1's: a1's file is nobody's to it, and closed
        sk exec a2 cat /s/a1file
        [ "$status" -ne 0 ] || fail "a2 read a1's file: $output"
        expect_output_has "Permission denied"
        sk exec a1 cat /s/a1file
        expect_status 0
        [ "$output" = secret ] || fail "a1's own file: $output"
        # a removed container's range goes back to the pool
        sk rm -f a1
        sk run -d --userns=auto --name a3 busybox sleep 100
        m3=$(map_of a3)
        [ "$m3" = "$m1" ] || fail "a1's range not reused: $m1 then $m3"
        sk run --rm --userns=auto:size=1000 busybox cat /proc/self/uid_map
        expect_status 0
        echo "$output" | grep -Eq '^ +0 +[0-9]+ +1000$' || fail "auto:size=1000: $output"
        sk rm -f a2 a3
        # no pool: a clear error
        echo '{"userns-remap": "default", "userns-auto-user": "nosuchpool"}' >"$STOCKADE_CONFIG"
        sk run --rm --userns=auto busybox true
        expect_status 125
        expect_output_has "--userns=auto takes its ranges from user nosuchpool"
        echo '{"userns-remap": "default"}' >"$STOCKADE_CONFIG"
        sk run --rm --userns=auto:size=x busybox true
        expect_status 125
        expect_output_has "expected auto or auto:size=N"
}

# The runtime not as root (as podman runs it rootless): uidMappings through newuidmap/newgidmap,
# which check /etc/subuid; the cgroup is skipped when none can be made and no limit is asked.
t_runtime_rootless() {
        local b=$WORK/rl runtime=${STOCKADE_RUNTIME:-$REPO_ROOT/build/stockade-runtime}
        command -v newuidmap >/dev/null || skip "newuidmap is not installed (the uidmap package)"
        mkdir -p "$b/rootfs" "$WORK/rlstate"
        bash "$REPO_ROOT/tools/busybox-image.sh" --tar "$WORK/rl.tar" >/dev/null
        tar -C "$b/rootfs" -xf "$WORK/rl.tar"
        (cd "$b" && "$runtime" spec --rootless)
        python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map"]
s["process"]["terminal"] = False
s["mounts"] = [m for m in s["mounts"] if m["destination"] != "/sys/fs/cgroup"]
for k in ("uidMappings", "gidMappings"):
    s["linux"][k] = [{"containerID": 0, "hostID": 65534, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]
json.dump(s, open(p, "w"))
PY
        chmod -R a+rX "$b"
        chown -R 65534:65534 "$b/rootfs" "$WORK/rlstate"
        printf '%snobody:300000:65536\n' "$SUBUID_BEFORE" >/etc/subuid
        printf '%snobody:300000:65536\n' "$SUBUID_BEFORE" >/etc/subgid
        output=$(cd "$b" && setpriv --reuid 65534 --regid 65534 --clear-groups "$runtime" --root "$WORK/rlstate" run rl1 2>&1) ||
                fail "rootless run: $output"
        [ "$(echo "$output" | head -1)" = 0 ] || fail "id inside: $output"
        echo "$output" | grep -Eq '^ +1 +300000 +65536$' || fail "uid_map: $output"
        # a range /etc/subuid does not give nobody: newuidmap's refusal, passed on
        printf '%s' "$SUBUID_BEFORE" >/etc/subuid
        output=$(cd "$b" && setpriv --reuid 65534 --regid 65534 --clear-groups "$runtime" --root "$WORK/rlstate" run rl2 2>&1) &&
                fail "ran with a range nobody does not have: $output"
        case "$output" in *"linux.uidMappings: newuidmap refused the mapping"*) ;; *) fail "refusal: $output" ;; esac
        printf '%s' "$SUBUID_BEFORE" >/etc/subgid
}

# Where the layers' filesystem cannot be idmapped (here an overlayfs under the image store), the
# container gets a copy of the layers owned by its root, made once per mapping, with a warning.
t_no_idmap_fallback() {
        local d=$WORK/ovdata rc=0
        mkdir -p "$d/image" "$WORK/ov-low" "$WORK/ov-up" "$WORK/ov-work"
        mount -t overlay overlay -o "lowerdir=$WORK/ov-low,upperdir=$WORK/ov-up,workdir=$WORK/ov-work" "$d/image"
        (
                set -e
                STOCKADE_DATA_ROOT=$d bash "$REPO_ROOT/tools/busybox-image.sh" "$STOCKADE" >/dev/null
                out=$(STOCKADE_DATA_ROOT=$d "$STOCKADE" run --rm busybox sh -c 'id -u; stat -c %u /bin/busybox' 2>"$WORK/fb.err")
                [ "$out" = "0
0" ] || { echo "FAIL: inside: $out $(cat "$WORK/fb.err")"; exit 1; }
                grep -q "cannot be idmapped" "$WORK/fb.err" || { echo "FAIL: no warning: $(cat "$WORK/fb.err")"; exit 1; }
                [ "$(stat -c %u "$d"/userns/copies/100000.100000-*/sha256/*/diff/bin/busybox)" = 100000 ] ||
                        { echo "FAIL: the copy's owner"; exit 1; }
                [ "$(stat -c %u "$d"/image/layers/sha256/*/diff/bin/busybox)" = 0 ] || { echo "FAIL: the store was chowned"; exit 1; }
                # the copy serves the next container of the same mapping
                before=$(find "$d/userns/copies" -maxdepth 1 | wc -l)
                STOCKADE_DATA_ROOT=$d "$STOCKADE" run --rm busybox true 2>/dev/null
                [ "$(find "$d/userns/copies" -maxdepth 1 | wc -l)" = "$before" ] || { echo "FAIL: a second copy"; exit 1; }
        ) || rc=$?
        umount -l "$d/image"
        [ "$rc" -eq 0 ] || fail "the chowned-copy fallback (above)"
}

run_test "userns-remap default: dockremap and 100000 made, root inside, the image root's through idmapped layers" t_remap_default
run_test "host side: the container's processes run as 100000, the image store is not chowned" t_host_ids
run_test "bind volumes: files as 100000 (docker's way), or the host's owners with :idmap" t_bind_volumes
run_test "named volumes: owned by the remapped root, copy-up shifted, :idmap" t_named_volumes
run_test "--privileged, --network host, --pid host refused; --userns=host opts out" t_refusals_and_host
run_test "the --userns-remap flag over daemon.json" t_flag
run_test "a remapped container binds port 80" t_port_80
run_test "--userns=auto: disjoint ranges that cannot read each other's files, reused after rm, size=N" t_userns_auto
run_test "layers on a filesystem without idmapped mounts: a chowned copy per mapping, with a warning" t_no_idmap_fallback
run_test "the runtime as nobody: mappings through newuidmap/newgidmap, their refusal passed on" t_runtime_rootless
run_test "five first runs at once: one dockremap, other lines of /etc/subuid kept" t_concurrent_first_runs
finish
