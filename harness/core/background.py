"""A daemon thread that runs while a ``with`` block does: the sampler, the live progress line."""

from __future__ import annotations

import threading
from collections.abc import Callable

JOIN_TIMEOUT_S = 10.0


class BackgroundThread:
    """Runs ``target`` on a daemon thread from :meth:`start` until :meth:`stop`.

    ``target`` polls :attr:`stopping` (``while not stopping.wait(interval)``);
    :meth:`stop` sets it and waits for the thread, at most ``JOIN_TIMEOUT_S``,
    so a stuck target can delay the caller but never hang it.
    """

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.name = name
        self.target = target
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.target, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
