"""The projector survives its own errors (issue 16), against real PostgreSQL clusters.

- an error that hits every event (a missing table, a revoked grant) stops applying:
  no dead letters, the outbox kept, the reason recorded; fixed, it catches up;
- an event that cannot be applied (a data error, a naive timestamp) goes to
  dead_letters alone, and the projector process lives on;
- rebuild under a running projector: a batch read before the rebuild is refused
  by the checkpoint's compare-and-set (the checkpoint carries a generation);
- a transaction left open on the write database is named (pid, age, query) as
  what holds the projection back.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from cqrs_app.projector import Projector, ProjectorConfig, horizon_blockers
from cqrs_app.readmodels import pending_events, rebuild, verify
from harness.core.polling import wait_until
from shop.metrics import samples
from tests.integration.test_cqrs_faults import cqrs_stack, dsns, event, summary_exists
from tests.shopdata import scalar


def add_event(write: str, payload: dict[str, object], event_type: str = "OrderPlaced") -> None:
    with psycopg.connect(write) as conn:
        conn.execute(
            "INSERT INTO outbox (event_type, payload) VALUES (%s, %s)", (event_type, Jsonb(payload))
        )


def stalled_reason(read: str) -> object:
    return scalar(read, "SELECT stalled_reason FROM projector_checkpoint WHERE id = 1")


@pytest.mark.slow
def test_a_missing_table_stalls_the_projector_without_dead_letters(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        with psycopg.connect(read, autocommit=True) as conn:
            conn.execute("ALTER TABLE daily_revenue RENAME TO daily_revenue_away")
        for order_id in (910_001, 910_002, 910_003):
            add_event(write, event(order_id))
        wait_until(
            lambda: "daily_revenue" in str(stalled_reason(read) or ""),
            timeout=20,
            what="the projector to record why it stopped",
        )
        assert scalar(read, "SELECT count(*) FROM dead_letters") == 0
        assert scalar(write, "SELECT count(*) FROM outbox") == 3  # nothing pruned
        assert pending_events(write, read) == 3
        assert stack.services["projector"].alive()
        with psycopg.connect(read, autocommit=True) as conn:
            conn.execute("ALTER TABLE daily_revenue_away RENAME TO daily_revenue")
        wait_until(lambda: summary_exists(read, 910_003), timeout=20, what="the catch-up")
        assert stalled_reason(read) is None
        assert scalar(read, "SELECT count(*) FROM dead_letters") == 0


@pytest.mark.slow
def test_one_bad_event_is_dead_lettered_alone_and_the_process_lives(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        projector = stack.services["projector"]
        worker = projector.worker_pid
        assert worker is not None
        naive = {**event(910_011), "created_at": "2026-11-28T12:00:00"}  # no time zone
        too_big = {**event(910_012), "total_cents": 2**62, "loyalty_points": 2**40}
        add_event(write, event(910_010))
        add_event(write, naive)
        add_event(write, too_big)
        add_event(write, event(910_013))
        wait_until(lambda: summary_exists(read, 910_013), timeout=20, what="the last good event")
        assert summary_exists(read, 910_010)
        with psycopg.connect(read) as conn:
            dead = conn.execute(
                "SELECT payload->>'order_id', error FROM dead_letters ORDER BY id"
            ).fetchall()
        assert [d[0] for d in dead] == ["910011", "910012"], dead
        assert "time zone" in dead[0][1]
        assert projector.alive()
        assert projector.wait(timeout=0.1) is None
        assert projector.worker_pid == worker  # the same process: its supervisor restarted none


@pytest.mark.slow
def test_a_batch_read_before_a_rebuild_is_refused_after_it(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        stack.services["projector"].stop()
        add_event(write, event(910_020))
        stale = Projector(ProjectorConfig(write, read))
        try:
            stale._connect()
            checkpoint = stale._checkpoint()
            rows = stale._fetch(checkpoint)
            assert [int(r[3]["order_id"]) for r in rows] == [910_020]
            stale._read.rollback()  # type: ignore[union-attr]
            # the read models now come from the write tables, the event's rows included
            # in its snapshot (this synthetic event has no order behind it)
            rebuild(write, read)
            assert stale._apply(rows, checkpoint) is False
        finally:
            stale._close()
        # applied after the rebuild, the stale batch would add an order no table has
        count = scalar(read, "SELECT count(*) FROM order_summaries WHERE order_id = 910020")
        assert count == 0
        assert verify(write, read)["difference_count"] == 0


@pytest.mark.slow
def test_an_open_write_transaction_is_named_as_what_holds_the_projection(
    session_home: Path,
) -> None:
    with cqrs_stack(session_home) as stack:
        write, _read = dsns(stack)
        with psycopg.connect(write) as holder:
            holder.execute("SELECT count(*) FROM orders /* left open on purpose */")
            holder.execute("SELECT pg_current_xact_id()")
            pid = holder.info.backend_pid
            blockers = wait_until(
                lambda: horizon_blockers(write) or None, timeout=10, what="the blocker to show"
            )
            assert blockers[0]["pid"] == pid
            assert blockers[0]["age_s"] >= 0
            assert "pg_current_xact_id" in blockers[0]["query"]
            assert blockers[0]["state"] == "idle in transaction"
            # the app's /metrics.json (read by status) and /metrics (by the sampler and
            # Prometheus) say the same
            projection = httpx.get(f"{stack.url}/metrics.json", timeout=10).json()["projection"]
            assert projection["horizon_blockers"][0]["pid"] == pid
            found = samples(httpx.get(f"{stack.url}/metrics", timeout=10).text)
            assert found["shop_projection_horizon_blocker_pid"] == [({}, float(pid))]
            assert found["shop_projection_horizon_blocker_age_seconds"][0][1] >= 0
        wait_until(lambda: horizon_blockers(write) == [], timeout=10, what="no blocker")
