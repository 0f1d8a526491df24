"""The data generator, without loading anything."""

from __future__ import annotations

import numpy as np

from harness.seed.generate import ShopGenerator
from tests.shopdata import TINY


def test_order_times_rise_with_ids_across_chunk_boundaries() -> None:
    generator = ShopGenerator(TINY, chunk_size=700)
    times = []
    for index in range(generator.chunk_count):
        first = index * generator.chunk_size
        order_idx = np.arange(first, min(first + generator.chunk_size, TINY.orders))
        day = np.searchsorted(generator.day_end_order, order_idx, side="right")
        times.append(generator.order_times(order_idx, day, np.random.default_rng(index)))
    stamps = np.concatenate(times)
    assert (np.diff(stamps) >= 0).all()
