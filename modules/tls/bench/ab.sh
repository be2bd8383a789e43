#!/usr/bin/env bash
# ab.sh - the TLS echo in alternating rounds: the floor, corio on io_uring,
# corio on epoll (and OLD=path/to/another/tls_echo_server on both, to
# compare two trees), each for T seconds of 100 connections, R rounds.
# Rounds side by side see the same machine: on this VM its speed drifts by
# up to 2x over minutes, which a whole run.sh repetition spans.
#
#   bash modules/tls/bench/ab.sh                 R=8 T=3, BUILD=build-tls-bench
#   OLD=/tmp/old/build/examples/tls_echo_server R=6 bash modules/tls/bench/ab.sh
#
# Prints each round's messages/s and, at the end, the median of each
# server's ratio to the floor of its own round; then the median CPU time
# per message of each server and of the load client in its runs
# (/proc/PID/stat's user + system ticks over the run's messages,
# handshakes included).  The client does the same TLS work per message as
# the server, on the other core: a client near 100% of its core while the
# servers idle part of theirs means the rig, not the server, sets the
# messages/s, and then the servers' CPU per message is the figure that
# tells them apart: its inverse is the messages/s one server core would
# carry, printed as a ratio to the floor's of the same round ("capacity").
# On 2 cores the rig cannot saturate a server: the client's core pays for
# the kernel's loopback delivery of every request as well as its own TLS,
# and stays the busier one whichever server runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
R=${R:-8}
T=${T:-3}
BUILD="${BUILD:-$ROOT/build-tls-bench}"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCORIO_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target tls_echo_server tls_load tls_floor >/dev/null
CERTS=$(mktemp -d /tmp/corio-tls-ab-XXXXXX)
trap 'rm -rf "$CERTS"' EXIT
bash scripts/make-test-certs.sh "$CERTS" >/dev/null 2>&1
LOG="$CERTS/server.log"

TCK=$(getconf CLK_TCK)
# ticks PID: user + system clock ticks the process has used so far
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run NAME SERVER_BINARY BACKEND: "MSGS_PER_S SERVER_US_PER_MSG
# CLIENT_US_PER_MSG" of one T-second echo run
run() {
    local name=$1 bin=$2 backend=$3 pid port cpid st ct res count
    if [ "$name" = floor ]; then
        taskset -c 0 "$bin" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$LOG" 2>&1 &
    else
        CORIO_BACKEND=$backend taskset -c 0 "$bin" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$LOG" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$LOG" && break; sleep 0.05; done
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$LOG")
    taskset -c 1 "$BUILD/modules/tls/bench/tls_load" -p "$port" -i "$name" -c 100 -t "$T" >"$CERTS/load.out" &
    cpid=$!
    # The client's ticks just before it exits: sampled until it is gone.
    ct=0
    while c=$(ticks "$cpid" 2>/dev/null); do ct=$c; sleep 0.05; done
    wait "$cpid" || true
    st=$(ticks "$pid")
    res=$(cat "$CERTS/load.out")
    count=$(sed -n 's/.*count=\([0-9]*\).*/\1/p' <<<"$res")
    awk -v r="$(sed -n 's/.*per_s=\([0-9]*\).*/\1/p' <<<"$res")" -v n="$count" -v st="$st" -v ct="$ct" -v hz="$TCK" \
        'BEGIN { printf "%d/%.2f/%.2f", r, st * 1e6 / hz / n, ct * 1e6 / hz / n }'
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

NEW="$BUILD/examples/tls_echo_server"
names=(floor uring epoll)
[ -n "${OLD:-}" ] && names+=(old-uring old-epoll)
out=$(for r in $(seq "$R"); do
    line="round=$r floor=$(run floor "$BUILD/modules/tls/bench/tls_floor" -)"
    line+=" uring=$(run uring "$NEW" io_uring) epoll=$(run epoll "$NEW" epoll)"
    if [ -n "${OLD:-}" ]; then
        line+=" old-uring=$(run old-uring "$OLD" io_uring) old-epoll=$(run old-epoll "$OLD" epoll)"
    fi
    echo "$line" >&2
    echo "$line"
done)
python3 - "${names[@]}" <<PY
import re, statistics, sys
cells = [dict((k, v.split("/")) for k, v in re.findall(r"([\w-]+)=([\d./]+)", l) if k != "round") for l in """$out""".splitlines() if l]
rows = [{k: int(v[0]) for k, v in c.items()} for c in cells]
print("median of each round's ratio to that round's floor (min-max):")
for n in sys.argv[2:]:
    r = sorted(int(x[n]) / int(x["floor"]) for x in rows if int(x.get("floor", 0)))
    print(f"  {n:10} {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})")
print("median of each round's capacity ratio: the floor's server CPU per message over")
print("this server's (the messages/s one server core carries, as a ratio to the floor's):")
for n in sys.argv[2:]:
    r = sorted(float(c["floor"][1]) / float(c[n][1]) for c in cells if float(c[n][1]) > 0)
    print(f"  {n:10} {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})")
print("median of each round's whole-machine ratio: the floor's server + client CPU per message")
print("over this server's and its client's (on loopback a sender's core also runs the")
print("receiver's side of the kernel, wake-ups included, so a server's costs can land on the client):")
for n in sys.argv[2:]:
    r = sorted((float(c["floor"][1]) + float(c["floor"][2])) / (float(c[n][1]) + float(c[n][2])) for c in cells)
    print(f"  {n:10} {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})")
print("median CPU per message, microseconds: server, load client (min-max):")
for n in sys.argv[1:]:
    sv = sorted(float(c[n][1]) for c in cells)
    cl = sorted(float(c[n][2]) for c in cells)
    print(f"  {n:10} server {statistics.median(sv):.2f} ({sv[0]:.2f}-{sv[-1]:.2f})"
          f"  client {statistics.median(cl):.2f} ({cl[0]:.2f}-{cl[-1]:.2f})")
PY
