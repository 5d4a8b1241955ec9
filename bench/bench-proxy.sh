#!/usr/bin/env bash
# stockade-proxy versus HAProxy (Debian's haproxy, configured here with docker-socket-proxy's rules)
# in front of the same upstream: Debian's dockerd on a private socket (tests/helpers/private-dockerd.sh).
# Each proxy is pinned to CPU 0 (taskset), with one thread; dockerd and the load generator run on
# CPU 1.  The load generator (bench/httpload.c, built here) keeps BENCH_CONNS keep-alive connections
# busy with GET BENCH_PATH; the same generator straight to dockerd's unix socket is the baseline for
# the latency a proxy adds.  Rounds are interleaved; medians over rounds are printed with ratios.
# See bench/README.md.
#
#   bench/bench-proxy.sh            BENCH_ROUNDS=3 BENCH_SECS=5 BENCH_CONNS=16 BENCH_PATH=/_ping
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-5}
CONNS=${BENCH_CONNS:-16}
BPATH=${BENCH_PATH:-/_ping}
PROXY=${STOCKADE_PROXY:-$REPO/build/stockade-proxy}

[ "$(id -u)" -eq 0 ] || { echo "bench-proxy: run as root (dockerd)" >&2; exit 1; }
[ -x "$PROXY" ] || { echo "bench-proxy: $PROXY not found (ninja -C build)" >&2; exit 1; }
for t in haproxy taskset cc; do
        command -v "$t" >/dev/null || { echo "bench-proxy: $t missing (tools/setup.sh)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "bench-proxy: needs 2 CPUs (proxy on one, load and dockerd on the other)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/stockade-bench-proxy.XXXXXX)
chmod 0755 "$WORK"
. "$REPO/tests/helpers/private-dockerd.sh"
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
        dockerd_stop
        findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
        if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -D_GNU_SOURCE -I"$REPO/src/proxy" -o "$WORK/httpload" "$REPO/bench/httpload.c" "$REPO/src/proxy/http.c"
dockerd_start "$WORK/dockerd"
# dockerd (every thread) and, below, the load generator on CPU 1
for t in /proc/"$DOCKERD_PID"/task/*; do taskset -pc 1 "${t##*/}" >/dev/null; done
for p in $(pgrep -P "$DOCKERD_PID"); do taskset -apc 1 "$p" >/dev/null; done

SK_PORT=${BENCH_PORT:-23891}
HAPROXY_PORT=$((SK_PORT + 1))

# --- HAProxy with docker-socket-proxy's rules, written here from them (anchors: the rule list) ---
# Sections in docker-socket-proxy's order; each is allowed when its variable is true.
SECTIONS=(auth:AUTH build:BUILD commit:COMMIT configs:CONFIGS containers:CONTAINERS distribution:DISTRIBUTION
        events:EVENTS exec:EXEC grpc:GRPC images:IMAGES info:INFO networks:NETWORKS nodes:NODES _ping:PING
        plugins:PLUGINS secrets:SECRETS services:SERVICES session:SESSION swarm:SWARM system:SYSTEM tasks:TASKS
        version:VERSION volumes:VOLUMES)
{
        cat <<EOF
global
    log stdout format raw daemon info
    nbthread 1
    maxconn 4000

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 10s
    timeout client 10m
    timeout server 10m

backend dockerbackend
    server dockersocket $DOCKERD_SOCK

frontend dockerfrontend
    bind 127.0.0.1:$HAPROXY_PORT
    # only GET and HEAD unless POST is set
    http-request deny unless METH_GET || { env(POST) -m bool }
    http-request allow if { path,url_dec -m reg -i ^(/v[\d\.]+)?/containers/[a-zA-Z0-9_.-]+/((stop)|(restart)|(kill)) } { env(ALLOW_RESTARTS) -m bool }
    http-request allow if { path,url_dec -m reg -i ^(/v[\d\.]+)?/containers/[a-zA-Z0-9_.-]+/start } { env(ALLOW_START) -m bool }
    http-request allow if { path,url_dec -m reg -i ^(/v[\d\.]+)?/containers/[a-zA-Z0-9_.-]+/stop } { env(ALLOW_STOP) -m bool }
EOF
        for s in "${SECTIONS[@]}"; do
                echo "    http-request allow if { path,url_dec -m reg -i ^(/v[\\d\\.]+)?/${s%%:*} } { env(${s#*:}) -m bool }"
        done
        cat <<EOF
    http-request deny
    default_backend dockerbackend
EOF
} >"$WORK/haproxy.cfg"

# docker-socket-proxy's defaults for both proxies
ENVS=()
for s in "${SECTIONS[@]}"; do ENVS+=("${s#*:}=0"); done
ENVS+=(EVENTS=1 PING=1 VERSION=1 POST=0 ALLOW_START=0 ALLOW_STOP=0 ALLOW_RESTARTS=0)


env -i PATH="$PATH" "${ENVS[@]}" taskset -c 0 "$PROXY" --listen "127.0.0.1:$SK_PORT" \
        --log-file "$WORK/stockade-proxy.log" "$DOCKERD_SOCK" 2>"$WORK/stockade-proxy.err" &
SK_PID=$!
PIDS+=("$SK_PID")
env -i PATH="$PATH" "${ENVS[@]}" taskset -c 0 haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
HA_PID=$!
PIDS+=("$HA_PID")
for ((i = 0; i < 100; i++)); do
        curl -sf "http://127.0.0.1:$SK_PORT$BPATH" >/dev/null && curl -sf "http://127.0.0.1:$HAPROXY_PORT$BPATH" >/dev/null && break
        sleep 0.1
