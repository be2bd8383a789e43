#!/usr/bin/env bash
# bench/file/run.sh - reading a 1 GiB file from tasks (issue 9, file.h):
# corio_file_pread on io_uring, on the executor (epoll loop), and plain
# pread(2) in a loop, in the style of bench/run.sh (interleaved
# repetitions, medians).
#
#   bash bench/file/run.sh              R=5 repetitions, warm and cold (~2 min here)
#   R=3 CACHE=warm bash bench/file/run.sh
#
# Steps:
#  1. builds corio in Release (-O2) into build-bench-file/ (its own
#     directory: bench/run.sh owns build-bench/);
#  2. writes a 1 GiB file of random bytes under $TMPDIR (/tmp), deleted at
#     the end whatever happens;
#  3. for rep in 1..R: for each cache state, block size (4 KiB, 128 KiB) and
#     number of tasks (1, 64): each implementation (order rotated each rep)
#     in a process of its own - one `name=... impl=... mb_s=... cpu_s=...`
#     line each, into bench/out/file_raw.txt;
#  4. medians -> bench/out/file.md (printed at the end).
#
# Cache states: `warm` reads the file once untimed first (page-cache
# reads); `cold` drops the file's pages before the clock starts
# (posix_fadvise DONTNEED, which needs no privileges; each run checks with
# mincore and reports the fraction that was still cached).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build-bench-file"
OUT="$ROOT/bench/out"
R="${R:-5}"
CACHE="${CACHE:-warm cold}"
mkdir -p "$OUT"
RAW="$OUT/file_raw.txt"
LOG="$OUT/file.log"
: >"$RAW"
: >"$LOG"

