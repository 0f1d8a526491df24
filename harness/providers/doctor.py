"""``cqrs-bench doctor``: what this machine offers the harness, with fixes."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from harness.core.accounts import check_reachable, unprivileged_user
from harness.core.errors import EnvironmentProblem, HarnessError
from harness.providers.binaries import find_binaries
from harness.providers.cache import describe_local
from harness.providers.docker import docker_unavailable_reason

MIN_FREE_DISK_GIB = 5.0


@dataclass(frozen=True)
class DoctorConfig:
    home: Path
    pg_bin_dir: Path | None = None


def _nearest_existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def diagnose(config: DoctorConfig) -> dict[str, Any]:
    checks: dict[str, Any] = {}

    try:
        binaries = find_binaries(config.pg_bin_dir)
        checks["postgres"] = {
            "ok": True,
            "bindir": str(binaries.bindir),
            "initdb": str(binaries.tool("initdb")),
            "postgres": str(binaries.tool("postgres")),
            "version": binaries.version,
            "found_via": binaries.source,
        }
    except HarnessError as exc:
        if config.pg_bin_dir is not None:
            raise
        checks["postgres"] = {"ok": False, "problem": exc.message, "fix": exc.hint}

    if os.geteuid() == 0:
        try:
            account = unprivileged_user()
            check_reachable(config.home, account)
            checks["run_as"] = {"ok": True, "user": account.pw_name, "uid": account.pw_uid}
        except EnvironmentProblem as exc:
            checks["run_as"] = {"ok": False, "problem": exc.message, "fix": exc.hint}
    else:
        checks["run_as"] = {"ok": True, "user": psutil.Process().username(), "uid": os.geteuid()}

    try:
        checks["redis"] = {"ok": True, **describe_local()}
    except HarnessError as exc:
        checks["redis"] = {
            "ok": False,
            "problem": exc.message,
            "fix": f"{exc.hint}; needed by the cache system only (or give --redis-url)",
        }

    reason = docker_unavailable_reason()
    checks["docker"] = (
        {"ok": True}
        if reason is None
        else {
            "ok": False,
            "problem": reason,
            "fix": "start a Docker engine to use --provider docker (optional when local works)",
        }
    )

    disk = shutil.disk_usage(_nearest_existing(config.home))
    free_gib = disk.free / 2**30
    checks["disk"] = {
        "ok": free_gib >= MIN_FREE_DISK_GIB,
        "path": str(config.home),
        "free_gib": round(free_gib, 1),
        **(
            {}
            if free_gib >= MIN_FREE_DISK_GIB
            else {"fix": f"free at least {MIN_FREE_DISK_GIB:g} GiB or choose --home elsewhere"}
        ),
    }
    memory = psutil.virtual_memory()
    checks["machine"] = {
        "ok": True,
        "cores": psutil.cpu_count(logical=True),
        "memory_gib": round(memory.total / 2**30, 1),
    }

    local_ok = checks["postgres"]["ok"] and checks["run_as"]["ok"]
    providers = {"local": bool(local_ok), "docker": reason is None}
    return {
        "ok": any(providers.values()),
        "providers": providers,
        # the cache system's Redis: redis-server here (local), else a --redis-url
        "redis": bool(checks["redis"]["ok"]),
        "default_provider": "local" if local_ok else ("docker" if reason is None else None),
        "home": str(config.home),
        "checks": checks,
    }


def require_a_provider(report: dict[str, Any]) -> None:
    if not report["ok"]:
        problem = report["checks"]["postgres"].get("problem", "no PostgreSQL")
        raise EnvironmentProblem(
            f"no provider can work here: {problem}; and no Docker engine",
            hint=report["checks"]["postgres"].get("fix"),
        )
