#!/usr/bin/env python3
"""echo_asyncio_tls.py PORT CERT KEY - the TLS echo benchmark's asyncio
peer: asyncio streams with ssl=, every byte echoed back.  SIGTERM: exit 0."""
import asyncio
import signal
import ssl
import sys


async def handle(reader, writer):
    try:
        while data := await reader.read(16384):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    writer.close()


async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), ssl=ctx)
    print("listening on 127.0.0.1:%d (asyncio ssl)" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set)
    await stop.wait()


asyncio.run(main())
