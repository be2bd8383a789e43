# to_thread.py - the Python original of examples/to_thread.c.
import asyncio
import time


def blocking_io():
    time.sleep(1)  # a blocking call: would freeze the loop
    return "blocking_io done"


def crunch(n):
    return sum(i * i for i in range(n))


worst_gap = 0.0


async def ticker():
    global worst_gap
    last = time.monotonic()
    for n in range(1, 4):
        await asyncio.sleep(0.25)
        now = time.monotonic()
        worst_gap = max(worst_gap, now - last - 0.25)
        last = now
        print(f"tick {n}")


async def main():
    t0 = time.monotonic()
    print("started main")
    io, total, _ = await asyncio.gather(
        asyncio.to_thread(blocking_io),
        asyncio.to_thread(crunch, 3_000_000),
        ticker())
    print(io)
    print(f"sum of squares below 3000000: {total}")
    elapsed = time.monotonic() - t0
    print(f"the loop never stalled: {'yes' if worst_gap < 0.125 else 'NO'}")
    print(f"ran side by side: {'yes' if elapsed < 1.6 else 'NO'}")
    print("finished main")


asyncio.run(main())
