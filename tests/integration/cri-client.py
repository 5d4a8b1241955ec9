#!/usr/bin/python3
# A minimal CRI client (runtime.v1.RuntimeService over gRPC), playing the kubelet's part for
# test-runtime-cri.sh: the messages are encoded by hand in protobuf's wire format, with only the
# fields the test sets (field numbers of k8s.io/cri-api runtime/v1).
#
#   cri-client.py SOCKET version
#   cri-client.py SOCKET pod HANDLER NAME CGROUP_PARENT        -> prints the sandbox id
#   cri-client.py SOCKET container POD_ID POD_NAME NAME CGROUP_PARENT IMAGE MEMORY ARGS...  -> container id
#   cri-client.py SOCKET start|stop|rm CONTAINER_ID
#   cri-client.py SOCKET exec CONTAINER_ID ARGS...              -> the command's stdout, its exit status
#   cri-client.py SOCKET stoppod|rmpod POD_ID
import sys

import grpc

NODE = 2  # NamespaceMode: the host's network namespace (no CNI needed)


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def enc(fields):
    """[(number, value)] -> bytes; value: int/bool (varint), str/bytes, or a nested list."""
    out = b""
    for num, v in fields:
        if isinstance(v, (bool, int)):
            out += varint(num << 3) + varint(int(v))
        else:
            b = v.encode() if isinstance(v, str) else enc(v) if isinstance(v, list) else v
            out += varint(num << 3 | 2) + varint(len(b)) + b
    return out


def dec(b):
    """bytes -> {number: value} (the last of a repeated field wins)."""
    i, res = 0, {}

    def rv():
        nonlocal i
        shift = n = 0
        while True:
            c = b[i]
            i += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    while i < len(b):
        key = rv()
        num, wt = key >> 3, key & 7
        if wt == 0:
            res[num] = rv()
        elif wt == 2:
            ln = rv()
            res[num] = b[i:i + ln]
            i += ln
        else:
            raise ValueError("unexpected wire type %d" % wt)
    return res


def sandbox_config(name, cgroup_parent):
    meta = [(1, name), (2, name + "-uid"), (3, "default"), (4, 0)]
    ns = [(1, NODE)]
    return [(1, meta), (8, [(1, cgroup_parent), (2, [(1, ns)])])]


def main():
    sock, verb, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ch = grpc.insecure_channel("unix:" + sock)

    def call(method, fields):
        rpc = ch.unary_unary("/runtime.v1.RuntimeService/" + method)
        return dec(rpc(enc(fields), timeout=60))

    if verb == "version":
        r = call("Version", [])
        print(r[2].decode(), r[3].decode(), r[4].decode())
    elif verb == "pod":
        handler, name, cg = args
        print(call("RunPodSandbox", [(1, sandbox_config(name, cg)), (2, handler)])[1].decode())
    elif verb == "container":
        pod, pod_name, name, cg, image, memory = args[:6]
        # LinuxContainerConfig: resources.memory_limit_in_bytes; security_context: capabilities.drop
        # ALL, readonly_rootfs, no_new_privs, the host network like the pod
        linux = [(1, [(4, int(memory))]),
                 (2, [(1, [(2, "ALL")]), (3, [(1, NODE)]), (7, True), (11, True)])]
        cfg = [(1, [(1, name)]), (2, [(1, image)])] + [(3, a) for a in args[6:7]] + \
              [(4, a) for a in args[7:]] + [(15, linux)]
        print(call("CreateContainer", [(1, pod), (2, cfg), (3, sandbox_config(pod_name, cg))])[1].decode())
    elif verb == "start":
        call("StartContainer", [(1, args[0])])
    elif verb == "stop":
        call("StopContainer", [(1, args[0]), (2, 2)])
    elif verb == "rm":
        call("RemoveContainer", [(1, args[0])])
    elif verb == "exec":
        r = call("ExecSync", [(1, args[0])] + [(2, a) for a in args[1:]] + [(3, 30)])
        sys.stdout.write(r.get(1, b"").decode(errors="replace"))
        sys.stderr.write(r.get(2, b"").decode(errors="replace"))
        sys.exit(r.get(3, 0))
    elif verb == "stoppod":
        call("StopPodSandbox", [(1, args[0])])
    elif verb == "rmpod":
        call("RemovePodSandbox", [(1, args[0])])
    else:
        sys.exit("unknown verb " + verb)


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit("cri: %s: %s" % (e.code().name, e.details()))
