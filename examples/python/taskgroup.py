import asyncio
import errno
import os

async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def fail_after(delay):
    await asyncio.sleep(delay)
    raise OSError(errno.EIO, os.strerror(errno.EIO))

async def slow():
    try:
        await asyncio.sleep(3)
        print("slow() finished")
    except asyncio.CancelledError:
        print("slow() cancelled")
        raise

async def main():
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.TaskGroup() as tg:
        task1 = tg.create_task(
            say_after(1, 'hello'))

        task2 = tg.create_task(
            say_after(2, 'world'))

        print(f"started at {loop.time() - start:.1f} s")

    # The await is implicit when the context manager exits.

    print(f"finished at {loop.time() - start:.1f} s")

    # One child fails: the group cancels the others and reports the error.
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(fail_after(1))
            tg.create_task(slow())
    except* OSError as eg:
        for e in eg.exceptions:
            print(f"{loop.time() - start:.1f} s: group failed: {e.strerror}")

asyncio.run(main())
