"""The docker provider's options, labels, stats parsing and errors (no container started)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.processes import ProcessIdentity
from harness.providers import DockerNetwork, ProviderConfig, ProviderKind, make_provider
from harness.providers.docker import (
    DETACHED,
    HOST_LABEL,
    OWNER_LABEL,
    DockerCluster,
    DockerProvider,
    absent_image_error,
    container_run_options,
    docker_unavailable_reason,
    network_settings,
    orphaned,
    owner_labels,
    parse_stats,
    server_command,
)
from harness.providers.dockerimage import ENTRYPOINT, import_changes

NO_ENGINE = docker_unavailable_reason()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "docker"


def test_resource_limits_become_docker_run_options() -> None:
    assert container_run_options(None, None) == {}
    assert container_run_options(1.5, "2g") == {"nano_cpus": 1_500_000_000, "mem_limit": "2g"}


def test_settings_become_server_flags() -> None:
    assert (
        server_command({"work_mem": "8MB", "jit": "off"}) == "postgres -c work_mem=8MB -c jit=off"
    )


def test_host_network_binds_loopback_on_the_given_port_bridge_listens_inside() -> None:
    assert network_settings(DockerNetwork.HOST, 54321) == {
        "listen_addresses": "127.0.0.1",
        "port": "54321",
    }
    assert network_settings(DockerNetwork.BRIDGE, None) == {"listen_addresses": "*"}
    with pytest.raises(ValueError, match="port"):
        network_settings(DockerNetwork.HOST, None)


def test_provider_config_reaches_the_clusters() -> None:
    config = ProviderConfig(
        home=Path("/nonexistent"),
        kind=ProviderKind.DOCKER,
        docker_image="example/pg:15",
        docker_cpus=1.0,
        docker_memory="1g",
        docker_network=DockerNetwork.HOST,
    )
    provider = make_provider(config, detached=True)
    assert isinstance(provider, DockerProvider)
    cluster = provider.cluster("write")
    assert (cluster.image, cluster.cpus, cluster.memory) == ("example/pg:15", 1.0, "1g")
    assert cluster.network is DockerNetwork.HOST
    assert cluster.detached
    assert provider.describe()["network"] == "host"


def test_stats_of_a_running_container_give_cumulative_cpu_and_memory_less_cache() -> None:
    """Recorded from Docker 20.10 (cgroup v1): ``docker stats``' one-shot JSON."""
    stats = json.loads((FIXTURES / "stats-running.json").read_text())
    found = parse_stats(stats)
    assert found is not None
    cpu_s, mib = found
    assert cpu_s == pytest.approx(stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9)
    usage = stats["memory_stats"]["usage"] - stats["memory_stats"]["stats"]["cache"]
    assert mib == pytest.approx(usage / 2**20)


def test_stats_of_a_stopped_container_are_no_sample() -> None:
    assert parse_stats(json.loads((FIXTURES / "stats-stopped.json").read_text())) is None
    assert parse_stats({}) is None


def test_stats_under_cgroup_v2_subtract_inactive_file() -> None:
    stats = {
        "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
        "memory_stats": {"usage": 3 * 2**20, "stats": {"inactive_file": 2**20}},
    }
    assert parse_stats(stats) == (2.5, 2.0)


def test_containers_are_labelled_with_their_owner_and_this_machine() -> None:
    me = ProcessIdentity.current()
    labels = owner_labels("db", me)
    assert json.loads(labels[OWNER_LABEL]) == me.to_json()
    assert labels[HOST_LABEL] == socket.gethostname()
    assert owner_labels("db", None)[OWNER_LABEL] == DETACHED


def test_only_containers_of_a_dead_owner_on_this_machine_are_orphans() -> None:
    host = socket.gethostname()
    dead = ProcessIdentity(pid=os.getpid(), create_time=1.0)  # a recycled PID is not its owner
    alive = ProcessIdentity.current()
    assert orphaned(owner_labels("db", dead), host)
    assert not orphaned(owner_labels("db", alive), host)
    assert not orphaned(owner_labels("db", None), host)  # up's: down removes them
    assert not orphaned(owner_labels("db", dead), "another-machine")
    assert not orphaned({OWNER_LABEL: "not json", HOST_LABEL: host}, host)
    assert not orphaned({}, host)


def test_an_absent_named_image_says_how_to_build_it() -> None:
    error = absent_image_error("mine/pg:15")
    assert isinstance(error, BadInput)
    assert "never pulled" in str(error)
    assert "cqrs-bench docker-image build --tag mine/pg:15" in str(error)


def test_the_built_image_speaks_the_official_images_interface() -> None:
    changes = import_changes(15)
    assert 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' in changes
    assert 'CMD ["postgres"]' in changes
    assert any(c.startswith("ENV PATH=/usr/lib/postgresql/15/bin:") for c in changes)
    for contract in ("POSTGRES_PASSWORD", "POSTGRES_USER", "PGDATA", 'exec "$@"'):
        assert contract in ENTRYPOINT
    assert "scram-sha-256" in ENTRYPOINT


@pytest.mark.skipif(NO_ENGINE is None, reason="a Docker engine answers here")
def test_start_without_engine_is_an_environment_error() -> None:
    cluster = DockerCluster("db", settings={})
    with pytest.raises(EnvironmentProblem, match="no Docker engine answers"), cluster:
        pass
