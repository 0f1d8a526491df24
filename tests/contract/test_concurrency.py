"""Checkout under contention, against the real app and database."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from tests.contract.conftest import Shop

HOT_STOCK = 40


async def _post_all(
    url: str, requests: list[tuple[dict[str, object], dict[str, str]]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(body: dict[str, object], headers: dict[str, str]) -> httpx.Response:
            await start.wait()  # release every client at once
            return await client.post("/checkout", json=body, headers=headers)

        tasks = [asyncio.create_task(one(body, headers)) for body, headers in requests]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


@pytest.mark.slow
def test_fifty_clients_on_a_few_hot_products(shop: Shop) -> None:
    hot = [int(r[0]) for r in shop.sql("SELECT id FROM products ORDER BY id LIMIT 3")]  # type: ignore[call-overload]
    shop.sql("UPDATE products SET stock = %s WHERE id = ANY(%s)", (HOT_STOCK, hot))
    last_order = shop.one("SELECT max(id) FROM orders")
    rng = random.Random(5)
    requests = []
    for client in range(50):
        chosen = rng.sample(hot, rng.randint(1, 3))
        rng.shuffle(chosen)  # any order in the body; the app locks in id order
        items = [{"product_id": pid, "quantity": rng.randint(1, 3)} for pid in chosen]
        requests.append(({"user_id": client + 1, "items": items}, {}))
    responses = asyncio.run(_post_all(shop.url, requests))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [
        r.text for r in responses if r.status_code not in (200, 409)
    ]
    assert statuses.count(200) > 0
    assert statuses.count(409) > 0  # demand exceeds the stock, so some must be refused
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "insufficient_stock"
    stock = dict(shop.sql("SELECT id, stock FROM products WHERE id = ANY(%s)", (hot,)))
    sold = dict(
        shop.sql(
            "SELECT product_id, sum(quantity) FROM order_items WHERE order_id > %s AND product_id = ANY(%s)"
            " GROUP BY product_id",
            (last_order, hot),
        )
    )
    for pid in hot:
        assert stock[pid] >= 0
        assert HOT_STOCK - stock[pid] == sold.get(pid, 0)
    new_orders = shop.one("SELECT count(*) FROM orders WHERE id > %s", (last_order,))
    assert new_orders == statuses.count(200)


@pytest.mark.slow
def test_same_idempotency_key_from_ten_clients_makes_one_order(shop: Shop) -> None:
    pid = int(shop.one("SELECT id FROM products ORDER BY id DESC LIMIT 1"))  # type: ignore[call-overload]
    shop.sql("UPDATE products SET stock = 1000 WHERE id = %s", (pid,))
    last_order = shop.one("SELECT max(id) FROM orders")
    body = {"user_id": 2, "items": [{"product_id": pid, "quantity": 1}]}
    responses = asyncio.run(_post_all(shop.url, [(body, {"Idempotency-Key": "ten-at-once"})] * 10))
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert shop.one("SELECT count(*) FROM orders WHERE id > %s", (last_order,)) == 1
