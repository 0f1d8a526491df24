"""Exact per-request records: one CSV per Locust process, microseconds, no buckets.

Rows are buffered and written in batches; under Locust the writes run on a
real OS thread (``background``), so a slow disk never stalls the event loop
that dispatches arrivals.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

# recorder-<pid>.json beside the records: the recorder's own CPU seconds and rows
FOOTPRINT_PREFIX = "recorder-"
COLUMNS = ("ts", "phase", "name", "latency_us", "ok", "kind", "status", "lag_us", "error")
# a failure's message is cut here: the report groups failures by it, not a log
MAX_MESSAGE = 200


RECOVERY_CONFLICT = "recovery_conflict"


def error_kind(status: int, exception: BaseException | None, code: str | None = None) -> str:
    """The failure's kind; ``code`` is the app's error code, where its answer carried one."""
    if code == RECOVERY_CONFLICT:
        return RECOVERY_CONFLICT  # a hot standby cancelled the query: its own kind
    if exception is not None:
        text = f"{type(exception).__name__} {exception}".lower()
        if "timeout" in text or "timed out" in text:
            return "timeout"
        return "connection" if status == 0 else f"http_{str(status)[0]}xx"
    if 400 <= status < 500:
        return "http_4xx"
    if status >= 500:
        return "http_5xx"
    if status == 0:
        return "connection"
    return ""


class RecordFile:
    """One CSV of records, its header written first; rows are appended as batches."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115
        if self._handle.tell() == 0:
            self._handle.write(",".join(COLUMNS) + "\n")
            self._handle.flush()

    def write(self, batch: str) -> None:
        if batch:
            self._handle.write(batch)
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def error_message(status: int, exception: BaseException | None, code: str | None = None) -> str:
    """What went wrong, in words that group alike failures: the HTTP status and the app's
    error code for an answer (never its URL or ids), the exception's type and text otherwise."""
    if status:
        return f"HTTP {status}" + (f" {code}" if code else "")
    if exception is not None:
        text = str(exception)
        return type(exception).__name__ + (f": {text}" if text else "")
    return ""


def csv_text(text: str) -> str:
    """``text`` as one CSV field on one line, quoted when it needs to be."""
    flat = " ".join(text.split())[:MAX_MESSAGE]
    if any(c in flat for c in ',"'):
        return '"' + flat.replace('"', '""') + '"'
    return flat


class Recorder:
    """Buffers rows and hands them in batches to ``sink``.

    The sink is a :class:`RecordFile` (``requests-<pid>.csv`` in a single
    process) or, on a Locust worker, a message to the master, which keeps
    the file; ``close`` is called once the last batch has gone.
    """

    def __init__(
        self,
        sink: Callable[[str], None],
        flush_every: int = 2_000,
        flush_after_s: float = 1.0,
        background: Callable[[Callable[[str], None], str], Any] | None = None,
        close: Callable[[], None] | None = None,
        footprint_path: Path | None = None,
    ) -> None:
        self._sink = sink
        self._close = close
        # its own CPU (formatting rows on the event loop, handing them to the sink on the
        # writer thread), written to ``footprint_path`` at close for the run's footprint
        self._footprint_path = footprint_path
        # one counter per thread that adds to it (the event loop formats, the writer thread
        # delivers): a shared += from two OS threads can lose an update
        self._format_ns = 0
        self._deliver_ns = 0
        self._rows_recorded = 0
        self._background = background
        self._rows: list[str] = []
        self._flush_every = flush_every
        self._flush_after_s = flush_after_s
        self._flushed_at = time.monotonic()
        self._pending: Any = None

    @classmethod
    def to_file(
        cls,
        directory: Path,
        background: Callable[[Callable[[str], None], str], Any] | None = None,
    ) -> Recorder:
        """Records of this process in ``requests-<pid>.csv`` of ``directory``."""
        out = RecordFile(directory / f"requests-{os.getpid()}.csv")
        return cls(
            out.write,
            background=background,
            close=out.close,
            footprint_path=directory / f"{FOOTPRINT_PREFIX}{os.getpid()}.json",
        )

    def record(
        self,
        ts: float,
        phase: str,
        name: str,
        latency_us: int,
        ok: bool,
        kind: str,
        status: int,
        lag_us: int = 0,
        error: str = "",
    ) -> None:
        began = time.thread_time_ns()
        self._rows.append(
            f"{ts:.6f},{phase},{name},{latency_us},{int(ok)},{kind},{status},{lag_us},"
            f"{csv_text(error) if error else ''}\n"
        )
        self._rows_recorded += 1
        self._format_ns += time.thread_time_ns() - began  # a flush below counts its own
        if (
            len(self._rows) >= self._flush_every
            or time.monotonic() - self._flushed_at > self._flush_after_s
        ):
            self.flush()

    def flush(self) -> None:
        batch = "".join(self._rows)
        self._rows.clear()
        self._flushed_at = time.monotonic()
        if self._background is None:
            self._deliver(batch)
        else:
            self._pending = self._background(self._deliver, batch)

    def _deliver(self, batch: str) -> None:
        began = time.thread_time_ns()
        self._sink(batch)
        self._deliver_ns += time.thread_time_ns() - began

    def close(self) -> None:
        batch = "".join(self._rows)
        self._rows.clear()
        if self._pending is not None:
            self._pending.get()  # the last background write lands before the file closes
        self._deliver(batch)
        if self._close is not None:
            self._close()
        if self._footprint_path is not None:
            cpu_ns = self._format_ns + self._deliver_ns
            footprint = {"cpu_seconds": round(cpu_ns / 1e9, 4), "rows": self._rows_recorded}
            self._footprint_path.write_text(json.dumps(footprint))