say() { echo "[file $(date +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# ---- 1. build ---------------------------------------------------------------------
say "building corio (Release, -O2) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF -DCORIO_BUILD_BENCH=ON >>"$LOG" 2>&1
cmake --build "$BUILD" -j2 --target corio_file >>"$LOG" 2>&1
BIN="$BUILD/bench/corio_file"

# io_uring must be usable, or the uring column would silently be epoll.
if ! "$BIN" /proc/self/exe uring 4096 1 warm >/dev/null 2>>"$LOG"; then
    say "io_uring is not usable here (see $LOG): stopping"
    exit 1
fi

# ---- 2. the file --------------------------------------------------------------------
DATA="$(mktemp "${TMPDIR:-/tmp}/corio_file_bench.XXXXXX")"
trap 'rm -f "$DATA"' EXIT
say "writing 1 GiB of random bytes to $DATA"
head -c 1073741824 /dev/urandom >"$DATA"
sync "$DATA"
# Whether the whole page cache could be dropped too (root in a VM: often
# yes; in a container: no).  Only looked at, not done: it would slow down
# everything else on the machine, and the runs drop the file's own pages.
if [ -w /proc/sys/vm/drop_caches ]; then DROP="permitted here, not used (per-file DONTNEED is enough)"; else DROP="not permitted here"; fi

# ---- 3. interleaved repetitions -------------------------------------------------------
run_one() { # REP IMPL BLOCK TASKS CACHE
    local out
    if out="$(timeout 120 "$BIN" "$DATA" "$2" "$3" "$4" "$5" 2>>"$LOG")"; then
        echo "rep=$1 $out" >>"$RAW"
        echo "  $out" >>"$LOG"
    else
        say "FAILED: $2 $3 $4 $5 (rep $1)"
    fi
}

start=$(date +%s)
for rep in $(seq 1 "$R"); do
    say "repetition $rep/$R"
    for cache in $CACHE; do
        for block in 4096 131072; do
            for tasks in 1 64; do
                impls=(uring pool)
                [ "$tasks" = 1 ] && impls+=(plain)
                k=${#impls[@]}
                for ((i = 0; i < k; i++)); do
                    run_one "$rep" "${impls[$(((i + rep - 1) % k))]}" "$block" "$tasks" "$cache"
                done
            done
        done
    done
done
ELAPSED=$(($(date +%s) - start))
say "timed runs took $ELAPSED s"

# ---- 4. report ------------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
HOST="$(uname -srm) / $(nproc) cores / $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo) / $(awk '/MemTotal/{printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
FS="$(df -T "$DATA" | awk 'NR==2{print $2 " on " $1}')"
CORIO_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
CC_VER="$(gcc --version | head -1)"
URING_VER="$(pkg-config --modversion liburing 2>/dev/null || echo '?')"
THREADS=$(($(nproc) + 4 < 32 ? $(nproc) + 4 : 32))
python3 - "$RAW" "$R" "$DATE" "$HOST" "$CORIO_REV" "$CC_VER" "$URING_VER" "$FS" "$DROP" "$THREADS" "$ELAPSED" \
    >"$OUT/file.md" <<'EOF'
import statistics, sys
raw, reps, date, host, rev, ccver, uringver, fs, drop, threads, elapsed = sys.argv[1:]

def kv(line):
    return dict(t.split("=", 1) for t in line.split() if "=" in t)

runs = {}
for line in open(raw):
    d = kv(line)
    if "name" in d:
        runs.setdefault((d["cache"], int(d["block"]), int(d["tasks"]), d["impl"]), []).append(d)

def med(key, cfg, impl, f=float):
    v = [f(d[key]) for d in runs.get(cfg + (impl,), [])]
    return statistics.median(v) if v else None

def spread(key, cfg, impl):
    v = [float(d[key]) for d in runs.get(cfg + (impl,), [])]
    if len(v) < 2:
        return ""
    m = statistics.median(v)
    return f" ±{(max(v) - min(v)) / 2 / m * 100:.0f}%" if m else ""

def cell(cfg, impl):
    mb = med("mb_s", cfg, impl)
    if mb is None:
        return "—", "—"
    cpu = med("cpu_s", cfg, impl)
    return f"{mb:,.0f}{spread('mb_s', cfg, impl)}", f"{cpu:.2f}"

print("# Reading a 1 GiB file from tasks: io_uring vs thread pool vs plain pread\n")
print(f"- date: {date}; command: `R={reps} bash bench/file/run.sh` (timed runs: {elapsed} s)")
print(f"- host: {host}; file system: {fs}")
print(f"- corio {rev}, {ccver}, Release -O2; liburing {uringver}")
print(f"- {reps} interleaved repetitions (rep → cache state → block → tasks → implementation, order rotated "
      "each rep), one process per measurement; each cell is the median, ±x% is half the min–max spread of MB/s")
print(f"- MB/s: 10^6 bytes per second of wall time for the whole 1 GiB. CPU s: user + system time of the "
      f"process (getrusage RUSAGE_SELF: every thread, the executor's {threads} workers and io_uring's kernel "
      "workers included) for the whole file; lower is better")
print()
for cache in ("warm", "cold"):
    cfgs = sorted({k[:3] for k in runs if k[0] == cache}, key=lambda c: (c[1], c[2]))
    if not cfgs:
        continue
    if cache == "warm":
        print("## Warm: page-cache reads\n")
        print("The file was read once, untimed, before the clock started: every block is a copy out of the page "
              "cache, so this measures each way's overhead per call.\n")
    else:
        print("## Cold: the file's pages dropped first\n")
        worst = max(float(d['cached_at_start']) for k, v in runs.items() if k[0] == 'cold' for d in v)
        print("`posix_fadvise(POSIX_FADV_DONTNEED)` on the file before the clock (mincore: at most "
              f"{worst * 100:.1f}% of the file still cached when a run started). "
              f"Dropping the whole page cache: {drop}. The disk is a virtual "
              "one (virtio): a read that misses the guest's page cache may still be served from the host's "
              "memory, so these are device reads through the guest kernel, not measurements of a physical "
              "drive. Sequential ranges get the kernel's readahead on every path.\n")
    print("| block | tasks in flight | io_uring MB/s | io_uring CPU s | thread pool MB/s | thread pool CPU s "
          "| plain pread MB/s | plain pread CPU s | io_uring / pool |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cfg in cfgs:
        u, p, pl = cell(cfg, "uring"), cell(cfg, "pool"), cell(cfg, "plain")
        mu, mp = med("mb_s", cfg, "uring"), med("mb_s", cfg, "pool")
        ratio = f"{mu / mp:.1f}×" if mu and mp else "—"
        blk = f"{cfg[1] // 1024} KiB"
        print(f"| {blk} | {cfg[2]} | {u[0]} | {u[1]} | {p[0]} | {p[1]} | {pl[0]} | {pl[1]} | {ratio} |")
    print()
print("## How it reads\n")
print("- **io_uring**: `corio_file_pread` on a loop forced to io_uring (`CORIO_BACKEND=io_uring`): one "
      "IORING_OP_READ per block. A block the page cache holds is copied inside the loop's `io_uring_enter`, "
      "on the loop's thread; blocks of 256 KiB or more would go to the kernel's workers (IOSQE_ASYNC), "
      "none here.")
print(f"- **thread pool**: `corio_file_pread` on a loop forced to epoll: each block is a `pread` job on the "
      f"loop's default executor ({threads} threads here, min(32, cores + 4)), a round trip through a worker "
      "thread and the loop's wake-up.")
print("- **plain pread**: `pread(2)` in a loop on one thread, no corio: the floor for one in flight.")
print("- **tasks in flight**: T tasks, each reading its own contiguous 1/T of the file from start to end, "
      "one block at a time (64 tasks: 64 reads in flight at once). Plain pread runs with 1 only.")
EOF
cat "$OUT/file.md"
