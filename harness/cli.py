"""The ``cqrs-bench`` command line.

Commands only parse options, build a frozen config and call one plain
function; errors derived from HarnessError become one line and an exit code
here, and nowhere else.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from typer.exceptions import TyperException

from harness import __version__
from harness.console import emit_json, human
from harness.errors import BadInput, CheckFailed, ExitCode, HarnessError
from harness.housekeeping import clean_up_after_dead_runs
from harness.paths import default_home
from harness.pgsettings import parse_settings
from harness.providers import ProviderConfig, ProviderKind
from harness.providers.external import parse_dsn_option
from harness.stack import SystemKind

app = typer.Typer(
    name="cqrs-bench",
    help=(
        "Benchmark a single-PostgreSQL shop against a CQRS shop under the same "
        "Black Friday traffic.\n\nExample: cqrs-bench doctor"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class GlobalState:
    home: Path = default_home()


state = GlobalState()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cqrs-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Work directory for clusters, datasets and stacks "
            "[default: $CQRS_BENCH_HOME, else ~/.cache/cqrs-bench, /var/tmp/cqrs-bench as root].",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.home = (home or default_home()).absolute()
    for line in clean_up_after_dead_runs(state.home):
        human.print(f"[dim]{line}")


# Provider options, shared by every command that needs databases.
ProviderOpt = Annotated[
    ProviderKind,
    typer.Option("--provider", help="Where databases come from.", case_sensitive=False),
]
PgSettingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pg-setting",
        metavar="NAME=VALUE",
        help="PostgreSQL server setting, repeatable (e.g. --pg-setting work_mem=64MB).",
    ),
]
PgBinDirOpt = Annotated[
    Path | None,
    typer.Option("--pg-bin-dir", help="Directory holding initdb and postgres (local provider)."),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        min=1,
        max=65535,
        help="First TCP port for local clusters (the next ones count up) [default: free ports].",
    ),
]
DsnOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--dsn",
        metavar="NAME=DSN",
        help="An existing database for the external provider, repeatable "
        "(e.g. --dsn db=postgresql://user:pass@host/shop).",
    ),
]
DockerCpusOpt = Annotated[
    float | None, typer.Option("--docker-cpus", min=0.1, help="CPU limit per container.")
]
DockerMemoryOpt = Annotated[
    str | None, typer.Option("--docker-memory", help="Memory limit per container (e.g. 2g).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def provider_config(
    provider: ProviderKind,
    pg_setting: list[str] | None,
    pg_bin_dir: Path | None,
    port: int | None,
    dsn: list[str] | None,
    docker_cpus: float | None = None,
    docker_memory: str | None = None,
) -> ProviderConfig:
    dsns = tuple(parse_dsn_option(text) for text in dsn or [])
    if dsns and provider not in (ProviderKind.AUTO, ProviderKind.EXTERNAL):
        raise BadInput(f"--dsn is for the external provider, not --provider {provider.value}")
    if provider is ProviderKind.EXTERNAL and not dsns:
        raise BadInput("--provider external needs at least one --dsn NAME=DSN")
    return ProviderConfig(
        home=state.home,
        kind=provider,
        pg_settings=tuple(parse_settings(pg_setting or []).items()),
        pg_bin_dir=pg_bin_dir,
        base_port=port,
        dsns=dsns,
        docker_cpus=docker_cpus,
        docker_memory=docker_memory,
    )


@app.command()
def doctor(
    pg_bin_dir: PgBinDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Check what this machine offers: PostgreSQL binaries, Docker, cores, memory, disk.

    Exits 3 when no provider can work. Example: cqrs-bench doctor --json
    """
    from harness.doctor import DoctorConfig, diagnose, require_a_provider

    report = diagnose(DoctorConfig(home=state.home, pg_bin_dir=pg_bin_dir))
    if json_output:
        emit_json(report)
    else:
        from harness.doctor_view import render_doctor

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
    hold_for: Annotated[
        float | None,
        typer.Option("--for", min=0, help="Stop after this many seconds [default: until Ctrl-C]."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Start PostgreSQL clusters and hold them until Ctrl-C (for psql, experiments).

    Example: cqrs-bench pg write read --pg-setting work_mem=64MB
    """
    from harness.pgcommand import HoldConfig, hold_clusters

    config = HoldConfig(
        provider=provider_config(
            provider, pg_setting, pg_bin_dir, port, dsn, docker_cpus, docker_memory
        ),
        names=tuple(names or ["db"]),
        hold_seconds=hold_for,
        json_output=json_output,
    )
    hold_clusters(config)


ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Dataset and load size: smoke, quick, standard, black-friday.",
    ),
]
UsersOpt = Annotated[int | None, typer.Option("--users", help="Override the profile's user count.")]
ProductsOpt = Annotated[
    int | None, typer.Option("--products", help="Override the profile's product count.")
]
OrdersOpt = Annotated[
    int | None, typer.Option("--orders", help="Override the profile's order count.")
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Random seed: the same seed gives the same rows.")
]


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
    from harness.seed.command import SeedConfig, render_seed
    from harness.seed.command import seed as run_seed
    from harness.seed.spec import spec_for

    config = SeedConfig(
        provider=provider_config(provider, None, pg_bin_dir, None, dsn),
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        rebuild=rebuild,
    )
    report = run_seed(config)
    _output(report, json_output, render_seed)


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
    from harness.seed.calibrate import CalibrateSeedConfig, calibrate_seed, render_calibration

    report = calibrate_seed(
        CalibrateSeedConfig(
            home=state.home, orders=orders, naive_orders=naive_orders, pg_bin_dir=pg_bin_dir
        )
    )
    _output(report, json_output, render_calibration)


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
    from harness.calibrate_checkout import (
        CalibrateCheckoutConfig,
        calibrate_checkout,
        render_checkout_calibration,
    )
    from harness.seed.spec import spec_for

    report = calibrate_checkout(
        CalibrateCheckoutConfig(
            home=state.home,
            spec=spec_for(profile),
            rate=rate,
            seconds=seconds,
            pg_bin_dir=pg_bin_dir,
        )
    )
    _output(report, json_output, render_checkout_calibration)


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
    from harness.calibrate_cqrs import CalibrateCqrsConfig, calibrate_cqrs, render_cqrs_calibration
    from harness.seed.spec import spec_for

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
    _output(report, json_output, render_cqrs_calibration)


SystemOpt = Annotated[
    SystemKind,
    typer.Option("--system", help="Which system: baseline or cqrs.", case_sensitive=False),
]


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
    json_output: JsonOpt = False,
) -> None:
    """Start a system (databases from the cached dataset, then its app) and leave it running.

    Returns once the app answers; stop it with `cqrs-bench down`.
    Example: cqrs-bench up --system baseline --profile smoke --json
    """
    from harness.seed.spec import spec_for
    from harness.stack import StackConfig, up

    config = StackConfig(
        system=system,
        provider=provider_config(provider, pg_setting, pg_bin_dir, port, dsn),
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        app_port=app_port,
    )
    info = up(config)
    if json_output:
        emit_json(info)
    else:
        human.print(f"{info['system']} is up at {info['url']}", markup=False)
        for name, url in info["databases"].items():
            human.print(f"  {name}: {url}", markup=False)
        human.print("stop it with: cqrs-bench down")


@app.command("status")
def status_command(json_output: JsonOpt = False) -> None:
    """List running stacks (started by `up`, or by a command still running).

    Example: cqrs-bench status --json
    """
    from harness.stack import running_stacks, stack_health

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
    from harness.stack import down

    stopped = down(state.home, system)
    human.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was up")


WriteDsnOpt = Annotated[
    str | None,
    typer.Option("--write-dsn", help="The CQRS write database [default: the stack that is up]."),
]
ReadDsnOpt = Annotated[
    str | None,
    typer.Option("--read-dsn", help="The CQRS read database [default: the stack that is up]."),
]


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
    from harness.verify_command import ReadModelTarget, verify_read_models

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
    from harness.verify_command import ReadModelTarget, rebuild_read_models

    report = rebuild_read_models(ReadModelTarget(state.home, write_dsn, read_dsn))
    if json_output:
        emit_json(report)
    else:
        for model, rows in report["rows"].items():
            human.print(f"{model}: {rows:,} rows")


@app.command("run")
def run_command(
    profile: ProfileOpt = "standard",
    systems: Annotated[
        str, typer.Option("--systems", help="Comma-separated systems to run, in order.")
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
    target: Annotated[
        list[str] | None,
        typer.Option("--target", metavar="NAME=URL", help="Also drive an already-running system."),
    ] = None,
    provider: ProviderOpt = ProviderKind.AUTO,
    pg_setting: PgSettingOpt = None,
    pg_bin_dir: PgBinDirOpt = None,
    dsn: DsnOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The Black Friday run: each system in turn gets the same data and the same load.

    Writes runs/<timestamp>-<profile>/ with run.json, raw per-request records,
    samples and summary.json, and prints the summary table.
    Example: cqrs-bench run --profile smoke
    """
    from dataclasses import replace

    from harness.run.orchestrate import RunConfig, run_benchmark
    from harness.run.profiles import load_profile
    from harness.run.table import render_summary
    from harness.seed.spec import spec_for

    chosen = []
    for name in [s.strip() for s in systems.split(",") if s.strip()]:
        try:
            chosen.append(SystemKind(name))
        except ValueError:
            raise BadInput(
                f"unknown system {name!r} in --systems (known: baseline, cqrs)"
            ) from None
    targets = tuple(parse_dsn_option(text) for text in target or [])
    if not chosen and not targets:
        raise BadInput("nothing to run: give --systems or --target")
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
        provider=provider_config(provider, pg_setting, pg_bin_dir, None, dsn),
        profile=profile,
        spec=spec_for(profile, users=users, products=products, orders=orders, seed=seed),
        load=load,
        systems=tuple(chosen),
        out=out.absolute(),
        workers=workers,
        targets=targets,
    )
    run_dir, summary = run_benchmark(config)
    if json_output:
        emit_json({"run_dir": str(run_dir), **summary})
    else:
        render_summary(summary, str(run_dir))


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
    json_output: JsonOpt = False,
) -> None:
    """Start a system and the Locust web UI on 127.0.0.1 with the scenarios preloaded.

    Example: cqrs-bench ui --system cqrs --profile smoke
    """
    from harness.run.orchestrate import RunConfig
    from harness.run.profiles import load_profile
    from harness.run.ui import UiConfig, serve_ui
    from harness.seed.spec import spec_for

    run = RunConfig(
        provider=provider_config(provider, None, pg_bin_dir, None, None),
        profile=profile,
        spec=spec_for(profile),
        load=load_profile(profile),
        systems=(system,),
        out=out.absolute(),
    )
    serve_ui(UiConfig(run=run, web_port=web_port, hold_seconds=hold_for, json_output=json_output))


