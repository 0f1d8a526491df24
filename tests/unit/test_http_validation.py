"""The HTTP validation and error-shape matrix, in process, for both apps.

Each app's FastAPI application (its ``create_app``) is built over a fake backend
that implements ``shop.routes.ShopBackend`` without a database, and is driven
through httpx's ASGI transport. Every request the contract refuses is answered
with its status and ``{"error": {"code", "message"}}`` and never reaches the
backend; valid requests reach it with the parsed values (so "never reached"
means something). The same requests against the real apps and databases are
in tests/contract.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date
from types import ModuleType
from typing import Any

import httpx
import psycopg
import psycopg_pool
import pytest
from psycopg import errors

import baseline_app.app
import baseline_app.settings
import cqrs_app.app
import cqrs_app.settings
from shop.errors import ApiError, not_found
from shop.metrics import samples
from shop.models import (
    BIGINT_MAX,
    MAX_BODY_BYTES,
    MAX_DASHBOARD_LIMIT,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
    CheckoutRequest,
)
from shop.routes import ShopBackend
from shop.views import revenue_days, revenue_window
from tests.httpcases import INVALID_BODIES, MALFORMED_BODIES

TODAY = date(2026, 11, 27)
VALID = {"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]}


class FakeBackend:
    """A ShopBackend without a database: records each call, answers a fixed shape."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: BaseException | None = None

    def _called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail is not None:
            raise self.fail

    async def start(self) -> None:
        self._called("start")

    async def stop(self) -> None:
        self._called("stop")

    async def checkout(
        self, request: CheckoutRequest, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        self._called("checkout", request, idempotency_key)
        return {"order_id": 1, "status": "paid"}, idempotency_key == "seen-before"

    async def order(self, order_id: int) -> dict[str, Any]:
        self._called("order", order_id)
        return {"order_id": order_id}

    async def products(
        self, category: str | None, search: str | None, page: int, sort: str
    ) -> dict[str, Any]:
        self._called("products", category, search, page, sort)
        return {"products": [], "page": page}

    async def product(self, product_id: int) -> dict[str, Any]:
        self._called("product", product_id)
        return {"id": product_id, "bought_today": 0}

    async def user_orders(self, user_id: int, limit: int) -> dict[str, Any]:
        self._called("user_orders", user_id, limit)
        return {"orders": []}

    async def top_customers(self, limit: int) -> dict[str, Any]:
        self._called("top_customers", limit)
        return {"customers": []}

    async def revenue(self, start: date | None, end: date | None) -> dict[str, Any]:
        self._called("revenue", start, end)
        # as both backends do, with the database's today: the window needs it
        first, last = revenue_window(start, end, TODAY)
        self.calls.append(("revenue query", (first, last)))
        return {"from": first.isoformat(), "to": last.isoformat(), "days": []}

    async def metrics(self) -> dict[str, Any]:
        self._called("metrics")
        return {"pool": {"size": 0, "max": 0, "in_use": 0, "waiting": 0}}

    async def health(self) -> dict[str, Any]:
        self._called("health")
        return {}


class InProcessShop:
    """A synchronous client for an ASGI app, with the fake backend behind it."""

    def __init__(self, system: str, app: Any, backend: FakeBackend) -> None:
        self.system = system
        self.backend = backend
        self._runner = asyncio.Runner()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shop.test"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


APPS: dict[str, tuple[ModuleType, str, object]] = {
    "baseline": (
        baseline_app.app,
        "BaselineBackend",
        baseline_app.settings.Settings(dsn="postgresql://nowhere/shop"),
    ),
    "cqrs": (
        cqrs_app.app,
        "CqrsBackend",
        cqrs_app.settings.Settings(
            write_dsn="postgresql://nowhere/write", read_dsn="postgresql://nowhere/read"
        ),
    ),
}


@pytest.fixture(scope="module", params=sorted(APPS))
def app_api(request: pytest.FixtureRequest) -> Iterator[InProcessShop]:
    module, backend_class, settings = APPS[request.param]
    fake = FakeBackend(request.param)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, backend_class, lambda _settings: fake)
        app = module.create_app(settings)
    api = InProcessShop(request.param, app, fake)
    yield api
    api.close()


