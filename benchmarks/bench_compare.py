"""How long ``cqrs-bench compare`` takes, and how much memory, on runs of 1 M requests each.

    python benchmarks/bench_compare.py [--requests 1000000] [--keep DIR]

Builds two synthetic runs (two systems, three phases of 300 s, latencies
with a shared load factor per second) in the run-directory layout, once with
one trial per run (compare uses the block bootstrap over every request) and
once with three trials (compare reads the trials from summary.json), then
times ``cqrs-bench compare A B --json`` in a fresh process and prints its wall
time and peak RSS. Target: under 10 s and 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness.results.files import write_summary
from harness.results.summarize import summarize_run

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "run-smoke"
PHASE_S = 300
ENDPOINTS = {  # share of requests
    "checkout": 0.3,
    "checkout_confirm": 0.3,
    "product_page": 0.15,
    "product_list": 0.1,
    "my_orders": 0.08,
    "order_status": 0.04,
    "dashboard_customers": 0.015,
    "dashboard_revenue": 0.015,
}


def _requests(n: int, start: float, rng: np.random.Generator, scale: float) -> pd.DataFrame:
    seconds = 3 * PHASE_S
    factor = rng.normal(0, 0.2, seconds)
    ts = start + np.sort(rng.random(n)) * seconds
    second = np.minimum((ts - start).astype(int), seconds - 1)
    names = rng.choice(list(ENDPOINTS), size=n, p=list(ENDPOINTS.values()))
    latency = 20_000 * scale * np.exp(factor[second] + rng.normal(0, 0.4, n))
    phase = np.array(["steady", "storm", "recovery"])[second // PHASE_S]
    return pd.DataFrame(
        {
            "ts": ts.round(6),
            "phase": phase,
            "name": names,
            "latency_us": latency.astype(int),
            "ok": 1,
            "kind": "",
            "status": 200,
            "lag_us": 0,
        }
    )


def make_run(directory: Path, requests: int, trials: int, seed: int) -> Path:
    directory.mkdir(parents=True)
    run = json.loads((FIXTURE / "run.json").read_text())
    run["plan"]["phase_seconds"] = dict.fromkeys(("steady", "storm", "recovery"), PHASE_S)
    run["phases"] = run["plan"]["phase_seconds"]
    if trials > 1:
        run["trials"] = {
            "count": trials,
            "order": [f"{s}/{k}" for k in range(1, trials + 1) for s in ("baseline", "cqrs")],
        }
    (directory / "run.json").write_text(json.dumps(run))
    rng = np.random.default_rng(seed)
    per_trial = requests // trials // 2
    for system, scale in (("baseline", 1.0), ("cqrs", 0.5)):
        for trial in range(1, trials + 1):
            target = directory / system if trials == 1 else directory / system / f"trial-{trial}"
            target.mkdir(parents=True)
            start = 1_800_000_000.0 + trial * 10_000
            (target / "clock-1.json").write_text(json.dumps({"started": start}))
            _requests(per_trial, start, rng, scale).to_csv(target / "requests-1.csv", index=False)
    write_summary(directory, summarize_run(directory))
    return directory


# runs the CLI in this child and prints the child's own peak RSS (KiB) last on stderr
WRAPPER = """
import resource, runpy, sys
sys.argv = ["cqrs-bench", *sys.argv[1:]]
try:
    runpy.run_module("harness.cli", run_name="__main__")
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def time_compare(a: Path, b: Path) -> tuple[float, float, int, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "compare", str(a), str(b), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    report = json.loads(done.stdout)
    return seconds, peak_mib, report["judged"], report["beyond"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000, help="per run")
    parser.add_argument("--keep", type=Path, help="build the runs here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="cqrs-bench-bench-"))
    try:
        for trials in (1, 3):
            a = make_run(root / f"a-{trials}", args.requests, trials, seed=1)
            b = make_run(root / f"b-{trials}", args.requests, trials, seed=2)
            seconds, peak, judged, beyond = time_compare(a, b)
            print(
                f"compare, {args.requests:,} requests per run, {trials} trial(s) per system: "
                f"{seconds:.1f} s, peak RSS {peak:,.0f} MiB "
                f"({beyond} of {judged} judged metrics beyond noise)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
