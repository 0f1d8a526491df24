"""``cqrs-bench calibrate projector``: the CQRS system's own targets, measured.

- projection lag (order committed -> visible in the read model) at a sustained
  checkout rate, from each order's ``created_at`` and ``projected_at``;
- catch-up throughput: a backlog of outbox events applied by a fresh projector;
- CEO dashboard latency from the read model.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvloop

from harness.calibrate.checkout import drive_app, percentiles
from harness.calibrate.common import local_stack
from harness.results import stats
from harness.seed.spec import DatasetSpec
from harness.stack.readmodels import last_order_id, projection_lags, wait_caught_up
from harness.stack.stacks import SystemKind

SYNTHETIC_EVENTS = """
INSERT INTO outbox (event_type, payload)
SELECT 'OrderPlaced', jsonb_build_object(
    'version', 1, 'order_id', 1000000000 + g, 'user_id', 1 + g %% %(users)s,
    'user_name', 'Backlog ' || g, 'status', 'paid', 'status_label', 'Paid',
    'total_cents', 1000 + g %% 5000, 'created_at', now(), 'loyalty_points', 10,
    'refund_deadline', (current_date + 30)::text,
    'lines', jsonb_build_array(jsonb_build_object(
        'product_id', 1 + g %% %(products)s, 'category', 'Books', 'quantity', 1,
        'unit_price_cents', 1000)))
FROM generate_series(1, %(count)s) AS g
"""


@dataclass(frozen=True)
class CalibrateCqrsConfig:
    home: Path
    spec: DatasetSpec
    rate: float = 200.0
    seconds: float = 15.0
    backlog: int = 20_000
    dashboard_requests: int = 200
    # rising checkout rates, each driven for ``seconds``: the highest held is reported
    ladder: tuple[float, ...] = ()
    pg_bin_dir: Path | None = None


MAX_HELD_P99_MS = 100.0


def held(step: dict[str, Any]) -> bool:
    """The stack held a rate: nothing failed and checkout p99 stayed under 100 ms."""
    p99 = step["p99_ms"]
    return step["failed"] == 0 and p99 is not None and p99 < MAX_HELD_P99_MS


def checkout_ladder(
    url: str, spec: DatasetSpec, rates: tuple[float, ...], seconds: float
) -> list[dict[str, Any]]:
    """Each rate in turn on the same stack, up to the first one it does not hold.

    Each step lasts at least ``seconds`` and long enough for the 1,000
    checkouts a p99 needs.
    """
    steps = []
    for rate in rates:
        step_seconds = max(seconds, math.ceil(stats.min_samples(99) / rate))
        driven = uvloop.run(drive_app(url, spec, rate, step_seconds))
        summary = driven.summary() if driven.latencies_ms else {"p99_ms": None}
        step = {
            "rate_per_s": rate,
            "seconds": step_seconds,
            "ok": len(driven.latencies_ms),
            "rejected": len(driven.rejected_ms),
            "failed": driven.failures,
            "p50_ms": summary.get("p50_ms"),
            "p99_ms": summary["p99_ms"],
        }
        steps.append(step)
        if not held(step):
            break
    return steps


async def dashboard_latencies(url: str, count: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get("/dashboard/customers", params={"limit": 10})
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def calibrate_cqrs(config: CalibrateCqrsConfig) -> dict[str, Any]:
    with local_stack(SystemKind.CQRS, config.home, config.spec, config.pg_bin_dir) as stack:
        write = stack.clusters["write"].endpoint.dsn
        read = stack.clusters["read"].endpoint.dsn
        last_order = last_order_id(write)
        checkout = uvloop.run(drive_app(stack.url, config.spec, config.rate, config.seconds))
        wait_caught_up(write, read, timeout=60, what="catch-up")
        lags = [lag for _, _, lag in projection_lags(read, last_order)]

        dashboard = asyncio.run(dashboard_latencies(stack.url, config.dashboard_requests))
        ladder = checkout_ladder(stack.url, config.spec, config.ladder, config.seconds)

        stack.services["projector"].stop()
        with psycopg.connect(write) as conn:
            conn.execute(
                SYNTHETIC_EVENTS,
                {
                    "users": config.spec.users,
                    "products": config.spec.products,
                    "count": config.backlog,
                },
            )
        started = time.perf_counter()
        projector = stack.projector_service().start()
        try:
            wait_caught_up(write, read, timeout=300, what="the backlog")
            catch_up_s = time.perf_counter() - started
        finally:
            projector.stop()
    return {
        "rate_per_s": config.rate,
        "seconds": config.seconds,
        "checkouts": len(checkout.latencies_ms),
        "rejected": len(checkout.rejected_ms),
        "failures": checkout.failures,
        "achieved_rps": round(len(checkout.latencies_ms) / config.seconds, 1),
        "checkout": percentiles(checkout.latencies_ms),
        "projection_lag_ms": {  # all 0.0 when no order was projected
            "p50": stats.percentile(lags, 50, digits=1),
            "p99": stats.percentile(lags, 99, digits=1),
            "max": stats.maximum(lags, digits=1),
        },
        "catch_up": {
            "events": config.backlog,
            "seconds": round(catch_up_s, 3),
            "events_per_s": round(config.backlog / catch_up_s),
        },
        "dashboard": {
            **percentiles(dashboard),
            "p95_ms": stats.percentile(dashboard, 95),
        },
        "ladder": ladder,
        "max_rate_held_p99_under_100ms": max(
            (step["rate_per_s"] for step in ladder if held(step)), default=None
        ),
        "targets": {"lag_p99_ms": 100, "catch_up_events_per_s": 5000, "dashboard_p95_ms": 10},
    }
