"""The run: for each system, stand it up, warm it up, drive the same load, sample, stop it.

The run directory is written as it goes: ``run.json`` first (status
``running``), each system's raw files, then ``summary.json`` and status
``complete``. An interrupted run is marked ``incomplete``, and nothing it
started is left running.

With ``repeat`` N > 1 each system runs N trials, interleaved in an order fixed
by the seed (:func:`trial_order`: ABBA for two systems), each on a fresh stack
from the cached dataset; a trial's raw files go to ``<system>/trial-<k>/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from harness.core.console import human
from harness.core.errors import EnvironmentProblem
from harness.core.jsonfile import write_json
from harness.core.polling import TimeoutWaiting
from harness.core.ports import free_port
from harness.profiles import LoadProfile
from harness.providers import ProviderConfig, ProviderKind, check_provider
from harness.providers.binaries import find_binaries
from harness.providers.docker import container_limits, docker_client
from harness.results.decision import Thresholds
from harness.results.files import LOCUST_REPORT, trial_dir, write_run_info, write_summary
from harness.results.model import HarnessFootprint, RunInfo, Summary
from harness.results.summarize import summarize_run
from harness.run.live import LiveProgress, RunWatcher
from harness.run.provenance import git_sha, machine, versions
from harness.run.sampler import Sampler
from harness.seed.spec import DatasetSpec
from harness.stack.placement import SPLIT
from harness.stack.readmodels import last_order_id, projection_outcome, wait_caught_up
from harness.stack.services import PythonService
from harness.stack.stacks import (
    READ_DSN_ENV,
    WRITE_DSN_ENV,
    CacheSettings,
    Stack,
    StackConfig,
    SystemKind,
)
from scenarios.plan import PLAN_ENV, LoadPlan
from scenarios.recorder import FOOTPRINT_PREFIX

LOCUSTFILE = Path(__file__).resolve().parents[2] / "scenarios" / "locustfile.py"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The load generator is scheduled ahead of the systems it measures (where permitted):
# a generator that waits for a core reports its own lateness as the system's latency.
GENERATOR_NICENESS = -5
LOOPBACK = "127.0.0.1"
DEFAULT_MASTER_PORT = 5557  # Locust's own
# How long the master waits for its expected workers before it gives up.
WORKER_WAIT_S = 120


@dataclass(frozen=True)
class RunConfig:
    provider: ProviderConfig
    profile: str
    spec: DatasetSpec
    load: LoadProfile
    systems: tuple[SystemKind, ...]
    out: Path
    workers: int = 0
    # Locust's distributed mode: wait for this many `cqrs-bench worker`s (0: none)
    expect_workers: int = 0
    master_bind: tuple[str, int] = (LOOPBACK, DEFAULT_MASTER_PORT)
    targets: tuple[tuple[str, str], ...] = ()  # (system, url) already running elsewhere
    progress: bool = True
    cpu_layout: str = SPLIT
    repeat: int = 1  # trials per system
    cache: CacheSettings | None = None  # the cache system's settings (None: its defaults)
    thresholds: Thresholds = field(default_factory=Thresholds)  # the decision section's
    # where the options came from (command line, environment, file), for run.json
    settings: dict[str, Any] = field(default_factory=dict)


def trial_order(names: Sequence[str], repeat: int, seed: int) -> list[tuple[str, int]]:
    """Which system runs which trial when: every round runs each system once; the first
    round's order is drawn from the seed and every other round runs it backwards (ABBA
    for two systems), so drift over time falls on both sides alike. One trial: as given."""
    first = list(names)
    if repeat > 1:
        random.Random(seed).shuffle(first)
    order: list[tuple[str, int]] = []
    for trial in range(1, repeat + 1):
        ordered = first if trial % 2 == 1 else first[::-1]
        order.extend((name, trial) for name in ordered)
    return order


def make_plan(config: RunConfig, record_dir: Path) -> LoadPlan:
    load = config.load
    return LoadPlan(
        phase_seconds={"steady": load.steady_s, "storm": load.storm_s, "recovery": load.recovery_s},
        checkout_rate=load.checkout_rate,
        shoppers=load.shoppers,
        admins=load.admins,
        admin_interval_s=load.admin_interval_s,
        users=config.spec.users,
        products=config.spec.products,
        orders=config.spec.orders,
        seed=config.spec.seed,
        record_dir=str(record_dir),
    )


def run_benchmark(config: RunConfig) -> tuple[Path, Summary]:
    kind = check_provider(config.provider) if config.systems else config.provider.kind
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = config.out / f"{stamp}-{config.profile}"
    run_dir.mkdir(parents=True, exist_ok=False)
    names = [s.value for s in config.systems] + [name for name, _ in config.targets]
    plan = make_plan(config, run_dir)
    info = RunInfo(
        status="running",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        profile=config.profile,
        systems=tuple(names),
        dataset={"spec": config.spec.to_json()},
        plan=plan.to_json(),
        phases=plan.phase_seconds,
        seed=config.spec.seed,
        provider=kind.value,
        pg_settings=config.provider.settings,
        git_sha=git_sha(REPO_ROOT),
        versions=versions(_pg_version(config)),
        machine=machine(),
        caveats=(
            "every component (databases, apps, projector, Locust) shares this machine's cores"
            if not config.expect_workers
            else "the systems share this machine's cores; the load comes from "
            f"{config.expect_workers} Locust workers wherever they were started",
        ),
        systems_detail={},
        extra={
            "generator": {
                "niceness": GENERATOR_NICENESS if os.geteuid() == 0 else 0,
                "record_writes": "on a writer thread, off the event loop",
                "records": "exact: one row per request (no histograms)",
                **(_distributed_detail(config) if config.expect_workers else {}),
            },
            **({"docker": _docker_detail(config.provider)} if kind is ProviderKind.DOCKER else {}),
            "decision": config.thresholds.to_json(),
            **({"settings": config.settings} if config.settings else {}),
        },
    )
    order = trial_order(names, config.repeat, config.spec.seed)
    if config.repeat > 1:
        info = replace(
            info,
            repeat=config.repeat,
            trial_order=tuple(f"{name}/{trial}" for name, trial in order),
        )
    write_run_info(run_dir, info)
    details: dict[str, dict[str, Any]] = {}
    kinds = {s.value: s for s in config.systems}
    urls = dict(config.targets)
    try:
        for name, trial in order:
            directory = trial_dir(run_dir, name, trial, config.repeat)
            if config.repeat > 1:
                human.print(f"[bold]trial {trial} of {config.repeat}[/]")
            if name in kinds:
                detail = _run_system(config, directory, kinds[name], plan)
            else:
                detail = _drive(config, directory, plan, urls[name], None, {}, {})
            if config.repeat > 1:
                trials = [*details.get(name, {}).get("trials", []), detail]
                detail = {**detail, "trials": trials}
            details[name] = detail
            info = replace(info, systems_detail=dict(details))
            write_run_info(run_dir, info)
        summary = summarize_run(run_dir)
        write_summary(run_dir, summary)
        info = replace(info, status="complete")
        write_run_info(run_dir, info)
        return run_dir, summary
    except BaseException:
        info = replace(info, status="incomplete")
        raise
    finally:
        info = replace(info, finished_at=datetime.now(UTC).isoformat(timespec="seconds"))
        write_run_info(run_dir, info)


def _distributed_detail(config: RunConfig) -> dict[str, Any]:
    host, port = config.master_bind
    return {
        "distributed": {
            "workers": config.expect_workers,
            "master_bind": f"{host}:{port}",
            "plan_and_clock": "from the master, as Locust custom arguments",
            "open_model_schedule": "split in one share per worker (arrival i to share i % N)",
            "records": "exact rows, batched from each worker to the master over Locust messages",
            "caveat": "latencies and phases use each worker's wall clock: keep the hosts' "
            "clocks synchronised (NTP)",
        }
    }


def _docker_detail(provider: ProviderConfig) -> dict[str, Any]:
    """The container settings asked for; each system's detail records what the engine applied."""
    return {
        "image": provider.docker_image,
        "network": provider.docker_network.value,
        "cpus": provider.docker_cpus,
        "memory": provider.docker_memory,
    }


