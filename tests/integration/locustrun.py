"""Helpers for tests that drive real Locust against a small server of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from harness.run.orchestrate import locust_args
from scenarios.plan import PLAN_ENV, LoadPlan


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON."""

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run_locust(url: str, plan: LoadPlan, directory: Path, timeout: float = 180) -> None:
    """Headless Locust on the scenarios with ``plan``, recording into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    plan = replace(plan, record_dir=str(directory))
    plan_file = directory / "plan.json"
    plan.write(plan_file)
    result = subprocess.run(
        [sys.executable, "-m", "locust", *locust_args(url, directory / "locust")],
        env={**os.environ, PLAN_ENV: str(plan_file)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
