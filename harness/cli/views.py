"""Everything the CLI shows people (on stderr); ``--json`` output bypasses it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from rich import box
from rich.table import Table

from harness.core.console import human
from harness.results.compare import change_text, interval_text, value_text, verdict_text
from harness.results.decision import Thresholds, decide, decision_note, decision_table
from harness.results.model import Summary
from harness.results.table import MISSING, TERMINAL_ENDPOINTS, lineup_table, phase_table
from harness.results.table import Table as ResultsTable


def render_doctor(report: dict[str, Any]) -> None:
    table = Table(title=f"cqrs-bench doctor (work directory {report['home']})")
    table.add_column("check")
    table.add_column("status")
    table.add_column("details / fix")
    for name, check in report["checks"].items():
        status = "[green]ok" if check["ok"] else "[red]missing"
        details = {k: v for k, v in check.items() if k not in ("ok", "fix", "problem")}
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        if not check["ok"]:
            text = f"{check.get('problem', '')} -> {check.get('fix', '')}"
        table.add_row(name, status, text)
    human.print(table)
    usable = [name for name, ok in report["providers"].items() if ok]
    human.print(f"usable providers: {', '.join(usable) or 'none'}")


def render_seed(report: dict[str, Any]) -> None:
    verb = "reused" if report["reused"] else "built"
    human.print(f"dataset [bold]{report['id']}[/] {verb} in {report['seconds']:.1f} s")
    rows = ", ".join(f"{table} {count:,}" for table, count in report["rows"].items())
    human.print(f"  rows: {rows} (total {report['total_rows']:,})")
    if not report["reused"]:
        human.print(
            f"  {report['rows_per_s']:,} rows/s overall; streaming load "
            f"{report['load_seconds']:.1f} s ({report['load_rows_per_s']:,} rows/s), "
            f"keys and indexes {report['index_seconds']:.1f} s"
        )
    human.print(f"  at {report['path']}")


def render_seed_calibration(report: dict[str, Any]) -> None:
    table = Table(title=f"calibrate seed: {report['rows']:,} rows ({report['orders']:,} orders)")
    table.add_column("loader")
    table.add_column("rows/s", justify="right")
    table.add_column("seconds", justify="right")
    table.add_row(
        "seeder (generate + COPY)",
        f"{report['seeder_rows_per_s']:,}",
        f"{report['seeder_seconds']} ({' + '.join(map(str, report['seeder_passes_seconds']))})",
    )
    table.add_row(
        "raw COPY (preformatted)",
        f"{report['raw_copy_rows_per_s']:,}",
        f"{report['raw_copy_seconds']} ({' + '.join(map(str, report['raw_copy_passes_seconds']))})",
    )
    table.add_row(
        f"naive Faker + INSERT ({report['naive_rows']:,} rows)",
        f"{report['naive_rows_per_s']:,}",
        str(report["naive_seconds"]),
    )
    human.print(table)
    verdict = (
        "meets" if report["ratio_to_raw_copy"] >= report["target_ratio_to_raw_copy"] else "misses"
    )
    human.print(
        f"seeder / raw COPY = {report['ratio_to_raw_copy']:.2f} "
        f"({verdict} the {report['target_ratio_to_raw_copy']:.2f} target); "
        f"seeder / naive = {report['speedup_over_naive']:,}x"
    )


def render_checkout_calibration(report: dict[str, Any]) -> None:
    table = Table(title=f"checkout at {report['rate_per_s']:g}/s for {report['seconds']:g} s")
    for column in ("path", "ok", "rejected", "failed", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right" if column != "path" else "left")
    app, sql = report["app"], report["pgbench"]
    table.add_row(
        "HTTP -> baseline_app -> PostgreSQL",
        str(app["ok"]),
        str(app["rejected"]),
        str(app["failed"]),
        _maybe(app["p50_ms"]),
        _maybe(app["p99_ms"]),
        _maybe(app["max_ms"]),
    )
    table.add_row(
        "pgbench, same SQL",
        str(sql["count"]),
        "-",
        str(sql["failed"]),
        _maybe(sql["p50_ms"]),
        _maybe(sql["p99_ms"]),
        _maybe(sql["max_ms"]),
    )
    human.print(table)
    client = report["client"]
    human.print(
        f"the HTTP client's own cost: p50 {_maybe(client['cost_p50_ms'])} ms "
        f"(it sees {_maybe(client['client_p50_ms'])} ms from a server that answers at once, "
        f"a bare socket {_maybe(client['raw_socket_p50_ms'])} ms)"
    )
    human.print(
        f"app overhead: {_maybe(report['overhead_ratio_p50'])}x at p50, "
        f"{_maybe(report['overhead_ratio_p99'])}x at p99; net of the client "
        f"{_maybe(report['net_overhead_ratio_p50'])}x at p50 "
        f"(target <= {report['target_ratio_p50']:g}x)"
    )


def render_projector_calibration(report: dict[str, Any]) -> None:
    lag, catch_up, dash = report["projection_lag_ms"], report["catch_up"], report["dashboard"]
    human.print(
        f"checkouts: {report['checkouts']} ok, {report['rejected']} rejected, "
        f"{report['failures']} failed, "
        f"{report['achieved_rps']}/s "
        f"(asked {report['rate_per_s']:g}/s), p50 {_maybe(report['checkout']['p50_ms'])} ms, "
        f"p99 {_maybe(report['checkout']['p99_ms'])} ms"
    )
    human.print(
        f"projection lag: p50 {_maybe(lag['p50'])} ms, p99 {_maybe(lag['p99'])} ms, "
        f"max {_maybe(lag['max'])} ms "
        f"(target p99 <= {report['targets']['lag_p99_ms']} ms)"
    )
    human.print(
        f"catch-up: {catch_up['events']:,} events in {catch_up['seconds']} s = "
        f"{catch_up['events_per_s']:,} events/s "
        f"(target >= {report['targets']['catch_up_events_per_s']:,})"
    )
    human.print(
        f"dashboard from the read model: p50 {_maybe(dash['p50_ms'])} ms, "
        f"p95 {_maybe(dash['p95_ms'])} ms "
        f"(target p95 <= {report['targets']['dashboard_p95_ms']} ms)"
    )
    for step in report["ladder"]:
        human.print(
            f"  at {step['rate_per_s']:g}/s: {step['ok']} ok, {step['rejected']} rejected, "
            f"{step['failed']} failed, p50 {_maybe(step['p50_ms'])} ms, "
            f"p99 {_maybe(step['p99_ms'])} ms"
        )
    if report["ladder"]:
        human.print(
            "highest checkout rate held with p99 under 100 ms: "
            f"{_maybe(report['max_rate_held_p99_under_100ms'])}/s"
        )


def render_compare(report: dict[str, Any]) -> None:
    table = Table(
        title=f"A ({report['a_trials']} trial(s)) vs B ({report['b_trials']} trial(s)): "
        f"noise from {report['method']}, {report['level']:.0%} intervals"
    )
    for column in ("metric", "A", "B", "change", "interval", "verdict"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in report["metrics"]:
        table.add_row(
            row["metric"],
            value_text(row["a"]),
            value_text(row["b"]),
            change_text(row),
            interval_text(row),
            verdict_text(row),
        )
    human.print(table, width=max(human.width, 140))
    human.print(
        f"{report['beyond']} of {report['judged']} judged metrics beyond noise "
        f"({len(report['metrics']) - report['judged']} unknown: too few samples or trials, "
        "or nothing to resample)"
    )


def render_trend(trend: dict[str, Any]) -> None:
    for path in trend["metrics"]:
        table = Table(title=path)
        for column in ("run", "trials", "median", "interval", "change from previous", "verdict"):
            table.add_column(column, justify="left" if column == "run" else "right")
        previous: list[dict[str, Any] | None] = [None]
        for step in trend["steps"]:
            previous.append(next((r for r in step["rows"] if r["metric"] == path), None))
        for point, row in zip(trend["series"][path], previous, strict=True):
            low, high = point["low"], point["high"]
            table.add_row(
                point["run"],
                str(point["trials"]),
                value_text(point["median"]),
                "-" if low is None or high is None else f"{low:,.2f} - {high:,.2f}",
                "-" if row is None else f"{change_text(row)} {interval_text(row)}",
                "-" if row is None else verdict_text(row),
            )
        human.print(table, width=max(human.width, 140))


def render_gates(result: dict[str, Any]) -> None:
    table = Table(title=f"gates for {result['run_dir']}")
    for column in ("rule", "measured", "limit", "result"):
        table.add_column(column)
    for rule in result["rules"]:
        status = "[green]pass[/]" if rule["passed"] else "[red]FAIL[/]"
        table.add_row(rule["name"], rule["measured"], rule["limit"], status)
    human.print(table, width=max(human.width, 140))
    for rule in result["rules"]:
        if not rule["passed"] and rule["detail"]:
            human.print(f"  {rule['name']}: {rule['detail']}", markup=False)
    human.print("[green]all gates pass[/]" if result["passed"] else "[red]gates failed[/]")


def render_summary(
    summary: Summary,
    run_dir: str,
    details: Mapping[str, Mapping[str, Any]] | None = None,
    thresholds: Thresholds | None = None,
) -> None:
    _print_table(phase_table(summary, TERMINAL_ENDPOINTS), f"cqrs-bench run: {run_dir}", 2)
    if details is not None and len(summary.systems) > 1:
        _print_table(lineup_table(summary, details), "the lineup", 1)
    if details is not None:
        limits = thresholds or Thresholds()
        _print_table(decision_table(decide(summary, details, limits)), "decision", 1)
        human.print(decision_note(limits), markup=False)
    for key, value in summary.ratios.items():
        human.print(f"  {key}: {value:g}")
    if summary.valid:
        human.print("[green]run is valid[/]")
    else:
        human.print("[bold red]RUN INVALID[/]: its numbers cannot be trusted, because")
        for reason in summary.invalid_reasons:
            human.print(f"  - {reason}", markup=False)


def render_driver_calibration(report: dict[str, Any]) -> None:
    table = Table(title=f"calibrate driver: server answers in {report['true_latency_ms']:g} ms")
    for column in ("checkouts/s", "scheduled", "failed", "p50 ms", "p99 ms", "lag p99 ms"):
        table.add_column(column, justify="right")
    for step in report["ladder"]:
        table.add_row(
            f"{step['rate_per_s']:g}",
            str(step["scheduled"]),
            str(step["failed"]),
            _maybe(step["p50_ms"]),
            _maybe(step["p99_ms"]),
            _maybe(step["schedule_lag_p99_ms"]),
        )
    human.print(table)
    human.print(
        f"a bare socket sees p50 {_maybe(report['raw_socket_p50_ms'])} ms; the driver reports "
        f"p50 {_maybe(report['reported_p50_ms'])} ms at {report['overhead_rate_per_s']:g}/s: "
        f"overhead {_maybe(report['p50_overhead_ms'])} ms "
        f"(target <= {report['target_p50_overhead_ms']:g} ms; "
        f"{_maybe(report['p50_over_nominal_ms'])} ms over the nominal delay); "
        f"highest rate with schedule lag p99 under 10 ms: "
        f"{_maybe(report['max_rps_schedule_lag_p99_under_10ms'])}/s"
    )


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"


def _print_table(table: ResultsTable, title: str, label_columns: int) -> None:
    """The table as it is where it fits; else one narrow table per system (a CI log is 80
    columns and no terminal): a row per column of the wide one, a column per phase."""
    wide = _rich_table(table.header, table.rows, label_columns, title=title)
    if _natural_width(wide) <= human.width:
        human.print(wide)
        return
    human.print(f"[bold]{title}[/]", soft_wrap=True)  # a run directory's path is not cut
    for name, header, rows in narrow_tables(table, label_columns):
        for columns in _fitting(header, rows):
            if name:
                human.print(f"[bold]{name}[/]")
            shown = _rich_table(
                [header[0], *(header[i] for i in columns)],
                [[row[0], *(row[i] for i in columns)] for row in rows],
                1,
                wrap=len(columns) == 1,  # one long cell (a verdict) wraps rather than is cut
            )
            human.print(shown)


def _natural_width(table: Table) -> int:
    """Columns the table takes with no cell cut or wrapped."""
    return human.measure(table, options=human.options.update_width(100_000)).maximum


def _rich_table(
    header: list[str],
    rows: list[list[str]],
    labels: int,
    title: str | None = None,
    wrap: bool = False,
) -> Table:
    compact = title is None
    shown = Table(
        title=title,
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
        pad_edge=not compact,
        show_edge=not compact,
    )
    for index, column in enumerate(header):
        if index < labels:
            width = max(len(cell) for cell in [column, *(row[index] for row in rows)])
            shown.add_column(column, justify="left", no_wrap=True, min_width=width)
        else:
            justify: Literal["left", "right"] = "left" if wrap else "right"
            shown.add_column(column, justify=justify, no_wrap=not wrap, overflow="fold")
    for row in rows:
        shown.add_row(*row)
    return shown


def _fitting(header: list[str], rows: list[list[str]]) -> list[list[int]]:
    """The value columns in groups that fit the console's width beside the label column."""
    groups: list[list[int]] = [[]]
    for index in range(1, len(header)):
        trial = [*groups[-1], index]
        table = _rich_table(
            [header[0], *(header[i] for i in trial)],
            [[row[0], *(row[i] for i in trial)] for row in rows],
            1,
        )
        if groups[-1] and _natural_width(table) > human.width:
            groups.append([index])
        else:
            groups[-1] = trial
    return groups


