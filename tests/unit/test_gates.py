"""Gates: each rule kind on crafted summaries, malformed gate files, JUnit XML, the CLI."""

from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import BadInput
from harness.results.gates.evaluate import DEFAULT_GATES, GateConfig, run_gates
from tests.conftest import cli_in_process

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
BASE_SUMMARY: dict[str, Any] = json.loads((FIXTURE / "summary.json").read_text())


def make_run(directory: Path, tweak: dict[str, float] | None = None, valid: bool = True) -> Path:
    """A run directory holding only a summary.json, with values set by path."""
    summary = copy.deepcopy(BASE_SUMMARY)
    for path, value in (tweak or {}).items():
        system, phase, *rest = path.split(".")
        node = summary["systems"][system]["phases"][phase]
        if rest[0] not in node:
            node = node["endpoints"]
        for key in rest[:-1]:
            node = node[key]
        node[rest[-1]] = value
    summary["valid"] = valid
    summary["invalid_reasons"] = [] if valid else ["baseline/storm: the load generator saturated"]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory


def gates_file(directory: Path, body: str) -> Path:
    path = directory / "gates.toml"
    path.write_text(body)
    return path


def outcome(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in result["rules"] if r["name"] == name)


def test_absolute_rule_passes_and_fails(tmp_path: Path) -> None:
    rules = gates_file(tmp_path, 'rules = ["cqrs.storm.checkout.p99_ms < 250"]\n')
    good = run_gates(
        GateConfig(make_run(tmp_path / "good", {"cqrs.storm.checkout.p99_ms": 120}), rules)
    )
    bad = run_gates(
        GateConfig(make_run(tmp_path / "bad", {"cqrs.storm.checkout.p99_ms": 300}), rules)
    )
    assert outcome(good, "cqrs.storm.checkout.p99_ms < 250")["passed"] is True
    failed = outcome(bad, "cqrs.storm.checkout.p99_ms < 250")
    assert failed["passed"] is False
    assert failed["measured"] == "300"
    assert bad["passed"] is False


def test_wildcard_phase_needs_every_phase(tmp_path: Path) -> None:
    rules = gates_file(tmp_path, 'rules = ["cqrs.*.checkout.error_rate < 0.001"]\n')
    good = run_gates(GateConfig(make_run(tmp_path / "good"), rules))
    bad = run_gates(
        GateConfig(make_run(tmp_path / "bad", {"cqrs.recovery.checkout.error_rate": 0.2}), rules)
    )
    assert good["passed"] is True
    assert (
        "cqrs.recovery: 0.2 is not < 0.001"
        in outcome(bad, "cqrs.*.checkout.error_rate < 0.001")["detail"]
    )


def test_ratio_rule_between_systems(tmp_path: Path) -> None:
    rule = "baseline.storm.dashboard_customers.p50_ms / cqrs.storm.dashboard_customers.p50_ms > 50"
    rules = gates_file(tmp_path, f'rules = ["{rule}"]\n')
    fast = make_run(
        tmp_path / "fast",
        {
            "baseline.storm.dashboard_customers.p50_ms": 1000,
            "cqrs.storm.dashboard_customers.p50_ms": 10,
        },
    )
    slow = make_run(
        tmp_path / "slow",
        {
            "baseline.storm.dashboard_customers.p50_ms": 1000,
            "cqrs.storm.dashboard_customers.p50_ms": 100,
        },
    )
    assert outcome(run_gates(GateConfig(fast, rules)), rule)["measured"] == "100"
    assert outcome(run_gates(GateConfig(fast, rules)), rule)["passed"] is True
    assert outcome(run_gates(GateConfig(slow, rules)), rule)["passed"] is False


def test_regression_against_a_saved_run(tmp_path: Path) -> None:
    rules = gates_file(
        tmp_path,
        'rules = []\n[regression]\nmetrics = ["checkout.p99_ms"]\nmax_increase = 0.10\nphases = ["storm"]\n',
    )
    saved = make_run(tmp_path / "saved", {"cqrs.storm.checkout.p99_ms": 100})
    same = make_run(tmp_path / "same", {"cqrs.storm.checkout.p99_ms": 105})
    worse = make_run(tmp_path / "worse", {"cqrs.storm.checkout.p99_ms": 150})
    ok = run_gates(GateConfig(same, rules, baseline_run=saved))
    assert outcome(ok, "regression: cqrs.storm.checkout.p99_ms")["passed"] is True
    bad = run_gates(GateConfig(worse, rules, baseline_run=saved))
    regressed = outcome(bad, "regression: cqrs.storm.checkout.p99_ms")
    assert regressed["passed"] is False
    assert "150 > 110" in regressed["detail"]


