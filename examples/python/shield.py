import asyncio

async def something():
    await asyncio.sleep(2)
    print("something() finished")
    return 42

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    task = asyncio.create_task(something())
    try:
        async with asyncio.timeout(1):
            res = await asyncio.shield(task)
    except TimeoutError:
        print(f"{loop.time() - start:.1f} s: timed out; something() carries on")
    res = await task
    print(f"{loop.time() - start:.1f} s: result {res}")

asyncio.run(main())
