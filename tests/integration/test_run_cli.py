"""`cqrs-bench run` end to end on a tiny profile, its interruption, and its result files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.core.paths import stacks_dir
from harness.core.polling import wait_until
from harness.results.files import read_requests, read_summary
from harness.results.model import ENDPOINTS
from tests.conftest import cluster_dirs, run_cli
from tests.shopdata import TINY, TINY_ARGS

TINY_RUN = [
    "--profile",
    "smoke",
    *TINY_ARGS,
    "--steady",
    "4",
    "--storm",
    "6",
    "--recovery",
    "4",
    "--rate",
    "10",
    "--admins",
    "4",
    "--shoppers",
    "3",
]


def _descendants_alive(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter() if _started_by(p, pid)]


def _started_by(proc: psutil.Process, pid: int) -> bool:
    try:
        return any(parent.pid == pid for parent in proc.parents())
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_ctrl_c_stops_everything_and_marks_the_run_incomplete(
    session_home: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "CQRS_BENCH_HOME": str(session_home)}
    runner = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", *TINY_RUN, "--out", str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: any(tmp_path.glob("*/baseline/requests-*.csv")),
            timeout=120,
            what="the run to start driving load",
            give_up=lambda: None if runner.poll() is None else f"it exited ({runner.returncode})",
        )
        children = [p for p in psutil.Process(runner.pid).children(recursive=True)]
        assert children
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=120) != 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []
    (run_dir,) = list(tmp_path.iterdir())
    assert json.loads((run_dir / "run.json").read_text())["status"] == "incomplete"
    assert not (run_dir / "summary.json").exists()
    assert cluster_dirs(session_home) == []
    assert list(stacks_dir(session_home).iterdir()) == []


@pytest.mark.slow
def test_tiny_run_writes_the_run_directory_and_summary(session_home: Path, tmp_path: Path) -> None:
    result = run_cli(session_home, "run", *TINY_RUN, "--out", str(tmp_path), "--json", timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = result.json()
    run_dir = Path(str(payload["run_dir"]))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["systems"] == ["baseline", "cqrs"]
    assert run["seed"] == TINY.seed
    assert {"python", "locust", "postgresql"} <= set(run["versions"])
    assert run["machine"]["cores"] >= 1
    assert "git_sha" in run
    summary = read_summary(run_dir).to_json()
    assert summary["schema_version"] == 1
    assert isinstance(summary["valid"], bool)
    for system, components in (
        ("baseline", {"db", "app", "locust"}),
        ("cqrs", {"write", "read", "projector", "app", "locust"}),
    ):
        phases = summary["systems"][system]["phases"]
        assert set(phases) == {"steady", "storm", "recovery"}
        for phase, entry in phases.items():
            checkout = entry["endpoints"]["checkout"]
            assert {
                "count",
                "ok",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "max_ms",
                "throughput_rps",
                "error_rate",
                "errors",
            } <= set(checkout)
            assert set(checkout["errors"]) == {
                "timeout",
                "http_4xx",
                "http_5xx",
                "connection",
                "dropped",
                "recovery_conflict",
            }
            assert checkout["count"] > 0
            assert set(entry["endpoints"]) <= set(ENDPOINTS)
            assert {"offered_rps", "achieved_rps", "dropped", "schedule_lag_p99_ms"} <= set(
                entry["checkout_driver"]
            )
            assert components <= set(entry["cpu_pct"]), (system, phase, entry["cpu_pct"])
            if phase == "storm":
                assert "dashboard_customers" in entry["endpoints"]
        if system == "cqrs":
            assert {"p50", "p99", "max"} <= set(phases["steady"]["projection_lag_ms"])
    assert "storm.checkout.p50_ms.baseline_over_cqrs" in summary["ratios"]
    # the summary's counts are the per-request records, exactly: every scheduled arrival
    records = read_requests(run_dir / "baseline")
    steady = records[(records["phase"] == "steady") & (records["name"] == "checkout")]
    assert summary["systems"]["baseline"]["phases"]["steady"]["endpoints"]["checkout"][
        "count"
    ] == len(steady)
    # both systems received the same traffic, and every arrival is accounted for
    systems = summary["systems"]
    assert systems["baseline"]["traffic_fingerprint"] is not None
    assert systems["baseline"]["traffic_fingerprint"] == systems["cqrs"]["traffic_fingerprint"]
    for system in ("baseline", "cqrs"):
        for entry in systems[system]["phases"].values():
            for driver in (entry["checkout_driver"], entry["reports_driver"]):
                recorded = sum(driver[k] for k in ("answered", "failed", "timed_out", "dropped"))
                assert driver["scheduled"] == recorded
    storm_reports = {
        system: systems[system]["phases"]["storm"]["reports_driver"]["scheduled"]
        for system in ("baseline", "cqrs")
    }
    assert storm_reports["baseline"] == storm_reports["cqrs"] > 0
    for entry in systems["cqrs"]["phases"].values():
        assert entry["projection_lag_ms"]["unprojected"] == 0
    for raw in ("resources.csv", "db_activity.csv", "locust_stats.csv", "plan.json"):
        assert (run_dir / "baseline" / raw).exists()
    assert (run_dir / "cqrs" / "projection.csv").exists()
    # Locust's own HTML report beside each system's records, linked from ours
    page = (run_dir / "report.html").read_text()
    for system in ("baseline", "cqrs"):
        assert "locust" in (run_dir / system / "locust.html").read_text().lower()
        assert f'<a href="{system}/locust.html">{system}</a>' in page
    assert cluster_dirs(session_home) == []
