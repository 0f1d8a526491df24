"""The one phase table: its rows on the fixture, its formatting, and the same rows everywhere."""

from __future__ import annotations

import copy
import html
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import reports.render
from harness.cli.views import render_summary
from harness.core.console import human
from harness.results.model import Summary
from harness.results.table import TABLE_ENDPOINTS, TERMINAL_ENDPOINTS, Table, phase_table
from reports.render import html_table, md_table, render_report

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
RAW: dict[str, Any] = json.loads((FIXTURE / "summary.json").read_text())
SUMMARY = Summary.from_json(RAW)

HEADER = [
    "system",
    "phase",
    "checkout p50 / p95 ms",
    "dashboard_customers p50 / p95 ms",
    "dashboard_revenue p50 / p95 ms",
    "product_page p50 / p95 ms",
    "product_list p50 / p95 ms",
    "my_orders p50 / p95 ms",
    "checkout errors",
    "checkouts/s offered / achieved",
    "DB CPU % (mean)",
    "lag p50 / max ms",
]


def tweaked(**changes: Any) -> Summary:
    """The fixture's summary with values of cqrs/storm set by path below the phase."""
    data = copy.deepcopy(RAW)
    for path, value in changes.items():
        node = data["systems"]["cqrs"]["phases"]["storm"]
        *parents, key = path.split("__")
        for part in parents:
            node = node[part]
        if value is None:
            del node[key]
        else:
            node[key] = value
    return Summary.from_json(data)


def row(table: Table, system: str, phase: str) -> list[str]:
    return next(r for r in table.rows if r[:2] == [system, phase])


def test_header_and_one_row_per_system_and_phase_in_order() -> None:
    table = phase_table(SUMMARY)
    assert table.header == HEADER
    assert [r[:2] for r in table.rows] == [
        [system, phase]
        for system in ("baseline", "cqrs")
        for phase in ("steady", "storm", "recovery")
    ]
    assert all(len(r) == len(HEADER) for r in table.rows)


def test_rows_on_the_fixture() -> None:
    table = phase_table(SUMMARY)
    assert row(table, "baseline", "storm") == [
        "baseline",
        "storm",
        "8.6 / 126.2",
        "369.0 / 548.9",
        "20.6 / -",  # 90 revenue reports: too few for a p95
        "4.9 / -",
        "6.3 / -",
        "3.2 / -",
        "0.00%",
        "20.4 / 20.4",
        "db 80",
        "-",
    ]
    assert row(table, "cqrs", "steady")[2:] == [
        "6.0 / 11.3",
        "-",
        "-",
        "2.6 / -",
        "3.0 / -",
        "2.7 / -",
        "0.00%",
        "19.4 / 19.4",
        "write 5, read 6",
        "4.5 / 19.2",
    ]


@pytest.mark.parametrize(
    ("changes", "column", "expected"),
    [
        ({"endpoints__checkout__p95_ms": 12345.678}, 2, "6.3 / 12,345.7"),
        ({"endpoints__checkout__error_rate": 0.012345}, 8, "1.23%"),
        ({"endpoints__checkout": None}, 8, "-"),
        ({"endpoints__dashboard_customers": None}, 3, "-"),
        ({"projection_lag_ms": None}, 11, "-"),
        ({"projection_lag_ms__max": 1234.56}, 11, "4.8 / 1,234.6"),
        ({"cpu_pct": {}}, 10, "-"),
        # a replica system's clusters are its primary and its standby
        (
            {
                "cpu_pct": {
                    "primary": {"mean": 4.0, "max": 5.0},
                    "standby": {"mean": 71.6, "max": 80},
                }
            },
            10,
            "primary 4, standby 72",
        ),
        ({"checkout_driver__offered_rps": 1234.0}, 9, "1,234.0 / 20.4"),
    ],
)
def test_one_formatting_for_every_cell(changes: dict[str, Any], column: int, expected: str) -> None:
    assert row(phase_table(tweaked(**changes)), "cqrs", "storm")[column] == expected


def test_a_narrower_choice_of_endpoints_keeps_the_same_cells() -> None:
    wide, narrow = phase_table(SUMMARY), phase_table(SUMMARY, TERMINAL_ENDPOINTS)
    keep = [0, 1, *(2 + TABLE_ENDPOINTS.index(e) for e in TERMINAL_ENDPOINTS), 8, 9, 10, 11]
    assert narrow.header == [wide.header[i] for i in keep]
    assert narrow.rows == [[r[i] for i in keep] for r in wide.rows]


def test_markdown_and_html_draw_exactly_the_table() -> None:
    table = phase_table(SUMMARY)
    markdown = md_table(table).splitlines()
    assert markdown[0] == "| " + " | ".join(HEADER) + " |"
    assert markdown[2:] == ["| " + " | ".join(r) + " |" for r in table.rows]
    page = html_table(table)
    for r in table.rows:
        assert "".join(f"<td>{html.escape(c)}</td>" for c in r) in page
    assert page.count('<tr class="storm">') == 2


def test_the_report_carries_the_phase_table_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports.render, "render_plots", lambda data, directory: {})
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    written = render_report(run_dir)
    markdown = written["markdown"].read_text()
    page = written["html"].read_text()
    table = phase_table(SUMMARY)
    assert md_table(table) in markdown
    assert html_table(table) in page


def test_the_terminal_shows_the_same_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(human, "width", 200)
    with human.capture() as captured:
        render_summary(SUMMARY, "runs/x")
    shown = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in captured.get().splitlines()
        if line.startswith("│")
    ]
    assert shown == phase_table(SUMMARY, TERMINAL_ENDPOINTS).rows
    assert "run is valid" in captured.get()
