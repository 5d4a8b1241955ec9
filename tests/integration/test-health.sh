#!/bin/bash
# Container healthchecks (docs/ENGINE.md "Healthchecks"): `run --health-*` and an image's HEALTHCHECK,
# probed by the monitor as docker's daemon does: State.Health (starting, healthy, unhealthy, the
# failing streak, the last five results with their output), ps's "(healthy)", health_status events,
# the timeout that kills the probe, the start period, --no-healthcheck, and the errors.
. "$(dirname "$0")/engine-lib.sh"

health() { "$STOCKADE" inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null; }

# wait_health NAME STATUS [SECONDS]: until State.Health.Status is STATUS
# health_events NAME WANT: the container's health_status actions, one a line, once they are WANT (the
# monitor writes the event just after the record)
health_events() {
        local i
        for ((i = 0; i < 50; i++)); do
                output=$("$STOCKADE" events --since 1m --until 0s --filter container="$1" --filter event=health_status \
                        --format '{{.Action}}')
                [ "$output" = "$2" ] && return 0
                sleep 0.1
        done
        fail "$1: events '$output', want '$2'"
}

wait_health() {
        local i
        for ((i = 0; i < ${3:-20} * 10; i++)); do
                [ "$(health "$1")" = "$2" ] && return 0
                sleep 0.1
        done
        fail "$1: health '$(health "$1")' after ${3:-20}s, want '$2': $("$STOCKADE" inspect --format '{{json .State.Health}}' "$1")"
}

t_healthy_after_start() {
        sk run -d --name hc-ok --health-cmd 'echo probe-out; test -f /tmp/ready' --health-interval 300ms \
                --health-retries 50 busybox sh -c 'sleep 1; touch /tmp/ready; exec sleep 100'
        expect_status 0
        [ "$(health hc-ok)" = starting ] || fail "first status: $(health hc-ok)"
        sk_out ps --format '{{.Names}} {{.Status}}'
        echo "$output" | grep -q '^hc-ok Up .* (health: starting)$' || fail "ps while starting: $output"
        wait_health hc-ok healthy
        sk_out ps --format '{{.Names}} {{.Status}}'
        echo "$output" | grep -q '^hc-ok Up .* (healthy)$' || fail "ps when healthy: $output"
        sk_out inspect --format '{{json .State.Health}}' hc-ok
        echo "$output" | jq -e '.FailingStreak == 0 and (.Log | length) >= 1 and (.Log | length) <= 5 and
                (.Log[-1] | .ExitCode == 0 and .Output == "probe-out\n" and (.Start | test("^20[0-9-]+T")) and .End >= .Start)' \
                >/dev/null || fail "State.Health: $output"
        sk_out inspect --format '{{json .Config.Healthcheck}}' hc-ok
        [ "$output" = '{"Test":["CMD-SHELL","echo probe-out; test -f /tmp/ready"],"Interval":300000000,"Retries":50}' ] ||
                fail "Config.Healthcheck: $output"
        health_events hc-ok "health_status: healthy"
        sk rm -f hc-ok
}

t_unhealthy_and_recovery() {
        # failing until /tmp/ok appears, then passing: unhealthy after 2 failures, then healthy again
        sk run -d --name hc-flip --health-cmd 'test -f /tmp/ok' --health-interval 200ms --health-retries 2 busybox sleep 100
        wait_health hc-flip unhealthy
        streak=$("$STOCKADE" inspect --format '{{.State.Health.FailingStreak}}' hc-flip)
        [ "$streak" -ge 2 ] || fail "streak $streak"
        sk_out ps --format '{{.Names}} {{.Status}}'
        echo "$output" | grep -q '^hc-flip Up .* (unhealthy)$' || fail "ps: $output"
        sk exec hc-flip touch /tmp/ok
        wait_health hc-flip healthy
        health_events hc-flip "$(printf 'health_status: unhealthy\nhealth_status: healthy')"
        sk rm -f hc-flip
}

t_timeout_kills_probe() {
        sk run -d --name hc-slow --health-cmd 'sleep 30' --health-interval 300ms --health-timeout 200ms \
                --health-retries 2 busybox sleep 100
        wait_health hc-slow unhealthy
        sk_out inspect --format '{{json .State.Health.Log}}' hc-slow
        echo "$output" | jq -e 'all(.[]; .ExitCode == -1 and .Output == "Health check exceeded timeout (200ms)")' >/dev/null ||
                fail "Log: $output"
        # the timed-out probes were killed: at most the one running now is left
        sk_out exec hc-slow sh -c 'ps -o args | grep -c "^sleep 30"'
        [ "$output" -le 1 ] || fail "$output probes still running"
        sk rm -f hc-slow
}

