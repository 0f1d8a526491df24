"""The lean HTTP client of ``calibrate checkout``, against real servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
import uvloop

from harness.calibrate.checkout import drive_app
from harness.calibrate.lean_http import LeanClient, LeanHttpError
from harness.seed.spec import DatasetSpec
from harness.stack.services import PythonService

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _with_server(handler: Handler, body: Callable[[int], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await body(port)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def test_posts_json_and_reuses_one_connection() -> None:
    connections = []
    seen = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        try:
            while True:
                seen.append(orjson.loads(await _read_request(reader)))
                answer = b'{"ok":true}'
                writer.write(
                    b"HTTP/1.1 201 Created\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer)
                )
        except asyncio.IncompleteReadError:
            pass  # the client closed its connection
        finally:
            writer.close()

    async def body(port: int) -> None:
        async with LeanClient("127.0.0.1", port) as client:
            for n in range(3):
                response = await client.post_json("/checkout", {"n": n})
                assert (response.status, orjson.loads(response.body)) == (201, {"ok": True})

    asyncio.run(_with_server(echo, body))
    assert seen == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len(connections) == 1  # keep-alive: one connection for all three


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "chunked"),
        (b"HTTP/1.1 200 OK\r\n\r\n{}", "no content-length"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n{}", "IncompleteReadError"),
    ],
    ids=["chunked", "no-length", "not-http", "cut-short"],
)
def test_an_answer_it_cannot_read_is_an_error_not_a_result(answer: bytes, problem: str) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def body(port: int) -> None:
        async with LeanClient("127.0.0.1", port) as client:
            with pytest.raises(LeanHttpError, match=problem):
                await client.post_json("/checkout", {})

    asyncio.run(_with_server(reply, body))


def test_no_answer_in_time_is_an_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
            await asyncio.sleep(5)
        finally:
            writer.close()

    async def body(port: int) -> None:
        async with LeanClient("127.0.0.1", port, timeout_s=0.2) as client:
            with pytest.raises(LeanHttpError, match=r"no answer within 0\.2 s"):
                await client.post_json("/checkout", {})

    asyncio.run(_with_server(silent, body))


def test_a_refused_connection_is_an_error() -> None:
    async def refused() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with LeanClient("127.0.0.1", port) as client:
            with pytest.raises(LeanHttpError, match="ConnectionRefusedError"):
                await client.post_json("/checkout", {})

    asyncio.run(refused())


def test_the_checkout_driver_accounts_for_every_request_against_a_real_server(
    tmp_path: Path,
) -> None:
    """Against the constant-latency server: all scheduled, all answered, timed above its delay."""
    server = PythonService(
        name="constant-latency server",
        module="harness.calibrate.constant_server",
        log_file=tmp_path / "server.log",
        args=("--latency-ms", "5"),
        health_path="/health",
    )
    with server:
        result = uvloop.run(
            drive_app(server.url, DatasetSpec(users=1, products=1, orders=0), 50, 2)
        )
    summary = result.summary()
    assert (summary["scheduled"], summary["ok"], summary["failed"]) == (100, 100, 0)
    assert len(result.lag_ms) == 100
    assert min(result.latencies_ms) >= 5.0  # never below the server's own delay
    assert all(
        total >= sent for total, sent in zip(result.latencies_ms, result.from_send_ms, strict=True)
    )
