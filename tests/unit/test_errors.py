"""Database errors -> what the client is told, with psycopg's exceptions built without a server."""

from __future__ import annotations

import json

import psycopg
import psycopg_pool
import pytest
from psycopg import errors

from shop.errors import database_error, error_response, not_found

SECRET = "hunter2"


def by_sqlstate(sqlstate: str) -> psycopg.Error:
    # the message mimics the server's, DSN and password included, as a connection error can
    return errors.lookup(sqlstate)(f"failed for postgresql://postgres:{SECRET}@127.0.0.1/shop")


@pytest.mark.parametrize(
    ("sqlstate", "status", "code"),
    [
        ("23514", 409, "constraint_violated"),  # check_violation (stock >= 0)
        ("23505", 409, "conflict"),  # unique_violation
        ("23503", 404, "reference_not_found"),  # foreign_key_violation
        ("22003", 422, "value_out_of_range"),  # numeric_value_out_of_range
        ("40P01", 503, "retry"),  # deadlock_detected
        ("40001", 503, "retry"),  # serialization_failure
        ("57014", 503, "query_canceled"),  # query_canceled (statement_timeout)
        ("57P01", 503, "database_unavailable"),  # admin_shutdown
        ("08006", 503, "database_unavailable"),  # connection_failure
        ("53300", 503, "database_unavailable"),  # too_many_connections
        ("42601", 500, "internal_error"),  # syntax_error: our bug, not the client's
        ("23502", 500, "internal_error"),  # not_null_violation
        ("22P02", 500, "internal_error"),  # invalid_text_representation
    ],
)
def test_sqlstates_map_to_statuses(sqlstate: str, status: int, code: str) -> None:
    mapped = database_error(by_sqlstate(sqlstate))
    assert (mapped.status, mapped.code) == (status, code)
    assert mapped.message
    assert SECRET not in mapped.message


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (
            psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"),
            503,
            "database_busy",
        ),
        (
            psycopg.OperationalError(f"connection to postgresql://u:{SECRET}@h failed"),
            503,
            "database_unavailable",
        ),
        (psycopg.InterfaceError("the connection is closed"), 500, "internal_error"),
        (psycopg.DataError("invalid input"), 500, "internal_error"),
    ],
    ids=["pool timeout", "connection refused", "closed connection", "other data error"],
)
def test_driver_and_pool_errors_map_to_statuses(exc: Exception, status: int, code: str) -> None:
    mapped = database_error(exc)
    assert (mapped.status, mapped.code) == (status, code)
    assert SECRET not in mapped.message


def test_not_found_names_what_and_which() -> None:
    error = not_found("order", 42)
    assert (error.status, error.code, error.message) == (
        404,
        "order_not_found",
        "order 42 does not exist",
    )
    assert not_found("product_page", 7).message == "product page 7 does not exist"


def test_error_response_shape_carries_extra_fields() -> None:
    response = error_response(409, "insufficient_stock", "not enough stock", product_id=3)
    assert response.status_code == 409
    assert json.loads(bytes(response.body)) == {
        "error": {"code": "insufficient_stock", "message": "not enough stock", "product_id": 3}
    }