_PAIR = re.compile(r"^(.*?)(\S+) / (\S+)(.*)$")
_NAMED_NUMBER = re.compile(r"^[A-Za-z][\w-]* [\d.,]+%?$")


def narrow_tables(
    table: ResultsTable, label_columns: int
) -> list[tuple[str, list[str], list[list[str]]]]:
    """The wide table turned on its side: with two label columns (system, phase) one table per
    system with a column per phase; with one, a column per system. A column of "a / b" cells
    becomes two rows ("checkout p50 ms", "checkout p95 ms"), so every cell stays short."""
    groups: dict[str, list[list[str]]] = {}
    for row in table.rows:
        key = row[0] if label_columns == 2 else ""
        groups.setdefault(key, []).append(row)
    narrow = []
    for name, members in groups.items():
        header = ["", *(row[label_columns - 1] for row in members)]
        rows: list[list[str]] = []
        for index in range(label_columns, len(table.header)):
            label = table.header[index]
            cells = [row[index] for row in members]
            pair = _PAIR.match(label)
            halves = [_halves(cell) for cell in cells]
            parts = _named_parts(cells)
            if pair is not None and all(half is not None for half in halves):
                before, first, second, after = pair.groups()
                rows.append([f"{before}{first}{after}", *(h[0] for h in halves if h)])
                rows.append([f"{before}{second}{after}", *(h[1] for h in halves if h)])
            elif parts is not None:
                for part, values in parts.items():
                    rows.append([f"{label} {part}", *values])
            else:
                rows.append([label, *cells])
        narrow.append((name, header, rows))
    return narrow


