import asyncio

N = 5

async def some_coro(param):
    await asyncio.sleep(0.1 * (N - param))
    print(f"task {param} done")
    return param * param

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(N):
        tasks.append(asyncio.create_task(some_coro(param=i)))
    results = [await task for task in tasks]
    print("results:", *results)
    print(f"finished at {loop.time() - start:.1f} s")

asyncio.run(main())
