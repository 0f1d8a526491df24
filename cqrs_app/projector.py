"""The projector: outbox (write database) -> read models (read database).

It reads the outbox in commit order without ever skipping a late committer:
a row is read only once its transaction id is below the write database's
snapshot xmin (every transaction that could still commit beneath it has
finished), ordered and checkpointed by (xid, id). A cursor on ``id`` alone
(``--cursor naive``, kept only to show the failure) skips a transaction that
took its id first and committed last.

Each batch is aggregated in memory and applied to the read database in one
transaction together with a compare-and-set of the checkpoint, so a crash at
any point applies every event exactly once. One projector leads (a session
advisory lock on the read database); others wait. The checkpoint carries a
generation that ``rebuild`` bumps, so a batch read before a rebuild is never
applied after it.

Errors are told apart by what they hit. A data error (SQLSTATE classes 22 and
23) or any other exception raised by one event sends that event, alone, to
``dead_letters``. An error that would hit every event (a missing table, a
revoked grant: classes 42 and the like) stops applying: nothing is
dead-lettered, the outbox is kept, the reason is written to the checkpoint
(``stalled_reason``) and the projector retries with back-off; so does any
other exception met outside one event (a bug), and the stack runs the process
under a supervisor that restarts it should it die anyway. When a database
is down the projector retries; checkout never waits for it. Its connections
carry TCP keepalives and timeouts (a half-open socket cannot hold the leader
lock forever) and run in UTC.

Its own Prometheus metrics (events and batches applied, each batch's lag and
apply time, dead letters, leadership, stalls) are served at
``http://HOST:PORT/metrics`` when ``--port`` is given (on 127.0.0.1 unless
``--host`` says otherwise). The outbox backlog needs the write database: the
app's ``/metrics`` has it.

Run: ``python -m cqrs_app.projector [--port N]`` with CQRS_BENCH_WRITE_DSN and CQRS_BENCH_READ_DSN.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Literal

import psycopg
from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from psycopg.types.json import Jsonb

from cqrs_app.events import NOTIFY_CHANNEL, BadEvent, OrderPlaced, parse_event
from cqrs_app.readmodels import Batch, apply_batch
from cqrs_app.settings import READ_DSN_ENV, WRITE_DSN_ENV
from shop.server import with_session_options

log = logging.getLogger("projector")

# This process's metrics (one projector per process; the default registry), without the
# ``*_created`` series (noise on a dashboard).
disable_created_metrics()  # type: ignore[no-untyped-call]
EVENTS_APPLIED = Counter("projector_events_applied", "Outbox events this process applied")
BATCHES_APPLIED = Counter("projector_batches_applied", "Batches this process committed")
DEAD_LETTERED = Counter("projector_dead_letters", "Events this process sent to dead_letters")
BATCH_LAG = Gauge(
    "projector_last_batch_lag_seconds",
    "Age of the oldest event of the last batch this process applied, at its commit",
)
APPLY_SECONDS = Histogram(
    "projector_batch_apply_seconds",
    "Time to apply one batch and commit it with the checkpoint",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LEADER = Gauge("projector_leader", "1 while this process holds the leader lock")
STALLED = Gauge(
    "projector_stalled", "1 while applying is stopped by an error that would hit every event"
)

LEADER_LOCK_KEY = 0x0C0B5  # any constant shared by every projector of this read database
Cursor = Literal["commit-order", "naive"]

FETCH_COMMIT_ORDER = """
SELECT id, xid::text::bigint, event_type, payload, created_at
FROM outbox
WHERE (xid, id) > (%(xid)s::text::xid8, %(id)s)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (%(snapshot)s::text IS NULL OR NOT pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot))
ORDER BY xid, id
LIMIT %(limit)s
"""
FETCH_NAIVE = """
SELECT id, xid::text::bigint, event_type, payload, created_at
FROM outbox
WHERE id > %(id)s
  AND (%(snapshot)s::text IS NULL OR NOT pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot))
ORDER BY id
LIMIT %(limit)s
"""
# Who holds the horizon back: write transactions (with an xid) open for a while.
HORIZON_BLOCKERS = """
SELECT pid, usename, state, extract(epoch FROM clock_timestamp() - xact_start)::float8,
       left(query, 300)
FROM pg_stat_activity
WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
  AND xact_start < clock_timestamp() - make_interval(secs => %(min_age_s)s)
