#!/bin/bash
# stockade-proxy (docs/PROXY.md) between the real docker CLI 28 and a real upstream: Debian's dockerd
# started here with private roots (tests/helpers/private-dockerd.sh).  docker-socket-proxy's switches
# (ps with CONTAINERS=1, run refused with POST=0), `docker events` open through the proxy for over a
# minute, `docker exec -it` in a pty both ways, create bodies refused (--privileged, -v /:/host, ...),
# the holes docker-socket-proxy leaves (ALLOW_START without POST, POST without DELETE, CONTAINERS
# without logs/archive/export/exec), the path tricks, smuggling, keep-alive and chunked bodies,
# followed logs, shutdown with open streams, the configuration file, --user and the JSON log; with
# stockade serve upstream, VOLUMES (GET only; create needs POST, rm DELETE; DriverOpts refused).
. "$(dirname "$0")/lib.sh"
. "$REPO_ROOT/tests/helpers/private-dockerd.sh"

PROXY=${STOCKADE_PROXY:-$REPO_ROOT/build/stockade-proxy}
[ -x "$PROXY" ] || bail "$PROXY not found: build it with 'ninja -C build'"
command -v curl >/dev/null || bail "curl is needed (tools/setup.sh installs it)"
command -v python3 >/dev/null || bail "python3 is needed (tools/setup.sh installs it)"
TAG=p12-$$

proxy_exit() {
        local p
        for p in $(cat "$WORK/proxy.pids" 2>/dev/null); do
                kill -KILL "$p" 2>/dev/null
        done
        if [ -d "$WORK/sk/data" ]; then
                STOCKADE_DATA_ROOT=$WORK/sk/data STOCKADE_EXEC_ROOT=$WORK/sk/run STOCKADE_CONFIG=$WORK/sk/daemon.json \
                        "$REPO_ROOT/build/stockade" rm -f "$TAG-px" >/dev/null 2>&1
        fi
        dockerd_stop
        lib_exit
}
trap proxy_exit EXIT

dockerd_start "$WORK/dockerd" || bail "dockerd (docker.io) did not start; see above"
# a container for exec, logs and the lifecycle switches
dkd run -d --name "$TAG-box" busybox sh -c 'i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done' >/dev/null ||
        bail "cannot start a busybox container on dockerd"

# proxy_start NAME [VAR=VALUE...] [-- PROXY-ARGS...]: a proxy on $WORK/NAME.sock with only these
# variables in its environment, logging to $WORK/NAME.log.  Sets PPID_NAME (its pid) in PXPID.
proxy_start() {
        local name=$1 i
        shift
        local vars=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
                vars+=("$1")
                shift
        done
        [ "${1:-}" != -- ] || shift
        env -i PATH="$PATH" "${vars[@]}" "$PROXY" --listen "unix:$WORK/$name.sock" --log-file "$WORK/$name.log" \
                "$@" "$DOCKERD_SOCK" 2>"$WORK/$name.err" &
        PXPID=$!
        echo "$PXPID" >>"$WORK/proxy.pids"
        for ((i = 0; i < 100; i++)); do
                [ -S "$WORK/$name.sock" ] && return 0
                kill -0 "$PXPID" 2>/dev/null || break
                sleep 0.05
        done
        fail "stockade-proxy $name did not start: $(cat "$WORK/$name.err")"
}

proxy_stop() {
        kill -TERM "$PXPID" 2>/dev/null || true
        wait "$PXPID" 2>/dev/null || true
}

# dkp NAME ARGS...: the docker CLI through proxy NAME; sets $status and $output.
dkp() {
        local name=$1
        shift
        status=0
        output=$(DOCKER_HOST=unix://$WORK/$name.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" "$@" 2>&1) || status=$?
}

# http NAME METHOD PATH [curl args]: one request through proxy NAME; $code, $body.
http() {
        local name=$1 method=$2 path=$3
        shift 3
        code=$(curl -s --unix-socket "$WORK/$name.sock" --path-as-is -X "$method" -o "$WORK/body" \
                -w '%{http_code}' "$@" "http://docker$path") || code=000
        body=$(cat "$WORK/body" 2>/dev/null)
}

# raw NAME FILE: sends FILE's bytes on one connection to proxy NAME, prints all that comes back
# until the proxy closes (or 10 s pass without a byte).
raw() {
        python3 - "$WORK/$1.sock" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], 'rb').read())
s.settimeout(10)
out = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode('latin-1'))
PY
}

