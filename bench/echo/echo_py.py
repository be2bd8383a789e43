"""echo_py.py asyncio|uvloop PORT - Python echo server for bench/echo:
asyncio streams (start_server, reader.read / writer.write / drain), on the
default loop or on uvloop.  SIGTERM or SIGINT: exit 0."""
import asyncio
import signal
import sys


async def handle(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set_result, None)
    async with server:
        await stop


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(port))
    sys.exit(0)
