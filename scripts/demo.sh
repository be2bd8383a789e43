#!/bin/sh
# Build the examples and run them with the real clock, showing how long
# each takes: say_after (awaited one after the other) takes about 3 s,
# say_after_tasks (the same calls as two tasks) about 2 s.
#
#   scripts/demo.sh [BUILD_DIR] [NAME...]
#
# BUILD_DIR (default: $BUILD_DIR, else build) is configured if needed and
# built; NAME... are examples to run (default: all, about 35 s).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [ $# -gt 0 ] && [ -d "$1" ]; then
    build=$(cd "$1" && pwd)
    shift
fi
if [ $# -gt 0 ]; then
    all="$*"
else
    # The tutorial's order, then any example it does not know yet.
    all="hello countdown say_after say_after_tasks taskgroup gather gather_errors"
    all="$all wait_for shield wait as_completed timeout cpu_yield tasks_in_loop"
    for src in "$root"/examples/*.c; do
        name=$(basename "$src" .c)
        case " $all " in *" $name "*) ;; *) all="$all $name" ;; esac
    done
fi

# Build quietly; show the build's output only if it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCORIO_BUILD_EXAMPLES=ON; } >"$log" 2>&1 ||
   ! cmake --build "$build" -j2 --target $all >>"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi

# The examples print through stdio; keep it line-buffered even when this
# script's output goes to a pipe, so that each line shows up when printed.
linebuf=
command -v stdbuf >/dev/null 2>&1 && linebuf="stdbuf -oL"

unset CORIO_VIRTUAL_CLOCK
summary=
for name in $all; do
    exe=$build/examples/$name
    printf '\n== %s  (examples/%s.c, docs/tutorial.md)\n' "$name" "$name"
    t0=$(date +%s%N)
    status=0
    $linebuf "$exe" || status=$?
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    took=$(printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)))
    [ $status -eq 0 ] || took="$took, exit status $status"
    printf -- '-- %s took %s\n' "$name" "$took"
    summary="$summary$(printf '  %-16s %s' "$name" "$took")
"
done

printf '\nWall-clock time of each example (real clock):\n%s' "$summary"
