"""The docker provider: one container per database, started with testcontainers.

Used when a Docker engine answers. Two networks:

- ``host`` (``--docker-network host``): the container shares the machine's
  network and the server binds 127.0.0.1 on a free port; nothing is routed to
  container addresses (engines started with ``--bridge=none`` work).
- ``bridge`` (the default, testcontainers' usual way): port 5432 published on
  127.0.0.1 only, on a random port.

Images: the official ``postgres`` image by default, pulled the usual way when
absent; an image named with ``--docker-image`` is never pulled (the error says
how to build one: ``cqrs-bench docker-image build``). Either image takes
``POSTGRES_PASSWORD`` and runs ``postgres -c NAME=VALUE ...``.

Cleanup: testcontainers' own reaper (Ryuk) is a container that would itself be
pulled, so it is switched off (:func:`disable_testcontainers_reaper`, the same
as ``TESTCONTAINERS_RYUK_DISABLED=true``). Instead every container carries
labels naming its owner (the command's PID and start time) and this machine;
:func:`reap_orphan_containers`, run at the start of every ``cqrs-bench``
command, removes those whose owner died. Containers of a stack started by
``up`` are labelled detached and removed by ``down``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.lifecycle import Managed
from harness.core.ports import free_port
from harness.core.processes import ProcessIdentity
from harness.providers.base import Endpoint

DEFAULT_IMAGE = "postgres:15"  # the official image of the major the harness uses
BUILT_IMAGE = "cqrs-bench/postgres:15-debian"  # `cqrs-bench docker-image build`'s default tag
IMAGE_ENV = "CQRS_BENCH_DOCKER_IMAGE"  # the default for --docker-image, when set
LOOPBACK_BINDING = ("127.0.0.1",)  # docker-py: loopback, a random host port
DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "1.41"  # Docker 20.10+; one-shot stats need it
START_TIMEOUT_S = 90.0
SHM_SIZE = "1g"  # parallel query workers share memory through /dev/shm (64 MB by default)

LABEL = "org.cqrs-bench"
OWNER_LABEL = f"{LABEL}.owner"  # JSON process identity, or DETACHED
HOST_LABEL = f"{LABEL}.host"  # the machine the owner runs on
CLUSTER_LABEL = f"{LABEL}.cluster"
IMAGE_LABEL = f"{LABEL}.image"  # on images built by `cqrs-bench docker-image build`
DETACHED = "detached"


class DockerNetwork(StrEnum):
    BRIDGE = "bridge"
    HOST = "host"


def docker_unavailable_reason(timeout: float = 3.0) -> str | None:
    """None when a Docker engine answers, else why not (for skips and doctor)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not Path(DEFAULT_SOCKET).exists():
        return f"no Docker engine answers (no DOCKER_HOST and no {DEFAULT_SOCKET})"
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed"
    try:
        # a pinned API version skips the SDK's probe in the constructor, which
        # leaks its socket when the engine is down
        client = docker.from_env(timeout=int(max(1, timeout)), version=API_VERSION)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the SDK raises many kinds; all mean "no engine"
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine answers ({first_line})"
    return None


def docker_client(timeout: int = 60) -> Any:
    """A docker SDK client; an EnvironmentProblem when no engine answers."""
    reason = docker_unavailable_reason()
    if reason is not None:
        raise EnvironmentProblem(
            f"docker provider: {reason}",
            hint="start a Docker engine (Debian: apt-get install docker.io; dockerd)",
        )
    import docker

    return docker.from_env(timeout=timeout, version=API_VERSION)


def disable_testcontainers_reaper() -> None:
    """No Ryuk: it is a container image that would be pulled; the harness reaps its own."""
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True


