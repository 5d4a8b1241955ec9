#!/bin/bash
# The splunk driver end to end: `stockade run --log-driver splunk` into the strict HEC receiver
# (tests/helpers/splunk-receiver.py: python3's standard library, HTTPS with a CA made here by the
# openssl CLI), which refuses anything but docker's requests and events and writes what it accepts as
# JSON lines.  Covers each format, gzip, the TLS options (CA, a wrong CA, insecureskipverify), the
# tag, labels and env attributes, 16 KiB pieces, batches of at most 1000, a collector that is down at
# start (docker's check fails the start, unless splunk-verify-connection=false), and a collector that
# fails for a while: every line arrives once it answers again.
. "$(dirname "$0")/engine-lib.sh"

SP=$WORK/splunk
RECEIVER=$REPO_ROOT/tests/helpers/splunk-receiver.py
HOST=$(hostname)

make_pki() {
        local k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
        (
                cd "$SP"
                # shellcheck disable=SC2086
                openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 -subj /CN=stockade-test-ca \
                        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
                # shellcheck disable=SC2086
                openssl req -x509 $k -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca \
                        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
                # shellcheck disable=SC2086
                openssl req $k -keyout server.key -out server.csr -subj /CN=localhost
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
        ) >"$SP/openssl.log" 2>&1
}

# Starts a receiver named NAME (http or https) on a free port; sets ${NAME}_PORT.
rc_start() {
        local name=$1 d=$SP/$1 i
        shift
        mkdir -p "$d"
        rm -f "$d/port"
        python3 "$RECEIVER" --port-file "$d/port" --token T --out "$d/events.jsonl" --errors "$d/errors.log" \
                --requests "$d/requests.log" --status-file "$d/status" "$@" >"$d/receiver.log" 2>&1 </dev/null &
        echo $! >"$d/pid"
        for i in $(seq 1 400); do
                if [ -s "$d/port" ]; then
                        printf -v "${name}_PORT" '%s' "$(cat "$d/port")"
                        return 0
                fi
                kill -0 "$(cat "$d/pid")" 2>/dev/null || break
                sleep 0.05
        done
        echo "receiver $name did not start: $(tail -5 "$d/receiver.log")" >&2
        return 1
}

