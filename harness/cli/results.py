"""report, compare, gate: reading run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import (
    DecisionFileOpt,
    JsonOpt,
    MaxStalenessOpt,
    RunDirArg,
    SloOpt,
    app,
    output,
)
from harness.core.console import human
from harness.core.errors import CheckFailed


@app.command("report")
def report_command(
    run_dir: RunDirArg,
    slo_ms: SloOpt = None,
    max_staleness_ms: MaxStalenessOpt = None,
    decision: DecisionFileOpt = None,
) -> None:
    """Re-render report.html, report.md and plots/ from a run directory.

    The decision section uses the run's thresholds unless given here.
    Example: cqrs-bench report runs/20261127T100000Z-smoke --slo-ms 100
    """
    from harness.results.decision import load_thresholds
    from reports.render import render_report

    given = decision is not None or slo_ms is not None or max_staleness_ms is not None
    thresholds = load_thresholds(decision, slo_ms, max_staleness_ms) if given else None
    written = render_report(run_dir, thresholds)
    human.print(f"wrote {written['html']} and {written['markdown']}", markup=False)


@app.command("compare")
def compare_command(
    run_a: RunDirArg,
    run_b: RunDirArg,
    more: Annotated[
        list[Path] | None,
        typer.Argument(help="More runs, oldest first: a trend of --metric across all of them."),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="With more than two runs: a metric to follow (repeatable), e.g. "
            "cqrs.storm.checkout.p95_ms [default: checkout p95 and dashboard p50 in the storm].",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="With more than two runs: the trend as PNG.")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write the comparison as HTML here too.")
    ] = None,
    level: Annotated[
        float,
        typer.Option("--level", min=0.5, max=0.999, help="Confidence of the verdicts' intervals."),
    ] = 0.99,
    json_output: JsonOpt = False,
) -> None:
    """Runs side by side: every metric, its change, its interval and whether it is beyond noise.

    With trials on both sides (run --repeat N) noise is the variation across
    trials; with one trial, a block bootstrap of the per-request records. With
    more than two runs (oldest first): the trend of chosen metrics across them.
    Example: cqrs-bench compare runs/A runs/B --html compare.html
    """
    from harness.cli.views import render_compare, render_trend
    from harness.results.compare import compare_runs, compare_trend
    from reports.compare import write_compare_html, write_trend_html, write_trend_plot

    runs = [run_a, run_b, *(more or [])]
    if len(runs) == 2 and not metric and plot is None:
        report = compare_runs(run_a, run_b, level=level)
        if html_out is not None:
            write_compare_html(report, html_out)
        output(report, json_output, render_compare)
        return
    trend = compare_trend(runs, metric or [], level=level)
    if plot is not None:
        write_trend_plot(trend, plot)
    if html_out is not None:
        write_trend_html(trend, html_out)
    output(trend, json_output, render_trend)


@app.command("gate")
def gate_command(
    run_dir: RunDirArg,
    config: Annotated[
        Path | None, typer.Option("--config", help="Gates file (TOML) [default: the built-in one].")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="A saved run to check for regressions against."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")
    ] = None,
    allow_invalid: Annotated[
        bool, typer.Option("--allow-invalid", help="Do not fail a run marked invalid.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Check a run against thresholds, ratios and a baseline run; exit 1 when any fails.

    Example: cqrs-bench gate runs/latest --junit gates.xml --baseline runs/main
    """
    from harness.cli.views import render_gates
    from harness.results.gates.evaluate import DEFAULT_GATES, GateConfig, run_gates

    result = run_gates(
        GateConfig(
            run_dir=run_dir,
            gates_file=config or DEFAULT_GATES,
            baseline_run=baseline,
            junit=junit,
            markdown=markdown,
            allow_invalid=allow_invalid,
        )
    )
    output(result, json_output, render_gates)
    if not result["passed"]:
        failed = [rule["name"] for rule in result["rules"] if not rule["passed"]]
        raise CheckFailed(f"{len(failed)} gate(s) failed: {'; '.join(failed)}")
