"""Database CPU that adds up: processes that exit between two samples are counted too."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import psycopg
import pytest

from harness.providers.local import LocalProvider
from harness.run.sampler import Sampler

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PARALLEL = (
    "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;"
    " SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0"
)


def proc_cpu_seconds(root: int) -> float:
    """What /proc accounts to a process tree so far, reaped children included.

    Read straight from /proc/<pid>/stat (utime, stime, cutime, cstime) for the
    root and every live descendant: an independent count of what the sampler
    integrates one interval at a time.
    """
    total = 0
    family = [root, *(p.pid for p in psutil.Process(root).children(recursive=True))]
    for pid in family:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # exited since the listing: its time is in its parent's cutime
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def short_lived_parallel_queries(dsn: str, stop: threading.Event) -> int:
    """A new connection per query, each query with parallel workers: processes that
    are born and gone between two samples."""
    done = 0
    while not stop.is_set():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(PARALLEL)
            conn.execute("SELECT count(*), sum(x % 7) FROM numbers WHERE x % 3 = 0").fetchone()
        done += 1
    return done


@pytest.mark.slow
def test_sampled_db_cpu_matches_what_proc_accounts_for_the_whole_tree(
    local_provider: LocalProvider, tmp_path: Path
) -> None:
    with local_provider.cluster("cpu") as cluster:
        dsn = cluster.endpoint.dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE numbers AS SELECT g AS x FROM generate_series(1, 1500000) AS g"
            )
            conn.execute("VACUUM ANALYZE numbers")
        postmaster = cluster.pid
        assert postmaster is not None
        stop = threading.Event()
        queries: list[int] = []
        before = proc_cpu_seconds(postmaster)
        with Sampler(tmp_path, {"db": postmaster}, {}, None, interval_s=0.5):
            time.sleep(0.8)  # the sampler's first interval starts from its baseline
            worker = threading.Thread(
                target=lambda: queries.append(short_lived_parallel_queries(dsn, stop))
            )
            worker.start()
            time.sleep(5)
            stop.set()
            worker.join(timeout=60)
            time.sleep(1.2)  # idle, so the last interval closes on a quiet tree
        after = proc_cpu_seconds(postmaster)
    assert queries
    assert queries[0] >= 3
    truth = after - before
    samples = pd.read_csv(tmp_path / "resources.csv")
    db = samples[samples["component"] == "db"]
    sampled = float((db["cpu_pct"] / 100 * db["interval_s"]).sum())
    assert truth > 1.0  # the load was real: seconds of CPU, mostly in parallel workers
    assert sampled == pytest.approx(truth, rel=0.05), (sampled, truth)
