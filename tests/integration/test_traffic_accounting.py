"""Same traffic, every arrival accounted for: the open-model drivers with real Locust on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from harness.results.files import read_requests
from scenarios.plan import LoadPlan
from scenarios.traffic import Population, checkout_schedule, report_schedule
from tests.conftest import run_cli
from tests.integration.locustrun import JsonHandler, run_locust


class RecordingShop(JsonHandler):
    """Records every checkout body; reports take ``report_delay_s``; checkouts stall at times."""

    bodies: ClassVar[list[tuple[int, int]]] = []
    report_delay_s = 0.0
    stall_every_s = 0.0  # every this many seconds since the first request...
    stall_for_s = 0.0  # ...every request waits out a stall of this long
    first_request: float | None = None
    lock = threading.Lock()

    def _stall(self) -> None:
        now = time.time()
        with RecordingShop.lock:
            if RecordingShop.first_request is None:
                RecordingShop.first_request = now
        if RecordingShop.stall_every_s:
            since = (now - RecordingShop.first_request) % RecordingShop.stall_every_s
            if since > RecordingShop.stall_every_s - RecordingShop.stall_for_s:
                time.sleep(RecordingShop.stall_every_s - since)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        self._stall()
        with RecordingShop.lock:
            RecordingShop.bodies.append((body["user_id"], body["items"][0]["product_id"]))
            order_id = len(RecordingShop.bodies)
        self._reply({"order_id": order_id, "status": "paid"})

    def do_GET(self) -> None:
        if self.path.startswith("/dashboard"):
            time.sleep(RecordingShop.report_delay_s)
        self._reply({})


@pytest.fixture
def shop() -> Iterator[str]:
    RecordingShop.bodies = []
    RecordingShop.report_delay_s = 0.0
    RecordingShop.stall_every_s = 0.0
    RecordingShop.stall_for_s = 0.0
    RecordingShop.first_request = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingShop)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def schedule_records(directory: Path) -> dict[str, dict[str, object]]:
    return {
        json.loads(path.read_text())["driver"]: json.loads(path.read_text())
        for path in directory.glob("schedule-*.json")
    }


@pytest.mark.slow
def test_a_slow_system_receives_every_scheduled_report(shop: str, tmp_path: Path) -> None:
    # each report takes 1.2 s, each admin asks every 0.5 s: a closed loop would send a
    # third of them (the old paced admins did), the open-model schedule sends them all
    RecordingShop.report_delay_s = 1.2
    plan = LoadPlan(
        phase_seconds={"steady": 1, "storm": 4, "recovery": 1},
        checkout_rate=5,
        shoppers=0,
        admins=3,
        admin_interval_s=0.5,
        record_dir=str(tmp_path),
    )
    run_locust(shop, plan, tmp_path)
    records = read_requests(tmp_path)
    reports = records[records["name"].isin(["dashboard_customers", "dashboard_revenue"])]
    expected = report_schedule(plan)
    assert len(expected) == 3 * 8
    assert len(reports) == len(expected)
    assert (reports["ok"] == 1).all()
    assert set(reports["phase"]) == {"storm"}
    # latency runs from the scheduled time: at least the server's delay
    assert reports["latency_us"].min() >= 1_150_000
    announced = schedule_records(tmp_path)["reports"]
    assert announced["scheduled"] == {"steady": 0, "storm": len(expected), "recovery": 0}


@pytest.mark.slow
def test_two_runs_of_one_plan_send_the_same_checkouts(shop: str, tmp_path: Path) -> None:
    plan = LoadPlan(
        phase_seconds={"steady": 2, "storm": 1, "recovery": 1},
        checkout_rate=20,
        shoppers=2,
        shopper_wait_s=(0.1, 0.2),
        admins=1,
        record_dir=str(tmp_path),
    )
    run_locust(shop, plan, tmp_path / "a")
    first = list(RecordingShop.bodies)
    RecordingShop.bodies.clear()
    run_locust(shop, plan, tmp_path / "b")
    second = list(RecordingShop.bodies)
    schedule = checkout_schedule(plan, Population.of(plan))
    assert sorted(first) == sorted(second) == sorted((a.user_id, a.product_id) for a in schedule)
    prints = {
        run: schedule_records(tmp_path / run)["checkout"]["fingerprint"] for run in ("a", "b")
    }
    assert prints["a"] == prints["b"]
    assert prints["a"] == schedule_records(tmp_path / "a")["reports"]["fingerprint"]


@pytest.mark.slow
def test_the_in_flight_bound_holds_200_checkouts_a_second_through_a_stall(
    shop: str, tmp_path: Path
) -> None:
    # the server stalls for 1 s every 5 s: ~200 checkouts pile up in flight at once, which a
    # fixed bound of 200 turned into drops; the bound sized from the plan holds them all
    RecordingShop.stall_every_s = 5.0
    RecordingShop.stall_for_s = 1.0
    plan = LoadPlan(
        phase_seconds={"steady": 4, "storm": 4, "recovery": 3},
        checkout_rate=200,
        arrival="fixed",
        shoppers=0,
        admins=0,
        record_dir=str(tmp_path),
    )
    assert plan.checkout_bound == 2 * 200 * 5
    run_locust(shop, plan, tmp_path)
    records = read_requests(tmp_path)
    checkouts = records[records["name"] == "checkout"]
    announced = schedule_records(tmp_path)["checkout"]
    scheduled = announced["scheduled"]
    assert isinstance(scheduled, dict)
    assert (
        len(checkouts)
        == sum(scheduled.values())
        == len(checkout_schedule(plan, Population.of(plan)))
    )
    assert (checkouts["kind"] != "dropped").all()
    assert checkouts["latency_us"].max() >= 500_000  # the stall was felt...
    # ...and every answered checkout was confirmed under its own name, outside the bound
    confirms = records[records["name"] == "checkout_confirm"]
    assert len(confirms) == int(checkouts["ok"].sum())
    assert "order_status" not in set(records["name"])


@pytest.mark.slow
def test_calibrate_driver_measures_the_generator_against_a_known_latency(bench_home: Path) -> None:
    result = run_cli(
        bench_home,
        "calibrate",
        "driver",
        "--latency-ms",
        "40",
        "--seconds",
        "3",
        "--rates",
        "50",
        "--json",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["true_latency_ms"] == 40
    assert isinstance(report["p50_overhead_ms"], float)
    raw, reported = report["raw_socket_p50_ms"], report["reported_p50_ms"]
    assert isinstance(raw, float)
    assert isinstance(reported, float)
    assert raw >= 40  # nothing answers faster than the server's own delay...
    assert reported >= 40  # ...not even as measured by the driver, from the schedule
    assert report["p50_overhead_ms"] == pytest.approx(reported - raw, abs=0.002)
    ladder = report["ladder"]
    assert isinstance(ladder, list)
    assert [step["rate_per_s"] for step in ladder] == [50]
    assert ladder[0]["failed"] == 0
    assert ladder[0]["scheduled"] == ladder[0]["answered"]
    assert report["max_rps_schedule_lag_p99_under_10ms"] in (None, 50)
