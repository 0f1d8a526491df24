"""The events the command side writes to the outbox, and the business values they carry.

Values pages show (status label, loyalty points, refund deadline) are decided
here, on the command side, once; query handlers only display them. The
rebuild path derives the same values from the normalized tables with
:func:`business_values_sql`, generated from the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shop.checkout import PlacedOrder

ORDER_PLACED = "OrderPlaced"
# notified when a transaction that wrote an event commits: wakes the projector
NOTIFY_CHANNEL = "outbox_events"
EVENT_VERSION = 1
REFUND_WINDOW_DAYS = 30
CENTS_PER_LOYALTY_POINT = 100
STATUS_LABELS = {
    "paid": "Paid - preparing your parcel",
    "shipped": "On its way",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
}
EARNS_POINTS = ("paid", "shipped", "delivered")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.title())


def loyalty_points(status: str, total_cents: int) -> int:
    return total_cents // CENTS_PER_LOYALTY_POINT if status in EARNS_POINTS else 0


def refund_deadline(created_at: datetime) -> date:
    """Counted from the order's UTC day, as :func:`business_values_sql` counts it.

    The database hands timestamps back in the session's time zone, which need
    not be UTC; a local date would differ from rebuild's near midnight.
    """
    utc = created_at.astimezone(UTC) if created_at.tzinfo is not None else created_at
    return (utc + timedelta(days=REFUND_WINDOW_DAYS)).date()


def business_values_sql(status: str, total: str, created_at: str) -> str:
    """The same business values as SQL over columns (for rebuild and verify)."""
    labels = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in STATUS_LABELS.items())
    earning = ", ".join(f"'{s}'" for s in EARNS_POINTS)
    return (
        f"CASE {status} {labels} ELSE initcap({status}) END AS status_label, "
        f"(CASE WHEN {status} IN ({earning}) THEN {total} / {CENTS_PER_LOYALTY_POINT} ELSE 0 END)"
        "::int"
        " AS loyalty_points, "
        f"(({created_at} AT TIME ZONE 'UTC') + interval '{REFUND_WINDOW_DAYS} days')::date"
        " AS refund_deadline"
    )


def order_placed(order: PlacedOrder) -> dict[str, Any]:
    return {
        "version": EVENT_VERSION,
        "order_id": order.order_id,
        "user_id": order.user_id,
        "user_name": order.user_name,
        "status": order.status,
        "status_label": status_label(order.status),
        "total_cents": order.total_cents,
        "created_at": order.created_at.isoformat(),
        "loyalty_points": loyalty_points(order.status, order.total_cents),
        "refund_deadline": refund_deadline(order.created_at).isoformat(),
        "lines": [
            {
                "product_id": line.product_id,
                "category": line.category,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in order.lines
        ],
    }


class BadEvent(ValueError):
    """An outbox event the projector cannot apply (it goes to the dead-letter table)."""


@dataclass(frozen=True)
class Line:
    product_id: int
    category: str
    quantity: int


@dataclass(frozen=True)
class OrderPlaced:
    outbox_id: int
    order_id: int
    user_id: int
    user_name: str
    status: str
    status_label: str
    total_cents: int
    created_at: datetime
    loyalty_points: int
    refund_deadline: date
    lines: tuple[Line, ...]

    @property
    def counts_as_revenue(self) -> bool:
        return self.status in EARNS_POINTS


def parse_event(outbox_id: int, event_type: str, payload: Any) -> OrderPlaced:
    if event_type != ORDER_PLACED:
        raise BadEvent(f"unknown event type {event_type!r}")
    try:
        if payload["version"] != EVENT_VERSION:
            raise BadEvent(f"unknown {ORDER_PLACED} version {payload['version']!r}")
        lines = tuple(
            Line(int(line["product_id"]), str(line["category"]), int(line["quantity"]))
            for line in payload["lines"]
        )
        if not lines or any(line.quantity <= 0 for line in lines):
            raise BadEvent("an order needs lines with positive quantities")
        created_at = datetime.fromisoformat(payload["created_at"])
        if created_at.tzinfo is None:
            raise BadEvent(f"created_at {payload['created_at']!r} has no time zone")
        return OrderPlaced(
            outbox_id=outbox_id,
            order_id=int(payload["order_id"]),
            user_id=int(payload["user_id"]),
            user_name=str(payload["user_name"]),
            status=str(payload["status"]),
            status_label=str(payload["status_label"]),
            total_cents=int(payload["total_cents"]),
            created_at=created_at,
            loyalty_points=int(payload["loyalty_points"]),
            refund_deadline=date.fromisoformat(payload["refund_deadline"]),
            lines=lines,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BadEvent):
            raise
        raise BadEvent(f"malformed {ORDER_PLACED}: {type(exc).__name__}: {exc}") from None
