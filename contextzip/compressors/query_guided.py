"""Query-guided compression, coarse to fine: rank documents, then sentences, then fill the budget.

Each sentence is scored against the query with a dense signal (MiniLM cosine, the document's title prepended)
and a lexical one (BM25 plus query-term coverage); each document likewise. In a long context, static word-piece
vectors distilled from MiniLM (``minilm-static``) score every sentence first, and MiniLM embeds only the best
candidates, at most :data:`DENSE_TOKENS` word pieces per request, so its cost stays bounded. A sentence's score
mixes its own relevance with its document's, so the budget flows to the documents that matter (the coarse step)
and, inside them, to the sentences that matter (the fine step). Documents whose title is named by the best documents get a
share of their relevance (the bridge entity of a multi-hop question), and sentences holding the kind of answer a
wh-question asks for (a date for "when", a number for "how many", a name for "who") get a prior. Kept sentences
stay in their original order. A sentence too long to keep whole is cut to its best run of whole clauses (at
budgets of at least :data:`CLAUSE_BUDGET` tokens) or phrases (under it), weighted by content words, numbers and
names near the question's terms (see :mod:`contextzip.compressors.query_windows`), and leftover budget is
filled the same way, an elision marker where text was dropped between kept pieces.

Without a query the same machinery scores query-free importance: each sentence's similarity to the centroid of
the context (centrality) plus a lead-sentence prior, and the result says so (``strategy``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contextzip.compressors.base import CompressedOutput
from contextzip.compressors.cross_encoder import DEFAULT_MODEL as DEFAULT_RELEVANCE_MODEL
from contextzip.compressors.cross_encoder import (
    CrossEncoderScorer,
    answer_windows,
    explain_relevance_cut,
    sentence_scorer,
)
from contextzip.compressors.extractive import SentenceSelectionCompressor, segment_sentences, select_sentences
from contextzip.compressors.query_windows import (
    CLAUSE_BUDGET,
    query_auto_windows,
    query_clause_windows,
    query_windows,
    query_word_windows,
    whole_clauses,
)
from contextzip.compressors.reranked import RerankedScorer
from contextzip.engine import ScoringEngine
from contextzip.lexicon import answer_type, has_answer_type, lexical_terms
from contextzip.onnx_embedder import check_backend, sentence_embedder
from contextzip.relevance import (
    bm25_scores,
    bridge_relevance,
    document_title,
    minmax,
    term_overlap,
)
from contextzip.render import ELISION
from contextzip.scorers import Scored, Sentences, SentenceScorer, TextEmbedder
from contextzip.static_embedder import DEFAULT_STATIC_MODEL, as_prefilter
from contextzip.types import CompressionRequest

logger = logging.getLogger(__name__)

__all__ = ["ALIKE_DOCUMENTS", "CLAUSE_BUDGET", "DENSE_TOKENS", "QueryGuidedCompressor", "QueryGuidedScorer", "QueryGuidedWeights",
           "query_auto_windows", "query_clause_windows", "query_windows", "query_word_windows"]

# The dense model (MiniLM) embeds at most about this many word pieces per request: the sentences that the static
# first stage ranks highest (the one that crosses the line included). A request under it is embedded whole, as
# without a first stage. Chosen on HotpotQA's tune half against 256 and 512 (docs/sections/performance.md).
DENSE_TOKENS = 384

# ... but only where the static vectors tell the documents apart: when the mean cosine between the request's
# documents (static vectors, title prepended) is at least this, MiniLM embeds every sentence. On SQuAD with 9
# distractor paragraphs of the same article (mean cosine ~0.79) the static ranking missed answer sentences that
# MiniLM ranks first (600 questions: 586 answers kept at rate 0.25 against 597); HotpotQA's documents from
# different articles sit at ~0.53. Chosen on the tune halves of both among 0.65 / 0.70 / 0.75.
ALIKE_DOCUMENTS = 0.70


@dataclass(frozen=True)
class QueryGuidedWeights:
    """How the signals mix: a sentence's own relevance (dense, lexical, coverage, averaged by these weights), plus
    ``document`` x its document's relevance, ``lead`` for a document's first sentence, ``bridge`` x the relevance
    a document inherits when a top document names it, and ``answer_type`` when it holds the asked-for kind of
    answer. Defaults were chosen on the first 300 NQ questions and HotpotQA's 300; ``benchmarks/`` re-measures."""

    dense: float = 1.0
    lexical: float = 0.6
    coverage: float = 0.4
    document: float = 1.0
    lead: float = 0.15
    bridge: float = 0.5
    answer_type: float = 0.6


