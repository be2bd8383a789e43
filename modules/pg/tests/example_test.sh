#!/usr/bin/env bash
# examples/pg_users against a throwaway server: the expected line and exit
# 0; a bad DSN and an unreachable server: one line on stderr and exit 1.
set -uo pipefail
exe=$1; server=$2
dir=$(mktemp -d /tmp/corio-pg-ex.XXXXXX)
port=$("$server" start "$dir" $$) || { rc=$?; rm -rf "$dir"; [ $rc -eq 77 ] && exit 77; exit 1; }
trap '"$server" stop "$dir"' EXIT
fail=0
out=$("$exe" "postgresql://postgres@127.0.0.1:$port/postgres" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "Record(id=1, name='Bob', dob=1984-03-01)" ]; then echo "ok   pg_users"; else echo "FAIL pg_users: rc=$rc out=$out"; fail=1; fi
out=$("$exe" "host=localhost port=$port user=postgres dbname=postgres" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "Record(id=1, name='Bob', dob=1984-03-01)" ]; then echo "ok   pg_users (key=value, localhost)"; else echo "FAIL pg_users kv: rc=$rc out=$out"; fail=1; fi
for dsn in "postgresql://postgres@127.0.0.1:1/postgres" "not a dsn" "postgresql://postgres@127.0.0.1:$port/nosuchdb" "postgresql://postgres@no-such-host.invalid/postgres"; do
    err=$("$exe" "$dsn" 2>&1 >/dev/null); rc=$?
    lines=$(printf '%s\n' "$err" | wc -l)
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && [ -n "$err" ]; then echo "ok   pg_users '$dsn': $err"; else echo "FAIL pg_users '$dsn': rc=$rc err=$err"; fail=1; fi
done
exit $fail
