"""The report people expect: per endpoint and phase, count, requests/s, failures, p50 to
p99.9 and max, and the most frequent error messages, all from summary.json."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import reports.render
from harness.results import ResultsFileError
from harness.results.endpoint_table import ENDPOINT_HEADER, endpoint_table, error_table
from harness.results.files import read_requests, read_summary, write_summary
from harness.results.model import TOP_ERRORS, EndpointStats, ErrorCount, Summary
from harness.results.summarize import _errors_over_trials, summarize_run, top_errors
from reports.render import render_report
from scenarios.recorder import Recorder, error_message

FIXTURE = Path(__file__).parents[1] / "fixtures" / "run-smoke"
SUMMARY = read_summary(FIXTURE)
PHASE_SECONDS = json.loads((FIXTURE / "run.json").read_text())["plan"]["phase_seconds"]


def nearest_rank(values: list[float], q: float) -> float | None:
    """Written out again here, independently of harness.results.stats."""
    if len(values) < math.ceil(round(10 / (1 - q / 100), 6)):
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def test_the_per_endpoint_table_holds_the_numbers_of_the_fixture_run() -> None:
    table = endpoint_table(SUMMARY)
    assert table.header == ENDPOINT_HEADER
    rows = {(r[0], r[1], r[2]): r[3:] for r in table.rows}
    checked = 0
    for system in ("baseline", "cqrs"):
        requests = pd.concat(pd.read_csv(f) for f in (FIXTURE / system).glob("requests-*.csv"))
        for (phase, name), group in requests.groupby(["phase", "name"]):
            if phase not in PHASE_SECONDS:
                continue
            latency = list(group["latency_us"] / 1000)
            failures = int((group["ok"] == 0).sum())
            assert rows[(system, str(phase), str(name))] == [
                f"{len(group):,}",
                f"{len(group) / PHASE_SECONDS[phase]:,.1f}",
                "0" if not failures else f"{failures:,} ({failures / len(group):.2%})",
                *(cell(nearest_rank(latency, q)) for q in (50, 90, 95, 99, 99.9)),
                cell(max(latency)),
            ]
            checked += 1
    assert checked == len(table.rows) == 40
    # spelled out once: the storm's checkouts on the single database
    assert rows[("baseline", "storm", "checkout")] == [
        "611", "20.4", "0", "8.6", "97.9", "126.2", "-", "-", "325.5"
    ]  # fmt: skip


def test_failure_messages_are_recorded_grouped_and_ranked(tmp_path: Path) -> None:
    recorder = Recorder.to_file(tmp_path)
    for message, times in (
        ("HTTP 503 unavailable", 3),
        ('ReadError: peer said "bye", then closed\nthe socket', 2),
        ("", 1),  # a failure without a message: its kind and status stand in
    ):
        for _ in range(times):
            recorder.record(1.0, "storm", "checkout", 5, False, "http_5xx", 503, 0, message)
    recorder.record(1.0, "storm", "checkout", 5, True, "", 200, 0)
    recorder.close()
    rows = read_requests(tmp_path)
    assert top_errors(rows) == (
        ErrorCount("HTTP 503 unavailable", 3),
        ErrorCount('ReadError: peer said "bye", then closed the socket', 2),
        ErrorCount("http_5xx (HTTP 503)", 1),
    )
    # records from before messages were kept: each failure named by its kind and status
    assert top_errors(rows.drop(columns=["error"])) == (ErrorCount("http_5xx (HTTP 503)", 6),)
    assert top_errors(rows, limit=1) == (ErrorCount("HTTP 503 unavailable", 3),)


def test_error_messages_name_the_status_and_code_never_the_url() -> None:
    assert error_message(404, None, "not_found") == "HTTP 404 not_found"
    assert error_message(500, RuntimeError("GET /orders/17 failed")) == "HTTP 500"
    assert error_message(0, ConnectionRefusedError(111, "refused")) == (
        "ConnectionRefusedError: [Errno 111] refused"
    )


def _with_errors(errors: list[tuple[str, int]]) -> EndpointStats:
    return EndpointStats(
        count=100,
        ok=100 - sum(c for _, c in errors),
        p50_ms=1.0,
        p95_ms=None,
        p99_ms=None,
        max_ms=2.0,
        throughput_rps=1.0,
        error_rate=0.1,
        errors={},
        top_errors=tuple(ErrorCount(m, c) for m, c in errors),
    )


def test_errors_over_trials_are_totals_kept_only_where_exact() -> None:
    full = [(f"m{i}", 10 - i) for i in range(TOP_ERRORS)]  # a list that may have been cut
    short = [("m0", 4), ("other", 3)]  # complete: fewer than the limit
    combined = _errors_over_trials([_with_errors(full), _with_errors(short), None])
    # m0 is in both lists; "other" may have been cut from the full list, m1.. from none
    assert ErrorCount("m0", 14) in combined
    assert all(e.message != "other" for e in combined)
    assert ErrorCount("m1", 9) in combined


def summary_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "summary.json").read_text())
    return data


def test_a_summary_from_before_the_new_fields_reads_them_as_absent() -> None:
    data = summary_data()
    endpoint = data["systems"]["cqrs"]["phases"]["storm"]["endpoints"]["checkout"]
    for key in ("p90_ms", "p99_9_ms", "request_rps", "top_errors"):
        del endpoint[key]
    stats = Summary.from_json(data).systems["cqrs"].phases["storm"].endpoints["checkout"]
    assert (stats.p90_ms, stats.p99_9_ms, stats.request_rps, stats.top_errors) == (
        None,
        None,
        None,
        (),
    )
    row = next(r for r in endpoint_table(Summary.from_json(data)).rows if r[:3] == [
        "cqrs", "storm", "checkout"
    ])  # fmt: skip
    assert row[4] == "-"  # requests/s unknown: never a 0
    assert row[7] == "-"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ok": 700}, "ok should be between 0 and count (611), found 700"),
        ({"top_errors": [{"message": "x", "count": 0}]}, "count should be a positive integer"),
        ({"top_errors": [{"message": 3, "count": 1}]}, "message should be a string"),
        ({"top_errors": "none"}, "top_errors should be a list of {message, count}"),
    ],
)
def test_bad_endpoint_fields_are_refused_naming_the_key(
    change: dict[str, Any], expected: str
) -> None:
    data = copy.deepcopy(summary_data())
    data["systems"]["cqrs"]["phases"]["storm"]["endpoints"]["checkout"].update(change)
    with pytest.raises(ResultsFileError) as info:
        Summary.from_json(data, "s.json")
    assert "s.json: systems.cqrs.phases.storm.endpoints.checkout." in str(info.value)
    assert expected in str(info.value)


@pytest.fixture
def run_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture run, reported without its PNG plots (they are tested elsewhere)."""
    monkeypatch.setattr(reports.render, "render_plots", lambda data, directory: {})
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    return run_dir


