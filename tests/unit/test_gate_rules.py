"""Gate rules on the fixture's summary through the model: absolute, ratio, wildcard, absent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import BadInput
from harness.results.files import write_summary
from harness.results.gates.evaluate import DEFAULT_GATES, GateConfig, run_gates
from harness.results.gates.rules import Outcome, evaluate_rule, load_gates, lookup, parse_rule
from harness.results.model import Summary

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
RAW: dict[str, Any] = json.loads((FIXTURE / "summary.json").read_text())
SUMMARY = Summary.from_json(RAW)
SYSTEMS = set(SUMMARY.systems)


def check(text: str, summary: Summary = SUMMARY) -> Outcome:
    return evaluate_rule(parse_rule(text, 1, SYSTEMS), summary)


def with_value(path: str, value: float) -> Summary:
    """The fixture's summary with one value set, by its gate path."""
    data = copy.deepcopy(RAW)
    system, phase, *rest = path.split(".")
    node = data["systems"][system]["phases"][phase]
    if rest[0] not in node:
        node = node["endpoints"]
    for key in rest[:-1]:
        node = node[key]
    node[rest[-1]] = value
    return Summary.from_json(data)


@pytest.mark.parametrize(
    ("rule", "passed", "measured"),
    [
        ("cqrs.storm.checkout.p95_ms < 250", True, "11.713"),
        ("cqrs.storm.checkout.p95_ms < 11.713", False, "11.713"),
        ("cqrs.storm.checkout.p95_ms <= 11.713", True, "11.713"),
        ("baseline.storm.checkout.p95_ms >= 126.169", True, "126.169"),
        ("baseline.storm.checkout.p95_ms > 126.169", False, "126.169"),
        ("baseline.storm.cpu_pct.db.mean > 50", True, "79.7"),
        ("cqrs.storm.cpu_pct.write.max < 8", False, "8.7"),
        ("cqrs.storm.checkout.errors.timeout <= 0", True, "0"),
        ("baseline.steady.checkout_driver.offered_rps >= 19", True, "19.45"),
        ("baseline.storm.checkout_driver.dispatched_late > 0", False, "0"),
        ("cqrs.storm.checkout.count > 0", True, "611"),
    ],
)
def test_absolute_rules(rule: str, passed: bool, measured: str) -> None:
    result = check(rule)
    assert (result.passed, result.measured) == (passed, measured)
    assert result.limit == rule.split(" ", 1)[1]
    assert (result.detail == "") is passed


def test_a_failing_absolute_rule_says_by_how_much() -> None:
    assert check("cqrs.storm.checkout.p95_ms < 10").detail == "cqrs.storm: 11.713 is not < 10"


@pytest.mark.parametrize(
    ("rule", "passed", "measured"),
    [
        ("baseline.storm.checkout.p95_ms / baseline.steady.checkout.p95_ms > 3", True, "11.7138"),
        ("cqrs.storm.checkout.p95_ms / cqrs.steady.checkout.p95_ms < 2", True, "1.03527"),
        ("baseline.storm.checkout.p95_ms / cqrs.storm.checkout.p95_ms > 20", False, "10.7717"),
        ("baseline.storm.cpu_pct.db.mean / cqrs.storm.cpu_pct.write.mean > 10", True, "13.9825"),
    ],
)
def test_ratio_rules(rule: str, passed: bool, measured: str) -> None:
    result = check(rule)
    assert (result.passed, result.measured) == (passed, measured)


def test_wildcard_phase_needs_every_phase() -> None:
    rule = "cqrs.*.checkout.p95_ms < 11.5"
    result = check(rule)
    assert result.passed is False
    assert result.measured == "cqrs.steady=11.314, cqrs.storm=11.713, cqrs.recovery=10.85"
    assert result.detail == "cqrs.storm: 11.713 is not < 11.5"
    assert check(rule, with_value("cqrs.storm.checkout.p95_ms", 11.4)).passed is True


def test_wildcard_system_needs_every_system() -> None:
    result = check("*.storm.checkout.p95_ms < 100")
    assert result.passed is False
    assert result.detail == "baseline.storm: 126.169 is not < 100"
    assert "cqrs.storm=11.713" in result.measured


def test_wildcards_in_a_ratio_pair_each_system_and_phase_with_itself() -> None:
    result = check("*.*.checkout.throughput_rps / *.*.checkout_driver.achieved_rps <= 1")
    assert result.passed is True
    assert result.measured == ", ".join(
        f"{system}.{phase}=1"
        for system in ("baseline", "cqrs")
        for phase in ("steady", "storm", "recovery")
    )


@pytest.mark.parametrize(
    ("rule", "label", "detail"),
    [
        (
            "cqrs.steady.dashboard_customers.p50_ms < 100",
            "cqrs.steady",
            "cqrs.steady.dashboard_customers.p50_ms: no value in this run",
        ),
        (
            "baseline.storm.projection_lag_ms.p99 < 1000",
            "baseline.storm",
            "baseline.storm.projection_lag_ms.p99: no value in this run",
        ),
        (
            "cqrs.storm.cpu_pct.db.mean < 50",
            "cqrs.storm",
            "cqrs.storm.cpu_pct.db.mean: no value in this run",
        ),
        # a zero denominator is no basis for a ratio
        (
            "cqrs.storm.checkout.p50_ms / cqrs.storm.checkout.errors.http_5xx < 1",
            "cqrs.storm",
            "cqrs.storm: the divisor is 0",
        ),
    ],
)
def test_a_metric_the_run_does_not_hold_fails_the_rule(rule: str, label: str, detail: str) -> None:
    result = check(rule)
    assert result.passed is False
    assert result.measured == f"{label}=n/a"
    assert result.detail == detail