RunDirArg = Annotated[Path, typer.Argument(help="A run directory (runs/<timestamp>-<profile>).")]


@app.command("report")
def report_command(run_dir: RunDirArg) -> None:
    """Re-render report.html, report.md and plots/ from a run directory.

    Example: cqrs-bench report runs/20261127T100000Z-smoke
    """
    from reports.render import render_report

    written = render_report(run_dir)
    human.print(f"wrote {written['html']} and {written['markdown']}", markup=False)


@app.command("compare")
def compare_command(
    run_a: RunDirArg,
    run_b: RunDirArg,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write the comparison as HTML here too.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Two runs side by side: every metric, its change, and whether it exceeds the noise.

    Example: cqrs-bench compare runs/A runs/B --html compare.html
    """
    from reports.compare import compare_runs, render_compare, write_compare_html

    report = compare_runs(run_a, run_b)
    if html_out is not None:
        write_compare_html(report, html_out)
    _output(report, json_output, render_compare)


@app.command("gate")
def gate_command(
    run_dir: RunDirArg,
    config: Annotated[
        Path | None, typer.Option("--config", help="Gates file (TOML) [default: the built-in one].")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="A saved run to check for regressions against."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")
    ] = None,
    allow_invalid: Annotated[
        bool, typer.Option("--allow-invalid", help="Do not fail a run marked invalid.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Check a run against thresholds, ratios and a baseline run; exit 1 when any fails.

    Example: cqrs-bench gate runs/latest --junit gates.xml --baseline runs/main
    """
    from harness.gates.evaluate import DEFAULT_GATES, GateConfig, render_gates, run_gates

    result = run_gates(
        GateConfig(
            run_dir=run_dir,
            gates_file=config or DEFAULT_GATES,
            baseline_run=baseline,
            junit=junit,
            markdown=markdown,
            allow_invalid=allow_invalid,
        )
    )
    _output(result, json_output, render_gates)
    if not result["passed"]:
        failed = [rule["name"] for rule in result["rules"] if not rule["passed"]]
        raise CheckFailed(f"{len(failed)} gate(s) failed: {'; '.join(failed)}")


def _output(report: Any, json_output: bool, render: Callable[[Any], None]) -> None:
    """One JSON object on stdout, or the human rendering on stderr."""
    if json_output:
        emit_json(report)
    else:
        render(report)


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    # SIGTERM gets the same orderly cleanup as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> NoReturn:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = app(args=argv, prog_name="cqrs-bench", standalone_mode=False)
    except typer.Abort:
        human.print("interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: unknown option, bad value, ...
        message = " ".join(exc.format_message().split())
        human.print(f"cqrs-bench: error: {message}", markup=False, soft_wrap=True)
        sys.exit(ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        human.print("interrupted")
        sys.exit(130)
    except HarnessError as exc:
        human.print(f"cqrs-bench: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(int(exc.exit_code))
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