rc_stop_all() {
        local p
        for p in "$SP"/*/pid; do
                [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
        done
}

# The events the receiver NAME has accepted whose line or raw event holds MARKER, once there are N
# (the monitor posts when its queue runs empty, and at the latest when it closes; up to 30 s).
events() {
        local name=$1 marker=$2 n=$3 i
        for i in $(seq 1 600); do
                if [ "$(grep -cF -- "$marker" "$SP/$name/events.jsonl" 2>/dev/null || true)" -ge "$n" ]; then
                        break
                fi
                sleep 0.05
        done
        grep -F -- "$marker" "$SP/$name/events.jsonl" 2>/dev/null || true
}

# The receiver refused nothing (every request and event was docker's).
no_refusals() {
        [ ! -s "$SP/$1/errors.log" ] || fail "receiver $1 refused: $(cat "$SP/$1/errors.log")"
}

need_receiver() {
        [ -n "${SP_OK:-}" ] || skip "$SP_WHY"
}

id_of() {
        "$STOCKADE" inspect --format '{{.Id}}' "$1"
}

record_of() {
        echo "$STOCKADE_DATA_ROOT/containers/$(id_of "$1")/container.json"
}

# ================================================================ formats and options

t_https_json_gzip() {
        need_receiver
        sk run --name sp-json --log-driver splunk --log-opt "splunk-url=https://127.0.0.1:$https_PORT" \
                --log-opt splunk-token=T --log-opt "splunk-capath=$SP/ca.pem" --log-opt splunk-format=json \
                --log-opt splunk-gzip=true busybox sh -c 'echo "{\"sp-json\": [1, 2.50], \"ok\": true}"; echo "sp-json plain"; echo "sp-json err" >&2'
        expect_status 0
        local id lines
        id=$(id_of sp-json)
        lines=$(events https sp-json 3)
        [ "$(wc -l <<<"$lines")" = 3 ] || fail "expected 3 events: $lines"
        # The line that is JSON arrives as JSON; the default tag is the short id; host is this machine.
        jq -e --arg tag "${id:0:12}" --arg host "$HOST" -s '
                .[0].event == {"line": {"sp-json": [1, 2.50], "ok": true}, "source": "stdout", "tag": $tag}
                and .[1].event == {"line": "sp-json plain", "source": "stdout", "tag": $tag}
                and .[2].event == {"line": "sp-json err", "source": "stderr", "tag": $tag}
                and all(.[]; .host == $host and (.time | test("^[0-9]+\\.[0-9]{6}$"))
                        and (keys == ["event", "host", "time"]))' <<<"$lines" >/dev/null ||
                fail "events: $lines"
        grep -q " POST /services/collector/event/1.0 200 gzip " "$SP/https/requests.log" ||
                fail "no gzip post: $(cat "$SP/https/requests.log")"
        no_refusals https
        sk rm sp-json
}

t_http_inline_attrs() {
        need_receiver
        sk run --name sp-inline --label app=web --label other=x -e SP_ENV=v1 --log-driver splunk \
                --log-opt "splunk-url=http://127.0.0.1:$http_PORT/" --log-opt splunk-token=T \
                --log-opt splunk-source=src --log-opt splunk-sourcetype=docker:test --log-opt splunk-index=main \
                --log-opt labels=app --log-opt env=SP_ENV --log-opt 'tag={{.Name}}/{{.ImageName}}' \
                busybox sh -c 'echo "sp-inline <b>&amp;</b>"'
        expect_status 0
        local line
        line=$(events http sp-inline 1)
        jq -e --arg host "$HOST" '. == {"event": {"line": "sp-inline <b>&amp;</b>", "source": "stdout",
                        "tag": "sp-inline/busybox", "attrs": {"app": "web", "SP_ENV": "v1"}},
                "time": .time, "host": $host, "source": "src", "sourcetype": "docker:test", "index": "main"}' \
                <<<"$line" >/dev/null || fail "event: $line"
        no_refusals http
        sk rm sp-inline
}

t_raw() {
        need_receiver
        sk run --name sp-raw --label app=web --log-driver splunk --log-opt "splunk-url=http://127.0.0.1:$http_PORT" \
                --log-opt splunk-token=T --log-opt splunk-format=raw --log-opt labels=app --log-opt tag=rawtag \
                busybox sh -c 'echo sp-raw one; echo "   "; echo; echo sp-raw two >&2'
        expect_status 0
        local lines
        lines=$(events http sp-raw 2)
        # Blank lines are not sent (HEC refuses them), as docker's raw format skips them.
        [ "$(jq -r .event <<<"$lines")" = "rawtag app=web sp-raw one
rawtag app=web sp-raw two" ] || fail "events: $lines"
        no_refusals http
        sk rm sp-raw
}

t_wrong_ca_refused() {
        need_receiver
        sk run --name sp-wrongca --log-driver splunk --log-opt "splunk-url=https://localhost:$https_PORT" \
                --log-opt splunk-token=T --log-opt "splunk-capath=$SP/other-ca.pem" busybox echo never
        expect_status 125
        expect_output_has "failed to initialize logging driver: splunk: failed to verify connection: tcp+tls://localhost:$https_PORT: TLS handshake: certificate verify failed"
        sk rm -f sp-wrongca
}

t_insecure_skip_verify() {
        need_receiver
        sk run --name sp-skip --log-driver splunk --log-opt "splunk-url=https://localhost:$https_PORT" \
                --log-opt splunk-token=T --log-opt "splunk-capath=$SP/other-ca.pem" \
                --log-opt splunk-insecureskipverify=true busybox echo sp-skip ok
        expect_status 0
        [ -n "$(events https "sp-skip ok" 1)" ] || fail "nothing arrived"
        sk rm sp-skip
}

t_long_line_pieces() {
        need_receiver
        # 40000 bytes: docker's 16 KiB pieces, each its own event (16384 + 16384 + 7232).
        sk run --name sp-long --log-driver splunk --log-opt "splunk-url=https://127.0.0.1:$https_PORT" \
                --log-opt splunk-token=T --log-opt "splunk-capath=$SP/ca.pem" --log-opt tag=sp-long \
                busybox sh -c 'head -c 40000 /dev/zero | tr "\0" L; echo'
        expect_status 0
        local lines sizes
        lines=$(events https '"tag":"sp-long"' 3)
        sizes=$(jq -r '.event.line | length' <<<"$lines" | tr '\n' ' ')
        [ "$sizes" = "16384 16384 7232 " ] || fail "piece sizes: $sizes"
        sk rm sp-long
}

t_batches_in_order() {
        need_receiver
        # 2500 lines in one go: posts of at most 1000 events, every line once, in order.
        sk run --name sp-many --log-driver splunk --log-opt "splunk-url=http://127.0.0.1:$http_PORT" \
                --log-opt splunk-token=T --log-opt tag=sp-many --log-opt splunk-gzip=true \
                busybox sh -c 'i=1; while [ $i -le 2500 ]; do printf "sp-many %05d\n" $i; i=$((i + 1)); done'
        expect_status 0
        local lines
        lines=$(events http '"tag":"sp-many"' 2500)
        [ "$(jq -r .event.line <<<"$lines" | tr '\n' ' ')" = "$(seq -f 'sp-many %05g' 1 2500 | tr '\n' ' ')" ] ||
                fail "lines missing, out of order or repeated: $(wc -l <<<"$lines") events"
        awk '$2 == "POST" && $6 > 1000 { bad = 1 } END { exit bad }' "$SP/http/requests.log" ||
                fail "a post of more than 1000 events: $(cat "$SP/http/requests.log")"
        no_refusals http
        sk rm sp-many
}

# ================================================================ a collector that is down or failing

t_down_at_start() {
        local port
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        # docker's check (OPTIONS on the collector) fails the start ...
        sk run --name sp-down --log-driver splunk --log-opt "splunk-url=http://127.0.0.1:$port" \
                --log-opt splunk-token=T busybox echo never
        expect_status 125
        expect_output_has "failed to initialize logging driver: splunk: failed to verify connection: connect to tcp://127.0.0.1:$port: Connection refused"
        sk rm -f sp-down
        # ... unless it is off: the container runs, and the monitor says what it could not send.
        sk run --name sp-nocheck --log-driver splunk --log-opt "splunk-url=http://127.0.0.1:$port" \
                --log-opt splunk-token=T --log-opt splunk-verify-connection=false busybox echo lost
        expect_status 0
        local log i
        log=$STOCKADE_EXEC_ROOT/containers/$(id_of sp-nocheck)/monitor.log
        for i in $(seq 1 600); do # the monitor tries once more at close (up to 15 s), then ends
                grep -q "messages dropped" "$log" 2>/dev/null && break
                sleep 0.05
        done
        grep -q "log driver splunk: 1 messages dropped (unsent at close): splunk: failed to send event: connect to tcp://127.0.0.1:$port: Connection refused" "$log" ||
                fail "monitor.log: $(cat "$log")"
        sk rm sp-nocheck
}

t_failing_then_back() {
        need_receiver
        local d=$SP/http i lines
        mkdir -p "$WORK/sync-sp-back"
        # The collector answers 503 while the container writes its lines ...
        echo 503 >"$d/status"
        sk run -d --name sp-back -v "$WORK/sync-sp-back:/sync" --log-driver splunk \
                --log-opt "splunk-url=http://127.0.0.1:$http_PORT" --log-opt splunk-token=T --log-opt tag=sp-back \
                busybox sh -c 'i=1; while [ $i -le 300 ]; do printf "sp-back %03d\n" $i; i=$((i + 1)); done
                        while [ ! -e /sync/go ]; do sleep 0.05; done; echo sp-back end'
        expect_status 0
        for i in $(seq 1 600); do
                grep -q " POST .* 503 " "$d/requests.log" 2>/dev/null && break
                sleep 0.05
        done
        grep -q " POST .* 503 " "$d/requests.log" || fail "the driver never posted"
        # ... and answers again: what was held is sent at the next try (5 s on) or at the latest at close.
        rm -f "$d/status"
        touch "$WORK/sync-sp-back/go"
        status=0
        timeout 60 "$STOCKADE" wait sp-back >/dev/null || status=$?
        [ "$status" = 0 ] || fail "stockade wait: $status"
        lines=$(events http '"tag":"sp-back"' 301)
        [ "$(jq -r .event.line <<<"$lines" | tr '\n' ' ')" = "$(seq -f 'sp-back %03g' 1 300 | tr '\n' ' ')sp-back end " ] ||
                fail "lines missing, out of order or repeated: $(wc -l <<<"$lines") events"
        no_refusals http
        sk rm sp-back
}

SP_OK= SP_WHY=
mkdir -p "$SP"
if ! command -v python3 >/dev/null || ! python3 -c 'import http.server, ssl' 2>/dev/null; then
        SP_WHY="python3 with http.server and ssl is missing (tools/setup.sh installs python3)"
elif ! command -v openssl >/dev/null; then
        SP_WHY="openssl is missing (tools/setup.sh installs it)"
elif make_pki && rc_start http && rc_start https --tls-cert "$SP/server.pem" --tls-key "$SP/server.key"; then
        SP_OK=1
else
        echo "Bail out! the splunk receiver would not start: $(tail -3 "$SP"/*/receiver.log "$SP/openssl.log" 2>/dev/null)"
        rc_stop_all
        exit 1
