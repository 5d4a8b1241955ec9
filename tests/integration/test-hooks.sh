#!/bin/bash
# OCI hooks: prestart, createRuntime, createContainer, startContainer, poststart, poststop.
source "$(dirname "$0")/lib.sh"

HOOK_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The hook: `hook.sh KIND LOG` appends "KIND <state json>" and a line of its own namespaces.
write_hook() {
        cat >"$1" <<'EOF'
#!/bin/sh
kind=$1 log=$2
state=$(cat)
printf '%s %s\n' "$kind" "$state" >>"$log"
printf 'ns %s %s %s\n' "$kind" "$(readlink /proc/self/ns/net)" "$(readlink /proc/self/ns/mnt)" >>"$log"
exit 0
EOF
        chmod 755 "$1"
}

# hooks_bundle NAME [ARGS...]: a bundle whose six hooks all log to $HLOG (the host's path), the
# startContainer one from inside the container (through a bind of the log directory).
hooks_bundle() {
        local name=$1
        shift
        new_bundle "$name" "$@"
        HDIR=$WORK/hooks-$name
        HLOG=$HDIR/log
        mkdir -p "$HDIR"
        : >"$HLOG"
        write_hook "$WORK/hook.sh"
        write_hook "$BUNDLE/rootfs/hook.sh"
        cfg "$name" '
                def h($k; $path; $log): {path: $path, args: [$path, $k, $log], env: [$envpath]};
                .mounts += [{destination: "/hooklog", type: "bind", source: $hdir, options: ["bind"]}]
                | .hooks = {
                        prestart: [h("prestart"; $hook; $log)],
                        createRuntime: [h("createRuntime"; $hook; $log)],
                        createContainer: [h("createContainer"; $hook; $log)],
                        startContainer: [h("startContainer"; "/hook.sh"; "/hooklog/log")],
                        poststart: [h("poststart"; $hook; $log)],
                        poststop: [h("poststop"; $hook; $log)]}' \
                --arg hook "$WORK/hook.sh" --arg log "$HLOG" --arg hdir "$HDIR" --arg envpath "$HOOK_PATH_ENV"
}

# The hook kinds logged so far, space-separated.
hook_order() {
        grep -v '^ns ' "$HLOG" | awk '{print $1}' | tr '\n' ' '
}

# hook_state KIND: the state JSON a hook got.
hook_state() {
        grep "^$1 " "$HLOG" | head -1 | cut -d' ' -f2-
}

t_hooks_order_and_state() {
        hooks_bundle hk-all
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(hook_order)" "prestart createRuntime createContainer " "hooks run by create"
        local pid
        pid=$(state_of "$CID" pid)
        rt start "$CID"
        assert_success
        assert_eq "$(hook_order)" "prestart createRuntime createContainer startContainer poststart " "hooks after start"
        rt kill "$CID" KILL
        wait_status "$CID" stopped
        assert_eq "$(hook_order)" "prestart createRuntime createContainer startContainer poststart " "kill runs no hook"
        rt delete "$CID"
        assert_success
        assert_eq "$(hook_order)" "prestart createRuntime createContainer startContainer poststart poststop " "hooks after delete"

        local k s
        for k in prestart createRuntime createContainer startContainer poststart poststop; do
                s=$(hook_state "$k")
                jq -e . >/dev/null <<<"$s" || fail "$k got no JSON on stdin: $s"
                assert_eq "$(jq -r .id <<<"$s")" "$CID" "id in the state of $k"
                assert_eq "$(jq -r .bundle <<<"$s")" "$BUNDLE" "bundle in the state of $k"
                assert_eq "$(jq -r .ociVersion <<<"$s")" 1.2.0 "ociVersion in the state of $k"
                if [ "$k" != poststop ]; then
                        assert_eq "$(jq -r .pid <<<"$s")" "$pid" "pid in the state of $k"
                fi
        done
        assert_eq "$(jq -r .status <<<"$(hook_state prestart)")" creating "status for prestart"
        assert_eq "$(jq -r .status <<<"$(hook_state createRuntime)")" creating "status for createRuntime"
        assert_eq "$(jq -r .status <<<"$(hook_state createContainer)")" created "status for createContainer"
        assert_eq "$(jq -r .status <<<"$(hook_state startContainer)")" created "status for startContainer"
        assert_eq "$(jq -r .status <<<"$(hook_state poststart)")" running "status for poststart"
        assert_eq "$(jq -r .status <<<"$(hook_state poststop)")" stopped "status for poststop"
}

