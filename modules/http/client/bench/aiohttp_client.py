#!/usr/bin/env python3
"""aiohttp_client.py URL N C - N GETs with C in flight over one aiohttp
ClientSession (the reference bench_client is measured against)."""
import asyncio
import sys
import time

import aiohttp


async def main(url, n, c):
    left = n

    async def worker(session):
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url) as r:
                await r.read()

    conn = aiohttp.TCPConnector(limit=max(c, 100))
    async with aiohttp.ClientSession(connector=conn) as s:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(c)))
        dt = time.perf_counter() - t0
    print("aiohttp c=%d n=%d: %.3f s, %.0f req/s" % (c, n, dt, n / dt))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
