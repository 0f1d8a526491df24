"""The summary `run` prints, in an 80-column CI log: nothing cut, nothing wrapped, every cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.views import narrow_tables, render_summary
from harness.core.console import human
from harness.results.files import read_run_info
from harness.results.model import Summary
from harness.results.table import TERMINAL_ENDPOINTS, phase_table

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
SUMMARY = Summary.from_json(json.loads((FIXTURE / "summary.json").read_text()))
DETAILS = read_run_info(FIXTURE).systems_detail


def _printed(monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    monkeypatch.setattr(human, "width", width)
    with human.capture() as captured:
        render_summary(SUMMARY, "runs/20261129T120000Z-smoke", DETAILS)
    return captured.get()


def test_at_80_columns_no_line_is_longer_and_no_name_is_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _printed(monkeypatch, 80)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in text
    for name in ("baseline", "cqrs", "steady", "storm", "recovery", "checkout p95 ms"):
        assert any(name in line.split() or name in line for line in lines), name
    # the title, then one block per system: its name, then a column per phase
    assert lines[0] == "cqrs-bench run: runs/20261129T120000Z-smoke"
    heads = [i for i, line in enumerate(lines) if line in ("baseline", "cqrs")]
    assert [lines[i] for i in heads] == ["baseline", "cqrs"]
    assert lines[heads[0] + 1].split() == ["steady", "storm", "recovery"]


def test_every_cell_of_the_wide_table_is_in_its_system_and_phase_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _printed(monkeypatch, 80)
    wide = phase_table(SUMMARY, TERMINAL_ENDPOINTS)
    for system, phase, checkout, *_ in wide.rows:
        p50, p95 = checkout.split(" / ")
        block = text.split(f"\n{system}\n")[1]
        header = block.splitlines()[0].split()
        column = header.index(phase)
        for label, value in (("checkout p50 ms", p50), ("checkout p95 ms", p95)):
            (line,) = [line for line in block.splitlines() if line.startswith(label)][:1]
            assert line[len(label) :].split()[column] == value


def test_pairs_and_named_parts_become_rows_of_their_own() -> None:
    (baseline, cqrs) = narrow_tables(phase_table(SUMMARY, TERMINAL_ENDPOINTS), 2)
    assert baseline[0] == "baseline"
    assert baseline[1] == ["", "steady", "storm", "recovery"]
    labels = [row[0] for row in cqrs[2]]
    for label in ("checkouts/s offered", "checkouts/s achieved"):
        assert label in labels
    for label in ("DB CPU % (mean) write", "DB CPU % (mean) read"):
        assert label in labels
    assert "DB CPU % (mean)" in [row[0] for row in baseline[2]]  # one name: left whole


def test_a_wide_console_keeps_the_wide_table(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _printed(monkeypatch, 250)
    wide = phase_table(SUMMARY, TERMINAL_ENDPOINTS)
    shown = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]
    assert shown[: len(wide.rows)] == wide.rows
