#!/bin/bash
# `stockade serve` (docs/API.md) driven by the real docker CLI 28 (/usr/local/bin/docker) and Debian's
# docker.io 20.10 client (/usr/bin/docker, its daemon never started) through a socket in this file's
# private directory: version negotiation and dockerd's bytes for _ping, 404 and the too-new version;
# run --rm / -d / logs / stop / rm / ps / inspect; the reference's hardening flags checked inside
# the container and in its cgroups; a seccomp profile the CLI inlines; run -it under a pty; exec;
# events with filters; import, load, save, rmi; volumes (create, ls, inspect, rm, prune, rm -v,
# run -v NAME:/dst); hostile requests (malformed, oversized, slow, chunked, bad JSON); the connection
# cap; the audit record of each request with the peer's uid; TCP with TLS client certificates
# (--tlsverify).
. "$(dirname "$0")/engine-lib.sh"

DOCKER=/usr/local/bin/docker
DOCKER20=/usr/bin/docker
SOCK=$WORK/api.sock
[ -x "$DOCKER" ] || { echo "Bail out! $DOCKER (docker CLI 28) is missing"; exit 1; }
command -v curl >/dev/null || { echo "Bail out! curl is missing: run tools/setup.sh"; exit 1; }
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$WORK/docker-config
mkdir -p "$DOCKER_CONFIG"

SERVE_PID=
start_server() {
        "$STOCKADE" serve -H "unix://$SOCK" --request-timeout 2 "$@" >>"$WORK/serve.log" 2>&1 &
        SERVE_PID=$!
        echo "$SERVE_PID" >"$WORK/serve.pid" # a test restarts it in run_test's subshell: the EXIT trap reads this
        for _ in $(seq 1 100); do
                [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null && return 0
                sleep 0.05
        done
        echo "Bail out! stockade serve did not come up: $(cat "$WORK/serve.log")"
        exit 1
}
stop_server() {
        if [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; then
                for _ in $(seq 1 100); do
                        kill -0 "$SERVE_PID" 2>/dev/null || break
                        sleep 0.05
                done
        fi
        SERVE_PID=
}
trap 'SERVE_PID=$(cat "$WORK/serve.pid"); stop_server; lib_exit' EXIT
start_server

# raw TEXT: sends TEXT (with \r, \n escapes) on one connection, prints what comes back (5 s at most).
raw() {
        python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].replace("\\r", "\r").replace("\\n", "\n").encode("latin-1"))
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}

