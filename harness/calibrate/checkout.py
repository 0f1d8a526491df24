"""``cqrs-bench calibrate checkout``: what the app adds on top of the SQL it runs.

Against one baseline stack, the same checkout transaction is driven twice at
the same low fixed rate (open model: latency counted from each request's
scheduled start): through the app over HTTP, and as a pgbench script making
the same call of the shop's checkout function, straight on the same
database. The ratio of the two latencies is the app's overhead (HTTP,
validation, pool, Python). The HTTP client is :mod:`harness.calibrate.lean_http`
(keep-alive sockets and nothing else), on uvloop.

Every scheduled request is accounted for: answered with success, rejected (a
4xx answer, such as running out of stock), or failed (a 5xx, a transport
error, no answer within the client's timeout). The HTTP client's own cost is
measured too, against a server that answers at once
(:mod:`harness.calibrate.constant_server`): what the client reports there
above what a bare socket sees is the client, not the app, and is taken off
the app's figure (timed from each request's write, so without the client's
lateness in starting it, which is reported apart) in the net ratio.
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
from urllib.parse import urlsplit

import uvloop

from harness.calibrate.common import local_stack
from harness.calibrate.lean_http import LeanClient, LeanHttpError
from harness.core.errors import EnvironmentProblem
from harness.providers.binaries import find_binaries
from harness.results import stats
from harness.seed.spec import DatasetSpec
from harness.stack.services import PythonService
from harness.stack.stacks import SystemKind
from shop.checkout import SHOP_CHECKOUT

# The app's checkout is one call of the shop's checkout function
# (shop.checkout.SHOP_CHECKOUT); pgbench makes the same call, with pgbench's
# variables for its parameters and no Idempotency-Key (nor does the driver send one).
PGBENCH_SCRIPT = f"""\
\\set uid random(1, {{users}})
\\set pid random(1, {{products}})
SELECT response, replayed FROM {SHOP_CHECKOUT}(:uid, ARRAY[:pid]::bigint[], ARRAY[1], 'card',
    'ch_pgbench', NULL, NULL);
"""
CLIENT_TIMEOUT_S = 5.0
PRECISE_START_S = 0.0015
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
    lag_ms: list[float] = field(default_factory=list)  # how late each request left
    from_send_ms: list[float] = field(default_factory=list)  # successes, from the write

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
            "schedule_lag_p50_ms": stats.percentile(self.lag_ms, 50),
            "schedule_lag_p99_ms": stats.percentile(self.lag_ms, 99),
            # the successes again, timed from when each request was written
            "from_send_p50_ms": stats.percentile(self.from_send_ms, 50),
        }


async def start_at(scheduled: float, precise: bool) -> None:
    """Return at ``scheduled`` (``time.perf_counter``), never before.

    uvloop's timers count whole milliseconds and can fire early or up to a
    millisecond late (a third of one at the median here). ``precise`` sleeps
    to within ``PRECISE_START_S`` of the instant and yields to the loop for
    the rest (other requests' answers are still read meanwhile): requests
    then leave within microseconds of their time, for about 3 % of one core
    at 20 requests/s, which is why only the low-rate checkout calibration
    asks for it.
    """
    while (delay := scheduled - time.perf_counter()) > 0:
        if not precise:
            await asyncio.sleep(delay)
        elif delay > PRECISE_START_S:
            await asyncio.sleep(delay - PRECISE_START_S)
        else:
            await asyncio.sleep(0)


async def drive_app(
    url: str, spec: DatasetSpec, rate: float, seconds: float, *, precise: bool = False
) -> DriveResult:
    """Fixed-rate checkouts; each latency runs from the request's scheduled start.

    A request that fails or takes longer than the client timeout (5 s) counts
    as a failure, as it would for a shopper; a 4xx answer (out of stock) is a
    rejection. Both are counted, and their latencies kept apart from successes'.
    How late each request left (see :func:`start_at`) is kept too, and each
    success's latency from the moment it was written: the server's share,
    without the client's lateness.
    """
    rng = random.Random(1)
    total = int(rate * seconds)
    result = DriveResult(scheduled=total)
    address = urlsplit(url)
    if address.hostname is None or address.port is None:
        raise EnvironmentProblem(f"not an http://HOST:PORT address: {url}")
    async with LeanClient(address.hostname, address.port, timeout_s=CLIENT_TIMEOUT_S) as client:
        started = time.perf_counter()

        async def one(index: int) -> None:
            scheduled = started + index / rate
            await start_at(scheduled, precise)
            body = {
                "user_id": rng.randint(1, spec.users),
                "items": [{"product_id": rng.randint(1, spec.products), "quantity": 1}],
            }
            sent = time.perf_counter()
            result.lag_ms.append((sent - scheduled) * 1000)
            try:
                response = await client.post_json("/checkout", body)
            except LeanHttpError:
                result.unanswered += 1
                return
            answered = time.perf_counter()
            elapsed_ms = (answered - scheduled) * 1000
            if response.status == 200:
                result.latencies_ms.append(elapsed_ms)
                result.from_send_ms.append((answered - sent) * 1000)
            elif response.status < 500:
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
                "prepared",  # as psycopg does after a few executions
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
    itself. The difference of the medians (each request timed from when it
    was written) is the client's share of the app's figure; how late the
    client starts requests is measured in every drive and reported apart.
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
            driven = uvloop.run(
                drive_app(server.url, spec, rate, CLIENT_CHECK_SECONDS, precise=True)
            )
    raw_p50 = stats.percentile(raw, 50)
    client_p50 = stats.percentile(driven.from_send_ms, 50)
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
        app = uvloop.run(
            drive_app(stack.url, config.spec, config.rate, config.seconds, precise=True)
        )
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
    sent_p50 = app_stats["from_send_p50_ms"]
    # the app's own share: from the write to the answer, less the client's cost
    net_p50 = None if sent_p50 is None or cost is None else round(sent_p50 - cost, 3)
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
