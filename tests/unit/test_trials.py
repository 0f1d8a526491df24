"""Trials (``run --repeat N``): the order, the layout, the summary, compare, gates, the report.

A run of three trials is built from the committed single-trial fixture: each
trial is the fixture's records with every latency scaled by a known factor,
so medians, per-trial values and verdicts have known answers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.results import stats
from harness.results.compare import compare_runs, compare_trend
from harness.results.files import read_summary, trial_dirs, write_summary
from harness.results.gates.evaluate import GateConfig, run_gates
from harness.results.model import Summary
from harness.results.summarize import summarize_run
from harness.run.orchestrate import trial_order
from reports.render import render_report
from tests.conftest import cli_in_process

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
SYSTEMS = ("baseline", "cqrs")


def make_trials(directory: Path, factors: tuple[float, ...] = (1.0, 1.03, 0.97)) -> Path:
    """A run of ``len(factors)`` trials: trial k is the fixture with latencies x factors[k]."""
    directory.mkdir(parents=True)
    run = json.loads((FIXTURE / "run.json").read_text())
    order = [f"{system}/{k}" for k in range(1, len(factors) + 1) for system in SYSTEMS]
    run["trials"] = {"count": len(factors), "order": order}
    (directory / "run.json").write_text(json.dumps(run))
    for system in SYSTEMS:
        for k, factor in enumerate(factors, start=1):
            target = directory / system / f"trial-{k}"
            shutil.copytree(FIXTURE / system, target)
            for requests in target.glob("requests-*.csv"):
                frame = pd.read_csv(requests, dtype={"kind": "string"})
                frame["latency_us"] = (frame["latency_us"] * factor).round().astype(int)
                frame.to_csv(requests, index=False)
    write_summary(directory, summarize_run(directory))
    return directory


@pytest.fixture(scope="module")
def trials_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trials(tmp_path_factory.mktemp("trials") / "run")


def test_trials_are_interleaved_abba_in_an_order_fixed_by_the_seed() -> None:
    order = trial_order(["baseline", "cqrs"], 4, seed=42)
    first, second = order[0][0], order[1][0]
    assert [name for name, _ in order] == [first, second, second, first] * 2
    assert [trial for _, trial in order] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert trial_order(["baseline", "cqrs"], 4, seed=42) == order  # the seed fixes it
    seeds = {tuple(trial_order(["a", "b", "c"], 2, seed)[:3]) for seed in range(20)}
    assert len(seeds) > 1  # and another seed may start another way
    assert trial_order(["baseline", "cqrs"], 1, seed=7) == [("baseline", 1), ("cqrs", 1)]


def test_trial_directories_and_the_single_trial_layout(trials_run: Path) -> None:
    assert trial_dirs(FIXTURE, "cqrs") == [FIXTURE / "cqrs"]
    assert [d.name for d in trial_dirs(trials_run, "cqrs")] == ["trial-1", "trial-2", "trial-3"]


def test_summary_of_trials_holds_each_trial_its_median_and_an_interval(trials_run: Path) -> None:
    single = read_summary(FIXTURE)
    summary = read_summary(trials_run)
    assert summary.trial_count == 3
    assert summary.trials is not None
    assert summary.trials.order[:2] == ("baseline/1", "cqrs/1")
    path = "cqrs.storm.checkout.p95_ms"
    found = summary.trials.metrics[path]
    base = single.metrics()[path]
    assert base is not None
    assert found.values[0] == base
    assert found.values[1] == pytest.approx(base * 1.03, abs=0.002)
    assert found.values[2] == pytest.approx(base * 0.97, abs=0.002)
    assert found.median == found.values[0]  # the middle trial: a value one trial measured
    assert summary.metrics()[path] == found.median  # the summary's own value is the median
    assert found.low is not None
    assert found.high is not None
    assert found.low < found.median < found.high
    # a percentile no trial could give stays absent, never a number
    p99 = summary.trials.metrics["cqrs.storm.checkout.p99_ms"]
    assert p99.values == (None, None, None)
    assert p99.median is None
    assert summary.systems["cqrs"].phases["storm"].endpoints["checkout"].p99_ms is None
    assert "p99_ms" in summary.systems["cqrs"].phases["storm"].endpoints["checkout"].insufficient
    # ratios per trial, summarized the same way
    ratio = summary.trials.ratios["storm.checkout.p95_ms.baseline_over_cqrs"]
    assert len(ratio.values) == 3
    assert summary.ratios["storm.checkout.p95_ms.baseline_over_cqrs"] == ratio.median
    # the single-trial keys are all still there; trials are added
    assert set(single.metrics()) <= set(summary.metrics())
    assert Summary.from_json(summary.to_json()) == summary
    assert "trials" not in single.to_json()


def test_compare_runs_of_trials_judges_by_the_variation_across_trials(
    trials_run: Path, tmp_path: Path
) -> None:
    same = compare_runs(trials_run, trials_run)
    assert same["method"] == stats.TRIALS_METHOD
    assert same["beyond"] == 0
    slower = make_trials(tmp_path / "slower", (1.5, 1.53, 1.47))
    report = compare_runs(trials_run, slower)
    rows = {row["metric"]: row for row in report["metrics"]}
    row = rows["cqrs.steady.checkout.p50_ms"]
    assert row["verdict"] == stats.BEYOND
    assert row["method"] == stats.TRIALS_METHOD
    assert row["change"] == pytest.approx(0.5, abs=0.01)
    assert row["low"] < 0.5 < row["high"]
    assert rows["cqrs.steady.checkout.p99_ms"]["verdict"] == stats.UNKNOWN


def test_one_trial_against_trials_uses_the_block_bootstrap(trials_run: Path) -> None:
    report = compare_runs(FIXTURE, trials_run, only=["cqrs.steady.checkout.p50_ms"])
    assert report["method"] == stats.BOOTSTRAP_METHOD
    (row,) = report["metrics"]
    assert row["verdict"] == stats.WITHIN


def test_a_trend_over_runs(trials_run: Path, tmp_path: Path, bench_home: Path) -> None:
    slower = make_trials(tmp_path / "slower", (1.5, 1.53, 1.47))
    path = "cqrs.steady.checkout.p50_ms"
    trend = compare_trend([FIXTURE, trials_run, slower], [path])
    points = trend["series"][path]
    assert [p["trials"] for p in points] == [1, 3, 3]
    assert points[0]["low"] is not None  # one trial: a block-bootstrap interval of the value
    assert [step["rows"][0]["verdict"] for step in trend["steps"]] == [
        stats.WITHIN,
        stats.BEYOND,
    ]
    plot = tmp_path / "trend.png"
    page = tmp_path / "trend.html"
    result = cli_in_process(
        bench_home,
        "compare",
        str(FIXTURE),
        str(trials_run),
        str(slower),
        "--metric",
        path,
        "--plot",
        str(plot),
        "--html",
        str(page),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert result.json()["metrics"] == [path]
    assert plot.stat().st_size > 5_000
    assert "data:image/png;base64," in page.read_text()


def test_gates_can_require_trials_and_regressions_use_the_trials(
    trials_run: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "gates.toml"
    rules.write_text(
        'min_trials = 3\nrules = []\n[regression]\nmetrics = ["checkout.p50_ms"]\n'
        'phases = ["steady"]\n'
    )
    single = run_gates(GateConfig(FIXTURE, rules))
    needed = next(r for r in single["rules"] if r["name"].startswith("this run has"))
    assert needed["passed"] is False
    assert "--repeat 3" in needed["detail"]
    slower = make_trials(tmp_path / "slower", (1.5, 1.53, 1.47))
    result = run_gates(GateConfig(slower, rules, baseline_run=trials_run))
    regressed = next(
        r for r in result["rules"] if r["name"].endswith("cqrs.steady.checkout.p50_ms")
    )
    assert regressed["passed"] is False
    same = run_gates(GateConfig(trials_run, rules, baseline_run=trials_run))
    assert same["passed"] is True
    bad = tmp_path / "bad.toml"
    bad.write_text("min_trials = 0\nrules = []\n")
    with pytest.raises(Exception, match="min_trials must be a positive integer"):
        run_gates(GateConfig(trials_run, bad))


def test_the_report_shows_the_trials(trials_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trials_run, run)
    written = render_report(run)
    page = written["html"].read_text()
    assert "<h2>Trials</h2>" in page
    assert "trial 3" in page
    assert (run / "plots" / "trials.png").stat().st_size > 5_000
    assert "Trials: each trial" in page
    markdown = (run / "report.md").read_text()
    assert "## Trials" in markdown
    assert "(plots/trials.png)" in markdown
