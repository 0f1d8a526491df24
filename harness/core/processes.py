"""Process bookkeeping: who owns what, and stopping a process tree by PID.

A process is identified by (pid, create_time) so that a recycled PID is never
mistaken for the process the harness started.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.core.errors import EnvironmentProblem

PR_SET_PDEATHSIG = 1


class ForeignProcess(EnvironmentProblem):
    """A record names a live process that is not the one the harness started there."""


@dataclass(frozen=True)
class ExpectedProcess:
    """What a recorded process must be before the harness signals it.

    A record (a cluster's, a stack's) names a PID; before ``down`` or the
    reaper signals it, the process must run the expected program (``names``:
    accepted process names, or a module run with ``python -m``), as the
    expected user, with ``on_command_line`` (its data directory, say) among its
    arguments. Anything else is left alone and said so.
    """

    what: str
    uid: int
    on_command_line: str | None = None
    names: frozenset[str] = frozenset()
    python_modules: frozenset[str] = frozenset()

    def mismatch(self, proc: psutil.Process) -> str | None:
        """Why ``proc`` is not the expected process, or None when it is."""
        try:
            name, uids, cmdline = proc.name(), proc.uids(), proc.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
            return f"it cannot be inspected ({type(exc).__name__})"
        if uids.real != self.uid:
            return f"it runs as uid {uids.real}, not {self.uid}"
        if self.names and name not in self.names:
            return f"it is {name!r}, not {' or '.join(sorted(self.names))}"
        if self.python_modules and not (
            len(cmdline) >= 3 and cmdline[1] == "-m" and cmdline[2] in self.python_modules
        ):
            return f"it does not run {' or '.join(sorted(self.python_modules))}"
        if self.on_command_line is not None and not any(
            self.on_command_line in argument for argument in cmdline
        ):
            return f"its command line does not name {self.on_command_line}"
        return None


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        return cls(pid=pid, create_time=psutil.Process(pid).create_time())

    @classmethod
    def current(cls) -> ProcessIdentity:
        return cls.of(os.getpid())

    def process(self) -> psutil.Process | None:
        """The live process, or None when it is gone or the PID was recycled."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def alive(self) -> bool:
        return self.process() is not None

    def to_json(self) -> dict[str, float]:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_json(cls, data: object) -> ProcessIdentity:
        if not isinstance(data, dict):
            raise ValueError("process identity must be an object")
        pid, create_time = data.get("pid"), data.get("create_time")
        # a record left by anyone (or by a crash) must not crash every command
        if type(pid) is not int or pid <= 0 or not isinstance(create_time, int | float):
            raise ValueError(f"process identity without a usable pid and start time: {data!r}")
        return cls(pid=pid, create_time=float(create_time))


def within(path: Path, root: Path) -> bool:
    """Whether ``path`` is a directory entry directly in ``root``, reached through no link.

    What the harness removes from a record (a stack's cluster directories, a
    stack's own directory) must be one of its own: a record naming ``/etc`` or
    ``clusters/../..`` is refused.
    """
    if path.name in ("", ".", "..") or not path.is_absolute() or path.is_symlink():
        return False
    return os.path.realpath(path.parent) == os.path.realpath(root)


def tagged_processes(variable: str, value: str, expect: ExpectedProcess) -> list[ProcessIdentity]:
    """Live processes whose environment sets ``variable`` to ``value`` and that are what
    ``expect`` says: the ones a command started but was killed before it recorded them."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(variable) != value or expect.mismatch(proc) is not None:
                continue
            found.append(ProcessIdentity(pid=proc.pid, create_time=proc.create_time()))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_tree(
    identity: ProcessIdentity,
    *,
    first_signal: signal.Signals = signal.SIGTERM,
    grace: float = 20.0,
    expect: ExpectedProcess | None = None,
) -> None:
    """Signal a process, wait for it and its children, kill what is left.

    With ``expect`` (a PID read from a record), a live process that is not the
    expected one is not signalled: :class:`ForeignProcess` says why.
    """
    proc = identity.process()
    if proc is None:
        return
    if expect is not None:
        problem = expect.mismatch(proc)
        if problem is not None:
            raise ForeignProcess(
                f"left pid {identity.pid} alone: a record names it as {expect.what}, but {problem}"
            )
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = [proc]
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(first_signal)
    _, alive = psutil.wait_procs([proc], timeout=grace)
    for leftover in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()
    # children normally exit with their parent; anything still here is killed.
    _, stragglers = psutil.wait_procs(family, timeout=5)
    for straggler in stragglers:
        with contextlib.suppress(psutil.NoSuchProcess):
            straggler.kill()
    psutil.wait_procs(stragglers, timeout=5)


def die_with_parent(sig: signal.Signals) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies.

    Used as ``preexec_fn`` so that a SIGKILLed harness does not leave servers
    running; the reaper of the next command is the second line of defence.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:  # pragma: no cover - only on exotic libcs
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


# what stops a command: held while a process is spawned and recorded
HELD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (then they are delivered as usual).

    An interrupt raised inside ``Popen`` leaves the caller without the child it has
    just forked, so nothing would stop it: spawn and record inside this block, and the
    interrupt comes once the child is known. The child unblocks them (``child_setup``).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are handled on the main thread only
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unblock_held_signals() -> None:
    """In a child spawned inside ``signals_held``: the blocked mask is inherited; undo it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)


def child_setup(
    die_signal: signal.Signals | None, cpus: frozenset[int] | None, niceness: int
) -> None:
    """``preexec_fn`` of every process the harness starts: what it inherits before it runs.

    The parent-death signal (a killed harness takes its servers with it), the
    cores it may run on (CPU placement, inherited by every child it forks:
    PostgreSQL's backends and workers too), and its scheduling priority.
    """
    unblock_held_signals()
    if die_signal is not None:
        die_with_parent(die_signal)
    if cpus:
        os.sched_setaffinity(0, cpus)
    if niceness:
        with contextlib.suppress(PermissionError):  # only root may raise a priority
            os.nice(niceness)
