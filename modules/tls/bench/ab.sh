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
# server's ratio to the floor of its own round.
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

# run NAME SERVER_BINARY BACKEND: messages/s of one T-second echo run
run() {
    local name=$1 bin=$2 backend=$3 pid port
    if [ "$name" = floor ]; then
        taskset -c 0 "$bin" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$LOG" 2>&1 &
    else
        CORIO_BACKEND=$backend taskset -c 0 "$bin" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$LOG" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$LOG" && break; sleep 0.05; done
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$LOG")
    taskset -c 1 "$BUILD/modules/tls/bench/tls_load" -p "$port" -i "$name" -c 100 -t "$T" |
        sed -n 's/.*per_s=\([0-9]*\).*/\1/p'
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
rows = [dict(re.findall(r"([\w-]+)=(\d+)", l)) for l in """$out""".splitlines() if l]
print("median of each round's ratio to that round's floor (min-max):")
for n in sys.argv[2:]:
    r = sorted(int(x[n]) / int(x["floor"]) for x in rows if int(x.get("floor", 0)))
    print(f"  {n:10} {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})")
PY
