#!/usr/bin/env bash
# bench/overload/run.sh - do corio's example servers stay responsive when
# saturated?  (issue 14, "fair under overload")  Both backends.
#
#   bash bench/overload/run.sh             R=5 repetitions, 20 SIGTERM tries per server (< 15 min)
#   QUICK=1 bash bench/overload/run.sh     R=2, 1 s windows, 4 SIGTERM tries, 3 s kill limit (< 3 min)
#   R=7 T=3 bash bench/overload/run.sh     more repetitions / longer windows
#   CORIO_SRC=/tmp/corio-before BUILD=/tmp/corio-before/build-overload bash bench/overload/run.sh
#                                          measure another corio tree (e.g. a git worktree of an
#                                          older commit) with this folder's load client and probe
#
# The load (bench/overload/flood.c, one epoll client; its probes run in a thread of their own): 200
# connections, all connected before the load starts, each writing 64 KiB
# whenever its socket takes it and reading (and dropping) everything that
# comes back, so the server never runs out of work.  For the chat server the
# bytes are 50-byte lines "xxx...x\n" (each forwarded to the 199 others);
# connections the chat server drops for falling behind are replaced at once
# (flood -R), so 200 clients keep it busy.  Server pinned to CPU 0, client to
# CPU 1, everything on 127.0.0.1, servers on free ports (port 0, the port
# read from "listening on 127.0.0.1:PORT").
#
# Servers: examples/echo_server (streams, a task per connection),
# examples/echo_server_proto (protocol callbacks), examples/chat_server (line
# chat), each with CORIO_BACKEND=epoll and CORIO_BACKEND=io_uring, and
# bench/overload/probe_server.c (-m streams|proto|chat: the same three
# servers with a clock inside); and the floor, bench/echo/raw_epoll.c (a
# hand-written epoll echo server, epoll only), under the same load.  What is
# measured:
#   1. SIGTERM latency: kill(SIGTERM) to the process's exit (a pidfd in the
#      load client), the load still on.  TRIES per server x backend: one at
#      the end of each "main" run (below) and the others in short runs
#      (start, SAT s of load, signal).  A server still alive KILL_TIMEOUT s
#      after the signal is a failure (then the load stops; whether it exits
#      within 1 s after that is noted, and it is SIGKILLed).  After FAIL_STOP
#      failures of one server x backend its remaining short tries are skipped
#      (each costs KILL_TIMEOUT s); failures count as infinite in p50/p99.
#   2. accept latency (main runs): during the counted window, one probe at a
#      time, PROBE_GAP ms apart: a NEW client connects and sends one message;
#      echo: connect() to the first byte echoed; chat: a receiving client
#      connects first, then the sending client, and the time runs from the
#      first connect() until the receiver has the sender's line.  Unanswered
#      after PROBE_TIMEOUT s: a timeout, counted as PROBE_TIMEOUT.  p50/p99
#      over all probes of all repetitions.
#   3. timer lateness and loop iterations per second (probe runs, in
#      probe_server): a task sleeps 10 ms in a loop and records how late each
#      wake-up is; iterations per second come from the loop's own counter
#      (the "iteration N" of the task dump header, corio/debug.h, read at the
#      start and the end of the saturated window only).  Per run p50/p99/max;
#      the table shows medians over the repetitions and the worst max.
#   4. throughput during saturation (main and probe runs): what the load
#      client received in the counted window (T s after WARM s of load):
#      echo MB/s, chat lines/s delivered, and for chat the clients kicked.
# Order: for rep in 1..R: main runs (every server x backend, order rotated
# with rep), probe runs (likewise), then the short SIGTERM tries.
# bench/overload/before.md (+ before-raw.txt) keeps the figures at 3f6f265, before the fix.
# Raw lines: bench/out/overload-raw.txt; table (medians): bench/out/overload.md,
# printed at the end (bench/overload/report.py); log: bench/out/overload-run.log.
# Every process started here is killed by PID on exit (trap); the load client
# also stops by itself (-T).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CORIO_SRC="$(cd "${CORIO_SRC:-$ROOT}" && pwd)"
BUILD="${BUILD:-$CORIO_SRC/build-overload}"
OUT="$ROOT/bench/out"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    R="${R:-2}" T="${T:-1}" WARM="${WARM:-0.3}" SAT="${SAT:-1}" TRIES="${TRIES:-4}" KILL_TIMEOUT="${KILL_TIMEOUT:-3}"
else
    R="${R:-5}" T="${T:-2}" WARM="${WARM:-0.5}" SAT="${SAT:-1}" TRIES="${TRIES:-20}" KILL_TIMEOUT="${KILL_TIMEOUT:-10}"