fi
trap 'rc_stop_all; lib_exit' EXIT

# The monitor must carry the driver (stockade-monitor-net: meson.build's logdriver_net_sources and
# logpipe.c's log_driver_ops); without it every check below would fail for that one reason.
sk run --name sp-probe --log-driver splunk --log-opt "splunk-url=http://127.0.0.1:${http_PORT:-1}" \
        --log-opt splunk-token=T --log-opt splunk-verify-connection=false busybox true
case "$output" in
*"no log driver named 'splunk'"*)
        echo "Bail out! the monitor has no splunk driver: $output"
        exit 1
        ;;
esac
sk rm -f sp-probe

run_test "https, json format, gzip, splunk-capath: docker's events" t_https_json_gzip
run_test "http, inline: tag template, labels and env attributes, source, sourcetype, index" t_http_inline_attrs
run_test "raw format: tag and attributes before the line, blank lines not sent" t_raw
run_test "https with the wrong CA: the start fails with the reason" t_wrong_ca_refused
run_test "splunk-insecureskipverify=true: the wrong CA is accepted" t_insecure_skip_verify
run_test "a 40000-byte line: three events of 16384, 16384 and 7232 bytes" t_long_line_pieces
run_test "2500 lines: posts of at most 1000 events, all in order" t_batches_in_order
run_test "a collector down at start: 125 (or, without the check, the drops said in monitor.log)" t_down_at_start
run_test "a collector failing then back: every line arrives once, in order" t_failing_then_back
finish
