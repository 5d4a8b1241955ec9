#!/bin/bash
# Container lifecycle without a daemon: create/start/stop/kill/restart/rm, ps, logs, wait, exec,
# inspect, top, stats, rename, update, restart policies, daemon.json, and the image commands.
. "$(dirname "$0")/engine-lib.sh"

wait_for() {
        local i
        for i in $(seq 1 100); do
                eval "$1" && return 0
                sleep 0.1
        done
        fail "timed out waiting for: $1"
}

t_create_start_stop_rm() {
        local id
        sk_out create --name c1 busybox sleep 300
        expect_status 0
        id=$output
        [ ${#id} -eq 64 ] || fail "id: $id"
        sk inspect --format '{{.State.Status}}' c1
        [ "$output" = created ] || fail "status: $output"
        sk start c1
        [ "$output" = c1 ] || fail "start printed: $output"
        sk inspect --format '{{.State.Status}} {{.State.Running}}' c1
        [ "$output" = "running true" ] || fail "status: $output"
        sk ps --format '{{.Names}} {{.Status}}'
        case "$output" in "c1 Up "*) ;; *) fail "ps: $output" ;; esac
        # sleep as pid 1 ignores TERM: stop -t 1 kills it after a second.
        sk stop -t 1 c1
        [ "$output" = c1 ] || fail "stop printed: $output"
        sk inspect --format '{{.State.Status}} {{.State.ExitCode}}' c1
        [ "$output" = "exited 137" ] || fail "after stop: $output"
        sk ps -q
        [ -z "$output" ] || fail "ps shows a stopped container: $output"
        sk ps -a --format '{{.Names}} {{.Status}}'
        case "$output" in "c1 Exited (137) "*) ;; *) fail "ps -a: $output" ;; esac
        sk start c1
        sk inspect --format '{{.State.Status}}' c1
        [ "$output" = running ] || fail "restart from exited: $output"
        sk rm c1
        expect_status 1
        expect_output_has "You cannot remove a running container"
        sk rm -f c1
        expect_status 0
        sk inspect c1
        expect_status 1
}

t_kill_and_wait() {
        sk run -d --name k1 busybox sleep 300
        sk kill -s TERM k1
        # pid 1 without a handler ignores TERM
        sk inspect --format '{{.State.Running}}' k1
        [ "$output" = true ] || fail "TERM killed pid 1?"
        ( sleep 0.5; "$STOCKADE" kill k1 >/dev/null ) &
        sk wait k1
        [ "$output" = 137 ] || fail "wait: $output"
        sk wait k1
        [ "$output" = 137 ] || fail "wait on an exited container: $output"
        sk kill k1
        expect_status 1
        expect_output_has "is not running"
        sk run -d --name k2 busybox sh -c 'trap "exit 42" TERM; while true; do sleep 0.1; done'
        sleep 0.3
        sk stop k2
        sk inspect --format '{{.State.ExitCode}}' k2
        [ "$output" = 42 ] || fail "TERM handler exit: $output"
        sk rm k1 k2
}

t_logs() {
        sk run --name l1 busybox sh -c 'echo out1; echo err1 >&2; echo out2; printf partial'
        [ "$status" -eq 0 ] || fail "run: $output"
        sk_out logs l1
        [ "$output" = "$(printf 'out1\nout2\npartial')" ] || fail "stdout: $output"
        [ "$errout" = "err1" ] || fail "stderr: $errout"
        sk logs --tail 1 l1
        [ "$output" = "partial" ] || fail "tail: $output"
        sk logs -t l1
        echo "$output" | grep -E '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z out1$' >/dev/null || fail "-t: $output"
        local log
        log=$("$STOCKADE" inspect --format '{{.LogPath}}' l1)
        head -1 "$log" | grep -E '^\{"log":"out1\\n","stream":"stdout","time":"[^"]+Z"\}$' >/dev/null ||
                fail "json-file line: $(head -1 "$log")"
        sk inspect --format '{{json .HostConfig.LogConfig}}' l1
        [ "$output" = '{"Type":"json-file","Config":{"max-size":"10m","max-file":"3"}}' ] || fail "LogConfig: $output"
        sk logs --since 1h l1
        expect_output_has out1
        sk logs --until 2000-01-01T00:00:00Z l1
        [ -z "$output" ] || fail "until: $output"
        # follow ends when the container stops
        sk run -d --name l2 busybox sh -c 'for i in 1 2 3; do echo line$i; sleep 0.2; done'
        sk logs -f l2
        [ "$output" = "$(printf 'line1\nline2\nline3')" ] || fail "follow: $output"
        sk rm l1 l2
}

