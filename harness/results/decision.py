"""The decision section: per system, what it bought and what it cost, and a verdict.

Computed from the run, never written by hand. Everything comes from the storm
phase (on the ``quiet`` profile, the middle phase with its occasional report):

- bought: checkout p95 against the baseline's, and dashboard latency;
- cost: staleness of what its reads return, database and cache servers,
  processes, CPU and memory of every component but the load generator.

The verdict follows from two thresholds the user sets (``--slo-ms``,
``--max-staleness-ms`` or a ``[decision]`` table in a TOML file): the
checkout SLO (p95 in the storm) and the acceptable staleness (its max).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.core.errors import BadInput
from harness.results.model import PhaseSummary, Summary
from harness.results.table import MISSING, Table, cpu_text, ms, staleness

BASELINE = "baseline"
PHASE = "storm"
GENERATOR = "locust"
DEFAULT_SLO_MS = 250.0
DEFAULT_MAX_STALENESS_MS = 10_000.0


@dataclass(frozen=True)
class Thresholds:
    """What the user accepts: checkout p95 in the storm, and the max staleness of reads."""

    slo_ms: float = DEFAULT_SLO_MS
    max_staleness_ms: float = DEFAULT_MAX_STALENESS_MS

    def validated(self) -> Thresholds:
        for name, value in (("slo_ms", self.slo_ms), ("max_staleness_ms", self.max_staleness_ms)):
            if not value > 0:
                raise BadInput(f"decision threshold {name} must be above 0, got {value:g}")
        return self

    def to_json(self) -> dict[str, float]:
        return {"slo_ms": self.slo_ms, "max_staleness_ms": self.max_staleness_ms}

    @classmethod
    def from_json(cls, data: object, source: str = "run.json") -> Thresholds:
        if not isinstance(data, Mapping):
            raise BadInput(f"{source}: decision should be a table of thresholds")
        unknown = sorted(set(data) - {"slo_ms", "max_staleness_ms"})
        if unknown:
            raise BadInput(
                f"{source}: unknown decision threshold(s) {', '.join(unknown)} "
                "(known: slo_ms, max_staleness_ms)"
            )
        values: dict[str, float] = {}
        for name in ("slo_ms", "max_staleness_ms"):
            if name in data:
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise BadInput(f"{source}: decision.{name} should be a number of ms")
                values[name] = float(value)
        return cls(**values).validated()


def load_thresholds(
    path: Path | None, slo_ms: float | None = None, max_staleness_ms: float | None = None
) -> Thresholds:
    """The ``[decision]`` table of a TOML file (if given), then the options (they win)."""
    found = Thresholds()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise BadInput(f"cannot read the decision file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path} is not TOML: {exc}") from None
        if "decision" not in data:
            raise BadInput(f"{path} has no [decision] table (slo_ms, max_staleness_ms)")
        found = Thresholds.from_json(data["decision"], str(path))
    return Thresholds(
        slo_ms=found.slo_ms if slo_ms is None else slo_ms,
        max_staleness_ms=found.max_staleness_ms if max_staleness_ms is None else max_staleness_ms,
    ).validated()


@dataclass(frozen=True)
class Decision:
    """One system: what it bought, what it cost, and the verdict (None: not measured)."""

    system: str
    checkout_p95_ms: float | None
    baseline_checkout_p95_ms: float | None
    dashboard_p95_ms: float | None
    staleness_p50_ms: float | None
    staleness_max_ms: float | None
    stale_reads: bool  # whether its reads can lag its writes at all
    servers: int | None
    processes: int | None
    cpu_pct: float | None  # sum of the components' means, % of one core
    memory_mib: float | None  # sum of the components' mean resident memory
    verdict: str

    @property
    def speedup(self) -> float | None:
        """Baseline checkout p95 over this system's (above 1: faster)."""
        if self.checkout_p95_ms is None or not self.baseline_checkout_p95_ms:
            return None
        if not self.checkout_p95_ms:
            return None
        return self.baseline_checkout_p95_ms / self.checkout_p95_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "checkout_p95_ms": self.checkout_p95_ms,
            "baseline_checkout_p95_ms": self.baseline_checkout_p95_ms,
            "dashboard_p95_ms": self.dashboard_p95_ms,
            "staleness_p50_ms": self.staleness_p50_ms,
            "staleness_max_ms": self.staleness_max_ms,
            "servers": self.servers,
            "processes": self.processes,
            "cpu_pct": self.cpu_pct,
            "memory_mib": self.memory_mib,
            "verdict": self.verdict,
        }


