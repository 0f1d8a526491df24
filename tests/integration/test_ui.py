"""`cqrs-bench ui`: the Locust web UI loads in headless Chromium and a swarm records requests."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from harness.core.polling import wait_until
from harness.profiles import load_profile
from harness.results.files import read_requests
from tests.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.conftest import cluster_dirs
from tests.shopdata import TINY


def _form_fields(dom: str) -> dict[str, str]:
    """The start form's fields by name: each input's value, each select's chosen option."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", dom):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        if "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
    for name, options in re.findall(r'<select\b[^>]*name="(\w+)"[^>]*>(.*?)</select>', dom, re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected', options)
        fields[name] = html.unescape(chosen[0]) if chosen else ""
    return fields


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_web_ui_loads_and_a_swarm_records_requests(session_home: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    env = {**os.environ, "CQRS_BENCH_HOME": str(session_home)}
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "ui",
            "--system",
            "cqrs",
            "--profile",
            "smoke",
            "--out",
            str(tmp_path),
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert ui.stdout is not None
        info = json.loads(ui.stdout.readline())
        page_dir = tmp_path / "chromium"
        shot = tmp_path / "ui.png"
        browser = subprocess.run(
            [
                CHROMIUM,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={page_dir}",
                f"--screenshot={shot}",
                info["ui"],
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shot.exists(), browser.stderr[-2000:]
        assert shot.stat().st_size > 10_000
        console_errors = [
            line
            for line in browser.stderr.splitlines()
            if "CONSOLE" in line
            and ("Uncaught" in line or "ERROR" in line.upper().split("CONSOLE")[0])
        ]
        assert console_errors == []
        dom = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={page_dir}", "--dump-dom", info["ui"]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout
        assert "Locust" in dom
        # the start page opens on the plan's numbers, not "0 users, ramp-up 0"
        plan = load_profile("smoke")
        fields = _form_fields(dom)
        assert fields["userCount"] == str(plan.shoppers + 1) == str(info["users"])
        assert fields["spawnRate"] == "100"
        assert fields["runTime"] == f"{plan.steady_s + plan.storm_s + plan.recovery_s:.0f}"
        assert fields["checkoutRate"] == f"{plan.checkout_rate:g}"  # the custom parameter
        assert "Checkout Rate" in dom

        started = httpx.post(
            f"{info['ui']}/swarm", data={"user_count": 5, "spawn_rate": 5}, timeout=10
        )
        assert started.json()["success"] is True
        record_dir = Path(info["record_dir"])
        wait_until(
            lambda: any(record_dir.glob("requests-*.csv")) and len(read_requests(record_dir)) >= 20,
            timeout=30,
            what="the swarm to record 20 requests",
        )
        records = read_requests(record_dir)
        assert "checkout" in set(records["name"])
        children = psutil.Process(ui.pid).children(recursive=True)
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=60)
        if ui.stdout is not None:
            ui.stdout.close()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []
    assert cluster_dirs(session_home) == []
    assert TINY.orders > 0  # the session's tiny dataset stays cached for the other tests
