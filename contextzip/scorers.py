"""The scorer protocols: where any model can stand in a compressor, and the data the stages exchange.

A compressor is segment -> score -> select within the budget -> render. The score stage is one of these
protocols, so a bi-encoder, a cross-encoder, a token classifier or a causal LM can take its place:

* :class:`SentenceScorer`: scores the sentences of many requests against their queries (query-guided relevance,
  BM25, a cross-encoder reranker ...);
* :class:`TokenScorer`: keep probabilities for the words of many texts (LLMLingua-2-style classifiers);
* :class:`LanguageModelScorer`: token ids and per-token negative log-likelihoods from a causal LM;
* :class:`TextEmbedder`: unit-length text embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from contextzip.budget import Unit
from contextzip.types import CompressionRequest

__all__ = ["LanguageModelScorer", "Scored", "SentenceScorer", "Sentences", "TextEmbedder", "TokenScorer",
           "WordProbabilities"]


@dataclass(frozen=True)
class Sentences:
    """The sentences of one request (the segment stage's output): ``units[k]`` lies in ``units[k].doc``."""

    request: CompressionRequest
    units: tuple[Unit, ...]
    texts: tuple[str, ...]

    def doc_of(self) -> np.ndarray:
        return np.asarray([u.doc for u in self.units], dtype=np.int64)

    def first_in_doc(self) -> np.ndarray:
        doc = self.doc_of()
        first = np.ones(len(doc), dtype=bool)
        first[1:] = doc[1:] != doc[:-1]
        return first

    def subset(self, keep: Sequence[int]) -> Sentences:
        """The same request with only the sentences at ``keep`` (in order)."""
        return Sentences(self.request, tuple(self.units[k] for k in keep), tuple(self.texts[k] for k in keep))


@dataclass(frozen=True)
class Scored:
    """Scores of one request's sentences, its documents' relevance in [0, 1] (or ``None``), the strategy that
    produced them, and an optional relevance cut-off below which no sentence is kept."""

    unit_scores: np.ndarray
    doc_scores: np.ndarray | None = None
    strategy: str = ""
    min_score: float | None = None

    def subset(self, keep: Sequence[int]) -> Scored:
        return Scored(np.asarray(self.unit_scores)[list(keep)], self.doc_scores, self.strategy, self.min_score)


@dataclass(frozen=True)
class WordProbabilities:
    """The words of one text, as character spans, with their keep probabilities."""

    starts: np.ndarray
    ends: np.ndarray
    probs: np.ndarray
    punct: np.ndarray  # the word is punctuation only


@runtime_checkable
class SentenceScorer(Protocol):
    """Scores every sentence of many requests in one batched pass (higher is more worth keeping)."""

    def warm_up(self) -> None: ...

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]: ...


@runtime_checkable
class TokenScorer(Protocol):
    """Keep probabilities of the words of many texts, in one batched pass."""

    def warm_up(self) -> None: ...

    def score(self, texts: Sequence[str]) -> list[WordProbabilities]: ...


@runtime_checkable
class LanguageModelScorer(Protocol):
    """A causal LM: token ids with character offsets, and per-token negative log-likelihoods."""

    def warm_up(self) -> None: ...

    def encode(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]: ...

    def token_nll(self, sequences: list[list[int]], desc: str = ...) -> list[np.ndarray]: ...


@runtime_checkable
class TextEmbedder(Protocol):
    """Unit-length embeddings, one row per text."""

    def warm_up(self) -> None: ...

    def encode(self, texts: Sequence[str], show_progress_bar: bool | None = None) -> np.ndarray: ...
