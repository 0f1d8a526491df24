"""Live progress while Locust drives load, as k6 and Locust show it.

Once a second it reads what the run is already writing (the generator's
per-request CSVs, the sampler's ``resources.csv`` and lag files), from where
it stopped the second before, in the harness's own process: the generator
never waits for it. On a terminal one line is redrawn each second; in a log
(stdout not a terminal) a plain line is printed every ``log_every_s``.

Every figure is true or absent ("-"): a percentile only from enough samples
(:func:`harness.results.stats.percentile`), a rate only once there is a window
to divide by, CPU and lag only once sampled.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.live import Live
from rich.text import Text

from harness.core.background import BackgroundThread
from harness.core.console import human
from harness.results.stats import percentile
from scenarios.plan import LoadPlan

CHECKOUT = "checkout"
RATE_WINDOW_S = 5.0  # answered checkouts/s: over this many seconds...
RECORD_DELAY_S = 1.0  # ...that ended this long (the recorder's batches) plus a timeout ago,
# so every checkout scheduled in the window has been answered or given up on, and written


class _Tail:
    """The complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: TextIO | None = None
        self._rest = ""

    def lines(self) -> list[str]:
        if self._handle is None:
            try:
                self._handle = open(self.path, encoding="utf-8")  # noqa: SIM115
            except FileNotFoundError:
                return []
        text = self._rest + self._handle.read()
        *complete, self._rest = text.split("\n")
        return [line for line in complete if line]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


@dataclass
class Snapshot:
    """What the run has done so far, as the line shows it."""

    phase: str = "starting"
    measured: str = "starting"  # the phase the percentiles are of (draining: the last)
    elapsed_s: float | None = None
    total_s: float = 0.0
    offered_rps: float = 0.0
    answered_rps: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    errors: int = 0
    checkout_errors: int = 0
    db_cpu: dict[str, float] = field(default_factory=dict)
    lag_ms: float | None = None

    def line(self) -> str:
        def maybe(value: float | None, digits: int = 1) -> str:
            return "-" if value is None else f"{value:,.{digits}f}"

        clock = "-" if self.elapsed_s is None else f"{min(self.elapsed_s, self.total_s):.0f}"
        cpu = " ".join(f"{name} {pct:.0f}%" for name, pct in self.db_cpu.items()) or "-"
        return (
            f"{self.phase:<8} {clock}/{self.total_s:.0f} s | checkouts/s offered "
            f"{self.offered_rps:g} answered {maybe(self.answered_rps)} | checkout p95 "
            f"{maybe(self.p95_ms)} p99 {maybe(self.p99_ms)} ms ({self.measured}) | errors "
            f"{self.errors:,} of {self.requests:,} (checkout {self.checkout_errors:,}) | "
            f"DB CPU {cpu} | lag {maybe(self.lag_ms)} ms"
        )


