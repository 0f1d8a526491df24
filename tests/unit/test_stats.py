"""harness.results.stats: percentiles (numpy's linear interpolation) and the bootstrap interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.results import stats


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 25, 1.75),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 75, 3.25),  # order does not matter
        (list(range(1, 101)), 99, 99.01),
        (list(range(1, 101)), 95, 95.05),
        ([7.0], 99, 7.0),
    ],
)
def test_percentile_interpolates_linearly_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert stats.percentile(values, q) == expected


def test_percentile_rounds_to_three_digits_unless_told_otherwise() -> None:
    values = [0.1234567, 0.1234567]
    assert stats.percentile(values, 50) == 0.123
    assert stats.percentile(values, 50, digits=1) == 0.1
    assert stats.percentile(values, 50, digits=None) == 0.1234567


@pytest.mark.parametrize("q", [50, 95, 99, 99.9])
def test_percentile_is_numpys_default_method(q: float) -> None:
    values = np.random.default_rng(7).lognormal(2, 1, size=1001)
    assert stats.percentile(values, q, digits=None) == float(np.percentile(values, q))


def test_empty_input_gives_the_empty_value() -> None:
    assert stats.percentile([], 99) == 0.0
    assert stats.percentile(np.array([]), 50, empty=-1.0) == -1.0
    assert stats.percentiles([], [50, 99]) == [0.0, 0.0]
    assert stats.maximum([]) == 0.0
    assert math.isnan(stats.maximum([], empty=math.nan))


def test_several_percentiles_at_once_equal_one_at_a_time() -> None:
    values = np.random.default_rng(3).exponential(10, size=500)
    qs = [50, 95, 99]
    assert stats.percentiles(values, qs) == [stats.percentile(values, q) for q in qs]
    assert stats.percentiles(values, qs, digits=None) == [
        stats.percentile(values, q, digits=None) for q in qs
    ]


def test_maximum_rounds_like_the_percentiles() -> None:
    assert stats.maximum([1.0, 82.3344, 3.0]) == 82.334
    assert stats.maximum([1.0, 82.3344], digits=1) == 82.3


@pytest.mark.parametrize("q", [50.0, 95.0])
def test_bootstrap_interval_contains_the_true_percentile_on_easy_data(q: float) -> None:
    data = np.random.default_rng(11).normal(100.0, 10.0, size=2000)
    true = 100.0 + 10.0 * {50.0: 0.0, 95.0: 1.6448536}[q]
    low, high = stats.bootstrap_interval(data, q)
    assert low < true < high
    assert low <= stats.percentile(data, q, digits=None) <= high
    assert high - low < 3.0  # and it is narrow: 2000 samples say a lot


def test_bootstrap_interval_is_reproducible_with_a_seed() -> None:
    data = np.random.default_rng(5).exponential(20.0, size=300)
    assert stats.bootstrap_interval(data, 99, seed=4) == stats.bootstrap_interval(data, 99, seed=4)
    assert stats.bootstrap_interval(data, 99, seed=4) != stats.bootstrap_interval(data, 99, seed=5)


def test_bootstrap_interval_needs_enough_samples() -> None:
    assert stats.bootstrap_interval([1.0] * 19, 50) == (-math.inf, math.inf)
    assert stats.bootstrap_interval([1.0] * 20, 50) == (1.0, 1.0)
