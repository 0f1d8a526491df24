"""Where the harness keeps its state: clusters, datasets, stacks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from harness.core.errors import BadInput

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


def check_home(home: Path) -> None:
    """Refuse a work directory (or its dataset cache, clusters, stacks) that is not ours.

    As root the default home sits in a world-writable directory: anyone could
    create it first, or plant a symbolic link, and have root write, chmod or
    remove through it. A path that does not exist yet is fine (we make it).
    """
    for path in (home, datasets_dir(home), clusters_dir(home), stacks_dir(home)):
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        where = f"work directory {path}"
        hint = "choose another with --home or CQRS_BENCH_HOME, or remove it"
        if stat.S_ISLNK(info.st_mode):
            raise BadInput(f"{where} is a symbolic link", hint=hint)
        if info.st_uid != os.geteuid():
            raise BadInput(
                f"{where} is owned by uid {info.st_uid}, not by this user ({os.geteuid()})",
                hint=hint,
            )
        if info.st_mode & 0o022:
            raise BadInput(
                f"{where} is one others can write to (mode {stat.S_IMODE(info.st_mode):o})",
                hint=hint,
            )
