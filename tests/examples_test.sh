#!/bin/sh
# Run the example programs and compare their output with examples/expected/.
#
#   examples_test.sh BINDIR        every example in BINDIR, with the virtual clock
#                                  (EXAMPLES_EMULATOR, if set, prefixes each run: qemu for cross builds)
#                                  (CORIO_VIRTUAL_CLOCK=1: instant and deterministic)
#   examples_test.sh --real BINDIR the same with the real clock (takes about 35 s)
#   examples_test.sh --python      the Python originals in examples/python/, to check
#                                  that the expected files say what asyncio does
#                                  (real clock; $PYTHON, default python3 with PYENV_VERSION=3.13.0)
#
# A run passes when it exits 0, writes nothing to stderr (the library
# reports leaked tasks and misuse there) and its stdout equals
# examples/expected/<name>.txt byte for byte.  Every examples/*.c must have
# an expected file, so that a new example cannot go untested.
set -u

# Examples this script does not run, with the reason; each is tested by a
# program of its own instead.  Space-separated names, no .c.
#   graceful_shutdown  runs until SIGTERM: tests/test_signal.c drives it
#   echo_server        a network server (PORT argument): tests/test_stream.c runs it
#   echo_client        needs a server (HOST PORT): tests/test_stream.c runs it
#   echo_server_proto  a network server (PORT argument): tests/test_stream.c runs it
#   procpool_squares   real processes and real sleeps: tests/test_procpool.c runs it
#   chat_server        a network server (PORT argument): tests/test_chat.c runs it
#   survey             needs a HOSTFILE and web servers: tests/test_survey.c runs it
SKIP="graceful_shutdown echo_server echo_client echo_server_proto procpool_squares chat_server survey"

here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../examples
mode=virtual
case ${1-} in
--real) mode=real; shift ;;
--python) mode=python; shift ;;
esac
if [ "$mode" != python ] && [ $# -ne 1 ]; then
    echo "usage: $0 [--real] BINDIR | $0 --python" >&2
    exit 2
fi
bindir=${1-}
: "${PYTHON:=python3}"
[ "$mode" = python ] && : "${PYENV_VERSION:=3.13.0}" && export PYENV_VERSION

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0 fail=0
for src in "$examples"/*.c; do
    name=$(basename "$src" .c)
    case " $SKIP " in
    *" $name "*)
        echo "skip $name"
        continue
        ;;
    esac
    expected=$examples/expected/$name.txt
    if [ ! -f "$expected" ]; then
        echo "FAIL $name: no $expected"
        fail=$((fail + 1))
        continue
    fi
    case $mode in
    # shellcheck disable=SC2086 # EXAMPLES_EMULATOR may be several words
    virtual) CORIO_VIRTUAL_CLOCK=1 timeout 10 ${EXAMPLES_EMULATOR:-} "$bindir/$name" >"$tmp/out" 2>"$tmp/err" ;;
    # shellcheck disable=SC2086
    real) env -u CORIO_VIRTUAL_CLOCK timeout 30 ${EXAMPLES_EMULATOR:-} "$bindir/$name" >"$tmp/out" 2>"$tmp/err" ;;
    python) timeout 30 "$PYTHON" "$examples/python/$name.py" >"$tmp/out" 2>"$tmp/err" ;;
    esac
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: exit status $rc"
    elif [ -s "$tmp/err" ]; then
        echo "FAIL $name: wrote to stderr"
    elif ! cmp -s "$expected" "$tmp/out"; then
        echo "FAIL $name: output differs from $expected"
        diff -u "$expected" "$tmp/out" | sed 's/^/    /'
    else
        echo "ok   $name"
        pass=$((pass + 1))
        continue
    fi
    sed 's/^/    stderr: /' "$tmp/err"
    fail=$((fail + 1))
done
case $mode in
virtual) what="C, virtual clock" ;;
real) what="C, real clock" ;;
python) what="Python originals" ;;
esac
echo "$pass passed, $fail failed ($what)"
[ $fail -eq 0 ]
