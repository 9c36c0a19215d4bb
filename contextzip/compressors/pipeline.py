"""Coarse to fine: query-guided sentence selection, then query-aware token pruning down to the budget.

The coarse step (:class:`~contextzip.compressors.query_guided.QueryGuidedCompressor`) keeps the most relevant
whole sentences within the budget plus ``coarse_share`` of the tokens beyond it; the fine step
(:class:`~contextzip.compressors.token_classification_query.QueryAwareTokenClassificationCompressor`) drops the
least useful words of what is left, favouring the words of the most relevant sentences, until the text meets
the budget exactly. Both steps are extractive, so the output stays faithful: kept words in their original
order. Every request of a ``compress_batch`` call goes through each step in one batched pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from contextzip.budget import Unit, render_spans
from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.compressors.extractive import Scored, UnitBatch
from contextzip.compressors.token_classification import DEFAULT_MODEL
from contextzip.compressors.token_classification_query import QueryAwareTokenClassificationCompressor
from contextzip.types import Document


class CoarseToFineCompressor(BaseCompressor):
    """Sentences first (query-guided), then words (token classification with query relevance).

    Args:
        model_name_or_path: the token classifier of the fine step (see
            :class:`~contextzip.compressors.token_classification.TokenClassificationCompressor`).
        coarse_share: the coarse step keeps ``budget + coarse_share * (original - budget)`` tokens of sentences
            and the fine step prunes words down to the budget. In [0, 1]: 0 keeps whole sentences only (as
            ``query-guided``), 1 prunes words of the whole context. The default 0.12 prunes about 26% of the
            sentence tokens at rate 0.25 and about 52% at rate 0.1: the tighter the budget, the more sentences
            word pruning makes room for. (The defaults of this compressor were chosen on HotpotQA's 300
            questions, the only HotpotQA data here: see docs/benchmarks.md.)
        relevance_weight: the fine step's weight of sentence relevance against keep probability.
        answer_type_weight: the fine step's boost of numbers or names when the question asks for one.
        entity_weight, proximity_weight, whole_sentence_share: the fine step's priors for names and numbers, for
            words near the question's terms, and the share of the budget kept as whole top sentences (see
            :class:`~contextzip.compressors.token_classification_query.QueryAwareTokenClassificationCompressor`).
        device, dtype, batch_size: the shared engine's settings for both models.
        coarse: a query-guided compressor to use (and share) for the coarse step and the sentence relevance.
        fine: a query-aware token-classification compressor for the fine step.
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "coarse-to-fine"
    uses_query = True

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_MODEL,
        *,
        coarse_share: float = 0.12,
        relevance_weight: float = 1.5,
        answer_type_weight: float = 0.0,
        entity_weight: float = 0.5,
        proximity_weight: float = 1.0,
        whole_sentence_share: float = 0.75,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int | None = None,
        coarse: Any = None,
        fine: QueryAwareTokenClassificationCompressor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(coarse_share, bool) or not isinstance(coarse_share, (int, float)) \
                or not 0.0 <= coarse_share <= 1.0:
            raise ValueError(f"coarse_share must be a number in [0, 1], but got {coarse_share!r}")
        self.coarse_share = float(coarse_share)
        if coarse is None:
            from contextzip.compressors.query_guided import QueryGuidedCompressor

            coarse = QueryGuidedCompressor(device=device, dtype=dtype, batch_size=batch_size,
                                           token_counter=self.token_counter, separator=self.separator)
        self.coarse = coarse
        self.fine = fine or QueryAwareTokenClassificationCompressor(
            model_name_or_path, relevance_weight=relevance_weight, answer_type_weight=answer_type_weight,
            entity_weight=entity_weight, proximity_weight=proximity_weight,
            whole_sentence_share=whole_sentence_share, sentence_scorer=coarse, device=device,
            dtype=dtype, batch_size=batch_size, token_counter=self.token_counter, separator=self.separator,
        )

    def warm_up(self) -> None:
        self.coarse.warm_up()
        self.fine.warm_up()

    def _compress(self, request: CompressionRequest) -> CompressedOutput:
        return self._compress_batch([request])[0]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        counter = self.token_counter
        # Coarse: whole sentences within a larger budget. Sentences are scored once, on the full documents (so
        # document relevance and bridging see everything); the fine step reuses these scores.
        coarse_reqs = []
        for r in requests:
            extra = self.coarse_share * max(0, r.original_tokens - r.budget)
            budget = min(r.original_tokens, r.budget + math.ceil(extra))
            coarse_reqs.append(CompressionRequest(r.documents, r.query, budget, r.original_tokens,
                                                  r.document_tokens, r.counter, r.separator))
        scored = self.coarse.score_sentences(coarse_reqs)
        coarse_texts: list[list[str]] = []
        coarse_scores: list[list[float | None] | None] = []
        fine_sentences: list[tuple[UnitBatch, Scored]] = []
        for c, (batch, s) in zip(coarse_reqs, scored, strict=True):
            if c.budget < c.original_tokens:
                out = self.coarse.select(batch, s)
                kept = list((out.extra or {})["kept_spans"])
            else:  # the whole context fits the coarse budget: every sentence goes on to the fine step
                kept = [(u.doc, u.start, u.end) for u in batch.units]
            texts, sentences = _carry_scores(c, batch, s, kept)
            coarse_texts.append(texts)
            coarse_scores.append([float(x) for x in s.doc_scores] if s.doc_scores is not None else None)
            fine_sentences.append(sentences)
        # Fine: words, down to the budget.
        fine_reqs = []
        for r, texts in zip(requests, coarse_texts, strict=True):
            docs = [Document(t, d.id, d.metadata) for d, t in zip(r.documents, texts, strict=True)]
            joined = r.separator.join(t for t in texts if t.strip())
            fine_reqs.append(CompressionRequest(docs, r.query, r.budget, counter.count(joined) if joined else 0,
                                                counter.count_many(texts), r.counter, r.separator))
        for f, (batch, _) in zip(fine_reqs, fine_sentences, strict=True):
            batch.request = f
        prune = [i for i, f in enumerate(fine_reqs) if f.original_tokens > f.budget]
        fine_out: dict[int, CompressedOutput] = dict(zip(prune, self.fine._compress_batch(
            [fine_reqs[i] for i in prune], sentence_scores=[fine_sentences[i] for i in prune]), strict=True))
        outputs = []
        for i, (r, f) in enumerate(zip(requests, fine_reqs, strict=True)):
            if i in fine_out:
                out = fine_out[i]
                texts, text = out.document_texts, out.text
                extra = dict(out.extra or {})
            else:
                texts = f.texts
                text = r.separator.join(t for t in texts if t.strip())
                extra = {}
            full = [t == d.text for t, d in zip(texts, r.documents, strict=True)]
            extra["coarse_tokens"] = f.original_tokens
            outputs.append(CompressedOutput(
                text=text, document_texts=texts, document_full=full, scores=coarse_scores[i],
                strategy=(f"coarse-to-fine: query-guided sentences to {f.original_tokens} tokens, "
                          "then query-aware token pruning"),
                extra=extra,
            ))
        return outputs


