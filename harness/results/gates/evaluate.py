"""``cqrs-bench gate``: every rule, a table, JUnit XML, a Markdown summary, an exit code."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results.files import read_summary
from harness.results.gates.rules import (
    GateFile,
    Outcome,
    evaluate_rule,
    load_gates,
    lookup,
    why_absent,
)
from harness.results.model import Summary
from harness.results.stats import UNKNOWN, WITHIN

DEFAULT_GATES = Path(__file__).with_name("default.toml")


@dataclass(frozen=True)
class GateConfig:
    run_dir: Path
    gates_file: Path = DEFAULT_GATES
    baseline_run: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    allow_invalid: bool = False


def regression_outcomes(gates: GateFile, run_dir: Path, baseline_run: Path) -> list[Outcome]:
    """Each regression metric: grown past ``max_increase`` and (when required) beyond the
    noise, judged as ``compare`` judges it (across trials, or a block bootstrap)."""
    from harness.results.compare import change_text, compare_runs, interval_text

    current, previous = read_summary(run_dir), read_summary(baseline_run)
    regression = gates.regression
    paths = [
        ".".join((system, phase, *metric))
        for system in set(current.systems) & set(previous.systems)
        for phase in regression.phases
        for metric in regression.metrics
    ]
    report = compare_runs(baseline_run, run_dir, only=paths)
    comparison = {row["metric"]: row for row in report["metrics"]}
    outcomes = []
    for system in sorted(set(current.systems) & set(previous.systems)):
        for phase in regression.phases:
            for metric in regression.metrics:
                now = lookup(current, system, phase, metric)
                before = lookup(previous, system, phase, metric)
                name = f"regression: {system}.{phase}.{'.'.join(metric)}"
                if now is None or before is None:
                    why = [
                        f"{label}: {why_absent(found, system, phase, metric)}"
                        for label, found, value in (
                            ("this run", current, now),
                            ("baseline run", previous, before),
                        )
                        if value is None
                    ]
                    outcomes.append(Outcome(name, False, "n/a", "a value", "; ".join(why)))
                    continue
                limit = before * (1 + regression.max_increase)
                grew = now > limit
                row = comparison.get(f"{system}.{phase}.{'.'.join(metric)}")
                verdict = UNKNOWN if row is None else row["verdict"]
                # grown past the limit fails unless the noise says it may be chance
                failed = grew and (verdict != WITHIN if regression.require_beyond_noise else True)
                detail = ""
                noise = (
                    ""
                    if row is None
                    else f"{row['method']}: change {change_text(row)}, interval "
                    f"{interval_text(row)}, {verdict}"
                )
                if grew and not failed:
                    detail = f"grew past the limit but within run-to-run noise ({noise})"
                elif failed:
                    detail = f"{now:g} > {limit:g} ({before:g} + {regression.max_increase:.0%})"
                    if verdict == UNKNOWN:
                        detail += "; the noise is unknown (too few samples, trials or records)"
                outcomes.append(
                    Outcome(
                        name, not failed, f"{now:g}", f"<= {limit:g} (baseline {before:g})", detail
                    )
                )
    return outcomes


def _trials_outcome(label: str, summary: Summary, needed: int) -> Outcome:
    count = summary.trial_count
    return Outcome(
        f"{label} has at least {needed} trials per system",
        count >= needed,
        str(count),
        f">= {needed}",
        "" if count >= needed else f"{count} trial(s): run it with --repeat {needed}",
    )


def run_gates(config: GateConfig) -> dict[str, Any]:
    summary = read_summary(config.run_dir)
    gates = load_gates(config.gates_file, set(summary.systems))
    outcomes = [evaluate_rule(rule, summary) for rule in gates.rules]
    allow_invalid = config.allow_invalid or gates.allow_invalid
    outcomes.append(
        Outcome(
            "run is valid (the load generator kept up)",
            summary.valid or allow_invalid,
            "valid" if summary.valid else "invalid",
            "valid" + (" (invalid allowed)" if allow_invalid else ""),
            "; ".join(summary.invalid_reasons),
        )
    )
    if gates.min_trials is not None:
        outcomes.append(_trials_outcome("this run", summary, gates.min_trials))
        if config.baseline_run is not None:
            previous = read_summary(config.baseline_run)
            outcomes.append(_trials_outcome("baseline run", previous, gates.min_trials))
    if config.baseline_run is not None:
        outcomes.extend(regression_outcomes(gates, config.run_dir, config.baseline_run))
    result = {
        "run_dir": str(config.run_dir),
        "gates_file": str(config.gates_file),
        "passed": all(o.passed for o in outcomes),
        "rules": [o.__dict__ for o in outcomes],
    }
    if config.junit is not None:
        write_junit(outcomes, config.junit)
    markdown = markdown_summary(outcomes, config.run_dir)
    if config.markdown is not None:
        config.markdown.write_text(markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    return result


def write_junit(outcomes: list[Outcome], path: Path) -> None:
    failures = sum(not o.passed for o in outcomes)
    suite = ET.Element(
        "testsuite",
        name="cqrs-bench gates",
        tests=str(len(outcomes)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for outcome in outcomes:
        case = ET.SubElement(suite, "testcase", classname="cqrs-bench.gates", name=outcome.name)
        if not outcome.passed:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"measured {outcome.measured}, limit {outcome.limit}",
                type="GateFailed",
            )
            failure.text = outcome.detail or f"measured {outcome.measured}, limit {outcome.limit}"
        else:
            ET.SubElement(
                case, "system-out"
            ).text = f"measured {outcome.measured}, limit {outcome.limit}"
    suites = ET.Element("testsuites", tests=str(len(outcomes)), failures=str(failures))
    suites.append(suite)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def markdown_summary(outcomes: list[Outcome], run_dir: Path) -> str:
    verdict = "passed" if all(o.passed for o in outcomes) else "FAILED"
    lines = [
        f"### cqrs-bench gates {verdict} ({run_dir.name})",
        "",
        "| rule | measured | limit | result |",
        "|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| `{o.name}` | {o.measured} | {o.limit} | {'pass' if o.passed else '**FAIL**'} |"
        )
    return "\n".join(lines) + "\n"