fi
CONNS="${CONNS:-200}" PROBE_GAP="${PROBE_GAP:-50}" PROBE_TIMEOUT="${PROBE_TIMEOUT:-2}" FAIL_STOP="${FAIL_STOP:-3}"
mkdir -p "$OUT"
RAW="$OUT/overload-raw.txt"
LOG="$OUT/overload-run.log"
: >"$RAW"
: >"$LOG"
say() { echo "[overload $(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# The server and the load client running now (cleared once reaped, so that
# the trap never signals a PID that was reused).
SPID="" FPID=""
cleanup() {
    [ -z "$FPID" ] || kill -KILL "$FPID" 2>/dev/null || true
    [ -z "$SPID" ] || kill -KILL "$SPID" 2>/dev/null || true
    rm -rf "${TMPD:-/nonexistent}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
TMPD="$(mktemp -d /tmp/overload.XXXXXX)"

# ---- build ----------------------------------------------------------------------------
say "building corio (Release) from $CORIO_SRC in $BUILD"
cmake -S "$CORIO_SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=ON \
    -DCORIO_BUILD_BENCH=ON >>"$LOG" 2>&1
cmake --build "$BUILD" -j2 --target corio_static echo_server echo_server_proto chat_server >>"$LOG" 2>&1
mkdir -p "$BUILD/overload"
if [ "$CORIO_SRC" = "$ROOT" ]; then
    cmake --build "$BUILD" -j2 --target overload_probe_server >>"$LOG" 2>&1
    PROBE="$BUILD/bench/overload_probe_server"
else # another tree has no target for it: link this folder's probe against that tree's library
    libs="-lm -lpthread"
    grep -q '^CORIO_WITH_CARES:BOOL=ON' "$BUILD/CMakeCache.txt" && libs="$libs -lcares"
    grep -q '^CORIO_WITH_URING:BOOL=ON' "$BUILD/CMakeCache.txt" && libs="$libs -luring"
    # shellcheck disable=SC2086
    gcc -O2 -std=gnu17 -Wall -Wextra -I"$CORIO_SRC/include" -o "$BUILD/overload/probe_server" "$HERE/probe_server.c" \
        "$BUILD/libcorio.a" $libs >>"$LOG" 2>&1
    PROBE="$BUILD/overload/probe_server"
fi
gcc -O2 -std=c17 -Wall -Wextra -pthread -o "$BUILD/overload/flood" "$HERE/flood.c" >>"$LOG" 2>&1
FLOOD="$BUILD/overload/flood"
EX="$BUILD/examples"
# The floor: bench/echo's hand-written edge-triggered epoll echo server, no
# runtime, under the same load: what the kernel and the load client alone
# cost a new client.  raw_epoll_fair (the default) reads each connection at
# most once a round; raw_epoll reads each until it runs dry, and under this
# load never returns to accept (SERVERS=raw_epoll shows it).
gcc -O2 -std=c17 -Wall -Wextra -o "$BUILD/overload/raw_epoll" "$ROOT/bench/echo/raw_epoll.c" >>"$LOG" 2>&1
server_cmd() {
    case "$1" in
    raw_epoll) echo "$BUILD/overload/raw_epoll" ;;
    raw_epoll_fair) echo "$BUILD/overload/raw_epoll fair" ;;
    *) echo "$EX/$1" ;;
    esac
}

if [ "$(nproc)" -ge 2 ]; then SPIN=(taskset -c 0) CPIN=(taskset -c 1); else SPIN=() CPIN=(); fi

