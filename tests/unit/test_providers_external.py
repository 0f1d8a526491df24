"""The external provider: DSN parsing and its errors, without a database."""

from __future__ import annotations

import pytest

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.ports import free_port
from harness.providers.external import ExternalProvider, endpoint_from_dsn, parse_dsn_option


def test_unreachable_external_database_is_an_environment_error() -> None:
    dsn = f"postgresql://u:p@127.0.0.1:{free_port()}/x"
    with pytest.raises(EnvironmentProblem, match="does not answer"):
        ExternalProvider({"db": dsn}).cluster("db").start()


def test_missing_dsn_names_what_was_given() -> None:
    with pytest.raises(BadInput, match=r"no --dsn given for database 'read' \(given: write\)"):
        ExternalProvider({"write": "postgresql://x@h/db"}).cluster("read")


def test_dsn_option_parsing() -> None:
    assert parse_dsn_option("db=postgresql://a:b@h:1/d") == ("db", "postgresql://a:b@h:1/d")
    endpoint = endpoint_from_dsn("postgresql://a:b%40c@h:15/d")
    assert (endpoint.user, endpoint.password, endpoint.port, endpoint.dbname) == (
        "a",
        "b@c",
        15,
        "d",
    )
    assert endpoint.dsn == "postgresql://a:b%40c@h:15/d"
    with pytest.raises(BadInput):
        parse_dsn_option("=x")
