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
