"""The CQRS system under faults: late committers, crashes, outages, rivals, bad events."""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from cqrs_app.projector import FETCH_COMMIT_ORDER, FETCH_NAIVE
from cqrs_app.readmodels import MODELS, pending_events, rebuild, verify
from harness.core.polling import TimeoutWaiting, wait_until
from harness.providers import ProviderConfig, ProviderKind
from harness.providers.local import LocalCluster
from harness.stack.readmodels import (
    last_order_id,
    projection_lags,
    projection_outcome,
    wait_caught_up,
)
from harness.stack.services import PythonService
from harness.stack.stacks import Stack, StackConfig, SystemKind
from tests.conftest import run_cli
from tests.shopdata import TINY, scalar


@contextmanager
def cqrs_stack(home: Path, *projector_args: str) -> Iterator[Stack]:
    config = StackConfig(
        system=SystemKind.CQRS,
        provider=ProviderConfig(home=home, kind=ProviderKind.LOCAL),
        spec=TINY,
        progress=False,
        projector_args=projector_args,
    )
    with Stack(config) as stack:
        yield stack


def dsns(stack: Stack) -> tuple[str, str]:
    return stack.clusters["write"].endpoint.dsn, stack.clusters["read"].endpoint.dsn


def caught_up(stack: Stack, timeout: float = 30) -> float:
    return wait_caught_up(*dsns(stack), timeout=timeout, what="catch-up", interval=0.05)


