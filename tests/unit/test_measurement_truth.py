"""What summary.json may claim: every arrival accounted for, drops as failures, CPU by interval,
the generator judged per process, projection lag and unprojected orders, same traffic."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from harness.results.files import write_run_info
from harness.results.model import RunInfo
from harness.results.summarize import (
    cpu_stats,
    cpu_unavailable,
    endpoint_stats,
    generator_overloads,
    summarize_run,
)
from scenarios.plan import LoadPlan

START = 1_000_000.0
PLAN = LoadPlan(
    phase_seconds={"steady": 10.0, "storm": 10.0, "recovery": 10.0},
    checkout_rate=10.0,
    timeout_s=5.0,
    shoppers=0,
    admins=0,
)
COLUMNS = ["ts", "phase", "name", "latency_us", "ok", "kind", "status", "lag_us"]


def request(at: float, name: str = "checkout", ms: float = 10.0, kind: str = "") -> list[object]:
    phase = PLAN.phase_at(at)
    return [START + at, phase, name, int(ms * 1000), int(kind == ""), kind, 200, 100]


def write_run(
    run_dir: Path,
    rows: dict[str, list[list[object]]],
    *,
    scheduled: dict[str, dict[str, int]] | None = None,
    fingerprints: dict[str, str] | None = None,
    provider: str = "local",
    pids: dict[str, int | None] | None = None,
) -> Path:
    info = RunInfo(
        status="complete",
        started_at="2026-11-29T09:00:00+00:00",
        profile="test",
        systems=tuple(rows),
        dataset={},
        plan=PLAN.to_json(),
        phases=PLAN.phase_seconds,
        seed=42,
        provider=provider,
        pg_settings={},
        git_sha=None,
        versions={},
        machine={},
        caveats=(),
        systems_detail={name: {"pids": pids or {}} for name in rows},
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_info(run_dir, info)
    for system, records in rows.items():
        directory = run_dir / system
        directory.mkdir()
        pd.DataFrame(records, columns=COLUMNS).to_csv(directory / "requests-1.csv", index=False)
        (directory / "clock-1.json").write_text(json.dumps({"started": START}))
        if scheduled is not None:
            (directory / "schedule-checkout-1.json").write_text(
                json.dumps(
                    {
                        "driver": "checkout",
                        "fingerprint": (fingerprints or {}).get(system, "f00d"),
                        "scheduled": scheduled[system],
                        "in_flight_bound": 100,
                    }
                )
            )
    return run_dir


def steady_checkouts(count: int, kind: str = "") -> list[list[object]]:
    return [request(0.1 + i * 9.5 / count, kind=kind) for i in range(count)]


# --- every arrival accounted for ----------------------------------------------------------


def test_scheduled_arrivals_all_recorded_make_a_valid_run(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        {"cqrs": steady_checkouts(30)},
        scheduled={"cqrs": {"steady": 30, "storm": 0, "recovery": 0}},
    )
    summary = summarize_run(run)
    driver = summary.systems["cqrs"].phases["steady"].checkout_driver
    assert (driver.scheduled, driver.answered, driver.recorded) == (30, 30, 30)
    assert summary.valid, summary.invalid_reasons


def test_an_arrival_scheduled_but_never_recorded_makes_the_run_invalid(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        {"cqrs": steady_checkouts(29)},
        scheduled={"cqrs": {"steady": 30, "storm": 0, "recovery": 0}},
    )
    summary = summarize_run(run)
    assert not summary.valid
    assert any(
        "cqrs/steady: 30 checkout arrivals scheduled but 29 recorded" in reason
        and "1 unaccounted for" in reason
        for reason in summary.invalid_reasons
    ), summary.invalid_reasons


def test_dropped_arrivals_are_failures_and_count_as_the_timeout(tmp_path: Path) -> None:
    rows = steady_checkouts(20) + [request(9.9, ms=0, kind="dropped") for _ in range(5)]
    run = write_run(
        tmp_path / "run",
        {"cqrs": rows},
        scheduled={"cqrs": {"steady": 25, "storm": 0, "recovery": 0}},
    )
    summary = summarize_run(run)
    checkout = summary.systems["cqrs"].phases["steady"].endpoints["checkout"]
    assert checkout.count == 25
    assert checkout.errors["dropped"] == 5
    assert checkout.error_rate == pytest.approx(5 / 25)
    # over every arrival: a fifth of them took (at least) the 5 s timeout
    assert checkout.max_ms == 5000.0
    assert checkout.p50_ms == 10.0
    # ...beside the answered requests alone
    assert checkout.answered is not None
    assert checkout.answered.count == 20
    assert checkout.answered.p50_ms == 10.0
    assert not summary.valid
    assert any(
        "5 checkout arrivals dropped: the in-flight bound (100) was full" in r
        for r in summary.invalid_reasons
    )


def test_percentiles_over_all_arrivals_see_the_timeouts_the_answered_ones_hide() -> None:
    answered = [request(1.0, ms=10.0) for _ in range(160)]
    timed_out = [request(1.0, ms=5000.0, kind="timeout") for _ in range(40)]
    rows = pd.DataFrame(answered + timed_out, columns=COLUMNS)
    stats = endpoint_stats(rows, 10.0, open_model=True, timeout_ms=5000.0)
    assert stats.p95_ms == 5000.0
    assert stats.answered is not None
    assert stats.answered.p95_ms is None  # 160 answered: too few for a p95
    assert stats.answered.p50_ms == 10.0


def test_a_percentile_from_too_few_samples_is_null_and_flagged() -> None:
    rows = pd.DataFrame([request(1.0, ms=float(i)) for i in range(1, 200)], columns=COLUMNS)
    stats = endpoint_stats(rows, 10.0)
    assert stats.p50_ms == 100.0
    assert stats.p95_ms is None
    assert stats.p99_ms is None
    assert stats.p90_ms == 180.0  # 199 samples are enough for a p90 (100)
    assert stats.p99_9_ms is None
    assert stats.insufficient == ("p95_ms", "p99_ms", "p99_9_ms")
    assert stats.to_json()["p99_ms"] is None


def test_no_requests_give_no_error_rate_rather_than_zero() -> None:
    stats = endpoint_stats(pd.DataFrame([], columns=COLUMNS), 10.0)
    assert stats.error_rate is None
    assert stats.max_ms is None
    assert stats.insufficient == ()


def test_the_confirmation_read_is_its_own_endpoint(tmp_path: Path) -> None:
    rows = steady_checkouts(30) + [request(1.0, name="checkout_confirm") for _ in range(30)]
    run = write_run(tmp_path / "run", {"cqrs": rows})
    endpoints = summarize_run(run).systems["cqrs"].phases["steady"].endpoints
    assert endpoints["checkout"].count == 30
    assert endpoints["checkout_confirm"].count == 30
    assert "order_status" not in endpoints


# --- same traffic ---------------------------------------------------------------------------


def test_each_system_carries_its_traffic_fingerprint_and_they_must_agree(tmp_path: Path) -> None:
    counts = {"steady": 30, "storm": 0, "recovery": 0}
    same = write_run(
        tmp_path / "same",
        {"baseline": steady_checkouts(30), "cqrs": steady_checkouts(30)},
        scheduled={"baseline": counts, "cqrs": counts},
        fingerprints={"baseline": "abc", "cqrs": "abc"},
    )
    summary = summarize_run(same)
    assert {s.traffic_fingerprint for s in summary.systems.values()} == {"abc"}
    assert summary.valid
    differ = write_run(
        tmp_path / "differ",
        {"baseline": steady_checkouts(30), "cqrs": steady_checkouts(30)},
        scheduled={"baseline": counts, "cqrs": counts},
        fingerprints={"baseline": "abc", "cqrs": "abd"},
    )
    summary = summarize_run(differ)
    assert not summary.valid
    assert any("different traffic" in reason for reason in summary.invalid_reasons)


# --- CPU that adds up -----------------------------------------------------------------------


def test_cpu_samples_are_weighted_by_their_interval_and_split_by_phase() -> None:
    samples = pd.DataFrame(
        [
            # 2 s at 100% straddling the window's start: half of it is inside
            {"ts": 11.0, "interval_s": 2.0, "component": "db", "cpu_pct": 100.0},
            # 1 s at 50%, then 3 s at 10%: inside
            {"ts": 12.0, "interval_s": 1.0, "component": "db", "cpu_pct": 50.0},
            {"ts": 15.0, "interval_s": 3.0, "component": "db", "cpu_pct": 10.0},
            # after the window
            {"ts": 21.0, "interval_s": 1.0, "component": "db", "cpu_pct": 90.0},
        ]
    )
    found = cpu_stats(samples, (10.0, 20.0))["db"]
    # CPU seconds inside (1.0 + 0.5 + 0.3) over the seconds sampled inside (1 + 1 + 3)
    assert found.mean == pytest.approx(round(100 * 1.8 / 5, 1))
    assert found.max == 100.0


def test_a_sample_is_assigned_by_its_interval_not_its_end_time() -> None:
    # ends just after the phase, but its whole interval lies within it but for 0.1 s
    samples = pd.DataFrame([{"ts": 20.1, "interval_s": 1.0, "component": "db", "cpu_pct": 80.0}])
    assert cpu_stats(samples, (10.0, 20.0))["db"].mean == 80.0
    assert cpu_stats(samples, (20.0, 30.0))["db"].mean == 80.0
    assert "db" not in cpu_stats(samples, (0.0, 10.0))


def test_the_generator_is_judged_per_process_over_five_second_windows(tmp_path: Path) -> None:
    rows = []
    for second in range(1, 31):
        busy = 97.0 if 10 <= second < 16 else 20.0  # one process saturated for 6 s
        rows.append({"ts": START + second, "interval_s": 1.0, "pid": 7, "cpu_pct": busy})
        rows.append({"ts": START + second, "interval_s": 1.0, "pid": 8, "cpu_pct": 5.0})
    pd.DataFrame(rows).to_csv(tmp_path / "generator.csv", index=False)
    found = generator_overloads(tmp_path, START)
    assert len(found) == 1
    assert found[0].startswith("load generator process 7 used 97% of a core")
    # the tree's mean over the phase would have hidden it: (6 x 97 + 24 x 20) / 30 + 5
    assert (6 * 97 + 24 * 20) / 30 + 5 < 90


def test_a_short_burst_below_five_seconds_is_not_an_overload(tmp_path: Path) -> None:
    rows = [
        {"ts": START + s, "interval_s": 1.0, "pid": 7, "cpu_pct": 99.0 if s in (3, 4) else 30.0}
        for s in range(1, 20)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "generator.csv", index=False)
    assert generator_overloads(tmp_path, START) == []


def test_cpu_of_a_database_without_a_local_process_is_unavailable_not_zero(tmp_path: Path) -> None:
    assert cpu_unavailable("docker", {"db": None, "app": 12}) == {
        "db": "in a container with no CPU samples from the engine's stats (unavailable)"
    }
    run = write_run(
        tmp_path / "run", {"baseline": steady_checkouts(30)}, provider="docker", pids={"db": None}
    )
    phase = summarize_run(run).systems["baseline"].phases["steady"]
    assert "db" not in phase.cpu_pct
    assert phase.cpu_unavailable["db"].endswith("(unavailable)")
    assert phase.to_json()["cpu_unavailable"] == dict(phase.cpu_unavailable)


def test_a_container_database_with_engine_samples_has_cpu_not_unavailable(tmp_path: Path) -> None:
    """The sampler writes a container's CPU (from the engine's stats) like any component's."""
    run = write_run(
        tmp_path / "run", {"baseline": steady_checkouts(30)}, provider="docker", pids={"db": None}
    )
    rows = [
        {"ts": START + s, "interval_s": 1.0, "component": "db", "cpu_pct": 97.0, "rss_mib": 60.0}
        for s in range(1, 31)
    ]
    pd.DataFrame(rows).to_csv(run / "baseline" / "resources.csv", index=False)
    phase = summarize_run(run).systems["baseline"].phases["steady"]
    assert phase.cpu_pct["db"].mean == 97.0
    assert "db" not in phase.cpu_unavailable
    assert "cpu_unavailable" not in phase.to_json()


