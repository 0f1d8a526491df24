"""``cqrs-bench calibrate checkout``: what the app adds on top of the SQL it runs.

Against one baseline stack, the same checkout transaction is driven twice at
the same low fixed rate (open model: latency counted from each request's
scheduled start): through the app over HTTP, and as a pgbench script running
the same statements straight on the same database. The ratio of the two
latencies is the app's overhead (HTTP, validation, pool, Python).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.calibrate.common import local_stack
from harness.core.errors import EnvironmentProblem
from harness.providers.binaries import find_binaries
from harness.results import stats
from harness.seed.spec import DatasetSpec
from harness.stack.stacks import SystemKind

PGBENCH_SCRIPT = """\
\\set uid random(1, {users})
\\set pid random(1, {products})
BEGIN;
SELECT 1 FROM users WHERE id = :uid;
SELECT id, price_cents, stock, category FROM products WHERE id = :pid ORDER BY id FOR UPDATE;
INSERT INTO orders (user_id, total_cents, status) VALUES (:uid, 0, 'paid')
    RETURNING id AS oid \\gset
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
    SELECT :oid, :pid, 1, price_cents FROM products WHERE id = :pid;
UPDATE products SET stock = stock - 1 WHERE id = :pid;
INSERT INTO payments (order_id, amount_cents, gateway_ref, method, status)
    VALUES (:oid, 0, 'ch_pgbench', 'card', 'captured');
END;
"""


@dataclass(frozen=True)
class CalibrateCheckoutConfig:
    home: Path
    spec: DatasetSpec
    rate: float = 20.0
    seconds: float = 20.0
    pg_bin_dir: Path | None = None


def percentiles(latencies_ms: list[float]) -> dict[str, float | None]:
    if not latencies_ms:
        raise EnvironmentProblem("nothing to measure: not one request succeeded")
    return {
        "count": len(latencies_ms),
        "p50_ms": stats.percentile(latencies_ms, 50),
        "p99_ms": stats.percentile(latencies_ms, 99),
        "max_ms": stats.maximum(latencies_ms),
    }


@dataclass
class DriveResult:
    latencies_ms: list[float]
    failures: int


async def drive_app(url: str, spec: DatasetSpec, rate: float, seconds: float) -> DriveResult:
    """Fixed-rate checkouts; each latency runs from the request's scheduled start.

    A request that fails or takes longer than the client timeout (5 s) counts
    as a failure, as it would for a shopper.
    """
    rng = random.Random(1)
    total = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=5, limits=limits) as client:
        started = time.perf_counter()

        async def one(index: int) -> None:
            scheduled = started + index / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            body = {
                "user_id": rng.randint(1, spec.users),
                "items": [{"product_id": rng.randint(1, spec.products), "quantity": 1}],
            }
            nonlocal failures
            try:
                response = await client.post("/checkout", json=body)
            except httpx.HTTPError:
                failures += 1
                return
            if response.status_code == 200:
                latencies.append((time.perf_counter() - scheduled) * 1000)
            elif response.status_code != 409:  # running out of stock is an answer, not a fault
                failures += 1

        await asyncio.gather(*(one(i) for i in range(total)))
    return DriveResult(latencies, failures)


def run_pgbench(
    bindir: Path, dsn_parts: dict[str, Any], spec: DatasetSpec, rate: float, seconds: float
) -> list[float]:
    pgbench = bindir / "pgbench"
    if not pgbench.exists():
        raise EnvironmentProblem(f"pgbench is not in {bindir}")
    with tempfile.TemporaryDirectory(prefix="cqrs-bench-pgbench-") as tmp:
        script = Path(tmp) / "checkout.sql"
        script.write_text(PGBENCH_SCRIPT.format(users=spec.users, products=spec.products))
        result = subprocess.run(
            [
                str(pgbench),
                "-n",
                "-f",
                str(script),
                "-R",
                str(rate),
                "-T",
                str(int(seconds)),
                "-c",
                "4",
                "-j",
                "1",
                "-l",
                f"--log-prefix={tmp}/log",
                "-h",
                dsn_parts["host"],
                "-p",
                str(dsn_parts["port"]),
                "-U",
                dsn_parts["user"],
                dsn_parts["dbname"],
            ],
            env={**os.environ, "PGPASSWORD": dsn_parts["password"]},
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 120,
        )
        if result.returncode != 0:
            raise EnvironmentProblem(f"pgbench failed: {result.stderr.strip().splitlines()[-1:]}")
        latencies = []
        for log in Path(tmp).glob("log*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                latencies.append(int(fields[2]) / 1000)  # µs, from the scheduled start under -R
    return latencies


def calibrate_checkout(config: CalibrateCheckoutConfig) -> dict[str, Any]:
    binaries = find_binaries(config.pg_bin_dir)
    with local_stack(SystemKind.BASELINE, config.home, config.spec, config.pg_bin_dir) as stack:
        app = asyncio.run(
            drive_app(stack.url, config.spec, config.rate, config.seconds)
        ).latencies_ms
        endpoint = stack.clusters["db"].endpoint
        parts = {
            "host": endpoint.host,
            "port": endpoint.port,
            "user": endpoint.user,
            "password": endpoint.password,
            "dbname": endpoint.dbname,
        }
        sql = run_pgbench(binaries.bindir, parts, config.spec, config.rate, config.seconds)
    app_stats, sql_stats = percentiles(app), percentiles(sql)
    return {
        "rate_per_s": config.rate,
        "seconds": config.seconds,
        "app": app_stats,
        "pgbench": sql_stats,
        "overhead_ratio_p50": _ratio(app_stats["p50_ms"], sql_stats["p50_ms"]),
        "overhead_ratio_p99": _ratio(app_stats["p99_ms"], sql_stats["p99_ms"]),
    }


def _ratio(app: float | None, sql: float | None) -> float | None:
    """None where either side had too few samples for the percentile."""
    return None if app is None or not sql else round(app / sql, 2)
