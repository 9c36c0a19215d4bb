"""Coarse to fine: query-guided sentence selection, then query-aware token pruning down to the budget.

The coarse step (:class:`~contextzip.compressors.query_guided.QueryGuidedCompressor`) keeps the most relevant
whole sentences within the budget plus ``coarse_share`` of the tokens beyond it; the fine step
(:class:`~contextzip.compressors.token_classification_query.QueryAwareTokenClassificationCompressor`) drops the
least useful words of what is left, favouring the words of the most relevant sentences, until the text meets
the budget exactly. Both steps are extractive, so the output stays faithful: kept words in their original
order. Every request of a ``compress_batch`` call goes through each step in one batched pass.

A request of a single document (one retrieved passage, a document-QA paragraph) has no documents to choose
between, so by default it takes the :class:`SingleDocument` settings: the fine step prunes the words of the whole
passage, led by the answer-span head where the sentence scorer has one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from contextzip.budget import Unit
from contextzip.compressors.base import BaseCompressor, CompressedOutput
from contextzip.compressors.cross_encoder import DEFAULT_MODEL as DEFAULT_RELEVANCE_MODEL
from contextzip.compressors.cross_encoder import CrossEncoderScorer, explain_relevance_cut
from contextzip.compressors.cross_encoder import sentence_scorer as make_scorer
from contextzip.compressors.extractive import segment_sentences
from contextzip.compressors.reranked import RerankedScorer
from contextzip.compressors.token_classification import DEFAULT_MODEL, restrict_units, select_words
from contextzip.compressors.token_classification_query import QueryAwareTokenClassificationCompressor
from contextzip.compressors.word_units import Units
from contextzip.engine import ScoringEngine
from contextzip.onnx_embedder import check_backend, sentence_embedder
from contextzip.relevance import query_window
from contextzip.scorers import Scored, Sentences, SentenceScorer, TextEmbedder
from contextzip.static_embedder import as_prefilter
from contextzip.types import CompressionRequest

__all__ = ["CoarseToFineCompressor", "SingleDocument"]


@dataclass(frozen=True)
class SingleDocument:
    """The settings of coarse-to-fine for a request of exactly one document (the arguments of the same names of
    :class:`CoarseToFineCompressor`, which apply to requests of several documents).

    With one passage there are no documents to choose between, and the sentence that holds the answer is often
    longer than the budget, so the coarse step hands on every sentence (``coarse_share`` 1.0) and the fine step
    ranks the passage's words by keep probability, the answer-span head (``answer_span_weight``), the asked-for
    answer type and a little sentence relevance, with the small words inside a kept phrase lifted towards it
    (``bridge_weight``). Chosen on NQ's tune split (questions 1-300) at rate 0.25 among 24 settings
    (``docs/sections/relevance.md``): with ``rerank="contextzip-relevance"``, answer retention 0.627 with the
    multi-document settings, 0.797 with these; without a cross-encoder, 0.447 and 0.743 (before the bridge).

    With ``min_relevance`` set, such a request drops the words that score under ``word_cut`` x its best word's
    score (instead of the sentences under ``min_relevance``): the kept share then follows how much of the passage
    the model finds relevant (Provence's adaptive pruning, at the word level). 0.45 was chosen on NQ tune at rate
    1.0 among 0.4, 0.45, 0.475 and 0.5 (``docs/sections/relevance.md``); 0 turns the word cut off (the sentence cut-off applies).
    """

    coarse_share: float = 1.0
    relevance_weight: float = 0.5
    answer_type_weight: float = 0.5
    entity_weight: float = 0.0
    proximity_weight: float = 0.0
    whole_sentence_share: float = 0.0
    answer_span_weight: float = 2.0
    bridge_weight: float = 0.5
    word_cut: float = 0.45

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"single_document.{f.name} must be a number >= 0, but got {value!r}")
        for name in ("coarse_share", "whole_sentence_share", "bridge_weight", "word_cut"):
            if getattr(self, name) > 1:
                raise ValueError(f"single_document.{name} must be in [0, 1], but got {getattr(self, name)!r}")


def _single_document(value: SingleDocument | Mapping[str, float] | None) -> SingleDocument | None:
    if value is None or isinstance(value, SingleDocument):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {f.name for f in fields(SingleDocument)}
        if unknown:
            raise ValueError(f"single_document has no setting {sorted(unknown)[0]!r}; "
                             f"known: {', '.join(f.name for f in fields(SingleDocument))}")
        return SingleDocument(**value)
    raise TypeError(f"single_document must be a SingleDocument, a mapping of its settings or None, "
                    f"but got {value!r}")


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
        answer_span_weight: the fine step's boost of words at and near the likely answer, from a sentence scorer
            with an answer-span head (``contextzip-relevance``, as ``sentence_scorer`` or ``rerank``; no effect
            otherwise). 1.0 was chosen on the tune split among 0, 0.5, 1 and 2 (``docs/sections/relevance.md``).
        device, dtype, batch_size: the shared engine's settings for both models.
        backend: how the default sentence scorer's MiniLM runs, as for
            :class:`~contextzip.compressors.query_guided.QueryGuidedCompressor` ("auto": ONNX Runtime int8 on a
            CPU with ``dtype="auto"``, torch otherwise; "torch"; "onnx").
        prefilter: a static first stage of the default sentence scorer's dense signal, as for
            :class:`~contextzip.compressors.query_guided.QueryGuidedCompressor` ("minilm-static", another
            model2vec model or :class:`~contextzip.scorers.TextEmbedder`); ``None`` (default): MiniLM embeds every
            sentence. Not the default here: on HotpotQA's tune half "minilm-static" kept 1 and 2 more answers at
            rates 0.25 and 0.1, but on the report half 3 fewer at 0.1 (retention 0.794 against 0.817).
        sentence_scorer: the :class:`~contextzip.scorers.SentenceScorer` of the coarse step and of the fine
            step's sentence relevance (by default the query-guided scorer on the packaged MiniLM), or a model
            name or path ("contextzip-relevance", a Hugging Face cross-encoder or reranker).
        rerank: a cross-encoder (name or path, e.g. "contextzip-relevance") that rereads the sentences of the best
            documents of the sentence scorer's ranking (:class:`~contextzip.compressors.reranked.RerankedScorer`).
        min_relevance: the coarse step drops sentences whose keep probability is under it even within the
            budget (see :class:`~contextzip.compressors.query_guided.QueryGuidedCompressor`); uses
            "contextzip-relevance" when no ``sentence_scorer`` is given.
        single_document: the settings for a request of one document (:class:`SingleDocument`, or a mapping of
            its fields, as ``-o single_document='{"coarse_share": 0.5}'`` on the command line); ``None``: the
            arguments above for every request.
        fine: a query-aware token-classification compressor for the fine step (its word units and scores); when
            given, it serves every request and ``single_document`` sets only the coarse share and the word cut.
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
        answer_span_weight: float = 1.0,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int | None = None,
        backend: str = "auto",
        prefilter: TextEmbedder | str | None = None,
        sentence_scorer: SentenceScorer | str | None = None,
        rerank: str | None = None,
        min_relevance: float | None = None,
        single_document: SingleDocument | Mapping[str, float] | None = SingleDocument(),  # noqa: B008 (frozen)
        fine: QueryAwareTokenClassificationCompressor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(coarse_share, bool) or not isinstance(coarse_share, (int, float)) \
                or not 0.0 <= coarse_share <= 1.0:
            raise ValueError(f"coarse_share must be a number in [0, 1], but got {coarse_share!r}")
        self.coarse_share = float(coarse_share)
        self.single_document = _single_document(single_document)
        check_backend(backend)  # even when a sentence scorer is given
        self.min_relevance = min_relevance
        if min_relevance is not None:
            self.compresses_within_budget = True  # the cut applies to input within its budget as well
            sentence_scorer = sentence_scorer or (None if rerank else DEFAULT_RELEVANCE_MODEL)
        engine = ScoringEngine(device=device, dtype=dtype, batch_size=batch_size)
        if sentence_scorer is not None:
            sentence_scorer = make_scorer(sentence_scorer, engine, min_relevance)
        if sentence_scorer is None:
            from contextzip.compressors.query_guided import QueryGuidedScorer

            first = as_prefilter(prefilter)
            sentence_scorer = QueryGuidedScorer(sentence_embedder("minilm", engine, backend, dtype), prefilter=first)
        if rerank is not None:
            sentence_scorer = RerankedScorer(sentence_scorer, CrossEncoderScorer(rerank, engine=engine),
                                             min_relevance=min_relevance)
        self.sentence_scorer = sentence_scorer

        def make_fine(**weights: float) -> QueryAwareTokenClassificationCompressor:
            return QueryAwareTokenClassificationCompressor(
                model_name_or_path, **weights, sentence_scorer=sentence_scorer, device=device, dtype=dtype,
                batch_size=batch_size, token_counter=self.token_counter, separator=self.separator)

        self.fine = fine or make_fine(
            relevance_weight=relevance_weight, answer_type_weight=answer_type_weight, entity_weight=entity_weight,
            proximity_weight=proximity_weight, whole_sentence_share=whole_sentence_share,
            answer_span_weight=answer_span_weight)
        self.single_fine = self.fine  # the fine step of single-document requests
        if fine is None and self.single_document is not None:
            weights = {k: v for k, v in asdict(self.single_document).items() if k not in ("coarse_share", "word_cut")}
            self.single_fine = make_fine(**weights)

    def warm_up(self) -> None:
        self.sentence_scorer.warm_up()
        self.fine.warm_up()
        if self.single_fine is not self.fine:
            self.single_fine.warm_up()

    def _is_single(self, request: CompressionRequest) -> bool:
        return self.single_document is not None and len(request.documents) == 1

    def _word_cut(self, request: CompressionRequest) -> float:
        """The single-document word cut of this request (0: none)."""
        if self.min_relevance is None or not self._is_single(request):
            return 0.0
        return self.single_document.word_cut  # type: ignore[union-attr]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        # Segment and score sentences once, on the full documents (document relevance and bridging see
        # everything); the coarse step keeps the best sentences within the coarse budget (by their token
        # estimates: the exact budget is the fine step's), the fine step weighs words by these same scores.
        sentences = [segment_sentences(r) for r in requests]
        scored = self.sentence_scorer.score_sentences(sentences)
        units = self.fine.word_units(requests)  # every document through the token classifier, one pass
        shares = [self.single_document.coarse_share if self._is_single(r) else self.coarse_share  # type: ignore[union-attr]
                  for r in requests]
        # with a word cut, the single-document request keeps every sentence here (the cut applies to words below)
        coarse = [self.coarse_selection(r, s, replace(sc, min_score=None) if self._word_cut(r) else sc, share)
                  for r, s, sc, share in zip(requests, sentences, scored, shares, strict=True)]
        restricted = []
        for r, (kept, _, _), doc_units in zip(requests, coarse, units, strict=True):
            spans = [[(u.start, u.end) for u in kept.units if u.doc == d] for d in range(len(r.documents))]
            restricted.append([restrict_units(u, sp) for u, sp in zip(doc_units, spans, strict=True)])
        pairs: list[tuple[Sentences, Scored] | None] = [(kept, kept_scores) for kept, kept_scores, _ in coarse]
        scores: list[list[np.ndarray]] = [[] for _ in requests]
        for fine, single in ((self.fine, False), (self.single_fine, True)):
            todo = [i for i, r in enumerate(requests) if self._is_single(r) == single]
            if todo:
                got = fine.unit_scores([requests[i] for i in todo], [restricted[i] for i in todo],
                                       [pairs[i] for i in todo])
                for i, g in zip(todo, got, strict=True):
                    scores[i] = g
        for i, r in enumerate(requests):
            if cut := self._word_cut(r):
                restricted[i], scores[i] = _cut_words(restricted[i], scores[i], cut)
        outputs = []
        for r, u, sc, sent, (_, _, coarse_tokens) in zip(requests, restricted, scores, scored, coarse, strict=True):
            doc_scores = [float(x) for x in sent.doc_scores] if sent.doc_scores is not None else None
            how = (f"coarse-to-fine{' (single-document settings)' if self._is_single(r) else ''}: query-guided "
                   f"sentences to ~{coarse_tokens} tokens, then query-aware token pruning")
            out = select_words(r, u, sc, how, doc_scores)
            out = replace(out, extra={**(out.extra or {}), "coarse_tokens": coarse_tokens})
            out = explain_relevance_cut(out, r.budget, self.min_relevance)
            if (cut := self._word_cut(r)) and out.tokens is not None and out.tokens < 0.95 * r.budget:
                out = replace(out, under_budget_reason=(
                    f"relevance cut-off (min_relevance={self.min_relevance:g}, one document): words scoring under "
                    f"{cut:g} x the best word's score were dropped ({out.tokens} of {r.budget} tokens used)"))
            outputs.append(out)
        return outputs

    def coarse_selection(self, request: CompressionRequest, sentences: Sentences, scored: Scored,
                         coarse_share: float | None = None) -> tuple[Sentences, Scored, int]:
        """The coarse step: the best sentences within ``budget + coarse_share x (original - budget)`` estimated
        tokens, best first; a sentence that does not fit whole hands on its best window of words for the question
        when at least half of it fits, or when nothing is kept yet (the fine step prunes words anyway). Returns the
        kept sentences (windows as shortened spans), their scores and their estimated size."""
        costs = request.counter.count_many([" " + t for t in sentences.texts])
        share = self.coarse_share if coarse_share is None else coarse_share
        extra = share * max(0, request.original_tokens - request.budget)
        limit = min(request.original_tokens, request.budget + math.ceil(extra))
        score = np.asarray(scored.unit_scores, dtype=np.float64)
        if limit >= request.original_tokens and scored.min_score is None:
            return sentences, scored, int(sum(costs))
        chosen: dict[int, Unit] = {}
        used = 0
        for k in np.lexsort((np.arange(len(score)), -score)).tolist():
            if scored.min_score is not None and score[k] < scored.min_score:
                continue
            room = limit - used
            unit = sentences.units[k]
            if costs[k] <= room:
                chosen[k], used = unit, used + costs[k]
            elif room >= 3 and (room >= 0.5 * costs[k] or not chosen):
                a, b = query_window(sentences.texts[k], request.query, room, request.counter)
                if b > a:
                    chosen[k] = Unit(unit.doc, unit.start + a, unit.start + b)
                    used += request.counter.count(" " + sentences.texts[k][a:b])
        if not chosen and len(score) and limit > 0:  # every sentence is longer than the limit and has no window
            best = int(np.lexsort((np.arange(len(score)), -score))[0])  # (emoji, unspaced text): the fitter cuts it
            if scored.min_score is None or score[best] >= scored.min_score:
                chosen[best], used = sentences.units[best], costs[best]
        keep = sorted(chosen)
        text = request.documents
        view = Sentences(request, tuple(chosen[k] for k in keep),
                         tuple(text[chosen[k].doc].text[chosen[k].start:chosen[k].end] for k in keep))
        return view, scored.subset(keep), used


def _cut_words(units: list[Units], scores: list[np.ndarray], cut: float) -> tuple[list[Units], list[np.ndarray]]:
    """Only the units scoring at least ``cut`` x the request's best unit score (and the forced ones)."""
    best = max((float(np.max(s)) for s in scores if len(s)), default=0.0)
    out_units, out_scores = [], []
    for u, s in zip(units, scores, strict=True):
        keep = (np.asarray(s) >= cut * best) | u.forced
        out_units.append(Units(u.starts[keep], u.ends[keep], u.probs[keep], u.forced[keep]))
        out_scores.append(np.asarray(s)[keep])
    return out_units, out_scores
