"""The per-endpoint table and the most frequent errors, from ``summary.json`` alone.

Locust users expect these: for every endpoint in every phase, how many
requests, how fast they came, how many failed, the percentiles and the
slowest; and what the failures said. A percentile from too few samples
(p99.9 needs 10,000) is shown as "-", as everywhere else.
"""

from __future__ import annotations

from harness.results.model import ENDPOINTS, EndpointStats, Summary
from harness.results.table import MISSING, Table, ms, rate, share

ENDPOINT_HEADER = [
    "system",
    "phase",
    "endpoint",
    "requests",
    "requests/s",
    "failures",
    "p50 ms",
    "p90 ms",
    "p95 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
]
ERROR_HEADER = ["system", "phase", "endpoint", "count", "message"]
# the errors table shows this many (message, endpoint) rows; summary.json keeps each endpoint's 5
MAX_ERROR_ROWS = 20


def failures_text(stats: EndpointStats) -> str:
    """Failures and their share of the requests: ``3 (0.52%)``."""
    if not stats.failures:
        return "0"
    return f"{stats.failures:,} ({share(stats.error_rate)})"


def endpoint_cells(stats: EndpointStats) -> list[str]:
    return [
        f"{stats.count:,}",
        MISSING if stats.request_rps is None else rate(stats.request_rps),
        failures_text(stats),
        ms(stats.p50_ms),
        ms(stats.p90_ms),
        ms(stats.p95_ms),
        ms(stats.p99_ms),
        ms(stats.p99_9_ms),
        ms(stats.max_ms),
    ]


def _ordered(names: list[str]) -> list[str]:
    """Endpoints in the model's order, any it does not know after them."""
    return [n for n in ENDPOINTS if n in names] + sorted(n for n in names if n not in ENDPOINTS)


def endpoint_table(summary: Summary) -> Table:
    """One row per system, phase and endpoint: requests, requests/s (all of them, failures
    too), failures, p50 / p90 / p95 / p99 / p99.9 and max latency."""
    rows = []
    for system, data in summary.systems.items():
        for phase, entry in data.phases.items():
            for endpoint in _ordered(list(entry.endpoints)):
                stats = entry.endpoints[endpoint]
                rows.append([system, phase, endpoint, *endpoint_cells(stats)])
    return Table(header=list(ENDPOINT_HEADER), rows=rows)


def error_table(summary: Summary, limit: int = MAX_ERROR_ROWS) -> Table:
    """The most frequent failure messages: one row per message, endpoint, phase and system,
    the most frequent first."""
    found = [
        (error.count, system, phase, endpoint, error.message)
        for system, data in summary.systems.items()
        for phase, entry in data.phases.items()
        for endpoint, stats in entry.endpoints.items()
        for error in stats.top_errors
    ]
    found.sort(key=lambda row: (-row[0], row[1], row[2], row[3], row[4]))
    rows = [
        [system, phase, endpoint, f"{count:,}", message]
        for count, system, phase, endpoint, message in found[:limit]
    ]
    return Table(header=list(ERROR_HEADER), rows=rows)
