"""Settings from a config file and ``CQRS_BENCH_*`` environment variables, as Locust has them.

Where a value comes from, highest first: the command line, the option's
environment variable, the config file, the built-in default (Click's own
order: command line, ``envvar``, ``default_map``, default).

The config file is ``--config FILE`` (before or after the command, or
``$CQRS_BENCH_CONFIG``), else ``cqrs-bench.toml`` in the current directory,
else the ``[tool.cqrs-bench]`` table of ``./pyproject.toml``. Keys are the
long option names (``steady``, ``pg-setting``; ``pg_setting`` too). Top-level
keys apply to every command that has the option (and ``home`` to all);
a table named after a command (``[run]``, ``[calibrate.driver]``) applies to
that command only and wins over the top level. An unknown key, an unknown
command or a value of the wrong type is refused with the file and line.

Every option has an environment variable, shown in ``--help``:
``CQRS_BENCH_<COMMAND>_<OPTION>`` (``CQRS_BENCH_RUN_STEADY``,
``CQRS_BENCH_CALIBRATE_DRIVER_RATE``); the global ``--home`` is
``CQRS_BENCH_HOME``. An option that already names its own variable (e.g.
``--docker-image``: ``CQRS_BENCH_DOCKER_IMAGE``) keeps it.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.core.errors import BadInput

# Click's objects are typed Any here: Typer builds them (from its own copy of Click in
# recent versions), and only their documented attributes are used.
Command = Any
Param = Any
Context = Any

ENV_PREFIX = "CQRS_BENCH"
CONFIG_ENV = "CQRS_BENCH_CONFIG"
CONFIG_FILE = "cqrs-bench.toml"
PYPROJECT = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "cqrs-bench")
CONFIG_HELP = (
    "Settings file (TOML); by default ./cqrs-bench.toml, else the tool.cqrs-bench table of "
    "./pyproject.toml. The command line wins over environment variables, which win over the file."
)
CONFIG_META = "cqrs_bench.config"
# options that act at once rather than set something: no variable, no key
CONFIG_PARAM = "cqrs_bench_config"  # not "config": ``gate --config`` names its gates file
_NOT_SETTINGS = {"help", "version", "install_completion", "show_completion", CONFIG_PARAM}


def configure(root: Command) -> Command:
    """Give every option of every command its environment variable, and ``--config``."""
    for path, command in walk(root):
        for param in command.params:
            if not _is_setting(param):
                continue
            if param.envvar is None:
                param.envvar = env_name(path, param)
            param.show_envvar = True
        if not any("--config" in param.opts for param in command.params):
            command.params.insert(0, _config_option())
    return root


def _is_setting(param: Param) -> bool:
    return param.param_type_name == "option" and param.name not in _NOT_SETTINGS


def walk(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Each command and group under ``command`` (itself first), with its path of names."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def env_name(path: tuple[str, ...], param: Param) -> str:
    parts = [ENV_PREFIX, *path, option_key(param)]
    return "_".join(part.upper().replace("-", "_") for part in parts)


def option_key(param: Param) -> str:
    """The key a setting has in the file: the option's long name without dashes."""
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return longs[0][2:] if longs else str(param.name)


def _config_option() -> Param:
    """``--config`` as Typer builds options, taken from a one-option app."""
    holder = typer.Typer(add_completion=False)

    @holder.command()
    def _holder(
        cqrs_bench_config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                envvar=CONFIG_ENV,
                is_eager=True,
                callback=_apply_config,
                help=CONFIG_HELP,
                dir_okay=False,
            ),
        ] = None,
    ) -> None:  # pragma: no cover - only its option is used
        pass

    (option,) = [p for p in typer.main.get_command(holder).params if p.name == CONFIG_PARAM]
    option.expose_value = False  # the commands do not take it: its callback applies it
    return option


