"""`down` and the reaper act on records only when the record tells the truth.

A record (a cluster's ``owner.json``, a stack's ``stack.json``) naming a live
process that is not the server or service it claims is left alone; a path
outside the work directory is never removed. Records without a usable pid
crash nothing. (A ``sleep`` stands in for "somebody else's process".)
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.paths import clusters_dir, stacks_dir
from harness.core.processes import ProcessIdentity
from harness.providers.local import ClusterRecord, reap_orphans
from harness.stack.stacks import STATE_FILE, down, reap_dead_stacks, running_stacks
from tests.conftest import cli_in_process

# an owner that is surely gone: pid 1 never started at this time
DEAD_OWNER = {"pid": 1, "create_time": 1.0}


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """Somebody else's process, which a forged record names."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _identity(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    return ProcessIdentity.of(proc.pid).to_json()


def _stack_record(home: Path, **fields: object) -> Path:
    directory = stacks_dir(home) / "baseline-forged"
    directory.mkdir(parents=True)
    payload = {
        "system": "baseline",
        "url": "",
        "databases": {},
        "pids": {},
        "processes": {},
        "cluster_dirs": {},
        "containers": {},
        "owner": None,
        "dataset": "",
        **fields,
    }
    (directory / STATE_FILE).write_text(json.dumps(payload))
    return directory


def test_the_reaper_does_not_signal_a_process_that_is_not_the_cluster_server(
    tmp_path: Path, bystander: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = clusters_dir(tmp_path) / "db-forged"
    directory.mkdir(parents=True)
    record = {"name": "db", "port": 5432, "owner": DEAD_OWNER, "server": _identity(bystander)}
    (directory / "owner.json").write_text(json.dumps(record))

    assert reap_orphans(tmp_path) == []
    assert bystander.poll() is None  # not signalled
    assert directory.is_dir()  # its record is kept, so the refusal is said again
    said = capsys.readouterr().err
    assert f"left pid {bystander.pid} alone" in said
    assert "not postgres" in said or "runs as uid" in said


def test_down_does_not_signal_a_process_that_is_not_the_stack_service(
    tmp_path: Path, bystander: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack_record(tmp_path, processes={"app": _identity(bystander)})

    assert down(tmp_path, None) == ["baseline"]
    assert bystander.poll() is None
    assert f"left pid {bystander.pid} alone" in capsys.readouterr().err
    assert not stack.exists()  # the harness's own directory is removed


def test_down_removes_no_path_outside_the_work_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    sneaky = clusters_dir(home) / ".." / ".." / "victim"
    clusters_dir(home).mkdir(parents=True)
    _stack_record(home, cluster_dirs={"db": str(victim), "read": str(sneaky)})

    assert down(home, None) == ["baseline"]
    assert (victim / "precious").read_text() == "keep me"
    said = capsys.readouterr().err
    assert f"refused to remove {victim}: not a cluster directory" in said
    assert running_stacks(home) == []


def test_a_dead_stack_is_reaped_without_touching_what_its_record_wrongly_names(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    _stack_record(
        tmp_path / "home",
        owner=DEAD_OWNER,
        processes={"projector": _identity(bystander)},
        cluster_dirs={"db": str(victim)},
    )
    assert reap_dead_stacks(tmp_path / "home") == ["baseline-forged"]
    assert bystander.poll() is None
    assert victim.is_dir()


def test_only_direct_entries_of_the_root_reached_through_no_link_are_ours(tmp_path: Path) -> None:
    from harness.core.processes import within

    root = tmp_path / "clusters"
    (root / "db-1").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    assert within(root / "db-1", root)
    assert not within(root / "link", root)
    assert not within(root / ".." / "clusters", root)
    assert not within(tmp_path, root)
    assert not within(Path("clusters/db-1"), root)


@pytest.mark.parametrize("pid", [None, "1", -3, 0])
def test_records_without_a_usable_pid_crash_no_command(tmp_path: Path, pid: object) -> None:
    cluster = clusters_dir(tmp_path) / "db-odd"
    cluster.mkdir(parents=True)
    owner = {"pid": pid, "create_time": 1.0}
    (cluster / "owner.json").write_text(
        json.dumps({"name": "db", "port": 1, "owner": owner, "server": owner})
    )
    _stack_record(tmp_path, owner=owner, processes={"app": owner})
    assert ClusterRecord.read(cluster) is None
    for command in (["status"], ["down"]):
        result = cli_in_process(tmp_path, *command)
        assert result.returncode == 0, result.stderr
