#!/usr/bin/env bash
# modules/tls/bench/run.sh - the TLS echo benchmark: corio's
# examples/tls_echo_server (CORIO_BACKEND=epoll and io_uring) against a
# hand-written epoll + OpenSSL server (tls_floor.c: the same library, no
# runtime), Go's crypto/tls (echo_go_tls.go, GOMAXPROCS=1) and Python
# asyncio streams with ssl (echo_asyncio_tls.py), driven by one OpenSSL
# load client (tls_load.c).  nginx's stream module is not in Debian's
# nginx-light, and is left out.
#
#   bash modules/tls/bench/run.sh          R=3 repetitions, T=2 s per timed run
#   R=5 T=3 bash modules/tls/bench/run.sh
#   SKIP_PROFILE=1 ...                     no callgrind / strace counts
#   R=0 KINDS=tls SKIP_STRACE=1 ...        only corio's callgrind count (KINDS: tls floor plain)
#   R=0 KINDS= SKIP_STRACE=1 HS=1 ...      instructions per full / resumed handshake, corio and the floor
#   R=0 KINDS= SKIP_CALLGRIND=1 HS=1 ...   system calls per full / resumed handshake (corio on both backends, the floor)
#
# 1. builds Release into build-tls-bench/ (corio, corio-tls, the example,
#    the floor, the load client, the core's plain echo_server and the
#    plain load client bench/echo/load.c for the plain-stream comparison);
# 2. certificates from scripts/make-test-certs.sh (ECDSA P-256; the key
#    exchange is OpenSSL's default, X25519, TLS 1.3);
# 3. for rep in 1..R, for each server: server pinned to CPU 0, client to
#    CPU 1: echo 1 KiB ping-pong over 100 connections (messages/s), full
#    handshakes/s and resumed handshakes/s (8 connections in flight, each
#    handshake followed by a 1-byte echo), one result line each;
# 4. counts that do not move with the machine's load, at two run lengths
#    N1 < N2 so that start-up and connection set-up cancel out:
#    (count(N2) - count(N1)) / (N2 - N1) messages:
#      - user-space instructions per message by object (callgrind):
#        libssl + libcrypto apart from the rest (corio, libc, the program);
#        the plain stream's echo_server the same way for comparison;
#      - system calls per message (strace -f -c), TLS and plain.
# Results: build-tls-bench/out/tls_raw.txt and a summary on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
R=${R:-3}
T=${T:-2}
BUILD="${BUILD:-$ROOT/build-tls-bench}" # BUILD=dir: another build directory
OUT="$BUILD/out"
mkdir -p "$OUT"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCORIO_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target tls_echo_server echo_server tls_load tls_floor >/dev/null
gcc -O2 -o "$BUILD/plain_load" bench/echo/load.c
CERTS=$(mktemp -d /tmp/corio-tls-bench-XXXXXX)
trap 'rm -rf "$CERTS"' EXIT
sh scripts/make-test-certs.sh "$CERTS"
LOAD="$BUILD/modules/tls/bench/tls_load"
RAW="$OUT/tls_raw.txt"
: >"$RAW"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
echo "# $(date -u +%FT%TZ) commit $commit R=$R T=$T $(nproc) CPUs" | tee -a "$RAW"

# start_server NAME: sets SPID and PORT
start_server() {
    local log="$OUT/server.log"
    case $1 in
    corio-epoll | corio-uring)
        CORIO_BACKEND=${1#corio-} ; [ "$CORIO_BACKEND" = uring ] && CORIO_BACKEND=io_uring
        CORIO_BACKEND=$CORIO_BACKEND taskset -c 0 "$BUILD/examples/tls_echo_server" 0 "$CERTS/server.pem" \
            "$CERTS/server.key" >"$log" 2>&1 &
        ;;
    floor) taskset -c 0 "$BUILD/modules/tls/bench/tls_floor" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$log" 2>&1 & ;;
    go) GOMAXPROCS=1 taskset -c 0 "$BUILD/echo_go_tls" 0 "$CERTS/server.pem" "$CERTS/server.key" >"$log" 2>&1 & ;;
    asyncio) taskset -c 0 /usr/bin/python3 modules/tls/bench/echo_asyncio_tls.py 0 "$CERTS/server.pem" \
                 "$CERTS/server.key" >"$log" 2>&1 & ;;
    esac
    SPID=$!
    for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
}
stop_server() {
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
}

servers=(corio-epoll corio-uring floor)
# The peers, where they build: Go's crypto/tls (one core) and asyncio streams with ssl.
if command -v go >/dev/null && (cd modules/tls/bench && GO111MODULE=off go build -o "$BUILD/echo_go_tls" echo_go_tls.go); then
    servers+=(go)
else
    echo "Go TLS echo: not built, left out"
