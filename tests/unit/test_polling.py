from __future__ import annotations

import itertools

import pytest

from harness.core.errors import EnvironmentProblem, ExitCode
from harness.core.polling import TimeoutWaiting, wait_until


def test_returns_first_value_that_is_not_none_or_false() -> None:
    answers = iter([None, False, "ready", "later"])
    calls = itertools.count()

    def probe() -> str | bool | None:
        next(calls)
        return next(answers)

    assert wait_until(probe, timeout=5, what="x", interval=0.001) == "ready"
    assert next(calls) == 3


def test_times_out_with_what_in_message() -> None:
    with pytest.raises(TimeoutWaiting, match="the moon") as info:
        wait_until(lambda: None, timeout=0.2, what="the moon", interval=0.01)
    assert info.value.exit_code is ExitCode.ENVIRONMENT


def test_give_up_ends_wait_early() -> None:
    with pytest.raises(EnvironmentProblem, match="child died"):
        wait_until(lambda: False, timeout=60, what="x", give_up=lambda: "child died")