done
curl -sf "http://127.0.0.1:$SK_PORT$BPATH" >/dev/null || { cat "$WORK/stockade-proxy.err"; echo "stockade-proxy did not answer" >&2; exit 1; }
curl -sf "http://127.0.0.1:$HAPROXY_PORT$BPATH" >/dev/null || { cat "$WORK/haproxy.log"; echo "haproxy did not answer" >&2; exit 1; }
# both refuse what docker-socket-proxy refuses
for u in "http://127.0.0.1:$SK_PORT" "http://127.0.0.1:$HAPROXY_PORT"; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$u/v1.41/containers/json")" = 403 ] ||
                { echo "bench-proxy: $u does not refuse /containers/json" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
DENY_PATH=/v1.41/containers/json

# run PHASE NAME: one measurement; appends "rps p50 p99 cpu_us_per_req reconnects" to $WORK/PHASE-NAME.dat.
# PHASE forward: GET $BPATH, passed to dockerd; deny: GET $DENY_PATH, answered 403 by the proxy alone.
run() {
        local phase=$1 name=$2 target t0 t1 out path=$BPATH expect=200 pid=
        case $name in
        direct) target=(--unix "$DOCKERD_SOCK") ;;
        stockade) target=(--tcp "127.0.0.1:$SK_PORT") pid=$SK_PID ;;
        haproxy) target=(--tcp "127.0.0.1:$HAPROXY_PORT") pid=$HA_PID ;;
        esac
        [ "$phase" = forward ] || { path=$DENY_PATH; expect=403; }
        t0=0 t1=0
        [ -z "$pid" ] || t0=$(cpu_ticks "$pid")
        out=$(taskset -c 1 "$WORK/httpload" "${target[@]}" --path "$path" --expect "$expect" -c "$CONNS" -d "$SECS" -w 1)
        [ -z "$pid" ] || t1=$(cpu_ticks "$pid")
        set -- $out
        # requests N rps R p50_us A p90_us B p99_us C unexpected E reconnects K
        [ "${12}" = 0 ] || { echo "bench-proxy: $name answered ${12} responses other than $expect" >&2; exit 1; }
        # CPU per request over the whole run (warm-up included: requests scaled by (SECS+1)/SECS)
        echo "$4 $6 ${10} $(awk -v d=$((t1 - t0)) -v u="$TICK_US" -v n="$2" -v s="$SECS" \
                'BEGIN { printf "%.1f", d * u / (n * (s + 1) / s) }') ${14}" >>"$WORK/$phase-$name.dat"
}

order=(direct stockade haproxy)
for ((r = 0; r < ROUNDS; r++)); do
        for n in "${order[@]}"; do run forward "$n"; done
        for n in "${order[@]}"; do [ "$n" = direct ] || run deny "$n"; done
        order=("${order[@]:1}" "${order[0]}")
done

med() { sort -n | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.dat" | med; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }

echo "host: $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); dockerd $(dkd version --format '{{.Server.Version}}'), $(haproxy -v | head -1 | awk '{print $1, $3}')"
echo "$CONNS keep-alive connections, $SECS s x $ROUNDS interleaved rounds; proxies on CPU 0 (one thread), dockerd and the load on CPU 1"
echo
echo "forwarded: GET $BPATH to dockerd (direct: the same load on dockerd's unix socket)"
printf '%-10s %10s %10s %10s %14s %18s\n' "" "req/s" "p50 us" "p99 us" "added p50 us" "proxy CPU us/req"
base=$(col forward-direct 2)
for n in direct stockade haproxy; do
        if [ "$n" = direct ]; then add=- cpu=-; else add=$(awk -v a="$(col "forward-$n" 2)" -v b="$base" 'BEGIN{printf "%.0f", a - b}'); cpu=$(col "forward-$n" 4); fi
        printf '%-10s %10s %10s %10s %14s %18s\n' "$n" "$(col "forward-$n" 1)" "$(col "forward-$n" 2)" "$(col "forward-$n" 3)" "$add" "$cpu"
done
sa=$(awk -v a="$(col forward-stockade 2)" -v b="$base" 'BEGIN{print a - b}')
ha=$(awk -v a="$(col forward-haproxy 2)" -v b="$base" 'BEGIN{print a - b}')
echo "stockade-proxy/haproxy: req/s $(ratio "$(col forward-stockade 1)" "$(col forward-haproxy 1)"), added p50 latency $(ratio "$sa" "$ha"), CPU per request $(ratio "$(col forward-stockade 4)" "$(col forward-haproxy 4)")"
echo
echo "denied: GET $DENY_PATH answered 403 by the proxy itself (the proxy's own work on its one core)"
printf '%-10s %10s %10s %10s %18s %12s\n' "" "req/s" "p50 us" "p99 us" "proxy CPU us/req" "reconnects"
for n in stockade haproxy; do
        printf '%-10s %10s %10s %10s %18s %12s\n' "$n" "$(col "deny-$n" 1)" "$(col "deny-$n" 2)" "$(col "deny-$n" 3)" "$(col "deny-$n" 4)" "$(col "deny-$n" 5)"
done
echo "stockade-proxy/haproxy: req/s $(ratio "$(col deny-stockade 1)" "$(col deny-haproxy 1)"), p50 latency $(ratio "$(col deny-stockade 2)" "$(col deny-haproxy 2)"), CPU per request $(ratio "$(col deny-stockade 4)" "$(col deny-haproxy 4)")"
echo
echo "decision log lines: stockade-proxy $(wc -l <"$WORK/stockade-proxy.log"), haproxy $(wc -l <"$WORK/haproxy.log")"
