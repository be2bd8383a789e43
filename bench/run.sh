#!/usr/bin/env bash
# bench/run.sh - corio's benchmark suite, side by side with Go goroutines,
# Python asyncio and Boost.Context, in ONE interleaved run.
#
#   bash bench/run.sh              full run (R=5 repetitions, 1M sleepers/timers; ~12 min here)
#   QUICK=1 bash bench/run.sh      small N, R=3 (~2 min)
#   R=7 bash bench/run.sh          more repetitions
#   SKIP_PROFILE=1 ...             no callgrind/strace pass
#
# What it does, in order:
#  1. installs what is missing on a fresh Debian 12 (one apt-get update):
#     cmake, gcc, g++, golang-go, libboost-context-dev, valgrind, strace, python3;
#  2. builds corio in Release (-O2) into build-bench/, the Go and Boost
#     peers into build-bench/peers/;
#  3. for rep in 1..R: for each workload: for each implementation (the order
#     of the implementations rotates with rep, so none always runs first
#     after a memory-heavy neighbour) - every program prints one
#     `name=... impl=... ns_per_op=...` line, collected in bench/out/raw.txt;
#  4. user-space instructions per operation from `valgrind --tool=callgrind`
#     at two run lengths (difference of total Ir over the difference of
#     operations: start-up and warm-up cancel out), and system calls per
#     operation from `strace -f -c` the same way;
#  5. bench/report.py takes medians and writes bench/out/results.md, which is
#     printed at the end.
#
# The machine is a shared 2-core VM: throughput moves +-20% between runs, so
# only medians over interleaved repetitions are compared, and instruction
# counts (which do not move) back them up.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build-bench"
OUT="$ROOT/bench/out"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then R="${R:-3}"; else R="${R:-5}"; fi
mkdir -p "$OUT"
RAW="$OUT/raw.txt"
PROF="$OUT/profile.txt"
LOG="$OUT/run.log"
: >"$RAW"
: >"$PROF"
: >"$LOG"

