#!/bin/bash
# The log pipe and json-file through `stockade run`: the issue's rotation check (10 MB with
# max-size=100k, max-file=3), compression, long lines split and rejoined, the unfinished last line,
# tag/labels/env attributes and `logs --details`, the defaults, non-blocking mode, daemon.json's
# log-driver and log-opts, and bad options refused with nothing created.  The network drivers have
# their own files (test-logging-<driver>.sh).
. "$(dirname "$0")/engine-lib.sh"

log_of() {
        "$STOCKADE" inspect --format '{{.LogPath}}' "$1"
}

t_rotation_10mb() {
        # 10 MB of numbered 100-byte lines (99 + "\n").
        sk run --name rot --log-opt max-size=100k --log-opt max-file=3 busybox sh -c \
                'i=0; pad=$(printf "%084d" 0); while [ $i -lt 104858 ]; do printf "%08d %s\n" $i $pad; i=$((i+1)); done' >/dev/null
        expect_status 0
        local log n
        log=$(log_of rot)
        n=$(ls "$log"* | wc -l)
        [ "$n" = 3 ] || fail "expected exactly 3 files, got $n: $(ls "$log"*)"
        for f in "$log" "$log.1" "$log.2"; do
                [ -f "$f" ] || fail "missing $f"
                [ "$(stat -c %s "$f")" -le 102400 ] || fail "$f is above max-size: $(stat -c %s "$f")"
        done
        # every kept line, in order, ending with the last one written, none torn
        sk_out logs rot
        local first last count
        first=$(sed -n 1p <<<"$output" | cut -c1-8)
        last=$(tail -n 1 <<<"$output" | cut -c1-8)
        count=$(wc -l <<<"$output")
        [ "$last" = 00104857 ] || fail "last line: $last"
        [ "$((10#$last - 10#$first + 1))" = "$count" ] || fail "lines missing or repeated: $first..$last in $count lines"
        awk 'length($0) != 93 { bad = 1 } END { exit bad }' <<<"$output" || fail "a torn line"
        sk rm rot
}

t_compressed_rotation() {
        sk run --name gz --log-opt max-size=20k --log-opt max-file=4 --log-opt compress=true busybox sh -c \
                'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
        local log
        log=$(log_of gz)
        [ -f "$log.1" ] || fail "no .1"
        [ -f "$log.2.gz" ] && [ -f "$log.3.gz" ] || fail "rotations not compressed: $(ls "$log"*)"
        gzip -t "$log.2.gz" || fail "$log.2.gz is not valid gzip"
        zcat "$log.3.gz" | head -1 | grep -q '"stream":"stdout"' || fail "no json lines in $log.3.gz"
        sk_out logs gz
        local first last count
        first=$(sed -n 1p <<<"$output" | awk '{ print $2 }')
        last=$(tail -n 1 <<<"$output" | awk '{ print $2 }')
        count=$(wc -l <<<"$output")
        [ "$last" = 2999 ] || fail "last: $last"
        [ "$((last - first + 1))" = "$count" ] || fail "lines missing across compressed files: $first..$last in $count"
        sk rm gz
}

t_long_line_and_unfinished_end() {
        sk run --name long busybox sh -c 'head -c 40000 /dev/zero | tr "\0" a; echo; printf "no-newline-at-end"' >/dev/null
        local log
        log=$(log_of long)
        # json-file keeps docker's 16 KiB pieces: 16384 + 16384 + 7232 bytes, the last with "\n"
        [ "$(wc -l <"$log")" = 4 ] || fail "expected 4 json lines: $(wc -l <"$log")"
        [ "$(sed -n 1p "$log" | jq -r '.log' | tr -d '\n' | wc -c)" = 16384 ] || fail "first piece size"
        sed -n 3p "$log" | jq -e '.log | endswith("\n")' >/dev/null || fail "the line's end lost its newline"
        sed -n 4p "$log" | jq -e '.log == "no-newline-at-end"' >/dev/null || fail "unfinished end: $(sed -n 4p "$log")"
        sk_out logs long
        [ "$(sed -n 1p <<<"$output" | wc -c)" = 40001 ] || fail "logs did not rejoin the long line"
        [ "$(printf '%s' "$output" | tail -c 17)" = no-newline-at-end ] || fail "end: $(printf '%s' "$output" | tail -c 30)"
        sk rm long
}

t_tag_attrs_details() {
        sk run --name tagged --label app=shop --label other=x -e MODE=prod -e SECRET=s \
                --log-opt tag='{{.Name}}/{{.ImageName}}/{{.ID}}' --log-opt labels=app --log-opt env-regex='^MOD' \
                busybox echo hello >/dev/null
        local log id
        log=$(log_of tagged)
        id=$("$STOCKADE" inspect --format '{{.Id}}' tagged)
        jq -e --arg t "tagged/busybox/${id:0:12}" '.attrs == {"app": "shop", "MODE": "prod", "tag": $t}' "$log" >/dev/null ||
                fail "attrs: $(cat "$log")"
        sk_out logs --details tagged
        [ "$output" = "MODE=prod,app=shop,tag=tagged%2Fbusybox%2F${id:0:12} hello" ] || fail "details: $output"
        sk_out logs tagged
        [ "$output" = hello ] || fail "plain: $output"
        sk rm tagged
}

