#!/bin/bash
# The journald driver end to end: `stockade run --log-driver journald` into a real systemd-journald
# (Debian's), read back with journalctl and with `stockade logs`.
#
# The driver has no test knob: it always sends to /run/systemd/journal/socket.  So this file runs in
# a private mount namespace of its own (it re-executes itself under `unshare -m`) with a tmpfs on
# /run/systemd/journal (on /run/systemd where the host has no journal directory) and on /var/log, and
# starts journald there with a private configuration; stockade, its monitors and journalctl, all
# children, see that journald and no other.  The host's journal is neither written nor read.
if [ -z "${STOCKADE_JOURNALD_NS:-}" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "Bail out! $(basename "$0"): needs root (a mount namespace for journald)"; exit 1; }
        command -v unshare >/dev/null || { echo "Bail out! $(basename "$0"): unshare (util-linux) not found"; exit 1; }
        export STOCKADE_JOURNALD_NS=1
        exec unshare -m --propagation private "$BASH" "$0" "$@"
fi

. "$(dirname "$0")/engine-lib.sh"

JOURNALD=
for p in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
        [ -x "$p" ] && JOURNALD=$p && break
done
JD_PID=

jd_setup() {
        [ -n "$JOURNALD" ] || { JD_WHY="systemd-journald not installed (Debian's systemd package)"; return 1; }
        command -v journalctl >/dev/null || { JD_WHY="journalctl not installed"; return 1; }
        if [ -d /run/systemd/journal ]; then
                mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal
        else
                mkdir -p /run/systemd
                mount -t tmpfs -o mode=0755 tmpfs /run/systemd
                mkdir /run/systemd/journal
        fi
        mount -t tmpfs -o mode=0755 tmpfs /var/log
        # Persistent storage in that tmpfs from the start ("flushed": no runtime journal to move), no
        # rate limit (journald's default would drop a burst), nothing read from the kernel or forwarded.
        mkdir -p /run/systemd/journald.conf.d
        printf '[Journal]\nStorage=persistent\nReadKMsg=no\nRateLimitBurst=0\nForwardToSyslog=no\nForwardToWall=no\nForwardToConsole=no\n' \
                >/run/systemd/journald.conf.d/stockade-test.conf
        : >/run/systemd/journal/flushed
        "$JOURNALD" >"$WORK/journald.log" 2>&1 </dev/null &
        JD_PID=$!
        local i
        for i in $(seq 1 200); do
                [ -S /run/systemd/journal/socket ] && return 0
                sleep 0.05
        done
        JD_WHY="systemd-journald did not come up: $(tail -3 "$WORK/journald.log")"
        return 1
}

jd_exit() {
        lib_exit
        if [ -n "$JD_PID" ]; then
                kill "$JD_PID" 2>/dev/null || true
                wait "$JD_PID" 2>/dev/null || true
        fi
}
trap jd_exit EXIT

if jd_setup; then JD_OK=1; else JD_OK=; fi

# A monitor built without the driver fails every test the same way: say so once, clearly.
if [ -n "$JD_OK" ]; then
        probe=$("$STOCKADE" run --rm --log-driver journald busybox true 2>&1) ||
                case "$probe" in
                *"no log driver named 'journald' is registered"*)
                        echo "Bail out! stockade-monitor lacks the journald driver (logpipe.c's table and meson.build's logdriver_sources)"
                        exit 1 ;;
                esac
fi

need_journald() {
        [ -n "$JD_OK" ] || skip "$JD_WHY"
}

id_of() {
        "$STOCKADE" inspect --format '{{.Id}}' "$1"
}

# The container's entries as journalctl -o json prints them, one object a line, once there are N
# (journald takes the monitor's datagrams asynchronously; up to 30 s).
jd_entries() {
        local id=$1 n=$2 i out
        for i in $(seq 1 600); do
                out=$(journalctl --no-pager -q -a -o json "CONTAINER_ID_FULL=$id")
                [ "$(grep -c . <<<"$out")" -ge "$n" ] && break
                sleep 0.05
        done
        printf '%s\n' "$out"
}

