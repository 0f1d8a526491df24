"""Schemathesis hooks for the fuzz test (loaded by ``st run`` through SCHEMATHESIS_HOOKS).

One more check beside schemathesis's own: a request the app refuses (any 4xx or
5xx) writes nothing. The write database's footprint is taken before every
POST and compared after a refusal; ``st run`` calls one request at a time.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import schemathesis

from tests.contract.conftest import FOOTPRINT_SQL

DSN_VARIABLE = "CQRS_BENCH_FUZZ_WRITE_DSN"
_before: dict[int, tuple[object, ...]] = {}


def _footprint() -> tuple[object, ...]:
    with psycopg.connect(os.environ[DSN_VARIABLE], autocommit=True) as conn:
        row = conn.execute(FOOTPRINT_SQL).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return tuple(row)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.method.upper() != "GET":
        _before[id(case)] = _footprint()


@schemathesis.check
def refused_requests_write_nothing(ctx: Any, response: Any, case: Any) -> bool | None:
    before = _before.pop(id(case), None)
    if before is None or response.status_code < 400:
        return None
    after = _footprint()
    if after != before:
        raise AssertionError(
            f"a refused request ({response.status_code}) changed the write database:"
            f" {before} -> {after}"
        )
    return None
