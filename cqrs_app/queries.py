"""cqrs_app's query side: fetch and format from the read models, nothing more."""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection

from cqrs_app.projector import HORIZON_BLOCKERS, blocker_json
from shop.views import (
    catalog_page,
    customer_json,
    product_page_json,
    revenue_days,
    user_orders_json,
)


async def list_products(
    conn: AsyncConnection[Any], category: str | None, search: str | None, page: int, sort: str
) -> dict[str, Any]:
    return await catalog_page(conn, "product_catalog", category, search, page, sort)


async def product_page(conn: AsyncConnection[Any], product_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT p.id, p.name, p.category, p.price_cents, p.stock, coalesce(s.quantity, 0)"
        " FROM product_catalog p LEFT JOIN product_sales_today s"
        "   ON s.product_id = p.id AND s.day = (now() AT TIME ZONE 'UTC')::date"
        " WHERE p.id = %s",
        (product_id,),
    )
    return product_page_json(await cur.fetchone(), product_id)


async def user_orders(conn: AsyncConnection[Any], user_id: int, limit: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT order_id, status, total_cents, created_at, item_count, status_label,"
        " loyalty_points, refund_deadline FROM order_summaries WHERE user_id = %s"
        " ORDER BY created_at DESC, order_id DESC LIMIT %s",
        (user_id, limit),
    )
    return await user_orders_json(
        conn,
        user_id,
        await cur.fetchall(),
        user_known_sql="SELECT 1 FROM customer_stats WHERE user_id = %s",
        extra=("status_label", "loyalty_points", "refund_deadline"),
    )


async def top_customers(conn: AsyncConnection[Any], limit: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT user_id, name, order_count, lifetime_cents, last_order_at, categories"
        " FROM customer_stats WHERE order_count > 0"
        " ORDER BY lifetime_cents DESC, user_id LIMIT %s",
        (limit,),
    )
    return {"customers": [customer_json(row) for row in await cur.fetchall()]}


async def daily_revenue(conn: AsyncConnection[Any], start: date, end: date) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT day, revenue_cents, orders FROM daily_revenue WHERE day BETWEEN %s AND %s",
        (start, end),
    )
    return revenue_days(await cur.fetchall(), start, end)


async def projection_status(
    read: AsyncConnection[Any], write: AsyncConnection[Any]
) -> dict[str, Any]:
    cur = await read.execute(
        "SELECT last_xid, last_id, rebuild_snapshot, events_applied, last_lag_ms,"
        " extract(epoch FROM now() - heartbeat_at) * 1000, leader_pid,"
        " (SELECT count(*) FROM dead_letters), stalled_reason, stalled_at"
        " FROM projector_checkpoint WHERE id = 1"
    )
    row = await cur.fetchone()
    if row is None:
        return {"checkpoint": None}
    last_xid, last_id, snapshot, applied, last_lag, heartbeat_age, leader, dead = row[:8]
    stalled_reason, stalled_at = row[8:]
    cur = await write.execute(
        "SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at)) * 1000"
        " FROM outbox WHERE (xid, id) > (%(xid)s::text::xid8, %(id)s)"
        "   AND (%(snapshot)s::text IS NULL"
        "        OR NOT pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot))",
        {"xid": last_xid, "id": last_id, "snapshot": snapshot},
    )
    behind = await cur.fetchone()
    assert behind is not None
    cur = await write.execute(HORIZON_BLOCKERS, {"min_age_s": 1.0})
    blockers = [blocker_json(tuple(r)) for r in await cur.fetchall()]
    return {
        "checkpoint": {"xid": last_xid, "id": last_id},
        "events_applied": applied,
        "events_behind": behind[0],
        "oldest_unapplied_age_ms": round(float(behind[1] or 0), 1),
        "last_batch_lag_ms": last_lag,
        "heartbeat_age_ms": None if heartbeat_age is None else round(float(heartbeat_age), 1),
        "leader_pid": leader,
        "dead_letters": dead,
        # why nothing is applied (an error that hits every event), when that is so
        "stalled_reason": stalled_reason,
        "stalled_at": None if stalled_at is None else stalled_at.isoformat(),
        # write transactions open > 1 s: each holds the horizon, so projection, back
        "horizon_blockers": blockers,
    }
