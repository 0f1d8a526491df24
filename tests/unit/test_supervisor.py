"""The supervisor restarts a process that dies, with back-off, and records how often."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from harness.core.polling import wait_until
from harness.stack.supervisor import Supervisor, SupervisorRecord


def test_a_dying_process_is_restarted_and_counted(tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    # dies with code 3 twice (counting its runs in a file), then stays up
    runs = tmp_path / "runs"
    script = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(runs)!r})\n"
        "n = len(p.read_text()) if p.exists() else 0\n"
        "p.write_text('x' * (n + 1))\n"
        "sys.exit(3) if n < 2 else time.sleep(60)\n"
    )
    supervisor = Supervisor([sys.executable, "-c", script], record)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: (r := SupervisorRecord.read(record)) is not None and r.restarts == 2,
            timeout=20,
            what="two restarts",
        )
        found = SupervisorRecord.read(record)
        assert found is not None
        assert found.last_exit == 3
        assert found.last_restart_at is not None
        assert supervisor.child is not None
        assert found.pid == supervisor.child.pid
    finally:
        supervisor.stop(15, None)
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert supervisor.child is not None
    assert supervisor.child.poll() is not None


def test_an_unreadable_record_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    assert SupervisorRecord.read(path) is None
    path.write_text('{"pid": "x", "restarts": 1}')
    assert SupervisorRecord.read(path) is None