fi
servers+=(asyncio)
for rep in $(seq "$R"); do
    for s in "${servers[@]}"; do
        start_server "$s"
        for mode in echo full resumed; do
            if [ $mode = echo ]; then args=(-c 100); else args=(-c 8 -H $mode); fi
            line=$(taskset -c 1 "$LOAD" -p "$PORT" -i "$s" "${args[@]}" -t "$T" 2>"$OUT/load.err" ||
                   echo "name=$mode impl=$s FAILED port=$PORT: $(head -c 200 "$OUT/load.err" | tr '\n' ' ')")
            # a failed run keeps the server's log for a look
            case $line in *FAILED*) cp "$OUT/server.log" "$OUT/server.$s.$rep.$mode.failed.log" ;; esac
            echo "rep=$rep $line" | tee -a "$RAW"
        done
        stop_server
    done
done

python3 - "$RAW" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or "per_s=" not in line: continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    key = (kv.get("mode", "echo"), kv["impl"])
    rows.setdefault(key, []).append(float(kv["per_s"]))
print("\nmedians (per second):")
print(f"{'':10} {'corio-epoll':>12} {'corio-uring':>12} {'floor':>12} {'epoll/floor':>12} {'uring/floor':>12}"
      f" {'go':>12} {'asyncio':>12}")
for mode in ("echo", "full", "resumed"):
    m = {impl: statistics.median(rows.get((mode, impl), [0]))
         for impl in ("corio-epoll", "corio-uring", "floor", "go", "asyncio")}
    f = m["floor"] or 1
    print(f"{mode:10} {m['corio-epoll']:12.0f} {m['corio-uring']:12.0f} {m['floor']:12.0f} "
          f"{m['corio-epoll']/f:12.2f} {m['corio-uring']/f:12.2f} {m['go']:12.0f} {m['asyncio']:12.0f}")
# The machine's own speed drifts between repetitions (here up to 2x), which
# the medians above mix in; each repetition's ratio to the floor measured
# beside it does not, so its median is the steadier figure.
byrep = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or "per_s=" not in line: continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    byrep.setdefault((kv.get("mode", "echo"), kv["rep"]), {})[kv["impl"]] = float(kv["per_s"])
print("\npaired: median over repetitions of corio / the floor of the same repetition (min-max)")
for mode in ("echo", "full", "resumed"):
    out = []
    for impl in ("corio-epoll", "corio-uring"):
        r = sorted(v[impl] / v["floor"] for (md, _), v in byrep.items() if md == mode and v.get("floor") and impl in v)
        out.append(f"{impl}/floor {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})" if r else f"{impl}/floor -")
    print(f"{mode:10} " + "   ".join(out))
PY

[ "${SKIP_PROFILE:-0}" = 1 ] && exit 0
N1=${N1:-2000}
N2=${N2:-10000}
# by_object FILE: instruction totals of a callgrind output in three parts:
# libssl + libcrypto, the program itself (corio, corio-tls and the example,
# linked statically), and the rest (libc, ld.so: mostly malloc, memcpy and
# strcmp, called by OpenSSL as much as by us).
by_object() {
    callgrind_annotate --inclusive=no --threshold=100 "$1" 2>/dev/null | awk -v prog="$2" '
        /PROGRAM TOTALS/ { next }   # the sum of the rest, not a part of it
        /^ *[0-9,]+ +/ { n = $1; gsub(",", "", n);
            if ($0 ~ /libssl|libcrypto/) ssl += n; else if (index($0, "[" prog "]")) own += n; else other += n }
        END { printf "%d %d %d\n", ssl, own, other }'
}
# profile KIND N: callgrind totals of the server for N messages
# profile KIND N [MODE]: MODE full or resumed counts N handshakes (8 in
# flight, each followed by a 1-byte echo) instead of N echo messages
profile() {
    local kind=$1 n=$2 mode=${3:-echo} cg="$OUT/cg.$1.$2.${3:-echo}"
    rm -f "$cg"
    case $kind in
    tls) valgrind --tool=callgrind --callgrind-out-file="$cg" "$BUILD/examples/tls_echo_server" 0 \
             "$CERTS/server.pem" "$CERTS/server.key" >"$OUT/server.log" 2>&1 & ;;
    floor) valgrind --tool=callgrind --callgrind-out-file="$cg" "$BUILD/modules/tls/bench/tls_floor" 0 \
             "$CERTS/server.pem" "$CERTS/server.key" >"$OUT/server.log" 2>&1 & ;;
    plain) valgrind --tool=callgrind --callgrind-out-file="$cg" "$BUILD/examples/echo_server" 0 \
             >"$OUT/server.log" 2>&1 & ;;
    esac
    SPID=$!
    for _ in $(seq 300); do grep -q "listening on" "$OUT/server.log" && break; sleep 0.1; done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/server.log")
    if [ "$kind" = plain ]; then "$BUILD/plain_load" -p "$PORT" -c 100 -i plain -n "$n" >/dev/null
    elif [ "$mode" = echo ]; then "$LOAD" -p "$PORT" -c 100 -i "$kind" -n "$n" >/dev/null
    else "$LOAD" -p "$PORT" -c 8 -H "$mode" -i "$kind" -n "$n" >/dev/null; fi
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    case $kind in
    tls) by_object "$cg" "$BUILD/examples/tls_echo_server" ;;
    floor) by_object "$cg" "$BUILD/modules/tls/bench/tls_floor" ;;
    plain) by_object "$cg" "$BUILD/examples/echo_server" ;;
    esac
}
# syscalls KIND N [MODE]: system calls of the server (strace -f -c total)
# for N messages, or N handshakes with MODE full or resumed
syscalls() {
    local kind=$1 n=$2 mode=${3:-echo} st="$OUT/strace.$1.$2.${3:-echo}"
    case $kind in
    tls) strace -f -c -o "$st" "$BUILD/examples/tls_echo_server" 0 "$CERTS/server.pem" "$CERTS/server.key" \
             >"$OUT/server.log" 2>&1 & ;;
    floor) strace -f -c -o "$st" "$BUILD/modules/tls/bench/tls_floor" 0 "$CERTS/server.pem" "$CERTS/server.key" \
             >"$OUT/server.log" 2>&1 & ;;
    plain) strace -f -c -o "$st" "$BUILD/examples/echo_server" 0 >"$OUT/server.log" 2>&1 & ;;
    esac
    SPID=$!
    for _ in $(seq 100); do grep -q "listening on" "$OUT/server.log" && break; sleep 0.05; done
    PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$OUT/server.log")
    if [ "$kind" = plain ]; then "$BUILD/plain_load" -p "$PORT" -c 100 -i plain -n "$n" >/dev/null
    elif [ "$mode" = echo ]; then "$LOAD" -p "$PORT" -c 100 -i "$kind" -n "$n" >/dev/null
    else "$LOAD" -p "$PORT" -c 8 -H "$mode" -i "$kind" -n "$n" >/dev/null; fi
    # SIGTERM to the server under strace (its child), which then exits by itself.
    kill -TERM "$(pgrep -P "$SPID")" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    awk '$NF == "total" { print $4 }' "$st"
}
echo
[ "${SKIP_CALLGRIND:-0}" = 1 ] ||
echo "user-space instructions per message, callgrind, (N2 - N1) = $((N2 - N1)) messages, 100 connections:"
[ "${SKIP_CALLGRIND:-0}" = 1 ] ||
for kind in ${KINDS-tls floor plain}; do
    read -r s1 p1 o1 < <(profile $kind "$N1")
    read -r s2 p2 o2 < <(profile $kind "$N2")
    d=$((N2 - N1))
    echo "$kind: libssl+libcrypto $(((s2 - s1) / d))  program $(((p2 - p1) / d))  libc and the rest $(((o2 - o1) / d))" |
        tee -a "$RAW"
