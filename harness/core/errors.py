"""The one error root of the harness and the exit codes it maps to.

Everything the harness raises on purpose derives from :class:`HarnessError`; the
CLI boundary (``harness.cli.main``) turns it into a one-line message and the
exit code of DESIGN.md. Nothing else in the code base calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # a gate or a verification failed
    BAD_INPUT = 2  # bad usage or input
    ENVIRONMENT = 3  # missing binaries, port taken, disk, no provider


class HarnessError(Exception):
    """Root of every error the harness reports to its user."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class BadInput(HarnessError):
    """The user gave an option, file or body the harness cannot use (exit 2)."""

    exit_code = ExitCode.BAD_INPUT


class EnvironmentProblem(HarnessError):
    """The machine lacks something the harness needs (exit 3)."""

    exit_code = ExitCode.ENVIRONMENT


class CheckFailed(HarnessError):
    """A gate or a verification found a failure (exit 1)."""

    exit_code = ExitCode.CHECK_FAILED
