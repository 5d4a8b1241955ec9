#!/bin/bash
# The fluentd driver end to end: `stockade run --log-driver fluentd` into tests/helpers/fluentd-receiver.py,
# a strict forward input that decodes with Debian's python3-msgpack (independent of stockade's
# encoder), refuses anything docker's driver would not send, and writes each event as a JSON line.
# Covers TCP and unix sockets, the tag template and the default tag, sub-second times, labels as
# record fields, acks, 16 KiB pieces with docker's partial fields, a server that is down at start
# (the start fails; with fluentd-async the container runs and its lines arrive once the server is
# up), and bad options.
. "$(dirname "$0")/engine-lib.sh"

PY=/usr/bin/python3 # Debian's, with python3-msgpack
RECEIVER=$REPO_ROOT/tests/helpers/fluentd-receiver.py

free_port() {
        "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts a receiver in $WORK/fl-NAME (out.jsonl, errors.txt, fluent.sock) on PORT (0: any); sets
# FL_DIR, FL_PORT and FL_PID.  Extra arguments go to the receiver.
fl_start() {
        local name=$1 port=$2 i
        shift 2
        FL_DIR=$WORK/fl-$name
        mkdir -p "$FL_DIR"
        rm -f "$FL_DIR/port"
        : >"$FL_DIR/errors.txt"
        "$PY" "$RECEIVER" --out "$FL_DIR/out.jsonl" --errors "$FL_DIR/errors.txt" --unix "$FL_DIR/fluent.sock" \
                --port "$port" --port-file "$FL_DIR/port" "$@" >>"$FL_DIR/receiver.log" 2>&1 </dev/null &
        FL_PID=$!
        for i in $(seq 1 400); do
                if [ -s "$FL_DIR/port" ]; then
                        FL_PORT=$(cat "$FL_DIR/port")
                        return 0
                fi
                kill -0 "$FL_PID" 2>/dev/null || break
                sleep 0.05
        done
        fail "the receiver did not start: $(tail -5 "$FL_DIR/receiver.log")"
}

fl_stop() {
        [ -n "${FL_PID:-}" ] || return 0
        kill "$FL_PID" 2>/dev/null || true
        wait "$FL_PID" 2>/dev/null || true
        FL_PID=
}

# Waits until the receiver has N events (at most 60 s: a bound against a hang, not a timing).
fl_wait() {
        local n=$1 i
        for i in $(seq 1 1200); do
                [ "$(wc -l <"$FL_DIR/out.jsonl" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
                sleep 0.05
        done
        fail "expected $n events, got $(wc -l <"$FL_DIR/out.jsonl" 2>/dev/null || echo 0)"
}

fl_no_errors() {
        [ ! -s "$FL_DIR/errors.txt" ] || fail "the receiver refused: $(cat "$FL_DIR/errors.txt")"
}

need_receiver() {
        "$PY" -c 'import msgpack' 2>/dev/null || fail "$PY cannot import msgpack: run tools/setup.sh (python3-msgpack)"
}

t_tcp_tag_sub_second_labels() {
        need_receiver
        fl_start tcp 0
        trap fl_stop EXIT
        # a label named like one of the record's fields does not replace it (docker's would)
        sk run --name fl1 --label team=shop --label other=x --label container_id=spoofed --log-driver fluentd \
                --log-opt "fluentd-address=127.0.0.1:$FL_PORT" --log-opt 'tag=docker.{{.Name}}.{{.ImageName}}' \
                --log-opt fluentd-sub-second-precision=true --log-opt labels=team,container_id \
                busybox sh -c 'echo to-stdout; echo to-stderr >&2'
        expect_status 0
        fl_wait 2
        fl_no_errors
        local id out err
        id=$("$STOCKADE" inspect --format '{{.Id}}' fl1)
        out=$(jq -c 'select(.record.source == "stdout")' "$FL_DIR/out.jsonl")
        err=$(jq -c 'select(.record.source == "stderr")' "$FL_DIR/out.jsonl")
        jq -e --arg id "$id" '.tag == "docker.fl1.busybox" and .transport == "tcp" and
                .record == {"container_id": $id, "container_name": "/fl1", "source": "stdout", "log": "to-stdout",
                            "team": "shop"} and
                (.time | type == "object" and .sec > 1600000000 and .nsec >= 0 and .nsec < 1000000000) and
                .option == {}' <<<"$out" >/dev/null || fail "stdout event: $out"
        jq -e '.record.log == "to-stderr" and .record.team == "shop"' <<<"$err" >/dev/null || fail "stderr event: $err"
        # the time is when the monitor read the line: the run's own second, give or take the clock
        local now sec
        now=$(date +%s)
        sec=$(jq -r .time.sec <<<"$out")
        [ $((now - sec)) -lt 600 ] && [ $((now - sec)) -ge -5 ] || fail "time $sec is not now ($now)"
        sk rm fl1
}

t_unix_default_tag_ack() {
        need_receiver
        fl_start unix 0
        trap fl_stop EXIT
        sk run --name fl2 --log-driver fluentd --log-opt "fluentd-address=unix://$FL_DIR/fluent.sock" \
                --log-opt fluentd-request-ack=true busybox sh -c 'for i in 1 2 3; do echo line $i; done'
        expect_status 0
        fl_wait 3
        fl_no_errors
        local id
        id=$("$STOCKADE" inspect --format '{{.Id}}' fl2)
        jq -se --arg tag "${id:0:12}" 'length == 3 and all(.[]; .tag == $tag and .transport == "unix" and
                (.time | type == "number") and (.option.chunk | type == "string" and length == 24)) and
                ([.[].record.log] == ["line 1", "line 2", "line 3"]) and
                ([.[].option.chunk] | unique | length == 3)' "$FL_DIR/out.jsonl" >/dev/null ||
                fail "events: $(cat "$FL_DIR/out.jsonl")"
        sk rm fl2
}

t_long_line_partial_fields() {
        need_receiver
        fl_start long 0
        trap fl_stop EXIT
        sk run --name fl3 --log-driver fluentd --log-opt "fluentd-address=tcp://127.0.0.1:$FL_PORT" busybox sh -c \
                'head -c 40000 /dev/zero | tr "\0" a; echo; echo short; printf "no-newline-at-end"'
        expect_status 0
        fl_wait 5
        fl_no_errors
        local ev
        ev=$(jq -sc '.' "$FL_DIR/out.jsonl")
        jq -e '[.[0:3][].record | {n: (.log | length), o: .partial_ordinal, l: .partial_last, m: .partial_message}] ==
                [{n: 16384, o: "1", l: "false", m: "true"}, {n: 16384, o: "2", l: "false", m: "true"},
                 {n: 7232, o: "3", l: "true", m: "true"}]' <<<"$ev" >/dev/null ||
                fail "pieces: $(jq -c '[.[].record | del(.log)]' <<<"$ev")"
        jq -e '[.[0:3][].record.partial_id] | unique | length == 1 and (.[0] | test("^[0-9a-f]{64}$"))' <<<"$ev" \
                >/dev/null || fail "partial ids: $(jq -c '[.[].record.partial_id]' <<<"$ev")"
        jq -e '.[3].record.log == "short" and (.[3].record | has("partial_id") | not)' <<<"$ev" >/dev/null ||
                fail "the whole line after the pieces: $(jq -c '.[3].record' <<<"$ev")"
        jq -e '.[4].record.log == "no-newline-at-end"' <<<"$ev" >/dev/null || fail "the unfinished end: $(jq -c '.[4]' <<<"$ev")"
        sk rm fl3
}

t_down_at_start_fails() {
        local port
        port=$(free_port)
        sk run --name fl4 --log-driver fluentd --log-opt "fluentd-address=127.0.0.1:$port" busybox echo never
        expect_status 125
        expect_output_has "failed to initialize logging driver"
        expect_output_has "tcp://127.0.0.1:$port"
        expect_output_has "Connection refused"
        sk rm -f fl4
}

t_async_down_at_start() {
        need_receiver
        local port
        port=$(free_port)
        mkdir -p "$WORK/sync-fl5"
        # The server is not there: the container starts anyway, writes its 2000 lines and goes on (it
        # touches /sync/done, which the test waits for with the server still down).
        sk run -d --name fl5 -v "$WORK/sync-fl5:/sync" --log-driver fluentd --log-opt "fluentd-address=127.0.0.1:$port" \
                --log-opt fluentd-async=true --log-opt fluentd-retry-wait=100ms busybox sh -c \
                'i=1; while [ $i -le 2000 ]; do printf "async %04d\n" $i; i=$((i + 1)); done; touch /sync/done; sleep 300'
        expect_status 0
        local i
        for i in $(seq 1 1200); do
                [ -e "$WORK/sync-fl5/done" ] && break
                sleep 0.05
        done
        [ -e "$WORK/sync-fl5/done" ] || fail "the container did not get past its writes with the server down"
        # Now the server comes up on that port: every line arrives, in order, without asking.
        fl_start async "$port"
        trap fl_stop EXIT
        fl_wait 2000
        fl_no_errors
        jq -r .record.log "$FL_DIR/out.jsonl" | awk '$0 != sprintf("async %04d", NR) { bad = 1 } END { exit bad || NR != 2000 }' ||
                fail "lines missing, repeated or out of order: $(jq -r .record.log "$FL_DIR/out.jsonl" | head -3)"
        sk rm -f fl5
}

t_server_down_and_back() {
        need_receiver
        fl_start back 0
        trap fl_stop EXIT
        local port=$FL_PORT
        mkdir -p "$WORK/sync-fl6"
        # Synchronous and blocking (the defaults): the container logs its first line, then waits for
        # /sync/go; meanwhile the server goes away.  Its 300 lines wait in the monitor, and arrive, in
        # order and once each, when the server is back on its port.
        sk run -d --name fl6 -v "$WORK/sync-fl6:/sync" --log-driver fluentd --log-opt "fluentd-address=127.0.0.1:$port" \
                --log-opt fluentd-retry-wait=100ms busybox sh -c \
                'echo first; while [ ! -e /sync/go ]; do sleep 0.05; done
                 i=1; while [ $i -le 300 ]; do printf "back %03d\n" $i; i=$((i + 1)); done'
        expect_status 0
        fl_wait 1
        fl_stop
        touch "$WORK/sync-fl6/go"
        sleep 1 # the monitor meets a closed connection and refused connects; not needed for the result
        fl_start back "$port"
        fl_wait 301
        fl_no_errors
        jq -r .record.log "$FL_DIR/out.jsonl" | awk 'NR == 1 { if ($0 != "first") bad = 1; next }
                $0 != sprintf("back %03d", NR - 1) { bad = 1 } END { exit bad || NR != 301 }' ||
                fail "lines missing, repeated or out of order: $(jq -r .record.log "$FL_DIR/out.jsonl" | head -5)"
        sk wait fl6 >/dev/null
        sk rm fl6
}

t_bad_options() {
        local before
        before=$(all_container_ids | wc -l)
        sk run --log-driver fluentd --log-opt fluentd-address=udp://127.0.0.1:24224 busybox true
        expect_status 125
        expect_output_has "fluentd-address"
        expect_output_has "udp"
        sk run --log-driver fluentd --log-opt fluentd-async=maybe busybox true
        expect_status 125
        expect_output_has "fluentd-async"
        sk run --log-driver fluentd --log-opt fluentd-nope=1 busybox true
        expect_status 125
        expect_output_has "unknown log opt 'fluentd-nope' for fluentd log driver"
        sk run --log-driver fluentd --log-opt fluentd-retry-wait=soon busybox true
        expect_status 125
        expect_output_has "fluentd-retry-wait"
        [ "$(all_container_ids | wc -l)" = "$before" ] || fail "a container was created"
}

echo '{}' >"$STOCKADE_CONFIG"
run_test "tcp: docker's record, the tag template, EventTime, a label as a field" t_tcp_tag_sub_second_labels
run_test "unix socket, the default tag (12 hex), acks with a chunk per message" t_unix_default_tag_ack
run_test "a 40000-byte line: three events with docker's partial fields; the unfinished end" t_long_line_partial_fields
run_test "a fluentd that is down at start: 125 and the reason" t_down_at_start_fails
run_test "fluentd-async, down at start: the container runs, its 2000 lines arrive once fluentd is up" t_async_down_at_start
run_test "synchronous, blocking: fluentd down then back, all 300 lines arrive in order" t_server_down_and_back
run_test "bad fluentd options: 125 with the key, nothing created" t_bad_options
finish
