"""Live progress: what it reads from a run's files, and the figures it shows (true or "-")."""

from __future__ import annotations

import csv
import json
import shutil
import time
from contextlib import closing
from pathlib import Path

import pytest

from harness.core.console import human
from harness.results.stats import percentile
from harness.run.live import RATE_WINDOW_S, RECORD_DELAY_S, LiveProgress, RunWatcher
from scenarios.plan import LoadPlan

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke" / "cqrs"
PLAN = LoadPlan.from_json(json.loads((FIXTURE / "plan.json").read_text()))
STARTED = float(json.loads(next(FIXTURE.glob("clock-*.json")).read_text())["started"])


def _rows() -> list[dict[str, str]]:
    with open(next(FIXTURE.glob("requests-*.csv"))) as handle:
        return list(csv.DictReader(handle))


def test_the_figures_are_those_of_the_records_and_samples() -> None:
    now = STARTED + PLAN.phase_seconds["steady"] + 20  # in the storm
    with closing(RunWatcher(FIXTURE, PLAN, ["write", "read"])) as watcher:
        shot = watcher.read(now)
    rows = _rows()
    assert shot.phase == "storm"
    assert shot.elapsed_s == pytest.approx(now - STARTED)
    assert shot.requests == len(rows)
    assert shot.errors == sum(row["ok"] == "0" for row in rows)
    checkouts = [r for r in rows if r["name"] == "checkout" and r["ok"] == "1"]
    storm = [int(r["latency_us"]) / 1000 for r in checkouts if r["phase"] == "storm"]
    assert len(storm) >= 200  # enough for a p95 ...
    assert shot.p95_ms == percentile(storm, 95)
    assert len(storm) < 1000  # ... and too few for a p99: absent, not a guess
    assert shot.p99_ms is None
    end = now - RECORD_DELAY_S - PLAN.timeout_s
    window = [r for r in checkouts if end - RATE_WINDOW_S <= float(r["ts"]) < end]
    assert shot.answered_rps == len(window) / RATE_WINDOW_S
    assert shot.answered_rps > 10  # the plan offers 20/s
    with open(FIXTURE / "resources.csv") as handle:
        last = {r["component"]: float(r["cpu_pct"]) for r in csv.DictReader(handle)}
    assert shot.db_cpu == {"write": last["write"], "read": last["read"]}
    assert shot.lag_ms is None  # the fixture keeps no lag samples
    line = shot.line()
    assert line.startswith("storm    40/70 s | checkouts/s offered 20 answered ")
    assert "p99 - ms (storm)" in line
    assert "lag - ms" in line


def test_before_the_clock_starts_and_with_no_records_nothing_is_made_up(tmp_path: Path) -> None:
    with closing(RunWatcher(tmp_path, PLAN, ["db"])) as watcher:
        shot = watcher.read()
    assert (shot.phase, shot.elapsed_s, shot.answered_rps, shot.p95_ms) == (
        "starting",
        None,
        None,
        None,
    )
    assert shot.line().startswith("starting -/70 s | checkouts/s offered 20 answered - |")


def test_only_complete_lines_are_read_and_each_once(tmp_path: Path) -> None:
    (tmp_path / "clock-1.json").write_text(json.dumps({"started": STARTED}))
    source = next(FIXTURE.glob("requests-*.csv")).read_text()
    target = tmp_path / "requests-1.csv"
    cut = len(source) // 2 + 7  # in the middle of a line
    target.write_text(source[:cut])
    with closing(RunWatcher(tmp_path, PLAN, [])) as watcher:
        first = watcher.read(STARTED + 10).requests
        assert first == source[:cut].count("\n") - 1  # the header and the partial line: out
        with open(target, "a") as handle:
            handle.write(source[cut:])
        assert watcher.read(STARTED + 10).requests == len(_rows())
        assert watcher.read(STARTED + 10).requests == len(_rows())


def test_in_a_log_a_plain_line_every_few_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in FIXTURE.iterdir():
        shutil.copy(path, tmp_path / path.name)
    watcher = RunWatcher(tmp_path, PLAN, ["write", "read"])
    with LiveProgress(watcher, interval_s=0.05, log_every_s=0.2, terminal=False):
        time.sleep(0.7)
    printed = capsys.readouterr().err
    lines = [line for line in printed.splitlines() if "checkouts/s offered 20" in line]
    assert all(len(line) <= human.width for line in printed.splitlines())
    assert "(recovery)" in printed  # after the phases: the last one's percentiles
    assert 2 <= len(lines) <= 4
