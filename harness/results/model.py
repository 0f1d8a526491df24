"""The results files as types: ``summary.json`` (:class:`Summary`), ``run.json`` (:class:`RunInfo`).

Their shapes are a contract (DESIGN.md): gates, ``compare``, the report and
users' scripts read them; keys may be added, none removed. ``from_json``
validates what it reads and names the file and the key of every problem
(:class:`ResultsFileError`, exit 2); ``to_json`` gives back exactly the JSON
the harness writes (same keys, same order). A file of another
``schema_version`` is refused.

A value is named by its path without the fixed levels, as gates and users
name it: ``cqrs.storm.checkout.p99_ms``, ``baseline.storm.cpu_pct.db.mean``
(:meth:`Summary.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from harness.core.errors import BadInput
from scenarios.plan import PHASES, LoadPlan

SUMMARY_SCHEMA_VERSION = 1
RUN_SCHEMA_VERSION = 1
ENDPOINTS = (
    "checkout",
    "dashboard_customers",
    "dashboard_revenue",
    "product_list",
    "product_page",
    "my_orders",
    "order_status",
    # the confirmation read after each checkout: its own name, it is not a shopper's page
    "checkout_confirm",
)
# Endpoints driven open-model (scheduled arrivals): drops count, latency runs from the schedule.
OPEN_MODEL_ENDPOINTS = ("checkout", "dashboard_customers", "dashboard_revenue")
ERROR_KINDS = ("timeout", "http_4xx", "http_5xx", "connection", "dropped", "recovery_conflict")
PERCENTILES = {
    "p50_ms": 50.0,
    "p90_ms": 90.0,
    "p95_ms": 95.0,
    "p99_ms": 99.0,
    "p99_9_ms": 99.9,
}
# The error messages each endpoint keeps per phase, most frequent first.
TOP_ERRORS = 5


class ResultsFileError(BadInput):
    """A run directory or one of its files the harness cannot use (exit 2)."""


# --- reading JSON with the file and key of every problem ---------------------------------


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    """One JSON object being read, and where it sits (for messages)."""

    def __init__(self, source: str, where: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ResultsFileError(
                f"{source}: {where or 'the file'} should be an object, found {_describe(data)}"
            )
        self.source = source
        self.where = where
        self.data: dict[str, Any] = data

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def wrong(self, key: str, expected: str, value: object) -> ResultsFileError:
        return ResultsFileError(
            f"{self.source}: {self.path(key)} should be {expected}, found {_describe(value)}"
        )

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise ResultsFileError(f"{self.source}: key {self.path(key)} is missing")
        return self.data[key]

    def child(self, key: str) -> _Reader:
        return _Reader(self.source, self.path(key), self.raw(key))

    def children(self, key: str) -> Iterator[tuple[str, _Reader]]:
        node = self.child(key)
        for name, value in node.data.items():
            yield name, _Reader(self.source, node.path(name), value)

    def number(self, key: str) -> float:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong(key, "a number", value)
        return value

    def optional_number(self, key: str) -> float | None:
        """A number or null; an absent key (a file from before the key existed) is None."""
        if self.data.get(key) is None:
            return None
        return self.number(key)

    def nullable_number(self, key: str) -> float | None:
        """A number, or null where it could not be measured; the key itself must be there."""
        return None if self.raw(key) is None else self.number(key)

    def optional_integer(self, key: str) -> int | None:
        if self.data.get(key) is None:
            return None
        return self.integer(key)

    def integer(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(key, "an integer", value)
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false", value)
        return value

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.wrong(key, "a string", value)
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.raw(key) is None else self.text(key)

    def maybe_text(self, key: str) -> str | None:
        """A string, null or absent (a key added after the file was written)."""
        return None if self.data.get(key) is None else self.text(key)

    def maybe_texts(self, key: str) -> tuple[str, ...]:
        return () if key not in self.data else self.texts(key)

    def maybe_child(self, key: str) -> _Reader | None:
        return None if self.data.get(key) is None else self.child(key)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.wrong(key, "a list of strings", value)
        return tuple(value)

    def numbers(self, key: str) -> dict[str, float]:
        node = self.child(key)
        return {name: node.number(name) for name in node.data}

    def integers(self, key: str) -> dict[str, int]:
        node = self.child(key)
        return {name: node.integer(name) for name in node.data}

    def objects(self, key: str) -> dict[str, dict[str, Any]]:
        return {name: node.data for name, node in self.children(key)}

    def obj(self, key: str) -> dict[str, Any]:
        return self.child(key).data


def _check_version(source: str, data: object, version: int) -> None:
    if not isinstance(data, dict):
        raise ResultsFileError(f"{source} should hold a JSON object, found {_describe(data)}")
    found = data.get("schema_version")
    if found != version or isinstance(found, bool):
        raise ResultsFileError(
            f"{source} has schema version {found!r}; this cqrs-bench reads version {version}"
        )


# --- summary.json -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """Percentiles of answered requests (ok or not): drops and timeouts left out."""

    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def read(cls, node: _Reader) -> Answered:
        return cls(
            count=node.integer("count"),
            p50_ms=node.nullable_number("p50_ms"),
            p95_ms=node.nullable_number("p95_ms"),
            p99_ms=node.nullable_number("p99_ms"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
        }


@dataclass(frozen=True)
class ErrorCount:
    """One error message and how many of an endpoint's requests in a phase failed with it."""

    message: str
    count: int

    @classmethod
    def read(cls, node: _Reader) -> ErrorCount:
        count = node.integer("count")
        if count < 1:
            raise node.wrong("count", "a positive integer", count)
        return cls(message=node.text("message"), count=count)

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "count": self.count}


