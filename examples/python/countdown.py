import asyncio

async def countdown():
    loop = asyncio.get_running_loop()
    start = loop.time()
    end_time = start + 5.0
    while True:
        print(f"{loop.time() - start:.1f} s: T-{end_time - loop.time():.0f}")
        if (loop.time() + 1.0) >= end_time:
            break
        await asyncio.sleep(1)

asyncio.run(countdown())
