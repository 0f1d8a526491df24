"""A system under test, stood up whole: its databases (from the cached dataset) and its app.

A stack is owned by the command that started it and stops with it, or, when
started by ``up``, is detached: recorded in a state file, listed by
``status``, and stopped by ``down``. Either way its state file names every
process and cluster it started, so nothing outlives its owner unnoticed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx
import psycopg

from harness.core.console import human
from harness.core.errors import BadInput, EnvironmentProblem, HarnessError
from harness.core.jsonfile import write_json
from harness.core.lifecycle import Managed, interrupted
from harness.core.paths import stacks_dir
from harness.core.polling import wait_until
from harness.core.processes import (
    ExpectedProcess,
    ProcessIdentity,
    stop_tree,
    tagged_processes,
    within,
)
from harness.providers import (
    ProviderConfig,
    check_provider,
    make_provider,
    resolve_kind,
)
from harness.providers.base import CacheServer, Cluster, Endpoint
from harness.providers.cache import make_cache_server
from harness.providers.docker import DockerCluster, containers_running, remove_containers
from harness.providers.external import ExternalCluster, claim_schema
from harness.providers.local import (
    recorded_cluster_alive,
    release_to_stack,
    remove_cluster_directory,
)
from harness.seed.command import prepare_dataset
from harness.seed.datasets import Dataset, DatasetKind, load_into, reading_dataset
from harness.seed.spec import DatasetSpec
from harness.stack.placement import SHARED, SPLIT, CpuLayout, plan_layout
from harness.stack.roles import (
    READ_ONLY,
    READ_WRITE,
    Grant,
    Role,
    can_create_roles,
    create_role,
    grant,
)
from harness.stack.services import PythonService
from harness.stack.supervisor import SupervisorRecord
from shop.checkout import SHOP_CHECKOUT_DDL, install_checkout

STATE_FILE = "stack.json"
# every service of a stack carries its directory in this variable: a command killed between
# spawning a service and recording it leaves it findable by the reaper
STACK_DIR_ENV = "CQRS_BENCH_STACK_DIR"
PROJECTOR_RECORD = "projector.supervisor.json"  # the projector's supervisor: pid, restarts


class SystemKind(StrEnum):
    BASELINE = "baseline"
    REPLICA = "replica"
    CQRS_SAMEDB = "cqrs-samedb"
    CQRS = "cqrs"
    CACHE = "cache"


# The read models of cqrs-samedb live in the write cluster, in a schema of their own.
READ_MODEL_SCHEMA = "read_models"
APP_DSN_ENV = "CQRS_BENCH_DB_DSN"  # baseline_app: checkout and the just-placed order
WRITE_DSN_ENV = "CQRS_BENCH_WRITE_DSN"  # cqrs_app: commands
READ_DSN_ENV = "CQRS_BENCH_READ_DSN"  # both apps: the DSN that serves reads
# baseline_app's report cache (the cache system): where Redis is, how long an answer
# lives, and what happens at expiry
CACHE_URL_ENV = "CQRS_BENCH_CACHE_URL"
CACHE_TTL_ENV = "CQRS_BENCH_CACHE_TTL_S"
CACHE_REFRESH_ENV = "CQRS_BENCH_CACHE_REFRESH"
EXPIRY = "expiry"  # plain expiry: every request that misses runs the report (a stampede)
SINGLE_FLIGHT = "single-flight"  # one refresh at a time; the others get the old answer
REFRESH_MODES = (EXPIRY, SINGLE_FLIGHT)


@dataclass(frozen=True)
class CacheSettings:
    """The report cache in Redis: an answer's time to live, and the refresh at expiry."""

    ttl_s: float = 10.0
    refresh: str = EXPIRY

    def validated(self) -> CacheSettings:
        if self.refresh not in REFRESH_MODES:
            raise BadInput(
                f"unknown cache refresh {self.refresh!r} (known: {', '.join(REFRESH_MODES)})"
            )
        if not self.ttl_s > 0:
            raise BadInput(f"the cache TTL must be above 0 s, got {self.ttl_s:g}")
        return self

    def env(self) -> dict[str, str]:
        return {CACHE_TTL_ENV: f"{self.ttl_s:g}", CACHE_REFRESH_ENV: self.refresh}

    def to_json(self) -> dict[str, object]:
        return {"ttl_s": self.ttl_s, "refresh": self.refresh}