say() { echo "[bench $(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# ---- 1. tools ------------------------------------------------------------------
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v go >/dev/null || need+=(golang-go)
[ -f /usr/include/boost/context/fiber.hpp ] || need+=(libboost-context-dev)
command -v valgrind >/dev/null || need+=(valgrind)
command -v strace >/dev/null || need+=(strace)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOG" 2>&1
    apt-get install -y -qq "${need[@]}" >>"$LOG" 2>&1
fi

# Python: 3.13.0 through pyenv where it exists, else the system's python3.
# The real interpreter path is used below, so neither the pyenv shim's
# start-up nor its system calls are measured.
if PY="$(PYENV_VERSION=3.13.0 python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" && [ -n "$PY" ]; then
    :
else
    PY="$(python3 -c 'import sys; print(sys.executable)')"
fi
REPORT_PY="$(command -v python3)"

# ---- 2. builds -----------------------------------------------------------------
say "building corio (Release, -O2) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF -DCORIO_BUILD_BENCH=ON >>"$LOG" 2>&1
cmake --build "$BUILD" -j2 --target corio_static >>"$LOG" 2>&1
CORIO_HAVE=()
for w in switch spawn sleepers timers queue; do
    # One target at a time: a workload whose core part has not landed yet
    # (it does not link) is reported as missing instead of failing the run.
    if cmake --build "$BUILD" -j2 --target "corio_$w" >>"$LOG" 2>&1; then
        CORIO_HAVE+=("$w")
    else
        say "corio_$w did not build (see $LOG); its corio column stays empty"
    fi
done
has_corio() { local x; for x in "${CORIO_HAVE[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

mkdir -p "$BUILD/peers"
say "building the Go peer ($(go version | awk '{print $3}'))"
(cd "$ROOT/bench/peers" && GOTOOLCHAIN=local GOCACHE="$BUILD/peers/gocache" GOPATH="$BUILD/peers/gopath" \
    GO111MODULE=off go build -o "$BUILD/peers/go_bench" go_bench.go) >>"$LOG" 2>&1
say "building the Boost.Context peer"
g++ -O2 -std=c++17 -o "$BUILD/peers/boost_switch" "$ROOT/bench/peers/boost_switch.cpp" -lboost_context >>"$LOG" 2>&1
BOOST_VER="$(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp)"

B="$BUILD/bench"
GO="$BUILD/peers/go_bench"
BO="$BUILD/peers/boost_switch"
PYB="$ROOT/bench/peers/asyncio_bench.py"

# ---- sizes -----------------------------------------------------------------------
# Per-operation workloads get an N per implementation that makes each run
# last 0.1-1 s (a slow peer needs fewer operations for the same precision);
# the sleepers and timers use the same N for everyone, because what they
# measure (memory per task, heap depth) depends on N.
if [ "$QUICK" = 1 ]; then
    N_SW=5000000 N_YC=2000000 N_YG=500000 N_YP=50000
    N_SPC=500000 N_SPG=200000 N_SPP=50000
    N_SLEEP=100000 N_TIMERS=100000 T_SPREAD=0.1
    N_QC=500000 N_QG=200000 N_QP=50000
else
    N_SW=20000000 N_YC=10000000 N_YG=2000000 N_YP=200000
    N_SPC=2000000 N_SPG=1000000 N_SPP=200000
    N_SLEEP=1000000 N_TIMERS=1000000 T_SPREAD=1.0
    N_QC=2000000 N_QG=1000000 N_QP=200000
fi
S_SLEEP=1.0

# Go: GOMAXPROCS=1 everywhere, so that every implementation has one core
# (corio and asyncio are single-threaded).  The sleepers are also run with
# Go's default (all cores, here 2) as an extra, clearly labelled column.
export GOGC="${GOGC:-100}"

# run_one REP WORKLOAD IMPL: one measurement, its line appended to raw.txt.
run_one() {
    local rep="$1" w="$2" impl="$3" cmd=()
    case "$w:$impl" in
        switch:corio) cmd=("$B/corio_switch" "$N_SW" raw) ;;
        switch:boost) cmd=("$BO" "$N_SW" both) ;;
        yield:corio) cmd=("$B/corio_switch" "$N_YC" yield) ;;
        yield:go) cmd=(env GOMAXPROCS=1 "$GO" yield "$N_YG") ;;
        yield:python) cmd=("$PY" "$PYB" yield "$N_YP") ;;
        spawn:corio) cmd=("$B/corio_spawn" "$N_SPC") ;;
        spawn:go) cmd=(env GOMAXPROCS=1 "$GO" spawn "$N_SPG") ;;
        spawn:python) cmd=("$PY" "$PYB" spawn "$N_SPP") ;;
        sleepers:corio) cmd=("$B/corio_sleepers" "$N_SLEEP" "$S_SLEEP") ;;
        sleepers:corio_16k) cmd=("$B/corio_sleepers" "$N_SLEEP" "$S_SLEEP" 16) ;;
        sleepers:go) cmd=(env GOMAXPROCS=1 "$GO" sleepers "$N_SLEEP" "$S_SLEEP") ;;
        sleepers:go_allcores) cmd=(env -u GOMAXPROCS "$GO" sleepers "$N_SLEEP" "$S_SLEEP") ;;
        sleepers:go_held) cmd=(env GOMAXPROCS=1 "$GO" sleepers_held "$N_SLEEP" "$S_SLEEP") ;;
        sleepers:python) cmd=("$PY" "$PYB" sleepers "$N_SLEEP" "$S_SLEEP") ;;
        timers:corio) cmd=("$B/corio_timers" "$N_TIMERS" "$T_SPREAD") ;;
        timers:go) cmd=(env GOMAXPROCS=1 "$GO" timers "$N_TIMERS" "$T_SPREAD") ;;
        timers:python) cmd=("$PY" "$PYB" timers "$N_TIMERS" "$T_SPREAD") ;;
        queue:corio) cmd=("$B/corio_queue" "$N_QC") ;;
        queue:go) cmd=(env GOMAXPROCS=1 "$GO" queue "$N_QG") ;;
        queue:python) cmd=("$PY" "$PYB" queue "$N_QP") ;;
        *) return 0 ;;
    esac
    if [ "${impl%_16k}" = corio ] && ! has_corio "$([ "$w" = yield ] && echo switch || echo "$w")"; then return 0; fi
    local out
    if out="$(timeout 600 "${cmd[@]}" 2>>"$LOG")"; then
        while IFS= read -r line; do
            [ -n "$line" ] || continue
            # Variants of one program are told apart by their impl tag.
            [ "$impl" = go_allcores ] && line="${line/impl=go/impl=go_allcores}"
            [ "$impl" = go_held ] && line="${line/impl=go/impl=go_held}"
            [ "$impl" = corio_16k ] && line="${line/impl=corio/impl=corio_16k}"
            echo "rep=$rep $line" >>"$RAW"
            echo "  $line" >>"$LOG"
        done <<<"$out"
    else
        say "FAILED: $w $impl (rep $rep)"
    fi
}

