#!/bin/bash
# The syslog driver end to end: `stockade run --log-driver syslog` into a real rsyslogd (Debian's)
# started here with a private configuration (imtcp, imtcp over TLS with and without client
# certificates, imudp, imptcp on a unix socket, imuxsock), each received message written by an omfile
# template as "input|pri|hostname|syslogtag|app-name|procid|msgid|msg|rawmsg".  Covers each format and
# transport, the tag template, facilities, 16 KiB pieces, a sink that is down at start, and the issue's
# dead-server checks: in non-blocking mode the container finishes and the drop count is recorded; in
# blocking mode every line arrives after the server comes back.
. "$(dirname "$0")/engine-lib.sh"

RS=$WORK/rsyslog
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
HOST=$(hostname)

free_port() {
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

make_pki() {
        local k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
        (
                cd "$RS"
                # shellcheck disable=SC2086
                openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 -subj /CN=stockade-test-ca \
                        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
                printf 'extendedKeyUsage=clientAuth\n' >client.ext
                # shellcheck disable=SC2086
                openssl req $k -keyout server.key -out server.csr -subj /CN=localhost
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
                # shellcheck disable=SC2086
                openssl req $k -keyout client.key -out client.csr -subj /CN=stockade-client
                openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
        ) >"$RS/openssl.log" 2>&1
}

rs_running() {
        [ -f "$RS/rsyslog.pid" ] && kill -0 "$(cat "$RS/rsyslog.pid")" 2>/dev/null
}

# Starts rsyslogd (again) on the same ports and sockets; returns once every listener answers.
rs_start() {
        rm -f "$RS/rsyslog.pid"
        "$RSYSLOGD" -n -f "$RS/rsyslog.conf" -i "$RS/rsyslog.pid" >>"$RS/rsyslogd.log" 2>&1 </dev/null &
        local i
        for i in $(seq 1 200); do
                if [ -S "$RS/dgram.sock" ] && [ -S "$RS/stream.sock" ] && rs_running &&
                        (exec 3<>"/dev/tcp/127.0.0.1/$TCP") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$TLS") 2>/dev/null &&
                        (exec 3<>"/dev/tcp/127.0.0.1/$TLSCERT") 2>/dev/null; then
                        return 0
                fi
                sleep 0.05
        done
        echo "rsyslogd did not come up: $(tail -5 "$RS/rsyslogd.log")" >&2
        return 1
}

# Stops it and waits until it is gone (its sockets closed).
rs_stop() {
        local pid i
        [ -f "$RS/rsyslog.pid" ] || return 0
        pid=$(cat "$RS/rsyslog.pid")
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 200); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        rm -f "$RS/rsyslog.pid"
}

rs_setup() {
        mkdir -p "$RS"
        TCP=$(free_port SOCK_STREAM) TLS=$(free_port SOCK_STREAM) TLSCERT=$(free_port SOCK_STREAM) UDP=$(free_port SOCK_DGRAM)
        make_pki || return 1
        cat >"$RS/rsyslog.conf" <<EOF
global(workDirectory="$RS" maxMessageSize="64k"
       defaultNetstreamDriver="ossl" defaultNetstreamDriverCAFile="$RS/ca.pem"
       defaultNetstreamDriverCertFile="$RS/server.pem" defaultNetstreamDriverKeyFile="$RS/server.key")
module(load="imuxsock" sysSock.use="off")
input(type="imuxsock" socket="$RS/dgram.sock" rateLimit.interval="0")
module(load="imptcp")
input(type="imptcp" path="$RS/stream.sock" unlink="on" name="unix")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$UDP" name="udp" rateLimit.interval="0")
module(load="imtcp" maxSessions="200")
input(type="imtcp" address="127.0.0.1" port="$TCP" name="tcp")
input(type="imtcp" address="127.0.0.1" port="$TLS" name="tls" streamDriver.name="ossl" streamDriver.mode="1"
      streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="$TLSCERT" name="tlscert" streamDriver.name="ossl" streamDriver.mode="1"
      streamDriver.authMode="x509/certvalid")
template(name="parsed" type="string"
         string="%inputname%|%pri%|%hostname%|%syslogtag%|%app-name%|%procid%|%msgid%|%msg%|%rawmsg%\n")
action(type="omfile" file="$RS/out.log" template="parsed")
EOF
        "$RSYSLOGD" -N1 -f "$RS/rsyslog.conf" >"$RS/check.log" 2>&1 || { cat "$RS/check.log" >&2; return 1; }
        rs_start
}

