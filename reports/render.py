"""report.html (one self-contained file) and report.md from a run directory."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from harness.results.decision import (
    Thresholds,
    decide,
    decision_note,
    decision_table,
    thresholds_of,
)
from harness.results.model import Summary
from harness.results.table import Table, lineup_table, phase_table
from reports.data import RunData, load_run
from reports.plots import REFERENCE, headline_numbers, plots_for, render_plots, trial_metrics

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
.note { color: #555; font-size: .85rem; max-width: 60rem; }
pre { background: #f8f9f9; padding: .6rem; overflow-x: auto; }
"""


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}" if abs(value) >= 10 else f"{value:,.1f}{unit}"


def headline_rows(summary: Summary) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for label, (before, after) in headline_numbers(summary).items():
        ref_before, ref_after = REFERENCE[label]
        ratio = "-" if not before or not after else f"{before / after:,.1f}x"
        rows.append(
            (label, _fmt(before), _fmt(after), ratio, f"{ref_before:,.0f} -> {ref_after:,.0f}")
        )
    return rows


LINEUP_NOTE = (
    "Storm over steady: how much the report storm slowed checkout (1x: not at all). "
    "Staleness: projection lag (CQRS, commit to commit) or the standby's replay lag "
    "(replica). Processes: database servers, app, projector."
)
NUMBERS_NOTE = (
    "Checkout and report latencies run from each arrival's scheduled time, over every "
    "scheduled arrival: a dropped or timed-out one counts as a failure and, in the "
    "percentiles, as the client timeout (summary.json's 'answered' percentiles leave "
    "those out). '-' marks a percentile from too few samples: p50 needs 20, p95 200, "
    "p99 1,000. CPU is % of one core, each sample weighted by the time it covers."
)
HEADLINE_HEADER = ["storm phase", "baseline", "cqrs", "baseline / cqrs", "reference story"]


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        css = ' class="storm"' if len(row) > 1 and row[1] == "storm" else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def md_table(table: Table) -> str:
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)


def headline_table(summary: Summary) -> Table:
    return Table(HEADLINE_HEADER, [list(row) for row in headline_rows(summary)])


