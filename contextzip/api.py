"""The one-call entry point: ``compress(documents, query, target_tokens=...)``."""

from __future__ import annotations

import threading
from typing import Any

from contextzip.compressors.base import BaseCompressor, DocumentsInput
from contextzip.registry import load_compressor
from contextzip.types import CompressionResult

_DEFAULTS: dict[tuple[str, Any], BaseCompressor] = {}
_LOCK = threading.Lock()


def get_compressor(name: str = "query-guided", token_counter: Any = None) -> BaseCompressor:
    """A shared, lazily built compressor per (name, token counter), so repeated calls reuse loaded models."""
    key = (name, token_counter)
    with _LOCK:
        if key not in _DEFAULTS:
            kwargs = {} if token_counter is None else {"token_counter": token_counter}
            _DEFAULTS[key] = load_compressor(name, **kwargs)
        return _DEFAULTS[key]


def resolve_compressor(compressor: str | BaseCompressor, token_counter: Any = None) -> BaseCompressor:
    """``compressor`` itself when it is a compressor instance, else the shared one for that registry name."""
    if isinstance(compressor, BaseCompressor):
        return compressor
    if isinstance(compressor, str):
        return get_compressor(compressor, token_counter)
    raise TypeError(f"compressor must be a registry name or a compressor, but got {type(compressor).__name__}")


def compress(
    documents: DocumentsInput,
    query: str | None = None,
    target_tokens: int | None = None,
    rate: float | None = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
) -> CompressionResult:
    """Compress retrieved context to a token budget, keeping what ``query`` needs.

    Args:
        documents: a str, a :class:`~contextzip.Document`, or a list of str / Document / {"text", "id", "metadata"}.
        query: the question the context should answer; ``None`` uses query-free importance.
        target_tokens: the budget in tokens (exclusive with ``rate``).
        rate: the budget as a fraction of the input's tokens, in (0, 1] (exclusive with ``target_tokens``).
        compressor: a registry name (see ``contextzip models`` / ``contextzip.registry.compressor_names()``)
            or a compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>".

    Returns:
        A :class:`~contextzip.CompressionResult`; ``str(result)`` is the compressed text.

    Example:
        >>> from contextzip import compress
        >>> result = compress(["Paris is the capital of France.", "Bananas are yellow."],
        ...                   query="What is the capital of France?", target_tokens=8)
        >>> result.compressed_tokens <= 8
        True
    """
    comp = resolve_compressor(compressor, token_counter)
    return comp.compress(documents, query, target_tokens=target_tokens, rate=rate)
