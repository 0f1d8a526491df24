"""`up` stopped while it starts leaves nothing running and nothing recorded.

The command runs as a real subprocess and is signalled once a cluster of its
stack runs (or once its projector has started). Stopped by SIGTERM or Ctrl-C,
it stops what it started itself; killed (SIGKILL), the next command's reaper
does. Afterwards no process it started remains (every one of them carries the
work directory in its environment), and neither ``down`` nor the reaper finds
anything left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.core.paths import clusters_dir, stacks_dir
from harness.core.polling import wait_until
from harness.core.processes import ProcessIdentity
from harness.stack.housekeeping import clean_up_after_dead_runs
from harness.stack.stacks import running_stacks
from tests.conftest import cluster_dirs, run_cli
from tests.shopdata import TINY_ARGS


def _serving_cluster(home: Path, name: str) -> int | None:
    """The pid of cluster ``name``'s server once its record names a live one (it may not
    accept connections yet)."""
    for directory in cluster_dirs(home):
        try:
            record = json.loads((directory / "owner.json").read_text())
        except (OSError, ValueError):
            continue
        if record.get("name") == name and record.get("server"):
            server = ProcessIdentity.from_json(record["server"])
            if server.alive():
                return server.pid
    return None


def _projector_started(home: Path) -> bool:
    return any(stacks_dir(home).glob("*/logs/projector.log"))


def _started_by(home: Path) -> list[psutil.Process]:
    """Every live process whose environment names ``home``: what the command started."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("CQRS_BENCH_HOME") == str(home) and proc.pid != os.getpid():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("moment", "sig"),
    [
        ("write", signal.SIGTERM),
        ("projector", signal.SIGINT),
        ("read", signal.SIGKILL),  # its server runs; up has not recorded it in stack.json yet
        ("projector", signal.SIGKILL),
    ],
)
def test_up_stopped_during_start_up_leaks_nothing(
    session_home: Path, moment: str, sig: signal.Signals
) -> None:
    home = session_home
    # the dataset is built (or found) first, so that the signal falls in the stack's start
    run_cli(home, "seed", *TINY_ARGS, check=True)
    assert _started_by(home) == []
    up = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "up", "--system", "cqrs", *TINY_ARGS],
        env={**os.environ, "CQRS_BENCH_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        probe = (
            (lambda: _projector_started(home))
            if moment == "projector"
            else (lambda: _serving_cluster(home, moment))
        )
        wait_until(probe, timeout=90, what=f"{moment} to start", max_interval=0.01)
        # frozen at that moment, so the signal cannot come after the stack is complete
        up.send_signal(signal.SIGSTOP)
        assert up.poll() is None, "up finished before it could be interrupted"
        assert not any(s.url for s in running_stacks(home)), "the stack was complete already"
        started = _started_by(home)
        assert started, "nothing to leak: the signal came too early"
        up.send_signal(sig)
        up.send_signal(signal.SIGCONT)
        _, stderr = up.communicate(timeout=120)
        if sig is signal.SIGKILL:
            assert up.returncode == -9
            reaped = run_cli(home, "status")  # any command: the reaper runs first
            assert "left by a dead run" in reaped.stderr, reaped.stderr
            assert "alone" not in reaped.stderr, reaped.stderr
        else:
            assert up.returncode == 130, stderr
        _, alive = psutil.wait_procs(started, timeout=5)
        assert [proc.cmdline() for proc in alive] == []
        assert _started_by(home) == []
        assert [d.name for d in cluster_dirs(home) if (d / "owner.json").exists()] == []
        assert list(stacks_dir(home).iterdir()) == []
        assert clean_up_after_dead_runs(home) == []
        assert "nothing was up" in run_cli(home, "down").stderr
    finally:  # whatever happened, leave nothing to the tests after this one
        if up.poll() is None:
            up.kill()
            up.wait()
        run_cli(home, "down")
    assert clusters_dir(home).is_dir()
