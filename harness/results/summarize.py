"""``summary.json`` from a run directory: per system and phase, the numbers of DESIGN.md.

The result is a :class:`~harness.results.model.Summary`; its JSON shape is a
contract (gates, compare, the report and users' scripts read it).

What the numbers mean (the README says it for users):
- Open-model endpoints (checkout, the two reports) count every scheduled
  arrival: a drop or a timeout is a failure, and in the percentiles it
  counts as the client timeout; ``answered`` holds the percentiles of
  answered requests alone. Latency runs from the scheduled time.
- Every arrival the drivers scheduled must be recorded (answered, failed,
  timed out or dropped); one unaccounted for makes the run invalid.
- CPU samples are weighted by their interval and assigned to phases by how
  much of their interval falls in the phase.
- A percentile needs ``10 / (1 - q)`` samples; with fewer it is None and
  flagged, never a guess.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.results import stats
from harness.results.files import (
    read_clock_start,
    read_optional_csv,
    read_requests,
    read_run_info,
    trial_dir,
)
from harness.results.model import (
    ENDPOINTS,
    ERROR_KINDS,
    OPEN_MODEL_ENDPOINTS,
    PERCENTILES,
    TOP_ERRORS,
    Answered,
    CheckoutDriver,
    CpuStats,
    EndpointStats,
    ErrorCount,
    LagStats,
    MemoryStats,
    PhaseSummary,
    ReportsDriver,
    ResultsFileError,
    RunInfo,
    Summary,
    SystemSummary,
    Trials,
    TrialValues,
)
from scenarios.plan import PHASES, LoadPlan

# Past these the load generator, not the system, limits the run.
MAX_GENERATOR_CPU_PCT = 90.0  # any one generator process over any 5 s window
GENERATOR_WINDOW_S = 5.0
# An arrival sent later than this after its scheduled time was dispatched late; more
# than 1% of them late (a schedule lag p99 above the limit) and the generator fell behind.
LATE_MS = 100.0
MAX_LATE_SHARE = 0.01
REPORT_NAMES = ("dashboard_customers", "dashboard_revenue")


def phase_windows(plan: LoadPlan, start: float) -> dict[str, tuple[float, float]]:
    windows = {}
    begin = start
    for phase in PHASES:
        end = begin + plan.phase_seconds[phase]
        windows[phase] = (begin, end)
        begin = end
    return windows


def latency_values(
    rows: pd.DataFrame, *, open_model: bool = False, timeout_ms: float = 0.0
) -> np.ndarray[Any, Any]:
    """The latencies (ms) an endpoint's percentiles run over: for open-model endpoints a
    dropped or timed-out arrival counts as (at least) the client timeout."""
    latency_ms: np.ndarray[Any, Any] = rows["latency_us"].to_numpy() / 1000.0
    if open_model:
        kinds = rows["kind"]
        unanswered = ((kinds == "dropped") | (kinds == "timeout")).to_numpy()
        latency_ms = np.where(unanswered, np.maximum(latency_ms, timeout_ms), latency_ms)
    return latency_ms


def endpoint_stats(
    rows: pd.DataFrame, seconds: float, *, open_model: bool = False, timeout_ms: float = 0.0
) -> EndpointStats:
    """One endpoint's numbers; for open-model endpoints, over every scheduled arrival."""
    count = len(rows)
    ok = int(rows["ok"].sum())
    kinds = rows["kind"]
    answered_ms = (rows["latency_us"].to_numpy() / 1000.0)[
        ((kinds != "dropped") & (kinds != "timeout")).to_numpy()
    ]
    latency_ms = latency_values(rows, open_model=open_model, timeout_ms=timeout_ms)
    values = stats.percentiles(latency_ms, list(PERCENTILES.values()))
    found = dict(zip(PERCENTILES, values, strict=True))
    answered = None
    if open_model:
        answered_values = stats.percentiles(answered_ms, [50.0, 95.0, 99.0])
        answered = Answered(len(answered_ms), *answered_values)
    return EndpointStats(
        count=count,
        ok=ok,
        p50_ms=found["p50_ms"],
        p90_ms=found["p90_ms"],
        p95_ms=found["p95_ms"],
        p99_ms=found["p99_ms"],
        p99_9_ms=found["p99_9_ms"],
        max_ms=stats.maximum(latency_ms),
        request_rps=round(count / seconds, 3) if seconds else None,
        throughput_rps=round(ok / seconds, 3) if seconds else 0.0,
        error_rate=round((count - ok) / count, 6) if count else None,
        errors={kind: int((kinds == kind).sum()) for kind in ERROR_KINDS},
        top_errors=top_errors(rows),
        insufficient=tuple(name for name, value in found.items() if value is None and count),
        answered=answered,
    )