@pytest.fixture
def api(app_api: InProcessShop) -> InProcessShop:
    """The app of this parametrization, its fake backend reset."""
    app_api.backend.calls.clear()
    app_api.backend.fail = None
    return app_api


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error  # type: ignore[no-any-return]


def test_the_fake_implements_the_backend_protocol() -> None:
    wanted = {name for name in vars(ShopBackend) if not name.startswith("_")}
    wanted |= set(ShopBackend.__annotations__)
    assert wanted <= set(dir(FakeBackend("baseline")))


# -- bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "payload"), INVALID_BODIES, ids=[c for c, _ in INVALID_BODIES])
def test_invalid_bodies_are_422_and_never_reach_the_backend(
    api: InProcessShop, case: str, payload: object
) -> None:
    assert_error(api.request("POST", "/checkout", json=payload), 422, "invalid_request")
    assert api.backend.calls == []


MALFORMED_CODES = {"not json": "invalid_request", "empty": "invalid_request"}


@pytest.mark.parametrize(
    ("case", "content"), MALFORMED_BODIES, ids=[c for c, _ in MALFORMED_BODIES]
)
def test_malformed_and_oversized_bodies_are_422(
    api: InProcessShop, case: str, content: bytes
) -> None:
    response = api.request(
        "POST", "/checkout", content=content, headers={"content-type": "application/json"}
    )
    assert_error(response, 422, MALFORMED_CODES.get(case, "body_too_large"))
    assert api.backend.calls == []


async def _chunked(total: int) -> AsyncIterator[bytes]:
    """A valid checkout padded with whitespace to ``total`` bytes, sent without a length."""
    head = b'{"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]'
    yield head
    yield b" " * (total - len(head) - 1)
    yield b"}"


def test_an_oversized_chunked_body_is_422_too(api: InProcessShop) -> None:
    response = api.request(
        "POST",
        "/checkout",
        content=_chunked(MAX_BODY_BYTES + 1_000),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 422, "body_too_large")
    assert api.backend.calls == []


def test_a_chunked_body_under_the_limit_is_served(api: InProcessShop) -> None:
    response = api.request(
        "POST",
        "/checkout",
        content=_chunked(MAX_BODY_BYTES - 1_000),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert [name for name, _ in api.backend.calls] == ["checkout"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"user_id=1&product_id=1", {"content-type": "application/x-www-form-urlencoded"}),
        (b"", {"content-type": "application/json", "content-length": "lots"}),
    ],
    ids=["form-encoded", "content-length not a number"],
)
def test_other_unusable_bodies_are_422(
    api: InProcessShop, content: bytes, headers: dict[str, str]
) -> None:
    assert_error(api.request("POST", "/checkout", content=content, headers=headers), 422)
    assert api.backend.calls == []


@pytest.mark.parametrize(
    "key", ["", "k" * (MAX_IDEMPOTENCY_KEY + 1)], ids=["empty", "over the limit"]
)
def test_bad_idempotency_keys_are_422(api: InProcessShop, key: str) -> None:
    response = api.request("POST", "/checkout", json=VALID, headers={"Idempotency-Key": key})
    assert_error(response, 422, "invalid_request")
    assert api.backend.calls == []


# -- paths and queries -------------------------------------------------------------------

BAD_IDS = ["abc", "0", "-1", "1.5", str(BIGINT_MAX + 1)]


@pytest.mark.parametrize("ident", BAD_IDS)
@pytest.mark.parametrize("template", ["/orders/{}", "/products/{}", "/users/{}/orders"])
def test_bad_path_ids_are_422(api: InProcessShop, template: str, ident: str) -> None:
    assert_error(api.request("GET", template.format(ident)), 422, "invalid_request")
    assert api.backend.calls == []