# The entry whose MESSAGE is $2, from the json lines in $1.
entry_with() {
        jq -c --arg m "$2" 'select(.MESSAGE == $m)' <<<"$1"
}

# ================================================================ fields

t_fields() {
        need_journald
        sk run --name jd-fields --log-driver journald --log-opt 'tag={{.Name}}/{{.ID}}' \
                --label com.example.team=core --label other=x --log-opt labels=com.example.team \
                --env FOO_BAR=baz --log-opt env=FOO_BAR \
                busybox sh -c 'echo to-stdout; echo to-stderr >&2'
        expect_status 0
        local id e out err tag
        id=$(id_of jd-fields)
        tag="jd-fields/${id:0:12}"
        e=$(jd_entries "$id" 2)
        [ "$(grep -c . <<<"$e")" = 2 ] || fail "expected 2 entries: $e"
        out=$(entry_with "$e" to-stdout)
        err=$(entry_with "$e" to-stderr)
        [ -n "$out" ] && [ -n "$err" ] || fail "entries: $e"
        jq -e --arg id "$id" --arg tag "$tag" '
                .PRIORITY == "6" and .CONTAINER_ID == $id[0:12] and .CONTAINER_ID_FULL == $id and
                .CONTAINER_NAME == "jd-fields" and .CONTAINER_TAG == $tag and .SYSLOG_IDENTIFIER == $tag and
                .IMAGE_NAME == "busybox" and .COM_EXAMPLE_TEAM == "core" and .FOO_BAR == "baz" and
                (has("OTHER") | not) and (.CONTAINER_LOG_EPOCH | test("^[0-9a-f]{64}$")) and
                (.SYSLOG_TIMESTAMP | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\\.[0-9]+)?Z$")) and
                (has("CONTAINER_PARTIAL_MESSAGE") | not) and ._TRANSPORT == "journal" and ._UID == "0"' \
                <<<"$out" >/dev/null || fail "stdout entry: $out"
        jq -e '.PRIORITY == "3"' <<<"$err" >/dev/null || fail "stderr entry: $err"
        # one epoch per start, ordinals 1 and 2 (the streams' order is the monitor's reading order)
        [ "$(jq -r .CONTAINER_LOG_EPOCH <<<"$out")" = "$(jq -r .CONTAINER_LOG_EPOCH <<<"$err")" ] || fail "two epochs: $e"
        [ "$(jq -r .CONTAINER_LOG_ORDINAL <<<"$e" | sort | tr '\n' ' ')" = "1 2 " ] || fail "ordinals: $e"
        # journalctl -t finds the lines by the tag (SYSLOG_IDENTIFIER)
        [ "$(journalctl --no-pager -q -o cat -t "$tag" | sort | tr '\n' ' ')" = "to-stderr to-stdout " ] ||
                fail "journalctl -t: $(journalctl --no-pager -q -o cat -t "$tag")"
        # a second start: a new epoch, ordinals from 1 again
        sk start -a jd-fields
        expect_status 0
        e=$(jd_entries "$id" 4)
        [ "$(jq -r .CONTAINER_LOG_EPOCH <<<"$e" | sort -u | wc -l)" = 2 ] || fail "epochs after a restart: $e"
        sk rm jd-fields
}

# ================================================================ stockade logs

