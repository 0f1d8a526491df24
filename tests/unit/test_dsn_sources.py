"""DSNs and target URLs from a file or the environment, so no password shows in ``ps``.

Each command below fails on purpose at a port where nothing listens (port 9 or
19): its error names the port, which shows which DSN it used. Nothing starts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import cli_in_process

WITH_PASSWORD = "postgresql://shop:hunter2@127.0.0.1:9/shop"
OTHER = "postgresql://shop:hunter2@127.0.0.1:19/shop"
WARNING = "has a password on the command line"


def secret_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def test_a_password_typed_on_the_command_line_is_warned_about(bench_home: Path) -> None:
    result = cli_in_process(
        bench_home, "verify", "--write-dsn", WITH_PASSWORD, "--read-dsn", OTHER, "--timeout", "0"
    )
    assert result.returncode == 3, result.stderr
    assert "--write-dsn has a password on the command line" in result.stderr
    assert "--read-dsn has a password on the command line" in result.stderr
    assert "$CQRS_BENCH_WRITE_DSN" in result.stderr
    assert "hunter2" not in result.stderr


def test_at_path_reads_the_dsn_from_a_file_without_a_warning(
    bench_home: Path, tmp_path: Path
) -> None:
    write = secret_file(tmp_path, "write", WITH_PASSWORD)
    read = secret_file(tmp_path, "read", OTHER)
    result = cli_in_process(
        bench_home, "verify", "--write-dsn", f"@{write}", "--read-dsn", f"@{read}", "--json"
    )
    assert result.returncode == 3, result.stderr
    # the DSNs in the files were used (whichever side it tried first)
    assert re.search(r"port 1?9 failed", result.stderr), result.stderr
    assert WARNING not in result.stderr


def test_the_environment_gives_the_dsns_without_a_warning(
    bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CQRS_BENCH_WRITE_DSN", OTHER)
    monkeypatch.setenv("CQRS_BENCH_READ_DSN", WITH_PASSWORD)
    result = cli_in_process(bench_home, "rebuild")
    assert result.returncode == 3, result.stderr
    assert re.search(r"port 1?9 failed", result.stderr), result.stderr
    assert WARNING not in result.stderr


def test_named_dsns_come_from_a_file_or_the_environment(
    bench_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = secret_file(tmp_path, "db", WITH_PASSWORD)
    from_file = cli_in_process(bench_home, "pg", "--dsn", f"db=@{path}", "--for", "0")
    assert from_file.returncode == 3, from_file.stderr
    assert "'db' does not answer" in from_file.stderr
    assert "port 9 failed" in from_file.stderr
    assert WARNING not in from_file.stderr

    typed = cli_in_process(bench_home, "pg", "--dsn", f"db={WITH_PASSWORD}", "--for", "0")
    assert "--dsn has a password on the command line" in typed.stderr

    monkeypatch.setenv("CQRS_BENCH_DSN", f"db={OTHER}")
    from_env = cli_in_process(bench_home, "pg", "--for", "0")
    assert from_env.returncode == 3, from_env.stderr
    assert "port 19 failed" in from_env.stderr
    assert WARNING not in from_env.stderr


def test_a_target_url_with_a_password_is_warned_about(bench_home: Path, tmp_path: Path) -> None:
    typed = cli_in_process(
        bench_home, "run", "--target", "theirs=http://bench:hunter2@127.0.0.1:9", "--systems", "x"
    )
    assert typed.returncode == 2
    assert "--target has a password on the command line" in typed.stderr
    path = secret_file(tmp_path, "target", "http://bench:hunter2@127.0.0.1:9")
    from_file = cli_in_process(bench_home, "run", "--target", f"theirs=@{path}", "--systems", "x")
    assert from_file.returncode == 2
    assert WARNING not in from_file.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "--write-dsn", "@/nonexistent/dsn", "--read-dsn", "x"], "cannot read"),
        (["pg", "--dsn", "db=@/nonexistent/dsn", "--for", "0"], "cannot read"),
    ],
)
def test_an_unreadable_file_is_one_clear_line(
    bench_home: Path, args: list[str], message: str
) -> None:
    result = cli_in_process(bench_home, *args)
    assert result.returncode == 2
    assert f"error: {args[1]}: {message} /nonexistent/dsn" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_file_is_refused(bench_home: Path, tmp_path: Path) -> None:
    empty = secret_file(tmp_path, "empty", "")
    result = cli_in_process(bench_home, "verify", "--write-dsn", f"@{empty}", "--read-dsn", "x")
    assert result.returncode == 2
    assert "is empty" in result.stderr


@pytest.mark.parametrize("command", ["verify", "rebuild", "pg", "up", "run"])
def test_the_help_says_where_else_a_password_can_come_from(bench_home: Path, command: str) -> None:
    result = cli_in_process(bench_home, command, "--help")
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "@PATH is read from that file" in text
    assert "env var: CQRS_BENCH_" in text
