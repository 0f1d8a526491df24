"""The rendered report opens in a real browser (headless Chromium) without console errors;
its per-endpoint table is there and its charts answer hover and zoom."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.results.endpoint_table import endpoint_table
from harness.results.files import read_summary
from reports.interactive import LEFT, PLOT_W
from reports.render import render_report
from tests.browser import CHROMIUM, CHROMIUM_FLAGS

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("report") / "run-smoke"
    shutil.copytree(FIXTURE, target)
    return render_report(target)["html"]


def chromium(page: str, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console(browser: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in browser.stderr.splitlines() if "CONSOLE" in line]


def test_report_opens_in_headless_chromium_without_console_errors(
    report: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "report.png"
    browser = chromium(report.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    assert shot.exists(), browser.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    assert console(browser) == []


def test_the_page_holds_the_endpoint_table_and_its_charts_zoom(
    report: Path, tmp_path: Path
) -> None:
    # #zoom=FROM,TO runs the page's own zoom on load; the DOM after the script shows it
    browser = chromium(report.as_uri() + "#zoom=10,30", tmp_path / "profile", "--dump-dom")
    assert console(browser) == []
    dom = browser.stdout
    for row in endpoint_table(read_summary(FIXTURE)).rows:
        assert "".join(f"<td>{c}</td>" for c in row) in dom
    charts = re.findall(r'<svg class="chart" id="chart-([a-z_]+)"[^>]*>', dom)
    assert charts == ["checkout_latency", "dashboard_customers_latency", "cpu"]
    assert dom.count('data-view="10.00,30.00"') == len(charts)
    # every point says what it is on hover
    points = re.findall(r'<circle class="point"[^>]*>(.*?)</circle>', dom)
    assert len(points) > 100
    assert all(re.fullmatch(r"<title>.+ at [\d,]+ s: [\d,.]+ .+</title>", p) for p in points)
    # the zoom moved the points: t seconds now sit at (t - 10) / 20 of the plot's width
    chart = re.search(r'<svg class="chart" id="chart-checkout_latency".*?</svg>', dom, re.S)
    assert chart is not None
    placed = [
        (float(t), float(x))
        for t, x in re.findall(r'<circle class="point" data-t="([\d.]+)" cx="([\d.]+)"', chart[0])
    ]
    inside = [(t, x) for t, x in placed if 10 <= t <= 30]
    assert len(inside) > 10
    for t, x in inside:
        assert x == pytest.approx(LEFT + PLOT_W * (t - 10) / 20, abs=0.2)
