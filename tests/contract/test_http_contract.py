"""The shop's HTTP contract (DESIGN.md), run against every system on real servers.

Every error case also checks, in the database, that nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from harness.core.polling import wait_until
from harness.stack.stacks import TOPOLOGIES
from shop.metrics import samples
from tests.contract.conftest import Shop
from tests.httpcases import INVALID_BODIES, MALFORMED_BODIES

PATHS = [
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
]


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Reads may lag writes on a CQRS system: ask until the answer is there."""
    return wait_until(check, timeout=15, what=what, interval=0.05)


def stocked_product(shop: Shop, stock: int = 1_000) -> int:
    pid = shop.one("SELECT id FROM products ORDER BY random() LIMIT 1")
    shop.sql("UPDATE products SET stock = %s WHERE id = %s", (stock, pid))
    return int(pid)  # type: ignore[call-overload]


def two_products(shop: Shop) -> tuple[int, int]:
    """Two different products, at random."""
    first, second = (
        int(r[0]) for r in shop.sql("SELECT id FROM products ORDER BY random() LIMIT 2")
    )  # type: ignore[call-overload]
    return first, second


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_health_and_openapi_document_every_endpoint(shop: Shop) -> None:
    assert shop.client.get("/health").json()["status"] == "ok"
    spec = shop.client.get("/openapi.json").json()
    assert set(PATHS) <= set(spec["paths"])


@pytest.mark.slow
def test_checkout_writes_one_order_with_database_prices(shop: Shop) -> None:
    a, b = sorted(two_products(shop))
    shop.sql("UPDATE products SET stock = 1000 WHERE id IN (%s, %s)", (a, b))
    prices = dict(shop.sql("SELECT id, price_cents FROM products WHERE id IN (%s, %s)", (a, b)))
    stock_before = dict(shop.sql("SELECT id, stock FROM products WHERE id IN (%s, %s)", (a, b)))
    response = shop.client.post(
        "/checkout",
        json={
            "user_id": 7,
            "items": [{"product_id": b, "quantity": 2}, {"product_id": a, "quantity": 1}],
            "payment": {"method": "paypal", "token": "tok_paypal"},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "paid"
    order_id = body["order_id"]
    expected_total = prices[a] + 2 * prices[b]
    assert body["total_cents"] == expected_total
    assert shop.sql(
        "SELECT user_id, total_cents, status FROM orders WHERE id = %s", (order_id,)
    ) == [(7, expected_total, "paid")]
    assert shop.sql(
        "SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = %s ORDER BY 1",
        (order_id,),
    ) == [(a, 1, prices[a]), (b, 2, prices[b])]
    assert shop.sql(
        "SELECT amount_cents, method, status FROM payments WHERE order_id = %s", (order_id,)
    ) == [(expected_total, "paypal", "captured")]
    stock_after = dict(shop.sql("SELECT id, stock FROM products WHERE id IN (%s, %s)", (a, b)))
    assert stock_after == {a: stock_before[a] - 1, b: stock_before[b] - 2}
    confirmation = shop.client.get(f"/orders/{order_id}")
    assert confirmation.status_code == 200  # read from the write side: visible at once
    assert confirmation.json()["total_cents"] == expected_total
    assert [i["product_id"] for i in confirmation.json()["items"]] == [a, b]


@pytest.mark.slow
def test_payment_defaults_to_a_test_card(shop: Shop) -> None:
    pid = stocked_product(shop)
    body = shop.client.post(
        "/checkout", json={"user_id": 8, "items": [{"product_id": pid, "quantity": 1}]}
    ).json()
    assert shop.sql("SELECT method FROM payments WHERE order_id = %s", (body["order_id"],)) == [
        ("card",)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"user_id": 999_999, "items": [{"product_id": 1, "quantity": 1}]}, 404, "user_not_found"),
        (
            {"user_id": 1, "items": [{"product_id": 999_999, "quantity": 1}]},
            404,
            "product_not_found",
        ),
        (
            {
                "user_id": 1,
                "items": [{"product_id": 1, "quantity": 1}],
                "payment": {"method": "card", "token": "tok_declined"},
            },
            402,
            "payment_declined",
        ),
    ],
)
def test_refused_checkouts_write_nothing(
    shop: Shop, payload: dict[str, Any], status: int, code: str
) -> None:
    before = shop.footprint()
    assert_error(shop.client.post("/checkout", json=payload), status, code)
    assert shop.footprint() == before


