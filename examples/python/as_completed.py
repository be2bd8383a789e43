import asyncio

async def job(delay):
    await asyncio.sleep(delay)
    return delay

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = [asyncio.create_task(job(d)) for d in (3, 1, 2)]
    async for task in asyncio.as_completed(tasks):
        print(f"{loop.time() - start:.1f} s: job({await task}) finished")

asyncio.run(main())