# The received lines holding MARKER, once there are N of them (rsyslog writes asynchronously; up to 30 s).
rs_lines() {
        local marker=$1 n=$2 i
        for i in $(seq 1 600); do
                if [ "$(grep -cF -- "$marker" "$RS/out.log" 2>/dev/null || true)" -ge "$n" ]; then
                        break
                fi
                sleep 0.05
        done
        grep -F -- "$marker" "$RS/out.log" 2>/dev/null || true
}

need_rsyslog() {
        [ -n "${RS_OK:-}" ] || skip "$RS_WHY"
}

id_of() {
        "$STOCKADE" inspect --format '{{.Id}}' "$1"
}

record_of() {
        echo "$STOCKADE_DATA_ROOT/containers/$(id_of "$1")/container.json"
}

# ================================================================ formats and transports

t_tcp_rfc5424_tag() {
        need_rsyslog
        sk run --name sl-tcp --log-driver syslog --log-opt "syslog-address=tcp://127.0.0.1:$TCP" \
                --log-opt syslog-format=rfc5424 --log-opt 'tag={{.Name}}/{{.ID}}' busybox sh -c 'echo to-stdout; echo to-stderr >&2'
        expect_status 0
        local id tag mpid out err
        id=$(id_of sl-tcp)
        tag="sl-tcp/${id:0:12}"
        mpid=$(jq -r .Stockade.MonitorPid "$(record_of sl-tcp)")
        out=$(rs_lines "to-stdout" 1)
        err=$(rs_lines "to-stderr" 1)
        # PRI daemon.info / daemon.err; APP-NAME and MSGID the tag, PROCID the monitor's pid, HOST ours
        [[ "$out" =~ ^tcp\|30\|$HOST\|$tag\[$mpid\]\|$tag\|$mpid\|$tag\|to-stdout\|\<30\>1\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})\ $HOST\ $tag\ $mpid\ $tag\ -\ to-stdout$ ]] ||
                fail "stdout line: $out"
        [[ "$err" =~ ^tcp\|27\|$HOST\|$tag\[$mpid\]\|.*\|\<27\>1\ .*\ -\ to-stderr$ ]] || fail "stderr line: $err"
        sk rm sl-tcp
}

t_udp_rfc3164_facility_default_tag() {
        need_rsyslog
        sk run --name sl-udp --log-driver syslog --log-opt "syslog-address=udp://127.0.0.1:$UDP" \
                --log-opt syslog-format=rfc3164 --log-opt syslog-facility=local3 busybox sh -c 'echo udp-out; echo udp-err >&2'
        expect_status 0
        local id out err
        id=$(id_of sl-udp)
        out=$(rs_lines "udp-out" 1)
        err=$(rs_lines "udp-err" 1)
        # local3 = 19: 19*8+6 and 19*8+3; the default tag is the short id
        [[ "$out" =~ ^udp\|158\|$HOST\|${id:0:12}\[[0-9]+\]:\|${id:0:12}\|[0-9]+\|-\|\ udp-out\|\<158\>[A-Z][a-z]{2}\ [\ 0-9][0-9]\ [0-9:]{8}\ $HOST\ ${id:0:12}\[[0-9]+\]:\ udp-out$ ]] ||
                fail "stdout line: $out"
        [[ "$err" =~ ^udp\|155\| ]] || fail "stderr line: $err"
        sk rm sl-udp
}

t_tls_client_cert_rfc5424micro() {
        need_rsyslog
        # The listener that wants a client certificate signed by the CA; RFC 5425 octet counting.
        sk run --name sl-tls --log-driver syslog --log-opt "syslog-address=tcp+tls://localhost:$TLSCERT" \
                --log-opt syslog-format=rfc5424micro --log-opt "syslog-tls-ca-cert=$RS/ca.pem" \
                --log-opt "syslog-tls-cert=$RS/client.pem" --log-opt "syslog-tls-key=$RS/client.key" \
                --log-opt tag=sl-tls busybox sh -c 'for i in 1 2 3; do echo "tls line $i"; done'
        expect_status 0
        local lines
        lines=$(rs_lines "tls line" 3)
        [ "$(wc -l <<<"$lines")" = 3 ] || fail "expected 3 lines: $lines"
        [[ "$(sed -n 1p <<<"$lines")" =~ ^tlscert\|30\|$HOST\|sl-tls\[[0-9]+\]\|sl-tls\|[0-9]+\|sl-tls\|tls\ line\ 1\|\<30\>1\ [0-9-]{10}T[0-9:]{8}\.[0-9]{6}(Z|[+-][0-9:]{5})\  ]] ||
                fail "line 1: $(sed -n 1p <<<"$lines")"
        [[ "$(sed -n 3p <<<"$lines")" == *"|tls line 3|"* ]] || fail "line 3: $(sed -n 3p <<<"$lines")"
        sk rm sl-tls
}