def _carry_scores(request: CompressionRequest, batch: UnitBatch, scored: Scored,
                  kept: list[tuple[int, int, int]]) -> tuple[list[str], tuple[UnitBatch, Scored]]:
    """Render the kept spans per document and carry each one's sentence score to where it lies in the render."""
    starts = [np.asarray([u.start for u in batch.units if u.doc == d]) for d in range(len(request.documents))]
    index = [[k for k, u in enumerate(batch.units) if u.doc == d] for d in range(len(request.documents))]
    texts: list[str] = []
    units: list[Unit] = []
    unit_texts: list[str] = []
    values: list[float] = []
    for d, doc in enumerate(request.documents):
        pieces = sorted((a, b) for doc_id, a, b in kept if doc_id == d)
        text, where = render_spans(doc.text, pieces)
        texts.append(text)
        for (a, _), (ra, rb) in zip(pieces, where, strict=True):
            k = index[d][max(0, int(np.searchsorted(starts[d], a, side="right")) - 1)]
            units.append(Unit(doc=d, start=ra, end=rb, score=0.0))
            unit_texts.append(text[ra:rb])
            values.append(float(scored.unit_scores[k]))
    return texts, (UnitBatch(request, units, unit_texts), Scored(np.asarray(values), scored.doc_scores,
                                                                 scored.strategy))
