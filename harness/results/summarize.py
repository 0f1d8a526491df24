"""``summary.json`` from a run directory: per system and phase, the numbers of DESIGN.md.

The result is a :class:`~harness.results.model.Summary`; its JSON shape is a
contract (gates, compare, the report and users' scripts read it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from harness.results import stats
from harness.results.files import (
    read_clock_start,
    read_optional_csv,
    read_requests,
    read_run_info,
)
from harness.results.model import (
    ENDPOINTS,
    ERROR_KINDS,
    CheckoutDriver,
    CpuStats,
    EndpointStats,
    LagStats,
    PhaseSummary,
    ResultsFileError,
    Summary,
    SystemSummary,
)
from scenarios.plan import PHASES, LoadPlan

# Past these the load generator, not the system, limits the run.
MAX_LOCUST_CPU_PCT = 90.0
MAX_SCHEDULE_LAG_P99_MS = 100.0
MAX_DROPPED_SHARE = 0.01


def phase_windows(plan: LoadPlan, start: float) -> dict[str, tuple[float, float]]:
    windows = {}
    begin = start
    for phase in PHASES:
        end = begin + plan.phase_seconds[phase]
        windows[phase] = (begin, end)
        begin = end
    return windows


def endpoint_stats(rows: pd.DataFrame, seconds: float) -> EndpointStats:
    latency_ms = rows["latency_us"].to_numpy() / 1000.0
    count = len(rows)
    ok = int(rows["ok"].sum())
    return EndpointStats(
        count=count,
        ok=ok,
        p50_ms=stats.percentile(latency_ms, 50),
        p95_ms=stats.percentile(latency_ms, 95),
        p99_ms=stats.percentile(latency_ms, 99),
        max_ms=stats.maximum(latency_ms),
        throughput_rps=round(ok / seconds, 3) if seconds else 0.0,
        error_rate=round((count - ok) / count, 6) if count else 0.0,
        errors={kind: int((rows["kind"] == kind).sum()) for kind in ERROR_KINDS},
    )


def _window_stats(
    frame: pd.DataFrame | None, column: str, window: tuple[float, float]
) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series(dtype=float)
    inside = frame[(frame["ts"] >= window[0]) & (frame["ts"] < window[1])]
    return inside[column].astype(float)


def summarize_system(directory: Path, plan: LoadPlan) -> SystemSummary:
    requests = read_requests(directory)
    start = read_clock_start(directory)
    if start is None:
        start = float(requests["ts"].min())
    windows = phase_windows(plan, start)
    resources = read_optional_csv(directory / "resources.csv")
    lag = read_optional_csv(directory / "projection.csv")
    phases: dict[str, PhaseSummary] = {}
    for phase in PHASES:
        seconds = plan.phase_seconds[phase]
        in_phase = requests[requests["phase"] == phase]
        served = in_phase[in_phase["kind"] != "dropped"]
        endpoints = {
            name: endpoint_stats(served[served["name"] == name], seconds)
            for name in ENDPOINTS
            if (served["name"] == name).any()
        }
        checkout = in_phase[in_phase["name"] == "checkout"]
        sent = checkout[checkout["kind"] != "dropped"]
        driver = CheckoutDriver(
            offered_rps=round(len(checkout) / seconds, 3),
            achieved_rps=round(int(sent["ok"].sum()) / seconds, 3),
            dropped=int((checkout["kind"] == "dropped").sum()),
            schedule_lag_p99_ms=stats.percentile(sent["lag_us"].to_numpy() / 1000.0, 99),
            target_rps=plan.checkout_rate,
        )
        cpu: dict[str, CpuStats] = {}
        if resources is not None:
            for component, rows in resources.groupby("component"):
                values = _window_stats(rows, "cpu_pct", windows[phase])
                if len(values):
                    cpu[str(component)] = CpuStats(
                        mean=round(float(values.mean()), 1), max=round(float(values.max()), 1)
                    )
        lag_stats = None
        if lag is not None:
            lags = _window_stats(lag, "lag_ms", windows[phase]).to_numpy()
            lag_stats = LagStats(
                p50=stats.percentile(lags, 50),
                p99=stats.percentile(lags, 99),
                max=stats.maximum(lags),
            )
        phases[phase] = PhaseSummary(
            seconds=seconds,
            endpoints=endpoints,
            checkout_driver=driver,
            cpu_pct=cpu,
            projection_lag_ms=lag_stats,
        )
    return SystemSummary(phases=phases, phase_windows=windows)


def invalid_reasons(system: str, summary: SystemSummary) -> list[str]:
    reasons = []
    for phase, entry in summary.phases.items():
        locust = entry.cpu_pct.get("locust")
        if locust and locust.mean > MAX_LOCUST_CPU_PCT:
            reasons.append(
                f"{system}/{phase}: the load generator used {locust.mean:.0f}% of a core "
                f"(limit {MAX_LOCUST_CPU_PCT:.0f}%)"
            )
        driver = entry.checkout_driver
        if driver.schedule_lag_p99_ms > MAX_SCHEDULE_LAG_P99_MS:
            reasons.append(
                f"{system}/{phase}: checkouts left {driver.schedule_lag_p99_ms:.0f} ms late "
                f"at p99 (limit {MAX_SCHEDULE_LAG_P99_MS:.0f} ms): the generator fell behind"
            )
        offered = driver.offered_rps * entry.seconds
        if offered and driver.dropped / offered > MAX_DROPPED_SHARE:
            reasons.append(
                f"{system}/{phase}: {driver.dropped} checkout arrivals dropped "
                f"(more than {MAX_DROPPED_SHARE:.0%} of those offered)"
            )
    return reasons


RATIO_METRICS = (
    ("checkout", "p50_ms"),
    ("checkout", "p99_ms"),
    ("dashboard_customers", "p50_ms"),
    ("dashboard_customers", "p99_ms"),
)


def ratios(systems: Mapping[str, SystemSummary]) -> dict[str, float]:
    """Baseline over CQRS for the story's metrics, and each system's storm over steady."""
    result: dict[str, float] = {}

    def value(system: str, phase: str, *rest: str) -> float | None:
        found = systems.get(system)
        entry = None if found is None else found.phases.get(phase)
        if entry is None:
            return None
        metrics = dict(entry.metrics())
        return metrics.get(rest) or None  # a zero is no basis for a ratio

    for system in systems:
        for endpoint, metric in RATIO_METRICS:
            storm = value(system, "storm", endpoint, metric)
            steady = value(system, "steady", endpoint, metric)
            if storm and steady:
                result[f"{system}.{endpoint}.{metric}.storm_over_steady"] = round(storm / steady, 3)
    if "baseline" in systems and "cqrs" in systems:
        for phase in PHASES:
            for endpoint, metric in RATIO_METRICS:
                base = value("baseline", phase, endpoint, metric)
                cqrs = value("cqrs", phase, endpoint, metric)
                if base and cqrs:
                    result[f"{phase}.{endpoint}.{metric}.baseline_over_cqrs"] = round(
                        base / cqrs, 3
                    )
            base_cpu = value("baseline", phase, "cpu_pct", "db", "mean")
            write_cpu = value("cqrs", phase, "cpu_pct", "write", "mean")
            if base_cpu and write_cpu:
                result[f"{phase}.cpu_pct.db_over_write"] = round(base_cpu / write_cpu, 3)
    return result


def summarize_run(run_dir: Path) -> Summary:
    run = read_run_info(run_dir)
    plan = run.load_plan()
    systems: dict[str, SystemSummary] = {}
    reasons: list[str] = []
    for system in run.systems:
        directory = run_dir / system
        if not directory.is_dir():
            raise ResultsFileError(
                f"run directory {run_dir} has no {system}/: the run is truncated"
            )
        systems[system] = summarize_system(directory, plan)
        reasons.extend(invalid_reasons(system, systems[system]))
    return Summary(
        valid=not reasons,
        invalid_reasons=tuple(reasons),
        systems=systems,
        ratios=ratios(systems),
    )
