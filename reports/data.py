"""A run directory, read once for the report: summary, run facts, raw series."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.errors import BadInput
from harness.results.summarize import read_requests, read_run_json, read_summary


@dataclass
class SystemSeries:
    name: str
    requests: pd.DataFrame  # seconds since the run's clock start in column "t"
    resources: pd.DataFrame | None
    lag: pd.DataFrame | None  # end-to-end projection lag per order (CQRS)


@dataclass
class RunData:
    directory: Path
    run: dict[str, Any]
    summary: dict[str, Any]
    systems: dict[str, SystemSeries]

    @property
    def phase_seconds(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.run["plan"]["phase_seconds"].items()}


def _optional(path: Path) -> pd.DataFrame | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    frame = pd.read_csv(path)
    return None if frame.empty else frame


def load_run(directory: Path) -> RunData:
    if not directory.is_dir():
        raise BadInput(f"{directory} is not a directory")
    run = read_run_json(directory)
    summary = read_summary(directory)
    systems = {}
    for name, data in summary["systems"].items():
        system_dir = directory / name
        if not system_dir.is_dir():
            raise BadInput(f"{directory} has no {name}/ although summary.json names it")
        start = min(data["phase_windows"][p][0] for p in data["phase_windows"])
        requests = read_requests(system_dir)
        requests["t"] = requests["ts"] - start
        resources = _optional(system_dir / "resources.csv")
        if resources is not None:
            resources["t"] = resources["ts"] - start
        lag = _optional(system_dir / "projection.csv")
        if lag is not None:
            lag["t"] = lag["ts"] - start
        systems[name] = SystemSeries(name, requests, resources, lag)
    return RunData(directory, run, summary, systems)
