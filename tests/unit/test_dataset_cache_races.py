"""Dataset cache: a finished build is never taken for an abandoned one; odd owner records
do not crash anyone (portable COPY files: no PostgreSQL needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.core.paths import datasets_dir
from harness.core.processes import ProcessIdentity
from harness.seed import datasets
from harness.seed.datasets import DatasetKind, clean_abandoned_builds, ensure_dataset
from harness.seed.spec import DatasetSpec

SMALL = DatasetSpec(users=20, products=10, orders=50, seed=3)


def test_a_slow_final_sync_does_not_let_another_command_delete_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    removed_meanwhile: list[str] = []

    def slow_sync() -> None:
        # another command's housekeeping runs while this one syncs a long build
        for building in datasets_dir(tmp_path).glob(".building-*"):
            os.utime(building, (0, 0))
        removed_meanwhile.extend(clean_abandoned_builds(tmp_path))

    monkeypatch.setattr(datasets.os, "sync", slow_sync)
    result = ensure_dataset(tmp_path, SMALL, DatasetKind.COPY_FILES)
    assert removed_meanwhile == []
    assert result.dataset.path.is_dir()
    assert not (result.dataset.path / "owner.json").exists()


@pytest.mark.parametrize(
    "record",
    [{"pid": None, "create_time": 1.0}, {"pid": "x"}, {"pid": 1}, {"pid": -5, "create_time": 1}],
)
def test_an_owner_record_without_a_usable_pid_crashes_nothing(
    tmp_path: Path, record: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="process identity"):
        ProcessIdentity.from_json(record)
    building = datasets_dir(tmp_path) / ".building-x-1"
    building.mkdir(parents=True)
    (building / "owner.json").write_text(json.dumps(record))
    os.utime(building, (0, 0))
    assert clean_abandoned_builds(tmp_path) == [building.name]
