"""Rerank a shortlist: a cheap sentence scorer ranks every document, a cross-encoder rereads the best few.

:class:`RerankedScorer` (a :class:`~contextzip.scorers.SentenceScorer`) keeps the base scorer's sentence and
document scores (query-guided's dense + BM25 + priors by default) and adds ``weight`` x the cross-encoder's keep
probability for the sentences of the ``top_documents`` best documents, so the cross-encoder's cost stays a
fraction of the context's (Provence's setting: a reranker that also prunes, on the retrieved top-k). Its
answer-span probabilities (when the model has that head) come along, so query-guided cuts a sentence too long to
keep whole around its likely answer. With ``min_relevance``, sentences whose keep probability is under it are
dropped even within the budget (those outside the shortlist count as 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contextzip.compressors.cross_encoder import CrossEncoderScorer, SpanScored
from contextzip.scorers import Scored, Sentences, SentenceScorer

__all__ = ["RerankedScorer"]


class RerankedScorer:
    """A base scorer's ranking plus a cross-encoder's reading of the top documents.

    Args:
        base: scores every sentence and document (its ``doc_scores`` choose the shortlist).
        cross: the cross-encoder (:class:`~contextzip.compressors.cross_encoder.CrossEncoderScorer`).
        top_documents: how many of the best documents the cross-encoder reads (4 and ``weight`` 1.0 were chosen
            on the tune split among 2/3/4 x 0.5/1/2: ``training/tune_relevance.py``).
        weight: weight of the cross-encoder's keep probability against the base score.
        answer_weight: weight of the cross-encoder's best answer-span probability in each sentence (models with
            that head; 0: not used). 1.0 was chosen on the tune split against 0 (query-guided and coarse-to-fine,
            HotpotQA 0.1 / 0.25 and NQ 0.25: ``docs/sections/relevance.md``).
        min_relevance: keep no sentence (but the best) whose keep probability is under it.
    """

    def __init__(self, base: SentenceScorer, cross: CrossEncoderScorer, *, top_documents: int = 4,
                 weight: float = 1.0, answer_weight: float = 1.0, min_relevance: float | None = None) -> None:
        if not isinstance(top_documents, int) or top_documents <= 0:
            raise ValueError(f"top_documents must be a positive int, but got {top_documents!r}")
        if min_relevance is not None and not 0.0 <= float(min_relevance) <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1] or None, but got {min_relevance!r}")
        self.base, self.cross = base, cross
        self.top_documents, self.weight, self.answer_weight = top_documents, float(weight), float(answer_weight)
        self.min_relevance = None if min_relevance is None else float(min_relevance)

    @property
    def trained_on(self) -> tuple[str, ...]:
        return self.cross.trained_on

    def warm_up(self) -> None:
        self.base.warm_up()
        self.cross.warm_up()

    def shortlist(self, b: Sentences, scored: Scored) -> list[int]:
        """Indices of the sentences in the ``top_documents`` best documents (by the base's document scores)."""
        n_docs = len(b.request.documents)
        doc_scores = np.asarray(scored.doc_scores if scored.doc_scores is not None else np.zeros(n_docs))
        best = set(np.argsort(-doc_scores, kind="stable")[: self.top_documents].tolist())
        return [k for k, u in enumerate(b.units) if u.doc in best]

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        batches = list(batches)
        base = self.base.score_sentences(batches)
        chosen = [self.shortlist(b, sc) if b.units and b.request.query else [] for b, sc in zip(batches, base,
                                                                                                    strict=True)]
        todo = [i for i, keep in enumerate(chosen) if keep]
        rel = dict(zip(todo, self.cross.probabilities([batches[i].subset(chosen[i]) for i in todo]), strict=True))
        out: list[Scored] = []
        for i, (b, sc) in enumerate(zip(batches, base, strict=True)):
            if i not in rel:
                out.append(sc)
                continue
            keep = chosen[i]
            p = np.zeros(len(b.units))
            p[keep] = rel[i].sentences
            score = np.asarray(sc.unit_scores, dtype=np.float64) + self.weight * p
            if self.answer_weight:
                a = np.zeros(len(b.units))
                a[keep] = rel[i].best_answer()
                score = score + self.answer_weight * a
            spans = None
            if rel[i].answer_spans is not None:
                empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
                spans_list = [empty] * len(b.units)
                for k, s in zip(keep, rel[i].answer_spans, strict=True):
                    spans_list[k] = s
                spans = tuple(spans_list)
            cut = None
            if self.min_relevance is not None:
                below = p < self.min_relevance
                below[int(np.argmax(score))] = False  # the best sentence always may stay
                low = float(score.min())
                score = np.where(below, low - 1.0, score)
                cut = low - 0.5
            out.append(SpanScored(score, sc.doc_scores, f"{sc.strategy}; reranked by {self.cross.model.model_name_or_path}"
                                  f" (top {self.top_documents} documents)", cut, spans))
        return out