def ratios_table(summary: Summary) -> Table:
    return Table(
        ["metric", "value"], [[key, f"{value:g}"] for key, value in summary.ratios.items()]
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def trials_section(summary: Summary) -> Table | None:
    """Each key metric per trial, the median and the interval across trials (None: one trial)."""
    trials = summary.trials
    if trials is None:
        return None
    header = [
        "metric",
        *(f"trial {k}" for k in range(1, trials.count + 1)),
        "median",
        f"{trials.level:.0%} interval",
    ]
    rows = []
    chosen = [(label, path, trials.metrics.get(path)) for label, path in trial_metrics(summary)]
    chosen += [(key, key, trials.ratios.get(key)) for key in summary.ratios]
    for label, _, found in chosen:
        if found is None:
            continue
        interval = (
            "-"
            if found.low is None or found.high is None
            else f"{_cell(found.low)} - {_cell(found.high)}"
        )
        rows.append([label, *(_cell(v) for v in found.values), _cell(found.median), interval])
    return Table(header, rows)


def trials_note(data: RunData) -> str:
    trials = data.summary.trials
    assert trials is not None
    return (
        f"{trials.count} trials per system, run in this order: {', '.join(trials.order)} "
        "(interleaved, fixed by the seed; each on a fresh stack). The tables above show each "
        f"metric's median over the trials (a value one trial measured); the interval is "
        f"{trials.interval}. The plots over time show trial 1."
    )


def _caveats(data: RunData) -> list[str]:
    caveats = list(data.run.caveats)
    if not data.summary.valid:
        caveats.insert(0, "This run is INVALID: " + "; ".join(data.summary.invalid_reasons))
    return caveats


def render_report(directory: Path, thresholds: Thresholds | None = None) -> dict[str, Path]:
    """``thresholds``: for the decision section (default: those the run was made with)."""
    data = load_run(directory)
    plots = render_plots(data, directory / "plots")
    captions = plots_for(data)
    summary, run = data.summary, data.run
    trials = trials_section(summary)
    limits = thresholds if thresholds is not None else thresholds_of(run.extra)
    decision = decision_table(decide(summary, run.systems_detail, limits))
    note = decision_note(limits)
    phases = phase_table(summary)
    lineup = lineup_table(summary, run.systems_detail) if len(summary.systems) > 1 else None
    layouts = {
        system: detail["cpu_layout"]
        for system, detail in run.systems_detail.items()
        if isinstance(detail.get("cpu_layout"), dict)
    }
    layout_lines = [
        f"{system}: {layout.get('layout')} "
        + ", ".join(f"{name} {cores}" for name, cores in (layout.get("components") or {}).items())
        for system, layout in layouts.items()
    ]
    layout_html = (
        "<h3>CPU placement</h3><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in layout_lines)
        + "</ul>"
        if layout_lines
        else ""
    )
    layout_md = (
        ["CPU placement:", "", *(f"- {line}" for line in layout_lines)] if layout_lines else []
    )
    validity = (
        '<p class="valid">Run is valid: every arrival accounted for, the generator on time.</p>'
        if summary.valid
        else '<p class="invalid">RUN INVALID: '
        + html.escape("; ".join(summary.invalid_reasons))
        + "</p>"
    )
    figures = []
    for name, path in plots.items():
        encoded = base64.b64encode(path.read_bytes()).decode()
        caption = captions[name][0]
        figures.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    config = {
        "profile": run.profile,
        "dataset": dict(run.dataset),
        "phases": dict(run.phases),
        "plan": dict(run.plan),
        "provider": run.provider,
        "pg_settings (both systems)": dict(run.pg_settings),
        "systems": {name: dict(detail) for name, detail in run.systems_detail.items()},
    }
    facts = {"machine": dict(run.machine), "versions": dict(run.versions), "git_sha": run.git_sha}
    headline, ratios = headline_table(summary), ratios_table(summary)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cqrs-bench report: {html.escape(directory.name)}</title><style>{CSS}</style></head>
<body>
<h1>Black Friday: single database vs CQRS</h1>
<p class="sub">{html.escape(directory.name)} &middot; profile {html.escape(run.profile)}
&middot; started {html.escape(run.started_at)}</p>
{validity}
<h2>Headline (storm phase)</h2>
{html_table(headline)}
<h2>Per system and phase</h2>
{html_table(phases)}
<p class="note">{html.escape(NUMBERS_NOTE)}</p>
{
        ""
        if lineup is None
        else "<h2>The lineup</h2>"
        + html_table(lineup)
        + f'<p class="note">{html.escape(LINEUP_NOTE)}</p>'
        + layout_html
    }
<h2>Ratios</h2>
{html_table(ratios)}
{
        ""
        if trials is None
        else "<h2>Trials</h2>"
        + html_table(trials)
        + f'<p class="note">{html.escape(trials_note(data))}</p>'
    }
<h2>Plots</h2>
{"".join(figures)}
<h2>Configuration of both sides</h2>
<pre>{html.escape(json.dumps(config, indent=2, default=str))}</pre>
<h2>Machine and versions</h2>
<pre>{html.escape(json.dumps(facts, indent=2, default=str))}</pre>
<h2>Caveats</h2>
<ul>{"".join(f"<li>{html.escape(c)}</li>" for c in _caveats(data))}</ul>
<h2>Decision</h2>
{html_table(decision)}
<p class="note">{html.escape(note)}</p>
</body></html>
"""
    html_path = directory / "report.html"
    html_path.write_text(page, encoding="utf-8")
    md = [
        f"# Black Friday: single database vs CQRS ({directory.name})",
        "",
        "Run is valid."
        if summary.valid
        else "**RUN INVALID**: " + "; ".join(summary.invalid_reasons),
        "",
        "## Headline (storm phase)",
        "",
        md_table(headline),
        "",
        "## Per system and phase",
        "",
        md_table(phases),
        "",
        NUMBERS_NOTE,
        "",
        *(
            []
            if lineup is None
            else ["## The lineup", "", md_table(lineup), "", LINEUP_NOTE, "", *layout_md, ""]
        ),
        "## Ratios",
        "",
        md_table(ratios),
        "",
        *([] if trials is None else ["## Trials", "", md_table(trials), "", trials_note(data), ""]),
        "## Plots",
        "",
        *(f"- [{captions[name][0]}](plots/{path.name})" for name, path in plots.items()),
        "",
        "## Caveats",
        "",
        *(f"- {c}" for c in _caveats(data)),
        "",
        "## Decision",
        "",
        md_table(decision),
        "",
        note,
        "",
    ]
    md_path = directory / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, **{f"plot:{k}": v for k, v in plots.items()}}