@pytest.mark.slow
def test_insufficient_stock_is_409_and_writes_nothing(shop: Shop) -> None:
    plenty, scarce = two_products(shop)
    shop.sql("UPDATE products SET stock = 100 WHERE id = %s", (plenty,))
    shop.sql("UPDATE products SET stock = 2 WHERE id = %s", (scarce,))
    before = shop.footprint()
    response = shop.client.post(
        "/checkout",
        json={
            "user_id": 1,
            "items": [{"product_id": plenty, "quantity": 1}, {"product_id": scarce, "quantity": 3}],
        },
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert error["product_id"] == scarce
    assert shop.footprint() == before


@pytest.mark.slow
@pytest.mark.parametrize(("case", "payload"), INVALID_BODIES, ids=[c for c, _ in INVALID_BODIES])
def test_invalid_bodies_are_422_and_write_nothing(shop: Shop, case: str, payload: object) -> None:
    before = shop.footprint()
    assert_error(shop.client.post("/checkout", json=payload), 422)
    assert shop.footprint() == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "content"), MALFORMED_BODIES, ids=[c for c, _ in MALFORMED_BODIES]
)
def test_malformed_and_oversized_bodies_are_422(shop: Shop, case: str, content: bytes) -> None:
    before = shop.footprint()
    response = shop.client.post(
        "/checkout", content=content, headers={"content-type": "application/json"}
    )
    assert_error(response, 422)
    assert shop.footprint() == before


@pytest.mark.slow
def test_idempotency_key_replays_the_first_result(shop: Shop) -> None:
    pid = stocked_product(shop)
    payload = {"user_id": 3, "items": [{"product_id": pid, "quantity": 1}]}
    first = shop.client.post("/checkout", json=payload, headers={"Idempotency-Key": "retry-me-1"})
    assert first.status_code == 200
    before = shop.footprint()
    second = shop.client.post("/checkout", json=payload, headers={"Idempotency-Key": "retry-me-1"})
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert shop.footprint() == before
    reused = shop.client.post(
        "/checkout",
        json={**payload, "user_id": 4},
        headers={"Idempotency-Key": "retry-me-1"},
    )
    assert_error(reused, 409, "idempotency_key_reused")
    assert shop.footprint() == before


@pytest.mark.slow
def test_order_lookups(shop: Shop) -> None:
    assert_error(shop.client.get("/orders/999999999"), 404, "order_not_found")
    assert_error(shop.client.get("/orders/abc"), 422)
    assert_error(shop.client.get("/orders/0"), 422)
    seeded = shop.client.get("/orders/1").json()
    assert seeded["order_id"] == 1
    assert seeded["total_cents"] == sum(
        i["quantity"] * round(i["unit_price"] * 100) for i in seeded["items"]
    )


@pytest.mark.slow
def test_catalog_pages_filters_and_sorts(shop: Shop) -> None:
    first = shop.client.get("/products").json()
    assert first["page"] == 1
    assert len(first["products"]) == 20
    assert {"id", "name", "category", "price"} <= set(first["products"][0])
    second = shop.client.get("/products", params={"page": 2}).json()["products"]
    assert {p["id"] for p in first["products"]}.isdisjoint(p["id"] for p in second)
    category = first["products"][0]["category"]
    in_category = shop.client.get("/products", params={"category": category}).json()["products"]
    assert in_category
    assert all(p["category"] == category for p in in_category)
    prices = [
        p["price"]
        for p in shop.client.get("/products", params={"sort": "price_asc"}).json()["products"]
    ]
    assert prices == sorted(prices)
    prices = [
        p["price"]
        for p in shop.client.get("/products", params={"sort": "price_desc"}).json()["products"]
    ]
    assert prices == sorted(prices, reverse=True)
    assert shop.client.get("/products", params={"page": 999}).json()["products"] == []
    for bad in ({"sort": "drop table"}, {"page": 0}, {"page": "x"}, {"search": ""}):
        assert_error(shop.client.get("/products", params=bad), 422)


