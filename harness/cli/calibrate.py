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
    ladder: Annotated[
        str,
        typer.Option(
            "--ladder",
            help="Checkout rates to climb, comma-separated, rising, each for --seconds: "
            "the highest the stack holds with checkout p99 under 100 ms is reported.",
        ),
    ] = "",
    profile: ProfileOpt = "smoke",
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """CQRS targets: projection lag at a sustained rate, catch-up rate, dashboard latency.

    Example: cqrs-bench calibrate projector --rate 200 --profile standard
    Example: cqrs-bench calibrate projector --ladder 25,50,100,150,200 --seconds 10
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
            ladder=parse_rates(ladder, "--ladder") if ladder else (),
            pg_bin_dir=pg_bin_dir,
        )
    )
    output(report, json_output, render_projector_calibration)


@calibrate_app.command("driver")
def calibrate_driver_command(
    latency_ms: Annotated[
        float,
        typer.Option("--latency-ms", min=1, max=5000, help="The server's constant latency."),
    ] = 40,
    seconds: Annotated[
        float, typer.Option("--seconds", min=2, max=600, help="How long each step.")
    ] = 10,
    rates: Annotated[
        str,
        typer.Option("--rates", help="Checkout rates to try, comma-separated, rising."),
    ] = "50,100,200,400,800",
    json_output: JsonOpt = False,
) -> None:
    """The load generator against a constant-latency server: its overhead and top rate.

    Reports p50 minus the true latency, and the highest checkout rate it holds
    with schedule lag p99 under 10 ms.
    Example: cqrs-bench calibrate driver --latency-ms 40 --rates 100,200,400
    """
    from harness.calibrate.driver import CalibrateDriverConfig, calibrate_driver
    from harness.cli.views import render_driver_calibration

    report = calibrate_driver(
        CalibrateDriverConfig(
            latency_ms=latency_ms, seconds=seconds, rates=parse_rates(rates, "--rates")
        )
    )
    output(report, json_output, render_driver_calibration)


def parse_rates(text: str, option: str) -> tuple[float, ...]:
    """Positive rates in rising order from "50,100,200"; anything else is refused."""
    from harness.core.errors import BadInput

    try:
        rates = tuple(float(r) for r in text.split(",") if r.strip())
    except ValueError:
        raise BadInput(f"{option} takes numbers separated by commas, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates) or list(rates) != sorted(rates):
        raise BadInput(f"{option} takes positive rates in rising order, got {text!r}")
    return rates
