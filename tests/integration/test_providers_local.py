"""The local provider against real PostgreSQL clusters."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from harness.core.processes import ProcessIdentity
from harness.providers.local import ClusterRecord, LocalCluster, LocalProvider
from tests.conftest import cluster_dirs, run_cli


def _postgres_family(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_three_clusters_at_once_need_their_passwords_and_leave_nothing(
    local_provider: LocalProvider, bench_home: Path
) -> None:
    clusters = [local_provider.cluster(name) for name in ("alpha", "beta", "gamma")]
    pids: list[int] = []
    with contextlib.ExitStack() as stack:
        for cluster in clusters:
            stack.enter_context(cluster)
        ports = {c.endpoint.port for c in clusters}
        assert len(ports) == 3
        for cluster in clusters:
            assert cluster.pid is not None
            pids.append(cluster.pid)
            with psycopg.connect(cluster.endpoint.dsn) as conn:
                row = conn.execute("SELECT inet_server_addr()::text, current_user").fetchone()
            assert row == ("127.0.0.1/32", "postgres")
            wrong = cluster.endpoint.dsn.replace(cluster.endpoint.password, "not-the-password")
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(wrong, connect_timeout=5)
            no_password = f"host=127.0.0.1 port={cluster.endpoint.port} user=postgres"
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(no_password, connect_timeout=5)
        # each cluster is its own process tree: no server is another's child
        families = [set(p.pid for p in _postgres_family(pid)) for pid in pids]
        assert all(len(f) > 1 for f in families)
        assert not families[0] & families[1]
        assert not families[1] & families[2]
        assert len(cluster_dirs(bench_home)) == 3
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert cluster_dirs(bench_home) == []


@pytest.mark.slow
def test_settings_reach_the_server(local_provider: LocalProvider) -> None:
    local_provider.settings = {**local_provider.settings, "work_mem": "7MB"}
    with local_provider.cluster("tuned") as cluster, psycopg.connect(cluster.endpoint.dsn) as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


@pytest.mark.slow
def test_sigkilled_harness_leaves_no_cluster_after_next_command(bench_home: Path) -> None:
    env = {**os.environ, "CQRS_BENCH_HOME": str(bench_home)}
    holder = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "pg", "db", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert holder.stdout is not None
        started = json.loads(holder.stdout.readline())
        server_pid = started["pids"]["db"]
        family = _postgres_family(server_pid)
        assert family, "the cluster should be running while its owner lives"
        assert len(cluster_dirs(bench_home)) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    result = run_cli(bench_home, "doctor", "--json")
    assert result.returncode == 0, result.stderr
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    assert cluster_dirs(bench_home) == []


@pytest.mark.slow
def test_reaper_stops_a_live_server_whose_owner_died(
    local_provider: LocalProvider, bench_home: Path
) -> None:
    # A detached cluster has no parent-death signal, so only the reaper can stop
    # it: give it an owner that has exited, as if its command had been killed.
    local_provider.detached = True
    cluster: LocalCluster = local_provider.cluster("orphan")
    cluster.start()
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        owner = ProcessIdentity.of(dead.pid)
        dead.wait()
        record = cluster.record()
        assert record is not None
        assert record.server is not None
        ClusterRecord(record.name, record.port, owner, record.server).write(cluster.directory)
        server = psutil.Process(record.server.pid)
        result = run_cli(bench_home, "doctor", "--json")
        assert result.returncode == 0
        assert "left by a dead run" in result.stderr
        psutil.wait_procs([server], timeout=10)
        assert not record.server.alive()
        assert cluster_dirs(bench_home) == []
    finally:
        cluster.stop()


@pytest.mark.slow
def test_reaper_leaves_clusters_of_living_owners(
    local_provider: LocalProvider, bench_home: Path
) -> None:
    with local_provider.cluster("mine") as cluster:
        result = run_cli(bench_home, "doctor", "--json")
        assert result.returncode == 0
        with psycopg.connect(cluster.endpoint.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.slow
def test_pg_command_holds_and_cleans_up(bench_home: Path) -> None:
    result = run_cli(bench_home, "pg", "one", "two", "--json", "--for", "0.5")
    assert result.returncode == 0, result.stderr
    payload = result.json()
    assert set(payload["databases"]) == {"one", "two"}  # type: ignore[arg-type]
    for pid in payload["pids"].values():  # type: ignore[union-attr]
        assert not psutil.pid_exists(pid)
    assert cluster_dirs(bench_home) == []