IMPLS_switch="corio boost"
IMPLS_yield="corio go python"
IMPLS_spawn="corio go python"
# corio_16k: the same with 16 KiB stacks (corio_task_opts.stack_size), packed
# closer: what the default 256 KiB costs in page tables on this VM.
# go_held: Go with every goroutine alive at once (each waits for a start
# signal given after the last spawn), as asyncio's and corio's tasks are;
# in the plain run Go's preemption lets the first finish during the spawn.
IMPLS_sleepers="corio corio_16k go python go_allcores go_held"
IMPLS_timers="corio go python"
IMPLS_queue="corio go python"

# ---- 3. interleaved repetitions -----------------------------------------------------
start=$(date +%s)
for rep in $(seq 1 "$R"); do
    say "repetition $rep/$R"
    for w in switch yield spawn sleepers timers queue; do
        var="IMPLS_$w"
        read -r -a impls <<<"${!var}"
        k=${#impls[@]}
        for ((i = 0; i < k; i++)); do
            run_one "$rep" "$w" "${impls[$(((i + rep - 1) % k))]}"
        done
    done
done
say "timed runs took $(($(date +%s) - start)) s"

# ---- 4. instructions and system calls per operation ---------------------------------
# prof_cmd WORKLOAD IMPL N: the command for a short run of length N.  The
# timers keep the full run's density (N timers per T_SPREAD seconds) by
# scaling the spread with N, the sleepers sleep 0.2 s.
prof_cmd() {
    local w="$1" impl="$2" n="$3" spread
    spread=$(awk -v n="$n" -v N="$N_TIMERS" -v s="$T_SPREAD" 'BEGIN{printf "%.4f", s*n/N}')
    case "$w:$impl" in
        switch:corio) echo "$B/corio_switch $n raw" ;;
        switch:boost) echo "$BO $n raw" ;;
        yield:corio) echo "$B/corio_switch $n yield" ;;
        yield:go) echo "env GOMAXPROCS=1 $GO yield $n" ;;
        yield:python) echo "$PY $PYB yield $n" ;;
        spawn:corio) echo "$B/corio_spawn $n" ;;
        spawn:go) echo "env GOMAXPROCS=1 $GO spawn $n" ;;
        spawn:python) echo "$PY $PYB spawn $n" ;;
        sleepers:corio) echo "$B/corio_sleepers $n 0.2" ;;
        sleepers:go) echo "env GOMAXPROCS=1 $GO sleepers $n 0.2" ;;
        sleepers:python) echo "$PY $PYB sleepers $n 0.2" ;;
        timers:corio) echo "$B/corio_timers $n $spread" ;;
        timers:go) echo "env GOMAXPROCS=1 $GO timers $n $spread" ;;
        timers:python) echo "$PY $PYB timers $n $spread" ;;
        queue:corio) echo "$B/corio_queue $n" ;;
        queue:go) echo "env GOMAXPROCS=1 $GO queue $n" ;;
        queue:python) echo "$PY $PYB queue $n" ;;
    esac
}
# Operations per unit of N: a switch/yield run of N does 2N of them.
ops_per_n() { case "$1" in switch | yield) echo 2 ;; *) echo 1 ;; esac; }

