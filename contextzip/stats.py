"""Small statistics shared by the eval runner, the proxy's metrics and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence


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
