"""Human rendering of ``doctor``'s report."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from harness.core.console import human


def render_doctor(report: dict[str, Any]) -> None:
    table = Table(title=f"cqrs-bench doctor (work directory {report['home']})")
    table.add_column("check")
    table.add_column("status")
    table.add_column("details / fix")
    for name, check in report["checks"].items():
        status = "[green]ok" if check["ok"] else "[red]missing"
        details = {k: v for k, v in check.items() if k not in ("ok", "fix", "problem")}
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        if not check["ok"]:
            text = f"{check.get('problem', '')} -> {check.get('fix', '')}"
        table.add_row(name, status, text)
    human.print(table)
    usable = [name for name, ok in report["providers"].items() if ok]
    human.print(f"usable providers: {', '.join(usable) or 'none'}")
