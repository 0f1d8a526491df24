"""``cqrs-bench calibrate seed``: the seeder measured against this machine's limits.

On one cluster with the bulk-load settings it times three ways of loading
the same kind of rows (the first two twice each, in ABBA order):
- the seeder (generate with numpy, stream binary COPY while generating);
- a raw COPY of the very same rows already formatted in memory: nothing is
  generated while it runs, so it is the most this machine and PostgreSQL can
  take through the same streams;
- a naive loop on a small sample: Faker called per row, one INSERT per row.
Keys and indexes are left out of all three: they cost the same whoever loads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from faker import Faker

from harness.providers.base import Endpoint
from harness.providers.binaries import find_binaries
from harness.providers.local import LocalCluster
from harness.providers.settings import BENCHMARK_SETTINGS, BULK_LOAD_SETTINGS, merged
from harness.seed.generate import ShopGenerator
from harness.seed.loader import generated_parts, load_parts
from harness.seed.spec import DatasetSpec
from shop.schema import SEEDED_TABLES, bare_table_ddl


@dataclass(frozen=True)
class CalibrateSeedConfig:
    home: Path
    orders: int = 500_000
    naive_orders: int = 1_000
    seed: int = 42
    pg_bin_dir: Path | None = None


def spec_for_orders(orders: int, seed: int) -> DatasetSpec:
    return DatasetSpec(
        users=max(1_000, orders // 10), products=max(500, orders // 200), orders=orders, seed=seed
    ).validated()


def _drop_tables(endpoint: Endpoint) -> None:
    with psycopg.connect(endpoint.dsn, autocommit=True) as conn:
        names = ", ".join(t.name for t in SEEDED_TABLES)
        conn.execute(f"DROP TABLE IF EXISTS {names}")
        conn.execute("CHECKPOINT")


def time_seeder(endpoint: Endpoint, spec: DatasetSpec) -> tuple[int, float]:
    result = load_parts(endpoint, generated_parts(ShopGenerator(spec)), None, constraints=False)
    return result.total_rows, result.load_seconds


def time_raw_copy(endpoint: Endpoint, parts: list[tuple[str, bytes, int]]) -> tuple[int, float]:
    """The same rows, formatted before the clock starts: nothing but the COPY streams."""
    result = load_parts(endpoint, parts, None, constraints=False)
    return result.total_rows, result.load_seconds


def time_naive(endpoint: Endpoint, orders: int, seed: int) -> tuple[int, float]:
    """The loop people write first: Faker per row, one INSERT per row, one commit."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = fake.random
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(endpoint.dsn) as conn:
        conn.execute("CREATE SCHEMA naive")
        conn.execute("SET search_path = naive")
        for table in SEEDED_TABLES:
            conn.execute(bare_table_ddl(table))
        users = max(1, orders // 10)
        for user_id in range(1, users + 1):
            conn.execute(
                "INSERT INTO users VALUES (%s, %s, %s, %s, %s)",
                (user_id, fake.name(), fake.email(), fake.city(), fake.date_time_this_year()),
            )
            rows += 1
        for order_id in range(1, orders + 1):
            items = rng.randint(1, 6)
            total = 0
            for product_id in rng.sample(range(1, 501), items):
                price = rng.randint(199, 20_000)
                quantity = rng.randint(1, 3)
                total += price * quantity
                conn.execute(
                    "INSERT INTO order_items VALUES (%s, %s, %s, %s)",
                    (order_id, product_id, quantity, price),
                )
                rows += 1
            created = fake.date_time_this_year()
            conn.execute(
                "INSERT INTO orders VALUES (%s, %s, %s, %s, %s)",
                (order_id, rng.randint(1, users), total, created, "delivered"),
            )
            conn.execute(
                "INSERT INTO payments VALUES (%s, %s, %s, %s, %s, %s)",
                (order_id, total, created, fake.uuid4(), "card", "captured"),
            )
            rows += 2
        conn.commit()
        conn.execute("DROP SCHEMA naive CASCADE")
        conn.commit()
    return rows, time.perf_counter() - started


def calibrate_seed(config: CalibrateSeedConfig) -> dict[str, Any]:
    spec = spec_for_orders(config.orders, config.seed)
    cluster = LocalCluster(
        name="calibrate",
        home=config.home,
        binaries=find_binaries(config.pg_bin_dir),
        settings=merged(BENCHMARK_SETTINGS, BULK_LOAD_SETTINGS),
    )
    with cluster:
        endpoint = cluster.endpoint
        parts = list(generated_parts(ShopGenerator(spec)))
        # ABBA: seeder, raw, raw, seeder on the same cluster, so what drifts over the
        # passes (a cluster that warms up, the machine's other load) weighs on both alike
        passes: dict[str, list[float]] = {"seeder": [], "raw": []}
        for kind in ("seeder", "raw", "raw", "seeder"):
            if kind == "seeder":
                seeder_rows, seconds = time_seeder(endpoint, spec)
            else:
                raw_rows, seconds = time_raw_copy(endpoint, parts)
            passes[kind].append(seconds)
            _drop_tables(endpoint)
        del parts
        naive_rows, naive_s = time_naive(endpoint, config.naive_orders, config.seed)
    seeder_s, raw_s = sum(passes["seeder"]) / 2, sum(passes["raw"]) / 2
    seeder_rate = seeder_rows / seeder_s
    raw_rate = raw_rows / raw_s
    naive_rate = naive_rows / naive_s
    return {
        "orders": config.orders,
        "rows": seeder_rows,
        "order": "seeder, raw, raw, seeder (ABBA); seconds are the mean of each pair",
        "seeder_passes_seconds": [round(x, 3) for x in passes["seeder"]],
        "raw_copy_passes_seconds": [round(x, 3) for x in passes["raw"]],
        "seeder_seconds": round(seeder_s, 3),
        "seeder_rows_per_s": round(seeder_rate),
        "raw_copy_seconds": round(raw_s, 3),
        "raw_copy_rows_per_s": round(raw_rate),
        "naive_rows": naive_rows,
        "naive_seconds": round(naive_s, 3),
        "naive_rows_per_s": round(naive_rate),
        "ratio_to_raw_copy": round(seeder_rate / raw_rate, 3),
        "speedup_over_naive": round(seeder_rate / naive_rate, 1),
        "target_ratio_to_raw_copy": 0.8,
    }
