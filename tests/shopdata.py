"""Helpers to inspect a seeded shop database in tests."""

from __future__ import annotations

import psycopg

from harness.seed.spec import DatasetSpec
from shop.schema import SEEDED_TABLES

TINY = DatasetSpec(users=300, products=60, orders=3_000, seed=7)
TINY_ARGS = (
    *("--users", str(TINY.users), "--products", str(TINY.products)),
    *("--orders", str(TINY.orders), "--seed", str(TINY.seed)),
)


def table_checksums(dsn: str) -> dict[str, str]:
    sums = {}
    with psycopg.connect(dsn) as conn:
        for table in SEEDED_TABLES:
            key = ", ".join(c.name for c in table.primary_key.columns)
            row = conn.execute(
                f"SELECT md5(string_agg(md5(t::text), '' ORDER BY {key})) FROM {table.name} t"
            ).fetchone()
            assert row is not None
            sums[table.name] = row[0]
    return sums


def scalar(dsn: str, sql: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return row[0]
