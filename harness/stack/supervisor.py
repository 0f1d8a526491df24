"""Keep one process running: restart it with back-off when it dies, and record the restarts.

The stack runs the projector under this supervisor, so a projector killed by
anything (a bug the projector did not catch, the OOM killer, ``kill -9``)
comes back by itself, and ``status`` shows how often it had to. The record
(JSON, written whole) names the current process and counts the restarts.

Run: ``python -m harness.stack.supervisor --record FILE -- python -m MODULE ARGS...``
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from harness.core.jsonfile import write_json
from harness.core.processes import die_with_parent, signals_held, unblock_held_signals

log = logging.getLogger("supervisor")

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
# a child that ran this long before dying starts the back-off over
STABLE_AFTER_S = 30.0


@dataclass(frozen=True)
class SupervisorRecord:
    """What ``status`` reads: the supervised process now, and how often it was restarted."""

    pid: int | None
    restarts: int
    last_exit: int | None = None
    last_restart_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_restart_at": self.last_restart_at,
        }

    @classmethod
    def read(cls, path: Path) -> SupervisorRecord | None:
        try:
            data = json.loads(path.read_text())
            pid, restarts, last_exit = data["pid"], data["restarts"], data.get("last_exit")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if type(restarts) is not int or (pid is not None and type(pid) is not int):
            return None
        return cls(
            pid=pid,
            restarts=restarts,
            last_exit=last_exit if type(last_exit) is int else None,
            last_restart_at=str(data.get("last_restart_at") or "") or None,
        )


def _child_setup() -> None:
    # a supervisor killed outright takes its child with it (no orphaned projector)
    unblock_held_signals()
    die_with_parent(signal.SIGTERM)


class Supervisor:
    def __init__(self, command: list[str], record: Path) -> None:
        self.command = command
        self.record = record
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.last_restart_at: str | None = None

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def _write(self) -> None:
        pid = None if self.child is None else self.child.pid
        write_json(
            self.record,
            SupervisorRecord(pid, self.restarts, self.last_exit, self.last_restart_at).to_json(),
        )

    def run(self) -> int:
        backoff = BACKOFF_FIRST_S
        while True:
            started = time.monotonic()
            # a stop signal waits until the child is known, so that stop() can reach it
            with signals_held():
                self.child = subprocess.Popen(self.command, preexec_fn=_child_setup)
                self._write()
            code = self.child.wait()
            if self.stopping.is_set():
                return 0
            self.last_exit = code
            if time.monotonic() - started >= STABLE_AFTER_S:
                backoff = BACKOFF_FIRST_S
            log.error(
                "%s exited with code %s; restarting in %.1f s", self.command[-1], code, backoff
            )
            if self.stopping.wait(backoff):
                return 0
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            self.restarts += 1
            self.last_restart_at = datetime.now(UTC).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="restart a process when it dies, with back-off")
    parser.add_argument("--record", type=Path, required=True, help="JSON record to keep")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s"
    )
    supervisor = Supervisor(command, args.record)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