@pytest.mark.slow
def test_search_treats_like_wildcards_as_text(shop: Shop) -> None:
    marker = eventually(
        lambda: (
            shop.client.get("/products", params={"search": "LIKE_test"}).json()["products"] or None
        ),
        "the wildcard products in the catalog",
    )
    assert [p["name"] for p in marker] == ["100% Cotton LIKE_test"]
    hits = {
        text: [
            p["name"]
            for p in shop.client.get("/products", params={"search": text}).json()["products"]
        ]
        for text in ("100%", "0% C", "E_t", "%", "_", "\\")
    }
    assert hits["100%"] == ["100% Cotton LIKE_test"]
    assert hits["0% C"] == ["100% Cotton LIKE_test"]
    assert hits["E_t"] == ["100% Cotton LIKE_test"]
    assert hits["%"] == ["100% Cotton LIKE_test"]
    assert hits["_"] == ["100% Cotton LIKE_test", "Back\\slash_item"] or hits["_"] == [
        "Back\\slash_item",
        "100% Cotton LIKE_test",
    ]
    assert hits["\\"] == ["Back\\slash_item"]


@pytest.fixture(scope="module", autouse=True)
def _wildcard_products(shop: Shop) -> None:
    """Two products whose names hold LIKE's special characters."""
    shop.sql(
        "INSERT INTO products (name, category, price_cents, stock) VALUES"
        " ('100% Cotton LIKE_test', 'Clothing', 1999, 50), ('Back\\slash_item', 'Office', 999, 5)"
    )
    shop.refresh_read_models()


@pytest.mark.slow
def test_product_page_counts_what_was_bought_today(shop: Shop) -> None:
    pid = stocked_product(shop)
    before = shop.client.get(f"/products/{pid}").json()["bought_today"]
    shop.client.post(
        "/checkout", json={"user_id": 9, "items": [{"product_id": pid, "quantity": 3}]}
    ).raise_for_status()
    eventually(
        lambda: shop.client.get(f"/products/{pid}").json()["bought_today"] == before + 3,
        "bought_today to count the new checkout",
    )
    assert_error(shop.client.get("/products/99999999"), 404, "product_not_found")


@pytest.mark.slow
def test_my_orders_lists_newest_first(shop: Shop) -> None:
    pid = stocked_product(shop)
    placed = shop.client.post(
        "/checkout", json={"user_id": 11, "items": [{"product_id": pid, "quantity": 1}]}
    ).json()
    orders = eventually(
        lambda: (lambda o: o if o and o[0]["order_id"] == placed["order_id"] else None)(
            shop.client.get("/users/11/orders").json()["orders"]
        ),
        "the new order in My orders",
    )
    stamps = [o["created_at"] for o in orders]
    assert stamps == sorted(stamps, reverse=True)
    assert len(shop.client.get("/users/11/orders", params={"limit": 1}).json()["orders"]) == 1
    assert_error(shop.client.get("/users/99999999/orders"), 404, "user_not_found")
    assert_error(shop.client.get("/users/11/orders", params={"limit": 0}), 422)


EXPECTED_CUSTOMERS = """
    SELECT u.id, count(*) AS n, sum(o.total_cents) AS ltv, max(o.created_at)
    FROM users u JOIN orders o ON o.user_id = u.id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
    GROUP BY u.id ORDER BY ltv DESC, u.id LIMIT %s
"""