t_hooks_namespaces() {
        hooks_bundle hk-ns
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        local pid cnet cmnt hnet hmnt
        pid=$(state_of "$CID" pid)
        cnet=$(readlink "/proc/$pid/ns/net")
        cmnt=$(readlink "/proc/$pid/ns/mnt")
        hnet=$(readlink /proc/self/ns/net)
        hmnt=$(readlink /proc/self/ns/mnt)
        rt delete --force "$CID"
        local k line
        for k in prestart createRuntime poststart poststop; do
                line=$(grep "^ns $k " "$HLOG")
                assert_eq "$line" "ns $k $hnet $hmnt" "namespaces of the $k hook (the runtime's)"
        done
        for k in createContainer startContainer; do
                line=$(grep "^ns $k " "$HLOG")
                assert_eq "$line" "ns $k $cnet $cmnt" "namespaces of the $k hook (the container's)"
        done
}

t_hooks_run_foreground() {
        hooks_bundle hk-run /init true
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(hook_order)" "prestart createRuntime createContainer startContainer poststart poststop " "hooks of run"
}

t_hooks_args_env() {
        new_bundle hk-argv /init true
        cat >"$WORK/argv-hook.sh" <<'EOF'
#!/bin/sh
echo "argv=$* env=$(env | grep -v '^PWD=' | sort | tr '\n' ' ')" >>"$LOG"
EOF
        chmod 755 "$WORK/argv-hook.sh"
        # busybox picks its applet by argv[0]: args[0] must reach the hook as its argv[0].
        cfg hk-argv '.hooks.prestart = [{path: $p, args: ["custom-argv0", "a", "b c"], env: ["LOG=" + $log, "X=1"]},
                {path: "/bin/busybox", args: ["echo", "argv0-is-echo"]}]' \
                --arg p "$WORK/argv-hook.sh" --arg log "$WORK/argv.log"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        local line
        line=$(cat "$WORK/argv.log")
        assert_eq "$line" "argv=a b c env=LOG=$WORK/argv.log X=1 " "the hook's arguments and environment"
        assert_output_contains "argv0-is-echo"
}

# failing_hook KIND STATUS: a bundle whose KIND hook prints to stderr and exits STATUS.
failing_hook_bundle() {
        local name=$1 kind=$2
        new_bundle "$name" /init pause
        printf '#!/bin/sh\necho "hook %s says no" >&2\nexit 3\n' "$kind" >"$WORK/fail-$name.sh"
        chmod 755 "$WORK/fail-$name.sh"
        cfg "$name" '.hooks[$k] = [{path: $p}]' --arg k "$kind" --arg p "$WORK/fail-$name.sh"
}

t_failing_prestart() {
        failing_hook_bundle hk-fail-prestart prestart
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create with a failing prestart hook"
        assert_output_contains "hooks.prestart[0] ($WORK/fail-hk-fail-prestart.sh): exited with status 3: hook prestart says no"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        [ -z "$(cgroups_of "$CID")" ] || fail "cgroups left: $(cgroups_of "$CID")"
        [ -z "$(pids_of "$CID")" ] || fail "processes left: $(pids_of "$CID")"
        rt state "$CID"
        assert_failure
}

t_failing_create_runtime() {
        failing_hook_bundle hk-fail-cr createRuntime
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create with a failing createRuntime hook"
        assert_output_contains "hooks.createRuntime[0] ($WORK/fail-hk-fail-cr.sh): exited with status 3: hook createRuntime says no"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
        [ -z "$(cgroups_of "$CID")" ] || fail "cgroups left: $(cgroups_of "$CID")"
}

