"""baseline_app: the single-database shop (the "before" of the incident).

One PostgreSQL, one connection pool: checkout, catalog pages and the CEO
dashboard all share them, which is exactly what the Black Friday incident is
about. Run it with ``python -m baseline_app --port N`` and CQRS_BENCH_DB_DSN set.

With CQRS_BENCH_READ_DSN set too (the ``replica`` system), the same queries
run for pages and reports on a hot standby, through a pool of their own;
checkout and the just-placed order stay on the primary.

With CQRS_BENCH_CACHE_URL set (the ``cache`` system), the two reports are
cached in that Redis for CQRS_BENCH_CACHE_TTL_S seconds, refreshed at expiry
as CQRS_BENCH_CACHE_REFRESH says (``expiry`` or ``single-flight``; see
:mod:`baseline_app.cache`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from baseline_app import queries
from baseline_app.cache import ReportCache
from baseline_app.settings import Settings
from shop.checkout import checkout
from shop.models import CheckoutRequest
from shop.routes import build_app
from shop.server import open_pool, pool_metrics
from shop.views import order_detail, revenue_window, utc_today


class BaselineBackend:
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

        self.pool = pool(settings.dsn, "baseline")
        # reads go to the standby when there is one, else to the one database
        self.reads = self.pool if settings.read_dsn is None else pool(settings.read_dsn, "standby")
        self.cache = (
            None
            if settings.cache_url is None
            else ReportCache(settings.cache_url, settings.cache_ttl_s, settings.cache_refresh)
        )

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        if self.reads is not self.pool:
            await self.reads.open(wait=True, timeout=30)
        if self.cache is not None:
            await self.cache.start()

    async def stop(self) -> None:
        if self.cache is not None:
            await self.cache.stop()
        if self.reads is not self.pool:
            await self.reads.close()
        await self.pool.close()

    async def checkout(
        self, request: CheckoutRequest, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        async with self.pool.connection() as conn:
            return await checkout(conn, request, idempotency_key)

    async def order(self, order_id: int) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            return await order_detail(conn, order_id)

    async def products(
        self, category: str | None, search: str | None, page: int, sort: str
    ) -> dict[str, Any]:
        async with self.reads.connection() as conn:
            return await queries.list_products(conn, category, search, page, sort)

    async def product(self, product_id: int) -> dict[str, Any]:
        async with self.reads.connection() as conn:
            return await queries.product_page(conn, product_id)

    async def user_orders(self, user_id: int, limit: int) -> dict[str, Any]:
        async with self.reads.connection() as conn:
            return await queries.user_orders(conn, user_id, limit)

    async def top_customers(self, limit: int) -> dict[str, Any]:
        if self.cache is None:
            return await self._top_customers(limit)
        return await self.cache.answer(
            "dashboard_customers", str(limit), lambda: self._top_customers(limit)
        )

    async def revenue(self, start: date | None, end: date | None) -> dict[str, Any]:
        if self.cache is None:
            return await self._revenue(start, end)
        return await self.cache.answer(
            "dashboard_revenue", f"{start}:{end}", lambda: self._revenue(start, end)
        )

    async def _top_customers(self, limit: int) -> dict[str, Any]:
        async with self.reads.connection() as conn:
            return await queries.top_customers(conn, limit)

    async def _revenue(self, start: date | None, end: date | None) -> dict[str, Any]:
        async with self.reads.connection() as conn:
            first, last = revenue_window(start, end, await utc_today(conn))
            return await queries.daily_revenue(conn, first, last)

    async def metrics(self) -> dict[str, Any]:
        found = {"pool": pool_metrics(self.pool)}
        if self.reads is not self.pool:
            found["pool_read"] = pool_metrics(self.reads)
        if self.cache is not None:
            found["cache"] = await self.cache.metrics()
        return found

    async def health(self) -> dict[str, Any]:
        return {}


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(BaselineBackend(settings or Settings.from_env()), "cqrs-bench baseline shop")
