"""The one place percentiles are computed, and the bootstrap interval ``compare`` judges noise by.

Percentiles are numpy's default method (linear interpolation between the two
closest ranks), so every number in ``summary.json``, the calibrations, the
plots and ``compare`` comes from the same definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Values = Sequence[float] | np.ndarray[Any, Any]

BOOTSTRAP_ROUNDS = 200
BOOTSTRAP_MIN_SAMPLES = 20


def _array(values: Values) -> np.ndarray[Any, Any]:
    return np.asarray(values, dtype=float)


def percentile(values: Values, q: float, *, digits: int | None = 3, empty: float = 0.0) -> float:
    """The ``q``-th percentile (0-100) of ``values``, rounded to ``digits`` (None: not rounded).

    ``empty`` is returned when there are no values.
    """
    array = _array(values)
    if not len(array):
        return empty
    found = float(np.percentile(array, q))
    return found if digits is None else round(found, digits)


def percentiles(
    values: Values, qs: Sequence[float], *, digits: int | None = 3, empty: float = 0.0
) -> list[float]:
    """Several percentiles of the same values (one sort), as :func:`percentile` gives each."""
    array = _array(values)
    if not len(array):
        return [empty for _ in qs]
    found = [float(v) for v in np.percentile(array, list(qs))]
    return found if digits is None else [round(v, digits) for v in found]


def maximum(values: Values, *, digits: int | None = 3, empty: float = 0.0) -> float:
    """The largest value, rounded like the percentiles beside it; ``empty`` when there is none."""
    array = _array(values)
    if not len(array):
        return empty
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
