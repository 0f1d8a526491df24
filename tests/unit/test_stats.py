"""harness.results.stats: nearest-rank percentiles with a sample floor, and the bootstrap interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.results import stats


@pytest.mark.parametrize(
    ("q", "needed"), [(50, 20), (90, 100), (95, 200), (99, 1000), (99.9, 10_000)]
)
def test_a_percentile_needs_ten_over_one_minus_q_samples(q: float, needed: int) -> None:
    assert stats.min_samples(q) == needed
    values = list(range(1, needed + 1))
    assert stats.percentile(values[:-1], q) is None  # one short: no number
    assert stats.percentile(values, q) is not None


@pytest.mark.parametrize(
    ("n", "q", "expected"),
    [
        (20, 50, 10.0),  # rank ceil(0.5 * 20) = 10
        (21, 50, 11.0),  # rank ceil(10.5) = 11
        (200, 95, 190.0),
        (1000, 99, 990.0),
        (1001, 99, 991.0),  # rank ceil(990.99) = 991: a measured value, never interpolated
    ],
)
def test_percentile_is_the_nearest_rank(n: int, q: float, expected: float) -> None:
    values = [float(v) for v in range(1, n + 1)]
    assert stats.percentile(values, q) == expected
    assert stats.percentile(list(reversed(values)), q) == expected  # order does not matter


def test_percentile_is_always_a_measured_value() -> None:
    values = np.random.default_rng(7).lognormal(2, 1, size=1001)
    for q in (50, 95, 99):
        assert stats.percentile(values, q, digits=None) in set(values.tolist())


def test_percentile_rounds_to_three_digits_unless_told_otherwise() -> None:
    values = [0.1234567] * 20
    assert stats.percentile(values, 50) == 0.123
    assert stats.percentile(values, 50, digits=1) == 0.1
    assert stats.percentile(values, 50, digits=None) == 0.1234567


def test_no_samples_give_no_number_never_a_zero() -> None:
    assert stats.percentile([], 99) is None
    assert stats.percentile(np.array([]), 50) is None
    assert stats.percentiles([], [50, 99]) == [None, None]
    assert stats.maximum([]) is None


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
