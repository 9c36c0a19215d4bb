"""Coarse to fine: query-guided sentence selection, then query-aware token pruning down to the budget.

The coarse step (:class:`~contextzip.compressors.query_guided.QueryGuidedCompressor`) keeps the most relevant
whole sentences within the budget plus ``coarse_share`` of the tokens beyond it; the fine step
(:class:`~contextzip.compressors.token_classification.QueryAwareTokenClassificationCompressor`) drops the
least useful words of what is left, favouring the words of the most relevant sentences, until the text meets
the budget exactly. Both steps are extractive, so the output stays faithful: kept words in their original
order. Every request of a ``compress_batch`` call goes through each step in one batched pass.
"""

from __future__ import annotations

import math
from typing import Any

from contextzip.compressors.base import BaseCompressor, CompressedOutput, CompressionRequest
from contextzip.compressors.token_classification import DEFAULT_MODEL, QueryAwareTokenClassificationCompressor
from contextzip.types import Document


class CoarseToFineCompressor(BaseCompressor):
    """Sentences first (query-guided), then words (token classification with query relevance).

    Args:
        model_name_or_path: the token classifier of the fine step (see
            :class:`~contextzip.compressors.token_classification.TokenClassificationCompressor`).
        coarse_share: the coarse step keeps ``budget + coarse_share * (original - budget)`` tokens of sentences
            and the fine step prunes words down to the budget. In [0, 1]: 0 keeps whole sentences only (as
            ``query-guided``), 1 prunes words of the whole context. The default 0.15 prunes about 31% of the
            sentence tokens at rate 0.25 and about 57% at rate 0.1: the tighter the budget, the more sentences
            word pruning makes room for. (The defaults of this compressor were chosen on HotpotQA's 300
            questions, the only HotpotQA data here: see docs/benchmarks.md.)
        relevance_weight: the fine step's weight of sentence relevance against keep probability.
        answer_type_weight: the fine step's boost of numbers or names when the question asks for one.
        entity_weight, proximity_weight, whole_sentence_share: the fine step's priors for names and numbers, for
            words near the question's terms, and the share of the budget kept as whole top sentences (see
            :class:`~contextzip.compressors.token_classification.QueryAwareTokenClassificationCompressor`).
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
        coarse_share: float = 0.15,
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
        # Coarse: whole sentences within a larger budget.
        coarse_reqs = []
        for r in requests:
            extra = self.coarse_share * max(0, r.original_tokens - r.budget)
            budget = min(r.original_tokens, r.budget + math.ceil(extra))
            coarse_reqs.append(CompressionRequest(r.documents, r.query, budget, r.original_tokens,
                                                  r.document_tokens, r.counter, r.separator))
        todo = [i for i, c in enumerate(coarse_reqs) if c.budget < c.original_tokens]
        coarse_texts: list[list[str]] = [r.texts for r in requests]
        coarse_scores: list[list[float | None] | None] = [None] * len(requests)
        for i, out in zip(todo, self.coarse._compress_batch([coarse_reqs[i] for i in todo]), strict=True):
            coarse_texts[i] = out.document_texts
            coarse_scores[i] = out.scores
        # Fine: words, down to the budget.
        fine_reqs = []
        for r, texts in zip(requests, coarse_texts, strict=True):
            docs = [Document(t, d.id, d.metadata) for d, t in zip(r.documents, texts, strict=True)]
            joined = r.separator.join(t for t in texts if t.strip())
            fine_reqs.append(CompressionRequest(docs, r.query, r.budget, counter.count(joined) if joined else 0,
                                                counter.count_many(texts), r.counter, r.separator))
        prune = [i for i, f in enumerate(fine_reqs) if f.original_tokens > f.budget]
        fine_out: dict[int, CompressedOutput] = dict(
            zip(prune, self.fine._compress_batch([fine_reqs[i] for i in prune]), strict=True)
        )
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
