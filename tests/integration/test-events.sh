#!/bin/bash
# `stockade events` and `stockade audit` from the command line (docs/EVENTS.md): docker's text and
# json output and dockerd's filters over dockerd 20.10's recorded events (tests/data/events), a
# follower that sees lines as they are appended, the CLI's and dockerd's errors, and `audit verify`
# over a log whose hashes this script computes itself with sha256sum (the chain as documented),
# then edits, deletes, swaps and truncates.
# The lifecycle's own events (run --rm, stop of a TERM-ignoring process) are checked once the
# emission points are wired into lifecycle.c and the monitor.
. "$(dirname "$0")/engine-lib.sh"

SAMPLES=$REPO_ROOT/tests/data/events
EV_DIR=$STOCKADE_DATA_ROOT/events

# The current event file (the highest number; the first when there is none).
current_file() {
        local cur
        cur=$(ls "$EV_DIR" | grep -E '^events-[0-9]{10}\.log$' | sort | tail -1) || true
        echo "$EV_DIR/${cur:-events-0000000001.log}"
}

# A log of just the recorded events.
load_samples() {
        rm -rf "$EV_DIR"
        mkdir -p "$EV_DIR"
        chmod 0700 "$EV_DIR"
        cat "$SAMPLES/events-lifecycle.jsonl" "$SAMPLES/events-limits.jsonl" >>"$(current_file)"
}