def error_messages(rows: pd.DataFrame) -> pd.Series:
    """The failure message of each failed row: the recorded one, else (records from before
    messages were kept, or a failure without one) its kind and HTTP status."""
    failed = rows[rows["ok"] == 0]
    fallback = failed["kind"].where(failed["kind"] != "", "failed") + failed["status"].map(
        lambda status: f" (HTTP {int(status)})" if status else ""
    )
    if "error" not in failed.columns:
        return fallback
    recorded = failed["error"].fillna("")
    return recorded.where(recorded != "", fallback)


def top_errors(rows: pd.DataFrame, limit: int = TOP_ERRORS) -> tuple[ErrorCount, ...]:
    """The ``limit`` most frequent failure messages, most first (ties by message)."""
    messages = error_messages(rows)
    if messages.empty:
        return ()
    counts = messages.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return tuple(ErrorCount(str(message), int(count)) for message, count in ranked[:limit])


def _overlap(frame: pd.DataFrame, window: tuple[float, float]) -> np.ndarray[Any, Any]:
    """Seconds of each sample's interval (``ts - interval_s``, ``ts``) inside ``window``."""
    ends = frame["ts"].to_numpy(dtype=float)
    starts = ends - frame["interval_s"].to_numpy(dtype=float)
    inside = np.minimum(ends, window[1]) - np.maximum(starts, window[0])
    clipped: np.ndarray[Any, Any] = np.clip(inside, 0.0, None)
    return clipped


def cpu_stats(resources: pd.DataFrame, window: tuple[float, float]) -> dict[str, CpuStats]:
    """Per component: CPU seconds inside the window over the seconds sampled, and the peak."""
    found: dict[str, CpuStats] = {}
    for component, rows in resources.groupby("component"):
        overlap = _overlap(rows, window)
        covered = overlap.sum()
        if covered <= 0:
            continue
        cpu = rows["cpu_pct"].to_numpy(dtype=float)
        found[str(component)] = CpuStats(
            mean=round(float((cpu * overlap).sum() / covered), 1),
            max=round(float(cpu[overlap > 0].max()), 1),
        )
    return found


def memory_stats(resources: pd.DataFrame, window: tuple[float, float]) -> dict[str, MemoryStats]:
    """Per component: resident memory (MiB) over the samples inside the window, and the peak."""
    found: dict[str, MemoryStats] = {}
    if "rss_mib" not in resources.columns:
        return found
    for component, rows in resources.groupby("component"):
        overlap = _overlap(rows, window)
        covered = overlap.sum()
        if covered <= 0:
            continue
        rss = rows["rss_mib"].to_numpy(dtype=float)
        found[str(component)] = MemoryStats(
            mean=round(float((rss * overlap).sum() / covered), 1),
            max=round(float(rss[overlap > 0].max()), 1),
        )
    return found


def _with_intervals(frame: pd.DataFrame | None, key: str) -> pd.DataFrame | None:
    """Samples written before intervals were recorded: each spans the gap since the last."""
    if frame is None or "interval_s" in frame.columns:
        return frame
    frame = frame.sort_values("ts").copy()
    frame["interval_s"] = frame.groupby(key)["ts"].diff().fillna(1.0)
    return frame