def test_a_percentile_from_too_few_samples_fails_the_rule_and_says_so() -> None:
    storm = SUMMARY.systems["cqrs"].phases["storm"].endpoints["checkout"]
    assert storm.count < 1000  # the fixture's storm phase: a few hundred checkouts
    assert storm.p99_ms is None
    assert "p99_ms" in storm.insufficient
    result = check("cqrs.storm.checkout.p99_ms < 1000")
    assert result.passed is False
    assert result.detail == (
        f"cqrs.storm.checkout.p99_ms: insufficient samples for p99_ms ({storm.count}, "
        "it needs 1000)"
    )


def test_lookup_resolves_paths_through_the_flattened_metrics() -> None:
    metrics = SUMMARY.metrics()
    for path in (
        "cqrs.storm.checkout.p99_ms",
        "baseline.storm.cpu_pct.db.mean",
        "cqrs.recovery.projection_lag_ms.max",
        "baseline.steady.checkout.errors.http_5xx",
        "cqrs.steady.checkout_driver.target_rps",
    ):
        system, phase, *rest = path.split(".")
        assert lookup(SUMMARY, system, phase, tuple(rest)) == metrics[path]
    assert lookup(SUMMARY, "cqrs", "storm", ("checkout", "p42_ms")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cqrs.storm.checkout.p99 < 250",
            "line 1: 'cqrs.storm.checkout.p99': unknown metric 'p99' (known: count, error_rate, "
            "max_ms, ok, p50_ms, p90_ms, p95_ms, p99_9_ms, p99_ms, request_rps, "
            "throughput_rps, errors.<kind>)",
        ),
        ("cqrs.storm.checkout.errors.oops < 1", "unknown metric 'errors.oops'"),
        ("cqrs.storm.cpu_pct.db.median < 1", "cpu_pct paths are cpu_pct.<component>.mean|max"),
        ("cqrs.storm.projection_lag_ms.p95 < 1", "projection_lag_ms.p50|p99|max"),
        (
            "cqrs.storm.checkout_driver.lag < 1",
            "checkout_driver.achieved_rps|answered|dispatched_late|dropped|failed"
            "|in_flight_bound|offered_rps|schedule_lag_p99_ms|scheduled|target_rps|timed_out",
        ),
        ("cqrs.storm.seconds < 1", "unknown metric 'seconds'"),
        ("mongo.storm.checkout.p99_ms < 1", "unknown system 'mongo' (in this run: baseline, cqrs)"),
    ],
)
def test_paths_the_summary_cannot_hold_are_refused(text: str, message: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_rule(text, 1, SYSTEMS)
    assert message in str(info.value)


def test_the_default_gates_pass_on_the_fixture() -> None:
    gates = load_gates(DEFAULT_GATES, SYSTEMS)
    outcomes = [evaluate_rule(rule, SUMMARY) for rule in gates.rules]
    assert [o.name for o in outcomes if not o.passed] == []
    assert len(outcomes) == 9


def test_run_gates_reads_the_summary_through_the_model(tmp_path: Path) -> None:
    rules = tmp_path / "gates.toml"
    rules.write_text('rules = ["cqrs.storm.checkout.p95_ms < 15"]\n')
    run = tmp_path / "run"
    run.mkdir()
    write_summary(run, with_value("cqrs.storm.checkout.p95_ms", 12.5))
    result = run_gates(GateConfig(run, rules))
    assert result["passed"] is True
    assert result["rules"][0]["measured"] == "12.5"
    write_summary(run, with_value("cqrs.storm.checkout.p95_ms", 15))
    assert run_gates(GateConfig(run, rules))["passed"] is False


def test_regression_without_records_cannot_claim_noise(tmp_path: Path) -> None:
    rules = tmp_path / "gates.toml"
    rules.write_text(
        'rules = []\n[regression]\nmetrics = ["checkout.p95_ms"]\nphases = ["storm"]\n'
    )
    saved, current = tmp_path / "saved", tmp_path / "current"
    saved.mkdir()
    current.mkdir()
    write_summary(saved, with_value("cqrs.storm.checkout.p95_ms", 100))
    write_summary(current, with_value("cqrs.storm.checkout.p95_ms", 150))
    result = run_gates(GateConfig(current, rules, baseline_run=saved))
    regressed = next(r for r in result["rules"] if r["name"].endswith("cqrs.storm.checkout.p95_ms"))
    assert regressed["passed"] is False
    assert regressed["detail"] == (
        "150 > 110 (100 + 10%); the noise is unknown (too few samples, trials or records)"
    )
    unchanged = next(r for r in result["rules"] if r["name"].startswith("regression: baseline"))
    assert unchanged["passed"] is True


def test_a_regression_on_a_percentile_with_too_few_samples_fails_and_says_so(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "gates.toml"
    rules.write_text(
        'rules = []\n[regression]\nmetrics = ["checkout.p99_ms"]\nphases = ["storm"]\n'
    )
    saved, current = tmp_path / "saved", tmp_path / "current"
    for run in (saved, current):
        run.mkdir()
        write_summary(run, SUMMARY)
    result = run_gates(GateConfig(current, rules, baseline_run=saved))
    outcome = next(r for r in result["rules"] if r["name"].endswith("cqrs.storm.checkout.p99_ms"))
    assert outcome["passed"] is False
    assert "this run: insufficient samples for p99_ms (611, it needs 1000)" in outcome["detail"]
