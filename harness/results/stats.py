"""The one place percentiles are computed, and the intervals ``compare`` judges noise by.

Percentiles are by nearest rank (a value that was measured, never one
interpolated between two), and only from enough samples (:func:`min_samples`);
every number in ``summary.json``, the calibrations, the plots and ``compare``
comes from this one definition.

Noise is judged two ways, never from i.i.d. resamples of single requests
(neighbouring requests share a storm, a checkpoint, a GC pause):

- across trials (:func:`change_across_trials`): each trial gives one value per
  metric; the change between two sets of trials is judged by Student's t
  (Welch) on log values, so run-to-run variation is in the interval;
- within one trial (:func:`resampled_percentiles`): requests are grouped in
  blocks of seconds, whole blocks are resampled (bursts stay together), and
  the quantity that matters, the ratio of the two sides, is resampled, not
  two separate intervals (:func:`bootstrap_change`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Values = Sequence[float] | np.ndarray[Any, Any]


def _array(values: Values) -> np.ndarray[Any, Any]:
    return np.asarray(values, dtype=float)


def min_samples(q: float) -> int:
    """Fewest samples that give the ``q``-th percentile meaning: ``10 / (1 - q)``.

    With fewer, the percentile is one of the last handful of values (p99 of
    200 requests is the 2nd largest) and moves with any single outlier.
    p50 needs 20, p95 200, p99 1,000.
    """
    return math.ceil(round(10 / (1 - q / 100), 6))  # rounded: 1 - 0.999 is not exact


def percentile(values: Values, q: float, *, digits: int | None = 3) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by nearest rank, or None with too few.

    Nearest rank: the smallest value with at least ``q``% of the values at or
    below it (always a value that was measured). None when there are fewer
    than :func:`min_samples` values: the number would not be true.
    """
    return percentiles(values, [q], digits=digits)[0]


def percentiles(
    values: Values, qs: Sequence[float], *, digits: int | None = 3
) -> list[float | None]:
    """Several percentiles of the same values (one sort), as :func:`percentile` gives each."""
    array = np.sort(_array(values))
    found: list[float | None] = []
    for q in qs:
        if len(array) < min_samples(q):
            found.append(None)
            continue
        rank = max(1, math.ceil(q / 100 * len(array)))
        value = float(array[rank - 1])
        found.append(value if digits is None else round(value, digits))
    return found


def maximum(values: Values, *, digits: int | None = 3) -> float | None:
    """The largest value, rounded like the percentiles beside it; None when there is none."""
    array = _array(values)
    if not len(array):
        return None
    found = float(array.max())
    return found if digits is None else round(found, digits)


# --- across trials ---------------------------------------------------------------------------

# Verdicts ("beyond noise") use a 99% interval: a 95% one calls 1 in 20 unchanged metrics
# changed, and a comparison judges dozens of them at once.
VERDICT_LEVEL = 0.99
# The interval summary.json gives each metric across its trials.
SUMMARY_LEVEL = 0.95
# the intervals use the resamples' spread (not their tails): a thousand rounds pin it to ~2%
BOOTSTRAP_ROUNDS = 1000
BEYOND = "beyond noise"
WITHIN = "within noise"
UNKNOWN = "unknown"
TRIALS_METHOD = "across trials (Welch t on log values)"
BOOTSTRAP_METHOD = "block bootstrap within one trial"


def median(values: Sequence[float]) -> float:
    """The nearest-rank median: the lower middle value, always one a trial measured."""
    if not values:
        raise ValueError("the median of no values")
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) / 2) - 1]


def t_quantile(level: float, df: float) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtrit  # imported here: only compare needs it

    return float(stdtrit(df, (1 + level) / 2))


def _positive(values: Sequence[float]) -> bool:
    return all(v > 0 for v in values)


