import asyncio

async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    print(f"started at {loop.time() - start:.1f} s")

    await say_after(1, 'hello')
    await say_after(2, 'world')

    print(f"finished at {loop.time() - start:.1f} s")

asyncio.run(main())
