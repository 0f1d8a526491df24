"""summary.json and run.json through the model: golden, round trip, validation, flattened metrics."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import BadInput, ExitCode
from harness.results import ResultsFileError
from harness.results.files import (
    read_requests,
    read_run_info,
    read_summary,
    write_run_info,
    write_summary,
)
from harness.results.model import RunInfo, Summary
from harness.results.summarize import summarize_run

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
SUMMARY_TEXT = (FIXTURE / "summary.json").read_text()
RUN_TEXT = (FIXTURE / "run.json").read_text()


def summary_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SUMMARY_TEXT)
    return data


def run_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RUN_TEXT)
    return data


def at(data: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The object holding the last key of a dotted path, and that key."""
    *parents, key = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    return node, key


# --- golden and round trips ----------------------------------------------------------------


def test_summarize_run_reproduces_the_committed_summary_exactly(tmp_path: Path) -> None:
    summary = summarize_run(FIXTURE)
    assert summary.to_json() == summary_json()
    write_summary(tmp_path, summary)
    assert (tmp_path / "summary.json").read_text() == SUMMARY_TEXT


def test_summary_round_trips_key_for_key_and_in_order() -> None:
    data = summary_json()
    again = Summary.from_json(copy.deepcopy(data)).to_json()
    assert again == data
    assert json.dumps(again, indent=2) == SUMMARY_TEXT


def test_run_info_round_trips_key_for_key_and_in_order() -> None:
    data = run_json()
    again = RunInfo.from_json(copy.deepcopy(data)).to_json()
    assert again == data
    assert json.dumps(again, indent=2) == RUN_TEXT


def test_integers_stay_integers() -> None:
    phase = Summary.from_json(summary_json()).systems["baseline"].phases["steady"]
    assert type(phase.seconds) is int
    assert type(phase.checkout_driver.target_rps) is int
    assert type(phase.endpoints["checkout"].count) is int


def test_projection_lag_is_optional_and_stays_absent() -> None:
    summary = Summary.from_json(summary_json())
    assert summary.systems["baseline"].phases["storm"].projection_lag_ms is None
    assert "projection_lag_ms" not in summary.to_json()["systems"]["baseline"]["phases"]["storm"]
    lag = summary.systems["cqrs"].phases["storm"].projection_lag_ms
    assert lag is not None
    # commit-to-commit lag of the storm's orders; too few of them for a p99
    assert (lag.p50, lag.p99, lag.max) == (4.797, None, 15.22)
    assert lag.unprojected == 0


def test_keys_added_by_a_later_version_are_read_past() -> None:
    data = summary_json()
    data["systems"]["cqrs"]["trials"] = [{"p99_ms": 3}]
    data["systems"]["cqrs"]["phases"]["storm"]["cpu_layout"] = {"db": [0]}
    assert Summary.from_json(data) == Summary.from_json(summary_json())


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, "1", None, True])
def test_summary_of_another_schema_version_is_refused(version: object) -> None:
    data = summary_json()
    data["schema_version"] = version
    with pytest.raises(ResultsFileError) as info:
        Summary.from_json(data, "runs/x/summary.json")
    assert str(info.value) == (
        f"runs/x/summary.json has schema version {version!r}; this cqrs-bench reads version 1"
    )


def test_summary_without_schema_version_or_not_an_object_is_refused() -> None:
    data = summary_json()
    del data["schema_version"]
    with pytest.raises(ResultsFileError, match="schema version None"):
        Summary.from_json(data)
    with pytest.raises(ResultsFileError, match="should hold a JSON object, found a list"):
        Summary.from_json([1, 2])


