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
