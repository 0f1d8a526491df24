"""Once a second: CPU and memory of every component, database activity, pools, lag.

CPU is the sum over a component's whole process tree (a PostgreSQL cluster is
a postmaster and its backends), in % of one core over each sample's interval
(written beside it), from deltas of the tree's total CPU time including the
children each process has reaped, so short-lived backends and parallel
workers that exited between two samples are counted too. The load
generator's processes are also written one by one (``generator.csv``).

Databases in containers have no process here: their CPU comes from the
engine's stats (the container's cumulative CPU time, one-shot, through the
docker SDK), sampled on the same clock and written to ``resources.csv`` with
the same columns.

Pools, projection lag and cache answer ages come from the app's Prometheus
exposition (``GET /metrics``), the text Prometheus scrapes, parsed with
prometheus_client's parser; the projector's own exposition, where there is
one, gives ``projector.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
import psutil
import psycopg

from harness.core.background import BackgroundThread
from harness.providers.docker import container_cpu_seconds, docker_client
from shop.metrics import samples

T = TypeVar("T")
GENERATOR = "locust"
CACHE_STALENESS_FILE = "cache_staleness.csv"
PROJECTOR_FILE = "projector.csv"
Samples = dict[str, list[tuple[dict[str, str], float]]]

REPLAY_LAG = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 END
"""

DB_ACTIVITY = """
SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE wait_event_type = 'Lock'),
       coalesce(max(extract(epoch FROM now() - query_start)) FILTER (WHERE state = 'active'), 0),
       (SELECT sum(xact_commit) FROM pg_stat_database)
FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


def children_map() -> dict[int, list[int]]:
    """Every process's children, from one pass over the process table.

    One pass per sample serves every component's tree; asking each tree for
    its children would read the whole process table once per component.
    """
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc.pid)
    return children


def _descendants(root_pid: int, children: dict[int, list[int]]) -> list[int]:
    found, pending = [], list(children.get(root_pid, ()))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def _processes(pids: list[int]) -> list[psutil.Process]:
    """The processes still alive among ``pids`` (one that exited is counted by its parent)."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(pid))
    return found


def tree_cpu_seconds(
    root_pid: int, children: dict[int, list[int]] | None = None
) -> tuple[float, float, dict[int, float]] | None:
    """CPU seconds a process tree has used so far, its RSS in MiB, and each live process's own.

    Exited processes count too: a process's ``children_*`` times hold every
    child it has reaped (a postmaster reaps its backends, parallel workers
    and autovacuum workers), so the total only grows, and its difference
    between two samples is the CPU used in between, short-lived processes
    included. None when the root itself is gone. ``children`` (from
    :func:`children_map`) spares a pass over the process table.
    """
    try:
        root = psutil.Process(root_pid)
        if children is None:
            family = [root, *root.children(recursive=True)]
        else:
            family = [root, *_processes(_descendants(root_pid, children))]
    except psutil.NoSuchProcess:
        return None
    total = 0.0
    rss = 0.0
    own: dict[int, float] = {}
    for proc in family:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                rss += proc.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
        own[proc.pid] = times.user + times.system
        total += own[proc.pid] + times.children_user + times.children_system
    return total, rss, own


@dataclass
class _Tree:
    root: int
    total: float | None = None  # tree CPU seconds at the last sample
    own: dict[int, float] = field(default_factory=dict)

    def sample(
        self, children: dict[int, list[int]] | None = None
    ) -> tuple[float, float, dict[int, float]]:
        """CPU seconds used since the last sample, RSS in MiB, and each process's own share."""
        found = tree_cpu_seconds(self.root, children)
        if found is None:
            return 0.0, 0.0, {}
        total, rss, own = found
        used = 0.0 if self.total is None else max(0.0, total - self.total)
        per_process = {
            pid: max(0.0, seconds - self.own[pid])
            for pid, seconds in own.items()
            if pid in self.own
        }
        self.total, self.own = total, own
        return used, rss, per_process


@dataclass
class _Container:
    """A container's CPU from the engine's stats, sampled like a process tree."""

    client: Any
    container_id: str
    total: float | None = None

    def sample(
        self, children: dict[int, list[int]] | None = None
    ) -> tuple[float, float, dict[int, float]]:
        found = container_cpu_seconds(self.client, self.container_id)
        if found is None:
            return 0.0, 0.0, {}
        total, mib = found
        used = 0.0 if self.total is None else max(0.0, total - self.total)
        self.total = total
        return used, mib, {}


