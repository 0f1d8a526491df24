"""The docker provider: one testcontainers ``PostgresContainer`` per database.

Used when a Docker engine answers. Ports are published on 127.0.0.1 only, and
CPU and memory can be capped per container so each database gets a fixed share
of the machine.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, cast

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.lifecycle import Managed
from harness.providers.base import Endpoint

DEFAULT_IMAGE = "postgres:15"
LOOPBACK_BINDING = ("127.0.0.1",)
DEFAULT_SOCKET = "/var/run/docker.sock"


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
        client = docker.from_env(timeout=int(max(1, timeout)), version="1.41")
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the SDK raises many kinds; all mean "no engine"
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine answers ({first_line})"
    return None


def container_run_options(cpus: float | None, memory: str | None) -> dict[str, Any]:
    """Keyword arguments for docker-py's ``containers.run`` that cap resources."""
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


@dataclass
class DockerCluster(Managed):
    name: str
    settings: Mapping[str, str]
    image: str = DEFAULT_IMAGE
    cpus: float | None = None
    memory: str | None = None
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
        reason = docker_unavailable_reason()
        if reason is not None:
            raise EnvironmentProblem(f"docker provider: {reason}")
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(
            self.image, username="postgres", password=self._password, dbname="postgres", driver=None
        )
        # docker-py binds ("127.0.0.1",) to loopback on a random host port
        cast(Any, container).ports[5432] = LOOPBACK_BINDING
        container.with_command(server_command(self.settings))
        container.with_kwargs(**container_run_options(self.cpus, self.memory))
        self._container = container
        container.start()
        self._endpoint = Endpoint(
            container.get_container_host_ip(),
            int(container.get_exposed_port(5432)),
            "postgres",
            self._password,
        )
        return self

    def stop(self) -> None:
        if self._container is not None:
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
    name: str = "docker"

    def cluster(
        self, name: str, *, standby_of: Endpoint | None = None, cpus: frozenset[int] | None = None
    ) -> DockerCluster:
        if standby_of is not None:
            raise BadInput(
                f"{name}: a streaming standby runs on the local or external provider, not docker"
            )
        del cpus  # containers are limited with --docker-cpus instead
        return DockerCluster(name, self.settings, self.image, self.cpus, self.memory)

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.name,
            "image": self.image,
            "cpus": self.cpus,
            "memory": self.memory,
            "settings": dict(self.settings),
        }