def _mean_similarity(doc_vecs: np.ndarray) -> float:
    """The mean cosine between distinct documents (unit rows; empty documents left out); 0 for fewer than two."""
    rows = doc_vecs[np.linalg.norm(doc_vecs, axis=1) > 0]
    n = len(rows)
    return float(((rows @ rows.T).sum() - n) / (n * (n - 1))) if n >= 2 else 0.0


@dataclass(frozen=True)
class _FirstStage:
    scored: Scored  # every sentence scored with the prefilter as the dense model
    candidates: np.ndarray  # the sentences the dense model embeds, in order
    dense: np.ndarray  # the prefilter's dense term of every sentence (min-max scaled)


class QueryGuidedScorer:
    """The query-guided sentence relevance (a :class:`~contextzip.scorers.SentenceScorer`): dense (any
    :class:`~contextzip.scorers.TextEmbedder`, MiniLM by default) + BM25 + query-term coverage, per sentence and
    per document, document-weighted, bridged, with lead and answer-type priors; query-free centrality without a
    question. Every distinct text of every request is embedded in one engine pass.

    Args:
        embedder: the dense model.
        weights: how the signals mix (:class:`QueryGuidedWeights`).
        use_titles: prepend ``metadata["title"]`` to sentences and documents.
        prefilter: a cheap first stage of the dense signal (the compressor's default: a static
            :class:`~contextzip.static_embedder.StaticEmbedder`), or ``None``. A request with a question and more
            than ``dense_tokens`` word pieces is first scored with it in place of ``embedder`` (same signals and
            weights); ``embedder`` then embeds only the best-ranked sentences, up to ``dense_tokens`` word pieces,
            and their dense term becomes its own (min-max scaled among them); the rest keep their first-stage
            scores. So the embedder's cost per request is bounded whatever the context's length. Smaller and
            query-free requests, and those whose documents are too alike for static vectors to choose among
            (:data:`ALIKE_DOCUMENTS`), are scored as without a first stage.
        dense_tokens: that bound, in word pieces (the prefilter's ``count_tokens``, else 4/3 per word + 2).
    """

    def __init__(self, embedder: TextEmbedder, weights: QueryGuidedWeights | None = None,
                 use_titles: bool = True, prefilter: TextEmbedder | None = None,
                 dense_tokens: int = DENSE_TOKENS) -> None:
        if isinstance(dense_tokens, bool) or not isinstance(dense_tokens, int) or dense_tokens < 1:
            raise ValueError(f"dense_tokens must be a positive int, but got {dense_tokens!r}")
        self.embedder = embedder
        self.weights = weights or QueryGuidedWeights()
        self.use_titles = use_titles
        self.prefilter = prefilter
        self.dense_tokens = dense_tokens

    def warm_up(self) -> None:
        self.embedder.warm_up()
        if self.prefilter is not None:
            self.prefilter.warm_up()

    def score_sentences(self, batches: Sequence[Sentences]) -> list[Scored]:
        return self._score(list(batches))

    def _embed_all(self, batches: list[Sentences], views: list[list[str]]) -> tuple[dict[str, int], np.ndarray]:
        """One engine pass over every distinct text of every request (queries and sentences)."""
        texts: dict[str, int] = {}

        def add(t: str) -> None:
            if t not in texts:
                texts[t] = len(texts)

        for b, unit_views in zip(batches, views, strict=True):
            if b.request.query:
                add(b.request.query)
            for t in unit_views:
                add(t)
        vectors = self.embedder.encode(list(texts))
        return texts, vectors

    def _titles(self, b: Sentences) -> list[str]:
        return [document_title(d.metadata) if self.use_titles else "" for d in b.request.documents]

    def _unit_views(self, b: Sentences) -> list[str]:
        titles = self._titles(b)
        return [f"{titles[u.doc]}: {t}" if titles[u.doc] else t for u, t in zip(b.units, b.texts, strict=True)]

    def _doc_views(self, b: Sentences) -> list[str]:
        titles = self._titles(b)
        return [f"{t}: {d.text}" if t else d.text for t, d in zip(titles, b.request.documents, strict=True)]

    def _score(self, batches: list[Sentences]) -> list[Scored]:
        if not any(b.units for b in batches):
            return [Scored(np.zeros(0)) for _ in batches]
        views = [self._unit_views(b) for b in batches]  # "title: sentence", built once per request
        first = [self._first_stage(b, v) for b, v in zip(batches, views, strict=True)]
        # the dense model reads every sentence of a request without a first stage, the candidates of the others
        dense_views = [v if f is None else [v[k] for k in f.candidates] for v, f in zip(views, first, strict=True)]
        index, vectors = self._embed_all(batches, dense_views)
        out = []
        for b, unit_views, f in zip(batches, views, first, strict=True):
            if not b.units:
                out.append(Scored(np.zeros(0), np.zeros(len(b.request.documents)), "empty"))
                continue
            if f is not None:
                out.append(self._refine(f, vectors[index[b.request.query or ""]],
                                        vectors[[index[unit_views[k]] for k in f.candidates]]))
                continue
            unit_vecs = vectors[[index[t] for t in unit_views]]
            doc_views = self._doc_views(b)
            doc_vecs = self._document_vectors(b, unit_vecs)
            if b.request.query:
                out.append(self._score_query(b, vectors[index[b.request.query]], unit_vecs, doc_vecs, unit_views,
                                             doc_views))
            else:
                out.append(self._score_centrality(b, unit_vecs))
        return out

    def _first_stage(self, b: Sentences, unit_views: list[str]) -> _FirstStage | None:
        """Score every sentence with the prefilter; the candidates are the best-ranked, up to ``dense_tokens``."""
        if self.prefilter is None or not b.request.query or not b.units:
            return None
        count = getattr(self.prefilter, "count_tokens", None)
        tokens = np.asarray(count(unit_views) if count is not None else
                            [len(t.split()) * 4 / 3 + 2 for t in unit_views], dtype=np.float64)
        if tokens.sum() <= self.dense_tokens:
            return None
        vectors = self.prefilter.encode([b.request.query, *unit_views])
        q, unit_vecs = vectors[0], vectors[1:]
        doc_vecs = self._document_vectors(b, unit_vecs)
        if _mean_similarity(doc_vecs) >= ALIKE_DOCUMENTS:
            return None  # documents this alike: the static ranking cannot choose among them
        scored = self._score_query(b, q, unit_vecs, doc_vecs, unit_views, self._doc_views(b))
        order = np.argsort(-scored.unit_scores, kind="stable")
        n = min(len(order), int(np.searchsorted(np.cumsum(tokens[order]), self.dense_tokens, side="right")) + 1)
        return _FirstStage(scored, np.sort(order[:n]), minmax(unit_vecs @ q))

    def _refine(self, f: _FirstStage, q: np.ndarray, candidate_vecs: np.ndarray) -> Scored:
        """The candidates' dense term becomes the dense model's, min-max scaled among them."""
        w = self.weights
        share = w.dense / (w.dense + w.lexical + w.coverage)
        scores = f.scored.unit_scores.copy()
        scores[f.candidates] += share * (minmax(candidate_vecs @ q) - f.dense[f.candidates])
        return Scored(scores, f.scored.doc_scores,
                      f"{f.scored.strategy}; static first stage, the dense model on its top "
                      f"{len(f.candidates)} of {len(scores)} sentences")

    @staticmethod
    def _document_vectors(b: Sentences, unit_vecs: np.ndarray) -> np.ndarray:
        """A document's vector is the normalised mean of its sentences' (no second pass over long texts)."""
        out = np.zeros((len(b.request.documents), unit_vecs.shape[1]), dtype=np.float32)
        for k, u in enumerate(b.units):
            out[u.doc] += unit_vecs[k]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _score_query(self, b: Sentences, q: np.ndarray, unit_vecs: np.ndarray, doc_vecs: np.ndarray,
                     unit_views: Sequence[str], doc_views: Sequence[str]) -> Scored:
        w = self.weights
        query = b.request.query or ""
        doc_of = np.asarray([u.doc for u in b.units])

        dense_u = minmax(unit_vecs @ q)
        lex_u = bm25_scores(query, unit_views)
        cov_u = term_overlap(query, unit_views)
        dense_d = minmax(doc_vecs @ q)
        lex_d = bm25_scores(query, doc_views)
        cov_d = term_overlap(query, doc_views)
        doc_rel = (w.dense * dense_d + w.lexical * lex_d + w.coverage * cov_d) / (w.dense + w.lexical + w.coverage)

        # Bridge: a document named by one of the two most relevant documents inherits part of their relevance.
        bridged = bridge_relevance(doc_rel, b.request.texts, self._titles(b), w.bridge)
        doc_score = minmax(bridged)

        lead = b.first_in_doc().astype(np.float64)
        kind = answer_type(query)
        q_terms = set(lexical_terms(query))
        typed = np.asarray([has_answer_type(t, kind, q_terms) for t in b.texts], dtype=np.float64)
        sent = (w.dense * dense_u + w.lexical * lex_u + w.coverage * cov_u) / (w.dense + w.lexical + w.coverage)
        score = sent + w.document * doc_score[doc_of] + w.lead * lead + w.answer_type * typed
        return Scored(score, doc_score, "query: dense (MiniLM) + BM25 + coverage, document-weighted, bridged")

    def _score_centrality(self, b: Sentences, unit_vecs: np.ndarray) -> Scored:
        centroid = unit_vecs.mean(axis=0)
        norm = np.linalg.norm(centroid)
        centrality = minmax(unit_vecs @ (centroid / norm)) if norm > 0 else np.zeros(len(b.units))
        lead = b.first_in_doc().astype(np.float64)
        doc_of = np.asarray([u.doc for u in b.units])
        doc_scores = np.zeros(len(b.request.documents))
        for d in range(len(doc_scores)):
            mask = doc_of == d
            doc_scores[d] = centrality[mask].mean() if mask.any() else 0.0
        score = centrality + self.weights.lead * 2 * lead
        return Scored(score, doc_scores, "query-free: centrality (MiniLM) + lead-sentence prior")