t_failing_create_container() {
        failing_hook_bundle hk-fail-cc createContainer
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create with a failing createContainer hook"
        assert_output_contains "hooks.createContainer[0] ($WORK/fail-hk-fail-cc.sh): exited with status 3: hook createContainer says no"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_failing_start_container() {
        new_bundle hk-fail-sc /init pause
        printf '#!/bin/sh\necho "startContainer says no" >&2\nexit 4\n' >"$BUNDLE/rootfs/fail.sh"
        chmod 755 "$BUNDLE/rootfs/fail.sh"
        cfg hk-fail-sc '.hooks.startContainer = [{path: "/fail.sh"}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt start "$CID"
        assert_failure "start with a failing startContainer hook"
        assert_output_contains "hooks.startContainer[0] (/fail.sh): exited with status 4: startContainer says no"
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success
}

t_failing_poststart_warns() {
        failing_hook_bundle hk-fail-poststart poststart
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt start "$CID"
        assert_success "a failing poststart hook only warns"
        assert_output_contains "warning"
        assert_output_contains "hooks.poststart[0]"
        assert_output_contains "hook poststart says no"
        assert_eq "$(state_of "$CID")" running "the container after a failing poststart hook"
        rt delete --force "$CID"
        assert_success
}

t_failing_poststop_warns() {
        failing_hook_bundle hk-fail-poststop poststop
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success
        rt delete --force "$CID"
        assert_success "a failing poststop hook only warns"
        assert_output_contains "hooks.poststop[0]"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_failing_poststart_rest_run() {
        new_bundle hk-poststart-rest /init pause
        printf '#!/bin/sh\nexit 1\n' >"$WORK/fail1.sh"
        printf '#!/bin/sh\necho "$1" >>"$2"\n' >"$WORK/log1.sh"
        chmod 755 "$WORK/fail1.sh" "$WORK/log1.sh"
        cfg hk-poststart-rest '.hooks.poststart = [{path: $f}, {path: $l, args: [$l, "second-poststart", $log]}]
                | .hooks.poststop = [{path: $f}, {path: $l, args: [$l, "second-poststop", $log]}]' \
                --arg f "$WORK/fail1.sh" --arg l "$WORK/log1.sh" --arg log "$WORK/rest.log"
        rt run -d --bundle "$BUNDLE" "$CID"
        assert_success "run -d with a failing first poststart hook"
        assert_output_contains "hooks.poststart[0]"
        rt delete --force "$CID"
        assert_success "delete with a failing first poststop hook"
        assert_output_contains "hooks.poststop[0]"
        assert_eq "$(tr '\n' ' ' <"$WORK/rest.log")" "second-poststart second-poststop " "the hooks after the failing ones"
}

t_hook_timeout() {
        new_bundle hk-timeout /init pause
        cat >"$WORK/slow-hook.sh" <<EOF
#!/bin/sh
echo \$\$ >"$WORK/slow-hook.pid"
exec sleep 60
EOF
        chmod 755 "$WORK/slow-hook.sh"
        cfg hk-timeout '.hooks.createRuntime = [{path: $p, timeout: 1}]' --arg p "$WORK/slow-hook.sh"
        local t0=$SECONDS
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create with a hook that times out"
        assert_output_contains "hooks.createRuntime[0] ($WORK/slow-hook.sh): timed out after 1 s"
        [ $((SECONDS - t0)) -lt 20 ] || fail "the timeout took $((SECONDS - t0)) s"
        local hp
        hp=$(cat "$WORK/slow-hook.pid")
        if [ -e "/proc/$hp/status" ] && ! grep -q '^State:.*Z' "/proc/$hp/status"; then
                kill -9 "$hp"
                fail "the timed-out hook $hp is still running"
        fi
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_hook_not_found() {
        new_bundle hk-missing /init true
        cfg hk-missing '.hooks.prestart = [{path: "/nonexistent/hook"}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "hooks.prestart[0] (/nonexistent/hook): exited with status 127"
        assert_output_contains "No such file or directory"
        [ ! -e "$STATE_ROOT/$CID" ] || fail "state directory left"
}

t_hook_parse_errors() {
        new_bundle hk-relpath /init true
        cfg hk-relpath '.hooks.poststart = [{path: "relative/hook"}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains 'hooks.poststart[0].path: "relative/hook" must be an absolute path'
        new_bundle hk-zero-timeout /init true
        cfg hk-zero-timeout '.hooks.prestart = [{path: "/bin/true", timeout: 0}]'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "hooks.prestart[0].timeout: must be greater than zero"
        new_bundle hk-not-array /init true
        cfg hk-not-array '.hooks.prestart = {path: "/bin/true"}'
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "hooks.prestart"
}

t_hooks_many_in_order() {
        new_bundle hk-many /init true
        cat >"$WORK/n-hook.sh" <<'EOF'
#!/bin/sh
echo "$1" >>"$2"
EOF
        chmod 755 "$WORK/n-hook.sh"
        cfg hk-many '.hooks.prestart = [range(5) | {path: $p, args: [$p, "p\(.)", $log]}]' \
                --arg p "$WORK/n-hook.sh" --arg log "$WORK/many.log"
        rt run --bundle "$BUNDLE" "$CID"
        assert_success
        assert_eq "$(tr '\n' ' ' <"$WORK/many.log")" "p0 p1 p2 p3 p4 " "five prestart hooks, in order, once each"
}

run_test "all six hooks run once, in order, with the state JSON on stdin" t_hooks_order_and_state
run_test "hooks run in the runtime's or the container's namespaces as the spec says" t_hooks_namespaces
run_test "run in the foreground runs all six hooks" t_hooks_run_foreground
run_test "a hook gets its args and exactly its env" t_hooks_args_env
run_test "a failing prestart hook fails create, naming the hook, leaving nothing" t_failing_prestart
run_test "a failing createRuntime hook fails create, leaving nothing" t_failing_create_runtime
run_test "a failing createContainer hook fails create" t_failing_create_container
run_test "a failing startContainer hook fails start" t_failing_start_container
run_test "a failing poststart hook only warns" t_failing_poststart_warns
run_test "a failing poststop hook only warns" t_failing_poststop_warns
run_test "after a failing poststart or poststop hook the rest still run" t_failing_poststart_rest_run
run_test "a hook timeout kills the hook and fails create" t_hook_timeout
run_test "a missing hook binary fails create clearly" t_hook_not_found
run_test "hook config errors are refused at parse" t_hook_parse_errors
run_test "several hooks of a kind run in order" t_hooks_many_in_order
finish
