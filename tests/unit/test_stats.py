"""harness.results.stats: nearest-rank percentiles with a sample floor, and the noise intervals.

The intervals are checked on synthetic data with known answers: their coverage
on correlated data (a shared load factor per second) is close to nominal.
"""

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


# --- the block bootstrap ---------------------------------------------------------------------


def _trial(
    rng: np.random.Generator, seconds: int = 30, rate: float = 20, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Requests of one trial: each second shares a load factor (sd 0.25 on the log
    scale), each request adds its own noise (sd 0.3). The median is 40 ms x scale."""
    factor = rng.normal(0, 0.25, seconds)
    counts = rng.poisson(rate, seconds)
    second = np.repeat(np.arange(seconds), counts)
    times = second + rng.random(len(second))
    latency = 40 * scale * np.exp(factor[second] + rng.normal(0, 0.3, len(second)))
    return times, latency


def _resampled(
    times: np.ndarray, latency: np.ndarray, seconds: float, q: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    side = stats.Blocked.of(latency, times, 0.0, seconds, stats.block_seconds(seconds))
    weights = stats.block_weights(side.n_blocks, 500, rng)
    return stats.resampled_percentiles(side, weights, [q])[0], side.n_blocks


def test_resampled_percentiles_are_exact_nearest_ranks_of_each_round() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(3, 1, 3000)
    blocks = rng.integers(0, 37, 3000)
    side = stats.Blocked.from_blocks(values, blocks, 40)
    weights = stats.block_weights(40, 30, rng)
    found = stats.resampled_percentiles(side, weights, [50, 95, 99])
    for r in range(30):
        repeated = np.repeat(values, weights[r, blocks].astype(int))  # each block as often as drawn
        expected = stats.percentiles(repeated, [50, 95, 99], digits=None)
        assert found[:, r].tolist() == expected


def test_block_weights_draw_as_many_blocks_as_there_are() -> None:
    weights = stats.block_weights(12, 100, np.random.default_rng(0))
    assert weights.shape == (100, 13)
    assert (weights.sum(axis=1) == 12).all()
    assert (weights[:, 12] == 0).all()  # the padding column is never drawn


def _iid_interval(a: np.ndarray, b: np.ndarray, q: float, rng: np.random.Generator) -> bool:
    """The condemned method: i.i.d. resamples of single requests, two intervals, overlap."""

    def interval(x: np.ndarray) -> tuple[float, float]:
        found = np.percentile(rng.choice(x, size=(200, len(x))), q, axis=1)
        return float(np.percentile(found, 2.5)), float(np.percentile(found, 97.5))

    (la, ha), (lb, hb) = interval(a), interval(b)
    return not (ha < lb or hb < la)  # True: "within noise"


@pytest.mark.parametrize("q", [50.0, 95.0])
def test_block_bootstrap_of_the_ratio_covers_near_nominal_on_correlated_data(q: float) -> None:
    """A/A on data with a shared load factor per second: a 90% interval of the ratio holds
    the true ratio (1) about 90% of the time; the i.i.d. method's "within noise" far less."""
    rng = np.random.default_rng(7)
    covered = iid_within = 0
    pairs = 150
    for _ in range(pairs):
        (ta, a), (tb, b) = _trial(rng), _trial(rng)
        ra, blocks = _resampled(ta, a, 30, q, rng)
        rb, _ = _resampled(tb, b, 30, q, rng)
        pa, pb = stats.percentile(a, q), stats.percentile(b, q)
        change = stats.bootstrap_change(pa, pb, ra, rb, blocks, level=0.90)
        assert change.low is not None
        assert change.high is not None
        covered += change.low <= 0 <= change.high
        iid_within += _iid_interval(a, b, q, rng)
    assert 0.82 <= covered / pairs <= 0.97
    # two overlapping 95% intervals should call well under 1% of A/A pairs changed;
    # on correlated data the i.i.d. method calls a fifth or more of them changed
    assert iid_within / pairs < 0.8


def test_block_bootstrap_finds_a_real_change_and_covers_its_size() -> None:
    rng = np.random.default_rng(8)
    detected = covered = 0
    pairs = 100
    for _ in range(pairs):
        (ta, a), (tb, b) = _trial(rng, seconds=60), _trial(rng, seconds=60, scale=1.5)
        ra, blocks = _resampled(ta, a, 60, 50, rng)
        rb, _ = _resampled(tb, b, 60, 50, rng)
        change = stats.bootstrap_change(
            stats.percentile(a, 50), stats.percentile(b, 50), ra, rb, blocks, level=0.90
        )
        assert change.low is not None
        assert change.high is not None
        detected += change.verdict == stats.BEYOND
        covered += change.low <= 0.5 <= change.high
    assert detected / pairs >= 0.9
    assert 0.8 <= covered / pairs <= 0.98


def test_bootstrap_change_is_unknown_without_a_value_on_either_side() -> None:
    rounds = np.ones(10)
    assert stats.bootstrap_change(None, 5.0, rounds, rounds, 10).verdict == stats.UNKNOWN
    assert stats.bootstrap_change(5.0, 5.0, rounds, rounds, 1).verdict == stats.UNKNOWN
    nan = np.full(10, np.nan)
    assert stats.bootstrap_change(5.0, 5.0, nan, rounds, 10).verdict == stats.UNKNOWN


def test_bootstrap_change_of_values_that_can_be_zero_is_a_difference() -> None:
    zeros = np.zeros(50)
    change = stats.bootstrap_change(0.0, 0.0, zeros, zeros, 10)
    assert (change.scale, change.low, change.high, change.verdict) == (
        "difference",
        0.0,
        0.0,
        stats.WITHIN,
    )
    assert change.change is None  # relative to 0: no number


def test_bootstrap_interval_of_one_value() -> None:
    rng = np.random.default_rng(3)
    resampled = 40 * np.exp(rng.normal(0, 0.1, 2000))
    interval = stats.bootstrap_interval(40.0, resampled, 10, level=0.95)
    assert interval is not None
    low, high = interval
    assert low < 40 < high
    assert high / 40 == pytest.approx(40 / low)  # symmetric on the log scale
    assert stats.bootstrap_interval(None, resampled, 10) is None


# --- across trials --------------------------------------------------------------------------


def test_the_median_of_trials_is_a_value_one_trial_measured() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.0  # the lower middle, never 2.5
    with pytest.raises(ValueError, match="no values"):
        stats.median([])


def test_trial_interval_is_students_t_on_log_values() -> None:
    values = [10.0, 12.0, 11.0]
    logs = np.log(values)
    half = 4.302652729911275 * logs.std(ddof=1) / math.sqrt(3)  # t(0.975, 2 df)
    low, high = stats.trial_interval(values, 0.95)
    assert low == pytest.approx(math.exp(logs.mean() - half))
    assert high == pytest.approx(math.exp(logs.mean() + half))
    assert stats.trial_interval([0.0, 0.0, 0.0]) == (0.0, 0.0)  # zeros: on the values
    with pytest.raises(ValueError, match="two trials"):
        stats.trial_interval([1.0])


@pytest.mark.parametrize("trials", [3, 5])
def test_change_across_trials_covers_near_nominal(trials: int) -> None:
    """Trials whose values vary from run to run (sd 10% on the log scale): the 95% interval
    of the change holds the true change (+15%) about 95% of the time."""
    rng = np.random.default_rng(21)
    covered = 0
    sims = 1000
    for _ in range(sims):
        a = list(40 * np.exp(rng.normal(0, 0.1, trials)))
        b = list(46 * np.exp(rng.normal(0, 0.1, trials)))
        change = stats.change_across_trials(a, b, level=0.95)
        assert change.low is not None
        assert change.high is not None
        covered += change.low <= 0.15 <= change.high
    assert 0.92 <= covered / sims <= 0.98


def test_change_across_trials_aa_calls_about_one_in_a_hundred_beyond_noise() -> None:
    rng = np.random.default_rng(22)
    sims = 2000
    beyond = sum(
        stats.change_across_trials(
            list(40 * np.exp(rng.normal(0, 0.05, 3))), list(40 * np.exp(rng.normal(0, 0.05, 3)))
        ).verdict
        == stats.BEYOND
        for _ in range(sims)
    )
    assert beyond / sims <= 0.02  # the verdict level is 99%


def test_change_across_trials_detects_a_real_change_with_small_run_to_run_noise() -> None:
    change = stats.change_across_trials([40.2, 40.5, 40.1], [46.3, 46.1, 46.6])
    assert change.verdict == stats.BEYOND
    assert change.method == stats.TRIALS_METHOD
    assert change.change == pytest.approx(46.3 / 40.2 - 1)
    assert change.low is not None
    assert change.low > 0.1


def test_change_across_trials_is_unknown_with_a_missing_value_or_one_trial() -> None:
    assert stats.change_across_trials([1.0, None, 2.0], [1.0, 2.0, 3.0]).verdict == stats.UNKNOWN
    assert stats.change_across_trials([1.0], [1.0, 2.0]).verdict == stats.UNKNOWN
    same = stats.change_across_trials([0.0, 0.0], [0.0, 0.0])
    assert (same.verdict, same.scale) == (stats.WITHIN, "difference")