@pytest.mark.parametrize(
    "path",
    [
        "valid",
        "invalid_reasons",
        "ratios",
        "systems.cqrs.phase_windows",
        "systems.cqrs.phases.recovery",
        "systems.cqrs.phases.storm.seconds",
        "systems.cqrs.phases.storm.checkout_driver.dropped",
        "systems.baseline.phases.steady.endpoints.checkout.p99_ms",
        "systems.baseline.phases.steady.endpoints.checkout.errors",
        "systems.cqrs.phases.steady.cpu_pct.write.mean",
        "systems.cqrs.phases.steady.projection_lag_ms.p99",
    ],
)
def test_a_missing_key_is_refused_naming_the_file_and_the_key(path: str) -> None:
    data = summary_json()
    node, key = at(data, path)
    del node[key]
    with pytest.raises(ResultsFileError) as info:
        Summary.from_json(data, "runs/x/summary.json")
    assert str(info.value) == f"runs/x/summary.json: key {path} is missing"
    assert isinstance(info.value, BadInput)
    assert info.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("systems.cqrs.phases.storm.endpoints.checkout.p99_ms", "fast", "a number, found 'fast'"),
        ("systems.cqrs.phases.storm.endpoints.checkout.count", 1.5, "an integer, found 1.5"),
        ("systems.cqrs.phases.storm.cpu_pct.write.mean", True, "a number, found True"),
        ("systems.cqrs.phases.storm.endpoints.checkout.errors.timeout", None, "an integer"),
        ("valid", "yes", "true or false, found 'yes'"),
        ("invalid_reasons", "none", "a list of strings, found 'none'"),
        ("ratios.storm.cpu_pct.db_over_write", [1], "a number, found a list"),
        ("systems.cqrs.phases.storm.checkout_driver", 3, "an object, found 3"),
        ("systems.cqrs.phase_windows.storm", [1.0], "[start, end] in epoch seconds"),
    ],
)
def test_a_mistyped_value_is_refused_naming_the_file_and_the_key(
    path: str, value: object, expected: str
) -> None:
    data = summary_json()
    if path.startswith("ratios."):
        data["ratios"]["storm.cpu_pct.db_over_write"] = value
        path = "ratios.storm.cpu_pct.db_over_write"
    else:
        node, key = at(data, path)
        node[key] = value
    with pytest.raises(ResultsFileError) as info:
        Summary.from_json(data, "runs/x/summary.json")
    assert str(info.value).startswith(f"runs/x/summary.json: {path} should be ")
    assert expected in str(info.value)


@pytest.mark.parametrize("version", [2, None])
def test_run_json_of_another_schema_version_is_refused(version: object) -> None:
    data = run_json()
    data["schema_version"] = version
    with pytest.raises(ResultsFileError, match=f"schema version {version!r}; this cqrs-bench"):
        RunInfo.from_json(data, "runs/x/run.json")


@pytest.mark.parametrize("key", ["status", "systems", "plan", "machine", "systems_detail"])
def test_run_json_missing_a_key_is_refused(key: str) -> None:
    data = run_json()
    del data[key]
    with pytest.raises(ResultsFileError) as info:
        RunInfo.from_json(data, "runs/x/run.json")
    assert str(info.value) == f"runs/x/run.json: key {key} is missing"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("seed", "42", "runs/x/run.json: seed should be an integer"),
        ("systems", "baseline", "runs/x/run.json: systems should be a list of strings"),
        ("versions.numpy", 2, "runs/x/run.json: versions.numpy should be a string or null"),
        ("pg_settings.work_mem", 16, "runs/x/run.json: pg_settings.work_mem should be a string"),
        ("plan.phase_seconds", None, "runs/x/run.json: plan.phase_seconds should be an object"),
        ("plan.phase_seconds.storm", "30", "runs/x/run.json: plan.phase_seconds.storm should be"),
        ("plan.checkout_rate", None, "runs/x/run.json: plan.checkout_rate should be a number"),
        ("plan.surprise", 1, "runs/x/run.json: plan is not a load plan"),
    ],
)
def test_run_json_mistyped_is_refused(path: str, value: object, expected: str) -> None:
    data = run_json()
    node, key = at(data, path)
    node[key] = value
    with pytest.raises(ResultsFileError) as info:
        RunInfo.from_json(data, "runs/x/run.json")
    assert str(info.value).startswith(expected)


def test_run_json_keeps_unknown_keys_and_allows_no_finished_at() -> None:
    data = run_json()
    del data["finished_at"]
    data["cpu_layout"] = {"db": [0], "locust": [1]}
    info = RunInfo.from_json(data)
    assert info.finished_at is None
    assert info.extra == {
        "generator": data["generator"],
        "cpu_layout": {"db": [0], "locust": [1]},
    }
    assert info.to_json() == data
    assert list(info.to_json())[-1] == "cpu_layout"
    assert info.load_plan().checkout_rate == 20
    assert info.phase_seconds == {"steady": 20.0, "storm": 30.0, "recovery": 20.0}