ORDER BY xact_start
LIMIT 5
"""
PRUNE = {
    "commit-order": "DELETE FROM outbox WHERE (xid, id) <= (%(xid)s::text::xid8, %(id)s)"
    " OR (%(snapshot)s::text IS NOT NULL"
    " AND pg_visible_in_snapshot(xid, %(snapshot)s::pg_snapshot))",
    "naive": "DELETE FROM outbox WHERE id <= %(id)s",
}


# SQLSTATE classes that are one event's fault: data exception, integrity violation.
DATA_ERROR_CLASSES = ("22", "23")
# Every connection of the projector: keepalives and timeouts so a half-open socket
# is noticed (and the leader lock it holds released) in seconds, and UTC.
CONNECTION_OPTIONS: dict[str, Any] = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
SESSION_OPTIONS = (
    "-c timezone=UTC -c statement_timeout=60000 -c idle_in_transaction_session_timeout=60000"
)


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A projector connection: its keepalives, timeouts and UTC, on top of what the DSN sets
    (the cqrs-samedb read DSN sets the read models' schema)."""
    return psycopg.connect(
        with_session_options(dsn, SESSION_OPTIONS), **CONNECTION_OPTIONS, **kwargs
    )


class Stalled(Exception):
    """An error that would hit every event: stop applying, keep the outbox, say why."""


def is_data_error(exc: BaseException) -> bool:
    """One event's fault (dead-letter it), as opposed to one that hits every event."""
    if not isinstance(exc, psycopg.Error):
        return True  # a bug or bad value met while applying one event's data
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.DataError)  # raised by the driver (a NUL byte, say)
    return exc.sqlstate[:2] in DATA_ERROR_CLASSES


def horizon_blockers(write_dsn: str, min_age_s: float = 1.0) -> list[dict[str, Any]]:
    """Write transactions open longer than ``min_age_s``: each holds projection back."""
    with connect(write_dsn, autocommit=True) as conn:
        rows = conn.execute(HORIZON_BLOCKERS, {"min_age_s": min_age_s}).fetchall()
    return [blocker_json(row) for row in rows]


def blocker_json(row: tuple[Any, ...]) -> dict[str, Any]:
    pid, user, state, age, query = row
    return {"pid": pid, "user": user, "state": state, "age_s": round(age, 1), "query": query}


@dataclass(frozen=True)
class ProjectorConfig:
    write_dsn: str
    read_dsn: str
    cursor: Cursor = "commit-order"
    batch_size: int = 2_000
    idle_wait_max_s: float = 0.05
    heartbeat_every_s: float = 1.0
    prune_every_s: float = 1.0
    retry_max_s: float = 2.0


@dataclass
class Checkpoint:
    xid: int
    id: int
    snapshot: str | None
    generation: int = 0