# wait_for FILE STRING [TRIES]: polls (0.1 s) until FILE holds STRING.
wait_for() {
        local i
        for ((i = 0; i < ${3:-300}; i++)); do
                grep -qF -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

t_ps_with_containers() {
        proxy_start ps CONTAINERS=1
        dkp ps ps --format '{{.Names}}'
        [ "$status" -eq 0 ] || fail "docker ps through the proxy: $output"
        [[ $output == *"$TAG-box"* ]] || fail "docker ps does not list $TAG-box: $output"
        grep -q "allow GET /v1.[0-9]*/containers/json peer=unix:pid=[0-9]*,uid=0 reason=\"CONTAINERS=1\"" "$WORK/ps.log" ||
                fail "no allow line for containers/json: $(cat "$WORK/ps.log")"
        # the same CLI without CONTAINERS
        proxy_start noc
        dkp noc ps
        [ "$status" -ne 0 ] || fail "docker ps passed with CONTAINERS=0"
        [[ $output == *"CONTAINERS=0"* ]] || fail "the 403's reason does not reach the CLI: $output"
        http noc GET /v1.41/containers/json
        [ "$code" = 403 ] || fail "GET /containers/json with CONTAINERS=0: $code"
        grep -q "deny GET /v1.41/containers/json peer=unix:pid=[0-9]*,uid=0 reason=\"CONTAINERS=0" "$WORK/noc.log" ||
                fail "no deny line: $(cat "$WORK/noc.log")"
        # docker-socket-proxy's defaults: ping, version, events on; info off
        http noc GET /_ping
        [ "$code" = 200 ] && [ "$body" = OK ] || fail "/_ping: $code $body"
        http noc GET /v1.41/version
        [ "$code" = 200 ] || fail "/version: $code"
        http noc GET /v1.41/info
        [ "$code" = 403 ] || fail "/info with INFO unset: $code"
        proxy_stop
}

t_run_refused_without_post() {
        proxy_start np CONTAINERS=1 IMAGES=1
        dkp np run --rm --name "$TAG-np" busybox true
        [ "$status" -ne 0 ] || fail "docker run passed with POST=0"
        [[ $output == *"stockade-proxy: POST=0: only GET and HEAD are allowed"* ]] || fail "run: $output"
        http np POST /v1.41/containers/create -H 'Content-Type: application/json' -d '{"Image":"busybox"}'
        [ "$code" = 403 ] || fail "POST containers/create: $code"
        [[ $body == *"POST=0"* ]] || fail "403 body: $body"
        [ -z "$(dkd ps -aq --filter name="$TAG-np")" ] || fail "a container was created"
        grep -q 'deny POST /v1.41/containers/create' "$WORK/np.log" || fail "no deny line in the log"
        proxy_stop
}

# Required by the issue: the events stream stays open through the proxy for over a minute.
t_events_stream_over_a_minute() {
        local ev=$WORK/events.out evpid idlepid
        # with a short --head-timeout: the stream is not timed out, an idle connection is
        proxy_start ev -- --head-timeout 3
        python3 - "$WORK/ev.sock" >"$WORK/idle.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")  # a head never finished
s.settimeout(120)
print("closed" if s.recv(1) == b"" else "data")
PY
        idlepid=$!
        DOCKER_HOST=unix://$WORK/ev.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" events \
                --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}' >"$ev" 2>&1 &
        evpid=$!
        wait_for "$WORK/ev.log" "/events" || fail "docker events never reached the proxy"
        dkd create --name "$TAG-ev" busybox true >/dev/null
        wait_for "$ev" "container create $TAG-ev" || fail "no create event: $(cat "$ev")"
        sleep 65
        kill -0 "$evpid" 2>/dev/null || fail "docker events ended within 65 s: $(cat "$ev")"
        wait "$idlepid" || true
        [ "$(cat "$WORK/idle.out")" = closed ] || fail "the unfinished head was not closed: $(cat "$WORK/idle.out")"
        grep -q "no complete request head within 3000 ms: closed" "$WORK/ev.log" || fail "no log line: $(cat "$WORK/ev.log")"
        dkd rm "$TAG-ev" >/dev/null
        wait_for "$ev" "container destroy $TAG-ev" || fail "no destroy event after 65 s: $(cat "$ev")"
        kill "$evpid"
        wait "$evpid" 2>/dev/null || true
        proxy_stop
}

# docker exec -it in a pty (python's pty): a command typed in, its answer read back, the exit code.
t_exec_it() {
        proxy_start ex CONTAINERS=1 EXEC=1 POST=1
        DOCKER_HOST=unix://$WORK/ex.sock DOCKER_CONFIG=$WORK/dockerd/cli python3 - "$DOCKER_CLI" "$TAG-box" \
                >"$WORK/exec.out" 2>&1 <<'PY' || fail "exec -it: $(cat "$WORK/exec.out")"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], 'exec', '-it', sys.argv[2], 'sh'])
