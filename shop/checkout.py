"""The checkout transaction, shared by the baseline and the CQRS command side.

One transaction: lock the bought products in ascending id order (so two
checkouts never wait on each other in a cycle), check stock, insert the order,
its items and its payment, decrement stock, commit. Prices come from the
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


async def checkout(
    conn: AsyncConnection[Any],
    request: CheckoutRequest,
    idempotency_key: str | None,
    in_transaction: InTransaction | None = None,
) -> tuple[dict[str, Any], bool]:
    """Place the order; returns (response body, replayed?)."""
    if request.payment.token == DECLINED_TOKEN:
        raise ApiError(402, "payment_declined", "the payment gateway declined the payment")
    fingerprint = request.fingerprint()
    async with conn.transaction():
        if idempotency_key is not None:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (idempotency_key,)
            )
            cur = await conn.execute(
                "SELECT request_hash, response FROM idempotency_keys WHERE key = %s",
                (idempotency_key,),
            )
            earlier = await cur.fetchone()
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise ApiError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different request",
                    )
                return dict(earlier[1]), True

        cur = await conn.execute("SELECT name FROM users WHERE id = %s", (request.user_id,))
        user = await cur.fetchone()
        if user is None:
            raise not_found("user", request.user_id)

        wanted = {item.product_id: item.quantity for item in request.items}
        ids = sorted(wanted)
        cur = await conn.execute(
            "SELECT id, price_cents, stock, category FROM products"
            " WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (ids,),
        )
        rows = await cur.fetchall()
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
        cur = await conn.execute(
            "INSERT INTO orders (user_id, total_cents, status) VALUES (%s, %s, %s)"
            " RETURNING id, created_at",
            (request.user_id, total, ORDER_STATUS),
        )
        inserted = await cur.fetchone()
        assert inserted is not None
        order_id, created_at = inserted
        await conn.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)"
            " SELECT %s, p, q, u FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS v(p, q, u)",
            (
                order_id,
                [line.product_id for line in lines],
                [line.quantity for line in lines],
                [line.unit_price_cents for line in lines],
            ),
        )
        await conn.execute(
            "UPDATE products SET stock = stock - v.q"
            " FROM unnest(%s::bigint[], %s::int[]) AS v(p, q) WHERE products.id = v.p",
            ([line.product_id for line in lines], [line.quantity for line in lines]),
        )
        await conn.execute(
            "INSERT INTO payments (order_id, amount_cents, gateway_ref, method, status)"
            " VALUES (%s, %s, %s, %s, %s)",
            (order_id, total, f"ch_{secrets.token_hex(8)}", request.payment.method, PAYMENT_STATUS),
        )
        placed = PlacedOrder(
            order_id=order_id,
            user_id=request.user_id,
            user_name=user[0],
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
                "INSERT INTO idempotency_keys (key, request_hash, order_id, response)"
                " VALUES (%s, %s, %s, %s)",
                (idempotency_key, fingerprint, order_id, Jsonb(response)),
            )
    return response, False