def _schedules(directory: Path) -> dict[str, dict[str, Any]]:
    """What each open-model driver said it scheduled (``schedule-<driver>-<k>of<n>.json``, one
    per share of the schedule; older runs: ``schedule-<driver>-<pid>.json``)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("schedule-*.json")):
        try:
            record = json.loads(path.read_text())
            driver = str(record["driver"])
            scheduled = {phase: int(record["scheduled"][phase]) for phase in PHASES}
        except (ValueError, KeyError, TypeError) as exc:
            raise ResultsFileError(f"{path} is not a schedule record ({exc})") from None
        entry = found.setdefault(
            driver,
            {"scheduled": dict.fromkeys(PHASES, 0), "fingerprints": set(), "bound": None},
        )
        for phase in PHASES:
            entry["scheduled"][phase] += scheduled[phase]
        entry["fingerprints"].add(str(record.get("fingerprint")))
        if "share" in record:
            entry.setdefault("shares", []).append(tuple(record["share"]))
        bound = record.get("in_flight_bound")
        if bound is not None:  # each share of a split schedule has its part of the bound
            entry["bound"] = (entry["bound"] or 0) + int(bound)
    for driver, entry in found.items():
        _check_shares(directory, driver, entry.pop("shares", None))
    return found


def _check_shares(directory: Path, driver: str, shares: list[tuple[int, int]] | None) -> None:
    """A split schedule counts only when every share was announced, each once."""
    if shares is None:
        return
    count = shares[0][1]
    if sorted(shares) != [(index, count) for index in range(count)]:
        told = ", ".join(f"{index + 1} of {of}" for index, of in sorted(shares))
        raise ResultsFileError(
            f"{directory}: the {driver} schedule was split in {count} shares but the "
            f"announcements are {told}: a load generator's share is missing or doubled"
        )


def traffic_fingerprint(schedules: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not schedules:
        return None
    prints = sorted(set().union(*(entry["fingerprints"] for entry in schedules.values())))
    if len(prints) == 1:
        return str(prints[0])
    return hashlib.sha256(" ".join(prints).encode()).hexdigest()[:16]


def _outcomes(rows: pd.DataFrame) -> dict[str, int]:
    kinds = rows["kind"]
    return {
        "answered": int((rows["ok"] == 1).sum()),
        "timed_out": int((kinds == "timeout").sum()),
        "dropped": int((kinds == "dropped").sum()),
        "failed": int(((rows["ok"] == 0) & (kinds != "timeout") & (kinds != "dropped")).sum()),
    }


def _lag_p99(rows: pd.DataFrame) -> float | None:
    sent = rows[rows["kind"] != "dropped"]
    return stats.percentile(sent["lag_us"].to_numpy() / 1000.0, 99)


def _late(rows: pd.DataFrame) -> int:
    """Arrivals sent (or dropped) more than ``LATE_MS`` after their scheduled time."""
    return int((rows["lag_us"] > LATE_MS * 1000).sum())


def _projection(directory: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Projected orders (ts = write commit, lag_ms) and those never projected (ts of commit)."""
    lag = read_optional_csv(directory / "projection.csv")
    record = directory / "projection.json"
    if not record.exists():
        return lag, None
    try:
        data = json.loads(record.read_text())
        missing = pd.DataFrame(
            {"ts": [float(ts) for ts in data.get("unprojected_ts", [])]}, dtype=float
        )
    except (ValueError, TypeError) as exc:
        raise ResultsFileError(f"{record} is not a projection record ({exc})") from None
    return lag, missing


def cpu_unavailable(provider: str, pids: Mapping[str, Any]) -> dict[str, str]:
    """Components with no process on this machine, whose CPU the sampler may not see.

    A container's CPU is sampled from the engine's stats; a phase that has
    samples of a component lists it in ``cpu_pct``, never here.
    """
    why = {
        "docker": "in a container with no CPU samples from the engine's stats (unavailable)",
        "external": "an external database, not on this machine (unavailable)",
    }.get(provider, "no process on this machine (unavailable)")
    return {name: why for name, pid in pids.items() if pid is None}