@dataclass(frozen=True)
class Topology:
    """A system under test: one of the two apps, and the clusters it runs on.

    ``clusters`` maps each cluster to its side ("write", "read" or "both", for
    CPU placement); the first holds the seeded shop. ``dsns`` maps each of the
    app's DSN settings to a cluster and, where the read models have a schema of
    their own, that schema. ``standbys`` maps a standby cluster to its primary.
    ``cache``: the app's reports are cached in a Redis server the stack starts
    (or the user's, ``--redis-url``), with these settings (passed as env vars).
    """

    app: str
    clusters: Mapping[str, str]
    dsns: Mapping[str, tuple[str, str | None]]
    standbys: Mapping[str, str] = field(default_factory=dict)
    projector: bool = False
    cache: CacheSettings | None = None

    @property
    def redis(self) -> bool:
        """Whether the system has a Redis server (the report cache)."""
        return self.cache is not None

    @property
    def seeded(self) -> str:
        return str(next(iter(self.clusters)))

    @property
    def read_models(self) -> tuple[str, str | None] | None:
        """Where the CQRS read models live (cluster, schema), for systems that have them."""
        return self.dsns[READ_DSN_ENV] if self.projector else None


TOPOLOGIES: dict[SystemKind, Topology] = {
    SystemKind.BASELINE: Topology(
        app="baseline_app", clusters={"db": "both"}, dsns={APP_DSN_ENV: ("db", None)}
    ),
    SystemKind.REPLICA: Topology(
        app="baseline_app",
        clusters={"primary": "write", "standby": "read"},
        dsns={APP_DSN_ENV: ("primary", None), READ_DSN_ENV: ("standby", None)},
        standbys={"standby": "primary"},
    ),
    SystemKind.CQRS_SAMEDB: Topology(
        app="cqrs_app",
        clusters={"write": "both"},
        dsns={WRITE_DSN_ENV: ("write", None), READ_DSN_ENV: ("write", READ_MODEL_SCHEMA)},
        projector=True,
    ),
    SystemKind.CQRS: Topology(
        app="cqrs_app",
        clusters={"write": "write", "read": "read"},
        dsns={WRITE_DSN_ENV: ("write", None), READ_DSN_ENV: ("read", None)},
        projector=True,
    ),
    SystemKind.CACHE: Topology(
        app="baseline_app",
        clusters={"db": "both"},
        dsns={APP_DSN_ENV: ("db", None)},
        cache=CacheSettings(),
    ),
}
# What a stack's recorded processes may run (``python -m`` ...) for down to signal them.
# what a stack's recorded processes run: its app, or the projector's supervisor (which
# runs the projector), or a projector a test started unsupervised
SERVICE_MODULES = frozenset(
    {t.app for t in TOPOLOGIES.values()} | {"cqrs_app.projector", "harness.stack.supervisor"}
)
# --systems all: the lineup, from the incident to the fix
LINEUP = tuple(TOPOLOGIES)
# Which databases each system has; the first holds the seeded shop.
DATABASES = {kind: tuple(topology.clusters) for kind, topology in TOPOLOGIES.items()}


def with_schema(dsn: str, schema: str | None) -> str:
    """``dsn`` whose sessions see only ``schema`` (the read models' own), or ``dsn`` itself."""
    if schema is None:
        return dsn
    return f"{dsn}{'&' if '?' in dsn else '?'}options={quote(f'-c search_path={schema}')}"


@dataclass(frozen=True)
class StackConfig:
    system: SystemKind
    provider: ProviderConfig
    spec: DatasetSpec
    app_port: int | None = None
    pool_max: int = 20
    progress: bool = True
    projector_args: tuple[str, ...] = ()
    cpu_layout: str = SPLIT
    cache: CacheSettings | None = None  # overrides the topology's cache settings

    @property
    def topology(self) -> Topology:
        topology = TOPOLOGIES[self.system]
        if topology.cache is None or self.cache is None:
            return topology
        return replace(topology, cache=self.cache.validated())