_WINDOWS = {"auto": query_auto_windows, "phrases": query_windows, "clauses": query_clause_windows,
            "words": query_word_windows}


class QueryGuidedCompressor(SentenceSelectionCompressor):
    """The default compressor: query-aware, coarse to fine, exact budget, faithful (whole sentences, in order).

    segment (sentences) -> :class:`QueryGuidedScorer` -> the budget fitter (a sentence too long to fit keeps
    its best window for the question, :func:`query_windows`) -> render.

    Args:
        model_name_or_path: sentence embedding model ("minilm" = all-MiniLM-L6-v2, shipped offline).
        device: "cuda", "mps", "cpu" or ``None`` (auto).
        dtype: "float32", "bfloat16", "float16" or "auto".
        batch_size: sentences per forward pass (``None``: 8 on CPU, 64 on accelerators).
        weights: how the relevance signals mix (:class:`QueryGuidedWeights`).
        use_titles: prepend ``metadata["title"]`` to sentences and documents when embedding them.
        fill_budget: fill leftover budget with the best window of a sentence that no longer fits whole
            (``False``: whole sentences only). The last top-up (step 4 of :func:`contextzip.budget.fit_budget`)
            takes its windows only from documents already in the output, so no document is reduced to a
            leftover fragment; ``under_budget_reason`` says when that leaves the output under 95% of the budget.
        windows: what such a window is made of: "auto" (default: whole clauses for a budget of at least
            :data:`CLAUSE_BUDGET` tokens, phrases under it), "phrases" (pieces end at a sentence, clause or
            phrase boundary, never inside a number or a name), "clauses" (whole clauses only: reads best, keeps
            fewer answers at tight budgets, and nothing when not one whole clause fits) or "words" (tighter
            fill, word-level fragments).
        elision: the marker shown where text was dropped between kept pieces (" … " by default, counted in the
            budget); ``None`` joins them with a plain space. Where whole clauses are kept (``"clauses"``, and
            ``"auto"`` from :data:`CLAUSE_BUDGET` tokens), a document's first piece that starts inside a sentence
            opens with "… " and its last piece that ends inside one closes with " …".
        partial_share: a sentence that does not fit whole keeps its best window when at least this share of it
            fits (0.3, chosen on the tune split of HotpotQA and NQ: ``contextzip eval --split tune``).
        backend: how the sentence embedder runs: "auto" (default: ONNX Runtime, int8 per token row, on a CPU
            with ``dtype="auto"`` when ``onnxruntime`` is installed, which the default install includes; torch
            otherwise), "torch" or "onnx" (see :func:`contextzip.onnx_embedder.sentence_embedder`).
        embedder: any :class:`~contextzip.scorers.TextEmbedder` to use (and share) instead of loading one.
        prefilter, dense_tokens: the dense signal's first stage, "minilm-static" (default: MiniLM's word pieces
            as static vectors, ~1 ms per context), another model2vec model or :class:`~contextzip.scorers.TextEmbedder`,
            or ``None``; the dense model then embeds at most ``dense_tokens`` (:data:`DENSE_TOKENS`) word pieces
            per request, the sentences the first stage ranks highest (:class:`QueryGuidedScorer`).
        scorer: the sentence scorer instead of the dense + BM25 one: a model name or path ("contextzip-relevance",
            a Hugging Face cross-encoder or reranker: :class:`~contextzip.compressors.cross_encoder.CrossEncoderScorer`)
            or any :class:`~contextzip.scorers.SentenceScorer`.
        rerank: a cross-encoder (name or path, e.g. "contextzip-relevance") that rereads the sentences of the best
            documents of the dense + BM25 ranking and adds its keep probability
            (:class:`~contextzip.compressors.reranked.RerankedScorer`); its answer spans cut long sentences.
        min_relevance: drop sentences whose keep probability is under it even within the budget, so the output
            shrinks when little is relevant (the budget stays the cap); uses "contextzip-relevance" when neither
            ``scorer`` nor ``rerank`` is given. ``result.threshold`` and ``under_budget_reason`` report the cut.
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "query-guided"
    uses_query = True

    def __init__(
        self,
        model_name_or_path: str = "minilm",
        *,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int | None = None,
        weights: QueryGuidedWeights | None = None,
        use_titles: bool = True,
        fill_budget: bool = True,
        windows: str = "auto",
        elision: str | None = ELISION,
        partial_share: float = 0.3,
        backend: str = "auto",
        embedder: TextEmbedder | None = None,
        prefilter: TextEmbedder | str | None = DEFAULT_STATIC_MODEL,
        dense_tokens: int = DENSE_TOKENS,
        scorer: SentenceScorer | str | None = None,
        rerank: str | None = None,
        min_relevance: float | None = None,
        **kwargs,  # type: ignore[no-untyped-def]
    ) -> None:
        engine = ScoringEngine(device=device, dtype=dtype, batch_size=batch_size)
        check_backend(backend)  # even when an embedder is given: a typo is never silently ignored
        embedder = embedder or sentence_embedder(model_name_or_path, engine, backend, dtype)
        if windows not in _WINDOWS:
            raise ValueError(f"windows must be one of {sorted(_WINDOWS)}, but got {windows!r}")
        if scorer is None and rerank is None and min_relevance is not None:
            scorer = DEFAULT_RELEVANCE_MODEL
        first = as_prefilter(prefilter)
        chosen = QueryGuidedScorer(embedder, weights, use_titles, first, dense_tokens) if scorer is None else \
            sentence_scorer(scorer, engine, min_relevance)
        if rerank is not None:
            chosen = RerankedScorer(chosen, CrossEncoderScorer(rerank, engine=engine), min_relevance=min_relevance)
        super().__init__(chosen, window=_WINDOWS[windows] if fill_budget else None, elision=elision,
                         partial_share=partial_share, head_fallback=windows != "clauses", **kwargs)
        self.windows = windows
        self.embedder = embedder
        self.prefilter = first if scorer is None else None
        self.dense_tokens = dense_tokens
        self.weights = getattr(self.scorer, "weights", None)
        self.fill_budget = fill_budget
        self.min_relevance = min_relevance
        if min_relevance is not None:
            self.compresses_within_budget = True  # the cut applies to input within its budget as well

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        # A scorer with an answer-span head (contextzip-relevance) cuts a sentence too long to keep whole to the
        # window around its likely answer; other scorers use the query windows.
        sentences = [segment_sentences(r) for r in requests]
        scored = self.scorer.score_sentences(sentences)
        outputs = []
        for r, s, sc in zip(requests, sentences, scored, strict=True):
            window = (answer_windows(s, sc) or (self.window(r) if self.window else None)) if self.fill_budget else None
            clauses = whole_clauses(self.windows, r)  # whole clauses only; cut ends marked too
            out = select_sentences(s, sc, window, self.elision, controls=self.controls,
                                   partial_share=self.partial_share,
                                   head_fallback=self.head_fallback and not clauses,
                                   fill_new_documents=False, mark_cut_ends=clauses)
            outputs.append(explain_relevance_cut(out, r.budget, self.min_relevance))
        return outputs
