"""The load plan Locust reads and the phase clock every Locust process shares."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import scenarios.plan
from scenarios.plan import PLAN_ENV, LoadPlan, PhaseClock, load_plan

PLAN = LoadPlan(phase_seconds={"steady": 10, "storm": 20, "recovery": 5}, checkout_rate=5)


@pytest.mark.parametrize(
    ("elapsed", "phase"),
    [
        (0.0, "steady"),
        (9.999, "steady"),
        (10.0, "storm"),  # a boundary belongs to the phase that starts there
        (29.999, "storm"),
        (30.0, "recovery"),
        (34.999, "recovery"),
        (35.0, "after"),
        (3_600.0, "after"),
    ],
)
def test_phase_at(elapsed: float, phase: str) -> None:
    assert PLAN.phase_at(elapsed) == phase


def test_a_phase_of_zero_seconds_is_skipped() -> None:
    plan = LoadPlan(phase_seconds={"steady": 4, "storm": 0, "recovery": 2}, checkout_rate=1)
    assert [plan.phase_at(t) for t in (0, 3.9, 4, 5.9, 6)] == [
        "steady",
        "steady",
        "recovery",
        "recovery",
        "after",
    ]


@pytest.mark.parametrize(
    ("phases", "total"),
    [
        ({"steady": 10, "storm": 20, "recovery": 5}, 35),
        ({"steady": 0.5, "storm": 0.25, "recovery": 0}, 0.75),
        ({"recovery": 1, "storm": 2, "steady": 3}, 6),
    ],
)
def test_total_seconds(phases: dict[str, float], total: float) -> None:
    assert LoadPlan(phase_seconds=phases, checkout_rate=1).total_seconds == total


EVERY_FIELD_CHANGED = LoadPlan(
    phase_seconds={"steady": 3.5, "storm": 7, "recovery": 2},
    checkout_rate=12.5,
    arrival="fixed",
    max_in_flight=17,
    timeout_s=2.5,
    shoppers=4,
    shopper_wait_s=(0.2, 0.9),
    weights={"browse": 1, "search": 0, "product_page": 3, "my_orders": 1, "order_status": 2},
    admins=3,
    admin_interval_s=0.75,
    dashboard_limit=7,
    users=321,
    products=45,
    orders=6_789,
    seed=99,
    record_dir="/tmp/records",
)


@pytest.mark.parametrize("plan", [PLAN, EVERY_FIELD_CHANGED], ids=["defaults", "every field"])
def test_json_round_trip_through_text(plan: LoadPlan) -> None:
    text = json.dumps(plan.to_json())
    again = LoadPlan.from_json(json.loads(text))
    assert again == plan
    assert isinstance(again.shopper_wait_s, tuple)


def test_written_plan_is_what_locust_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "plan.json"
    EVERY_FIELD_CHANGED.write(path)
    monkeypatch.setenv(PLAN_ENV, str(path))
    assert load_plan() == EVERY_FIELD_CHANGED


def test_without_a_plan_locust_is_told_how_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PLAN_ENV, raising=False)
    with pytest.raises(RuntimeError, match=f"{PLAN_ENV} is not set"):
        load_plan()


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The phase clock's time.time(), set by the test."""
    now = [1_000_000.0]
    monkeypatch.setattr(scenarios.plan, "time", SimpleNamespace(time=lambda: now[0]))
    return now


def test_phase_clock_is_warmup_until_started(wall_clock: list[float]) -> None:
    clock = PhaseClock(PLAN)
    wall_clock[0] += 50  # long past the plan's end, but the test has not started
    assert clock.phase() == "warmup"
    assert clock.elapsed() == 0.0


def test_phase_clock_follows_the_plan_from_its_start(wall_clock: list[float]) -> None:
    clock = PhaseClock(PLAN)
    clock.start()
    seen = []
    for step in (0, 9.5, 0.5, 19.75, 0.25, 5):  # exact in binary
        wall_clock[0] += step
        seen.append((clock.elapsed(), clock.phase()))
    assert seen == [
        (0.0, "steady"),
        (9.5, "steady"),
        (10.0, "storm"),
        (29.75, "storm"),
        (30.0, "recovery"),
        (35.0, "after"),
    ]


def test_the_shares_of_a_schedule_hold_every_arrival_once() -> None:
    from scenarios.traffic import Population, checkout_schedule, share

    plan = LoadPlan(phase_seconds={"steady": 3, "storm": 2, "recovery": 1}, checkout_rate=40)
    arrivals = checkout_schedule(plan, Population.of(plan))
    for count in (1, 2, 3, 7):
        parts = [share(arrivals, index, count) for index in range(count)]
        union = sorted((a for part in parts for a in part), key=lambda a: a.at)
        assert union == arrivals
        assert max(map(len, parts)) - min(map(len, parts)) <= 1  # each carries its part of the rate
    with pytest.raises(ValueError, match="does not exist"):
        share(arrivals, 2, 2)
