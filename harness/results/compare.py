"""``cqrs-bench compare``: two runs side by side, and whether each change is beyond the noise.

A run here is one trial, so the noise of each latency percentile is taken
from the run's own per-request records: a bootstrap confidence interval. A
change counts only when the two intervals do not overlap. Other metrics have
no such interval and are marked "unknown".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.results.summarize import read_requests, read_summary
from scenarios.plan import PHASES

LATENCY_METRICS = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
OTHER_METRICS = ("throughput_rps", "error_rate")
BOOTSTRAP_ROUNDS = 200


def _flatten(summary: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str, float]]:
    for system, data in summary["systems"].items():
        for phase in PHASES:
            entry = data["phases"].get(phase, {})
            for endpoint, stats in entry.get("endpoints", {}).items():
                for metric in (*LATENCY_METRICS, *OTHER_METRICS):
                    if metric in stats:
                        yield (
                            f"{system}.{phase}.{endpoint}.{metric}",
                            system,
                            phase,
                            endpoint,
                            metric,
                            float(stats[metric]),
                        )
            for component, cpu in entry.get("cpu_pct", {}).items():
                yield (
                    f"{system}.{phase}.cpu_pct.{component}.mean",
                    system,
                    phase,
                    "",
                    "cpu",
                    float(cpu["mean"]),
                )


def bootstrap_interval(
    latency_ms: np.ndarray[Any, Any], q: float, seed: int = 0
) -> tuple[float, float]:
    if len(latency_ms) < 20:
        return float("-inf"), float("inf")
    rng = np.random.default_rng(seed)
    samples = rng.choice(latency_ms, size=(BOOTSTRAP_ROUNDS, len(latency_ms)), replace=True)
    estimates = np.percentile(samples, q, axis=1)
    return float(np.percentile(estimates, 2.5)), float(np.percentile(estimates, 97.5))


def _intervals(run_dir: Path, summary: dict[str, Any]) -> dict[str, tuple[float, float]]:
    intervals: dict[str, tuple[float, float]] = {}
    for system in summary["systems"]:
        directory = run_dir / system
        if not directory.is_dir():
            continue
        requests = read_requests(directory)
        served = requests[requests["kind"] != "dropped"]
        for (phase, endpoint), rows in served.groupby(["phase", "name"]):
            latency = rows["latency_us"].to_numpy() / 1000
            for metric, q in LATENCY_METRICS.items():
                intervals[f"{system}.{phase}.{endpoint}.{metric}"] = bootstrap_interval(latency, q)
    return intervals


def compare_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    summary_a, summary_b = read_summary(run_a), read_summary(run_b)
    values_a = {row[0]: row[5] for row in _flatten(summary_a)}
    values_b = {row[0]: row[5] for row in _flatten(summary_b)}
    noise_a, noise_b = _intervals(run_a, summary_a), _intervals(run_b, summary_b)
    rows = []
    for key in sorted(set(values_a) & set(values_b)):
        a, b = values_a[key], values_b[key]
        change = None if a == 0 else (b - a) / a
        if key in noise_a and key in noise_b:
            (low_a, high_a), (low_b, high_b) = noise_a[key], noise_b[key]
            beyond: bool | None = high_a < low_b or high_b < low_a
        else:
            beyond = None
        rows.append({"metric": key, "a": a, "b": b, "change": change, "beyond_noise": beyond})
    return {
        "a": str(run_a),
        "b": str(run_b),
        "a_valid": summary_a["valid"],
        "b_valid": summary_b["valid"],
        "metrics": rows,
        "only_in_a": sorted(set(values_a) - set(values_b)),
        "only_in_b": sorted(set(values_b) - set(values_a)),
    }


def verdict_text(row: dict[str, Any]) -> str:
    return {True: "yes", False: "within noise", None: "unknown"}[row["beyond_noise"]]


def change_text(row: dict[str, Any]) -> str:
    return "-" if row["change"] is None else f"{row['change']:+.1%}"
