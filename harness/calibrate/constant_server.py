"""A shop that answers every request after exactly the same delay: a yardstick for the driver.

``python -m harness.calibrate.constant_server --port P --latency-ms 40`` serves
``POST /checkout`` (``{"order_id", "status"}``) and any ``GET`` (``{}``) over
HTTP/1.1 keep-alive on 127.0.0.1, each after ``--latency-ms``. Anything the
load generator reports above that delay is the generator's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json

_ORDERS = itertools.count(1)


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay_s)
            body = (
                json.dumps({"order_id": next(_ORDERS), "status": "paid"})
                if method == "POST"
                else "{}"
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int, latency_ms: float) -> None:
    delay_s = latency_ms / 1000
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, delay_s), host="127.0.0.1", port=port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency_ms))  # not uvloop: its timers can fire early


if __name__ == "__main__":
    main()
