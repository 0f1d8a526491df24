"""Binary COPY rows built with numpy: layout rules checked without a database."""

from __future__ import annotations

import numpy as np
import pytest

from harness.seed.copybinary import Fixed, Pooled, encode_rows


def test_pooled_columns_must_follow_fixed_ones() -> None:
    with pytest.raises(ValueError, match="must come before"):
        encode_rows([Pooled(np.array([0]), [b"a"]), Fixed(np.array([1], dtype=np.int64), "int8")])


def test_fixed_only_rows_have_constant_width() -> None:
    rows = encode_rows([Fixed(np.arange(5, dtype=np.int64), "int8")])
    assert len(rows) == 5 * (2 + 4 + 8)


def test_rows_with_pooled_text_are_laid_out_field_by_field() -> None:
    """Each row: field count, then (length, bytes) per field; text of varying length."""
    rows = encode_rows(
        [
            Fixed(np.array([7, -2], dtype=np.int64), "int8"),
            Fixed(np.array([3, 4], dtype=np.int32), "int4"),
            Pooled(np.array([1, 0]), [b"paid", b"delivered"]),
            Pooled(np.array([0, 0]), [b""]),
        ]
    )

    def row(big: int, small: int, text: bytes) -> bytes:
        return (
            (4).to_bytes(2, "big")
            + (8).to_bytes(4, "big")
            + big.to_bytes(8, "big", signed=True)
            + (4).to_bytes(4, "big")
            + small.to_bytes(4, "big", signed=True)
            + len(text).to_bytes(4, "big")
            + text
            + (0).to_bytes(4, "big")
        )

    assert rows == row(7, 3, b"delivered") + row(-2, 4, b"paid")