# ---- helpers --------------------------------------------------------------------------------
# start_server BACKEND CMD...: starts it on port 0; sets SPID and PORT (PORT empty: it did not listen).
start_server() {
    local be="$1" i
    shift
    SOUT="$TMPD/server.out"
    : >"$SOUT"
    env CORIO_BACKEND="$be" "${SPIN[@]}" "$@" 0 >"$SOUT" 2>>"$LOG" &
    SPID=$!
    PORT=""
    for ((i = 0; i < 200; i++)); do
        PORT="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$SOUT" | head -1)"
        [ -n "$PORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || return 0
        sleep 0.05
    done
}
# reap PID: SIGKILL it if still alive, wait for it.
reap() {
    if kill -0 "$1" 2>/dev/null; then kill -KILL "$1" 2>/dev/null || true; fi
    wait "$1" 2>/dev/null || true
    [ "$1" != "$SPID" ] || SPID=""
}
# flood ARGS...: runs the load client pinned, in the background (so that the
# trap can kill it), and sets LINE to what it printed; fails when it did.
flood() {
    local f="$TMPD/flood.out" rc=0
    : >"$f"
    "${CPIN[@]}" "$FLOOD" -T 120 "$@" >"$f" 2>>"$LOG" &
    FPID=$!
    wait "$FPID" || rc=$?
    FPID=""
    LINE="$(head -1 "$f")"
    [ "$rc" = 0 ] && [ -n "$LINE" ]
}

# SERVERS="echo_server_proto" BACKENDS="io_uring" PROBES="proto" narrow a run.
read -r -a SERVERS <<<"${SERVERS:-echo_server echo_server_proto chat_server raw_epoll_fair}"
read -r -a BACKENDS <<<"${BACKENDS:-epoll io_uring}"
read -r -a PROBES <<<"${PROBES:-streams proto chat}"
fmode() { case "$1" in chat*) echo "chat -R" ;; *) echo echo ;; esac; }
declare -A FAILS

# main REP SERVER BACKEND: throughput + accept probes + one SIGTERM try.
main_run() {
    local rep="$1" s="$2" be="$3" line
    start_server "$be" $(server_cmd "$s")
    if [ -z "$PORT" ]; then
        say "FAILED: $s ($be) did not listen"
        reap "$SPID"
        return 0
    fi
    # shellcheck disable=SC2046
    if flood -p "$PORT" -m $(fmode "$s") -c "$CONNS" -w "$WARM" -t "$T" -a "$PROBE_GAP" -A "$PROBE_TIMEOUT" \
        -k "$SPID" -K "$KILL_TIMEOUT" -i "$s/$be"; then
        line="$LINE"
        echo "rep=$rep kind=main server=$s backend=$be $line" >>"$RAW"
        # shellcheck disable=SC2001
        echo "  main $s $be: $(sed 's/ probe_ms=[^ ]*//' <<<"$line")" >>"$LOG"
        case "$line" in *sigterm_ms=fail* | *sigterm_ms=early*) FAILS[$s/$be]=$((${FAILS[$s/$be]:-0} + 1)) ;; esac
    else
        say "FAILED: load against $s ($be), rep $rep"
    fi
    reap "$SPID"
}

# sigterm_try REP SERVER BACKEND: SAT s of load, SIGTERM, time to exit.
sigterm_try() {
    local rep="$1" s="$2" be="$3" line
    if [ "${FAILS[$s/$be]:-0}" -ge "$FAIL_STOP" ]; then
        echo "rep=$rep kind=sigterm server=$s backend=$be skipped=1" >>"$RAW"
        return 0
    fi
    start_server "$be" $(server_cmd "$s")
    if [ -z "$PORT" ]; then
        say "FAILED: $s ($be) did not listen"
        reap "$SPID"
        return 0
    fi
    # shellcheck disable=SC2046
    if flood -p "$PORT" -m $(fmode "$s") -c "$CONNS" -w 0 -t "$SAT" -k "$SPID" -K "$KILL_TIMEOUT" -i "$s/$be"; then
        line="$LINE"
        echo "rep=$rep kind=sigterm server=$s backend=$be $line" >>"$RAW"
        echo "  sigterm $s $be: $line" >>"$LOG"
        case "$line" in *sigterm_ms=fail* | *sigterm_ms=early*) FAILS[$s/$be]=$((${FAILS[$s/$be]:-0} + 1)) ;; esac
    else
        say "FAILED: load against $s ($be), rep $rep"
    fi
    reap "$SPID"
}

