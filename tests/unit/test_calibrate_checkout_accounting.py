"""calibrate checkout accounts for every request: successes, rejections, failures."""

from __future__ import annotations

from pathlib import Path

from harness.calibrate.checkout import DriveResult, read_pgbench_logs


def test_rejected_and_failed_requests_are_counted_and_enter_the_answered_percentiles() -> None:
    result = DriveResult(
        scheduled=60,
        latencies_ms=[1.0] * 20,
        rejected_ms=[50.0] * 25,
        failed_ms=[90.0] * 5,
        unanswered=10,
    )
    summary = result.summary()
    assert (summary["ok"], summary["rejected"], summary["failed"]) == (20, 25, 15)
    assert summary["ok"] + summary["rejected"] + summary["failed"] == summary["scheduled"]
    assert summary["p50_ms"] == 1.0  # successes alone
    assert summary["answered_p50_ms"] == 50.0  # every answer, whatever its status


def test_pgbench_failed_transactions_are_counted_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "log.1").write_text(
        "0 1 2150 0 1700000000 100 12\n"
        "0 2 failed 0 1700000000 200 15\n"
        "1 1 1830 0 1700000000 300 9\n"
        "1 2 skipped 0 1700000000 400 0\n"
    )
    found = read_pgbench_logs(tmp_path)
    assert found.latencies_ms == [2.15, 1.83]
    assert found.failed == 2
