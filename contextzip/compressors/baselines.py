"""Reference baselines for benchmarks: random, BM25-only and embedding-only sentence selection.

Each is a :class:`~contextzip.scorers.SentenceScorer` in the shared sentence stages, so they share the exact
budget and leftover filling of every extractive compressor and comparisons measure the scoring alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from contextzip.budget import WindowFn
from contextzip.clauses import head_clauses
from contextzip.compressors.extractive import SentenceSelectionCompressor
from contextzip.engine import ScoringEngine
from contextzip.models import SentenceEmbedder
from contextzip.relevance import bm25_scores
from contextzip.scorers import Scored, Sentences, TextEmbedder
from contextzip.types import CompressionRequest

__all__ = ["BM25SentenceCompressor", "BM25SentenceScorer", "EmbeddingSentenceCompressor",
           "EmbeddingSentenceScorer", "RandomSentenceCompressor", "RandomSentenceScorer", "head_windows"]


def head_windows(request: CompressionRequest) -> WindowFn:
    """The baselines' way to cut a sentence that does not fit whole: keep its head of whole clauses."""
    texts, counter = request.texts, request.counter

    def window(doc: int, start: int, end: int, max_tokens: int) -> tuple[int, int]:
        s, e = head_clauses(texts[doc][start:end], max_tokens, counter)
        return start + s, start + e

    return window


def _position(b: Sentences) -> Scored:
    return Scored(-np.arange(len(b.units), dtype=np.float64), strategy="query-free: position")


class RandomSentenceScorer:
    """Random scores (a floor for any scoring); the same ``seed`` and request give the same scores, alone or in
    a batch."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def warm_up(self) -> None:
        return None

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        out = []
        for b in batches:
            key = zlib.crc32("\x00".join(b.texts).encode("utf-8", "surrogatepass"))
            out.append(Scored(np.random.default_rng([self.seed, key]).random(len(b.units)), strategy="random"))
        return out


class BM25SentenceScorer:
    """BM25 of each sentence for the query (position order without a query)."""

    def warm_up(self) -> None:
        return None

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        return [Scored(bm25_scores(b.request.query, b.texts), strategy="query: BM25") if b.request.query
                else _position(b) for b in batches]


class EmbeddingSentenceScorer:
    """Cosine between each sentence's embedding and the query's (one engine pass for every request)."""

    def __init__(self, embedder: TextEmbedder) -> None:
        self.embedder = embedder

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
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
                out.append(_position(b))
        return out


class RandomSentenceCompressor(SentenceSelectionCompressor):
    """Keeps randomly chosen sentences (a floor for any scoring). ``seed`` makes runs repeatable."""

    name = "random-sentences"

    def __init__(self, *, seed: int = 0, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(RandomSentenceScorer(seed), window=head_windows, **kwargs)


class BM25SentenceCompressor(SentenceSelectionCompressor):
    """Keeps the sentences with the highest BM25 score for the query (position order without a query)."""

    name = "bm25-sentences"
    uses_query = True

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(BM25SentenceScorer(), window=head_windows, **kwargs)


class EmbeddingSentenceCompressor(SentenceSelectionCompressor):
    """Keeps the sentences whose embedding is most similar to the query's (MiniLM by default)."""

    name = "embedding-sentences"
    uses_query = True

    def __init__(self, model_name_or_path: str = "minilm", *, device: str | None = None,
                 dtype: str | None = "auto", **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.embedder = SentenceEmbedder(model_name_or_path, engine=ScoringEngine(device=device, dtype=dtype))
        super().__init__(EmbeddingSentenceScorer(self.embedder), window=head_windows, **kwargs)
