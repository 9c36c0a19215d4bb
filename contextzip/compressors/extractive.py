"""Sentence-level extractive selection: segment, score, then assemble within the budget.

Subclasses only score units; segmentation, the exact budget, leftover filling, original order and the
per-document accounting live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from contextzip.budget import Unit, WindowFn, assemble
from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.segment import split_sentences


@dataclass
class UnitBatch:
    """The sentences of one request: ``units[k]`` lies in document ``units[k].doc``."""

    request: CompressionRequest
    units: list[Unit]
    texts: list[str]

    def first_in_doc(self) -> np.ndarray:
        seen: set[int] = set()
        flags = []
        for u in self.units:
            flags.append(u.doc not in seen)
            seen.add(u.doc)
        return np.asarray(flags, dtype=bool)


def sentence_units(request: CompressionRequest) -> UnitBatch:
    units: list[Unit] = []
    texts: list[str] = []
    for d, doc in enumerate(request.documents):
        for span in split_sentences(doc.text):
            units.append(Unit(doc=d, start=span.start, end=span.end, score=0.0))
            texts.append(span.text)
    return UnitBatch(request, units, texts)


@dataclass
class Scored:
    """Unit scores of one request, optional document scores and the strategy that produced them."""

    unit_scores: np.ndarray
    doc_scores: np.ndarray | None = None
    strategy: str = ""
    min_score: float | None = None


class SentenceSelectionCompressor(BaseCompressor):
    """Base of compressors that keep whole sentences (plus the head of one more to fill the budget).

    Args:
        fill_budget: fill what whole sentences leave of the budget with the head of the best remaining one.
    """

    def __init__(self, *, fill_budget: bool = True, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.fill_budget = fill_budget

    @abstractmethod
    def _score(self, batches: list[UnitBatch]) -> list[Scored]:
        """Score the units of every request (all at once, so models can batch across requests)."""

    def score_sentences(self, requests: list[CompressionRequest]) -> list[tuple[UnitBatch, Scored]]:
        """The sentences of each request with their scores, without selecting any: for compressors that build
        on this one's relevance (the query-aware token classifier weighs words by their sentence's score)."""
        batches = [sentence_units(r) for r in requests]
        return list(zip(batches, self._score(batches), strict=True))

    def _window(self, request: CompressionRequest) -> WindowFn | None:
        """How to cut a sentence that does not fit whole; ``None`` keeps its head."""
        return None

    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        return self._compress_batch([request])[0]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        return [self.select(batch, scored) for batch, scored in self.score_sentences(requests)]

    def select(self, batch: UnitBatch, scored: Scored) -> CompressedOutput:
        """Keep the best sentences of one scored request within its budget; ``extra["kept_spans"]`` lists the
        ``(document, start, end)`` character spans kept (a sentence cut to fit included)."""
        for u, value in zip(batch.units, scored.unit_scores, strict=True):
            u.score = float(value)
        req = batch.request
        result = assemble(req.texts, batch.units, req.budget, req.counter, req.separator,
                          fill=self.fill_budget, min_score=scored.min_score, window=self._window(req))
        doc_scores = [float(x) for x in scored.doc_scores] if scored.doc_scores is not None else None
        return CompressedOutput(
            text=result.text, document_texts=result.doc_texts, document_full=result.doc_full,
            scores=doc_scores, strategy=scored.strategy, extra={"kept_spans": result.kept_units},
        )
