"""The shop's normalized OLTP schema, defined once (SQLAlchemy Core).

The seeder, baseline_app and cqrs_app's command side all use these tables.
Money is integer cents: exact, and cheap to bulk-load in binary COPY.
Constraints and indexes are declared here but created only after a bulk load
(see :func:`bare_table_ddl` and :func:`post_load_ddl`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import AddConstraint, CreateIndex, DefaultClause
from sqlalchemy.sql.elements import ColumnElement

SCHEMA_VERSION = 1

ORDER_STATUSES = ("paid", "shipped", "delivered", "cancelled", "refunded")
PAYMENT_STATUSES = ("captured", "refunded", "voided")
PAYMENT_METHODS = ("card", "paypal", "gift_card", "apple_pay")

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), nullable=False),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="users_pkey"),
    UniqueConstraint("email", name="users_email_key"),
)

products = Table(
    "products",
    metadata,
    Column("id", BigInteger, Identity(), nullable=False),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", name="products_pkey"),
    CheckConstraint("price_cents > 0", name="products_price_positive"),
    CheckConstraint("stock >= 0", name="products_stock_not_negative"),
    Index("products_category_idx", "category", "id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, Identity(), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id", name="orders_user_fkey"), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("id", name="orders_pkey"),
    CheckConstraint("total_cents >= 0", name="orders_total_not_negative"),
    Index("orders_user_created_idx", "user_id", "created_at"),
    Index("orders_created_idx", "created_at"),
)

order_items = Table(
    "order_items",
    metadata,
    Column(
        "order_id",
        BigInteger,
        ForeignKey("orders.id", name="order_items_order_fkey"),
        nullable=False,
    ),
    Column(
        "product_id",
        BigInteger,
        ForeignKey("products.id", name="order_items_product_fkey"),
        nullable=False,
    ),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
    PrimaryKeyConstraint("order_id", "product_id", name="order_items_pkey"),
    CheckConstraint("quantity > 0", name="order_items_quantity_positive"),
    Index("order_items_product_idx", "product_id"),
)

payments = Table(
    "payments",
    metadata,
    Column(
        "order_id", BigInteger, ForeignKey("orders.id", name="payments_order_fkey"), nullable=False
    ),
    Column("amount_cents", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("gateway_ref", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("order_id", name="payments_pkey"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("response", postgresql.JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("key", name="idempotency_keys_pkey"),
)

# Load order: parents before children does not matter for a bare load, but
# the ones the seeder streams together are listed together.
SEEDED_TABLES = (users, products, orders, order_items, payments)

_dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


def bare_table_ddl(table: Table) -> str:
    """CREATE TABLE with columns and NOT NULL only: what a bulk load wants."""
    columns = []
    for column in table.columns:
        sql_type = column.type.compile(dialect=_dialect)
        null = " NOT NULL" if not column.nullable else ""
        columns.append(f"{column.name} {sql_type}{null}")
    return f"CREATE TABLE {table.name} ({', '.join(columns)})"


def post_load_ddl(tables: tuple[Table, ...] = SEEDED_TABLES) -> list[list[list[str]]]:
    """Constraints, indexes and defaults to add after a bulk load.

    Returns stages; a stage is a list of jobs, one per table, whose statements
    run in order on one connection while jobs of the same stage may run in
    parallel. Stage 1 builds primary keys and unique constraints (foreign keys
    need them), stage 2 foreign keys, checks and secondary indexes, stage 3
    defaults and identities that continue after the loaded rows.
    """
    stages: list[list[list[str]]] = [[], [], []]
    for table in tables:
        keys: list[str] = []
        rest: list[str] = []
        tail: list[str] = []
        for constraint in table.constraints:
            sql = str(AddConstraint(constraint).compile(dialect=_dialect))
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                keys.append(sql)
            else:
                rest.append(sql)
        rest.extend(str(CreateIndex(index).compile(dialect=_dialect)) for index in table.indexes)
        for column in table.columns:
            default = column.server_default
            if isinstance(default, DefaultClause) and isinstance(default.arg, ColumnElement):
                expr = default.arg.compile(dialect=_dialect)
                tail.append(
                    f"ALTER TABLE {table.name} ALTER COLUMN {column.name} SET DEFAULT {expr}"
                )
            if column.identity is not None:
                tail.append(
                    f"ALTER TABLE {table.name} ALTER COLUMN {column.name} "
                    "ADD GENERATED BY DEFAULT AS IDENTITY"
                )
                tail.append(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                )
        for stage, job in zip(stages, (keys, rest, tail), strict=True):
            if job:
                stage.append(job)
    # the biggest table's job takes longest: start it first
    stages[1].sort(key=lambda job: not job[0].startswith("ALTER TABLE order_items"))
    return stages


def create_all_ddl(tables: tuple[Table, ...] = (*SEEDED_TABLES, idempotency_keys)) -> list[str]:
    """Every statement to create the schema on an empty database, in order."""
    statements = [bare_table_ddl(table) for table in tables]
    for stage in post_load_ddl(tables):
        for job in stage:
            statements.extend(job)
    return statements
