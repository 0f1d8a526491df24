"""The traffic every system receives, decided before the test from the plan's seed alone.

Open-model arrivals (checkouts, admin reports) are a schedule computed from
the plan: their times, users and products do not depend on how fast the
system under test answers, on which Locust process runs them, or on a
memory address. Closed-loop shoppers each get a random stream seeded from
the plan seed, their class and their index. The schedule's fingerprint (a
hash of every arrival) shows that two systems received the same traffic.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from scenarios.plan import PHASES, LoadPlan

T = TypeVar("T")

# Report mix of an admin refreshing the dashboard: three customer reports per revenue report.
REPORT_WEIGHTS = (("dashboard_customers", 3), ("dashboard_revenue", 1))
# Admins start within this share of an interval of each other.
ADMIN_SPREAD = 0.1


def skewed_cdf(n: int, seed: int, shape: float) -> list[float]:
    """Pareto weights like the dataset's: a few ids get most of the traffic."""
    rng = random.Random(seed)
    return list(itertools.accumulate(rng.paretovariate(shape) for _ in range(n)))


def skewed_id(rng: random.Random, cdf: Sequence[float]) -> int:
    return min(bisect.bisect_left(cdf, rng.random() * cdf[-1]), len(cdf) - 1) + 1


@dataclass(frozen=True)
class Population:
    """Who shops and what they buy, with the dataset's skew."""

    users: list[float]
    products: list[float]

    @classmethod
    def of(cls, plan: LoadPlan) -> Population:
        return cls(
            users=skewed_cdf(plan.users, plan.seed, 1.1),
            products=skewed_cdf(plan.products, plan.seed + 1, 1.2),
        )

    def user(self, rng: random.Random) -> int:
        return skewed_id(rng, self.users)

    def product(self, rng: random.Random) -> int:
        return skewed_id(rng, self.products)


def user_stream(plan: LoadPlan, user_class: str, index: int) -> random.Random:
    """The random stream of one simulated user: the same in every run and every process."""
    return random.Random(f"{plan.seed}:{user_class}:{index}")


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the phase clock's start
    user_id: int
    product_id: int


@dataclass(frozen=True)
class ReportCall:
    at: float
    name: str


def checkout_schedule(plan: LoadPlan, population: Population) -> list[Arrival]:
    """Checkout arrivals over all phases at the plan's rate (Poisson or fixed spacing)."""
    rng = random.Random(f"{plan.seed}:checkout-arrivals")
    bodies = random.Random(f"{plan.seed}:checkout-bodies")
    arrivals: list[Arrival] = []
    at = 0.0
    while True:
        gap = (
            rng.expovariate(plan.checkout_rate)
            if plan.arrival == "poisson"
            else 1.0 / plan.checkout_rate
        )
        at += gap
        if at >= plan.total_seconds:
            return arrivals
        arrivals.append(Arrival(at, population.user(bodies), population.product(bodies)))


def report_schedule(plan: LoadPlan) -> list[ReportCall]:
    """Admin reports during the storm: each admin refreshes every ``admin_interval_s``.

    The admins arrive together, as a meeting opening the dashboard does: each
    starts at a seeded offset within the first tenth of an interval (the
    storm is concurrent report queries, not a trickle). Which report each call
    opens is seeded too.
    """
    storm_start = plan.phase_seconds["steady"]
    storm_end = storm_start + plan.phase_seconds["storm"]
    calls: list[ReportCall] = []
    names = [name for name, _ in REPORT_WEIGHTS]
    weights = [weight for _, weight in REPORT_WEIGHTS]
    for admin in range(plan.admins):
        rng = random.Random(f"{plan.seed}:admin:{admin}")
        at = storm_start + rng.uniform(0, ADMIN_SPREAD * plan.admin_interval_s)
        while at < storm_end:
            calls.append(ReportCall(at, rng.choices(names, weights)[0]))
            at += plan.admin_interval_s
    calls.sort(key=lambda call: call.at)
    return calls


def per_phase(plan: LoadPlan, times: Sequence[float]) -> dict[str, int]:
    counts = Counter(plan.phase_at(at) for at in times)
    return {phase: counts.get(phase, 0) for phase in PHASES}


def fingerprint(arrivals: Sequence[Arrival], reports: Sequence[ReportCall]) -> str:
    """A hash of the whole open-model schedule (times to the microsecond, ids, report names)."""
    digest = hashlib.sha256()
    for arrival in arrivals:
        digest.update(f"c {arrival.at:.6f} {arrival.user_id} {arrival.product_id}\n".encode())
    for report in reports:
        digest.update(f"r {report.at:.6f} {report.name}\n".encode())
    return digest.hexdigest()[:16]


def share(items: Sequence[T], index: int, count: int) -> list[T]:
    """Share ``index`` of ``count`` of a schedule: the items i with i % count == index.

    The shares of one schedule are disjoint and together hold every item
    once, so N load generators each replaying one share send the whole
    schedule at the plan's rate, no arrival twice.
    """
    if not 0 <= index < count:
        raise ValueError(f"share {index} of {count} does not exist")
    return list(items[index::count])
