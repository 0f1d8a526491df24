"""``cqrs-bench calibrate checkout``: what the app adds on top of the SQL it runs.

Against one baseline stack, the same checkout transaction is driven twice at
the same low fixed rate (open model: latency counted from each request's
scheduled start): through the app over HTTP, and as a pgbench script running
the same statements, in the same two pipelined round trips, straight on the
same database. The ratio of the two latencies is the app's overhead (HTTP,
validation, pool, Python).

Every scheduled request is accounted for: answered with success, rejected (a
4xx answer, such as running out of stock), or failed (a 5xx, a transport
error, no answer within the client's timeout). The HTTP client's own cost is
measured too, against a server that answers at once
(:mod:`harness.calibrate.constant_server`): what the client reports there
above what a bare socket sees is the client, not the app, and is taken off
the app's figure in the net ratio.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.calibrate.common import local_stack
from harness.core.errors import EnvironmentProblem
from harness.providers.binaries import find_binaries
from harness.results import stats
from harness.seed.spec import DatasetSpec
from harness.stack.services import PythonService
from harness.stack.stacks import SystemKind

# shop.checkout's statements, with pgbench's variables for its parameters: the
# order's id is drawn with nextval in the first round trip and read back with
# currval in the second, as the app does (the app reads it in Python instead).
PGBENCH_SCRIPT = """\
\\set uid random(1, {users})
\\set pid random(1, {products})
\\startpipeline
BEGIN;
SELECT name, nextval(pg_get_serial_sequence('orders', 'id')), now() FROM users WHERE id = :uid;
SELECT id, price_cents, stock, category FROM products
    WHERE id = ANY(ARRAY[:pid]::bigint[]) ORDER BY id FOR UPDATE;
\\endpipeline
\\startpipeline
INSERT INTO orders (id, user_id, total_cents, status, created_at)
    VALUES (currval(pg_get_serial_sequence('orders', 'id')), :uid, 1000, 'paid', now());
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
    SELECT currval(pg_get_serial_sequence('orders', 'id')), p, q, u
    FROM unnest(ARRAY[:pid]::bigint[], ARRAY[1]::int[], ARRAY[1000]::int[]) AS v(p, q, u);
UPDATE products SET stock = stock - v.q
    FROM unnest(ARRAY[:pid]::bigint[], ARRAY[1]::int[]) AS v(p, q) WHERE products.id = v.p;
INSERT INTO payments (order_id, amount_cents, gateway_ref, method, status)
    VALUES (currval(pg_get_serial_sequence('orders', 'id')), 1000, 'ch_pgbench', 'card',
            'captured');
