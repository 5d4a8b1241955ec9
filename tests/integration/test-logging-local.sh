#!/bin/bash
# The local log driver through `stockade run --log-driver local`: docker's binary format (checked
# record by record with Google's protobuf runtime, tests/helpers/locallog-proto.py), rotation with
# max-size/max-file and the compressed rotations, `logs` across them (--tail, -t, --since, -f, the
# streams), docker's 16 KiB pieces and the unfinished end, and the defaults (20m, 5, compress).
. "$(dirname "$0")/engine-lib.sh"

PROTO_CHECK=$REPO_ROOT/tests/helpers/locallog-proto.py

log_of() {
        "$STOCKADE" inspect --format '{{.LogPath}}' "$1"
}

# Every record of a local log file (plain or gzipped) through protobuf; prints one JSON per record.
proto_records() {
        local f=$1 plain=$WORK/proto.$$
        case "$f" in
        *.gz) zcat "$f" >"$plain" ;;
        *) cp "$f" "$plain" ;;
        esac
        /usr/bin/python3 "$PROTO_CHECK" "$plain" || fail "$f: protobuf does not read it as docker's format (status $?)"
        rm -f "$plain"
}

t_rotation_3mb() {
        # 3 MB of numbered 100-byte lines (99 + "\n"), every 100th to stderr but none in the last 850
        # lines: the monitor reads the two pipes apart, so a stderr line may be logged up to a pipe's
        # worth (64 KiB, 655 lines) before or after its neighbours; this way --tail 5 sees stdout only,
        # and the last stderr line is in the kept files however few records the current file holds.
        sk run --name rot --log-driver local --log-opt max-size=100k --log-opt max-file=3 busybox sh -c \
                'i=0; pad=$(printf "%084d" 0); while [ $i -lt 31458 ]; do
                        if [ $((i % 100)) = 7 ] && [ $i -lt 30700 ]; then printf "%08d %s\n" $i $pad >&2; else printf "%08d %s\n" $i $pad; fi
                        i=$((i+1)); done' >/dev/null 2>&1
        expect_status 0
        local log dir id n
        log=$(log_of rot)
        id=$("$STOCKADE" inspect --format '{{.Id}}' rot)
        dir=$(dirname "$log")
        [ "$log" = "$STOCKADE_DATA_ROOT/containers/$id/local-logs/container.log" ] || fail "LogPath: $log"
        n=$(ls "$dir" | wc -l)
        [ "$n" = 3 ] || fail "expected exactly 3 files, got $n: $(ls "$dir")"
        for f in "$log" "$log.1" "$log.2.gz"; do
                [ -f "$f" ] || fail "missing $f: $(ls "$dir")"
                [ "$(stat -c %a "$f")" = 640 ] || fail "$f has mode $(stat -c %a "$f")"
        done
        for f in "$log" "$log.1"; do
                [ "$(stat -c %s "$f")" -le 102400 ] || fail "$f is above max-size: $(stat -c %s "$f")"
        done
        [ "$(zcat "$log.2.gz" | wc -c)" -le 102400 ] || fail "$log.2.gz holds more than max-size"
        # docker's format, record by record, in all three files; the newest line has its record
        proto_records "$log.2.gz" >/dev/null
        proto_records "$log.1" >/dev/null
        proto_records "$log" >"$WORK/cur.json"
        jq -s -e 'map(select(.line | startswith("303030333134353720"))) | length == 1 and .[0].source == "stdout" and
                (.[0].partial | not) and (.[0].has_meta | not)' "$WORK/cur.json" >/dev/null ||
                fail "the last line's record: $(grep 303030333134353720 "$WORK/cur.json")"
        # every kept line, in order, ending with the last one written, none torn; stderr apart.  The
        # two streams are separate pipes, so only each stream's own order is checked.
        sk_out logs rot
        local first last count want
        first=$(sed -n 1p <<<"$output" | cut -c1-8)
        last=$(tail -n 1 <<<"$output" | cut -c1-8)
        count=$(wc -l <<<"$output")
        [ "$last" = 00031457 ] || fail "last line: $last"
        want=$(seq "$((10#$first))" 31457 | awk '$1 % 100 != 7 || $1 >= 30700 { printf "%08d\n", $1 }')
        [ "$(cut -c1-8 <<<"$output")" = "$want" ] || fail "stdout lines missing or repeated: $first..$last in $count lines"
        awk 'length($0) != 93 { bad = 1 } END { exit bad }' <<<"$output" || fail "a torn line"
        # stderr: a run of its lines without a gap, in order, ending with the last one written
        local efirst
        efirst=$(sed -n 1p <<<"$errout" | cut -c1-8)
        want=$(seq "$((10#$efirst))" 100 30607 | awk '{ printf "%08d\n", $1 }')
        [ -n "$efirst" ] && [ "$(cut -c1-8 <<<"$errout")" = "$want" ] ||
                fail "stderr lines: $(cut -c1-8 <<<"$errout" | tr '\n' ' ')"
        ! grep -q '^00030607 ' <<<"$output" || fail "a stderr line on stdout"
        # --tail 5
        sk_out logs --tail 5 rot
        [ "$(cut -c1-8 <<<"$output" | tr '\n' ' ')" = "00031453 00031454 00031455 00031456 00031457 " ] ||
                fail "--tail 5: $(cut -c1-8 <<<"$output" | tr '\n' ' ')"
        # -t: docker's fixed-width RFC 3339 time, then the line
        sk_out logs -t --tail 2 rot
        grep -qE '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{9}Z 00031457 0{84}$' <<<"$output" ||
                fail "-t: $output"
        # --since a time in the middle: exactly the lines at or after it, in order
        sk_out logs -t rot
        local all_t since want got
        all_t=$output
        since=$(sed -n "$((count / 2))p" <<<"$all_t" | cut -d' ' -f1)
        want=$(awk -v s="$since" '$1 >= s' <<<"$all_t" | wc -l)
        sk_out logs --since "$since" rot
        got=$(wc -l <<<"$output")
        [ "$got" = "$want" ] || fail "--since $since: $got lines, expected $want"
        [ "$(tail -n 1 <<<"$output" | cut -c1-8)" = 00031457 ] || fail "--since: the last line is missing"
        # --until before the first line: nothing
        sk_out logs --until 2000-01-01T00:00:00Z rot
        [ -z "$output" ] || fail "--until 2000: $output"
        sk rm rot
}