def _pg_version(config: RunConfig) -> str | None:
    try:
        return find_binaries(config.provider.pg_bin_dir).version
    except EnvironmentProblem:
        return None


def _run_system(
    config: RunConfig, directory: Path, system: SystemKind, plan: LoadPlan
) -> dict[str, Any]:
    human.print(f"[bold]{system.value}[/]: starting databases and app")
    stack_config = StackConfig(
        system=system,
        provider=config.provider,
        spec=config.spec,
        progress=config.progress,
        cpu_layout=config.cpu_layout,
        cache=config.cache,
    )
    with Stack(stack_config) as stack:
        assert stack.state is not None
        topology = stack_config.topology
        components = {name: pid for name, pid in stack.state.pids.items() if pid}
        databases = {name: c.endpoint.dsn for name, c in stack.clusters.items()}
        containers = dict(stack.state.containers)
        seeded_orders = last_order_id(databases[topology.seeded])
        detail = _drive(
            config, directory, plan, stack.url, stack, components, databases, containers
        )
        if containers:
            detail["containers"] = _applied_limits(containers)
        if topology.projector:
            _dump_projection_lag(stack, directory, seeded_orders)
        detail["dataset"] = stack.state.dataset
        detail["pids"] = stack.state.pids
        detail["topology"] = {
            "app": topology.app,
            "clusters": list(topology.clusters),
            "reads_from": topology.dsns[READ_DSN_ENV][0]
            if READ_DSN_ENV in topology.dsns
            else topology.seeded,
            "read_models": None
            if topology.read_models is None
            else ".".join(part for part in topology.read_models if part),
            "standbys": dict(topology.standbys),
            "cache": None if topology.cache is None else topology.cache.to_json(),
            "servers": len(topology.clusters) + (1 if topology.redis else 0),
        }
        detail["cpu_layout"] = stack.layout.to_json([*stack.state.pids, "locust"])
        return detail


