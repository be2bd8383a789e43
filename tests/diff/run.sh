#!/bin/sh
# The differential test: random programs run under Python 3.13's asyncio and
# over corio, traces compared.
#
#   run.sh SCHED_C        SEEDS seeds (default 300) from FIRST (default 1),
#                         LEVEL (1-5, default 4: which ops, see sched_gen.py)
#
# Prints the first differing seed with the program and both traces and
# exits 1; exits 0 when every trace is equal; 77 when no Python 3.13 is
# found (the DSL needs 3.13: Queue.shutdown, QueueShutDown, 3.13's
# uncancel).  Seeds whose program is saved in known/ (known/seed-N.prog)
# are corio differences already reported: they are run, and a difference
# there is printed as KNOWN DIFF, never silently passed over.
set -u
here=$(cd "$(dirname "$0")" && pwd)
sched_c=${1:?usage: run.sh SCHED_C}
SEEDS=${SEEDS:-300}
FIRST=${FIRST:-1}
LEVEL=${LEVEL:-4}

# Python 3.13, as tests/examples_test.sh finds it: pyenv's 3.13.0, else a
# python3.13 on PATH, else $PYTHON if it is 3.13 or later.
py=
for cand in "env PYENV_VERSION=3.13.0 python3" "python3.13" "${PYTHON:-python3}"; do
    if $cand -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "SKIP: no Python 3.13 (tried pyenv 3.13.0, python3.13, ${PYTHON:-python3}); the DSL uses 3.13-only asyncio"
    exit 77
fi

# The interpreter itself, not pyenv's shim, which costs a shell each start.
py=$($py -c 'import sys; print(sys.executable)') || exit 1

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

last=$((FIRST + SEEDS - 1))
"$py" "$here/sched_gen.py" --dir "$tmp" "$FIRST" "$SEEDS" "$LEVEL" || exit 1
# All asyncio traces in one Python process (a start per seed took 1 s).
(cd "$tmp" && ls | grep '\.prog$' | sort -n | xargs "$py" "$here/sched_py.py" --batch) 2>"$tmp/py.err" || {
    echo "FAIL: sched_py.py failed"; cat "$tmp/py.err"; exit 1
}
pass=0 known=0
s=$FIRST
while [ "$s" -le "$last" ]; do
    p=$tmp/$s
    "$sched_c" "$p.prog" >"$p.c" 2>"$p.cerr"
    crc=$?
    if [ $crc -eq 3 ]; then
        echo "exit 3" >>"$p.c" # the driver gave up, as sched_py.py marks it
    elif [ $crc -ne 0 ]; then
        echo "FAIL seed $s: sched_c exited $crc"; cat "$p.cerr"
        echo "--- program"; cat "$p.prog"; exit 1
    fi
    if cmp -s "$p.py" "$p.c"; then
        pass=$((pass + 1))
    elif [ -f "$here/known/seed-$s.prog" ]; then
        echo "KNOWN DIFF seed $s (known/seed-$s.prog): corio differs from asyncio here, not fixed yet"
        known=$((known + 1))
    else
        echo "FAIL seed $s (LEVEL=$LEVEL): traces differ"
        echo "--- program"; cat "$p.prog"
        echo "--- diff (< asyncio, > corio)"; diff "$p.py" "$p.c"
        echo "--- asyncio trace"; cat "$p.py"
        echo "--- corio trace"; cat "$p.c"
        exit 1
    fi
    s=$((s + 1))
done
echo "sched_diff: $pass seeds equal, $known KNOWN DIFF, backend ${CORIO_BACKEND:-default}"
[ $known -eq 0 ] || echo "KNOWN DIFF: $known seeds still differ (see tests/diff/known/)"
exit 0
