"""CPU placement: a cluster pinned to its own cores is not slowed by a busy neighbour."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import psycopg
import pytest

from harness.providers.local import LocalCluster, LocalProvider
from harness.stack.placement import machine_cores

# CPU only: two small series joined (a million rows per unit of ``%s``), nothing spilled
# to disk, so the time measured is CPU time plus waiting for a core
WORK = "SELECT count(*) FROM generate_series(1, 1000) a, generate_series(1, %s) b"


def timed(dsn: str, rows: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(WORK, (rows,))
        return time.perf_counter() - started


@contextmanager
def busy(dsn: str, workers: int) -> Iterator[None]:
    """``workers`` connections running CPU-bound queries until the block ends."""
    stop = threading.Event()

    def hog() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute(WORK, (3_000,))

    threads = [threading.Thread(target=hog, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the neighbour is at full load before the measured query starts
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def slowdown(quiet: LocalCluster, noisy: LocalCluster) -> float:
    """How much the noisy cluster's load slows a CPU-bound query on the quiet one."""
    rows = 8_000
    alone = min(timed(quiet.endpoint.dsn, rows) for _ in range(2))
    # more busy backends than cores: unpinned, they would take every core
    with busy(noisy.endpoint.dsn, workers=2 * len(machine_cores())):
        crowded = min(timed(quiet.endpoint.dsn, rows) for _ in range(2))
    return crowded / alone


@pytest.mark.slow
@pytest.mark.skipif(len(machine_cores()) < 2, reason="placement needs two cores or more")
def test_a_pinned_cluster_is_not_slowed_by_a_busy_one_and_a_shared_one_is(
    local_provider: LocalProvider,
) -> None:
    first, second = sorted(machine_cores())[:2]
    pinned_quiet = local_provider.cluster("quiet", cpus=frozenset({first}))
    pinned_noisy = local_provider.cluster("noisy", cpus=frozenset({second}))
    with pinned_quiet, pinned_noisy:
        assert pinned_quiet.pid is not None
        server = psutil.Process(pinned_quiet.pid)
        # the postmaster and every backend it forks stay on their core
        with psycopg.connect(pinned_quiet.endpoint.dsn) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert backend is not None
            assert psutil.Process(backend[0]).cpu_affinity() == [first]
        assert server.cpu_affinity() == [first]
        pinned = slowdown(pinned_quiet, pinned_noisy)
    with (
        local_provider.cluster("quiet-shared") as quiet,
        local_provider.cluster("noisy-shared") as noisy,
    ):
        assert quiet.pid is not None
        assert len(psutil.Process(quiet.pid).cpu_affinity()) >= 2
        shared = slowdown(quiet, noisy)
    # other load on the machine (anything unpinned) still lands on the quiet core: the bound
    # leaves room for it, and the shared case must be clearly worse than the pinned one
    assert pinned < 1.4, f"pinned: {pinned:.2f}x slower next to a busy cluster"
    assert shared > 1.3 * pinned, f"shared {shared:.2f}x vs pinned {pinned:.2f}x"
