#!/usr/bin/env python3
"""A slow link to a store, for measuring what a far object store costs
(docs/scale-out-research.md, increment 8): forwards TCP connections from
127.0.0.1:LISTEN to 127.0.0.1:TARGET, every byte of every connection
sharing MBPS megabytes a second in each direction, each read held DELAY_MS
before it is forwarded (a round trip's latency, roughly).

    bench/slow-link.py LISTEN TARGET [MBPS [DELAY_MS]]

e.g. `bench/slow-link.py 39300 39200 100 10 &` and a pool file whose
COMBSTORE_S3_ENDPOINT is http://127.0.0.1:39300: a store 100 MB/s and about
20 ms away. Not for tests: a tool for measurements by hand.
"""
import asyncio
import sys
import time

LISTEN, TARGET = int(sys.argv[1]), int(sys.argv[2])
RATE = float(sys.argv[3] if len(sys.argv) > 3 else 100) * 1e6
DELAY = float(sys.argv[4] if len(sys.argv) > 4 else 10) / 1e3


class Bucket:
    """Bytes a direction may send: RATE a second, shared by connections."""

    def __init__(self):
        self.free_at = time.monotonic()

    async def take(self, n):
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + n / RATE
        if self.free_at > now:
            await asyncio.sleep(self.free_at - now)


UP, DOWN = Bucket(), Bucket()


async def pipe(reader, writer, bucket):
    """Forwards what `reader` reads, each piece DELAY after it was read
    (pieces in flight meanwhile: latency, not a cap on throughput)."""
    queue = asyncio.Queue()

    async def read():
        try:
            while data := await reader.read(256 << 10):
                await queue.put((time.monotonic() + DELAY, data))
        except ConnectionError:
            pass
        await queue.put((0, b""))

    feeder = asyncio.create_task(read())
    try:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0, due - time.monotonic()))
            await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        feeder.cancel()
    finally:
        writer.close()


async def serve(client_r, client_w):
    try:
        store_r, store_w = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pipe(client_r, store_w, UP), pipe(store_r, client_w, DOWN))


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", LISTEN)
    async with server:
        await server.serve_forever()


asyncio.run(main())
