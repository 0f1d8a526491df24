"""Finding PostgreSQL server binaries on this machine."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.core.accounts import run_as_uid
from harness.core.errors import BadInput, EnvironmentProblem

REQUIRED = ("initdb", "postgres")
INSTALL_HINT = (
    "install PostgreSQL server binaries (Debian/Ubuntu: apt-get install -y postgresql), "
    "or pip install 'cqrs-bench[embedded-pg]', or pass --pg-bin-dir"
)


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    version: str  # "15.18"
    source: str  # where they were found: "--pg-bin-dir", "PATH", "pg_config", ...

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def tool(self, name: str) -> Path:
        return self.bindir / name


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in REQUIRED)


def _version_of(bindir: Path) -> str:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentProblem(f"{bindir / 'postgres'} does not run: {exc}") from exc
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise EnvironmentProblem(f"cannot read the version of {bindir / 'postgres'}: {out!r}")
    return match.group(0)


def _candidates() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    on_path = shutil.which("postgres")
    if on_path:
        found.append((Path(on_path).resolve().parent, "PATH"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
            found.append((Path(bindir), "pg_config"))
        except (OSError, subprocess.SubprocessError):
            pass
    versioned = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
        reverse=True,
    )
    found.extend((p, "/usr/lib/postgresql") for p in versioned)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            found.extend(
                (p.parent, "pgserver wheel") for p in sorted(Path(location).rglob("bin/postgres"))
            )
    return found


@functools.cache
def find_binaries(explicit: Path | None = None) -> PgBinaries:
    """The server binaries to use: ``explicit`` if given, else the first found."""
    if explicit is not None:
        if not explicit.is_dir():
            raise BadInput(f"--pg-bin-dir {explicit} does not exist or is not a directory")
        if not _has_server(explicit):
            raise BadInput(f"--pg-bin-dir {explicit} has no executable initdb and postgres")
        return PgBinaries(explicit, _version_of(explicit), "--pg-bin-dir")
    for bindir, source in _candidates():
        if _has_server(bindir):
            return PgBinaries(bindir, _version_of(bindir), source)
    raise EnvironmentProblem("no PostgreSQL server binaries found", hint=INSTALL_HINT)


@functools.cache
def known_setting_names(bindir: Path) -> frozenset[str]:
    """Every server setting this PostgreSQL knows, from ``postgres --describe-config``."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--describe-config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        user=run_as_uid(),  # postgres refuses root even for --describe-config
    ).stdout
    # lower case, as parse_setting gives them: names are case-insensitive (TimeZone)
    return frozenset(line.split("\t", 1)[0].lower() for line in out.splitlines() if line.strip())