t_log_rotation() {
        sk run --name rot --log-opt max-size=10k --log-opt max-file=3 busybox sh -c \
                'i=0; while [ $i -lt 2000 ]; do echo "line $i out"; i=$((i+1)); done'
        local log
        log=$("$STOCKADE" inspect --format '{{.LogPath}}' rot)
        [ -f "$log.1" ] && [ -f "$log.2" ] || fail "no rotated files"
        [ ! -e "$log.3" ] || fail "max-file exceeded"
        [ "$(stat -c %s "$log.1")" -le 10240 ] || fail "rotated file above max-size"
        sk logs --tail 1 rot
        [ "$output" = "line 1999 out" ] || fail "last line: $output"
        sk rm rot
}

t_exec() {
        sk run -d --name e1 -e FOO=bar busybox sleep 300
        sk exec e1 sh -c 'echo $FOO; exit 7'
        expect_status 7
        [ "$output" = bar ] || fail "exec env: $output"
        sk exec -e X=1 -w /tmp -u 1000 e1 sh -c 'echo $X $(pwd) $(id -u)'
        [ "$output" = "1 /tmp 1000" ] || fail "exec opts: $output"
        sk exec e1 /no/such
        [ "$status" -ne 0 ] || fail "exec of a missing binary succeeded"
        output=$(echo stdin-data | "$STOCKADE" exec -i e1 cat)
        [ "$output" = stdin-data ] || fail "exec -i: $output"
        sk exec -d e1 sleep 100
        expect_status 0
        sk top e1
        expect_output_has "sleep 300"
        expect_output_has "sleep 100"
        sk rm -f e1
        sk exec e1 true
        expect_status 125
}

t_inspect() {
        sk create --name i1 --label app=demo --security-opt apparmor=unconfined busybox true
        sk inspect i1
        echo "$output" | jq -e '.[0] | .Id and .Created and .State.Status == "created" and .Name == "/i1"
                and .Config.Labels.app == "demo" and .HostConfig.SecurityOpt == ["apparmor=unconfined"]
                and .AppArmorProfile == "unconfined" and (.Stockade | not)' >/dev/null || fail "inspect: $output"
        sk inspect --format '{{.Name}} {{index .Config.Labels "app"}} {{.AppArmorProfile}} {{json .State.Running}}' i1
        [ "$output" = "/i1 demo unconfined false" ] || fail "format: $output"
        sk inspect --format '{{.HostConfig.SecurityOpt}}' "$("$STOCKADE" create busybox true)"
        [ "$output" = "[]" ] || fail "empty SecurityOpt: $output"
        sk inspect --format '{{.Id}}' busybox
        case "$output" in sha256:*) ;; *) fail "image inspect: $output" ;; esac
        sk inspect nothing-here
        expect_status 1
        expect_output_has "No such object: nothing-here"
        sk rm i1
        for id in $(all_container_ids); do "$STOCKADE" rm "$id" >/dev/null; done
}

