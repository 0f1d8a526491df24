"""Reading and writing a run directory's files: ``run.json``, ``summary.json`` and the raw records.

JSON files are written whole or not at all (a temporary file beside the
target, then a rename), so a reader sees the old version or the new one,
never half of one. Reading goes through the model, which refuses unknown
schema versions and names every missing or mistyped key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.core.jsonfile import write_json
from harness.results.model import ResultsFileError, RunInfo, Summary

RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
# Locust's own HTML report of a system (or trial), beside its records; the report links it
LOCUST_REPORT = "locust.html"


def write_json_atomic(path: Path, payload: Any) -> Path:
    """``payload`` as indented JSON at ``path``, through a temporary file renamed into place."""
    write_json(path, payload)
    return path


def _read_json(path: Path, missing: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsFileError(missing) from None
    except ValueError as exc:
        raise ResultsFileError(
            f"{path} is not valid JSON ({exc}); the file is truncated or damaged"
        ) from None


def write_summary(run_dir: Path, summary: Summary) -> Path:
    return write_json_atomic(run_dir / SUMMARY_FILE, summary.to_json())


def read_summary(run_dir: Path) -> Summary:
    path = run_dir / SUMMARY_FILE
    data = _read_json(path, f"{run_dir} has no {SUMMARY_FILE} (an incomplete run?)")
    return Summary.from_json(data, str(path))


def write_run_info(run_dir: Path, info: RunInfo) -> Path:
    return write_json_atomic(run_dir / RUN_FILE, info.to_json())


def read_run_info(run_dir: Path) -> RunInfo:
    path = run_dir / RUN_FILE
    data = _read_json(path, f"{run_dir} is not a run directory (no {RUN_FILE})")
    return RunInfo.from_json(data, str(path))


def read_requests(directory: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every request of one system, from all its Locust processes' ``requests-*.csv``
    (``columns``: only these)."""
    # a process's file is empty only in the instant between its creation and its header
    files = sorted(f for f in directory.glob("requests-*.csv") if f.stat().st_size > 0)
    if not files:
        raise ResultsFileError(f"{directory} holds no requests-*.csv: the run recorded nothing")
    # "error" (the failure's message) is absent from records written before it was kept
    types = {"kind": "string", "phase": "string", "name": "string", "error": "string"}
    frames = [pd.read_csv(f, dtype=types, usecols=columns) for f in files]
    frame = pd.concat(frames, ignore_index=True)
    frame["kind"] = frame["kind"].fillna("")
    if "error" in frame.columns:
        frame["error"] = frame["error"].fillna("")
    return frame


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """A sampler's CSV (resources, projection lag), or None when it is absent or empty."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    frame = pd.read_csv(path)
    return None if frame.empty else frame


def read_clock_start(directory: Path) -> float | None:
    """When the first Locust process of a system started its phase clock (epoch seconds)."""
    starts = [json.loads(f.read_text())["started"] for f in directory.glob("clock-*.json")]
    return min(starts) if starts else None


TRIAL_PREFIX = "trial-"


def trial_dir(run_dir: Path, system: str, trial: int, repeat: int) -> Path:
    """Where one trial of a system keeps its raw files: ``<system>/`` for a single trial,
    ``<system>/trial-<k>/`` with ``run --repeat N``."""
    return run_dir / system if repeat == 1 else run_dir / system / f"{TRIAL_PREFIX}{trial}"


def trial_dirs(run_dir: Path, system: str) -> list[Path]:
    """Every trial directory of a system, in trial order (``<system>/`` alone for one trial)."""
    directory = run_dir / system
    trials = [
        path
        for path in directory.glob(f"{TRIAL_PREFIX}*")
        if path.is_dir() and path.name[len(TRIAL_PREFIX) :].isdigit()
    ]
    if not trials or any(directory.glob("requests-*.csv")):
        return [directory]
    return sorted(trials, key=lambda path: int(path.name[len(TRIAL_PREFIX) :]))
