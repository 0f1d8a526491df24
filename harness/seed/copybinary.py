"""PostgreSQL binary COPY rows built with numpy, without a Python loop per row.

Format (PostgreSQL docs, "COPY ... BINARY"): a header, then per row an int16
field count followed by (int32 length, bytes) per field, then an int16 -1
trailer. Fixed-width columns are laid out with one structured array; text
columns drawn from a small pool are scattered after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

    # the fixed part of a row: field count, then (length, value) per fixed column
    names: list[str] = ["count"]
    formats: list[object] = [">i2"]
    for i, col in enumerate(fixed):
        names += [f"len{i}", f"val{i}"]
        formats += [
            ">i4",
            (np.uint8, col.values.shape[1]) if col.values.ndim == 2 else _NUMERIC[col.pg_type],
        ]
    layout_spec: Any = {"names": names, "formats": formats}
    layout = np.dtype(layout_spec)
    width = layout.itemsize
    if not pooled:
        prefix = np.empty(n, dtype=layout)
        _fill(prefix, fixed, len(columns))
        return prefix.tobytes()

    # Every combination of pooled values is one "tail" of bytes (few of them:
    # pools are small). Rows are laid out padded to the longest tail, the fixed
    # fields written in place, then the padding is dropped in one boolean-mask
    # pass (the mask of each combination is computed once, not once per row).
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
    padded = np.empty((n, width + tail_matrix.shape[1]), dtype=np.uint8)
    fields = layout.fields
    assert fields is not None
    # the same fields at the same offsets, one record per padded row
    in_place_spec: Any = {
        "names": names,
        "formats": formats,
        "offsets": [fields[name][1] for name in names],
        "itemsize": padded.shape[1],
    }
    in_place = np.dtype(in_place_spec)
    _fill(padded.reshape(-1).view(in_place), fixed, len(columns))
    padded[:, width:] = tail_matrix[combo]
    keep_by_combo = np.arange(padded.shape[1]) < (width + tail_len)[:, None]
    kept: npt.NDArray[np.uint8] = padded.reshape(-1)[keep_by_combo[combo].reshape(-1)]
    return kept.tobytes()


def _fill(rows: npt.NDArray[np.void], fixed: Sequence[Fixed], field_count: int) -> None:
    rows["count"] = field_count
    for i, fixed_col in enumerate(fixed):
        rows[f"len{i}"] = rows.dtype[f"val{i}"].itemsize
        rows[f"val{i}"] = fixed_col.values


def fixed_text(values: npt.NDArray[np.bytes_]) -> Fixed:
    """A column of equal-length ASCII strings (dtype S<n>) as fixed-width text."""
    width = values.dtype.itemsize
    return Fixed(
        np.frombuffer(values.tobytes(), dtype=np.uint8).reshape(len(values), width), "text"
    )
