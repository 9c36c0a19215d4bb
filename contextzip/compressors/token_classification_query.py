"""Query-aware token classification: keep probabilities mixed with the query relevance of each word's sentence.

Under a tight budget the words of relevant sentences and documents rank higher than the classifier alone would
put them; priors for names and numbers, for words near the question's terms and for the kind of answer a
question asks for (a number for "when", a name for "who") can be added, and the most relevant sentences can be
kept whole. The sentence relevance is the query-guided compressor's (dense + lexical, document-weighted,
bridged). Everything else (one threshold, exact budget, faithful output) is
:class:`~contextzip.compressors.token_classification.TokenClassificationCompressor`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from contextzip.compressors.token_classification import DEFAULT_MODEL, TokenClassificationCompressor
from contextzip.compressors.word_units import Units
from contextzip.lexicon import (
    NUMERIC_TYPES,
    answer_type,
    name_or_number_starts,
    proximity,
    query_term_pattern,
)
from contextzip.relevance import minmax
from contextzip.scorers import Scored, Sentences, SentenceScorer
from contextzip.segment import codepoints
from contextzip.types import CompressionRequest

__all__ = ["QueryAwareTokenClassificationCompressor"]

_WHOLE_SENTENCE_BONUS = 100.0  # above any keep probability + relevance + prior: kept first, whole


class QueryAwareTokenClassificationCompressor(TokenClassificationCompressor):
    """Token classification guided by the query: words of relevant sentences and documents rank higher.

    A unit's score is ``keep_probability + relevance_weight * relevance``, where ``relevance`` is the
    query-guided compressor's score of the unit's sentence (which already mixes in its document's relevance),
    scaled to [0, 1] within the request. Without a query it behaves as :class:`TokenClassificationCompressor`.

    Args:
        relevance_weight: how much sentence relevance counts against keep probability (>= 0).
        answer_type_weight: added to units of the type the question asks for: numbers for "when", "what year",
            "how many/much/long/old"; names (capitalised) for "who", "whom", "whose" (>= 0).
        entity_weight: added to every name or number (a unit starting with a capital letter or a digit) when
            there is a query: most answers are names or numbers, and pruning one loses the answer (>= 0).
        proximity_weight: added to words near an occurrence of one of the question's content terms, falling
            off with distance (``exp(-words / 4)``; >= 0).
        whole_sentence_share: the most relevant sentences, up to this share of the budget, are kept whole (in
            [0, 1]; 0 lets every sentence lose words). Answers that span several words, or a whole sentence,
            survive in them.
        answer_span_weight: added x the answer-span probability of a word (the best of its word pieces), and of its
            neighbours falling off with distance (``exp(-words / 3)``), when the sentence scorer has an answer-span
            head (``contextzip-relevance``; >= 0; 0: not used).
        bridge_weight: lifts a word in a gap of one or two words between two better-scored words of the same
            document towards the lower of them (``+ bridge_weight x max(0, min(left, right) - own)``, :func:`bridge`),
            so the small words inside a kept phrase ("President *of* India", "Speaker *of the* House") stay
            with it (in [0, 1]; 0: not used).
        sentence_scorer: the :class:`~contextzip.scorers.SentenceScorer` of sentence relevance (by default
            :class:`~contextzip.compressors.query_guided.QueryGuidedScorer` on the packaged MiniLM).
        Other arguments: see :class:`TokenClassificationCompressor`.
    """

    name = "token-classification-query"
    uses_query = True

    def __init__(self, model_name_or_path: str = DEFAULT_MODEL, *, relevance_weight: float = 2.0,
                 answer_type_weight: float = 0.5, entity_weight: float = 0.0, proximity_weight: float = 0.0,
                 whole_sentence_share: float = 0.0, answer_span_weight: float = 0.0, bridge_weight: float = 0.0,
                 sentence_scorer: SentenceScorer | None = None, **kwargs: Any) -> None:
        if isinstance(whole_sentence_share, bool) or not isinstance(whole_sentence_share, (int, float)) \
                or not 0.0 <= whole_sentence_share <= 1.0:
            raise ValueError(f"whole_sentence_share must be in [0, 1], but got {whole_sentence_share!r}")
        for name, value in (("relevance_weight", relevance_weight), ("answer_type_weight", answer_type_weight),
                            ("entity_weight", entity_weight), ("proximity_weight", proximity_weight),
                            ("answer_span_weight", answer_span_weight), ("bridge_weight", bridge_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, but got {value!r}")
        super().__init__(model_name_or_path, **kwargs)
        self.relevance_weight = float(relevance_weight)
        self.answer_type_weight = float(answer_type_weight)
        self.entity_weight = float(entity_weight)
        self.whole_sentence_share = float(whole_sentence_share)
        self.proximity_weight = float(proximity_weight)
        self.answer_span_weight = float(answer_span_weight)
        if bridge_weight > 1:
            raise ValueError(f"bridge_weight must be in [0, 1], but got {bridge_weight!r}")
        self.bridge_weight = float(bridge_weight)
        if sentence_scorer is None:
            from contextzip.compressors.query_guided import QueryGuidedScorer
            from contextzip.engine import ScoringEngine
            from contextzip.models import SentenceEmbedder

            engine = ScoringEngine(device=kwargs.get("device"))
            sentence_scorer = QueryGuidedScorer(SentenceEmbedder("minilm", engine))
        if not isinstance(sentence_scorer, SentenceScorer):
            raise TypeError(f"sentence_scorer must implement SentenceScorer, but got {sentence_scorer!r}")
        self.sentence_scorer = sentence_scorer

    def warm_up(self) -> None:
        super().warm_up()
        self.sentence_scorer.warm_up()

    def strategy(self, request: CompressionRequest) -> str:
        if request.query:
            return "token classification + query relevance of sentence and document, one threshold"
        return super().strategy(request)

    def document_scores(self, request: CompressionRequest,
                        sentences: tuple[Sentences, Scored] | None) -> list[float | None] | None:
        if not request.query or sentences is None or sentences[1].doc_scores is None:
            return None
        return [float(x) for x in sentences[1].doc_scores]

    def _compress_batch(self, requests: list[CompressionRequest]) -> list[Any]:
        from contextzip.compressors.extractive import segment_sentences
        from contextzip.compressors.token_classification import select_words

        units = self.word_units(requests)
        todo = [i for i, r in enumerate(requests) if r.query and self.relevance_weight > 0]
        batches = [segment_sentences(requests[i]) for i in todo]
        scored = self.sentence_scorer.score_sentences(batches) if batches else []
        sentences: list[tuple[Sentences, Scored] | None] = [None] * len(requests)
        for i, b, sc in zip(todo, batches, scored, strict=True):
            sentences[i] = (b, sc)
        scores = self.unit_scores(requests, units, sentences)
        return [select_words(r, u, s, self.strategy(r), self.document_scores(r, sent), self.controls)
                for r, u, s, sent in zip(requests, units, scores, sentences, strict=True)]

    def unit_scores(self, requests: Sequence[CompressionRequest], units: Sequence[Sequence[Units]],
                    sentences: Sequence[tuple[Sentences, Scored] | None] | None = None) -> list[list[np.ndarray]]:
        """Keep probability + ``relevance_weight`` x the (min-max scaled) relevance of each unit's sentence,
        plus the priors; ``sentences[i]`` is request ``i``'s scored sentences (``None``: keep probability and
        priors only)."""
        base = super().unit_scores(requests, units)
        for i, req in enumerate(requests):
            if not req.query:
                continue
            pair = sentences[i] if sentences is not None else None
            if pair is not None and self.relevance_weight > 0 and pair[0].units:
                self._add_relevance(req, units[i], base[i], *pair)
            pattern = query_term_pattern(req.query) if self.proximity_weight > 0 else None
            kind = answer_type(req.query) if self.answer_type_weight > 0 else None
            for d, doc_units in enumerate(units[i]):
                if len(doc_units.starts):
                    base[i][d] = base[i][d] + self._priors(req.documents[d].text, doc_units, pattern, kind)
                    if self.bridge_weight > 0:
                        base[i][d] = bridge(base[i][d], self.bridge_weight)
        return base

    def _add_relevance(self, req: CompressionRequest, units: Sequence[Units], base: list[np.ndarray],
                       batch: Sentences, scored: Scored) -> None:
        rel = minmax(np.asarray(scored.unit_scores, dtype=np.float64))
        sentence_score = self.relevance_weight * rel
        if self.whole_sentence_share > 0:
            # The most relevant sentences, within this share of the budget, rank above every other word.
            costs = req.counter.count_many(list(batch.texts))
            room = self.whole_sentence_share * req.budget
            for k in np.argsort(-rel, kind="stable").tolist():
                if costs[k] > room:
                    break
                room -= costs[k]
                sentence_score[k] += _WHOLE_SENTENCE_BONUS
        sent_doc = batch.doc_of()
        sent_start = np.asarray([u.start for u in batch.units])
        spans = getattr(scored, "answer_spans", None) if self.answer_span_weight > 0 else None
        for d, doc_units in enumerate(units):
            mask = sent_doc == d
            if not mask.any() or len(doc_units.starts) == 0:
                continue
            starts_d, score_d = sent_start[mask], sentence_score[mask]
            which = np.clip(np.searchsorted(starts_d, doc_units.starts, side="right") - 1, 0, len(starts_d) - 1)
            base[d] = base[d] + score_d[which]
            if spans is not None:
                pieces = [spans[k] for k in np.flatnonzero(mask)]
                base[d] = base[d] + self.answer_span_weight * answer_proximity(doc_units, pieces)

    def _priors(self, text: str, doc_units: Units, pattern: Any, kind: str | None) -> np.ndarray:
        """Per-unit priors: names and numbers, words near the question's terms, the asked-for answer type."""
        first = codepoints(text)[doc_units.starts]
        entity = name_or_number_starts(first)
        out = self.entity_weight * entity.astype(np.float64)
        hits = [m.start() for m in pattern.finditer(text)] if pattern is not None else []
        if hits:  # the answer usually sits next to what the question names
            at = np.clip(np.searchsorted(doc_units.starts, hits, side="right") - 1, 0, None)
            out += self.proximity_weight * proximity(len(doc_units.starts), at)
        if kind in NUMERIC_TYPES:  # "when", "how many": units holding a digit
            digits = np.concatenate([[0], np.cumsum((codepoints(text) >= 48) & (codepoints(text) <= 57))])
            out += self.answer_type_weight * (digits[doc_units.ends] > digits[doc_units.starts])
        elif kind == "person":  # "who": capitalised units
            out += self.answer_type_weight * (entity & ~((first >= 48) & (first <= 57)))
        return out


