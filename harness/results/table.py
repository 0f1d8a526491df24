"""The per-system, per-phase summary table: one set of columns and one formatting.

The terminal (``cqrs-bench run``), ``report.md`` and ``report.html`` all show
the rows of :func:`phase_table`; each only draws them (rich, Markdown, HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.results.model import PhaseSummary, Summary

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
DB_COMPONENTS = ("db", "write", "read")
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


def cpu(value: float) -> str:
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
    db_cpu = [f"{n} {cpu(entry.cpu_pct[n].mean)}" for n in DB_COMPONENTS if n in entry.cpu_pct]
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
