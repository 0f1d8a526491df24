"""baseline_app's reads: computed at request time from the normalized tables.

This is the point of the baseline: the CEO dashboard is a 4-table join with
GROUP BY on the same database, the same pool, as checkout.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection

from shop.views import (
    REVENUE_STATUSES,
    catalog_page,
    customer_json,
    product_page_json,
    revenue_days,
    user_orders_json,
)


async def list_products(
    conn: AsyncConnection[Any], category: str | None, search: str | None, page: int, sort: str
) -> dict[str, Any]:
    return await catalog_page(conn, "products", category, search, page, sort)


async def product_page(conn: AsyncConnection[Any], product_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        """
        SELECT p.id, p.name, p.category, p.price_cents, p.stock,
               (SELECT coalesce(sum(i.quantity), 0)
                FROM order_items i JOIN orders o ON o.id = i.order_id
                WHERE i.product_id = p.id
                  AND o.created_at >= date_trunc('day', now(), 'UTC'))
        FROM products p WHERE p.id = %s
        """,
        (product_id,),
    )
    return product_page_json(await cur.fetchone(), product_id)


async def user_orders(conn: AsyncConnection[Any], user_id: int, limit: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT o.id, o.status, o.total_cents, o.created_at,"
        " (SELECT count(*) FROM order_items i WHERE i.order_id = o.id)"
        " FROM orders o WHERE o.user_id = %s ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
        (user_id, limit),
    )
    return await user_orders_json(
        conn,
        user_id,
        await cur.fetchall(),
        user_known_sql="SELECT 1 FROM users WHERE id = %s",
    )


async def top_customers(conn: AsyncConnection[Any], limit: int) -> dict[str, Any]:
    cur = await conn.execute(
        """
        SELECT u.id, u.name,
               count(DISTINCT o.id) AS order_count,
               sum(oi.quantity * oi.unit_price_cents)::bigint AS lifetime_cents,
               max(o.created_at) AS last_order_at,
               array_agg(DISTINCT p.category) AS categories
        FROM users u
        JOIN orders o ON o.user_id = u.id
        JOIN order_items oi ON oi.order_id = o.id
        JOIN products p ON p.id = oi.product_id
        WHERE o.status = ANY(%s)
        GROUP BY u.id, u.name
        ORDER BY lifetime_cents DESC, u.id
        LIMIT %s
        """,
        (list(REVENUE_STATUSES), limit),
    )
    return {"customers": [customer_json(row) for row in await cur.fetchall()]}


async def daily_revenue(conn: AsyncConnection[Any], start: date, end: date) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(total_cents)::bigint, count(*)"
        " FROM orders"
        " WHERE created_at >= %s::date AT TIME ZONE 'UTC'"
        "   AND created_at < (%s::date + 1) AT TIME ZONE 'UTC'"
        "   AND status = ANY(%s)"
        " GROUP BY 1",
        (start, end, list(REVENUE_STATUSES)),
    )
    return revenue_days(await cur.fetchall(), start, end)