@dataclass
class StackState:
    system: str
    url: str
    databases: dict[str, str]
    pids: dict[str, int | None]
    processes: dict[str, ProcessIdentity]
    cluster_dirs: dict[str, str]
    owner: ProcessIdentity | None
    dataset: str
    directory: Path
    containers: dict[str, str] = field(default_factory=dict)  # docker: name -> container id
    # Prometheus endpoints by process (the app's, and the projector's where there is one)
    metrics: dict[str, str] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The JSON of DESIGN.md's ``up``."""
        return {
            "system": self.system,
            "url": self.url,
            "databases": self.databases,
            "pids": self.pids,
            "metrics": self.metrics,
            "dataset": self.dataset,
            "stack_dir": str(self.directory),
        }

    def write(self) -> None:
        payload = {
            **self.public(),
            "processes": {k: v.to_json() for k, v in self.processes.items()},
            "cluster_dirs": self.cluster_dirs,
            "containers": self.containers,
            "owner": None if self.owner is None else self.owner.to_json(),
        }
        write_json(self.directory / STATE_FILE, payload, private=True)

    @classmethod
    def read(cls, directory: Path) -> StackState | None:
        try:
            data = json.loads((directory / STATE_FILE).read_text())
            return cls(
                system=str(data["system"]),
                url=str(data["url"]),
                databases=dict(data["databases"]),
                pids=dict(data["pids"]),
                processes={k: ProcessIdentity.from_json(v) for k, v in data["processes"].items()},
                cluster_dirs=dict(data["cluster_dirs"]),
                owner=None if data["owner"] is None else ProcessIdentity.from_json(data["owner"]),
                dataset=str(data["dataset"]),
                directory=directory,
                containers=dict(data.get("containers") or {}),
                metrics=dict(data.get("metrics") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class Stack(Managed):
    def __init__(self, config: StackConfig, *, detached: bool = False) -> None:
        self.config = config
        self.detached = detached
        self._exit = contextlib.ExitStack()
        self.directory: Path | None = None
        self.clusters: dict[str, Cluster] = {}
        self.redis: CacheServer | None = None
        self.app: PythonService | None = None
        self.services: dict[str, PythonService] = {}
        self.dataset: Dataset | None = None
        self.layout = CpuLayout(SHARED, {})
        self.state: StackState | None = None
        self.roles: dict[str, Role] = {}  # service ("app", "projector") -> its own role
        self._started = False
        self._spawned: dict[str, ProcessIdentity] = {}

    @property
    def url(self) -> str:
        assert self.app is not None
        return self.app.url

    def start(self) -> Self:
        config = self.config
        if self.detached:
            refuse_second_stack(config.provider.home, config.system)
        check_provider(config.provider)  # before anything is written
        root = stacks_dir(config.provider.home)
        root.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix=f"{config.system.value}-", dir=root))
        self._write_state(url="", pids={}, processes={})
        prepared = prepare_dataset(
            config.provider.home,
            config.provider,
            config.spec,
            rebuild=False,
            progress=config.progress,
        ).dataset
        provider = make_provider(config.provider, detached=self.detached)
        topology = config.topology
        self.layout = plan_layout(config.cpu_layout, topology.clusters)
        # held until the seeded database has its copy: no rebuild or rm removes it meanwhile
        with reading_dataset(prepared) as self.dataset:
            for name in topology.clusters:
                primary = topology.standbys.get(name)
                cluster = provider.cluster(
                    name,
                    standby_of=None if primary is None else self.clusters[primary].endpoint,
                    cpus=self.layout.of(name),
                )
                seeded = name == topology.seeded
                copied = (
                    seeded
                    and self.dataset.kind is DatasetKind.DATADIR
                    and cluster.start_from_copy(self.dataset.data_dir, self.dataset.password)
                )
                self.clusters[name] = self._exit.enter_context(cluster)
                self._write_state(url="", pids={}, processes={})  # recorded before the long load
                if seeded and not copied:
                    self._load_if_empty(cluster)
        if topology.redis:
            self.redis = self._exit.enter_context(
                make_cache_server(
                    resolve_kind(config.provider).value,
                    home=config.provider.home,
                    url=config.provider.redis_url,
                    detached=self.detached,
                    cpus=self.layout.of("redis"),
                )
            )
            self._write_state(url="", pids={}, processes={})
        services: dict[str, PythonService] = {}
        if topology.projector:
            from cqrs_app.readmodels import rebuild

            write, read = self.dsn(WRITE_DSN_ENV), self.dsn(READ_DSN_ENV)
            self._create_read_schema()
            rebuild(write, read)  # the command side's checkout function too
        else:
            install_checkout(self.dsn(APP_DSN_ENV), SHOP_CHECKOUT_DDL)
        self._create_roles()
        if topology.projector:
            services["projector"] = self._exit.enter_context(self._projector_service())
        self.app = self._exit.enter_context(self._app_service())
        services["app"] = self.app
        self.services = services
        if self.detached:
            # its clusters first: killed in between, the stack's record still covers them
            for directory in self.state.cluster_dirs.values() if self.state else ():
                release_to_stack(Path(directory))
        self._started = True  # from here on a detached stack belongs to no command
        self._write_state(
            url=self.app.url,
            pids={
                **{name: service.pid for name, service in services.items()},
                **{n: c.pid for n, c in self.clusters.items()},
                **({} if self.redis is None else {"redis": self.redis.pid}),
            },
            processes={n: s.identity for n, s in services.items() if s.identity is not None},
        )
        return self

    @property
    def metrics_urls(self) -> dict[str, str]:
        """Where Prometheus (and the sampler) reads each process's metrics."""
        return {name: f"{service.url}/metrics" for name, service in self.services.items()}

    def stop(self) -> None:
        self._exit.close()
        self.clusters = {}
        self.redis = None
        self.app = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def info(self) -> dict[str, Any]:
        assert self.state is not None
        return self.state.public()

    def dsn(self, setting: str) -> str:
        """The DSN the app gets for one of its settings (schema included, where there is one)."""
        cluster, schema = self.config.topology.dsns[setting]
        return with_schema(self.clusters[cluster].endpoint.dsn, schema)

    @property
    def databases(self) -> dict[str, str]:
        """Each database the system reads or writes, by its role (``up``'s JSON)."""
        found = {name: c.endpoint.dsn for name, c in self.clusters.items()}
        read_models = self.config.topology.read_models
        if read_models is not None and read_models[1] is not None and read_models[0] in found:
            found["read"] = self.dsn(READ_DSN_ENV)
        return found

    def _create_read_schema(self) -> None:
        read_models = self.config.topology.read_models
        if read_models is None or read_models[1] is None:
            return
        cluster, schema = read_models
        assert schema is not None
        claim_schema(self.clusters[cluster].endpoint.dsn, schema)  # ours, or refused

    def service_dsn(self, service: str, setting: str) -> str:
        """The DSN ``service`` ("app", "projector") gets for a setting: as its own role."""
        role = self.roles.get(service)
        if role is None:  # an external database whose user may not create roles
            return self.dsn(setting)
        cluster, schema = self.config.topology.dsns[setting]
        return with_schema(role.endpoint(self.clusters[cluster].endpoint).dsn, schema)

    def _create_roles(self) -> None:
        """A role for the app and one for the projector, each with only what it needs.

        Grants are made on primaries only: a standby gets the roles by replication.
        """
        topology = self.config.topology
        seeded = self.clusters[topology.seeded].endpoint
        if any(isinstance(c, ExternalCluster) for c in self.clusters.values()):
            return  # the user's server: its roles are the user's; the apps connect as given
        if not can_create_roles(seeded):
            return
        wanted: dict[str, dict[str, list[Grant]]] = {}
        for setting, (cluster, own_schema) in topology.dsns.items():
            schema = own_schema or self.clusters[cluster].endpoint.schema
            access = READ_ONLY if setting == READ_DSN_ENV else READ_WRITE
            wanted.setdefault("app", {}).setdefault(cluster, []).append(
                Grant(schema or "public", access)
            )
            if topology.projector:
                projector = (
                    Grant(schema or "public", ("SELECT", "DELETE"), ("outbox",))
                    if setting == WRITE_DSN_ENV
                    else Grant(schema or "public", READ_WRITE)
                )
                wanted.setdefault("projector", {}).setdefault(cluster, []).append(projector)
        for service, by_cluster in wanted.items():
            role = Role.new(f"cqrs_bench_{topology.app if service == 'app' else service}")
            for cluster, grants in by_cluster.items():
                primary = topology.standbys.get(cluster)
                if primary is not None:
                    grants = [] if primary in by_cluster else grants
                    cluster = primary
                admin = self.clusters[cluster].endpoint
                create_role(admin, role)
                grant(admin, role, grants)
            self.roles[service] = role
        for standby, primary in topology.standbys.items():
            _wait_replayed(self.clusters[primary].endpoint, self.clusters[standby].endpoint)

    def _service_env(self, service: str) -> dict[str, str]:
        topology = self.config.topology
        cache: dict[str, str] = {}
        if topology.cache is not None and self.redis is not None:
            cache = {CACHE_URL_ENV: self.redis.url, **topology.cache.env()}
        assert self.directory is not None
        return {
            STACK_DIR_ENV: str(self.directory),
            "CQRS_BENCH_POOL_MAX": str(self.config.pool_max),
            "CQRS_BENCH_SYSTEM": self.config.system.value,
            **{setting: self.service_dsn(service, setting) for setting in topology.dsns},
            **cache,
        }

    def _record_spawned(self, name: str, identity: ProcessIdentity) -> None:
        self._spawned[name] = identity
        self._write_state(url="", pids={}, processes=dict(self._spawned))

    def _app_service(self) -> PythonService:
        assert self.directory is not None
        return PythonService(
            name=f"{self.config.system.value}_app",
            module=self.config.topology.app,
            log_file=self.directory / "logs" / "app.log",
            env=self._service_env("app"),
            port=self.config.app_port,
            health_path="/health",
            detached=self.detached,
            cpus=self.layout.of("app"),
            on_spawn=functools.partial(self._record_spawned, "app"),
        )

    def projector_service(self, *args: str, supervised: bool = False) -> PythonService:
        """A projector process for this stack (tests start extra ones, or naive ones);
        ``supervised``: restarted with back-off whenever it dies (the stack's own)."""
        assert self.directory is not None
        return PythonService(
            name="projector",
            module="cqrs_app.projector",
            log_file=self.directory / "logs" / "projector.log",
            env=self._service_env("projector"),
            args=args,
            # its Prometheus metrics, on a free loopback port; answering them means it is up
            health_path="/metrics",
            detached=self.detached,
            cpus=self.layout.of("projector"),
            supervisor_record=self.directory / PROJECTOR_RECORD if supervised else None,
        )

    def _projector_service(self) -> PythonService:
        service = self.projector_service(*self.config.projector_args, supervised=True)
        service.on_spawn = functools.partial(self._record_spawned, "projector")
        return service

    def _load_if_empty(self, cluster: Cluster) -> None:
        assert self.dataset is not None
        with psycopg.connect(cluster.endpoint.dsn) as conn:
            row = conn.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone()
        if row is not None and row[0]:
            return  # the user's database already holds a shop; use it as it is
        if self.dataset.kind is not DatasetKind.COPY_FILES:
            raise EnvironmentProblem(f"dataset {self.dataset.id} cannot be loaded over the network")
        load_into(self.dataset, cluster.endpoint)

    def _write_state(
        self,
        url: str,
        pids: dict[str, int | None],
        processes: dict[str, ProcessIdentity],
    ) -> None:
        assert self.directory is not None
        cluster_dirs = {
            name: str(c.local_directory)
            for name, c in self.clusters.items()
            if c.local_directory is not None
        }
        containers = {
            name: container_id
            for name, c in self.clusters.items()
            if isinstance(c, DockerCluster) and (container_id := c.container_id()) is not None
        }
        if self.redis is not None and self.redis.local_directory is not None:
            # the same ownership record as a cluster's: down and the reaper stop it alike
            cluster_dirs["redis"] = str(self.redis.local_directory)
        self.state = StackState(
            system=self.config.system.value,
            url=url,
            databases=self.databases,
            pids=pids,
            processes=processes,
            cluster_dirs=cluster_dirs,
            owner=None if self.detached and self._started else ProcessIdentity.current(),
            dataset=self.dataset.id if self.dataset else "",
            directory=self.directory,
            containers=containers,
            metrics=self.metrics_urls,
        )
        self.state.write()


