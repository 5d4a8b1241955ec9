#!/bin/bash
# `stockade serve` under load (docs/API.md, "Limits"): 500 clients hold connections for 30 s, each
# sending keep-alive requests (ping, version, container list) and now and then reconnecting; a few
# misbehave (garbage, a half-sent head, a client that vanishes mid-request).  Every well-formed
# request must be answered with 200, the listener must survive with the same fds and a resident size
# that has not grown by more than 4 MiB, and every connection's process must be gone once its client
# is.  Throughput and sizes are printed as diagnostics, never asserted.
. "$(dirname "$0")/engine-lib.sh"

SOCK=$WORK/api.sock
CLIENTS=${SERVE_LOAD_CLIENTS:-500}
SECONDS_=${SERVE_LOAD_SECONDS:-30}

SERVE_PID=
"$STOCKADE" serve -H "unix://$SOCK" --request-timeout 5 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill "$SERVE_PID" 2>/dev/null; lib_exit' EXIT
for _ in $(seq 1 100); do
        [ -S "$SOCK" ] && break
        sleep 0.05
done
[ -S "$SOCK" ] || { echo "Bail out! stockade serve did not come up: $(cat "$WORK/serve.log")"; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
children() { pgrep -P "$SERVE_PID" | wc -l; }

t_load() {
        local fds0 rss0 fds1 rss1
        # warm up (first fork, first audit record, allocator), then take the listener's baseline
        python3 - "$SOCK" <<'EOF'
import socket, sys
for _ in range(20):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); s.recv(4096); s.close()
EOF
        sleep 0.5
        fds0=$(nfds "$SERVE_PID")
        rss0=$(rss_kb "$SERVE_PID")
        python3 - "$SOCK" "$CLIENTS" "$SECONDS_" "$SERVE_PID" >"$WORK/load.out" 2>&1 <<'EOF'
import socket, sys, threading, time, os, random
path, n, secs, spid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
reqs = [b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /v1.41/version HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n"]
lock = threading.Lock()
stats = {"ok": 0, "bad": 0, "conns": 0, "errors": []}
peak = {"children": 0, "rss_kb": 0}
start = time.time()
barrier = threading.Barrier(n + 1)

def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed before the head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed in the body")
        rest += d
    return status, rest[length:]

def client(i):
    rnd = random.Random(i)
    s = None
    barrier.wait()
    while time.time() - start < secs:
        try:
            if s is None:
                s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(path)
                with lock: stats["conns"] += 1
                buf = b""
            if i % 50 == 0 and rnd.random() < 0.05:
                # misbehaving: garbage, or half a head and gone
                s.sendall(b"GARBAGE\r\n\r\n" if rnd.random() < 0.5 else b"GET /_ping HTTP/1.1\r\nHo")
                s.close(); s = None
                continue
            s.sendall(reqs[rnd.randrange(len(reqs))])
            status, buf = read_response(s, buf)
            with lock:
                if status == 200: stats["ok"] += 1
                else: stats["bad"] += 1; stats["errors"].append("status %d" % status)
            if rnd.random() < 0.02:
                s.close(); s = None
            time.sleep(rnd.uniform(0.02, 0.2))
        except Exception as e:
            with lock:
                stats["bad"] += 1
                stats["errors"].append(repr(e))
            try: s.close()
            except Exception: pass
            s = None
    if s: s.close()

def sampler():
    while time.time() - start < secs:
        try:
            kids = [int(p) for p in os.popen("pgrep -P %d" % spid).read().split()]
            total = 0
            for k in kids:
                try:
                    with open("/proc/%d/smaps_rollup" % k) as f:
                        for line in f:
                            if line.startswith("Pss:"): total += int(line.split()[1])
                except OSError: pass
            peak["children"] = max(peak["children"], len(kids))
            peak["rss_kb"] = max(peak["rss_kb"], total)
        except Exception: pass
        time.sleep(1)

threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
start = time.time()
barrier.wait()
start = time.time()
smp = threading.Thread(target=sampler); smp.start()
for t in threads: t.join()
smp.join()
el = time.time() - start
print("ok=%d bad=%d conns=%d secs=%.1f rate=%.0f/s peak_children=%d peak_children_pss_kb=%d" % (
    stats["ok"], stats["bad"], stats["conns"], el, stats["ok"] / el, peak["children"], peak["rss_kb"]))
for e in stats["errors"][:10]: print("error:", e)
sys.exit(0 if stats["bad"] == 0 and stats["ok"] > 0 and peak["children"] >= n * 0.9 else 1)
EOF
        local rc=$?
        diag "$(head -1 "$WORK/load.out")"
        [ "$rc" -eq 0 ] || fail "load: $(cat "$WORK/load.out")"
        kill -0 "$SERVE_PID" || fail "the server died: $(cat "$WORK/serve.log")"
        # every connection's process ends with its client
        for _ in $(seq 1 100); do
                [ "$(children)" -eq 0 ] && break
                sleep 0.1
        done
        [ "$(children)" -eq 0 ] || fail "$(children) connection processes left after their clients closed"
        fds1=$(nfds "$SERVE_PID")
        rss1=$(rss_kb "$SERVE_PID")
        diag "listener: fds $fds0 -> $fds1, RSS ${rss0} kB -> ${rss1} kB"
        [ "$fds1" -eq "$fds0" ] || fail "the listener's fds went from $fds0 to $fds1: $(ls -l "/proc/$SERVE_PID/fd")"
        [ "$rss1" -le $((rss0 + 4096)) ] || fail "the listener grew from $rss0 kB to $rss1 kB"
        # and it still answers
        python3 - "$SOCK" <<'EOF' || fail "no answer after the load"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
EOF
        "$STOCKADE" audit verify >/dev/null || fail "the audit chain does not verify after the load"
}

run_test "500 clients for 30 s: every request answered, no fd or memory growth, no process left" t_load
finish
