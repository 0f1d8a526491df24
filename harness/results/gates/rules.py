"""Gate rules: parsing (with the line of every mistake) and evaluation against summary.json.

A rule is ``PATH OP NUMBER`` or ``PATH / PATH OP NUMBER``; OP is one of
``<``, ``<=``, ``>``, ``>=``; a PATH names a value of summary.json without its
fixed levels (``cqrs.storm.checkout.p99_ms``, ``baseline.storm.cpu_pct.db.mean``)
and ``*`` may stand for the system or the phase (every one must pass).
"""

from __future__ import annotations

import itertools
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BadInput
from harness.results.model import (
    ANSWERED_METRICS,
    CPU_METRICS,
    DRIVER_METRICS,
    ENDPOINT_METRICS,
    ENDPOINTS,
    ERROR_KINDS,
    LAG_METRICS,
    PERCENTILES,
    REPORTS_METRICS,
    Summary,
)
from harness.results.stats import min_samples
from scenarios.plan import PHASES

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
RULE = re.compile(
    r"^\s*(?P<left>[\w.*]+)\s*(?:/\s*(?P<right>[\w.*]+)\s*)?(?P<op><=|>=|<|>|==|!=|=)\s*(?P<limit>\S+)\s*$"
)


@dataclass(frozen=True)
class MetricPath:
    system: str
    phase: str
    rest: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.system, self.phase, *self.rest))


@dataclass(frozen=True)
class Rule:
    text: str
    line: int
    left: MetricPath
    right: MetricPath | None
    op: str
    limit: float


@dataclass(frozen=True)
class Regression:
    metrics: tuple[tuple[str, ...], ...] = (("checkout", "p99_ms"),)
    max_increase: float = 0.10
    require_beyond_noise: bool = True
    phases: tuple[str, ...] = PHASES


@dataclass(frozen=True)
class GateFile:
    path: Path
    rules: tuple[Rule, ...]
    regression: Regression = field(default_factory=Regression)
    allow_invalid: bool = False
    min_trials: int | None = None  # runs (and the --baseline run) need this many trials


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 0


def _check_rest(rest: tuple[str, ...]) -> str | None:
    """None when ``rest`` names a value the summary can hold, else why not."""
    if not rest:
        return "the path stops at the phase"
    head = rest[0]
    if head == "cpu_pct":
        if len(rest) != 3 or rest[2] not in CPU_METRICS:
            return "cpu_pct paths are cpu_pct.<component>.mean|max"
        return None
    if head in ("projection_lag_ms", "replica_lag_ms"):
        known = "|".join(LAG_METRICS)
        return None if len(rest) == 2 and rest[1] in LAG_METRICS else f"{head}.{known}"
    if head == "checkout_driver":
        return (
            None
            if len(rest) == 2 and rest[1] in DRIVER_METRICS
            else (f"checkout_driver.{'|'.join(sorted(DRIVER_METRICS))}")
        )
    if head == "reports_driver":
        return (
            None
            if len(rest) == 2 and rest[1] in REPORTS_METRICS
            else (f"reports_driver.{'|'.join(sorted(REPORTS_METRICS))}")
        )
    if head in ENDPOINTS:
        if len(rest) == 2 and rest[1] in ENDPOINT_METRICS:
            return None
        if len(rest) == 3 and rest[1] == "errors" and rest[2] in ERROR_KINDS:
            return None
        if len(rest) == 3 and rest[1] == "answered" and rest[2] in ANSWERED_METRICS:
            return None
        known = ", ".join(sorted(ENDPOINT_METRICS))
        return f"unknown metric {'.'.join(rest[1:])!r} (known: {known}, errors.<kind>)"
    return f"unknown metric {head!r}"


def parse_path(text: str, systems: set[str], line: int) -> MetricPath:
    parts = tuple(text.split("."))
    if len(parts) < 3:
        raise BadInput(f"line {line}: {text!r} is not SYSTEM.PHASE.METRIC")
    system, phase, rest = parts[0], parts[1], parts[2:]
    if system != "*" and system not in systems:
        raise BadInput(
            f"line {line}: unknown system {system!r} (in this run: {', '.join(sorted(systems))})"
        )
    if phase != "*" and phase not in PHASES:
        raise BadInput(f"line {line}: unknown phase {phase!r} (known: {', '.join(PHASES)})")
    problem = _check_rest(rest)
    if problem is not None:
        raise BadInput(f"line {line}: {text!r}: {problem}")
    return MetricPath(system, phase, rest)


def parse_rule(text: str, line: int, systems: set[str]) -> Rule:
    match = RULE.match(text)
    if match is None:
        raise BadInput(f"line {line}: {text!r} is not 'PATH OP NUMBER' or 'PATH / PATH OP NUMBER'")
    op = match["op"]
    if op not in OPERATORS:
        raise BadInput(f"line {line}: operator {op!r} is not one of <, <=, >, >=")
    try:
        limit = float(match["limit"])
    except ValueError:
        raise BadInput(f"line {line}: limit {match['limit']!r} is not a number") from None
    left = parse_path(match["left"], systems, line)
    right = None if match["right"] is None else parse_path(match["right"], systems, line)
    return Rule(text.strip(), line, left, right, op, limit)