# --- projection -----------------------------------------------------------------------------


def test_unprojected_orders_are_counted_per_phase_and_make_the_run_invalid(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {"cqrs": steady_checkouts(30)})
    directory = run / "cqrs"
    pd.DataFrame({"ts": [START + 1, START + 2], "order_id": [1, 2], "lag_ms": [12.0, 30.0]}).to_csv(
        directory / "projection.csv", index=False
    )
    (directory / "projection.json").write_text(
        json.dumps(
            {
                "placed": 5,
                "projected": 2,
                "unprojected": 3,
                "unprojected_ts": [START + 3, START + 12, START + 13],
            }
        )
    )
    summary = summarize_run(run)
    phases = summary.systems["cqrs"].phases
    steady, storm, recovery = (phases[p].projection_lag_ms for p in ("steady", "storm", "recovery"))
    assert steady is not None
    assert storm is not None
    assert recovery is not None
    assert (steady.count, steady.unprojected, steady.max) == (2, 1, 30.0)
    assert (storm.count, storm.unprojected) == (0, 2)
    # no order projected in the storm: no number, never a 0
    assert storm.p50 is None
    assert storm.max is None
    assert recovery.unprojected == 0
    assert not summary.valid
    assert any("2 orders placed but never projected" in r for r in summary.invalid_reasons)


