"""The per-system, per-phase summary table: one set of columns and one formatting.

The terminal (``cqrs-bench run``), ``report.md`` and ``report.html`` all show
the rows of :func:`phase_table`; each only draws them (rich, Markdown, HTML).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.results.model import LagStats, PhaseSummary, Summary, SystemSummary

TABLE_ENDPOINTS = (
    "checkout",
    "dashboard_customers",
    "dashboard_revenue",
    "product_page",
    "product_list",
    "my_orders",
)
# the terminal's narrower choice of the same columns
TERMINAL_ENDPOINTS = ("checkout", "dashboard_customers", "product_page")
# every cluster role a topology names (the replica system's are its primary and standby)
DB_COMPONENTS = ("db", "write", "read", "primary", "standby")
MISSING = "-"


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


def ms(value: float | None) -> str:
    """Milliseconds, everywhere the table shows them ("-": too few samples, or none)."""
    return MISSING if value is None else f"{value:,.1f}"


def share(value: float | None) -> str:
    """A share (error rate), as a percentage."""
    return MISSING if value is None else f"{value:.2%}"


def rate(value: float) -> str:
    """Requests per second."""
    return f"{value:,.1f}"


def cpu_text(value: float) -> str:
    """CPU, % of one core."""
    return f"{value:,.0f}"


def phase_header(endpoints: Sequence[str] = TABLE_ENDPOINTS) -> list[str]:
    return [
        "system",
        "phase",
        *(f"{endpoint} p50 / p95 ms" for endpoint in endpoints),
        "checkout errors",
        "checkouts/s offered / achieved",
        "DB CPU % (mean)",
        "lag p50 / max ms",
    ]


def phase_cells(entry: PhaseSummary, endpoints: Sequence[str] = TABLE_ENDPOINTS) -> list[str]:
    """The cells after ``system`` and ``phase`` for one system in one phase."""
    cells = []
    for name in endpoints:
        stats = entry.endpoints.get(name)
        cells.append(MISSING if stats is None else f"{ms(stats.p50_ms)} / {ms(stats.p95_ms)}")
    checkout = entry.endpoints.get("checkout")
    cells.append(MISSING if checkout is None else share(checkout.error_rate))
    driver = entry.checkout_driver
    cells.append(f"{rate(driver.offered_rps)} / {rate(driver.achieved_rps)}")
    db_cpu = [f"{n} {cpu_text(entry.cpu_pct[n].mean)}" for n in DB_COMPONENTS if n in entry.cpu_pct]
    cells.append(", ".join(db_cpu) or MISSING)
    lag = entry.projection_lag_ms
    cells.append(MISSING if lag is None else f"{ms(lag.p50)} / {ms(lag.max)}")
    return cells


def phase_table(summary: Summary, endpoints: Sequence[str] = TABLE_ENDPOINTS) -> Table:
    """One row per system and phase: p50 / p95 of ``endpoints``, checkout errors, offered and
    achieved checkout rate, database CPU, projection lag p50 / max.

    p95 rather than p99: a smoke phase holds a few hundred requests, enough for a
    p95 and too few for a p99 (which summary.json then leaves null)."""
    rows = [
        [system, phase, *phase_cells(entry, endpoints)]
        for system, data in summary.systems.items()
        for phase, entry in data.phases.items()
    ]
    return Table(header=phase_header(endpoints), rows=rows)


LINEUP_HEADER = [
    "system",
    "checkout p95 storm / steady",
    "checkout p95 storm ms",
    "dashboard p50 / p95 ms (storm)",
    "staleness p50 / max ms (storm)",
    "errors (storm)",
    "DB CPU % (storm mean)",
    "DB servers",
    "processes",
]


def staleness(entry: PhaseSummary) -> LagStats | None:
    """How stale a system's reads were in a phase: projection lag (CQRS), replay lag
    (replica) or the age of the cached answers (cache); None for one that reads its writes."""
    return entry.projection_lag_ms or entry.replica_lag_ms or entry.cache_staleness_ms


def _ratio(top: float | None, bottom: float | None) -> str:
    return MISSING if top is None or not bottom else f"{top / bottom:,.2f}x"


def lineup_row(system: str, data: SystemSummary, detail: Mapping[str, Any]) -> list[str]:
    """One system of the lineup: what the storm did to it, and what it takes to run it."""
    storm, steady = data.phases.get("storm"), data.phases.get("steady")
    checkout = None if storm is None else storm.endpoints.get("checkout")
    calm = None if steady is None else steady.endpoints.get("checkout")
    dashboard = None if storm is None else storm.endpoints.get("dashboard_customers")
    lag = None if storm is None else staleness(storm)
    errors: dict[str, int] = {}
    for stats in [] if storm is None else storm.endpoints.values():
        for kind, count in stats.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    clusters = list((detail.get("topology") or {}).get("clusters") or [])
    pids = detail.get("pids") or {}
    cpu = (
        []
        if storm is None
        else [
            f"{name} {cpu_text(storm.cpu_pct[name].mean)}"
            for name in clusters
            if name in storm.cpu_pct
        ]
    )
    return [
        system,
        _ratio(
            None if checkout is None else checkout.p95_ms, None if calm is None else calm.p95_ms
        ),
        MISSING if checkout is None else ms(checkout.p95_ms),
        MISSING if dashboard is None else f"{ms(dashboard.p50_ms)} / {ms(dashboard.p95_ms)}",
        MISSING if lag is None else f"{ms(lag.p50)} / {ms(lag.max)}",
        ", ".join(f"{kind} {count}" for kind, count in errors.items() if count) or "none",
        ", ".join(cpu) or MISSING,
        str(len(clusters)) if clusters else MISSING,
        str(sum(1 for pid in pids.values() if pid is not None)) if pids else MISSING,
    ]


def lineup_table(summary: Summary, details: Mapping[str, Mapping[str, Any]]) -> Table:
    """The systems side by side (``--systems all``): isolation, reports, staleness, errors,
    CPU per cluster, and the database servers and processes (servers, app, projector) each
    needs."""
    rows = [
        lineup_row(system, data, details.get(system, {}))
        for system, data in summary.systems.items()
    ]
    return Table(header=list(LINEUP_HEADER), rows=rows)