END;
\\endpipeline
"""
CLIENT_TIMEOUT_S = 5.0
CLIENT_CHECK_SECONDS = 5.0


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
    """Every scheduled request, in exactly one of: ok, rejected, failed."""

    scheduled: int
    latencies_ms: list[float] = field(default_factory=list)  # successes
    rejected_ms: list[float] = field(default_factory=list)  # 4xx answers
    failed_ms: list[float] = field(default_factory=list)  # 5xx answers
    unanswered: int = 0  # transport errors and timeouts

    @property
    def failures(self) -> int:
        return len(self.failed_ms) + self.unanswered

    def summary(self) -> dict[str, Any]:
        answered = [*self.latencies_ms, *self.rejected_ms, *self.failed_ms]
        return {
            **percentiles(self.latencies_ms),
            "scheduled": self.scheduled,
            "ok": len(self.latencies_ms),
            "rejected": len(self.rejected_ms),
            "failed": self.failures,
            "unanswered": self.unanswered,
            # every answer, whatever its status: a fast refusal is not hidden, nor a slow one
            "answered_p50_ms": stats.percentile(answered, 50),
            "answered_p99_ms": stats.percentile(answered, 99),
        }


async def drive_app(url: str, spec: DatasetSpec, rate: float, seconds: float) -> DriveResult:
    """Fixed-rate checkouts; each latency runs from the request's scheduled start.

    A request that fails or takes longer than the client timeout (5 s) counts
    as a failure, as it would for a shopper; a 4xx answer (out of stock) is a
    rejection. Both are counted, and their latencies kept apart from successes'.
    """
    rng = random.Random(1)
    total = int(rate * seconds)
    result = DriveResult(scheduled=total)
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S, limits=limits) as client:
        started = time.perf_counter()

        async def one(index: int) -> None:
            scheduled = started + index / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            body = {
                "user_id": rng.randint(1, spec.users),
                "items": [{"product_id": rng.randint(1, spec.products), "quantity": 1}],
            }
            try:
                response = await client.post("/checkout", json=body)
            except httpx.HTTPError:
                result.unanswered += 1
                return
            elapsed_ms = (time.perf_counter() - scheduled) * 1000
            if response.status_code == 200:
                result.latencies_ms.append(elapsed_ms)
            elif response.status_code < 500:
                result.rejected_ms.append(elapsed_ms)
            else:
                result.failed_ms.append(elapsed_ms)

        await asyncio.gather(*(one(i) for i in range(total)))
    return result


@dataclass
class PgbenchResult:
    latencies_ms: list[float]
    failed: int


def run_pgbench(
    bindir: Path, dsn_parts: dict[str, Any], spec: DatasetSpec, rate: float, seconds: float
) -> PgbenchResult:
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
                "-M",
                "prepared",  # as psycopg does after a few executions; pipelines need it
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
        return read_pgbench_logs(Path(tmp))


def read_pgbench_logs(directory: Path) -> PgbenchResult:
    """Every transaction in pgbench's per-transaction logs: a latency, or a failure.

    The third field is the latency in µs (from the scheduled start under
    ``-R``), or ``failed`` / ``skipped`` for a transaction that did not
    complete: those are counted, never left out.
    """
    latencies = []
    failed = 0
    for log in directory.glob("log*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
            else:
                failed += 1
    return PgbenchResult(latencies, failed)


def client_cost(rate: float) -> dict[str, Any]:
    """What the HTTP client itself adds, against a server that answers at once.

    A bare blocking socket, one request at a time, sees the server and the
    loopback; the client driving the app, at the same rate, sees those plus
    itself. The difference of the medians is the client's share of the app's
    figure.
    """
    from harness.calibrate.driver import raw_round_trips

    with tempfile.TemporaryDirectory(prefix="cqrs-bench-client-") as tmp:
        server = PythonService(
            name="constant-latency server",
            module="harness.calibrate.constant_server",
            log_file=Path(tmp) / "server.log",
            args=("--latency-ms", "0"),
            health_path="/health",
        )
        with server:
            assert server.port is not None
            raw = raw_round_trips(server.port, count=200)
            spec = DatasetSpec(users=1, products=1, orders=0)
            driven = asyncio.run(drive_app(server.url, spec, rate, CLIENT_CHECK_SECONDS))
    raw_p50 = stats.percentile(raw, 50)
    client_p50 = stats.percentile(driven.latencies_ms, 50)
    return {
        "raw_socket_p50_ms": raw_p50,
        "client_p50_ms": client_p50,
        "failed": driven.failures,
        "cost_p50_ms": (
            None if raw_p50 is None or client_p50 is None else round(client_p50 - raw_p50, 3)
        ),
    }


def calibrate_checkout(config: CalibrateCheckoutConfig) -> dict[str, Any]:
    binaries = find_binaries(config.pg_bin_dir)
    with local_stack(SystemKind.BASELINE, config.home, config.spec, config.pg_bin_dir) as stack:
        app = asyncio.run(drive_app(stack.url, config.spec, config.rate, config.seconds))
        endpoint = stack.clusters["db"].endpoint
        parts = {
            "host": endpoint.host,
            "port": endpoint.port,
            "user": endpoint.user,
            "password": endpoint.password,
            "dbname": endpoint.dbname,
        }
        sql = run_pgbench(binaries.bindir, parts, config.spec, config.rate, config.seconds)
    client = client_cost(config.rate)
    app_stats = app.summary()
    sql_stats = {**percentiles(sql.latencies_ms), "failed": sql.failed}
    cost = client["cost_p50_ms"]
    app_p50 = app_stats["p50_ms"]
    net_p50 = None if app_p50 is None or cost is None else round(app_p50 - cost, 3)
    return {
        "rate_per_s": config.rate,
        "seconds": config.seconds,
        "app": app_stats,
        "pgbench": sql_stats,
        "client": client,
        "app_net_of_client_p50_ms": net_p50,
        "overhead_ratio_p50": _ratio(app_p50, sql_stats["p50_ms"]),
        "overhead_ratio_p99": _ratio(app_stats["p99_ms"], sql_stats["p99_ms"]),
        "net_overhead_ratio_p50": _ratio(net_p50, sql_stats["p50_ms"]),
        "target_ratio_p50": 2.0,
    }


def _ratio(app: float | None, sql: float | None) -> float | None:
    """None where either side had too few samples for the percentile."""
    return None if app is None or not sql else round(app / sql, 2)
