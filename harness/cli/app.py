"""The Typer application, its global options and the options commands share.

Commands only parse options, build a frozen config and call one plain
function; rendering for people lives in ``harness.cli.views``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict

from harness import __version__
from harness.core.console import emit_json, human
from harness.core.errors import BadInput
from harness.core.paths import check_home, default_home
from harness.providers import DockerNetwork, ProviderConfig, ProviderKind
from harness.providers.cache import parse_redis_url
from harness.providers.docker import DEFAULT_IMAGE, IMAGE_ENV
from harness.providers.external import parse_dsn_option
from harness.providers.settings import parse_settings
from harness.stack.housekeeping import clean_up_after_dead_runs
from harness.stack.stacks import CacheSettings, SystemKind

app = typer.Typer(
    name="cqrs-bench",
    help=(
        "Benchmark a single-PostgreSQL shop against a CQRS shop under the same "
        "Black Friday traffic.\n\nSettings come from the command line, else CQRS_BENCH_* "
        "environment variables (each option shows its own), else a config file: --config FILE, "
        "./cqrs-bench.toml or the tool.cqrs-bench table of ./pyproject.toml (a table per "
        "command: run, up, ...; top-level keys for all).\n\nExample: cqrs-bench doctor"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
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
            "(default: ~/.cache/cqrs-bench, /var/tmp/cqrs-bench as root).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    enter_home(home or default_home())


def enter_home(home: Path) -> None:
    """Work in ``home`` from now on, once it is checked and dead runs' leftovers are gone."""
    state.home = home.absolute()
    check_home(state.home)
    for line in clean_up_after_dead_runs(state.home):
        human.print(f"[dim]{line}")


# DSNs and URLs carry passwords: the command line shows them to every user (ps), so
# each can come from the environment or from a file instead.
DSNS_ENV = "CQRS_BENCH_DSN"  # --dsn: NAME=DSN entries separated by spaces
WRITE_DSN_ENV = "CQRS_BENCH_WRITE_DSN"
READ_DSN_ENV = "CQRS_BENCH_READ_DSN"
TARGETS_ENV = "CQRS_BENCH_TARGET"  # --target: NAME=URL entries separated by spaces
FROM_FILE_OR_ENV_HELP = (
    "A value (or the part after NAME=) written @PATH is read from that file; the option "
    "also comes from its environment variable. A password typed on the command line is "
    "visible to every user in ps: keep it in the file or the variable."
)


def read_secret(text: str, option: str) -> str:
    """``text`` itself, or, written ``@PATH``, the first line of that file."""
    if not text.startswith("@"):
        return text
    path = Path(text[1:]).expanduser()
    try:
        lines = path.read_text().strip().splitlines()
    except OSError as exc:
        raise BadInput(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{option}: {path} is not text") from None
    if not lines or not lines[0].strip():
        raise BadInput(f"{option}: {path} is empty")
    return lines[0].strip()


def _has_password(value: str) -> bool:
    try:
        if not value.startswith(("postgres://", "postgresql://")) and "://" in value:
            return bool(urlsplit(value).password)  # a target URL
        return bool(conninfo_to_dict(value).get("password"))
    except (ValueError, psycopg.Error):
        return False


# The options whose values are NAME=VALUE; in the others the whole value is the secret.
_NAMED = {"--dsn": DSNS_ENV, "--target": TARGETS_ENV}
_PLAIN = {"--write-dsn": WRITE_DSN_ENV, "--read-dsn": READ_DSN_ENV}


def secret_option(
    ctx: typer.Context, param: typer.CallbackParam, value: str | list[str] | None
) -> str | list[str] | None:
    """Read ``@PATH`` values; warn about a password given on the command line itself."""
    if value is None:
        return None
    option = (param.opts or [str(param.name)])[0]
    source = ctx.get_parameter_source(str(param.name))
    typed = source is not None and source.name == "COMMANDLINE"  # not the env var
    env = {**_NAMED, **_PLAIN}.get(option, "")

    def one(text: str) -> str:
        name, sep, raw = text.partition("=") if option in _NAMED else ("", "", text)
        if option in _NAMED and not sep:
            return text  # malformed: the option's own parser says so
        resolved = read_secret(raw, option)
        if typed and raw == resolved and _has_password(resolved):
            human.print(
                f"[yellow]warning:[/] {option} has a password on the command line, where "
                f"every user sees it (ps); give it as @FILE or in ${env} instead",
                soft_wrap=True,
            )
        return f"{name}={resolved}" if sep else resolved

    if isinstance(value, list):
        return [one(text) for text in value]
    return one(value)


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
        envvar=DSNS_ENV,
        callback=secret_option,
        help="An existing database for the external provider, repeatable "
        "(e.g. --dsn db=@/run/secrets/shop-dsn). " + FROM_FILE_OR_ENV_HELP,
    ),
]
DockerCpusOpt = Annotated[
    float | None, typer.Option("--docker-cpus", min=0.1, help="CPU limit per container.")
]
DockerMemoryOpt = Annotated[
    str | None, typer.Option("--docker-memory", help="Memory limit per container (e.g. 2g).")
]
DockerImageOpt = Annotated[
    str,
    typer.Option(
        "--docker-image",
        envvar=IMAGE_ENV,
        help="PostgreSQL image for --provider docker. The default official image is pulled "
        "when absent; a named image never is (build one with: cqrs-bench docker-image build).",
    ),
]
DockerNetworkOpt = Annotated[
    DockerNetwork,
    typer.Option(
        "--docker-network",
        case_sensitive=False,
        help="bridge: port published on 127.0.0.1; host: the server on 127.0.0.1, a free port.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
# The cache system (baseline app + reports cached in Redis).
CacheTtlOpt = Annotated[
    float | None,
    typer.Option("--cache-ttl", help="cache system: seconds a cached report answer lives [10]."),
]
CacheRefreshOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-refresh",
        help="cache system: at expiry, 'expiry' (every miss runs the report: a stampede) "
        "or 'single-flight' (one refresh, the others get the old answer) [expiry].",
    ),
]
RedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        help="cache system: use this Redis (redis://:password@host:port/0) instead of "
        "starting one.",
    ),
]
# The decision section's thresholds.
SloOpt = Annotated[
    float | None,
    typer.Option("--slo-ms", min=0.001, help="Decision: checkout p95 SLO in the storm, ms [250]."),
]
MaxStalenessOpt = Annotated[
    float | None,
    typer.Option(
        "--max-staleness-ms", min=0.001, help="Decision: acceptable staleness of reads, ms [10000]."
    ),
]
DecisionFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--decision",
        help="Decision thresholds from a TOML file's [decision] table (slo_ms, "
        "max_staleness_ms); the options above win.",
    ),
]