class CheckoutStream:
    """Checkouts posted back to back from a thread until stopped; counts the outcomes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.errors: list[str] = []
        # every outcome, in order: (monotonic s at the answer, status or error, order id of a 2xx)
        self.outcomes: list[tuple[float, int | str, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CheckoutStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        rng = random.Random(3)
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                items = [
                    {"product_id": pid, "quantity": rng.randint(1, 2)}
                    for pid in rng.sample(range(1, TINY.products + 1), rng.randint(1, 3))
                ]
                try:
                    response = client.post(
                        "/checkout", json={"user_id": rng.randint(1, TINY.users), "items": items}
                    )
                    self.statuses.append(response.status_code)
                    order_id = response.json().get("order_id") if response.is_success else None
                    self.outcomes.append((time.monotonic(), response.status_code, order_id))
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    self.outcomes.append((time.monotonic(), type(exc).__name__, None))


def event(order_id: int) -> dict[str, Any]:
    return {
        "version": 1,
        "order_id": order_id,
        "user_id": 1,
        "user_name": "Late Committer",
        "status": "paid",
        "status_label": "Paid",
        "total_cents": 1000,
        "created_at": "2026-11-28T12:00:00+00:00",
        "loyalty_points": 10,
        "refund_deadline": "2026-12-28",
        "lines": [{"product_id": 1, "category": "Books", "quantity": 1, "unit_price_cents": 1000}],
    }


def summary_exists(read_dsn: str, order_id: int) -> bool:
    with psycopg.connect(read_dsn) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM order_summaries WHERE order_id = %s", (order_id,)
            ).fetchone()
            is not None
        )


# Both projector cursors read the outbox with a query that starts with this line.
FETCH_HEAD = FETCH_COMMIT_ORDER.strip().splitlines()[0]
assert FETCH_NAIVE.strip().splitlines()[0] == FETCH_HEAD


def projector_read_outbox_since(write_dsn: str, since: datetime) -> bool:
    """The projector has finished a read of the outbox that started after ``since``."""
    with psycopg.connect(write_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND state = 'idle' AND query_start > %s"
            " AND position(%s in query) > 0",
            (since, FETCH_HEAD),
        ).fetchone()
    return bool(row and row[0])


@dataclass
class LateCommit:
    later_held_back: bool  # the later event was not applied while the earlier one was open
    applied: bool  # in the end, both events were applied


def late_committer(stack: Stack) -> LateCommit:
    """A transaction takes its outbox id first and commits after a later one."""
    write, read = dsns(stack)
    early = psycopg.connect(write)
    try:
        early.execute(
            "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', %s)",
            (Jsonb(event(900_001)),),
        )
        with psycopg.connect(write) as late:
            late.execute(
                "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', %s)",
                (Jsonb(event(900_002)),),
            )
        with psycopg.connect(write, autocommit=True) as observer:
            ids = observer.execute(
                "SELECT payload->>'order_id', id FROM outbox"
                " WHERE payload->>'order_id' LIKE '90000%' ORDER BY id"
            ).fetchall()
            now = observer.execute("SELECT clock_timestamp()").fetchone()
        assert [row[0] for row in ids] == ["900002"]  # the early one is not committed yet
        assert now is not None
        # The projector reads the outbox once more while the early transaction is
        # open: the later row is committed and visible to that read, the early
        # one is not. Whatever the cursor does with it is decided by then.
        wait_until(
            lambda: projector_read_outbox_since(write, now[0]),
            timeout=10,
            what="the projector to read the outbox after the later commit",
        )
        held_back = not summary_exists(read, 900_002)
        early.commit()
    finally:
        early.close()
    try:
        wait_until(lambda: summary_exists(read, 900_002), timeout=10, what="the later event")
        wait_until(
            lambda: summary_exists(read, 900_001), timeout=5, what="the late committer's event"
        )
    except TimeoutWaiting:
        return LateCommit(held_back, applied=False)
    return LateCommit(held_back, applied=True)


@pytest.mark.slow
def test_late_committer_is_applied_in_commit_order(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        assert late_committer(stack) == LateCommit(later_held_back=True, applied=True)


@pytest.mark.slow
def test_the_same_scenario_defeats_a_naive_id_cursor(session_home: Path) -> None:
    with cqrs_stack(session_home, "--cursor", "naive") as stack:
        assert not late_committer(stack).applied
        assert summary_exists(dsns(stack)[1], 900_002)  # it applied the later one and moved on


@pytest.mark.slow
def test_projector_killed_twenty_times_applies_everything_exactly_once(session_home: Path) -> None:
    rng = random.Random(11)
    with cqrs_stack(session_home) as stack:
        projector = stack.services["projector"]
        extra: list[PythonService] = []
        kills = 0
        with CheckoutStream(stack.url) as stream:
            while kills < 20:
                time.sleep(rng.uniform(0.3, 1.2))  # kill at a random moment of the stream
                pid = projector.worker_pid  # the stack's own: the supervised process
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                kills += 1
                projector = stack.projector_service().start()
                extra.append(projector)
        try:
            assert stream.errors == []
            assert set(stream.statuses) <= {200, 409}
            assert stream.statuses.count(200) > 50
            caught_up(stack)
            report = verify(*dsns(stack))
            assert report["difference_count"] == 0, report["differences"][:5]
            applied = scalar(dsns(stack)[1], "SELECT events_applied FROM projector_checkpoint")
            assert isinstance(applied, int)
            assert applied >= stream.statuses.count(200)
        finally:
            for service in extra:
                service.stop()


@pytest.mark.slow
def test_read_database_down_for_fifteen_seconds(
    session_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with cqrs_stack(session_home) as stack:
        read_cluster = stack.clusters["read"]
        assert isinstance(read_cluster, LocalCluster)
        with CheckoutStream(stack.url) as stream:
            wait_until(
                lambda: stream.statuses.count(200) >= 5, timeout=30, what="checkouts to flow"
            )
            read_cluster.suspend()
            outage_started = len(stream.statuses)
            time.sleep(15)  # the outage itself
            during = stream.statuses[outage_started:]
            read_cluster.resume()
            resumed_at = time.monotonic()
        assert stream.errors == []
        assert during, "checkouts must go on while the read database is down"
        assert set(stream.statuses) <= {200, 409}
        caught_up(stack, timeout=60)
        catch_up_s = time.monotonic() - resumed_at
        report = verify(*dsns(stack))
        assert report["difference_count"] == 0, report["differences"][:5]
        with capsys.disabled():
            print(
                f"\n[read DB outage] {len(during)} checkouts during 15 s down; caught up {catch_up_s:.2f} s after it came back"
            )


@pytest.mark.slow
def test_two_projectors_at_once_one_leads_totals_exact(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        rivals = [stack.projector_service(), stack.projector_service()]
        for rival in rivals:
            rival.start()
        try:
            with CheckoutStream(stack.url) as stream:
                wait_until(
                    lambda: stream.statuses.count(200) >= 50,
                    timeout=60,
                    what="50 checkouts with both projectors running",
                )
            caught_up(stack)
            with psycopg.connect(dsns(stack)[1]) as conn:
                holders = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                ).fetchone()
            assert holders == (1,)
            assert all(r.alive() for r in rivals)
            report = verify(*dsns(stack))
            assert report["difference_count"] == 0, report["differences"][:5]
        finally:
            for rival in rivals:
                rival.stop()


def read_model_rows(read_dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(read_dsn) as conn:
        return {
            m.table: conn.execute(
                f"SELECT {', '.join(m.columns)} FROM {m.table} ORDER BY {', '.join(m.key)}"
            ).fetchall()
            for m in MODELS
        }


@pytest.mark.slow
def test_rebuild_from_scratch_equals_the_incremental_read_models(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        with CheckoutStream(stack.url) as stream:
            wait_until(lambda: stream.statuses.count(200) >= 30, timeout=60, what="30 checkouts")
        caught_up(stack)
        stack.services["projector"].stop()
        write, read = dsns(stack)
        incremental = read_model_rows(read)
        rebuild(write, read)
        assert read_model_rows(read) == incremental


@pytest.mark.slow
def test_bad_event_goes_to_dead_letters_and_the_rest_is_applied(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        with psycopg.connect(write) as conn:
            conn.execute(
                "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', %s)",
                (Jsonb({"nonsense": True}),),
            )
            conn.execute(
                "INSERT INTO outbox (event_type, payload) VALUES ('Mystery', %s)",
                (Jsonb(event(900_010)),),
            )
            conn.execute(
                "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', %s)",
                (Jsonb(event(900_011)),),
            )
        wait_until(lambda: summary_exists(read, 900_011), timeout=10, what="the good event")
        with psycopg.connect(read) as conn:
            dead = conn.execute("SELECT event_type, error FROM dead_letters ORDER BY id").fetchall()
        assert [d[0] for d in dead] == ["OrderPlaced", "Mystery"]
        assert "malformed" in dead[0][1]
        assert "unknown event type" in dead[1][1]
        assert pending_events(write, read) == 0
        # applied rows at or below the checkpoint are pruned from the outbox
        wait_until(
            lambda: scalar(write, "SELECT count(*) FROM outbox") == 0,
            timeout=10,
            what="the outbox to be pruned",
        )


@pytest.mark.slow
def test_verify_lists_every_difference_and_exits_1(session_home: Path) -> None:
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        clean = run_cli(session_home, "verify", "--write-dsn", write, "--read-dsn", read, "--json")
        assert clean.returncode == 0, clean.stderr
        assert clean.json()["difference_count"] == 0
        with psycopg.connect(read) as conn:
            conn.execute(
                "UPDATE customer_stats SET lifetime_cents = lifetime_cents + 1 WHERE user_id = 1"
            )
            conn.execute("DELETE FROM order_summaries WHERE order_id = 2")
            conn.execute("UPDATE daily_revenue SET orders = orders + 1 WHERE day = '2026-11-27'")
        dirty = run_cli(session_home, "verify", "--write-dsn", write, "--read-dsn", read, "--json")
        assert dirty.returncode == 1
        report = dirty.json()
        assert report["difference_count"] == 3
        found = {(d["model"], d["problem"]) for d in report["differences"]}  # type: ignore[union-attr,index]
        assert found == {
            ("customer_stats", "differs"),
            ("order_summaries", "missing"),
            ("daily_revenue", "differs"),
        }
        assert (
            run_cli(session_home, "rebuild", "--write-dsn", write, "--read-dsn", read).returncode
            == 0
        )
        assert (
            run_cli(session_home, "verify", "--write-dsn", write, "--read-dsn", read).returncode
            == 0
        )


@pytest.mark.slow
def test_projection_lag_runs_from_the_write_commit_not_the_order_time(session_home: Path) -> None:
    """An order whose transaction commits 1.5 s after it began: commit-to-commit lag stays
    small, while the lag from the order's own timestamp would count the wait as lag."""
    with cqrs_stack(session_home) as stack:
        write, read = dsns(stack)
        seeded = last_order_id(write)
        with psycopg.connect(write) as conn:
            row = conn.execute(
                "INSERT INTO orders (user_id, total_cents, status) VALUES (1, 1000, 'paid')"
                " RETURNING id"
            ).fetchone()
            assert row is not None
            order_id = int(row[0])
            conn.execute(
                "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', %s)",
                (Jsonb({**event(order_id), "created_at": datetime.now(UTC).isoformat()}),),
            )
            time.sleep(1.5)  # the scenario: a transaction that commits late
        caught_up(stack)
        outcome = projection_outcome(write, read, seeded)
        assert (outcome.placed, outcome.projected, outcome.unprojected) == (1, 1, [])
        (_, projected_id, lag_ms) = outcome.lags[0]
        assert projected_id == order_id
        assert 0 <= lag_ms < 1000
        from_order_time = {oid: lag for _, oid, lag in projection_lags(read, seeded)}
        assert from_order_time[order_id] >= 1500  # what the old measure would have reported
        # an order placed and never projected is counted, never silently left out
        with psycopg.connect(write) as conn:
            conn.execute(
                "INSERT INTO orders (user_id, total_cents, status) VALUES (1, 500, 'paid')"
            )
        missing = projection_outcome(write, read, seeded)
        assert (missing.placed, missing.projected, len(missing.unprojected)) == (2, 1, 1)


