#!/bin/bash
# Errors name what is wrong (the JSON path, the mount, the hook), and a failed create rolls back:
# no state directory, cgroup, process or mount is left.
source "$(dirname "$0")/lib.sh"

# create_fails MESSAGE: create of $BUNDLE as $CID fails with MESSAGE and leaves nothing.
create_fails() {
        rt create --bundle "$BUNDLE" "$CID"
        assert_failure "create must fail"
        assert_output_contains "$1"
        assert_nothing_left "$CID" "$BUNDLE"
        rt state "$CID"
        assert_failure "state after a failed create"
}

# bad_config NAME JQ-FILTER MESSAGE [jq options]
bad_config() {
        local name=$1 filter=$2 msg=$3
        shift 3
        new_bundle "$name" /init true
        cfg "$name" "$filter" "$@"
        create_fails "$msg"
}

t_wrong_type() {
        bad_config er-args-type '.process.args = "/init true"' "process.args: expected an array of strings"
        bad_config er-args-elem '.process.args = ["/init", 3]' "process.args: expected an array of strings"
        bad_config er-terminal-type '.process.terminal = "yes"' "process.terminal: expected a boolean"
        bad_config er-uid-type '.process.user.uid = -1' "process.user.uid: expected a non-negative integer"
        bad_config er-uid-big '.process.user.uid = 4294967296' "process.user.uid: expected an integer between 0 and 4294967295"
        bad_config er-mounts-type '.mounts = {}' "mounts: expected an array"
        bad_config er-mount-opts '.mounts[0].options = "ro"' "mounts[0].options: expected an array of strings"
        bad_config er-hostname-type '.hostname = 42' "hostname: expected a string"
        bad_config er-ns-type '.linux.namespaces[0].type = 1' "linux.namespaces[0].type: expected a string"
        bad_config er-root-type '.root = "rootfs"' "root: expected an object"
}

t_missing_fields() {
        bad_config er-no-process 'del(.process)' "process: required to create a container"
        bad_config er-no-args 'del(.process.args)' "process.args: required, with at least the program to run"
        bad_config er-empty-args '.process.args = []' "process.args: required, with at least the program to run"
        bad_config er-no-cwd 'del(.process.cwd)' "process.cwd: required field is missing"
        bad_config er-no-root 'del(.root)' "root: required field is missing"
        bad_config er-empty-root '.root.path = ""' "root.path: must not be empty"
        bad_config er-no-version 'del(.ociVersion)' "ociVersion: required field is missing"
        bad_config er-version '.ociVersion = "2.0.0"' 'ociVersion: "2.0.0" is not supported'
        bad_config er-mount-dest 'del(.mounts[1].destination)' "mounts[1].destination: required field is missing"
}

t_bad_values() {
        bad_config er-rel-cwd '.process.cwd = "tmp"' 'process.cwd: "tmp" must be an absolute path'
        bad_config er-rel-dest '.mounts[0].destination = "proc"' 'mounts[0].destination: "proc" must be an absolute path'
        bad_config er-ns-unknown '.linux.namespaces += [{type: "bogus"}]' 'linux.namespaces[6].type: unknown namespace type "bogus"'
        bad_config er-ns-twice '.linux.namespaces += [{type: "pid"}]' 'linux.namespaces[6].type: namespace "pid" is listed twice'
        bad_config er-ns-relpath '.linux.namespaces[1].path = "netns"' 'linux.namespaces[1].path: "netns" must be an absolute path'
        bad_config er-maps-no-userns '.linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}]' \
                "linux.uidMappings: mappings are given but there is no user namespace"
        bad_config er-userns-no-maps '.linux.namespaces += [{type: "user"}]' \
                "linux.uidMappings: a new user namespace needs uidMappings and gidMappings"
        bad_config er-map-size '.linux.namespaces += [{type: "user"}]
                | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 0}]
                | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]' "linux.uidMappings[0].size: must be greater than 0"
        bad_config er-cgpath '.linux.cgroupsPath = "/a/../../b"' 'linux.cgroupsPath: "/a/../../b" must not contain ".."'
        bad_config er-cgpath-systemd '.linux.cgroupsPath = "system.slice:stockade:x"' "needs --systemd-cgroup"
        bad_config er-masked-rel '.linux.maskedPaths += ["proc/x"]' 'linux.maskedPaths[12]: "proc/x" must be an absolute path'
        bad_config er-timeoffsets '.linux.timeOffsets = {monotonic: {secs: 1}}' "linux.timeOffsets: given without a time namespace"
        bad_config er-personality '.linux.personality = {domain: "WINDOWS"}' 'linux.personality.domain: "WINDOWS" is not LINUX or LINUX32'
        bad_config er-tmpcopyup '.mounts += [{destination: "/x", type: "bind", source: "/tmp", options: ["rbind", "tmpcopyup"]}]' \
                'mounts[7] (/x): option "tmpcopyup" is only for tmpfs mounts'
}

