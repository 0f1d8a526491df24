"""A work directory (or dataset cache) someone else owns or can write to is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.errors import BadInput
from harness.core.paths import check_home
from tests.conftest import cli_in_process

OTHER_UID = 54_321


def test_a_home_someone_else_owns_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chown(home, OTHER_UID, -1)
    with pytest.raises(BadInput, match="owned by uid 54321"):
        check_home(home)
    result = cli_in_process(home, "status")
    assert result.returncode == 2
    assert "owned by uid 54321" in result.stderr


def test_a_home_others_can_write_to_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(BadInput, match="others can write"):
        check_home(home)


def test_a_home_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "home").symlink_to(target)
    with pytest.raises(BadInput, match="symbolic link"):
        check_home(tmp_path / "home")


def test_a_planted_datasets_symlink_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (tmp_path / "victim").mkdir(mode=0o700)
    (home / "datasets").symlink_to(tmp_path / "victim")
    with pytest.raises(BadInput, match="symbolic link"):
        check_home(home)
    assert (tmp_path / "victim").stat().st_mode & 0o777 == 0o700  # not chmodded through


def test_a_home_of_our_own_is_fine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "datasets").mkdir(mode=0o755)
    check_home(home)
    check_home(tmp_path / "not-yet")  # made later, by us
