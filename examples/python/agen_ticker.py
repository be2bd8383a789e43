import asyncio


async def ticker(interval, count):
    """Yield 0, 1, 2, ... every `interval` seconds, `count` times."""
    i = -1
    try:
        for i in range(count):
            await asyncio.sleep(interval)
            yield i
    except GeneratorExit:
        print(f"ticker: closed after tick {i}, cleaning up")
        await asyncio.sleep(0.2)  # cleanup may await
        print("ticker: cleaned up")
        raise


async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    ticks = ticker(0.5, 10)
    async for t in ticks:
        print(f"{loop.time() - start:.1f} s: tick {t}")
        if t == 3:
            break
    await ticks.aclose()
    print(f"{loop.time() - start:.1f} s: done")


asyncio.run(main())
