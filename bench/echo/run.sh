#!/usr/bin/env bash
# bench/echo/run.sh - the echo benchmark of issues 8 and 9: corio streams
# and corio protocols, each once per backend (CORIO_BACKEND=epoll and
# CORIO_BACKEND=io_uring), a raw epoll floor, a raw liburing floor
# (bench/echo/raw_uring.c: multishot accept, multishot recv into a
# provided-buffer ring, one send in flight per connection), libuv written for
# speed, Tokio current-thread, Go, Python asyncio streams and uvloop, in ONE
# interleaved run, all driven by the same C load client (bench/echo/load.c).
#
#   bash bench/echo/run.sh            R=5, 2 s per timed run (~10 min here)
#   QUICK=1 bash bench/echo/run.sh    R=2, 1 s per timed run, short counts (~3 min)
#   R=7 T=3 bash bench/echo/run.sh    more repetitions / longer runs
#   SKIP_PROFILE=1 ...                no strace / callgrind / idle-memory pass
#
# What it does:
#  1. installs what is missing on Debian 12 (one apt-get update): cmake, gcc,
#     golang-go, valgrind, strace, python3, libuv1-dev, liburing-dev,
#     python3-uvloop, librust-tokio-dev and cargo;
#  2. builds corio (Release, -O2) and its echo examples into build-bench/,
#     the load client, the two raw floors and the peers into build-bench/echo/;
#     the corio servers run twice each, with CORIO_BACKEND=epoll and with
#     CORIO_BACKEND=io_uring in their environment (SENV below);
#     Tokio OFFLINE with cargo from Debian's vendored crates (a CARGO_HOME
#     whose config replaces crates.io by /usr/share/cargo/registry); a peer
#     that does not build is left out and said so;
#  3. for rep in 1..R: for conns in 100 1000: for each server (order rotated
#     with rep): start the server pinned to CPU 0 on a fresh port, run the
#     load client pinned to CPU 1 (ping-pong, 1 KiB, WARM s warm-up + T s
#     counted), SIGTERM the server and check that it exited with status 0;
#     every result line goes to bench/out/echo_raw.txt;
#  4. counts that do not move with the machine's load, each at two run
#     lengths N1 < N2 (messages, 100 connections) so that start-up, the
#     connects and the shutdown cancel out: (count(N2) - count(N1)) / (N2 - N1):
#       - system calls per message: the server launched under `strace -f -c`
#         (every server; per-call tables kept in bench/out/echo_strace/;
#         io_uring_enter counts as one call however many operations it
#         carries, which is the point of a completion backend);
#       - user-space instructions per message: the server launched under
#         `valgrind --tool=callgrind` (corio servers, raw epoll floor, libuv,
#         Tokio; Go does not run under Valgrind, Python's numbers are in the
#         issue).  The corio io_uring columns run under callgrind too, but
#         corio does not take io_uring under Valgrind (it falls back to
#         epoll, and says so on stderr): report.py reads which backend ran
#         from the per-function table and prints n/a for io_uring.  The raw
#         liburing floor is not run under callgrind: Valgrind 3.19 keeps
#         signals blocked across io_uring_enter, so the server never sees
#         its SIGTERM and callgrind never writes its counts;
#       - memory per idle connection: server RSS growth (VmRSS) over 10,000
#         connections that each did one echo and then sit idle, / 10,000
#         (corio streams and protocols on both backends, Go, raw liburing
#         and the C/Rust peers);
#  5. bench/echo/report.py takes medians and writes bench/out/echo.md.
#
# Every server and client stops by itself: servers are SIGTERMed (SIGKILLed
# and reported if still alive 5 s later), the load client has a hard limit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build-bench"
EB="$BUILD/echo"
OUT="$ROOT/bench/out"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    R="${R:-2}" T="${T:-1}" WARM="${WARM:-0.3}" N1="${N1:-10000}" N2="${N2:-30000}"
else
    R="${R:-5}" T="${T:-2}" WARM="${WARM:-0.5}" N1="${N1:-20000}" N2="${N2:-60000}"
