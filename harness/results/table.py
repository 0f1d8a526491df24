"""The summary table printed at the end of a run."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from harness.core.console import human
from scenarios.plan import PHASES

SHOWN = ("checkout", "dashboard_customers", "product_page")


def render_summary(summary: dict[str, Any], run_dir: str) -> None:
    table = Table(title=f"cqrs-bench run: {run_dir}")
    table.add_column("system")
    table.add_column("phase")
    for name in SHOWN:
        table.add_column(f"{name}\np50 / p99 ms", justify="right")
    table.add_column("checkout\nerrors", justify="right")
    table.add_column("offered / achieved\ncheckouts/s", justify="right")
    table.add_column("DB CPU %\n(mean)", justify="right")
    table.add_column("lag p99\nms", justify="right")
    for system, data in summary["systems"].items():
        for phase in PHASES:
            entry = data["phases"][phase]
            cells = []
            for name in SHOWN:
                stats = entry["endpoints"].get(name)
                cells.append(
                    "-" if stats is None else f"{stats['p50_ms']:.0f} / {stats['p99_ms']:.0f}"
                )
            checkout = entry["endpoints"].get("checkout", {})
            driver = entry["checkout_driver"]
            cpu = entry["cpu_pct"]
            db_cpu = ", ".join(
                f"{name} {cpu[name]['mean']:.0f}" for name in ("db", "write", "read") if name in cpu
            )
            lag = entry.get("projection_lag_ms", {}).get("p99")
            table.add_row(
                system,
                phase,
                *cells,
                f"{checkout.get('error_rate', 0):.1%}",
                f"{driver['offered_rps']:.1f} / {driver['achieved_rps']:.1f}",
                db_cpu or "-",
                "-" if lag is None else f"{lag:.0f}",
            )
    human.print(table, width=max(human.width, 150))
    for key, value in summary["ratios"].items():
        human.print(f"  {key}: {value:g}")
    if summary["valid"]:
        human.print("[green]run is valid[/]")
    else:
        human.print("[bold red]RUN INVALID[/]: the load generator, not the systems, set the limit:")
        for reason in summary["invalid_reasons"]:
            human.print(f"  - {reason}", markup=False)
