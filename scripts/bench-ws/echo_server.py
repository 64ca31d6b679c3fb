"""Echo server for scripts/bench-ws.sh: the Python `websockets` (asyncio) peer.

usage: python echo_server.py HOST PORT
Echoes every message back as it came (text as text, binary as binary).
Compression is off (the load generator does not offer it anyway) and the
message limit is raised to 1 MiB, so 64 KiB messages pass.
"""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(host, port):
    async with serve(
        echo, host, port, compression=None, max_size=2**20, backlog=1024
    ) as server:
        print(f"python websockets echo server on ws://{host}:{port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
