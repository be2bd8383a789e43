#!/usr/bin/python3
"""The same workloads as pg_bench.c, with asyncpg or psycopg 3 (async).

    pg_bench.py asyncpg|psycopg DSN WORKLOAD [--duration S] [--concurrency N] [--queries N]

Workloads are MagicStack/pgbench's queries/1,2,3,6,7 (same SQL and
arguments) and pipeline/nopipeline (SELECT 1+1 over one connection;
asyncpg has no pipeline API, so there it is a plain loop too).  Rows are
fetched into Python objects as each driver does by default.  Prints one
JSON line like pg_bench.c.
"""
import asyncio, json, resource, sys, time

QUERIES = {
    "pg_type": ("select typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred, "
                "typisdefined, typdelim, typrelid, typelem, typarray from pg_type where typtypmod = $1 "
                "and typisdefined = $2", [-1, True]),
    "generate_series": ("SELECT i FROM generate_series(1, $1) AS i", [1000]),
    "large_object": ("SELECT * FROM _bytes", []),
    "oneplusone": ("SELECT 1+1", []),
    "nopipeline": ("SELECT 1+1", []),
    "pipeline": ("SELECT 1+1", []),
    "batch": ("INSERT INTO _test (a, b, c, d, e, f, g) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              [[10, 11, 10, "TESTTESTTEST", 10.333, 12341234, "123412341234"]] * 1000),
}
SETUP = {
    "large_object": ["DROP TABLE IF EXISTS _bytes", "CREATE TABLE _bytes(b bytea)",
                     "INSERT INTO _bytes(b) (SELECT repeat('a', 1000)::bytea FROM generate_series(1, 100))"],
    "batch": ["DROP TABLE IF EXISTS _test",
              "CREATE TABLE _test(a int, b int, c int, d text, e float, f int, g text)"],
}
TEARDOWN = {"large_object": ["DROP TABLE _bytes"], "batch": ["DROP TABLE _test"]}


def psql(q):  # psycopg takes %s placeholders
    import re
    return re.sub(r"\$\d+", "%s", q)


async def run(driver, dsn, workload, duration, concurrency, queries=0):
    sql, args = QUERIES[workload]
    if driver == "asyncpg":
        import asyncpg
        connect = lambda: asyncpg.connect(dsn)
        async def one(c):
            if workload == "batch":
                await c.executemany(sql, args); return 1000
            if workload == "pipeline":
                n = 0
                for _ in range(100):
                    n += len(await c.fetch(sql, *args))
                return n
            return len(await c.fetch(sql, *args))
        async def setup(c):
            for q in SETUP.get(workload, []): await c.execute(q)
        async def teardown(c):
            for q in TEARDOWN.get(workload, []): await c.execute(q)
        close = lambda c: c.close()
    else:
        import psycopg
        connect = lambda: psycopg.AsyncConnection.connect(dsn, autocommit=True)
        q = psql(sql)
        async def one(c):
            async with c.cursor() as cur:
                if workload == "batch":
                    await cur.executemany(q, args); return 1000
                if workload == "pipeline":
                    n = 0
                    async with c.pipeline():
                        curs = []
                        for _ in range(100):
                            cu = c.cursor(); curs.append(cu); await cu.execute(q, args)
                    for cu in curs:
                        n += len(await cu.fetchall()); await cu.close()
                    return n
                await cur.execute(q, args or None)
                return len(await cur.fetchall())
        async def setup(c):
            for s in SETUP.get(workload, []): await c.execute(s)
        async def teardown(c):
            for s in TEARDOWN.get(workload, []): await c.execute(s)
        close = lambda c: c.close()

    if workload in ("pipeline", "nopipeline"):
        concurrency = 1
    admin = await connect()
    await setup(admin)
    lat, counts = [], {"q": 0, "rows": 0}
    end = time.monotonic() + duration

    async def worker():
        c = await connect()
        while (counts["q"] < queries) if queries else (time.monotonic() < end):
            t0 = time.monotonic()
            rows = await one(c)
            dt = time.monotonic() - t0
            k = 100 if workload == "pipeline" else 1
            counts["q"] += k
            counts["rows"] += rows
            lat.extend([dt] * k)
        await close(c)

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    def minflt():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0, cpu0, flt0 = time.monotonic(), cpu(), minflt()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    secs, cpu_used, flt = time.monotonic() - t0, cpu() - cpu0, minflt() - flt0
    await teardown(admin)
    await close(admin)
    lat.sort()
    mean = sum(lat) / len(lat) if lat else 0
    p99 = lat[int((len(lat) - 1) * 0.99)] if lat else 0
    print(json.dumps({"driver": driver, "workload": workload, "concurrency": concurrency, "queries": counts["q"],
                      "rows": counts["rows"], "seconds": round(secs, 3), "qps": round(counts["q"] / secs, 1),
                      "rows_per_s": round(counts["rows"] / secs, 1), "mean_ms": round(mean * 1e3, 3),
                      "p99_ms": round(p99 * 1e3, 3),
                      "cpu_us_per_query": round(cpu_used * 1e6 / counts["q"], 2) if counts["q"] else 0,
                      "minflt_per_query": round(flt / counts["q"], 3) if counts["q"] else 0}))


def main():
    a = sys.argv[1:]
    driver, dsn, workload = a[0], a[1], a[2]
    opts = dict(zip(a[3::2], a[4::2]))
    asyncio.run(run(driver, dsn, workload, float(opts.get("--duration", 5)), int(opts.get("--concurrency", 10)),
                    int(opts.get("--queries", 0))))


main()
