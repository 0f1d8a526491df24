"""The replica system's hot standby: what its settings decide when a long report meets writes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from harness.core.polling import wait_until
from harness.providers.binaries import find_binaries
from harness.providers.local import LocalCluster, LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS
from harness.run.sampler import REPLAY_LAG
from shop.errors import RECOVERY_CONFLICT, database_error

REPORT = "SELECT count(*), sum(x) FROM report_rows, pg_sleep(4)"


@contextmanager
def primary_and_standby(
    home: Path, **standby_settings: str
) -> Iterator[tuple[LocalCluster, LocalCluster]]:
    provider = LocalProvider(
        home=home, binaries=find_binaries(), settings={**BENCHMARK_SETTINGS, **standby_settings}
    )
    with provider.cluster("primary") as primary:
        with psycopg.connect(primary.endpoint.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE report_rows AS SELECT g AS x FROM generate_series(1, 50000) g"
            )
            conn.execute("ALTER TABLE report_rows SET (autovacuum_enabled = off)")
        with provider.cluster("standby", standby_of=primary.endpoint) as standby:
            wait_until(
                lambda: replayed(primary, standby), timeout=30, what="the standby to catch up"
            )
            yield primary, standby


def replayed(primary: LocalCluster, standby: LocalCluster) -> bool:
    with psycopg.connect(primary.endpoint.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    with psycopg.connect(standby.endpoint.dsn, autocommit=True) as conn:
        done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
    return done == (True,)


def report_on(standby: LocalCluster, outcome: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            with psycopg.connect(standby.endpoint.dsn, autocommit=True) as conn:
                outcome["rows"] = conn.execute(REPORT).fetchone()
        except psycopg.Error as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def writes_that_vacuum_away_what_the_report_reads(
    primary: LocalCluster, standby: LocalCluster
) -> None:
    with psycopg.connect(standby.endpoint.dsn, autocommit=True) as conn:
        wait_until(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = %s", (REPORT,)
                ).fetchone()
                == (1,)
            ),
            timeout=10,
            what="the report to run on the standby",
        )
    with psycopg.connect(primary.endpoint.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM report_rows WHERE x % 2 = 0")
        conn.execute("VACUUM report_rows")


@pytest.mark.slow
def test_without_feedback_a_long_report_is_cancelled_by_replay(bench_home: Path) -> None:
    settings = {"hot_standby_feedback": "off", "max_standby_streaming_delay": "200ms"}
    with primary_and_standby(bench_home, **settings) as (primary, standby):
        outcome: dict[str, object] = {}
        thread = report_on(standby, outcome)
        writes_that_vacuum_away_what_the_report_reads(primary, standby)
        thread.join(timeout=30)
    error = outcome.get("error")
    assert isinstance(error, psycopg.Error), outcome
    assert "conflict with recovery" in str(error)
    # the app answers it as its own kind of failure, which the recorder counts apart
    mapped = database_error(error)
    assert (mapped.status, mapped.code) == (503, RECOVERY_CONFLICT)


@pytest.mark.slow
def test_with_unbounded_delay_the_report_finishes_and_replay_falls_behind(
    bench_home: Path,
) -> None:
    settings = {"hot_standby_feedback": "off", "max_standby_streaming_delay": "-1"}
    with primary_and_standby(bench_home, **settings) as (primary, standby):
        outcome: dict[str, object] = {}
        thread = report_on(standby, outcome)
        writes_that_vacuum_away_what_the_report_reads(primary, standby)
        behind: list[float] = []
        with psycopg.connect(standby.endpoint.dsn, autocommit=True) as conn:

            def lag_seen() -> bool:
                row = conn.execute(REPLAY_LAG).fetchone()
                if row is not None and row[0] is not None and float(row[0]) > 0:
                    behind.append(float(row[0]))
                return len(behind) >= 3

            wait_until(lag_seen, timeout=10, what="replay to fall behind", interval=0.2)
        thread.join(timeout=30)
        wait_until(lambda: replayed(primary, standby), timeout=30, what="replay to catch up")
    assert "error" not in outcome, outcome
    assert outcome["rows"] == (50000, 50000 * 50001 // 2)  # the report saw its snapshot whole
    assert max(behind) > 0
