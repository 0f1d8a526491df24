"""CPU placement: a pinned cluster's server and every process it forks stay on their cores.

How much pinning protects a cluster from a busy neighbour is a measurement,
not a test (it depends on whether the host's virtual cores share physical
ones): ``python benchmarks/bench_cpu_placement.py`` prints it.
"""

from __future__ import annotations

import psutil
import psycopg
import pytest

from harness.providers.local import LocalProvider
from harness.stack.placement import machine_cores


def _backend_pids(dsn: str, connections: int) -> list[int]:
    """Open ``connections`` sessions at once and return their server processes."""
    sessions = [psycopg.connect(dsn, autocommit=True) for _ in range(connections)]
    try:
        pids = []
        for conn in sessions:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            pids.append(int(row[0]))
        return pids
    finally:
        for conn in sessions:
            conn.close()


@pytest.mark.slow
@pytest.mark.skipif(len(machine_cores()) < 2, reason="placement needs two cores or more")
def test_pinned_clusters_keep_every_process_on_their_own_core(
    local_provider: LocalProvider,
) -> None:
    first, second = sorted(machine_cores())[:2]
    with (
        local_provider.cluster("quiet", cpus=frozenset({first})) as quiet,
        local_provider.cluster("noisy", cpus=frozenset({second})) as noisy,
    ):
        for cluster, core in ((quiet, first), (noisy, second)):
            assert cluster.pid is not None
            server = psutil.Process(cluster.pid)
            # the postmaster, its background workers and every backend it forks
            assert server.cpu_affinity() == [core]
            assert {tuple(child.cpu_affinity()) for child in server.children()} == {(core,)}
            for pid in _backend_pids(cluster.endpoint.dsn, 3):
                assert psutil.Process(pid).cpu_affinity() == [core]


@pytest.mark.slow
@pytest.mark.skipif(len(machine_cores()) < 2, reason="placement needs two cores or more")
def test_an_unpinned_cluster_may_use_every_core(local_provider: LocalProvider) -> None:
    with local_provider.cluster("shared") as shared:
        assert shared.pid is not None
        server = psutil.Process(shared.pid)
        assert sorted(server.cpu_affinity()) == sorted(machine_cores())
        for pid in _backend_pids(shared.endpoint.dsn, 2):
            assert sorted(psutil.Process(pid).cpu_affinity()) == sorted(machine_cores())