@dataclass
class Sampler:
    directory: Path
    components: dict[str, int]  # name -> root pid
    databases: dict[str, str]  # name -> DSN
    app_url: str | None
    interval_s: float = 1.0
    # hot standbys (name -> DSN): how far behind the primary their replay is, each sample
    standbys: dict[str, str] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)  # name -> container id
    projector_metrics_url: str | None = None  # the projector's Prometheus endpoint
    # its own footprint, filled in as it runs: CPU of its thread, and its database queries
    cpu_seconds: float = 0.0
    db_queries: int = 0
    db_query_seconds: float = 0.0
    _background: BackgroundThread = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._background = BackgroundThread("sampler", self._run)
        self._stop = self._background.stopping

    def __enter__(self) -> Sampler:
        self._background.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.stop()

    def add_component(self, name: str, pid: int) -> None:
        self.components = {**self.components, name: pid}

    def footprint(self) -> dict[str, Any]:
        """What sampling cost: its thread's CPU and its queries' time on the databases."""
        return {
            "cpu_seconds": round(self.cpu_seconds, 3),
            "db_queries": self.db_queries,
            "db_query_seconds": round(self.db_query_seconds, 3),
        }

    def _run(self) -> None:
        started = time.thread_time()
        try:
            self._sample_until_stopped()
        finally:
            self.cpu_seconds = time.thread_time() - started

    def _sample_until_stopped(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        trees: dict[str, _Tree | _Container] = {}
        connections: dict[str, psycopg.Connection[Any]] = {}
        with contextlib.ExitStack() as files:
            resources = self._writer(
                files, "resources.csv", ["ts", "interval_s", "component", "cpu_pct", "rss_mib"]
            )
            # each load-generator process on its own: one saturated process is enough to lag
            generator = self._writer(files, "generator.csv", ["ts", "interval_s", "pid", "cpu_pct"])
            activity = self._writer(
                files,
                "db_activity.csv",
                ["ts", "database", "active", "lock_waiting", "longest_query_s", "commits"],
            )
            app = self._writer(
                files,
                "app_metrics.csv",
                ["ts", "pool_in_use", "pool_waiting", "read_pool_in_use", "read_pool_waiting"],
            )
            lag = self._writer(
                files,
                "lag.csv",
                [
                    "ts",
                    "events_behind",
                    "oldest_unapplied_age_ms",
                    "last_batch_lag_ms",
                    "horizon_blocker_pid",
                    "horizon_blocker_age_s",
                    "stalled_reason",
                ],
            )
            replica = self._writer(files, "replica_lag.csv", ["ts", "standby", "lag_ms"])
            # the cache system: the age of each report's cached answer (its staleness)
            cache = self._writer(files, CACHE_STALENESS_FILE, ["ts", "report", "age_ms"])
            projector = self._writer(
                files,
                PROJECTOR_FILE,
                ["ts", "events_applied", "batches_applied", "last_batch_lag_ms", "leader"],
            )
            client = httpx.Client(timeout=2)
            files.callback(client.close)
            files.callback(_close_all, connections)
            if self.containers:
                engine = docker_client(timeout=10)
                files.callback(engine.close)
                for name, container_id in self.containers.items():
                    trees[name] = _Container(engine, container_id)
            for name, pid in self.components.items():
                trees[name] = _Tree(pid)
            for tree in trees.values():
                tree.sample()  # the baseline for the first interval
            last = time.time()
            while not self._stop.wait(self.interval_s):
                now = time.time()
                wall = now - last
                fresh = set()
                children = children_map()
                for name, pid in self.components.items():
                    if name not in trees:  # added since the last sample: measured from now on
                        trees[name] = _Tree(pid)
                        trees[name].sample(children)
                        fresh.add(name)
                for name, tree in trees.items():
                    if name in fresh:
                        continue
                    used, rss, per_process = tree.sample(children)
                    resources.writerow(
                        [
                            f"{now:.3f}",
                            f"{wall:.3f}",
                            name,
                            f"{100 * used / wall:.1f}",
                            f"{rss:.1f}",
                        ]
                    )
                    if name == GENERATOR:
                        for process, seconds in per_process.items():
                            generator.writerow(
                                [
                                    f"{now:.3f}",
                                    f"{wall:.3f}",
                                    process,
                                    f"{100 * seconds / wall:.1f}",
                                ]
                            )
                last = now
                for name, dsn in self.databases.items():
                    row = self._timed(self._db_activity, connections, name, dsn)
                    if row is not None:
                        activity.writerow([f"{now:.3f}", name, *row])
                if self.app_url is not None:
                    found = _scrape(client, f"{self.app_url}/metrics")
                    if found is not None:
                        _app_metrics(found, now, app, lag, cache)
                if self.projector_metrics_url is not None:
                    found = _scrape(client, self.projector_metrics_url)
                    if found is not None:
                        _projector_metrics(found, now, projector)
                for name, dsn in self.standbys.items():
                    behind = self._timed(self._replay_lag_ms, connections, f"standby:{name}", dsn)
                    if behind is not None:
                        replica.writerow([f"{now:.3f}", name, f"{behind:.1f}"])

    def _timed(self, query: Callable[..., T], *args: Any) -> T:
        began = time.perf_counter()
        try:
            return query(*args)
        finally:
            self.db_queries += 1
            self.db_query_seconds += time.perf_counter() - began

    def _writer(self, files: contextlib.ExitStack, name: str, header: list[str]) -> Any:
        handle: TextIO = files.enter_context(open(self.directory / name, "w", newline=""))  # noqa: SIM115
        writer = csv.writer(handle)
        writer.writerow(header)
        files.callback(handle.flush)
        return _Flushing(writer, handle)

    def _db_activity(
        self, connections: dict[str, psycopg.Connection[Any]], name: str, dsn: str
    ) -> list[Any] | None:
        try:
            conn = connections.get(name)
            if conn is None or conn.closed:
                conn = connections[name] = psycopg.connect(dsn, autocommit=True, connect_timeout=2)
            row = conn.execute(DB_ACTIVITY).fetchone()
        except psycopg.Error:
            connections.pop(name, None)
            return None
        if row is None:
            return None
        return [row[0], row[1], f"{float(row[2]):.3f}", row[3]]

    def _replay_lag_ms(
        self, connections: dict[str, psycopg.Connection[Any]], key: str, dsn: str
    ) -> float | None:
        """How stale the standby's data is: 0 when it has replayed all it received,
        else the age of the last transaction it replayed."""
        try:
            conn = connections.get(key)
            if conn is None or conn.closed:
                conn = connections[key] = psycopg.connect(dsn, autocommit=True, connect_timeout=2)
            row = conn.execute(REPLAY_LAG).fetchone()
        except psycopg.Error:
            connections.pop(key, None)
            return None
        return None if row is None or row[0] is None else float(row[0])


def _scrape(client: httpx.Client, url: str) -> Samples | None:
    try:
        response = client.get(url)
        response.raise_for_status()
        return samples(response.text)
    except (httpx.HTTPError, ValueError):
        return None


def _value(found: Samples, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels`` (None: absent)."""
    for sample_labels, value in found.get(name, []):
        if labels.items() <= sample_labels.items():
            return value
    return None


def _cell(value: float | None, scale: float = 1.0) -> str:
    if value is None:
        return ""
    scaled = value * scale
    return f"{scaled:.0f}" if scaled == int(scaled) else f"{scaled:.1f}"


def _app_metrics(found: Samples, now: float, app: Any, lag: Any, cache: Any) -> None:
    app.writerow(
        [
            f"{now:.3f}",
            _cell(_value(found, "shop_pool_in_use", pool="main")),
            _cell(_value(found, "shop_pool_waiting", pool="main")),
            _cell(_value(found, "shop_pool_in_use", pool="read")),
            _cell(_value(found, "shop_pool_waiting", pool="read")),
        ]
    )
    behind = _value(found, "shop_outbox_backlog_events")
    if behind is not None:
        stalled = [
            labels["reason"] for labels, value in found.get("shop_projection_stalled", []) if value
        ]
        lag.writerow(
            [
                f"{now:.3f}",
                _cell(behind),
                _cell(_value(found, "shop_projection_lag_seconds"), 1000),
                _cell(_value(found, "shop_projection_last_batch_lag_seconds"), 1000) or 0,
                _cell(_value(found, "shop_projection_horizon_blocker_pid")),
                _cell(_value(found, "shop_projection_horizon_blocker_age_seconds")),
                stalled[0] if stalled else "",
            ]
        )
    for labels, age_s in found.get("shop_cache_answer_age_seconds", []):
        cache.writerow([f"{now:.3f}", labels["report"], f"{1000 * age_s:.1f}"])


def _projector_metrics(found: Samples, now: float, projector: Any) -> None:
    projector.writerow(
        [
            f"{now:.3f}",
            _cell(_value(found, "projector_events_applied_total")),
            _cell(_value(found, "projector_batches_applied_total")),
            _cell(_value(found, "projector_last_batch_lag_seconds"), 1000),
            _cell(_value(found, "projector_leader")),
        ]
    )


def _close_all(connections: dict[str, psycopg.Connection[Any]]) -> None:
    for conn in connections.values():
        conn.close()


class _Flushing:
    """A csv writer that flushes each row, so a killed run still leaves its samples."""

    def __init__(self, writer: Any, handle: TextIO) -> None:
        self.writer = writer
        self.handle = handle

    def writerow(self, row: list[Any]) -> None:
        self.writer.writerow(row)
        self.handle.flush()