def _drive(
    config: RunConfig,
    directory: Path,
    plan: LoadPlan,
    url: str,
    stack: Stack | None,
    components: dict[str, int],
    databases: dict[str, str],
    containers: dict[str, str] | None = None,
) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    plan = replace(plan, record_dir=str(directory))
    plan_file = directory / "plan.json"
    plan.write(plan_file)
    human.print(f"  warming up {url}")
    _warm_up(url, plan)
    if stack is not None and stack.config.topology.projector:
        _wait_projection_idle(stack)
    human.print(
        f"  driving load for {plan.total_seconds:.0f} s "
        f"(steady {plan.phase_seconds['steady']:.0f} s, storm {plan.phase_seconds['storm']:.0f} s "
        f"with {plan.admins} admins, recovery {plan.phase_seconds['recovery']:.0f} s)"
    )
    args = locust_args(
        url,
        directory / "locust",
        config.workers,
        config.expect_workers,
        config.master_bind,
        html=directory / LOCUST_REPORT,
    )
    if config.expect_workers:
        host, port = config.master_bind
        human.print(f"  waiting for {config.expect_workers} workers on {host}:{port}")
    locust = PythonService(
        name="locust",
        module="locust",
        log_file=directory / "logs" / "locust.log",
        env={PLAN_ENV: str(plan_file)},
        args=tuple(args),
        niceness=GENERATOR_NICENESS,
    )
    started = time.time()
    own_cpu_before = _process_cpu_seconds()
    standbys = {} if stack is None else dict(stack.config.topology.standbys)
    sampler = Sampler(
        directory,
        {**components},
        databases,
        url,
        standbys={name: databases[name] for name in standbys if name in databases},
        containers=dict(containers or {}),
        projector_metrics_url=None if stack is None else stack.metrics_urls.get("projector"),
    )
    watcher = RunWatcher(directory, plan, list(databases))
    live = LiveProgress(watcher) if config.progress else contextlib.nullcontext()
    with locust, sampler, live:
        assert locust.pid is not None
        sampler.add_component("locust", locust.pid)
        deadline = plan.total_seconds + plan.drain_seconds + 120
        if config.expect_workers:
            deadline += WORKER_WAIT_S
        code = locust.wait(timeout=deadline)
        if code is None:
            raise EnvironmentProblem(
                f"Locust did not finish within {deadline:.0f} s; see {directory}/logs"
            )
    seconds = time.time() - started
    own_cpu = _process_cpu_seconds() - own_cpu_before
    footprint = HarnessFootprint.measured(
        seconds=seconds,
        orchestrator_cpu_s=own_cpu - sampler.cpu_seconds,
        sampler=sampler.footprint(),
        recorders=[json.loads(f.read_text()) for f in directory.glob(f"{FOOTPRINT_PREFIX}*.json")],
    )
    return {
        "url": url,
        "locust_exit_code": code,
        "seconds": round(seconds, 1),
        "harness_footprint": footprint.to_json(),
    }


