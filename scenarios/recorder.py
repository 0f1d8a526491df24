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
COLUMNS = ("ts", "phase", "name", "latency_us", "ok", "kind", "status", "lag_us")


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


class Recorder:
    """Buffers rows and appends them to ``requests-<pid>.csv`` in the record directory."""

    def __init__(
        self,
        directory: Path,
        flush_every: int = 2_000,
        flush_after_s: float = 1.0,
        background: Callable[[Callable[[str], None], str], Any] | None = None,
    ) -> None:
        self._background = background
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"requests-{os.getpid()}.csv"
        self._rows: list[str] = []
        self._flush_every = flush_every
        self._flush_after_s = flush_after_s
        self._flushed_at = time.monotonic()
        # its own CPU (formatting rows on the event loop, writing them on the writer
        # thread), written beside the records at close for the run's footprint
        self._cpu_ns = 0
        self._rows_recorded = 0
        self._handle: TextIO = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if self._handle.tell() == 0:
            self._handle.write(",".join(COLUMNS) + "\n")
            self._handle.flush()

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
    ) -> None:
        began = time.thread_time_ns()
        self._rows.append(
            f"{ts:.6f},{phase},{name},{latency_us},{int(ok)},{kind},{status},{lag_us}\n"
        )
        self._rows_recorded += 1
        if (
            len(self._rows) >= self._flush_every
            or time.monotonic() - self._flushed_at > self._flush_after_s
        ):
            self.flush()
        self._cpu_ns += time.thread_time_ns() - began

    def flush(self) -> None:
        batch = "".join(self._rows)
        self._rows.clear()
        self._flushed_at = time.monotonic()
        if self._background is None:
            self._write(batch)
        else:
            self._pending = self._background(self._write, batch)

    def _write(self, batch: str) -> None:
        began = time.thread_time_ns()
        if batch:
            self._handle.write(batch)
        self._handle.flush()
        self._cpu_ns += time.thread_time_ns() - began

    def close(self) -> None:
        batch = "".join(self._rows)
        self._rows.clear()
        pending = getattr(self, "_pending", None)
        if pending is not None:
            pending.get()  # the last background write lands before the file closes
        self._write(batch)
        self._handle.close()
        footprint = {"cpu_seconds": round(self._cpu_ns / 1e9, 4), "rows": self._rows_recorded}
        footprint_path = self.path.with_name(f"{FOOTPRINT_PREFIX}{os.getpid()}.json")
        footprint_path.write_text(json.dumps(footprint))
