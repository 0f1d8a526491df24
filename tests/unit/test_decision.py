"""The decision section: verdicts computed from a run and the user's thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import BadInput
from harness.results.decision import (
    Thresholds,
    decide,
    decision_table,
    load_thresholds,
    thresholds_of,
)
from harness.results.files import read_run_info
from harness.results.summarize import summarize_run
from harness.stack.stacks import CacheSettings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"


def fixture_decisions(thresholds: Thresholds) -> dict[str, str]:
    run = read_run_info(FIXTURE)
    decisions = decide(summarize_run(FIXTURE), run.systems_detail, thresholds)
    return {d.system: d.verdict for d in decisions}


def test_a_baseline_within_the_slo_makes_cqrs_overkill() -> None:
    # the fixture's baseline checkout p95 in the storm is 126 ms
    verdicts = fixture_decisions(Thresholds(slo_ms=250))
    assert verdicts["baseline"].startswith("enough")
    assert verdicts["cqrs"].startswith("overkill")
    assert "+2 processes" in verdicts["cqrs"]


def test_a_tight_slo_makes_cqrs_the_fix_and_staleness_can_veto_it() -> None:
    verdicts = fixture_decisions(Thresholds(slo_ms=50))
    assert verdicts["baseline"].startswith("misses the SLO")
    assert verdicts["cqrs"].startswith("the cheapest fix: fixes it")
    # cqrs' projection lag reached 15 ms in the storm
    vetoed = fixture_decisions(Thresholds(slo_ms=50, max_staleness_ms=5))
    assert "too stale" in vetoed["cqrs"]


def test_the_table_shows_what_was_bought_and_what_it_cost() -> None:
    run = read_run_info(FIXTURE)
    table = decision_table(decide(summarize_run(FIXTURE), run.systems_detail, Thresholds()))
    rows = {row[0]: row for row in table.rows}
    assert rows["baseline"][3] == "none (reads its writes)"
    assert rows["cqrs"][1].endswith("x)")  # times faster than the baseline
    assert rows["baseline"][4] == "-"  # servers: not recorded by this older run, not 0


def test_thresholds_from_toml_and_options(tmp_path: Path) -> None:
    path = tmp_path / "decision.toml"
    path.write_text("[decision]\nslo_ms = 120\nmax_staleness_ms = 2000\n")
    assert load_thresholds(path) == Thresholds(120, 2000)
    assert load_thresholds(path, slo_ms=90) == Thresholds(90, 2000)
    assert thresholds_of({}) == Thresholds()
    assert thresholds_of({"decision": {"slo_ms": 99}}) == Thresholds(99, 10_000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[decision]\nslo = 1\n", "unknown decision threshold"),
        ("[decision]\nslo_ms = 'fast'\n", "should be a number"),
        ("[decision]\nslo_ms = 0\n", "must be above 0"),
        ("[other]\n", "no [decision] table"),
        ("not toml [", "is not TOML"),
    ],
)
def test_bad_decision_files_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "decision.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message.replace("[", r"\[")):
        load_thresholds(path)


def test_cache_settings_are_validated() -> None:
    with pytest.raises(BadInput, match="unknown cache refresh"):
        CacheSettings(refresh="sometimes").validated()
    with pytest.raises(BadInput, match="above 0"):
        CacheSettings(ttl_s=0).validated()
    assert CacheSettings(ttl_s=5, refresh="single-flight").env() == {
        "CQRS_BENCH_CACHE_TTL_S": "5",
        "CQRS_BENCH_CACHE_REFRESH": "single-flight",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cache-refresh", "sometimes"), "unknown cache refresh"),
        (("--redis-url", "http://x"), "malformed --redis-url"),
        (("--slo-ms", "0"), "--slo-ms"),
    ],
)
def test_run_refuses_bad_cache_and_decision_options(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    from tests.conftest import cli_in_process

    result = cli_in_process(tmp_path, "run", "--profile", "smoke", "--systems", "cache", *args)
    assert result.returncode == 2
    assert message in result.stderr
