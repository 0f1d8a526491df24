"""The load plan a run hands to Locust, and the phase clock every Locust process shares.

The harness writes the plan as JSON and points CQRS_BENCH_PLAN at it; each
Locust process (master or worker) reads it and starts its phase clock when the
test starts, so all of them agree on whether it is steady, storm or recovery.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLAN_ENV = "CQRS_BENCH_PLAN"
PHASES = ("steady", "storm", "recovery")
SPAWN_RATE = 100.0  # users started per second: every user from the start


@dataclass(frozen=True)
class LoadPlan:
    phase_seconds: dict[str, float]
    checkout_rate: float  # arrivals per second, the same in every phase
    arrival: str = "poisson"  # or "fixed"
    max_in_flight: int | None = None  # checkouts in flight at once [default: sized from rate]
    timeout_s: float = 5.0
    shoppers: int = 10
    shopper_wait_s: tuple[float, float] = (1.0, 3.0)
    weights: dict[str, int] = field(
        default_factory=lambda: {
            "browse": 4,
            "search": 2,
            "product_page": 4,
            "my_orders": 2,
            "order_status": 1,
            "checkout": 0,
        }
    )
    admins: int = 8
    admin_interval_s: float = 2.0
    dashboard_limit: int = 20
    users: int = 1_000
    products: int = 100
    orders: int = 10_000
    seed: int = 42
    record_dir: str = "."

    @property
    def checkout_bound(self) -> int:
        """Checkouts in flight at once before an arrival is dropped."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return in_flight_bound(self.checkout_rate, self.timeout_s)

    @property
    def report_bound(self) -> int:
        """Admin reports in flight at once before one is dropped."""
        return in_flight_bound(self.admins / self.admin_interval_s, self.timeout_s)

    @property
    def drain_seconds(self) -> float:
        """After the last phase: room for the latest arrival and its confirmation read."""
        return 2 * self.timeout_s + 2

    @property
    def concurrent_users(self) -> int:
        """Locust users at once in one process: the shoppers and the open-model driver."""
        return self.shoppers + 1

    @property
    def total_seconds(self) -> float:
        return sum(self.phase_seconds[p] for p in PHASES)

    def phase_at(self, elapsed: float) -> str:
        boundary = 0.0
        for phase in PHASES:
            boundary += self.phase_seconds[phase]
            if elapsed < boundary:
                return phase
        return "after"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadPlan:
        data = dict(data)
        data["shopper_wait_s"] = tuple(data["shopper_wait_s"])
        return cls(**data)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2))


def load_plan() -> LoadPlan:
    path = os.environ.get(PLAN_ENV)
    if not path:
        raise RuntimeError(f"{PLAN_ENV} is not set: run the scenarios through cqrs-bench run or ui")
    return LoadPlan.from_json(json.loads(Path(path).read_text()))


class PhaseClock:
    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.started: float | None = None

    def start(self) -> None:
        self.started = time.time()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.time() - self.started

    def phase(self) -> str:
        return self.plan.phase_at(self.elapsed()) if self.started is not None else "warmup"


def in_flight_bound(rate_per_s: float, timeout_s: float) -> int:
    """Room for every arrival that can be in flight at once (Little's law: rate x timeout).

    With every request taking the whole timeout, ``rate x timeout`` are in
    flight; twice that absorbs Poisson bursts, so an arrival is dropped only
    when the generator itself cannot keep up.
    """
    return max(16, math.ceil(2 * rate_per_s * timeout_s))
