"""HTTP errors of the shop API, and the one place database errors are mapped.

Every error leaves as ``{"error": {"code", "message"}}`` with a meaningful
status; bad input is always a 4xx, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("shopapi")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, f"{what}_not_found", f"{what.replace('_', ' ')} {ident} does not exist")


class OrjsonResponse(JSONResponse):
    """A JSON answer encoded by orjson (the shop's bodies are plain dicts, str, int, float)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return OrjsonResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status
    )


RECOVERY_CONFLICT = "recovery_conflict"

# The SQLSTATE class of the checkout's refusals: ``CB`` and the HTTP status
# (``CB404``, ``CB409``); the error's detail is the API's error code, its hint
# any extra fields as JSON. :func:`shop.errors.database_error` maps them.
REFUSAL_CLASS = "CB"


def database_error(exc: BaseException) -> ApiError:
    """Map a database failure to what the client should be told."""
    if isinstance(exc, psycopg.Error) and (refusal := _checkout_refusal(exc)) is not None:
        return refusal
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return ApiError(503, "database_busy", "no database connection became free in time")
    if isinstance(exc, psycopg.errors.CheckViolation):
        return ApiError(409, "constraint_violated", "the change would break a rule of the shop")
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return ApiError(409, "conflict", "a conflicting record exists")
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return ApiError(404, "reference_not_found", "a referenced record does not exist")
    if isinstance(exc, psycopg.errors.NumericValueOutOfRange):
        return ApiError(422, "value_out_of_range", "a number is out of range")
    if isinstance(exc, psycopg.Error) and "conflict with recovery" in str(exc):
        # a hot standby cancelled the query to replay the primary's changes
        return ApiError(503, RECOVERY_CONFLICT, "a standby cancelled the query to apply changes")
    if isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
        return ApiError(503, "retry", "the transaction conflicted with another; retry")
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return ApiError(503, "query_canceled", "the query ran out of time")
    if isinstance(exc, psycopg.OperationalError):
        return ApiError(503, "database_unavailable", "the database is unavailable")
    return ApiError(500, "internal_error", "unexpected database error")


def _checkout_refusal(exc: psycopg.Error) -> ApiError | None:
    """A refusal raised by the checkout function (SQLSTATE ``CB`` + the HTTP status).

    Its detail is the API's error code, its message the message, its hint (if
    any) a JSON object of extra fields. Anything else of that class is a bug in
    the function, answered as an internal error.
    """
    state = exc.sqlstate or ""
    if not state.startswith(REFUSAL_CLASS):
        return None
    diag = exc.diag
    status = int(state[2:]) if state[2:].isdigit() else 500
    if not 400 <= status < 500 or not diag.message_detail or not diag.message_primary:
        return ApiError(500, "internal_error", "unexpected database error")
    extra = orjson.loads(diag.message_hint) if diag.message_hint else {}
    return ApiError(status, diag.message_detail, diag.message_primary, **extra)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"where": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
            for error in exc.errors()
        ]
        first = details[0] if details else {"where": "body", "problem": "invalid"}
        return error_response(
            422,
            "invalid_request",
            f"{first['where']}: {first['problem']}",
            details=details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # a 405 names the allowed methods (Allow)
        return response

    @app.exception_handler(psycopg.Error)
    async def _db(request: Request, exc: psycopg.Error) -> JSONResponse:
        mapped = database_error(exc)
        if mapped.status >= 500:
            log.warning("database error on %s: %s", request.url.path, exc)
        return error_response(mapped.status, mapped.code, mapped.message, **mapped.extra)

    @app.exception_handler(psycopg_pool.PoolTimeout)
    async def _pool(request: Request, exc: psycopg_pool.PoolTimeout) -> JSONResponse:
        mapped = database_error(exc)
        return error_response(mapped.status, mapped.code, mapped.message)
