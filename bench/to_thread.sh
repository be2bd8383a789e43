#!/usr/bin/env bash
# bench/to_thread.sh - executor round trips (issue 4, item 8): corio_to_thread
# side by side with libuv's uv_queue_work and Python's run_in_executor, in
# the style of bench/run.sh (interleaved repetitions, medians, system calls
# per operation at two run lengths).
#
#   bash bench/to_thread.sh            R=5 repetitions (~1-2 min here)
#   R=9 bash bench/to_thread.sh        more repetitions
#   SKIP_PROFILE=1 ...                 no strace pass
#
# Workloads (all with 4 worker threads: corio_executor_new(4) as the
# loop's default executor, UV_THREADPOOL_SIZE=4, ThreadPoolExecutor(4)):
#  - latency: one task / one request in flight, N sequential round trips
#    of an empty function; ns per round trip;
#  - throughput: 64 tasks (64 requests in flight), N calls in all; calls/s.
#
# Steps:
#  1. installs what is missing (libuv1-dev, cmake, gcc, strace, python3);
#  2. builds corio in Release (-O2) into build-bench/ and the libuv peer
#     into build-bench/peers/;
#  3. for rep in 1..R: for each workload: for each implementation (order
#     rotated each rep) - one process per measurement, one
#     `name=... impl=... ns_per_op=...` line each, into bench/out/to_thread_raw.txt;
#  4. system calls per round trip from `strace -f -c` (all threads) at two
#     run lengths: (calls(N2) - calls(N1)) / (N2 - N1), start-up cancels out;
#  5. medians -> bench/out/to_thread.md (printed at the end).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build-bench"
OUT="$ROOT/bench/out"
R="${R:-5}"
NTASKS=64
mkdir -p "$OUT"
RAW="$OUT/to_thread_raw.txt"
PROF="$OUT/to_thread_profile.txt"
LOG="$OUT/to_thread.log"
: >"$RAW"
: >"$PROF"
: >"$LOG"

say() { echo "[to_thread $(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# ---- 1. tools -------------------------------------------------------------------
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v gcc >/dev/null || need+=(gcc)
command -v strace >/dev/null || need+=(strace)
command -v python3 >/dev/null || need+=(python3)
[ -f /usr/include/uv.h ] || need+=(libuv1-dev)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >>"$LOG" 2>&1
    apt-get install -y -qq "${need[@]}" >>"$LOG" 2>&1
fi

# Python 3.13.0 through pyenv where it exists, else python3; the real
# interpreter path, so the pyenv shim is not measured.
if PY="$(PYENV_VERSION=3.13.0 python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" && [ -n "$PY" ]; then
    :
else
    PY="$(python3 -c 'import sys; print(sys.executable)')"
fi

# ---- 2. builds ------------------------------------------------------------------
say "building corio (Release, -O2) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF -DCORIO_BUILD_BENCH=ON >>"$LOG" 2>&1
cmake --build "$BUILD" -j2 --target corio_to_thread >>"$LOG" 2>&1
mkdir -p "$BUILD/peers"
say "building the libuv peer"
gcc -O2 -std=c17 -D_GNU_SOURCE -o "$BUILD/peers/uv_queue_work" "$ROOT/bench/peers/uv_queue_work.c" -luv >>"$LOG" 2>&1
UV_VER="$(dpkg-query -W -f='${Version}' libuv1-dev 2>/dev/null || echo '?')"

C="$BUILD/bench/corio_to_thread"
UV="$BUILD/peers/uv_queue_work"
PYB="$ROOT/bench/peers/asyncio_to_thread.py"
export UV_THREADPOOL_SIZE=4

# ---- sizes: each run lasts ~0.3-1 s ---------------------------------------------
N_LAT_C=30000 N_TP_C=600000   # corio and libuv
N_LAT_P=10000 N_TP_P=30000    # Python

cmd_for() { # WORKLOAD IMPL N -> the command line
    local w="$1" impl="$2" n="$3"
    case "$impl" in
        corio) echo "$C $n $w $NTASKS" ;;
        libuv) echo "$UV $n $w $NTASKS" ;;
        python) echo "$PY $PYB $n $w $NTASKS" ;;
        python_to_thread) echo "$PY $PYB $n $w $NTASKS --to-thread" ;;
    esac
}
size_for() { # WORKLOAD IMPL -> N of a timed run
    case "$1:$2" in
        latency:python*) echo "$N_LAT_P" ;;
        throughput:python*) echo "$N_TP_P" ;;
        latency:*) echo "$N_LAT_C" ;;
        throughput:*) echo "$N_TP_C" ;;
    esac
}