done
# Instructions per handshake, corio against the floor, with HS=1:
# (count(H2) - count(H1)) / (H2 - H1) handshakes.
if [ "${HS:-0}" = 1 ] && [ "${SKIP_CALLGRIND:-0}" != 1 ]; then
    H1=${H1:-50}
    H2=${H2:-250}
    echo "user-space instructions per handshake, callgrind, (H2 - H1) = $((H2 - H1)) handshakes, 8 in flight:"
    for mode in full resumed; do
        for kind in tls floor; do
            read -r s1 p1 o1 < <(profile $kind "$H1" $mode)
            read -r s2 p2 o2 < <(profile $kind "$H2" $mode)
            d=$((H2 - H1))
            echo "$kind $mode: libssl+libcrypto $(((s2 - s1) / d))  program $(((p2 - p1) / d))  libc and the rest $(((o2 - o1) / d))  total $(((s2 + p2 + o2 - s1 - p1 - o1) / d))" |
                tee -a "$RAW"
        done
    done
fi
# System calls per handshake with HS=1 (and strace): (count(H2) - count(H1)) / (H2 - H1).
if [ "${HS:-0}" = 1 ] && [ "${SKIP_STRACE:-0}" != 1 ] && command -v strace >/dev/null; then
    H1=${H1:-50}
    H2=${H2:-250}
    echo "system calls per handshake, strace -f -c, (H2 - H1) = $((H2 - H1)) handshakes, 8 in flight:"
    for mode in full resumed; do
        for kb in tls:epoll tls:io_uring floor:-; do
            kind=${kb%%:*} be=${kb#*:}
            a=$(CORIO_BACKEND=${be/-/epoll} syscalls "$kind" "$H1" "$mode")
            b=$(CORIO_BACKEND=${be/-/epoll} syscalls "$kind" "$H2" "$mode")
            label=$kind; [ "$be" = - ] || label="$kind $be"
            echo "$label $mode: $(python3 -c "print(round(($b - $a) / ($H2 - $H1), 2))")" | tee -a "$RAW"
        done
    done
fi
if [ "${SKIP_STRACE:-0}" != 1 ] && [ "${HS:-0}" != 1 ] && command -v strace >/dev/null; then
    echo "system calls per message, strace -f -c:"
    for be in epoll io_uring; do
        for kind in tls plain; do
            a=$(CORIO_BACKEND=$be syscalls $kind "$N1")
            b=$(CORIO_BACKEND=$be syscalls $kind "$N2")
            echo "$kind $be: $(python3 -c "print(round(($b - $a) / ($N2 - $N1), 2))")" | tee -a "$RAW"
        done
    done
fi
