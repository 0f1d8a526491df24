"""Settings from a config file and CQRS_BENCH_* variables: precedence, discovery, refusals.

The values reach real commands; a setting that the command then refuses (an
unknown system, an unknown profile) shows which value won without starting
anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from harness.cli.app import DSNS_ENV, READ_DSN_ENV, TARGETS_ENV, WRITE_DSN_ENV, app
from harness.cli.config import configure, env_name, walk
from harness.core.paths import HOME_ENV
from harness.providers.cache import REDIS_BIN_ENV
from harness.providers.docker import IMAGE_ENV
from harness.stack import stacks
from scenarios.plan import PLAN_ENV
from tests.conftest import cli_in_process

UNKNOWN_SYSTEM = re.compile(r"unknown system '(\w+)' in --systems")


def _winner(stderr: str) -> str:
    found = UNKNOWN_SYSTEM.search(stderr)
    assert found, stderr
    return found.group(1)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_the_command_line_wins_over_the_environment_which_wins_over_the_file(
    here: Path, bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "cqrs-bench.toml").write_text('[run]\nsystems = "fromfile"\n')
    assert _winner(cli_in_process(bench_home, "run").stderr) == "fromfile"
    monkeypatch.setenv("CQRS_BENCH_RUN_SYSTEMS", "fromenv")
    assert _winner(cli_in_process(bench_home, "run").stderr) == "fromenv"
    result = cli_in_process(bench_home, "run", "--systems", "fromcli")
    assert _winner(result.stderr) == "fromcli"
    assert result.returncode == 2
    assert not (here / "runs").exists()


def test_an_explicit_file_before_or_after_the_command_or_in_the_environment(
    here: Path, bench_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = here.parent / "elsewhere.toml"
    elsewhere.write_text('[run]\nsystems = "given"\n')
    (here / "cqrs-bench.toml").write_text('[run]\nsystems = "found"\n')
    assert _winner(cli_in_process(bench_home, "--config", str(elsewhere), "run").stderr) == "given"
    assert _winner(cli_in_process(bench_home, "run", "--config", str(elsewhere)).stderr) == "given"
    monkeypatch.setenv("CQRS_BENCH_CONFIG", str(elsewhere))
    assert _winner(cli_in_process(bench_home, "run").stderr) == "given"


def test_pyproject_table_and_top_level_keys_shared_by_commands(
    here: Path, bench_home: Path
) -> None:
    (here / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.cqrs-bench]\nprofile = "nosuch"\n'
    )
    result = cli_in_process(bench_home, "run")
    assert "unknown profile 'nosuch'" in result.stderr
    (here / "pyproject.toml").write_text(
        '[tool.cqrs-bench]\nprofile = "nosuch"\n[tool.cqrs-bench.run]\nprofile = "alsonot"\n'
    )
    assert "unknown profile 'alsonot'" in cli_in_process(bench_home, "run").stderr


def test_a_pyproject_without_the_table_is_not_a_config(here: Path, bench_home: Path) -> None:
    (here / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert _winner(cli_in_process(bench_home, "run", "--systems", "cli").stderr) == "cli"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            'profile = "smoke"\n\n[run]\nsteady = 3\nstedy = 4\n',
            5,
            "run.stedy: unknown setting for run; did you mean 'steady'?",
        ),
        ('[run]\nsteady = "3"\n', 2, "run.steady: expected a number, got a string '3'"),
        ("[run]\nadmins = 2.5\n", 2, "run.admins: invalid value for --admins"),
        ("[run]\nsteady = 0.5\n", 2, "run.steady: invalid value for --steady"),
        ("[run]\njson = 1\n", 2, "run.json: expected true or false, got an integer 1"),
        ('[run]\npg-setting = "work_mem=64MB"\n', 2, "run.pg-setting: expected a list"),
        ('[run]\nprovider = "cloud"\n', 2, "run.provider: invalid value for --provider"),
        ("[runn]\nsteady = 3\n", 1, "runn: no such command"),
        ("# shared\nnosuch = 1\n", 2, "nosuch: unknown setting for any command"),
        ('[calibrate.driver]\nratez = "x"\n', 2, "calibrate.driver.ratez: unknown setting"),
        ("run.steady = 0\n", 1, "run.steady: invalid value for --steady"),
        ('[run]\nsteady = 3\n[up]\nprovider = "x"\n', 4, "up.provider: invalid value"),
    ],
)
def test_bad_settings_are_refused_with_the_file_and_line(
    here: Path, bench_home: Path, text: str, line: int, message: str
) -> None:
    config = here / "cqrs-bench.toml"
    config.write_text(text)
    # were the file taken, the run would stop at the unknown system: nothing starts either way
    result = cli_in_process(bench_home, "run", "--profile", "smoke", "--systems", "nosuch")
    assert result.returncode == 2, result.stderr
    assert f"cqrs-bench: error: {config}:{line}: {message}" in result.stderr
    assert not (here / "runs").exists()


def test_a_file_that_is_not_toml_is_refused_with_its_line(here: Path, bench_home: Path) -> None:
    (here / "cqrs-bench.toml").write_text("[run]\nsteady = 3\nstorm = 4 4\nrecovery = 3\n")
    result = cli_in_process(bench_home, "run")
    assert result.returncode == 2
    assert "cqrs-bench.toml: not valid TOML" in result.stderr
    assert "line 3" in result.stderr


def test_a_missing_explicit_file_is_refused(here: Path, bench_home: Path) -> None:
    result = cli_in_process(bench_home, "run", "--config", str(here / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def _root() -> typer.core.TyperGroup:
    command = configure(typer.main.get_command(app))
    assert isinstance(command, typer.core.TyperGroup)
    return command


SECRET_ENVS = (DSNS_ENV, WRITE_DSN_ENV, READ_DSN_ENV, TARGETS_ENV)


def test_every_option_has_a_variable_and_none_is_one_the_harness_sets_itself() -> None:
    own = {
        value
        for name, value in vars(stacks).items()
        if name.endswith("_ENV") and isinstance(value, str)
    } | {PLAN_ENV, REDIS_BIN_ENV, "CQRS_BENCH_SYSTEM", "CQRS_BENCH_POOL_MAX", "CQRS_BENCH_POOL_MIN"}
    seen: dict[str, str] = {}
    for path, command in walk(_root()):
        for param in command.params:
            if param.param_type_name != "option" or param.name in (
                "help",
                "version",
                "install_completion",
                "show_completion",
            ):
                continue
            assert param.envvar, (path, param.name)
            assert param.show_envvar
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
            for name in names:
                if name in (IMAGE_ENV, HOME_ENV, "CQRS_BENCH_CONFIG", *SECRET_ENVS):
                    # shared on purpose: the same meaning everywhere (the CQRS write and
                    # read DSNs are the very variables the apps read: the same databases)
                    continue
                assert name not in own, (path, param.name, name)
                where = f"{' '.join(path)} {param.opts[0]}"
                assert seen.setdefault(name, where) == where, (name, seen[name], where)
    assert env_name(("calibrate", "driver"), _option("calibrate", "driver")) == (
        "CQRS_BENCH_CALIBRATE_DRIVER_"
        + _option("calibrate", "driver").opts[0][2:].upper().replace("-", "_")
    )


def _option(*path: str) -> typer.core.TyperOption:
    for found, command in walk(_root()):
        if found == path:
            options = [
                p for p in command.params if p.param_type_name == "option" and p.name != "help"
            ]
            return options[-1]
    raise AssertionError(path)


def test_help_shows_the_variables(bench_home: Path) -> None:
    result = cli_in_process(bench_home, "run", "--help")
    text = " ".join(result.stdout.split())
    assert "CQRS_BENCH_RUN_STEADY" in text
    assert "CQRS_BENCH_CONFIG" in text