def test_a_summary_from_before_these_keys_still_reads(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", {"cqrs": steady_checkouts(30)})
    summary = summarize_run(run)
    data = summary.to_json()
    for system in data["systems"].values():
        del system["traffic_fingerprint"]
        for phase in system["phases"].values():
            for stats in phase["endpoints"].values():
                del stats["insufficient"]
    again = type(summary).from_json(data)
    assert replace(again, systems={}) == replace(summary, systems={})
    assert again.systems["cqrs"].traffic_fingerprint is None


def test_arrivals_dispatched_late_make_the_run_invalid_whatever_the_sample_count(
    tmp_path: Path,
) -> None:
    rows = steady_checkouts(30)
    for row in rows[:2]:
        row[7] = 250_000  # sent 250 ms after its scheduled time
    run = write_run(
        tmp_path / "run",
        {"cqrs": rows},
        scheduled={"cqrs": {"steady": 30, "storm": 0, "recovery": 0}},
    )
    summary = summarize_run(run)
    driver = summary.systems["cqrs"].phases["steady"].checkout_driver
    assert driver.dispatched_late == 2
    assert driver.schedule_lag_p99_ms is None  # 30 samples: no p99 to judge by
    assert any(
        "2 of 30 checkout arrivals left more than 100 ms late" in r for r in summary.invalid_reasons
    ), summary.invalid_reasons
