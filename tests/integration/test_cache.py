"""The cache system: a real redis-server from the harness, and what happens at one expiry.

The stampede is made visible by holding an exclusive lock on ``users`` in a
test transaction just after the cached answer expired: every report query the
app starts then waits on that lock, in plain sight in ``pg_stat_activity``.
Plain expiry: each admin who missed runs the report (several queries on the
database). Single-flight: one runs it, the others get the old answer at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis

from harness.core.polling import wait_until
from harness.core.processes import ProcessIdentity
from harness.providers import ProviderConfig, ProviderKind
from harness.providers.cache import LocalRedis
from harness.providers.local import ClusterRecord, reap_orphans
from harness.stack.stacks import (
    EXPIRY,
    SINGLE_FLIGHT,
    CacheSettings,
    Stack,
    StackConfig,
    SystemKind,
)
from shop.metrics import samples
from tests.shopdata import TINY

ADMINS = 8
REPORT_MARK = "array_agg(DISTINCT p.category)"  # only the dashboard query has it
WAITING_REPORTS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()"
)


@pytest.mark.slow
def test_local_redis_binds_loopback_asks_a_password_and_leaves_nothing(bench_home: Path) -> None:
    with LocalRedis("t", bench_home) as server:
        assert server.pid is not None
        directory = server.local_directory
        assert directory is not None
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        assert redis.Redis.from_url(server.url).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()
        listening = {
            c.laddr.ip
            for c in psutil.Process(server.pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {"127.0.0.1"}
        config = (directory / "redis.conf").read_text()
        assert 'save ""' in config
        assert "appendonly no" in config
        assert (directory / "redis.conf").stat().st_mode & 0o077 == 0
        pid = server.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not directory.exists()


@pytest.mark.slow
def test_an_orphaned_redis_is_reaped(bench_home: Path) -> None:
    server = LocalRedis("orphan", bench_home, detached=True).start()
    try:
        directory = server.local_directory
        assert directory is not None
        assert server.pid is not None
        record = ClusterRecord.read(directory)
        assert record is not None
        assert record.server is not None
        # its owner died: a command that is gone
        record.owner = ProcessIdentity(pid=record.server.pid, create_time=1.0)
        record.write(directory)
        reaped = reap_orphans(bench_home)
        assert directory.name in reaped
        assert not record.server.alive()
        assert not directory.exists()
    finally:
        server.stop()


@contextmanager
def cache_stack(home: Path, refresh: str, ttl_s: float = 1.0) -> Iterator[Stack]:
    config = StackConfig(
        system=SystemKind.CACHE,
        provider=ProviderConfig(home=home, kind=ProviderKind.LOCAL),
        spec=TINY,
        progress=False,
        cache=CacheSettings(ttl_s=ttl_s, refresh=refresh),
    )
    with Stack(config) as stack:
        yield stack


def waiting_reports(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(WAITING_REPORTS, (f"%{REPORT_MARK}%",)).fetchone()
    assert row is not None
    return int(row[0])


def one_expiry(stack: Stack, ttl_s: float) -> tuple[list[Future[httpx.Response]], int, int]:
    """Warm the cache, let the answer expire, lock the report out, send ADMINS at once.

    Returns the requests, how many answered while the report was locked out, and
    how many report queries were on the database at the peak."""
    dsn = stack.clusters["db"].endpoint.dsn
    url = f"{stack.url}/dashboard/customers?limit=5"
    assert httpx.get(url, timeout=30).status_code == 200
    time.sleep(ttl_s + 0.3)  # the answer is now past its TTL
    pool = ThreadPoolExecutor(ADMINS)
    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        requests = [pool.submit(httpx.get, url, timeout=60) for _ in range(ADMINS)]
        # give every request time to reach the database or the cache
        time.sleep(2.0)
        on_database = waiting_reports(dsn)
        answered_meanwhile = sum(1 for r in requests if r.done())
        locker.rollback()
    pool.shutdown(wait=True)
    return requests, answered_meanwhile, on_database


@pytest.mark.slow
def test_plain_expiry_stampedes_the_database(session_home: Path) -> None:
    with cache_stack(session_home, EXPIRY) as stack:
        requests, answered_meanwhile, on_database = one_expiry(stack, 1.0)
        assert on_database == ADMINS  # every admin who missed runs the report
        assert answered_meanwhile == 0
        assert all(r.result().status_code == 200 for r in requests)
        cache = httpx.get(f"{stack.url}/metrics.json").json()["cache"]
        assert cache["refresh"] == EXPIRY
        assert cache["reports_run"] == 1 + ADMINS


@pytest.mark.slow
def test_single_flight_runs_one_report_and_serves_the_old_answer(session_home: Path) -> None:
    with cache_stack(session_home, SINGLE_FLIGHT) as stack:
        requests, answered_meanwhile, on_database = one_expiry(stack, 1.0)
        assert on_database == 1  # one refresh
        assert answered_meanwhile == ADMINS - 1  # the others got the old answer at once
        bodies = [r.result().json() for r in requests]
        assert all(body == bodies[0] for body in bodies)
        found = samples(httpx.get(f"{stack.url}/metrics").text)
        assert found["shop_cache_reports_run_total"] == [({}, 2.0)]
        assert ({"outcome": "stale_served"}, ADMINS - 1) in found["shop_cache_lookups_total"]
        ages = dict(
            (labels["report"], age) for labels, age in found["shop_cache_answer_age_seconds"]
        )
        assert ages["dashboard_customers"] >= 0


@pytest.mark.slow
def test_the_cache_stack_starts_and_stops_its_redis(session_home: Path) -> None:
    with cache_stack(session_home, EXPIRY, ttl_s=10) as stack:
        assert stack.state is not None
        assert stack.redis is not None
        pid = stack.state.pids["redis"]
        assert pid is not None
        assert psutil.pid_exists(pid)
        assert "redis" in stack.state.cluster_dirs
        httpx.get(f"{stack.url}/dashboard/revenue", timeout=30).raise_for_status()
        ages = httpx.get(f"{stack.url}/metrics.json").json()["cache"]["answer_age_ms"]
        assert 0 <= ages["dashboard_revenue"] < 10_000
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
        timeout=10,
        what="redis to stop",
    )


def _no_redis_image() -> str | None:
    from harness.providers.cache import DEFAULT_REDIS_IMAGE
    from harness.providers.docker import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is not None:
        return reason
    import docker

    client = docker.from_env(version="1.41")
    try:
        client.images.get(DEFAULT_REDIS_IMAGE)
    except docker.errors.ImageNotFound:
        return f"no {DEFAULT_REDIS_IMAGE} image here (the harness never pulls)"
    finally:
        client.close()
    return None


@pytest.mark.slow
@pytest.mark.docker
def test_docker_redis_answers_with_its_password() -> None:
    reason = _no_redis_image()
    if reason is not None:
        pytest.skip(reason)
    from harness.providers.cache import DockerRedis

    with DockerRedis("t") as server:
        assert redis.Redis.from_url(server.url).ping()
        assert server.url.startswith("redis://:")