def summarize_system(
    directory: Path, plan: LoadPlan, unmeasured: Mapping[str, str] | None = None
) -> SystemSummary:
    requests = read_requests(directory)
    start = read_clock_start(directory)
    if start is None:
        start = float(requests["ts"].min())
    windows = phase_windows(plan, start)
    resources = _with_intervals(read_optional_csv(directory / "resources.csv"), "component")
    lag, unprojected = _projection(directory)
    replica = read_optional_csv(directory / "replica_lag.csv")
    cache = read_optional_csv(directory / "cache_staleness.csv")
    schedules = _schedules(directory)
    timeout_ms = plan.timeout_s * 1000
    phases: dict[str, PhaseSummary] = {}
    for phase in PHASES:
        seconds = plan.phase_seconds[phase]
        in_phase = requests[requests["phase"] == phase]
        endpoints = {
            name: endpoint_stats(
                in_phase[in_phase["name"] == name],
                seconds,
                open_model=name in OPEN_MODEL_ENDPOINTS,
                timeout_ms=timeout_ms,
            )
            for name in ENDPOINTS
            if (in_phase["name"] == name).any()
        }
        checkout = in_phase[in_phase["name"] == "checkout"]
        checkout_schedule = schedules.get("checkout")
        outcome = _outcomes(checkout)
        scheduled = None if checkout_schedule is None else checkout_schedule["scheduled"][phase]
        driver = CheckoutDriver(
            offered_rps=round((len(checkout) if scheduled is None else scheduled) / seconds, 3)
            if seconds
            else 0.0,
            achieved_rps=round(outcome["answered"] / seconds, 3) if seconds else 0.0,
            dropped=outcome["dropped"],
            schedule_lag_p99_ms=_lag_p99(checkout),
            target_rps=plan.checkout_rate,
            scheduled=scheduled,
            answered=outcome["answered"],
            failed=outcome["failed"],
            timed_out=outcome["timed_out"],
            in_flight_bound=None if checkout_schedule is None else checkout_schedule["bound"],
            dispatched_late=_late(checkout),
        )
        reports_driver = None
        report_schedule = schedules.get("reports")
        if report_schedule is not None:
            reports = in_phase[in_phase["name"].isin(REPORT_NAMES)]
            reports_driver = ReportsDriver(
                scheduled=report_schedule["scheduled"][phase],
                schedule_lag_p99_ms=_lag_p99(reports),
                in_flight_bound=report_schedule["bound"],
                dispatched_late=_late(reports),
                **_outcomes(reports),
            )
        lag_stats = None
        if lag is not None or unprojected is not None:
            lag_stats = _lag_stats(lag, unprojected, windows[phase])
        cpu = {} if resources is None else cpu_stats(resources, windows[phase])
        phases[phase] = PhaseSummary(
            seconds=seconds,
            endpoints=endpoints,
            checkout_driver=driver,
            cpu_pct=cpu,
            projection_lag_ms=lag_stats,
            reports_driver=reports_driver,
            cpu_unavailable={k: v for k, v in (unmeasured or {}).items() if k not in cpu},
            replica_lag_ms=None if replica is None else _sampled_lag(replica, windows[phase]),
            cache_staleness_ms=None
            if cache is None
            else _sampled_lag(cache, windows[phase], "age_ms"),
            memory_mib={} if resources is None else memory_stats(resources, windows[phase]),
        )
    return SystemSummary(
        phases=phases, phase_windows=windows, traffic_fingerprint=traffic_fingerprint(schedules)
    )


def _in_window(frame: pd.DataFrame | None, window: tuple[float, float]) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame[(frame["ts"] >= window[0]) & (frame["ts"] < window[1])]


def _lag_stats(
    lag: pd.DataFrame | None, unprojected: pd.DataFrame | None, window: tuple[float, float]
) -> LagStats:
    inside = _in_window(lag, window)
    lags = np.empty(0) if inside is None else inside["lag_ms"].to_numpy(dtype=float)
    missing = _in_window(unprojected, window)
    return LagStats(
        p50=stats.percentile(lags, 50),
        p99=stats.percentile(lags, 99),
        max=stats.maximum(lags),
        count=len(lags),
        unprojected=None if missing is None else len(missing),
    )


def _sampled_lag(
    samples: pd.DataFrame, window: tuple[float, float], column: str = "lag_ms"
) -> LagStats:
    """A sampled staleness in one phase: a standby's replay lag, or a cached answer's age
    (the worst standby, or the oldest cached answer, at each sample)."""
    inside = _in_window(samples, window)
    lags = (
        np.empty(0) if inside is None else inside.groupby("ts")[column].max().to_numpy(dtype=float)
    )
    return LagStats(
        p50=stats.percentile(lags, 50),
        p99=stats.percentile(lags, 99),
        max=stats.maximum(lags),
        count=len(lags),
    )


def generator_overloads(directory: Path, start: float) -> list[str]:
    """Each load-generator process that used over 90% of a core in any 5 s window."""
    samples = read_optional_csv(directory / "generator.csv")
    if samples is None:
        return []
    found = []
    for pid, rows in samples.sort_values("ts").groupby("pid"):
        ends = rows["ts"].to_numpy(dtype=float)
        spans = rows["interval_s"].to_numpy(dtype=float)
        busy = rows["cpu_pct"].to_numpy(dtype=float) / 100 * spans
        for end in ends:
            window = (ends > end - GENERATOR_WINDOW_S) & (ends <= end)
            spanned = float(spans[window].sum())
            if spanned < 0.8 * GENERATOR_WINDOW_S:
                continue  # not a whole window yet
            share = 100 * float(busy[window].sum()) / spanned
            if share > MAX_GENERATOR_CPU_PCT:
                found.append(
                    f"load generator process {pid} used {share:.0f}% of a core in the "
                    f"{GENERATOR_WINDOW_S:.0f} s before {end - start:.0f} s "
                    f"(limit {MAX_GENERATOR_CPU_PCT:.0f}%)"
                )
                break
    return found


