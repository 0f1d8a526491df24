"""Result files of unknown versions, or truncated, are refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import BadInput
from harness.results.files import read_summary
from harness.results.model import ResultsFileError


def test_result_files_of_unknown_versions_or_truncated_are_refused(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(BadInput, match="schema version 99"):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text('{"schema_version": 1, "systems": {')
    with pytest.raises(BadInput, match="truncated or damaged"):
        read_summary(tmp_path)
    with pytest.raises(BadInput, match=r"no summary\.json"):
        read_summary(tmp_path / "nowhere")


def _share_record(index: int, count: int, scheduled: int) -> str:
    return json.dumps(
        {
            "driver": "checkout",
            "share": [index, count],
            "fingerprint": "f00d",
            "scheduled": {"steady": scheduled, "storm": 0, "recovery": 0},
            "in_flight_bound": 50,
        }
    )


def test_the_shares_of_a_split_schedule_add_up_and_none_may_be_missing(tmp_path: Path) -> None:
    from harness.results.summarize import _schedules

    (tmp_path / "schedule-checkout-1of2.json").write_text(_share_record(0, 2, 10))
    (tmp_path / "schedule-checkout-2of2.json").write_text(_share_record(1, 2, 11))
    both = _schedules(tmp_path)["checkout"]
    assert both["scheduled"] == {"steady": 21, "storm": 0, "recovery": 0}
    assert both["bound"] == 100
    (tmp_path / "schedule-checkout-2of2.json").unlink()
    with pytest.raises(ResultsFileError, match="share is missing or doubled"):
        _schedules(tmp_path)
    (tmp_path / "schedule-checkout-again.json").write_text(_share_record(0, 2, 10))
    with pytest.raises(ResultsFileError, match="announcements are 1 of 2, 1 of 2"):
        _schedules(tmp_path)