t_defaults() {
        sk run --name dl --log-driver local busybox sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done'
        expect_status 0
        local log
        log=$(log_of dl)
        sk inspect --format '{{.HostConfig.LogConfig.Type}}' dl
        [ "$output" = local ] || fail "type: $output"
        [ "$(basename "$log")" = container.log ] && [ "$(basename "$(dirname "$log")")" = local-logs ] || fail "LogPath: $log"
        # 20000 short lines are far below the default 20m: one file
        [ "$(ls "$(dirname "$log")")" = container.log ] || fail "files: $(ls "$(dirname "$log")")"
        proto_records "$log" >"$WORK/dl.json"
        [ "$(wc -l <"$WORK/dl.json")" = 20000 ] || fail "$(wc -l <"$WORK/dl.json") records"
        sk_out logs dl
        [ "$(wc -l <<<"$output")" = 20000 ] || fail "logs: $(wc -l <<<"$output") lines"
        [ "$(sed -n 1p <<<"$output")" = "line 0" ] && [ "$(tail -n 1 <<<"$output")" = "line 19999" ] ||
                fail "first/last: $(sed -n 1p <<<"$output") / $(tail -n 1 <<<"$output")"
        sk_out logs --tail 1 dl
        [ "$output" = "line 19999" ] || fail "--tail 1: $output"
        # no tag, labels or env for local (dockerd 20.10 takes none)
        sk run --log-driver local --log-opt tag=x busybox true
        expect_status 125
        expect_output_has "unknown log opt 'tag' for local log driver"
        sk rm dl
}