def load_gates(path: Path, systems: set[str]) -> GateFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise BadInput(f"cannot read gates file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: {exc}") from None
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not all(isinstance(r, str) for r in raw_rules):
        raise BadInput(f"{path}: 'rules' must be a list of strings")
    unknown = set(data) - {"rules", "regression", "allow_invalid", "min_trials"}
    if unknown:
        key = sorted(unknown)[0]
        raise BadInput(f"{path}: line {_line_of(text, key)}: unknown key {key!r}")
    rules = tuple(parse_rule(rule, _line_of(text, rule), systems) for rule in raw_rules)
    regression = Regression()
    section = data.get("regression", {})
    if section:
        metrics = section.get("metrics", ["checkout.p99_ms"])
        for metric in metrics:
            problem = _check_rest(tuple(metric.split(".")))
            if problem is not None:
                raise BadInput(
                    f"{path}: line {_line_of(text, metric)}: "
                    f"regression metric {metric!r}: {problem}"
                )
        phases = tuple(section.get("phases", PHASES))
        for phase in phases:
            if phase not in PHASES:
                raise BadInput(f"{path}: line {_line_of(text, phase)}: unknown phase {phase!r}")
        regression = Regression(
            metrics=tuple(tuple(m.split(".")) for m in metrics),
            max_increase=float(section.get("max_increase", 0.10)),
            require_beyond_noise=bool(section.get("require_beyond_noise", True)),
            phases=phases,
        )
    min_trials = data.get("min_trials")
    if min_trials is not None and (
        isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 1
    ):
        raise BadInput(
            f"{path}: line {_line_of(text, 'min_trials')}: min_trials must be a positive integer"
        )
    return GateFile(path, rules, regression, bool(data.get("allow_invalid", False)), min_trials)


def lookup(summary: Summary, system: str, phase: str, rest: tuple[str, ...]) -> float | None:
    """The value a rule path names, through the summary's flattened metrics (None: absent)."""
    return summary.metric(system, phase, rest)


def why_absent(summary: Summary, system: str, phase: str, rest: tuple[str, ...]) -> str:
    """Why a path has no value: too few samples for a percentile, or nothing measured there."""
    if ".".join((system, phase, *rest)) not in summary.metrics():
        return "no value in this run"
    entry = summary.phase(system, phase)
    endpoint = None if entry is None or not rest else entry.endpoints.get(rest[0])
    if endpoint is not None and rest[-1] in PERCENTILES:
        count = endpoint.answered.count if rest[1] == "answered" and endpoint.answered else None
        samples = endpoint.count if count is None else count
        needed = min_samples(PERCENTILES[rest[-1]])
        return f"insufficient samples for {rest[-1]} ({samples}, it needs {needed})"
    return "not measured in this run (too few samples)"


@dataclass
class Outcome:
    name: str
    passed: bool
    measured: str
    limit: str
    detail: str = ""


def _expand(rule: Rule, systems: list[str]) -> list[tuple[str, str]]:
    wanted_systems = systems if rule.left.system == "*" else [rule.left.system]
    wanted_phases = list(PHASES) if rule.left.phase == "*" else [rule.left.phase]
    return list(itertools.product(wanted_systems, wanted_phases))


def evaluate_rule(rule: Rule, summary: Summary) -> Outcome:
    systems = list(summary.systems)
    measured_parts = []
    failures = []
    for system, phase in _expand(rule, systems):
        label = f"{system}.{phase}"
        operands = [(system, phase, rule.left.rest)]
        if rule.right is not None:
            right_system = system if rule.right.system == "*" else rule.right.system
            right_phase = phase if rule.right.phase == "*" else rule.right.phase
            operands.append((right_system, right_phase, rule.right.rest))
        values = [lookup(summary, *operand) for operand in operands]
        absent = [
            f"{'.'.join((s, p, *rest))}: {why_absent(summary, s, p, rest)}"
            for (s, p, rest), found in zip(operands, values, strict=True)
            if found is None
        ]
        if absent or (len(values) == 2 and not values[1]):
            failures.append("; ".join(absent) or f"{label}: the divisor is 0")
            measured_parts.append(f"{label}=n/a")
            continue
        left = values[0]
        assert left is not None
        value = left if len(values) == 1 else left / float(values[1] or 1)
        measured_parts.append(
            f"{label}={value:g}" if len(_expand(rule, systems)) > 1 else f"{value:g}"
        )
        if not OPERATORS[rule.op](value, rule.limit):
            failures.append(f"{label}: {value:g} is not {rule.op} {rule.limit:g}")
    return Outcome(
        name=rule.text,
        passed=not failures,
        measured=", ".join(measured_parts),
        limit=f"{rule.op} {rule.limit:g}",
        detail="; ".join(failures),
    )
