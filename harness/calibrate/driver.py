"""``cqrs-bench calibrate driver``: the load generator measured against a server of known latency.

The constant-latency server answers every request after exactly
``latency_ms``; the open-model checkout driver (the same Locust scenarios
and plan as a run) is pointed at it. What the records show above that delay
is the harness's own cost. A ladder of rates then finds the highest rate at
which the driver still dispatches its arrivals on time (schedule lag p99
under 10 ms).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.errors import EnvironmentProblem
from harness.results.files import read_requests
from harness.run.orchestrate import GENERATOR_NICENESS, locust_args
from harness.stack.services import PythonService
from scenarios.plan import PLAN_ENV, LoadPlan

MAX_LAG_P99_MS = 10.0


@dataclass(frozen=True)
class CalibrateDriverConfig:
    latency_ms: float = 40.0
    seconds: float = 10.0
    overhead_rate: float = 20.0
    rates: tuple[float, ...] = (50, 100, 200, 400, 800)


def _drive(url: str, rate: float, seconds: float, directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True)
    plan = LoadPlan(
        phase_seconds={"steady": seconds, "storm": 0.0, "recovery": 0.0},
        checkout_rate=rate,
        shoppers=0,
        admins=0,
        record_dir=str(directory),
    )
    plan_file = directory / "plan.json"
    plan.write(plan_file)
    locust = PythonService(
        name="locust",
        module="locust",
        log_file=directory / "locust.log",
        env={PLAN_ENV: str(plan_file)},
        args=tuple(locust_args(url, directory / "locust")),
        niceness=GENERATOR_NICENESS,
    )
    with locust:
        code = locust.wait(timeout=plan.total_seconds + plan.drain_seconds + 60)
    if code is None:
        raise EnvironmentProblem(f"Locust did not finish; see {directory / 'locust.log'}")
    records = read_requests(directory)
    checkouts = records[records["name"] == "checkout"]
    answered = checkouts[checkouts["ok"] == 1]
    latency = answered["latency_us"].to_numpy() / 1000
    lag = checkouts["lag_us"].to_numpy() / 1000
    return {
        "rate_per_s": rate,
        "scheduled": len(checkouts),
        "answered": len(answered),
        "failed": len(checkouts) - len(answered),
        "p50_ms": round(float(np.percentile(latency, 50)), 3) if len(latency) else None,
        "p99_ms": round(float(np.percentile(latency, 99)), 3) if len(latency) else None,
        "schedule_lag_p99_ms": round(float(np.percentile(lag, 99)), 3) if len(lag) else None,
    }


def calibrate_driver(config: CalibrateDriverConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cqrs-bench-driver-") as tmp:
        server = PythonService(
            name="constant-latency server",
            module="harness.calibrate.constant_server",
            log_file=Path(tmp) / "server.log",
            args=("--latency-ms", str(config.latency_ms)),
            health_path="/health",
        )
        with server:
            base = _drive(server.url, config.overhead_rate, config.seconds, Path(tmp) / "base")
            ladder = []
            for rate in config.rates:
                step = _drive(server.url, rate, config.seconds, Path(tmp) / f"rate-{rate:g}")
                ladder.append(step)
                lag = step["schedule_lag_p99_ms"]
                if step["failed"] or lag is None or lag >= MAX_LAG_P99_MS:
                    break
    held = [
        step["rate_per_s"]
        for step in ladder
        if not step["failed"]
        and step["schedule_lag_p99_ms"] is not None
        and step["schedule_lag_p99_ms"] < MAX_LAG_P99_MS
    ]
    p50 = base["p50_ms"]
    return {
        "true_latency_ms": config.latency_ms,
        "seconds_per_step": config.seconds,
        "overhead_rate_per_s": config.overhead_rate,
        "reported_p50_ms": p50,
        "p50_overhead_ms": None if p50 is None else round(p50 - config.latency_ms, 3),
        "p99_overhead_ms": None
        if base["p99_ms"] is None
        else round(base["p99_ms"] - config.latency_ms, 3),
        "max_rps_schedule_lag_p99_under_10ms": max(held) if held else None,
        "ladder": ladder,
        "target_p50_overhead_ms": 1.0,
    }
