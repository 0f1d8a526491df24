"""Result files of unknown versions, or truncated, are refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import BadInput
from harness.results.files import read_summary


def test_result_files_of_unknown_versions_or_truncated_are_refused(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(BadInput, match="schema version 99"):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text('{"schema_version": 1, "systems": {')
    with pytest.raises(BadInput, match="truncated or damaged"):
        read_summary(tmp_path)
    with pytest.raises(BadInput, match=r"no summary\.json"):
        read_summary(tmp_path / "nowhere")
