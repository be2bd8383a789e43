import asyncio
import errno
import os

async def work(name, delay):
    await asyncio.sleep(delay)
    print(f"{name} done")
    return delay

async def fail(name, delay):
    await asyncio.sleep(delay)
    print(f"{name} fails")
    raise OSError(errno.EIO, os.strerror(errno.EIO))

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    a = asyncio.create_task(work("A", 1))
    b = asyncio.create_task(fail("B", 2))
    c = asyncio.create_task(work("C", 3))

    # Without return_exceptions the first error comes back at once...
    try:
        await asyncio.gather(a, b, c)
    except OSError as e:
        print(f"{loop.time() - start:.1f} s: gather failed: {e.strerror}")

    # ...and the other tasks keep running.  With it, gather waits for all.
    results = await asyncio.gather(a, b, c, return_exceptions=True)
    print(f"{loop.time() - start:.1f} s: gather collected:")
    for name, r in zip("ABC", results):
        if isinstance(r, Exception):
            print(f"  {name}: error: {r.strerror}")
        else:
            print(f"  {name}: {r}")

asyncio.run(main())
