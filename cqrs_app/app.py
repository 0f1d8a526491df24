"""cqrs_app: the CQRS shop (the "after" of the incident).

Commands (checkout) run on the write database and record an outbox event in
the same transaction; queries read pre-computed read models from a separate
read database, kept up by the projector (``python -m cqrs_app.projector``).
Run with ``python -m cqrs_app --port N`` and CQRS_BENCH_WRITE_DSN /
CQRS_BENCH_READ_DSN set.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cqrs_app import queries
from cqrs_app.commands import CQRS_CHECKOUT
from cqrs_app.settings import Settings
from shop.checkout import checkout
from shop.models import CheckoutRequest
from shop.routes import build_app
from shop.server import open_pool, pool_metrics
from shop.views import order_detail, revenue_window, utc_today

METRICS_TIMEOUT_S = 1.0


class CqrsBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.system = settings.system

        def pool(dsn: str, name: str) -> AsyncConnectionPool[Any]:
            return open_pool(
                dsn,
                min_size=settings.pool_min,
                max_size=settings.pool_max,
                timeout=settings.pool_timeout_s,
                name=name,
            )

        self.write = pool(settings.write_dsn, "cqrs-write")
        self.read = pool(settings.read_dsn, "cqrs-read")

    async def start(self) -> None:
        await self.write.open(wait=True, timeout=30)
        # the read side may be down; commands must still work, so do not wait for it
        await self.read.open(wait=False)

    async def stop(self) -> None:
        await self.read.close()
        await self.write.close()

    async def checkout(
        self, request: CheckoutRequest, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        async with self.write.connection() as conn:
            return await checkout(conn, request, idempotency_key, CQRS_CHECKOUT)

    async def order(self, order_id: int) -> dict[str, Any]:
        async with self.write.connection() as conn:  # the just-placed order: the write side
            return await order_detail(conn, order_id)

    async def products(
        self, category: str | None, search: str | None, page: int, sort: str
    ) -> dict[str, Any]:
        async with self.read.connection() as conn:
            return await queries.list_products(conn, category, search, page, sort)

    async def product(self, product_id: int) -> dict[str, Any]:
        async with self.read.connection() as conn:
            return await queries.product_page(conn, product_id)

    async def user_orders(self, user_id: int, limit: int) -> dict[str, Any]:
        async with self.read.connection() as conn:
            return await queries.user_orders(conn, user_id, limit)

    async def top_customers(self, limit: int) -> dict[str, Any]:
        async with self.read.connection() as conn:
            return await queries.top_customers(conn, limit)

    async def revenue(self, start: date | None, end: date | None) -> dict[str, Any]:
        async with self.read.connection() as conn:
            first, last = revenue_window(start, end, await utc_today(conn))
            return await queries.daily_revenue(conn, first, last)

    async def metrics(self) -> dict[str, Any]:
        status: dict[str, Any]
        try:
            async with (
                self.read.connection(timeout=METRICS_TIMEOUT_S) as read,
                self.write.connection(timeout=METRICS_TIMEOUT_S) as write,
            ):
                status = await queries.projection_status(read, write)
        except (psycopg.Error, PoolTimeout) as exc:  # metrics must answer while a side is down
            status = {"error": type(exc).__name__}
        return {
            "pool": pool_metrics(self.write),
            "pool_read": pool_metrics(self.read),
            "projection": status,
        }

    async def health(self) -> dict[str, Any]:
        return {}


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(CqrsBackend(settings or Settings.from_env()), "cqrs-bench CQRS shop")
