"""The report's interactive charts: inline SVG with a hover title on every point.

No library and nothing fetched: the page's own small script (``charts.js``)
zooms the time axis (drag to select, wheel, double-click resets) by moving
what the SVG already holds. Every point is a value the run measured; a
percentile with too few samples in its window is left out (a gap), never drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from reports.data import RunData
from reports.plots import PHASE_SHADES, color_of, rolling_percentiles
from scenarios.plan import PHASES

WIDTH, HEIGHT = 960.0, 340.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 16.0, 26.0, 40.0
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# at most this many points per line: a long run is thinned to every n-th second
MAX_POINTS = 400
DASHES = {"p50": "2 3", "p95": "6 3", "p99": ""}


@dataclass(frozen=True)
class Point:
    t: float  # seconds since the run's start
    x: float  # pixels, at the chart's full time range
    y: float  # pixels
    title: str


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    dash: str
    width: float
    points: tuple[Point, ...]

    @property
    def segments(self) -> list[tuple[Point, ...]]:
        """Runs of consecutive seconds: a gap (no value) breaks the line."""
        runs: list[list[Point]] = []
        for point in self.points:
            if runs and point.t - runs[-1][-1].t <= 1.5 * self.step:
                runs[-1].append(point)
            else:
                runs.append([point])
        return [tuple(run) for run in runs]

    @property
    def step(self) -> float:
        gaps = [b.t - a.t for a, b in zip(self.points, self.points[1:], strict=False)]
        return min(gaps) if gaps else 1.0


@dataclass(frozen=True)
class Band:
    label: str
    t0: float
    t1: float
    x: float
    width: float
    color: str


@dataclass(frozen=True)
class Tick:
    value: float
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    """One chart, laid out at its full time range; the script re-lays it when zoomed."""

    name: str
    title: str
    y_label: str
    lines: tuple[Line, ...]
    bands: tuple[Band, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    t0: float
    t1: float
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    top: float = TOP
    plot_w: float = PLOT_W
    plot_h: float = PLOT_H

    @property
    def empty(self) -> bool:
        return not any(line.points for line in self.lines)


class YScale:
    """Values to pixels, linear or log10."""

    def __init__(self, values: Sequence[float], log: bool) -> None:
        positive = [v for v in values if v > 0]
        self.log = log and bool(positive)
        if self.log:
            self.low = 10 ** math.floor(math.log10(min(positive)))
            self.high = 10 ** math.ceil(math.log10(max(positive)))
            if self.high <= self.low:
                self.high = self.low * 10
        else:
            self.low = 0.0
            self.high = nice_ceiling(max(values, default=1.0))

    def __call__(self, value: float) -> float:
        if self.log:
            share = (math.log10(max(value, self.low)) - math.log10(self.low)) / (
                math.log10(self.high) - math.log10(self.low)
            )
        else:
            share = (value - self.low) / (self.high - self.low)
        return TOP + PLOT_H * (1 - share)

    def ticks(self) -> tuple[Tick, ...]:
        if self.log:
            values = []
            value = self.low
            while value <= self.high * 1.0001:
                values.append(value)
                value *= 10
        else:
            step = self.high / 5
            values = [step * i for i in range(6)]
        return tuple(Tick(v, self(v), number(v)) for v in values)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value:
            return float(factor * power)
    return float(10 * power)


def number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}".rstrip("0").rstrip(".")


def x_position(t: float, t0: float, t1: float) -> float:
    return LEFT + PLOT_W * (t - t0) / (t1 - t0)


def time_ticks(t0: float, t1: float) -> tuple[Tick, ...]:
    step = nice_ceiling((t1 - t0) / 8)
    first = math.ceil(t0 / step) * step
    count = int((t1 - first) // step) + 1
    return tuple(
        Tick(first + i * step, x_position(first + i * step, t0, t1), f"{first + i * step:g}")
        for i in range(count)
    )


def phase_bands(phase_seconds: dict[str, float], t1: float) -> tuple[Band, ...]:
    bands, begin = [], 0.0
    for phase in PHASES:
        end = begin + phase_seconds[phase]
        x0, x1 = x_position(begin, 0.0, t1), x_position(end, 0.0, t1)
        bands.append(Band(phase, begin, end, x0, x1 - x0, PHASE_SHADES[phase]))
        begin = end
    return tuple(bands)


def _series(
    label: str, frame: pd.DataFrame, column: str, unit: str
) -> list[tuple[float, float, str]]:
    """(t, value, hover title) of one column, thinned to ``MAX_POINTS``, gaps left out."""
    rows = frame[["t", column]].dropna()
    stride = max(1, math.ceil(len(rows) / MAX_POINTS))
    rows = rows.iloc[::stride]
    return [
        (float(t), float(v), f"{label} at {t:,.0f} s: {v:,.1f} {unit}")
        for t, v in zip(rows["t"], rows[column], strict=True)
    ]


def _chart(
    name: str,
    title: str,
    y_label: str,
    raw: list[tuple[str, str, str, float, list[tuple[float, float, str]]]],
    data: RunData,
    log: bool,
) -> Chart:
    t1 = sum(data.phase_seconds[phase] for phase in PHASES)
    scale = YScale([v for *_, points in raw for _, v, _ in points], log)
    lines = tuple(
        Line(
            label,
            color,
            dash,
            width,
            tuple(
                Point(round(t, 3), x_position(t, 0.0, t1), scale(v), text)
                for t, v, text in points
                if 0.0 <= t <= t1
            ),
        )
        for label, color, dash, width, points in raw
    )
    return Chart(
        name=name,
        title=title,
        y_label=y_label,
        lines=lines,
        bands=phase_bands(data.phase_seconds, t1),
        x_ticks=time_ticks(0.0, t1),
        y_ticks=scale.ticks(),
        t0=0.0,
        t1=t1,
    )


def latency_chart(data: RunData, endpoint: str, title: str, log: bool) -> Chart:
    """p50 / p95 / p99 over a 5 s rolling window, per system (drops left out, as in the PNG)."""
    raw = []
    for system, series in data.systems.items():
        rows = series.requests[
            (series.requests["name"] == endpoint) & (series.requests["kind"] != "dropped")
        ]
        rolled = rolling_percentiles(rows)
        for column in ("p50", "p95", "p99"):
            label = f"{system} {endpoint} {column}"
            points = _series(label, rolled, column, "ms")
            width = 2.0 if column == "p99" else 1.2
            raw.append((f"{system} {column}", color_of(system), DASHES[column], width, points))
    return _chart(f"{endpoint}_latency", title, "latency (ms, 5 s rolling window)", raw, data, log)


CPU_STYLES = {"db": "", "write": "", "read": "6 3", "app": "2 3", "projector": "8 3 2 3"}


def cpu_chart(data: RunData) -> Chart:
    raw = []
    for system, series in data.systems.items():
        if series.resources is None:
            continue
        for component, rows in series.resources.groupby("component"):
            part = str(component)
            if part not in CPU_STYLES:
                continue
            label = f"{system} {part}"
            points = _series(label, rows.sort_values("t"), "cpu_pct", "% of a core")
            raw.append((label, color_of(system), CPU_STYLES[part], 1.4, points))
    return _chart(
        "cpu",
        "CPU per database cluster and app (% of one core)",
        "CPU (% of one core)",
        raw,
        data,
        False,
    )


def charts_for(data: RunData) -> list[Chart]:
    """The charts worth zooming into: latency and CPU over the run's time."""
    charts = [
        latency_chart(
            data, "checkout", "Checkout latency (from each arrival's scheduled start)", False
        ),
        latency_chart(data, "dashboard_customers", "CEO dashboard latency (log scale)", log=True),
        cpu_chart(data),
    ]
    return [chart for chart in charts if not chart.empty]