buf = b''
def until(tok, secs=60):
    global buf
    end = time.time() + secs
    while tok not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            sys.exit('timed out waiting for %r; got %r' % (tok, buf))
        try:
            b = os.read(fd, 4096)
        except OSError:
            b = b''
        if not b:
            sys.exit('EOF waiting for %r; got %r' % (tok, buf))
        buf += b
until(b'# ')
os.write(fd, b'echo $((6*7))XY; tty\n')
until(b'42XY')
until(b'/dev/pts/')
os.write(fd, b'exit 3\n')
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    buf += b
_, st = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(st)
print(buf.decode('latin-1'))
sys.exit(0 if code == 3 else 'docker exec exited %d, not 3' % code)
PY
        grep -q "allow POST /v1.41/exec/[0-9a-f]*/start" "$WORK/ex.log" || fail "no exec start in the log"
        # EXEC=0: /containers/{id}/exec is not opened by CONTAINERS=1 POST=1 (docker-socket-proxy #182)
        proxy_start nex CONTAINERS=1 POST=1
        dkp nex exec "$TAG-box" true
        [ "$status" -ne 0 ] && [[ $output == *"EXEC=0: /containers/{id}/exec"* ]] || fail "exec with EXEC=0: $output"
        proxy_stop
}

t_create_body_inspection() {
        local i
        mkdir -p "$WORK/share"
        echo shared-file >"$WORK/share/f"
        proxy_start bi CONTAINERS=1 POST=1 DELETE=1 CONTAINERS_ATTACH=1 ALLOWED_BINDS="$WORK/share"
        local -a cases=(
                "--privileged|HostConfig.Privileged: privileged containers are not allowed"
                "-v /:/host|HostConfig.Binds: host path / is outside the allowed directories"
                "-v $WORK:/w|HostConfig.Binds: host path $WORK is outside"
                "--mount type=bind,src=/etc,dst=/e|HostConfig.Mounts[0]: host path /etc is outside"
                "--cap-add SYS_ADMIN|HostConfig.CapAdd"
                "--security-opt seccomp=unconfined|HostConfig.SecurityOpt"
                "--security-opt apparmor=unconfined|HostConfig.SecurityOpt"
                "--pid host|HostConfig.PidMode"
                "--network host|HostConfig.NetworkMode"
                "--ipc host|HostConfig.IpcMode"
                "--userns host|HostConfig.UsernsMode"
                "--device /dev/null|HostConfig.Devices"
        )
        for i in "${!cases[@]}"; do
                local opts=${cases[$i]%%|*} want=${cases[$i]#*|}
                # shellcheck disable=SC2086
                dkp bi run --rm --name "$TAG-bi$i" $opts busybox true
                [ "$status" -ne 0 ] || fail "run $opts passed"
                [[ $output == *"$want"* ]] || fail "run $opts: $output"
        done
        [ -z "$(dkd ps -aq --filter name="$TAG-bi")" ] || fail "a refused container exists"
        # an allowed directory passes, and the attached run (hijack, wait, --rm) works end to end
        dkp bi run --rm --name "$TAG-ok" -v "$WORK/share:/share:ro" busybox cat /share/f
        [ "$status" -eq 0 ] && [ "$output" = shared-file ] || fail "run with an allowed bind: $status $output"
        # a chunked body is read whole and inspected
        http bi POST /v1.41/containers/create -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
                --data-binary '{"Image":"busybox","HostConfig":{"privileged":true}}'
        [ "$code" = 403 ] && [[ $body == *"HostConfig.Privileged"* ]] || fail "chunked privileged create: $code $body"
        http bi POST "/v1.41/containers/create?name=$TAG-ch" -H 'Transfer-Encoding: chunked' \
                -H 'Content-Type: application/json' --data-binary '{"Image":"busybox","Cmd":["true"]}'
        [ "$code" = 201 ] || fail "chunked create: $code $body"
        grep -q "allow POST /v1.41/containers/create?name=$TAG-ch .*reason=\"CONTAINERS=1, body inspected\"" "$WORK/bi.log" ||
                fail "no inspected allow line: $(tail -3 "$WORK/bi.log")"
        dkp bi rm "$TAG-ch"
        [ "$status" -eq 0 ] || fail "rm with DELETE=1: $output"
        # a privileged exec is refused too
        proxy_start bx CONTAINERS=1 POST=1 EXEC=1
        dkp bx exec --privileged "$TAG-box" true
        [ "$status" -ne 0 ] && [[ $output == *"Privileged: privileged exec is not allowed"* ]] || fail "exec --privileged: $output"
        # INSPECT_BODIES=0 turns inspection off (then dockerd creates what it is asked)
        proxy_start off CONTAINERS=1 POST=1 INSPECT_BODIES=0
        dkp off create --name "$TAG-priv" --privileged busybox true
        [ "$status" -eq 0 ] || fail "create --privileged with INSPECT_BODIES=0: $output"
        dkd rm "$TAG-priv" >/dev/null
        proxy_stop
}

t_holes_closed() {
        dkd create --name "$TAG-life" busybox sleep 1000 >/dev/null
        # ALLOW_START without POST (docker-socket-proxy #101, #114)
        proxy_start st ALLOW_START=1
        http st POST "/v1.41/containers/$TAG-life/start"
        [ "$code" = 204 ] || fail "start with ALLOW_START=1 POST=0: $code $body"
        [ "$(dkd inspect -f '{{.State.Running}}' "$TAG-life")" = true ] || fail "not running after start"
        http st POST "/v1.41/containers/$TAG-life/stop"
        [ "$code" = 403 ] || fail "stop with only ALLOW_START: $code"
        http st POST "/v1.41/containers/$TAG-life/start/../kill"
        [ "$code" = 403 ] || fail "a dot segment after start: $code"
        proxy_start rs ALLOW_RESTARTS=1
        http rs POST "/v1.41/containers/$TAG-life/restart?t=0"
        [ "$code" = 204 ] || fail "restart with ALLOW_RESTARTS=1: $code $body"
        http rs POST "/v1.41/containers/$TAG-life/kill"
        [ "$code" = 204 ] || fail "kill with ALLOW_RESTARTS=1: $code $body"
        http rs POST "/v1.41/containers/$TAG-life/start"
        [ "$code" = 403 ] || fail "start with only ALLOW_RESTARTS: $code"
        # POST does not open DELETE or PUT
        proxy_start cp CONTAINERS=1 POST=1
        dkp cp rm -f "$TAG-life"
        [ "$status" -ne 0 ] && [[ $output == *"DELETE=0"* ]] || fail "rm with POST=1 DELETE=0: $output"
        echo x >"$WORK/cpfile"
        dkp cp cp "$WORK/cpfile" "$TAG-box:/tmp/x"
        [ "$status" -ne 0 ] && [[ $output == *"CONTAINERS_ARCHIVE=0"* ]] || fail "cp into: $output"
        dkp cp cp "$TAG-box:/etc/passwd" "$WORK/out"
        [ "$status" -ne 0 ] && [[ $output == *"CONTAINERS_ARCHIVE=0"* ]] || fail "cp out: $output"
        dkp cp export -o "$WORK/exp.tar" "$TAG-box"
        [ "$status" -ne 0 ] && [[ $output == *"CONTAINERS_EXPORT=0"* ]] || fail "export: $output"
        dkp cp logs "$TAG-box"
        [ "$status" -ne 0 ] && [[ $output == *"CONTAINERS_LOGS=0"* ]] || fail "logs: $output"
        # the CLI prints only the status of a refused upgrade; the log has the reason
        dkp cp attach --no-stdin "$TAG-box"
        [ "$status" -ne 0 ] && [[ $output == *"received 403"* ]] || fail "attach: $output"
        grep -q 'deny POST /v1.41/containers/[^ ]*/attach?.*CONTAINERS_ATTACH=0' "$WORK/cp.log" || fail "attach not denied"
        # each one asked for
        proxy_start cp2 CONTAINERS=1 POST=1 PUT=1 DELETE=1 CONTAINERS_ARCHIVE=1 CONTAINERS_EXPORT=1
        dkp cp2 cp "$WORK/cpfile" "$TAG-box:/tmp/x"
        [ "$status" -eq 0 ] || fail "cp with PUT=1 CONTAINERS_ARCHIVE=1: $output"
        [ "$(dkd exec "$TAG-box" cat /tmp/x)" = x ] || fail "the copied file is not there"
        dkp cp2 export -o "$WORK/exp.tar" "$TAG-box"
        [ "$status" -eq 0 ] || fail "export: $output"
        tar -tf "$WORK/exp.tar" >"$WORK/exp.list"
        grep -qx 'bin/busybox' "$WORK/exp.list" || fail "the export lacks bin/busybox: $(head -5 "$WORK/exp.list")"
        dkp cp2 rm -f "$TAG-life"
        [ "$status" -eq 0 ] || fail "rm -f with DELETE=1: $output"
        proxy_stop
}

t_followed_logs() {
        local lpid
        proxy_start lg CONTAINERS=1 CONTAINERS_LOGS=1
        DOCKER_HOST=unix://$WORK/lg.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" logs -f --tail 1 "$TAG-box" \
                >"$WORK/logs.out" 2>&1 &
        lpid=$!
        # a line written after the follower started arrives through the open response
        local first
        wait_for "$WORK/logs.out" line || fail "no first line: $(cat "$WORK/logs.out")"
        first=$(head -1 "$WORK/logs.out" | sed 's/line//')
        wait_for "$WORK/logs.out" "line$((first + 10))" 600 || fail "the followed logs stopped: $(cat "$WORK/logs.out")"
        kill -0 "$lpid" || fail "docker logs -f ended"
        kill "$lpid"
        wait "$lpid" 2>/dev/null || true
        proxy_stop
}

t_path_tricks() {
        local row p want reason
        proxy_start pt CONTAINERS=1
        # path | status | text in the body (the 403's reason, or dockerd's answer)
        local -a rows=(
                "//containers/json|403|empty path segment"
                "/v1.41//containers/json|403|empty path segment"
                "/v1.41/containers/json/|403|empty path segment"
                "/%2e%2e/containers/json|403|a . or .. path segment"
                "/v1.41/../containers/json|403|a . or .. path segment"
                "/v1.41/%2E%2E/images/json|403|a . or .. path segment"
                "/v1.41/containers/%2e%2e/%2e%2e/images/json|403|a . or .. path segment"
                "/v1.41/containers%2Fjson|403|an encoded slash"
                "/v1.41/containers%5cjson|403|a backslash"
                "/v1.41.0/containers/json|403|malformed API version prefix"
                "/v1111111111111111111111.41/containers/json|403|malformed API version prefix"
                "/v1.4111111111111111/containers/json|403|malformed API version prefix"
                "/v1/containers/json|403|malformed API version prefix"
                "/v1.41/Images/json|403|IMAGES=0"
                "/v1.41/%69mages/json|403|IMAGES=0"
                "/v1.41/containersX/json|403|is not an API section"
                "/v1.41/%63ontainers/json|200|$TAG-box"
                "/v1.41/containers/json?all=1&x=%2F..%2F|200|$TAG-box"
                "/v1.41/CONTAINERS/json|404|page not found"
        )
        for row in "${rows[@]}"; do
                IFS='|' read -r p want reason <<<"$row"
                http pt GET "$p"
                [ "$code" = "$want" ] || fail "$p: status $code, expected $want ($body)"
                [[ $body == *"$reason"* ]] || fail "$p: body \"$body\" lacks \"$reason\""
        done
        # mixed case is normalised for the rules (allowed, as docker-socket-proxy's -i) and sent as is
        grep -q 'allow GET /v1.41/CONTAINERS/json .*reason="CONTAINERS=1"' "$WORK/pt.log" || fail "mixed case not allowed"
        # absolute-form targets, smuggling, bad heads: answered, never passed on
        printf 'GET http://docker/v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n\r\n' >"$WORK/req1"
        out=$(raw pt "$WORK/req1")
        [[ $out == "HTTP/1.1 403 Forbidden"*"does not start with /"* ]] || fail "absolute-form: $out"
        printf 'POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\n' >"$WORK/req2"
        out=$(raw pt "$WORK/req2")
        [[ $out == "HTTP/1.1 400 Bad Request"*"both Content-Length and Transfer-Encoding"* ]] || fail "CL+TE: $out"
        [[ $out != *"HTTP/1.1 200"* ]] || fail "something was passed on after CL+TE: $out"
        printf 'GET /_ping HTTP/1.1\r\nHost: d\r\nX: a\r\n b\r\n\r\n' >"$WORK/req3"
        out=$(raw pt "$WORK/req3")
        [[ $out == "HTTP/1.1 400 Bad Request"*"obsolete line folding"* ]] || fail "folding: $out"
        # a denied request's body is read and dropped: the connection goes on with the next request
        printf 'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 7\r\n\r\n{"a":1}GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n' >"$WORK/req5"
        out=$(raw pt "$WORK/req5")
        [[ $out == "HTTP/1.1 403 Forbidden"*"POST=0"*"HTTP/1.1 200 OK"*"OK" ]] || fail "after a denied body: $out"
        # keep-alive and pipelining: three requests in one write, answered in order on one connection;
        # the denied one in the middle does not end it
        printf 'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n' >"$WORK/req4"
        out=$(raw pt "$WORK/req4")
        [ "$(grep -o 'HTTP/1.1 [0-9]' <<<"$out" | wc -l)" -eq 3 ] || fail "pipelined: $out"
        [[ $out == "HTTP/1.1 200 OK"*"HTTP/1.1 403 Forbidden"*"INFO=0"*"HTTP/1.1 200 OK"*'"ApiVersion"'* ]] ||
                fail "pipelined answers out of order: $out"
        [ "$(grep -c 'peer=unix:pid=[0-9]*,uid=0' "$WORK/pt.log")" -ge 25 ] || fail "decisions missing from the log"
        proxy_stop
}

t_shutdown_with_open_streams() {
        local evpid rc=0
        proxy_start sd CONTAINERS=1 CONTAINERS_LOGS=1
        DOCKER_HOST=unix://$WORK/sd.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" events >/dev/null 2>&1 &
        evpid=$!
        DOCKER_HOST=unix://$WORK/sd.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" logs -f "$TAG-box" >"$WORK/sdlogs" 2>&1 &
        local lpid=$!
        wait_for "$WORK/sd.log" "/events" || fail "events did not start"
        wait_for "$WORK/sdlogs" line || fail "logs -f did not start"
        kill -TERM "$PXPID"
        timeout 60 tail --pid="$PXPID" -f /dev/null || fail "the proxy did not exit on SIGTERM with streams open"
        wait "$PXPID" || rc=$?
        [ "$rc" -eq 0 ] || fail "the proxy exited $rc on SIGTERM"
        timeout 60 tail --pid="$evpid" -f /dev/null || fail "docker events did not end when the proxy stopped"
        timeout 60 tail --pid="$lpid" -f /dev/null || fail "docker logs -f did not end when the proxy stopped"
        [ ! -e "$WORK/sd.sock" ] || fail "the unix socket was left behind"
        grep -q "signal 15: closing the listeners and the streams" "$WORK/sd.log" || fail "$(cat "$WORK/sd.log")"
        grep -q "stopped" "$WORK/sd.log" || fail "no clean stop logged"
}

t_config_user_json() {
        local rc
        printf '# proxy rules\nCONTAINERS=1\ndeny GET /containers/*/json\nallow GET /images/json\n' >"$WORK/proxy.conf"
        # nobody, with the group of dockerd's socket (root:docker 0660) to reach it
        proxy_start cf -- --config "$WORK/proxy.conf" --log-format json --user "nobody:$(stat -c %G "$DOCKERD_SOCK")"
        http cf GET "/v1.41/containers/$TAG-box/json"
        [ "$code" = 403 ] && [[ $body == *"configuration rule at line 3"* ]] || fail "deny rule: $code $body"
        http cf GET /v1.41/images/json
        [ "$code" = 200 ] && [[ $body == *"busybox:latest"* ]] || fail "allow rule: $code $body"
        dkp cf ps
        [ "$status" -eq 0 ] || fail "ps through the unprivileged proxy: $output"
        # dropped to nobody, no new privileges
        grep -q "^Uid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534$" "/proc/$PXPID/status" ||
                fail "not running as nobody: $(grep Uid "/proc/$PXPID/status")"
        grep -q "^NoNewPrivs:[[:space:]]*1$" "/proc/$PXPID/status" || fail "no_new_privs not set"
        [ "$(stat -c %U "$WORK/cf.sock")" = nobody ] || fail "the socket is not nobody's"
        # every decision is a JSON line with the fields
        jq -e -s '[.[] | select(.decision)] | length >= 4 and all(.method and .path and .peer and .reason and .time)' \
                "$WORK/cf.log" >/dev/null || fail "JSON log: $(cat "$WORK/cf.log")"
        jq -e -s 'any(.decision == "deny" and .path == "/v1.41/containers/'"$TAG"'-box/json")' "$WORK/cf.log" >/dev/null ||
                fail "the denial is not in the JSON log"
        proxy_stop
        # bad settings: a clear error naming the setting, and nothing started
        printf 'CONTAINERS=1\ndeny GET containers\n' >"$WORK/bad.conf"
        rc=0
        out=$("$PROXY" --config "$WORK/bad.conf" --check 2>&1) || rc=$?
        [ "$rc" -ne 0 ] && [[ $out == *"bad.conf:2: deny GET containers: a pattern starts with /"* ]] || fail "bad config: $rc $out"
        rc=0
        out=$(env -i POST=maybe "$PROXY" --check 2>&1) || rc=$?
        [ "$rc" -ne 0 ] && [[ $out == *'environment: POST: "maybe" is not a boolean'* ]] || fail "bad variable: $rc $out"
        rc=0
        out=$("$PROXY" --listen "nonsense" "$DOCKERD_SOCK" 2>&1) || rc=$?
        [ "$rc" -ne 0 ] && [[ $out == *"--listen nonsense: expected ADDR:PORT"* ]] || fail "bad --listen: $rc $out"
        rc=0
        out=$("$PROXY" --user no-such-user-p12 --listen "unix:$WORK/nu.sock" "$DOCKERD_SOCK" 2>&1) || rc=$?
        [ "$rc" -ne 0 ] && [[ $out == *"--user no-such-user-p12: no user"* ]] || fail "bad --user: $rc $out"
        rc=0
        out=$("$PROXY" --config "$WORK/proxy.conf" --check 2>&1) || rc=$?
        [ "$rc" -eq 0 ] || fail "--check of a good file: $out"
}

# docs/PROXY.md's command: the static binary in the busybox image under stockade, read-only, no
# capabilities, no_new_privs, no network, as nobody with the socket's group, listening on a unix
# socket in a bound directory.
t_hardened_stockade_container() {
        # the static build (STOCKADE_PROXY may name the sanitizer one, which needs the host's libraries)
        local stockade=$REPO_ROOT/build/stockade rc=0
        [ -x "$stockade" ] || fail "$stockade not built"
        readelf -l "$REPO_ROOT/build/stockade-proxy" >"$WORK/px.elf"
        ! grep -q 'program interpreter' "$WORK/px.elf" ||
                fail "build/stockade-proxy is not static (configure build/ without sanitizers)"
        export STOCKADE_DATA_ROOT=$WORK/sk/data STOCKADE_EXEC_ROOT=$WORK/sk/run STOCKADE_CONFIG=$WORK/sk/daemon.json
        mkdir -p "$WORK/sk"
        echo '{}' >"$STOCKADE_CONFIG"
        "$REPO_ROOT/tools/busybox-image.sh" "$stockade" >/dev/null
        install -d -o 65534 -g "$(stat -c %g "$DOCKERD_SOCK")" -m 0750 "$WORK/pxrun"
        "$stockade" run -d --name "$TAG-px" --read-only --cap-drop ALL --security-opt no-new-privileges \
                --user "65534:$(stat -c %g "$DOCKERD_SOCK")" --network none --pids-limit 64 --memory 64m \
                -v "$DOCKERD_SOCK:/var/run/docker.sock" -v "$REPO_ROOT/build/stockade-proxy:/stockade-proxy:ro" -v "$WORK/pxrun:/run/proxy" \
                -e CONTAINERS=1 busybox /stockade-proxy --listen unix:/run/proxy/docker.sock >/dev/null
        local i
        for ((i = 0; i < 100; i++)); do
                [ -S "$WORK/pxrun/docker.sock" ] && break
                sleep 0.05
        done
        output=$(DOCKER_HOST=unix://$WORK/pxrun/docker.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" ps \
                --format '{{.Names}}' 2>&1) || rc=$?
        [ "$rc" -eq 0 ] && [[ $output == *"$TAG-box"* ]] || fail "ps through the contained proxy: $output $("$stockade" logs "$TAG-px" 2>&1)"
        rc=0
        output=$(DOCKER_HOST=unix://$WORK/pxrun/docker.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" images 2>&1) || rc=$?
        [ "$rc" -ne 0 ] && [[ $output == *"IMAGES=0"* ]] || fail "images through the contained proxy: $output"
        # the decision reaches the container's log (through its monitor: poll)
        for ((i = 0; i < 100; i++)); do
                "$stockade" logs "$TAG-px" >"$WORK/px.log" 2>&1 || true
                grep -q 'deny GET /v1.41/images/json' "$WORK/px.log" && break
                sleep 0.1
        done
        grep -q 'deny GET /v1.41/images/json' "$WORK/px.log" || fail "no decision in the container's log: $(cat "$WORK/px.log")"
        "$stockade" rm -f "$TAG-px" >/dev/null
}

# stockade serve as the upstream (issue 11's API): the docker CLI through the proxy to stockade.
t_stockade_serve_upstream() {
        local stockade=$REPO_ROOT/build/stockade sv=$WORK/sv i rc=0
        mkdir -p "$sv"
        echo '{}' >"$sv/daemon.json"
        export STOCKADE_DATA_ROOT=$sv/data STOCKADE_EXEC_ROOT=$sv/run STOCKADE_CONFIG=$sv/daemon.json
        "$REPO_ROOT/tools/busybox-image.sh" "$stockade" >/dev/null || fail "busybox image for stockade"
        "$stockade" serve -H "unix://$sv/api.sock" >"$sv/serve.log" 2>&1 &
        echo $! >>"$WORK/proxy.pids"
        # sv_proxy NAME VAR=VALUE...: a proxy on $sv/NAME.sock in front of stockade serve
        sv_proxy() {
                local name=$1
                shift
                env -i PATH="$PATH" "$@" "$PROXY" --listen "unix:$sv/$name.sock" --log-file "$sv/$name.log" "$sv/api.sock" \
                        2>"$sv/$name.err" &
                PXPID=$!
                echo "$PXPID" >>"$WORK/proxy.pids"
                for ((i = 0; i < 100; i++)); do
                        [ -S "$sv/$name.sock" ] && [ -S "$sv/api.sock" ] && return 0
                        sleep 0.05
                done
                fail "stockade-proxy $name did not start: $(cat "$sv/$name.err")"
        }
        # sv_dk NAME ARGS...: the docker CLI through proxy NAME
        sv_dk() { local name=$1; shift; DOCKER_HOST=unix://$sv/$name.sock DOCKER_CONFIG=$WORK/dockerd/cli "$DOCKER_CLI" "$@" 2>&1; }
        # VOLUMES=1 opens /volumes to GET; create needs POST=1 and rm DELETE=1; DriverOpts are refused
        sv_proxy vr VOLUMES=1
        sv_proxy vw VOLUMES=1 POST=1 DELETE=1
        output=$(sv_dk vw volume create pxvol) && [ "$output" = pxvol ] || fail "volume create with VOLUMES=1 POST=1: $output"
        output=$(sv_dk vr volume ls -q) && [ "$output" = pxvol ] || fail "volume ls with VOLUMES=1: $output"
        output=$(sv_dk vr volume inspect -f '{{.Name}} {{.Driver}}' pxvol) && [ "$output" = "pxvol local" ] ||
                fail "volume inspect with VOLUMES=1: $output"
        output=$(sv_dk vr volume create pxvol2) && fail "volume create with POST=0 passed: $output"
        [[ $output == *"stockade-proxy: POST=0"* ]] || fail "volume create with POST=0: $output"
        output=$(sv_dk vr volume rm pxvol) && fail "volume rm with DELETE=0 passed: $output"
        [[ $output == *"stockade-proxy: DELETE=0"* ]] || fail "volume rm with DELETE=0: $output"
        output=$(sv_dk vr ps) && fail "VOLUMES=1 opened /containers: $output"
        output=$(sv_dk vw volume create -o type=none -o o=bind -o device=/ pxroot) && fail "DriverOpts passed: $output"
        [[ $output == *"stockade-proxy: DriverOpts: volume driver options are not allowed"* ]] || fail "DriverOpts: $output"
        output=$(sv_dk vw volume rm pxvol) && [ "$output" = pxvol ] || fail "volume rm with VOLUMES=1 DELETE=1: $output"
        [ -z "$(sv_dk vr volume ls -q)" ] || fail "volumes left: $(sv_dk vr volume ls -q)"
        # docker run attaches: CONTAINERS=1 alone does not open attach (docs/PROXY.md)
        sv_proxy px CONTAINERS=1 CONTAINERS_ATTACH=1 POST=1
        sv_docker() { sv_dk px "$@"; }
        output=$(sv_docker version --format '{{.Server.Version}}') || fail "version through the proxy: $output"
        output=$(sv_docker run --rm --cap-drop ALL --read-only busybox echo hi-through-proxy) ||
                fail "run through the proxy to stockade serve: $output $(tail -5 "$sv/serve.log")"
        [ "$output" = hi-through-proxy ] || fail "output: $output"
        output=$(sv_docker run --rm --privileged busybox true) && fail "--privileged passed: $output"
        [[ $output == *"stockade-proxy: HostConfig.Privileged"* ]] || fail "--privileged refusal: $output"
        output=$(sv_docker ps -a --format '{{.Names}}') || fail "ps: $output"
        grep -q "allow GET /v1\.[0-9]*/containers/json" "$sv/px.log" || fail "no decision logged: $(cat "$sv/px.log")"
        "$stockade" rm -f $("$stockade" ps -aq) >/dev/null 2>&1 || true
        proxy_stop
}

run_test "docker ps allowed with CONTAINERS=1, refused without, the defaults" t_ps_with_containers
run_test "docker run refused with 403 when POST=0" t_run_refused_without_post
run_test "docker events streams through the proxy for over a minute" t_events_stream_over_a_minute
run_test "docker exec -it with EXEC=1 POST=1 (pty, both ways, exit code)" t_exec_it
run_test "create bodies inspected: --privileged, -v /:/host, caps, host namespaces, devices refused" t_create_body_inspection
run_test "docker-socket-proxy's holes closed: ALLOW_* without POST, no DELETE/PUT from POST, no logs/archive/export/attach from CONTAINERS" t_holes_closed
run_test "followed logs stream through the proxy" t_followed_logs
run_test "path tricks refused or normalised; smuggling refused; keep-alive and pipelining" t_path_tricks
run_test "SIGTERM with open streams: the proxy ends them and exits 0" t_shutdown_with_open_streams
run_test "configuration file, --user nobody, JSON log, bad settings" t_config_user_json
run_test "runs as a hardened stockade container (docs/PROXY.md)" t_hardened_stockade_container
run_test "stockade serve as the upstream: VOLUMES (GET; POST and DELETE need theirs; DriverOpts refused), docker run through the proxy, --privileged refused" t_stockade_serve_upstream
finish
