"""Start/stop as a context manager, shared by clusters, services and stacks.

Used as a context manager a component is stopped on the way out, and also
when ``start`` itself fails half way (as testcontainers does).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Managed:
    """Context-manager behaviour for anything with ``start() -> Self`` and ``stop()``."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_interrupted: list[int] = []


def note_interrupt(signum: int) -> None:
    """Remember a SIGINT/SIGTERM: the KeyboardInterrupt it raises can be swallowed (raised
    in an at-fork hook while a server is spawned), and a start-up must not end as if none came."""
    _interrupted.append(signum)


def interrupted() -> bool:
    return bool(_interrupted)
