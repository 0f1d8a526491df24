"""A config file and CQRS_BENCH_* variables drive a short smoke run; the command line wins.

The run's own log is what a CI job keeps (stderr not a terminal, 80 columns):
live progress as plain lines, and a summary that fits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shopdata import TINY

CONFIG = f"""\
# cqrs-bench.toml, found in the current directory
profile = "smoke"

[run]
systems = "baseline"
users = {TINY.users}
products = {TINY.products}
orders = {TINY.orders}
seed = {TINY.seed}
steady = 4
storm = 4
recovery = 4
admins = 2      # the command line says 3
rate = 50       # the environment says 8
"""


@pytest.mark.slow
def test_a_config_file_and_variables_drive_a_smoke_run(session_home: Path, tmp_path: Path) -> None:
    (tmp_path / "cqrs-bench.toml").write_text(CONFIG)
    # only the variables set here (CI exports others, e.g. CQRS_BENCH_DOCKER_IMAGE)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CQRS_BENCH_")}
    env = {
        **inherited,
        "CQRS_BENCH_HOME": str(session_home),
        "CQRS_BENCH_RUN_RATE": "8",
        "CQRS_BENCH_RUN_SHOPPERS": "2",
        "COLUMNS": "80",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--admins", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = list((tmp_path / "runs").iterdir())  # --out from the default, in the cwd
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["profile"] == "smoke"
    assert run["systems"] == ["baseline"]
    assert run["dataset"]["spec"]["orders"] == TINY.orders
    assert run["phases"] == {"steady": 4, "storm": 4, "recovery": 4}  # the file
    assert run["plan"]["checkout_rate"] == 8  # the environment over the file
    assert run["plan"]["shoppers"] == 2  # the environment
    assert run["plan"]["admins"] == 3  # the command line over the file
    settings = run["settings"]
    assert settings["config_file"] == str(tmp_path / "cqrs-bench.toml")
    assert settings["environment"] == ["CQRS_BENCH_RUN_RATE", "CQRS_BENCH_RUN_SHOPPERS"]
    assert settings["options"]["steady"] == "file"
    assert settings["options"]["rate"] == "environment"
    assert settings["options"]["admins"] == "command line"
    assert settings["options"]["profile"] == "file"  # a top-level key: every command's

    log = proc.stderr
    # live progress, as plain lines in a log: phase, clock, the offered rate
    progress = [line for line in log.splitlines() if "/12 s | checkouts/s offered 8" in line]
    assert progress, log[-3000:]
    # the summary fits 80 columns: names whole, one block per system
    summary = log[log.index(f"cqrs-bench run: {run_dir}") :].splitlines()[1:]  # its path: long
    assert max(len(line.rstrip()) for line in summary) <= 80
    summary_text = "\n".join(summary)
    assert "…" not in summary_text
    assert "baseline\n" in summary_text
    assert "recovery" in summary_text
