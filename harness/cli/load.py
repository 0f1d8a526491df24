"""run and ui: driving the Black Friday load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import (
    FROM_FILE_OR_ENV_HELP,
    TARGETS_ENV,
    CacheRefreshOpt,
    CacheTtlOpt,
    CpuLayoutOpt,
    DecisionFileOpt,
    DockerCpusOpt,
    DockerImageOpt,
    DockerMemoryOpt,
    DockerNetworkOpt,
    DsnOpt,
    JsonOpt,
    MaxStalenessOpt,
    OrdersOpt,
    PgBinDirOpt,
    PgSettingOpt,
    ProductsOpt,
    ProfileOpt,
    ProviderOpt,
    RedisUrlOpt,
    SeedOpt,
    SloOpt,
    SystemOpt,
    UsersOpt,
    app,
    cache_settings,
    provider_config,
    secret_option,
)
from harness.core.console import emit_json
from harness.core.errors import BadInput
from harness.providers import DockerNetwork, ProviderKind
from harness.providers.docker import DEFAULT_IMAGE
from harness.providers.external import parse_dsn_option
from harness.stack.placement import validate_layout
from harness.stack.stacks import LINEUP, SystemKind


@app.command("run")
def run_command(
    ctx: typer.Context,
    profile: ProfileOpt = "standard",
    systems: Annotated[
        str,
        typer.Option(
            "--systems",
            help="Comma-separated systems to run, in order, or 'all' for the lineup "
            "(baseline, replica, cqrs-samedb, cqrs, cache).",
        ),
    ] = "baseline,cqrs",
    out: Annotated[Path, typer.Option("--out", help="Where run directories go.")] = Path("runs"),
    users: UsersOpt = None,
    products: ProductsOpt = None,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    steady: Annotated[
        float | None, typer.Option("--steady", min=1, help="Steady phase, s.")
    ] = None,
    storm: Annotated[float | None, typer.Option("--storm", min=1, help="Storm phase, s.")] = None,
    recovery: Annotated[
        float | None, typer.Option("--recovery", min=1, help="Recovery phase, s.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.1, help="Checkout arrivals per second.")
    ] = None,
    admins: Annotated[
        int | None, typer.Option("--admins", min=0, help="Admins in the storm.")
    ] = None,
    shoppers: Annotated[
        int | None, typer.Option("--shoppers", min=0, help="Browsing shoppers.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option("--workers", min=0, help="Extra Locust worker processes (0: one process)."),
    ] = 0,
    expect_workers: Annotated[
        int,
        typer.Option(
            "--expect-workers",
            min=0,
            help="Locust's distributed mode: wait for this many `cqrs-bench worker`s (on this "
            "or other hosts) and let them make the load; the schedule is split between them.",
        ),
    ] = 0,
    master_bind: Annotated[
        str,
        typer.Option(
            "--master-bind",
            metavar="ADDR[:PORT]",
            help="Where the master listens for workers (with --expect-workers). Loopback unless "
            "you say otherwise: other hosts need this host's address, e.g. 10.0.0.5:5557.",
        ),
    ] = "127.0.0.1:5557",
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            metavar="NAME=URL",
            envvar=TARGETS_ENV,
            callback=secret_option,
            help="Also drive an already-running system. " + FROM_FILE_OR_ENV_HELP,
        ),
    ] = None,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            min=1,
            help="Trials per system, interleaved in an order fixed by the seed (ABBA), "
            "each on a fresh stack; compare and gates judge change against their variation.",
        ),
    ] = 1,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_setting: PgSettingOpt = None,
    pg_bin_dir: PgBinDirOpt = None,
    dsn: DsnOpt = None,
    cpu_layout: CpuLayoutOpt = "split",
    docker_image: DockerImageOpt = DEFAULT_IMAGE,
    docker_network: DockerNetworkOpt = DockerNetwork.BRIDGE,
    docker_cpus: DockerCpusOpt = None,
    docker_memory: DockerMemoryOpt = None,
    cache_ttl: CacheTtlOpt = None,
    cache_refresh: CacheRefreshOpt = None,
    redis_url: RedisUrlOpt = None,
    slo_ms: SloOpt = None,
    max_staleness_ms: MaxStalenessOpt = None,
    decision: DecisionFileOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The Black Friday run: each system in turn gets the same data and the same load.

    Writes runs/<timestamp>-<profile>/ with run.json, raw per-request records,
    samples and summary.json, and prints the summary table and the decision. With
    --repeat N, each system runs N interleaved trials (raw files in <system>/trial-<k>/).
    Example: cqrs-bench run --profile smoke --systems all --slo-ms 250
    Two hosts: cqrs-bench run --expect-workers 2 --master-bind 10.0.0.5:5557 here, and
    cqrs-bench worker --master 10.0.0.5:5557 on each load host.
    """
    from dataclasses import replace

    from harness.cli.config import sources
    from harness.cli.views import render_summary
    from harness.profiles import load_profile, spec_for
    from harness.results.decision import decide, load_thresholds
    from harness.results.files import read_run_info
    from harness.run.orchestrate import RunConfig, run_benchmark
    from harness.run.worker import parse_address
    from reports.render import render_report

    if workers and expect_workers:
        raise BadInput(
            "--workers (local processes) and --expect-workers (workers on other hosts) "
            "exclude each other: give one"
        )
    bind = parse_address(master_bind, "--master-bind")

    chosen = []
    names = [s.strip() for s in systems.split(",") if s.strip()]
    if names == ["all"]:
        names = [kind.value for kind in LINEUP]
    for name in names:
        try:
            chosen.append(SystemKind(name))
        except ValueError:
            known = ", ".join(kind.value for kind in LINEUP)
            raise BadInput(f"unknown system {name!r} in --systems (known: {known}, all)") from None
    targets = tuple(parse_dsn_option(text) for text in target or [])
    if not chosen and not targets:
        raise BadInput("nothing to run: give --systems or --target")
    thresholds = load_thresholds(decision, slo_ms, max_staleness_ms)
    cache = cache_settings(cache_ttl, cache_refresh)
    load = load_profile(profile)
    overrides = {
        "steady_s": steady,
        "storm_s": storm,
        "recovery_s": recovery,
        "checkout_rate": rate,
        "admins": admins,
        "shoppers": shoppers,
    }
    load = replace(load, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    config = RunConfig(
        provider=provider_config(
            provider,
            pg_setting,
            pg_bin_dir,
            None,
            dsn,
            docker_cpus,
            docker_memory,
            docker_image=docker_image,
            docker_network=docker_network,
            redis_url=redis_url,
        ),
        profile=profile,
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        load=load,
        cache=cache,
        thresholds=thresholds,
        systems=tuple(chosen),
        out=out.absolute(),
        workers=workers,
        expect_workers=expect_workers,
        master_bind=bind,
        targets=targets,
        cpu_layout=validate_layout(cpu_layout),
        repeat=repeat,
        settings=sources(ctx),
    )
    run_dir, summary = run_benchmark(config)
    render_report(run_dir, thresholds)
    details = read_run_info(run_dir).systems_detail
    if json_output:
        verdicts = {d.system: d.to_json() for d in decide(summary, details, thresholds)}
        emit_json(
            {
                "run_dir": str(run_dir),
                **summary.to_json(),
                "decision": {"thresholds": thresholds.to_json(), "systems": verdicts},
            }
        )
    else:
        render_summary(summary, str(run_dir), details, thresholds)


@app.command("worker")
def worker_command(
    master: Annotated[
        str,
        typer.Option(
            "--master",
            metavar="HOST[:PORT]",
            help="The host running `cqrs-bench run --expect-workers N --master-bind ADDR:PORT` "
            "(port 5557 unless given).",
        ),
    ],
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Exit after one test (default: serve every system of the run)."
        ),
    ] = False,
) -> None:
    """A Locust worker for a run whose master is on another host (Locust's distributed mode).

    It needs no copy of the run's files: the master sends the plan and the
    phase clock, gives it a share of the checkout and report schedule, and
    takes its request records back. Ctrl-C stops it.
    Example: cqrs-bench worker --master 10.0.0.5:5557
    """
    from harness.run.worker import WorkerConfig, parse_address, serve_worker

    code = serve_worker(WorkerConfig(master=parse_address(master, "--master"), once=once))
    if code not in (0, 1):  # Locust exits 1 when requests failed: the master reports those
        raise typer.Exit(code)