def _named_parts(cells: list[str]) -> dict[str, list[str]] | None:
    """Cells like "write 5, read 6" as one row per name ("DB CPU % (mean) write"), where
    some cell has more than one name; None for any other column."""
    named: list[dict[str, str]] = []
    for cell in cells:
        if cell == MISSING:
            named.append({})
            continue
        pairs = [part.split(" ") for part in cell.split(", ")]
        if any(len(pair) != 2 or not _NAMED_NUMBER.match(" ".join(pair)) for pair in pairs):
            return None
        named.append(dict((name, value) for name, value in pairs))
    if max((len(found) for found in named), default=0) < 2:
        return None
    names = list(dict.fromkeys(name for found in named for name in found))
    return {name: [found.get(name, MISSING) for found in named] for name in names}


def _halves(cell: str) -> tuple[str, str] | None:
    if cell == MISSING:
        return MISSING, MISSING
    parts = cell.split(" / ")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def render_image_build(report: dict[str, Any]) -> None:
    verb = "present, reused" if report["reused"] else "built"
    human.print(
        f"image [bold]{report['tag']}[/] {verb} ({report['size_mib']:,} MiB, "
        f"PostgreSQL {report['postgresql']}, {report['id'][:19]})"
    )
    seconds = report["seconds"]
    if seconds:
        human.print(
            f"  debootstrap {seconds['debootstrap']} s, import {seconds['import']} s, "
            f"total {seconds['total']} s"
        )
    human.print(f"  use it with: cqrs-bench run {report['use']}", markup=False)