def invalid_reasons(system: str, summary: SystemSummary, directory: Path) -> list[str]:
    overloads = generator_overloads(directory, summary.started)
    reasons = [f"{system}: {reason}" for reason in overloads]
    generator_behind = bool(reasons)
    for phase, entry in summary.phases.items():
        where = f"{system}/{phase}"
        drivers: list[tuple[str, CheckoutDriver | ReportsDriver | None]] = [
            ("checkout", entry.checkout_driver),
            ("report", entry.reports_driver),
        ]
        for label, driver in drivers:
            if driver is None:
                continue
            if driver.scheduled is not None and driver.scheduled != driver.recorded:
                reasons.append(
                    f"{where}: {driver.scheduled} {label} arrivals scheduled but "
                    f"{driver.recorded} recorded ({driver.answered} answered, {driver.failed} "
                    f"failed, {driver.timed_out} timed out, {driver.dropped} dropped): "
                    f"{abs(driver.scheduled - driver.recorded)} unaccounted for"
                )
            total = driver.recorded
            late = bool(total) and driver.dispatched_late / total > MAX_LATE_SHARE
            if late:
                reasons.append(
                    f"{where}: {driver.dispatched_late} of {total} {label} arrivals left more "
                    f"than {LATE_MS:.0f} ms late (limit {MAX_LATE_SHARE:.0%}): "
                    "the generator fell behind"
                )
            if driver.dropped:
                cause = (
                    "the generator fell behind"
                    if late or generator_behind
                    else f"the in-flight bound ({driver.in_flight_bound}) was full"
                )
                reasons.append(f"{where}: {driver.dropped} {label} arrivals dropped: {cause}")
        lag_stats = entry.projection_lag_ms
        if lag_stats is not None and lag_stats.unprojected:
            reasons.append(
                f"{where}: {lag_stats.unprojected} orders placed but never projected "
                "into the read model"
            )
    return reasons