t_logs_tail_since_until_timestamps() {
        need_journald
        sk run --name jd-logs --log-driver journald busybox sh -c 'for i in 1 2 3 4 5; do echo "line $i"; done'
        expect_status 0
        local id e rt3 since
        id=$(id_of jd-logs)
        e=$(jd_entries "$id" 5)
        sk_out logs jd-logs
        expect_status 0
        [ "$output" = "$(printf 'line %s\n' 1 2 3 4 5)" ] || fail "logs: $output"
        sk_out logs --tail 2 jd-logs
        [ "$output" = "$(printf 'line 4\nline 5')" ] || fail "logs --tail 2: $output"
        sk_out logs -n 0 jd-logs
        [ -z "$output" ] || fail "logs -n 0: $output"
        # --since at line 3's journal time (microseconds, given as Unix seconds with a fraction)
        rt3=$(jq -r 'select(.MESSAGE == "line 3") | .__REALTIME_TIMESTAMP' <<<"$e")
        since="${rt3:0:${#rt3}-6}.${rt3: -6}"
        sk_out logs --since "$since" jd-logs
        [ "$output" = "$(printf 'line %s\n' 3 4 5)" ] || fail "logs --since $since: $output"
        sk_out logs --until "$since" jd-logs
        [ "$output" = "$(printf 'line %s\n' 1 2)" ] || fail "logs --until $since: $output"
        sk_out logs --since "$since" --tail 1 jd-logs
        [ "$output" = "line 5" ] || fail "logs --since --tail 1: $output"
        # -t: the journal's time, RFC 3339 with nine digits (the last three zeros: microseconds)
        sk_out logs -t --tail 1 jd-logs
        [[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}000Z\ line\ 5$ ]] || fail "logs -t: $output"
        local rt5 t
        rt5=$(jq -r 'select(.MESSAGE == "line 5") | .__REALTIME_TIMESTAMP' <<<"$e")
        t=$(date -u -d "@${rt5:0:${#rt5}-6}" +%Y-%m-%dT%H:%M:%S).${rt5: -6}000Z
        [ "$output" = "$t line 5" ] || fail "logs -t: $output, want $t"
        sk rm jd-logs
}

t_logs_streams_and_details() {
        need_journald
        sk run --name jd-streams --log-driver journald --label com.example.team=core --log-opt labels=com.example.team \
                busybox sh -c 'echo out-line; echo err-line >&2'
        expect_status 0
        local id
        id=$(id_of jd-streams)
        jd_entries "$id" 2 >/dev/null
        sk_out logs jd-streams
        [ "$output" = out-line ] || fail "stdout: $output"
        [ "$errout" = err-line ] || fail "stderr: $errout"
        # --details: the attribute fields as docker shows them for journald (sanitised names)
        sk_out logs --details jd-streams
        [ "$output" = "COM_EXAMPLE_TEAM=core out-line" ] || fail "details: $output"
        [ "$errout" = "COM_EXAMPLE_TEAM=core err-line" ] || fail "details (stderr): $errout"
        sk rm jd-streams
}

t_follow() {
        need_journald
        sk run -d --name jd-follow --log-driver journald busybox sh -c \
                'echo first; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "line $i"; usleep 20000; done'
        expect_status 0
        local out
        # logs -f returns once the container has stopped, with every line it wrote
        out=$(timeout 60 "$STOCKADE" logs -f jd-follow) || fail "logs -f: status $?: $out"
        [ "$out" = "$(echo first; printf 'line %s\n' $(seq 1 30))" ] || fail "logs -f: $out"
        # --tail with -f of a stopped container: the tail, at once
        out=$(timeout 60 "$STOCKADE" logs -f --tail 2 jd-follow) || fail "logs -f --tail 2: status $?"
        [ "$out" = "$(printf 'line 29\nline 30')" ] || fail "logs -f --tail 2: $out"
        sk rm jd-follow
}

t_follow_while_running() {
        need_journald
        # The container writes "before", then waits on a file we create once the follower has shown it.
        sk run -d --name jd-live --log-driver journald -v "$WORK:/w" busybox sh -c \
                'echo before; while [ ! -e /w/go-on ]; do usleep 20000; done; echo after1; echo after2 >&2; echo after3'
        expect_status 0
        timeout 60 "$STOCKADE" logs -f jd-live >"$WORK/follow.out" 2>"$WORK/follow.err" &
        local fpid=$! i
        for i in $(seq 1 600); do
                grep -q before "$WORK/follow.out" 2>/dev/null && break
                sleep 0.05
        done
        grep -q before "$WORK/follow.out" || fail "the follower did not show the first line"
        touch "$WORK/go-on"
        wait "$fpid" || fail "logs -f: status $?"
        [ "$(cat "$WORK/follow.out")" = "$(printf 'before\nafter1\nafter3')" ] || fail "stdout: $(cat "$WORK/follow.out")"
        [ "$(cat "$WORK/follow.err")" = after2 ] || fail "stderr: $(cat "$WORK/follow.err")"
        sk rm jd-live
}

