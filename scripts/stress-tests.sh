#!/usr/bin/env bash
# Run the ctest suite many times, idle and with every core busy, on each
# backend, and count the failures of each test: a check that depends on
# timing rather than behaviour shows up here (issue 22).
#
#   scripts/stress-tests.sh [BUILD_DIR]        (default: build, already built)
#
# Settings (environment):
#   N=20                    runs per backend and mode
#   BACKENDS="io_uring epoll"
#                           io_uring: the default backend (CORIO_BACKEND unset);
#                           anything else is passed as CORIO_BACKEND=<it>
#   MODES="idle loaded"     loaded: one busy loop per core (nproc) while ctest runs
#   JOBS=2                  ctest -j
#   CTEST_ARGS=""           more ctest arguments, e.g. CTEST_ARGS="-R ^test_file"
#   LOG_DIR=<a new temp dir> where the output of every failing run is kept
#
# A quick check: N=3 bash scripts/stress-tests.sh build
# Exits 0 when every run passed, 1 otherwise (2 for bad usage).
set -u

BUILD=${1:-build}
N=${N:-20}
BACKENDS=${BACKENDS:-io_uring epoll}
MODES=${MODES:-idle loaded}
JOBS=${JOBS:-2}
CTEST_ARGS=${CTEST_ARGS:-}

if [ ! -f "$BUILD/CTestTestfile.cmake" ]; then
    echo "stress-tests: $BUILD is not a configured build directory (run make build, or pass one)" >&2
    exit 2
fi
case $N in '' | *[!0-9]*) echo "stress-tests: N must be a number" >&2; exit 2 ;; esac
command -v ctest >/dev/null || { echo "stress-tests: ctest not found" >&2; exit 2; }
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/corio-stress.XXXXXX)}
mkdir -p "$LOG_DIR"

set -m # each background job in a process group of its own

# ---- the load: one busy shell loop per core, killed (by pid) whatever happens ----
load_pids=()
start_load() {
    local cores i
    cores=$(nproc 2>/dev/null || echo 2)
    for ((i = 0; i < cores; i++)); do
        sh -c 'while :; do :; done' &
        load_pids+=("$!")
    done
}
ctest_pid=
stop_load() {
    local p
    # (Only on a signal.)  ctest runs in a process group of its own (set -m):
    # the group goes, with the test programs it started.
    if [ -n "$ctest_pid" ]; then kill -TERM -- "-$ctest_pid" 2>/dev/null; fi
    for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${load_pids[@]}"; do wait "$p" 2>/dev/null; done
    load_pids=()
}
trap 'stop_load' EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM

# ---- bookkeeping ----
declare -A fails      # "<test>|<backend> <mode>" -> failed runs
declare -A runs_bad   # "<backend> <mode>" -> runs with any failure
declare -A runs_done  # "<backend> <mode>" -> runs
tests_seen=()

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

one_run() { # backend mode i
    local backend=$1 mode=$2 i=$3 key="$1 $2" log rc t0 t1 failed name
    log="$LOG_DIR/${backend}-${mode}-${i}.log"
    t0=$(date +%s.%N)
    # In the background, waited for: a signal to this script acts at once
    # (stop_load then ends ctest too) instead of after the run.
    # shellcheck disable=SC2086 # CTEST_ARGS is several words on purpose
    if [ "$backend" = io_uring ]; then
        (cd "$BUILD" && exec env -u CORIO_BACKEND ctest -j"$JOBS" --output-on-failure $CTEST_ARGS) >"$log" 2>&1 &
    else
        (cd "$BUILD" && CORIO_BACKEND=$backend exec ctest -j"$JOBS" --output-on-failure $CTEST_ARGS) >"$log" 2>&1 &
    fi
    ctest_pid=$!
    wait "$ctest_pid"
    rc=$?
    ctest_pid=
    t1=$(date +%s.%N)
    runs_done[$key]=$((${runs_done[$key]:-0} + 1))
    # ctest's summary lists each failed test as "  <n> - <name> (Failed|Timeout|...)".
    failed=$(sed -n '/The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9][0-9]* - \([^ ]*\) (.*/\1/p')
    if [ $rc -ne 0 ] && [ -z "$failed" ]; then failed="(ctest-exit-$rc)"; fi
    if [ -n "$failed" ]; then
        runs_bad[$key]=$((${runs_bad[$key]:-0} + 1))
        for name in $failed; do
            fails["$name|$key"]=$((${fails["$name|$key"]:-0} + 1))
            case " ${tests_seen[*]:-} " in *" $name "*) ;; *) tests_seen+=("$name") ;; esac
        done
        printf '[%-8s %-6s %3d/%d] FAILED (%s s): %s  (log: %s)\n' "$backend" "$mode" "$i" "$N" \
            "$(secs "$t0" "$t1")" "$(tr '\n' ' ' <<<"$failed")" "$log"
    else
        printf '[%-8s %-6s %3d/%d] ok (%s s)\n' "$backend" "$mode" "$i" "$N" "$(secs "$t0" "$t1")"
        rm -f "$log"
    fi
}


echo "stress-tests: $N runs each of: backends [$BACKENDS] x modes [$MODES], ctest -j$JOBS $CTEST_ARGS in $BUILD"
echo "stress-tests: logs of failing runs go to $LOG_DIR"
for mode in $MODES; do
    case $mode in
    idle) ;;
    loaded) start_load; echo "stress-tests: load on: ${#load_pids[@]} busy loops (pids ${load_pids[*]})" ;;
    *) echo "stress-tests: unknown mode $mode (idle, loaded)" >&2; exit 2 ;;
    esac
    for ((i = 1; i <= N; i++)); do
        for backend in $BACKENDS; do
            one_run "$backend" "$mode" "$i"
        done
    done
    [ "$mode" = loaded ] && stop_load
done

# ---- summary ----
echo
echo "==== summary: failed runs / runs ===="
total_bad=0
for mode in $MODES; do
    for backend in $BACKENDS; do
        key="$backend $mode"
        printf '  %-8s %-6s  %d / %d\n' "$backend" "$mode" "${runs_bad[$key]:-0}" "${runs_done[$key]:-0}"
        total_bad=$((total_bad + ${runs_bad[$key]:-0}))
    done
done
if [ ${#tests_seen[@]} -gt 0 ]; then
    echo "==== failures per test ===="
    for name in "${tests_seen[@]}"; do
        line=""
        for mode in $MODES; do
            for backend in $BACKENDS; do
                line+=$(printf '  %s/%s: %d' "$backend" "$mode" "${fails["$name|$backend $mode"]:-0}")
            done
        done
        printf '  %-28s%s\n' "$name" "$line"
    done
    echo "logs: $LOG_DIR"
    exit 1
fi
echo "no failure"
rmdir "$LOG_DIR" 2>/dev/null
exit 0
