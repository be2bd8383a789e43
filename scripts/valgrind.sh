#!/usr/bin/env bash
# Run a subset of the test programs under valgrind memcheck: no errors, no leaks.
set -euo pipefail
BUILD=${1:-build}
command -v valgrind >/dev/null || { echo "valgrind: not installed, installing"; apt-get install -y -qq valgrind >/dev/null; }
fail=0; n=0
# Every module's and application's tests too (modules/<name>/tests/ builds to $BUILD/modules/<name>/tests/, apps/<name>/tests/ likewise).
module_tests=$(cd "$BUILD" 2>/dev/null && find modules apps -path '*/tests/test_*' -type f -perm -u+x 2>/dev/null | sort || true)
for t in $module_tests test_smoke test_loop test_task test_future test_gather test_taskgroup test_timeout test_wait_for test_lock test_condition test_queue test_io test_close test_bad_input test_executor test_net test_stream test_protocol test_transport test_agen test_task_values test_contextvars test_sendfile test_buffered_protocol; do
    case $t in modules/* | apps/*) exe="$BUILD/$t" ;; *) exe="$BUILD/tests/$t" ;; esac
    [ -x "$exe" ] || continue
    n=$((n+1))
    if CORIO_TEST_BULK_MIB=16 CORIO_TEST_CASE_SECONDS=900 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "$exe" >"$BUILD/valgrind-${t//\//_}.log" 2>&1; then
        echo "valgrind ok   $t"
    else
        echo "valgrind FAIL $t"; tail -40 "$BUILD/valgrind-${t//\//_}.log"; fail=$((fail+1))
    fi
done
echo "$((n-fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
