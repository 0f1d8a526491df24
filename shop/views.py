"""Response shapes shared by both apps, so both answer byte-for-byte alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from shop.errors import ApiError, not_found
from shop.models import MAX_REVENUE_DAYS, PAGE_SIZE

SORTS = {
    "id": "id",
    "price_asc": "price_cents, id",
    "price_desc": "price_cents DESC, id",
    "name": "name, id",
}
# Orders that count as revenue: not cancelled, not refunded.
REVENUE_STATUSES = ("paid", "shipped", "delivered")


def money(cents: int | None) -> float:
    return round((cents or 0) / 100, 2)


def escape_like(text: str) -> str:
    """A user's search text as a literal inside LIKE (wildcards are data, not syntax)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def product_json(row: Sequence[Any]) -> dict[str, Any]:
    pid, name, category, price_cents, stock = row[:5]
    return {
        "id": pid,
        "name": name,
        "category": category,
        "price": money(price_cents),
        "price_cents": price_cents,
        "stock": stock,
    }


def customer_json(row: Sequence[Any]) -> dict[str, Any]:
    user_id, name, order_count, lifetime_cents, last_order_at, categories = row
    return {
        "user_id": user_id,
        "name": name,
        "order_count": order_count,
        "lifetime_value": money(lifetime_cents),
        "lifetime_value_cents": lifetime_cents,
        "avg_order_value": money(round(lifetime_cents / order_count)) if order_count else 0.0,
        "last_order_at": last_order_at.isoformat() if last_order_at else None,
        "categories": sorted(categories or []),
    }


async def utc_today(conn: AsyncConnection[Any]) -> date:
    """Today as the database sees it, in UTC (its clock, not the app's)."""
    row = await (await conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date")).fetchone()
    assert row is not None
    today: date = row[0]
    return today


def revenue_window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    end = end or today
    # 30 days back, but never before the first day the calendar has
    start = start or date.fromordinal(max(1, end.toordinal() - 29))
    if start > end:
        raise ApiError(422, "invalid_request", "from must not be after to")
    if (end - start).days + 1 > MAX_REVENUE_DAYS:
        raise ApiError(422, "invalid_request", f"at most {MAX_REVENUE_DAYS} days per request")
    return start, end


def revenue_days(rows: Iterable[Sequence[Any]], start: date, end: date) -> dict[str, Any]:
    """Every day of the window, zero where nothing was sold."""
    by_day = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    days = []
    for offset in range((end - start).days + 1):  # never a day past ``end`` (date.max)
        day = start + timedelta(days=offset)
        cents, count = by_day.get(day, (0, 0))
        days.append(
            {
                "date": day.isoformat(),
                "revenue": money(cents),
                "revenue_cents": cents,
                "orders": count,
            }
        )
    return {"from": start.isoformat(), "to": end.isoformat(), "days": days}


async def catalog_page(
    conn: AsyncConnection[Any],
    table: str,
    category: str | None,
    search: str | None,
    page: int,
    sort: str,
) -> dict[str, Any]:
    """A catalog page from ``table`` (the baseline's products, CQRS's product_catalog)."""
    pattern = None if search is None else f"%{escape_like(search)}%"
    cur = await conn.execute(
        f"SELECT id, name, category, price_cents, stock FROM {table}"
        " WHERE (%(category)s::text IS NULL OR category = %(category)s)"
        "   AND (%(pattern)s::text IS NULL OR name ILIKE %(pattern)s ESCAPE '\\')"
        f" ORDER BY {SORTS[sort]} LIMIT %(limit)s OFFSET %(offset)s",
        {
            "category": category,
            "pattern": pattern,
            "limit": PAGE_SIZE,
            "offset": (page - 1) * PAGE_SIZE,
        },
    )
    return {"products": [product_json(row) for row in await cur.fetchall()], "page": page}


async def order_detail(conn: AsyncConnection[Any], order_id: int) -> dict[str, Any]:
    """The "just placed" confirmation, read from the normalized (write) tables."""
    cur = await conn.execute(
        "SELECT o.id, o.user_id, o.status, o.total_cents, o.created_at, p.method, p.status"
        " FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE o.id = %s",
        (order_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found("order", order_id)
    cur = await conn.execute(
        "SELECT i.product_id, pr.name, i.quantity, i.unit_price_cents FROM order_items i"
        " JOIN products pr ON pr.id = i.product_id WHERE i.order_id = %s ORDER BY i.product_id",
        (order_id,),
    )
    items = [
        {"product_id": pid, "name": name, "quantity": qty, "unit_price": money(price)}
        for pid, name, qty, price in await cur.fetchall()
    ]
    return {
        "order_id": row[0],
        "user_id": row[1],
        "status": row[2],
        "total": money(row[3]),
        "total_cents": row[3],
        "created_at": row[4].isoformat(),
        "payment": {"method": row[5], "status": row[6]},
        "items": items,
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def product_page_json(row: Sequence[Any] | None, product_id: int) -> dict[str, Any]:
    """A product page from ``(id, name, category, price_cents, stock, bought_today)``."""
    if row is None:
        raise not_found("product", product_id)
    return {**product_json(row), "bought_today": int(row[5])}


async def user_orders_json(
    conn: AsyncConnection[Any],
    user_id: int,
    rows: Sequence[Sequence[Any]],
    *,
    user_known_sql: str,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """ "My orders" from rows ``(order_id, status, total_cents, created_at, items, *extra)``.

    No rows is a 404 only when ``user_known_sql`` (one ``%s``: the user id)
    finds no such user; a known user with no orders gets an empty list.
    """
    if not rows:
        known = await (await conn.execute(user_known_sql, (user_id,))).fetchone()
        if known is None:
            raise not_found("user", user_id)
    return {
        "user_id": user_id,
        "orders": [
            {
                "order_id": r[0],
                "status": r[1],
                "total": money(r[2]),
                "created_at": iso(r[3]),
                "items": r[4],
                **{name: _plain(value) for name, value in zip(extra, r[5:], strict=True)},
            }
            for r in rows
        ],
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value
