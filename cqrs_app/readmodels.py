"""Read models: built from the write database (rebuild), kept up by the projector
(apply), and checked against the write database (verify).

The write and read databases are separate clusters, so rebuild streams each
model out of one (``COPY (query) TO STDOUT``) and into the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg

from cqrs_app.commands import CQRS_CHECKOUT_DDL
from cqrs_app.events import OrderPlaced, business_values_sql
from cqrs_app.tables import OUTBOX_DDL, projector_checkpoint, read_side_ddl
from shop.views import REVENUE_STATUSES

_REVENUE = ", ".join(f"'{status}'" for status in REVENUE_STATUSES)
CATEGORY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Model:
    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    source: str  # SQL on the write database, rows in ``columns`` order
    today_only: bool = False


MODELS = (
    Model(
        "order_summaries",
        (
            "order_id",
            "user_id",
            "status",
            "status_label",
            "loyalty_points",
            "refund_deadline",
            "total_cents",
            "item_count",
            "created_at",
        ),
        ("order_id",),
        f"""
        SELECT o.id, o.user_id, o.status,
               {business_values_sql("o.status", "o.total_cents", "o.created_at")},
               o.total_cents, i.n, o.created_at
        FROM orders o
        JOIN (SELECT order_id, count(*) AS n FROM order_items GROUP BY order_id) i
          ON i.order_id = o.id
        """,
    ),
    Model(
        "customer_stats",
        ("user_id", "name", "order_count", "lifetime_cents", "last_order_at", "categories"),
        ("user_id",),
        f"""
        WITH per_user AS (
            SELECT user_id, count(*) AS n, sum(total_cents) AS cents, max(created_at) AS last
            FROM orders WHERE status IN ({_REVENUE}) GROUP BY user_id),
        bought AS (
            SELECT o.user_id, array_agg(DISTINCT p.category ORDER BY p.category) AS categories
            FROM orders o
            JOIN order_items i ON i.order_id = o.id
            JOIN products p ON p.id = i.product_id
            WHERE o.status IN ({_REVENUE}) GROUP BY o.user_id)
        SELECT u.id, u.name, coalesce(per_user.n, 0), coalesce(per_user.cents, 0)::bigint,
               per_user.last, coalesce(bought.categories, '{{}}')
        FROM users u
        LEFT JOIN per_user ON per_user.user_id = u.id
        LEFT JOIN bought ON bought.user_id = u.id
        """,
    ),
    Model(
        "daily_revenue",
        ("day", "revenue_cents", "orders"),
        ("day",),
        f"""
        SELECT (created_at AT TIME ZONE 'UTC')::date, sum(total_cents)::bigint, count(*)
        FROM orders WHERE status IN ({_REVENUE}) GROUP BY 1
        """,
    ),
    Model(
        "product_catalog",
        ("id", "name", "category", "price_cents", "stock"),
        ("id",),
        "SELECT id, name, category, price_cents, stock FROM products",
    ),
    Model(
        "product_sales_today",
        ("product_id", "day", "quantity"),
        ("product_id", "day"),
        """
        SELECT i.product_id, (o.created_at AT TIME ZONE 'UTC')::date, sum(i.quantity)::bigint
        FROM orders o JOIN order_items i ON i.order_id = o.id
        WHERE o.created_at >= date_trunc('day', now(), 'UTC')
        GROUP BY 1, 2
        """,
        today_only=True,
    ),
)


def prepare_write_side(write_dsn: str) -> None:
    """The outbox and the command side's checkout function, on the write database."""
    with psycopg.connect(write_dsn, autocommit=True) as conn:
        for statement in OUTBOX_DDL:
            conn.execute(statement)
        conn.execute(CQRS_CHECKOUT_DDL.encode())


def prepare_read_side(read_dsn: str) -> None:
    with psycopg.connect(read_dsn, autocommit=True) as conn:
        for statement in read_side_ddl():
            conn.execute(statement)


@dataclass
class RebuildResult:
    rows: dict[str, int]
    snapshot: str


