from __future__ import annotations

from pathlib import Path

from tests.conftest import cli_in_process


def test_doctor_json_names_the_binaries(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    postgres = report["checks"]["postgres"]  # type: ignore[index]
    assert postgres["ok"] is True
    assert Path(postgres["initdb"]).name == "initdb"
    assert Path(postgres["postgres"]).is_file()
    assert postgres["version"].split(".")[0].isdigit()
    assert report["providers"]["local"] is True  # type: ignore[index]


def test_doctor_human_output_goes_to_stderr(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "doctor")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "postgres" in result.stderr


def test_doctor_exits_3_when_no_provider_can_work(bench_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    for tool in ("initdb", "postgres"):
        (empty / tool).write_text("#!/bin/sh\nexit 1\n")
    # --pg-bin-dir pointing at broken binaries is bad input, not a missing provider
    result = cli_in_process(bench_home, "doctor", "--pg-bin-dir", str(empty))
    assert result.returncode in (2, 3)
    assert len(result.stderr.strip().splitlines()) == 1


def test_version_and_help(bench_home: Path) -> None:
    assert cli_in_process(bench_home, "--version").stdout.startswith("cqrs-bench ")
    help_text = cli_in_process(bench_home, "pg", "--help").stdout
    assert "Example:" in help_text
