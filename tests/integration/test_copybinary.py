"""Binary COPY rows built with numpy, checked by loading them into real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg
import pytest

from harness.providers.local import LocalProvider
from harness.seed.copybinary import (
    HEADER,
    TRAILER,
    Fixed,
    Pooled,
    encode_rows,
    fixed_text,
    timestamptz,
)


@pytest.mark.slow
def test_rows_round_trip_through_postgres(local_provider: LocalProvider) -> None:
    ids = np.array([1, 2, 3, 2**40], dtype=np.int64)
    small = np.array([10, -20, 30, 2**31 - 1], dtype=np.int32)
    stamp = dt.datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=dt.UTC)
    unix_us = np.full(4, int(stamp.timestamp() * 1_000_000), dtype=np.int64)
    refs = np.array([b"ch_a", b"ch_b", b"ch_c", b"ch_d"])
    statuses = [b"paid", b"delivered", "caf\u00e9".encode()]
    rows = encode_rows(
        [
            Fixed(ids, "int8"),
            Fixed(small, "int4"),
            timestamptz(unix_us),
            fixed_text(refs),
            Pooled(np.array([0, 1, 2, 1]), statuses),
            Pooled(np.array([1, 0, 0, 1]), [b"", b"x" * 300]),
        ]
    )
    with local_provider.cluster("copy") as cluster, psycopg.connect(cluster.endpoint.dsn) as conn:
        conn.execute("CREATE TABLE t (a int8, b int4, c timestamptz, d text, e text, f text)")
        with conn.cursor().copy("COPY t FROM STDIN (FORMAT binary)") as copy:
            copy.write(HEADER + rows + TRAILER)
        got = conn.execute("SELECT * FROM t ORDER BY a").fetchall()
    assert got == [
        (1, 10, stamp, "ch_a", "paid", "x" * 300),
        (2, -20, stamp, "ch_b", "delivered", ""),
        (3, 30, stamp, "ch_c", "caf\u00e9", ""),
        (2**40, 2**31 - 1, stamp, "ch_d", "delivered", "x" * 300),
    ]
