"""Dataset cache: a finished build is never taken for an abandoned one; odd owner records
do not crash anyone; an entry being copied is not removed under the copy (portable COPY
files: no PostgreSQL needed)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentProblem
from harness.core.paths import datasets_dir
from harness.core.processes import ProcessIdentity
from harness.seed import datasets
from harness.seed.datasets import (
    MANIFEST,
    Dataset,
    DatasetKind,
    clean_abandoned_builds,
    ensure_dataset,
    reading_dataset,
    remove_dataset,
)
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


def _a_copy_file(dataset: Dataset) -> tuple[Path, tuple[int, bytes]]:
    path = next(p for p in sorted(dataset.path.iterdir()) if p.name != MANIFEST)
    return path, (path.stat().st_ino, path.read_bytes())


@pytest.mark.parametrize("removal", ["rebuild", "rm"])
def test_an_entry_being_copied_is_not_removed_under_the_copy(tmp_path: Path, removal: str) -> None:
    dataset = ensure_dataset(tmp_path, SMALL, DatasetKind.COPY_FILES).dataset
    path, before = _a_copy_file(dataset)
    remove: Callable[[], object] = {
        "rebuild": lambda: ensure_dataset(tmp_path, SMALL, DatasetKind.COPY_FILES, rebuild=True),
        "rm": lambda: remove_dataset(tmp_path, dataset.id),
    }[removal]
    # the old file stays open, so its inode cannot be reused by the new entry's file
    with path.open("rb") as old:
        with reading_dataset(dataset) as held:  # another command copying it, as `up` does
            assert held == dataset
            remover = threading.Thread(target=remove)
            remover.start()
            remover.join(timeout=1.0)
            assert remover.is_alive()  # it waits for the copy to end
            assert (path.stat().st_ino, path.read_bytes()) == before
        remover.join(timeout=30)
        assert not remover.is_alive()
        assert os.fstat(old.fileno()).st_nlink == 0  # the old entry is gone
    if removal == "rebuild":
        assert path.stat().st_ino != before[0]  # a new entry, built after the copy ended
    else:
        assert not dataset.path.exists()
    assert not list(datasets_dir(tmp_path).glob(".removing-*"))


def test_a_command_whose_entry_was_removed_meanwhile_says_so(tmp_path: Path) -> None:
    dataset = ensure_dataset(tmp_path, SMALL, DatasetKind.COPY_FILES).dataset
    remove_dataset(tmp_path, dataset.id)
    with (
        pytest.raises(EnvironmentProblem, match="removed by another command"),
        reading_dataset(dataset),
    ):
        pass


def test_a_removal_cut_short_is_cleaned_up(tmp_path: Path) -> None:
    leftover = datasets_dir(tmp_path) / ".removing-x-1"
    (leftover / "data").mkdir(parents=True)
    clean_abandoned_builds(tmp_path)
    assert not leftover.exists()
