"""The docker provider's options and its error without an engine (no container started)."""

from __future__ import annotations

import pytest

from harness.core.errors import EnvironmentProblem
from harness.providers.docker import (
    DockerCluster,
    container_run_options,
    docker_unavailable_reason,
    server_command,
)

NO_ENGINE = docker_unavailable_reason()


def test_resource_limits_become_docker_run_options() -> None:
    assert container_run_options(None, None) == {}
    assert container_run_options(1.5, "2g") == {"nano_cpus": 1_500_000_000, "mem_limit": "2g"}


def test_settings_become_server_flags() -> None:
    assert (
        server_command({"work_mem": "8MB", "jit": "off"}) == "postgres -c work_mem=8MB -c jit=off"
    )


@pytest.mark.skipif(NO_ENGINE is None, reason="a Docker engine answers here")
def test_start_without_engine_is_an_environment_error() -> None:
    cluster = DockerCluster("db", settings={})
    with pytest.raises(EnvironmentProblem, match="no Docker engine answers"), cluster:
        pass
