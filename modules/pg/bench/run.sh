#!/usr/bin/env bash
# One interleaved run of the pgbench workloads: corio-pg, asyncpg 0.27,
# psycopg 3.1 (async) and Go pgx v4 (when Debian's golang-go and
# golang-github-jackc-pgx-v4-dev are installed), against one throwaway
# PostgreSQL 15, each workload
# R rounds with the drivers taking turns, so that the machine's load hits
# them alike.  Prints a Markdown table of the median queries/s per driver.
#   bench/run.sh BUILD_DIR [SECONDS=3] [ROUNDS=3] [WORKLOADS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [SECONDS] [ROUNDS] [WORKLOADS...]}
build=$(cd "$build" && pwd) || exit 1 # absolute: go build runs in another folder
secs=${2:-3}; rounds=${3:-3}; shift 3 2>/dev/null || shift $#
workloads=${*:-pg_type generate_series large_object batch oneplusone nopipeline pipeline}
bench=$build/modules/pg/bench/pg_bench
pgx=""
if command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/github.com/jackc/pgx/v4 ]; then
    pgx=$build/modules/pg/bench/pgx_bench
    (cd "$here/pgx" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=${GOCACHE:-/tmp/corio-pg-gocache} \
        go build -o "$pgx" .) || pgx=""
fi
dir=$(mktemp -d /tmp/corio-pg-bench.XXXXXX)
# the server runs with the default environment whatever the drivers get
# (GLIBC_TUNABLES, for instance: see the README)
port=$(env -u GLIBC_TUNABLES "$here/../tests/pg-server.sh" start "$dir" $$) || exit 1
trap 'env -u GLIBC_TUNABLES "$here/../tests/pg-server.sh" stop "$dir"' EXIT
dsn="postgresql://postgres@127.0.0.1:$port/postgres"
out=$(mktemp)
for w in $workloads; do
    for r in $(seq "$rounds"); do
        "$bench" "$dsn" "$w" --duration "$secs" >>"$out"
        /usr/bin/python3 "$here/pg_bench.py" asyncpg "$dsn" "$w" --duration "$secs" >>"$out"
        /usr/bin/python3 "$here/pg_bench.py" psycopg "$dsn" "$w" --duration "$secs" >>"$out"
        [ -z "$pgx" ] || "$pgx" "$dsn" "$w" --duration "$secs" >>"$out"
    done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
order = []
for r in rows:
    if r["workload"] not in order: order.append(r["workload"])
drivers = ("corio-pg", "asyncpg", "psycopg", "pgx")
def wins(w):
    # round by round (the drivers take turns, so round i of each ran close in time)
    a = [r["cpu_us_per_query"] for r in rows if r["workload"] == w and r["driver"] == "corio-pg"]
    b = [r["cpu_us_per_query"] for r in rows if r["workload"] == w and r["driver"] == "asyncpg"]
    return f"{sum(x < y for x, y in zip(a, b))} of {min(len(a), len(b))}"
print("| workload | corio-pg q/s | asyncpg q/s | psycopg q/s | pgx q/s | corio-pg / asyncpg | client CPU µs/query: corio-pg | asyncpg | psycopg | pgx | minor faults/query: corio-pg | asyncpg | psycopg | pgx | rounds corio-pg used less CPU than asyncpg |")
print("|---|" + "---:|" * 15)
for w in order:
    med = {d: statistics.median([r["qps"] for r in rows if r["workload"] == w and r["driver"] == d] or [0]) for d in ("corio-pg", "asyncpg", "psycopg", "pgx")}
    cpu = {d: statistics.median([r["cpu_us_per_query"] for r in rows if r["workload"] == w and r["driver"] == d] or [0]) for d in ("corio-pg", "asyncpg", "psycopg", "pgx")}
    flt = {d: statistics.median([r.get("minflt_per_query", 0) for r in rows if r["workload"] == w and r["driver"] == d] or [0]) for d in drivers}
    ratio = med["corio-pg"] / med["asyncpg"] if med["asyncpg"] else float("nan")
    print(f"| {w} | {med['corio-pg']:.0f} | {med['asyncpg']:.0f} | {med['psycopg']:.0f} | {med['pgx']:.0f} | {ratio:.2f}x | {cpu['corio-pg']:.1f} | {cpu['asyncpg']:.1f} | {cpu['psycopg']:.1f} | {cpu['pgx']:.1f} | "
          + " | ".join(f"{flt[d]:.2f}" for d in drivers) + " | " + wins(w) + " |")
PY
rm -f "$out"