def image_present(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def absent_image_error(image: str) -> BadInput:
    return BadInput(
        f"docker image {image} is not present here, and an image named with "
        "--docker-image is never pulled",
        hint=f"build it from Debian's packages: cqrs-bench docker-image build --tag {image}; "
        f"or, with a registry, pull it yourself: docker pull {image}",
    )


def ensure_image(client: Any, image: str) -> None:
    """The image is present: the default official one is pulled when absent, no other."""
    if image_present(client, image):
        return
    if image != DEFAULT_IMAGE:
        raise absent_image_error(image)
    from harness.core.console import human

    human.print(f"[dim]pulling {image} (the default image)...")
    try:
        client.images.pull(image)
    except Exception as exc:  # registry unreachable, auth, ...
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EnvironmentProblem(
            f"could not pull {image} ({first_line})",
            hint="without a registry build one: cqrs-bench docker-image build, "
            f"then pass --docker-image {BUILT_IMAGE}",
        ) from None


def container_run_options(cpus: float | None, memory: str | None) -> dict[str, Any]:
    """Keyword arguments for docker-py's ``containers.create`` that cap resources."""
    options: dict[str, Any] = {}
    if cpus is not None:
        options["nano_cpus"] = int(cpus * 1_000_000_000)
    if memory is not None:
        options["mem_limit"] = memory
    return options


def server_command(settings: Mapping[str, str]) -> str:
    parts = ["postgres"]
    for name, value in settings.items():
        parts += ["-c", f"{name}={value}"]
    return " ".join(parts)


def network_settings(network: DockerNetwork, port: int | None) -> dict[str, str]:
    """Where the server listens: 127.0.0.1 on ``port`` (host), or every container address."""
    if network is DockerNetwork.HOST:
        if port is None:
            raise ValueError("a host-network server needs a port")
        return {"listen_addresses": "127.0.0.1", "port": str(port)}
    return {"listen_addresses": "*"}


def owner_labels(name: str, owner: ProcessIdentity | None) -> dict[str, str]:
    return {
        OWNER_LABEL: DETACHED if owner is None else json.dumps(owner.to_json()),
        HOST_LABEL: socket.gethostname(),
        CLUSTER_LABEL: name,
    }


def parse_stats(stats: Mapping[str, Any]) -> tuple[float, float] | None:
    """CPU seconds a container has used so far and its memory in MiB, from the engine's stats.

    ``cpu_stats.cpu_usage.total_usage`` is the container's cumulative CPU time
    (ns), so its difference between two samples is the CPU used in between,
    like a process tree's total. Memory is usage less page cache (cgroup v1
    ``cache``, v2 ``inactive_file``), as ``docker stats`` shows it. None when
    the container has stopped (the engine then reports no usage).
    """
    try:
        total_ns = stats["cpu_stats"]["cpu_usage"]["total_usage"]
    except (KeyError, TypeError):
        return None
    if not total_ns:
        return None
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("cache", detail.get("inactive_file", 0))
    usage = max(0, int(memory.get("usage", 0)) - int(cache))
    return total_ns / 1e9, usage / 2**20


def container_cpu_seconds(client: Any, container_id: str) -> tuple[float, float] | None:
    """One-shot stats of one container: (CPU seconds so far, MiB), None when it is gone."""
    import docker.errors

    try:
        stats = client.api.stats(container_id, stream=False, one_shot=True)
    except docker.errors.NotFound:
        return None
    return parse_stats(stats)


def container_limits(client: Any, container_id: str) -> dict[str, Any]:
    """What the engine applies to a container (recorded in run.json)."""
    attrs = client.api.inspect_container(container_id)
    host = attrs.get("HostConfig") or {}
    nano = host.get("NanoCpus") or 0
    memory = host.get("Memory") or 0
    return {
        "id": str(attrs.get("Id", container_id))[:12],
        "image": (attrs.get("Config") or {}).get("Image"),
        "network": host.get("NetworkMode"),
        "cpus": nano / 1e9 if nano else None,
        "memory_bytes": memory or None,
    }


@dataclass
class DockerCluster(Managed):
    name: str
    settings: Mapping[str, str]
    image: str = DEFAULT_IMAGE
    cpus: float | None = None
    memory: str | None = None
    network: DockerNetwork = DockerNetwork.BRIDGE
    detached: bool = False
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    _container: Any = None
    _endpoint: Endpoint | None = None

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            raise RuntimeError(f"cluster {self.name} is not started")
        return self._endpoint

    @property
    def pid(self) -> int | None:
        return None  # lives inside the engine; CPU comes from the engine's stats

    @property
    def local_directory(self) -> Path | None:
        return None

    def start_from_copy(self, data_dir: Path, password: str | None) -> bool:
        return False

    def start(self) -> Self:
        client = docker_client()
        try:
            ensure_image(client, self.image)
        finally:
            client.close()
        disable_testcontainers_reaper()
        from testcontainers.core.container import DockerContainer

        port = free_port() if self.network is DockerNetwork.HOST else None
        settings = {**self.settings, **network_settings(self.network, port)}
        container = DockerContainer(
            self.image,
            env={"POSTGRES_PASSWORD": self._password, "POSTGRES_USER": "postgres"},
            command=server_command(settings),
            name=f"cqrs-bench-{self.name}-{secrets.token_hex(3)}",
        )
        owner = None if self.detached else ProcessIdentity.current()
        container.with_kwargs(
            network=self.network.value,  # also stops testcontainers guessing a network
            labels=owner_labels(self.name, owner),
            shm_size=SHM_SIZE,
            **container_run_options(self.cpus, self.memory),
        )
        if self.network is DockerNetwork.BRIDGE:
            container.with_bind_ports(5432, LOOPBACK_BINDING)  # type: ignore[arg-type]
        self._container = container
        container.start()
        if port is None:
            port = int(container.get_exposed_port(5432))
        self._endpoint = Endpoint("127.0.0.1", port, "postgres", self._password)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = ""
        while time.monotonic() < deadline:
            wrapped = self._container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                logs = wrapped.logs(tail=8).decode(errors="replace").strip()
                raise EnvironmentProblem(
                    f"container for {self.name} ({self.image}) exited: {logs.splitlines()[-3:]}"
                )
            try:
                with psycopg.connect(self.endpoint.dsn, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last_error = str(exc).strip().splitlines()[0] if str(exc) else ""
            time.sleep(0.2)
        raise EnvironmentProblem(
            f"container for {self.name} did not accept connections in {START_TIMEOUT_S:.0f} s "
            f"({last_error})"
        )

    def stop(self) -> None:
        if self._container is not None:
            import docker.errors

            with contextlib.suppress(docker.errors.NotFound):
                self._container.stop()
            self._container = None
        self._endpoint = None

    def container_id(self) -> str | None:
        if self._container is None:
            return None
        wrapped = self._container.get_wrapped_container()
        return None if wrapped is None else str(wrapped.id)


@dataclass
class DockerProvider:
    settings: Mapping[str, str]
    image: str = DEFAULT_IMAGE
    cpus: float | None = None
    memory: str | None = None
    network: DockerNetwork = DockerNetwork.BRIDGE
    detached: bool = False
    name: str = "docker"

    def cluster(
        self, name: str, *, standby_of: Endpoint | None = None, cpus: frozenset[int] | None = None
    ) -> DockerCluster:
        if standby_of is not None:
            raise BadInput(
                f"{name}: a streaming standby runs on the local or external provider, not docker"
            )
        del cpus  # containers are limited with --docker-cpus instead
        return DockerCluster(
            name,
            self.settings,
            self.image,
            self.cpus,
            self.memory,
            self.network,
            self.detached,
        )

    def check(self) -> None:
        """Before anything is written: an engine answers and the image is here (or pullable)."""
        client = docker_client()
        try:
            ensure_image(client, self.image)
        finally:
            client.close()

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.name,
            "image": self.image,
            "network": self.network.value,
            "cpus": self.cpus,
            "memory": self.memory,
            "settings": dict(self.settings),
        }


def remove_containers(ids: Iterable[str]) -> list[str]:
    """Remove these containers (a stack's, at ``down`` or when its owner died)."""
    ids = list(ids)
    if not ids or docker_unavailable_reason(timeout=2) is not None:
        return []
    import docker.errors

    removed = []
    client = docker_client()
    try:
        for container_id in ids:
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_container(container_id, force=True, v=True)
                removed.append(container_id[:12])
    finally:
        client.close()
    return removed


def containers_running(ids: Iterable[str]) -> dict[str, bool]:
    """Whether each container is running (all False when no engine answers)."""
    ids = list(ids)
    if not ids:
        return {}
    if docker_unavailable_reason(timeout=2) is not None:
        return dict.fromkeys(ids, False)
    import docker.errors

    running = {}
    client = docker_client()
    try:
        for container_id in ids:
            try:
                state = client.api.inspect_container(container_id).get("State") or {}
                running[container_id] = bool(state.get("Running"))
            except docker.errors.NotFound:
                running[container_id] = False
    finally:
        client.close()
    return running


def orphaned(labels: Mapping[str, str], hostname: str) -> bool:
    """A container whose owning command, on this machine, is gone."""
    owner = labels.get(OWNER_LABEL)
    if owner is None or owner == DETACHED or labels.get(HOST_LABEL) != hostname:
        return False
    try:
        identity = ProcessIdentity.from_json(json.loads(owner))
    except (ValueError, KeyError, TypeError):
        return False
    return not identity.alive()


def reap_orphan_containers() -> list[str]:
    """Remove containers whose owning command died; the names of those removed.

    Cheap when there is no engine (no socket: no call at all).
    """
    if docker_unavailable_reason(timeout=2) is not None:
        return []
    import docker.errors

    hostname = socket.gethostname()
    reaped = []
    client = docker_client()
    try:
        for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
            if orphaned(container.labels, hostname):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
                    reaped.append(container.name)
    finally:
        client.close()
    return reaped