@dataclass
class Projector:
    config: ProjectorConfig
    stop: threading.Event = field(default_factory=threading.Event)
    _read: psycopg.Connection[Any] | None = None
    _write: psycopg.Connection[Any] | None = None
    _listen: psycopg.Connection[Any] | None = None
    _last_heartbeat: float = 0.0
    _last_prune: float = 0.0
    _pending_dead_letters: int = 0  # inserted in the open transaction, not yet committed

    def run(self) -> None:
        retry = 0.1
        while not self.stop.is_set():
            try:
                self._connect()
                if not self._become_leader():
                    self.stop.wait(0.5)
                    continue
                LEADER.set(1)
                retry = 0.1
                self._project()
            except Stalled as exc:
                log.error("projection stopped: %s; outbox kept, retrying in %.1f s", exc, retry)
                STALLED.set(1)
                self._record_stall(str(exc))
                self.stop.wait(retry)
                retry = min(retry * 2, self.config.retry_max_s)
            except psycopg.Error as exc:  # unavailable, or a session ended by a timeout
                log.warning("database error (%s); reconnecting in %.1f s", _first_line(exc), retry)
                LEADER.set(0)  # the session (and its advisory lock) is gone
                self._close()
                self.stop.wait(retry)
                retry = min(retry * 2, self.config.retry_max_s)
            except Exception as exc:  # a bug nothing above classified: say so, never die of it
                log.exception("unexpected error; starting over in %.1f s", retry)
                LEADER.set(0)  # the session is closed below, and its advisory lock with it
                self._record_stall(f"unexpected {type(exc).__name__}: {_first_line(exc)}")
                self._close()
                self.stop.wait(retry)
                retry = min(retry * 2, self.config.retry_max_s)
        LEADER.set(0)
        self._close()

    # -- connections and leadership ---------------------------------------------------
    def _connect(self) -> None:
        if self._read is None or self._read.closed:
            self._read = connect(self.config.read_dsn)
        if self._write is None or self._write.closed:
            self._write = connect(self.config.write_dsn, autocommit=True)
        if self._listen is None or self._listen.closed:
            self._listen = connect(self.config.write_dsn, autocommit=True)
            self._listen.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def _become_leader(self) -> bool:
        assert self._read is not None
        row = self._read.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)).fetchone()
        self._read.commit()
        return bool(row and row[0])

    def _close(self) -> None:
        for conn in (self._read, self._write, self._listen):
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
        self._read = self._write = self._listen = None

    # -- the loop ------------------------------------------------------------------------
    def _project(self) -> None:
        idle_wait = 0.001
        while not self.stop.is_set():
            applied = self._step()
            if applied:
                idle_wait = 0.001
                continue
            self._maybe_heartbeat()
            self._wait_for_work(idle_wait)
            idle_wait = min(idle_wait * 2, self.config.idle_wait_max_s)

    def _checkpoint(self) -> Checkpoint:
        assert self._read is not None
        try:
            row = self._read.execute(
                "SELECT last_xid, last_id, rebuild_snapshot, generation"
                " FROM projector_checkpoint WHERE id = 1"
            ).fetchone()
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            self._read.rollback()
            raise Stalled(f"cannot read the checkpoint: {_first_line(exc)}") from exc
        if row is None:
            self._read.rollback()
            raise Stalled("the read database has no checkpoint: run rebuild first")
        return Checkpoint(int(row[0]), int(row[1]), row[2], int(row[3]))

    def _fetch(self, checkpoint: Checkpoint) -> list[tuple[Any, ...]]:
        assert self._write is not None
        sql = FETCH_COMMIT_ORDER if self.config.cursor == "commit-order" else FETCH_NAIVE
        return self._write.execute(
            sql,
            {
                "xid": checkpoint.xid,
                "id": checkpoint.id,
                "snapshot": checkpoint.snapshot,
                "limit": self.config.batch_size,
            },
        ).fetchall()

    def _step(self) -> int:
        """Apply one batch; returns how many outbox rows it consumed."""
        assert self._read is not None
        checkpoint = self._checkpoint()
        rows = self._fetch(checkpoint)
        if not rows:
            self._read.rollback()
            self._maybe_prune(checkpoint)
            return 0
        started = time.perf_counter()
        try:
            advanced = self._apply(rows, checkpoint)
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            self._read.rollback()
            if not is_data_error(exc):
                raise Stalled(f"{type(exc).__name__}: {_first_line(exc)}") from exc
            log.warning("batch failed (%s); applying its events one by one", _first_line(exc))
            advanced = self._apply_one_by_one(rows, checkpoint)
        if advanced:
            APPLY_SECONDS.observe(time.perf_counter() - started)
            last = Checkpoint(int(rows[-1][1]), int(rows[-1][0]), checkpoint.snapshot)
            self._maybe_prune(last)
        return len(rows) if advanced else 0

    def _apply(self, rows: list[tuple[Any, ...]], checkpoint: Checkpoint) -> bool:
        assert self._read is not None
        self._pending_dead_letters = 0  # a new transaction
        batch = Batch()
        dead: list[tuple[tuple[Any, ...], str]] = []
        events: list[OrderPlaced] = []
        for row in rows:
            try:
                event = parse_event(int(row[0]), str(row[2]), row[3])
                Batch().add(event)  # a trial on its own: a bad value fails here, alone
            except BadEvent as exc:
                dead.append((row, str(exc)))
            except Exception as exc:
                dead.append((row, f"{type(exc).__name__}: {_first_line(exc)}"))
            else:
                events.append(event)
        for event in events:
            batch.add(event)
        apply_batch(self._read, batch)
        for row, error in dead:
            self._dead_letter(row, error)
        return self._advance(rows, checkpoint)

    def _apply_one_by_one(self, rows: list[tuple[Any, ...]], checkpoint: Checkpoint) -> bool:
        assert self._read is not None
        for row in rows:
            try:
                advanced = self._apply([row], checkpoint)
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                self._read.rollback()
                self._pending_dead_letters = 0
                if not is_data_error(exc):
                    raise Stalled(f"{type(exc).__name__}: {_first_line(exc)}") from exc
                self._dead_letter(row, f"{type(exc).__name__}: {_first_line(exc)}")
                advanced = self._advance([row], checkpoint)
            if not advanced:
                return False
            checkpoint = Checkpoint(
                int(row[1]), int(row[0]), checkpoint.snapshot, checkpoint.generation
            )
        return True

    def _dead_letter(self, row: tuple[Any, ...], error: str) -> None:
        assert self._read is not None
        log.error("outbox event %s goes to dead_letters: %s", row[0], error)
        self._pending_dead_letters += 1  # counted once committed
        self._read.execute(
            "INSERT INTO dead_letters (outbox_id, xid, event_type, payload, error)"
            " VALUES (%s, %s, %s, %s, %s)",
            (row[0], row[1], row[2], Jsonb(row[3]), error),
        )

    def _advance(self, rows: list[tuple[Any, ...]], checkpoint: Checkpoint) -> bool:
        """Compare-and-set the checkpoint and commit, or roll everything back."""
        assert self._read is not None
        last = rows[-1]
        now = datetime.now(UTC)
        lag_ms = max(int((now - row[4]).total_seconds() * 1000) for row in rows)
        cur = self._read.execute(
            """
            UPDATE projector_checkpoint
            SET last_xid = %(new_xid)s, last_id = %(new_id)s,
                events_applied = events_applied + %(count)s, batches_applied = batches_applied + 1,
                last_applied_at = now(), last_lag_ms = %(lag)s, heartbeat_at = now(),
                leader_pid = %(pid)s, stalled_reason = NULL, stalled_at = NULL
            WHERE id = 1 AND last_xid = %(old_xid)s AND last_id = %(old_id)s
              AND generation = %(generation)s
            """,
            {
                "new_xid": int(last[1]),
                "new_id": int(last[0]),
                "count": len(rows),
                "lag": lag_ms,
                "pid": os.getpid(),
                "old_xid": checkpoint.xid,
                "old_id": checkpoint.id,
                "generation": checkpoint.generation,
            },
        )
        if cur.rowcount != 1:
            self._read.rollback()  # another writer moved the checkpoint; start over from it
            log.warning("checkpoint moved under us; batch discarded")
            return False
        self._read.commit()
        self._last_heartbeat = time.monotonic()
        EVENTS_APPLIED.inc(len(rows))
        DEAD_LETTERED.inc(self._pending_dead_letters)
        self._pending_dead_letters = 0
        BATCHES_APPLIED.inc()
        BATCH_LAG.set(lag_ms / 1000)
        STALLED.set(0)
        return True

    def _record_stall(self, reason: str) -> None:
        """Say why nothing is applied, where status and /metrics read (when it can)."""
        if self._read is None or self._read.closed:
            return
        try:
            self._read.rollback()
            self._read.execute(
                "UPDATE projector_checkpoint SET stalled_reason = %s,"
                " stalled_at = coalesce(stalled_at, now()), heartbeat_at = now() WHERE id = 1",
                (reason[:500],),
            )
            self._read.commit()
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                self._read.rollback()

    def _maybe_heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < self.config.heartbeat_every_s:
            return
        assert self._read is not None
        self._read.execute(
            "UPDATE projector_checkpoint SET heartbeat_at = now(), leader_pid = %s WHERE id = 1",
            (os.getpid(),),
        )
        self._read.commit()
        self._last_heartbeat = time.monotonic()

    def _maybe_prune(self, checkpoint: Checkpoint) -> None:
        if time.monotonic() - self._last_prune < self.config.prune_every_s:
            return
        assert self._write is not None
        self._write.execute(
            PRUNE[self.config.cursor],
            {"xid": checkpoint.xid, "id": checkpoint.id, "snapshot": checkpoint.snapshot},
        )
        self._last_prune = time.monotonic()

    def _wait_for_work(self, timeout: float) -> None:
        assert self._listen is not None
        for _ in self._listen.notifies(timeout=timeout, stop_after=1):
            break


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description="cqrs-bench projector: outbox -> read models")
    parser.add_argument("--cursor", choices=["commit-order", "naive"], default="commit-order")
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--host", default="127.0.0.1", help="where --port listens")
    parser.add_argument(
        "--port", type=int, default=None, help="serve Prometheus metrics here (default: none)"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s projector %(levelname)s %(message)s"
    )
    write_dsn, read_dsn = os.environ.get(WRITE_DSN_ENV), os.environ.get(READ_DSN_ENV)
    if not write_dsn or not read_dsn:
        raise SystemExit(f"projector: set {WRITE_DSN_ENV} and {READ_DSN_ENV}")
    projector = Projector(
        ProjectorConfig(write_dsn, read_dsn, cursor=args.cursor, batch_size=args.batch_size)
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        projector.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.port is not None:
        server, _ = start_http_server(args.port, addr=args.host)
        try:
            projector.run()
        finally:
            server.shutdown()
        return
    projector.run()


if __name__ == "__main__":
    main()