# probe_run REP MODE BACKEND: probe_server under the same load, then SIGTERM
# once the load is off; its line has the timer lateness and iterations.
probe_run() {
    local rep="$1" m="$2" be="$3" line i
    start_server "$be" "$PROBE" -m "$m" -n "$CONNS"
    if [ -z "$PORT" ]; then
        say "FAILED: probe_server -m $m ($be) did not listen"
        reap "$SPID"
        return 0
    fi
    # shellcheck disable=SC2046
    if flood -p "$PORT" -m $(fmode "$m") -c "$CONNS" -w "$WARM" -t "$T" -i "probe_$m/$be"; then
        line="$LINE"
        echo "rep=$rep kind=probe_load server=probe_$m backend=$be $line" >>"$RAW"
    else
        say "FAILED: load against probe_server -m $m ($be), rep $rep"
    fi
    kill -TERM "$SPID" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$SPID" 2>/dev/null; then
        say "probe_server -m $m ($be) still alive 10 s after SIGTERM with the load off: SIGKILL"
    fi
    reap "$SPID"
    line="$(grep '^name=probe ' "$SOUT" | head -1 || true)"
    if [ -n "$line" ]; then
        echo "rep=$rep kind=probe server=probe_$m backend=$be $line $(grep '^kicks=' "$SOUT" | head -1 || true)" >>"$RAW"
        echo "  probe $m $be: $line" >>"$LOG"
    else
        echo "rep=$rep kind=probe server=probe_$m backend=$be failed=1" >>"$RAW"
    fi
}

# ---- runs -------------------------------------------------------------------------------------
extra=$(((TRIES - R + R - 1) / R)) # short SIGTERM tries per repetition, so that R * (1 + extra) >= TRIES
[ "$extra" -ge 0 ] || extra=0
COMBOS=()
for s in "${SERVERS[@]}"; do for be in "${BACKENDS[@]}"; do
    case "$s" in raw_epoll*) [ "$be" = epoll ] || continue ;; esac # the floor has one backend
    COMBOS+=("$s $be")
done; done
PCOMBOS=()
for m in "${PROBES[@]}"; do for be in "${BACKENDS[@]}"; do PCOMBOS+=("$m $be"); done; done
k=${#COMBOS[@]}
kp=${#PCOMBOS[@]}
started=$(date +%s)
say "R=$R T=$T WARM=$WARM conns=$CONNS; $((R * (1 + extra))) SIGTERM tries per server x backend (kill limit $KILL_TIMEOUT s)"
for rep in $(seq 1 "$R"); do
    say "repetition $rep/$R"
    for ((i = 0; i < k; i++)); do
        read -r s be <<<"${COMBOS[$(((i + rep - 1) % k))]}"
        main_run "$rep" "$s" "$be"
    done
    for ((i = 0; i < kp; i++)); do
        read -r m be <<<"${PCOMBOS[$(((i + rep - 1) % kp))]}"
        probe_run "$rep" "$m" "$be"
    done
    for ((j = 0; j < extra; j++)); do
        for ((i = 0; i < k; i++)); do
            read -r s be <<<"${COMBOS[$(((i + rep + j - 1) % k))]}"
            sigterm_try "$rep" "$s" "$be"
        done
    done
done
say "runs took $(($(date +%s) - started)) s"

# ---- report -------------------------------------------------------------------------------------
dirty=""
git -C "$CORIO_SRC" diff --quiet HEAD -- src include examples 2>/dev/null || dirty=" + uncommitted changes in src/include/examples"
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    cmd="bash bench/overload/run.sh"
    [ "$CORIO_SRC" = "$ROOT" ] || cmd="CORIO_SRC=$CORIO_SRC BUILD=$BUILD $cmd"
    echo "command=$([ "$QUICK" = 1 ] && echo 'QUICK=1 ')R=$R T=$T $cmd"
    echo "corio=$(git -C "$CORIO_SRC" rev-parse --short HEAD 2>/dev/null || echo '?')$dirty ($CORIO_SRC)"
    echo "host=$(uname -srm) / $(nproc) cores / $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "cc=$(gcc --version | head -1)"
    echo "settings=conns $CONNS, warm-up $WARM s, window $T s, probe gap $PROBE_GAP ms, probe timeout $PROBE_TIMEOUT s, SIGTERM tries $((R * (1 + extra))) (short ones: $SAT s of load), kill limit $KILL_TIMEOUT s, skip after $FAIL_STOP failures"
} >"$OUT/overload-meta.txt"
python3 "$HERE/report.py" "$RAW" "$OUT/overload-meta.txt" >"$OUT/overload.md"
cat "$OUT/overload.md"
