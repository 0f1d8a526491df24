"""calibrate: the harness measured against this machine's limits."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.app import (
    JsonOpt,
    PgBinDirOpt,
    ProfileOpt,
    app,
    output,
    state,
)

calibrate_app = typer.Typer(help="Measure the harness against this machine's limits.")
app.add_typer(calibrate_app, name="calibrate")


@calibrate_app.command("seed")
def calibrate_seed_command(
    orders: Annotated[
        int, typer.Option("--orders", min=1_000, help="Orders in the measured load.")
    ] = 500_000,
    naive_orders: Annotated[
        int, typer.Option("--naive-orders", min=10, help="Orders in the naive loop's sample.")
    ] = 1_000,
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Seeder rows/s against a raw COPY of the same rows and a naive Faker+INSERT loop.

    Example: cqrs-bench calibrate seed --orders 1000000
    """
    from harness.calibrate.seed import CalibrateSeedConfig, calibrate_seed
    from harness.cli.views import render_seed_calibration

    report = calibrate_seed(
        CalibrateSeedConfig(
            home=state.home, orders=orders, naive_orders=naive_orders, pg_bin_dir=pg_bin_dir
        )
    )
    output(report, json_output, render_seed_calibration)


@calibrate_app.command("checkout")
def calibrate_checkout_command(
    rate: Annotated[
        float, typer.Option("--rate", min=1, max=500, help="Checkouts per second.")
    ] = 20,
    seconds: Annotated[
        float, typer.Option("--seconds", min=2, max=600, help="How long each run.")
    ] = 20,
    profile: ProfileOpt = "smoke",
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Checkout latency through the app against pgbench running the same SQL.

    Example: cqrs-bench calibrate checkout --rate 20 --seconds 20
    """
    from harness.calibrate.checkout import (
        CalibrateCheckoutConfig,
        calibrate_checkout,
    )
    from harness.cli.views import render_checkout_calibration
    from harness.profiles import spec_for

    report = calibrate_checkout(
        CalibrateCheckoutConfig(
            home=state.home,
            spec=spec_for(profile),
            rate=rate,
            seconds=seconds,
            pg_bin_dir=pg_bin_dir,
        )
    )
    output(report, json_output, render_checkout_calibration)


@calibrate_app.command("projector")
def calibrate_projector_command(
    rate: Annotated[
        float, typer.Option("--rate", min=1, max=2000, help="Checkouts per second.")
    ] = 200,
    seconds: Annotated[float, typer.Option("--seconds", min=2, max=600, help="How long.")] = 15,
    backlog: Annotated[
        int, typer.Option("--backlog", min=100, help="Events for catch-up.")
    ] = 20_000,
    profile: ProfileOpt = "smoke",
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """CQRS targets: projection lag at a sustained rate, catch-up rate, dashboard latency.

    Example: cqrs-bench calibrate projector --rate 200 --profile standard
    """
    from harness.calibrate.projector import (
        CalibrateCqrsConfig,
        calibrate_cqrs,
    )
    from harness.cli.views import render_projector_calibration
    from harness.profiles import spec_for

    report = calibrate_cqrs(
        CalibrateCqrsConfig(
            home=state.home,
            spec=spec_for(profile),
            rate=rate,
            seconds=seconds,
            backlog=backlog,
            pg_bin_dir=pg_bin_dir,
        )
    )
    output(report, json_output, render_projector_calibration)
