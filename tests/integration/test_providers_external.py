"""The external provider uses a real cluster the test starts, as a user's server would be."""

from __future__ import annotations

import psycopg
import pytest

from harness.providers.external import ExternalProvider
from harness.providers.local import LocalProvider


@pytest.mark.slow
def test_external_cluster_is_used_and_never_stopped(local_provider: LocalProvider) -> None:
    with local_provider.cluster("theirs") as theirs:
        provider = ExternalProvider({"db": theirs.endpoint.dsn})
        with provider.cluster("db") as ours:
            assert ours.endpoint == theirs.endpoint
            assert ours.pid is None
        # leaving the context must not touch the user's server
        with psycopg.connect(theirs.endpoint.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