def test_regression_within_measured_noise_passes(tmp_path: Path) -> None:
    """The same raw records in both runs: any growth of a summary value is within the noise."""
    rules = gates_file(
        tmp_path, 'rules = []\n[regression]\nmetrics = ["checkout.p95_ms"]\nphases = ["storm"]\n'
    )
    saved = tmp_path / "saved"
    shutil.copytree(FIXTURE, saved)
    current = tmp_path / "current"
    shutil.copytree(FIXTURE, current)
    summary = json.loads((current / "summary.json").read_text())
    summary["systems"]["cqrs"]["phases"]["storm"]["endpoints"]["checkout"]["p95_ms"] *= 1.2
    (current / "summary.json").write_text(json.dumps(summary))
    result = run_gates(GateConfig(current, rules, baseline_run=saved))
    regression = outcome(result, "regression: cqrs.storm.checkout.p95_ms")
    assert regression["passed"] is True
    assert "within run-to-run noise" in regression["detail"]


def test_invalid_run_fails_unless_allowed(tmp_path: Path) -> None:
    rules = gates_file(tmp_path, "rules = []\n")
    run = make_run(tmp_path / "run", valid=False)
    assert run_gates(GateConfig(run, rules))["passed"] is False
    assert run_gates(GateConfig(run, rules, allow_invalid=True))["passed"] is True
    allowing = gates_file(tmp_path / "run", "allow_invalid = true\nrules = []\n")
    assert run_gates(GateConfig(run, allowing))["passed"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'rules = [\n  "cqrs.storm.checkout.p99_ms < 250",\n  "cqrs.storm.checkout.p99 < 250",\n]\n',
            "line 3: 'cqrs.storm.checkout.p99': unknown metric 'p99'",
        ),
        (
            'rules = [\n  "cqrs.storm.checkout.p99_ms => 250",\n]\n',
            "line 2: 'cqrs.storm.checkout.p99_ms => 250' is not 'PATH OP NUMBER'",
        ),
        (
            'rules = [\n  "cqrs.storm.checkout.p99_ms == 250",\n]\n',
            "line 2: operator '==' is not one of",
        ),
        (
            'rules = [\n\n  "mongo.storm.checkout.p99_ms < 250",\n]\n',
            "line 3: unknown system 'mongo'",
        ),
        ('rules = ["cqrs.monday.checkout.p99_ms < 1"]\n', "line 1: unknown phase 'monday'"),
        ('rules = ["cqrs.storm.checkout.p99_ms < fast"]\n', "line 1: limit 'fast' is not a number"),
        ('rules = [\n  "cqrs.storm.checkout.p99_ms < 1",\n  oops\n]\n', "at line 3"),
        ("rules = []\nthreshold = 3\n", "line 2: unknown key 'threshold'"),
    ],
)
def test_malformed_gates_file_exits_2_naming_the_line(
    tmp_path: Path, bench_home: Path, body: str, message: str
) -> None:
    run = make_run(tmp_path / "run")
    path = gates_file(tmp_path, body)
    with pytest.raises(BadInput) as info:
        run_gates(GateConfig(run, path))
    assert message in str(info.value)
    result = cli_in_process(bench_home, "gate", str(run), "--config", str(path))
    assert result.returncode == 2
    assert message in result.stderr


def test_junit_has_one_testcase_per_rule_and_failures_carry_the_numbers(tmp_path: Path) -> None:
    rules = gates_file(
        tmp_path,
        'rules = ["cqrs.storm.checkout.p99_ms < 250", "cqrs.storm.checkout.p50_ms < 1"]\n',
    )
    junit = tmp_path / "gates.xml"
    markdown = tmp_path / "gates.md"
    run = make_run(
        tmp_path / "run", {"cqrs.storm.checkout.p99_ms": 120, "cqrs.storm.checkout.p50_ms": 7}
    )
    run_gates(GateConfig(run, rules, junit=junit, markdown=markdown))
    root = ET.parse(junit).getroot()  # noqa: S314 (our own output)
    assert root.tag == "testsuites"
    (suite,) = list(root)
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.attrib["tests"]) == 3  # two rules and the validity check
    assert int(suite.attrib["failures"]) == 1
    for case in cases:
        assert {"classname", "name"} <= set(case.attrib)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.attrib["name"] for c in failed] == ["cqrs.storm.checkout.p50_ms < 1"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "measured 7, limit < 1"
    assert "| `cqrs.storm.checkout.p50_ms < 1` | 7 | < 1 | **FAIL** |" in markdown.read_text()


def test_gate_cli_passes_the_default_gates_and_fails_an_impossible_one(
    tmp_path: Path, bench_home: Path
) -> None:
    passed = cli_in_process(
        bench_home, "gate", str(FIXTURE), "--json", "--junit", str(tmp_path / "j.xml")
    )
    assert passed.returncode == 0, passed.stderr
    assert passed.json()["passed"] is True
    assert DEFAULT_GATES.exists()
    impossible = gates_file(tmp_path, 'rules = ["cqrs.storm.checkout.p99_ms < 0.001"]\n')
    failed = cli_in_process(bench_home, "gate", str(FIXTURE), "--config", str(impossible))
    assert failed.returncode == 1
    assert "1 gate(s) failed" in failed.stderr
