"""``cqrs-bench compare``: runs side by side, each change with its interval and a verdict.

How noise is judged (never from i.i.d. resamples of single requests):

- trials on both sides (``run --repeat N``): from the variation across trials
  (Welch's t on the per-trial values, log scale), so run-to-run variation is in
  the interval;
- one trial on either side: a block bootstrap of the per-request records
  (blocks of seconds, so bursts stay together) of the change itself, the ratio
  of the two sides (or their difference for a value that can be 0).

Each row says which (``method``), the change, its interval and the verdict:
"beyond noise" when the interval leaves out no change, "within noise" when it
holds it, "unknown" when a side has too few samples (or trials) to tell, or,
for CPU in a single trial, when there is nothing to resample.

With more than two runs, :func:`compare_trend` gives chosen metrics across
all of them (a history for CI), each run's trials, median and interval, and
each step's verdict.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.results import stats
from harness.results.files import (
    read_requests,
    read_run_info,
    read_summary,
    trial_dirs,
)
from harness.results.model import OPEN_MODEL_ENDPOINTS, Metric, ResultsFileError, Summary
from harness.results.summarize import latency_values

LATENCY_METRICS = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
RATE_METRICS = ("throughput_rps", "error_rate")
COMPARED = (*LATENCY_METRICS, *RATE_METRICS)
REQUEST_COLUMNS = ["ts", "phase", "name", "latency_us", "ok", "kind"]


def compared_metrics(summary: Summary) -> Iterator[Metric]:
    """What compare sets side by side: each endpoint's latency percentiles, throughput and
    error rate, and each component's mean CPU."""
    for metric in summary.metric_items():
        rest = metric.rest
        endpoint = len(rest) == 2 and rest[1] in COMPARED
        cpu = len(rest) == 3 and rest[0] == "cpu_pct" and rest[2] == "mean"
        if endpoint or cpu:
            yield metric


def is_latency(path: str) -> bool:
    return path.rsplit(".", 1)[-1] in LATENCY_METRICS


# --- one side's records, resampled in blocks of seconds ---------------------------------------


@dataclass(frozen=True)
class Resampled:
    """One metric of one side: the value the records give, its resamples, the blocks."""

    value: float | None
    rounds: np.ndarray[Any, Any]
    blocks: int


