#!/bin/bash
# stockade-runtime as a Kubernetes runtime handler: containerd 1.6's CRI plugin with the
# configuration of docs/INTEGRATION.md (a `runtimes.stockade` handler, io.containerd.runc.v2 with
# BinaryName = stockade-runtime, beside the default runc handler), driven over its gRPC socket by
# tests/integration/cri-client.py in the kubelet's place (RunPodSandbox with runtime_handler
# "stockade", as a pod with `runtimeClassName: stockade` gets; CreateContainer, StartContainer,
# ExecSync, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox).
# The pod uses the host's network namespace, so no CNI plugin is involved; the sandbox ("pause")
# image is the busybox rootfs with `sleep` as its entrypoint. The CRI's restrict_oom_score_adj is
# on: the pause container's -998 needs CAP_SYS_RESOURCE, which root lacks on this machine.
. "$(dirname "$0")/callers-lib.sh"

need_bin containerd ctr containerd-shim-runc-v2 runc
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import grpc' 2>/dev/null ||
        bail "Debian's python3-grpcio is missing (tools/setup.sh installs it)"

C=$WORK/cri
CRI=(/usr/bin/python3 "$LIB_DIR/cri-client.py" "$C/containerd.sock")
IMG=docker.io/library/busybox:st13
PAUSE=docker.io/library/st13-pause:1
# the shim's Root for the handler: the runtime's state, $STATE_ROOT/<containerd namespace>/<id>
STATE_ROOT=$C/stockade-state/k8s.io
RT=("$RUNTIME" --root "$STATE_ROOT")
mkdir -p "$C/cni-conf" "$C/cni-bin"
{
        containerd_config "$C" cri
        cat <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$C/cni-bin"
  conf_dir = "$C/cni-conf"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.stockade]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.stockade.options]
    BinaryName = "$RUNTIME"
    Root = "$C/stockade-state"
    SystemdCgroup = false
EOF
} >"$C/config.toml"
containerd --config "$C/config.toml" </dev/null >"$C/containerd.log" 2>&1 &
daemon_started $! "containerd (CRI)"

wait_for 30 "${CRI[@]}" version || bail "containerd's CRI did not come up: $(grep -m3 'level=error\|cri' "$C/containerd.log")"
busybox_docker_archive "$WORK/busybox-archive.tar" "$IMG"
busybox_docker_archive "$WORK/pause-archive.tar" "$PAUSE" '["sleep", "1000000"]'
for a in busybox pause; do
        ctr --address "$C/containerd.sock" -n k8s.io images import "$WORK/$a-archive.tar" >"$C/import.log" 2>&1 ||
                bail "ctr images import ($a) failed: $(tail -c 400 "$C/import.log")"
done

t_pod_with_handler() {
        local pod cid out pid cg
        pod=$("${CRI[@]}" pod stockade st13-pod "$CALLERS_CGROUP/pod") || fail "RunPodSandbox: $pod"
        track_id "$pod"
        # the sandbox ("pause") runs under stockade-runtime, in the pod's cgroup
        assert_eq "$(state_of "$pod")" running "the sandbox's runtime state"
        cid=$("${CRI[@]}" container "$pod" st13-pod app "$CALLERS_CGROUP/pod" "$IMG" 67108864 sleep 1000) ||
                fail "CreateContainer: $cid"
        track_id "$cid"
        # (containerd creates the runtime's container at StartContainer: create and start together)
        "${CRI[@]}" start "$cid" || fail "StartContainer"
        assert_eq "$(state_of "$cid")" running "after StartContainer"
        pid=$(state_of "$cid" pid)
        cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
        assert_eq "$cg" "$CALLERS_CGROUP/pod/$cid" "the container's memory cgroup"
        assert_eq "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864 "memory limit"

        # ExecSync (runtime exec --detach, as kubectl exec's sibling): the securityContext inside
        status=0
        out=$("${CRI[@]}" exec "$cid" sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status
                touch /rootfile 2>&1; exit 5') || status=$?
        echo "$out"
        assert_status 5 "ExecSync's exit code"
        for want in "CapEff:	0000000000000000" "CapBnd:	0000000000000000" "NoNewPrivs:	1" "Read-only file system"; do
                case $out in *"$want"*) ;; *) fail "\"$want\" missing inside: $out" ;; esac
        done

        # StopContainer: TERM (sleep as pid 1 ignores it), KILL after the timeout, then the task is
        # deleted (runtime kill, kill --all, delete)
        "${CRI[@]}" stop "$cid" || fail "StopContainer"
        [ ! -d "/proc/$pid" ] || fail "the container's process $pid is still there"
        [ ! -e "$STATE_ROOT/$cid" ] || fail "runtime state of the container left after StopContainer"
        "${CRI[@]}" rm "$cid" || fail "RemoveContainer"
        "${CRI[@]}" stoppod "$pod" || fail "StopPodSandbox"
        "${CRI[@]}" rmpod "$pod" || fail "RemovePodSandbox"
        [ ! -e "$STATE_ROOT/$pod" ] || fail "runtime state of the sandbox left"
}

t_default_handler_is_runc() {
        local pod
        # without a handler the pod gets the default runtime (runc): stockade-runtime sees nothing of it
        pod=$("${CRI[@]}" pod "" st13-plain "$CALLERS_CGROUP/plain") || fail "RunPodSandbox: $pod"
        [ ! -e "$STATE_ROOT/$pod" ] || fail "the default handler ran stockade-runtime"
        [ -e "$C/state/io.containerd.runtime.v2.task/k8s.io/$pod" ] || fail "no task for the sandbox"
        "${CRI[@]}" stoppod "$pod" || fail "StopPodSandbox"
        "${CRI[@]}" rmpod "$pod" || fail "RemovePodSandbox"
}

t_error_reaches_kubelet() {
        local pod out
        pod=$("${CRI[@]}" pod stockade st13-bad "$CALLERS_CGROUP/bad") || fail "RunPodSandbox: $pod"
        track_id "$pod"
        # a missing command: the runtime's message is what the kubelet would show in the pod's events
        status=0
        out=$("${CRI[@]}" container "$pod" st13-bad app "$CALLERS_CGROUP/bad" "$IMG" 67108864 /no/such/binary 2>&1) ||
                status=$?
        if [ "$status" -eq 0 ]; then
                track_id "$out"
                status=0
                out=$("${CRI[@]}" start "$out" 2>&1) || status=$?
                "${CRI[@]}" rm "$(tail -n 1 <<<"$out")" >/dev/null 2>&1 || true
        fi
        echo "$out"
        assert_failure "a container whose command does not exist"
        case $out in *"process.args[0]: /no/such/binary: no such file or directory"*) ;;
        *) fail "not the runtime's message: $out" ;; esac
        "${CRI[@]}" stoppod "$pod" || fail "StopPodSandbox"
        "${CRI[@]}" rmpod "$pod" || fail "RemovePodSandbox"
}

run_test "CRI: a pod with runtime handler stockade (RuntimeClass), container limits and securityContext inside" t_pod_with_handler
run_test "CRI: a pod without a handler gets the default runc" t_default_handler_is_runc
run_test "CRI: the runtime's error in the CRI's answer" t_error_reaches_kubelet
finish