t_text_and_json() {
        load_samples
        # the recorded ev-rm container, in docker's default text (local time: UTC here)
        output=$(TZ=UTC "$STOCKADE" events --since 1795871879 --until 1795871880.1 -f container=ev-rm)
        [ "$(echo "$output" | head -1)" = "2026-11-28T13:17:59.844194409Z container create 56c62b0df18ad670e3894a644aef1fe4d3859fb2424814ed262c301ce8f3f27f (image=busybox:local, name=ev-rm)" ] ||
                fail "text: $output"
        [ "$(echo "$output" | wc -l)" -eq 5 ] || fail "ev-rm's five events: $output"
        # {{json .}} and --format json give back the recorded bytes
        sk_out events --since 1795871879 --until 1795871882 -f type=container --format '{{json .}}'
        expect_status 0
        [ "$output" = "$(cat "$SAMPLES/events-lifecycle.jsonl")" ] || fail "json differs from the recording"
        sk_out events --since 1795871879 --until 1795871882 -f type=container --format json
        [ "$output" = "$(cat "$SAMPLES/events-lifecycle.jsonl")" ] || fail "--format json differs"
        # a template sees docker's Go field names
        sk_out events --since 1795871879 --until 1795871882 -f container=ev-stop -f event=kill \
                --format '{{.Status}} {{.From}} {{.Actor.Attributes.signal}} {{.Scope}}'
        [ "$output" = "kill busybox:local 15 local
kill busybox:local 9 local" ] || fail "template: $output"
}

t_filters() {
        load_samples
        local all="--since 1795871300 --until 1795871890"
        count() { "$STOCKADE" events $all "$@" --format '{{.Action}}' | wc -l; }
        [ "$(count -f type=container)" -eq 66 ] || fail "type=container"
        [ "$(count -f event=exec_create)" -eq 4 ] || fail "event=exec_create (a prefix of 'exec_create: true ')"
        [ "$(count -f event=die -f event=oom)" -eq 13 ] || fail "die or oom"
        [ "$(count -f container=hog)" -eq 18 ] || fail "container=hog (hog, hog2, hog3)"
        [ "$(count -f image=busybox)" -eq 66 ] || fail "image=busybox (busybox:local without its tag)"
        [ "$(count -f label=app=demo -f event=start)" -eq 1 ] || fail "label and event"
        [ "$(count -f label=app -f label=name=ev-rm)" -eq 0 ] || fail "labels are ANDed"
}

t_follow() {
        local pid now line i
        mkdir -p "$EV_DIR"
        "$STOCKADE" events --format '{{.Action}} {{.Actor.Attributes.name}}' >"$WORK/follow.out" 2>&1 &
        pid=$!
        # the follower starts at the end: wait until it runs, then append events one by one
        sleep 0.5
        for i in 1 2 3; do
                now=$(date +%s%N)
                line="{\"status\":\"start\",\"id\":\"f$i\",\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"f$i\",\"Attributes\":{\"name\":\"follow$i\"}},\"scope\":\"local\",\"time\":${now:0:10},\"timeNano\":$now}"
                printf '%s\n' "$line" >>"$(current_file)"
                for _ in $(seq 1 100); do
                        grep -q "start follow$i" "$WORK/follow.out" && break
                        sleep 0.1
                done
                grep -q "start follow$i" "$WORK/follow.out" || { kill "$pid"; fail "the follower missed event $i: $(cat "$WORK/follow.out")"; }
        done
        kill "$pid"
        wait "$pid" || true
        [ "$(wc -l <"$WORK/follow.out")" -eq 3 ] || fail "follower output: $(cat "$WORK/follow.out")"
}

t_errors() {
        sk events -f die
        expect_status 125
        expect_output_has 'invalid argument "die" for "-f, --filter" flag: bad format of filter (expected name=value)'
        sk events -f bogus=1 --since 0 --until 1
        expect_status 1
        expect_output_has "Error response from daemon: invalid filter 'bogus'"
        sk events --since 10 --until 5
        expect_status 1
        expect_output_has 'cannot be after `until` time'
        sk events --format '{{.Foo' --since 0 --until 1
        expect_status 64
        expect_output_has "Error parsing format: template: :1: unclosed action"
        sk events --since yesterday
        expect_status 125
        echo '{"audit-forward": "mail"}' >"$STOCKADE_CONFIG"
        sk events --since 0 --until 1
        rm -f "$STOCKADE_CONFIG"
        expect_status 125
        expect_output_has 'audit-forward: "mail" is not one of "syslog", "journald" or ""'
}

# One audit record with its hash, as docs/EVENTS.md defines it; $prev is the chain so far.
audit_line() {
        local seq=$1 action=$2 name=$3 rec hash
        rec="{\"seq\":$seq,\"time\":\"2026-11-28T13:11:1$seq.000000000Z\",\"action\":\"$action\",\"actor\":{\"type\":\"container\",\"id\":\"0123abcd\",\"name\":\"$name\"},\"user\":{\"uid\":0,\"gid\":0,\"loginuid\":null,\"pid\":1,\"peer\":null},\"command\":[\"stockade\",\"$action\",\"$name\"],\"outcome\":\"ok\",\"prev\":\"$prev\""
        hash=$(printf '%s}' "$rec" | sha256sum | cut -d' ' -f1)
        printf '%s,"hash":"%s"}\n' "$rec" "$hash"
        prev=$hash
}

make_audit() {
        local dir=$STOCKADE_DATA_ROOT/audit i
        rm -rf "$dir"
        mkdir -p "$dir"
        chmod 0700 "$dir"
        prev=0000000000000000000000000000000000000000000000000000000000000000
        for i in 1 2 3 4 5 6; do
                audit_line "$i" start "web$i" >>"$dir/audit-0000000001.log"
        done
        printf '%020d %s\n' 6 "$prev" >"$dir/audit.head"
}

t_audit_verify() {
        local f=$STOCKADE_DATA_ROOT/audit/audit-0000000001.log
        make_audit
        sk audit verify
        expect_status 0
        expect_output_has "6 records in 1 file verified (records 1 to 6)"
        TZ=UTC sk_out audit -f container=web3
        [ "$output" = "2026-11-28 13:11:13 | start | web3" ] || fail "audit text: $output"
        sk_out audit --format '{{.seq}} {{.actor.name}}' -f event=start --since 2026-11-28T13:11:15Z
        [ "$output" = "5 web5
6 web6" ] || fail "audit template: $output"

        sed -i '3s/web3/wXb3/' "$f"
        sk audit verify
        expect_status 1
        expect_output_has "audit-0000000001.log line 3: record 3 edited"

        make_audit
        sed -i '3d' "$f"
        sk audit verify
        expect_status 1
        expect_output_has "line 3: record 3 deleted: record 3 is missing: record 4 comes next"

        make_audit
        awk 'NR == 3 { held = $0; next } NR == 4 { print; print held; next } { print }' "$f" >"$f.new"
        mv "$f.new" "$f"
        sk audit verify
        expect_status 1
        expect_output_has "line 3: record 4 reordered"

        make_audit
        sed -i '5p' "$f"
        sk audit verify
        expect_status 1
        expect_output_has "line 6: record 5 inserted: a copy of record 5"

        make_audit
        truncate -s -20 "$f"
        sk audit verify
        expect_status 1
        expect_output_has "line 6: record 6 truncated: the last record is incomplete"

        make_audit
        sed -i '$d' "$f"
        sk audit verify
        expect_status 1
        expect_output_has "record 6 truncated: the log ends at record 5 but audit.head says record 6 was written"
}

run_test "events: docker's text and json over the recorded events" t_text_and_json
run_test "events: dockerd's filters" t_filters
run_test "events: a follower sees each appended event" t_follow
run_test "events: the CLI's and dockerd's errors, daemon.json keys" t_errors
run_test "audit verify: edit, delete, swap, insert, truncate" t_audit_verify
finish