callgrind_ir() { # CMD... -> total Ir of the run
    local f
    f="$(mktemp "$OUT/cg.XXXXXX")"
    # shellcheck disable=SC2068
    timeout 900 valgrind --tool=callgrind --callgrind-out-file="$f" $@ >/dev/null 2>>"$LOG" || { rm -f "$f"; return 1; }
    awk '/^totals:/{print $2; exit} /^summary:/{s=$2} END{if (s) print s}' "$f" | head -1
    rm -f "$f"
}
strace_calls() { # CMD... -> total system calls of the run (all threads)
    local f
    f="$(mktemp "$OUT/st.XXXXXX")"
    # shellcheck disable=SC2068
    timeout 900 strace -f -c -o "$f" $@ >/dev/null 2>>"$LOG" || { rm -f "$f"; return 1; }
    awk '$NF == "total" {print $4}' "$f"
    rm -f "$f"
}

# profile KIND WORKLOAD IMPL N1 N2
profile() {
    local kind="$1" w="$2" impl="$3" n1="$4" n2="$5" a b
    if [ "${impl%_16k}" = corio ] && ! has_corio "$([ "$w" = yield ] && echo switch || echo "$w")"; then return 0; fi
    if [ "$kind" = callgrind ]; then
        a="$(callgrind_ir $(prof_cmd "$w" "$impl" "$n1"))" || a=""
        b="$(callgrind_ir $(prof_cmd "$w" "$impl" "$n2"))" || b=""
    else
        a="$(strace_calls $(prof_cmd "$w" "$impl" "$n1"))" || a=""
        b="$(strace_calls $(prof_cmd "$w" "$impl" "$n2"))" || b=""
    fi
    if [ -z "$a" ] || [ -z "$b" ]; then
        say "$kind failed for $w $impl"
        return 0
    fi
    local per
    per=$(awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v k="$(ops_per_n "$w")" \
        'BEGIN{x = (b-a)/((n2-n1)*k); if (x < 0.0005 && x > -0.0005) x = 0; printf "%.4f", x}')
    echo "kind=$kind name=$w impl=$impl n1=$n1 n2=$n2 total1=$a total2=$b per_op=$per" | tee -a "$PROF" >>"$LOG"
}

if [ "${SKIP_PROFILE:-0}" != 1 ]; then
    start=$(date +%s)
    say "callgrind: instructions per operation"
    for w in switch yield spawn queue; do profile callgrind "$w" corio 100000 200000; done
    profile callgrind sleepers corio 10000 20000
    profile callgrind timers corio 20000 40000
    profile callgrind switch boost 100000 200000
    # Python under Valgrind is slow but still cheap at these lengths.  Go
    # is not profiled: Valgrind does not support the Go runtime (its
    # signal-based preemption and thread handling).
    profile callgrind yield python 5000 10000
    profile callgrind spawn python 5000 10000
    profile callgrind queue python 5000 10000
    say "strace: system calls per operation"
    for w in switch yield spawn queue; do profile strace "$w" corio 200000 400000; done
    profile strace sleepers corio 20000 40000
    profile strace timers corio 50000 100000
    for w in yield spawn queue; do profile strace "$w" go 100000 200000; done
    profile strace sleepers go 20000 40000
    profile strace timers go 50000 100000
    for w in yield spawn queue; do profile strace "$w" python 20000 40000; done
    profile strace sleepers python 20000 40000
    profile strace timers python 50000 100000
    profile strace switch boost 200000 400000
    say "profiling took $(($(date +%s) - start)) s"
fi

# ---- 5. report ---------------------------------------------------------------------
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command=$([ "$QUICK" = 1 ] && echo 'QUICK=1 ')R=$R bash bench/run.sh"
    echo "quick=$QUICK"
    echo "reps=$R"
    echo "host=$(uname -srm) / $(nproc) cores / $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "corio=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
    echo "cc=$(gcc --version | head -1)"
    echo "go=$(go version | awk '{print $3}')"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "boost=$BOOST_VER"
    echo "n_sleep=$N_SLEEP"
    echo "n_timers=$N_TIMERS"
    echo "t_spread=$T_SPREAD"
} >"$OUT/meta.txt"
"$REPORT_PY" "$ROOT/bench/report.py" "$OUT" >"$OUT/results.md"
cat "$OUT/results.md"