def _top_errors(node: _Reader) -> tuple[ErrorCount, ...]:
    """``top_errors``: absent in a file from before it existed (read as none)."""
    raw = node.data.get("top_errors")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise node.wrong("top_errors", "a list of {message, count}", raw)
    where = node.path("top_errors")
    return tuple(
        ErrorCount.read(_Reader(node.source, f"{where}[{i}]", item)) for i, item in enumerate(raw)
    )


@dataclass(frozen=True)
class EndpointStats:
    """One endpoint in one phase: exact latencies (ms), request rates, errors by kind and message.

    For open-model endpoints (checkout, the reports) ``count`` is every
    scheduled arrival and the percentiles run over all of them, a drop or a
    timeout counting as the client timeout; ``answered`` holds the
    percentiles of answered requests alone. A percentile from too few samples
    is None, and its name is in ``insufficient``. ``request_rps`` counts every
    request (failures too) per second of the phase, ``throughput_rps`` only the
    successes. ``top_errors``: the most frequent failure messages, most first
    (in a summary of several trials, each message's total over the trials).
    A file from before p90, p99.9, ``request_rps`` or ``top_errors`` existed
    reads them as None (absent), never as 0.
    """

    count: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    throughput_rps: float
    error_rate: float | None
    errors: Mapping[str, int]
    insufficient: tuple[str, ...] = ()
    answered: Answered | None = None
    p90_ms: float | None = None
    p99_9_ms: float | None = None
    request_rps: float | None = None
    top_errors: tuple[ErrorCount, ...] = ()

    @property
    def failures(self) -> int:
        """Requests that did not succeed (errors, timeouts and, open-model, drops)."""
        return self.count - self.ok

    @classmethod
    def read(cls, node: _Reader) -> EndpointStats:
        answered = node.maybe_child("answered")
        count, ok = node.integer("count"), node.integer("ok")
        if not 0 <= ok <= count:
            raise node.wrong("ok", f"between 0 and count ({count})", ok)
        return cls(
            count=count,
            ok=ok,
            p50_ms=node.nullable_number("p50_ms"),
            p95_ms=node.nullable_number("p95_ms"),
            p99_ms=node.nullable_number("p99_ms"),
            max_ms=node.nullable_number("max_ms"),
            throughput_rps=node.number("throughput_rps"),
            error_rate=node.nullable_number("error_rate"),
            errors=node.integers("errors"),
            insufficient=node.maybe_texts("insufficient"),
            answered=None if answered is None else Answered.read(answered),
            p90_ms=node.optional_number("p90_ms"),
            p99_9_ms=node.optional_number("p99_9_ms"),
            request_rps=node.optional_number("request_rps"),
            top_errors=_top_errors(node),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "count": self.count,
            "ok": self.ok,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "p99_9_ms": self.p99_9_ms,
            "max_ms": self.max_ms,
            "request_rps": self.request_rps,
            "throughput_rps": self.throughput_rps,
            "error_rate": self.error_rate,
            "errors": dict(self.errors),
            "top_errors": [error.to_json() for error in self.top_errors],
            "insufficient": list(self.insufficient),
        }
        if self.answered is not None:
            data["answered"] = self.answered.to_json()
        return data

    def metrics(self) -> Iterator[tuple[tuple[str, ...], float | None]]:
        for name in ENDPOINT_METRICS:
            yield (name,), _float(getattr(self, name))
        for kind, count in self.errors.items():
            yield ("errors", kind), float(count)
        if self.answered is not None:
            for name in ANSWERED_METRICS:
                yield ("answered", name), _float(getattr(self.answered, name))


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


