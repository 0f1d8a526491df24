"""What the command line refuses before it starts anything: one line on stderr, exit 2 or 3.

These start no cluster, app or Locust; the commands that do are tested in
tests/integration.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil
import pytest

from harness.core.paths import datasets_dir
from tests.conftest import cli_in_process, cluster_dirs
from tests.shopdata import TINY_ARGS


def cache_entries(home: Path) -> list[str]:
    root = datasets_dir(home)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _postgres_processes_under(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(home) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["pg", "--provider", "cloud"], 2, "Invalid value for '--provider'"),
        (["pg", "--pg-setting", "work_mem"], 2, "malformed --pg-setting"),
        (["pg", "--pg-setting", "no such=1"], 2, "malformed --pg-setting"),
        (["pg", "--pg-setting", "work_mme=4MB"], 2, "unknown PostgreSQL setting(s): work_mme"),
        (["pg", "--pg-bin-dir", "/nonexistent/pg/bin"], 2, "does not exist"),
        (["doctor", "--pg-bin-dir", "/nonexistent/pg/bin"], 2, "does not exist"),
        (["pg", "--provider", "external"], 2, "needs at least one --dsn"),
        (["pg", "--dsn", "db"], 2, "malformed --dsn"),
    ],
)
def test_bad_input_is_one_line_and_starts_nothing(
    bench_home: Path, args: list[str], code: int, message: str
) -> None:
    result = (
        cli_in_process(bench_home, *args, "--for", "0")
        if args[0] == "pg"
        else cli_in_process(bench_home, *args)
    )
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    assert cluster_dirs(bench_home) == []
    assert _postgres_processes_under(bench_home) == []


def test_port_already_taken_is_an_environment_error(bench_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli_in_process(bench_home, "pg", "--port", str(port), "--for", "0")
    assert result.returncode == 3
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cluster_dirs(bench_home) == []
    assert _postgres_processes_under(bench_home) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--systems", "baseline,mongo"], "unknown system 'mongo'"),
        (["--systems", ""], "nothing to run"),
        (["--profile", "galactic"], "unknown profile"),
        (["--rate", "0"], "Invalid value for '--rate'"),
    ],
)
def test_bad_run_options_are_refused_before_anything_starts(
    bench_home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli_in_process(bench_home, "run", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "0"], "--orders must be a positive number"),
        (["--users", "-5"], "--users must be a positive number"),
        (["--products", "3"], "fewer than the 6 distinct products"),
        (["--profile", "huge"], "unknown profile 'huge'"),
    ],
)
def test_bad_counts_are_refused_and_nothing_is_cached(
    bench_home: Path, args: list[str], message: str
) -> None:
    result = cli_in_process(bench_home, "seed", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cache_entries(bench_home) == []
    assert cluster_dirs(bench_home) == []


def test_unwritable_cache_directory_is_a_clear_error(bench_home: Path) -> None:
    not_a_dir = bench_home / "file"
    not_a_dir.write_text("")
    result = cli_in_process(not_a_dir, "seed", *TINY_ARGS)
    assert result.returncode == 2
    assert "dataset cache directory" in result.stderr
    assert "is not writable" in result.stderr


def test_dataset_json_listing_is_valid_when_empty(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "datasets", "list", "--json")
    assert json.loads(result.stdout) == {"datasets": []}


def test_rm_unknown_dataset_is_bad_input(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "datasets", "rm", "nope")
    assert result.returncode == 2
    assert "no dataset 'nope'" in result.stderr


def test_verify_without_a_stack_is_a_clear_error(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "verify")
    assert result.returncode == 2
    assert "no cqrs or cqrs-samedb stack is running" in result.stderr


@pytest.mark.parametrize("master", ["", "host:port", "[::1", "10.0.0.5:0"])
def test_a_worker_refuses_a_master_that_is_not_host_port(bench_home: Path, master: str) -> None:
    result = cli_in_process(bench_home, "worker", "--master", master)
    assert result.returncode == 2
    assert "is not HOST[:PORT]" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--expect-workers", "2"], "exclude each other"),
        (["--expect-workers", "2", "--master-bind", "10.0.0.5:99999"], "is not HOST[:PORT]"),
        (["--expect-workers", "2", "--master-bind", "a b"], "is not HOST[:PORT]"),
    ],
)
def test_bad_distributed_options_are_refused_before_anything_starts(
    bench_home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli_in_process(bench_home, "run", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []
