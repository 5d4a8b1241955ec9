#!/bin/bash
# Volumes (docs/ENGINE.md, "Volumes"): named and anonymous volumes of the local driver, docker's
# copy-up, typed volumes, removal rules, events and audit, and hostile images and input.
. "$(dirname "$0")/engine-lib.sh"

VOLS=$STOCKADE_DATA_ROOT/volumes

# mk_image REF CHANGE... : busybox plus what the caller put in $WORK/extra (copied over its root).
mk_image() {
        local ref=$1 dir=$WORK/img-$RANDOM args=()
        shift
        mkdir -p "$dir/root"
        # the VM lane hands over the busybox rootfs tarball (BUSYBOX_TAR); here it is made
        if [ -n "${BUSYBOX_TAR:-}" ]; then
                cp "$BUSYBOX_TAR" "$dir/base.tar"
        else
                bash "$REPO_ROOT/tools/busybox-image.sh" --tar "$dir/base.tar" >"$dir/log" 2>&1 || fail "busybox tar: $(cat "$dir/log")"
        fi
        tar -C "$dir/root" -xf "$dir/base.tar"
        [ -d "$WORK/extra" ] && cp -a "$WORK/extra/." "$dir/root/"
        tar -C "$dir/root" --numeric-owner -cf "$dir/image.tar" .
        for c in "$@"; do args+=(--change "$c"); done
        sk import "${args[@]}" "$dir/image.tar" "$ref"
        expect_status 0
        rm -rf "$dir" "$WORK/extra"
}

volume_names() {
        "$STOCKADE" volume ls -q | tr '\n' ' '
}

t_named_volume() {
        sk volume create data1
        expect_status 0
        [ "$output" = data1 ] || fail "create printed: $output"
        sk volume inspect data1
        expect_status 0
        # dockerd 20.10's form, null for no labels and no options
        jq -e '.[0] | keys_unsorted == ["CreatedAt","Driver","Labels","Mountpoint","Name","Options","Scope"] and
                .Labels == null and .Options == null' <<<"$output" >/dev/null ||
                fail "inspect keys: $output"
        jq -e --arg mp "$VOLS/data1/_data" '.[0] | .Driver == "local" and .Scope == "local" and .Mountpoint == $mp and
                .Name == "data1" and (.CreatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(Z|[+-][0-9:]{5})$"))' \
                <<<"$output" >/dev/null || fail "inspect: $output"
        sk run --rm -v data1:/data busybox sh -c 'echo kept >/data/f'
        expect_status 0
        sk_out run --rm -v data1:/data:ro busybox sh -c 'cat /data/f; echo x >/data/g'
        [ "$output" = kept ] || fail "a second container read: $output"
        [[ $errout == *"Read-only file system"* ]] || fail ":ro was writable: $errout"
        [ "$(cat "$VOLS/data1/_data/f")" = kept ] || fail "not in the volume's directory on the host"
        sk_out create --name c1 -v data1:/data -v data1:/again:ro busybox true
        expect_status 0
        sk inspect --format '{{json .Mounts}}' c1
        jq -e --arg src "$VOLS/data1/_data" 'sort_by(.Destination) == [
                {"Type":"volume","Name":"data1","Source":$src,"Destination":"/again","Driver":"local","Mode":"ro","RW":false,"Propagation":""},
                {"Type":"volume","Name":"data1","Source":$src,"Destination":"/data","Driver":"local","Mode":"z","RW":true,"Propagation":""}]' \
                <<<"$output" >/dev/null || fail "Mounts: $output"
        sk inspect --format '{{json .HostConfig.Binds}}' c1
        [ "$output" = '["data1:/data","data1:/again:ro"]' ] || fail "HostConfig.Binds keeps what was asked: $output"
        sk ps -a --filter volume=data1 --format '{{.Names}} {{.Mounts}}'
        [ "$output" = "c1 data1,data1" ] || fail "ps --filter volume=NAME: $output"
        sk ps -a --filter volume=/again -q
        [ -n "$output" ] || fail "ps --filter volume=/destination found nothing"
        sk ps -a --filter volume=other -q
        [ -z "$output" ] || fail "ps --filter volume=other: $output"
        sk rm c1
        # a generic inspect finds volumes too, as docker's
        sk inspect --format '{{.Name}} {{.Driver}}' data1
        [ "$output" = "data1 local" ] || fail "inspect NAME: $output"
        sk volume ls --format '{{json .}}'
        jq -e --arg mp "$VOLS/data1/_data" '. == {"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"N/A",
                "Mountpoint":$mp,"Name":"data1","Scope":"local","Size":"N/A","Status":"N/A"}' <<<"$output" >/dev/null ||
                fail "ls --format json: $output"
        sk volume ls
        [ "$(head -1 <<<"$output")" = "DRIVER    VOLUME NAME" ] || fail "ls header: $output"
        [[ $output == *"local     data1"* ]] || fail "ls: $output"
        sk volume rm data1
        expect_status 0
        [ ! -e "$VOLS/data1" ] || fail "the directory stayed"
        sk volume inspect data1
        expect_status 1
        expect_output_has "No such volume: data1"
}

