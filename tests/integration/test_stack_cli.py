"""`up`, `status` and `down` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from harness.core.paths import stacks_dir
from tests.conftest import cluster_dirs, run_cli
from tests.shopdata import TINY_ARGS


@pytest.mark.slow
def test_up_status_down_leaves_nothing(bench_home: Path) -> None:
    up = run_cli(bench_home, "up", "--system", "baseline", *TINY_ARGS, "--json")
    assert up.returncode == 0, up.stderr
    info = up.json()
    assert info["system"] == "baseline"
    assert set(info["databases"]) == {"db"}  # type: ignore[arg-type]
    assert str(info["databases"]["db"]).startswith("postgresql://postgres:")  # type: ignore[index]
    pids = dict(info["pids"])  # type: ignore[call-overload]
    assert set(pids) == {"app", "db"}
    assert httpx.get(f"{info['url']}/health").json()["status"] == "ok"
    family = [psutil.Process(pid) for pid in pids.values()]
    family += [child for proc in family for child in proc.children(recursive=True)]

    again = run_cli(bench_home, "up", "--system", "baseline", *TINY_ARGS)
    assert again.returncode == 3
    assert "already up" in again.stderr

    status = run_cli(bench_home, "status", "--json").json()
    assert [(s["system"], s["healthy"]) for s in status["stacks"]] == [("baseline", True)]  # type: ignore[union-attr,index]

    down = run_cli(bench_home, "down")
    assert down.returncode == 0
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    assert cluster_dirs(bench_home) == []
    assert list(stacks_dir(bench_home).iterdir()) == []
    assert run_cli(bench_home, "status", "--json").json() == {"stacks": []}


@pytest.mark.slow
def test_calibrate_checkout_prints_both_latencies_and_the_ratio(session_home: Path) -> None:
    result = run_cli(
        session_home,
        "calibrate",
        "checkout",
        "--rate",
        "10",
        "--seconds",
        "4",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = result.json()
    for side in ("app", "pgbench"):
        assert report[side]["count"] >= 20  # type: ignore[index]  (pgbench -R arrivals are Poisson)
        assert report[side]["p50_ms"] > 0  # type: ignore[index]
        # a p99 from a few dozen samples would not be true: none is given
        assert report[side]["p99_ms"] is None  # type: ignore[index]
    assert report["overhead_ratio_p99"] is None
    ratio = report["app"]["p50_ms"] / report["pgbench"]["p50_ms"]  # type: ignore[index]
    assert report["overhead_ratio_p50"] == pytest.approx(ratio, rel=0.01)