def _process_cpu_seconds() -> float:
    """This process's CPU so far, every thread (the sampler's included), no child's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _applied_limits(containers: dict[str, str]) -> dict[str, Any]:
    client = docker_client()
    try:
        return {name: container_limits(client, cid) for name, cid in containers.items()}
    finally:
        client.close()


def locust_args(
    url: str,
    csv_prefix: Path,
    workers: int = 0,
    expect_workers: int = 0,
    master_bind: tuple[str, int] = (LOOPBACK, DEFAULT_MASTER_PORT),
    html: Path | None = None,
) -> list[str]:
    """Headless Locust on the scenarios, Locust's CSV statistics kept beside the records
    (and, with ``html``, Locust's own HTML report, which our report links).

    With ``expect_workers`` it is a master that waits for that many workers
    (``cqrs-bench worker``) on ``master_bind``, which is loopback unless told.
    """
    args = ["-f", str(LOCUSTFILE), "--headless", "--host", url, "--csv", str(csv_prefix)]
    if html is not None:
        args += ["--html", str(html)]
    args += ["--only-summary", "--loglevel", "WARNING"]
    if expect_workers > 0:
        bind_host, bind_port = master_bind
        args += ["--master", "--expect-workers", str(expect_workers)]
        args += ["--expect-workers-max-wait", str(WORKER_WAIT_S)]
        args += ["--master-bind-host", bind_host, "--master-bind-port", str(bind_port)]
        return args
    if workers > 0:
        # The master of the local workers listens on loopback, on a free port (Locust's
        # default is *:5557); the forked workers are told where (--master-host/-port).
        port = str(free_port())
        args += ["--processes", str(workers)]
        args += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
        args += ["--master-host", "127.0.0.1", "--master-port", port]
    return args


def _warm_up(url: str, plan: LoadPlan) -> None:
    """Touch every endpoint so caches, pools and plans are warm before measuring."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(1, 21):
            client.get("/products", params={"page": i % 5 + 1})
            client.get(f"/products/{i}")
            client.get(f"/users/{i}/orders")
            client.get(f"/orders/{i}")
        client.get("/dashboard/customers", params={"limit": plan.dashboard_limit})
        client.get("/dashboard/revenue")


def _wait_projection_idle(stack: Stack) -> None:
    write, read = stack.dsn(WRITE_DSN_ENV), stack.dsn(READ_DSN_ENV)
    wait_caught_up(write, read, timeout=60, what="the projector to go idle")


def _dump_projection_lag(stack: Stack, directory: Path, after_order: int) -> None:
    """Every order placed during the run: its lag from commit to commit, or never projected."""
    write, read = stack.dsn(WRITE_DSN_ENV), stack.dsn(READ_DSN_ENV)
    with contextlib.suppress(TimeoutWaiting):  # record what was applied, even if behind
        _wait_projection_idle(stack)
    outcome = projection_outcome(write, read, after_order)
    with open(directory / "projection.csv", "w") as out:
        out.write("ts,order_id,lag_ms\n")
        for ts, order_id, lag in outcome.lags:
            out.write(f"{ts:.6f},{order_id},{lag:.3f}\n")
    write_json(
        directory / "projection.json",
        {
            "placed": outcome.placed,
            "projected": outcome.projected,
            "unprojected": len(outcome.unprojected),
            "unprojected_ts": [ts for ts, _ in outcome.unprojected],
            "unprojected_ids": [order_id for _, order_id in outcome.unprojected],
        },
    )
