"""Fixtures for the HTTP contract suite: a real stack per system, on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.providers import ProviderConfig, ProviderKind
from harness.stack.stacks import Stack, StackConfig, SystemKind
from tests.shopdata import TINY

SYSTEMS = [SystemKind.BASELINE, SystemKind.CQRS]

# What a refused request must leave untouched, on the write side.
FOOTPRINT_SQL = (
    "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items),"
    " (SELECT count(*) FROM payments), (SELECT sum(stock) FROM products),"
    " (SELECT count(*) FROM idempotency_keys),"
    # the outbox's id sequence: the projector prunes rows, but no
    # insert, even a rolled-back one, goes unnoticed here
    " (SELECT CASE WHEN to_regclass('outbox') IS NULL THEN -1 ELSE"
    "  pg_sequence_last_value(pg_get_serial_sequence('outbox', 'id')) END)"
)


@dataclass
class Shop:
    system: SystemKind
    url: str
    write_dsn: str  # the normalized tables (baseline: its one database)
    client: httpx.Client
    read_dsn: str | None = None

    def refresh_read_models(self) -> None:
        """After writing to the normalized tables behind the app's back (test set-up)."""
        if self.read_dsn is not None:
            from cqrs_app.readmodels import rebuild

            rebuild(self.write_dsn, self.read_dsn)

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(self.write_dsn, autocommit=True) as conn:
            cur = conn.execute(query, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def one(self, query: str, params: tuple[object, ...] = ()) -> object:
        return self.sql(query, params)[0][0]

    def footprint(self) -> tuple[object, ...]:
        """What a failed checkout must leave untouched."""
        return tuple(self.sql(FOOTPRINT_SQL)[0])


def start_shop(home: Path, system: SystemKind) -> tuple[Stack, Shop]:
    config = StackConfig(
        system=system,
        provider=ProviderConfig(home=home, kind=ProviderKind.LOCAL),
        spec=TINY,
        progress=False,
    )
    stack = Stack(config).__enter__()
    write = "db" if system is SystemKind.BASELINE else "write"
    client = httpx.Client(base_url=stack.url, timeout=30)
    read = stack.clusters.get("read")
    return stack, Shop(
        system,
        stack.url,
        stack.clusters[write].endpoint.dsn,
        client,
        None if read is None else read.endpoint.dsn,
    )


@pytest.fixture(scope="module", params=SYSTEMS, ids=lambda s: s.value)
def shop(request: pytest.FixtureRequest, session_home: Path) -> Iterator[Shop]:
    stack, shop = start_shop(session_home, request.param)
    try:
        yield shop
    finally:
        shop.client.close()
        stack.stop()
