"""``cqrs-bench worker``: a Locust worker here for a master elsewhere (``run --expect-workers``).

The worker needs no files of the run: the master sends the plan and the phase
clock, and takes the request records back. A run drives its systems one after
the other, each with a master of its own on the same address, so the worker
connects again after each (until ``once`` or Ctrl-C).
"""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys
from dataclasses import dataclass

from harness.core.console import human
from harness.core.errors import BadInput
from harness.core.processes import child_setup
from harness.run.orchestrate import DEFAULT_MASTER_PORT, GENERATOR_NICENESS, LOCUSTFILE

# host, [v6 host], then an optional :port
_ADDRESS = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]\s]+))(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class WorkerConfig:
    master: tuple[str, int]
    once: bool = False
    loglevel: str = "WARNING"


def parse_address(
    text: str, option: str, default_port: int = DEFAULT_MASTER_PORT
) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[V6]:PORT`` for IPv6) as (host, port), or a clear refusal."""
    match = _ADDRESS.match(text.strip())
    port = int(match["port"]) if match and match["port"] else default_port
    if match is None or not 1 <= port <= 65535:
        raise BadInput(f"{option} {text!r} is not HOST[:PORT] (example: 10.0.0.5:5557)")
    return (match["v6"] or match["host"], port)


def locust_worker_args(config: WorkerConfig) -> list[str]:
    host, port = config.master
    return [
        *("-f", str(LOCUSTFILE), "--worker"),
        *("--master-host", host, "--master-port", str(port)),
        *("--loglevel", config.loglevel),
    ]


def serve_worker(config: WorkerConfig) -> int:
    """Run Locust workers for the master, one test after another; the last exit code."""
    host, port = config.master
    tests = 0
    while True:
        human.print(f"worker: connecting to the master at {host}:{port}")
        code = _one_worker(config)
        tests += 1
        if config.once:
            return code
        human.print(f"worker: test {tests} done (exit {code}); waiting for the next master")


def _one_worker(config: WorkerConfig) -> int:
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", *locust_worker_args(config)],
        stdin=subprocess.DEVNULL,
        preexec_fn=functools.partial(child_setup, signal.SIGTERM, None, GENERATOR_NICENESS),
    )
    try:
        return process.wait()
    finally:
        if process.poll() is None:  # interrupted: the worker goes too
            process.terminate()
            process.wait(timeout=10)