fi
IDLE_CONNS="${IDLE_CONNS:-10000}"
SERVER_CPU=0 CLIENT_CPU=1
rm -rf "$OUT/echo_strace"
mkdir -p "$OUT" "$EB" "$OUT/echo_strace"
RAW="$OUT/echo_raw.txt"
PROF="$OUT/echo_profile.txt"
LOG="$OUT/echo_run.log"
: >"$RAW"
: >"$PROF"
: >"$LOG"

say() { echo "[echo $(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# ---- 1. tools ------------------------------------------------------------------
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v gcc >/dev/null || need+=(gcc)
command -v go >/dev/null || need+=(golang-go)
command -v valgrind >/dev/null || need+=(valgrind)
command -v strace >/dev/null || need+=(strace)
command -v taskset >/dev/null || need+=(util-linux)
[ -x /usr/bin/python3 ] || need+=(python3)
[ -f /usr/include/uv.h ] || need+=(libuv1-dev)
[ -f /usr/include/liburing.h ] || need+=(liburing-dev)
/usr/bin/python3 -c 'import uvloop' 2>/dev/null || need+=(python3-uvloop)
[ -d /usr/share/cargo/registry ] && ls -d /usr/share/cargo/registry/tokio-1* >/dev/null 2>&1 || need+=(librust-tokio-dev)
command -v cargo >/dev/null || need+=(cargo)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOG" 2>&1
    apt-get install -y -qq "${need[@]}" >>"$LOG" 2>&1 || say "apt-get install failed (see $LOG); going on with what is there"
fi

# asyncio: Python 3.13.0 through pyenv where it exists, else the system's
# python3; uvloop: Debian's python3-uvloop, i.e. the system /usr/bin/python3.
# Real interpreter paths, so no shim is measured.
if PY="$(PYENV_VERSION=3.13.0 python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" && [ -n "$PY" ]; then
    :
else
    PY="$(python3 -c 'import sys; print(sys.executable)')"
fi
SYSPY=/usr/bin/python3

# fds: 10,000 idle connections need > 10,000 in the server and in the client.
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard"
if [ "$hard" -lt $((IDLE_CONNS + 100)) ]; then
    IDLE_CONNS=$((hard - 100))
    say "RLIMIT_NOFILE hard limit is $hard: idle-memory test with $IDLE_CONNS connections"
fi

# ---- 2. builds -----------------------------------------------------------------
say "building corio (Release, -O2) and its echo examples in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=ON -DCORIO_BUILD_BENCH=ON >>"$LOG" 2>&1
cmake --build "$BUILD" -j2 --target echo_server echo_server_proto >>"$LOG" 2>&1
say "building the load client, the raw epoll and liburing floors and the peers in $EB"
gcc -O2 -std=c17 -Wall -Wextra -o "$EB/load" "$ROOT/bench/echo/load.c" >>"$LOG" 2>&1
gcc -O2 -std=c17 -Wall -Wextra -o "$EB/raw_epoll" "$ROOT/bench/echo/raw_epoll.c" >>"$LOG" 2>&1

# SERVERS: name -> command (the port is appended), SENV: name -> environment
# assignments for it (put in front with env(1), so that strace and valgrind
# run the server itself, not env).  A peer that does not build or is not
# installed is left out of the run, with a line in the log.
declare -A CMD SENV
ORDER=()
add() { CMD[$1]="$2"; SENV[$1]="${3:-}"; ORDER+=("$1"); }
add corio_streams_epoll "$BUILD/examples/echo_server" CORIO_BACKEND=epoll
add corio_streams_uring "$BUILD/examples/echo_server" CORIO_BACKEND=io_uring
add corio_protocols_epoll "$BUILD/examples/echo_server_proto" CORIO_BACKEND=epoll
add corio_protocols_uring "$BUILD/examples/echo_server_proto" CORIO_BACKEND=io_uring
add raw_epoll "$EB/raw_epoll"
if gcc -O2 -std=c17 -Wall -Wextra -o "$EB/raw_uring" "$ROOT/bench/echo/raw_uring.c" -luring >>"$LOG" 2>&1; then
    add raw_uring "$EB/raw_uring"
else say "raw liburing floor did not build (liburing-dev?): left out"; fi
if gcc -O2 -std=c17 -Wall -Wextra -o "$EB/echo_libuv" "$ROOT/bench/echo/echo_libuv.c" -luv >>"$LOG" 2>&1; then
    add libuv "$EB/echo_libuv"
else say "libuv peer did not build: left out"; fi
TOKIO_NOTE=""
if command -v cargo >/dev/null; then
    mkdir -p "$EB/cargo-home"
    cat >"$EB/cargo-home/config.toml" <<'EOF'
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
EOF
    if (cd "$ROOT/bench/echo/tokio" && rm -f Cargo.lock && CARGO_HOME="$EB/cargo-home" CARGO_TARGET_DIR="$EB/tokio-target" \
        timeout 600 cargo build --release --offline) >>"$LOG" 2>&1; then
        add tokio "$EB/tokio-target/release/echo_tokio"
        TOKIO_NOTE="$(sed -n 's/^version = "\(.*\)"/\1/p' "$(find /usr/share/cargo/registry -maxdepth 1 -name 'tokio-1*' | sort | head -1)/Cargo.toml" | head -1)"
    else say "Tokio peer did not build offline (see $LOG): left out"; fi
else say "no cargo: Tokio peer left out"; fi
if command -v go >/dev/null && (cd "$ROOT/bench/echo" && GOTOOLCHAIN=local GOCACHE="$EB/gocache" GOPATH="$EB/gopath" \
    GO111MODULE=off go build -o "$EB/echo_go" echo_go.go) >>"$LOG" 2>&1; then
    add go "env GOMAXPROCS=1 $EB/echo_go"
else say "Go peer did not build: left out"; fi
add asyncio "$PY $ROOT/bench/echo/echo_py.py asyncio"
# The issue's asyncio numbers were taken on the system's Python; where it
# differs from the one above, it gets a row of its own.
if [ "$("$SYSPY" -c 'import sys; print(sys.version)')" != "$("$PY" -c 'import sys; print(sys.version)')" ]; then
    add asyncio_sys "$SYSPY $ROOT/bench/echo/echo_py.py asyncio"
fi
if "$SYSPY" -c 'import uvloop' 2>>"$LOG"; then
    add uvloop "$SYSPY $ROOT/bench/echo/echo_py.py uvloop"
else say "uvloop not importable by $SYSPY: left out"; fi
LOAD="$EB/load"

# ---- helpers ------------------------------------------------------------------------
# Server ports below the ephemeral range, so that none collides with a local
# port of the client's (many thousands in TIME_WAIT after the idle test).
EPH_LO="$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
PORT_LO=$((EPH_LO > 12000 ? EPH_LO - 10000 : 2000))
PORT=$((PORT_LO + RANDOM % 5000))
next_port() { PORT=$((PORT + 1)); [ "$PORT" -lt "$EPH_LO" ] || PORT=$PORT_LO; }

listening() { # PORT: is something listening on 127.0.0.1:PORT?
    local hex
    hex="$(printf '%04X' "$1")"
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {f=1} END{exit !f}' /proc/net/tcp
}
wait_listening() { # PID PORT
    local i
    for ((i = 0; i < 300; i++)); do
        listening "$2" && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# stop_server PID WHAT [IMPL CONNS]: SIGTERM, wait up to 5 s, check status 0;
# with IMPL, a bad stop is also recorded in echo_raw.txt for the report.
stop_server() {
    local pid="$1" what="$2" impl="${3:-}" conns="${4:-0}" i rc
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$what: still alive 5 s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    if [ "$rc" != 0 ]; then
        say "$what: server exit status $rc after SIGTERM"
        [ -z "$impl" ] || echo "name=echo_badstop impl=$impl conns=$conns rc=$rc" >>"$RAW"
    fi
    return 0
}
# start_server IMPL [WRAPPER...]: starts it pinned, on a fresh port; sets SPID.
start_server() {
    local impl="$1"
    shift
    next_port
    # shellcheck disable=SC2086
    env ${SENV[$impl]} taskset -c "$SERVER_CPU" "$@" ${CMD[$impl]} "$PORT" >/dev/null 2>>"$LOG" &
    SPID=$!
}

# ---- 3. interleaved timed runs --------------------------------------------------------
run_one() { # REP CONNS IMPL
    local rep="$1" c="$2" impl="$3" out
    start_server "$impl"
    if ! wait_listening "$SPID" "$PORT"; then
        say "FAILED: $impl did not listen (rep $rep)"
        echo "rep=$rep name=echo_failed impl=$impl conns=$c" >>"$RAW"
        stop_server "$SPID" "$impl"
        return 0
    fi
    if out="$(taskset -c "$CLIENT_CPU" "$LOAD" -p "$PORT" -c "$c" -i "$impl" -t "$T" -w "$WARM" -T 120 2>>"$LOG")"; then
        echo "rep=$rep $out" >>"$RAW"
        echo "  $out" >>"$LOG"
    else
        say "FAILED: $impl conns=$c (rep $rep)"
        echo "rep=$rep name=echo_failed impl=$impl conns=$c" >>"$RAW"
    fi
    stop_server "$SPID" "$impl conns=$c rep=$rep" "$impl" "$c"
}

say "servers: ${ORDER[*]}"
start=$(date +%s)
k=${#ORDER[@]}
for rep in $(seq 1 "$R"); do
    say "repetition $rep/$R"
    for c in 100 1000; do
        for ((i = 0; i < k; i++)); do
            run_one "$rep" "$c" "${ORDER[$(((i + rep - 1) % k))]}"
        done
    done
done
say "timed runs took $(($(date +%s) - start)) s"

# ---- 4. counts --------------------------------------------------------------------------
# count_run KIND IMPL N: total system calls (strace) or user-space
# instructions (callgrind) of the server over a run of N messages on 100
# connections, start-up and shutdown included.
count_run() {
    local kind="$1" impl="$2" n="$3" f spid child tot i
    f="$OUT/echo_strace/${impl}_${n}.$kind"
    next_port
    if [ "$kind" = strace ]; then
        # shellcheck disable=SC2086
        env ${SENV[$impl]} taskset -c "$SERVER_CPU" strace -f -c -o "$f" ${CMD[$impl]} "$PORT" >/dev/null 2>>"$LOG" &
    else
        # shellcheck disable=SC2086
        env ${SENV[$impl]} taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$f" \
            ${CMD[$impl]} "$PORT" >/dev/null 2>>"$LOG" &
    fi
    spid=$!
    if ! wait_listening "$spid" "$PORT"; then
        say "$kind: $impl did not listen"
        kill -TERM "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        return 1
    fi
    if ! taskset -c "$CLIENT_CPU" "$LOAD" -p "$PORT" -c 100 -i "$impl" -n "$n" -T 300 >>"$LOG" 2>&1; then
        say "$kind: load failed against $impl"
    fi
    # strace: signal the traced server (strace's child); valgrind runs the
    # program in its own process.
    child="$spid"
    if [ "$kind" = strace ]; then
        for ((i = 0; i < 20; i++)); do
            child="$(cat /proc/"$spid"/task/*/children 2>/dev/null | awk '{print $1; exit}')"
            [ -n "$child" ] && break
            sleep 0.05
        done
        [ -n "$child" ] || child="$spid"
    fi
    kill -TERM "$child" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$spid" 2>/dev/null; then
        say "$kind: $impl still alive 10 s after SIGTERM: SIGKILL"
        kill -KILL "$child" "$spid" 2>/dev/null || true
    fi
    wait "$spid" 2>/dev/null || true
    if [ "$kind" = strace ]; then
        tot="$(awk '$NF == "total" {print $4}' "$f")"
    else
        tot="$(awk '/^totals:/{print $2; exit} /^summary:/{s=$2} END{if (s) print s}' "$f" | head -1)"
        # Self instructions by function, kept for the per-function table.
        callgrind_annotate --inclusive=no --threshold=100 "$f" 2>/dev/null | grep -E '^ *[0-9,]+ ' |
            sed 's/ *([^)]*)//; s/ *\[.*\]//' | awk '{gsub(",", "", $1); c = $1; $1 = ""; sub(/^ /, ""); print c "\t" $0}' \
            >"$f.fn" || true
        rm -f "$f"
    fi
    [ -n "$tot" ] && echo "$tot"
}

profile() { # KIND IMPL
    local kind="$1" impl="$2" a b per
    [ -n "${CMD[$impl]:-}" ] || return 0
    a="$(count_run "$kind" "$impl" "$N1")" || a=""
    b="$(count_run "$kind" "$impl" "$N2")" || b=""
    if [ -z "$a" ] || [ -z "$b" ]; then
        say "$kind failed for $impl"
        return 0
    fi
    per=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN{printf "%.4f", (b-a)/(n2-n1)}')
    echo "kind=$kind impl=$impl n1=$N1 n2=$N2 total1=$a total2=$b per_msg=$per" | tee -a "$PROF" >>"$LOG"
}

# idle IMPL: RSS growth of the server over IDLE_CONNS idle connections.
idle() {
    local impl="$1" rss0 rss1 ready cpid i
    [ -n "${CMD[$impl]:-}" ] || return 0
    start_server "$impl"
    if ! wait_listening "$SPID" "$PORT"; then
        say "idle: $impl did not listen"
        stop_server "$SPID" "$impl"
        return 0
    fi
    sleep 0.3
    rss0="$(awk '/^VmRSS:/{print $2}' /proc/"$SPID"/status)"
    ready="$OUT/echo_idle_ready.$impl"
    rm -f "$ready"
    taskset -c "$CLIENT_CPU" "$LOAD" -p "$PORT" -c "$IDLE_CONNS" -i "$impl" -H 4 -r "$ready" -T 120 >>"$LOG" 2>&1 &
    cpid=$!
    for ((i = 0; i < 1200; i++)); do
        [ -e "$ready" ] && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -e "$ready" ]; then
        sleep 1
        rss1="$(awk '/^VmRSS:/{print $2}' /proc/"$SPID"/status)"
        echo "kind=idle impl=$impl conns=$IDLE_CONNS rss0_kb=$rss0 rss1_kb=$rss1 per_conn=$(awk -v a="$rss0" -v b="$rss1" \
            -v n="$IDLE_CONNS" 'BEGIN{printf "%.3f", (b-a)/n}')" | tee -a "$PROF" >>"$LOG"
    else
        say "idle: $impl: the client did not get its $IDLE_CONNS connections up"
    fi
    wait "$cpid" 2>/dev/null || true
    rm -f "$ready"
    stop_server "$SPID" "$impl idle" "$impl" idle
}

if [ "${SKIP_PROFILE:-0}" != 1 ]; then
    start=$(date +%s)
    say "strace: system calls per message ($N1 and $N2 messages, 100 connections)"
    for impl in "${ORDER[@]}"; do profile strace "$impl"; done
    say "callgrind: user-space instructions per message (not raw_uring: see the header)"
    for impl in corio_streams_epoll corio_protocols_epoll corio_streams_uring corio_protocols_uring raw_epoll libuv \
        tokio; do profile callgrind "$impl"; done
    say "memory per idle connection ($IDLE_CONNS connections)"
    for impl in corio_streams_epoll corio_protocols_epoll corio_streams_uring corio_protocols_uring go raw_epoll \
        raw_uring libuv tokio; do idle "$impl"; done
    say "counts took $(($(date +%s) - start)) s"
fi

# ---- 5. report --------------------------------------------------------------------------
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command=$([ "$QUICK" = 1 ] && echo 'QUICK=1 ')R=$R T=$T bash bench/echo/run.sh"
    echo "quick=$QUICK"
    echo "reps=$R"
    echo "secs=$T"
    echo "warm=$WARM"
    echo "n1=$N1"
    echo "n2=$N2"
    echo "idle_conns=$IDLE_CONNS"
    echo "host=$(uname -srm) / $(nproc) cores / $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "corio=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include examples 2>/dev/null || echo ' + uncommitted changes in src/include/examples')"
    echo "cc=$(gcc --version | head -1)"
    echo "go=$(go version 2>/dev/null | awk '{print $3}')"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "syspython=$("$SYSPY" -c 'import sys; print(sys.version.split()[0])')"
    echo "uvloop=$("$SYSPY" -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo '-')"
    echo "libuv=$(pkg-config --modversion libuv 2>/dev/null || dpkg-query -W -f='${Version}' libuv1-dev 2>/dev/null || echo '?')"
    echo "liburing=$(pkg-config --modversion liburing 2>/dev/null || dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?')"
    echo "valgrind=$(valgrind --version 2>/dev/null || echo '?')"
    echo "tokio=${TOKIO_NOTE:--}"
    echo "servers=${ORDER[*]}"
} >"$OUT/echo_meta.txt"
"$SYSPY" "$ROOT/bench/echo/report.py" "$OUT" >"$OUT/echo.md"
cat "$OUT/echo.md"