t_tls_verification_refused() {
        need_rsyslog
        # Without the CA the server's certificate is not trusted: the start fails, as docker's does.
        sk run --name sl-untrusted --log-driver syslog --log-opt "syslog-address=tcp+tls://localhost:$TLS" busybox true
        expect_status 125
        expect_output_has "failed to initialize logging driver: syslog: tcp+tls://localhost:$TLS: TLS handshake: certificate verify failed"
        sk rm -f sl-untrusted
}

t_unix_and_unixgram() {
        need_rsyslog
        sk run --name sl-unix --log-driver syslog --log-opt "syslog-address=unix://$RS/stream.sock" \
                --log-opt syslog-format=rfc3164 --log-opt tag=sl-unix busybox echo over-unix-stream
        expect_status 0
        sk run --name sl-ugram --log-driver syslog --log-opt "syslog-address=unixgram://$RS/dgram.sock" \
                --log-opt tag=sl-ugram busybox echo over-unixgram
        expect_status 0
        local a b
        a=$(rs_lines over-unix-stream 1)
        b=$(rs_lines over-unixgram 1)
        [[ "$a" =~ ^unix\|30\|$HOST\|sl-unix\[[0-9]+\]:\|sl-unix\|.*\|\<30\>[A-Z][a-z]{2}\ [\ 0-9][0-9]\ [0-9:]{8}\ $HOST\ sl-unix\[[0-9]+\]:\ over-unix-stream$ ]] ||
                fail "unix: $a"
        # docker's default format: no host name in the message
        [[ "$b" =~ ^imuxsock\|30\|.*\|\<30\>[A-Z][a-z]{2}\ [\ 0-9][0-9]\ [0-9:]{8}\ sl-ugram\[[0-9]+\]:\ over-unixgram$ ]] ||
                fail "unixgram: $b"
        sk rm sl-unix sl-ugram
}

t_long_line_pieces() {
        need_rsyslog
        # 40000 bytes: docker's 16 KiB pieces, each its own syslog message (16384 + 16384 + 7232).
        sk run --name sl-long --log-driver syslog --log-opt "syslog-address=tcp+tls://127.0.0.1:$TLS" \
                --log-opt "syslog-tls-ca-cert=$RS/ca.pem" --log-opt syslog-format=rfc5424 --log-opt tag=sl-long \
                busybox sh -c 'head -c 40000 /dev/zero | tr "\0" L; echo'
        expect_status 0
        local lines sizes
        lines=$(rs_lines "|sl-long|" 3)
        sizes=$(awk -F'|' '{ print length($8) }' <<<"$lines" | tr '\n' ' ')
        [ "$sizes" = "16384 16384 7232 " ] || fail "piece sizes: $sizes"
        sk rm sl-long
}

t_unreachable_at_start() {
        local port
        port=$(free_port SOCK_STREAM)
        sk run --name sl-down --log-driver syslog --log-opt "syslog-address=tcp://127.0.0.1:$port" busybox echo never
        expect_status 125
        expect_output_has "failed to initialize logging driver: syslog: connect to tcp://127.0.0.1:$port: Connection refused"
        sk rm -f sl-down
}

# ================================================================ the issue's dead-server checks

# Starts a detached container with the syslog driver and MODE that logs "<tag> first", waits for
# $WORK/sync-<tag>/go, then logs N numbered lines; returns once rsyslog has the first line.
start_waiting() {
        local tag=$1 mode=$2 n=$3
        mkdir -p "$WORK/sync-$tag"
        sk run -d --name "$tag" -v "$WORK/sync-$tag:/sync" --log-driver syslog --log-opt mode="$mode" \
                --log-opt "syslog-address=tcp://127.0.0.1:$TCP" --log-opt syslog-format=rfc5424 --log-opt "tag=$tag" \
                busybox sh -c "echo $tag first; while [ ! -e /sync/go ]; do sleep 0.05; done
                        i=1; while [ \$i -le $n ]; do printf '$tag %06d\n' \$i; i=\$((i + 1)); done"
        expect_status 0
        [ -n "$(rs_lines "$tag first" 1)" ] || fail "the first line never arrived"
}