def _wait_replayed(primary: Endpoint, standby: Endpoint) -> None:
    """Wait until the standby has replayed what the primary has written so far."""
    with psycopg.connect(primary.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    with psycopg.connect(standby.dsn, autocommit=True) as conn:
        wait_until(
            lambda: (
                conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
                == (True,)
            ),
            timeout=60,
            what="the standby to replay the roles",
            interval=0.05,
        )


def running_stacks(home: Path) -> list[StackState]:
    root = stacks_dir(home)
    if not root.is_dir():
        return []
    found = []
    for directory in sorted(root.iterdir()):
        state = StackState.read(directory)
        if state is not None:
            found.append(state)
    return found


def refuse_second_stack(home: Path, system: SystemKind) -> None:
    for state in running_stacks(home):
        if state.owner is None and state.system == system.value:
            raise EnvironmentProblem(
                f"a {system.value} stack is already up at {state.url or state.directory}",
                hint="stop it with: cqrs-bench down",
            )


def tear_down(state: StackState, home: Path) -> None:
    """Stop every process and cluster a stack recorded, and remove its directory.

    A record is checked before it is acted on: a PID is signalled only when it
    is the service or server the record says (program, user, data directory),
    and only directories inside the work directory are removed. What is
    refused is said on stderr and left alone.
    """
    refused: list[str] = []
    for name, identity in state.processes.items():
        expected = ExpectedProcess(
            what=f"the stack's {name}", uid=os.geteuid(), python_modules=SERVICE_MODULES
        )
        try:
            stop_tree(identity, first_signal=signal.SIGTERM, grace=15, expect=expected)
        except HarnessError as exc:
            refused.append(str(exc))
    service = ExpectedProcess(
        what="a service of the stack", uid=os.geteuid(), python_modules=SERVICE_MODULES
    )
    for stray in tagged_processes(STACK_DIR_ENV, str(state.directory), service):
        try:
            stop_tree(stray, first_signal=signal.SIGTERM, grace=15, expect=service)
        except HarnessError as exc:
            refused.append(str(exc))
    for cluster_dir in state.cluster_dirs.values():
        try:
            remove_cluster_directory(home, Path(cluster_dir))
        except HarnessError as exc:
            refused.append(str(exc))
    remove_containers(state.containers.values())
    if within(state.directory, stacks_dir(home)):
        shutil.rmtree(state.directory, ignore_errors=True)
    else:
        refused.append(f"refused to remove {state.directory}: not a stack directory of {home}")
    for line in refused:
        human.print(f"cqrs-bench: {line}", markup=False, soft_wrap=True)


def reap_dead_stacks(home: Path) -> list[str]:
    """Tear down stacks whose owning command died (detached ones have no owner)."""
    reaped: list[str] = []
    root = stacks_dir(home)
    if not root.is_dir():
        return reaped
    for directory in sorted(root.iterdir()):
        state = StackState.read(directory)
        if state is None:
            continue
        if state.owner is not None and not state.owner.alive():
            tear_down(state, home)
            reaped.append(directory.name)
    return reaped


def stack_health(state: StackState) -> dict[str, Any]:
    alive = {name: identity.alive() for name, identity in state.processes.items()}
    for name, cluster_dir in state.cluster_dirs.items():
        alive[name] = recorded_cluster_alive(Path(cluster_dir))
    running = containers_running(state.containers.values())
    for name, container_id in state.containers.items():
        alive[name] = running.get(container_id, False)
    health = {**state.public(), "alive": alive, "healthy": bool(alive) and all(alive.values())}
    record = SupervisorRecord.read(state.directory / PROJECTOR_RECORD)
    if record is not None:
        # the projector's supervisor restarts it when it dies; how often it had to
        health["projector"] = record.to_json()
    projection = _projection(health.get("url"))
    if projection is not None:
        # a projector that applies nothing says why; an open write transaction is named
        health["projection"] = {
            key: projection.get(key)
            for key in ("events_behind", "stalled_reason", "horizon_blockers", "dead_letters")
        }
    return health


def _projection(url: object) -> dict[str, Any] | None:
    if not isinstance(url, str):
        return None
    try:
        metrics = httpx.get(f"{url}/metrics.json", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return None
    projection = metrics.get("projection") if isinstance(metrics, dict) else None
    return projection if isinstance(projection, dict) else None


def up(config: StackConfig) -> dict[str, Any]:
    """Start a detached stack and return its description (DESIGN.md's ``up`` JSON)."""
    stack = Stack(config, detached=True)
    try:
        stack.start()
        if interrupted():  # a signal whose KeyboardInterrupt was swallowed on the way
            raise KeyboardInterrupt
    except BaseException:
        stack.stop()
        raise
    return stack.info()


def down(home: Path, system: SystemKind | None) -> list[str]:
    stopped = []
    for state in running_stacks(home):
        if state.owner is not None:
            continue  # belongs to a running command (run, a test); not ours to stop
        if system is not None and state.system != system.value:
            continue
        tear_down(state, home)
        stopped.append(state.system)
    return stopped
