"""Argument checks shared by every constructor: one wording for every bad value."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

__all__ = ["check_number", "check_positive_int"]


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int > 0, or a ``ValueError`` that names ``name`` and the bad value."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int, but got {value!r}")
    return int(value)


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a float in ``[low, high]`` (either bound optional), or a ``ValueError`` naming it."""
    ok = not isinstance(value, bool) and isinstance(value, Real) and value == value
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        where = (f"in [{low}, {high}]" if low is not None and high is not None
                 else f">= {low}" if low is not None else f"<= {high}" if high is not None else "a number")
        raise ValueError(f"{name} must be a number {where}, but got {value!r}")
    return float(value)