BAD_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("/products", {"sort": "drop table"}),
    ("/products", {"sort": "PRICE_ASC"}),
    ("/products", {"page": 0}),
    ("/products", {"page": "x"}),
    ("/products", {"page": MAX_PAGE + 1}),
    ("/products", {"search": ""}),
    ("/products", {"search": "s" * 101}),
    ("/products", {"category": ""}),
    ("/products", {"category": "c" * 101}),
    ("/users/11/orders", {"limit": 0}),
    ("/users/11/orders", {"limit": 101}),
    ("/users/11/orders", {"limit": "x"}),
    ("/dashboard/customers", {"limit": 0}),
    ("/dashboard/customers", {"limit": MAX_DASHBOARD_LIMIT + 1}),
    ("/dashboard/customers", {"limit": 100_000}),
    ("/dashboard/customers", {"limit": "ten"}),
    ("/dashboard/revenue", {"from": "yesterday"}),
    ("/dashboard/revenue", {"to": "2026-13-01"}),
    ("/dashboard/revenue", {"from": "2026-02-30"}),
    ("/dashboard/revenue", {"from": "27/11/2026"}),
    # not dates, though pydantic's lax mode reads them as Unix timestamps
    ("/dashboard/revenue", {"to": "0"}),
    ("/dashboard/revenue", {"from": "1764201600"}),
    # PostgreSQL's text cannot hold a NUL byte: refused here, not a 500 from the driver
    ("/products", {"search": "\x00"}),
    ("/products", {"search": "shoe\x00s"}),
    ("/products", {"category": "\x00"}),
]


@pytest.mark.parametrize(("path", "params"), BAD_QUERIES, ids=[f"{p} {q}" for p, q in BAD_QUERIES])
def test_bad_queries_are_422_and_never_reach_the_backend(
    api: InProcessShop, path: str, params: dict[str, Any]
) -> None:
    assert_error(api.request("GET", path, params=params), 422, "invalid_request")
    assert api.backend.calls == []


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-27", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "2023-12-31", "to": "2024-12-31"},  # 367 days
        {"from": "2025-11-26"},  # to today: 367 days
    ],
    ids=["from after to", "six years", "one day too many", "from only"],
)
def test_revenue_windows_over_the_limit_are_422_before_any_query(
    api: InProcessShop, params: dict[str, str]
) -> None:
    """The window is checked with the database's today, so these reach the backend,
    which refuses them (shop.views.revenue_window) before it queries."""
    error = assert_error(api.request("GET", "/dashboard/revenue", params=params), 422)
    assert error["code"] == "invalid_request"
    assert [name for name, _ in api.backend.calls] == ["revenue"]


@pytest.mark.parametrize(
    ("params", "window"),
    [
        ({}, (date(2026, 10, 29), TODAY)),
        ({"to": "2026-01-31"}, (date(2026, 1, 2), date(2026, 1, 31))),
        ({"from": "2024-01-01", "to": "2024-12-31"}, (date(2024, 1, 1), date(2024, 12, 31))),
        ({"from": "2026-11-27", "to": "2026-11-27"}, (TODAY, TODAY)),
    ],
    ids=["last 30 days", "30 days to", "366 days", "one day"],
)
def test_revenue_windows_within_the_limit_are_queried(
    api: InProcessShop, params: dict[str, str], window: tuple[date, date]
) -> None:
    assert api.request("GET", "/dashboard/revenue", params=params).status_code == 200
    assert api.backend.calls[-1] == ("revenue query", window)