t_ps_filters_formats() {
        sk run -d --name p1 --label tier=web busybox sleep 300
        sk run -d --name p2 --label tier=db busybox sleep 300
        sk create --name p3 busybox true
        sk ps --filter label=tier=web --format '{{.Names}}'
        [ "$output" = p1 ] || fail "label filter: $output"
        sk ps -a --filter status=created --format '{{.Names}}'
        [ "$output" = p3 ] || fail "status filter: $output"
        sk ps --filter name=p1 --filter name=p2 --format '{{.Names}}'
        [ "$(echo "$output" | sort | tr '\n' ' ')" = "p1 p2 " ] || fail "same key ORed: $output"
        sk ps --filter name=p1 --filter label=tier=db -q
        [ -z "$output" ] || fail "different keys ANDed: $output"
        sk ps
        echo "$output" | head -1 | grep -E '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' >/dev/null ||
                fail "header: $(echo "$output" | head -1)"
        expect_output_has '"sleep 300"'
        sk ps -q --no-trunc
        [ "$(echo "$output" | head -1 | wc -c)" = 65 ] || fail "no-trunc"
        sk rm -f p1 p2 p3
}

t_rename_update_stats() {
        sk run -d --name u1 --memory=64m busybox sleep 300
        sk rename u1 u2
        sk inspect --format '{{.Name}}' u2
        [ "$output" = /u2 ] || fail "rename: $output"
        local id
        id=$("$STOCKADE" inspect --format '{{.Id}}' u2)
        sk update --memory=128m --memory-swap=256m --pids-limit=50 u2
        expect_status 0
        [ "$(mem_limit "$id")" = 134217728 ] || fail "update memory: $(mem_limit "$id")"
        [ "$(memsw_limit "$id")" = 268435456 ] || fail "update memory+swap: $(memsw_limit "$id")"
        [ "$(cat "$(cg_file "$id" pids pids.max)")" = 50 ] || fail "update pids"
        sk inspect --format '{{.HostConfig.Memory}}' u2
        [ "$output" = 134217728 ] || fail "stored: $output"
        sk stats --no-stream u2
        # here-strings, not echo | head: under pipefail a SIGPIPE to echo would fail a match
        grep -qE '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$' <<<"$(sed -n 1p <<<"$output")" ||
                fail "stats header: $output"
        grep -qE ' u2 .* / 128MiB ' <<<"$(sed -n '$p' <<<"$output")" || fail "stats row: $output"
        sk run -d --name u3 busybox sleep 300
        sk rename u2 u3
        expect_status 1
        expect_output_has "already in use"
        sk rm -f u2 u3
}

t_restart_policy() {
        sk run -d --name r1 --restart on-failure:2 busybox sh -c 'exit 1'
        wait_for '[ "$("$STOCKADE" inspect --format "{{.State.Status}}" r1)" = exited ] && [ "$("$STOCKADE" inspect --format "{{.RestartCount}}" r1)" = 2 ]'
        sk run -d --name r2 --restart always busybox sh -c 'sleep 0.2'
        wait_for '[ "$("$STOCKADE" inspect --format "{{.RestartCount}}" r2)" -ge 2 ]'
        sk stop -t 1 r2
        sk inspect --format '{{.State.Status}}' r2
        [ "$output" = exited ] || fail "stopped container restarted: $output"
        sk run --rm --restart always busybox true
        expect_status 125
        expect_output_has "Conflicting options: --restart and --rm"
        sk rm -f r1 r2
}

t_daemon_json() {
        echo '{"bogus-key": 1}' >"$STOCKADE_CONFIG"
        sk ps
        expect_status 125
        expect_output_has '"bogus-key"'
        echo '{"default-ulimits": {"nofile": {"Name": "nofile", "Hard": 4096, "Soft": 2048}}, "no-new-privileges": true,
               "log-opts": {"max-size": "1m", "max-file": "2"}}' >"$STOCKADE_CONFIG"
        sk run --rm busybox sh -c 'ulimit -n; grep NoNewPrivs /proc/self/status'
        expect_output_has 2048
        expect_output_has "NoNewPrivs:	1"
        sk create --name d1 busybox true
        sk inspect --format '{{json .HostConfig.LogConfig.Config}}' d1
        [ "$output" = '{"max-size":"1m","max-file":"2"}' ] || fail "log-opts: $output"
        sk rm d1
        echo '{"log-opts": {"max-size": "huge"}}' >"$STOCKADE_CONFIG"
        sk run --rm busybox true
        expect_status 125
        expect_output_has "invalid size: 'huge'"
        rm -f "$STOCKADE_CONFIG"
}

