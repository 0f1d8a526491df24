"""The docker provider against a real engine and real containers (host network, 127.0.0.1).

Skipped cleanly where no engine answers or the image is absent (tests never
pull; ``cqrs-bench docker-image build`` makes the image, ``.ci/run`` does it once).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from harness.core.errors import BadInput
from harness.core.polling import wait_until
from harness.providers import DockerNetwork
from harness.providers.docker import (
    OWNER_LABEL,
    DockerProvider,
    container_cpu_seconds,
    docker_client,
)
from harness.run.sampler import Sampler
from tests.conftest import run_cli
from tests.dockerenv import docker_image, docker_skip_reason
from tests.shopdata import TINY_ARGS

SKIP = docker_skip_reason()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(SKIP is not None, reason=str(SKIP))]

# Two backends each spinning on one core for this long: CPU-bound and parallel.
SPIN_SQL = "SELECT count(*) FROM generate_series(1, 400000000)"


@pytest.fixture
def engine() -> Iterator[Any]:
    client = docker_client()
    yield client
    client.close()


def harness_containers(engine: Any) -> list[str]:
    found = engine.containers.list(all=True, filters={"label": OWNER_LABEL})
    return sorted(c.name for c in found)


def provider(**kwargs: object) -> DockerProvider:
    return DockerProvider(
        settings={"work_mem": "7MB"},
        image=docker_image(),
        network=DockerNetwork.HOST,
        **kwargs,
    )


@pytest.mark.slow
def test_container_serves_on_loopback_with_password_settings_and_limits(engine: Any) -> None:
    with provider(cpus=1.0, memory="1g").cluster("db") as cluster:
        endpoint = cluster.endpoint
        assert endpoint.host == "127.0.0.1"
        with psycopg.connect(endpoint.dsn) as conn:
            assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        wrong = endpoint.dsn.replace(endpoint.password, "wrong")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(wrong, connect_timeout=5)
        container_id = cluster.container_id()
        assert container_id is not None
        attrs = engine.api.inspect_container(container_id)
        assert attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
        assert attrs["HostConfig"]["Memory"] == 2**30
        assert attrs["HostConfig"]["NetworkMode"] == "host"
        assert json.loads(attrs["Config"]["Labels"][OWNER_LABEL])["pid"] == os.getpid()
    assert cluster.container_id() is None
    assert harness_containers(engine) == []


@pytest.mark.slow
def test_an_absent_named_image_is_refused_and_never_pulled(engine: Any) -> None:
    images_before = sorted(i.id for i in engine.images.list())
    absent = DockerProvider(
        settings={}, image="cqrs-bench-test/absent:1", network=DockerNetwork.HOST
    )
    with pytest.raises(BadInput, match="docker-image build --tag cqrs-bench-test/absent:1"):
        absent.check()
    with pytest.raises(BadInput, match="never pulled"), absent.cluster("db"):
        pass
    assert sorted(i.id for i in engine.images.list()) == images_before
    assert harness_containers(engine) == []


def _cpu_pct_over(engine: Any, container_id: str, seconds: float) -> float:
    first = container_cpu_seconds(engine, container_id)
    started = time.monotonic()
    time.sleep(seconds)
    last = container_cpu_seconds(engine, container_id)
    assert first is not None
    assert last is not None
    return 100 * (last[0] - first[0]) / (time.monotonic() - started)


@pytest.mark.slow
def test_a_one_cpu_container_holds_two_cpu_bound_queries_to_one_core(engine: Any) -> None:
    """--docker-cpus holds: two spinning backends in a 1-CPU container use ~100%, not ~200%."""
    with provider(cpus=1.0).cluster("db") as cluster:
        container_id = cluster.container_id()
        assert container_id is not None
        spinning = [
            threading.Thread(target=_spin, args=(cluster.endpoint.dsn,), daemon=True)
            for _ in range(2)
        ]
        for thread in spinning:
            thread.start()
        time.sleep(1.0)  # both backends started
        cpu = _cpu_pct_over(engine, container_id, 5.0)
        print(f"two CPU-bound queries in a 1-CPU container: {cpu:.1f}% of one core")
        assert 70.0 <= cpu <= 110.0
    # stopping the container ends the queries
    for thread in spinning:
        thread.join(timeout=30)


def _spin(dsn: str) -> None:
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute("SET max_parallel_workers_per_gather = 0")
            conn.execute(SPIN_SQL)
    except psycopg.Error:
        pass  # the container went away under it: the test is over


@pytest.mark.slow
def test_the_sampler_writes_container_cpu_like_any_component(engine: Any, tmp_path: Path) -> None:
    with provider().cluster("db") as cluster:
        container_id = cluster.container_id()
        assert container_id is not None
        spinner = threading.Thread(target=_spin, args=(cluster.endpoint.dsn,), daemon=True)
        with Sampler(
            tmp_path, {}, {"db": cluster.endpoint.dsn}, None, containers={"db": container_id}
        ):
            spinner.start()
            time.sleep(4.5)
    spinner.join(timeout=30)
    with open(tmp_path / "resources.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "no samples"
    assert {row["component"] for row in rows} == {"db"}
    assert set(rows[0]) == {"ts", "interval_s", "component", "cpu_pct", "rss_mib"}
    assert max(float(row["cpu_pct"]) for row in rows) > 50.0
    assert all(float(row["rss_mib"]) > 0 for row in rows)


@pytest.mark.slow
def test_containers_of_a_killed_command_are_removed_by_the_next_one(
    bench_home: Path, engine: Any
) -> None:
    env = {**os.environ, "CQRS_BENCH_HOME": str(bench_home)}
    held = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "pg",
            "write",
            "read",
            "--provider",
            "docker",
            "--docker-network",
            "host",
            "--docker-image",
            docker_image(),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert held.stdout is not None
        databases = json.loads(held.stdout.readline())["databases"]
        assert set(databases) == {"write", "read"}
        assert len(harness_containers(engine)) == 2
    finally:
        held.send_signal(signal.SIGKILL)  # no cleanup of its own
        held.wait(timeout=30)
        if held.stdout is not None:
            held.stdout.close()
    assert len(harness_containers(engine)) == 2  # left behind by the killed command
    status = run_cli(bench_home, "status")
    assert status.returncode == 0, status.stderr
    assert "removed 2 container(s) left by a dead run" in status.stderr
    assert harness_containers(engine) == []


@pytest.mark.slow
def test_up_status_down_in_containers(bench_home: Path, engine: Any) -> None:
    docker_args = ("--provider", "docker", "--docker-network", "host")
    docker_args += ("--docker-image", docker_image())
    up = run_cli(bench_home, "up", "--system", "cqrs", *TINY_ARGS, *docker_args, "--json")
    try:
        assert up.returncode == 0, up.stderr
        info = up.json()
        assert set(info["databases"]) == {"write", "read"}
        assert info["pids"]["write"] is None
        assert len(harness_containers(engine)) == 2
        url = str(info["url"])
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        orders = httpx.get(f"{url}/users/1/orders").json()
        assert isinstance(orders, dict | list)
        placed = httpx.post(
            f"{url}/checkout", json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]}
        )
        assert placed.status_code in (200, 201, 409), placed.text
        status = run_cli(bench_home, "status", "--json").json()
        stacks = status["stacks"]
        assert [(s["system"], s["healthy"]) for s in stacks] == [("cqrs", True)]
        # a later command does not reap a detached stack's containers
        assert len(harness_containers(engine)) == 2
    finally:
        down = run_cli(bench_home, "down")
    assert down.returncode == 0, down.stderr
    wait_until(lambda: harness_containers(engine) == [], timeout=30, what="containers removed")
    assert run_cli(bench_home, "status", "--json").json() == {"stacks": []}


def test_run_with_an_absent_named_image_exits_2_and_writes_nothing(
    bench_home: Path, tmp_path: Path, engine: Any
) -> None:
    """Talks to the engine only: the refusal comes before any run directory, stack or container."""
    out = tmp_path / "runs"
    result = run_cli(
        bench_home,
        *("run", "--profile", "smoke", "--out", str(out), "--provider", "docker"),
        *("--docker-network", "host", "--docker-image", "cqrs-bench-test/absent:1"),
    )
    assert result.returncode == 2, result.stderr
    assert "cqrs-bench docker-image build --tag cqrs-bench-test/absent:1" in result.stderr
    assert not out.exists()
    assert not (bench_home / "stacks").exists() or not any((bench_home / "stacks").iterdir())
    assert harness_containers(engine) == []
