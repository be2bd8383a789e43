import asyncio

async def job(name, delay):
    await asyncio.sleep(delay)
    print(f"{name} done")
    return delay

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    fast = asyncio.create_task(job("fast", 1))
    slow = asyncio.create_task(job("slow", 3))

    done, pending = await asyncio.wait({fast, slow}, return_when=asyncio.FIRST_COMPLETED)
    print(f"{loop.time() - start:.1f} s: {len(done)} done, {len(pending)} pending")

    done, pending = await asyncio.wait(pending, timeout=1)
    print(f"{loop.time() - start:.1f} s: {len(done)} done, {len(pending)} pending")

    done, pending = await asyncio.wait(pending)
    print(f"{loop.time() - start:.1f} s: {len(done)} done, {len(pending)} pending")
    print(f"fast returned {fast.result()}, slow returned {slow.result()}")

asyncio.run(main())