@pytest.mark.slow
def test_ceo_dashboard_matches_the_orders(shop: Shop) -> None:
    def matches() -> list[dict[str, Any]] | None:
        expected = shop.sql(EXPECTED_CUSTOMERS, (5,))
        got = shop.client.get("/dashboard/customers", params={"limit": 5}).json()["customers"]
        actual = [(c["user_id"], c["order_count"], c["lifetime_value_cents"]) for c in got]
        return got if actual == [(r[0], r[1], r[2]) for r in expected] else None

    customers = eventually(matches, "the dashboard to agree with the orders")
    assert [c["lifetime_value"] for c in customers] == sorted(
        (c["lifetime_value"] for c in customers), reverse=True
    )
    top = customers[0]
    assert {
        "user_id",
        "name",
        "order_count",
        "lifetime_value",
        "avg_order_value",
        "last_order_at",
        "categories",
    } <= set(top)
    assert top["avg_order_value"] == pytest.approx(
        top["lifetime_value"] / top["order_count"], abs=0.01
    )
    categories = shop.sql(
        "SELECT DISTINCT p.category FROM orders o JOIN order_items i ON i.order_id = o.id"
        " JOIN products p ON p.id = i.product_id WHERE o.user_id = %s"
        " AND o.status IN ('paid', 'shipped', 'delivered') ORDER BY 1",
        (top["user_id"],),
    )
    assert top["categories"] == [c[0] for c in categories]
    for bad in ({"limit": 0}, {"limit": 100_000}, {"limit": "ten"}):
        assert_error(shop.client.get("/dashboard/customers", params=bad), 422)


@pytest.mark.slow
def test_revenue_report_covers_every_day(shop: Shop) -> None:
    params = {"from": "2026-11-20", "to": "2026-11-27"}
    expected = shop.sql(
        "SELECT (created_at AT TIME ZONE 'UTC')::date::text, sum(total_cents), count(*) FROM orders"
        " WHERE status IN ('paid', 'shipped', 'delivered')"
        " AND created_at >= '2026-11-20T00:00:00Z' AND created_at < '2026-11-28T00:00:00Z' GROUP BY 1"
    )
    days = shop.client.get("/dashboard/revenue", params=params).json()["days"]
    assert [d["date"] for d in days] == [f"2026-11-{d}" for d in range(20, 28)]
    by_day = {d["date"]: (d["revenue_cents"], d["orders"]) for d in days}
    for day, cents, count in expected:
        assert by_day[day] == (cents, count)
    assert all(d["revenue"] == round(d["revenue_cents"] / 100, 2) for d in days)
    assert_error(
        shop.client.get("/dashboard/revenue", params={"from": "2026-11-27", "to": "2026-11-01"}),
        422,
    )
    assert_error(shop.client.get("/dashboard/revenue", params={"from": "yesterday"}), 422)
    assert_error(
        shop.client.get("/dashboard/revenue", params={"from": "2020-01-01", "to": "2026-01-01"}),
        422,
    )


@pytest.mark.slow
def test_metrics_expose_the_pool_and_counts(shop: Shop) -> None:
    shop.client.get("/products")
    metrics = shop.client.get("/metrics.json").json()
    assert metrics["system"] == shop.system.value
    pools = [v for k, v in metrics.items() if k.startswith("pool")]
    assert pools
    assert {"size", "in_use", "waiting"} <= set(pools[0])
    assert metrics["requests"]["GET /products"] >= 1


@pytest.mark.slow
def test_metrics_are_prometheus_text_with_latency_and_pools(shop: Shop) -> None:
    shop.client.get("/products")
    response = shop.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    assert found["shop_info"] == [({"system": shop.system.value}, 1.0)]
    listed = [
        value
        for labels, value in found["shop_request_duration_seconds_count"]
        if labels == {"route": "/products", "method": "GET", "status_class": "2xx"}
    ]
    assert listed
    assert listed[0] >= 1
    sizes = dict((labels["pool"], size) for labels, size in found["shop_pool_size"])
    assert sizes["main"] >= 1
    for gauge in ("shop_pool_in_use", "shop_pool_waiting", "shop_pool_max_size"):
        assert {labels["pool"] for labels, _ in found[gauge]} == set(sizes)
    if TOPOLOGIES[shop.system].projector:  # the outbox and the lag too
        assert found["shop_projection_status_up"] == [({}, 1.0)]
        assert found["shop_outbox_backlog_events"][0][1] >= 0
        assert found["shop_projection_lag_seconds"][0][1] >= 0
    else:
        assert "shop_outbox_backlog_events" not in found
    if TOPOLOGIES[shop.system].redis:
        assert found["shop_cache_ttl_seconds"][0][1] > 0


@pytest.mark.slow
def test_unknown_routes_and_methods_use_the_error_shape(shop: Shop) -> None:
    assert_error(shop.client.get("/nope"), 404)
    assert_error(shop.client.delete("/checkout"), 405)


