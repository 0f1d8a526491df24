"""Docker in tests: which image, whether an engine can run it, and the provider to test against.

Tests never pull: the image is ``$CQRS_BENCH_DOCKER_IMAGE`` (``.ci/run`` sets it
to the image it built), else the image ``cqrs-bench docker-image build`` makes,
when present. Without an engine or an image, docker tests skip with the reason.
``CQRS_BENCH_TEST_PROVIDER=docker`` runs the HTTP contract suite against
containers (host network, 127.0.0.1) instead of local clusters.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from harness.providers import DockerNetwork, ProviderConfig, ProviderKind
from harness.providers.docker import (
    BUILT_IMAGE,
    IMAGE_ENV,
    docker_client,
    docker_unavailable_reason,
)

PROVIDER_ENV = "CQRS_BENCH_TEST_PROVIDER"


def docker_image() -> str:
    return os.environ.get(IMAGE_ENV) or BUILT_IMAGE


@functools.cache
def docker_skip_reason() -> str | None:
    """None when containers can run here, else why the docker tests skip."""
    reason = docker_unavailable_reason()
    if reason is not None:
        return f"docker provider: {reason}"
    from harness.providers.docker import image_present

    client = docker_client()
    try:
        if not image_present(client, docker_image()):
            return (
                f"docker image {docker_image()} is not here (tests never pull): "
                f"cqrs-bench docker-image build --tag {docker_image()}"
            )
    finally:
        client.close()
    return None


def containers_wanted() -> bool:
    return os.environ.get(PROVIDER_ENV, "local") == "docker"


def provider_for_tests(home: Path) -> ProviderConfig:
    """The provider the contract suite runs against (local unless asked for docker)."""
    if containers_wanted():
        return ProviderConfig(
            home=home,
            kind=ProviderKind.DOCKER,
            docker_image=docker_image(),
            docker_network=DockerNetwork.HOST,
        )
    return ProviderConfig(home=home, kind=ProviderKind.LOCAL)
