from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from harness.core.paths import clusters_dir
from harness.providers.local import reap_orphans
from harness.stack.housekeeping import clean_up_after_dead_runs


def _reachable_home(prefix: str) -> Iterator[Path]:
    """A work directory PostgreSQL's unprivileged account can reach (not /root, not 0700)."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    home.chmod(0o755)
    yield home
    clean_up_after_dead_runs(home)
    reap_orphans(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def bench_home() -> Iterator[Path]:
    yield from _reachable_home("cqrs-bench-test-")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        data = json.loads(self.stdout)
        assert isinstance(data, dict)
        return data


def run_cli(home: Path, *args: str, timeout: float = 300, check: bool = False) -> CliResult:
    env = {**os.environ, "CQRS_BENCH_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    result = CliResult(proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"cqrs-bench {' '.join(args)} failed: {proc.stderr}")
    return result


def cli_in_process(home: Path, *args: str) -> CliResult:
    """``run_cli`` without a new interpreter, for commands that start nothing.

    The same entry point (``harness.cli.main``) with stdout and stderr captured
    apart and the exit code it ends with; it saves the 1-2 s each interpreter
    spends importing the harness. Commands that start servers, or tests that
    signal the process, use ``run_cli``.
    """
    from harness.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    sigterm, sigint = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    env = {"CQRS_BENCH_HOME": str(home), "COLUMNS": "200"}
    try:
        with (
            mock.patch.dict(os.environ, env),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    else:  # pragma: no cover - main always exits
        raise AssertionError("harness.cli.main returned instead of exiting")
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        signal.signal(signal.SIGINT, sigint)
    assert code is None or isinstance(code, int), code
    return CliResult(int(code or 0), stdout.getvalue(), stderr.getvalue())


def cluster_dirs(home: Path) -> list[Path]:
    root = clusters_dir(home)
    return sorted(root.iterdir()) if root.exists() else []


@pytest.fixture(scope="session")
def session_home() -> Iterator[Path]:
    """One work directory for the session's stacks, so the tiny dataset is built once."""
    yield from _reachable_home("cqrs-bench-session-")


# Fixtures that start real components (PostgreSQL clusters, app servers): a test
# using one is slow, and has no place in tests/unit.
REAL_COMPONENT_FIXTURES = frozenset({"local_provider", "session_home", "shop", "seeded"})
UNIT_DIR = Path(__file__).parent / "unit"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the layers honest: unit tests start nothing; what starts something is slow."""
    problems = []
    for item in items:
        slow = item.get_closest_marker("slow") is not None
        real = sorted(REAL_COMPONENT_FIXTURES.intersection(getattr(item, "fixturenames", ())))
        if item.path.is_relative_to(UNIT_DIR) and (slow or real):
            why = "is marked slow" if slow else f"uses {', '.join(real)}"
            problems.append(f"{item.nodeid} {why}: tests/unit starts nothing real")
        elif real and not slow:
            problems.append(f"{item.nodeid} uses {', '.join(real)} but is not marked slow")
    if problems:
        raise pytest.UsageError("tests in the wrong layer:\n  " + "\n  ".join(problems))