class _Arrivals:
    """What an open-model driver did with its arrivals, shared by both drivers' records."""

    scheduled: int | None
    answered: int
    failed: int
    timed_out: int
    dropped: int

    @property
    def recorded(self) -> int:
        return self.answered + self.failed + self.timed_out + self.dropped

    @staticmethod
    def read_counts(node: _Reader) -> dict[str, Any]:
        """The fields both drivers write; keys added later read as absent (0 or None)."""
        return {
            "scheduled": node.optional_integer("scheduled"),
            "answered": node.optional_integer("answered") or 0,
            "failed": node.optional_integer("failed") or 0,
            "timed_out": node.optional_integer("timed_out") or 0,
            "dropped": node.integer("dropped"),
            "in_flight_bound": node.optional_integer("in_flight_bound"),
            "dispatched_late": node.optional_integer("dispatched_late") or 0,
        }


@dataclass(frozen=True)
class CheckoutDriver(_Arrivals):
    """The open-model checkout driver in one phase: every scheduled arrival accounted for.

    ``scheduled`` is what the driver planned (None for a run from before it
    said); ``answered + failed + timed_out + dropped`` is what was recorded.
    """

    offered_rps: float
    achieved_rps: float
    dropped: int
    schedule_lag_p99_ms: float | None
    target_rps: float
    scheduled: int | None = None
    answered: int = 0
    failed: int = 0
    timed_out: int = 0
    in_flight_bound: int | None = None
    dispatched_late: int = 0  # sent more than 100 ms after their scheduled time

    @classmethod
    def read(cls, node: _Reader) -> CheckoutDriver:
        return cls(
            offered_rps=node.number("offered_rps"),
            achieved_rps=node.number("achieved_rps"),
            schedule_lag_p99_ms=node.nullable_number("schedule_lag_p99_ms"),
            target_rps=node.number("target_rps"),
            **cls.read_counts(node),
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in DRIVER_METRICS}


@dataclass(frozen=True)
class ReportsDriver(_Arrivals):
    """The open-model report storm in one phase: scheduled admin reports and what became of them."""

    scheduled: int | None
    answered: int
    failed: int
    timed_out: int
    dropped: int
    schedule_lag_p99_ms: float | None
    in_flight_bound: int | None = None
    dispatched_late: int = 0

    @classmethod
    def read(cls, node: _Reader) -> ReportsDriver:
        return cls(
            schedule_lag_p99_ms=node.optional_number("schedule_lag_p99_ms"),
            **cls.read_counts(node),
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REPORTS_METRICS}


@dataclass(frozen=True)
class CpuStats:
    """CPU of one component in one phase, in % of one core (whole process tree)."""

    mean: float
    max: float

    @classmethod
    def read(cls, node: _Reader) -> CpuStats:
        return cls(mean=node.number("mean"), max=node.number("max"))

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "max": self.max}


@dataclass(frozen=True)
class MemoryStats:
    """Resident memory of one component in one phase, MiB (whole process tree)."""

    mean: float
    max: float

    @classmethod
    def read(cls, node: _Reader) -> MemoryStats:
        return cls(mean=node.number("mean"), max=node.number("max"))

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "max": self.max}


@dataclass(frozen=True)
class LagStats:
    """Projection lag in one phase, ms: from the order's write commit to its read-model commit.

    ``count`` orders were projected; ``unprojected`` were placed in this phase
    and never reached the read model (None when the run did not say).
    """

    p50: float | None
    p99: float | None
    max: float | None
    count: int | None = None
    unprojected: int | None = None

    @classmethod
    def read(cls, node: _Reader) -> LagStats:
        return cls(
            p50=node.nullable_number("p50"),
            p99=node.nullable_number("p99"),
            max=node.nullable_number("max"),
            count=node.optional_integer("count"),
            unprojected=node.optional_integer("unprojected"),
        )

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LAG_METRICS}


