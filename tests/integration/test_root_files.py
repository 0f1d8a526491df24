"""As root, the harness writes nothing where PostgreSQL's account could plant a link.

A cluster's directory (its ownership record, its log) stays root's; only
``data/`` belongs to the server's account, and what is written inside it is
written by that account. A link planted where the old code wrote as root
(``postgres.log``, ``data/pg_hba.conf``) is not followed: its target is untouched.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.core.accounts import unprivileged_user
from harness.core.errors import EnvironmentProblem
from harness.providers.local import LocalCluster, LocalProvider

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the server's account differs only as root")
SECRET = "root's secret\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of root's that a planted link points at."""
    path = tmp_path / "victim"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def _untouched(victim: Path) -> None:
    info = victim.stat()
    assert victim.read_text() == SECRET
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o600)


def _planting(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    plant: Callable[[LocalCluster, dict[str, Any]], None],
    *,
    after: bool = False,
) -> None:
    """Run ``plant`` (what the server's account could do) just before or after ``method``."""
    original = getattr(LocalCluster, method)

    def wrapped(self: LocalCluster, *args: Any, **kwargs: Any) -> Any:
        if not after:
            plant(self, kwargs)
        result = original(self, *args, **kwargs)
        if after:
            plant(self, kwargs)
        return result

    monkeypatch.setattr(LocalCluster, method, wrapped)


@pytest.mark.slow
@as_root
def test_the_server_account_cannot_write_beside_its_data(local_provider: LocalProvider) -> None:
    account = unprivileged_user()
    with local_provider.cluster("db") as cluster:
        directory = cluster.directory
        info = directory.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o711)
        assert cluster.data_dir.stat().st_uid == account.pw_uid
        assert cluster.log_file.stat().st_uid == 0
        assert "database system is ready" in cluster.log_file.read_text()

        def as_server(path: Path) -> int:
            return subprocess.run(
                ["touch", str(path)], user=account.pw_uid, capture_output=True, check=False
            ).returncode

        assert as_server(directory / "owner.json.tmp") != 0
        assert as_server(directory / "postgres.log") != 0
        assert as_server(cluster.data_dir / "its-own-file") == 0


@pytest.mark.slow
def test_a_link_planted_as_the_server_log_is_not_followed(
    local_provider: LocalProvider, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plant(cluster: LocalCluster, _: dict[str, Any]) -> None:
        cluster.log_file.unlink(missing_ok=True)
        cluster.log_file.symlink_to(victim)

    _planting(monkeypatch, "_launch", plant)
    with (
        pytest.raises(EnvironmentProblem, match="cannot open the server log"),
        local_provider.cluster("db"),
    ):
        pass
    _untouched(victim)


@pytest.mark.slow
@as_root
def test_a_link_planted_as_pg_hba_conf_is_not_followed_by_root(
    local_provider: LocalProvider, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plant(cluster: LocalCluster, kwargs: dict[str, Any]) -> None:
        if kwargs.get("what") == "initdb":  # right after initdb, before the harness's own lines
            hba = cluster.data_dir / "pg_hba.conf"
            hba.unlink()
            hba.symlink_to(victim)

    _planting(monkeypatch, "_run", plant, after=True)
    with (
        pytest.raises(EnvironmentProblem, match=r"writing pg_hba\.conf failed"),
        local_provider.cluster("db"),
    ):
        pass
    _untouched(victim)
