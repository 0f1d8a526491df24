"""Which projector errors are one event's fault, and which would hit every event."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from cqrs_app.projector import (
    CONNECTION_OPTIONS,
    SESSION_OPTIONS,
    Projector,
    ProjectorConfig,
    is_data_error,
)
from shop.server import with_session_options


@pytest.mark.parametrize(
    ("exc", "one_event"),
    [
        (errors.lookup("22003")("integer out of range"), True),
        (errors.lookup("22P02")("invalid input syntax"), True),
        (errors.lookup("23505")("duplicate key"), True),
        (errors.lookup("23514")("check constraint"), True),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), True),
        (TypeError("can't compare offset-naive and offset-aware datetimes"), True),
        (errors.lookup("42P01")('relation "daily_revenue" does not exist'), False),
        (errors.lookup("42501")("permission denied for table order_summaries"), False),
        (errors.lookup("42703")("column does not exist"), False),
        (errors.lookup("25P03")("idle-in-transaction timeout"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_only_data_errors_are_one_events_fault(exc: BaseException, one_event: bool) -> None:
    assert is_data_error(exc) is one_event


def test_connections_have_keepalives_timeouts_and_utc() -> None:
    assert CONNECTION_OPTIONS["keepalives"] == 1
    assert CONNECTION_OPTIONS["tcp_user_timeout"] > 0
    assert CONNECTION_OPTIONS["connect_timeout"] > 0
    options = SESSION_OPTIONS
    assert "timezone=UTC" in options
    assert "idle_in_transaction_session_timeout" in options
    assert "statement_timeout" in options


def test_session_options_keep_what_the_dsn_already_sets() -> None:
    # the cqrs-samedb read DSN names the read models' schema; UTC and the timeouts
    # must be added to it, not replace it (else the read models land in public)
    dsn = "postgresql://u:p@127.0.0.1:5432/db?options=-c%20search_path%3Dread_models"
    merged = conninfo_to_dict(with_session_options(dsn, SESSION_OPTIONS))
    assert "search_path=read_models" in merged["options"]
    assert "timezone=UTC" in merged["options"]
    assert merged["host"] == "127.0.0.1"
    plain = conninfo_to_dict(with_session_options("host=h dbname=d", "-c timezone=UTC"))
    assert plain["options"] == "-c timezone=UTC"


class BuggyProjector(Projector):
    """A projector whose loop meets an exception nothing classifies (a bug), twice."""

    failures = 0

    def _connect(self) -> None:  # no database needed to reach the loop's handler
        return None

    def _become_leader(self) -> bool:
        return True

    def _project(self) -> None:
        self.failures += 1
        if self.failures >= 2:
            self.stop.set()
        raise KeyError("no such field")


def test_an_unexpected_exception_in_the_loop_does_not_end_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    projector = BuggyProjector(ProjectorConfig("postgresql:///w", "postgresql:///r"))
    projector.run()  # before the fix the KeyError escaped run() and ended the process
    assert projector.failures == 2
    assert "unexpected error" in caplog.text
