"""Batch.add: a batch of events aggregated in memory before one upsert per key.

Pure Python: the rows it prepares for apply_batch, checked without a database.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from cqrs_app.events import Line, OrderPlaced, loyalty_points, refund_deadline, status_label
from cqrs_app.readmodels import Batch, utc_day

DAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def placed(
    order_id: int,
    user_id: int,
    total_cents: int,
    created_at: datetime = DAY,
    lines: tuple[Line, ...] = (Line(1, "Books", 1),),
    status: str = "paid",
) -> OrderPlaced:
    return OrderPlaced(
        outbox_id=order_id,
        order_id=order_id,
        user_id=user_id,
        user_name=f"user {user_id}",
        status=status,
        status_label=status_label(status),
        total_cents=total_cents,
        created_at=created_at,
        loyalty_points=loyalty_points(status, total_cents),
        refund_deadline=refund_deadline(created_at),
        lines=lines,
    )


def test_one_event_fills_every_model() -> None:
    batch = Batch()
    batch.add(placed(10, 3, 2_500, lines=(Line(4, "Toys", 2), Line(5, "Books", 1))))
    assert batch.summaries == [
        (10, 3, "paid", status_label("paid"), 25, date(2026, 12, 27), 2_500, 2, DAY)
    ]
    assert batch.users == {3: ["user 3", 1, 2_500, DAY, {"Toys", "Books"}]}
    assert batch.days == {date(2026, 11, 27): [2_500, 1]}
    assert batch.stock == {4: 2, 5: 1}
    assert batch.sales == {(4, date(2026, 11, 27)): 2, (5, date(2026, 11, 27)): 1}


def test_one_entry_per_user_with_sums_counts_last_order_and_categories() -> None:
    later = DAY + timedelta(hours=5)
    batch = Batch()
    # the later order arrives first: the last order is the latest, not the last added
    batch.add(placed(11, 3, 1_000, later, (Line(1, "Books", 1),)))
    batch.add(placed(12, 3, 700, DAY, (Line(2, "Garden", 1), Line(1, "Books", 2))))
    batch.add(placed(13, 4, 300, DAY, (Line(2, "Garden", 1),)))
    assert batch.users == {
        3: ["user 3", 2, 1_700, later, {"Books", "Garden"}],
        4: ["user 4", 1, 300, DAY, {"Garden"}],
    }


def test_one_entry_per_day_and_per_product_and_day() -> None:
    next_day = DAY + timedelta(days=1)
    batch = Batch()
    batch.add(placed(20, 1, 1_000, DAY, (Line(7, "Books", 2),)))
    batch.add(placed(21, 2, 500, DAY, (Line(7, "Books", 1), Line(8, "Toys", 4))))
    batch.add(placed(22, 1, 250, next_day, (Line(7, "Books", 3),)))
    assert batch.days == {date(2026, 11, 27): [1_500, 2], date(2026, 11, 28): [250, 1]}
    assert batch.sales == {
        (7, date(2026, 11, 27)): 3,
        (8, date(2026, 11, 27)): 4,
        (7, date(2026, 11, 28)): 3,
    }
    assert batch.stock == {7: 6, 8: 4}
    assert [row[0] for row in batch.summaries] == [20, 21, 22]


@pytest.mark.parametrize("status", ["cancelled", "refunded"])
def test_orders_that_are_not_revenue_move_stock_but_not_customers_or_revenue(
    status: str,
) -> None:
    batch = Batch()
    batch.add(placed(30, 5, 9_900, lines=(Line(6, "Toys", 2),), status=status))
    assert [(row[0], row[2], row[4]) for row in batch.summaries] == [(30, status, 0)]
    assert batch.users == {}
    assert batch.days == {}
    assert batch.stock == {6: 2}
    assert batch.sales == {(6, date(2026, 11, 27)): 2}


@pytest.mark.parametrize(
    ("created_at", "day"),
    [
        (datetime(2026, 11, 27, 21, 30, tzinfo=timezone(timedelta(hours=-5))), date(2026, 11, 28)),
        (datetime(2026, 11, 28, 1, 30, tzinfo=timezone(timedelta(hours=3))), date(2026, 11, 27)),
        (datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC), date(2026, 11, 27)),
    ],
)
def test_days_are_utc_days(created_at: datetime, day: date) -> None:
    batch = Batch()
    batch.add(placed(40, 1, 100, created_at, (Line(3, "Books", 1),)))
    assert utc_day(created_at) == day
    assert list(batch.days) == [day]
    assert list(batch.sales) == [(3, day)]


def test_a_random_batch_equals_the_event_by_event_totals() -> None:
    """Aggregation loses and doubles nothing: compared with a plain per-event count."""
    rng = random.Random(2026)
    events = []
    for order_id in range(1, 301):
        products = rng.sample(range(1, 9), rng.randint(1, 4))
        events.append(
            placed(
                order_id,
                rng.randint(1, 12),
                rng.randint(100, 50_000),
                DAY + timedelta(hours=rng.randint(0, 62)),  # three days
                tuple(Line(p, f"cat{p % 3}", rng.randint(1, 5)) for p in products),
                rng.choice(["paid", "paid", "shipped", "delivered", "cancelled"]),
            )
        )
    batch = Batch()
    for event in events:
        batch.add(event)

    revenue = [e for e in events if e.status != "cancelled"]
    users: dict[int, list[Any]] = {}
    for e in revenue:
        mine = [o for o in revenue if o.user_id == e.user_id]
        users[e.user_id] = [
            e.user_name,
            len(mine),
            sum(o.total_cents for o in mine),
            max(o.created_at for o in mine),
            {line.category for o in mine for line in o.lines},
        ]
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for e in revenue:
        days[e.created_at.date()][0] += e.total_cents
        days[e.created_at.date()][1] += 1
    stock: Counter[int] = Counter()
    sales: Counter[tuple[int, date]] = Counter()
    for e in events:
        for line in e.lines:
            stock[line.product_id] += line.quantity
            sales[(line.product_id, e.created_at.date())] += line.quantity

    assert len(batch.summaries) == len(events)
    assert batch.users == users
    assert batch.days == days
    assert (len(batch.users), len(batch.days), len(batch.stock)) == (12, 3, 8)  # one entry each
    assert batch.stock == stock
    assert batch.sales == sales
