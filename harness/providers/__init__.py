"""Where databases come from: ``local``, ``docker`` or ``external``, chosen once."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from harness.core.errors import EnvironmentProblem
from harness.providers.base import Cluster, Endpoint, Provider
from harness.providers.binaries import find_binaries
from harness.providers.docker import (
    DEFAULT_IMAGE,
    DockerNetwork,
    DockerProvider,
    docker_unavailable_reason,
)
from harness.providers.external import ExternalProvider
from harness.providers.local import LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS, merged

__all__ = [
    "Cluster",
    "DockerNetwork",
    "Endpoint",
    "Provider",
    "ProviderConfig",
    "ProviderKind",
    "check_provider",
    "make_provider",
    "resolve_kind",
]


class ProviderKind(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    DOCKER = "docker"
    EXTERNAL = "external"


@dataclass(frozen=True)
class ProviderConfig:
    home: Path
    kind: ProviderKind = ProviderKind.AUTO
    pg_settings: tuple[tuple[str, str], ...] = ()
    pg_bin_dir: Path | None = None
    base_port: int | None = None
    dsns: tuple[tuple[str, str], ...] = ()
    docker_image: str = DEFAULT_IMAGE
    docker_cpus: float | None = None
    docker_memory: str | None = None
    docker_network: DockerNetwork = DockerNetwork.BRIDGE
    redis_url: str | None = None  # an external Redis for the cache system (else one is started)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, str]:
        """Benchmark defaults, then the user's overrides (the user wins)."""
        return merged(BENCHMARK_SETTINGS, dict(self.pg_settings))


def resolve_kind(config: ProviderConfig) -> ProviderKind:
    """``auto``: external when DSNs are given, local when binaries exist, else docker."""
    if config.kind is not ProviderKind.AUTO:
        return config.kind
    if config.dsns:
        return ProviderKind.EXTERNAL
    try:
        find_binaries(config.pg_bin_dir)
        return ProviderKind.LOCAL
    except EnvironmentProblem as no_binaries:
        if docker_unavailable_reason() is None:
            return ProviderKind.DOCKER
        raise EnvironmentProblem(
            "no provider can work here: no PostgreSQL binaries and no Docker engine",
            hint=no_binaries.hint,
        ) from None


def make_provider(config: ProviderConfig, *, detached: bool = False) -> Provider:
    kind = resolve_kind(config)
    if kind is ProviderKind.LOCAL:
        return LocalProvider(
            home=config.home,
            binaries=find_binaries(config.pg_bin_dir),
            settings=config.settings,
            base_port=config.base_port,
            detached=detached,
        )
    if kind is ProviderKind.DOCKER:
        return _docker(config, detached)
    return ExternalProvider(dsns=dict(config.dsns))


def _docker(config: ProviderConfig, detached: bool) -> DockerProvider:
    return DockerProvider(
        settings=config.settings,
        image=config.docker_image,
        cpus=config.docker_cpus,
        memory=config.docker_memory,
        network=config.docker_network,
        detached=detached,
    )


def check_provider(config: ProviderConfig) -> ProviderKind:
    """Before a command writes anything: the provider it resolves to can work.

    For docker: an engine answers and the image is present (the default
    official image is pulled when absent; a named one never is).
    """
    kind = resolve_kind(config)
    if kind is ProviderKind.DOCKER:
        _docker(config, detached=False).check()
    return kind