t_in_use_and_events() {
        local id since
        since=$(date +%s.%N)
        sk_out run -d -v busy:/data busybox sleep 60
        expect_status 0
        id=$output
        sk volume rm busy
        expect_status 1
        expect_output_has "remove busy: volume is in use - [$id]"
        sk stop -t 0 "$id"
        # a stopped container holds its volumes too
        sk volume rm busy
        expect_status 1
        expect_output_has "volume is in use"
        sk volume prune -f -a
        expect_status 0
        [ -d "$VOLS/busy/_data" ] || fail "prune removed a volume in use"
        sk rm "$id"
        sk volume rm busy
        expect_status 0
        sk events --since "$since" --until "$(date +%s.%N)" --filter type=volume --format '{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}'
        local want
        want="create busy {\"driver\":\"local\"}
mount busy {\"container\":\"$id\",\"destination\":\"/data\",\"driver\":\"local\",\"propagation\":\"\",\"read/write\":\"true\"}
unmount busy {\"container\":\"$id\",\"driver\":\"local\"}
destroy busy {\"driver\":\"local\"}"
        [ "$output" = "$want" ] || fail "volume events: $output"
        # the audit log names each volume command and its outcome
        sk audit --format '{{.action}} {{.actor.type}} {{.actor.id}} {{.outcome}}'
        [[ $output == *"volume rm volume busy remove busy: volume is in use"* ]] || fail "audit of the refused rm: $output"
        [[ $output == *"volume rm volume busy ok"* ]] || fail "audit of the rm: $output"
}

t_copy_up() {
        mkdir -p "$WORK/extra/srv/sub" "$WORK/extra/empty"
        echo content >"$WORK/extra/srv/file"
        echo deeper >"$WORK/extra/srv/sub/inner"
        ln -s file "$WORK/extra/srv/link"
        ln -s /etc/shadow "$WORK/extra/srv/abs-link"
        mkfifo "$WORK/extra/srv/fifo"
        mknod "$WORK/extra/srv/null" c 1 3
        chown -R 1234:2345 "$WORK/extra/srv"
        chmod 0750 "$WORK/extra/srv"
        chmod 4755 "$WORK/extra/srv/file"
        touch -d '2001-02-03 04:05:06' "$WORK/extra/srv/sub/inner"
        mk_image copyimg
        sk run --rm -v cu:/srv copyimg true
        expect_status 0
        local d=$VOLS/cu/_data
        [ "$(cat "$d/file")" = content ] && [ "$(cat "$d/sub/inner")" = deeper ] || fail "files not copied: $(ls -lR "$d")"
        [ "$(stat -c '%u:%g %a' "$d")" = "1234:2345 750" ] || fail "the volume's root: $(stat -c '%u:%g %a' "$d")"
        [ "$(stat -c '%u:%g %a' "$d/file")" = "1234:2345 4755" ] || fail "file owner/mode: $(stat -c '%u:%g %a' "$d/file")"
        [ "$(stat -c %Y "$d/sub/inner")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] || fail "mtime not kept"
        [ "$(readlink "$d/link")" = file ] && [ "$(readlink "$d/abs-link")" = /etc/shadow ] || fail "symlinks: $(ls -l "$d")"
        [ -p "$d/fifo" ] || fail "the fifo was not copied"
        [ ! -e "$d/null" ] || fail "a device node from the image reached the host's disk"
        # only into an empty volume: what is there stays
        echo mine >"$d/file"
        sk run --rm -v cu:/srv copyimg cat /srv/file
        [ "$output" = mine ] || fail "copied over a volume with data: $output"
        # nocopy, and an empty volume mounted where the image has nothing
        sk run --rm -v nc:/srv:nocopy copyimg ls -A /srv
        expect_status 0
        [ -z "$output" ] || fail "nocopy copied: $output"
        sk run --rm --mount type=volume,source=nc2,target=/srv,volume-nocopy copyimg ls -A /srv
        [ -z "$output" ] || fail "volume-nocopy copied: $output"
        sk run --rm -v nothere:/nothing/here copyimg ls -A /nothing/here
        expect_status 0
        [ -z "$output" ] || fail "an empty volume: $output"
        # the copy happens at the first start only (docker copies once, at create)
        sk_out create -v once:/srv copyimg true
        local id=$output
        sk start -a "$id"
        rm -rf "${VOLS:?}/once/_data/"*
        sk start -a "$id"
        [ -z "$(ls -A "$VOLS/once/_data")" ] || fail "copied again at the second start"
        sk rm "$id"
}

t_hostile_image() {
        # /srv is a symlink out of the image: resolved inside the rootfs, never on the host
        mkdir -p "$WORK/extra/inside"
        echo image-file >"$WORK/extra/inside/mark"
        ln -s ../../../../../../inside "$WORK/extra/srv"
        ln -s /etc "$WORK/extra/etclink"
        mk_image evilimg
        sk run --rm -v ev:/srv evilimg true
        expect_status 0
        [ "$(ls -A "$VOLS/ev/_data")" = mark ] || fail "copied from outside the image: $(ls -A "$VOLS/ev/_data")"
        sk run --rm -v ev2:/etclink evilimg true
        expect_status 0
        ! [ -e "$VOLS/ev2/_data/shadow" ] || fail "the host's /etc was copied"
        [ -e "$VOLS/ev2/_data/passwd" ] || fail "the image's /etc was not: $(ls -A "$VOLS/ev2/_data")"
        cmp -s "$VOLS/ev2/_data/passwd" /etc/passwd && fail "the host's passwd was copied"
        # a container that turns its volume's files into symlinks cannot make the next copy or rm escape
        sk run --rm -v trap:/data busybox sh -c 'ln -s / /data/root; ln -s /etc/passwd /data/pw'
        touch "$WORK/canary"
        sk volume rm trap
        expect_status 0
        [ -e "$WORK/canary" ] && [ -e /etc/passwd ] || fail "rm followed a symlink"
}

t_anonymous() {
        local id anon
        sk_out create -v /data busybox true
        id=$output
        anon=$(jq -r '.Mounts[0].Name' "$STOCKADE_DATA_ROOT/containers/$id/container.json")
        [[ $anon =~ ^[0-9a-f]{64}$ ]] || fail "anonymous name: $anon"
        sk volume inspect --format '{{json .Labels}}' "$anon"
        [ "$output" = '{"com.docker.volume.anonymous":""}' ] || fail "anonymous label: $output"
        sk inspect --format '{{json .Mounts}}' "$id"
        jq -e --arg n "$anon" '.[0].Type == "volume" and .[0].Name == $n and .[0].Mode == "" and .[0].RW' <<<"$output" >/dev/null ||
                fail "Mounts: $output"
        sk rm "$id"
        [ -d "$VOLS/$anon" ] || fail "rm without -v removed the anonymous volume"
        sk_out create -v /data -v named:/n busybox true
        id=$output
        local anon2
        anon2=$(jq -r '.Mounts[] | select(.Destination == "/data") | .Name' "$STOCKADE_DATA_ROOT/containers/$id/container.json")
        sk rm -v "$id"
        [ ! -e "$VOLS/$anon2" ] || fail "rm -v kept the anonymous volume"
        [ -d "$VOLS/named" ] || fail "rm -v removed a named volume"
        # run --rm takes its anonymous volumes along
        local before
        before=$(volume_names)
        sk run --rm -v /scratch busybox sh -c 'echo x >/scratch/x'
        expect_status 0
        [ "$(volume_names)" = "$before" ] || fail "run --rm left a volume: $(volume_names)"
        # an image's VOLUME becomes an anonymous volume, unless the user mounts there
        mkdir -p "$WORK/extra/var/lib/app"
        echo seed >"$WORK/extra/var/lib/app/seed"
        mk_image volimg 'VOLUME /var/lib/app'
        sk_out run -d volimg sleep 60
        id=$output
        sk exec "$id" cat /var/lib/app/seed
        [ "$output" = seed ] || fail "the image's volume was not seeded: $output"
        anon=$(jq -r '.Mounts[0].Name' "$STOCKADE_DATA_ROOT/containers/$id/container.json")
        [ -f "$VOLS/$anon/_data/seed" ] || fail "image VOLUME: no anonymous volume"
        sk rm -f -v "$id"
        [ ! -e "$VOLS/$anon" ] || fail "rm -f -v kept it"
        sk run --rm -v mine:/var/lib/app volimg cat /var/lib/app/seed
        [ "$output" = seed ] || fail "the user's volume there: $output"
        sk run --rm --tmpfs /var/lib/app volimg ls -A /var/lib/app
        [ -z "$output" ] || fail "a tmpfs there still got the volume: $output"
        # prune: anonymous unused ones by default, every unused one with -a
        sk volume create keepme
        sk_out create -v /held busybox true
        id=$output
        sk volume prune -f
        expect_status 0
        [ -d "$VOLS/keepme" ] && [ -d "$VOLS/named" ] || fail "prune without -a removed a named volume"
        [ -d "$VOLS/$anon" ] && fail "prune left an unused anonymous volume"
        [ "$(jq -r '.Mounts[0].Name' "$STOCKADE_DATA_ROOT/containers/$id/container.json" | xargs -I{} test -d "$VOLS/{}" && echo y)" = y ] ||
                fail "prune removed a volume in use"
        sk volume create --label keep=yes labelled
        sk volume prune -f -a --filter label!=keep=yes
        [ -d "$VOLS/labelled" ] || fail "label!= filter ignored"
        [ -d "$VOLS/keepme" ] && fail "prune -a left an unused named volume"
        sk rm -v "$id"
        # what a killed create or rm leaves is swept by prune
        mkdir -p "$VOLS/.new-0123456789abcdef/_data" "$VOLS/.rm-0123456789abcdef/_data"
        touch "$VOLS/.rm-0123456789abcdef/_data/x"
        sk volume ls -q
        [[ $output != *0123456789abcdef* ]] || fail "a temporary entry listed: $output"
        sk volume prune -f -a
        [ -z "$(volume_names)" ] || fail "volumes left: $(volume_names)"
        [ -z "$(ls -A "$VOLS" | grep -v '^\.lock$')" ] || fail "prune left: $(ls -A "$VOLS")"
}

t_mount_and_typed() {
        sk run --rm --mount type=volume,source=m1,target=/m,readonly busybox sh -c 'touch /m/x'
        expect_status 1
        expect_output_has "Read-only file system"
        sk volume create --opt type=tmpfs --opt device=tmpfs --opt o=size=1m,mode=0700,noexec tv
        expect_status 0
        sk_out run --rm -v tv:/t busybox sh -c 'grep " /t " /proc/mounts; stat -c %a /t'
        expect_status 0
        [[ $output == "tmpfs /t tmpfs "*noexec*"size=1024k"* ]] || fail "tmpfs volume inside: $output"
        [ "$(tail -1 <<<"$output")" = 700 ] || fail "mode: $output"
        sk run --rm -v tv:/t busybox sh -c 'echo persists >/t/f'
        sk run --rm -v tv:/t busybox cat /t/f
        [ "$output" = persists ] || fail "the tmpfs volume lost its data between containers: $output"
        sk volume rm tv
        expect_status 0
        ! grep -q "$VOLS/tv" /proc/self/mountinfo || fail "the tmpfs stayed mounted"
        # a bind-typed volume: removing it must never delete the host directory's files
        mkdir -p "$WORK/hostdir"
        echo precious >"$WORK/hostdir/keep"
        sk volume create -o type=none -o o=bind -o device="$WORK/hostdir" bv
        sk run --rm -v bv:/b busybox cat /b/keep
        [ "$output" = precious ] || fail "bind volume: $output"
        sk volume rm bv
        expect_status 0
        [ "$(cat "$WORK/hostdir/keep")" = precious ] || fail "volume rm deleted the bound host files"
        ! grep -q "$VOLS/bv" /proc/self/mountinfo || fail "the bind stayed mounted"
        # --mount with volume options creates the volume with them
        sk run --rm --mount type=volume,source=m2,target=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b \
                busybox sh -c 'grep " /m " /proc/mounts'
        [[ $output == "tmpfs /m tmpfs"* ]] || fail "--mount volume-opt: $output"
        sk volume inspect --format '{{json .Labels}} {{json .Options}}' m2
        [ "$output" = '{"a":"b"} {"device":"tmpfs","type":"tmpfs"}' ] || fail "volume-label/volume-opt: $output"
        sk volume rm m1 m2
        expect_status 0
}

t_volumes_from() {
        mkdir -p "$WORK/hostro"
        echo host >"$WORK/hostro/h"
        sk create --name vsrc -v vf:/data -v "$WORK/hostro:/host:ro" busybox true
        expect_status 0
        sk run --rm -v vf:/data busybox sh -c 'echo shared >/data/f'
        sk_out run --rm --volumes-from vsrc busybox sh -c 'cat /data/f /host/h; echo more >>/data/f; touch /host/x'
        [ "$output" = $'shared\nhost' ] || fail "through --volumes-from: $output"
        [[ $errout == *"Read-only file system"* ]] || fail "the source's :ro bind became writable: $errout"
        [ "$(wc -l <"$VOLS/vf/_data/f")" = 2 ] || fail "the volume was not writable"
        sk_out run --rm --volumes-from vsrc:ro busybox sh -c 'echo x >/data/f'
        [[ $errout == *"Read-only file system"* ]] || fail ":ro did not make the volume read-only: $errout"
        # a mount of the container's own at the same destination wins
        sk_out run --rm --volumes-from vsrc -v other:/data busybox ls -A /data
        [ -z "$output" ] || fail "--volumes-from over the container's own -v: $output"
        sk_out create --name vdst --volumes-from vsrc:ro busybox true
        sk inspect --format '{{json .Mounts}}' vdst
        jq -e --arg h "$WORK/hostro" 'sort_by(.Destination) | .[0].Type == "volume" and .[0].Name == "vf" and .[0].RW == false and
                .[0].Mode == "ro" and .[1].Type == "bind" and .[1].Source == $h and .[1].RW == false' <<<"$output" >/dev/null ||
                fail "Mounts: $output"
        sk inspect --format '{{json .HostConfig.VolumesFrom}}' vdst
        [ "$output" = '["vsrc:ro"]' ] || fail "HostConfig.VolumesFrom: $output"
        sk rm vsrc
        sk volume rm vf
        expect_status 1
        expect_output_has "volume is in use - [$(jq -r .Id "$STOCKADE_DATA_ROOT/containers/"*/container.json)]"
        sk rm vdst
        sk volume rm vf other
        expect_status 0
        sk run --rm --volumes-from nosuch busybox true
        expect_status 125
        expect_output_has "No such container: nosuch"
        sk run --rm --volumes-from vsrc:rx busybox true
        expect_status 125
        expect_output_has "invalid mode for volumes-from: rx"
        [ -z "$(all_container_ids)" ] || fail "refused runs left containers"
}

t_bad_input() {
        local before
        before=$(volume_names)
        sk run --rm -v 'a b:/x' busybox true
        expect_status 125
        expect_output_has 'includes invalid characters for a local volume name'
        sk run --rm -v 'x:/y' busybox true
        expect_status 125
        expect_output_has 'create x: volume name is too short, names should be at least two alphanumeric characters'
        sk run --rm -v './rel:/y' busybox true
        expect_status 125
        expect_output_has 'a host path must be absolute'
        sk run --rm -v 'vol:rel' busybox true
        expect_status 125
        expect_output_has 'the container path must be absolute'
        sk run --rm --mount type=volume,source=../up,target=/x busybox true
        expect_status 125
        expect_output_has 'includes invalid characters'
        sk run --rm --mount type=volume,source=v1,target=/x,volume-driver=nfs busybox true
        expect_status 125
        expect_output_has 'volume driver "nfs" is not available'
        sk run --rm --mount type=volume,target=/x,volume-opt=noequals busybox true
        expect_status 125
        expect_output_has 'invalid value for volume-opt: "noequals" (expected volume-opt=KEY=VALUE)'
        sk run --rm -v rootvol:/ busybox true
        expect_status 125
        expect_output_has "destination can't be '/'"
        sk run --rm -v rootvol:/tmp/./.. busybox true
        expect_status 125
        expect_output_has "destination can't be '/'"
        sk run --rm -v d1:/same -v d2:/same busybox true
        expect_status 125
        expect_output_has 'Duplicate mount point: /same'
        sk volume create --opt foo=bar vx
        expect_status 1
        expect_output_has 'invalid option: "foo"'
        sk volume create --opt device=/dev/sda vv
        expect_status 1
        expect_output_has 'missing required option: "type"'
        sk volume create -d nfs vv
        expect_status 1
        expect_output_has 'volume driver "nfs" is not available'
        sk volume create a/b
        expect_status 1
        expect_output_has 'includes invalid characters'
        # a failed create takes back the volumes it made
        sk run --rm -v made1:/a -v /b --name x1 --memory 1 busybox true
        expect_status 125
        sk create --name dup busybox true
        sk create --name dup -v made2:/a -v /b busybox true
        expect_status 125
        expect_output_has 'is already in use'
        sk rm dup
        [ "$(volume_names)" = "$before" ] || fail "refused commands left volumes: $(volume_names)"
        [ -z "$(all_container_ids)" ] || fail "refused commands left containers"
        [ -z "$(ls -A "$VOLS" | grep -v '^\.lock$')" ] || fail "temporary entries left: $(ls -A "$VOLS")"
}

t_concurrent() {
        local i pids=()
        for i in $(seq 1 8); do
                "$STOCKADE" run --rm -v racy:/d busybox sh -c "echo $i >/d/$i" >"$WORK/race.$i" 2>&1 &
                pids+=($!)
        done
        for i in "${!pids[@]}"; do wait "${pids[$i]}" || fail "run $((i + 1)): $(cat "$WORK/race.$((i + 1))")"; done
        [ "$(ls "$VOLS/racy/_data" | wc -l)" = 8 ] || fail "one volume for all: $(ls "$VOLS/racy/_data")"
        [ "$(volume_names)" = "racy " ] || fail "volumes: $(volume_names)"
        # rm racing creates that use the volume: either rm wins (and the run makes it again) or the
        # run does (and rm is refused); never a container whose volume is gone
        for i in $(seq 1 6); do
                "$STOCKADE" create -v racy:/d busybox true >"$WORK/cr.$i" 2>&1 &
                "$STOCKADE" volume rm racy >/dev/null 2>&1 &
        done
        wait
        local id
        for id in $(all_container_ids); do
                jq -r '.Mounts[0].Name' "$STOCKADE_DATA_ROOT/containers/$id/container.json" | grep -qx racy || fail "mount"
                [ -f "$VOLS/racy/volume.json" ] || fail "container $id refers to a removed volume"
                "$STOCKADE" rm "$id" >/dev/null
        done
        sk volume rm -f racy
        expect_status 0
}

run_test "a named volume: create, write, read, :ro, inspect and ls forms, rm" t_named_volume
run_test "a volume in use is never removed; create/mount/unmount/destroy events; audit" t_in_use_and_events
run_test "copy-up: the image's files, owners, modes, times, links and fifos, no device nodes; once; nocopy" t_copy_up
run_test "a hostile image or container: symlinks never lead the copy or rm out" t_hostile_image
run_test "anonymous volumes: -v /dst, an image's VOLUME, rm -v, run --rm, prune" t_anonymous
run_test "--mount type=volume, tmpfs and bind volumes (rm never deletes through a bind)" t_mount_and_typed
run_test "--volumes-from: volumes and binds of another container, :ro, the container's own mounts first" t_volumes_from
run_test "bad names, paths, options and drivers: clear errors, nothing left" t_bad_input
run_test "concurrent runs share one volume; rm racing creates never orphans a container" t_concurrent
finish