def rebuild(write_dsn: str, read_dsn: str) -> RebuildResult:
    """Every read model from one snapshot of the write database; checkpoint reset.

    Outbox rows of transactions visible in that snapshot are already counted;
    the snapshot is stored so the projector skips exactly those.
    """
    prepare_write_side(write_dsn)
    prepare_read_side(read_dsn)
    rows: dict[str, int] = {}
    with psycopg.connect(write_dsn) as source, psycopg.connect(read_dsn) as target:
        source.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot_row = source.execute("SELECT pg_current_snapshot()::text").fetchone()
        assert snapshot_row is not None
        snapshot = str(snapshot_row[0])
        target.execute("SET LOCAL synchronous_commit = off")
        for model in MODELS:
            target.execute(f"TRUNCATE {model.table}")
            columns = ", ".join(model.columns)
            with (
                source.cursor().copy(f"COPY ({model.source}) TO STDOUT") as out,
                target.cursor().copy(f"COPY {model.table} ({columns}) FROM STDIN") as into,
            ):
                for block in out:
                    into.write(block)
            count = target.execute(f"SELECT count(*) FROM {model.table}").fetchone()
            rows[model.table] = int(count[0]) if count else 0
        target.execute(
            f"""
            INSERT INTO {projector_checkpoint.name}
                (id, last_xid, last_id, rebuild_snapshot, events_applied, batches_applied,
                 rebuilt_at)
            VALUES (1, 0, 0, %s, 0, 0, now())
            ON CONFLICT (id) DO UPDATE SET last_xid = 0, last_id = 0,
                rebuild_snapshot = EXCLUDED.rebuild_snapshot, events_applied = 0,
                batches_applied = 0, last_applied_at = NULL, last_lag_ms = NULL, rebuilt_at = now(),
                generation = {projector_checkpoint.name}.generation + 1,
                stalled_reason = NULL, stalled_at = NULL
            """,
            (snapshot,),
        )
        target.commit()
        source.commit()
    with psycopg.connect(read_dsn, autocommit=True) as conn:
        for model in MODELS:
            conn.execute(f"ANALYZE {model.table}")
    return RebuildResult(rows, snapshot)


# -- applying a batch of events ---------------------------------------------------------


@dataclass
class Batch:
    """Events aggregated in memory: one upsert per user, day and product per batch."""

    summaries: list[tuple[Any, ...]] = field(default_factory=list)
    users: dict[int, list[Any]] = field(default_factory=dict)  # name, count, cents, last, cats
    days: dict[date, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    stock: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sales: dict[tuple[int, date], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, event: OrderPlaced) -> None:
        self.summaries.append(
            (
                event.order_id,
                event.user_id,
                event.status,
                event.status_label,
                event.loyalty_points,
                event.refund_deadline,
                event.total_cents,
                len(event.lines),
                event.created_at,
            )
        )
        day = utc_day(event.created_at)
        for line in event.lines:
            self.stock[line.product_id] += line.quantity
            self.sales[(line.product_id, day)] += line.quantity
        if not event.counts_as_revenue:
            return
        entry = self.users.setdefault(
            event.user_id, [event.user_name, 0, 0, event.created_at, set()]
        )
        entry[1] += 1
        entry[2] += event.total_cents
        entry[3] = max(entry[3], event.created_at)
        entry[4].update(line.category for line in event.lines)
        self.days[day][0] += event.total_cents
        self.days[day][1] += 1


def utc_day(moment: datetime) -> date:
    offset = moment.utcoffset()
    return (moment - offset).date() if offset else moment.date()


def apply_batch(conn: psycopg.Connection[Any], batch: Batch) -> None:
    """Write an aggregated batch into the read models (inside the caller's transaction)."""
    if batch.summaries:
        columns = list(zip(*batch.summaries, strict=True))
        conn.execute(
            """
            INSERT INTO order_summaries (order_id, user_id, status, status_label, loyalty_points,
                refund_deadline, total_cents, item_count, created_at)
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::int[],
                %s::date[], %s::bigint[], %s::int[], %s::timestamptz[])
            ON CONFLICT (order_id) DO NOTHING
            """,
            [list(c) for c in columns],
        )
    if batch.users:
        ids = sorted(batch.users)
        conn.execute(
            """
            INSERT INTO customer_stats AS cs
                (user_id, name, order_count, lifetime_cents, last_order_at, categories)
            SELECT u, n, c, s, l, string_to_array(cats, E'\\x1f')
            FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[],
                        %s::timestamptz[], %s::text[]) AS v(u, n, c, s, l, cats)
            ON CONFLICT (user_id) DO UPDATE SET
                order_count = cs.order_count + EXCLUDED.order_count,
                lifetime_cents = cs.lifetime_cents + EXCLUDED.lifetime_cents,
                last_order_at = GREATEST(cs.last_order_at, EXCLUDED.last_order_at),
                categories = ARRAY(SELECT DISTINCT c
                                   FROM unnest(cs.categories || EXCLUDED.categories)
                                   AS c ORDER BY c)
            """,
            [
                ids,
                [batch.users[u][0] for u in ids],
                [batch.users[u][1] for u in ids],
                [batch.users[u][2] for u in ids],
                [batch.users[u][3] for u in ids],
                [CATEGORY_SEPARATOR.join(sorted(batch.users[u][4])) for u in ids],
            ],
        )
    if batch.days:
        days = sorted(batch.days)
        conn.execute(
            """
            INSERT INTO daily_revenue AS d (day, revenue_cents, orders)
            SELECT * FROM unnest(%s::date[], %s::bigint[], %s::bigint[])
            ON CONFLICT (day) DO UPDATE SET
                revenue_cents = d.revenue_cents + EXCLUDED.revenue_cents,
                orders = d.orders + EXCLUDED.orders
            """,
            [days, [batch.days[d][0] for d in days], [batch.days[d][1] for d in days]],
        )
    if batch.stock:
        products = sorted(batch.stock)
        conn.execute(
            "UPDATE product_catalog p SET stock = p.stock - v.q"
            " FROM unnest(%s::bigint[], %s::int[]) AS v(id, q) WHERE p.id = v.id",
            [products, [batch.stock[p] for p in products]],
        )
    if batch.sales:
        keys = sorted(batch.sales)
        conn.execute(
            """
            INSERT INTO product_sales_today AS s (product_id, day, quantity)
            SELECT * FROM unnest(%s::bigint[], %s::date[], %s::bigint[])
            ON CONFLICT (product_id, day) DO UPDATE SET quantity = s.quantity + EXCLUDED.quantity
            """,
            [[k[0] for k in keys], [k[1] for k in keys], [batch.sales[k] for k in keys]],
        )


# -- verify ------------------------------------------------------------------------------


@dataclass
class Difference:
    model: str
    key: tuple[Any, ...]
    expected: tuple[Any, ...] | None
    actual: tuple[Any, ...] | None

    def to_json(self) -> dict[str, Any]:
        def plain(row: Sequence[Any] | None) -> list[Any] | None:
            return (
                None
                if row is None
                else [str(v) if isinstance(v, date | datetime) else v for v in row]
            )

        return {
            "model": self.model,
            "key": plain(self.key),
            "expected": plain(self.expected),
            "actual": plain(self.actual),
            "problem": "missing"
            if self.actual is None
            else "extra"
            if self.expected is None
            else "differs",
        }


def _rows(conn: psycopg.Connection[Any], sql: str, name: str) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name=name) as cursor:
        cursor.itersize = 20_000
        cursor.execute(sql)
        yield from cursor


