"""App server processes: started on loopback, awaited until they answer, stopped by PID."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from harness.core.errors import EnvironmentProblem
from harness.core.lifecycle import Managed
from harness.core.polling import wait_until
from harness.core.ports import free_port, port_is_free
from harness.core.processes import ProcessIdentity, child_setup, signals_held, stop_tree
from harness.stack.supervisor import SupervisorRecord

APP_START_TIMEOUT_S = 60.0


@dataclass
class PythonService(Managed):
    """A Python module run as its own process (an app server or the projector)."""

    name: str
    module: str
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    args: tuple[str, ...] = ()
    port: int | None = None  # for HTTP services: where it listens
    health_path: str | None = None
    detached: bool = False
    niceness: int = 0  # below 0: scheduled ahead of other processes, where permitted (root)
    cpus: frozenset[int] | None = None  # the cores it may run on (None: any)
    # run under harness.stack.supervisor, restarted with back-off when it dies; the
    # supervisor keeps this record of the current process and the restarts
    supervisor_record: Path | None = None
    # told the process's identity as soon as it exists, before it answers (a stack
    # records it at once, so that a command killed meanwhile leaves it to the reaper)
    on_spawn: Callable[[ProcessIdentity], None] | None = field(default=None, repr=False)
    _process: subprocess.Popen[bytes] | None = None
    identity: ProcessIdentity | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} has no port")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.identity is None else self.identity.pid

    def start(self) -> Self:
        args = [sys.executable, "-m", self.module, *self.args]
        if self.supervisor_record is not None:
            args = [
                sys.executable,
                "-m",
                "harness.stack.supervisor",
                "--record",
                str(self.supervisor_record),
                "--",
                *args,
            ]
        if self.health_path is not None:
            if self.port is None:
                self.port = free_port()
            elif not port_is_free(self.port):
                raise EnvironmentProblem(f"port {self.port} on 127.0.0.1 is already in use")
            args += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        use_pdeathsig = not self.detached and threading.current_thread() is threading.main_thread()
        # an interrupt waits until the child is recorded, so that stop() can reach it
        with signals_held(), open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
                preexec_fn=functools.partial(
                    child_setup,
                    signal.SIGTERM if use_pdeathsig else None,
                    self.cpus,
                    self.niceness,
                ),
            )
            self.identity = ProcessIdentity.of(self._process.pid)
            if self.on_spawn is not None:
                self.on_spawn(self.identity)
        if self.health_path is not None:
            wait_until(
                self._answers,
                timeout=APP_START_TIMEOUT_S,
                what=f"{self.name} at {self.url}",
                give_up=self._exited_reason,
            )
        return self

    def stop(self) -> None:
        if self.identity is not None:
            stop_tree(self.identity, first_signal=signal.SIGTERM, grace=15)
            self.identity = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None

    def wait(self, timeout: float) -> int | None:
        """Wait for the process to end by itself; its exit code, or None on timeout."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def worker_pid(self) -> int | None:
        """The process doing the work: the supervised one, when there is a supervisor."""
        if self.supervisor_record is None:
            return self.pid
        record = SupervisorRecord.read(self.supervisor_record)
        return None if record is None else record.pid

    def alive(self) -> bool:
        return self.identity is not None and self.identity.alive()

    def _answers(self) -> bool:
        try:
            response = httpx.get(f"{self.url}{self.health_path}", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _exited_reason(self) -> str | None:
        if self._process is None or self._process.poll() is None:
            return None
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        return f"{self.name} exited with code {self._process.returncode}: {' | '.join(tail)}"
