"""The checkout transaction, shared by the baseline and the CQRS command side.

One transaction: lock the bought products in ascending id order (so two
checkouts never wait on each other in a cycle), check stock, insert the order,
its items and its payment, decrement stock, commit; in two round trips. Prices come from the
database. An Idempotency-Key makes a retry return the first result and write
nothing new; concurrent requests with the same key are serialized by a
transaction-scoped advisory lock on the key.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from shop.errors import ApiError, not_found
from shop.models import DECLINED_TOKEN, CheckoutRequest

ORDER_STATUS = "paid"
PAYMENT_STATUS = "captured"


@dataclass(frozen=True)
class PlacedLine:
    product_id: int
    category: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    user_id: int
    user_name: str
    status: str
    total_cents: int
    created_at: datetime
    payment_method: str
    lines: tuple[PlacedLine, ...]


# Extra work inside the same transaction (the CQRS command side writes its outbox row).
InTransaction = Callable[[AsyncConnection[Any], PlacedOrder], Awaitable[dict[str, Any]]]


# The statements, in the order a checkout sends them. The order's id is drawn
# from its identity sequence up front, and ``now()`` is the transaction's start
# (the column's default), so every write can be sent without waiting for another.
ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
EARLIER_ANSWER = "SELECT request_hash, response FROM idempotency_keys WHERE key = %s"
USER_AND_NEW_ORDER = (
    "SELECT name, nextval(pg_get_serial_sequence('orders', 'id')), now() FROM users WHERE id = %s"
)
LOCK_PRODUCTS = (
    "SELECT id, price_cents, stock, category FROM products"
    " WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
)
INSERT_ORDER = (
    "INSERT INTO orders (id, user_id, total_cents, status, created_at) VALUES (%s, %s, %s, %s, %s)"
)
INSERT_ITEMS = (
    "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)"
    " SELECT %s, p, q, u FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS v(p, q, u)"
)
TAKE_STOCK = (
    "UPDATE products SET stock = stock - v.q"
    " FROM unnest(%s::bigint[], %s::int[]) AS v(p, q) WHERE products.id = v.p"
)
INSERT_PAYMENT = (
    "INSERT INTO payments (order_id, amount_cents, gateway_ref, method, status)"
    " VALUES (%s, %s, %s, %s, %s)"
)
REMEMBER_ANSWER = (
    "INSERT INTO idempotency_keys (key, request_hash, order_id, response) VALUES (%s, %s, %s, %s)"
)


async def checkout(
    conn: AsyncConnection[Any],
    request: CheckoutRequest,
    idempotency_key: str | None,
    in_transaction: InTransaction | None = None,
) -> tuple[dict[str, Any], bool]:
    """Place the order; returns (response body, replayed?).

    Two round trips to the database, in pipeline mode: the reads (and the
    locks, and the new order's id and timestamp) go out together and come back
    together; once they pass the checks in Python, every write and the commit
    go out together. Where a check fails, the transaction rolls back and
    nothing is written.
    """
    if request.payment.token == DECLINED_TOKEN:
        raise ApiError(402, "payment_declined", "the payment gateway declined the payment")
    wanted = {item.product_id: item.quantity for item in request.items}
    ids = sorted(wanted)
    async with conn.pipeline(), conn.transaction():
        earlier_cursor = None
        if idempotency_key is not None:
            await conn.execute(ADVISORY_LOCK, (idempotency_key,))
            earlier_cursor = await conn.execute(EARLIER_ANSWER, (idempotency_key,))
        user_cursor = await conn.execute(USER_AND_NEW_ORDER, (request.user_id,))
        products_cursor = await conn.execute(LOCK_PRODUCTS, (ids,))
        # fetching the last result sends the whole batch and reads every answer
        rows = await products_cursor.fetchall()
        if earlier_cursor is not None:
            earlier = await earlier_cursor.fetchone()
            if earlier is not None:
                if earlier[0] != request.fingerprint():
                    raise ApiError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request",
                    )
                return dict(earlier[1]), True
        user = await user_cursor.fetchone()
        if user is None:
            raise not_found("user", request.user_id)
        user_name, order_id, created_at = user

        found = {row[0]: row for row in rows}
        missing = [pid for pid in ids if pid not in found]
        if missing:
            raise not_found("product", missing[0])
        short = [pid for pid in ids if found[pid][2] < wanted[pid]]
        if short:
            pid = short[0]
            raise ApiError(
                409,
                "insufficient_stock",
                f"product {pid} has {found[pid][2]} in stock, {wanted[pid]} requested",
                product_id=pid,
            )

        lines = tuple(PlacedLine(pid, found[pid][3], wanted[pid], found[pid][1]) for pid in ids)
        total = sum(line.quantity * line.unit_price_cents for line in lines)
        quantities = [line.quantity for line in lines]
        await conn.execute(
            INSERT_ORDER, (order_id, request.user_id, total, ORDER_STATUS, created_at)
        )
        await conn.execute(
            INSERT_ITEMS, (order_id, ids, quantities, [line.unit_price_cents for line in lines])
        )
        await conn.execute(TAKE_STOCK, (ids, quantities))
        await conn.execute(
            INSERT_PAYMENT,
            (order_id, total, f"ch_{secrets.token_hex(8)}", request.payment.method, PAYMENT_STATUS),
        )
        placed = PlacedOrder(
            order_id=order_id,
            user_id=request.user_id,
            user_name=user_name,
            status=ORDER_STATUS,
            total_cents=total,
            created_at=created_at,
            payment_method=request.payment.method,
            lines=lines,
        )
        response: dict[str, Any] = {
            "order_id": order_id,
            "status": ORDER_STATUS,
            "total_cents": total,
            "total": total / 100,
            "created_at": created_at.isoformat(),
            "items": len(lines),
        }
        if in_transaction is not None:
            response.update(await in_transaction(conn, placed))
        if idempotency_key is not None:
            await conn.execute(
                REMEMBER_ANSWER,
                (
                    idempotency_key,
                    request.fingerprint(),
                    order_id,
                    Jsonb(response, dumps=orjson.dumps),
                ),
            )
    return response, False
