"""up, status, down, verify, rebuild: systems left running, and their read models."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.app import (
    CacheRefreshOpt,
    CacheTtlOpt,
    CpuLayoutOpt,
    DockerCpusOpt,
    DockerImageOpt,
    DockerMemoryOpt,
    DockerNetworkOpt,
    DsnOpt,
    JsonOpt,
    OrdersOpt,
    PgBinDirOpt,
    PgSettingOpt,
    PortOpt,
    ProductsOpt,
    ProfileOpt,
    ProviderOpt,
    ReadDsnOpt,
    RedisUrlOpt,
    SeedOpt,
    SystemOpt,
    UsersOpt,
    WriteDsnOpt,
    app,
    cache_settings,
    provider_config,
    state,
)
from harness.core.console import emit_json, human
from harness.core.errors import CheckFailed
from harness.providers import DockerNetwork, ProviderKind
from harness.providers.docker import DEFAULT_IMAGE
from harness.stack.placement import validate_layout
from harness.stack.stacks import SystemKind


@app.command("up")
def up_command(
    system: SystemOpt = SystemKind.BASELINE,
    profile: ProfileOpt = "standard",
    users: UsersOpt = None,
    products: ProductsOpt = None,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    app_port: Annotated[
        int | None, typer.Option("--app-port", min=1, max=65535, help="Port for the app.")
    ] = None,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_setting: PgSettingOpt = None,
    pg_bin_dir: PgBinDirOpt = None,
    port: PortOpt = None,
    dsn: DsnOpt = None,
    cpu_layout: CpuLayoutOpt = "split",
    docker_image: DockerImageOpt = DEFAULT_IMAGE,
    docker_network: DockerNetworkOpt = DockerNetwork.BRIDGE,
    docker_cpus: DockerCpusOpt = None,
    docker_memory: DockerMemoryOpt = None,
    cache_ttl: CacheTtlOpt = None,
    cache_refresh: CacheRefreshOpt = None,
    redis_url: RedisUrlOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Start a system (databases from the cached dataset, then its app) and leave it running.

    Returns once the app answers; stop it with `cqrs-bench down`.
    Example: cqrs-bench up --system baseline --profile smoke --json
    """
    from harness.profiles import spec_for
    from harness.stack.stacks import StackConfig, up

    config = StackConfig(
        system=system,
        provider=provider_config(
            provider,
            pg_setting,
            pg_bin_dir,
            port,
            dsn,
            docker_cpus,
            docker_memory,
            docker_image=docker_image,
            docker_network=docker_network,
            redis_url=redis_url,
        ),
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        app_port=app_port,
        cpu_layout=validate_layout(cpu_layout),
        cache=cache_settings(cache_ttl, cache_refresh),
    )
    info = up(config)
    if json_output:
        emit_json(info)
    else:
        human.print(f"{info['system']} is up at {info['url']}", markup=False)
        for name, url in info["databases"].items():
            human.print(f"  {name}: {url}", markup=False)
        for name, url in info["metrics"].items():
            human.print(f"  {name} metrics (Prometheus): {url}", markup=False)
        human.print("stop it with: cqrs-bench down")


@app.command("status")
def status_command(json_output: JsonOpt = False) -> None:
    """List running stacks (started by `up`, or by a command still running).

    Example: cqrs-bench status --json
    """
    from harness.stack.stacks import running_stacks, stack_health

    stacks = [
        {**stack_health(stack), "detached": stack.owner is None}
        for stack in running_stacks(state.home)
    ]
    if json_output:
        emit_json({"stacks": stacks})
        return
    if not stacks:
        human.print("no stacks running")
    for stack in stacks:
        health = "healthy" if stack["healthy"] else f"unhealthy {stack['alive']}"
        owner = "up" if stack["detached"] else "owned by a running command"
        human.print(f"{stack['system']}  {stack['url']}  {health}  ({owner})", markup=False)
        supervised = stack.get("projector")
        if supervised is not None:
            last = ""
            if supervised["restarts"]:
                last = f" (last exit {supervised['last_exit']}, {supervised['last_restart_at']})"
            human.print(
                f"  projector pid {supervised['pid']}, restarts={supervised['restarts']}{last}",
                markup=False,
            )
        projection = stack.get("projection") or {}
        if projection.get("stalled_reason"):
            human.print(f"  projector stopped: {projection['stalled_reason']}", markup=False)
        for blocker in projection.get("horizon_blockers") or []:
            human.print(
                f"  projection held back by pid {blocker['pid']} ({blocker['state']},"
                f" open {blocker['age_s']} s): {blocker['query']}",
                markup=False,
            )


@app.command("down")
def down_command(
    system: Annotated[
        SystemKind | None,
        typer.Option("--system", help="Only this system [default: all].", case_sensitive=False),
    ] = None,
) -> None:
    """Stop what `up` started: apps, projector, clusters, and their directories.

    Example: cqrs-bench down
    """
    from harness.stack.stacks import down

    stopped = down(state.home, system)
    human.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was up")


@app.command("verify")
def verify_command(
    write_dsn: WriteDsnOpt = None,
    read_dsn: ReadDsnOpt = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, help="Seconds to wait for the projector to catch up."),
    ] = 60,
    json_output: JsonOpt = False,
) -> None:
    """Recompute the CQRS read models from the write database and list every difference.

    Exits 1 when there is any. Example: cqrs-bench verify --json
    """
    from harness.stack.readmodels import ReadModelTarget, verify_read_models

    report = verify_read_models(ReadModelTarget(state.home, write_dsn, read_dsn, timeout))
    if json_output:
        emit_json(report)
    else:
        for model, counts in report["models"].items():
            human.print(
                f"{model}: {counts['expected']:,} expected, {counts['actual']:,} present, "
                f"{counts['differences']:,} different"
            )
        for difference in report["differences"][:20]:
            human.print(f"  {difference}", markup=False)
        human.print(
            "read models match" if report["ok"] else f"{report['difference_count']} differences"
        )
    if not report["ok"]:
        raise CheckFailed(
            f"{report['difference_count']} difference(s) between read and write models"
        )


@app.command("rebuild")
def rebuild_command(
    write_dsn: WriteDsnOpt = None, read_dsn: ReadDsnOpt = None, json_output: JsonOpt = False
) -> None:
    """Rebuild every CQRS read model from the write database (the repair path).

    Example: cqrs-bench rebuild
    """
    from harness.stack.readmodels import ReadModelTarget, rebuild_read_models

    report = rebuild_read_models(ReadModelTarget(state.home, write_dsn, read_dsn))
    if json_output:
        emit_json(report)
    else:
        for model, rows in report["rows"].items():
            human.print(f"{model}: {rows:,} rows")