def compare(
    model: Model, expected: Iterator[tuple[Any, ...]], actual: Iterator[tuple[Any, ...]]
) -> Iterator[Difference]:
    """Merge two key-sorted row streams, yielding every difference."""
    width = len(model.key)
    exp, act = next(expected, None), next(actual, None)
    while exp is not None or act is not None:
        if act is None or (exp is not None and exp[:width] < act[:width]):
            assert exp is not None
            yield Difference(model.table, exp[:width], exp, None)
            exp = next(expected, None)
        elif exp is None or act[:width] < exp[:width]:
            yield Difference(model.table, act[:width], None, act)
            act = next(actual, None)
        else:
            if exp != act:
                yield Difference(model.table, exp[:width], exp, act)
            exp, act = next(expected, None), next(actual, None)


def verify(write_dsn: str, read_dsn: str, *, limit: int = 100) -> dict[str, Any]:
    """Recompute every read model from the write database and list the differences."""
    per_model: dict[str, dict[str, int]] = {}
    differences: list[Difference] = []
    total = 0
    with psycopg.connect(write_dsn) as source, psycopg.connect(read_dsn) as target:
        source.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        today_row = source.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()
        assert today_row is not None
        today = today_row[0]
        for model in MODELS:
            order = ", ".join(str(i + 1) for i in range(len(model.key)))
            columns = ", ".join(model.columns)
            where = f" WHERE day = '{today.isoformat()}'" if model.today_only else ""
            counted = {"expected": 0, "actual": 0, "differences": 0}

            def counting(rows: Iterator[tuple[Any, ...]], side: str) -> Iterator[tuple[Any, ...]]:
                for row in rows:
                    counted[side] += 1  # noqa: B023 (consumed within this iteration)
                    yield row

            expected = counting(
                _rows(source, f"SELECT * FROM ({model.source}) s ORDER BY {order}", "expected"),
                "expected",
            )
            actual = counting(
                _rows(
                    target, f"SELECT {columns} FROM {model.table}{where} ORDER BY {order}", "actual"
                ),
                "actual",
            )
            for difference in compare(model, expected, actual):
                counted["differences"] += 1
                total += 1
                if len(differences) < limit:
                    differences.append(difference)
            per_model[model.table] = counted
        source.commit()
        dead = target.execute("SELECT count(*) FROM dead_letters").fetchone()
    return {
        "ok": total == 0,
        "difference_count": total,
        "differences": [d.to_json() for d in differences],
        "models": per_model,
        "dead_letters": int(dead[0]) if dead else 0,
    }


def pending_events(write_dsn: str, read_dsn: str) -> int:
    """Outbox events the projector has yet to apply (committed or not)."""
    with psycopg.connect(read_dsn, connect_timeout=5) as read:
        row = read.execute(
            "SELECT last_xid, last_id, rebuild_snapshot FROM projector_checkpoint WHERE id = 1"
        ).fetchone()
    if row is None:
        raise RuntimeError("the read database has no checkpoint: run rebuild first")
    with psycopg.connect(write_dsn, connect_timeout=5) as write:
        count = write.execute(
            "SELECT count(*) FROM outbox WHERE (xid, id) > (%(xid)s::text::xid8, %(id)s)"
            " AND (%(snapshot)s::text IS NULL"
            "      OR NOT pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot))",
            {"xid": row[0], "id": row[1], "snapshot": row[2]},
        ).fetchone()
    return int(count[0]) if count else 0