t_images() {
        sk images
        echo "$output" | head -1 | grep -E '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$' >/dev/null || fail "header: $output"
        echo "$output" | grep -E '^busybox +latest +[0-9a-f]{12} ' >/dev/null || fail "busybox row: $output"
        sk tag busybox mybox:1
        sk images --format '{{.Repository}}:{{.Tag}}'
        expect_output_has "mybox:1"
        sk save -o "$WORK/saved.tar" mybox:1
        expect_status 0
        case "$(tar -tf "$WORK/saved.tar")" in *manifest.json*) ;; *) fail "no manifest.json" ;; esac
        local id
        id=$("$STOCKADE" inspect --format '{{.Id}}' mybox:1)
        sk rmi mybox:1
        expect_output_has "Untagged: mybox:1"
        sk load -i "$WORK/saved.tar"
        expect_output_has "Loaded image: mybox:1"
        [ "$("$STOCKADE" inspect --format '{{.Id}}' mybox:1)" = "$id" ] || fail "id changed across save/load"
        sk run -d --name im1 mybox:1 sleep 300
        # mybox:1 has another tag (busybox): it can go; busybox is then the last tag of an image in use.
        sk rmi mybox:1 busybox
        expect_status 1
        expect_output_has "Untagged: mybox:1"
        expect_output_has 'conflict: unable to remove repository reference "busybox" (must force)'
        sk rm -f im1
        sk tag busybox other:2
        sk rmi "$id"
        expect_status 1
        expect_output_has "referenced in multiple repositories"
        sk rmi other:2
        expect_output_has "Untagged: other:2"
        sk run --rm busybox true
        expect_status 0
        # an archive whose config does not match its digest is refused (layers already stored are
        # reused by diff_id, so the config is what a tampering must change)
        mkdir -p "$WORK/bad" && tar -C "$WORK/bad" -xf "$WORK/saved.tar"
        local config
        config=$(jq -r '.[0].Config' "$WORK/bad/manifest.json")
        jq -c '.config.Env += ["EVIL=1"]' "$WORK/bad/$config" >"$WORK/cfg" && mv "$WORK/cfg" "$WORK/bad/$config"
        tar -C "$WORK/bad" -cf "$WORK/bad.tar" .
        sk load -i "$WORK/bad.tar"
        expect_status 125
        expect_output_has "has the content of sha256:"
}