t_default_rotation_and_compression() {
        # 25 MB of 1000-byte lines under the defaults: two files, the older one plain (.1 stays plain)
        sk run --name big --log-driver local busybox sh -c \
                'pad=$(printf "%0990d" 0); i=0; while [ $i -lt 25000 ]; do printf "%08d %s\n" $i $pad; i=$((i+1)); done' >/dev/null
        expect_status 0
        local log
        log=$(log_of big)
        [ -f "$log.1" ] && [ ! -e "$log.2.gz" ] || fail "files: $(ls "$(dirname "$log")")"
        [ "$(stat -c %s "$log.1")" -le $((20 * 1024 * 1024)) ] || fail ".1 is $(stat -c %s "$log.1") bytes"
        sk_out logs big
        [ "$(wc -l <<<"$output")" = 25000 ] || fail "logs: $(wc -l <<<"$output") lines"
        [ "$(tail -n 1 <<<"$output" | cut -c1-8)" = 00024999 ] || fail "last: $(tail -n 1 <<<"$output" | cut -c1-8)"
        sk rm big
}

t_long_line_and_unfinished_end() {
        sk run --name long --log-driver local busybox sh -c 'head -c 40000 /dev/zero | tr "\0" a; echo; printf "no-newline-at-end"' >/dev/null
        local log
        log=$(log_of long)
        # docker's 16 KiB pieces: 16384 + 16384 + 7232 bytes with one partial id, ordinals 1..3, the
        # last marked; then the unfinished end, a piece that does not end its line
        proto_records "$log" >"$WORK/long.json"
        [ "$(wc -l <"$WORK/long.json")" = 4 ] || fail "expected 4 records: $(cat "$WORK/long.json" | cut -c1-200)"
        jq -s -e '.[0].partial and .[0].ordinal == 1 and (.[0].last | not) and (.[0].line | length) == 32768 and
                  .[1].ordinal == 2 and .[2].ordinal == 3 and .[2].last and (.[2].line | length) == 14464 and
                  .[0].id == .[2].id and (.[0].id | length) == 64 and
                  .[3].partial and (.[3].last | not) and .[3].line == "6e6f2d6e65776c696e652d61742d656e64"' \
                "$WORK/long.json" >/dev/null || fail "records: $(jq -c 'del(.line)' "$WORK/long.json")"
        sk_out logs long
        [ "$(sed -n 1p <<<"$output" | wc -c)" = 40001 ] || fail "logs did not rejoin the long line"
        [ "$(printf '%s' "$output" | tail -c 17)" = no-newline-at-end ] || fail "end: $(printf '%s' "$output" | tail -c 30)"
        sk rm long
}

t_follow_through_rotations() {
        # logs -f from the start of a container that rotates many times while it is followed
        sk run -d --name fol --log-driver local --log-opt max-size=10k --log-opt max-file=50 busybox sh -c \
                'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); [ $((i % 300)) = 0 ] && sleep 0.2; done'
        expect_status 0
        "$STOCKADE" logs -f fol >"$WORK/fol.out" 2>&1 || fail "logs -f failed: $(tail -3 "$WORK/fol.out")"
        [ "$(wc -l <"$WORK/fol.out")" = 3000 ] || fail "logs -f: $(wc -l <"$WORK/fol.out") lines"
        seq 0 2999 | sed 's/^/line /' | cmp -s - "$WORK/fol.out" || fail "logs -f: lines out of order or changed"
        ls "$(dirname "$(log_of fol)")" | grep -q 'container.log.3.gz' || fail "no rotations happened"
        sk rm fol
}

echo '{}' >"$STOCKADE_CONFIG"
run_test "local: 3 MB with max-size=100k, max-file=3: 3 files in docker's format; logs, --tail, -t, --since" t_rotation_3mb
run_test "local defaults: one file under 20m, every line back; no tag option" t_defaults
run_test "local defaults: 25 MB rotate at 20m into a plain .1" t_default_rotation_and_compression
run_test "local: a 40 KiB line as docker's partial records, rejoined; the unfinished end kept" t_long_line_and_unfinished_end
run_test "local: logs -f through rotations and compressed files, every line once" t_follow_through_rotations
finish
