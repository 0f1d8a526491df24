"""The OrderPlaced event: what the command side writes, what the projector accepts."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from cqrs_app.events import (
    EVENT_VERSION,
    ORDER_PLACED,
    STATUS_LABELS,
    BadEvent,
    Line,
    loyalty_points,
    order_placed,
    parse_event,
    refund_deadline,
    status_label,
)
from shop.checkout import PlacedLine, PlacedOrder

PLACED_AT = datetime(2026, 11, 27, 18, 30, 5, tzinfo=UTC)


def payload(**changes: Any) -> dict[str, Any]:
    event = {
        "version": EVENT_VERSION,
        "order_id": 41,
        "user_id": 7,
        "user_name": "Ada Lovelace",
        "status": "paid",
        "status_label": "Paid - preparing your parcel",
        "total_cents": 12_345,
        "created_at": PLACED_AT.isoformat(),
        "loyalty_points": 123,
        "refund_deadline": "2026-12-27",
        "lines": [
            {"product_id": 3, "category": "Books", "quantity": 2, "unit_price_cents": 4_000},
            {"product_id": 9, "category": "Garden", "quantity": 1, "unit_price_cents": 4_345},
        ],
    }
    event.update(changes)
    return event


def test_a_well_formed_event_parses_into_typed_values() -> None:
    event = parse_event(1_001, ORDER_PLACED, payload())
    assert event.outbox_id == 1_001
    assert (event.order_id, event.user_id, event.user_name) == (41, 7, "Ada Lovelace")
    assert (event.status, event.status_label) == ("paid", "Paid - preparing your parcel")
    assert event.total_cents == 12_345
    assert event.created_at == PLACED_AT
    assert event.created_at.utcoffset() == timedelta(0)
    assert event.loyalty_points == 123
    assert event.refund_deadline == date(2026, 12, 27)
    assert event.lines == (Line(3, "Books", 2), Line(9, "Garden", 1))
    assert event.counts_as_revenue is True


def test_the_command_side_event_round_trips_through_the_parser() -> None:
    order = PlacedOrder(
        order_id=5,
        user_id=2,
        user_name="Grace Hopper",
        status="paid",
        total_cents=2_599,
        created_at=PLACED_AT,
        payment_method="card",
        lines=(PlacedLine(11, "Toys", 1, 1_000), PlacedLine(12, "Books", 3, 533)),
    )
    written = order_placed(order)
    event = parse_event(99, ORDER_PLACED, written)
    assert written["version"] == EVENT_VERSION
    assert (event.order_id, event.user_id, event.total_cents) == (5, 2, 2_599)
    assert event.status_label == STATUS_LABELS["paid"]
    assert event.loyalty_points == 25
    assert event.refund_deadline == date(2026, 12, 27)
    assert event.lines == (Line(11, "Toys", 1), Line(12, "Books", 3))


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("paid", "Paid - preparing your parcel"),
        ("shipped", "On its way"),
        ("delivered", "Delivered"),
        ("cancelled", "Cancelled"),
        ("refunded", "Refunded"),
        ("on_hold", "On_Hold"),  # unknown statuses are shown title-cased, like SQL's initcap
    ],
)
def test_status_label(status: str, label: str) -> None:
    assert status_label(status) == label


@pytest.mark.parametrize(
    ("status", "total_cents", "points"),
    [
        ("paid", 12_345, 123),
        ("paid", 99, 0),
        ("paid", 100, 1),
        ("shipped", 250, 2),
        ("delivered", 10_000, 100),
        ("cancelled", 10_000, 0),
        ("refunded", 10_000, 0),
    ],
)
def test_loyalty_points_one_per_whole_unit_for_orders_that_count(
    status: str, total_cents: int, points: int
) -> None:
    assert loyalty_points(status, total_cents) == points


@pytest.mark.parametrize(
    ("status", "revenue"),
    [("paid", True), ("shipped", True), ("delivered", True), ("cancelled", False)],
)
def test_only_paid_shipped_and_delivered_orders_count_as_revenue(
    status: str, revenue: bool
) -> None:
    assert parse_event(1, ORDER_PLACED, payload(status=status)).counts_as_revenue is revenue


@pytest.mark.parametrize(
    ("created_at", "deadline"),
    [
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), date(2026, 12, 27)),
        (datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC), date(2026, 12, 27)),
        (datetime(2026, 12, 15, 8, 0, tzinfo=UTC), date(2027, 1, 14)),
        (datetime(2028, 2, 1, 0, 0, tzinfo=UTC), date(2028, 3, 2)),  # a leap February
        # the same instant as 2026-11-28T02:30Z: the deadline is counted from the
        # UTC day, as rebuild's SQL (business_values_sql) counts it, whatever the
        # session time zone the database handed the timestamp back in
        (datetime(2026, 11, 27, 21, 30, tzinfo=timezone(timedelta(hours=-5))), date(2026, 12, 28)),
        (datetime(2026, 11, 28, 1, 30, tzinfo=timezone(timedelta(hours=3))), date(2026, 12, 27)),
    ],
)
def test_refund_deadline_is_thirty_days_after_the_utc_order_day(
    created_at: datetime, deadline: date
) -> None:
    assert refund_deadline(created_at) == deadline


@pytest.mark.parametrize("event_type", ["Mystery", "orderplaced", "OrderCancelled", ""])
def test_unknown_event_types_are_bad_events(event_type: str) -> None:
    with pytest.raises(BadEvent, match=f"unknown event type {event_type!r}"):
        parse_event(1, event_type, payload())


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_unknown_versions_are_bad_events(version: object) -> None:
    with pytest.raises(BadEvent, match=f"unknown OrderPlaced version {version!r}"):
        parse_event(1, ORDER_PLACED, payload(version=version))


REQUIRED = [
    "version",
    "order_id",
    "user_id",
    "user_name",
    "status",
    "status_label",
    "total_cents",
    "created_at",
    "loyalty_points",
    "refund_deadline",
    "lines",
]


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_field_is_a_malformed_event(key: str) -> None:
    event = payload()
    del event[key]
    with pytest.raises(BadEvent, match=f"malformed OrderPlaced: KeyError: '{key}'"):
        parse_event(1, ORDER_PLACED, event)


@pytest.mark.parametrize("key", ["product_id", "category", "quantity"])
def test_a_line_missing_a_field_is_a_malformed_event(key: str) -> None:
    event = payload()
    del event["lines"][1][key]
    with pytest.raises(BadEvent, match="malformed OrderPlaced: KeyError"):
        parse_event(1, ORDER_PLACED, event)


MALFORMED: list[tuple[str, object]] = [
    ("order id not a number", payload(order_id="forty-one")),
    ("total not a number", payload(total_cents="a lot")),
    ("points not a number", payload(loyalty_points=None)),
    ("created_at not a time", payload(created_at="yesterday")),
    ("created_at not a string", payload(created_at=1_764_268_205)),
    ("refund deadline not a date", payload(refund_deadline="2026-13-01")),
    ("lines not a list", payload(lines=None)),
    ("a line not an object", payload(lines=[3])),
    ("quantity not a number", payload(lines=[{"product_id": 3, "category": "B", "quantity": "x"}])),
    ("payload null", None),
    ("payload a list", [payload()]),
    ("payload a string", "OrderPlaced"),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_wrong_types_are_malformed_events_not_crashes(case: str, body: object) -> None:
    with pytest.raises(BadEvent, match="malformed OrderPlaced"):
        parse_event(1, ORDER_PLACED, copy.deepcopy(body))


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"product_id": 3, "category": "Books", "quantity": 0}],
        [
            {"product_id": 3, "category": "Books", "quantity": 2},
            {"product_id": 4, "category": "Books", "quantity": -1},
        ],
    ],
    ids=["no lines", "zero quantity", "negative quantity"],
)
def test_orders_need_lines_with_positive_quantities(lines: list[dict[str, Any]]) -> None:
    with pytest.raises(BadEvent, match="an order needs lines with positive quantities"):
        parse_event(1, ORDER_PLACED, payload(lines=lines))


def test_a_timestamp_without_a_time_zone_is_a_bad_event() -> None:
    """Naive and aware timestamps cannot be compared: one such event used to kill the projector."""
    body = {**payload(), "created_at": "2026-11-28T12:00:00"}
    with pytest.raises(BadEvent, match="has no time zone"):
        parse_event(1, ORDER_PLACED, body)