# --- flattened metrics ---------------------------------------------------------------------


def numeric_leaves(data: dict[str, Any]) -> dict[str, float | None]:
    """Every number below a phase (null: not measured), by hand: the path without the fixed
    levels. Text (cpu_unavailable's reasons) and lists (insufficient's names) are no numbers."""
    found: dict[str, float | None] = {}

    def walk(node: object, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path if key == "endpoints" and len(path) == 2 else [*path, key])
        elif node is None or (isinstance(node, int | float) and not isinstance(node, bool)):
            found[".".join(path)] = None if node is None else float(node)

    for system, entry in data["systems"].items():
        for phase, values in entry["phases"].items():
            walk(values, [system, phase])
    return found


def test_metrics_hold_every_number_of_every_phase_and_nothing_else() -> None:
    data = summary_json()
    assert Summary.from_json(data).metrics() == numeric_leaves(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("baseline.storm.checkout.p95_ms", 126.169),
        ("baseline.storm.checkout.p99_ms", None),
        ("baseline.storm.cpu_pct.db.mean", 79.7),
        ("cqrs.storm.cpu_pct.write.max", 8.7),
        ("cqrs.storm.checkout.errors.timeout", 0.0),
        ("baseline.steady.checkout_driver.offered_rps", 19.45),
        ("cqrs.recovery.projection_lag_ms.max", 12.432),
        ("baseline.storm.dashboard_customers.p50_ms", 368.987),
    ],
)
def test_metric_paths_as_design_names_them(path: str, value: float | None) -> None:
    summary = Summary.from_json(summary_json())
    assert summary.metrics()[path] == value
    system, phase, *rest = path.split(".")
    assert summary.metric(system, phase, tuple(rest)) == summary.metrics()[path]


@pytest.mark.parametrize(
    "path",
    [
        "baseline.storm.projection_lag_ms.p99",
        "baseline.steady.dashboard_customers.p50_ms",
        "cqrs.storm.cpu_pct.db.mean",
        "mongo.storm.checkout.p99_ms",
        "cqrs.monday.checkout.p99_ms",
    ],
)
def test_absent_metrics_are_none(path: str) -> None:
    system, phase, *rest = path.split(".")
    summary = Summary.from_json(summary_json())
    assert path not in summary.metrics()
    assert summary.metric(system, phase, tuple(rest)) is None


# --- files ---------------------------------------------------------------------------------


def test_written_files_read_back_equal_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    summary = Summary.from_json(summary_json())
    info = RunInfo.from_json(run_json())
    (tmp_path / "summary.json").write_text("old")
    write_summary(tmp_path, summary)
    write_run_info(tmp_path, info)
    assert read_summary(tmp_path) == summary
    assert read_run_info(tmp_path) == info
    assert (tmp_path / "run.json").read_text() == RUN_TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "summary.json"]


def test_reading_missing_truncated_or_foreign_files_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"has no summary\.json \(an incomplete run\?\)"):
        read_summary(tmp_path)
    with pytest.raises(ResultsFileError, match=r"is not a run directory \(no run\.json\)"):
        read_run_info(tmp_path)
    (tmp_path / "summary.json").write_text(SUMMARY_TEXT[:300])
    with pytest.raises(ResultsFileError, match="truncated or damaged"):
        read_summary(tmp_path)
    data = summary_json()
    del data["systems"]["cqrs"]["phases"]["storm"]["checkout_driver"]["dropped"]
    (tmp_path / "summary.json").write_text(json.dumps(data))
    path = tmp_path / "summary.json"
    with pytest.raises(ResultsFileError) as info:
        read_summary(tmp_path)
    assert str(info.value) == (
        f"{path}: key systems.cqrs.phases.storm.checkout_driver.dropped is missing"
    )


def test_a_system_directory_without_records_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"holds no requests-\*\.csv"):
        read_requests(tmp_path)
    assert len(read_requests(FIXTURE / "cqrs")) == 3521
