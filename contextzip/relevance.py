"""Query relevance signals shared by the query-aware compressors: BM25, term coverage, windows, bridging.

Every signal is normalised to [0, 1] within one request, so signals of different scale can be mixed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from contextzip.lexicon import NAME_TYPES, answer_type, lexical_terms, proximity, type_pattern
from contextzip.segment import Span
from contextzip.tokens import TokenCounter


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


def word_weights(words: Sequence[Span], query: str | None) -> np.ndarray:
    """What each word is likely to add for a reader who already has the question: content words 1, numbers and
    names more, function words little, and the query's own words little (the reader knows them) though words near
    them weigh more (answers sit next to the question's terms)."""
    q_terms = set(lexical_terms(query or ""))
    kind = answer_type(query)
    pattern = type_pattern(kind)
    terms = [lexical_terms(w.text) for w in words]
    is_query = np.asarray([bool(t) and all(x in q_terms for x in t) for t in terms], dtype=bool)
    weights = np.empty(len(words))
    for k, (w, t) in enumerate(zip(words, terms, strict=True)):
        if not t:
            weights[k] = 0.1
        elif is_query[k]:
            weights[k] = 0.3
        else:
            weights[k] = 1.0 + (0.5 if any(ch.isdigit() for ch in w.text) else 0.0) + (
                0.3 if k > 0 and w.text[:1].isupper() else 0.0)
            if kind is not None and (
                (pattern is not None and pattern.search(w.text))
                or (kind in NAME_TYPES and k > 0 and w.text[:1].isupper())
            ):
                weights[k] += 1.0
    if is_query.any():
        weights *= 1.0 + proximity(len(words), np.flatnonzero(is_query))
    return weights


def query_window(
    text: str,
    query: str | None,
    max_tokens: int,
    counter: TokenCounter,
) -> tuple[int, int]:
    """The contiguous run of whole words of ``text`` that best answers ``query`` within ``max_tokens`` (words
    weighted by :func:`word_weights`). Word-level: sentence compressors cut at clauses instead
    (:func:`contextzip.clauses.clause_window`). Returns character offsets; (0, 0) when not even one word fits.
    """
    from contextzip.clauses import best_run
    from contextzip.segment import split_words

    words = split_words(text)
    if not words or max_tokens <= 0:
        return 0, 0
    return best_run(text, words, word_weights(words, query), max_tokens, counter)


def document_title(metadata: object) -> str:
    """``metadata["title"]`` when it is a string (a retriever's page or file title), else ""."""
    if isinstance(metadata, dict) or hasattr(metadata, "get"):
        title = metadata.get("title")  # type: ignore[union-attr]
        if isinstance(title, str):
            return title.strip()
    return ""


def mentions(text: str, title: str) -> bool:
    """Does ``text`` name ``title`` (ignoring a parenthesised qualifier such as "(film)")?"""
    core = re.sub(r"\s*\(.*?\)\s*$", "", title).strip()
    if len(core) < 3:
        return False
    return core.lower() in text.lower()


def bridge_relevance(relevance: np.ndarray, texts: Sequence[str], titles: Sequence[str], weight: float,
                     top: int = 2) -> np.ndarray:
    """Multi-hop bridging: a document named by one of the ``top`` most relevant documents inherits ``weight`` x
    their relevance (HotpotQA's second hop: the page of the entity the first page mentions).

    ``relevance`` should be non-negative (normalise it first); untitled documents keep their relevance.
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    bridged = relevance.copy()
    best = np.argsort(-relevance, kind="stable")[:top]
    for d, title in enumerate(titles):
        if not title or d in best:
            continue
        for t in best:
            if mentions(texts[t], title):
                bridged[d] = max(bridged[d], relevance[d] + weight * relevance[t])
    return bridged
