"""cqrs_app's command side: the shared checkout plus its outbox row, in one transaction."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from cqrs_app.events import ORDER_PLACED, order_placed
from shop.checkout import PlacedOrder


async def write_outbox(conn: AsyncConnection[Any], order: PlacedOrder) -> dict[str, Any]:
    """Record the event in the same transaction as the order (no dual write, no publish)."""
    event = order_placed(order)
    await conn.execute(
        "INSERT INTO outbox (event_type, payload) VALUES (%s, %s)",
        (ORDER_PLACED, Jsonb(event, dumps=orjson.dumps)),
    )
    return {
        "status_label": event["status_label"],
        "loyalty_points": event["loyalty_points"],
        "refund_deadline": event["refund_deadline"],
    }