@pytest.mark.slow
def test_the_outbox_event_is_the_one_order_placed_describes(shop: Shop) -> None:
    """The command side's checkout builds its event in SQL; events.order_placed defines it.

    The checkout runs in a transaction that is rolled back, so the projector
    never sees the event and the test reads it before anything prunes it.
    """
    if shop.read_dsn is None:
        pytest.skip("no outbox: this system has no command side")
    from cqrs_app.commands import CQRS_CHECKOUT
    from cqrs_app.events import order_placed, parse_event
    from shop.checkout import PlacedLine, PlacedOrder

    plenty, other = two_products(shop)
    for pid in (plenty, other):
        shop.sql("UPDATE products SET stock = 100 WHERE id = %s", (pid,))
    ids = sorted((plenty, other))
    with psycopg.connect(shop.write_dsn) as conn:
        conn.execute("SET LOCAL timezone = 'America/New_York'")  # not UTC, on purpose
        row = conn.execute(
            f"SELECT response FROM {CQRS_CHECKOUT}(%s, %s, %s, 'paypal', 'ch_t', NULL, NULL)",
            (5, ids, [2, 1]),
        ).fetchone()
        assert row is not None
        response = row[0]
        order_id = response["order_id"]
        event_type, payload = conn.execute(
            "SELECT event_type, payload FROM outbox WHERE (payload->>'order_id')::bigint = %s",
            (order_id,),
        ).fetchone() or (None, None)
        name, created_at, total = conn.execute(
            "SELECT u.name, o.created_at, o.total_cents FROM orders o"
            " JOIN users u ON u.id = o.user_id WHERE o.id = %s",
            (order_id,),
        ).fetchone() or (None, None, None)
        lines = conn.execute(
            "SELECT i.product_id, p.category, i.quantity, i.unit_price_cents"
            " FROM order_items i JOIN products p ON p.id = i.product_id"
            " WHERE i.order_id = %s ORDER BY i.product_id",
            (order_id,),
        ).fetchall()
        conn.rollback()
    expected = order_placed(
        PlacedOrder(
            order_id=order_id,
            user_id=5,
            user_name=name,
            status="paid",
            total_cents=total,
            created_at=created_at,
            payment_method="paypal",
            lines=tuple(PlacedLine(*line) for line in lines),
        )
    )
    assert event_type == "OrderPlaced"
    assert set(payload) == set(expected)
    for key in expected.keys() - {"created_at"}:
        assert payload[key] == expected[key], key
    assert datetime.fromisoformat(payload["created_at"]) == created_at
    # the projector reads it as it reads the reference event
    assert parse_event(1, event_type, payload) == parse_event(1, event_type, expected)
    # and the answer shows the same business values the event carries
    for key in ("status_label", "loyalty_points", "refund_deadline"):
        assert response[key] == expected[key], key
    assert response["total_cents"] == total == sum(q * u for _, _, q, u in lines)
    assert response["items"] == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ids", "quantities"),
    [
        ("descending", [1, 1]),
        ("repeated", [1, 1]),
        ("none", []),
        ("ascending", [1]),  # fewer quantities than products
        ("ascending", [1, 0]),
        ("ascending", [1, None]),
        ("with a null", [1, 1]),
    ],
)
def test_the_checkout_function_refuses_lines_the_app_never_sends(
    shop: Shop, ids: str, quantities: list[int | None]
) -> None:
    """Called straight in SQL (as pgbench does), it holds callers to what the app ensures."""
    from cqrs_app.commands import CQRS_CHECKOUT
    from shop.checkout import SHOP_CHECKOUT

    low, high = sorted(two_products(shop))
    product_ids = {
        "descending": [high, low],
        "repeated": [low, low],
        "none": [],
        "ascending": [low, high],
        "with a null": [low, None],
    }[ids]
    function = CQRS_CHECKOUT if shop.read_dsn is not None else SHOP_CHECKOUT
    before = shop.footprint()
    with pytest.raises(psycopg.Error) as refused:
        shop.sql(
            f"SELECT * FROM {function}(1, %s::bigint[], %s::int[], 'card', 'ch_t', NULL, NULL)",
            (product_ids, quantities),
        )
    assert refused.value.sqlstate == "CB422"
    assert shop.footprint() == before
