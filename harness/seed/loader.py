"""Bulk-loading a dataset: streams of binary COPY, then keys, indexes, ANALYZE.

Each big table streams through its own connection and thread while the main
thread generates the next chunk, so generation, the network and the three
PostgreSQL backends overlap. Each table is created in the transaction that
loads it, so ``COPY ... FREEZE`` applies and (with ``wal_level=minimal``) the
load writes no WAL. Keys and indexes come after the data, then ``ANALYZE``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg

from harness.core.errors import BadInput, HarnessError
from harness.providers.base import Endpoint
from harness.seed.copybinary import HEADER, TRAILER
from harness.seed.generate import ITEM_COUNT_WEIGHTS, OrderChunk, ShopGenerator
from harness.seed.spec import DatasetSpec
from shop.schema import SEEDED_TABLES, bare_table_ddl, idempotency_keys, post_load_ddl

BIG_TABLES = ("orders", "order_items", "payments")
COPY_COLUMNS = {t.name: ", ".join(c.name for c in t.columns) for t in SEEDED_TABLES}
SESSION_BULK_SETTINGS = (
    "SET maintenance_work_mem = '1GB'",
    "SET max_parallel_maintenance_workers = 2",
    "SET synchronous_commit = off",
)

Progress = Callable[[int], None]  # called with the number of rows just written
Phase = Callable[[str], None]  # called when a new phase of the load begins


@dataclass
class LoadResult:
    rows: dict[str, int]
    load_seconds: float
    index_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_seconds(self) -> float:
        return self.load_seconds + self.index_seconds


class SeedFailed(HarnessError):
    exit_code = HarnessError.exit_code


def _connect(endpoint: Endpoint, *, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(endpoint.dsn, autocommit=autocommit, connect_timeout=10)


@dataclass
class TableStream:
    """One table loaded by one COPY on its own connection, fed from a queue."""

    endpoint: Endpoint
    table: str
    binary: bool
    _queue: queue.Queue[bytes | None] = field(default_factory=lambda: queue.Queue(maxsize=3))
    _error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> TableStream:
        self._thread = threading.Thread(target=self._run, name=f"copy-{self.table}", daemon=True)
        self._thread.start()
        return self

    def put(self, data: bytes) -> None:
        while True:
            self.raise_if_failed()
            try:
                self._queue.put(data, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        self.put_end()
        assert self._thread is not None
        self._thread.join()
        self.raise_if_failed()

    def put_end(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                return
            except queue.Full:
                continue

    def abort(self) -> None:
        # drain so the writer is not stuck on a full queue, then end it
        with_drain = True
        while with_drain:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                with_drain = False
        self.put_end()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise SeedFailed(f"loading {self.table} failed: {self._error}") from self._error

    def _run(self) -> None:
        table = next(t for t in SEEDED_TABLES if t.name == self.table)
        options = "FORMAT binary, FREEZE true" if self.binary else "FREEZE true"
        try:
            with _connect(self.endpoint) as conn:
                for statement in SESSION_BULK_SETTINGS:
                    conn.execute(statement)
                conn.execute(bare_table_ddl(table))
                sql = f"COPY {self.table} ({COPY_COLUMNS[self.table]}) FROM STDIN ({options})"
                with conn.cursor().copy(sql) as copy:
                    if self.binary:
                        copy.write(HEADER)
                    while (data := self._queue.get()) is not None:
                        # a memoryview: psycopg cuts big blocks into pieces, and slicing
                        # bytes would copy each piece once more before libpq copies it
                        copy.write(memoryview(data))
                    if self.binary:
                        copy.write(TRAILER)
                conn.commit()
        except BaseException as exc:
            self._error = exc
            # keep consuming so a producer blocked on put() sees the error
            while self._queue.get() is not None:
                pass


def refuse_existing_tables(endpoint: Endpoint) -> None:
    """Never overwrite: the target must not hold the shop's tables already."""
    names = [t.name for t in (*SEEDED_TABLES, idempotency_keys)]
    with _connect(endpoint, autocommit=True) as conn:
        row = conn.execute(
            "SELECT array_agg(name) FROM unnest(%s::text[]) AS name"
            " WHERE to_regclass(name) IS NOT NULL",
            (names,),
        ).fetchone()
    existing = row[0] if row else None
    if existing:
        raise BadInput(
            f"database {endpoint.host}:{endpoint.port}/{endpoint.dbname} already has table(s) "
            f"{', '.join(existing)}; the harness does not overwrite what it did not create"
        )


def load_generated(
    endpoint: Endpoint,
    spec: DatasetSpec,
    progress: Progress | None = None,
    phase: Phase | None = None,
    *,
    constraints: bool = True,
) -> LoadResult:
    """Generate ``spec``'s rows and load them, then build keys and indexes."""
    generator = ShopGenerator(spec)
    return load_parts(
        endpoint, generated_parts(generator), progress, phase, constraints=constraints
    )