@pytest.mark.parametrize(
    ("params", "window"),
    [
        ({"to": "0001-01-05"}, (date(1, 1, 1), date(1, 1, 5))),
        ({"from": "9999-12-31", "to": "9999-12-31"}, (date.max, date.max)),
        ({"from": "9999-01-01", "to": "9999-12-31"}, (date(9999, 1, 1), date.max)),
        ({"from": "0001-01-01", "to": "0001-01-01"}, (date.min, date.min)),
    ],
    ids=["to near year 1", "last day", "last year", "first day"],
)
def test_revenue_windows_at_the_ends_of_the_calendar_are_served(
    api: InProcessShop, params: dict[str, str], window: tuple[date, date]
) -> None:
    """The default window (30 days back from ``to``) stops at the first day there is."""
    response = api.request("GET", "/dashboard/revenue", params=params)
    assert response.status_code == 200, response.text
    assert api.backend.calls[-1] == ("revenue query", window)


def test_revenue_days_reach_the_last_day_of_the_calendar() -> None:
    days = revenue_days([], date(9999, 12, 30), date.max)["days"]
    assert [d["date"] for d in days] == ["9999-12-30", "9999-12-31"]


# -- routes and methods ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/orders", "/checkout/1", "/dashboard"])
def test_unknown_routes_are_404(api: InProcessShop, path: str) -> None:
    assert_error(api.request("GET", path), 404, "not_found")
    assert api.backend.calls == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/checkout", "POST"),
        ("GET", "/checkout", "POST"),
        ("POST", "/products", "GET"),
        ("PUT", "/orders/1", "GET"),
        ("PATCH", "/dashboard/customers", "GET"),
    ],
)
def test_wrong_methods_are_405_and_say_what_is_allowed(
    api: InProcessShop, method: str, path: str, allowed: str
) -> None:
    response = api.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed
    assert api.backend.calls == []


# -- valid requests reach the backend with the parsed values -------------------------------

VALID_REQUESTS: list[tuple[str, str, dict[str, Any], tuple[str, tuple[Any, ...]]]] = [
    ("GET", "/orders/5", {}, ("order", (5,))),
    ("GET", f"/orders/{BIGINT_MAX}", {}, ("order", (BIGINT_MAX,))),
    ("GET", "/products/7", {}, ("product", (7,))),
    ("GET", "/users/11/orders", {}, ("user_orders", (11, 20))),
    ("GET", "/users/11/orders", {"params": {"limit": 100}}, ("user_orders", (11, 100))),
    ("GET", "/products", {}, ("products", (None, None, 1, "id"))),
    (
        "GET",
        "/products",
        {
            "params": {
                "category": "Books",
                "search": "100%_\\",
                "page": MAX_PAGE,
                "sort": "price_desc",
            }
        },
        ("products", ("Books", "100%_\\", MAX_PAGE, "price_desc")),
    ),
    ("GET", "/dashboard/customers", {}, ("top_customers", (10,))),
    (
        "GET",
        "/dashboard/customers",
        {"params": {"limit": MAX_DASHBOARD_LIMIT}},
        ("top_customers", (MAX_DASHBOARD_LIMIT,)),
    ),
    ("GET", "/health", {}, ("health", ())),
    ("GET", "/metrics", {}, ("metrics", ())),
    ("GET", "/metrics.json", {}, ("metrics", ())),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "call"),
    VALID_REQUESTS,
    ids=[f"{m} {p} {k.get('params', '')}" for m, p, k, _ in VALID_REQUESTS],
)
def test_valid_requests_reach_the_backend_with_parsed_values(
    api: InProcessShop,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    call: tuple[str, tuple[Any, ...]],
) -> None:
    response = api.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    assert api.backend.calls == [call]


def test_health_and_metrics_name_the_system(api: InProcessShop) -> None:
    assert api.request("GET", "/health").json() == {"status": "ok", "system": api.system}
    metrics = api.request("GET", "/metrics.json").json()
    assert metrics["system"] == api.system
    assert metrics["requests"]["GET /health"] >= 1


