"""The open-model checkout driver and the request records, with real Locust on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from harness.results.files import read_requests
from scenarios.plan import LoadPlan
from tests.integration.locustrun import JsonHandler, run_locust

STALL_AFTER_S = 2.0
STALL_FOR_S = 1.0
STALL_DELAY_S = 1.5


class StallingShop(JsonHandler):
    """Answers checkouts at once, except for one second when it stalls every request."""

    first_request: float | None = None
    orders = 0
    trickle = False  # during the stall, send the body slowly instead of waiting
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.time()
        with StallingShop.lock:
            if StallingShop.first_request is None:
                StallingShop.first_request = now
            StallingShop.orders += 1
            order_id = StallingShop.orders
        since = now - StallingShop.first_request
        stalled = STALL_AFTER_S <= since < STALL_AFTER_S + STALL_FOR_S
        if stalled and StallingShop.trickle:
            self._trickle({"order_id": order_id, "status": "paid"})
            return
        if stalled:
            time.sleep(STALL_DELAY_S)
        self._reply({"order_id": order_id, "status": "paid"})

    def _trickle(self, body: dict[str, object]) -> None:
        """Every socket read succeeds quickly, yet the whole answer takes 1.8 s."""
        data = json.dumps(body).encode().ljust(30)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        for start in range(0, len(data), 10):
            time.sleep(0.6)
            self.wfile.write(data[start : start + 10])
            self.wfile.flush()

    def do_GET(self) -> None:
        self._reply({"order_id": 1})


@pytest.fixture
def stalling_server() -> Iterator[str]:
    StallingShop.first_request = None
    StallingShop.orders = 0
    StallingShop.trickle = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), StallingShop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_driver_keeps_its_rate_while_the_server_stalls(
    stalling_server: str, tmp_path: Path
) -> None:
    plan = LoadPlan(
        phase_seconds={"steady": 2, "storm": 2, "recovery": 2},
        checkout_rate=20,
        arrival="fixed",
        shoppers=0,
        admins=0,
        record_dir=str(tmp_path),
    )
    run_locust(stalling_server, plan, tmp_path)
    records = read_requests(tmp_path)
    checkouts = records[records["name"] == "checkout"].sort_values("ts")
    assert 115 <= len(checkouts) <= 120  # 20/s for 6 s, stall or not
    assert (checkouts["kind"] != "dropped").all()
    assert StallingShop.first_request is not None
    start = StallingShop.first_request
    offset = checkouts["ts"] - start
    in_stall = checkouts[
        (offset >= STALL_AFTER_S + 0.05) & (offset < STALL_AFTER_S + STALL_FOR_S - 0.05)
    ]
    calm = checkouts[offset < STALL_AFTER_S - 0.1]
    # arrivals kept coming during the stall (a closed loop would have sent about one)...
    assert len(in_stall) >= 15
    # ...and their latency, from the scheduled start, shows the stall
    assert in_stall["latency_us"].median() >= 1_000_000
    assert in_stall["latency_us"].min() >= 300_000
    assert calm["latency_us"].median() < 300_000


@pytest.mark.slow
def test_records_match_what_locust_counted(stalling_server: str, tmp_path: Path) -> None:
    plan = LoadPlan(
        phase_seconds={"steady": 1, "storm": 2, "recovery": 1},
        checkout_rate=10,
        shoppers=3,
        shopper_wait_s=(0.1, 0.3),
        admins=2,
        admin_interval_s=0.5,
        record_dir=str(tmp_path),
    )
    run_locust(stalling_server, plan, tmp_path)
    records = read_requests(tmp_path)
    served = records[records["kind"] != "dropped"]
    ours = served.groupby("name").size().to_dict()
    stats = pd.read_csv(tmp_path / "locust_stats.csv")
    theirs = {
        row["Name"]: int(row["Request Count"])
        for _, row in stats.iterrows()
        if row["Name"] != "Aggregated"
    }
    assert ours == theirs
    assert {"checkout", "order_status", "dashboard_customers"} <= set(ours)
    # admins only ask for reports during the storm
    reports = served[served["name"].isin(["dashboard_customers", "dashboard_revenue"])]
    assert set(reports["phase"]) == {"storm"}


@pytest.mark.slow
def test_a_request_longer_than_the_client_timeout_fails_as_a_timeout(
    stalling_server: str, tmp_path: Path
) -> None:
    StallingShop.trickle = True
    plan = LoadPlan(
        phase_seconds={"steady": 2, "storm": 2, "recovery": 1},
        checkout_rate=10,
        arrival="fixed",
        timeout_s=1.0,  # each read of a trickled answer takes 0.6 s, the whole 1.8 s
        shoppers=0,
        admins=0,
        record_dir=str(tmp_path),
    )
    run_locust(stalling_server, plan, tmp_path)
    records = read_requests(tmp_path)
    checkouts = records[records["name"] == "checkout"]
    timeouts = checkouts[checkouts["kind"] == "timeout"]
    assert len(timeouts) >= 5
    assert (timeouts["ok"] == 0).all()
    # the whole request is bounded by the client timeout, not each socket operation
    assert timeouts["latency_us"].max() < 1_400_000
    assert timeouts["latency_us"].min() >= 950_000
    # each keeps what the client said, for the report's most frequent errors
    assert set(timeouts["error"]) == {"ClientTimeout: no answer within 1 s"}
    assert (checkouts.loc[checkouts["ok"] == 1, "error"] == "").all()
