"""JSON records written whole or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, payload: Any, *, private: bool = False, indent: int | None = 2) -> None:
    """Write ``payload`` to a temporary file beside ``path``, then rename it into place.

    Readers (the reaper, ``status``, another command) see the old record or the
    new one, never half of one. ``private`` files (passwords, DSNs) are 0600.
    The temporary file is opened without following a symlink someone planted.
    """
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=indent, default=str)
    tmp.replace(path)