def _names(cls: type, *skip: str) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in skip)


# The metric names below an endpoint, the checkout driver, a CPU component and the lag.
ENDPOINT_METRICS = _names(EndpointStats, "errors", "insufficient", "answered", "top_errors")
ANSWERED_METRICS = _names(Answered)
DRIVER_METRICS = _names(CheckoutDriver)
REPORTS_METRICS = _names(ReportsDriver)
CPU_METRICS = _names(CpuStats)
MEMORY_METRICS = _names(MemoryStats)
LAG_METRICS = _names(LagStats)


@dataclass(frozen=True)
class PhaseSummary:
    """One system in one phase."""

    seconds: float
    endpoints: Mapping[str, EndpointStats]
    checkout_driver: CheckoutDriver
    cpu_pct: Mapping[str, CpuStats]
    projection_lag_ms: LagStats | None = None
    reports_driver: ReportsDriver | None = None
    # components whose CPU could not be measured, and why (e.g. a database in a container)
    cpu_unavailable: Mapping[str, str] = field(default_factory=dict)
    # a hot standby's staleness (replay lag) sampled once a second, ms (the replica system)
    replica_lag_ms: LagStats | None = None
    # the cache system: the age of the cached report answers, sampled once a second, ms
    cache_staleness_ms: LagStats | None = None
    # resident memory of every component, MiB (absent in runs from before it was summarized)
    memory_mib: Mapping[str, MemoryStats] = field(default_factory=dict)

    @classmethod
    def read(cls, node: _Reader) -> PhaseSummary:
        lag = node.child("projection_lag_ms") if node.has("projection_lag_ms") else None
        reports = node.maybe_child("reports_driver")
        unavailable = node.maybe_child("cpu_unavailable")
        replica = node.maybe_child("replica_lag_ms")
        cache = node.maybe_child("cache_staleness_ms")
        memory = node.maybe_child("memory_mib")
        return cls(
            seconds=node.number("seconds"),
            endpoints={name: EndpointStats.read(n) for name, n in node.children("endpoints")},
            checkout_driver=CheckoutDriver.read(node.child("checkout_driver")),
            cpu_pct={name: CpuStats.read(n) for name, n in node.children("cpu_pct")},
            projection_lag_ms=None if lag is None else LagStats.read(lag),
            reports_driver=None if reports is None else ReportsDriver.read(reports),
            cpu_unavailable={}
            if unavailable is None
            else {name: unavailable.text(name) for name in unavailable.data},
            replica_lag_ms=None if replica is None else LagStats.read(replica),
            cache_staleness_ms=None if cache is None else LagStats.read(cache),
            memory_mib={}
            if memory is None
            else {name: MemoryStats.read(n) for name, n in node.children("memory_mib")},
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seconds": self.seconds,
            "endpoints": {name: stats.to_json() for name, stats in self.endpoints.items()},
            "checkout_driver": self.checkout_driver.to_json(),
            "cpu_pct": {name: cpu.to_json() for name, cpu in self.cpu_pct.items()},
        }
        if self.projection_lag_ms is not None:
            data["projection_lag_ms"] = self.projection_lag_ms.to_json()
        if self.reports_driver is not None:
            data["reports_driver"] = self.reports_driver.to_json()
        if self.cpu_unavailable:
            data["cpu_unavailable"] = dict(self.cpu_unavailable)
        if self.replica_lag_ms is not None:
            data["replica_lag_ms"] = self.replica_lag_ms.to_json()
        if self.cache_staleness_ms is not None:
            data["cache_staleness_ms"] = self.cache_staleness_ms.to_json()
        if self.memory_mib:
            data["memory_mib"] = {name: mem.to_json() for name, mem in self.memory_mib.items()}
        return data

    def metrics(self) -> Iterator[tuple[tuple[str, ...], float | None]]:
        """Every number of the phase, by its path below the phase (None: not measured)."""
        yield ("seconds",), float(self.seconds)
        for name, stats in self.endpoints.items():
            for rest, value in stats.metrics():
                yield (name, *rest), value
        for key in DRIVER_METRICS:
            yield ("checkout_driver", key), _float(getattr(self.checkout_driver, key))
        if self.reports_driver is not None:
            for key in REPORTS_METRICS:
                yield ("reports_driver", key), _float(getattr(self.reports_driver, key))
        for component, cpu in self.cpu_pct.items():
            for key in CPU_METRICS:
                yield ("cpu_pct", component, key), float(getattr(cpu, key))
        for component, memory in self.memory_mib.items():
            for key in MEMORY_METRICS:
                yield ("memory_mib", component, key), float(getattr(memory, key))
        for name, lag in (
            ("projection_lag_ms", self.projection_lag_ms),
            ("replica_lag_ms", self.replica_lag_ms),
            ("cache_staleness_ms", self.cache_staleness_ms),
        ):
            if lag is not None:
                for key in LAG_METRICS:
                    yield (name, key), _float(getattr(lag, key))


