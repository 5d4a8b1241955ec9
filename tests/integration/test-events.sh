#!/bin/bash
# `stockade events` and `stockade audit` from the command line (docs/EVENTS.md): docker's text and
# json output and dockerd's filters over dockerd 20.10's recorded events (tests/data/events), a
# follower that sees lines as they are appended, the CLI's and dockerd's errors, and `audit verify`
# over a log whose hashes this script computes itself with sha256sum (the chain as documented),
# then edits, deletes, swaps and truncates.
# Then the engine's own events and audit records: the recorded lifecycles replayed (run --rm, exec,
# stop of a TERM-ignoring process, rm -f, an exit code, OOM kills) must give dockerd's lines byte for
# byte once ids and times are masked; pause, rename, update, restart, exec -d and the image commands;
# 20 containers at once; a follower that sees a start while it happens; the audit trail of it all.
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
        # the damaged log goes: the engine's own records follow in the next tests
        rm -rf "$STOCKADE_DATA_ROOT/audit"
}

# The engine's events since $1 as JSON lines, ids and times masked (dockerd's recording likewise).
masked_since() {
        "$STOCKADE" events --since "$1" --until "$EPOCHREALTIME" --format json "${@:2}" |
                sed -E 's/[0-9a-f]{64}/ID/g; s/"time":[0-9]+,"timeNano":[0-9]+/"time":T/'
}
masked_sample() {
        sed -E 's/[0-9a-f]{64}/ID/g; s/"time":[0-9]+,"timeNano":[0-9]+/"time":T/' "$1"
}

t_lifecycle_replay() {
        local t0
        sk tag busybox busybox:local
        expect_status 0
        t0=$EPOCHREALTIME
        # events-lifecycle.jsonl, command by command as it was recorded against dockerd 20.10
        sk run --rm --name ev-rm busybox:local true
        expect_status 0
        sk run -d --name ev-stop -l app=demo busybox:local sh -c 'trap "" TERM; while :; do sleep 0.1; done'
        expect_status 0
        sk exec ev-stop true
        expect_status 0
        sk stop -t 1 ev-stop
        expect_status 0
        sk rm ev-stop
        expect_status 0
        sk run -d --name ev-kill busybox:local sleep 100
        expect_status 0
        sk rm -f ev-kill
        expect_status 0
        sk run --rm --name ev-exit3 busybox:local sh -c 'exit 3'
        expect_status 3
        masked_since "$t0" -f type=container >"$WORK/ours.jsonl"
        masked_sample "$SAMPLES/events-lifecycle.jsonl" >"$WORK/docker.jsonl"
        diff "$WORK/docker.jsonl" "$WORK/ours.jsonl" >"$WORK/diff" || fail "not dockerd's events: $(cat "$WORK/diff")"
        sk rmi busybox:local
}

t_oom_events() {
        local t0
        sk tag busybox busybox:local
        t0=$EPOCHREALTIME
        # hog: the container's process is OOM-killed; hog2: a child is, the container exits 0
        sk run --rm --name hog -m 32m --memory-swap 32m busybox:local sh -c 'head -c 200m /dev/zero | tail'
        expect_status 137
        # (the pipeline's oom_score_adj raised: on a loaded machine a second OOM kill, while the first
        # victim is still exiting, must take the pipeline's other process, not the container's sh)
        sk run --rm --name hog2 -m 32m --memory-swap 32m busybox:local \
                sh -c '(echo 1000 >/proc/self/oom_score_adj; head -c 200m /dev/zero | tail); exit 0'
        expect_status 0
        # one oom event per notification, as dockerd: kills close together may come as one or two
        masked_since "$t0" -f container=hog | uniq >"$WORK/ours.jsonl"
        grep -E '"name":"hog2?"' "$SAMPLES/events-limits.jsonl" >"$WORK/sample.jsonl"
        masked_sample "$WORK/sample.jsonl" >"$WORK/docker.jsonl"
        diff "$WORK/docker.jsonl" "$WORK/ours.jsonl" >"$WORK/diff" || fail "not dockerd's OOM events: $(cat "$WORK/diff")"
        sk rmi busybox:local
}

# Actions and names since $1, one per line ("die web 137", "kill web 15").
actions_since() {
        "$STOCKADE" events --since "$1" --until "$EPOCHREALTIME" "${@:2}" \
                --format '{{.Action}} {{.Actor.Attributes.name}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}{{with .Actor.Attributes.signal}} {{.}}{{end}}{{with .Actor.Attributes.oldName}} {{.}}{{end}}'
}