t_bad_json() {
        new_bundle er-json /init true
        printf '{"ociVersion": "1.2.0", "process": {' >"$BUNDLE/config.json"
        create_fails "$BUNDLE/config.json: invalid JSON at line"
        new_bundle er-json-array /init true
        echo '[1, 2]' >"$BUNDLE/config.json"
        create_fails "expected a JSON object at the top level"
        new_bundle er-no-config /init true
        rm "$BUNDLE/config.json"
        create_fails "reading $BUNDLE/config.json: No such file or directory"
}

t_missing_rootfs() {
        bad_config er-no-rootfs '.root.path = "nonexistent"' "root.path: $WORK/bundles/er-no-rootfs/nonexistent: No such file or directory"
        new_bundle er-no-bundle /init true
        rt create --bundle "$WORK/no/such/bundle" "$CID"
        assert_failure
        assert_output_contains "--bundle $WORK/no/such/bundle: No such file or directory"
        assert_nothing_left "$CID"
}

t_unknown_capability() {
        bad_config er-cap '.process.capabilities.bounding += ["CAP_BOGUS"]' \
                'process.capabilities.bounding[3]: unknown capability "CAP_BOGUS"'
        bad_config er-cap-amb '.process.capabilities.ambient = ["NET_RAWR"]' \
                'process.capabilities.ambient[0]: unknown capability "NET_RAWR"'
}

t_bad_mount_type() {
        # The first mount is bad: the init fails while the runtime is still moving it into its
        # cgroups. The error must still be the init's, not a broken sync channel.
        local i
        for i in 1 2 3 4 5; do
                new_bundle "er-mount-type$i" /init true
                cfg "er-mount-type$i" '.mounts = [{destination: "/bad", type: "nosuchfs", source: "none"}] + .mounts'
                create_fails 'mounts[0] (/bad): mounting none (type nosuchfs, options ""): No such device'
        done
}

t_bad_mount_type_late() {
        new_bundle er-mount-late-type /init true
        mkdir -p "$WORK/er-src"
        # Good mounts before the bad one (after the cgroup mount): they must all be undone.
        cfg er-mount-late-type '.mounts += [{destination: "/good-tmpfs", type: "tmpfs", source: "tmpfs"},
                {destination: "/good-bind", type: "bind", source: $s, options: ["rbind"]},
                {destination: "/bad", type: "nosuchfs", source: "none"}]' --arg s "$WORK/er-src"
        local before
        before=$(wc -l </proc/self/mountinfo)
        create_fails 'mounts[9] (/bad): mounting none (type nosuchfs, options ""): No such device'
        assert_eq "$(wc -l </proc/self/mountinfo)" "$before" "host mounts after the failed create"
}

t_bad_mount_late() {
        # A bad bind source after the cgroup mount (made once the runtime has put the init in its
        # cgroups).
        new_bundle er-mount-late /init true
        cfg er-mount-late '.mounts += [{destination: "/late", type: "bind", source: "/nonexistent/late", options: ["bind"]}]'
        create_fails "mounts[7] (/late): opening bind source /nonexistent/late: No such file or directory"
}

t_bad_device_early() {
        # linux.devices are made before the init waits for its cgroups, too.
        local i
        for i in 1 2 3; do
                new_bundle "er-dev$i" /init true
                cfg "er-dev$i" '.linux.devices = [{path: "/proc/stockade-dev", type: "c", major: 1, minor: 3}]'
                rt create --bundle "$BUNDLE" "$CID"
                assert_failure
                refute_output_contains "sync: Broken pipe"
                assert_output_contains "linux.devices[0]: creating"
                assert_output_contains "/proc/stockade-dev"
                assert_nothing_left "$CID" "$BUNDLE"
        done
}

t_mount_no_type() {
        bad_config er-mount-notype '.mounts += [{destination: "/x", source: "tmpfs"}]' \
                "mounts[7] (/x): no type and not a bind mount"
}

