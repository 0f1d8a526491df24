"""The report and compare, rendered from a small run directory committed as a fixture."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.results.compare import compare_runs
from harness.results.model import Summary
from reports.plots import PLOTS
from reports.render import headline_rows, render_report
from tests.conftest import cli_in_process

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    target = tmp_path / "run-smoke"
    shutil.copytree(FIXTURE, target)
    return target


def test_report_carries_the_summary_numbers_and_every_plot(run_dir: Path) -> None:
    written = render_report(run_dir)
    page = written["html"].read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    storm = summary["systems"]["baseline"]["phases"]["storm"]["endpoints"]["checkout"]
    for row in headline_rows(Summary.from_json(summary)):
        assert f"<td>{row[1]}</td><td>{row[2]}</td>" in page
    assert f"{storm['p50_ms']:,.1f} / {storm['p95_ms']:,.1f}" in page
    assert storm["p99_ms"] is None  # a few hundred storm checkouts: no p99, and no cell claims one
    for key, value in summary["ratios"].items():
        assert f"<td>{key}</td><td>{value:g}</td>" in page
    assert page.count('src="data:image/png;base64,') == len(PLOTS)
    for name in PLOTS:
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 5_000
    # self-contained: nothing fetched from anywhere (the one script is inline)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert re.findall(r"<script[^>]*>", page) == ["<script>"]
    assert "<link" not in page
    assert re.findall(r"url\((?!#clip-)", page) == []
    order = [
        page.index(h)
        for h in ("Headline", "Per system and phase", "Plots", "Configuration", "Caveats")
    ]
    assert order == sorted(order)


def test_markdown_report_links_the_plots(run_dir: Path) -> None:
    render_report(run_dir)
    markdown = (run_dir / "report.md").read_text()
    for name in PLOTS:
        assert f"(plots/{name}.png)" in markdown
    assert "| storm phase | baseline | cqrs |" in markdown


def test_invalid_runs_say_so_first(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["valid"] = False
    summary["invalid_reasons"] = ["baseline/storm: the load generator used 97% of a core"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    page = render_report(run_dir)["html"].read_text()
    assert page.index("RUN INVALID") < page.index("Headline")


def test_report_command_and_broken_run_directories(run_dir: Path, bench_home: Path) -> None:
    assert cli_in_process(bench_home, "report", str(run_dir)).returncode == 0
    summary_path = run_dir / "summary.json"
    summary_path.write_text(summary_path.read_text()[:200])
    truncated = cli_in_process(bench_home, "report", str(run_dir))
    assert truncated.returncode == 2
    assert "truncated or damaged" in truncated.stderr
    summary_path.write_text(json.dumps({"schema_version": 7}))
    unknown = cli_in_process(bench_home, "report", str(run_dir))
    assert unknown.returncode == 2
    assert "schema version 7" in unknown.stderr
    (run_dir / "run.json").unlink()
    assert "no run.json" in cli_in_process(bench_home, "report", str(run_dir)).stderr


def test_compare_a_run_with_itself_and_with_a_slower_one(run_dir: Path, tmp_path: Path) -> None:
    same = compare_runs(run_dir, run_dir)
    rows = {r["metric"]: r for r in same["metrics"]}
    checkout = rows["baseline.steady.checkout.p95_ms"]
    assert checkout["change"] == 0
    assert checkout["beyond_noise"] is False
    # no p99 on either side: the change is unknown, never "within noise"
    assert rows["baseline.steady.checkout.p99_ms"]["change"] is None
    assert rows["baseline.steady.checkout.p99_ms"]["beyond_noise"] is None

    slower = tmp_path / "slower"
    shutil.copytree(run_dir, slower)
    for requests in (slower / "cqrs").glob("requests-*.csv"):
        frame = pd.read_csv(requests, dtype={"kind": "string"})
        frame.loc[frame["name"] == "checkout", "latency_us"] *= 3
        frame.to_csv(requests, index=False)
    summary = json.loads((slower / "summary.json").read_text())
    for phase in summary["systems"]["cqrs"]["phases"].values():
        for metric in ("p50_ms", "p95_ms"):
            phase["endpoints"]["checkout"][metric] *= 3
    (slower / "summary.json").write_text(json.dumps(summary))
    report = compare_runs(run_dir, slower)
    rows = {r["metric"]: r for r in report["metrics"]}
    assert rows["cqrs.storm.checkout.p50_ms"]["change"] == pytest.approx(2.0)
    assert rows["cqrs.storm.checkout.p50_ms"]["beyond_noise"] is True
    assert rows["baseline.storm.checkout.p50_ms"]["beyond_noise"] is False


def test_compare_command_writes_html(run_dir: Path, bench_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    result = cli_in_process(
        bench_home, "compare", str(run_dir), str(run_dir), "--html", str(out), "--json"
    )
    assert result.returncode == 0, result.stderr
    assert result.json()["metrics"]
    assert "beyond noise" in out.read_text()


def test_the_lineup_plot_draws_a_panel_that_has_no_measured_value(run_dir: Path) -> None:
    """A quiet run has too few reports for any dashboard percentile: the panel says n/a."""
    summary_file = run_dir / "summary.json"
    raw = json.loads(summary_file.read_text())
    for system in raw["systems"].values():
        system["phases"]["storm"]["endpoints"].pop("dashboard_customers", None)
    summary_file.write_text(json.dumps(raw))
    from reports.data import load_run
    from reports.plots import lineup

    figure = lineup(load_run(run_dir))  # filterwarnings=error: no layout warning either
    texts = [t.get_text() for t in figure.axes[2].texts]
    assert texts == ["n/a"] * len(raw["systems"])