def _p95(entry: PhaseSummary | None, endpoint: str) -> float | None:
    stats = None if entry is None else entry.endpoints.get(endpoint)
    return None if stats is None else stats.p95_ms


def _total(values: list[float]) -> float | None:
    return round(sum(values), 1) if values else None


def _servers(detail: Mapping[str, Any]) -> int | None:
    topology = detail.get("topology") or {}
    if isinstance(topology.get("servers"), int):
        return int(topology["servers"])
    clusters = topology.get("clusters")
    return len(clusters) if clusters else None


def _processes(detail: Mapping[str, Any]) -> int | None:
    pids = detail.get("pids") or {}
    return sum(1 for pid in pids.values() if pid is not None) if pids else None


def decide(
    summary: Summary, details: Mapping[str, Mapping[str, Any]], thresholds: Thresholds
) -> list[Decision]:
    """A verdict per system of the run, from its storm phase and the thresholds."""
    base_entry = summary.phase(BASELINE, PHASE)
    base_p95 = _p95(base_entry, "checkout")
    rows = []
    for system in summary.systems:
        entry = summary.phase(system, PHASE)
        detail = details.get(system, {})
        lag = None if entry is None else staleness(entry)
        topology = detail.get("topology") or {}
        stale_reads = (
            lag is not None
            or bool(topology.get("standbys"))
            or bool(topology.get("read_models"))
            or bool(topology.get("cache"))
        )
        components = {} if entry is None else entry.cpu_pct
        memory = {} if entry is None else entry.memory_mib
        rows.append(
            Decision(
                system=system,
                checkout_p95_ms=_p95(entry, "checkout"),
                baseline_checkout_p95_ms=base_p95,
                dashboard_p95_ms=_p95(entry, "dashboard_customers"),
                staleness_p50_ms=None if lag is None else lag.p50,
                staleness_max_ms=None if lag is None else lag.max,
                stale_reads=stale_reads,
                servers=_servers(detail),
                processes=_processes(detail),
                cpu_pct=_total([c.mean for n, c in components.items() if n != GENERATOR]),
                memory_mib=_total([m.mean for n, m in memory.items() if n != GENERATOR]),
                verdict="",
            )
        )
    baseline = next((row for row in rows if row.system == BASELINE), None)
    verdicts = {row.system: _verdict(row, baseline, thresholds) for row in rows}
    fixes = [row for row in rows if verdicts[row.system].startswith("fixes it")]
    if fixes:
        cheapest = min(
            fixes,
            key=lambda row: (row.servers or 0, row.processes or 0, row.cpu_pct or 0.0),
        )
        verdicts[cheapest.system] = "the cheapest fix: " + verdicts[cheapest.system]
    return [_with_verdict(row, verdicts[row.system]) for row in rows]


def _with_verdict(row: Decision, verdict: str) -> Decision:
    return replace(row, verdict=verdict)


def _extra(row: Decision, baseline: Decision | None) -> str:
    """What it costs beyond the baseline."""
    if baseline is None:
        return ""
    parts = []
    for label, mine, theirs, unit in (
        ("server", row.servers, baseline.servers, ""),
        ("process", row.processes, baseline.processes, ""),
    ):
        if mine is not None and theirs is not None and mine != theirs:
            extra = mine - theirs
            parts.append(f"{extra:+d} {label}{'es' if label == 'process' else 's'}{unit}")
    if row.cpu_pct is not None and baseline.cpu_pct is not None:
        parts.append(f"{row.cpu_pct - baseline.cpu_pct:+,.0f}% CPU")
    return ", ".join(parts)