t_exec_not_found_at_create() {
        new_bundle er-nobin nosuchbinary --flag
        create_fails 'process.args[0]: "nosuchbinary": executable file not found in $PATH'
        new_bundle er-nobin-abs /no/such/binary
        create_fails "process.args[0]: /no/such/binary: no such file or directory"
        new_bundle er-nobin-path nosuchbinary
        cfg er-nobin-path '.process.env = ["PATH=/custom/bin:/other"]'
        create_fails 'process.args[0]: "nosuchbinary": executable file not found in $PATH (/custom/bin:/other)'
}

t_exec_fails_at_start() {
        # Not executable: found at create, refused by execve at start; start reports it.
        new_bundle er-noexec /etc/passwd
        rt create --bundle "$BUNDLE" "$CID"
        assert_success
        rt start "$CID"
        assert_failure "start of a non-executable process"
        assert_output_contains "starting container $CID: process.args[0]: executing /etc/passwd: permission denied"
        wait_status "$CID" stopped
        rt delete "$CID"
        assert_success
}

t_seccomp_bad_config() {
        # linux.seccomp is compiled by the init before it waits for its cgroups: a bad filter must
        # still be reported by name (several runs, as it races with the runtime).
        local i
        for i in 1 2 3 4 5; do
                bad_config "er-seccomp$i" '.linux.seccomp = {defaultAction: "SCMP_ACT_BOGUS"}' \
                        'linux.seccomp.defaultAction: unknown action "SCMP_ACT_BOGUS"'
        done
}

t_unsupported_refused() {
        if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]; then
                bad_config er-apparmor '.process.apparmorProfile = "docker-default"' \
                        'process.apparmorProfile: "docker-default" cannot be applied: AppArmor is not enabled in this kernel'
        fi
        new_bundle er-systemd /init true
        rt --systemd-cgroup create --bundle "$BUNDLE" "$CID"
        assert_failure
        assert_output_contains "--systemd-cgroup: the systemd cgroup manager is not supported"
        assert_nothing_left "$CID"
}

t_bad_cli() {
        rt create --no-such-flag x
        assert_failure
        assert_output_contains "unknown flag --no-such-flag"
        rt create --detach x
        assert_failure
        assert_output_contains "create: --detach and --keep belong to run"
        rt --log-format yaml list
        assert_status 2
        assert_output_contains '--log-format: "yaml" is not text or json'
        rt list --format yaml
        assert_failure
        assert_output_contains 'list: --format "yaml" is not table or json'
}

t_log_file() {
        new_bundle er-log /init true
        cfg er-log '.process.args = ["nosuchbinary"]'
        rt --log "$WORK/runtime.log" --log-format json create --bundle "$BUNDLE" "$CID"
        assert_failure
        [ -s "$WORK/runtime.log" ] || fail "--log wrote nothing"
        jq -e -s 'map(select(.msg | test("nosuchbinary"))) | length > 0' "$WORK/runtime.log" >/dev/null ||
                fail "the JSON log lacks the error: $(cat "$WORK/runtime.log")"
        assert_nothing_left "$CID"
}

run_test "a wrong type fails naming the JSON path" t_wrong_type
run_test "missing fields fail naming the JSON path" t_missing_fields
run_test "bad values fail naming the JSON path" t_bad_values
run_test "invalid JSON, a non-object, a missing config.json" t_bad_json
run_test "a missing rootfs or bundle" t_missing_rootfs
run_test "an unknown capability is refused" t_unknown_capability
run_test "a bad mount type as the first mount names mounts[0] and the destination, leaves nothing" t_bad_mount_type
run_test "a bad mount type after good mounts names mounts[9], leaves no mount" t_bad_mount_type_late
run_test "a bad bind source after the cgroup mount leaves nothing" t_bad_mount_late
run_test "a bad linux.devices entry is reported by name" t_bad_device_early
run_test "a mount with no type that is not a bind is refused" t_mount_no_type
run_test "a missing executable fails at create with not found" t_exec_not_found_at_create
run_test "a non-executable process fails start with the execve error" t_exec_fails_at_start
run_test "a bad linux.seccomp names linux.seccomp.defaultAction" t_seccomp_bad_config
run_test "apparmorProfile without AppArmor and --systemd-cgroup are refused clearly" t_unsupported_refused
run_test "command-line errors" t_bad_cli
run_test "--log with --log-format json records the error" t_log_file
finish