t_more_actions() {
        local t0 got
        t0=$EPOCHREALTIME
        sk run -d --name act busybox sleep 100
        expect_status 0
        sk pause act
        expect_status 0
        sk_out inspect -f '{{.State.Status}} {{.State.Paused}}' act
        [ "$output" = "paused true" ] || fail "paused state: $output"
        sk pause act
        expect_status 1
        expect_output_has "is already paused"
        sk exec act true
        expect_status 125
        expect_output_has "is paused, unpause the container before exec"
        sk unpause act
        expect_status 0
        sk unpause act
        expect_status 1
        expect_output_has "is not paused"
        sk rename act act2
        expect_status 0
        sk update --memory 64m act2
        expect_status 0
        sk restart -t 0 act2
        expect_status 0
        sk exec -d act2 sh -c 'sleep 0.2; exit 5'
        expect_status 0
        for _ in $(seq 1 50); do
                actions_since "$t0" | grep -q '^exec_die act2 5$' && break
                sleep 0.1
        done
        sk rm -f act2
        expect_status 0
        # stop and rm -f of a paused container (SIGKILL thaws it)
        sk run -d --name frozen busybox sleep 100
        sk pause frozen
        sk stop -t 1 frozen
        expect_status 0
        sk_out inspect -f '{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}' frozen
        [ "$output" = "exited false 137" ] || fail "a stopped paused container: $output"
        sk start frozen
        sk pause frozen
        sk rm -f frozen
        expect_status 0
        sk pause act2
        expect_status 1
        got=$(actions_since "$t0" -f container=act)
        [ "$got" = "create act
start act
pause act
unpause act
rename act2 /act
update act2
kill act2 15
kill act2 9
die act2 137
stop act2
start act2
restart act2
exec_create: sh -c sleep 0.2; exit 5 act2
exec_start: sh -c sleep 0.2; exit 5 act2
exec_die act2 5
kill act2 9
die act2 137
destroy act2" ] || fail "events: $got"
        # exec_create, exec_start and exec_die share one execID
        [ "$("$STOCKADE" events --since "$t0" --until "$EPOCHREALTIME" -f event=exec_create -f event=exec_start -f event=exec_die \
                --format '{{.Actor.Attributes.execID}}' | sort -u | wc -l)" -eq 1 ] || fail "execIDs differ"
}

t_image_events() {
        local t0 got id
        # only busybox:latest on the image (save takes every tag; a second one would stop the delete)
        "$STOCKADE" rmi busybox:local >/dev/null 2>&1 || true
        t0=$EPOCHREALTIME
        id=$("$STOCKADE" inspect --type image -f '{{.Id}}' busybox)
        sk save -o "$WORK/bb.tar" busybox
        expect_status 0
        sk tag busybox bb:one
        expect_status 0
        sk rmi bb:one
        expect_status 0
        sk rmi busybox
        expect_status 0
        sk load -i "$WORK/bb.tar"
        expect_status 0
        bash "$REPO_ROOT/tools/busybox-image.sh" --tar "$WORK/root.tar" >/dev/null
        sk import -c 'LABEL tier=test' "$WORK/root.tar" imp:1
        expect_status 0
        sk rmi imp:1
        expect_status 0
        got=$("$STOCKADE" events --since "$t0" --until "$EPOCHREALTIME" -f type=image \
                --format '{{.Status}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.tier}}' |
                sed -E "s/$id/ID/g; s/sha256:[0-9a-f]{64}/IMP/g")
        [ "$got" = "save save ID <no value>
tag tag bb:one <no value>
untag untag ID <no value>
untag untag ID <no value>
delete delete ID <no value>
load load ID <no value>
tag tag imp:1 test
import import IMP test
untag untag IMP test
delete delete IMP test" ] || fail "image events: $got"
        # an image event's legacy fields: status and id, no from
        "$STOCKADE" events --since "$t0" --until "$EPOCHREALTIME" -f event=tag --format json | sed -n 1p |
                grep -Eq '^\{"status":"tag","id":"sha256:[0-9a-f]{64}","Type":"image","Action":"tag",' ||
                fail "image event JSON"
}

t_concurrent() {
        local t0 i pids=() n got
        t0=$EPOCHREALTIME
        # 20 started at once, then stopped at once (pid 1 ignores SIGTERM: kill 15, kill 9), then removed
        for i in $(seq 1 20); do
                "$STOCKADE" run -d --name "many$i" busybox sleep 100 >/dev/null 2>&1 &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || fail "a run -d failed"; done
        pids=()
        for i in $(seq 1 20); do
                "$STOCKADE" stop -t 1 "many$i" >/dev/null 2>&1 &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || fail "a stop failed"; done
        pids=()
        for i in $(seq 1 20); do
                "$STOCKADE" rm "many$i" >/dev/null 2>&1 &
                pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || fail "an rm failed"; done
        # every line whole (events --format json parses each), 7 per container, each container's in order
        n=$("$STOCKADE" events --since "$t0" --until "$EPOCHREALTIME" -f container=many --format json | wc -l)
        [ "$n" -eq 140 ] || fail "$n events for 20 containers, not 140"
        [ "$(grep -c '' "$(current_file)")" -eq "$(grep -c '^{.*}$' "$(current_file)")" ] || fail "a line is not a whole record"
        for i in $(seq 1 20); do
                got=$(actions_since "$t0" -f container="many$i" | grep " many$i\( \|$\)" | tr '\n' ,)
                [ "$got" = "create many$i,start many$i,kill many$i 15,kill many$i 9,die many$i 137,stop many$i,destroy many$i," ] ||
                        fail "many$i: $got"
        done
        sk audit verify
        expect_status 0
        for a in run stop rm; do
                [ "$("$STOCKADE" audit --since "$t0" -f container=many --format '{{.action}}' | grep -c "^$a\$")" -eq 20 ] ||
                        fail "20 $a records"
        done
}

# The follower's latency is printed, not asserted (tests never assert timings): each event's own
# time against the time the follower's output reached this script.
t_follow_live() {
        local pid max=0 lat ev seen
        "$STOCKADE" events -f container=live --format '{{.TimeNano}} {{.Action}}' |
                while read -r ns action; do echo "$ns $(date +%s%N) $action"; done >"$WORK/live.out" 2>&1 &
        pid=$!
        sleep 0.5
        sk run -d --name live busybox sleep 100
        expect_status 0
        sk pause live
        sk unpause live
        sk rm -f live
        for _ in $(seq 1 100); do
                grep -q " destroy$" "$WORK/live.out" && break
                sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        pkill -f "events -f container=live" || true
        wait "$pid" 2>/dev/null || true
        seen=$(awk '{print $3}' "$WORK/live.out" | tr '\n' ,)
        [ "$seen" = "create,start,pause,unpause,kill,die,destroy," ] || fail "follower: $(cat "$WORK/live.out")"
        while read -r ev got _; do
                lat=$(( (got - ev) / 1000000 ))
                [ "$lat" -gt "$max" ] && max=$lat
        done <"$WORK/live.out"
        diag "follower latency: at most $max ms over 7 events"
}

t_audit_trail() {
        local t0 got
        t0=$EPOCHREALTIME
        sk run -d --name web busybox sleep 100
        sk stop -t 0 web
        sk stop nosuch
        expect_status 1
        sk rm web
        sk run --name bad busybox /nonexistent
        sk rm bad
        got=$("$STOCKADE" audit --since "$t0" | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} //')
        head -1 <<<"$got" | grep -q '^| run | web$' || fail "audit text: $got"
        [ "$(echo "$got" | sed -n 2,3p)" = "| stop | web
| stop | nosuch | No such container: nosuch" ] || fail "audit stop records: $got"
        echo "$got" | grep -q '^| run | bad | .*nonexistent' || fail "a failed run's outcome: $got"
        # JSON: the actor, the caller, the command as given
        "$STOCKADE" audit --since "$t0" --format json -f event=stop | sed -n 1p |
                grep -Eq '"action":"stop","actor":\{"type":"container","id":"[0-9a-f]{64}","name":"web"\},"user":\{"uid":0,"gid":0,.*"command":\["stockade","stop","-t","0","web"\],"outcome":"ok"' ||
                fail "audit json: $("$STOCKADE" audit --since "$t0" --format json | sed -n 1,2p)"
        sk audit verify
        expect_status 0
        expect_output_has "verified"
}

run_test "events: docker's text and json over the recorded events" t_text_and_json
run_test "events: dockerd's filters" t_filters
run_test "events: a follower sees each appended event" t_follow
run_test "events: the CLI's and dockerd's errors, daemon.json keys" t_errors
run_test "audit verify: edit, delete, swap, insert, truncate" t_audit_verify
run_test "lifecycle: run --rm, exec, stop, rm -f, an exit code give dockerd's recorded events" t_lifecycle_replay
run_test "lifecycle: OOM kills give dockerd's recorded oom and die events" t_oom_events
run_test "lifecycle: pause, unpause, rename, update, restart, exec -d" t_more_actions
run_test "images: save, tag, untag, delete, load, import events" t_image_events
run_test "20 containers started, stopped and removed at once: whole lines, each one's events in order" t_concurrent
run_test "a follower sees each event of a container as it happens (latency printed)" t_follow_live
run_test "audit: one record per action, failures with their reason, verified" t_audit_trail
finish