run_one() { # REP WORKLOAD IMPL
    local rep="$1" w="$2" impl="$3" out line
    # shellcheck disable=SC2046
    if out="$(timeout 300 $(cmd_for "$w" "$impl" "$(size_for "$w" "$impl")") 2>>"$LOG")"; then
        while IFS= read -r line; do
            [ -n "$line" ] || continue
            echo "rep=$rep $line" >>"$RAW"
            echo "  $line" >>"$LOG"
        done <<<"$out"
    else
        say "FAILED: $w $impl (rep $rep)"
    fi
}

IMPLS=(corio libuv python python_to_thread)

# ---- 3. interleaved repetitions ---------------------------------------------------
start=$(date +%s)
for rep in $(seq 1 "$R"); do
    say "repetition $rep/$R"
    for w in latency throughput; do
        k=${#IMPLS[@]}
        for ((i = 0; i < k; i++)); do
            run_one "$rep" "$w" "${IMPLS[$(((i + rep - 1) % k))]}"
        done
    done
done
say "timed runs took $(($(date +%s) - start)) s"

# ---- 4. system calls per round trip ------------------------------------------------
strace_calls() { # CMD... -> total system calls of the run (all threads)
    local f
    f="$(mktemp "$OUT/st.XXXXXX")"
    # shellcheck disable=SC2068
    timeout 300 strace -f -c -o "$f" $@ >/dev/null 2>>"$LOG" || { rm -f "$f"; return 1; }
    awk '$NF == "total" {print $4}' "$f"
    # the three biggest lines, for the diagnosis
    awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ {print}' "$f" | sort -k4,4nr | head -4 | sed 's/^/    /' >>"$LOG"
    rm -f "$f"
}
profile() { # WORKLOAD IMPL N1 N2
    local w="$1" impl="$2" n1="$3" n2="$4" a b per
    a="$(strace_calls $(cmd_for "$w" "$impl" "$n1"))" || a=""
    b="$(strace_calls $(cmd_for "$w" "$impl" "$n2"))" || b=""
    if [ -z "$a" ] || [ -z "$b" ]; then
        say "strace failed for $w $impl"
        return 0
    fi
    per=$(awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" 'BEGIN{printf "%.3f", (b-a)/(n2-n1)}')
    echo "kind=strace name=to_thread_$w impl=$impl n1=$n1 n2=$n2 total1=$a total2=$b per_op=$per" | tee -a "$PROF" >>"$LOG"
}
if [ "${SKIP_PROFILE:-0}" != 1 ]; then
    start=$(date +%s)
    say "strace: system calls per round trip"
    for impl in corio libuv; do
        profile latency "$impl" 3000 6000
        profile throughput "$impl" 20000 40000
    done
    # Python is not counted: its GIL hand-overs are futex calls whose number
    # swings with timing under strace (more calls at N1 than at N2 here).
    say "strace took $(($(date +%s) - start)) s"
fi

# ---- 5. report ------------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
HOST="$(uname -srm) / $(nproc) cores / $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
CORIO_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
PYVER="$("$PY" -c 'import sys; print(sys.version.split()[0])')"
CC_VER="$(gcc --version | head -1)"
python3 - "$RAW" "$PROF" "$R" "$DATE" "$HOST" "$CORIO_REV" "$PYVER" "$UV_VER" "$CC_VER" "$NTASKS" >"$OUT/to_thread.md" <<'EOF'
import statistics, sys
raw, prof, reps, date, host, rev, pyver, uvver, ccver, ntasks = sys.argv[1:]

def kv(line):
    return dict(t.split("=", 1) for t in line.split() if "=" in t)

runs = {}
for line in open(raw):
    d = kv(line)
    if "name" in d:
        runs.setdefault((d["name"], d["impl"]), []).append(d)
per = {}
for line in open(prof):
    d = kv(line)
    if "kind" in d:
        per[(d["name"], d["impl"])] = float(d["per_op"])

def vals(name, impl, key):
    return [float(d[key]) for d in runs.get((name, impl), []) if key in d]

def cell(name, impl, key, fmt):
    v = vals(name, impl, key)
    if not v:
        return "—", None
    m = statistics.median(v)
    s = fmt.format(m)
    if len(v) > 1 and m:
        s += f" ±{(max(v) - min(v)) / 2 / m * 100:.0f}%"
    return s, m

def sc(name, impl):
    x = per.get((name, impl))
    return "—" if x is None else f"{x:.2f}"

labels = {"corio": "corio `corio_to_thread`", "libuv": f"libuv {uvver} `uv_queue_work`",
          "python": f"Python {pyver} `loop.run_in_executor`", "python_to_thread": f"Python {pyver} `asyncio.to_thread`"}
rows, med = [], {}
for impl in ("corio", "libuv", "python", "python_to_thread"):
    lat, lm = cell("to_thread_latency", impl, "ns_per_op", "{:,.0f}")
    tp, tm = cell("to_thread_throughput", impl, "calls_per_s", "{:,.0f}")
    med[impl] = (lm, tm)
    rows.append(f"| {labels[impl]} | {lat} | {tp} | {sc('to_thread_latency', impl)} | {sc('to_thread_throughput', impl)} |")

print("# `to_thread` round trips: corio vs libuv vs Python\n")
print(f"- date: {date}; command: `R={reps} bash bench/to_thread.sh`")
print(f"- host: {host}")
print(f"- corio {rev}, {ccver}, Release -O2; libuv {uvver} (Debian); Python {pyver} asyncio (default loop)")
print(f"- {reps} interleaved repetitions (rep → workload → implementation, order rotated each rep), one process per "
      "measurement; each cell is the median, ±x% is half the min–max spread")
print("- 4 worker threads everywhere: `corio_executor_new(4)` set as the loop's default executor, "
      "`UV_THREADPOOL_SIZE=4`, `ThreadPoolExecutor(4)` set as the default executor")
print()
print("| impl | latency ns/op | throughput calls/s | syscalls/op (latency) | syscalls/op (throughput) |")
print("|---|---|---|---|---|")
for r in rows:
    print(r)
print()
c, u = med["corio"], med["libuv"]
if c[0] and u[0] and c[1] and u[1]:
    print(f"corio vs libuv: latency {u[0] / c[0]:.2f}× (libuv / corio, > 1: corio faster), "
          f"throughput {c[1] / u[1]:.2f}× (corio / libuv, > 1: corio faster).")
p = med["python"]
if c[0] and p[0] and c[1] and p[1]:
    print(f"corio vs Python run_in_executor: latency {p[0] / c[0]:.1f}×, throughput {c[1] / p[1]:.1f}×.")
print()
print("## Workloads\n")
print("- **latency**: one task (one request in flight) makes N sequential round trips of an empty function "
      "(returns its argument): submit → a worker runs it → the loop is woken → the task resumes with the result. "
      "libuv submits the next request from the previous one's `after_work` callback. Wall time per round trip.")
print(f"- **throughput**: {ntasks} tasks (libuv: {ntasks} requests in flight, each resubmitted from its "
      f"`after_work`; Python: {ntasks} coroutines under `gather`) make N calls in all; calls per second of wall time.")
print("- **syscalls/op**: `strace -f -c` (all threads) at two run lengths N1 < N2, "
      "(calls(N2) − calls(N1)) / (N2 − N1), so start-up and warm-up cancel out. strace slows every system call, "
      "which changes how often threads find each other asleep, so these are indicative, not exact. "
      "Python is not counted: its GIL hand-overs are futex calls whose number swings with timing under strace.")
print("- N: corio and libuv latency 30,000 and throughput 600,000 calls; Python 10,000 and 30,000 (each run ~0.3–1 s).")
print("- The machine is a shared VM: a round trip is dominated by the futex wake of a sleeping worker and the "
      "eventfd wake of the sleeping loop (each an IPI + a scheduler wake-up on the other core), so latency moves "
      "by tens of percent between runs; compare medians only.")
EOF
cat "$OUT/to_thread.md"