@pytest.fixture
def failing_run(run_copy: Path) -> Path:
    """The fixture run with a few of cqrs's storm checkouts failed, and summarized again."""
    run_dir = run_copy
    for path in (run_dir / "cqrs").glob("requests-*.csv"):
        frame = pd.read_csv(path, dtype={"kind": "string"})
        storm = frame.index[(frame["phase"] == "storm") & (frame["name"] == "checkout")]
        frame["error"] = ""
        for rows, kind, status, message in (
            (storm[:3], "http_5xx", 503, "HTTP 503 pool_exhausted"),
            (storm[3:5], "timeout", 0, "ClientTimeout: no answer within 5 s"),
        ):
            frame.loc[rows, ["ok", "kind", "status", "error"]] = [0, kind, status, message]
        frame.to_csv(path, index=False)
    write_summary(run_dir, summarize_run(run_dir))
    return run_dir


def test_the_report_shows_failures_and_their_messages(failing_run: Path) -> None:
    summary = read_summary(failing_run)
    assert error_table(summary).rows == [
        ["cqrs", "storm", "checkout", "3", "HTTP 503 pool_exhausted"],
        ["cqrs", "storm", "checkout", "2", "ClientTimeout: no answer within 5 s"],
    ]
    written = render_report(failing_run)
    page, markdown = written["html"].read_text(), written["markdown"].read_text()
    assert "<td>5 (0.82%)</td>" in page  # 5 of 611 storm checkouts
    assert "<td>3</td><td>HTTP 503 pool_exhausted</td>" in page
    assert "| cqrs | storm | checkout | 2 | ClientTimeout: no answer within 5 s |" in markdown
    assert "No request failed." not in page


def test_the_report_links_locust_s_own_report_when_the_run_kept_one(run_copy: Path) -> None:
    run_dir = run_copy
    assert "Locust's own report" not in render_report(run_dir)["html"].read_text()
    (run_dir / "cqrs" / "locust.html").write_text("<html></html>")
    page = render_report(run_dir)["html"].read_text()
    assert '<a href="cqrs/locust.html">cqrs</a>' in page
    assert "baseline/locust.html" not in page
