"""Query relevance signals shared by the query-aware compressors: lexical (BM25) and dense (MiniLM).

Every signal is normalised to [0, 1] within one request, so signals of different scale can be mixed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)

# A small English stop list: function words carry no relevance signal for BM25 over a handful of passages.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves also did does many much""".split()
)


def lexical_terms(text: str) -> list[str]:
    """Lower-cased word terms without stop words, with a light plural fold ("films" -> "film")."""
    terms = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        terms.append(w)
    return terms


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector maps to zeros."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        return np.zeros_like(values)
    return (values - lo) / (hi - lo)


def bm25_scores(query: str, passages: Sequence[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """BM25 (Okapi, via ``rank_bm25``) of ``query`` against ``passages``, scaled to [0, 1] by the maximum."""
    from rank_bm25 import BM25Okapi

    corpus = [lexical_terms(p) for p in passages]
    q = lexical_terms(query)
    if not q or not any(corpus):
        return np.zeros(len(passages))
    # rank_bm25 divides by the average length: guard the all-empty corner with a placeholder term.
    bm25 = BM25Okapi([c if c else ["\x00"] for c in corpus], k1=k1, b=b)
    scores = np.maximum(np.asarray(bm25.get_scores(q), dtype=np.float64), 0.0)
    top = scores.max()
    return scores / top if top > 0 else scores


def term_overlap(query: str, passages: Sequence[str]) -> np.ndarray:
    """Share of the query's distinct terms that each passage contains (robust for 2-3 passage inputs)."""
    q = set(lexical_terms(query))
    if not q:
        return np.zeros(len(passages))
    return np.asarray([len(q & set(lexical_terms(p))) / len(q) for p in passages], dtype=np.float64)