t_defaults_and_none() {
        sk run --name d1 busybox true
        sk inspect --format '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}' d1
        [ "$output" = "json-file 10m 3" ] || fail "defaults: $output"
        sk run --name n1 --log-driver none busybox echo gone
        expect_output_has gone # attached output still reaches the client
        sk inspect --format '{{.LogPath}}' n1
        [ -z "$output" ] || fail "none has a log path: $output"
        sk logs n1
        [ "$status" -ne 0 ] || fail "logs of a none container succeeded"
        expect_output_has "configured logging driver does not support reading"
        sk rm d1 n1
}

t_non_blocking_never_stalls() {
        # A small buffer and a flood: the container is never held; what did not fit is counted.
        sk run --name nb --log-opt mode=non-blocking --log-opt max-buffer-size=8k busybox sh -c 'seq 1 200000 >/dev/null; seq 1 50000'
        expect_status 0
        local id rec dropped lines
        id=$("$STOCKADE" inspect --format '{{.Id}}' nb)
        rec=$STOCKADE_DATA_ROOT/containers/$id/container.json
        lines=$("$STOCKADE" logs nb | wc -l)
        dropped=$(jq -r '.Stockade.LogDropped // 0' "$rec")
        [ $((lines + dropped)) = 50000 ] || fail "logged $lines + dropped $dropped != 50000"
        sk run --name bl --log-opt mode=blocking busybox sh -c 'seq 1 50000'
        [ "$("$STOCKADE" logs bl | wc -l)" = 50000 ] || fail "blocking mode lost lines"
        sk rm nb bl
}

t_daemon_json_log_defaults() {
        echo '{"log-driver": "json-file", "log-opts": {"max-size": "1m", "max-file": "2", "tag": "{{.Name}}"}}' >"$STOCKADE_CONFIG"
        sk run --name dj busybox echo x
        sk inspect --format '{{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "tag"}}' dj
        [ "$output" = "1m {{.Name}}" ] || fail "daemon log-opts: $output"
        jq -e '.attrs.tag == "dj"' "$(log_of dj)" >/dev/null || fail "daemon tag not applied"
        sk rm dj
        echo '{"log-driver": "json-file", "log-opts": {"max-size": "huge"}}' >"$STOCKADE_CONFIG"
        sk run --rm busybox true
        expect_status 125
        expect_output_has "log-opts"
        expect_output_has "invalid size: 'huge'"
        echo '{"log-driver": "none"}' >"$STOCKADE_CONFIG"
        sk run --name dn busybox true
        sk inspect --format '{{.HostConfig.LogConfig.Type}}' dn
        [ "$output" = none ] || fail "daemon log-driver: $output"
        sk rm dn
        echo '{}' >"$STOCKADE_CONFIG"
}

t_bad_options_create_nothing() {
        local before
        before=$(all_container_ids | wc -l)
        sk run --log-opt foo=bar busybox true
        expect_status 125
        expect_output_has "unknown log opt 'foo' for json-file log driver"
        sk run --log-opt max-size=bogus busybox true
        expect_status 125
        expect_output_has "invalid size: 'bogus'"
        sk run --log-driver gelf busybox true
        expect_status 125
        expect_output_has "no log driver named 'gelf' is registered"
        sk run --log-driver syslog --log-opt syslog-facility=nowhere busybox true
        expect_status 125
        expect_output_has "invalid syslog facility 'nowhere'"
        sk run --log-opt max-buffer-size=1m busybox true
        expect_status 125
        expect_output_has "only supported with 'mode=non-blocking'"
        sk run --log-opt tag='{{.Nope' busybox true
        expect_status 125
        expect_output_has "tag"
        [ "$(all_container_ids | wc -l)" = "$before" ] || fail "a container was created"
}

echo '{}' >"$STOCKADE_CONFIG"
run_test "rotation: 10 MB with max-size=100k, max-file=3 keeps 3 files and every kept line" t_rotation_10mb
run_test "compress=true: rotations gzipped, logs reads across them" t_compressed_rotation
run_test "a 40 KiB line in docker's 16 KiB pieces, rejoined by logs; the unfinished end kept" t_long_line_and_unfinished_end
run_test "tag, labels, env-regex as attrs; logs --details" t_tag_attrs_details
run_test "defaults (10m x 3) in inspect; --log-driver none" t_defaults_and_none
run_test "mode=non-blocking drops and counts, never stalls; blocking loses nothing" t_non_blocking_never_stalls
run_test "daemon.json log-driver and log-opts: defaults, validation" t_daemon_json_log_defaults
run_test "bad --log-opt values: docker's messages, 125, nothing created" t_bad_options_create_nothing
finish