@app.command("ui")
def ui_command(
    system: SystemOpt = SystemKind.BASELINE,
    profile: ProfileOpt = "smoke",
    out: Annotated[Path, typer.Option("--out", help="Where request records go.")] = Path("runs"),
    web_port: Annotated[
        int | None, typer.Option("--web-port", min=1, max=65535, help="Port of the web UI.")
    ] = None,
    hold_for: Annotated[
        float | None, typer.Option("--for", min=0, help="Stop after this many seconds.")
    ] = None,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_bin_dir: PgBinDirOpt = None,
    docker_image: DockerImageOpt = DEFAULT_IMAGE,
    docker_network: DockerNetworkOpt = DockerNetwork.BRIDGE,
    docker_cpus: DockerCpusOpt = None,
    docker_memory: DockerMemoryOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Start a system and the Locust web UI on 127.0.0.1 with the scenarios preloaded.

    Example: cqrs-bench ui --system cqrs --profile smoke
    """
    from harness.profiles import load_profile, spec_for
    from harness.run.orchestrate import RunConfig
    from harness.run.ui import UiConfig, serve_ui

    run = RunConfig(
        provider=provider_config(
            provider,
            None,
            pg_bin_dir,
            None,
            None,
            docker_cpus,
            docker_memory,
            docker_image=docker_image,
            docker_network=docker_network,
        ),
        profile=profile,
        spec=spec_for(profile),
        load=load_profile(profile),
        systems=(system,),
        out=out.absolute(),
    )
    serve_ui(UiConfig(run=run, web_port=web_port, hold_seconds=hold_for, json_output=json_output))
