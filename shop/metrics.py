"""The apps' metrics in Prometheus's text format (``GET /metrics``), and the JSON kept beside it.

Request latency is a histogram per route template, method and status class,
observed by the serving middleware. Everything else (pools, the outbox
backlog and projection lag a CQRS app reads from its databases, the report
cache's answer ages) is a snapshot the backend takes when asked: it is turned
into gauges at each scrape, so a scrape shows the state at that moment.

``GET /metrics.json`` keeps the older JSON shape (and the strings Prometheus
has no place for: a stall's reason, the open transactions' queries) for
``cqrs-bench status`` and scripts.

The harness's sampler parses this exposition (:func:`samples`) once a second;
Prometheus scrapes the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

# No ``*_created`` series beside each counter and histogram: a process's start time,
# once per series, is noise on a dashboard.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The text format every Prometheus 2.x reads (the Debian package's included).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# From a cached page (~1 ms) to the incident's report storm (tens of seconds).
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
# The JSON snapshot's pool keys, as the ``pool`` label names them: an app's main pool (the
# baseline's only one, CQRS's write side) and the one that serves reads, where there is one.
POOLS = {"pool": "main", "pool_read": "read"}
CACHE_OUTCOMES = ("hits", "stale_served", "misses", "waited")


class RequestMetrics:
    """What the serving middleware records for one app: a latency histogram (Prometheus)
    and request counts by route and status class (the JSON's)."""

    def __init__(self) -> None:
        # one registry per app, so several apps in one process (tests) never collide
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "shop_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template,"
            " method and status class",
            ["route", "method", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        status_class = f"{str(status)[0]}xx" if status else "none"
        self.by_route[f"{method} {route}"] += 1
        self.by_status[str(status)[0] + "xx"] += 1
        self.latency.labels(route, method, status_class).observe(seconds)

    def exposition(self, system: str, snapshot: Mapping[str, Any]) -> bytes:
        """The text a scrape gets: the histogram, then the backend's snapshot as gauges."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(system, snapshot))
        return generate_latest(self.registry) + generate_latest(registry)


class _Snapshot(Collector):
    def __init__(self, system: str, snapshot: Mapping[str, Any]) -> None:
        self.system = system
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily("shop_info", "The system this app serves", labels=["system"])
        info.add_metric([self.system], 1)
        yield info
        yield from _pools(self.snapshot)
        projection = self.snapshot.get("projection")
        if isinstance(projection, Mapping):
            yield from _projection(projection)
        cache = self.snapshot.get("cache")
        if isinstance(cache, Mapping):
            yield from _cache(cache)


def _pools(snapshot: Mapping[str, Any]) -> Iterator[Metric]:
    found = {label: snapshot[key] for key, label in POOLS.items() if key in snapshot}
    for name, key, text in (
        ("shop_pool_size", "size", "Connections the pool holds now"),
        ("shop_pool_max_size", "max", "Connections the pool may hold"),
        ("shop_pool_in_use", "in_use", "Connections lent to requests now"),
        ("shop_pool_waiting", "waiting", "Requests waiting for a connection now"),
    ):
        family = GaugeMetricFamily(name, text, labels=["pool"])
        for label, pool in found.items():
            family.add_metric([label], float(pool[key]))
        yield family


def _projection(status: Mapping[str, Any]) -> Iterator[Metric]:
    """The CQRS projection as the app reads it from both databases (absent when it could not:
    ``shop_projection_status_up`` is then 0)."""
    readable = "events_behind" in status
    up = GaugeMetricFamily(
        "shop_projection_status_up",
        "1 when this scrape could read the projection's state from both databases, else 0",
        value=1 if readable else 0,
    )
    yield up
    if not readable:
        return
    yield GaugeMetricFamily(
        "shop_outbox_backlog_events",
        "Outbox events committed but not yet applied to the read models",
        value=float(status["events_behind"]),
    )
    yield GaugeMetricFamily(
        "shop_projection_lag_seconds",
        "Age of the oldest outbox event not yet applied (0 when none waits)",
        value=float(status["oldest_unapplied_age_ms"]) / 1000,
    )
    if status.get("last_batch_lag_ms") is not None:
        yield GaugeMetricFamily(
            "shop_projection_last_batch_lag_seconds",
            "Age of the oldest event of the last batch applied, when it was applied",
            value=float(status["last_batch_lag_ms"]) / 1000,
        )
    if status.get("heartbeat_age_ms") is not None:
        yield GaugeMetricFamily(
            "shop_projection_heartbeat_age_seconds",
            "Time since the leading projector last wrote its checkpoint",
            value=float(status["heartbeat_age_ms"]) / 1000,
        )
    yield CounterMetricFamily(
        "shop_projection_events_applied",
        "Events applied to the read models since the last rebuild",
        value=float(status.get("events_applied") or 0),
    )
    yield GaugeMetricFamily(
        "shop_projection_dead_letters",
        "Events set aside in dead_letters (each could not be applied)",
        value=float(status.get("dead_letters") or 0),
    )
    stalled = GaugeMetricFamily(
        "shop_projection_stalled",
        "1 while the projector applies nothing because of an error that hits every event",
        labels=["reason"],
    )
    reason = status.get("stalled_reason")
    stalled.add_metric([str(reason or "")], 1 if reason else 0)
    yield stalled
    blockers = status.get("horizon_blockers") or []
    if blockers:
        # the oldest open write transaction: it holds the horizon, so projection, back
        oldest = blockers[0]
        yield GaugeMetricFamily(
            "shop_projection_horizon_blocker_age_seconds",
            "Age of the oldest write transaction open for more than 1 s (none: absent)",
            value=float(oldest["age_s"]),
        )
        yield GaugeMetricFamily(
            "shop_projection_horizon_blocker_pid",
            "Backend pid of that transaction, to find it in pg_stat_activity",
            value=float(oldest["pid"]),
        )


def _cache(cache: Mapping[str, Any]) -> Iterator[Metric]:
    ages = GaugeMetricFamily(
        "shop_cache_answer_age_seconds",
        "Age of each report's cached answer (its staleness; the oldest of its parameter sets)",
        labels=["report"],
    )
    for report, age_ms in (cache.get("answer_age_ms") or {}).items():
        ages.add_metric([report], float(age_ms) / 1000)
    yield ages
    outcomes = CounterMetricFamily(
        "shop_cache_lookups",
        "Report lookups by outcome: a fresh answer, an old one served during a refresh,"
        " a miss (the report ran), or a wait for another request's refresh",
        labels=["outcome"],
    )
    for outcome in CACHE_OUTCOMES:
        outcomes.add_metric([outcome], float(cache.get(outcome, 0)))
    yield outcomes
    yield CounterMetricFamily(
        "shop_cache_reports_run",
        "Reports this app ran on the database to fill the cache",
        value=float(cache.get("reports_run", 0)),
    )
    yield GaugeMetricFamily(
        "shop_cache_ttl_seconds", "How long a cached answer counts as fresh", value=cache["ttl_s"]
    )


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """An exposition's samples by sample name (counters keep ``_total``), each with its labels."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return found
