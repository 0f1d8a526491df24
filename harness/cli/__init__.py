"""The ``cqrs-bench`` command line.

Commands only parse options, build a frozen config and call one plain
function; errors derived from HarnessError become one line and an exit code
here, and nowhere else.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

import typer
from typer.exceptions import TyperException

# Each command group registers itself on the app when imported.
from harness.cli import calibrate, data, load, machine, results, systems  # noqa: F401
from harness.cli.app import app
from harness.cli.config import configure
from harness.core.console import human
from harness.core.errors import ExitCode, HarnessError
from harness.core.lifecycle import note_interrupt


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    # SIGTERM gets the same orderly cleanup as Ctrl-C.
    note_interrupt(signum)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> NoReturn:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        command = configure(typer.main.get_command(app))
        result = command.main(args=argv, prog_name="cqrs-bench", standalone_mode=False)
    except typer.Abort:
        human.print("interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: unknown option, bad value, ...
        message = " ".join(exc.format_message().split())
        human.print(f"cqrs-bench: error: {message}", markup=False, soft_wrap=True)
        sys.exit(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        human.print("interrupted")
        sys.exit(130)
    except HarnessError as exc:
        human.print(f"cqrs-bench: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(int(exc.exit_code))
    sys.exit(result if isinstance(result, int) else 0)
