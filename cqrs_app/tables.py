"""cqrs_app's tables: the shared normalized schema plus the outbox on the write
database, and on the read database one table per page plus the projector's state."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from shop.schema import (
    idempotency_keys,
    order_items,
    orders,
    payments,
    products,
    users,
)

# Written by hand, as SQLAlchemy has no xid8 type. ``xid`` is the writing
# transaction's id: commit order is only knowable through it (a bigserial id
# is taken at insert and becomes visible at commit, out of order).
OUTBOX_DDL = (
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """,
    "CREATE INDEX IF NOT EXISTS outbox_xid_id_idx ON outbox (xid, id)",
)

read_metadata = MetaData()

order_summaries = Table(
    "order_summaries",
    read_metadata,
    Column("order_id", BigInteger, nullable=False, autoincrement=False),
    Column("user_id", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_label", Text, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("loyalty_points", Integer, nullable=False),
    Column("refund_deadline", Date, nullable=False),
    # When the projector wrote the row: with created_at, the end-to-end projection lag.
    Column(
        "projected_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.clock_timestamp(),
    ),
    PrimaryKeyConstraint("order_id", name="order_summaries_pkey"),
    Index("order_summaries_user_idx", "user_id", text("created_at DESC"), text("order_id DESC")),
)

customer_stats = Table(
    "customer_stats",
    read_metadata,
    Column("user_id", BigInteger, nullable=False, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("order_count", BigInteger, nullable=False),
    Column("lifetime_cents", BigInteger, nullable=False),
    Column("last_order_at", DateTime(timezone=True)),
    Column("categories", postgresql.ARRAY(Text), nullable=False),
    PrimaryKeyConstraint("user_id", name="customer_stats_pkey"),
    Index("customer_stats_ltv_idx", text("lifetime_cents DESC"), "user_id"),
)

daily_revenue = Table(
    "daily_revenue",
    read_metadata,
    Column("day", Date, nullable=False),
    Column("revenue_cents", BigInteger, nullable=False),
    Column("orders", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", name="daily_revenue_pkey"),
)

product_catalog = Table(
    "product_catalog",
    read_metadata,
    Column("id", BigInteger, nullable=False, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    PrimaryKeyConstraint("id", name="product_catalog_pkey"),
    Index("product_catalog_category_idx", "category", "id"),
)

product_sales_today = Table(
    "product_sales_today",
    read_metadata,
    Column("product_id", BigInteger, nullable=False),
    Column("day", Date, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    PrimaryKeyConstraint("product_id", "day", name="product_sales_today_pkey"),
)

projector_checkpoint = Table(
    "projector_checkpoint",
    read_metadata,
    Column("id", Integer, nullable=False, autoincrement=False),
    Column("last_xid", BigInteger, nullable=False),
    Column("last_id", BigInteger, nullable=False),
    # Rows of transactions visible in the rebuild's snapshot are already in
    # the read models; the projector skips them.
    Column("rebuild_snapshot", Text),
    Column("events_applied", BigInteger, nullable=False, server_default="0"),
    Column("batches_applied", BigInteger, nullable=False, server_default="0"),
    Column("last_applied_at", DateTime(timezone=True)),
    Column("last_lag_ms", BigInteger),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("leader_pid", Integer),
    Column("rebuilt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # bumped by every rebuild: the checkpoint's compare-and-set includes it
    Column("generation", BigInteger, nullable=False, server_default="0"),
    # why the projector applies nothing (an error that hits every event), and since when
    Column("stalled_reason", Text),
    Column("stalled_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("id", name="projector_checkpoint_pkey"),
)

dead_letters = Table(
    "dead_letters",
    read_metadata,
    Column("id", BigInteger, Identity(), nullable=False),
    Column("outbox_id", BigInteger, nullable=False),
    Column("xid", BigInteger, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", postgresql.JSONB, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="dead_letters_pkey"),
)

READ_MODELS = (order_summaries, customer_stats, daily_revenue, product_catalog, product_sales_today)

_dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


# Columns added after the first release: a read database made before gets them.
ADDED_COLUMNS = (
    "ALTER TABLE projector_checkpoint"
    " ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0",
    "ALTER TABLE projector_checkpoint ADD COLUMN IF NOT EXISTS stalled_reason text",
    "ALTER TABLE projector_checkpoint ADD COLUMN IF NOT EXISTS stalled_at timestamptz",
)


def read_side_ddl() -> list[str]:
    statements = []
    for table in read_metadata.sorted_tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=_dialect)))
        statements.extend(
            str(CreateIndex(index, if_not_exists=True).compile(dialect=_dialect))
            for index in table.indexes
        )
    return [*statements, *ADDED_COLUMNS]


__all__ = [
    "OUTBOX_DDL",
    "READ_MODELS",
    "customer_stats",
    "daily_revenue",
    "dead_letters",
    "idempotency_keys",
    "order_items",
    "order_summaries",
    "orders",
    "payments",
    "product_catalog",
    "product_sales_today",
    "products",
    "projector_checkpoint",
    "read_side_ddl",
    "users",
]
