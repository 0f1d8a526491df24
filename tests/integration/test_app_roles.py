"""The apps and the projector connect as roles of their own, which cannot run shell
commands on the server or create tables (the set-up stays with the superuser)."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import errors

from harness.providers import ProviderConfig, ProviderKind
from harness.stack.stacks import Stack, StackConfig, SystemKind
from tests.shopdata import TINY

ATTACKS = {
    "shell": "COPY (SELECT 1) TO PROGRAM 'true'",
    "table": "CREATE TABLE planted (x int)",
    "read a file": "SELECT pg_read_file('/etc/hostname')",
}


def sessions_by_user(dsn: str) -> set[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return {str(row[0]) for row in rows}


@pytest.mark.slow
@pytest.mark.parametrize("system", [SystemKind.CQRS, SystemKind.CQRS_SAMEDB, SystemKind.REPLICA])
def test_each_service_has_a_role_that_cannot_run_programs_or_create_tables(
    session_home: Path, system: SystemKind
) -> None:
    config = StackConfig(
        system=system,
        provider=ProviderConfig(home=session_home, kind=ProviderKind.LOCAL),
        spec=TINY,
        progress=False,
    )
    with Stack(config) as stack:
        topology = config.topology
        services = ["app", "projector"] if topology.projector else ["app"]
        assert sorted(stack.roles) == sorted(services)
        for service in services:
            for setting in topology.dsns:
                dsn = stack.service_dsn(service, setting)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    assert conn.execute("SHOW is_superuser").fetchone() == ("off",)
                    assert conn.info.user == stack.roles[service].name
                    standby = conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
                    refused: tuple[type[Exception], ...] = (errors.InsufficientPrivilege,)
                    if standby:  # a hot standby refuses any write before it looks at rights
                        refused = (*refused, errors.ReadOnlySqlTransaction)
                    for attack in ATTACKS.values():
                        with pytest.raises(refused):
                            conn.execute(attack)
        # the app works as its role, and nothing it started connects as the superuser
        response = httpx.post(
            f"{stack.url}/checkout",
            json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]},
            timeout=30,
        )
        assert response.status_code in (200, 409), response.text
        seeded = stack.clusters[topology.seeded].endpoint
        users = sessions_by_user(seeded.dsn)
        assert stack.roles["app"].name in users
        if topology.projector:
            assert stack.roles["projector"].name in users
        assert seeded.user not in users