def bridge(scores: np.ndarray, weight: float) -> np.ndarray:
    """Each score lifted by ``weight x max(0, lift - own)``, where ``lift`` is the best ``min(left, right)`` over
    the word pairs that flank a gap of one or two words around it ((j-1, j+1), (j-1, j+2), (j-2, j+1)): the
    small words between two better ones rise towards them; a gap of three or more words stays as it is."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) < 3:
        return s
    p = np.concatenate([np.full(2, -np.inf), s, np.full(2, -np.inf)])  # p[j + 2] == s[j]
    n = len(s)

    def at(offset: int) -> np.ndarray:
        return p[2 + offset: 2 + offset + n]

    lift = np.maximum.reduce([np.minimum(at(-1), at(1)), np.minimum(at(-1), at(2)), np.minimum(at(-2), at(1))])
    gain = lift - s
    return s + weight * np.where(np.isfinite(gain) & (gain > 0), gain, 0.0)


def answer_proximity(doc_units: Units, pieces: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                     scale: float = 3.0) -> np.ndarray:
    """Per word unit of one document: the best answer-span probability near it, ``max_k p_k exp(-|j - k| /
    scale)`` over units ``k``, where ``p_k`` is the best probability of the word pieces (document character
    spans) that start inside unit ``k``."""
    n = len(doc_units.starts)
    p = np.zeros(n)
    for starts, _, probs in pieces:
        if len(starts):
            at = np.searchsorted(doc_units.starts, starts, side="right") - 1
            ok = (at >= 0) & (starts < doc_units.ends[np.clip(at, 0, n - 1)])
            np.maximum.at(p, at[ok], probs[ok])
    strong = np.flatnonzero(p >= 0.02)
    if not len(strong):
        return p
    distance = np.abs(np.arange(n)[:, None] - strong[None, :])
    return (p[strong][None, :] * np.exp(-distance / scale)).max(axis=1)
