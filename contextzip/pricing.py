"""What the saved tokens are worth: a small table of input-token prices and :func:`estimate_saving`.

::

    from contextzip.pricing import estimate_saving, set_price
    estimate_saving(result.tokens_saved, "gpt-4o-mini", requests=10_000).usd   # 10k such requests
    set_price("my-finetune", 1.25)                                               # USD per 1M input tokens

The prices are list prices for *input* tokens, USD per million, and they change: check your provider's page and
override them (:func:`set_price`, or ``prices={...}`` per call) before you rely on a figure.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

# USD per 1M input tokens (standard tier, no caching or batch discount).
# Source: the list prices on https://openai.com/api/pricing and https://www.anthropic.com/pricing as of
# 2025-06-01, written down from those pages' published figures, not re-fetched when this table was added
# (the build machine reaches no network): verify them before quoting a figure.
PRICES_AS_OF = "2025-06-01"
PRICES_USD_PER_MILLION: dict[str, float] = {
    "gpt-4o": 2.50,
    "gpt-4o-mini": 0.15,
    "gpt-4.1": 2.00,
    "gpt-4.1-mini": 0.40,
    "gpt-4.1-nano": 0.10,
    "o3": 2.00,
    "o4-mini": 1.10,
    "claude-opus-4": 15.00,
    "claude-sonnet-4": 3.00,
    "claude-3-5-haiku": 0.80,
}
_LOCK = threading.Lock()


def set_price(model: str, usd_per_million_input_tokens: float) -> None:
    """Add or replace a model's input price (USD per million tokens) for this process."""
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty str, but got {model!r}")
    if not isinstance(usd_per_million_input_tokens, (int, float)) or usd_per_million_input_tokens < 0:
        raise ValueError(f"the price must be a number >= 0, but got {usd_per_million_input_tokens!r}")
    with _LOCK:
        PRICES_USD_PER_MILLION[model] = float(usd_per_million_input_tokens)


@dataclass(frozen=True)
class Saving:
    """An estimated saving: ``tokens_saved`` input tokens (over ``requests`` requests) at ``usd_per_million``."""

    model: str
    tokens_saved: int
    requests: int
    usd_per_million: float
    prices_as_of: str

    @property
    def usd(self) -> float:
        return self.tokens_saved * self.requests * self.usd_per_million / 1_000_000


def price_of(model: str, prices: Mapping[str, float] | None = None) -> float:
    """The input price of ``model`` (``prices`` first, then the table); a dated snapshot such as
    ``gpt-4o-2024-08-06`` falls back to its family (the longest table name it starts with)."""
    table = {**PRICES_USD_PER_MILLION, **(prices or {})}
    if model in table:
        return table[model]
    family = max((name for name in table if model.startswith(name + "-")), key=len, default=None)
    if family is None:
        raise ValueError(f"no price for model {model!r}; known: {sorted(table)}. Pass prices={{{model!r}: "
                         "USD per 1M input tokens} or call contextzip.pricing.set_price()")
    return table[family]


def estimate_saving(tokens_saved: int, model: str, *, requests: int = 1,
                    prices: Mapping[str, float] | None = None) -> Saving:
    """What ``tokens_saved`` fewer input tokens per request, over ``requests`` requests, save on ``model``."""
    if not isinstance(tokens_saved, int) or tokens_saved < 0:
        raise ValueError(f"tokens_saved must be an int >= 0, but got {tokens_saved!r}")
    if not isinstance(requests, int) or requests <= 0:
        raise ValueError(f"requests must be > 0, but got {requests!r}")
    return Saving(model, tokens_saved, requests, price_of(model, prices),
                  PRICES_AS_OF if prices is None or model not in prices else "caller's price")