t_start_period() {
        sk run -d --name hc-sp --health-cmd false --health-interval 200ms --health-retries 1 \
                --health-start-period 3s busybox sleep 100
        sleep 1.5
        [ "$(health hc-sp)" = starting ] || fail "unhealthy inside the start period: $(health hc-sp)"
        [ "$("$STOCKADE" inspect --format '{{.State.Health.FailingStreak}}' hc-sp)" = 0 ] || fail "failures counted"
        wait_health hc-sp unhealthy
        sk rm -f hc-sp
}

t_exec_form_user_env() {
        # CMD form, run as the container's user with its environment
        sk create --name hc-cmd -u 1000 -e PROBE=yes --health-cmd 'test "$(id -u)" = 1000 && test "$PROBE" = yes' \
                --health-interval 200ms busybox sleep 100
        sk start hc-cmd
        wait_health hc-cmd healthy
        # a probe that cannot run at all is a failure with its reason
        sk run -d --name hc-missing --health-cmd '/no/such/probe' --health-interval 200ms --health-retries 1 busybox sleep 100
        wait_health hc-missing unhealthy
        sk_out inspect --format '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' hc-missing
        expect_output_has "127 /bin/sh: /no/such/probe: not found"
        sk rm -f hc-cmd hc-missing
}

t_image_healthcheck() {
        # an image's HEALTHCHECK applies, the run's flags override its fields, --no-healthcheck drops it
        bash "$REPO_ROOT/tools/busybox-image.sh" --tar "$WORK/bb.tar" >/dev/null
        sk import -c 'HEALTHCHECK --interval=200ms --retries=1 CMD test -e /etc/passwd' "$WORK/bb.tar" hc-image:1
        expect_status 0
        sk run -d --name hc-img hc-image:1 sleep 100
        wait_health hc-img healthy
        sk_out inspect --format '{{json .Config.Healthcheck}}' hc-img
        [ "$output" = '{"Test":["CMD-SHELL","test -e /etc/passwd"],"Interval":200000000,"Retries":1}' ] || fail "merged: $output"
        sk run -d --name hc-img2 --health-cmd 'test -e /nope' hc-image:1 sleep 100
        wait_health hc-img2 unhealthy
        sk_out inspect --format '{{json .Config.Healthcheck}}' hc-img2
        [ "$output" = '{"Test":["CMD-SHELL","test -e /nope"],"Interval":200000000,"Retries":1}' ] || fail "override: $output"
        sk run -d --name hc-img3 --no-healthcheck hc-image:1 sleep 100
        sleep 0.6
        sk_out inspect --format '{{json .State.Health}}' hc-img3
        [ "$output" = null ] || fail "--no-healthcheck: $output"
        sk_out ps --format '{{.Names}} {{.Status}}' --filter name=hc-img3
        echo "$output" | grep -q '^hc-img3 Up [^(]*$' || fail "ps: $output"
        sk rm -f hc-img hc-img2 hc-img3
}

t_restart_resets() {
        # a restart begins "starting" again with the streak cleared and the old results kept
        sk run -d --name hc-rs --health-cmd false --health-interval 200ms --health-retries 1 busybox sleep 100
        wait_health hc-rs unhealthy
        sk restart -t 0 hc-rs
        [ "$(health hc-rs)" = starting ] || fail "after restart: $(health hc-rs)"
        sk_out inspect --format '{{len .State.Health.Log}}' hc-rs
        [ "$output" -ge 1 ] || fail "log dropped: $output"
        sk rm -f hc-rs
}

t_errors() {
        sk run --rm --no-healthcheck --health-cmd true busybox true
        expect_status 125
        expect_output_has "--no-healthcheck conflicts with --health-* options"
        sk run --rm --health-interval -1s busybox true
        expect_status 125
        expect_output_has "--health-interval cannot be negative"
        sk run --rm --health-timeout 500us busybox true
        expect_status 125
        expect_output_has "Timeout in Healthcheck cannot be less than 1ms"
        sk run --rm --health-retries -1 busybox true
        expect_status 125
        expect_output_has "--health-retries cannot be negative"
        sk run --rm --health-start-period 5parsecs busybox true
        expect_status 125
        expect_output_has "--health-start-period"
        [ -z "$(all_container_ids)" ] || fail "a refused run left a container"
}

run_test "healthy once the probe passes; ps, inspect and the event" t_healthy_after_start
run_test "unhealthy after --health-retries failures, healthy again after a pass" t_unhealthy_and_recovery
run_test "a probe over --health-timeout is killed and counts as -1" t_timeout_kills_probe
run_test "failures inside --health-start-period are not counted" t_start_period
run_test "the probe runs as the container's user with its env; a probe that cannot run fails" t_exec_form_user_env
run_test "an image's HEALTHCHECK, overridden by flags, dropped by --no-healthcheck" t_image_healthcheck
run_test "restart: starting again, the log kept" t_restart_resets
run_test "errors name the flag" t_errors
finish