def generated_parts(generator: ShopGenerator) -> Iterator[tuple[str, bytes, int]]:
    """(table, data, rows) in load order; products come last (their stock needs sales)."""
    yield "users", generator.users_tsv(), generator.spec.users
    units = np.zeros(generator.spec.products, dtype=np.int64)
    for chunk in generator.order_chunks():
        units += chunk.units_sold
        yield from _chunk_parts(chunk)
    yield "products", generator.products_tsv(units), generator.spec.products


def _chunk_parts(chunk: OrderChunk) -> Iterator[tuple[str, bytes, int]]:
    yield "orders", chunk.orders, chunk.order_count
    yield "order_items", chunk.order_items, chunk.item_count
    yield "payments", chunk.payments, chunk.order_count


def load_parts(
    endpoint: Endpoint,
    parts: Iterable[tuple[str, bytes, int]],
    progress: Progress | None,
    phase: Phase | None = None,
    *,
    constraints: bool = True,
) -> LoadResult:
    """Stream (table, data, rows) parts into their tables, then keys and indexes."""
    started = time.perf_counter()
    rows = {t.name: 0 for t in SEEDED_TABLES}
    streams: dict[str, TableStream] = {}
    try:
        for table, data, count in parts:
            if table not in streams:
                streams[table] = TableStream(endpoint, table, binary=table in BIG_TABLES).start()
            streams[table].put(data)
            rows[table] += count
            if progress is not None:
                progress(count)
            if table == "users":
                streams[table].finish()  # small; done before the stream of orders
        for stream in streams.values():
            stream.finish()
    except BaseException:
        for stream in streams.values():
            stream.abort()
        raise
    loaded = time.perf_counter()
    if not constraints:
        return LoadResult(rows, loaded - started, 0.0)
    if phase is not None:
        phase("building keys, foreign keys and indexes, then ANALYZE")
    build_constraints(endpoint)
    return LoadResult(rows, loaded - started, time.perf_counter() - loaded)


def build_constraints(endpoint: Endpoint) -> None:
    """Keys, foreign keys, indexes (two connections at a time), then ANALYZE."""
    with _connect(endpoint, autocommit=True) as conn:
        conn.execute(bare_table_ddl(idempotency_keys))
    stages = post_load_ddl((*SEEDED_TABLES, idempotency_keys))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ddl") as pool:
        for stage in stages:
            for future in [pool.submit(_run_job, endpoint, job) for job in stage]:
                future.result()
    with _connect(endpoint, autocommit=True) as conn:
        conn.execute("ANALYZE")


def _run_job(endpoint: Endpoint, statements: list[str]) -> None:
    with _connect(endpoint, autocommit=True) as conn:
        for statement in SESSION_BULK_SETTINGS:
            conn.execute(statement)
        for statement in statements:
            conn.execute(statement)


# -- portable datasets: COPY files for providers that cannot take a data directory --
FILE_SUFFIX = {True: ".copybin", False: ".tsv"}


def write_copy_files(
    directory: Path, spec: DatasetSpec, progress: Progress | None = None
) -> dict[str, int]:
    """Write the dataset as one COPY file per table (binary for the big ones)."""
    generator = ShopGenerator(spec)
    rows = {t.name: 0 for t in SEEDED_TABLES}
    handles = {}
    try:
        for table in rows:
            binary = table in BIG_TABLES
            handle = open(directory / f"{table}{FILE_SUFFIX[binary]}", "wb")  # noqa: SIM115
            if binary:
                handle.write(HEADER)
            handles[table] = handle
        for table, data, count in generated_parts(generator):
            handles[table].write(data)
            rows[table] += count
            if progress is not None:
                progress(count)
        for table in BIG_TABLES:
            handles[table].write(TRAILER)
    finally:
        for handle in handles.values():
            handle.close()
    return rows


def expected_rows(spec: DatasetSpec) -> int:
    """About how many rows ``spec`` makes (items per order are drawn), for progress bars."""
    mean_items = float((ITEM_COUNT_WEIGHTS * np.arange(1, 7)).sum() / ITEM_COUNT_WEIGHTS.sum())
    return spec.users + spec.products + int(spec.orders * (2 + mean_items))


def load_copy_files(
    endpoint: Endpoint,
    directory: Path,
    rows: dict[str, int],
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> LoadResult:
    """Load COPY files written by :func:`write_copy_files` into ``endpoint``."""
    order = ("users", "orders", "order_items", "payments", "products")
    block = 8 << 20

    def parts() -> Iterator[tuple[str, bytes, int]]:
        for table in order:
            binary = table in BIG_TABLES
            path = directory / f"{table}{FILE_SUFFIX[binary]}"
            size = path.stat().st_size
            with open(path, "rb") as handle:
                if binary:
                    handle.read(len(HEADER))
                    size -= len(HEADER) + len(TRAILER)
                remaining = size
                while remaining > 0:
                    data = handle.read(min(block, remaining))
                    remaining -= len(data)
                    # rows are reported in proportion to bytes: files do not index rows
                    yield table, data, round(rows[table] * len(data) / max(size, 1))

    return load_parts(endpoint, parts(), progress, phase)
