"""Sentence-level extractive compression as public stages: segment, score, select within the budget, render.

* :func:`segment_sentences` cuts a request's documents into sentences (:class:`~contextzip.scorers.Sentences`);
* a :class:`~contextzip.scorers.SentenceScorer` scores them (query-guided relevance, BM25, any model);
* :func:`select_sentences` keeps the best within the request's budget through the one budget fitter, which
  renders the kept spans (:mod:`contextzip.render`) and counts the result.

:class:`SentenceSelectionCompressor` is those three stages, with the scorer as a constructor argument.
"""

from __future__ import annotations

from collections.abc import Callable

from contextzip.budget import Unit, WindowFn, fit_budget
from contextzip.compressors.base import BaseCompressor, CompressedOutput
from contextzip.controls import NO_CONTROLS, Controls
from contextzip.render import ELISION
from contextzip.scorers import Scored, Sentences, SentenceScorer
from contextzip.segment import split_sentences
from contextzip.types import CompressionRequest
from contextzip.validation import check_number

__all__ = ["SentenceSelectionCompressor", "segment_sentences", "select_sentences"]

# request -> how to cut a sentence that does not fit whole (or None: whole sentences only)
WindowFactory = Callable[[CompressionRequest], WindowFn | None]


def segment_sentences(request: CompressionRequest) -> Sentences:
    """The segment stage: every sentence of every document of ``request``, in order."""
    units: list[Unit] = []
    texts: list[str] = []
    for d, doc in enumerate(request.documents):
        for span in split_sentences(doc.text):
            units.append(Unit(doc=d, start=span.start, end=span.end))
            texts.append(span.text)
    return Sentences(request, tuple(units), tuple(texts))


def select_sentences(sentences: Sentences, scored: Scored, window: WindowFn | None = None,
                     elision: str | None = ELISION, controls: Controls = NO_CONTROLS,
                     partial_share: float = 0.5, head_fallback: bool = True,
                     fill_new_documents: bool = True, mark_cut_ends: bool = False) -> CompressedOutput:
    """The select and render stages: the best sentences of one scored request within its budget, in source
    order, ``elision`` between kept pieces that are apart; with a ``window``, a sentence that does not fit whole
    may keep its best window (of whole phrases or clauses, for the built-in windows) when at least
    ``partial_share`` of it fits; ``head_fallback=False``: nothing rather than a head the window would not cut, when
    nothing else fits; ``fill_new_documents=False``: leftover budget is filled only from documents already kept;
    ``mark_cut_ends``: the marker also opens / closes a document's piece cut inside a sentence (see
    :func:`contextzip.budget.fit_budget`)."""
    req = sentences.request
    fit = fit_budget(req.texts, sentences.units, scored.unit_scores, req.budget, req.counter, req.separator,
                     window=window, min_score=scored.min_score, elision=elision, partial_share=partial_share,
                     head_fallback=head_fallback, fill_new_documents=fill_new_documents,
                     mark_cut_ends=mark_cut_ends,
                     **controls.fit_args(req, sentences.units, scored.unit_scores, scored.doc_scores))
    doc_scores = [float(x) for x in scored.doc_scores] if scored.doc_scores is not None else None
    return CompressedOutput(
        text=fit.text, document_texts=fit.doc_texts, document_full=fit.doc_full, scores=doc_scores,
        strategy=scored.strategy, tokens=fit.tokens, kept_spans=fit.kept, threshold=fit.threshold,
        under_budget_reason=fit.reason,
    )


class SentenceSelectionCompressor(BaseCompressor):
    """Keeps the best whole sentences, scored by any :class:`~contextzip.scorers.SentenceScorer`.

    Args:
        scorer: scores the sentences of all requests of a call in one batched pass.
        window: a function from a request to how a sentence that does not fit whole is cut (``None``: whole
            sentences only).
        elision: the marker shown where text was dropped between kept pieces (counted in the budget); ``None``
            joins them with a plain space.
        partial_share: a sentence that does not fit whole keeps a window when at least this share of it fits.
        head_fallback: when neither a whole sentence nor a window fits, keep the best sentence's head, ending at
            a word boundary (at a token boundary when not even its first word fits; ``False``: keep nothing, and
            say so in ``under_budget_reason``).
        token_counter, separator, force_keep, keep_ids, protect, reorder: see
            :class:`~contextzip.compressors.base.BaseCompressor` and :mod:`contextzip.controls`.
    """

    supports_controls = True

    def __init__(self, scorer: SentenceScorer, *, window: WindowFactory | None = None,
                 elision: str | None = ELISION, partial_share: float = 0.5, head_fallback: bool = True,
                 **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.head_fallback = bool(head_fallback)
        self.partial_share = check_number("partial_share", partial_share, 0.0, 1.0)
        if elision is not None and not isinstance(elision, str):
            raise TypeError(f"elision must be a str or None, but got {type(elision).__name__}")
        self.elision = elision
        if not isinstance(scorer, SentenceScorer):
            raise TypeError(f"scorer must implement SentenceScorer (score_sentences, warm_up), but got {scorer!r}")
        self.scorer = scorer
        self.window = window

    def warm_up(self) -> None:
        self.scorer.warm_up()

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        sentences = [segment_sentences(r) for r in requests]
        scored = self.scorer.score_sentences(sentences)
        return [select_sentences(s, sc, self.window(s.request) if self.window else None, self.elision,
                                 controls=self.controls, partial_share=self.partial_share,
                                 head_fallback=self.head_fallback)
                for s, sc in zip(sentences, scored, strict=True)]
