"""seed and datasets: the data both systems start from."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.app import (
    DsnOpt,
    JsonOpt,
    OrdersOpt,
    PgBinDirOpt,
    ProductsOpt,
    ProfileOpt,
    ProviderOpt,
    SeedOpt,
    UsersOpt,
    app,
    output,
    provider_config,
    state,
)
from harness.core.console import emit_json, human
from harness.core.errors import BadInput
from harness.providers import ProviderKind


@app.command("seed")
def seed_command(
    profile: ProfileOpt = "standard",
    users: UsersOpt = None,
    products: ProductsOpt = None,
    orders: OrdersOpt = None,
    seed: SeedOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build again even if cached.")] = False,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_bin_dir: PgBinDirOpt = None,
    dsn: DsnOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Build (or reuse from the cache) the dataset both systems start from.

    Local provider: a stopped cluster's data directory that each system copies
    in seconds. Docker/external: portable COPY files; with --dsn they are
    loaded into those databases (which must not hold the shop's tables yet).

    Examples: cqrs-bench seed --profile smoke ; cqrs-bench seed --orders 5000000 --json
    """
    from harness.cli.views import render_seed
    from harness.profiles import spec_for
    from harness.seed.command import SeedConfig
    from harness.seed.command import seed as run_seed

    config = SeedConfig(
        provider=provider_config(provider, None, pg_bin_dir, None, dsn),
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        rebuild=rebuild,
    )
    report = run_seed(config)
    output(report, json_output, render_seed)


datasets_app = typer.Typer(help="List or remove cached datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
def datasets_list(json_output: JsonOpt = False) -> None:
    """List cached datasets with their sizes. Example: cqrs-bench datasets list"""
    from harness.seed.command import datasets_report

    entries = datasets_report(state.home)
    if json_output:
        emit_json({"datasets": entries})
        return
    if not entries:
        human.print("no cached datasets")
    for entry in entries:
        if "corrupt" in entry:
            human.print(f"[red]{entry['id']}[/]: {entry['corrupt']}", markup=True)
        else:
            human.print(
                f"{entry['id']}  {entry['kind']}  {entry['total_rows']:,} rows  "
                f"{entry['size_bytes'] / 2**20:,.0f} MiB  built {entry['created_at']}"
            )


@datasets_app.command("rm")
def datasets_rm(
    ids: Annotated[list[str] | None, typer.Argument(help="Dataset ids to remove.")] = None,
    remove_all: Annotated[bool, typer.Option("--all", help="Remove every dataset.")] = False,
) -> None:
    """Remove cached datasets. Example: cqrs-bench datasets rm --all"""
    from harness.seed.command import remove_datasets

    if not ids and not remove_all:
        raise BadInput("name the datasets to remove, or pass --all")
    for entry_id in remove_datasets(state.home, ids or [], remove_all):
        human.print(f"removed {entry_id}")
