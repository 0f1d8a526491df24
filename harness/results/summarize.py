"""``summary.json`` from a run directory: per system and phase, the numbers of DESIGN.md.

Its shape is a contract (gates, compare, the report and users' scripts read
it); keys may be added, none removed. Unknown schema versions are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.core.errors import BadInput
from scenarios.plan import PHASES, LoadPlan

SUMMARY_SCHEMA_VERSION = 1
ENDPOINTS = (
    "checkout",
    "dashboard_customers",
    "dashboard_revenue",
    "product_list",
    "product_page",
    "my_orders",
    "order_status",
)
ERROR_KINDS = ("timeout", "http_4xx", "http_5xx", "connection")
# Past these the load generator, not the system, limits the run.
MAX_LOCUST_CPU_PCT = 90.0
MAX_SCHEDULE_LAG_P99_MS = 100.0
MAX_DROPPED_SHARE = 0.01


def read_requests(directory: Path) -> pd.DataFrame:
    files = sorted(directory.glob("requests-*.csv"))
    if not files:
        raise BadInput(f"{directory} holds no requests-*.csv: the run recorded nothing")
    frames = [
        pd.read_csv(f, dtype={"kind": "string", "phase": "string", "name": "string"}) for f in files
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame["kind"] = frame["kind"].fillna("")
    return frame


def _clock_start(directory: Path) -> float | None:
    starts = [json.loads(f.read_text())["started"] for f in directory.glob("clock-*.json")]
    return min(starts) if starts else None


def phase_windows(plan: LoadPlan, start: float) -> dict[str, tuple[float, float]]:
    windows = {}
    begin = start
    for phase in PHASES:
        end = begin + plan.phase_seconds[phase]
        windows[phase] = (begin, end)
        begin = end
    return windows


def _percentile(values: np.ndarray[Any, Any], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if len(values) else 0.0


def endpoint_stats(rows: pd.DataFrame, seconds: float) -> dict[str, Any]:
    latency_ms = rows["latency_us"].to_numpy() / 1000.0
    count = len(rows)
    ok = int(rows["ok"].sum())
    errors = {kind: int((rows["kind"] == kind).sum()) for kind in ERROR_KINDS}
    return {
        "count": count,
        "ok": ok,
        "p50_ms": _percentile(latency_ms, 50),
        "p95_ms": _percentile(latency_ms, 95),
        "p99_ms": _percentile(latency_ms, 99),
        "max_ms": round(float(latency_ms.max()), 3) if count else 0.0,
        "throughput_rps": round(ok / seconds, 3) if seconds else 0.0,
        "error_rate": round((count - ok) / count, 6) if count else 0.0,
        "errors": errors,
    }


def _window_stats(
    frame: pd.DataFrame | None, column: str, window: tuple[float, float]
) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series(dtype=float)
    inside = frame[(frame["ts"] >= window[0]) & (frame["ts"] < window[1])]
    return inside[column].astype(float)


def summarize_system(directory: Path, plan: LoadPlan) -> dict[str, Any]:
    requests = read_requests(directory)
    start = _clock_start(directory)
    if start is None:
        start = float(requests["ts"].min())
    windows = phase_windows(plan, start)
    resources = _optional_csv(directory / "resources.csv")
    lag = _optional_csv(directory / "projection.csv")
    phases: dict[str, Any] = {}
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
        driver = {
            "offered_rps": round(len(checkout) / seconds, 3),
            "achieved_rps": round(int(sent["ok"].sum()) / seconds, 3),
            "dropped": int((checkout["kind"] == "dropped").sum()),
            "schedule_lag_p99_ms": _percentile(sent["lag_us"].to_numpy() / 1000.0, 99),
            "target_rps": plan.checkout_rate,
        }
        cpu: dict[str, dict[str, float]] = {}
        if resources is not None:
            for component, rows in resources.groupby("component"):
                values = _window_stats(rows, "cpu_pct", windows[phase])
                if len(values):
                    cpu[str(component)] = {
                        "mean": round(float(values.mean()), 1),
                        "max": round(float(values.max()), 1),
                    }
        entry: dict[str, Any] = {
            "seconds": seconds,
            "endpoints": endpoints,
            "checkout_driver": driver,
            "cpu_pct": cpu,
        }
        if lag is not None:
            lags = _window_stats(lag, "lag_ms", windows[phase]).to_numpy()
            entry["projection_lag_ms"] = {
                "p50": _percentile(lags, 50),
                "p99": _percentile(lags, 99),
                "max": round(float(lags.max()), 3) if len(lags) else 0.0,
            }
        phases[phase] = entry
    return {"phases": phases, "phase_windows": {k: list(v) for k, v in windows.items()}}


def _optional_csv(path: Path) -> pd.DataFrame | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    frame = pd.read_csv(path)
    return None if frame.empty else frame


def invalid_reasons(system: str, summary: dict[str, Any]) -> list[str]:
    reasons = []
    for phase, entry in summary["phases"].items():
        locust = entry["cpu_pct"].get("locust")
        if locust and locust["mean"] > MAX_LOCUST_CPU_PCT:
            reasons.append(
                f"{system}/{phase}: the load generator used {locust['mean']:.0f}% of a core "
                f"(limit {MAX_LOCUST_CPU_PCT:.0f}%)"
            )
        driver = entry["checkout_driver"]
        if driver["schedule_lag_p99_ms"] > MAX_SCHEDULE_LAG_P99_MS:
            reasons.append(
                f"{system}/{phase}: checkouts left {driver['schedule_lag_p99_ms']:.0f} ms late "
                f"at p99 (limit {MAX_SCHEDULE_LAG_P99_MS:.0f} ms): the generator fell behind"
            )
        offered = driver["offered_rps"] * entry["seconds"]
        if offered and driver["dropped"] / offered > MAX_DROPPED_SHARE:
            reasons.append(
                f"{system}/{phase}: {driver['dropped']} checkout arrivals dropped "
                f"(more than {MAX_DROPPED_SHARE:.0%} of those offered)"
            )
    return reasons


RATIO_METRICS = (
    ("checkout", "p50_ms"),
    ("checkout", "p99_ms"),
    ("dashboard_customers", "p50_ms"),
    ("dashboard_customers", "p99_ms"),
)


def ratios(systems: dict[str, Any]) -> dict[str, float]:
    """Baseline over CQRS for the story's metrics, and each system's storm over steady."""
    result: dict[str, float] = {}

    def value(system: str, phase: str, endpoint: str, metric: str) -> float | None:
        entry = systems.get(system, {}).get("phases", {}).get(phase, {})
        found = entry.get("endpoints", {}).get(endpoint, {}).get(metric)
        return float(found) if found else None

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
            base_cpu = systems["baseline"]["phases"][phase]["cpu_pct"].get("db", {}).get("mean")
            write_cpu = systems["cqrs"]["phases"][phase]["cpu_pct"].get("write", {}).get("mean")
            if base_cpu and write_cpu:
                result[f"{phase}.cpu_pct.db_over_write"] = round(base_cpu / write_cpu, 3)
    return result


def summarize_run(run_dir: Path) -> dict[str, Any]:
    run = read_run_json(run_dir)
    plan = LoadPlan.from_json(run["plan"])
    systems: dict[str, Any] = {}
    reasons: list[str] = []
    for system in run["systems"]:
        directory = run_dir / system
        if not directory.is_dir():
            raise BadInput(f"run directory {run_dir} has no {system}/: the run is truncated")
        systems[system] = summarize_system(directory, plan)
        reasons.extend(invalid_reasons(system, systems[system]))
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "valid": not reasons,
        "invalid_reasons": reasons,
        "systems": systems,
        "ratios": ratios(systems),
    }


RUN_SCHEMA_VERSION = 1


def _read_versioned(path: Path, version: int, missing: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(missing) from None
    except ValueError as exc:
        raise BadInput(
            f"{path} is not valid JSON ({exc}); the file is truncated or damaged"
        ) from None
    if not isinstance(data, dict) or data.get("schema_version") != version:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise BadInput(
            f"{path} has schema version {found!r}; this cqrs-bench reads version {version}"
        )
    return data


def read_run_json(run_dir: Path) -> dict[str, Any]:
    return _read_versioned(
        run_dir / "run.json", RUN_SCHEMA_VERSION, f"{run_dir} is not a run directory (no run.json)"
    )


def read_summary(run_dir: Path) -> dict[str, Any]:
    return _read_versioned(
        run_dir / "summary.json",
        SUMMARY_SCHEMA_VERSION,
        f"{run_dir} has no summary.json (an incomplete run?)",
    )