def test_metrics_are_prometheus_text_with_latency_per_route_template(api: InProcessShop) -> None:
    def counts() -> dict[tuple[str, str, str], float]:
        response = api.request("GET", "/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return {
            (labels["route"], labels["method"], labels["status_class"]): value
            for labels, value in samples(response.text)["shop_request_duration_seconds_count"]
        }

    order, unmatched = ("/orders/{order_id}", "GET", "2xx"), ("unmatched", "GET", "4xx")
    before = counts()
    api.request("GET", "/orders/7")
    api.request("GET", "/orders/8")
    api.request("GET", "/nope")
    after = counts()
    # one series per route template, never one per id
    assert after[order] - before.get(order, 0) == 2
    assert after[unmatched] - before.get(unmatched, 0) == 1
    assert not [key for key in after if "/orders/7" in key[0]]
    found = samples(api.request("GET", "/metrics").text)
    assert found["shop_info"] == [({"system": api.system}, 1.0)]
    (everything,) = [
        value
        for labels, value in found["shop_request_duration_seconds_bucket"]
        if (labels["route"], labels["method"], labels["status_class"]) == order
        and labels["le"] == "+Inf"
    ]
    assert everything == after[order]
    assert found["shop_pool_in_use"] == [({"pool": "main"}, 0.0)]


