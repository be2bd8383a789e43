#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/) with clang in build-fuzz and run
# each for FUZZ_SECONDS (default 20) over its seed corpus, after replaying
# the regression inputs of bugs found before.  Fails on any crash, leak,
# timeout or sanitizer report.
#
#   scripts/fuzz.sh [target...]      FUZZ_SECONDS=60 scripts/fuzz.sh fuzz_queue
#
# New inputs libFuzzer finds go to build-fuzz/corpus/<target>/ (scratch),
# not into the seed corpus: copy the interesting ones by hand.  A crash
# leaves crash-* / leak-* / timeout-* in build-fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
TARGETS=("$@")
declare -A MAXLEN=([fuzz_stream_reader]=8192)
declare -A DIR=()   # where a target's corpus and regressions live
MODULE_TARGETS=()
# A module (or an application in apps/) lists its targets in modules/<name>/fuzz/targets, one per line:
# "name [max_len]"; its corpus is modules/<name>/fuzz/corpus/<target>/.
for list in modules/*/fuzz/targets modules/*/*/fuzz/targets apps/*/fuzz/targets; do
  [ -f "$list" ] || continue
  while read -r name len; do
    if [ -z "$name" ] || [ "${name#\#}" != "$name" ]; then continue; fi
    DIR[$name]=$(dirname "$list")
    if [ -n "${len:-}" ]; then MAXLEN[$name]=$len; fi
    MODULE_TARGETS+=("$name")
  done <"$list"
done
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(fuzz_lists fuzz_timer_heap fuzz_queue fuzz_stream_reader ${MODULE_TARGETS[@]+"${MODULE_TARGETS[@]}"})
fi

# Assertions on (-O1 -g without NDEBUG): the heap and list preconditions are asserts.
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCORIO_BUILD_FUZZ=ON -DCORIO_SANITIZE=address \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCORIO_BUILD_TESTS=OFF -DCORIO_BUILD_EXAMPLES=OFF -DCORIO_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"

# detect_stack_use_after_return=0: task stacks are switched by hand (as in the ASan CI leg).
export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

for t in "${TARGETS[@]}"; do
  dir=${DIR[$t]:-tests/fuzz}
  seeds=$dir/corpus/$t
  regress=$dir/regressions/$t
  exe=$(find "$BUILD" -type f -name "$t" -perm -u+x | head -1)
  [ -n "$exe" ] || { echo "$t: not built"; exit 1; }
  work=$BUILD/corpus/$t
  art=$BUILD/artifacts/$t
  mkdir -p "$work" "$art"
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
    echo "== $t: regression inputs"
    "$exe" -runs=0 "$regress"/* >"$art/regress.log" 2>&1 || { cat "$art/regress.log"; echo "$t: a regression input fails"; exit 1; }
  fi
  echo "== $t: ${SECONDS_EACH}s"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb bounds a runaway.
  if ! "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -max_len="${MAXLEN[$t]:-4096}" -print_final_stats=1 -artifact_prefix="$art/" \
      "$work" "$seeds" >"$art/run.log" 2>&1; then
    tail -n 60 "$art/run.log"
    echo "$t: FAILED (artifacts in $art)"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" "$art/run.log" | sed "s/^/   /"
done
echo "fuzz: all targets ran clean"
