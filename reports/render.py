"""report.html (one self-contained file) and report.md from a run directory."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from harness.results.decision import (
    Thresholds,
    decide,
    decision_note,
    decision_table,
    thresholds_of,
)
from harness.results.endpoint_table import endpoint_table, error_table
from harness.results.files import LOCUST_REPORT, trial_dirs
from harness.results.model import TOP_ERRORS, Summary
from harness.results.table import Table, lineup_table, phase_table
from reports.data import RunData, load_run
from reports.interactive import charts_for
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
.by-endpoint td:nth-child(3), .by-endpoint th:nth-child(3) { text-align: left; }
.errors td:nth-child(5), .errors th:nth-child(5) { text-align: left; }
svg.chart { width: 100%; height: auto; cursor: crosshair; user-select: none; font-size: 12px;
            fill: #333; }
svg.chart .phase-label { fill: #555; } svg.chart .brush { fill: rgba(36, 113, 163, .15); }
svg.chart circle.point { fill-opacity: .85; } svg.chart circle.point:hover { r: 5; }
.legend span { margin-right: 1rem; white-space: nowrap; }
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
ENDPOINTS_NOTE = (
    "Every request of each endpoint in each phase. requests/s counts them all (failures "
    "too) over the phase's length; failures are errors, timeouts and (checkout, reports) "
    "drops, with their share. '-' marks a percentile from too few samples: p90 needs 100, "
    "p99 1,000, p99.9 10,000."
)
ERRORS_NOTE = (
    "What the failed requests said, grouped by message: the HTTP status and the app's "
    "error code, or the client's exception. summary.json keeps each endpoint's "
    f"{TOP_ERRORS} most frequent per phase."
)
TEMPLATES = Path(__file__).parent / "templates"
HEADLINE_HEADER = ["storm phase", "baseline", "cqrs", "baseline / cqrs", "reference story"]


def html_table(table: Table) -> str:
    """A table as the report's page draws it (the templates' own ``table`` macro)."""
    return str(_macros().table(table))


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


@cache
def environment() -> jinja2.Environment:
    """The report's templates (``reports/templates``), every value HTML-escaped."""
    found = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    found.filters["basename"] = lambda path: Path(str(path)).name
    return found


def _macros() -> Any:
    return environment().get_template("macros.html.j2").module


def locust_reports(directory: Path, summary: Summary) -> list[tuple[str, str]]:
    """Locust's own HTML report of each system (and trial), as (label, link relative to the
    run directory); a run from before Locust wrote one has none."""
    found = []
    for system in summary.systems:
        if not (directory / system).is_dir():
            continue
        dirs = trial_dirs(directory, system)
        for number, trial in enumerate(dirs, start=1):
            page = trial / LOCUST_REPORT
            if page.is_file():
                label = system if len(dirs) == 1 else f"{system} trial {number}"
                found.append((label, page.relative_to(directory).as_posix()))
    return found


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
    layout_md = (
        ["CPU placement:", "", *(f"- {line}" for line in layout_lines)] if layout_lines else []
    )
    figures = [
        {
            "caption": captions[name][0],
            "encoded": base64.b64encode(path.read_bytes()).decode(),
        }
        for name, path in plots.items()
    ]
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
    endpoints, errors = endpoint_table(summary), error_table(summary)
    locust_pages = locust_reports(directory, summary)
    page = (
        environment()
        .get_template("report.html.j2")
        .render(
            css=CSS,
            charts_js=(TEMPLATES / "charts.js").read_text(encoding="utf-8"),
            name=directory.name,
            run=run,
            summary=summary,
            headline=headline,
            phases=phases,
            numbers_note=NUMBERS_NOTE,
            endpoints=endpoints,
            endpoints_note=ENDPOINTS_NOTE,
            errors=errors,
            errors_note=ERRORS_NOTE,
            locust_reports=locust_pages,
            lineup=lineup,
            lineup_note=LINEUP_NOTE,
            layout_lines=layout_lines,
            ratios=ratios,
            trials=trials,
            trials_note=None if trials is None else trials_note(data),
            charts=charts_for(data),
            figures=figures,
            config_json=json.dumps(config, indent=2, default=str),
            facts_json=json.dumps(facts, indent=2, default=str),
            caveats=_caveats(data),
            decision=decision,
            decision_note=note,
        )
    )
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
        "## Per endpoint and phase",
        "",
        md_table(endpoints),
        "",
        ENDPOINTS_NOTE,
        "",
        "### Most frequent errors",
        "",
        *([md_table(errors), "", ERRORS_NOTE] if errors.rows else ["No request failed."]),
        "",
        *(
            [
                "Locust's own report: "
                + ", ".join(f"[{label}]({href})" for label, href in locust_pages),
                "",
            ]
            if locust_pages
            else []
        ),
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
