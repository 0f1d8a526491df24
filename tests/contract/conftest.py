"""Fixtures for the HTTP contract suite: a real stack per system, on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.core.polling import wait_until
from harness.providers.cache import DEFAULT_REDIS_IMAGE
from harness.providers.docker import docker_client, image_present
from harness.stack.stacks import (
    LINEUP,
    READ_DSN_ENV,
    TOPOLOGIES,
    Stack,
    StackConfig,
    SystemKind,
)
from tests.dockerenv import containers_wanted, docker_skip_reason, provider_for_tests
from tests.shopdata import TINY

# CQRS_BENCH_TEST_SYSTEMS=baseline,cqrs narrows the lineup (CI's second pass in containers)
SYSTEMS = [
    system
    for system in LINEUP
    if system.value
    in (os.environ.get("CQRS_BENCH_TEST_SYSTEMS") or ",".join(s.value for s in LINEUP)).split(",")
]

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
    read_dsn: str | None = None  # the CQRS read models
    standby_dsn: str | None = None  # the replica's hot standby
    cache_url: str | None = None  # the cache system's Redis

    def refresh_read_models(self) -> None:
        """After writing to the normalized tables behind the app's back (test set-up)."""
        if self.cache_url is not None:
            import redis

            with redis.Redis.from_url(self.cache_url) as cache:
                cache.flushdb()
        if self.read_dsn is not None:
            from cqrs_app.readmodels import rebuild

            rebuild(self.write_dsn, self.read_dsn)
        if self.standby_dsn is not None:
            target = self.one("SELECT pg_current_wal_lsn()::text")
            with psycopg.connect(self.standby_dsn, autocommit=True) as standby:
                wait_until(
                    lambda: (
                        standby.execute(
                            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                        ).fetchone()
                        == (True,)
                    ),
                    timeout=30,
                    what="the standby to replay the set-up",
                    interval=0.05,
                )

    def sql(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(self.write_dsn, autocommit=True) as conn:
            cur = conn.execute(query, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def one(self, query: str, params: tuple[object, ...] = ()) -> object:
        return self.sql(query, params)[0][0]

    def footprint(self) -> tuple[object, ...]:
        """What a failed checkout must leave untouched."""
        return tuple(self.sql(FOOTPRINT_SQL)[0])


def redis_image_present() -> bool:
    client = docker_client()
    try:
        return bool(image_present(client, DEFAULT_REDIS_IMAGE))
    finally:
        client.close()


def start_shop(home: Path, system: SystemKind) -> tuple[Stack, Shop]:
    """A stack on local clusters, or in containers with CQRS_BENCH_TEST_PROVIDER=docker."""
    if containers_wanted() and (reason := docker_skip_reason()) is not None:
        pytest.skip(reason)
    if containers_wanted() and TOPOLOGIES[system].standbys:
        pytest.skip("a streaming standby runs on the local or external provider, not in docker")
    if containers_wanted() and TOPOLOGIES[system].redis and not redis_image_present():
        # the harness never pulls, and this machine has no registry to pull from
        pytest.skip(f"no {DEFAULT_REDIS_IMAGE} image here for the cache system's Redis")
    config = StackConfig(
        system=system,
        provider=provider_for_tests(home),
        spec=TINY,
        progress=False,
    )
    stack = Stack(config).__enter__()
    topology = config.topology
    client = httpx.Client(base_url=stack.url, timeout=30)
    standby = next(iter(topology.standbys), None)
    return stack, Shop(
        system,
        stack.url,
        stack.clusters[topology.seeded].endpoint.dsn,
        client,
        stack.dsn(READ_DSN_ENV) if topology.projector else None,
        None if standby is None else stack.clusters[standby].endpoint.dsn,
        None if stack.redis is None else stack.redis.url,
    )


@pytest.fixture(scope="module", params=SYSTEMS, ids=lambda s: s.value)
def shop(request: pytest.FixtureRequest, session_home: Path) -> Iterator[Shop]:
    stack, shop = start_shop(session_home, request.param)
    try:
        yield shop
    finally:
        shop.client.close()
        stack.stop()
