"""The one polling helper: every "wait until X" in the harness goes through here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.core.errors import EnvironmentProblem, HarnessError

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    max_interval: float = 0.5,
    give_up: Callable[[], str | None] | None = None,
) -> T:
    """Call ``probe`` until it returns something other than ``None``/``False``.

    The interval grows geometrically up to ``max_interval`` so short waits stay
    responsive and long waits stay cheap. ``give_up`` is asked between probes and
    returns a reason when waiting is pointless (a child process died, say), which
    ends the wait at once instead of at the timeout.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if give_up is not None:
            reason = give_up()
            if reason is not None:
                raise EnvironmentProblem(f"gave up waiting for {what}: {reason}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutWaiting(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, max_interval)


class TimeoutWaiting(HarnessError):
    exit_code = EnvironmentProblem.exit_code
