"""The docker provider against a real container. Needs a Docker engine; skipped cleanly without one."""

from __future__ import annotations

import psycopg
import pytest

from harness.providers.docker import DockerProvider, docker_unavailable_reason

NO_ENGINE = docker_unavailable_reason()


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.skipif(NO_ENGINE is not None, reason=f"docker provider: {NO_ENGINE}")
def test_container_serves_over_loopback_with_password_and_limits() -> None:
    provider = DockerProvider(settings={"work_mem": "7MB"}, cpus=1.0, memory="1g")
    with provider.cluster("db") as cluster, psycopg.connect(cluster.endpoint.dsn) as conn:
        assert cluster.endpoint.host in ("127.0.0.1", "localhost")
        assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)
    assert cluster.container_id() is None
