"""asyncio_to_thread.py - Python's peer of bench/corio_to_thread.c.

loop.run_in_executor(pool, empty, i) on a ThreadPoolExecutor(4), set as
the loop's default executor, so it is also what asyncio.to_thread uses
(to_thread adds a contextvars.copy_context() per call; run_in_executor
is the closer match to corio_run_in_executor and uv_queue_work).

 - latency: one coroutine awaiting N calls in sequence; per round trip.
 - throughput: T coroutines (default 64) each awaiting N/T calls; calls/s.

usage: asyncio_to_thread.py [N] [latency|throughput|both] [T] [--to-thread]
Prints the same `name=... impl=python ...` lines as the corio programs.
"""
import asyncio
import concurrent.futures
import resource
import sys
import time

THREADS = 4


def empty(x):
    return x


def usage_fields():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return f"maxrss_kb={ru.ru_maxrss} minflt={ru.ru_minflt}"


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def make_call(loop, pool, use_to_thread):
    if use_to_thread:
        return lambda x: asyncio.to_thread(empty, x)
    return lambda x: loop.run_in_executor(pool, empty, x)


async def seq(call, start, count):
    s = 0
    for i in range(start, start + count):
        r = await call(i)
        assert r == i
        s += r
    return s


async def latency(call, n, impl):
    await seq(call, 1, 1000)  # warm up
    c0, t0 = cpu_ns(), time.perf_counter_ns()
    await seq(call, 1, n)
    t1, c1 = time.perf_counter_ns(), cpu_ns()
    print(f"name=to_thread_latency impl={impl} n={n} ns_per_op={(t1 - t0) / n:.2f} wall_s={(t1 - t0) / 1e9:.4f} "
          f"{usage_fields()} threads={THREADS} cpu_ns_per_op={(c1 - c0) / n:.1f}")


async def run_tasks(call, n, ntasks):
    counts = [n // ntasks + (1 if k < n % ntasks else 0) for k in range(ntasks)]
    sums = await asyncio.gather(*(seq(call, 1, c) for c in counts))
    assert sum(sums) == sum(c * (c + 1) // 2 for c in counts)


async def throughput(call, n, ntasks, impl):
    await run_tasks(call, ntasks * 20, ntasks)  # warm up
    c0, t0 = cpu_ns(), time.perf_counter_ns()
    await run_tasks(call, n, ntasks)
    t1, c1 = time.perf_counter_ns(), cpu_ns()
    wall = (t1 - t0) / 1e9
    print(f"name=to_thread_throughput impl={impl} n={n} ns_per_op={(t1 - t0) / n:.2f} wall_s={wall:.4f} "
          f"{usage_fields()} threads={THREADS} tasks={ntasks} calls_per_s={n / wall:.0f} "
          f"cpu_ns_per_op={(c1 - c0) / n:.1f}")


async def main(n, mode, ntasks, use_to_thread):
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(THREADS)
    loop.set_default_executor(pool)
    call = make_call(loop, pool, use_to_thread)
    impl = "python_to_thread" if use_to_thread else "python"
    if mode in ("both", "latency"):
        await latency(call, n, impl)
    if mode in ("both", "throughput"):
        await throughput(call, n, ntasks, impl)
    sys.stdout.flush()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(float(args[0])) if args else 20000
    mode = args[1] if len(args) > 1 else "both"
    ntasks = int(args[2]) if len(args) > 2 else 64
    assert mode in ("both", "latency", "throughput") and ntasks > 0
    asyncio.run(main(n, mode, ntasks, "--to-thread" in sys.argv))
