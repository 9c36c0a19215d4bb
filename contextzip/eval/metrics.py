"""Answer metrics: SQuAD normalisation, answer containment, token F1, ROUGE-L, answer-word recall."""

from __future__ import annotations

import functools
import re
import string
from collections import Counter
from collections.abc import Iterable
from typing import Any

from contextzip.lexicon import STOPWORDS

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True if any normalised gold answer occurs in the normalised text (as in lost-in-the-middle's metric)."""
    norm = normalize_answer(text)
    return any(a and a in norm for a in (normalize_answer(x) for x in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """The best SQuAD token F1 of ``prediction`` against any gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if same == 0:
            continue
        precision, recall = same / len(pred), same / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


# Function words that would inflate answer-word recall on long free-form answers: the shared stop words.
_RECALL_STOPWORDS = STOPWORDS


@functools.lru_cache(maxsize=1)
def _rouge_l_scorer() -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise ImportError("ROUGE-L needs rouge-score: pip install 'contextzip-rag[eval]' (or: pip install rouge-score)") from exc
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, references: Iterable[str]) -> float:
    """The best ROUGE-L F-measure (``rouge-score``, Porter stemming) of ``prediction`` against any reference."""
    scorer = _rouge_l_scorer()
    scores = [scorer.score(ref, prediction)["rougeL"].fmeasure for ref in references if ref.strip()]
    return max(scores) if scores else 0.0


def answer_word_recall(text: str, answers: Iterable[str]) -> float:
    """The best share of a reference answer's distinct content words (normalised, stop words left out) that
    occur in ``text``.

    For long free-form answers (QMSum) whose exact string never occurs in the context, this says how much of
    the answer's vocabulary the compressed context still holds. Answers with no content words are ignored.
    """
    words = set(normalize_answer(text).split())
    best = 0.0
    for answer in answers:
        gold = set(normalize_answer(answer).split()) - _RECALL_STOPWORDS
        if gold:
            best = max(best, len(gold & words) / len(gold))
    return best
