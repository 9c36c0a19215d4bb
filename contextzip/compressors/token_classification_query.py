"""Query-aware token classification: keep probabilities mixed with the query relevance of each word's sentence.

Under a tight budget the words of relevant sentences and documents rank higher than the classifier alone would
put them; priors for names and numbers, for words near the question's terms and for the kind of answer a
question asks for (a number for "when", a name for "who") can be added, and the most relevant sentences can be
kept whole. The sentence relevance is the query-guided compressor's (dense + lexical, document-weighted,
bridged). Everything else (one threshold, exact budget, faithful output) is
:class:`~contextzip.compressors.token_classification.TokenClassificationCompressor`'s.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from contextzip.compressors.base import CompressionRequest
from contextzip.compressors.token_classification import (
    DEFAULT_MODEL,
    TokenClassificationCompressor,
    Units,
    codepoints,
    is_entity_start,
)

__all__ = ["QueryAwareTokenClassificationCompressor"]

_PROXIMITY_SCALE = 4.0  # words: the proximity boost falls to 1/e this far from a question term


def _query_term_pattern(query: str) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive matches of the query's content terms (a plural fold either way)."""
    from contextzip.relevance import lexical_terms

    terms = sorted(set(lexical_terms(query)), key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")s?\b", re.IGNORECASE)


_WHOLE_SENTENCE_BONUS = 100.0  # above any keep probability + relevance + prior: kept first, whole
_NUMBER_QUESTION = re.compile(r"^\s*(when|what year|which year|how (many|much|long|old|far|tall|big))\b", re.I)
_NAME_QUESTION = re.compile(r"^\s*(who|whom|whose)\b", re.I)


def _answer_kind(query: str) -> str | None:
    if _NUMBER_QUESTION.search(query):
        return "number"
    if _NAME_QUESTION.search(query):
        return "name"
    return None


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
        sentence_scorer: a :class:`~contextzip.compressors.query_guided.QueryGuidedCompressor` to share.
        Other arguments: see :class:`TokenClassificationCompressor`.
    """

    name = "token-classification-query"
    uses_query = True

    def __init__(self, model_name_or_path: str = DEFAULT_MODEL, *, relevance_weight: float = 2.0,
                 answer_type_weight: float = 0.5, entity_weight: float = 0.0, proximity_weight: float = 0.0,
                 whole_sentence_share: float = 0.0,
                 sentence_scorer: Any = None, **kwargs: Any) -> None:
        if isinstance(whole_sentence_share, bool) or not isinstance(whole_sentence_share, (int, float)) \
                or not 0.0 <= whole_sentence_share <= 1.0:
            raise ValueError(f"whole_sentence_share must be in [0, 1], but got {whole_sentence_share!r}")
        for name, value in (("relevance_weight", relevance_weight), ("answer_type_weight", answer_type_weight),
                            ("entity_weight", entity_weight), ("proximity_weight", proximity_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, but got {value!r}")
        super().__init__(model_name_or_path, **kwargs)
        self.relevance_weight = float(relevance_weight)
        self.answer_type_weight = float(answer_type_weight)
        self.entity_weight = float(entity_weight)
        self.whole_sentence_share = float(whole_sentence_share)
        self.proximity_weight = float(proximity_weight)
        if sentence_scorer is None:
            from contextzip.compressors.query_guided import QueryGuidedCompressor

            sentence_scorer = QueryGuidedCompressor(device=kwargs.get("device"),
                                                    token_counter=self.token_counter)
        self.sentence_scorer = sentence_scorer

    def warm_up(self) -> None:
        super().warm_up()
        self.sentence_scorer.warm_up()

    def _strategy(self, request: CompressionRequest) -> str:
        if request.query:
            return "token classification + query relevance of sentence and document, one threshold"
        return super()._strategy(request)

    def _unit_scores(self, requests: list[CompressionRequest], units: list[list[Units]],
                     sentence_scores: list[Any] | None = None) -> list[list[np.ndarray]]:
        from contextzip.relevance import minmax

        base = super()._unit_scores(requests, units)
        todo = [i for i, r in enumerate(requests) if r.query and self.relevance_weight > 0]
        if not todo:
            return base
        # The query-guided compressor's sentence scores (dense + lexical + document relevance, bridged).
        if sentence_scores is not None:
            scored = [sentence_scores[i] for i in todo]
        else:
            scored = self.sentence_scorer.score_sentences([requests[i] for i in todo])
        for i, (batch, s) in zip(todo, scored, strict=True):
            if not batch.units:
                continue
            rel = minmax(np.asarray(s.unit_scores, dtype=np.float64))
            sentence_score = self.relevance_weight * rel
            if self.whole_sentence_share > 0:
                # The most relevant sentences, within this share of the budget, rank above every other word.
                costs = requests[i].counter.count_many(batch.texts)
                room = self.whole_sentence_share * requests[i].budget
                for k in np.argsort(-rel, kind="stable").tolist():
                    if costs[k] > room:
                        break
                    room -= costs[k]
                    sentence_score[k] += _WHOLE_SENTENCE_BONUS
            sent_doc = np.asarray([u.doc for u in batch.units])
            sent_start = np.asarray([u.start for u in batch.units])
            for d, doc_units in enumerate(units[i]):
                mask = sent_doc == d
                if not mask.any() or len(doc_units.starts) == 0:
                    continue
                starts_d, score_d = sent_start[mask], sentence_score[mask]
                which = np.clip(np.searchsorted(starts_d, doc_units.starts, side="right") - 1, 0, len(starts_d) - 1)
                base[i][d] = base[i][d] + score_d[which]
        for i in todo:
            query = requests[i].query or ""
            pattern = _query_term_pattern(query) if self.proximity_weight > 0 else None
            kind = _answer_kind(query) if self.answer_type_weight > 0 else None
            for d, doc_units in enumerate(units[i]):
                if len(doc_units.starts):
                    base[i][d] = base[i][d] + self._priors(requests[i].documents[d].text, doc_units, pattern, kind)
        return base

    def _priors(self, text: str, doc_units: Units, pattern: re.Pattern[str] | None, kind: str | None) -> np.ndarray:
        """Per-unit priors: names and numbers, words near the question's terms, the asked-for answer type."""
        first = codepoints(text)[doc_units.starts]
        out = self.entity_weight * is_entity_start(first).astype(np.float64)
        hits = [m.start() for m in pattern.finditer(text)] if pattern is not None else []
        if hits:  # the answer usually sits next to what the question names
            at = np.unique(np.clip(np.searchsorted(doc_units.starts, hits, side="right") - 1, 0, None))
            distance = np.abs(np.arange(len(doc_units.starts))[:, None] - at[None, :]).min(axis=1)
            out += self.proximity_weight * np.exp(-distance / _PROXIMITY_SCALE)
        if kind == "number":  # "when", "how many": units holding a digit
            digits = np.cumsum(np.char.isdigit(np.frombuffer(text.encode("utf-32-le"), dtype="<U1")).astype(np.int64))
            digits = np.concatenate([[0], digits])
            out += self.answer_type_weight * (digits[doc_units.ends] > digits[doc_units.starts])
        elif kind == "name":  # "who": capitalised units
            out += self.answer_type_weight * (is_entity_start(first) & ~((first >= 48) & (first <= 57)))
        return out
