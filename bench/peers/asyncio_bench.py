"""asyncio_bench.py - the Python asyncio peer of corio's benchmarks (bench/corio_*.c).

usage: python3 asyncio_bench.py <workload> [N] [S]
  yield     two tasks ping-ponging with await asyncio.sleep(0)   (ns per sleep(0))
  spawn     create_task(empty()) + await, one at a time          (ns per spawn+join)
  sleepers  N tasks in asyncio.sleep(S), then gathered
  timers    N loop.call_later with delays spread over [0, S)      (CPU ns per timer)
  queue     producer/consumer over asyncio.Queue(1)               (ns per message)
Runs on the default event loop (no uvloop).  Prints one line in the format
of bench/bench.h.
"""
import asyncio
import resource
import sys
import time


def usage():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_maxrss, ru.ru_minflt


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def head(name, n, ns_per_op, wall):
    rss, flt = usage()
    v = sys.version_info
    return (f"name={name} impl=python n={n} ns_per_op={ns_per_op:.2f} wall_s={wall:.4f} "
            f"maxrss_kb={rss} minflt={flt} python={v.major}.{v.minor}.{v.micro}")


async def yield_pingpong(n):
    async def yielder(k):
        for _ in range(k):
            await asyncio.sleep(0)

    async def run(k):
        t0 = time.perf_counter_ns()
        await asyncio.gather(yielder(k), yielder(k))
        return time.perf_counter_ns() - t0

    await run(10000)
    d = await run(n)
    print(head("yield", n, d / (2 * n), d / 1e9) + f" yields={2 * n}")


async def empty():
    return 0


async def spawn_join(n):
    for _ in range(10000):
        await asyncio.create_task(empty())
    t0 = time.perf_counter_ns()
    for _ in range(n):
        await asyncio.create_task(empty())
    d = time.perf_counter_ns() - t0
    print(head("spawn_join", n, d / n, d / 1e9))


async def sleepers(n, s):
    rss0, flt0 = usage()

    async def sleeper():
        await asyncio.sleep(s)

    t0 = time.perf_counter_ns()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    t1 = time.perf_counter_ns()
    await asyncio.gather(*tasks)
    d = time.perf_counter_ns() - t0
    rss, flt = usage()
    print(head("sleepers", n, d / n, d / 1e9)
          + f" sleep_s={s:.3f} overhead_s={d / 1e9 - s:.4f} spawn_s={(t1 - t0) / 1e9:.4f}"
          + f" rss_per_task_b={(rss - rss0) * 1024 / n:.0f} minflt_per_task={(flt - flt0) / n:.3f}")


async def timers(n, s):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    fired = 0

    def on_timer():
        nonlocal fired
        fired += 1
        if fired == n:
            done.set_result(None)

    c0 = cpu_ns()
    t0 = time.perf_counter_ns()
    for i in range(n):
        d = ((i * 2654435761) & 0xffffffff) / 4294967296.0 * s
        loop.call_later(d, on_timer)
    t1 = time.perf_counter_ns()
    await done
    c1 = cpu_ns()
    d = time.perf_counter_ns() - t0
    print(head("timers", n, (c1 - c0) / n, d / 1e9)
          + f" spread_s={s:.3f} schedule_s={(t1 - t0) / 1e9:.4f} cpu_s={(c1 - c0) / 1e9:.4f}")


async def queue(n):
    async def run(k):
        q = asyncio.Queue(1)

        async def producer():
            for i in range(k):
                await q.put(i + 1)

        async def consumer():
            total = 0
            for _ in range(k):
                total += await q.get()
            assert total == k * (k + 1) // 2

        t0 = time.perf_counter_ns()
        await asyncio.gather(consumer(), producer())
        return time.perf_counter_ns() - t0

    await run(10000)
    d = await run(n)
    print(head("queue", n, d / n, d / 1e9) + " maxsize=1")


def main():
    if len(sys.argv) < 2:
        print("usage: asyncio_bench.py yield|spawn|sleepers|timers|queue [N] [S]", file=sys.stderr)
        sys.exit(2)
    w = sys.argv[1]
    n = int(float(sys.argv[2])) if len(sys.argv) > 2 else 1000000
    s = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    if w == "yield":
        coro = yield_pingpong(n)
    elif w == "spawn":
        coro = spawn_join(n)
    elif w == "sleepers":
        coro = sleepers(n, s)
    elif w == "timers":
        coro = timers(n, s)
    elif w == "queue":
        coro = queue(n)
    else:
        print("unknown workload", w, file=sys.stderr)
        sys.exit(2)
    asyncio.run(coro)


if __name__ == "__main__":
    main()
