"""``cqrs-bench calibrate driver``: the load generator measured against a server of known latency.

The constant-latency server answers every request after exactly
``latency_ms``; the open-model checkout driver (the same Locust scenarios
and plan as a run) is pointed at it. What the records show above that delay
is the harness's own cost. A ladder of rates then finds the highest rate at
which the driver still dispatches its arrivals on time (schedule lag p99
under 10 ms).
"""

from __future__ import annotations

import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import EnvironmentProblem
from harness.results import stats
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
        "p50_ms": stats.percentile(latency, 50),
        "p99_ms": stats.percentile(latency, 99),
        "schedule_lag_p99_ms": stats.percentile(lag, 99),
    }


def raw_round_trips(port: int, count: int = 100, gap_s: float = 0.02) -> list[float]:
    """Latencies (ms) a bare blocking socket sees: the server's own latency, nothing of ours.

    One keep-alive connection, one request at a time; what the server adds to
    its nominal delay (its event loop wakes a little late) is in here too, so
    the driver is judged only on what the driver adds.
    """
    request = b"POST /checkout HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\n\r\n{}"
    found = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise EnvironmentProblem("the constant-latency server closed the connection")
                answer += chunk
            found.append((time.perf_counter() - started) * 1000)
            time.sleep(gap_s)
    return found


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
            assert server.port is not None
            raw_p50 = stats.percentile(raw_round_trips(server.port), 50)
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
        "raw_socket_p50_ms": raw_p50,
        "seconds_per_step": config.seconds,
        "overhead_rate_per_s": config.overhead_rate,
        "reported_p50_ms": p50,
        # what the harness adds on top of what a bare socket sees from the same server
        "p50_overhead_ms": None if p50 is None or raw_p50 is None else round(p50 - raw_p50, 3),
        # and on top of the server's nominal delay (its own late wake-ups included)
        "p50_over_nominal_ms": None if p50 is None else round(p50 - config.latency_ms, 3),
        "max_rps_schedule_lag_p99_under_10ms": max(held) if held else None,
        "ladder": ladder,
        "target_p50_overhead_ms": 1.0,
    }
