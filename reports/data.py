"""A run directory, read once for the report: summary, run facts, raw series."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.results import ResultsFileError, RunInfo, Summary
from harness.results.files import (
    read_optional_csv,
    read_requests,
    read_run_info,
    read_summary,
    trial_dirs,
)


@dataclass
class SystemSeries:
    name: str
    requests: pd.DataFrame  # seconds since the run's clock start in column "t"
    resources: pd.DataFrame | None
    lag: pd.DataFrame | None  # end-to-end projection lag per order (CQRS)


@dataclass
class RunData:
    directory: Path
    run: RunInfo
    summary: Summary
    systems: dict[str, SystemSeries]

    @property
    def phase_seconds(self) -> dict[str, float]:
        return self.run.phase_seconds

    @property
    def trials(self) -> int:
        """Trials per system; the plots over time show the first."""
        return self.summary.trial_count


def load_run(directory: Path) -> RunData:
    if not directory.is_dir():
        raise ResultsFileError(f"{directory} is not a directory")
    run = read_run_info(directory)
    summary = read_summary(directory)
    systems = {}
    for name in summary.systems:
        if not (directory / name).is_dir():
            raise ResultsFileError(f"{directory} has no {name}/ although summary.json names it")
        system_dir = trial_dirs(directory, name)[0]  # with trials: the first
        start = min(window[0] for window in summary.windows(name, 1).values())
        requests = read_requests(system_dir)
        requests["t"] = requests["ts"] - start
        resources = read_optional_csv(system_dir / "resources.csv")
        if resources is not None:
            resources["t"] = resources["ts"] - start
        lag = read_optional_csv(system_dir / "projection.csv")
        if lag is not None:
            lag["t"] = lag["ts"] - start
        systems[name] = SystemSeries(name, requests, resources, lag)
    return RunData(directory, run, summary, systems)