def test_a_valid_checkout_reaches_the_backend_parsed(api: InProcessShop) -> None:
    body = {
        "user_id": 3,
        "items": [{"product_id": 9, "quantity": 2}, {"product_id": 4, "quantity": 1}],
        "payment": {"method": "paypal", "token": "tok_paypal"},
    }
    response = api.request("POST", "/checkout", json=body, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {"order_id": 1, "status": "paid"}
    assert "idempotent-replayed" not in response.headers
    ((name, (request, key)),) = api.backend.calls
    assert (name, key) == ("checkout", "k-1")
    assert request == CheckoutRequest.model_validate(body)


def test_a_replayed_checkout_says_so(api: InProcessShop) -> None:
    response = api.request(
        "POST", "/checkout", json=VALID, headers={"Idempotency-Key": "seen-before"}
    )
    assert response.status_code == 200
    assert response.headers["idempotent-replayed"] == "true"


def test_openapi_documents_every_endpoint(api: InProcessShop) -> None:
    paths = set(api.request("GET", "/openapi.json").json()["paths"])
    assert {
        "/checkout",
        "/orders/{order_id}",
        "/users/{user_id}/orders",
        "/products",
        "/products/{product_id}",
        "/dashboard/customers",
        "/dashboard/revenue",
        "/health",
        "/metrics",
        "/metrics.json",
    } <= paths


def test_openapi_says_metrics_answers_text_and_metrics_json_answers_json(
    api: InProcessShop,
) -> None:
    paths = api.request("GET", "/openapi.json").json()["paths"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(paths["/metrics.json"]["get"]["responses"]["200"]["content"]) == {"application/json"}


# -- what the backend raises -------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (not_found("order", 1), 404, "order_not_found"),
        (ApiError(402, "payment_declined", "the payment was declined"), 402, "payment_declined"),
        (errors.lookup("40P01")("deadlock detected"), 503, "retry"),
        (
            errors.lookup("57014")("canceling statement due to statement timeout"),
            503,
            "query_canceled",
        ),
        (errors.lookup("23514")("new row violates check constraint"), 409, "constraint_violated"),
        (
            psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"),
            503,
            "database_busy",
        ),
        (
            psycopg.OperationalError("server closed the connection unexpectedly"),
            503,
            "database_unavailable",
        ),
        (errors.lookup("42601")("syntax error at or near"), 500, "internal_error"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_backend_errors_keep_the_error_shape(
    api: InProcessShop, exc: BaseException, status: int, code: str
) -> None:
    api.backend.fail = exc
    assert_error(api.request("GET", "/orders/1"), status, code)
    assert api.backend.calls == [("order", (1,))]


def test_error_extras_reach_the_client(api: InProcessShop) -> None:
    api.backend.fail = ApiError(409, "insufficient_stock", "not enough stock", product_id=3)
    error = assert_error(api.request("POST", "/checkout", json=VALID), 409, "insufficient_stock")
    assert error["product_id"] == 3


@pytest.mark.parametrize(
    "exc",
    [OverflowError("date value out of range"), RuntimeError("a bug"), KeyError("x")],
    ids=lambda e: type(e).__name__,
)
def test_an_unexpected_exception_is_a_json_500_and_counted(
    api: InProcessShop, exc: BaseException
) -> None:
    before = api.request("GET", "/metrics.json").json()["responses"].get("5xx", 0)
    api.backend.fail = exc
    error = assert_error(api.request("GET", "/orders/1"), 500, "internal_error")
    assert str(exc) not in error["message"]  # nothing of the inside leaks out
    api.backend.fail = None
    assert api.request("GET", "/metrics.json").json()["responses"]["5xx"] == before + 1


def test_request_counts_do_not_grow_with_invented_methods(api: InProcessShop) -> None:
    for n in range(5):
        api.request(f"X-INVENTED-{n}", "/health")
    keys = api.request("GET", "/metrics.json").json()["requests"]
    assert not [key for key in keys if "INVENTED" in key]
    methods = {
        labels["method"]
        for labels, _ in samples(api.request("GET", "/metrics").text)[
            "shop_request_duration_seconds_count"
        ]
    }
    assert "OTHER" in methods
    assert not [method for method in methods if "INVENTED" in method]


def test_an_integral_number_is_an_integer(api: InProcessShop) -> None:
    """JSON Schema (so the OpenAPI document) calls 2.0 an integer: so does the API."""
    body = {"user_id": 1.0, "items": [{"product_id": 3.0, "quantity": 2.0}]}
    response = api.request("POST", "/checkout", json=body)
    assert response.status_code == 200, response.text
    ((_, (request, _key)),) = api.backend.calls
    assert (request.user_id, request.items[0].product_id, request.items[0].quantity) == (1, 3, 2)
    assert isinstance(request.items[0].quantity, int)


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return spec["paths"][path][method]  # type: ignore[no-any-return]


ERROR_STATUSES = [
    ("post", "/checkout", {"402", "404", "409", "422", "503"}),
    ("get", "/orders/{order_id}", {"404", "422", "503"}),
    ("get", "/users/{user_id}/orders", {"404", "422", "503"}),
    ("get", "/products", {"422", "503"}),
    ("get", "/products/{product_id}", {"404", "422", "503"}),
    ("get", "/dashboard/customers", {"422", "503"}),
    ("get", "/dashboard/revenue", {"422", "503"}),
]


@pytest.mark.parametrize(("method", "path", "statuses"), ERROR_STATUSES)
def test_openapi_declares_each_error_the_route_answers_with_its_shape(
    api: InProcessShop, method: str, path: str, statuses: set[str]
) -> None:
    spec = api.request("GET", "/openapi.json").json()
    responses = _operation(spec, method, path)["responses"]
    assert statuses <= set(responses)
    for status in statuses:
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        error = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert error["required"] == ["error"]


def test_openapi_tells_the_limits_of_the_queries(api: InProcessShop) -> None:
    spec = api.request("GET", "/openapi.json").json()
    params = {
        p["name"]: p["schema"] for p in _operation(spec, "get", "/dashboard/revenue")["parameters"]
    }
    for name in ("from", "to"):
        schema = params[name].get("anyOf", [params[name]])[0]
        assert schema["format"] == "date"
        assert schema["type"] == "string"
    assert "366" in _operation(spec, "get", "/dashboard/revenue")["description"]
    products = {p["name"]: p["schema"] for p in _operation(spec, "get", "/products")["parameters"]}
    for name in ("search", "category"):
        schema = products[name].get("anyOf", [products[name]])[0]
        assert re.fullmatch(schema["pattern"], "shoe\x00s") is None
        assert re.fullmatch(schema["pattern"], "shoes") is not None
