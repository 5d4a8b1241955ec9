#!/bin/bash
# tests/helpers/containerd-config.sh - sourced by the caller tests (test-runtime-containerd.sh,
# test-runtime-cri.sh) and bench/bench-callers.sh: one place for a private containerd's settings.
#
#   containerd_config DIR [cri]   prints a containerd 1.6 config (version 2) whose root, state,
#                                 sockets and opt directory are all under DIR; without "cri" the CRI
#                                 plugin is disabled.  Append plugin tables to the output as needed.
containerd_config() {
        local dir=$1
        echo 'version = 2'
        echo "root = \"$dir/root\""
        echo "state = \"$dir/state\""
        [ "${2:-}" = cri ] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
        cat <<EOF
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
}
