"""Where the harness keeps its state: clusters, datasets, stacks."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "CQRS_BENCH_HOME"


def default_home() -> Path:
    """The harness's work directory.

    As root, PostgreSQL runs as an unprivileged user who must be able to reach
    its data directory, and root's home is usually closed to others; so root's
    default lives under /var/tmp instead of ~/.cache.
    """
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    if os.geteuid() == 0:
        return Path("/var/tmp/cqrs-bench")  # noqa: S108 (a fixed, documented place)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "cqrs-bench"


def clusters_dir(home: Path) -> Path:
    return home / "clusters"


def datasets_dir(home: Path) -> Path:
    return home / "datasets"


def stacks_dir(home: Path) -> Path:
    return home / "stacks"