t_non_blocking_dead_server() {
        need_rsyslog
        start_waiting sl-nb non-blocking 5000
        rs_stop
        touch "$WORK/sync-sl-nb/go"
        # The container is never held by the dead sink: it finishes (bounded only as a hang guard).
        local rec mpid dropped
        rec=$(record_of sl-nb)
        mpid=$(jq -r .Stockade.MonitorPid "$rec")
        status=0
        timeout 60 "$STOCKADE" wait sl-nb >/dev/null || status=$?
        [ "$status" = 0 ] || fail "stockade wait: $status"
        # The monitor delivers for up to 2 s after the exit (non-blocking mode), then records the count
        # and ends; the server stays down until then.
        for _ in $(seq 1 300); do
                kill -0 "$mpid" 2>/dev/null || break
                sleep 0.05
        done
        rs_start
        dropped=$(jq -r '.Stockade.LogDropped // 0' "$rec")
        [ "$dropped" = 5000 ] || fail "LogDropped: $dropped, expected 5000"
        [ "$(jq -r .State.ExitCode "$rec")" = 0 ] || fail "exit code $(jq -r .State.ExitCode "$rec")"
        grep -q "syslog log driver dropped 5000 messages" "$STOCKADE_EXEC_ROOT/containers/$(id_of sl-nb)/monitor.log" ||
                fail "monitor.log: $(cat "$STOCKADE_EXEC_ROOT/containers/$(id_of sl-nb)/monitor.log")"
        sk rm sl-nb
}

t_blocking_server_comes_back() {
        need_rsyslog
        start_waiting sl-bl blocking 300
        rs_stop
        touch "$WORK/sync-sl-bl/go"
        sleep 2 # the lines are written while the server is down
        rs_start
        local lines
        lines=$(rs_lines "sl-bl 000" 300)
        [ "$(wc -l <<<"$lines")" = 300 ] || fail "$(wc -l <<<"$lines") of 300 lines arrived"
        # in order, each once
        [ "$(awk -F'|' '{ print $8 }' <<<"$lines" | tr '\n' ' ')" = "$(seq -f 'sl-bl %06g' 1 300 | tr '\n' ' ')" ] ||
                fail "lines out of order or repeated"
        status=0
        timeout 60 "$STOCKADE" wait sl-bl >/dev/null || status=$?
        [ "$status" = 0 ] || fail "stockade wait: $status"
        local rec
        rec=$(record_of sl-bl)
        sleep 0.5
        [ "$(jq -r '.Stockade.LogDropped // 0' "$rec")" = 0 ] || fail "LogDropped: $(jq -r .Stockade.LogDropped "$rec")"
        sk rm sl-bl
}

RS_OK= RS_WHY=
if [ ! -x "$RSYSLOGD" ]; then
        RS_WHY="rsyslogd is not installed (tools/setup.sh installs rsyslog)"
elif ! command -v openssl >/dev/null || ! command -v python3 >/dev/null; then
        RS_WHY="openssl or python3 missing (tools/setup.sh installs them)"
elif rs_setup 2>"$WORK/rs-setup.err"; then
        RS_OK=1
else
        echo "Bail out! rsyslogd would not start with the test configuration: $(tail -3 "$WORK/rs-setup.err")"
        rs_stop
        exit 1
fi
trap 'rs_stop; lib_exit' EXIT

run_test "tcp, rfc5424: docker's fields, the tag template, the monitor's pid" t_tcp_rfc5424_tag
run_test "udp, rfc3164, facility local3, the default tag" t_udp_rfc3164_facility_default_tag
run_test "tcp+tls with a client certificate, rfc5424micro, octet-counted" t_tls_client_cert_rfc5424micro
run_test "tcp+tls without the CA: the start fails with the reason" t_tls_verification_refused
run_test "unix stream (rfc3164) and unixgram (docker's default format)" t_unix_and_unixgram
run_test "a 40000-byte line: three messages of 16384, 16384 and 7232 bytes" t_long_line_pieces
run_test "a syslog server that is down at start: 125 and docker's message" t_unreachable_at_start
run_test "non-blocking, dead server: the container finishes, 5000 drops recorded" t_non_blocking_dead_server
run_test "blocking, server down then back: all 300 lines arrive, in order" t_blocking_server_comes_back
finish