def stack_status(home: Path, stack: Stack) -> dict[str, Any]:
    report = run_cli(home, "status", "--json", check=True).json()
    stacks = report["stacks"]
    assert isinstance(stacks, list)
    mine = [s for s in stacks if s["stack_dir"] == str(stack.directory)]
    assert len(mine) == 1, stacks
    return dict(mine[0])


@pytest.mark.slow
def test_projector_killed_by_sigkill_is_restarted_and_status_counts_it(
    session_home: Path,
) -> None:
    with cqrs_stack(session_home) as stack:
        projector = stack.services["projector"]
        first = projector.worker_pid
        assert first is not None
        assert stack_status(session_home, stack)["projector"]["restarts"] == 0
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: projector.worker_pid not in (None, first),
            timeout=20,
            what="the supervisor to start the projector again",
        )
        status = stack_status(session_home, stack)
        assert status["projector"]["restarts"] == 1
        assert status["projector"]["last_exit"] == -signal.SIGKILL
        assert status["healthy"], status["alive"]
        human = run_cli(session_home, "status", check=True)
        assert "restarts=1" in human.stderr
        # projection goes on with the new process
        seeded = last_order_id(dsns(stack)[0])
        with CheckoutStream(stack.url) as stream:
            wait_until(lambda: stream.statuses.count(200) >= 20, timeout=60, what="20 checkouts")
        caught_up(stack)
        outcome = projection_outcome(*dsns(stack), seeded)
        assert outcome.placed >= 20
        assert outcome.unprojected == []
        assert verify(*dsns(stack))["difference_count"] == 0


