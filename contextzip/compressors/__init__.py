"""Compressor classes. Each has ``compress()`` and ``compress_batch()``; see :class:`BaseCompressor`.

Classes import lazily, so ``import contextzip.compressors`` stays cheap and optional dependencies load only
with the compressor that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest

if TYPE_CHECKING:
    from contextzip.compressors.query_guided import QueryGuidedCompressor  # noqa: F401
    from contextzip.compressors.truncate import TruncateCompressor  # noqa: F401

_LAZY = {
    "TruncateCompressor": "contextzip.compressors.truncate",
    "QueryGuidedCompressor": "contextzip.compressors.query_guided",
    "QueryGuidedWeights": "contextzip.compressors.query_guided",
    "SentenceSelectionCompressor": "contextzip.compressors.extractive",
    "RandomSentenceCompressor": "contextzip.compressors.baselines",
    "BM25SentenceCompressor": "contextzip.compressors.baselines",
    "EmbeddingSentenceCompressor": "contextzip.compressors.baselines",
    "TokenClassificationCompressor": "contextzip.compressors.token_classification",
    "QueryAwareTokenClassificationCompressor": "contextzip.compressors.token_classification_query",
    "CoarseToFineCompressor": "contextzip.compressors.pipeline",
    "PerplexityCompressor": "contextzip.compressors.perplexity",
    "LongPerplexityCompressor": "contextzip.compressors.perplexity",
    "AbstractiveCompressor": "contextzip.compressors.abstractive",
}

__all__ = ["BaseCompressor", "CompressedOutput", "CompressionRequest", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'contextzip.compressors' has no attribute {name!r}")
