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


def read_requests(directory: Path) -> pd.DataFrame:
    """Every request of one system, from all its Locust processes' ``requests-*.csv``."""
    # a process's file is empty only in the instant between its creation and its header
    files = sorted(f for f in directory.glob("requests-*.csv") if f.stat().st_size > 0)
    if not files:
        raise ResultsFileError(f"{directory} holds no requests-*.csv: the run recorded nothing")
    frames = [
        pd.read_csv(f, dtype={"kind": "string", "phase": "string", "name": "string"}) for f in files
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame["kind"] = frame["kind"].fillna("")
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
