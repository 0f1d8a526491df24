"""How much a busy cluster slows a CPU-bound query on another, pinned apart and sharing cores.

    python benchmarks/bench_cpu_placement.py [--rounds 3]

Starts two local clusters pinned to one core each (the ``split`` idea), then
two that share every core (``shared``). In each pair it times a CPU-bound
query on the quiet cluster alone, then while the noisy one runs twice as many
CPU-bound backends as the machine has cores, and prints the slowdowns. Pinned
apart, the quiet cluster should be barely slowed and clearly less than when
sharing; a host whose virtual cores share physical ones (hyperthread
siblings) shows a pinned slowdown too, which is what this prints instead of a
test asserting it.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from harness.core.paths import default_home
from harness.providers.binaries import find_binaries
from harness.providers.local import LocalCluster, LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS
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
    stop.wait(0.5)  # the neighbour is at full load before the measured query starts
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
    with busy(noisy.endpoint.dsn, workers=2 * len(machine_cores())):
        crowded = min(timed(quiet.endpoint.dsn, rows) for _ in range(2))
    return crowded / alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = sorted(machine_cores())
    if len(cores) < 2:
        raise SystemExit("placement needs two cores or more")
    # the clusters live (and are removed) under the harness's home, as calibrate's do
    provider = LocalProvider(
        home=default_home(), binaries=find_binaries(None), settings=BENCHMARK_SETTINGS
    )
    for round_ in range(1, args.rounds + 1):
        with (
            provider.cluster("quiet", cpus=frozenset({cores[0]})) as quiet,
            provider.cluster("noisy", cpus=frozenset({cores[1]})) as noisy,
        ):
            pinned = slowdown(quiet, noisy)
        with (
            provider.cluster("quiet-shared") as quiet,
            provider.cluster("noisy-shared") as noisy,
        ):
            shared = slowdown(quiet, noisy)
        print(
            f"round {round_}: pinned apart {pinned:.2f}x slower next to a busy cluster,"
            f" sharing every core {shared:.2f}x ({shared / pinned:.2f} times the pinned)"
        )


if __name__ == "__main__":
    main()
