"""PostgreSQL binary COPY rows built with numpy, without a Python loop per row.

Format (PostgreSQL docs, "COPY ... BINARY"): a header, then per row an int16
field count followed by (int32 length, bytes) per field, then an int16 -1
trailer. Fixed-width columns are laid out with one structured array; text
columns drawn from a small pool are scattered after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds


@dataclass(frozen=True)
class Fixed:
    """A fixed-width column: a 1-D numeric array, or a 2-D uint8 array of fixed-width text."""

    values: npt.NDArray[np.generic]
    pg_type: str  # "int8" | "int4" | "int2" | "timestamptz" | "text"


@dataclass(frozen=True)
class Pooled:
    """A text column whose values come from a small pool, given as codes into it."""

    codes: npt.NDArray[np.integer]
    pool: Sequence[bytes]


_NUMERIC = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "timestamptz": ">i8"}


def timestamptz(unix_us: npt.NDArray[np.int64]) -> Fixed:
    return Fixed(unix_us - PG_EPOCH_US, "timestamptz")


def encode_rows(columns: Sequence[Fixed | Pooled]) -> bytes:
    """Rows of binary COPY (no header or trailer) for the given columns.

    Fixed columns must come before pooled ones: the fixed part then sits at the
    same offset in every row and is written in one pass.
    """
    fixed = [c for c in columns if isinstance(c, Fixed)]
    pooled = [c for c in columns if isinstance(c, Pooled)]
    if columns[: len(fixed)] != fixed:
        raise ValueError("fixed-width columns must come before pooled text columns")
    n = len(fixed[0].values) if fixed else len(pooled[0].codes)

    fields: list[tuple[str, object]] = [("count", ">i2")]
    for i, col in enumerate(fixed):
        width = (
            col.values.shape[1]
            if col.values.ndim == 2
            else np.dtype(_NUMERIC[col.pg_type]).itemsize
        )
        fields.append((f"len{i}", ">i4"))
        if col.values.ndim == 2:
            fields.append((f"val{i}", (np.uint8, width)))
        else:
            fields.append((f"val{i}", _NUMERIC[col.pg_type]))
    prefix = np.empty(n, dtype=np.dtype(fields))
    prefix["count"] = len(columns)
    for i, fixed_col in enumerate(fixed):
        width = prefix.dtype[f"val{i}"].itemsize
        prefix[f"len{i}"] = width
        prefix[f"val{i}"] = fixed_col.values
    if not pooled:
        return prefix.tobytes()

    # Every combination of pooled values is one "tail" of bytes (few of them:
    # pools are small). Rows are laid out padded to the longest tail, then the
    # padding is dropped in one boolean-mask pass.
    combo = np.zeros(n, dtype=np.int64)
    tails: list[bytes] = [b""]
    for pooled_col in pooled:
        entries = [len(v).to_bytes(4, "big") + v for v in pooled_col.pool]
        combo = combo * len(entries) + pooled_col.codes
        tails = [tail + entry for tail in tails for entry in entries]
    tail_len = np.array([len(t) for t in tails], dtype=np.int64)
    tail_matrix = np.zeros((len(tails), int(tail_len.max())), dtype=np.uint8)
    for j, tail in enumerate(tails):
        tail_matrix[j, : len(tail)] = np.frombuffer(tail, dtype=np.uint8)
    width = prefix.dtype.itemsize
    padded = np.empty((n, width + tail_matrix.shape[1]), dtype=np.uint8)
    padded[:, :width] = prefix.view(np.uint8).reshape(n, width)
    padded[:, width:] = tail_matrix[combo]
    keep = np.arange(padded.shape[1]) < (width + tail_len[combo])[:, None]
    return padded[keep].tobytes()


def fixed_text(values: npt.NDArray[np.bytes_]) -> Fixed:
    """A column of equal-length ASCII strings (dtype S<n>) as fixed-width text."""
    width = values.dtype.itemsize
    return Fixed(
        np.frombuffer(values.tobytes(), dtype=np.uint8).reshape(len(values), width), "text"
    )
