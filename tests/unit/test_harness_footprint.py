"""The harness's own footprint: the recorder counts its CPU, run.json keeps it typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results import ResultsFileError
from harness.results.model import HarnessFootprint
from scenarios.recorder import FOOTPRINT_PREFIX, Recorder


def test_recorder_writes_its_cpu_and_rows_beside_the_records(tmp_path: Path) -> None:
    recorder = Recorder.to_file(tmp_path)
    for i in range(2_000):
        recorder.record(float(i), "steady", "checkout", 1_000, True, "", 200)
    recorder.close()
    [written] = tmp_path.glob(f"{FOOTPRINT_PREFIX}*.json")
    found = json.loads(written.read_text())
    assert found["rows"] == 2_000
    assert found["cpu_seconds"] > 0


def test_footprint_sums_the_recorders_and_gives_a_share_of_one_core() -> None:
    footprint = HarnessFootprint.measured(
        seconds=10.0,
        orchestrator_cpu_s=0.5,
        sampler={"cpu_seconds": 0.2, "db_queries": 20, "db_query_seconds": 0.03},
        recorders=[{"cpu_seconds": 0.1, "rows": 100}, {"cpu_seconds": 0.2, "rows": 50}],
    )
    assert footprint.recorded_rows == 150
    assert footprint.recorder_cpu_s == pytest.approx(0.3)
    assert footprint.pct_of_one_core == pytest.approx(10.0)
    assert HarnessFootprint.from_json(footprint.to_json()) == footprint


def test_no_recorder_footprint_is_absent_not_zero() -> None:
    footprint = HarnessFootprint.measured(
        seconds=10.0,
        orchestrator_cpu_s=0.5,
        sampler={"cpu_seconds": 0.2, "db_queries": 0, "db_query_seconds": 0.0},
        recorders=[],
    )
    assert footprint.recorder_cpu_s is None
    assert footprint.pct_of_one_core is None
    assert footprint.to_json()["pct_of_one_core"] is None


def test_a_footprint_with_a_wrong_value_is_refused() -> None:
    data = HarnessFootprint.measured(
        seconds=1.0,
        orchestrator_cpu_s=0.1,
        sampler={"cpu_seconds": 0.1, "db_queries": 1, "db_query_seconds": 0.01},
        recorders=[{"cpu_seconds": 0.1, "rows": 1}],
    ).to_json()
    data["sampler_cpu_s"] = "lots"
    with pytest.raises(ResultsFileError, match="sampler_cpu_s"):
        HarnessFootprint.from_json(data)
