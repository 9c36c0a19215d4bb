"""Small statistics shared by the eval runner, the proxy's metrics and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (``q`` in [0, 1]) of ``values`` with linear interpolation; ``None`` when empty.

    The same definition as ``numpy.percentile(values, 100 * q)`` (its default "linear" method).
    """
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        raise ValueError(f"q must be in [0, 1], but got {q}")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rank_scale(values: Sequence[float]) -> np.ndarray:
    """Each value's rank scaled to [0, 1] (0 the smallest; ties share their mean rank); 0.5 for one value."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= 1:
        return np.full(len(values), 0.5)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    for f, c in zip(first, counts, strict=True):
        if c > 1:
            ranks[order[f:f + c]] = f + (c - 1) / 2
    return ranks / (len(values) - 1)


def bootstrap_interval(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``values`` (``level`` in (0, 1); ``None`` when empty):
    ``resamples`` draws of len(values) with replacement, seeded so the same values give the same interval."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), but got {level}")
    data = np.asarray(values, dtype=np.float64)
    if not len(data):
        return None
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))