def trial_interval(values: Sequence[float], level: float = SUMMARY_LEVEL) -> tuple[float, float]:
    """A ``level`` interval for the typical value of a metric across trials (two or more).

    Student's t on the log values when all are positive (latencies are skewed:
    the interval is for the geometric mean), else on the values themselves.
    """
    if len(values) < 2:
        raise ValueError("an interval across trials needs two trials or more")
    log = _positive(values)
    x = np.log(values) if log else np.asarray(values, dtype=float)
    center = float(x.mean())
    half = t_quantile(level, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    low, high = center - half, center + half
    return (math.exp(low), math.exp(high)) if log else (low, high)


@dataclass(frozen=True)
class Change:
    """How B differs from A for one metric, and whether that is beyond the noise.

    ``change`` is B over A minus 1 (None when A is 0 or either is unknown).
    ``low``/``high`` bound the change at ``level``: relative (like ``change``)
    when ``scale`` is "ratio", B minus A when it is "difference" (a metric that
    can be 0, such as an error rate). ``verdict`` is "beyond noise" when the
    interval leaves out no change, "within noise" when it holds it, "unknown"
    when there is not enough to tell (too few samples or trials).
    """

    a: float | None
    b: float | None
    change: float | None
    low: float | None
    high: float | None
    scale: str
    verdict: str
    method: str
    level: float

    @property
    def beyond_noise(self) -> bool | None:
        return None if self.verdict == UNKNOWN else self.verdict == BEYOND


def _relative(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or a == 0 else b / a - 1


def unknown_change(a: float | None, b: float | None, method: str, level: float) -> Change:
    return Change(a, b, _relative(a, b), None, None, "ratio", UNKNOWN, method, level)


def _verdict(low: float, high: float) -> str:
    return BEYOND if low > 0 or high < 0 else WITHIN


def change_across_trials(
    a: Sequence[float | None], b: Sequence[float | None], level: float = VERDICT_LEVEL
) -> Change:
    """The change from trials ``a`` to trials ``b`` (two or more each), judged by Welch's t.

    Every trial must have the value: a metric missing from one trial (too
    few samples there) is unknown. On positive values the interval is for the
    ratio of geometric means, else for the difference of means.
    """
    if len(a) < 2 or len(b) < 2 or any(v is None for v in (*a, *b)):
        ma = median([v for v in a if v is not None]) if a and None not in a else None
        mb = median([v for v in b if v is not None]) if b and None not in b else None
        return unknown_change(ma, mb, TRIALS_METHOD, level)
    va = [float(v) for v in a if v is not None]
    vb = [float(v) for v in b if v is not None]
    ma, mb = median(va), median(vb)
    ratio = _positive(va) and _positive(vb)
    xa = np.log(va) if ratio else np.asarray(va)
    xb = np.log(vb) if ratio else np.asarray(vb)
    diff = float(xb.mean() - xa.mean())
    var_a = float(xa.var(ddof=1)) / len(xa)
    var_b = float(xb.var(ddof=1)) / len(xb)
    spread = var_a + var_b
    if spread == 0:
        low = high = diff
    else:
        df = spread**2 / (var_a**2 / (len(xa) - 1) + var_b**2 / (len(xb) - 1))
        half = t_quantile(level, df) * math.sqrt(spread)
        low, high = diff - half, diff + half
    verdict = _verdict(low, high)
    if ratio:
        low, high = math.expm1(low), math.expm1(high)
    return Change(
        ma,
        mb,
        _relative(ma, mb),
        low,
        high,
        "ratio" if ratio else "difference",
        verdict,
        TRIALS_METHOD,
        level,
    )


# --- within one trial: the block bootstrap ---------------------------------------------------


def block_seconds(phase_seconds: float) -> float:
    """Block length for a phase: the cube root of its length (s), at least 2 s.

    Long enough to keep a burst together, short enough to leave blocks to
    resample (a 30 s phase: 3 s blocks, 10 of them).
    """
    return float(max(2, round(phase_seconds ** (1 / 3))))


@dataclass(frozen=True)
class Blocked:
    """One side's samples, sorted, each with the block (span of seconds) it fell in."""

    values: np.ndarray[Any, Any]
    blocks: np.ndarray[Any, Any]
    n_blocks: int

    @classmethod
    def of(
        cls,
        values: Values,
        times: Values,
        start: float,
        seconds: float,
        block_s: float,
    ) -> Blocked:
        n_blocks = max(1, math.ceil(seconds / block_s))
        index = np.floor((_array(times) - start) / block_s).astype(np.int64)
        index = np.clip(index, 0, n_blocks - 1)
        return cls.from_blocks(values, index, n_blocks)

    @classmethod
    def from_blocks(cls, values: Values, blocks: Values, n_blocks: int) -> Blocked:
        """Samples whose blocks (0 to ``n_blocks - 1``) are already known."""
        array = _array(values)
        order = np.argsort(array, kind="stable")
        return cls(array[order], np.asarray(blocks, dtype=np.int64)[order], n_blocks)


def block_sums(blocks: Values, values: Values, n_blocks: int) -> np.ndarray[Any, Any]:
    """The sum of ``values`` in each block (``blocks`` gives each value's block)."""
    found: np.ndarray[Any, Any] = np.bincount(
        np.asarray(blocks, dtype=np.int64), weights=_array(values), minlength=n_blocks
    )
    return found


def block_weights(n_blocks: int, rounds: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """How often each block is drawn in each round (``rounds x (n_blocks + 1)``, last column 0)."""
    picks = rng.integers(0, n_blocks, size=(rounds, n_blocks))
    flat = (picks + np.arange(rounds)[:, None] * (n_blocks + 1)).ravel()
    counts = np.bincount(flat, minlength=rounds * (n_blocks + 1))
    weights: np.ndarray[Any, Any] = counts.reshape(rounds, n_blocks + 1).astype(float)
    return weights


def resampled_percentiles(
    side: Blocked, weights: np.ndarray[Any, Any], qs: Sequence[float], chunk: int = 128
) -> np.ndarray[Any, Any]:
    """Nearest-rank percentiles of every block-resampled round (``len(qs) x rounds``), exactly.

    A round is the samples of its drawn blocks, each block as often as drawn.
    The sorted samples are cut into segments; the weighted count below each
    segment is one matrix product per round, and only the segment holding the
    rank is walked: ``rounds x sqrt(n x blocks)`` work instead of
    ``rounds x n``. NaN where a round drew no samples.
    """
    n, n_blocks = len(side.values), side.n_blocks
    rounds = weights.shape[0]
    found = np.full((len(qs), rounds), np.nan)
    if n == 0:
        return found
    segments = max(1, math.ceil(math.sqrt(n / n_blocks)))
    width = math.ceil(n / segments)
    segments = math.ceil(n / width)
    blocks = np.full(segments * width, n_blocks)  # padding: the never-drawn column
    blocks[:n] = side.blocks
    values = np.full(segments * width, np.inf)
    values[:n] = side.values
    segment = np.arange(segments * width) // width
    counts = np.bincount(
        segment * (n_blocks + 1) + blocks, minlength=segments * (n_blocks + 1)
    ).reshape(segments, n_blocks + 1)
    below = np.vstack([np.zeros((1, n_blocks + 1)), np.cumsum(counts, axis=0)])
    offsets = np.arange(width)
    for start in range(0, rounds, chunk):
        w = weights[start : start + chunk]
        rows = np.arange(len(w))
        weighted_below = w @ below.T  # rounds x (segments + 1)
        total = weighted_below[:, segments]
        for i, q in enumerate(qs):
            rank = np.maximum(1.0, np.ceil(np.round(q / 100 * total, 6)))
            j = np.minimum((weighted_below < rank[:, None]).sum(axis=1) - 1, segments - 1)
            index = j[:, None] * width + offsets
            cumulative = weighted_below[rows, j][:, None] + np.cumsum(
                w[rows[:, None], blocks[index]], axis=1
            )
            position = np.argmax(cumulative >= rank[:, None], axis=1)
            chosen = values[index[rows, position]]
            chosen[total == 0] = np.nan
            found[i, start : start + len(w)] = chosen
    return found


def resampled_sums(per_block: np.ndarray[Any, Any], weights: np.ndarray[Any, Any]) -> Any:
    """Each round's total of a per-block quantity."""
    return weights[:, : len(per_block)] @ per_block


def bootstrap_change(
    a: float | None,
    b: float | None,
    resampled_a: np.ndarray[Any, Any],
    resampled_b: np.ndarray[Any, Any],
    blocks: int,
    level: float = VERDICT_LEVEL,
) -> Change:
    """The change from A to B judged by block-bootstrap resamples of both sides.

    The spread of the resampled log ratio (or difference, when a value can be
    0) gives its standard error, inflated by ``blocks / (blocks - 1)`` and
    taken with Student's t on ``blocks - 1`` degrees of freedom: with a few
    dozen blocks a plain percentile interval is too narrow. Unknown when a
    side has no value or a round found none.
    """
    if a is None or b is None or blocks < 2:
        return unknown_change(a, b, BOOTSTRAP_METHOD, level)
    ra, rb = np.asarray(resampled_a, dtype=float), np.asarray(resampled_b, dtype=float)
    if not (np.isfinite(ra).all() and np.isfinite(rb).all()):
        return unknown_change(a, b, BOOTSTRAP_METHOD, level)
    ratio = a > 0 and b > 0 and bool((ra > 0).all() and (rb > 0).all())
    if ratio:
        observed, spread = math.log(b / a), np.log(rb) - np.log(ra)
    else:
        observed, spread = b - a, rb - ra
    se = float(np.std(spread, ddof=1)) * math.sqrt(blocks / (blocks - 1))
    half = t_quantile(level, blocks - 1) * se
    low, high = observed - half, observed + half
    verdict = _verdict(low, high)
    if ratio:
        low, high = math.expm1(low), math.expm1(high)
    return Change(
        a,
        b,
        _relative(a, b),
        low,
        high,
        "ratio" if ratio else "difference",
        verdict,
        BOOTSTRAP_METHOD,
        level,
    )


def bootstrap_interval(
    value: float | None,
    resampled: np.ndarray[Any, Any],
    blocks: int,
    level: float = SUMMARY_LEVEL,
) -> tuple[float, float] | None:
    """A ``level`` interval for one trial's value from its block-bootstrap resamples.

    The resamples' spread on the log scale (on values when one is 0 or less),
    inflated by ``blocks / (blocks - 1)``, with Student's t on ``blocks - 1``
    degrees of freedom. None when there is no value or too few blocks.
    """
    array = np.asarray(resampled, dtype=float)
    if value is None or blocks < 2 or not np.isfinite(array).all():
        return None
    log = value > 0 and bool((array > 0).all())
    spread = np.log(array) if log else array
    half = (
        t_quantile(level, blocks - 1)
        * float(np.std(spread, ddof=1))
        * math.sqrt(blocks / (blocks - 1))
    )
    if log:
        return value * math.exp(-half), value * math.exp(half)
    return value - half, value + half