@dataclass(frozen=True)
class SystemSummary:
    """One system: its phases and each phase's wall-clock window (epoch seconds)."""

    phases: Mapping[str, PhaseSummary]
    phase_windows: Mapping[str, tuple[float, float]]
    # a hash of the open-model schedule this system received (equal for every system of a run)
    traffic_fingerprint: str | None = None

    @classmethod
    def read(cls, node: _Reader) -> SystemSummary:
        phases = {name: PhaseSummary.read(n) for name, n in node.children("phases")}
        missing = [phase for phase in PHASES if phase not in phases]
        if missing:
            raise ResultsFileError(
                f"{node.source}: key {node.path('phases')}.{missing[0]} is missing"
            )
        phase_windows = _windows(node.child("phase_windows"))
        return cls(
            phases=phases,
            phase_windows=phase_windows,
            traffic_fingerprint=node.maybe_text("traffic_fingerprint"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "phases": {name: phase.to_json() for name, phase in self.phases.items()},
            "phase_windows": {name: list(window) for name, window in self.phase_windows.items()},
            "traffic_fingerprint": self.traffic_fingerprint,
        }

    @property
    def started(self) -> float:
        """When the first phase began (the run's clock start for this system)."""
        return min(window[0] for window in self.phase_windows.values())


@dataclass(frozen=True)
class Metric:
    """One number of a summary and its path (``system.phase.rest``)."""

    system: str
    phase: str
    rest: tuple[str, ...]
    value: float | None  # None: measured from too few samples, or not at all

    @property
    def path(self) -> str:
        return ".".join((self.system, self.phase, *self.rest))


@dataclass(frozen=True)
class TrialValues:
    """One metric over the trials of a run: each trial's value, their median, an interval.

    ``values`` are in trial order (None: that trial could not measure it);
    ``median`` is the nearest-rank median (a value one trial measured), None
    unless every trial has the value; ``low``/``high`` bound the metric's
    typical value at the run's ``Trials.level`` (None with fewer than two).
    """

    values: tuple[float | None, ...]
    median: float | None
    low: float | None = None
    high: float | None = None

    @classmethod
    def read(cls, node: _Reader) -> TrialValues:
        raw = node.raw("values")
        if not isinstance(raw, list) or not all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in raw
        ):
            raise node.wrong("values", "a list of numbers or nulls", raw)
        return cls(
            values=tuple(None if v is None else float(v) for v in raw),
            median=node.nullable_number("median"),
            low=node.optional_number("low"),
            high=node.optional_number("high"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "values": list(self.values),
            "median": self.median,
            "low": self.low,
            "high": self.high,
        }


@dataclass(frozen=True)
class Trials:
    """A run of several trials per system (``run --repeat N``).

    ``order`` is the order the trials ran in (``"baseline/1"``, ``"cqrs/1"``,
    ...; interleaved, fixed by the seed). ``metrics`` holds every path of
    :meth:`Summary.metrics` over the trials, ``ratios`` every ratio; the
    summary's own values are their medians. ``phase_windows`` gives each
    system's phase windows per trial (epoch seconds), ``valid`` each trial's
    validity.
    """

    count: int
    order: tuple[str, ...]
    level: float
    interval: str
    metrics: Mapping[str, TrialValues]
    ratios: Mapping[str, TrialValues]
    phase_windows: Mapping[str, tuple[Mapping[str, tuple[float, float]], ...]]
    valid: tuple[bool, ...]

    @classmethod
    def read(cls, node: _Reader) -> Trials:
        windows: dict[str, tuple[Mapping[str, tuple[float, float]], ...]] = {}
        for system, per_system in node.child("phase_windows").data.items():
            if not isinstance(per_system, list):
                raise node.wrong(f"phase_windows.{system}", "a list (one per trial)", per_system)
            windows[system] = tuple(
                _windows(_Reader(node.source, f"{node.path('phase_windows')}.{system}", w))
                for w in per_system
            )
        valid = node.raw("valid")
        if not isinstance(valid, list) or not all(isinstance(v, bool) for v in valid):
            raise node.wrong("valid", "a list of true or false", valid)
        return cls(
            count=node.integer("count"),
            order=node.texts("order"),
            level=node.number("level"),
            interval=node.text("interval"),
            metrics={name: TrialValues.read(n) for name, n in node.children("metrics")},
            ratios={name: TrialValues.read(n) for name, n in node.children("ratios")},
            phase_windows=windows,
            valid=tuple(valid),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "order": list(self.order),
            "level": self.level,
            "interval": self.interval,
            "metrics": {name: v.to_json() for name, v in self.metrics.items()},
            "ratios": {name: v.to_json() for name, v in self.ratios.items()},
            "phase_windows": {
                system: [{phase: list(w) for phase, w in trial.items()} for trial in per_system]
                for system, per_system in self.phase_windows.items()
            },
            "valid": list(self.valid),
        }


def _windows(windows: _Reader) -> dict[str, tuple[float, float]]:
    found = {}
    for name, value in windows.data.items():
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise windows.wrong(name, "[start, end] in epoch seconds", value)
        found[name] = (value[0], value[1])
    return found


@dataclass(frozen=True)
class Summary:
    """``summary.json``: per system and phase, the numbers of DESIGN.md; validity; ratios."""

    valid: bool
    invalid_reasons: tuple[str, ...]
    systems: Mapping[str, SystemSummary]
    ratios: Mapping[str, float]
    # with several trials per system (run --repeat N): every metric per trial; else None
    trials: Trials | None = None

    SCHEMA_VERSION: ClassVar[int] = SUMMARY_SCHEMA_VERSION

    @classmethod
    def from_json(cls, data: object, source: str = "summary.json") -> Summary:
        """Validate and read; ``source`` (the file) is named in every error."""
        _check_version(source, data, cls.SCHEMA_VERSION)
        node = _Reader(source, "", data)
        trials = node.maybe_child("trials")
        return cls(
            valid=node.boolean("valid"),
            invalid_reasons=node.texts("invalid_reasons"),
            systems={name: SystemSummary.read(n) for name, n in node.children("systems")},
            ratios=node.numbers("ratios"),
            trials=None if trials is None else Trials.read(trials),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": self.SCHEMA_VERSION,
            "valid": self.valid,
            "invalid_reasons": list(self.invalid_reasons),
            "systems": {name: system.to_json() for name, system in self.systems.items()},
            "ratios": dict(self.ratios),
        }
        if self.trials is not None:
            data["trials"] = self.trials.to_json()
        return data

    @property
    def trial_count(self) -> int:
        """Trials per system: 1 for a run without ``--repeat``."""
        return 1 if self.trials is None else self.trials.count

    def trial_values(self, path: str) -> tuple[float | None, ...]:
        """A metric's value in each trial (one value for a single-trial run)."""
        if self.trials is None:
            return (self.metrics().get(path),)
        found = self.trials.metrics.get(path)
        return (None,) * self.trials.count if found is None else found.values

    def windows(self, system: str, trial: int = 1) -> Mapping[str, tuple[float, float]]:
        """A system's phase windows (epoch seconds) in trial ``trial`` (1-based)."""
        if self.trials is not None and system in self.trials.phase_windows:
            return self.trials.phase_windows[system][trial - 1]
        return self.systems[system].phase_windows

    def metric_items(self) -> Iterator[Metric]:
        """Every number of every system and phase, with its path."""
        for system, summary in self.systems.items():
            for phase, entry in summary.phases.items():
                for rest, value in entry.metrics():
                    yield Metric(system, phase, rest, value)

    def metrics(self) -> dict[str, float | None]:
        """``{"cqrs.storm.checkout.p99_ms": 19.6, "baseline.storm.cpu_pct.db.mean": 90.1, ...}``"""
        return {metric.path: metric.value for metric in self.metric_items()}

    def metric(self, system: str, phase: str, rest: tuple[str, ...]) -> float | None:
        """The value at ``system.phase.rest``, or None when this summary has none there."""
        return self.metrics().get(".".join((system, phase, *rest)))

    def phase(self, system: str, phase: str) -> PhaseSummary | None:
        found = self.systems.get(system)
        return None if found is None else found.phases.get(phase)


# --- run.json -----------------------------------------------------------------------------


RUN_KEYS = (
    "schema_version",
    "status",
    "started_at",
    "profile",
    "systems",
    "dataset",
    "plan",
    "phases",
    "seed",
    "provider",
    "pg_settings",
    "git_sha",
    "versions",
    "machine",
    "caveats",
    "systems_detail",
    "finished_at",
    "trials",
)


@dataclass(frozen=True)
class RunInfo:
    """``run.json``: status, configuration, plan, machine, versions, git SHA, dataset, seed.

    Keys this version does not know are kept in ``extra`` (written back after
    the known ones), so reading and writing loses nothing.
    """

    status: str  # running, complete, incomplete
    started_at: str
    profile: str
    systems: tuple[str, ...]
    dataset: Mapping[str, Any]
    plan: Mapping[str, Any]  # LoadPlan.to_json(); see load_plan()
    phases: Mapping[str, float]
    seed: int
    provider: str
    pg_settings: Mapping[str, str]
    git_sha: str | None
    versions: Mapping[str, str | None]
    machine: Mapping[str, Any]
    caveats: tuple[str, ...]
    systems_detail: Mapping[str, Mapping[str, Any]]
    finished_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # run --repeat N: trials per system, and the order they ran in ("baseline/1", ...)
    repeat: int = 1
    trial_order: tuple[str, ...] = ()

    SCHEMA_VERSION: ClassVar[int] = RUN_SCHEMA_VERSION

    @classmethod
    def from_json(cls, data: object, source: str = "run.json") -> RunInfo:
        """Validate and read; ``source`` (the file) is named in every error."""
        _check_version(source, data, cls.SCHEMA_VERSION)
        node = _Reader(source, "", data)
        pg_settings = node.child("pg_settings")
        versions = node.child("versions")
        for name, value in versions.data.items():
            if value is not None and not isinstance(value, str):
                raise versions.wrong(name, "a string or null", value)
        info = cls(
            status=node.text("status"),
            started_at=node.text("started_at"),
            profile=node.text("profile"),
            systems=node.texts("systems"),
            dataset=node.obj("dataset"),
            plan=node.obj("plan"),
            phases=node.numbers("phases"),
            seed=node.integer("seed"),
            provider=node.text("provider"),
            pg_settings={name: pg_settings.text(name) for name in pg_settings.data},
            git_sha=node.optional_text("git_sha"),
            versions=dict(versions.data),
            machine=node.obj("machine"),
            caveats=node.texts("caveats"),
            systems_detail=node.objects("systems_detail"),
            finished_at=node.optional_text("finished_at") if node.has("finished_at") else None,
            extra={key: value for key, value in node.data.items() if key not in RUN_KEYS},
            **_run_trials(node),
        )
        plan = node.child("plan")
        phase_seconds = plan.child("phase_seconds")
        for phase in PHASES:
            phase_seconds.number(phase)
        plan.number("checkout_rate")
        try:
            info.load_plan()
        except (TypeError, ValueError, KeyError) as exc:
            raise ResultsFileError(f"{source}: plan is not a load plan ({exc})") from None
        return info

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": self.SCHEMA_VERSION,
            "status": self.status,
            "started_at": self.started_at,
            "profile": self.profile,
            "systems": list(self.systems),
            "dataset": dict(self.dataset),
            "plan": dict(self.plan),
            "phases": dict(self.phases),
            "seed": self.seed,
            "provider": self.provider,
            "pg_settings": dict(self.pg_settings),
            "git_sha": self.git_sha,
            "versions": dict(self.versions),
            "machine": dict(self.machine),
            "caveats": list(self.caveats),
            "systems_detail": {name: dict(d) for name, d in self.systems_detail.items()},
        }
        if self.finished_at is not None:
            data["finished_at"] = self.finished_at
        if self.repeat > 1:
            data["trials"] = {"count": self.repeat, "order": list(self.trial_order)}
        data.update(self.extra)
        return data

    def load_plan(self) -> LoadPlan:
        return LoadPlan.from_json(dict(self.plan))

    @property
    def phase_seconds(self) -> dict[str, float]:
        return {name: float(seconds) for name, seconds in self.load_plan().phase_seconds.items()}

    def harness_footprint(self, system: str) -> HarnessFootprint | None:
        """What the harness used while it drove ``system`` (None: a run from before it was kept)."""
        found = self.systems_detail.get(system, {}).get("harness_footprint")
        if found is None:
            return None
        return HarnessFootprint.from_json(found, f"run.json: systems_detail.{system}")


