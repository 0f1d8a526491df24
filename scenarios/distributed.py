"""The scenarios under Locust's distributed mode: what the master tells its workers, and what
they send back. Nothing here needs a disk the processes share.

- The plan and the phase clock's start reach each worker as custom arguments: Locust copies
  the master's custom arguments into every spawn message, and a worker's ``test_start`` runs
  after it has them.
- The open-model drivers run as many instances as there are load generators; each asks the
  master which share of the schedule is its own (:func:`scenarios.traffic.share`), so the
  shares together are the schedule, wherever Locust placed the drivers.
- Workers send their request records and schedule announcements to the master in batches over
  Locust's messages; the master writes the files a single process would have written.
- At the end the master asks every worker for its last batch (and its last statistics) and
  waits for all of them before the test stops, so nothing is lost in Locust's quit.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from gevent.event import AsyncResult
from locust.runners import MasterRunner, WorkerRunner

from scenarios.recorder import RecordFile

PLAN_OPTION = "cqrs_bench_plan"
CLOCK_OPTION = "cqrs_bench_clock"
CLAIM = "cqrs_bench_claim"
SHARE = "cqrs_bench_share"
RECORDS = "cqrs_bench_records"
SCHEDULE = "cqrs_bench_schedule"
FLUSH = "cqrs_bench_flush"
FLUSHED = "cqrs_bench_flushed"
CLAIM_TIMEOUT_S = 30.0
FLUSH_TIMEOUT_S = 30.0

logger = logging.getLogger(__name__)


def add_arguments(parser: Any) -> None:
    """The custom arguments the master forwards to its workers (set by the scenarios, not typed)."""
    parser.add_argument(
        "--cqrs-bench-plan",
        default="",
        include_in_web_ui=False,
        help="The load plan as JSON (the master sets it from CQRS_BENCH_PLAN for its workers).",
    )
    parser.add_argument(
        "--cqrs-bench-clock",
        type=float,
        default=0.0,
        include_in_web_ui=False,
        help="When the master started the phase clock, epoch seconds (set by the master).",
    )


def is_worker(environment: Any) -> bool:
    return isinstance(getattr(environment, "runner", None), WorkerRunner)


def is_master(environment: Any) -> bool:
    return isinstance(getattr(environment, "runner", None), MasterRunner)


def schedule_file(directory: Path, driver: str, index: int, count: int) -> Path:
    return directory / f"schedule-{driver}-{index + 1}of{count}.json"


class Coordinator:
    """One per Locust process; its part depends on the process's runner."""

    def __init__(self) -> None:
        self.record_dir = Path(".")
        self.shares: int | None = None  # load generators, frozen when the master first ticks
        self._environment: Any = None
        self._claims: dict[str, itertools.count[int]] = {}
        self._waiting: dict[str, AsyncResult[tuple[int, int]]] = {}
        self._files: dict[str, RecordFile] = {}
        self._flush_asked_at: float | None = None
        self._flush_from: set[str] = set()
        self._flushed: set[str] = set()
        self.on_flush: Any = None  # the worker's recorder flush, set by the scenarios

    def setup(self, environment: Any) -> None:
        self._environment = environment
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(CLAIM, self._on_claim)
            runner.register_message(RECORDS, self._on_records)
            runner.register_message(SCHEDULE, self._on_schedule)
            runner.register_message(FLUSHED, self._on_flushed)
        elif isinstance(runner, WorkerRunner):
            runner.register_message(SHARE, self._on_share)
            runner.register_message(FLUSH, self._on_flush)

    def new_test(self) -> None:
        self._claims = {}
        self._flush_asked_at = None
        self._flush_from = set()
        self._flushed = set()

    def end_test(self) -> None:
        self.shares = None

    # --- how many shares, and which is whose

    def share_count(self) -> int:
        """Load generators of this test: the master's workers when it first asked, else 1."""
        if self.shares is None:
            runner = getattr(self._environment, "runner", None)
            workers = runner.worker_count if isinstance(runner, MasterRunner) else 0
            self.shares = max(1, workers)
        return self.shares

    def claim(self, driver: str) -> tuple[int, int]:
        """This driver instance's share of the schedule: (index, count)."""
        runner = self._environment.runner
        if not isinstance(runner, WorkerRunner):
            return next(self._claims.setdefault(driver, itertools.count())), self.share_count()
        token = uuid.uuid4().hex
        answer: AsyncResult[tuple[int, int]] = AsyncResult()
        self._waiting[token] = answer
        runner.send_message(CLAIM, {"driver": driver, "token": token})
        try:
            index, count = answer.get(timeout=CLAIM_TIMEOUT_S)
            return int(index), int(count)
        finally:
            self._waiting.pop(token, None)

    def _on_claim(self, environment: Any, msg: Any, **_: Any) -> None:
        index = next(self._claims.setdefault(str(msg.data["driver"]), itertools.count()))
        answer = {"token": msg.data["token"], "index": index, "count": self.share_count()}
        environment.runner.send_message(SHARE, answer, client_id=msg.node_id)

    def _on_share(self, environment: Any, msg: Any, **_: Any) -> None:
        waiting = self._waiting.get(str(msg.data["token"]))
        if waiting is not None:
            waiting.set((int(msg.data["index"]), int(msg.data["count"])))

    # --- records and announcements

    def send_records(self, batch: str) -> None:
        """A worker's sink: the batch goes to the master."""
        if batch:
            self._environment.runner.send_message(RECORDS, {"rows": batch})

    def announce(self, record: dict[str, Any]) -> None:
        """What one driver share scheduled: a file here, or the master's file."""
        if is_worker(self._environment):
            self._environment.runner.send_message(SCHEDULE, record)
        else:
            self._write_schedule(record)

    def _write_schedule(self, record: dict[str, Any]) -> None:
        index, count = record["share"]
        path = schedule_file(self.record_dir, str(record["driver"]), int(index), int(count))
        path.write_text(json.dumps(record))

    def _on_schedule(self, environment: Any, msg: Any, **_: Any) -> None:
        self._write_schedule({**msg.data, "worker": self._worker_name(environment, msg.node_id)})

    def _on_records(self, environment: Any, msg: Any, **_: Any) -> None:
        out = self._files.get(msg.node_id)
        if out is None:
            name = self._worker_name(environment, msg.node_id)
            out = self._files[msg.node_id] = RecordFile(self.record_dir / f"requests-{name}.csv")
        out.write(str(msg.data["rows"]))

    @staticmethod
    def _worker_name(environment: Any, node_id: str) -> str:
        return f"worker{environment.runner.get_worker_index(node_id)}"

    def close(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()

    # --- the end of the test

    def all_flushed(self) -> bool:
        """On the master: True once every worker has sent its last records (asks them first)."""
        runner = getattr(self._environment, "runner", None)
        if not isinstance(runner, MasterRunner):
            return True
        if self._flush_asked_at is None:
            self._flush_asked_at = time.monotonic()
            self._flush_from = {client.id for client in runner.clients.all}
            for client_id in self._flush_from:
                runner.send_message(FLUSH, None, client_id=client_id)
        missing = self._flush_from - self._flushed
        if missing and time.monotonic() - self._flush_asked_at > FLUSH_TIMEOUT_S:
            logger.error("no last records from %s: their records are incomplete", sorted(missing))
            return True
        return not missing

    def _on_flush(self, environment: Any, msg: Any, **_: Any) -> None:
        if self.on_flush is not None:
            self.on_flush()
        # Locust's own last statistics too, before the master quits (its quit waits 0.5 s)
        environment.runner._send_stats()
        environment.runner.send_message(FLUSHED, None)

    def _on_flushed(self, environment: Any, msg: Any, **_: Any) -> None:
        self._flushed.add(msg.node_id)
