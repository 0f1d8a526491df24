"""The one place percentiles are computed, and the bootstrap interval ``compare`` judges noise by.

Percentiles are by nearest rank (a value that was measured, never one
interpolated between two), and only from enough samples (:func:`min_samples`);
every number in ``summary.json``, the calibrations, the plots and ``compare``
comes from this one definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Values = Sequence[float] | np.ndarray[Any, Any]

BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_MIN_SAMPLES = 20


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


def bootstrap_interval(
    values: Values,
    q: float,
    *,
    seed: int = 0,
    rounds: int = BOOTSTRAP_ROUNDS,
    min_samples: int = BOOTSTRAP_MIN_SAMPLES,
) -> tuple[float, float]:
    """A 95% bootstrap interval of the ``q``-th percentile of ``values``.

    ``rounds`` resamples (with replacement, from a generator seeded with
    ``seed``, so the same input gives the same interval); with fewer than
    ``min_samples`` values the interval is unbounded (nothing can be told).
    """
    array = _array(values)
    if len(array) < min_samples:
        return float("-inf"), float("inf")
    rng = np.random.default_rng(seed)
    samples = rng.choice(array, size=(rounds, len(array)), replace=True)
    estimates = np.percentile(samples, q, axis=1)
    return float(np.percentile(estimates, 2.5)), float(np.percentile(estimates, 97.5))
