"""The rendered report opens in a real browser (headless Chromium) without console errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reports.render import render_report
from tests.browser import CHROMIUM, CHROMIUM_FLAGS

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    target = tmp_path / "run-smoke"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_report_opens_in_headless_chromium_without_console_errors(
    run_dir: Path, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    html_path = render_report(run_dir)["html"]
    shot = tmp_path / "report.png"
    browser = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), browser.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
