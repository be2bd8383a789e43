import asyncio

async def eternity():
    # Sleep for one hour
    await asyncio.sleep(3600)
    print('yay!')

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Wait for at most 1 second
    try:
        await asyncio.wait_for(eternity(), timeout=1.0)
    except TimeoutError:
        print('timeout!')
    print(f"finished at {loop.time() - start:.1f} s")

asyncio.run(main())