def cache_settings(ttl_s: float | None, refresh: str | None) -> CacheSettings | None:
    """The cache system's settings from the options (None: the topology's defaults)."""
    if ttl_s is None and refresh is None:
        return None
    default = CacheSettings()
    return CacheSettings(
        ttl_s=default.ttl_s if ttl_s is None else ttl_s,
        refresh=default.refresh if refresh is None else refresh,
    ).validated()


def provider_config(
    provider: ProviderKind,
    pg_setting: list[str] | None,
    pg_bin_dir: Path | None,
    port: int | None,
    dsn: list[str] | None,
    docker_cpus: float | None = None,
    docker_memory: str | None = None,
    *,
    docker_image: str = DEFAULT_IMAGE,
    docker_network: DockerNetwork = DockerNetwork.BRIDGE,
    redis_url: str | None = None,
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
        docker_image=docker_image,
        docker_cpus=docker_cpus,
        docker_memory=docker_memory,
        docker_network=docker_network,
        redis_url=None if redis_url is None else parse_redis_url(redis_url),
    )


ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Dataset and load size: smoke, quiet, quick, standard, black-friday.",
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


SystemOpt = Annotated[
    SystemKind,
    typer.Option(
        "--system",
        help="Which system: baseline, replica, cqrs-samedb or cqrs.",
        case_sensitive=False,
    ),
]


WriteDsnOpt = Annotated[
    str | None,
    typer.Option(
        "--write-dsn",
        envvar=WRITE_DSN_ENV,
        callback=secret_option,
        help="The CQRS write database (default: the stack that is up). " + FROM_FILE_OR_ENV_HELP,
    ),
]
ReadDsnOpt = Annotated[
    str | None,
    typer.Option(
        "--read-dsn",
        envvar=READ_DSN_ENV,
        callback=secret_option,
        help="The CQRS read database (default: the stack that is up). " + FROM_FILE_OR_ENV_HELP,
    ),
]


CpuLayoutOpt = Annotated[
    str,
    typer.Option(
        "--cpu-layout",
        metavar="split|shared|NAME=CORES;...",
        help="Which cores each database may use (local provider): split puts each system's "
        "write and read side on disjoint halves of the machine (a one-database system gets "
        "both halves); shared pins nothing; or name them, e.g. 'write=0;read=1'.",
    ),
]
RunDirArg = Annotated[Path, typer.Argument(help="A run directory (runs/<timestamp>-<profile>).")]


def output(report: Any, json_output: bool, render: Callable[[Any], None]) -> None:
    """One JSON object on stdout, or the human rendering on stderr."""
    if json_output:
        emit_json(report)
    else:
        render(report)
