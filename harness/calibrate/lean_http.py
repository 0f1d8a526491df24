"""The lightest HTTP/1.1 client that can measure the app: keep-alive sockets, no framework.

``calibrate checkout`` compares the app with pgbench, a C client whose own
cost is a few microseconds; a general-purpose client (httpx: its transport,
pool, header models and anyio) costs milliseconds per request here, which
would be charged to the app. This one writes the request bytes on an idle
keep-alive connection and reads the answer by its ``content-length``. It
speaks only what the shop answers (``content-length`` bodies, no chunked
encoding) and says so when it meets anything else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import orjson


class LeanHttpError(Exception):
    """The request got no usable answer (connection refused or closed, bad answer, timeout)."""


@dataclass(frozen=True)
class LeanResponse:
    status: int
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[LeanResponse, bool]:
        """The answer, and whether the connection may be used again."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise LeanHttpError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        length = None
        keep_alive = True
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                raise LeanHttpError("chunked answers are not supported by the lean client")
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        if length is None:
            raise LeanHttpError("the answer has no content-length")
        body = await self.reader.readexactly(length) if length else b""
        return LeanResponse(int(parts[1]), body), keep_alive

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """POSTs JSON to one loopback server over a pool of keep-alive connections.

    A request takes an idle connection or opens one (up to ``max_connections``
    in all, after which it waits for one to come back); a connection that
    failed or that the server closes is dropped, never reused.
    """

    def __init__(
        self, host: str, port: int, *, timeout_s: float = 5.0, max_connections: int = 500
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()

    async def post_json(self, path: str, payload: object) -> LeanResponse:
        body = orjson.dumps(payload)
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout_s):
                    connection = self._idle.pop() if self._idle else await self._connect()
                    try:
                        response, reusable = await connection.exchange(request)
                    except BaseException:
                        self._drop(connection)
                        raise
            except TimeoutError as exc:
                raise LeanHttpError(f"no answer within {self.timeout_s:g} s") from exc
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise LeanHttpError(f"{type(exc).__name__}: {exc}") from exc
            except ValueError as exc:  # a content-length that is not a number
                raise LeanHttpError(f"bad answer: {exc}") from exc
            if reusable:
                self._idle.append(connection)
            else:
                self._drop(connection)
            return response

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()