def _apply_config(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> None:
    """Eager, so the file's values are the defaults before any other option is read."""
    if ctx.resilient_parsing:  # shell completion: no file errors while completing
        return
    root = ctx.find_root()
    path_of = _command_path(ctx)
    if not path_of:  # the global --config: found or given, for every command
        found = value if value is not None else find_config(Path.cwd())
        if found is not None:
            ctx.default_map = default_map(ctx, root.command, found)
            ctx.meta[CONFIG_META] = found
        return
    if value is None or _source(ctx, CONFIG_PARAM) == "ENVIRONMENT":
        return  # the root already read $CQRS_BENCH_CONFIG or the discovered file
    settings = default_map(ctx, root.command, value)
    root.meta[CONFIG_META] = value
    section: Any = settings
    for name in path_of:
        section = section.get(name, {})
    ctx.default_map = section
    home = settings.get("home")
    if home is not None and _source(root, "home") == "DEFAULT":
        from harness.cli.app import enter_home

        enter_home(Path(home))


def _source(ctx: Context, name: str) -> str | None:
    """Where a parameter's value came from: COMMANDLINE, ENVIRONMENT, DEFAULT_MAP, DEFAULT."""
    source = ctx.get_parameter_source(name)
    return None if source is None else str(source.name)


def _command_path(ctx: Context) -> tuple[str, ...]:
    names = []
    while ctx.parent is not None:
        names.append(str(ctx.info_name))
        ctx = ctx.parent
    return tuple(reversed(names))


def find_config(directory: Path) -> Path | None:
    """``cqrs-bench.toml`` here, else a ``pyproject.toml`` here with a [tool.cqrs-bench] table."""
    own = directory / CONFIG_FILE
    if own.is_file():
        return own
    project = directory / PYPROJECT
    if project.is_file():
        table = _parse(project).get("tool", {})
        if isinstance(table, dict) and "cqrs-bench" in table:
            return project
    return None


def _parse(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"config file {path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:  # its message carries the line and column
        raise BadInput(f"config file {path}: not valid TOML: {exc}") from None


def default_map(ctx: Context, root: Command, path: Path) -> dict[str, Any]:
    """The file's settings as Click's nested ``default_map``, every key and value checked."""
    data = _parse(path)
    prefix: tuple[str, ...] = ()
    if path.name == PYPROJECT:
        prefix = PYPROJECT_TABLE
        for part in prefix:
            data = data.get(part, {})
            if not isinstance(data, dict):
                raise BadInput(f"{path}: [{'.'.join(prefix)}] must be a table")
    lines = _KeyLines(path.read_text(encoding="utf-8"))
    where = _Where(ctx, path, lines, prefix)
    settings = _section(root, (), data, where)
    shared = {k: v for k, v in data.items() if not isinstance(v, dict)}
    _spread(root, settings, shared, where)
    return settings


class _KeyLines:
    """The line each key is on (tomllib gives values, not positions)."""

    _TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._TABLE.match(line)
            if header:
                table = _dotted(header.group(1))
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.lines.setdefault((*table, *_dotted(key.group(1))), number)

    def line_of(self, key: tuple[str, ...]) -> int | None:
        while key:  # an inline table's key: the line of the nearest enclosing key
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


class _Where:
    def __init__(self, ctx: Context, path: Path, lines: _KeyLines, prefix: tuple[str, ...]) -> None:
        self.ctx, self.path, self.lines, self.prefix = ctx, path, lines, prefix

    def refuse(self, key: tuple[str, ...], problem: str) -> BadInput:
        line = self.lines.line_of((*self.prefix, *key))
        place = f"{self.path}:{line}" if line is not None else str(self.path)
        return BadInput(f"{place}: {'.'.join(key)}: {problem}")


def _options(command: Command) -> dict[str, Param]:
    """The command's settings by key: the long option name, and its underscore spelling."""
    found: dict[str, Param] = {}
    for param in command.params:
        if _is_setting(param):
            key = option_key(param)
            found[key] = param
            found[key.replace("-", "_")] = param
    return found


def _section(
    command: Command, path: tuple[str, ...], data: dict[str, Any], where: _Where
) -> dict[str, Any]:
    options = _options(command)
    subcommands = getattr(command, "commands", {})
    settings: dict[str, Any] = {}
    for key, value in data.items():
        here = (*path, key)
        if isinstance(value, dict):
            if key not in subcommands:
                known = ", ".join(sorted(subcommands)) or "none"
                raise where.refuse(here, f"no such command (commands here: {known})")
            settings[key] = _section(subcommands[key], here, value, where)
        elif key in options:
            param = options[key]
            settings[str(param.name)] = _checked(command, param, value, here, where)
        elif not path and _anywhere(command, key):
            continue  # a shared key: _spread checks it against each command that has it
        else:
            raise where.refuse(here, _unknown(key, options, command, bool(path)))
    return settings


def _anywhere(root: Command, key: str) -> bool:
    return any(key in _options(command) for _, command in walk(root))


def _unknown(key: str, options: dict[str, Param], command: Command, in_section: bool) -> str:
    keys = sorted(options)
    if not in_section:
        keys = sorted({k for _, c in walk(command) for k in _options(c)})
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    whose = f"for {command.name}" if in_section else "for any command"
    return f"unknown setting {whose}{hint}"


def _spread(root: Command, settings: dict[str, Any], shared: dict[str, Any], where: _Where) -> None:
    """Top-level keys into every command that has the option, under what its own table says."""
    if not shared:
        return
    for path, command in walk(root):
        if not path:
            continue
        options = _options(command)
        section = settings
        for name in path:
            section = section.setdefault(name, {})
        for key, value in shared.items():
            if key in options:
                param = options[key]
                checked = _checked(command, param, value, (key,), where)
                section.setdefault(str(param.name), checked)


def _checked(
    command: Command, param: Param, value: Any, key: tuple[str, ...], where: _Where
) -> Any:
    """The value as the file has it, once the option takes it as the command line would,
    and its TOML type is the option's (no "3" for a number, no 3.5 for a count)."""
    if param.multiple and not isinstance(value, list):
        raise where.refuse(key, f"expected a list, got {_toml_type(value)} {value!r}")
    if not param.multiple and isinstance(value, list):
        raise where.refuse(key, f"expected one value, got a list {value!r}")
    try:
        converted = param.process_value(where.ctx, value)
    except typer.BadParameter as exc:  # its own message names the option's variable: not here
        message = " ".join(str(exc.message).split())
        raise where.refuse(key, f"invalid value for --{option_key(param)}: {message}") from None
    except (TypeError, ValueError) as exc:
        raise where.refuse(key, f"not a value for --{option_key(param)}: {exc}") from None
    pairs = zip(value, converted, strict=False) if param.multiple else [(value, converted)]
    for raw, taken in pairs:
        expected = _expected(taken)
        if expected is not None and not _is_a(raw, expected[0]):
            raise where.refuse(key, f"expected {expected[1]}, got {_toml_type(raw)} {raw!r}")
    return value


def _expected(taken: Any) -> tuple[tuple[type, ...], str] | None:
    if isinstance(taken, bool):
        return (bool,), "true or false"
    if isinstance(taken, int):
        return (int,), "an integer"
    if isinstance(taken, float):
        return (int, float), "a number"
    if isinstance(taken, str | Path):
        return (str,), "a string"
    return None  # an enum member: its conversion already checked it is one of the choices


def _is_a(raw: Any, types: tuple[type, ...]) -> bool:
    return isinstance(raw, types) and (bool in types or not isinstance(raw, bool))


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    return names.get(type(value), "a list" if isinstance(value, list) else "a table")


def sources(ctx: Context) -> dict[str, Any]:
    """Where the options a command was given came from (defaults left out), for run.json."""
    names = {"COMMANDLINE": "command line", "ENVIRONMENT": "environment", "DEFAULT_MAP": "file"}
    found: dict[str, str] = {}
    variables: list[str] = []
    for param in ctx.command.params:
        if not _is_setting(param):
            continue
        source = _source(ctx, param.name)
        if source in names:
            found[option_key(param)] = names[source]
        if source == "ENVIRONMENT":
            envvar = param.envvar
            given = [envvar] if isinstance(envvar, str) else list(envvar or [])
            variables += [name for name in given if os.environ.get(name)][:1]
    config = ctx.find_root().meta.get(CONFIG_META)
    return {
        "config_file": None if config is None else str(Path(config).absolute()),
        "environment": sorted(variables),
        "options": found,
    }