# import -m and -c: docker's --change instructions reach the image's config and take effect in run; a
# bad change or message exits 125 and stores nothing.  The rootfs is busybox's own layer, from save.
t_import_changes() {
        local layer id configs n
        sk save -o "$WORK/bb.tar" busybox
        expect_status 0
        mkdir -p "$WORK/bb" && tar -C "$WORK/bb" -xf "$WORK/bb.tar"
        layer=$WORK/bb/$(jq -r '.[0].Layers[0]' "$WORK/bb/manifest.json")
        configs=$STOCKADE_DATA_ROOT/image/configs/sha256
        sk_out import -m "imported with changes" -c 'CMD ["echo","hi"]' -c 'ENV A=1' -c 'ENV B=${A}2 C="x y"' \
                -c 'WORKDIR /tmp' -c 'USER 1000' -c 'LABEL app=demo' -c 'expose 8080 53/udp' -c 'STOPSIGNAL SIGINT' \
                "$layer" changed:1
        expect_status 0
        id=$output
        [[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import printed: $output"
        sk inspect --format '{{json .Config.Cmd}}|{{.Config.WorkingDir}}|{{.Config.User}}|{{json .Config.Env}}' changed:1
        [ "$output" = '["echo","hi"]|/tmp|1000|["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1","B=12","C=x y"]' ] ||
                fail "config: $output"
        sk inspect --format '{{.Config.Labels.app}}|{{json .Config.ExposedPorts}}|{{.Config.StopSignal}}' changed:1
        [ "$output" = 'demo|{"53/udp":{},"8080/tcp":{}}|SIGINT' ] || fail "config: $output"
        [ "$(jq -r '.comment + "|" + .history[0].comment' "$configs/${id#sha256:}")" = "imported with changes|imported with changes" ] ||
                fail "comment: $(jq -c '{comment, history}' "$configs/${id#sha256:}")"
        # the defaults take effect: the command, and the environment, directory and user under it
        sk run --rm changed:1
        expect_status 0
        [ "$output" = hi ] || fail "run: $output"
        sk run --rm changed:1 sh -c 'echo "$A $B $C"; pwd; id -u'
        [ "$output" = "$(printf '1 12 x y\n/tmp\n1000')" ] || fail "run: $output"
        sk run -d --name ic1 changed:1 sleep 300
        sk inspect --format '{{.Config.StopSignal}}' ic1
        [ "$output" = SIGINT ] || fail "container's stop signal: $output"
        sk rm -f ic1
        # from stdin, a change with a continuation and a comment
        sk_out import -c $'# the command\nCMD echo \\\n  piped' - piped:1 <"$layer"
        expect_status 0
        sk run --rm piped:1
        [ "$output" = piped ] || fail "piped: $output"
        # refused before anything is read or stored
        n=$(ls "$configs" | wc -l)
        sk import -c 'ENV A=1' -c 'RUN x' "$layer" bad:1
        expect_status 125
        expect_output_has "RUN is not a valid change command"
        sk import -c 'STOPSIGNAL NOPE' "$layer" bad:1
        expect_status 125
        expect_output_has "STOPSIGNAL: Invalid signal: NOPE"
        sk import -c 'ENV A=${B' "$layer" bad:1
        expect_status 125
        expect_output_has "ENV: syntax error: missing '}'"
        sk import -m $'bell\a' "$layer" bad:1
        expect_status 125
        expect_output_has "--message: control character 0x07"
        sk inspect --type image bad:1
        expect_status 1
        [ "$(ls "$configs" | wc -l)" = "$n" ] || fail "a refused import stored a config"
        [ -z "$(ls "$STOCKADE_DATA_ROOT/image/tmp")" ] || fail "staging left: $(ls "$STOCKADE_DATA_ROOT/image/tmp")"
        sk rmi changed:1 piped:1
        expect_status 0
}

run_test "create, start, stop -t, start again, rm and rm -f" t_create_start_stop_rm
run_test "kill -s, wait, stop with a TERM handler" t_kill_and_wait
run_test "logs: streams, --tail, -t, --since/--until, -f, json-file lines" t_logs
run_test "json-file rotation with max-size and max-file" t_log_rotation
run_test "exec: exit code, -e -w -u, -i, -d; top" t_exec
run_test "inspect: Docker's shape and --format" t_inspect
run_test "ps: --filter semantics, table and --format, -q, --no-trunc" t_ps_filters_formats
run_test "rename, update (live cgroups), stats --no-stream" t_rename_update_stats
run_test "restart policies: on-failure:N, always, stop ends it" t_restart_policy
run_test "daemon.json: validation, default-ulimits, no-new-privileges, log-opts" t_daemon_json
run_test "images: list, tag, save, rmi, load, in-use conflict" t_images
run_test "import -m and -c: message, Dockerfile changes in the config and in run, refusals" t_import_changes
finish