class RunWatcher:
    """Reads a system's record directory incrementally into a :class:`Snapshot`."""

    def __init__(self, directory: Path, plan: LoadPlan, databases: list[str]) -> None:
        self.directory = directory
        self.plan = plan
        self.databases = databases
        self._requests: dict[Path, _Tail] = {}
        self._resources = _Tail(directory / "resources.csv")
        self._lag = _Tail(directory / "lag.csv")
        self._replica = _Tail(directory / "replica_lag.csv")
        self._started: float | None = None
        self._phase_latencies: dict[str, list[float]] = {}
        self._answered: deque[float] = deque()  # scheduled times of answered checkouts
        self.snapshot = Snapshot(total_s=plan.total_seconds, offered_rps=plan.checkout_rate)

    def read(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        shot = self.snapshot
        if self._started is None:
            self._started = self._clock_start()
        if self._started is not None:
            shot.elapsed_s = max(0.0, now - self._started)
            shot.phase = self.plan.phase_at(shot.elapsed_s)
            if shot.phase == "after":
                shot.phase = "draining"
        for path in sorted(self.directory.glob("requests-*.csv")):
            tail = self._requests.setdefault(path, _Tail(path))
            for line in tail.lines():
                self._request(line)
        self._rates(now)
        shot.measured = "recovery" if shot.phase == "draining" else shot.phase
        latencies = self._phase_latencies.get(shot.measured, [])
        shot.p95_ms = percentile(latencies, 95)
        shot.p99_ms = percentile(latencies, 99)
        self._cpu()
        self._lags()
        return shot

    def _clock_start(self) -> float | None:
        starts = []
        for path in self.directory.glob("clock-*.json"):
            try:
                starts.append(float(json.loads(path.read_text())["started"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written: next second
        return min(starts) if starts else None

    def _request(self, line: str) -> None:
        parts = line.split(",")
        if len(parts) < 5 or parts[0] == "ts":
            return
        try:
            ts, phase, name, latency_us, ok = (
                float(parts[0]),
                parts[1],
                parts[2],
                int(parts[3]),
                parts[4] == "1",
            )
        except ValueError:
            return
        shot = self.snapshot
        shot.requests += 1
        if not ok:
            shot.errors += 1
        if name != CHECKOUT:
            return
        if not ok:
            shot.checkout_errors += 1
            return
        self._phase_latencies.setdefault(phase, []).append(latency_us / 1000)
        self._answered.append(ts)

    def _rates(self, now: float) -> None:
        """Answered checkouts/s over the last complete window (None before there is one)."""
        end = now - RECORD_DELAY_S - self.plan.timeout_s
        start = end - RATE_WINDOW_S
        while self._answered and self._answered[0] < start - 60:
            self._answered.popleft()
        if self._started is None or start < self._started:
            self.snapshot.answered_rps = None
            return
        count = sum(1 for ts in self._answered if start <= ts < end)
        self.snapshot.answered_rps = count / RATE_WINDOW_S

    def _cpu(self) -> None:
        for line in self._resources.lines():
            parts = line.split(",")
            if len(parts) >= 4 and parts[2] in self.databases:
                try:
                    self.snapshot.db_cpu[parts[2]] = float(parts[3])
                except ValueError:
                    continue

    def _lags(self) -> None:
        # projection: the age of the oldest event not applied; a hot standby: its replay lag
        for tail in (self._lag, self._replica):
            value = _last_number(tail.lines(), column=2)
            if value is not None:
                self.snapshot.lag_ms = value

    def close(self) -> None:
        for tail in [*self._requests.values(), self._resources, self._lag, self._replica]:
            tail.close()


def _last_number(lines: list[str], column: int) -> float | None:
    """The last row's number in ``column`` (header and unreadable rows skipped)."""
    for line in reversed(lines):
        parts = line.split(",")
        try:
            return float(parts[column])
        except (IndexError, ValueError):
            continue
    return None


class LiveProgress:
    """The watcher's line, redrawn each second on a terminal or printed every
    ``log_every_s`` in a log, until the block ends (then its last line stays)."""

    def __init__(
        self,
        watcher: RunWatcher,
        *,
        interval_s: float = 1.0,
        log_every_s: float = 10.0,
        terminal: bool | None = None,
    ) -> None:
        self.watcher = watcher
        self.interval_s = interval_s
        self.log_every_s = log_every_s
        self.terminal = human.is_terminal if terminal is None else terminal
        self._background = BackgroundThread("live-progress", self._run)
        self._stop = self._background.stopping

    def __enter__(self) -> LiveProgress:
        self._background.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.stop()
        self.watcher.close()

    def _run(self) -> None:
        if self.terminal:
            # stdout stays for --json; the line and every other message share stderr
            live = Live(
                Text("  starting load"), console=human, auto_refresh=False, redirect_stdout=False
            )
            with live:
                while not self._stop.wait(self.interval_s):
                    live.update(Text("  " + self.watcher.read().line()), refresh=True)
                live.update(Text("  " + self.watcher.read().line()), refresh=True)
            return
        printed = time.monotonic()
        while not self._stop.wait(self.interval_s):
            shot = self.watcher.read()
            if time.monotonic() - printed >= self.log_every_s:
                human.print("  " + shot.line(), markup=False)  # wrapped to the log's width
                printed = time.monotonic()
