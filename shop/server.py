"""Serving plumbing both apps share: body limit, request metrics, pools, uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import select
import time
from collections.abc import Callable
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop.errors import error_response
from shop.metrics import RequestMetrics
from shop.models import MAX_BODY_BYTES

log = logging.getLogger("shopapi")
# Request metrics are keyed by method: an invented method is counted as OTHER, so a
# client cannot grow the table (or Prometheus's series) without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class BodyLimitAndMetrics:
    """ASGI middleware: refuse oversized bodies early, time and count requests per route
    template, and answer any exception nothing else handled as a counted JSON 500 (never
    plain text)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        if length is None:
            # A body without a length (chunked) is read here, up to the limit, before
            # the app sees it; the app then receives it as one message.
            try:
                body = await _read_at_most(receive, MAX_BODY_BYTES)
            except _ClientGone:
                return  # nobody left to answer
            if body is None:
                await _too_large(scope, receive, send)
                return
            receive = _replay(body, receive)
        started = time.perf_counter()
        status_holder: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope.get("path"))
            if "status" in status_holder:
                raise  # the answer has begun: the server can only close the connection
            response = error_response(500, "internal_error", "unexpected error (it was logged)")
            await response(scope, receive, send_wrapper)
        route = scope.get("route")
        name = getattr(route, "path", "unmatched")
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        self.metrics.observe(
            method, name, status_holder.get("status", 0), time.perf_counter() - started
        )


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        422, "body_too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes"
    )
    await response(scope, receive, send)


class _ClientGone(Exception):
    pass


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def pool_metrics(pool: AsyncConnectionPool[Any]) -> dict[str, int]:
    stats = pool.get_stats()
    size = stats.get("pool_size", 0)
    available = stats.get("pool_available", 0)
    return {
        "size": size,
        "max": pool.max_size,
        "in_use": size - available,
        "waiting": stats.get("requests_waiting", 0),
    }


def with_session_options(dsn: str, options: str) -> str:
    """``dsn`` with ``options`` (``-c name=value ...``) added to any it already carries.

    A DSN may name session settings of its own (the cqrs-samedb read models'
    ``search_path``); passing ``options=`` beside it would replace them.
    """
    existing = conninfo_to_dict(dsn).get("options") or ""
    return make_conninfo(dsn, options=f"{existing} {options}".strip())


def open_pool(
    dsn: str, *, min_size: int, max_size: int, timeout: float, name: str
) -> AsyncConnectionPool[Any]:
    return AsyncConnectionPool(
        with_session_options(dsn, "-c timezone=UTC"),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        name=name,
        open=False,
        # UTC sessions whatever the server's zone; a pooled connection is checked
        # before it is lent, so one left dead by a database restart fails no request
        kwargs={"autocommit": True},
        check=check_idle_connection,
    )


async def check_idle_connection(conn: AsyncConnection[Any]) -> None:
    """Raise if a pooled connection is dead, without a round trip when it is not.

    An idle connection's socket has nothing to read unless the server wrote
    something unasked: a notice, or (restart, termination) an error and the
    end of the stream. Only then is the connection pinged, so the common case
    costs one ``poll`` instead of a round trip per request.
    """
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def serve(create_app: Callable[[], FastAPI], description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # the fastest of what uvicorn offers, named so a missing one fails loudly
        loop="uvloop",
        http="httptools",
        # the apps bind loopback behind no proxy: no X-Forwarded-* rewriting on every request
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
