"""Token classification (LLMLingua-2 style): a bidirectional encoder labels every word keep or drop.

How it works, and where it differs from LLMLingua-2 (``llmlingua`` 0.2.2, ``compress_prompt_llmlingua2``):

* **Words and probabilities, as LLMLingua-2.** Each text is tokenized once by the model's fast tokenizer; a
  token starts a new word when it is no WordPiece continuation (``##``), or for SentencePiece models when it
  carries ``▁`` or is a single punctuation character; special tokens are skipped; a word's keep probability
  is the mean (or first) of its tokens' softmax probability of the keep label. With the same checkpoint these
  equal LLMLingua-2's within float error (``tests/compressors/test_token_classification.py``).
* **Chunks on sentence boundaries.** Long texts are cut into chunks of at most ``max_seq_len - 2`` tokens at
  sentence ends (``contextzip.segment``); the chunks of every document of every request go through the shared
  :class:`~contextzip.engine.ScoringEngine` in one length-sorted, batched pass.
* **Units that are kept or dropped whole.** Words without whitespace between them stay together (numbers such
  as ``150,782``, ``U.S.``, ``Clark's``), except punctuation at their edges; protected spans (code, URLs,
  e-mail addresses, JSON keys, quoted strings) are one unit each. Units matching ``force_tokens`` or, with
  ``force_digits``, containing a digit rank above all others.
* **One threshold, exact budget.** Units are ranked by score across all chunks and documents of a request; a
  bisection on the real token counter finds the most units that fit, so the output never exceeds the budget
  and fills it to within a unit (LLMLingua-2 instead takes a percentile per chunk and misses budgets).
* **Faithful.** Kept units are rendered in order from the original text; runs of adjacent kept units keep
  their original spacing, and a dropped stretch becomes one space (or a newline).

:class:`~contextzip.compressors.token_classification_query.QueryAwareTokenClassificationCompressor` adds the
query: each unit's keep probability is mixed with the query relevance of its sentence and document (the
query-guided compressor's scores), so a tight budget goes to the words of the relevant sentences.

The default model, ``contextzip-token-clf``, is a small convolutional student distilled by this project on top
of all-MiniLM-L6-v2's word-piece embeddings (``training/``, ``training/DATA_CARD.md``); any Hugging Face
``AutoModelForTokenClassification`` with a keep label works as well, for example
``microsoft/llmlingua-2-xlm-roberta-large-meetingbank``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from contextzip.budget import fit_budget
from contextzip.compressors.base import BaseCompressor, CompressedOutput
from contextzip.compressors.token_scorer import DEFAULT_MODEL, TokenKeepScorer
from contextzip.compressors.word_units import PROTECTED_PATTERNS, Units, build_units, compile_patterns
from contextzip.controls import NO_CONTROLS, Controls
from contextzip.engine import ScoringEngine
from contextzip.scorers import Scored, Sentences
from contextzip.types import CompressionRequest

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODEL", "TokenClassificationCompressor", "TokenKeepScorer", "restrict_units", "select_words"]


class TokenClassificationCompressor(BaseCompressor):
    """Keeps the words a token classifier labels keep, with one threshold that meets the budget exactly.

    Args:
        model_name_or_path: "contextzip-token-clf" (the distilled offline default), another registered name,
            a local path or hub id of an ``AutoModelForTokenClassification`` with a keep label, for example
            "microsoft/llmlingua-2-xlm-roberta-large-meetingbank".
        device, dtype, batch_size: the shared engine's settings.
        max_seq_len: tokens per chunk (special tokens included).
        token_to_word: "mean" or "first" (how sub-word probabilities become a word's).
        force_tokens: literal tokens or regular expressions whose units are always kept first.
        force_digits: keep every unit that contains a digit first.
        protected_patterns: regular expressions of spans kept or dropped whole (code, URLs, e-mail addresses,
            JSON keys, quoted strings by default); ``()`` for none.
        keep_entities: keep runs of capitalised or numeric words ("Wilhelm Conrad Röntgen", "May 18") whole,
            scored by their strongest word.
        boundary_tokens, keep_label, backend: see :class:`TokenKeepScorer` (``backend="onnx"``: a Hugging Face
            classifier in float32 on ONNX Runtime).
        token_counter, separator: see :class:`~contextzip.compressors.base.BaseCompressor`.
    """

    name = "token-classification"
    uses_query = False
    supports_controls = True

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        dtype: str | None = "auto",
        batch_size: int = 64,
        max_seq_len: int = 512,
        token_to_word: Literal["mean", "first"] = "mean",
        force_tokens: Sequence[str | re.Pattern[str]] = (),
        force_digits: bool = False,
        protected_patterns: Sequence[str | re.Pattern[str]] = PROTECTED_PATTERNS,
        keep_entities: bool = True,
        boundary_tokens: tuple[str, str] | None = None,
        keep_label: int | None = None,
        backend: Literal["torch", "onnx"] = "torch",
        scorer: TokenKeepScorer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(force_tokens, str) or isinstance(protected_patterns, str):
            raise TypeError("force_tokens and protected_patterns take a sequence of patterns, not one str")
        self.force_tokens = compile_patterns([re.escape(t) if isinstance(t, str) and t.isalnum() else t
                                      for t in force_tokens], "force_tokens")
        self.force_digits = bool(force_digits)
        self.protected = compile_patterns(protected_patterns, "protected_patterns")
        self.keep_entities = bool(keep_entities)
        self.scorer = scorer or TokenKeepScorer(
            model_name_or_path, ScoringEngine(device=device, dtype=dtype, batch_size=batch_size,
                                              max_batch_tokens=max(16384, 64 * max_seq_len), max_padding="auto",
                                              cpu_max_batch_tokens=4 * max_seq_len),
            max_seq_len=max_seq_len, token_to_word=token_to_word, boundary_tokens=boundary_tokens,
            keep_label=keep_label, backend=backend,
        )

    def warm_up(self) -> None:
        self.scorer.warm_up()

    # --- public stages ----------------------------------------------------------------------------------

    def word_units(self, requests: Sequence[CompressionRequest]) -> list[list[Units]]:
        """The score stage: every document of every request through the classifier in one engine pass, its
        words grouped into keep/drop units (one :class:`Units` per document)."""
        words = self.scorer.score([d.text for r in requests for d in r.documents])
        out: list[list[Units]] = []
        k = 0
        for r in requests:
            out.append([build_units(d.text, words[k + i], self.protected, self.force_tokens, self.force_digits,
                                    self.keep_entities) for i, d in enumerate(r.documents)])
            k += len(r.documents)
        return out

    def unit_scores(self, requests: Sequence[CompressionRequest], units: Sequence[Sequence[Units]],
                    sentences: Sequence[tuple[Sentences, Scored] | None] | None = None) -> list[list[np.ndarray]]:
        """The score each unit is ranked by: its keep probability (the query-aware subclass mixes in the
        relevance of its sentence, from ``sentences`` when the caller has scored them already)."""
        return [[u.probs for u in doc_units] for doc_units in units]

    def strategy(self, request: CompressionRequest) -> str:
        return "token classification: one keep-probability threshold across documents"

    def document_scores(self, request: CompressionRequest,
                        sentences: tuple[Sentences, Scored] | None) -> list[float | None] | None:
        """Document relevance in [0, 1] where the compressor knows it (``None`` without a query)."""
        return None

    # --- compression ------------------------------------------------------------------------------------

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[CompressedOutput]:
        units = self.word_units(requests)
        scores = self.unit_scores(requests, units)
        return [select_words(r, u, s, self.strategy(r), self.document_scores(r, None), self.controls)
                for r, u, s in zip(requests, units, scores, strict=True)]


def restrict_units(units: Units, spans: Sequence[tuple[int, int]]) -> Units:
    """The units of one document that overlap the given ``(start, end)`` spans (sorted, non-overlapping): a unit
    that a span cuts into (a name or a date longer than a word window) is kept whole."""
    if len(units.starts) == 0 or not spans:
        return Units(units.starts[:0], units.ends[:0], units.probs[:0], units.forced[:0])
    span_s = np.asarray([s for s, _ in spans])
    span_e = np.asarray([e for _, e in spans])
    k = np.searchsorted(span_s, units.ends, side="left") - 1  # the last span starting before the unit ends
    inside = (k >= 0) & (span_e[np.clip(k, 0, None)] > units.starts)
    return Units(units.starts[inside], units.ends[inside], units.probs[inside], units.forced[inside])


def select_words(request: CompressionRequest, units: Sequence[Units], scores: Sequence[np.ndarray],
                 strategy: str, doc_scores: Sequence[float | None] | None = None,
                 controls: Controls = NO_CONTROLS) -> CompressedOutput:
    """The select and render stages for word units: the one budget fitter (units whole, forced ones first),
    one threshold across every document of the request."""
    spans = [u for d, doc_units in enumerate(units) for u in doc_units.spans(d)]
    score = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores] or [np.zeros(0)])
    forced = np.concatenate([u.forced for u in units] or [np.zeros(0, bool)])
    fit = fit_budget(request.texts, spans, score, request.budget, request.counter, request.separator,
                     **controls.fit_args(request, spans, score, doc_scores, forced))
    return CompressedOutput(
        text=fit.text, document_texts=fit.doc_texts, document_full=fit.doc_full, scores=doc_scores,
        strategy=strategy, tokens=fit.tokens, kept_spans=fit.kept, threshold=fit.threshold,
        under_budget_reason=fit.reason, extra={"kept_units": len(fit.kept), "units": len(spans)},
    )