RATIO_METRICS = (
    ("checkout", "p50_ms"),
    ("checkout", "p95_ms"),
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
    """``summary.json`` of a run; with ``--repeat N``, every trial summarized, then combined."""
    run = read_run_info(run_dir)
    if run.repeat == 1:
        return summarize_trial(run_dir, run, 1)
    trials = [summarize_trial(run_dir, run, k) for k in range(1, run.repeat + 1)]
    return combine_trials(trials, run.trial_order)


def summarize_trial(run_dir: Path, run: RunInfo, trial: int) -> Summary:
    """One trial of every system (the whole run when it has one trial)."""
    plan = run.load_plan()
    systems: dict[str, SystemSummary] = {}
    reasons: list[str] = []
    for system in run.systems:
        directory = trial_dir(run_dir, system, trial, run.repeat)
        if not directory.is_dir():
            raise ResultsFileError(
                f"run directory {run_dir} has no {directory.relative_to(run_dir)}/: "
                "the run is truncated"
            )
        pids = run.systems_detail.get(system, {}).get("pids") or {}
        systems[system] = summarize_system(directory, plan, cpu_unavailable(run.provider, pids))
        reasons.extend(invalid_reasons(system, systems[system], directory))
    fingerprints = {s.traffic_fingerprint for s in systems.values() if s.traffic_fingerprint}
    if len(fingerprints) > 1:
        reasons.append(
            "the systems received different traffic (fingerprints "
            + ", ".join(sorted(fingerprints))
            + ")"
        )
    if run.repeat > 1:
        reasons = [f"trial {trial}: {reason}" for reason in reasons]
    return Summary(
        valid=not reasons,
        invalid_reasons=tuple(reasons),
        systems=systems,
        ratios=ratios(systems),
    )


# --- several trials: medians, per-trial values, intervals ----------------------------------


def _median_json(items: list[Any]) -> Any:
    """The trials' JSON merged: each number the trials' nearest-rank median (None if any
    trial lacks it), keys every trial has, texts the trials agree on."""
    first = items[0]
    if isinstance(first, dict):
        keys = [key for key in first if all(isinstance(i, dict) and key in i for i in items)]
        return {key: _median_json([item[key] for item in items]) for key in keys}
    if isinstance(first, bool):
        return all(items)
    if first is None or isinstance(first, int | float):
        if any(item is None or isinstance(item, bool) for item in items):
            return None
        return stats.median(items)
    if isinstance(first, list):
        if all(isinstance(v, str) for item in items for v in item):
            return sorted(set().union(*items))
        return first
    return first if all(item == first for item in items) else None


def _trial_values(values: list[float | None]) -> TrialValues:
    if any(v is None for v in values):
        return TrialValues(tuple(values), None)
    present = [float(v) for v in values if v is not None]
    low, high = stats.trial_interval(present, stats.SUMMARY_LEVEL)
    return TrialValues(tuple(values), stats.median(present), round(low, 6), round(high, 6))


def _endpoint_of(summary: Summary, system: str, phase: str, endpoint: str) -> EndpointStats | None:
    entry = summary.phase(system, phase)
    return None if entry is None else entry.endpoints.get(endpoint)


def _errors_over_trials(per_trial: list[EndpointStats | None]) -> tuple[ErrorCount, ...]:
    """Each message's count summed over the trials, kept only where the sum is exact: every
    trial listed the message, or listed fewer than ``TOP_ERRORS`` (so it had none of it)."""
    lists = [() if stats_ is None else stats_.top_errors for stats_ in per_trial]
    totals: dict[str, int] = {}
    for listed in lists:
        for error in listed:
            totals[error.message] = totals.get(error.message, 0) + error.count
    exact = {
        message: count
        for message, count in totals.items()
        if all(
            len(listed) < TOP_ERRORS or any(e.message == message for e in listed)
            for listed in lists
        )
    }
    ranked = sorted(exact.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ErrorCount(message, count) for message, count in ranked[:TOP_ERRORS])


def combine_trials(trials: list[Summary], order: tuple[str, ...] = ()) -> Summary:
    """One summary from N trials of each system: its values are the trials' medians (each
    a value one trial measured), ``trials`` holds every metric per trial with its interval."""
    systems = _median_json([{n: s.to_json() for n, s in t.systems.items()} for t in trials])
    for system_name, system in systems.items():
        for phase_name, phase in system["phases"].items():
            for endpoint_name, endpoint in phase["endpoints"].items():
                endpoint["insufficient"] = [
                    name for name in PERCENTILES if endpoint[name] is None and endpoint["count"]
                ]
                endpoint["top_errors"] = [
                    error.to_json()
                    for error in _errors_over_trials(
                        [_endpoint_of(t, system_name, phase_name, endpoint_name) for t in trials]
                    )
                ]
    per_trial = [t.metrics() for t in trials]
    paths = list(dict.fromkeys(path for metrics in per_trial for path in metrics))
    metrics = {path: _trial_values([m.get(path) for m in per_trial]) for path in paths}
    ratio_keys = list(dict.fromkeys(key for t in trials for key in t.ratios))
    ratio_values = {key: _trial_values([t.ratios.get(key) for t in trials]) for key in ratio_keys}
    reasons = [reason for t in trials for reason in t.invalid_reasons]
    prints = {
        s.traffic_fingerprint for t in trials for s in t.systems.values() if s.traffic_fingerprint
    }
    if len(prints) > 1:
        reasons.append(
            "the trials received different traffic (fingerprints " + ", ".join(sorted(prints)) + ")"
        )
    summary_json = {
        "schema_version": Summary.SCHEMA_VERSION,
        "valid": not reasons,
        "invalid_reasons": reasons,
        "systems": systems,
        "ratios": {
            key: value.median for key, value in ratio_values.items() if value.median is not None
        },
    }
    combined = Summary.from_json(summary_json, "the trials' combined summary")
    return replace(
        combined,
        trials=Trials(
            count=len(trials),
            order=order,
            level=stats.SUMMARY_LEVEL,
            interval="Student t across trials on log values (on values when one is 0)",
            metrics=metrics,
            ratios=ratio_values,
            phase_windows={
                name: tuple(t.systems[name].phase_windows for t in trials if name in t.systems)
                for name in combined.systems
            },
            valid=tuple(t.valid for t in trials),
        ),
    )
