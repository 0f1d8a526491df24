"""The report's plots: every one titled, with units, a legend and the phases shaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.results import stats
from harness.results.model import Summary
from harness.results.table import DB_COMPONENTS
from reports.data import RunData
from scenarios.plan import PHASES

COLORS = {
    "baseline": "#c0392b",
    "replica": "#e67e22",
    "cqrs-samedb": "#8e44ad",
    "cqrs": "#2471a3",
}
PHASE_SHADES = {"steady": "#eafaf1", "storm": "#fdebd0", "recovery": "#eaf2f8"}
REFERENCE = {  # the incident's story, for the headline panel
    "checkout p95 (ms)": (800.0, 120.0),
    "dashboard (ms)": (45_000.0, 80.0),
    "write-DB CPU (%)": (99.0, 15.0),
}


def color_of(system: str) -> str:
    return COLORS.get(system, "#7d3c98")


def shade_phases(ax: Axes, phases: dict[str, float]) -> None:
    begin = 0.0
    for phase in PHASES:
        end = begin + phases[phase]
        ax.axvspan(begin, end, color=PHASE_SHADES[phase], zorder=0)
        ax.text(
            (begin + end) / 2,
            1.0,
            phase,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
            color="#555",
        )
        begin = end
    ax.set_xlim(0, begin)
    ax.set_xlabel("time since the run's start (s)")


def rolling_percentiles(frame: pd.DataFrame, window_s: float = 5.0) -> pd.DataFrame:
    ordered = frame.sort_values("t")
    times = ordered["t"].to_numpy()
    latency = ordered["latency_us"].to_numpy() / 1000
    if len(times) == 0:
        return pd.DataFrame(columns=["t", "p50", "p95", "p99"])
    grid = np.arange(max(times.min(), 0), times.max() + 1, 1.0)
    rows = []
    for point in grid:
        inside = latency[(times > point - window_s) & (times <= point)]
        if len(inside):
            rows.append((point, *stats.percentiles(inside, [50, 95, 99], digits=None)))
    return pd.DataFrame(rows, columns=["t", "p50", "p95", "p99"])


def latency_over_time(data: RunData, endpoint: str, title: str, log: bool) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    shade_phases(ax, data.phase_seconds)
    for name, series in data.systems.items():
        rows = series.requests[
            (series.requests["name"] == endpoint) & (series.requests["kind"] != "dropped")
        ]
        rolled = rolling_percentiles(rows)
        if rolled.empty:
            continue
        color = color_of(name)
        ax.plot(rolled["t"], rolled["p50"], color=color, lw=1.2, ls=":", label=f"{name} p50")
        ax.plot(rolled["t"], rolled["p95"], color=color, lw=1.2, ls="--", label=f"{name} p95")
        ax.plot(rolled["t"], rolled["p99"], color=color, lw=2.0, label=f"{name} p99")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("latency (ms, 5 s rolling window)")
    ax.set_title(title, pad=18)
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    fig.tight_layout()
    return fig


def cpu_over_time(data: RunData) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    shade_phases(ax, data.phase_seconds)
    styles = {
        "db": "-",
        "write": "-",
        "primary": "-",
        "read": "--",
        "standby": "--",
        "app": ":",
        "projector": "-.",
    }
    for name, series in data.systems.items():
        if series.resources is None:
            continue
        for component, rows in series.resources.groupby("component"):
            if component not in styles:
                continue
            part = str(component)
            label = f"{name} {part}" + (" (DB)" if part in DB_COMPONENTS else "")
            ax.plot(
                rows["t"],
                rows["cpu_pct"],
                color=color_of(name),
                ls=styles[str(component)],
                label=label,
            )
    ax.set_ylabel("CPU (% of one core)")
    ax.set_title(
        "CPU per database cluster and app: the baseline's one DB vs CQRS write and read DBs", pad=18
    )
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    fig.tight_layout()
    return fig


def throughput_and_errors(data: RunData) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    shade_phases(ax, data.phase_seconds)
    for name, series in data.systems.items():
        checkouts = series.requests[series.requests["name"] == "checkout"]
        seconds = np.floor(checkouts["t"]).astype(int)
        ok = checkouts[checkouts["ok"] == 1].groupby(seconds[checkouts["ok"] == 1]).size()
        failed = checkouts[checkouts["ok"] == 0].groupby(seconds[checkouts["ok"] == 0]).size()
        ax.plot(ok.index, ok.to_numpy(), color=color_of(name), label=f"{name} checkouts ok /s")
        if len(failed):
            ax.bar(
                failed.index,
                failed.to_numpy(),
                color=color_of(name),
                alpha=0.5,
                label=f"{name} failed (timeouts, errors) /s",
            )
    ax.set_ylabel("requests per second")
    ax.set_title("Checkout throughput and errors", pad=18)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def projection_lag(data: RunData) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    shade_phases(ax, data.phase_seconds)
    drawn = False
    for name, series in data.systems.items():
        if series.lag is None:
            continue
        ax.scatter(
            series.lag["t"],
            series.lag["lag_ms"],
            s=3,
            color=color_of(name),
            alpha=0.4,
            label=f"{name}: each order, commit -> read model",
        )
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no projection in this run", transform=ax.transAxes, ha="center")
    ax.set_ylabel("projection lag (ms)")
    ax.set_title("Projection lag (CQRS): order committed -> visible in the read model", pad=18)
    if drawn:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def latency_cdf(data: RunData) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, endpoint in zip(axes, ("checkout", "dashboard_customers"), strict=True):
        for name, series in data.systems.items():
            rows = series.requests[
                (series.requests["name"] == endpoint) & (series.requests["kind"] != "dropped")
            ]
            if rows.empty:
                continue
            values = np.sort(rows["latency_us"].to_numpy() / 1000)
            ax.plot(
                values,
                np.arange(1, len(values) + 1) / len(values),
                color=color_of(name),
                label=name,
            )
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("share of requests at or below")
        ax.set_title(f"{endpoint}: latency distribution, whole run")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def lineup(data: RunData) -> Figure:
    """Every system side by side: storm checkout p95 and its slowdown, dashboard p50."""
    systems = list(data.summary.systems)
    panels = (
        ("checkout p95, storm (ms)", ("checkout", "p95_ms"), "storm"),
        ("checkout p95, steady (ms)", ("checkout", "p95_ms"), "steady"),
        ("dashboard p50, storm (ms)", ("dashboard_customers", "p50_ms"), "storm"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 3.8))
    for ax, (label, rest, phase) in zip(axes, panels, strict=True):
        values = [data.summary.metric(system, phase, rest) for system in systems]
        drawn = [i for i, v in enumerate(values) if v is not None]
        # bars only where there is a value (an all-NaN bar set has no limits to lay out)
        ax.bar(
            drawn,
            [values[i] or 0.0 for i in drawn],
            color=[color_of(systems[i]) for i in drawn],
        )
        ax.set_xticks(range(len(systems)), systems)
        ax.set_xlim(-0.5, len(systems) - 0.5)
        measured = [v for v in values if v is not None]
        if measured:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1)
            ax.set_yticks([])
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        for i, value in enumerate(values):
            ax.text(
                i,
                value if value is not None else (min(measured) if measured else 0.05),
                "n/a" if value is None else f"{value:,.1f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    fig.suptitle("The lineup: the same traffic, each architecture")
    fig.tight_layout()
    return fig


def headline(data: RunData) -> Figure:
    measured = headline_numbers(data.summary)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, (label, (ref_before, ref_after)) in zip(axes, REFERENCE.items(), strict=True):
        before, after = measured.get(label, (None, None))
        bars = [ref_before, ref_after, before, after]
        colors = ["#bbb", "#ddd", COLORS["baseline"], COLORS["cqrs"]]
        names = ["story\nbefore", "story\nafter", "measured\nbaseline", "measured\ncqrs"]
        # a value the run did not measure gets no bar (and says so), never a bar of 0
        ax.bar(names, [v if v is not None else np.nan for v in bars], color=colors)
        ax.set_yscale("log" if "ms" in label else "linear")
        ax.set_title(label, fontsize=10)
        floor = min(v for v in bars if v is not None)
        for i, value in enumerate(bars):
            text = "n/a" if value is None else f"{value:,.0f}"
            ax.text(
                i, floor if value is None else value, text, ha="center", va="bottom", fontsize=8
            )
    fig.suptitle("Storm phase: measured here vs the reference story (grey)")
    fig.tight_layout()
    return fig


def headline_numbers(summary: Summary) -> dict[str, tuple[float | None, float | None]]:
    def storm(system: str, *rest: str) -> float | None:
        return summary.metric(system, "storm", rest)

    return {
        "checkout p95 (ms)": (
            storm("baseline", "checkout", "p95_ms"),
            storm("cqrs", "checkout", "p95_ms"),
        ),
        "dashboard (ms)": (
            storm("baseline", "dashboard_customers", "p50_ms"),
            storm("cqrs", "dashboard_customers", "p50_ms"),
        ),
        "write-DB CPU (%)": (
            storm("baseline", "cpu_pct", "db", "mean"),
            storm("cqrs", "cpu_pct", "write", "mean"),
        ),
    }


PLOTS: dict[str, tuple[str, Callable[[RunData], Figure]]] = {
    "headline": ("Headline: measured vs the reference story", headline),
    "checkout_latency": (
        "Checkout latency over time",
        lambda d: latency_over_time(
            d, "checkout", "Checkout latency (from each arrival's scheduled start)", False
        ),
    ),
    "dashboard_latency": (
        "CEO dashboard latency over time",
        lambda d: latency_over_time(
            d, "dashboard_customers", "CEO dashboard latency (log scale)", True
        ),
    ),
    "cpu": ("Database and app CPU over time", cpu_over_time),
    "throughput": ("Checkout throughput and errors", throughput_and_errors),
    "projection_lag": ("Projection lag", projection_lag),
    "latency_cdf": ("Latency distributions", latency_cdf),
    "lineup": ("The lineup: every system under the same traffic", lineup),
}


def render_plots(data: RunData, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (_, make) in plots_for(data).items():
        fig = make(data)
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written[name] = path
    return written


def trial_metrics(summary: Summary) -> list[tuple[str, str]]:
    """The metrics the report shows per trial: (label, path in summary.json)."""
    chosen = []
    for system in summary.systems:
        for phase in PHASES:
            chosen.append((f"{system} {phase} checkout p95", f"{system}.{phase}.checkout.p95_ms"))
        chosen.append(
            (f"{system} storm dashboard p50", f"{system}.storm.dashboard_customers.p50_ms")
        )
    return chosen


def trials_plot(data: RunData) -> Figure:
    """Each trial a point, the median a bar, the interval across trials a line."""
    summary = data.summary
    trials = summary.trials
    chosen = trial_metrics(summary)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(chosen) + 1.6))
    drawn = []
    for row, (_label, path) in enumerate(chosen):
        found = None if trials is None else trials.metrics.get(path)
        if found is None:
            continue
        system = path.split(".", 1)[0]
        values = [v for v in found.values if v is not None]
        ax.scatter(values, [row] * len(values), color=color_of(system), s=22, zorder=3)
        if found.low is not None and found.high is not None:
            ax.plot([found.low, found.high], [row, row], color=color_of(system), lw=2, alpha=0.5)
        if found.median is not None:
            ax.plot([found.median], [row], marker="|", ms=16, mew=2, color="#222")
        drawn.append(row)
    ax.set_yticks(range(len(chosen)), [label for label, _ in chosen], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    level = 0 if trials is None else trials.level
    ax.set_title(
        f"Each trial (dots), their median (|) and the {level:.0%} interval across trials (line)"
    )
    ax.grid(axis="x", alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "no trials in this run", transform=ax.transAxes, ha="center")
    fig.tight_layout()
    return fig


def trend_plot(trend: dict[str, Any]) -> Figure:
    """``compare`` over several runs: each metric's trials, median and interval per run."""
    metrics = trend["metrics"]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.6 * len(metrics) + 0.6), squeeze=False)
    names = [Path(run).name for run in trend["runs"]]
    for ax, path in zip(axes[:, 0], metrics, strict=True):
        points = trend["series"][path]
        for x, point in enumerate(points):
            values = [v for v in point["values"] if v is not None]
            ax.scatter([x] * len(values), values, color="#2471a3", s=18, zorder=3)
            if point["low"] is not None and point["high"] is not None:
                ax.plot([x, x], [point["low"], point["high"]], color="#2471a3", lw=2, alpha=0.5)
            if point["median"] is not None:
                ax.plot([x], [point["median"]], marker="_", ms=18, mew=2, color="#222")
        for step, next_x in zip(trend["steps"], range(1, len(points)), strict=False):
            row = next((r for r in step["rows"] if r["metric"] == path), None)
            if row is not None and row["verdict"] == "beyond noise":
                ax.axvspan(next_x - 0.4, next_x + 0.4, color="#fdebd0", zorder=0)
        ax.set_title(path, fontsize=10)
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=20, ha="right")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        "Trend: trials (dots), median (-), interval; shaded: beyond noise from the run before"
    )
    fig.tight_layout()
    return fig


TRIAL_PLOTS: dict[str, tuple[str, Callable[[RunData], Figure]]] = {
    "trials": (
        "Trials: each trial's value, their median and the interval across trials",
        trials_plot,
    ),
}


def plots_for(data: RunData) -> dict[str, tuple[str, Callable[[RunData], Figure]]]:
    """The report's plots: with several trials, the trials plot first."""
    return {**(TRIAL_PLOTS if data.trials > 1 else {}), **PLOTS}
