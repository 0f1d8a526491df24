"""doctor and pg: what this machine offers, and clusters to play with."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.app import (
    DockerCpusOpt,
    DockerImageOpt,
    DockerMemoryOpt,
    DockerNetworkOpt,
    DsnOpt,
    JsonOpt,
    PgBinDirOpt,
    PgSettingOpt,
    PortOpt,
    ProviderOpt,
    app,
    provider_config,
    state,
)
from harness.core.console import emit_json
from harness.providers import DockerNetwork, ProviderKind
from harness.providers.docker import BUILT_IMAGE, DEFAULT_IMAGE


@app.command()
def doctor(
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Check what this machine offers: PostgreSQL binaries, Docker, cores, memory, disk.

    Exits 3 when no provider can work. Example: cqrs-bench doctor --json
    """
    from harness.providers.doctor import DoctorConfig, diagnose, require_a_provider

    report = diagnose(DoctorConfig(home=state.home, pg_bin_dir=pg_bin_dir))
    if json_output:
        emit_json(report)
    else:
        from harness.cli.views import render_doctor

        render_doctor(report)
    require_a_provider(report)


@app.command("pg")
def pg_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Database names [default: db].", show_default=False)
    ] = None,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_setting: PgSettingOpt = None,
    pg_bin_dir: PgBinDirOpt = None,
    port: PortOpt = None,
    dsn: DsnOpt = None,
    docker_cpus: DockerCpusOpt = None,
    docker_memory: DockerMemoryOpt = None,
    docker_image: DockerImageOpt = DEFAULT_IMAGE,
    docker_network: DockerNetworkOpt = DockerNetwork.BRIDGE,
    hold_for: Annotated[
        float | None,
        typer.Option("--for", min=0, help="Stop after this many seconds [default: until Ctrl-C]."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Start PostgreSQL clusters and hold them until Ctrl-C (for psql, experiments).

    Example: cqrs-bench pg write read --pg-setting work_mem=64MB
    """
    from harness.providers.hold import HoldConfig, hold_clusters

    config = HoldConfig(
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
        ),
        names=tuple(names or ["db"]),
        hold_seconds=hold_for,
        json_output=json_output,
    )
    hold_clusters(config)


docker_image_app = typer.Typer(
    help="PostgreSQL images for --provider docker.", no_args_is_help=True
)
app.add_typer(docker_image_app, name="docker-image")


@docker_image_app.command("build")
def docker_image_build(
    tag: Annotated[str, typer.Option("--tag", help="Name of the image to build.")] = BUILT_IMAGE,
    mirror: Annotated[
        str, typer.Option("--mirror", help="Debian mirror debootstrap installs from.")
    ] = "http://deb.debian.org/debian",
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build again even when the image is present.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Build a PostgreSQL image from Debian's packages (debootstrap + docker import), no registry.

    Reused when present. Needs root, debootstrap and a Docker engine.
    Example: cqrs-bench docker-image build --tag cqrs-bench/postgres:15-debian
    """
    from harness.providers.dockerimage import ImageBuildConfig, build_image

    report = build_image(ImageBuildConfig(home=state.home, tag=tag, mirror=mirror, rebuild=rebuild))
    if json_output:
        emit_json(report)
    else:
        from harness.cli.views import render_image_build

        render_image_build(report)