t_ping_version() {
        local h
        h=$(curl -sI --unix-socket "$SOCK" http://x/_ping | tr -d '\r')
        grep -qx 'HTTP/1.1 200 OK' <<<"$h" || fail "HEAD /_ping: $h"
        for k in 'Api-Version: 1.41' 'Ostype: linux' 'Docker-Experimental: false' 'Content-Length: 0' \
                'Cache-Control: no-cache, no-store, must-revalidate' 'Pragma: no-cache'; do
                grep -qx "$k" <<<"$h" || fail "HEAD /_ping lacks $k: $h"
        done
        [ "$(curl -s --unix-socket "$SOCK" http://x/_ping)" = OK ] || fail "GET /_ping body"
        # dockerd's answer to a client newer than 1.41, and to an unknown path
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://x/v1.50/version)
        [ "$output" = '{"message":"client version 1.50 is too new. Maximum supported API version is 1.41"}
 400' ] || fail "too new: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://x/v1.41/nothing/here)
        [ "$output" = '{"message":"page not found"}
 404' ] || fail "unknown path: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://x/v1.41/containers/nonexistent/json)
        [ "$output" = '{"message":"No such container: nonexistent"}
 404' ] || fail "no such container: $output"
        # the CLI negotiates down to 1.41; a pinned older version is served too
        output=$("$DOCKER" version --format '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.Os}}' 2>&1)
        [ "$output" = "1.41 1.41 linux" ] || fail "docker version: $output"
        output=$(DOCKER_API_VERSION=1.40 "$DOCKER" version --format '{{.Client.APIVersion}}' 2>&1)
        [ "$output" = "1.40" ] || fail "pinned 1.40: $output"
        output=$("$DOCKER" info --format '{{.OSType}} {{.Driver}}' 2>&1)
        [ "$output" = "linux overlay2" ] || fail "docker info: $output"
        # the socket: 0600 root without a stockade group, 0660 with it (never world-accessible)
        local mode
        mode=$(stat -c %a "$SOCK")
        if getent group stockade >/dev/null; then [ "$mode" = 660 ]; else [ "$mode" = 600 ]; fi || fail "socket mode $mode"
}

t_run_rm() {
        output=$("$DOCKER" run --rm busybox echo hi 2>&1)
        [ "$output" = hi ] || fail "run --rm echo hi: $output"
        status=0
        output=$("$DOCKER" run --rm busybox sh -c 'echo out; echo err >&2; exit 3' 2>"$WORK/err") || status=$?
        expect_status 3
        [ "$output" = out ] && [ "$(cat "$WORK/err")" = err ] || fail "stdout/stderr apart: $output / $(cat "$WORK/err")"
        # --rm: nothing left behind
        [ -z "$(all_container_ids)" ] || fail "run --rm left $(all_container_ids)"
        # stdin through the hijacked connection
        output=$(echo piped | "$DOCKER" run --rm -i busybox cat 2>&1)
        [ "$output" = piped ] || fail "run -i: $output"
        # a missing command: docker's 127, the message from the start
        status=0
        output=$("$DOCKER" run --rm busybox /nonexistent 2>&1) || status=$?
        expect_status 127
}

t_detached_lifecycle() {
        local id
        id=$("$DOCKER" run -d --name web11 busybox sh -c 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done')
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "run -d: $id"
        for _ in $(seq 1 50); do
                [ "$("$DOCKER" logs web11 2>&1)" = started ] && break
                sleep 0.1
        done
        [ "$("$DOCKER" logs web11 2>&1)" = started ] || fail "logs: $("$DOCKER" logs web11 2>&1)"
        output=$("$DOCKER" ps --format '{{.Names}} {{.State}} {{.Command}}')
        [ "$output" = 'web11 running "sh -c '"'"'echo started; trap…"' ] || [ "$output" = "web11 running \"sh -c 'echo started; trap…\"" ] ||
                grep -q '^web11 running' <<<"$output" || fail "ps: $output"
        [ "$("$DOCKER" inspect --format '{{.State.Running}} {{.Id}}' web11)" = "true $id" ] || fail "inspect"
        # logs -f ends when the container stops
        "$DOCKER" logs -f web11 >"$WORK/follow" 2>&1 &
        local lp=$!
        output=$("$DOCKER" stop -t 5 web11 2>&1)
        [ "$output" = web11 ] || fail "stop: $output"
        wait "$lp" || fail "logs -f failed: $(cat "$WORK/follow")"
        [ "$(cat "$WORK/follow")" = "started
bye" ] || fail "logs -f: $(cat "$WORK/follow")"
        [ "$("$DOCKER" inspect --format '{{.State.Status}} {{.State.ExitCode}}' web11)" = "exited 0" ] || fail "after stop"
        output=$("$DOCKER" ps -a --filter name=web11 --format '{{.Names}}')
        [ "$output" = web11 ] || fail "ps -a --filter: $output"
        "$DOCKER" start web11 >/dev/null
        # prune (web11 runs again): stopped containers only, label filters honoured
        "$DOCKER" create --name keep11 --label keep=1 busybox true >/dev/null
        "$DOCKER" create --name drop11 busybox true >/dev/null
        "$DOCKER" container prune -f --filter label!=keep >/dev/null
        output=$("$DOCKER" ps -a --format '{{.Names}}' | sort | tr '\n' ' ')
        [ "$output" = "keep11 web11 " ] || fail "prune --filter label!=keep: $output"
        "$DOCKER" rm keep11 >/dev/null
        "$DOCKER" restart -t 1 web11 >/dev/null
        "$DOCKER" rename web11 web11b
        status=0
        output=$("$DOCKER" rm web11b 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has "running" || fail "rm of a running container: $output"
        output=$("$DOCKER" rm -f web11b 2>&1)
        [ "$output" = web11b ] || fail "rm -f: $output"
        [ -z "$(all_container_ids)" ] || fail "rm -f left a record"
}

t_hardening() {
        local prof=$WORK/no-mkdir.json
        cat >"$prof" <<'EOF'
{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}
EOF
        output=$("$DOCKER" run --rm --read-only --cap-drop ALL --security-opt no-new-privileges:true --memory 64m \
                --pids-limit 20 --user 1000:1000 --tmpfs /tmp:size=1m busybox sh -c '
                grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
                id -u; touch /x 2>&1; touch /tmp/ok && echo tmp-writable' 2>&1)
        expect_output_has "CapEff:	0000000000000000"
        expect_output_has "CapBnd:	0000000000000000"
        expect_output_has "NoNewPrivs:	1"
        expect_output_has "Seccomp:	2"
        expect_output_has "1000"
        expect_output_has "Read-only file system"
        expect_output_has "tmp-writable"
        # memory and pids in the container's cgroups, while it runs
        local id
        id=$("$DOCKER" run -d --memory 64m --pids-limit 20 busybox sleep 30)
        [ "$(mem_limit "$id")" = 67108864 ] || fail "memory limit $(mem_limit "$id")"
        [ "$(cat "$(cg_file "$id" pids pids.max)")" = 20 ] || fail "pids.max"
        "$DOCKER" rm -f "$id" >/dev/null
        # the seccomp profile the CLI reads and inlines: in force, and in inspect as dockerd shows it
        status=0
        output=$("$DOCKER" run --rm --security-opt "seccomp=$prof" busybox mkdir /tmp/d 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has "Operation not permitted" || fail "seccomp profile not applied: $output"
        "$DOCKER" create --name sec11 --security-opt "seccomp=$prof" --security-opt no-new-privileges busybox true >/dev/null
        output=$("$DOCKER" inspect --format '{{.HostConfig.SecurityOpt}}' sec11)
        [ "$output" = '[seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]} no-new-privileges]' ] ||
                fail "SecurityOpt: $output"
        "$DOCKER" rm sec11 >/dev/null
        # dockerd's refusal of an unknown option reaches the CLI
        status=0
        output=$("$DOCKER" run --rm --security-opt foo=bar busybox true 2>&1) || status=$?
        [ "$status" -eq 125 ] && expect_output_has 'invalid --security-opt' || fail "bad security-opt: $output"
}

t_tty_exec() {
        # run -it under a pty: the container sees a terminal, its output comes back raw
        output=$(script -qec "$DOCKER run -it --rm busybox sh -c 'tty; echo done'" /dev/null </dev/null | tr -d '\r')
        grep -q '/dev/pts/[0-9]' <<<"$output" || fail "run -it: no tty: $output"
        expect_output_has done
        "$DOCKER" run -d --name ex11 busybox sleep 60 >/dev/null
        status=0
        output=$("$DOCKER" exec ex11 sh -c 'echo exec-out; echo exec-err >&2; exit 7' 2>"$WORK/err") || status=$?
        expect_status 7
        [ "$output" = exec-out ] && [ "$(cat "$WORK/err")" = exec-err ] || fail "exec streams: $output / $(cat "$WORK/err")"
        output=$(echo from-stdin | "$DOCKER" exec -i ex11 cat)
        [ "$output" = from-stdin ] || fail "exec -i: $output"
        output=$(script -qec "$DOCKER exec -it ex11 tty" /dev/null </dev/null | tr -d '\r')
        grep -q '/dev/pts/[0-9]' <<<"$output" || fail "exec -it: $output"
        # the terminal's size: at create for run -it (ConsoleSize), by exec resize for exec -it
        output=$(script -qec "stty rows 30 cols 100; $DOCKER run -it --rm busybox stty size" /dev/null </dev/null | tr -d '\r')
        grep -q '30 100' <<<"$output" || fail "run -it size: $output"
        output=$(script -qec "stty rows 20 cols 90; $DOCKER exec -it ex11 sh -c 'sleep 1; stty size'" /dev/null </dev/null | tr -d '\r')
        grep -q '20 90' <<<"$output" || fail "exec -it resize: $output"
        output=$("$DOCKER" exec -e FOO=bar -w /tmp -u 1000 ex11 sh -c 'echo $FOO $(pwd) $(id -u)')
        [ "$output" = "bar /tmp 1000" ] || fail "exec -e -w -u: $output"
        output=$("$DOCKER" top ex11)
        [[ "$output" == UID*PID*CMD* ]] && expect_output_has "sleep 60" || fail "top: $output"
        output=$("$DOCKER" stats --no-stream --format '{{.Name}} {{.PIDs}} {{.MemUsage}}' ex11)
        [[ "$output" == "ex11 1 "*" / "* ]] || fail "stats: $output"
        "$DOCKER" pause ex11 >/dev/null
        [ "$("$DOCKER" inspect --format '{{.State.Paused}}' ex11)" = true ] || fail "pause"
        "$DOCKER" unpause ex11 >/dev/null
        "$DOCKER" update --memory 128m --memory-swap 256m ex11 >/dev/null
        [ "$(mem_limit "$(docker_id ex11)")" = 134217728 ] || fail "update: $(mem_limit "$(docker_id ex11)")"
        "$DOCKER" rm -f ex11 >/dev/null
}

docker_id() { "$DOCKER" inspect --format '{{.Id}}' "$1"; }

t_events() {
        local since
        since=$(date +%s)
        "$DOCKER" events --filter type=container --filter event=start --format '{{json .}}' >"$WORK/ev" 2>&1 &
        local ep=$!
        sleep 0.5
        "$DOCKER" run --rm --name evt11 busybox true
        for _ in $(seq 1 50); do
                grep -q '"Action":"start"' "$WORK/ev" && break
                sleep 0.1
        done
        kill "$ep"
        wait "$ep" 2>/dev/null || true
        [ "$(wc -l <"$WORK/ev")" = 1 ] && grep -q '"name":"evt11"' "$WORK/ev" || fail "followed events: $(cat "$WORK/ev")"
        # past events, with until: the whole run of evt11
        output=$("$DOCKER" events --since "$since" --until "$(($(date +%s) + 1))" --filter container=evt11 --format '{{.Action}}' | tr '\n' ' ')
        [ "$output" = "create attach start die destroy " ] || fail "past events: $output"
}

t_images() {
        "$DOCKER" save busybox -o "$WORK/bb.tar"
        tar -tf "$WORK/bb.tar" >"$WORK/bb.list"
        grep -qx manifest.json "$WORK/bb.list" || fail "save: no manifest.json: $(cat "$WORK/bb.list")"
        "$DOCKER" rmi busybox >/dev/null
        output=$("$DOCKER" images -q)
        [ -z "$output" ] || fail "rmi left $output"
        output=$("$DOCKER" load -i "$WORK/bb.tar")
        expect_output_has "Loaded image: busybox:latest"
        tar -C "$WORK" -cf "$WORK/rootfs.tar" -C / bin/busybox
        output=$(cat "$WORK/rootfs.tar" | "$DOCKER" import -c 'CMD ["/bin/busybox","echo","imported"]' - tiny11:v1)
        [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import: $output"
        output=$("$DOCKER" run --rm tiny11:v1)
        [ "$output" = imported ] || fail "imported image's CMD: $output"
        output=$("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')
        [ "$output" = "busybox:latest tiny11:v1 " ] || fail "images: $output"
        "$DOCKER" rmi tiny11:v1 >/dev/null
        status=0
        output=$("$DOCKER" rmi nosuch11 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has "No such image" || fail "rmi nosuch: $output"
        output=$("$DOCKER" system df --format '{{.Type}} {{.TotalCount}}' | head -1)
        [ "$output" = "Images 1" ] || fail "system df: $output"
}

t_volumes() {
        local id anon anon2
        output=$("$DOCKER" volume create --label team=a data11 2>&1)
        [ "$output" = data11 ] || fail "volume create: $output"
        "$DOCKER" volume create other11 >/dev/null
        output=$("$DOCKER" volume ls --format '{{.Driver}} {{.Name}}' | tr '\n' ' ')
        [ "$output" = "local data11 local other11 " ] || fail "volume ls: $output"
        output=$("$DOCKER" volume ls -q --filter label=team=a)
        [ "$output" = data11 ] || fail "volume ls --filter label=team=a: $output"
        output=$("$DOCKER" volume inspect --format '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.team}} {{.Mountpoint}}' data11)
        [ "$output" = "data11 local local a $STOCKADE_DATA_ROOT/volumes/data11/_data" ] || fail "volume inspect: $output"
        # what one container writes there, a second one reads
        "$DOCKER" run --rm -v data11:/data busybox sh -c 'echo kept >/data/f'
        output=$("$DOCKER" run --rm -v data11:/data:ro busybox sh -c 'cat /data/f; touch /data/g 2>&1 || true')
        [[ "$output" == "kept"*"Read-only file system"* ]] || fail "a second container reads (ro): $output"
        # --volumes-from: the volume read-only through another container; a missing one is named (a
        # 404 would send the CLI off to pull the image)
        id=$("$DOCKER" create -v data11:/data busybox true)
        output=$("$DOCKER" run --rm --volumes-from "$id:ro" busybox sh -c 'cat /data/f; touch /data/g 2>&1 || true')
        [[ "$output" == "kept"*"Read-only file system"* ]] || fail "--volumes-from ID:ro: $output"
        "$DOCKER" rm "$id" >/dev/null
        output=$("$DOCKER" run --rm --volumes-from nosuch11 busybox true 2>&1) && fail "--volumes-from nosuch11 ran"
        [[ "$output" == *"--volumes-from nosuch11: No such container: nosuch11"* && "$output" != *"Unable to find image"* ]] ||
                fail "--volumes-from a missing container: $output"
        # in use (by a container that never ran): refused with dockerd's message, the volume kept
        id=$("$DOCKER" create -v data11:/data busybox true)
        status=0
        output=$("$DOCKER" volume rm data11 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has "Error response from daemon: remove data11: volume is in use - [$id]" ||
                fail "volume rm of a volume in use: $status $output"
        output=$("$DOCKER" volume ls -q --filter dangling=true)
        [ "$output" = other11 ] || fail "volume ls --filter dangling=true: $output"
        output=$("$DOCKER" system df --format '{{.Type}} {{.TotalCount}} {{.Active}}' | grep '^Local Volumes')
        [ "$output" = "Local Volumes 2 1" ] || fail "system df: $output"
        output=$("$DOCKER" system df -v --format '{{range .Volumes}}{{.Name}}:{{.Links}} {{end}}')
        [ "$output" = "data11:1 other11:0 " ] || fail "system df -v: $output"
        "$DOCKER" rm "$id" >/dev/null
        output=$("$DOCKER" volume rm data11 other11 | tr '\n' ' ')
        [ "$output" = "data11 other11 " ] || fail "volume rm: $output"
        status=0
        output=$("$DOCKER" volume inspect data11 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has "no such volume" || fail "inspect of a removed volume: $output"
        # dockerd's codes and bodies: 404 unknown, 204 for force on an unknown one, Warnings null
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://x/v1.41/volumes/nosuch11)
        [ "$output" = '{"message":"get nosuch11: no such volume"}
 404' ] || fail "GET of an unknown volume: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X DELETE 'http://x/v1.41/volumes/nosuch11?force=1')
        [ "$output" = ' 204' ] || fail "DELETE ?force=1 of an unknown volume: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://x/v1.41/volumes)
        [ "$output" = '{"Volumes":[],"Warnings":null}
 200' ] || fail "GET /volumes: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
                -d '{"Name":"v11","Labels":{"a":1}}' http://x/v1.41/volumes/create)
        [ "$output" = '{"message":"Labels.a: expected a string"}
 400' ] || fail "create with a label not a string: $output"
        # a bad name or option: refused with the engine's message, nothing made
        status=0
        output=$("$DOCKER" volume create 'bad name' 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has 'create bad name: "bad name" includes invalid characters for a local volume name' ||
                fail "bad volume name: $output"
        status=0
        output=$("$DOCKER" volume create -o size=1g sized11 2>&1) || status=$?
        [ "$status" -ne 0 ] && expect_output_has 'invalid option: "size" (the local driver takes type, device and o)' ||
                fail "bad volume option: $output"
        [ -z "$("$DOCKER" volume ls -q)" ] || fail "a refused create left $("$DOCKER" volume ls -q)"
        # rm -v: the anonymous volume (-v /dst: Config.Volumes over the API) goes with its container, a named one stays
        id=$("$DOCKER" create -v /scratch -v keep11:/k busybox true)
        anon=$("$DOCKER" inspect --format '{{range .Mounts}}{{if eq .Destination "/scratch"}}{{.Name}}{{end}}{{end}}' "$id")
        [[ "$anon" =~ ^[0-9a-f]{64}$ ]] || fail "no anonymous volume at /scratch: $anon"
        "$DOCKER" rm -v "$id" >/dev/null
        output=$("$DOCKER" volume ls -q)
        [ "$output" = keep11 ] || fail "rm -v: $output"
        # prune: by default the unused anonymous volumes only (an empty Name makes one), all=true the named too
        anon2=$("$DOCKER" volume create)
        [[ "$anon2" =~ ^[0-9a-f]{64}$ ]] || fail "volume create without a name: $anon2"
        "$DOCKER" volume create --label keep=1 named11 >/dev/null
        output=$("$DOCKER" volume prune -f)
        [ "$output" = "Deleted Volumes:
$anon2

Total reclaimed space: 0B" ] || fail "volume prune: $output"
        output=$("$DOCKER" volume prune -f --filter all=true --filter label!=keep | head -3 | tr '\n' ' ')
        [ "$output" = "Deleted Volumes: keep11  " ] || fail "volume prune all=true label!=keep: $output"
        [ "$("$DOCKER" volume ls -q)" = named11 ] || fail "after the prunes: $("$DOCKER" volume ls -q)"
        "$DOCKER" volume rm named11 >/dev/null
        # each mutation audited as a volume's
        "$STOCKADE" audit --format json >"$WORK/vaudit"
        grep -q '"action":"volume rm","actor":{"type":"volume","id":"data11","name":"data11"}.*"outcome":"remove data11: volume is in use' \
                "$WORK/vaudit" || fail "audit of the refused volume rm: $(grep volume "$WORK/vaudit" | tail -3)"
        grep -q '"action":"volume create","actor":{"type":"volume","id":"'"$anon2"'"' "$WORK/vaudit" ||
                fail "audit of volume create: $(grep volume "$WORK/vaudit" | tail -3)"
        grep -q '"action":"volume prune","actor":{"type":"volume".*"command":\["POST","/v1.41/volumes/prune' "$WORK/vaudit" ||
                fail "audit of volume prune: $(grep volume "$WORK/vaudit" | tail -3)"
}

t_docker20_client() {
        [ -x "$DOCKER20" ] || fail "$DOCKER20 (docker.io's client) is missing: run tools/setup.sh"
        output=$("$DOCKER20" version --format '{{.Client.Version}} {{.Server.APIVersion}}' 2>&1)
        [[ "$output" == 20.10.*" 1.41" ]] || fail "docker 20.10 version: $output"
        output=$("$DOCKER20" run --rm --cap-drop ALL busybox sh -c 'grep CapEff /proc/self/status' 2>&1)
        [ "$output" = "CapEff:	0000000000000000" ] || fail "docker 20.10 run: $output"
        "$DOCKER20" run -d --name d20 busybox sleep 30 >/dev/null
        [ "$("$DOCKER20" ps --format '{{.Names}}')" = d20 ] || fail "docker 20.10 ps"
        "$DOCKER20" rm -f d20 >/dev/null
        # volumes: 20.10's CLI sends no `all` filter; its prune still takes only anonymous volumes (docs/API.md)
        output=$("$DOCKER20" volume create v20 2>&1)
        [ "$output" = v20 ] || fail "docker 20.10 volume create: $output"
        "$DOCKER20" run --rm -v v20:/d busybox sh -c 'echo twenty >/d/f'
        output=$("$DOCKER20" run --rm -v v20:/d busybox cat /d/f 2>&1)
        [ "$output" = twenty ] || fail "docker 20.10 run -v v20:/d: $output"
        "$DOCKER20" volume prune -f >/dev/null
        [ "$("$DOCKER20" volume ls -q --filter name=v20)" = v20 ] || fail "docker 20.10 volume prune took a named volume"
        output=$("$DOCKER20" volume rm v20 2>&1)
        [ "$output" = v20 ] && [ -z "$("$DOCKER20" volume ls -q --filter name=v20)" ] || fail "docker 20.10 volume rm: $output"
}

t_hostile_requests() {
        # malformed request line, a bare LF, a header too many, an oversized head: 4xx, connection closed
        output=$(raw 'GARBAGE\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 "* ]] || fail "garbage: $output"
        output=$(raw 'GET /_ping HTTP/1.1\nHost: x\n\n')
        [[ "$output" == "HTTP/1.1 400 "* ]] || fail "bare LF: $output"
        output=$(raw "GET /_ping HTTP/1.1\r\nHost: x\r\nX: $(head -c 40000 /dev/zero | tr '\0' a)\r\n\r\n")
        [[ "$output" == "HTTP/1.1 431 "* ]] || fail "oversized head: ${output:0:100}"
        output=$(raw 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 "* ]] && [[ "$output" == *"both Content-Length and Transfer-Encoding"* ]] ||
                fail "CL+TE: $output"
        output=$(raw 'BREW /_ping HTTP/1.1\r\nHost: x\r\n\r\n')
        [[ "$output" == "HTTP/1.1 501 "* ]] || fail "unknown method: $output"
        # a body above the limit: 413 before it is read
        output=$(raw 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n')
        [[ "$output" == "HTTP/1.1 413 "* ]] || fail "huge body: $output"
        # dockerd's Content-Type check, and bad JSON named
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -d '{}' -H 'Content-Type:' http://x/v1.41/containers/create)
        [ "$output" = "{\"message\":\"Content-Type specified () must be 'application/json'\"}
 400" ] || fail "content type: $output"
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -d '{bad' -H 'Content-Type: application/json' http://x/v1.41/containers/create)
        [[ "$output" == *"invalid JSON"*" 400" ]] || fail "bad JSON: $output"
        # a chunked create body works, as the CLI sends for import
        output=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -H 'Transfer-Encoding: chunked' \
                -H 'Content-Type: application/json' --data-binary '{"Image":"busybox","Cmd":["true"]}' \
                'http://x/v1.41/containers/create?name=chunk11')
        [[ "$output" == '{"Id":"'*'","Warnings":[]}'*" 201" ]] || fail "chunked create: $output"
        "$DOCKER" rm chunk11 >/dev/null
        # a slow client (half a head, then silence) is cut off after --request-timeout (2 s here): 408
        output=$(python3 - "$SOCK" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")
print(s.recv(4096).decode().split("\r\n")[0])
EOF
)
        [ "$output" = "HTTP/1.1 408 Request Timeout" ] || fail "slow client: $output"
        # keep-alive: two requests on one connection, both answered
        output=$(raw 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /v1.41/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        [ "$(echo "$output" | grep -o 'HTTP/1.1 200 OK' | wc -l)" = 2 ] || fail "keep-alive: $output"
        # the server survived all of it
        curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null || fail "server gone"
}

t_audit() {
        local t0
        t0=$(date +%s)
        curl -s --unix-socket "$SOCK" http://x/v1.41/containers/nonexistent11/json >/dev/null
        # as another user: SO_PEERCRED gives the server the peer's uid (the socket is made reachable for it)
        chmod 0666 "$SOCK"
        setpriv --reuid 65534 --regid 65534 --clear-groups curl -s --unix-socket "$SOCK" http://x/v1.41/_ping >/dev/null
        chmod 0600 "$SOCK"
        output=$("$STOCKADE" audit --since "$t0" --format json)
        grep '"command":\["GET","/v1.41/containers/nonexistent11/json"\]' <<<"$output" |
                grep '"peer":{"pid":[0-9]*,"uid":0,"gid":0}.*"outcome":"No such container: nonexistent11"' >/dev/null ||
                fail "audit of a failed inspect: $output"
        grep '"command":\["GET","/v1.41/_ping"\]' <<<"$output" | grep '"peer":{"pid":[0-9]*,"uid":65534,"gid":65534}' >/dev/null ||
                fail "audit of uid 65534: $output"
        "$STOCKADE" audit verify >/dev/null || fail "audit verify"
}

t_connection_cap() {
        stop_server
        start_server --max-connections 2
        # two idle connections take the two places; a third is refused at once with 503
        output=$(python3 - "$SOCK" <<'EOF'
import socket, sys, time
held = []
for _ in range(2):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
time.sleep(0.3)
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
try:
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
except BrokenPipeError:
    pass  # refused before the request was sent: the answer is still there to read
print(s.recv(4096).decode().split("\r\n")[0])
for h in held:
    h.close()
time.sleep(0.5)
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096).decode().split("\r\n")[0])
EOF
)
        stop_server
        start_server
        [ "$output" = "HTTP/1.1 503 Service Unavailable
HTTP/1.1 200 OK" ] || fail "connection cap: $output"
}

t_compose() {
        command -v docker-compose >/dev/null || fail "docker-compose is missing: run tools/setup.sh"
        mkdir -p "$WORK/proj11"
        cat >"$WORK/proj11/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  app:
    image: busybox
    command: sh -c 'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; echo kept >/data/f; sleep 30'
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    mem_limit: 64m
    pids_limit: 20
    network_mode: none
    volumes:
      - data:/data
volumes:
  data:
EOF
        (cd "$WORK/proj11" && docker-compose -p proj11 up -d) >"$WORK/compose.log" 2>&1 || fail "compose up: $(cat "$WORK/compose.log")"
        local id
        id=$("$DOCKER" ps -q --filter label=com.docker.compose.project=proj11)
        [ -n "$id" ] || fail "no compose container: $(cat "$WORK/compose.log")"
        for _ in $(seq 1 50); do
                [[ "$("$DOCKER" logs "$id" 2>&1)" == *NoNewPrivs* ]] && break
                sleep 0.1
        done
        output=$("$DOCKER" logs "$id" 2>&1)
        expect_output_has "CapEff:	0000000000000000"
        expect_output_has "NoNewPrivs:	1"
        # its named volume, made through the API with compose's labels, written on a read-only root
        output=$("$DOCKER" volume inspect --format '{{index .Labels "com.docker.compose.project"}} {{index .Labels "com.docker.compose.volume"}}' proj11_data 2>&1)
        [ "$output" = "proj11 data" ] || fail "the project's volume: $output"
        for _ in $(seq 1 50); do
                [ -f "$STOCKADE_DATA_ROOT/volumes/proj11_data/_data/f" ] && break
                sleep 0.1
        done
        [ "$(cat "$STOCKADE_DATA_ROOT/volumes/proj11_data/_data/f" 2>&1)" = kept ] || fail "nothing written into the volume"
        (cd "$WORK/proj11" && docker-compose -p proj11 down -v -t 1) >>"$WORK/compose.log" 2>&1 || fail "compose down: $(cat "$WORK/compose.log")"
        [ -z "$("$DOCKER" ps -aq)" ] || fail "compose down left containers"
        [ -z "$("$DOCKER" volume ls -q)" ] || fail "compose down -v left volumes: $("$DOCKER" volume ls -q)"
}

t_tls() {
        command -v openssl >/dev/null || fail "openssl is missing: run tools/setup.sh"
        local d=$WORK/tls port pid
        mkdir -p "$d"
        (
                cd "$d"
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=stockade-test-ca
                openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost
                printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext
                openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=client11
                printf 'extendedKeyUsage=clientAuth\n' >client.ext
                openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext
        ) >"$d/gen.log" 2>&1 || fail "making the test certificates: $(cat "$d/gen.log")"
        # the flags are checked before anything listens
        status=0
        output=$("$STOCKADE" serve -H tcp://127.0.0.1:0 --tlsverify --tlscert "$d/server-cert.pem" --tlskey "$d/server-key.pem" 2>&1) || status=$?
        [ "$status" -eq 125 ] && expect_output_has "--tlscacert: required with --tlsverify" || fail "missing --tlscacert: $output"
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        "$STOCKADE" serve -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$d/ca.pem" --tlscert "$d/server-cert.pem" \
                --tlskey "$d/server-key.pem" >"$d/serve.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
                curl -s --cacert "$d/ca.pem" --cert "$d/cert.pem" --key "$d/key.pem" "https://127.0.0.1:$port/_ping" >/dev/null && break
                sleep 0.05
        done
        # the docker CLI with --tlsverify semantics: a run through the TLS connection, hijack included
        output=$(DOCKER_HOST=tcp://127.0.0.1:$port DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$d "$DOCKER" run --rm busybox echo over-tls 2>&1) ||
                { kill "$pid"; fail "docker --tlsverify run: $output"; }
        [ "$output" = over-tls ] || { kill "$pid"; fail "docker --tlsverify run: $output"; }
        # no client certificate, or plain HTTP: refused in the handshake
        status=0
        curl -s --cacert "$d/ca.pem" "https://127.0.0.1:$port/_ping" >/dev/null 2>&1 || status=$?
        [ "$status" -ne 0 ] || { kill "$pid"; fail "a client without a certificate was served"; }
        status=0
        curl -s "http://127.0.0.1:$port/_ping" >/dev/null 2>&1 || status=$?
        [ "$status" -ne 0 ] || { kill "$pid"; fail "plain HTTP was served on the TLS port"; }
        kill "$pid"
        grep -q "peer did not return a certificate" "$d/serve.log" || fail "the refusal is not logged: $(cat "$d/serve.log")"
        "$STOCKADE" audit --format json >"$d/audit.json"
        grep -q '"command":\["POST","/v1.41/containers/create","tls-client=/CN=client11"\]' "$d/audit.json" ||
                fail "the audit record lacks the client certificate: $("$STOCKADE" audit --format json | tail -3)"
}

t_bad_flags() {
        # refused with the flag named and exit 125, leaving no socket behind
        local f
        for f in "-H bogus://x" "--max-connections 0" "--request-timeout x" "--tlscert /nonexistent" "--tlsverify" "stray"; do
                status=0
                # shellcheck disable=SC2086
                output=$("$STOCKADE" serve -H "unix://$WORK/bad.sock" $f 2>&1) || status=$?
                [ "$status" -eq 125 ] || fail "serve $f: exit $status: $output"
                [ ! -e "$WORK/bad.sock" ] || fail "serve $f left its socket"
        done
        output=$("$STOCKADE" serve -H bogus://x 2>&1) || true
        expect_output_has "-H bogus://x: expected unix://PATH or tcp://ADDR:PORT"
        # a socket another server listens on is not taken over
        status=0
        output=$("$STOCKADE" serve -H "unix://$SOCK" 2>&1) || status=$?
        [ "$status" -eq 125 ] && expect_output_has "another server is listening there" || fail "second server: $output"
        curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null || fail "the first server lost its socket"
}

run_test "_ping, version, info, dockerd's 400 and 404 bodies, the socket's mode" t_ping_version
run_test "bad flags: refused with the flag named, no socket left; a live socket not taken over" t_bad_flags
run_test "docker run --rm: output, exit code, stdin, a missing command" t_run_rm
run_test "run -d, logs (-f), ps, inspect, stop, start, restart, rename, rm (-f)" t_detached_lifecycle
run_test "hardening flags in effect inside the container; an inline seccomp profile; SecurityOpt" t_hardening
run_test "run -it under a pty, exec (streams, exit code, -i, -it, -e -w -u), top, stats, pause, update" t_tty_exec
run_test "events: followed with filters, past with since/until" t_events
run_test "save, rmi, load, import with a change, images, system df" t_images
run_test "volumes: create, ls, inspect, rm (in use refused), run -v NAME:/dst shared, rm -v, prune, bad names, system df, audit" t_volumes
run_test "Debian's docker 20.10 client (volumes too)" t_docker20_client
run_test "hostile requests: malformed, oversized, smuggling, slow; keep-alive" t_hostile_requests
run_test "every request audited with the peer's uid (SO_PEERCRED)" t_audit
run_test "the connection cap answers 503 and frees places" t_connection_cap
run_test "docker-compose 1.29 brings up a hardened service with a named volume; down -v" t_compose
run_test "tcp:// with --tlsverify: the docker CLI with client certificates; none or plain HTTP refused; audited" t_tls
finish
