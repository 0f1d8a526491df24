"""The CQRS read models seen from the harness: waiting for the projector, verify, rebuild."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from cqrs_app.readmodels import pending_events, rebuild, verify
from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.polling import wait_until
from harness.stack.stacks import TOPOLOGIES, running_stacks


def wait_caught_up(
    write_dsn: str,
    read_dsn: str,
    *,
    timeout: float,
    what: str = "the projector to apply every outbox event",
    interval: float = 0.1,
) -> float:
    """Wait until no outbox event is left to apply; returns the seconds it took."""
    started = time.monotonic()
    wait_until(
        lambda: pending_events(write_dsn, read_dsn) == 0,
        timeout=timeout,
        what=what,
        interval=interval,
    )
    return time.monotonic() - started


def last_order_id(write_dsn: str) -> int:
    """The newest order in the write database (orders placed later have higher ids)."""
    with psycopg.connect(write_dsn) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()
    return int(row[0]) if row else 0


def projection_lags(read_dsn: str, after_order: int) -> list[tuple[float, int, float]]:
    """``(created_at epoch s, order_id, lag ms)`` of every projected order after ``after_order``.

    The lag runs from the order's ``created_at`` (taken inside the write
    transaction) to the moment its summary was written; for the lag from
    commit to commit, see :func:`projection_outcome`.
    """
    with psycopg.connect(read_dsn) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM created_at), order_id,"
            " extract(epoch FROM projected_at - created_at) * 1000"
            " FROM order_summaries WHERE order_id > %s ORDER BY order_id",
            (after_order,),
        ).fetchall()
    return [(float(ts), int(order_id), float(lag)) for ts, order_id, lag in rows]


@dataclass(frozen=True)
class ProjectionOutcome:
    """What became of the orders placed after ``after_order``."""

    placed: int
    projected: int
    unprojected: list[tuple[float, int]]  # (write commit epoch s, order_id) never projected
    lags: list[tuple[float, int, float]]  # (write commit epoch s, order_id, lag ms)


def projection_outcome(write_dsn: str, read_dsn: str, after_order: int) -> ProjectionOutcome:
    """Each order's lag from its write transaction's commit to its read-model row's commit.

    Both clusters run with ``track_commit_timestamp``; a row's ``xmin`` names
    the transaction that wrote it, so its commit time is exact on both sides.
    """
    with psycopg.connect(write_dsn) as conn:
        committed = {
            int(order_id): float(ts)
            for order_id, ts in conn.execute(
                "SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM orders"
                " WHERE id > %s",
                (after_order,),
            ).fetchall()
        }
    with psycopg.connect(read_dsn) as conn:
        applied = {
            int(order_id): float(ts)
            for order_id, ts in conn.execute(
                "SELECT order_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))"
                " FROM order_summaries WHERE order_id > %s",
                (after_order,),
            ).fetchall()
        }
    lags = sorted(
        (committed[order_id], order_id, (applied[order_id] - committed[order_id]) * 1000)
        for order_id in committed.keys() & applied.keys()
    )
    return ProjectionOutcome(
        placed=len(committed),
        projected=len(lags),
        unprojected=sorted(
            (committed[order_id], order_id) for order_id in committed.keys() - applied.keys()
        ),
        lags=lags,
    )


@dataclass(frozen=True)
class ReadModelTarget:
    home: Path
    write_dsn: str | None = None
    read_dsn: str | None = None
    catch_up_timeout_s: float = 60.0


def resolve_dsns(target: ReadModelTarget) -> tuple[str, str]:
    if target.write_dsn and target.read_dsn:
        return target.write_dsn, target.read_dsn
    if target.write_dsn or target.read_dsn:
        raise BadInput("pass both --write-dsn and --read-dsn, or neither")
    with_read_models = {kind.value for kind, t in TOPOLOGIES.items() if t.projector}
    stacks = [s for s in running_stacks(target.home) if s.system in with_read_models]
    if not stacks:
        raise BadInput(
            "no cqrs or cqrs-samedb stack is running",
            hint="start one with: cqrs-bench up --system cqrs, or pass --write-dsn and --read-dsn",
        )
    if len(stacks) > 1:
        raise BadInput(
            "more than one stack with read models is running; pass --write-dsn and --read-dsn"
        )
    return stacks[0].databases["write"], stacks[0].databases["read"]


def verify_read_models(target: ReadModelTarget) -> dict[str, Any]:
    """Wait for the projector to catch up, then compare every read model row by row."""
    write_dsn, read_dsn = resolve_dsns(target)
    try:
        wait_caught_up(write_dsn, read_dsn, timeout=target.catch_up_timeout_s)
        return verify(write_dsn, read_dsn)
    except psycopg.OperationalError as exc:
        raise EnvironmentProblem(f"cannot reach the cqrs databases: {exc}") from None


def rebuild_read_models(target: ReadModelTarget) -> dict[str, Any]:
    write_dsn, read_dsn = resolve_dsns(target)
    try:
        result = rebuild(write_dsn, read_dsn)
    except psycopg.OperationalError as exc:
        raise EnvironmentProblem(f"cannot reach the cqrs databases: {exc}") from None
    return {"rows": result.rows, "snapshot": result.snapshot}
