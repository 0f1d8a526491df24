"""Output channels: machine-readable JSON on stdout, everything human on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

human = Console(stderr=True, highlight=False)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=None, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