# ================================================================ long lines

t_long_line_in_pieces() {
        need_journald
        # 40 KiB and a newline, then a short line, then an unfinished one
        sk run --name jd-long --log-driver journald busybox sh -c \
                'head -c 40960 /dev/zero | tr "\0" x; echo; echo after; printf "no newline"'
        expect_status 0
        local id e pieces ids
        id=$(id_of jd-long)
        e=$(jd_entries "$id" 5)
        [ "$(grep -c . <<<"$e")" = 5 ] || fail "expected 5 entries (3 pieces, a line, an unfinished one): $(jq -c '{m: (.MESSAGE|length), p: .CONTAINER_PARTIAL_ORDINAL}' <<<"$e")"
        pieces=$(jq -c 'select(.MESSAGE | startswith("xxx")) | [(.MESSAGE | length), .CONTAINER_PARTIAL_ORDINAL, .CONTAINER_PARTIAL_LAST, .CONTAINER_PARTIAL_MESSAGE]' <<<"$e")
        [ "$pieces" = "$(printf '%s\n' '[16384,"1","false","true"]' '[16384,"2","false","true"]' '[8192,"3","true",null]')" ] ||
                fail "pieces: $pieces"
        ids=$(jq -r 'select(.MESSAGE | startswith("xxx")) | .CONTAINER_PARTIAL_ID' <<<"$e" | sort -u)
        [[ "$ids" =~ ^[0-9a-f]{64}$ ]] || fail "partial ids: $ids"
        # the unfinished last line: a piece of its own, no "\n" when read
        jq -e 'select(.MESSAGE == "no newline") | .CONTAINER_PARTIAL_MESSAGE == "true" and .CONTAINER_PARTIAL_ORDINAL == "1"' \
                <<<"$e" >/dev/null || fail "unfinished line: $(entry_with "$e" "no newline")"
        # logs puts the pieces together again
        "$STOCKADE" logs jd-long >"$WORK/long.out"
        { head -c 40960 /dev/zero | tr '\0' x; echo; echo after; printf 'no newline'; } >"$WORK/long.want"
        cmp "$WORK/long.out" "$WORK/long.want" || fail "logs: $(wc -c <"$WORK/long.out") bytes"
        sk rm jd-long
}

# ================================================================ journald absent

t_no_journald() {
        need_journald
        # In a mount namespace of its own the socket is hidden: the start fails as docker's does.
        local out st=0
        out=$(unshare -m --propagation private "$BASH" -c \
                'mount -t tmpfs tmpfs /run/systemd/journal && exec "$0" run --name jd-none --log-driver journald busybox true' \
                "$STOCKADE" 2>&1) || st=$?
        [ "$st" = 125 ] || fail "status $st: $out"
        [[ "$out" == *"failed to initialize logging driver: journald is not enabled on this host (/run/systemd/journal/socket)"* ]] ||
                fail "message: $out"
        sk rm -f jd-none
}

run_test "fields: docker's, the tag, labels and env, priorities, epoch and ordinals" t_fields
run_test "logs: --tail, --since, --until, -t" t_logs_tail_since_until_timestamps
run_test "logs: stdout and stderr apart, --details" t_logs_streams_and_details
run_test "logs -f until the container stops" t_follow
run_test "logs -f while the container runs" t_follow_while_running
run_test "a 40 KiB line in 16 KiB pieces, rejoined by logs; the unfinished last line" t_long_line_in_pieces
run_test "no journald: the start fails" t_no_journald
finish
