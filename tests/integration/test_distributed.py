"""Locust's distributed mode: a master and two `cqrs-bench worker`s, each its own process.

Where the machine allows it (root, ``ip netns``), each worker runs in a network
namespace of its own, joined to the master's host by a veth pair on a bridge,
as on three hosts; else all three share loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from harness.core.ports import free_port
from harness.results.files import read_requests
from harness.results.summarize import _schedules, traffic_fingerprint
from harness.run.orchestrate import locust_args
from scenarios.plan import PLAN_ENV, LoadPlan
from scenarios.traffic import Population, checkout_schedule, fingerprint, report_schedule
from tests.integration.locustrun import JsonHandler

WORKER = (sys.executable, "-m", "harness.cli", "worker")
SUBNET = "10.231.7"  # the test's own hosts: the master's is .1, worker k's is .1k


class CountingShop(JsonHandler):
    """Keeps every checkout body it receives."""

    bodies: ClassVar[list[tuple[int, int]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        with CountingShop.lock:
            CountingShop.bodies.append((body["user_id"], body["items"][0]["product_id"]))
            order_id = len(CountingShop.bodies)
        self._reply({"order_id": order_id, "status": "paid"})

    def do_GET(self) -> None:
        self._reply({})


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # bursts of new connections from two workers: never a full backlog
    daemon_threads = True


@dataclass(frozen=True)
class Hosts:
    master: str  # where the master and the shop listen
    worker_prefix: tuple[tuple[str, ...], ...]  # the command prefix that puts worker k on its host


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture(params=["netns", "loopback"])
def hosts(request: pytest.FixtureRequest) -> Iterator[Hosts]:
    if request.param == "loopback":
        yield Hosts("127.0.0.1", ((), ()))
        return
    tag = f"cqb{os.getpid() % 100_000}"
    bridge, namespaces = f"{tag}br", [f"{tag}w{k}" for k in (1, 2)]
    made = _ip("link", "add", bridge, "type", "bridge")
    if made.returncode != 0:
        pytest.skip(f"network namespaces refused here (ip link add: {made.stderr.strip()})")
    try:
        steps = [
            ("addr", "add", f"{SUBNET}.1/24", "dev", bridge),
            ("link", "set", bridge, "up"),
        ]
        for k, namespace in enumerate(namespaces, start=1):
            steps += [
                ("netns", "add", namespace),
                ("link", "add", f"{tag}h{k}", "type", "veth", "peer", "eth0", "netns", namespace),
                ("link", "set", f"{tag}h{k}", "master", bridge, "up"),
                ("-n", namespace, "addr", "add", f"{SUBNET}.1{k}/24", "dev", "eth0"),
                ("-n", namespace, "link", "set", "eth0", "up"),
                ("-n", namespace, "link", "set", "lo", "up"),
            ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"network namespaces refused here (ip {' '.join(step)}: {done.stderr})")
        yield Hosts(f"{SUBNET}.1", tuple(("ip", "netns", "exec", ns) for ns in namespaces))
    finally:
        for namespace in namespaces:
            _ip("netns", "del", namespace)  # takes its end of the veth pair, and so the pair
        _ip("link", "del", bridge)


@pytest.fixture
def shop(hosts: Hosts) -> Iterator[str]:
    CountingShop.bodies = []
    server = Server((hosts.master, 0), CountingShop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{hosts.master}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PLAN = LoadPlan(
    phase_seconds={"steady": 2, "storm": 1.5, "recovery": 1},
    checkout_rate=30,
    timeout_s=2.0,  # a slow shared machine answers late, never so late it times out
    shoppers=4,
    shopper_wait_s=(0.1, 0.3),
    admins=2,
    admin_interval_s=0.5,
)


@pytest.mark.slow
def test_a_master_and_two_workers_split_the_schedule_and_merge_the_records(
    hosts: Hosts, shop: str, tmp_path: Path
) -> None:
    plan = replace(PLAN, record_dir=str(tmp_path))
    plan.write(tmp_path / "plan.json")
    port = free_port()
    master = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            *locust_args(shop, tmp_path / "locust", 0, 2, (hosts.master, port)),
        ],
        env={**os.environ, PLAN_ENV: str(tmp_path / "plan.json")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # the workers see no file of the run: they start elsewhere, with no plan in their environment
    worker_env = {k: v for k, v in os.environ.items() if k != PLAN_ENV}
    workers = [
        subprocess.Popen(
            [*prefix, *WORKER, "--master", f"{hosts.master}:{port}", "--once"],
            env=worker_env,
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for prefix in hosts.worker_prefix
    ]
    try:
        master_log, _ = master.communicate(timeout=90)
        worker_logs = [worker.communicate(timeout=30)[0] for worker in workers]
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                process.kill()
    assert master.returncode in (0, 1), master_log[-3000:]
    for worker, log in zip(workers, worker_logs, strict=True):
        assert worker.returncode in (0, 1), log[-3000:]
    assert not any(tmp_path.glob("requests-[0-9]*.csv"))  # no process wrote its own records

    # the records of both workers, merged on the master; each worker sent some
    per_worker = {
        path.name: len(pd.read_csv(path)) for path in sorted(tmp_path.glob("requests-*.csv"))
    }
    assert set(per_worker) == {"requests-worker0.csv", "requests-worker1.csv"}, per_worker
    assert all(rows > 0 for rows in per_worker.values()), per_worker
    records = read_requests(tmp_path)
    assert not (records["kind"] == "dropped").any()

    # every request counted once: as many records as Locust's own statistics count
    stats = pd.read_csv(tmp_path / "locust_stats.csv")
    locust_counts = {
        str(row["Name"]): int(row["Request Count"])
        for _, row in stats.iterrows()
        if row["Name"] != "Aggregated"
    }
    recorded = records.groupby("name").size().to_dict()
    assert recorded == locust_counts

    # the schedule split in two shares: together exactly a single process's schedule
    everything = checkout_schedule(plan, Population.of(plan))
    reports = report_schedule(plan)
    assert sorted(CountingShop.bodies) == sorted((a.user_id, a.product_id) for a in everything)
    assert (records["name"] == "checkout").sum() == len(everything)
    sent_reports = records["name"].isin(["dashboard_customers", "dashboard_revenue"]).sum()
    assert sent_reports == len(reports) > 0
    announced = [json.loads(p.read_text()) for p in tmp_path.glob("schedule-*.json")]
    assert sorted((a["driver"], tuple(a["share"])) for a in announced) == [
        ("checkout", (0, 2)),
        ("checkout", (1, 2)),
        ("reports", (0, 2)),
        ("reports", (1, 2)),
    ]
    # Locust placed one driver on each worker: each sends its share, the load is spread
    assert {a["worker"] for a in announced if a["driver"] == "checkout"} == {"worker0", "worker1"}
    schedules = _schedules(tmp_path)
    assert sum(schedules["checkout"]["scheduled"].values()) == len(everything)
    assert schedules["checkout"]["bound"] >= plan.checkout_bound
    assert traffic_fingerprint(schedules) == fingerprint(everything, reports)

    # one phase clock, the master's: the workers' records fall in the plan's phases
    started = json.loads((tmp_path / "clock-master.json").read_text())["started"]
    checkouts = records[records["name"] == "checkout"]
    assert (checkouts["ts"] >= started).all()
    assert (checkouts["ts"] < started + plan.total_seconds).all()
    assert set(records[records["name"] == "dashboard_revenue"]["phase"]) <= {"storm"}
