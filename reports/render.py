"""report.html (one self-contained file) and report.md from a run directory."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reports.data import RunData, load_run
from reports.plots import PLOTS, REFERENCE, headline_numbers, render_plots
from scenarios.plan import PHASES

TABLE_ENDPOINTS = (
    "checkout",
    "dashboard_customers",
    "dashboard_revenue",
    "product_page",
    "product_list",
    "my_orders",
)

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: .8rem 0 1.4rem; font-size: .85rem; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
thead th { background: #f4f6f7; } tr.storm td { background: #fdf2e9; }
.invalid { background: #fadbd8; border: 2px solid #c0392b; padding: .8rem; font-weight: 600; }
.valid { background: #e9f7ef; border: 1px solid #27ae60; padding: .6rem; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; } code, pre { font-size: .85rem; }
pre { background: #f8f9f9; padding: .6rem; overflow-x: auto; }
"""


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}" if abs(value) >= 10 else f"{value:,.1f}{unit}"


def headline_rows(summary: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for label, (before, after) in headline_numbers(summary).items():
        ref_before, ref_after = REFERENCE[label]
        ratio = "-" if not before or not after else f"{before / after:,.1f}x"
        rows.append(
            (label, _fmt(before), _fmt(after), ratio, f"{ref_before:,.0f} -> {ref_after:,.0f}")
        )
    return rows


def phase_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for system, data in summary["systems"].items():
        for phase in PHASES:
            entry = data["phases"][phase]
            cells = [system, phase]
            for name in TABLE_ENDPOINTS:
                stats = entry["endpoints"].get(name)
                cells.append(
                    "-" if stats is None else f"{stats['p50_ms']:,.1f} / {stats['p99_ms']:,.1f}"
                )
            checkout = entry["endpoints"].get("checkout", {})
            driver = entry["checkout_driver"]
            cells.append(f"{checkout.get('error_rate', 0):.2%}")
            cells.append(f"{driver['offered_rps']:.1f} / {driver['achieved_rps']:.1f}")
            cpu = entry["cpu_pct"]
            cells.append(
                ", ".join(f"{n} {cpu[n]['mean']:.0f}" for n in ("db", "write", "read") if n in cpu)
                or "-"
            )
            lag = entry.get("projection_lag_ms", {}).get("p99")
            cells.append("-" if lag is None else f"{lag:,.0f}")
            rows.append(cells)
    return rows


PHASE_HEADER = [
    "system",
    "phase",
    *(f"{e} p50 / p99 ms" for e in TABLE_ENDPOINTS),
    "checkout errors",
    "checkouts/s offered / achieved",
    "DB CPU % (mean)",
    "lag p99 ms",
]
HEADLINE_HEADER = ["storm phase", "baseline", "cqrs", "baseline / cqrs", "reference story"]


def _html_table(header: list[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        css = ' class="storm"' if len(row) > 1 and row[1] == "storm" else ""
        body.append(
            f"<tr{css}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _md_table(header: list[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _caveats(data: RunData) -> list[str]:
    caveats = list(data.run.get("caveats", []))
    if not data.summary["valid"]:
        caveats.insert(0, "This run is INVALID: " + "; ".join(data.summary["invalid_reasons"]))
    return caveats


def render_report(directory: Path) -> dict[str, Path]:
    data = load_run(directory)
    plots = render_plots(data, directory / "plots")
    summary, run = data.summary, data.run
    validity = (
        '<p class="valid">Run is valid: the load generator kept its schedule.</p>'
        if summary["valid"]
        else '<p class="invalid">RUN INVALID: '
        + html.escape("; ".join(summary["invalid_reasons"]))
        + "</p>"
    )
    figures = []
    for name, path in plots.items():
        encoded = base64.b64encode(path.read_bytes()).decode()
        caption = PLOTS[name][0]
        figures.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    config = {
        "profile": run.get("profile"),
        "dataset": run.get("dataset"),
        "phases": run.get("phases"),
        "plan": run.get("plan"),
        "provider": run.get("provider"),
        "pg_settings (both systems)": run.get("pg_settings"),
        "systems": run.get("systems_detail"),
    }
    facts = {
        "machine": run.get("machine"),
        "versions": run.get("versions"),
        "git_sha": run.get("git_sha"),
    }
    ratios = [(k, f"{v:g}") for k, v in summary["ratios"].items()]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cqrs-bench report: {html.escape(directory.name)}</title><style>{CSS}</style></head>
<body>
<h1>Black Friday: single database vs CQRS</h1>
<p class="sub">{html.escape(directory.name)} &middot; profile {html.escape(str(run.get("profile")))}
&middot; started {html.escape(str(run.get("started_at")))}</p>
{validity}
<h2>Headline (storm phase)</h2>
{_html_table(HEADLINE_HEADER, headline_rows(summary))}
<h2>Per system and phase</h2>
{_html_table(PHASE_HEADER, phase_rows(summary))}
<h2>Ratios</h2>
{_html_table(["metric", "value"], ratios)}
<h2>Plots</h2>
{"".join(figures)}
<h2>Configuration of both sides</h2>
<pre>{html.escape(json.dumps(config, indent=2, default=str))}</pre>
<h2>Machine and versions</h2>
<pre>{html.escape(json.dumps(facts, indent=2, default=str))}</pre>
<h2>Caveats</h2>
<ul>{"".join(f"<li>{html.escape(c)}</li>" for c in _caveats(data))}</ul>
</body></html>
"""
    html_path = directory / "report.html"
    html_path.write_text(page, encoding="utf-8")
    md = [
        f"# Black Friday: single database vs CQRS ({directory.name})",
        "",
        "Run is valid."
        if summary["valid"]
        else "**RUN INVALID**: " + "; ".join(summary["invalid_reasons"]),
        "",
        "## Headline (storm phase)",
        "",
        _md_table(HEADLINE_HEADER, headline_rows(summary)),
        "",
        "## Per system and phase",
        "",
        _md_table(PHASE_HEADER, phase_rows(summary)),
        "",
        "## Ratios",
        "",
        _md_table(["metric", "value"], ratios),
        "",
        "## Plots",
        "",
        *(f"- [{PLOTS[name][0]}](plots/{path.name})" for name, path in plots.items()),
        "",
        "## Caveats",
        "",
        *(f"- {c}" for c in _caveats(data)),
        "",
    ]
    md_path = directory / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, **{f"plot:{k}": v for k, v in plots.items()}}