def _run_trials(node: _Reader) -> dict[str, Any]:
    """``run.json``'s ``trials`` (absent: one trial per system, the files in ``<system>/``)."""
    trials = node.maybe_child("trials")
    if trials is None:
        return {}
    count = trials.integer("count")
    if count < 1:
        raise trials.wrong("count", "a positive integer", count)
    return {"repeat": count, "trial_order": trials.texts("order")}


# --- the harness's own footprint (run.json, each system's detail) ---------------------------


@dataclass(frozen=True)
class HarnessFootprint:
    """What the harness itself used while it drove one system (``harness_footprint``).

    CPU seconds over the load window (``seconds``) of the orchestrator process
    (the sampler's thread taken out), the sampler's thread, and the recorders
    in the load generator's processes (formatting and writing the per-request
    rows); the sampler's queries against the databases under test, how many
    and their total time as the sampler saw it.
    """

    seconds: float
    orchestrator_cpu_s: float
    sampler_cpu_s: float
    recorder_cpu_s: float | None  # None: no recorder wrote its footprint
    recorded_rows: int
    sampler_db_queries: int
    sampler_db_query_s: float

    @classmethod
    def measured(
        cls,
        *,
        seconds: float,
        orchestrator_cpu_s: float,
        sampler: Mapping[str, Any],
        recorders: list[Mapping[str, Any]],
    ) -> HarnessFootprint:
        return cls(
            seconds=round(seconds, 3),
            orchestrator_cpu_s=round(max(0.0, orchestrator_cpu_s), 3),
            sampler_cpu_s=float(sampler["cpu_seconds"]),
            recorder_cpu_s=round(sum(float(r["cpu_seconds"]) for r in recorders), 3)
            if recorders
            else None,
            recorded_rows=sum(int(r["rows"]) for r in recorders),
            sampler_db_queries=int(sampler["db_queries"]),
            sampler_db_query_s=float(sampler["db_query_seconds"]),
        )

    @classmethod
    def from_json(cls, data: object, source: str = "harness_footprint") -> HarnessFootprint:
        node = _Reader(source, "", data)
        recorder = node.data.get("recorder_cpu_s")
        if recorder is not None and not isinstance(recorder, int | float):
            raise node.wrong("recorder_cpu_s", "a number or null", recorder)
        return cls(
            seconds=node.number("seconds"),
            orchestrator_cpu_s=node.number("orchestrator_cpu_s"),
            sampler_cpu_s=node.number("sampler_cpu_s"),
            recorder_cpu_s=None if recorder is None else float(recorder),
            recorded_rows=node.integer("recorded_rows"),
            sampler_db_queries=node.integer("sampler_db_queries"),
            sampler_db_query_s=node.number("sampler_db_query_s"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "orchestrator_cpu_s": self.orchestrator_cpu_s,
            "sampler_cpu_s": self.sampler_cpu_s,
            "recorder_cpu_s": self.recorder_cpu_s,
            "recorded_rows": self.recorded_rows,
            "sampler_db_queries": self.sampler_db_queries,
            "sampler_db_query_s": self.sampler_db_query_s,
            "pct_of_one_core": self.pct_of_one_core,
        }

    @property
    def total_cpu_s(self) -> float | None:
        if self.recorder_cpu_s is None:
            return None
        return self.orchestrator_cpu_s + self.sampler_cpu_s + self.recorder_cpu_s

    @property
    def pct_of_one_core(self) -> float | None:
        """The harness's CPU (all three parts) in % of one core over the window."""
        total = self.total_cpu_s
        return None if total is None or not self.seconds else round(100 * total / self.seconds, 2)