OUTAGE_S = 3.0  # how long the write database stays down after its kill -9


@pytest.mark.slow
def test_write_database_killed_during_a_checkout_stream_loses_no_acknowledged_order(
    session_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with cqrs_stack(session_home) as stack:
        write_cluster = stack.clusters["write"]
        assert isinstance(write_cluster, LocalCluster)
        with CheckoutStream(stack.url) as stream:
            wait_until(lambda: stream.statuses.count(200) >= 20, timeout=30, what="checkouts")
            killed_at = time.monotonic()
            write_cluster.crash()  # kill -9 of the postmaster
            time.sleep(OUTAGE_S)  # the outage itself
            write_cluster.resume()  # crash recovery, same data and port
            back_at = time.monotonic()
            wait_until(
                lambda: any(t > back_at and s == 200 for t, s, _ in stream.outcomes),
                timeout=30,
                what="the app to place an order again by itself",
            )
            recovered_at = next(t for t, s, _ in stream.outcomes if t > back_at and s == 200)
            ok_after = stream.statuses.count(200) + 20
            wait_until(lambda: stream.statuses.count(200) >= ok_after, timeout=30, what="20 more")
        acknowledged = [oid for _, s, oid in stream.outcomes if s == 200]
        assert all(isinstance(oid, int) for oid in acknowledged)
        failed = [(t, s) for t, s, _ in stream.outcomes if s not in (200, 409)]
        # errors only while the database was down (and the first answer after it)
        assert all(killed_at <= t <= recovered_at for t, _ in failed), failed
        write, read = dsns(stack)
        with psycopg.connect(write) as conn:
            row = conn.execute(
                "SELECT count(*) FROM orders WHERE id = ANY(%s)", (acknowledged,)
            ).fetchone()
        assert row == (len(acknowledged),), "an acknowledged order was lost"
        answered = [t for t, _, _ in stream.outcomes]
        longest_wait = max(b - a for a, b in itertools.pairwise(answered))
        catch_up_started = time.monotonic()
        caught_up(stack, timeout=60)
        catch_up_s = time.monotonic() - catch_up_started
        report = verify(write, read)
        assert report["difference_count"] == 0, report["differences"][:5]
        with capsys.disabled():
            print(
                f"\n[write DB kill -9] outage {back_at - killed_at:.2f} s (kill to accepting"
                f" again); {len(failed)} failed checkouts of {len(stream.outcomes)}"
                f" ({', '.join(sorted({str(s) for _, s in failed})) or 'none'}), all while it"
                f" was down; longest wait between two answers {longest_wait:.2f} s (requests"
                f" held by the pool until the database was back); app placing orders again"
                f" {recovered_at - back_at:.2f} s after the"
                f" database was back; {len(acknowledged)} acknowledged orders, 0 lost;"
                f" projector caught up {catch_up_s:.2f} s later; verify: 0 differences"
            )
