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

from harness.results.files import read_requests, read_summary
from harness.results.model import Metric, Summary
from harness.results.stats import bootstrap_interval

LATENCY_METRICS = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
OTHER_METRICS = ("throughput_rps", "error_rate")
COMPARED = (*LATENCY_METRICS, *OTHER_METRICS)


def compared_metrics(summary: Summary) -> Iterator[Metric]:
    """What compare sets side by side: each endpoint's latency percentiles, throughput and
    error rate, and each component's mean CPU."""
    for metric in summary.metric_items():
        rest = metric.rest
        endpoint = len(rest) == 2 and rest[1] in COMPARED
        cpu = len(rest) == 3 and rest[0] == "cpu_pct" and rest[2] == "mean"
        if endpoint or cpu:
            yield metric


def _intervals(run_dir: Path, summary: Summary) -> dict[str, tuple[float, float]]:
    intervals: dict[str, tuple[float, float]] = {}
    for system in summary.systems:
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
    values_a = {metric.path: metric.value for metric in compared_metrics(summary_a)}
    values_b = {metric.path: metric.value for metric in compared_metrics(summary_b)}
    noise_a, noise_b = _intervals(run_a, summary_a), _intervals(run_b, summary_b)
    rows = []
    for key in sorted(set(values_a) & set(values_b)):
        a, b = values_a[key], values_b[key]
        change = None if a is None or b is None or a == 0 else (b - a) / a
        if a is None or b is None:
            beyond: bool | None = None  # too few samples on a side: nothing can be told
        elif key in noise_a and key in noise_b:
            (low_a, high_a), (low_b, high_b) = noise_a[key], noise_b[key]
            beyond = high_a < low_b or high_b < low_a
        else:
            beyond = None
        rows.append({"metric": key, "a": a, "b": b, "change": change, "beyond_noise": beyond})
    return {
        "a": str(run_a),
        "b": str(run_b),
        "a_valid": summary_a.valid,
        "b_valid": summary_b.valid,
        "metrics": rows,
        "only_in_a": sorted(set(values_a) - set(values_b)),
        "only_in_b": sorted(set(values_b) - set(values_a)),
    }


def verdict_text(row: dict[str, Any]) -> str:
    return {True: "yes", False: "within noise", None: "unknown"}[row["beyond_noise"]]


def change_text(row: dict[str, Any]) -> str:
    return "-" if row["change"] is None else f"{row['change']:+.1%}"


def value_text(value: float | None, digits: int = 2) -> str:
    """A compared value; "-" where too few samples gave none."""
    return "-" if value is None else f"{value:,.{digits}f}"
