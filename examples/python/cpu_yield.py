import asyncio

CHUNK = 250_000

async def heartbeat():
    beats = 0
    while True:
        beats += 1
        print(f"heartbeat {beats}")
        await asyncio.sleep(0)

async def crunch(chunks):
    total = 0
    for chunk in range(chunks):
        for i in range(chunk * CHUNK, (chunk + 1) * CHUNK):
            total += i * i
        print(f"crunch: chunk {chunk} done")
        await asyncio.sleep(0)  # let the other tasks run
    return total

async def main():
    hb = asyncio.create_task(heartbeat())
    total = await crunch(4)
    print(f"sum of squares below {4 * CHUNK}: {total}")
    hb.cancel()
    try:
        await hb
    except asyncio.CancelledError:
        print("heartbeat stopped")

asyncio.run(main())