class Records:
    """A run's per-request records, block-resampled per system and phase on demand.

    Every trial's records are pooled (blocks are numbered per trial), so a run
    of several trials set against a run of one is judged on all its requests.
    """

    def __init__(
        self, run_dir: Path, summary: Summary, rounds: int, seed: int, side: str = "a"
    ) -> None:
        self.run_dir = run_dir
        self.side = side
        self.summary = summary
        self.rounds = rounds
        self.seed = seed
        self._run = read_run_info(run_dir)
        self._plan = self._run.load_plan()
        self._cache: dict[tuple[str, str], dict[str, Resampled]] = {}
        self._frames_read: dict[str, list[pd.DataFrame]] = {}  # one system's at a time

    @classmethod
    def open(
        cls, run_dir: Path, summary: Summary, rounds: int, seed: int, side: str = "a"
    ) -> Records | None:
        """None when the run keeps no records (a summary alone): no bootstrap is possible."""
        try:
            records = cls(run_dir, summary, rounds, seed, side)
        except ResultsFileError:
            return None
        for system in summary.systems:
            if not any(any(d.glob("requests-*.csv")) for d in trial_dirs(run_dir, system)):
                return None
        return records

    def _frames(self, system: str) -> list[pd.DataFrame]:
        """Each trial's records of ``system`` (read once; the phases are drawn from them)."""
        if system not in self._frames_read:
            self._frames_read = {
                system: [
                    read_requests(directory, columns=REQUEST_COLUMNS)
                    for directory in trial_dirs(self.run_dir, system)
                ]
            }
        return self._frames_read[system]

    def metric(self, system: str, phase: str, endpoint: str, name: str) -> Resampled | None:
        key = (system, phase)
        if key not in self._cache:
            self._cache[key] = self._resample(system, phase)
        return self._cache[key].get(f"{endpoint}.{name}")

    def _resample(self, system: str, phase: str) -> dict[str, Resampled]:
        seconds = float(self._plan.phase_seconds[phase])
        block_s = stats.block_seconds(seconds)
        per_trial = max(1, int(np.ceil(seconds / block_s)))
        frames = self._frames(system)
        n_blocks = per_trial * len(frames)
        parts = []
        for trial, frame in enumerate(frames, start=1):
            rows = frame[frame["phase"] == phase]
            start = self.summary.windows(system, trial)[phase][0]
            index = np.clip(np.floor((rows["ts"].to_numpy() - start) / block_s), 0, per_trial - 1)
            parts.append(rows.assign(block=index.astype(np.int64) + (trial - 1) * per_trial))
        if not parts:
            return {}
        rows = pd.concat(parts, ignore_index=True)
        # each side draws its own blocks: the two runs are independent (a run set
        # against itself must not get the same resamples on both sides)
        rng = np.random.default_rng([self.seed, *map(ord, f"{self.side}/{system}/{phase}")])
        weights = stats.block_weights(n_blocks, self.rounds, rng)
        found: dict[str, Resampled] = {}
        span = seconds * len(frames)
        timeout_ms = self._plan.timeout_s * 1000
        for endpoint, group in rows.groupby("name"):
            name = str(endpoint)
            values = latency_values(
                group, open_model=name in OPEN_MODEL_ENDPOINTS, timeout_ms=timeout_ms
            )
            side = stats.Blocked.from_blocks(values, group["block"].to_numpy(), n_blocks)
            qs = list(LATENCY_METRICS.values())
            rounds = stats.resampled_percentiles(side, weights, qs)
            for (metric, q), resampled in zip(LATENCY_METRICS.items(), rounds, strict=True):
                found[f"{name}.{metric}"] = Resampled(
                    stats.percentile(values, q), resampled, n_blocks
                )
            ok = group["ok"].to_numpy(dtype=float)
            blocks = group["block"].to_numpy()
            ok_sums = stats.resampled_sums(stats.block_sums(blocks, ok, n_blocks), weights)
            counts = stats.resampled_sums(
                stats.block_sums(blocks, np.ones(len(ok)), n_blocks), weights
            )
            found[f"{name}.throughput_rps"] = Resampled(
                round(float(ok.sum()) / span, 3), ok_sums / span, n_blocks
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                error_rounds = np.where(counts > 0, 1 - ok_sums / counts, np.nan)
            found[f"{name}.error_rate"] = Resampled(
                round(1 - float(ok.sum()) / len(ok), 6) if len(ok) else None,
                error_rounds,
                n_blocks,
            )
        return found


# --- two runs ------------------------------------------------------------------------------


def _row(path: str, change: stats.Change) -> dict[str, Any]:
    return {
        "metric": path,
        "a": change.a,
        "b": change.b,
        "change": change.change,
        "low": change.low,
        "high": change.high,
        "scale": change.scale,
        "verdict": change.verdict,
        "beyond_noise": change.beyond_noise,
        "method": change.method,
    }


def _split(path: str) -> tuple[str, str, str, str] | None:
    parts = path.split(".")
    if len(parts) != 4 or parts[3] not in COMPARED:
        return None
    return parts[0], parts[1], parts[2], parts[3]


def _bootstrap_row(
    path: str, records_a: Records | None, records_b: Records | None, level: float
) -> stats.Change:
    parts = _split(path)
    if parts is None or records_a is None or records_b is None:
        return stats.unknown_change(None, None, stats.BOOTSTRAP_METHOD, level)
    found_a, found_b = records_a.metric(*parts), records_b.metric(*parts)
    if found_a is None or found_b is None:
        return stats.unknown_change(None, None, stats.BOOTSTRAP_METHOD, level)
    return stats.bootstrap_change(
        found_a.value,
        found_b.value,
        found_a.rounds,
        found_b.rounds,
        min(found_a.blocks, found_b.blocks),
        level,
    )


def compare_runs(
    run_a: Path,
    run_b: Path,
    *,
    level: float = stats.VERDICT_LEVEL,
    rounds: int = stats.BOOTSTRAP_ROUNDS,
    seed: int = 0,
    only: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Every compared metric of two runs: A, B, the change, its interval, the verdict.

    ``only`` restricts the comparison to these paths (gates and trends ask for
    a few). A and B are the values the method compares: the trials' medians,
    or, for the bootstrap, what the records give (the summary's value for a
    run of one trial).
    """
    summary_a, summary_b = read_summary(run_a), read_summary(run_b)
    values_a = {metric.path: metric.value for metric in compared_metrics(summary_a)}
    values_b = {metric.path: metric.value for metric in compared_metrics(summary_b)}
    wanted = set(values_a) & set(values_b)
    if only is not None:
        wanted &= set(only)
    trials = summary_a.trial_count >= 2 and summary_b.trial_count >= 2
    records_a = records_b = None
    if not trials:
        records_a = Records.open(run_a, summary_a, rounds, seed)
        records_b = Records.open(run_b, summary_b, rounds, seed, "b")
    rows = []
    for path in sorted(wanted):
        if trials:
            change = stats.change_across_trials(
                summary_a.trial_values(path), summary_b.trial_values(path), level
            )
        else:
            change = _bootstrap_row(path, records_a, records_b, level)
            if change.a is None and change.b is None:  # nothing to resample: say what we know
                change = stats.unknown_change(
                    values_a[path], values_b[path], stats.BOOTSTRAP_METHOD, level
                )
        rows.append(_row(path, change))
    judged = [row for row in rows if row["verdict"] != stats.UNKNOWN]
    return {
        "a": str(run_a),
        "b": str(run_b),
        "a_valid": summary_a.valid,
        "b_valid": summary_b.valid,
        "a_trials": summary_a.trial_count,
        "b_trials": summary_b.trial_count,
        "method": stats.TRIALS_METHOD if trials else stats.BOOTSTRAP_METHOD,
        "level": level,
        "judged": len(judged),
        "beyond": sum(row["verdict"] == stats.BEYOND for row in judged),
        "metrics": rows,
        "only_in_a": sorted(set(values_a) - set(values_b)),
        "only_in_b": sorted(set(values_b) - set(values_a)),
    }


# --- more runs: a trend ------------------------------------------------------------------


def default_trend_metrics(summary: Summary) -> list[str]:
    """Checkout p95 and dashboard p50 in the storm, for every system of the run."""
    return [
        f"{system}.storm.{endpoint}"
        for system in summary.systems
        for endpoint in ("checkout.p95_ms", "dashboard_customers.p50_ms")
    ]


def _point(
    run_dir: Path, summary: Summary, path: str, records: Records | None, level: float
) -> dict[str, Any]:
    values = summary.trial_values(path)
    point: dict[str, Any] = {
        "run": str(run_dir),
        "trials": summary.trial_count,
        "values": list(values),
        "median": summary.metrics().get(path),
        "low": None,
        "high": None,
    }
    if summary.trials is not None:
        found = summary.trials.metrics.get(path)
        if found is not None:
            point["median"], point["low"], point["high"] = found.median, found.low, found.high
    elif records is not None and (parts := _split(path)) is not None:
        resampled = records.metric(*parts)
        if resampled is not None:
            interval = stats.bootstrap_interval(
                resampled.value, resampled.rounds, resampled.blocks, level
            )
            if interval is not None:
                point["low"], point["high"] = interval
    return point


def compare_trend(
    runs: Sequence[Path],
    metrics: Sequence[str] = (),
    *,
    level: float = stats.VERDICT_LEVEL,
    rounds: int = stats.BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> dict[str, Any]:
    """Chosen metrics across runs (oldest first): each run's trials, median and interval,
    and each step's change and verdict against the run before it."""
    if len(runs) < 2:
        raise ResultsFileError("a trend needs two runs or more")
    summaries = [read_summary(run) for run in runs]
    chosen = list(metrics) or default_trend_metrics(summaries[-1])
    series: dict[str, list[dict[str, Any]]] = {path: [] for path in chosen}
    for run, summary in zip(runs, summaries, strict=True):
        records = None
        if summary.trials is None:
            records = Records.open(run, summary, rounds, seed)
        for path in chosen:
            series[path].append(_point(run, summary, path, records, stats.SUMMARY_LEVEL))
    steps = []
    for before, after in itertools.pairwise(runs):
        report = compare_runs(before, after, level=level, rounds=rounds, seed=seed, only=chosen)
        steps.append(
            {
                "a": str(before),
                "b": str(after),
                "method": report["method"],
                "rows": report["metrics"],
            }
        )
    return {
        "runs": [str(run) for run in runs],
        "metrics": chosen,
        "level": level,
        "interval_level": stats.SUMMARY_LEVEL,
        "series": series,
        "steps": steps,
    }


# --- text ------------------------------------------------------------------------------------


def verdict_text(row: dict[str, Any]) -> str:
    return str(row.get("verdict") or stats.UNKNOWN)


def change_text(row: dict[str, Any]) -> str:
    return "-" if row["change"] is None else f"{row['change']:+.1%}"


def interval_text(row: dict[str, Any]) -> str:
    """The change's interval: relative for a ratio, B - A for a difference."""
    low, high = row.get("low"), row.get("high")
    if low is None or high is None:
        return "-"
    if row.get("scale") == "difference":
        return f"[{low:+.4g}, {high:+.4g}] (B - A)"
    return f"[{low:+.1%}, {high:+.1%}]"


def value_text(value: float | None, digits: int = 2) -> str:
    """A compared value; "-" where too few samples gave none."""
    return "-" if value is None else f"{value:,.{digits}f}"