def _verdict(row: Decision, baseline: Decision | None, limits: Thresholds) -> str:
    slo, stale_limit = limits.slo_ms, limits.max_staleness_ms
    p95 = row.checkout_p95_ms
    if p95 is None:
        return "no verdict: checkout p95 in the storm was not measured (too few samples)"
    meets = p95 <= slo
    if row.system == BASELINE:
        if meets:
            return f"enough: one database meets the SLO (p95 {ms(p95)} <= {slo:g} ms)"
        return f"misses the SLO (p95 {ms(p95)} > {slo:g} ms): one database does not cope"
    if not meets:
        return f"does not meet the SLO (p95 {ms(p95)} > {slo:g} ms)"
    if row.stale_reads and row.staleness_max_ms is None:
        return f"meets the SLO (p95 {ms(p95)} ms) but its staleness was not measured"
    if row.staleness_max_ms is not None and row.staleness_max_ms > stale_limit:
        return (
            f"meets the SLO (p95 {ms(p95)} ms) but reads are too stale "
            f"(max {ms(row.staleness_max_ms)} > {stale_limit:g} ms)"
        )
    extra = _extra(row, baseline)
    cost = f"; extra: {extra}" if extra else ""
    if baseline is not None and baseline.checkout_p95_ms is not None:
        if baseline.checkout_p95_ms <= slo:
            return f"overkill: the baseline meets the SLO too{cost}"
        return f"fixes it: p95 {ms(p95)} ms (baseline {ms(baseline.checkout_p95_ms)} ms){cost}"
    return f"meets the SLO (p95 {ms(p95)} ms); no baseline in this run to compare"


DECISION_HEADER = [
    "system",
    "checkout p95 storm ms (baseline / this)",
    "dashboard p95 ms",
    "staleness p50 / max ms",
    "servers",
    "processes",
    "CPU % (sum of means)",
    "memory MiB",
    "verdict",
]


def decision_table(decisions: list[Decision]) -> Table:
    rows = []
    for row in decisions:
        speedup = row.speedup
        checkout = ms(row.checkout_p95_ms)
        if speedup is not None and row.system != BASELINE:
            checkout += f" ({speedup:,.2f}x)"
        staleness_cell = (
            "none (reads its writes)"
            if not row.stale_reads
            else f"{ms(row.staleness_p50_ms)} / {ms(row.staleness_max_ms)}"
        )
        rows.append(
            [
                row.system,
                checkout,
                ms(row.dashboard_p95_ms),
                staleness_cell,
                MISSING if row.servers is None else str(row.servers),
                MISSING if row.processes is None else str(row.processes),
                MISSING if row.cpu_pct is None else cpu_text(row.cpu_pct),
                MISSING if row.memory_mib is None else f"{row.memory_mib:,.0f}",
                row.verdict,
            ]
        )
    return Table(header=list(DECISION_HEADER), rows=rows)


def decision_note(thresholds: Thresholds) -> str:
    return (
        f"Thresholds: checkout SLO p95 <= {thresholds.slo_ms:g} ms in the storm, staleness "
        f"max <= {thresholds.max_staleness_ms:g} ms (set them with --slo-ms, "
        "--max-staleness-ms or a [decision] table in a TOML file). Bought: checkout p95 "
        "against the baseline (x: how many times faster). Cost: servers (databases and "
        "Redis), processes (servers, app, projector), CPU and memory of every component but "
        "the load generator, all in the storm phase."
    )


def thresholds_of(extra: Mapping[str, Any]) -> Thresholds:
    """The thresholds a run was decided with (run.json's ``decision``), else the defaults."""
    data = extra.get("decision")
    return Thresholds() if data is None else Thresholds.from_json(data)
