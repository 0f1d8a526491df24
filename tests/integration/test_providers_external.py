"""The external provider uses a real cluster the test starts, as a user's server would be."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.core.errors import EnvironmentProblem
from harness.providers import ProviderConfig, ProviderKind
from harness.providers.external import SCHEMA_MARKER, ExternalProvider
from harness.providers.local import LocalProvider
from harness.stack.readmodels import ReadModelTarget, rebuild_read_models
from harness.stack.stacks import Stack, StackConfig, SystemKind
from tests.shopdata import TINY


@pytest.mark.slow
def test_external_cluster_is_used_and_never_stopped(local_provider: LocalProvider) -> None:
    with local_provider.cluster("theirs") as theirs:
        provider = ExternalProvider({"db": theirs.endpoint.dsn})
        with provider.cluster("db") as ours:
            assert ours.endpoint == replace(theirs.endpoint, schema="cqrs_bench")
            assert ours.pid is None
        # leaving the context must not touch the user's server
        with psycopg.connect(theirs.endpoint.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def user_tables(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT * FROM public.{table} ORDER BY 1").fetchall()
            for table in ("orders", "daily_revenue")
        }


@pytest.mark.slow
def test_the_harness_keeps_to_its_own_schema_in_a_users_database(
    local_provider: LocalProvider, bench_home: Path
) -> None:
    with local_provider.cluster("theirs") as theirs:
        dsn = theirs.endpoint.dsn
        with psycopg.connect(dsn) as conn:  # the user's own tables, with the shop's names
            conn.execute("CREATE TABLE public.orders (id int PRIMARY KEY, what text)")
            conn.execute("INSERT INTO public.orders VALUES (1, 'mine'), (2, 'also mine')")
            conn.execute("CREATE TABLE public.daily_revenue (day date, cents bigint)")
            conn.execute("INSERT INTO public.daily_revenue VALUES ('2026-01-01', 42)")
        before = user_tables(dsn)
        config = StackConfig(
            system=SystemKind.CQRS_SAMEDB,
            provider=ProviderConfig(
                home=bench_home, kind=ProviderKind.EXTERNAL, dsns=(("write", dsn),)
            ),
            spec=TINY,
            progress=False,
        )
        with Stack(config) as stack:
            response = httpx.post(
                f"{stack.url}/checkout",
                json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            rebuild_read_models(ReadModelTarget(bench_home))  # the repair path, as the CLI runs it
            assert user_tables(dsn) == before
        assert user_tables(dsn) == before
        with psycopg.connect(dsn) as conn:
            marker = conn.execute(
                "SELECT obj_description('cqrs_bench'::regnamespace, 'pg_namespace')"
            ).fetchone()
            shop_orders = conn.execute("SELECT count(*) FROM cqrs_bench.orders").fetchone()
        assert marker == (SCHEMA_MARKER,)
        assert shop_orders is not None
        assert shop_orders[0] == TINY.orders + 1


@pytest.mark.slow
def test_a_schema_of_that_name_it_did_not_create_is_refused(
    local_provider: LocalProvider,
) -> None:
    with local_provider.cluster("theirs") as theirs:
        dsn = theirs.endpoint.dsn
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE SCHEMA cqrs_bench")
            conn.execute("CREATE TABLE cqrs_bench.order_summaries (order_id int)")
            conn.execute("INSERT INTO cqrs_bench.order_summaries VALUES (7)")
        with (
            pytest.raises(EnvironmentProblem, match="was not created by cqrs-bench"),
            ExternalProvider({"db": dsn}).cluster("db"),
        ):
            pass
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT * FROM cqrs_bench.order_summaries").fetchall() == [(7,)]
