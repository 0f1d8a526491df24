"""The HTTP API of DESIGN.md, once, over a backend each system implements.

Both systems publish the same routes, validation and error shapes; they
differ only in where each answer comes from (their ``ShopBackend``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal, Protocol

from fastapi import FastAPI, Header, Path, Query, Response
from pydantic import BeforeValidator

from shop.errors import ApiError, OrjsonResponse, install_error_handlers
from shop.metrics import CONTENT_TYPE, RequestMetrics
from shop.models import (
    BIGINT_MAX,
    MAX_DASHBOARD_LIMIT,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
    MAX_REVENUE_DAYS,
    CheckoutRequest,
    ErrorResponse,
)
from shop.server import BodyLimitAndMetrics

Sort = Literal["id", "price_asc", "price_desc", "name"]
IdPath = Annotated[int, Path(gt=0, le=BIGINT_MAX)]
# PostgreSQL's text holds no NUL byte: such a string is refused here, not by the driver
NO_NUL = r"^[^\x00]+$"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    """A calendar date as YYYY-MM-DD, nothing else (pydantic would read "0" as 1970-01-01)."""
    if isinstance(value, str) and not ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route gives, all in the one shape (for the OpenAPI document)."""
    described = {
        402: "the payment was declined",
        404: "a named record (order, user, product) does not exist",
        409: "a conflict: not enough stock, or an Idempotency-Key reused for another request",
        422: "the request is invalid (see the message)",
        503: "the database is unavailable or busy; retry",
    }
    return {s: {"model": ErrorResponse, "description": described[s]} for s in statuses}


READ_ERRORS = _errors(422, 503)
RECORD_ERRORS = _errors(404, 422, 503)


class ShopBackend(Protocol):
    system: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def checkout(
        self, request: CheckoutRequest, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]: ...

    async def order(self, order_id: int) -> dict[str, Any]: ...

    async def products(
        self, category: str | None, search: str | None, page: int, sort: str
    ) -> dict[str, Any]: ...

    async def product(self, product_id: int) -> dict[str, Any]: ...

    async def user_orders(self, user_id: int, limit: int) -> dict[str, Any]: ...

    async def top_customers(self, limit: int) -> dict[str, Any]: ...

    async def revenue(self, start: date | None, end: date | None) -> dict[str, Any]: ...

    async def metrics(self) -> dict[str, Any]: ...

    async def health(self) -> dict[str, Any]: ...


def build_app(backend: ShopBackend, title: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backend.start()
        try:
            yield
        finally:
            await backend.stop()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    install_error_handlers(app)
    request_metrics = RequestMetrics()

    @app.post(
        "/checkout",
        summary="Place an order (one ACID transaction)",
        description="Each product may appear once in `items`.",
        responses=_errors(402, 404, 409, 422, 503),
        response_model=dict[str, Any],
    )
    async def checkout(
        body: CheckoutRequest,
        idempotency_key: Annotated[
            str | None, Header(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)
        ] = None,
    ) -> Response:
        # the hot path: encoded once by orjson, not validated against dict[str, Any]
        # and serialized again on the way out
        result, replayed = await backend.checkout(body, idempotency_key)
        return OrjsonResponse(result, headers={"Idempotent-Replayed": "true"} if replayed else None)

    @app.get(
        "/orders/{order_id}",
        summary="The just-placed order, from the write side",
        responses=RECORD_ERRORS,
    )
    async def order(order_id: IdPath) -> dict[str, Any]:
        return await backend.order(order_id)

    @app.get("/users/{user_id}/orders", summary="My orders", responses=RECORD_ERRORS)
    async def user_orders(
        user_id: IdPath, limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> dict[str, Any]:
        return await backend.user_orders(user_id, limit)

    @app.get("/products", summary="Catalog listing, 20 per page", responses=READ_ERRORS)
    async def products(
        category: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)] = None,
        search: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)] = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        sort: Sort = "id",
    ) -> dict[str, Any]:
        return await backend.products(category, search, page, sort)

    @app.get(
        "/products/{product_id}",
        summary="Product page with N bought today",
        responses=RECORD_ERRORS,
    )
    async def product(product_id: IdPath) -> dict[str, Any]:
        return await backend.product(product_id)

    @app.get(
        "/dashboard/customers",
        summary="CEO dashboard: top customers by lifetime value",
        responses=READ_ERRORS,
    )
    async def top_customers(
        limit: Annotated[int, Query(ge=1, le=MAX_DASHBOARD_LIMIT)] = 10,
    ) -> dict[str, Any]:
        return await backend.top_customers(limit)

    @app.get(
        "/dashboard/revenue",
        summary="Daily revenue",
        description=(
            "Every day from `from` to `to` (both UTC dates, included). `to` defaults to"
            " today, `from` to 29 days before `to`; `from` must not be after `to`, and a"
            f" window holds at most {MAX_REVENUE_DAYS} days (422 otherwise)."
        ),
        responses=READ_ERRORS,
    )
    async def revenue(
        start: Annotated[IsoDate | None, Query(alias="from")] = None,
        end: Annotated[IsoDate | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        return await backend.revenue(start, end)

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "system": backend.system, **await backend.health()}

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        description=(
            "Prometheus's text format (0.0.4): request latency histograms per route, method"
            " and status class; pool gauges; for CQRS the outbox backlog and projection lag;"
            " for the cache system each report's answer age. The same values as JSON:"
            " `/metrics.json`."
        ),
        response_class=Response,
        responses={
            200: {
                "description": "The exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics() -> Response:
        snapshot = await backend.metrics()
        return Response(
            request_metrics.exposition(backend.system, snapshot), media_type=CONTENT_TYPE
        )

    @app.get(
        "/metrics.json",
        summary="Pool and request counters (and projection state for CQRS), as JSON",
        description=(
            "The JSON kept for scripts and `cqrs-bench status`; Prometheus reads `/metrics`."
        ),
    )
    async def metrics_json() -> dict[str, Any]:
        return {
            "system": backend.system,
            **await backend.metrics(),
            "requests": dict(request_metrics.by_route),
            "responses": dict(request_metrics.by_status),
        }

    app.add_middleware(BodyLimitAndMetrics, metrics=request_metrics)
    return app


__all__ = ["ApiError", "ShopBackend", "build_app"]
