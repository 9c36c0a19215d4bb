"""Reference baselines for benchmarks: random, BM25-only and embedding-only sentence selection.

They share the exact budget and leftover filling of every extractive compressor, so comparisons measure the
scoring alone.
"""

from __future__ import annotations

import numpy as np

from contextzip.compressors.extractive import Scored, SentenceSelectionCompressor, UnitBatch
from contextzip.engine import ScoringEngine
from contextzip.models import SentenceEmbedder
from contextzip.relevance import bm25_scores


class RandomSentenceCompressor(SentenceSelectionCompressor):
    """Keeps randomly chosen sentences (a floor for any scoring). ``seed`` makes runs repeatable."""

    name = "random-sentences"

    def __init__(self, *, seed: int = 0, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._rng = np.random.default_rng(seed)

    def _score(self, batches: list[UnitBatch]) -> list[Scored]:
        return [Scored(self._rng.random(len(b.units)), strategy="random") for b in batches]


class BM25SentenceCompressor(SentenceSelectionCompressor):
    """Keeps the sentences with the highest BM25 score for the query (position order without a query)."""

    name = "bm25-sentences"
    uses_query = True

    def _score(self, batches: list[UnitBatch]) -> list[Scored]:
        out = []
        for b in batches:
            if b.request.query:
                out.append(Scored(bm25_scores(b.request.query, b.texts), strategy="query: BM25"))
            else:
                out.append(Scored(-np.arange(len(b.units), dtype=np.float64), strategy="query-free: position"))
        return out


class EmbeddingSentenceCompressor(SentenceSelectionCompressor):
    """Keeps the sentences whose embedding is most similar to the query's (MiniLM by default)."""

    name = "embedding-sentences"
    uses_query = True

    def __init__(self, model_name_or_path: str = "minilm", *, device: str | None = None,
                 dtype: str | None = "auto", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.embedder = SentenceEmbedder(model_name_or_path, engine=ScoringEngine(device=device, dtype=dtype))

    def _score(self, batches: list[UnitBatch]) -> list[Scored]:
        texts = [t for b in batches for t in b.texts] + [b.request.query for b in batches if b.request.query]
        vectors = self.embedder.encode(texts) if texts else np.zeros((0, 1))
        out, offset = [], 0
        qpos = sum(len(b.texts) for b in batches)
        for b in batches:
            units = vectors[offset:offset + len(b.texts)]
            offset += len(b.texts)
            if b.request.query:
                out.append(Scored(units @ vectors[qpos], strategy="query: MiniLM cosine"))
                qpos += 1
            else:
                out.append(Scored(-np.arange(len(b.units), dtype=np.float64), strategy="query-free: position"))
        return out
