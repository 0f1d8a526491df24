"""The generated data, loaded into real PostgreSQL: deterministic, consistent, skewed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from harness.providers.base import Endpoint
from harness.providers.binaries import find_binaries
from harness.providers.local import LocalCluster, LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS
from harness.seed.loader import load_generated, refuse_existing_tables
from tests.shopdata import TINY, scalar, table_checksums


@pytest.fixture(scope="module")
def seeded(session_home: Path) -> Iterator[dict[str, Endpoint]]:
    """One cluster with three databases: TINY twice and TINY with another seed."""
    cluster: LocalCluster = LocalProvider(
        session_home, find_binaries(), BENCHMARK_SETTINGS
    ).cluster("seed")
    with cluster:
        with psycopg.connect(cluster.endpoint.dsn, autocommit=True) as conn:
            for name in ("first", "again", "other"):
                conn.execute(f"CREATE DATABASE {name}")
        endpoints = {
            name: cluster.endpoint.with_dbname(name) for name in ("first", "again", "other")
        }
        load_generated(endpoints["first"], TINY)
        load_generated(endpoints["again"], TINY)
        load_generated(endpoints["other"], replace(TINY, seed=TINY.seed + 1))
        yield endpoints


@pytest.mark.slow
def test_same_seed_same_rows_other_seed_other_rows(seeded: dict[str, Endpoint]) -> None:
    first = table_checksums(seeded["first"].dsn)
    assert first == table_checksums(seeded["again"].dsn)
    other = table_checksums(seeded["other"].dsn)
    assert all(first[table] != other[table] for table in first)


@pytest.mark.slow
def test_row_counts_match_the_spec(seeded: dict[str, Endpoint]) -> None:
    dsn = seeded["first"].dsn
    assert scalar(dsn, "SELECT count(*) FROM users") == TINY.users
    assert scalar(dsn, "SELECT count(*) FROM products") == TINY.products
    assert scalar(dsn, "SELECT count(*) FROM orders") == TINY.orders
    assert scalar(dsn, "SELECT count(*) FROM payments") == TINY.orders
    items = scalar(dsn, "SELECT count(*) FROM order_items")
    assert isinstance(items, int)
    assert TINY.orders <= items <= 6 * TINY.orders


@pytest.mark.slow
def test_referential_integrity_is_enforced_and_holds(seeded: dict[str, Endpoint]) -> None:
    dsn = seeded["first"].dsn
    validated = scalar(
        dsn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"
    )
    assert validated == 4
    assert (
        scalar(
            dsn,
            "SELECT count(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL",
        )
        == 0
    )
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("INSERT INTO order_items VALUES (1, 999999, 1, 100)")


@pytest.mark.slow
def test_every_order_total_is_the_sum_of_its_items(seeded: dict[str, Endpoint]) -> None:
    dsn = seeded["first"].dsn
    mismatches = scalar(
        dsn,
        """
        SELECT count(*) FROM orders o
        JOIN (SELECT order_id, sum(quantity * unit_price_cents) AS s, count(*) AS n
              FROM order_items GROUP BY order_id) i ON i.order_id = o.id
        WHERE o.total_cents <> i.s OR i.n NOT BETWEEN 1 AND 6
        """,
    )
    assert mismatches == 0
    assert (
        scalar(
            dsn, "SELECT count(*) FROM orders WHERE id NOT IN (SELECT order_id FROM order_items)"
        )
        == 0
    )
    assert (
        scalar(
            dsn,
            "SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.amount_cents <> o.total_cents",
        )
        == 0
    )
    assert (
        scalar(
            dsn,
            "SELECT count(*) FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.unit_price_cents <> p.price_cents",
        )
        == 0
    )


@pytest.mark.slow
def test_stock_is_never_negative(seeded: dict[str, Endpoint]) -> None:
    assert scalar(seeded["first"].dsn, "SELECT min(stock) FROM products") >= 0  # type: ignore[operator]


@pytest.mark.slow
def test_a_few_customers_hold_much_of_the_volume(seeded: dict[str, Endpoint]) -> None:
    share = scalar(
        seeded["first"].dsn,
        """
        WITH per_user AS (
            SELECT u.id, count(o.id) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id
            GROUP BY u.id),
        ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM per_user)
        SELECT sum(n) FILTER (WHERE decile = 1)::float / sum(n) FROM ranked
        """,
    )
    assert isinstance(share, float)
    assert share >= 0.30


@pytest.mark.slow
def test_orders_follow_daily_and_weekly_cycles(seeded: dict[str, Endpoint]) -> None:
    dsn = seeded["first"].dsn
    night_to_evening = scalar(
        dsn,
        """SELECT (count(*) FILTER (WHERE extract(hour FROM created_at AT TIME ZONE 'UTC') BETWEEN 2 AND 4))::float
                / count(*) FILTER (WHERE extract(hour FROM created_at AT TIME ZONE 'UTC') BETWEEN 18 AND 20)
           FROM orders""",
    )
    assert isinstance(night_to_evening, float)
    assert night_to_evening < 0.25
    span_days = scalar(
        dsn, "SELECT extract(day FROM max(created_at) - min(created_at)) FROM orders"
    )
    assert 300 <= float(span_days) <= 366  # type: ignore[arg-type]
    ids_follow_time = scalar(
        dsn,
        "SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back"
        " FROM orders) s WHERE back",
    )
    assert ids_follow_time == 0


@pytest.mark.slow
def test_loading_into_a_database_with_the_tables_is_refused(seeded: dict[str, Endpoint]) -> None:
    from harness.core.errors import BadInput

    with pytest.raises(BadInput, match="does not overwrite"):
        refuse_existing_tables(seeded["first"])


@pytest.mark.slow
def test_new_orders_continue_after_the_seeded_ids(seeded: dict[str, Endpoint]) -> None:
    with psycopg.connect(seeded["again"].dsn) as conn:
        row = conn.execute(
            "INSERT INTO orders (user_id, total_cents, status) VALUES (1, 0, 'paid') RETURNING id, created_at"
        ).fetchone()
        conn.rollback()
    assert row is not None
    assert row[0] == TINY.orders + 1
